"""Pool shutdown (P10) and leaving one pool (P9): shutdown stops every job
on every node through the workers' stop handlers, removes the pool's
state from Redis and makes every node refuse the pool with SHUTDOWN;
leave hands this node's jobs to the other nodes. Both are admin-only
(P17)."""
import os
import subprocess
import time

import pytest

from harness import PULSECTL, check_history, wait_for


def cluster(env, workers=2, opts=(), **pool_opts):
    ns = [env.node("node-%s" % c, worker_ttl="600ms", **pool_opts) for c in "abc"]
    for n in ns:
        n.use_pool("p")
    ws = [env.worker(n, name="%s-w%d" % (n.name, i), opts=opts)
          for n in ns for i in range(workers)]
    wait_for(lambda: all(n.pool_status("p")["workers_pool"] == len(ws) for n in ns), 5, "view")
    return ns, ws


def dispatch_all(node, keys):
    for k in keys:
        rc, _, err = node.ctlj("dispatch", "p", k)
        assert rc == 0, err


def test_shutdown_stops_everything_everywhere(env):
    ns, ws = cluster(env)
    keys = ["sh-%d" % i for i in range(60)]
    dispatch_all(ns[0], keys)
    assert all(w.running() for w in ws)
    t = time.monotonic()
    rc, data, err = ns[1].ctlj("shutdown", "p")
    assert rc == 0, err
    # every stop handler ran before the answer
    assert all(w.running() == set() for w in ws)
    stopped = {e[1] for w in ws for e in w.events() if e[0] == "stop"}
    assert stopped == set(keys)
    # no pool key is left in Redis but the shutdown mark
    assert env.redis.keys("pulse:{p}:*") == ["pulse:{p}:state"]
    for n in ns:
        rc, data, _ = n.ctlj("dispatch", "p", "after")
        assert rc == 1 and data["code"] == "SHUTDOWN"
        assert n.pool_status("p")["state"] == "shutdown"
    r = subprocess.run([env.workers[0].proc.args[0], "-s", ns[2].sock, "-p", "p", "-l",
                        "/dev/null"], capture_output=True, text=True, timeout=10)
    assert r.returncode != 0 and "SHUTDOWN" in r.stderr
    check_history(ws, set())
    # the other pools' views go on working, on every node (issue 17 item 6)
    other = env.worker(ns[1], pool="q", name="q-w0")
    rc, _, err = ns[1].ctlj("dispatch", "q", "q-1")
    assert rc == 0, err
    for n in ns:  # each lists the pools it serves, p left out
        for view in ("jobs", "workers"):
            rc, data, err = n.ctlj(view)
            assert rc == 0, (n.name, view, err)
    rc, data, err = ns[1].ctlj("jobs")
    assert [r["key"] for r in data["jobs"]] == ["q-1"], data
    rc, data, err = ns[1].ctlj("workers")
    assert [w["id"] for w in data["workers"]] == [other.id], data
    # re-opening is an operator's action: pulsectl reopen, on any node;
    # every node joins again
    rc, data, err = ns[2].ctlj("reopen", "p")
    assert rc == 0, err
    assert env.redis.keys("pulse:{p}:state") == []
    wait_for(lambda: all(n.pool_status("p")["state"] == "active" for n in ns), 5,
             "every node to re-join")
    w = env.worker(ns[0], name="again")
    wait_for(lambda: ns[0].ctlj("dispatch", "p", "again-1")[0] == 0, 10, "pool re-opened")
    assert w.running() == {"again-1"}
    rc, _, err = ns[0].ctlj("reopen", "p")  # not shut down: OK, and said
    assert rc == 0, err
    assert "re-open asked, but it was not shut down" in ns[0].logtext()


def test_shutdown_names_nodes_that_did_not_finish(env):
    ns = [env.node("node-%s" % c, worker_ttl="600ms", worker_shutdown_ttl="500ms")
          for c in "ab"]
    ns[1].use_pool("p")
    fast = env.worker(ns[0], name="fast")
    slow = env.worker(ns[1], name="slow", opts=["--stop-delay", "3000"])
    wait_for(lambda: ns[0].pool_status("p")["workers_pool"] == 2, 5, "view")
    dispatch_all(ns[0], ["t-%d" % i for i in range(20)])
    assert slow.running()
    rc, data, err = ns[0].ctlj("shutdown", "p", timeout=30)
    assert rc == 1 and data["code"] == "TIMEOUT"
    assert "node-b" in data["message"] and "node-a" not in data["message"]


def test_shutdown_and_leave_need_admin(env):
    n = env.node(extra={"socket": {"mode": "0666"}})
    os.chmod(env.tmp, 0o755)  # let an unprivileged user reach the socket
    os.chmod(n.dir, 0o755)
    for cmd in (["shutdown", "p"], ["leave", "p"], ["reopen", "p"]):
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            PULSECTL, "-s", n.sock, "--json"] + cmd,
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 1, r.stdout + r.stderr
        assert '"PERMISSION"' in r.stdout
    assert "refused" in n.logtext()


def test_leave_moves_this_nodes_jobs(env):
    ns, ws = cluster(env, workers=1)
    keys = ["lv-%d" % i for i in range(90)]
    dispatch_all(ns[0], keys)
    b = ns[1]
    mine = ws[1].running()
    assert mine
    rc, data, err = b.ctlj("leave", "p")
    assert rc == 0, err
    # P9: stopped here, started on the other nodes' workers
    others = [ws[0], ws[2]]
    wait_for(lambda: set().union(*(w.running() for w in others)) == set(keys), 5,
             "b's jobs on the other nodes")
    assert ws[1].running() == set()
    assert b.pool_status("p")["state"] == "left"
    check_history(ws, keys)


def leave_in_background(node, pool):
    """pulsectl leave POOL, running: its Popen (the test reads its answer)."""
    return subprocess.Popen([PULSECTL, "-s", node.sock, "--json", "leave", pool],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("flush", [False, True], ids=["plain", "flush_during_leave"])
def test_a_leave_refuses_new_workers_and_ends(env, flush):
    """A worker attaching to a node while it leaves a pool is refused
    (UNAVAILABLE, saying why): placed, it would take the jobs the leave
    waits to hand on and the leave would never answer. With Redis losing
    its data in the middle, the leave still ends once the jobs stopped.
    Found by the soak (SOAK_SEED=2204763609)."""
    ns, ws = cluster(env, workers=1, opts=["--stop-delay", "500"])
    keys = ["rl-%d" % i for i in range(12)]
    dispatch_all(ns[0], keys)
    b = ns[1]
    assert ws[1].running()
    leave = leave_in_background(b, "p")
    wait_for(lambda: "leaving: handing" in b.logtext(), 5, "the leave to begin")
    if flush:
        env.redis.cli("FLUSHALL")
    with pytest.raises(AssertionError) as refused:
        env.worker(b, name="late")
    assert "UNAVAILABLE" in str(refused.value), refused.value
    assert "leaving pool p" in str(refused.value), refused.value
    out, err = leave.communicate(timeout=60)
    assert leave.returncode == 0, out + err
    assert b.pool_status("p")["state"] == "left"
    others = [ws[0], ws[2]]
    wait_for(lambda: set().union(*(w.running() for w in others)) == set(keys), 10,
             "b's jobs on the other nodes")
    assert ws[1].running() == set()
    # once left, a worker attaching joins the pool again
    again = env.worker(b, name="again")
    wait_for(lambda: b.pool_status("p")["state"] == "active", 10, "b to join again")
    wait_for(lambda: again.proc.poll() is None and b.pool_status("p")["workers"] == 1,
             10, "the worker to attach")
