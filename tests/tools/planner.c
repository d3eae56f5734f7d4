/*
 * planner.c: a schedule producer for the integration tests.
 *
 *   planner -s SOCKET -p POOL -N NAME -i INTERVAL_MS -f PLANFILE -l LOG
 *
 * Schedules NAME in POOL every INTERVAL_MS, prints "ready" on stdout once
 * pulsed accepted it, then computes every plan pulsed asks of it from
 * PLANFILE, read again for each plan. PLANFILE holds one directive a line,
 * applied in order:
 *   start KEY [PAYLOAD]   start KEY; PAYLOAD is the rest of the line
 *   stop KEY              stop KEY
 *   all                   StopAll: stop what the schedule started and this
 *                         plan does not start
 *   end                   end the schedule on every node (answered at once)
 *   fail MESSAGE          fail this plan with MESSAGE (answered at once)
 * Blank lines and lines starting with '#' are skipped; a missing or empty
 * file is an empty plan. An unknown directive or a key the library refuses
 * fails the plan with a message saying which line.
 *
 * LOG gets one line per plan computed, "plan NS" (CLOCK_REALTIME
 * nanoseconds), and "end" when the schedule ended (then exit 0). SIGTERM
 * and SIGINT stop the producer, close it and exit 0. Exit 1 when the
 * session ends otherwise, 2 on bad usage.
 *
 * Invariants: every log line is one write(2) to an O_APPEND descriptor.
 * Signals are blocked and taken by a thread with sigwait(), which calls
 * pulse_producer_stop(): no signal handler and no global state.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pulse.h"

struct planner {
	const char *planfile;
	int logfd;
};

static void logline(int fd, const char *s)
{
	ssize_t w = write(fd, s, strlen(s));
	(void)w;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Cut the first word off *s: returns it NUL-terminated and leaves *s at
 * the text after the blanks that follow it. */
static char *word(char **s)
{
	char *w = *s + strspn(*s, " \t");
	char *e = w + strcspn(w, " \t");
	*s = e + strspn(e, " \t");
	if (*e)
		*e = 0;
	return w;
}

/* Apply one directive to the plan. Returns PULSE_PLAN_OK to go on, or
 * the plan's answer (END, or ERROR with msg filled). */
static int directive(char *line, unsigned n, pulse_plan *plan, char *msg,
                     size_t msglen)
{
	char *rest = line;
	char *cmd = word(&rest);
	int code = 0;
	if (!*cmd || *cmd == '#')
		return PULSE_PLAN_OK;
	if (strcmp(cmd, "end") == 0)
		return PULSE_PLAN_END;
	if (strcmp(cmd, "fail") == 0) {
		snprintf(msg, msglen, "%s", rest);
		return PULSE_PLAN_ERROR;
	}
	if (strcmp(cmd, "all") == 0) {
		pulse_plan_stop_all(plan);
		return PULSE_PLAN_OK;
	}
	if (strcmp(cmd, "start") == 0) {
		char *key = word(&rest);
		code = pulse_plan_start(plan, key, rest, strlen(rest));
	} else if (strcmp(cmd, "stop") == 0) {
		code = pulse_plan_stop(plan, word(&rest));
	} else {
		snprintf(msg, msglen, "plan file line %u: unknown directive '%s'", n,
		         cmd);
		return PULSE_PLAN_ERROR;
	}
	if (code) {
		snprintf(msg, msglen, "plan file line %u: %s: %s", n,
		         pulse_strerror(code), pulse_plan_errmsg(plan));
		return PULSE_PLAN_ERROR;
	}
	return PULSE_PLAN_OK;
}

/* The plan function: the plan file as it is now. */
static int plan(void *ud, const char *name, pulse_plan *pl, char *msg,
                size_t msglen)
{
	struct planner *pr = ud;
	(void)name;
	int r = PULSE_PLAN_OK;
	FILE *f = fopen(pr->planfile, "r");
	if (!f && errno != ENOENT) {
		snprintf(msg, msglen, "%s: %s", pr->planfile, strerror(errno));
		r = PULSE_PLAN_ERROR;
	}
	if (f) {
		char *line = NULL;
		size_t cap = 0;
		unsigned n = 0;
		while (r == PULSE_PLAN_OK && getline(&line, &cap, f) >= 0) {
			line[strcspn(line, "\r\n")] = 0;
			r = directive(line, ++n, pl, msg, msglen);
		}
		free(line);
		fclose(f);
	}
	char buf[64];
	snprintf(buf, sizeof(buf), "plan %llu\n", (unsigned long long)now_ns());
	logline(pr->logfd, buf);
	return r;
}

struct sigwatch {
	pulse_producer *p;
	sigset_t set;
};

/* The signal thread: the first SIGTERM or SIGINT stops the producer. */
static void *watch_signals(void *arg)
{
	struct sigwatch *w = arg;
	int sig;
	if (sigwait(&w->set, &sig) == 0)
		pulse_producer_stop(w->p);
	return NULL;
}

int main(int argc, char **argv)
{
	const char *sock = NULL, *pool = NULL, *name = NULL, *log = NULL;
	struct planner pr = {0};
	unsigned interval = 0;
	int c;
	while ((c = getopt(argc, argv, "s:p:N:i:f:l:")) != -1) {
		switch (c) {
		case 's': sock = optarg; break;
		case 'p': pool = optarg; break;
		case 'N': name = optarg; break;
		case 'i': interval = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'f': pr.planfile = optarg; break;
		case 'l': log = optarg; break;
		default:
			fprintf(stderr, "usage: planner -s SOCKET -p POOL -N NAME "
			                "-i INTERVAL_MS -f PLANFILE -l LOG\n");
			return 2;
		}
	}
	if (!pool || !name || !pr.planfile || !log) {
		fprintf(stderr, "planner: -p, -N, -f and -l are required\n");
		return 2;
	}
	pr.logfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (pr.logfd < 0) {
		perror(log);
		return 1;
	}
	/* Blocked before any thread exists, so that every thread inherits
	 * the mask and only sigwait() takes them. */
	struct sigwatch w;
	sigemptyset(&w.set);
	sigaddset(&w.set, SIGTERM);
	sigaddset(&w.set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &w.set, NULL);

	char err[256];
	int code;
	w.p = pulse_schedule(sock, pool, name, interval, plan, &pr, &code, err,
	                     sizeof(err));
	if (!w.p) {
		fprintf(stderr, "planner: %s: %s\n", pulse_strerror(code), err);
		return 1;
	}
	pthread_t th;
	if ((errno = pthread_create(&th, NULL, watch_signals, &w)) != 0) {
		perror("planner: pthread_create");
		pulse_producer_close(w.p);
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	code = pulse_producer_run(w.p);
	/* The signal thread must be gone before p is freed. */
	pthread_cancel(th);
	pthread_join(th, NULL);
	/* 0 after a stop (the session still open) or once the schedule
	 * ended (the session closed: no fd). */
	if (code == 0 && pulse_producer_fd(w.p) < 0)
		logline(pr.logfd, "end\n");
	else if (code)
		fprintf(stderr, "planner: %s: %s\n", pulse_strerror(code),
		        pulse_producer_errmsg(w.p));
	pulse_producer_close(w.p);
	return code ? 1 : 0;
}
