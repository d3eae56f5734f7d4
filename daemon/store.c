/*
 * store.c: the Redis connections and scripts (see store.h).
 *
 * Connection life: store_connect() opens cmd, sub and blk; each is
 * authenticated and switched to the configured db by pipelined commands
 * queued before the connection completes. When cmd has loaded every
 * script, the store is up and pools_redis_up() runs. When any connection
 * drops, all three are freed (their pending callbacks see NULL),
 * pools_redis_down() runs and a reconnect is scheduled with backoff.
 *
 * A connection that neither answers nor closes (a network that drops
 * packets without a reset, a proxy that hangs) is treated as lost: when
 * the oldest call on cmd has waited redis.reply_timeout without any reply
 * coming, or a connection has not finished its set-up in that time, all
 * three are dropped and made again. Without this, a node waiting on such
 * a connection (for its join, say) would wait forever.
 *
 * rediss://: hiredis 0.14 has no TLS, so each connection goes to tls.c's
 * private Unix socket, which bridges it to Redis over TLS; a failure
 * there (the handshake, the certificate) is named as the reason the
 * connection closed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>
#include <hiredis/async.h>

#include "pulsed.h"
#include "redisev.h"
#include "scripts.h"
#include "store.h"
#include "tls.h"

static const char *const script_names[S__COUNT] = {
	[S_ADMIT] = "admit",     [S_CLOCKS] = "clocks",
	[S_ATTACH] = "attach",   [S_CLAIM] = "claim",
	[S_DETACH] = "detach",   [S_JOIN] = "join",       [S_KEYS] = "keys",
	[S_LEASE] = "lease",     [S_LEAVE] = "leave",
	[S_MEMBERS] = "members", [S_ORPHANS] = "orphans",
	[S_RELEASE] = "release", [S_STRAYS] = "strays",
	[S_TICK] = "tick",       [S_SHUTDOWN] = "shutdown",
	[S_REMOVE] = "remove",   [S_ROUTE] = "route",
	[S_STARTED] = "started",   [S_WORKERS] = "workers",
};

enum { C_CMD, C_SUB, C_BLK, C__N };

/* The last line of one kind of failure that was logged, for repeated(). */
struct repeat {
	char text[256];
	uint64_t ms;
	unsigned long quiet; /* the same failure since, not logged */
};

struct store {
	struct pulsed *d;
	redisAsyncContext *c[C__N];
	int up;
	int blk_busy;
	unsigned backoff_ms;
	struct event *retry;
	unsigned long reconnects;
	int ever_up;
	char *src[S__COUNT]; /* common.lua + script */
	size_t srclen[S__COUNT];
	char sha[S__COUNT][41];
	int loaded;
	long long blk_id; /* CLIENT ID of blk, for CLIENT UNBLOCK */
	/* the watchdog of cmd (see the file comment) */
	struct event *watch;
	unsigned gen;         /* bumped by store_connect: older calls are not counted */
	unsigned pending;     /* calls of this generation on cmd not answered */
	uint64_t progress_ms; /* last reply on cmd, or first call sent after none */
	uint64_t connect_ms;  /* when store_connect() began */
	/* why Redis cannot be used now, for clients, /readyz and STATUS= */
	char why[256];
	char unreachable[300]; /* store_unreachable()'s text */
	/* the last "cannot connect" warning: said again only when the reason
	 * changes or a minute passed */
	struct repeat down;               /* connect and login failures */
	struct repeat refusals[S__COUNT]; /* each script's error replies */
	struct tls *tls; /* rediss://: the bridge, made at the first connect */
};

/* A call in flight: kept whole so that a NOSCRIPT answer can be re-sent
 * as EVAL with the same arguments. */
struct call {
	struct store *s;
	store_cb *cb;
	void *arg;
	int script; /* -1 for plain commands */
	unsigned gen; /* counted in s->pending when s->gen (cmd only), else 0 */
	int argc;
	char **argv;
	size_t *lens;
};

static void schedule_reconnect(struct store *s);

static const struct script_src *find_src(const char *name)
{
	for (size_t i = 0; i < script_nsrcs; i++)
		if (strcmp(script_srcs[i].name, name) == 0)
			return &script_srcs[i];
	return NULL;
}

struct store *store_new(struct pulsed *d)
{
	struct store *s = xcalloc(1, sizeof(*s));
	s->d = d;
	s->backoff_ms = 100;
	const struct script_src *common = find_src("common");
	for (int i = 0; i < S__COUNT; i++) {
		const struct script_src *src = find_src(script_names[i]);
		if (!src || !common) {
			LOGE(&d->log, "script %s is not built in", script_names[i]);
			abort(); /* a build defect, not a run-time condition */
		}
		s->srclen[i] = common->len + 1 + src->len;
		s->src[i] = xmalloc(s->srclen[i] + 1);
		memcpy(s->src[i], common->src, common->len);
		s->src[i][common->len] = '\n';
		memcpy(s->src[i] + common->len + 1, src->src, src->len + 1);
	}
	return s;
}

static void drop_all(struct store *s)
{
	for (int i = 0; i < C__N; i++) {
		redisAsyncContext *c = s->c[i];
		if (c) {
			s->c[i] = NULL;
			c->data = NULL;
			redisAsyncFree(c);
		}
	}
}

void store_free(struct store *s)
{
	if (!s)
		return;
	drop_all(s);
	tls_free(s->tls);
	if (s->retry)
		event_free(s->retry);
	if (s->watch)
		event_free(s->watch);
	for (int i = 0; i < S__COUNT; i++)
		free(s->src[i]);
	free(s);
}

int store_up(const struct store *s)
{
	return s->up;
}

const char *store_down_reason(const struct store *s)
{
	return !s->up && s->why[0] ? s->why : NULL;
}

const char *store_failure(struct store *s, const redisReply *r)
{
	if (r && r->type == REDIS_REPLY_ERROR) {
		snprintf(s->unreachable, sizeof(s->unreachable), "Redis refused the "
		         "command: %s", r->str);
		return s->unreachable;
	}
	return store_unreachable(s);
}

const char *store_unreachable(struct store *s)
{
	if (s->up || !s->why[0])
		return "Redis is unreachable";
	snprintf(s->unreachable, sizeof(s->unreachable), "Redis is unreachable: %s",
	         s->why);
	return s->unreachable;
}

unsigned long store_reconnects(const struct store *s)
{
	return s->reconnects;
}

#define DOWN_LOG_EVERY_MS 60000

/* "<where>: <error>": a connect error with the address it was for. */
static void at_target(const struct store *s, const char *err, char *out,
                      size_t len)
{
	const config *cf = &s->d->cfg;
	if (cf->redis_unix)
		snprintf(out, len, "%s: %s", cf->redis_unix, err);
	else
		snprintf(out, len, "%s:%u: %s",
		         cf->redis_host ? cf->redis_host : "127.0.0.1",
		         cf->redis_port ? (unsigned)cf->redis_port : 6379u, err);
}

/* Whether a failure (text) repeats the one r last logged less than a
 * minute ago: then it is only counted. Otherwise it is r's new last line,
 * and more gets the count of those not logged since ("" when none). One
 * rule for every failure that can recur at each retry or lease tick: the
 * first is seen at once, a long outage does not flood the log. */
static int repeated(struct repeat *r, const char *text, char *more, size_t len)
{
	uint64_t now = now_ms();
	if (strcmp(r->text, text) == 0 && now - r->ms < DOWN_LOG_EVERY_MS) {
		r->quiet++;
		return 1;
	}
	more[0] = '\0';
	if (r->quiet)
		snprintf(more, len, "; %lu times since the last line", r->quiet);
	snprintf(r->text, sizeof(r->text), "%s", text);
	r->ms = now;
	r->quiet = 0;
	return 0;
}

/* A failed attempt to connect (or to log in). */
static void note_failure(struct store *s, int level, const char *what,
                         const char *why)
{
	char more[64];
	if (!repeated(&s->down, why, more, sizeof(more)))
		plog(&s->d->log, level, "redis: %s: %s (retrying%s)", what, why, more);
}

/* Any connection lost means all are: the inbox reader and the subscriber
 * must not outlive the command connection they pair with. */
static void went_down(struct store *s, const char *why)
{
	int was_up = s->up;
	s->up = 0;
	s->blk_busy = 0;
	snprintf(s->why, sizeof(s->why), "%s", why);
	drop_all(s);
	if (was_up)
		LOGW(&s->d->log, "redis: connection lost: %s", why);
	s->d->storeh.down(s->d, was_up);
	schedule_reconnect(s);
}

static void on_disconnect(const redisAsyncContext *c, int status)
{
	struct store *s = c->data;
	if (!s)
		return; /* freed by us */
	for (int i = 0; i < C__N; i++)
		if (s->c[i] == c)
			s->c[i] = NULL; /* hiredis frees it */
	const char *tls_why = s->tls ? tls_failure(s->tls) : NULL;
	if (tls_why) {
		/* the bridge closed it: a TLS failure is a failure to connect */
		char why[300];
		at_target(s, tls_why, why, sizeof(why));
		note_failure(s, LOG_WARN, "cannot connect", why);
		went_down(s, why);
		return;
	}
	went_down(s, status == REDIS_OK ? "closed" : (c->errstr[0] ? c->errstr : "error"));
}

static void on_connect(const redisAsyncContext *c, int status)
{
	struct store *s = c->data;
	if (!s || status == REDIS_OK)
		return;
	for (int i = 0; i < C__N; i++)
		if (s->c[i] == c)
			s->c[i] = NULL; /* hiredis frees it after this */
	char why[300];
	at_target(s, c->errstr, why, sizeof(why));
	note_failure(s, LOG_WARN, "cannot connect", why);
	went_down(s, why);
}

static void free_call(struct call *k)
{
	for (int i = 0; i < k->argc; i++)
		free(k->argv[i]);
	free(k->argv);
	free(k->lens);
	free(k);
}

static void call_done(redisAsyncContext *c, void *r, void *priv);
static void refused(struct store *s, const struct call *k, const char *err);

static int send_call(redisAsyncContext *c, struct call *k)
{
	return redisAsyncCommandArgv(c, call_done, k, k->argc,
	                             (const char **)k->argv, k->lens);
}

static void call_done(redisAsyncContext *c, void *r, void *priv)
{
	struct call *k = priv;
	redisReply *reply = r;
	struct store *s = k->s;
	if (k->gen && k->gen == s->gen) {
		s->pending--;
		s->progress_ms = now_ms();
		k->gen = 0;
	}
	if (reply && reply->type == REDIS_REPLY_ERROR && k->script >= 0 &&
	    strncmp(reply->str, "NOSCRIPT", 8) == 0 && c->data) {
		/* Redis lost the script (restarted): send the source. */
		free(k->argv[0]);
		free(k->argv[1]);
		k->argv[0] = xstrdup("EVAL");
		k->argv[1] = xmemdup(s->src[k->script], s->srclen[k->script]);
		k->lens[0] = 4;
		k->lens[1] = s->srclen[k->script];
		if (send_call(c, k) == REDIS_OK)
			return;
		reply = NULL;
	}
	if (reply && reply->type == REDIS_REPLY_ERROR)
		refused(s, k, reply->str);
	if (k->argv[0] && k->script < 0 && c == s->c[C_BLK])
		s->blk_busy = 0;
	if (k->cb)
		k->cb(s->d, reply, k->arg);
	free_call(k);
}

/* Redis refused a call (an error reply: NOPERM, OOM, a script error):
 * warned, but one script's same error at most once a minute (a lease
 * refused every tick would flood the log), with the count in between. */
static void refused(struct store *s, const struct call *k, const char *err)
{
	char more[64] = "";
	if (k->script < 0)
		LOGW(&s->d->log, "redis: %s refused: %s", k->argv[0], err);
	else if (!repeated(&s->refusals[k->script], err, more, sizeof(more)))
		LOGW(&s->d->log, "redis: script %s refused: %s%s",
		     script_names[k->script], err, more);
}

static struct call *new_call(struct store *s, int script, int argc,
                             const char **argv, const size_t *lens,
                             int extra, store_cb *cb, void *arg)
{
	struct call *k = xcalloc(1, sizeof(*k));
	k->s = s;
	k->cb = cb;
	k->arg = arg;
	k->script = script;
	k->argc = argc + extra;
	k->argv = xcalloc((size_t)k->argc, sizeof(char *));
	k->lens = xcalloc((size_t)k->argc, sizeof(size_t));
	for (int i = 0; i < argc; i++) {
		size_t n = lens ? lens[i] : strlen(argv[i]);
		k->argv[extra + i] = xmemdup(argv[i], n);
		k->lens[extra + i] = n;
	}
	return k;
}

static void set_arg(struct call *k, int i, const char *v)
{
	k->argv[i] = xstrdup(v);
	k->lens[i] = strlen(v);
}

static void run_call(struct store *s, int conn, struct call *k)
{
	if (!s->up || !s->c[conn] || send_call(s->c[conn], k) != REDIS_OK) {
		if (k->cb)
			k->cb(s->d, NULL, k->arg);
		free_call(k);
		return;
	}
	if (conn == C_CMD) {
		if (s->pending++ == 0)
			s->progress_ms = now_ms();
		k->gen = s->gen;
	}
}

void store_script(struct store *s, int id, const char *base, int argc,
                  const char **argv, const size_t *lens, store_cb *cb,
                  void *arg)
{
	struct call *k = new_call(s, id, argc, argv, lens, 4, cb, arg);
	set_arg(k, 0, "EVALSHA");
	set_arg(k, 1, s->sha[id]);
	set_arg(k, 2, "1");
	set_arg(k, 3, base);
	run_call(s, C_CMD, k);
}

void store_cmd(struct store *s, int argc, const char **argv,
               const size_t *lens, store_cb *cb, void *arg)
{
	run_call(s, C_CMD, new_call(s, -1, argc, argv, lens, 0, cb, arg));
}

int store_block(struct store *s, int argc, const char **argv,
                const size_t *lens, store_cb *cb, void *arg)
{
	if (s->blk_busy)
		return -1;
	s->blk_busy = 1;
	run_call(s, C_BLK, new_call(s, -1, argc, argv, lens, 0, cb, arg));
	return 0;
}

static void on_message(redisAsyncContext *c, void *r, void *priv)
{
	(void)priv;
	struct store *s = c->data;
	redisReply *reply = r;
	if (!s || !reply || reply->type != REDIS_REPLY_ARRAY ||
	    reply->elements != 3 || reply->element[0]->type != REDIS_REPLY_STRING ||
	    strcmp(reply->element[0]->str, "message") != 0 ||
	    reply->element[1]->type != REDIS_REPLY_STRING ||
	    reply->element[2]->type != REDIS_REPLY_STRING)
		return;
	s->d->storeh.message(s->d, reply->element[1]->str, reply->element[1]->len,
	                     reply->element[2]->str, reply->element[2]->len);
}

void store_subscribe(struct store *s, const char *channel)
{
	if (!s->up || !s->c[C_SUB])
		return;
	const char *argv[2] = {"SUBSCRIBE", channel};
	redisAsyncCommandArgv(s->c[C_SUB], on_message, NULL, 2, argv, NULL);
}

static void ignore(redisAsyncContext *c, void *r, void *priv)
{
	(void)c;
	(void)r;
	(void)priv;
}

static void got_blk_id(redisAsyncContext *c, void *r, void *priv)
{
	struct store *s = c->data;
	redisReply *reply = r;
	(void)priv;
	if (s && reply && reply->type == REDIS_REPLY_INTEGER)
		s->blk_id = reply->integer;
}

int store_block_busy(const struct store *s)
{
	return s->blk_busy;
}

void store_unblock(struct store *s)
{
	if (!s->up || !s->blk_busy || !s->blk_id || !s->c[C_CMD])
		return;
	redisAsyncCommand(s->c[C_CMD], ignore, NULL, "CLIENT UNBLOCK %lld",
	                  s->blk_id);
}

/* AUTH failing or SELECT failing is fatal for this attempt. */
static void setup_reply(redisAsyncContext *c, void *r, void *priv)
{
	redisReply *reply = r;
	struct store *s = c->data;
	(void)priv;
	if (s && reply && reply->type == REDIS_REPLY_ERROR) {
		char why[256];
		snprintf(why, sizeof(why), "Redis refused pulsed's login (AUTH or "
		         "SELECT): %s", reply->str);
		note_failure(s, LOG_ERROR, "setup failed", why);
		went_down(s, why);
	}
}

static void loaded(redisAsyncContext *c, void *r, void *priv)
{
	struct store *s = c->data;
	redisReply *reply = r;
	int id = (int)(intptr_t)priv;
	if (!s || !reply)
		return;
	if (reply->type != REDIS_REPLY_STRING || reply->len != 40) {
		char why[256];
		snprintf(why, sizeof(why), "loading script %s failed: %s",
		         script_names[id],
		         reply->type == REDIS_REPLY_ERROR ? reply->str : "bad reply");
		note_failure(s, LOG_ERROR, "setup failed", why);
		went_down(s, why);
		return;
	}
	memcpy(s->sha[id], reply->str, 40);
	s->sha[id][40] = '\0';
	if (++s->loaded < S__COUNT)
		return;
	s->up = 1;
	s->backoff_ms = 100;
	if (s->ever_up)
		s->reconnects++;
	s->ever_up = 1;
	s->why[0] = s->down.text[0] = '\0';
	s->down.quiet = 0;
	LOGI(&s->d->log, "redis: connected");
	s->d->storeh.up(s->d);
}

/* One connection, or NULL with why (hiredis failed at once: a Unix
 * socket that is not there, no memory). */
static redisAsyncContext *open_one(struct store *s, char *why, size_t len)
{
	const config *cf = &s->d->cfg;
	redisAsyncContext *c = s->tls ? redisAsyncConnectUnix(tls_socket(s->tls))
		: cf->redis_unix
		? redisAsyncConnectUnix(cf->redis_unix)
		: redisAsyncConnect(cf->redis_host ? cf->redis_host : "127.0.0.1",
		                    cf->redis_port ? cf->redis_port : 6379);
	if (!c) {
		snprintf(why, len, "out of memory");
		return NULL;
	}
	if (c->err) {
		at_target(s, c->errstr, why, len);
		redisAsyncFree(c);
		return NULL;
	}
	c->data = s;
	redisev_attach(c, s->d->base);
	redisAsyncSetConnectCallback(c, on_connect);
	redisAsyncSetDisconnectCallback(c, on_disconnect);
	if (cf->redis_password) {
		const char *argv[3] = {"AUTH", cf->redis_user, cf->redis_password};
		if (cf->redis_user)
			redisAsyncCommandArgv(c, setup_reply, NULL, 3, argv, NULL);
		else {
			argv[1] = cf->redis_password;
			redisAsyncCommandArgv(c, setup_reply, NULL, 2, argv, NULL);
		}
	}
	if (cf->redis_db)
		redisAsyncCommand(c, setup_reply, NULL, "SELECT %d", cf->redis_db);
	return c;
}

/* rediss://: the bridge (made once), set up again for this attempt (its
 * files read again); a failure is a failed connect. */
static int open_tls(struct store *s)
{
	char err[300], why[300];
	if (!s->tls)
		s->tls = tls_new(&s->d->cfg, &s->d->log, s->d->base, err, sizeof(err));
	if (s->tls && tls_begin(s->tls, err, sizeof(err)) == 0)
		return 0;
	at_target(s, err, why, sizeof(why));
	note_failure(s, LOG_WARN, "cannot connect", why);
	went_down(s, why);
	return -1;
}

/* The watchdog: see the file comment. */
static void watch_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct store *s = arg;
	uint64_t limit = s->d->cfg.redis_reply_ms, now = now_ms();
	char why[96];
	if (!s->c[C_CMD] && !s->c[C_SUB] && !s->c[C_BLK])
		return;
	if (!s->up && now - s->connect_ms > limit)
		snprintf(why, sizeof(why), "not ready after %llu ms",
		         (unsigned long long)(now - s->connect_ms));
	else if (s->up && s->pending > 0 && now - s->progress_ms > limit)
		snprintf(why, sizeof(why), "no answer for %llu ms",
		         (unsigned long long)(now - s->progress_ms));
	else
		return;
	LOGW(&s->d->log, "redis: %s (redis.reply_timeout): reconnecting", why);
	/* the dropped calls answer NULL from inside drop_all; none of them
	 * counts any more */
	s->gen++;
	s->pending = 0;
	went_down(s, why);
}

void store_connect(struct store *s)
{
	if (s->c[C_CMD] || s->c[C_SUB] || s->c[C_BLK])
		return;
	s->loaded = 0;
	s->gen++;
	s->pending = 0;
	s->connect_ms = now_ms();
	if (!s->watch) {
		/* a quarter of the limit: overdue by at most a quarter more */
		uint64_t every = s->d->cfg.redis_reply_ms / 4;
		s->watch = event_new(s->d->base, -1, EV_PERSIST, watch_cb, s);
		if (!s->watch)
			fatal_oom("the Redis watchdog timer");
		timer_arm_ms(s->watch, every ? every : 1);
	}
	if (s->d->cfg.redis_tls && open_tls(s) < 0)
		return;
	for (int i = 0; i < C__N; i++) {
		char why[300];
		s->c[i] = open_one(s, why, sizeof(why));
		if (!s->c[i]) {
			note_failure(s, LOG_WARN, "cannot connect", why);
			went_down(s, why);
			return;
		}
	}
	redisAsyncCommand(s->c[C_SUB], ignore, NULL, "CLIENT SETNAME pulsed-sub");
	redisAsyncCommand(s->c[C_BLK], ignore, NULL, "CLIENT SETNAME pulsed-inbox");
	redisAsyncCommand(s->c[C_BLK], got_blk_id, NULL, "CLIENT ID");
	redisAsyncCommand(s->c[C_CMD], ignore, NULL, "CLIENT SETNAME pulsed");
	for (int i = 0; i < S__COUNT; i++) {
		const char *argv[3] = {"SCRIPT", "LOAD", s->src[i]};
		size_t lens[3] = {6, 4, s->srclen[i]};
		redisAsyncCommandArgv(s->c[C_CMD], loaded, (void *)(intptr_t)i, 3,
		                      argv, lens);
	}
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	store_connect(arg);
}

static void schedule_reconnect(struct store *s)
{
	if (s->d->stopping == STOP_DONE)
		return;
	if (!s->retry)
		s->retry = evtimer_new(s->d->base, retry_cb, s);
	if (evtimer_pending(s->retry, NULL))
		return;
	timer_arm_ms(s->retry, s->backoff_ms);
	s->backoff_ms = s->backoff_ms * 2 > 2000 ? 2000 : s->backoff_ms * 2;
}

void sargs_add(sargs *a, const char *p, size_t n)
{
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 16;
		a->v = xrealloc(a->v, (size_t)a->cap * sizeof(*a->v));
		a->l = xrealloc(a->l, (size_t)a->cap * sizeof(*a->l));
	}
	a->v[a->n] = p;
	a->l[a->n] = n;
	a->n++;
}

void sargs_str(sargs *a, const char *s)
{
	sargs_add(a, s, strlen(s));
}

void sargs_u64(sargs *a, uint64_t v)
{
	char *b = xmalloc(24);
	char **o = xrealloc(a->owned, (size_t)(a->nowned + 1) * sizeof(char *));
	a->owned = o;
	a->owned[a->nowned++] = b;
	int n = snprintf(b, 24, "%llu", (unsigned long long)v);
	sargs_add(a, b, (size_t)n);
}

void sargs_free(sargs *a)
{
	for (int i = 0; i < a->nowned; i++)
		free(a->owned[i]);
	free(a->owned);
	free(a->v);
	free(a->l);
	memset(a, 0, sizeof(*a));
}

/* ---- script answers ------------------------------------------------------ */

static const char *const reply_names[] = {
	[SR_OK] = "OK", [SR_LOST] = "LOST", [SR_STALE] = "STALE",
	[SR_WAIT] = "WAIT", [SR_REBUILD] = "REBUILD", [SR_OWNED] = "OWNED",
	[SR_LOCAL] = "LOCAL", [SR_ROUTED] = "ROUTED", [SR_DELETED] = "DELETED",
	[SR_JOB_NOT_FOUND] = "JOB_NOT_FOUND", [SR_JOB_EXISTS] = "JOB_EXISTS",
	[SR_POOL_FULL] = "POOL_FULL", [SR_SHUTDOWN] = "SHUTDOWN",
	[SR_TAKEN] = "TAKEN", [SR_HANDLER] = "HANDLER", [SR_STOPPED] = "STOPPED",
	[SR_WON] = "WON", [SR_TOO_LARGE] = "TOO_LARGE",
};

const char *store_reply_str(const redisReply *r)
{
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
	    r->element[0]->type != REDIS_REPLY_STRING)
		return NULL;
	return r->element[0]->str;
}

int store_reply(const redisReply *r)
{
	const char *h = store_reply_str(r);
	if (!h)
		return SR_NONE;
	for (size_t i = SR_OK; i < sizeof(reply_names) / sizeof(reply_names[0]); i++)
		if (strcmp(h, reply_names[i]) == 0)
			return (int)i;
	return SR_OTHER;
}
