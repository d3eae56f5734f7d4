/*
 * views.c: the read-only views of a pool and of this pulsed.
 *
 * Owns: JOBS (every key, or a worker's, or those matching a glob, or
 * their count), JOB, WHERE, WORKERS (the pool's, or this node's
 * sessions), NODES and STATUS. JOBS pages through the pool (keys.lua, one
 * page of up to PAGE keys a call) and streams each page on; the others
 * are one Redis read each (none for STATUS and local WORKERS). Every list
 * goes out through listout.c, in frames the peer can take. A pool this
 * node has not joined is read by name, without joining it (CF_NOJOIN);
 * WHERE and NODES, which need the pool's membership, then read it first
 * (workers.lua) instead of using this node's view.
 *
 * Invariants:
 *   - A view holds the session's in-flight slot until its answer is
 *     complete, like a request, so a client cannot queue unbounded reads.
 *   - JOBS holds at most one page and one frame of keys, whatever the
 *     pool's size: the next page is read only once the peer has read
 *     most of what was sent (listout_page_done).
 *   - The session and the pool are found again by id and name when the
 *     reply comes; a view whose session went away is dropped.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "listout.h"
#include "pulsed.h"
#include "store.h"

/* Keys one keys.lua call collects at most (it may find a few more, from
 * its last HSCAN step). */
#define PAGE 1000u

/* ---- views -------------------------------------------------------------- */

/* Who is in a pool: this node's view of a pool it joined, or what
 * workers.lua read for one it did not. */
struct members {
	const table *workers; /* worker id -> node id */
	char *const *wids;
	size_t n;
};

struct view {
	struct pulsed *d;
	uint64_t sid, id;
	int type;
	char *pool;   /* found again by name when the reply comes */
	char *base;   /* the pool's key prefix */
	char *key;    /* WHERE: the key asked about */
	char *worker; /* JOBS --worker: keep the keys this worker owns */
	char *match;  /* JOBS: keep the keys matching this glob */
	char cursor[24]; /* JOBS: keys.lua's (HSCAN's) next page */
	uint64_t limit; /* JOBS: keys still to send (UINT64_MAX: all) */
	int count;    /* JOBS with limit 0: count the keys, send none */
	struct listout out; /* JOBS, WORKERS, NODES: the list answered */
	int unjoined; /* read without joining: membership read into: */
	table workers;  /* worker id -> node id (strings owned) */
	char **wids;
	size_t nwids;
};

static struct view *view_new(struct session *s, const pulse_msg *m)
{
	struct view *v = xcalloc(1, sizeof(*v));
	char base[PULSE_MAX_POOL + 600];
	v->d = s->d;
	v->sid = s->sid;
	v->id = m->id;
	v->type = (int)m->type;
	v->pool = xstrndup(m->pool.p, m->pool.n);
	pool_base(s->d, v->pool, base, sizeof(base));
	v->base = xstrdup(base);
	table_init(&v->workers);
	if (m->has & PM_KEY)
		v->key = xstrndup(m->key.p, m->key.n);
	if (m->type == PULSE_T_JOBS && (m->has & PM_WORKER))
		v->worker = xstrndup(m->worker.p, m->worker.n);
	if (m->type == PULSE_T_JOBS && (m->has & PM_MATCH) && m->match.n)
		v->match = xstrndup(m->match.p, m->match.n);
	snprintf(v->cursor, sizeof(v->cursor), "0");
	v->limit = (m->has & PM_LIMIT) ? m->limit : UINT64_MAX;
	v->count = v->limit == 0;
	s->inflight++; /* a view holds memory until Redis answers, as a request */
	return v;
}

static void view_free(struct view *v)
{
	struct session *s = session_find(v->d, v->sid);
	if (s && s->inflight)
		s->inflight--;
	table_iter it;
	struct tentry *e;
	table_iter_init(&it, &v->workers);
	while ((e = table_next(&it)))
		free(e->val);
	table_free(&v->workers);
	free(v->wids); /* its strings are the table's keys */
	free(v->pool);
	free(v->base);
	free(v->key);
	free(v->worker);
	free(v->match);
	listout_free(&v->out);
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
static void where_reply(struct session *s, struct view *v,
                        const struct members *mb, redisReply *r)
{
	char node[PULSE_MAX_POOL + 1], worker[PULSE_MAX_POOL + 1];
	int owned = r->type == REDIS_REPLY_STRING &&
	            owner_record(r->str, r->len, node, worker, sizeof(node)) == 0;
	if (!owned) {
		ssize_t i = placement_pick(v->key, strlen(v->key), mb->wids, mb->n);
		const char *w = i < 0 ? NULL : mb->wids[i];
		const char *nd = w ? table_get(mb->workers, w, strlen(w)) : NULL;
		if (!w || !nd) {
			session_error(s, v->id, PULSE_E_UNAVAILABLE,
			              "no worker in pool %s", v->pool);
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
static void nodes_reply(struct session *s, struct view *v,
                        const struct members *mb, uint64_t now, redisReply *r)
{
	size_t n = r->type == REDIS_REPLY_ARRAY ? r->elements / 2 : 0;
	listout_begin(&v->out, s, v->id, NULL, "workers");
	for (size_t i = 0; i < n; i++) {
		redisReply *nd = r->element[2 * i], *sc = r->element[2 * i + 1];
		const char *node = nd->type == REDIS_REPLY_STRING ? nd->str : "";
		uint64_t until = sc->type == REDIS_REPLY_STRING
		                 ? strtoull(sc->str, NULL, 10) : 0;
		uint64_t workers = 0;
		for (size_t w = 0; w < mb->n; w++) {
			const char *wn = table_get(mb->workers, mb->wids[w],
			                           strlen(mb->wids[w]));
			workers += wn && strcmp(wn, node) == 0;
		}
		pulse_enc *e = listout_item(&v->out);
		msgpack_pack_map(&e->pk, 3);
		pulse_enc_cstr(e, "node", node);
		pulse_enc_uint(e, "lease_ms", until > now ? until - now : 0);
		pulse_enc_uint(e, "workers", workers);
		if (listout_item_done(&v->out, s) < 0)
			return;
	}
	listout_end(&v->out, s, 0);
}

/* One map of a WORKERS answer. A stable name is the id; generated ids
 * start with the node id and a dot, and carry no name. */
static int worker_item(struct listout *o, struct session *s, const char *id,
                       size_t idlen, const char *node, size_t nodelen,
                       uint64_t jobs)
{
	int gen = idlen > nodelen && strncmp(id, node, nodelen) == 0 &&
	          id[nodelen] == '.';
	pulse_enc *e = listout_item(o);
	msgpack_pack_map(&e->pk, 4);
	pulse_enc_str(e, "id", id, idlen);
	pulse_enc_str(e, "name", gen ? "" : id, gen ? 0 : idlen);
	pulse_enc_str(e, "node", node, nodelen);
	pulse_enc_uint(e, "jobs", jobs);
	return listout_item_done(o, s);
}

/* WORKERS: workers.lua's flat worker, node, jobs triples. */
static void workers_reply(struct session *s, struct view *v, redisReply *r)
{
	size_t n = r->type == REDIS_REPLY_ARRAY ? r->elements / 3 : 0;
	listout_begin(&v->out, s, v->id, NULL, "workers");
	for (size_t i = 0; i < n; i++) {
		redisReply *w = r->element[3 * i], *nd = r->element[3 * i + 1],
		           *c = r->element[3 * i + 2];
		if (worker_item(&v->out, s, w->str ? w->str : "", w->len,
		                nd->str ? nd->str : "", nd->len,
		                c->type == REDIS_REPLY_INTEGER
		                ? (uint64_t)c->integer : 0) < 0)
			return;
	}
	listout_end(&v->out, s, 0);
}

static void jobs_page(struct pulsed *d, void *arg);
static void view_drop(void *arg);

/* A page of JOBS (keys.lua: cursor, n, keys): its keys go on, then the
 * next page, now or once the peer has read what waits for it. */
static void keys_cb(struct pulsed *d, redisReply *r, void *arg)
{
	struct view *v = arg;
	struct session *s = session_find(d, v->sid);
	if (!s)
		goto done;
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[0]->len >= sizeof(v->cursor) ||
	    r->element[1]->type != REDIS_REPLY_INTEGER) {
		listout_fail(&v->out, s, PULSE_E_UNAVAILABLE,
		             store_failure(d->store, r));
		goto done;
	}
	if (v->count) {
		v->out.total += (uint64_t)r->element[1]->integer;
	} else {
		for (size_t i = 2; i < r->elements && v->limit > 0; i++) {
			redisReply *k = r->element[i];
			pulse_enc *e = listout_item(&v->out);
			msgpack_pack_str(&e->pk, k->len);
			msgpack_pack_str_body(&e->pk, k->str, k->len);
			if (listout_item_done(&v->out, s) < 0)
				goto done;
			v->limit--;
		}
	}
	memcpy(v->cursor, r->element[0]->str, r->element[0]->len + 1);
	if (strcmp(v->cursor, "0") == 0 || (!v->count && v->limit == 0)) {
		listout_end(&v->out, s, 1);
		goto done;
	}
	listout_page_done(&v->out, s, jobs_page, view_drop, v);
	return;
done:
	view_free(v);
}

/* The count of a whole pool is its hash's length: no paging. */
static void hlen_cb(struct pulsed *d, redisReply *r, void *arg)
{
	struct view *v = arg;
	struct session *s = session_find(d, v->sid);
	if (s && (!r || r->type != REDIS_REPLY_INTEGER))
		listout_fail(&v->out, s, PULSE_E_UNAVAILABLE,
		             store_failure(d->store, r));
	else if (s) {
		v->out.total = (uint64_t)r->integer;
		listout_end(&v->out, s, 1);
	}
	view_free(v);
}

/* The next page of JOBS: up to PAGE keys (fewer when the limit is near). */
static void jobs_page(struct pulsed *d, void *arg)
{
	struct view *v = arg;
	char want[24];
	snprintf(want, sizeof(want), "%llu", (unsigned long long)
	         (v->count || v->limit > PAGE ? PAGE : v->limit));
	const char *argv[5] = {v->cursor, want, v->match ? v->match : "",
	                       v->worker ? v->worker : "", v->count ? "1" : "0"};
	size_t lens[5];
	for (int i = 0; i < 5; i++)
		lens[i] = strlen(argv[i]);
	store_script(d->store, S_KEYS, v->base, 5, argv, lens, keys_cb, v);
}

static void view_drop(void *arg)
{
	view_free(arg);
}

static void view_cb(struct pulsed *d, redisReply *r, void *arg)
{
	struct view *v = arg;
	struct session *s = session_find(d, v->sid);
	if (!s)
		goto out;
	if (!r || r->type == REDIS_REPLY_ERROR) {
		session_error(s, v->id, PULSE_E_UNAVAILABLE, "%s",
		              store_failure(d->store, r));
		goto out;
	}
	if (v->type == PULSE_T_WHERE || v->type == PULSE_T_NODES) {
		/* the views that read who is in the pool: this node's view, or
		 * what was read for a pool it did not join (then the lease
		 * times are judged by this host's clock) */
		struct pool *p = table_get(&d->pools, v->pool, strlen(v->pool));
		struct members mb = {&v->workers, v->wids, v->nwids};
		uint64_t now = now_ms();
		if (!v->unjoined && !p) {
			session_error(s, v->id, PULSE_E_UNAVAILABLE, "pool %s is gone",
			              v->pool);
			goto out;
		}
		if (!v->unjoined) {
			mb = (struct members){&p->workers, p->wids, p->nwids};
			now = pool_redis_now_ms(p);
		}
		if (v->type == PULSE_T_WHERE)
			where_reply(s, v, &mb, r);
		else
			nodes_reply(s, v, &mb, now, r);
		goto out;
	}
	if (v->type == PULSE_T_JOB) {
		int exists = r->type == REDIS_REPLY_STRING;
		pulse_buf b = {0};
		pulse_enc e;
		pulse_enc_begin(&e, &b, PULSE_T_OK, v->id, exists ? 2 : 1);
		pulse_enc_bool(&e, "exists", exists);
		if (exists)
			pulse_enc_bin(&e, "payload", r->str, r->len);
		session_send_enc(s, &e);
	} else {
		workers_reply(s, v, r);
	}
out:
	view_free(v);
}

static void local_workers(struct session *s, const pulse_msg *m,
                          struct pool *p)
{
	struct listout o;
	const char *node = s->d->node;
	listout_begin(&o, s, m->id, NULL, "workers");
	table_iter it;
	struct tentry *te;
	table_iter_init(&it, p ? &p->lworkers : &s->d->pools); /* empty loop: */
	while (p && (te = table_next(&it))) {
		struct lworker *w = te->val;
		if (worker_item(&o, s, w->id, strlen(w->id), node, strlen(node),
		                w->jobs.n) < 0)
			return;
	}
	listout_end(&o, s, 0);
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
	uint64_t now = now_ms();
	struct listout o;
	listout_begin(&o, s, m->id, "status", "pools");
	pulse_enc *e = listout_head(&o);
	o.nhead = 6;
	pulse_enc_cstr(e, "node", d->node);
	pulse_enc_bool(e, "draining", d->draining);
	pulse_enc_cstr(e, "version", PULSED_VERSION);
	pulse_enc_uint(e, "uptime_ms", now - d->start_ms);
	pulse_enc_bool(e, "redis", store_up(d->store));
	pulse_enc_uint(e, "sessions", d->nsessions);
	table_iter it;
	struct tentry *te;
	table_iter_init(&it, &d->pools);
	while ((te = table_next(&it))) {
		struct pool *p = te->val;
		e = listout_item(&o);
		msgpack_pack_map(&e->pk, 10);
		pulse_enc_cstr(e, "name", p->name);
		pulse_enc_cstr(e, "state", state_name(p->state));
		pulse_enc_uint(e, "workers", p->lworkers.n);
		pulse_enc_uint(e, "workers_pool", p->nwids);
		pulse_enc_uint(e, "jobs_local", p->ljobs.n);
		pulse_enc_uint(e, "jobs_pool", p->jobs_pool);
		pulse_enc_uint(e, "waiting", p->waiting);
		pulse_enc_uint(e, "lease_age_ms", p->lease_ok_ms ? now - p->lease_ok_ms : 0);
		pulse_enc_uint(e, "redis_rtt_us", p->rtt_us);
		/* jobs only this node's memory holds, for its next join (a
		 * self-fence's, or a release Redis answered LOST) */
		pulse_enc_uint(e, "kept", p->fenced.n);
		if (listout_item_done(&o, s) < 0)
			return;
	}
	listout_end(&o, s, 0);
}

/* ---- entry (command.c's handlers) ---------------------------------------- */

/* The view's one Redis read; view_cb encodes the answer. */
static void view_read(struct pulsed *d, struct view *v)
{
	char key[PULSE_MAX_POOL + 700];
	snprintf(key, sizeof(key), "%sjobs", v->base);
	if (v->type == PULSE_T_JOBS && v->count && !v->worker && !v->match) {
		const char *argv[2] = {"HLEN", key};
		store_cmd(d->store, 2, argv, NULL, hlen_cb, v);
	} else if (v->type == PULSE_T_JOBS) {
		jobs_page(d, v);
	} else if (v->type == PULSE_T_WHERE) {
		snprintf(key, sizeof(key), "%sowner", v->base);
		const char *argv[3] = {"HGET", key, v->key};
		size_t lens[3] = {4, strlen(key), strlen(v->key)};
		store_cmd(d->store, 3, argv, lens, view_cb, v);
	} else if (v->type == PULSE_T_NODES) {
		snprintf(key, sizeof(key), "%snodes", v->base);
		const char *argv[5] = {"ZRANGE", key, "0", "-1", "WITHSCORES"};
		store_cmd(d->store, 5, argv, NULL, view_cb, v);
	} else if (v->type == PULSE_T_JOB) {
		const char *argv[3] = {"HGET", key, v->key};
		size_t lens[3] = {4, strlen(key), strlen(v->key)};
		store_cmd(d->store, 3, argv, lens, view_cb, v);
	} else {
		store_script(d->store, S_WORKERS, v->base, 0, NULL, NULL, view_cb, v);
	}
}

/* WHERE or NODES of a pool this node has not joined: who is in it, read
 * (workers.lua: worker, node, jobs triples), then the view's own read. */
static void members_cb(struct pulsed *d, redisReply *r, void *arg)
{
	struct view *v = arg;
	struct session *s = session_find(d, v->sid);
	if (!s || !r || r->type != REDIS_REPLY_ARRAY) {
		if (s)
			session_error(s, v->id, PULSE_E_UNAVAILABLE, "%s",
			              store_failure(d->store, r));
		view_free(v);
		return;
	}
	v->wids = xcalloc(r->elements / 3 + 1, sizeof(*v->wids));
	for (size_t i = 0; i + 2 < r->elements; i += 3) {
		redisReply *w = r->element[i], *nd = r->element[i + 1];
		if (w->type != REDIS_REPLY_STRING || nd->type != REDIS_REPLY_STRING ||
		    table_get(&v->workers, w->str, w->len))
			continue;
		table_set(&v->workers, w->str, w->len, xstrndup(nd->str, nd->len));
	}
	table_iter it;
	struct tentry *e;
	table_iter_init(&it, &v->workers);
	while ((e = table_next(&it)))
		v->wids[v->nwids++] = e->key;
	view_read(d, v);
}

void view_request(struct session *s, struct pool *p, const pulse_msg *m)
{
	struct view *v = view_new(s, m);
	v->unjoined = p == NULL;
	if (v->type == PULSE_T_JOBS)
		listout_begin(&v->out, s, v->id, NULL, "keys");
	if (v->unjoined && (v->type == PULSE_T_WHERE || v->type == PULSE_T_NODES))
		store_script(s->d->store, S_WORKERS, v->base, 0, NULL, NULL,
		             members_cb, v);
	else
		view_read(s->d, v);
}

/* WORKERS --local answers from memory (no Redis, even for a pool that is
 * shut down: the table's CF_LOCAL); the pool's WORKERS is a view. */
void workers_request(struct session *s, struct pool *p, const pulse_msg *m)
{
	if ((m->has & PM_LOCAL) && m->local) {
		local_workers(s, m, p); /* none for a pool not joined (NULL) */
		return;
	}
	view_request(s, p, m);
}

void status_request(struct session *s, struct pool *p, const pulse_msg *m)
{
	(void)p;
	status(s, m);
}
