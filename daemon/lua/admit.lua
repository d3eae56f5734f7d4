-- admit.lua: admission of a new job, one atomic step (P1).
-- ARGV: key, payload, caller node, request id, max queued jobs,
--       chosen worker ('' when none), that worker's node.
-- Returns {'OWNED', fence} when the chosen worker owns it now (a remote
-- owner gets an 'a' message in its inbox, naming the caller so that its
-- start answer needs no lookup), {'WAIT'} when it waits for a worker, or
-- an error code: SHUTDOWN, JOB_EXISTS, POOL_FULL; or {'REBUILD', ms}
-- while the pool is being rebuilt after Redis lost it (join.lua): the
-- caller tries again in ms; or {'LOST'} when the caller node is not
-- registered: Redis lost its data (or reaped the node) and no node has
-- re-joined yet, so nothing marks the rebuild and the jobs that run are
-- not announced; admitting a key now could start a second copy of a
-- running job and leave a dispatch record nobody answers. The caller
-- re-joins first.
-- The worker comes from the caller's view and is not looked up here: if
-- it has left meanwhile, its node (which checks its own workers) gives
-- the job back to 'wait' at once (worker_assign), and a node that is gone
-- has no inbox, so the job waits right away.
local key, payload, caller, rid = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local maxq = tonumber(ARGV[5])
local wid, wnode = ARGV[6], ARGV[7]
if redis.call('HEXISTS', B .. 'state', 'shutdown') == 1 then return {'SHUTDOWN'} end
if not registered(caller) then return {'LOST'} end
local rebuild = redis.call('PTTL', B .. 'rebuild')
if rebuild > 0 then return {'REBUILD', rebuild} end
-- the existence check and the record in one command
if redis.call('HSETNX', B .. 'jobs', key, payload) == 0 then return {'JOB_EXISTS'} end
local direct = wid ~= '' and wnode ~= ''
local fence
if direct then
  fence = redis.call('INCR', B .. 'fence')
  if wnode ~= caller then
    -- the owner node learns of its new job through its inbox
    if not send(wnode, 't', 'a', 'k', key, 'w', wid, 'f', fence,
                'c', caller, 'i', rid, 'p', payload) then
      direct = false
    end
  end
end
if not direct and redis.call('ZCARD', B .. 'wait') >= maxq then
  redis.call('HDEL', B .. 'jobs', key)
  return {'POOL_FULL'}
end
redis.call('HSET', B .. 'disp', key, caller .. ' ' .. rid)
if direct then
  own(key, wnode, wid, fence)
  return {'OWNED', fence}
end
to_wait(key, now_ms())
redis.call('PUBLISH', B .. 'ev', 'w')
return {'WAIT'}
