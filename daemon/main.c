/*
 * main.c: pulsed's process life.
 *
 * Owns: command-line options, loading the config (-n checks it and
 * exits), the node id, signals (handled on the event loop: a handler only
 * wakes the loop), the orderly stop of P9 (stop taking sessions, hand
 * every local job to other workers, leave each pool, exit) and reload on
 * SIGHUP (log settings; the old config stays when the new one is invalid).
 *
 * Invariant: the daemon context lives on main's stack; nothing else is
 * global.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>

#include "pulsed.h"
#include "store.h"
#include "tls.h"

#define DEFAULT_CONFIG "/etc/pulsed/pulsed.conf"

static const struct option longopts[] = {
	{"config", required_argument, NULL, 'c'},
	{"check", no_argument, NULL, 'n'},
	{"debug", no_argument, NULL, 'd'},
	{"socket", required_argument, NULL, 's'},
	{"version", no_argument, NULL, 'V'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: pulsed [-c FILE] [-n] [-d] [-s SOCKET] [-V] [-h]\n"
	           "  -c, --config FILE    configuration file (default %s\n"
	           "                       if it exists)\n"
	           "  -n, --check          check that pulsed can start with the\n"
	           "                       configuration, print it, and exit\n"
	           "  -d, --debug          debug log\n"
	           "  -s, --socket SOCKET  listen on SOCKET instead of socket.path\n"
	           "  -V, --version        print the version and exit\n"
	           "  -h, --help           print this help and exit\n",
	           DEFAULT_CONFIG);
}

/* What a start needs of a configuration beyond its syntax: the checks of
 * pulsed -n, of a start and of a reload, in one place. */
static int startable(const config *c, char *err, size_t errlen)
{
	if (!c->redis_url) {
		snprintf(err, errlen, "redis.url is not set: pulsed needs a Redis "
		         "(redis://host:port/db or unix:///path)");
		return -1;
	}
	if (tls_check_config(c, err, errlen) < 0)
		return -1;
	return server_check_config(c, err, errlen);
}

/* The first line of a small file such as /etc/machine-id, or "" when
 * there is none. */
static void read_line(const char *path, char *out, size_t n)
{
	out[0] = '\0';
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	if (!fgets(out, (int)n, f))
		out[0] = '\0';
	fclose(f);
	out[strcspn(out, "\r\n")] = '\0';
}

/* A node id that is stable across restarts of the same service and
 * unique per host: the configured one, else the host name, the first 8
 * hex digits of /etc/machine-id (cloned hosts and containers often share
 * a host name; each gets its own machine id) and a hash of the socket
 * path (several pulsed on one host). Only [A-Za-z0-9.-] are kept. */
static char *make_node_id(const config *c)
{
	if (c->node_id)
		return xstrdup(c->node_id);
	char host[256] = "host", mid[64], id[340];
	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	host[64] = '\0';
	for (char *p = host; *p; p++)
		if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') &&
		    !(*p >= '0' && *p <= '9') && *p != '-' && *p != '.')
			*p = '-';
	read_line("/etc/machine-id", mid, sizeof(mid));
	if (!mid[0])
		read_line("/var/lib/dbus/machine-id", mid, sizeof(mid));
	mid[strspn(mid, "0123456789abcdef")] = '\0';
	mid[8] = '\0';
	snprintf(id, sizeof(id), "%s%s%s-%04llx", host, mid[0] ? "-" : "", mid,
	         (unsigned long long)(table_hash(c->socket_path,
	                                         strlen(c->socket_path)) & 0xffff));
	return xstrdup(id);
}

/* Who this process is, as join.lua records the holder of the node id:
 * the boot id (so that a holder on this very host can be checked with
 * kill(pid, 0)), the pid, the host name and the socket path. */
static char *make_holder(const config *c)
{
	char boot[64], host[256] = "host", out[1024];
	read_line("/proc/sys/kernel/random/boot_id", boot, sizeof(boot));
	if (!boot[0] || strchr(boot, ' '))
		snprintf(boot, sizeof(boot), "-");
	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	for (char *p = host; *p; p++)
		if (*p == ' ')
			*p = '-';
	snprintf(out, sizeof(out), "%s %ld %s %s", boot, (long)getpid(), host,
	         c->socket_path);
	return xstrdup(out);
}

static void finish(struct pulsed *d)
{
	d->stopping = STOP_DONE;
	event_base_loopexit(d->base, NULL);
}

/* A pool finished leaving (pulsed is stopping): the process ends once
 * none is active. */
static void daemon_leave_done(struct pulsed *d)
{
	table_iter it;
	struct tentry *e;
	table_iter_init(&it, &d->pools);
	while ((e = table_next(&it))) {
		struct pool *p = e->val;
		if (p->state == POOL_ACTIVE)
			return; /* still leaving */
	}
	LOGI(&d->log, "stopped");
	finish(d);
}

/* pulsed stops: one pool is left (or could not be): when none is active
 * any more, the process ends. */
static void stop_left(struct pool *p, int left)
{
	(void)left; /* left: POOL_LEFT; else it stays active and the stop
	             * timeout ends the process */
	daemon_leave_done(p->d);
}

void daemon_progress(struct pulsed *d)
{
	if (d->stopping != STOP_DRAINING || pools_local_jobs(d) > 0)
		return;
	/* every job was handed on: leave each pool */
	d->stopping = STOP_LEAVING;
	int any = 0;
	table_iter it;
	struct tentry *e;
	table_iter_init(&it, &d->pools);
	while ((e = table_next(&it))) {
		struct pool *p = e->val;
		if (p->state == POOL_ACTIVE && store_up(d->store)) {
			any = 1;
			pool_leave(p, stop_left);
		}
	}
	if (!any) {
		LOGI(&d->log, "stopped");
		finish(d);
	}
}

static void stop_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct pulsed *d = arg;
	LOGW(&d->log, "workers did not stop their jobs in time; exiting anyway "
	     "(other nodes take the jobs over when the lease ends)");
	finish(d);
}

static void begin_stop(struct pulsed *d)
{
	if (d->stopping) {
		LOGW(&d->log, "second stop signal: exiting now");
		finish(d);
		return;
	}
	d->stopping = STOP_DRAINING;
	LOGI(&d->log, "stopping: handing local jobs to other workers");
	sdnotify_stopping(d);
	if (d->lev) {
		event_del(d->lev);
	}
	uint64_t ms = 0;
	table_iter it;
	struct tentry *e;
	table_iter_init(&it, &d->pools);
	while ((e = table_next(&it))) {
		struct pool *p = e->val;
		if (p->opts.worker_shutdown_ttl_ms > ms)
			ms = p->opts.worker_shutdown_ttl_ms;
		worker_drain_pool(p);
	}
	d->stop_timer = evtimer_new(d->base, stop_timeout, d);
	timer_arm_ms(d->stop_timer, ms);
	daemon_progress(d);
}

/* SIGHUP: settings that can change at run time are applied; a config
 * that does not load leaves everything as it was. */
static void reload(struct pulsed *d)
{
	char err[512];
	config nc;
	if (!d->config_path) {
		LOGI(&d->log, "reload: no configuration file; nothing to do");
		return;
	}
	if (config_load(&nc, d->config_path, err, sizeof(err)) < 0) {
		LOGE(&d->log, "reload: %s; keeping the running configuration", err);
		return;
	}
	if (startable(&nc, err, sizeof(err)) < 0) {
		LOGE(&d->log, "reload: %s; keeping the running configuration", err);
		config_free(&nc);
		return;
	}
	struct reload_note rn;
	config_reload(&d->cfg, &nc, &rn);
	d->log.level = d->cfg.log_level;
	d->log.format = d->cfg.log_format;
	/* joined pools take their reloadable options (config.c's F_RELOAD) */
	table_iter it;
	struct tentry *e;
	table_iter_init(&it, &d->pools);
	while ((e = table_next(&it))) {
		struct pool *p = e->val;
		const pool_opts *o = config_pool(&d->cfg, p->name);
		if (o)
			config_pool_reload(&p->opts, o, p->name, &rn);
	}
	if (rn.applied[0])
		LOGI(&d->log, "reload: took effect: %s", rn.applied);
	if (rn.fixed[0])
		LOGW(&d->log, "reload: changed, but taking effect only when pulsed "
		     "restarts: %s", rn.fixed);
	config_free(&nc);
	LOGI(&d->log, "reloaded %s%s", d->config_path,
	     rn.applied[0] || rn.fixed[0] ? "" : ": no joined pool's or "
	     "daemon key changed");
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	struct pulsed *d = arg;
	if (sig == SIGHUP) {
		sdnotify_reloading(d);
		reload(d);
		sdnotify_reloaded(d); /* READY=1 whatever the outcome */
	} else
		begin_stop(d);
}

/* pulsed -n: the effective configuration on stdout (it loads as a
 * configuration itself), then whether pulsed can start with it (why not:
 * NULL when it can). */
static void report_check(const config *c, const char *path, const char *why)
{
	char *dump = config_dump(c);
	if (dump)
		printf("%s\n", dump);
	free(dump);
	if (!why)
		fprintf(stderr, "pulsed: configuration %s is valid%s\n", path,
		        c->redis_password ? " (a Redis password is set; not shown)"
		                          : "");
	else
		fprintf(stderr, "pulsed: configuration %s parses, but pulsed cannot "
		        "start with it: %s\n", path, why);
}

int main(int argc, char **argv)
{
	struct pulsed d;
	const char *cpath = NULL, *sock = NULL;
	int check = 0, debug = 0, c;
	char err[512];

	memset(&d, 0, sizeof(d));
	while ((c = getopt_long(argc, argv, "c:nds:Vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': cpath = optarg; break;
		case 'n': check = 1; break;
		case 'd': debug = 1; break;
		case 's': sock = optarg; break;
		case 'V': printf("pulsed %s\n", PULSED_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (!cpath && access(DEFAULT_CONFIG, R_OK) == 0)
		cpath = DEFAULT_CONFIG;
	if (cpath) {
		if (config_load(&d.cfg, cpath, err, sizeof(err)) < 0) {
			fprintf(stderr, "pulsed: %s\n", err);
			return 1;
		}
	} else {
		config_defaults(&d.cfg);
	}
	if (sock) {
		free(d.cfg.socket_path);
		d.cfg.socket_path = xstrdup(sock);
	}
	int ok = startable(&d.cfg, err, sizeof(err)) == 0;
	if (check) {
		report_check(&d.cfg, cpath ? cpath : "(defaults)", ok ? NULL : err);
		config_free(&d.cfg);
		return ok ? 0 : 1;
	}
	log_init(&d.log, debug ? LOG_DEBUG : d.cfg.log_level, d.cfg.log_format);
	if (!ok) {
		LOGE(&d.log, "%s: %s", cpath ? cpath : "(defaults)", err);
		config_free(&d.cfg);
		return 1;
	}
	d.config_path = cpath ? xstrdup(cpath) : NULL;
	d.node = make_node_id(&d.cfg);
	d.holder = make_holder(&d.cfg);
	d.start_ms = now_ms();
	srandom((unsigned)(now_us() ^ (uint64_t)getpid() << 16));
	signal(SIGPIPE, SIG_IGN);
	if (context_init(&d) < 0) {
		LOGE(&d.log, "cannot create the event loop");
		context_free(&d);
		return 1;
	}
	if (server_listen(&d, err, sizeof(err)) < 0 ||
	    metrics_start(&d, err, sizeof(err)) < 0) {
		LOGE(&d.log, "%s", err);
		context_free(&d);
		return 1;
	}
	sdnotify_init(&d);
	const int sigs[] = {SIGTERM, SIGINT, SIGHUP};
	for (int i = 0; i < 3; i++) {
		d.sigev[i] = evsignal_new(d.base, sigs[i], on_signal, &d);
		evsignal_add(d.sigev[i], NULL);
	}
	LOGI(&d.log, "pulsed %s: node %s listening on %s", PULSED_VERSION, d.node,
	     d.cfg.socket_path);
	store_connect(d.store);
	event_base_dispatch(d.base);

	context_free(&d);
	return 0;
}
