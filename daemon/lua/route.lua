-- route.lua: where a stop ('s') or notify ('n') for a key must go.
-- ARGV: key, op, caller node, request id, payload.
-- Returns {'JOB_NOT_FOUND'}; {'LOCAL', worker, fence} when the owner is on
-- the caller's node; {'ROUTED'} after appending the event to the owner
-- node's inbox; {'WAIT'} when the job is between owners (the caller
-- retries shortly: the event goes to the next owner, it is not dropped);
-- {'DELETED', dispatch record} when a stop removed a job that was waiting;
-- {'LOST'} when the caller node is not registered (it re-joins, then asks
-- again). A key missing while the pool is being rebuilt after Redis lost
-- it is not an answer yet (a node that has not re-joined may run it):
-- {'WAIT'}.
local key, op, caller, rid, payload = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if not registered(caller) then return {'LOST'} end
if redis.call('HEXISTS', B .. 'jobs', key) == 0 then
  if redis.call('PTTL', B .. 'rebuild') > 0 then return {'WAIT'} end
  tombstone(key)
  return {'JOB_NOT_FOUND'}
end
local o = redis.call('HGET', B .. 'owner', key)
if not o then
  if op ~= 's' then return {'WAIT'} end
  local d = redis.call('HGET', B .. 'disp', key) or ''
  drop_job(key)
  if d ~= '' then
    local c, r = parse_disp(d)
    if c ~= caller then
      reply(c, r, 'JOB_NOT_FOUND', 'job was stopped before it started')
      d = ''
    end
  end
  return {'DELETED', d}
end
local n, w, f = parse_owner(o)
if n == caller then return {'LOCAL', w, f} end
if not send(n, 't', op, 'k', key, 'c', caller, 'i', rid, 'p', payload) then
  return {'WAIT'}
end
return {'ROUTED'}
