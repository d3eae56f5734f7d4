"""Keyed messages (issue 19 item 1, P19): SEND routes a payload to the
worker that placement picks for a key, on whichever node it is attached,
creates no job and writes nothing, and returns that worker's message
handler's answer.

Real redis-server, real pulsed processes, real testworker processes
(--message: the handler answers "WORKER_ID:" and the payload, byte for
byte; --fail-message and --hang-message prefixes fail or hang it). Every
wait is a condition with a deadline.
"""
import os
import subprocess
import threading
import time

from harness import (PULSECTL, SLOW, check_history, frame, raw_session,
                     read_frame, wait_for)

TTL = "600ms"
BINARY = b"\x00bin\xff\x00\x01zero\x00" + bytes(range(256))


def ctl_bytes(node, *args, data=b"", timeout=60):
    """pulsectl with bytes in and out: (exit code, stdout bytes, stderr)."""
    r = subprocess.run([PULSECTL, "-s", node.sock] + [str(a) for a in args],
                       input=data, capture_output=True, timeout=timeout * SLOW)
    return r.returncode, r.stdout, r.stderr.decode(errors="replace")


def send(node, key, payload, pool="p"):
    """pulsectl --json send: (exit code, JSON, stderr)."""
    return node.ctlj("send", pool, key, payload)


def owner_of(node, key, pool="p"):
    rc, data, err = node.ctlj("where", pool, key)
    assert rc == 0, err
    return data["where"][0]


def messages(w):
    return [e for e in w.events() if e[0] == "message"]


def sees(node, worker_ids, pool="p"):
    """node's view holds exactly these workers (its placement's input)."""
    rc, data, _ = node.ctlj("workers", pool)
    return rc == 0 and {w["id"] for w in data["workers"]} == set(worker_ids)


def redis_state(env):
    """Every key of the Redis with its type and size, to show that
    nothing was written."""
    out = {}
    for k in env.redis.keys():
        t = env.redis.cli("TYPE", k)
        size = {"hash": "HLEN", "set": "SCARD", "zset": "ZCARD",
                "string": "STRLEN"}.get(t)
        out[k] = (t, env.redis.cli(size, k) if size else "")
    return out


def test_message_reaches_the_worker_of_the_keys_job_on_its_node(env):
    """Same node: the answer comes from the worker that runs the key's
    job, byte for byte (zero bytes included), and nothing else changes."""
    n = env.node(worker_ttl=TTL)
    ws = [env.worker(n, name="w%d" % i, opts=["--message"]) for i in range(3)]
    wait_for(lambda: sees(n, [w.id for w in ws]), 5, "the view to hold 3 workers")
    keys = ["tenant-%d" % i for i in range(12)]
    for k in keys:
        rc, _, err = n.ctlj("dispatch", "p", k, "job-" + k)
        assert rc == 0, err
    by_id = {w.id: w for w in ws}
    owners = set()
    for k in keys:
        runner = [w for w in ws if k in w.running()]
        assert len(runner) == 1
        rc, out, err = ctl_bytes(n, "send", "p", k, "-", data=BINARY + k.encode())
        assert rc == 0, err
        assert out == runner[0].id.encode() + b":" + BINARY + k.encode()
        owners.add(runner[0].id)
        got = [e for e in messages(runner[0]) if e[1] == k]
        assert len(got) == 1  # once, at the owner only
        for other in ws:
            if other is not runner[0]:
                assert not [e for e in messages(other) if e[1] == k]
    assert len(owners) > 1  # the keys spread: placement picked, not chance
    # a key with no job goes where placement would put its job
    w = owner_of(n, "no-job")
    assert w["owned"] is False
    rc, data, err = send(n, "no-job", "hello")
    assert rc == 0, err
    assert data["ok"] is True and data["answer"] == w["worker"] + ":hello"
    assert messages(by_id[w["worker"]])[-1][1] == "no-job"
    check_history(ws, set(keys))


def test_message_creates_no_job_and_writes_nothing(env):
    """No job, no Redis key, no change to any key: JOBS and the Redis
    keyspace (DBSIZE, KEYS, each key's size) are the same after messages,
    on the caller's node and across nodes."""
    a = env.node("node-a", worker_ttl=TTL)
    b = env.node("node-b", worker_ttl=TTL)
    b.use_pool("p")
    wa = env.worker(a, name="wa", opts=["--message"])
    wb = env.worker(b, name="wb", opts=["--message"])
    wait_for(lambda: sees(a, ["wa", "wb"]) and sees(b, ["wa", "wb"]), 5,
             "both nodes to see both workers")
    assert a.ctlj("dispatch", "p", "existing", "x")[0] == 0
    jobs_before = [j["key"] for j in a.ctlj("jobs", "p")[1]["jobs"]]
    dbsize = env.redis.cli("DBSIZE")
    before = redis_state(env)
    seen = set()
    for i in range(20):
        k = "msg-only-%d" % i
        rc, data, err = send(a, k, "m%d" % i)
        assert rc == 0, err
        seen.add(data["answer"].split(":")[0])
        rc, data, err = a.ctlj("job", "p", k)
        assert rc == 1 and data["code"] == "JOB_NOT_FOUND"
    assert seen == {"wa", "wb"}  # both the local and the remote path ran
    assert [j["key"] for j in a.ctlj("jobs", "p")[1]["jobs"]] == jobs_before == ["existing"]
    assert env.redis.cli("DBSIZE") == dbsize
    # the same keys, each of the same size (the inbox streams, a
    # transport, carried the cross-node messages: entries, not keys)
    assert redis_state(env) == before
    assert wa.running() | wb.running() == {"existing"}


def test_message_goes_to_a_worker_on_another_node(env):
    """The worker is another node's: the message goes through that node's
    inbox and the answer comes back through the caller's, byte for byte;
    it is the worker that runs the key's job."""
    a = env.node("node-a", worker_ttl=TTL)
    b = env.node("node-b", worker_ttl=TTL)
    a.use_pool("p")
    wb = env.worker(b, name="wb", opts=["--message"])
    wait_for(lambda: sees(a, ["wb"]), 5, "node-a to see wb")
    assert a.ctlj("dispatch", "p", "remote-1", "x")[0] == 0
    assert wb.running() == {"remote-1"}
    rc, out, err = ctl_bytes(a, "send", "p", "remote-1", "-", data=BINARY)
    assert rc == 0, err
    assert out == b"wb:" + BINARY
    assert [e[1] for e in messages(wb)] == ["remote-1"]
    # an empty payload and an empty answer part travel too
    rc, out, err = ctl_bytes(a, "send", "p", "remote-1", "")
    assert rc == 0 and out == b"wb:", (out, err)
    # with workers on both nodes, each key's message reaches its owner
    wa = env.worker(a, name="wa", opts=["--message"])
    wait_for(lambda: sees(a, ["wa", "wb"]) and sees(b, ["wa", "wb"]), 5,
             "both nodes to see both workers")
    keys = ["k-%d" % i for i in range(16)]
    for k in keys:
        assert a.ctlj("dispatch", "p", k, "x")[0] == 0
    wait_for(lambda: wa.running() | wb.running() >= set(keys), 5, "jobs to run")
    for k in keys:
        for node in (a, b):
            runner = "wa" if k in wa.running() else "wb"
            rc, data, err = send(node, k, "to-" + k)
            assert rc == 0, err
            assert data["answer"] == runner + ":to-" + k
    assert {e[1] for e in messages(wa)} | {e[1] for e in messages(wb)} >= set(keys)
    assert any(k in wa.running() for k in keys) and any(k in wb.running() for k in keys)
    check_history([wa, wb], set(keys) | {"remote-1"})


def test_no_worker_is_answered_at_once(env):
    """No worker attached to the pool: UNAVAILABLE "no worker" at once, for
    a pool this node already uses and for one the SEND itself joins."""
    n = env.node(worker_ttl=TTL)
    n.use_pool("p")
    for pool in ("p", "fresh"):
        t0 = time.monotonic()
        rc, data, err = send(n, "k", "x", pool=pool)
        assert rc == 1 and data["code"] == "UNAVAILABLE", (rc, data, err)
        assert "no worker in pool " + pool in data["message"]
        assert time.monotonic() - t0 < 3 * SLOW
    # a worker of another pool does not count
    env.worker(n, pool="other", opts=["--message"])
    rc, data, _ = send(n, "k", "x")
    assert rc == 1 and data["code"] == "UNAVAILABLE"


def test_worker_without_a_message_handler(env):
    """The worker placement picks said no messages in its HELLO: NO_HANDLER
    at once, on its node and from another, without reaching it."""
    a = env.node("node-a", worker_ttl=TTL)
    b = env.node("node-b", worker_ttl=TTL)
    b.use_pool("p")
    w = env.worker(a, name="plain")  # no --message
    wait_for(lambda: sees(b, ["plain"]), 5, "node-b to see the worker")
    assert a.ctlj("dispatch", "p", "k", "x")[0] == 0
    for node in (a, b):
        t0 = time.monotonic()
        rc, data, err = send(node, "k", "hi")
        assert rc == 1 and data["code"] == "NO_HANDLER", (rc, data, err)
        assert "plain has no message handler" in data["message"]
        assert time.monotonic() - t0 < 3 * SLOW
    assert messages(w) == []
    assert w.proc.poll() is None and w.running() == {"k"}


def test_handler_error_comes_back_with_its_message(env):
    a = env.node("node-a", worker_ttl=TTL)
    b = env.node("node-b", worker_ttl=TTL)
    b.use_pool("p")
    w = env.worker(a, name="w", opts=["--message", "--fail-message", "bad-"])
    wait_for(lambda: sees(b, ["w"]), 5, "node-b to see the worker")
    for node in (a, b):
        rc, data, err = send(node, "bad-1", "why " + node.name)
        assert rc == 1 and data["code"] == "HANDLER", (rc, data, err)
        assert data["message"] == "message refused by test: why " + node.name
    rc, data, err = send(b, "good-1", "fine")
    assert rc == 0 and data["answer"] == "w:fine", err
    assert len(messages(w)) == 3


def _send_in_background(node, key, payload, pool="p"):
    out = {}

    def run():
        t0 = time.monotonic()
        out["result"] = node.ctlj("send", pool, key, payload)
        out["took"] = time.monotonic() - t0
    t = threading.Thread(target=run)
    t.start()
    return t, out


def test_worker_killed_while_its_handler_runs(env):
    """kill -9 of the worker while its handler runs: the caller gets an
    error at once (UNAVAILABLE, saying the worker went away), never a hang
    or a retry elsewhere; on the worker's node and from another node."""
    a = env.node("node-a", worker_ttl=TTL)
    b = env.node("node-b", worker_ttl=TTL)
    b.use_pool("p")
    for caller in (a, b):
        w = env.worker(a, name="hang-" + caller.name,
                       opts=["--message", "--hang-message", "hang-"])
        other = env.worker(a, name="spare-" + caller.name, opts=["--message"])
        wait_for(lambda: sees(caller, [w.id, other.id]), 5, "the view")
        key = next(k for k in ("hang-%d" % i for i in range(200))
                   if owner_of(caller, k)["worker"] == w.id)
        t, out = _send_in_background(caller, key, "x")
        wait_for(lambda: messages(w), 5, "the handler to begin")
        w.kill()
        t.join(timeout=10 * SLOW)
        assert not t.is_alive(), "the caller hangs"
        rc, data, err = out["result"]
        assert rc == 1 and data["code"] == "UNAVAILABLE", (rc, data, err)
        assert "went away before answering" in data["message"], data
        assert out["took"] < 5 * SLOW
        assert messages(other) == []  # not sent again elsewhere
        other.kill()
        wait_for(lambda: sees(caller, []), 5, "the workers to be gone")


def test_message_timeout(env):
    """A handler that does not answer within the request's timeout (the
    SEND's `timeout` field): TIMEOUT, and the session goes on."""
    n = env.node(worker_ttl=TTL)
    w = env.worker(n, name="w", opts=["--message", "--hang-message", "hang-"])
    wait_for(lambda: sees(n, ["w"]), 5, "the view")
    s = raw_session(n.sock)
    s.sendall(frame({"t": 1, "v": 1, "role": "client"}))
    assert read_frame(s)["t"] == 2
    t0 = time.monotonic()
    s.sendall(frame({"t": 38, "id": 5, "pool": "p", "key": "hang-1",
                     "payload": b"x", "timeout": 300}))
    m = read_frame(s)
    assert m["t"] == 3 and m["id"] == 5 and m["code"] == "TIMEOUT", m
    assert "may have run" in m["msg"]
    assert 0.25 < time.monotonic() - t0 < 3 * SLOW
    # the session goes on
    s.sendall(frame({"t": 16, "id": 6}))
    m = read_frame(s)
    assert m["t"] == 4 and m["id"] == 6, m
    s.close()
    # pulsectl send --timeout sends the same limit (pulse_set_request_timeout)
    t0 = time.monotonic()
    rc, data, err = n.ctlj("send", "p", "hang-2", "x", "--timeout", "300ms")
    assert rc == 1 and data["ok"] is False and data["code"] == "TIMEOUT", (rc, data, err)
    assert time.monotonic() - t0 < 3 * SLOW
    rc, _, err = n.ctl("send", "p", "hang-3", "x", "--timeout", "abc")
    assert rc == 2, err
    assert w.proc.poll() is None


def test_oversized_payload_is_too_large(env):
    """Over limits.max_payload: TOO_LARGE from pulsed, to pulsectl and to a
    raw peer, and nothing reaches the worker; an answer over it is
    TOO_LARGE too (the handler ran)."""
    n = env.node(worker_ttl=TTL, extra={"limits": {"max_payload": 1000}})
    w = env.worker(n, name="w", opts=["--message"])
    wait_for(lambda: sees(n, ["w"]), 5, "the view")
    rc, data, err = n.ctlj("send", "p", "k", "-", input="y" * 1001)
    assert rc == 1 and data["code"] == "TOO_LARGE", (rc, data, err)
    s = raw_session(n.sock)
    s.sendall(frame({"t": 1, "v": 1, "role": "client"}))
    assert read_frame(s)["t"] == 2
    s.sendall(frame({"t": 38, "id": 9, "pool": "p", "key": "k",
                     "payload": b"z" * 1001}))
    m = read_frame(s)
    assert m["t"] == 3 and m["id"] == 9 and m["code"] == "TOO_LARGE", m
    # at the cap: sent; the answer ("w:" and the payload) is over it
    s.sendall(frame({"t": 38, "id": 10, "pool": "p", "key": "k",
                     "payload": b"z" * 1000}))
    m = read_frame(s)
    assert m["t"] == 3 and m["id"] == 10 and m["code"] == "TOO_LARGE", m
    assert "the answer of 1002 bytes is over the 1000 byte cap" in m["msg"]
    s.sendall(frame({"t": 38, "id": 11, "pool": "p", "key": "k",
                     "payload": b"z" * 998}))
    m = read_frame(s)
    # the OK of a SEND carries the answer as a bin payload
    assert m == {"t": 4, "id": 11, "payload": b"w:" + b"z" * 998}, m
    s.close()
    assert len(messages(w)) == 2


def test_pulsectl_send_stdin_json_and_bad_arguments(env):
    n = env.node(pools={"p": {"worker_ttl": TTL}})
    env.worker(n, name="w", opts=["--message"])
    wait_for(lambda: sees(n, ["w"]), 5, "the view")
    rc, data, err = n.ctlj("send", "p", "k", "-", input="from stdin \u00e9")
    assert rc == 0, err
    assert data == {"ok": True, "size": len("w:from stdin \u00e9".encode()),
                    "answer": "w:from stdin \u00e9",
                    "answer_base64": __import__("base64").b64encode(
                        "w:from stdin \u00e9".encode()).decode()}
    # binary answer: no "answer" text, always base64
    rc, out, err = ctl_bytes(n, "--json", "send", "p", "k", "-", data=b"\xff\x00")
    assert rc == 0, err
    data = __import__("json").loads(out)
    assert "answer" not in data and data["size"] == 4
    assert __import__("base64").b64decode(data["answer_base64"]) == b"w:\xff\x00"
    # raw output, no --json
    rc, out, err = n.ctl("send", "p", "k", "plain")
    assert rc == 0 and out == "w:plain", err
    # bad key, unknown pool, missing argument
    rc, data, _ = n.ctlj("send", "p", "bad\x01key", "x")
    assert rc == 1 and data["code"] == "INVALID"
    rc, data, _ = n.ctlj("send", "nope", "k", "x")
    assert rc == 1 and data["code"] == "INVALID", data
    rc, _, err = n.ctl("send", "p", "k")
    assert rc == 2 and "missing arguments" in err
