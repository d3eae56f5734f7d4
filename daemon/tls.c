/*
 * tls.c: TLS to Redis (rediss://) for hiredis 0.14, which speaks only
 * plain TCP and Unix sockets.
 *
 * Owns: the OpenSSL client context built from redis.tls (the CA file or
 * directory, else the system's trust store; the client certificate and
 * key; verification of the chain and of the server name), a listening
 * Unix socket in a private directory, and one bridge per connection that
 * hiredis makes to that socket: the accepted socket on one side, an
 * OpenSSL bufferevent over TCP to Redis's TLS port on the other, both on
 * the daemon's one event loop.
 *
 * Why a bridge: hiredis 0.14's async API makes its own connections
 * (redisAsyncConnect, redisAsyncConnectUnix) and reads and writes their
 * file descriptors itself; nothing can be put under it. So it connects to
 * a socket of ours, and the TLS session lives here (README, "TLS").
 *
 * Invariants:
 *   - Only this process gets through: the directory is made by mkdtemp
 *     (mode 0700, pulsed's user only) and an accepted peer whose
 *     SO_PEERCRED pid is not ours is closed at once.
 *   - Bounded: each direction holds at most BRIDGE_HIGH bytes here; past
 *     that the side it comes from is not read until the other side's
 *     output drained below BRIDGE_LOW (a bufferevent write watermark), so
 *     the kernel's socket buffers push back on the sender.
 *   - A failure on the Redis side (the TCP connect, the handshake, the
 *     certificate check, an alert later) is kept as text (tls_failure)
 *     before the hiredis side is closed: store.c, which sees that close,
 *     names the real reason to the log, clients, /readyz and STATUS=.
 *   - Verification is on unless redis.tls.insecure_skip_verify, which is
 *     warned at start and at the first connection of every attempt.
 *   - tls_free closes every bridge and the listener and removes the
 *     socket and its directory.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "util.h"
#include "tls.h"

#define BRIDGE_HIGH (256 * 1024)
#define BRIDGE_LOW (64 * 1024)
#define SUN_PATH_MAX sizeof(((struct sockaddr_un *)0)->sun_path)

struct bridge {
	struct tls *t;
	struct bufferevent *local;  /* the socket hiredis connected to */
	struct bufferevent *remote; /* TLS to Redis; NULL once closed */
	unsigned gen;               /* t->gen when accepted */
	int open;                   /* the handshake finished */
	int answered;               /* Redis sent something after it */
	struct bridge *next, **pprev;
};

struct tls {
	const config *cf;
	const logger *lg;
	struct event_base *base;
	SSL_CTX *ctx;
	struct evconnlistener *lev;
	char dir[SUN_PATH_MAX];
	char path[SUN_PATH_MAX + 16]; /* make_dir keeps it within sun_path */
	const char *name; /* the name checked and sent (SNI): server_name or host */
	int name_is_ip;
	struct sockaddr_storage addr; /* Redis, resolved by tls_begin */
	socklen_t addrlen;
	unsigned gen;   /* bumped by tls_begin */
	int warned;     /* insecure: warned for this attempt */
	char failure[256];
	struct bridge *bridges;
};

/* ---- the OpenSSL context ------------------------------------------------ */

/* The reason of OpenSSL's oldest queued error ("no such file", "key values
 * mismatch"), the queue emptied. */
static const char *ssl_reason(char *buf, size_t len)
{
	unsigned long e = ERR_get_error(), more;
	while ((more = ERR_get_error()))
		; /* the first is the cause; the rest say where it surfaced */
	const char *r = e ? ERR_reason_error_string(e) : NULL;
	if (r)
		snprintf(buf, len, "%s", r);
	else if (e)
		ERR_error_string_n(e, buf, len);
	else
		snprintf(buf, len, "unknown OpenSSL error");
	return buf;
}

/* An SSL_CTX for c: what tls_check_config tries and tls_begin uses. */
static SSL_CTX *make_ctx(const config *c, char *err, size_t errlen)
{
	char r[160];
	ERR_clear_error();
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		snprintf(err, errlen, "TLS: cannot create a context: %s",
		         ssl_reason(r, sizeof(r)));
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (c->tls_ca_file || c->tls_ca_dir) {
		if (SSL_CTX_load_verify_locations(ctx, c->tls_ca_file,
		                                  c->tls_ca_dir) != 1) {
			snprintf(err, errlen, "redis.tls.%s: cannot load %s: %s",
			         c->tls_ca_file ? "ca_file" : "ca_dir",
			         c->tls_ca_file ? c->tls_ca_file : c->tls_ca_dir,
			         ssl_reason(r, sizeof(r)));
			goto fail;
		}
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		snprintf(err, errlen, "TLS: cannot load the system's trust store: %s",
		         ssl_reason(r, sizeof(r)));
		goto fail;
	}
	if (c->tls_cert_file) {
		if (SSL_CTX_use_certificate_chain_file(ctx, c->tls_cert_file) != 1) {
			snprintf(err, errlen, "redis.tls.cert_file: cannot load %s: %s",
			         c->tls_cert_file, ssl_reason(r, sizeof(r)));
			goto fail;
		}
		if (SSL_CTX_use_PrivateKey_file(ctx, c->tls_key_file,
		                                SSL_FILETYPE_PEM) != 1) {
			unsigned long e = ERR_peek_error();
			if (ERR_GET_LIB(e) == ERR_LIB_X509 &&
			    ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH)
				snprintf(err, errlen, "redis.tls.key_file: %s does not "
				         "belong to the certificate %s", c->tls_key_file,
				         c->tls_cert_file);
			else
				snprintf(err, errlen, "redis.tls.key_file: cannot load "
				         "%s: %s", c->tls_key_file, ssl_reason(r, sizeof(r)));
			ERR_clear_error();
			goto fail;
		}
		if (SSL_CTX_check_private_key(ctx) != 1) {
			snprintf(err, errlen, "redis.tls.key_file: %s does not belong "
			         "to the certificate %s: %s", c->tls_key_file,
			         c->tls_cert_file, ssl_reason(r, sizeof(r)));
			goto fail;
		}
	}
	SSL_CTX_set_verify(ctx, c->tls_insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER,
	                   NULL);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

int tls_check_config(const config *c, char *err, size_t errlen)
{
	if (!c->redis_tls)
		return 0;
	SSL_CTX *ctx = make_ctx(c, err, errlen);
	if (!ctx)
		return -1;
	SSL_CTX_free(ctx);
	return 0;
}

/* ---- bridges ------------------------------------------------------------ */

static void bridge_free(struct bridge *b)
{
	if (b->local)
		bufferevent_free(b->local);
	if (b->remote)
		bufferevent_free(b->remote);
	*b->pprev = b->next;
	if (b->next)
		b->next->pprev = b->pprev;
	free(b);
}

/* Keep why a connection of this attempt failed; the first one counts
 * (the later ones are the same failure, or its consequences). */
static void set_failure(struct bridge *b, const char *why)
{
	struct tls *t = b->t;
	if (b->gen != t->gen || t->failure[0])
		return;
	snprintf(t->failure, sizeof(t->failure), "%s", why);
	LOGD(t->lg, "redis: TLS: %s", why);
}

/* Why the Redis side ended, from OpenSSL's errors and the certificate
 * check ("certificate verify failed: certificate has expired"), else
 * the socket's error; NULL for a close after the handshake (Redis closes
 * without a TLS close_notify, so an unexpected EOF is its plain close). */
static const char *remote_why(struct bridge *b, short what, char *buf,
                              size_t len)
{
	int serr = EVUTIL_SOCKET_ERROR();
	unsigned long e, first = 0;
	/* libevent queues SSL_get_error()'s code (no library part) before
	 * OpenSSL's own errors: the first of those is the cause */
	while ((e = bufferevent_get_openssl_error(b->remote)))
		if (!first && ERR_GET_LIB(e) != 0)
			first = e;
	const char *stage = b->open ? "TLS error" : "TLS handshake failed";
	if (first && ERR_GET_LIB(first) == ERR_LIB_SSL &&
	    ERR_GET_REASON(first) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
		first = 0; /* an EOF: said below */
	if (first) {
		char r[160];
		const char *rs = ERR_reason_error_string(first);
		if (!rs) {
			ERR_error_string_n(first, r, sizeof(r));
			rs = r;
		}
		SSL *ssl = bufferevent_openssl_get_ssl(b->remote);
		long v = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
		if (v != X509_V_OK)
			snprintf(buf, len, "%s: %s: %s", stage, rs,
			         X509_verify_cert_error_string(v));
		else
			snprintf(buf, len, "%s: %s", stage, rs);
		return buf;
	}
	/* TLS 1.3: a server that refuses the client's certificate (or its
	 * absence) says so after the client's handshake is done, and its alert
	 * is often lost to the reset of a connection we wrote to */
	const char *hint = b->open && !b->answered
		? " right after the handshake, before any reply (does Redis want a "
		  "client certificate? redis.tls.cert_file)" : "";
	if ((what & BEV_EVENT_ERROR) && serr && serr != EAGAIN) {
		snprintf(buf, len, "%s%s%s", b->open ? "TLS connection: " : "",
		         evutil_socket_error_to_string(serr), hint);
		return buf;
	}
	if (*hint) {
		snprintf(buf, len, "TLS: Redis closed the connection%s", hint);
		return buf;
	}
	if (!b->open) {
		snprintf(buf, len, "TLS handshake failed: Redis closed the "
		         "connection (is this its TLS port? does it want a client "
		         "certificate?)");
		return buf;
	}
	return NULL;
}

static void bridge_event(struct bufferevent *bev, short what, void *arg);

static void local_flushed(struct bufferevent *bev, void *arg)
{
	(void)bev;
	bridge_free(arg);
}

/* The Redis side is gone: what it sent last still goes to hiredis (an
 * error reply before a close), then the bridge ends. */
static void close_remote(struct bridge *b)
{
	struct evbuffer *in = bufferevent_get_input(b->remote);
	struct evbuffer *out = bufferevent_get_output(b->local);
	evbuffer_add_buffer(out, in);
	bufferevent_free(b->remote);
	b->remote = NULL;
	if (evbuffer_get_length(out) == 0) {
		bridge_free(b);
		return;
	}
	bufferevent_disable(b->local, EV_READ);
	bufferevent_setwatermark(b->local, EV_WRITE, 0, 0);
	bufferevent_setcb(b->local, NULL, local_flushed, bridge_event, b);
}

static void pass_read(struct bufferevent *bev, void *arg);

/* The side that was full drained below BRIDGE_LOW: read its partner
 * again. */
static void drained(struct bufferevent *bev, void *arg)
{
	struct bridge *b = arg;
	struct bufferevent *from = bev == b->local ? b->remote : b->local;
	bufferevent_setcb(bev, pass_read, NULL, bridge_event, b);
	bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
	if (from)
		bufferevent_enable(from, EV_READ);
}

/* Bytes in on one side go out on the other; past BRIDGE_HIGH queued
 * there, this side stops reading until that output drains. */
static void pass_read(struct bufferevent *bev, void *arg)
{
	struct bridge *b = arg;
	struct bufferevent *to = bev == b->local ? b->remote : b->local;
	if (!to)
		return;
	if (bev == b->remote)
		b->answered = 1;
	struct evbuffer *out = bufferevent_get_output(to);
	evbuffer_add_buffer(out, bufferevent_get_input(bev));
	if (evbuffer_get_length(out) >= BRIDGE_HIGH) {
		bufferevent_disable(bev, EV_READ);
		bufferevent_setcb(to, pass_read, drained, bridge_event, b);
		bufferevent_setwatermark(to, EV_WRITE, BRIDGE_LOW, 0);
	}
}

static void bridge_event(struct bufferevent *bev, short what, void *arg)
{
	struct bridge *b = arg;
	struct tls *t = b->t;
	char why[256];
	if (bev == b->local) {
		/* hiredis closed (or the store dropped it): nothing to deliver */
		if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
			bridge_free(b);
		return;
	}
	if (what & BEV_EVENT_CONNECTED) {
		b->open = 1;
		SSL *ssl = bufferevent_openssl_get_ssl(b->remote);
		if (t->cf->tls_insecure && b->gen == t->gen && !t->warned) {
			t->warned = 1;
			LOGW(t->lg, "redis: TLS certificate verification is OFF "
			     "(redis.tls.insecure_skip_verify): connected to %s:%d "
			     "without checking who answers; for tests only",
			     t->cf->redis_host, t->cf->redis_port);
		}
		LOGD(t->lg, "redis: TLS: connected to %s:%d (%s, %s)",
		     t->cf->redis_host, t->cf->redis_port, SSL_get_version(ssl),
		     SSL_get_cipher_name(ssl));
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		const char *w = remote_why(b, what, why, sizeof(why));
		if (w)
			set_failure(b, w);
		close_remote(b);
	}
}

/* hiredis connected: check that it is this process, then start the TLS
 * connection to Redis for it. */
static void on_accept(struct evconnlistener *lev, evutil_socket_t fd,
                      struct sockaddr *sa, int salen, void *arg)
{
	(void)lev;
	(void)sa;
	(void)salen;
	struct tls *t = arg;
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 ||
	    cred.pid != getpid()) {
		LOGW(t->lg, "redis: TLS: refused a connection to %s from pid %ld: "
		     "only pulsed itself may use it", t->path,
		     clen == sizeof(cred) ? (long)cred.pid : -1L);
		close(fd);
		return;
	}
	struct bridge *b = xcalloc(1, sizeof(*b));
	b->t = t;
	b->gen = t->gen;
	b->next = t->bridges;
	b->pprev = &t->bridges;
	if (t->bridges)
		t->bridges->pprev = &b->next;
	t->bridges = b;
	b->local = bufferevent_socket_new(t->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!b->local) {
		close(fd);
		bridge_free(b);
		return;
	}
	SSL *ssl = t->ctx ? SSL_new(t->ctx) : NULL;
	if (!ssl || !t->addrlen) {
		if (ssl)
			SSL_free(ssl);
		set_failure(b, "TLS: not set up");
		bridge_free(b);
		return;
	}
	if (!t->name_is_ip)
		SSL_set_tlsext_host_name(ssl, t->name); /* SNI: names only */
	if (!t->cf->tls_insecure) {
		X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
		if (t->name_is_ip)
			X509_VERIFY_PARAM_set1_ip_asc(vp, t->name);
		else {
			X509_VERIFY_PARAM_set_hostflags(
				vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
			SSL_set1_host(ssl, t->name);
		}
	}
	b->remote = bufferevent_openssl_socket_new(
		t->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (!b->remote) {
		SSL_free(ssl);
		set_failure(b, "TLS: out of memory");
		bridge_free(b);
		return;
	}
	bufferevent_setcb(b->local, pass_read, NULL, bridge_event, b);
	bufferevent_setcb(b->remote, pass_read, NULL, bridge_event, b);
	if (bufferevent_socket_connect(b->remote, (struct sockaddr *)&t->addr,
	                               (int)t->addrlen) < 0) {
		char why[256];
		snprintf(why, sizeof(why), "%s",
		         evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		set_failure(b, why);
		bridge_free(b);
		return;
	}
	int one = 1;
	evutil_socket_t rfd = bufferevent_getfd(b->remote);
	if (rfd >= 0)
		setsockopt(rfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	bufferevent_enable(b->local, EV_READ | EV_WRITE);
	bufferevent_enable(b->remote, EV_READ | EV_WRITE);
}

/* ---- life --------------------------------------------------------------- */

/* A private directory for the socket: next to pulsed's own socket (its
 * runtime directory: /run/pulsed under systemd) when the path fits, else
 * under $TMPDIR or /tmp. mkdtemp makes it 0700. */
static int make_dir(struct tls *t, char *err, size_t errlen)
{
	static const char tail[] = "/pulsed-tls.XXXXXX";
	static const char sock[] = "/redis.sock";
	const char *tmp = getenv("TMPDIR");
	char own[SUN_PATH_MAX] = "";
	const char *sp = t->cf->socket_path;
	const char *slash = sp ? strrchr(sp, '/') : NULL;
	if (slash && (size_t)(slash - sp) < sizeof(own))
		snprintf(own, sizeof(own), "%.*s", (int)(slash - sp), sp);
	const char *bases[] = {slash == sp ? "/" : own, tmp, "/tmp"};
	for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
		const char *base = bases[i];
		if (!base || !*base || base[0] != '/' ||
		    strlen(base) + sizeof(tail) + sizeof(sock) > SUN_PATH_MAX)
			continue;
		snprintf(t->dir, sizeof(t->dir), "%s%s", strcmp(base, "/") ? base : "",
		         tail);
		if (mkdtemp(t->dir)) {
			snprintf(t->path, sizeof(t->path), "%s%s", t->dir, sock);
			return 0;
		}
	}
	snprintf(err, errlen, "TLS: cannot make a private directory for the "
	         "bridge's socket (next to %s, in $TMPDIR or /tmp): %s",
	         sp ? sp : "the socket", strerror(errno));
	t->dir[0] = '\0';
	return -1;
}

struct tls *tls_new(const config *c, const logger *lg,
                    struct event_base *base, char *err, size_t errlen)
{
	struct tls *t = xcalloc(1, sizeof(*t));
	t->cf = c;
	t->lg = lg;
	t->base = base;
	t->name = c->tls_server_name ? c->tls_server_name : c->redis_host;
	struct in6_addr ip;
	t->name_is_ip = inet_pton(AF_INET, t->name, &ip) == 1 ||
	                inet_pton(AF_INET6, t->name, &ip) == 1;
	if (make_dir(t, err, errlen) < 0) {
		free(t);
		return NULL;
	}
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	memcpy(sun.sun_path, t->path, strlen(t->path) + 1); /* fits: make_dir */
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    listen(fd, 16) < 0) {
		snprintf(err, errlen, "TLS: cannot listen on %s: %s", t->path,
		         strerror(errno));
		if (fd >= 0)
			close(fd);
		tls_free(t);
		return NULL;
	}
	t->lev = evconnlistener_new(base, on_accept, t,
	                            LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
	                            -1, fd);
	if (!t->lev) {
		close(fd);
		snprintf(err, errlen, "TLS: cannot listen on %s", t->path);
		tls_free(t);
		return NULL;
	}
	if (c->tls_insecure)
		LOGW(lg, "redis: TLS certificate verification is OFF "
		     "(redis.tls.insecure_skip_verify): anyone between pulsed and "
		     "%s:%d can read and change its traffic; for tests only",
		     c->redis_host, c->redis_port);
	LOGD(lg, "redis: TLS to %s:%d through %s (name checked: %s)",
	     c->redis_host, c->redis_port, t->path,
	     c->tls_insecure ? "none" : t->name);
	return t;
}

void tls_free(struct tls *t)
{
	if (!t)
		return;
	while (t->bridges)
		bridge_free(t->bridges);
	if (t->lev)
		evconnlistener_free(t->lev);
	if (t->path[0])
		unlink(t->path);
	if (t->dir[0])
		rmdir(t->dir);
	if (t->ctx)
		SSL_CTX_free(t->ctx);
	free(t);
}

int tls_begin(struct tls *t, char *err, size_t errlen)
{
	t->gen++;
	t->warned = 0;
	t->failure[0] = '\0';
	SSL_CTX *ctx = make_ctx(t->cf, err, errlen);
	if (!ctx)
		return -1;
	if (t->ctx)
		SSL_CTX_free(t->ctx); /* bridges' SSL objects hold references */
	t->ctx = ctx;
	/* the host as hiredis would resolve it (blocking, as hiredis does) */
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
	char port[16];
	snprintf(port, sizeof(port), "%d", t->cf->redis_port);
	int rc = getaddrinfo(t->cf->redis_host, port, &hints, &ai);
	if (rc != 0 || !ai) {
		snprintf(err, errlen, "cannot resolve %s: %s", t->cf->redis_host,
		         rc ? gai_strerror(rc) : "no address");
		if (ai)
			freeaddrinfo(ai);
		t->addrlen = 0;
		return -1;
	}
	memcpy(&t->addr, ai->ai_addr, ai->ai_addrlen);
	t->addrlen = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

const char *tls_socket(const struct tls *t)
{
	return t->path;
}

const char *tls_failure(const struct tls *t)
{
	return t->failure[0] ? t->failure : NULL;
}
