/*
 * errors.c: error codes and messages of libpulse-client.
 *
 * Owns: the public code-to-name mapping (pulse_strerror), turning ERROR
 * frames and errno values into codes, formatting messages into a session's
 * error buffer, and the local request checks (names and sizes) that every
 * call makes before it sends anything.
 *
 * Invariants: codes are the numbers of enum pulse_err (proto.h), which
 * pulse.h repeats; the static assertions below keep the two in step.
 * Messages never exceed the buffer given (truncated, always terminated).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "conn.h"

/* The two enums are distinct types: compare them as ints. */
#define SAME(n) ((int)PULSE_ERR_##n == (int)PULSE_E_##n)
_Static_assert(SAME(JOB_EXISTS) &&
               SAME(JOB_NOT_FOUND) &&
               SAME(TIMEOUT) &&
               SAME(CLOSED) &&
               SAME(SHUTDOWN) &&
               SAME(POOL_FULL) &&
               SAME(INVALID) &&
               SAME(TOO_LARGE) &&
               SAME(UNAVAILABLE) &&
               SAME(PROTOCOL) &&
               SAME(PERMISSION) &&
               SAME(HANDLER) &&
               SAME(BUSY) &&
               SAME(NO_HANDLER) &&
               (int)PULSE_ERR_NO_HANDLER + 1 == (int)PULSE_E__COUNT,
               "pulse.h error codes must match proto.h enum pulse_err");
#undef SAME

const char *pulse_strerror(int code)
{
	/* The codec owns the names; only the range check is ours, so that a
	 * caller's stray number gets a name rather than whatever the codec
	 * does with it. */
	if (code < 0 || code >= PULSE_E__COUNT)
		return "UNKNOWN";
	return pulse_err_name(code);
}

int libpulse_verrf(char *buf, size_t len, int code, const char *fmt,
                   va_list ap)
{
	if (buf && len > 0)
		vsnprintf(buf, len, fmt, ap);
	return code;
}

int libpulse_errf(char *buf, size_t len, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	libpulse_verrf(buf, len, code, fmt, ap);
	va_end(ap);
	return code;
}

int libpulse_error_frame(const pulse_msg *m, char *buf, size_t len)
{
	int code = -1;
	if (m->has & PM_CODE)
		code = pulse_err_from_name(m->code.p, m->code.n);
	const char *msg = (m->has & PM_MSG) ? m->msg.p : "";
	int msgn = (m->has & PM_MSG) ? (int)m->msg.n : 0;
	if (code <= 0) {
		/* An unknown (newer) or missing code: keep its name in the
		 * message, since the number cannot say it. */
		int coden = (m->has & PM_CODE) ? (int)m->code.n : 0;
		return libpulse_errf(buf, len, PULSE_ERR_PROTOCOL,
		                     "pulsed answered error %.*s: %.*s", coden,
		                     (m->has & PM_CODE) ? m->code.p : "", msgn, msg);
	}
	if (msgn == 0)
		return libpulse_errf(buf, len, code, "%s", pulse_strerror(code));
	return libpulse_errf(buf, len, code, "%.*s", msgn, msg);
}

int libpulse_errno_code(int err)
{
	switch (err) {
	case EACCES:
	case EPERM:
		return PULSE_ERR_PERMISSION;
	case EPIPE:
	case ECONNRESET:
	case ENOTCONN:
		return PULSE_ERR_CLOSED;
	case ENAMETOOLONG:
		return PULSE_ERR_INVALID;
	case EAGAIN:
		return PULSE_ERR_BUSY; /* a full listen backlog */
	default:
		/* ENOENT, ECONNREFUSED and the rest: pulsed is not there. */
		return PULSE_ERR_UNAVAILABLE;
	}
}

int libpulse_check_request(const char *pool, const char *key, size_t plen,
                           size_t max_payload, char *buf, size_t len)
{
	char why[160];
	if (!pool)
		return libpulse_errf(buf, len, PULSE_ERR_INVALID, "no pool given");
	if (pulse_check_pool(pool, strlen(pool), why, sizeof(why)) < 0)
		return libpulse_errf(buf, len, PULSE_ERR_INVALID, "%s", why);
	if (key && pulse_check_name("key", key, strlen(key), PULSE_MAX_KEY, why,
	                            sizeof(why)) < 0)
		return libpulse_errf(buf, len, PULSE_ERR_INVALID, "%s", why);
	if (plen > max_payload)
		return libpulse_errf(buf, len, PULSE_ERR_TOO_LARGE,
		                     "payload of %zu bytes exceeds the limit of %zu bytes "
		                     "(pulsed's limits.max_payload)", plen, max_payload);
	return 0;
}
