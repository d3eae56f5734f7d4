/*
 * sdnotify.c: telling systemd what pulsed does, without libsystemd.
 *
 * Owns: the datagram socket to $NOTIFY_SOCKET (a path, or an abstract
 * socket written with a leading '@'), the messages sent on it, the
 * watchdog timer and the STATUS= refresh timer. The protocol is
 * sd_notify(3)'s: newline-separated VAR=value lines in one AF_UNIX
 * datagram.
 *
 * Invariants:
 *   - Nothing is sent, and no timer runs, unless $NOTIFY_SOCKET was set
 *     and usable at start (addrlen > 0); a zeroed context is "off".
 *   - READY=1 is sent once Redis is connected and every script is loaded
 *     (pulsed joins pools lazily, so that is what "registered" means), and
 *     again only to end a reload. It never precedes the first connection.
 *   - WATCHDOG=1 comes from a timer on the event loop, every
 *     $WATCHDOG_USEC / 2, when $WATCHDOG_USEC is set and $WATCHDOG_PID is
 *     unset or this process: a stuck loop stops the pings.
 *   - STATUS= is sent only when its text changed; sending never blocks
 *     (non-blocking socket) and a failure is logged once per streak.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>

#include "pulsed.h"
#include "store.h"

#define STATUS_EVERY_MS 2000

/* One datagram; failures are logged once until a send works again. */
static void send_raw(struct pulsed *d, const char *msg)
{
	struct sdnotify *sd = &d->sd;
	if (!sd->addrlen)
		return;
	ssize_t n = sendto(sd->fd, msg, strlen(msg), MSG_NOSIGNAL,
	                   (const struct sockaddr *)&sd->addr, sd->addrlen);
	if (n < 0 && !sd->failed) {
		sd->failed = 1;
		LOGW(&d->log, "sd_notify: cannot send to $NOTIFY_SOCKET: %s",
		     strerror(errno));
	} else if (n >= 0) {
		sd->failed = 0;
	}
}

static void notify(struct pulsed *d, const char *msg)
{
	if (!d->sd.addrlen)
		return;
	LOGD(&d->log, "sd_notify: %.*s", (int)strcspn(msg, "\n"), msg);
	send_raw(d, msg);
}

/* What pulsed is doing, in the words systemctl status shows. */
static void status_text(struct pulsed *d, char *buf, size_t len)
{
	if (d->stopping) {
		snprintf(buf, len, "stopping: handing jobs to other workers");
		return;
	}
	if (!d->store || !store_up(d->store)) {
		if (d->store && (d->sd.redis == 0 || store_down_reason(d->store)))
			snprintf(buf, len, "%s; retrying", store_unreachable(d->store));
		else
			snprintf(buf, len, "connecting to Redis");
		return;
	}
	size_t workers = 0, jobs = 0;
	table_iter it;
	struct tentry *e;
	table_iter_init(&it, &d->pools);
	while ((e = table_next(&it))) {
		struct pool *p = e->val;
		workers += p->lworkers.n;
		jobs += p->ljobs.n;
	}
	snprintf(buf, len, "connected to Redis; %zu pool%s, %zu worker%s, %zu "
	         "job%s", d->pools.n, d->pools.n == 1 ? "" : "s", workers,
	         workers == 1 ? "" : "s", jobs, jobs == 1 ? "" : "s");
}

/* Send `prefix` (may be "") followed by STATUS= when either must go. */
static void send_with_status(struct pulsed *d, const char *prefix)
{
	struct sdnotify *sd = &d->sd;
	char text[sizeof(sd->status)], msg[sizeof(sd->status) + 128];
	status_text(d, text, sizeof(text));
	if (!*prefix && strcmp(text, sd->status) == 0)
		return;
	snprintf(sd->status, sizeof(sd->status), "%s", text);
	snprintf(msg, sizeof(msg), "%sSTATUS=%s", prefix, text);
	notify(d, msg);
}

static void watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	send_raw(arg, "WATCHDOG=1");
}

static void status_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	send_with_status(arg, "");
}

/* The socket named by $NOTIFY_SOCKET, or -1 and why. */
static int open_socket(struct sdnotify *sd, const char *path, char *err,
                       size_t errlen)
{
	size_t n = strlen(path);
	memset(&sd->addr, 0, sizeof(sd->addr));
	sd->addr.sun_family = AF_UNIX;
	if (path[0] != '/' && path[0] != '@') {
		snprintf(err, errlen, "NOTIFY_SOCKET=%s: only a path or an abstract "
		         "socket (@name) is supported", path);
		return -1;
	}
	if (n >= sizeof(sd->addr.sun_path)) {
		snprintf(err, errlen, "NOTIFY_SOCKET=%s: path too long", path);
		return -1;
	}
	memcpy(sd->addr.sun_path, path, n);
	if (path[0] == '@')
		sd->addr.sun_path[0] = '\0';
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	sd->fd = fd;
	/* an abstract name's length is exact: no trailing NUL counts */
	sd->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
	                          (path[0] == '@' ? 0 : 1));
	return 0;
}

/* $WATCHDOG_USEC when it is meant for this process, else 0. */
static uint64_t watchdog_usec(void)
{
	const char *pid = getenv("WATCHDOG_PID"), *us = getenv("WATCHDOG_USEC");
	if (!us || !*us)
		return 0;
	if (pid && *pid && strtol(pid, NULL, 10) != (long)getpid())
		return 0;
	char *end;
	unsigned long long v = strtoull(us, &end, 10);
	return *end ? 0 : (uint64_t)v;
}

static struct event *every(struct pulsed *d, uint64_t us,
                           event_callback_fn cb)
{
	struct event *ev = event_new(d->base, -1, EV_PERSIST, cb, d);
	if (!ev)
		fatal_oom("a systemd timer");
	struct timeval tv = {(time_t)(us / 1000000), (suseconds_t)(us % 1000000)};
	event_add(ev, &tv);
	return ev;
}

void sdnotify_init(struct pulsed *d)
{
	struct sdnotify *sd = &d->sd;
	const char *path = getenv("NOTIFY_SOCKET");
	char err[256];
	if (!path || !*path)
		return;
	if (open_socket(sd, path, err, sizeof(err)) < 0) {
		LOGW(&d->log, "sd_notify: %s; not notifying systemd", err);
		return;
	}
	sd->redis = -1;
	uint64_t wd = watchdog_usec();
	if (wd) {
		uint64_t half = wd / 2 ? wd / 2 : 1;
		sd->watchdog = every(d, half, watchdog_cb);
		LOGI(&d->log, "sd_notify: watchdog ping every %llu ms",
		     (unsigned long long)(half / 1000));
	}
	sd->status_timer = every(d, STATUS_EVERY_MS * 1000, status_cb);
	send_with_status(d, "");
}

void sdnotify_close(struct pulsed *d)
{
	struct sdnotify *sd = &d->sd;
	if (!sd->addrlen)
		return;
	if (sd->watchdog)
		event_free(sd->watchdog);
	if (sd->status_timer)
		event_free(sd->status_timer);
	sd->watchdog = sd->status_timer = NULL;
	close(sd->fd);
	sd->addrlen = 0;
}

void sdnotify_redis(struct pulsed *d, int up)
{
	struct sdnotify *sd = &d->sd;
	if (!sd->addrlen)
		return;
	sd->redis = up;
	if (up && !sd->ready && !d->stopping) {
		sd->ready = 1;
		send_with_status(d, "READY=1\n");
	} else {
		send_with_status(d, "");
	}
}

void sdnotify_stopping(struct pulsed *d)
{
	if (d->sd.addrlen)
		send_with_status(d, "STOPPING=1\n");
}

void sdnotify_reloading(struct pulsed *d)
{
	struct sdnotify *sd = &d->sd;
	char msg[128];
	if (!sd->addrlen)
		return;
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu\n"
	         "STATUS=reloading the configuration",
	         (unsigned long long)now_us());
	snprintf(sd->status, sizeof(sd->status), "reloading the configuration");
	notify(d, msg);
}

void sdnotify_reloaded(struct pulsed *d)
{
	/* READY=1 ends the reload; before the first connection it would
	 * claim readiness too early, and the connection sends it anyway. */
	if (d->sd.addrlen)
		send_with_status(d, d->sd.ready ? "READY=1\n" : "");
}
