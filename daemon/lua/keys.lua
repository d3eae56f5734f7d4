-- keys.lua: one page of a pool's job keys, for JOBS (views.c pages
-- through the pool with it, and streams the keys to the client).
-- ARGV: cursor (HSCAN's; '0' to begin), want (stop once this many keys
-- are collected), match (a glob, '' for every key), worker ('' for every
-- job; else only the keys whose owner record names it), count ('1': the
-- number of keys only, not the keys).
-- Returns {cursor, n, key...}: cursor '0' once the pool was read through,
-- n the keys this page found (also when only counted).
-- Each HSCAN step reads about STEP entries (their payloads too: Redis 7.0
-- has no NOVALUES, and this script is why they never reach pulsed), and
-- a page takes at most STEPS of them: one call stays short however few
-- keys match.
local STEP, STEPS = 100, 20
local cursor, want, match, worker = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local only_count = ARGV[5] == '1'
local hash = B .. (worker == '' and 'jobs' or 'owner')
local out, n = {'0', 0}, 0
for _ = 1, STEPS do
  local args = {'HSCAN', hash, cursor, 'COUNT', STEP}
  if match ~= '' then
    args[#args + 1] = 'MATCH'
    args[#args + 1] = match
  end
  local r = redis.call(unpack(args))
  cursor = r[1]
  local kv = r[2]
  for i = 1, #kv, 2 do
    local keep = true
    if worker ~= '' then
      local _, w = parse_owner(kv[i + 1])
      keep = w == worker
    end
    if keep then
      n = n + 1
      if not only_count then out[#out + 1] = kv[i] end
    end
  end
  if cursor == '0' or n >= want then break end
end
out[1] = cursor
out[2] = n
return out
