-- clocks.lua: one page of the pool's tickers ('tick') or schedules
-- ('sched'), for pulsectl. ARGV: kind, cursor ('0' to begin).
-- Reads the clocks' index B clocks:<kind> (a set of names tick.lua keeps)
-- with SSCAN, so a page costs what it returns, not the keyspace. Returns
-- the Redis time now, the next cursor ('0': the last page), then a flat
-- list per clock: name, interval, next (Redis ms), seq, stopped (0/1),
-- keys the schedule started (0 for a ticker). A name whose clock is gone
-- (never for long: both live in one pool's keys) leaves the index.
local kind, cursor = ARGV[1], ARGV[2]
local idx = B .. 'clocks:' .. kind
local prefix = B .. kind .. ':'
local r = redis.call('SSCAN', idx, cursor, 'COUNT', 200)
local out = {now_ms(), r[1]}
for _, name in ipairs(r[2]) do
  local h = redis.call('HMGET', prefix .. name, 'interval', 'next', 'seq', 'stopped')
  if h[1] or h[2] or h[4] then
    out[#out + 1] = name
    out[#out + 1] = tonumber(h[1] or '0')
    out[#out + 1] = tonumber(h[2] or '0')
    out[#out + 1] = tonumber(h[3] or '0')
    out[#out + 1] = h[4] and 1 or 0
    out[#out + 1] = kind == 'sched' and redis.call('SCARD', B .. 'skeys:' .. name) or 0
  else
    redis.call('SREM', idx, name)
  end
end
return out
