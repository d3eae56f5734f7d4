/*
 * rtt.c: the Redis round trip that `make bench` compares everything with.
 *
 *   rtt SOCKET [COUNT] [--raw | COMMAND...]
 *
 * Sends COMMAND (default PING) COUNT times (default 20000, after 1000 not
 * counted) over one hiredis connection on the Unix socket SOCKET, the
 * connection kind pulsed uses, one at a time, and prints one JSON object:
 * n, mean_us, p50_us, p90_us, p99_us, p999_us, min_us; with --raw, every
 * round trip in us instead, one per line, in the order measured.
 */
#include <hiredis/hiredis.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: rtt SOCKET [COUNT] [COMMAND...]\n");
		return 2;
	}
	long n = argc > 2 ? atol(argv[2]) : 20000;
	int raw = argc > 3 && strcmp(argv[3], "--raw") == 0;
	int cargc = argc > 3 && !raw ? argc - 3 : 1;
	const char *ping[] = {"PING"};
	const char **cargv = argc > 3 && !raw ? (const char **)argv + 3 : ping;
	redisContext *c = redisConnectUnix(argv[1]);
	if (!c || c->err) {
		fprintf(stderr, "rtt: %s\n", c ? c->errstr : "out of memory");
		return 1;
	}
	uint64_t *v = malloc((size_t)n * sizeof(*v));
	double sum = 0;
	for (long i = -1000; i < n; i++) {
		uint64_t t = now_ns();
		redisReply *r = redisCommandArgv(c, cargc, cargv, NULL);
		uint64_t dt = now_ns() - t;
		if (!r) {
			fprintf(stderr, "rtt: %s\n", c->errstr);
			return 1;
		}
		freeReplyObject(r);
		if (i >= 0) {
			v[i] = dt;
			sum += (double)dt;
		}
	}
	if (raw) {
		for (long i = 0; i < n; i++)
			printf("%.2f\n", (double)v[i] / 1000.0);
		redisFree(c);
		free(v);
		return 0;
	}
	qsort(v, (size_t)n, sizeof(*v), cmp);
#define P(p) ((double)v[(size_t)((p) * (double)(n - 1))] / 1000.0)
	printf("{\"n\": %ld, \"mean_us\": %.2f, \"p50_us\": %.2f, \"p90_us\": %.2f, "
	       "\"p99_us\": %.2f, \"p999_us\": %.2f, \"min_us\": %.2f}\n",
	       n, sum / (double)n / 1000.0, P(0.5), P(0.9), P(0.99), P(0.999),
	       (double)v[0] / 1000.0);
	redisFree(c);
	free(v);
	return 0;
}
