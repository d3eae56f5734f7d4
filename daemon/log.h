/*
 * log.h: pulsed's logger: one line per event on stderr, as text or as
 * JSON lines (for journald), filtered by level.
 *
 * Owns: formatting and the level filter. The logger is a value inside the
 * daemon context (no global state); reload changes its level and format.
 * Invariant: a log call never fails visibly and never blocks on anything
 * but the write(2) to stderr; messages are cut at 8 KiB.
 */
#ifndef PULSED_LOG_H
#define PULSED_LOG_H

#include <stdarg.h>
#include "config.h"

typedef struct logger {
	int level;  /* enum log_level */
	int format; /* enum log_format */
	int fd;     /* 2 */
} logger;

void log_init(logger *lg, int level, int format);
/* Write one line. In JSON format: {"ts":"2026-11-28T12:00:00.123Z",
 * "level":"info","msg":"..."}. */
void plog(const logger *lg, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void vplog(const logger *lg, int level, const char *fmt, va_list ap);
/* "debug", "info", "warn", "error" <-> LOG_*; -1 when unknown. */
int log_level_from_name(const char *s);
const char *log_level_name(int level);

/* key=value records (the job lines; pulsed.8 "JOB LOG"). */

/* The cut applied to free text (a handler's error) before it is quoted
 * into a record, so that a job line always fits whole. */
#define LOG_TEXT_MAX 512
/* Write v (n bytes, any bytes) as a record's value into dst (cap bytes,
 * NUL-terminated): bare when it is printable ASCII without space, '"',
 * '\\' or '=', else in double quotes with C escapes (\" \\ \n \r \t, any
 * other byte outside printable ASCII as \xNN), so one record stays one
 * line. Takes at most 4 * n + 3 bytes; a value that does not fit is cut
 * before a whole escape. Returns the length written. */
size_t log_value(char *dst, size_t cap, const char *v, size_t n);
/* The one line of a job event, built in one place so that every event
 * reads alike: "job EVENT pool=P key=K worker=W node=N EXTRA" (worker
 * or node NULL: "-"); extra is more fields, already key=value (its free
 * text through log_value), or NULL. For example
 *   job start pool=demo key=k1 worker=w-a node=node-1 uid=1000
 *   job stop pool=demo key="a b\x0a" worker=w-a node=node-1 from=node-b */
void log_job(const logger *lg, int level, const char *event,
             const char *pool, const char *key, size_t klen,
             const char *worker, const char *node, const char *extra);

#define LOGD(lg, ...) plog((lg), LOG_DEBUG, __VA_ARGS__)
#define LOGI(lg, ...) plog((lg), LOG_INFO, __VA_ARGS__)
#define LOGW(lg, ...) plog((lg), LOG_WARN, __VA_ARGS__)
#define LOGE(lg, ...) plog((lg), LOG_ERROR, __VA_ARGS__)

#endif
