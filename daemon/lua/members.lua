-- members.lua: the live workers, read in one step with the epoch they
-- belong to. Returns {epoch, worker, node, worker, node, ...}.
local out = {tonumber(redis.call('GET', B .. 'epoch') or '0')}
local ws = redis.call('HGETALL', B .. 'workers')
for i = 1, #ws do out[#out + 1] = ws[i] end
return out
