/*
 * testworker.c: the worker of the integration and chaos tests.
 *
 *   testworker [-s SOCKET] -p POOL [-n NAME] -l LOGFILE [-L EVENTLOG]
 *              [--fail-start PREFIX] [--requeue-start PREFIX] [--requeue-once]
 *              [--fail-stop PREFIX] [--start-delay MS] [--stop-delay MS]
 *              [--requeue-stop-once] [--hang-start PREFIX] [--hang-stop PREFIX]
 *              [--no-notify] [--notify-delay MS]
 *              [--message] [--fail-message PREFIX] [--hang-message PREFIX]
 *              [--detach-on-sigterm] [--reattach]
 *
 * Answers: starts of keys with the --fail-start prefix fail ("refused by
 * test"); with the --requeue-start prefix they are requeued (only the
 * first time per key with --requeue-once); with the --hang-start prefix
 * they are never answered (the handler blocks until a signal), and so are
 * stops of keys with the --hang-stop prefix (a worker hung in stop). Stops of
 * keys with the --fail-stop prefix fail (the job goes on running here);
 * --requeue-stop-once requeues the first stop of every key. The delays
 * (start, stop, notify) are waited before answering. --no-notify attaches
 * without a notify handler; otherwise notifications are logged and accepted.
 * --message attaches with a message handler (without it, none): a message
 * is logged when its handler begins and answered "WORKER_ID:" followed by
 * its payload, byte for byte; keys with the --fail-message prefix fail
 * ("message refused by test: " and the payload), keys with the
 * --hang-message prefix are never answered (the handler blocks until a
 * signal).
 *
 * Owns: the set of keys this process runs and what it records about them:
 *   LOGFILE   one line per finished run interval, "key worker start_ns
 *             stop_ns", written when the stop handler answers, or at exit
 *             for keys still running (stop_ns = then). Nothing on SIGKILL.
 *   EVENTLOG  one line per event as it happens: "start key worker ns",
 *             "stop key worker ns", "notify key worker ns payload",
 *             "message key worker ns payload" (the payload with \\ and
 *             non-printable bytes escaped as \xHH), and
 *             "DUPLICATE key" (also on stderr) when a START comes for a key
 *             already running, which must never happen.
 *   In both logs the key is percent-encoded, so that a line splits on
 *   spaces: every byte outside [A-Za-z0-9._:/-] is written %HH (two
 *   uppercase hex digits; '%' itself too), so "a b%" is "a%20b%25".
 * Times are CLOCK_REALTIME nanoseconds. An interval is conservative: it
 * starts when the start handler is entered (for a start it accepts) and
 * ends when the stop handler answers, so that any real overlap of two
 * workers shows as overlapping intervals.
 *
 * Prints "ready WORKER_ID" on stdout once attached. SIGTERM and SIGINT
 * end it (exit 0) after the final log lines; with --detach-on-sigterm it
 * first detaches gracefully (its jobs get stopped through the stop
 * handler). When pulsed ends the session it writes the final lines and
 * exits 1, or with --reattach closes the runs, attaches again every 100 ms
 * until pulsed is back, and prints "ready WORKER_ID" again.
 *
 * Invariants: every log line is one write(2) to an O_APPEND descriptor,
 * so lines of concurrent workers sharing a file never interleave. Signals
 * are blocked and read from a signalfd, so there is no signal handler and
 * no global state: the loop, the delays and the hang all wait on it.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "pulse.h"

/* ---- a set of keys with a value each ------------------------------------ */

struct entry {
	struct entry *next;
	uint64_t val;
	char key[];
};

struct set {
	struct entry **b;
	size_t nb, n;
};

static size_t hash(const char *s)
{
	uint64_t h = 1469598103934665603u; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	return (size_t)h;
}

static struct entry **set_slot(const struct set *s, const char *key)
{
	struct entry **e = &s->b[hash(key) & (s->nb - 1)];
	while (*e && strcmp((*e)->key, key) != 0)
		e = &(*e)->next;
	return e;
}

static int set_init(struct set *s)
{
	s->nb = 256;
	s->n = 0;
	s->b = calloc(s->nb, sizeof(*s->b));
	return s->b ? 0 : -1;
}

static int set_get(const struct set *s, const char *key, uint64_t *val)
{
	struct entry *e = *set_slot(s, key);
	if (e && val)
		*val = e->val;
	return e != NULL;
}

/* Double the buckets when the chains get long (keeps lookups O(1) with
 * thousands of jobs per worker). */
static void set_grow(struct set *s)
{
	size_t nb = s->nb * 2;
	struct entry **b = calloc(nb, sizeof(*b));
	if (!b)
		return; /* longer chains, still correct */
	for (size_t i = 0; i < s->nb; i++) {
		for (struct entry *e = s->b[i], *next; e; e = next) {
			next = e->next;
			struct entry **slot = &b[hash(e->key) & (nb - 1)];
			e->next = *slot;
			*slot = e;
		}
	}
	free(s->b);
	s->b = b;
	s->nb = nb;
}

static int set_put(struct set *s, const char *key, uint64_t val)
{
	struct entry **slot = set_slot(s, key);
	if (*slot) {
		(*slot)->val = val;
		return 0;
	}
	size_t n = strlen(key) + 1;
	struct entry *e = malloc(sizeof(*e) + n);
	if (!e)
		return -1;
	memcpy(e->key, key, n);
	e->val = val;
	e->next = NULL;
	*slot = e;
	if (++s->n > s->nb)
		set_grow(s);
	return 0;
}

static void set_del(struct set *s, const char *key)
{
	struct entry **slot = set_slot(s, key), *e = *slot;
	if (e) {
		*slot = e->next;
		free(e);
		s->n--;
	}
}

/* ---- the worker ---------------------------------------------------------- */

struct tw {
	/* options */
	const char *socket, *pool, *name, *logfile, *eventlog;
	const char *fail_start, *requeue_start, *fail_stop, *hang_start;
	const char *hang_stop, *fail_message, *hang_message;
	int requeue_once, requeue_stop_once, no_notify, detach_on_sigterm;
	int message;
	int reattach;
	unsigned start_delay, stop_delay, notify_delay;
	/* state */
	int logfd, evfd, sigfd;
	char *id;     /* worker id of the current (or last) session */
	int term;     /* SIGTERM or SIGINT received */
	struct set running;  /* key -> start_ns */
	struct set requeued; /* keys whose start was requeued once */
	struct set stop_requeued; /* keys whose stop was requeued once */
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int has_prefix(const char *key, const char *prefix)
{
	return prefix && strncmp(key, prefix, strlen(prefix)) == 0;
}

/* Append one formatted line with a single write(2). */
static void log_line(int fd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void log_line(int fd, const char *fmt, ...)
{
	if (fd < 0)
		return;
	char *line;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	for (size_t off = 0; off < (size_t)n;) {
		ssize_t w = write(fd, line + off, (size_t)n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	free(line);
}

/* The key as the logs write it (see the header): in a static buffer,
 * valid until the next call. Keys are at most 1024 bytes (PROTOCOL.md). */
static const char *kt(const char *key)
{
	static char buf[3 * 1024 + 1];
	static const char hex[] = "0123456789ABCDEF";
	char *o = buf;
	for (const unsigned char *p = (const unsigned char *)key;
	     *p && o + 4 <= buf + sizeof(buf); p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || strchr("._:/-", *p)) {
			*o++ = (char)*p;
		} else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = 0;
	return buf;
}

/* The key's run ends now: its interval to LOGFILE, a stop event. */
static void finish_run(struct tw *t, const char *key, uint64_t start_ns)
{
	uint64_t stop_ns = now_ns();
	const char *k = kt(key);
	log_line(t->logfd, "%s %s %" PRIu64 " %" PRIu64 "\n", k, t->id,
	         start_ns, stop_ns);
	log_line(t->evfd, "stop %s %s %" PRIu64 "\n", k, t->id, stop_ns);
}

/* The session is over: every key still running stops running here. */
static void end_runs(struct tw *t)
{
	for (size_t i = 0; i < t->running.nb; i++) {
		for (struct entry *e = t->running.b[i], *next; e; e = next) {
			next = e->next;
			finish_run(t, e->key, e->val);
			free(e);
		}
		t->running.b[i] = NULL;
	}
	t->running.n = 0;
}

/* Leave: close the runs of every key still running, then exit. */
static void quit(struct tw *t, int status)
{
	end_runs(t);
	exit(status);
}

/* Take a pending SIGTERM/SIGINT from the signalfd, if any. */
static void take_signal(struct tw *t)
{
	struct signalfd_siginfo si;
	while (read(t->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		t->term = 1;
}

/* Wait up to ms (forever if ms < 0) for a signal. A signal exits at once,
 * unless a detach is to follow: then a delay runs to its end, since the
 * detach can only start once this handler has returned. A hang always
 * exits on a signal: it never returns. */
static void wait_signal(struct tw *t, int ms)
{
	struct timespec end;
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += ms / 1000;
	end.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}
	for (;;) {
		if (t->term && (ms < 0 || !t->detach_on_sigterm))
			quit(t, 0);
		if (t->term) { /* seen already: sleep the rest */
			while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &end,
			                       NULL) == EINTR)
				;
			return;
		}
		int left = -1;
		if (ms >= 0) {
			struct timespec now;
			clock_gettime(CLOCK_MONOTONIC, &now);
			long long d = (end.tv_sec - now.tv_sec) * 1000LL +
			              (end.tv_nsec - now.tv_nsec + 999999L) / 1000000L;
			if (d <= 0)
				return;
			left = (int)d;
		}
		struct pollfd p = {.fd = t->sigfd, .events = POLLIN};
		if (poll(&p, 1, left) > 0)
			take_signal(t);
	}
}

static int on_start(void *ud, const char *key, const void *payload,
                    size_t len, char *msg, size_t msglen)
{
	struct tw *t = ud;
	(void)payload;
	(void)len;
	uint64_t start_ns = now_ns();
	if (set_get(&t->running, key, NULL)) {
		log_line(t->evfd, "DUPLICATE %s\n", kt(key));
		fprintf(stderr, "DUPLICATE %s\n", kt(key));
		return PULSE_HANDLER_OK; /* still running: the first run goes on */
	}
	if (has_prefix(key, t->hang_start))
		wait_signal(t, -1); /* never answers; exits on a signal */
	if (t->start_delay)
		wait_signal(t, (int)t->start_delay);
	if (has_prefix(key, t->fail_start)) {
		snprintf(msg, msglen, "refused by test");
		return PULSE_HANDLER_ERROR;
	}
	if (has_prefix(key, t->requeue_start) &&
	    !(t->requeue_once && set_get(&t->requeued, key, NULL))) {
		set_put(&t->requeued, key, 1);
		return PULSE_HANDLER_REQUEUE;
	}
	if (set_put(&t->running, key, start_ns) < 0) {
		snprintf(msg, msglen, "test worker out of memory");
		return PULSE_HANDLER_ERROR;
	}
	log_line(t->evfd, "start %s %s %" PRIu64 "\n", kt(key), t->id, start_ns);
	return PULSE_HANDLER_OK;
}

static int on_stop(void *ud, const char *key, char *msg, size_t msglen)
{
	struct tw *t = ud;
	if (has_prefix(key, t->hang_stop))
		wait_signal(t, -1); /* never answers; exits on a signal */
	if (t->stop_delay)
		wait_signal(t, (int)t->stop_delay);
	if (has_prefix(key, t->fail_stop)) {
		snprintf(msg, msglen, "refused by test");
		return PULSE_HANDLER_ERROR; /* and the job runs on here */
	}
	if (t->requeue_stop_once && !set_get(&t->stop_requeued, key, NULL)) {
		set_put(&t->stop_requeued, key, 1);
		return PULSE_HANDLER_REQUEUE; /* runs on until the retry */
	}
	uint64_t start_ns;
	if (set_get(&t->running, key, &start_ns)) {
		finish_run(t, key, start_ns);
		set_del(&t->running, key);
	} else {
		log_line(t->evfd, "stop %s %s %" PRIu64 "\n", kt(key), t->id, now_ns());
	}
	return PULSE_HANDLER_OK;
}

/* The payload on one line: printable ASCII as is, the rest \xHH. */
static char *escape(const unsigned char *p, size_t n)
{
	char *out = malloc(n * 4 + 1), *o = out;
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
			*o++ = (char)p[i];
		else
			o += sprintf(o, p[i] == '\\' ? "\\\\" : "\\x%02x", p[i]);
	}
	*o = 0;
	return out;
}

static int on_notify(void *ud, const char *key, const void *payload,
                     size_t len, char *msg, size_t msglen)
{
	struct tw *t = ud;
	if (t->notify_delay)
		wait_signal(t, (int)t->notify_delay);
	char *text = escape(payload, len);
	if (!text) {
		snprintf(msg, msglen, "test worker out of memory");
		return PULSE_HANDLER_ERROR;
	}
	log_line(t->evfd, "notify %s %s %" PRIu64 " %s\n", kt(key), t->id, now_ns(),
	         text);
	free(text);
	return PULSE_HANDLER_OK;
}

static int on_message(void *ud, const char *key, const void *payload,
                      size_t len, pulse_answer *answer, char *msg,
                      size_t msglen)
{
	struct tw *t = ud;
	char *text = escape(payload, len);
	if (!text) {
		snprintf(msg, msglen, "test worker out of memory");
		return PULSE_HANDLER_ERROR;
	}
	log_line(t->evfd, "message %s %s %" PRIu64 " %s\n", kt(key), t->id,
	         now_ns(), text);
	free(text);
	if (has_prefix(key, t->hang_message))
		wait_signal(t, -1); /* never answers; exits on a signal */
	if (has_prefix(key, t->fail_message)) {
		snprintf(msg, msglen, "message refused by test: %.*s", (int)len,
		         (const char *)payload);
		return PULSE_HANDLER_ERROR;
	}
	size_t idlen = strlen(t->id);
	char *out = malloc(idlen + 1 + len);
	if (!out) {
		snprintf(msg, msglen, "test worker out of memory");
		return PULSE_HANDLER_ERROR;
	}
	memcpy(out, t->id, idlen);
	out[idlen] = ':';
	if (len)
		memcpy(out + idlen + 1, payload, len);
	int code = pulse_answer_set(answer, out, idlen + 1 + len);
	free(out);
	if (code) {
		snprintf(msg, msglen, "answer refused: %s", pulse_strerror(code));
		return PULSE_HANDLER_ERROR;
	}
	return PULSE_HANDLER_OK;
}

static int usage(void)
{
	fprintf(stderr,
	        "usage: testworker [-s SOCKET] -p POOL [-n NAME] -l LOGFILE [-L EVENTLOG]\n"
	        "                  [--fail-start PREFIX] [--requeue-start PREFIX] [--requeue-once]\n"
	        "                  [--fail-stop PREFIX] [--start-delay MS] [--stop-delay MS]\n"
	        "                  [--requeue-stop-once] [--hang-start PREFIX] [--hang-stop PREFIX]\n"
	        "                  [--no-notify] [--notify-delay MS]\n"
	        "                  [--message] [--fail-message PREFIX] [--hang-message PREFIX]\n"
	        "                  [--detach-on-sigterm] [--reattach]\n");
	return 2;
}

static int parse_ms(const char *s, unsigned *ms)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (!*s || *end || v > 3600000u)
		return -1;
	*ms = (unsigned)v;
	return 0;
}

/* Options into t. Returns 0, or -1 on a usage error. */
static int parse_options(struct tw *t, int argc, char **argv)
{
	enum { O_FAIL_START = 256, O_REQUEUE_START, O_REQUEUE_ONCE, O_FAIL_STOP,
	       O_START_DELAY, O_STOP_DELAY, O_HANG_START, O_NO_NOTIFY, O_DETACH,
	       O_REQUEUE_STOP_ONCE, O_REATTACH, O_HANG_STOP, O_NOTIFY_DELAY,
	       O_MESSAGE, O_FAIL_MESSAGE, O_HANG_MESSAGE };
	static const struct option longopts[] = {
		{"socket", required_argument, NULL, 's'},
		{"pool", required_argument, NULL, 'p'},
		{"name", required_argument, NULL, 'n'},
		{"log", required_argument, NULL, 'l'},
		{"event-log", required_argument, NULL, 'L'},
		{"fail-start", required_argument, NULL, O_FAIL_START},
		{"requeue-start", required_argument, NULL, O_REQUEUE_START},
		{"requeue-once", no_argument, NULL, O_REQUEUE_ONCE},
		{"fail-stop", required_argument, NULL, O_FAIL_STOP},
		{"start-delay", required_argument, NULL, O_START_DELAY},
		{"stop-delay", required_argument, NULL, O_STOP_DELAY},
		{"notify-delay", required_argument, NULL, O_NOTIFY_DELAY},
		{"hang-start", required_argument, NULL, O_HANG_START},
		{"hang-stop", required_argument, NULL, O_HANG_STOP},
		{"no-notify", no_argument, NULL, O_NO_NOTIFY},
		{"detach-on-sigterm", no_argument, NULL, O_DETACH},
		{"requeue-stop-once", no_argument, NULL, O_REQUEUE_STOP_ONCE},
		{"reattach", no_argument, NULL, O_REATTACH},
		{"message", no_argument, NULL, O_MESSAGE},
		{"fail-message", required_argument, NULL, O_FAIL_MESSAGE},
		{"hang-message", required_argument, NULL, O_HANG_MESSAGE},
		{NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "s:p:n:l:L:", longopts, NULL)) != -1) {
		switch (c) {
		case 's': t->socket = optarg; break;
		case 'p': t->pool = optarg; break;
		case 'n': t->name = optarg; break;
		case 'l': t->logfile = optarg; break;
		case 'L': t->eventlog = optarg; break;
		case O_FAIL_START: t->fail_start = optarg; break;
		case O_REQUEUE_START: t->requeue_start = optarg; break;
		case O_REQUEUE_ONCE: t->requeue_once = 1; break;
		case O_FAIL_STOP: t->fail_stop = optarg; break;
		case O_HANG_START: t->hang_start = optarg; break;
		case O_HANG_STOP: t->hang_stop = optarg; break;
		case O_NO_NOTIFY: t->no_notify = 1; break;
		case O_DETACH: t->detach_on_sigterm = 1; break;
		case O_REQUEUE_STOP_ONCE: t->requeue_stop_once = 1; break;
		case O_REATTACH: t->reattach = 1; break;
		case O_MESSAGE: t->message = 1; break;
		case O_FAIL_MESSAGE: t->fail_message = optarg; break;
		case O_HANG_MESSAGE: t->hang_message = optarg; break;
		case O_START_DELAY:
			if (parse_ms(optarg, &t->start_delay) < 0)
				return -1;
			break;
		case O_STOP_DELAY:
			if (parse_ms(optarg, &t->stop_delay) < 0)
				return -1;
			break;
		case O_NOTIFY_DELAY:
			if (parse_ms(optarg, &t->notify_delay) < 0)
				return -1;
			break;
		default:
			return -1;
		}
	}
	return t->pool && t->logfile && optind == argc ? 0 : -1;
}

static int open_log(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		fprintf(stderr, "testworker: %s: %s\n", path, strerror(errno));
	return fd;
}

/* Attach and announce "ready ID". Returns NULL after saying why on stderr
 * when quiet is 0. */
static pulse_worker *attach(struct tw *t, int quiet)
{
	const pulse_handlers h = {.start = on_start, .stop = on_stop,
	                          .notify = t->no_notify ? NULL : on_notify,
	                          .message = t->message ? on_message : NULL};
	char err[256];
	int code;
	pulse_worker *w = pulse_worker_attach(t->socket, t->pool, t->name, &h, t,
	                                      &code, err, sizeof(err));
	if (!w) {
		if (!quiet)
			fprintf(stderr, "testworker: attach to %s: %s: %s\n", t->pool,
			        pulse_strerror(code), err);
		return NULL;
	}
	/* A copy: the final log lines are written after a detach freed w. */
	free(t->id);
	if (!(t->id = strdup(pulse_worker_id(w)))) {
		fprintf(stderr, "testworker: out of memory\n");
		exit(1);
	}
	printf("ready %s\n", t->id);
	fflush(stdout);
	return w;
}

/* Serve one session until a signal (returns 0, w still open) or its end
 * (returns the code, after saying why on stderr). This is the
 * external-loop use of the library: its fd is polled with ours. */
static int serve(struct tw *t, pulse_worker *w)
{
	struct pollfd fds[2] = {{.fd = pulse_worker_fd(w), .events = POLLIN},
	                        {.fd = t->sigfd, .events = POLLIN}};
	while (!t->term) {
		/* the library's deadline (pulsed's lease) bounds the wait */
		if (poll(fds, 2, pulse_worker_timeout(w)) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "testworker: poll: %s\n", strerror(errno));
			quit(t, 1);
		}
		if (fds[1].revents)
			take_signal(t);
		int code;
		if (!t->term && (code = pulse_worker_process(w))) {
			fprintf(stderr, "testworker %s: session ended: %s: %s\n", t->id,
			        pulse_strerror(code), pulse_worker_errmsg(w));
			return code;
		}
	}
	return 0;
}

/* --reattach: after a session ended, attach again every 100 ms until
 * pulsed takes the worker back; a signal ends the wait (and the process). */
static pulse_worker *reattach(struct tw *t)
{
	for (;;) {
		struct pollfd p = {.fd = t->sigfd, .events = POLLIN};
		if (poll(&p, 1, 100) > 0) {
			take_signal(t);
			if (t->term)
				quit(t, 0);
		}
		pulse_worker *w = attach(t, 1);
		if (w)
			return w;
	}
}

int main(int argc, char **argv)
{
	struct tw t = {.logfd = -1, .evfd = -1};
	if (parse_options(&t, argc, argv) < 0)
		return usage();
	if ((t.logfd = open_log(t.logfile)) < 0 ||
	    (t.eventlog && (t.evfd = open_log(t.eventlog)) < 0))
		return 1;
	if (set_init(&t.running) < 0 || set_init(&t.requeued) < 0 ||
	    set_init(&t.stop_requeued) < 0 || !(t.id = strdup("?"))) {
		fprintf(stderr, "testworker: out of memory\n");
		return 1;
	}
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	t.sigfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	if (t.sigfd < 0) {
		fprintf(stderr, "testworker: signalfd: %s\n", strerror(errno));
		return 1;
	}

	pulse_worker *w = attach(&t, 0);
	if (!w)
		return 1;
	while (serve(&t, w) != 0) {
		/* The session ended: pulsed no longer counts on what ran here. */
		pulse_worker_close(w);
		end_runs(&t);
		if (!t.reattach)
			quit(&t, 1);
		w = reattach(&t);
	}
	if (t.detach_on_sigterm) {
		int code = pulse_worker_detach(w); /* HALTs run on_stop; frees w */
		if (code)
			fprintf(stderr, "testworker: detach: %s\n", pulse_strerror(code));
	}
	/* Without a detach the process just exits: pulsed sees the socket
	 * close and moves the jobs at once. */
	quit(&t, 0);
}
