-- strays.lua: one step of the walk over what Redis says this node's
-- workers own, for the node to compare with what they really run.
-- ARGV: node, SSCAN cursor, count. The keys' owner records are read in
-- one HMGET: the same commands per call whatever the number of jobs.
-- Returns {next cursor, key, owner record, key, ...}.
local node, cursor, count = ARGV[1], ARGV[2], ARGV[3]
local set = B .. 'njobs:' .. node
local r = redis.call('SSCAN', set, cursor, 'COUNT', count)
local out = {r[1]}
local keys = r[2]
if #keys == 0 then return out end
local owners = redis.call('HMGET', B .. 'owner', unpack(keys))
for i, k in ipairs(keys) do
  local o = owners[i]
  if o then
    out[#out + 1] = k
    out[#out + 1] = o
  else
    redis.call('SREM', set, k)
  end
end
return out
