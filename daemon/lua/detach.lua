-- detach.lua: a worker leaves placement (its jobs are released separately,
-- after their stop handlers answered, or at once when it died).
-- ARGV: node, worker id. Returns the new epoch.
local node, wid = ARGV[1], ARGV[2]
if redis.call('HGET', B .. 'workers', wid) == node then
  redis.call('HDEL', B .. 'workers', wid)
  return bump_epoch()
end
return tonumber(redis.call('GET', B .. 'epoch') or '0')
