/*
 * pulsectl.c: main() of pulsectl and its command table.
 *
 * Owns: global options (-s, --json, -H), the command table and the table
 * of command options, parsing and checking each command's options and
 * arguments against its entry, the help (`help`, `help CMD`, `CMD
 * --help`), the session to pulsed (connected before a command that needs
 * it, with the --timeout given to the library), and how a failure is
 * reported: "pulsectl: WHAT: CODE: message" on stderr, plus
 * {"ok":false,"code":...,"message":...} on stdout with --json.
 *
 * Invariants: exit status 0 on success (help included), 1 when the
 * command failed (the cause is on stderr), 2 on a usage error (what is
 * wrong, the command's usage line and where its help is, on stderr;
 * code "USAGE" with --json). The command table is the only list of
 * commands and the option table the only list of options: usage, help,
 * option checking and dispatching all read them, so a command gets its
 * help, --timeout, exit codes and JSON failure shape by its entry alone.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pulsectl.h"

enum { EXIT_FAILED = 1, EXIT_USAGE = 2 };

#define GLOBAL_SYNOPSIS "pulsectl [-s SOCKET] [--json] [-H]"

static int cmd_help(struct ctl *ctl, int argc, char **argv);

/* Every command pulsectl knows, with its code in a file per group
 * (cmd-job.c, cmd-pool.c, cmd-node.c, cmd-admin.c). args names only the
 * positional arguments: the options' synopsis comes from opts.
 *   name       args                    summary
 *   min max    options    connect  run
 *   about (the paragraph of `help NAME`) */
static const struct cmd commands[] = {
	{"status", "", "show this pulsed's node status",
	 0, 0, 0, 1, cmd_status,
	 "Show this pulsed's status: its node id, version, uptime, whether "
	 "Redis answers, its sessions, then a table with a line per pool "
	 "(state, local and pool-wide workers and jobs, jobs waiting for a "
	 "worker, lease age, Redis round trip). With --json, the status "
	 "object as pulsed reports it."},
	{"workers", "[POOL]",
	 "list a pool's workers, or every known pool's",
	 0, 1, OPT_LOCAL, 1, cmd_workers,
	 "List the workers of POOL on every node (without POOL: of every pool "
	 "this pulsed knows, with a POOL column first): their id, stable name, "
	 "node and how many jobs each runs."},
	{"nodes", "POOL", "list a pool's nodes, their lease left and workers",
	 1, 1, 0, 1, cmd_nodes,
	 "List the nodes of POOL: each node's id, the time left on its lease "
	 "(by Redis's clock) and its workers in placement (0 for a draining "
	 "node)."},
	{"jobs", "[POOL]", "list a pool's job keys, or every known pool's",
	 0, 1, OPT_WORKER | OPT_MATCH | OPT_LIMIT | OPT_COUNT, 1, cmd_jobs,
	 "List the keys of the jobs of POOL, one a line (without POOL: of "
	 "every pool this pulsed knows, with a POOL column first), as pulsed "
	 "sends them: in any order and in bounded memory whatever the pool's "
	 "size. A key that exists throughout is listed at least once."},
	{"job", "POOL KEY", "print a job's payload (exit 1 if there is no job)",
	 2, 2, 0, 1, cmd_job,
	 "Write the payload of the job KEY of POOL, byte for byte, to standard "
	 "output. When there is no such job, fail with JOB_NOT_FOUND (exit "
	 "status 1)."},
	{"where", "POOL KEY", "show which worker owns the key, or would own it",
	 2, 2, 0, 1, cmd_where,
	 "Show the worker that owns the job KEY of POOL and its node (OWNED "
	 "true), or, when there is no such job or it waits for a worker, the "
	 "worker it would be placed on now (OWNED false)."},
	{"dispatch", "POOL KEY [PAYLOAD|-]",
	 "start a job, wait until its worker started it",
	 2, 3, OPT_TIMEOUT, 1, cmd_dispatch,
	 "Start the job KEY in POOL with PAYLOAD (- reads it from standard "
	 "input; none: empty) and return once the worker that owns KEY has "
	 "accepted it in its start handler. Fails with JOB_EXISTS when the key "
	 "exists or is being dispatched, with HANDLER and the handler's text "
	 "when the worker refused it, and with TIMEOUT after --timeout (default "
	 "2 x the pool's ack grace period); after a TIMEOUT the job may still "
	 "run: `job` tells."},
	{"stop", "POOL KEY", "stop a job, wait until its worker stopped it",
	 2, 2, OPT_TIMEOUT, 1, cmd_stop,
	 "Stop the job KEY of POOL and return once its worker's stop handler "
	 "has answered. Fails with JOB_NOT_FOUND when there is no such job and "
	 "with TIMEOUT after --timeout (default 2 x the pool's ack grace "
	 "period)."},
	{"notify", "POOL KEY PAYLOAD|-",
	 "send a payload to a job's worker, wait for its answer",
	 3, 3, OPT_TIMEOUT, 1, cmd_notify,
	 "Send PAYLOAD (- reads it from standard input) to the notify handler "
	 "of the current worker of the job KEY of POOL and return its answer. "
	 "Fails with JOB_NOT_FOUND when there is no such job and with TIMEOUT "
	 "after --timeout (default 2 x the pool's ack grace period)."},
	{"send", "POOL KEY PAYLOAD|-",
	 "send a message to the worker the key is placed on (no job), print "
	 "its answer", 3, 3, OPT_TIMEOUT, 1, cmd_send,
	 "Send PAYLOAD (- reads it from standard input) as a keyed message to "
	 "the message handler of the worker that placement picks for KEY in "
	 "POOL now, and write the handler's answer, byte for byte, to standard "
	 "output. No job is created. Fails at once with UNAVAILABLE when the "
	 "pool has no worker, with NO_HANDLER when that worker takes no "
	 "messages, with HANDLER and the handler's text when it failed, with "
	 "UNAVAILABLE when the worker went away before answering (the message "
	 "is not sent again), and with TIMEOUT after --timeout (default 2 x "
	 "the pool's ack grace period)."},
	{"shutdown", "POOL",
	 "stop every job of the pool on every node and remove its state (admin)",
	 1, 1, 0, 1, cmd_shutdown,
	 "Shut POOL down on every node (root or the admin group only): every "
	 "node stops every job of the pool through its workers' stop handlers, "
	 "then the pool's state is removed from Redis. Fails with TIMEOUT, "
	 "naming the nodes, when some did not finish within the worker "
	 "shutdown TTL. Dispatches and attaches then get SHUTDOWN until the "
	 "pool is re-opened."},
	{"reopen", "POOL", "re-open a shut-down pool: every node joins it again "
	 "(admin)", 1, 1, 0, 1, cmd_reopen,
	 "Re-open the shut-down POOL (root or the admin group only): its "
	 "shutdown mark is removed from Redis and every node joins it again. "
	 "Succeeds also when the pool was not shut down."},
	{"leave", "POOL", "hand this node's jobs of the pool to other nodes and "
	 "leave it (admin)", 1, 1, 0, 1, cmd_leave,
	 "This pulsed leaves POOL (root or the admin group only): its jobs of "
	 "the pool are stopped here and started on other nodes' workers, and "
	 "its workers of that pool are let go. Using the pool again here joins "
	 "it anew."},
	{"drain", "", "hand this pulsed's jobs to other nodes "
	 "and take no new ones; workers stay attached (admin)",
	 0, 0, OPT_TIMEOUT, 1, cmd_drain,
	 "Drain this pulsed (root or the admin group only): in every pool its "
	 "workers stay attached but leave placement, its jobs are handed to "
	 "other nodes' workers and it takes no new ones. Returns once no job "
	 "runs here, or fails with TIMEOUT (naming how many remain; the drain "
	 "goes on) after --timeout (default 60 s)."},
	{"undrain", "", "take jobs again after a drain (admin)",
	 0, 0, 0, 1, cmd_undrain,
	 "End a drain (root or the admin group only): this pulsed's workers "
	 "are placed again and take jobs."},
	{"tickers", "POOL", "list a pool's tickers (interval, last tick, next)",
	 1, 1, 0, 1, cmd_tickers,
	 "List the tickers of POOL: name, interval, number of the last tick, "
	 "time until the next, whether stopped, and how many subscribers this "
	 "pulsed has."},
	{"schedules", "POOL", "list a pool's schedules (interval, last plan, "
	 "keys started)", 1, 1, 0, 1, cmd_schedules,
	 "List the schedules of POOL: name, interval, number of the last plan, "
	 "time until the next, whether stopped, producers on this pulsed, and "
	 "how many keys the schedule has started."},
	{"version", "", "print the versions of pulsectl and pulsed",
	 0, 0, 0, 0, cmd_version,
	 "Print the versions of pulsectl, of the protocol it speaks and of "
	 "pulsed with its node id (when pulsed answers; its absence is not a "
	 "failure of this command)."},
	{"help", "[COMMAND]", "print the commands, or one command's help",
	 0, 1, 0, 0, cmd_help,
	 "Without COMMAND, list the commands; with it, print its usage, what "
	 "it does and its options (as `pulsectl COMMAND --help` does)."},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

/* ---- command options --------------------------------------------------- */

/* A duration: digits, then ms, s, m or h (none: seconds), 1 ms to
 * UINT_MAX ms (the library's unit). */
static const char *set_timeout(struct ctl *ctl, const char *s)
{
	static const struct {
		const char *unit;
		unsigned long long ms;
	} units[] = {{"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60000},
	             {"h", 3600000}};
	static const char *const bad =
		"not a duration (like 500ms, 5s or 2m; a bare number is seconds)";
	unsigned long long v = 0;
	size_t n = 0;
	for (; s[n] >= '0' && s[n] <= '9'; n++) {
		v = v * 10 + (unsigned)(s[n] - '0');
		if (v > UINT_MAX)
			return "too long (at most 49 days)";
	}
	if (n == 0)
		return bad;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(s + n, units[i].unit) != 0)
			continue;
		if (v > UINT_MAX / units[i].ms)
			return "too long (at most 49 days)";
		if (v == 0)
			return "must be more than 0";
		ctl->timeout_ms = (unsigned)(v * units[i].ms);
		return NULL;
	}
	return bad;
}

static const char *set_limit(struct ctl *ctl, const char *s)
{
	char *end;
	errno = 0;
	unsigned long long n = strtoull(s, &end, 10);
	if (*s < '0' || *s > '9' || *end || errno || n == 0)
		return "not a number of keys (1 or more)";
	ctl->limit = n;
	return NULL;
}

static const char *set_worker(struct ctl *ctl, const char *s)
{
	ctl->worker = s;
	return NULL;
}

static const char *set_match(struct ctl *ctl, const char *s)
{
	ctl->match = s;
	return NULL;
}

/* Command options by name; a command accepts those in its opts. One with
 * a value (metavar not NULL) takes the next argument, or the text after
 * "=", and set checks and stores it (NULL, or why it is not one: a usage
 * error). */
static const struct opt {
	const char *name;
	unsigned bit;
	const char *metavar;
	const char *help;
	const char *(*set)(struct ctl *ctl, const char *value);
} command_options[] = {
	{"--local", OPT_LOCAL, NULL, "only the workers attached to this pulsed",
	 NULL},
	{"--worker", OPT_WORKER, "ID", "only the keys the worker ID (as workers "
	 "lists it) owns", set_worker},
	{"--match", OPT_MATCH, "GLOB", "only the keys matching GLOB (Redis's "
	 "pattern syntax: * ? [abc] \\x)", set_match},
	{"--limit", OPT_LIMIT, "N", "at most N keys of each pool", set_limit},
	{"--count", OPT_COUNT, NULL, "the number of keys of each pool instead "
	 "(a bare number for one pool)", NULL},
	{"--timeout", OPT_TIMEOUT, "DURATION", "give up after DURATION (500ms, "
	 "5s, 2m; a bare number is seconds): fail with TIMEOUT", set_timeout},
};
#define NOPTIONS (sizeof(command_options) / sizeof(command_options[0]))

/* The options every command takes after its name too. */
static const struct {
	const char *name, *help;
} common_options[] = {
	{"--json", "print the result as one JSON object (pulsectl(1))"},
	{"-H", "for scripts: no header line, fields separated by one tab"},
	{"-h, --help", "print this help"},
};

/* ---- usage and help ---------------------------------------------------- */

/* "NAME ARGS [--opt VALUE]...": the one synopsis of a command, in its
 * usage line, its help and the JSON help. */
static void synopsis(const struct cmd *cmd, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s%s%s", cmd->name, cmd->args[0] ? " " : "",
	                 cmd->args);
	for (size_t o = 0; o < NOPTIONS && n > 0 && (size_t)n < len; o++) {
		const struct opt *op = &command_options[o];
		if (cmd->opts & op->bit)
			n += snprintf(buf + n, len - (size_t)n, " [%s%s%s]", op->name,
			              op->metavar ? " " : "",
			              op->metavar ? op->metavar : "");
	}
}

/* text as lines of at most width bytes (a longer word stands alone),
 * each after indent spaces. */
static void print_wrapped(FILE *f, const char *text, int indent, size_t width)
{
	while (*text) {
		while (*text == ' ')
			text++;
		size_t n = strlen(text), cut = n;
		if (n > width) {
			for (cut = width; cut > 0 && text[cut] != ' '; cut--)
				;
			if (cut == 0)
				cut = strcspn(text, " ");
		}
		fprintf(f, "%*s%.*s\n", indent, "", (int)cut, text);
		text += cut;
	}
}

static void print_option(FILE *f, const char *name, const char *metavar,
                         const char *help)
{
	char head[64];
	snprintf(head, sizeof(head), "%s%s%s", name, metavar ? " " : "",
	         metavar ? metavar : "");
	fprintf(f, "  %-20s ", head);
	if (strlen(head) > 20)
		fprintf(f, "\n  %-20s ", "");
	/* the help column: 23 in, up to 79 wide */
	size_t n = strlen(help), cut = n;
	if (n > 56) {
		for (cut = 56; cut > 0 && help[cut] != ' '; cut--)
			;
		if (cut == 0)
			cut = n;
	}
	fprintf(f, "%.*s\n", (int)cut, help);
	if (help[cut])
		print_wrapped(f, help + cut, 23, 56);
}

/* pulsectl's usage: global options and the list of commands. */
static void usage(FILE *f)
{
	fprintf(f,
	        "usage: " GLOBAL_SYNOPSIS " COMMAND [ARG...]\n"
	        "\n"
	        "  -s, --socket SOCKET  pulsed's socket (default: $PULSE_SOCKET,\n"
	        "                       else " PULSE_DEFAULT_SOCKET ")\n"
	        "      --json           print the result as JSON\n"
	        "  -H                   no headers, tab-separated fields\n"
	        "  -h, --help           print this help\n"
	        "\n"
	        "commands:\n");
	int w = 0;
	for (size_t i = 0; i < NCOMMANDS; i++) {
		int n = (int)(strlen(commands[i].name) + 1 + strlen(commands[i].args));
		w = n > w ? n : w;
	}
	for (size_t i = 0; i < NCOMMANDS; i++) {
		char head[64];
		snprintf(head, sizeof(head), "%s %s", commands[i].name,
		         commands[i].args);
		fprintf(f, "  %-*s  %s\n", w, head, commands[i].summary);
	}
	fprintf(f, "\nA PAYLOAD of - is read from stdin; put -- before a KEY "
	           "that starts with -.\n"
	           "Run 'pulsectl help COMMAND' for a command's options.\n");
}

/* One command's help as a JSON object: name, usage, args (positional
 * synopsis), min_args, max_args, summary, description, options [{name,
 * value (null for a flag), help}]. */
static json_t *command_json(const struct cmd *cmd)
{
	char syn[256], line[300];
	synopsis(cmd, syn, sizeof(syn));
	snprintf(line, sizeof(line), GLOBAL_SYNOPSIS " %s", syn);
	json_t *opts = json_array();
	for (size_t o = 0; o < NOPTIONS; o++) {
		const struct opt *op = &command_options[o];
		if (cmd->opts & op->bit)
			json_array_append_new(
				opts, json_pack("{s:s,s:o,s:s}", "name", op->name, "value",
			                    op->metavar ? json_string(op->metavar)
			                                : json_null(),
			                    "help", op->help));
	}
	return json_pack("{s:s,s:s,s:s,s:i,s:i,s:s,s:s,s:o}", "name", cmd->name,
	                 "usage", line, "args", cmd->args, "min_args",
	                 cmd->min_args, "max_args", cmd->max_args, "summary",
	                 cmd->summary, "description",
	                 cmd->about ? cmd->about : cmd->summary, "options", opts);
}

/* `help` (cmd NULL: every command) or `help CMD`, on stdout: for people,
 * the usage or the command's usage, paragraph and options; -H one line a
 * command: NAME, synopsis, its options' names, summary (what the shell
 * completions read); --json {"commands": [command_json...], "ok": true}. */
static int print_help(const struct ctl *ctl, const struct cmd *cmd)
{
	size_t from = cmd ? (size_t)(cmd - commands) : 0;
	size_t to = cmd ? from + 1 : NCOMMANDS;
	if (ctl->json) {
		json_t *list = json_array();
		for (size_t i = from; i < to; i++)
			json_array_append_new(list, command_json(&commands[i]));
		print_ok_object(json_pack("{s:o}", "commands", list));
	} else if (ctl->bare) {
		for (size_t i = from; i < to; i++) {
			char syn[256];
			synopsis(&commands[i], syn, sizeof(syn));
			printf("%s\t%s\t", commands[i].name, syn);
			for (size_t o = 0, k = 0; o < NOPTIONS; o++)
				if (commands[i].opts & command_options[o].bit)
					printf("%s%s", k++ ? " " : "", command_options[o].name);
			printf("\t%s\n", commands[i].summary);
		}
	} else if (!cmd) {
		usage(stdout);
	} else {
		char syn[256];
		synopsis(cmd, syn, sizeof(syn));
		printf("usage: " GLOBAL_SYNOPSIS " %s\n\n", syn);
		print_wrapped(stdout, cmd->about ? cmd->about : cmd->summary, 0, 72);
		printf("\noptions:\n");
		for (size_t o = 0; o < NOPTIONS; o++)
			if (cmd->opts & command_options[o].bit)
				print_option(stdout, command_options[o].name,
				             command_options[o].metavar,
				             command_options[o].help);
		for (size_t o = 0; o < sizeof(common_options) / sizeof(common_options[0]);
		     o++)
			print_option(stdout, common_options[o].name, NULL,
			             common_options[o].help);
	}
	return 0;
}

static const struct cmd *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static int cmd_help(struct ctl *ctl, int argc, char **argv)
{
	const struct cmd *cmd = NULL;
	if (argc == 1 && !(cmd = find_command(argv[0])))
		return ctl_usage(ctl, "no command '%s'", argv[0]);
	return print_help(ctl, cmd);
}

/* A usage error, the one report for all of them: what is wrong, the
 * usage line of cmd (or of pulsectl) and where the help is, on stderr;
 * {"ok":false,"code":"USAGE","message":...} on stdout with --json.
 * Returns EXIT_USAGE. */
static int usage_error(const struct ctl *ctl, const struct cmd *cmd,
                       const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int usage_error(const struct ctl *ctl, const struct cmd *cmd,
                       const char *fmt, ...)
{
	char msg[512], syn[256] = "COMMAND [ARG...]";
	int n = cmd ? snprintf(msg, sizeof(msg), "%s: ", cmd->name) : 0;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	if (cmd)
		synopsis(cmd, syn, sizeof(syn));
	fprintf(stderr, "pulsectl: %s\nusage: " GLOBAL_SYNOPSIS " %s\n"
	        "Try 'pulsectl help%s%s'.\n", msg, syn, cmd ? " " : "",
	        cmd ? cmd->name : "");
	if (ctl->json) {
		json_t *j = json_pack("{s:b,s:s}", "ok", 0, "code", "USAGE");
		json_object_set_new(j, "message", json_text(msg, strlen(msg)));
		json_print(j);
	}
	fflush(stdout);
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

int ctl_usage(struct ctl *ctl, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ctl->msg, sizeof(ctl->msg), fmt, ap);
	va_end(ap);
	ctl->usage = 1;
	return PULSE_ERR_INVALID;
}

/* The session, with --timeout (0 when not given) as the timeout of the
 * requests that take one: every command with OPT_TIMEOUT gets it here. */
pulse_client *ctl_client(struct ctl *ctl)
{
	if (!ctl->client) {
		ctl->client = pulse_connect(ctl->socket, &ctl->connect_code,
		                            ctl->msg, sizeof(ctl->msg));
		pulse_set_request_timeout(ctl->client, ctl->timeout_ms);
	}
	return ctl->client;
}

/* --json and -H anywhere before "--" (before the command or after it),
 * known before anything else so that a usage error and the help print
 * in the form asked for. */
static void output_flags(struct ctl *ctl, int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--json") == 0)
			ctl->json = 1;
		else if (strcmp(argv[i], "-H") == 0)
			ctl->bare = 1;
	}
}

/* Whether a command's arguments ask for its help (-h, --help before
 * "--"): that wins over anything wrong with the others. */
static int asks_help(int argc, char **argv)
{
	for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return 1;
	return 0;
}

/* Sort a command's arguments: its options (and --json / -H, accepted
 * after the command too) set flags or values, checked here, the rest are
 * moved to the front of argv in order. "--" ends the options, so that a
 * key may start with -. Returns the number of positional arguments, or
 * -1 after a usage error was printed. */
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
		if (strcmp(a, "--json") == 0 || strcmp(a, "-H") == 0)
			continue; /* output_flags() took them */
		const char *eq = strchr(a, '=');
		size_t len = eq ? (size_t)(eq - a) : strlen(a), o = 0;
		while (o < NOPTIONS && (strncmp(command_options[o].name, a, len) != 0 ||
		                        command_options[o].name[len] != 0))
			o++;
		if (o == NOPTIONS || !(cmd->opts & command_options[o].bit) ||
		    (eq && !command_options[o].metavar)) {
			usage_error(ctl, cmd, "unknown option %s", a);
			return -1;
		}
		const struct opt *op = &command_options[o];
		ctl->opts |= op->bit;
		if (!op->metavar)
			continue;
		if (!eq && i + 1 >= argc) {
			usage_error(ctl, cmd, "option %s needs a value (%s)", a,
			            op->metavar);
			return -1;
		}
		const char *value = eq ? eq + 1 : argv[++i];
		const char *why = op->set(ctl, value);
		if (why) {
			usage_error(ctl, cmd, "%s %s: %s", op->name, value, why);
			return -1;
		}
	}
	if (n < cmd->min_args || n > cmd->max_args) {
		usage_error(ctl, cmd, "%s arguments (%d given)",
		            n < cmd->min_args ? "missing" : "too many", n);
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
	output_flags(&ctl, argc, argv);
	opterr = 0; /* usage_error says it, without argv[0]'s path */
	while ((c = getopt_long(argc, argv, "+:s:Hh", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			ctl.socket = optarg;
			break;
		case 'j':
		case 'H':
			break; /* output_flags() took them */
		case 'h':
			return print_help(&ctl, NULL);
		case ':':
			return usage_error(&ctl, NULL, "option %s needs an argument",
			                   argv[optind - 1]);
		default:
			return usage_error(&ctl, NULL, "unknown option %s",
			                   argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return usage_error(&ctl, NULL, "no command given");
	const struct cmd *cmd = find_command(argv[optind]);
	if (!cmd)
		return usage_error(&ctl, NULL, "unknown command '%s'", argv[optind]);
	char **args = argv + optind + 1;
	if (asks_help(argc - optind - 1, args))
		return print_help(&ctl, cmd);
	int nargs = parse_args(&ctl, cmd, argc - optind - 1, args);
	if (nargs < 0)
		return EXIT_USAGE;
	describe(&ctl, cmd, nargs, args);

	int code = 0, report_usage = 0;
	if (cmd->connect && !ctl_client(&ctl))
		code = ctl.connect_code;
	if (!code)
		code = cmd->run(&ctl, nargs, args);
	if (code && ctl.usage)
		report_usage = 1;
	else if (code)
		report(&ctl, code);
	pulse_close(ctl.client);
	if (report_usage)
		return usage_error(&ctl, cmd, "%s", ctl.msg);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "pulsectl: writing the output: %s\n", strerror(errno));
		return EXIT_FAILED;
	}
	return code ? EXIT_FAILED : 0;
}
