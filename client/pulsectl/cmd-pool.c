/*
 * cmd-pool.c: pulsectl's pool commands: workers (pool-wide, or --local for
 * those attached to this pulsed). Later pool commands (where, drain,
 * undrain, shutdown, leave) belong here too.
 *
 * Owns: the workers view (ID NAME NODE JOBS).
 *
 * Invariants: the cells handed to the view point into the library's
 * worker list and a buffer of formatted counts, both alive until the view
 * is printed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "pulsectl.h"

int cmd_workers(struct ctl *ctl, int argc, char **argv)
{
	static const struct col cols[] = {
		{"ID", "id", COL_TEXT},
		{"NAME", "name", COL_TEXT},
		{"NODE", "node", COL_TEXT},
		{"JOBS", "jobs", COL_COUNT},
	};
	static const struct view view = {"workers", cols, 4, 0, 0};
	enum { NCOLS = 4, NUMLEN = 24 };
	(void)argc;
	pulse_worker_info *w;
	size_t n;
	int code = pulse_pool_workers(ctl->client, argv[0],
	                              (ctl->opts & OPT_LOCAL) != 0, &w, &n);
	if (code)
		return code;
	const char **cells = calloc(n * NCOLS + 1, sizeof(*cells));
	char *nums = calloc(n + 1, NUMLEN);
	if (!cells || !nums) {
		code = ctl_fail(ctl, PULSE_ERR_INVALID, "out of memory");
	} else {
		for (size_t i = 0; i < n; i++) {
			char *num = nums + i * NUMLEN;
			snprintf(num, NUMLEN, "%" PRIu64, w[i].jobs);
			const char *row[NCOLS] = {w[i].id, w[i].name, w[i].node, num};
			for (size_t c = 0; c < NCOLS; c++)
				cells[i * NCOLS + c] = row[c];
		}
		view_print(ctl, &view, cells, n);
	}
	free(cells);
	free(nums);
	pulse_free_workers(w, n);
	return code;
}
