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

int cmd_shutdown(struct ctl *ctl, int argc, char **argv)
{
	(void)argc;
	int code = pulse_shutdown(ctl->client, argv[0]);
	if (!code)
		print_ok(ctl);
	return code;
}

int cmd_reopen(struct ctl *ctl, int argc, char **argv)
{
	(void)argc;
	int code = pulse_reopen(ctl->client, argv[0]);
	if (!code)
		print_ok(ctl);
	return code;
}

int cmd_leave(struct ctl *ctl, int argc, char **argv)
{
	(void)argc;
	int code = pulse_leave(ctl->client, argv[0]);
	if (!code)
		print_ok(ctl);
	return code;
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
