"""A worker written in Python from proto/PROTOCOL.md alone (pyworker.py).

Proves the document is enough to write a worker: the Python worker attaches,
runs, notifies and stops jobs, refuses a start with its own message, and
detaches on SIGTERM handing its jobs to another worker; the history checker
runs over its event log like over testworker's.
"""
import os
import signal
import subprocess
import time

import harness
from harness import SLOW, check_history, wait_for

PYWORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pyworker.py")
PYTHON = "/usr/bin/python3"


class PyWorker(harness.LoggedWorker):
    """pyworker.py as a process, with the .id and .events() check_history needs."""

    count = 0

    def __init__(self, env, node, pool="p", name=None):
        PyWorker.count += 1
        tag = name or "anon%d" % PyWorker.count
        self.evlog = os.path.join(env.tmp, "py-%s-%d.events" % (tag, PyWorker.count))
        argv = [PYTHON, PYWORKER, node.sock, pool, self.evlog]
        if name:
            argv.append(name)
        self.spawn(env.procs, argv)

    def term(self, timeout=30):
        rc = super().term(timeout)
        self.stderr = self.proc.stderr.read()
        return rc


def test_pyworker_dispatch_notify_stop(env):
    n = env.node()
    w = PyWorker(env, n)
    assert w.id
    rc, data, err = n.ctlj("dispatch", "p", "job-1", "hello")
    assert rc == 0, err
    assert data["ok"] is True
    # dispatch returns after the START was answered: the log shows it
    assert w.running() == {"job-1"}
    starts = [e for e in w.events() if e[0] == "start"]
    assert len(starts) == 1 and starts[0][1] == "job-1" and starts[0][2] == w.id
    rc, out, _ = n.ctl("job", "p", "job-1")
    assert rc == 0 and out == "hello"

    rc, data, err = n.ctlj("notify", "p", "job-1", "ping pong")
    assert rc == 0, err
    assert data["ok"] is True
    notes = [e for e in w.events() if e[0] == "notify"]
    assert len(notes) == 1
    assert notes[0][1] == "job-1" and notes[0][2] == w.id and notes[0][4] == "ping pong"

    rc, data, err = n.ctlj("stop", "p", "job-1")
    assert rc == 0, err
    assert data["ok"] is True
    assert w.running() == set()
    assert w.count_of("stop", "job-1") == 1
    rc, data, _ = n.ctlj("job", "p", "job-1")
    assert rc == 1 and data["code"] == "JOB_NOT_FOUND"
    check_history([w], set())


def test_pyworker_start_error(env):
    n = env.node()
    w = PyWorker(env, n)
    rc, data, err = n.ctlj("dispatch", "p", "fail-1", "x")
    assert rc == 1
    assert data["ok"] is False
    assert data["code"] == "HANDLER"
    assert "python says no" in data["message"]
    # the job does not exist and never ran
    rc, data, _ = n.ctlj("job", "p", "fail-1")
    assert rc == 1 and data["code"] == "JOB_NOT_FOUND"
    assert w.count_of("start") == 0
    # the worker still works
    assert n.ctlj("dispatch", "p", "ok-1", "")[0] == 0
    assert w.running() == {"ok-1"}
    check_history([w], {"ok-1"})


def test_pyworker_detach_on_sigterm(env):
    n = env.node()
    a = PyWorker(env, n, name="pya")
    b = PyWorker(env, n, name="pyb")
    # Dispatch until three jobs run on a (placement hashes the key over
    # the worker ids, so some land on b too).
    keys = set()
    i = 0
    while len(a.running()) < 3:
        assert i < 200, "no 3 jobs placed on pya out of %d" % i
        k = "job-%d" % i
        i += 1
        rc, data, err = n.ctlj("dispatch", "p", k, "pl-" + k)
        assert rc == 0, err
        keys.add(k)
    had = a.running()
    assert len(had) == 3
    assert had | b.running() == keys and not (had & b.running())

    assert a.term() == 0, a.stderr
    # every job of a was stopped there before the detach was answered
    for k in had:
        assert a.count_of("stop", k) == 1, (k, a.events())
    assert a.running() == set()
    # and pulsed logs the end of its session as a detach (section 6.4)
    assert n.session_end("pya") == ("info", "worker detached (its DETACH was "
                                            "answered OK)")
    wait_for(lambda: b.running() == keys, 10, "all jobs on the remaining worker")
    for k in had:
        assert b.count_of("start", k) == 1
    # the jobs kept their payloads
    for k in had:
        rc, out, _ = n.ctl("job", "p", k)
        assert rc == 0 and out == "pl-" + k
    check_history([a, b], keys)


def test_pyworker_lease_expires_when_pulsed_stops(env):
    """6.5: with pulsed frozen, no LEASE arrives; the worker stops its jobs
    on its own once the last lease ends, and leaves (exit 3)."""
    n = env.node(worker_ttl="1s")
    w = PyWorker(env, n)
    for k in ("l-1", "l-2"):
        rc, data, err = n.ctlj("dispatch", "p", k, "")
        assert rc == 0, err
    assert w.running() == {"l-1", "l-2"}
    n.proc.send_signal(signal.SIGSTOP)
    try:
        wait_for(lambda: w.proc.poll() is not None, 10, "the worker to give up its lease")
        assert w.proc.returncode == 3, w.proc.stderr.read()
        assert w.running() == set()
        assert w.count_of("stop", "l-1") == 1 and w.count_of("stop", "l-2") == 1
    finally:
        n.proc.send_signal(signal.SIGCONT)
    check_history([w], set())


def test_pyworker_leases_keep_it_running(env):
    """6.5: while pulsed runs, LEASEs keep coming and the worker never acts
    on its own, over several lease periods."""
    n = env.node(worker_ttl="500ms")
    w = PyWorker(env, n)
    assert n.ctlj("dispatch", "p", "keep", "")[0] == 0
    # each request is a round trip through pulsed; keep asking past a few TTLs
    t0 = time.monotonic()
    wait_for(lambda: (n.ctlj("notify", "p", "keep", "x")[0] == 0
                      and time.monotonic() - t0 > 2.5 * SLOW),
             10, "several lease periods", interval=0.1)
    assert w.proc.poll() is None
    assert w.running() == {"keep"}
    check_history([w], {"keep"})


def test_pyworker_stops_jobs_when_session_ends(env):
    """6.4: pulsed dies; the worker stops every job it runs at once."""
    n = env.node()
    w = PyWorker(env, n)
    assert n.ctlj("dispatch", "p", "d-1", "")[0] == 0
    assert w.running() == {"d-1"}
    n.kill()
    wait_for(lambda: w.proc.poll() is not None, 5, "the worker to notice")
    assert w.proc.returncode == 1
    assert w.running() == set() and w.count_of("stop", "d-1") == 1
