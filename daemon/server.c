/*
 * server.c: the Unix socket and its sessions.
 *
 * Owns: the listening socket (mode and group from the config), accepting
 * peers (SO_PEERCRED read and logged, session limit enforced), reading
 * frames through the shared codec, the handshake, handing each decoded
 * message to client.c or worker.c, and writing frames back.
 *
 * Invariants:
 *   - A peer holds at most max_body + 4 bytes of input (the codec's cap)
 *     and max_peer_buffer bytes of output; past that it is dropped.
 *   - A session is freed only from a libevent callback of its own
 *     (EOF, error, or its output drained after session_drop), never while
 *     a message of it is being handled; a closing session reads nothing.
 *   - Every malformed frame gets an ERROR frame naming the cause, a log
 *     line, and the peer is disconnected. Nothing a peer sends can crash
 *     or stall pulsed.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static void session_free(struct session *s)
{
	struct pulsed *d = s->d;
	if (s->role == ROLE_WORKER)
		worker_session_closed(s);
	if (s->tickers)
		ticker_session_closed(s);
	LOGD(&d->log, "session %llu: closed", (unsigned long long)s->sid);
	table_del_u64(&d->sessions, s->sid);
	d->nsessions--;
	bufferevent_free(s->bev);
	pulse_reader_free(&s->rd);
	free(s);
}

void session_send(struct session *s, pulse_buf *b)
{
	if (s->closing)
		return;
	struct evbuffer *out = bufferevent_get_output(s->bev);
	if (evbuffer_get_length(out) + b->len > s->d->cfg.max_peer_buffer) {
		/* What it has not read is dropped: its answers are lost to it
		 * anyway once it is disconnected. */
		evbuffer_drain(out, evbuffer_get_length(out));
		session_drop(s, PULSE_E_BUSY, "peer does not read its answers");
		return;
	}
	bufferevent_write(s->bev, b->data, b->len);
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

void session_drop(struct session *s, int code, const char *msg)
{
	if (s->closing)
		return;
	LOGW(&s->d->log, "session %llu (pid %d): %s: %s; disconnecting",
	     (unsigned long long)s->sid, (int)s->pid, pulse_err_name(code), msg);
	send_frame_error(s, 0, code, msg, 1);
	session_close(s);
}

/* Close once what is queued for the peer has been written. */
void session_close(struct session *s)
{
	if (s->closing)
		return;
	s->closing = 1;
	bufferevent_disable(s->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
		bufferevent_trigger(s->bev, EV_WRITE, BEV_TRIG_IGNORE_WATERMARKS |
		                                          BEV_TRIG_DEFER_CALLBACKS);
}

static void send_welcome(struct session *s, const char *worker)
{
	pulse_buf b = {0};
	pulse_enc e;
	pulse_enc_begin(&e, &b, PULSE_T_WELCOME, 0, worker ? 3 : 2);
	pulse_enc_uint(&e, "v", PULSE_PROTO_VERSION);
	pulse_enc_cstr(&e, "node", s->d->node);
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
	if (m->role.n == 6 && memcmp(m->role.p, "client", 6) == 0) {
		s->role = ROLE_CLIENT;
		send_welcome(s, NULL);
		return;
	}
	if (m->role.n == 6 && memcmp(m->role.p, "worker", 6) == 0) {
		int code = 0;
		s->role = ROLE_WORKER;
		if (worker_attach(s, m, err, sizeof(err), &code) < 0) {
			s->role = ROLE_NONE;
			session_drop(s, code, err);
		}
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
	switch (m.type) {
	case PULSE_T_DISPATCH:
	case PULSE_T_STOP:
	case PULSE_T_NOTIFY:
	case PULSE_T_JOBS:
	case PULSE_T_JOB:
	case PULSE_T_WORKERS:
	case PULSE_T_STATUS:
	case PULSE_T_TICKER:
	case PULSE_T_TICKER_STOP:
	case PULSE_T_SCHEDULE:
	case PULSE_T_CLOCKS:
	case PULSE_T_SHUTDOWN:
	case PULSE_T_LEAVE:
	case PULSE_T_WHERE:
	case PULSE_T_NODES:
	case PULSE_T_DRAIN:
	case PULSE_T_UNDRAIN:
		if (s->role != ROLE_CLIENT) {
			session_drop(s, PULSE_E_PROTOCOL,
			             "requests need a client session");
			break;
		}
		client_request(s, &m);
		break;
	case PULSE_T_PLANNED:
		if (s->role != ROLE_CLIENT)
			session_drop(s, PULSE_E_PROTOCOL, "PLANNED from a worker session");
		else
			schedule_planned(s, &m);
		break;
	case PULSE_T_ACK:
		if (s->role != ROLE_WORKER)
			session_drop(s, PULSE_E_PROTOCOL, "ACK from a client session");
		else
			worker_ack(s, &m);
		break;
	case PULSE_T_DETACH:
		if (s->role != ROLE_WORKER)
			session_drop(s, PULSE_E_PROTOCOL, "DETACH from a client session");
		else
			worker_detach_req(s, &m);
		break;
	case PULSE_T_HELLO:
		session_drop(s, PULSE_E_PROTOCOL, "second HELLO");
		break;
	default:
		snprintf(err, sizeof(err), "message type %u is not sent to pulsed",
		         m.type);
		session_drop(s, PULSE_E_PROTOCOL, err);
	}
out:
	msgpack_unpacked_destroy(&u);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	while (!s->closing && evbuffer_get_length(in) > 0) {
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
		for (;;) {
			const uint8_t *body;
			uint32_t len;
			int r = pulse_reader_next(&s->rd, &body, &len);
			if (r < 0) {
				char msg[128];
				snprintf(msg, sizeof(msg),
				         "frame larger than %u bytes", max_body(s->d));
				session_drop(s, PULSE_E_TOO_LARGE, msg);
				return;
			}
			if (r == 0)
				break;
			on_frame(s, body, len);
			pulse_reader_consume(&s->rd);
			if (s->closing)
				return;
		}
	}
}

static void write_cb(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;
	if (s->closing &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		session_free(s);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	struct session *s = arg;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		session_free(s);
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

static void refuse(struct pulsed *d, int fd, int code, const char *msg)
{
	pulse_buf b = {0};
	if (pulse_encode_error(&b, 0, code, msg) == 0) {
		ssize_t w = write(fd, b.data, b.len);
		(void)w;
	}
	pulse_buf_free(&b);
	LOGW(&d->log, "refused a session: %s", msg);
	close(fd);
}

static void accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	(void)what;
	struct pulsed *d = arg;
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				LOGW(&d->log, "accept: %s", strerror(errno));
			return;
		}
		if (d->nsessions >= d->cfg.max_sessions) {
			refuse(d, fd, PULSE_E_BUSY, "too many sessions");
			continue;
		}
		struct ucred cred = {0};
		socklen_t cl = sizeof(cred);
		getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl);
		struct session *s = calloc(1, sizeof(*s));
		if (!s)
			abort();
		s->d = d;
		s->fd = fd;
		s->sid = ++d->next_sid;
		s->pid = cred.pid;
		s->uid = cred.uid;
		s->gid = cred.gid;
		s->admin = is_admin(d, cred.uid, cred.gid);
		pulse_reader_init(&s->rd, max_body(d));
		s->bev = bufferevent_socket_new(d->base, fd, BEV_OPT_CLOSE_ON_FREE);
		bufferevent_setcb(s->bev, read_cb, write_cb, event_cb, s);
		bufferevent_enable(s->bev, EV_READ);
		/* write_cb only matters once closing; keep it quiet before */
		bufferevent_setwatermark(s->bev, EV_WRITE, 0, 0);
		table_set_u64(&d->sessions, s->sid, s);
		d->nsessions++;
		LOGI(&d->log, "session %llu: pid %d uid %d gid %d%s",
		     (unsigned long long)s->sid, (int)cred.pid, (int)cred.uid,
		     (int)cred.gid, s->admin ? " (admin)" : "");
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
		struct group *gr = getgrnam(d->cfg.socket_group);
		if (!gr || chown(path, (uid_t)-1, gr->gr_gid) < 0)
			LOGW(&d->log, "socket group %s: %s", d->cfg.socket_group,
			     gr ? strerror(errno) : "no such group");
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
	return 0;
}

void server_close(struct pulsed *d)
{
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
		session_free(e->val);
}
