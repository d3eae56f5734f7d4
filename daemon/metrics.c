/*
 * metrics.c: pulsed's metrics and health checks over HTTP.
 *
 * Owns: the evhttp listener on metrics.listen, the Prometheus text
 * exposition (format 0.0.4) of /metrics, /healthz and /readyz, and the
 * dispatch latency histogram's buckets. The counters themselves live in
 * struct metrics inside the daemon context; the files where things
 * happen bump them (dispatch.c and request.c dispatches, pool.c moves, lease failures and
 * self-fences, worker.c moves). Gauges are read from the context at each
 * scrape, never copied.
 *
 * Invariants:
 *   - Counters only increase for the life of the process; every family is
 *     always printed (with its HELP and TYPE lines), and every label value
 *     known in advance (dispatch results, move reasons, session roles) is
 *     printed even at 0, so that rate() works from the first scrape.
 *   - Serving a request never blocks the loop and never touches Redis: it
 *     reads memory only. Requests are GET or HEAD with small headers and
 *     no body; anything else gets evhttp's own error.
 *   - /healthz answers 200 while the loop runs; /readyz answers 200 only
 *     while Redis is reachable, pulsed is not stopping and every joined
 *     pool holds its lease (a pool shut down pool-wide does not count: it
 *     is final and not a fault of this node), else 503 with the reason.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "pulsed.h"
#include "store.h"

#define CONTENT_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define CONTENT_TEXT "text/plain; charset=utf-8"
#define HTTP_TIMEOUT_S 10
#define HTTP_MAX_HEADERS 8192

/* The histogram's upper bounds: in microseconds for counting, and as
 * printed in the le label. */
static const struct {
	uint64_t us;
	const char *le;
} buckets[METRICS_NBUCKETS] = {
	{500, "0.0005"},   {1000, "0.001"},    {2500, "0.0025"},
	{5000, "0.005"},   {10000, "0.01"},    {25000, "0.025"},
	{50000, "0.05"},   {100000, "0.1"},    {250000, "0.25"},
	{500000, "0.5"},   {1000000, "1"},     {2500000, "2.5"},
	{5000000, "5"},    {10000000, "10"},
};

static const char *const move_reasons[MOVED__COUNT] = {
	[MOVED_REBALANCE] = "rebalance",
	[MOVED_DETACH] = "detach",
	[MOVED_WORKER_GONE] = "worker_gone",
};

static const char *const role_names[] = {
	[ROLE_NONE] = "none", [ROLE_CLIENT] = "client", [ROLE_WORKER] = "worker",
};

void metrics_dispatch(struct pulsed *d, int code, uint64_t started_us)
{
	if (code < 0 || code >= PULSE_E__COUNT)
		return;
	uint64_t now = now_us(), us = now > started_us ? now - started_us : 0;
	struct metrics *m = &d->m;
	m->dispatches[code]++;
	m->latency_count++;
	m->latency_sum_us += us;
	for (int i = 0; i < METRICS_NBUCKETS; i++) {
		if (us <= buckets[i].us) {
			m->latency_bucket[i]++;
			break;
		}
	}
}

/* ---- the exposition ----------------------------------------------------- */

static void family(struct evbuffer *b, const char *name, const char *type,
                   const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
	                    type);
}

/* A label value, escaped as the format wants (backslash, quote, newline);
 * pool names cannot hold those, but node ids come from the config. */
static void label_value(struct evbuffer *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			evbuffer_add_printf(b, "\\%c", *s);
		else if (*s == '\n')
			evbuffer_add(b, "\\n", 2);
		else
			evbuffer_add(b, s, 1);
	}
}

static void counter_line(struct evbuffer *b, const char *name,
                         const char *label, const char *value, uint64_t v)
{
	if (label)
		evbuffer_add_printf(b, "%s{%s=\"%s\"} %" PRIu64 "\n", name, label,
		                    value, v);
	else
		evbuffer_add_printf(b, "%s %" PRIu64 "\n", name, v);
}

/* Per-pool gauges: one getter each, printed for every joined pool. */
static double g_jobs_local(struct pool *p) { return (double)p->ljobs.n; }
static double g_jobs_pool(struct pool *p) { return (double)p->jobs_pool; }
static double g_waiting(struct pool *p) { return (double)p->waiting; }
static double g_workers_pool(struct pool *p) { return (double)p->nwids; }
static double g_rtt(struct pool *p) { return (double)p->rtt_us / 1e6; }
static double g_active(struct pool *p) { return p->state == POOL_ACTIVE; }

static double g_workers_local(struct pool *p)
{
	size_t n = 0;
	table_iter it;
	struct tentry *e;
	table_iter_init(&it, &p->lworkers);
	while ((e = table_next(&it))) {
		const struct lworker *w = e->val;
		n += w->attached && !w->detaching;
	}
	return (double)n;
}

static const struct {
	const char *name, *help;
	double (*get)(struct pool *p);
} pool_gauges[] = {
	{"pulsed_jobs_local", "Jobs held by this node's workers (starting or "
	 "running).", g_jobs_local},
	{"pulsed_jobs_pool", "Jobs in the pool, all nodes, as of the last lease "
	 "renewal.", g_jobs_pool},
	{"pulsed_jobs_waiting", "Jobs of the pool waiting for a worker, as last "
	 "seen.", g_waiting},
	{"pulsed_workers_local", "Workers attached to this node.",
	 g_workers_local},
	{"pulsed_workers_pool", "Live workers of the pool, all nodes.",
	 g_workers_pool},
	{"pulsed_pool_active", "1 while this node is in the pool and holds its "
	 "lease, else 0 (joining, self-fenced or shut down).", g_active},
	{"pulsed_redis_rtt_seconds", "Round trip of the last good lease "
	 "renewal.", g_rtt},
};

static void pool_families(struct evbuffer *b, struct pulsed *d)
{
	for (size_t i = 0; i < sizeof(pool_gauges) / sizeof(pool_gauges[0]); i++) {
		family(b, pool_gauges[i].name, "gauge", pool_gauges[i].help);
		table_iter it;
		struct tentry *e;
		table_iter_init(&it, &d->pools);
		while ((e = table_next(&it))) {
			struct pool *p = e->val;
			evbuffer_add_printf(b, "%s{pool=\"%s\"} %.15g\n",
			                    pool_gauges[i].name, p->name,
			                    pool_gauges[i].get(p));
		}
	}
}

static void dispatch_families(struct evbuffer *b, const struct metrics *m)
{
	family(b, "pulsed_dispatches_total", "counter",
	       "Dispatches answered, by result (ok or the error code).");
	for (int c = 0; c < PULSE_E__COUNT; c++)
		counter_line(b, "pulsed_dispatches_total", "result",
		             c == 0 ? "ok" : pulse_err_name(c), m->dispatches[c]);
	family(b, "pulsed_dispatch_duration_seconds", "histogram",
	       "Time from a dispatch's admission checks to its answer.");
	uint64_t cum = 0;
	for (int i = 0; i < METRICS_NBUCKETS; i++) {
		cum += m->latency_bucket[i];
		counter_line(b, "pulsed_dispatch_duration_seconds_bucket", "le",
		             buckets[i].le, cum);
	}
	counter_line(b, "pulsed_dispatch_duration_seconds_bucket", "le", "+Inf",
	             m->latency_count);
	evbuffer_add_printf(b, "pulsed_dispatch_duration_seconds_sum %.6f\n",
	                    (double)m->latency_sum_us / 1e6);
	counter_line(b, "pulsed_dispatch_duration_seconds_count", NULL, NULL,
	             m->latency_count);
}

static void node_families(struct evbuffer *b, struct pulsed *d)
{
	const struct metrics *m = &d->m;
	family(b, "pulsed_build_info", "gauge",
	       "Always 1; the labels name this pulsed.");
	evbuffer_add_printf(b, "pulsed_build_info{version=\"%s\",node=\"",
	                    PULSED_VERSION);
	label_value(b, d->node ? d->node : "");
	evbuffer_add_printf(b, "\"} 1\n");

	family(b, "pulsed_redis_up", "gauge",
	       "1 while the Redis connections are up and the scripts loaded.");
	counter_line(b, "pulsed_redis_up", NULL, NULL, (uint64_t)store_up(d->store));
	family(b, "pulsed_redis_reconnects_total", "counter",
	       "Times the Redis connections came back after being lost.");
	counter_line(b, "pulsed_redis_reconnects_total", NULL, NULL,
	             store_reconnects(d->store));

	uint64_t roles[3] = {0, 0, 0};
	table_iter it;
	struct tentry *e;
	table_iter_init(&it, &d->sessions);
	while ((e = table_next(&it))) {
		const struct session *s = e->val;
		if (s->role >= ROLE_NONE && s->role <= ROLE_WORKER)
			roles[s->role]++;
	}
	family(b, "pulsed_sessions", "gauge", "Open sessions on the socket, by "
	       "role (none: before the handshake).");
	for (int r = ROLE_NONE; r <= ROLE_WORKER; r++)
		counter_line(b, "pulsed_sessions", "role", role_names[r], roles[r]);

	family(b, "pulsed_job_moves_total", "counter",
	       "Jobs handed from a local worker to another, by reason.");
	for (int r = 0; r < MOVED__COUNT; r++)
		counter_line(b, "pulsed_job_moves_total", "reason", move_reasons[r],
		             m->moves[r]);
	family(b, "pulsed_lease_renewals_failed_total", "counter",
	       "Lease renewals that did not renew: Redis unreachable when due, "
	       "no answer, an error, or the lease was lost.");
	counter_line(b, "pulsed_lease_renewals_failed_total", NULL, NULL,
	             m->lease_failures);
	family(b, "pulsed_self_fences_total", "counter",
	       "Times a pool stopped its local jobs because its lease could not "
	       "be renewed in time.");
	counter_line(b, "pulsed_self_fences_total", NULL, NULL, m->fences);
}

static void reply(struct evhttp_request *req, int code, const char *reason,
                  const char *type, struct evbuffer *body)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Type", type);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_send_reply(req, code, reason, body);
}

static void reply_text(struct evhttp_request *req, int code,
                       const char *reason, const char *text)
{
	struct evbuffer *b = evbuffer_new();
	if (!b)
		fatal_oom("an HTTP answer");
	evbuffer_add_printf(b, "%s\n", text);
	reply(req, code, reason, CONTENT_TEXT, b);
	evbuffer_free(b);
}

/* ---- health ------------------------------------------------------------- */

/* 1 when this node can take work now; else 0 and why. */
static int readiness(struct pulsed *d, char *why, size_t len)
{
	if (d->stopping) {
		snprintf(why, len, "pulsed is stopping");
		return 0;
	}
	if (!store_up(d->store)) {
		snprintf(why, len, "%s", store_unreachable(d->store));
		return 0;
	}
	table_iter it;
	struct tentry *e;
	table_iter_init(&it, &d->pools);
	while ((e = table_next(&it))) {
		const struct pool *p = e->val;
		if (p->state == POOL_JOINING) {
			snprintf(why, len, "pool %s: joining (not registered in Redis "
			         "yet)", p->name);
			return 0;
		}
		if (p->state == POOL_FENCED) {
			snprintf(why, len, "pool %s: self-fenced (lease not renewed in "
			         "time); re-joining", p->name);
			return 0;
		}
	}
	snprintf(why, len, "ready");
	return 1;
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct pulsed *d = arg;
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *path = u ? evhttp_uri_get_path(u) : NULL;
	if (!path || !*path)
		path = "/";
	if (strcmp(path, "/metrics") == 0) {
		struct evbuffer *b = evbuffer_new();
		if (!b)
			fatal_oom("the metrics page");
		node_families(b, d);
		pool_families(b, d);
		dispatch_families(b, &d->m);
		reply(req, 200, "OK", CONTENT_METRICS, b);
		evbuffer_free(b);
	} else if (strcmp(path, "/healthz") == 0) {
		reply_text(req, 200, "OK", "ok");
	} else if (strcmp(path, "/readyz") == 0) {
		char why[256];
		if (readiness(d, why, sizeof(why)))
			reply_text(req, 200, "OK", why);
		else
			reply_text(req, 503, "Service Unavailable", why);
	} else {
		reply_text(req, 404, "Not Found",
		           "not found: try /metrics, /healthz or /readyz");
	}
}

/* ---- the listener ------------------------------------------------------- */

/* "host:port" or "[v6]:port" (config.c checked the syntax; this only
 * takes it apart). */
static int split_listen(const char *s, char *host, size_t hostlen,
                        unsigned *port, char *err, size_t errlen)
{
	const char *h = s, *colon;
	size_t hl;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			goto bad;
		h = s + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			goto bad;
		hl = (size_t)(colon - s);
	}
	char *end;
	unsigned long p = strtoul(colon + 1, &end, 10);
	if (hl == 0 || hl >= hostlen || *end || p == 0 || p > 65535)
		goto bad;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (unsigned)p;
	return 0;
bad:
	snprintf(err, errlen, "metrics.listen %s: expected host:port", s);
	return -1;
}

static int is_loopback(evutil_socket_t fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
		return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
	}
	if (ss.ss_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)&ss)->sin6_addr;
		return IN6_IS_ADDR_LOOPBACK(a) ||
		       (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return 0;
}

int metrics_start(struct pulsed *d, char *err, size_t errlen)
{
	const char *listen = d->cfg.metrics_listen;
	char host[256];
	unsigned port;
	if (!listen)
		return 0;
	if (split_listen(listen, host, sizeof(host), &port, err, errlen) < 0)
		return -1;
	struct evhttp *http = evhttp_new(d->base);
	if (!http) {
		snprintf(err, errlen, "metrics: cannot create the HTTP server");
		return -1;
	}
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_timeout(http, HTTP_TIMEOUT_S);
	evhttp_set_max_headers_size(http, HTTP_MAX_HEADERS);
	evhttp_set_max_body_size(http, 0);
	evhttp_set_gencb(http, on_request, d);
	errno = 0;
	struct evhttp_bound_socket *bs =
		evhttp_bind_socket_with_handle(http, host, (ev_uint16_t)port);
	if (!bs) {
		snprintf(err, errlen, "metrics.listen %s: cannot listen: %s", listen,
		         errno ? strerror(errno) : "address not usable");
		evhttp_free(http);
		return -1;
	}
	d->m.http = http;
	if (!is_loopback(evhttp_bound_socket_get_fd(bs)))
		LOGW(&d->log, "metrics on %s are reachable beyond this host and not "
		     "authenticated", listen);
	LOGI(&d->log, "metrics on http://%s/metrics", listen);
	return 0;
}

void metrics_stop(struct pulsed *d)
{
	if (d->m.http) {
		evhttp_free(d->m.http);
		d->m.http = NULL;
	}
}
