"""A worker written in Python from proto/PROTOCOL.md alone (pyworker.py).

Proves the document is enough to write a worker: the Python worker attaches,
runs, notifies and stops jobs, refuses a start with its own message, and
detaches on SIGTERM handing its jobs to another worker; the history checker
runs over its event log like over testworker's.
"""
import os
import signal
import subprocess

from harness import SLOW, check_history, wait_for

PYWORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pyworker.py")
PYTHON = "/usr/bin/python3"


class PyWorker:
    """pyworker.py as a process, with the .id and .events() check_history needs."""

    count = 0

    def __init__(self, env, node, pool="p", name=None):
        PyWorker.count += 1
        tag = name or "anon%d" % PyWorker.count
        self.evlog = os.path.join(env.tmp, "py-%s-%d.events" % (tag, PyWorker.count))
        argv = [PYTHON, PYWORKER, node.sock, pool, self.evlog]
        if name:
            argv.append(name)
        self.proc = env.procs.spawn(argv, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("ready "):
            self.proc.wait(timeout=5)
            raise AssertionError("pyworker did not attach: %r %s"
                                 % (line, self.proc.stderr.read()))
        self.id = line.split()[1]

    def events(self):
        try:
            with open(self.evlog) as f:
                return [l.rstrip("\n").split(" ", 4) for l in f if l.strip()]
        except FileNotFoundError:
            return []

    def running(self):
        run = set()
        for ev in self.events():
            if ev[0] == "start":
                run.add(ev[1])
            elif ev[0] == "stop":
                run.discard(ev[1])
        return run

    def count_of(self, kind, key=None):
        return sum(1 for ev in self.events()
                   if ev[0] == kind and (key is None or ev[1] == key))

    def term(self, timeout=30):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=timeout * SLOW)
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
    wait_for(lambda: b.running() == keys, 10, "all jobs on the remaining worker")
    for k in had:
        assert b.count_of("start", k) == 1
    # the jobs kept their payloads
    for k in had:
        rc, out, _ = n.ctl("job", "p", k)
        assert rc == 0 and out == "pl-" + k
    check_history([a, b], keys)
