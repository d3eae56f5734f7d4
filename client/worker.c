/*
 * worker.c: worker sessions of libpulse-client (pulse_worker_attach and the
 * event loop around the caller's handlers).
 *
 * Owns: attaching with HELLO role "worker", turning START / HALT / EVENT /
 * MESSAGE frames into handler calls and their results into ACK frames (a
 * message's with the answer the handler set, pulse_answer), the stop
 * request (a flag plus a self-pipe, both safe to touch from a signal
 * handler), and the graceful DETACH hand-off.
 *
 * Invariants:
 *   - Every event gets exactly one ACK with the event's id, written before
 *     the next frame is handled, so pulsed sees answers in order; only a
 *     START, EVENT or MESSAGE read before the end of the stream gets none
 *     (its handler does not run: pulsed has handed the jobs on already,
 *     and failed the message to its sender).
 *   - A handler sees a NUL-terminated copy of the key and a payload that is
 *     never NULL (an empty payload points at ""), valid during the call.
 *   - Once the session ended (pulsed closed it, a bad frame, an I/O error)
 *     `ended` holds the code and every later call returns it; the message
 *     stays in conn.err.
 *   - The keys the worker runs are tracked (started ok, not stopped). When
 *     the session ends for any reason other than a completed detach, and
 *     when pulsed's LEASE runs out (pulsed stopped running: SIGSTOP, a
 *     hang), the library calls the stop handler for each of them itself:
 *     pulsed hands those jobs to other workers, and a key must never run
 *     in two places. A HALT for a key already stopped that way is
 *     answered ok without calling the handler again.
 *   - The socket closes only after those stop handlers ran: pulsed hands
 *     the jobs on the moment it sees the session end. `hold`, a second
 *     descriptor of the socket, keeps it open even when the connection
 *     layer has already closed its own (a bad frame, an I/O error).
 *   - A LEASE takes effect when it is read from the socket, even behind
 *     events not yet handled (lease_scan); `scanned` is how much of the
 *     reader, from its first unconsumed frame, has been looked at, so
 *     scanned > 0 means whole frames wait to be handled. The lease is
 *     judged run out only when a read made after its deadline brought no
 *     newer LEASE: a handler slower than the lease leaves them waiting in
 *     the socket while pulsed is healthy. It is judged before every
 *     handler call and whenever the frames read are all handled.
 *   - pulse_worker_stop() touches only `stop` (volatile sig_atomic_t) and
 *     write(2) on the non-blocking self-pipe, saving errno: it is
 *     async-signal-safe. The run loop drains the pipe whenever it is
 *     readable and trusts only the flag.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"

/* The id of our DETACH request: the only request a worker sends. */
#define DETACH_ID 1
/* The longest LEASE taken as given (one day). */
#define MAX_LEASE_MS (86400u * 1000u)

/* A message handler's answer: a copy of what it set, at most max bytes
 * (the payload cap pulsed announced), freed once the ACK is written. */
struct pulse_answer {
	char *data;
	size_t len, max;
};

struct pulse_worker {
	struct libpulse_conn conn;
	pulse_handlers h;
	void *ud;
	int wake[2]; /* self-pipe: pulse_worker_stop writes, run polls */
	volatile sig_atomic_t stop;
	int ended;    /* 0 while the session is on, else the code that ended it */
	int detaching; /* DETACH sent, its OK not yet seen */
	int detached;  /* pulsed answered OK to DETACH */
	uint64_t lease_end; /* monotonic ms; 0 until pulsed sent a LEASE */
	uint64_t read_ms;   /* monotonic ms when the socket was last read */
	size_t scanned;     /* reader bytes lease_scan looked at (whole frames) */
	int hold;           /* second fd of the socket, closed after the stops */
	char **run;    /* keys running here */
	size_t nrun, caprun;
	size_t *slot;  /* index over run: open addressing, position + 1 */
	size_t nslot;  /* a power of two, at least 2 * nrun; 0 before use */
	char key[PULSE_MAX_KEY + 1];
};

static size_t key_hash(const char *k)
{
	size_t h = (size_t)1469598103934665603u; /* FNV-1a */
	for (; *k; k++)
		h = (h ^ (unsigned char)*k) * (size_t)1099511628211u;
	return h;
}

/* The index slot holding key, or the empty one where it would go. The
 * index keeps a START or HALT O(1) however many jobs the worker runs (a
 * linear search cost tens of microseconds per event at 10,000 jobs). */
static size_t slot_of(const pulse_worker *w, const char *key)
{
	size_t m = w->nslot - 1, i = key_hash(key) & m;
	while (w->slot[i] && strcmp(w->run[w->slot[i] - 1], key) != 0)
		i = (i + 1) & m;
	return i;
}

static ssize_t run_find(const pulse_worker *w, const char *key)
{
	if (!w->nslot)
		return -1;
	size_t v = w->slot[slot_of(w, key)];
	return v ? (ssize_t)v - 1 : -1;
}

static int reindex(pulse_worker *w, size_t nslot)
{
	size_t *t = calloc(nslot, sizeof(*t));
	if (!t)
		return -1;
	free(w->slot);
	w->slot = t;
	w->nslot = nslot;
	for (size_t i = 0; i < w->nrun; i++)
		w->slot[slot_of(w, w->run[i])] = i + 1;
	return 0;
}

static void run_add(pulse_worker *w, const char *key)
{
	if (run_find(w, key) >= 0)
		return;
	if ((w->nrun + 1) * 2 > w->nslot &&
	    reindex(w, w->nslot ? w->nslot * 2 : 64) < 0)
		return; /* not tracked: only the library-side stop is lost */
	if (w->nrun == w->caprun) {
		size_t cap = w->caprun ? w->caprun * 2 : 16;
		char **r = realloc(w->run, cap * sizeof(*r));
		if (!r)
			return;
		w->run = r;
		w->caprun = cap;
	}
	char *k = strdup(key);
	if (!k)
		return;
	w->run[w->nrun++] = k;
	w->slot[slot_of(w, k)] = w->nrun;
}

/* Remove run[i]: its slot is emptied by shifting back the entries probed
 * past it, and the last key moves into position i. */
static void run_del(pulse_worker *w, ssize_t i)
{
	size_t m = w->nslot - 1, s = slot_of(w, w->run[i]), j = s;
	w->slot[s] = 0;
	for (;;) {
		j = (j + 1) & m;
		if (!w->slot[j])
			break;
		size_t k = key_hash(w->run[w->slot[j] - 1]) & m;
		if (s <= j ? (s < k && k <= j) : (s < k || k <= j))
			continue; /* its home lies after the hole: it stays */
		w->slot[s] = w->slot[j];
		w->slot[j] = 0;
		s = j;
	}
	free(w->run[i]);
	size_t last = --w->nrun;
	if ((size_t)i != last) {
		w->run[i] = w->run[last];
		w->slot[slot_of(w, w->run[i])] = (size_t)i + 1;
	}
}

/* Stop every job still running here through the stop handler: pulsed is
 * gone or silent, so it will hand them to other workers. */
static void stop_all(pulse_worker *w)
{
	char msg[512];
	while (w->nrun > 0) {
		snprintf(w->key, sizeof(w->key), "%s", w->run[w->nrun - 1]);
		run_del(w, (ssize_t)w->nrun - 1);
		msg[0] = 0;
		w->h.stop(w->ud, w->key, msg, sizeof(msg));
	}
}

/* End the session: stop what runs here, then close. The close comes last
 * because pulsed hands the jobs on as soon as it sees it; before the stop
 * handlers answered, a job would run in two places. */
static int end_session(pulse_worker *w, int code)
{
	if (!w->ended) {
		w->ended = code;
		stop_all(w);
		libpulse_conn_close(&w->conn);
		if (w->hold >= 0)
			close(w->hold);
		w->hold = -1;
	}
	return w->ended;
}

/* pulsed's LEASE ran out with no new one: it stopped running. */
static int fence(pulse_worker *w)
{
	libpulse_errf(w->conn.err, sizeof(w->conn.err), PULSE_ERR_CLOSED,
	              "pulsed did not renew the worker's lease: jobs stopped "
	              "here, session closed");
	return end_session(w, PULSE_ERR_CLOSED);
}

/* The type of a frame body as pulsed encodes it ("t" first, a small
 * integer), read without decoding; -1 for any other layout. Lets
 * lease_scan pass over events without decoding them twice. */
static int peek_type(const uint8_t *b, size_t n)
{
	size_t i;
	if (n == 0)
		return -1;
	if ((b[0] & 0xf0) == 0x80)
		i = 1; /* fixmap */
	else if (b[0] == 0xde)
		i = 3; /* map 16 */
	else if (b[0] == 0xdf)
		i = 5; /* map 32 */
	else
		return -1;
	if (n < i + 3 || b[i] != 0xa1 || b[i + 1] != 't')
		return -1;
	if (b[i + 2] < 0x80)
		return b[i + 2];
	if (b[i + 2] == 0xcc && n > i + 3)
		return b[i + 3];
	return -1;
}

/* Take the deadline from a frame that may be a LEASE, as of `at`. A frame
 * that does not decode is left alone here: handling it ends the session. */
static void lease_take(pulse_worker *w, const uint8_t *body, size_t n,
                       uint64_t at)
{
	char why[160];
	pulse_msg m;
	msgpack_unpacked u;
	msgpack_unpacked_init(&u);
	if (pulse_msg_decode(body, n, &m, &u, why, sizeof(why)) == 0 &&
	    m.type == PULSE_T_LEASE &&
	    pulse_msg_require(&m, why, sizeof(why)) == 0)
		/* Capped, so that the end cannot wrap and timeout() fits an
		 * int; a day is "no fencing" in practice. */
		w->lease_end = at + (m.timeout_ms < MAX_LEASE_MS ? m.timeout_ms
		                                                  : MAX_LEASE_MS);
	msgpack_unpacked_destroy(&u);
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Give effect to every LEASE among the whole frames read and not yet
 * looked at, dated `at` (their read). Events before them in the stream
 * may wait unhandled: a LEASE says pulsed was alive when it wrote it,
 * whatever it wrote before. */
static void lease_scan(pulse_worker *w, uint64_t at)
{
	const pulse_reader *r = &w->conn.rd;
	size_t held = pulse_reader_held(r);
	if (w->scanned > held) /* frames consumed behind our back (conn.c's */
		w->scanned = held; /* closed_reason): only ever at the end */
	while (held - w->scanned >= PULSE_FRAME_HDR) {
		const uint8_t *p = r->buf + r->off + w->scanned;
		uint32_t n = get_be32(p);
		if (n > r->max_body || held - w->scanned - PULSE_FRAME_HDR < n)
			break; /* incomplete, or too large: next() reports that */
		int t = peek_type(p + PULSE_FRAME_HDR, n);
		if (t < 0 || t == PULSE_T_LEASE)
			lease_take(w, p + PULSE_FRAME_HDR, n, at);
		w->scanned += PULSE_FRAME_HDR + n;
	}
}

/* Read what the socket holds (libpulse_conn_read's result); the LEASEs
 * read take effect at once. */
static int read_socket(pulse_worker *w)
{
	w->read_ms = libpulse_now_ms();
	int rd = libpulse_conn_read(&w->conn);
	lease_scan(w, w->read_ms);
	return rd;
}

/* Release the frame taken, keeping `scanned` relative to the reader's
 * first unconsumed byte. */
static void frame_done(pulse_worker *w)
{
	size_t before = pulse_reader_held(&w->conn.rd);
	libpulse_conn_done(&w->conn);
	size_t gone = before - pulse_reader_held(&w->conn.rd);
	w->scanned = w->scanned > gone ? w->scanned - gone : 0;
}

static int lease_due(const pulse_worker *w)
{
	return w->lease_end && libpulse_now_ms() >= w->lease_end;
}

int pulse_answer_set(pulse_answer *a, const void *data, size_t len)
{
	if (!a || (!data && len > 0))
		return PULSE_ERR_INVALID;
	if (len > a->max)
		return PULSE_ERR_TOO_LARGE;
	char *copy = malloc(len ? len : 1);
	if (!copy)
		return PULSE_ERR_UNAVAILABLE;
	if (len)
		memcpy(copy, data, len);
	free(a->data);
	a->data = copy;
	a->len = len;
	return 0;
}

/* Run the handler that frame m asks for, with the key copied out as a C
 * string. Returns the handler's answer (PULSE_HANDLER_*), msg filled for
 * errors; a message handler's answer payload in *ans. */
static int run_handler(pulse_worker *w, const pulse_msg *m,
                       pulse_answer *ans, char *msg, size_t msglen)
{
	char why[160];
	/* Control characters, NUL among them, are refused here. */
	if (pulse_check_name("key", m->key.p, m->key.n, PULSE_MAX_KEY, why,
	                     sizeof(why)) < 0)
		return libpulse_errf(msg, msglen, PULSE_HANDLER_ERROR,
		                     "worker refused the event: %s", why);
	memcpy(w->key, m->key.p, m->key.n);
	w->key[m->key.n] = 0;
	const void *payload = (m->has & PM_PAYLOAD) ? m->payload.p : "";
	size_t len = (m->has & PM_PAYLOAD) ? m->payload.n : 0;
	int r;
	ssize_t at;
	switch (m->type) {
	case PULSE_T_START:
		r = w->h.start(w->ud, w->key, payload, len, msg, msglen);
		if (r == PULSE_HANDLER_OK)
			run_add(w, w->key);
		return r;
	case PULSE_T_HALT:
		at = run_find(w, w->key);
		if (at < 0)
			return PULSE_HANDLER_OK; /* stopped already (lease ran out) */
		r = w->h.stop(w->ud, w->key, msg, msglen);
		if (r != PULSE_HANDLER_REQUEUE)
			run_del(w, run_find(w, w->key));
		return r;
	case PULSE_T_MESSAGE:
		if (!w->h.message) /* our HELLO said so: pulsed sends none */
			return libpulse_errf(msg, msglen, PULSE_HANDLER_ERROR,
			                     "no message handler");
		return w->h.message(w->ud, w->key, payload, len, ans, msg, msglen);
	default: /* PULSE_T_EVENT */
		if (!w->h.notify)
			return libpulse_errf(msg, msglen, PULSE_HANDLER_ERROR,
			                     "no notify handler");
		return w->h.notify(w->ud, w->key, payload, len, msg, msglen);
	}
}

/* Handle one event and write its ACK. */
static int answer_event(pulse_worker *w, const pulse_msg *m)
{
	char msg[512] = "";
	pulse_answer ans = {.max = libpulse_conn_max_payload(&w->conn)};
	int r = run_handler(w, m, &ans, msg, sizeof(msg));
	if (r != PULSE_HANDLER_OK && r != PULSE_HANDLER_REQUEUE &&
	    r != PULSE_HANDLER_ERROR) {
		libpulse_errf(msg, sizeof(msg), 0, "handler returned %d", r);
		r = PULSE_HANDLER_ERROR;
	}
	pulse_msg ack = {.type = PULSE_T_ACK, .has = PM_ID | PM_R, .id = m->id};
	ack.r = r == PULSE_HANDLER_OK        ? PULSE_ACK_OK
	        : r == PULSE_HANDLER_REQUEUE ? PULSE_ACK_REQUEUE
	                                     : PULSE_ACK_ERROR;
	if (r == PULSE_HANDLER_ERROR) {
		msg[sizeof(msg) - 1] = 0; /* a handler may have filled it all */
		if (!msg[0])
			libpulse_errf(msg, sizeof(msg), 0, "handler failed");
		ack.has |= PM_MSG;
		ack.msg = (pulse_str){msg, strlen(msg)};
	}
	if (m->type == PULSE_T_MESSAGE && r == PULSE_HANDLER_OK) {
		ack.has |= PM_PAYLOAD;
		ack.payload = (pulse_str){ans.data ? ans.data : "", ans.len};
	}
	int code = libpulse_conn_send(&w->conn, &ack, 0);
	free(ans.data);
	return code;
}

/* One frame from pulsed: an event to answer, or the end of a detach, or an
 * error that ends the session. Returns 0 or the code that ends it. */
static int handle_frame(pulse_worker *w, const pulse_msg *m)
{
	switch (m->type) {
	case PULSE_T_START:
	case PULSE_T_HALT:
	case PULSE_T_EVENT:
	case PULSE_T_MESSAGE:
		return answer_event(w, m);
	case PULSE_T_LEASE:
		return 0; /* took effect when it was read (lease_scan) */
	case PULSE_T_OK:
		if (w->detaching && m->id == DETACH_ID) {
			w->detaching = 0;
			w->detached = 1;
			return 0;
		}
		break;
	case PULSE_T_ERROR:
		if (m->id == 0 || (w->detaching && m->id == DETACH_ID))
			return libpulse_error_frame(m, w->conn.err,
			                            sizeof(w->conn.err));
		break;
	}
	return libpulse_errf(w->conn.err, sizeof(w->conn.err),
	                     PULSE_ERR_PROTOCOL,
	                     "unexpected message type %u (id %llu) from pulsed",
	                     (unsigned)m->type, (unsigned long long)m->id);
}

int pulse_worker_timeout(const pulse_worker *w)
{
	if (!w || w->ended)
		return -1;
	if (w->scanned)
		return 0; /* whole frames wait (read along with the WELCOME) */
	if (!w->lease_end)
		return -1;
	uint64_t now = libpulse_now_ms();
	return now >= w->lease_end ? 0 : (int)(w->lease_end - now);
}

/* Handle the frames read, one at a time, until none is left. Before each
 * one the lease is judged (after reading again when its deadline passed
 * since the last read: newer LEASEs may have waited behind a slow
 * handler), so no handler runs on a lease that ran out. Frames read
 * before an end of stream are handled before it (pulsed's last HALTs, its
 * OK to DETACH, its final ERROR), but not its STARTs and notifications:
 * pulsed has handed this worker's jobs on already. */
int pulse_worker_process(pulse_worker *w)
{
	if (!w)
		return PULSE_ERR_INVALID;
	int rd = w->ended ? 0 : read_socket(w);
	while (!w->ended) {
		int on = rd == 0 || rd == LIBPULSE_FULL; /* the stream goes on */
		if (on && lease_due(w) && w->read_ms < w->lease_end)
			rd = read_socket(w);
		if (on && lease_due(w))
			return fence(w);
		pulse_msg m;
		int r = libpulse_conn_next(&w->conn, &m);
		if (r < 0)
			return end_session(w, -r);
		if (r == 1) {
			int late = !on && (m.type == PULSE_T_START ||
			                   m.type == PULSE_T_EVENT ||
			                   m.type == PULSE_T_MESSAGE);
			int code = late ? 0 : handle_frame(w, &m);
			frame_done(w);
			if (code)
				return end_session(w, code);
			continue;
		}
		if (rd == LIBPULSE_FULL) {
			rd = read_socket(w);
			continue;
		}
		if (rd)
			return end_session(w, rd);
		break;
	}
	return w->ended;
}

/* Empty the self-pipe (it is non-blocking). */
static void drain_wake(pulse_worker *w)
{
	char buf[64];
	while (read(w->wake[0], buf, sizeof(buf)) > 0)
		;
}

int pulse_worker_run(pulse_worker *w)
{
	if (!w)
		return PULSE_ERR_INVALID;
	for (;;) {
		if (w->stop) {
			w->stop = 0;
			return 0;
		}
		if (w->ended)
			return w->ended;
		struct pollfd p[2] = {{.fd = w->conn.fd, .events = POLLIN},
		                      {.fd = w->wake[0], .events = POLLIN}};
		if (poll(p, 2, pulse_worker_timeout(w)) < 0) {
			if (errno == EINTR)
				continue;
			int code = libpulse_errf(w->conn.err, sizeof(w->conn.err),
			                         libpulse_errno_code(errno), "poll: %s",
			                         strerror(errno));
			return end_session(w, code);
		}
		if (p[1].revents)
			drain_wake(w);
		/* also on a timeout: the lease is judged after a read */
		int code = pulse_worker_process(w);
		if (code)
			return code;
	}
}

void pulse_worker_stop(pulse_worker *w)
{
	if (!w)
		return;
	int saved = errno;
	w->stop = 1;
	ssize_t n = write(w->wake[1], "", 1); /* full pipe: already woken */
	(void)n;
	errno = saved;
}

int pulse_worker_fd(const pulse_worker *w)
{
	return w ? w->conn.fd : -1;
}

const char *pulse_worker_id(const pulse_worker *w)
{
	return w ? w->conn.worker : "";
}

const char *pulse_worker_errmsg(const pulse_worker *w)
{
	return w ? w->conn.err : "no session";
}

void pulse_worker_close(pulse_worker *w)
{
	if (!w)
		return;
	/* pulsed hands the running jobs on as soon as the socket closes:
	 * end_session stops them here first */
	end_session(w, PULSE_ERR_CLOSED);
	for (size_t i = 0; i < w->nrun; i++)
		free(w->run[i]);
	free(w->run);
	free(w->slot);
	libpulse_conn_free(&w->conn);
	for (int i = 0; i < 2; i++)
		if (w->wake[i] >= 0)
			close(w->wake[i]);
	free(w);
}

int pulse_worker_detach(pulse_worker *w)
{
	if (!w)
		return PULSE_ERR_INVALID;
	int code = w->ended;
	if (!code) {
		pulse_msg q = {.type = PULSE_T_DETACH, .has = PM_ID,
		               .id = DETACH_ID};
		w->detaching = 1;
		code = libpulse_conn_send(&w->conn, &q, 0);
	}
	/* pulsed now sends HALT for each job: they are answered as usual
	 * until the OK to DETACH, or the end of the session. */
	while (!code && !w->detached) {
		/* Bounded by the lease: a pulsed that hangs mid-detach must
		 * not keep the jobs running here past it. */
		int ms = pulse_worker_timeout(w);
		uint64_t deadline = ms < 0 ? 0 : libpulse_now_ms() + (uint64_t)ms;
		if (libpulse_poll(w->conn.fd, POLLIN, deadline) < 0)
			code = libpulse_errno_code(errno);
		else
			code = pulse_worker_process(w);
	}
	if (w->detached)
		code = 0;
	pulse_worker_close(w);
	return code;
}

/* Arguments that attaching needs, checked before connecting. */
static int check_attach(const char *pool, const char *name,
                        const pulse_handlers *h, char *buf, size_t len)
{
	char why[160];
	if (!h || !h->start || !h->stop)
		return libpulse_errf(buf, len, PULSE_ERR_INVALID,
		                     "a worker needs start and stop handlers");
	/* pulsed's rule (daemon/worker.c, worker_attach): refused here, a name it
	 * would refuse costs no connection and says exactly why */
	if (name && pulse_check_label("worker name", name, strlen(name), why,
	                              sizeof(why)) < 0)
		return libpulse_errf(buf, len, PULSE_ERR_INVALID, "%s", why);
	return libpulse_check_request(pool, NULL, 0, 0, buf, len);
}

pulse_worker *pulse_worker_attach(const char *socket_path, const char *pool,
                                  const char *name, const pulse_handlers *h,
                                  void *ud, int *err, char *errbuf,
                                  size_t errlen)
{
	if (name && !*name)
		name = NULL;
	pulse_worker *w = NULL;
	int code = check_attach(pool, name, h, errbuf, errlen);
	if (!code && !(w = calloc(1, sizeof(*w))))
		code = libpulse_errf(errbuf, errlen, PULSE_ERR_UNAVAILABLE,
		                     "out of memory");
	if (!code) {
		/* From here on pulse_worker_close() undoes whatever was done. */
		w->conn.fd = w->wake[0] = w->wake[1] = w->hold = -1;
		w->h = *h;
		w->ud = ud;
		if (pipe2(w->wake, O_NONBLOCK | O_CLOEXEC) < 0)
			code = libpulse_errf(errbuf, errlen, PULSE_ERR_UNAVAILABLE,
			                     "pipe: %s", strerror(errno));
	}
	if (!code) {
		const struct libpulse_hello hello = {
			.role = "worker", .pool = pool, .name = name,
			.notify = h->notify != NULL, .messages = h->message != NULL};
		code = libpulse_conn_open(&w->conn, socket_path, &hello);
		if (code)
			libpulse_errf(errbuf, errlen, code, "%s", w->conn.err);
	}
	if (!code && (w->hold = fcntl(w->conn.fd, F_DUPFD_CLOEXEC, 0)) < 0)
		code = libpulse_errf(errbuf, errlen, PULSE_ERR_UNAVAILABLE,
		                     "dup: %s", strerror(errno));
	if (!code) {
		/* The handshake's read may have taken the first LEASE (pulsed
		 * writes it right behind the WELCOME) and events with it. */
		w->read_ms = libpulse_now_ms();
		lease_scan(w, w->read_ms);
	}
	if (code) {
		pulse_worker_close(w);
		w = NULL;
	}
	if (err)
		*err = code;
	return w;
}
