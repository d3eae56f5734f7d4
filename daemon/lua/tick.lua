-- tick.lua: the pool-wide clock of one ticker (P11) or schedule (P12).
-- ARGV: op ('open' | 'fire' | 'stop'), name, interval (ms), kind ('tick'
-- or 'sched').
-- B clocks:<kind> is the set of the pool's clock names of that kind.
-- B <kind>:<name> holds interval, next (Redis time of the next tick), seq
-- (the last tick's number) and, once stopped, stopped = 1. A new schedule's
-- first tick is due at once (its plan runs at registration).
--   open: create the ticker, or re-open a stopped one; a different interval
--         replaces the older one (the seed's behaviour).
--   fire: the tick is given to the first node that asks once it is due;
--         the others see the advanced clock. A missed tick is skipped, not
--         delivered in a burst. A clock lost with Redis's data is re-created
--         from the caller's interval, so a flush does not end a ticker.
--   stop: ends the ticker on every node ('t <name>' on the pool channel).
-- Returns {'WON', seq, next, interval, tick time}, {'STATE', seq, next,
-- interval, now} or {'STOPPED'}.
local op, name, iv, kind = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local k = B .. kind .. ':' .. name
-- the index the CLOCKS view pages through (clocks.lua): every op keeps
-- the name in it, so a clock made before the index joins it at its next
-- tick or open
redis.call('SADD', B .. 'clocks:' .. kind, name)
local first = kind == 'sched' and 0 or iv
local now = now_ms()
if op == 'stop' then
  redis.call('HSET', k, 'stopped', 1)
  redis.call('PUBLISH', B .. 'ev', 't ' .. kind .. ':' .. name)
  return {'STOPPED'}
end
local h = redis.call('HMGET', k, 'seq', 'next', 'interval', 'stopped')
if op == 'open' and (not h[2] or h[4]) then
  redis.call('DEL', k)
  redis.call('HSET', k, 'interval', iv, 'next', now + first, 'seq', 0)
  return {'STATE', 0, now + first, iv, now}
end
if h[4] then return {'STOPPED'} end
if not h[2] then
  -- fire on a clock Redis lost: start it again
  redis.call('HSET', k, 'interval', iv, 'next', now + iv, 'seq', 0)
  return {'STATE', 0, now + iv, iv, now}
end
local seq, nx, civ = tonumber(h[1]), tonumber(h[2]), tonumber(h[3])
if op == 'open' then
  if civ ~= iv then
    redis.call('HSET', k, 'interval', iv)
    civ = iv
    if nx > now + iv then
      nx = now + iv
      redis.call('HSET', k, 'next', nx)
    end
  end
  return {'STATE', seq, nx, civ, now}
end
if now < nx then return {'STATE', seq, nx, civ, now} end
local at = nx
nx = nx + civ
if nx <= now then nx = now + civ end
seq = seq + 1
redis.call('HSET', k, 'seq', seq, 'next', nx)
return {'WON', seq, nx, civ, at}
