/*
 * client.c: requests from client sessions.
 *
 * Owns: checking each request (pool, key, payload size), the table of
 * requests waiting for an answer (local worker, another node, or a retry),
 * their timeouts, and the read-only views (job keys, a job's payload,
 * workers, status).
 *
 * Invariants:
 *   - Every request gets exactly one answer, unless its session went away
 *     first (then the answer is dropped, the work is not undone: a
 *     dispatched job still runs, P2).
 *   - A dispatch's TIMEOUT never undoes the admission: the job exists and
 *     will run, and JOB says so; a second dispatch of the key gets
 *     JOB_EXISTS.
 *   - Requests are found by id when an answer comes; a late answer for a
 *     finished request is ignored.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>

#include "pulsed.h"
#include "store.h"

#define RETRY_MS 20
#define MAX_INFLIGHT 4096

static void route(struct request *q);

static void request_free(struct pulsed *d, struct request *q)
{
	table_del_u64(&d->requests, q->rid);
	struct session *s = session_find(d, q->sid);
	if (s && s->inflight)
		s->inflight--;
	if (q->timer)
		event_free(q->timer);
	if (q->retry)
		event_free(q->retry);
	free(q->key);
	free(q->payload);
	free(q->owner);
	free(q);
}

void request_finish(struct pulsed *d, uint64_t rid, int code, const char *msg)
{
	struct request *q = table_get_u64(&d->requests, rid);
	if (!q)
		return;
	struct session *s = session_find(d, q->sid);
	if (s) {
		if (code == 0)
			session_ok(s, q->id);
		else
			session_error(s, q->id, code, "%s", msg && *msg ? msg :
			              pulse_err_name(code));
	}
	if (q->type == PULSE_T_DISPATCH)
		metrics_dispatch(d, code, q->started_us); /* result, latency */
	if (code != 0 && code != PULSE_E_HANDLER)
		LOGD(&d->log, "request %" PRIu64 " (%s): %s %s", rid,
		     q->key ? q->key : "", pulse_err_name(code), msg ? msg : "");
	request_free(d, q);
}

void requests_fail_all(struct pulsed *d, int code, const char *msg)
{
	table_iter it;
	struct tentry *e;
	table_iter_init(&it, &d->requests);
	while ((e = table_next(&it))) {
		struct request *q = e->val;
		request_finish(d, q->rid, code, msg);
	}
}

void requests_data_lost(struct pool *p)
{
	table_iter it;
	struct tentry *e;
	table_iter_init(&it, &p->d->requests);
	while ((e = table_next(&it))) {
		struct request *q = e->val;
		if (q->pool == p && q->admission == ADM_DONE)
			q->admission = ADM_UNSURE;
	}
}

static void timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct request *q = arg;
	static const char *const adm[] = {
		[ADM_NONE] = "not admitted in time (the node is joining its pool, "
		             "or the pool is being rebuilt); the job was not created",
		[ADM_SENT] = "no answer to the admission in time; JOB tells "
		             "whether the job exists",
		[ADM_DONE] = "no start answer in time; the job exists and will run",
		[ADM_UNSURE] = "no start answer in time, and Redis lost its data "
		               "meanwhile; JOB tells whether the job exists"};
	const char *what_s = q->type == PULSE_T_DISPATCH ? adm[q->admission]
	                                                 : "no answer in time";
	request_finish(q->pool->d, q->rid, PULSE_E_TIMEOUT, what_s);
}

static void dispatch(struct request *q);

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct request *q = arg;
	if (q->type == PULSE_T_DISPATCH)
		dispatch(q);
	else
		route(q);
}

/* Try a request again after ms (its own deadline still applies). */
static void retry_in(struct request *q, uint64_t ms)
{
	timer_arm_ms(q->retry, ms);
}

void request_retry(struct pulsed *d, uint64_t rid)
{
	struct request *q = table_get_u64(&d->requests, rid);
	if (q)
		retry_in(q, RETRY_MS);
}

/* A request waiting for its answer, registered before anything is sent
 * (an answer can never come before it is looked for). sid 0: nobody
 * waits (pulsed's own requests). */
static struct request *request_make(struct pulsed *d, uint64_t sid,
                                    uint64_t id, int type, struct pool *p,
                                    const char *key, size_t klen,
                                    const char *payload, size_t plen,
                                    uint64_t limit_ms)
{
	struct request *q = calloc(1, sizeof(*q));
	if (!q)
		abort();
	q->rid = ++d->next_rid;
	q->sid = sid;
	q->id = id;
	q->type = type;
	q->pool = p;
	q->key = xstrndup(key, klen);
	if (payload) {
		q->payload = xmemdup(payload, plen);
		q->plen = plen;
	}
	q->started_us = now_us();
	q->timer = evtimer_new(d->base, timeout_cb, q);
	q->retry = evtimer_new(d->base, retry_cb, q);
	uint64_t ms = 2 * p->opts.ack_grace_ms;
	if (limit_ms && limit_ms < ms)
		ms = limit_ms;
	timer_arm_ms(q->timer, ms);
	table_set_u64(&d->requests, q->rid, q);
	return q;
}

static struct request *request_new(struct session *s, const pulse_msg *m,
                                   struct pool *p)
{
	struct request *q = request_make(
		s->d, s->sid, m->id, (int)m->type, p, m->key.p, m->key.n,
		(m->has & PM_PAYLOAD) ? m->payload.p : NULL, m->payload.n,
		(m->has & PM_TIMEOUT) ? m->timeout_ms : 0);
	s->inflight++;
	return q;
}

/* ---- dispatch ----------------------------------------------------------- */

static int code_of(const char *s)
{
	int c = pulse_err_from_name(s, strlen(s));
	return c < 0 ? PULSE_E_UNAVAILABLE : c;
}

struct qref {
	struct pulsed *d;
	uint64_t rid;
};

static struct qref *qref(struct request *q)
{
	struct qref *r = malloc(sizeof(*r));
	if (!r)
		abort();
	r->d = q->pool->d;
	r->rid = q->rid;
	return r;
}

/* The request a Redis callback was for (NULL if it already finished);
 * frees the reference. */
static struct request *qref_take(struct pulsed *d, void *arg)
{
	struct qref *ref = arg;
	struct request *q = table_get_u64(&d->requests, ref->rid);
	free(ref);
	return q;
}

static const char *reply_code(redisReply *r)
{
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
	    r->element[0]->type != REDIS_REPLY_STRING)
		return NULL;
	return r->element[0]->str;
}

/* A script answered LOST: Redis does not know this node (it lost its
 * data, or others reaped the node), so the jobs running here are not
 * announced there and a key that runs may look free, a stop may find
 * nothing. Ask again once the node re-joined (pool_lost). */
static int retry_if_lost(struct request *q, const char *code)
{
	if (strcmp(code, "LOST") != 0)
		return 0;
	pool_lost(q->pool);
	retry_in(q, RETRY_MS);
	return 1;
}

static void admit_cb(struct pulsed *d, redisReply *r, void *arg)
{
	struct request *q = qref_take(d, arg);
	if (!q)
		return;
	const char *code = reply_code(r);
	if (!code) {
		request_finish(d, q->rid, PULSE_E_UNAVAILABLE,
		               "Redis did not answer the admission; JOB tells "
		               "whether the job exists");
		return;
	}
	q->admission = strcmp(code, "OWNED") == 0 || strcmp(code, "WAIT") == 0
	               ? ADM_DONE : ADM_NONE;
	if (retry_if_lost(q, code))
		return;
	if (strcmp(code, "OWNED") == 0 && r->elements >= 2 &&
	    r->element[1]->type == REDIS_REPLY_INTEGER) {
		/* The local worker admit.lua recorded, not a fresh pick (the
		 * view may have changed since): worker_assign starts it, or
		 * gives the job back to 'wait' if that worker is gone. The
		 * dispatch record lets the start answer skip a lookup. */
		if (q->owner) {
			char disp[384];
			int n = snprintf(disp, sizeof(disp), "%s %" PRIu64, d->node,
			                 q->rid);
			worker_assign(q->pool, q->owner, q->key,
			              (uint64_t)r->element[1]->integer, q->payload
			              ? q->payload : "", q->plen,
			              n < (int)sizeof(disp) ? disp : NULL);
		}
		/* else the owner node starts it from its inbox */
		return;
	}
	if (strcmp(code, "WAIT") == 0)
		return; /* started by whichever node claims it */
	if (strcmp(code, "REBUILD") == 0 && r->elements >= 2 &&
	    r->element[1]->type == REDIS_REPLY_INTEGER) {
		/* Redis lost the pool and the nodes are re-announcing what
		 * runs: admit once they all had the time to (join.lua) */
		retry_in(q, (uint64_t)r->element[1]->integer + 1);
		return;
	}
	request_finish(d, q->rid, code_of(code),
	               strcmp(code, "JOB_EXISTS") == 0 ? "job exists"
	               : strcmp(code, "POOL_FULL") == 0
	               ? "too many jobs wait for a worker"
	               : strcmp(code, "SHUTDOWN") == 0 ? "pool is shut down"
	               : code);
}

static void dispatch(struct request *q)
{
	struct pool *p = q->pool;
	if (p->state == POOL_SHUTDOWN) {
		request_finish(p->d, q->rid, PULSE_E_SHUTDOWN, "pool is shut down");
		return;
	}
	if (pool_refusal(p)) {
		request_finish(p->d, q->rid, PULSE_E_UNAVAILABLE, pool_refusal(p));
		return;
	}
	if (!pool_usable(p)) {
		/* first use of the pool (joining) or Redis away: admit once the
		 * node is in the pool, or answer TIMEOUT (nothing admitted) */
		request_retry(p->d, q->rid);
		return;
	}
	const char *owner = pool_owner_of(p, q->key, strlen(q->key));
	const char *onode = owner ? table_get(&p->workers, owner, strlen(owner))
	                          : NULL;
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
	             qref(q));
	sargs_free(&a);
}

/* ---- stop and notify ---------------------------------------------------- */

static void route_cb(struct pulsed *d, redisReply *r, void *arg)
{
	struct request *q = qref_take(d, arg);
	if (!q)
		return;
	const char *code = reply_code(r);
	int op = q->type == PULSE_T_STOP ? OP_HALT : OP_EVENT;
	if (!code) {
		request_finish(d, q->rid, PULSE_E_UNAVAILABLE, "Redis is unreachable");
	} else if (retry_if_lost(q, code)) {
		return;
	} else if (strcmp(code, "JOB_NOT_FOUND") == 0) {
		request_finish(d, q->rid, PULSE_E_JOB_NOT_FOUND, "job not found");
	} else if (strcmp(code, "LOCAL") == 0) {
		if (worker_job_event(q->pool, q->key, op, q->payload, q->plen,
		                     q->rid, NULL, NULL) < 0)
			request_retry(d, q->rid);
	} else if (strcmp(code, "DELETED") == 0) {
		/* A waiting job was removed; a local dispatch of it ends too. */
		if (r->elements >= 2 && r->element[1]->type == REDIS_REPLY_STRING &&
		    r->element[1]->len > 0) {
			const char *sp = strchr(r->element[1]->str, ' ');
			if (sp)
				request_finish(d, strtoull(sp + 1, NULL, 10),
				               PULSE_E_JOB_NOT_FOUND,
				               "job was stopped before it started");
		}
		request_finish(d, q->rid, 0, NULL);
	} else if (strcmp(code, "WAIT") == 0) {
		request_retry(d, q->rid);
	}
	/* ROUTED: the owner node answers through our inbox */
}

static void route(struct request *q)
{
	struct pool *p = q->pool;
	if (pool_refusal(p)) {
		request_finish(p->d, q->rid, PULSE_E_UNAVAILABLE, pool_refusal(p));
		return;
	}
	if (!pool_usable(p)) {
		/* Redis away or the node re-joining: try again until the
		 * request's own timeout. */
		request_retry(p->d, q->rid);
		return;
	}
	sargs a = {0};
	sargs_str(&a, q->key);
	sargs_str(&a, q->type == PULSE_T_STOP ? "s" : "n");
	sargs_str(&a, p->d->node);
	sargs_u64(&a, q->rid);
	sargs_add(&a, q->payload ? q->payload : "", q->plen);
	store_script(p->d->store, S_ROUTE, p->base, a.n, a.v, a.l, route_cb,
	             qref(q));
	sargs_free(&a);
}

void request_internal(struct pool *p, int type, const char *key,
                      size_t klen, const char *payload, size_t plen)
{
	struct request *q = request_make(p->d, 0, 0, type, p, key, klen,
	                                 payload, plen, 0);
	if (type == PULSE_T_DISPATCH)
		dispatch(q);
	else
		route(q);
}

/* ---- views -------------------------------------------------------------- */

struct view {
	struct pulsed *d;
	uint64_t sid, id;
	int type;
	char *pool;   /* found again by name when the reply comes */
	char *key;    /* WHERE: the key asked about */
	char *worker; /* JOBS --worker: keep the keys this worker owns */
};

static struct view *view_new(struct session *s, const pulse_msg *m)
{
	struct view *v = calloc(1, sizeof(*v));
	if (!v)
		abort();
	v->d = s->d;
	v->sid = s->sid;
	v->id = m->id;
	v->type = (int)m->type;
	v->pool = xstrndup(m->pool.p, m->pool.n);
	if (m->has & PM_KEY)
		v->key = xstrndup(m->key.p, m->key.n);
	if (m->type == PULSE_T_JOBS && (m->has & PM_WORKER))
		v->worker = xstrndup(m->worker.p, m->worker.n);
	s->inflight++; /* a view holds memory until Redis answers, as a request */
	return v;
}

static void view_free(struct view *v)
{
	struct session *s = session_find(v->d, v->sid);
	if (s && s->inflight)
		s->inflight--;
	free(v->pool);
	free(v->key);
	free(v->worker);
	free(v);
}

/* Split an owner record "<node> <worker> <fence>" (REDIS.md) into its
 * node and worker, copied into buffers of len bytes. -1 if malformed. */
static int owner_record(const char *rec, size_t n, char *node, char *worker,
                        size_t len)
{
	const char *sp1 = memchr(rec, ' ', n);
	const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - rec))
	                      : NULL;
	if (!sp2 || (size_t)(sp1 - rec) >= len || (size_t)(sp2 - sp1 - 1) >= len)
		return -1;
	memcpy(node, rec, (size_t)(sp1 - rec));
	node[sp1 - rec] = '\0';
	memcpy(worker, sp1 + 1, (size_t)(sp2 - sp1 - 1));
	worker[sp2 - sp1 - 1] = '\0';
	return 0;
}

/* WHERE: the owner record when the job has an owner (exists true);
 * otherwise the worker this node's view would place the key on (a job
 * that waits, or none yet), so that an operator sees where it goes. */
static void where_reply(struct session *s, struct view *v, struct pool *p,
                        redisReply *r)
{
	char node[PULSE_MAX_POOL + 1], worker[PULSE_MAX_POOL + 1];
	int owned = r->type == REDIS_REPLY_STRING &&
	            owner_record(r->str, r->len, node, worker, sizeof(node)) == 0;
	if (!owned) {
		const char *w = pool_owner_of(p, v->key, strlen(v->key));
		const char *nd = w ? table_get(&p->workers, w, strlen(w)) : NULL;
		if (!w || !nd) {
			session_error(s, v->id, PULSE_E_UNAVAILABLE,
			              "no worker in pool %s", p->name);
			return;
		}
		snprintf(worker, sizeof(worker), "%s", w);
		snprintf(node, sizeof(node), "%s", nd);
	}
	pulse_buf b = {0};
	pulse_enc e;
	pulse_enc_begin(&e, &b, PULSE_T_OK, v->id, 3);
	pulse_enc_cstr(&e, "worker", worker);
	pulse_enc_cstr(&e, "node", node);
	pulse_enc_bool(&e, "exists", owned);
	session_send_enc(s, &e);
}

/* NODES: each node of the pool with its lease's remaining time (its score
 * in B nodes minus Redis's clock) and its workers in this node's view. */
static void nodes_reply(struct session *s, struct view *v, struct pool *p,
                        redisReply *r)
{
	size_t n = r->type == REDIS_REPLY_ARRAY ? r->elements / 2 : 0;
	uint64_t now = pool_redis_now_ms(p);
	pulse_buf b = {0};
	pulse_enc e;
	pulse_enc_begin(&e, &b, PULSE_T_OK, v->id, 1);
	pulse_enc_key(&e, "workers");
	msgpack_pack_array(&e.pk, n);
	for (size_t i = 0; i < n; i++) {
		redisReply *nd = r->element[2 * i], *sc = r->element[2 * i + 1];
		const char *node = nd->type == REDIS_REPLY_STRING ? nd->str : "";
		uint64_t until = sc->type == REDIS_REPLY_STRING
		                 ? strtoull(sc->str, NULL, 10) : 0;
		uint64_t workers = 0;
		for (size_t w = 0; w < p->nwids; w++) {
			const char *wn = table_get(&p->workers, p->wids[w],
			                           strlen(p->wids[w]));
			workers += wn && strcmp(wn, node) == 0;
		}
		msgpack_pack_map(&e.pk, 3);
		pulse_enc_cstr(&e, "node", node);
		pulse_enc_uint(&e, "lease_ms", until > now ? until - now : 0);
		pulse_enc_uint(&e, "workers", workers);
	}
	session_send_enc(s, &e);
}

/* Whether an owner record (a reply element) names the worker. */
static int owned_by(const redisReply *rec, const char *wid)
{
	char node[PULSE_MAX_POOL + 1], worker[PULSE_MAX_POOL + 1];
	return rec->type == REDIS_REPLY_STRING &&
	       owner_record(rec->str, rec->len, node, worker, sizeof(node)) == 0 &&
	       strcmp(worker, wid) == 0;
}

/* JOBS --worker: the keys whose owner record names the worker (HGETALL
 * owner: key, record pairs). */
static void owned_reply(struct session *s, struct view *v, redisReply *r)
{
	size_t n = r->type == REDIS_REPLY_ARRAY ? r->elements / 2 : 0, count = 0;
	for (size_t i = 0; i < n; i++)
		count += owned_by(r->element[2 * i + 1], v->worker);
	pulse_buf b = {0};
	pulse_enc e;
	pulse_enc_begin(&e, &b, PULSE_T_OK, v->id, 1);
	pulse_enc_key(&e, "keys");
	msgpack_pack_array(&e.pk, count);
	for (size_t i = 0; i < n; i++) {
		redisReply *k = r->element[2 * i];
		if (owned_by(r->element[2 * i + 1], v->worker)) {
			msgpack_pack_str(&e.pk, k->len);
			msgpack_pack_str_body(&e.pk, k->str, k->len);
		}
	}
	session_send_enc(s, &e);
}

static void view_cb(struct pulsed *d, redisReply *r, void *arg)
{
	struct view *v = arg;
	struct session *s = session_find(d, v->sid);
	if (!s)
		goto out;
	if (!r || r->type == REDIS_REPLY_ERROR) {
		session_error(s, v->id, PULSE_E_UNAVAILABLE, "Redis is unreachable");
		goto out;
	}
	if (v->type == PULSE_T_WHERE || v->type == PULSE_T_NODES || v->worker) {
		/* the views that read the pool's worker view */
		struct pool *p = table_get(&d->pools, v->pool, strlen(v->pool));
		if (!p)
			session_error(s, v->id, PULSE_E_UNAVAILABLE, "pool %s is gone",
			              v->pool);
		else if (v->type == PULSE_T_WHERE)
			where_reply(s, v, p, r);
		else if (v->type == PULSE_T_NODES)
			nodes_reply(s, v, p, r);
		else
			owned_reply(s, v, r);
		goto out;
	}
	pulse_buf b = {0};
	pulse_enc e;
	if (v->type == PULSE_T_JOBS) {
		pulse_enc_begin(&e, &b, PULSE_T_OK, v->id, 1);
		pulse_enc_key(&e, "keys");
		size_t n = r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
		msgpack_pack_array(&e.pk, n);
		for (size_t i = 0; i < n; i++) {
			redisReply *k = r->element[i];
			msgpack_pack_str(&e.pk, k->len);
			msgpack_pack_str_body(&e.pk, k->str, k->len);
		}
	} else if (v->type == PULSE_T_JOB) {
		int exists = r->type == REDIS_REPLY_STRING;
		pulse_enc_begin(&e, &b, PULSE_T_OK, v->id, exists ? 2 : 1);
		pulse_enc_bool(&e, "exists", exists);
		if (exists)
			pulse_enc_bin(&e, "payload", r->str, r->len);
	} else { /* WORKERS: flat worker, node, jobs */
		size_t n = r->type == REDIS_REPLY_ARRAY ? r->elements / 3 : 0;
		pulse_enc_begin(&e, &b, PULSE_T_OK, v->id, 1);
		pulse_enc_key(&e, "workers");
		msgpack_pack_array(&e.pk, n);
		for (size_t i = 0; i < n; i++) {
			redisReply *w = r->element[3 * i], *nd = r->element[3 * i + 1],
			           *c = r->element[3 * i + 2];
			msgpack_pack_map(&e.pk, 4);
			pulse_enc_str(&e, "id", w->str ? w->str : "", w->len);
			/* a stable name is the id; generated ids start with the
			 * node id and carry no name */
			int gen = nd->str && strncmp(w->str, nd->str, nd->len) == 0 &&
			          w->str[nd->len] == '.';
			pulse_enc_str(&e, "name", gen ? "" : w->str, gen ? 0 : w->len);
			pulse_enc_str(&e, "node", nd->str ? nd->str : "", nd->len);
			pulse_enc_uint(&e, "jobs", c->type == REDIS_REPLY_INTEGER
			               ? (uint64_t)c->integer : 0);
		}
	}
	session_send_enc(s, &e);
out:
	view_free(v);
}

static void local_workers(struct session *s, const pulse_msg *m,
                          struct pool *p)
{
	pulse_buf b = {0};
	pulse_enc e;
	pulse_enc_begin(&e, &b, PULSE_T_OK, m->id, 1);
	pulse_enc_key(&e, "workers");
	msgpack_pack_array(&e.pk, p->lworkers.n);
	table_iter it;
	struct tentry *te;
	table_iter_init(&it, &p->lworkers);
	while ((te = table_next(&it))) {
		struct lworker *w = te->val;
		int gen = strncmp(w->id, s->d->node, strlen(s->d->node)) == 0 &&
		          w->id[strlen(s->d->node)] == '.';
		msgpack_pack_map(&e.pk, 4);
		pulse_enc_cstr(&e, "id", w->id);
		pulse_enc_cstr(&e, "name", gen ? "" : w->id);
		pulse_enc_cstr(&e, "node", s->d->node);
		pulse_enc_uint(&e, "jobs", w->jobs.n);
	}
	session_send_enc(s, &e);
}

static const char *state_name(int st)
{
	static const char *const n[] = {"joining", "active", "fenced",
	                                "shutdown", "left"};
	return st >= 0 && st <= POOL_LEFT ? n[st] : "?";
}

static void status(struct session *s, const pulse_msg *m)
{
	struct pulsed *d = s->d;
	pulse_buf b = {0};
	pulse_enc e;
	uint64_t now = now_ms();
	pulse_enc_begin(&e, &b, PULSE_T_OK, m->id, 1);
	pulse_enc_key(&e, "status");
	msgpack_pack_map(&e.pk, 7);
	pulse_enc_cstr(&e, "node", d->node);
	pulse_enc_bool(&e, "draining", d->draining);
	pulse_enc_cstr(&e, "version", PULSED_VERSION);
	pulse_enc_uint(&e, "uptime_ms", now - d->start_ms);
	pulse_enc_bool(&e, "redis", store_up(d->store));
	pulse_enc_uint(&e, "sessions", d->nsessions);
	pulse_enc_key(&e, "pools");
	msgpack_pack_array(&e.pk, d->pools.n);
	table_iter it;
	struct tentry *te;
	table_iter_init(&it, &d->pools);
	while ((te = table_next(&it))) {
		struct pool *p = te->val;
		msgpack_pack_map(&e.pk, 9);
		pulse_enc_cstr(&e, "name", p->name);
		pulse_enc_cstr(&e, "state", state_name(p->state));
		pulse_enc_uint(&e, "workers", p->lworkers.n);
		pulse_enc_uint(&e, "workers_pool", p->nwids);
		pulse_enc_uint(&e, "jobs_local", p->ljobs.n);
		pulse_enc_uint(&e, "jobs_pool", p->jobs_pool);
		pulse_enc_uint(&e, "waiting", p->waiting);
		pulse_enc_uint(&e, "lease_age_ms", p->lease_ok_ms ? now - p->lease_ok_ms : 0);
		pulse_enc_uint(&e, "redis_rtt_us", p->rtt_us);
	}
	session_send_enc(s, &e);
}

/* ---- entry -------------------------------------------------------------- */

/* Copy a counted string into a NUL-terminated buffer; -1 if too long. */
static int cstr(char *buf, size_t len, pulse_str s)
{
	if (s.n >= len)
		return -1;
	memcpy(buf, s.p, s.n);
	buf[s.n] = '\0';
	return 0;
}

void client_request(struct session *s, const pulse_msg *m)
{
	struct pulsed *d = s->d;
	char err[256], pool[PULSE_MAX_POOL + 1];
	int code = 0;
	if (m->type == PULSE_T_STATUS) {
		status(s, m);
		return;
	}
	if (m->type == PULSE_T_DRAIN || m->type == PULSE_T_UNDRAIN) {
		if (m->type == PULSE_T_DRAIN)
			drain_request(s, m);
		else
			undrain_request(s, m);
		return;
	}
	if (cstr(pool, sizeof(pool), m->pool) < 0 ||
	    pulse_check_pool(pool, strlen(pool), err, sizeof(err)) < 0) {
		session_error(s, m->id, PULSE_E_INVALID, "invalid pool name");
		return;
	}
	int mutating = m->type == PULSE_T_DISPATCH || m->type == PULSE_T_STOP ||
	               m->type == PULSE_T_NOTIFY;
	struct pool *p = pool_get(d, pool, 1, &code, err, sizeof(err));
	if (!p) {
		session_error(s, m->id, code, "%s", err);
		return;
	}
	if ((m->has & PM_KEY) &&
	    pulse_check_name("key", m->key.p, m->key.n, PULSE_MAX_KEY, err,
	                     sizeof(err)) < 0) {
		session_error(s, m->id, PULSE_E_INVALID, "%s", err);
		return;
	}
	if (m->type == PULSE_T_SHUTDOWN || m->type == PULSE_T_LEAVE) {
		if (!store_up(d->store))
			session_error(s, m->id, PULSE_E_UNAVAILABLE, "Redis is unreachable");
		else if (m->type == PULSE_T_SHUTDOWN)
			shutdown_request(s, p, m);
		else
			leave_request(s, p, m);
		return;
	}
	if (m->type == PULSE_T_WORKERS && (m->has & PM_LOCAL) && m->local) {
		local_workers(s, m, p);
		return;
	}
	if (p->state == POOL_SHUTDOWN) {
		session_error(s, m->id, PULSE_E_SHUTDOWN, "pool %s is shut down", pool);
		return;
	}
	if (!store_up(d->store)) {
		session_error(s, m->id, PULSE_E_UNAVAILABLE, "Redis is unreachable");
		return;
	}
	if (m->type == PULSE_T_CLOCKS) {
		clocks_request(s, p, m);
		return;
	}
	if (m->type == PULSE_T_TICKER || m->type == PULSE_T_TICKER_STOP ||
	    m->type == PULSE_T_SCHEDULE) {
		ticker_request(s, p, m);
		return;
	}
	if (s->inflight >= MAX_INFLIGHT) {
		session_error(s, m->id, PULSE_E_BUSY, "too many requests in flight");
		return;
	}
	if (!mutating) {
		char key[512];
		snprintf(key, sizeof(key), "%sjobs", p->base);
		if (m->type == PULSE_T_JOBS && (m->has & PM_WORKER)) {
			snprintf(key, sizeof(key), "%sowner", p->base);
			const char *argv[2] = {"HGETALL", key};
			store_cmd(d->store, 2, argv, NULL, view_cb, view_new(s, m));
		} else if (m->type == PULSE_T_JOBS) {
			const char *argv[2] = {"HKEYS", key};
			store_cmd(d->store, 2, argv, NULL, view_cb, view_new(s, m));
		} else if (m->type == PULSE_T_WHERE) {
			snprintf(key, sizeof(key), "%sowner", p->base);
			const char *argv[3] = {"HGET", key, m->key.p};
			size_t lens[3] = {4, strlen(key), m->key.n};
			store_cmd(d->store, 3, argv, lens, view_cb, view_new(s, m));
		} else if (m->type == PULSE_T_NODES) {
			snprintf(key, sizeof(key), "%snodes", p->base);
			const char *argv[5] = {"ZRANGE", key, "0", "-1", "WITHSCORES"};
			store_cmd(d->store, 5, argv, NULL, view_cb, view_new(s, m));
		} else if (m->type == PULSE_T_JOB) {
			const char *argv[3] = {"HGET", key, m->key.p};
			size_t lens[3] = {4, strlen(key), m->key.n};
			store_cmd(d->store, 3, argv, lens, view_cb, view_new(s, m));
		} else {
			store_script(d->store, S_WORKERS, p->base, 0, NULL, NULL, view_cb,
			             view_new(s, m));
		}
		return;
	}
	if (d->stopping) {
		session_error(s, m->id, PULSE_E_CLOSED, "pulsed is stopping");
		return;
	}
	if (m->type != PULSE_T_STOP && m->payload.n > d->cfg.max_payload) {
		session_error(s, m->id, PULSE_E_TOO_LARGE,
		              "payload of %zu bytes is over the %" PRIu64 " byte cap",
		              m->payload.n, d->cfg.max_payload);
		return;
	}
	struct request *q = request_new(s, m, p);
	if (m->type == PULSE_T_DISPATCH)
		dispatch(q);
	else
		route(q);
}
