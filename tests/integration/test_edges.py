"""The contract at its edges (issue 14): sessions that end mid-handshake,
Redis losing its data between two steps, a node id used twice, the
placement function as documented, a stop during a move, and answers that
must never contradict what happens next.

Each test here failed on the code before issue 14 (the docstring says how)
and ends with the history checker where workers run jobs.
"""
import os
import re
import signal
import socket
import sys
import threading
import time

import pytest

from harness import (SLOW, all_running_once, check_history, frame, raw_session, read_frame,
                     scaled, wait_for)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "tools"))
import placement_ref  # noqa: E402

BASE = "pulse:{p}:"
TTL = "400ms"
TTL_S = 0.4 * SLOW
T_HELLO, T_WELCOME = 1, 2


def redis_workers(env):
    """Redis's placement: worker id -> node."""
    r = env.redis.cli("HGETALL", BASE + "workers").split("\n")
    r = [x for x in r if x != ""]
    return dict(zip(r[::2], r[1::2]))


def pool_workers(node):
    st = node.pool_status("p")
    return st and st["workers_pool"]


def dispatch(node, key, payload=None):
    rc, data, err = node.ctlj("dispatch", "p", key, payload or ("payload-" + key))
    assert rc == 0, (key, rc, data, err)


def owner_worker(env, key):
    o = env.redis.cli("HGET", BASE + "owner", key)
    return o.split()[1] if o else None


# ---- placement: the documented function --------------------------------

def test_placement_is_the_documented_hash(env):
    """Every job lands on the worker that REDIS.md's formula picks, as
    computed by an implementation written from the document (old code: the
    FNV offset basis was 1469598103934665603, not 0xcbf29ce484222325, and
    about a third of the keys went elsewhere)."""
    a = env.node("node-a", worker_ttl=TTL)
    names = ["w-%d" % i for i in range(4)]
    ws = [env.worker(a, name=n) for n in names]
    wait_for(lambda: pool_workers(a) == len(ws), 5, "workers placed")
    keys = ["k-%d" % i for i in range(120)] + ["odd key %d/é:ü" % i for i in range(30)]
    for k in keys:
        dispatch(a, k)
    wrong = [(k, owner_worker(env, k), placement_ref.pick(k, names))
             for k in keys if owner_worker(env, k) != placement_ref.pick(k, names)]
    assert not wrong, "placed against REDIS.md's formula: %r" % wrong[:10]
    check_history(ws, keys)


# ---- no ghost worker ----------------------------------------------------

def hello_then_close(sock, name, wait_welcome=False, linger=0.0):
    s = raw_session(sock)
    s.sendall(frame({"t": T_HELLO, "v": 1, "role": "worker", "pool": "p",
                     "name": name}))
    if wait_welcome:
        m = read_frame(s)
        assert m and m["t"] == T_WELCOME, m
    if linger:
        time.sleep(linger)
    s.close()


@pytest.mark.parametrize("step", ["with_hello", "after_welcome"])
def test_session_ending_in_the_handshake_leaves_no_ghost(env, step):
    """A worker that sends HELLO and closes (before or right after
    WELCOME) leaves placement at once: its name is free on another node,
    and jobs never land on it (old code: a close before attach.lua's answer
    left the name in Redis's workers for good; the other node's worker of
    that name was refused, and jobs placed on the ghost never ran)."""
    a = env.node("node-a", worker_ttl=TTL)
    b = env.node("node-b", worker_ttl=TTL)
    keep = env.worker(a, name="keep")
    for i in range(8):
        hello_then_close(a.sock, "ghost-%d" % i, wait_welcome=(step == "after_welcome"))
    wait_for(lambda: set(redis_workers(env)) == {"keep"}, 5 * SLOW,
             "only live workers in placement (Redis: %r)" % (redis_workers(env),))
    # the names are free: a live worker takes each on another node
    ws = [keep] + [env.worker(b, name="ghost-%d" % i) for i in range(8)]
    wait_for(lambda: pool_workers(a) == len(ws), 5, "every worker placed")
    keys = ["g-%d" % i for i in range(40)]
    for k in keys:
        dispatch(a, k)
    check_history(ws, keys)


def test_ghost_recorded_in_redis_is_removed_within_a_lease(env):
    """Whatever leaves a worker of a live node in Redis without a session
    (a bug of the future), the node's lease takes it out within one lease
    period, and the jobs placed on it run (old code: it stayed for good)."""
    a = env.node("node-a", worker_ttl=TTL)
    w = env.worker(a, name="real")
    keys = ["h-%d" % i for i in range(20)]
    for k in keys:
        dispatch(a, k)
    env.redis.cli("HSET", BASE + "workers", "phantom", "node-a")
    env.redis.cli("INCR", BASE + "epoch")
    env.redis.cli("PUBLISH", BASE + "ev", "m")
    t0 = time.monotonic()
    wait_for(lambda: "phantom" not in redis_workers(env), 3 * TTL_S,
             "the phantom worker to leave placement")
    assert time.monotonic() - t0 < 2 * TTL_S
    wait_for(lambda: "removed from placement" in a.logtext(), 2, "the log line")
    wait_for(lambda: w.running() == set(keys), 5, "every job running")
    check_history([w], keys)


# ---- one node id, one process -------------------------------------------

def test_second_pulsed_with_the_same_node_id_is_refused(env):
    """A second pulsed configured with a node id that a live one holds is
    refused with an error naming the id and the other holder; it never
    takes the other's lease, and the first keeps working. When the first
    dies, the second joins after its lease and runs the jobs (old code:
    the two took the id from each other at every lease tick, logging tens
    of thousands of lines, and every dispatch timed out)."""
    a = env.node("node-a", worker_ttl=TTL)
    wa = env.worker(a, name="wa")
    keys = ["d-%d" % i for i in range(10)]
    for k in keys:
        dispatch(a, k)
    b = env.node("node-b", worker_ttl=TTL, extra={"node": {"id": "node-a"}})
    rc, data, err = b.ctlj("dispatch", "p", "from-b", "x")
    assert rc == 1 and data["code"] == "UNAVAILABLE", (rc, data, err)
    assert "node id node-a is held by another live pulsed" in data["message"]
    wait_for(lambda: "is held by another live pulsed" in b.logtext(), 2, "B's error line")
    assert str(a.proc.pid) in b.logtext()
    # the first keeps its lease and serves, across many lease periods
    deadline = time.monotonic() + 6 * TTL_S
    while time.monotonic() < deadline:
        k = "more-%d" % len(keys)
        dispatch(a, k)
        keys.append(k)
    assert "no longer registered" not in a.logtext()
    assert b.logtext().count("is held by another live pulsed") <= 2
    # its workers are refused with the same words
    rc, data, err = b.ctlj("dispatch", "p", "from-b", "x")
    assert rc == 1 and "held by another live pulsed" in data["message"]
    # the first dies: the second joins once that lease has ended
    a.kill()
    wa.proc.wait(timeout=10)
    b.use_pool("p")
    wait_for(lambda: "is free again" in b.logtext(), 10 * TTL_S + 2,
             "node-b to join under the id once node-a's lease ended")
    wb = env.worker(b, name="wb")
    wait_for(lambda: wb.running() == set(keys), 5,
             "node-b (same id) to run every job")
    check_history([wa, wb], keys)


def test_restart_within_the_old_lease_takes_the_id_at_once(env):
    """A pulsed restarted on the same host before its old lease ran out
    (kill -9, then systemd starts it again) takes its id over at once: the
    old holder is a dead process of this host."""
    ttl = "3s"
    a = env.node("node-a", worker_ttl=ttl)
    env.worker(a, name="w1", opts=("--reattach",))
    for k in ("r-1", "r-2"):
        dispatch(a, k)
    a.kill()
    t0 = time.monotonic()
    a.start()
    rc, data, err = a.ctlj("dispatch", "p", "r-3", "x")
    assert rc == 0, (rc, data, err)
    assert time.monotonic() - t0 < 2.5 * SLOW, "waited for the old lease"
    assert "taking it over" in a.logtext()


def test_default_node_id_is_unique_per_host(env):
    """Without node.id, the id holds the host name, the machine id's first
    8 hex digits, and a hash of the socket path."""
    a = env.node("node-a", extra={"node": {"id": None}})
    a.cfg["node"].pop("id", None)
    rc, data, err = a.ctlj("status")
    assert rc == 0
    node = data["node"]
    mid = open("/etc/machine-id").read().strip()[:8]
    assert mid in node, node
    assert node.startswith(socket.gethostname().split(".")[0][:20].replace("_", "-")), node


# ---- Redis losing its data between two steps -----------------------------

T_OK, T_ERROR, T_DISPATCH, T_STOP, T_NOTIFY = 4, 3, 10, 11, 12


class Caller:
    """A raw client session, one request at a time: (code, message)."""

    def __init__(self, sock):
        self.s = raw_session(sock)
        self.s.settimeout(30 * SLOW)
        self.s.sendall(frame({"t": T_HELLO, "v": 1, "role": "client"}))
        m = read_frame(self.s)
        assert m and m["t"] == T_WELCOME, m
        self.id = 0

    def call(self, t, **fields):
        self.id += 1
        msg = {"t": t, "id": self.id, "pool": "p"}
        msg.update(fields)
        self.s.sendall(frame(msg))
        while True:
            m = read_frame(self.s)
            assert m is not None, "session closed"
            if m.get("id") == self.id:
                if m["t"] == T_OK:
                    return "OK", ""
                return m.get("code", "?"), m.get("message", "")

    def close(self):
        self.s.close()


def job_exists(env, key):
    return env.redis.cli("HEXISTS", BASE + "jobs", key) == "1"


def dispatch_under_flushes(env, caller_node, workers, seconds=8.0, callers=4,
                           every=0.3, seed=14):
    """Callers dispatch fresh keys while Redis is flushed about every
    `every` s (jittered, seeded: a flush lands anywhere in a dispatch);
    returns {key: (code, message)}."""
    import random
    rng = random.Random(seed)
    results, lock, stop = {}, threading.Lock(), threading.Event()
    errors = []

    def run(i):
        try:
            c = Caller(caller_node.sock)
            n = 0
            while not stop.is_set():
                n += 1
                key = "f%d-%d" % (i, n)
                code, msg = c.call(T_DISPATCH, key=key, payload=b"p",
                                   timeout=int(1500 * SLOW))
                with lock:
                    results[key] = (code, msg)
            c.close()
        except Exception as e:  # a failure of the test itself
            errors.append(repr(e))

    ths = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(callers)]
    for th in ths:
        th.start()
    # at least `seconds`, and on until enough dispatches met enough
    # flushes (a loaded machine dispatches slower), within a deadline
    start = time.monotonic()
    least, deadline = start + seconds * SLOW, start + 8 * seconds * SLOW
    flushes = 0
    while time.monotonic() < deadline:
        stop.wait(rng.uniform(0.5, 1.5) * every * SLOW)
        env.redis.cli("FLUSHALL")
        flushes += 1
        with lock:
            enough = flushes > 10 and len(results) > 500
        if enough and time.monotonic() >= least:
            break
    stop.set()
    for th in ths:
        th.join(timeout=60 * SLOW)
    assert not errors, errors
    assert flushes > 10 and len(results) > 500, (flushes, len(results))
    return results


def jobs_in_redis(env):
    return set(x for x in env.redis.cli("HKEYS", BASE + "jobs").split("\n") if x)


def check_answers_hold(env, results, workers):
    """Every dispatch answered OK names a job that exists and runs; no
    TIMEOUT said "exists" of a job that does not."""
    oks = set(k for k, (c, _) in results.items() if c == "OK")
    wait_for(lambda: oks <= jobs_in_redis(env), 5 * SLOW + 3 * TTL_S,
             "every job answered OK to exist (missing: %r)"
             % (sorted(oks - jobs_in_redis(env))[:10],))
    jobs = jobs_in_redis(env)
    said_exists = set(k for k, (c, m) in results.items()
                      if c == "TIMEOUT" and "exists and will run" in m)
    assert said_exists <= jobs, sorted(said_exists - jobs)
    wait_for(lambda: set().union(*(w.running() for w in workers)) == jobs_in_redis(env),
             5 * SLOW, "every existing job to run")
    check_history(workers, jobs_in_redis(env))
    return len(oks)


def test_flushes_under_local_dispatch_lose_no_answered_job(env):
    """Dispatches answered at the worker's ACK (local) while Redis is
    flushed again and again: a job answered OK exists and runs afterwards
    (old code: a flush between the ACK and started.lua made it STALE, the
    node halted it, and the job no longer existed anywhere). The TTL leaves
    room for a re-join that re-announces ~8,000 jobs (about 100 ms here):
    a node whose re-join does not land within 3/5 of the TTL fences itself
    (leased() in pool.c), as it must."""
    a = env.node("node-a", worker_ttl="600ms", ack_grace_period="750ms")
    ws = [env.worker(a, name="w%d" % i) for i in range(2)]
    results = dispatch_under_flushes(env, a, ws)
    check_answers_hold(env, results, ws)


def test_flushes_under_remote_dispatch_lose_no_answered_job(env):
    """The same with the caller on a node that runs no worker: the start
    answers go through Redis and the caller's inbox."""
    a = env.node("node-a", worker_ttl="600ms", ack_grace_period="750ms")
    b = env.node("node-b", worker_ttl="600ms", ack_grace_period="750ms")
    ws = [env.worker(b, name="w%d" % i) for i in range(2)]
    a.use_pool("p")
    wait_for(lambda: pool_workers(a) == 2, 5, "node-a to see node-b's workers")
    results = dispatch_under_flushes(env, a, ws)
    check_answers_hold(env, results, ws)


# ---- a worker hung in a handler keeps its session ------------------------

def test_worker_hung_in_a_handler_keeps_its_jobs_while_pulsed_is_healthy(env):
    """A worker hung in a start handler reads nothing; pulsed's LEASEs pile
    up in its socket. pulsed must not drop it for socket.write_timeout
    while the handler runs: its other jobs would start elsewhere while it
    still runs them (old code: dropped after ~280 LEASEs, ~6 s at a 100 ms
    TTL, and the moved job ran on two workers)."""
    a = env.node("node-a", worker_ttl="100ms", ack_grace_period="300ms",
                 extra={"socket": {"write_timeout": "200ms"}})
    w1 = env.worker(a, name="w1", opts=("--hang-start", "h-"))
    # a key that moves to w2 once it attaches
    key = next(k for k in ("a-%d" % i for i in range(100))
               if placement_ref.pick(k, ["w1", "w2"]) == "w2")
    dispatch(a, key)
    hung = threading.Thread(target=a.ctlj, args=("dispatch", "p", "h-1", "x"), daemon=True)
    hung.start()
    wait_for(lambda: owner_worker(env, "h-1") == "w1", 5, "h-1 to be admitted for w1")
    w2 = env.worker(a, name="w2")
    # longer than the old code took to drop it (its socket full of LEASEs,
    # then write_timeout): w1 keeps its session and its job all along
    until = time.monotonic() + 9 * SLOW
    while time.monotonic() < until:
        assert "peer has not read" not in a.logtext(), "hung worker dropped"
        assert key not in w2.running(), "%s started on w2 while w1 runs it" % key
        time.sleep(0.2)
    # the handler returns (the process ends): the job moves on
    w1.term()
    wait_for(lambda: key in w2.running(), 5, "the job to move to w2")
    hung.join(timeout=30)
    check_history([w1, w2], jobs_in_redis(env))


@pytest.mark.parametrize("ttl", [TTL, "5s"])
def test_flush_after_a_drain_and_undrain_keeps_every_worker_and_job(env, ttl):
    """The sequence the random generator found: a drain, workers attaching
    anonymously during it, an undrain, a detach with jobs, a few
    dispatches, then a FLUSHALL with nothing in flight. No worker session
    is cut and every running job is re-announced (old code: an attach that
    met the flushed Redis answered LOST and pulsed cut the session with
    "node is re-joining the pool", losing its jobs)."""
    a = env.node("node-a", worker_ttl=ttl)
    b = env.node("node-b", worker_ttl=ttl)
    ws = [env.worker(a, name="a-w0"), env.worker(b, name="b-w0")]
    keys = ["s-%d" % i for i in range(12)]
    for k in keys:
        dispatch(a, k)
    rc, _, err = a.ctlj("drain", "--timeout", "10")
    assert rc == 0, err
    anon = [env.worker(a), env.worker(a)]
    rc, _, err = a.ctlj("undrain")
    assert rc == 0, err
    ws += anon
    det = env.worker(b, opts=("--detach-on-sigterm",))
    wait_for(lambda: pool_workers(a) == 5 and pool_workers(b) == 5, 5, "every worker placed")
    more = ["t-%d" % i for i in range(12)]
    for k in more:
        dispatch(b, k)
    keys += more
    det.term()
    ws.append(det)
    live = [w for w in ws if w.proc.poll() is None]
    wait_for(lambda: set().union(*(w.running() for w in live)) == set(keys), 5,
             "every job running before the flush")
    env.redis.cli("FLUSHALL")
    wait_for(lambda: set(redis_workers(env)) == {w.id for w in live}, 5 * SLOW,
             "every live worker placed again (Redis: %r)" % (redis_workers(env),))
    wait_for(lambda: jobs_in_redis(env) == set(keys), 5 * SLOW, "every job re-announced")
    for n in (a, b):
        assert "node is re-joining the pool; disconnecting" not in n.logtext()
    assert all(w.proc.poll() is None for w in live), "a worker session was cut"
    check_history(ws, keys)


def test_fenced_jobs_come_back_after_a_restart_unless_a_stop_answered(env):
    """Issue 14 item 8. Redis restarts empty while node-b, cut off and
    fenced (its jobs stopped), is then SIGSTOPped past the rebuild window.
    Meanwhile node-a answers stops for two of b's keys: one JOB_NOT_FOUND
    (Redis lost it), and, after a fresh dispatch and stop of the same key,
    one OK. When b comes back and re-joins, the jobs whose stops answered
    stay gone; the others come back and run (P4). Old code re-queued every
    fenced job, so the stopped keys ran again."""
    px = env.proxy()
    a = env.node("node-a", worker_ttl=TTL)
    b = env.node("node-b", worker_ttl=TTL, redis_url=px.url())
    a.use_pool("p")
    b.use_pool("p")
    wb = env.worker(b, name="b-w0")
    keys = ["f-%d" % i for i in range(6)]
    for k in keys:
        dispatch(a, k)
    wait_for(lambda: wb.running() == set(keys), 5, "b's worker running every job")
    px.cut()
    wait_for(lambda: not wb.running(), 5 * SLOW, "b fenced itself (its jobs stopped)")
    b.proc.send_signal(signal.SIGSTOP)
    try:
        env.redis.stop()
        env.redis.start()
        px.heal()
        # a re-joins (setting the rebuild window), which then closes
        gone, stopped = keys[0], keys[1]
        deadline = time.monotonic() + 10 * SLOW
        while True:
            rc, data, err = a.ctlj("stop", "p", gone)
            if rc != 0 and "JOB_NOT_FOUND" in (err or "") + str(data):
                break
            assert time.monotonic() < deadline, (rc, data, err)
            time.sleep(0.05)
        wa = env.worker(a, name="a-w0")
        dispatch(a, stopped)
        wait_for(lambda: stopped in wa.running(), 5, "the fresh dispatch running on a")
        rc, _, err = a.ctlj("stop", "p", stopped)
        assert rc == 0, err
    finally:
        b.proc.send_signal(signal.SIGCONT)
    back = set(keys) - {gone, stopped}
    wait_for(lambda: jobs_in_redis(env) == back, 10 * SLOW,
             "b's other fenced jobs queued again (Redis: %r)" % (jobs_in_redis(env),))
    wait_for(lambda: (wa.running() | wb.running()) == back, 10 * SLOW, "every job back running")
    assert "not queued again" in b.logtext(), b.logtext()
    time.sleep(TTL_S)  # a late re-queue would show now
    assert jobs_in_redis(env) == back
    check_history([wa, wb], back)


# ---- a stop in the middle of a move -------------------------------------

@pytest.mark.parametrize("via", ["owner-node", "other-node"])
def test_stop_during_a_move_does_not_start_the_job_again(env, via):
    """Issue 14 item 6. A job moves (a worker that placement prefers for
    it attaches) and a stop arrives while the old worker is still stopping
    it for the move: the job ends without a START on the new worker (old
    code: the new worker saw START, then HALT a few ms later). The stop
    answers OK and the job no longer exists."""
    a = env.node("node-a", worker_ttl="2s")
    b = env.node("node-b", worker_ttl="2s")
    old = env.worker(a, name="old-w", opts=("--stop-delay", "400"))
    wait_for(lambda: pool_workers(a) == 1, 5, "the old worker placed")
    # keys the new worker wins from the old one
    keys = [k for k in ("mv-%d" % i for i in range(200))
            if placement_ref.pick(k, ["old-w", "new-w"]) == "new-w"][:6]
    for k in keys:
        dispatch(a, k)
    wait_for(lambda: old.running() == set(keys), 5, "the old worker running them")
    new = env.worker(a if via == "owner-node" else b, name="new-w")
    stopper = a if via == "owner-node" else b
    # the old worker answers one HALT every 400 ms: once the first move
    # ended, the others are still under way
    wait_for(lambda: any(e[0] == "stop" and e[1] in keys for e in old.events()), 5,
             "the first move's stop answered on the old worker")
    results = {}
    t_stop = time.time_ns()  # a START before this is a move that finished

    def stop(k):
        results[k] = stopper.ctlj("stop", "p", k)
    ts = [threading.Thread(target=stop, args=(k,)) for k in keys]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    for k in keys:
        rc, data, err = results[k]
        assert rc == 0, (k, rc, data, err)
    wait_for(lambda: not jobs_in_redis(env), 5, "every stopped job gone")
    # a key whose move ended (the old worker's stop answered) before the
    # stops were sent had moved for good: its START on new-w is right
    moved_before = {e[1] for e in old.events() if e[0] == "stop" and int(e[3]) < t_stop}
    started = [e for e in new.events() if e[0] == "start" and e[1] not in moved_before]
    assert not started, "the new worker started a job being stopped: %r" % started
    moved = [e for e in new.events() if e[0] == "start"]
    assert len(moved) < len(keys) - 2, "the stops came too late to test: %r" % moved
    check_history([old, new], [])


def test_undrain_right_after_a_flush_keeps_every_worker_and_job(env):
    """Issue 14 item 7, the shortest sequence found: node-a drains (its
    jobs move to node-b), Redis is flushed, and node-a undrains before its
    next lease renewal noticed the loss. The undrain attaches a's workers
    again; attach.lua meets a Redis that no longer knows the node and
    answers LOST. Old code dropped each of those sessions ("node is
    re-joining the pool"): every worker of the node was cut. Now the node
    re-joins and places them again, and b re-announces every job."""
    a = env.node("node-a", worker_ttl="5s")
    b = env.node("node-b", worker_ttl="5s")
    ws = [env.worker(a, name="a-%d" % i) for i in range(2)]
    ws += [env.worker(b, name="b-%d" % i) for i in range(2)]
    wait_for(lambda: pool_workers(a) == 4 and pool_workers(b) == 4, 5, "workers placed")
    keys = ["u-%d" % i for i in range(12)]
    for k in keys:
        dispatch(a, k)
    rc, _, err = a.ctlj("drain", "--timeout", "10")
    assert rc == 0, err
    wait_for(lambda: (ws[2].running() | ws[3].running()) == set(keys), 5,
             "every job on node-b's workers")
    env.redis.cli("FLUSHALL")
    rc, _, err = a.ctlj("undrain")
    assert rc == 0, err
    wait_for(lambda: set(redis_workers(env)) == {w.id for w in ws}, 10,
             "every worker placed again (Redis: %r)" % (redis_workers(env),))
    wait_for(lambda: jobs_in_redis(env) == set(keys), 10, "every job re-announced")
    assert "node is re-joining the pool; disconnecting" not in a.logtext()
    assert all(w.proc.poll() is None for w in ws), "a worker session was cut"
    check_history(ws, keys)


# ---- found by the ownership model (issue 15, tests/model/README.md) -----

@pytest.mark.parametrize("marker_by", ["this_pool", "another_pool"])
def test_a_pool_first_used_after_a_flush_waits_for_the_nodes_that_ran_it(env, marker_by):
    """The model's FIND_REBUILD. Redis is flushed while node-a (SIGSTOPped,
    so it has not re-joined) still runs its jobs; node-b then uses the pool
    for the first time and dispatches the same keys. node-b cannot tell a
    new pool from a lost one but Redis's marker can (join.lua): the pool
    waits one TTL, by which node-a's workers have stopped; also when a join
    of another pool wrote the marker just before (the rest of its TTL).
    Old code: a first join set no rebuild window, so node-b started each
    key at once while node-a's worker still ran it."""
    a = env.node("node-a", worker_ttl="3s")
    b = env.node("node-b", worker_ttl="3s")  # joins the pool only below
    wa = env.worker(a, name="a-w0")
    keys = ["r-%d" % i for i in range(8)]
    for k in keys:
        dispatch(a, k)
    wait_for(lambda: wa.running() == set(keys), 5, "a's worker running every job")
    a.proc.send_signal(signal.SIGSTOP)
    try:
        env.redis.cli("FLUSHALL")
        if marker_by == "another_pool":
            env.worker(b, pool="q", name="b-q0")
            wait_for(lambda: env.redis.cli("GET", "pulse:redis"), 5, "the marker written")
        wb = env.worker(b, name="b-w0")
        for k in keys:
            dispatch(b, k)
        wait_for(lambda: wb.running() == set(keys), 10 * SLOW, "b's worker running every job")
    finally:
        a.proc.send_signal(signal.SIGCONT)
    wait_for(lambda: all_running_once([wa, wb], keys), 10 * SLOW, "every job running once")
    check_history([wa, wb], keys)


def test_a_node_cut_off_while_it_rejoins_still_fences_itself(env):
    """The model's FIND_JOINING. After a flush node-a hears LOST and is cut
    off from Redis right then, so its re-join never lands (or lands with
    its answer lost); node-b, which re-joined, admits node-a's keys after
    its rebuild window (or takes them once node-a's lease ended). node-a
    must still fence itself by its old lease. Old code fenced only an active
    pool: while re-joining it went on granting its worker leases, and the
    keys ran on both nodes until node-a was back."""
    px = env.proxy()
    a = env.node("node-a", worker_ttl="2s", redis_url=px.url())
    b = env.node("node-b", worker_ttl="2s")
    wa = env.worker(a, name="a-w0")
    wb = env.worker(b, name="b-w0")
    wait_for(lambda: pool_workers(a) == 2 and pool_workers(b) == 2, 5, "workers placed")
    keys = ["c-%d" % i for i in range(16)]
    for k in keys:
        dispatch(a, k)
    wait_for(lambda: (wa.running() | wb.running()) == set(keys), 5, "every job running")
    ka = wa.running()
    assert ka, "no key landed on node-a's worker"
    px.cut_after(b"LOST")
    env.redis.cli("FLUSHALL")
    wait_for(lambda: px.cut_, 5 * SLOW, "node-a hearing LOST and losing Redis")
    wait_for(lambda: set(keys) - ka <= jobs_in_redis(env), 5 * SLOW,
             "node-b re-announcing its own jobs")
    for k in sorted(ka):
        rc, data, err = b.ctlj("dispatch", "p", k, "payload-" + k)
        # JOB_EXISTS: node-a's join reached Redis before the cut and only
        # its answer was lost; node-b takes the key once a's lease ended
        assert rc == 0 or "JOB_EXISTS" in str(err) + str(data), (k, rc, data, err)
    wait_for(lambda: wb.running() == set(keys), 10 * SLOW, "b's worker running every job")
    assert "self-fence" in a.logtext(), a.logtext()
    px.heal()
    wait_for(lambda: (a.pool_status("p") or {}).get("state") == "active", 10 * SLOW,
             "node-a active again (%r)" % (a.pool_status("p"),))
    # a's worker may have ended its session when its lease ran out right
    # after the fence; a new one gets jobs again from the re-joined node
    wa2 = env.worker(a, name="a-w1")
    wait_for(lambda: wa2.running(), 10 * SLOW, "jobs moving to node-a's new worker")
    ws = [wa, wa2, wb]
    wait_for(lambda: all_running_once(ws, keys), 10 * SLOW, "every job running once")
    check_history(ws, keys)


# ---- found by the random soak (tests/soak) --------------------------------

@pytest.mark.parametrize("op", ["stop", "move"])
def test_a_requeued_stop_is_sent_again_after_redis_lost_its_data(env, op):
    """SOAK_SEED=2204763609: a worker answers a stop with requeue (it
    still runs the job), Redis is flushed before pulsed asks again, and the
    re-join gives the job a new fence. Old code's retry timer looked the
    job up by its old fence, found none and dropped the retry: the stop
    stayed at the head of the job's queue, never sent, and the job could
    never be stopped or moved again (a leave waited for ever). Now the
    timer is the job's own."""
    a = env.node("node-a", worker_ttl="600ms", pending_job_ttl="1500ms")
    w = env.worker(a, name="a-w0", opts=["--requeue-stop-once", "--detach-on-sigterm"])
    wait_for(lambda: pool_workers(a) == 1, 5, "worker placed")
    for k in ("before-1", "before-2"):  # rq's fence is 3, its re-join's 1
        dispatch(a, k)
        rc, _, err = a.ctlj("stop", "p", k)  # requeued once: answered later
        assert rc == 0, err
    dispatch(a, "rq")
    wait_for(lambda: w.running() == {"rq"}, 5, "the job running")
    if op == "stop":
        stop = threading.Thread(target=a.ctlj, args=("stop", "p", "rq"))
        stop.start()
    else:
        w2 = env.worker(a, name="a-w1")
        w.proc.send_signal(signal.SIGTERM)  # a detach: the job moves
    wait_for(lambda: re.search(r"job requeue pool=p key=rq worker=a-w0 .*op=%s "
                               % op, a.logtext()), 5 * SLOW, "the stop requeued")
    env.redis.cli("FLUSHALL")
    wait_for(lambda: "re-announced 1 running jobs" in a.logtext(), 5 * SLOW,
             "the job re-announced")
    if op == "stop":
        wait_for(lambda: w.running() == set() and not job_exists(env, "rq"), 10 * SLOW,
                 "the stop sent again and done")
        stop.join(timeout=60)
        check_history([w], [])
    else:
        wait_for(lambda: w2.running() == {"rq"}, 10 * SLOW, "the job moved to a-w1")
        check_history([w, w2], ["rq"])


def test_a_worker_that_requeues_its_fencing_stop_stops_by_the_old_lease(env):
    """SOAK_SEED=460653994: node-a loses Redis and fences itself; its
    worker answers the fencing HALT with requeue (it still runs the jobs).
    node-b reaps node-a once its lease ended and starts the jobs. Old code
    sent that worker a fresh LEASE of half a TTL at every tick once fenced
    ("any bound will do"), so it ran the jobs on until pulsed asked again
    (pending_job_ttl later), alongside node-b's worker. Now a worker that
    still holds a job keeps the last good lease's bound and stops its jobs
    before node-a's lease ends."""
    px = env.proxy()
    a = env.node("node-a", worker_ttl="600ms", pending_job_ttl="3s", redis_url=px.url())
    b = env.node("node-b", worker_ttl="600ms")
    wa = env.worker(a, name="a-w0", opts=["--requeue-stop-once"])
    wb = env.worker(b, name="b-w0")
    wait_for(lambda: pool_workers(a) == 2 and pool_workers(b) == 2, 5, "workers placed")
    keys = ["rf-%d" % i for i in range(12)]
    for k in keys:
        dispatch(b, k)
    wait_for(lambda: (wa.running() | wb.running()) == set(keys), 5, "every job running")
    assert wa.running(), "no key landed on node-a's worker"
    px.cut()
    wait_for(lambda: wb.running() == set(keys), 10 * SLOW, "b's worker running every job")
    assert "self-fence" in a.logtext()
    check_history([wa, wb], keys)


# ---- found by the model (tests/model): find-reaped-fence ------------------

def reaped_fence_setup(env, ttl):
    """node-a (behind a proxy) runs key k on its worker; node-a is cut
    off, fences itself (its copy of k kept) and is reaped; node-b's worker
    takes k; a stop of k at node-b answers OK. k is a key that placement
    gives a-w0 over b-w0, so it stays on node-a until the cut. Returns
    (a, b, px, wa, wb, k)."""
    k = next(x for x in ("k-%d" % i for i in range(100))
             if placement_ref.pick(x, ["a-w0", "b-w0"]) == "a-w0")
    px = env.proxy()
    a = env.node("node-a", worker_ttl=ttl, redis_url=px.url())
    b = env.node("node-b", worker_ttl=ttl)
    a.use_pool("p")
    b.use_pool("p")
    wa = env.worker(a, name="a-w0")
    wait_for(lambda: pool_workers(a) == 1, 5, "a's worker placed")
    dispatch(a, k)
    wait_for(lambda: wa.running() == {k}, 5, "k running on a's worker")
    wb = env.worker(b, name="b-w0")
    wait_for(lambda: pool_workers(b) == 2, 5, "b's worker placed")
    px.cut()
    wait_for(lambda: "self-fence" in a.logtext(), 10 * SLOW, "node-a fenced itself")
    wait_for(lambda: wb.running() == {k}, 10 * SLOW, "k taken over by b's worker")
    rc, _, err = b.ctlj("stop", "p", k)
    assert rc == 0, err
    assert not job_exists(env, k)
    return a, b, px, wa, wb, k


@pytest.mark.parametrize("first", ["stopper_rejoins_first", "fenced_node_rejoins_first"])
def test_a_stop_answered_before_redis_lost_its_data_stays_answered(env, first):
    """The model's find-reaped-fence. node-a, cut off, fenced itself and
    was reaped; its key moved to node-b and a stop of it was answered OK
    there; then Redis lost its data, the stop's tombstone and the reap
    record with it. node-a comes back to an empty pool, as if Redis had
    lost its data before anyone reaped it, and re-creates the job from its
    fence. Old code then ran the stopped job again. Now node-b names the
    stops it answered when it re-joins: node-a's re-creation is refused
    (node-b re-joined first) or the waiting copy removed (node-a first: a
    copy re-created into a lost pool cannot be claimed before the rebuild
    window ends, and node-b re-joins within it)."""
    a, b, px, wa, wb, k = reaped_fence_setup(env, "2s")
    if first == "stopper_rejoins_first":
        env.redis.cli("FLUSHALL")
        wait_for(lambda: b.logtext().count("joined as node node-b") >= 2, 10 * SLOW,
                 "node-b re-joined after the loss")
        px.heal()
        wait_for(lambda: "answered as not found meanwhile: not queued again" in a.logtext(),
                 10 * SLOW, "node-a's re-join leaving k gone:\n" + a.logtext()[-3000:])
    else:
        b.proc.send_signal(signal.SIGSTOP)
        try:
            env.redis.cli("FLUSHALL")
            px.heal()
            wait_for(lambda: "when it fenced itself: queued again" in a.logtext(), 10 * SLOW,
                     "node-a re-creating k from its fence")
            assert job_exists(env, k)
        finally:
            b.proc.send_signal(signal.SIGCONT)
        wait_for(lambda: "were stopped by this node before the loss: removed again"
                 in b.logtext(), 10 * SLOW, "node-b's re-join removing the copy:\n"
                 + b.logtext()[-3000:])
    assert not job_exists(env, k)
    check_history([wa, wb], [])


def test_a_stop_older_than_a_fenced_copy_does_not_remove_it(env):
    """The other side of the rule above: node-b answered a stop of k, then
    k was dispatched again and ran on node-a, which fenced itself before
    Redis lost its data (and was not reaped): node-a's copy is the only
    one, and node-b naming its older stop must not remove it (P4)."""
    px = env.proxy()
    a = env.node("node-a", worker_ttl="2s", redis_url=px.url())
    b = env.node("node-b", worker_ttl="2s")
    a.use_pool("p")
    b.use_pool("p")
    wa = env.worker(a, name="a-w0")
    wait_for(lambda: pool_workers(b) == 1, 5, "a's worker in b's view")
    dispatch(b, "k")
    rc, _, err = b.ctlj("stop", "p", "k")
    assert rc == 0, err
    dispatch(b, "k")
    wait_for(lambda: wa.running() == {"k"}, 5, "k running again on a's worker")
    px.cut()
    env.redis.cli("FLUSHALL")
    wait_for(lambda: "self-fence" in a.logtext(), 10 * SLOW, "node-a fenced itself")
    wait_for(lambda: b.logtext().count("joined as node node-b") >= 2, 10 * SLOW,
             "node-b re-joined after the loss, naming its stop of k")
    px.heal()
    wait_for(lambda: "when it fenced itself: queued again" in a.logtext(), 10 * SLOW,
             "node-a re-creating k from its fence:\n" + a.logtext()[-3000:])
    # a-w0 may have ended its session when its lease ran out after the
    # fence: a worker of node-b takes the key then
    wb = env.worker(b, name="b-w0")
    wait_for(lambda: all_running_once([wa, wb], ["k"]), 10 * SLOW, "k running again")
    check_history([wa, wb], ["k"])
