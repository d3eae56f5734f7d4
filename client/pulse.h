/*
 * pulse.h: libpulse-client, the C library for talking to a local pulsed.
 *
 * Installed as <pulsed/pulse.h>. Two kinds of session, each one Unix socket
 * connection to pulsed:
 *   - a client (pulse_connect): dispatch, stop and notify jobs, send keyed
 *     messages, inspect pools; every call blocks until pulsed answers.
 *   - a worker (pulse_worker_attach): receives start, stop and notify events
 *     and keyed messages for one pool and answers them through callbacks.
 *
 * Invariants: the library never calls exit() and never prints. Errors come
 * back as a code (PULSE_ERR_* below) and a message
 * kept on the session (pulse_errmsg / pulse_worker_errmsg). A session may be
 * used by one thread at a time; separate sessions are independent, so one
 * connection per thread is safe.
 */
#ifndef PULSE_PULSE_H
#define PULSE_PULSE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PULSE_DEFAULT_SOCKET "/run/pulsed/pulsed.sock"

/* Error codes (same numbers as proto/proto.h enum pulse_err). */
enum {
	PULSE_ERR_OK = 0,
	PULSE_ERR_JOB_EXISTS = 1,
	PULSE_ERR_JOB_NOT_FOUND = 2,
	PULSE_ERR_TIMEOUT = 3,
	PULSE_ERR_CLOSED = 4,
	PULSE_ERR_SHUTDOWN = 5,
	PULSE_ERR_POOL_FULL = 6,
	PULSE_ERR_INVALID = 7,
	PULSE_ERR_TOO_LARGE = 8,
	PULSE_ERR_UNAVAILABLE = 9,
	PULSE_ERR_PROTOCOL = 10,
	PULSE_ERR_PERMISSION = 11,
	PULSE_ERR_HANDLER = 12,
	PULSE_ERR_BUSY = 13,
	PULSE_ERR_NO_HANDLER = 14, /* the worker a message went to has no
	                            * message handler */
};

/* "JOB_EXISTS" for PULSE_ERR_JOB_EXISTS, and so on. */
const char *pulse_strerror(int code);

/* ---- client sessions --------------------------------------------------- */

typedef struct pulse_client pulse_client;

/* Connect to pulsed at `socket_path` (NULL: $PULSE_SOCKET, else
 * PULSE_DEFAULT_SOCKET). Returns NULL and sets *err (a code) and errbuf
 * when it fails. */
pulse_client *pulse_connect(const char *socket_path, int *err, char *errbuf,
                            size_t errlen);
void pulse_close(pulse_client *c);
/* Message of the last failed call on c ("" if none). */
const char *pulse_errmsg(const pulse_client *c);
/* Give up waiting for an answer after ms milliseconds (0: wait for
 * pulsed's own timeout, the default). On expiry a call returns
 * PULSE_ERR_TIMEOUT and the session is closed (answers would be out of
 * step). */
void pulse_set_timeout(pulse_client *c, unsigned ms);
/* Ask pulsed to give up on each later DISPATCH, STOP and NOTIFY of this
 * session (and DRAIN, when pulse_drain's timeout_s is 0) after ms
 * milliseconds: the request's `timeout` (PROTOCOL.md). pulsed then
 * answers PULSE_ERR_TIMEOUT (its message says how far the request got)
 * and the session stays usable, unlike pulse_set_timeout(). 0: no limit
 * but pulsed's own (2 x ack grace period; 60 s for a drain), the
 * default. */
void pulse_set_request_timeout(pulse_client *c, unsigned ms);

/* Admit a job and wait until its worker's start handler answered.
 * Returns 0, PULSE_ERR_HANDLER (message: the handler's text) or another
 * code. payload may be NULL with len 0 (an empty payload). */
int pulse_dispatch(pulse_client *c, const char *pool, const char *key,
                   const void *payload, size_t len);
/* Stop a job and wait until its worker's stop handler answered. */
int pulse_stop_job(pulse_client *c, const char *pool, const char *key);
/* Send payload to the job's current worker and wait for its answer. */
int pulse_notify(pulse_client *c, const char *pool, const char *key,
                 const void *payload, size_t len);

/* Send a keyed message (the seed's DispatchMessage): pulsed routes it to
 * the worker that placement picks for key now (the one that runs, or
 * would run, the key's job), on whichever node; no job is created and
 * nothing is written for it. Waits for that worker's message handler and
 * returns 0 with its answer in *answer (malloc'd, free it with free();
 * NULL when *answer_len is 0), or PULSE_ERR_HANDLER (message: the
 * handler's text), PULSE_ERR_NO_HANDLER (the worker has no message
 * handler), PULSE_ERR_UNAVAILABLE (no worker in the pool, the worker went
 * away before answering: its handler may have run, or Redis away),
 * PULSE_ERR_TOO_LARGE, PULSE_ERR_TIMEOUT or another code; *answer is
 * NULL then. The message reaches one worker at most once and is never
 * retried elsewhere once sent. answer and answer_len may be NULL (the
 * answer is dropped). */
int pulse_send(pulse_client *c, const char *pool, const char *key,
               const void *payload, size_t len, void **answer,
               size_t *answer_len);

/* Which keys pulse_jobs_each() lists. */
typedef struct pulse_jobs_query {
	const char *worker; /* only the keys this worker (an id) owns; NULL: all */
	const char *match;  /* only keys matching this glob (Redis's pattern
	                     * syntax: * ? [abc] \x); NULL: all */
	uint64_t limit;     /* at most this many keys; 0: no limit */
	int count_only;     /* list none, only count them into *count */
} pulse_jobs_query;

/* Called for each key (len bytes, NUL-terminated, valid only during the
 * call); a nonzero return stops the listing, which then returns that
 * code (the rest of the answer is read and dropped: use limit to stop
 * early on a large pool). */
typedef int pulse_key_fn(void *arg, const char *key, size_t len);

/* The pool's job keys one at a time, in any order, in bounded memory
 * however many there are: pulsed sends them in parts as this session
 * reads them. query may be NULL (every key). *count (may be NULL): the
 * keys listed, or with count_only those that match. A key added or
 * removed during the listing may be listed or not; a key that exists
 * throughout is listed, possibly twice (Redis's SCAN guarantee). */
int pulse_jobs_each(pulse_client *c, const char *pool,
                    const pulse_jobs_query *query, pulse_key_fn *fn,
                    void *arg, uint64_t *count);
/* How many jobs the pool has (match NULL: all, read at once), or how
 * many of their keys match the glob (the pool is read through). */
int pulse_job_count(pulse_client *c, const char *pool, const char *match,
                    uint64_t *count);

/* Pool-wide job keys. On success *keys is a NULL-terminated array owned by
 * the caller: free it with pulse_free_keys(). For a large pool prefer
 * pulse_jobs_each(): this holds every key in memory. */
int pulse_job_keys(pulse_client *c, const char *pool, char ***keys,
                   size_t *n);
void pulse_free_keys(char **keys);
/* The keys the worker `worker` (an id, as pulse_pool_workers() lists
 * them) owns now; same result as pulse_job_keys(). */
int pulse_worker_job_keys(pulse_client *c, const char *pool,
                          const char *worker, char ***keys, size_t *n);

/* Which worker owns the job key (*owned = 1), or, when the job does not
 * exist or waits for a worker, which one pulsed would place it on now
 * (*owned = 0); *node is that worker's node. Free *worker and *node with
 * free(). PULSE_ERR_UNAVAILABLE when the pool has no worker at all. */
int pulse_where(pulse_client *c, const char *pool, const char *key,
                char **worker, char **node, int *owned);

/* A job's payload: 0 with *exists = 1 and *payload (malloc'd, may be NULL
 * when *len is 0) when the job exists; 0 with *exists = 0 when it does
 * not. Free *payload with free(). */
int pulse_job_payload(pulse_client *c, const char *pool, const char *key,
                      void **payload, size_t *len, int *exists);

typedef struct pulse_worker_info {
	char *id;     /* worker id, unique in the pool */
	char *name;   /* stable name given at attach, or "" */
	char *node;   /* node id of the pulsed it is attached to */
	uint64_t jobs; /* jobs it runs */
} pulse_worker_info;

/* Workers of a pool: every node's (local = 0) or this pulsed's (local = 1).
 * Free with pulse_free_workers(). */
int pulse_pool_workers(pulse_client *c, const char *pool, int local,
                       pulse_worker_info **workers, size_t *n);
void pulse_free_workers(pulse_worker_info *workers, size_t n);

typedef struct pulse_node_info {
	char *node;        /* node id */
	uint64_t lease_ms; /* time left on its lease (0: expired, about to
	                    * be reaped) */
	uint64_t workers;  /* its workers in placement */
} pulse_node_info;

/* Nodes of a pool. Free with pulse_free_nodes(). */
int pulse_pool_nodes(pulse_client *c, const char *pool,
                     pulse_node_info **nodes, size_t *n);
void pulse_free_nodes(pulse_node_info *nodes, size_t n);

/* The pool's tickers (schedules = 0) or schedules (1) as a JSON object
 * {"tickers"|"schedules": [{name, interval_ms, seq, next_in_ms, stopped,
 * subscribers_here|producers_here, keys (schedules)}]} (malloc'd). */
int pulse_clocks_json(pulse_client *c, const char *pool, int schedules,
                      char **json);

/* Shut the pool down on every node (admin only: root or the configured
 * admin group, else PULSE_ERR_PERMISSION): every node stops every job
 * through its worker's stop handler, then the pool's state is removed
 * from Redis. Returns 0 only when all nodes are done; PULSE_ERR_TIMEOUT
 * (the message names the nodes) when some did not finish within the
 * worker shutdown TTL. Afterwards dispatches and worker attaches get
 * PULSE_ERR_SHUTDOWN until an operator re-opens the pool (pulse_reopen). */
int pulse_shutdown(pulse_client *c, const char *pool);
/* Re-open a shut-down pool (admin only): its shutdown mark is removed from
 * Redis and every node joins it again; dispatches and attaches work once
 * this pulsed has joined (pulse_status shows the pool "active"). 0 also
 * when the pool was not shut down. */
int pulse_reopen(pulse_client *c, const char *pool);
/* This pulsed leaves the pool (admin only): its jobs are stopped here and
 * handed to the other nodes' workers, its workers of that pool are let go.
 * Using the pool again on this pulsed joins it anew. */
int pulse_leave(pulse_client *c, const char *pool);
/* Drain this pulsed (admin only): in every pool its workers stay attached
 * but leave placement, its jobs are handed to other nodes' workers, and it
 * takes no new ones. Returns 0 once no job runs here, PULSE_ERR_TIMEOUT
 * (the message says how many remain) after timeout_s seconds (0: the
 * session's request timeout, pulse_set_request_timeout(), else 60). */
int pulse_drain(pulse_client *c, unsigned timeout_s);
/* End a drain (admin only): this pulsed's workers are placed again. */
int pulse_undrain(pulse_client *c);

/* Node status as a JSON text (malloc'd): pools, counts, lease, Redis
 * round trip. Used by pulsectl. */
int pulse_status_json(pulse_client *c, char **json);

/* ---- tickers ------------------------------------------------------------ */

typedef struct pulse_ticker pulse_ticker;

/* Subscribe to the ticker `name` of `pool` (created if new). Every tick
 * of a name goes to exactly one subscriber across all nodes and sessions;
 * the clock lives in Redis, so the cadence survives the loss of a node.
 * A different interval than the ticker's current one replaces it for
 * everyone (the newest subscriber's interval wins). interval_ms >= 10. */
pulse_ticker *pulse_ticker_open(const char *socket_path, const char *pool,
                                const char *name, unsigned interval_ms,
                                int *err, char *errbuf, size_t errlen);
/* The fd to watch for reading in the caller's loop; then call
 * pulse_ticker_next(t, 0, ...) until it returns PULSE_ERR_TIMEOUT. Do
 * that once right after pulse_ticker_open() as well: a first tick may
 * have arrived with the subscription's answer, already read. */
int pulse_ticker_fd(const pulse_ticker *t);
/* Wait up to timeout_ms (-1: no limit, 0: do not wait) for the next tick:
 * 0 with its number (*seq, counting from 1 pool-wide) and its time
 * (*ts_ms, Unix ms on Redis's clock); PULSE_ERR_TIMEOUT when none came;
 * PULSE_ERR_CLOSED once the ticker was stopped pool-wide or the session
 * ended. */
int pulse_ticker_next(pulse_ticker *t, int timeout_ms, uint64_t *seq,
                      uint64_t *ts_ms);
/* End the ticker on every node (every subscriber's next call returns
 * PULSE_ERR_CLOSED). The ticker must still be closed. */
int pulse_ticker_stop(pulse_ticker *t);
/* Close this subscription only; the ticker goes on for the others. */
void pulse_ticker_close(pulse_ticker *t);
const char *pulse_ticker_errmsg(const pulse_ticker *t);

/* ---- schedules ---------------------------------------------------------- */

/* A schedule is a named, pool-wide clock whose every tick asks exactly one
 * producer, across all nodes and sessions that scheduled the same name,
 * for a plan: which jobs to start and which to stop. pulsed applies the
 * plan through the pool's ordinary dispatch and stop (starting a key that
 * already runs is not an error). When the producer asked cannot answer
 * (its session or its node went away) another producer is asked at the
 * next tick; a plan that fails is asked again at the next tick. */

/* A plan under construction, handed to the plan function and valid only
 * during the call. */
typedef struct pulse_plan pulse_plan;

/* Start the job key with payload (NULL with len 0: an empty payload; key
 * and payload are copied). Returns 0, PULSE_ERR_INVALID (a bad key),
 * PULSE_ERR_TOO_LARGE (a payload over the cap, or a plan that would no
 * longer fit in one frame: the payload cap plus 64 KiB in all) or
 * PULSE_ERR_UNAVAILABLE (out of memory), with the message in
 * pulse_plan_errmsg(); the plan is unchanged then. */
int pulse_plan_start(pulse_plan *pl, const char *key, const void *payload,
                     size_t len);
/* Stop the job key (ignored by pulsed after pulse_plan_stop_all()). Same
 * returns as pulse_plan_start(). */
int pulse_plan_stop(pulse_plan *pl, const char *key);
/* Stop every job this schedule started earlier that this plan does not
 * start (the seed's JobPlan.StopAll); pulse_plan_stop() keys are then not
 * sent. */
void pulse_plan_stop_all(pulse_plan *pl);
/* Message of the last failed pulse_plan_start/stop ("" if none). */
const char *pulse_plan_errmsg(const pulse_plan *pl);

/* What a plan function returns. */
enum {
	PULSE_PLAN_OK = 0,    /* apply the plan built */
	PULSE_PLAN_ERROR = 1, /* no plan this tick (fill msg with the reason);
	                       * asked again at the next tick */
	PULSE_PLAN_END = 2,   /* end the schedule on every node (the seed's
	                       * ErrScheduleStop); the plan built is ignored */
};

/* Computes the plan of schedule `name` into `plan` (which starts empty).
 * msg is a buffer of msglen bytes for the reason of PULSE_PLAN_ERROR. */
typedef int (*pulse_plan_fn)(void *ud, const char *name, pulse_plan *plan,
                             char *msg, size_t msglen);

typedef struct pulse_producer pulse_producer;

/* Schedule `name` (same syntax as a pool name) in `pool` every interval_ms
 * (>= 10) and offer fn as one of its producers (the seed's
 * Node.Schedule). The newest producer's interval wins for everyone.
 * Returns once pulsed accepted it, or NULL with *err and errbuf. fn is
 * called with ud once per plan pulsed asks of this producer, from
 * pulse_producer_process() or pulse_producer_run(), and from
 * pulse_schedule() itself for a plan asked at once on registration. */
pulse_producer *pulse_schedule(const char *socket_path, const char *pool,
                               const char *name, unsigned interval_ms,
                               pulse_plan_fn fn, void *ud, int *err,
                               char *errbuf, size_t errlen);
/* The fd to watch for reading in the caller's loop; then call
 * pulse_producer_process(). After pulse_schedule() and after
 * pulse_producer_process() nothing is left pending but what makes the fd
 * readable. -1 once the session ended. */
int pulse_producer_fd(const pulse_producer *p);
/* Read what is available without blocking and answer every plan asked
 * (calling fn). Returns 0, or an error code once the session ended (every
 * later call returns it): PULSE_ERR_CLOSED with the message "schedule NAME
 * ended" when a producer (this one or another) ended the schedule. */
int pulse_producer_process(pulse_producer *p);
/* Blocking loop around pulse_producer_process(). Returns 0 when the
 * schedule ended or after pulse_producer_stop(), else the error that
 * ended the session. */
int pulse_producer_run(pulse_producer *p);
/* Make pulse_producer_run() return 0. Async-signal-safe: it may be called
 * from a signal handler, another thread, or the plan function. */
void pulse_producer_stop(pulse_producer *p);
/* Close the session and free p: this producer is no longer asked; the
 * schedule goes on with the others (only PULSE_PLAN_END ends it). */
void pulse_producer_close(pulse_producer *p);
const char *pulse_producer_errmsg(const pulse_producer *p);

/* ---- worker sessions --------------------------------------------------- */

typedef struct pulse_worker pulse_worker;

/* What a handler returns. */
enum {
	PULSE_HANDLER_OK = 0,
	PULSE_HANDLER_ERROR = 1,   /* fill msg with the reason */
	PULSE_HANDLER_REQUEUE = 2, /* try again later, possibly elsewhere */
};

/* The answer a message handler gives its sender, set with
 * pulse_answer_set(); valid only during the handler's call. */
typedef struct pulse_answer pulse_answer;
/* Make data (len bytes, copied; NULL with len 0: empty) the answer of
 * the message being handled; a later call replaces it. Returns 0, or
 * PULSE_ERR_TOO_LARGE (over the payload cap pulsed announced) or
 * PULSE_ERR_UNAVAILABLE (out of memory), the answer left unchanged. The
 * answer goes back only when the handler returns PULSE_HANDLER_OK. */
int pulse_answer_set(pulse_answer *a, const void *data, size_t len);

/* Handlers get a message buffer of msglen bytes for an error text. The key
 * and payload are valid only during the call. */
typedef struct pulse_handlers {
	int (*start)(void *ud, const char *key, const void *payload, size_t len,
	             char *msg, size_t msglen);
	int (*stop)(void *ud, const char *key, char *msg, size_t msglen);
	/* optional: NULL means notifications are refused with an error */
	int (*notify)(void *ud, const char *key, const void *payload,
	              size_t len, char *msg, size_t msglen);
	/* optional: a keyed message (pulse_send) for key, which this worker
	 * was picked for by placement; it need not run the key's job, and
	 * no job is created. Returns PULSE_HANDLER_OK, with the answer set
	 * through pulse_answer_set() (empty if not set), or
	 * PULSE_HANDLER_ERROR with msg (the sender gets PULSE_ERR_HANDLER).
	 * PULSE_HANDLER_REQUEUE is answered as an error: messages are not
	 * retried. NULL: the worker tells pulsed it takes no messages, and
	 * their senders get PULSE_ERR_NO_HANDLER without reaching it. Runs
	 * in the worker's loop like the other handlers: keep it short. */
	int (*message)(void *ud, const char *key, const void *payload,
	               size_t len, pulse_answer *answer, char *msg,
	               size_t msglen);
} pulse_handlers;

/* Attach a worker to `pool` on the pulsed at socket_path. `name` (NULL or
 * "": none) is a stable name: a restarted process that gives the same name
 * takes back the same keys. Like a pool name it is 1 to 128 bytes of
 * [A-Za-z0-9._:-], pulsed's rule; another fails with PULSE_ERR_INVALID
 * before anything is sent. Returns NULL and sets *err/errbuf on failure. */
pulse_worker *pulse_worker_attach(const char *socket_path, const char *pool,
                                  const char *name, const pulse_handlers *h,
                                  void *ud, int *err, char *errbuf,
                                  size_t errlen);
/* The fd to watch for reading in the caller's event loop. */
int pulse_worker_fd(const pulse_worker *w);
/* Read what is available and run the handlers for every whole event.
 * Non-blocking. Returns 0, or an error code when the session ended
 * (PULSE_ERR_CLOSED when pulsed closed it). */
int pulse_worker_process(pulse_worker *w);
/* Milliseconds until pulse_worker_process() must be called even if the fd
 * is quiet (-1: no deadline). pulsed grants a worker a lease that it
 * renews while it runs; if it stops renewing (the daemon was stopped or
 * hangs), the library calls the stop handler of every running job and
 * ends the session, because pulsed's pool hands those jobs to other
 * workers. Use it as the timeout of your poll/epoll/event loop. */
int pulse_worker_timeout(const pulse_worker *w);
/* Blocking loop: process events until the session ends or
 * pulse_worker_stop() is called (from a handler or a signal handler).
 * Returns 0 after pulse_worker_stop(), else the error that ended it. */
int pulse_worker_run(pulse_worker *w);
void pulse_worker_stop(pulse_worker *w);
/* The worker id pulsed assigned (stable name if one was given). */
const char *pulse_worker_id(const pulse_worker *w);
/* Detach: pulsed stops this worker's jobs (calling the stop handler for
 * each), hands them to other workers, then closes the session. Frees w. */
int pulse_worker_detach(pulse_worker *w);
/* Close without the graceful hand-off: the stop handler of each running job
 * is called here, then pulsed moves the jobs at once. Frees w. Also when
 * the session ends by itself (pulsed stopped or died), the library calls
 * the stop handlers of the jobs still running before reporting it. */
void pulse_worker_close(pulse_worker *w);
const char *pulse_worker_errmsg(const pulse_worker *w);

#ifdef __cplusplus
}
#endif
#endif
