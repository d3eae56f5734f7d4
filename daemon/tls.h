/*
 * tls.h: TLS to Redis (rediss://) under hiredis 0.14, which has none: an
 * in-process bridge that hiredis reaches through a private Unix socket
 * (tls.c). Used by store.c; main.c checks a configuration with it.
 */
#ifndef PULSED_TLS_H
#define PULSED_TLS_H

#include <stddef.h>

#include "config.h"
#include "log.h"

struct event_base;
struct tls;

/* Whether the TLS settings of c load (CA, client certificate and key, the
 * key matching the certificate): 0, or -1 with why ("redis.tls.key_file:
 * cannot load /etc/pulsed/client.key: ..."). What pulsed -n, a start and a
 * reload check; does nothing when c is not rediss://. */
int tls_check_config(const config *c, char *err, size_t errlen);

/* The bridge for c (rediss://): its private directory and listening
 * socket on base. NULL with why. lg is read at each log line (a reload
 * changes its level). c and lg must outlive it. */
struct tls *tls_new(const config *c, const logger *lg,
                    struct event_base *base, char *err, size_t errlen);
/* Closes every bridged connection and removes the socket and directory. */
void tls_free(struct tls *t);

/* Before a connection attempt: reads the certificate files again (a
 * rotated file takes effect at the next reconnect), resolves Redis's host
 * and forgets the last failure. 0, or -1 with why. */
int tls_begin(struct tls *t, char *err, size_t errlen);
/* The Unix socket hiredis connects to instead of Redis. */
const char *tls_socket(const struct tls *t);
/* Why a bridged connection of this attempt failed on the Redis side (the
 * TCP connect, the handshake, the certificate check, an alert), or NULL:
 * kept before the hiredis side is closed, so whoever sees that close can
 * name the reason. */
const char *tls_failure(const struct tls *t);

#endif
