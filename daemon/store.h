/*
 * store.h: pulsed's connections to Redis.
 *
 * Owns three hiredis async connections on the daemon's libevent loop
 * (attached by redisev.c: what every callback of one loop pass sends goes
 * out in one write at the end of the pass):
 *   cmd  commands and scripts (pipelined, answered in order);
 *   sub  pub/sub: one channel per pool for membership and waiting hints;
 *   blk  the blocking XREAD of this node's inboxes.
 * Owns the scripts too: daemon/lua/common.lua joined to each script, loaded
 * with SCRIPT LOAD, called by EVALSHA and re-sent as EVAL on NOSCRIPT (a
 * restarted Redis).
 *
 * Invariants: the three connections are up or down together; while down,
 * every call answers its callback with a NULL reply at once (callers turn
 * that into UNAVAILABLE); reconnects back off from 100 ms to 2 s. Every
 * callback is called exactly once.
 */
#ifndef PULSED_STORE_H
#define PULSED_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <hiredis/hiredis.h>

struct pulsed;
struct store;

enum script_id {
	S_ADMIT, S_ATTACH, S_CLOCKS, S_CLAIM, S_DETACH, S_JOIN, S_KEYS, S_LEASE,
	S_LEAVE, S_MEMBERS, S_ORPHANS, S_RELEASE, S_REMOVE, S_ROUTE, S_STARTED,
	S_SHUTDOWN, S_STRAYS, S_TICK, S_WORKERS,
	S__COUNT
};

/* reply is NULL when Redis is unreachable; an error reply otherwise comes
 * as REDIS_REPLY_ERROR. */
typedef void store_cb(struct pulsed *d, redisReply *reply, void *arg);

struct store *store_new(struct pulsed *d);
void store_free(struct store *s);
void store_connect(struct store *s);
int store_up(const struct store *s);
/* "Redis is unreachable", with why when known (the connect error, or
 * Redis refusing the login: WRONGPASS, NOPERM...): what a refused
 * request, /readyz and STATUS= say. Valid until the next call. */
const char *store_unreachable(struct store *s);
/* Why the store is down (the last connect or login error), or NULL. */
const char *store_down_reason(const struct store *s);
/* Why a call failed: "Redis refused the command: <error>" for an error
 * reply, else store_unreachable(). Valid until the next call. */
const char *store_failure(struct store *s, const redisReply *r);
unsigned long store_reconnects(const struct store *s);

/* Run script id with KEYS[1] = base and the given arguments. */
void store_script(struct store *s, int id, const char *base, int argc,
                  const char **argv, const size_t *lens, store_cb *cb,
                  void *arg);
/* A plain command on the cmd connection (cb may be NULL). */
void store_cmd(struct store *s, int argc, const char **argv,
               const size_t *lens, store_cb *cb, void *arg);
/* A command on the blocking connection (one at a time). */
int store_block(struct store *s, int argc, const char **argv,
                const size_t *lens, store_cb *cb, void *arg);
/* Wake the blocking connection's current command (CLIENT UNBLOCK). */
void store_unblock(struct store *s);
int store_block_busy(const struct store *s);
/* Subscribe to a channel; messages go to pool_on_event via the pool whose
 * channel it is. Re-done after every reconnect by pools_redis_up. */
void store_subscribe(struct store *s, const char *channel);

/* The head of a script's answer (the Lua scripts' reply codes, REDIS.md),
 * mapped once here so that callers compare enums, not strings. */
enum script_reply {
	SR_NONE = 0,   /* no answer, or not an array headed by a string */
	SR_OTHER,      /* a string head that is none of those below */
	SR_OK, SR_LOST, SR_STALE, SR_WAIT, SR_REBUILD, SR_OWNED, SR_LOCAL,
	SR_ROUTED, SR_DELETED, SR_JOB_NOT_FOUND, SR_JOB_EXISTS, SR_POOL_FULL,
	SR_SHUTDOWN, SR_TAKEN, SR_HANDLER, SR_STOPPED, SR_WON, SR_TOO_LARGE,
};
int store_reply(const redisReply *r);
/* The head's text (for an error code passed on as it is), or NULL. */
const char *store_reply_str(const redisReply *r);

/* An argument vector for store_script/store_cmd: strings are borrowed
 * (they must live until the call is sent, which happens inside the
 * store_* call), numbers are formatted into storage the vector owns. */
typedef struct sargs {
	int n, cap;
	const char **v;
	size_t *l;
	char **owned;
	int nowned;
} sargs;

void sargs_add(sargs *a, const char *p, size_t n);
void sargs_str(sargs *a, const char *s);
void sargs_u64(sargs *a, uint64_t v);
void sargs_free(sargs *a);

#endif
