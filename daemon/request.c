/*
 * request.c: requests waiting for an answer.
 *
 * Owns: the table of requests (d->requests: ids, the session or nobody to
 * answer), their deadlines and what a TIMEOUT says, their retries (each
 * request carries its next step, a continuation given by whoever made it,
 * so this file calls nothing above it), and finding a request again from
 * a Redis callback (request_ref / request_take).
 *
 * Invariants:
 *   - Every request gets exactly one answer, unless its session went away
 *     first (then the answer is dropped, the work is not undone: a
 *     dispatched job still runs, P2).
 *   - A dispatch's TIMEOUT never undoes the admission, and its words
 *     match what JOB says afterwards (ADM_* in pulsed.h).
 *   - Requests are found by id when an answer comes; a late answer for a
 *     finished request is ignored.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>

#include "pulsed.h"

static void request_free(struct pulsed *d, struct request *q)
{
	table_del_u64(&d->requests, q->rid);
	q->pool->nrequests--;
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

/* Whether an answer tells the caller that the job does not exist: a stop
 * that ended it, a stop or notify that found none, a dispatch whose
 * first start failed or that a stop removed before it started. */
static int says_gone(int type, int code)
{
	if (type == PULSE_T_SEND)
		return 0; /* a message is no job */
	if (type == PULSE_T_DISPATCH)
		return code == PULSE_E_HANDLER || code == PULSE_E_JOB_NOT_FOUND ||
		       code == PULSE_E_TOO_LARGE;
	return code == PULSE_E_JOB_NOT_FOUND || (type == PULSE_T_STOP && code == 0);
}

/* An OK carrying a result payload, or TOO_LARGE when it would be over
 * what the peer takes (its HELLO's max_body, PROTOCOL.md 2). */
static void ok_with_payload(struct session *s, uint64_t id,
                            const char *payload, size_t plen)
{
	pulse_buf b = {0};
	pulse_enc e;
	pulse_enc_begin(&e, &b, PULSE_T_OK, id, 1);
	pulse_enc_bin(&e, "payload", payload, plen);
	if (pulse_enc_end(&e) < 0)
		fatal_oom("an answer frame");
	size_t body = b.len - PULSE_FRAME_HDR;
	if (body > s->peer_max_body)
		session_error(s, id, PULSE_E_TOO_LARGE, "the answer of %zu bytes "
		              "is over the %" PRIu32 " bytes this session takes "
		              "(its HELLO's max_body)", plen, s->peer_max_body);
	else
		session_send(s, &b);
	pulse_buf_free(&b);
}

/* A request's type in a log line. */
static const char *type_word(int type)
{
	return type == PULSE_T_DISPATCH ? "dispatch"
	       : type == PULSE_T_STOP ? "stop"
	       : type == PULSE_T_SEND ? "send" : "notify";
}

void request_finish(struct pulsed *d, uint64_t rid, int code, const char *msg)
{
	request_answer(d, rid, code, msg, NULL, 0);
}

void request_answer(struct pulsed *d, uint64_t rid, int code, const char *msg,
                    const char *payload, size_t plen)
{
	struct request *q = table_get_u64(&d->requests, rid);
	if (!q)
		return;
	if (says_gone(q->type, code)) /* kept for a re-join after a loss */
		gone_note(&q->pool->gone, q->key, strlen(q->key), now_ms(),
		          pool_opts_gone_keep_ms(&q->pool->opts), GONE_MAX);
	struct session *s = session_find(d, q->sid);
	if (s) {
		if (code == 0 && payload)
			ok_with_payload(s, q->id, payload, plen);
		else if (code == 0)
			session_ok(s, q->id);
		else
			session_error(s, q->id, code, "%s", msg && *msg ? msg :
			              pulse_err_name(code));
	}
	if (q->type == PULSE_T_DISPATCH)
		metrics_dispatch(d, code, q->started_us); /* result, latency */
	if (code != 0 && code != PULSE_E_HANDLER) {
		char key[PULSE_MAX_KEY * 4 + 3];
		log_value(key, sizeof(key), q->key ? q->key : "",
		          q->key ? strlen(q->key) : 0);
		LOGD(&d->log, "pool %s: request %" PRIu64 " (%s key=%s): %s %s",
		     q->pool->name, rid, type_word(q->type), key,
		     pulse_err_name(code), msg ? msg : "");
	}
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
	                     : q->type == PULSE_T_SEND
	                     ? "no answer to the message in time; its handler "
	                       "may have run (it is not sent again)"
	                     : "no answer in time";
	request_finish(q->pool->d, q->rid, PULSE_E_TIMEOUT, what_s);
}

/* The retry timer runs the request's own next step, given at creation
 * (a continuation: this file names nothing above it). */
static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct request *q = arg;
	q->again(q);
}

void request_retry_in(struct request *q, uint64_t ms)
{
	timer_arm_ms(q->retry, ms);
}

void request_retry(struct pulsed *d, uint64_t rid)
{
	struct request *q = table_get_u64(&d->requests, rid);
	if (q)
		request_retry_in(q, REQUEST_RETRY_MS);
}

/* A request waiting for its answer, registered before anything is sent
 * (an answer can never come before it is looked for). sid 0: nobody
 * waits (pulsed's own requests). */
struct request *request_make(struct pulsed *d, uint64_t sid, uint64_t id,
                             int type, struct pool *p, const char *key,
                             size_t klen, const char *payload, size_t plen,
                             uint64_t limit_ms, request_step *again)
{
	struct request *q = xcalloc(1, sizeof(*q));
	q->rid = ++d->next_rid;
	q->sid = sid;
	q->id = id;
	q->type = type;
	q->pool = p;
	p->nrequests++; /* a pool with a request in flight is in use */
	q->again = again;
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

struct request *request_new(struct session *s, const pulse_msg *m,
                            struct pool *p, request_step *again)
{
	struct request *q = request_make(
		s->d, s->sid, m->id, (int)m->type, p, m->key.p, m->key.n,
		(m->has & PM_PAYLOAD) ? m->payload.p : NULL, m->payload.n,
		(m->has & PM_TIMEOUT) ? m->timeout_ms : 0, again);
	s->inflight++;
	return q;
}

struct qref {
	struct pulsed *d;
	uint64_t rid;
};

/* A reference to a request for a Redis callback, which may run after the
 * request finished: found again by id (request_take). */
void *request_ref(struct request *q)
{
	struct qref *r = xmalloc(sizeof(*r));
	r->d = q->pool->d;
	r->rid = q->rid;
	return r;
}

/* The request a Redis callback was for (NULL if it already finished);
 * frees the reference. */
struct request *request_take(struct pulsed *d, void *arg)
{
	struct qref *ref = arg;
	struct request *q = table_get_u64(&d->requests, ref->rid);
	free(ref);
	return q;
}

/* Who asked for request rid, as a job line's field: "uid=1000" for a
 * local session (its SO_PEERCRED uid), "by=pulsed" for pulsed's own (a
 * schedule's plan), "uid=?" when the session is gone; "" when rid names
 * no request (answered meanwhile). */
void request_caller(struct pulsed *d, uint64_t rid, char *buf, size_t len)
{
	struct request *q = rid ? table_get_u64(&d->requests, rid) : NULL;
	struct session *s = q ? session_find(d, q->sid) : NULL;
	if (!q)
		snprintf(buf, len, "%s", "");
	else if (!q->sid)
		snprintf(buf, len, "by=pulsed");
	else if (s)
		snprintf(buf, len, "uid=%d", (int)s->uid);
	else
		snprintf(buf, len, "uid=?");
}
