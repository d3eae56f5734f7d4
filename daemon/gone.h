/*
 * gone.h: the keys a node answered as gone, for a horizon.
 *
 * A stop answered OK or JOB_NOT_FOUND, a dispatch whose first start
 * failed: each tells its caller that the job does not exist. Redis keeps a
 * tombstone of such an answer only while it keeps its data; if it loses
 * it, a node that fenced itself before the answer (and holds a copy of the
 * job) could bring the job back. So each node keeps its own answers for
 * the horizon and names them when it re-joins (pool.c, join.lua).
 *
 * Invariants:
 *   - Entries are in the order they were noted (times never decrease), so
 *     pruning takes from the head.
 *   - At most `cap` entries: past it the oldest go and `forgotten` counts
 *     them (the caller says so in its log).
 */
#ifndef PULSED_GONE_H
#define PULSED_GONE_H

#include <stddef.h>
#include <stdint.h>

struct gone_entry {
	struct gone_entry *next;
	uint64_t at;     /* local now_ms() of the answer */
	size_t klen;
	char key[];
};

struct gone_log {
	struct gone_entry *head, **tail;
	size_t n;
	uint64_t forgotten; /* dropped by the cap since the caller last looked */
};

/* The most answers one pool keeps (some 100 bytes each): 100,000 stops
 * within the horizon, 5 minutes by default, is over 300 a second. */
#define GONE_MAX 100000

void gone_init(struct gone_log *g);
/* Note that key was answered as gone at local time at; forgets what is
 * older than at - keep_ms, and the oldest past cap. */
void gone_note(struct gone_log *g, const char *key, size_t klen, uint64_t at,
               uint64_t keep_ms, size_t cap);
/* Forget what was answered before `before` (local ms). */
void gone_prune(struct gone_log *g, uint64_t before);
void gone_free(struct gone_log *g);

#endif
