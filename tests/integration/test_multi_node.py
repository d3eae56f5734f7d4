"""Many nodes: placement, routing, rebalancing, failover, leases, fencing
(issue 3). Three pulsed processes with their own sockets against one
redis-server stand in for three hosts; TTLs are short so that failures
resolve in well under a second or two.

Every test ends with the history checker over all workers' event logs:
no job lost, none unexpected, no two run intervals of one key overlapping.
"""
import signal
import threading
import time

import pytest

from harness import all_running_once, running_on, SLOW, check_history, frame, raw_session, read_frame, wait_for

TTL = "600ms"
TTL_S = 0.6


def cluster(env, nodes=3, workers=2, ttl=TTL, opts=(), **pool_opts):
    ns = [env.node("node-%s" % c, worker_ttl=ttl, **pool_opts) for c in "abc"[:nodes]]
    for n in ns:
        n.use_pool("p")  # a node joins a pool when it is first used
    ws = [env.worker(n, name="%s-w%d" % (n.name, i), opts=opts)
          for n in ns for i in range(workers)]
    wait_for(lambda: all(n.pool_status("p") and n.pool_status("p")["workers_pool"] == len(ws)
                         for n in ns), 5, "every node to see every worker")
    return ns, ws


def dispatch_all(node, keys, pool="p"):
    for k in keys:
        rc, data, err = node.ctlj("dispatch", pool, k, "payload-" + k)
        assert rc == 0, (k, err)


def running(ws):
    return running_on(ws)


def test_routing_across_nodes(env):
    (a, b, c), ws = cluster(env)
    keys = ["route-%d" % i for i in range(60)]
    dispatch_all(a, keys)
    r = running(ws)
    assert set(r) == set(keys)
    # the jobs spread over workers of every node
    nodes_used = {wid.split("-w")[0] for wids in r.values() for wid in wids}
    assert nodes_used == {"node-a", "node-b", "node-c"}
    # notify and stop from another node reach the owner wherever it is
    for k in keys[:20]:
        rc, _, err = c.ctlj("notify", "p", k, "hello-" + k)
        assert rc == 0, err
    notes = {(e[1], e[4]) for w in ws for e in w.events() if e[0] == "notify"}
    assert notes == {(k, "hello-" + k) for k in keys[:20]}
    for k in keys[:30]:
        rc, _, err = b.ctlj("stop", "p", k)
        assert rc == 0, err
    rc, data, _ = b.ctlj("jobs", "p")
    assert sorted(r["key"] for r in data["jobs"]) == sorted(keys[30:])
    check_history(ws, keys[30:])


def test_handler_error_crosses_nodes(env):
    ns = [env.node("node-%s" % c, worker_ttl=TTL) for c in "ab"]
    ns[0].use_pool("p")
    w = env.worker(ns[1], name="only", opts=["--fail-start", "bad-"])
    wait_for(lambda: ns[0].pool_status("p") and ns[0].pool_status("p")["workers_pool"] == 1,
             5, "node a to see the worker")
    rc, data, _ = ns[0].ctlj("dispatch", "p", "bad-1")
    assert rc == 1 and data["code"] == "HANDLER" and "refused by test" in data["message"]
    rc, data, _ = ns[0].ctlj("job", "p", "bad-1")
    assert rc == 1
    assert ns[0].ctlj("dispatch", "p", "good-1")[0] == 0
    check_history([w], {"good-1"})


def test_concurrent_dispatch_one_winner(env):
    ns, ws = cluster(env, workers=1)
    results = []

    def go(node, key):
        results.append((key, node.ctlj("dispatch", "p", key)[1]))

    for i in range(10):
        key = "race-%d" % i
        ts = [threading.Thread(target=go, args=(n, key)) for n in ns for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    for i in range(10):
        key = "race-%d" % i
        rs = [r for k, r in results if k == key]
        assert sum(1 for r in rs if r["ok"]) == 1, rs  # P1
        assert all(r["ok"] or r["code"] == "JOB_EXISTS" for r in rs), rs
    check_history(ws, {"race-%d" % i for i in range(10)})


def test_worker_join_moves_share(env):
    ns, ws = cluster(env, workers=1)
    keys = ["j-%d" % i for i in range(300)]
    dispatch_all(ns[0], keys)
    before = running(ws)
    new = env.worker(ns[1], name="late-joiner")
    allw = ws + [new]
    wait_for(lambda: all_running_once(allw, keys) and len(new.running()) > 0, 5,
             "rebalance onto the new worker")
    wait_for(lambda: len(new.running()) >= 55, 5, "the newcomer's share")
    after = running(allw)
    moved = [k for k in keys if after[k] != before[k]]
    # P5: about 1/(n+1) moved, all to the newcomer
    assert all(after[k] == [new.id] for k in moved)
    assert 0.15 * len(keys) < len(moved) < 0.35 * len(keys), len(moved)
    # P3: each moved job stopped on its old worker before its new start
    check_history(allw, keys)


def test_worker_leave_moves_only_its_jobs(env):
    ns, ws = cluster(env, workers=2)
    keys = ["l-%d" % i for i in range(200)]
    dispatch_all(ns[0], keys)
    before = running(ws)
    victim = ws[2]
    theirs = victim.running()
    assert theirs
    t = time.monotonic()
    victim.kill()
    rest = [w for w in ws if w is not victim]
    wait_for(lambda: all_running_once(rest, keys), 1.0, "jobs of the killed worker to restart")
    assert time.monotonic() - t < 1.0  # P4
    after = running(rest)
    moved = [k for k in keys if after[k] != before[k]]
    assert set(moved) == theirs  # P5: only its jobs moved
    check_history(ws, keys)


def test_stable_name_takes_back_keys(env):
    ns, ws = cluster(env, workers=1)
    keys = ["s-%d" % i for i in range(120)]
    dispatch_all(ns[0], keys)
    w = ws[1]
    mine = w.running()
    w.kill()
    rest = [x for x in ws if x is not w]
    wait_for(lambda: all_running_once(rest, keys), 2, "failover")
    again = env.worker(ns[1], name=w.id)
    allw = ws + [again]
    wait_for(lambda: again.running() == mine and all_running_once(allw, keys), 5,
             "the restarted worker to take back its keys")
    check_history(allw, keys)


def test_pulsed_killed_jobs_move(env):
    ns, ws = cluster(env)
    keys = ["k-%d" % i for i in range(150)]
    dispatch_all(ns[0], keys)
    b = ns[1]
    t = time.monotonic()
    b.kill()
    # its workers see their session end and stop their jobs at once
    dead = [w for w in ws if w.node is b]
    for w in dead:
        w.proc.wait(timeout=5)
        w.killed_ns = time.time_ns()
    live = [w for w in ws if w.node is not b]
    wait_for(lambda: all_running_once(live, keys), TTL_S + 2, "jobs of the dead node elsewhere")
    assert time.monotonic() - t < (TTL_S + 2) * SLOW  # P4 (stretched under valgrind)
    check_history(ws, keys)


def test_sigstop_pulsed_self_fences(env):
    ns, ws = cluster(env, opts=["--reattach"])
    keys = ["f-%d" % i for i in range(90)]
    dispatch_all(ns[0], keys)
    b = ns[1]
    theirs = set().union(*(w.running() for w in ws if w.node is b))
    assert theirs
    b.proc.send_signal(signal.SIGSTOP)
    try:
        others = [w for w in ws if w.node is not b]
        # the other nodes start b's jobs after its lease ended; b's workers
        # stopped them before (no overlap: the checker below)
        wait_for(lambda: set(running(others)) == set(keys), TTL_S * 4 + 2,
                 "jobs of the stopped node elsewhere")
    finally:
        b.proc.send_signal(signal.SIGCONT)
    # b comes back and rejoins without running anything twice
    wait_for(lambda: b.pool_status("p") and b.pool_status("p")["state"] == "active", 5,
             "node b to rejoin")
    wait_for(lambda: all_running_once(ws, keys), 5, "one owner per job")
    check_history(ws, keys)


def test_redis_flushall_rebuilds(env):
    ns, ws = cluster(env)
    keys = ["r-%d" % i for i in range(60)]
    dispatch_all(ns[0], keys)
    env.redis.cli("FLUSHALL")
    # nodes see they are no longer registered, re-join and re-announce
    wait_for(lambda: ns[2].ctlj("jobs", "p")[1] is not None and
             sorted(r["key"] for r in ns[2].ctlj("jobs", "p")[1].get("jobs", []))
             == sorted(keys), 5,
             "jobs re-announced")
    assert ns[0].ctlj("dispatch", "p", "after-flush")[0] == 0
    wait_for(lambda: all_running_once(ws, keys + ["after-flush"]), 5, "pool carries on")
    # the loss is reported in the log
    assert any("Redis lost the pool's state" in n.logtext() for n in ns)
    check_history(ws, keys + ["after-flush"])


def test_malformed_redis_entries_skipped(env):
    ns, ws = cluster(env, workers=1)
    base = "pulse:{p}:"
    env.redis.cli("XADD", base + "inbox:node-b", "*", "garbage", "1")
    env.redis.cli("XADD", base + "inbox:node-b", "*", "t", "a")
    env.redis.cli("HSET", base + "workers", "bogus worker with spaces", "node-z")
    env.redis.cli("ZADD", base + "wait", "0", "ghost")  # waiting, no payload
    keys = ["m-%d" % i for i in range(30)]
    dispatch_all(ns[1], keys)
    wait_for(lambda: all_running_once(ws, keys), 5, "processing goes on")
    assert all(n.proc.poll() is None for n in ns)
    check_history(ws, keys)


def test_orphans_found_and_started(env):
    ns, ws = cluster(env, workers=1)
    base = "pulse:{p}:"
    # a payload with no owner and not waiting; one owned by a node that
    # does not exist; one owned by a live node whose worker does not run it
    env.redis.cli("HSET", base + "jobs", "orphan-1", "x")
    env.redis.cli("HSET", base + "jobs", "orphan-2", "y")
    env.redis.cli("HSET", base + "owner", "orphan-2", "node-z ghost 7")
    env.redis.cli("HSET", base + "jobs", "orphan-3", "z")
    env.redis.cli("HSET", base + "owner", "orphan-3", "node-b node-b-w0 99999")
    env.redis.cli("SADD", base + "njobs:node-b", "orphan-3")
    keys = ["orphan-1", "orphan-2", "orphan-3"]
    wait_for(lambda: all_running_once(ws, keys), 10, "orphans restarted")
    check_history(ws, keys)


def test_job_assigned_again_to_its_worker_is_answered_not_restarted(env):
    """A key its worker already runs can be assigned to that worker again
    (a reap and a claim during a Redis pause, found by make chaos): the
    new owner record must get its start answer (the dispatch record is
    removed, the caller answered), and the worker gets no second START."""
    ns, ws = cluster(env, workers=1)
    base = "pulse:{p}:"
    key = "again-1"
    dispatch_all(ns[0], [key])
    wait_for(lambda: running(ws).get(key), 5, "the job running")
    node, wid, fence = env.redis.cli("HGET", base + "owner", key).split()
    # what admit.lua writes for a dispatch whose owner is that worker
    f2 = int(fence) + 1000
    env.redis.cli("HSET", base + "disp", key, "node-z 77")
    env.redis.cli("HSET", base + "owner", key, "%s %s %d" % (node, wid, f2))
    env.redis.cli("XADD", base + "inbox:" + node, "*", "t", "a", "k", key,
                  "w", wid, "f", f2, "c", "node-z", "i", "77", "p", "payload-" + key)
    wait_for(lambda: env.redis.cli("HEXISTS", base + "disp", key) == "0", 5,
             "the dispatch record removed by the start answer")
    # the job goes on under the new owner record: a stop reaches it
    rc, _, err = ns[1].ctlj("stop", "p", key)
    assert rc == 0, err
    starts = [e for w in ws for e in w.events() if e[0] == "start" and e[1] == key]
    assert len(starts) == 1, starts
    check_history(ws, [])


def test_job_assigned_again_while_it_stops_is_started_after_the_stop(env):
    """The same re-assignment arriving while the worker is still stopping
    the key: no START while the stop runs (stop-then-start on one worker),
    then one START under the new owner record, which answers its dispatch;
    the stop that was under way looks for the job again and stops it."""
    a = env.node("node-a", worker_ttl="3s")
    a.use_pool("p")
    s = raw_session(a.sock)
    s.sendall(frame({"t": 1, "v": 1, "role": "worker", "pool": "p",
                     "name": "manual"}))
    m = read_frame(s)
    assert m["t"] == 2, m  # WELCOME
    wid = m["worker"]
    seen, halting, release = [], threading.Event(), threading.Event()

    def serve():
        # START, HALT, EVENT answered r=0; the first HALT only on release
        while True:
            try:
                m = read_frame(s)
            except OSError:
                return
            if m is None:
                return
            if m["t"] not in (20, 21, 22):
                continue  # LEASE
            seen.append((m["t"], m["key"]))
            if m["t"] == 21 and not halting.is_set():
                halting.set()
                release.wait(30)
            s.sendall(frame({"t": 23, "id": m["id"], "r": 0}))

    threading.Thread(target=serve, daemon=True).start()
    wait_for(lambda: a.pool_status("p")["workers_pool"] == 1, 5, "the worker placed")
    base, key = "pulse:{p}:", "again-2"
    assert a.ctlj("dispatch", "p", key, "x")[0] == 0
    stop = {}
    t = threading.Thread(target=lambda: stop.update(r=a.ctlj("stop", "p", key)))
    t.start()
    wait_for(halting.is_set, 5, "the HALT at the worker")
    node, w, fence = env.redis.cli("HGET", base + "owner", key).split()
    f2 = int(fence) + 1000
    env.redis.cli("HSET", base + "disp", key, "node-z 78")
    env.redis.cli("HSET", base + "owner", key, "%s %s %d" % (node, w, f2))
    env.redis.cli("XADD", base + "inbox:" + node, "*", "t", "a", "k", key,
                  "w", wid, "f", f2, "c", "node-z", "i", "78", "p", "y")
    wait_for(lambda: "assigned again to worker" in a.logtext(), 5,
             "the assignment held until the stop ends")
    assert seen == [(20, key), (21, key)]  # no START while it stops
    release.set()
    t.join(30)
    assert stop["r"][0] == 0, stop
    assert seen == [(20, key), (21, key), (20, key), (21, key)], seen
    assert env.redis.cli("HEXISTS", base + "disp", key) == "0"
    assert a.ctlj("job", "p", key)[0] == 1
    s.close()


def test_redis_restarted_empty(env):
    ns, ws = cluster(env)
    keys = ["e-%d" % i for i in range(60)]
    dispatch_all(ns[0], keys)
    env.redis.stop()
    env.redis.start()
    # P4/P15: nodes reconnect, re-register and re-announce their jobs
    wait_for(lambda: ns[1].ctlj("jobs", "p")[0] == 0 and
             sorted(r["key"] for r in ns[1].ctlj("jobs", "p")[1]["jobs"])
             == sorted(keys), 10,
             "jobs re-announced after the restart")
    assert ns[2].ctlj("dispatch", "p", "after-restart")[0] == 0
    wait_for(lambda: all_running_once(ws, keys + ["after-restart"]), 5, "pool carries on")
    check_history(ws, keys + ["after-restart"])


def test_join_of_many_workers_keeps_dispatching(env):
    ns, ws = cluster(env, workers=1)
    keys = ["m-%d" % i for i in range(300)]
    dispatch_all(ns[0], keys)
    stop = threading.Event()
    extra, errors = [], []

    def keep_dispatching():
        i = 0
        while not stop.is_set():
            k = "during-%d" % i
            rc, data, err = ns[i % 3].ctlj("dispatch", "p", k)
            (extra if rc == 0 else errors).append((k, err))
            i += 1

    def keep_notifying():
        i = 0
        while not stop.is_set():
            k = keys[i % len(keys)]
            rc, data, err = ns[(i + 1) % 3].ctlj("notify", "p", k, "n%d" % i)
            if rc != 0:
                errors.append((k, err))
            i += 1

    ts = [threading.Thread(target=keep_dispatching), threading.Thread(target=keep_notifying)]
    for t in ts:
        t.start()
    try:
        new = [env.worker(n, name="%s-new%d" % (n.name, i)) for n in ns for i in range(2)]
        allw = ws + new
        wait_for(lambda: all(len(w.running()) > 0 for w in new), 10, "every new worker to get jobs")
    finally:
        stop.set()
        for t in ts:
            t.join()
    assert not errors, errors[:5]  # dispatch and notify kept working (P2, P7)
    assert len(extra) > 0
    expect = keys + [k for k, _ in extra]
    wait_for(lambda: all_running_once(allw, expect), 10, "rebalance to settle")
    check_history(allw, expect)


def test_stop_during_rebalance(env):
    ns, ws = cluster(env, workers=1)
    keys = ["sd-%d" % i for i in range(200)]
    dispatch_all(ns[0], keys)
    stopped, errors = [], []

    def stopper():
        for k in keys[:100]:
            rc, data, err = ns[2].ctlj("stop", "p", k)
            (stopped if rc == 0 else errors).append((k, err))

    t = threading.Thread(target=stopper)
    t.start()
    new = [env.worker(n, name="%s-late" % n.name) for n in ns]
    t.join()
    assert not errors, errors[:5]  # P6: every stop answered, even mid-move
    allw = ws + new
    wait_for(lambda: all_running_once(allw, keys[100:]), 10, "settle")
    check_history(allw, keys[100:])


def test_node_cut_off_from_redis_self_fences(env):
    prox = env.proxy()
    a = env.node("node-a", worker_ttl=TTL)
    b = env.node("node-b", worker_ttl=TTL, redis_url=prox.url())
    c = env.node("node-c", worker_ttl=TTL)
    for n in (a, b, c):
        n.use_pool("p")
    ws = [env.worker(n, name="%s-w" % n.name) for n in (a, b, c)]
    wait_for(lambda: all(n.pool_status("p")["workers_pool"] == 3 for n in (a, b, c)), 5, "view")
    keys = ["cut-%d" % i for i in range(90)]
    dispatch_all(a, keys)
    theirs = ws[1].running()
    assert theirs
    prox.cut()
    # P3: b stops its jobs through the stop handler before its lease ends;
    # a and c start them only after that (the checker sees no overlap)
    wait_for(lambda: ws[1].running() == set(), TTL_S * 2, "b to fence")
    wait_for(lambda: set(running([ws[0], ws[2]])) == set(keys), TTL_S * 4 + 2,
             "b's jobs elsewhere")
    prox.heal()
    wait_for(lambda: b.pool_status("p")["state"] == "active", 10, "b to rejoin")
    wait_for(lambda: all_running_once(ws, keys), 10, "one owner per job")
    check_history(ws, keys)


def test_flush_while_a_node_is_frozen_no_double_run(env):
    # P3 across a loss of Redis: node b is frozen (SIGSTOP) when Redis is
    # flushed, so it cannot re-announce K, which its worker still runs
    # until the lease b gave it ends. Node a re-joins an empty pool, sees
    # only its own worker, and K is dispatched again through a: the
    # admission must wait (the pool is rebuilding for one TTL) rather than
    # start K on a's worker while b's worker still runs it.
    ns, ws = cluster(env, nodes=2, workers=1)
    a, b = ns
    keys = ["f-%d" % i for i in range(20)]
    dispatch_all(a, keys)
    on_b = sorted(running(ws[1:]))
    assert on_b, "no key landed on node b's worker"
    k = on_b[0]
    for other in on_b[1:]:
        assert a.ctlj("stop", "p", other)[0] == 0
    b.proc.send_signal(signal.SIGSTOP)
    try:
        env.redis.cli("FLUSHALL")
        wait_for(lambda: a.pool_status("p")["workers_pool"] == 1, 5,
                 "node a to re-join with only its worker")
        rebuild = int(env.redis.cli("PTTL", "pulse:{p}:rebuild") or -2)
        assert rebuild > 0, "no rebuild mark after the re-join"
        t = time.monotonic()
        rc, data, err = a.ctlj("dispatch", "p", k, "again")
        waited = time.monotonic() - t
        assert rc == 0, err
        assert waited >= rebuild / 1000.0 * 0.5, waited  # it waited for the mark
    finally:
        b.proc.send_signal(signal.SIGCONT)
    expect = [x for x in keys if x not in on_b] + [k]
    wait_for(lambda: all_running_once(ws, expect), 10, "k running once, on a")
    check_history(ws, expect)


def test_requests_right_after_a_flush_wait_for_the_rejoin(env):
    """Between a FLUSHALL and the first re-join nothing marks the rebuild
    and no running job is announced (found by make chaos). A dispatch then
    of a key that runs must not be admitted: the owner's re-join would
    take it out of 'wait' and its dispatch record would stay for ever,
    its caller unanswered. A notify or a stop then must not answer "not
    found". The caller node re-joins first, then waits out the rebuild
    (a dispatch) or until the owner re-announced the key (a stop, a
    notify)."""
    ns, ws = cluster(env, nodes=2, workers=1, ttl="3s")
    a, b = ns
    base = "pulse:{p}:"
    keys = ["fl-%d" % i for i in range(20)]
    dispatch_all(a, keys)
    on_b = sorted(running(ws[1:]))
    assert on_b, "no key landed on node b's worker"
    k = on_b[0]
    env.redis.cli("FLUSHALL")
    rc, data, err = a.ctlj("dispatch", "p", k, "again")
    assert rc == 1 and data["code"] == "JOB_EXISTS", (rc, data, err)
    assert env.redis.cli("HLEN", base + "disp") == "0"
    assert env.redis.cli("ZCARD", base + "wait") == "0"
    wait_for(lambda: all_running_once(ws, keys), 10, "every job running once")
    env.redis.cli("FLUSHALL")
    rc, data, err = a.ctlj("notify", "p", k, "after-flush")
    assert rc == 0, (rc, data, err)
    assert ("notify", k, "after-flush") in [(e[0], e[1], e[4]) for w in ws
                                            for e in w.events() if e[0] == "notify"]
    env.redis.cli("FLUSHALL")
    rc, data, err = a.ctlj("stop", "p", k)
    assert rc == 0, (rc, data, err)
    rest = [x for x in keys if x != k]
    wait_for(lambda: all_running_once(ws, rest), 10, "k stopped, the rest running")
    check_history(ws, rest)


def test_dispatch_timing_out_before_its_admission_says_nothing_exists(env):
    """A dispatch whose own timeout ends while the pool is being rebuilt
    was never admitted: its TIMEOUT says the job was not created (not
    "the job exists and will run"), and it is not created later."""
    ns, ws = cluster(env, nodes=1, workers=1, ttl="3s")
    a = ns[0]
    env.redis.cli("FLUSHALL")
    s = raw_session(a.sock)
    s.sendall(frame({"t": 1, "v": 1, "role": "client"}))
    assert read_frame(s)["t"] == 2  # WELCOME
    s.sendall(frame({"t": 10, "id": 1, "pool": "p", "key": "never",
                     "payload": b"x", "timeout": 300}))
    m = read_frame(s)
    s.close()
    assert m["t"] == 3 and m["code"] == "TIMEOUT", m  # ERROR
    assert "the job was not created" in m["msg"], m
    wait_for(lambda: int(env.redis.cli("PTTL", "pulse:{p}:rebuild")) < 0, 10,
             "the rebuild to end")
    assert a.ctlj("job", "p", "never")[0] == 1
    assert "never" not in running(ws)


def test_redis_connection_that_stops_answering_is_made_again(env):
    # A network that drops packets without a reset: node b's connection
    # stays open and nothing comes back. b fences itself (no renewal) and
    # then, its calls unanswered for redis.reply_timeout, drops the
    # connection and makes a new one, re-joins, and takes jobs again. With
    # no reply timeout it would wait on the dead connection forever.
    prox = env.proxy()
    a = env.node("node-a", worker_ttl=TTL)
    b = env.node("node-b", worker_ttl=TTL, redis_url=prox.url(),
                 extra={"redis": {"reply_timeout": "1s"}})
    for n in (a, b):
        n.use_pool("p")
    ws = [env.worker(n, name="%s-w" % n.name, opts=["--reattach"]) for n in (a, b)]
    wait_for(lambda: all(n.pool_status("p")["workers_pool"] == 2 for n in (a, b)), 5, "view")
    keys = ["frz-%d" % i for i in range(40)]
    dispatch_all(a, keys)
    assert ws[1].running()
    prox.freeze()
    wait_for(lambda: ws[1].running() == set(), TTL_S * 4, "b to fence")
    wait_for(lambda: set(running(ws[:1])) == set(keys), TTL_S * 4 + 2,
             "b's jobs on a")
    prox.thaw()  # old connections stay dead: what b sent meanwhile is lost
    wait_for(lambda: "no answer for" in b.logtext(full=True), 5,
             "b to give up on its connection")
    wait_for(lambda: b.pool_status("p")["state"] == "active", 10, "b to re-join")
    wait_for(lambda: a.pool_status("p")["workers_pool"] == 2, 10, "b's worker placed")
    wait_for(lambda: all_running_once(ws, keys) and ws[1].running(), 10,
             "jobs on b again")
    check_history(ws, keys)


def test_redis_down_past_the_fence_time_loses_no_running_job(env):
    # Redis is gone for longer than the fence time: every node stops its
    # jobs (self-fence), then Redis comes back empty. Those jobs now live
    # only in what each node remembers of its fence: it queues them again
    # when it re-joins, so every job runs again, once. (Workers whose lease
    # from pulsed ran out meanwhile close their session and attach again.)
    ns, ws = cluster(env, opts=["--reattach"])
    keys = ["down-%d" % i for i in range(60)]
    dispatch_all(ns[0], keys)
    wait_for(lambda: all_running_once(ws, keys), 5, "every job running")
    env.redis.stop()
    wait_for(lambda: not running(ws), TTL_S * 4, "every node to fence")
    env.redis.start()

    def settled():
        # every worker back in every view (those whose lease ran out
        # re-attach, and the rebalance that follows moves jobs), then
        # every job running once, with no job between two workers
        return all((n.pool_status("p") or {}).get("workers_pool") == len(ws) and
                   (n.pool_status("p") or {}).get("kept") == 0 for n in ns) and \
            all_running_once(ws, keys)
    wait_for(settled, TTL_S * 4 + 5, "every worker back and every job running again")
    assert any("jobs this node had stopped when it fenced itself: queued again"
               in n.logtext(full=True) for n in ns)
    check_history(ws, keys)
