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
#include <stdint.h>

void fatal_oom(const char *what) __attribute__((noreturn));
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
void *xmemdup(const void *p, size_t n); /* NUL-terminated copy */
char *xstrndup(const char *s, size_t n);
char *xstrdup(const char *s);

/* Text primitives for the parsers (config.c, addr.c). */
/* A character of pool names, node ids and host names: A-Z a-z 0-9 . _ : - */
int name_char(unsigned char ch);
/* A run of decimal digits and nothing else, at most max: 0, or -1. */
int parse_decimal(const char *s, size_t n, uint64_t max, uint64_t *out);
int hex_digit(char ch); /* 0-15, or -1 */

#endif
