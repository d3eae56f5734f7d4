/*
 * server.c: the Unix socket and its sessions.
 *
 * Owns: the listening socket (mode and group from the config), accepting
 * peers (SO_PEERCRED read and logged, session limit enforced), reading
 * frames through the shared codec, the handshake, handing each decoded
 * message up through the peer hooks (d->peer, registered in context.c:
 * command.c's table, worker.c's attach), and writing frames back. It
 * names nothing above it (tests/tools/layers.txt).
 *
 * Invariants:
 *   - A peer holds at most max_body + 4 bytes of input (the codec's cap,
 *     plus one socket read waiting in the bufferevent) and max_peer_buffer
 *     bytes of output; past that it is dropped.
 *   - A client is not read while more than half of max_peer_buffer waits
 *     for it (it does not read its answers): work it asks for cannot pile
 *     up in pulsed. Reading resumes once that has drained to a quarter.
 *   - Time is bounded too: HELLO must come within socket.handshake_timeout
 *     of connecting, a frame begun must be complete within
 *     socket.frame_timeout (from its first byte, however it dribbles in),
 *     and a peer with output waiting that takes none of it for
 *     socket.write_timeout is disconnected. Idle sessions between frames
 *     have no limit.
 *   - A session is freed only from a libevent callback of its own
 *     (EOF, error, timeout, or its output drained after session_drop),
 *     never while a message of it is being handled; a closing session
 *     reads nothing.
 *   - Every session's start and end is logged with the peer's pid and uid
 *     (the end with its cause): at debug for a start and for a routine
 *     close by the peer, so that a client that only reads costs no info
 *     line; what a session changes is logged above with its uid.
 *     Every malformed frame or overstayed deadline gets an ERROR frame
 *     naming the cause (where the peer still takes bytes) and the peer is
 *     disconnected. Nothing a peer sends can crash or stall pulsed, and
 *     pulsed never blocks writing to a peer.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <event2/buffer.h>

#include "pulsed.h"

static uint32_t max_body(const struct pulsed *d)
{
	return (uint32_t)(d->cfg.max_payload + PULSE_FRAME_OVERHEAD);
}

struct session *session_find(struct pulsed *d, uint64_t sid)
{
	return sid ? table_get_u64(&d->sessions, sid) : NULL;
}

/* Every line about a peer starts with "session N" and names its pid and
 * uid, so that one grep finds its whole life (the session's end keeps the
 * "session N: closed" form that operators and tests already grep for). */
#define PEER_FMT "session %llu (pid %d uid %d)"
#define PEER_ARGS(s) (unsigned long long)(s)->sid, (int)(s)->pid, (int)(s)->uid

/* A worker's jobs are handed on here (the closed hook), whatever ended
 * the session, so a dropped peer loses nothing that a crashed one
 * would not. A peer that closes cleanly between frames is routine (every
 * pulsectl call): that line is debug, any other end is info. */
static void session_free(struct session *s, int level, const char *cause)
{
	struct pulsed *d = s->d;
	d->peer.closed(s);
	plog(&d->log, level, "session %llu: closed (pid %d uid %d): %s",
	     PEER_ARGS(s), cause);
	table_del_u64(&d->sessions, s->sid);
	d->nsessions--;
	event_free(s->deadline);
	bufferevent_free(s->bev);
	pulse_reader_free(&s->rd);
	free(s);
}

/* Write what the socket takes now when nothing is queued before it: the
 * peer gets the frame in this callback instead of after another pass of
 * the loop (an epoll_ctl to arm EPOLLOUT, an epoll_wait, then the write).
 * Returns the bytes written; any error (EAGAIN, or a peer that is gone)
 * leaves the rest to the bufferevent, whose own write reports it. */
static size_t write_now(struct session *s, const char *p, size_t n)
{
	size_t done = 0;
	while (done < n) {
		ssize_t w = send(s->fd, p + done, n - done,
		                 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		done += (size_t)w;
	}
	return done;
}

void session_send(struct session *s, pulse_buf *b)
{
	if (s->closing)
		return;
	struct evbuffer *out = bufferevent_get_output(s->bev);
	size_t queued = evbuffer_get_length(out);
	if (queued + b->len > s->d->cfg.max_peer_buffer) {
		/* What is queued stays (draining it could cut a frame that the
		 * socket took half of): the ERROR goes behind it, and the write
		 * timeout ends a peer that reads none of it. */
		session_drop(s, PULSE_E_BUSY, "peer does not read its answers");
		return;
	}
	/* Bytes never overtake queued ones: direct only behind an empty
	 * queue; what the socket did not take is queued (and bounded) as
	 * before. */
	size_t done = queued == 0 ? write_now(s, b->data, b->len) : 0;
	if (done < b->len)
		bufferevent_write(s->bev, b->data + done, b->len - done);
}

size_t session_backlog(const struct session *s)
{
	return evbuffer_get_length(bufferevent_get_output(s->bev));
}

void session_wait_drained(struct session *s)
{
	s->want_drained = 1;
	/* write_cb runs after a write leaves the output at its low
	 * watermark; with nothing queued no write comes, so ask for it */
	if (session_backlog(s) == 0)
		bufferevent_trigger(s->bev, EV_WRITE, BEV_TRIG_IGNORE_WATERMARKS |
		                                          BEV_TRIG_DEFER_CALLBACKS);
}

void session_send_enc(struct session *s, pulse_enc *e)
{
	if (pulse_enc_end(e) == 0)
		session_send(s, e->out);
	pulse_buf_free(e->out);
}

/* An ERROR frame; `last` ones (a dropped peer's) bypass the output bound
 * and the closing check: they are small and the last thing it gets. */
static void send_frame_error(struct session *s, uint64_t id, int code,
                             const char *msg, int last)
{
	pulse_buf b = {0};
	if (pulse_encode_error(&b, id, code, msg) == 0) {
		if (last)
			bufferevent_write(s->bev, b.data, b.len);
		else
			session_send(s, &b);
	}
	pulse_buf_free(&b);
}

void session_error(struct session *s, uint64_t id, int code, const char *fmt,
                   ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	send_frame_error(s, id, code, msg, 0);
}

void session_ok(struct session *s, uint64_t id)
{
	pulse_buf b = {0};
	if (pulse_encode_ok(&b, id) == 0)
		session_send(s, &b);
	pulse_buf_free(&b);
}

static void log_drop(const struct session *s, int code, const char *msg)
{
	LOGW(&s->d->log, PEER_FMT ": %s: %s; disconnecting", PEER_ARGS(s),
	     pulse_err_name(code), msg);
}

void session_drop(struct session *s, int code, const char *msg)
{
	if (s->closing)
		return;
	log_drop(s, code, msg);
	send_frame_error(s, 0, code, msg, 1);
	session_close(s, "disconnected after its ERROR frame");
}

/* socket.write_timeout on the session's writes, or none. */
static void set_write_timeout(struct session *s, int on)
{
	struct timeval wt = {(time_t)(s->d->cfg.write_ms / 1000),
	                     (suseconds_t)(s->d->cfg.write_ms % 1000) * 1000};
	bufferevent_set_timeouts(s->bev, NULL, on ? &wt : NULL);
}

/* Close once what is queued for the peer has been written (or the write
 * timeout gives up on it). `why` is what the session's end logs: a peer
 * dropped after its ERROR frame and a worker whose DETACH was answered
 * OK both end here, and an operator must be able to tell them apart. */
void session_close(struct session *s, const char *why)
{
	if (s->closing)
		return;
	s->closing = 1;
	s->close_why = why;
	set_write_timeout(s, 1);
	evtimer_del(s->deadline);
	bufferevent_disable(s->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
		bufferevent_trigger(s->bev, EV_WRITE, BEV_TRIG_IGNORE_WATERMARKS |
		                                          BEV_TRIG_DEFER_CALLBACKS);
}

static void send_welcome(struct session *s, const char *worker)
{
	pulse_buf b = {0};
	pulse_enc e;
	pulse_enc_begin(&e, &b, PULSE_T_WELCOME, 0, worker ? 4 : 3);
	pulse_enc_uint(&e, "v", PULSE_PROTO_VERSION);
	pulse_enc_cstr(&e, "node", s->d->node);
	pulse_enc_uint(&e, "max_body", max_body(s->d));
	if (worker)
		pulse_enc_cstr(&e, "worker", worker);
	session_send_enc(s, &e);
}

/* Called by worker.c once the attach is recorded (or failed). */
void session_welcome_worker(struct session *s, const char *wid)
{
	send_welcome(s, wid);
}

static void on_hello(struct session *s, const pulse_msg *m)
{
	char err[256];
	if (m->type != PULSE_T_HELLO) {
		session_drop(s, PULSE_E_PROTOCOL, "the first frame must be HELLO");
		return;
	}
	if (m->v != PULSE_PROTO_VERSION) {
		snprintf(err, sizeof(err),
		         "protocol version %llu not supported (pulsed speaks %d)",
		         (unsigned long long)m->v, PULSE_PROTO_VERSION);
		session_drop(s, PULSE_E_PROTOCOL, err);
		return;
	}
	/* What the peer takes: a frame larger than that is never sent to it
	 * (a START or EVENT fails with TOO_LARGE instead, jobs.c), so that
	 * no payload makes a peer drop its session again and again. */
	s->peer_max_body = (m->has & PM_MAX_BODY) ? (m->max_body > UINT32_MAX ?
	                   UINT32_MAX : (uint32_t)m->max_body) : PULSE_DEFAULT_MAX_BODY;
	/* and whether it takes a long list in several frames (listout.c) */
	s->peer_stream = (m->has & PM_STREAM) && m->stream;
	if (m->role.n == 6 && memcmp(m->role.p, "client", 6) == 0) {
		s->role = ROLE_CLIENT;
		send_welcome(s, NULL);
		return;
	}
	if (m->role.n == 6 && memcmp(m->role.p, "worker", 6) == 0) {
		int code = 0;
		s->role = ROLE_WORKER;
		if (s->d->peer.worker_hello(s, m, err, sizeof(err), &code) < 0) {
			s->role = ROLE_NONE;
			session_drop(s, code, err);
			return;
		}
		/* A worker reads nothing while a handler runs, however long:
		 * the write timeout would drop a session whose handler still
		 * runs its jobs, and they would start elsewhere meanwhile (P3).
		 * What waits for it (LEASEs, its events) stays bounded by
		 * socket.max_peer_buffer; the timeout comes back once pulsed
		 * closes the session (session_close). */
		set_write_timeout(s, 0);
		return;
	}
	session_drop(s, PULSE_E_PROTOCOL, "role must be \"client\" or \"worker\"");
}

static void on_frame(struct session *s, const uint8_t *body, uint32_t len)
{
	pulse_msg m;
	msgpack_unpacked u;
	char err[256];
	msgpack_unpacked_init(&u);
	if (pulse_msg_decode(body, len, &m, &u, err, sizeof(err)) < 0 ||
	    pulse_msg_require(&m, err, sizeof(err)) < 0) {
		session_drop(s, PULSE_E_PROTOCOL, err);
		goto out;
	}
	if (s->role == ROLE_NONE) {
		on_hello(s, &m);
		goto out;
	}
	s->d->peer.frame(s, &m);
out:
	msgpack_unpacked_destroy(&u);
}

/* The session's deadline passed: no HELLO yet, or a frame begun and not
 * finished. Either holds a session (and up to a frame of memory) for
 * nothing; the peer can still be told why. */
static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct session *s = arg;
	const config *c = &s->d->cfg;
	char msg[128];
	if (s->role == ROLE_NONE)
		snprintf(msg, sizeof(msg), "no HELLO within %llu ms of connecting",
		         (unsigned long long)c->handshake_ms);
	else
		snprintf(msg, sizeof(msg), "incomplete frame for %llu ms",
		         (unsigned long long)c->frame_ms);
	session_drop(s, PULSE_E_TIMEOUT, msg);
}

/* After a read: a frame begun gets frame_timeout from its first byte
 * (restarted only when a frame completes, so dribbling bytes does not
 * extend it); none held, no deadline. Before HELLO the handshake deadline
 * set at accept stays. A paused session is not read, so its frame could
 * not complete: its deadline waits for the resume. */
static void update_deadline(struct session *s, int completed)
{
	if (s->closing || s->role == ROLE_NONE)
		return;
	if (s->paused || pulse_reader_held(&s->rd) == 0)
		evtimer_del(s->deadline);
	else if (completed || !evtimer_pending(s->deadline, NULL))
		timer_arm_ms(s->deadline, s->d->cfg.frame_ms);
}

/* Above this much output waiting for a peer, pulsed stops reading it;
 * below resume_below() it reads again (hysteresis, so that a slow reader
 * is not switched on and off for every frame). */
static size_t pause_above(const struct session *s)
{
	return (size_t)(s->d->cfg.max_peer_buffer / 2);
}

static size_t resume_below(const struct session *s)
{
	return (size_t)(s->d->cfg.max_peer_buffer / 4);
}

/* A client that does not read its answers must not make pulsed read (and
 * do, and buffer the answers of) more of its requests: stop reading it
 * until write_cb sees its output drained. What is already read stays in
 * the reader and the bufferevent, bounded as ever. Workers are always
 * read: their frames are ACKs, which only ever shrink what pulsed holds
 * for them, and a worker blocked writing an ACK while pulsed waited for
 * it to read its events would deadlock until the write timeout. */
static void pause_reading(struct session *s, size_t queued)
{
	s->paused = 1;
	bufferevent_disable(s->bev, EV_READ);
	bufferevent_setwatermark(s->bev, EV_WRITE, resume_below(s), 0);
	LOGD(&s->d->log, PEER_FMT ": %zu bytes unread by the peer; not reading it",
	     PEER_ARGS(s), queued);
}

/* The frames held while paused are handled from a deferred read_cb: no
 * new byte may ever come to trigger it. */
static void resume_reading(struct session *s)
{
	s->paused = 0;
	bufferevent_setwatermark(s->bev, EV_WRITE, 0, 0);
	bufferevent_enable(s->bev, EV_READ);
	bufferevent_trigger(s->bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS |
	                                         BEV_TRIG_DEFER_CALLBACKS);
	LOGD(&s->d->log, PEER_FMT ": reading it again", PEER_ARGS(s));
}

/* Handle the whole frames the reader holds. Returns 0 when it needs more
 * bytes, 1 when the session stopped reading (closing or paused). */
static int handle_frames(struct session *s, int *completed)
{
	for (;;) {
		if (s->closing)
			return 1;
		size_t queued = evbuffer_get_length(bufferevent_get_output(s->bev));
		if (s->role == ROLE_CLIENT && queued > pause_above(s)) {
			pause_reading(s, queued);
			return 1;
		}
		const uint8_t *body;
		uint32_t len;
		int r = pulse_reader_next(&s->rd, &body, &len);
		if (r < 0) {
			char msg[128];
			snprintf(msg, sizeof(msg), "frame larger than %u bytes",
			         max_body(s->d));
			session_drop(s, PULSE_E_TOO_LARGE, msg);
			return 1;
		}
		if (r == 0)
			return 0;
		on_frame(s, body, len);
		pulse_reader_consume(&s->rd);
		*completed = 1;
	}
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	int completed = 0;
	s->last_rx_ms = now_ms();
	while (handle_frames(s, &completed) == 0 && evbuffer_get_length(in) > 0) {
		size_t room;
		uint8_t *space = pulse_reader_space(&s->rd, &room);
		if (!space) {
			session_drop(s, PULSE_E_TOO_LARGE, "frame too large");
			return;
		}
		int got = evbuffer_remove(in, space, room);
		if (got <= 0)
			break;
		pulse_reader_commit(&s->rd, (size_t)got);
	}
	update_deadline(s, completed);
}

/* Called when the output has drained: empty (watermark 0), or below
 * resume_below() while paused. */
static void write_cb(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;
	size_t left = evbuffer_get_length(bufferevent_get_output(bev));
	if (s->closing) {
		if (left == 0)
			session_free(s, LOG_INFO, s->close_why);
		return;
	}
	if (s->paused && left <= resume_below(s))
		resume_reading(s);
	if (s->want_drained) {
		s->want_drained = 0;
		s->d->peer.drained(s);
	}
}

/* The peer closed its end. What it sent and we have not handled says
 * whether it left in the middle of a frame: bytes held by the reader, or
 * (when a write found the close first) bytes still unread. */
static void peer_closed(struct session *s)
{
	if (s->closing) {
		/* pulsed was closing it anyway: that is the cause (the peer
		 * may close as soon as it read the last frame) */
		session_free(s, LOG_INFO, s->close_why);
		return;
	}
	int pending = 0;
	if (ioctl(s->fd, FIONREAD, &pending) < 0)
		pending = 0;
	size_t unread = pulse_reader_held(&s->rd) + (size_t)pending +
	                evbuffer_get_length(bufferevent_get_input(s->bev));
	if (unread > 0)
		session_free(s, LOG_INFO, "peer closed the connection in the "
		                          "middle of a frame");
	else
		session_free(s, LOG_DEBUG, "peer closed the connection");
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	struct session *s = arg;
	char msg[160];
	if (what & BEV_EVENT_TIMEOUT) {
		/* Output waits and the peer took none of it for write_timeout:
		 * no frame can reach it any more, so no ERROR frame. */
		snprintf(msg, sizeof(msg), "peer has not read for %llu ms",
		         (unsigned long long)s->d->cfg.write_ms);
		if (!s->closing)
			log_drop(s, PULSE_E_TIMEOUT, msg);
		session_free(s, LOG_INFO, msg);
	} else if ((what & BEV_EVENT_EOF) ||
	           ((what & BEV_EVENT_ERROR) && (EVUTIL_SOCKET_ERROR() == ECONNRESET ||
	                                         EVUTIL_SOCKET_ERROR() == EPIPE))) {
		/* A reset says the peer closed with our bytes unread, a broken
		 * pipe that it closed before we wrote: both are its close. */
		peer_closed(s);
	} else if (what & BEV_EVENT_ERROR) {
		int err = EVUTIL_SOCKET_ERROR();
		snprintf(msg, sizeof(msg), "%s error: %s",
		         what & BEV_EVENT_READING ? "read" : "write",
		         evutil_socket_error_to_string(err));
		session_free(s, LOG_INFO, msg);
	}
}

/* What the socket needs of a configuration beyond its syntax: the groups
 * it names exist on this host (a typo would lock every client out, or
 * leave admin commands to root alone, with nothing said). */
int server_check_config(const config *c, char *err, size_t errlen)
{
	const char *keys[2] = {"socket.group", "socket.admin_group"};
	const char *names[2] = {c->socket_group, c->admin_group};
	for (int i = 0; i < 2; i++) {
		if (names[i] && !getgrnam(names[i])) {
			snprintf(err, errlen, "%s: there is no group named \"%s\" on "
			         "this host (create it: groupadd --system %s; or set "
			         "%s to an existing group, or null)", keys[i], names[i],
			         names[i], keys[i]);
			return -1;
		}
	}
	return 0;
}

/* Root and members of the admin group may run admin commands (P17). */
static int is_admin(const struct pulsed *d, uid_t uid, gid_t gid)
{
	if (uid == 0)
		return 1;
	if (!d->cfg.admin_group)
		return 0;
	struct group *gr = getgrnam(d->cfg.admin_group);
	if (!gr)
		return 0;
	if (gid == gr->gr_gid)
		return 1;
	struct passwd *pw = getpwuid(uid);
	if (!pw)
		return 0;
	gid_t groups[256];
	int n = 256;
	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0)
		return 0;
	for (int i = 0; i < n; i++)
		if (groups[i] == gr->gr_gid)
			return 1;
	return 0;
}

/* The excess of max_sessions is told why (the socket is new and
 * non-blocking: the small frame fits, and a write never blocks) and
 * closed; sessions already open never notice. */
static void refuse(struct pulsed *d, int fd, const struct ucred *cred,
                   int code, const char *msg)
{
	pulse_buf b = {0};
	if (pulse_encode_error(&b, 0, code, msg) == 0) {
		ssize_t w = send(fd, b.data, b.len, MSG_DONTWAIT | MSG_NOSIGNAL);
		(void)w;
	}
	pulse_buf_free(&b);
	LOGW(&d->log, "refused a session (pid %d uid %d): %s", (int)cred->pid,
	     (int)cred->uid, msg);
	close(fd);
}

/* How long accepting pauses when pulsed is out of descriptors or memory:
 * the listening socket stays readable, so retrying at once would spin. */
#define ACCEPT_PAUSE_MS 100

static void accept_resume(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct pulsed *d = arg;
	if (d->lev && !d->stopping)
		event_add(d->lev, NULL);
}

static void accept_pause(struct pulsed *d)
{
	struct timeval tv = {0, ACCEPT_PAUSE_MS * 1000};
	event_del(d->lev);
	event_base_once(d->base, -1, EV_TIMEOUT, accept_resume, d, &tv);
}

/* How many sessions this uid holds now. */
static unsigned sessions_of(const struct pulsed *d, uid_t uid)
{
	unsigned n = 0;
	table_iter it;
	struct tentry *e;
	table_iter_init(&it, (table *)&d->sessions);
	while ((e = table_next(&it)))
		n += ((const struct session *)e->val)->uid == uid;
	return n;
}

/* Whether a new peer may have a session: the total cap, the slots kept
 * for root and the admin group (so that a member of the socket group who
 * opens idle sessions cannot lock out the operator), and the cap per uid
 * (so that one uid cannot lock out the workers of others). 0, or -1 with
 * why, for the peer and the log. */
static int admission(const struct pulsed *d, const struct ucred *cred,
                     char *why, size_t len)
{
	const config *c = &d->cfg;
	if (d->nsessions >= c->max_sessions) {
		snprintf(why, len, "too many sessions (socket.max_sessions %u)",
		         c->max_sessions);
		return -1;
	}
	if (is_admin(d, cred->uid, cred->gid))
		return 0;
	unsigned kept = c->admin_sessions < c->max_sessions / 4
	                ? c->admin_sessions : c->max_sessions / 4;
	if (d->nsessions >= c->max_sessions - kept) {
		snprintf(why, len, "too many sessions: the last %u of "
		         "socket.max_sessions (%u) are kept for root and the admin "
		         "group", kept, c->max_sessions);
		return -1;
	}
	if (sessions_of(d, cred->uid) >= c->max_sessions_per_uid) {
		snprintf(why, len, "too many sessions for uid %d "
		         "(socket.max_sessions_per_uid %u)", (int)cred->uid,
		         c->max_sessions_per_uid);
		return -1;
	}
	return 0;
}

struct session *session_new(struct pulsed *d, int fd, const struct ucred *cred)
{
	struct session *s = xcalloc(1, sizeof(*s));
	s->d = d;
	s->fd = fd;
	s->sid = ++d->next_sid;
	s->pid = cred->pid;
	s->uid = cred->uid;
	s->gid = cred->gid;
	s->admin = is_admin(d, cred->uid, cred->gid);
	s->last_rx_ms = now_ms();
	s->peer_max_body = PULSE_DEFAULT_MAX_BODY; /* until its HELLO says */
	pulse_reader_init(&s->rd, max_body(d));
	s->bev = bufferevent_socket_new(d->base, fd, BEV_OPT_CLOSE_ON_FREE);
	s->deadline = evtimer_new(d->base, deadline_cb, s);
	if (!s->bev || !s->deadline)
		fatal_oom("a session's buffers");
	bufferevent_setcb(s->bev, read_cb, write_cb, event_cb, s);
	bufferevent_enable(s->bev, EV_READ);
	/* write_cb matters once closing (output empty) or paused (output
	 * below resume_below(), set while paused); quiet otherwise */
	bufferevent_setwatermark(s->bev, EV_WRITE, 0, 0);
	set_write_timeout(s, 1);
	timer_arm_ms(s->deadline, d->cfg.handshake_ms);
	table_set_u64(&d->sessions, s->sid, s);
	d->nsessions++;
	/* debug: every pulsectl call opens a session, and one that only
	 * reads must cost no info line; what a session changes is logged
	 * with its uid (a worker's attach, a job line, an admin request) */
	LOGD(&d->log, "session %llu: pid %d uid %d gid %d%s",
	     (unsigned long long)s->sid, (int)cred->pid, (int)cred->uid,
	     (int)cred->gid, s->admin ? " (admin)" : "");
	return s;
}

static void accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	(void)what;
	struct pulsed *d = arg;
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				LOGW(&d->log, "accept: %s; not accepting for %d ms",
				     strerror(errno), ACCEPT_PAUSE_MS);
				accept_pause(d);
			} else if (errno != EAGAIN && errno != EINTR &&
			           errno != ECONNABORTED) {
				LOGW(&d->log, "accept: %s", strerror(errno));
			}
			return;
		}
		struct ucred cred = {0};
		socklen_t cl = sizeof(cred);
		getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl);
		char why[200];
		if (admission(d, &cred, why, sizeof(why)) < 0)
			refuse(d, fd, &cred, PULSE_E_BUSY, why);
		else
			session_new(d, fd, &cred);
	}
}

/* A non-admin client session that has nothing in flight, subscribes to
 * nothing and has sent nothing for socket.client_idle_timeout holds a
 * slot for nobody: it is told why and closed. Workers are kept alive by
 * their leases, admins are trusted (their DRAIN or SHUTDOWN may wait
 * long with nothing to send), sessions before HELLO have the handshake
 * timeout. */
static void idle_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct pulsed *d = arg;
	uint64_t now = now_ms(), idle = d->cfg.client_idle_ms;
	table_iter it;
	struct tentry *e;
	table_iter_init(&it, &d->sessions);
	while ((e = table_next(&it))) {
		struct session *s = e->val;
		if (s->role != ROLE_CLIENT || s->admin || s->closing ||
		    s->inflight || s->tickers || now - s->last_rx_ms < idle)
			continue;
		char why[160];
		snprintf(why, sizeof(why), "idle for %llu ms with nothing in flight "
		         "(socket.client_idle_timeout)",
		         (unsigned long long)(now - s->last_rx_ms));
		session_drop(s, PULSE_E_TIMEOUT, why);
	}
}

int server_listen(struct pulsed *d, char *err, size_t errlen)
{
	const char *path = d->cfg.socket_path;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "socket path too long: %s", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	/* A leftover socket file from a dead pulsed is replaced; a live one
	 * (something answers on it) is not. */
	struct stat st;
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(probe);
			close(fd);
			snprintf(err, errlen, "%s: another pulsed is listening", path);
			return -1;
		}
		if (probe >= 0)
			close(probe);
		unlink(path);
	}
	mode_t old = umask(0177);
	int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0) {
		snprintf(err, errlen, "bind %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (d->cfg.socket_group) {
		/* a socket left in the daemon's own group would refuse every
		 * client of socket.group: an error, not a warning */
		struct group *gr = getgrnam(d->cfg.socket_group);
		if (!gr || chown(path, (uid_t)-1, gr->gr_gid) < 0) {
			snprintf(err, errlen, "socket.group %s: %s%s", d->cfg.socket_group,
			         gr ? strerror(errno) : "no such group",
			         gr && errno == EPERM ? " (pulsed must be a member of the "
			         "group or hold CAP_CHOWN, as the shipped unit grants)" : "");
			close(fd);
			unlink(path);
			return -1;
		}
	}
	if (chmod(path, d->cfg.socket_mode) < 0)
		LOGW(&d->log, "chmod %s: %s", path, strerror(errno));
	if (listen(fd, 128) < 0) {
		snprintf(err, errlen, "listen: %s", strerror(errno));
		close(fd);
		return -1;
	}
	d->lfd = fd;
	d->lev = event_new(d->base, fd, EV_READ | EV_PERSIST, accept_cb, d);
	event_add(d->lev, NULL);
	uint64_t every = d->cfg.client_idle_ms / 4;
	struct timeval tv = {(time_t)(every / 1000), (suseconds_t)(every % 1000) * 1000};
	d->idle_sweep = event_new(d->base, -1, EV_PERSIST, idle_sweep_cb, d);
	if (!d->idle_sweep)
		fatal_oom("the idle sweep timer");
	event_add(d->idle_sweep, &tv);
	return 0;
}

void server_close(struct pulsed *d)
{
	if (d->idle_sweep) {
		event_free(d->idle_sweep);
		d->idle_sweep = NULL;
	}
	if (d->lev) {
		event_free(d->lev);
		d->lev = NULL;
		close(d->lfd);
		unlink(d->cfg.socket_path);
	}
	table_iter it;
	struct tentry *e;
	table_iter_init(&it, &d->sessions);
	while ((e = table_next(&it)))
		session_free(e->val, LOG_INFO, "pulsed is stopping");
}
