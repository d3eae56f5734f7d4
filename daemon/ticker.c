/*
 * ticker.c: tickers (P11), named periodic clocks whose every tick goes to
 * exactly one subscriber in the pool, and the subscriptions of schedules
 * (P12), whose every tick asks exactly one producer for a plan.
 *
 * Owns: this node's subscriptions (client sessions that sent TICKER or
 * SCHEDULE) on the pool-wide clocks of clock.c, handing a won tick to one
 * local subscriber, round-robin (a TICK frame for a ticker, a plan
 * request, schedule.c, for a schedule), TICKER_STOP, and TICKEND to every
 * subscriber of a clock stopped pool-wide.
 *
 * Invariants:
 *   - A subscription ends with its session; Stop (TICKER_STOP) ends the
 *     ticker on every node: each subscriber gets TICKEND.
 *   - A tick won here goes to one live subscriber, or is logged as lost
 *     when none is left.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>

#include "pulsed.h"

static void send_frame(struct session *s, int type, const struct clock *t,
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

/* The clock was stopped pool-wide: tell every local subscriber (clock.c
 * then frees it). */
static void ended(struct clock *t)
{
	for (size_t i = 0; i < t->nsids; i++) {
		struct session *s = session_find(t->p->d, t->sids[i]);
		if (s)
			send_frame(s, PULSE_T_TICKEND, t, 0, 0);
	}
}

/* Give a won tick to the next live subscriber. */
static void deliver(struct clock *t, uint64_t seq, uint64_t ts)
{
	LOGD(&t->p->d->log, "pool %s: %s %s: tick %" PRIu64 " (ts %" PRIu64
	     ") won here", t->p->name, clock_kind(t->sched), t->name, seq, ts);
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

static const struct clock_ops ops = {deliver, ended};

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
		struct clock *t = clock_get(p, 0, name, CLOCK_MIN_INTERVAL_MS, &ops);
		clock_call(t, "stop", s->sid, m->id);
		return;
	}
	if (m->interval_ms < CLOCK_MIN_INTERVAL_MS) {
		session_error(s, m->id, PULSE_E_INVALID,
		              "interval must be at least %d ms", CLOCK_MIN_INTERVAL_MS);
		return;
	}
	struct clock *t = clock_get(p, sched, name, m->interval_ms, &ops);
	t->interval = m->interval_ms; /* the newer interval replaces the older */
	if (t->nsids == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 4;
		t->sids = xrealloc(t->sids, t->cap * sizeof(*t->sids));
	}
	t->sids[t->nsids++] = s->sid;
	s->tickers++;
	clock_call(t, "open", s->sid, m->id);
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
			struct clock *t = te->val;
			for (size_t i = 0; i < t->nsids;) {
				if (t->sids[i] == s->sid)
					t->sids[i] = t->sids[--t->nsids];
				else
					i++;
			}
			if (t->nsids == 0 && !t->inflight)
				clock_free(t);
		}
	}
}

