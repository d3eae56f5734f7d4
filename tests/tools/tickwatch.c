/*
 * tickwatch.c: a ticker subscriber for the integration tests.
 *
 *   tickwatch -s SOCKET -p POOL -N NAME -i INTERVAL_MS -l LOG [-S]
 *
 * Subscribes, prints "ready" on stdout, then appends one line per tick to
 * LOG: "tick SEQ TS_MS RECV_NS" (a single write each), and "end" when the
 * ticker is stopped (then exits 0). With -S it stops the ticker pool-wide
 * after its first tick. SIGTERM closes the subscription and exits 0.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pulse.h"

static void logline(int fd, const char *s)
{
	ssize_t w = write(fd, s, strlen(s));
	(void)w;
}

int main(int argc, char **argv)
{
	const char *sock = NULL, *pool = NULL, *name = NULL, *log = NULL;
	unsigned interval = 0;
	int stop = 0, c;
	while ((c = getopt(argc, argv, "s:p:N:i:l:S")) != -1) {
		switch (c) {
		case 's': sock = optarg; break;
		case 'p': pool = optarg; break;
		case 'N': name = optarg; break;
		case 'i': interval = (unsigned)atoi(optarg); break;
		case 'l': log = optarg; break;
		case 'S': stop = 1; break;
		default:
			fprintf(stderr, "usage: tickwatch -s SOCKET -p POOL -N NAME "
			                "-i INTERVAL_MS -l LOG [-S]\n");
			return 2;
		}
	}
	if (!pool || !name || !log) {
		fprintf(stderr, "tickwatch: -p, -N and -l are required\n");
		return 2;
	}
	int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd < 0) {
		perror(log);
		return 1;
	}
	char err[256];
	int code;
	pulse_ticker *t = pulse_ticker_open(sock, pool, name, interval, &code, err,
	                                    sizeof(err));
	if (!t) {
		fprintf(stderr, "tickwatch: %s: %s\n", pulse_strerror(code), err);
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		uint64_t seq, ts;
		code = pulse_ticker_next(t, -1, &seq, &ts);
		if (code) {
			logline(fd, "end\n");
			break;
		}
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		char line[128];
		snprintf(line, sizeof(line), "tick %llu %llu %llu\n",
		         (unsigned long long)seq, (unsigned long long)ts,
		         (unsigned long long)now.tv_sec * 1000000000ull +
		                 (unsigned long long)now.tv_nsec);
		logline(fd, line);
		if (stop) {
			pulse_ticker_stop(t);
			stop = 0;
		}
	}
	pulse_ticker_close(t);
	return code == PULSE_ERR_CLOSED ? 0 : 1;
}
