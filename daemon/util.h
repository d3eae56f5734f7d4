/*
 * util.h: allocation that cannot fail, for every daemon file (the lower
 * ones, config.c and table.c, included: they do not see pulsed.h).
 *
 * Invariant: on failure fatal_oom() writes what could not be allocated to
 * stderr (the journal under systemd) and aborts: pulsed cannot keep its
 * promises half-allocated, and systemd restarts it. No caller checks for
 * NULL.
 */
#ifndef PULSED_UTIL_H
#define PULSED_UTIL_H

#include <stddef.h>

void fatal_oom(const char *what) __attribute__((noreturn));
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
void *xmemdup(const void *p, size_t n); /* NUL-terminated copy */
char *xstrndup(const char *s, size_t n);
char *xstrdup(const char *s);

#endif
