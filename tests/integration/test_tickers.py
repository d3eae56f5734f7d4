"""Tickers (P11): every tick of a name goes to exactly one subscriber
across all nodes and sessions; the cadence lives in Redis and survives the
loss of the node that was ticking; a newer interval replaces the older;
Stop ends the ticker everywhere, Close only locally.

Subscribers are build/tests/tickwatch processes, each logging
"tick SEQ TS_MS RECV_NS" per tick it got.
"""
import os
import subprocess
import time

from harness import BUILD, LogTool, wait_for

TICKWATCH = os.path.join(BUILD, "tests", "tickwatch")


class Watch(LogTool):
    count = 0

    def __init__(self, env, node, name="clock", interval=100, stop=False):
        Watch.count += 1
        self.node = node
        self.log = os.path.join(env.tmp, "tick-%d.log" % Watch.count)
        self.spawn(env.procs, [TICKWATCH, "-s", node.sock, "-p", "p", "-N", name,
                               "-i", str(interval), "-l", self.log] +
                   (["-S"] if stop else []))

    def ticks(self):
        return self.lines("tick")


def all_ticks(watches):
    out = []
    for w in watches:
        out += [(seq, ts, recv, w) for seq, ts, recv in w.ticks()]
    return sorted(out, key=lambda t: t[0])


def check_exactly_once(ticks):
    seqs = [t[0] for t in ticks]
    assert len(seqs) == len(set(seqs)), "a tick was delivered twice"
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "a tick was lost: %r" % seqs


def nodes3(env):
    ns = [env.node("node-%s" % c, worker_ttl="600ms") for c in "abc"]
    for n in ns:
        n.use_pool("p")
    return ns


def test_each_tick_once_pool_wide(env):
    ns = nodes3(env)
    ws = [Watch(env, n) for n in ns for _ in range(2)]
    wait_for(lambda: len(all_ticks(ws)) >= 25, 10, "25 ticks")
    ticks = all_ticks(ws)
    check_exactly_once(ticks)
    # the count matches the clock: within one of (last - first) / interval + 1
    span = ticks[-1][1] - ticks[0][1]
    assert abs(len(ticks) - (span / 100 + 1)) <= 1, (len(ticks), span)
    # ticks spread over subscribers on several nodes
    assert len({t[3].node.name for t in ticks}) >= 2


def test_cadence_survives_killing_the_ticking_node(env):
    ns = nodes3(env)
    ws = [Watch(env, n) for n in ns]
    wait_for(lambda: len(all_ticks(ws)) >= 5, 5, "first ticks")
    last = all_ticks(ws)[-1]
    victim = last[3].node
    victim.kill()
    n_before = len(all_ticks(ws))
    wait_for(lambda: len(all_ticks(ws)) >= n_before + 10, 5, "ticks after the kill")
    ticks = all_ticks(ws)
    check_exactly_once(ticks)
    gaps = [b[1] - a[1] for a, b in zip(ticks, ticks[1:])]
    assert max(gaps) <= 200, gaps  # at most one tick skipped around the kill


def test_newer_interval_replaces_older(env):
    ns = nodes3(env)
    a = Watch(env, ns[0], interval=300)
    wait_for(lambda: len(a.ticks()) >= 2, 5, "ticks at 300 ms")
    b = Watch(env, ns[1], interval=50)
    wait_for(lambda: len(all_ticks([a, b])) >= 12, 5, "ticks at 50 ms")
    ticks = all_ticks([a, b])
    check_exactly_once(ticks)
    assert ticks[1][1] - ticks[0][1] == 300
    assert ticks[-1][1] - ticks[-2][1] == 50


def test_stop_ends_everywhere_close_only_locally(env):
    ns = nodes3(env)
    ws = [Watch(env, n, name="s") for n in ns]
    wait_for(lambda: len(all_ticks(ws)) >= 3, 5, "ticks")
    # Close (a subscriber going away) leaves the others ticking
    ws[0].proc.terminate()
    ws[0].proc.wait()
    n = len(all_ticks(ws[1:]))
    wait_for(lambda: len(all_ticks(ws[1:])) >= n + 3, 5, "ticks after a close")
    # Stop ends the ticker on every node
    Watch(env, ns[2], name="s", stop=True)
    wait_for(lambda: ws[1].ended() and ws[2].ended(), 5, "every subscriber to see the end")
    for w in ws[1:]:
        assert w.proc.wait(timeout=5) == 0


def test_tickers_view(env):
    ns = nodes3(env)
    ws = [Watch(env, ns[0]), Watch(env, ns[0]), Watch(env, ns[1])]
    wait_for(lambda: len(all_ticks(ws)) >= 3, 5, "ticks")
    rc, data, err = ns[0].ctlj("tickers", "p")
    assert rc == 0, err
    (t,) = data["tickers"]
    assert t["name"] == "clock" and t["interval_ms"] == 100 and not t["stopped"]
    assert t["seq"] >= 3 and 0 <= t["next_in_ms"] <= 100
    assert t["subscribers_here"] == 2
    rc, data, err = ns[2].ctlj("tickers", "p")
    assert rc == 0, (data, err)
    assert data["tickers"][0]["subscribers_here"] == 0
    rc, out, _ = ns[0].ctl("tickers", "p")
    assert rc == 0 and "SUBSCRIBERS_HERE" in out and "clock" in out
