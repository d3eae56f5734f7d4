#!/usr/bin/python3
"""mkcorpus.py: writes the seed corpora of the fuzz targets.

Owns tests/fuzz/corpus/<target>/ and the dictionaries
tests/fuzz/<target>.dict (all generated here: the corpus directories are
emptied and rewritten, so edit this script, not the files). Seeds are valid frames of every message type of proto/PROTOCOL.md,
a few classic bad ones, the handshakes and fixture-aware sequences that
fuzz_session.c's modes expect, and the sample configuration conf/pulsed.conf
with variants covering every section of the config schema.

It needs nothing but the standard library (a small msgpack encoder is
below, so that seeds can use exact formats: bin vs str, int widths).
Run from anywhere: /usr/bin/python3 tests/fuzz/mkcorpus.py
"""
import hashlib
import json
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


class Bin(bytes):
    """A value packed as msgpack bin (plain bytes/str pack as str)."""


def pack(v):
    if v is None:
        return b"\xc0"
    if v is True:
        return b"\xc3"
    if v is False:
        return b"\xc2"
    if isinstance(v, int):
        if 0 <= v < 0x80:
            return bytes([v])
        if -32 <= v < 0:
            return struct.pack("b", v)
        if 0 <= v <= 0xFF:
            return b"\xcc" + struct.pack(">B", v)
        if 0 <= v <= 0xFFFF:
            return b"\xcd" + struct.pack(">H", v)
        if 0 <= v <= 0xFFFFFFFF:
            return b"\xce" + struct.pack(">I", v)
        if v >= 0:
            return b"\xcf" + struct.pack(">Q", v)
        return b"\xd3" + struct.pack(">q", v)
    if isinstance(v, float):
        return b"\xcb" + struct.pack(">d", v)
    if isinstance(v, Bin):
        n = len(v)
        if n <= 0xFF:
            return b"\xc4" + bytes([n]) + v
        if n <= 0xFFFF:
            return b"\xc5" + struct.pack(">H", n) + v
        return b"\xc6" + struct.pack(">I", n) + v
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, bytes):
        n = len(v)
        if n < 32:
            return bytes([0xA0 | n]) + v
        if n <= 0xFF:
            return b"\xd9" + bytes([n]) + v
        if n <= 0xFFFF:
            return b"\xda" + struct.pack(">H", n) + v
        return b"\xdb" + struct.pack(">I", n) + v
    if isinstance(v, (list, tuple)):
        n = len(v)
        head = bytes([0x90 | n]) if n < 16 else b"\xdc" + struct.pack(">H", n)
        return head + b"".join(pack(x) for x in v)
    if isinstance(v, dict):
        n = len(v)
        head = bytes([0x80 | n]) if n < 16 else b"\xde" + struct.pack(">H", n)
        return head + b"".join(pack(k) + pack(x) for k, x in v.items())
    raise TypeError(type(v))


def frame(body):
    if not isinstance(body, bytes):
        body = pack(body)
    return struct.pack(">I", len(body)) + body


def frames(*msgs):
    return b"".join(frame(m) for m in msgs)


# Message type numbers (proto/proto.h).
T = dict(HELLO=1, WELCOME=2, ERROR=3, OK=4, DISPATCH=10, STOP=11, NOTIFY=12,
         JOBS=13, JOB=14, WORKERS=15, STATUS=16, TICKER=17, TICKER_STOP=18,
         SCHEDULE=19, START=20, HALT=21, EVENT=22, ACK=23, DETACH=24,
         LEASE=25, TICK=26, TICKEND=27, PLAN=28, PLANNED=29, SHUTDOWN=30,
         LEAVE=31, WHERE=32, NODES=33, DRAIN=34, UNDRAIN=35, CLOCKS=36,
         SEND=38, MESSAGE=39)

HELLO_CLIENT = {"t": 1, "v": 1, "role": "client"}
HELLO_WORKER = {"t": 1, "v": 1, "role": "worker", "pool": "fuzz",
                "name": "w2", "notify": True}

# One valid message of every type (pulsed -> peer ones included: the codec
# decodes both directions).
EVERY = [
    HELLO_CLIENT,
    HELLO_WORKER,
    {"t": 2, "v": 1, "node": "n1", "worker": "w1"},
    {"t": 3, "id": 0, "code": "PROTOCOL", "msg": "bad"},
    {"t": 4, "id": 7, "keys": ["a", "b"]},
    {"t": 4, "id": 8, "workers": [{"id": "w1", "node": "n1", "jobs": 2}]},
    {"t": 4, "id": 9, "status": {"node": "n1", "pools": [{"name": "p"}]}},
    {"t": 4, "id": 10, "exists": True, "payload": Bin(b"xyz"),
     "worker": "w1", "node": "n1"},
    {"t": 10, "id": 1, "pool": "fuzz", "key": "k1", "payload": Bin(b"p"),
     "timeout": 5000},
    {"t": 10, "id": 2, "pool": "fuzz", "key": "k2", "payload": "as str"},
    {"t": 11, "id": 3, "pool": "fuzz", "key": "job-a", "timeout": 100},
    {"t": 12, "id": 4, "pool": "fuzz", "key": "job-a", "payload": Bin(b"n")},
    {"t": 13, "id": 5, "pool": "fuzz"},
    {"t": 13, "id": 6, "pool": "fuzz", "worker": "w1"},
    {"t": 14, "id": 7, "pool": "fuzz", "key": "job-b"},
    {"t": 15, "id": 8, "pool": "fuzz"},
    {"t": 15, "id": 9, "pool": "fuzz", "local": True},
    {"t": 16, "id": 10},
    {"t": 17, "id": 11, "pool": "fuzz", "name": "tk", "interval": 1000},
    {"t": 18, "id": 12, "pool": "fuzz", "name": "tk"},
    {"t": 19, "id": 13, "pool": "fuzz", "name": "sc", "interval": 500},
    {"t": 36, "id": 14, "pool": "fuzz", "role": "tick"},
    {"t": 36, "id": 15, "pool": "fuzz", "role": "sched"},
    {"t": 20, "id": 1, "key": "job-a", "payload": Bin(b"pa")},
    {"t": 21, "id": 2, "key": "job-a"},
    {"t": 22, "id": 3, "key": "job-a", "payload": Bin(b"ev")},
    {"t": 23, "id": 1, "r": 0},
    {"t": 23, "id": 2, "r": 1, "msg": "refused"},
    {"t": 23, "id": 3, "r": 2},
    {"t": 24, "id": 16},
    {"t": 25, "timeout": 8000},
    {"t": 26, "name": "tk", "seq": 3, "ts": 1700000000000},
    {"t": 27, "name": "tk"},
    {"t": 28, "id": 3, "name": "sched"},
    {"t": 29, "id": 3, "start": [{"key": "s1", "payload": Bin(b"x")}],
     "stop": ["s2"]},
    {"t": 29, "id": 3, "all": True, "end": False},
    {"t": 29, "id": 3, "code": "HANDLER", "msg": "no plan"},
    {"t": 30, "id": 17, "pool": "fuzz"},
    {"t": 31, "id": 18, "pool": "fuzz"},
    {"t": 32, "id": 19, "pool": "fuzz", "key": "job-a"},
    {"t": 33, "id": 20, "pool": "fuzz"},
    {"t": 34, "id": 21, "timeout": 10},
    {"t": 35, "id": 22},
    {"t": 1, "v": 1, "role": "worker", "pool": "fuzz", "name": "w3",
     "messages": True},
    {"t": 38, "id": 23, "pool": "fuzz", "key": "tenant-1",
     "payload": Bin(b"\x00cmd\xff"), "timeout": 2000},
    {"t": 38, "id": 24, "pool": "fuzz", "key": "tenant-2"},
    {"t": 39, "id": 5, "key": "tenant-1", "payload": Bin(b"\x00cmd")},
    {"t": 23, "id": 5, "r": 0, "payload": Bin(b"answer\x00")},
    {"t": 4, "id": 23, "payload": Bin(b"answer\x00")},
]

# Requests a welcomed client sends (mode 1 of fuzz_session).
CLIENT = [m for m in EVERY if 10 <= m["t"] <= 19 or 30 <= m["t"] <= 36
          or m["t"] == 38] + [
    # validation failures before Redis is needed
    {"t": 10, "id": 30, "pool": "bad pool{", "key": "k"},
    {"t": 10, "id": 31, "pool": "fuzz", "key": "bad\x01key"},
    {"t": 10, "id": 32, "pool": "p" * 129, "key": "k"},
    {"t": 15, "id": 33, "pool": "other", "local": True},
    {"t": 10, "id": 34, "pool": "fuzz", "key": "k" * 1025},
    {"t": 29, "id": 99},                       # PLANNED never asked
    {"t": 23, "id": 1, "r": 0},                # ACK from a client
    {"t": 1, "v": 1, "role": "client"},        # second HELLO
]

PLANNED = [
    {"t": 29, "id": 3, "start": [{"key": "s1", "payload": Bin(b"x")},
                                 {"key": "s2", "payload": "str"},
                                 {"key": "bad\x00"}, {"nokey": 1}],
     "stop": ["job-a", "\x7f"]},
    {"t": 29, "id": 3, "start": [], "all": True},
    {"t": 29, "id": 3, "end": True},
    {"t": 29, "id": 3, "code": "HANDLER", "msg": "producer failed"},
    {"t": 29, "id": 3},
]

# What worker w1 sends (mode 2): its STARTs are ids 1 and 2, then the
# queued EVENT and HALT get 3 and 4.
WORKER = [
    [{"t": 23, "id": 1, "r": 0}, {"t": 23, "id": 2, "r": 0},
     {"t": 23, "id": 3, "r": 0}, {"t": 23, "id": 4, "r": 0}],
    [{"t": 23, "id": 1, "r": 1, "msg": "cannot start"},
     {"t": 23, "id": 2, "r": 2}],
    [{"t": 23, "id": 2, "r": 0}, {"t": 23, "id": 4, "r": 2},
     {"t": 23, "id": 1, "r": 0}, {"t": 23, "id": 3, "r": 1, "msg": "no"}],
    [{"t": 23, "id": 1, "r": 0}, {"t": 23, "id": 3, "r": 2}],
    [{"t": 24, "id": 9}, {"t": 23, "id": 1, "r": 0},
     {"t": 23, "id": 2, "r": 0}, {"t": 23, "id": 3, "r": 0},
     {"t": 23, "id": 4, "r": 0}],
    [{"t": 24, "id": 9}],
    [{"t": 23, "id": 77, "r": 0}],             # never sent
    [{"t": 23, "id": 1, "r": 3}],              # bad r
    [{"t": 10, "id": 1, "pool": "fuzz", "key": "k"}],  # request from a worker
    [{"t": 29, "id": 3}],                      # PLANNED from a worker
    # the keyed message (id 101): answered with bytes, refused, requeued
    [{"t": 23, "id": 101, "r": 0, "payload": Bin(b"ans\x00wer")}],
    [{"t": 23, "id": 101, "r": 1, "msg": "no"}, {"t": 23, "id": 101, "r": 0}],
    [{"t": 23, "id": 101, "r": 2}, {"t": 23, "id": 1, "r": 0}],
]

# Bodies and streams that must be refused.
BAD = {
    "empty-body": struct.pack(">I", 0),
    "not-a-map": frame([1, 2, 3]),
    "no-type": frame({"id": 1}),
    "type-too-big": frame({"t": 1 << 33}),
    "neg-type": frame({"t": -1}),
    "dup-key": frame(b"\x82\xa1t\x01\xa1t\x01"),
    "int-key": frame(b"\x81\x01\x01"),
    "nil-field": frame({"t": 10, "id": None}),
    "bool-as-int": frame({"t": 1, "v": 1, "role": "worker", "pool": "fuzz",
                          "notify": 1}),
    "reserved-c1": frame(b"\x81\xa1t\xc1"),
    "trailing": frame(pack({"t": 16, "id": 1}) + b"\x00"),
    "truncated-str": frame(b"\x81\xa1t\xd9\x10ab"),
    "huge-array": frame(b"\x81\xa1t\xdd\xff\xff\xff\xff"),
    "huge-map": frame(b"\xdf\x7f\xff\xff\xff"),
    "deep": frame(b"\x81\xa1x" + b"\x91" * 10 + b"\x01"),
    "ext": frame(b"\x82\xa1t\x10\xa1x\xd4\x01\x02"),
    "float-id": frame({"t": 16, "id": 1.5}),
    "oversize": struct.pack(">I", 0xFFFFFFFF) + b"\x81",
    "partial-header": b"\x00\x00",
    "partial-body": struct.pack(">I", 100) + b"\x81\xa1t",
    "unknown-type": frame({"t": 99, "id": 1}),
    "id-zero": frame({"t": 16, "id": 0}),
    "unknown-field": frame({"t": 16, "id": 1, "future": [1, {"a": None}]}),
}


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def msg_name(m):
    inv = {v: k for k, v in T.items()}
    h = hashlib.sha1(pack(m)).hexdigest()[:8]
    return "%s-%s" % (inv.get(m.get("t"), "T%s" % m.get("t")).lower(), h)


def frame_corpus():
    for m in EVERY:
        write("fuzz_frame", msg_name(m), frame(m))
    for name, data in BAD.items():
        write("fuzz_frame", "bad-" + name, data)
    write("fuzz_frame", "stream-all", frames(*EVERY))
    write("fuzz_frame", "stream-then-oversize",
          frames(*EVERY[:3]) + BAD["oversize"])


def session_corpus():
    raw, client, worker = b"\x00", b"\x01", b"\x02"
    # mode 0: the handshake itself
    write("fuzz_session", "raw-hello-client", raw + frame(HELLO_CLIENT))
    write("fuzz_session", "raw-hello-worker", raw + frame(HELLO_WORKER))
    write("fuzz_session", "raw-hello-worker-noname",
          raw + frame({"t": 1, "v": 1, "role": "worker", "pool": "new"}))
    write("fuzz_session", "raw-hello-v2",
          raw + frame({"t": 1, "v": 2, "role": "client"}))
    write("fuzz_session", "raw-hello-role",
          raw + frame({"t": 1, "v": 1, "role": "admin"}))
    write("fuzz_session", "raw-not-hello", raw + frame({"t": 16, "id": 1}))
    write("fuzz_session", "raw-client-status",
          raw + frames(HELLO_CLIENT, {"t": 16, "id": 1}))
    write("fuzz_session", "raw-oversize", raw + BAD["oversize"])
    for name in ("not-a-map", "huge-array", "trailing", "partial-body"):
        write("fuzz_session", "raw-bad-" + name, raw + BAD[name])
    # mode 1: a welcomed client (mode byte 4: the same with JSON logs)
    for m in CLIENT:
        write("fuzz_session", "client-" + msg_name(m), client + frame(m))
    write("fuzz_session", "client-all", client + frames(*CLIENT[:-3]))
    write("fuzz_session", "client-all-json", b"\x04" + frames(*CLIENT[:-3]))
    for i, m in enumerate(PLANNED):
        write("fuzz_session", "client-planned-%d" % i, client + frame(m))
    write("fuzz_session", "client-drain-undrain",
          client + frames({"t": 34, "id": 1}, {"t": 35, "id": 2},
                          {"t": 16, "id": 3}))
    # mode 2: worker w1
    for i, seq in enumerate(WORKER):
        write("fuzz_session", "worker-%d" % i, worker + frames(*seq))


def config_corpus():
    src = os.path.join(ROOT, "conf", "pulsed.conf")
    with open(src, "rb") as f:
        sample = f.read()
    write("fuzz_config", "pulsed.conf", sample)
    base = json.loads(sample)
    variants = {
        "empty": {},
        "full": {
            "socket": {"path": "/tmp/p.sock", "group": "pulsed", "mode": "0600",
                       "admin_group": "wheel", "max_sessions": 10,
                       "handshake_timeout": "5s", "frame_timeout": "250ms",
                       "write_timeout": "1m"},
            "redis": {"url": "redis://user@localhost:6380/2",
                      "prefix": "pz"},
            "node": {"id": "node-1"},
            "log": {"level": "debug", "format": "json"},
            "limits": {"max_payload": 4096, "max_peer_buffer": 65536},
            "metrics": {"listen": "127.0.0.1:9464"},
            "pools": {"*": {"worker_ttl": "2s"},
                      "jobs": {"worker_ttl": "1h", "max_queued_jobs": 5,
                               "ack_grace_period": "100ms",
                               "pending_job_ttl": "3s",
                               "worker_shutdown_ttl": "1s",
                               "job_sink_block": "2s"}},
        },
        "unix-url": {"redis": {"url": "unix:///run/redis.sock?db=3"}},
        "url-password": {"redis": {"url": "redis://:secret@h:1/0"}},
        "password-env": {"redis": {"password_env": "PULSE_FUZZ_UNSET"}},
        "password-file": {"redis": {"password_file": "/nonexistent"}},
        "tls-url": {"redis": {"url": "rediss://h"}},
        "tls-section": {"redis": {"url": "rediss://u@h:6390/1",
                                  "tls": {"ca_file": "/dev/null", "ca_dir": "/",
                                          "cert_file": "/dev/null",
                                          "key_file": "/dev/null",
                                          "server_name": "redis.internal",
                                          "insecure_skip_verify": False}}},
        "tls-no-rediss": {"redis": {"url": "redis://h",
                                    "tls": {"insecure_skip_verify": True}}},
        "no-star": {"pools": {"only": {"max_queued_jobs": 1}}},
        "bad-mode": {"socket": {"mode": "0668"}},
        "bad-duration": {"pools": {"*": {"worker_ttl": "10"}}},
        "bad-listen": {"metrics": {"listen": "nohost"}},
        "unknown-key": {"colour": 1},
    }
    for name, v in variants.items():
        write("fuzz_config", name + ".conf",
              json.dumps(v, indent=2).encode() + b"\n")
    base["log"]["level"] = "warn"
    write("fuzz_config", "sample-warn.conf",
          json.dumps(base, indent=2).encode() + b"\n")
    write("fuzz_config", "bad-json.conf", sample[: len(sample) // 2])
    write("fuzz_config", "dup-key.conf", b'{"log": {}, "log": {}}')


def dict_line(b):
    """One libFuzzer dictionary entry: a quoted string, hex escapes."""
    out = "".join(chr(c) if 0x20 <= c < 0x7F and chr(c) not in '"\\'
                  else "\\x%02x" % c for c in b)
    return '"%s"\n' % out


# The protocol's words, packed as they appear on the wire: field names and
# the strings pulsed matches on, plus the format bytes of section 3.
FIELDS = ["t", "id", "v", "role", "pool", "key", "name", "payload", "code",
          "msg", "node", "worker", "r", "notify", "local", "exists", "keys",
          "workers", "status", "timeout", "interval", "seq", "ts", "start",
          "stop", "all", "end", "messages"]
WORDS = ["client", "worker", "tick", "sched", "fuzz", "w1", "job-a", "job-b",
         "PROTOCOL", "HANDLER", "INVALID", "NO_HANDLER"]
FORMATS = [b"\xc0", b"\xc2", b"\xc3", b"\xc4", b"\xc5", b"\xc6", b"\xcc",
           b"\xcd", b"\xce", b"\xcf", b"\xd0", b"\xd3", b"\xd4", b"\xd9",
           b"\xda", b"\xdb", b"\xdc", b"\xdd", b"\xde", b"\xdf", b"\xcb"]


def proto_dict():
    entries = [pack(f) for f in FIELDS] + [pack(w) for w in WORDS] + FORMATS
    entries += [pack({"t": t}) for t in sorted(T.values())]
    entries += [b"\x00\x00\x00", b"\xff\xff\xff\xff"]
    return "".join(dict_line(e) for e in entries)


CONFIG_WORDS = ["socket", "path", "group", "mode", "admin_group",
                "max_sessions", "handshake_timeout", "frame_timeout",
                "write_timeout", "redis", "url", "password_file",
                "password_env", "prefix", "node", "id", "log", "level",
                "format", "limits", "max_payload", "max_peer_buffer",
                "metrics", "listen", "pools", "worker_ttl",
                "worker_shutdown_ttl", "ack_grace_period", "pending_job_ttl",
                "max_queued_jobs", "job_sink_block", "debug", "info", "warn",
                "error", "text", "json", "redis://", "unix://", "rediss://",
                "?db=", "tls", "ca_file", "ca_dir", "cert_file", "key_file",
                "server_name", "insecure_skip_verify", "/dev/null", "ms", "s", "m", "h", "0660", "127.0.0.1:", "[::1]:",
                "*"]


def config_dict():
    entries = ['"%s"' % w for w in CONFIG_WORDS] + [
        "null", "true", "false", "{}", "[]", ":", ",", "\\u0000", "1e400",
        "18446744073709551616", "-1"]
    return "".join(dict_line(e.encode()) for e in entries)


def write_dicts():
    for target, text in (("fuzz_frame", proto_dict()),
                         ("fuzz_session", proto_dict()),
                         ("fuzz_config", config_dict())):
        with open(os.path.join(HERE, target + ".dict"), "w") as f:
            f.write("# generated by tests/fuzz/mkcorpus.py: edit that\n")
            f.write(text)


def main():
    for t in ("fuzz_frame", "fuzz_session", "fuzz_config"):
        shutil.rmtree(os.path.join(CORPUS, t), ignore_errors=True)
    frame_corpus()
    session_corpus()
    config_corpus()
    write_dicts()
    for t in sorted(os.listdir(CORPUS)):
        print("%s: %d seeds" % (t, len(os.listdir(os.path.join(CORPUS, t)))))


if __name__ == "__main__":
    main()
