/*
 * cmd-job.c: pulsectl's job commands: dispatch, stop, notify (act on one
 * job and wait for its worker) and jobs, job (inspect a pool's jobs).
 *
 * Owns: reading a payload argument ("-": all of stdin, bounded), printing
 * a job's payload raw (or as JSON, base64 for any bytes), the key list
 * view.
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

/* The keys of one pool (all, or the worker's with --worker). */
static int pool_keys(struct ctl *ctl, const char *pool, char ***keys,
                     size_t *n)
{
	return ctl->worker
		? pulse_worker_job_keys(ctl->client, pool, ctl->worker, keys, n)
		: pulse_job_keys(ctl->client, pool, keys, n);
}

/* jobs POOL: the pool's keys; jobs (no POOL): every pool this pulsed
 * knows, one POOL KEY row per job. */
int cmd_jobs(struct ctl *ctl, int argc, char **argv)
{
	static const struct col cols[] = {{"KEY", "keys", COL_TEXT}};
	static const struct view view = {"keys", cols, 1, 1, 0};
	static const struct col all_cols[] = {{"POOL", "pool", COL_TEXT},
	                                      {"KEY", "key", COL_TEXT}};
	static const struct view all_view = {"jobs", all_cols, 2, 0, 0};
	char **keys;
	size_t n;
	if (argc == 1) {
		int code = pool_keys(ctl, argv[0], &keys, &n);
		if (code)
			return code;
		view_print(ctl, &view, (const char *const *)keys, n);
		pulse_free_keys(keys);
		return 0;
	}
	struct cells pools = {0}, rows = {0};
	int code = ctl_pool_names(ctl, &pools);
	for (size_t p = 0; !code && p < pools.n; p++) {
		if ((code = pool_keys(ctl, pools.v[p], &keys, &n)))
			break;
		for (size_t i = 0; !code && i < n; i++)
			if (cells_add(&rows, strdup(pools.v[p])) < 0 ||
			    cells_add(&rows, strdup(keys[i])) < 0)
				code = ctl_fail(ctl, PULSE_ERR_INVALID, "out of memory");
		pulse_free_keys(keys);
	}
	if (!code)
		view_print(ctl, &all_view, (const char *const *)rows.v, rows.n / 2);
	cells_free(&pools);
	cells_free(&rows);
	return code;
}

static char *base64(const unsigned char *p, size_t n)
{
	static const char abc[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		*o++ = abc[v >> 18 & 63];
		*o++ = abc[v >> 12 & 63];
		*o++ = i + 1 < n ? abc[v >> 6 & 63] : '=';
		*o++ = i + 2 < n ? abc[v & 63] : '=';
	}
	*o = 0;
	return out;
}

/* --json for a job: exists, size, the payload as text when it is UTF-8,
 * and always as base64 (payloads are bytes). */
static void print_job_json(const void *payload, size_t len)
{
	json_t *j = json_pack("{s:b,s:I}", "exists", 1, "size", (json_int_t)len);
	json_t *text = json_stringn(payload ? payload : "", len);
	if (text)
		json_object_set_new(j, "payload", text);
	char *b64 = base64(payload, len);
	if (b64)
		json_object_set_new(j, "payload_base64", json_string(b64));
	free(b64);
	json_print(j);
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
	if (ctl->json)
		print_job_json(payload, len);
	else if (len > 0)
		fwrite(payload, 1, len, stdout);
	free(payload);
	return 0;
}
