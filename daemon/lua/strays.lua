-- strays.lua: what Redis says this node's workers own, for the node to
-- compare with what they really run. ARGV: node.
-- Returns a flat list: key, owner record.
local node = ARGV[1]
local out = {}
for _, k in ipairs(redis.call('SMEMBERS', B .. 'njobs:' .. node)) do
  local o = redis.call('HGET', B .. 'owner', k)
  if o then
    out[#out + 1] = k
    out[#out + 1] = o
  else
    redis.call('SREM', B .. 'njobs:' .. node, k)
  end
end
return out
