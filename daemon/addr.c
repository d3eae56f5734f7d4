/*
 * addr.c: the addresses a config names: "host:port" (metrics.listen, the
 * authority of a URL) and the Redis URL (redis://, rediss://, unix://).
 *
 * Owns: parsing them into parts, with a message saying what is wrong;
 * nothing here knows the config's schema or reports where a value came
 * from (config.c does, with the message). I/O-free.
 *
 * Invariants:
 *   - A parse that fails leaves nothing allocated (addr_free on every
 *     error path) and writes why into err.
 *   - User and password are percent-decoded; one holding a NUL byte is
 *     malformed.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "addr.h"
#include "util.h"

#define DEFAULT_REDIS_PORT 6379
#define SUN_PATH_MAX sizeof(((struct sockaddr_un *)0)->sun_path)

/* Write why into err; -1, for `return why(...)`. */
static int why(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int why(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

void addr_free(struct redis_addr *a)
{
	free(a->host);
	free(a->unix_path);
	free(a->user);
	free(a->password);
	memset(a, 0, sizeof(*a));
}

/* Split "host:port" or "[v6]:port" (port optional when defport > 0).
 * Serves both metrics.listen and the authority of a redis:// URL. Returns
 * NULL, or why it is malformed. The host is returned without brackets. */
const char *addr_hostport(const char *s, size_t n, int defport,
                                  char **host, int *port)
{
	const char *h = s, *rest;
	size_t hl;
	if (n > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', n);
		if (!close)
			return "missing ']' after an IPv6 address";
		h = s + 1;
		hl = (size_t)(close - h);
		rest = close + 1;
		for (size_t i = 0; i < hl; i++)
			if (hex_digit(h[i]) < 0 && h[i] != ':' && h[i] != '.')
				return "malformed IPv6 address";
	} else {
		const char *colon = memchr(s, ':', n);
		hl = colon ? (size_t)(colon - s) : n;
		rest = s + hl;
		for (size_t i = 0; i < hl; i++)
			if (!name_char((unsigned char)h[i]) || h[i] == ':')
				return "malformed host (IPv6 addresses go in brackets)";
	}
	if (hl == 0)
		return "missing host";
	size_t rl = n - (size_t)(rest - s);
	uint64_t p = (uint64_t)defport;
	if (rl > 0) {
		if (rest[0] != ':')
			return "malformed host";
		if (parse_decimal(rest + 1, rl - 1, 65535, &p) < 0 || p == 0)
			return "the port must be a number from 1 to 65535";
	} else if (defport <= 0) {
		return "missing port";
	}
	*host = xstrndup(h, hl);
	*port = (int)p;
	return NULL;
}

/* Percent-decode the user or password of a URL; NULL when malformed or
 * when it would hold a NUL byte. */
static char *percent_decode(const char *s, size_t n)
{
	char *out = xstrndup(s, n);
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '%') {
			out[o++] = s[i];
			continue;
		}
		int hi = i + 2 < n ? hex_digit(s[i + 1]) : -1;
		int lo = i + 2 < n ? hex_digit(s[i + 2]) : -1;
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
			free(out);
			return NULL;
		}
		out[o++] = (char)(hi * 16 + lo);
		i += 2;
	}
	out[o] = '\0';
	return out;
}

/* The authority of a redis:// URL: everything up to the path or query. */
static size_t url_authority_len(const char *rest)
{
	return strcspn(rest, "/?#");
}

/* The last '@' of the authority separates the user info from the host
 * (a password may hold an encoded '@', never a raw one after the host). */
static const char *url_userinfo_end(const char *auth, size_t alen)
{
	const char *at = NULL;
	for (size_t i = 0; i < alen; i++)
		if (auth[i] == '@')
			at = auth + i;
	return at;
}

#define REDIS_URL_FORMS \
	"expected redis://[user:password@]host[:port][/db], the same with " \
	"rediss:// (TLS) or " \
	"unix://[user:password@]/path[?db=N]"

/* "user[:password]" (from rest up to ui, the '@'), %-decoded into a: one
 * parser for both URL forms. */
static int userinfo(const char *rest, const char *ui, struct redis_addr *a,
                    char *err, size_t errlen)
{
	const char *colon = memchr(rest, ':', (size_t)(ui - rest));
	size_t ulen = colon ? (size_t)(colon - rest) : (size_t)(ui - rest);
	char *user = percent_decode(rest, ulen);
	char *pass = colon ? percent_decode(colon + 1, (size_t)(ui - colon - 1))
	                   : NULL;
	if (!user || (colon && !pass)) {
		free(user);
		free(pass);
		return why(err, errlen, "malformed %%-escape in the user or password");
	}
	if (pass && !*pass) {
		free(user);
		free(pass);
		return why(err, errlen, "the password after ':' is empty");
	}
	a->user = *user ? user : NULL;
	if (!*user)
		free(user);
	a->password = pass;
	return 0;
}

/* redis://[user[:password]@]host[:port][/db] */
static int tcp_url(const char *rest, struct redis_addr *a, char *err,
                   size_t errlen)
{
	size_t alen = url_authority_len(rest);
	const char *hp = rest, *ui = url_userinfo_end(rest, alen);
	if (ui) {
		if (userinfo(rest, ui, a, err, errlen) < 0)
			return -1;
		hp = ui + 1;
	}
	char *host = NULL;
	int port;
	const char *bad =
		addr_hostport(hp, (size_t)(rest + alen - hp), DEFAULT_REDIS_PORT,
		              &host, &port);
	if (bad)
		return why(err, errlen, "%s", bad);
	a->host = host;
	a->port = port;
	const char *path = rest + alen;
	uint64_t db = 0;
	if (*path && strcmp(path, "/") != 0 &&
	    (path[0] != '/' || parse_decimal(path + 1, strlen(path + 1), INT_MAX,
	                                     &db) < 0))
		return why(err, errlen,
		           "expected \"/DB\" (a database number) after the host");
	a->db = (int)db;
	return 0;
}

/* unix://[user[:password]@]/path/to/redis.sock[?db=N] */
static int unix_url(const char *path, struct redis_addr *a, char *err,
                    size_t errlen)
{
	if (path[0] != '/') {
		const char *ui = url_userinfo_end(path, url_authority_len(path));
		if (!ui || ui[1] != '/')
			return why(err, errlen, "expected unix://[user:password@]"
			           "/absolute/path[?db=N]");
		if (userinfo(path, ui, a, err, errlen) < 0)
			return -1;
		path = ui + 1;
	}
	size_t plen = strcspn(path, "?");
	uint64_t db = 0;
	if (plen >= SUN_PATH_MAX)
		return why(err, errlen, "a socket path must be shorter than %zu bytes",
		            SUN_PATH_MAX);
	if (path[plen]) {
		const char *q = path + plen + 1;
		if (strncmp(q, "db=", 3) != 0 ||
		    parse_decimal(q + 3, strlen(q + 3), INT_MAX, &db) < 0)
			return why(err, errlen, "the only query parameter is db=N");
	}
	a->unix_path = xstrndup(path, plen);
	a->port = 0;
	a->db = (int)db;
	return 0;
}

int addr_redis_url(const char *u, struct redis_addr *a, char *err,
                   size_t errlen)
{
	memset(a, 0, sizeof(*a));
	int r;
	if (strncmp(u, "redis://", 8) == 0)
		r = tcp_url(u + 8, a, err, errlen);
	else if (strncmp(u, "unix://", 7) == 0)
		r = unix_url(u + 7, a, err, errlen);
	else if (strncmp(u, "rediss://", 9) == 0) {
		r = tcp_url(u + 9, a, err, errlen);
		a->tls = 1;
	}
	else
		r = why(err, errlen, REDIS_URL_FORMS);
	if (r < 0)
		addr_free(a);
	return r;
}

char *addr_mask_password(const char *url)
{
	size_t scheme = strncmp(url, "redis://", 8) == 0 ? 8
	              : strncmp(url, "rediss://", 9) == 0 ? 9
	              : strncmp(url, "unix://", 7) == 0 ? 7 : 0;
	if (!scheme)
		return NULL;
	const char *rest = url + scheme;
	size_t alen = url_authority_len(rest);
	const char *ui = url_userinfo_end(rest, alen);
	const char *colon = ui ? memchr(rest, ':', (size_t)(ui - rest)) : NULL;
	if (!colon)
		return NULL;
	size_t head = (size_t)(colon + 1 - url), tail = strlen(ui);
	char *m = xmalloc(head + 3 + tail + 1);
	memcpy(m, url, head);
	memcpy(m + head, "***", 3);
	memcpy(m + head + 3, ui, tail + 1);
	return m;
}
