#!/usr/bin/python3
"""pyworker.py: a pulsed worker written from proto/PROTOCOL.md alone.

    /usr/bin/python3 pyworker.py SOCKET POOL EVENTLOG [NAME]

Attaches to pulsed as a worker of POOL (HELLO / WELCOME, section 6.1),
prints "ready <worker id>" once attached, answers every START, HALT and
EVENT (section 6.3) and appends one line per event to EVENTLOG in the
format harness.py reads:

    start KEY WORKERID NS
    stop KEY WORKERID NS
    notify KEY WORKERID NS PAYLOAD

with KEY percent-encoded as testworker.c does (bytes outside
[A-Za-z0-9._:/-] as %HH).

Every event is answered r=0, except a START whose key begins with "fail-",
answered r=1 "python says no". On SIGTERM it sends DETACH (section 6.4),
keeps answering events until the OK to the DETACH, then exits 0.

It implements leases (section 6.5): when the deadline of the newest LEASE
passes it stops its jobs (logging a stop for each), closes the session and
exits 3. When the session ends any other way it also stops (and logs) every
job it runs (section 6.4) and exits 1.

Standard library plus the msgpack module only. Exit status: 0 after a
completed detach, 1 when pulsed refused the HELLO, closed the session or
broke the protocol, 2 on bad usage, 3 when its lease expired.
"""
import os
import select
import signal
import socket
import struct
import sys
import time
import urllib.parse

import msgpack

# Message types (section 5).
T_HELLO, T_WELCOME, T_ERROR, T_OK = 1, 2, 3, 4
T_START, T_HALT, T_EVENT, T_ACK, T_DETACH, T_LEASE = 20, 21, 22, 23, 24, 25

# Section 2: default max_payload (1 MiB) + 64 KiB for the other fields.
MAX_BODY = 1024 * 1024 + 64 * 1024

DETACH_ID = 1
FAIL_PREFIX = b"fail-"
FAIL_MSG = "python says no"


class ProtocolFailure(Exception):
    pass


def log_err(msg):
    sys.stderr.write("pyworker: %s\n" % msg)
    sys.stderr.flush()


class Conn:
    """Frame reader/writer over a blocking Unix stream socket."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.buf = bytearray()
        self.eof = False

    def send(self, msg):
        body = msgpack.packb(msg, use_bin_type=True)
        self.sock.sendall(struct.pack(">I", len(body)) + body)

    def fill(self):
        """One recv into the buffer; sets eof at end of file."""
        chunk = self.sock.recv(65536)
        if not chunk:
            self.eof = True
        else:
            self.buf += chunk

    def next_frame(self):
        """The next complete message from the buffer, or None."""
        if len(self.buf) < 4:
            return None
        (n,) = struct.unpack(">I", self.buf[:4])
        if n > MAX_BODY:
            raise ProtocolFailure("pulsed announced a %d-byte body (max %d)" % (n, MAX_BODY))
        if n == 0:
            raise ProtocolFailure("pulsed sent an empty body")
        if len(self.buf) < 4 + n:
            return None
        body = bytes(self.buf[4:4 + n])
        del self.buf[:4 + n]
        try:
            # str fields are bytes to the protocol, not necessarily UTF-8:
            # keep undecodable bytes round-trippable.
            m = msgpack.unpackb(body, raw=False, unicode_errors="surrogateescape",
                                strict_map_key=False)
        except Exception as e:
            raise ProtocolFailure("undecodable frame from pulsed: %s" % e)
        if not isinstance(m, dict) or not isinstance(m.get("t"), int):
            raise ProtocolFailure("frame without a message type: %r" % (m,))
        return m

    def recv_blocking(self):
        while True:
            m = self.next_frame()
            if m is not None:
                return m
            if self.eof:
                return None
            self.fill()


def as_bytes(v):
    if v is None:
        return b""
    if isinstance(v, (bytes, bytearray)):
        return bytes(v)
    if isinstance(v, str):
        return v.encode("utf-8", "surrogateescape")
    raise ProtocolFailure("expected str/bin, got %r" % (v,))


class Worker:
    def __init__(self, conn, wid, evlog):
        self.conn = conn
        self.wid = wid.encode("utf-8", "surrogateescape")
        self.fd = os.open(evlog, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.jobs = {}          # key (bytes) -> payload (bytes)
        self.lease_deadline = None   # time.monotonic() deadline (6.5)

    def stop_all(self):
        """Stop every job without HALT (6.4: session ended; 6.5: lease)."""
        if self.jobs:
            log_err("stopping %d job(s) without HALT" % len(self.jobs))
        for key in list(self.jobs):
            self.jobs.pop(key)
            self.record(b"stop", key)

    def record(self, kind, key, extra=None):
        # the key percent-encoded as testworker.c writes it (harness.encode_key)
        key = urllib.parse.quote_from_bytes(key, safe="._:/-").encode()
        parts = [kind, key, self.wid, str(time.time_ns()).encode()]
        if extra is not None:
            parts.append(extra)
        os.write(self.fd, b" ".join(parts) + b"\n")

    def ack(self, eid, r, msg=None):
        a = {"t": T_ACK, "id": eid, "r": r}
        if msg is not None:
            a["msg"] = msg
        self.conn.send(a)

    def handle(self, m):
        """Handle one frame from pulsed. Returns the type handled."""
        t = m["t"]
        if t in (T_START, T_HALT, T_EVENT):
            eid = m.get("id")
            if not isinstance(eid, int) or eid <= 0 or "key" not in m:
                raise ProtocolFailure("event without id or key: %r" % (m,))
            key = as_bytes(m["key"])
            if t == T_START:
                payload = as_bytes(m.get("payload"))
                if key.startswith(FAIL_PREFIX):
                    self.ack(eid, 1, FAIL_MSG)
                    return t
                if key in self.jobs:
                    # 6.3 guarantees this never happens; make it visible.
                    self.record(b"DUPLICATE", key)
                self.jobs[key] = payload
                self.record(b"start", key)
                self.ack(eid, 0)
            elif t == T_HALT:
                if key not in self.jobs:
                    log_err("HALT for a key not running: %r" % key)
                self.jobs.pop(key, None)
                self.record(b"stop", key)
                self.ack(eid, 0)
            else:
                payload = as_bytes(m.get("payload"))
                if key not in self.jobs:
                    log_err("EVENT for a key not running: %r" % key)
                text = payload.decode("utf-8", "replace").replace("\n", "\\n")
                self.record(b"notify", key, text.encode("utf-8"))
                self.ack(eid, 0)
        elif t == T_LEASE:
            ms = m.get("timeout")
            if not isinstance(ms, int) or ms < 0:
                raise ProtocolFailure("LEASE without a timeout: %r" % (m,))
            self.lease_deadline = time.monotonic() + ms / 1000.0
        elif t == T_ERROR:
            if m.get("id", 0) == 0:
                raise ProtocolFailure("session closed by pulsed: %s: %s"
                                      % (m.get("code"), m.get("msg")))
            log_err("ERROR for id %r: %s: %s" % (m.get("id"), m.get("code"), m.get("msg")))
        # OK and unknown types: the caller looks at OK; others are ignored
        # (section 12: forward compatibility).
        return t


def main(argv):
    if len(argv) not in (4, 5):
        sys.stderr.write("usage: pyworker.py SOCKET POOL EVENTLOG [NAME]\n")
        return 2
    path, pool, evlog = argv[1], argv[2], argv[3]
    name = argv[4] if len(argv) == 5 else None

    # SIGTERM only sets a flag and wakes select() through the wakeup fd;
    # every frame is written from the main loop.
    term = []
    rd, wr = os.pipe()
    os.set_blocking(rd, False)
    os.set_blocking(wr, False)
    signal.set_wakeup_fd(wr)
    signal.signal(signal.SIGTERM, lambda *_: term.append(1))

    try:
        conn = Conn(path)
        hello = {"t": T_HELLO, "v": 1, "role": "worker", "pool": pool, "notify": True}
        if name:
            hello["name"] = name
        conn.send(hello)
        m = conn.recv_blocking()
        if m is None:
            log_err("pulsed closed the connection during the handshake")
            return 1
        if m["t"] != T_WELCOME:
            log_err("refused: %s: %s" % (m.get("code"), m.get("msg")))
            return 1
        wid = m.get("worker")
        if not isinstance(wid, str) or not wid:
            log_err("WELCOME without a worker id: %r" % (m,))
            return 1
    except (OSError, ProtocolFailure) as e:
        log_err("handshake failed: %s" % e)
        return 1

    w = Worker(conn, wid, evlog)
    sys.stdout.write("ready %s\n" % wid)
    sys.stdout.flush()

    detaching = False
    try:
        while True:
            if term and not detaching:
                detaching = True
                conn.send({"t": T_DETACH, "id": DETACH_ID})
            # Handle every complete frame already buffered.
            while True:
                m = conn.next_frame()
                if m is None:
                    break
                t = w.handle(m)
                if t == T_OK and detaching and m.get("id") == DETACH_ID:
                    if w.jobs:
                        log_err("detached with jobs still running here: %r"
                                % sorted(w.jobs))
                    return 0
            if conn.eof:
                log_err("pulsed closed the connection%s"
                        % (" before answering DETACH" if detaching else ""))
                w.stop_all()
                return 1
            timeout = None
            if w.lease_deadline is not None:
                timeout = w.lease_deadline - time.monotonic()
                if timeout <= 0:
                    # 6.5 rule 1: read what is already on the socket (a newer
                    # LEASE may be there) before acting on the deadline.
                    if select.select([conn.sock], [], [], 0)[0]:
                        conn.fill()
                        continue
                    log_err("lease expired: stopping %d job(s) and leaving"
                            % len(w.jobs))
                    w.stop_all()
                    conn.sock.close()
                    return 3
            r, _, _ = select.select([conn.sock, rd], [], [], timeout)
            if rd in r:
                try:
                    while os.read(rd, 512):
                        pass
                except BlockingIOError:
                    pass
            if conn.sock in r:
                conn.fill()
    except ProtocolFailure as e:
        log_err(str(e))
        w.stop_all()
        return 1
    except OSError as e:
        log_err("socket error: %s" % e)
        w.stop_all()
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
