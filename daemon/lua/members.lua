-- members.lua: the live workers, read in one step with the epoch they
-- belong to. A worker whose node holds no lease is left out (it is being
-- reaped, or the entry is stray), as is an entry that is not a valid id.
-- Returns {epoch, worker, node, worker, node, ...}.
local out = {tonumber(redis.call('GET', B .. 'epoch') or '0')}
local ws = redis.call('HGETALL', B .. 'workers')
for i = 1, #ws, 2 do
  local w, n = ws[i], ws[i + 1]
  if string.match(w, '^[%w%._:%-]+$') and redis.call('ZSCORE', B .. 'nodes', n) then
    out[#out + 1] = w
    out[#out + 1] = n
  end
end
return out
