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
 *     Join and the waiting-set scan leave them out too (worker.c's
 *     worker_in_placement()).
 *   - A job that still lands here (admitted on a view loaded before the
 *     drain) is handed on by the next poll: a drain answers OK only when
 *     no pool has a local job left, or TIMEOUT naming how many remain.
 *   - Sessions are never closed by a drain: workers keep their LEASE.
 *   - Every waiting DRAIN is on d->drains until it answers, so that a
 *     pulsed stopping during a drain frees it (drain_free_all()).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <event2/event.h>

#include "pulsed.h"
#include "store.h"

#define POLL_MS 50
#define DEFAULT_TIMEOUT_MS 60000

/* One DRAIN request waiting for the local jobs to leave. */
struct drain_wait {
	struct pulsed *d;
	uint64_t sid, id;
	uint64_t deadline_ms;   /* now_ms() after which it answers TIMEOUT */
	struct event *poll;
	struct drain_wait *next; /* on d->drains */
};

static void wait_free(struct drain_wait *dw)
{
	struct drain_wait **pp = &dw->d->drains;
	while (*pp != dw)
		pp = &(*pp)->next;
	*pp = dw->next;
	event_free(dw->poll);
	free(dw);
}

void drain_free_all(struct pulsed *d)
{
	while (d->drains)
		wait_free(d->drains);
}

/* Hand on every local job of every pool that is not already stopping; a
 * worker is taken out of placement first (take_out) so that what moves
 * does not come back. Called at the start and at each poll, which catches
 * jobs started here from a view older than the drain. */
static void move_all(struct pulsed *d, int take_out)
{
	table_iter pi;
	struct tentry *pe;
	table_iter_init(&pi, &d->pools);
	while ((pe = table_next(&pi))) {
		struct pool *p = pe->val;
		if (!pool_usable(p))
			continue; /* a release needs Redis: the next poll retries */
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
			worker_move_jobs(w);
		}
	}
}

/* Answer the drain once nothing runs here, or at its deadline; an
 * undrain in between ends the wait too (nothing is draining any more). */
static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct drain_wait *dw = arg;
	struct pulsed *d = dw->d;
	struct session *s = session_find(d, dw->sid);
	size_t left = pools_local_jobs(d);
	if (!s) {
		wait_free(dw);
		return;
	}
	if (!d->draining) {
		session_error(s, dw->id, PULSE_E_CLOSED,
		              "undrained while %zu jobs were still here", left);
	} else if (left == 0) {
		LOGI(&d->log, "drained: no job runs here");
		session_ok(s, dw->id);
	} else if (now_ms() >= dw->deadline_ms) {
		session_error(s, dw->id, PULSE_E_TIMEOUT,
		              "%zu jobs are still running here", left);
	} else {
		move_all(d, 0);
		timer_arm_ms(dw->poll, POLL_MS);
		return;
	}
	wait_free(dw);
}

void drain_request(struct session *s, struct pool *none, const pulse_msg *m)
{
	struct pulsed *d = s->d;
	(void)none; /* no pool: the command table checked admin and stopping */
	if (!d->draining)
		LOGI(&d->log, "draining: handing %zu jobs to other nodes; workers "
		     "stay attached", pools_local_jobs(d));
	d->draining = 1;
	move_all(d, 1);
	struct drain_wait *dw = xcalloc(1, sizeof(*dw));
	dw->d = d;
	dw->sid = s->sid;
	dw->id = m->id;
	dw->deadline_ms = now_ms() + ((m->has & PM_TIMEOUT) ? m->timeout_ms
	                                                   : DEFAULT_TIMEOUT_MS);
	dw->poll = evtimer_new(d->base, poll_cb, dw);
	dw->next = d->drains;
	d->drains = dw;
	timer_arm_ms(dw->poll, 0);
}

void undrain_request(struct session *s, struct pool *none, const pulse_msg *m)
{
	struct pulsed *d = s->d;
	(void)none; /* no pool: the command table checked admin */
	if (d->draining)
		LOGI(&d->log, "undrained: workers are placed again");
	d->draining = 0;
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
