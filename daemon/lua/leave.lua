-- leave.lua: a node leaves the pool (pulsed stopping, leaving one pool,
-- or a pool it no longer uses: limits.pool_idle). Anything it still owns
-- waits for other workers.
-- ARGV: node, incarnation. Returns the number of jobs released.
-- The last node gone and no job left, the pool leaves no key behind: a
-- name used once costs Redis nothing for ever. Kept, though, while the
-- pool is shut down (its mark is the point), while a reaped node may come
-- back with what its self-fence stopped ('B reaped': its join must know it
-- was reaped, or it would re-create jobs others may have stopped), and
-- for the pool's clocks ('B tick:*', 'B sched:*': a clock outlives the
-- nodes that tick it, and keys by pattern are not a script's to find).
local node, inc = ARGV[1], ARGV[2]
if redis.call('HGET', B .. 'inc', node) ~= inc then return 0 end
local n = reap(node, now_ms())
bump_epoch()
if redis.call('ZCARD', B .. 'nodes') == 0 and redis.call('HLEN', B .. 'jobs') == 0
   and redis.call('HEXISTS', B .. 'state', 'shutdown') == 0
   and redis.call('EXISTS', B .. 'reaped') == 0 then
  redis.call('DEL', B .. 'epoch', B .. 'fence', B .. 'wait', B .. 'owner',
             B .. 'disp', B .. 'workers', B .. 'nodes', B .. 'inc',
             B .. 'holder', B .. 'created', B .. 'tomb', B .. 'rebuilt',
             B .. 'rebuild', B .. 'down', B .. 'state')
end
return n
