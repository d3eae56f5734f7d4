"""Schedules (P12): a plan is computed on exactly one node per tick and
applied: starts dispatched (an existing key is not an error), stops
stopped, StopAll stops what the schedule started and the plan does not
start, "end" ends the schedule on every node.

Producers are build/tests/planner processes that read their plan from a
file the test rewrites and log "plan NS" per plan they computed.
"""
import os
import subprocess
import time

from harness import BUILD, LogTool, check_history, wait_for

PLANNER = os.path.join(BUILD, "tests", "planner")


class Planner(LogTool):
    count = 0

    def __init__(self, env, node, planfile, name="sched", interval=300):
        Planner.count += 1
        self.log = os.path.join(env.tmp, "plan-%d.log" % Planner.count)
        self.spawn(env.procs, [PLANNER, "-s", node.sock, "-p", "p", "-N", name,
                               "-i", str(interval), "-f", planfile, "-l", self.log])

    def plans(self):
        return [t[0] for t in self.lines("plan")]


def make_pool(env, interval=300):
    ns = [env.node("node-%s" % c, worker_ttl="600ms") for c in "abc"]
    for n in ns:
        n.use_pool("p")
    ws = [env.worker(n, name="%s-w" % n.name) for n in ns]
    planfile = os.path.join(env.tmp, "plan.txt")
    open(planfile, "w").close()
    ps = [Planner(env, n, planfile, interval=interval) for n in ns]
    return ns, ws, ps, planfile


def all_plans(ps):
    return sorted(t for p in ps for t in p.plans())


def running(ws):
    out = {}
    for w in ws:
        for k in w.running():
            out.setdefault(k, []).append(w.id)
    return out


def step(ps, planfile, text, ws, expect):
    with open(planfile + ".tmp", "w") as f:
        f.write(text)
    os.rename(planfile + ".tmp", planfile)
    n = len(all_plans(ps))
    # two plans after the change: the second surely read the new file
    wait_for(lambda: len(all_plans(ps)) >= n + 2, 5, "plans after %r" % text)
    wait_for(lambda: set(running(ws)) == set(expect) and
             all(len(v) == 1 for v in running(ws).values()), 5,
             "jobs %r after %r" % (sorted(expect), text))


def test_seed_schedule_sequence(env):
    ns, ws, ps, planfile = make_pool(env)
    step(ps, planfile, "start K\n", ws, {"K"})
    step(ps, planfile, "stop K\n", ws, set())
    step(ps, planfile, "start K1\nstart K2\n", ws, {"K1", "K2"})
    step(ps, planfile, "all\n", ws, set())
    step(ps, planfile, "start K\n", ws, {"K"})
    step(ps, planfile, "start K1\nall\n", ws, {"K1"})
    with open(planfile, "w") as f:
        f.write("end\n")
    # "stop" ends the schedule on every node; the jobs stay
    wait_for(lambda: all(p.ended() for p in ps), 5, "every producer to see the end")
    for p in ps:
        assert p.proc.wait(timeout=5) == 0
    assert set(running(ws)) == {"K1"}
    check_history(ws, {"K1"})


def test_plan_runs_once_per_tick(env):
    ns, ws, ps, planfile = make_pool(env, interval=200)
    with open(planfile, "w") as f:
        f.write("start steady\n")
    wait_for(lambda: len(all_plans(ps)) >= 12, 10, "12 plans")
    plans = all_plans(ps)
    gaps = [(b - a) / 1e6 for a, b in zip(plans, plans[1:])]
    # one plan per tick pool-wide: never two close together
    assert min(gaps) > 100, gaps
    span = (plans[-1] - plans[0]) / 1e6
    assert abs(len(plans) - (span / 200 + 1)) <= 1, (len(plans), span)
    # the plans were spread over the nodes' producers
    assert sum(1 for p in ps if p.plans()) >= 2
    check_history(ws, {"steady"})


def test_producer_gone_another_is_asked(env):
    ns, ws, ps, planfile = make_pool(env, interval=200)
    with open(planfile, "w") as f:
        f.write("start g\n")
    wait_for(lambda: len(all_plans(ps)) >= 3, 5, "plans")
    ps[0].proc.kill()
    ps[1].proc.kill()
    t = time.time_ns()
    # the producer on the third node takes over: at most one interval missed
    wait_for(lambda: len([x for x in ps[2].plans() if x > t]) >= 3, 5,
             "plans from the remaining producer")
    after = [x for x in ps[2].plans() if x > t]
    assert (after[0] - t) / 1e6 < 2 * 200 + 100
    check_history(ws, {"g"})


def test_failed_plan_is_retried(env):
    ns, ws, ps, planfile = make_pool(env, interval=200)
    with open(planfile, "w") as f:
        f.write("fail not today\n")
    wait_for(lambda: any("plan failed: not today" in n.logtext() for n in ns), 5,
             "the failure in a log")
    step(ps, planfile, "start later\n", ws, {"later"})
    check_history(ws, {"later"})


def test_schedules_view(env):
    ns, ws, ps, planfile = make_pool(env, interval=200)
    step(ps, planfile, "start v1\nstart v2\n", ws, {"v1", "v2"})
    rc, data, err = ns[1].ctlj("schedules", "p")
    assert rc == 0, err
    (sc,) = data["schedules"]
    assert sc["name"] == "sched" and sc["interval_ms"] == 200
    assert sc["keys"] == 2 and sc["producers_here"] == 1 and not sc["stopped"]
