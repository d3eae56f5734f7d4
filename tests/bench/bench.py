"""bench.py: `make bench`, the figures of DESIGN.md section 4 in one run.

    /usr/bin/python3 tests/bench/bench.py [--quick] [--json build/bench.json]
                                         [--only refs,latency,throughput,failover,scale,tls,pools]

Real processes throughout (the integration harness: redis-server on a Unix
socket, pulsed nodes, build/tests/testworker workers; load from
build/tests/pulsebench, the Redis round trip from build/bench/rtt):

  refs        Redis PING round trip (hiredis, Unix socket) and
              redis-benchmark's SET rate at 1, 8 and 64 clients.
  latency     2 nodes A and B; callers on A. Pool "rem" has its only
              worker on B, pool "loc" on A. Closed loop (one session,
              sequential) and open loop (fixed rates, 8 sessions, latency
              from the scheduled send time) dispatch; notify and stop of
              the jobs dispatched. INFO commandstats and CPU time per
              process give the Redis commands and CPU per dispatch.
  throughput  2 nodes, 2 workers on each; 1, 8 and 64 callers (one
              session each, split over both nodes) dispatching for a
              fixed time.
  failover    tests/bench/failover.py: kill -9 of a worker holding ~1,000
              jobs, kill -9 of a pulsed (worker TTL 2 s), a worker joining
              3 with 10,000 jobs.
  scale       10 nodes with 20 workers each (200) and one node with none
              (it only joined the pool): pulsed RSS with 0, 10,000 and
              100,000 jobs in the pool, idle Redis commands per second per
              node with 100 and 100,000 jobs, time to dispatch 100,000
              jobs, and from the workers' event logs that each runs
              exactly once.
  tls         the cost of TLS to Redis (rediss://, daemon/tls.c's
              bridge): one redis-server with a plain TCP port and a TLS
              port (certificates from tests/integration/tlsutil.py); two
              node pairs, one on each port; closed-loop dispatch, worker
              on the caller's node and on the other, plain and TLS rounds
              alternating; pulsed CPU per dispatch; Redis PING over TCP
              and TLS (redis-benchmark, one client) as the reference.
  pools       one node; 10,000 reads (JOBS, JOB, WORKERS, NODES) naming
              distinct pools nobody uses: pulsed RSS, Redis memory, keys
              and idle load before and after (none should change).

Writes every figure to build/bench.json (one flat object, numbers only)
and prints a table: figure, value, ratio to the references, target,
MET/MISSED. Exits 0 even when a target is missed (the table says so);
non-zero when a measurement itself failed.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)
import conftest  # noqa: E402
import harness  # noqa: E402
from harness import wait_for  # noqa: E402
import failover  # noqa: E402
import tlsutil  # noqa: E402

BUILD = harness.BUILD
PULSEBENCH = os.path.join(BUILD, "tests", "pulsebench")
RTT = os.path.join(BUILD, "bench", "rtt")
HZ = os.sysconf("SC_CLK_TCK")

R = {}          # every figure: build/bench.json
NOTES = []      # extra lines printed after the table
T0 = time.monotonic()


def log(msg):
    print("[%6.1fs] %s" % (time.monotonic() - T0, msg), flush=True)


def env():
    # Unix socket paths are limited to 108 bytes: keep the directory short.
    return conftest.Env(tempfile.mkdtemp(prefix="pb", dir="/tmp"))


# ---- measuring helpers -------------------------------------------------------

def run_json(argv, timeout=900, check=True):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s %s" % (argv[0], r.returncode,
                                                      r.stdout, r.stderr[-2000:]))
    return json.loads(r.stdout.strip().splitlines()[-1])


def pulsebench(socks, pool, *args, timeout=900):
    if isinstance(socks, str):
        socks = [socks]
    return run_json([PULSEBENCH, "-s", ",".join(socks), "-p", pool] + [str(a) for a in args],
                    timeout=timeout)


def commandstats(redis):
    """command -> calls, plus '_cpu' (Redis CPU seconds, user + sys)."""
    out = {}
    text = redis.cli("INFO", "all")
    for line in text.splitlines():
        line = line.strip()
        m = re.match(r"cmdstat_([^:]+):calls=(\d+)", line)
        if m:
            out[m.group(1)] = int(m.group(2))
        m = re.match(r"used_cpu_(sys|user):([\d.]+)", line)
        if m:
            out["_cpu"] = out.get("_cpu", 0.0) + float(m.group(2))
    return out


def stats_delta(a, b):
    """Command calls between two commandstats snapshots, without the
    INFO/PING calls the bench itself makes."""
    d = {k: b.get(k, 0) - a.get(k, 0) for k in b if not k.startswith("_")}
    for own in ("info", "ping"):
        d.pop(own, None)
    return {k: v for k, v in d.items() if v > 0}, b.get("_cpu", 0) - a.get("_cpu", 0)


def proc_counters(pid):
    """CPU seconds (user, sys), context switches and read/write system
    calls of a process so far."""
    u = sy = 0.0
    cs = sc = 0
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        u, sy = int(fields[11]) / HZ, int(fields[12]) / HZ
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    cs += int(line.split()[1])
        with open("/proc/%d/io" % pid) as f:
            for line in f:
                if line.startswith(("syscr", "syscw")):
                    sc += int(line.split()[1])
    except (OSError, IndexError, ValueError):
        pass
    return [u, sy, cs, sc]


def rss_kib(pid, field="VmRSS"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def timed(argv):
    """Run argv under /usr/bin/time: (seconds, peak RSS in KiB, stdout)."""
    r = subprocess.run(["/usr/bin/time", "-f", "@@ %e %M"] + argv,
                       capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        raise RuntimeError("%s failed: %s" % (argv[0], r.stderr[-500:]))
    m = re.search(r"@@ ([\d.]+) (\d+)", r.stderr)
    return float(m.group(1)), int(m.group(2)), r.stdout


def cpu_busy(secs=1.0):
    """Fraction of all CPUs busy over secs (the bench itself is idle then)."""
    def snap():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v), v[3] + v[4]
    t0, i0 = snap()
    time.sleep(secs)
    t1, i1 = snap()
    return 1 - (i1 - i0) / max(1, t1 - t0)


class Meter:
    """Redis commands, and every process's CPU time, context switches and
    read/write system calls over a stretch of load."""

    def __init__(self, redis, procs):
        self.redis, self.procs = redis, procs  # procs: name -> [pid]

    def snap(self):
        return {n: [sum(x) for x in zip(*([proc_counters(p) for p in ps] or [[0, 0, 0, 0]]))]
                for n, ps in self.procs.items()}

    def __enter__(self):
        self.s0 = commandstats(self.redis)
        self.c0 = self.snap()
        self.t0 = time.monotonic()
        return self

    def __exit__(self, *exc):
        self.dt = time.monotonic() - self.t0
        self.cmds, self.redis_cpu = stats_delta(self.s0, commandstats(self.redis))
        c1 = self.snap()
        self.d = {n: [b - a for a, b in zip(self.c0[n], c1[n])] for n in c1}
        self.cpu = {n: v[0] + v[1] for n, v in self.d.items()}
        self.cpu["redis"] = self.redis_cpu

    def per(self, n):
        """Commands and CPU (us) per operation, as text."""
        total = sum(self.cmds.values())
        cmds = ", ".join("%s %.2f" % (k, v / n) for k, v in
                         sorted(self.cmds.items(), key=lambda kv: -kv[1]) if v / n >= 0.01)
        cpu = ", ".join("%s %.0f" % (k, v * 1e6 / n) for k, v in self.cpu.items() if v > 0)
        sysc = ", ".join("%s %.0f us sys, %.1f ctx switches, %.1f read/write calls"
                         % (k, v[1] * 1e6 / n, v[2] / n, v[3] / n)
                         for k, v in self.d.items() if k.startswith("pulsed") and v[2])
        return total / n, "Redis commands per op %.2f (%s); CPU us per op: %s; %s" % (
            total / n, cmds, cpu, sysc)


# ---- references ---------------------------------------------------------------

def redis_benchmark_set(sock, clients, n):
    r = subprocess.run([harness.redis_tool("benchmark"), "-s", sock, "-t", "set", "-c", str(clients),
                        "-n", str(n), "-q"], capture_output=True, text=True, timeout=300)
    last = r.stdout.replace("\r", "\n").strip().splitlines()[-1]
    m = re.search(r"SET: ([\d.]+) requests per second(?:, p50=([\d.]+) msec)?", last)
    if not m:
        raise RuntimeError("redis-benchmark printed %r" % last)
    return float(m.group(1)), float(m.group(2) or 0) * 1000


def refs(e, quick):
    sock = e.redis.sock
    log("references: Redis PING round trip, redis-benchmark SET")
    # PING, one at a time, unpinned, 5 runs pooled: the OS places the two
    # processes on one CPU or on two, and the round trip differs ~10x
    # between the two (see the pinned figures below).
    samples, medians = [], []
    for _ in range(5):
        r = subprocess.run([RTT, sock, "4000", "--raw"], capture_output=True, text=True,
                           check=True)
        v = [float(x) for x in r.stdout.split()]
        samples += v
        medians.append(sorted(v)[len(v) // 2])
        time.sleep(0.2)
    samples.sort()
    R["redis_rtt_us"] = samples[len(samples) // 2]
    R["redis_rtt_p99_us"] = samples[int(len(samples) * 0.99)]
    R["redis_rtt_runs_min_us"] = min(medians)
    R["redis_rtt_runs_max_us"] = max(medians)
    # The two modes, pinned: client and server on one CPU, then on two.
    rpid = e.redis.proc.pid
    ncpu = os.cpu_count() or 1
    try:
        subprocess.run(["taskset", "-p", "-c", "0", str(rpid)], capture_output=True, check=True)
        R["redis_rtt_same_cpu_us"] = run_json(["taskset", "-c", "0", RTT, sock, "5000"])["p50_us"]
        if ncpu > 1:
            R["redis_rtt_cross_cpu_us"] = run_json(["taskset", "-c", "1", RTT, sock, "5000"])["p50_us"]
    finally:
        subprocess.run(["taskset", "-p", "-c", "0-%d" % (ncpu - 1), str(rpid)],
                       capture_output=True)
    n = 20000 if quick else 100000
    for c in (1, 8, 64):
        rps, p50 = redis_benchmark_set(sock, c, n if c == 1 else 2 * n)
        R["redis_set_rps_%d" % c] = rps
        R["redis_set_p50_us_%d" % c] = p50
    log("  PING p50 %.1f us (medians of the 5 runs: %s; pinned: one CPU %.1f, two CPUs %.1f);"
        " SET rps %d / %d / %d"
        % (R["redis_rtt_us"], " ".join("%.1f" % m for m in medians),
           R["redis_rtt_same_cpu_us"], R.get("redis_rtt_cross_cpu_us", 0),
           R["redis_set_rps_1"], R["redis_set_rps_8"], R["redis_set_rps_64"]))


# ---- latency ------------------------------------------------------------------

def latency(e, quick):
    a = e.node("node-a")
    b = e.node("node-b")
    wl = e.worker(a, pool="loc", name="wl")
    wr = e.worker(b, pool="rem", name="wr")
    for n in (a, b):
        for pool in ("loc", "rem"):
            n.use_pool(pool)   # the node joins the pool
            wait_for(lambda: (n.pool_status(pool) or {}).get("workers_pool") == 1, 10,
                     "view of %s on %s" % (pool, n.name))
    procs = {"pulsed_a": [a.proc.pid], "pulsed_b": [b.proc.pid],
             "worker_loc": [wl.proc.pid], "worker_rem": [wr.proc.pid]}
    n = 1000 if quick else 5000
    for where, pool in (("remote", "rem"), ("local", "loc")):
        log("latency: %s (caller on node-a, worker on %s)" % (where, "node-b" if pool == "rem" else "node-a"))
        m = Meter(e.redis, procs)
        with m:
            r = pulsebench(a.sock, pool, "-k", pool + "-", "-n", n, "-w", 200)
        for q in ("p50", "p90", "p99", "p999", "mean"):
            R["dispatch_%s_%s_us" % (where, q)] = r["%s_us" % q]
        per, text = m.per(n + 200)
        R["dispatch_%s_redis_cmds" % where] = per
        R["dispatch_%s_redis_cpu_us" % where] = m.redis_cpu * 1e6 / (n + 200)
        NOTES.append("dispatch %s, closed loop: %s" % (where, text))
        log("  closed loop: p50 %.0f p90 %.0f p99 %.0f p99.9 %.0f us; %s"
            % (r["p50_us"], r["p90_us"], r["p99_us"], r["p999_us"], text))
        for op in ("notify", "stop"):
            m = Meter(e.redis, procs)
            with m:
                r = pulsebench(a.sock, pool, "-m", op, "-k", pool + "-", "-n", n + 200)
            for q in ("p50", "p90", "p99", "p999"):
                R["%s_%s_%s_us" % (op, where, q)] = r["%s_us" % q]
            per, text = m.per(n + 200)
            R["%s_%s_redis_cmds" % (op, where)] = per
            NOTES.append("%s %s: %s" % (op, where, text))
            log("  %s: p50 %.0f p99 %.0f us; %s" % (op, r["p50_us"], r["p99_us"], text))
        # Open loop: request i due at t0 + i/rate, 8 sessions.
        for rate in (200, 1000, 2000):
            secs = 2 if quick else 3
            r = pulsebench(a.sock, pool, "-k", "%s-o%d-" % (pool, rate), "-r", rate,
                           "-d", secs, "-c", 8)
            for q in ("p50", "p90", "p99", "p999"):
                R["dispatch_%s_open%d_%s_us" % (where, rate, q)] = r["%s_us" % q]
            R["dispatch_%s_open%d_late" % (where, rate)] = r["late"]
            log("  open loop %d/s: p50 %.0f p90 %.0f p99 %.0f p99.9 %.0f us (late sends %d)"
                % (rate, r["p50_us"], r["p90_us"], r["p99_us"], r["p999_us"], r["late"]))


# ---- TLS ----------------------------------------------------------------------

def redis_benchmark_ping(port, certs=None, n=20000):
    """redis-benchmark PING_MBULK p50 in us, one client, over TCP (or TLS)."""
    argv = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-t", "ping_mbulk",
            "-c", "1", "-n", str(n), "-q"]
    if certs:
        argv += ["--tls", "--cacert", certs.ca_crt]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    last = r.stdout.replace("\r", "\n").strip().splitlines()[-1]
    m = re.search(r"p50=([\d.]+) msec", last)
    if not m:
        raise RuntimeError("redis-benchmark printed %r %s" % (last, r.stderr[-300:]))
    return float(m.group(1)) * 1000


def tls_cost(e, quick):
    certs = tlsutil.certs()
    r = harness.Redis(e.procs, e.tmp, tls=certs.server(), plain=True, name="redis-tls")
    urls = {"plain": ("redis://127.0.0.1:%d/0" % r.plain_port, None),
            "tls": (r.url(), certs.client())}
    nodes, procs = {}, {}
    for mode, (url, tls) in urls.items():
        redis = {"url": url}
        if tls:
            redis["tls"] = tls
        a = e.node("%s-a" % mode, extra={"redis": redis})
        b = e.node("%s-b" % mode, extra={"redis": redis})
        e.worker(a, pool=mode + "-loc", name=mode + "-wl")
        e.worker(b, pool=mode + "-rem", name=mode + "-wr")
        for x in (a, b):
            for pool in (mode + "-loc", mode + "-rem"):
                x.use_pool(pool)
                wait_for(lambda: (x.pool_status(pool) or {}).get("workers_pool") == 1, 10,
                         "view of %s on %s" % (pool, x.name))
        nodes[mode] = (a, b)
        procs[mode] = {"pulsed": [a.proc.pid, b.proc.pid]}
    log("tls: Redis PING over TCP and over TLS (redis-benchmark, 1 client)")
    R["tls_redis_ping_plain_p50_us"] = redis_benchmark_ping(r.plain_port)
    R["tls_redis_ping_tls_p50_us"] = redis_benchmark_ping(r.port, certs)
    log("  PING p50: TCP %.0f us, TLS %.0f us"
        % (R["tls_redis_ping_plain_p50_us"], R["tls_redis_ping_tls_p50_us"]))
    n = 1000 if quick else 3000
    rounds = 2
    acc = {}
    for rnd in range(rounds):
        for where in ("local", "remote"):
            for mode in ("plain", "tls"):
                a, _ = nodes[mode]
                pool = mode + ("-loc" if where == "local" else "-rem")
                m = Meter(r, procs[mode])
                with m:
                    res = pulsebench(a.sock, pool, "-k", "%s-%d-" % (pool, rnd), "-n", n,
                                     "-w", 200)
                k = (mode, where)
                acc.setdefault(k, []).append((res["p50_us"], res["p99_us"],
                                              m.cpu["pulsed"] * 1e6 / (n + 200)))
                log("  %s, worker %s, round %d: p50 %.0f us, p99 %.0f us, pulsed CPU %.0f us"
                    " per dispatch" % (mode, where, rnd + 1, res["p50_us"], res["p99_us"],
                                       acc[k][-1][2]))
    for (mode, where), v in acc.items():
        R["tls_dispatch_%s_%s_p50_us" % (where, mode)] = sum(x[0] for x in v) / len(v)
        R["tls_dispatch_%s_%s_p99_us" % (where, mode)] = sum(x[1] for x in v) / len(v)
        R["tls_dispatch_%s_%s_pulsed_cpu_us" % (where, mode)] = sum(x[2] for x in v) / len(v)
    for where in ("local", "remote"):
        R["tls_cost_%s_p50_us" % where] = (R["tls_dispatch_%s_tls_p50_us" % where]
                                          - R["tls_dispatch_%s_plain_p50_us" % where])
        R["tls_cost_%s_pulsed_cpu_us" % where] = (
            R["tls_dispatch_%s_tls_pulsed_cpu_us" % where]
            - R["tls_dispatch_%s_plain_pulsed_cpu_us" % where])
        NOTES.append("TLS, worker %s: dispatch p50 %.0f -> %.0f us (+%.0f), p99 %.0f -> %.0f us,"
                     " pulsed CPU per dispatch (both nodes) %.0f -> %.0f us (mean of %d rounds)"
                     % (where, R["tls_dispatch_%s_plain_p50_us" % where],
                        R["tls_dispatch_%s_tls_p50_us" % where], R["tls_cost_%s_p50_us" % where],
                        R["tls_dispatch_%s_plain_p99_us" % where],
                        R["tls_dispatch_%s_tls_p99_us" % where],
                        R["tls_dispatch_%s_plain_pulsed_cpu_us" % where],
                        R["tls_dispatch_%s_tls_pulsed_cpu_us" % where], rounds))


# ---- throughput ---------------------------------------------------------------

def throughput(e, quick):
    a = e.node("node-a")
    b = e.node("node-b")
    ws = [e.worker(x, pool="tp", name="t%s%d" % (x.name[-1], i)) for x in (a, b) for i in range(2)]
    for x in (a, b):
        x.ctlj("jobs", "tp")
    wait_for(lambda: all((x.pool_status("tp") or {}).get("workers_pool") == 4 for x in (a, b)),
             10, "view of tp")
    procs = {"pulsebench": [], "pulsed_a": [a.proc.pid], "pulsed_b": [b.proc.pid],
             "workers": [w.proc.pid for w in ws]}
    secs = 2 if quick else 4
    for c in (1, 8, 64):
        log("throughput: %d callers for %d s" % (c, secs))
        m = Meter(e.redis, procs)
        t0 = os.times()
        with m:
            r = pulsebench([a.sock, b.sock], "tp", "-k", "tp%d-" % c, "-c", c, "-d", secs)
        t1 = os.times()
        m.cpu["pulsebench"] = (t1.children_user + t1.children_system
                               - t0.children_user - t0.children_system)
        R["dispatch_rps_%d" % c] = r["rps"]
        R["dispatch_tp%d_p50_us" % c] = r["p50_us"]
        R["dispatch_tp%d_p99_us" % c] = r["p99_us"]
        per, text = m.per(max(r["n"], 1))
        R["dispatch_tp%d_redis_cmds" % c] = per
        busy = sum(m.cpu.values()) / m.dt
        R["dispatch_tp%d_cpu_busy" % c] = busy
        NOTES.append("throughput %d callers: %.0f/s, CPUs busy %.2f of %d; %s"
                     % (c, r["rps"], busy, os.cpu_count(), text))
        log("  %.0f dispatches/s (p50 %.0f us, p99 %.0f us); CPUs busy %.2f; %s"
            % (r["rps"], r["p50_us"], r["p99_us"], busy, text))


# ---- failover and rebalance ---------------------------------------------------

def failovers(quick):
    log("failover: kill -9 of a worker holding ~1,000 jobs")
    R.update(failover.worker_kill(300 if quick else 1000))
    log("  %d jobs, all started elsewhere after %.1f ms (p50 %.1f, p99 %.1f)"
        % (R["failover_worker_jobs"], R["failover_worker_ms"], R["failover_worker_p50_ms"],
           R["failover_worker_p99_ms"]))
    log("failover: kill -9 of a pulsed (worker TTL 2 s)")
    R.update(failover.node_kill(300 if quick else 1000))
    log("  %d jobs, all started elsewhere after %.0f ms"
        % (R["failover_node_jobs"], R["failover_node_ms"]))
    log("rebalance: a 4th worker joins 3 holding 10,000 jobs")
    R.update(failover.rebalance(2000 if quick else 10000))
    log("  moved %d (ideal %d), settled in %.0f ms"
        % (R["rebalance_moved"], R["rebalance_expected"], R["rebalance_settle_ms"]))


# ---- scale, idle cost, memory -------------------------------------------------

def idle_window(e, nodes, secs):
    """Redis commands per second per node over secs of quiet."""
    s0 = commandstats(e.redis)
    t0 = time.monotonic()
    time.sleep(secs)
    cmds, cpu = stats_delta(s0, commandstats(e.redis))
    dt = time.monotonic() - t0
    total = sum(cmds.values())
    top = ", ".join("%s %.1f" % (k, v / dt / len(nodes)) for k, v in
                    sorted(cmds.items(), key=lambda kv: -kv[1])[:8])
    return total / dt / len(nodes), cpu * 1e3 / dt / len(nodes), top


def scale(e, quick):
    nnodes, per_node = (4, 5) if quick else (10, 20)
    total = 10000 if quick else 100000
    idle_secs = 4 if quick else 20
    log("scale: %d nodes, %d workers each, then %d jobs" % (nnodes, per_node, total))
    nodes = [e.node("n%02d" % i) for i in range(nnodes)]
    obs = e.node("nobs")   # joins the pool, runs no worker
    workers = []
    t0 = time.monotonic()
    for i in range(per_node):
        for x in nodes:
            workers.append(e.worker(x, pool="p", name="w-%s-%02d" % (x.name, i)))
    R["scale_attach_s"] = time.monotonic() - t0
    obs.use_pool("p")
    allnodes = nodes + [obs]
    nw = nnodes * per_node
    wait_for(lambda: all((x.pool_status("p") or {}).get("workers_pool") == nw for x in allnodes),
             30, "every node to see %d workers" % nw)
    log("  %d workers attached in %.1f s" % (nw, R["scale_attach_s"]))

    def rss(tag):
        v = [rss_kib(x.proc.pid) for x in nodes]
        R["rss_kib_%s" % tag] = max(v)
        R["rss_kib_%s_nolocal" % tag] = rss_kib(obs.proc.pid)
        log("  pulsed RSS with %s jobs in the pool: max %d KiB over the %d nodes with workers"
            " (min %d), %d KiB on the node without workers"
            % (tag, max(v), nnodes, min(v), R["rss_kib_%s_nolocal" % tag]))

    socks = [x.sock for x in nodes]
    dispatch_s = 0.0

    def dispatch(first, n, tag):
        nonlocal dispatch_s
        t = time.monotonic()
        r = pulsebench(socks, "p", "-k", "sc-", "-o", first, "-n", n, "-c", 2 * nnodes)
        dispatch_s += time.monotonic() - t
        if r["failed"]:
            raise RuntimeError("scale: %d dispatches failed" % r["failed"])
        log("  dispatched %d (%s) at %.0f/s, p50 %.0f us, p99 %.0f us"
            % (n, tag, r["rps"], r["p50_us"], r["p99_us"]))
        return r

    rss("0")
    dispatch(0, 100, "to 100")
    time.sleep(2)
    c, cpu, top = idle_window(e, allnodes, idle_secs)
    R["idle_cmds_per_s_100"] = c
    R["idle_redis_cpu_ms_per_s_100"] = cpu
    log("  idle with 100 jobs: %.1f Redis commands/s per node (%s), Redis CPU %.2f ms/s per node"
        % (c, top, cpu))
    NOTES.append("idle, 100 jobs, per node per second: %s" % top)
    n10k = total // 10
    dispatch(100, n10k - 100, "to %d" % n10k)
    rss("10k")
    m = Meter(e.redis, {"pulsed": [x.proc.pid for x in allnodes],
                        "workers": [w.proc.pid for w in workers]})
    with m:
        r = dispatch(n10k, total - n10k, "to %d" % total)
    busy = sum(m.cpu.values()) / m.dt
    per, text = m.per(total - n10k)
    NOTES.append("scale dispatch (%d sessions over %d nodes): %.0f/s, CPUs busy %.2f; %s"
                 % (2 * nnodes, nnodes, r["rps"], busy, text))
    R["scale_dispatch_s"] = dispatch_s
    R["scale_dispatch_rps"] = total / dispatch_s
    time.sleep(2)
    rss("100k")
    c, cpu, top = idle_window(e, allnodes, idle_secs)
    R["idle_cmds_per_s_100k"] = c
    R["idle_redis_cpu_ms_per_s_100k"] = cpu
    log("  idle with %d jobs: %.1f Redis commands/s per node (%s), Redis CPU %.2f ms/s per node"
        % (total, c, top, cpu))
    NOTES.append("idle, %d jobs, per node per second: %s" % (total, top))
    R["idle_nodes"] = len(allnodes)

    # Every job runs exactly once: one start per key in all the event logs,
    # no stop, no duplicate; and Redis agrees on the count.
    starts = {}
    stops = dup = 0
    for w in workers:
        for ev in w.events():
            if ev[0] == "start":
                starts[ev[1]] = starts.get(ev[1], 0) + 1
            elif ev[0] == "stop":
                stops += 1
            elif ev[0] == "DUPLICATE":
                dup += 1
    running = set()
    for w in workers:
        running |= w.running()
    want = {"sc-%d" % i for i in range(total)}
    once = sum(1 for k in want if starts.get(k) == 1)
    st = nodes[0].pool_status("p")
    local = sum(x.pool_status("p")["jobs_local"] for x in nodes)
    R["scale_jobs"] = total
    R["scale_nodes"] = nnodes
    R["scale_workers"] = nw
    R["scale_jobs_running"] = len(running & want)
    R["scale_jobs_started_once"] = once
    R["scale_extra_starts"] = sum(starts.values()) - once
    R["scale_stops"] = stops
    R["scale_duplicates"] = dup
    R["scale_jobs_pool"] = st["jobs_pool"]
    R["scale_jobs_local_sum"] = local
    log("  %d running (event logs), %d started exactly once, %d stops, %d duplicates;"
        " Redis jobs %d, nodes' local jobs %d; dispatch %.1f s (%.0f/s)"
        % (R["scale_jobs_running"], once, stops, dup, st["jobs_pool"], local,
           dispatch_s, R["scale_dispatch_rps"]))


# ---- the table ----------------------------------------------------------------

def redis_memory(redis):
    m = re.search(r"used_memory:(\d+)", redis.cli("INFO", "memory"))
    return int(m.group(1)) if m else 0


def pools(e, quick):
    """Issue 17 item 3: what requests naming pools nobody uses cost. One
    client session asks JOBS, JOB, WORKERS and NODES of N distinct unknown
    pool names; pulsed's RSS, Redis's memory and keys, and the idle Redis
    load, before and after."""
    total = 2000 if quick else 10000
    n = e.node("n0")
    time.sleep(1)
    R["pools_rss_kib_before"] = rss_kib(n.proc.pid)
    R["pools_redis_bytes_before"] = redis_memory(e.redis)
    R["pools_redis_keys_before"] = int(e.redis.cli("DBSIZE"))
    s = harness.raw_session(n.sock)
    s.sendall(harness.frame({"t": 1, "v": 1, "role": "client"}))
    harness.read_frame(s)
    types = (13, 14, 15, 33)  # JOBS, JOB, WORKERS, NODES (proto.h)
    t0 = time.monotonic()
    for i in range(total):
        t = types[i % len(types)]
        s.sendall(harness.frame({"t": t, "id": i + 1, "pool": "unknown-%05d" % i, "key": "k"}))
        a = harness.read_frame(s)
        if a is None or a.get("id") != i + 1:
            raise RuntimeError("pools: bad answer %r" % (a,))
    R["pools_requests"] = total
    R["pools_requests_s"] = time.monotonic() - t0
    s.close()
    time.sleep(1)
    R["pools_rss_kib_after"] = rss_kib(n.proc.pid)
    R["pools_redis_bytes_after"] = redis_memory(e.redis)
    R["pools_redis_keys_after"] = int(e.redis.cli("DBSIZE"))
    R["pools_joined_after"] = len(n.status()["pools"])
    R["pools_idle_cmds_per_s"], _, _ = idle_window(e, [n], 3)


def lists(e, quick):
    """Issue 17 item 1: listing a pool of 1,000,000 jobs (36-byte keys,
    written into the pool's jobs hash by one script per 100,000: a view
    reads only that hash). pulsectl jobs (printed to /dev/null), its
    --count and --match --count, and the library's pulse_jobs_each()
    (listkeys) and pulse_job_keys() (listkeys -a, every key in memory):
    wall time and peak RSS of each client, and pulsed's peak RSS."""
    total = 100000 if quick else 1000000
    n = e.node("n0")
    script = ("for i = tonumber(ARGV[1]), tonumber(ARGV[2]) - 1 do "
              "redis.call('HSET', KEYS[1], string.format('key-%07d-0123456789abcdef01234567', i), 'x') end "
              "return redis.call('HLEN', KEYS[1])")
    for lo in range(0, total, 100000):
        e.redis.cli("EVAL", script, 1, "pulse:{big}:jobs", lo, lo + 100000)
    R["lists_jobs"] = int(e.redis.cli("HLEN", "pulse:{big}:jobs"))
    R["lists_pulsed_rss_kib_before"] = rss_kib(n.proc.pid)
    ctl = [harness.PULSECTL, "-s", n.sock]
    listkeys = [os.path.join(BUILD, "tests", "listkeys"), "-s", n.sock, "-p", "big"]
    secs, rss, out = timed(ctl + ["-H", "jobs", "big"])
    if out.count("\n") < total:
        raise RuntimeError("lists: pulsectl listed %d keys" % out.count("\n"))
    R["lists_pulsectl_s"], R["lists_pulsectl_rss_kib"] = secs, rss
    secs, rss, out = timed(ctl + ["jobs", "big", "--count"])
    R["lists_count_s"] = secs
    secs, rss, out = timed(ctl + ["jobs", "big", "--match", "key-00001*", "--count"])
    R["lists_match_count_s"], R["lists_match_count"] = secs, int(out.strip())
    secs, rss, out = timed(listkeys)
    R["lists_each_s"], R["lists_each_rss_kib"] = secs, rss
    R["lists_each_keys"] = int(out.split()[1])
    secs, rss, out = timed(listkeys + ["-a"])
    R["lists_array_s"], R["lists_array_rss_kib"] = secs, rss
    R["lists_pulsed_hwm_kib"] = rss_kib(n.proc.pid, "VmHWM")


def table():
    rtt = R.get("redis_rtt_us")
    rows = []

    def rt(v):
        return "%.1f RTT" % (v / rtt) if rtt and v is not None else ""

    def row(name, key, unit, ratio="", target="", ok=None):
        v = R.get(key)
        if v is None:
            return
        val = ("%.0f" % v if abs(v) >= 100 else "%.1f" % v) + (" " + unit if unit else "")
        verdict = "" if ok is None else ("MET" if ok else "MISSED")
        rows.append((name, val, ratio, target, verdict))

    g = R.get
    row("Redis PING round trip (p50, unpinned)", "redis_rtt_us", "us", "1 RTT")
    row("  same, client and Redis on one CPU", "redis_rtt_same_cpu_us", "us", rt(g("redis_rtt_same_cpu_us")))
    row("  same, client and Redis on two CPUs", "redis_rtt_cross_cpu_us", "us", rt(g("redis_rtt_cross_cpu_us")))
    for c in (1, 8, 64):
        row("redis-benchmark SET, %d clients" % c, "redis_set_rps_%d" % c, "/s")
    for where, tgt in (("remote", [("p50", 6), ("p90", None), ("p99", 20), ("p999", None)]),
                       ("local", [("p50", 4), ("p90", None), ("p99", None), ("p999", None)])):
        for q, lim in tgt:
            k = "dispatch_%s_%s_us" % (where, q)
            if k not in R:
                continue
            ratio = rt(R[k])
            if lim and g("redis_rtt_same_cpu_us") and g("redis_rtt_cross_cpu_us"):
                a1, a2 = R[k] / R["redis_rtt_same_cpu_us"], R[k] / R["redis_rtt_cross_cpu_us"]
                ratio += " (%.1f one-CPU, %.1f two-CPU)" % (a1, a2)
                if (a1 <= lim) != (a2 <= lim):
                    NOTES.append("verdict of 'dispatch %s %s <= %d RTT' depends on the reference:"
                                 " %s against the one-CPU round trip, %s against the two-CPU one"
                                 % (where, q, lim, "MET" if a1 <= lim else "MISSED",
                                    "MET" if a2 <= lim else "MISSED"))
            row("dispatch %s, closed loop, %s" % (where, q.replace("p999", "p99.9")), k, "us",
                ratio, "<= %d RTT" % lim if lim else "",
                None if lim is None or not rtt else R[k] <= lim * rtt)
        for rate in (200, 1000, 2000):
            for q in ("p50", "p99", "p999"):
                k = "dispatch_%s_open%d_%s_us" % (where, rate, q)
                row("dispatch %s, open loop %d/s, %s" % (where, rate, q.replace("p999", "p99.9")),
                    k, "us", rt(g(k)))
        for op in ("notify", "stop"):
            for q in ("p50", "p99"):
                k = "%s_%s_%s_us" % (op, where, q)
                row("%s %s, %s" % (op, where, q), k, "us", rt(g(k)))
    for c in (1, 8, 64):
        k = "dispatch_rps_%d" % c
        s = g("redis_set_rps_%d" % c)
        ratio = "%.1f %% of SET" % (100 * R[k] / s) if k in R and s else ""
        row("dispatch throughput, %d callers" % c, k, "/s", ratio,
            ">= 15 % of SET" if c == 64 else "",
            (R[k] >= 0.15 * s) if c == 64 and k in R and s else None)
    if "failover_worker_ms" in R:
        row("failover, kill -9 of a worker (%d jobs): p50" % R["failover_worker_jobs"],
            "failover_worker_p50_ms", "ms", rt(g("failover_worker_p50_ms") * 1000))
        row("  p99", "failover_worker_p99_ms", "ms", rt(g("failover_worker_p99_ms") * 1000),
            "p99 <= 250 ms", R["failover_worker_p99_ms"] <= 250)
        row("  all started elsewhere", "failover_worker_ms", "ms", rt(g("failover_worker_ms") * 1000))
    if "failover_node_ms" in R:
        row("failover, kill -9 of a pulsed (%d jobs, TTL %d ms)"
            % (R["failover_node_jobs"], R["worker_ttl_ms"]), "failover_node_ms", "ms",
            "%.2f TTL" % (R["failover_node_ms"] / R["worker_ttl_ms"]),
            "<= TTL + 1 s", R["failover_node_ms"] <= R["worker_ttl_ms"] + 1000)
    if "rebalance_moved" in R:
        ideal = R["rebalance_jobs"] / (R["rebalance_workers_before"] + 1)
        row("rebalance, 4th worker joins 3 with %d jobs: moved" % R["rebalance_jobs"],
            "rebalance_moved", "", "%.3f of J/(n+1)" % (R["rebalance_moved"] / ideal),
            "J/(n+1) +- 10 %", abs(R["rebalance_moved"] - ideal) <= 0.1 * ideal)
        row("  time to settle", "rebalance_settle_ms", "ms", rt(R["rebalance_settle_ms"] * 1000),
            "<= 1 s", R["rebalance_settle_ms"] <= 1000)
    if "idle_cmds_per_s_100" in R:
        a, b = R["idle_cmds_per_s_100"], R["idle_cmds_per_s_100k"]
        s = g("redis_set_rps_64")
        row("idle Redis commands/s per node, 100 jobs", "idle_cmds_per_s_100", "/s",
            "%.3f %% of SET" % (100 * a / s) if s else "")
        row("idle Redis commands/s per node, %d jobs" % R["scale_jobs"], "idle_cmds_per_s_100k", "/s",
            "x%.2f of 100 jobs" % (b / a) if a else "", "independent (+-25 %)",
            a > 0 and abs(b / a - 1) <= 0.25)
        row("idle Redis CPU per node, 100 jobs", "idle_redis_cpu_ms_per_s_100", "ms/s")
        row("idle Redis CPU per node, %d jobs" % R["scale_jobs"], "idle_redis_cpu_ms_per_s_100k", "ms/s",
            "x%.2f" % (R["idle_redis_cpu_ms_per_s_100k"] / R["idle_redis_cpu_ms_per_s_100"])
            if R.get("idle_redis_cpu_ms_per_s_100") else "")
    if "rss_kib_0" in R:
        for tag in ("0", "10k", "100k"):
            row("pulsed RSS, %s jobs in the pool (max of nodes with workers)" % tag,
                "rss_kib_%s" % tag, "KiB", "",
                "<= 32 MiB" if tag == "100k" else "",
                R["rss_kib_100k"] <= 32 * 1024 if tag == "100k" else None)
            row("  same, node without workers", "rss_kib_%s_nolocal" % tag, "KiB")
    if "scale_jobs_running" in R:
        row("scale: %d jobs, %d nodes, %d workers: running"
            % (R["scale_jobs"], R["scale_nodes"], R["scale_workers"]),
            "scale_jobs_running", "", "", "all, each exactly once",
            R["scale_jobs_running"] == R["scale_jobs"] and
            R["scale_jobs_started_once"] == R["scale_jobs"] and R["scale_duplicates"] == 0
            and R["scale_stops"] == 0)
        row("  time to dispatch them", "scale_dispatch_s", "s",
            "%.0f/s" % R["scale_dispatch_rps"])

    if "tls_cost_local_p50_us" in R:
        row("Redis PING p50, TCP / TLS (redis-benchmark, 1 client)", "tls_redis_ping_tls_p50_us",
            "us", "TCP %.0f us" % R["tls_redis_ping_plain_p50_us"])
        for where in ("local", "remote"):
            row("dispatch over TLS, worker %s, closed loop p50" % where,
                "tls_dispatch_%s_tls_p50_us" % where, "us",
                "plain TCP %.0f us" % R["tls_dispatch_%s_plain_p50_us" % where])
            row("  same, p99", "tls_dispatch_%s_tls_p99_us" % where, "us",
                "plain TCP %.0f us" % R["tls_dispatch_%s_plain_p99_us" % where])
            row("  cost of TLS per dispatch, p50", "tls_cost_%s_p50_us" % where, "us",
                "pulsed CPU +%.0f us" % R["tls_cost_%s_pulsed_cpu_us" % where])
    if "pools_requests" in R:
        row("unknown pools: %d reads of distinct unknown pool names" % R["pools_requests"],
            "pools_requests_s", "s")
        row("  pulsed RSS before", "pools_rss_kib_before", "KiB")
        row("  pulsed RSS after", "pools_rss_kib_after", "KiB", "", "grows < 1 MiB",
            R["pools_rss_kib_after"] - R["pools_rss_kib_before"] < 1024)
        row("  Redis used_memory before", "pools_redis_bytes_before", "B")
        row("  Redis used_memory after", "pools_redis_bytes_after", "B")
        row("  Redis keys before", "pools_redis_keys_before", "")
        row("  Redis keys after", "pools_redis_keys_after", "", "", "none added",
            R["pools_redis_keys_after"] == R["pools_redis_keys_before"])
        row("  pools joined after", "pools_joined_after", "", "", "0",
            R["pools_joined_after"] == 0)
        row("  idle Redis commands/s after", "pools_idle_cmds_per_s", "/s")

    if "lists_jobs" in R:
        row("list %d jobs: pulsectl -H jobs POOL > /dev/null" % R["lists_jobs"],
            "lists_pulsectl_s", "s")
        row("  its peak RSS", "lists_pulsectl_rss_kib", "KiB", "", "bounded (< 16 MiB)",
            R["lists_pulsectl_rss_kib"] < 16 * 1024)
        row("  pulse_jobs_each(), counting", "lists_each_s", "s")
        row("  its peak RSS", "lists_each_rss_kib", "KiB", "", "bounded (< 16 MiB)",
            R["lists_each_rss_kib"] < 16 * 1024)
        row("  pulse_job_keys() (every key in one array)", "lists_array_s", "s")
        row("  its peak RSS", "lists_array_rss_kib", "KiB")
        row("  pulsectl jobs POOL --count (HLEN)", "lists_count_s", "s")
        row("  pulsectl jobs POOL --match GLOB --count (%d match)" % R["lists_match_count"],
            "lists_match_count_s", "s")
        row("  pulsed RSS before", "lists_pulsed_rss_kib_before", "KiB")
        row("  pulsed peak RSS (VmHWM) after all listings", "lists_pulsed_hwm_kib", "KiB",
            "", "grows < 8 MiB",
            R["lists_pulsed_hwm_kib"] - R["lists_pulsed_rss_kib_before"] < 8 * 1024)

    w = [max(len(r[i]) for r in rows) for i in range(5)]
    hdr = ("figure", "value", "ratio", "target", "")
    line = "  ".join(h.ljust(w[i]) for i, h in enumerate(hdr))
    print("\n" + line.rstrip())
    print("-" * len(line))
    for r in rows:
        print("  ".join((r[i].rjust(w[i]) if i == 1 else r[i].ljust(w[i]))
                        for i in range(5)).rstrip())
    missed = [r[0].strip() for r in rows if r[4] == "MISSED"]
    met = sum(1 for r in rows if r[4] == "MET")
    print("\n%d targets met, %d missed" % (met, len(missed)))
    print("RTT: the median Redis PING round trip over 5 unpinned runs in this run; it is"
          " bimodal on this machine (client and Redis on one CPU or on two), so the"
          " one-CPU and two-CPU ratios are given too.")
    return missed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller sizes, for trying the bench")
    ap.add_argument("--json", default=os.path.join(BUILD, "bench.json"))
    ap.add_argument("--only", default="refs,latency,throughput,failover,scale,tls,pools,lists")
    args = ap.parse_args()
    only = set(args.only.split(","))
    for f in (PULSEBENCH, RTT, harness.PULSED, harness.TESTWORKER):
        if not os.access(f, os.X_OK):
            sys.exit("bench: %s is missing: run 'make bench'" % f)
    log("pulsed bench on %d CPUs (%s)" % (os.cpu_count(), cpu_model()))
    R["cpus"] = os.cpu_count()
    R["background_cpu_busy"] = cpu_busy()
    if R["background_cpu_busy"] > 0.1:
        log("WARNING: %.0f %% of the CPUs are busy with other work before the bench starts:"
            " the figures will be inflated" % (100 * R["background_cpu_busy"]))
    steps = [("refs", refs), ("latency", latency), ("throughput", throughput),
             ("failover", None), ("scale", scale), ("tls", tls_cost), ("pools", pools),
             ("lists", lists)]
    for name, fn in steps:
        if name not in only:
            continue
        if name == "failover":
            failovers(args.quick)
            continue
        e = env()
        try:
            fn(e, args.quick)
        finally:
            e.close()
            harness.shutil.rmtree(e.tmp, ignore_errors=True)
    R["bench_s"] = time.monotonic() - T0
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump({k: (round(v, 3) if isinstance(v, float) else v) for k, v in R.items()},
                  f, indent=1, sort_keys=True)
    missed = table()
    print("\nWhere the load goes, and notes:")
    for n in NOTES:
        print("  " + n)
    if missed:
        print("\nMISSED: " + "; ".join(missed))
    print("\n%s written; the bench took %.0f s" % (args.json, R["bench_s"]))


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


if __name__ == "__main__":
    main()
