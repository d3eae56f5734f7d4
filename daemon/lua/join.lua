-- join.lua: a node (re)joins its pool under a new incarnation.
-- ARGV: node, incarnation, ttl (ms), rejoin ('1' when this node was in
-- the pool before: Redis may have lost the pool), holder ("<boot id>
-- <pid> <host> <socket>": which process this is), force ('1': the holder
-- named by an earlier TAKEN is known dead), horizon (ms: the re-join
-- horizon, pool.c pool_horizon_ms), nw, nf, ns, then nw ids of its
-- attached workers, then nf triples (key, payload, since) of the jobs its
-- last self-fence stopped (since: the Redis time the job started here),
-- then ns pairs (key, at) of the keys this node answered as gone (a stop,
-- a failed first start, JOB_NOT_FOUND) within the horizon, with the Redis
-- time of the answer (only on a re-join), then triples (key, worker,
-- payload) of the jobs its workers run now (only after Redis lost this
-- node: a flush, a restart, or a reap).
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
-- expiring after the horizon), and only when no stop, failed start or
-- JOB_NOT_FOUND answered for the key after that copy started ('B tomb',
-- common.lua's tombstone()): an answer that a job is gone is never undone
-- by a node that was stopped or cut off while it was given (P5). Past the
-- horizon the fenced jobs are not re-created (the node logs how many):
-- which stops were answered is no longer known.
-- The answer may also predate the loss: the node was reaped, its job
-- moved on and was stopped elsewhere, then Redis lost its data, reap
-- record and tombstone with it (the model's finding find-reaped-fence).
-- So every node names the stops it answered when it re-joins, and they
-- become tombstones again; and a fenced job re-created here may not be
-- claimed before the rebuild window ends (its 'wait' score), by when
-- every live node has re-joined: a named stop later than the copy's start
-- then drops the copy ('B rebuilt': key -> "<since> <wait score>" of each
-- copy re-created, expiring with the window; a job admitted or claimed
-- since has another score or none, and is kept).
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
-- requeued, answered, late, dropped, then key, fence per job (fence 0:
-- conflict)}; empty is 1 when the pool had no state at all (its first
-- node, or Redis lost everything); requeued counts the fenced jobs
-- re-created, answered those not re-created because a stop answered for
-- them meanwhile, late those not re-created because the horizon had
-- passed, dropped the copies other nodes re-created that this node's
-- named stops removed.
local node, inc, ttl, rejoin = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local holder, force, HORIZON = ARGV[5], ARGV[6], tonumber(ARGV[7])
local nw, nf, ns = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
if redis.call('HEXISTS', B .. 'state', 'shutdown') == 1 then return {'SHUTDOWN'} end
local now = now_ms()
local held = redis.call('HGET', B .. 'holder', node)
if held and held ~= holder and force ~= '1' then
  local dl = tonumber(redis.call('ZSCORE', B .. 'nodes', node) or '0')
  if dl >= now then return {'TAKEN', held, dl - now} end
end
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
  redis.call('DEL', B .. 'tomb', B .. 'rebuilt')
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
for i = 11, 10 + nw do
  if not redis.call('HGET', B .. 'workers', ARGV[i]) then
    redis.call('HSET', B .. 'workers', ARGV[i], node)
  end
end
local recent = redis.call('EXISTS', B .. 'created') == 1
local fenced, named, running = 11 + nw, 11 + nw + 3 * nf, 11 + nw + 3 * nf + 2 * ns
-- the stops this node answered: tombstones again, and a copy of the key
-- that another node re-created from its fence before they were known,
-- not claimable yet, goes
local dropped = 0
for i = named, running - 1, 2 do
  local key, at = ARGV[i], tonumber(ARGV[i + 1])
  if recent then
    tombstone(key, at)
    local since, score = string.match(redis.call('HGET', B .. 'rebuilt', key) or '',
                                      '^(%d+) (%d+)$')
    if since and tonumber(since) < at and not redis.call('HGET', B .. 'owner', key)
       and redis.call('ZSCORE', B .. 'wait', key) == score then
      redis.call('HDEL', B .. 'jobs', key)
      redis.call('HDEL', B .. 'disp', key)
      redis.call('HDEL', B .. 'rebuilt', key)
      redis.call('ZREM', B .. 'wait', key)
      dropped = dropped + 1
    end
  end
end
local requeued, answered, late = 0, 0, 0
local window = math.max(0, redis.call('PTTL', B .. 'rebuild'))
for i = fenced, named - 1, 3 do
  local key, since = ARGV[i], tonumber(ARGV[i + 2])
  if not was_reaped and redis.call('HEXISTS', B .. 'jobs', key) == 0 then
    if not recent then
      late = late + 1
    elseif tonumber(redis.call('HGET', B .. 'tomb', key) or '0') >= since then
      answered = answered + 1
    else
      redis.call('HSET', B .. 'jobs', key, ARGV[i + 1])
      to_wait(key, now + window)
      redis.call('HSET', B .. 'rebuilt', key, since .. ' ' .. (now + window))
      redis.call('PEXPIRE', B .. 'rebuilt', window + ttl)
      requeued = requeued + 1
    end
  end
end
local out = {'OK', now, 0, empty, requeued, answered, late, dropped}
for i = running, #ARGV, 3 do
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
