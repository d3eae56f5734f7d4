/*
 * util.c: clocks and allocation helpers shared by the daemon's files.
 *
 * Invariant: allocation failure aborts (pulsed cannot keep its promises
 * half-allocated, and systemd restarts it); clocks are monotonic.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pulsed.h"

uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t now_ms(void)
{
	return now_us() / 1000u;
}

void *xmemdup(const void *p, size_t n)
{
	char *q = malloc(n + 1);
	if (!q)
		abort();
	if (n)
		memcpy(q, p, n);
	q[n] = '\0';
	return q;
}

char *xstrndup(const char *s, size_t n)
{
	return xmemdup(s, n);
}

void timer_arm_ms(struct event *ev, uint64_t ms)
{
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
	evtimer_add(ev, &tv);
}

char *xstrdup(const char *s)
{
	return xmemdup(s, strlen(s));
}
