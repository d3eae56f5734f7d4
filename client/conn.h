/*
 * conn.h: internal to libpulse-client (not installed): the connection layer
 * shared by client sessions (client.c) and worker sessions (worker.c), and
 * the error helpers of errors.c.
 *
 * Owns: one Unix stream socket to pulsed, its input reader (proto's
 * pulse_reader, capped at the frame body limit), its pending output, and
 * the message of the last error on the session.
 *
 * Invariants:
 *   - fd < 0 once the connection is closed; every I/O call on a closed
 *     connection fails with PULSE_ERR_CLOSED and leaves err as it was, so
 *     the message that explains the close is kept.
 *   - Sockets are never written with a signal able to kill the process:
 *     every send uses MSG_NOSIGNAL, every read and write MSG_DONTWAIT, and
 *     waiting is done with poll() (EINTR retried), so the fd's blocking mode
 *     does not matter.
 *   - A frame taken with libpulse_conn_next() stays valid (its pulse_msg
 *     points into the reader) until libpulse_conn_done(); only one frame is
 *     held at a time.
 *
 * Internal names start with "libpulse_": the shared library exports only
 * pulse_* (its version script), and the prefix keeps them out of the way
 * of programs that link the static library.
 */
#ifndef PULSE_CLIENT_CONN_H
#define PULSE_CLIENT_CONN_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"
#include "pulse.h"

#define LIBPULSE_ERRLEN 256
/* How long a handshake may take before the connection is given up. */
#define LIBPULSE_HANDSHAKE_MS 30000

struct libpulse_conn {
	int fd;
	pulse_reader rd;
	pulse_buf out;          /* encoded, not yet written */
	int held;               /* a frame is taken and not yet done */
	msgpack_unpacked u;     /* tree of the held frame */
	char node[128];         /* node id from WELCOME */
	char worker[PULSE_MAX_KEY + 1]; /* worker id from WELCOME ("" for clients) */
	uint32_t max_body;      /* pulsed's frame cap from WELCOME (what this
	                           end sends and reads up to: at most
	                           PULSE_HARD_MAX_BODY) */
	char err[LIBPULSE_ERRLEN];
};

/* What a HELLO says: role "client", or "worker" with its pool, name and
 * whether it handles notifications and messages. */
struct libpulse_hello {
	const char *role;
	const char *pool;
	const char *name;
	int notify;
	int messages;
};

/* A deadline for a blocking wait: 0 is "no deadline", else a
 * CLOCK_MONOTONIC time in milliseconds. */
uint64_t libpulse_deadline(unsigned timeout_ms);
/* The monotonic clock in milliseconds (the scale of deadlines). */
uint64_t libpulse_now_ms(void);

/* Connect to socket_path (NULL: $PULSE_SOCKET, else PULSE_DEFAULT_SOCKET),
 * send HELLO and wait for WELCOME. c needs no setup before. Returns 0 or
 * an error code, with the message in c->err; on failure the connection is
 * closed and its buffers freed (only c->err is left to read). */
int libpulse_conn_open(struct libpulse_conn *c, const char *socket_path,
                       const struct libpulse_hello *hello);
/* Close the socket; frames already read stay available. */
void libpulse_conn_close(struct libpulse_conn *c);
/* Close and free the buffers (the struct itself is the caller's). */
void libpulse_conn_free(struct libpulse_conn *c);

/* Encode m into the output and write all of the output, waiting for the
 * socket until deadline. Returns 0 or an error code (the connection is
 * closed on a write error or timeout). */
int libpulse_conn_send(struct libpulse_conn *c, const pulse_msg *m,
                       uint64_t deadline);
/* Write all of the output, as libpulse_conn_send() does after encoding:
 * for frames the caller built in c->out with pulse_enc_* (those with
 * structured fields). On a closed connection the output is dropped and
 * PULSE_ERR_CLOSED returned. */
int libpulse_conn_flush(struct libpulse_conn *c, uint64_t deadline);
/* Read what the socket holds without blocking. Returns 0 when the socket
 * has nothing more for now, LIBPULSE_FULL when the reader is full (take
 * the frames held, then read again), or an error code: PULSE_ERR_CLOSED at
 * end of stream (frames read before it stay available to
 * libpulse_conn_next). */
#define LIBPULSE_FULL (-1)
int libpulse_conn_read(struct libpulse_conn *c);
/* Take the next whole frame that was read, decoded and checked. Returns 1
 * with *m set, 0 when no whole frame is buffered, or -code on a frame that
 * does not decode (the connection is closed). Call libpulse_conn_done()
 * when finished with *m. */
int libpulse_conn_next(struct libpulse_conn *c, pulse_msg *m);
void libpulse_conn_done(struct libpulse_conn *c);
/* Wait until a whole frame is available or deadline passes (blocking), then
 * take it as libpulse_conn_next does. Returns 0 with *m set, or an error
 * code (PULSE_ERR_TIMEOUT on expiry, which closes the connection, since a
 * late answer would be out of step). */
int libpulse_conn_wait(struct libpulse_conn *c, pulse_msg *m,
                       uint64_t deadline);
/* poll() on one fd for events until deadline (0: forever). Returns >0 when
 * ready, 0 on timeout, -1 with errno on error. EINTR is retried. */
int libpulse_poll(int fd, short events, uint64_t deadline);

/* ---- errors.c ---------------------------------------------------------- */

/* printf into an error buffer (NULL or 0-sized buffers are allowed) and
 * return code, so that failures are one statement. */
int libpulse_errf(char *buf, size_t len, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int libpulse_verrf(char *buf, size_t len, int code, const char *fmt,
                   va_list ap);
/* The code for an ERROR frame: its "code" name mapped to a number (names
 * this library does not know become PULSE_ERR_PROTOCOL), with the frame's
 * message copied into buf. */
int libpulse_error_frame(const pulse_msg *m, char *buf, size_t len);
/* The code that a failed connect(2) or socket I/O errno stands for. */
int libpulse_errno_code(int err);
/* Local checks made before a request is sent: pool and key syntax, payload
 * size (at most max_payload: libpulse_conn_max_payload's). Return 0 or
 * PULSE_ERR_INVALID / PULSE_ERR_TOO_LARGE with a message in buf. key may
 * be NULL (no key in this request). */
int libpulse_check_request(const char *pool, const char *key, size_t plen,
                           size_t max_payload, char *buf, size_t len);
/* The largest payload a request on this connection may carry: what the
 * WELCOME's max_body leaves once the other fields have their room. */
size_t libpulse_conn_max_payload(const struct libpulse_conn *c);

#endif
