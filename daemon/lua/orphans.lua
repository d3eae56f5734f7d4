-- orphans.lua: one step of the sweep that finds jobs with a payload but no
-- live owner and puts them back in the waiting set (recovery, not garbage
-- collection). ARGV: HSCAN cursor, count.
-- A job is an orphan when it has no owner and does not wait (every step
-- that removes an owner also queues the job, so this only follows a bug
-- or a hand edit), or when its owner's node holds no lease and was not
-- reaped (a stray record). Returns {next cursor, orphans found}.
-- The keys of a step are checked in bulk (HMGET, ZMSCORE), so a step runs
-- the same commands whether it sees 100 keys or 200, in a pool of any
-- size: an idle node's command rate does not grow with the pool (only the
-- repairs, when there are any, add commands).
local cursor, count = ARGV[1], ARGV[2]
local r = redis.call('HSCAN', B .. 'jobs', cursor, 'COUNT', count)
local kv = r[2]
if #kv == 0 then return {r[1], 0} end
local keys = {}
for i = 1, #kv, 2 do keys[#keys + 1] = kv[i] end
local owners = redis.call('HMGET', B .. 'owner', unpack(keys))
-- the owner nodes, each looked up once
local nodes, seen, unowned = {}, {}, {}
for i, o in ipairs(owners) do
  local n = o and parse_owner(o)
  if n and not seen[n] then
    seen[n] = true
    nodes[#nodes + 1] = n
  elseif not o then
    unowned[#unowned + 1] = keys[i]
  end
end
local live = {}
if #nodes > 0 then
  local sc = redis.call('ZMSCORE', B .. 'nodes', unpack(nodes))
  for i, n in ipairs(nodes) do live[n] = sc[i] ~= false end
end
local waiting = {}
if #unowned > 0 then
  local sc = redis.call('ZMSCORE', B .. 'wait', unpack(unowned))
  for i, k in ipairs(unowned) do waiting[k] = sc[i] ~= false end
end
local now, found = nil, 0
for i, key in ipairs(keys) do
  local o = owners[i]
  local n = o and parse_owner(o)
  local lost
  if o then lost = not n or not live[n] else lost = not waiting[key] end
  if lost then
    if o then
      redis.call('HDEL', B .. 'owner', key)
      if n then redis.call('SREM', B .. 'njobs:' .. n, key) end
    end
    now = now or now_ms()
    to_wait(key, now)
    found = found + 1
  end
end
if found > 0 then redis.call('PUBLISH', B .. 'ev', 'w') end
return {r[1], found}
