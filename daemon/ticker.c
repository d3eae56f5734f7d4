/*
 * ticker.c: pool-wide clocks: tickers (P11), named periodic clocks whose
 * every tick goes to exactly one subscriber in the pool, and the clocks of
 * schedules (P12), whose every tick asks exactly one producer for a plan.
 *
 * Owns: this node's subscriptions (client sessions that sent TICKER or
 * SCHEDULE), the timer per clock, asking Redis for each due tick
 * (tick.lua), and handing a won tick to one local subscriber, round-robin:
 * a TICK frame for a ticker, a plan request (schedule.c) for a schedule.
 *
 * Invariants:
 *   - The clock lives in Redis (B tick:<name>): next tick time and number.
 *     Only nodes with a local subscriber ask for ticks, and tick.lua gives
 *     each tick to the first of them that asks once it is due, so a tick
 *     goes to one subscriber pool-wide and the cadence survives the loss
 *     of any node.
 *   - Times compared across hosts are Redis's; the local timer only
 *     decides when to ask (the pool's Redis clock offset converts).
 *   - A subscription ends with its session; Stop (TICKER_STOP) ends the
 *     ticker on every node: each subscriber gets TICKEND.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>

#include "pulsed.h"
#include "store.h"

#define MIN_INTERVAL_MS 10

struct ticker {
	struct pool *p;
	int sched;               /* a schedule's clock, not a ticker */
	char *key;               /* "tick:<name>" or "sched:<name>" */
	char *name;
	uint64_t interval, next; /* ms; next on Redis's clock */
	uint64_t *sids;          /* subscribed sessions */
	size_t nsids, cap, rr;
	struct event *timer;
	int inflight;
};

static void fire(struct ticker *t);

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	fire(arg);
}

static void arm(struct ticker *t)
{
	uint64_t now = pool_redis_now_ms(t->p);
	uint64_t ms = t->next > now ? t->next - now : 0;
	timer_arm_ms(t->timer, ms);
}

static void send_frame(struct session *s, int type, const struct ticker *t,
                       uint64_t seq, uint64_t ts)
{
	pulse_buf b = {0};
	pulse_enc e;
	pulse_enc_begin(&e, &b, (uint32_t)type, 0, type == PULSE_T_TICK ? 3 : 1);
	pulse_enc_cstr(&e, "name", t->name);
	if (type == PULSE_T_TICK) {
		pulse_enc_uint(&e, "seq", seq);
		pulse_enc_uint(&e, "ts", ts);
	}
	session_send_enc(s, &e);
}

static const char *kind(int sched)
{
	return sched ? "sched" : "tick";
}

static void ticker_free(struct ticker *t)
{
	table_del(&t->p->tickers, t->key, strlen(t->key));
	event_free(t->timer);
	free(t->sids);
	free(t->name);
	free(t->key);
	free(t);
}

/* The ticker was stopped pool-wide: tell every local subscriber. */
static void ended(struct ticker *t)
{
	for (size_t i = 0; i < t->nsids; i++) {
		struct session *s = session_find(t->p->d, t->sids[i]);
		if (s)
			send_frame(s, PULSE_T_TICKEND, t, 0, 0);
	}
	LOGI(&t->p->d->log, "pool %s: %s %s stopped", t->p->name,
	     t->sched ? "schedule" : "ticker", t->name);
	ticker_free(t);
}

/* Give a won tick to the next live subscriber. */
static void deliver(struct ticker *t, uint64_t seq, uint64_t ts)
{
	LOGD(&t->p->d->log, "pool %s: %s %s: tick %" PRIu64 " (ts %" PRIu64
	     ") won here", t->p->name, kind(t->sched), t->name, seq, ts);
	for (size_t n = 0; n < t->nsids; n++) {
		struct session *s = session_find(t->p->d, t->sids[t->rr++ % t->nsids]);
		if (s && !s->closing) {
			if (t->sched)
				schedule_ask(t->p, t->name, s);
			else
				send_frame(s, PULSE_T_TICK, t, seq, ts);
			return;
		}
	}
	LOGW(&t->p->d->log, "pool %s: tick %" PRIu64 " of %s had no subscriber "
	     "left here", t->p->name, seq, t->name);
}

/* Why a reply is kept by key: the clock may be freed while Redis
 * answers. */
struct tref {
	struct pool *p;
	char *key;
	uint64_t sid, id; /* the TICKER or SCHEDULE request to answer, if any */
};

static struct ticker *tref_take(struct tref *r)
{
	struct ticker *t = table_get(&r->p->tickers, r->key, strlen(r->key));
	free(r->key);
	free(r);
	return t;
}

static void tick_cb(struct pulsed *d, redisReply *r, void *arg)
{
	struct tref *ref = arg;
	uint64_t sid = ref->sid, id = ref->id;
	struct ticker *t = tref_take(ref);
	struct session *s = session_find(d, sid);
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
	    r->element[0]->type != REDIS_REPLY_STRING) {
		if (s && id)
			session_error(s, id, PULSE_E_UNAVAILABLE, "Redis is unreachable");
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
			ended(t);
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
		deliver(t, (uint64_t)r->element[1]->integer,
		        (uint64_t)r->element[4]->integer);
	if (t->nsids == 0)
		ticker_free(t);
	else
		arm(t);
}

static void call_tick(struct ticker *t, const char *op, uint64_t sid,
                      uint64_t id)
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
	sargs_str(&a, kind(t->sched));
	store_script(t->p->d->store, S_TICK, t->p->base, a.n, a.v, a.l, tick_cb,
	             ref);
	sargs_free(&a);
}

static void fire(struct ticker *t)
{
	if (t->inflight || t->nsids == 0)
		return;
	if (!pool_usable(t->p)) {
		t->next = pool_redis_now_ms(t->p) + t->interval;
		arm(t);
		return;
	}
	t->inflight = 1;
	call_tick(t, "fire", 0, 0);
}

static struct ticker *get(struct pool *p, int sched, const char *name,
                          uint64_t interval)
{
	char key[PULSE_MAX_POOL + 8];
	snprintf(key, sizeof(key), "%s:%s", kind(sched), name);
	struct ticker *t = table_get(&p->tickers, key, strlen(key));
	if (t)
		return t;
	t = xcalloc(1, sizeof(*t));
	t->p = p;
	t->sched = sched;
	t->key = xstrdup(key);
	t->name = xstrdup(name);
	t->interval = interval;
	t->timer = evtimer_new(p->d->base, timer_cb, t);
	table_set(&p->tickers, key, strlen(key), t);
	return t;
}

void clock_stop(struct pool *p, int sched, const char *name)
{
	call_tick(get(p, sched, name, MIN_INTERVAL_MS), "stop", 0, 0);
}

void ticker_request(struct session *s, struct pool *p, const pulse_msg *m)
{
	char name[PULSE_MAX_POOL + 1], err[160];
	int sched = m->type == PULSE_T_SCHEDULE;
	if (m->name.n > PULSE_MAX_POOL ||
	    pulse_check_pool(m->name.p, m->name.n, err, sizeof(err)) < 0) {
		session_error(s, m->id, PULSE_E_INVALID,
		              "%s name must be 1 to 128 bytes of [A-Za-z0-9._:-]",
		              sched ? "schedule" : "ticker");
		return;
	}
	memcpy(name, m->name.p, m->name.n);
	name[m->name.n] = '\0';
	if (m->type == PULSE_T_TICKER_STOP) {
		struct ticker *t = get(p, 0, name, MIN_INTERVAL_MS);
		call_tick(t, "stop", s->sid, m->id);
		return;
	}
	if (m->interval_ms < MIN_INTERVAL_MS) {
		session_error(s, m->id, PULSE_E_INVALID,
		              "interval must be at least %d ms", MIN_INTERVAL_MS);
		return;
	}
	struct ticker *t = get(p, sched, name, m->interval_ms);
	t->interval = m->interval_ms; /* the newer interval replaces the older */
	if (t->nsids == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 4;
		t->sids = xrealloc(t->sids, t->cap * sizeof(*t->sids));
	}
	t->sids[t->nsids++] = s->sid;
	s->tickers++;
	call_tick(t, "open", s->sid, m->id);
}

void ticker_stopped(struct pool *p, const char *key)
{
	struct ticker *t = table_get(&p->tickers, key, strlen(key));
	if (t)
		ended(t);
}

void ticker_session_closed(struct session *s)
{
	schedule_session_closed(s);
	table_iter pi;
	struct tentry *pe;
	table_iter_init(&pi, &s->d->pools);
	while ((pe = table_next(&pi))) {
		struct pool *p = pe->val;
		table_iter ti;
		struct tentry *te;
		table_iter_init(&ti, &p->tickers);
		while ((te = table_next(&ti))) {
			struct ticker *t = te->val;
			for (size_t i = 0; i < t->nsids;) {
				if (t->sids[i] == s->sid)
					t->sids[i] = t->sids[--t->nsids];
				else
					i++;
			}
			if (t->nsids == 0 && !t->inflight)
				ticker_free(t);
		}
	}
}

void tickers_free(struct pool *p)
{
	table_iter it;
	struct tentry *e;
	table_iter_init(&it, &p->tickers);
	while ((e = table_next(&it)))
		ticker_free(e->val);
	table_free(&p->tickers);
}

/* ---- the CLOCKS view (pulsectl tickers, schedules) ---------------------- */

struct clocks_view {
	struct pool *p;
	uint64_t sid, id;
	int sched;
};

static void clocks_cb(struct pulsed *d, redisReply *r, void *arg)
{
	struct clocks_view *v = arg;
	struct session *s = session_find(d, v->sid);
	if (!s)
		goto out;
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
	    r->element[0]->type != REDIS_REPLY_INTEGER) {
		session_error(s, v->id, PULSE_E_UNAVAILABLE, "Redis is unreachable");
		goto out;
	}
	uint64_t now = (uint64_t)r->element[0]->integer;
	size_t n = (r->elements - 1) / 6;
	pulse_buf b = {0};
	pulse_enc e;
	pulse_enc_begin(&e, &b, PULSE_T_OK, v->id, 1);
	pulse_enc_key(&e, "status");
	msgpack_pack_map(&e.pk, 1);
	pulse_enc_key(&e, v->sched ? "schedules" : "tickers");
	msgpack_pack_array(&e.pk, n);
	for (size_t i = 0; i < n; i++) {
		redisReply **f = &r->element[1 + 6 * i];
		char key[PULSE_MAX_POOL + 8];
		snprintf(key, sizeof(key), "%s:%s", kind(v->sched), f[0]->str ? f[0]->str : "");
		struct ticker *t = table_get(&v->p->tickers, key, strlen(key));
		uint64_t next = (uint64_t)f[2]->integer;
		msgpack_pack_map(&e.pk, v->sched ? 7 : 6);
		pulse_enc_str(&e, "name", f[0]->str ? f[0]->str : "", f[0]->len);
		pulse_enc_uint(&e, "interval_ms", (uint64_t)f[1]->integer);
		pulse_enc_uint(&e, "seq", (uint64_t)f[3]->integer);
		pulse_enc_uint(&e, "next_in_ms", next > now ? next - now : 0);
		pulse_enc_bool(&e, "stopped", f[4]->integer != 0);
		pulse_enc_uint(&e, v->sched ? "producers_here" : "subscribers_here",
		               t ? t->nsids : 0);
		if (v->sched)
			pulse_enc_uint(&e, "keys", (uint64_t)f[5]->integer);
	}
	session_send_enc(s, &e);
out:
	free(v);
}

void clocks_request(struct session *s, struct pool *p, const pulse_msg *m)
{
	int sched = m->role.n == 5 && memcmp(m->role.p, "sched", 5) == 0;
	if (!sched && !(m->role.n == 4 && memcmp(m->role.p, "tick", 4) == 0)) {
		session_error(s, m->id, PULSE_E_INVALID,
		              "role must be \"tick\" or \"sched\"");
		return;
	}
	struct clocks_view *v = xmalloc(sizeof(*v));
	v->p = p;
	v->sid = s->sid;
	v->id = m->id;
	v->sched = sched;
	const char *argv[1] = {kind(sched)};
	store_script(p->d->store, S_CLOCKS, p->base, 1, argv, NULL, clocks_cb, v);
}
