/*
 * cmd-job.c: pulsectl's job commands: dispatch, stop, notify (act on one
 * job and wait for its worker), send (a keyed message to the worker a key
 * is placed on, no job) and jobs, job (inspect a pool's jobs).
 *
 * Owns: reading a payload argument ("-": all of stdin, bounded), printing
 * bytes (a job's payload, a message's answer) raw, or as JSON with base64
 * for any bytes, the key list view.
 *
 * Invariants: argv holds exactly what the command table allows (POOL
 * first, KEY second, PAYLOAD third), so arguments are not counted here.
 * stdin is read only for "-", and never past the payload cap plus one
 * byte: a longer payload is refused by the library as TOO_LARGE.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pulsectl.h"
#include "proto.h"

/* A payload argument: the text itself, or with "-" all of stdin. *buf is
 * malloc'd for stdin (free it), NULL otherwise. */
static int read_payload(struct ctl *ctl, const char *arg, const char **data,
                        size_t *len, char **buf)
{
	*buf = NULL;
	if (!arg || strcmp(arg, "-") != 0) {
		*data = arg ? arg : "";
		*len = arg ? strlen(arg) : 0;
		return 0;
	}
	size_t cap = PULSE_HARD_MAX_PAYLOAD + 1, n = 0; /* the library checks */
	char *b = malloc(cap);
	if (!b)
		return ctl_fail(ctl, PULSE_ERR_INVALID, "out of memory");
	while (n < cap) {
		ssize_t got = read(STDIN_FILENO, b + n, cap - n);
		if (got == 0)
			break;
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			free(b);
			return ctl_fail(ctl, PULSE_ERR_INVALID, "reading stdin: %s",
			                strerror(errno));
		}
		n += (size_t)got;
	}
	*data = *buf = b;
	*len = n;
	return 0;
}

/* dispatch and notify: a payload, one library call, {"ok":true}. */
static int send_payload(struct ctl *ctl, char **argv, const char *arg,
                        int (*fn)(pulse_client *, const char *, const char *,
                                  const void *, size_t))
{
	const char *data = "";
	size_t len = 0;
	char *buf = NULL;
	int code = read_payload(ctl, arg, &data, &len, &buf);
	if (!code)
		code = fn(ctl->client, argv[0], argv[1], data, len);
	free(buf);
	if (!code)
		print_ok(ctl);
	return code;
}

int cmd_dispatch(struct ctl *ctl, int argc, char **argv)
{
	return send_payload(ctl, argv, argc > 2 ? argv[2] : NULL, pulse_dispatch);
}

int cmd_notify(struct ctl *ctl, int argc, char **argv)
{
	(void)argc;
	return send_payload(ctl, argv, argv[2], pulse_notify);
}

int cmd_stop(struct ctl *ctl, int argc, char **argv)
{
	(void)argc;
	int code = pulse_stop_job(ctl->client, argv[0], argv[1]);
	if (!code)
		print_ok(ctl);
	return code;
}

/* Where the keys of a listing go: printed as they come. */
struct key_rows {
	struct rows_out out;
	const char *pool; /* the POOL column (left out of the table for jobs
	                   * POOL, kept in JSON) */
};

static int print_key(void *arg, const char *key, size_t len)
{
	(void)len;
	struct key_rows *kr = arg;
	const char *row[2] = {kr->pool, key};
	rows_add(&kr->out, row);
	return 0;
}

/* jobs POOL: the pool's keys; jobs (no POOL): every pool this pulsed
 * knows, with a POOL column; --count: how many instead (a bare number for
 * one pool). Either way one JSON shape, every row with its pool. Keys are
 * printed as pulsed sends them, so a pool of any size lists in bounded
 * memory (the POOL column is as wide as the longest pool name). */
int cmd_jobs(struct ctl *ctl, int argc, char **argv)
{
	static const struct col cols[] = {{"POOL", "pool", COL_TEXT},
	                                  {"KEY", "key", COL_TEXT}};
	static const struct col count_cols[] = {{"POOL", "pool", COL_TEXT},
	                                        {"JOBS", "count", COL_COUNT}};
	const int one = argc == 1;
	const struct view view = {"jobs", cols, 2, one ? 1 : 0, 0};
	const struct view count_view = {"counts", count_cols, 2, one ? 1 : 0, one};
	const pulse_jobs_query q = {.worker = ctl->worker, .match = ctl->match,
	                            .limit = ctl->limit,
	                            .count_only = (ctl->opts & OPT_COUNT) != 0};
	int code = 0;
	struct cells pools = {0};
	if (argc == 1)
		code = cells_add(&pools, strdup(argv[0])) < 0
		       ? ctl_fail(ctl, PULSE_ERR_INVALID, "out of memory") : 0;
	else
		code = ctl_pool_names(ctl, &pools);
	if (code) {
		cells_free(&pools);
		return code;
	}
	if (q.count_only) {
		/* one POOL JOBS row per pool */
		struct cells rows = {0};
		for (size_t p = 0; !code && p < pools.n; p++) {
			uint64_t n = 0;
			char num[24];
			if ((code = pulse_jobs_each(ctl->client, pools.v[p], &q, NULL,
			                            NULL, &n)))
				break;
			snprintf(num, sizeof(num), "%llu", (unsigned long long)n);
			if (cells_add(&rows, strdup(pools.v[p])) < 0 ||
			    cells_add(&rows, strdup(num)) < 0)
				code = ctl_fail(ctl, PULSE_ERR_INVALID, "out of memory");
		}
		if (!code)
			view_print(ctl, &count_view, (const char *const *)rows.v,
			           rows.n / 2);
		cells_free(&rows);
		cells_free(&pools);
		return code;
	}
	struct key_rows kr = {.pool = NULL};
	size_t w[2] = {strlen("POOL"), 0};
	for (size_t p = 0; argc == 0 && p < pools.n; p++)
		if (strlen(pools.v[p]) > w[0])
			w[0] = strlen(pools.v[p]);
	rows_begin(&kr.out, ctl, &view, w);
	for (size_t p = 0; !code && p < pools.n; p++) {
		kr.pool = pools.v[p];
		code = pulse_jobs_each(ctl->client, pools.v[p], &q, print_key, &kr,
		                       NULL);
	}
	if (code)
		ctl->json_reported = rows_failed(&kr.out, code,
		                                 ctl->msg[0] ? ctl->msg
		                                 : pulse_errmsg(ctl->client));
	else
		rows_end(&kr.out);
	cells_free(&pools);
	return code;
}

/* Bytes for people or programs: raw on stdout; with --json the object
 * {first: true, "size": N, field: text (only when the bytes are UTF-8),
 * field_base64: base64 (always: payloads are bytes), "ok": true}. */
static void print_bytes(const struct ctl *ctl, const char *first,
                        const char *field, const void *p, size_t len)
{
	if (!ctl->json) {
		if (len > 0)
			fwrite(p, 1, len, stdout);
		return;
	}
	json_t *j = json_pack("{s:b,s:I}", first, 1, "size", (json_int_t)len);
	json_t *text = json_stringn(p ? p : "", len);
	if (text)
		json_object_set_new(j, field, text);
	char *b64 = base64(p ? p : (const void *)"", len);
	char name[64];
	snprintf(name, sizeof(name), "%s_base64", field);
	if (b64)
		json_object_set_new(j, name, json_string(b64));
	free(b64);
	print_ok_object(j);
}

int cmd_job(struct ctl *ctl, int argc, char **argv)
{
	(void)argc;
	void *payload;
	size_t len;
	int exists;
	int code = pulse_job_payload(ctl->client, argv[0], argv[1], &payload,
	                             &len, &exists);
	if (code)
		return code;
	if (!exists)
		return ctl_fail(ctl, PULSE_ERR_JOB_NOT_FOUND, "job not found");
	print_bytes(ctl, "exists", "payload", payload, len);
	free(payload);
	return 0;
}

/* send POOL KEY PAYLOAD|-: the handler's answer, raw, or with --json
 * {"ok": true, "size", "answer", "answer_base64"}. */
int cmd_send(struct ctl *ctl, int argc, char **argv)
{
	(void)argc;
	const char *data = "";
	size_t len = 0, alen = 0;
	char *buf = NULL;
	void *answer = NULL;
	int code = read_payload(ctl, argv[2], &data, &len, &buf);
	if (!code)
		code = pulse_send(ctl->client, argv[0], argv[1], data, len, &answer,
		                  &alen);
	free(buf);
	if (!code)
		print_bytes(ctl, "ok", "answer", answer, alen);
	free(answer);
	return code;
}
