/*
 * log.c: pulsed's logger: one line per event, text or JSON lines.
 *
 * Owns: the level filter, the two line formats, escaping, the level
 * names (config.c reads log.level through log_level_from_name), and the
 * one format of the job lines (log_job: "job EVENT pool=P key=K worker=W
 * node=N ...", key=value so that grep and awk read them; pulsed.8).
 *
 * Invariants:
 *   - One event is one line: control characters in a message are escaped
 *     in both formats, and a JSON line is valid JSON even when the message
 *     is not valid UTF-8 (bad bytes become U+FFFD).
 *   - A message is cut at LOG_MSG_MAX bytes, at a UTF-8 boundary; a job
 *     line fits whole (its key of up to 1 KiB quoted takes 4 KiB + 2, an
 *     error text is cut at LOG_TEXT_MAX bytes before it is quoted).
 *   - A key=value value (log_value) is bare only when it is printable
 *     ASCII without space, '"', '\\' or '=' (and not empty); otherwise it
 *     is quoted with C escapes, every byte outside printable ASCII as
 *     \xNN: one record is one line whatever the key's bytes, and the
 *     line is ASCII in both formats.
 *   - A line is built in a stack buffer and written with one write(2)
 *     (repeated only if interrupted or short); nothing is allocated,
 *     nothing fails visibly, and errno is preserved for the caller.
 *   - No global state: the logger is a value the caller passes in.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_MSG_MAX 8192
/* Worst case: every byte escaped as \u00XX or \ufffd (6 bytes), plus the
 * timestamp, the level and the JSON framing. */
#define LOG_LINE_MAX (LOG_MSG_MAX * 6 + 128)

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_init(logger *lg, int level, int format)
{
	lg->level = level;
	lg->format = format;
	lg->fd = 2;
}

int log_level_from_name(const char *s)
{
	if (!s)
		return -1;
	for (int i = LOG_DEBUG; i <= LOG_ERROR; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

const char *log_level_name(int level)
{
	return level >= LOG_DEBUG && level <= LOG_ERROR ? level_names[level]
	                                                : "unknown";
}

/* Length of the well-formed UTF-8 sequence at s (n bytes available), or 0
 * (overlong forms, surrogates and code points past U+10FFFF included), so
 * that the JSON line never carries bytes a JSON reader rejects. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned long cp, min;
	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2, cp = s[0] & 0x1f, min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3, cp = s[0] & 0x0f, min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4, cp = s[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Escape a message for one format; dst must hold 6 * n bytes. Serves
 * both formats so that they cannot disagree about what is escaped: text
 * keeps every byte but control characters (C-style escapes); JSON also
 * escapes quote and backslash and replaces ill-formed UTF-8. */
static size_t escape(char *dst, const char *src, size_t n, int json)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		unsigned char ch = s[i];
		const char *short_esc = NULL;
		switch (ch) {
		case '\n': short_esc = "\\n"; break;
		case '\r': short_esc = "\\r"; break;
		case '\t': short_esc = "\\t"; break;
		case '"': short_esc = json ? "\\\"" : NULL; break;
		case '\\': short_esc = json ? "\\\\" : NULL; break;
		default: break;
		}
		if (short_esc) {
			memcpy(dst + o, short_esc, 2);
			o += 2;
			i++;
		} else if (ch < 0x20 || ch == 0x7f) {
			o += (size_t)snprintf(dst + o, 7, json ? "\\u%04x" : "\\x%02x", ch);
			i++;
		} else if (!json || ch < 0x80) {
			dst[o++] = (char)ch;
			i++;
		} else {
			size_t len = utf8_seq(s + i, n - i);
			if (len) {
				memcpy(dst + o, s + i, len);
				o += len;
				i += len;
			} else {
				memcpy(dst + o, "\\ufffd", 6);
				o += 6;
				i++;
			}
		}
	}
	return o;
}

/* "2026-11-28T12:00:00.123Z": UTC with milliseconds, the same in both
 * formats so that text and journald lines sort alike. */
static size_t timestamp(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	int k = snprintf(buf + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000);
	return k > 0 ? n + (size_t)k : n;
}

/* Write the whole line; a failed write is dropped (there is nowhere left
 * to report it). */
static void write_line(int fd, const char *buf, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, buf, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return;
		buf += k;
		n -= (size_t)k;
	}
}

/* Write message msg (n bytes, at most LOG_MSG_MAX) as one line: the
 * part of every log call after its formatting, which log_job() also
 * calls with a message it built itself (no format to run again). */
static void log_line(const logger *lg, int level, const char *msg, size_t n)
{
	char line[LOG_LINE_MAX], ts[40];
	size_t tl = timestamp(ts, sizeof(ts)), o;
	const char *lv = log_level_name(level);
	if (lg->format == LOG_JSON) {
		o = (size_t)snprintf(line, sizeof(line),
		                     "{\"ts\":\"%.*s\",\"level\":\"%s\",\"msg\":\"", (int)tl,
		                     ts, lv);
		o += escape(line + o, msg, n, 1);
		memcpy(line + o, "\"}\n", 3);
		o += 3;
	} else {
		o = (size_t)snprintf(line, sizeof(line), "%.*s %s: ", (int)tl, ts, lv);
		o += escape(line + o, msg, n, 0);
		line[o++] = '\n';
	}
	write_line(lg->fd, line, o);
}

void vplog(const logger *lg, int level, const char *fmt, va_list ap)
{
	if (!lg || lg->fd < 0 || level < lg->level)
		return;
	int saved = errno;
	char msg[LOG_MSG_MAX + 4];
	int r = vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n;
	if (r < 0) {
		n = (size_t)snprintf(msg, sizeof(msg), "(bad log format: %s)", fmt);
		if (n > LOG_MSG_MAX)
			n = LOG_MSG_MAX;
	} else if ((size_t)r > LOG_MSG_MAX) {
		/* cut, stepping back over at most 3 continuation bytes */
		n = LOG_MSG_MAX;
		for (int i = 0; i < 3 && ((unsigned char)msg[n] & 0xc0) == 0x80; i++)
			n--;
	} else {
		n = (size_t)r;
	}
	log_line(lg, level, msg, n);
	errno = saved;
}

void plog(const logger *lg, int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vplog(lg, level, fmt, ap);
	va_end(ap);
}

/* ---- key=value records --------------------------------------------------- */

/* Whether byte ch may stand in a bare value. */
static int bare_byte(unsigned char ch)
{
	return ch > 0x20 && ch < 0x7f && ch != '"' && ch != '\\' && ch != '=';
}

size_t log_value(char *dst, size_t cap, const char *v, size_t n)
{
	const unsigned char *s = (const unsigned char *)v;
	size_t o = 0, i;
	if (cap == 0)
		return 0;
	for (i = 0; i < n && bare_byte(s[i]); i++)
		;
	if (n > 0 && i == n) { /* bare */
		if (n >= cap)
			n = cap - 1;
		memcpy(dst, v, n);
		dst[n] = '\0';
		return n;
	}
	/* quoted: each byte takes at most 4, the quotes 2, the NUL 1; a value
	 * that does not fit is cut before a whole escape */
	char esc[5];
	if (cap < 3) {
		dst[0] = '\0';
		return 0;
	}
	dst[o++] = '"';
	for (i = 0; i < n; i++) {
		unsigned char ch = s[i];
		size_t k;
		if (ch == '"' || ch == '\\') {
			esc[0] = '\\', esc[1] = (char)ch, k = 2;
		} else if (ch == '\n') {
			memcpy(esc, "\\n", 2), k = 2;
		} else if (ch == '\r') {
			memcpy(esc, "\\r", 2), k = 2;
		} else if (ch == '\t') {
			memcpy(esc, "\\t", 2), k = 2;
		} else if (ch < 0x20 || ch >= 0x7f) {
			snprintf(esc, sizeof(esc), "\\x%02x", ch), k = 4;
		} else {
			esc[0] = (char)ch, k = 1;
		}
		if (o + k + 2 > cap)
			break;
		memcpy(dst + o, esc, k);
		o += k;
	}
	dst[o++] = '"';
	dst[o] = '\0';
	return o;
}

/* One field " name=value" at buf + *o (bounded by len). */
static void add_field(char *buf, size_t len, size_t *o, const char *name,
                      const char *v, size_t n)
{
	size_t nl = strlen(name);
	if (*o + nl + 3 >= len)
		return;
	buf[(*o)++] = ' ';
	memcpy(buf + *o, name, nl);
	*o += nl;
	buf[(*o)++] = '=';
	*o += log_value(buf + *o, len - *o, v, n);
}

void log_job(const logger *lg, int level, const char *event,
             const char *pool, const char *key, size_t klen,
             const char *worker, const char *node, const char *extra)
{
	if (!lg || lg->fd < 0 || level < lg->level)
		return; /* nothing to format */
	int saved = errno;
	char msg[LOG_MSG_MAX];
	size_t o = (size_t)snprintf(msg, sizeof(msg), "job %s", event);
	add_field(msg, sizeof(msg), &o, "pool", pool ? pool : "-",
	          pool ? strlen(pool) : 1);
	add_field(msg, sizeof(msg), &o, "key", key ? key : "", key ? klen : 0);
	add_field(msg, sizeof(msg), &o, "worker", worker ? worker : "-",
	          worker ? strlen(worker) : 1);
	add_field(msg, sizeof(msg), &o, "node", node ? node : "-",
	          node ? strlen(node) : 1);
	while (extra && *extra == ' ')
		extra++; /* fields are joined with one space */
	if (extra && *extra && o + 1 < sizeof(msg)) {
		size_t el = strlen(extra);
		if (el > sizeof(msg) - o - 1)
			el = sizeof(msg) - o - 1; /* a cut extra: the fields come first */
		msg[o++] = ' ';
		memcpy(msg + o, extra, el);
		o += el;
	}
	if (o > LOG_MSG_MAX)
		o = LOG_MSG_MAX;
	log_line(lg, level, msg, o);
	errno = saved;
}
