-- admit.lua: admission of a new job, one atomic step (P1).
-- ARGV: key, payload, caller node, request id, max queued jobs,
--       chosen worker ('' when none), that worker's node.
-- Returns {'OWNED', fence} when the chosen worker owns it now (a remote
-- owner gets an 'a' message in its inbox), {'WAIT'} when it waits for a
-- worker, or an error code: SHUTDOWN, JOB_EXISTS, POOL_FULL.
local key, payload, caller, rid = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local maxq = tonumber(ARGV[5])
local wid, wnode = ARGV[6], ARGV[7]
if redis.call('HEXISTS', B .. 'state', 'shutdown') == 1 then return {'SHUTDOWN'} end
if redis.call('HEXISTS', B .. 'jobs', key) == 1 then return {'JOB_EXISTS'} end
local direct = wid ~= '' and redis.call('HGET', B .. 'workers', wid) == wnode
local fence
if direct then
  fence = redis.call('INCR', B .. 'fence')
  if wnode ~= caller then
    -- the owner node learns of its new job through its inbox
    if not send(wnode, 't', 'a', 'k', key, 'w', wid, 'f', fence, 'p', payload) then
      direct = false
    end
  end
end
if not direct and redis.call('ZCARD', B .. 'wait') >= maxq then
  return {'POOL_FULL'}
end
redis.call('HSET', B .. 'jobs', key, payload)
redis.call('HSET', B .. 'disp', key, caller .. ' ' .. rid)
if direct then
  own(key, wnode, wid, fence)
  return {'OWNED', fence}
end
to_wait(key, now_ms())
redis.call('PUBLISH', B .. 'ev', 'w')
return {'WAIT'}
