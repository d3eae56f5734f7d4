"""Pool semantics on one node, Redis as the durable state (issue 2, point 5).

Each test runs a real redis-server, a real pulsed and real worker
processes, and ends with the history checker: no job lost, none
unexpected, no two run intervals of one key overlapping. Hostile peers
(garbage, bad frames, floods, the session limit) are in test_hostile.py.
"""
import json
import os
import signal
import subprocess
import time

import pytest

from harness import (PULSECTL, PULSED, SLOW, check_history, frame, raw_session,
                     read_frame, wait_for)


def dispatch(node, pool, key, payload="", **kw):
    return node.ctlj("dispatch", pool, key, payload, **kw)


def test_dispatch_notify_stop(env):
    n = env.node()
    w = env.worker(n)
    rc, out, err = dispatch(n, "p", "job-1", "hello")
    assert rc == 0, err
    assert out["ok"] is True
    # P2: dispatch returned after the start handler answered
    assert w.running() == {"job-1"}
    ev = [e for e in w.events() if e[0] == "start"]
    assert ev[0][1] == "job-1"
    # P14: the payload tri-state and the pool-wide keys
    rc, out, _ = n.ctl("job", "p", "job-1")
    assert rc == 0 and out == "hello"
    rc, data, _ = n.ctlj("jobs", "p")
    assert rc == 0 and data == {"jobs": [{"pool": "p", "key": "job-1"}], "ok": True}
    # P7: notify reaches the owner's handler once and returns its answer
    rc, data, err = n.ctlj("notify", "p", "job-1", "ping")
    assert rc == 0, err
    notes = [e for e in w.events() if e[0] == "notify"]
    assert len(notes) == 1 and notes[0][1] == "job-1" and notes[0][4] == "ping"
    # P6: stop returns after the stop handler answered; the job is gone
    rc, data, err = n.ctlj("stop", "p", "job-1")
    assert rc == 0, err
    assert w.running() == set()
    rc, data, err = n.ctlj("job", "p", "job-1")
    assert rc == 1
    rc, data, err = n.ctlj("stop", "p", "job-1")
    assert rc == 1 and data["code"] == "JOB_NOT_FOUND"
    rc, data, err = n.ctlj("notify", "p", "job-1", "x")
    assert rc == 1 and data["code"] == "JOB_NOT_FOUND"
    check_history([w], set())


def test_empty_payload_exists(env):
    n = env.node()
    env.worker(n)
    assert dispatch(n, "p", "empty")[0] == 0
    rc, out, err = n.ctl("job", "p", "empty")
    assert rc == 0 and out == ""
    rc, data, _ = n.ctlj("job", "p", "empty")
    assert rc == 0 and data["exists"] is True and data["payload"] == ""
    rc, data, _ = n.ctlj("job", "p", "absent")
    assert rc == 1 and data["code"] == "JOB_NOT_FOUND"


def test_dispatch_existing_key(env):
    n = env.node()
    w = env.worker(n)
    assert dispatch(n, "p", "k")[0] == 0
    rc, data, err = dispatch(n, "p", "k")
    assert rc == 1 and data["code"] == "JOB_EXISTS"
    assert "JOB_EXISTS" in err
    assert w.count_of("start", "k") == 1
    check_history([w], {"k"})


def test_start_handler_error(env):
    n = env.node()
    w = env.worker(n, opts=["--fail-start", "bad-"])
    rc, data, err = dispatch(n, "p", "bad-1", "x")
    assert rc == 1
    assert data["code"] == "HANDLER"
    assert "refused by test" in data["message"]
    # P2: the job then does not exist, and the key can be dispatched again
    rc, data, _ = n.ctlj("job", "p", "bad-1")
    assert rc == 1 and data["code"] == "JOB_NOT_FOUND"
    w2 = env.worker(n, opts=[])
    w.term()
    assert dispatch(n, "p", "bad-1", "x")[0] == 0
    check_history([w, w2], {"bad-1"})


def test_requeue_start(env):
    n = env.node(pending_job_ttl="200ms")
    w = env.worker(n, opts=["--requeue-start", "rq-", "--requeue-once"])
    t0 = time.monotonic()
    rc, data, err = dispatch(n, "p", "rq-1")
    assert rc == 0, err
    # P8: retried after the pending job TTL, then started
    assert time.monotonic() - t0 >= 0.2
    assert w.running() == {"rq-1"}
    check_history([w], {"rq-1"})


def test_requeue_stop(env):
    n = env.node(pending_job_ttl="200ms")
    w = env.worker(n, opts=["--requeue-stop-once"])
    assert dispatch(n, "p", "s-1")[0] == 0
    rc, data, err = n.ctlj("stop", "p", "s-1")
    assert rc == 0, err
    assert w.running() == set()
    check_history([w], set())


def test_detach_moves_jobs(env):
    n = env.node()
    a = env.worker(n, name="wa", opts=["--detach-on-sigterm"])
    b = env.worker(n, name="wb")
    keys = {"job-%d" % i for i in range(40)}
    for k in keys:
        assert dispatch(n, "p", k)[0] == 0
    had = a.running()
    assert had and b.running() and had | b.running() == keys
    assert a.term() == 0
    # P9: every job of the detached worker was stopped there, then started
    # on the remaining one
    assert a.running() == set()
    wait_for(lambda: b.running() == keys, 5, "all jobs on the remaining worker")
    # its session's end is a clean detach, not a drop after an ERROR frame
    assert n.session_end("wa") == ("info", "worker detached (its DETACH was "
                                           "answered OK)")
    assert "after its ERROR frame" not in n.logtext(full=True)
    # while a worker that breaks the protocol is still logged as dropped
    # (in another pool: no job of p moves to it)
    s = raw_session(n.sock)
    s.sendall(frame({"t": 1, "v": 1, "role": "worker", "pool": "q", "name": "wbad"}))
    assert read_frame(s)["t"] == 2  # WELCOME (a LEASE follows)
    s.sendall(frame({"t": 23, "id": 999999, "r": 0}))  # ACK of nothing
    while True:
        m = read_frame(s)
        if m is None or m["t"] == 3:
            break
    assert m and m["code"] == "PROTOCOL" and m["id"] == 0, m
    s.close()
    assert n.session_end("wbad") == ("info", "disconnected after its ERROR frame")
    check_history([a, b], keys)


def test_worker_killed_jobs_move(env):
    n = env.node()
    a = env.worker(n, name="wa")
    b = env.worker(n, name="wb")
    keys = {"job-%d" % i for i in range(40)}
    for k in keys:
        assert dispatch(n, "p", k)[0] == 0
    assert a.running()
    t = time.monotonic()
    a.kill()
    wait_for(lambda: b.running() == keys, 1.0, "jobs of the killed worker elsewhere")
    assert time.monotonic() - t < 1.0  # P4
    check_history([a, b], keys)


def test_no_worker_waits_then_starts(env):
    n = env.node(ack_grace_period="300ms")
    rc, data, err = dispatch(n, "p", "early", "x")
    # P2: TIMEOUT after 2 x ack grace; the job exists and will run
    assert rc == 1 and data["code"] == "TIMEOUT"
    rc, data, _ = n.ctlj("job", "p", "early")
    assert rc == 0 and data["exists"] is True
    rc, data, _ = dispatch(n, "p", "early", "x")
    assert rc == 1 and data["code"] == "JOB_EXISTS"
    w = env.worker(n)
    wait_for(lambda: w.running() == {"early"}, 3, "waiting job to start")
    check_history([w], {"early"})


def test_pool_full(env):
    n = env.node(ack_grace_period="100ms", max_queued_jobs=3)
    for i in range(3):
        rc, data, _ = dispatch(n, "p", "q-%d" % i)
        assert rc == 1 and data["code"] == "TIMEOUT"
    rc, data, err = dispatch(n, "p", "q-3")
    assert rc == 1 and data["code"] == "POOL_FULL"  # P13
    rc, data, _ = n.ctlj("job", "p", "q-3")
    assert data["code"] == "JOB_NOT_FOUND"
    w = env.worker(n)
    wait_for(lambda: w.running() == {"q-0", "q-1", "q-2"}, 3, "queued jobs start")
    check_history([w], {"q-0", "q-1", "q-2"})


def test_invalid_input(env):
    n = env.node(extra={"limits": {"max_payload": 1024}})
    env.worker(n)
    rc, data, err = dispatch(n, "p", "bad\x01key")
    assert rc == 1 and data["code"] == "INVALID"
    rc, data, err = dispatch(n, "p", "k" * 1025)
    assert rc == 1 and data["code"] == "INVALID"
    assert dispatch(n, "p", "k" * 1024)[0] == 0
    rc, data, err = dispatch(n, "p", "big", "x" * 2000)
    assert rc == 1 and data["code"] == "TOO_LARGE"
    rc, data, err = dispatch(n, "p{x}", "k")
    assert rc == 1 and data["code"] == "INVALID"
    assert n.proc.poll() is None


def test_unknown_pool(env):
    n = env.node(pools={"known": {}})
    rc, data, err = dispatch(n, "unknown", "k")
    assert rc == 1 and data["code"] == "INVALID"
    assert "unknown pool" in data["message"]


def test_pulsed_restart_keeps_jobs(env):
    n = env.node()
    w = env.worker(n, name="w1", opts=["--reattach"])
    keys = {"r-%d" % i for i in range(10)}
    for k in keys:
        assert dispatch(n, "p", k)[0] == 0
    assert n.stop() == 0
    # P9: pulsed stopped every job through the stop handler before leaving
    wait_for(lambda: w.running() == set(), 5, "jobs stopped at pulsed stop")
    n.start()
    # the worker re-attaches; the jobs, kept in Redis, start again
    wait_for(lambda: w.running() == keys, 10, "jobs back after restart")
    check_history([w], keys)


def test_pulsed_killed_restart_keeps_jobs(env):
    n = env.node(worker_ttl="500ms")
    w = env.worker(n, name="w1")
    keys = {"k-%d" % i for i in range(10)}
    for k in keys:
        assert dispatch(n, "p", k)[0] == 0
    n.kill()
    # the worker process sees its session end; a new one attaches later
    w.proc.wait(timeout=5)
    w.killed_ns = time.time_ns()
    n.start()
    w2 = env.worker(n, name="w1")
    wait_for(lambda: w2.running() == keys, 5, "jobs restarted after kill -9")
    check_history([w, w2], keys)


def test_redis_away_unavailable(env):
    n = env.node(worker_ttl="2s")
    w = env.worker(n)
    assert dispatch(n, "p", "before")[0] == 0
    env.redis.stop()
    wait_for(lambda: not n.status()["redis"], 5, "pulsed to notice")
    rc, data, err = dispatch(n, "p", "during")
    assert rc == 1 and data["code"] == "UNAVAILABLE"  # P15
    assert n.proc.poll() is None
    env.redis.start()
    wait_for(lambda: n.status()["redis"], 10, "reconnect")
    # Redis came back empty: the node re-announces what its worker runs
    wait_for(lambda: n.ctlj("job", "p", "before")[0] == 0, 10, "job re-announced")
    assert dispatch(n, "p", "after")[0] == 0
    check_history([w], {"before", "after"})


def test_config_check(env):
    """pulsed -n says whether pulsed can start, not only whether the file
    parses: the sample config (redis.url null, socket.group "pulsed") parses
    but cannot start as it is, and -n says why, with the effective config
    still printed; once those are set it passes."""
    conf = os.path.join(os.path.dirname(__file__), "..", "..", "conf", "pulsed.conf")
    r = subprocess.run([PULSED, "-n", "-c", conf], capture_output=True, text=True)
    assert r.returncode == 1, r.stderr
    assert "cannot start with it: redis.url is not set" in r.stderr, r.stderr
    sample = json.loads(r.stdout)
    sample["redis"]["url"] = env.redis.url()
    sample["socket"]["group"] = "root"
    fixed = os.path.join(env.tmp, "fixed.conf")
    with open(fixed, "w") as f:
        json.dump(sample, f)
    r = subprocess.run([PULSED, "-n", "-c", fixed], capture_output=True, text=True)
    assert r.returncode == 0 and "is valid" in r.stderr, r.stderr
    r = subprocess.run([PULSED, "-n", "-c", "/nonexistent.conf"], capture_output=True, text=True)
    assert r.returncode == 1 and "nonexistent" in r.stderr


@pytest.mark.parametrize("key", ["group", "admin_group"])
def test_a_group_that_does_not_exist_is_a_config_error(env, key):
    """socket.group or socket.admin_group naming no group on this host:
    pulsed -n fails naming the key and the group, pulsed does not start,
    and a reload to such a file keeps the running configuration."""
    n = env.node(extra={"socket": {key: "no-such-group-xyz"}}, start=False)
    r = subprocess.run([PULSED, "-n", "-c", n.conf], capture_output=True, text=True)
    assert r.returncode == 1, r.stderr
    assert 'socket.%s: there is no group named "no-such-group-xyz"' % key in r.stderr, r.stderr
    r = subprocess.run([PULSED, "-c", n.conf], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "no-such-group-xyz" in r.stderr, r.stderr
    # a running pulsed keeps its configuration on such a reload
    good = env.node("node-b")
    with open(good.conf) as f:
        cfg = json.load(f)
    cfg["socket"][key] = "no-such-group-xyz"
    cfg["log"]["level"] = "info"
    with open(good.conf, "w") as f:
        json.dump(cfg, f)
    good.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "reload: socket.%s: there is no group" % key in good.logtext(), 5,
             "the reload refused")
    assert "keeping the running configuration" in good.logtext()
    assert good.ready()


def test_help_and_version():
    r = subprocess.run([PULSED, "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("usage: pulsed") and not r.stderr
    assert "--check" in r.stdout
    r = subprocess.run([PULSED, "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("pulsed ")
    r = subprocess.run([PULSED, "--no-such-option"], capture_output=True, text=True)
    assert r.returncode == 2 and "usage: pulsed" in r.stderr


def test_default_names_are_pulseds_own(env):
    """The compiled-in defaults name pulsed's own directories, not Debian's
    PulseAudio's (its pulse directories in /etc and /run): pulsed's
    configuration file and socket, and the socket libpulse-client and
    pulsectl connect to when neither -s nor $PULSE_SOCKET says otherwise."""
    r = subprocess.run([PULSED, "--help"], capture_output=True, text=True)
    assert "(default /etc/pulsed/pulsed.conf" in r.stdout, r.stdout
    empty = os.path.join(env.tmp, "empty.conf")
    with open(empty, "w") as f:
        f.write("{}")
    r = subprocess.run([PULSED, "-n", "-c", empty], capture_output=True, text=True)
    assert json.loads(r.stdout)["socket"]["path"] == "/run/pulsed/pulsed.sock", r.stdout
    r = subprocess.run([PULSECTL, "--help"], capture_output=True, text=True)
    assert "else /run/pulsed/pulsed.sock)" in r.stdout + r.stderr, r.stdout + r.stderr
    no_env = {k: v for k, v in os.environ.items() if k != "PULSE_SOCKET"}
    r = subprocess.run([PULSECTL, "status"], capture_output=True, text=True, env=no_env,
                       timeout=30)
    assert "at /run/pulsed/pulsed.sock:" in r.stderr, r.stderr


def test_socket_mode_and_peer_credentials(env):
    # P17: the socket is 0660 and each session's credentials are logged
    n = env.node()
    assert os.stat(n.sock).st_mode & 0o777 == 0o660
    assert "uid 0 gid 0" in n.logtext()


def test_closed_while_stopping(env):
    # P2: a dispatch on a session that is open while pulsed stops gets CLOSED
    n = env.node()
    env.worker(n, opts=["--stop-delay", "1500"])
    assert dispatch(n, "p", "slow")[0] == 0
    s = raw_session(n.sock)
    s.sendall(frame({"t": 1, "v": 1, "role": "client"}))
    assert read_frame(s)["t"] == 2
    n.proc.send_signal(signal.SIGTERM)
    wait_for(lambda: "stopping" in n.logtext(), 5, "the stop to begin")
    s.sendall(frame({"t": 10, "id": 7, "pool": "p", "key": "late"}))
    m = read_frame(s)
    assert m["t"] == 3 and m["id"] == 7 and m["code"] == "CLOSED"
    assert n.proc.wait(timeout=10) == 0


def test_a_notification_to_a_worker_without_a_handler_is_answered_at_once(env):
    """A worker that attached without a notify handler: the notification
    is answered HANDLER saying so, at once. Old code answered it before
    it knew whom to answer (the op was freed under it): the caller waited
    for the whole request timeout and got TIMEOUT."""
    n = env.node()
    w = env.worker(n, name="quiet", opts=["--no-notify"])
    rc, _, err = n.ctlj("dispatch", "p", "k", "x")
    assert rc == 0, err
    t0 = time.monotonic()
    rc, data, err = n.ctlj("notify", "p", "k", "ping")
    assert rc == 1 and data["code"] == "HANDLER", (rc, data, err)
    assert "does not handle notifications" in data["message"], data
    assert time.monotonic() - t0 < 5 * SLOW
    assert w.proc.poll() is None
