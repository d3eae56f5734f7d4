/*
 * redisev.h: attach a hiredis async context to a libevent base with
 * batched writes (see redisev.c). Used by store.c in place of hiredis's
 * redisLibeventAttach.
 */
#ifndef PULSED_REDISEV_H
#define PULSED_REDISEV_H

#include <hiredis/async.h>

struct event_base;

/* 0, or -1 when something is already attached to ac. */
int redisev_attach(redisAsyncContext *ac, struct event_base *base);

#endif
