-- claim.lua: a node takes waiting jobs for its own workers.
-- ARGV: node, then pairs (key, worker id). A pair is taken only when the
-- key is waiting and due, its job exists, the worker is live on this node
-- and the node holds its lease.
-- Returns {'LOST'}, or {'OK', then per job taken: key, worker, fence, payload}.
local node = ARGV[1]
if not registered(node) then return {'LOST'} end
local now = now_ms()
local out = {'OK'}
for i = 2, #ARGV, 2 do
  local key, wid = ARGV[i], ARGV[i + 1]
  local sc = redis.call('ZSCORE', B .. 'wait', key)
  if sc and tonumber(sc) <= now and redis.call('HGET', B .. 'workers', wid) == node then
    redis.call('ZREM', B .. 'wait', key)
    local p = redis.call('HGET', B .. 'jobs', key)
    if p and not redis.call('HGET', B .. 'owner', key) then
      local f = redis.call('INCR', B .. 'fence')
      own(key, node, wid, f)
      out[#out + 1] = key
      out[#out + 1] = wid
      out[#out + 1] = f
      out[#out + 1] = p
    end
  end
end
return out
