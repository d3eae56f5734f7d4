/*
 * fuzz_session.c: libFuzzer target for pulsed's request handling behind
 * the codec: a session's input path (server.c: read, frame, decode,
 * handshake) and the handlers it hands messages to (client.c, worker.c,
 * schedule.c, drain.c, ...), with no Redis connected.
 *
 * Owns: a whole daemon context per input, built without main.c and torn
 * down leak-free: config defaults, the event base, a store that never
 * connects (every Redis call is answered NULL at once, so requests that
 * need Redis get UNAVAILABLE, but every validation before that runs), and
 * sessions made by session_new() on one end of socketpairs. Nothing is
 * kept between inputs except the /dev/null descriptor the log writes to.
 *
 * Fixtures, so that fuzz bytes reach handlers past their lookups: pool
 * "fuzz" with worker "w1" attached on its own session (the state
 * attach.lua's answer would leave, set by hand because there is no Redis)
 * running jobs "job-a" and "job-b" (START events 1 and 2 sent, an EVENT
 * and a HALT queued behind them, ids 3 and 4 once the STARTs are acked),
 * and sent a keyed message (MESSAGE id 101) that it has not answered.
 *
 * Input: byte 0 picks the mode (and the log format), the rest is the byte
 * stream the peer sends:
 *   mode 0  raw: a new session, the stream starts with the handshake;
 *   mode 1  client: a new session already welcomed as a client (the
 *           harness sent HELLO), and asked for a schedule's plan (PLAN id
 *           3), so PLANNED frames are matched and applied;
 *   mode 2  worker: the stream is sent by worker w1 (ACK, DETACH, ...).
 *
 * Invariants checked: every frame pulsed writes to any peer is a whole
 * frame that decodes and has its type's fields (abort() otherwise); the
 * loop settles (a pass bound turns a livelock into a crash); teardown
 * leaves nothing allocated (LeakSanitizer).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <event2/event.h>

#include "pulsed.h"
#include "store.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

/* Passes of the loop without progress that count as settled, and the most
 * passes one phase may take before the harness calls it a livelock. */
#define IDLE_PASSES 3
#define MAX_PASSES 100000

enum { MODE_RAW, MODE_CLIENT, MODE_WORKER, MODE__COUNT };

/* Our end of one session's socketpair, and what pulsed wrote to it. */
struct peer {
	int fd;          /* -1 once closed */
	pulse_reader out;
	const uint8_t *in; /* what this peer still has to send */
	size_t inlen;
	int queued;      /* SIOCOUTQ last seen: bytes pulsed has not read */
};

struct harness {
	struct pulsed d;
	struct peer worker; /* w1's session */
	struct peer fuzz;   /* the session under test (modes 0, 1) */
};

/* Every frame pulsed writes must be valid protocol. */
static void check_output(struct peer *pr)
{
	for (;;) {
		const uint8_t *body;
		uint32_t len;
		int r = pulse_reader_next(&pr->out, &body, &len);
		CHECK(r >= 0);
		if (r == 0)
			return;
		pulse_msg m;
		msgpack_unpacked u;
		char err[256];
		msgpack_unpacked_init(&u);
		CHECK(pulse_msg_decode(body, len, &m, &u, err, sizeof(err)) == 0);
		CHECK(pulse_msg_require(&m, err, sizeof(err)) == 0);
		msgpack_unpacked_destroy(&u);
		pulse_reader_consume(&pr->out);
	}
}

/* One peer's part of a pass: send what the socket takes, read what pulsed
 * wrote. Returns whether anything moved. */
static int peer_step(struct peer *pr)
{
	int moved = 0;
	if (pr->fd < 0)
		return 0;
	if (pr->inlen > 0) {
		ssize_t w = send(pr->fd, pr->in, pr->inlen, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w > 0) {
			pr->in += w;
			pr->inlen -= (size_t)w;
			moved = 1;
		} else if (w < 0 && errno != EAGAIN && errno != EINTR) {
			pr->inlen = 0; /* pulsed closed the session */
		}
	}
	for (;;) {
		size_t room;
		uint8_t *space = pulse_reader_space(&pr->out, &room);
		CHECK(space); /* a frame over 64 MiB from pulsed */
		ssize_t r = recv(pr->fd, space, room, MSG_DONTWAIT);
		if (r <= 0)
			break;
		pulse_reader_commit(&pr->out, (size_t)r);
		check_output(pr);
		moved = 1;
	}
	int q = 0;
	if (ioctl(pr->fd, SIOCOUTQ, &q) == 0 && q != pr->queued) {
		pr->queued = q;
		moved = 1;
	}
	return moved;
}

/* Run the loop until nothing moves for IDLE_PASSES passes. */
static void settle(struct harness *h)
{
	int idle = 0;
	for (int i = 0; idle < IDLE_PASSES; i++) {
		CHECK(i < MAX_PASSES);
		event_base_loop(h->d.base, EVLOOP_NONBLOCK);
		int moved = peer_step(&h->worker);
		moved |= peer_step(&h->fuzz);
		idle = moved ? 0 : idle + 1;
	}
}

/* A connected pair: pulsed's end becomes a session, ours is returned. */
static struct session *open_session(struct harness *h, struct peer *pr)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	                 sv) == 0);
	struct ucred cred = {getpid(), getuid(), getgid()};
	pr->fd = sv[1];
	pulse_reader_init(&pr->out, 64u << 20);
	return session_new(&h->d, sv[0], &cred);
}

static void peer_close(struct peer *pr)
{
	if (pr->fd >= 0)
		close(pr->fd);
	pr->fd = -1;
	pulse_reader_free(&pr->out);
}

/* The daemon context main() builds, minus the socket, signals and Redis. */
static void harness_init(struct harness *h, int log_format)
{
	static int devnull = -1;
	if (devnull < 0) {
		devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
		signal(SIGPIPE, SIG_IGN); /* as main() does */
	}
	struct pulsed *d = &h->d;
	memset(h, 0, sizeof(*h));
	h->worker.fd = h->fuzz.fd = -1;
	config_defaults(&d->cfg);
	/* every log line is formatted (peer bytes go through the escaping),
	 * none is shown */
	log_init(&d->log, LOG_DEBUG, log_format);
	d->log.fd = devnull;
	d->node = xstrdup("fuzz-node");
	d->start_ms = now_ms();
	CHECK(context_init(d) == 0);
}

/* Worker w1 of pool "fuzz" attached and running two jobs (see the file
 * comment). Returns its session. */
static struct session *attach_worker(struct harness *h)
{
	struct pulsed *d = &h->d;
	char err[256];
	int code = 0;
	struct pool *p = pool_get(d, "fuzz", 1, &code, err, sizeof(err));
	CHECK(p);
	struct session *s = open_session(h, &h->worker);
	struct lworker *w = calloc(1, sizeof(*w));
	CHECK(w);
	w->id = xstrdup("w1");
	w->pool = p;
	w->sess = s;
	w->notify = 1;
	w->messages = 1;
	w->attached = 1;
	table_init(&w->jobs);
	table_init(&w->events);
	table_init(&w->msgs);
	table_set(&p->lworkers, w->id, strlen(w->id), w);
	s->role = ROLE_WORKER;
	s->worker = w;
	/* assignments count only in an active pool; with no Redis the pool
	 * never joins, so the fixture's jobs come as if it had */
	int state = p->state;
	p->state = POOL_ACTIVE;
	jobs_assign(p, "w1", "job-a", 1, "pa", 2, NULL);
	jobs_assign(p, "w1", "job-b", 1, "pb", 2, NULL);
	p->state = state;
	CHECK(jobs_event(p, "job-a", OP_EVENT, "ev", 2, 0, NULL, NULL) == 0);
	CHECK(jobs_event(p, "job-b", OP_HALT, NULL, 0, 0, NULL, NULL) == 0);
	/* a keyed message in flight, as id 101: out of the way of the ids
	 * the queued EVENT and HALT get when they are sent (3 and 4) */
	uint64_t next = d->next_evid;
	d->next_evid = 100;
	message_deliver(p, "w1", "job-a", "m", 1, 0, NULL, NULL);
	CHECK(w->msgs.n == 1);
	d->next_evid = next;
	return s;
}

/* Mode 1's handshake and plan request, through the ordinary input path. */
static void welcome_client(struct harness *h, struct session *s)
{
	pulse_buf hello = {0};
	pulse_enc e;
	pulse_enc_begin(&e, &hello, PULSE_T_HELLO, 0, 2);
	pulse_enc_uint(&e, "v", PULSE_PROTO_VERSION);
	pulse_enc_cstr(&e, "role", "client");
	CHECK(pulse_enc_end(&e) == 0);
	h->fuzz.in = (const uint8_t *)hello.data;
	h->fuzz.inlen = hello.len;
	uint64_t sid = s->sid;
	settle(h);
	pulse_buf_free(&hello);
	s = session_find(&h->d, sid);
	CHECK(s && s->role == ROLE_CLIENT);
	struct pool *p = table_get(&h->d.pools, "fuzz", 4);
	schedule_ask(p, "sched", s);
}

static int collect_timer(const struct event_base *base, const struct event *ev,
                         void *arg)
{
	(void)base;
	struct event **list = arg;
	if (event_get_fd(ev) < 0 && event_pending(ev, EV_TIMEOUT, NULL)) {
		size_t n = 0;
		while (list[n])
			n++;
		if (n < 255)
			list[n] = (struct event *)ev;
	}
	return 0;
}

/* Let every pending timer run once now, as if its time had come: waits
 * that end only on a timer (a DRAIN's poll, a request's timeout) then
 * finish and free what they hold, as they would in a running pulsed. */
static void fire_timers(struct harness *h)
{
	struct event *list[256] = {0};
	event_base_foreach_event(h->d.base, collect_timer, list);
	for (size_t i = 0; list[i]; i++)
		event_active(list[i], EV_TIMEOUT, 1);
	settle(h);
}

/* main.c's hook for an orderly stop (SIGTERM), which the harness never
 * begins: main.c's version does nothing unless stopping is
 * STOP_DRAINING, so doing nothing is what it does here too. */
void daemon_progress(struct pulsed *d)
{
	(void)d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int mode = data[0] % MODE__COUNT;
	struct harness *h = calloc(1, sizeof(*h));
	CHECK(h);
	harness_init(h, (data[0] / MODE__COUNT) & 1 ? LOG_JSON : LOG_TEXT);
	attach_worker(h);
	settle(h);
	struct peer *target = &h->worker;
	if (mode != MODE_WORKER) {
		struct session *s = open_session(h, &h->fuzz);
		if (mode == MODE_CLIENT)
			welcome_client(h, s);
		target = &h->fuzz;
	}
	target->in = data + 1;
	target->inlen = size - 1;
	settle(h);

	/* the peers hang up; pulsed frees their sessions on EOF */
	peer_close(&h->fuzz);
	peer_close(&h->worker);
	settle(h);
	fire_timers(h);
	context_free(&h->d);
	free(h);
	return 0;
}
