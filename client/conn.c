/*
 * conn.c: the connection layer of libpulse-client, shared by client and
 * worker sessions.
 *
 * Owns: finding the socket path, connect(2) and the HELLO/WELCOME
 * handshake, writing whole frames (partial writes, EINTR, no SIGPIPE),
 * reading into the proto reader without blocking, taking decoded frames
 * out one at a time, and waiting for a frame with an optional deadline.
 *
 * Invariants (see conn.h): fd is -1 once closed and I/O then reports
 * PULSE_ERR_CLOSED; the reader never holds more than the frame cap plus
 * its header; a taken frame is released by libpulse_conn_done() before the
 * next one is taken; every failure leaves a message in c->err.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"


static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t libpulse_now_ms(void)
{
	return now_ms();
}

uint64_t libpulse_deadline(unsigned timeout_ms)
{
	return timeout_ms ? now_ms() + timeout_ms : 0;
}

int libpulse_poll(int fd, short events, uint64_t deadline)
{
	for (;;) {
		int wait = -1;
		if (deadline) {
			uint64_t now = now_ms();
			if (now >= deadline)
				return 0;
			/* Bounded so a huge timeout cannot overflow poll's int. */
			uint64_t left = deadline - now;
			wait = left > 60000 ? 60000 : (int)left;
		}
		struct pollfd p = {.fd = fd, .events = events};
		int n = poll(&p, 1, wait);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 && deadline)
			continue; /* re-check the deadline (the slice may be short) */
		return n;
	}
}

void libpulse_conn_close(struct libpulse_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	pulse_buf_drop(&c->out, c->out.len); /* a partial frame is void now */
}

void libpulse_conn_free(struct libpulse_conn *c)
{
	libpulse_conn_done(c);
	libpulse_conn_close(c);
	pulse_reader_free(&c->rd);
	pulse_buf_free(&c->out);
}

/* Close and record why, in one statement for the failure paths. */
static int fail_close(struct libpulse_conn *c, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail_close(struct libpulse_conn *c, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	libpulse_verrf(c->err, sizeof(c->err), code, fmt, ap);
	va_end(ap);
	libpulse_conn_close(c);
	return code;
}

/* pulsed announces why it drops a peer with an ERROR frame (id 0) just
 * before closing. When a write finds the socket closed, that frame may be
 * waiting unread: take its code and message, which say more than EPIPE.
 * Frames before it are dropped: the session is over anyway. */
static int closed_reason(struct libpulse_conn *c, int code)
{
	if (c->held)
		return code;
	libpulse_conn_read(c);
	pulse_msg m;
	while (libpulse_conn_next(c, &m) == 1) {
		int last = m.type == PULSE_T_ERROR && m.id == 0;
		if (last)
			code = libpulse_error_frame(&m, c->err, sizeof(c->err));
		libpulse_conn_done(c);
		if (last)
			break;
	}
	return code;
}

int libpulse_conn_send(struct libpulse_conn *c, const pulse_msg *m,
                       uint64_t deadline)
{
	if (c->fd < 0)
		return PULSE_ERR_CLOSED;
	if (pulse_msg_encode(&c->out, m) < 0)
		return libpulse_errf(c->err, sizeof(c->err), PULSE_ERR_INVALID,
		                     "cannot encode a message: out of memory");
	return libpulse_conn_flush(c, deadline);
}

int libpulse_conn_flush(struct libpulse_conn *c, uint64_t deadline)
{
	if (c->fd < 0) {
		pulse_buf_drop(&c->out, c->out.len); /* never to be sent */
		return PULSE_ERR_CLOSED;
	}
	while (c->out.len > 0) {
		ssize_t n = send(c->fd, c->out.data, c->out.len,
		                 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			pulse_buf_drop(&c->out, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int p = libpulse_poll(c->fd, POLLOUT, deadline);
			if (p == 0)
				return fail_close(c, PULSE_ERR_TIMEOUT,
				                  "pulsed did not take the request in time");
			if (p < 0)
				return fail_close(c, libpulse_errno_code(errno),
				                  "poll: %s", strerror(errno));
			continue;
		}
		int e = n < 0 ? errno : EPIPE;
		int code = libpulse_errf(c->err, sizeof(c->err),
		                         libpulse_errno_code(e),
		                         "writing to pulsed: %s", strerror(e));
		if (code == PULSE_ERR_CLOSED)
			code = closed_reason(c, code);
		libpulse_conn_close(c);
		return code;
	}
	return 0;
}

int libpulse_conn_read(struct libpulse_conn *c)
{
	if (c->fd < 0)
		return PULSE_ERR_CLOSED;
	for (;;) {
		size_t room;
		uint8_t *space = pulse_reader_space(&c->rd, &room);
		if (!space || room == 0)
			return LIBPULSE_FULL;
		ssize_t n = recv(c->fd, space, room, MSG_DONTWAIT);
		if (n > 0) {
			pulse_reader_commit(&c->rd, (size_t)n);
			continue;
		}
		if (n == 0)
			return fail_close(c, PULSE_ERR_CLOSED,
			                  "pulsed closed the connection");
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		return fail_close(c, libpulse_errno_code(errno),
		                  "reading from pulsed: %s", strerror(errno));
	}
}

int libpulse_conn_next(struct libpulse_conn *c, pulse_msg *m)
{
	const uint8_t *body;
	uint32_t len;
	char why[160];
	if (c->held)
		return -libpulse_errf(c->err, sizeof(c->err), PULSE_ERR_PROTOCOL,
		                      "internal: a frame is still held");
	int r = pulse_reader_next(&c->rd, &body, &len);
	if (r == 0)
		return 0;
	if (r < 0)
		return -fail_close(c, PULSE_ERR_PROTOCOL,
		                   "pulsed sent a frame larger than %u bytes",
		                   (unsigned)c->rd.max_body);
	msgpack_unpacked_init(&c->u);
	if (pulse_msg_decode(body, len, m, &c->u, why, sizeof(why)) < 0 ||
	    pulse_msg_require(m, why, sizeof(why)) < 0) {
		msgpack_unpacked_destroy(&c->u);
		pulse_reader_consume(&c->rd);
		return -fail_close(c, PULSE_ERR_PROTOCOL,
		                   "bad frame from pulsed: %s", why);
	}
	c->held = 1;
	return 1;
}

void libpulse_conn_done(struct libpulse_conn *c)
{
	if (!c->held)
		return;
	msgpack_unpacked_destroy(&c->u);
	pulse_reader_consume(&c->rd);
	c->held = 0;
}

int libpulse_conn_wait(struct libpulse_conn *c, pulse_msg *m,
                       uint64_t deadline)
{
	for (;;) {
		int r = libpulse_conn_next(c, m);
		if (r == 1)
			return 0;
		if (r < 0)
			return -r;
		if (c->fd < 0)
			return PULSE_ERR_CLOSED; /* c->err says why */
		int p = libpulse_poll(c->fd, POLLIN, deadline);
		if (p == 0)
			return fail_close(c, PULSE_ERR_TIMEOUT,
			                  "no answer from pulsed in time");
		if (p < 0)
			return fail_close(c, libpulse_errno_code(errno), "poll: %s",
			                  strerror(errno));
		r = libpulse_conn_read(c);
		if (r > 0 && r != PULSE_ERR_CLOSED)
			return r;
		/* On end of stream, loop once more: frames read before it
		 * (pulsed's last ERROR, say) come first. */
	}
}

/* Fill a sockaddr_un for path; fails when the path does not fit. */
static int socket_address(struct libpulse_conn *c, const char *path,
                          struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof(sa->sun_path))
		return libpulse_errf(c->err, sizeof(c->err), PULSE_ERR_INVALID,
		                     "socket path '%s' is %s", path,
		                     n ? "too long for a Unix socket" : "empty");
	memcpy(sa->sun_path, path, n);
	return 0;
}

/* connect(2), finishing one interrupted by a signal: after EINTR the
 * connection goes on in the background, so wait for it and read its
 * result rather than calling connect again. */
static int connect_socket(struct libpulse_conn *c, const char *path)
{
	struct sockaddr_un sa;
	int code = socket_address(c, path, &sa);
	if (code)
		return code;
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return libpulse_errf(c->err, sizeof(c->err), PULSE_ERR_UNAVAILABLE,
		                     "socket: %s", strerror(errno));
	int e = 0;
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		e = errno;
		if (e == EINTR || e == EINPROGRESS) {
			socklen_t el = sizeof(e);
			if (libpulse_poll(c->fd, POLLOUT, 0) < 0 ||
			    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
				e = errno;
		}
	}
	if (e)
		return fail_close(c, libpulse_errno_code(e),
		                  "cannot connect to pulsed at %s: %s%s", path,
		                  strerror(e),
		                  e == ENOENT || e == ECONNREFUSED
		                      ? " (is pulsed running?)"
		                      : "");
	return 0;
}

/* Copy a counted string into a fixed buffer, refusing what does not fit
 * (ids are used as C strings later). */
static int copy_id(struct libpulse_conn *c, char *dst, size_t dstlen,
                   const pulse_str *s, const char *what)
{
	if (s->n >= dstlen || memchr(s->p, 0, s->n))
		return fail_close(c, PULSE_ERR_PROTOCOL,
		                  "pulsed sent an invalid %s", what);
	memcpy(dst, s->p, s->n);
	dst[s->n] = 0;
	return 0;
}

/* Send HELLO, then wait for WELCOME and keep what it says. */
static int handshake(struct libpulse_conn *c, const struct libpulse_hello *h)
{
	pulse_msg m = {.type = PULSE_T_HELLO,
	               .has = PM_V | PM_ROLE | PM_MAX_BODY | PM_STREAM,
	               .v = PULSE_PROTO_VERSION,
	               .max_body = PULSE_HARD_MAX_BODY, /* we follow WELCOME */
	               .stream = 1}; /* lists in parts: client.c's call_next */
	m.role = (pulse_str){h->role, strlen(h->role)};
	if (h->pool) {
		m.has |= PM_POOL | PM_NOTIFY | PM_MESSAGES;
		m.pool = (pulse_str){h->pool, strlen(h->pool)};
		m.notify = h->notify;
		m.messages = h->messages;
	}
	if (h->name) {
		m.has |= PM_NAME;
		m.name = (pulse_str){h->name, strlen(h->name)};
	}
	uint64_t deadline = libpulse_deadline(LIBPULSE_HANDSHAKE_MS);
	int code = libpulse_conn_send(c, &m, deadline);
	if (code)
		return code;
	pulse_msg w;
	code = libpulse_conn_wait(c, &w, deadline);
	if (code == PULSE_ERR_TIMEOUT)
		libpulse_errf(c->err, sizeof(c->err), code,
		              "pulsed did not answer the handshake within %d s",
		              LIBPULSE_HANDSHAKE_MS / 1000);
	if (code)
		return code;
	if (w.type == PULSE_T_ERROR)
		code = libpulse_error_frame(&w, c->err, sizeof(c->err));
	else if (w.type != PULSE_T_WELCOME)
		code = fail_close(c, PULSE_ERR_PROTOCOL,
		                  "pulsed answered HELLO with message type %u",
		                  (unsigned)w.type);
	if (!code && (w.has & PM_NODE))
		code = copy_id(c, c->node, sizeof(c->node), &w.node, "node id");
	if (!code && (w.has & PM_WORKER))
		code = copy_id(c, c->worker, sizeof(c->worker), &w.worker,
		               "worker id");
	if (!code && h->pool && !(w.has & PM_WORKER))
		code = fail_close(c, PULSE_ERR_PROTOCOL,
		                  "pulsed did not give a worker id");
	if (!code && (w.has & PM_MAX_BODY)) {
		/* pulsed's frames may be that large, and so may ours: follow it,
		 * up to the largest any pulsed may be configured for */
		c->max_body = w.max_body > PULSE_HARD_MAX_BODY ? PULSE_HARD_MAX_BODY
		              : w.max_body < PULSE_DEFAULT_MAX_BODY ? PULSE_DEFAULT_MAX_BODY
		              : (uint32_t)w.max_body;
		pulse_reader_raise(&c->rd, c->max_body);
	}
	libpulse_conn_done(c);
	return code;
}

size_t libpulse_conn_max_payload(const struct libpulse_conn *c)
{
	return c->max_body - PULSE_FRAME_OVERHEAD;
}

int libpulse_conn_open(struct libpulse_conn *c, const char *socket_path,
                       const struct libpulse_hello *hello)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->max_body = PULSE_DEFAULT_MAX_BODY; /* until WELCOME says more */
	pulse_reader_init(&c->rd, c->max_body);
	const char *path = socket_path;
	if (!path || !*path)
		path = getenv("PULSE_SOCKET");
	if (!path || !*path)
		path = PULSE_DEFAULT_SOCKET;
	int code = connect_socket(c, path);
	if (!code)
		code = handshake(c, hello);
	if (code)
		libpulse_conn_free(c);
	return code;
}
