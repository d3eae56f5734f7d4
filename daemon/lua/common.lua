-- common.lua: helpers prepended to every other script (pulsed joins the
-- text before SCRIPT LOAD). KEYS[1] is the pool's base name
-- "<prefix>:{<pool>}:"; every key of a pool extends it, so all of a pool's
-- keys share one hash tag and one slot. See daemon/REDIS.md for the model.
local B = KEYS[1]

-- Redis TIME in milliseconds: the one clock that every node compares.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- An owner record is "<node> <worker> <fence>".
local function parse_owner(o)
  return string.match(o, '^(%S+) (%S+) (%d+)$')
end

-- A dispatch record is "<caller node> <request id>".
local function parse_disp(d)
  return string.match(d, '^(%S+) (%S+)$')
end

-- Whether Redis knows the node (it joined and was not reaped since, and
-- Redis did not lose its data): scripts a node calls answer {'LOST'}
-- otherwise, and the node re-joins before it asks again.
local function registered(node)
  return redis.call('HGET', B .. 'inc', node) ~= false
end

-- Append to a node's inbox. NOMKSTREAM: only the node itself creates its
-- inbox, so a message to a dead node cannot resurrect it. Returns false
-- when the inbox does not exist.
local function send(node, ...)
  return redis.call('XADD', B .. 'inbox:' .. node, 'NOMKSTREAM', '*', ...)
end

local function reply(caller, rid, code, msg)
  return send(caller, 't', 'r', 'i', rid, 'c', code, 'm', msg or '')
end

local function own(key, node, wid, fence)
  redis.call('HSET', B .. 'owner', key, node .. ' ' .. wid .. ' ' .. fence)
  redis.call('SADD', B .. 'njobs:' .. node, key)
end

local function unown(key, node)
  redis.call('HDEL', B .. 'owner', key)
  redis.call('SREM', B .. 'njobs:' .. node, key)
end

-- Waiting jobs are a sorted set scored by the Redis time from which they
-- may be claimed (now, or later after a requeue).
local function to_wait(key, at)
  redis.call('ZADD', B .. 'wait', at, key)
end

-- For a horizon after Redis lost a pool's state (join.lua sets B created),
-- a key that a stop, a failed start or a JOB_NOT_FOUND answered for is
-- remembered in B tomb (a hash: key -> Redis time of the latest such
-- answer, expiring with B created), so that a node re-joining later with
-- the jobs its self-fence stopped does not bring back a job that was
-- answered as gone after that copy started (P5: an answer is not
-- contradicted by what happens next). The nodes that answered such stops
-- before the loss name them when they re-join (join.lua), so the hash
-- holds those too (at: the time they name; now when not given). Outside
-- the horizon this costs one PTTL; inside it a TIME, an HGET and an HSET
-- more (and a PEXPIRE when the hash is new).
local function tombstone(key, at)
  local left = redis.call('PTTL', B .. 'created')
  if left <= 0 then return end
  at = at or now_ms()
  local was = tonumber(redis.call('HGET', B .. 'tomb', key) or '0')
  if was >= at then return end
  redis.call('HSET', B .. 'tomb', key, at)
  if was == 0 and redis.call('HLEN', B .. 'tomb') == 1 then
    redis.call('PEXPIRE', B .. 'tomb', left)
  end
end

local function drop_job(key)
  tombstone(key)
  redis.call('HDEL', B .. 'jobs', key)
  redis.call('HDEL', B .. 'owner', key)
  redis.call('HDEL', B .. 'disp', key)
  redis.call('ZREM', B .. 'wait', key)
end

local function bump_epoch()
  local e = redis.call('INCR', B .. 'epoch')
  redis.call('PUBLISH', B .. 'ev', 'm ' .. e)
  return e
end

-- Forget a node: its workers leave placement and every job it owned waits
-- for a new owner. Payloads are kept (a job belongs to itself, not to a
-- worker). Used for a dead node, a node leaving, and a node re-joining
-- under the same id.
local function reap(node, now)
  local ws = redis.call('HGETALL', B .. 'workers')
  for i = 1, #ws, 2 do
    if ws[i + 1] == node then redis.call('HDEL', B .. 'workers', ws[i]) end
  end
  local keys = redis.call('SMEMBERS', B .. 'njobs:' .. node)
  for _, k in ipairs(keys) do
    local o = redis.call('HGET', B .. 'owner', k)
    if o then
      local n = parse_owner(o)
      if n == node then
        redis.call('HDEL', B .. 'owner', k)
        if redis.call('HEXISTS', B .. 'jobs', k) == 1 then to_wait(k, now) end
      end
    end
  end
  redis.call('DEL', B .. 'njobs:' .. node)
  redis.call('DEL', B .. 'inbox:' .. node)
  redis.call('ZREM', B .. 'nodes', node)
  redis.call('HDEL', B .. 'inc', node)
  redis.call('HDEL', B .. 'holder', node)
  if #keys > 0 then redis.call('PUBLISH', B .. 'ev', 'w') end
  return #keys
end
