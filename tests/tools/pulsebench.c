/*
 * pulsebench.c: a load generator for pulsed, on libpulse-client.
 *
 *   pulsebench -s SOCKET[,SOCKET...] -p POOL [-m dispatch|notify|stop]
 *              [-c SESSIONS] [-n COUNT] [-d SECONDS] [-r RATE] [-k PREFIX]
 *              [-o FIRST] [-P PAYLOAD_BYTES] [-w WARMUP] [-t TIMEOUT_MS]
 *
 * Each of SESSIONS threads opens its own client session (thread i on the
 * i-th socket of the list, round robin) and takes request indexes from one
 * shared counter; request i works on key PREFIX<FIRST+i>, so a later
 * `-m notify` or `-m stop` run with the same -k/-o/-n reaches the jobs an
 * earlier dispatch run created.
 *
 *   closed loop (no -r): every session sends its next request as soon as
 *     the previous one answered, until COUNT requests were sent or SECONDS
 *     passed. Latency is send to answer.
 *   open loop (-r RATE): request i is due at t0 + i/RATE, fixed in
 *     advance; a session sleeps until the due time of the index it took
 *     and latency is measured from the DUE time, not the send time, so a
 *     slow answer that delays later sends counts against them (no
 *     coordinated omission). COUNT defaults to RATE * SECONDS.
 *
 * The first WARMUP requests (closed loop only) are sent but not counted.
 * Prints one JSON object on stdout: n, failed, elapsed_s, rps, mean_us,
 * p50_us, p90_us, p99_us, p999_us, max_us, late (open loop: sends that
 * left more than 1 ms after their due time). Exits 1 if any request
 * failed (the first few errors go to stderr).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "pulse.h"

enum op { OP_DISPATCH, OP_NOTIFY, OP_STOP };

struct bench {
	char **socks;
	int nsocks;
	const char *pool, *prefix;
	enum op op;
	int sessions;
	long count;      /* 0: until the duration ends */
	double seconds;  /* 0: until count */
	double rate;     /* > 0: open loop */
	long first;
	long warmup;
	size_t payload_len;
	unsigned timeout_ms;
	char *payload;
	uint64_t t0_ns, deadline_ns;
	atomic_long next;
	atomic_long failed;
	atomic_long late;
	atomic_int errors_shown;
	atomic_int ready;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int go;
};

struct thread {
	struct bench *b;
	int idx;
	pulse_client *cl;
	uint64_t *lat; /* ns */
	size_t n, cap;
	long failed;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = {.tv_sec = (time_t)(t / 1000000000u),
	                      .tv_nsec = (long)(t % 1000000000u)};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static void record(struct thread *t, uint64_t ns)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 4096;
		t->lat = realloc(t->lat, t->cap * sizeof(*t->lat));
		if (!t->lat) {
			perror("pulsebench: realloc");
			exit(2);
		}
	}
	t->lat[t->n++] = ns;
}

static int one(struct thread *t, long i)
{
	struct bench *b = t->b;
	char key[256];
	snprintf(key, sizeof(key), "%s%ld", b->prefix, b->first + i);
	int code;
	switch (b->op) {
	case OP_DISPATCH:
		code = pulse_dispatch(t->cl, b->pool, key, b->payload, b->payload_len);
		break;
	case OP_NOTIFY:
		code = pulse_notify(t->cl, b->pool, key, b->payload, b->payload_len);
		break;
	default:
		code = pulse_stop_job(t->cl, b->pool, key);
		break;
	}
	if (code != 0) {
		atomic_fetch_add(&b->failed, 1);
		if (atomic_fetch_add(&b->errors_shown, 1) < 5)
			fprintf(stderr, "pulsebench: %s: %s: %s\n", key,
			        pulse_strerror(code), pulse_errmsg(t->cl));
		if (code == PULSE_ERR_CLOSED || code == PULSE_ERR_TIMEOUT ||
		    code == PULSE_ERR_PROTOCOL) {
			/* the session is gone: open another one */
			pulse_close(t->cl);
			int c2;
			char err[256];
			t->cl = pulse_connect(b->socks[t->idx % b->nsocks], &c2, err,
			                      sizeof(err));
			if (!t->cl) {
				fprintf(stderr, "pulsebench: reconnect: %s\n", err);
				exit(1);
			}
			if (b->timeout_ms)
				pulse_set_timeout(t->cl, b->timeout_ms);
		}
	}
	return code;
}

static void *run(void *arg)
{
	struct thread *t = arg;
	struct bench *b = t->b;
	pthread_mutex_lock(&b->lock);
	atomic_fetch_add(&b->ready, 1);
	pthread_cond_broadcast(&b->cond);
	while (!b->go)
		pthread_cond_wait(&b->cond, &b->lock);
	pthread_mutex_unlock(&b->lock);

	if (b->rate > 0) {
		double period = 1e9 / b->rate;
		for (;;) {
			long i = atomic_fetch_add(&b->next, 1);
			if (i >= b->count)
				break;
			uint64_t due = b->t0_ns + (uint64_t)(period * (double)i);
			uint64_t now = now_ns();
			if (now < due)
				sleep_until(due);
			else if (now - due > 1000000)
				atomic_fetch_add(&b->late, 1);
			one(t, i);
			record(t, now_ns() - due);
		}
		return NULL;
	}
	for (;;) {
		long i = atomic_fetch_add(&b->next, 1);
		if (b->count && i >= b->count + b->warmup)
			break;
		uint64_t s = now_ns();
		if (b->deadline_ns && s >= b->deadline_ns)
			break;
		one(t, i);
		if (i >= b->warmup)
			record(t, now_ns() - s);
	}
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static double pct(const uint64_t *v, size_t n, double p)
{
	if (n == 0)
		return 0;
	size_t i = (size_t)(p * (double)n);
	if (i >= n)
		i = n - 1;
	return (double)v[i] / 1000.0;
}

static void usage(void)
{
	fprintf(stderr,
	        "usage: pulsebench -s SOCKET[,SOCKET...] -p POOL [-m dispatch|notify|stop]\n"
	        "                  [-c SESSIONS] [-n COUNT] [-d SECONDS] [-r RATE]\n"
	        "                  [-k PREFIX] [-o FIRST] [-P BYTES] [-w WARMUP] [-t MS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static struct bench b = {
		.prefix = "bench-", .sessions = 1, .payload_len = 16,
		.timeout_ms = 60000,
		.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER,
	};
	char *socks = NULL;
	const char *mode = "dispatch";
	int c;
	while ((c = getopt(argc, argv, "s:p:m:c:n:d:r:k:o:P:w:t:")) != -1) {
		switch (c) {
		case 's': socks = optarg; break;
		case 'p': b.pool = optarg; break;
		case 'm': mode = optarg; break;
		case 'c': b.sessions = atoi(optarg); break;
		case 'n': b.count = atol(optarg); break;
		case 'd': b.seconds = atof(optarg); break;
		case 'r': b.rate = atof(optarg); break;
		case 'k': b.prefix = optarg; break;
		case 'o': b.first = atol(optarg); break;
		case 'P': b.payload_len = (size_t)atol(optarg); break;
		case 'w': b.warmup = atol(optarg); break;
		case 't': b.timeout_ms = (unsigned)atol(optarg); break;
		default: usage();
		}
	}
	if (!socks || !b.pool || b.sessions < 1)
		usage();
	if (strcmp(mode, "dispatch") == 0)
		b.op = OP_DISPATCH;
	else if (strcmp(mode, "notify") == 0)
		b.op = OP_NOTIFY;
	else if (strcmp(mode, "stop") == 0)
		b.op = OP_STOP;
	else
		usage();
	if (b.rate > 0 && b.count == 0)
		b.count = (long)(b.rate * b.seconds);
	if (b.rate > 0)
		b.warmup = 0;
	if (b.count == 0 && b.seconds <= 0)
		usage();
	for (char *s = strtok(socks, ","); s; s = strtok(NULL, ",")) {
		b.socks = realloc(b.socks, (size_t)(b.nsocks + 1) * sizeof(*b.socks));
		b.socks[b.nsocks++] = s;
	}
	b.payload = malloc(b.payload_len + 1);
	memset(b.payload, 'x', b.payload_len);
	/* precise sleeps for the open loop's schedule */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);

	struct thread *ts = calloc((size_t)b.sessions, sizeof(*ts));
	pthread_t *tids = calloc((size_t)b.sessions, sizeof(*tids));
	for (int i = 0; i < b.sessions; i++) {
		int code;
		char err[256];
		ts[i].b = &b;
		ts[i].idx = i;
		ts[i].cl = pulse_connect(b.socks[i % b.nsocks], &code, err, sizeof(err));
		if (!ts[i].cl) {
			fprintf(stderr, "pulsebench: connect %s: %s: %s\n",
			        b.socks[i % b.nsocks], pulse_strerror(code), err);
			return 1;
		}
		if (b.timeout_ms)
			pulse_set_timeout(ts[i].cl, b.timeout_ms);
		if (pthread_create(&tids[i], NULL, run, &ts[i]) != 0) {
			perror("pulsebench: pthread_create");
			return 1;
		}
	}
	pthread_mutex_lock(&b.lock);
	while (atomic_load(&b.ready) < b.sessions)
		pthread_cond_wait(&b.cond, &b.lock);
	b.t0_ns = now_ns() + 2000000; /* the schedule starts in 2 ms */
	if (b.seconds > 0 && b.rate <= 0)
		b.deadline_ns = b.t0_ns + (uint64_t)(b.seconds * 1e9);
	b.go = 1;
	pthread_cond_broadcast(&b.cond);
	pthread_mutex_unlock(&b.lock);
	if (b.rate <= 0)
		sleep_until(b.t0_ns);
	uint64_t start = b.rate > 0 ? b.t0_ns : now_ns();
	for (int i = 0; i < b.sessions; i++)
		pthread_join(tids[i], NULL);
	double elapsed = (double)(now_ns() - start) / 1e9;

	size_t n = 0;
	for (int i = 0; i < b.sessions; i++)
		n += ts[i].n;
	uint64_t *all = malloc((n ? n : 1) * sizeof(*all));
	size_t k = 0;
	double sum = 0;
	for (int i = 0; i < b.sessions; i++) {
		memcpy(all + k, ts[i].lat, ts[i].n * sizeof(*all));
		k += ts[i].n;
		pulse_close(ts[i].cl);
		free(ts[i].lat);
	}
	for (size_t i = 0; i < n; i++)
		sum += (double)all[i];
	qsort(all, n, sizeof(*all), cmp_u64);
	long sent = atomic_load(&b.next);
	if (b.count && sent > b.count + b.warmup)
		sent = b.count + b.warmup;
	if (b.deadline_ns) /* every thread took one index past the deadline */
		sent -= b.sessions;
	printf("{\"op\": \"%s\", \"sessions\": %d, \"rate\": %.1f, \"n\": %zu, "
	       "\"sent\": %ld, \"failed\": %ld, \"elapsed_s\": %.4f, \"rps\": %.1f, "
	       "\"mean_us\": %.1f, \"p50_us\": %.1f, \"p90_us\": %.1f, "
	       "\"p99_us\": %.1f, \"p999_us\": %.1f, \"max_us\": %.1f, "
	       "\"late\": %ld}\n",
	       mode, b.sessions, b.rate, n, sent, atomic_load(&b.failed), elapsed,
	       elapsed > 0 ? (double)n / elapsed : 0, n ? sum / (double)n / 1000.0 : 0,
	       pct(all, n, 0.5), pct(all, n, 0.9), pct(all, n, 0.99),
	       pct(all, n, 0.999), n ? (double)all[n - 1] / 1000.0 : 0,
	       atomic_load(&b.late));
	free(all);
	return atomic_load(&b.failed) ? 1 : 0;
}
