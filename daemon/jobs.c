/*
 * jobs.c: the jobs this node's workers run.
 *
 * Owns: each local job's queue of events (START, HALT, EVENT) sent to its
 * worker, the worker's ACKs and what each one writes to Redis
 * (started.lua, remove.lua, release.lua), assignments (from a claim, an
 * admission or another node's inbox), stops and notifications routed
 * here, moves, self-fencing, and the jobs of a worker whose session ended.
 *
 * Layer: below worker.c (the sessions), above pool.c (membership). News
 * goes up through d->poolh: jobs_gone(p, w) whenever a job left worker w
 * (the one way to wait until jobs are gone: a detach, a leave, a drain,
 * pulsed stopping, a fenced or shut-down pool).
 *
 * Invariants:
 *   - Events for one key are strictly sequential: the next is sent only
 *     after the worker answered the one before (the head of job->ops is the
 *     one in flight once it has an event id).
 *   - A worker is never sent START for a key it runs: a new assignment
 *     of a key the worker runs or starts takes over the job (its fence and
 *     dispatch are what started.lua records); one that comes while the key
 *     halts there is started once the halt ended (job->again).
 *   - A job leaves a worker in Redis (release) only after its stop handler
 *     answered, or when the worker's session is gone; so a move is always
 *     stop-then-start (P3).
 *   - A fenced job is halted without any Redis write: its ownership record
 *     stays until the lease ends and another node reaps it.
 *   - A requeued op stays at the head of its job's queue, and the job's
 *     own retry timer sends it again (whatever the job's fence is by then).
 *   - Each start, stop, move, requeue, refusal and fence of a job is one
 *     line (job_log, through log.c's log_job), logged here where the
 *     worker answered: pool, key, worker and node, and for a start or a
 *     stop who asked (a local caller's uid, or the node it came from).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>

#include "pulsed.h"
#include "store.h"

static void pump(struct job *j);
static void start_failed(struct job *j, const char *result, const char *msg);

/* A job left worker w (ended, moved, fenced, released): whoever waits
 * for jobs to be gone looks again. */
static void job_left(struct lworker *w)
{
	w->pool->d->poolh.jobs_gone(w->pool, w);
}

/* ---- the job log ----------------------------------------------------------- */

/* The job's one line for an event (log.c's log_job: the one format of
 * every job line), with more key=value fields from fmt. */
static void job_log(const struct job *j, int level, const char *event,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void job_log(const struct job *j, int level, const char *event,
                    const char *fmt, ...)
{
	struct pool *p = j->w->pool;
	if (level < p->d->log.level)
		return;
	char extra[LOG_TEXT_MAX * 4 + 256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(extra, sizeof(extra), fmt, ap);
	va_end(ap);
	log_job(&p->d->log, level, event, p->name, j->key, strlen(j->key),
	        j->w->id, p->d->node, extra);
}

/* " error=TEXT" for a job line: a handler's answer, cut and quoted so
 * that the line stays one line and whole (or "" when there is none). */
static const char *error_field(char *buf, size_t len, const char *msg)
{
	if (!msg || !*msg || len < 8) {
		buf[0] = '\0';
		return buf;
	}
	size_t n = strlen(msg);
	memcpy(buf, " error=", 7);
	log_value(buf + 7, len - 7, msg, n < LOG_TEXT_MAX ? n : LOG_TEXT_MAX);
	return buf;
}

/* Who asked for what op does, for its job line: a local request's caller
 * (request_caller: "uid=N"), or the node that routed it here
 * ("from=NODE": its caller's uid stays in that node's log). */
static void op_caller(struct pool *p, const struct jobop *o, char *buf,
                      size_t len)
{
	if (o->rid)
		request_caller(p->d, o->rid, buf, len);
	else if (o->reply_node)
		snprintf(buf, len, "from=%s", o->reply_node);
	else
		buf[0] = '\0';
}

/* What a HALT is for, in a job line. */
static const char *halt_kind(const struct jobop *o)
{
	if (o->fencing)
		return "fence";
	if (o->rid || o->reply_node || !o->moving)
		return "stop";
	return "move";
}

/* Why a job moves, in its line: a rebalance, or its worker was taken
 * out of placement by pulsed stopping, the node leaving the pool, the
 * worker detaching, or a drain. */
static const char *move_reason(const struct job *j, int why)
{
	const struct lworker *w = j->w;
	if (why == MOVE_REBALANCE)
		return "rebalance";
	if (w->pool->d->stopping)
		return "pulsed-stopping";
	if (w->pool->leave_sid)
		return "leave";
	if (w->detaching)
		return "detach";
	return w->pool->d->draining ? "drain" : "detach";
}

/* ---- small helpers ------------------------------------------------------ */

static void op_release(struct jobop *o)
{
	free(o->payload);
	free(o->reply_node);
	free(o->reply_rid);
	free(o);
}

/* Every op ends here; a rebalance move that ends (done, dropped or
 * abandoned) lets the pool start the next ones. */
static void op_free(struct pool *p, struct jobop *o)
{
	int rebalance = o->moving == MOVE_REBALANCE;
	op_release(o);
	if (rebalance)
		pool_move_done(p);
}

/* Answer whoever waits for this op: a local request or a remote caller. */
static void op_answer(struct pool *p, struct jobop *o, int code,
                      const char *msg)
{
	if (o->rid)
		request_finish(p->d, o->rid, code, msg);
	else if (o->reply_node)
		inbox_reply(p, o->reply_node, o->reply_rid, code, msg, NULL, 0);
	o->rid = 0;
	free(o->reply_node);
	o->reply_node = NULL;
}

/* The caller of a STOP or NOTIFY must look for the job again (it left this
 * worker before the event could run). */
static void op_reroute(struct pool *p, struct jobop *o)
{
	if (o->rid)
		request_retry(p->d, o->rid);
	else if (o->reply_node)
		inbox_reply(p, o->reply_node, o->reply_rid, -1, "", NULL, 0);
	o->rid = 0;
}

static struct jobop *op_new(int op, const char *payload, size_t plen)
{
	struct jobop *o = xcalloc(1, sizeof(*o));
	o->op = op;
	if (payload) {
		o->payload = xmemdup(payload, plen);
		o->plen = plen;
	}
	return o;
}

static void enqueue(struct job *j, struct jobop *o)
{
	*j->tail = o;
	j->tail = &o->next;
	pump(j);
}

static struct jobop *pop(struct job *j)
{
	struct jobop *o = j->ops;
	if (o) {
		j->ops = o->next;
		if (!j->ops)
			j->tail = &j->ops;
		o->next = NULL;
	}
	return o;
}

static int has_fencing(const struct job *j)
{
	for (const struct jobop *o = j->ops; o; o = o->next)
		if (o->fencing)
			return 1;
	return 0;
}

static int has_halt(const struct job *j)
{
	for (const struct jobop *o = j->ops; o; o = o->next)
		if (o->op == OP_HALT)
			return 1;
	return 0;
}

/* The job's move HALT that no stop rides on yet, or NULL. */
static struct jobop *moving_halt(const struct job *j)
{
	for (struct jobop *o = j->ops; o; o = o->next)
		if (o->op == OP_HALT && o->moving && !o->rid && !o->reply_node)
			return o;
	return NULL;
}

static void reassign_free(struct reassign *a)
{
	if (!a)
		return;
	free(a->payload);
	free(a->disp);
	free(a);
}

/* What a job holds of its own, once it is out of every table and its
 * ops are answered. */
static void job_free_memory(struct job *j)
{
	if (j->retry)
		event_free(j->retry);
	reassign_free(j->again);
	free(j->key);
	free(j->disp);
	free(j->payload);
	free(j);
}

/* Remove a job from this node's memory (Redis already says so, or the
 * job is fenced). Queued events are sent back to their callers to be
 * routed again. */
static void job_free(struct job *j)
{
	struct pool *p = j->w->pool;
	/* out of the tables first: what the ops' ends trigger must not find
	 * the job again */
	table_del(&j->w->jobs, j->key, strlen(j->key));
	if (table_get(&p->ljobs, j->key, strlen(j->key)) == j)
		table_del(&p->ljobs, j->key, strlen(j->key));
	struct jobop *o;
	while ((o = pop(j))) {
		if (o->evid)
			table_del_u64(&j->w->events, o->evid);
		if (o->op != OP_START)
			op_reroute(p, o);
		op_free(p, o);
	}
	job_free_memory(j);
}

/* A halt ended: the job leaves this worker. An assignment that came
 * meanwhile (job->again) starts now, stop-then-start on one worker. */
static void job_end(struct job *j)
{
	struct reassign *a = j->again;
	if (!a) {
		job_free(j);
		return;
	}
	j->again = NULL;
	struct pool *p = j->w->pool;
	struct lworker *w = j->w; /* outlives its jobs */
	char *key = xstrdup(j->key);
	job_free(j);
	jobs_assign(p, w->id, key, a->fence, a->payload, a->plen, a->disp);
	free(key);
	reassign_free(a);
}

/* Send the op at the head of the job's queue to its worker. Returns the
 * frame's body size when the worker's session cannot take it (its HELLO's
 * max_body: nothing is sent), else 0. */
static size_t send_event(struct job *j, struct jobop *o)
{
	struct lworker *w = j->w;
	pulse_buf b = {0};
	pulse_enc e;
	static const uint32_t types[] = {
		[OP_START] = PULSE_T_START, [OP_HALT] = PULSE_T_HALT,
		[OP_EVENT] = PULSE_T_EVENT};
	uint64_t evid = w->pool->d->next_evid + 1;
	pulse_enc_begin(&e, &b, types[o->op], evid, o->op == OP_HALT ? 1 : 2);
	pulse_enc_cstr(&e, "key", j->key);
	if (o->op != OP_HALT)
		pulse_enc_bin(&e, "payload", o->payload ? o->payload : "", o->plen);
	if (pulse_enc_end(&e) < 0)
		fatal_oom("an event frame");
	size_t body = b.len - PULSE_FRAME_HDR;
	if (w->sess && body > w->sess->peer_max_body) {
		pulse_buf_free(&b);
		return body;
	}
	o->evid = ++w->pool->d->next_evid;
	table_set_u64(&w->events, o->evid, j);
	if (w->sess)
		session_send(w->sess, &b);
	pulse_buf_free(&b);
	return 0;
}

/* A START or EVENT whose frame the worker cannot take (send_event): the
 * job, or the notification, fails with TOO_LARGE to its caller instead of
 * ending the worker's session for ever (a job that can never reach its
 * worker would kill each session it is given to). A job that cannot
 * start here is removed: started.lua says so to the dispatch. */
static void too_large(struct job *j, size_t body)
{
	struct lworker *w = j->w;
	struct pool *p = w->pool;
	struct jobop *o = pop(j);
	char msg[300];
	snprintf(msg, sizeof(msg), "a %s frame of %zu bytes is over the %" PRIu32
	         " bytes worker %s takes (its HELLO's max_body)",
	         o->op == OP_START ? "START" : "EVENT", body,
	         w->sess->peer_max_body, w->id);
	LOGW(&p->d->log, "pool %s: %s of %s failed: %s", p->name,
	     o->op == OP_START ? "start" : "notification", j->key, msg);
	if (o->op == OP_EVENT) {
		op_answer(p, o, PULSE_E_TOO_LARGE, msg);
		op_free(p, o);
		pump(j);
		return;
	}
	op_free(p, o);
	start_failed(j, "too_large", msg);
}

static void pump(struct job *j)
{
	struct jobop *o = j->ops;
	if (!o || o->evid || o->op == 0)
		return;
	if (o->op == OP_EVENT && !j->w->notify) {
		pop(j);
		op_answer(j->w->pool, o, PULSE_E_HANDLER,
		          "worker does not handle notifications");
		op_free(j->w->pool, o);
		pump(j);
		return;
	}
	size_t body = send_event(j, o);
	if (body)
		too_large(j, body);
}

/* ---- Redis writes after an ACK ------------------------------------------ */

/* What a Redis callback needs to find its job again: the job may have
 * been freed meanwhile, so it is looked up by pool, key and fence. */
struct ackctx {
	struct pool *p;
	char *key;
	char *wid;
	uint64_t fence;
	char *msg;
	uint64_t rid; /* remove: the local stop request answered after it */
	int code;     /* remove: the stop handler's answer */
	char *disp;   /* started: the dispatch record sent, or NULL */
	const char *result; /* started: "ok", "error", "requeue", "too_large" */
};

static struct ackctx *ackctx_new(struct job *j, const char *msg)
{
	struct ackctx *c = xcalloc(1, sizeof(*c));
	c->p = j->w->pool;
	c->key = xstrdup(j->key);
	c->wid = xstrdup(j->w->id);
	c->fence = j->fence;
	c->msg = xstrdup(msg ? msg : "");
	return c;
}

static void ackctx_free(struct ackctx *c)
{
	free(c->disp);
	free(c->key);
	free(c->wid);
	free(c->msg);
	free(c);
}

static struct job *ackctx_job(struct ackctx *c)
{
	struct job *j = table_get(&c->p->ljobs, c->key, strlen(c->key));
	if (j && j->fence == c->fence && strcmp(j->w->id, c->wid) == 0)
		return j;
	return NULL;
}

/* The request id of a dispatch record ("<caller node> <request id>")
 * made on this node, or 0 (another node's, or no record). */
static uint64_t local_rid(const struct pulsed *d, const char *disp)
{
	size_t nl = strlen(d->node);
	if (disp && strncmp(disp, d->node, nl) == 0 && disp[nl] == ' ')
		return strtoull(disp + nl + 1, NULL, 10);
	return 0;
}

/* Who dispatched the job a START answers, from its dispatch record: a
 * local caller (request_caller), "from=NODE" for another node's, "" when
 * not known (a claim of a job that waited). */
static void disp_caller(struct pulsed *d, const char *disp, char *buf,
                        size_t len)
{
	uint64_t rid = local_rid(d, disp);
	if (rid)
		request_caller(d, rid, buf, len);
	else if (disp)
		snprintf(buf, len, "from=%.*s", (int)strcspn(disp, " "), disp);
	else
		buf[0] = '\0';
}

static void started_cb(struct pulsed *d, redisReply *r, void *arg)
{
	struct ackctx *c = arg;
	int code = store_reply(r);
	if (code != SR_NONE) {
		if (code == SR_LOST) {
			/* Redis lost this node between the worker's answer and
			 * this record: a started job goes on running and the
			 * re-join re-announces it; a refused first start is
			 * answered as refused (Redis lost the job anyway). */
			uint64_t rid = local_rid(d, c->disp);
			if (rid && strcmp(c->result, "error") == 0)
				request_finish(d, rid, PULSE_E_HANDLER, c->msg);
			if (rid && strcmp(c->result, "too_large") == 0)
				request_finish(d, rid, PULSE_E_TOO_LARGE, c->msg);
			pool_lost(c->p);
		} else if (code == SR_STALE) {
			/* The job was stopped or moved while it started: the
			 * worker must not keep running it. */
			struct job *j = ackctx_job(c);
			if (j)
				job_fence(j);
		} else if (r->elements >= 2 &&
		           r->element[1]->type == REDIS_REPLY_STRING) {
			uint64_t rid = strtoull(r->element[1]->str, NULL, 10);
			if (code == SR_OK)
				request_finish(d, rid, 0, NULL);
			else if (code == SR_HANDLER)
				request_finish(d, rid, PULSE_E_HANDLER, c->msg);
			else if (code == SR_TOO_LARGE)
				request_finish(d, rid, PULSE_E_TOO_LARGE, c->msg);
		}
	}
	ackctx_free(c);
}

/* Record the start answer. The job's dispatch record (a direct
 * admission) goes along so that started.lua need not look it up; it is
 * used once: a later start of the job answers nobody. */
static void call_started(struct job *j, const char *result, const char *msg)
{
	struct pool *p = j->w->pool;
	struct ackctx *c = ackctx_new(j, msg);
	c->disp = j->disp ? xstrdup(j->disp) : NULL;
	c->result = result;
	sargs a = {0};
	sargs_str(&a, j->key);
	sargs_str(&a, p->d->node);
	sargs_str(&a, j->w->id);
	sargs_u64(&a, j->fence);
	sargs_str(&a, result);
	sargs_str(&a, msg ? msg : "");
	sargs_u64(&a, p->opts.pending_job_ttl_ms);
	sargs_str(&a, j->disp ? j->disp : "");
	store_script(p->d->store, S_STARTED, p->base, a.n, a.v, a.l, started_cb, c);
	sargs_free(&a);
	free(j->disp);
	j->disp = NULL;
}

/* A dispatch made on this node whose start succeeded is answered now,
 * not after started.lua: that script only deletes the dispatch record,
 * which no view shows, and it runs before any later command of this node
 * (one connection, in order), so nothing can see the difference; the
 * caller saves a Redis round trip. A failed start is answered only once
 * Redis removed the job (started_cb): the error says it does not exist. */
static void answer_local_start(struct job *j)
{
	struct pulsed *d = j->w->pool->d;
	uint64_t rid = local_rid(d, j->disp);
	if (rid)
		request_finish(d, rid, 0, NULL);
}


/* The job runs on its worker under its current fence: its caller, if
 * local, is answered now and Redis records the start. */
static void report_started(struct job *j)
{
	answer_local_start(j);
	call_started(j, "ok", NULL);
}

/* The jobs a release hands back, kept until Redis answered it. */
struct release_ctx {
	struct pool *p;
	size_t n;
	struct kept {
		char *key, *payload;
		size_t plen;
		uint64_t since;
	} jobs[];
};

static void release_ctx_free(struct release_ctx *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->jobs[i].key);
		free(c->jobs[i].payload);
	}
	free(c);
}

/* release.lua answered LOST (Redis lost its data since this node joined)
 * or nothing (Redis went away): the jobs may exist nowhere now, so the
 * pool keeps them for its next join, which re-creates those Redis lacks
 * (P4), and re-joins. */
static void release_cb(struct pulsed *d, redisReply *r, void *arg)
{
	(void)d;
	struct release_ctx *c = arg;
	int lost = !r || store_reply(r) == SR_LOST;
	if (lost) {
		for (size_t i = 0; i < c->n; i++)
			pool_keep_job(c->p, c->jobs[i].key, c->jobs[i].payload,
			              c->jobs[i].plen, c->jobs[i].since);
		pool_lost(c->p);
	}
	release_ctx_free(c);
}

/* Hand jobs of this node back to the waiting set, or, when Redis cannot
 * be told now (down, or the pool fenced or re-joining), to the pool's
 * memory for its next join. */
static void release_jobs(struct pool *p, struct job **js, size_t n)
{
	if (n == 0)
		return;
	if (!pool_usable(p)) {
		for (size_t i = 0; i < n; i++)
			pool_keep_job(p, js[i]->key, js[i]->payload, js[i]->plen,
			              js[i]->since);
		pool_lost(p);
		return;
	}
	struct release_ctx *c = xcalloc(1, sizeof(*c) + n * sizeof(c->jobs[0]));
	c->p = p;
	c->n = n;
	const char **keys = xcalloc(n, sizeof(*keys));
	const char **owners = xcalloc(n, sizeof(*owners));
	char (*buf)[160] = xcalloc(n, sizeof(*buf));
	for (size_t i = 0; i < n; i++) {
		snprintf(buf[i], sizeof(buf[i]), "%s %" PRIu64, js[i]->w->id,
		         js[i]->fence);
		keys[i] = js[i]->key;
		owners[i] = buf[i];
		c->jobs[i].key = xstrdup(js[i]->key);
		c->jobs[i].plen = js[i]->plen;
		c->jobs[i].since = js[i]->since;
		c->jobs[i].payload = xmalloc(js[i]->plen ? js[i]->plen : 1);
		if (js[i]->plen)
			memcpy(c->jobs[i].payload, js[i]->payload, js[i]->plen);
	}
	pool_release_keys(p, keys, owners, n, release_cb, c);
	free(keys);
	free(owners);
	free(buf);
}

/* A local stop request is answered only once Redis has removed the job:
 * if the owner record changed while the handler stopped it (this node was
 * reaped during a Redis pause, say), the job lives on elsewhere and the
 * stop must look for its owner again, not report success. */
static void remove_cb(struct pulsed *d, redisReply *r, void *arg)
{
	struct ackctx *c = arg;
	if (c->rid) {
		if (store_reply(r) == SR_STALE) {
			LOGI(&d->log, "pool %s: job %s changed owner while it was "
			     "being stopped; looking for it again", c->p->name, c->key);
			request_retry(d, c->rid);
		} else if (r && r->type == REDIS_REPLY_ARRAY) {
			request_finish(d, c->rid, c->code, c->code ? c->msg : NULL);
		} else {
			request_finish(d, c->rid, PULSE_E_UNAVAILABLE,
			               "Redis went away while the job was removed: "
			               "JOB tells whether it still exists");
		}
	}
	ackctx_free(c);
}

/* The stop handler answered a stop request: the job ends in Redis and the
 * caller (local, or remote through remove.lua) gets the handler's answer. */
static void call_remove(struct job *j, struct jobop *o, int code,
                        const char *msg)
{
	struct pool *p = j->w->pool;
	char who[64], err[LOG_TEXT_MAX * 4 + 16];
	op_caller(p, o, who, sizeof(who));
	job_log(j, LOG_INFO, "stop", "%s%s", who,
	        code ? error_field(err, sizeof(err), msg) : "");
	sargs a = {0};
	sargs_str(&a, j->key);
	sargs_str(&a, p->d->node);
	sargs_str(&a, j->w->id);
	sargs_u64(&a, j->fence);
	sargs_str(&a, o->reply_node ? o->reply_node : "");
	sargs_str(&a, o->reply_rid ? o->reply_rid : "");
	sargs_str(&a, pulse_err_name(code));
	sargs_str(&a, msg ? msg : "");
	struct ackctx *c = ackctx_new(j, msg);
	c->rid = o->rid; /* answered by remove_cb */
	c->code = code;
	store_script(p->d->store, S_REMOVE, p->base, a.n, a.v, a.l, remove_cb, c);
	sargs_free(&a);
	o->rid = 0;
	free(o->reply_node);
	o->reply_node = NULL;
}

/* ---- retrying a requeued event ------------------------------------------ */

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct job *j = arg;
	if (j->ops && !j->ops->evid)
		pump(j);
}

/* Keep the op at the head of the queue, unsent, and send it again after
 * the pool's pending job TTL (P8). The timer is the job's (freed with
 * it): whatever happens to the job meanwhile (a re-join refreshing its
 * fence, a take-over), the op at its head is sent again. */
static void requeue_later(struct job *j, struct jobop *o)
{
	struct pool *p = j->w->pool;
	/* A fence's HALT answered requeue is a warning: the worker still
	 * runs the job after the node fenced itself, and the pool re-joins
	 * only once it stopped. */
	job_log(j, o->fencing ? LOG_WARN : LOG_INFO, "requeue",
	        "op=%s retry_ms=%llu%s", o->op == OP_EVENT ? "notify" : halt_kind(o),
	        (unsigned long long)p->opts.pending_job_ttl_ms,
	        o->fencing ? " note=\"still runs after the node fenced itself; "
	                     "the pool re-joins once it stopped\"" : "");
	o->evid = 0;
	o->next = j->ops;
	j->ops = o;
	if (!o->next)
		j->tail = &o->next;
	if (!j->retry)
		j->retry = evtimer_new(p->d->base, retry_cb, j);
	timer_arm_ms(j->retry, p->opts.pending_job_ttl_ms);
}

/* ---- ACKs --------------------------------------------------------------- */

/* The worker does not run the job (its start failed, was requeued, or
 * could not be sent): forget it here; Redis decides whether it ends (a
 * failed first start, a frame too large) or waits to be tried again. */
static void start_failed(struct job *j, const char *result, const char *msg)
{
	struct lworker *w = j->w;
	call_started(j, result, msg);
	job_free(j);
	job_left(w);
}

static void ack_start(struct job *j, struct jobop *o, int r, const char *msg)
{
	struct pool *p = j->w->pool;
	op_free(p, o);
	char who[64], err[LOG_TEXT_MAX * 4 + 16];
	disp_caller(p->d, j->disp, who, sizeof(who));
	if (r == PULSE_ACK_OK) {
		j->running = 1;
		job_log(j, LOG_INFO, "start", "%s", who);
		report_started(j);
		pump(j);
		return;
	}
	if (r == PULSE_ACK_ERROR)
		job_log(j, LOG_INFO, "refused", "%s%s", who,
		        error_field(err, sizeof(err), msg));
	else
		job_log(j, LOG_INFO, "requeue", "op=start retry_ms=%llu",
		        (unsigned long long)p->opts.pending_job_ttl_ms);
	start_failed(j, r == PULSE_ACK_ERROR ? "error" : "requeue", msg);
}

static void ack_halt(struct job *j, struct jobop *o, int r, const char *msg)
{
	struct lworker *w = j->w;
	struct pool *p = w->pool;
	char err[LOG_TEXT_MAX * 4 + 16];
	if (r == PULSE_ACK_REQUEUE) {
		/* The worker still runs the job (PROTOCOL.md 6.3): it stays
		 * here, and a fence waits for it before the pool re-joins, so
		 * that the job is never started again on a worker that runs it
		 * (requeue_later's line says so). */
		requeue_later(j, o);
		return;
	}
	if (o->fencing) {
		/* a shut-down pool stops its jobs through a fence: that is
		 * their stop; any other fence keeps the job for a re-join */
		if (p->state == POOL_SHUTDOWN)
			job_log(j, LOG_INFO, "stop", "by=shutdown%s",
			        error_field(err, sizeof(err), msg));
		else
			job_log(j, LOG_INFO, "fence", "%s",
			        error_field(err, sizeof(err), msg));
		op_free(p, o);
		job_end(j);
		job_left(w);
		return;
	}
	if (o->moving && !o->rid && !o->reply_node) {
		/* a stop handler that failed: the job moves anyway */
		job_log(j, r == PULSE_ACK_ERROR ? LOG_WARN : LOG_INFO, "move",
		        "reason=%s%s", move_reason(j, o->moving),
		        r == PULSE_ACK_ERROR ? error_field(err, sizeof(err), msg) : "");
		release_jobs(p, &j, 1);
		op_free(p, o);
		job_end(j);
		job_left(w);
		return;
	}
	call_remove(j, o, r == PULSE_ACK_OK ? 0 : PULSE_E_HANDLER, msg);
	op_free(p, o);
	job_end(j);
	job_left(w);
}

static void ack_event(struct job *j, struct jobop *o, int r, const char *msg)
{
	if (r == PULSE_ACK_REQUEUE) {
		requeue_later(j, o);
		return;
	}
	op_answer(j->w->pool, o, r == PULSE_ACK_OK ? 0 : PULSE_E_HANDLER, msg);
	op_free(j->w->pool, o);
	pump(j);
}

void jobs_ack(struct session *s, struct pool *none, const pulse_msg *m)
{
	(void)none; /* the session's worker names its pool */
	struct lworker *w = s->worker;
	struct job *j = w ? table_get_u64(&w->events, m->id) : NULL;
	if (!j || !j->ops || j->ops->evid != m->id) {
		session_drop(s, PULSE_E_PROTOCOL, "ACK for an event never sent");
		return;
	}
	table_del_u64(&w->events, m->id);
	char msg[1024];
	snprintf(msg, sizeof(msg), "%.*s", (int)m->msg.n, m->msg.p ? m->msg.p : "");
	struct jobop *o = pop(j);
	switch (o->op) {
	case OP_START:
		ack_start(j, o, (int)m->r, msg);
		break;
	case OP_HALT:
		ack_halt(j, o, (int)m->r, msg);
		break;
	default:
		ack_event(j, o, (int)m->r, msg);
	}
}

/* ---- assignments and events --------------------------------------------- */

/* Redis assigned again a key this worker already runs or starts (the
 * first assignment was reaped, say, and the job claimed back for the same
 * worker): never a second START, but the new owner record still needs its
 * start answer, or its dispatch would wait for ever. Running: answer now.
 * Starting: the START in flight answers with the new fence and dispatch.
 * Halting: start it again once the halt ended (job_end). */
static void take_over(struct job *j, uint64_t fence, const char *payload,
                      size_t plen, const char *disp)
{
	if (has_halt(j)) {
		struct reassign *a = xcalloc(1, sizeof(*a));
		a->fence = fence;
		a->payload = xmemdup(payload, plen);
		a->plen = plen;
		a->disp = disp ? xstrdup(disp) : NULL;
		reassign_free(j->again); /* the newest assignment wins */
		j->again = a;
		LOGI(&j->w->pool->d->log, "pool %s: %s assigned again to worker %s "
		     "while it stops there: started again once stopped",
		     j->w->pool->name, j->key, j->w->id);
		return;
	}
	j->fence = fence;
	j->since = pool_redis_now_ms(j->w->pool);
	free(j->disp);
	j->disp = disp ? xstrdup(disp) : NULL;
	if (j->running)
		report_started(j);
}

void jobs_assign(struct pool *p, const char *wid, const char *key,
                   uint64_t fence, const char *payload, size_t plen,
                   const char *disp)
{
	if (p->state != POOL_ACTIVE)
		return; /* fenced: the next join reaps what Redis says this node
		         * owns, so the job waits for a claim; never start here */
	struct lworker *w = table_get(&p->lworkers, wid, strlen(wid));
	struct job *j = table_get(&p->ljobs, key, strlen(key));
	if (j && j->w == w && !w->detaching) {
		if (fence != j->fence)
			take_over(j, fence, payload, plen, disp);
		return;
	}
	if (!w || w->detaching || p->d->draining || j) {
		/* The worker left (or another local worker still holds the
		 * key, or pulsed drains and a view older than the drain chose
		 * this worker): give the job back at once. */
		struct lworker tmpw = {.id = (char *)wid, .pool = p};
		struct job tmp = {.key = (char *)key, .w = &tmpw, .fence = fence,
		                  .payload = (char *)payload, .plen = plen,
		                  .since = pool_redis_now_ms(p)};
		struct job *tp = &tmp;
		release_jobs(p, &tp, 1);
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->key = xstrdup(key);
	j->w = w;
	j->fence = fence;
	j->disp = disp ? xstrdup(disp) : NULL;
	j->payload = xmemdup(payload, plen);
	j->plen = plen;
	j->since = pool_redis_now_ms(p);
	j->tail = &j->ops;
	table_set(&w->jobs, key, strlen(key), j);
	table_set(&p->ljobs, key, strlen(key), j);
	enqueue(j, op_new(OP_START, payload, plen));
}

int jobs_event(struct pool *p, const char *key, int op,
                     const char *payload, size_t plen, uint64_t rid,
                     const char *reply_node, const char *reply_rid)
{
	struct job *j = table_get(&p->ljobs, key, strlen(key));
	if (!j)
		return -1;
	struct jobop *o = NULL;
	int queue = 0;
	if (op == OP_HALT && has_halt(j)) {
		/* A stop of a job that is moving rides on the move's HALT: the
		 * job then ends here instead of starting on the new worker only
		 * to be halted there (issue 14 item 6). Behind any other HALT
		 * (a stop, a self-fence) the caller looks again later. */
		o = moving_halt(j);
		if (!o)
			return -1;
	} else {
		o = op_new(op, payload, plen);
		queue = 1;
	}
	/* who to answer, before the queue may answer (and free) the op at
	 * once: a notification the worker cannot take, say */
	o->rid = rid;
	if (reply_node) {
		o->reply_node = xstrdup(reply_node);
		o->reply_rid = xstrdup(reply_rid ? reply_rid : "0");
	}
	if (queue)
		enqueue(j, o);
	return 0;
}

void job_move(struct job *j, int why)
{
	struct jobop *o = op_new(OP_HALT, NULL, 0);
	o->moving = why;
	enqueue(j, o);
}

void job_fence(struct job *j)
{
	/* Queued events will not run here: their callers look again. */
	struct jobop **pp = &j->ops;
	if (*pp && (*pp)->evid)
		pp = &(*pp)->next; /* the one in flight stays */
	while (*pp) {
		struct jobop *o = *pp;
		*pp = o->next;
		op_reroute(j->w->pool, o);
		op_free(j->w->pool, o);
	}
	j->tail = pp;
	struct jobop *o = op_new(OP_HALT, NULL, 0);
	o->fencing = 1;
	enqueue(j, o);
}

void jobs_fence_pool(struct pool *p)
{
	table_iter it;
	struct tentry *e;
	table_iter_init(&it, &p->ljobs);
	while ((e = table_next(&it)))
		job_fence(e->val);
	if (p->ljobs.n == 0)
		p->d->poolh.jobs_gone(p, NULL); /* none to wait for */
}


/* ---- the jobs of one worker ---------------------------------------------- */

/* Hand every job of the worker to another one, except those already being
 * stopped (a second HALT would stop the job after it moved). */
void jobs_move_worker(struct lworker *w)
{
	table_iter it;
	struct tentry *e;
	table_iter_init(&it, &w->jobs);
	while ((e = table_next(&it))) {
		struct job *j = e->val;
		if (!has_halt(j)) {
			w->pool->d->m.moves[MOVED_DETACH]++; /* metrics */
			job_move(j, MOVE_DETACH);
		}
	}
}

/* The worker's session ended: its process is gone, so its jobs are
 * released at once for other workers (P4), except those a self-fence
 * halts (their records stay until the lease ends). Every job leaves this
 * node's memory; queued stops and notifications look for their job again. */
void jobs_worker_gone(struct lworker *w)
{
	struct pool *p = w->pool;
	size_t n = w->jobs.n, i = 0;
	struct job **js = xcalloc(n ? n : 1, sizeof(*js));
	table_iter it;
	struct tentry *e;
	table_iter_init(&it, &w->jobs);
	while ((e = table_next(&it))) {
		struct job *j = e->val;
		if (!has_fencing(j)) {
			job_log(j, LOG_INFO, "move", "reason=worker-gone");
			js[i++] = j;
		}
	}
	if (i > 0) {
		p->d->m.moves[MOVED_WORKER_GONE] += i; /* metrics */
		release_jobs(p, js, i);
	}
	free(js);
	table_iter_init(&it, &w->jobs);
	while ((e = table_next(&it)))
		job_free(e->val);
}

/* pulsed is stopping and frees the worker: whoever waits on one of its
 * jobs is answered CLOSED. */
void jobs_worker_free(struct lworker *w)
{
	table_iter it;
	struct tentry *e;
	table_iter_init(&it, &w->jobs);
	while ((e = table_next(&it))) {
		struct job *j = e->val;
		struct jobop *o;
		while ((o = pop(j))) {
			op_answer(w->pool, o, PULSE_E_CLOSED, "pulsed is stopping");
			op_release(o);
		}
		table_del(&w->pool->ljobs, j->key, strlen(j->key));
		job_free_memory(j);
	}
}
