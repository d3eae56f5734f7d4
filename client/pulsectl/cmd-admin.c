/*
 * cmd-admin.c: pulsectl's commands that end things and need root or the
 * admin group (P17): shutdown POOL, reopen POOL, leave POOL, drain
 * [--timeout DURATION], undrain.
 *
 * Owns: nothing but the mapping from a command to its library call; the
 * permission check is pulsed's (it answers PERMISSION).
 */
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

/* --timeout reaches pulsed as the DRAIN's timeout through the session
 * (ctl_client), as it does for every command that takes it. */
int cmd_drain(struct ctl *ctl, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	int code = pulse_drain(ctl->client, 0);
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
