-- started.lua: a worker answered START.
-- ARGV: key, node, worker, fence, result ('ok'|'error'|'requeue'|
--       'too_large': pulsed could not send the START, the worker's frames
--       cannot carry the payload), message,
--       retry delay (ms), dispatch record ("<caller node> <request id>"
--       when the node knows which dispatch this start answers: a direct
--       admission; '' when it must be looked up: a claimed job).
-- {'LOST'} when the node is not registered. The owner record must still
-- name this worker and fence, else {'STALE'} (the job was stopped or moved
-- meanwhile). When the start belongs to a
-- dispatch, its caller is answered: through the caller's inbox when remote,
-- or by returning {code, request id} to a local caller.
-- A failed first start of a dispatch removes the job (it never existed for
-- the caller); a failed restart of an existing job keeps it and retries
-- later, like a requeue: a job is never lost because a start failed.
local key, node, wid, fence = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local result, msg, delay = ARGV[5], ARGV[6], tonumber(ARGV[7])
local rec = ARGV[8] or ''
-- Redis lost this node (its data, or a reap): the node keeps what its
-- worker started and re-joins, and join.lua re-announces it (or stops it
-- when it was reaped and the job moved on). Answering STALE here would
-- halt a job whose dispatch may have been answered OK already.
if not registered(node) then return {'LOST'} end
if redis.call('HGET', B .. 'owner', key) ~= node .. ' ' .. wid .. ' ' .. fence then
  return {'STALE'}
end
local function later()
  unown(key, node)
  to_wait(key, now_ms() + delay)
  redis.call('PUBLISH', B .. 'ev', 'w')
  return {'WAIT'}
end
-- a requeue keeps the dispatch: the next start answers it
if result == 'requeue' then return later() end
-- The dispatch this start answers, taken (compare-and-delete). The owner
-- record matched, so a 'disp' entry belongs to the admission of this very
-- job: with the record given, deleting it is the comparison.
local d
if rec ~= '' then
  if redis.call('HDEL', B .. 'disp', key) == 1 then d = rec end
else
  d = redis.call('HGET', B .. 'disp', key)
  if d then redis.call('HDEL', B .. 'disp', key) end
end
local function answer(code, m)
  if not d then return {code} end
  local caller, rid = parse_disp(d)
  if caller ~= node then
    reply(caller, rid, code, m)
    return {code}
  end
  return {code, rid}
end
if result == 'ok' then return answer('OK', '') end
-- A job whose START no frame can carry to this worker cannot run here,
-- and would fail the same way on each next start: it ends, restart or
-- not, and its dispatch (if it waits) is told why (TOO_LARGE).
if result == 'too_large' then
  tombstone(key)
  redis.call('HDEL', B .. 'jobs', key)
  redis.call('HDEL', B .. 'disp', key)
  unown(key, node)
  return answer('TOO_LARGE', msg)
end
if d then
  tombstone(key)
  redis.call('HDEL', B .. 'jobs', key)
  unown(key, node)
  return answer('HANDLER', msg)
end
return later()
