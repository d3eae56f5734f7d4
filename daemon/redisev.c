/*
 * redisev.c: hiredis async connections on pulsed's libevent loop (what
 * hiredis's adapters/libevent.h does, with fewer system calls).
 *
 * Owns, per connection: a persistent read event, a write event armed only
 * when the socket would block, and a "flush" event that is made active
 * (no system call) whenever hiredis has output queued.
 *
 * Why: the stock adapter arms EV_WRITE on every command, so each command
 * costs an epoll_ctl to arm it, an epoll_wait pass to learn what is always
 * true (the socket is writable), the write, and an epoll_ctl to disarm it;
 * and its one-shot read event is deleted and added again on every reply.
 * Here the commands issued by every callback of one loop pass go out in
 * one write at the end of that pass, and the read event stays armed.
 *
 * Invariants:
 *   - Output never waits for EPOLLOUT unless a write was short (EAGAIN)
 *     or the connection is still being made (hiredis learns that the
 *     connect finished from the write event, as with the stock adapter).
 *   - Everything is freed by hiredis's cleanup hook, also from inside one
 *     of these callbacks (hiredis frees a context only outside its own
 *     reply callbacks; libevent allows freeing a running event).
 */
#include <stdlib.h>
#include <event2/event.h>
#include <hiredis/async.h>

#include "util.h"
#include "redisev.h"

struct rev {
	redisAsyncContext *ac;
	struct event *rd, *wr, *flush;
	int reading;    /* rd is added */
	int in_write;   /* inside a write attempt: a short write arms wr */
};

static void read_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct rev *e = arg;
	redisAsyncHandleRead(e->ac);
}

/* One write attempt; if hiredis still holds output afterwards it calls
 * add_write again, which (in_write set) arms the real write event. The
 * context may be freed inside: e is not touched after the call. */
static void try_write(struct rev *e)
{
	e->in_write = 1;
	redisAsyncHandleWrite(e->ac);
	/* nothing after: a failed write frees the context, and e with it */
}

static void write_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	try_write(arg);
}

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct rev *e = arg;
	if (!(e->ac->c.flags & REDIS_CONNECTED)) {
		event_add(e->wr, NULL); /* the connect is not done yet */
		return;
	}
	try_write(e);
}

static void add_read(void *priv)
{
	struct rev *e = priv;
	if (!e->reading) {
		e->reading = 1;
		event_add(e->rd, NULL);
	}
}

static void del_read(void *priv)
{
	struct rev *e = priv;
	if (e->reading) {
		e->reading = 0;
		event_del(e->rd);
	}
}

static void add_write(void *priv)
{
	struct rev *e = priv;
	if (e->in_write) {
		/* called back from a write that could not send everything */
		e->in_write = 0;
		event_add(e->wr, NULL);
		return;
	}
	if (!(e->ac->c.flags & REDIS_CONNECTED)) {
		event_add(e->wr, NULL);
		return;
	}
	/* a no-op when already active: one write for the whole pass */
	event_active(e->flush, EV_WRITE, 0);
}

static void del_write(void *priv)
{
	struct rev *e = priv;
	e->in_write = 0;
	event_del(e->wr);
}

static void cleanup(void *priv)
{
	struct rev *e = priv;
	event_free(e->rd);
	event_free(e->wr);
	event_free(e->flush);
	free(e);
}

int redisev_attach(redisAsyncContext *ac, struct event_base *base)
{
	if (ac->ev.data)
		return -1;
	struct rev *e = xcalloc(1, sizeof(*e));
	e->ac = ac;
	int fd = ac->c.fd;
	e->rd = event_new(base, fd, EV_READ | EV_PERSIST, read_cb, e);
	e->wr = event_new(base, fd, EV_WRITE, write_cb, e);
	e->flush = event_new(base, -1, 0, flush_cb, e);
	if (!e->rd || !e->wr || !e->flush)
		fatal_oom("a Redis connection's events");
	ac->ev.addRead = add_read;
	ac->ev.delRead = del_read;
	ac->ev.addWrite = add_write;
	ac->ev.delWrite = del_write;
	ac->ev.cleanup = cleanup;
	ac->ev.data = e;
	/* as the stock adapter: the write event tells that the connect is
	 * done, the read event that it failed or data came */
	add_read(e);
	event_add(e->wr, NULL);
	return 0;
}
