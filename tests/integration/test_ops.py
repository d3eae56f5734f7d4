"""Operations (issue 5): metrics and health over HTTP, systemd notification,
reload, the unit file and the installed library.

Every test runs real processes: a private redis-server, pulsed nodes with
a metrics listener on a free loopback port, test workers, and for systemd
a datagram socket standing in for $NOTIFY_SOCKET. Metrics are parsed from
the Prometheus text format (0.0.4) and checked both for shape (every
family has HELP and TYPE lines and the right type) and for movement when
something happens.
"""
import grp
import json
import os
import pwd
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

import harness
from harness import BUILD, REPO, SLOW, check_history, frame, free_port, \
    raw_session, read_frame, wait_for

# Every family pulsed exports, with its type. The tests and pulsed.8's
# METRICS section are checked against this list.
FAMILIES = {
    "pulsed_build_info": "gauge",
    "pulsed_redis_up": "gauge",
    "pulsed_redis_reconnects_total": "counter",
    "pulsed_redis_rtt_seconds": "gauge",
    "pulsed_sessions": "gauge",
    "pulsed_jobs_local": "gauge",
    "pulsed_jobs_pool": "gauge",
    "pulsed_jobs_waiting": "gauge",
    "pulsed_workers_local": "gauge",
    "pulsed_workers_pool": "gauge",
    "pulsed_pool_active": "gauge",
    "pulsed_dispatches_total": "counter",
    "pulsed_dispatch_duration_seconds": "histogram",
    "pulsed_job_moves_total": "counter",
    "pulsed_lease_renewals_failed_total": "counter",
    "pulsed_self_fences_total": "counter",
}

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)')


# ---- helpers ---------------------------------------------------------------

def http_get(port, path):
    """(status, body, headers) of GET http://127.0.0.1:port/path."""
    url = "http://127.0.0.1:%d%s" % (port, path)
    try:
        with urllib.request.urlopen(url, timeout=10 * SLOW) as r:
            return r.status, r.read().decode(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers


class Metrics:
    """One scrape, parsed and checked against the exposition format."""

    def __init__(self, text):
        self.types, self.helps, self.samples = {}, {}, {}
        for line in text.splitlines():
            if line.startswith("# HELP "):
                name, help_ = line[7:].split(" ", 1)
                self.helps[name] = help_
            elif line.startswith("# TYPE "):
                name, type_ = line[7:].split(" ")
                assert name not in self.types, "second TYPE for " + name
                self.types[name] = type_
            else:
                m = SAMPLE.match(line)
                assert m, "malformed sample line %r" % line
                name, labels, value = m.groups()
                fam = self.family_of(name)
                assert fam in self.types, "sample %s before its TYPE" % name
                lab = frozenset(LABEL.findall(labels or ""))
                self.samples[(name, lab)] = float(value)

    def family_of(self, name):
        for suffix in ("_bucket", "_sum", "_count"):
            base = name[:-len(suffix)]
            if name.endswith(suffix) and self.types.get(base) == "histogram":
                return base
        return name

    def get(self, name, **labels):
        return self.samples.get((name, frozenset(labels.items())))

    def buckets(self, name):
        out = []
        for (n, lab), v in self.samples.items():
            if n == name + "_bucket":
                le = dict(lab)["le"]
                out.append((float("inf") if le == "+Inf" else float(le), v))
        return sorted(out)


def scrape(port):
    status, body, headers = http_get(port, "/metrics")
    assert status == 200, body
    assert "version=0.0.4" in headers["Content-Type"]
    return Metrics(body)


def metric(port, name, **labels):
    """A callable for wait_for: the current value of one sample."""
    return lambda: scrape(port).get(name, **labels)


def metrics_node(env, **pool_opts):
    """A started node with metrics on a free loopback port: (node, port)."""
    port = free_port()
    n = env.node(extra={"metrics": {"listen": "127.0.0.1:%d" % port}},
                 **pool_opts)
    wait_for(lambda: http_get(port, "/healthz")[0] == 200, 10,
             "the metrics listener")
    return n, port


def dispatch(node, key, payload=""):
    return node.ctlj("dispatch", "p", key, payload)


def write_config(node, text):
    with open(node.conf, "w") as f:
        f.write(text)


class NotifySocket:
    """A stand-in for systemd's notification socket: a datagram socket
    whose messages a thread records as (monotonic time, {VAR: value})."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.msgs = []
        self.lock = threading.Lock()
        self.closing = False
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while True:
            try:
                data = self.sock.recv(4096)
            except OSError:
                return
            if self.closing:
                return
            fields = dict(l.split("=", 1) for l in data.decode().split("\n")
                          if "=" in l)
            with self.lock:
                self.msgs.append((time.monotonic(), fields))

    def all(self):
        with self.lock:
            return list(self.msgs)

    def with_var(self, var, value=None):
        return [(t, m) for t, m in self.all()
                if var in m and (value is None or m[var] == value)]

    def index(self, var, value=None, after=-1):
        """Position of the first message after `after` carrying var."""
        for i, (_, m) in enumerate(self.all()):
            if i > after and var in m and (value is None or m[var] == value):
                return i
        return None

    def close(self):
        """Wake the reader and wait for it before the descriptor is closed:
        a reader still looping when the number is reused by the next test's
        socket would take that test's messages."""
        self.closing = True
        self.sock.shutdown(socket.SHUT_RDWR)
        self.reader.join(5)
        assert not self.reader.is_alive(), "notify reader did not stop"
        self.sock.close()


@pytest.fixture
def notify_sock(env):
    s = NotifySocket(os.path.join(env.tmp, "notify.sock"))
    yield s
    s.close()


# ---- metrics and health ----------------------------------------------------

def test_metrics_shape_and_endpoints(env):
    n, port = metrics_node(env)
    env.worker(n)  # joins pool p, so per-pool families have samples
    wait_for(metric(port, "pulsed_pool_active", pool="p"), 5, "pool p active")
    m = scrape(port)
    for fam, type_ in FAMILIES.items():
        assert m.types.get(fam) == type_, "family %s: %r" % (fam, m.types.get(fam))
        assert m.helps.get(fam), "family %s has no HELP" % fam
    assert set(m.types) == set(FAMILIES), "undocumented families: %r" % \
        sorted(set(m.types) - set(FAMILIES))
    for fam, type_ in FAMILIES.items():
        if type_ == "counter":
            assert fam.endswith("_total"), fam
    assert m.get("pulsed_build_info", version="0.1.0", node="node-a") == 1
    assert m.get("pulsed_redis_up") == 1
    for result in ("ok", "JOB_EXISTS", "HANDLER", "TIMEOUT", "UNAVAILABLE"):
        assert m.get("pulsed_dispatches_total", result=result) == 0
    for reason in ("rebalance", "detach", "worker_gone"):
        assert m.get("pulsed_job_moves_total", reason=reason) == 0
    assert [le for le, _ in m.buckets("pulsed_dispatch_duration_seconds")] == \
        [.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10,
         float("inf")]
    status, body, _ = http_get(port, "/healthz")
    assert (status, body) == (200, "ok\n")
    status, body, _ = http_get(port, "/readyz")
    assert status == 200, body
    status, body, _ = http_get(port, "/nothing-here")
    assert status == 404
    # only GET and HEAD
    req = urllib.request.Request("http://127.0.0.1:%d/metrics" % port,
                                 data=b"", method="POST")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10 * SLOW)
    assert e.value.code in (405, 501)


def test_metrics_move_with_work(env):
    n, port = metrics_node(env, worker_ttl="1s")
    w1 = env.worker(n, name="w1")
    wait_for(lambda: scrape(port).get("pulsed_workers_local", pool="p") == 1,
             5, "workers_local 1")
    m = scrape(port)
    assert m.get("pulsed_sessions", role="worker") == 1
    keys = {"job-%d" % i for i in range(20)}
    for k in sorted(keys):
        rc, _, err = dispatch(n, k)
        assert rc == 0, err
    m = scrape(port)
    assert m.get("pulsed_dispatches_total", result="ok") == 20
    assert m.get("pulsed_dispatch_duration_seconds_count") == 20
    assert m.get("pulsed_dispatch_duration_seconds_sum") > 0
    b = m.buckets("pulsed_dispatch_duration_seconds")
    assert b[-1] == (float("inf"), 20)
    assert all(x[1] <= y[1] for x, y in zip(b, b[1:])), "buckets not cumulative"
    assert m.get("pulsed_jobs_local", pool="p") == 20
    # the pool-wide count and the round trip come with the lease renewals
    wait_for(metric(port, "pulsed_jobs_pool", pool="p"), 5, "jobs_pool > 0")
    wait_for(lambda: scrape(port).get("pulsed_jobs_pool", pool="p") == 20, 5,
             "jobs_pool 20")
    assert scrape(port).get("pulsed_redis_rtt_seconds", pool="p") > 0

    rc, data, _ = dispatch(n, "job-0")
    assert rc == 1 and data["code"] == "JOB_EXISTS"
    m = scrape(port)
    assert m.get("pulsed_dispatches_total", result="JOB_EXISTS") == 1
    assert m.get("pulsed_dispatches_total", result="ok") == 20
    assert m.get("pulsed_dispatch_duration_seconds_count") == 21

    # a second worker: about half the jobs move to it (rebalance)
    # (every move is counted when it starts, all at once: the moves are
    # over when w2 runs as many jobs as were counted)
    w2 = env.worker(n, name="w2", opts=("--detach-on-sigterm",))
    wait_for(lambda: w2.running() and
             len(w1.running()) + len(w2.running()) == 20 and
             scrape(port).get("pulsed_job_moves_total", reason="rebalance")
             == len(w2.running()), 10, "rebalance onto w2")
    m = scrape(port)
    assert m.get("pulsed_workers_local", pool="p") == 2
    wait_for(lambda: scrape(port).get("pulsed_workers_pool", pool="p") == 2, 5,
             "workers_pool 2")
    assert m.get("pulsed_sessions", role="worker") == 2

    # kill -9 of w1: its jobs are released to w2
    held = len(w1.running())
    w1.kill()
    wait_for(lambda: scrape(port).get("pulsed_workers_local", pool="p") == 1,
             5, "workers_local 1 after the kill")
    wait_for(lambda: w2.running() == keys, 5, "w1's jobs restarted on w2")
    m = scrape(port)
    assert m.get("pulsed_job_moves_total", reason="worker_gone") == held
    assert m.get("pulsed_jobs_local", pool="p") == 20

    # a detaching worker hands its jobs on (reason detach); with no worker
    # left they wait, and the gauges say so
    assert w2.term() == 0
    m = scrape(port)
    assert m.get("pulsed_job_moves_total", reason="detach") == 20
    assert m.get("pulsed_jobs_local", pool="p") == 0
    assert m.get("pulsed_workers_local", pool="p") == 0
    assert m.get("pulsed_sessions", role="worker") == 0
    wait_for(lambda: scrape(port).get("pulsed_jobs_waiting", pool="p") == 20, 5,
             "jobs_waiting 20")
    check_history([w1, w2], set())


def test_sessions_by_role(env):
    n, port = metrics_node(env)
    bare = raw_session(n.sock)  # no handshake yet: role none
    client = raw_session(n.sock)
    client.sendall(frame({"t": 1, "v": 1, "role": "client"}))
    assert read_frame(client)["t"] == 2  # WELCOME
    wait_for(lambda: scrape(port).get("pulsed_sessions", role="client") == 1 and
             scrape(port).get("pulsed_sessions", role="none") == 1, 5,
             "one client and one bare session")
    bare.close()
    client.close()
    wait_for(lambda: scrape(port).get("pulsed_sessions", role="client") == 0 and
             scrape(port).get("pulsed_sessions", role="none") == 0, 5,
             "sessions gone")


def test_health_follows_redis(env):
    n, port = metrics_node(env, worker_ttl="1s")
    env.worker(n)
    wait_for(lambda: http_get(port, "/readyz")[0] == 200, 5, "ready")
    env.redis.stop()
    status, body = wait_for(
        lambda: (lambda r: r[:2] if r[0] == 503 else None)(http_get(port, "/readyz")),
        5, "/readyz 503 without Redis")
    assert "Redis is unreachable" in body
    assert http_get(port, "/healthz")[:2] == (200, "ok\n")
    # the lease cannot be renewed: failures counted, then the node fences
    wait_for(metric(port, "pulsed_self_fences_total"), 5, "a self-fence")
    m = scrape(port)
    assert m.get("pulsed_redis_up") == 0
    assert m.get("pulsed_lease_renewals_failed_total") >= 1
    assert m.get("pulsed_pool_active", pool="p") == 0
    assert m.get("pulsed_redis_reconnects_total") == 0
    env.redis.start()
    wait_for(lambda: http_get(port, "/readyz")[0] == 200, 10,
             "/readyz 200 once Redis is back and the pool re-joined")
    m = scrape(port)
    assert m.get("pulsed_redis_up") == 1
    assert m.get("pulsed_redis_reconnects_total") == 1
    assert m.get("pulsed_pool_active", pool="p") == 1
    assert n.proc.poll() is None


def test_metrics_address_in_use(env):
    """A metrics address that cannot be bound stops pulsed at start with
    the reason, rather than running unobserved."""
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    n = env.node(extra={"metrics": {"listen": "127.0.0.1:%d" % port}},
                 start=False)
    n.start(wait=False)
    assert n.proc.wait(timeout=10 * SLOW) == 1
    assert "metrics.listen 127.0.0.1:%d: cannot listen" % port in n.logtext()
    assert not os.path.exists(n.sock)
    busy.close()


def test_metrics_documented():
    """pulsed.8's METRICS section names every family."""
    with open(os.path.join(REPO, "daemon", "pulsed.8")) as f:
        page = f.read()
    assert ".SH METRICS" in page and ".SH SYSTEMD" in page
    section = page.split(".SH METRICS", 1)[1].split("\n.SH ", 1)[0]
    for fam in FAMILIES:
        assert fam.replace("_", "\\_") in section or fam in section, \
            "pulsed.8 does not document " + fam


# ---- systemd ---------------------------------------------------------------

def test_sd_notify(env, notify_sock, monkeypatch):
    env.redis.stop()
    n = env.node(start=False)
    with monkeypatch.context() as mp:
        mp.setenv("NOTIFY_SOCKET", notify_sock.path)
        mp.setenv("WATCHDOG_USEC", "200000")
        mp.delenv("WATCHDOG_PID", raising=False)
        n.start(wait=False)
    # Redis is down: pings and a status, but no READY=1
    wait_for(lambda: len(notify_sock.with_var("WATCHDOG")) >= 3, 5,
             "three WATCHDOG=1")
    # STATUS= says why (issue 17 item 5), and the first failure is a warning
    wait_for(lambda: [m for _, m in notify_sock.with_var("STATUS")
                      if m["STATUS"].startswith("Redis is unreachable: ")
                      and m["STATUS"].endswith("; retrying")],
             5, "STATUS=Redis is unreachable: <why>; retrying")
    assert "warn: redis: cannot connect: " in n.logtext(full=True)
    assert not notify_sock.with_var("READY"), "READY=1 before Redis"
    assert n.proc.poll() is None

    env.redis.start()
    wait_for(lambda: notify_sock.with_var("READY", "1"), 10, "READY=1")
    assert "redis: connected" in n.logtext(full=True)
    t, ready = notify_sock.with_var("READY", "1")[0]
    assert ready["STATUS"].startswith("connected to Redis; 0 pools")
    assert n.ready()

    w = env.worker(n)
    wait_for(lambda: notify_sock.with_var(
        "STATUS", "connected to Redis; 1 pool, 1 worker, 0 jobs"), 10,
        "STATUS with the worker")

    # the watchdog: every WATCHDOG_USEC/2 from the event loop
    wait_for(lambda: len(notify_sock.with_var("WATCHDOG")) >= 10, 10,
             "ten WATCHDOG=1")
    times = [t for t, _ in notify_sock.with_var("WATCHDOG", "1")]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert sorted(gaps)[len(gaps) // 2] < 0.2 * SLOW, gaps

    # SIGHUP: RELOADING=1 with MONOTONIC_USEC, then READY=1
    before = time.monotonic_ns() // 1000
    n.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: notify_sock.index("RELOADING", "1") is not None, 5,
             "RELOADING=1")
    i = notify_sock.index("RELOADING", "1")
    after = time.monotonic_ns() // 1000
    msg = notify_sock.all()[i][1]
    assert before <= int(msg["MONOTONIC_USEC"]) <= after
    wait_for(lambda: notify_sock.index("READY", "1", after=i) is not None, 5,
             "READY=1 after the reload")

    # SIGTERM: STOPPING=1, then a clean exit
    assert n.stop() == 0
    stopping = notify_sock.with_var("STOPPING", "1")
    assert stopping
    assert stopping[0][1]["STATUS"] == "stopping: handing jobs to other workers"
    check_history([w], set())


def test_watchdog_for_another_pid(env, notify_sock, monkeypatch):
    """WATCHDOG_PID naming another process: READY=1 but no pings."""
    n = env.node(start=False)
    with monkeypatch.context() as mp:
        mp.setenv("NOTIFY_SOCKET", notify_sock.path)
        mp.setenv("WATCHDOG_USEC", "100000")
        mp.setenv("WATCHDOG_PID", "1")
        n.start()
    wait_for(lambda: notify_sock.with_var("READY", "1"), 10, "READY=1")
    # the STATUS= refresh (a 2 s timer) proves the loop ran for many
    # watchdog periods
    env.worker(n)
    wait_for(lambda: notify_sock.with_var(
        "STATUS", "connected to Redis; 1 pool, 1 worker, 0 jobs"), 10,
        "STATUS with the worker")
    assert not notify_sock.with_var("WATCHDOG")


def test_reload_log_level_and_broken_file(env):
    n = env.node(start=False)
    n.cfg["log"]["level"] = "info"
    write_config(n, json.dumps(n.cfg, indent=2))
    n.start()
    assert n.ctl("status")[0] == 0
    assert " debug: " not in n.logtext(full=True)

    # info -> debug: debug lines from then on
    n.cfg["log"]["level"] = "debug"
    write_config(n, json.dumps(n.cfg, indent=2))
    n.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "reloaded " + n.conf in n.logtext(full=True), 5,
             "the reload")
    assert n.ctl("status")[0] == 0
    wait_for(lambda: re.search(r" debug: session \d+: closed",
                               n.logtext(full=True)), 5, "a debug line")

    # a broken file: an error that names it, the old config kept
    write_config(n, '{"log": {"level": "info"},\n "nope": 1}\n')
    n.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "keeping the running configuration" in n.logtext(full=True),
             5, "the reload error")
    line = [l for l in n.logtext(full=True).splitlines()
            if "keeping the running configuration" in l][0]
    assert " error: reload: " in line and "nope" in line, line
    assert n.proc.poll() is None and n.ready()
    before = len(re.findall(r" debug: session \d+: closed", n.logtext(full=True)))
    assert n.ctl("status")[0] == 0
    wait_for(lambda: len(re.findall(r" debug: session \d+: closed",
                                    n.logtext(full=True))) > before, 5,
             "debug lines still on (old config kept)")
    # not JSON at all
    write_config(n, "{ not json")
    n.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: n.logtext(full=True).count(
        "keeping the running configuration") == 2, 5, "the second reload error")
    assert n.proc.poll() is None and n.ready()
    assert n.stop() == 0


def test_reload_names_keys_that_need_a_restart(env):
    """A SIGHUP applies the keys the schema marks as reloadable (here a
    pool's max_queued_jobs, seen by a dispatch refused POOL_FULL) and names
    in one warning every changed key that takes effect only at a restart
    (socket.max_sessions, pools.*.worker_ttl), instead of ignoring them,
    and the keys that took effect in another."""
    n = env.node(start=False, pools={"*": {"max_queued_jobs": 100,
                                           "ack_grace_period": "100ms"}})
    write_config(n, json.dumps(n.cfg, indent=2))
    n.start()
    for i in range(3):  # no worker: each waits in the queue
        rc, data, err = n.ctlj("dispatch", "p", "q-%d" % i, "x")
        assert rc == 0 or data["code"] == "TIMEOUT", (rc, data, err)
    n.cfg["pools"]["*"] = {"max_queued_jobs": 3, "worker_ttl": "7s",
                           "ack_grace_period": "100ms"}
    n.cfg["socket"]["max_sessions"] = 77
    write_config(n, json.dumps(n.cfg, indent=2))
    n.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "reloaded " + n.conf in n.logtext(full=True), 5, "the reload")
    line = [l for l in n.logtext(full=True).splitlines()
            if "taking effect only when pulsed restarts" in l]
    assert line and "socket.max_sessions" in line[0] and \
        "pools.p.worker_ttl" in line[0], line
    assert "max_queued_jobs" not in line[0], line
    took = [l for l in n.logtext(full=True).splitlines() if "reload: took effect:" in l]
    assert took and "pools.p.max_queued_jobs" in took[0], took
    assert "max_sessions" not in took[0] and "worker_ttl" not in took[0], took
    rc, data, err = n.ctlj("dispatch", "p", "q-over", "x")
    assert rc == 1 and data["code"] == "POOL_FULL", (rc, data, err)
    assert n.stop() == 0


def test_verify_unit():
    r = subprocess.run(["bash", os.path.join(REPO, "mk", "verify-unit.sh")],
                       capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PULSE_BUILD=BUILD))
    assert (r.returncode, r.stdout, r.stderr) == (0, "", ""), r.stderr


def unit_settings(path=os.path.join(REPO, "systemd", "pulsed.service")):
    """[Service] keys of a unit file, systemd/pulsed.service unless told
    (the last of each)."""
    out = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if "=" in line and not line.startswith("#"):
                k, v = line.split("=", 1)
                out[k] = v
    return out


def caps(value):
    """A unit's capability list as setpriv's: "-all,+chown,..."."""
    names = [c.lower().replace("cap_", "") for c in value.split()]
    return ",".join(["-all"] + ["+" + n for n in names])


def test_the_unit_serves_a_socket_group_other_than_its_own(env):
    """The shipped unit, as far as it decides this: its user and group
    (made here: a system user with a group of its own), its runtime
    directory's mode, its umask and its capabilities (read from
    systemd/pulsed.service and applied with setpriv) run a pulsed whose
    socket.group is a group the daemon's user is not in; a worker running
    as a user of that group only attaches. Before: the directory was 0750
    and the unit held no capability, so the chgrp failed with a warning
    and the group's users could not reach the socket."""
    unit = unit_settings()
    tag = "%x" % (os.getpid() & 0xffff)
    daemon, group, client = "pd" + tag, "pg" + tag, "pc" + tag
    made = []

    def run(*argv):
        subprocess.run(argv, check=True, capture_output=True, timeout=30)

    try:
        run("groupadd", "--system", daemon); made.append(("groupdel", daemon))
        run("useradd", "--system", "--no-create-home", "-g", daemon, "-s",
            "/usr/sbin/nologin", daemon); made.insert(0, ("userdel", daemon))
        run("groupadd", "--system", group); made.append(("groupdel", group))
        run("useradd", "--system", "--no-create-home", "-g", group, "-s",
            "/usr/sbin/nologin", client); made.insert(0, ("userdel", client))
        os.chmod(env.tmp, 0o755)
        rundir = os.path.join(env.tmp, "run-pulse")  # RuntimeDirectory=
        os.mkdir(rundir)
        os.chown(rundir, pwd.getpwnam(daemon).pw_uid, grp.getgrnam(daemon).gr_gid)
        os.chmod(rundir, int(unit["RuntimeDirectoryMode"], 8))
        sock = os.path.join(rundir, "pulsed.sock")
        n = env.node(extra={"socket": {"path": sock, "group": group, "mode": "0660"}},
                     redis_url="redis://127.0.0.1:%d/0" % env.redis.port, start=False)
        os.chmod(n.dir, 0o755)
        os.chmod(n.conf, 0o644)
        n.sock = sock
        setpriv = ["setpriv", "--reuid", daemon, "--regid", daemon, "--init-groups"]
        if unit.get("AmbientCapabilities"):
            c = caps(unit["AmbientCapabilities"])
            setpriv += ["--inh-caps", c, "--ambient-caps", c]
        setpriv += ["--bounding-set", caps(unit.get("CapabilityBoundingSet", ""))]
        umask = int(unit["UMask"], 8)
        n.wrap = ["sh", "-c", 'umask %o && exec "$@"' % umask, "sh"] + setpriv
        n.start()
        st = os.stat(sock)
        assert st.st_gid == grp.getgrnam(group).gr_gid, n.logtext()
        logs = os.path.join(env.tmp, "wlogs")
        os.mkdir(logs)
        os.chmod(logs, 0o777)
        w = subprocess.Popen(["setpriv", "--reuid", client, "--regid", group,
                              "--init-groups", os.path.join(BUILD, "tests", "testworker"),
                              "-s", sock, "-p", "p", "-l", os.path.join(logs, "w.log")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        env.procs.procs.append(w)
        line = w.stdout.readline()
        assert line.startswith("ready "), (line, w.stderr.read() if w.poll() is not None
                                           else "", n.logtext())
    finally:
        if env.nodes and env.nodes[-1].proc and env.nodes[-1].proc.poll() is None:
            env.nodes[-1].kill()
        for cmd, name in made:
            subprocess.run([cmd, name], capture_output=True, timeout=30)


# ---- installing ------------------------------------------------------------

def test_install_and_build_example(env):
    """make install into a DESTDIR, then build the dispatch example against
    the installed header and pkg-config file and run it on a live node.
    Every name installed is pulsed's own (issue 19 item 2): the header is
    <pulsed/pulse.h>, the configuration /etc/pulsed/pulsed.conf, the unit
    runs as user and group pulsed in /run/pulsed, and nothing lands in a
    directory of Debian's PulseAudio (no directory named pulse anywhere,
    none under run/)."""
    dest = os.path.join(env.tmp, "dest")
    build_rel = os.path.relpath(BUILD, REPO)
    # -o all: install what the suite runs on, never rebuild it mid-run;
    # the .pc file is made for this PREFIX first (install only copies it)
    pc = os.path.join(build_rel, "libpulse-client.pc")
    r = subprocess.run(["make", "-C", REPO, "--no-print-directory", "-o", "all",
                        pc, "install", "DESTDIR=" + dest, "PREFIX=/usr",
                        "BUILD=" + build_rel],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    for f in ("usr/sbin/pulsed", "usr/bin/pulsectl",
              "usr/include/pulsed/pulse.h", "usr/lib/libpulse-client.so.2",
              "usr/lib/pkgconfig/libpulse-client.pc",
              "usr/share/man/man8/pulsed.8", "usr/lib/systemd/system/pulsed.service",
              "usr/lib/sysusers.d/pulsed.conf", "etc/pulsed/pulsed.conf"):
        assert os.path.exists(os.path.join(dest, f)), f
    # No directory of another package: none named "pulse" anywhere (nothing
    # under include/pulse, etc/pulse, run/pulse), nothing under run/ at all.
    for top, dirs, files in os.walk(dest):
        for d in dirs:
            assert d != "pulse", os.path.relpath(os.path.join(top, d), dest)
    assert not os.path.exists(os.path.join(dest, "run"))
    assert not os.path.exists(os.path.join(dest, "usr/lib/sysusers.d/pulse.conf"))
    unit_file = os.path.join(dest, "usr/lib/systemd/system/pulsed.service")
    unit = unit_settings(unit_file)
    assert unit["ExecStart"] == "/usr/sbin/pulsed -c /etc/pulsed/pulsed.conf", unit
    assert (unit["User"], unit["Group"], unit["RuntimeDirectory"]) == \
        ("pulsed", "pulsed", "pulsed"), unit
    with open(os.path.join(dest, "etc/pulsed/pulsed.conf")) as f:
        sample = json.load(f)
    assert sample["socket"]["path"] == "/run/pulsed/pulsed.sock", sample["socket"]
    assert sample["socket"]["group"] == "pulsed", sample["socket"]
    # The installed unit and sysusers file, checked as verify-unit checks
    # the tree's (systemd-analyze verify with no output at all; the user
    # and group pulsed created, the user's primary group pulsed).
    verify = os.path.join(env.tmp, "verify.service")
    with open(unit_file) as f, open(verify, "w") as out:
        out.write(f.read().replace("ExecStart=/usr/sbin/", "ExecStart=@SBINDIR@/"))
    r = subprocess.run(["bash", os.path.join(REPO, "mk", "verify-unit.sh"), verify,
                        os.path.join(dest, "usr/lib/sysusers.d/pulsed.conf")],
                       capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PULSE_BUILD=BUILD))
    assert (r.returncode, r.stdout, r.stderr) == (0, "", ""), r.stderr

    with open(os.path.join(dest, "usr/lib/pkgconfig/libpulse-client.pc")) as f:
        assert f.readline().strip() == "prefix=/usr"

    pc_env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(dest, "usr/lib/pkgconfig"))
    r = subprocess.run(["pkg-config", "--define-prefix", "--cflags", "--libs",
                        "libpulse-client"], capture_output=True, text=True,
                       env=pc_env)
    assert r.returncode == 0, r.stderr
    flags = r.stdout.split()
    assert "-I" + os.path.join(dest, "usr/include") in flags, flags
    assert "-L" + os.path.join(dest, "usr/lib") in flags, flags

    # The example as a user writes it: <pulsed/pulse.h> from the install.
    with open(os.path.join(REPO, "client", "examples", "dispatch.c")) as f:
        src = f.read()
    assert "#include <pulsed/pulse.h>" in src and "<pulse/" not in src
    csrc = os.path.join(env.tmp, "dispatch.c")
    with open(csrc, "w") as f:
        f.write(src)
    lib = os.path.join(dest, "usr/lib/libpulse-client.so.2")
    with open(lib, "rb") as f:
        sanitized = b"__asan_init" in f.read()
    exe = os.path.join(env.tmp, "dispatch")
    cc = ["cc", "-std=gnu11", "-Wall", "-Werror", "-o", exe, csrc] + flags
    if sanitized:  # a test-asan build installs an instrumented library
        cc.insert(1, "-fsanitize=address,undefined")
    r = subprocess.run(cc, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr

    n = env.node()
    w = env.worker(n)
    run_env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(dest, "usr/lib"))
    r = subprocess.run([exe, "-s", n.sock, "-p", "p", "installed", "hi"],
                       capture_output=True, text=True, env=run_env,
                       timeout=60 * SLOW)
    assert r.returncode == 0, r.stderr
    assert "dispatched installed to pool p: started" in r.stdout
    assert w.running() == {"installed"}
    rc, out, _ = n.ctl("job", "p", "installed")
    assert rc == 0 and out == "hi"
    check_history([w], {"installed"})


# ---- Redis errors named as such (issue 17 item 5) ---------------------------

def test_a_wrong_redis_password_is_named_to_clients_readyz_and_the_log(env):
    """Redis refusing pulsed's login is not "unreachable": the reason
    (WRONGPASS) reaches a client's error, /readyz's body and the log (an
    error line, then at most one a minute while it does not change)."""
    env.redis.cli("ACL", "SETUSER", "someone", "on", ">right", "~*", "&*", "+@all")
    url = "redis://someone:wrong@127.0.0.1:%d/0" % env.redis.port
    port = free_port()
    n = env.node(redis_url=url, start=False,
                 extra={"metrics": {"listen": "127.0.0.1:%d" % port}})
    n.start(wait=False)
    wait_for(lambda: "WRONGPASS" in n.logtext(full=True) and n.ctl("status")[0] == 0, 5,
             "the refusal logged")
    rc, data, err = n.ctlj("dispatch", "p", "k")
    assert rc == 1 and data["code"] == "UNAVAILABLE", (rc, data, err)
    assert "refused pulsed's login" in data["message"] and "WRONGPASS" in data["message"], data
    status, body = http_get(port, "/readyz")[:2]
    assert status == 503 and "WRONGPASS" in body, body
    deadline = time.monotonic() + 1.5  # attempts at 100, 200, 400, 800 ms
    while time.monotonic() < deadline:
        n.ctlj("status")
    lines = [l for l in n.logtext(full=True).splitlines() if "setup failed" in l]
    assert len(lines) == 1 and " error: " in lines[0], lines


# A script's missing ACL right, in the words of Redis 7.0, later Redis
# (NOPERM) and Valkey 8 (README, "Valkey").
NO_RIGHT = "NOPERM|can't run this command|no permissions to run the 'publish' command"


def test_a_missing_acl_right_fails_requests_at_once_saying_why(env):
    """A Redis user without PUBLISH: the pool's join is refused (NOPERM)
    and every request and attach for the pool fails at once with that
    reason, instead of waiting until its deadline; the script's refusal is
    logged once, not at every lease tick."""
    rule = [r for r in harness.readme_acl_rule() if r != "+publish"]
    rule = [">pw" if r == ">CHANGE-ME" else r for r in rule]
    rule[0] = "nopub"
    assert env.redis.cli("ACL", "SETUSER", *rule) == "OK"
    n = env.node(redis_url="redis://nopub:pw@127.0.0.1:%d/0" % env.redis.port)
    t = time.monotonic()
    rc, data, err = n.ctlj("dispatch", "p", "k")
    assert rc == 1 and data["code"] == "UNAVAILABLE", (rc, data, err)
    # Redis 7.0's words for a script's missing right (later: NOPERM);
    # Valkey 8's: "ERR ACL failure in script: User nopub has no
    # permissions to run the 'publish' command ..."
    assert "join of pool p" in data["message"] and \
        re.search(NO_RIGHT, data["message"]), data
    assert time.monotonic() - t < 5 * SLOW, "the dispatch waited"
    with pytest.raises(AssertionError) as refused:
        env.worker(n)
    assert re.search(NO_RIGHT, str(refused.value)), refused.value
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:  # several lease ticks (worker_ttl 10 s: 2 s)
        n.ctlj("status")
    logged = [l for l in n.logtext(full=True).splitlines() if "script join refused" in l]
    assert len(logged) == 1, logged
