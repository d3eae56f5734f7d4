/*
 * context.c: building and tearing down the daemon's one context struct.
 *
 * Owns: the order in which struct pulsed's parts are created and freed,
 * and the one place where the I/O layers' hooks are registered (server.c
 * and store.c name nothing above them: their news goes up through
 * d->peer and d->storeh).
 * main() and the session fuzzer (tests/fuzz/fuzz_session.c) both use it,
 * so a part added to the context is freed in one place for both.
 *
 * Invariants:
 *   - context_init() leaves every table empty, an event base and a store
 *     that has not connected; what it cannot create is reported, and
 *     context_free() may still be called on it.
 *   - context_free() frees sessions before pools (a session's worker
 *     points into its pool), answers every request still waiting with
 *     CLOSED, and frees the event base last (the parts' events live in it).
 */
#include <stdlib.h>

#include "listout.h"
#include "pulsed.h"
#include "store.h"

/* ---- the hooks of the I/O layers: news goes up from here only ---------- */

static void peer_closed(struct session *s)
{
	if (s->role == ROLE_WORKER)
		worker_session_closed(s);
	if (s->tickers)
		ticker_session_closed(s);
	listout_session_closed(s);
}

static void store_up_hook(struct pulsed *d)
{
	pools_redis_up(d);
	drain_resume(d);
	sdnotify_redis(d, 1); /* READY=1 the first time */
}

static void store_down_hook(struct pulsed *d, int was_up)
{
	sdnotify_redis(d, 0); /* STATUS= says it retries */
	if (was_up)
		pools_redis_down(d);
}

/* Jobs left local workers: every waiter checks its own condition, the
 * layers below first (a worker's DETACH, a fenced or shut-down pool),
 * then the requests (a LEAVE, a DRAIN) and the process (pulsed stopping). */
static void jobs_gone_hook(struct pool *p, struct lworker *w)
{
	if (p->d->stopping == STOP_DONE)
		return; /* context_free: sessions close, nobody waits any more */
	if (w)
		worker_jobs_gone(w);
	pool_fence_done(p);
	pool_leave_progress(p);
	drain_progress(p->d);
	daemon_progress(p->d);
}

/* The pool's news for the jobs of local workers (jobs.c). */
static void fence_hook(struct pool *p, struct job *j)
{
	if (j)
		job_fence(j);
	else
		jobs_fence_pool(p);
}

static void joined_hook(struct pool *p)
{
	worker_pool_joined(p);
	drain_resume(p->d);
}

static void freeing_hook(struct pool *p)
{
	clocks_free(p);
	worker_free_all(p);
}

int context_init(struct pulsed *d)
{
	d->peer.worker_hello = worker_attach;
	d->peer.frame = command_run;
	d->peer.closed = peer_closed;
	d->peer.drained = listout_drained;
	d->storeh.up = store_up_hook;
	d->storeh.down = store_down_hook;
	d->storeh.message = pools_on_message;
	d->poolh.jobs_gone = jobs_gone_hook;
	d->poolh.assign = jobs_assign;
	d->poolh.job_event = jobs_event;
	d->poolh.message = message_deliver;
	d->poolh.move = job_move;
	d->poolh.fence = fence_hook;
	d->poolh.joined = joined_hook;
	d->poolh.join_refused = worker_join_refused;
	d->poolh.shut_down = pool_shutdown_local;
	d->poolh.shut_done = shutdown_local_done;
	d->poolh.clock_stopped = clock_stopped;
	d->poolh.freeing = freeing_hook;
	table_init(&d->sessions);
	table_init(&d->requests);
	table_init(&d->plans);
	table_init(&d->pools);
	d->base = event_base_new();
	if (!d->base)
		return -1;
	d->store = store_new(d);
	return 0;
}

void context_free(struct pulsed *d)
{
	d->stopping = STOP_DONE;
	server_close(d);
	requests_fail_all(d, PULSE_E_CLOSED, "pulsed is stopping");
	drain_free_all(d);
	if (d->store)
		store_free(d->store);
	d->store = NULL;
	metrics_stop(d);
	sdnotify_close(d);
	table_iter it;
	struct tentry *e;
	table_iter_init(&it, &d->pools);
	while ((e = table_next(&it)))
		pool_free(e->val);
	table_free(&d->pools);
	table_free(&d->sessions);
	table_free(&d->requests);
	schedules_free(d);
	for (size_t i = 0; i < sizeof(d->sigev) / sizeof(d->sigev[0]); i++)
		if (d->sigev[i])
			event_free(d->sigev[i]);
	if (d->stop_timer)
		event_free(d->stop_timer);
	if (d->base)
		event_base_free(d->base);
	d->base = NULL;
	free(d->node);
	free(d->holder);
	free(d->config_path);
	config_free(&d->cfg);
}
