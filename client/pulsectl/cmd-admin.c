/*
 * cmd-admin.c: pulsectl's commands that end things and need root or the
 * admin group (P17): shutdown POOL, leave POOL.
 *
 * Owns: nothing but the mapping from a command to its library call; the
 * permission check is pulsed's (it answers PERMISSION).
 */
#include "pulsectl.h"

int cmd_shutdown(struct ctl *ctl, int argc, char **argv)
{
	(void)argc;
	int code = pulse_shutdown(ctl->client, argv[0]);
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
