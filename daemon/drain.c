/*
 * drain.c: draining this pulsed (like Faktory's quiet): it takes no new
 * jobs and hands the jobs it runs to other nodes, while its workers stay
 * attached; undraining puts them back into placement.
 *
 * Owns: the DRAIN and UNDRAIN requests (admin only, P17), the daemon-wide
 * `draining` flag, and the callers waiting for the last local job to go.
 *
 * Invariants:
 *   - While draining, no local worker is in any pool's placement: each is
 *     taken out (detach.lua) when the drain begins, and one attaching
 *     later is recorded without being placed (attach.lua with place 0).
 *     Join and the waiting-set scan leave them out too (pool.c's
 *     pool_worker_placed()).
 *   - A job assigned here while draining (admitted on a view loaded
 *     before the drain) is given back at once (jobs_assign); one that
 *     could not move while Redis was away moves once the pool can reach
 *     it again (drain_resume). A drain answers OK when the last local job
 *     is gone (drain_progress, the jobs_gone hook), TIMEOUT naming how
 *     many remain at its deadline, CLOSED if undrained first.
 *   - Sessions are never closed by a drain: workers keep their LEASE.
 *   - Every waiting DRAIN is on d->drains until it answers, so that a
 *     pulsed stopping during a drain frees it (drain_free_all()).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <event2/event.h>

#include "pulsed.h"
#include "store.h"

#define DEFAULT_TIMEOUT_MS 60000

/* One DRAIN request waiting for the local jobs to leave. */
struct drain_wait {
	struct pulsed *d;
	uint64_t sid, id;
	struct event *deadline;  /* answers TIMEOUT */
	struct drain_wait *next; /* on d->drains */
};

static void wait_free(struct drain_wait *dw)
{
	struct drain_wait **pp = &dw->d->drains;
	while (*pp != dw)
		pp = &(*pp)->next;
	*pp = dw->next;
	event_free(dw->deadline);
	free(dw);
}

void drain_free_all(struct pulsed *d)
{
	while (d->drains)
		wait_free(d->drains);
}

/* Hand on every local job of every pool that is not already stopping; a
 * worker is taken out of placement first (take_out) so that what moves
 * does not come back. Called when the drain begins, and again when a pool
 * can reach Redis again (a release needs it). */
static void move_all(struct pulsed *d, int take_out)
{
	table_iter pi;
	struct tentry *pe;
	table_iter_init(&pi, &d->pools);
	while ((pe = table_next(&pi))) {
		struct pool *p = pe->val;
		if (!pool_usable(p))
			continue; /* drain_resume moves them later */
		table_iter wi;
		struct tentry *we;
		table_iter_init(&wi, &p->lworkers);
		while ((we = table_next(&wi))) {
			struct lworker *w = we->val;
			if (!w->sess || w->detaching)
				continue; /* a detach moves its jobs itself */
			/* even before attach.lua answered: detach.lua runs after
			 * it on the same connection */
			if (take_out)
				worker_leave_placement(w);
			jobs_move_worker(w);
		}
	}
}

void drain_resume(struct pulsed *d)
{
	if (d->draining)
		move_all(d, 0);
}

/* Answer one waiting drain (code 0: OK; else why, with the number of
 * jobs still here) and forget it; a caller gone meanwhile gets nothing. */
static void answer(struct drain_wait *dw, int code, const char *why)
{
	struct session *s = session_find(dw->d, dw->sid);
	if (s && code)
		session_error(s, dw->id, code, "%zu jobs %s",
		              pools_local_jobs(dw->d), why);
	else if (s)
		session_ok(s, dw->id);
	wait_free(dw);
}

void drain_progress(struct pulsed *d)
{
	if (!d->drains || pools_local_jobs(d) > 0)
		return;
	LOGI(&d->log, "drained: no job runs here");
	while (d->drains)
		answer(d->drains, 0, NULL);
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct drain_wait *dw = arg;
	answer(dw, PULSE_E_TIMEOUT, "are still running here");
}

void drain_request(struct session *s, struct pool *none, const pulse_msg *m)
{
	struct pulsed *d = s->d;
	(void)none; /* no pool: the command table checked admin and stopping */
	if (!d->draining)
		LOGI(&d->log, "draining: handing %zu jobs to other nodes; workers "
		     "stay attached (asked by uid %d)", pools_local_jobs(d),
		     (int)s->uid);
	d->draining = 1;
	move_all(d, 1);
	struct drain_wait *dw = xcalloc(1, sizeof(*dw));
	dw->d = d;
	dw->sid = s->sid;
	dw->id = m->id;
	dw->deadline = evtimer_new(d->base, deadline_cb, dw);
	dw->next = d->drains;
	d->drains = dw;
	timer_arm_ms(dw->deadline, (m->has & PM_TIMEOUT) ? m->timeout_ms
	                                                 : DEFAULT_TIMEOUT_MS);
	drain_progress(d); /* nothing to wait for */
}

void undrain_request(struct session *s, struct pool *none, const pulse_msg *m)
{
	struct pulsed *d = s->d;
	(void)none; /* no pool: the command table checked admin */
	if (d->draining)
		LOGI(&d->log, "undrained: workers are placed again (asked by uid "
		     "%d)", (int)s->uid);
	d->draining = 0;
	while (d->drains)
		answer(d->drains, PULSE_E_CLOSED, "were still here when it was "
		       "undrained");
	table_iter pi;
	struct tentry *pe;
	table_iter_init(&pi, &d->pools);
	while ((pe = table_next(&pi))) {
		struct pool *p = pe->val;
		if (p->state != POOL_ACTIVE)
			continue; /* joining: worker_pool_joined() or join.lua
			           * places them */
		table_iter wi;
		struct tentry *we;
		table_iter_init(&wi, &p->lworkers);
		while ((we = table_next(&wi))) {
			struct lworker *w = we->val;
			if (w->sess && !w->detaching)
				worker_send_attach(w);
		}
	}
	session_ok(s, m->id);
}
