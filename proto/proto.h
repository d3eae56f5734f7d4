/*
 * proto.h: the pulsed socket protocol, shared by pulsed and libpulse-client.
 *
 * Owns: frame layout, message type numbers, field names, error codes, and an
 * I/O-free codec (feed bytes in, take whole frames out; build frames into a
 * buffer). Nothing here reads or writes a file descriptor.
 *
 * Wire format (see proto/PROTOCOL.md for the normative text):
 *   frame   = length:u32 big-endian, body:length bytes
 *   body    = one msgpack map, string keys, always holding "t" (type, uint)
 *
 * Invariants:
 *   - A frame's announced length is checked against the reader's cap before
 *     a single byte of it is buffered, so a peer can make us hold at most
 *     cap + 4 bytes.
 *   - Before msgpack-c sees a body, pulse_msgpack_check() walks it and
 *     rejects any container whose element count exceeds the bytes left, any
 *     nesting deeper than PULSE_MAX_DEPTH and any trailing garbage: msgpack-c
 *     allocates from the counts it reads, so this bounds its allocations by
 *     the frame size.
 *   - Decoded strings and binaries point into the frame buffer; they are
 *     valid until the reader is fed or consumed again.
 */
#ifndef PULSE_PROTO_H
#define PULSE_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>

#define PULSE_PROTO_VERSION 1
#define PULSE_FRAME_HDR 4
#define PULSE_MAX_DEPTH 8
/* Default cap on a frame body: the default payload cap plus room for the
 * other fields. pulsed derives its cap from its configured payload cap. */
#define PULSE_DEFAULT_MAX_PAYLOAD (1024u * 1024u)
#define PULSE_FRAME_OVERHEAD (64u * 1024u)
/* The body every peer MUST accept (PROTOCOL.md 2): a peer that takes more
 * says so in its HELLO (max_body), and pulsed says its own in WELCOME. */
#define PULSE_DEFAULT_MAX_BODY (PULSE_DEFAULT_MAX_PAYLOAD + PULSE_FRAME_OVERHEAD)
/* The largest payload pulsed may be configured to carry
 * (limits.max_payload), and so the largest body libpulse-client follows a
 * WELCOME up to: 64 MiB, and 64 KiB for the other fields. */
#define PULSE_HARD_MAX_PAYLOAD (64u * 1024u * 1024u)
#define PULSE_HARD_MAX_BODY (PULSE_HARD_MAX_PAYLOAD + PULSE_FRAME_OVERHEAD)
#define PULSE_MAX_KEY 1024u

/* Message types. Numbers are part of the wire protocol: never renumber. */
enum pulse_type {
	PULSE_T_HELLO = 1,      /* peer -> pulsed: v, role, [pool, name, notify,
	                         * messages, max_body] */
	PULSE_T_WELCOME = 2,    /* pulsed -> peer: v, node, max_body, [worker] */
	PULSE_T_ERROR = 3,      /* pulsed -> peer: id, code, msg */
	PULSE_T_OK = 4,         /* pulsed -> peer: id, [result fields] */
	PULSE_T_DISPATCH = 10,  /* client: id, pool, key, [payload] */
	PULSE_T_STOP = 11,      /* client: id, pool, key */
	PULSE_T_NOTIFY = 12,    /* client: id, pool, key, [payload] */
	PULSE_T_JOBS = 13,      /* client: id, pool, [worker] -> OK keys (only
	                         * those the worker owns when given) */
	PULSE_T_JOB = 14,       /* client: id, pool, key -> OK exists, [payload] */
	PULSE_T_WORKERS = 15,   /* client: id, pool, [local] -> OK workers */
	PULSE_T_STATUS = 16,    /* client: id -> OK status */
	PULSE_T_TICKER = 17,    /* client: id, pool, name, interval -> OK; then
	                         * TICK frames on this session */
	PULSE_T_TICKER_STOP = 18, /* client: id, pool, name -> OK: ends the
	                         * ticker on every node */
	PULSE_T_SCHEDULE = 19,  /* client: id, pool, name, interval -> OK; the
	                         * session is then a producer: PLAN frames */
	PULSE_T_SHUTDOWN = 30,  /* client (admin): id, pool -> OK once every node
	                         * stopped every job and the pool's state is gone */
	PULSE_T_LEAVE = 31,     /* client (admin): id, pool -> OK once this node
	                         * handed its jobs on and left the pool */
	PULSE_T_WHERE = 32,     /* client: id, pool, key -> OK worker, node,
	                         * exists (1: owns the job, 0: would own it) */
	PULSE_T_NODES = 33,     /* client: id, pool -> OK workers: array of
	                         * maps {node, lease_ms, workers} */
	PULSE_T_DRAIN = 34,     /* client (admin): id, [timeout] -> OK once no
	                         * job runs here; this pulsed takes no new ones */
	PULSE_T_UNDRAIN = 35,   /* client (admin): id -> OK: takes jobs again */
	PULSE_T_CLOCKS = 36,    /* client: id, pool, role ("tick" or "sched")
	                         * -> OK status {tickers|schedules: [maps]} */
	PULSE_T_REOPEN = 37,    /* client (admin): id, pool -> OK: the pool's
	                         * shutdown mark is gone; every node joins it
	                         * again */
	PULSE_T_SEND = 38,      /* client: id, pool, key, [payload], [timeout]
	                         * -> OK payload: a keyed message, answered by
	                         * the message handler of the worker placement
	                         * picks for the key (no job) */
	PULSE_T_MESSAGE = 39,   /* pulsed -> worker: id, key, payload (a SEND);
	                         * answered by ACK with an optional payload */
	PULSE_T_START = 20,     /* pulsed -> worker: id, key, payload */
	PULSE_T_HALT = 21,      /* pulsed -> worker: id, key (stop a job) */
	PULSE_T_EVENT = 22,     /* pulsed -> worker: id, key, payload (notify) */
	PULSE_T_ACK = 23,       /* worker -> pulsed: id, r, [msg], [payload:
	                         * the answer to a MESSAGE] */
	PULSE_T_DETACH = 24,    /* worker -> pulsed: id -> OK when jobs moved */
	PULSE_T_TICK = 26,      /* pulsed -> ticker session: name, seq, ts */
	PULSE_T_TICKEND = 27,   /* pulsed -> ticker or producer session: name
	                         * (the ticker or schedule ended) */
	PULSE_T_PLAN = 28,      /* pulsed -> producer: id, name: compute a plan */
	PULSE_T_PLANNED = 29,   /* producer -> pulsed: id, [start], [stop],
	                         * [all], [end]; or id, code, msg on failure */
	PULSE_T_LEASE = 25,     /* pulsed -> worker: timeout (ms): keep running
	                         * your jobs no longer than this without the
	                         * next LEASE (worker-side fencing) */
};

/* Worker answers in ACK's "r" field. */
enum pulse_ack {
	PULSE_ACK_OK = 0,
	PULSE_ACK_ERROR = 1,
	PULSE_ACK_REQUEUE = 2,
};

/* Error codes: carried on the wire by name (field "code"), in C as these. */
enum pulse_err {
	PULSE_OK = 0,
	PULSE_E_JOB_EXISTS,
	PULSE_E_JOB_NOT_FOUND,
	PULSE_E_TIMEOUT,
	PULSE_E_CLOSED,
	PULSE_E_SHUTDOWN,
	PULSE_E_POOL_FULL,
	PULSE_E_INVALID,
	PULSE_E_TOO_LARGE,
	PULSE_E_UNAVAILABLE,
	PULSE_E_PROTOCOL,
	PULSE_E_PERMISSION,
	PULSE_E_HANDLER, /* the worker's handler answered with its own error */
	PULSE_E_BUSY,    /* too many sessions or requests in flight */
	PULSE_E_NO_HANDLER, /* the worker placement picked takes no messages */
	PULSE_E__COUNT
};

const char *pulse_err_name(int code);      /* "JOB_EXISTS"; "OK" for 0 */
int pulse_err_from_name(const char *s, size_t n); /* -1 if unknown */

/* A counted string pointing into a frame (not NUL-terminated). */
typedef struct pulse_str {
	const char *p;
	size_t n;
} pulse_str;

/* ---- framing ----------------------------------------------------------- */

typedef struct pulse_reader {
	uint8_t *buf;
	size_t len;       /* bytes held */
	size_t off;       /* start of the first unconsumed frame */
	size_t cap;       /* allocated */
	uint32_t max_body;
	size_t frame_end; /* set by next(); consume() drops up to it */
} pulse_reader;

void pulse_reader_init(pulse_reader *r, uint32_t max_body);
/* Take bodies up to max_body from now on (never less than before: what
 * is held stays within the bound). */
void pulse_reader_raise(pulse_reader *r, uint32_t max_body);
void pulse_reader_free(pulse_reader *r);
/* Copy n bytes in. Returns 0, or -1 when the bytes held would exceed
 * max_body + header (the peer ignored the cap) or memory ran out. */
int pulse_reader_feed(pulse_reader *r, const void *data, size_t n);
/* Where the caller may read(2) directly: returns a pointer with at least
 * *room bytes of space; call pulse_reader_commit(r, got) afterwards.
 * Returns NULL when the buffer is already at its bound. */
uint8_t *pulse_reader_space(pulse_reader *r, size_t *room);
void pulse_reader_commit(pulse_reader *r, size_t n);
/* Take the next whole frame. Returns 1 and sets *body and *len; 0 when more
 * bytes are needed; -1 when the announced length exceeds max_body (the
 * stream cannot be resynchronised: drop the peer). The frame stays valid
 * until pulse_reader_consume(). */
int pulse_reader_next(pulse_reader *r, const uint8_t **body, uint32_t *len);
void pulse_reader_consume(pulse_reader *r);
/* Bytes held and not yet consumed: after next() returned 0, nonzero means
 * a frame has begun and is incomplete (pulsed times such frames out). */
size_t pulse_reader_held(const pulse_reader *r);

/* ---- messages ---------------------------------------------------------- */

/* Validate a msgpack body before unpacking (see invariants). Returns 0 or
 * -1 with a reason in err. */
int pulse_msgpack_check(const uint8_t *p, size_t n, char *err, size_t errlen);

/* Bit set in pulse_msg.has for each field present (PM_*). */
enum pulse_field { /* PM_: PF_ names clash with <sys/socket.h> */
	PM_ID = 1u << 0,
	PM_V = 1u << 1,
	PM_ROLE = 1u << 2,
	PM_POOL = 1u << 3,
	PM_KEY = 1u << 4,
	PM_NAME = 1u << 5,
	PM_PAYLOAD = 1u << 6,
	PM_CODE = 1u << 7,
	PM_MSG = 1u << 8,
	PM_NODE = 1u << 9,
	PM_WORKER = 1u << 10,
	PM_R = 1u << 11,
	PM_NOTIFY = 1u << 12,
	PM_LOCAL = 1u << 13,
	PM_EXISTS = 1u << 14,
	PM_KEYS = 1u << 15,    /* array of str */
	PM_WORKERS = 1u << 16, /* array of maps */
	PM_STATUS = 1u << 17,  /* map */
	PM_TIMEOUT = 1u << 18, /* uint, milliseconds */
	PM_INTERVAL = 1u << 19, /* uint, milliseconds */
	PM_SEQ = 1u << 20,     /* uint */
	PM_TS = 1u << 21,      /* uint, Unix milliseconds (Redis clock) */
	PM_START = 1u << 22,   /* array of maps {key, payload}: jobs to start */
	PM_STOPKEYS = 1u << 23, /* field "stop": array of str: keys to stop */
	PM_ALL = 1u << 24,     /* bool: stop every key of the schedule not started */
	PM_END = 1u << 25,     /* bool: end the schedule everywhere */
	PM_MAX_BODY = 1u << 26, /* uint: the largest frame body the sender takes
	                          (HELLO: the peer's; WELCOME: pulsed's) */
	PM_STREAM = 1u << 27,  /* bool (HELLO): takes a list in several frames */
	PM_MORE = 1u << 28,    /* bool (OK): more frames of this answer follow */
	PM_MATCH = 1u << 29,   /* str (JOBS): a glob the keys must match */
	PM_LIMIT = 1u << 30,   /* uint (JOBS): at most this many keys (0: none,
	                          only their count) */
	PM_COUNT = 1u << 31,   /* uint (OK of JOBS): how many keys */
	PM_MESSAGES = 1ull << 32, /* bool (HELLO of a worker): it takes MESSAGE
	                          frames (default false) */
};

typedef struct pulse_msg {
	uint32_t type;
	uint64_t has; /* PM_* bits */
	uint64_t id;
	uint64_t v;
	uint64_t r;
	uint64_t timeout_ms;
	uint64_t interval_ms, seq, ts;
	uint64_t max_body, limit, count;
	int notify, local, exists, all, end, stream, more, messages;
	pulse_str role, pool, key, name, payload, code, msg, node, worker, match;
	/* Structured fields are left as msgpack objects (type-checked: keys is
	 * an array of str, workers an array of maps, status a map). */
	const msgpack_object *keys, *workers, *status, *start, *stop;
} pulse_msg;

/* Decode one frame body. `u` holds the unpacked tree that the message's
 * pointers refer to: init it with msgpack_unpacked_init() and destroy it
 * with msgpack_unpacked_destroy() when done with the message. Checks: body
 * passes pulse_msgpack_check, is a map, every known field has its type,
 * "t" is present. Unknown fields are ignored (forward compatibility).
 * Returns 0, or -1 with a reason in err. */
int pulse_msg_decode(const uint8_t *body, size_t n, pulse_msg *m,
                     msgpack_unpacked *u, char *err, size_t errlen);

/* Which fields each type requires; checked by pulse_msg_require(). Returns
 * 0, or -1 naming the missing field in err. */
int pulse_msg_require(const pulse_msg *m, char *err, size_t errlen);

/* ---- building frames --------------------------------------------------- */

/* A growable output buffer of whole frames. */
typedef struct pulse_buf {
	char *data;
	size_t len, cap;
} pulse_buf;

void pulse_buf_free(pulse_buf *b);
int pulse_buf_append(pulse_buf *b, const void *p, size_t n);
void pulse_buf_drop(pulse_buf *b, size_t n); /* remove n bytes from front */

/* A frame being written into a pulse_buf. Usage:
 *   pulse_enc e; pulse_enc_begin(&e, out, PULSE_T_OK, id, 2);
 *   pulse_enc_str(&e, "node", node, strlen(node));
 *   pulse_enc_key(&e, "keys"); msgpack_pack_array(&e.pk, n); ...
 *   pulse_enc_end(&e);
 * nfields counts the fields after "t" and "id" (id is written when
 * nonzero or when the type is a reply). */
typedef struct pulse_enc {
	pulse_buf *out;
	size_t start;
	msgpack_packer pk;
	int failed;
} pulse_enc;

void pulse_enc_begin(pulse_enc *e, pulse_buf *out, uint32_t type, uint64_t id,
                     uint32_t nfields);
/* Loose objects into out, for a frame built later (listout.c); e->failed
 * tells whether all of them were written. */
void pulse_enc_frag(pulse_enc *e, pulse_buf *out);
/* Append n bytes of ready msgpack (a fragment) as they are. */
void pulse_enc_raw(pulse_enc *e, const void *p, size_t n);
void pulse_enc_key(pulse_enc *e, const char *field);
void pulse_enc_str(pulse_enc *e, const char *field, const char *s, size_t n);
void pulse_enc_cstr(pulse_enc *e, const char *field, const char *s);
void pulse_enc_bin(pulse_enc *e, const char *field, const void *p, size_t n);
void pulse_enc_uint(pulse_enc *e, const char *field, uint64_t v);
void pulse_enc_bool(pulse_enc *e, const char *field, int v);
/* Patch the length. Returns 0, or -1 if allocation failed (the partial
 * frame is removed from the buffer). */
int pulse_enc_end(pulse_enc *e);

/* Encode a whole message from a pulse_msg (fields chosen by m->has; the
 * structured fields keys/workers/status are not encoded by this helper). */
int pulse_msg_encode(pulse_buf *out, const pulse_msg *m);

/* Common frames. */
int pulse_encode_error(pulse_buf *out, uint64_t id, int code, const char *msg);
int pulse_encode_ok(pulse_buf *out, uint64_t id);

/* ---- validation shared by both sides ----------------------------------- */

/* A job key or pool name: 1..max bytes, no NUL and no control characters
 * (bytes < 0x20 and 0x7f). Returns 0 or -1 with a reason in err. */
int pulse_check_name(const char *what, const char *s, size_t n, size_t max,
                     char *err, size_t errlen);

/* A pool name: 1..PULSE_MAX_POOL bytes of [A-Za-z0-9._:-] (it becomes
 * part of Redis keys inside a {hash tag}, so braces are excluded). */
#define PULSE_MAX_POOL 128u
int pulse_check_pool(const char *s, size_t n, char *err, size_t errlen);
/* The same rule for the other names pulsed takes as ids (a worker's stable
 * name, a ticker's or a schedule's name); `what` starts the reason. */
int pulse_check_label(const char *what, const char *s, size_t n, char *err,
                      size_t errlen);

#endif
