/*
 * cmd-pool.c: pulsectl's pool commands: workers (pool-wide, or --local for
 * those attached to this pulsed), nodes, and where a key runs.
 *
 * Owns: the workers view (ID NAME NODE JOBS), the nodes view (NODE
 * LEASE_MS WORKERS) and the where view (WORKER NODE OWNED).
 *
 * Invariants: the cells handed to the view point into the library's
 * worker list and a buffer of formatted counts, both alive until the view
 * is printed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pulsectl.h"

/* Append the rows of one pool's workers, POOL cell first, to rows. */
static int add_workers(struct ctl *ctl, const char *pool, struct cells *rows)
{
	pulse_worker_info *w;
	size_t n;
	int code = pulse_pool_workers(ctl->client, pool,
	                              (ctl->opts & OPT_LOCAL) != 0, &w, &n);
	if (code)
		return code;
	for (size_t i = 0; i < n && !code; i++) {
		char num[24];
		snprintf(num, sizeof(num), "%" PRIu64, w[i].jobs);
		if (cells_add(rows, strdup(pool)) < 0 ||
		    cells_add(rows, strdup(w[i].id)) < 0 ||
		    cells_add(rows, strdup(w[i].name)) < 0 ||
		    cells_add(rows, strdup(w[i].node)) < 0 ||
		    cells_add(rows, strdup(num)) < 0)
			code = ctl_fail(ctl, PULSE_ERR_INVALID, "out of memory");
	}
	pulse_free_workers(w, n);
	return code;
}

/* workers POOL: the pool's workers; workers (no POOL): every pool this
 * pulsed knows, with a POOL column (in JSON always: one shape). */
int cmd_workers(struct ctl *ctl, int argc, char **argv)
{
	static const struct col cols[] = {
		{"POOL", "pool", COL_TEXT},
		{"ID", "id", COL_TEXT},
		{"NAME", "name", COL_TEXT},
		{"NODE", "node", COL_TEXT},
		{"JOBS", "jobs", COL_COUNT},
	};
	const int all = argc == 0;
	const struct view view = {"workers", cols, 5, all ? 0 : 1, 0};
	struct cells pools = {0}, rows = {0};
	int code = all ? ctl_pool_names(ctl, &pools) : add_workers(ctl, argv[0],
	                                                          &rows);
	for (size_t p = 0; all && !code && p < pools.n; p++)
		code = add_workers(ctl, pools.v[p], &rows);
	if (!code)
		view_print(ctl, &view, (const char *const *)rows.v,
		           rows.n / view.ncols);
	cells_free(&pools);
	cells_free(&rows);
	return code;
}

int cmd_nodes(struct ctl *ctl, int argc, char **argv)
{
	static const struct col cols[] = {
		{"NODE", "node", COL_TEXT},
		{"LEASE_MS", "lease_ms", COL_COUNT},
		{"WORKERS", "workers", COL_COUNT},
	};
	static const struct view view = {"nodes", cols, 3, 0, 0};
	enum { NCOLS = 3, NUMLEN = 24 };
	(void)argc;
	pulse_node_info *nd;
	size_t n;
	int code = pulse_pool_nodes(ctl->client, argv[0], &nd, &n);
	if (code)
		return code;
	const char **cells = calloc(n * NCOLS + 1, sizeof(*cells));
	char *nums = calloc(2 * n + 1, NUMLEN);
	if (!cells || !nums) {
		code = ctl_fail(ctl, PULSE_ERR_INVALID, "out of memory");
	} else {
		for (size_t i = 0; i < n; i++) {
			char *lease = nums + 2 * i * NUMLEN, *workers = lease + NUMLEN;
			snprintf(lease, NUMLEN, "%" PRIu64, nd[i].lease_ms);
			snprintf(workers, NUMLEN, "%" PRIu64, nd[i].workers);
			const char *row[NCOLS] = {nd[i].node, lease, workers};
			for (size_t c = 0; c < NCOLS; c++)
				cells[i * NCOLS + c] = row[c];
		}
		view_print(ctl, &view, cells, n);
	}
	free(cells);
	free(nums);
	pulse_free_nodes(nd, n);
	return code;
}

/* One row: the worker, its node, and whether it owns the job now (else it
 * is where the job would go). */
int cmd_where(struct ctl *ctl, int argc, char **argv)
{
	static const struct col cols[] = {
		{"WORKER", "worker", COL_TEXT},
		{"NODE", "node", COL_TEXT},
		{"OWNED", "owned", COL_BOOL},
	};
	static const struct view view = {"where", cols, 3, 0, 0};
	(void)argc;
	char *worker, *node;
	int owned;
	int code = pulse_where(ctl->client, argv[0], argv[1], &worker, &node,
	                       &owned);
	if (code)
		return code;
	const char *cells[3] = {worker, node, owned ? "true" : "false"};
	view_print(ctl, &view, cells, 1);
	free(worker);
	free(node);
	return 0;
}
