/*
 * client.c: client sessions of libpulse-client (pulse_connect and the
 * calls made through it).
 *
 * Owns: the request ids of a session, the one routine that sends a request
 * and waits for its answer (call), and turning OK answers into the C
 * results of pulse.h (key lists, payloads, worker lists, status JSON).
 *
 * Invariants:
 *   - One request is in flight at a time; ids increase from 1 and the
 *     answer must carry the id of the request, else the session is out of
 *     step and is closed (PULSE_ERR_PROTOCOL).
 *   - Every argument is checked locally (pool and key syntax, payload size)
 *     before anything is sent; a failed local check leaves the session
 *     usable.
 *   - Results handed to the caller are fully copied out of the frame
 *     before the frame is released; on failure the caller's out-parameters
 *     are left empty (NULL / 0), never half-filled.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"

/* There is no "out of memory" code on the wire; a client out of memory
 * cannot reach pulsed's service either. */
#define ENOMEM_CODE PULSE_ERR_UNAVAILABLE

struct pulse_client {
	struct libpulse_conn conn;
	uint64_t next_id;
	unsigned timeout_ms;         /* how long call() waits (client side) */
	unsigned request_timeout_ms; /* the `timeout` sent with DISPATCH, STOP,
	                              * NOTIFY and DRAIN; 0: none */
};

pulse_client *pulse_connect(const char *socket_path, int *err, char *errbuf,
                            size_t errlen)
{
	pulse_client *c = calloc(1, sizeof(*c));
	int code;
	if (!c) {
		code = libpulse_errf(errbuf, errlen, ENOMEM_CODE, "out of memory");
	} else {
		const struct libpulse_hello hello = {.role = "client"};
		code = libpulse_conn_open(&c->conn, socket_path, &hello);
		if (code)
			libpulse_errf(errbuf, errlen, code, "%s", c->conn.err);
	}
	if (err)
		*err = code;
	if (code) {
		free(c);
		return NULL;
	}
	return c;
}

void pulse_close(pulse_client *c)
{
	if (!c)
		return;
	libpulse_conn_free(&c->conn);
	free(c);
}

const char *pulse_errmsg(const pulse_client *c)
{
	return c ? c->conn.err : "no session";
}

void pulse_set_timeout(pulse_client *c, unsigned ms)
{
	if (c)
		c->timeout_ms = ms;
}

void pulse_set_request_timeout(pulse_client *c, unsigned ms)
{
	if (c)
		c->request_timeout_ms = ms;
}

/* Give q the session's request timeout, if any; one place for every
 * request that may carry one (PROTOCOL.md: DISPATCH, STOP, NOTIFY,
 * DRAIN), so that pulsed's TIMEOUT answer comes instead of the client
 * closing the session. */
static void request_timeout(const pulse_client *c, pulse_msg *q)
{
	if (c->request_timeout_ms && !(q->has & PM_TIMEOUT)) {
		q->has |= PM_TIMEOUT;
		q->timeout_ms = c->request_timeout_ms;
	}
}

static int fail(pulse_client *c, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(pulse_client *c, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	libpulse_verrf(c->conn.err, sizeof(c->conn.err), code, fmt, ap);
	va_end(ap);
	return code;
}

/* The answer does not fit its request: the stream cannot be trusted any
 * more, so the session ends. */
static int out_of_step(pulse_client *c, const char *why)
{
	libpulse_conn_done(&c->conn);
	libpulse_conn_close(&c->conn);
	return fail(c, PULSE_ERR_PROTOCOL, "unexpected answer from pulsed: %s",
	            why);
}

/* Check the frame that answers q (code: how waiting for it went).
 * Returns 0 with the OK frame in *a, or an error code with the message on
 * the session (nothing held). */
static int answer(pulse_client *c, const pulse_msg *q, pulse_msg *a, int code)
{
	if (code == PULSE_ERR_TIMEOUT)
		return fail(c, code,
		            "no answer from pulsed within %u ms; session closed",
		            c->timeout_ms);
	if (code)
		return code;
	int session_error = a->type == PULSE_T_ERROR && a->id == 0;
	if (a->id != q->id && !session_error)
		return out_of_step(c, "wrong request id");
	if (a->type == PULSE_T_ERROR) {
		/* id 0: pulsed ends the whole session, and closes it. */
		code = libpulse_error_frame(a, c->conn.err, sizeof(c->conn.err));
		libpulse_conn_done(&c->conn);
		if (session_error)
			libpulse_conn_close(&c->conn);
		return code;
	}
	if (a->type != PULSE_T_OK)
		return out_of_step(c, "neither OK nor ERROR");
	return 0;
}

/* Send request q and wait for its answer: the one round trip every call
 * makes. Returns 0 with the OK frame in *a (release it with
 * libpulse_conn_done once the results are copied), or an error code with
 * the message on the session (nothing held). A list may come in parts
 * (a->more): take the rest with call_next(). */
static int call(pulse_client *c, pulse_msg *q, pulse_msg *a)
{
	if (c->conn.fd < 0)
		return PULSE_ERR_CLOSED; /* the message of the close is kept */
	q->id = ++c->next_id;
	q->has |= PM_ID;
	uint64_t deadline = libpulse_deadline(c->timeout_ms);
	int code = libpulse_conn_send(&c->conn, q, deadline);
	if (!code)
		code = libpulse_conn_wait(&c->conn, a, deadline);
	return answer(c, q, a, code);
}

/* The next part of a list answer whose last part (released) had `more`
 * (PROTOCOL.md 7.1): the same checks, and the timeout counts per part. */
static int call_next(pulse_client *c, const pulse_msg *q, pulse_msg *a)
{
	uint64_t deadline = libpulse_deadline(c->timeout_ms);
	return answer(c, q, a, libpulse_conn_wait(&c->conn, a, deadline));
}

/* A caller stopped reading a list answer before its last part (part: the
 * one it holds): read the rest and drop it, so that the session stays in
 * step. Returns 0, or the error that ended the answer. */
static int skip_rest(pulse_client *c, const pulse_msg *q, pulse_msg *part)
{
	int more = (part->has & PM_MORE) && part->more;
	libpulse_conn_done(&c->conn);
	while (more) {
		int code = call_next(c, q, part);
		if (code)
			return code;
		more = (part->has & PM_MORE) && part->more;
		libpulse_conn_done(&c->conn);
	}
	return 0;
}

/* Whether an OK frame is not the last part of its answer. */
static int more_parts(const pulse_msg *a)
{
	return (a->has & PM_MORE) && a->more;
}

/* A request for one pool, and for one key when key is not NULL. */
static pulse_msg request(uint32_t type, const char *pool, const char *key)
{
	pulse_msg q = {.type = type, .has = PM_POOL};
	q.pool = (pulse_str){pool, strlen(pool)};
	if (key) {
		q.has |= PM_KEY;
		q.key = (pulse_str){key, strlen(key)};
	}
	return q;
}

/* Check the arguments of a request locally. A NULL key where one is
 * needed is checked as "" so that it gets the syntax message. */
static int check(pulse_client *c, const char *pool, const char *key,
                 int needs_key, const void *payload, size_t len)
{
	if (payload == NULL && len > 0)
		return fail(c, PULSE_ERR_INVALID, "payload is NULL but its length is %zu",
		            len);
	if (needs_key && !key)
		key = "";
	return libpulse_check_request(pool, key, len,
	                              libpulse_conn_max_payload(&c->conn),
	                              c->conn.err, sizeof(c->conn.err));
}

/* A request answered by an empty OK. */
static int empty_call(pulse_client *c, pulse_msg *q)
{
	pulse_msg a;
	int code = call(c, q, &a);
	if (!code)
		libpulse_conn_done(&c->conn);
	return code;
}

/* DISPATCH, STOP, NOTIFY and SEND: a key, maybe a payload; the answer
 * an OK, empty but for SEND's payload (into *answer, malloc'd, when
 * answer is not NULL). */
static int job_call(pulse_client *c, uint32_t type, const char *pool,
                    const char *key, const void *payload, size_t len,
                    void **answer, size_t *answer_len)
{
	if (answer)
		*answer = NULL;
	if (answer_len)
		*answer_len = 0;
	if (!c)
		return PULSE_ERR_INVALID;
	int code = check(c, pool, key, 1, payload, len);
	if (code)
		return code;
	pulse_msg q = request(type, pool, key), a;
	if (type != PULSE_T_STOP) {
		q.has |= PM_PAYLOAD;
		q.payload = (pulse_str){payload ? payload : "", len};
	}
	request_timeout(c, &q);
	if ((code = call(c, &q, &a)))
		return code;
	size_t n = (a.has & PM_PAYLOAD) ? a.payload.n : 0;
	void *copy = NULL;
	if (answer && n > 0 && !(copy = malloc(n))) {
		libpulse_conn_done(&c->conn);
		return fail(c, ENOMEM_CODE, "out of memory");
	}
	if (copy)
		memcpy(copy, a.payload.p, n);
	libpulse_conn_done(&c->conn);
	if (answer)
		*answer = copy;
	if (answer_len)
		*answer_len = n;
	return 0;
}

/* SHUTDOWN and LEAVE: a pool and an empty OK. */
static int pool_call(pulse_client *c, uint32_t type, const char *pool)
{
	if (!c)
		return PULSE_ERR_INVALID;
	int code = check(c, pool, NULL, 0, NULL, 0);
	if (code)
		return code;
	pulse_msg q = request(type, pool, NULL);
	return empty_call(c, &q);
}

int pulse_shutdown(pulse_client *c, const char *pool)
{
	return pool_call(c, PULSE_T_SHUTDOWN, pool);
}

int pulse_leave(pulse_client *c, const char *pool)
{
	return pool_call(c, PULSE_T_LEAVE, pool);
}

int pulse_reopen(pulse_client *c, const char *pool)
{
	return pool_call(c, PULSE_T_REOPEN, pool);
}

int pulse_dispatch(pulse_client *c, const char *pool, const char *key,
                   const void *payload, size_t len)
{
	return job_call(c, PULSE_T_DISPATCH, pool, key, payload, len, NULL, NULL);
}

int pulse_stop_job(pulse_client *c, const char *pool, const char *key)
{
	return job_call(c, PULSE_T_STOP, pool, key, NULL, 0, NULL, NULL);
}

int pulse_notify(pulse_client *c, const char *pool, const char *key,
                 const void *payload, size_t len)
{
	return job_call(c, PULSE_T_NOTIFY, pool, key, payload, len, NULL, NULL);
}

int pulse_send(pulse_client *c, const char *pool, const char *key,
               const void *payload, size_t len, void **answer,
               size_t *answer_len)
{
	return job_call(c, PULSE_T_SEND, pool, key, payload, len, answer,
	                answer_len);
}

/* A C string copy of a counted string from a frame; NULL when it holds a
 * NUL (it could not be a C string) or memory runs out. */
static char *dup_str(const char *p, size_t n)
{
	if (memchr(p, 0, n))
		return NULL;
	char *s = malloc(n + 1);
	if (s) {
		memcpy(s, p, n);
		s[n] = 0;
	}
	return s;
}

int pulse_jobs_each(pulse_client *c, const char *pool,
                    const pulse_jobs_query *query, pulse_key_fn *fn,
                    void *arg, uint64_t *count)
{
	static const pulse_jobs_query all = {0};
	if (count)
		*count = 0;
	if (!c)
		return PULSE_ERR_INVALID;
	if (!query)
		query = &all;
	if (!fn && !query->count_only)
		return fail(c, PULSE_ERR_INVALID, "fn must not be NULL");
	int code = check(c, pool, NULL, 0, NULL, 0);
	if (code)
		return code;
	pulse_msg q = request(PULSE_T_JOBS, pool, NULL), a;
	if (query->worker) {
		q.has |= PM_WORKER;
		q.worker = (pulse_str){query->worker, strlen(query->worker)};
	}
	if (query->match) {
		q.has |= PM_MATCH;
		q.match = (pulse_str){query->match, strlen(query->match)};
	}
	if (query->count_only || query->limit) {
		q.has |= PM_LIMIT;
		q.limit = query->count_only ? 0 : query->limit;
	}
	uint64_t seen = 0;
	for (code = call(c, &q, &a); !code; code = call_next(c, &q, &a)) {
		if (!(a.has & PM_KEYS) || a.keys->type != MSGPACK_OBJECT_ARRAY)
			return out_of_step(c, "no key list");
		const msgpack_object_array *arr = &a.keys->via.array;
		for (uint32_t i = 0; i < arr->size; i++) {
			const msgpack_object *o = &arr->ptr[i];
			if (o->type != MSGPACK_OBJECT_STR ||
			    o->via.str.size > PULSE_MAX_KEY)
				return out_of_step(c, "a key is not a string of at most "
				                      "1024 bytes");
			seen++;
			char key[PULSE_MAX_KEY + 1]; /* the frame's is not a C string */
			memcpy(key, o->via.str.ptr, o->via.str.size);
			key[o->via.str.size] = 0;
			int stop = fn(arg, key, o->via.str.size);
			if (stop) {
				code = skip_rest(c, &q, &a);
				return code ? code
				            : fail(c, stop, "stopped by the callback");
			}
		}
		if (!more_parts(&a)) {
			/* count: the keys sent, or with count_only the keys that
			 * match (an older pulsed sends no count: those seen) */
			if (count)
				*count = (a.has & PM_COUNT) ? a.count : seen;
			libpulse_conn_done(&c->conn);
			return 0;
		}
		libpulse_conn_done(&c->conn);
	}
	return code;
}

int pulse_job_count(pulse_client *c, const char *pool, const char *match,
                    uint64_t *count)
{
	pulse_jobs_query q = {.match = match, .count_only = 1};
	if (c && !count)
		return fail(c, PULSE_ERR_INVALID, "count must not be NULL");
	return pulse_jobs_each(c, pool, &q, NULL, NULL, count);
}

void pulse_free_keys(char **keys)
{
	if (!keys)
		return;
	for (char **k = keys; *k; k++)
		free(*k);
	free(keys);
}

/* The keys of a JOBS answer gathered into a NULL-terminated array. */
struct key_array {
	char **keys;
	size_t n, cap;
};

static int add_key(void *arg, const char *key, size_t len)
{
	struct key_array *ka = arg;
	if (ka->n + 1 >= ka->cap) {
		size_t cap = ka->cap ? 2 * ka->cap : 64;
		char **k = realloc(ka->keys, cap * sizeof(*k));
		if (!k)
			return ENOMEM_CODE;
		ka->keys = k;
		ka->cap = cap;
	}
	if (!(ka->keys[ka->n] = dup_str(key, len)))
		return ENOMEM_CODE;
	ka->keys[++ka->n] = NULL;
	return 0;
}

/* JOBS: every key of the pool, or those the worker owns (worker not
 * NULL), into one array. */
static int keys_call(pulse_client *c, const char *pool, const char *worker,
                     char ***keys, size_t *n)
{
	if (keys)
		*keys = NULL;
	if (n)
		*n = 0;
	if (!c)
		return PULSE_ERR_INVALID;
	if (!keys)
		return fail(c, PULSE_ERR_INVALID, "keys must not be NULL");
	struct key_array ka = {0};
	pulse_jobs_query q = {.worker = worker};
	int code = pulse_jobs_each(c, pool, &q, add_key, &ka, NULL);
	if (!code && !ka.keys && !(ka.keys = calloc(1, sizeof(*ka.keys))))
		code = fail(c, ENOMEM_CODE, "out of memory");
	if (code) {
		if (ka.keys)
			ka.keys[ka.n] = NULL;
		pulse_free_keys(ka.keys);
		if (code == ENOMEM_CODE)
			fail(c, code, "out of memory");
		return code;
	}
	*keys = ka.keys;
	if (n)
		*n = ka.n;
	return 0;
}

int pulse_job_keys(pulse_client *c, const char *pool, char ***keys, size_t *n)
{
	return keys_call(c, pool, NULL, keys, n);
}

int pulse_worker_job_keys(pulse_client *c, const char *pool,
                          const char *worker, char ***keys, size_t *n)
{
	if (c && !worker)
		return fail(c, PULSE_ERR_INVALID, "worker must not be NULL");
	return keys_call(c, pool, worker, keys, n);
}

int pulse_where(pulse_client *c, const char *pool, const char *key,
                char **worker, char **node, int *owned)
{
	if (worker)
		*worker = NULL;
	if (node)
		*node = NULL;
	if (!c)
		return PULSE_ERR_INVALID;
	if (!worker || !node || !owned)
		return fail(c, PULSE_ERR_INVALID,
		            "worker, node and owned must not be NULL");
	int code = check(c, pool, key, 1, NULL, 0);
	if (code)
		return code;
	pulse_msg q = request(PULSE_T_WHERE, pool, key), a;
	if ((code = call(c, &q, &a)))
		return code;
	if ((a.has & (PM_WORKER | PM_NODE | PM_EXISTS)) !=
	    (PM_WORKER | PM_NODE | PM_EXISTS))
		return out_of_step(c, "no worker, node or exists field");
	*worker = dup_str(a.worker.p, a.worker.n);
	*node = dup_str(a.node.p, a.node.n);
	*owned = a.exists != 0;
	libpulse_conn_done(&c->conn);
	if (!*worker || !*node) {
		free(*worker);
		free(*node);
		*worker = *node = NULL;
		return fail(c, ENOMEM_CODE, "out of memory");
	}
	return 0;
}

int pulse_job_payload(pulse_client *c, const char *pool, const char *key,
                      void **payload, size_t *len, int *exists)
{
	if (payload)
		*payload = NULL;
	if (len)
		*len = 0;
	if (exists)
		*exists = 0;
	if (!c)
		return PULSE_ERR_INVALID;
	if (!exists)
		return fail(c, PULSE_ERR_INVALID, "exists must not be NULL");
	int code = check(c, pool, key, 1, NULL, 0);
	if (code)
		return code;
	pulse_msg q = request(PULSE_T_JOB, pool, key), a;
	if ((code = call(c, &q, &a)))
		return code;
	if (!(a.has & PM_EXISTS))
		return out_of_step(c, "no exists field");
	size_t n = a.exists && (a.has & PM_PAYLOAD) ? a.payload.n : 0;
	void *copy = NULL;
	if (payload && n > 0) {
		if (!(copy = malloc(n))) {
			libpulse_conn_done(&c->conn);
			return fail(c, ENOMEM_CODE, "out of memory");
		}
		memcpy(copy, a.payload.p, n);
	}
	*exists = a.exists != 0;
	libpulse_conn_done(&c->conn);
	if (payload)
		*payload = copy;
	if (len)
		*len = n;
	return 0;
}

void pulse_free_workers(pulse_worker_info *workers, size_t n)
{
	if (!workers)
		return;
	for (size_t i = 0; i < n; i++) {
		free(workers[i].id);
		free(workers[i].name);
		free(workers[i].node);
	}
	free(workers);
}

/* One worker of a WORKERS answer: a map with id, name, node (strings) and
 * jobs (a count); unknown fields are skipped. Returns 0, or -1 with a
 * reason when a field has the wrong type or memory runs out. */
static int worker_info(const msgpack_object *o, pulse_worker_info *w,
                       const char **why)
{
	*why = "a worker is not a map";
	if (o->type != MSGPACK_OBJECT_MAP)
		return -1;
	for (uint32_t i = 0; i < o->via.map.size; i++) {
		const msgpack_object *k = &o->via.map.ptr[i].key;
		const msgpack_object *v = &o->via.map.ptr[i].val;
		char **field = NULL;
		if (k->type != MSGPACK_OBJECT_STR)
			continue;
		const char *name = k->via.str.ptr;
		size_t kn = k->via.str.size;
		if (kn == 2 && memcmp(name, "id", 2) == 0)
			field = &w->id;
		else if (kn == 4 && memcmp(name, "name", 4) == 0)
			field = &w->name;
		else if (kn == 4 && memcmp(name, "node", 4) == 0)
			field = &w->node;
		else if (kn == 4 && memcmp(name, "jobs", 4) == 0) {
			*why = "a worker's job count is not a count";
			if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
				return -1;
			w->jobs = v->via.u64;
			continue;
		} else
			continue;
		*why = "a worker field is not a string";
		if (v->type != MSGPACK_OBJECT_STR || *field)
			return -1;
		if (!(*field = dup_str(v->via.str.ptr, v->via.str.size)))
			return -1;
	}
	/* name and node may be absent ("" then); the id may not. */
	*why = "a worker has no id";
	if (!w->id)
		return -1;
	*why = "out of memory";
	if (!w->name && !(w->name = strdup("")))
		return -1;
	if (!w->node && !(w->node = strdup("")))
		return -1;
	return 0;
}

/* One kind of list answer (an array of maps in the `workers` field): the
 * size of an element, how to fill one from its map (0, or -1 with a
 * reason), and how to free a partly filled array. */
struct list_kind {
	size_t size;
	int (*fill)(const msgpack_object *o, void *elem, const char **why);
	void (*drop)(void *arr, size_t n);
	const char *none; /* the complaint when the list is missing */
};

/* Send q and decode its list answer, in as many parts as it comes, into
 * a malloc'd array. */
static int list_call(pulse_client *c, pulse_msg *q, const struct list_kind *k,
                     void **out, size_t *n)
{
	pulse_msg a;
	char *v = NULL;
	size_t count = 0;
	int code;
	for (code = call(c, q, &a); !code; code = call_next(c, q, &a)) {
		if (!(a.has & PM_WORKERS) || a.workers->type != MSGPACK_OBJECT_ARRAY) {
			code = out_of_step(c, k->none);
			break;
		}
		const msgpack_object_array *arr = &a.workers->via.array;
		char *grown = realloc(v, (count + arr->size + 1) * k->size);
		const char *why = "out of memory";
		if (grown) {
			v = grown;
			memset(v + count * k->size, 0, (arr->size + 1) * k->size);
		}
		for (uint32_t i = 0; grown && i < arr->size; i++) {
			int bad = k->fill(&arr->ptr[i], v + count * k->size, &why) < 0;
			count++; /* a partly filled one is freed with the rest */
			if (bad)
				grown = NULL;
		}
		if (!grown) {
			code = out_of_step(c, why);
			break;
		}
		int more = more_parts(&a);
		libpulse_conn_done(&c->conn);
		if (!more) {
			*out = v;
			*n = count;
			return 0;
		}
	}
	if (v)
		k->drop(v, count);
	return code;
}

static int fill_worker(const msgpack_object *o, void *e, const char **why)
{
	return worker_info(o, e, why);
}

static void drop_workers(void *arr, size_t n)
{
	pulse_free_workers(arr, n);
}

static const struct list_kind worker_list = {
	sizeof(pulse_worker_info), fill_worker, drop_workers, "no worker list"};

/* The checks every list call starts with: outputs cleared, arguments
 * present, pool syntax. */
static int list_args(pulse_client *c, const char *pool, void *out, size_t *n)
{
	if (n)
		*n = 0;
	if (!c)
		return PULSE_ERR_INVALID;
	if (!out || !n)
		return fail(c, PULSE_ERR_INVALID, "the list and n must not be NULL");
	return check(c, pool, NULL, 0, NULL, 0);
}

int pulse_pool_workers(pulse_client *c, const char *pool, int local,
                       pulse_worker_info **workers, size_t *n)
{
	if (workers)
		*workers = NULL;
	int code = list_args(c, pool, workers, n);
	if (code)
		return code;
	pulse_msg q = request(PULSE_T_WORKERS, pool, NULL);
	q.has |= PM_LOCAL;
	q.local = local != 0;
	void *out;
	if ((code = list_call(c, &q, &worker_list, &out, n)) == 0)
		*workers = out;
	return code;
}

void pulse_free_nodes(pulse_node_info *nodes, size_t n)
{
	if (!nodes)
		return;
	for (size_t i = 0; i < n; i++)
		free(nodes[i].node);
	free(nodes);
}

/* One node of a NODES answer: a map with node (a string), lease_ms and
 * workers (counts); unknown fields are skipped. */
static int node_info(const msgpack_object *o, pulse_node_info *nd)
{
	if (o->type != MSGPACK_OBJECT_MAP)
		return -1;
	for (uint32_t i = 0; i < o->via.map.size; i++) {
		const msgpack_object *k = &o->via.map.ptr[i].key;
		const msgpack_object *v = &o->via.map.ptr[i].val;
		if (k->type != MSGPACK_OBJECT_STR)
			continue;
		const char *name = k->via.str.ptr;
		size_t kn = k->via.str.size;
		uint64_t *count = kn == 8 && memcmp(name, "lease_ms", 8) == 0
		                  ? &nd->lease_ms
		                  : kn == 7 && memcmp(name, "workers", 7) == 0
		                  ? &nd->workers : NULL;
		if (count) {
			if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
				return -1;
			*count = v->via.u64;
		} else if (kn == 4 && memcmp(name, "node", 4) == 0) {
			if (v->type != MSGPACK_OBJECT_STR || nd->node ||
			    !(nd->node = dup_str(v->via.str.ptr, v->via.str.size)))
				return -1;
		}
	}
	return nd->node ? 0 : -1;
}

static int fill_node(const msgpack_object *o, void *e, const char **why)
{
	*why = "a malformed node entry";
	return node_info(o, e);
}

static void drop_nodes(void *arr, size_t n)
{
	pulse_free_nodes(arr, n);
}

static const struct list_kind node_list = {
	sizeof(pulse_node_info), fill_node, drop_nodes, "no node list"};

int pulse_pool_nodes(pulse_client *c, const char *pool,
                     pulse_node_info **nodes, size_t *n)
{
	if (nodes)
		*nodes = NULL;
	int code = list_args(c, pool, nodes, n);
	if (code)
		return code;
	pulse_msg q = request(PULSE_T_NODES, pool, NULL);
	void *out;
	if ((code = list_call(c, &q, &node_list, &out, n)) == 0)
		*nodes = out;
	return code;
}

/* DRAIN and UNDRAIN: no pool, an empty OK. */
static int node_call(pulse_client *c, uint32_t type, unsigned timeout_s)
{
	if (!c)
		return PULSE_ERR_INVALID;
	pulse_msg q = {.type = type};
	if (timeout_s) {
		q.has |= PM_TIMEOUT;
		q.timeout_ms = (uint64_t)timeout_s * 1000;
	}
	if (type == PULSE_T_DRAIN)
		request_timeout(c, &q);
	return empty_call(c, &q);
}

int pulse_drain(pulse_client *c, unsigned timeout_s)
{
	return node_call(c, PULSE_T_DRAIN, timeout_s);
}

int pulse_undrain(pulse_client *c)
{
	return node_call(c, PULSE_T_UNDRAIN, 0);
}

/* ---- status as JSON ---------------------------------------------------- */

static int put(pulse_buf *b, const char *s)
{
	return pulse_buf_append(b, s, strlen(s));
}

/* Length of the well-formed UTF-8 sequence at p (1..4), or 0 when the
 * bytes there are not one (JSON text must be valid UTF-8). */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	unsigned char b = p[0];
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf; /* range of the second byte */
	if (b < 0x80)
		return 1;
	if (b >= 0xc2 && b <= 0xdf)
		len = 2;
	else if (b >= 0xe0 && b <= 0xef) {
		len = 3;
		lo = b == 0xe0 ? 0xa0 : 0x80; /* no overlong forms */
		hi = b == 0xed ? 0x9f : 0xbf; /* no surrogates */
	} else if (b >= 0xf0 && b <= 0xf4) {
		len = 4;
		lo = b == 0xf0 ? 0x90 : 0x80;
		hi = b == 0xf4 ? 0x8f : 0xbf; /* nothing past U+10FFFF */
	} else
		return 0;
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

/* A JSON string of n bytes: quotes, backslashes and control characters
 * escaped; a byte that is not valid UTF-8 is written as the code point of
 * the same number (\u00XX), so any binary comes out as valid JSON. */
static int json_string(pulse_buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	int rc = put(b, "\"");
	for (size_t i = 0; i < n && rc == 0;) {
		size_t len = utf8_len(p + i, n - i);
		char esc[8];
		if (len > 1 || (len == 1 && p[i] >= 0x20 && p[i] != '"' &&
		                p[i] != '\\' && p[i] != 0x7f)) {
			rc = pulse_buf_append(b, p + i, len);
			i += len;
			continue;
		}
		if (p[i] == '"' || p[i] == '\\')
			snprintf(esc, sizeof(esc), "\\%c", p[i]);
		else
			snprintf(esc, sizeof(esc), "\\u%04x", p[i]);
		rc = put(b, esc);
		i++;
	}
	return rc ? rc : put(b, "\"");
}

static int json_value(pulse_buf *b, const msgpack_object *o);

/* A map key: strings as they are, anything else written as JSON and then
 * quoted, since JSON object keys are strings. */
static int json_key(pulse_buf *b, const msgpack_object *k)
{
	if (k->type == MSGPACK_OBJECT_STR)
		return json_string(b, k->via.str.ptr, k->via.str.size);
	if (k->type == MSGPACK_OBJECT_BIN)
		return json_string(b, k->via.bin.ptr, k->via.bin.size);
	pulse_buf tmp = {0};
	int rc = json_value(&tmp, k);
	if (rc == 0)
		rc = json_string(b, tmp.data, tmp.len);
	pulse_buf_free(&tmp);
	return rc;
}

/* Any msgpack object as JSON: map -> object, array -> array, str and bin
 * -> string, integers and floats -> number, bool, nil and ext -> null.
 * Depth is bounded by the codec's check (PULSE_MAX_DEPTH). */
static int json_value(pulse_buf *b, const msgpack_object *o)
{
	char num[40];
	int rc = 0;
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return put(b, "null");
	case MSGPACK_OBJECT_BOOLEAN:
		return put(b, o->via.boolean ? "true" : "false");
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		snprintf(num, sizeof(num), "%llu", (unsigned long long)o->via.u64);
		return put(b, num);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		snprintf(num, sizeof(num), "%lld", (long long)o->via.i64);
		return put(b, num);
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		if (!isfinite(o->via.f64))
			return put(b, "null");
		snprintf(num, sizeof(num), "%.17g", o->via.f64);
		return put(b, num);
	case MSGPACK_OBJECT_STR:
		return json_string(b, o->via.str.ptr, o->via.str.size);
	case MSGPACK_OBJECT_BIN:
		return json_string(b, o->via.bin.ptr, o->via.bin.size);
	case MSGPACK_OBJECT_ARRAY:
		rc = put(b, "[");
		for (uint32_t i = 0; rc == 0 && i < o->via.array.size; i++) {
			if (i)
				rc = put(b, ",");
			if (rc == 0)
				rc = json_value(b, &o->via.array.ptr[i]);
		}
		return rc ? rc : put(b, "]");
	case MSGPACK_OBJECT_MAP:
		rc = put(b, "{");
		for (uint32_t i = 0; rc == 0 && i < o->via.map.size; i++) {
			if (i)
				rc = put(b, ",");
			if (rc == 0)
				rc = json_key(b, &o->via.map.ptr[i].key);
			if (rc == 0)
				rc = put(b, ":");
			if (rc == 0)
				rc = json_value(b, &o->via.map.ptr[i].val);
		}
		return rc ? rc : put(b, "}");
	default:
		return put(b, "null");
	}
}

/* Append a later part of a list answer to the JSON text of the parts
 * before it: the part's map carries only the list, the first part's map
 * ends with it (listout.c), so its items go before the text's "]}". */
static int json_more_items(pulse_buf *b, const msgpack_object *map)
{
	const msgpack_object *list = NULL;
	for (uint32_t i = 0; map->type == MSGPACK_OBJECT_MAP && i < map->via.map.size; i++)
		if (map->via.map.ptr[i].val.type == MSGPACK_OBJECT_ARRAY)
			list = &map->via.map.ptr[i].val;
	if (!list || b->len < 3 || memcmp(b->data + b->len - 2, "]}", 2) != 0)
		return -1;
	b->len -= 2;
	int rc = 0, first = b->data[b->len - 1] == '[';
	for (uint32_t i = 0; rc == 0 && i < list->via.array.size; i++, first = 0) {
		if (!first)
			rc = put(b, ",");
		if (rc == 0)
			rc = json_value(b, &list->via.array.ptr[i]);
	}
	return rc ? rc : put(b, "]}");
}

/* A request answered by OK with a `status` map (in one part or several),
 * returned as JSON text. */
static int status_call(pulse_client *c, pulse_msg *q, char **json)
{
	if (json)
		*json = NULL;
	if (!c)
		return PULSE_ERR_INVALID;
	if (!json)
		return fail(c, PULSE_ERR_INVALID, "json must not be NULL");
	pulse_msg a;
	pulse_buf b = {0};
	int code, parts = 0;
	for (code = call(c, q, &a); !code; code = call_next(c, q, &a)) {
		if (!(a.has & PM_STATUS)) {
			code = out_of_step(c, "no status");
			break;
		}
		int rc = parts++ ? json_more_items(&b, a.status)
		                 : json_value(&b, a.status);
		int more = more_parts(&a);
		if (rc) {
			code = out_of_step(c, "the parts of the answer do not join "
			                      "(a later part without its list, or "
			                      "out of memory)");
			break;
		}
		libpulse_conn_done(&c->conn);
		if (more)
			continue;
		char *s = malloc(b.len + 1);
		if (s) {
			memcpy(s, b.data, b.len);
			s[b.len] = 0;
		}
		pulse_buf_free(&b);
		if (!s)
			return fail(c, ENOMEM_CODE, "out of memory");
		*json = s;
		return 0;
	}
	pulse_buf_free(&b);
	return code;
}

int pulse_status_json(pulse_client *c, char **json)
{
	pulse_msg q = {.type = PULSE_T_STATUS};
	return status_call(c, &q, json);
}

int pulse_clocks_json(pulse_client *c, const char *pool, int schedules,
                      char **json)
{
	if (json)
		*json = NULL;
	if (!c)
		return PULSE_ERR_INVALID;
	int code = check(c, pool, NULL, 0, NULL, 0);
	if (code)
		return code;
	pulse_msg q = request(PULSE_T_CLOCKS, pool, NULL);
	const char *role = schedules ? "sched" : "tick";
	q.has |= PM_ROLE;
	q.role = (pulse_str){role, strlen(role)};
	return status_call(c, &q, json);
}
