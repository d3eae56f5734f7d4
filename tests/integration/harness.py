"""harness.py: real processes for the integration tests.

Owns: a private redis-server on a Unix socket, pulsed nodes (each with its
own socket and config), test workers (build/tests/testworker), pulsectl
calls, waiting on conditions with deadlines, and the history checker that
every test runs over the workers' event logs.

Invariants: every process a test starts is registered with the fixture
that owns it and killed at teardown, pass or fail; nothing sleeps for a
fixed time to let something happen: tests wait for a condition with a
deadline (wait_for).
"""
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.abspath(os.environ.get("PULSE_BUILD", os.path.join(REPO, "build")))
PULSED = os.path.join(BUILD, "pulsed")
PULSECTL = os.path.join(BUILD, "pulsectl")
TESTWORKER = os.path.join(BUILD, "tests", "testworker")

# The Redis server every test starts, and its tools: PULSE_REDIS_SERVER
# names the server (default redis-server on PATH; make integration-valkey
# sets /usr/bin/valkey-server). The cli, benchmark and sentinel are the
# server's siblings ("-server" replaced, in the same directory when the
# setting is a path: valkey-cli beside valkey-server), unless
# PULSE_REDIS_CLI, PULSE_REDIS_BENCHMARK or PULSE_REDIS_SENTINEL name them.
# Every test, bench, chaos and soak script spawns them through these.
REDIS_SERVER = os.environ.get("PULSE_REDIS_SERVER") or "redis-server"


def redis_tool(tool):
    """The binary of the Redis tool `tool` (cli, benchmark, sentinel) that
    goes with REDIS_SERVER."""
    env = os.environ.get("PULSE_REDIS_" + tool.upper())
    if env:
        return env
    d, base = os.path.split(REDIS_SERVER)
    if base.endswith("-server"):
        base = base[:-len("server")] + tool
    else:  # a server named otherwise: the Redis tool on PATH
        d, base = "", "redis-" + tool
    return os.path.join(d, base) if d else base


REDIS_CLI = redis_tool("cli")

# A slow machine (sanitizers, valgrind) stretches every deadline.
SLOW = float(os.environ.get("PULSE_TEST_SLOW", "1"))
# PULSE_VALGRIND=1 runs every pulsed under valgrind (make test-valgrind):
# each process writes NODE_DIR/valgrind.PID.log, read by valgrind_reports.
VALGRIND = os.environ.get("PULSE_VALGRIND") == "1"


def scaled(duration):
    """A TTL like "600ms" stretched by PULSE_TEST_SLOW (sanitizer builds run
    slower, and a lease renewal must not miss its deadline because of it)."""
    if SLOW == 1:
        return duration
    num = duration.rstrip("ms")
    unit = duration[len(num):]
    return "%d%s" % (int(float(num) * SLOW), unit)


def wait_for(cond, timeout=5.0, what="condition", interval=0.01):
    """Poll cond() until it returns a true value; fail after timeout s."""
    deadline = time.monotonic() + timeout * SLOW
    last = None
    while time.monotonic() < deadline:
        last = cond()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %.1fs waiting for %s (last: %r)"
                         % (timeout * SLOW, what, last))


class Procs:
    """Every child process of a test, killed at teardown."""

    def __init__(self):
        self.procs = []

    def spawn(self, argv, **kw):
        p = subprocess.Popen(argv, **kw)
        self.procs.append(p)
        return p

    def killall(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
        for p in self.procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Proxy:
    """A TCP proxy in front of Redis that a test can cut and heal: one
    node behind it loses Redis while the others keep it. In front of a TLS
    port it passes TLS through (scheme "rediss")."""

    def __init__(self, target_port, scheme="redis"):
        import threading
        self.target = target_port
        self.scheme = scheme
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        self.cut_ = False
        self.cut_on = None
        self.frozen = False
        self.conns = []
        self.deads = []
        self.lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self):
        return "%s://127.0.0.1:%d/0" % (self.scheme, self.port)

    def _pipe(self, a, b, dead, from_redis=False):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                if not dead:
                    b.sendall(data)
                if from_redis and self.cut_on and self.cut_on in data:
                    self.cut_on = None
                    self.cut()
        except OSError:
            pass
        # shutdown first: close() alone would neither wake the other
        # direction's thread blocked in recv() on the same socket nor let
        # the peer see the end (the socket lives while a call uses it)
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass

    def _accept(self):
        import threading
        while not self.closed:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            if self.cut_:
                c.close()
                continue
            try:
                u = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                c.close()
                continue
            # no Nagle: a proxy must not hold back small writes (pulsed's
            # Redis commands) waiting for the peer's delayed ACK
            for x in (c, u):
                x.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            dead = []  # not empty: this connection is frozen for good
            with self.lock:
                self.conns += [c, u]
                self.deads.append(dead)
                if self.frozen:
                    dead.append(True)
            threading.Thread(target=self._pipe, args=(c, u, dead), daemon=True).start()
            threading.Thread(target=self._pipe, args=(u, c, dead, True), daemon=True).start()

    def cut(self):
        """Drop every connection and refuse new ones."""
        self.cut_ = True
        with self.lock:
            for s in self.conns:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()
                except OSError:
                    pass
            self.conns = []
            self.deads = []

    def cut_after(self, data):
        """Cut (as cut()) right after passing on the first piece of a
        Redis reply that contains data: the node has that answer and
        nothing after it (a connection lost between two steps)."""
        self.cut_on = data

    def heal(self):
        self.cut_ = False

    def freeze(self):
        """Until thaw, every connection, old or new, stays open but carries
        nothing more, ever: a network that loses packets without a reset
        (TCP would give up on such a connection only after many minutes).
        Connections made after thaw work."""
        with self.lock:
            self.frozen = True
            for dead in self.deads:
                dead.append(True)

    def thaw(self):
        self.frozen = False

    def close(self):
        self.closed = True
        self.cut()
        self.lsock.close()


# PULSE_TEST_ACL=tcp|unix: pulsed connects as the Redis ACL user of the
# README ("The Redis user pulsed needs"), over TCP or the Unix socket.
ACL_MODE = os.environ.get("PULSE_TEST_ACL", "")
ACL_USER, ACL_PASSWORD = "pulsed", "acl-test-password"
# PULSE_TEST_TLS=1: the harness's Redis serves pulsed over TLS only
# (rediss://, the test CA of tlsutil.py; make integration-tls).
TLS_MODE = os.environ.get("PULSE_TEST_TLS") == "1"


def readme_acl_rule():
    """The README's ACL SETUSER line, split after "ACL SETUSER"."""
    with open(os.path.join(REPO, "README.md")) as f:
        text = f.read()
    block = text.split("<!-- acl -->")[1].split("<!-- /acl -->")[0]
    (line,) = [l for l in block.splitlines() if l.startswith("ACL SETUSER ")]
    return line.split()[2:]


class Redis:
    """A private redis-server: its Unix socket (redis-cli, the default
    url()) and a TCP port. tls (tlsutil.Certs.server(), or the default one
    under PULSE_TEST_TLS=1) makes that port a TLS port, and url() a
    rediss:// URL; plain keeps a plain TCP port too (plain_port)."""

    def __init__(self, procs, tmp, tls=None, plain=False, name="redis"):
        self.procs = procs
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir, exist_ok=True)
        self.sock = os.path.join(self.dir, "redis.sock")
        if tls is None and TLS_MODE:
            import tlsutil
            tls = tlsutil.certs().server()
        self.tls = tls
        self.port = free_port()  # url()'s port: the TLS port with tls
        self.plain_port = free_port() if tls and plain else (0 if tls else self.port)
        self.proc = None
        self.start()
        self.declare_new()

    def declare_new(self, prefix="pulse"):
        """Tell pulsed that this Redis is new, not one that lost its data:
        the marker join.lua reads (README.md, "What Redis can lose"), so
        that a pool's first join does not wait one worker TTL for nodes
        that ran it before. Only for a redis-server no pulsed has used;
        a restart (start() again) is a loss and keeps the wait."""
        info = self.cli("INFO", "server")
        run = re.search(r"^run_id:(\w+)", info, re.M).group(1)
        self.cli("SET", prefix + ":redis", run + " 0")

    def start(self):
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        tls = []
        if self.tls:
            tls = ["--tls-port", str(self.port), "--tls-cert-file", self.tls["cert"],
                   "--tls-key-file", self.tls["key"], "--tls-ca-cert-file", self.tls["ca"],
                   "--tls-auth-clients", self.tls["auth_clients"]]
        self.proc = self.procs.spawn(
            [REDIS_SERVER, "--port", str(self.plain_port)] + tls + ["--bind", "127.0.0.1",
             "--unixsocket", self.sock,
             "--unixsocketperm", "700", "--save", "", "--appendonly", "no",
             "--dir", self.dir, "--daemonize", "no", "--loglevel", "warning",
             # DEBUG SLEEP (the chaos suite's fault): refused by default
             # since Redis 7.0 (and by Valkey), allowed here on the local
             # connections the tests use
             "--enable-debug-command", "local"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: self.ping(), 10, "%s to answer" % REDIS_SERVER)
        if ACL_MODE:
            rule = [">" + ACL_PASSWORD if r == ">CHANGE-ME" else r
                    for r in readme_acl_rule()]
            assert rule[0] == ACL_USER, rule
            out = self.cli("ACL", "SETUSER", *rule)
            assert out.strip() == "OK", out

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def url(self):
        if self.tls:
            auth = "%s:%s@" % (ACL_USER, ACL_PASSWORD) if ACL_MODE else ""
            return "rediss://%s127.0.0.1:%d/0" % (auth, self.port)
        if ACL_MODE == "tcp":
            return "redis://%s:%s@127.0.0.1:%d/0" % (ACL_USER, ACL_PASSWORD, self.port)
        if ACL_MODE == "unix":
            return "unix://%s:%s@%s" % (ACL_USER, ACL_PASSWORD, self.sock)
        return "unix://" + self.sock

    def client_tls(self):
        """pulsed's redis.tls section for url(), or None (plain)."""
        if not self.tls:
            return None
        import tlsutil
        return tlsutil.certs().client()

    def cli(self, *args):
        r = subprocess.run([REDIS_CLI, "-s", self.sock, "--raw"] + [str(a) for a in args],
                           capture_output=True, text=True, timeout=10)
        return r.stdout.strip()

    def ping(self):
        try:
            return self.cli("PING") == "PONG"
        except Exception:
            return False

    def keys(self, pattern="*"):
        out = self.cli("KEYS", pattern)
        return [k for k in out.split("\n") if k]


class Node:
    """One pulsed process with its own socket (a stand-in for a host)."""

    def __init__(self, procs, tmp, redis, name="node-a", pools=None, extra=None,
                 debug=True):
        self.procs = procs
        self.name = name
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir, exist_ok=True)
        self.sock = os.path.join(self.dir, "pulsed.sock")
        self.conf = os.path.join(self.dir, "pulsed.conf")
        self.log = os.path.join(self.dir, "pulsed.log")
        cfg = {
            "socket": {"path": self.sock},
            "redis": {"url": redis.url()},
            "node": {"id": name},
            "log": {"level": "debug" if debug else "info"},
            "pools": pools if pools is not None else {"*": {}},
        }
        if redis.client_tls():
            cfg["redis"]["tls"] = redis.client_tls()
        for k, v in (extra or {}).items():
            cfg.setdefault(k, {}).update(v)
        self.cfg = cfg
        with open(self.conf, "w") as f:
            json.dump(cfg, f, indent=2)
        self.proc = None
        self.wrap = []  # argv prefix, e.g. setpriv as the unit's user

    def start(self, wait=True):
        logf = open(self.log, "ab")
        argv = [PULSED, "-c", self.conf]
        if VALGRIND:
            argv = ["valgrind", "--quiet", "--error-exitcode=99",
                    "--leak-check=full", "--errors-for-leak-kinds=definite",
                    "--show-leak-kinds=definite", "--track-fds=no",
                    "--log-file=" + os.path.join(self.dir, "valgrind.%p.log")] + argv
        self.proc = self.procs.spawn(self.wrap + argv, stdout=logf, stderr=logf)
        logf.close()
        if wait:
            wait_for(lambda: self.ready(), 10, "pulsed %s to answer" % self.name)
        return self

    def ready(self):
        if self.proc.poll() is not None:
            raise AssertionError("pulsed %s exited with %s; log:\n%s"
                                 % (self.name, self.proc.returncode, self.logtext()))
        rc, out, _ = self.ctl("--json", "status")
        return rc == 0 and json.loads(out).get("redis")

    def stop(self, timeout=30):
        """SIGTERM and wait for a clean exit (P9)."""
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=timeout * SLOW)
        return rc

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def logtext(self, full=False):
        try:
            with open(self.log, errors="replace") as f:
                text = f.read()
            return text if full else text[-6000:]
        except OSError:
            return ""

    def session_end(self, worker_id, timeout=5.0):
        """(level, cause) of the line this node logged when the session of
        worker `worker_id` ended ("LEVEL: session N: closed (pid P uid U):
        CAUSE"), waited for; N is read from its "attached (session N)"."""
        m = re.search(r"worker %s attached \(session (\d+)\)" % re.escape(worker_id),
                      self.logtext(full=True))
        assert m, "worker %s never attached on %s" % (worker_id, self.name)
        line = re.compile(r" (\w+): session %s: closed \(pid -?\d+ uid \d+\): (.*)"
                          % m.group(1))
        found = []
        wait_for(lambda: found.append(line.search(self.logtext(full=True))) or found[-1],
                 timeout * SLOW, "the end of session %s logged" % m.group(1))
        return found[-1].group(1), found[-1].group(2)

    def valgrind_reports(self):
        """The valgrind logs of this node's processes that report an error
        or a definite leak. A log without a summary (the process was
        killed with SIGKILL by its test) only counts for its errors."""
        out = []
        for name in sorted(os.listdir(self.dir)):
            if not name.startswith("valgrind."):
                continue
            with open(os.path.join(self.dir, name), errors="replace") as f:
                text = f.read()
            if text.strip():  # --quiet: only errors and leaks are written
                out.append("%s %s:\n%s" % (self.name, name, text[-4000:]))
        return out

    def ctl(self, *args, input=None, timeout=60):
        r = subprocess.run([PULSECTL, "-s", self.sock] + [str(a) for a in args],
                           capture_output=True, text=True, input=input,
                           timeout=timeout * SLOW)
        return r.returncode, r.stdout, r.stderr

    def ctlj(self, *args, **kw):
        """pulsectl --json ARGS: (exit code, parsed JSON or None, stderr)."""
        rc, out, err = self.ctl("--json", *args, **kw)
        try:
            data = json.loads(out) if out.strip() else None
        except ValueError:
            raise AssertionError("pulsectl printed invalid JSON: %r" % out)
        return rc, data, err

    def status(self):
        rc, data, err = self.ctlj("status")
        assert rc == 0, err
        return data

    def pool_status(self, pool):
        for p in self.status().get("pools", []):
            if p["name"] == pool:
                return p
        return None

    def use_pool(self, pool="p"):
        """Make this node join `pool` without a worker, as a request that
        changes jobs does (a read never joins): a stop of a key that is
        not there. Returns once the node is in the pool."""
        self.ctlj("stop", pool, "use-pool")
        wait_for(lambda: (self.pool_status(pool) or {}).get("state") == "active",
                 10 * SLOW, "%s in pool %s" % (self.name, pool))


def encode_key(key):
    """A key as the workers' logs write it: every byte outside
    [A-Za-z0-9._:/-] as %HH (testworker.c's header), so that a log line
    splits on spaces whatever the key holds. Keys are str; bytes that are
    not UTF-8 travel as surrogate escapes."""
    import urllib.parse
    return urllib.parse.quote_from_bytes(key.encode("utf-8", "surrogateescape"),
                                         safe="._:/-")


def decode_key(text):
    """The inverse of encode_key (a key without % is itself)."""
    if "%" not in text:
        return text
    import urllib.parse
    return urllib.parse.unquote(text, errors="surrogateescape")


class LoggedWorker:
    """A worker process that logs `start|stop|notify KEY WORKER NS ...`
    lines to self.evlog (KEY encoded by encode_key; events() decodes it)
    and prints `ready WORKER` once attached."""

    def spawn(self, procs, argv):
        self.proc = procs.spawn(argv, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("ready "):
            self.proc.wait(timeout=5)
            raise AssertionError("worker did not attach: %r %s"
                                 % (line, self.proc.stderr.read()))
        self.id = line.split()[1]

    def events(self):
        try:
            with open(self.evlog, errors="surrogateescape") as f:
                out = [l.rstrip("\n").split(" ", 4) for l in f if l.strip()]
        except FileNotFoundError:
            return []
        for ev in out:
            if len(ev) > 1:
                ev[1] = decode_key(ev[1])
        return out

    def running(self):
        """Keys this worker runs now, from its event log."""
        run = set()
        for ev in self.events():
            if ev[0] == "start":
                run.add(ev[1])
            elif ev[0] == "stop":
                run.discard(ev[1])
        return run

    def count_of(self, kind, key=None):
        return sum(1 for ev in self.events()
                   if ev[0] == kind and (key is None or ev[1] == key))

    def kill(self):
        """kill -9: returns the wall-clock ns just before the kill."""
        t = time.time_ns()
        self.proc.kill()
        self.proc.wait()
        self.killed_ns = t
        return t

    def term(self, timeout=30):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout * SLOW)


class Worker(LoggedWorker):
    """One build/tests/testworker process attached to a node."""

    count = 0

    def __init__(self, procs, tmp, node, pool, name=None, opts=()):
        Worker.count += 1
        self.node = node
        self.pool = pool
        tag = name or "anon%d" % Worker.count
        self.log = os.path.join(tmp, "w-%s-%d.log" % (tag, Worker.count))
        self.evlog = os.path.join(tmp, "w-%s-%d.events" % (tag, Worker.count))
        argv = [TESTWORKER, "-s", node.sock, "-p", pool, "-l", self.log,
                "-L", self.evlog] + list(opts)
        if name:
            argv += ["-n", name]
        self.spawn(procs, argv)


class LogTool:
    """A test tool process (tickwatch, planner) that prints "ready" once set
    up and appends "WORD NUMBERS..." lines, and "end", to self.log."""

    def spawn(self, procs, argv):
        self.proc = procs.spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        line = self.proc.stdout.readline()
        assert line.strip() == "ready", (line, self.proc.stderr.read())

    def lines(self, word):
        """The numbers of every `word` line, as tuples of ints."""
        try:
            with open(self.log) as f:
                return [tuple(int(x) for x in l.split()[1:]) for l in f
                        if l.startswith(word + " ")]
        except FileNotFoundError:
            return []

    def ended(self):
        try:
            with open(self.log) as f:
                return "end\n" in f.read()
        except FileNotFoundError:
            return False


def intervals(workers):
    """Run intervals per key from the event logs: key -> [(start, stop, wid)].
    A job still running in a killed worker ends at the kill time; one still
    running in a live worker is open (stop None).
    The logs are read one after the other while workers may still act, so
    they are cut at one instant taken first: events stamped later are left
    out. Otherwise a move in progress could read as an overlap (the old
    worker's log read before its stop, the new one's after its start)."""
    cut = time.time_ns()
    out = {}
    for w in workers:
        open_ = {}
        for ev in w.events():
            kind, key = ev[0], ev[1]
            if kind == "DUPLICATE":
                raise AssertionError("worker %s got a second START for %s" % (w.id, key))
            if kind not in ("start", "stop"):
                continue
            ns = int(ev[3])
            if ns > cut:
                continue
            if kind == "start":
                assert key not in open_, "worker %s started %s twice" % (w.id, key)
                open_[key] = ns
            elif key in open_:
                out.setdefault(key, []).append((open_.pop(key), ns, w.id))
        end = getattr(w, "killed_ns", None)
        for key, ns in open_.items():
            out.setdefault(key, []).append((ns, end, w.id))
    return out


def running_on(workers):
    """key -> ids of the live workers that run it, from their event logs."""
    out = {}
    for w in workers:
        if w.proc.poll() is None:
            for k in w.running():
                out.setdefault(k, []).append(w.id)
    return out


def all_running_once(workers, keys):
    """Every key runs on exactly one live worker, and nothing else runs."""
    r = running_on(workers)
    return set(r) == set(keys) and all(len(v) == 1 for v in r.values())


def check_history(workers, expect_running):
    """The checker: no two run intervals of one key overlap, every key in
    expect_running runs on exactly one live worker, nothing else runs."""
    iv = intervals(workers)
    for key, runs in iv.items():
        runs.sort(key=lambda r: r[0])
        for a, b in zip(runs, runs[1:]):
            assert a[1] is not None and a[1] <= b[0], \
                "key %s ran on %s and %s at once: %r" % (key, a[2], b[2], runs)
    running = {}
    for key, runs in iv.items():
        for start, stop, wid in runs:
            if stop is None:
                running.setdefault(key, []).append(wid)
    for key, wids in running.items():
        assert len(wids) == 1, "key %s runs on %r" % (key, wids)
    assert set(running) == set(expect_running), \
        "lost: %r unexpected: %r" % (sorted(set(expect_running) - set(running)),
                                    sorted(set(running) - set(expect_running)))


def raw_session(sock):
    """A raw socket to pulsed, for hostile-peer and protocol tests."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10 * SLOW)
    s.connect(sock)
    return s


def frame(obj):
    import msgpack
    body = msgpack.packb(obj, use_bin_type=True)
    return struct.pack(">I", len(body)) + body


def read_frame(s):
    import msgpack
    hdr = b""
    while len(hdr) < 4:
        chunk = s.recv(4 - len(hdr))
        if not chunk:
            return None
        hdr += chunk
    (n,) = struct.unpack(">I", hdr)
    body = b""
    while len(body) < n:
        chunk = s.recv(n - len(body))
        if not chunk:
            return None
        body += chunk
    return msgpack.unpackb(body, raw=False)
