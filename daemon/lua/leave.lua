-- leave.lua: a node leaves the pool (pulsed stopping, or leaving one
-- pool). Anything it still owns waits for other workers.
-- ARGV: node, incarnation. Returns the number of jobs released.
local node, inc = ARGV[1], ARGV[2]
if redis.call('HGET', B .. 'inc', node) ~= inc then return 0 end
local n = reap(node, now_ms())
bump_epoch()
return n
