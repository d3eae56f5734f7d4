"""The job log (issue 19 item 4): one info line per job event, and reads
that cost none.

Owns: what pulsed's log says about each job, as an operator greps it:
    job EVENT pool=P key=K worker=W node=N [more key=value fields]
(pulsed.8, JOB LOG; built by log.c's log_job). Each test runs a real
redis-server, real pulsed nodes and real worker processes, and reads the
nodes' logs.

Invariants checked:
  - a dispatch, a stop (with the local caller's uid), a move (a worker
    joins and the placement moves jobs to it; a worker detaches), and a
    requeue each cost exactly one info line on the node that ran it,
    naming pool, key, worker and node; a stop routed from another node
    says from=that node there, and the caller's node logs the caller's
    uid;
  - a key with a space, a quote, a backslash and non-ASCII bytes, and a
    handler's answer with a newline, are quoted and escaped: one record
    on one line, read back to the same bytes;
  - the reads (jobs, job, where, workers, nodes, status, tickers,
    schedules, version) cost no info line: their sessions' start and end
    are debug lines;
  - at debug level, no debug line is printed twice in a row for one event.
Nothing sleeps: every wait is a condition with a deadline.
"""
import os
import re
import signal

from harness import SLOW, check_history, frame, raw_session, read_frame, wait_for

UID = os.getuid()
T_HELLO, T_WELCOME, T_START, T_ACK = 1, 2, 20, 23
T_HALT, T_EVENT, T_LEASE = 21, 22, 25

# "2026-11-28T12:00:00.123Z LEVEL: MESSAGE"
LINE = re.compile(r"^\S+ (debug|info|warn|error): (.*)$")
ESC = {"n": b"\n", "r": b"\r", "t": b"\t", '"': b'"', "\\": b"\\"}


def record(msg):
    """The fields of a job line ("job EVENT k=v k=\"...\" ..."), values as
    bytes with log.c's escapes undone; None for any other message."""
    if not msg.startswith("job "):
        return None
    event, _, rest = msg[4:].partition(" ")
    out = {"event": event}
    i = 0
    while i < len(rest):
        eq = rest.index("=", i)
        name = rest[i:eq]
        i = eq + 1
        if i < len(rest) and rest[i] == '"':
            i += 1
            val = b""
            while rest[i] != '"':
                if rest[i] == "\\":
                    if rest[i + 1] == "x":
                        val += bytes([int(rest[i + 2:i + 4], 16)])
                        i += 4
                    else:
                        val += ESC[rest[i + 1]]
                        i += 2
                else:
                    val += rest[i].encode()
                    i += 1
            i += 1
        else:
            end = rest.find(" ", i)
            end = len(rest) if end < 0 else end
            val = rest[i:end].encode()
            i = end
        out[name] = val
        while i < len(rest) and rest[i] == " ":
            i += 1
    return out


def lines(node, since=0):
    """(level, message) of the node's log lines after offset `since`."""
    out = []
    for l in node.logtext(full=True)[since:].splitlines():
        m = LINE.match(l)
        if m:
            out.append((m.group(1), m.group(2)))
    return out


def info(node, since=0):
    return [msg for lvl, msg in lines(node, since) if lvl != "debug"]


def jobs_lines(node, since=0, event=None, level="info"):
    """The job records at `level` after `since` (of one event, if given)."""
    out = []
    for lvl, msg in lines(node, since):
        r = record(msg)
        if r and lvl == level and (event is None or r["event"] == event):
            out.append(r)
    return out


def mark(node):
    return len(node.logtext(full=True))


def one_line(n, since, event, key, **want):
    """Exactly one info job line of `event` for key after `since` in node
    n's log, with pool, worker and node; and the fields wanted."""
    rs = [r for r in jobs_lines(n, since, event) if r["key"] == key.encode()]
    assert len(rs) == 1, (event, key, info(n, since))
    r = rs[0]
    for f in ("pool", "worker", "node"):
        assert r.get(f), (f, r)
    for k, v in want.items():
        assert r.get(k) == str(v).encode(), (k, r)
    return r


def closed_debug(node):
    return len(re.findall(r" debug: session \d+: closed", node.logtext(full=True)))


def test_dispatch_stop_requeue_and_reads(env):
    a = env.node(pending_job_ttl="300ms")
    w = env.worker(a, name="w-a", opts=["--requeue-start", "rq", "--requeue-once"])
    wait_for(lambda: "worker w-a attached" in a.logtext(full=True), 5 * SLOW,
             "w-a attached")

    # a dispatch: one info line, the start
    m = mark(a)
    rc, _, err = a.ctlj("dispatch", "p", "k1", "x")
    assert rc == 0, err
    one_line(a, m, "start", "k1", pool="p", worker="w-a", node="node-a", uid=UID)
    assert len(info(a, m)) == 1, info(a, m)

    # reads cost no info line (their sessions start and end at debug)
    m = mark(a)
    before = closed_debug(a)
    reads = [("jobs", "p"), ("job", "p", "k1"), ("where", "p", "k1"),
             ("workers", "p"), ("workers",), ("nodes", "p"), ("status",),
             ("tickers", "p"), ("schedules", "p"), ("version",), ("jobs",)]
    for args in reads:
        rc, _, err = a.ctl(*args)
        assert rc == 0, (args, err)
    wait_for(lambda: closed_debug(a) >= before + len(reads), 5 * SLOW,
             "the reads' sessions ended")
    assert info(a, m) == [], info(a, m)

    # a stop from a local pulsectl: one line, with the caller's uid
    m = mark(a)
    rc, _, err = a.ctlj("stop", "p", "k1")
    assert rc == 0, err
    one_line(a, m, "stop", "k1", pool="p", worker="w-a", node="node-a", uid=UID)
    assert len(info(a, m)) == 1, info(a, m)

    # a requeued start: one requeue line, then one start once tried again
    m = mark(a)
    rc, _, err = a.ctlj("dispatch", "p", "rq1", "x")
    assert rc == 0, err
    one_line(a, m, "requeue", "rq1", pool="p", worker="w-a", node="node-a",
             op="start")
    one_line(a, m, "start", "rq1", worker="w-a")
    assert len(info(a, m)) == 2, info(a, m)

    # a stop of a key that is not there, a dispatch of a key that exists:
    # nothing changed, no info line
    m = mark(a)
    assert a.ctlj("stop", "p", "nope")[0] == 1
    assert a.ctlj("dispatch", "p", "rq1")[0] == 1
    assert info(a, m) == [], info(a, m)
    check_history([w], {"rq1"})


def test_moves_and_routed_stop(env):
    a = env.node()
    w1 = env.worker(a, name="w-a", opts=["--detach-on-sigterm"])
    wait_for(lambda: "worker w-a attached" in a.logtext(full=True), 5 * SLOW,
             "w-a attached")
    keys = ["m%02d" % i for i in range(16)]
    for k in keys:
        assert a.ctlj("dispatch", "p", k)[0] == 0

    # a worker joins: the placement moves about half of the jobs to it,
    # each with one move line (the old worker) and one start (the new)
    m = mark(a)
    w2 = env.worker(a, name="w-b")

    def moved():
        got = {r["key"].decode() for r in jobs_lines(a, m, "move")}
        return got and got == w2.running() and got == {
            r["key"].decode() for r in jobs_lines(a, m, "start")}
    wait_for(moved, 10 * SLOW, "the rebalance to w-b logged")
    on_b = w2.running()
    for k in on_b:
        one_line(a, m, "move", k, worker="w-a", node="node-a", reason="rebalance")
        one_line(a, m, "start", k, worker="w-b", node="node-a")
    assert 0 < len(on_b) < len(keys)

    # the first worker detaches: each of its jobs moves once, to w-b
    on_a = set(keys) - on_b
    m = mark(a)
    w1.proc.send_signal(signal.SIGTERM)
    wait_for(lambda: w2.running() == set(keys), 10 * SLOW, "w-a's jobs on w-b")
    wait_for(lambda: len(jobs_lines(a, m, "start")) == len(on_a), 5 * SLOW,
             "the starts logged")
    for k in on_a:
        one_line(a, m, "move", k, worker="w-a", node="node-a", reason="detach")
        one_line(a, m, "start", k, worker="w-b", node="node-a")

    # a stop from another node: the owner's node says where it came from,
    # the caller's node who asked
    b = env.node("node-b")
    b.use_pool("p")
    ma, mb = mark(a), mark(b)
    rc, _, err = b.ctlj("stop", "p", "m00")
    assert rc == 0, err
    wait_for(lambda: jobs_lines(a, ma, "stop"), 5 * SLOW, "the stop logged")
    one_line(a, ma, "stop", "m00", worker="w-b", node="node-a", **{"from": "node-b"})
    one_line(b, mb, "routed", "m00", node="node-b", uid=UID, op="stop")
    assert len(info(a, ma)) == 1 and len(info(b, mb)) == 1, (info(a, ma), info(b, mb))
    check_history([w1, w2], set(keys) - {"m00"})


def test_odd_bytes_stay_on_one_line(env):
    a = env.node()
    w = env.worker(a, name="w-a")
    wait_for(lambda: "worker w-a attached" in a.logtext(full=True), 5 * SLOW,
             "w-a attached")
    key = 'a b"c\\d=\u00e9'
    m = mark(a)
    rc, _, err = a.ctlj("dispatch", "p", key)
    assert rc == 0, err
    r = one_line(a, m, "start", key, worker="w-a")
    assert r["key"] == key.encode()
    raw = [l for l in a.logtext(full=True)[m:].splitlines() if "job start" in l]
    assert raw == ['%s info: job start pool=p key="a b\\"c\\\\d=\\xc3\\xa9" worker=w-a '
                   'node=node-a uid=%d' % (raw[0].split(" ")[0], UID)], raw
    # a key cannot hold a newline (nor any control byte): refused as INVALID
    rc, data, _ = a.ctlj("dispatch", "p", "x\ny")
    assert rc == 1 and data["code"] == "INVALID", data
    assert a.ctlj("stop", "p", key)[0] == 0
    one_line(a, m, "stop", key, worker="w-a", uid=UID)

    # a handler's answer can: a worker that refuses a start with one
    s = raw_session(a.sock)
    s.sendall(frame({"t": T_HELLO, "v": 1, "role": "worker", "pool": "q",
                     "name": "rw"}))
    assert read_frame(s)["t"] == T_WELCOME
    m = mark(a)
    why = 'no\nway "x"\t\x01'
    import threading
    res = []
    t = threading.Thread(target=lambda: res.append(a.ctlj("dispatch", "q", "r1")))
    t.start()
    while True:
        f = read_frame(s)
        assert f is not None
        if f["t"] == T_START:
            s.sendall(frame({"t": T_ACK, "id": f["id"], "r": 1, "msg": why}))
            break
    t.join(30 * SLOW)
    assert res and res[0][0] == 1 and res[0][1]["code"] == "HANDLER", res
    r = one_line(a, m, "refused", "r1", pool="q", worker="rw", node="node-a", uid=UID)
    assert r["error"] == why.encode(), r
    refused = [l for l in a.logtext(full=True)[m:].splitlines() if "job refused" in l]
    assert len(refused) == 1 and 'error="no\\nway \\"x\\"\\t\\x01"' in refused[0], refused
    s.close()
    check_history([w], set())


def test_no_debug_line_twice(env):
    """A scenario at debug level (the harness's default): no debug line
    follows an identical one (the same event logged by a callback and
    its caller, or by two loads of one view)."""
    a = env.node()
    assert a.cfg["log"]["level"] == "debug"
    w1 = env.worker(a, name="w-a")
    wait_for(lambda: "worker w-a attached" in a.logtext(full=True), 5 * SLOW,
             "w-a attached")
    for k in ("d1", "d2", "d3", "d4"):
        assert a.ctlj("dispatch", "p", k)[0] == 0
    a.ctl("jobs", "p")
    a.ctl("status")
    w2 = env.worker(a, name="w-b")
    wait_for(lambda: "worker w-b attached" in a.logtext(full=True), 5 * SLOW,
             "w-b attached")
    assert a.ctlj("stop", "p", "nope")[0] == 1
    w1.proc.kill()
    wait_for(lambda: w2.running() == {"d1", "d2", "d3", "d4"}, 10 * SLOW,
             "every job on w-b")
    assert a.ctlj("stop", "p", "d1")[0] == 0
    text = lines(a)
    assert any(lvl == "debug" for lvl, _ in text)
    assert any(msg.startswith("pool p: epoch") for _, msg in text)
    for (l1, m1), (l2, m2) in zip(text, text[1:]):
        assert not (l1 == l2 == "debug" and m1 == m2), "twice: %s" % m1
    # and each epoch of the view is logged once
    epochs = [msg for _, msg in text if msg.startswith("pool p: epoch")]
    assert len(epochs) == len(set(epochs)), epochs
