-- clocks.lua: the pool's tickers ('tick') or schedules ('sched'), for
-- pulsectl. ARGV: kind. Returns a flat list per clock: name, interval,
-- next (Redis ms), seq, stopped (0/1), keys the schedule started (0 for a
-- ticker), and the Redis time now as the first element.
local kind = ARGV[1]
local prefix = B .. kind .. ':'
local out = {now_ms()}
local cursor = '0'
repeat
  local r = redis.call('SCAN', cursor, 'MATCH', prefix .. '*', 'COUNT', 1000)
  cursor = r[1]
  for _, k in ipairs(r[2]) do
    local h = redis.call('HMGET', k, 'interval', 'next', 'seq', 'stopped')
    local name = string.sub(k, #prefix + 1)
    out[#out + 1] = name
    out[#out + 1] = tonumber(h[1] or '0')
    out[#out + 1] = tonumber(h[2] or '0')
    out[#out + 1] = tonumber(h[3] or '0')
    out[#out + 1] = h[4] and 1 or 0
    out[#out + 1] = kind == 'sched' and redis.call('SCARD', B .. 'skeys:' .. name) or 0
  end
until cursor == '0'
return out
