/*
 * shutdown.c: ending a pool: a pool-wide shutdown (P10), this node
 * leaving one pool (its jobs move to other nodes, P9), and re-opening a
 * shut-down pool.
 *
 * Owns: the SHUTDOWN, LEAVE and REOPEN requests (admin only, P17), the caller's
 * wait for every node to report, each node's own part of a shutdown
 * (stop every local job through its worker, then report), and the end of
 * a leave.
 *
 * Invariants:
 *   - The shutdown mark is set in Redis first (shutdown.lua begin), so no
 *     admission, attach or join succeeds anywhere from then on; nodes learn
 *     it from the pool channel and, if that message is lost, from their
 *     next lease reply.
 *   - A node stops its jobs without handing them on (they are ending) and
 *     reports only when the last stop handler answered; the caller answers
 *     OK only when every node listed at the start reported, then deletes
 *     the pool's state; otherwise it answers TIMEOUT naming the nodes that
 *     did not finish within the worker shutdown TTL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>

#include "pulsed.h"
#include "store.h"

#define POLL_MS 50

struct shut {
	struct pool *p;
	uint64_t sid, id;
	int uid;          /* who asked, for the log */
	struct event *poll, *deadline;
	int finishing;
};

static void shut_free(struct shut *sh)
{
	event_free(sh->poll);
	event_free(sh->deadline);
	free(sh);
}

static void answer(struct shut *sh, int code, const char *msg)
{
	struct session *s = session_find(sh->p->d, sh->sid);
	if (s) {
		if (code)
			session_error(s, sh->id, code, "%s", msg);
		else
			session_ok(s, sh->id);
	}
	shut_free(sh);
}

static void call(struct pool *p, const char *op, store_cb *cb, void *arg)
{
	const char *argv[2] = {op, p->d->node};
	store_script(p->d->store, S_SHUTDOWN, p->base, 2, argv, NULL, cb, arg);
}

static void finished_cb(struct pulsed *d, redisReply *r, void *arg)
{
	struct shut *sh = arg;
	LOGI(&d->log, "pool %s: shut down on every node; its state is removed",
	     sh->p->name);
	answer(sh, r && r->type == REDIS_REPLY_INTEGER ? 0 : PULSE_E_UNAVAILABLE,
	       "Redis did not answer; the pool is shut down but its state may "
	       "remain");
}

static void status_cb(struct pulsed *d, redisReply *r, void *arg)
{
	struct shut *sh = arg;
	(void)d;
	if (r && r->type == REDIS_REPLY_ARRAY) {
		int all = 1;
		for (size_t i = 0; i + 1 < r->elements; i += 2)
			if (r->element[i + 1]->type != REDIS_REPLY_STRING ||
			    strcmp(r->element[i + 1]->str, "1") != 0)
				all = 0;
		if (all && !sh->finishing) {
			sh->finishing = 1;
			evtimer_del(sh->deadline);
			call(sh->p, "finish", finished_cb, sh);
			return;
		}
	}
	timer_arm_ms(sh->poll, POLL_MS);
}

static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct shut *sh = arg;
	call(sh->p, "status", status_cb, sh);
}

/* The nodes that did not report in time are named in the answer. */
static void late_cb(struct pulsed *d, redisReply *r, void *arg)
{
	struct shut *sh = arg;
	char msg[512] = "nodes did not stop their jobs within the worker "
	                "shutdown TTL:";
	for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements;
	     i += 2)
		if (r->element[i + 1]->type == REDIS_REPLY_STRING &&
		    strcmp(r->element[i + 1]->str, "1") != 0) {
			strncat(msg, " ", sizeof(msg) - strlen(msg) - 1);
			strncat(msg, r->element[i]->str, sizeof(msg) - strlen(msg) - 1);
		}
	LOGW(&d->log, "pool %s: shutdown: %s", sh->p->name, msg);
	answer(sh, PULSE_E_TIMEOUT, msg);
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct shut *sh = arg;
	evtimer_del(sh->poll);
	call(sh->p, "status", late_cb, sh);
}

static void begun_cb(struct pulsed *d, redisReply *r, void *arg)
{
	struct shut *sh = arg;
	if (!r || r->type != REDIS_REPLY_ARRAY) {
		answer(sh, PULSE_E_UNAVAILABLE, store_failure(d->store, r));
		return;
	}
	LOGI(&d->log, "pool %s: shutdown begun; waiting for %zu nodes (asked "
	     "by uid %d)", sh->p->name, r->elements, sh->uid);
	pool_shut_down(sh->p);
	timer_arm_ms(sh->deadline, sh->p->opts.worker_shutdown_ttl_ms + 1000);
	timer_arm_ms(sh->poll, 0);
}

void shutdown_request(struct session *s, struct pool *p, const pulse_msg *m)
{
	struct shut *sh = xcalloc(1, sizeof(*sh));
	sh->p = p;
	sh->sid = s->sid;
	sh->id = m->id;
	sh->uid = (int)s->uid;
	sh->poll = evtimer_new(p->d->base, poll_cb, sh);
	sh->deadline = evtimer_new(p->d->base, deadline_cb, sh);
	call(p, "begin", begun_cb, sh);
}

/* ---- this node's part ---------------------------------------------------- */

void pool_shutdown_local(struct pool *p)
{
	LOGI(&p->d->log, "pool %s is shutting down: stopping %zu local jobs",
	     p->name, p->ljobs.n);
	jobs_fence_pool(p); /* stops each job; pool_fence_done() follows */
}

static void ignore_cb(struct pulsed *d, redisReply *r, void *arg)
{
	(void)d;
	(void)r;
	(void)arg;
}

/* Let every worker session of the pool go, telling it why. */
static void drop_workers(struct pool *p, int code, const char *why)
{
	table_iter it;
	struct tentry *e;
	table_iter_init(&it, &p->lworkers);
	while ((e = table_next(&it))) {
		struct lworker *w = e->val;
		if (w->sess)
			session_drop(w->sess, code, why);
	}
}

/* Every local job of a shut-down pool has stopped: report, and let the
 * pool's workers go. */
void shutdown_local_done(struct pool *p)
{
	call(p, "done", ignore_cb, NULL);
	drop_workers(p, PULSE_E_SHUTDOWN, "pool is shut down");
}

/* ---- leaving one pool ----------------------------------------------------- */

void leave_request(struct session *s, struct pool *p, const pulse_msg *m)
{
	if (!p) { /* not joined here (CF_READ): nothing to leave, none joined */
		session_error(s, m->id, PULSE_E_INVALID, "node is not in pool %.*s",
		              (int)m->pool.n, m->pool.p);
		return;
	}
	if (p->state != POOL_ACTIVE || p->leave_sid) {
		session_error(s, m->id, PULSE_E_INVALID, "node is not active in pool "
		              "%s (or already leaving)", p->name);
		return;
	}
	p->leave_sid = s->sid;
	p->leave_id = m->id;
	LOGI(&p->d->log, "pool %s: leaving: handing %zu jobs to other nodes "
	     "(asked by uid %d)", p->name, p->ljobs.n, (int)s->uid);
	worker_drain_pool(p); /* pool_leave() once the last job is handed on */
	pool_leave_progress(p);
}

/* leave.lua answered: the node is out of the pool. */
static void leave_done(struct pool *p)
{
	p->leaving = 0;
	drop_workers(p, PULSE_E_CLOSED, "this node left the pool");
	struct session *s = session_find(p->d, p->leave_sid);
	if (s)
		session_ok(s, p->leave_id);
	p->leave_sid = p->leave_id = 0;
	LOGI(&p->d->log, "pool %s: left", p->name);
}

/* leave.lua answered (left), or the node could not leave now (Redis
 * away): then the next news of jobs gone tries again. */
static void leave_left(struct pool *p, int left)
{
	if (left)
		leave_done(p);
	else
		p->leaving = 0;
}

void pool_leave_progress(struct pool *p)
{
	if (p->leave_sid && p->ljobs.n == 0 && p->state == POOL_ACTIVE &&
	    !p->leaving) {
		p->leaving = 1;
		pool_leave(p, leave_left);
	}
}


/* ---- re-opening a shut-down pool --------------------------------------- */

struct reopen {
	struct pool *p;
	uint64_t sid, id;
	int uid;          /* who asked, for the log */
};

static void reopened_cb(struct pulsed *d, redisReply *r, void *arg)
{
	struct reopen *ro = arg;
	struct pool *p = ro->p;
	struct session *s = session_find(d, ro->sid);
	if (!r || r->type != REDIS_REPLY_INTEGER) {
		if (s)
			session_error(s, ro->id, PULSE_E_UNAVAILABLE,
			              "Redis went away: the pool may or may not be "
			              "re-opened (STATUS shows its state)");
	} else {
		LOGI(&d->log, "pool %s: %s (asked by uid %d)", p->name, r->integer ?
		     "re-opened: the nodes join it again" :
		     "re-open asked, but it was not shut down", ro->uid);
		pool_reopened(p); /* as the 'o' message does on every node */
		if (s)
			session_ok(s, ro->id);
	}
	free(ro);
}

/* REOPEN: remove the pool's shutdown mark in Redis. Answered OK also when
 * the pool was not shut down (re-opening is idempotent; the log says so). */
void reopen_request(struct session *s, struct pool *p, const pulse_msg *m)
{
	struct reopen *ro = xcalloc(1, sizeof(*ro));
	ro->p = p;
	ro->sid = s->sid;
	ro->id = m->id;
	ro->uid = (int)s->uid;
	call(p, "reopen", reopened_cb, ro);
}
