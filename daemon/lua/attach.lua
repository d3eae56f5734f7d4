-- attach.lua: a worker joins placement.
-- ARGV: node, worker id, [place]. Returns {'OK', epoch}, {'TAKEN', node}
-- when the id (a stable name) is live on another node, {'LOST'} when this
-- node is not registered, or {'SHUTDOWN'}. place '0' (the node drains)
-- makes the same checks but leaves the worker out of placement.
local node, wid, place = ARGV[1], ARGV[2], ARGV[3] ~= '0'
if redis.call('HEXISTS', B .. 'state', 'shutdown') == 1 then return {'SHUTDOWN'} end
if not registered(node) then return {'LOST'} end
local cur = redis.call('HGET', B .. 'workers', wid)
if cur and cur ~= node then return {'TAKEN', cur} end
if not place then
  return {'OK', tonumber(redis.call('GET', B .. 'epoch') or '0')}
end
redis.call('HSET', B .. 'workers', wid, node)
return {'OK', bump_epoch()}
