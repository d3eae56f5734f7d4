"""TLS to Redis (rediss://, issue 18 item 1).

Real redis-server TLS ports (--tls-port) with certificates that openssl
makes for the test (tlsutil.py), real pulsed processes and workers:
dispatch over TLS, each refusal (a CA that did not sign the server's
certificate, an expired certificate, a wrong name) named in the log, to
clients as UNAVAILABLE and in /readyz; insecure_skip_verify connecting
anyway with its warning; reconnection after Redis restarts; mutual TLS;
what pulsed -n and a reload say about the TLS keys; the bridge's private
socket; large payloads through the bounded bridge. The core suite over
TLS is `make integration-tls`.
"""
import glob
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import urllib.error
import urllib.request

import pytest

import harness
import tlsutil
from harness import PULSED, SLOW, check_history, free_port, wait_for


@pytest.fixture
def certs():
    return tlsutil.certs()


def tls_redis(env, certs, which="server", auth="no", name=None):
    """A second redis-server whose TCP port is TLS only, with the
    certificate `which` (server, expired, wrongname)."""
    return harness.Redis(env.procs, env.tmp, tls=certs.server(which, auth),
                         name=name or "redis-" + which)


def tls_node(env, r, tls, name="node-a", metrics=None, wait=True, extra=None):
    """A pulsed on r's TLS port with redis.tls = tls."""
    ex = {"redis": {"url": r.url(), "tls": tls}}
    if metrics:
        ex["metrics"] = {"listen": "127.0.0.1:%d" % metrics}
    for k, v in (extra or {}).items():
        ex.setdefault(k, {}).update(v)
    n = env.node(name, extra=ex, start=False)
    n.start(wait=wait)
    return n


def dispatch(node, key, payload="", pool="p"):
    return node.ctlj("dispatch", pool, key, payload)


def http_get(port, path):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path),
                                    timeout=10 * SLOW) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def bridge_dirs(node):
    return glob.glob(os.path.join(node.dir, "pulsed-tls.*"))


def test_dispatch_over_tls_and_the_private_socket(env, certs):
    r = tls_redis(env, certs)
    n = tls_node(env, r, certs.client())
    w = env.worker(n)
    rc, out, err = dispatch(n, "job-1", "hello")
    assert rc == 0, err
    assert n.ctl("job", "p", "job-1")[1] == "hello"
    # Redis has no plain TCP port: every connection of pulsed is TLS
    assert r.plain_port == 0
    clients = r.cli("CLIENT", "LIST")
    assert clients.count("name=pulsed") == 3, clients
    # the bridge's socket: in a directory only pulsed's user can enter
    (d,) = bridge_dirs(n)
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o700
    assert stat.S_ISSOCK(os.stat(os.path.join(d, "redis.sock")).st_mode)
    # another process that gets in anyway (root here) is turned away
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10 * SLOW)
    s.connect(os.path.join(d, "redis.sock"))
    try:
        s.sendall(b"PING\r\n")
        assert s.recv(100) == b""
    except (BrokenPipeError, ConnectionResetError):
        pass  # closed at once, unread
    s.close()
    wait_for(lambda: "only pulsed itself may use it" in n.logtext(), 5, "the refusal logged")
    assert n.stop() == 0
    assert bridge_dirs(n) == [], "the private directory outlived pulsed"
    check_history([w], set())


REFUSALS = [
    ("wrong-ca", "server", {"ca_file": "otherca"},
     "certificate verify failed: self-signed certificate in certificate chain"),
    ("expired", "expired", {}, "certificate verify failed: certificate has expired"),
    ("wrong-name", "wrongname", {"server_name": "localhost"},
     "certificate verify failed: hostname mismatch"),
    ("wrong-ip", "wrongname", {}, "certificate verify failed: IP address mismatch"),
]


@pytest.mark.parametrize("case,which,over,reason", REFUSALS, ids=[c[0] for c in REFUSALS])
def test_refusal_is_named_to_the_log_clients_and_readyz(env, certs, case, which, over, reason):
    r = tls_redis(env, certs, which)
    tls = certs.client()
    for k, v in over.items():
        tls[k] = certs.otherca_crt if v == "otherca" else v
    port = free_port()
    n = tls_node(env, r, tls, metrics=port, wait=False)
    line = "redis: cannot connect: 127.0.0.1:%d: TLS handshake failed: %s" % (r.port, reason)
    wait_for(lambda: line in n.logtext(), 10, "the refusal in the log")
    assert " warn: " + line in n.logtext() or "warn" in n.logtext().split(line)[0][-40:]
    rc, data, _ = dispatch(n, "k")
    assert rc == 1 and data["code"] == "UNAVAILABLE", data
    assert reason in data["message"], data
    status, body = http_get(port, "/readyz")
    assert status == 503 and reason in body, (status, body)
    assert n.status()["redis"] is False
    # retried with backoff, logged once (the same reason again is counted)
    assert n.logtext(full=True).count(line) == 1
    assert n.proc.poll() is None


def test_insecure_skip_verify_connects_to_a_wrong_name_and_says_so(env, certs):
    r = tls_redis(env, certs, "wrongname")
    n = tls_node(env, r, certs.client(server_name="localhost", insecure_skip_verify=True))
    w = env.worker(n)
    assert dispatch(n, "k1")[0] == 0
    off = "TLS certificate verification is OFF (redis.tls.insecure_skip_verify)"
    text = n.logtext(full=True)
    assert text.count(off) == 2, text   # at start, and at the connection
    assert "for tests only" in text and " warn: " in text.split(off)[0][-60:]
    # and again at each reconnect
    r.stop()
    wait_for(lambda: not n.status()["redis"], 10, "pulsed to notice")
    r.start()
    wait_for(lambda: n.status()["redis"], 15, "reconnected")
    wait_for(lambda: n.logtext(full=True).count(off) == 3, 5, "the warning again")
    wait_for(lambda: dispatch(n, "k2")[0] == 0, 10, "dispatch after the reconnect")
    wait_for(lambda: w.running() == {"k1", "k2"}, 10, "both jobs run")
    check_history([w], {"k1", "k2"})


def test_reconnect_after_a_tls_redis_restart(env, certs):
    r = tls_redis(env, certs)
    n = tls_node(env, r, certs.client(), extra={"pools": {"*": {"worker_ttl": harness.scaled("2s")}}})
    w = env.worker(n)
    assert dispatch(n, "before")[0] == 0
    r.stop()
    wait_for(lambda: not n.status()["redis"], 10, "pulsed to notice")
    rc, data, _ = dispatch(n, "during")
    assert rc == 1 and data["code"] == "UNAVAILABLE", data
    r.start()
    wait_for(lambda: n.status()["redis"], 15, "reconnected over TLS")
    # Redis came back empty: the node re-announces what its worker runs
    wait_for(lambda: n.ctlj("job", "p", "before")[0] == 0, 15, "job re-announced")
    wait_for(lambda: dispatch(n, "after")[0] == 0, 15, "dispatch after the restart")
    check_history([w], {"before", "after"})


def test_mutual_tls(env, certs):
    r = tls_redis(env, certs, auth="yes")
    good = tls_node(env, r, certs.client(cert_file=certs.client_crt,
                                         key_file=certs.client_key), name="node-a")
    w = env.worker(good)
    assert dispatch(good, "m1")[0] == 0
    bad = tls_node(env, r, certs.client(), name="node-b", wait=False)
    pre = "redis: cannot connect: 127.0.0.1:%d: TLS " % r.port
    wait_for(lambda: pre in bad.logtext(), 10, "the refusal in the log")
    reason = bad.logtext().split(pre)[1].split(" (retrying")[0]
    # TLS 1.3: Redis refuses after pulsed's side of the handshake is done;
    # its alert names the reason, or is lost to the reset that follows
    # (then pulsed says what it likely means)
    said = ("certificate required", "does Redis want a client certificate?")
    assert any(x in reason for x in said), reason
    rc, data, _ = dispatch(bad, "m2")
    assert rc == 1 and data["code"] == "UNAVAILABLE" and any(x in data["message"] for x in said)
    check_history([w], {"m1"})


def test_large_payloads_through_the_bounded_bridge(env, certs):
    r = tls_redis(env, certs)
    n = tls_node(env, r, certs.client(),
                 extra={"limits": {"max_payload": 8 << 20, "max_peer_buffer": 32 << 20}})
    w = env.worker(n)
    big = "".join(chr(ord("a") + i % 26) for i in range(6 << 20))
    for i in range(3):
        rc, _, err = n.ctlj("dispatch", "p", "big-%d" % i, "-", input=big)
        assert rc == 0, err
    rc, out, _ = n.ctl("job", "p", "big-2")
    assert rc == 0 and out == big
    check_history([w], {"big-0", "big-1", "big-2"})


def check(env, name, redis_conf):
    conf = os.path.join(env.tmp, name + ".conf")
    with open(conf, "w") as f:
        json.dump({"socket": {"path": os.path.join(env.tmp, name + ".sock")},
                   "redis": redis_conf}, f, indent=2)
    r = subprocess.run([PULSED, "-n", "-c", conf], capture_output=True, text=True, timeout=30)
    return r.returncode, r.stderr


def test_config_check_names_each_tls_problem(env, certs):
    url = "rediss://127.0.0.1:6390/0"
    garbage = os.path.join(env.tmp, "garbage.pem")
    with open(garbage, "w") as f:
        f.write("not a certificate\n")
    cases = [
        ({"url": "redis://127.0.0.1:6379/0", "tls": {"ca_file": certs.ca_crt}},
         "redis.tls.ca_file: TLS options need a rediss:// redis.url"),
        ({"url": "unix:///tmp/r.sock", "tls": {"insecure_skip_verify": True}},
         "redis.tls.insecure_skip_verify: TLS options need a rediss:// redis.url"),
        ({"url": url, "tls": {"ca_file": "/nonexistent/ca.pem"}},
         "redis.tls.ca_file: cannot use /nonexistent/ca.pem: No such file or directory"),
        ({"url": url, "tls": {"ca_dir": certs.ca_crt}},
         "redis.tls.ca_dir: %s is not a directory" % certs.ca_crt),
        ({"url": url, "tls": {"ca_file": certs.dir}},
         "redis.tls.ca_file: %s is a directory" % certs.dir),
        ({"url": url, "tls": {"cert_file": certs.client_crt}},
         "redis.tls.cert_file: a client certificate needs both cert_file and key_file"),
        ({"url": url, "tls": {"ca_file": garbage}},
         "redis.tls.ca_file: cannot load %s" % garbage),
        ({"url": url, "tls": {"cert_file": certs.client_crt, "key_file": garbage}},
         "redis.tls.key_file: cannot load %s" % garbage),
        ({"url": url, "tls": {"cert_file": certs.client_crt, "key_file": certs.server_key}},
         "redis.tls.key_file: %s does not belong to the certificate" % certs.server_key),
        ({"url": url, "tls": {"insecure_skip_verify": "yes"}},
         "redis.tls.insecure_skip_verify: expected true or false"),
        ({"url": url, "tls": {"ca_flie": certs.ca_crt}}, "redis.tls.ca_flie: unknown key"),
    ]
    for i, (conf, want) in enumerate(cases):
        rc, err = check(env, "bad%d" % i, conf)
        assert rc == 1 and want in err, (conf, err)
    rc, err = check(env, "good", {"url": url, "tls": certs.client(
        cert_file=certs.client_crt, key_file=certs.client_key, server_name="localhost")})
    assert rc == 0 and "is valid" in err, err


def test_reload_says_tls_keys_need_a_restart(env, certs):
    r = tls_redis(env, certs)
    n = tls_node(env, r, certs.client())
    ca2 = os.path.join(env.tmp, "ca-copy.crt")
    shutil.copy(certs.ca_crt, ca2)
    with open(n.conf) as f:
        cfg = json.load(f)
    cfg["redis"]["tls"]["ca_file"] = ca2
    cfg["redis"]["tls"]["server_name"] = "localhost"
    with open(n.conf, "w") as f:
        json.dump(cfg, f)
    n.proc.send_signal(signal.SIGHUP)
    want = ("reload: changed, but taking effect only when pulsed restarts: "
            "redis.tls.ca_file, redis.tls.server_name")
    wait_for(lambda: want in n.logtext(), 5, "the reload's note")
    # a reload to a TLS file that does not load keeps the running config
    cfg["redis"]["tls"]["ca_file"] = os.path.join(env.tmp, "missing.crt")
    with open(n.conf, "w") as f:
        json.dump(cfg, f)
    n.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "redis.tls.ca_file: cannot use" in n.logtext() and
             "keeping the running configuration" in n.logtext(), 5, "the refused reload")
    assert n.status()["redis"]
