"""shutdown_ticks.py: tick jitter and pool shutdown time on real processes.

    /usr/bin/python3 tests/bench/shutdown_ticks.py [--jobs 1000] [--ticks 100]

Prints JSON lines:
  - tick jitter: for each tick, the delay from its scheduled time (Redis
    clock) to its receipt by a subscriber (three nodes, two subscribers
    each, 100 ms interval): p50, p99, max in ms;
  - the time `pulsectl shutdown` takes on a pool of 3 nodes holding N jobs.
"""
import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402
from failover import bulk, env, nodes3, pct  # noqa: E402
from test_tickers import Watch, all_ticks, check_exactly_once  # noqa: E402


def jitter(n):
    e = env()
    try:
        ns, _ = nodes3(e, workers=0)
        ws = [Watch(e, x) for x in ns for _ in range(2)]
        harness.wait_for(lambda: len(all_ticks(ws)) >= n, n * 0.1 + 10, "ticks")
        ticks = all_ticks(ws)[:n]
        check_exactly_once(ticks)
        lat = [(recv - ts * 1e6) / 1e6 for _, ts, recv, _ in ticks]
        return {"tick_interval_ms": 100, "ticks": len(ticks), "tick_jitter_p50_ms": pct(lat, 0.5),
                "tick_jitter_p99_ms": pct(lat, 0.99), "tick_jitter_max_ms": max(lat)}
    finally:
        e.close()


def shutdown(n):
    e = env()
    try:
        ns, ws = nodes3(e, workers=2)
        bulk(ns[0], n, "sd-")
        t = time.monotonic()
        rc, _, err = ns[1].ctlj("shutdown", "p")
        dt = time.monotonic() - t
        assert rc == 0, err
        assert e.redis.keys("pulse:{p}:*") == ["pulse:{p}:state"]
        return {"shutdown_jobs": n, "shutdown_nodes": 3, "shutdown_ms": dt * 1000}
    finally:
        e.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--ticks", type=int, default=100)
    a = ap.parse_args()
    for r in (jitter(a.ticks), shutdown(a.jobs)):
        print(json.dumps(r), flush=True)


if __name__ == "__main__":
    main()
