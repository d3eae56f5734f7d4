/*
 * dispatch.c: the requests that change jobs: dispatch, stop and notify;
 * and the keyed message (send), routed the same way but to no job.
 *
 * Owns: admitting a job (admit.lua, then starting it on a local worker or
 * leaving it to its owner's node), routing a stop or notify to the job's
 * owner (route.lua: a local worker, another node's inbox, or a retry while
 * the job is between owners), routing a message to the worker placement
 * picks for its key (a local worker, or that worker's node's inbox), and
 * pulsed's own such requests (schedules). The requests themselves, their
 * answers and deadlines are request.c's; a message's delivery to a local
 * worker is message.c's.
 *
 * Invariants:
 *   - A dispatch is answered OK only once the job runs (its start was
 *     acknowledged); a Redis that forgot the node meanwhile makes the node
 *     re-join before the request is tried again (LOST), never a second
 *     admission of a key that runs.
 *   - A stop or notify of a job between owners waits for the next owner
 *     (WAIT), it is not dropped.
 *   - A dispatch or stop that this node hands on (to the owner's node, or
 *     to the waiting set) is one job line here naming who asked
 *     (request_log); what a local worker does is jobs.c's line.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>

#include "pulsed.h"
#include "store.h"

static void route(struct request *q);
static void dispatch(struct request *q);

/* ---- dispatch ----------------------------------------------------------- */

/* The job line of a change this node asked for and does not carry out
 * on a local worker: handed to the owner's node ("routed", whose own
 * line names the worker and says from=this node), left waiting for a
 * worker ("queued"), or a waiting job stopped. Only this node knows the
 * caller's uid, so its line says it. */
static void request_log(struct request *q, const char *event,
                        const char *extra)
{
	struct pulsed *d = q->pool->d;
	char who[64], fields[128];
	request_caller(d, q->rid, who, sizeof(who));
	snprintf(fields, sizeof(fields), "%s%s%s", who, extra ? " " : "",
	         extra ? extra : "");
	log_job(&d->log, LOG_INFO, event, q->pool->name, q->key, strlen(q->key),
	        NULL, d->node, fields);
}

static int code_of(const char *s)
{
	int c = pulse_err_from_name(s, strlen(s));
	return c < 0 ? PULSE_E_UNAVAILABLE : c;
}

/* A script answered LOST: Redis does not know this node (it lost its
 * data, or others reaped the node), so the jobs running here are not
 * announced there and a key that runs may look free, a stop may find
 * nothing. Ask again once the node re-joined (pool_lost). */
static int retry_if_lost(struct request *q, int code)
{
	if (code != SR_LOST)
		return 0;
	pool_lost(q->pool);
	request_retry_in(q, REQUEST_RETRY_MS);
	return 1;
}

static void admit_cb(struct pulsed *d, redisReply *r, void *arg)
{
	struct request *q = request_take(d, arg);
	if (!q)
		return;
	int code = store_reply(r);
	if (code == SR_NONE) {
		char why[400];
		snprintf(why, sizeof(why), "%s%s", r ? store_failure(d->store, r) :
		         "Redis did not answer the admission",
		         "; JOB tells whether the job exists");
		request_finish(d, q->rid, PULSE_E_UNAVAILABLE, why);
		return;
	}
	q->admission = code == SR_OWNED || code == SR_WAIT ? ADM_DONE : ADM_NONE;
	if (retry_if_lost(q, code))
		return;
	if (code == SR_OWNED && r->elements >= 2 &&
	    r->element[1]->type == REDIS_REPLY_INTEGER) {
		/* The local worker admit.lua recorded, not a fresh pick (the
		 * view may have changed since): jobs_assign starts it, or
		 * gives the job back to 'wait' if that worker is gone. The
		 * dispatch record lets the start answer skip a lookup. */
		if (q->owner) {
			char disp[384];
			int n = snprintf(disp, sizeof(disp), "%s %" PRIu64, d->node,
			                 q->rid);
			jobs_assign(q->pool, q->owner, q->key,
			              (uint64_t)r->element[1]->integer, q->payload
			              ? q->payload : "", q->plen,
			              n < (int)sizeof(disp) ? disp : NULL);
		}
		else /* the owner node starts it from its inbox */
			request_log(q, "routed", "op=dispatch");
		return;
	}
	if (code == SR_WAIT) {
		request_log(q, "queued", NULL);
		return; /* started by whichever node claims it */
	}
	if (code == SR_REBUILD && r->elements >= 2 &&
	    r->element[1]->type == REDIS_REPLY_INTEGER) {
		/* Redis lost the pool and the nodes are re-announcing what
		 * runs: admit once they all had the time to (join.lua) */
		request_retry_in(q, (uint64_t)r->element[1]->integer + 1);
		return;
	}
	const char *name = store_reply_str(r);
	request_finish(d, q->rid, code_of(name),
	               code == SR_JOB_EXISTS ? "job exists"
	               : code == SR_POOL_FULL ? "too many jobs wait for a worker"
	               : code == SR_SHUTDOWN ? "pool is shut down"
	               : name);
}

/* Whether the request can go to Redis now: 0; else it was answered (the
 * node id is another process's) or will be tried again (the pool is
 * joining, re-joining or Redis away: until the request's own deadline,
 * which then answers TIMEOUT saying what happened). */
static int not_ready(struct request *q)
{
	struct pool *p = q->pool;
	if (pool_refusal(p)) {
		request_finish(p->d, q->rid, PULSE_E_UNAVAILABLE, pool_refusal(p));
		return 1;
	}
	if (!pool_usable(p)) {
		request_retry(p->d, q->rid);
		return 1;
	}
	return 0;
}

/* The worker placement picks for q's key now and its node (either NULL
 * when none), or 0 when q was answered (shut down) or waits (the pool is
 * not usable yet): the start of routing a DISPATCH and a SEND alike. */
static int placed(struct request *q, const char **owner, const char **onode)
{
	struct pool *p = q->pool;
	if (p->state == POOL_SHUTDOWN) {
		request_finish(p->d, q->rid, PULSE_E_SHUTDOWN, "pool is shut down");
		return 0;
	}
	if (not_ready(q))
		return 0;
	*owner = pool_owner_of(p, q->key, strlen(q->key));
	*onode = *owner ? table_get(&p->workers, *owner, strlen(*owner)) : NULL;
	return 1;
}

static void dispatch(struct request *q)
{
	struct pool *p = q->pool;
	const char *owner, *onode;
	if (!placed(q, &owner, &onode))
		return;
	free(q->owner);
	/* kept only for a worker of this node: admit_cb starts it here */
	q->owner = owner && onode && strcmp(onode, p->d->node) == 0
	           ? xstrdup(owner) : NULL;
	sargs a = {0};
	sargs_str(&a, q->key);
	sargs_add(&a, q->payload ? q->payload : "", q->plen);
	sargs_str(&a, p->d->node);
	sargs_u64(&a, q->rid);
	sargs_u64(&a, p->opts.max_queued_jobs);
	sargs_str(&a, owner && onode ? owner : "");
	sargs_str(&a, owner && onode ? onode : "");
	q->admission = ADM_SENT;
	store_script(p->d->store, S_ADMIT, p->base, a.n, a.v, a.l, admit_cb,
	             request_ref(q));
	sargs_free(&a);
}

/* ---- stop and notify ---------------------------------------------------- */

static void route_cb(struct pulsed *d, redisReply *r, void *arg)
{
	struct request *q = request_take(d, arg);
	if (!q)
		return;
	int code = store_reply(r);
	int op = q->type == PULSE_T_STOP ? OP_HALT : OP_EVENT;
	if (code == SR_NONE) {
		request_finish(d, q->rid, PULSE_E_UNAVAILABLE, store_failure(d->store, r));
	} else if (retry_if_lost(q, code)) {
		return;
	} else if (code == SR_JOB_NOT_FOUND) {
		request_finish(d, q->rid, PULSE_E_JOB_NOT_FOUND, "job not found");
	} else if (code == SR_LOCAL) {
		if (jobs_event(q->pool, q->key, op, q->payload, q->plen,
		                     q->rid, NULL, NULL) < 0)
			request_retry(d, q->rid);
	} else if (code == SR_DELETED) {
		/* A waiting job was removed; a local dispatch of it ends too. */
		if (r->elements >= 2 && r->element[1]->type == REDIS_REPLY_STRING &&
		    r->element[1]->len > 0) {
			const char *sp = strchr(r->element[1]->str, ' ');
			if (sp)
				request_finish(d, strtoull(sp + 1, NULL, 10),
				               PULSE_E_JOB_NOT_FOUND,
				               "job was stopped before it started");
		}
		request_log(q, "stop", "waiting=1"); /* no worker ran it */
		request_finish(d, q->rid, 0, NULL);
	} else if (code == SR_WAIT) {
		request_retry(d, q->rid);
	} else if (code == SR_ROUTED && q->type == PULSE_T_STOP) {
		request_log(q, "routed", "op=stop");
	}
	/* ROUTED: the owner node answers through our inbox */
}

static void route(struct request *q)
{
	struct pool *p = q->pool;
	if (not_ready(q))
		return;
	sargs a = {0};
	sargs_str(&a, q->key);
	sargs_str(&a, q->type == PULSE_T_STOP ? "s" : "n");
	sargs_str(&a, p->d->node);
	sargs_u64(&a, q->rid);
	sargs_add(&a, q->payload ? q->payload : "", q->plen);
	store_script(p->d->store, S_ROUTE, p->base, a.n, a.v, a.l, route_cb,
	             request_ref(q));
	sargs_free(&a);
}

void request_internal(struct pool *p, int type, const char *key,
                      size_t klen, const char *payload, size_t plen)
{
	struct request *q = request_make(p->d, 0, 0, type, p, key, klen,
	                                 payload, plen, 0,
	                                 type == PULSE_T_DISPATCH ? dispatch : route);
	if (type == PULSE_T_DISPATCH)
		dispatch(q);
	else
		route(q);
}

/* ---- keyed messages ----------------------------------------------------- */

/* Route a SEND by this node's view of the pool's placement, as it is
 * now: no job, no Redis write (but the inbox entry, a transport, when
 * the worker is another node's). An empty view answers at once, unless
 * it is still being loaded (right after a join); a worker that turns out
 * not to be there (the view was older than its end) brings the request
 * back here, to be routed on a newer view. */
static void send_message(struct request *q)
{
	struct pool *p = q->pool;
	const char *owner, *onode;
	if (!placed(q, &owner, &onode))
		return;
	if (!owner || !onode) {
		if (p->members_inflight) {
			request_retry(p->d, q->rid);
			return;
		}
		char why[200];
		snprintf(why, sizeof(why), "no worker in pool %s", p->name);
		request_finish(p->d, q->rid, PULSE_E_UNAVAILABLE, why);
		return;
	}
	if (strcmp(onode, p->d->node) == 0)
		message_deliver(p, owner, q->key, q->payload, q->plen, q->rid, NULL,
		                NULL);
	else
		inbox_message(p, onode, owner, q->key, q->payload, q->plen, q->rid);
}

/* The command table's handlers (command.c): the checks every request
 * passes were made there; what is left is the payload cap. */
static void job_request(struct session *s, struct pool *p, const pulse_msg *m,
                        request_step *first)
{
	struct pulsed *d = s->d;
	if (m->type != PULSE_T_STOP && m->payload.n > d->cfg.max_payload) {
		session_error(s, m->id, PULSE_E_TOO_LARGE,
		              "payload of %zu bytes is over the %" PRIu64 " byte cap",
		              m->payload.n, d->cfg.max_payload);
		return;
	}
	first(request_new(s, m, p, first));
}

void dispatch_request(struct session *s, struct pool *p, const pulse_msg *m)
{
	job_request(s, p, m, dispatch);
}

void route_request(struct session *s, struct pool *p, const pulse_msg *m)
{
	job_request(s, p, m, route);
}

void message_request(struct session *s, struct pool *p, const pulse_msg *m)
{
	job_request(s, p, m, send_message);
}
