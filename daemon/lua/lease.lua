-- lease.lua: renew this node's lease and reap nodes whose lease ended.
-- ARGV: node, incarnation, ttl (ms), reap margin (ms).
-- Returns {'LOST', now} when this incarnation is no longer registered (it
-- was reaped, Redis lost its data, or another process took the node id),
-- else {'OK', now, epoch, waiting jobs, reaped nodes, jobs in the pool,
-- 1 when the pool is being shut down}.
-- A node is reaped only once its lease ended plus the margin, measured on
-- Redis's clock; the node itself stops its jobs before its lease ends.
local node, inc, ttl, margin = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local now = now_ms()
if redis.call('HGET', B .. 'inc', node) ~= inc then return {'LOST', now} end
redis.call('ZADD', B .. 'nodes', now + ttl, node)
local dead = redis.call('ZRANGEBYSCORE', B .. 'nodes', '-inf', '(' .. (now - margin), 'LIMIT', 0, 8)
for _, dn in ipairs(dead) do
  reap(dn, now)
  -- a tombstone: if the node comes back, it knows it was reaped
  redis.call('HSET', B .. 'reaped', dn, now)
end
local e
if #dead > 0 then e = bump_epoch() else e = tonumber(redis.call('GET', B .. 'epoch') or '0') end
return {'OK', now, e, redis.call('ZCARD', B .. 'wait'), #dead,
        redis.call('HLEN', B .. 'jobs'), redis.call('HEXISTS', B .. 'state', 'shutdown')}
