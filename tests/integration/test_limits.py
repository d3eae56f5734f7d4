"""Limits known to both sides (issue 17 item 2).

pulsed announces its frame cap in WELCOME (max_body) and libpulse-client
follows it, up to PULSE_HARD_MAX_BODY; a peer says what it takes in its
HELLO (max_body; the protocol's default, 1 MiB + 64 KiB, when it says
nothing). A frame a worker cannot take is never sent to it: the job (or
the notification) fails with TOO_LARGE to its caller, with a log line, and
no session dies for it. Before, one 2 MB dispatch with max_payload at
4 MiB killed every C worker of the pool as it attached, in a loop, logged
only as "gone with 1 jobs".
"""
import subprocess
import time

from harness import PULSED, SLOW, check_history, frame, raw_session, read_frame, wait_for
from test_pyworker import PyWorker

MIB = 1024 * 1024
BIG = {"limits": {"max_payload": 4 * MIB, "max_peer_buffer": 16 * MIB}}
T_HELLO, T_WELCOME = 1, 2


def welcome(node, hello):
    s = raw_session(node.sock)
    try:
        s.sendall(frame(hello))
        return read_frame(s)
    finally:
        s.close()


def test_welcome_announces_the_frame_cap(env):
    n = env.node(extra=BIG)
    w = welcome(n, {"t": T_HELLO, "v": 1, "role": "client"})
    assert w["t"] == T_WELCOME and w["max_body"] == 4 * MIB + 65536, w
    n2 = env.node("node-b")
    w = welcome(n2, {"t": T_HELLO, "v": 1, "role": "client", "max_body": 99})
    assert w["max_body"] == MIB + 65536, w


def test_a_large_payload_reaches_a_c_worker_that_follows_welcome(env):
    """The C library takes pulsed's frames up to its WELCOME's cap: a 2 MB
    job starts, a 3 MB notification arrives, and pulsectl sends both."""
    n = env.node(extra=BIG)
    w = env.worker(n, name="c-w0")
    payload = "x" * (2 * MIB)
    rc, data, err = n.ctlj("dispatch", "p", "big", "-", input=payload)
    assert rc == 0, err
    assert w.running() == {"big"}
    rc, out, err = n.ctl("job", "p", "big")
    assert rc == 0 and len(out) == 2 * MIB, (rc, len(out), err)
    rc, data, err = n.ctlj("notify", "p", "big", "-", input="y" * (3 * MIB))
    assert rc == 0, err
    notes = [e for e in w.events() if e[0] == "notify"]
    assert len(notes) == 1 and len(notes[0][4]) == 3 * MIB
    # over pulsed's own cap: refused by the library before it is sent
    rc, data, err = n.ctlj("dispatch", "p", "huge", "-", input="z" * (4 * MIB + 1))
    assert rc != 0 and data["code"] == "TOO_LARGE", (rc, data, err)
    assert "max_payload" in data["message"]
    assert w.proc.poll() is None
    check_history([w], {"big"})


def test_a_frame_a_worker_cannot_take_fails_the_job_not_the_session(env):
    """pyworker.py (written from PROTOCOL.md) announces no max_body: pulsed
    sends it nothing over the protocol's default. A 2 MB dispatch answers
    TOO_LARGE naming the worker, the job does not exist afterwards, a
    2 MB notification of a running job answers TOO_LARGE too, and the
    worker's session lives on and runs the next jobs."""
    n = env.node(extra=BIG)
    w = PyWorker(env, n, name="py-w0")
    rc, data, err = n.ctlj("dispatch", "p", "small", "hello")
    assert rc == 0, err
    rc, data, err = n.ctlj("dispatch", "p", "big", "-", input="x" * (2 * MIB))
    assert rc != 0 and data["code"] == "TOO_LARGE", (rc, data, err)
    assert "py-w0" in data["message"] and "max_body" in data["message"], data
    rc, data, _ = n.ctlj("job", "p", "big")
    assert rc == 1 and data["code"] == "JOB_NOT_FOUND", data
    rc, data, err = n.ctlj("notify", "p", "small", "-", input="y" * (2 * MIB))
    assert rc != 0 and data["code"] == "TOO_LARGE", (rc, data, err)
    # a notification that fits still arrives: the session is the same one
    rc, data, err = n.ctlj("notify", "p", "small", "ping")
    assert rc == 0, err
    rc, data, err = n.ctlj("dispatch", "p", "after", "ok")
    assert rc == 0, err
    assert w.proc.poll() is None and w.running() == {"small", "after"}
    log = n.logtext()
    assert "start of big failed" in log and "notification of small failed" in log, log
    assert "gone with" not in log, log
    check_history([w], {"small", "after"})


def test_a_job_too_large_for_the_worker_it_moves_to_ends_with_a_log_line(env):
    """A 2 MB job runs on a C worker; that worker detaches and the only
    one left is pyworker.py, which cannot take the START: the job ends
    (there is no worker it could reach), logged, and the Python worker's
    session lives on."""
    n = env.node(extra=BIG)
    c = env.worker(n, name="c-w0", opts=["--detach-on-sigterm"])
    rc, data, err = n.ctlj("dispatch", "p", "big", "-", input="x" * (2 * MIB))
    assert rc == 0, err
    py = PyWorker(env, n, name="py-w0")
    wait_for(lambda: (n.pool_status("p") or {}).get("workers_pool") == 2, 5, "both placed")
    assert c.term() == 0
    wait_for(lambda: "start of big failed" in n.logtext(), 10 * SLOW,
             "the start on the Python worker refused")
    rc, data, _ = n.ctlj("job", "p", "big")
    assert rc == 1 and data["code"] == "JOB_NOT_FOUND", data
    rc, data, err = n.ctlj("dispatch", "p", "next", "ok")
    assert rc == 0, err
    assert py.proc.poll() is None and py.running() == {"next"}
    check_history([c, py], {"next"})


def pulsed_check(cfg):
    r = subprocess.run([PULSED, "-n", "-c", str(cfg)], capture_output=True, text=True)
    return r.returncode, r.stdout, r.stderr


def test_a_payload_limit_past_what_frames_carry_is_refused(tmp_path):
    cfg = tmp_path / "big.json"
    conf = '{"redis": {"url": "redis://127.0.0.1:1"}, ' \
           '"limits": {"max_payload": %d, "max_peer_buffer": %d}}'
    cfg.write_text(conf % (64 * MIB + 1, 128 * MIB))
    rc, out, err = pulsed_check(cfg)
    assert rc == 1 and "limits.max_payload: must be from 1 to 67108864" in err, (rc, out, err)
    assert "libpulse-client" in err
    cfg.write_text(conf % (64 * MIB, 128 * MIB))
    rc, out, err = pulsed_check(cfg)
    assert "max_payload" not in err, (rc, out, err)


# ---- pools exist because someone uses them (issue 17 item 3) -------------

def pool_names(node):
    return sorted(p["name"] for p in node.status()["pools"])


def redis_keys(env, pool):
    return sorted(k for k in env.redis.cli("KEYS", "pulse:{%s}:*" % pool).split("\n") if k)


def test_reads_of_pools_nobody_uses_join_nothing(env):
    """JOBS, JOB, WHERE, NODES, WORKERS, TICKERS and a LEAVE naming pools
    this node never joined answer from Redis (empty, not found, no worker)
    and join nothing: no pool in status, no key in Redis. Before, each
    joined its pool: 10,000 names grew pulsed tenfold and left 40,000 keys
    in Redis after it stopped."""
    n = env.node()
    before = env.redis.cli("DBSIZE")
    for i in range(50):
        name = "nobody-%d" % i
        rc, data, err = n.ctlj("jobs", name)
        assert rc == 0 and data["jobs"] == [], (rc, data, err)
        rc, data, _ = n.ctlj("job", name, "k")
        assert rc == 1 and data["code"] == "JOB_NOT_FOUND", data
        rc, data, _ = n.ctlj("where", name, "k")
        assert rc == 1 and data["code"] == "UNAVAILABLE" and "no worker" in data["message"], data
        rc, data, err = n.ctlj("nodes", name)
        assert rc == 0 and data["nodes"] == [], (data, err)
        rc, data, err = n.ctlj("workers", name)
        assert rc == 0 and data["workers"] == [], (data, err)
        rc, data, err = n.ctlj("tickers", name)
        assert rc == 0 and data["tickers"] == [], (data, err)
        rc, data, _ = n.ctlj("leave", name)
        assert rc == 1 and data["code"] == "INVALID" and "not in pool" in data["message"], data
    assert pool_names(n) == []
    assert env.redis.cli("DBSIZE") == before
    assert "joined as node" not in n.logtext()


def test_a_pool_joined_elsewhere_is_read_without_joining(env):
    """node-b never used pool p: its views of p read Redis (the jobs, the
    owner, the placement of a key that waits, the nodes and workers) and
    node-b does not join p."""
    a = env.node("node-a")
    b = env.node("node-b")
    w = env.worker(a, name="a-w0")
    for k in ("k1", "k2"):
        rc, _, err = a.ctlj("dispatch", "p", k, "x")
        assert rc == 0, err
    rc, data, err = b.ctlj("jobs", "p")
    assert rc == 0 and sorted(r["key"] for r in data["jobs"]) == ["k1", "k2"], (data, err)
    rc, data, err = b.ctlj("where", "p", "k1")
    assert rc == 0 and data["where"] == [{"worker": "a-w0", "node": "node-a", "owned": True}], data
    rc, data, err = b.ctlj("where", "p", "not-yet")
    assert rc == 0 and data["where"] == [{"worker": "a-w0", "node": "node-a", "owned": False}], data
    rc, data, err = b.ctlj("nodes", "p")
    assert rc == 0 and [(x["node"], x["workers"]) for x in data["nodes"]] == [("node-a", 1)], data
    assert data["nodes"][0]["lease_ms"] > 0, data
    rc, data, err = b.ctlj("workers", "p")
    assert rc == 0 and [(x["id"], x["jobs"]) for x in data["workers"]] == [("a-w0", 2)], data
    rc, data, err = b.ctlj("jobs", "p", "--worker", "a-w0")
    assert rc == 0 and sorted(r["key"] for r in data["jobs"]) == ["k1", "k2"], (data, err)
    assert pool_names(b) == [] and "joined as node" not in b.logtext()
    check_history([w], {"k1", "k2"})


def test_a_pool_no_longer_used_is_left_and_leaves_no_key(env):
    """limits.pool_idle: once nothing here uses a pool (no worker, job,
    clock or request) for that long, the node leaves it; the last node
    gone with no job left, Redis keeps no key of it. Used again, it is
    joined again and works at once."""
    n = env.node(extra={"limits": {"pool_idle": "1s"}}, worker_ttl="400ms")
    w = env.worker(n, pool="once", name="w0", opts=["--detach-on-sigterm"])
    rc, _, err = n.ctlj("dispatch", "once", "k", "x")
    assert rc == 0, err
    rc, _, err = n.ctlj("stop", "once", "k")
    assert rc == 0, err
    assert redis_keys(env, "once")
    assert w.term() == 0
    wait_for(lambda: "pool once: left after" in n.logtext(), 10 * SLOW, "the idle pool left")
    wait_for(lambda: redis_keys(env, "once") == [], 5 * SLOW,
             "no key of pool once (%r)" % (redis_keys(env, "once"),))
    assert [p["state"] for p in n.status()["pools"] if p["name"] == "once"] == ["left"]
    w2 = env.worker(n, pool="once", name="w1")
    rc, _, err = n.ctlj("dispatch", "once", "k2", "x", timeout=10)
    assert rc == 0, err
    assert w2.running() == {"k2"}
    check_history([w, w2], {"k2"})


def test_a_pool_in_use_is_not_left(env):
    """A worker attached (and so a lease held) keeps the pool, however
    long nothing is dispatched. (An absence: watched for over twice the
    idle time, through the node's own pool status.)"""
    n = env.node(extra={"limits": {"pool_idle": "1s"}}, worker_ttl="400ms")
    w = env.worker(n, pool="kept", name="w0")
    until = time.monotonic() + 2.5 * SLOW
    while time.monotonic() < until:
        (st,) = [p for p in n.status()["pools"] if p["name"] == "kept"]
        assert st["state"] == "active", st
        time.sleep(0.1)
    assert "pool kept: left" not in n.logtext()
    assert w.proc.poll() is None


def test_max_pools_bounds_the_pools_one_pulsed_joins(env):
    """limits.max_pools: past it, a request or a worker naming a new pool
    gets BUSY saying which limit, logged; a pool left frees its place."""
    n = env.node(extra={"limits": {"max_pools": 2, "pool_idle": "1s"}}, worker_ttl="400ms")
    w1 = env.worker(n, pool="p1", name="w1", opts=["--detach-on-sigterm"])
    env.worker(n, pool="p2", name="w2")
    rc, data, err = n.ctlj("dispatch", "p3", "k", "x")
    assert rc == 1 and data["code"] == "BUSY" and "limits.max_pools" in data["message"], data
    s = raw_session(n.sock)
    s.sendall(frame({"t": T_HELLO, "v": 1, "role": "worker", "pool": "p3"}))
    e = read_frame(s)
    s.close()
    assert e["t"] == 3 and e["code"] == "BUSY" and "limits.max_pools" in e["msg"], e
    assert "pool p3: not joined" in n.logtext()
    assert w1.term() == 0
    wait_for(lambda: "pool p1: left after" in n.logtext(), 10 * SLOW, "p1 left when unused")
    w3 = env.worker(n, pool="p3", name="w3")
    rc, _, err = n.ctlj("dispatch", "p3", "k", "x")
    assert rc == 0, err
    assert w3.running() == {"k"}
