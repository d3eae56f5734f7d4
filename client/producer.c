/*
 * producer.c: schedule producers of libpulse-client (pulse_schedule,
 * pulse_producer_*, and the pulse_plan a plan function fills).
 *
 * Owns: one client session per producer, the SCHEDULE request that
 * registers it, the PLAN frames pulsed pushes afterwards and their PLANNED
 * answers (built from the caller's plan function), the TICKEND that ends
 * the schedule, the plan under construction (its keys and payloads copied
 * into one arena), and the stop request (a flag plus a self-pipe, as in
 * worker sessions).
 *
 * Invariants:
 *   - Every PLAN gets exactly one PLANNED with its id, in the order the
 *     PLANs came, for as long as the session lasts. PLANs that arrive
 *     before the OK to SCHEDULE are queued, never dropped, and answered
 *     right after it.
 *   - When pulse_schedule() or pulse_producer_process() returns, no whole
 *     frame is left in the reader and the socket was read until it would
 *     block, so a caller that waits for the fd to be readable misses
 *     nothing. (pulse_producer_run() stopped by pulse_producer_stop() may
 *     leave frames: they are taken by the next call.)
 *   - A PLANNED frame fits the default frame cap: pulse_plan_start/stop
 *     refuse an entry that would take the plan's encoded size (counted
 *     from above) past PLAN_MAX, so a plan is never cut short on the wire.
 *   - With `all` set the stop keys are not sent (pulsed would ignore them,
 *     as the seed ignores JobPlan.Stop with StopAll).
 *   - Once the session ended `ended` holds the code (PULSE_ERR_CLOSED with
 *     "schedule NAME ended" after TICKEND, then `finished` is set) and
 *     every later call returns it; the message stays in conn.err.
 *   - pulse_producer_stop() touches only `stop` (volatile sig_atomic_t)
 *     and write(2) on the non-blocking self-pipe, saving errno: it is
 *     async-signal-safe. The loop drains the pipe whenever it is readable
 *     and trusts only the flag.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"

/* The id of our SCHEDULE request: the only request a producer sends. */
#define SCHEDULE_ID 1
/* The largest PLANNED body: the frame cap of a pulsed with the default
 * payload cap. */
#define PLAN_MAX (PULSE_DEFAULT_MAX_PAYLOAD + PULSE_FRAME_OVERHEAD)
/* Upper bounds of the encoded sizes besides the keys and payloads: the
 * frame's own fields ("t", "id", the "start"/"stop" names and array
 * headers, "all"); one start entry (map header, "key", str header,
 * "payload", bin header); one stop entry (str header). */
#define PLAN_BASE 64u
#define START_COST 24u
#define STOP_COST 5u

/* One start or stop of a plan: offsets into the plan's arena. */
struct plan_entry {
	size_t key, keylen, payload, len;
};

struct plan_list {
	struct plan_entry *v;
	size_t n, cap;
};

struct pulse_plan {
	const char *pool;  /* the producer's, for libpulse_check_request */
	pulse_buf arena;   /* keys and payloads, back to back */
	struct plan_list start, stop;
	size_t size;       /* encoded size, counted from above */
	int all;
	char err[LIBPULSE_ERRLEN];
};

struct pulse_producer {
	struct libpulse_conn conn;
	char pool[PULSE_MAX_POOL + 1];
	char name[PULSE_MAX_POOL + 1];
	pulse_plan_fn fn;
	void *ud;
	pulse_plan plan;   /* reused from plan to plan */
	uint64_t *q;       /* ids of PLANs not yet answered */
	size_t qhead, nq, capq;
	int wake[2];       /* self-pipe: pulse_producer_stop writes, run polls */
	volatile sig_atomic_t stop;
	int registered;    /* pulsed answered OK to SCHEDULE */
	int finished;      /* TICKEND seen: the schedule ended */
	int ended;         /* 0 while the session is on, else the code */
};

/* ---- plans ------------------------------------------------------------- */

/* Empty the plan for the next call; a large arena is given back (see
 * pulse_buf_drop) so that one big plan does not pin its memory. */
static void plan_reset(pulse_plan *pl)
{
	pulse_buf_drop(&pl->arena, pl->arena.len);
	pl->start.n = pl->stop.n = 0;
	pl->size = PLAN_BASE;
	pl->all = 0;
	pl->err[0] = 0;
}

static void plan_free(pulse_plan *pl)
{
	pulse_buf_free(&pl->arena);
	free(pl->start.v);
	free(pl->stop.v);
}

/* Bytes at offset off of the arena; never NULL, even while the arena
 * holds nothing (NULL + 0 is undefined). */
static const char *plan_at(const pulse_plan *pl, size_t off)
{
	return pl->arena.data ? pl->arena.data + off : "";
}

/* Check and copy one entry into list l. cost is the entry's encoding
 * overhead. Leaves the plan as it was on failure. */
static int plan_add(pulse_plan *pl, struct plan_list *l, const char *key,
                    const void *payload, size_t len, size_t cost)
{
	if (!key)
		return libpulse_errf(pl->err, sizeof(pl->err), PULSE_ERR_INVALID,
		                     "no key given");
	if (!payload && len)
		return libpulse_errf(pl->err, sizeof(pl->err), PULSE_ERR_INVALID,
		                     "no payload given for %zu bytes", len);
	int code = libpulse_check_request(pl->pool, key, len,
	                                  PULSE_DEFAULT_MAX_PAYLOAD, pl->err,
	                                  sizeof(pl->err));
	if (code)
		return code;
	size_t keylen = strlen(key); /* <= PULSE_MAX_KEY: checked above */
	cost += keylen + len;
	if (cost > PLAN_MAX - pl->size)
		return libpulse_errf(pl->err, sizeof(pl->err), PULSE_ERR_TOO_LARGE,
		                     "the plan would exceed the frame limit of %u "
		                     "bytes", (unsigned)PLAN_MAX);
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct plan_entry *v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return libpulse_errf(pl->err, sizeof(pl->err),
			                     PULSE_ERR_UNAVAILABLE, "out of memory");
		l->v = v;
		l->cap = cap;
	}
	size_t at = pl->arena.len;
	if (pulse_buf_append(&pl->arena, key, keylen) < 0 ||
	    (len && pulse_buf_append(&pl->arena, payload, len) < 0)) {
		pl->arena.len = at;
		return libpulse_errf(pl->err, sizeof(pl->err), PULSE_ERR_UNAVAILABLE,
		                     "out of memory");
	}
	l->v[l->n++] = (struct plan_entry){at, keylen, at + keylen, len};
	pl->size += cost;
	return 0;
}

int pulse_plan_start(pulse_plan *pl, const char *key, const void *payload,
                     size_t len)
{
	if (!pl)
		return PULSE_ERR_INVALID;
	return plan_add(pl, &pl->start, key, payload, len, START_COST);
}

int pulse_plan_stop(pulse_plan *pl, const char *key)
{
	if (!pl)
		return PULSE_ERR_INVALID;
	return plan_add(pl, &pl->stop, key, NULL, 0, STOP_COST);
}

void pulse_plan_stop_all(pulse_plan *pl)
{
	if (pl)
		pl->all = 1;
}

const char *pulse_plan_errmsg(const pulse_plan *pl)
{
	return pl ? pl->err : "no plan";
}

/* ---- answering PLANs --------------------------------------------------- */

/* Build the PLANNED answer to PLAN id into the session's output: the
 * failure (r PULSE_PLAN_ERROR, msg), the end, or the plan itself. Empty
 * and false fields are left out. Returns 0 or -1 (out of memory; nothing
 * is left in the output). */
static int encode_planned(pulse_producer *p, uint64_t id, int r,
                          const char *msg)
{
	const pulse_plan *pl = &p->plan;
	int stops = !pl->all && pl->stop.n > 0;
	uint32_t nfields = r == PULSE_PLAN_ERROR ? 2
	                 : r == PULSE_PLAN_END   ? 1
	                 : (uint32_t)(pl->start.n > 0) + (uint32_t)stops +
	                       (uint32_t)pl->all;
	pulse_enc e;
	pulse_enc_begin(&e, &p->conn.out, PULSE_T_PLANNED, id, nfields);
	if (r == PULSE_PLAN_ERROR) {
		pulse_enc_cstr(&e, "code", pulse_err_name(PULSE_E_HANDLER));
		pulse_enc_cstr(&e, "msg", msg);
		return pulse_enc_end(&e);
	}
	if (r == PULSE_PLAN_END) {
		pulse_enc_bool(&e, "end", 1);
		return pulse_enc_end(&e);
	}
	if (pl->start.n > 0) {
		pulse_enc_key(&e, "start");
		msgpack_pack_array(&e.pk, pl->start.n);
		for (size_t i = 0; i < pl->start.n; i++) {
			const struct plan_entry *s = &pl->start.v[i];
			msgpack_pack_map(&e.pk, 2);
			pulse_enc_str(&e, "key", plan_at(pl, s->key), s->keylen);
			pulse_enc_bin(&e, "payload", plan_at(pl, s->payload), s->len);
		}
	}
	if (stops) {
		pulse_enc_key(&e, "stop");
		msgpack_pack_array(&e.pk, pl->stop.n);
		for (size_t i = 0; i < pl->stop.n; i++) {
			const struct plan_entry *s = &pl->stop.v[i];
			msgpack_pack_str(&e.pk, s->keylen);
			msgpack_pack_str_body(&e.pk, plan_at(pl, s->key), s->keylen);
		}
	}
	if (pl->all)
		pulse_enc_bool(&e, "all", 1);
	return pulse_enc_end(&e);
}

/* Run the plan function for PLAN id and send its answer. A function that
 * returns something else than PULSE_PLAN_* fails the plan, as a worker
 * handler's bad answer fails its event. */
static int answer(pulse_producer *p, uint64_t id)
{
	char msg[512] = "";
	plan_reset(&p->plan);
	int r = p->fn(p->ud, p->name, &p->plan, msg, sizeof(msg));
	if (r != PULSE_PLAN_OK && r != PULSE_PLAN_ERROR && r != PULSE_PLAN_END) {
		libpulse_errf(msg, sizeof(msg), 0, "plan function returned %d", r);
		r = PULSE_PLAN_ERROR;
	}
	if (r == PULSE_PLAN_ERROR) {
		msg[sizeof(msg) - 1] = 0; /* the function may have filled it all */
		if (!msg[0])
			libpulse_errf(msg, sizeof(msg), 0, "plan function failed");
	}
	/* Out of memory for the plan: pulsed still gets its answer, a
	 * failure, and asks again at the next tick. */
	int bad = encode_planned(p, id, r, msg) < 0 &&
	          encode_planned(p, id, PULSE_PLAN_ERROR,
	                         "cannot encode the plan: out of memory") < 0;
	plan_reset(&p->plan);
	if (bad)
		return libpulse_errf(p->conn.err, sizeof(p->conn.err),
		                     PULSE_ERR_UNAVAILABLE,
		                     "cannot encode a plan answer: out of memory");
	return libpulse_conn_flush(&p->conn, 0);
}

static int queue_plan(pulse_producer *p, uint64_t id)
{
	if (p->nq == p->capq) {
		size_t cap = p->capq ? p->capq * 2 : 4;
		uint64_t *q = realloc(p->q, cap * sizeof(*q));
		if (!q)
			return libpulse_errf(p->conn.err, sizeof(p->conn.err),
			                     PULSE_ERR_UNAVAILABLE,
			                     "out of memory for a plan request");
		p->q = q;
		p->capq = cap;
	}
	p->q[p->nq++] = id;
	return 0;
}

/* Answer the queued PLANs in order. */
static int answer_queued(pulse_producer *p)
{
	while (p->qhead < p->nq) {
		int code = answer(p, p->q[p->qhead++]);
		if (code)
			return code;
	}
	p->qhead = p->nq = 0;
	return 0;
}

/* ---- the session ------------------------------------------------------- */

static int end_session(pulse_producer *p, int code)
{
	if (!p->ended) {
		p->ended = code;
		libpulse_conn_close(&p->conn);
	}
	return p->ended;
}

/* One frame from pulsed. Returns 0, or the code that ends the session. */
static int take(pulse_producer *p, const pulse_msg *m)
{
	switch (m->type) {
	case PULSE_T_PLAN:
		return queue_plan(p, m->id);
	case PULSE_T_TICKEND:
		p->finished = 1;
		return libpulse_errf(p->conn.err, sizeof(p->conn.err),
		                     PULSE_ERR_CLOSED, "schedule %s ended", p->name);
	case PULSE_T_OK:
		if (!p->registered && m->id == SCHEDULE_ID) {
			p->registered = 1;
			return 0;
		}
		break;
	case PULSE_T_ERROR:
		if (m->id == 0 || (!p->registered && m->id == SCHEDULE_ID))
			return libpulse_error_frame(m, p->conn.err, sizeof(p->conn.err));
		break;
	}
	return libpulse_errf(p->conn.err, sizeof(p->conn.err), PULSE_ERR_PROTOCOL,
	                     "unexpected message type %u (id %llu) from pulsed",
	                     (unsigned)m->type, (unsigned long long)m->id);
}

/* Empty the self-pipe (it is non-blocking). */
static void drain_wake(pulse_producer *p)
{
	char buf[64];
	while (read(p->wake[0], buf, sizeof(buf)) > 0)
		;
}

/* Wait until the socket or the self-pipe is readable. A signal returns
 * early (0), so that the caller looks at the stop flag again. */
static int wait_input(pulse_producer *p)
{
	struct pollfd f[2] = {{.fd = p->conn.fd, .events = POLLIN},
	                      {.fd = p->wake[0], .events = POLLIN}};
	if (poll(f, 2, -1) < 0) {
		if (errno == EINTR)
			return 0;
		return libpulse_errf(p->conn.err, sizeof(p->conn.err),
		                     libpulse_errno_code(errno), "poll: %s",
		                     strerror(errno));
	}
	if (f[1].revents)
		drain_wake(p);
	return 0;
}

/* Take frames one at a time, answering the PLANs once registered, and
 * read when none is left, until until(p) holds. Without `wait` it also
 * returns 0 once the socket has nothing more (the non-blocking pass);
 * with it, it waits for input. Returns 0 or the code that ended the
 * session. Frames read before an end of stream are taken first: pulsed's
 * TICKEND or final ERROR says more than the close. */
static int pump(pulse_producer *p, int (*until)(const pulse_producer *),
                int wait)
{
	int end = 0;   /* the socket ended; frames read before may remain */
	int fresh = 1; /* read since we last waited: take frames first */
	for (;;) {
		if (p->ended)
			return p->ended;
		if (until(p))
			return 0;
		int code = p->registered ? answer_queued(p) : 0;
		if (code)
			return end_session(p, code);
		pulse_msg m;
		int r = libpulse_conn_next(&p->conn, &m);
		if (r == 1) {
			code = take(p, &m);
			libpulse_conn_done(&p->conn);
			if (code)
				return end_session(p, code);
			continue;
		}
		if (r < 0)
			return end_session(p, -r);
		if (end)
			return end_session(p, end);
		if (fresh) {
			int rd = libpulse_conn_read(&p->conn);
			if (rd > 0)
				end = rd;
			fresh = rd == LIBPULSE_FULL;
			continue;
		}
		if (!wait)
			return 0;
		code = wait_input(p);
		if (code)
			return end_session(p, code);
		fresh = 1;
	}
}

static int registered(const pulse_producer *p)
{
	return p->registered;
}

static int stopped(const pulse_producer *p)
{
	return p->stop;
}

static int never(const pulse_producer *p)
{
	(void)p;
	return 0;
}

/* Arguments that scheduling needs, checked before connecting. */
static int check_schedule(const char *pool, const char *name,
                          pulse_plan_fn fn, char *buf, size_t len)
{
	char why[160];
	if (!fn)
		return libpulse_errf(buf, len, PULSE_ERR_INVALID,
		                     "a producer needs a plan function");
	if (!name || pulse_check_pool(name, strlen(name), why, sizeof(why)) < 0)
		return libpulse_errf(buf, len, PULSE_ERR_INVALID,
		                     "schedule name must be 1 to 128 bytes of "
		                     "[A-Za-z0-9._:-]");
	return libpulse_check_request(pool, NULL, 0, 0, buf, len);
}

pulse_producer *pulse_schedule(const char *socket_path, const char *pool,
                               const char *name, unsigned interval_ms,
                               pulse_plan_fn fn, void *ud, int *err,
                               char *errbuf, size_t errlen)
{
	pulse_producer *p = NULL;
	int code = check_schedule(pool, name, fn, errbuf, errlen);
	if (!code && !(p = calloc(1, sizeof(*p))))
		code = libpulse_errf(errbuf, errlen, PULSE_ERR_UNAVAILABLE,
		                     "out of memory");
	if (!code) {
		/* From here on pulse_producer_close() undoes whatever was done. */
		p->conn.fd = p->wake[0] = p->wake[1] = -1;
		snprintf(p->pool, sizeof(p->pool), "%s", pool);
		snprintf(p->name, sizeof(p->name), "%s", name);
		p->fn = fn;
		p->ud = ud;
		p->plan.pool = p->pool;
		plan_reset(&p->plan);
		if (pipe2(p->wake, O_NONBLOCK | O_CLOEXEC) < 0)
			code = libpulse_errf(errbuf, errlen, PULSE_ERR_UNAVAILABLE,
			                     "pipe: %s", strerror(errno));
	}
	if (!code) {
		const struct libpulse_hello hello = {.role = "client"};
		code = libpulse_conn_open(&p->conn, socket_path, &hello);
		if (!code) {
			pulse_msg q = {.type = PULSE_T_SCHEDULE,
			               .has = PM_ID | PM_POOL | PM_NAME | PM_INTERVAL,
			               .id = SCHEDULE_ID,
			               .interval_ms = interval_ms};
			q.pool = (pulse_str){p->pool, strlen(p->pool)};
			q.name = (pulse_str){p->name, strlen(p->name)};
			code = libpulse_conn_send(&p->conn, &q, 0);
			if (!code)
				code = pump(p, registered, 1);
			/* Then what came with the OK: nothing may be left in the
			 * reader behind a quiet fd. An end found here is kept for
			 * the next call (the schedule was accepted). */
			if (!code)
				pump(p, never, 0);
		}
		if (code)
			libpulse_errf(errbuf, errlen, code, "%s", p->conn.err);
	}
	if (code) {
		pulse_producer_close(p);
		p = NULL;
	}
	if (err)
		*err = code;
	return p;
}

int pulse_producer_fd(const pulse_producer *p)
{
	return p ? p->conn.fd : -1;
}

int pulse_producer_process(pulse_producer *p)
{
	if (!p)
		return PULSE_ERR_INVALID;
	return pump(p, never, 0);
}

int pulse_producer_run(pulse_producer *p)
{
	if (!p)
		return PULSE_ERR_INVALID;
	int code = pump(p, stopped, 1);
	if (!code) { /* only the stop flag ends the loop without a code */
		p->stop = 0;
		return 0;
	}
	return p->finished ? 0 : code;
}

void pulse_producer_stop(pulse_producer *p)
{
	if (!p)
		return;
	int saved = errno;
	p->stop = 1;
	ssize_t n = write(p->wake[1], "", 1); /* full pipe: already woken */
	(void)n;
	errno = saved;
}

const char *pulse_producer_errmsg(const pulse_producer *p)
{
	return p ? p->conn.err : "no session";
}

void pulse_producer_close(pulse_producer *p)
{
	if (!p)
		return;
	libpulse_conn_free(&p->conn);
	plan_free(&p->plan);
	free(p->q);
	for (int i = 0; i < 2; i++)
		if (p->wake[i] >= 0)
			close(p->wake[i]);
	free(p);
}
