#!/usr/bin/python3
"""placement_ref.py: daemon/REDIS.md's placement function, written from
the document alone (not from daemon/placement.c), as a second opinion.

    score(k, w) = splitmix64_finalizer(fnv1a64(k || 0x00 || w))

with the standard 64-bit FNV-1a offset basis 0xcbf29ce484222325 and prime
0x100000001b3. The owner of k among workers W is the w with the highest
score, ties to the smaller id by byte order.

Run as a program it prints REDIS.md's table of test vectors; the unit test
(tests/unit/test_placement.c) and the integration test
(tests/integration/test_placement_ref.py) check pulsed against it.
"""
import sys

M64 = (1 << 64) - 1
FNV_OFFSET = 0xcbf29ce484222325
FNV_PRIME = 0x100000001b3


def fnv1a64(data):
    h = FNV_OFFSET
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & M64
    return h


def mix(z):
    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M64
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M64
    return z ^ (z >> 31)


def score(key, wid):
    if isinstance(key, str):
        key = key.encode()
    if isinstance(wid, str):
        wid = wid.encode()
    return mix(fnv1a64(key + b"\x00" + wid))


def pick(key, wids):
    """The owner of key among wids (None when there is none)."""
    best = None
    for w in wids:
        s = score(key, w)
        if best is None or s > best[0] or (s == best[0] and w.encode() < best[1].encode()):
            best = (s, w)
    return best and best[1]


VECTORS = [("job-1", "w1"), ("job-1", "w2"), ("job-1", "w3"), ("", "a"),
           ("a-much-longer-key/with:odd chars", "node-a.7.00ff")]

if __name__ == "__main__":
    out = sys.stdout
    out.write("| key | worker | score |\n|---|---|---|\n")
    for k, w in VECTORS:
        out.write("| %s | `%s` | `0x%016x` |\n" % ("`%s`" % k if k else "(empty)", w, score(k, w)))
    out.write("\nowner of job-1 among {w1, w2, w3}: %s\n" % pick("job-1", ["w1", "w2", "w3"]))
