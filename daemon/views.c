/*
 * views.c: the read-only views of a pool and of this pulsed.
 *
 * Owns: JOBS (every key, or a worker's), JOB, WHERE, WORKERS (the pool's,
 * or this node's sessions), NODES and STATUS: one Redis read each (none
 * for STATUS and local WORKERS), its reply encoded into one answer. A
 * pool this node has not joined is read by name, without joining it
 * (CF_NOJOIN); WHERE and NODES, which need the pool's membership, then read
 * it first (workers.lua) instead of using this node's view.
 *
 * Invariants:
 *   - A view holds the session's in-flight slot until Redis answers, like
 *     a request, so a client cannot queue unbounded reads.
 *   - The session and the pool are found again by id and name when the
 *     reply comes; a view whose session went away is dropped.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pulsed.h"
#include "store.h"

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
		for (size_t w = 0; w < mb->n; w++) {
			const char *wn = table_get(mb->workers, mb->wids[w],
			                           strlen(mb->wids[w]));
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
		session_error(s, v->id, PULSE_E_UNAVAILABLE, "%s",
		              store_failure(d->store, r));
		goto out;
	}
	if (v->worker) {
		owned_reply(s, v, r);
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
	msgpack_pack_array(&e.pk, p ? p->lworkers.n : 0);
	table_iter it;
	struct tentry *te;
	table_iter_init(&it, p ? &p->lworkers : &s->d->pools); /* empty loop: */
	while (p && (te = table_next(&it))) {
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
		msgpack_pack_map(&e.pk, 10);
		pulse_enc_cstr(&e, "name", p->name);
		pulse_enc_cstr(&e, "state", state_name(p->state));
		pulse_enc_uint(&e, "workers", p->lworkers.n);
		pulse_enc_uint(&e, "workers_pool", p->nwids);
		pulse_enc_uint(&e, "jobs_local", p->ljobs.n);
		pulse_enc_uint(&e, "jobs_pool", p->jobs_pool);
		pulse_enc_uint(&e, "waiting", p->waiting);
		pulse_enc_uint(&e, "lease_age_ms", p->lease_ok_ms ? now - p->lease_ok_ms : 0);
		pulse_enc_uint(&e, "redis_rtt_us", p->rtt_us);
		/* jobs only this node's memory holds, for its next join (a
		 * self-fence's, or a release Redis answered LOST) */
		pulse_enc_uint(&e, "kept", p->fenced.n);
	}
	session_send_enc(s, &e);
}

/* ---- entry (command.c's handlers) ---------------------------------------- */

/* The view's one Redis read; view_cb encodes the answer. */
static void view_read(struct pulsed *d, struct view *v)
{
	char key[PULSE_MAX_POOL + 700];
	snprintf(key, sizeof(key), "%sjobs", v->base);
	if (v->worker) {
		snprintf(key, sizeof(key), "%sowner", v->base);
		const char *argv[2] = {"HGETALL", key};
		store_cmd(d->store, 2, argv, NULL, view_cb, v);
	} else if (v->type == PULSE_T_JOBS) {
		const char *argv[2] = {"HKEYS", key};
		store_cmd(d->store, 2, argv, NULL, view_cb, v);
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
