"""profile.py: where a dispatch's time goes inside pulsed (not part of
`make bench`; run it by hand).

    /usr/bin/python3 tests/bench/profile.py [--mode strace|callgrind]
                                           [--where local|remote] [-n COUNT]

Two nodes A and B on a private Redis, callers on A (build/tests/pulsebench,
one session, closed loop), the pool's only worker on A (local) or on B
(remote). The node that does the work is run under a tool:

  strace     `strace -c -f` on pulsed A (local) or on both (remote):
             system calls per dispatch, by name.
  callgrind  pulsed A under `valgrind --tool=callgrind`, collection on only
             during the COUNT dispatches: instructions per dispatch and the
             functions that execute them (inclusive, from
             callgrind_annotate), also for the remote case's caller node.

Prints INFO commandstats per dispatch as well (what Redis runs).
"""
import argparse
import os
import signal
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
import bench  # noqa: E402


def start_under(node, prefix):
    logf = open(node.log, "ab")
    node.proc = node.procs.spawn(prefix + [harness.PULSED, "-c", node.conf],
                                 stdout=logf, stderr=logf)
    logf.close()
    wait_for(node.ready, 60, "pulsed %s to answer" % node.name)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", default="callgrind", choices=("strace", "callgrind"))
    ap.add_argument("--where", default="local", choices=("local", "remote"))
    ap.add_argument("-n", type=int, default=2000)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="pp", dir="/tmp")
    e = conftest.Env(tmp)
    out = os.path.join(tmp, "prof.out")
    try:
        a = e.node("node-a", start=False, extra={"log": {"level": "info"}})
        b = e.node("node-b", extra={"log": {"level": "info"}})
        if args.mode == "strace":
            start_under(a, ["strace", "-c", "-f", "-o", out])
        else:
            start_under(a, ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                            "--callgrind-out-file=" + out])
        pool = "loc" if args.where == "local" else "rem"
        w = e.worker(a if pool == "loc" else b, pool=pool, name="w")
        for x in (a, b):
            x.use_pool(pool)
            wait_for(lambda: (x.pool_status(pool) or {}).get("workers_pool") == 1, 30, "view")
        # warm up (scripts loaded, buffers grown)
        bench.pulsebench(a.sock, pool, "-k", "warm-", "-n", 200)
        if args.mode == "callgrind":
            subprocess.run(["callgrind_control", "-i", "on", str(a.proc.pid)],
                           capture_output=True, check=True)
        s0 = bench.commandstats(e.redis)
        r = bench.pulsebench(a.sock, pool, "-k", "p-", "-n", args.n)
        cmds, cpu = bench.stats_delta(s0, bench.commandstats(e.redis))
        if args.mode == "callgrind":
            subprocess.run(["callgrind_control", "-i", "off", str(a.proc.pid)],
                           capture_output=True, check=True)
        print("%d %s dispatches: p50 %.0f us under the tool" % (args.n, args.where, r["p50_us"]))
        print("Redis commands per dispatch: %.2f (%s)" % (
            sum(cmds.values()) / args.n,
            ", ".join("%s %.2f" % (k, v / args.n) for k, v in sorted(cmds.items(), key=lambda kv: -kv[1]))))
        # SIGTERM to pulsed itself (under strace it is the tracer's child)
        target = a.proc.pid
        if args.mode == "strace":
            with open("/proc/%d/task/%d/children" % (target, target)) as f:
                target = int(f.read().split()[0])
        os.kill(target, signal.SIGTERM)
        a.proc.wait(timeout=60)
        time.sleep(0.5)
        if args.mode == "strace":
            text = open(out).read()
            print("pulsed node-a system calls (strace -c -f) over %d dispatches (+200 warm-up,"
                  " + status calls):" % args.n)
            print(text)
        else:
            files = [f for f in os.listdir(tmp) if f.startswith("prof.out")]
            path = os.path.join(tmp, sorted(files)[-1])
            ann = subprocess.run(["callgrind_annotate", "--inclusive=yes", path],
                                 capture_output=True, text=True).stdout
            total = None
            for line in ann.splitlines():
                if "PROGRAM TOTALS" in line:
                    for tok in line.split():
                        if tok.replace(",", "").isdigit():
                            total = int(tok.replace(",", ""))
                            break
            print("pulsed node-a: %s instructions per dispatch (callgrind, collection only"
                  " during the dispatches)" % ("%.0f" % (total / args.n) if total else "?"))
            lines = ann.splitlines()
            at = next((i for i, l in enumerate(lines) if "PROGRAM TOTALS" in l), 0)
            print("\n".join(lines[at:at + 70]))
            print("(callgrind file: %s)" % path)
    finally:
        e.close()


if __name__ == "__main__":
    main()
