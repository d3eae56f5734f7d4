"""pulsectl's pool and node commands against real processes: where a key
runs (or would run), the pool's nodes with their leases, the keys one
worker owns, and drain / undrain (this pulsed hands its jobs to other
nodes while its workers stay attached; admin only, P17)."""
import os
import subprocess

from harness import PULSECTL, wait_for


def cluster(env, names="ab", workers=2, **pool_opts):
    ns = [env.node("node-%s" % c, worker_ttl="600ms", **pool_opts) for c in names]
    for n in ns:
        n.use_pool("p")
    ws = [env.worker(n, name="%s-w%d" % (n.name, i))
          for n in ns for i in range(workers)]
    wait_for(lambda: all(n.pool_status("p")["workers_pool"] == len(ws) for n in ns),
             5, "view")
    return ns, ws


def dispatch_all(node, keys):
    for k in keys:
        rc, _, err = node.ctlj("dispatch", "p", k)
        assert rc == 0, err


def starter(ws, key):
    """The worker whose event log shows the key running."""
    return [w for w in ws if key in w.running()]


def test_where_names_the_owner_on_any_node(env):
    ns, ws = cluster(env, "abc", workers=1)
    keys = ["wh-%d" % i for i in range(12)]
    dispatch_all(ns[0], keys)
    for k in keys:
        (w,) = starter(ws, k)
        for n in ns:
            rc, data, err = n.ctlj("where", "p", k)
            assert rc == 0, err
            (row,) = data["where"]
            assert row == {"worker": w.id, "node": w.node.name, "owned": True}
    # a key with no job: the worker it would go to, then it does go there
    rc, data, err = ns[1].ctlj("where", "p", "not-yet")
    assert rc == 0, err
    (row,) = data["where"]
    assert row["owned"] is False
    dispatch_all(ns[2], ["not-yet"])
    (w,) = starter(ws, "not-yet")
    assert (row["worker"], row["node"]) == (w.id, w.node.name)
    # the table and -H forms
    rc, out, _ = ns[0].ctl("-H", "where", "p", "not-yet")
    assert rc == 0 and out == "%s\t%s\ttrue\n" % (w.id, w.node.name)
    rc, out, _ = ns[0].ctl("where", "p", "not-yet")
    assert rc == 0 and out.split("\n")[0].split() == ["WORKER", "NODE", "OWNED"]


def test_nodes_lists_each_node_with_its_lease(env):
    ns, ws = cluster(env, "abc", workers=1)
    rc, data, err = ns[0].ctlj("nodes", "p")
    assert rc == 0, err
    rows = {r["node"]: r for r in data["nodes"]}
    assert set(rows) == {"node-a", "node-b", "node-c"}
    for r in rows.values():
        assert r["lease_ms"] > 0
        assert r["workers"] == 1
    rc, out, _ = ns[1].ctl("-H", "nodes", "p")
    assert rc == 0 and len(out.splitlines()) == 3


def test_jobs_of_one_worker(env):
    ns, ws = cluster(env, "ab", workers=2)
    keys = ["jw-%d" % i for i in range(30)]
    dispatch_all(ns[0], keys)
    seen = set()
    for w in ws:
        rc, data, err = ns[1].ctlj("jobs", "p", "--worker", w.id)
        assert rc == 0, err
        got = {r["key"] for r in data["jobs"]}
        assert got == w.running()
        seen |= got
    assert seen == set(keys)
    rc, data, _ = ns[0].ctlj("jobs", "p", "--worker", "nobody")
    assert rc == 0 and data == {"jobs": [], "ok": True}
    rc, data, _ = ns[0].ctlj("jobs", "p")
    assert rc == 0 and {r["key"] for r in data["jobs"]} == set(keys)
    rc, _, err = ns[0].ctl("jobs", "p", "--worker")
    assert rc == 2, err


def test_drain_moves_every_job_and_undrain_takes_new_ones(env):
    (a, b), ws = cluster(env, "ab", workers=2)
    wa, wb = ws[:2], ws[2:]
    keys = ["dr-%d" % i for i in range(40)]
    dispatch_all(a, keys)
    assert set().union(*(w.running() for w in wb))
    rc, data, err = b.ctlj("drain", "--timeout", "20")
    assert rc == 0, err
    assert data == {"ok": True}
    wait_for(lambda: set().union(*(w.running() for w in wa)) == set(keys), 5,
             "every job on a's workers")
    assert all(w.running() == set() for w in wb)
    assert b.status()["draining"] is True
    assert a.status()["draining"] is False
    # b's workers stay attached, out of placement
    rc, data, err = b.ctlj("workers", "p", "--local")
    assert rc == 0, err
    assert {w["id"] for w in data["workers"]} == {w.id for w in wb}
    assert all(w.proc.poll() is None for w in wb)
    wait_for(lambda: {r["node"]: r["workers"] for r in a.ctlj("nodes", "p")[1]["nodes"]}
             == {"node-a": 2, "node-b": 0}, 5, "b out of placement")
    # new dispatches, on either node, go to a
    new = ["dn-%d" % i for i in range(20)]
    dispatch_all(b, new[:10])
    dispatch_all(a, new[10:])
    assert set().union(*(w.running() for w in wa)) == set(keys) | set(new)
    assert all(w.running() == set() for w in wb)
    # a worker attaching while draining is attached but not placed
    late = env.worker(b, name="node-b-late")
    dispatch_all(b, ["dl-%d" % i for i in range(10)])
    assert late.running() == set()
    # undrain: b takes jobs again (rebalance moves some back, new ones land)
    rc, data, err = b.ctlj("undrain")
    assert rc == 0, err
    assert b.status()["draining"] is False
    wait_for(lambda: a.pool_status("p")["workers_pool"] == 5, 5, "b placed again")
    i = 0
    while not set().union(*(w.running() for w in wb + [late])):
        dispatch_all(a, ["du-%d" % i])
        i += 1
        assert i < 100, "no dispatch reached b after undrain"


def slow_worker_with_a_job(env, a, b, stop_delay_ms, prefix):
    """A worker on b whose stop handler takes stop_delay_ms, given a job
    by dispatching keys prefix-0, prefix-1, ... on a until one lands on
    it. Returns the keys dispatched."""
    slow = env.worker(b, name="node-b-slow", opts=("--stop-delay", str(stop_delay_ms)))
    wait_for(lambda: a.pool_status("p")["workers_pool"] == 3, 5, "view")
    keys = []
    while not slow.running():
        keys.append("%s-%d" % (prefix, len(keys)))
        dispatch_all(a, keys[-1:])
        assert len(keys) < 100
    return keys


def test_drain_times_out_naming_what_remains(env):
    (a, b), ws = cluster(env, "ab", workers=1)
    # a worker whose stop handler hangs keeps its job on b
    slow_worker_with_a_job(env, a, b, 30000, "ds")
    rc, data, err = b.ctlj("drain", "--timeout", "1")
    assert rc == 1
    assert data["code"] == "TIMEOUT" and "still running here" in data["message"]


def test_drain_and_undrain_need_admin(env):
    n = env.node(extra={"socket": {"mode": "0666"}})
    os.chmod(env.tmp, 0o755)  # let an unprivileged user reach the socket
    os.chmod(n.dir, 0o755)
    for cmd in (["drain"], ["undrain"]):
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            PULSECTL, "-s", n.sock, "--json"] + cmd,
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 1, r.stdout + r.stderr
        assert '"PERMISSION"' in r.stdout
    assert n.status()["draining"] is False


def test_workers_and_jobs_of_every_pool(env):
    n = env.node()
    wa = env.worker(n, pool="pa", name="wa")
    wb = env.worker(n, pool="pb", name="wb")
    assert n.ctlj("dispatch", "pa", "ka")[0] == 0
    assert n.ctlj("dispatch", "pb", "kb")[0] == 0
    rc, data, err = n.ctlj("jobs")
    assert rc == 0, err
    assert sorted((r["pool"], r["key"]) for r in data["jobs"]) == [("pa", "ka"), ("pb", "kb")]
    rc, data, err = n.ctlj("workers")
    assert rc == 0, err
    assert sorted((r["pool"], r["id"]) for r in data["workers"]) == [("pa", "wa"), ("pb", "wb")]
    rc, out, _ = n.ctl("-H", "jobs")
    assert sorted(out.split("\n")[:-1]) == ["pa\tka", "pb\tkb"]
    rc, out, _ = n.ctl("workers")
    assert rc == 0 and out.split("\n")[0].split() == ["POOL", "ID", "NAME", "NODE", "JOBS"]


def test_pulsed_stopping_during_a_drain_answers_the_drain(env):
    """A DRAIN still waiting when pulsed stops ends with the session (the
    caller is not left hanging) and pulsed exits cleanly, its waiting
    drain freed (make test-asan checks the leak). The slow worker's stop
    (2 s) outlasts b's worker shutdown TTL (0.5 s), so b exits with the
    job still there and the drain still waiting; with a stop that ended
    first, b would hand the job on and the drain rightly answer OK just
    before b exits (a race this test once lost)."""
    (a, b), ws = cluster(env, "ab", workers=1, worker_shutdown_ttl="500ms")
    keys = slow_worker_with_a_job(env, a, b, 2000, "dq")
    drain = subprocess.Popen([PULSECTL, "-s", b.sock, "--json", "drain", "--timeout", "60"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: b.status()["draining"] is True, 5, "b draining")
    assert b.stop() == 0
    out, err = drain.communicate(timeout=30)
    assert drain.returncode != 0, out + err
    # nothing was lost: every job runs on a's worker
    wait_for(lambda: ws[0].running() >= set(keys), 10, "jobs on a")


def test_undrain_answers_a_waiting_drain_at_once(env):
    """A DRAIN waiting for a slow stop handler is answered CLOSED the
    moment an UNDRAIN comes (saying how many jobs were still here), not at
    its deadline; the job stays where it is."""
    (a, b), ws = cluster(env, "ab", workers=1)
    slow_worker_with_a_job(env, a, b, 30000, "du")
    drain = subprocess.Popen([PULSECTL, "-s", b.sock, "--json", "drain", "--timeout", "60"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: b.status()["draining"] is True, 5, "b draining")
    rc, _, err = b.ctlj("undrain")
    assert rc == 0, err
    out, err = drain.communicate(timeout=10)
    assert drain.returncode == 1, out + err
    assert '"CLOSED"' in out and "when it was undrained" in out, out


def test_a_drain_begun_while_redis_is_away_ends_once_it_is_back(env):
    """Jobs cannot move while Redis is away (a release needs it): the
    drain waits, and hands them on as soon as the pool reaches Redis again
    (drain_resume), then answers OK."""
    px = env.proxy()
    a = env.node("node-a", worker_ttl="5s")
    b = env.node("node-b", worker_ttl="5s", redis_url=px.url())
    wa = env.worker(a, name="a-w0")
    wb = env.worker(b, name="b-w0")
    wait_for(lambda: a.pool_status("p")["workers_pool"] == 2
             and b.pool_status("p")["workers_pool"] == 2, 5, "view")
    keys = ["dx-%d" % i for i in range(30)]
    dispatch_all(a, keys)
    wait_for(lambda: wb.running(), 5, "a job on b's worker")
    px.cut()
    wait_for(lambda: "connection lost" in b.logtext(), 5, "b losing Redis")
    drain = subprocess.Popen([PULSECTL, "-s", b.sock, "--json", "drain", "--timeout", "30"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: b.status()["draining"] is True, 5, "b draining")
    assert wb.running(), "b's jobs moved without Redis"
    px.heal()
    out, err = drain.communicate(timeout=40)
    assert drain.returncode == 0, out + err
    wait_for(lambda: wa.running() == set(keys), 10, "every job on a's worker")
    assert wb.running() == set()
