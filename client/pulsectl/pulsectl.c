/*
 * pulsectl.c: main() of pulsectl and its command table.
 *
 * Owns: global options (-s, --json, -H), the command table, parsing of
 * each command's options and arguments against its table entry, usage
 * text, the session to pulsed (connected before a command that needs it),
 * and how a failure is reported: "pulsectl: WHAT: CODE: message" on
 * stderr, plus {"ok":false,"code":...,"message":...} on stdout with --json.
 *
 * Invariants: exit status 0 on success, 1 when the command failed (the
 * cause is on stderr), 2 on a usage error (usage on stderr). The command
 * table is the only list of commands: usage, help and dispatching all
 * read it.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pulsectl.h"

enum { EXIT_FAILED = 1, EXIT_USAGE = 2 };

static int cmd_help(struct ctl *ctl, int argc, char **argv);

/* Every command pulsectl knows. Later ones (tickers, schedules) are one
 * entry each here, with their code in a file per group (cmd-node.c,
 * cmd-admin.c, cmd-ticker.c).
 *   name       args                    summary
 *   min max    options    connect  run */
static const struct cmd commands[] = {
	{"status", "", "show this pulsed's node status",
	 0, 0, 0, 1, cmd_status},
	{"workers", "[POOL] [--local]",
	 "list a pool's workers, or every known pool's (--local: those of "
	 "this pulsed)", 0, 1, OPT_LOCAL, 1, cmd_workers},
	{"nodes", "POOL", "list a pool's nodes, their lease left and workers",
	 1, 1, 0, 1, cmd_nodes},
	{"jobs", "[POOL] [--worker ID] [--match GLOB] [--limit N] [--count]",
	 "list a pool's job keys, or every known pool's (--worker: those the "
	 "worker owns; --match: those matching GLOB; --limit: at most N a "
	 "pool; --count: how many)", 0, 1,
	 OPT_WORKER | OPT_MATCH | OPT_LIMIT | OPT_COUNT, 1, cmd_jobs},
	{"job", "POOL KEY", "print a job's payload (exit 1 if there is no job)",
	 2, 2, 0, 1, cmd_job},
	{"where", "POOL KEY", "show which worker owns the key, or would own it",
	 2, 2, 0, 1, cmd_where},
	{"dispatch", "POOL KEY [PAYLOAD|-]",
	 "start a job, wait until its worker started it",
	 2, 3, 0, 1, cmd_dispatch},
	{"stop", "POOL KEY", "stop a job, wait until its worker stopped it",
	 2, 2, 0, 1, cmd_stop},
	{"notify", "POOL KEY PAYLOAD|-",
	 "send a payload to a job's worker, wait for its answer",
	 3, 3, 0, 1, cmd_notify},
	{"send", "POOL KEY PAYLOAD|-",
	 "send a message to the worker the key is placed on (no job), print "
	 "its answer", 3, 3, 0, 1, cmd_send},
	{"shutdown", "POOL",
	 "stop every job of the pool on every node and remove its state (admin)",
	 1, 1, 0, 1, cmd_shutdown},
	{"reopen", "POOL", "re-open a shut-down pool: every node joins it again "
	 "(admin)", 1, 1, 0, 1, cmd_reopen},
	{"leave", "POOL", "hand this node's jobs of the pool to other nodes and "
	 "leave it (admin)", 1, 1, 0, 1, cmd_leave},
	{"drain", "[--timeout SECONDS]", "hand this pulsed's jobs to other nodes "
	 "and take no new ones; workers stay attached (admin)",
	 0, 0, OPT_TIMEOUT, 1, cmd_drain},
	{"undrain", "", "take jobs again after a drain (admin)",
	 0, 0, 0, 1, cmd_undrain},
	{"tickers", "POOL", "list a pool's tickers (interval, last tick, next)",
	 1, 1, 0, 1, cmd_tickers},
	{"schedules", "POOL", "list a pool's schedules (interval, last plan, "
	 "keys started)", 1, 1, 0, 1, cmd_schedules},
	{"version", "", "print the versions of pulsectl and pulsed",
	 0, 0, 0, 0, cmd_version},
	{"help", "", "print this help",
	 0, 0, 0, 0, cmd_help},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

/* Command options by name; a command accepts those in its opts. One
 * with a value (the next argument) stores it at its offset in ctl. */
static const struct {
	const char *name;
	unsigned bit;
	size_t value; /* offsetof(struct ctl, ...), or 0: a flag */
} command_options[] = {
	{"--local", OPT_LOCAL, 0},
	{"--worker", OPT_WORKER, offsetof(struct ctl, worker)},
	{"--timeout", OPT_TIMEOUT, offsetof(struct ctl, timeout)},
	{"--limit", OPT_LIMIT, offsetof(struct ctl, limit)},
	{"--match", OPT_MATCH, offsetof(struct ctl, match)},
	{"--count", OPT_COUNT, 0},
};
#define NOPTIONS (sizeof(command_options) / sizeof(command_options[0]))

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: pulsectl [-s SOCKET] [--json] [-H] COMMAND [ARG...]\n"
	        "\n"
	        "  -s, --socket SOCKET  pulsed's socket (default: $PULSE_SOCKET,\n"
	        "                       else " PULSE_DEFAULT_SOCKET ")\n"
	        "      --json           print the result as JSON\n"
	        "  -H                   no headers, tab-separated fields\n"
	        "  -h, --help           print this help\n"
	        "\n"
	        "commands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++) {
		char head[64];
		snprintf(head, sizeof(head), "%s %s", commands[i].name,
		         commands[i].args);
		fprintf(f, "  %-30s %s\n", head, commands[i].summary);
	}
	fprintf(f, "\nA PAYLOAD of - is read from stdin; put -- before a KEY "
	           "that starts with -.\n");
}

static int cmd_help(struct ctl *ctl, int argc, char **argv)
{
	(void)ctl;
	(void)argc;
	(void)argv;
	usage(stdout);
	return 0;
}

/* A usage error: the reason, then the usage of cmd (or of pulsectl). */
static int usage_error(const struct cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int usage_error(const struct cmd *cmd, const char *fmt, ...)
{
	va_list ap;
	fputs("pulsectl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n", stderr);
	if (cmd)
		fprintf(stderr, "usage: pulsectl [-s SOCKET] [--json] [-H] %s %s\n",
		        cmd->name, cmd->args);
	else
		usage(stderr);
	return EXIT_USAGE;
}

int ctl_fail(struct ctl *ctl, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ctl->msg, sizeof(ctl->msg), fmt, ap);
	va_end(ap);
	return code;
}

pulse_client *ctl_client(struct ctl *ctl)
{
	if (!ctl->client)
		ctl->client = pulse_connect(ctl->socket, &ctl->connect_code,
		                            ctl->msg, sizeof(ctl->msg));
	return ctl->client;
}

static const struct cmd *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* Sort a command's arguments: its options (and --json / -H, accepted
 * after the command too) set flags, the rest are moved to the front of
 * argv in order. "--" ends the options, so that a key may start with -.
 * Returns the number of positional arguments, or -1 after a usage error
 * was printed. */
static int parse_args(struct ctl *ctl, const struct cmd *cmd, int argc,
                      char **argv)
{
	int n = 0, options = 1;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (!options || a[0] != '-' || a[1] == 0) {
			argv[n++] = argv[i];
			continue;
		}
		if (strcmp(a, "--") == 0) {
			options = 0;
			continue;
		}
		if (strcmp(a, "--json") == 0) {
			ctl->json = 1;
			continue;
		}
		if (strcmp(a, "-H") == 0) {
			ctl->bare = 1;
			continue;
		}
		size_t o = 0;
		while (o < NOPTIONS && strcmp(command_options[o].name, a) != 0)
			o++;
		if (o == NOPTIONS || !(cmd->opts & command_options[o].bit)) {
			usage_error(cmd, "%s: unknown option %s", cmd->name, a);
			return -1;
		}
		ctl->opts |= command_options[o].bit;
		if (command_options[o].value) {
			if (i + 1 >= argc) {
				usage_error(cmd, "%s: option %s needs a value", cmd->name,
				            a);
				return -1;
			}
			*(const char **)((char *)ctl + command_options[o].value) =
				argv[++i];
		}
	}
	if (n < cmd->min_args || n > cmd->max_args) {
		usage_error(cmd, "%s: %s arguments", cmd->name,
		            n < cmd->min_args ? "missing" : "too many");
		return -1;
	}
	return n;
}

/* What a failure line names: the command and its POOL/KEY. */
static void describe(struct ctl *ctl, const struct cmd *cmd, int argc,
                     char **argv)
{
	int n = snprintf(ctl->what, sizeof(ctl->what), "%s", cmd->name);
	for (int i = 0; i < argc && i < 2 && n > 0 && (size_t)n < sizeof(ctl->what);
	     i++)
		n += snprintf(ctl->what + n, sizeof(ctl->what) - (size_t)n, "%c%s",
		              i ? '/' : ' ', argv[i]);
}

static void report(const struct ctl *ctl, int code)
{
	const char *msg = ctl->msg[0] || !ctl->client ? ctl->msg
	                                              : pulse_errmsg(ctl->client);
	fprintf(stderr, "pulsectl: %s: %s: %s\n", ctl->what, pulse_strerror(code),
	        msg);
	if (ctl->json && !ctl->json_reported) {
		json_t *j = json_object();
		json_object_set_new(j, "ok", json_false());
		json_object_set_new(j, "code", json_string(pulse_strerror(code)));
		json_object_set_new(j, "message", json_text(msg, strlen(msg)));
		json_print(j);
	}
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"socket", required_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct ctl ctl = {0};
	int c;
	opterr = 0; /* usage_error says it, without argv[0]'s path */
	while ((c = getopt_long(argc, argv, "+:s:Hh", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			ctl.socket = optarg;
			break;
		case 'j':
			ctl.json = 1;
			break;
		case 'H':
			ctl.bare = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			return usage_error(NULL, "option %s needs an argument",
			                   argv[optind - 1]);
		default:
			return usage_error(NULL, "unknown option %s", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return usage_error(NULL, "no command given");
	const struct cmd *cmd = find_command(argv[optind]);
	if (!cmd)
		return usage_error(NULL, "unknown command '%s'", argv[optind]);
	char **args = argv + optind + 1;
	int nargs = parse_args(&ctl, cmd, argc - optind - 1, args);
	if (nargs < 0)
		return EXIT_USAGE;
	describe(&ctl, cmd, nargs, args);

	int code = 0;
	if (cmd->connect && !ctl_client(&ctl))
		code = ctl.connect_code;
	if (!code)
		code = cmd->run(&ctl, nargs, args);
	if (code)
		report(&ctl, code);
	pulse_close(ctl.client);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "pulsectl: writing the output: %s\n", strerror(errno));
		return EXIT_FAILED;
	}
	return code ? EXIT_FAILED : 0;
}
