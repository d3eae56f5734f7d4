-- workers.lua: the pool's live workers with the number of jobs each owns.
-- Returns a flat list: worker, node, jobs, worker, node, jobs, ...
local ws = redis.call('HGETALL', B .. 'workers')
local count = {}
for _, o in ipairs(redis.call('HVALS', B .. 'owner')) do
  local _, w = parse_owner(o)
  if w then count[w] = (count[w] or 0) + 1 end
end
local out = {}
for i = 1, #ws, 2 do
  out[#out + 1] = ws[i]
  out[#out + 1] = ws[i + 1]
  out[#out + 1] = count[ws[i]] or 0
end
return out
