/*
 * addr.h: parsing the addresses a config names (addr.c).
 */
#ifndef PULSED_ADDR_H
#define PULSED_ADDR_H

#include <stddef.h>

/* A Redis URL's parts: host and port (TCP), or a unix socket path; the
 * ACL user and password when the URL has them; the database. */
struct redis_addr {
	char *host;      /* TCP host (no brackets), or NULL */
	int port;        /* 0 for a unix socket */
	char *unix_path; /* or NULL */
	char *user;      /* or NULL */
	char *password;  /* or NULL */
	int db;
	int tls;         /* rediss:// (TLS over TCP) */
};

/* redis://[user[:password]@]host[:port][/db], the same as rediss:// (TLS:
 * tls set) or unix:///path[?db=N]: 0,
 * or -1 with why in err (nothing left allocated). */
int addr_redis_url(const char *url, struct redis_addr *a, char *err,
                   size_t errlen);
void addr_free(struct redis_addr *a);
/* The URL with its password replaced by "***" (allocated), or NULL when
 * it holds none: what a config dump may print. */
char *addr_mask_password(const char *url);

/* "host:port" or "[v6]:port" (port optional when defport > 0): NULL, or
 * why it is malformed. *host is allocated, without brackets. */
const char *addr_hostport(const char *s, size_t n, int defport, char **host,
                          int *port);

#endif
