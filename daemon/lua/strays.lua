-- strays.lua: one step of the walk over what Redis says this node's
-- workers own, for the node to compare with what they really run.
-- ARGV: node, SSCAN cursor, count. Constant work per call whatever the
-- number of jobs. Returns {next cursor, key, owner record, key, ...}.
local node, cursor, count = ARGV[1], ARGV[2], ARGV[3]
local set = B .. 'njobs:' .. node
local r = redis.call('SSCAN', set, cursor, 'COUNT', count)
local out = {r[1]}
for _, k in ipairs(r[2]) do
  local o = redis.call('HGET', B .. 'owner', k)
  if o then
    out[#out + 1] = k
    out[#out + 1] = o
  else
    redis.call('SREM', set, k)
  end
end
return out
