-- remove.lua: a stop was answered by the owner's worker: the job ends.
-- ARGV: key, node, worker, fence, caller node ('' when local), request id,
--       code, message.
-- Returns {'OK'} or {'STALE'} when the owner record changed meanwhile
-- (the node was reaped, or the job moved, while the stop was under way):
-- then the stop did not end the job and its caller must look for the
-- owner again. A remote caller is answered through its inbox (RETRY
-- when stale); a local one by pulsed once this script has answered.
local key, node, wid, fence = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local caller, rid, code, msg = ARGV[5], ARGV[6], ARGV[7], ARGV[8]
if redis.call('HGET', B .. 'owner', key) ~= node .. ' ' .. wid .. ' ' .. fence then
  if caller ~= '' and caller ~= node then reply(caller, rid, 'RETRY', '') end
  return {'STALE'}
end
drop_job(key)
redis.call('SREM', B .. 'njobs:' .. node, key)
if caller ~= '' and caller ~= node then reply(caller, rid, code, msg) end
return {'OK'}
