"""chaos.py: the pool under faults, and the checker that judges the history.

Owns: a Cluster (a private redis-server, three pulsed nodes each behind
its own TCP proxy to Redis, named test workers that re-attach when their
pulsed comes back, a ticker subscriber and a schedule producer per node),
the Traffic that keeps dispatches, stops, notifies and abandoned
dispatches going while faults are injected, the faults of DESIGN.md
section 5, and check(), which runs once the pool has settled.

What the checker asserts (over the workers' event logs and Redis):
  - no two run intervals of one key overlap (no instant with two owners);
  - every job in Redis (`B jobs`) runs on exactly one live worker, that
    worker is the job's owner in `B owner`, nothing runs that is not in
    Redis, and nothing waits (`B wait`, `B disp` empty);
  - nothing is lost: every key whose dispatch was answered OK (and that
    no later STOP removed) exists, unless Redis itself lost it: Redis
    restarted empty or flushed at an instant when no worker ran the key
    (a job between owners lives only in Redis); every key whose STOP was
    answered OK is gone; no NOTIFY or STOP of an existing key got
    JOB_NOT_FOUND outside such a loss;
  - nothing is unexpected: every job that exists was dispatched by this
    test (by a caller or by the schedule);
  - no tick was delivered twice (a (seq, ts) pair seen by two
    subscribers, or twice by one), the ticker ticks again after the
    faults; each tick of the schedule was won by one node (the nodes'
    debug logs say which) and no node's producers computed more plans
    than the ticks it won (no plan applied twice);
  - the schedule's keys run after the faults (a flush is rebuilt by the
    next plan).
Requests whose outcome is unknown (TIMEOUT, a closed session, a caller
that hung up) are resolved by what Redis holds at the end: DESIGN.md P2.

Invariants: every process is registered with Procs and killed at
teardown; waiting is on conditions with deadlines (harness.wait_for);
the random choices come from one seeded Random, printed on failure.
"""
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

import harness  # noqa: E402
from harness import SLOW, scaled, wait_for, frame, read_frame  # noqa: E402

POOL = "chaos"
TTL_MS = int(300 * SLOW)
ACK_GRACE_MS = int(1000 * SLOW)
TICK_MS = 100
PLAN_MS = 300
SCHED_KEYS = ["s-%d" % i for i in range(10)]


def now_ns():
    return time.time_ns()


class Caller:
    """One client session speaking the raw protocol, one request at a time
    (a test must see every answer to know what happened)."""

    def __init__(self, sock):
        self.s = harness.raw_session(sock)
        self.s.settimeout(2 * ACK_GRACE_MS / 1000 + 5 * SLOW)
        self.s.sendall(frame({"t": 1, "v": 1, "role": "client"}))
        m = read_frame(self.s)
        if not m or m.get("t") != 2:
            self.close()
            raise ConnectionError("no WELCOME: %r" % (m,))
        self.id = 0

    def send(self, t, **fields):
        self.id += 1
        msg = {"t": t, "id": self.id, "pool": POOL}
        msg.update(fields)
        self.s.sendall(frame(msg))
        return self.id

    def call(self, t, **fields):
        """The answer's code: "OK" or an error code; raises OSError /
        ConnectionError when the session ends without an answer."""
        rid = self.send(t, **fields)
        while True:
            m = read_frame(self.s)
            if m is None:
                raise ConnectionError("session closed")
            if m.get("id") == rid:
                return "OK" if m["t"] == 4 else m.get("code", "?")
            if m.get("t") == 3 and m.get("id") == 0:
                raise ConnectionError("session closed: %s" % m.get("code"))

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


class Ledger:
    """What the callers know about each key: "exists" (dispatch OK),
    "gone" (stop OK), "unknown" (the answer did not tell). Also every
    JOB_NOT_FOUND seen for a key believed to exist, with its time."""

    def __init__(self):
        self.lock = threading.Lock()
        self.state = {}
        self.not_found = []
        self.counts = {}

    def set(self, key, state):
        with self.lock:
            self.state[key] = state

    def count(self, what):
        with self.lock:
            self.counts[what] = self.counts.get(what, 0) + 1

    def snapshot(self):
        with self.lock:
            return dict(self.state), list(self.not_found)


class Traffic:
    """A thread per node dispatching new keys, stopping and notifying
    existing ones, and now and then hanging up in the middle of a
    dispatch, until stopped. Each thread owns its keys (prefix c<i>-), so
    the ledger's view of a key is never raced by another caller."""

    OPS_PER_S = 60

    def __init__(self, cluster, ledger, rng, abandon=0.05, hang_keys=0.0):
        self.cluster = cluster
        self.ledger = ledger
        self.abandon = abandon
        self.hang_keys = hang_keys
        self.stop_ev = threading.Event()
        self.threads = []
        self.errors = []
        for i in range(len(cluster.nodes)):
            r = random.Random(rng.random())
            th = threading.Thread(target=self._run, args=(i, r), daemon=True)
            self.threads.append(th)

    def start(self):
        for th in self.threads:
            th.start()

    def stop(self):
        self.stop_ev.set()
        for th in self.threads:
            th.join(timeout=30 * SLOW)
        assert not any(th.is_alive() for th in self.threads), "traffic hung"
        assert not self.errors, self.errors

    def _run(self, i, rng):
        try:
            self._loop(i, rng)
        except Exception as e:  # a bug in the test itself: report it
            self.errors.append("traffic %d: %r" % (i, e))

    def _loop(self, i, rng):
        node = self.cluster.nodes[i]
        mine = []  # keys this thread believes exist
        n = 0
        caller = None
        while not self.stop_ev.is_set():
            self.stop_ev.wait(1.0 / self.OPS_PER_S)
            if caller is None:
                try:
                    caller = Caller(node.sock)
                except (OSError, ConnectionError):
                    caller = None
                    self.stop_ev.wait(0.05)
                    continue
            op = rng.random()
            try:
                if op < 0.45 or not mine:
                    n += 1
                    prefix = "h-" if rng.random() < self.hang_keys else "c%d-" % i
                    key = "%s%d" % (prefix, n) if prefix != "h-" else "h-%d-%d" % (i, n)
                    if rng.random() < self.abandon:
                        # a caller that hangs up in the middle of a dispatch
                        self.ledger.set(key, "unknown")
                        caller.send(10, key=key, payload=b"x")
                        caller.close()
                        caller = None
                        self.ledger.count("abandoned")
                        continue
                    self.ledger.set(key, "unknown")
                    code = caller.call(10, key=key, payload=b"p" + key.encode(),
                                       timeout=2 * ACK_GRACE_MS)
                    self.ledger.count("dispatch " + code)
                    if code == "OK":
                        self.ledger.set(key, "exists")
                        mine.append(key)  # an h- key's stop may hang its worker
                    elif code == "JOB_EXISTS":
                        self.cluster.fail("fresh key %s got JOB_EXISTS" % key)
                elif op < 0.7:
                    key = mine.pop(rng.randrange(len(mine)))
                    self.ledger.set(key, "unknown")
                    code = caller.call(11, key=key, timeout=2 * ACK_GRACE_MS)
                    self.ledger.count("stop " + code)
                    if code == "OK":
                        self.ledger.set(key, "gone")
                    elif code == "JOB_NOT_FOUND":
                        self._not_found(key)
                else:
                    key = rng.choice(mine)
                    code = caller.call(12, key=key, payload=b"n",
                                       timeout=2 * ACK_GRACE_MS)
                    self.ledger.count("notify " + code)
                    if code == "JOB_NOT_FOUND":
                        self._not_found(key)
                        mine.remove(key)
            except (OSError, ConnectionError):
                # pulsed went away mid-request: the outcome is unknown,
                # which the ledger already says for dispatches and stops
                self.ledger.count("session lost")
                if caller:
                    caller.close()
                caller = None
        if caller:
            caller.close()

    def _not_found(self, key):
        with self.ledger.lock:
            self.ledger.not_found.append((key, now_ns()))
            self.ledger.state[key] = "unknown"


class Cluster:
    """Redis, three nodes behind proxies, workers, tickers and a schedule."""

    def __init__(self, tmp, procs, rng, workers_per_node=3, hang=False):
        self.tmp = tmp
        self.procs = procs
        self.rng = rng
        self.redis = harness.Redis(procs, tmp)
        self.proxies = []
        self.nodes = []
        self.workers = []      # every worker ever started (the history)
        self.live = {}         # node name -> [live workers]
        self.ticks = []        # tick watchers ever started
        self.planners = []
        self.redis_losses = []  # (ns before, ns after) of each loss of data
        self.failures = []
        self.abandoned = set()  # keys of dispatches whose caller hung up
        self.gen = 0
        pools = {POOL: {"worker_ttl": "%dms" % TTL_MS,
                        "ack_grace_period": "%dms" % ACK_GRACE_MS,
                        "pending_job_ttl": "200ms",
                        "max_queued_jobs": 100000}}
        for i in range(3):
            px = harness.Proxy(self.redis.port)
            self.proxies.append(px)
            n = harness.Node(procs, tmp, self.redis, "n%d" % i, pools,
                             {"redis": {"url": px.url()}},
                             debug=True)  # the checker reads won ticks
            n.start()
            self.nodes.append(n)
            self.live[n.name] = []
        for n in self.nodes:
            for _ in range(workers_per_node):
                self.add_worker(n)
        self.hang_workers = []
        if hang:
            self.add_worker(self.nodes[0], "--hang-start", "h-")
            self.add_worker(self.nodes[1], "--hang-stop", "h-")
        self.planfile = os.path.join(tmp, "plan")
        with open(self.planfile, "w") as f:
            f.write("".join("start %s\n" % k for k in SCHED_KEYS) + "all\n")
        for n in self.nodes:
            self.add_clock_users(n)

    def fail(self, msg):
        self.failures.append(msg)

    # --- processes -----------------------------------------------------

    def add_worker(self, node, *opts):
        self.gen += 1
        name = "w%s-%d" % (node.name, self.gen)
        w = harness.Worker(self.procs, self.tmp, node, POOL, name,
                           ("--reattach",) + opts)
        w.opts = opts
        self.workers.append(w)
        self.live[node.name].append(w)
        return w

    def add_clock_users(self, node):
        t = harness.LogTool()
        t.node = node
        t.log = os.path.join(self.tmp, "tick-%s-%d.log" % (node.name, len(self.ticks)))
        t.spawn(self.procs, [os.path.join(harness.BUILD, "tests", "tickwatch"),
                             "-s", node.sock, "-p", POOL, "-N", "clock",
                             "-i", str(TICK_MS), "-l", t.log])
        self.ticks.append(t)
        p = harness.LogTool()
        p.node = node
        p.log = os.path.join(self.tmp, "plan-%s-%d.log" % (node.name, len(self.planners)))
        p.spawn(self.procs, [os.path.join(harness.BUILD, "tests", "planner"),
                             "-s", node.sock, "-p", POOL, "-N", "sched",
                             "-i", str(PLAN_MS), "-f", self.planfile, "-l", p.log])
        self.planners.append(p)

    def restore_clock_users(self):
        """A tickwatch or planner whose session ended (its pulsed died)
        exits; start a new one on that node."""
        for n in self.nodes:
            tools = [t for t in self.ticks + self.planners if t.node is n]
            if sum(1 for t in tools if t.proc.poll() is None) < 2:
                for t in tools:
                    if t.proc.poll() is None:
                        t.proc.terminate()
                wait_for(lambda: n.ready(), 20, "pulsed %s to answer" % n.name)
                self.add_clock_users_retry(n)

    def add_clock_users_retry(self, node):
        def attempt():
            try:
                self.add_clock_users(node)
                return True
            except AssertionError:
                return False
        wait_for(attempt, 20, "a ticker and a planner on %s" % node.name, 0.2)

    def kill_worker(self, w):
        w.kill()
        for ws in self.live.values():
            if w in ws:
                ws.remove(w)

    def bulk(self, count, prefix="b-"):
        r = subprocess.run([os.path.join(harness.BUILD, "tests", "bulkdispatch"),
                            "-s", self.nodes[0].sock, "-p", POOL, "-n", str(count),
                            "-k", prefix], capture_output=True, text=True,
                           timeout=120 * SLOW)
        assert r.returncode == 0, r.stdout + r.stderr
        print("bulk:", r.stdout.strip())
        return ["%s%d" % (prefix, i) for i in range(count)]

    def redis_loss(self, action):
        """Run action (which may lose Redis's data) and note when."""
        t0 = now_ns()
        action()
        self.redis_losses.append((t0, now_ns()))

    # --- Redis views ---------------------------------------------------

    def base(self):
        return "pulse:{%s}:" % POOL

    def hash(self, name):
        """A pool hash whose values are never empty (owner, disp)."""
        out = [x for x in self.redis.cli("HGETALL", self.base() + name).split("\n") if x]
        return dict(zip(out[0::2], out[1::2]))

    def jobs(self):
        """The keys of `B jobs` (payloads may be empty: keys only)."""
        return {x for x in self.redis.cli("HKEYS", self.base() + "jobs").split("\n") if x}

    def zcard(self, name):
        return int(self.redis.cli("ZCARD", self.base() + name) or 0)

    # --- settle and check ----------------------------------------------

    def running_by_key(self):
        run = {}
        for ws in self.live.values():
            for w in ws:
                for k in w.running():
                    run.setdefault(k, []).append(w.id)
        return run

    def settled(self):
        """None once the pool is quiet and Redis matches what runs, else a
        description of the first difference (for the timeout message)."""
        for n in self.nodes:
            if not n.ready():
                return "%s not ready" % n.name
            st = n.pool_status(POOL)
            if not st or st["state"] != "active":
                return "%s pool state %r" % (n.name, st and st["state"])
        # every live worker in placement: none still attaching (an attach
        # moves jobs, so the pool is not quiet until it is done)
        live = {w.id for ws in self.live.values() for w in ws}
        placed = set(self.hash("workers"))
        if placed != live:
            return "workers live %d, in placement %d" % (len(live), len(placed))
        jobs = self.jobs()
        owner = self.hash("owner")
        wait, disp = self.zcard("wait"), self.hash("disp")
        if wait or disp:
            return "waiting %d, dispatching %d %r" % (
                wait, len(disp), sorted(disp.items())[:3])
        run = self.running_by_key()
        two = {k: v for k, v in run.items() if len(v) > 1}
        if two:
            return "on two workers: %r" % list(two.items())[:5]
        if set(run) != jobs:
            return ("not running: %r; running, not in Redis: %r"
                    % (sorted(jobs - set(run))[:10], sorted(set(run) - jobs)[:10]))
        for k, wids in run.items():
            o = owner.get(k, "").split()
            if len(o) != 3 or o[1] != wids[0]:
                return "owner of %s is %r, runs on %s" % (k, owner.get(k), wids[0])
        if set(SCHED_KEYS) - jobs:
            return "schedule keys missing: %r" % sorted(set(SCHED_KEYS) - jobs)
        return None

    def settle(self, timeout):
        last = [None]

        def quiet():
            last[0] = self.settled()
            return last[0] is None
        try:
            wait_for(quiet, timeout, "the pool to settle", 0.1)
        except AssertionError:
            raise AssertionError("the pool did not settle in %.0fs: %s"
                                 % (timeout * SLOW, last[0]))

    def lost_by_redis(self, key, iv):
        """Whether Redis may have lost key: some loss of data happened at an
        instant when no worker ran it (its record lived in Redis only)."""
        runs = iv.get(key, [])
        for t0, t1 in self.redis_losses:
            covered = any(s <= t0 and (e is None or e >= t1) for s, e, _ in runs)
            if not covered:
                return True
        return False

    def check(self, ledger, expected_extra=()):
        assert not self.failures, self.failures
        iv = harness.intervals(self.workers)
        for key, runs in iv.items():
            runs.sort(key=lambda r: r[0])
            for a, b in zip(runs, runs[1:]):
                assert a[1] is not None and a[1] <= b[0], \
                    "key %s ran on %s and %s at once: %r" % (key, a[2], b[2], runs)
        jobs = self.jobs()
        state, not_found = ledger.snapshot()
        known = set(state) | set(expected_extra) | set(SCHED_KEYS) | self.abandoned
        unexpected = sorted(jobs - known)
        assert not unexpected, "jobs nobody dispatched: %r" % unexpected[:20]
        must = [k for k, s in state.items() if s == "exists"]
        must += list(expected_extra)
        lost = sorted(k for k in must if k not in jobs and not self.lost_by_redis(k, iv))
        assert not lost, "lost %d jobs: %r" % (len(lost), lost[:20])
        back = sorted(k for k, s in state.items() if s == "gone" and k in jobs)
        assert not back, "stopped jobs running again: %r" % back[:20]
        nf = [k for k, t in not_found if not self.lost_by_redis(k, iv)]
        assert not nf, "JOB_NOT_FOUND for existing jobs: %r" % nf[:20]
        self.check_ticks()
        self.check_plans()

    def check_ticks(self):
        seen = {}
        for t in self.ticks:
            for seq, ts, _ in t.lines("tick"):
                seen[(seq, ts)] = seen.get((seq, ts), 0) + 1
        twice = [k for k, c in seen.items() if c > 1]
        assert not twice, "ticks delivered twice: %r" % twice[:10]
        if not self.redis_losses:
            seqs = [s for s, _ in seen]
            assert len(seqs) == len(set(seqs)), "a tick number delivered twice"

    def won(self, kind, name):
        """(node, seq, ts) of every tick of a clock that a node won, from
        the nodes' debug logs ("<kind> <name>: tick N (ts T) won here")."""
        pat = re.compile(r"pool %s: %s %s: tick (\d+) \(ts (\d+)\) won here"
                         % (POOL, kind, name))
        out = []
        for n in self.nodes:
            for m in pat.finditer(n.logtext(full=True)):
                out.append((n.name, int(m.group(1)), int(m.group(2))))
        return out

    def check_plans(self):
        """Each tick of the schedule is won by one node, and every plan a
        producer computed answers a tick its node won: a node never asks
        twice for one tick (producers killed with their node may have
        missed some, so plans <= won ticks)."""
        # The schedule keeps ticking: read the plans first, then the won
        # ticks (a node logs a win before its producer computes the plan).
        plans_by_node = {n.name: sum(len(p.lines("plan")) for p in self.planners
                                     if p.node is n) for n in self.nodes}
        won = self.won("sched", "sched")
        seen = {}
        for node, seq, ts in won:
            seen.setdefault((seq, ts), []).append(node)
        twice = {k: v for k, v in seen.items() if len(v) > 1}
        assert not twice, "schedule ticks won twice: %r" % list(twice.items())[:10]
        plans = 0
        for n in self.nodes:
            got = plans_by_node[n.name]
            mine = sum(1 for node, _, _ in won if node == n.name)
            assert got <= mine, ("producers on %s computed %d plans for %d ticks"
                                 % (n.name, got, mine))
            plans += got
        assert plans, "the schedule never planned"

    def ticking(self, since_ns):
        """A tick delivered after since_ns (the cadence survived)."""
        return any(r >= since_ns for t in self.ticks for _, _, r in t.lines("tick"))


# --- faults --------------------------------------------------------------
# Each fault injects once and heals what it broke before it returns, so
# that the next injection starts from a whole cluster, and returns
# (start_ns, healed_ns): when the fault began and when it ended (the
# process restarted, the link healed, Redis answering again). The fault
# loop pauses between injections; the last injection of a scenario runs
# without traffic, and the time from its start to a settled pool is the
# recovery time reported.

def pause_s(rng, ms):
    time.sleep(rng.uniform(0.5, 1.5) * ms / 1000.0)


def fault_worker_kill(c, rng):
    node = rng.choice(c.nodes)
    t0 = now_ns()
    if c.live[node.name]:
        c.kill_worker(rng.choice(c.live[node.name]))
    c.add_worker(node)
    return t0, t0


def fault_pulsed_kill(c, rng):
    node = rng.choice(c.nodes)
    t0 = now_ns()
    node.kill()
    pause_s(rng, TTL_MS)
    node.start()
    t1 = now_ns()
    c.restore_clock_users()
    return t0, t1


def fault_pulsed_stop(c, rng):
    node = rng.choice(c.nodes)
    t0 = now_ns()
    node.proc.send_signal(signal.SIGSTOP)
    try:
        pause_s(rng, 3 * TTL_MS)
    finally:
        node.proc.send_signal(signal.SIGCONT)
    t1 = now_ns()
    c.restore_clock_users()
    return t0, t1


def fault_redis_restart(c, rng):
    def restart():
        c.redis.stop()
        c.redis.start()
    t0 = now_ns()
    c.redis_loss(restart)
    return t0, now_ns()


def fault_redis_flush(c, rng):
    t0 = now_ns()
    c.redis_loss(lambda: c.redis.cli("FLUSHALL"))
    return t0, now_ns()


def fault_redis_sleep(c, rng):
    t0 = now_ns()
    out = c.redis.cli("DEBUG", "SLEEP", "%.3f" % (rng.uniform(1.5, 3) * TTL_MS / 1000.0))
    # a refused DEBUG (enable-debug-command) would make this fault a no-op
    assert out == "OK", "DEBUG SLEEP refused: %r" % out
    return t0, now_ns()


def fault_redis_pause(c, rng):
    ms = int(rng.uniform(1.5, 3) * TTL_MS)
    t0 = now_ns()
    c.redis.cli("CLIENT", "PAUSE", str(ms), "ALL")
    time.sleep(ms / 1000.0)
    return t0, now_ns()


def fault_node_cut(c, rng):
    i = rng.randrange(len(c.nodes))
    t0 = now_ns()
    c.proxies[i].cut()
    try:
        pause_s(rng, 3 * TTL_MS)
    finally:
        c.proxies[i].heal()
    t1 = now_ns()
    c.restore_clock_users()
    return t0, t1


def fault_caller_hangs_up(c, rng):
    """Callers abandon dispatches (Traffic's abandon rate is raised for
    this scenario); here, in addition, a burst of sessions each send a
    DISPATCH and close at once."""
    node = rng.choice(c.nodes)
    t0 = now_ns()
    for _ in range(5):
        try:
            s = Caller(node.sock)
        except (OSError, ConnectionError):
            break
        k = "x-%d" % rng.randrange(1 << 30)
        c.abandoned.add(k)
        s.send(10, key=k, payload=b"x")
        s.close()
    return t0, now_ns()


def fault_worker_hangs(c, rng):
    """Workers that hang in start (h- keys, node n0) or in stop (h- keys,
    node n1) block until killed: dispatches and stops of their keys time
    out, and everyone else goes on. Let them hang a while, then kill the
    hung ones and start new hanging workers."""
    time.sleep(4 * TTL_MS / 1000.0)
    t0 = now_ns()
    for node in c.nodes[:2]:
        for w in [w for w in c.live[node.name] if w.opts]:
            c.kill_worker(w)
        opts = ("--hang-start", "h-") if node is c.nodes[0] else ("--hang-stop", "h-")
        c.add_worker(node, *opts)
    return t0, now_ns()


HANDSHAKE_STEPS = ("connect", "hello", "welcome", "start", "ack")


def die_in_handshake(node, name, step, wait_s):
    """A worker session that dies at one step: right after connecting,
    right after HELLO, after WELCOME, at its first START without an ACK,
    or just after ACKing it (a worker process crashing at start-up or
    right after accepting a job)."""
    try:
        s = harness.raw_session(node.sock)
    except OSError:
        return
    try:
        if step == "connect":
            return
        s.sendall(frame({"t": 1, "v": 1, "role": "worker", "pool": POOL,
                         "name": name}))
        if step == "hello":
            return
        s.settimeout(wait_s)
        m = read_frame(s)
        if not m or m.get("t") != 2 or step == "welcome":
            return
        while True:
            m = read_frame(s)
            if m is None:
                return
            if m.get("t") == 20:  # START
                if step == "ack":
                    s.sendall(frame({"t": 23, "id": m["id"], "r": 0}))
                return
    except (OSError, ValueError):
        return
    finally:
        s.close()


def fault_handshake_death(c, rng):
    """Worker sessions die at every step of the handshake and around the
    ACK of a START, on one node, in a random order: none may stay in
    placement (a ghost), and the jobs moved to them run elsewhere."""
    node = rng.choice(c.nodes)
    steps = list(HANDSHAKE_STEPS)
    rng.shuffle(steps)
    t0 = now_ns()
    for step in steps:
        c.gen += 1
        die_in_handshake(node, "ghost-%d" % c.gen, step, 2 * TTL_MS / 1000.0)
    return t0, now_ns()


SLOW_OPTS = ("--start-delay", "--stop-delay", "--notify-delay")


def fault_slow_handlers(c, rng):
    """A worker whose start, stop or notify handler takes 0.5, 1 or 3
    worker TTLs attaches (jobs move to it, stops and notifies reach it)
    while pulsed is healthy: one owner throughout (PROTOCOL.md 6.5). At
    most two such workers live; the oldest is killed to make room."""
    node = rng.choice(c.nodes)
    slow = [w for ws in c.live.values() for w in ws if w.opts and w.opts[0] in SLOW_OPTS]
    t0 = now_ns()
    if len(slow) >= 2:
        c.kill_worker(slow[0])
    which = rng.choice(SLOW_OPTS)
    ms = int(rng.choice((0.5, 1, 3)) * TTL_MS)
    c.add_worker(node, which, str(ms))
    return t0, now_ns()


def fault_duplicate_node_id(c, rng):
    """A second pulsed is started with the node id a live node holds (a
    cloned host): it is refused, the first keeps its lease and goes on
    serving, and the duplicate is stopped again."""
    i = rng.randrange(len(c.nodes))
    first = c.nodes[i]
    c.gen += 1
    dup = harness.Node(c.procs, c.tmp, c.redis, "dup-%d" % c.gen,
                       first.cfg["pools"],
                       {"redis": {"url": c.proxies[i].url()},
                        "node": {"id": first.name}}, debug=False)
    t0 = now_ns()
    dup.start()
    rc, out, _ = dup.ctl("--json", "dispatch", POOL, "dup-probe-%d" % c.gen, "x")
    if rc == 0:
        c.fail("a pulsed with %s's node id was let in: %s" % (first.name, out))
    wait_for(lambda: "is held by another live pulsed" in dup.logtext(), 5,
             "the duplicate's refusal in its log")
    pause_s(rng, TTL_MS)
    dup.kill()
    if "no longer registered" in first.logtext(full=True):
        c.fail("%s lost its registration to a duplicate node id" % first.name)
    return t0, now_ns()


FAULTS = {
    "worker_kill": fault_worker_kill,
    "worker_dies_in_handshake": fault_handshake_death,
    "slow_handlers": fault_slow_handlers,
    "duplicate_node_id": fault_duplicate_node_id,
    "pulsed_kill": fault_pulsed_kill,
    "pulsed_sigstop": fault_pulsed_stop,
    "redis_restart": fault_redis_restart,
    "redis_flushall": fault_redis_flush,
    "redis_debug_sleep": fault_redis_sleep,
    "redis_client_pause": fault_redis_pause,
    "node_cut_off": fault_node_cut,
    "caller_hangs_up": fault_caller_hangs_up,
    "worker_hangs": fault_worker_hangs,
}


def seconds():
    """How long each scenario injects its fault: CHAOS_SECONDS (make chaos
    sets it; make test runs a short pass)."""
    return float(os.environ.get("CHAOS_SECONDS", "3"))


def jobs_count():
    return int(os.environ.get("CHAOS_JOBS", "2000"))
