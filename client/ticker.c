/*
 * ticker.c: ticker sessions of libpulse-client (pulse_ticker_*).
 *
 * Owns: one client session per ticker, the TICKER request that subscribes
 * it, the TICK and TICKEND frames pulsed pushes afterwards, and
 * TICKER_STOP.
 *
 * Invariants:
 *   - Ticks that arrive while the library waits for another answer (the
 *     OK to TICKER_STOP) are queued, never dropped; pulse_ticker_next()
 *     returns them in order.
 *   - Once pulsed said TICKEND (the ticker was stopped pool-wide) every
 *     later pulse_ticker_next() returns PULSE_ERR_CLOSED after the queued
 *     ticks.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"

#define TICKER_ID 1
#define STOP_ID 2
#define QMAX 1024 /* ticks queued while not read; older ones are dropped */

struct pulse_ticker {
	struct libpulse_conn conn;
	char name[PULSE_MAX_POOL + 1];
	char pool[PULSE_MAX_POOL + 1];
	uint64_t qseq[QMAX], qts[QMAX];
	size_t qhead, qlen;
	int ended;   /* TICKEND seen */
	int answered; /* the awaited OK (or ERROR) came */
	int code;     /* its code */
};

/* One pushed or answering frame. Returns 0, or a code that ends the
 * session. */
static int take(pulse_ticker *t, const pulse_msg *m, uint64_t want)
{
	switch (m->type) {
	case PULSE_T_TICK:
		if (t->qlen == QMAX) { /* the reader fell far behind */
			t->qhead = (t->qhead + 1) % QMAX;
			t->qlen--;
		}
		t->qseq[(t->qhead + t->qlen) % QMAX] = m->seq;
		t->qts[(t->qhead + t->qlen) % QMAX] = m->ts;
		t->qlen++;
		return 0;
	case PULSE_T_TICKEND:
		t->ended = 1;
		return 0;
	case PULSE_T_OK:
		if (m->id == want) {
			t->answered = 1;
			t->code = 0;
			return 0;
		}
		break;
	case PULSE_T_ERROR:
		if (m->id == want || m->id == 0) {
			t->answered = 1;
			t->code = libpulse_error_frame(m, t->conn.err, sizeof(t->conn.err));
			return m->id == 0 ? t->code : 0;
		}
		break;
	}
	return libpulse_errf(t->conn.err, sizeof(t->conn.err), PULSE_ERR_PROTOCOL,
	                     "unexpected message type %u from pulsed",
	                     (unsigned)m->type);
}

/* Read and take frames until cond(t) holds or the deadline passes
 * (0: none). Returns 0, PULSE_ERR_TIMEOUT, or the code that ended the
 * session. */
static int pump(pulse_ticker *t, int (*cond)(const pulse_ticker *),
                uint64_t deadline, uint64_t want)
{
	int end = 0;    /* the session ended; frames read before may remain */
	int fresh = 1;  /* read since we last waited: take frames first */
	for (;;) {
		pulse_msg m;
		int r = 0;
		while (!cond(t) && (r = libpulse_conn_next(&t->conn, &m)) == 1) {
			int code = take(t, &m, want);
			libpulse_conn_done(&t->conn);
			if (code) {
				libpulse_conn_close(&t->conn);
				return code;
			}
		}
		if (cond(t))
			return 0;
		if (r < 0)
			return -r;
		if (end || t->conn.fd < 0)
			return end ? end : PULSE_ERR_CLOSED;
		if (fresh) {
			/* what the socket holds now, then take it before waiting */
			int rd = libpulse_conn_read(&t->conn);
			if (rd > 0)
				end = rd;
			fresh = rd == LIBPULSE_FULL;
			continue;
		}
		int p = libpulse_poll(t->conn.fd, POLLIN, deadline);
		if (p < 0)
			return libpulse_errf(t->conn.err, sizeof(t->conn.err),
			                     libpulse_errno_code(errno), "poll: %s",
			                     strerror(errno));
		if (p == 0)
			return PULSE_ERR_TIMEOUT;
		fresh = 1;
	}
}

static int answered(const pulse_ticker *t)
{
	return t->answered;
}

static int has_tick(const pulse_ticker *t)
{
	return t->qlen > 0 || t->ended;
}

/* Send a request about this ticker and wait for its answer. */
static int request(pulse_ticker *t, uint32_t type, uint64_t id,
                   unsigned interval_ms)
{
	pulse_msg q = {.type = type, .has = PM_ID | PM_POOL | PM_NAME, .id = id};
	q.pool = (pulse_str){t->pool, strlen(t->pool)};
	q.name = (pulse_str){t->name, strlen(t->name)};
	if (type == PULSE_T_TICKER) {
		q.has |= PM_INTERVAL;
		q.interval_ms = interval_ms;
	}
	t->answered = 0;
	int code = libpulse_conn_send(&t->conn, &q, 0);
	if (!code)
		code = pump(t, answered, 0, id);
	return code ? code : t->code;
}

pulse_ticker *pulse_ticker_open(const char *socket_path, const char *pool,
                                const char *name, unsigned interval_ms,
                                int *err, char *errbuf, size_t errlen)
{
	int code = libpulse_check_request(pool, NULL, 0, 0, errbuf, errlen);
	char why[160];
	if (!code && (!name || pulse_check_pool(name, strlen(name), why,
	                                        sizeof(why)) < 0))
		code = libpulse_errf(errbuf, errlen, PULSE_ERR_INVALID,
		                     "ticker name must be 1 to 128 bytes of "
		                     "[A-Za-z0-9._:-]");
	pulse_ticker *t = NULL;
	if (!code && !(t = calloc(1, sizeof(*t))))
		code = libpulse_errf(errbuf, errlen, PULSE_ERR_UNAVAILABLE,
		                     "out of memory");
	if (!code) {
		snprintf(t->pool, sizeof(t->pool), "%s", pool);
		snprintf(t->name, sizeof(t->name), "%s", name);
		const struct libpulse_hello hello = {.role = "client"};
		code = libpulse_conn_open(&t->conn, socket_path, &hello);
		if (!code)
			code = request(t, PULSE_T_TICKER, TICKER_ID, interval_ms);
		if (code)
			libpulse_errf(errbuf, errlen, code, "%s", t->conn.err);
	}
	if (code && t) {
		libpulse_conn_free(&t->conn);
		free(t);
		t = NULL;
	}
	if (err)
		*err = code;
	return t;
}

int pulse_ticker_fd(const pulse_ticker *t)
{
	return t ? t->conn.fd : -1;
}

int pulse_ticker_next(pulse_ticker *t, int timeout_ms, uint64_t *seq,
                      uint64_t *ts_ms)
{
	if (!t)
		return PULSE_ERR_INVALID;
	if (!t->qlen && !t->ended) {
		uint64_t deadline = timeout_ms < 0 ? 0
		                  : timeout_ms == 0 ? libpulse_now_ms()
		                  : libpulse_deadline((unsigned)timeout_ms);
		int code = pump(t, has_tick, deadline, 0);
		if (code)
			return code;
	}
	if (t->qlen) {
		if (seq)
			*seq = t->qseq[t->qhead];
		if (ts_ms)
			*ts_ms = t->qts[t->qhead];
		t->qhead = (t->qhead + 1) % QMAX;
		t->qlen--;
		return 0;
	}
	return libpulse_errf(t->conn.err, sizeof(t->conn.err), PULSE_ERR_CLOSED,
	                     "ticker %s was stopped", t->name);
}

int pulse_ticker_stop(pulse_ticker *t)
{
	if (!t)
		return PULSE_ERR_INVALID;
	return request(t, PULSE_T_TICKER_STOP, STOP_ID, 0);
}

void pulse_ticker_close(pulse_ticker *t)
{
	if (!t)
		return;
	libpulse_conn_free(&t->conn);
	free(t);
}

const char *pulse_ticker_errmsg(const pulse_ticker *t)
{
	return t ? t->conn.err : "no ticker";
}
