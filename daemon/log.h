/*
 * log.h: pulsed's logger: one line per event on stderr, as text or as
 * JSON lines (for journald), filtered by level.
 *
 * Owns: formatting and the level filter. The logger is a value inside the
 * daemon context (no global state); reload changes its level and format.
 * Invariant: a log call never fails visibly and never blocks on anything
 * but the write(2) to stderr; messages are cut at 4 KiB.
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

#define LOGD(lg, ...) plog((lg), LOG_DEBUG, __VA_ARGS__)
#define LOGI(lg, ...) plog((lg), LOG_INFO, __VA_ARGS__)
#define LOGW(lg, ...) plog((lg), LOG_WARN, __VA_ARGS__)
#define LOGE(lg, ...) plog((lg), LOG_ERROR, __VA_ARGS__)

#endif
