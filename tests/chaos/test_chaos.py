"""test_chaos.py: each fault of DESIGN.md section 5, injected again and
again under traffic, then the checker (chaos.py) over the history.

A scenario: three nodes with three workers each, CHAOS_JOBS jobs (2,000
when run directly; make chaos sets 3,000) dispatched first, tickers and
a schedule on every node, and callers dispatching, stopping, notifying
and hanging up throughout. The fault is injected over and over for
CHAOS_SECONDS, each injection healing itself; then the traffic stops and
the pool must settle (every job running once, Redis matching the
workers) within a deadline, and the checker runs. One last injection
then runs without traffic, and the time from its start (and from its
end) until the pool settled is the recovery time.
Each scenario appends one line to $CHAOS_REPORT when set:
"fault injections jobs recovery_ms after_heal_ms".

CHAOS_SEED fixes the random choices (printed at the start of each
scenario, so a failure can be replayed).
"""
import os
import random
import time

import pytest

import chaos
from chaos import FAULTS, Cluster, Ledger, Traffic, now_ns, wait_for

SETTLE_S = 30


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_fault(world, fault):
    seed = int(os.environ.get("CHAOS_SEED") or random.randrange(1 << 32))
    print("chaos %s: CHAOS_SEED=%d" % (fault, seed))
    rng = random.Random(seed)
    hang = fault == "worker_hangs"
    c = world.cluster = Cluster(world.tmp, world.procs, rng, hang=hang)
    bulk = c.bulk(chaos.jobs_count())
    ledger = Ledger()
    traffic = Traffic(c, ledger, rng,
                      abandon=0.3 if fault == "caller_hangs_up" else 0.02,
                      hang_keys=0.1 if hang else 0.0)
    traffic.start()
    inject = FAULTS[fault]
    injections = 0
    end = time.monotonic() + chaos.seconds()
    while time.monotonic() < end or injections == 0:
        inject(c, rng)
        injections += 1
        chaos.pause_s(rng, chaos.TTL_MS)
    traffic.stop()
    # Heal for good: no hanging worker stays, every tool is back.
    for ws in c.live.values():
        for w in [w for w in ws if w.opts]:
            c.kill_worker(w)
    c.restore_clock_users()
    c.settle(SETTLE_S)
    # The last injection, without traffic: its recovery time. Not for
    # workers that hang or run slow handlers: a new one of those takes a
    # tenth of the jobs by placement and holds them for as long as its
    # handlers take (PROTOCOL.md 6.5), which is not a recovery time.
    if fault not in ("worker_hangs", "slow_handlers"):
        start, healed = inject(c, rng)
        injections += 1
    else:
        start = healed = now_ns()
    c.settle(SETTLE_S)
    recovery_ms = (now_ns() - start) / 1e6
    after_heal_ms = (now_ns() - healed) / 1e6
    c.check(ledger, bulk)
    wait_for(lambda: c.ticking(healed), 5, "a tick after the faults")
    assert ledger.counts.get("dispatch OK", 0) > 0, ledger.counts
    jobs = len(c.jobs())
    print("chaos %s: %d injections, %d jobs at the end, recovered %.0f ms "
          "after the last fault began (%.0f ms after it ended), %r"
          % (fault, injections, jobs, recovery_ms, after_heal_ms, ledger.counts))
    report = os.environ.get("CHAOS_REPORT")
    if report:
        with open(report, "a") as f:
            f.write("%s %d %d %.0f %.0f\n" % (fault, injections, jobs,
                                              recovery_ms, after_heal_ms))
