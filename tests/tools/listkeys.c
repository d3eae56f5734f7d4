/*
 * listkeys.c: list a pool's job keys through libpulse-client, for the
 * bench (the time and memory of a listing of any size) and tests.
 *
 *   listkeys -s SOCKET -p POOL [-a] [-m GLOB] [-l LIMIT]
 *
 * Counts the keys pulse_jobs_each() hands over one at a time (bounded
 * memory), or with -a those pulse_job_keys() gathers into one array (all
 * in memory), and prints "keys N bytes B seconds S"; exits 1 on failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pulse.h"

struct tally {
	uint64_t keys, bytes;
};

static int count_key(void *arg, const char *key, size_t len)
{
	(void)key;
	struct tally *t = arg;
	t->keys++;
	t->bytes += len;
	return 0;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const char *sock = NULL, *pool = NULL;
	pulse_jobs_query q = {0};
	int all = 0, c;
	while ((c = getopt(argc, argv, "s:p:am:l:")) != -1) {
		switch (c) {
		case 's': sock = optarg; break;
		case 'p': pool = optarg; break;
		case 'a': all = 1; break;
		case 'm': q.match = optarg; break;
		case 'l': q.limit = strtoull(optarg, NULL, 10); break;
		default:
			fprintf(stderr, "usage: listkeys -s SOCKET -p POOL [-a] [-m GLOB] [-l LIMIT]\n");
			return 2;
		}
	}
	if (!pool) {
		fprintf(stderr, "listkeys: -p POOL is required\n");
		return 2;
	}
	char err[512];
	int code;
	pulse_client *cl = pulse_connect(sock, &code, err, sizeof(err));
	if (!cl) {
		fprintf(stderr, "listkeys: %s: %s\n", pulse_strerror(code), err);
		return 1;
	}
	struct tally t = {0, 0};
	double t0 = now_s();
	if (all) {
		char **keys;
		size_t n;
		if (!(code = pulse_job_keys(cl, pool, &keys, &n))) {
			for (size_t i = 0; i < n; i++)
				count_key(&t, keys[i], strlen(keys[i]));
			pulse_free_keys(keys);
		}
	} else {
		code = pulse_jobs_each(cl, pool, &q, count_key, &t, NULL);
	}
	double secs = now_s() - t0;
	if (code) {
		fprintf(stderr, "listkeys: %s: %s\n", pulse_strerror(code), pulse_errmsg(cl));
		pulse_close(cl);
		return 1;
	}
	printf("keys %llu bytes %llu seconds %.3f\n", (unsigned long long)t.keys,
	       (unsigned long long)t.bytes, secs);
	pulse_close(cl);
	return 0;
}
