/*
 * message.c: keyed messages delivered to this node's workers.
 *
 * Owns: the MESSAGE frames sent to local workers (a SEND routed here by
 * dispatch.c, or by another node through this node's inbox), the table of
 * those a worker has not answered yet (lworker.msgs: event id -> who
 * waits), their ACKs, and the answers to their callers: a local request
 * (request.c) or a remote one (inbox.c's reply, with the answer payload).
 * Routing (which worker, on which node) is dispatch.c's.
 *
 * Layer: below worker.c (which hands it a session's ACKs and its end),
 * beside jobs.c (a message is no job: it has no key in Redis, no queue,
 * no fence); news from the inbox comes up through d->poolh.message.
 *
 * Invariants:
 *   - A message is sent to a worker at most once and never to another
 *     worker afterwards: once sent, its caller gets the worker's answer,
 *     or an error when the worker goes away first (the handler may have
 *     run); never a retry elsewhere. Only a message that was not sent
 *     (the worker is not here, or out of placement) is routed again.
 *   - Every message in a worker's table is answered exactly once: by its
 *     ACK, or when the worker's session ends, or when pulsed frees the
 *     worker. The entry is registered before the frame is sent, since the
 *     send itself may end the session (a peer that does not read).
 *   - A worker that did not say `messages: true` in its HELLO is never
 *     sent a MESSAGE: its caller gets NO_HANDLER without a round trip.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pulsed.h"

/* Messages a worker may leave unanswered before more are refused BUSY:
 * what a hung handler can make pulsed hold is bounded (P18). */
#define MAX_MESSAGES_INFLIGHT 4096

/* Who waits for the answer of one message: a local request, or a request
 * of another node (answered through its inbox). */
struct msgwait {
	uint64_t rid;
	char *reply_node, *reply_rid;
};

static void msgwait_free(struct msgwait *mw)
{
	free(mw->reply_node);
	free(mw->reply_rid);
	free(mw);
}

/* The one way a message's caller is answered, wherever it waits. code 0
 * carries the answer payload (possibly empty); code -1 sends the caller
 * routing again (the message was not sent). */
static void answer(struct pool *p, uint64_t rid, const char *reply_node,
                   const char *reply_rid, int code, const char *msg,
                   const char *payload, size_t plen)
{
	if (rid && code < 0)
		request_retry(p->d, rid);
	else if (rid)
		request_answer(p->d, rid, code, msg, code == 0 ? payload : NULL,
		               plen);
	else if (reply_node)
		inbox_reply(p, reply_node, reply_rid, code, msg,
		            code == 0 ? payload : NULL, plen);
}

/* Everything that can be answered without the worker is answered here,
 * before the frame exists (not here, no handler, too many in flight, a
 * frame it cannot take): the caller never waits for a worker that could
 * not answer. */
void message_deliver(struct pool *p, const char *wid, const char *key,
                     const char *payload, size_t plen, uint64_t rid,
                     const char *reply_node, const char *reply_rid)
{
	struct pulsed *d = p->d;
	struct lworker *w = table_get(&p->lworkers, wid, strlen(wid));
	char why[300];
	if (!w || !w->sess || !pool_worker_placed(w)) {
		/* the view that chose it is older than its detach, its end or
		 * a drain: not sent, so routed again on a newer view */
		answer(p, rid, reply_node, reply_rid, -1, "", NULL, 0);
		return;
	}
	if (!w->messages) {
		snprintf(why, sizeof(why), "worker %s has no message handler "
		         "(its HELLO did not say messages: true)", w->id);
		answer(p, rid, reply_node, reply_rid, PULSE_E_NO_HANDLER, why,
		       NULL, 0);
		return;
	}
	if (w->msgs.n >= MAX_MESSAGES_INFLIGHT) {
		snprintf(why, sizeof(why), "worker %s has %zu messages unanswered",
		         w->id, w->msgs.n);
		answer(p, rid, reply_node, reply_rid, PULSE_E_BUSY, why, NULL, 0);
		return;
	}
	pulse_buf b = {0};
	pulse_enc e;
	uint64_t evid = d->next_evid + 1;
	pulse_enc_begin(&e, &b, PULSE_T_MESSAGE, evid, 2);
	pulse_enc_cstr(&e, "key", key);
	pulse_enc_bin(&e, "payload", payload ? payload : "", plen);
	if (pulse_enc_end(&e) < 0)
		fatal_oom("a message frame");
	size_t body = b.len - PULSE_FRAME_HDR;
	if (body > w->sess->peer_max_body) {
		pulse_buf_free(&b);
		snprintf(why, sizeof(why), "a MESSAGE frame of %zu bytes is over "
		         "the %" PRIu32 " bytes worker %s takes (its HELLO's "
		         "max_body)", body, w->sess->peer_max_body, w->id);
		answer(p, rid, reply_node, reply_rid, PULSE_E_TOO_LARGE, why,
		       NULL, 0);
		return;
	}
	struct msgwait *mw = xcalloc(1, sizeof(*mw));
	mw->rid = rid;
	if (reply_node) {
		mw->reply_node = xstrdup(reply_node);
		mw->reply_rid = xstrdup(reply_rid ? reply_rid : "0");
	}
	d->next_evid = evid;
	table_set_u64(&w->msgs, evid, mw);
	session_send(w->sess, &b); /* may end the session: mw is its now */
	pulse_buf_free(&b);
}

/* The ACK's id is looked up in the worker's messages first (ids are one
 * sequence with its job events'): a message's ACK needs no job, and its
 * requeue is an answer, not a retry (once at most). */
int message_ack(struct lworker *w, const pulse_msg *m)
{
	struct msgwait *mw = table_del_u64(&w->msgs, m->id);
	if (!mw)
		return 0;
	struct pool *p = w->pool;
	char msg[1024];
	const char *payload = (m->has & PM_PAYLOAD) ? m->payload.p : "";
	size_t plen = (m->has & PM_PAYLOAD) ? m->payload.n : 0;
	int code = 0;
	if (m->r == PULSE_ACK_OK && plen > p->d->cfg.max_payload) {
		code = PULSE_E_TOO_LARGE;
		snprintf(msg, sizeof(msg), "the answer of %zu bytes is over the %"
		         PRIu64 " byte cap", plen, p->d->cfg.max_payload);
	} else if (m->r == PULSE_ACK_ERROR) {
		code = PULSE_E_HANDLER;
		if (m->msg.n)
			snprintf(msg, sizeof(msg), "%.*s", (int)m->msg.n, m->msg.p);
		else
			snprintf(msg, sizeof(msg), "handler failed");
	} else if (m->r == PULSE_ACK_REQUEUE) {
		/* a message is delivered at most once: no later retry */
		code = PULSE_E_HANDLER;
		snprintf(msg, sizeof(msg), "worker %s answered requeue; messages "
		         "are not retried", w->id);
	}
	answer(p, mw->rid, mw->reply_node, mw->reply_rid, code,
	       code ? msg : NULL, payload, plen);
	msgwait_free(mw);
	return 1;
}

/* The worker can no longer answer: its callers must not wait for their
 * deadline, and must not be routed again (the handler may have run). */
void message_fail_all(struct lworker *w, int code, const char *why)
{
	char msg[400];
	snprintf(msg, sizeof(msg), "worker %s: %s", w->id, why);
	table_iter it;
	struct tentry *e;
	table_iter_init(&it, &w->msgs);
	while ((e = table_next(&it))) {
		struct msgwait *mw = e->val;
		answer(w->pool, mw->rid, mw->reply_node, mw->reply_rid, code, msg,
		       NULL, 0);
		msgwait_free(mw);
	}
	table_free(&w->msgs);
	table_init(&w->msgs);
}
