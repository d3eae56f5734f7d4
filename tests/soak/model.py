#!/usr/bin/python3
"""model.py: a randomized, seeded, replayable model-based test of a pool.

    model.py [--seed N] [--steps N] [--ops FILE] [--keep]      one run
    model.py --minutes M [--seed N]                            successive seeds
    model.py --shrink (--seed N | --ops FILE) [--tries 2]      a smaller failing list
    model.py --print (--seed N | --ops FILE) [--steps N]       the operations only

Owns: the generator (generate(): a seed -> a list of operations), the
executor (Soak: three pulsed nodes, each behind its own TCP proxy to one
private redis-server, the workers, callers and faults the operations ask
for) and the checker (Soak.checkpoint(): the pool must settle within a
deadline, then the invariants and the reference model are checked).

Operations (each a JSON list, printed one a line; workers are picked by a
number taken modulo the live ones, keys by an index into KEYS, so that
any sub-list of operations still runs):
  dispatch/stop/notify NODE KEY   a raw client session on that node; at
                                  most one request per key in flight (an
                                  op on a busy key is skipped)
  attach NODE SPEC                a testworker (named from a small set of
                                  names, or anonymous; --reattach or not;
                                  --detach-on-sigterm or not; slow, failing
                                  or requeueing handlers, no notify handler)
  detach PICK / term PICK         SIGTERM (detaches when the worker has
                                  --detach-on-sigterm, else just closes)
  kill9 PICK                      SIGKILL of a worker
  ghost NODE NAMED MODE           a raw worker session that sends HELLO and
                                  closes before WELCOME (MODE "hello") or
                                  right after it ("welcome")
  drain NODE / undrain NODE / leave NODE   pulsectl (leave: of the pool)
  flushall / redis_restart        Redis loses everything (no persistence)
  redis_pause MS                  CLIENT PAUSE
  pulsed_kill NODE / pulsed_start NODE     kill -9 of a pulsed, and back
  sigstop NODE / sigcont NODE MS  SIGSTOP, then SIGCONT no sooner than MS
                                  after it (past the worker TTL)
  cut NODE / heal NODE            the node's proxy to Redis
  sleep MS
  checkpoint                      heal every fault, remove the workers
                                  whose handlers keep a job from running
                                  (failing or always-requeueing starts),
                                  wait for the requests in flight, then
                                  settle and check (below)
A last checkpoint always ends the list.

The reference model (check_model): each key starts absent. Answers move
it: dispatch OK / JOB_EXISTS / notify OK -> exists; stop OK, HANDLER
(removed anyway), JOB_NOT_FOUND, dispatch HANDLER -> absent; anything
else (TIMEOUT, UNAVAILABLE, CLOSED, a session lost...) -> unknown. A
Redis loss (FLUSHALL, restart empty) makes an existing key unknown only
when no worker ran it all through the loss (chaos.lost_by_redis: a job
between owners lives in Redis only); a key running on a worker must be
rebuilt. A checkpoint observes what Redis holds once settled and resolves
unknown keys. Contradictions are failures: an answer that says the
opposite of a known state (JOB_NOT_FOUND for an existing key, JOB_EXISTS
or notify OK for an absent one), a checkpoint that finds an existing key
gone (lost) or an absent one back, and any run of a key while it is
known absent (after a stop or JOB_NOT_FOUND and before its next
dispatch: what an answer said must stay true). A request whose time
overlaps a Redis loss may see either side of it: its answer is not held
against the state (its run checks still are). Also: a dispatch OK must
have started the job before it returned, a notify OK must have reached
a worker that ran the key, once.

The checkpoint's invariants, waited for with a deadline (SETTLE_S) and
reported with the last difference seen when it passes:
  - every node's pool is active; every live worker process is attached;
  - placement (`B workers`) holds exactly the live worker sessions of the
    nodes that are not draining: a worker there that is not a live
    session is a ghost;
  - nothing waits or is being dispatched (`B wait`, `B disp` empty);
  - every job in `B jobs` runs on exactly one live worker, which is its
    owner in `B owner`, and nothing runs that is not in `B jobs`.
Then the history checker: no two run intervals of one key overlap,
unless one of them is on a worker whose handlers are slow on purpose
(--start/--stop/--notify-delay, past the time budget of PROTOCOL.md 6.5:
under a fault such a job may run twice, as documented); those overlaps
are noted in the trace, not failed (SOAK_SKIP=slow leaves the delays out).

Replay: SOAK_SEED=N (or --seed) regenerates the same list; SOAK_STEPS=N
(--steps) keeps its first N operations (then the last checkpoint);
SOAK_OPS=FILE (--ops) runs a list written by a failing run or by
--shrink. SOAK_SKIP=KIND,... runs those kinds of operation as no-ops (to
look past a known bug: the list stays the seed's); "slow" in it attaches
workers without their handler delays. SOAK_DEFAULT_STEPS
(150) is the length of a seed's list, SOAK_SETTLE_S (30) the deadline of
a settle. A failing run prints the seed, every operation with its
outcome and time, the reason, and where its list and logs were kept.

Files: test_random.py runs a few seeds and the lists of regress/ under
pytest (make soak-short, part of make test); test_checker.py checks
check_model on made-up histories; mk/soak.mk has the make targets.

Invariants: everything random comes from the seed (the executor makes no
random choice: timing may differ between replays, the operations do
not); every process is registered with harness.Procs and killed at the
end, pass or fail; waiting is on conditions with deadlines, sleeps only
pace the operations (sleep, the SIGSTOP's minimum length).
"""
import calendar
import json
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # run by hand: no __pycache__ in the tree
HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TESTS, "integration"))
sys.path.insert(0, os.path.join(TESTS, "chaos"))

import msgpack  # noqa: E402

import harness  # noqa: E402
from harness import SLOW  # noqa: E402

POOL = "soak"
NODES = 3
TTL_MS = int(300 * SLOW)
ACK_GRACE_MS = int(1000 * SLOW)
PENDING_MS = 200
SETTLE_S = float(os.environ.get("SOAK_SETTLE_S", "30"))
DEFAULT_STEPS = int(os.environ.get("SOAK_DEFAULT_STEPS", "150"))
# Operation kinds executed as no-ops (SOAK_SKIP=ghost,flushall): to look
# past a known bug without changing the seed's list.
SKIP = {k for k in os.environ.get("SOAK_SKIP", "").split(",") if k}
PACE_S = 0.02  # between two operations

# Keys: plain ones, and what PROTOCOL.md allows beyond them (spaces,
# leading and trailing ones, '%' and what looks encoded, braces, UTF-8,
# bytes that are not UTF-8 (surrogate escapes here), a long key). "f-"
# keys fail to start on --fail-start workers, "r-" keys are requeued by
# --requeue-start ones. The last one is invalid (a control byte):
# pulsed must answer INVALID and create nothing.
KEYS = ["k0", "k1", "k2", "k3", "k4", "k5",
        "with space", " lead and trail ", "100%", "%41%20", "br{ace}/sl:ash",
        "\u00fcn\u00ef c\u00f6d\u00e9 \u2603", "raw \udcff\udcfe bytes",
        "f-fail", "r-requeue", "L" * 1000 + " long"]
BAD_KEY = "bad\x01key"
NAMES = ["w%d" % i for i in range(6)]


def now_ns():
    return time.time_ns()


def show(key):
    k = key if len(key) < 40 else key[:20] + "...(%d)" % len(key)
    return repr(k)


# ---------------------------------------------------------------------------
# The generator.

def generate(seed, steps=None):
    """The operation list of a seed: DEFAULT_STEPS of them (or the first
    `steps`), then a checkpoint."""
    rng = random.Random(seed)
    ops = []
    for i in range(NODES):  # a pool to start from
        for _ in range(rng.randint(1, 2)):
            ops.append(["attach", i, worker_spec(rng, plain=True)])
    faulted = {}   # node -> ("killed"|"stopped"|"cut", due step)
    closers = []   # (due step, op)
    since_cp = 0
    weights = [("dispatch", 24), ("stop", 10), ("notify", 8), ("attach", 7),
               ("detach", 3), ("kill9", 3), ("term", 1), ("ghost", 2),
               ("drain", 1.5), ("undrain", 1.5), ("leave", 1),
               ("flushall", 1.2), ("redis_restart", 0.8), ("redis_pause", 0.6),
               ("pulsed_kill", 1), ("sigstop", 1.2), ("cut", 1),
               ("sleep", 4), ("checkpoint", 1)]
    names = [w for w, _ in weights]
    cum = [w for _, w in weights]
    while len(ops) < DEFAULT_STEPS:
        step = len(ops)
        due = [c for c in closers if c[0] <= step]
        if due:
            c = due[0]
            closers.remove(c)
            faulted.pop(c[1][1], None)
            ops.append(c[1])
            continue
        if since_cp >= 40:
            kind = "checkpoint"
        else:
            kind = rng.choices(names, cum)[0]
        node = rng.randrange(NODES)
        if kind in ("dispatch", "stop", "notify"):
            k = rng.randrange(len(KEYS) + 1) if rng.random() < 0.02 else rng.randrange(len(KEYS))
            ops.append([kind, node, k])
        elif kind == "attach":
            ops.append(["attach", node, worker_spec(rng)])
        elif kind in ("detach", "kill9", "term"):
            ops.append([kind, rng.randrange(1 << 16)])
        elif kind == "ghost":
            ops.append(["ghost", node, rng.random() < 0.5,
                        rng.choice(["hello", "hello", "welcome"])])
        elif kind in ("drain", "undrain", "leave"):
            ops.append([kind, node])
        elif kind in ("flushall", "redis_restart"):
            ops.append([kind])
        elif kind == "redis_pause":
            ops.append([kind, int(rng.uniform(0.5, 3) * TTL_MS)])
        elif kind in ("pulsed_kill", "sigstop", "cut"):
            # one fault per node at a time, and one node always whole
            if node in faulted or len(faulted) >= NODES - 1:
                ops.append(["sleep", rng.randint(50, 300)])
                continue
            later = step + rng.randint(1, 10)
            faulted[node] = later
            ops.append([kind, node])
            if kind == "pulsed_kill":
                closers.append((later, ["pulsed_start", node]))
            elif kind == "sigstop":
                closers.append((later, ["sigcont", node, int(rng.uniform(1.5, 6) * TTL_MS)]))
            else:
                closers.append((later, ["heal", node]))
        elif kind == "sleep":
            ops.append(["sleep", rng.choice([50, 100, 200, 400, 800, 1500])])
        elif kind == "checkpoint":
            ops.append(["checkpoint"])
        since_cp = 0 if ops[-1][0] == "checkpoint" else since_cp + 1
    if steps is not None:
        ops = ops[:steps]
    return ops + [["checkpoint"]]


def worker_spec(rng, plain=False):
    spec = {"name": rng.choice(NAMES) if rng.random() < 0.5 else None,
            "reattach": plain or rng.random() < 0.8,
            "detach": rng.random() < 0.8, "opts": []}
    if plain:
        return spec
    kind = rng.choices(["plain", "slow-start", "slow-stop", "slow-notify",
                        "fail-start", "requeue-once", "requeue-start",
                        "requeue-stop", "no-notify"],
                       [50, 8, 8, 5, 5, 5, 3, 5, 5])[0]
    delay = str(rng.choice([20, 80, 200, 600, 1500]))
    spec["opts"] = {
        "plain": [], "slow-start": ["--start-delay", delay],
        "slow-stop": ["--stop-delay", delay],
        "slow-notify": ["--notify-delay", delay],
        "fail-start": ["--fail-start", "f-"],
        "requeue-once": ["--requeue-start", "r-", "--requeue-once"],
        "requeue-start": ["--requeue-start", "r-"],
        "requeue-stop": ["--requeue-stop-once"],
        "no-notify": ["--no-notify"]}[kind]
    return spec


def strip_delays(opts):
    out, skip = [], False
    for o in opts:
        if skip:
            skip = False
        elif o in ("--start-delay", "--stop-delay", "--notify-delay"):
            skip = True
        else:
            out.append(o)
    return out


def is_bad(spec):
    """A worker that can keep an existing job from running for ever (its
    placement keeps choosing it): removed at each checkpoint."""
    o = spec["opts"]
    return "--fail-start" in o or ("--requeue-start" in o and "--requeue-once" not in o)


# ---------------------------------------------------------------------------
# Redis, read binary-safe (keys may hold any byte but < 0x20 and 0x7f).

class RedisError(Exception):
    pass


def _resp_read(f):
    line = f.readline()
    if not line:
        raise ConnectionError("redis closed")
    t, rest = line[:1], line[1:-2]
    if t == b"+":
        return rest
    if t == b"-":
        raise RedisError(rest.decode(errors="replace"))
    if t == b":":
        return int(rest)
    if t == b"$":
        n = int(rest)
        return None if n < 0 else f.read(n + 2)[:-2]
    if t == b"*":
        n = int(rest)
        return None if n < 0 else [_resp_read(f) for _ in range(n)]
    raise ConnectionError("bad reply %r" % line)


def rcmd(sock, *args):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10 * SLOW)
    try:
        s.connect(sock)
        parts = [a if isinstance(a, bytes) else str(a).encode() for a in args]
        s.sendall(b"*%d\r\n" % len(parts) +
                  b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts))
        with s.makefile("rb") as f:
            return _resp_read(f)
    finally:
        s.close()


def kdec(b):
    return b.decode("utf-8", "surrogateescape")


def kenc(k):
    return k.encode("utf-8", "surrogateescape")


# ---------------------------------------------------------------------------
# Raw sessions (keys that are not UTF-8 go as str bytes: surrogateescape).

def pack(obj):
    body = msgpack.packb(obj, use_bin_type=True, unicode_errors="surrogateescape")
    return struct.pack(">I", len(body)) + body


def read_frame(s):
    def exact(n):
        b = b""
        while len(b) < n:
            chunk = s.recv(n - len(b))
            if not chunk:
                return None
            b += chunk
        return b
    hdr = exact(4)
    if hdr is None:
        return None
    body = exact(struct.unpack(">I", hdr)[0])
    if body is None:
        return None
    return msgpack.unpackb(body, raw=False, unicode_errors="surrogateescape")


class Session:
    """One client session: one request, then closed."""

    def __init__(self, sock, timeout):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        try:
            self.s.connect(sock)
            self.s.sendall(pack({"t": 1, "v": 1, "role": "client"}))
            m = read_frame(self.s)
        except OSError:
            self.close()
            raise
        if not m or m.get("t") != 2:
            self.close()
            raise ConnectionError("no WELCOME: %r" % (m,))

    def call(self, t, **fields):
        """(code, message): "OK" or the error code."""
        msg = {"t": t, "id": 1}
        msg.update(fields)
        self.s.sendall(pack(msg))
        while True:
            m = read_frame(self.s)
            if m is None:
                raise ConnectionError("session closed")
            if m.get("id") == 1:
                return ("OK", m) if m["t"] == 4 else (m.get("code", "?"), m)
            if m.get("t") == 3 and m.get("id") == 0:
                raise ConnectionError("session closed: %s" % m.get("code"))

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


# ---------------------------------------------------------------------------
# Worker processes.

class Proc(harness.LoggedWorker):
    """One testworker process. Its stdout ("ready ID") and stderr
    ("session ended") are read by threads: self.wid is the id of its
    current session, None between sessions."""

    def __init__(self, soak, index, node_i, spec):
        self.index = index
        self.node_i = node_i
        self.spec = spec
        self.bad = is_bad(spec)
        # handlers past the time budget of PROTOCOL.md 6.5 (every call
        # within TTL/10, all stops within TTL/5): under a fault a job of
        # this worker may run on two workers at once, as documented
        self.slow = strip_delays(spec["opts"]) != list(spec["opts"])
        self.id = "#%d" % index
        self.wid = None       # id of the newest session
        self.started = 0      # "ready" lines read
        self.ended = 0        # "session ended" lines read
        self.ids = []
        self.exited = False
        self.signalled = False   # we sent it a signal: not picked again
        tag = spec["name"] or "anon"
        self.evlog = os.path.join(soak.tmp, "w%d-%s.events" % (index, tag))
        self.log = os.path.join(soak.tmp, "w%d-%s.log" % (index, tag))
        argv = [harness.TESTWORKER, "-s", soak.nodes[node_i].sock, "-p", POOL,
                "-l", self.log, "-L", self.evlog] + list(spec["opts"])
        if spec["name"]:
            argv += ["-n", spec["name"]]
        if spec["reattach"]:
            argv.append("--reattach")
        if spec["detach"]:
            argv.append("--detach-on-sigterm")
        self.lock = threading.Lock()
        self.stderr = []
        self.proc = soak.procs.spawn(argv, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        threading.Thread(target=self._out, daemon=True).start()
        threading.Thread(target=self._err, daemon=True).start()

    def _out(self):
        for line in self.proc.stdout:
            w = line.decode(errors="replace").split()
            if len(w) == 2 and w[0] == "ready":
                with self.lock:
                    self.wid = w[1]
                    self.id = w[1]
                    self.ids.append(w[1])
                    self.started += 1

    def _err(self):
        f = open(self.log[:-4] + ".stderr", "a")
        for line in self.proc.stderr:
            text = line.decode(errors="replace").rstrip()
            self.stderr.append(text)
            f.write("%d %s\n" % (now_ns(), text))
            f.flush()
            if "session ended" in text:
                with self.lock:
                    self.ended += 1

    def alive(self):
        return self.proc.poll() is None

    def session(self):
        """The id of its current session, if it is alive and attached (the
        two pipes are read by two threads: lines are counted, not
        ordered)."""
        with self.lock:
            on = self.started > self.ended
            return self.wid if on and self.alive() else None

    def running_ids(self):
        """key -> id of the session that started it, from the event log."""
        run = {}
        for ev in self.events():
            if ev[0] == "start":
                run[ev[1]] = ev[2]
            elif ev[0] == "stop":
                run.pop(ev[1], None)
        return run

    def describe(self):
        s = self.spec
        return "%s on n%d%s%s %s" % (s["name"] or "anon", self.node_i,
                                     " reattach" if s["reattach"] else "",
                                     " detach" if s["detach"] else "",
                                     " ".join(s["opts"]))


# ---------------------------------------------------------------------------
# The executor.

class Req:
    def __init__(self, seq, kind, node, key):
        self.seq, self.kind, self.node, self.key = seq, kind, node, key
        self.payload = ("%s%d" % (kind[0], seq)).encode()
        self.call_ns = self.ret_ns = None
        self.code = None
        self.msg = ""


class SoakFailure(AssertionError):
    pass


class Soak:
    def __init__(self, tmp, procs, seed, ops, out=print):
        self.tmp = tmp
        self.procs = procs
        self.seed = seed
        self.ops = ops
        self.out = out
        self.t_start = time.monotonic()
        self.lock = threading.Lock()
        self.workers = []        # every Proc ever started
        self.reqs = []           # every Req executed
        self.losses = []         # (t0, t1) of each loss of Redis data
        self.observed = []       # (t_ns, set of keys) at each settled checkpoint
        self.busy = set()        # keys with a request in flight
        self.threads = []        # requests and admin calls in flight
        self.admin = {}          # node -> admin thread
        self.trace = []          # one line per executed operation
        self.stopped_at = {}     # node -> monotonic time of its SIGSTOP
        self.killed = set()      # nodes killed and not restarted
        self.cut = set()
        self.ghosts = 0
        self.excused = set()     # overlaps allowed (past the handler budget)
        self.checkpoints = 0
        self.counts = {}
        self.redis = harness.Redis(procs, tmp)
        self.proxies = [harness.Proxy(self.redis.port) for _ in range(NODES)]
        pools = {POOL: {"worker_ttl": "%dms" % TTL_MS,
                        "ack_grace_period": "%dms" % ACK_GRACE_MS,
                        "pending_job_ttl": "%dms" % PENDING_MS,
                        "worker_shutdown_ttl": "%dms" % int(5000 * SLOW),
                        "max_queued_jobs": 1000}}
        self.nodes = []
        for i in range(NODES):
            n = harness.Node(procs, tmp, self.redis, "n%d" % i, pools,
                             {"redis": {"url": self.proxies[i].url()}})
            n.start()
            self.nodes.append(n)
        # a node joins the pool when a worker or a request of it uses it
        # (a read does not); one that never did, or left, holds nothing

    # --- bookkeeping ----------------------------------------------------

    def elapsed(self):
        return time.monotonic() - self.t_start

    def note(self, line):
        with self.lock:
            self.trace.append(line)
        self.out(line)

    def count(self, what):
        with self.lock:
            self.counts[what] = self.counts.get(what, 0) + 1

    def live(self):
        """Worker processes that can be picked: alive, not signalled."""
        return [w for w in self.workers if w.alive() and not w.signalled]

    def pick(self, n):
        live = self.live()
        return live[n % len(live)] if live else None

    def fail(self, msg):
        raise SoakFailure(msg)

    # --- running the list -----------------------------------------------

    def run(self):
        for i, op in enumerate(self.ops):
            t = self.elapsed()
            try:
                res = self.execute(i, op)
            except SoakFailure:
                self.note("#%-3d +%7.3fs %s -> FAILED" % (i, t, fmt_op(op)))
                raise
            self.note("#%-3d +%7.3fs %s -> %s" % (i, t, fmt_op(op), res))
            time.sleep(PACE_S)

    def execute(self, i, op):
        kind, args = op[0], op[1:]
        if kind in SKIP:
            return "skipped (SOAK_SKIP)"
        self.count(kind)
        return getattr(self, "op_" + kind)(i, *args)

    # --- requests -------------------------------------------------------

    def op_dispatch(self, i, node, k):
        return self.request(i, "dispatch", node, k)

    def op_stop(self, i, node, k):
        return self.request(i, "stop", node, k)

    def op_notify(self, i, node, k):
        return self.request(i, "notify", node, k)

    def request(self, i, kind, node, k):
        key = key_of(k)
        with self.lock:
            if key in self.busy:
                return "skipped (%s busy)" % show(key)
            self.busy.add(key)
        r = Req(i, kind, node, key)
        th = threading.Thread(target=self._request, args=(r,), daemon=True)
        self.threads.append(th)
        th.start()
        th.join(0.3 * SLOW)
        return "%s n%d %s" % (r.code, node, show(key)) if r.code else \
            "in flight (n%d %s)" % (node, show(key))

    def _request(self, r):
        t = {"dispatch": 10, "stop": 11, "notify": 12}[r.kind]
        fields = {"pool": POOL, "key": r.key, "timeout": 2 * ACK_GRACE_MS}
        if r.kind != "stop":
            fields["payload"] = r.payload
        sess = None
        try:
            try:
                sess = Session(self.nodes[r.node].sock, 2 * ACK_GRACE_MS / 1000 + 5 * SLOW)
            except (OSError, ConnectionError):
                r.code = "NOCONN"   # nothing was asked
                return
            r.call_ns = now_ns()
            try:
                r.code, m = sess.call(t, **fields)
                r.msg = m.get("msg", "") if isinstance(m, dict) else ""
            except (OSError, ConnectionError) as e:
                r.code = "LOST"     # the outcome is unknown
                r.msg = str(e)
            r.ret_ns = now_ns()
            with self.lock:
                self.reqs.append(r)
        finally:
            if sess:
                sess.close()
            with self.lock:
                self.busy.discard(r.key)
            self.count("%s %s" % (r.kind, r.code))
            if r.ret_ns and r.call_ns and r.ret_ns - r.call_ns > 0.3e9 * SLOW:
                self.note("      #%d %s n%d %s answered %s after %.2fs"
                          % (r.seq, r.kind, r.node, show(r.key), r.code,
                             (r.ret_ns - r.call_ns) / 1e9))

    # --- workers --------------------------------------------------------

    def op_attach(self, i, node, spec):
        if "slow" in SKIP:
            spec = dict(spec, opts=strip_delays(spec["opts"]))
        w = Proc(self, len(self.workers), node, spec)
        self.workers.append(w)
        try:
            harness.wait_for(lambda: w.session() or not w.alive(), 0.5, "attach")
        except AssertionError:
            return "w%d %s: not attached yet" % (w.index, w.describe())
        if not w.alive():
            return "w%d %s: exited %s %s" % (w.index, w.describe(), w.proc.returncode,
                                            (w.stderr or [""])[-1][:120])
        return "w%d %s: %s" % (w.index, w.describe(), w.session())

    def op_detach(self, i, pick):
        return self.signal_worker(pick, signal.SIGTERM)

    def op_term(self, i, pick):
        # the same signal: with --detach-on-sigterm a detach, else a close
        return self.signal_worker(pick, signal.SIGTERM)

    def op_kill9(self, i, pick):
        return self.signal_worker(pick, signal.SIGKILL)

    def signal_worker(self, pick, sig):
        w = self.pick(pick)
        if not w:
            return "no worker"
        w.signalled = True
        sid = w.session()
        if sig == signal.SIGKILL:
            w.kill()  # sets killed_ns
        else:
            w.proc.send_signal(sig)
        return "w%d %s (%s)%s" % (w.index, w.describe(), sid,
                                  " running %d" % len(w.running()))

    def op_ghost(self, i, node, named, mode):
        self.ghosts += 1
        hello = {"t": 1, "v": 1, "role": "worker", "pool": POOL}
        if named:
            hello["name"] = "ghost-%d" % self.ghosts
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(2 * SLOW)
            s.connect(self.nodes[node].sock)
            s.sendall(pack(hello))
            got = ""
            if mode == "welcome":
                m = read_frame(s)
                got = " got %s" % (m and m.get("worker") or m)
            s.close()
            return "%s closed after %s%s" % (hello.get("name", "anonymous"), mode, got)
        except (OSError, ConnectionError) as e:
            return "failed: %s" % e

    # --- admin ----------------------------------------------------------

    def admin_call(self, node, *args):
        if node in self.admin and self.admin[node].is_alive():
            return "skipped (admin call in flight on n%d)" % node
        res = {}

        def go():
            t0 = time.monotonic()
            try:
                rc, out, err = self.nodes[node].ctl("--json", *args, timeout=30)
                res["r"] = "rc %d %s" % (rc, (out.strip() or err.strip())[:160])
            except subprocess.TimeoutExpired:
                res["r"] = "pulsectl timed out"
            if time.monotonic() - t0 > 0.3 * SLOW:
                self.note("      n%d %s answered after %.2fs: %s"
                          % (node, " ".join(args), time.monotonic() - t0, res["r"]))
        th = threading.Thread(target=go, daemon=True)
        self.admin[node] = th
        self.threads.append(th)
        th.start()
        th.join(0.3 * SLOW)
        return res.get("r", "in flight")

    def op_drain(self, i, node):
        return self.admin_call(node, "drain", "--timeout", "3")

    def op_undrain(self, i, node):
        return self.admin_call(node, "undrain")

    def op_leave(self, i, node):
        return self.admin_call(node, "leave", POOL)

    # --- faults ---------------------------------------------------------

    def op_flushall(self, i):
        t0 = now_ns()
        rcmd(self.redis.sock, "FLUSHALL")
        self.losses.append((t0, now_ns()))
        return "flushed"

    def op_redis_restart(self, i):
        t0 = now_ns()
        self.redis.stop()
        self.redis.start()
        self.losses.append((t0, now_ns()))
        return "restarted empty"

    def op_redis_pause(self, i, ms):
        rcmd(self.redis.sock, "CLIENT", "PAUSE", ms, "ALL")
        return "paused %d ms" % ms

    def op_pulsed_kill(self, i, node):
        n = self.nodes[node]
        if n.proc.poll() is not None:
            return "already dead"
        n.kill()
        self.killed.add(node)
        self.stopped_at.pop(node, None)
        # A node killed after Redis lost its data and before it re-joined
        # takes with it the only record of the jobs its workers ran (or
        # let go) at the loss: a second fault that no design survives, so
        # the history treats the kill as a loss of those jobs too.
        joined = last_join_ns(n)
        since = [t0 for t0, _ in self.losses if t0 > joined]
        if since:
            self.losses.append((min(since), now_ns()))
            return "killed n%d (not re-joined since Redis lost its data)" % node
        return "killed n%d" % node

    def op_pulsed_start(self, i, node):
        n = self.nodes[node]
        if n.proc.poll() is None:
            return "running already"
        n.start(wait=False)
        self.killed.discard(node)
        try:
            harness.wait_for(lambda: n.proc.poll() is not None or
                             n.ctl("status", timeout=5)[0] == 0, 5, "n%d socket" % node, 0.05)
        except AssertionError:
            return "started, not answering yet"
        if n.proc.poll() is not None:
            self.fail("pulsed n%d exited at start:\n%s" % (node, n.logtext()[-2000:]))
        return "started n%d" % node

    def op_sigstop(self, i, node):
        n = self.nodes[node]
        if n.proc.poll() is not None or node in self.stopped_at:
            return "not running"
        n.proc.send_signal(signal.SIGSTOP)
        self.stopped_at[node] = time.monotonic()
        return "stopped n%d" % node

    def op_sigcont(self, i, node, min_ms=0):
        if node not in self.stopped_at:
            return "not stopped"
        left = self.stopped_at[node] + min_ms / 1000.0 - time.monotonic()
        if left > 0:
            time.sleep(left)  # the fault's length: past the TTL
        held = time.monotonic() - self.stopped_at.pop(node)
        n = self.nodes[node]
        if n.proc.poll() is None:
            n.proc.send_signal(signal.SIGCONT)
        return "continued n%d after %.2fs" % (node, held)

    def op_cut(self, i, node):
        self.proxies[node].cut()
        self.cut.add(node)
        return "cut n%d" % node

    def op_heal(self, i, node):
        self.proxies[node].heal()
        self.cut.discard(node)
        return "healed n%d" % node

    def op_sleep(self, i, ms):
        time.sleep(ms / 1000.0)
        return "slept"

    # --- views ----------------------------------------------------------

    def base(self):
        return "pulse:{%s}:" % POOL

    def rhash(self, name):
        r = rcmd(self.redis.sock, "HGETALL", self.base() + name) or []
        return {kdec(r[j]): kdec(r[j + 1]) for j in range(0, len(r), 2)}

    def rkeys(self, name):
        return {kdec(k) for k in rcmd(self.redis.sock, "HKEYS", self.base() + name) or []}

    def status(self, node):
        try:
            s = Session(self.nodes[node].sock, 5 * SLOW)
        except (OSError, ConnectionError):
            return None
        try:
            code, m = s.call(16)
            return m.get("status") if code == "OK" else None
        except (OSError, ConnectionError):
            return None
        finally:
            s.close()

    def touch(self, node):
        """A JOBS request: a node joins the pool when it is used."""
        try:
            s = Session(self.nodes[node].sock, 10 * SLOW)
        except (OSError, ConnectionError):
            return
        try:
            s.call(13, pool=POOL)
        except (OSError, ConnectionError):
            pass
        finally:
            s.close()

    # --- checkpoints ----------------------------------------------------

    def op_checkpoint(self, i):
        self.checkpoints += 1
        t0 = time.monotonic()
        healed = self.heal_all()
        self.wait_in_flight()
        removed = []
        for w in self.workers:
            if w.bad and w.alive():
                w.signalled = True
                w.kill()
                removed.append("w%d" % w.index)
        self.ensure_capacity()
        for i in range(NODES):
            self.touch(i)   # a node that left the pool joins it again
        self.settle()
        jobs = self.rkeys("jobs")
        self.observed.append((now_ns(), jobs))
        self.check_history()
        placed = self.rhash("workers")
        drains = ["n%d" % i for i in range(NODES) if (self.status(i) or {}).get("draining")]
        return "settled in %.1fs (%s; removed %s): placement %s, draining %s, %d jobs %s" % (
            time.monotonic() - t0, healed or "nothing to heal", removed or "none",
            sorted(placed.items()), drains or "none", len(jobs), sorted(show(k) for k in jobs))

    def heal_all(self):
        done = []
        for node in sorted(self.stopped_at):
            done.append(self.op_sigcont(None, node))
        for node in sorted(self.cut):
            done.append(self.op_heal(None, node))
        for node, n in enumerate(self.nodes):
            if n.proc.poll() is not None:
                done.append(self.op_pulsed_start(None, node))
        for node, n in enumerate(self.nodes):
            def up():
                try:
                    return n.proc.poll() is not None or n.ready()
                except (AssertionError, ValueError, subprocess.TimeoutExpired):
                    return False
            harness.wait_for(up, 20, "n%d to answer with Redis" % node, 0.05)
            if n.proc.poll() is not None:
                self.fail("pulsed n%d exited (%s):\n%s"
                          % (node, n.proc.returncode, n.logtext()[-3000:]))
        return ", ".join(done)

    def wait_in_flight(self):
        deadline = time.monotonic() + (2 * ACK_GRACE_MS / 1000 + 40) * SLOW
        for th in self.threads:
            th.join(max(0, deadline - time.monotonic()))
            if th.is_alive():
                self.fail("a request or pulsectl call still waits %.0fs after "
                          "the faults healed" % (40 * SLOW))
        self.threads = [th for th in self.threads if th.is_alive()]

    def ensure_capacity(self):
        """At least one good live worker (handlers neither failing nor
        slow) on a node that is not draining, so that every job can run
        in time: undrain every node if all drain,
        attach a worker if none is left (deterministic: no choice)."""
        drains = [bool((self.status(i) or {}).get("draining")) for i in range(NODES)]
        if all(drains):
            for i in range(NODES):
                self.nodes[i].ctl("undrain", timeout=30)
            drains = [False] * NODES
            self.note("      checkpoint: every node drained: undrained all")
        good = [w for w in self.live() if not w.bad and not w.slow and not drains[w.node_i]
                and (w.session() or w.spec["reattach"])]
        if not good:
            node = drains.index(False)
            spec = {"name": None, "reattach": True, "detach": True, "opts": []}
            res = self.op_attach(None, node, spec)
            self.note("      checkpoint: no worker left: attached %s" % res)

    def settled(self):
        """None once the pool is quiet and Redis matches what runs, else
        the first difference found."""
        draining = {}
        for i, n in enumerate(self.nodes):
            st = self.status(i)
            if not st or not st.get("redis"):
                return "n%d not answering with Redis" % i
            draining[n.name] = bool(st.get("draining"))
            ps = [p for p in st.get("pools", []) if p.get("name") == POOL]
            if not ps or ps[0].get("state") == "left":
                continue  # not in the pool (never used here, or left): holds nothing
            if ps[0].get("state") != "active":
                return "n%d pool state %r" % (i, ps[0].get("state"))
            if ps[0].get("kept"):
                # jobs only its memory holds until its next join: Redis
                # does not show them yet (SOAK_SEED=1410183901)
                return "n%d holds %d jobs for its next join" % (i, ps[0]["kept"])
        for w in self.workers:
            rc = w.proc.poll()
            if rc is not None and rc not in (0, 1, -9):
                self.fail("worker w%d (%s) exited with %s: %s" % (
                    w.index, w.describe(), rc, "\n".join(w.stderr[-5:])))
        alive = [w for w in self.workers if w.alive()]
        # a worker whose name another live session holds waits for it
        # (pulsed refuses a name in use): not a failure
        held = {w.spec["name"] for w in alive if w.session() and w.spec["name"]}
        detached = [w for w in alive if not w.session() and w.spec["name"] not in held]
        if detached:
            return "worker processes alive without a session: %s" % [
                "w%d %s %s" % (w.index, w.describe(), (w.stderr or [""])[-1][:100])
                for w in detached[:5]]
        sessions = {}
        for w in alive:
            sid = w.session()
            if sid:
                sessions[sid] = (w, self.nodes[w.node_i].name)
        want = {sid: node for sid, (w, node) in sessions.items() if not draining[node]}
        placed = self.rhash("workers")
        ghosts = {k: v for k, v in placed.items() if k not in sessions}
        if ghosts:
            return "ghost workers in placement (no live session): %r" % ghosts
        if placed != want:
            return "placement %r, live sessions of nodes not draining %r" % (
                sorted(placed.items()), sorted(want.items()))
        wait = rcmd(self.redis.sock, "ZRANGE", self.base() + "wait", 0, -1)
        disp = self.rhash("disp")
        if wait or disp:
            return "waiting %r, dispatching %r" % ([show(kdec(k)) for k in wait][:5],
                                                  sorted(disp.items())[:5])
        jobs = self.rkeys("jobs")
        owner = self.rhash("owner")
        run = {}
        for w in alive:
            for k, sid in w.running_ids().items():
                run.setdefault(k, []).append((w, sid))
        two = {show(k): ["w%d" % w.index for w, _ in v] for k, v in run.items() if len(v) > 1}
        if two:
            return "running on two workers: %r" % two
        if set(run) != jobs:
            return "in Redis, not running: %r; running, not in Redis: %r" % (
                sorted(show(k) for k in jobs - set(run)),
                sorted("%s on w%d" % (show(k), run[k][0][0].index) for k in set(run) - jobs))
        for k, [(w, sid)] in run.items():
            o = owner.get(k, "").split()
            if sid != w.session():
                return "%s runs on w%d under an old session %s" % (show(k), w.index, sid)
            if len(o) != 3 or o[1] != sid or o[0] != self.nodes[w.node_i].name:
                return "owner of %s is %r, runs on %s (w%d on n%d)" % (
                    show(k), owner.get(k), sid, w.index, w.node_i)
        return None

    def settle(self):
        last = [None]

        def quiet():
            try:
                self.ensure_capacity()  # a worker may leave while we wait
                last[0] = self.settled()
            except (OSError, ConnectionError, RedisError) as e:
                last[0] = "redis: %s" % e
            return last[0] is None
        try:
            harness.wait_for(quiet, SETTLE_S, "the pool to settle", 0.1)
        except AssertionError:
            self.fail("the pool did not settle in %.0fs: %s\n%s"
                      % (SETTLE_S * SLOW, last[0], self.diagnose()))

    def diagnose(self):
        """What Redis and the workers hold, for a settle that timed out."""
        out = []
        try:
            b = self.base()
            out.append("B workers %r" % sorted(self.rhash("workers").items()))
            nodes = rcmd(self.redis.sock, "ZRANGE", b + "nodes", 0, -1, "WITHSCORES") or []
            out.append("B nodes %r (Redis time %r)" % (
                [kdec(x) for x in nodes], rcmd(self.redis.sock, "TIME")))
            owner = self.rhash("owner")
            out.append("B owner %r" % sorted((show(k), v) for k, v in owner.items()))
            out.append("B wait %r" % [show(kdec(k)) for k in rcmd(
                self.redis.sock, "ZRANGE", b + "wait", 0, -1) or []])
            out.append("B disp %r" % sorted((show(k), v) for k, v in self.rhash("disp").items()))
            for i in range(NODES):
                nj = rcmd(self.redis.sock, "SMEMBERS", b + "njobs:n%d" % i) or []
                out.append("B njobs:n%d %r" % (i, sorted(show(kdec(k)) for k in nj)))
        except (OSError, ConnectionError, RedisError) as e:
            out.append("redis: %s" % e)
        for w in self.workers:
            if w.alive():
                out.append("w%d %s: session %s, runs %r; stderr %r" % (
                    w.index, w.describe(), w.session(),
                    sorted((show(k), sid) for k, sid in w.running_ids().items()),
                    w.stderr[-3:]))
        for i in range(NODES):
            st = self.status(i) or {}
            out.append("n%d status: draining %r, pools %r" % (
                i, st.get("draining"), st.get("pools")))
        return "\n".join(out)

    # --- the history and the model ---------------------------------------

    def intervals(self):
        try:
            iv = harness.intervals(self.workers)
        except AssertionError as e:
            self.fail("history: %s" % e)
        for key, runs in iv.items():
            runs.sort(key=lambda r: r[0])
        return iv

    def check_history(self):
        iv = self.intervals()
        slow = {w.id for w in self.workers if w.slow}
        for key, runs in iv.items():
            for a, b in zip(runs, runs[1:]):
                if a[1] is None or a[1] > b[0]:
                    if a[2] in slow or b[2] in slow:
                        if (key, a[0], b[0]) not in self.excused:
                            self.excused.add((key, a[0], b[0]))
                            self.note("      note: %s ran on %s and %s at once (%.0f ms), one "
                                      "of them a worker with handlers past the time budget "
                                      "(PROTOCOL.md 6.5): allowed" % (
                                          show(key), a[2], b[2],
                                          ((a[1] or now_ns()) - b[0]) / 1e6))
                        continue
                    self.fail("key %s ran on %s and %s at once: %r" % (
                        show(key), a[2], b[2], [(s, e, w) for s, e, w in runs][-6:]))
        problems = check_model(self.reqs, self.losses + self.fenced_after_loss(), self.observed,
                               iv, self.notify_events(), slow)
        if problems:
            self.fail("the model: " + "\n  ".join([""] + problems[:20]))

    def fenced_after_loss(self):
        """The losses a self-fence stretched: a node fenced when Redis lost
        its data, or that fenced itself before it re-joined (cut off,
        SIGSTOPped), stopped the only copies of its jobs, and Redis knows
        nothing of them once the rebuild window (one TTL) has passed. A stop
        or notify may then rightly answer JOB_NOT_FOUND and a dispatch OK
        (a new job: the fenced copy is stopped); the node's next join
        queues the fenced jobs again only where nothing answered meanwhile
        (README, "What Redis can lose"). So until that join the history
        treats those jobs as lost, as it does for a node killed before it
        re-joined (op_pulsed_kill)."""
        out = []
        for n in self.nodes:
            events = node_events(n)
            for t0, _ in self.losses:
                before = [kind for t, kind in events if t <= t0]
                after = [(t, kind) for t, kind in events if t > t0]
                join = next((t for t, kind in after if kind == "join"), None)
                fenced = before[-1:] == ["fence"] or any(
                    kind == "fence" and (join is None or t < join) for t, kind in after)
                if fenced:
                    out.append((t0, join or now_ns()))
        return out

    def notify_events(self):
        """payload -> [(ns, worker id, key)] of every notify a worker saw."""
        out = {}
        for w in self.workers:
            for ev in w.events():
                if ev[0] == "notify" and len(ev) >= 5:
                    out.setdefault(ev[4], []).append((int(ev[3]), ev[2], ev[1]))
        return out


def covered(runs, t0, t1):
    """Whether one run interval spans [t0, t1] (the key ran on a worker
    all through a loss of Redis's data, so the rebuild must restore it)."""
    return any(s <= t0 and (e is None or e >= t1) for s, e, _ in runs)


def node_events(node):
    """[(ns, "join" | "fence")]: when the node joined the soak pool and
    when it fenced itself, from its log, in order."""
    out = []
    for line in node.logtext(full=True).splitlines():
        if ("pool %s: joined as node" % POOL) in line:
            kind = "join"
        elif ("pool %s: lease not renewed" % POOL) in line and "self-fence" in line:
            kind = "fence"
        else:
            continue
        try:
            ts = calendar.timegm(time.strptime(line[:19], "%Y-%m-%dT%H:%M:%S"))
            out.append((ts * 10**9 + int(line[20:23]) * 10**6, kind))
        except ValueError:
            continue
    return out


def last_join_ns(node):
    """When the node last joined the soak pool, from its log (0: never)."""
    joins = [t for t, kind in node_events(node) if kind == "join"]
    return joins[-1] if joins else 0


def check_model(reqs, losses, observed, iv, notes, slow=()):
    """The reference model over the history (see the header): a list of
    contradictions, empty when none. Runs on the workers in slow (ids of
    workers with handlers past the time budget) may outlast a stop's
    answer, or begin after it (a START that waited behind slow handlers),
    under a fault, as PROTOCOL.md 6.5 says: those runs are not held
    against the answers."""
    problems = []

    t_first = min([r.call_ns for r in reqs] + [t for t, _ in observed] + [now_ns()])

    def losses_since(t):
        ls = ["+%.3fs" % ((t0 - t_first) / 1e9) for t0, _ in losses if t0 >= t]
        return "; Redis lost its data since at %s" % ", ".join(ls) if ls else \
            "; no loss of Redis data since"
    by_key = {}
    for r in reqs:
        by_key.setdefault(r.key, []).append(r)
    keys = set(by_key) | {k for _, obs in observed for k in obs} | set(iv)
    for key in sorted(keys):
        runs = iv.get(key, [])
        items = [(r.call_ns, 1, r) for r in by_key.get(key, [])]
        items += [(t0, 0, ("loss", t0, t1)) for t0, t1 in losses]
        items += [(t, 2, ("cp", t, obs)) for t, obs in observed]
        items.sort(key=lambda x: (x[0], x[1]))
        state = "absent"
        est = 0                 # ns of the answer that set the state
        absent_since = 0        # ns from which the key is known absent
        windows = []            # (from, to, why): no run may start inside
        why = "never dispatched"
        for _, _, it in items:
            if isinstance(it, tuple) and it[0] == "loss":
                _, t0, t1 = it
                if state == "exists" and not covered(runs, t0, t1):
                    state = "unknown"
                continue
            if isinstance(it, tuple) and it[0] == "cp":
                _, t, obs = it
                present = key in obs
                if state == "exists" and not present:
                    problems.append("%s lost: it existed (%s), not in Redis at the "
                                    "checkpoint%s" % (show(key), why, losses_since(est)))
                if state == "absent" and present:
                    problems.append("%s came back: known absent (%s), in Redis at the "
                                    "checkpoint" % (show(key), why))
                if present:
                    if state == "absent":
                        windows.append((absent_since, t, why))
                    state, why, est = "exists", "seen at a checkpoint", t
                elif state != "absent":
                    state, absent_since, why, est = "absent", t, "not in Redis at a checkpoint", t
                continue
            r = it
            tainted = any(t0 < r.ret_ns and t1 > r.call_ns for t0, t1 in losses)
            what = "#%d %s n%d -> %s" % (r.seq, r.kind, r.node, r.code)
            spans = [x for x in runs if x[0] < r.call_ns and (x[1] is None or x[1] > r.ret_ns)
                     and x[2] not in slow]
            if r.kind == "dispatch":
                if state == "absent":
                    windows.append((absent_since, r.call_ns, why))
                if r.code == "OK":
                    if state == "exists" and not tainted:
                        problems.append("%s: %s, but the key existed (%s)%s" % (
                            show(key), what, why, losses_since(est)))
                    if not any(r.call_ns <= s <= r.ret_ns for s, _, _ in runs):
                        problems.append("%s: %s without a start in a worker before the "
                                        "answer" % (show(key), what))
                    state, why, est = "exists", what, r.call_ns
                elif r.code == "JOB_EXISTS":
                    if state == "absent" and not tainted:
                        problems.append("%s: %s, but the key was absent (%s)" % (show(key), what, why))
                    state, why, est = "exists", what, r.call_ns
                elif r.code == "HANDLER":
                    state, absent_since, why, est = "absent", r.ret_ns, what, r.call_ns
                elif r.code == "INVALID":
                    if key != BAD_KEY:
                        problems.append("%s: %s (%s)" % (show(key), what, r.msg))
                    if state == "absent":  # nothing was created
                        pass
                elif r.code == "NOCONN":
                    pass
                else:
                    state, why, est = "unknown", what, r.call_ns
            elif r.kind == "stop":
                if r.code in ("OK", "HANDLER"):
                    if state == "absent" and not tainted:
                        problems.append("%s: %s, but the key was absent (%s)" % (show(key), what, why))
                    state, absent_since, why, est = "absent", r.ret_ns, what, r.call_ns
                    if [x for x in runs if x[0] < r.ret_ns and (x[1] is None or x[1] > r.ret_ns)
                            and x[2] not in slow]:
                        problems.append("%s: %s while a worker still ran it: %r"
                                        % (show(key), what, runs[-3:]))
                elif r.code == "JOB_NOT_FOUND":
                    if state == "exists" and not tainted:
                        problems.append("%s: %s, but the key existed (%s)%s" % (
                            show(key), what, why, losses_since(est)))
                    if spans:
                        problems.append("%s: %s while a worker ran it all along: %r"
                                        % (show(key), what, spans))
                    if state != "absent":
                        state, absent_since, why, est = "absent", r.ret_ns, what, r.call_ns
                elif r.code == "INVALID":
                    if key != BAD_KEY:
                        problems.append("%s: %s (%s)" % (show(key), what, r.msg))
                elif r.code != "NOCONN":
                    state, why, est = "unknown", what, r.call_ns
            else:  # notify
                if r.code in ("OK", "HANDLER"):
                    if state == "absent" and not tainted:
                        problems.append("%s: %s, but the key was absent (%s)" % (show(key), what, why))
                        windows.append((absent_since, r.call_ns, why))
                    state, why, est = "exists", what, r.call_ns
                    if r.code == "OK":
                        seen = [n for n in notes.get(r.payload.decode(), []) if n[2] == key]
                        if not seen:
                            problems.append("%s: %s, no worker saw the notification"
                                            % (show(key), what))
                        elif len(seen) > 1:
                            problems.append("%s: %s, delivered %d times: %r"
                                            % (show(key), what, len(seen), seen))
                elif r.code == "JOB_NOT_FOUND":
                    if state == "exists" and not tainted:
                        problems.append("%s: %s, but the key existed (%s)%s" % (
                            show(key), what, why, losses_since(est)))
                    if spans:
                        problems.append("%s: %s while a worker ran it all along: %r"
                                        % (show(key), what, spans))
                    if state != "absent":
                        state, absent_since, why, est = "absent", r.ret_ns, what, r.call_ns
                elif r.code == "INVALID":
                    if key != BAD_KEY:
                        problems.append("%s: %s (%s)" % (show(key), what, r.msg))
            if tainted and state == "exists" and any(
                    t0 < r.ret_ns and t1 > r.call_ns and not covered(runs, t0, t1)
                    for t0, t1 in losses):
                state = "unknown"   # admitted, maybe just before the loss
        if state == "absent":
            windows.append((absent_since, None, why))
        for a, b, why in windows:
            bad = [x for x in runs if x[0] > a and (b is None or x[0] < b) and x[2] not in slow]
            if bad:
                problems.append("%s started while known absent (%s): run %r" %
                                (show(key), why, bad[:3]))
    return problems


def key_of(k):
    return KEYS[k] if k < len(KEYS) else BAD_KEY


def fmt_op(op):
    k = op[0]
    if k in ("dispatch", "stop", "notify"):
        return "%s n%d %s" % (k, op[1], show(key_of(op[2])))
    if k == "attach":
        return "attach n%d %s" % (op[1], json.dumps(op[2], separators=(",", ":")))
    if k == "ghost":
        return "ghost n%d %s %s" % (op[1], "named" if op[2] else "anon", op[3])
    if k == "sigcont":
        return "sigcont n%d (>= %d ms)" % (op[1], op[2])
    if len(op) == 2 and k not in ("sleep", "redis_pause", "detach", "kill9", "term"):
        return "%s n%d" % (k, op[1])
    return " ".join(str(x) for x in op)


# ---------------------------------------------------------------------------
# One run: a private directory, the processes, teardown.

class Run:
    def __init__(self, keep=False):
        self.tmp = tempfile.mkdtemp(prefix="sk", dir="/tmp")  # short: socket paths
        self.procs = harness.Procs()
        self.soak = None
        self.keep = keep

    def close(self, failed):
        s = self.soak
        nodes = {n.proc for n in (s.nodes if s else []) if n.proc}
        for p in self.procs.procs:
            if p not in nodes and p.poll() is None:
                p.kill()
        for p in nodes:
            if p.poll() is None:
                p.send_signal(signal.SIGCONT)
                p.send_signal(signal.SIGTERM)
        for p in nodes:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.procs.killall()
        for px in (s.proxies if s else []):
            px.close()
        if not failed and not self.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)


def node_log(n):
    """A node's log less the lines about the test's own short sessions
    (status polls, requests): what the node did."""
    me = "(pid %d " % os.getpid()
    return "".join(l for l in n.logtext(full=True).splitlines(True)
                   if me not in l and "pid %d uid" % os.getpid() not in l)


def ops_for(seed, steps=None, opsfile=None):
    if opsfile:
        with open(opsfile) as f:
            ops = [json.loads(l) for l in f if l.strip() and not l.startswith("#")]
        if steps is not None:
            ops = ops[:steps]
        if not ops or ops[-1] != ["checkpoint"]:
            ops.append(["checkpoint"])
        return ops
    return generate(seed, steps)


def run_once(seed, ops, out=print, keep=False, label=None):
    """Run one list; returns None, or the failure text (with the trace)."""
    run = Run(keep)
    failed = None
    t0 = time.monotonic()
    out("soak: %s, %d operations, build %s" % (label or "SOAK_SEED=%s" % seed,
                                               len(ops), harness.BUILD))
    try:
        run.soak = Soak(run.tmp, run.procs, seed, ops, out)
        run.soak.run()
    except SoakFailure as e:
        failed = str(e)
    except Exception as e:  # noqa: BLE001: a bug of the test itself, reported as such
        import traceback
        failed = "the test itself failed: %r\n%s" % (e, traceback.format_exc())
    s = run.soak
    if failed is None and s is not None:
        for n in s.nodes:
            text = n.logtext(full=True)
            if "Sanitizer" in text or "runtime error:" in text:
                failed = "sanitizer report from %s:\n%s" % (n.name, text[-4000:])
    if failed is not None:
        opsfile = os.path.join(run.tmp, "ops.jsonl")
        with open(opsfile, "w") as f:
            f.write("# %s\n" % (label or "SOAK_SEED=%s" % seed))
            for op in ops:
                f.write(json.dumps(op) + "\n")
        logs = ""
        if s is not None:
            logs = "".join("\n----- log of %s (%s), without the test's own "
                           "sessions -----\n%s" % (n.name, n.log, node_log(n)[-3000:])
                           for n in s.nodes)
        trace = "\n".join(s.trace) if s else ""
        skip = "SOAK_SKIP=%s " % ",".join(sorted(SKIP)) if SKIP else ""
        if label and label.startswith("SOAK_OPS="):
            replay = "%s%s make soak-short" % (skip, label)
        else:
            replay = "%sSOAK_SEED=%s%s make soak-short" % (
                skip, seed, "" if len(ops) - 1 >= DEFAULT_STEPS else
                " SOAK_STEPS=%d" % (len(ops) - 1))
        failed = ("soak FAILED: %s after %.0fs\n%s\n\nthe operations and their outcomes:\n%s\n"
                  "\nreason: %s\n\nreplay: %s  (or: %sPULSE_BUILD=%s /usr/bin/python3 "
                  "tests/soak/model.py --ops %s)\nkept: %s%s"
                  % (label or "SOAK_SEED=%s" % seed, time.monotonic() - t0,
                     "counts: %r" % (s.counts if s else {}), trace, failed, replay,
                     skip, harness.BUILD, opsfile, run.tmp, logs))
    run.close(failed is not None)
    if failed is None:
        out("soak: %s passed in %.0fs, %d checkpoints, %r"
            % (label or "SOAK_SEED=%s" % seed, time.monotonic() - t0,
               s.checkpoints, sorted(s.counts.items())))
    return failed


# ---------------------------------------------------------------------------
# Shrinking: drop chunks of operations while the run still fails the same
# way (the first line of the reason), each candidate tried a few times
# (failures depend on timing).

KINDS = ["ghost workers", "live sessions of nodes not draining", "alive without a session",
         "waiting", "in Redis, not running", "running on two", "ran on", "second START",
         "exited", "the test itself", " lost:", "came back", "but the key existed",
         "but the key was absent", "started while known absent", "while a worker",
         "no worker saw", "delivered", "without a start", "still waits"]


def failure_kind(text):
    """The class of a failure, for the shrinker: the first of KINDS that
    its reason names."""
    reason = text.split("\nreason: ", 1)[-1].split("\n\nreplay:", 1)[0]
    for k in KINDS:
        if k in reason:
            return k
    return reason[:60]


def shrink(seed, ops, tries=2, minutes=60, out=print):
    quiet = lambda line: None  # noqa: E731
    deadline = time.monotonic() + minutes * 60
    first = None
    for _ in range(tries + 1):
        first = run_once(seed, ops, quiet)
        if first:
            break
    if not first:
        out("shrink: the list does not fail (%d tries)" % (tries + 1))
        return None
    kind = failure_kind(first)
    out("shrink: fails with %r; %d operations" % (kind, len(ops)))
    body = ops[:-1]
    chunk = max(1, len(body) // 2)
    while chunk >= 1 and time.monotonic() < deadline:
        i = 0
        progress = False
        while i < len(body) and time.monotonic() < deadline:
            cand = body[:i] + body[i + chunk:]
            ok = False
            for _ in range(tries):
                res = run_once(seed, cand + [["checkpoint"]], quiet)
                if res and failure_kind(res) == kind:
                    ok = True
                    break
            if ok:
                body = cand
                progress = True
                out("shrink: %d operations still fail" % len(body))
            else:
                i += chunk
        if not progress:
            chunk //= 2
    final = body + [["checkpoint"]]
    out("shrink: %d operations:" % len(final))
    for op in final:
        out(json.dumps(op))
    return final


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--ops")
    ap.add_argument("--minutes", type=float, default=None)
    ap.add_argument("--shrink", action="store_true")
    ap.add_argument("--tries", type=int, default=2)
    ap.add_argument("--shrink-minutes", type=float, default=60)
    ap.add_argument("--print", action="store_true")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--keep-going", action="store_true",
                    help="with --minutes: go on after a failure")
    a = ap.parse_args(argv)
    env_seed = os.environ.get("SOAK_SEED")
    seed = a.seed if a.seed is not None else (int(env_seed) if env_seed else None)
    steps = a.steps if a.steps is not None else (
        int(os.environ["SOAK_STEPS"]) if os.environ.get("SOAK_STEPS") else None)
    opsfile = a.ops or os.environ.get("SOAK_OPS") or None
    if seed is None:
        seed = random.randrange(1 << 32)
    if a.print:
        for op in ops_for(seed, steps, opsfile):
            print(json.dumps(op))
        return 0
    if a.shrink:
        return 0 if shrink(seed, ops_for(seed, steps, opsfile), a.tries,
                           a.shrink_minutes) else 1
    if a.minutes is None:
        res = run_once(seed, ops_for(seed, steps, opsfile), keep=a.keep,
                       label="SOAK_OPS=%s" % opsfile if opsfile else None)
        if res:
            print(res)
        return 1 if res else 0
    end = time.monotonic() + a.minutes * 60
    runs = fails = 0
    while time.monotonic() < end:
        res = run_once(seed, generate(seed, steps), keep=a.keep)
        runs += 1
        if res:
            fails += 1
            print(res)
            if not a.keep_going:
                break
        seed += 1
    print("soak: %d runs, %d failed, in %.1f minutes" % (runs, fails, a.minutes))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
