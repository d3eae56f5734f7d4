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
 * arguments already counted against the table (usage errors never reach
 * them).
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
	OPT_TIMEOUT = 1u << 2, /* drain --timeout SECONDS */
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
	const char *timeout; /* the value of --timeout */
	const char *limit;  /* the value of --limit */
	const char *match;  /* the value of --match */
	int json_reported;  /* the command's --json document carries its
	                       failure: report() adds only the stderr line */
	pulse_client *client; /* connected by ctl_client() on first use */
	int connect_code;   /* why ctl_client() failed */
	char what[256];     /* "dispatch demo/job-1": names the failure */
	char msg[512];      /* a failure found by pulsectl itself */
};

/* One command: its name, argument synopsis and summary (for usage), how
 * many positional arguments it takes, the OPT_* it accepts, whether it
 * needs pulsed (then ctl->client is connected before run is called), and
 * its code. run returns 0 or a PULSE_ERR_* code. */
struct cmd {
	const char *name;
	const char *args;
	const char *summary;
	int min_args, max_args;
	unsigned opts;
	int connect;
	int (*run)(struct ctl *ctl, int argc, char **argv);
};

/* The session to pulsed, connected on first use; NULL on failure, with
 * the code in ctl->connect_code and the message in ctl->msg. */
pulse_client *ctl_client(struct ctl *ctl);
/* Record a failure found by pulsectl itself; returns code. */
int ctl_fail(struct ctl *ctl, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

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

/* A list printed as an aligned table (people), tab-separated lines (-H)
 * or JSON (--json): {"<list>": [ {field: value, ...}, ... ]}, or with
 * flat set {"<list>": [value, ...]} of the one column. */
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

struct view {
	const char *list;
	const struct col *cols;
	size_t ncols;
	int flat;
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
/* Print j as one line of compact JSON on stdout and release it. */
void json_print(json_t *j);
/* The JSON answer of a command with no result: {"ok":true}. */
void print_ok(const struct ctl *ctl);

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
