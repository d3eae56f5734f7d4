-- shutdown.lua: a pool-wide shutdown (P10).
-- ARGV: op, node.
--   begin:  mark the pool shut down (every later admission, attach and join
--           answers SHUTDOWN), list the nodes that must stop their jobs in
--           B down (node -> 0), and tell them ('s' on the pool channel; the
--           lease reply carries the mark too). Returns the node list.
--   done:   this node stopped all its jobs (down[node] = 1).
--   status: the B down hash.
--   finish: delete every key of the pool but B state, which keeps the pool
--           shut down until an operator re-opens it (reopen).
--   reopen: remove the mark and tell the nodes ('o' on the pool channel;
--           each joins again, as its lease tick would). Returns 1, or 0
--           when the pool was not shut down.
local op, node = ARGV[1], ARGV[2]
if op == 'begin' then
  if redis.call('HEXISTS', B .. 'state', 'shutdown') == 0 then
    redis.call('HSET', B .. 'state', 'shutdown', now_ms())
    redis.call('DEL', B .. 'down')
    for _, n in ipairs(redis.call('ZRANGE', B .. 'nodes', 0, -1)) do
      redis.call('HSET', B .. 'down', n, 0)
    end
  end
  redis.call('PUBLISH', B .. 'ev', 's')
  return redis.call('HKEYS', B .. 'down')
elseif op == 'done' then
  if redis.call('HEXISTS', B .. 'down', node) == 1 then
    redis.call('HSET', B .. 'down', node, 1)
  end
  redis.call('PUBLISH', B .. 'ev', 'd')
  return 1
elseif op == 'status' then
  return redis.call('HGETALL', B .. 'down')
elseif op == 'finish' then
  local n, cursor = 0, '0'
  repeat
    local r = redis.call('SCAN', cursor, 'MATCH', B .. '*', 'COUNT', 1000)
    cursor = r[1]
    for _, k in ipairs(r[2]) do
      if k ~= B .. 'state' then
        redis.call('DEL', k)
        n = n + 1
      end
    end
  until cursor == '0'
  return n
elseif op == 'reopen' then
  local was = redis.call('HDEL', B .. 'state', 'shutdown')
  redis.call('DEL', B .. 'down')
  redis.call('PUBLISH', B .. 'ev', 'o')
  return was
end
return redis.error_reply('unknown op')
