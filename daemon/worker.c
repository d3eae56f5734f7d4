/*
 * worker.c: worker sessions attached to this node.
 *
 * Owns: a worker's attach (its HELLO, attach.lua, WELCOME), its place in
 * the pool's placement (attach.lua and detach.lua: out while it detaches
 * or pulsed drains, back on an undrain or a re-join), its detach (DETACH,
 * a leave, pulsed stopping: its jobs move first), its ACKs (each to the
 * file whose event it answers) and the end of its session. The jobs it
 * runs are jobs.c's, the messages it is sent message.c's.
 *
 * Invariants:
 *   - A worker is in the pool's lworkers from its HELLO until its session
 *     ends; WELCOME is sent once, when attach.lua first answered OK.
 *   - A detaching worker is out of placement before any of its jobs
 *     moves, and its DETACH is answered only once its last job is gone
 *     (worker_jobs_gone, jobs.c's news through context.c).
 *   - No worker attaches while its node leaves the pool (the leave waits
 *     for the jobs it hands on; a worker placed meanwhile would take them).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>

#include "pulsed.h"
#include "store.h"

/* ---- attach and detach -------------------------------------------------- */

static void attach_cb(struct pulsed *d, redisReply *r, void *arg)
{
	uint64_t sid = (uint64_t)(uintptr_t)arg;
	struct session *s = session_find(d, sid);
	if (!s || !s->worker)
		return; /* gone: worker_session_closed sent detach.lua after it */
	struct lworker *w = s->worker;
	w->attaching = 0;
	int code = store_reply(r);
	if (code == SR_OK) {
		/* an undrain attaches a worker again: one WELCOME only */
		int first = !w->attached;
		w->attached = 1;
		if (first) {
			LOGI(&d->log, "pool %s: worker %s attached (session %llu): "
			     "pid %d uid %d%s", w->pool->name, w->id,
			     (unsigned long long)sid, (int)s->pid, (int)s->uid,
			     d->draining ? " out of placement (draining)" : "");
			session_welcome_worker(s, w->id);
			pool_send_lease(w->pool, w);
		}
		pool_membership_changed(w->pool);
		return;
	}
	if (code == SR_TAKEN)
		session_drop(s, PULSE_E_INVALID,
		             "worker name is attached to another node");
	else if (code == SR_SHUTDOWN)
		session_drop(s, PULSE_E_SHUTDOWN, "pool is shut down");
	else if (code == SR_LOST)
		/* Redis lost this node: the re-join places a worker already
		 * attached and attaches one not yet (worker_pool_joined); a
		 * healthy session is never cut for it. */
		pool_lost(w->pool);
	else if (!w->attached)
		session_drop(s, PULSE_E_UNAVAILABLE, store_failure(d->store, r));
	/* else an undrain's attach lost with the connection: the re-join
	 * after Redis comes back places the worker */
}

/* Record the worker in Redis and, unless this pulsed drains, in
 * placement (a draining node checks the name but places nothing). */
void worker_send_attach(struct lworker *w)
{
	const char *argv[3] = {w->pool->d->node, w->id,
	                       w->pool->d->draining ? "0" : "1"};
	w->attaching = 1;
	store_script(w->pool->d->store, S_ATTACH, w->pool->base, 3, argv, NULL,
	             attach_cb, (void *)(uintptr_t)w->sess->sid);
}

int worker_attach(struct session *s, const pulse_msg *m, char *err,
                  size_t errlen, int *code)
{
	struct pulsed *d = s->d;
	char pool[PULSE_MAX_POOL + 1], id[PULSE_MAX_POOL + 1];
	*code = PULSE_E_INVALID;
	if (!(m->has & PM_POOL) || m->pool.n > PULSE_MAX_POOL) {
		snprintf(err, errlen, "a worker HELLO needs a valid pool");
		return -1;
	}
	memcpy(pool, m->pool.p, m->pool.n);
	pool[m->pool.n] = '\0';
	struct pool *p = pool_get(d, pool, 1, code, err, errlen);
	if (!p)
		return -1;
	if (p->state == POOL_SHUTDOWN) {
		*code = PULSE_E_SHUTDOWN;
		snprintf(err, errlen, "pool %s is shut down", pool);
		return -1;
	}
	if (pool_refusal(p)) {
		*code = PULSE_E_UNAVAILABLE;
		snprintf(err, errlen, "%s", pool_refusal(p));
		return -1;
	}
	if (d->stopping) {
		*code = PULSE_E_CLOSED;
		snprintf(err, errlen, "pulsed is stopping");
		return -1;
	}
	if (p->leave_sid) {
		/* a worker placed now would take jobs the leave waits to hand
		 * on, and the leave would never end; once left, an attach joins
		 * the pool again */
		*code = PULSE_E_UNAVAILABLE;
		snprintf(err, errlen, "this node is leaving pool %s: attach again "
		         "once it left", pool);
		return -1;
	}
	if ((m->has & PM_NAME) && m->name.n > 0) {
		if (pulse_check_pool(m->name.p, m->name.n, err, errlen) < 0) {
			snprintf(err, errlen, "worker name must be 1 to 128 bytes of "
			         "[A-Za-z0-9._:-]");
			return -1;
		}
		memcpy(id, m->name.p, m->name.n);
		id[m->name.n] = '\0';
	} else {
		snprintf(id, sizeof(id), "%s.%llu.%04lx", d->node,
		         (unsigned long long)s->sid, (unsigned long)(random() & 0xffff));
	}
	if (table_get(&p->lworkers, id, strlen(id))) {
		snprintf(err, errlen, "worker name %s is in use", id);
		return -1;
	}
	if (!store_up(d->store)) {
		*code = PULSE_E_UNAVAILABLE;
		snprintf(err, errlen, "%s", store_unreachable(d->store));
		return -1;
	}
	struct lworker *w = xcalloc(1, sizeof(*w));
	w->id = xstrdup(id);
	w->pool = p;
	w->sess = s;
	w->notify = (m->has & PM_NOTIFY) ? m->notify : 1;
	w->messages = (m->has & PM_MESSAGES) && m->messages;
	table_init(&w->jobs);
	table_init(&w->events);
	table_init(&w->msgs);
	table_set(&p->lworkers, id, strlen(id), w);
	s->worker = w;
	if (p->state == POOL_ACTIVE)
		worker_send_attach(w);
	/* else worker_pool_joined() attaches it once the node is in */
	return 0;
}

void worker_pool_joined(struct pool *p)
{
	table_iter it;
	struct tentry *e;
	table_iter_init(&it, &p->lworkers);
	while ((e = table_next(&it))) {
		struct lworker *w = e->val;
		if (!w->attached && !w->detaching && w->sess)
			worker_send_attach(w);
	}
}

void worker_join_refused(struct pool *p, const char *why)
{
	table_iter it;
	struct tentry *e;
	table_iter_init(&it, &p->lworkers);
	while ((e = table_next(&it))) {
		struct lworker *w = e->val;
		if (!w->attached && !w->attaching && w->sess)
			session_drop(w->sess, PULSE_E_UNAVAILABLE, why);
	}
}

static void ignore_cb(struct pulsed *d, redisReply *r, void *arg)
{
	(void)d;
	(void)r;
	(void)arg;
}

/* Take the worker out of placement so nothing new lands on it. */
void worker_leave_placement(struct lworker *w)
{
	const char *argv[2] = {w->pool->d->node, w->id};
	store_script(w->pool->d->store, S_DETACH, w->pool->base, 2, argv, NULL,
	             ignore_cb, NULL);
}

/* A detaching worker with no job left: its DETACH (if it sent one) is
 * answered and its session closed. Called as jobs leave it (jobs.c's
 * news, through context.c) and when its detach begins. */
void worker_jobs_gone(struct lworker *w)
{
	if (!w->detaching || w->jobs.n > 0)
		return;
	if (w->detach_id && w->sess) {
		struct session *s = w->sess;
		session_ok(s, w->detach_id);
		w->detach_id = 0;
		session_close(s, "worker detached (its DETACH was answered OK)");
	}
}

/* Detach: out of placement first, then halt and release each job. */
static void begin_detach(struct lworker *w, uint64_t id)
{
	if (w->detaching) {
		if (id && !w->detach_id)
			w->detach_id = id;
		worker_jobs_gone(w);
		return;
	}
	w->detaching = 1;
	w->detach_id = id;
	LOGI(&w->pool->d->log, "pool %s: worker %s detaching with %zu jobs",
	     w->pool->name, w->id, w->jobs.n);
	worker_leave_placement(w);
	jobs_move_worker(w);
	worker_jobs_gone(w);
}

/* Event ids are one sequence for jobs and messages (d->next_evid), so
 * an id names one of the two tables. */
void worker_ack(struct session *s, struct pool *p, const pulse_msg *m)
{
	if (s->worker && message_ack(s->worker, m))
		return;
	jobs_ack(s, p, m);
}

void worker_detach_req(struct session *s, struct pool *none,
                       const pulse_msg *m)
{
	(void)none;
	begin_detach(s->worker, m->id);
}

void worker_drain_pool(struct pool *p)
{
	table_iter it;
	struct tentry *e;
	table_iter_init(&it, &p->lworkers);
	while ((e = table_next(&it)))
		begin_detach(e->val, 0);
}

static void worker_free(struct lworker *w)
{
	jobs_worker_free(w);
	message_fail_all(w, PULSE_E_CLOSED, "pulsed is stopping");
	table_free(&w->jobs);
	table_free(&w->events);
	table_free(&w->msgs);
	if (w->sess)
		w->sess->worker = NULL;
	free(w->id);
	free(w);
}

/* The pool is being freed (pulsed stops): so are its workers. */
void worker_free_all(struct pool *p)
{
	table_iter it;
	struct tentry *e;
	table_iter_init(&it, &p->lworkers);
	while ((e = table_next(&it)))
		worker_free(e->val);
}

/* The session ended without (or before the end of) a detach: the process
 * is gone, so its jobs are released at once for other workers (P4). */
void worker_session_closed(struct session *s)
{
	struct lworker *w = s->worker;
	if (!w)
		return;
	struct pool *p = w->pool;
	w->sess = NULL;
	s->worker = NULL;
	size_t n = w->jobs.n;
	/* Out of placement whenever Redis can be told, even while the pool
	 * is fenced or re-joining: a join in flight may name this worker, and
	 * detach.lua, behind it on the same connection, takes it out again
	 * (it is a no-op where the worker is not this node's). */
	if ((w->attached || w->attaching) && store_up(p->d->store))
		worker_leave_placement(w);
	jobs_worker_gone(w); /* after detach.lua: nothing comes back to w */
	message_fail_all(w, PULSE_E_UNAVAILABLE, "went away before answering "
	                 "the message; its handler may have run (not sent "
	                 "again)");
	LOGI(&p->d->log, "pool %s: worker %s gone with %zu jobs", p->name, w->id, n);
	table_del(&p->lworkers, w->id, strlen(w->id));
	worker_free(w);
	if (n > 0)
		p->d->poolh.jobs_gone(p, NULL);
}
