-- join.lua: a node (re)joins its pool under a new incarnation.
-- ARGV: node, incarnation, ttl (ms), rejoin ('1' when this node was in
-- the pool before: Redis may have lost the pool), holder ("<boot id>
-- <pid> <host> <socket>": which process this is), force ('1': the holder
-- named by an earlier TAKEN is known dead), nw, nf, then nw ids of
-- its attached workers, then nf pairs (key, payload) of the jobs its last
-- self-fence stopped, then triples (key, worker, payload) of the jobs its
-- workers run now (only after Redis lost this node: a flush, a restart,
-- or a reap).
-- Whatever an earlier incarnation of this node id held is reaped first;
-- the node's inbox is created afresh by its owner. The jobs still running
-- here are re-owned in the same atomic step, so no other node can claim
-- them in between. A job that meanwhile has another owner is a conflict
-- that the node stops; so is a job that no longer exists when this node
-- was reaped (others saw it dead and may have stopped the job). When Redis
-- lost its data (no tombstone in 'reaped'), the node's payloads re-create
-- the jobs.
-- A job the node stopped when it fenced itself is re-created, waiting,
-- only when Redis lost it: it does not exist and the node was not reaped
-- (a reaper re-queues the jobs itself, and a stop needs the owner or a
-- reap, so a job missing otherwise can only have been lost with Redis's
-- data). And only within the horizon after the pool's state was
-- re-created ('B created', set by the join that found the pool empty,
-- expiring after HORIZON), and only when no stop, failed start or
-- JOB_NOT_FOUND answered for the key meanwhile ('B tomb', common.lua's
-- tombstone()): an answer that a job is gone is never undone by a node
-- that was stopped or cut off while it was given (P5). Past the horizon
-- the fenced jobs are not re-created (the node logs how many): which
-- stops were answered is no longer known.
-- A node that re-joins a pool with no state at all (Redis lost it) marks
-- the pool rebuilding for one TTL ('B rebuild', expiring): admissions wait
-- meanwhile (admit.lua), since a job may still run on a node that has not
-- re-joined yet, and must not be started a second time elsewhere. Within
-- one TTL every live node has renewed (and so re-joined and re-announced
-- its jobs) or has fenced itself (and stopped them).
-- A node that joins an empty pool for the first time cannot tell a new
-- pool from one Redis lost, so Redis's own record decides: '<prefix>:redis'
-- (one key per Redis, outside every pool) holds "<run_id> <ms>", the
-- server's run id (INFO; a restart changes it) and the time a join first
-- found it missing or naming another run. Missing or another run: Redis
-- lost its data or restarted just now, and this join marks the rebuild
-- for a whole TTL; the same run: a pool still empty within one TTL of
-- that time waits out the rest of that TTL, a pool empty later is new
-- (every node that ran it before has re-joined or fenced itself by then).
-- (The model's finding FIND_REBUILD: without this, a first join after a
-- flush admitted a key that a node not yet re-joined still ran.)
-- The node id is one process's: while the id's lease is live and was
-- taken by another process (another holder), the join is refused with
-- {'TAKEN', holder, ms left of its lease}, and nothing of the other's is
-- touched; the node retries, and joins once that lease ends (or with
-- force, when the caller found the other holder dead on its own host).
-- Returns {'SHUTDOWN'}, the TAKEN above, or {'OK', now, epoch, empty,
-- requeued, answered, late, then key, fence per job (fence 0: conflict)};
-- empty is 1 when the pool had no state at all (its first node, or Redis
-- lost everything); requeued counts the fenced jobs re-created, answered
-- those not re-created because a stop answered for them meanwhile, late
-- those not re-created because the horizon had passed.
local node, inc, ttl, rejoin = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local holder, force = ARGV[5], ARGV[6]
local nw, nf = tonumber(ARGV[7]), tonumber(ARGV[8])
if redis.call('HEXISTS', B .. 'state', 'shutdown') == 1 then return {'SHUTDOWN'} end
local now = now_ms()
local held = redis.call('HGET', B .. 'holder', node)
if held and held ~= holder and force ~= '1' then
  local dl = tonumber(redis.call('ZSCORE', B .. 'nodes', node) or '0')
  if dl >= now then return {'TAKEN', held, dl - now} end
end
local HORIZON = math.max(60000, 30 * ttl)
local empty = redis.call('EXISTS', B .. 'epoch') == 0 and 1 or 0
local M = string.match(B, '^(.*){') .. 'redis'
local run = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)') or '?'
local mrun, mat = string.match(redis.call('GET', M) or '', '^(%S+) (%d+)$')
if mrun ~= run then
  mat = now
  redis.call('SET', M, run .. ' ' .. now)
end
if empty == 1 then
  redis.call('SET', B .. 'created', now, 'PX', HORIZON)
  redis.call('DEL', B .. 'tomb')
  -- (a marker just written has mat = now: a whole TTL too)
  local wait = rejoin == '1' and ttl or tonumber(mat) + ttl - now
  if wait > 0 then redis.call('SET', B .. 'rebuild', node, 'PX', wait) end
end
local was_reaped = redis.call('HEXISTS', B .. 'reaped', node) == 1
redis.call('HDEL', B .. 'reaped', node)
reap(node, now)
redis.call('HSET', B .. 'inc', node, inc)
redis.call('HSET', B .. 'holder', node, holder)
redis.call('ZADD', B .. 'nodes', now + ttl, node)
redis.call('XADD', B .. 'inbox:' .. node, '*', 't', 'h')
for i = 9, 8 + nw do
  if not redis.call('HGET', B .. 'workers', ARGV[i]) then
    redis.call('HSET', B .. 'workers', ARGV[i], node)
  end
end
local requeued, answered, late = 0, 0, 0
local recent = redis.call('EXISTS', B .. 'created') == 1
local first = 9 + nw
for i = first, first + 2 * nf - 1, 2 do
  local key = ARGV[i]
  if not was_reaped and redis.call('HEXISTS', B .. 'jobs', key) == 0 then
    if not recent then
      late = late + 1
    elseif redis.call('SISMEMBER', B .. 'tomb', key) == 1 then
      answered = answered + 1
    else
      redis.call('HSET', B .. 'jobs', key, ARGV[i + 1])
      to_wait(key, now)
      requeued = requeued + 1
    end
  end
end
local out = {'OK', now, 0, empty, requeued, answered, late}
for i = first + 2 * nf, #ARGV, 3 do
  local key, wid, p = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local o = redis.call('HGET', B .. 'owner', key)
  local n = o and parse_owner(o)
  local exists = redis.call('HEXISTS', B .. 'jobs', key) == 1
  if (n and n ~= node) or (not exists and was_reaped) then
    out[#out + 1] = key
    out[#out + 1] = 0
  else
    if not exists then redis.call('HSET', B .. 'jobs', key, p) end
    redis.call('ZREM', B .. 'wait', key)
    local f = redis.call('INCR', B .. 'fence')
    own(key, node, wid, f)
    out[#out + 1] = key
    out[#out + 1] = f
  end
end
out[3] = bump_epoch()
return out
