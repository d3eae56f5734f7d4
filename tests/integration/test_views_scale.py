"""Lists of any size (issue 17 item 1).

Every list view (JOBS, WORKERS, NODES, STATUS's pools, CLOCKS) goes out
in frames the peer can take: a peer that announces `stream` in its HELLO
(libpulse-client does) gets a long list in parts, each OK frame but the
last with `more: true`; one that does not gets the list in one frame, or
TOO_LARGE with a log line when it does not fit: never a frame over its
cap. JOBS pages through the pool in Redis (keys.lua), so pulsed holds one
page whatever the pool's size, and takes `match`, `limit` and a count.
Before, JOBS was one HKEYS in one frame: `pulsectl jobs` failed with
PROTOCOL past ~29,000 keys of 36 bytes, and pulsed logged nothing.

Large pools are made by writing the jobs hash directly (a view reads
only that hash; no node joins the pool, so nothing tries to run them);
the worker filter is tested on jobs really dispatched and running.
"""
import json
import os
import subprocess

from harness import BUILD, check_history, frame, raw_session, read_frame, wait_for

T_HELLO, T_ERROR, T_OK = 1, 3, 4
T_JOBS, T_WORKERS, T_STATUS, T_STOP, T_NODES, T_CLOCKS = 13, 15, 16, 11, 33, 36


def fill(env, pool, n, fmt):
    """n job keys fmt % i (i from 0) in pool's jobs hash, in one script."""
    script = ("for i = 0, tonumber(ARGV[1]) - 1 do "
              "redis.call('HSET', KEYS[1], string.format(ARGV[2], i), 'x') end "
              "return redis.call('HLEN', KEYS[1])")
    out = env.redis.cli("EVAL", script, 1, "pulse:{%s}:jobs" % pool, n, fmt)
    assert out == str(n), out
    return {fmt % i for i in range(n)}


def session(node, **hello):
    s = raw_session(node.sock)
    s.sendall(frame(dict({"t": T_HELLO, "v": 1, "role": "client"}, **hello)))
    w = read_frame(s)
    assert w["t"] == 2, w
    return s


def answer(s, req, max_body=None):
    """Send req; return (frames, their sizes) until the last part."""
    import msgpack
    s.sendall(frame(req))
    frames = []
    while True:
        f = read_frame(s)
        assert f is not None, "session closed"
        assert f.get("id") == req["id"], f
        frames.append(f)
        if max_body is not None:
            assert len(msgpack.packb(f, use_bin_type=True)) <= max_body, len(frames)
        if f["t"] == T_ERROR or not f.get("more"):
            return frames


def ctl_lines(node, *args):
    rc, out, err = node.ctl(*args, timeout=120)
    assert rc == 0, (rc, err)
    return out.split("\n")[:-1] if out else []


def test_pulsectl_and_the_library_list_40000_keys(env):
    n = env.node()
    keys = fill(env, "big", 40000, "key-%07d-0123456789abcdef01234567")
    assert len(next(iter(keys))) == 36
    assert set(ctl_lines(n, "-H", "jobs", "big")) == keys
    lines = ctl_lines(n, "jobs", "big")
    assert lines[0] == "KEY" and len(lines) == 40001
    rc, data, err = n.ctlj("jobs", "big")
    assert rc == 0 and sorted(r["key"] for r in data["jobs"]) == sorted(keys), err
    # count, limit, match
    assert ctl_lines(n, "jobs", "big", "--count") == ["40000"]
    got = ctl_lines(n, "-H", "jobs", "big", "--limit", "100")
    assert len(got) == 100 and set(got) <= keys
    want = {k for k in keys if k.startswith("key-00012")}
    assert set(ctl_lines(n, "-H", "jobs", "big", "--match", "key-00012*")) == want
    assert ctl_lines(n, "jobs", "big", "--match", "key-00012*", "--count") == [str(len(want))]
    rc, data, err = n.ctlj("jobs", "big", "--count")
    assert rc == 0 and data == {"counts": [{"pool": "big", "count": 40000}], "ok": True}, data
    rc, data, err = n.ctlj("jobs", "big", "--limit", "0")
    assert rc == 2 and data["code"] == "USAGE" and "--limit 0" in data["message"], data
    # jobs with no pool lists every pool this pulsed knows (the pool is
    # joined by a request that uses it)
    n.use_pool("big")
    rows = ctl_lines(n, "-H", "jobs")
    assert {tuple(r.split("\t")) for r in rows} == {("big", k) for k in keys}
    # the pool's keys are untouched and nothing was sent over a cap
    assert "frame larger" not in n.logtext() and "TOO_LARGE" not in n.logtext()


def test_keys_of_1_kib_list_too(env):
    n = env.node()
    keys = fill(env, "wide", 2000, "%07d" + "k" * 1017)
    assert len(next(iter(keys))) == 1024
    assert set(ctl_lines(n, "-H", "jobs", "wide")) == keys


def test_a_peer_that_takes_parts_gets_bounded_frames(env):
    """A raw peer with max_body 4096 and stream: every frame fits, all
    but the last say more, and together they hold every key once or
    (SCAN's guarantee) more than once."""
    n = env.node()
    keys = fill(env, "p", 5000, "job-%07d")
    s = session(n, max_body=4096, stream=True)
    frames = answer(s, {"t": T_JOBS, "id": 1, "pool": "p"}, max_body=4096)
    assert len(frames) > 10 and all(f["t"] == T_OK for f in frames)
    assert all(f.get("more") for f in frames[:-1]) and "more" not in frames[-1]
    got = [k for f in frames for k in f["keys"]]
    assert set(got) == keys
    assert frames[-1]["count"] == len(got)
    frames = answer(s, {"t": T_JOBS, "id": 2, "pool": "p", "limit": 1234}, 4096)
    got = [k for f in frames for k in f["keys"]]
    assert len(got) == 1234 and frames[-1]["count"] == 1234
    frames = answer(s, {"t": T_JOBS, "id": 3, "pool": "p", "limit": 0})
    assert frames == [{"t": T_OK, "id": 3, "keys": [], "count": 5000}]
    frames = answer(s, {"t": T_JOBS, "id": 4, "pool": "p", "limit": 0,
                        "match": "job-0001*"})
    assert frames[-1]["count"] == 1000
    s.close()


def test_a_peer_that_takes_one_frame_gets_too_large_never_more(env):
    """pyworker-style peers (no stream): a list that fits comes in one
    frame as before; one that does not is TOO_LARGE, logged, and the
    session goes on."""
    n = env.node()
    fill(env, "p", 40000, "key-%07d-0123456789abcdef01234567")
    fill(env, "small", 10, "k%07d")
    s = session(n)
    frames = answer(s, {"t": T_JOBS, "id": 1, "pool": "p"}, max_body=1114112)
    assert len(frames) == 1 and frames[0]["t"] == T_ERROR, frames
    assert frames[0]["code"] == "TOO_LARGE" and "stream" in frames[0]["msg"]
    frames = answer(s, {"t": T_JOBS, "id": 2, "pool": "small"})
    assert len(frames) == 1 and len(frames[0]["keys"]) == 10
    wait_for(lambda: "does not fit in one frame" in n.logtext(), 5, "the log line")
    s.close()


def test_the_worker_filter_on_running_jobs_of_long_keys(env):
    """3,000 jobs with 900-byte keys (2.7 MB of keys) on two workers:
    jobs --worker lists exactly what each worker runs."""
    n = env.node()
    w1 = env.worker(n, name="w1")
    w2 = env.worker(n, name="w2")
    prefix = "j" * 900
    r = subprocess.run([os.path.join(BUILD, "tests", "bulkdispatch"), "-s", n.sock,
                        "-p", "p", "-n", "3000", "-k", prefix],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    keys = {prefix + str(i) for i in range(3000)}
    wait_for(lambda: w1.running() | w2.running() == keys, 60, "all running")
    for w, name in ((w1, "w1"), (w2, "w2")):
        rc, data, err = n.ctlj("workers", "p")
        wid = [x["id"] for x in data["workers"] if x["name"] == name][0]
        assert set(ctl_lines(n, "-H", "jobs", "p", "--worker", wid)) == w.running()
    assert set(ctl_lines(n, "-H", "jobs", "p")) == keys
    check_history([w1, w2], keys)


def test_status_of_many_pools_and_small_frames_of_every_list(env):
    """500 pools in STATUS (over one 64 KiB part): pulsectl status lists
    them all; and with max_body 400 every other list view comes in parts
    that fit (WORKERS, NODES, CLOCKS, STATUS)."""
    n = env.node(extra={"limits": {"max_pools": 2000}})
    s = session(n)
    for i in range(500):
        s.sendall(frame({"t": T_STOP, "id": i + 1, "pool": "pool-%04d" % i, "key": "k"}))
    for i in range(500):
        f = read_frame(s)
        assert f["t"] == T_ERROR and f["code"] == "JOB_NOT_FOUND", f
    s.close()
    rc, data, err = n.ctlj("status")
    assert rc == 0, err
    names = {p["name"] for p in data["pools"]}
    assert {"pool-%04d" % i for i in range(500)} <= names
    env.worker(n, pool="pool-0000", name="wa")
    env.worker(n, pool="pool-0000", name="wb")
    env.worker(n, pool="pool-0000", name="wc")
    wait_for(lambda: len(n.ctlj("workers", "pool-0000")[1]["workers"]) == 3, 10,
             "three workers")
    s = session(n, max_body=160, stream=True)
    frames = answer(s, {"t": T_WORKERS, "id": 1, "pool": "pool-0000"}, 160)
    assert len(frames) >= 2 and {w["name"] for f in frames for w in f["workers"]} == {"wa", "wb", "wc"}
    frames = answer(s, {"t": T_WORKERS, "id": 2, "pool": "pool-0000", "local": True}, 160)
    assert len(frames) >= 2 and sum(len(f["workers"]) for f in frames) == 3
    frames = answer(s, {"t": T_NODES, "id": 3, "pool": "pool-0000"}, 160)
    assert [w["node"] for f in frames for w in f["workers"]] == [n.name]
    frames = answer(s, {"t": T_CLOCKS, "id": 5, "pool": "pool-0000", "role": "tick"}, 160)
    assert frames[-1]["status"]["tickers"] == [] and len(frames) == 1
    # a STATUS part carries the node's fields first, then pools
    frames = answer(s, {"t": T_STATUS, "id": 4}, 160)
    assert frames == [{"t": T_ERROR, "id": 4, "code": "TOO_LARGE", "msg": frames[0]["msg"]}]
    s.close()
    s = session(n, max_body=600, stream=True)
    frames = answer(s, {"t": T_STATUS, "id": 4}, 600)
    assert len(frames) > 100 and frames[0]["status"]["node"] == n.name
    assert all(set(f["status"]) == {"pools"} for f in frames[1:])
    assert {p["name"] for f in frames for p in f["status"]["pools"]} == names
    s.close()
    rc, data, err = n.ctlj("status")
    assert rc == 0 and {p["name"] for p in data["pools"]} == names


def test_tickers_and_schedules_of_any_number(env):
    """5,000 tickers and 2,000 schedules (written as tick.lua writes them:
    the clock's hash and its name in B clocks:<kind>) beside a real
    ticker: pulsectl lists every one with its fields; a raw peer with
    max_body 600 gets them in parts that fit; the view pages through the
    index (SSCAN), so it does not read the other 100,000 keys. A clock
    whose hash is gone leaves the index when a page meets it. Before,
    clocks.lua SCANned the whole keyspace in one script and answered in
    one reply."""
    import harness
    n = env.node()
    tick = os.path.join(BUILD, "tests", "tickwatch")
    w = harness.LogTool()
    w.spawn(env.procs, [tick, "-s", n.sock, "-p", "c", "-N", "real", "-i", "100",
                        "-l", os.path.join(env.tmp, "real.log")])
    wait_for(lambda: "real" in {t["name"] for t in n.ctlj("tickers", "c")[1].get("tickers", [])},
             10, "the real ticker in the view")
    script = ("for i = 0, tonumber(ARGV[1]) - 1 do "
              "local name = string.format('%s-%05d', ARGV[2], i) "
              "redis.call('HSET', KEYS[1] .. ARGV[2] .. ':' .. name, 'interval', 1000 + i, "
              "'next', 0, 'seq', i) "
              "redis.call('SADD', KEYS[1] .. 'clocks:' .. ARGV[2], name) "
              "if ARGV[2] == 'sched' then redis.call('SADD', KEYS[1] .. 'skeys:' .. name, 'a', 'b') end "
              "end return 1")
    env.redis.cli("EVAL", script, 1, "pulse:{c}:", 5000, "tick")
    env.redis.cli("EVAL", script, 1, "pulse:{c}:", 2000, "sched")
    fill(env, "other", 100000, "o%07d")
    env.redis.cli("SADD", "pulse:{c}:clocks:tick", "gone-0")
    rc, data, err = n.ctlj("tickers", "c")
    assert rc == 0, err
    got = {t["name"]: t for t in data["tickers"]}
    assert set(got) == {"tick-%05d" % i for i in range(5000)} | {"real"}
    assert got["tick-04321"]["interval_ms"] == 5321 and got["tick-04321"]["seq"] == 4321
    assert got["real"]["subscribers_here"] == 1
    assert env.redis.cli("SISMEMBER", "pulse:{c}:clocks:tick", "gone-0") == "0"
    rc, data, err = n.ctlj("schedules", "c")
    assert rc == 0, err
    assert len(data["schedules"]) == 2000
    assert all(x["keys"] == 2 for x in data["schedules"])
    assert len(ctl_lines(n, "-H", "tickers", "c")) == 5001
    s = session(n, max_body=600, stream=True)
    frames = answer(s, {"t": T_CLOCKS, "id": 1, "pool": "c", "role": "tick"}, 600)
    assert len(frames) > 100 and all(f["t"] == T_OK for f in frames)
    assert all(f.get("more") for f in frames[:-1]) and "more" not in frames[-1]
    assert {t["name"] for f in frames for t in f["status"]["tickers"]} == set(got)
    s.close()
    s = session(n)   # no stream: one frame or TOO_LARGE, never more
    frames = answer(s, {"t": T_CLOCKS, "id": 2, "pool": "c", "role": "tick"}, 1114112)
    assert len(frames) == 1 and frames[0]["t"] == T_OK
    s.close()
