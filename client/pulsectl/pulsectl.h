/*
 * pulsectl.h: shared declarations of pulsectl, the command-line control
 * tool of pulsed.
 *
 * Owns: the command context (struct ctl), the shape of a command table
 * entry, the table-driven output (views), and the commands' entry points,
 * one file per command group (cmd-job.c, cmd-pool.c, cmd-node.c).
 *
 * Invariants: a command writes its result to stdout through the view and
 * JSON helpers of output.c only, never to stderr; on failure it returns a
 * PULSE_ERR_* code and leaves the reporting (stderr line, --json error
 * object, exit status 1) to pulsectl.c. Commands get their positional
 * arguments already counted against the table and their option values
 * already checked (ctl->timeout_ms, ctl->limit): usage errors that the
 * table can tell never reach them, and one a command finds itself goes
 * through ctl_usage() (exit status 2). Every --json document is one
 * object with "ok" (pulsectl(1), JSON OUTPUT).
 */
#ifndef PULSECTL_H
#define PULSECTL_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "pulse.h"

/* Kept equal to PULSED_VERSION (daemon/pulsed.h): they ship together. */
#define PULSECTL_VERSION "0.1.0"

/* Command options (after the command name), as bits in ctl.opts. */
enum {
	OPT_LOCAL = 1u << 0, /* workers: only this pulsed's */
	OPT_WORKER = 1u << 1, /* jobs --worker ID: only the keys it owns */
	OPT_TIMEOUT = 1u << 2, /* --timeout DURATION: the request's timeout */
	OPT_LIMIT = 1u << 3,  /* jobs --limit N: at most N keys */
	OPT_MATCH = 1u << 4,  /* jobs --match GLOB: keys that match */
	OPT_COUNT = 1u << 5,  /* jobs --count: how many, no keys */
};

struct ctl {
	const char *socket; /* -s: NULL for $PULSE_SOCKET or the default */
	int json;           /* --json: one JSON document on stdout */
	int bare;           /* -H: no headers, tab-separated fields */
	unsigned opts;      /* OPT_* given to the command */
	const char *worker; /* the value of --worker */
	unsigned timeout_ms; /* the value of --timeout, checked (>= 1 ms) */
	uint64_t limit;     /* the value of --limit, checked (>= 1) */
	const char *match;  /* the value of --match */
	int json_reported;  /* the command's --json document carries its
	                       failure: report() adds only the stderr line */
	int usage;          /* the failure is a usage error (ctl_usage) */
	pulse_client *client; /* connected by ctl_client() on first use */
	int connect_code;   /* why ctl_client() failed */
	char what[256];     /* "dispatch demo/job-1": names the failure */
	char msg[512];      /* a failure found by pulsectl itself */
};

/* One command: its name, positional argument synopsis and summary (for
 * usage; its options' synopsis is made from opts), how many positional
 * arguments it takes, the OPT_* it accepts, whether it needs pulsed (then
 * ctl->client is connected before run is called, with --timeout given to
 * the library), its code, and the paragraph of `pulsectl help NAME`
 * (NULL: the summary). run returns 0 or a PULSE_ERR_* code. */
struct cmd {
	const char *name;
	const char *args;
	const char *summary;
	int min_args, max_args;
	unsigned opts;
	int connect;
	int (*run)(struct ctl *ctl, int argc, char **argv);
	const char *about;
};

/* The session to pulsed, connected on first use; NULL on failure, with
 * the code in ctl->connect_code and the message in ctl->msg. */
pulse_client *ctl_client(struct ctl *ctl);
/* Record a failure found by pulsectl itself; returns code. */
int ctl_fail(struct ctl *ctl, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Record a usage error found by the command itself (exit status 2, the
 * command's usage on stderr); returns PULSE_ERR_INVALID. */
int ctl_usage(struct ctl *ctl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- output.c: table-driven views ------------------------------------ */

enum col_kind {
	COL_TEXT,  /* a string; "-" in tables when empty */
	COL_COUNT, /* a decimal count: right-aligned, a JSON number */
	COL_BOOL,  /* "true" or "false": a JSON boolean */
};

struct col {
	const char *title; /* table header */
	const char *field; /* JSON field */
	enum col_kind kind;
};

/* A growing list of malloc'd cell strings (output.c). */
struct cells {
	char **v;
	size_t n, cap;
};
/* Append s (taken; NULL counts as out of memory). Returns 0 or -1. */
int cells_add(struct cells *c, char *s);
void cells_free(struct cells *c);
/* The names of the pools this pulsed knows, from its status (cmd-node.c). */
int ctl_pool_names(struct ctl *ctl, struct cells *names);

/* A list printed as an aligned table (people), tab-separated lines with
 * no header (-H) or JSON (--json): {"<list>": [{field: value, ...}, ...],
 * "ok": true}, every column a field. The first skip columns are left out
 * of the table and -H (jobs POOL needs no POOL column) but kept in JSON,
 * so that its shape does not depend on the arguments. */
struct view {
	const char *list;
	const struct col *cols;
	size_t ncols;
	size_t skip;
	int headless; /* a table without its header line (key/value lists) */
};

/* Print nrows rows of v->ncols cells each (row-major). Cells are NUL-
 * terminated; NULL counts as empty. */
void view_print(const struct ctl *ctl, const struct view *v,
                const char *const *cells, size_t nrows);

/* The same list printed row by row as it comes, in bounded memory (a job
 * list of any size): the widths of the table's columns are given up front
 * (w: one per column but the last, which is not padded; NULL: the
 * titles'). */
struct rows_out {
	const struct ctl *ctl;
	const struct view *v;
	size_t *w; /* malloc'd: one per column */
	size_t n;  /* rows printed */
	int started; /* the header or the JSON's opening is out */
};
void rows_begin(struct rows_out *o, const struct ctl *ctl,
                const struct view *v, const size_t *w);
void rows_add(struct rows_out *o, const char *const *cells);
void rows_end(struct rows_out *o);
/* End a listing that failed after rows_begin(): with --json and rows
 * already out, the document is closed with "ok": false, "code" and
 * "message" (returns 1: the failure is reported there); else nothing more
 * is printed (returns 0). */
int rows_failed(struct rows_out *o, int code, const char *msg);
/* A JSON string for n bytes that may not be UTF-8: bytes that do not
 * decode become U+FFFD. Never NULL unless memory runs out. */
json_t *json_text(const char *s, size_t n);
/* Set obj's field to the n bytes s as json_text() does and, when they are
 * not valid UTF-8, field_base64 to their exact bytes in base64: JSON
 * output is lossless for keys of any bytes (pulsectl(1)). */
void json_set_text(json_t *obj, const char *field, const char *s, size_t n);
/* n bytes in base64 (RFC 4648, padded), malloc'd; NULL out of memory. */
char *base64(const void *p, size_t n);
/* Print j as one line of compact JSON on stdout and release it. */
void json_print(json_t *j);
/* The JSON answer of a command with no result: {"ok":true}. */
void print_ok(const struct ctl *ctl);
/* Mark obj as a successful answer ("ok": true), print it, release it. */
void print_ok_object(json_t *obj);

/* ---- the commands ----------------------------------------------------- */

int cmd_dispatch(struct ctl *ctl, int argc, char **argv); /* cmd-job.c */
int cmd_stop(struct ctl *ctl, int argc, char **argv);
int cmd_notify(struct ctl *ctl, int argc, char **argv);
int cmd_send(struct ctl *ctl, int argc, char **argv);
int cmd_job(struct ctl *ctl, int argc, char **argv);
int cmd_jobs(struct ctl *ctl, int argc, char **argv);
int cmd_workers(struct ctl *ctl, int argc, char **argv); /* cmd-pool.c */
int cmd_nodes(struct ctl *ctl, int argc, char **argv);
int cmd_where(struct ctl *ctl, int argc, char **argv);
int cmd_status(struct ctl *ctl, int argc, char **argv);  /* cmd-node.c */
int cmd_version(struct ctl *ctl, int argc, char **argv);
int cmd_tickers(struct ctl *ctl, int argc, char **argv);
int cmd_schedules(struct ctl *ctl, int argc, char **argv);
int cmd_shutdown(struct ctl *ctl, int argc, char **argv); /* cmd-admin.c */
int cmd_leave(struct ctl *ctl, int argc, char **argv);
int cmd_reopen(struct ctl *ctl, int argc, char **argv);
int cmd_drain(struct ctl *ctl, int argc, char **argv);
int cmd_undrain(struct ctl *ctl, int argc, char **argv);

#endif
