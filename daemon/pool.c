/*
 * pool.c: this node's membership in each pool.
 *
 * Owns: joining (and re-joining after Redis lost its data or the node was
 * fenced), the lease and its renewal, self-fencing, the view of the pool's
 * live workers, rebalancing local jobs when that view changes, and taking
 * waiting jobs whose placement names a local worker.
 *
 * Invariants:
 *   - The lease is renewed every worker_ttl/5. If no renewal has succeeded
 *     for 3/5 of the TTL (counted from the send time of the last good one,
 *     which is never later than Redis's own clock reading), the node stops
 *     every local job (self-fence) before its lease can end, whether the
 *     pool is active or re-joining with jobs still running (leased()).
 *     Others reap a node only after its lease ended plus a margin, by
 *     Redis's clock.
 *   - A fenced pool re-joins only after every local job's stop answered,
 *     so nothing runs twice.
 *   - What a self-fence stopped is kept (key and payload) until the next
 *     join, which re-queues the jobs among them that Redis lost meanwhile
 *     (join.lua): a Redis restart that outlasts the fence time then loses
 *     no running job.
 *   - The worker view is replaced whole from Redis (members.lua), never
 *     patched from messages; pub/sub only says "look again", and the lease
 *     reply's epoch catches any message that was lost.
 *   - This file is the only writer of p->state (joining, active, fenced,
 *     shut down, left); the layers above read it and hear of its changes
 *     through d->poolh (fence, joined, shut_down).
 *   - pool.c names nothing above it: what happens to local jobs (an
 *     assignment, a move, a fence) goes up through d->poolh, registered
 *     in context.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>

#include "pulsed.h"
#include "store.h"

#define CLAIM_BATCH 256
#define MOVES_MAX 64

static void lease_renew(struct pool *p);
static void pool_join(struct pool *p);
static void load_members(struct pool *p);
static void rebalance(struct pool *p);
static void sweep_orphans(struct pool *p);
static void sweep_strays(struct pool *p);
static void note_refusal(struct pool *p, const redisReply *r, const char *what);

#define STRAY_EVERY 2     /* lease ticks between two steps of the stray walk */
#define STRAY_COUNT "100" /* keys per step */

static uint64_t lease_every_ms(const struct pool *p)
{
	uint64_t t = p->opts.worker_ttl_ms / 5;
	return t ? t : 1;
}

static uint64_t fence_after_ms(const struct pool *p)
{
	return p->opts.worker_ttl_ms * 3 / 5;
}

/* Others reap a node this long after its lease ended (Redis clock). */
static uint64_t reap_margin_ms(const struct pool *p)
{
	uint64_t m = p->opts.worker_ttl_ms / 10;
	return m < 50 ? 50 : m;
}

/* Whether local jobs run under this node's lease: an active pool, or one
 * re-joining with jobs still running (after Redis lost the node, or to
 * hand back kept jobs). The lease of the last renewal bounds them until
 * the join answers, so the fence and the workers' leases keep counting
 * from it: a node cut off while it re-joins must still stop its jobs
 * before others may take them (the model's finding FIND_JOINING). */
static int leased(const struct pool *p)
{
	return p->state == POOL_ACTIVE ||
	       (p->state == POOL_JOINING && p->ljobs.n > 0);
}

int pool_usable(struct pool *p)
{
	return store_up(p->d->store) && p->state == POOL_ACTIVE;
}

/* A script found this node unregistered (Redis lost its data, or others
 * reaped the node). The lease confirms it and re-joins (lease_cb): one
 * path whoever noticed first, and no second join while one is on its way. */
void pool_lost(struct pool *p)
{
	lease_renew(p);
}

uint64_t pool_redis_now_ms(const struct pool *p)
{
	return (uint64_t)((int64_t)now_ms() + p->redis_offset_ms);
}

/* ---- the worker view ---------------------------------------------------- */

static void clear_members(struct pool *p)
{
	table_iter it;
	struct tentry *e;
	table_iter_init(&it, &p->workers);
	while ((e = table_next(&it)))
		free(e->val);
	table_free(&p->workers);
	free(p->wids);
	p->wids = NULL;
	p->nwids = 0;
}

/* Whether a local worker is in the pool's placement: attached, not
 * detaching, and this pulsed not draining (drain.c's invariant). */
int pool_worker_placed(const struct lworker *w)
{
	return w->attached && !w->detaching && !w->pool->d->draining;
}

/* What the lease tells Redis this node has in placement: the workers
 * placed, and those whose attach is on its way (Redis runs it before the
 * lease); see lease.lua. */
static int placed_for_lease(const struct lworker *w)
{
	return w->sess && (w->attached || w->attaching) && !w->detaching &&
	       !w->pool->d->draining;
}

const char *pool_owner_of(struct pool *p, const char *key, size_t klen)
{
	ssize_t i = placement_pick(key, klen, p->wids, p->nwids);
	return i < 0 ? NULL : p->wids[i];
}

static int view_has_local_workers(struct pool *p)
{
	table_iter it;
	struct tentry *e;
	table_iter_init(&it, &p->lworkers);
	while ((e = table_next(&it))) {
		struct lworker *w = e->val;
		if (pool_worker_placed(w) &&
		    !table_get(&p->workers, w->id, strlen(w->id)))
			return 0;
	}
	return 1;
}

static void members_cb(struct pulsed *d, redisReply *r, void *arg)
{
	struct pool *p = arg;
	(void)d;
	p->members_inflight = 0;
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
	    r->element[0]->type != REDIS_REPLY_INTEGER) {
		return; /* the next lease tick compares epochs and retries */
	}
	clear_members(p);
	uint64_t was = p->epoch;
	p->epoch = (uint64_t)r->element[0]->integer;
	size_t n = (r->elements - 1) / 2;
	p->wids = xcalloc(n ? n : 1, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		redisReply *w = r->element[1 + 2 * i], *nd = r->element[2 + 2 * i];
		if (w->type != REDIS_REPLY_STRING || nd->type != REDIS_REPLY_STRING) {
			LOGW(&p->d->log, "pool %s: malformed worker entry skipped",
			     p->name);
			continue;
		}
		char *old = table_set(&p->workers, w->str, w->len,
		                      xstrndup(nd->str, nd->len));
		free(old);
	}
	/* wids point at the table's key copies, stable until it is cleared */
	table_iter it;
	struct tentry *e;
	table_iter_init(&it, &p->workers);
	while ((e = table_next(&it)))
		p->wids[p->nwids++] = e->key;
	/* Once per epoch: an attach's own load and the 'm' message it causes
	 * often load the same epoch twice (members_again); the view is the
	 * same, and so would the line be. */
	if (p->epoch != was)
		LOGD(&p->d->log, "pool %s: epoch %" PRIu64 ", %zu workers", p->name,
		     p->epoch, p->nwids);
	if (p->members_again) {
		p->members_again = 0;
		load_members(p);
		return;
	}
	if (!view_has_local_workers(p)) {
		/* Our own workers are missing: Redis lost this node (flush,
		 * restart, reap). Moving jobs on such a view would hand them
		 * away; re-join first (the lease answers LOST). */
		LOGD(&p->d->log, "pool %s: view lacks local workers; checking the "
		     "lease", p->name);
		lease_renew(p);
		return;
	}
	rebalance(p);
	pool_scan_waiting(p);
}

static void load_members(struct pool *p)
{
	if (p->members_inflight) {
		p->members_again = 1;
		return;
	}
	if (!pool_usable(p))
		return;
	p->members_inflight = 1;
	store_script(p->d->store, S_MEMBERS, p->base, 0, NULL, NULL, members_cb, p);
}

void pool_membership_changed(struct pool *p)
{
	load_members(p);
}

/* Move every local job whose placement is now another worker, a few at a
 * time: each move halts the job here and releases it; the new owner's
 * node claims it from the waiting set. */
static void rebalance(struct pool *p)
{
	if (!pool_usable(p) || p->nwids == 0)
		return;
	table_iter wi;
	struct tentry *we;
	table_iter_init(&wi, &p->lworkers);
	while ((we = table_next(&wi)) && p->moves_inflight < MOVES_MAX) {
		struct lworker *w = we->val;
		if (w->detaching)
			continue;
		table_iter ji;
		struct tentry *je;
		table_iter_init(&ji, &w->jobs);
		while ((je = table_next(&ji)) && p->moves_inflight < MOVES_MAX) {
			struct job *j = je->val;
			if (!j->running || j->ops)
				continue; /* busy: looked at again when it settles */
			const char *owner = pool_owner_of(p, j->key, strlen(j->key));
			if (owner && strcmp(owner, w->id) != 0) {
				p->moves_inflight++;
				p->d->m.moves[MOVED_REBALANCE]++; /* metrics */
				p->d->poolh.move(j, MOVE_REBALANCE);
			}
		}
	}
}

static void rebalance_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	rebalance(arg);
}

/* Called by worker.c when a move finished (released or abandoned). The
 * next moves start from the event loop, never from inside the code that
 * is finishing this one. */
void pool_move_done(struct pool *p)
{
	if (p->moves_inflight > 0)
		p->moves_inflight--;
	if (p->moves_inflight == 0)
		event_active(p->rebalance_ev, EV_TIMEOUT, 0);
}

/* ---- waiting jobs ------------------------------------------------------- */

static void claim_cb(struct pulsed *d, redisReply *r, void *arg)
{
	struct pool *p = arg;
	(void)d;
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1)
		return;
	if (r->element[0]->type == REDIS_REPLY_STRING &&
	    store_reply(r) == SR_LOST) {
		pool_lost(p);
		return;
	}
	for (size_t i = 1; i + 4 <= r->elements; i += 4) {
		redisReply *k = r->element[i], *w = r->element[i + 1],
		           *f = r->element[i + 2], *pl = r->element[i + 3];
		if (k->type != REDIS_REPLY_STRING || w->type != REDIS_REPLY_STRING ||
		    f->type != REDIS_REPLY_INTEGER || pl->type != REDIS_REPLY_STRING) {
			LOGW(&p->d->log, "pool %s: malformed claim entry skipped",
			     p->name);
			continue;
		}
		p->d->poolh.assign(p, w->str, k->str, (uint64_t)f->integer,
		                   pl->str, pl->len, NULL);
	}
}

static void send_claims(struct pool *p, sargs *a)
{
	if (a->n > 1)
		store_script(p->d->store, S_CLAIM, p->base, a->n, a->v, a->l,
		             claim_cb, p);
	sargs_free(a);
	sargs_str(a, p->d->node);
}

static void scan_cb(struct pulsed *d, redisReply *r, void *arg)
{
	struct pool *p = arg;
	p->scan_inflight = 0;
	if (!r || r->type != REDIS_REPLY_ARRAY)
		return;
	uint64_t now = pool_redis_now_ms(p), next = 0;
	sargs a = {0};
	sargs_str(&a, d->node);
	p->waiting = r->elements / 2;
	for (size_t i = 0; i + 1 < r->elements; i += 2) {
		redisReply *k = r->element[i], *sc = r->element[i + 1];
		if (k->type != REDIS_REPLY_STRING || sc->type != REDIS_REPLY_STRING)
			continue;
		uint64_t at = strtoull(sc->str, NULL, 10);
		if (at > now) {
			if (!next || at < next)
				next = at;
			continue;
		}
		const char *owner = pool_owner_of(p, k->str, k->len);
		if (!owner)
			break; /* no worker anywhere */
		struct lworker *w = table_get(&p->lworkers, owner, strlen(owner));
		if (!w || !pool_worker_placed(w))
			continue;
		sargs_add(&a, k->str, k->len);
		sargs_str(&a, owner);
		if (a.n >= 1 + 2 * CLAIM_BATCH)
			send_claims(p, &a);
	}
	send_claims(p, &a);
	sargs_free(&a);
	if (next)
		timer_arm_ms(p->scan_timer, next - now + 1);
	if (p->scan_again) {
		p->scan_again = 0;
		pool_scan_waiting(p);
	}
}

void pool_scan_waiting(struct pool *p)
{
	/* a draining pulsed claims nothing (its workers are out of the view,
	 * but a view loaded before the drain may still name them) */
	if (!pool_usable(p) || p->lworkers.n == 0 || p->d->draining)
		return;
	if (p->scan_inflight) {
		p->scan_again = 1;
		return;
	}
	p->scan_inflight = 1;
	char key[512];
	snprintf(key, sizeof(key), "%swait", p->base);
	const char *argv[5] = {"ZRANGE", key, "0", "-1", "WITHSCORES"};
	store_cmd(p->d->store, 5, argv, NULL, scan_cb, p);
}

static void scan_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pool_scan_waiting(arg);
}

/* The pool was shut down pool-wide: marked here, then the layers above
 * stop the local jobs (poolh.shut_down) and report once they are gone
 * (pool_fence_done). */
void pool_shut_down(struct pool *p)
{
	if (p->state == POOL_SHUTDOWN)
		return;
	p->state = POOL_SHUTDOWN;
	p->d->poolh.shut_down(p);
}

/* An operator removed the pool's shutdown mark (REOPEN, on any node):
 * join again now rather than at the next lease tick. The state stays
 * shut down until the join answers, and pool_join waits while a stop of
 * the shutdown is unanswered. */
void pool_reopened(struct pool *p)
{
	if (p->state == POOL_SHUTDOWN)
		pool_join(p);
}

void pool_on_event(struct pool *p, const char *msg, size_t len)
{
	if (len >= 2 && msg[0] == 'm') {
		uint64_t e = strtoull(msg + 2, NULL, 10);
		if (e != p->epoch)
			load_members(p);
	} else if (len == 1 && msg[0] == 's') {
		pool_shut_down(p);
	} else if (len == 1 && msg[0] == 'o') {
		pool_reopened(p);
	} else if (len >= 1 && msg[0] == 'w') {
		pool_scan_waiting(p);
	} else if (len >= 3 && msg[0] == 't' && msg[1] == ' ') {
		char key[PULSE_MAX_POOL + 8];
		snprintf(key, sizeof(key), "%.*s", (int)(len - 2), msg + 2);
		p->d->poolh.clock_stopped(p, key);
	}
}

/* A pub/sub message: the channel is "<base>ev" of one of the pools. */
void pools_on_message(struct pulsed *d, const char *channel, size_t clen,
                      const char *msg, size_t mlen)
{
	struct pool *p = pool_of_key(d, channel, clen);
	if (p && clen == strlen(p->base) + 2)
		pool_on_event(p, msg, mlen);
}


/* ---- lease, fencing, joining -------------------------------------------- */

/* A job this node let go while Redis may not have it (a self-fence
 * stopped it, or its worker left while Redis could not be told), kept for
 * the next join (one allocation). sent: named by the join in flight. */
struct fenced_job {
	size_t plen;
	int sent;
	uint64_t since;   /* Redis time the job was given to its worker */
	uint64_t kept_ms; /* local time it was kept */
	char payload[];
};

/* Free a table whose values are single allocations. */
static void free_values(table *t)
{
	table_iter it;
	struct tentry *e;
	table_iter_init(&it, t);
	while ((e = table_next(&it)))
		free(e->val);
	table_free(t);
}

/* Keep what the fence is about to stop: if Redis lost its data while
 * this node could not reach it, these jobs exist nowhere else, and the
 * next join re-queues them. */
static void remember_fenced(struct pool *p)
{
	table_iter it;
	struct tentry *e;
	table_iter_init(&it, &p->ljobs);
	while ((e = table_next(&it))) {
		const struct job *j = e->val;
		pool_keep_job(p, j->key, j->payload, j->plen, j->since);
	}
}

void pool_keep_job(struct pool *p, const char *key, const char *payload,
                   size_t plen, uint64_t since)
{
	struct fenced_job *f = xmalloc(sizeof(*f) + plen);
	f->plen = plen;
	f->sent = 0;
	f->since = since;
	f->kept_ms = now_ms();
	if (plen)
		memcpy(f->payload, payload, plen);
	free(table_set(&p->fenced, key, strlen(key), f));
}

static void forget_fenced(struct pool *p)
{
	free_values(&p->fenced);
	table_init(&p->fenced);
}

/* After a join answered: what it named is settled; what was kept while it
 * was on its way waits for the next one (lease_cb). */
static void forget_sent(struct pool *p)
{
	table keep;
	table_init(&keep);
	table_iter it;
	struct tentry *e;
	table_iter_init(&it, &p->fenced);
	while ((e = table_next(&it))) {
		struct fenced_job *f = e->val;
		if (f->sent)
			free(f);
		else
			table_set(&keep, e->key, e->klen, f);
	}
	table_free(&p->fenced);
	p->fenced = keep;
}

/* Jobs were kept while the node was registered and active (their worker
 * left while Redis could not be told): re-join, which hands back those
 * Redis has (the join reaps this node's old records) and re-creates those
 * it lost. Rare, so the one path of a join serves it. */
static void hand_back_kept(struct pool *p)
{
	LOGW(&p->d->log, "pool %s: re-joining to hand back %zu jobs whose "
	     "workers left while Redis could not be told", p->name, p->fenced.n);
	p->state = POOL_JOINING;
	pool_join(p);
}

static void fence_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct pool *p = arg;
	if (!leased(p))
		return;
	LOGW(&p->d->log,
	     "pool %s: lease not renewed for %" PRIu64 " ms: stopping local jobs "
	     "(self-fence)", p->name, now_ms() - p->lease_sent_ms);
	p->state = POOL_FENCED;
	p->join_stale = p->join_inflight;
	p->d->m.fences++; /* metrics */
	remember_fenced(p);
	p->d->poolh.fence(p, NULL);
}

static void arm_fence(struct pool *p)
{
	uint64_t at = p->lease_sent_ms + fence_after_ms(p), now = now_ms();
	timer_arm_ms(p->fence_timer, at > now ? at - now : 0);
}

struct lease_ctx {
	struct pool *p;
	uint64_t sent_ms, sent_us;
};

/* After Redis lost this node (flush, restart, or a reap), re-join. The
 * jobs still running here are re-announced unless the node fenced them. */
static void lost(struct pool *p)
{
	LOGW(&p->d->log, "pool %s: this node is no longer registered; re-joining",
	     p->name);
	requests_data_lost(p);
	p->state = POOL_JOINING;
	pool_join(p);
}

static void lease_cb(struct pulsed *d, redisReply *r, void *arg)
{
	struct lease_ctx *c = arg;
	struct pool *p = c->p;
	p->lease_inflight = 0;
	if (r)
		note_refusal(p, r, "lease");
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING) {
		d->m.lease_failures++; /* metrics */
		free(c);
		return; /* the fence timer keeps running */
	}
	if (store_reply(r) == SR_LOST) {
		d->m.lease_failures++; /* metrics */
		free(c);
		if (p->state == POOL_ACTIVE)
			lost(p);
		return;
	}
	int ints = r->elements >= 6;
	for (size_t i = 1; ints && i < 6; i++)
		ints = r->element[i]->type == REDIS_REPLY_INTEGER;
	if (!ints) {
		LOGW(&d->log, "pool %s: malformed lease reply skipped", p->name);
		d->m.lease_failures++; /* metrics */
		free(c);
		return;
	}
	uint64_t now = now_ms();
	p->rtt_us = now_us() - c->sent_us;
	p->lease_sent_ms = c->sent_ms;
	p->lease_ok_ms = now;
	/* Redis executed the script between send and answer: take the middle */
	p->redis_offset_ms = (int64_t)r->element[1]->integer -
	                     (int64_t)(c->sent_ms + now) / 2;
	uint64_t epoch = (uint64_t)r->element[2]->integer;
	p->waiting = (uint64_t)r->element[3]->integer;
	p->jobs_pool = (uint64_t)r->element[5]->integer;
	int shut = r->elements > 6 && r->element[6]->type == REDIS_REPLY_INTEGER &&
	           r->element[6]->integer == 1;
	if (r->elements > 8 && r->element[7]->type == REDIS_REPLY_INTEGER &&
	    r->element[8]->type == REDIS_REPLY_INTEGER &&
	    (r->element[7]->integer > 0 || r->element[8]->integer > 0))
		LOGW(&d->log, "pool %s: Redis listed workers of this node that do "
		     "not match its sessions: %lld removed from placement, %lld "
		     "put back", p->name, r->element[7]->integer,
		     r->element[8]->integer);
	free(c);
	if (shut) {
		pool_shut_down(p); /* the 's' message may have been lost */
		return;
	}
	if (p->state == POOL_ACTIVE && p->fenced.n > 0) {
		hand_back_kept(p);
		return;
	}
	if (p->state == POOL_ACTIVE) {
		arm_fence(p);
		sweep_orphans(p);
		if (++p->ticks % STRAY_EVERY == 0)
			sweep_strays(p);
	}
	if (epoch != p->epoch)
		load_members(p);
	else if (p->waiting > 0)
		pool_scan_waiting(p);
}

/* ---- recovery sweeps ---------------------------------------------------- */

#define ORPHAN_COUNT "200"

static void orphans_cb(struct pulsed *d, redisReply *r, void *arg)
{
	struct pool *p = arg;
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING)
		return;
	snprintf(p->orphan_cursor, sizeof(p->orphan_cursor), "%s",
	         r->element[0]->str);
	if (r->element[1]->type == REDIS_REPLY_INTEGER && r->element[1]->integer > 0)
		LOGW(&d->log, "pool %s: %lld jobs had no live owner; they wait for "
		     "workers again", p->name, r->element[1]->integer);
}

/* One step of the pool-wide orphan sweep per lease tick: constant cost
 * per tick whatever the pool's size. */
static void sweep_orphans(struct pool *p)
{
	if (!p->orphan_cursor[0])
		strcpy(p->orphan_cursor, "0");
	const char *argv[2] = {p->orphan_cursor, ORPHAN_COUNT};
	store_script(p->d->store, S_ORPHANS, p->base, 2, argv, NULL, orphans_cb, p);
}


/* Keys Redis says our workers own but none of them runs (a release lost
 * with a Redis connection, say). The walk goes a slice per call; a key is
 * released only when the previous full walk also found it stray with the
 * same owner record, so that an assignment still on its way through the
 * inbox is never taken for one. */
static void strays_cb(struct pulsed *d, redisReply *r, void *arg)
{
	struct pool *p = arg;
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
	    r->element[0]->type != REDIS_REPLY_STRING)
		return;
	size_t n = r->elements / 2, nrel = 0;
	const char **keys = xcalloc(n ? n : 1, sizeof(*keys));
	const char **owners = xcalloc(n ? n : 1, sizeof(*owners));
	size_t nl = strlen(d->node);
	for (size_t i = 1; i + 1 < r->elements; i += 2) {
		redisReply *k = r->element[i], *o = r->element[i + 1];
		if (k->type != REDIS_REPLY_STRING || o->type != REDIS_REPLY_STRING ||
		    table_get(&p->ljobs, k->str, k->len))
			continue;
		const char *seen = table_get(&p->strays_prev, k->str, k->len);
		if (seen && strcmp(seen, o->str) == 0 && o->len > nl + 1 &&
		    strncmp(o->str, d->node, nl) == 0 && o->str[nl] == ' ') {
			keys[nrel] = k->str;
			owners[nrel++] = o->str + nl + 1;
		} else {
			free(table_set(&p->strays, k->str, k->len, xstrdup(o->str)));
		}
	}
	if (nrel)
		LOGW(&d->log, "pool %s: %zu jobs recorded as ours run on no local "
		     "worker; releasing them", p->name, nrel);
	if (nrel)
		pool_release_keys(p, keys, owners, nrel, NULL, NULL);
	free(keys);
	free(owners);
	snprintf(p->stray_cursor, sizeof(p->stray_cursor), "%s",
	         r->element[0]->str);
	if (strcmp(p->stray_cursor, "0") == 0) { /* a full walk ended */
		free_values(&p->strays_prev);
		p->strays_prev = p->strays;
		table_init(&p->strays);
	}
}

static void sweep_strays(struct pool *p)
{
	if (!p->stray_cursor[0])
		strcpy(p->stray_cursor, "0");
	const char *argv[3] = {p->d->node, p->stray_cursor, STRAY_COUNT};
	store_script(p->d->store, S_STRAYS, p->base, 3, argv, NULL, strays_cb, p);
}

static void lease_renew(struct pool *p)
{
	if (p->lease_inflight || p->state != POOL_ACTIVE ||
	    !store_up(p->d->store))
		return;
	struct lease_ctx *c = xcalloc(1, sizeof(*c));
	c->p = p;
	c->sent_ms = now_ms();
	c->sent_us = now_us();
	p->lease_inflight = 1;
	sargs a = {0};
	sargs_str(&a, p->d->node);
	sargs_str(&a, p->inc);
	sargs_u64(&a, p->opts.worker_ttl_ms);
	sargs_u64(&a, reap_margin_ms(p));
	table_iter it;
	struct tentry *e;
	table_iter_init(&it, &p->lworkers);
	while ((e = table_next(&it)))
		if (placed_for_lease(e->val))
			sargs_str(&a, ((struct lworker *)e->val)->id);
	store_script(p->d->store, S_LEASE, p->base, a.n, a.v, a.l, lease_cb, c);
	sargs_free(&a);
}

/* How long a worker may keep running its jobs without hearing from us
 * again: a little past our own fence time, so that while pulsed runs it
 * always fences first; only a pulsed that stopped running (SIGSTOP, a
 * hang) leaves the worker to stop its jobs itself. The bound stays the
 * last good lease's also once the node fenced itself, for a worker that
 * still holds a job (its stop handler answered requeue, or has not
 * answered yet): a longer one would let it run the job past the node's
 * lease, while another node starts it (SOAK_SEED=460653994). A worker
 * with no job may wait for the re-join (half a TTL, renewed). */
static uint64_t worker_lease_ms(const struct pool *p, const struct lworker *w)
{
	uint64_t slack = p->opts.worker_ttl_ms / 10;
	if (!leased(p) && w->jobs.n == 0)
		return p->opts.worker_ttl_ms / 2;
	uint64_t at = p->lease_sent_ms + fence_after_ms(p) + slack, now = now_ms();
	return at > now ? at - now : 1;
}

static void send_lease(struct pool *p, struct lworker *w)
{
	if (!w->attached || !w->sess)
		return;
	pulse_buf b = {0};
	pulse_enc e;
	pulse_enc_begin(&e, &b, PULSE_T_LEASE, 0, 1);
	pulse_enc_uint(&e, "timeout", worker_lease_ms(p, w));
	session_send_enc(w->sess, &e);
}

/* Send LEASE to one worker, or to every worker of the pool (w NULL). */
void pool_send_lease(struct pool *p, struct lworker *w)
{
	if (w) {
		send_lease(p, w);
		return;
	}
	table_iter it;
	struct tentry *e;
	table_iter_init(&it, &p->lworkers);
	while ((e = table_next(&it)))
		send_lease(p, e->val);
}

/* Hand jobs back to the waiting set: keys[i] owned by owners[i], which
 * is "<worker> <fence>" (release.lua skips any whose record changed). */
void pool_release_keys(struct pool *p, const char *const *keys,
                       const char *const *owners, size_t n, store_cb *cb,
                       void *arg)
{
	sargs a = {0};
	sargs_str(&a, p->d->node);
	sargs_u64(&a, 0);
	for (size_t i = 0; i < n; i++) {
		sargs_str(&a, keys[i]);
		sargs_str(&a, owners[i]);
	}
	store_script(p->d->store, S_RELEASE, p->base, a.n, a.v, a.l, cb, arg);
	sargs_free(&a);
}

/* Whether nothing of this node uses the pool: no worker, no job (running
 * or kept for a join), no clock, no request, no leave under way. */
static int pool_unused(const struct pool *p)
{
	return p->state == POOL_ACTIVE && p->lworkers.n == 0 && p->ljobs.n == 0 &&
	       p->fenced.n == 0 && p->tickers.n == 0 && p->nrequests == 0 &&
	       !p->leave_sid && !p->leaving && !p->left_fn;
}

static void idle_left(struct pool *p, int left)
{
	if (left)
		LOGI(&p->d->log, "pool %s: left after %" PRIu64 " ms unused here "
		     "(limits.pool_idle)", p->name, now_ms() - p->used_ms);
}

/* limits.pool_idle: a pool that nothing here used for that long is left
 * (a name used once does not keep a lease, a timer and Redis keys for
 * ever); being used again joins it again. Returns 1 when leaving. */
static int leave_if_idle(struct pool *p)
{
	uint64_t now = now_ms(), idle = p->d->cfg.pool_idle_ms;
	if (!pool_unused(p)) {
		p->used_ms = now; /* idle time counts from the end of the last use */
		return 0;
	}
	if (!idle || now - p->used_ms < idle)
		return 0;
	pool_leave(p, idle_left);
	return 1;
}

static void lease_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct pool *p = arg;
	if (p->state == POOL_LEFT)
		return; /* stopped: pool_get arms it again */
	if (p->state == POOL_ACTIVE && store_up(p->d->store) && leave_if_idle(p))
		return;
	pool_send_lease(p, NULL);
	if (p->state == POOL_ACTIVE && !store_up(p->d->store))
		p->d->m.lease_failures++; /* metrics: due while Redis is away */
	if (p->state == POOL_ACTIVE)
		lease_renew(p);
	else if (p->state != POOL_LEFT)
		pool_join(p); /* joining, fenced, or shut down until re-opened */
	timer_arm_ms(p->lease_timer, lease_every_ms(p));
}

/* The jobs that join.lua re-owned for local workers after Redis lost
 * this node: a refreshed fence, or 0 when the job is now elsewhere (or
 * was stopped) and must stop here. */
/* join.lua's answer: OK, now, epoch, empty, requeued, answered, late,
 * dropped, then (key, fence) per job. */
#define JOIN_JOBS 8

static void joined_jobs(struct pool *p, redisReply *r)
{
	for (size_t i = JOIN_JOBS; i + 1 < r->elements; i += 2) {
		redisReply *k = r->element[i], *f = r->element[i + 1];
		if (k->type != REDIS_REPLY_STRING || f->type != REDIS_REPLY_INTEGER)
			continue;
		struct job *j = table_get(&p->ljobs, k->str, k->len);
		if (!j)
			continue;
		if (f->integer == 0) {
			LOGW(&p->d->log, "pool %s: job %s now runs elsewhere or was "
			     "stopped; stopping it here", p->name, k->str);
			p->d->poolh.fence(p, j);
		} else {
			j->fence = (uint64_t)f->integer;
		}
	}
}

/* Every job local workers run, as join.lua's triples. */
static void add_local_jobs(struct pool *p, sargs *a)
{
	table_iter it;
	struct tentry *e;
	table_iter_init(&it, &p->ljobs);
	while ((e = table_next(&it))) {
		struct job *j = e->val;
		sargs_str(a, j->key);
		sargs_str(a, j->w->id);
		sargs_add(a, j->payload ? j->payload : "", j->plen);
	}
}

/* The re-join horizon (config.h). */
static uint64_t pool_horizon_ms(const struct pool *p)
{
	return pool_opts_horizon_ms(&p->opts);
}

/* Copies kept for longer than the horizon are not re-created: a stop of
 * the job answered elsewhere since may be forgotten by now (the node that
 * answered it keeps it only that long). Logged as the join's other late
 * jobs are. */
static void forget_old_fenced(struct pool *p)
{
	uint64_t now = now_ms(), h = pool_horizon_ms(p), late = 0;
	table_iter it;
	struct tentry *e;
	table_iter_init(&it, &p->fenced);
	while ((e = table_next(&it))) {
		struct fenced_job *f = e->val;
		if (now - f->kept_ms > h) {
			free(f);
			table_del(&p->fenced, e->key, e->klen);
			late++;
		}
	}
	if (late > 0)
		LOGW(&p->d->log, "pool %s: %" PRIu64 " jobs this node had stopped "
		     "when it fenced itself are gone: kept for longer than the "
		     "re-join horizon (the larger of 60 s and 30 worker TTLs), "
		     "they are not queued again", p->name, late);
}

/* What the last self-fence stopped, as join.lua's triples. */
static void add_fenced_jobs(struct pool *p, sargs *a)
{
	table_iter it;
	struct tentry *e;
	table_iter_init(&it, &p->fenced);
	while ((e = table_next(&it))) {
		struct fenced_job *f = e->val;
		f->sent = 1;
		sargs_add(a, e->key, e->klen);
		sargs_add(a, f->payload, f->plen);
		sargs_u64(a, f->since);
	}
}

/* The stops (and other answers that a job is gone) this node gave within
 * the horizon, as join.lua's pairs with their Redis times; a key this node
 * holds itself (kept, or running here) is left out: its copy is newer
 * than any answer this node gave. Returns how many were added. */
static size_t add_gone(struct pool *p, sargs *a)
{
	uint64_t now = now_ms(), rnow = pool_redis_now_ms(p), n = 0,
	         keep = pool_opts_gone_keep_ms(&p->opts);
	if (now > keep)
		gone_prune(&p->gone, now - keep);
	if (p->gone.forgotten > 0) {
		LOGW(&p->d->log, "pool %s: %" PRIu64 " answered stops were "
		     "forgotten (over %d kept): if Redis lost its data, a node "
		     "that fenced itself before them may bring their jobs back",
		     p->name, p->gone.forgotten, GONE_MAX);
		p->gone.forgotten = 0;
	}
	for (struct gone_entry *e = p->gone.head; e; e = e->next) {
		if (table_get(&p->fenced, e->key, e->klen) ||
		    table_get(&p->ljobs, e->key, e->klen))
			continue;
		sargs_add(a, e->key, e->klen);
		sargs_u64(a, rnow - (now - e->at));
		n++;
	}
	return n;
}

/* Whether the holder of the node id that join.lua named ("<boot id> <pid>
 * ..." of another process) is a process of this host that no longer
 * runs: a pulsed restarted here before its old lease ran out. */
static int holder_dead_here(const struct pulsed *d, const char *held)
{
	size_t bl = strcspn(d->holder, " ");
	if (strncmp(held, d->holder, bl) != 0 || held[bl] != ' ' ||
	    strcmp(d->holder, "-") == 0 || strncmp(held, "- ", 2) == 0)
		return 0;
	long pid = strtol(held + bl + 1, NULL, 10);
	return pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

/* join.lua refused: another live process holds this node id. Nothing of
 * the other's is touched; requests on the pool answer UNAVAILABLE naming
 * the holder (pool_refusal), and the join is tried again at each lease
 * tick, so the node joins once the other's lease ends. A holder that is
 * a dead process of this host (a restart within the old lease) is taken
 * over at once. */
static void id_taken(struct pool *p, redisReply *r)
{
	const char *held = r->elements >= 2 &&
	                   r->element[1]->type == REDIS_REPLY_STRING
	                   ? r->element[1]->str : "?";
	long long left = r->elements >= 3 &&
	                 r->element[2]->type == REDIS_REPLY_INTEGER
	                 ? r->element[2]->integer : -1;
	if (holder_dead_here(p->d, held)) {
		LOGI(&p->d->log, "pool %s: node id %s was held by a process of "
		     "this host that is gone (%s): taking it over", p->name,
		     p->d->node, held);
		p->force_join = 1;
		pool_join(p);
		return;
	}
	char msg[1200];
	snprintf(msg, sizeof(msg), "node id %s is held by another live pulsed "
	         "(boot id, pid, host, socket: %s): give each pulsed its own "
	         "node.id", p->d->node, held);
	uint64_t now = now_ms();
	/* once per holder, then every 30 s: the join is retried far more often */
	if (!p->taken_by || strcmp(p->taken_by, msg) != 0 ||
	    now - p->taken_logged_ms >= 30000) {
		LOGE(&p->d->log, "pool %s: %s; its lease ends in %lld ms unless "
		     "renewed, and this node joins then", p->name, msg, left);
		p->taken_logged_ms = now;
	}
	free(p->taken_by);
	p->taken_by = xstrdup(msg);
}

const char *pool_refusal(const struct pool *p)
{
	return p->taken_by ? p->taken_by : p->refused;
}

/* A join or lease answered: an error reply (Redis refuses the script:
 * a missing ACL right, OOM...) is remembered, so that requests and
 * attaches fail at once saying why instead of waiting for a join that
 * cannot happen; any other answer clears it. */
static void note_refusal(struct pool *p, const redisReply *r, const char *what)
{
	free(p->refused);
	p->refused = NULL;
	if (r && r->type == REDIS_REPLY_ERROR) {
		size_t n = strlen(r->str) + strlen(what) + 64;
		p->refused = xmalloc(n);
		snprintf(p->refused, n, "Redis refused this node's %s of pool %s: %s",
		         what, p->name, r->str);
	}
}

static long long reply_int(const redisReply *r, size_t i)
{
	return i < r->elements && r->element[i]->type == REDIS_REPLY_INTEGER ?
	       r->element[i]->integer : 0;
}

/* What join.lua did with the jobs this node's self-fence stopped and Redis
 * lost: queued again, or not, and why (an operator wants to know that
 * jobs were not brought back, and which rule kept them). */
static void log_fenced_outcome(struct pool *p, const redisReply *r)
{
	long long requeued = reply_int(r, 4), answered = reply_int(r, 5),
	          late = reply_int(r, 6), dropped = reply_int(r, 7);
	if (requeued > 0)
		LOGW(&p->d->log, "pool %s: Redis lost %lld jobs this node had stopped "
		     "when it fenced itself: queued again", p->name, requeued);
	if (answered > 0)
		LOGW(&p->d->log, "pool %s: %lld jobs this node had stopped when it "
		     "fenced itself and Redis lost were stopped or answered as not "
		     "found meanwhile: not queued again", p->name, answered);
	if (late > 0)
		LOGW(&p->d->log, "pool %s: %lld jobs this node had stopped when it "
		     "fenced itself and Redis lost are gone: the pool's state was "
		     "re-created too long ago to know whether a stop answered for "
		     "them (re-join horizon: the larger of 60 s and 30 worker "
		     "TTLs)", p->name, late);
	if (dropped > 0)
		LOGW(&p->d->log, "pool %s: %lld jobs another node had re-created "
		     "from its self-fence after Redis lost its data were stopped "
		     "by this node before the loss: removed again", p->name,
		     dropped);
}

static void join_cb(struct pulsed *d, redisReply *r, void *arg)
{
	struct pool *p = arg;
	(void)d;
	p->join_inflight = 0;
	if (r)
		note_refusal(p, r, "join");
	if (p->refused) {
		p->d->poolh.join_refused(p, p->refused);
		return; /* retried at the next lease tick */
	}
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
	    r->element[0]->type != REDIS_REPLY_STRING)
		return; /* retried at the next lease tick */
	if (p->join_stale) {
		/* The node fenced itself while this join was on its way: the
		 * jobs it re-owned are stopping here. Join again once their
		 * stops answered (pool_fence_done): that join reaps this
		 * incarnation, which gives the jobs back to 'wait'. */
		p->join_stale = 0;
		LOGI(&p->d->log, "pool %s: join answered after the self-fence; "
		     "joining again once the local jobs stopped", p->name);
		pool_join(p); /* waits itself while a stop is unanswered */
		return;
	}
	if (store_reply(r) == SR_SHUTDOWN) {
		if (p->state != POOL_SHUTDOWN)
			LOGI(&p->d->log, "pool %s is shut down", p->name);
		p->state = POOL_SHUTDOWN;
		forget_fenced(p);
		return;
	}
	if (store_reply(r) == SR_TAKEN) {
		id_taken(p, r);
		return;
	}
	if (r->elements < JOIN_JOBS)
		return;
	if (p->taken_by)
		LOGI(&p->d->log, "pool %s: node id %s is free again", p->name,
		     p->d->node);
	free(p->taken_by);
	p->taken_by = NULL;
	p->force_join = 0;
	uint64_t now = now_ms();
	if (p->joined_ms && r->element[3]->type == REDIS_REPLY_INTEGER &&
	    r->element[3]->integer == 1)
		LOGW(&p->d->log, "pool %s: Redis lost the pool's state (restarted "
		     "empty or flushed): jobs running here are re-announced; jobs "
		     "that were waiting for a worker or moving are lost", p->name);
	p->state = POOL_ACTIVE;
	p->lease_sent_ms = p->lease_ok_ms = now;
	p->redis_offset_ms = (int64_t)r->element[1]->integer - (int64_t)now;
	p->joined_ms = now;
	strcpy(p->inbox_last, "0");
	arm_fence(p);
	LOGI(&p->d->log, "pool %s: joined as node %s", p->name, p->d->node);
	if (r->elements > JOIN_JOBS)
		LOGI(&p->d->log, "pool %s: re-announced %zu running jobs", p->name,
		     (r->elements - JOIN_JOBS) / 2);
	log_fenced_outcome(p, r);
	forget_sent(p);
	joined_jobs(p, r);
	inbox_restart(p->d);
	p->d->poolh.joined(p);
	load_members(p);
	p->d->poolh.jobs_gone(p, NULL); /* a LEAVE that a self-fence interrupted */
}

static void pool_join(struct pool *p)
{
	if (p->join_inflight || !store_up(p->d->store))
		return;
	if ((p->state == POOL_FENCED || p->state == POOL_SHUTDOWN) &&
	    p->ljobs.n > 0)
		return; /* wait until every stopped job's handler answered */
	snprintf(p->inc, sizeof(p->inc), "%016llx",
	         (unsigned long long)((uint64_t)random() << 32 ^ (uint64_t)random() ^ now_us()));
	p->join_inflight = 1;
	p->join_stale = 0;
	sargs a = {0};
	sargs_str(&a, p->d->node);
	sargs_str(&a, p->inc);
	sargs_u64(&a, p->opts.worker_ttl_ms);
	sargs_str(&a, p->joined_ms ? "1" : "0"); /* rejoin: see join.lua */
	sargs_str(&a, p->d->holder);
	sargs_str(&a, p->force_join ? "1" : "0");
	sargs_u64(&a, pool_horizon_ms(p));
	size_t nw = 0;
	table_iter it;
	struct tentry *e;
	table_iter_init(&it, &p->lworkers);
	while ((e = table_next(&it))) {
		struct lworker *w = e->val;
		nw += pool_worker_placed(w);
	}
	forget_old_fenced(p);
	sargs g = {0}; /* the answered stops: named on a re-join only */
	size_t ns = p->joined_ms ? add_gone(p, &g) : 0;
	sargs_u64(&a, nw);
	sargs_u64(&a, p->fenced.n);
	sargs_u64(&a, ns);
	table_iter_init(&it, &p->lworkers);
	while ((e = table_next(&it))) {
		struct lworker *w = e->val;
		if (pool_worker_placed(w))
			sargs_str(&a, w->id);
	}
	add_fenced_jobs(p, &a);
	for (int i = 0; i < g.n; i++)
		sargs_add(&a, g.v[i], g.l[i]);
	add_local_jobs(p, &a);
	store_script(p->d->store, S_JOIN, p->base, a.n, a.v, a.l, join_cb, p);
	sargs_free(&a);
	sargs_free(&g);
}

/* Called by worker.c when the last fenced job's stop answered. */
void pool_fence_done(struct pool *p)
{
	if (p->ljobs.n > 0)
		return;
	if (p->state == POOL_FENCED)
		pool_join(p);
	else if (p->state == POOL_SHUTDOWN)
		p->d->poolh.shut_done(p);
}

void pool_start(struct pool *p)
{
	if (!store_up(p->d->store))
		return;
	store_subscribe(p->d->store, p->channel);
	if (p->state == POOL_ACTIVE)
		lease_renew(p); /* LOST there means re-join and re-announce */
	else
		pool_join(p);
}

void pools_redis_up(struct pulsed *d)
{
	table_iter it;
	struct tentry *e;
	table_iter_init(&it, &d->pools);
	while ((e = table_next(&it)))
		pool_start(e->val);
}

size_t pools_local_jobs(struct pulsed *d)
{
	size_t n = 0;
	table_iter it;
	struct tentry *e;
	table_iter_init(&it, &d->pools);
	while ((e = table_next(&it)))
		n += ((struct pool *)e->val)->ljobs.n;
	return n;
}

void pools_redis_down(struct pulsed *d)
{
	table_iter it;
	struct tentry *e;
	table_iter_init(&it, &d->pools);
	while ((e = table_next(&it))) {
		struct pool *p = e->val;
		p->lease_inflight = p->join_inflight = 0;
		p->members_inflight = p->scan_inflight = 0;
	}
	/* Requests waiting on another node's answer may never get it. */
	requests_fail_all(d, PULSE_E_UNAVAILABLE, "Redis connection lost");
}

void pool_base(const struct pulsed *d, const char *name, char *buf,
               size_t len)
{
	snprintf(buf, len, "%s:{%s}:", d->cfg.key_prefix, name);
}

struct pool *pool_get(struct pulsed *d, const char *name, int create,
                      int *code, char *err, size_t errlen)
{
	size_t n = strlen(name);
	struct pool *p = table_get(&d->pools, name, n);
	if (create && (!p || p->state == POOL_LEFT) &&
	    d->pools_joined >= d->cfg.max_pools) {
		*code = PULSE_E_BUSY;
		snprintf(err, errlen, "this pulsed is in %zu pools already, its "
		         "limits.max_pools: pool %s not joined", d->pools_joined, name);
		LOGW(&d->log, "pool %s: not joined: %s", name, err);
		return NULL;
	}
	if (p && create && p->state == POOL_LEFT) {
		p->state = POOL_JOINING; /* used again after a leave: join anew */
		d->pools_joined++;
		timer_arm_ms(p->lease_timer, lease_every_ms(p));
		pool_join(p);
	}
	if (p && create)
		p->used_ms = now_ms();
	if (p || !create) {
		if (!p) {
			*code = PULSE_E_INVALID;
			snprintf(err, errlen, "unknown pool %s", name);
		}
		return p;
	}
	if (pulse_check_pool(name, n, err, errlen) < 0) {
		*code = PULSE_E_INVALID;
		return NULL;
	}
	const pool_opts *o = config_pool(&d->cfg, name);
	if (!o) {
		*code = PULSE_E_INVALID;
		snprintf(err, errlen, "unknown pool %s (not in the configuration)",
		         name);
		return NULL;
	}
	p = xcalloc(1, sizeof(*p));
	p->d = d;
	p->name = xstrdup(name);
	p->opts = *o;
	size_t bl = strlen(d->cfg.key_prefix) + n + 5;
	p->base = xmalloc(bl);
	p->channel = xmalloc(bl + 2);
	pool_base(d, name, p->base, bl);
	snprintf(p->channel, bl + 2, "%sev", p->base);
	table_init(&p->workers);
	table_init(&p->lworkers);
	table_init(&p->ljobs);
	table_init(&p->strays);
	table_init(&p->strays_prev);
	table_init(&p->fenced);
	gone_init(&p->gone);
	table_init(&p->tickers);
	p->state = POOL_JOINING;
	p->lease_timer = evtimer_new(d->base, lease_timer_cb, p);
	p->fence_timer = evtimer_new(d->base, fence_cb, p);
	p->scan_timer = evtimer_new(d->base, scan_timer_cb, p);
	p->rebalance_ev = evtimer_new(d->base, rebalance_cb, p);
	timer_arm_ms(p->lease_timer, lease_every_ms(p));
	table_set(&d->pools, name, n, p);
	d->pools_joined++;
	p->used_ms = now_ms();
	LOGI(&d->log, "pool %s: worker_ttl %" PRIu64 " ms, max queued %" PRIu64,
	     name, p->opts.worker_ttl_ms, p->opts.max_queued_jobs);
	pool_start(p);
	return p;
}

void pool_free(struct pool *p)
{
	if (p->state != POOL_LEFT)
		p->d->pools_joined--;
	p->d->poolh.freeing(p); /* the layers above: workers, clocks */
	table_free(&p->lworkers);
	table_free(&p->ljobs);
	free_values(&p->strays);
	free_values(&p->strays_prev);
	free_values(&p->fenced);
	gone_free(&p->gone);
	clear_members(p);
	event_free(p->lease_timer);
	event_free(p->fence_timer);
	event_free(p->scan_timer);
	event_free(p->rebalance_ev);
	free(p->name);
	free(p->base);
	free(p->taken_by);
	free(p->refused);
	free(p->channel);
	free(p);
}

/* ---- leaving ------------------------------------------------------------ */

static void leave_cb(struct pulsed *d, redisReply *r, void *arg)
{
	struct pool *p = arg;
	(void)d;
	(void)r;
	pool_left_fn *done = p->left_fn;
	p->left_fn = NULL;
	p->state = POOL_LEFT;
	p->d->pools_joined--;
	/* nothing of the pool is kept here: the lease timer stops (pool_get
	 * arms it again if the pool is used again), the view goes, and a next
	 * join is a first one (this node holds no job of it: join.lua's
	 * rejoin is for a node that may hold some) */
	evtimer_del(p->lease_timer);
	evtimer_del(p->fence_timer);
	clear_members(p);
	p->joined_ms = 0;
	if (done)
		done(p, 1);
}

/* The node leaves the pool once its workers' jobs were stopped and
 * released (worker.c does that first). */
void pool_leave(struct pool *p, pool_left_fn *done)
{
	if (p->state != POOL_ACTIVE || !store_up(p->d->store)) {
		done(p, 0);
		return;
	}
	p->left_fn = done;
	const char *argv[2] = {p->d->node, p->inc};
	store_script(p->d->store, S_LEAVE, p->base, 2, argv, NULL, leave_cb, p);
}
