/*
 * config.c: pulsed's configuration file (JSON, read with jansson).
 *
 * Owns: the defaults, the schema (one table of keys per section, so the
 * keys that are accepted and the keys that are parsed cannot drift apart),
 * validation of every value, the Redis password resolution (the URL is
 * parsed by addr.c), a line
 * finder that turns a key path back into a line of the file, and the dump
 * printed by `pulsed -n`.
 *
 * Invariants:
 *   - A config is built in a private draft and handed to the caller only
 *     when every key is valid; on failure the caller's struct is zeroed
 *     (safe to config_free, nothing leaked) and err names the file, the
 *     line, the key's dotted path and what was expected.
 *   - Unknown keys, wrong types and duplicate keys are errors; nothing is
 *     silently ignored.
 *   - Durations are milliseconds after parsing; every string in the
 *     struct is owned by it.
 *   - No state outside the structs passed in; allocation failure aborts
 *     (as in util.c: pulsed cannot run half-configured). This file uses
 *     only libc and jansson, so tests and tools link it alone (whether a
 *     TLS file holds a usable certificate is tls.c's check; here only
 *     that it can be read).
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <jansson.h>

#include "addr.h"
#include "util.h"
#include "config.h"
#include "proto.h"
#include "log.h"

#define MS_SECOND 1000ull
#define MS_MINUTE (60ull * MS_SECOND)
#define MS_HOUR (60ull * MS_MINUTE)
#define KIB 1024ull
#define MIB (1024ull * KIB)

#define CONFIG_FILE_MAX (1 * MIB)   /* a bigger config is a mistake */
#define PASSWORD_FILE_MAX (64 * KIB)
#define NAME_MAX_LEN 128            /* pool names and node ids */
#define PREFIX_MAX_LEN 64
#define DEFAULT_REDIS_PORT 6379
#define KPATH_MAX 4                 /* deepest key: pools.NAME.option */

/* The sun_path size bounds both the listening socket and a Redis socket:
 * a longer path cannot be bound or connected to at all. */
#define SUN_PATH_MAX sizeof(((struct sockaddr_un *)0)->sun_path)

/* ---- small helpers ------------------------------------------------------ */

/* Allocation failure aborts: see the invariants above. */
static char *cfg_strndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static char *cfg_strdup(const char *s)
{
	return s ? cfg_strndup(s, strlen(s)) : NULL;
}

/* Replace an owned string, so that a key given twice along the way (a
 * default, then the file) never leaks the first value. */
static void set_str(char **dst, const char *s)
{
	free(*dst);
	*dst = cfg_strdup(s);
}

/* Pool names, node ids and the key prefix all end up inside Redis keys
 * and log lines, so they share one conservative alphabet. */
static int name_ok(const char *s, size_t maxlen)
{
	size_t n = strlen(s);
	if (n == 0 || n > maxlen)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!name_char((unsigned char)s[i]))
			return 0;
	return 1;
}

/* Read a whole file, refusing anything larger than max; serves both the
 * config file and redis.password_file. The buffer is NUL-terminated. */
static int read_file(const char *path, size_t max, char **buf, size_t *len,
                     char *why, size_t whylen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(why, whylen, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	char *b = xmalloc(max + 2);
	size_t n = fread(b, 1, max + 1, f);
	int rerr = ferror(f) ? (errno ? errno : EIO) : 0;
	fclose(f);
	if (rerr) {
		snprintf(why, whylen, "cannot read %s: %s", path, strerror(rerr));
		free(b);
		return -1;
	}
	if (n > max) {
		snprintf(why, whylen, "%s is larger than %zu bytes", path, max);
		free(b);
		return -1;
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
}

/* ---- key paths and the line finder ------------------------------------- */

/* The path of a key from the top level, e.g. {"pools", "jobs",
 * "worker_ttl"}. Each level of the parser makes its own (kpath_child), so
 * no parser state is shared or undone. */
struct kpath {
	const char *seg[KPATH_MAX];
	int n;
};

static struct kpath kpath_child(const struct kpath *at, const char *key)
{
	struct kpath p = *at;
	if (p.n < KPATH_MAX)
		p.seg[p.n++] = key;
	return p;
}

/* A cursor over the JSON text. The text has already been accepted by
 * jansson, but the scanner still checks every bound so that it can never
 * read past the end. */
struct scan {
	const char *p, *end;
	unsigned line;
};

static void sc_ws(struct scan *s)
{
	while (s->p < s->end &&
	       (*s->p == ' ' || *s->p == '\t' || *s->p == '\r' || *s->p == '\n')) {
		if (*s->p == '\n')
			s->line++;
		s->p++;
	}
}

/* Four hex digits of a \u escape; -1 when malformed or truncated. */
static long sc_hex4(struct scan *s)
{
	long v = 0;
	if (s->end - s->p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		int h = hex_digit(s->p[i]);
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	s->p += 4;
	return v;
}

/* Encode a code point as UTF-8, the form jansson gives keys in. */
static size_t utf8_put(unsigned long cp, unsigned char out[4])
{
	if (cp < 0x80) {
		out[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (unsigned char)(0xc0 | (cp >> 6));
		out[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (unsigned char)(0xe0 | (cp >> 12));
		out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (unsigned char)(0xf0 | (cp >> 18));
	out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Consume a string at s->p (which is at its opening quote) and tell
 * whether its decoded value equals want (NULL: just skip). Decoding is
 * done on the fly, so a key spelt with escapes ("\u0073ocket") is still
 * found. */
static int sc_string(struct scan *s, const char *want)
{
	size_t wl = want ? strlen(want) : 0, pos = 0;
	int match = want != NULL;
	s->p++; /* the quote */
	while (s->p < s->end && *s->p != '"') {
		unsigned char buf[4];
		size_t n = 1;
		if (*s->p != '\\') {
			buf[0] = (unsigned char)*s->p++;
		} else {
			if (++s->p >= s->end)
				break;
			char e = *s->p++;
			switch (e) {
			case 'b': buf[0] = '\b'; break;
			case 'f': buf[0] = '\f'; break;
			case 'n': buf[0] = '\n'; break;
			case 'r': buf[0] = '\r'; break;
			case 't': buf[0] = '\t'; break;
			case 'u': {
				long cp = sc_hex4(s);
				if (cp < 0)
					return 0;
				if (cp >= 0xd800 && cp < 0xdc00 && s->end - s->p >= 2 &&
				    s->p[0] == '\\' && s->p[1] == 'u') {
					s->p += 2;
					long lo = sc_hex4(s);
					if (lo < 0xdc00 || lo >= 0xe000)
						return 0;
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				}
				n = utf8_put((unsigned long)cp, buf);
				break;
			}
			default: buf[0] = (unsigned char)e; break; /* " \ / */
			}
		}
		if (match && (pos + n > wl || memcmp(want + pos, buf, n) != 0))
			match = 0;
		pos += n;
	}
	if (s->p < s->end)
		s->p++; /* the closing quote */
	return match && pos == wl;
}

/* Skip one value of any kind; iterative, so nesting depth costs nothing. */
static void sc_skip_value(struct scan *s)
{
	int depth = 0;
	while (s->p < s->end) {
		char ch = *s->p;
		if (ch == '"') {
			sc_string(s, NULL);
			if (depth == 0)
				return;
			continue;
		}
		if (ch == '{' || ch == '[') {
			depth++;
		} else if (ch == '}' || ch == ']') {
			if (depth == 0)
				return; /* end of the enclosing container */
			if (--depth == 0) {
				s->p++;
				return;
			}
		} else if (depth == 0 && (ch == ',' || ch == ' ' || ch == '\t' ||
		                          ch == '\r' || ch == '\n')) {
			return; /* end of a scalar */
		} else if (ch == '\n') {
			s->line++;
		}
		s->p++;
	}
}

/* The line of the key at path `at` (or of the top-level value when the
 * path is empty); 0 when it cannot be found. jansson keeps no positions
 * for values, so the text is scanned again, following object keys. */
static unsigned find_line(const char *text, size_t len, const struct kpath *at)
{
	struct scan s = {text, text + len, 1};
	sc_ws(&s);
	for (int d = 0; d < at->n; d++) {
		if (s.p >= s.end || *s.p != '{')
			return 0;
		s.p++;
		for (;;) {
			sc_ws(&s);
			if (s.p >= s.end || *s.p != '"')
				return 0;
			unsigned kline = s.line;
			int match = sc_string(&s, at->seg[d]);
			sc_ws(&s);
			if (s.p >= s.end || *s.p != ':')
				return 0;
			s.p++;
			sc_ws(&s);
			if (match) {
				if (d + 1 == at->n)
					return kline;
				break; /* descend into this value */
			}
			sc_skip_value(&s);
			sc_ws(&s);
			if (s.p >= s.end || *s.p != ',')
				return 0;
			s.p++;
		}
	}
	return s.line;
}

/* ---- errors ------------------------------------------------------------- */

/* The parse context: read-only while parsing, except for the error text. */
struct pctx {
	const char *name; /* file name used in messages */
	const char *text;
	size_t len;
	char *err;
	size_t errlen;
};

/* Report an error at a key: "NAME:LINE: a.b.c: message". Returns -1 so
 * that callers can `return fail(...)`. */
static int fail(const struct pctx *x, const struct kpath *at, const char *fmt,
                ...) __attribute__((format(printf, 3, 4)));
static int fail(const struct pctx *x, const struct kpath *at, const char *fmt,
                ...)
{
	char msg[512], where[384] = "";
	size_t w = 0;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (int i = 0; i < at->n && w < sizeof(where); i++) {
		int k = snprintf(where + w, sizeof(where) - w, "%s%s",
		                 i ? "." : "", at->seg[i]);
		if (k < 0)
			break;
		w += (size_t)k;
	}
	unsigned line = find_line(x->text, x->len, at);
	char lbuf[24] = "";
	if (line)
		snprintf(lbuf, sizeof(lbuf), ":%u", line);
	if (x->errlen)
		snprintf(x->err, x->errlen, "%s%s: %s%s%s", x->name, lbuf, where,
		         at->n ? ": " : "", msg);
	return -1;
}

/* ---- values ------------------------------------------------------------- */

int config_parse_duration(const char *s, uint64_t *ms)
{
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = {{"ms", 1}, {"s", MS_SECOND}, {"m", MS_MINUTE}, {"h", MS_HOUR}};
	if (!s)
		return -1;
	size_t n = 0;
	while (s[n] >= '0' && s[n] <= '9')
		n++;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		uint64_t v;
		if (strcmp(s + n, units[i].unit) != 0)
			continue;
		if (parse_decimal(s, n, UINT64_MAX / units[i].ms, &v) < 0)
			return -1;
		*ms = v * units[i].ms;
		return 0;
	}
	return -1; /* no unit, an unknown one, or trailing junk */
}

/* The inverse of config_parse_duration, in the largest exact unit, so
 * that `pulsed -n` prints "2m" rather than "120000ms". */
static void format_duration(uint64_t ms, char *buf, size_t len)
{
	if (ms && ms % MS_HOUR == 0)
		snprintf(buf, len, "%lluh", (unsigned long long)(ms / MS_HOUR));
	else if (ms && ms % MS_MINUTE == 0)
		snprintf(buf, len, "%llum", (unsigned long long)(ms / MS_MINUTE));
	else if (ms && ms % MS_SECOND == 0)
		snprintf(buf, len, "%llus", (unsigned long long)(ms / MS_SECOND));
	else
		snprintf(buf, len, "%llums", (unsigned long long)ms);
}

static int log_format_from_name(const char *s)
{
	if (strcmp(s, "text") == 0)
		return LOG_TEXT;
	if (strcmp(s, "json") == 0)
		return LOG_JSON;
	return -1;
}

static const char *log_format_name(int f)
{
	return f == LOG_JSON ? "json" : "text";
}

/* ---- the schema --------------------------------------------------------- */

/* The config under construction plus the keys that only matter while
 * parsing (where the password comes from). Field offsets point into it. */
struct draft {
	config c;
	char *password_file;
	char *password_env;
};

enum ftype {
	T_SECTION,   /* an object with its own field table */
	T_POOLS,     /* the "pools" object */
	T_STRING,    /* non-empty string */
	T_NAME,      /* [A-Za-z0-9._:-]{1,max} */
	T_SOCKET,    /* a path that fits in sun_path */
	T_LISTEN,    /* host:port */
	T_REDIS_URL, /* checked once the whole file is read */
	T_MODE,      /* octal string, at most max */
	T_UINT,      /* unsigned, min..max */
	T_U64,       /* uint64_t, min..max */
	T_LEVEL,     /* debug|info|warn|error */
	T_FORMAT,    /* text|json */
	T_DURATION,  /* "10s", min..max milliseconds */
	T_BOOL,      /* true|false */
	T_FILE,      /* a path to a file that can be read (checked after) */
	T_DIR,       /* a path to a directory that can be read (same) */
};

#define F_NULL 1u   /* null means "not set" (the default is NULL) */
#define F_NODUMP 2u /* not part of the effective config (a password source) */
#define F_RELOAD 4u /* a SIGHUP applies a new value (config_reload); the
                     * others take effect when pulsed restarts */
#define F_FRAMED 8u /* bounded by what the protocol's frames carry (the
                      range's message says so) */

struct field {
	const char *key;
	enum ftype type;
	size_t off;        /* into the base struct of the table */
	uint64_t min, max; /* ranges; max length for T_NAME */
	unsigned flags;
	const struct field *sub; /* T_SECTION */
};

#define D(m) offsetof(struct draft, m)
#define P(m) offsetof(pool_opts, m)
#define DURATION_MAX (24 * MS_HOUR)

static const struct field socket_fields[] = {
	{"path", T_SOCKET, D(c.socket_path), 0, 0, 0, NULL},
	{"group", T_STRING, D(c.socket_group), 0, 0, F_NULL, NULL},
	{"mode", T_MODE, D(c.socket_mode), 0, 0777, 0, NULL},
	{"admin_group", T_STRING, D(c.admin_group), 0, 0, F_NULL, NULL},
	{"max_sessions", T_UINT, D(c.max_sessions), 1, 65536, 0, NULL},
	{"max_sessions_per_uid", T_UINT, D(c.max_sessions_per_uid), 1, 65536, 0,
	 NULL},
	{"admin_sessions", T_UINT, D(c.admin_sessions), 0, 65535, 0, NULL},
	{"client_idle_timeout", T_DURATION, D(c.client_idle_ms), 100, DURATION_MAX,
	 0, NULL},
	{"handshake_timeout", T_DURATION, D(c.handshake_ms), 10, DURATION_MAX, 0,
	 NULL},
	{"frame_timeout", T_DURATION, D(c.frame_ms), 10, DURATION_MAX, 0, NULL},
	{"write_timeout", T_DURATION, D(c.write_ms), 10, DURATION_MAX, 0, NULL},
	{NULL, T_STRING, 0, 0, 0, 0, NULL},
};

/* TLS to Redis (rediss://): checked by check_tls once the URL is known.
 * None reloads: tls.c reads the files again at every reconnect, but a
 * changed key waits for a restart like redis.url. */
static const struct field redis_tls_fields[] = {
	{"ca_file", T_FILE, D(c.tls_ca_file), 0, 0, F_NULL, NULL},
	{"ca_dir", T_DIR, D(c.tls_ca_dir), 0, 0, F_NULL, NULL},
	{"cert_file", T_FILE, D(c.tls_cert_file), 0, 0, F_NULL, NULL},
	{"key_file", T_FILE, D(c.tls_key_file), 0, 0, F_NULL, NULL},
	{"server_name", T_STRING, D(c.tls_server_name), 0, 0, F_NULL, NULL},
	{"insecure_skip_verify", T_BOOL, D(c.tls_insecure), 0, 0, 0, NULL},
	{NULL, T_STRING, 0, 0, 0, 0, NULL},
};

static const struct field redis_fields[] = {
	{"url", T_REDIS_URL, D(c.redis_url), 0, 0, F_NULL, NULL},
	{"password_file", T_STRING, D(password_file), 0, 0, F_NULL | F_NODUMP, NULL},
	{"password_env", T_STRING, D(password_env), 0, 0, F_NULL | F_NODUMP, NULL},
	{"prefix", T_NAME, D(c.key_prefix), 1, PREFIX_MAX_LEN, 0, NULL},
	{"reply_timeout", T_DURATION, D(c.redis_reply_ms), 100, DURATION_MAX, 0,
	 NULL},
	{"tls", T_SECTION, 0, 0, 0, 0, redis_tls_fields},
	{NULL, T_STRING, 0, 0, 0, 0, NULL},
};

static const struct field node_fields[] = {
	{"id", T_NAME, D(c.node_id), 1, NAME_MAX_LEN, F_NULL, NULL},
	{NULL, T_STRING, 0, 0, 0, 0, NULL},
};

static const struct field log_fields[] = {
	{"level", T_LEVEL, D(c.log_level), 0, 0, F_RELOAD, NULL},
	{"format", T_FORMAT, D(c.log_format), 0, 0, F_RELOAD, NULL},
	{NULL, T_STRING, 0, 0, 0, 0, NULL},
};

static const struct field limits_fields[] = {
	{"max_payload", T_U64, D(c.max_payload), 1, PULSE_HARD_MAX_PAYLOAD,
	 F_RELOAD | F_FRAMED, NULL},
	{"max_peer_buffer", T_U64, D(c.max_peer_buffer), 64 * KIB, UINT64_MAX,
	 F_RELOAD, NULL},
	{"max_pools", T_UINT, D(c.max_pools), 1, 1000000, F_RELOAD, NULL},
	{"pool_idle", T_DURATION, D(c.pool_idle_ms), 0, DURATION_MAX, F_RELOAD,
	 NULL},
	{NULL, T_STRING, 0, 0, 0, 0, NULL},
};

static const struct field metrics_fields[] = {
	{"listen", T_LISTEN, D(c.metrics_listen), 0, 0, F_NULL, NULL},
	{NULL, T_STRING, 0, 0, 0, 0, NULL},
};

/* Used for the "*" entry and for every named pool alike. */
static const struct field pool_fields[] = {
	{"worker_ttl", T_DURATION, P(worker_ttl_ms), 100, DURATION_MAX, 0, NULL},
	{"worker_shutdown_ttl", T_DURATION, P(worker_shutdown_ttl_ms), 1,
	 DURATION_MAX, F_RELOAD, NULL},
	{"ack_grace_period", T_DURATION, P(ack_grace_ms), 1, DURATION_MAX,
	 F_RELOAD, NULL},
	{"pending_job_ttl", T_DURATION, P(pending_job_ttl_ms), 1, DURATION_MAX,
	 F_RELOAD, NULL},
	{"max_queued_jobs", T_U64, P(max_queued_jobs), 1, UINT32_MAX, F_RELOAD,
	 NULL},
	{"job_sink_block", T_DURATION, P(sink_block_ms), 1, DURATION_MAX, 0, NULL},
	{NULL, T_STRING, 0, 0, 0, 0, NULL},
};

static const struct field top_fields[] = {
	{"socket", T_SECTION, 0, 0, 0, 0, socket_fields},
	{"redis", T_SECTION, 0, 0, 0, 0, redis_fields},
	{"node", T_SECTION, 0, 0, 0, 0, node_fields},
	{"log", T_SECTION, 0, 0, 0, 0, log_fields},
	{"limits", T_SECTION, 0, 0, 0, 0, limits_fields},
	{"metrics", T_SECTION, 0, 0, 0, 0, metrics_fields},
	{"pools", T_POOLS, D(c), 0, 0, 0, NULL},
	{NULL, T_STRING, 0, 0, 0, 0, NULL},
};

/* The seed's NodeOptions defaults. */
static const pool_opts seed_opts = {
	.worker_ttl_ms = 10 * MS_SECOND,
	.worker_shutdown_ttl_ms = 2 * MS_MINUTE,
	.ack_grace_ms = 20 * MS_SECOND,
	.pending_job_ttl_ms = 20 * MS_SECOND,
	.max_queued_jobs = 1000,
	.sink_block_ms = 5 * MS_SECOND,
};

static void *field_ptr(const struct field *f, void *base)
{
	return (char *)base + f->off;
}

static const void *field_cptr(const struct field *f, const void *base)
{
	return (const char *)base + f->off;
}

/* ---- parsing ------------------------------------------------------------ */

static int parse_object(const struct pctx *x, const struct kpath *at,
                        const json_t *obj, const struct field *fields,
                        void *base);

/* Report a number outside its range, in the unit the key is written in. */
static int fail_range(const struct pctx *x, const struct kpath *at,
                      const struct field *f)
{
	if (f->type == T_DURATION) {
		char lo[32], hi[32];
		format_duration(f->min, lo, sizeof(lo));
		format_duration(f->max, hi, sizeof(hi));
		return fail(x, at, "must be from %s to %s", lo, hi);
	}
	if (f->max == UINT64_MAX)
		return fail(x, at, "must be at least %llu",
		            (unsigned long long)f->min);
	return fail(x, at, "must be from %llu to %llu%s", (unsigned long long)f->min,
	            (unsigned long long)f->max, f->flags & F_FRAMED ?
	            " (64 MiB: pulsed's frames carry no more, and libpulse-client "
	            "follows a pulsed's limit up to that)" : "");
}

/* String-valued keys: type, emptiness and the per-type syntax. */
static int parse_string_field(const struct pctx *x, const struct kpath *at,
                              const json_t *v, const struct field *f,
                              void *base)
{
	char **dst = field_ptr(f, base);
	if (json_is_null(v) && (f->flags & F_NULL)) {
		set_str(dst, NULL);
		return 0;
	}
	if (!json_is_string(v))
		return fail(x, at, "expected a string");
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	if (n == 0)
		return fail(x, at, "must not be empty");
	switch (f->type) {
	case T_NAME:
		if (!name_ok(s, f->max))
			return fail(x, at,
			            "expected 1 to %llu characters of A-Z a-z 0-9 . _ : -",
			            (unsigned long long)f->max);
		break;
	case T_SOCKET:
		if (n >= SUN_PATH_MAX)
			return fail(x, at, "a socket path must be shorter than %zu bytes",
			            SUN_PATH_MAX);
		break;
	case T_LISTEN: {
		char *host = NULL;
		int port;
		const char *why = addr_hostport(s, n, 0, &host, &port);
		free(host);
		if (why)
			return fail(x, at, "%s: expected \"host:port\"", why);
		break;
	}
	default:
		break;
	}
	set_str(dst, s);
	return 0;
}

/* An octal permission string such as "0660"; a JSON number would be read
 * as decimal, so only strings are accepted. */
static int parse_mode(const struct pctx *x, const struct kpath *at,
                      const json_t *v, const struct field *f, void *base)
{
	const char *s = json_is_string(v) ? json_string_value(v) : NULL;
	uint64_t m = 0;
	if (!s || !*s)
		return fail(x, at, "expected an octal mode like \"0660\"");
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '7')
			return fail(x, at, "expected an octal mode like \"0660\"");
		m = m * 8 + (uint64_t)(*p - '0');
		if (m > f->max)
			return fail(x, at, "must be at most %04llo",
			            (unsigned long long)f->max);
	}
	*(unsigned *)field_ptr(f, base) = (unsigned)m;
	return 0;
}

static int parse_integer(const struct pctx *x, const struct kpath *at,
                         const json_t *v, const struct field *f, void *base)
{
	if (!json_is_integer(v))
		return fail(x, at, "expected an integer");
	json_int_t i = json_integer_value(v);
	if (i < 0 || (uint64_t)i < f->min || (uint64_t)i > f->max)
		return fail_range(x, at, f);
	if (f->type == T_UINT)
		*(unsigned *)field_ptr(f, base) = (unsigned)i;
	else
		*(uint64_t *)field_ptr(f, base) = (uint64_t)i;
	return 0;
}

/* Enumerations: log.level (names owned by log.c) and log.format. */
static int parse_enum(const struct pctx *x, const struct kpath *at,
                      const json_t *v, const struct field *f, void *base)
{
	int level = f->type == T_LEVEL;
	const char *s = json_is_string(v) ? json_string_value(v) : NULL;
	int e = !s ? -1 : level ? log_level_from_name(s) : log_format_from_name(s);
	if (e < 0)
		return fail(x, at, "expected %s",
		            level ? "one of \"debug\", \"info\", \"warn\", \"error\""
		                  : "\"text\" or \"json\"");
	*(int *)field_ptr(f, base) = e;
	return 0;
}

static int parse_duration_field(const struct pctx *x, const struct kpath *at,
                                const json_t *v, const struct field *f,
                                void *base)
{
	uint64_t ms;
	if (!json_is_string(v) || config_parse_duration(json_string_value(v), &ms) < 0)
		return fail(x, at, "expected a duration like \"10s\"");
	if (ms < f->min || ms > f->max)
		return fail_range(x, at, f);
	*(uint64_t *)field_ptr(f, base) = ms;
	return 0;
}

/* "pools": the "*" entry first (it is the base of every named entry, and
 * its presence decides whether unlisted pools are accepted), then each
 * named pool, starting from the "*" values and overriding what it gives. */
static int parse_pools(const struct pctx *x, const struct kpath *at,
                       const json_t *v, config *c)
{
	const char *name;
	json_t *entry;
	if (!json_is_object(v))
		return fail(x, at, "expected an object");
	const json_t *star = json_object_get(v, "*");
	c->any_pool = star != NULL;
	if (star) {
		struct kpath sp = kpath_child(at, "*");
		if (parse_object(x, &sp, star, pool_fields, &c->default_opts) < 0)
			return -1;
	}
	size_t cap = json_object_size(v);
	c->pools = xcalloc(cap ? cap : 1, sizeof(*c->pools));
	json_object_foreach((json_t *)v, name, entry) {
		if (strcmp(name, "*") == 0)
			continue;
		struct kpath pp = kpath_child(at, name);
		if (!name_ok(name, NAME_MAX_LEN))
			return fail(x, &pp,
			            "a pool name is 1 to %d characters of A-Z a-z 0-9 . _ : - "
			            "(or \"*\" for every other pool)",
			            NAME_MAX_LEN);
		pool_conf *pc = &c->pools[c->npools++];
		pc->name = cfg_strdup(name);
		pc->opts = c->default_opts;
		if (parse_object(x, &pp, entry, pool_fields, &pc->opts) < 0)
			return -1;
	}
	return 0;
}

static int parse_field(const struct pctx *x, const struct kpath *at,
                       const json_t *v, const struct field *f, void *base)
{
	switch (f->type) {
	case T_SECTION:
		return parse_object(x, at, v, f->sub, base);
	case T_POOLS:
		return parse_pools(x, at, v, field_ptr(f, base));
	case T_STRING:
	case T_NAME:
	case T_SOCKET:
	case T_LISTEN:
	case T_REDIS_URL:
	case T_FILE:
	case T_DIR:
		return parse_string_field(x, at, v, f, base);
	case T_BOOL:
		if (!json_is_boolean(v))
			return fail(x, at, "expected true or false");
		*(int *)field_ptr(f, base) = json_is_true(v);
		return 0;
	case T_MODE:
		return parse_mode(x, at, v, f, base);
	case T_UINT:
	case T_U64:
		return parse_integer(x, at, v, f, base);
	case T_LEVEL:
	case T_FORMAT:
		return parse_enum(x, at, v, f, base);
	case T_DURATION:
		return parse_duration_field(x, at, v, f, base);
	}
	return fail(x, at, "internal error: unhandled key type");
}

/* One object against its field table: every key must be known. Serves the
 * top level, every section and every pool entry. */
static int parse_object(const struct pctx *x, const struct kpath *at,
                        const json_t *obj, const struct field *fields,
                        void *base)
{
	const char *key;
	json_t *v;
	if (!json_is_object(obj))
		return fail(x, at, at->n ? "expected an object"
		                         : "the top level must be an object");
	json_object_foreach((json_t *)obj, key, v) {
		struct kpath kp = kpath_child(at, key);
		const struct field *f = fields;
		while (f->key && strcmp(f->key, key) != 0)
			f++;
		if (!f->key)
			return fail(x, &kp, "unknown key");
		if (parse_field(x, &kp, v, f, base) < 0)
			return -1;
	}
	return 0;
}

/* ---- Redis: URL and password -------------------------------------------- */

/* redis.url through addr.c's parser, into the config's fields. */
static int parse_redis_url(const struct pctx *x, const struct kpath *at,
                           config *c)
{
	struct redis_addr a;
	char why[256];
	if (addr_redis_url(c->redis_url, &a, why, sizeof(why)) < 0)
		return fail(x, at, "%s", why);
	free(c->redis_host);
	free(c->redis_unix);
	free(c->redis_user);
	c->redis_host = a.host;
	c->redis_unix = a.unix_path;
	c->redis_user = a.user;
	c->redis_port = a.port;
	c->redis_db = a.db;
	c->redis_tls = a.tls;
	if (a.password) {
		free(c->redis_password);
		c->redis_password = a.password;
	}
	return 0;
}

/* The password from a file: its content minus one trailing newline. */
static int read_password_file(const struct pctx *x, const struct kpath *at,
                              const char *path, config *c)
{
	char *buf, why[320];
	size_t n;
	if (read_file(path, PASSWORD_FILE_MAX, &buf, &n, why, sizeof(why)) < 0)
		return fail(x, at, "%s", why);
	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	if (n > 0 && buf[n - 1] == '\r')
		buf[--n] = '\0';
	if (n == 0 || strlen(buf) != n) {
		free(buf);
		return fail(x, at, "%s %s", path,
		            n ? "contains a NUL byte" : "is empty");
	}
	c->redis_password = buf;
	return 0;
}

static int read_password_env(const struct pctx *x, const struct kpath *at,
                             const char *var, config *c)
{
	const char *v = getenv(var);
	if (!v)
		return fail(x, at, "the environment variable %s is not set", var);
	if (!*v)
		return fail(x, at, "the environment variable %s is empty", var);
	c->redis_password = cfg_strdup(v);
	return 0;
}

/* After the whole file is read (the keys of "redis" come in any order):
 * parse the URL and take the password from at most one source. */
static int resolve_redis(const struct pctx *x, struct draft *d)
{
	static const struct kpath redis = {{"redis"}, 1};
	struct kpath url = kpath_child(&redis, "url");
	struct kpath file = kpath_child(&redis, "password_file");
	struct kpath env = kpath_child(&redis, "password_env");
	config *c = &d->c;
	if (c->redis_url && parse_redis_url(x, &url, c) < 0)
		return -1;
	int sources = (c->redis_password != NULL) + (d->password_file != NULL) +
	              (d->password_env != NULL);
	if (sources > 1)
		return fail(x, d->password_env ? &env : &file,
		            "give the password in only one of redis.url, "
		            "redis.password_file and redis.password_env");
	if (d->password_file)
		return read_password_file(x, &file, d->password_file, c);
	if (d->password_env)
		return read_password_env(x, &env, d->password_env, c);
	return 0;
}

/* redis.tls: only with rediss://, a client certificate with its key, and
 * every file or directory named can be opened now (pulsed -n says which
 * one cannot, and why). What the files hold is tls.c's check. */
static int check_tls(const struct pctx *x, const config *c)
{
	static const struct kpath tls = {{"redis", "tls"}, 2};
	const struct {
		const char *key, *path;
		int dir;
	} files[] = {
		{"ca_file", c->tls_ca_file, 0},   {"ca_dir", c->tls_ca_dir, 1},
		{"cert_file", c->tls_cert_file, 0}, {"key_file", c->tls_key_file, 0},
	};
	const char *set = c->tls_server_name ? "server_name"
	                : c->tls_insecure ? "insecure_skip_verify" : NULL;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]) && !set; i++)
		if (files[i].path)
			set = files[i].key;
	if (set && !c->redis_tls) {
		struct kpath at = kpath_child(&tls, set);
		return fail(x, &at, "TLS options need a rediss:// redis.url (it is %s)",
		            c->redis_url ? "not rediss://" : "not set");
	}
	if (!c->tls_cert_file != !c->tls_key_file) {
		struct kpath at = kpath_child(&tls, c->tls_cert_file ? "cert_file"
		                                                      : "key_file");
		return fail(x, &at, "a client certificate needs both cert_file and "
		            "key_file");
	}
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct stat st;
		const char *p = files[i].path;
		if (!p)
			continue;
		struct kpath at = kpath_child(&tls, files[i].key);
		if (stat(p, &st) < 0)
			return fail(x, &at, "cannot use %s: %s", p, strerror(errno));
		if (files[i].dir ? !S_ISDIR(st.st_mode) : S_ISDIR(st.st_mode))
			return fail(x, &at, "%s is %s", p, files[i].dir ? "not a directory"
			                                                 : "a directory");
		if (access(p, files[i].dir ? R_OK | X_OK : R_OK) < 0)
			return fail(x, &at, "cannot read %s: %s", p, strerror(errno));
	}
	return 0;
}

/* The largest frame pulsed may send (a START carrying a max_payload
 * payload; at most PULSE_HARD_MAX_BODY, which libpulse-client follows a
 * WELCOME up to: the schema's bound) must fit in a peer's output buffer,
 * or that job could never reach a worker. */
static int check_limits(const struct pctx *x, const struct draft *d)
{
	static const struct kpath at = {{"limits", "max_peer_buffer"}, 2};
	uint64_t frame = d->c.max_payload + PULSE_FRAME_OVERHEAD + 4;
	if (d->c.max_peer_buffer < frame)
		return fail(x, &at, "must be at least limits.max_payload + 65540 "
		            "(%llu), the largest frame",
		            (unsigned long long)frame);
	return 0;
}

/* ---- public: load, free, look up ---------------------------------------- */

void config_defaults(config *c)
{
	memset(c, 0, sizeof(*c));
	c->socket_path = cfg_strdup("/run/pulsed/pulsed.sock");
	c->socket_mode = 0660;
	c->max_sessions = 1024;
	c->max_sessions_per_uid = 512;
	c->admin_sessions = 16;
	c->client_idle_ms = 10 * MS_MINUTE;
	c->handshake_ms = 10 * MS_SECOND;
	c->frame_ms = 10 * MS_SECOND;
	c->redis_reply_ms = 5 * MS_SECOND;
	c->write_ms = 30 * MS_SECOND;
	c->key_prefix = cfg_strdup("pulse");
	c->redis_port = DEFAULT_REDIS_PORT;
	c->log_level = LOG_INFO;
	c->log_format = LOG_TEXT;
	c->max_payload = 1 * MIB;
	c->max_peer_buffer = 16 * MIB;
	c->max_pools = 1024;
	c->pool_idle_ms = 10 * MS_MINUTE;
	c->any_pool = 1;
	c->default_opts = seed_opts;
}

void config_free(config *c)
{
	if (!c)
		return;
	char **strs[] = {&c->path,           &c->socket_path, &c->socket_group,
	                 &c->admin_group,    &c->redis_url,   &c->redis_password,
	                 &c->key_prefix,     &c->redis_host,  &c->redis_unix,
	                 &c->redis_user,     &c->node_id,     &c->metrics_listen,
	                 &c->tls_ca_file,    &c->tls_ca_dir,  &c->tls_cert_file,
	                 &c->tls_key_file,   &c->tls_server_name};
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		free(*strs[i]);
	for (size_t i = 0; i < c->npools; i++)
		free(c->pools[i].name);
	free(c->pools);
	memset(c, 0, sizeof(*c));
}

int config_parse(config *c, const char *text, size_t len, const char *name,
                 char *err, size_t errlen)
{
	static const struct kpath top = {{NULL}, 0};
	struct draft d = {0};
	struct pctx x = {name ? name : "(config)", text, len, err, errlen};
	json_error_t je;
	int rc = -1;

	config_defaults(&d.c);
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		if (errlen)
			snprintf(err, errlen, "%s:%d:%d: invalid JSON: %s", x.name,
			         je.line, je.column, je.text);
	} else {
		rc = parse_object(&x, &top, root, top_fields, &d);
		if (rc == 0)
			rc = resolve_redis(&x, &d);
		if (rc == 0)
			rc = check_tls(&x, &d.c);
		if (rc == 0)
			rc = check_limits(&x, &d);
		json_decref(root);
	}
	free(d.password_file);
	free(d.password_env);
	if (rc < 0) {
		config_free(&d.c);
		memset(c, 0, sizeof(*c));
		return -1;
	}
	*c = d.c;
	return 0;
}

int config_load(config *c, const char *path, char *err, size_t errlen)
{
	char *text;
	size_t len;
	if (read_file(path, CONFIG_FILE_MAX, &text, &len, err, errlen) < 0) {
		memset(c, 0, sizeof(*c));
		return -1;
	}
	int rc = config_parse(c, text, len, path, err, errlen);
	free(text);
	if (rc == 0)
		c->path = cfg_strdup(path);
	return rc;
}

uint64_t pool_opts_horizon_ms(const pool_opts *o)
{
	uint64_t h = 30 * o->worker_ttl_ms;
	return h > 60000 ? h : 60000;
}

uint64_t pool_opts_gone_keep_ms(const pool_opts *o)
{
	return pool_opts_horizon_ms(o) + o->worker_ttl_ms;
}

const pool_opts *config_pool(const config *c, const char *pool)
{
	if (!c || !pool)
		return NULL;
	for (size_t i = 0; i < c->npools; i++)
		if (strcmp(c->pools[i].name, pool) == 0)
			return &c->pools[i].opts;
	return c->any_pool ? &c->default_opts : NULL;
}

/* ---- the dump ----------------------------------------------------------- */

/* A JSON string, or null; a value that is not UTF-8 (a -s path from the
 * command line) is shown as such rather than dropped. */
static json_t *dump_str(const char *s)
{
	if (!s)
		return json_null();
	json_t *j = json_string(s);
	return j ? j : json_string("(not UTF-8)");
}

/* The URL with the password replaced by "***": the dump is printed and
 * logged, the secret must not be. */
static json_t *dump_url(const char *url)
{
	char *m = url ? addr_mask_password(url) : NULL;
	if (!m)
		return dump_str(url);
	json_t *j = dump_str(m);
	free(m);
	return j;
}

static json_t *dump_object(const struct field *fields, const void *base);

static json_t *dump_pools(const config *c)
{
	json_t *o = json_object();
	if (c->any_pool)
		json_object_set_new(o, "*", dump_object(pool_fields, &c->default_opts));
	for (size_t i = 0; i < c->npools; i++)
		json_object_set_new(o, c->pools[i].name,
		                    dump_object(pool_fields, &c->pools[i].opts));
	return o;
}

static json_t *dump_field(const struct field *f, const void *base)
{
	const void *p = field_cptr(f, base);
	char buf[32];
	switch (f->type) {
	case T_SECTION:
		return dump_object(f->sub, base);
	case T_POOLS:
		return dump_pools(p);
	case T_STRING:
	case T_NAME:
	case T_SOCKET:
	case T_LISTEN:
	case T_FILE:
	case T_DIR:
		return dump_str(*(char *const *)p);
	case T_BOOL:
		return json_boolean(*(const int *)p);
	case T_REDIS_URL:
		return dump_url(*(char *const *)p);
	case T_MODE:
		snprintf(buf, sizeof(buf), "%04o", *(const unsigned *)p);
		return json_string(buf);
	case T_UINT:
		return json_integer((json_int_t) * (const unsigned *)p);
	case T_U64:
		return json_integer((json_int_t) * (const uint64_t *)p);
	case T_LEVEL:
		return json_string(log_level_name(*(const int *)p));
	case T_FORMAT:
		return json_string(log_format_name(*(const int *)p));
	case T_DURATION:
		format_duration(*(const uint64_t *)p, buf, sizeof(buf));
		return json_string(buf);
	}
	return json_null();
}

/* The dump walks the same tables as the parser, so it shows every key
 * the file may hold, in the file's own schema and units. */
static json_t *dump_object(const struct field *fields, const void *base)
{
	json_t *o = json_object();
	for (const struct field *f = fields; f->key; f++)
		if (!(f->flags & F_NODUMP))
			json_object_set_new(o, f->key, dump_field(f, base));
	return o;
}

char *config_dump(const config *c)
{
	struct draft d = {0};
	d.c = *c; /* a read-only view with the offsets the tables use */
	json_t *root = dump_object(top_fields, &d);
	char *s = json_dumps(root, JSON_INDENT(2));
	json_decref(root);
	return s;
}

/* ---- reload ------------------------------------------------------------- */

/* The bytes a leaf field's value takes in its struct. */
static size_t field_size(const struct field *f)
{
	switch (f->type) {
	case T_MODE:
	case T_UINT:
		return sizeof(unsigned);
	case T_U64:
	case T_DURATION:
		return sizeof(uint64_t);
	case T_LEVEL:
	case T_FORMAT:
	case T_BOOL:
		return sizeof(int);
	default:
		return sizeof(char *); /* the string types */
	}
}

/* Whether a field's value differs between two bases, compared as the
 * dump writes them (one comparison for every type). */
static int field_changed(const struct field *f, const void *a, const void *b)
{
	json_t *ja = dump_field(f, a), *jb = dump_field(f, b);
	int same = json_equal(ja, jb);
	json_decref(ja);
	json_decref(jb);
	return !same;
}

/* Append "section.key" to one of a reload's lists. */
static void note_key(char *list, size_t len, const char *section,
                     const char *key)
{
	size_t n = strlen(list);
	snprintf(list + n, len - n, "%s%s%s%s", n ? ", " : "", section,
	         *section ? "." : "", key);
}

/* Walk one table: a changed value with F_RELOAD moves from next into run
 * (the old one goes to next, freed with it) and is noted as applied;
 * another changed value is noted as fixed. Values compare as the dump
 * writes them. */
static void reload_fields(const struct field *fields, void *run, void *next,
                          const char *section, struct reload_note *rn)
{
	for (const struct field *f = fields; f->key; f++) {
		if (f->type == T_SECTION) {
			char sub[64]; /* "redis.tls": sections nest once */
			snprintf(sub, sizeof(sub), "%s%s%s", section, *section ? "." : "",
			         f->key);
			reload_fields(f->sub, run, next, sub, rn);
			continue;
		}
		if (f->type == T_POOLS || (f->flags & F_NODUMP))
			continue;
		if (!field_changed(f, run, next))
			continue;
		if (!(f->flags & F_RELOAD)) {
			note_key(rn->fixed, sizeof(rn->fixed), section, f->key);
			continue;
		}
		note_key(rn->applied, sizeof(rn->applied), section, f->key);
		char tmp[sizeof(uint64_t) > sizeof(char *) ? sizeof(uint64_t)
		                                           : sizeof(char *)];
		size_t n = field_size(f);
		memcpy(tmp, field_ptr(f, run), n);
		memcpy(field_ptr(f, run), field_ptr(f, next), n);
		memcpy(field_ptr(f, next), tmp, n);
	}
}

void config_reload(config *run, config *next, struct reload_note *rn)
{
	struct draft dr = {0}, dn = {0};
	dr.c = *run;
	dn.c = *next;
	rn->applied[0] = rn->fixed[0] = '\0';
	reload_fields(top_fields, &dr, &dn, "", rn);
	/* the pool table is swapped whole: pools joined later use it */
	config *r = &dr.c, *n = &dn.c;
	pool_conf *pools = r->pools;
	size_t npools = r->npools;
	pool_opts def = r->default_opts;
	int any = r->any_pool;
	r->pools = n->pools;
	r->npools = n->npools;
	r->default_opts = n->default_opts;
	r->any_pool = n->any_pool;
	n->pools = pools;
	n->npools = npools;
	n->default_opts = def;
	n->any_pool = any;
	*run = dr.c;
	*next = dn.c;
}

void config_pool_reload(pool_opts *joined, const pool_opts *next,
                        const char *pool, struct reload_note *rn)
{
	char section[NAME_MAX_LEN + 8];
	snprintf(section, sizeof(section), "pools.%s", pool);
	for (const struct field *f = pool_fields; f->key; f++) {
		if (!field_changed(f, joined, next))
			continue;
		if (f->flags & F_RELOAD) {
			memcpy(field_ptr(f, joined), field_cptr(f, next), field_size(f));
			note_key(rn->applied, sizeof(rn->applied), section, f->key);
		} else {
			note_key(rn->fixed, sizeof(rn->fixed), section, f->key);
		}
	}
}
