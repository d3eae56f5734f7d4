/*
 * bulkdispatch.c: dispatch many jobs over one client session, for tests
 * and measurements that need thousands of jobs quickly.
 *
 *   bulkdispatch -s SOCKET -p POOL -n COUNT [-k PREFIX] [-o FIRST]
 *
 * Dispatches PREFIX<FIRST> .. PREFIX<FIRST+COUNT-1> one after the other
 * (each waits for its start, as DISPATCH does), prints "dispatched N
 * failed M us_per_dispatch X" and exits 1 if any failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pulse.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const char *sock = NULL, *pool = NULL, *prefix = "job-";
	long n = 0, first = 0;
	int c;
	while ((c = getopt(argc, argv, "s:p:n:k:o:")) != -1) {
		switch (c) {
		case 's': sock = optarg; break;
		case 'p': pool = optarg; break;
		case 'n': n = atol(optarg); break;
		case 'k': prefix = optarg; break;
		case 'o': first = atol(optarg); break;
		default:
			fprintf(stderr, "usage: bulkdispatch -s SOCKET -p POOL -n COUNT "
			                "[-k PREFIX] [-o FIRST]\n");
			return 2;
		}
	}
	if (!pool || n <= 0) {
		fprintf(stderr, "bulkdispatch: -p POOL and -n COUNT are required\n");
		return 2;
	}
	char err[256];
	int code;
	pulse_client *cl = pulse_connect(sock, &code, err, sizeof(err));
	if (!cl) {
		fprintf(stderr, "bulkdispatch: %s: %s\n", pulse_strerror(code), err);
		return 1;
	}
	long failed = 0;
	double t0 = now_s();
	for (long i = first; i < first + n; i++) {
		char key[1100]; /* a key is up to 1,024 bytes */
		snprintf(key, sizeof(key), "%s%ld", prefix, i);
		if ((code = pulse_dispatch(cl, pool, key, key, strlen(key))) != 0) {
			if (failed++ < 5)
				fprintf(stderr, "bulkdispatch: %s: %s: %s\n", key,
				        pulse_strerror(code), pulse_errmsg(cl));
		}
	}
	double dt = now_s() - t0;
	printf("dispatched %ld failed %ld us_per_dispatch %.1f\n", n - failed,
	       failed, dt * 1e6 / (double)n);
	pulse_close(cl);
	return failed ? 1 : 0;
}
