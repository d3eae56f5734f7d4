-- orphans.lua: one step of the sweep that finds jobs with a payload but no
-- live owner and puts them back in the waiting set (recovery, not garbage
-- collection). ARGV: HSCAN cursor, count.
-- A job is an orphan when it has no owner and does not wait (every step
-- that removes an owner also queues the job, so this only follows a bug
-- or a hand edit), or when its owner's node holds no lease and was not
-- reaped (a stray record). Returns {next cursor, orphans found}.
local cursor, count = ARGV[1], ARGV[2]
local r = redis.call('HSCAN', B .. 'jobs', cursor, 'COUNT', count)
local now = now_ms()
local found = 0
local kv = r[2]
for i = 1, #kv, 2 do
  local key = kv[i]
  local o = redis.call('HGET', B .. 'owner', key)
  if o then
    local n = parse_owner(o)
    if not n or not redis.call('ZSCORE', B .. 'nodes', n) then
      redis.call('HDEL', B .. 'owner', key)
      if n then redis.call('SREM', B .. 'njobs:' .. n, key) end
      to_wait(key, now)
      found = found + 1
    end
  elseif not redis.call('ZSCORE', B .. 'wait', key) then
    to_wait(key, now)
    found = found + 1
  end
end
if found > 0 then redis.call('PUBLISH', B .. 'ev', 'w') end
return {r[1], found}
