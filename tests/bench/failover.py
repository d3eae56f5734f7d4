"""failover.py: failover and rebalance figures on real processes.

    /usr/bin/python3 tests/bench/failover.py [--jobs N] [--rebalance-jobs N]

Prints, as JSON lines and a summary table:
  - kill -9 of a worker holding ~N jobs: time until every one of them runs
    on another worker (on another node), and the p50/p99 per job;
  - kill -9 of a pulsed (worker TTL 2 s): time until its jobs run elsewhere;
  - a fourth worker joining three with M jobs: jobs moved and time to settle.
Uses the integration harness (real redis-server, pulsed, testworker).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import conftest  # noqa: E402
import harness  # noqa: E402
from harness import wait_for  # noqa: E402

BULK = os.path.join(harness.BUILD, "tests", "bulkdispatch")


def bulk(node, n, prefix):
    r = subprocess.run([BULK, "-s", node.sock, "-p", "p", "-n", str(n), "-k", prefix],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def starts(w):
    """key -> ns of the last start in this worker's event log."""
    out = {}
    for ev in w.events():
        if ev[0] == "start":
            out[ev[1]] = int(ev[3])
    return out


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


class env(conftest.Env):
    """A private Redis and its processes; the directory goes at close."""

    def __init__(self):
        super().__init__(tempfile.mkdtemp(prefix="fb", dir="/tmp"))

    def close(self):
        super().close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def nodes3(e, workers=1, **pool_opts):
    """Three nodes in pool "p", `workers` testworkers each, every node
    seeing every worker."""
    ns = [e.node("node-%s" % c, **pool_opts) for c in "abc"]
    for x in ns:
        x.use_pool("p")
    ws = [e.worker(x, name="w-%s-%d" % (x.name, i)) for x in ns for i in range(workers)]
    wait_for(lambda: all(x.pool_status("p")["workers_pool"] == len(ws) for x in ns), 5, "view")
    return ns, ws


def worker_kill(n):
    e = env()
    try:
        a = e.node("node-a")
        b = e.node("node-b")
        a.use_pool("p")
        wa = e.worker(a, name="wa")
        wb = e.worker(b, name="wb")
        wait_for(lambda: a.pool_status("p")["workers_pool"] == 2, 5, "view")
        bulk(a, 2 * n, "wk-")
        victim, other = (wa, wb) if len(wa.running()) >= len(wb.running()) else (wb, wa)
        theirs = victim.running()
        t_kill = victim.kill()
        wait_for(lambda: theirs <= other.running(), 30, "failover", interval=0.002)
        st = starts(other)
        lat = [(st[k] - t_kill) / 1e6 for k in theirs]
        return {"failover_worker_jobs": len(theirs), "failover_worker_ms": max(lat),
                "failover_worker_p50_ms": pct(lat, 0.5), "failover_worker_p99_ms": pct(lat, 0.99)}
    finally:
        e.close()


def node_kill(n, ttl_ms=2000):
    e = env()
    try:
        ns, ws = nodes3(e, worker_ttl="%dms" % ttl_ms)
        bulk(ns[0], n, "nk-")
        victim = ns[1]
        theirs = ws[1].running()
        t_kill = time.time_ns()
        victim.kill()
        others = [ws[0], ws[2]]
        wait_for(lambda: theirs <= (others[0].running() | others[1].running()),
                 ttl_ms / 1000 * 3 + 10, "node failover", interval=0.005)
        st = {}
        for w in others:
            st.update({k: v for k, v in starts(w).items() if k in theirs})
        lat = [(st[k] - t_kill) / 1e6 for k in theirs]
        return {"failover_node_jobs": len(theirs), "failover_node_ms": max(lat),
                "worker_ttl_ms": ttl_ms}
    finally:
        e.close()


def rebalance(n):
    e = env()
    try:
        ns, ws = nodes3(e)
        t0 = time.monotonic()
        out = bulk(ns[0], n, "rb-")
        t_disp = time.monotonic() - t0
        t_join = time.time_ns()
        new = e.worker(ns[0], name="w-new")
        allw = ws + [new]

        def settled():
            run = [w.running() for w in allw]
            return sum(len(r) for r in run) == n and len(set().union(*run)) == n and len(run[3]) > 0

        wait_for(settled, 60, "rebalance to settle", interval=0.01)
        # settled means every job runs once; wait until the newcomer stops growing
        last, stable = -1, 0
        while stable < 20:
            cur = len(new.running())
            stable = stable + 1 if cur == last else 0
            last = cur
            time.sleep(0.01)
        moved = len(new.running())
        st = starts(new)
        settle_ms = (max(st.values()) - t_join) / 1e6
        harness.check_history(allw, {"rb-%d" % i for i in range(n)})
        return {"rebalance_jobs": n, "rebalance_workers_before": 3, "rebalance_moved": moved,
                "rebalance_expected": n / 4, "rebalance_settle_ms": settle_ms,
                "dispatch_sequential_us": float(out.split()[-1]), "dispatch_load_s": t_disp}
    finally:
        e.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--rebalance-jobs", type=int, default=10000)
    args = ap.parse_args()
    res = {}
    for f, arg in ((worker_kill, args.jobs), (node_kill, args.jobs),
                   (rebalance, args.rebalance_jobs)):
        r = f(arg)
        print(json.dumps(r), flush=True)
        res.update(r)
    print()
    for k, v in res.items():
        print("%-28s %s" % (k, round(v, 1) if isinstance(v, float) else v))


if __name__ == "__main__":
    main()
