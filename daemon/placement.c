/*
 * placement.c: which worker owns a key (P5), by rendezvous hashing.
 *
 * The owner of key k among live workers W is the w in W with the highest
 * score(k, w); ties (never seen in practice) go to the smaller id by
 * byte order. score(k, w) = mix(fnv1a64(k || 0x00 || w)), where mix is the
 * splitmix64 finalizer. Every node computes the same owner from the same
 * worker set, with no state kept between calls.
 *
 * Why rendezvous: when a worker joins, exactly the keys whose new top
 * score is the newcomer's move (about 1/(n+1) of them, all to it); when
 * one leaves, only its keys move. Jump hash over a creation-ordered list
 * moves far more on a leave. The function and test vectors are in
 * daemon/REDIS.md; tests/unit/test_placement.c checks both properties.
 */
#include <string.h>

#include "pulsed.h"

static uint64_t mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t placement_score(const char *key, size_t klen, const char *wid)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a 64 offset basis */
	for (size_t i = 0; i < klen; i++) {
		h ^= (unsigned char)key[i];
		h *= 1099511628211ull;
	}
	h *= 1099511628211ull; /* the 0x00 separator: h ^= 0 is a no-op */
	for (const unsigned char *p = (const unsigned char *)wid; *p; p++) {
		h ^= *p;
		h *= 1099511628211ull;
	}
	return mix(h);
}

ssize_t placement_pick(const char *key, size_t klen, char *const *wids,
                       size_t n)
{
	ssize_t best = -1;
	uint64_t bs = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t s = placement_score(key, klen, wids[i]);
		if (best < 0 || s > bs ||
		    (s == bs && strcmp(wids[i], wids[best]) < 0)) {
			best = (ssize_t)i;
			bs = s;
		}
	}
	return best;
}
