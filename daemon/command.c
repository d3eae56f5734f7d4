/*
 * command.c: the table of messages a peer may send after HELLO, and the
 * one place where each is checked before its handler runs.
 *
 * Owns: for each message type (modelled on tmux's cmd_entry and Redis's
 * command table), the kind of session that may send it, what it needs
 * (a pool, Redis, admin rights, a free in-flight slot, a pulsed that is
 * not stopping, a pool that is not shut down) and its handler; the
 * preparation every request shares (pool name, key, finding or joining
 * the pool) and the one way a request is refused (command_check).
 *
 * Invariants:
 *   - A message reaches its handler only if every flag of its entry
 *     holds; a refusal is one ERROR with the request's id (or a PROTOCOL
 *     drop for a session of the wrong kind), never both.
 *   - The checks run in one order (admin, pool and key, open, Redis,
 *     in-flight, stopping), so a request that fails several gets the
 *     first one's answer whatever its type.
 *   - Handlers get p non-NULL exactly when the entry has CF_POOL, except
 *     for a read (CF_NOJOIN) of a pool this node has not joined: NULL, and
 *     the handler reads it by name without joining it.
 */
#include <stdio.h>
#include <string.h>

#include "pulsed.h"
#include "store.h"

#define MAX_INFLIGHT 4096

struct command {
	uint8_t type;
	const char *name;
	int role;         /* ROLE_CLIENT or ROLE_WORKER */
	int flags;        /* CF_* */
	command_fn *fn;
};

static const struct command commands[] = {
	{PULSE_T_DISPATCH, "DISPATCH", ROLE_CLIENT,
	 CF_POOL | CF_OPEN | CF_REDIS | CF_INFLIGHT | CF_RUNNING, dispatch_request},
	{PULSE_T_STOP, "STOP", ROLE_CLIENT,
	 CF_POOL | CF_OPEN | CF_REDIS | CF_INFLIGHT | CF_RUNNING, route_request},
	{PULSE_T_NOTIFY, "NOTIFY", ROLE_CLIENT,
	 CF_POOL | CF_OPEN | CF_REDIS | CF_INFLIGHT | CF_RUNNING, route_request},
	{PULSE_T_SEND, "SEND", ROLE_CLIENT,
	 CF_POOL | CF_OPEN | CF_REDIS | CF_INFLIGHT | CF_RUNNING, message_request},
	{PULSE_T_JOBS, "JOBS", ROLE_CLIENT,
	 CF_POOL | CF_NOJOIN | CF_OPEN | CF_REDIS | CF_INFLIGHT, view_request},
	{PULSE_T_JOB, "JOB", ROLE_CLIENT,
	 CF_POOL | CF_NOJOIN | CF_OPEN | CF_REDIS | CF_INFLIGHT, view_request},
	{PULSE_T_WHERE, "WHERE", ROLE_CLIENT,
	 CF_POOL | CF_NOJOIN | CF_OPEN | CF_REDIS | CF_INFLIGHT, view_request},
	{PULSE_T_NODES, "NODES", ROLE_CLIENT,
	 CF_POOL | CF_NOJOIN | CF_OPEN | CF_REDIS | CF_INFLIGHT, view_request},
	{PULSE_T_WORKERS, "WORKERS", ROLE_CLIENT,
	 CF_POOL | CF_NOJOIN | CF_OPEN | CF_REDIS | CF_INFLIGHT | CF_LOCAL,
	 workers_request},
	{PULSE_T_STATUS, "STATUS", ROLE_CLIENT, 0, status_request},
	{PULSE_T_TICKER, "TICKER", ROLE_CLIENT, CF_POOL | CF_OPEN | CF_REDIS,
	 ticker_request},
	{PULSE_T_TICKER_STOP, "TICKER_STOP", ROLE_CLIENT,
	 CF_POOL | CF_OPEN | CF_REDIS, ticker_request},
	{PULSE_T_SCHEDULE, "SCHEDULE", ROLE_CLIENT, CF_POOL | CF_OPEN | CF_REDIS,
	 ticker_request},
	{PULSE_T_CLOCKS, "CLOCKS", ROLE_CLIENT,
	 CF_POOL | CF_NOJOIN | CF_OPEN | CF_REDIS, clocks_request},
	{PULSE_T_SHUTDOWN, "SHUTDOWN", ROLE_CLIENT, CF_ADMIN | CF_POOL | CF_REDIS,
	 shutdown_request},
	{PULSE_T_LEAVE, "LEAVE", ROLE_CLIENT, CF_ADMIN | CF_POOL | CF_NOJOIN | CF_REDIS,
	 leave_request},
	{PULSE_T_REOPEN, "REOPEN", ROLE_CLIENT, CF_ADMIN | CF_POOL | CF_REDIS,
	 reopen_request},
	{PULSE_T_DRAIN, "DRAIN", ROLE_CLIENT, CF_ADMIN | CF_RUNNING, drain_request},
	{PULSE_T_UNDRAIN, "UNDRAIN", ROLE_CLIENT, CF_ADMIN, undrain_request},
	{PULSE_T_PLANNED, "PLANNED", ROLE_CLIENT, 0, schedule_planned},
	{PULSE_T_ACK, "ACK", ROLE_WORKER, 0, worker_ack},
	{PULSE_T_DETACH, "DETACH", ROLE_WORKER, 0, worker_detach_req},
};

static const struct command *lookup(unsigned type)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (commands[i].type == type)
			return &commands[i];
	return NULL;
}

/* The name of a message type for a refusal ("TICKER"), or "request". */
static const char *type_name(unsigned type)
{
	const struct command *c = lookup(type);
	return c ? c->name : "request";
}

static int cstr(char *buf, size_t len, pulse_str s)
{
	if (s.n >= len)
		return -1;
	memcpy(buf, s.p, s.n);
	buf[s.n] = '\0';
	return 0;
}

/* The pool a request names (its key checked too), joined if new; for a
 * read (CF_NOJOIN), *pp is NULL when this node has not joined the pool (or
 * left it): the handler reads Redis without joining, so that looking at
 * a pool, or at a name nobody uses, costs no join and leaves no key.
 * Returns 0, or -1 after answering why not. */
static int request_pool(struct session *s, const pulse_msg *m, int flags,
                        struct pool **pp)
{
	char err[256], name[PULSE_MAX_POOL + 1];
	int code = 0, read = (flags & CF_NOJOIN) != 0;
	if (cstr(name, sizeof(name), m->pool) < 0 ||
	    pulse_check_pool(name, strlen(name), err, sizeof(err)) < 0) {
		session_error(s, m->id, PULSE_E_INVALID, "invalid pool name");
		return -1;
	}
	if ((m->has & PM_KEY) &&
	    pulse_check_name("key", m->key.p, m->key.n, PULSE_MAX_KEY, err,
	                     sizeof(err)) < 0) {
		session_error(s, m->id, PULSE_E_INVALID, "%s", err);
		return -1;
	}
	struct pool *p = pool_get(s->d, name, !read, &code, err, sizeof(err));
	if (read && (!p || p->state == POOL_LEFT)) {
		if (!config_pool(&s->d->cfg, name)) {
			session_error(s, m->id, PULSE_E_INVALID, "unknown pool %s (not "
			              "in the configuration)", name);
			return -1;
		}
		*pp = NULL;
		return 0;
	}
	if (!p) {
		session_error(s, m->id, code, "%s", err);
		return -1;
	}
	*pp = p;
	return 0;
}

/* The one way a request is refused: 0, or -1 after answering why. */
static int command_check(struct session *s, struct pool *p,
                         const pulse_msg *m, int flags)
{
	struct pulsed *d = s->d;
	if ((flags & CF_ADMIN) && !s->admin) {
		LOGW(&d->log, "session %llu (uid %d): %s%s%.*s refused: not root "
		     "or in the admin group", (unsigned long long)s->sid,
		     (int)s->uid, type_name(m->type),
		     (m->has & PM_POOL) ? " of pool " : "",
		     (m->has & PM_POOL) && m->pool.n <= PULSE_MAX_POOL
		     ? (int)m->pool.n : 0, m->pool.p ? m->pool.p : "");
		session_error(s, m->id, PULSE_E_PERMISSION,
		              "%s needs root or the admin group", type_name(m->type));
		return -1;
	}
	if ((flags & CF_OPEN) && p && p->state == POOL_SHUTDOWN) {
		session_error(s, m->id, PULSE_E_SHUTDOWN, "pool %s is shut down",
		              p->name);
		return -1;
	}
	if ((flags & CF_REDIS) && !store_up(d->store)) {
		session_error(s, m->id, PULSE_E_UNAVAILABLE, "%s",
		              store_unreachable(d->store));
		return -1;
	}
	if ((flags & CF_INFLIGHT) && s->inflight >= MAX_INFLIGHT) {
		session_error(s, m->id, PULSE_E_BUSY, "too many requests in flight");
		return -1;
	}
	if ((flags & CF_RUNNING) && d->stopping) {
		session_error(s, m->id, PULSE_E_CLOSED, "pulsed is stopping");
		return -1;
	}
	return 0;
}

void command_run(struct session *s, const pulse_msg *m)
{
	const struct command *c = lookup(m->type);
	char err[128];
	if (!c) {
		if (m->type == PULSE_T_HELLO)
			snprintf(err, sizeof(err), "second HELLO");
		else
			snprintf(err, sizeof(err),
			         "message type %u is not sent to pulsed", m->type);
		session_drop(s, PULSE_E_PROTOCOL, err);
		return;
	}
	if (s->role != c->role) {
		snprintf(err, sizeof(err), "%s needs a %s session", c->name,
		         c->role == ROLE_CLIENT ? "client" : "worker");
		session_drop(s, PULSE_E_PROTOCOL, err);
		return;
	}
	struct pool *p = NULL;
	int flags = c->flags;
	if ((flags & CF_LOCAL) && (m->has & PM_LOCAL) && m->local)
		flags &= ~(CF_OPEN | CF_REDIS | CF_INFLIGHT); /* from memory */
	if ((flags & CF_ADMIN) &&
	    command_check(s, NULL, m, CF_ADMIN) < 0)
		return;
	if ((flags & CF_POOL) && request_pool(s, m, flags, &p) < 0)
		return;
	if (command_check(s, p, m, flags & ~CF_ADMIN) < 0)
		return;
	c->fn(s, p, m);
}
