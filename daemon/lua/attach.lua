-- attach.lua: a worker joins placement.
-- ARGV: node, worker id. Returns {'OK', epoch}, {'TAKEN', node} when the
-- id (a stable name) is live on another node, {'LOST'} when this node is
-- not registered, or {'SHUTDOWN'}.
local node, wid = ARGV[1], ARGV[2]
if redis.call('HEXISTS', B .. 'state', 'shutdown') == 1 then return {'SHUTDOWN'} end
if not redis.call('HGET', B .. 'inc', node) then return {'LOST'} end
local cur = redis.call('HGET', B .. 'workers', wid)
if cur and cur ~= node then return {'TAKEN', cur} end
redis.call('HSET', B .. 'workers', wid, node)
return {'OK', bump_epoch()}
