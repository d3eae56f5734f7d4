/*
 * clock.c: pool-wide clocks, under tickers (P11) and schedules (P12).
 *
 * Owns: the clocks this node keeps (p->tickers: one per ticker or
 * schedule with a local subscriber, or being stopped), the timer of each,
 * asking Redis for each due tick (tick.lua: open, fire, stop), the CLOCKS
 * view, and ending a clock stopped pool-wide. What a won tick or an end
 * means is the creator's (struct clock_ops: ticker.c's TICK and TICKEND
 * frames, or a plan request for a schedule): this file names nothing
 * above it.
 *
 * Invariants:
 *   - The clock lives in Redis (B tick:<name>, B sched:<name>): next tick
 *     time and number. Only nodes with a local subscriber ask for ticks,
 *     and tick.lua gives each tick to the first of them that asks once it
 *     is due, so a tick goes to one subscriber pool-wide and the cadence
 *     survives the loss of any node.
 *   - Times compared across hosts are Redis's; the local timer only
 *     decides when to ask (the pool's Redis clock offset converts).
 *   - A clock with no subscriber left and no call in flight is freed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>

#include "listout.h"
#include "pulsed.h"
#include "store.h"

/* A clock made only to stop it (clock_stop): no subscriber to tell. */
static void no_won(struct clock *t, uint64_t seq, uint64_t ts)
{
	(void)t;
	(void)seq;
	(void)ts;
}

static void no_ended(struct clock *t)
{
	(void)t;
}

static const struct clock_ops no_ops = {no_won, no_ended};

const char *clock_kind(int sched)
{
	return sched ? "sched" : "tick";
}

void clock_free(struct clock *t)
{
	table_del(&t->p->tickers, t->key, strlen(t->key));
	event_free(t->timer);
	free(t->sids);
	free(t->name);
	free(t->key);
	free(t);
}

/* Stopped pool-wide: the creator tells its subscribers, then it goes. */
static void end(struct clock *t)
{
	t->ops->ended(t);
	LOGI(&t->p->d->log, "pool %s: %s %s stopped", t->p->name,
	     t->sched ? "schedule" : "ticker", t->name);
	clock_free(t);
}

static void fire(struct clock *t);

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	fire(arg);
}

static void arm(struct clock *t)
{
	uint64_t now = pool_redis_now_ms(t->p);
	uint64_t ms = t->next > now ? t->next - now : 0;
	timer_arm_ms(t->timer, ms);
}

/* Why a reply is kept by key: the clock may be freed while Redis
 * answers. */
struct tref {
	struct pool *p;
	char *key;
	uint64_t sid, id; /* the TICKER or SCHEDULE request to answer, if any */
};

static struct clock *tref_take(struct tref *r)
{
	struct clock *t = table_get(&r->p->tickers, r->key, strlen(r->key));
	free(r->key);
	free(r);
	return t;
}

static void tick_cb(struct pulsed *d, redisReply *r, void *arg)
{
	struct tref *ref = arg;
	uint64_t sid = ref->sid, id = ref->id;
	struct clock *t = tref_take(ref);
	struct session *s = session_find(d, sid);
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
	    r->element[0]->type != REDIS_REPLY_STRING) {
		if (s && id)
			session_error(s, id, PULSE_E_UNAVAILABLE, "%s",
			              store_failure(d->store, r));
		if (t) {
			t->inflight = 0;
			t->next = pool_redis_now_ms(t->p) + t->interval;
			arm(t); /* try again one interval later */
		}
		return;
	}
	if (store_reply(r) == SR_STOPPED) {
		if (s && id)
			session_ok(s, id);
		if (t)
			end(t);
		return;
	}
	if (s && id)
		session_ok(s, id);
	if (!t || r->elements < 5)
		return;
	t->inflight = 0;
	t->next = (uint64_t)r->element[2]->integer;
	t->interval = (uint64_t)r->element[3]->integer;
	if (store_reply(r) == SR_WON)
		t->ops->won(t, (uint64_t)r->element[1]->integer,
		           (uint64_t)r->element[4]->integer);
	if (t->nsids == 0)
		clock_free(t);
	else
		arm(t);
}

void clock_call(struct clock *t, const char *op, uint64_t sid, uint64_t id)
{
	struct tref *ref = xmalloc(sizeof(*ref));
	ref->p = t->p;
	ref->key = xstrdup(t->key);
	ref->sid = sid;
	ref->id = id;
	sargs a = {0};
	sargs_str(&a, op);
	sargs_str(&a, t->name);
	sargs_u64(&a, t->interval);
	sargs_str(&a, clock_kind(t->sched));
	store_script(t->p->d->store, S_TICK, t->p->base, a.n, a.v, a.l, tick_cb,
	             ref);
	sargs_free(&a);
}

static void fire(struct clock *t)
{
	if (t->inflight || t->nsids == 0)
		return;
	if (!pool_usable(t->p)) {
		t->next = pool_redis_now_ms(t->p) + t->interval;
		arm(t);
		return;
	}
	t->inflight = 1;
	clock_call(t, "fire", 0, 0);
}

struct clock *clock_get(struct pool *p, int sched, const char *name,
                        uint64_t interval, const struct clock_ops *ops)
{
	char key[PULSE_MAX_POOL + 8];
	snprintf(key, sizeof(key), "%s:%s", clock_kind(sched), name);
	struct clock *t = table_get(&p->tickers, key, strlen(key));
	if (t)
		return t;
	t = xcalloc(1, sizeof(*t));
	t->p = p;
	t->sched = sched;
	t->key = xstrdup(key);
	t->name = xstrdup(name);
	t->interval = interval;
	t->ops = ops ? ops : &no_ops;
	t->timer = evtimer_new(p->d->base, timer_cb, t);
	table_set(&p->tickers, key, strlen(key), t);
	return t;
}

void clock_stop(struct pool *p, int sched, const char *name)
{
	clock_call(clock_get(p, sched, name, CLOCK_MIN_INTERVAL_MS, NULL), "stop", 0,
	           0);
}

void clock_stopped(struct pool *p, const char *key)
{
	struct clock *t = table_get(&p->tickers, key, strlen(key));
	if (t)
		end(t);
}

void clocks_free(struct pool *p)
{
	table_iter it;
	struct tentry *e;
	table_iter_init(&it, &p->tickers);
	while ((e = table_next(&it)))
		clock_free(e->val);
	table_free(&p->tickers);
}

/* ---- the CLOCKS view (pulsectl tickers, schedules) ---------------------- */

/* One CLOCKS answer, read in pages (clocks.lua) and streamed on through
 * listout, so it holds one page and one frame whatever the pool's count
 * of clocks. */
struct clocks_view {
	char *pool; /* found again by name: NULL-safe for a pool not joined */
	char *base; /* the pool's key prefix */
	uint64_t sid;
	int sched;
	char cursor[24]; /* clocks.lua's (SSCAN's) next page */
	struct listout out;
};

static void clocks_view_free(void *arg)
{
	struct clocks_view *v = arg;
	listout_free(&v->out);
	free(v->pool);
	free(v->base);
	free(v);
}

static void clocks_page(struct pulsed *d, void *arg);

/* One clock's map of the answer, from clocks.lua's six fields. */
static int clock_item(struct clocks_view *v, struct session *s,
                      struct pool *p, redisReply **f, uint64_t now)
{
	char key[PULSE_MAX_POOL + 8];
	snprintf(key, sizeof(key), "%s:%s", clock_kind(v->sched),
	         f[0]->str ? f[0]->str : "");
	struct clock *t = p ? table_get(&p->tickers, key, strlen(key)) : NULL;
	uint64_t next = (uint64_t)f[2]->integer;
	pulse_enc *e = listout_item(&v->out);
	msgpack_pack_map(&e->pk, v->sched ? 7 : 6);
	pulse_enc_str(e, "name", f[0]->str ? f[0]->str : "", f[0]->len);
	pulse_enc_uint(e, "interval_ms", (uint64_t)f[1]->integer);
	pulse_enc_uint(e, "seq", (uint64_t)f[3]->integer);
	pulse_enc_uint(e, "next_in_ms", next > now ? next - now : 0);
	pulse_enc_bool(e, "stopped", f[4]->integer != 0);
	pulse_enc_uint(e, v->sched ? "producers_here" : "subscribers_here",
	               t ? t->nsids : 0);
	if (v->sched)
		pulse_enc_uint(e, "keys", (uint64_t)f[5]->integer);
	return listout_item_done(&v->out, s);
}

/* A page: {now, cursor, name, interval, next, seq, stopped, keys, ...}. */
static void clocks_cb(struct pulsed *d, redisReply *r, void *arg)
{
	struct clocks_view *v = arg;
	struct session *s = session_find(d, v->sid);
	if (!s)
		goto out;
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
	    (r->elements - 2) % 6 != 0 ||
	    r->element[0]->type != REDIS_REPLY_INTEGER ||
	    r->element[1]->type != REDIS_REPLY_STRING ||
	    r->element[1]->len >= sizeof(v->cursor)) {
		listout_fail(&v->out, s, PULSE_E_UNAVAILABLE,
		             store_failure(d->store, r));
		goto out;
	}
	uint64_t now = (uint64_t)r->element[0]->integer;
	struct pool *p = table_get(&d->pools, v->pool, strlen(v->pool));
	for (size_t i = 2; i + 6 <= r->elements; i += 6)
		if (clock_item(v, s, p, &r->element[i], now) < 0)
			goto out;
	memcpy(v->cursor, r->element[1]->str, r->element[1]->len + 1);
	if (strcmp(v->cursor, "0") == 0) {
		listout_end(&v->out, s, 0);
		goto out;
	}
	listout_page_done(&v->out, s, clocks_page, clocks_view_free, v);
	return;
out:
	clocks_view_free(v);
}

static void clocks_page(struct pulsed *d, void *arg)
{
	struct clocks_view *v = arg;
	const char *argv[2] = {clock_kind(v->sched), v->cursor};
	store_script(d->store, S_CLOCKS, v->base, 2, argv, NULL, clocks_cb, v);
}

void clocks_request(struct session *s, struct pool *p, const pulse_msg *m)
{
	int sched = m->role.n == 5 && memcmp(m->role.p, "sched", 5) == 0;
	if (!sched && !(m->role.n == 4 && memcmp(m->role.p, "tick", 4) == 0)) {
		session_error(s, m->id, PULSE_E_INVALID,
		              "role must be \"tick\" or \"sched\"");
		return;
	}
	/* p is NULL for a pool this node has not joined (CF_NOJOIN): read by
	 * name, none of its clocks kept here */
	(void)p;
	struct clocks_view *v = xcalloc(1, sizeof(*v));
	char base[PULSE_MAX_POOL + 600];
	v->pool = xstrndup(m->pool.p, m->pool.n);
	v->sid = s->sid;
	v->sched = sched;
	snprintf(v->cursor, sizeof(v->cursor), "0");
	pool_base(s->d, v->pool, base, sizeof(base));
	v->base = xstrdup(base);
	listout_begin(&v->out, s, m->id, "status", sched ? "schedules" : "tickers");
	clocks_page(s->d, v);
}
