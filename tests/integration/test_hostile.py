"""Hostile peers on pulsed's socket (P16; PROTOCOL.md sections 2, 3, 6, 10).

Owns: the whole hostile-peer suite. Each test runs a real redis-server and
a real pulsed with a well-behaved testworker and a well-behaved client
session (GoodClient) that keep dispatching, notifying and stopping jobs
while a hostile peer sends garbage, truncated frames, huge lengths, wrong
msgpack types or frames out of order, floods requests without reading,
stops reading its events, or opens more sessions than allowed.

Invariants of every test: the hostile peer gets the exact answer
(ERROR with id 0 and the named code, then end of stream) where a frame can
still be written; pulsed logs a line naming the peer (pid and uid) and the
cause; the good worker and client are served during and after; at the end
the history checker passes and pulsed still answers. Nothing sleeps to let
something happen: every wait is a condition with a deadline (wait_for) or
a socket read with a timeout.
"""
import os
import re
import select
import socket
import struct
import subprocess
import threading
import time

import msgpack
import pytest

from harness import (SLOW, LoggedWorker, check_history, frame, raw_session,
                     read_frame, wait_for)

T_HELLO, T_WELCOME, T_ERROR, T_OK = 1, 2, 3, 4
T_DISPATCH, T_STOP, T_NOTIFY, T_JOBS, T_JOB, T_WORKERS, T_STATUS = range(10, 17)
T_START, T_HALT, T_EVENT, T_ACK, T_DETACH = 20, 21, 22, 23, 24

POOL = "p"          # the good worker's pool
HPOOL = "h"         # the pool a hostile worker attaches to
PEER = "pid %d uid %d" % (os.getpid(), os.getuid())
CLIENT_HELLO = {"t": T_HELLO, "v": 1, "role": "client"}
# The short deadlines the tests configure (PROTOCOL.md section 10).
TIMEOUTS = {"handshake_timeout": "1s", "frame_timeout": "1s",
            "write_timeout": "2s"}
# Small buffers, so that a peer that does not read fills them fast; the
# peer buffer still holds the largest frame (max_payload + 64 KiB).
SMALL = {"max_payload": 65536, "max_peer_buffer": 65536 + 65540}


def raw(obj):
    """One frame around an already-encoded body."""
    return struct.pack(">I", len(obj)) + obj


def packed(obj):
    return msgpack.packb(obj, use_bin_type=True)


def at_eof(s):
    """True once pulsed has closed the connection (end of stream, or a
    reset because it closed with our bytes unread)."""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return True
    except ConnectionResetError:
        return True


T_LEASE = 25


def expect_dropped(s, code, part=None):
    """The next frame (after LEASE notices, which a worker may get at any
    time) is ERROR {id: 0, code}; then the stream ends."""
    m = read_frame(s)
    while m is not None and m["t"] == T_LEASE:
        m = read_frame(s)
    assert m is not None, "closed without an ERROR frame (wanted %s)" % code
    assert m["t"] == T_ERROR and m["id"] == 0 and m["code"] == code, m
    if part:
        assert part in m.get("msg", ""), m
    assert at_eof(s)
    return m


DROP = re.compile(r"session \d+ \(%s\): ([A-Z_]+): (.*); disconnecting"
                  % re.escape(PEER))


def drops(n):
    """(code, reason) of every session of this process that pulsed
    dropped, in order, from its log."""
    return DROP.findall(n.logtext(full=True))


def logged_drops(n, before, want):
    """Wait until pulsed logged `want` more drops of this process's
    sessions than `before`; return the new ones."""
    return wait_for(lambda: len(drops(n)) >= before + want and drops(n)[before:],
                    5, "%d drop log lines" % want)


class GoodClient:
    """A well-behaved client on one long-lived session: it reads every
    answer and must never be disconnected."""

    def __init__(self, node):
        self.s = raw_session(node.sock)
        self.last = 0
        self.kept = set()
        self.s.sendall(frame(CLIENT_HELLO))
        m = read_frame(self.s)
        assert m and m["t"] == T_WELCOME, m

    def send(self, msg):
        self.last += 1
        self.s.sendall(frame(dict(msg, id=self.last)))
        return self.last

    def answer(self):
        m = read_frame(self.s)
        assert m is not None, "pulsed closed the good client's session"
        assert m.get("id") != 0, "pulsed dropped the good client: %r" % m
        return m

    def call(self, msg):
        rid = self.send(msg)
        while True:
            m = self.answer()
            if m.get("id") == rid:
                return m

    def ok(self, t, key, pool=POOL, **kw):
        m = self.call(dict(t=t, pool=pool, key=key, **kw))
        assert m["t"] == T_OK, "type %d %s: %r" % (t, key, m)
        return m

    def sessions(self):
        m = self.call({"t": T_STATUS})
        assert m["t"] == T_OK, m
        return m["status"]["sessions"]

    def round_trip(self, w, tag):
        """Dispatch, notify and stop one job on w, and leave one more
        running: the proof that pulsed serves everyone else."""
        key = "rt-" + tag
        self.ok(T_DISPATCH, key, payload=b"x")
        assert key in w.running()
        self.ok(T_NOTIFY, key, payload=b"n-" + tag.encode())
        assert w.count_of("notify", key) == 1
        self.ok(T_STOP, key)
        assert key not in w.running()
        keep = "keep-" + tag
        self.ok(T_DISPATCH, keep)
        self.kept.add(keep)


class HostileWorker(LoggedWorker):
    """A worker on a raw socket: it runs what pulsed starts (logging like
    testworker does, so that the history checker covers it) until the test
    makes it misbehave; from then on it runs nothing (killed_ns)."""

    def __init__(self, node, tmp, name="hostile", pool=HPOOL):
        self.evlog = os.path.join(tmp, "w-%s.events" % name)
        self.s = raw_session(node.sock)
        self.s.sendall(frame({"t": T_HELLO, "v": 1, "role": "worker",
                              "pool": pool, "name": name}))
        m = read_frame(self.s)
        assert m and m["t"] == T_WELCOME, m
        self.id = m["worker"]
        self.acked = []

    def log(self, kind, key):
        with open(self.evlog, "a") as f:
            f.write("%s %s %s %d\n" % (kind, key, self.id, time.time_ns()))

    def handle_one(self):
        """Read one frame and answer it like a good worker."""
        m = read_frame(self.s)
        assert m is not None, "pulsed closed the hostile worker early"
        if m["t"] in (T_START, T_HALT, T_EVENT):
            if m["t"] == T_START:
                self.log("start", m["key"])
            elif m["t"] == T_HALT:
                self.log("stop", m["key"])
            self.s.sendall(frame({"t": T_ACK, "id": m["id"], "r": 0}))
            self.acked.append(m["id"])
        return m

    def misbehave(self):
        """From now on it runs nothing: any job of it must go elsewhere."""
        self.killed_ns = time.time_ns()


def start(env, socket=None, limits=None, redis=None, **pool_opts):
    """A node with short peer deadlines, a good worker in POOL, a good
    client that has done one round trip."""
    extra = {"socket": dict(TIMEOUTS, **(socket or {}))}
    if limits:
        extra["limits"] = limits
    if redis:
        extra["redis"] = redis
    n = env.node(extra=extra, **pool_opts)
    w = env.worker(n, pool=POOL)
    c = GoodClient(n)
    c.round_trip(w, "setup")
    return n, w, c


def finish(n, workers, c, extra_running=()):
    """The end of every test: served after the fact, history sound,
    pulsed alive."""
    c.round_trip(workers[0], "end")
    check_history(workers, c.kept | set(extra_running))
    assert n.ready()


def hostile(n, data, code, part=None, hello=None):
    """One hostile session: optional handshake, then data; it must get
    ERROR {id 0, code} and be closed, and pulsed must log it."""
    before = len(drops(n))
    s = raw_session(n.sock)
    if hello:
        s.sendall(frame(hello))
        m = read_frame(s)
        assert m and m["t"] == T_WELCOME, m
    try:
        s.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass  # pulsed refused before it had all of it
    expect_dropped(s, code, part)
    s.close()
    got = logged_drops(n, before, 1)
    assert got[0][0] == code, got


# ---- garbage and lengths -------------------------------------------------

GARBAGE = [
    (b"\x00\x00\x00\x03\xc1\xc1\xc1", "PROTOCOL"),       # reserved byte
    (b"\x00\x00\x00\x00", "PROTOCOL"),                   # empty body
    (b"\x00\x00\x00\x10" + bytes(range(16)), "PROTOCOL"),  # fixints, trailing
    (b"\x00\x00\x00\x02\x92\x01", "PROTOCOL"),           # not a map, short...
    (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "TOO_LARGE"),  # ...a 1.2 GB "length"
    (b"\xff\xff\xff\xff" + b"\x00" * 64, "TOO_LARGE"),
]


def test_garbage(env):
    n, w, c = start(env)
    for i, (data, code) in enumerate(GARBAGE):
        hostile(n, data, code)
        hostile(n, data, code, hello=CLIENT_HELLO)
        c.round_trip(w, "garbage-%d" % i)
    # a worker session sending garbage after its WELCOME
    hostile(n, GARBAGE[0][0], "PROTOCOL",
            hello={"t": T_HELLO, "v": 1, "role": "worker", "pool": HPOOL})
    finish(n, [w], c)


def test_huge_announced_lengths(env):
    n, w, c = start(env, limits={"max_payload": 1024})
    max_body = 1024 + 65536
    too_big = "frame larger than %d bytes" % max_body
    # refused on the header alone: the body is never sent
    hostile(n, b"\xff\xff\xff\xff", "TOO_LARGE", too_big)
    hostile(n, struct.pack(">I", max_body + 1), "TOO_LARGE", too_big)
    hostile(n, struct.pack(">I", max_body + 1), "TOO_LARGE", too_big,
            hello=CLIENT_HELLO)
    c.round_trip(w, "huge")
    # exactly max_body is accepted, as a HELLO and as a request (an unknown
    # field pads it)

    def padded(msg):
        pad = max_body - len(packed(dict(msg, pad=b"")))
        while len(packed(dict(msg, pad=b"x" * pad))) > max_body:
            pad -= 1
        body = packed(dict(msg, pad=b"x" * pad))
        assert len(body) == max_body
        return raw(body)

    s = raw_session(n.sock)
    s.sendall(padded(CLIENT_HELLO))
    assert read_frame(s)["t"] == T_WELCOME
    s.sendall(padded({"t": T_STATUS, "id": 5}))
    m = read_frame(s)
    assert m["t"] == T_OK and m["id"] == 5
    s.close()
    finish(n, [w], c)


# ---- wrong msgpack types --------------------------------------------------

def crafted(*parts):
    return raw(b"".join(parts))


WORKER_HELLO = {"t": T_HELLO, "v": 1, "role": "worker", "pool": HPOOL}
# Bodies sent as the first frame (in place of a HELLO).
BAD_FIRST = [
    (packed([1, 1, "client"]), "map"),
    (packed(42), "map"),
    (packed("hello"), "map"),
    (packed(None), "map"),
    (packed({"t": "1", "v": 1, "role": "client"}), "t"),
    (packed({"t": 1, "v": "1", "role": "client"}), "v"),
    (packed({"t": 1, "v": 1, "role": 5}), "role"),
    (packed({"t": 1, "v": 1, "role": b"client"}), "role"),
    (packed({"t": 1, "v": None, "role": "client"}), "v"),
    (packed({"t": 1, "v": -1, "role": "client"}), "v"),
    (packed({"t": 2 ** 40, "v": 1, "role": "client"}), "t"),
    (packed({"v": 1, "role": "client"}), "t"),
    (packed(dict(WORKER_HELLO, pool=7)), "pool"),
    (packed(dict(WORKER_HELLO, notify=1)), "notify"),
    (packed(dict(WORKER_HELLO, name=["w"])), "name"),
    (packed({1: 1, "t": 1, "v": 1, "role": "client"}), "key"),
    # a key twice
    (b"\x84\xa1t\x01\xa1v\x01\xa4role\xa6client\xa1t\x01", "twice"),
    # an array, a map, a str and a bin whose counts far exceed the body
    (b"\x82\xa1t\x01\xa1x\xdd\xff\xff\xff\xff\x01", ""),
    (b"\x82\xa1t\x01\xa1x\xdf\xff\xff\xff\xff\x01\x01", ""),
    (b"\xdf\xff\xff\xff\xff\xa1t\x01", ""),
    (b"\x82\xa1t\x01\xa1x\xdb\xff\xff\xff\xf0abc", ""),
    (b"\x82\xa1t\x01\xa1x\xc6\x7f\xff\xff\xffabc", ""),
    (b"\x82\xa1t\x01\xa1x\xdc\xff\xff\x01", ""),
    # nested 9 deep (the cap is 8)
    (packed({"t": 1, "x": [[[[[[[[1]]]]]]]]}), "deep"),
    # a whole HELLO followed by one more byte
    (packed(CLIENT_HELLO) + b"\xc0", ""),
    # a HELLO cut short inside its last string
    (packed(CLIENT_HELLO)[:-2], ""),
]
# Bodies sent by a client after its WELCOME.
BAD_REQUEST = [
    ({"t": T_DISPATCH, "id": 1, "pool": POOL, "key": 42}, "key"),
    ({"t": T_DISPATCH, "id": "1", "pool": POOL, "key": "k"}, "id"),
    ({"t": T_DISPATCH, "id": 0, "pool": POOL, "key": "k"}, "id"),
    ({"t": T_DISPATCH, "id": -3, "pool": POOL, "key": "k"}, "id"),
    ({"t": T_DISPATCH, "id": 1, "pool": POOL, "key": "k", "payload": 5},
     "payload"),
    ({"t": T_DISPATCH, "id": 1, "pool": POOL, "key": "k", "timeout": -5},
     "timeout"),
    ({"t": T_DISPATCH, "id": 1, "pool": POOL}, "key"),
    ({"t": T_DISPATCH, "id": 1, "pool": POOL, "key": None}, "key"),
    ({"t": T_WORKERS, "id": 1, "pool": POOL, "local": 1}, "local"),
    ({"t": T_JOBS, "id": 1, "pool": [POOL]}, "pool"),
    ({"t": T_STATUS, "id": 1.5}, "id"),
]


def test_wrong_msgpack_types(env):
    n, w, c = start(env)
    for i, (body, part) in enumerate(BAD_FIRST):
        hostile(n, raw(body), "PROTOCOL", part)
        if i % 8 == 7:
            c.round_trip(w, "first-%d" % i)
    for i, (msg, part) in enumerate(BAD_REQUEST):
        hostile(n, frame(msg), "PROTOCOL", part, hello=CLIENT_HELLO)
    c.round_trip(w, "requests")
    # a worker's ACK with r out of range or of the wrong type
    for ack in ({"t": T_ACK, "id": 1, "r": 3}, {"t": T_ACK, "id": 1, "r": True},
                {"t": T_ACK, "id": 1, "r": 0, "msg": 7}):
        hostile(n, frame(ack), "PROTOCOL", hello=WORKER_HELLO)
    finish(n, [w], c)


# ---- frames out of order --------------------------------------------------

OUT_OF_ORDER = [
    # (hello, frame, part of the message[, code if not PROTOCOL])
    (None, {"t": T_DISPATCH, "id": 1, "pool": POOL, "key": "k"}, "HELLO"),
    (None, {"t": T_ACK, "id": 1, "r": 0}, "HELLO"),
    (None, {"t": T_STATUS, "id": 1}, "HELLO"),
    (None, {"t": T_HELLO, "v": 99, "role": "client"}, "version 99"),
    (None, {"t": T_HELLO, "v": 1, "role": "admin"}, "role"),
    (None, {"t": T_HELLO, "v": 1, "role": "worker"}, "pool", "INVALID"),
    (CLIENT_HELLO, CLIENT_HELLO, "second HELLO"),
    (CLIENT_HELLO, WORKER_HELLO, "second HELLO"),
    (WORKER_HELLO, WORKER_HELLO, "second HELLO"),
    (CLIENT_HELLO, {"t": T_ACK, "id": 1, "r": 0}, "ACK"),
    (CLIENT_HELLO, {"t": T_DETACH, "id": 1}, "DETACH"),
    (WORKER_HELLO, {"t": T_DISPATCH, "id": 1, "pool": POOL, "key": "k"},
     "client session"),
    (WORKER_HELLO, {"t": T_STATUS, "id": 1}, "client session"),
    # a worker answering an event it never got
    (WORKER_HELLO, {"t": T_ACK, "id": 999, "r": 0}, ""),
    # frames that only pulsed sends, and a type nobody sends
    (CLIENT_HELLO, {"t": T_WELCOME, "v": 1, "node": "x"}, "type 2"),
    (CLIENT_HELLO, {"t": T_OK, "id": 1}, "type 4"),
    (CLIENT_HELLO, {"t": T_ERROR, "id": 1, "code": "BUSY"}, "type 3"),
    (WORKER_HELLO, {"t": T_START, "id": 1, "key": "k"}, "type 20"),
    (CLIENT_HELLO, {"t": 99, "id": 1}, "type"),
]


def test_frames_out_of_order(env):
    n, w, c = start(env)
    for i, (hello, msg, part, *code) in enumerate(OUT_OF_ORDER):
        hostile(n, frame(msg), (code or ["PROTOCOL"])[0], part, hello=hello)
        if i % 6 == 5:
            c.round_trip(w, "order-%d" % i)
    # a request pipelined behind a worker's HELLO, before its WELCOME
    before = len(drops(n))
    s = raw_session(n.sock)
    s.sendall(frame(WORKER_HELLO) + frame({"t": T_STATUS, "id": 1}))
    m = read_frame(s)
    if m["t"] == T_WELCOME:
        m = read_frame(s)
    assert m["t"] == T_ERROR and m["code"] == "PROTOCOL" and m["id"] == 0, m
    assert at_eof(s)
    assert logged_drops(n, before, 1)[0][0] == "PROTOCOL"
    finish(n, [w], c)


# ---- truncated frames -----------------------------------------------------

def test_truncated_frame_then_close(env):
    n, w, c = start(env)
    base = c.sessions()
    partial = frame({"t": T_STATUS, "id": 1})[:-2]
    cases = [(None, b"\x00\x00"), (None, frame(CLIENT_HELLO)[:-3]),
             (CLIENT_HELLO, b"\x00"), (CLIENT_HELLO, partial),
             (WORKER_HELLO, partial)]
    closed = "closed (%s): peer closed the connection in the middle of a frame" % PEER
    for i, (hello, data) in enumerate(cases):
        before = n.logtext(full=True).count(closed)
        s = raw_session(n.sock)
        if hello:
            s.sendall(frame(hello))
            assert read_frame(s)["t"] == T_WELCOME
        s.sendall(data)
        s.close()
        # pulsed sees the end of the stream, frees the session and says so
        wait_for(lambda: n.logtext(full=True).count(closed) > before,
                 5, "the close logged")
        wait_for(lambda: c.sessions() == base, 5, "the session freed")
        c.round_trip(w, "trunc-%d" % i)
    finish(n, [w], c)


def test_truncated_frame_then_silence(env):
    """A peer that stops in the middle of a frame, or before its HELLO, is
    dropped with TIMEOUT once socket.frame_timeout / handshake_timeout
    (1 s here) has passed; dribbling bytes does not extend the deadline;
    an idle session between frames is never dropped."""
    n, w, c = start(env)
    idle = GoodClient(n)   # handshaked, then silent throughout
    before = len(drops(n))
    t0 = time.monotonic()
    silent = raw_session(n.sock)                         # no byte at all
    half_hello = raw_session(n.sock)                     # part of a HELLO
    half_hello.sendall(frame(CLIENT_HELLO)[:-4])
    half_req = raw_session(n.sock)                       # part of a request
    half_req.sendall(frame(CLIENT_HELLO))
    assert read_frame(half_req)["t"] == T_WELCOME
    t1 = time.monotonic()
    half_req.sendall(frame({"t": T_STATUS, "id": 1})[:5])
    for s, part in ((silent, "HELLO"), (half_hello, "HELLO"),
                    (half_req, "incomplete frame")):
        expect_dropped(s, "TIMEOUT", part)
    assert time.monotonic() - t1 >= 0.9
    c.round_trip(w, "silence")
    # a dribbler: a byte every 100 ms of a frame that never ends
    dribbler = raw_session(n.sock)
    dribbler.sendall(frame(CLIENT_HELLO))
    assert read_frame(dribbler)["t"] == T_WELCOME
    began = time.monotonic()
    data = frame({"t": T_STATUS, "id": 2, "pad": b"x" * 200})
    for b in data[:-1]:
        try:
            dribbler.send(bytes([b]))
        except (BrokenPipeError, ConnectionResetError):
            break
        if select.select([dribbler], [], [], 0.1)[0]:
            break
    elapsed = time.monotonic() - began
    expect_dropped(dribbler, "TIMEOUT", "incomplete frame")
    assert 0.9 <= elapsed < 1 + 2 * SLOW, elapsed
    got = logged_drops(n, before, 4)
    assert [g[0] for g in got] == ["TIMEOUT"] * 4, got
    assert time.monotonic() - t0 > 1.0
    # the idle session outlived every deadline and is still served
    assert idle.sessions() >= 2
    finish(n, [w], c)


# ---- floods and peers that do not read ------------------------------------

def flood(s, msg, blocked_for=0.3):
    """Send copies of msg (ids 1, 2, ...), 64 frames to a write, without
    reading, until sending has been blocked for blocked_for seconds:
    pulsed stopped reading. Returns the number of frames begun and the
    unsent rest of the last batch (sending it would block now)."""
    s.setblocking(False)
    sent, buf, stuck = 0, b"", None
    deadline = time.monotonic() + 20 * SLOW
    while time.monotonic() < deadline:
        if not buf:
            buf = b"".join(frame(dict(msg, id=sent + i + 1)) for i in range(64))
            sent += 64
        try:
            buf = buf[s.send(buf):]
            stuck = None
        except BlockingIOError:
            now = time.monotonic()
            stuck = stuck or now
            if now - stuck >= blocked_for:
                s.settimeout(10 * SLOW)
                return sent, buf
            select.select([], [s], [], 0.05)
    raise AssertionError("pulsed kept reading a peer that never reads")


def test_slow_reader_gets_every_answer(env):
    """A client that sends thousands of requests before reading any answer
    makes pulsed stop reading it (its output is past the high-water mark)
    instead of buffering without bound; others are served meanwhile; once
    it reads, pulsed resumes and every request gets its answer."""
    n, w, c = start(env, limits=SMALL,
                    socket={"write_timeout": "10s"})
    s = raw_session(n.sock)
    s.sendall(frame(CLIENT_HELLO))
    assert read_frame(s)["t"] == T_WELCOME
    sent, rest = flood(s, {"t": T_STATUS})
    assert sent > 1000
    c.round_trip(w, "during-flood")
    # the rest goes out while the answers are read
    sender = threading.Thread(target=s.sendall, args=(rest,), daemon=True)
    sender.start()
    got = set()
    while len(got) < sent:
        m = read_frame(s)
        assert m is not None and m["t"] == T_OK, m
        got.add(m["id"])
    assert got == set(range(1, sent + 1))
    sender.join(5 * SLOW)
    assert s.sendall(frame({"t": T_STATUS, "id": sent + 1})) is None
    assert read_frame(s)["id"] == sent + 1
    finish(n, [w], c)


def test_requests_in_flight_are_bounded(env):
    """Requests waiting on Redis hold memory in pulsed: a session may have
    4096 in flight, views (JOB) as much as dispatches; past that each gets
    BUSY at once, the session stays, and once Redis answers the waiting
    ones are answered and the session may ask again."""
    # the pause (stretched under sanitizers) must not outlast
    # redis.reply_timeout, or pulsed rightly drops the connection
    pause_ms = int(3000 * SLOW)
    n, w, c = start(env, worker_ttl="60s",
                    redis={"reply_timeout": "%dms" % (pause_ms + 30000)})
    s = raw_session(n.sock)
    s.sendall(frame(CLIENT_HELLO))
    assert read_frame(s)["t"] == T_WELCOME
    total, limit = 5000, 4096
    env.redis.cli("CLIENT", "PAUSE", str(pause_ms), "ALL")
    s.sendall(b"".join(frame({"t": T_JOB, "id": i, "pool": POOL, "key": "nf-%d" % i})
                       for i in range(1, total + 1)))
    busy, other = set(), set()
    while len(busy) + len(other) < total:
        m = read_frame(s)
        assert m is not None and m["id"] != 0, m
        if m["t"] == T_ERROR and m["code"] == "BUSY":
            assert "in flight" in m["msg"], m
            busy.add(m["id"])
        else:
            assert m["t"] == T_OK and m["exists"] is False, m
            other.add(m["id"])
    # the first `limit` waited for Redis, the others were refused at once
    assert other == set(range(1, limit + 1))
    assert busy == set(range(limit + 1, total + 1))
    s.sendall(frame({"t": T_JOB, "id": total + 1, "pool": POOL, "key": "nf-x"}))
    m = read_frame(s)
    assert m["id"] == total + 1 and m["t"] == T_OK, m
    s.close()
    finish(n, [w], c)


def test_flooder_that_never_reads_is_dropped(env):
    """Past socket.write_timeout without pulsed writing a byte to it, a
    peer that does not read is disconnected and logged; pulsed's memory
    for it stayed bounded (it stopped reading it)."""
    n, w, c = start(env, limits=SMALL)
    before = len(drops(n))
    s = raw_session(n.sock)
    s.sendall(frame(CLIENT_HELLO))
    assert read_frame(s)["t"] == T_WELCOME
    t0 = time.monotonic()
    flood(s, {"t": T_STATUS})
    c.round_trip(w, "during-flood")
    got = logged_drops(n, before, 1)
    assert got[0][0] == "TIMEOUT" and "read" in got[0][1], got
    assert time.monotonic() - t0 >= 1.8  # write_timeout, give or take a tick
    # what it gets, if it reads now: whole answers, then the end
    while True:
        try:
            m = read_frame(s)
        except ConnectionResetError:
            break
        if m is None:
            break
        assert m["t"] == T_OK, m
    c.round_trip(w, "after-flood")
    finish(n, [w], c)


# ---- hostile workers that hold jobs ---------------------------------------

def attach_and_load(env, n, c, keys):
    """A good worker (on a second node, with the default peer buffer: the
    hostile one's notifications all reach it at once when they move) and
    a hostile one on n, both in HPOOL, with keys dispatched over both; the
    hostile worker acks its STARTs while the client waits."""
    nb = env.node(name="node-b")
    good = env.worker(nb, pool=HPOOL, name="good-h")
    hw = HostileWorker(n, env.tmp)
    wait_for(lambda: len(c.call({"t": T_WORKERS, "pool": HPOOL})
                         .get("workers", [])) == 2, 5, "both workers placed")
    ids = {c.send({"t": T_DISPATCH, "pool": HPOOL, "key": k}): k for k in keys}
    answers = {}
    while len(answers) < len(ids):
        ready = select.select([c.s, hw.s], [], [], 10 * SLOW)[0]
        assert ready, "dispatches stalled"
        if hw.s in ready:
            hw.handle_one()
        if c.s in ready:
            m = c.answer()
            answers[m["id"]] = m
    assert all(m["t"] == T_OK for m in answers.values()), answers
    assert hw.running() and good.running(), "keys on both workers"
    assert hw.running() | good.running() == set(keys)
    return good, hw


MISBEHAVIOURS = ["garbage", "ack_twice", "request", "partial_close",
                 "partial_silence", "stops_reading"]


@pytest.mark.parametrize("how", MISBEHAVIOURS)
def test_hostile_worker_jobs_move(env, how):
    """A worker session holding running jobs that is dropped as abusive (or
    goes away mid-frame) has its jobs handed on the normal way: every one
    runs on the remaining worker, none twice at once, none lost."""
    n, w, c = start(env, limits=SMALL)
    keys = ["hj-%d" % i for i in range(32)]
    good, hw = attach_and_load(env, n, c, keys)
    before = len(drops(n))
    hw.misbehave()
    code = {"garbage": "PROTOCOL", "ack_twice": "PROTOCOL",
            "request": "PROTOCOL", "partial_silence": "TIMEOUT",
            "stops_reading": "BUSY"}.get(how)
    if how == "garbage":
        hw.s.sendall(b"\x00\x00\x00\x02\x81\xc1")
    elif how == "ack_twice":
        hw.s.sendall(frame({"t": T_ACK, "id": hw.acked[0], "r": 0}))
    elif how == "request":
        hw.s.sendall(frame({"t": T_DISPATCH, "id": 1, "pool": POOL, "key": "x"}))
    elif how in ("partial_close", "partial_silence"):
        hw.s.sendall(frame({"t": T_ACK, "id": 77, "r": 0})[:6])
        if how == "partial_close":
            hw.s.close()
    elif how == "stops_reading":
        # notifications with big payloads to its jobs pile up unread until
        # its output passes limits.max_peer_buffer
        mine = sorted(hw.running())
        ids = [c.send({"t": T_NOTIFY, "pool": HPOOL, "key": k,
                       "payload": b"z" * 60000}) for k in mine]
        got = logged_drops(n, before, 1)
        assert got[0][0] == "BUSY", got
        # reading now, it finds whole frames, the last an ERROR BUSY
        while True:
            m = read_frame(hw.s)
            assert m is not None, "stream ended without the ERROR frame"
            if m["t"] == T_ERROR:
                break
            assert m["t"] in (T_EVENT, 25), m
        assert m["id"] == 0 and m["code"] == "BUSY", m
        assert at_eof(hw.s)
        # each notification is answered (its job moved: retried there)
        answers = {}
        while len(answers) < len(ids):
            m = c.answer()
            answers[m["id"]] = m
        assert set(answers) == set(ids)
    if code and how != "stops_reading":
        expect_dropped(hw.s, code)
        assert logged_drops(n, before, 1)[0][0] == code
    wait_for(lambda: good.running() == set(keys), 5 * SLOW,
             "the hostile worker's jobs on the good one")
    assert "worker hostile gone with" in n.logtext(full=True)
    c.round_trip(w, "after-" + how)
    finish(n, [w, good, hw], c, keys)


# ---- the session limit ----------------------------------------------------

def refused(n):
    """A new connection gets ERROR BUSY and is closed."""
    s = raw_session(n.sock)
    m = read_frame(s)
    assert m is not None and m["t"] == T_ERROR and m["id"] == 0, m
    assert m["code"] == "BUSY" and "too many sessions" in m["msg"], m
    assert at_eof(s)
    s.close()


def test_session_limit(env):
    """socket.max_sessions: the excess gets ERROR BUSY and is closed,
    sessions already open are unaffected, and once some close (or a silent
    one times out) new ones are accepted again."""
    n, w, c = start(env, socket={"max_sessions": 5})
    fillers = [GoodClient(n) for _ in range(3 - 1)]   # w, c, 2 fillers...
    silent = raw_session(n.sock)                       # ...and one silent
    refused(n)
    refused(n)
    assert "refused a session (%s): too many sessions" % PEER in n.logtext(full=True)
    c.round_trip(w, "full")
    for f in fillers:
        assert f.sessions() == 5
    # the silent one times out (no HELLO): a slot frees
    expect_dropped(silent, "TIMEOUT", "HELLO")
    wait_for(lambda: c.sessions() == 4, 5, "the silent session freed")
    late = GoodClient(n)
    refused(n)
    # a filler leaves: a slot frees again
    fillers[0].s.close()
    wait_for(lambda: c.sessions() == 4, 5, "the filler's session freed")
    again = GoodClient(n)
    assert again.sessions() == 5 and late.sessions() == 5
    c.round_trip(w, "after")
    for s in (again, late, fillers[1]):
        s.s.close()
    wait_for(lambda: c.sessions() == 2, 5, "sessions freed")
    finish(n, [w], c)


# ---- sessions cannot be hoarded (issue 17 item 4) -------------------------

HOARDER = r"""
import socket, struct, sys, time
import msgpack
sock, n, hold = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
conns = []
for i in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(sock)
    body = msgpack.packb({"t": 1, "v": 1, "role": "client"}, use_bin_type=True)
    try:
        s.sendall(struct.pack(">I", len(body)) + body)
    except OSError:
        pass  # refused: pulsed wrote its ERROR and closed; read it below
    hdr = b""
    while len(hdr) < 4:
        try:
            c = s.recv(4 - len(hdr))
        except OSError:
            c = b""
        if not c:
            break
        hdr += c
    if len(hdr) < 4:
        print("closed"); continue
    (ln,) = struct.unpack(">I", hdr)
    data = b""
    while len(data) < ln:
        data += s.recv(ln - len(data))
    m = msgpack.unpackb(data, raw=False)
    print("welcome" if m.get("t") == 2 else "error %s %s" % (m.get("code"), m.get("msg")))
    sys.stdout.flush()
    conns.append(s)
deadline = time.monotonic() + hold
while time.monotonic() < deadline:
    for s in conns:
        s.settimeout(0.05)
        try:
            d = s.recv(65536)
            if d == b"":
                print("closed by pulsed"); sys.stdout.flush(); conns.remove(s); break
            print("frame", d[4:].decode("latin-1").replace("\n", " ")); sys.stdout.flush()
        except socket.timeout:
            pass
"""


def hoard(node, uid, n, hold=0.0):
    """As uid (not root, not admin), open n client sessions and keep them
    open for hold seconds: the lines of what each got."""
    return subprocess.Popen(["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid,
                             "--clear-groups", "/usr/bin/python3", "-c", HOARDER,
                             node.sock, str(n), str(hold)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def open_socket_to_all(env, n):
    os.chmod(env.tmp, 0o755)  # let unprivileged users reach the socket
    os.chmod(n.dir, 0o755)


def test_one_uid_cannot_hold_every_session_nor_lock_out_root(env):
    """A member of the socket group opening sessions is capped per uid
    (socket.max_sessions_per_uid); a second uid gets what is left except
    the slots kept for root and the admin group (socket.admin_sessions);
    root still gets in. Each refusal says why, to the peer and in the log.
    Old code: any uid could take all max_sessions, root included."""
    n = env.node(extra={"socket": {"mode": "0666", "max_sessions": 12,
                                   "max_sessions_per_uid": 6, "admin_sessions": 3}})
    open_socket_to_all(env, n)
    a = hoard(n, 65534, 8, hold=30)
    lines = [a.stdout.readline() for _ in range(8)]
    assert [l.strip() for l in lines[:6]] == ["welcome"] * 6, lines
    assert all("BUSY too many sessions for uid 65534 (socket.max_sessions_per_uid 6)"
               in l for l in lines[6:8]), lines
    b = hoard(n, 65533, 5, hold=30)
    lb = [b.stdout.readline() for _ in range(5)]
    # 12 - 3 kept - 6 held by the first uid = 3 for the second
    assert [l.strip() for l in lb[:3]] == ["welcome"] * 3, lb
    assert all("kept for root and the admin group" in l for l in lb[3:]), lb
    assert n.ctl("status")[0] == 0, "root was locked out"
    log = n.logtext(full=True)
    assert "refused a session (pid" in log and "socket.max_sessions_per_uid 6" in log
    assert "kept for root and the admin group" in log
    for p in (a, b):
        p.kill()
        p.wait()


def test_an_idle_client_session_is_closed_and_told_why(env):
    """A non-admin client session with nothing in flight that sends nothing
    for socket.client_idle_timeout is closed with TIMEOUT naming the key;
    root's idle session stays (admins may wait long on a DRAIN)."""
    n = env.node(extra={"socket": {"mode": "0666", "client_idle_timeout": "400ms"}})
    open_socket_to_all(env, n)
    root = raw_session(n.sock)
    root.sendall(frame({"t": 1, "v": 1, "role": "client"}))
    assert read_frame(root)["t"] == 2
    p = hoard(n, 65534, 1, hold=5)
    assert p.stdout.readline().strip() == "welcome"
    got = p.stdout.readline()
    assert "TIMEOUT" in got and "socket.client_idle_timeout" in got, got
    wait_for(lambda: "idle for" in n.logtext(full=True), 5, "the log line")
    p.kill()
    p.wait()
    root.sendall(frame({"t": 16, "id": 1}))  # STATUS: still served
    m = read_frame(root)
    assert m and m["t"] == 4, m
