"""Handlers slower than the lease (issue 14, item 2).

libpulse-client runs a worker's handlers in its own loop, so while a start,
stop or notify handler runs nothing is read from the socket and pulsed's
LEASE frames wait there. The library must read them before it judges its
lease (else it fences itself although pulsed is healthy), and when it does
fence itself it must have run its stop handlers before pulsed can see the
session end (else pulsed hands the jobs on while they still run here).
PROTOCOL.md 6.5 and libpulse-client(3) give the time budget of a handler.

The matrix runs start, stop and notify handlers of 0.5, 1 and 3 worker
TTLs while jobs move between workers: a second worker attaches, the first
detaches, or a pulsed is frozen (SIGSTOP) and thawed. A healthy pulsed
never loses a worker's session to a slow handler: each slow worker keeps
its session to the end, no job is lost, and the history checker finds no
two run intervals of one key overlapping. Three tests against a fake
pulsed (a socket server in this file) pin down the library's side exactly:
leases that waited behind a slow handler count, a worker that fences
itself closes its socket only after its stop handlers ran, and frames that
came in with the WELCOME are not left unhandled.

The real-pulsed tests wait for exactly the placement they expect (asked
of pulsed beforehand), and a slow worker that lost its session fails them
at once.
"""
import os
import select
import signal
import socket
import threading
import time

import pytest

from harness import running_on, SLOW, check_history, frame, intervals, read_frame, wait_for

TTL_MS = 300                       # env.node stretches it by SLOW
TTL_S = TTL_MS / 1000.0            # unscaled: wait_for stretches timeouts
FACTORS = [0.5, 1, 3]
KINDS = ["start", "stop", "notify"]

def keys_for(env, node, wids, per=2, prefix="slow"):
    """`per` keys that placement puts on each of wids when all of them are
    live: key -> worker id. Asked of pulsed itself (WHERE of keys with no
    job) in a pool of its own, "probe", with stand-in workers of the same
    ids: placement is a function of the key and the worker ids alone
    (REDIS.md, "Placement"), whatever the pool."""
    probes = [env.worker(node, pool="probe", name=w) for w in wids]
    wait_for(lambda: node.pool_status("probe") and
             node.pool_status("probe")["workers_pool"] == len(wids),
             5, "the probe workers")
    out, have = {}, {w: 0 for w in wids}
    i = 0
    while any(n < per for n in have.values()):
        k = "%s-%d" % (prefix, i)
        rc, data, err = node.ctlj("where", "probe", k)
        assert rc == 0, err
        (row,) = data["where"]
        w = row["worker"]
        if have[w] < per:
            have[w] += 1
            out[k] = w
        i += 1
    for w in probes:
        w.kill()
    return out


def delay_ms(factor):
    return int(factor * TTL_MS * SLOW)


def slow_opts(kind, factor):
    """The slow handler; starts and notifies also get a stop of a third of
    the TTL, as in the report (a start of 250 ms and a stop of 100 ms at a
    300 ms TTL): the stop that a worker runs when it fences itself."""
    opts = ["--%s-delay" % kind, str(delay_ms(factor))]
    if kind != "stop":
        opts += ["--stop-delay", str(delay_ms(1 / 3))]
    return opts


def budget(factor, events=12):
    """Seconds (unscaled) for `events` slow handler calls in a row, plus
    the moves' own time."""
    return 10 + events * factor * TTL_S


def two_nodes(env):
    # dispatches must not time out (2 x ack grace) behind a 3 x TTL start
    ack = "%dms" % (TTL_MS * 3 * 4 * SLOW)
    ns = [env.node("node-%s" % c, worker_ttl="%dms" % TTL_MS, ack_grace_period=ack)
          for c in "ab"]
    for n in ns:
        n.use_pool("p")  # a node joins a pool when it is first used
    return ns


def see_workers(nodes, n):
    wait_for(lambda: all(x.pool_status("p") and x.pool_status("p")["workers_pool"] == n
                         for x in nodes), 5, "every node to see %d workers" % n)


def attached(*ws):
    """Every one of ws still runs its first session: testworker without
    --reattach exits as soon as its session ends, saying why."""
    for w in ws:
        rc = w.proc.poll()
        assert rc is None, "worker %s lost its session (exit %s): %s" % (
            w.id, rc, w.proc.stderr.read())
    return True


def running(ws):
    return running_on(ws)


def placed(ws, want, keep=()):
    """Every key of want runs on exactly its worker, and nothing else runs;
    raises at once when a worker of keep lost its session."""
    attached(*keep)
    r = running(ws)
    return set(r) == set(want) and all(r[k] == [w] for k, w in want.items())


def dispatch_all(node, keys):
    for k in keys:
        rc, _, err = node.ctlj("dispatch", "p", k, "payload-" + k)
        assert rc == 0, (k, err)


class Notifier:
    """Notifies the keys one after the other, round and round, from its own
    thread while the block runs (only when on); every answer must be OK."""

    def __init__(self, node, keys, on=True):
        self.node, self.keys, self.on = node, sorted(keys), on
        self.done = threading.Event()
        self.results = []

    def _run(self):
        i = 0
        while not self.done.is_set():
            k = self.keys[i % len(self.keys)]
            rc, data, err = self.node.ctlj("notify", "p", k, "n%d" % i)
            self.results.append((k, rc, err))
            i += 1

    def __enter__(self):
        if self.on:
            self.t = threading.Thread(target=self._run, daemon=True)
            self.t.start()
        return self

    def __exit__(self, *exc):
        if self.on:
            self.done.set()
            self.t.join(timeout=60 * SLOW)
        return False

    def check(self):
        if self.on:
            assert self.results, "no notification was sent"
            bad = [r for r in self.results if r[1] != 0]
            assert not bad, bad


def notified(ws):
    return sum(w.count_of("notify") for w in ws)


def ttl_id(factor):
    return "%gttl" % factor


@pytest.mark.parametrize("factor", FACTORS, ids=ttl_id)
@pytest.mark.parametrize("kind", KINDS)
def test_slow_handler_while_a_worker_joins(env, kind, factor):
    """A slow worker runs every job; a second one attaches and takes its
    share (stop on the first, then start on the second), with slow
    notifications going on throughout for the notify handler."""
    a, b = two_nodes(env)
    want = keys_for(env, a, ["slow-a", "slow-b"])
    wa = env.worker(a, name="slow-a", opts=slow_opts(kind, factor))
    see_workers([a, b], 1)
    dispatch_all(a, want)
    assert placed([wa], {k: "slow-a" for k in want}, keep=[wa])
    with Notifier(b, want, on=kind == "notify") as nt:
        if nt.on:
            wait_for(lambda: attached(wa) and notified([wa]) >= 2, budget(factor),
                     "slow notifications before the join")
        wb = env.worker(b, name="slow-b", opts=slow_opts(kind, factor))
        ws = [wa, wb]
        wait_for(lambda: placed(ws, want, keep=ws), budget(factor),
                 "the newcomer's share to move to it")
        if nt.on:
            seen = notified([wb])
            wait_for(lambda: attached(*ws) and notified([wb]) > seen, budget(factor),
                     "a slow notification at the newcomer")
    nt.check()
    attached(*ws)
    check_history(ws, want)


@pytest.mark.parametrize("factor", FACTORS, ids=ttl_id)
@pytest.mark.parametrize("kind", KINDS)
def test_slow_handler_while_a_worker_detaches(env, kind, factor):
    """Two slow workers share the jobs; the first detaches (its jobs are
    stopped there, then started on the second)."""
    a, b = two_nodes(env)
    want = keys_for(env, a, ["slow-a", "slow-b"])
    wa = env.worker(a, name="slow-a", opts=slow_opts(kind, factor) + ["--detach-on-sigterm"])
    wb = env.worker(b, name="slow-b", opts=slow_opts(kind, factor))
    ws = [wa, wb]
    see_workers([a, b], 2)
    dispatch_all(a, want)
    assert placed(ws, want, keep=ws)
    with Notifier(b, want, on=kind == "notify") as nt:
        if nt.on:
            wait_for(lambda: attached(*ws) and notified([wa]) >= 1 and notified([wb]) >= 1,
                     budget(factor), "slow notifications on both workers")
        assert wa.term(timeout=budget(factor)) == 0
        err = wa.proc.stderr.read()
        assert "detach" not in err and "session ended" not in err, err
        wait_for(lambda: placed(ws, {k: "slow-b" for k in want}, keep=[wb]),
                 budget(factor), "the detached worker's jobs on the other one")
    nt.check()
    attached(wb)
    check_history(ws, want)


@pytest.mark.parametrize("factor", FACTORS, ids=ttl_id)
@pytest.mark.parametrize("kind", KINDS)
def test_slow_handler_while_a_pulsed_is_frozen(env, kind, factor):
    """A pulsed is frozen (SIGSTOP): its worker fences itself when its
    lease runs out, the other node takes the jobs after the frozen node's
    lease ended, and its slow worker starts them (and is notified); then
    the node thaws, its worker attaches again and takes its keys back (the
    slow worker stops them). The slow handlers run where pulsed is
    healthy: the frozen node's worker is a plain one, which stops its jobs
    well within the budget of PROTOCOL.md 6.5."""
    a, b = two_nodes(env)
    want = keys_for(env, a, ["plain-a", "slow-b"])
    wa = env.worker(a, name="plain-a", opts=["--reattach"])
    wb = env.worker(b, name="slow-b", opts=slow_opts(kind, factor))
    ws = [wa, wb]
    see_workers([a, b], 2)
    dispatch_all(b, want)
    assert placed(ws, want, keep=[wb])
    a.proc.send_signal(signal.SIGSTOP)
    try:
        wait_for(lambda: placed(ws, {k: "slow-b" for k in want}, keep=[wb]),
                 budget(factor) + 4 * TTL_S, "the frozen node's jobs on the other node")
        if kind == "notify":
            for k in sorted(want):
                rc, _, err = b.ctlj("notify", "p", k, "while-frozen")
                assert rc == 0, (k, err)
            attached(wb)
    finally:
        a.proc.send_signal(signal.SIGCONT)
    with Notifier(b, want, on=kind == "notify") as nt:
        wait_for(lambda: placed(ws, want, keep=[wb]), budget(factor) + 10,
                 "the thawed node's worker to take its keys back")
    nt.check()
    attached(wb)
    check_history(ws, want)


# ---- against a fake pulsed: the library's side, exactly ---------------------

class FakePulsed:
    """One worker session served by hand from a thread: WELCOME (or what
    `welcome(sock)` writes), then `script(sock)` once the test called go()
    (with go=True at once); records when the worker closed its end."""

    def __init__(self, tmp, script, go=False, welcome=None):
        self.path = os.path.join(tmp, "fake.sock")
        self.lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.lsock.bind(self.path)
        self.lsock.listen(1)
        self.script = script
        self.welcome = welcome or (lambda s: s.sendall(
            frame({"t": 2, "v": 1, "node": "fake", "worker": "fw"})))
        self.eof_ns = None
        self.error = None
        self.sock = self.path  # what harness.Worker reads from a node
        self.started = threading.Event()
        if go:
            self.started.set()
        self.t = threading.Thread(target=self._serve, daemon=True)
        self.t.start()

    def _serve(self):
        try:
            s, _ = self.lsock.accept()
            s.settimeout(30 * SLOW)
            hello = read_frame(s)
            assert hello["t"] == 1 and hello["role"] == "worker", hello
            self.welcome(s)
            assert self.started.wait(30 * SLOW), "go() was never called"
            self.script(s)
            while read_frame(s) is not None:  # until the worker closes
                pass
            self.eof_ns = time.time_ns()
        except Exception as e:  # reported by the test
            self.error = e

    def go(self):
        self.started.set()

    def wait_closed(self, timeout):
        self.t.join(timeout=timeout * SLOW)
        assert self.error is None, self.error
        assert self.eof_ns is not None, "the worker never closed its socket"
        return self.eof_ns

    def close(self):
        self.lsock.close()


def expect_ack(s, eid):
    m = read_frame(s)
    assert m is not None and m["t"] == 23 and m["id"] == eid and m["r"] == 0, m


def test_fence_closes_the_socket_after_the_stop_handlers(env):
    """pulsed stops renewing: the worker fences itself. pulsed hands the
    jobs on as soon as it sees the session end, so every stop handler must
    have answered before the socket closes."""
    stop_ms = int(100 * SLOW)

    def script(s):
        s.sendall(frame({"t": 25, "timeout": int(200 * SLOW)}))
        for eid, k in ((1, "k1"), (2, "k2"), (3, "k3")):
            s.sendall(frame({"t": 20, "id": eid, "key": k, "payload": b""}))
            expect_ack(s, eid)
        # and then nothing: a frozen pulsed

    fake = FakePulsed(env.tmp, script)
    try:
        w = env.worker(fake, name="fw", opts=["--stop-delay", str(stop_ms)])
        fake.go()
        eof = fake.wait_closed(10)
        assert w.proc.wait(timeout=10 * SLOW) == 1  # its session ended
        runs = intervals([w])
        assert sorted(runs) == ["k1", "k2", "k3"], runs
        for k, iv in runs.items():
            assert len(iv) == 1 and iv[0][1] is not None, (k, iv)
            assert iv[0][1] <= eof, "%s stopped %.1f ms after the socket closed" % (
                k, (iv[0][1] - eof) / 1e6)
        assert "lease" in w.proc.stderr.read()
    finally:
        fake.close()


def test_leases_that_waited_behind_a_slow_start_count(env):
    """A start handler three leases long: pulsed's LEASE frames pile up
    unread meanwhile. The worker reads them before it judges its lease,
    keeps its session as long as they come, and fences itself (stops,
    then closes) only once they stop."""
    lease_ms = int(150 * SLOW)
    every = lease_ms / 3000.0
    sent = {}

    def lease(s):
        try:
            s.sendall(frame({"t": 25, "timeout": lease_ms}))
        except OSError as e:
            raise AssertionError("the worker closed its session while pulsed "
                                 "still renewed its lease (%s)" % e)
        sent["last"] = time.time_ns()

    def script(s):
        lease(s)
        s.sendall(frame({"t": 20, "id": 1, "key": "slow", "payload": b""}))
        # LEASEs go on while the start runs (they wait in the socket)...
        while not select.select([s], [], [], every)[0]:
            lease(s)
        expect_ack(s, 1)
        # ... and for four more lease times after it, then stop
        until = time.monotonic() + 4 * lease_ms / 1000.0
        while time.monotonic() < until:
            if select.select([s], [], [], every)[0]:
                raise AssertionError("the worker closed its session while "
                                     "pulsed still renewed its lease")
            lease(s)

    fake = FakePulsed(env.tmp, script)
    try:
        w = env.worker(fake, name="fw", opts=["--start-delay", str(3 * lease_ms)])
        fake.go()
        eof = fake.wait_closed(10)
        assert w.proc.wait(timeout=10 * SLOW) == 1
        assert eof > sent["last"], "the worker closed while pulsed still renewed its lease"
        late = (eof - sent["last"]) / 1e6
        assert late < lease_ms + 100 * SLOW, "fenced %.0f ms after the last lease" % late
        runs = intervals([w])["slow"]
        assert len(runs) == 1 and runs[0][1] is not None and runs[0][1] <= eof, runs
        assert runs[0][1] > sent["last"], "the job stopped before its lease ran out"
    finally:
        fake.close()


def test_frames_that_came_with_the_welcome_are_handled(env):
    """pulsed writes its first LEASE (and may write a START) right behind
    the WELCOME, so the handshake's read can take them in: the library must
    not leave them in its buffer while the caller waits on a quiet fd."""
    def script(s):
        expect_ack(s, 1)

    def first(s):
        s.sendall(frame({"t": 2, "v": 1, "node": "fake", "worker": "fw"}) +
                  frame({"t": 25, "timeout": 60000}) +
                  frame({"t": 20, "id": 1, "key": "k1", "payload": b""}))

    fake = FakePulsed(env.tmp, script, go=True, welcome=first)
    try:
        w = env.worker(fake, name="fw")
        wait_for(lambda: w.running() == {"k1"}, 5, "the START that came with the WELCOME")
        w.proc.kill()
        fake.wait_closed(10)
    finally:
        fake.close()
