/*
 * pulsed.h: the daemon's one context struct and the types its files share.
 *
 * Owns: struct pulsed (all mutable state of the process hangs off it), the
 * pool, worker, job, session and request types, and the functions each
 * daemon file exports to the others. Each .c file owns one concern; they
 * are listed by layer, top first, and a file calls only files below it
 * (tests/tools/layers.txt, checked by make layers; news goes up through
 * the hooks in d->peer, d->storeh and d->poolh, registered in context.c):
 *   main.c      process life: options, signals, start and stop
 *   context.c   building and freeing struct pulsed; wires every hook
 *   command.c   the table of messages after HELLO: who may send each,
 *               what it needs, its handler; the one way to refuse
 *   shutdown.c  pool shutdown (all nodes) and leaving one pool
 *   drain.c     draining this pulsed: its jobs go elsewhere, workers stay
 *   views.c     the read-only views: jobs, job, where, workers, nodes,
 *               status
 *   ticker.c    tickers' subscriptions: one taker a tick, TICK frames
 *   schedule.c  schedules: asking a producer for a plan and applying it
 *   clock.c     pool-wide clocks under tickers and schedules (tick.lua)
 *   dispatch.c  dispatch, stop, notify and send: admission and routing
 *   worker.c    worker sessions: attach, placement, detach, their end
 *   jobs.c      the jobs local workers run: events, ACKs, moves, fences
 *   message.c   keyed messages to local workers: MESSAGE frames, answers
 *   pool.c      pool membership: lease, join, fencing, the view, the
 *               waiting set, rebalancing; the one writer of a pool's state
 *   inbox.c     the per-node inbox stream: messages between nodes
 *   request.c   requests waiting for an answer: ids, deadlines, retries
 *   metrics.c   the counters, Prometheus metrics and health over HTTP
 *   sdnotify.c  systemd notifications: READY, STATUS, WATCHDOG, STOPPING
 *   store.c     the Redis connections, scripts, reconnects
 *   server.c    the Unix socket, sessions, framing, peer credentials
 *   redisev.c   hiredis on libevent
 *   tls.c       TLS to Redis (rediss://): a bridge hiredis reaches by a
 *               private Unix socket
 *   placement.c rendezvous hashing of keys onto workers
 *   config.c    the configuration: schema, parsing, reload
 *   addr.c      host:port and Redis URLs, parsed for config.c
 *   table.c     a string-keyed hash table
 *   util.c log.c  clocks, allocation that cannot fail, text; the logger
 *
 * Invariants:
 *   - One libevent loop runs everything; no threads.
 *   - Redis is the source of truth for which jobs exist and who owns them;
 *     memory holds only this node's workers and the jobs they run (with
 *     their payloads, so that a flushed Redis can be rebuilt).
 *   - Objects that a Redis callback may outlive (sessions, workers) are
 *     found again by id when the reply comes, never by a saved pointer.
 */
#ifndef PULSED_PULSED_H
#define PULSED_PULSED_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <event2/event.h>
#include <event2/bufferevent.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "config.h"
#include "log.h"
#include "proto.h"
#include "table.h"
#include "gone.h"
#include "util.h"

#define PULSED_VERSION "0.1.0"

struct pulsed;
struct pool;
struct session;
struct listout;

/* ---- jobs run by local workers ----------------------------------------- */

enum job_op { OP_START = 1, OP_HALT, OP_EVENT };
/* Why a job is halted and released: its worker detaches (or pulsed
 * stops), or a rebalance (counted in pool.moves_inflight). */
enum { MOVE_DETACH = 1, MOVE_REBALANCE = 2 };

/* A queued or in-flight event for one key on one local worker. */
struct jobop {
	struct jobop *next;
	int op;            /* enum job_op */
	uint64_t evid;     /* id sent to the worker (0 until sent) */
	char *payload;     /* START/EVENT */
	size_t plen;
	uint64_t rid;      /* local request to answer, or 0 */
	char *reply_node;  /* remote caller's node for the answer, or NULL */
	char *reply_rid;   /* the remote caller's request id */
	int moving;        /* HALT that hands the job on: MOVE_* */
	int fencing;       /* HALT of a self-fence: no Redis write after */
};

/* A job that a local worker runs or is about to run. */
struct job {
	char *key;
	struct lworker *w;
	uint64_t fence;
	int running;       /* start answered ok */
	char *disp;        /* "<caller node> <request id>": the dispatch its
	                      first START answers, when known (else NULL) */
	char *payload;     /* kept to rebuild Redis after a flush */
	size_t plen;
	uint64_t since;    /* Redis time it was given to this worker (a copy
	                      kept by a fence names it: join.lua) */
	struct jobop *ops; /* head is in flight once evid != 0 */
	struct jobop **tail;
	struct reassign *again; /* assigned again while halting: started
	                           when the halt ends (jobs.c, job_end) */
	struct event *retry; /* sends the requeued head op again, or NULL;
	                        the job's own, so a re-join's new fence or a
	                        take-over never strands that op unsent */
};

/* A new assignment of a job's key to the worker that is halting it: what
 * jobs_assign needs besides the key and the worker, which are the
 * job's. */
struct reassign {
	uint64_t fence;
	char *payload;
	size_t plen;
	char *disp;
};

/* A worker session attached to this node. */
struct lworker {
	char *id;          /* stable name or generated id */
	struct pool *pool;
	struct session *sess;
	int notify;        /* handles notifications */
	int messages;      /* handles messages (HELLO's messages: true) */
	int attached;      /* recorded in Redis (WELCOME sent) */
	int attaching;     /* attach.lua sent, not answered yet */
	int detaching;     /* DETACH received: halting its jobs */
	uint64_t detach_id;
	table jobs;        /* key -> struct job */
	table events;      /* evid (as decimal) -> struct job (in flight) */
	table msgs;        /* evid -> who waits for a MESSAGE's answer
	                      (message.c) */
};

/* ---- pools -------------------------------------------------------------- */

enum pool_state {
	POOL_JOINING = 0, POOL_ACTIVE, POOL_FENCED, POOL_SHUTDOWN, POOL_LEFT
};

struct pool {
	struct pulsed *d;
	char *name;
	pool_opts opts;
	char *base;         /* "<prefix>:{<name>}:" */
	char *channel;      /* base + "ev" */
	int state;          /* enum pool_state */
	char inc[20];       /* this node's incarnation in the pool */
	uint64_t epoch;     /* membership epoch last loaded */
	int members_inflight, members_again;
	/* live workers of the pool (all nodes): id -> node id (strdup'd) */
	table workers;
	char **wids;        /* the same ids as an array, for placement */
	size_t nwids;
	table lworkers;     /* id -> struct lworker, attached here */
	table ljobs;        /* key -> struct job, run by local workers */
	/* lease, in local monotonic ms */
	uint64_t lease_sent_ms;   /* send time of the last good renewal */
	uint64_t lease_ok_ms;     /* when it was answered */
	int lease_inflight;
	int join_inflight;
	int join_stale;           /* a self-fence came after the join in flight */
	int64_t redis_offset_ms;  /* redis time - local monotonic */
	uint64_t rtt_us;
	uint64_t waiting;         /* jobs waiting for a worker (last seen) */
	uint64_t jobs_pool;       /* jobs in the pool (last seen) */
	int scan_inflight, scan_again;
	int moves_inflight;
	char inbox_last[48];      /* last inbox entry id read */
	size_t inbox_untrimmed;   /* entries handled since the last XTRIM */
	char orphan_cursor[24];   /* HSCAN cursor of the orphan sweep */
	uint64_t ticks;           /* good lease renewals */
	table strays;             /* key -> owner record, seen stray this walk */
	table strays_prev;        /* ... and in the previous full walk */
	table fenced;             /* key -> struct fenced_job: what the last
	                             self-fence stopped, and jobs whose worker
	                             left while Redis could not be told, until
	                             the next join (pool_keep_job) */
	struct gone_log gone;     /* keys this node answered as gone, for the
	                             re-join horizon (request.c notes them,
	                             a re-join names them: gone.h) */
	char stray_cursor[24];    /* SSCAN cursor of the stray walk */
	table tickers;            /* key -> struct clock (clock.c) */
	struct event *lease_timer, *fence_timer, *scan_timer, *rebalance_ev;
	uint64_t joined_ms;
	uint64_t leave_sid, leave_id; /* a LEAVE request being carried out */
	void (*left_fn)(struct pool *p, int left); /* pool_leave's continuation */
	int leaving;                  /* leave.lua sent */
	uint64_t used_ms;             /* last used here (limits.pool_idle) */
	size_t nrequests;             /* requests of this pool in flight */
	char *taken_by;     /* the node id's other live holder (join.lua
	                       answered TAKEN), until a join succeeds */
	int force_join;     /* that holder was found dead on this host */
	uint64_t taken_logged_ms;
	char *refused;      /* why Redis refuses this node's join or lease
	                       (an error reply: NOPERM, ...), until one works */
};

/* ---- sessions ----------------------------------------------------------- */

enum role { ROLE_NONE = 0, ROLE_CLIENT, ROLE_WORKER };

struct session {
	struct pulsed *d;
	uint64_t sid;
	int fd;
	struct bufferevent *bev;
	pulse_reader rd;
	int role;
	pid_t pid;
	uid_t uid;
	gid_t gid;
	int admin;
	int closing;        /* pulsed closes it: freed once its output drained */
	const char *close_why; /* why (static text): the cause its end logs */
	int paused;         /* not read while its output is past high water */
	struct event *deadline; /* HELLO, then each begun frame, must arrive */
	struct lworker *worker;
	unsigned inflight;  /* client requests not answered yet */
	unsigned tickers;   /* ticker subscriptions opened (ticker.c) */
	uint64_t last_rx_ms; /* when the peer last sent bytes (idle sweep) */
	uint32_t peer_max_body; /* the largest body the peer takes (HELLO's
	                           max_body, else the protocol's default) */
	int peer_stream;    /* it takes a list in several frames (HELLO) */
	int want_drained;   /* a view waits for its output to drain: call
	                       d->peer.drained once it has (server.c) */
};

/* How far a dispatch got, for its TIMEOUT message: nothing sent (the
 * job was not created), admit.lua sent but unanswered (unknown), the
 * job admitted (it exists and will run), or admitted and then Redis lost
 * its data before the start answered (unknown again). */
enum { ADM_NONE = 0, ADM_SENT, ADM_DONE, ADM_UNSURE };

struct request;
/* A request's next step (dispatch.c's admission or routing), run by
 * request.c when the request is tried again. */
typedef void request_step(struct request *q);

/* A client request waiting for an answer (local or from another node). */
struct request {
	uint64_t rid;
	uint64_t sid;       /* session to answer (0: nobody waits) */
	uint64_t id;        /* the client's request id */
	int type;           /* PULSE_T_DISPATCH/STOP/NOTIFY/SEND */
	struct pool *pool;
	char *key;
	char *payload;
	size_t plen;
	char *owner;        /* local worker chosen at admission (dispatch) */
	int admission;      /* dispatch: ADM_NONE, ADM_SENT or ADM_DONE */
	uint64_t started_us;
	struct event *timer;
	struct event *retry;
	request_step *again; /* what a retry runs */
};

/* ---- metrics and systemd ------------------------------------------------ */

/* How many buckets the dispatch latency histogram has (their bounds are
 * the table in metrics.c); +Inf is implicit. */
#define METRICS_NBUCKETS 14

/* Why a job left a local worker for another (pulsed_job_moves_total). */
enum move_reason { MOVED_REBALANCE = 0, MOVED_DETACH, MOVED_WORKER_GONE,
                   MOVED__COUNT };

/* Counters that other files bump (metrics.c reads them), and the HTTP
 * listener. Counters only ever increase; gauges are read from the context
 * when scraped, never kept here. */
struct metrics {
	uint64_t dispatches[PULSE_E__COUNT]; /* answered dispatches by code */
	uint64_t latency_bucket[METRICS_NBUCKETS]; /* not cumulative */
	uint64_t latency_count;
	uint64_t latency_sum_us;
	uint64_t moves[MOVED__COUNT];
	uint64_t lease_failures;  /* renewals that did not renew */
	uint64_t fences;          /* self-fences */
	struct evhttp *http;      /* NULL: metrics.listen not set */
};

/* The systemd notification socket ($NOTIFY_SOCKET) and what was told. */
struct sdnotify {
	socklen_t addrlen;        /* 0: not run by systemd (or unusable) */
	struct sockaddr_un addr;
	int fd;                   /* valid while addrlen > 0 */
	int ready;                /* READY=1 sent */
	int redis;                /* last Redis state told: -1 none, 0, 1 */
	char status[160];         /* last STATUS= sent */
	int failed;               /* a send failed (logged once) */
	struct event *watchdog;   /* every WATCHDOG_USEC/2, or NULL */
	struct event *status_timer; /* refreshes STATUS= counts */
};

/* ---- the daemon --------------------------------------------------------- */

/* Where an orderly stop is (SIGTERM): local jobs being handed on, pools
 * being left, then the loop ends (nothing may start after that). */
enum stop_phase { RUNNING = 0, STOP_DRAINING, STOP_DONE, STOP_LEAVING };

/* News that goes up from the two I/O layers, which name nothing above
 * them (as hiredis's callbacks and tmux's proc.c): context.c registers
 * these once. */
struct peer_hooks {
	/* A worker's HELLO (role checked): attach it, or -1 with code and a
	 * message for the drop. */
	int (*worker_hello)(struct session *s, const pulse_msg *m, char *err,
	                    size_t errlen, int *code);
	/* Any frame after HELLO. */
	void (*frame)(struct session *s, const pulse_msg *m);
	/* The session ends (any cause), before it is freed. */
	void (*closed)(struct session *s);
	/* Its output drained after session_wait_drained(). */
	void (*drained)(struct session *s);
};
struct store_hooks {
	void (*up)(struct pulsed *d);   /* the connections are (re)made */
	/* A connection was lost or a connect failed; was_up: they had been
	 * up until now. */
	void (*down)(struct pulsed *d, int was_up);
	/* A pub/sub message on a subscribed channel. */
	void (*message)(struct pulsed *d, const char *channel, size_t clen,
	                const char *msg, size_t mlen);
};

/* News that goes up from the pool and worker layers to the requests
 * and the process above them (registered in context.c). */
struct pool_hooks {
	/* Jobs left this node's workers (w: the worker they left, or NULL):
	 * whoever waits until they are gone looks again (a DETACH, a fenced
	 * or shut-down pool, a LEAVE, a DRAIN, pulsed stopping). One way to
	 * wait, for every such waiter. */
	void (*jobs_gone)(struct pool *p, struct lworker *w);
	/* Redis assigned key to local worker wid (a claim, an admission, an
	 * 'a' entry in the inbox): jobs_assign's arguments. */
	void (*assign)(struct pool *p, const char *wid, const char *key,
	               uint64_t fence, const char *payload, size_t plen,
	               const char *disp);
	/* A stop ('s': OP_HALT) or notify (OP_EVENT) another node routed
	 * here: jobs_event's arguments; -1 when the job is not here. */
	int (*job_event)(struct pool *p, const char *key, int op,
	                 const char *payload, size_t plen, uint64_t rid,
	                 const char *reply_node, const char *reply_rid);
	/* A keyed message another node routed to local worker wid ('m' in
	 * the inbox): message_deliver's arguments. */
	void (*message)(struct pool *p, const char *wid, const char *key,
	                const char *payload, size_t plen, uint64_t rid,
	                const char *reply_node, const char *reply_rid);
	/* The placement moved a local job to another worker (rebalance). */
	void (*move)(struct job *j, int why);
	/* Stop job j here without releasing it, or every local job (j
	 * NULL): the lease was lost, or the join found j elsewhere. */
	void (*fence)(struct pool *p, struct job *j);
	/* The pool joined (again): attaches that waited go on. */
	void (*joined)(struct pool *p);
	/* Redis refused the pool's join (why: an error reply, NOPERM...):
	 * attaches waiting for it are refused at once, saying why. */
	void (*join_refused)(struct pool *p, const char *why);
	/* The pool was shut down pool-wide (its 's' message, or the mark a
	 * lease found), and later its last local job stopped. */
	void (*shut_down)(struct pool *p);
	void (*shut_done)(struct pool *p);
	/* A ticker's or schedule's clock ("tick:<name>", "sched:<name>")
	 * was stopped pool-wide. */
	void (*clock_stopped)(struct pool *p, const char *key);
	/* The pool is about to be freed: what the layers above keep for it
	 * (workers, clocks) goes first. */
	void (*freeing)(struct pool *p);
};

struct pulsed {
	struct event_base *base;
	struct peer_hooks peer;   /* context.c */
	struct store_hooks storeh; /* context.c */
	struct pool_hooks poolh;  /* context.c */
	config cfg;
	char *config_path;
	logger log;
	char *node;         /* node id */
	char *holder;       /* "<boot id> <pid> <host> <socket>": this process,
	                       as join.lua records who holds the node id */
	uint64_t start_ms;
	size_t pools_joined; /* pools not left (limits.max_pools) */
	int stopping;       /* enum stop_phase */
	int draining;       /* DRAIN: local workers stay out of placement */
	struct drain_wait *drains; /* DRAIN requests waiting (drain.c) */

	/* server */
	int lfd;
	struct event *lev;
	struct event *idle_sweep; /* client_idle_timeout (server.c) */
	table sessions;     /* sid -> struct session */
	uint64_t next_sid;
	unsigned nsessions;
	struct listout *lists_waiting; /* paged lists waiting for their peer
	                                 to read (listout.c) */

	/* requests and events */
	table requests;     /* rid -> struct request */
	table plans;        /* plan id -> struct plan_ask (schedule.c) */
	uint64_t next_rid;
	uint64_t next_evid;

	/* pools joined */
	table pools;        /* name -> struct pool */

	/* store */
	struct store *store;

	struct event *sigev[4];
	struct event *stop_timer;

	struct metrics m;   /* metrics.c */
	struct sdnotify sd; /* sdnotify.c */
};

/* ---- functions shared between files ------------------------------------- */

/* context.c: main() and the session fuzzer build the context with these.
 * context_init() returns -1 when the event loop cannot be created;
 * context_free() may be called on a context in any state after it. */
int context_init(struct pulsed *d);
void context_free(struct pulsed *d);

uint64_t now_ms(void);   /* CLOCK_MONOTONIC */
uint64_t now_us(void);
/* (Re)arm a timer event to fire in ms milliseconds. */
void timer_arm_ms(struct event *ev, uint64_t ms);

/* server.c */
int server_listen(struct pulsed *d, char *err, size_t errlen);
/* The socket's part of "can pulsed start with this config" (pulsed -n, a
 * start, a reload): -1 with why in err. */
int server_check_config(const config *c, char *err, size_t errlen);
void server_close(struct pulsed *d);
void session_send(struct session *s, pulse_buf *b);
/* Finish the frame being built in e, send it, and free its buffer. */
void session_send_enc(struct session *s, pulse_enc *e);
/* Bytes queued for the peer and not written yet. */
size_t session_backlog(const struct session *s);
/* Call d->peer.drained(s) once the peer has read what is queued (at once,
 * from the loop, if nothing is): a view that produces a long answer goes
 * on only as fast as the peer reads it. */
void session_wait_drained(struct session *s);
void session_error(struct session *s, uint64_t id, int code, const char *fmt,
                   ...) __attribute__((format(printf, 4, 5)));
void session_ok(struct session *s, uint64_t id);
void session_drop(struct session *s, int code, const char *msg);
void session_close(struct session *s, const char *why);
struct session *session_find(struct pulsed *d, uint64_t sid);
void session_welcome_worker(struct session *s, const char *wid);
/* Make a session of a connected, non-blocking socket (it takes fd) whose
 * peer has credentials cred, as accept does. Exported for the fuzz
 * harness (tests/fuzz/fuzz_session.c), which feeds one end of a
 * socketpair through the same read path without a listening socket. */
struct ucred;
struct session *session_new(struct pulsed *d, int fd, const struct ucred *cred);

/* command.c: the table of messages after HELLO (role, needs, handler).
 * A handler gets the pool when its entry has CF_POOL, else NULL. */
typedef void command_fn(struct session *s, struct pool *p, const pulse_msg *m);
enum {
	CF_POOL = 1 << 0,     /* names a pool (checked, joined if new) */
	CF_ADMIN = 1 << 1,    /* root or the admin group (P17) */
	CF_OPEN = 1 << 2,     /* refused once the pool is shut down */
	CF_REDIS = 1 << 3,    /* refused while Redis is unreachable */
	CF_INFLIGHT = 1 << 4, /* takes one of the session's in-flight slots */
	CF_RUNNING = 1 << 5,  /* refused while pulsed is stopping */
	CF_LOCAL = 1 << 6,    /* with `local` set, answered from memory:
	                         CF_OPEN, CF_REDIS, CF_INFLIGHT do not apply */
	CF_NOJOIN = 1 << 7,   /* never joins: for a pool this node has not
	                         joined the handler gets NULL (the name is
	                         m->pool) and reads Redis by name (the views)
	                         or answers that there is nothing here */
};
void command_run(struct session *s, const pulse_msg *m);

/* dispatch.c: DISPATCH, STOP, NOTIFY and SEND (command handlers) */
void dispatch_request(struct session *s, struct pool *p, const pulse_msg *m);
void route_request(struct session *s, struct pool *p, const pulse_msg *m);
void message_request(struct session *s, struct pool *p, const pulse_msg *m);

/* views.c: the read-only views (command handlers) */
void view_request(struct session *s, struct pool *p, const pulse_msg *m);
void workers_request(struct session *s, struct pool *p, const pulse_msg *m);
void status_request(struct session *s, struct pool *p, const pulse_msg *m);

/* request.c */
#define REQUEST_RETRY_MS 20
struct request *request_make(struct pulsed *d, uint64_t sid, uint64_t id,
                             int type, struct pool *p, const char *key,
                             size_t klen, const char *payload, size_t plen,
                             uint64_t limit_ms, request_step *again);
/* A request for a client's DISPATCH, STOP or NOTIFY (takes an in-flight
 * slot of the session until it is answered). */
struct request *request_new(struct session *s, const pulse_msg *m,
                            struct pool *p, request_step *again);
/* Run the request's next step again after ms (its deadline holds). */
void request_retry_in(struct request *q, uint64_t ms);
void *request_ref(struct request *q);
struct request *request_take(struct pulsed *d, void *ref);
/* Answer a pending request (and free it). code 0 = ok. */
void request_finish(struct pulsed *d, uint64_t rid, int code, const char *msg);
/* The same with a result payload: with code 0 and payload not NULL, the
 * OK carries it (a SEND's answer; TOO_LARGE instead when that OK would
 * be over the caller's max_body). request_finish is this with NULL. */
void request_answer(struct pulsed *d, uint64_t rid, int code, const char *msg,
                    const char *payload, size_t plen);
/* Redis lost this node's pool state (pool.c, on LOST): admitted
 * dispatches still waiting may have been lost with it. */
void requests_data_lost(struct pool *p);
void requests_fail_all(struct pulsed *d, int code, const char *msg);
/* dispatch.c: a DISPATCH or STOP on behalf of pulsed itself (a
 * schedule's plan): nobody waits for the answer. */
void request_internal(struct pool *p, int type, const char *key,
                      size_t klen, const char *payload, size_t plen);
/* Run a STOP or NOTIFY's routing again (the job was between owners). */
void request_retry(struct pulsed *d, uint64_t rid);
/* Who asked for request rid, for a job line: "uid=N", "by=pulsed",
 * "uid=?" (its session is gone) or "" (no such request). */
void request_caller(struct pulsed *d, uint64_t rid, char *buf, size_t len);

/* worker.c: worker sessions */
int worker_attach(struct session *s, const pulse_msg *m, char *err,
                  size_t errlen, int *code);
/* An ACK (command handler): a message's answer (message.c) or a job
 * event's (jobs.c). */
void worker_ack(struct session *s, struct pool *p, const pulse_msg *m);
void worker_detach_req(struct session *s, struct pool *p, const pulse_msg *m);
void worker_session_closed(struct session *s);
/* Detach every local worker of the pool (pulsed stopping or leaving the
 * pool): out of placement, their jobs handed on; sessions stay. */
void worker_drain_pool(struct pool *p);
/* The pool is being freed: its workers too (the freeing hook). */
void worker_free_all(struct pool *p);
/* Take w out of placement in Redis (detach.lua); it stays attached. */
void worker_leave_placement(struct lworker *w);
/* Record w in Redis (attach.lua): placed unless pulsed drains; the first
 * success sends WELCOME. */
void worker_send_attach(struct lworker *w);
/* The pool joined: finish the attaches that waited for it. */
void worker_pool_joined(struct pool *p);
/* Its join was refused: the sessions waiting for it end with why. */
void worker_join_refused(struct pool *p, const char *why);
/* Jobs left w (the jobs_gone hook): a finished detach is answered. */
void worker_jobs_gone(struct lworker *w);

/* jobs.c: the jobs local workers run */
void jobs_ack(struct session *s, struct pool *p, const pulse_msg *m);
/* Start key on local worker wid (assigned in Redis with fence); disp is
 * the dispatch record of a direct admission ("<caller node> <request
 * id>", see started.lua), NULL when not known (a claim). */
void jobs_assign(struct pool *p, const char *wid, const char *key,
                 uint64_t fence, const char *payload, size_t plen,
                 const char *disp);
/* Queue a HALT or EVENT for a local job; answer rid / remote reply_node.
 * -1 when the job is not here (the caller looks again). */
int jobs_event(struct pool *p, const char *key, int op,
               const char *payload, size_t plen, uint64_t rid,
               const char *reply_node, const char *reply_rid);
/* Hand a local job to another worker (why: enum move_why): halt it,
 * then release. */
void job_move(struct job *j, int why);
/* Stop one local job, or every one of the pool, without releasing it
 * (a self-fence, a shutdown, a job the join found elsewhere). */
void job_fence(struct job *j);
void jobs_fence_pool(struct pool *p);
/* Hand every job of w to other workers (not those already stopping). */
void jobs_move_worker(struct lworker *w);
/* w's session ended: release its jobs (P4) and forget them. */
void jobs_worker_gone(struct lworker *w);
/* w is freed (pulsed stops): its jobs' waiters are answered CLOSED. */
void jobs_worker_free(struct lworker *w);

/* message.c: keyed messages to local workers */
/* Send a MESSAGE to local worker wid and answer local request rid, or
 * remote request reply_rid of node reply_node, with its ACK. A worker
 * that is not here or out of placement: the caller routes again. */
void message_deliver(struct pool *p, const char *wid, const char *key,
                     const char *payload, size_t plen, uint64_t rid,
                     const char *reply_node, const char *reply_rid);
/* If ACK m answers one of w's messages: answer its caller, return 1. */
int message_ack(struct lworker *w, const pulse_msg *m);
/* w's session ended or w is freed: every message it has not answered
 * fails with code and why. */
void message_fail_all(struct lworker *w, int code, const char *why);

/* pool.c */
struct pool *pool_get(struct pulsed *d, const char *name, int create,
                      int *code, char *err, size_t errlen);
void pool_free(struct pool *p);
void pool_start(struct pool *p);
void pool_membership_changed(struct pool *p);
void pool_scan_waiting(struct pool *p);
void pool_on_event(struct pool *p, const char *msg, size_t len);
/* The pool whose base ("<prefix>:{<pool>}:") a Redis key or channel
 * extends, or NULL. */
struct pool *pool_of_key(struct pulsed *d, const char *key, size_t len);
/* store.c's message hook: route a pub/sub message to its pool. */
void pools_on_message(struct pulsed *d, const char *channel, size_t clen,
                      const char *msg, size_t mlen);
int pool_usable(struct pool *p); /* Redis up and lease held */
/* Why the node cannot be in the pool at all (its id is another live
 * process's), or NULL. */
const char *pool_refusal(const struct pool *p);
void pool_lost(struct pool *p);  /* a script answered LOST */
/* A job this node let go while Redis may not have it: the next join
 * re-creates it if Redis lacks it (join.lua's fenced jobs). since: the
 * Redis time it was given to its worker (struct job). */
void pool_keep_job(struct pool *p, const char *key, const char *payload,
                   size_t plen, uint64_t since);
/* Redis's clock now, estimated from the offset seen at the last lease. */
uint64_t pool_redis_now_ms(const struct pool *p);
const char *pool_owner_of(struct pool *p, const char *key, size_t klen);
/* The prefix of every Redis key of pool `name` ("<prefix>:{<name>}:"),
 * written into buf; whether or not this node joined the pool. */
void pool_base(const struct pulsed *d, const char *name, char *buf,
               size_t len);
void pools_redis_up(struct pulsed *d);
void pool_move_done(struct pool *p);
/* Send LEASE to one worker, or to every worker of the pool (w NULL). */
void pool_send_lease(struct pool *p, struct lworker *w);
/* Whether a local worker belongs in the pool's placement (attached, not
 * detaching, and pulsed not draining). */
int pool_worker_placed(const struct lworker *w);
/* release.lua: hand keys[i] (owned by owners[i], "<worker> <fence>")
 * back to the waiting set. */
void pool_release_keys(struct pool *p, const char *const *keys,
                       const char *const *owners, size_t n,
                       void (*cb)(struct pulsed *d, redisReply *r, void *arg),
                       void *arg);
/* Jobs left: a fenced pool whose last job stopped joins again, a shut-
 * down one reports (the jobs_gone hook). */
void pool_fence_done(struct pool *p);
/* The pool was shut down pool-wide: the one place that marks it. */
void pool_shut_down(struct pool *p);
/* Its shutdown mark was removed (REOPEN): join again. */
void pool_reopened(struct pool *p);
/* Leave the pool (leave.lua), then done(p, left): left 0 when the node
 * could not (not active, or Redis away). A continuation, so that pool.c
 * need not know who asked (a LEAVE request, or pulsed stopping). */
typedef void pool_left_fn(struct pool *p, int left);
void pool_leave(struct pool *p, pool_left_fn *done);
void pools_redis_down(struct pulsed *d);
/* Jobs run by local workers, all pools together. */
size_t pools_local_jobs(struct pulsed *d);

/* ticker.c */
void ticker_request(struct session *s, struct pool *p, const pulse_msg *m);
void ticker_session_closed(struct session *s);

/* clock.c: a pool-wide clock of a ticker or a schedule, kept here while
 * a local session subscribes (p->tickers, by "tick:<name>" or
 * "sched:<name>"). What a won tick and an end mean is the creator's. */
#define CLOCK_MIN_INTERVAL_MS 10
struct clock;
struct clock_ops {
	void (*won)(struct clock *c, uint64_t seq, uint64_t ts);
	void (*ended)(struct clock *c); /* before clock.c frees it */
};
struct clock {
	struct pool *p;
	int sched;               /* a schedule's clock, not a ticker */
	char *key;               /* "tick:<name>" or "sched:<name>" */
	char *name;
	uint64_t interval, next; /* ms; next on Redis's clock */
	uint64_t *sids;          /* subscribed sessions (ticker.c) */
	size_t nsids, cap, rr;
	struct event *timer;
	int inflight;
	const struct clock_ops *ops;
};
const char *clock_kind(int sched); /* "sched" or "tick" */
/* The pool's clock of that name, made if new (ops NULL: nobody to tell). */
struct clock *clock_get(struct pool *p, int sched, const char *name,
                        uint64_t interval, const struct clock_ops *ops);
/* tick.lua's op ("open", "fire", "stop"); sid and id: a request to
 * answer once Redis did (0: none). */
void clock_call(struct clock *c, const char *op, uint64_t sid, uint64_t id);
void clock_free(struct clock *c);
/* End a schedule's (sched = 1) or ticker's clock on every node. */
void clock_stop(struct pool *p, int sched, const char *name);
/* The pool hooks: a clock was stopped pool-wide; the pool is freed. */
void clock_stopped(struct pool *p, const char *key);
void clocks_free(struct pool *p);

/* shutdown.c */
void shutdown_request(struct session *s, struct pool *p, const pulse_msg *m);
void leave_request(struct session *s, struct pool *p, const pulse_msg *m);
void reopen_request(struct session *s, struct pool *p, const pulse_msg *m);
/* The shut_down hook: stop every local job of the pool. */
void pool_shutdown_local(struct pool *p);
void shutdown_local_done(struct pool *p);
void pool_leave_progress(struct pool *p);

/* schedule.c */
/* Ask producer session s for the plan of schedule name. */
void schedule_ask(struct pool *p, const char *name, struct session *s);
void schedule_planned(struct session *s, struct pool *p, const pulse_msg *m);
void schedule_session_closed(struct session *s);
void schedules_free(struct pulsed *d);
/* CLOCKS: the pool's tickers or schedules with this node's subscribers. */
void clocks_request(struct session *s, struct pool *p, const pulse_msg *m);

/* main.c: something finished that a stopping pulsed may wait for (the
 * jobs_gone hook, context.c). */
void daemon_progress(struct pulsed *d);

/* drain.c */
/* DRAIN and UNDRAIN requests (admin only). */
void drain_request(struct session *s, struct pool *p, const pulse_msg *m);
/* Free the DRAIN requests still waiting (pulsed stops); no answer. */
void drain_free_all(struct pulsed *d);
void undrain_request(struct session *s, struct pool *p, const pulse_msg *m);
/* The jobs_gone hook: a drain waiting for the last local job answers. */
void drain_progress(struct pulsed *d);
/* A pool joined, or Redis is back: while draining, the jobs that could
 * not move before move now. */
void drain_resume(struct pulsed *d);

/* metrics.c */
/* Serve /metrics, /healthz and /readyz on cfg.metrics_listen (nothing
 * when it is NULL). -1 with a message when the address cannot be bound. */
int metrics_start(struct pulsed *d, char *err, size_t errlen);
void metrics_stop(struct pulsed *d);
/* Count an answered dispatch: its result code and its latency. */
void metrics_dispatch(struct pulsed *d, int code, uint64_t started_us);

/* sdnotify.c: every call does nothing when $NOTIFY_SOCKET is not set. */
void sdnotify_init(struct pulsed *d);
void sdnotify_close(struct pulsed *d);
/* Redis became reachable (1: READY=1 the first time) or unreachable (0). */
void sdnotify_redis(struct pulsed *d, int up);
void sdnotify_stopping(struct pulsed *d);
/* Around a SIGHUP reload: RELOADING=1 with MONOTONIC_USEC, then READY=1. */
void sdnotify_reloading(struct pulsed *d);
void sdnotify_reloaded(struct pulsed *d);

/* placement.c */
uint64_t placement_score(const char *key, size_t klen, const char *wid);
/* Index of the owner among wids (n > 0), -1 when n == 0. */
ssize_t placement_pick(const char *key, size_t klen, char *const *wids,
                       size_t n);

/* inbox.c */
void inbox_restart(struct pulsed *d);
/* Answer a request of another node through its inbox (code -1: RETRY,
 * look for the owner again); payload, when not NULL, is the answer's
 * (a SEND's). */
void inbox_reply(struct pool *p, const char *node, const char *rid, int code,
                 const char *msg, const char *payload, size_t plen);
/* Route local request rid, a SEND for key, to worker wid of node (an
 * 'm' entry in its inbox); the answer comes back as an 'r' entry. A node
 * whose inbox is gone makes the request route again. */
void inbox_message(struct pool *p, const char *node, const char *wid,
                   const char *key, const char *payload, size_t plen,
                   uint64_t rid);

#endif
