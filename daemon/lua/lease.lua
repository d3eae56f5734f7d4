-- lease.lua: renew this node's lease, reconcile its workers, and reap
-- nodes whose lease ended.
-- ARGV: node, incarnation, ttl (ms), reap margin (ms), then the ids of the
-- workers this node has in placement (live sessions, not detaching, not
-- drained).
-- Returns {'LOST', now} when this incarnation is no longer registered (it
-- was reaped, Redis lost its data, or another process took the node id),
-- else {'OK', now, epoch, waiting jobs, reaped nodes, jobs in the pool,
-- 1 when the pool is being shut down, workers removed, workers added}.
-- A node is reaped only once its lease ended plus the margin, measured on
-- Redis's clock; the node itself stops its jobs before its lease ends.
-- The node's workers in 'B workers' are made to match the list: a worker
-- recorded for this node that the node no longer has (a session that
-- ended while its attach was on its way, say) leaves placement, and a
-- listed worker Redis lost is put back unless another node holds the
-- name. Attach and detach go on the same connection as the lease, so
-- Redis has seen every one the node sent before it: the list and the
-- record differ only when something went wrong, and then for one lease
-- period at most.
local node, inc, ttl, margin = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local now = now_ms()
if redis.call('HGET', B .. 'inc', node) ~= inc then return {'LOST', now} end
redis.call('ZADD', B .. 'nodes', now + ttl, node)
local mine = {}
for i = 5, #ARGV do mine[ARGV[i]] = true end
local removed, added = 0, 0
local ws = redis.call('HGETALL', B .. 'workers')
for i = 1, #ws, 2 do
  if ws[i + 1] == node then
    if mine[ws[i]] then mine[ws[i]] = nil
    else
      redis.call('HDEL', B .. 'workers', ws[i])
      removed = removed + 1
    end
  elseif mine[ws[i]] then
    mine[ws[i]] = nil -- held by another node: not ours to take
  end
end
for wid in pairs(mine) do
  redis.call('HSET', B .. 'workers', wid, node)
  added = added + 1
end
local dead = redis.call('ZRANGEBYSCORE', B .. 'nodes', '-inf', '(' .. (now - margin), 'LIMIT', 0, 8)
for _, dn in ipairs(dead) do
  reap(dn, now)
  -- a tombstone: if the node comes back, it knows it was reaped
  redis.call('HSET', B .. 'reaped', dn, now)
end
local e
if #dead > 0 or removed + added > 0 then e = bump_epoch()
else e = tonumber(redis.call('GET', B .. 'epoch') or '0') end
return {'OK', now, e, redis.call('ZCARD', B .. 'wait'), #dead,
        redis.call('HLEN', B .. 'jobs'), redis.call('HEXISTS', B .. 'state', 'shutdown'),
        removed, added}
