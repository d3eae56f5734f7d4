/*
 * msg.c: messages, between frame bodies and pulse_msg.
 *
 * Owns: the protocol's vocabulary (the field table, the message type table
 * with each type's required fields, the error code names, the syntax of
 * keys and pool names) and the three steps from a body to a trusted
 * message: pulse_msgpack_check() vets the raw bytes, pulse_msg_decode()
 * unpacks and type-checks the fields, pulse_msg_require() checks that the
 * type's fields are there. pulse_msg_encode() is the way back, driven by
 * the same field table so that a field cannot be spelt two ways.
 *
 * Invariants:
 *   - msgpack-c never sees a body that pulse_msgpack_check() refused, so
 *     its allocations are bounded by the body size (see proto.h).
 *   - The walker reads only p[0..n), checks each length against the bytes
 *     left in 64-bit arithmetic before using it, recurses at most
 *     PULSE_MAX_DEPTH + 1 deep, and every element consumes at least one
 *     byte: it is O(n) and cannot loop.
 *   - A decoded pulse_msg has a bit in `has` exactly for the known fields
 *     present, each of the type its table entry names; strings and
 *     binaries point into the body (msgpack-c's C unpacker does not copy
 *     them), structured fields into the unpacked tree.
 *   - No state outside the arguments: every table here is const.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "proto.h"

static int seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Every refusal in this file goes through here so that err may be NULL
 * when a caller only wants the verdict. Returns -1 for `return seterr()`. */
static int seterr(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* ---- vocabulary -------------------------------------------------------- */

static const char *const err_names[] = {
	[PULSE_OK] = "OK",
	[PULSE_E_JOB_EXISTS] = "JOB_EXISTS",
	[PULSE_E_JOB_NOT_FOUND] = "JOB_NOT_FOUND",
	[PULSE_E_TIMEOUT] = "TIMEOUT",
	[PULSE_E_CLOSED] = "CLOSED",
	[PULSE_E_SHUTDOWN] = "SHUTDOWN",
	[PULSE_E_POOL_FULL] = "POOL_FULL",
	[PULSE_E_INVALID] = "INVALID",
	[PULSE_E_TOO_LARGE] = "TOO_LARGE",
	[PULSE_E_UNAVAILABLE] = "UNAVAILABLE",
	[PULSE_E_PROTOCOL] = "PROTOCOL",
	[PULSE_E_PERMISSION] = "PERMISSION",
	[PULSE_E_HANDLER] = "HANDLER",
	[PULSE_E_BUSY] = "BUSY",
	[PULSE_E_NO_HANDLER] = "NO_HANDLER",
};
_Static_assert(sizeof(err_names) / sizeof(err_names[0]) == PULSE_E__COUNT,
               "an error code has no name");

/* Out-of-range codes get "UNKNOWN" rather than NULL: the result is printed
 * and sent without further checks by callers. */
const char *pulse_err_name(int code)
{
	if (code < 0 || code >= PULSE_E__COUNT)
		return "UNKNOWN";
	return err_names[code];
}

int pulse_err_from_name(const char *s, size_t n)
{
	for (int i = 0; i < PULSE_E__COUNT; i++)
		if (strlen(err_names[i]) == n && memcmp(err_names[i], s, n) == 0)
			return i;
	return -1;
}

/* What a field holds on the wire. */
enum kind {
	K_TYPE, /* "t": uint that fits 32 bits, into pulse_msg.type */
	K_UINT,
	K_STR,
	K_BIN,  /* bin, or str from peers whose library cannot make bin */
	K_BOOL,
	K_STRS, /* array of str */
	K_MAPS, /* array of maps */
	K_MAP,
};

/* Named in "field 'x': expected <kind>" errors. */
static const char *const kind_names[] = {
	[K_TYPE] = "uint32", [K_UINT] = "uint",         [K_STR] = "str",
	[K_BIN] = "bin or str", [K_BOOL] = "bool",      [K_STRS] = "array of str",
	[K_MAPS] = "array of maps", [K_MAP] = "map",
};

struct field {
	const char *name;
	uint64_t bit; /* PM_*, 0 for "t" */
	enum kind kind;
	size_t off;   /* where in pulse_msg */
};

#define F(name, bit, kind, member) {name, bit, kind, offsetof(pulse_msg, member)}
/* Wire order of pulse_msg_encode() follows this table. */
static const struct field fields[] = {
	F("t", 0, K_TYPE, type),
	F("id", PM_ID, K_UINT, id),
	F("v", PM_V, K_UINT, v),
	F("role", PM_ROLE, K_STR, role),
	F("pool", PM_POOL, K_STR, pool),
	F("key", PM_KEY, K_STR, key),
	F("name", PM_NAME, K_STR, name),
	F("payload", PM_PAYLOAD, K_BIN, payload),
	F("code", PM_CODE, K_STR, code),
	F("msg", PM_MSG, K_STR, msg),
	F("node", PM_NODE, K_STR, node),
	F("worker", PM_WORKER, K_STR, worker),
	F("r", PM_R, K_UINT, r),
	F("notify", PM_NOTIFY, K_BOOL, notify),
	F("local", PM_LOCAL, K_BOOL, local),
	F("exists", PM_EXISTS, K_BOOL, exists),
	F("keys", PM_KEYS, K_STRS, keys),
	F("workers", PM_WORKERS, K_MAPS, workers),
	F("status", PM_STATUS, K_MAP, status),
	F("timeout", PM_TIMEOUT, K_UINT, timeout_ms),
	F("interval", PM_INTERVAL, K_UINT, interval_ms),
	F("seq", PM_SEQ, K_UINT, seq),
	F("ts", PM_TS, K_UINT, ts),
	F("start", PM_START, K_MAPS, start),
	F("stop", PM_STOPKEYS, K_STRS, stop),
	F("all", PM_ALL, K_BOOL, all),
	F("end", PM_END, K_BOOL, end),
	F("max_body", PM_MAX_BODY, K_UINT, max_body),
	F("stream", PM_STREAM, K_BOOL, stream),
	F("more", PM_MORE, K_BOOL, more),
	F("match", PM_MATCH, K_STR, match),
	F("limit", PM_LIMIT, K_UINT, limit),
	F("count", PM_COUNT, K_UINT, count),
	F("messages", PM_MESSAGES, K_BOOL, messages),
};
#undef F
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))
_Static_assert(NFIELDS <= 64, "decode tracks fields seen in a uint64_t");

static const struct field *field_by_name(const char *s, size_t n)
{
	for (size_t i = 0; i < NFIELDS; i++)
		if (strlen(fields[i].name) == n && memcmp(fields[i].name, s, n) == 0)
			return &fields[i];
	return NULL;
}

static const char *field_name(uint64_t bit)
{
	for (size_t i = 0; i < NFIELDS; i++)
		if (fields[i].bit == bit)
			return fields[i].name;
	return "?";
}

/* Each type's name (for messages) and the fields it cannot do without. */
static const struct mtype {
	uint32_t type;
	const char *name;
	uint64_t need;
} mtypes[] = {
	{PULSE_T_HELLO, "HELLO", PM_V | PM_ROLE},
	{PULSE_T_WELCOME, "WELCOME", PM_V | PM_NODE},
	{PULSE_T_ERROR, "ERROR", PM_CODE},
	{PULSE_T_OK, "OK", PM_ID},
	{PULSE_T_DISPATCH, "DISPATCH", PM_ID | PM_POOL | PM_KEY},
	{PULSE_T_STOP, "STOP", PM_ID | PM_POOL | PM_KEY},
	{PULSE_T_NOTIFY, "NOTIFY", PM_ID | PM_POOL | PM_KEY},
	{PULSE_T_JOBS, "JOBS", PM_ID | PM_POOL},
	{PULSE_T_JOB, "JOB", PM_ID | PM_POOL | PM_KEY},
	{PULSE_T_WORKERS, "WORKERS", PM_ID | PM_POOL},
	{PULSE_T_STATUS, "STATUS", PM_ID},
	{PULSE_T_START, "START", PM_ID | PM_KEY},
	{PULSE_T_HALT, "HALT", PM_ID | PM_KEY},
	{PULSE_T_EVENT, "EVENT", PM_ID | PM_KEY},
	{PULSE_T_ACK, "ACK", PM_ID | PM_R},
	{PULSE_T_DETACH, "DETACH", PM_ID},
	{PULSE_T_LEASE, "LEASE", PM_TIMEOUT},
	{PULSE_T_TICKER, "TICKER", PM_ID | PM_POOL | PM_NAME | PM_INTERVAL},
	{PULSE_T_TICKER_STOP, "TICKER_STOP", PM_ID | PM_POOL | PM_NAME},
	{PULSE_T_TICK, "TICK", PM_NAME | PM_SEQ | PM_TS},
	{PULSE_T_TICKEND, "TICKEND", PM_NAME},
	{PULSE_T_SCHEDULE, "SCHEDULE", PM_ID | PM_POOL | PM_NAME | PM_INTERVAL},
	{PULSE_T_PLAN, "PLAN", PM_ID | PM_NAME},
	{PULSE_T_PLANNED, "PLANNED", PM_ID},
	{PULSE_T_SHUTDOWN, "SHUTDOWN", PM_ID | PM_POOL},
	{PULSE_T_LEAVE, "LEAVE", PM_ID | PM_POOL},
	{PULSE_T_WHERE, "WHERE", PM_ID | PM_POOL | PM_KEY},
	{PULSE_T_NODES, "NODES", PM_ID | PM_POOL},
	{PULSE_T_DRAIN, "DRAIN", PM_ID},
	{PULSE_T_UNDRAIN, "UNDRAIN", PM_ID},
	{PULSE_T_CLOCKS, "CLOCKS", PM_ID | PM_POOL | PM_ROLE},
	{PULSE_T_REOPEN, "REOPEN", PM_ID | PM_POOL},
	{PULSE_T_SEND, "SEND", PM_ID | PM_POOL | PM_KEY},
	{PULSE_T_MESSAGE, "MESSAGE", PM_ID | PM_KEY},
};

static const struct mtype *mtype_of(uint32_t type)
{
	for (size_t i = 0; i < sizeof(mtypes) / sizeof(mtypes[0]); i++)
		if (mtypes[i].type == type)
			return &mtypes[i];
	return NULL;
}

/* ---- pulse_msgpack_check ----------------------------------------------- */

struct walk {
	const uint8_t *p;
	size_t n;   /* body size */
	size_t pos; /* next byte to read */
	char *err;
	size_t errlen;
};

static uint64_t left(const struct walk *w)
{
	return (uint64_t)(w->n - w->pos);
}

/* Read a big-endian unsigned of `size` bytes (1, 2 or 4) at pos. */
static int take_uint(struct walk *w, unsigned size, uint64_t *v)
{
	if (left(w) < size)
		return seterr(w->err, w->errlen, "truncated at byte %zu", w->pos);
	*v = 0;
	for (unsigned i = 0; i < size; i++)
		*v = *v << 8 | w->p[w->pos++];
	return 0;
}

/* Skip `size` bytes of data: a scalar's value or a str/bin/ext body. */
static int skip(struct walk *w, uint64_t size)
{
	if (left(w) < size)
		return seterr(w->err, w->errlen,
		              "%llu-byte value at byte %zu runs past the end "
		              "(%llu bytes left)", (unsigned long long)size,
		              w->pos, (unsigned long long)left(w));
	w->pos += (size_t)size;
	return 0;
}

/* How a format byte is laid out, as far as sizes go. */
enum shape {
	FIXED,    /* `size` bytes of value follow */
	SIZED,    /* `size`-byte length, then that many bytes (+1 for ext) */
	ARRAY,    /* `size`-byte count, or 0: count in the low nibble */
	MAP,      /* likewise, counting key/value pairs */
	RESERVED, /* 0xc1, never used by the spec */
};

struct fmt {
	enum shape shape;
	unsigned size;
	unsigned ext; /* ext formats carry a type byte besides the data */
};

/* Classify one format byte. The fixed-size families (fixint, fixstr,
 * fixext, numbers) are FIXED with their data size, so one skip() serves
 * them all. */
static struct fmt classify(uint8_t b)
{
	if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
		return (struct fmt){FIXED, 0, 0};         /* fixint, nil, bool */
	if (b <= 0x8f)
		return (struct fmt){MAP, 0, 0};           /* fixmap */
	if (b <= 0x9f)
		return (struct fmt){ARRAY, 0, 0};         /* fixarray */
	if (b <= 0xbf)
		return (struct fmt){FIXED, b & 0x1fu, 0}; /* fixstr */
	switch (b) {
	case 0xc4: return (struct fmt){SIZED, 1, 0};  /* bin 8 */
	case 0xc5: return (struct fmt){SIZED, 2, 0};  /* bin 16 */
	case 0xc6: return (struct fmt){SIZED, 4, 0};  /* bin 32 */
	case 0xc7: return (struct fmt){SIZED, 1, 1};  /* ext 8 */
	case 0xc8: return (struct fmt){SIZED, 2, 1};  /* ext 16 */
	case 0xc9: return (struct fmt){SIZED, 4, 1};  /* ext 32 */
	case 0xca: return (struct fmt){FIXED, 4, 0};  /* float 32 */
	case 0xcb: return (struct fmt){FIXED, 8, 0};  /* float 64 */
	case 0xcc: case 0xd0: return (struct fmt){FIXED, 1, 0}; /* (u)int 8 */
	case 0xcd: case 0xd1: return (struct fmt){FIXED, 2, 0}; /* (u)int 16 */
	case 0xce: case 0xd2: return (struct fmt){FIXED, 4, 0}; /* (u)int 32 */
	case 0xcf: case 0xd3: return (struct fmt){FIXED, 8, 0}; /* (u)int 64 */
	case 0xd4: return (struct fmt){FIXED, 1 + 1, 0};  /* fixext 1 */
	case 0xd5: return (struct fmt){FIXED, 1 + 2, 0};  /* fixext 2 */
	case 0xd6: return (struct fmt){FIXED, 1 + 4, 0};  /* fixext 4 */
	case 0xd7: return (struct fmt){FIXED, 1 + 8, 0};  /* fixext 8 */
	case 0xd8: return (struct fmt){FIXED, 1 + 16, 0}; /* fixext 16 */
	case 0xd9: return (struct fmt){SIZED, 1, 0};  /* str 8 */
	case 0xda: return (struct fmt){SIZED, 2, 0};  /* str 16 */
	case 0xdb: return (struct fmt){SIZED, 4, 0};  /* str 32 */
	case 0xdc: return (struct fmt){ARRAY, 2, 0};  /* array 16 */
	case 0xdd: return (struct fmt){ARRAY, 4, 0};  /* array 32 */
	case 0xde: return (struct fmt){MAP, 2, 0};    /* map 16 */
	case 0xdf: return (struct fmt){MAP, 4, 0};    /* map 32 */
	default: return (struct fmt){RESERVED, 0, 0}; /* 0xc1 */
	}
}

/* Walk one object at pos; `depth` containers enclose it. */
static int walk_obj(struct walk *w, unsigned depth)
{
	if (left(w) < 1)
		return seterr(w->err, w->errlen, "truncated at byte %zu", w->pos);
	size_t at = w->pos;
	uint8_t b = w->p[w->pos++];
	struct fmt f = classify(b);
	uint64_t len;
	switch (f.shape) {
	case FIXED:
		return skip(w, f.size);
	case SIZED:
		if (take_uint(w, f.size, &len) < 0)
			return -1;
		return skip(w, len + f.ext);
	case ARRAY:
	case MAP:
		if (f.size == 0)
			len = b & 0x0fu;
		else if (take_uint(w, f.size, &len) < 0)
			return -1;
		if (depth >= PULSE_MAX_DEPTH)
			return seterr(w->err, w->errlen,
			              "nesting deeper than %d at byte %zu",
			              PULSE_MAX_DEPTH, at);
		uint64_t elems = f.shape == MAP ? 2 * len : len;
		if (elems > left(w))
			return seterr(w->err, w->errlen,
			              "%s of %llu %s at byte %zu cannot fit in the "
			              "%llu bytes left",
			              f.shape == MAP ? "map" : "array",
			              (unsigned long long)len,
			              f.shape == MAP ? "entries" : "elements", at,
			              (unsigned long long)left(w));
		for (uint64_t i = 0; i < elems; i++)
			if (walk_obj(w, depth + 1) < 0)
				return -1;
		return 0;
	case RESERVED:
	default:
		return seterr(w->err, w->errlen,
		              "reserved byte 0x%02x at byte %zu", b, at);
	}
}

int pulse_msgpack_check(const uint8_t *p, size_t n, char *err, size_t errlen)
{
	struct walk w = {p, n, 0, err, errlen};
	if (n == 0)
		return seterr(err, errlen, "empty body");
	if (walk_obj(&w, 0) < 0)
		return -1;
	if (w.pos != n)
		return seterr(err, errlen,
		              "%zu trailing bytes after the object at byte %zu",
		              n - w.pos, w.pos);
	return 0;
}

/* ---- decoding ---------------------------------------------------------- */

static int array_of(const msgpack_object *v, msgpack_object_type t)
{
	if (v->type != MSGPACK_OBJECT_ARRAY)
		return 0;
	for (uint32_t i = 0; i < v->via.array.size; i++)
		if (v->via.array.ptr[i].type != t)
			return 0;
	return 1;
}

/* Point a pulse_str at a str or bin; an empty one gets a non-NULL pointer
 * so that callers may memcpy() from it. */
static void set_str(pulse_str *s, const char *p, uint32_t n)
{
	s->p = p ? p : "";
	s->n = n;
}

/* Store one known field after checking its type. */
static int set_field(pulse_msg *m, const struct field *f,
                     const msgpack_object *v, char *err, size_t errlen)
{
	void *dst = (char *)m + f->off;
	int pos = v->type == MSGPACK_OBJECT_POSITIVE_INTEGER;
	switch (f->kind) {
	case K_TYPE:
		if (!pos || v->via.u64 > UINT32_MAX)
			goto bad;
		*(uint32_t *)dst = (uint32_t)v->via.u64;
		break;
	case K_UINT:
		if (!pos)
			goto bad;
		*(uint64_t *)dst = v->via.u64;
		break;
	case K_BOOL:
		if (v->type != MSGPACK_OBJECT_BOOLEAN)
			goto bad;
		*(int *)dst = v->via.boolean ? 1 : 0;
		break;
	case K_STR:
	case K_BIN:
		if (v->type == MSGPACK_OBJECT_STR)
			set_str(dst, v->via.str.ptr, v->via.str.size);
		else if (f->kind == K_BIN && v->type == MSGPACK_OBJECT_BIN)
			set_str(dst, v->via.bin.ptr, v->via.bin.size);
		else
			goto bad;
		break;
	case K_STRS:
	case K_MAPS:
		if (!array_of(v, f->kind == K_STRS ? MSGPACK_OBJECT_STR
		                                   : MSGPACK_OBJECT_MAP))
			goto bad;
		*(const msgpack_object **)dst = v;
		break;
	case K_MAP:
		if (v->type != MSGPACK_OBJECT_MAP)
			goto bad;
		*(const msgpack_object **)dst = v;
		break;
	}
	m->has |= f->bit;
	return 0;
bad:
	return seterr(err, errlen, "field '%s': expected %s", f->name,
	              kind_names[f->kind]);
}

int pulse_msg_decode(const uint8_t *body, size_t n, pulse_msg *m,
                     msgpack_unpacked *u, char *err, size_t errlen)
{
	memset(m, 0, sizeof(*m));
	if (pulse_msgpack_check(body, n, err, errlen) < 0)
		return -1;
	/* msgpack_unpack_next starts at *off: it must be 0. */
	size_t off = 0;
	msgpack_unpack_return rc =
		msgpack_unpack_next(u, (const char *)body, n, &off);
	if (rc != MSGPACK_UNPACK_SUCCESS || off != n)
		return seterr(err, errlen, "msgpack-c could not unpack the body "
		              "(%d)", (int)rc);
	const msgpack_object *o = &u->data;
	if (o->type != MSGPACK_OBJECT_MAP)
		return seterr(err, errlen, "body is not a map");
	uint64_t seen = 0; /* by index in fields[] */
	for (uint32_t i = 0; i < o->via.map.size; i++) {
		const msgpack_object_kv *kv = &o->via.map.ptr[i];
		if (kv->key.type != MSGPACK_OBJECT_STR)
			return seterr(err, errlen, "map key %u is not a str", i);
		const struct field *f =
			field_by_name(kv->key.via.str.ptr, kv->key.via.str.size);
		if (!f)
			continue; /* a newer peer's field */
		uint64_t bit = (uint64_t)1 << (f - fields);
		if (seen & bit)
			return seterr(err, errlen, "field '%s': given twice", f->name);
		seen |= bit;
		if (set_field(m, f, &kv->val, err, errlen) < 0)
			return -1;
	}
	if (!(seen & 1)) /* fields[0] is "t" */
		return seterr(err, errlen, "missing field 't'");
	return 0;
}

int pulse_msg_require(const pulse_msg *m, char *err, size_t errlen)
{
	const struct mtype *t = mtype_of(m->type);
	if (!t)
		return seterr(err, errlen, "unknown message type %u", m->type);
	uint64_t missing = t->need & ~m->has;
	if (missing)
		return seterr(err, errlen, "%s: missing field '%s'", t->name,
		              field_name(missing & -missing));
	/* 0 is not a request id: ERROR id 0 means "session closing". */
	if ((t->need & PM_ID) && m->id == 0)
		return seterr(err, errlen, "%s: field 'id' must not be 0", t->name);
	if (m->type == PULSE_T_ACK && m->r > PULSE_ACK_REQUEUE)
		return seterr(err, errlen, "ACK: field 'r' is %llu, not 0, 1 or 2",
		              (unsigned long long)m->r);
	return 0;
}

/* ---- encoding a pulse_msg ---------------------------------------------- */

/* Whether pulse_msg_encode() writes field f of m. "t" and "id" are
 * written by pulse_enc_begin(), structured fields by the caller. One
 * predicate serves both the count and the writing, so they cannot
 * disagree. */
static int encodes(const struct field *f, const pulse_msg *m)
{
	if (f->bit == 0 || f->bit == PM_ID || !(m->has & f->bit))
		return 0;
	return f->kind == K_UINT || f->kind == K_STR || f->kind == K_BIN ||
	       f->kind == K_BOOL;
}

int pulse_msg_encode(pulse_buf *out, const pulse_msg *m)
{
	uint32_t n = 0;
	for (size_t i = 0; i < NFIELDS; i++)
		n += (uint32_t)encodes(&fields[i], m);
	pulse_enc e;
	pulse_enc_begin(&e, out, m->type, (m->has & PM_ID) ? m->id : 0, n);
	for (size_t i = 0; i < NFIELDS; i++) {
		const struct field *f = &fields[i];
		if (!encodes(f, m))
			continue;
		const void *src = (const char *)m + f->off;
		const pulse_str *s = src;
		switch (f->kind) {
		case K_UINT:
			pulse_enc_uint(&e, f->name, *(const uint64_t *)src);
			break;
		case K_BOOL:
			pulse_enc_bool(&e, f->name, *(const int *)src);
			break;
		case K_STR:
			pulse_enc_str(&e, f->name, s->p, s->n);
			break;
		case K_BIN:
			pulse_enc_bin(&e, f->name, s->p, s->n);
			break;
		default:
			break;
		}
	}
	return pulse_enc_end(&e);
}

/* ---- names ------------------------------------------------------------- */

/* The length rule shared by keys and pool names. */
static int check_len(const char *what, size_t n, size_t max, char *err,
                     size_t errlen)
{
	if (n == 0)
		return seterr(err, errlen, "%s: empty", what);
	if (n > max)
		return seterr(err, errlen, "%s: longer than %zu bytes", what, max);
	return 0;
}

int pulse_check_name(const char *what, const char *s, size_t n, size_t max,
                     char *err, size_t errlen)
{
	if (!what)
		what = "name";
	if (check_len(what, n, max, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return seterr(err, errlen,
			              "%s: control character 0x%02x at byte %zu",
			              what, c, i);
	}
	return 0;
}

/* Pool names become part of Redis keys inside a {hash tag}: a small,
 * brace-free alphabet keeps them unambiguous there and in logs. */
static int pool_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' ||
	       c == '-';
}

int pulse_check_label(const char *what, const char *s, size_t n, char *err,
                      size_t errlen)
{
	if (check_len(what, n, PULSE_MAX_POOL, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!pool_char((unsigned char)s[i]))
			return seterr(err, errlen,
			              "%s: character 0x%02x at byte %zu is not "
			              "one of [A-Za-z0-9._:-]",
			              what, (unsigned char)s[i], i);
	return 0;
}

int pulse_check_pool(const char *s, size_t n, char *err, size_t errlen)
{
	return pulse_check_label("pool", s, n, err, errlen);
}
