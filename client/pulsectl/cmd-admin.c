/*
 * cmd-admin.c: pulsectl's commands that end things and need root or the
 * admin group (P17): shutdown POOL, reopen POOL, leave POOL, drain
 * [--timeout], undrain.
 *
 * Owns: nothing but the mapping from a command to its library call; the
 * permission check is pulsed's (it answers PERMISSION).
 */
#include <limits.h>
#include <stdlib.h>

#include "pulsectl.h"

/* A pool command whose answer is OK or an error: one shape for all. */
static int pool_admin(struct ctl *ctl, int (*call)(pulse_client *, const char *),
                      const char *pool)
{
	int code = call(ctl->client, pool);
	if (!code)
		print_ok(ctl);
	return code;
}

int cmd_shutdown(struct ctl *ctl, int argc, char **argv)
{
	(void)argc;
	return pool_admin(ctl, pulse_shutdown, argv[0]);
}

int cmd_reopen(struct ctl *ctl, int argc, char **argv)
{
	(void)argc;
	return pool_admin(ctl, pulse_reopen, argv[0]);
}

int cmd_leave(struct ctl *ctl, int argc, char **argv)
{
	(void)argc;
	return pool_admin(ctl, pulse_leave, argv[0]);
}

int cmd_drain(struct ctl *ctl, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	unsigned long secs = 0;
	if (ctl->timeout) {
		char *end;
		secs = strtoul(ctl->timeout, &end, 10);
		if (*ctl->timeout < '0' || *ctl->timeout > '9' || *end ||
		    secs == 0 || secs > UINT_MAX / 1000)
			return ctl_fail(ctl, PULSE_ERR_INVALID, "--timeout %s is not a "
			                "number of seconds (1 or more)", ctl->timeout);
	}
	int code = pulse_drain(ctl->client, (unsigned)secs);
	if (!code)
		print_ok(ctl);
	return code;
}

int cmd_undrain(struct ctl *ctl, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	int code = pulse_undrain(ctl->client);
	if (!code)
		print_ok(ctl);
	return code;
}
