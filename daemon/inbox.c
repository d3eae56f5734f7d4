/*
 * inbox.c: messages between nodes.
 *
 * Owns: reading this node's inbox stream in every active pool (one
 * blocking XREAD on the store's blk connection), acting on each entry, and
 * writing answers into other nodes' inboxes.
 *
 * Entries (stream fields): t = a (assigned: k key, w worker, f fence,
 * p payload, c and i the dispatch's caller node and request id),
 * s (stop: k, c caller node, i request id), n (notify: k, c, i, p),
 * m (message: k, w worker, c, i, p), r (reply: i request id, c code name
 * or RETRY, m message, p the answer payload of a message), h (hello,
 * written at join). See daemon/REDIS.md.
 *
 * Invariants: an inbox is created only by its node (join.lua); others
 * append with NOMKSTREAM. Entries are trimmed only after they were
 * handled. A malformed entry is logged and skipped, never fatal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pulsed.h"
#include "store.h"

static void read_inboxes(struct pulsed *d);

struct fields {
	const char *t, *k, *w, *c, *i, *m;
	const char *p;
	size_t plen;
	uint64_t f;
};

static int parse_fields(redisReply *f, struct fields *x)
{
	memset(x, 0, sizeof(*x));
	if (f->type != REDIS_REPLY_ARRAY || f->elements % 2)
		return -1;
	for (size_t i = 0; i < f->elements; i += 2) {
		redisReply *k = f->element[i], *v = f->element[i + 1];
		if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
		    k->len != 1)
			return -1;
		switch (k->str[0]) {
		case 't': x->t = v->str; break;
		case 'k': x->k = v->str; break;
		case 'w': x->w = v->str; break;
		case 'c': x->c = v->str; break;
		case 'i': x->i = v->str; break;
		case 'm': x->m = v->str; break;
		case 'f': x->f = strtoull(v->str, NULL, 10); break;
		case 'p': x->p = v->str; x->plen = v->len; break;
		default: break; /* newer fields are ignored */
		}
	}
	return x->t ? 0 : -1;
}

static void handle(struct pool *p, redisReply *entry)
{
	struct pulsed *d = p->d;
	struct fields x;
	if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
	    parse_fields(entry->element[1], &x) < 0) {
		LOGW(&d->log, "pool %s: malformed inbox entry skipped", p->name);
		return;
	}
	switch (x.t[0]) {
	case 'h':
		return;
	case 'a': {
		if (!x.k || !x.w || !x.f)
			break;
		/* c and i name the dispatch (entries from older nodes lack
		 * them: started.lua then looks it up) */
		char disp[384];
		int known = x.c && x.i &&
		            snprintf(disp, sizeof(disp), "%s %s", x.c, x.i) <
		            (int)sizeof(disp);
		d->poolh.assign(p, x.w, x.k, x.f, x.p ? x.p : "", x.plen,
		                known ? disp : NULL);
		return;
	}
	case 's':
	case 'n':
		if (!x.k || !x.c || !x.i)
			break;
		if (d->poolh.job_event(p, x.k, x.t[0] == 's' ? OP_HALT : OP_EVENT,
		                       x.p, x.plen, 0, x.c, x.i) < 0)
			inbox_reply(p, x.c, x.i, -1, "", NULL, 0); /* not here: look again */
		return;
	case 'm':
		if (!x.k || !x.w || !x.c || !x.i)
			break;
		d->poolh.message(p, x.w, x.k, x.p ? x.p : "", x.plen, 0, x.c, x.i);
		return;
	case 'r': {
		if (!x.i || !x.c)
			break;
		uint64_t rid = strtoull(x.i, NULL, 10);
		if (strcmp(x.c, "RETRY") == 0) {
			request_retry(d, rid);
			return;
		}
		int code = strcmp(x.c, "OK") == 0 ? 0
		           : pulse_err_from_name(x.c, strlen(x.c));
		request_answer(d, rid, code < 0 ? PULSE_E_UNAVAILABLE : code, x.m,
		               x.p, x.plen);
		return;
	}
	default:
		break;
	}
	LOGW(&d->log, "pool %s: inbox entry of type '%s' skipped (fields missing "
	     "or unknown)", p->name, x.t);
}

/* The name of node's inbox, in a buffer that lives as long as the
 * arguments that borrow it (sargs). */
struct inbox_name {
	char s[512];
};

/* Start an entry for node's inbox in a: XADD with NOMKSTREAM, so that
 * a node that left (or was reaped) is not given its inbox back; the
 * caller adds the fields. The one way this file writes to an inbox, as
 * common.lua's send() is the scripts'. */
static void entry_begin(sargs *a, struct inbox_name *key, struct pool *p,
                        const char *node, const char *type)
{
	snprintf(key->s, sizeof(key->s), "%sinbox:%s", p->base, node);
	sargs_str(a, "XADD");
	sargs_str(a, key->s);
	sargs_str(a, "NOMKSTREAM");
	sargs_str(a, "*");
	sargs_str(a, "t");
	sargs_str(a, type);
}

void inbox_reply(struct pool *p, const char *node, const char *rid, int code,
                 const char *msg, const char *payload, size_t plen)
{
	sargs a = {0};
	struct inbox_name key;
	entry_begin(&a, &key, p, node, "r");
	sargs_str(&a, "i");
	sargs_str(&a, rid);
	sargs_str(&a, "c");
	sargs_str(&a, code < 0 ? "RETRY" : code == 0 ? "OK" : pulse_err_name(code));
	sargs_str(&a, "m");
	sargs_str(&a, msg ? msg : "");
	if (payload) {
		sargs_str(&a, "p");
		sargs_add(&a, payload, plen);
	}
	store_cmd(p->d->store, a.n, a.v, a.l, NULL, NULL);
	sargs_free(&a);
}

/* The XADD of a message: nil when the node's inbox is gone (the node
 * left or was reaped after this node's view was loaded), so the message
 * was not sent and is routed again on a newer view; an error reply
 * (Redis refused the write) fails it. */
static void message_cb(struct pulsed *d, redisReply *r, void *arg)
{
	uint64_t rid = (uint64_t)(uintptr_t)arg;
	if (r && r->type == REDIS_REPLY_NIL)
		request_retry(d, rid);
	else if (!r || r->type == REDIS_REPLY_ERROR)
		request_finish(d, rid, PULSE_E_UNAVAILABLE, r
		               ? store_failure(d->store, r)
		               : "Redis went away while the message was sent: its "
		                 "handler may run");
}

/* The same transport as a NOTIFY's 'n' entry, written from C since no
 * script needs to read the pool first: the caller's view already named
 * the worker and its node. */
void inbox_message(struct pool *p, const char *node, const char *wid,
                   const char *key, const char *payload, size_t plen,
                   uint64_t rid)
{
	sargs a = {0};
	struct inbox_name name;
	entry_begin(&a, &name, p, node, "m");
	sargs_str(&a, "k");
	sargs_str(&a, key);
	sargs_str(&a, "w");
	sargs_str(&a, wid);
	sargs_str(&a, "c");
	sargs_str(&a, p->d->node);
	sargs_str(&a, "i");
	sargs_u64(&a, rid);
	sargs_str(&a, "p");
	sargs_add(&a, payload ? payload : "", plen);
	store_cmd(p->d->store, a.n, a.v, a.l, message_cb,
	          (void *)(uintptr_t)rid);
	sargs_free(&a);
}

static void trim(struct pool *p)
{
	char key[512];
	snprintf(key, sizeof(key), "%sinbox:%s", p->base, p->d->node);
	const char *argv[4] = {"XTRIM", key, "MINID", p->inbox_last};
	store_cmd(p->d->store, 4, argv, NULL, NULL, NULL);
}

/* Here rather than in pool.c because this file (below pool.c) needs it
 * for its streams and pool.c for its channels. */
struct pool *pool_of_key(struct pulsed *d, const char *key, size_t len)
{
	table_iter it;
	struct tentry *e;
	table_iter_init(&it, &d->pools);
	while ((e = table_next(&it))) {
		struct pool *p = e->val;
		size_t bl = strlen(p->base);
		if (len > bl && memcmp(key, p->base, bl) == 0)
			return p;
	}
	return NULL;
}

static void read_cb(struct pulsed *d, redisReply *r, void *arg)
{
	(void)arg;
	if (!r)
		return; /* Redis went away: restarted by the next join */
	if (r->type == REDIS_REPLY_ARRAY) {
		for (size_t s = 0; s < r->elements; s++) {
			redisReply *st = r->element[s];
			if (st->type != REDIS_REPLY_ARRAY || st->elements != 2 ||
			    st->element[0]->type != REDIS_REPLY_STRING ||
			    st->element[1]->type != REDIS_REPLY_ARRAY)
				continue;
			struct pool *p = pool_of_key(d, st->element[0]->str,
			                             st->element[0]->len);
			if (!p)
				continue;
			redisReply *entries = st->element[1];
			for (size_t i = 0; i < entries->elements; i++) {
				redisReply *en = entries->element[i];
				if (en->type == REDIS_REPLY_ARRAY && en->elements == 2 &&
				    en->element[0]->type == REDIS_REPLY_STRING)
					snprintf(p->inbox_last, sizeof(p->inbox_last), "%s",
					         en->element[0]->str);
				handle(p, en);
			}
			/* trimming is batched: one XTRIM per many entries, not per read */
			p->inbox_untrimmed += entries->elements;
			if (p->inbox_untrimmed >= 64) {
				p->inbox_untrimmed = 0;
				trim(p);
			}
		}
	}
	read_inboxes(d);
}

static void read_inboxes(struct pulsed *d)
{
	if (!store_up(d->store) || d->stopping == STOP_DONE)
		return;
	sargs keys = {0}, ids = {0};
	char (*names)[512] = xcalloc(d->pools.n ? d->pools.n : 1, sizeof(*names));
	uint64_t block = 5000;
	size_t n = 0;
	table_iter it;
	struct tentry *e;
	table_iter_init(&it, &d->pools);
	while ((e = table_next(&it))) {
		struct pool *p = e->val;
		if (p->state != POOL_ACTIVE && p->state != POOL_FENCED)
			continue;
		snprintf(names[n], sizeof(names[n]), "%sinbox:%s", p->base, d->node);
		sargs_str(&keys, names[n]);
		sargs_str(&ids, p->inbox_last);
		if (p->opts.sink_block_ms < block)
			block = p->opts.sink_block_ms;
		n++;
	}
	if (n > 0) {
		sargs a = {0};
		sargs_str(&a, "XREAD");
		sargs_str(&a, "COUNT");
		sargs_str(&a, "256");
		sargs_str(&a, "BLOCK");
		sargs_u64(&a, block ? block : 1);
		sargs_str(&a, "STREAMS");
		for (int i = 0; i < keys.n; i++)
			sargs_add(&a, keys.v[i], keys.l[i]);
		for (int i = 0; i < ids.n; i++)
			sargs_add(&a, ids.v[i], ids.l[i]);
		store_block(d->store, a.n, a.v, a.l, read_cb, NULL);
		sargs_free(&a);
	}
	sargs_free(&keys);
	sargs_free(&ids);
	free(names);
}

void inbox_restart(struct pulsed *d)
{
	/* A blocked XREAD holds the old set of streams: wake it, and its
	 * callback reads again with the new set. */
	if (store_block_busy(d->store))
		store_unblock(d->store);
	else
		read_inboxes(d);
}
