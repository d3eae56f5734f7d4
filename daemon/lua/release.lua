-- release.lua: jobs this node owned wait for a new owner (a worker left, a
-- move after its stop was answered, a requeued stop).
-- ARGV: node, delay (ms), then pairs (key, "<worker> <fence>"). A pair
-- whose owner record changed is skipped. Returns the number released, or
-- {'LOST'} when the node is not registered (Redis lost its data since it
-- joined): the node keeps the jobs for its re-join, which re-creates them.
local node, delay = ARGV[1], tonumber(ARGV[2])
if not registered(node) then return {'LOST'} end
local at = now_ms() + delay
local n = 0
for i = 3, #ARGV, 2 do
  local key = ARGV[i]
  if redis.call('HGET', B .. 'owner', key) == node .. ' ' .. ARGV[i + 1] then
    unown(key, node)
    if redis.call('HEXISTS', B .. 'jobs', key) == 1 then
      to_wait(key, at)
      n = n + 1
    end
  end
end
if n > 0 then redis.call('PUBLISH', B .. 'ev', 'w') end
return n
