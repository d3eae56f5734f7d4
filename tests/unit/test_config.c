/*
 * test_config.c: the configuration file (daemon/config.c) and the logger
 * (daemon/log.c).
 *
 * Checks the defaults, the documented example, every error path (with the
 * exact file:line and dotted key path it must name), the Redis URL forms
 * and password sources, durations, the pool fallback, the dump, and that
 * the logger writes one well-formed line per event in both formats.
 *
 * Invariants: tests touch only a private mkdtemp directory and
 * environment variables named PULSE_TEST_*; every config is freed.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>

#include "config.h"
#include "log.h"

#define NAME "pulsed.conf"

/* The example of the brief, with the password taken from a file only
 * (the brief lists both password sources; they are exclusive). */
static const char example_fmt[] =
	"{\n"
	"  \"socket\":  { \"path\": \"/run/pulsed/pulsed.sock\", \"group\": \"pulsed\", "
	"\"mode\": \"0660\", \"admin_group\": \"pulsed-admin\", \"max_sessions\": 1024 },\n"
	"  \"redis\":   { \"url\": \"redis://127.0.0.1:6379/0\", \"password_file\": "
	"\"%s\", \"prefix\": \"pulse\" },\n"
	"  \"node\":    { \"id\": \"host-a\" },\n"
	"  \"log\":     { \"level\": \"info\", \"format\": \"text\" },\n"
	"  \"limits\":  { \"max_payload\": 1048576, \"max_peer_buffer\": 16777216 },\n"
	"  \"metrics\": { \"listen\": \"127.0.0.1:9464\" },\n"
	"  \"pools\": {\n"
	"    \"*\":    { \"worker_ttl\": \"10s\", \"worker_shutdown_ttl\": \"2m\", "
	"\"ack_grace_period\": \"20s\", \"pending_job_ttl\": \"20s\", "
	"\"max_queued_jobs\": 1000, \"job_sink_block\": \"5s\" },\n"
	"    \"jobs\": { \"worker_ttl\": \"2s\" }\n"
	"  }\n"
	"}\n";

/* A private directory for files the tests write (config, password). */
static char tmpdir[64];

static void make_tmpdir(void)
{
	strcpy(tmpdir, "/tmp/test_config.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

static void write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(text, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

static int parse(config *c, const char *text, char *err, size_t errlen)
{
	return config_parse(c, text, strlen(text), NAME, err, errlen);
}

/* Parse text that must be valid. */
static void parse_ok(config *c, const char *text)
{
	char err[512] = "";
	int rc = parse(c, text, err, sizeof(err));
	ck_assert_msg(rc == 0, "unexpected error: %s", err);
}

/* Parse text that must fail with a message starting with want (which
 * names the file, the line and the key). The struct must come back
 * zeroed. */
static void parse_err(const char *text, const char *want)
{
	config c, zero;
	char err[512] = "";
	memset(&zero, 0, sizeof(zero));
	int rc = parse(&c, text, err, sizeof(err));
	ck_assert_msg(rc == -1, "accepted: %s", text);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0,
	              "error \"%s\" does not start with \"%s\"", err, want);
	ck_assert(memcmp(&c, &zero, sizeof(c)) == 0);
	config_free(&c);
}

/* Parse {"redis": {"url": URL}} and return the config. */
static void parse_url(config *c, const char *url)
{
	char text[512];
	snprintf(text, sizeof(text), "{\"redis\": {\"url\": \"%s\"}}", url);
	parse_ok(c, text);
}

static void seed_opts_check(const pool_opts *o)
{
	ck_assert_uint_eq(o->worker_ttl_ms, 10000);
	ck_assert_uint_eq(o->worker_shutdown_ttl_ms, 120000);
	ck_assert_uint_eq(o->ack_grace_ms, 20000);
	ck_assert_uint_eq(o->pending_job_ttl_ms, 20000);
	ck_assert_uint_eq(o->max_queued_jobs, 1000);
	ck_assert_uint_eq(o->sink_block_ms, 5000);
}

static void defaults_check(const config *c)
{
	ck_assert_str_eq(c->socket_path, "/run/pulsed/pulsed.sock");
	ck_assert_ptr_null(c->socket_group);
	ck_assert_uint_eq(c->socket_mode, 0660);
	ck_assert_ptr_null(c->admin_group);
	ck_assert_uint_eq(c->max_sessions, 1024);
	ck_assert_ptr_null(c->redis_url);
	ck_assert_ptr_null(c->redis_password);
	ck_assert_str_eq(c->key_prefix, "pulse");
	ck_assert_ptr_null(c->redis_host);
	ck_assert_int_eq(c->redis_port, 6379);
	ck_assert_ptr_null(c->redis_unix);
	ck_assert_ptr_null(c->redis_user);
	ck_assert_int_eq(c->redis_db, 0);
	ck_assert_ptr_null(c->node_id);
	ck_assert_int_eq(c->log_level, LOG_INFO);
	ck_assert_int_eq(c->log_format, LOG_TEXT);
	ck_assert_uint_eq(c->max_payload, 1048576);
	ck_assert_uint_eq(c->max_peer_buffer, 16777216);
	ck_assert_ptr_null(c->metrics_listen);
	ck_assert_uint_eq(c->npools, 0);
	ck_assert_int_eq(c->any_pool, 1);
	seed_opts_check(&c->default_opts);
}

/* ---- defaults and the example ------------------------------------------ */

START_TEST(test_defaults)
{
	config c;
	config_defaults(&c);
	defaults_check(&c);
	ck_assert_ptr_null(c.path);
	config_free(&c);
}
END_TEST

START_TEST(test_empty_object_is_defaults)
{
	config c;
	parse_ok(&c, "{}");
	defaults_check(&c);
	config_free(&c);
	parse_ok(&c, "{\"socket\": {}, \"redis\": {}, \"node\": {}, \"log\": {}, "
	             "\"limits\": {}, \"metrics\": {}}");
	defaults_check(&c);
	config_free(&c);
}
END_TEST

START_TEST(test_example)
{
	char pw[128], text[2048];
	config c;
	make_tmpdir();
	snprintf(pw, sizeof(pw), "%s/redis.pass", tmpdir);
	write_file(pw, "s3cret\n", 7);
	snprintf(text, sizeof(text), example_fmt, pw);
	parse_ok(&c, text);

	ck_assert_str_eq(c.socket_path, "/run/pulsed/pulsed.sock");
	ck_assert_str_eq(c.socket_group, "pulsed");
	ck_assert_uint_eq(c.socket_mode, 0660);
	ck_assert_str_eq(c.admin_group, "pulsed-admin");
	ck_assert_uint_eq(c.max_sessions, 1024);
	ck_assert_str_eq(c.redis_url, "redis://127.0.0.1:6379/0");
	ck_assert_str_eq(c.redis_host, "127.0.0.1");
	ck_assert_int_eq(c.redis_port, 6379);
	ck_assert_int_eq(c.redis_db, 0);
	ck_assert_ptr_null(c.redis_unix);
	ck_assert_ptr_null(c.redis_user);
	ck_assert_str_eq(c.redis_password, "s3cret");
	ck_assert_str_eq(c.key_prefix, "pulse");
	ck_assert_str_eq(c.node_id, "host-a");
	ck_assert_int_eq(c.log_level, LOG_INFO);
	ck_assert_int_eq(c.log_format, LOG_TEXT);
	ck_assert_uint_eq(c.max_payload, 1048576);
	ck_assert_uint_eq(c.max_peer_buffer, 16777216);
	ck_assert_str_eq(c.metrics_listen, "127.0.0.1:9464");
	ck_assert_int_eq(c.any_pool, 1);
	seed_opts_check(&c.default_opts);
	ck_assert_uint_eq(c.npools, 1);
	ck_assert_str_eq(c.pools[0].name, "jobs");
	ck_assert_uint_eq(c.pools[0].opts.worker_ttl_ms, 2000);
	ck_assert_uint_eq(c.pools[0].opts.worker_shutdown_ttl_ms, 120000);
	ck_assert_uint_eq(c.pools[0].opts.max_queued_jobs, 1000);
	config_free(&c);
	remove_tmpdir();
}
END_TEST

/* The brief's example verbatim names both password_file and password_env:
 * the sources are exclusive, and the error names the second one. */
START_TEST(test_example_two_password_sources)
{
	parse_err("{\n"
	          "  \"redis\": { \"url\": \"redis://127.0.0.1:6379/0\",\n"
	          "    \"password_file\": \"/etc/pulsed/redis.pass\",\n"
	          "    \"password_env\": \"PULSE_REDIS_PASSWORD\", \"prefix\": \"pulse\" }\n"
	          "}\n",
	          NAME ":4: redis.password_env: give the password in only one of");
	parse_err("{\"redis\": {\"url\": \"redis://:pw@h\",\n"
	          "\"password_file\": \"/nonexistent\"}}",
	          NAME ":2: redis.password_file: give the password in only one of");
}
END_TEST

START_TEST(test_load_file)
{
	char path[128], err[512];
	config c;
	make_tmpdir();
	snprintf(path, sizeof(path), "%s/pulsed.conf", tmpdir);
	const char *good = "{\"log\": {\"level\": \"debug\", \"format\": \"json\"}}";
	write_file(path, good, strlen(good));
	ck_assert_int_eq(config_load(&c, path, err, sizeof(err)), 0);
	ck_assert_str_eq(c.path, path);
	ck_assert_int_eq(c.log_level, LOG_DEBUG);
	ck_assert_int_eq(c.log_format, LOG_JSON);
	config_free(&c);

	/* errors name the path as given */
	const char *bad = "{\n\"log\": {\"level\": \"loud\"}}";
	write_file(path, bad, strlen(bad));
	ck_assert_int_eq(config_load(&c, path, err, sizeof(err)), -1);
	char want[256];
	snprintf(want, sizeof(want), "%s:2: log.level: expected one of", path);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
	ck_assert_ptr_null(c.socket_path);

	snprintf(path, sizeof(path), "%s/missing.conf", tmpdir);
	ck_assert_int_eq(config_load(&c, path, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "cannot read"));
	ck_assert_ptr_nonnull(strstr(err, "missing.conf"));
	ck_assert_int_eq(config_load(&c, tmpdir, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "cannot read"));
	/* a zero-length error buffer is allowed */
	ck_assert_int_eq(config_load(&c, path, NULL, 0), -1);
	remove_tmpdir();
}
END_TEST

/* ---- errors name key and line ------------------------------------------ */

START_TEST(test_unknown_keys)
{
	parse_err("{\n\"colour\": 1\n}", NAME ":2: colour: unknown key");
	parse_err("{\n  \"socket\": {\n    \"path\": \"/x\",\n"
	          "    \"colour\": \"red\"\n  }\n}",
	          NAME ":4: socket.colour: unknown key");
	parse_err("{\"socket\": {\"path\": \"/x\"},\n\"redis\": {\"password\": \"x\"}}",
	          NAME ":2: redis.password: unknown key");
	parse_err("{\"pools\": {\n\"jobs\": {\n\"worker_ttl\": \"2s\",\n"
	          "\"retries\": 3}}}",
	          NAME ":4: pools.jobs.retries: unknown key");
	parse_err("{\"pools\": {\"*\": {\"ttl\": \"2s\"}}}",
	          NAME ":1: pools.*.ttl: unknown key");
}
END_TEST

START_TEST(test_wrong_types)
{
	/* a string expected */
	parse_err("{\n\"socket\": {\"path\": 5}}",
	          NAME ":2: socket.path: expected a string");
	parse_err("{\"node\": {\n\"id\": true}}", NAME ":2: node.id: expected a string");
	/* null is "unset" only for keys whose default is unset */
	parse_err("{\"socket\": {\"path\": null}}",
	          NAME ":1: socket.path: expected a string");
	/* a number expected */
	parse_err("{\"socket\": {\n\"mode\": \"0660\",\n\"max_sessions\": \"10\"}}",
	          NAME ":3: socket.max_sessions: expected an integer");
	parse_err("{\"limits\": {\"max_payload\": 1.5}}",
	          NAME ":1: limits.max_payload: expected an integer");
	parse_err("{\"pools\": {\"a\": {\n\"max_queued_jobs\": \"7\"}}}",
	          NAME ":2: pools.a.max_queued_jobs: expected an integer");
	/* an object expected */
	parse_err("{\n\n\"socket\": \"/run/x.sock\"}", NAME ":3: socket: expected an object");
	parse_err("{\"pools\": [1]}", NAME ":1: pools: expected an object");
	parse_err("{\"pools\": {\n\"jobs\": \"fast\"}}",
	          NAME ":2: pools.jobs: expected an object");
	parse_err("{\"pools\": {\n\"*\": 1}}", NAME ":2: pools.*: expected an object");
	/* the top level */
	parse_err("[1, 2]", NAME ":1: the top level must be an object");
	parse_err("\n\n  []", NAME ":3: the top level must be an object");
}
END_TEST

START_TEST(test_bad_values)
{
	parse_err("{\"pools\": {\n\"jobs\": {\n\"worker_ttl\": 10}}}",
	          NAME ":3: pools.jobs.worker_ttl: expected a duration like \"10s\"");
	parse_err("{\"pools\": {\"jobs\": {\"worker_ttl\": \"10\"}}}",
	          NAME ":1: pools.jobs.worker_ttl: expected a duration like \"10s\"");
	parse_err("{\"pools\": {\"jobs\": {\"worker_ttl\": \"99ms\"}}}",
	          NAME ":1: pools.jobs.worker_ttl: must be from 100ms to 24h");
	parse_err("{\"pools\": {\"jobs\": {\"pending_job_ttl\": \"0s\"}}}",
	          NAME ":1: pools.jobs.pending_job_ttl: must be from 1ms to 24h");
	parse_err("{\"pools\": {\"*\": {\"job_sink_block\": \"25h\"}}}",
	          NAME ":1: pools.*.job_sink_block: must be from 1ms to 24h");
	parse_err("{\"pools\": {\"a\": {\"max_queued_jobs\": 0}}}",
	          NAME ":1: pools.a.max_queued_jobs: must be from 1 to");
	parse_err("{\"pools\": {\"a\": {\"max_queued_jobs\": -5}}}",
	          NAME ":1: pools.a.max_queued_jobs: must be from 1 to");
	/* mode */
	parse_err("{\"socket\": {\"mode\": \"0668\"}}",
	          NAME ":1: socket.mode: expected an octal mode like \"0660\"");
	parse_err("{\"socket\": {\"mode\": \"1777\"}}",
	          NAME ":1: socket.mode: must be at most 0777");
	parse_err("{\"socket\": {\"mode\": 432}}",
	          NAME ":1: socket.mode: expected an octal mode");
	parse_err("{\"socket\": {\"mode\": \"\"}}", NAME ":1: socket.mode: expected an octal mode");
	parse_err("{\"socket\": {\"mode\": \"-660\"}}", NAME ":1: socket.mode: expected an octal mode");
	/* ranges */
	parse_err("{\"socket\": {\"max_sessions\": 0}}",
	          NAME ":1: socket.max_sessions: must be from 1 to 65536");
	parse_err("{\"socket\": {\"max_sessions\": 65537}}",
	          NAME ":1: socket.max_sessions: must be from 1 to 65536");
	parse_err("{\"limits\": {\"max_payload\": 67108865}}",
	          NAME ":1: limits.max_payload: must be from 1 to 67108864");
	parse_err("{\"limits\": {\"max_payload\": 0}}",
	          NAME ":1: limits.max_payload: must be from 1 to 67108864");
	parse_err("{\"limits\": {\"max_peer_buffer\": 65535}}",
	          NAME ":1: limits.max_peer_buffer: must be at least 65536");
	/* the largest frame must fit in a peer's output buffer */
	parse_err("{\"limits\": {\"max_payload\": 1048576, \"max_peer_buffer\": 1114115}}",
	          NAME ":1: limits.max_peer_buffer: must be at least limits.max_payload"
	          " + 65540 (1114116), the largest frame");
	/* names and strings */
	parse_err("{\"redis\": {\"prefix\": \"my prefix\"}}",
	          NAME ":1: redis.prefix: expected 1 to 64 characters");
	parse_err("{\"redis\": {\"prefix\": \"\"}}", NAME ":1: redis.prefix: must not be empty");
	parse_err("{\"redis\": {\"prefix\": "
	          "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}}",
	          NAME ":1: redis.prefix: expected 1 to 64 characters");
	parse_err("{\"node\": {\"id\": \"host/a\"}}", NAME ":1: node.id: expected 1 to 128");
	parse_err("{\"socket\": {\"group\": \"\"}}", NAME ":1: socket.group: must not be empty");
	parse_err("{\"socket\": {\"path\": \"/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}}",
	          NAME ":1: socket.path: a socket path must be shorter than 108 bytes");
	parse_err("{\"log\": {\"level\": \"INFO\"}}", NAME ":1: log.level: expected one of");
	parse_err("{\"log\": {\"format\": \"xml\"}}",
	          NAME ":1: log.format: expected \"text\" or \"json\"");
	/* metrics.listen */
	parse_err("{\"metrics\": {\"listen\": \"127.0.0.1\"}}",
	          NAME ":1: metrics.listen: missing port: expected \"host:port\"");
	parse_err("{\"metrics\": {\"listen\": \"127.0.0.1:0\"}}", NAME ":1: metrics.listen: the port");
	parse_err("{\"metrics\": {\"listen\": \":9464\"}}", NAME ":1: metrics.listen: missing host");
	parse_err("{\"metrics\": {\"listen\": \"::1:9464\"}}", NAME ":1: metrics.listen: missing host");
	parse_err("{\"metrics\": {\"listen\": \"[::1]9464\"}}", NAME ":1: metrics.listen: malformed host");
	/* pool names */
	parse_err("{\"pools\": {\n\"bad name\": {}}}", NAME ":2: pools.bad name: a pool name is");
	parse_err("{\"pools\": {\"\": {}}}", NAME ":1: pools.: a pool name is");
}
END_TEST

START_TEST(test_syntax_errors)
{
	parse_err("{\n\"socket\": {\n}\n,}", NAME ":4:");
	parse_err("", NAME ":");
	parse_err("{\"log\": {\"level\": \"info\"}} trailing", NAME ":1:");
	/* duplicate keys, at any depth */
	parse_err("{\"log\": {},\n\"log\": {}}", NAME ":2:");
	parse_err("{\"pools\": {\"a\": {\"worker_ttl\": \"1s\", \"worker_ttl\": \"2s\"}}}",
	          NAME ":1:");
	char err[512];
	config c;
	ck_assert_int_eq(parse(&c, "{\"a\": 1, \"a\": 2}", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "duplicate"));
	/* a NUL byte inside the text is not the end of it */
	ck_assert_int_eq(config_parse(&c, "{}\0{", 4, NAME, err, sizeof(err)), -1);
}
END_TEST

/* The line finder follows object keys exactly: same-named keys elsewhere,
 * strings holding braces, quotes and escapes, arrays and escaped keys do
 * not mislead it. */
START_TEST(test_line_finder)
{
	parse_err("{\n"
	          "  \"socket\": {\"path\": \"/a{b}[c]\\\"d\\\\\", \"group\": \"x\"},\n"
	          "  \"pools\": {\n"
	          "    \"path\": {\"worker_ttl\": \"1s\"},\n"
	          "    \"jobs\": {\n"
	          "      \"worker_ttl\": \"1s\",\n"
	          "      \"path\": 1\n"
	          "    }\n"
	          "  }\n"
	          "}\n",
	          NAME ":7: pools.jobs.path: unknown key");
	/* a key spelt with escapes is found by its decoded name */
	parse_err("{\n\"\\u0073ocket\": {\n\"\\u0063olour\": 1}}",
	          NAME ":3: socket.colour: unknown key");
	/* non-ASCII keys, written raw and as a surrogate pair */
	parse_err("{\"pools\": {\n\"jobs\": {\n\"caf\\u00e9\": 1}}}",
	          NAME ":3: pools.jobs.caf\xc3\xa9: unknown key");
	parse_err("{\"pools\": {\n\"jobs\": {\n\"\\ud83d\\ude00\": 1}}}",
	          NAME ":3: pools.jobs.\xf0\x9f\x98\x80: unknown key");
	/* an unknown key holding nested arrays and objects, then the error
	 * after it (the first unknown key is the one reported) */
	parse_err("{\"node\": {},\n\"x\": [[{\"a\": \"]\"}], {\"b\": [\n]}],\n\"y\": 1}",
	          NAME ":2: x: unknown key");
	parse_err("{\"pools\": {\"a\": {\"max_queued_jobs\": 5}, \"b\": {\n\n"
	          "\"max_queued_jobs\": [1, {\"c\": \"\\n\"}]}}}",
	          NAME ":3: pools.b.max_queued_jobs: expected an integer");
	/* CRLF line ends and tabs */
	parse_err("{\r\n\t\"log\": {\r\n\t\t\"level\": 3\r\n\t}\r\n}\r\n",
	          NAME ":3: log.level: expected one of");
	/* all on one line */
	parse_err("{\"socket\": {\"mode\": \"9\"}, \"log\": {\"level\": \"x\"}}",
	          NAME ":1: socket.mode:");
}
END_TEST

/* ---- Redis URL and passwords ------------------------------------------- */

START_TEST(test_redis_url_tcp)
{
	config c;
	parse_url(&c, "redis://127.0.0.1:6379/0");
	ck_assert_str_eq(c.redis_host, "127.0.0.1");
	ck_assert_int_eq(c.redis_port, 6379);
	ck_assert_int_eq(c.redis_db, 0);
	ck_assert_ptr_null(c.redis_user);
	ck_assert_ptr_null(c.redis_password);
	ck_assert_ptr_null(c.redis_unix);
	config_free(&c);

	parse_url(&c, "redis://redis.example.com");
	ck_assert_str_eq(c.redis_host, "redis.example.com");
	ck_assert_int_eq(c.redis_port, 6379);
	ck_assert_int_eq(c.redis_db, 0);
	config_free(&c);

	parse_url(&c, "redis://h:7000/");
	ck_assert_str_eq(c.redis_host, "h");
	ck_assert_int_eq(c.redis_port, 7000);
	config_free(&c);

	parse_url(&c, "redis://h/15");
	ck_assert_int_eq(c.redis_port, 6379);
	ck_assert_int_eq(c.redis_db, 15);
	config_free(&c);

	parse_url(&c, "redis://alice:p%40ss:w@h:6380/2");
	ck_assert_str_eq(c.redis_user, "alice");
	ck_assert_str_eq(c.redis_password, "p@ss:w");
	ck_assert_str_eq(c.redis_host, "h");
	ck_assert_int_eq(c.redis_port, 6380);
	ck_assert_int_eq(c.redis_db, 2);
	config_free(&c);

	parse_url(&c, "redis://:secret@h");
	ck_assert_ptr_null(c.redis_user);
	ck_assert_str_eq(c.redis_password, "secret");
	config_free(&c);

	parse_url(&c, "redis://bob@h");
	ck_assert_str_eq(c.redis_user, "bob");
	ck_assert_ptr_null(c.redis_password);
	config_free(&c);

	parse_url(&c, "redis://[::1]:6390/3");
	ck_assert_str_eq(c.redis_host, "::1");
	ck_assert_int_eq(c.redis_port, 6390);
	ck_assert_int_eq(c.redis_db, 3);
	config_free(&c);

	parse_url(&c, "redis://u:pw@[fe80::1]");
	ck_assert_str_eq(c.redis_host, "fe80::1");
	ck_assert_int_eq(c.redis_port, 6379);
	ck_assert_str_eq(c.redis_password, "pw");
	config_free(&c);
}
END_TEST

START_TEST(test_redis_url_unix)
{
	config c;
	parse_url(&c, "unix:///run/redis/redis.sock");
	ck_assert_str_eq(c.redis_unix, "/run/redis/redis.sock");
	ck_assert_ptr_null(c.redis_host);
	ck_assert_int_eq(c.redis_db, 0);
	config_free(&c);

	parse_url(&c, "unix:///tmp/r.sock?db=7");
	ck_assert_str_eq(c.redis_unix, "/tmp/r.sock");
	ck_assert_int_eq(c.redis_db, 7);
	config_free(&c);

	/* an ACL user over the Unix socket (issue 17 item 5) */
	parse_url(&c, "unix://al%40ice:s3%2Fcret@/tmp/r.sock?db=2");
	ck_assert_str_eq(c.redis_unix, "/tmp/r.sock");
	ck_assert_str_eq(c.redis_user, "al@ice");
	ck_assert_str_eq(c.redis_password, "s3/cret");
	ck_assert_int_eq(c.redis_db, 2);
	char *dump = config_dump(&c);
	ck_assert_ptr_null(strstr(dump, "s3"));
	ck_assert_ptr_nonnull(strstr(dump, "unix://al%40ice:***@/tmp/r.sock?db=2"));
	free(dump);
	config_free(&c);

	parse_ok(&c, "{\"redis\": {\"url\": null}}");
	ck_assert_ptr_null(c.redis_url);
	config_free(&c);
}
END_TEST

/* rediss:// and redis.tls (issue 18 item 1): the URL as redis://, the
 * section only with it, files that can be opened, a certificate with its
 * key; a reload names the section's keys as needing a restart. */
START_TEST(test_redis_tls)
{
	config c;
	parse_url(&c, "rediss://alice:pw@redis.example:6390/3");
	ck_assert_int_eq(c.redis_tls, 1);
	ck_assert_str_eq(c.redis_host, "redis.example");
	ck_assert_int_eq(c.redis_port, 6390);
	ck_assert_int_eq(c.redis_db, 3);
	ck_assert_str_eq(c.redis_user, "alice");
	ck_assert_ptr_null(c.tls_ca_file);
	ck_assert_int_eq(c.tls_insecure, 0);
	char *dump = config_dump(&c);
	ck_assert_ptr_nonnull(strstr(dump, "rediss://alice:***@redis.example:6390/3"));
	ck_assert_ptr_nonnull(strstr(dump, "\"insecure_skip_verify\": false"));
	free(dump);
	config_free(&c);

	parse_url(&c, "redis://h");
	ck_assert_int_eq(c.redis_tls, 0);
	config_free(&c);

	parse_ok(&c, "{\"redis\": {\"url\": \"rediss://h\", \"tls\": {"
	             "\"ca_file\": \"/dev/null\", \"ca_dir\": \"/\", "
	             "\"cert_file\": \"/dev/null\", \"key_file\": \"/dev/null\", "
	             "\"server_name\": \"redis.internal\", "
	             "\"insecure_skip_verify\": true}}}");
	ck_assert_str_eq(c.tls_ca_file, "/dev/null");
	ck_assert_str_eq(c.tls_ca_dir, "/");
	ck_assert_str_eq(c.tls_server_name, "redis.internal");
	ck_assert_int_eq(c.tls_insecure, 1);
	/* the dump loads again, with the same values */
	dump = config_dump(&c);
	config c2;
	parse_ok(&c2, dump);
	ck_assert_str_eq(c2.tls_key_file, "/dev/null");
	ck_assert_int_eq(c2.tls_insecure, 1);
	free(dump);
	/* a reload: none of them takes effect before a restart */
	free(c2.tls_server_name);
	c2.tls_server_name = strdup("other");
	c2.tls_insecure = 0;
	struct reload_note rn;
	config_reload(&c, &c2, &rn);
	ck_assert_str_eq(rn.fixed, "redis.tls.server_name, "
	                 "redis.tls.insecure_skip_verify");
	ck_assert_str_eq(rn.applied, "");
	ck_assert_str_eq(c.tls_server_name, "redis.internal");
	config_free(&c2);
	config_free(&c);

	/* the null and false a dump of a plain config holds are "not set" */
	parse_ok(&c, "{\"redis\": {\"url\": \"redis://h\", \"tls\": {"
	             "\"ca_file\": null, \"insecure_skip_verify\": false}}}");
	config_free(&c);

	parse_err("{\"redis\": {\"url\": \"redis://h\", \"tls\": {\n"
	          "\"ca_file\": \"/dev/null\"}}}",
	          NAME ":2: redis.tls.ca_file: TLS options need a rediss:// "
	          "redis.url (it is not rediss://)");
	parse_err("{\"redis\": {\"tls\": {\"insecure_skip_verify\": true}}}",
	          NAME ":1: redis.tls.insecure_skip_verify: TLS options need a "
	          "rediss:// redis.url (it is not set)");
	parse_err("{\"redis\": {\"url\": \"rediss://h\", \"tls\": {"
	          "\"key_file\": \"/dev/null\"}}}",
	          NAME ":1: redis.tls.key_file: a client certificate needs both");
	parse_err("{\"redis\": {\"url\": \"rediss://h\", \"tls\": {"
	          "\"ca_file\": \"/nonexistent/ca.pem\"}}}",
	          NAME ":1: redis.tls.ca_file: cannot use /nonexistent/ca.pem: "
	          "No such file or directory");
	parse_err("{\"redis\": {\"url\": \"rediss://h\", \"tls\": {"
	          "\"ca_dir\": \"/dev/null\"}}}",
	          NAME ":1: redis.tls.ca_dir: /dev/null is not a directory");
	parse_err("{\"redis\": {\"url\": \"rediss://h\", \"tls\": {"
	          "\"cert_file\": \"/\", \"key_file\": \"/dev/null\"}}}",
	          NAME ":1: redis.tls.cert_file: / is a directory");
	parse_err("{\"redis\": {\"url\": \"rediss://h\", \"tls\": {"
	          "\"insecure_skip_verify\": 1}}}",
	          NAME ":1: redis.tls.insecure_skip_verify: expected true or false");
	parse_err("{\"redis\": {\"url\": \"rediss://h\", \"tls\": {"
	          "\"server_name\": \"\"}}}",
	          NAME ":1: redis.tls.server_name: must not be empty");
	parse_err("{\"redis\": {\"url\": \"rediss://h\", \"tls\": {"
	          "\"verify\": false}}}",
	          NAME ":1: redis.tls.verify: unknown key");
}
END_TEST

START_TEST(test_redis_url_errors)
{
	static const struct {
		const char *url, *want;
	} bad[] = {
		{"http://h", "expected redis://"},
		{"127.0.0.1:6379", "expected redis://"},
		{"rediss://", "missing host"},
		{"redis://", "missing host"},
		{"redis:///3", "missing host"},
		{"redis://h:0", "the port must be"},
		{"redis://h:65536", "the port must be"},
		{"redis://h:x", "the port must be"},
		{"redis://h:", "the port must be"},
		{"redis://h/x", "expected \"/DB\""},
		{"redis://h/1/2", "expected \"/DB\""},
		{"redis://h?db=1", "expected \"/DB\""},
		{"redis://h/-1", "expected \"/DB\""},
		{"redis://h/99999999999", "expected \"/DB\""},
		{"redis://::1:6379", "missing host"},
		{"redis://[::1", "missing ']'"},
		{"redis://[::g]", "malformed IPv6"},
		{"redis://h h", "malformed host"},
		{"redis://u:@h", "the password after ':' is empty"},
		{"redis://u:p%zz@h", "malformed %-escape"},
		{"redis://u:p%00@h", "malformed %-escape"},
		{"redis://u:p%4@h", "malformed %-escape"},
		{"unix://relative/path", "expected unix://[user:password@]/absolute/path"},
		{"unix://u:@/p", "the password after ':' is empty"},
		{"unix://u:p@relative", "expected unix://[user:password@]/absolute/path"},
		{"unix:///p?foo=1", "the only query parameter is db=N"},
		{"unix:///p?db=", "the only query parameter is db=N"},
		{"unix:///p?db=x", "the only query parameter is db=N"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[256], want[256];
		snprintf(text, sizeof(text), "{\n\"redis\": {\n\"url\": \"%s\"}}", bad[i].url);
		snprintf(want, sizeof(want), NAME ":3: redis.url: %s", bad[i].want);
		parse_err(text, want);
	}
	char longurl[256] = "unix:///";
	memset(longurl + 8, 'a', 120);
	longurl[128] = '\0';
	char text[512];
	snprintf(text, sizeof(text), "{\"redis\": {\"url\": \"%s\"}}", longurl);
	parse_err(text, NAME ":1: redis.url: a socket path must be shorter");
	parse_err("{\"redis\": {\"url\": 6379}}", NAME ":1: redis.url: expected a string");
}
END_TEST

START_TEST(test_password_file)
{
	char pw[128], text[512];
	config c;
	make_tmpdir();
	snprintf(pw, sizeof(pw), "%s/pass", tmpdir);
	snprintf(text, sizeof(text),
	         "{\"redis\": {\"url\": \"redis://alice@h\",\n\"password_file\": \"%s\"}}",
	         pw);

	write_file(pw, "hunter2", 7); /* no newline */
	parse_ok(&c, text);
	ck_assert_str_eq(c.redis_password, "hunter2");
	ck_assert_str_eq(c.redis_user, "alice");
	config_free(&c);

	write_file(pw, "hunter2\r\n", 9);
	parse_ok(&c, text);
	ck_assert_str_eq(c.redis_password, "hunter2");
	config_free(&c);

	write_file(pw, "two\n\n", 5); /* only one newline is stripped */
	parse_ok(&c, text);
	ck_assert_str_eq(c.redis_password, "two\n");
	config_free(&c);

	write_file(pw, "\n", 1);
	parse_err(text, NAME ":2: redis.password_file: ");
	write_file(pw, "a\0b", 3);
	parse_err(text, NAME ":2: redis.password_file: ");

	unlink(pw);
	parse_err(text, NAME ":2: redis.password_file: cannot read");
	/* a password without a URL is kept (for the Redis a wrapper names) */
	write_file(pw, "x\n", 2);
	snprintf(text, sizeof(text), "{\"redis\": {\"password_file\": \"%s\"}}", pw);
	parse_ok(&c, text);
	ck_assert_str_eq(c.redis_password, "x");
	config_free(&c);
	remove_tmpdir();
}
END_TEST

START_TEST(test_password_env)
{
	config c;
	const char *text = "{\"redis\": {\"url\": \"unix:///r.sock\",\n"
	                   "\"password_env\": \"PULSE_TEST_PW\"}}";
	setenv("PULSE_TEST_PW", "from-env", 1);
	parse_ok(&c, text);
	ck_assert_str_eq(c.redis_password, "from-env");
	ck_assert_str_eq(c.redis_unix, "/r.sock");
	config_free(&c);

	setenv("PULSE_TEST_PW", "", 1);
	parse_err(text, NAME ":2: redis.password_env: the environment variable "
	                "PULSE_TEST_PW is empty");
	unsetenv("PULSE_TEST_PW");
	parse_err(text, NAME ":2: redis.password_env: the environment variable "
	                "PULSE_TEST_PW is not set");
	setenv("PULSE_TEST_PW", "x", 1);
	parse_err("{\"redis\": {\"url\": \"redis://:a@h\", \"password_env\": "
	          "\"PULSE_TEST_PW\"}}",
	          NAME ":1: redis.password_env: give the password in only one of");
	unsetenv("PULSE_TEST_PW");
}
END_TEST

/* ---- durations, pools, levels, dump ------------------------------------ */

START_TEST(test_durations)
{
	static const struct {
		const char *s;
		uint64_t ms;
	} good[] = {
		{"250ms", 250},   {"10s", 10000},       {"2m", 120000},
		{"1h", 3600000},  {"0s", 0},            {"007s", 7000},
		{"18446744073709551615ms", UINT64_MAX}, {"5124095576030h", 5124095576030ull * 3600000},
	};
	static const char *const bad[] = {
		"", "10", "s", "ms", "10x", "10 s", " 10s", "10s ", "1.5s", "-1s", "+1s",
		"10S", "10sec", "1d", "10ms5", "18446744073709551616ms",
		"18446744073709552s", "5124095576031h", "0x10s",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		uint64_t ms = 1;
		ck_assert_msg(config_parse_duration(good[i].s, &ms) == 0, "%s", good[i].s);
		ck_assert_uint_eq(ms, good[i].ms);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t ms = 42;
		ck_assert_msg(config_parse_duration(bad[i], &ms) == -1, "\"%s\"", bad[i]);
		ck_assert_uint_eq(ms, 42);
	}
	uint64_t ms;
	ck_assert_int_eq(config_parse_duration(NULL, &ms), -1);
}
END_TEST

START_TEST(test_config_pool)
{
	config c;
	/* no "pools": every pool, seed defaults */
	parse_ok(&c, "{}");
	ck_assert_ptr_eq(config_pool(&c, "anything"), &c.default_opts);
	seed_opts_check(config_pool(&c, "anything"));
	config_free(&c);

	/* "*" plus one pool: it inherits what it does not set */
	parse_ok(&c, "{\"pools\": {\"jobs\": {\"max_queued_jobs\": 5},"
	             "\"*\": {\"worker_ttl\": \"3s\", \"ack_grace_period\": \"1s\"}}}");
	ck_assert_int_eq(c.any_pool, 1);
	ck_assert_uint_eq(c.npools, 1);
	const pool_opts *o = config_pool(&c, "jobs");
	ck_assert_ptr_eq(o, &c.pools[0].opts);
	ck_assert_uint_eq(o->max_queued_jobs, 5);
	ck_assert_uint_eq(o->worker_ttl_ms, 3000);
	ck_assert_uint_eq(o->ack_grace_ms, 1000);
	ck_assert_uint_eq(o->pending_job_ttl_ms, 20000);
	o = config_pool(&c, "other");
	ck_assert_ptr_eq(o, &c.default_opts);
	ck_assert_uint_eq(o->worker_ttl_ms, 3000);
	ck_assert_uint_eq(o->max_queued_jobs, 1000);
	config_free(&c);

	/* listed pools only: no "*" */
	parse_ok(&c, "{\"pools\": {\"a\": {}, \"b\": {\"worker_ttl\": \"100ms\"}}}");
	ck_assert_int_eq(c.any_pool, 0);
	ck_assert_uint_eq(c.npools, 2);
	ck_assert_str_eq(c.pools[0].name, "a");
	ck_assert_str_eq(c.pools[1].name, "b");
	seed_opts_check(config_pool(&c, "a"));
	ck_assert_uint_eq(config_pool(&c, "b")->worker_ttl_ms, 100);
	ck_assert_ptr_null(config_pool(&c, "c"));
	ck_assert_ptr_null(config_pool(&c, "*"));
	ck_assert_ptr_null(config_pool(&c, NULL));
	config_free(&c);

	/* an empty "pools": no pool is accepted */
	parse_ok(&c, "{\"pools\": {}}");
	ck_assert_int_eq(c.any_pool, 0);
	ck_assert_ptr_null(config_pool(&c, "a"));
	config_free(&c);

	ck_assert_ptr_null(config_pool(NULL, "a"));
}
END_TEST

START_TEST(test_nullable_and_misc)
{
	config c;
	parse_ok(&c, "{\"socket\": {\"group\": null, \"admin_group\": \"wheel\", "
	             "\"mode\": \"600\"}, \"node\": {\"id\": null}, "
	             "\"metrics\": {\"listen\": \"[::1]:9464\"}, "
	             "\"redis\": {\"prefix\": \"a.b_c:d-1\"}}");
	ck_assert_ptr_null(c.socket_group);
	ck_assert_str_eq(c.admin_group, "wheel");
	ck_assert_uint_eq(c.socket_mode, 0600);
	ck_assert_ptr_null(c.node_id);
	ck_assert_str_eq(c.metrics_listen, "[::1]:9464");
	ck_assert_str_eq(c.key_prefix, "a.b_c:d-1");
	config_free(&c);
	parse_ok(&c, "{\"socket\": {\"mode\": \"0\"}, \"limits\": {\"max_payload\": 67108864,"
	             " \"max_peer_buffer\": 67174404}, \"metrics\": {\"listen\": \"localhost:1\"}}");
	ck_assert_uint_eq(c.socket_mode, 0);
	ck_assert_uint_eq(c.max_payload, 64u << 20);
	ck_assert_uint_eq(c.max_peer_buffer, (64u << 20) + 65540);
	config_free(&c);
	config_free(NULL);
}
END_TEST

START_TEST(test_level_names)
{
	static const char *const names[] = {"debug", "info", "warn", "error"};
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(log_level_from_name(names[i]), LOG_DEBUG + i);
		ck_assert_str_eq(log_level_name(LOG_DEBUG + i), names[i]);
	}
	ck_assert_int_eq(log_level_from_name("verbose"), -1);
	ck_assert_int_eq(log_level_from_name("INFO"), -1);
	ck_assert_int_eq(log_level_from_name("warning"), -1);
	ck_assert_int_eq(log_level_from_name(""), -1);
	ck_assert_int_eq(log_level_from_name(NULL), -1);
	ck_assert_str_eq(log_level_name(-1), "unknown");
	ck_assert_str_eq(log_level_name(4), "unknown");
	/* config.c reads log.level through the same names */
	config c;
	for (int i = 0; i < 4; i++) {
		char text[64];
		snprintf(text, sizeof(text), "{\"log\": {\"level\": \"%s\"}}", names[i]);
		parse_ok(&c, text);
		ck_assert_int_eq(c.log_level, LOG_DEBUG + i);
		config_free(&c);
	}
}
END_TEST

static json_t *dump_json(const config *c)
{
	char *s = config_dump(c);
	ck_assert_ptr_nonnull(s);
	json_error_t je;
	json_t *j = json_loads(s, 0, &je);
	ck_assert_msg(j != NULL, "dump is not JSON: %s", je.text);
	free(s);
	return j;
}

START_TEST(test_dump_defaults)
{
	config c;
	config_defaults(&c);
	json_t *j = dump_json(&c);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "socket"), "mode")),
	                 "0660");
	ck_assert(json_is_null(json_object_get(json_object_get(j, "redis"), "url")));
	ck_assert_ptr_null(json_object_get(json_object_get(j, "redis"), "password"));
	ck_assert_ptr_null(json_object_get(json_object_get(j, "redis"), "password_file"));
	json_t *star = json_object_get(json_object_get(j, "pools"), "*");
	ck_assert_str_eq(json_string_value(json_object_get(star, "worker_shutdown_ttl")), "2m");
	ck_assert_str_eq(json_string_value(json_object_get(star, "job_sink_block")), "5s");
	ck_assert_int_eq(json_integer_value(json_object_get(star, "max_queued_jobs")), 1000);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "log"), "level")),
	                 "info");
	json_decref(j);
	config_free(&c);
}
END_TEST

/* The dump masks the password and is itself a config that loads to the
 * same values (with the URL's password put back): no key of its own. */
START_TEST(test_dump_round_trip)
{
	config c, back;
	parse_ok(&c, "{\"redis\": {\"url\": \"redis://alice:s3cret@h:7000/4\", "
	             "\"prefix\": \"p\"},"
	             " \"log\": {\"format\": \"json\", \"level\": \"warn\"},"
	             " \"socket\": {\"mode\": \"0600\", \"group\": \"g\"},"
	             " \"pools\": {\"jobs\": {\"worker_ttl\": \"250ms\", "
	             "\"pending_job_ttl\": \"90s\"}}}");
	char *s = config_dump(&c);
	ck_assert_ptr_nonnull(s);
	ck_assert_ptr_null(strstr(s, "s3cret"));
	json_t *j = json_loads(s, 0, NULL);
	free(s);
	json_t *r = json_object_get(j, "redis");
	ck_assert_str_eq(json_string_value(json_object_get(r, "url")),
	                 "redis://alice:***@h:7000/4");
	ck_assert_ptr_null(json_object_get(r, "password"));
	json_t *jobs = json_object_get(json_object_get(j, "pools"), "jobs");
	ck_assert_str_eq(json_string_value(json_object_get(jobs, "worker_ttl")), "250ms");
	ck_assert_str_eq(json_string_value(json_object_get(jobs, "pending_job_ttl")), "90s");
	ck_assert_ptr_null(json_object_get(json_object_get(j, "pools"), "*"));

	json_object_set_new(r, "url", json_string("redis://alice:s3cret@h:7000/4"));
	char *again = json_dumps(j, 0);
	json_decref(j);
	parse_ok(&back, again);
	free(again);
	ck_assert_str_eq(back.redis_password, "s3cret");
	ck_assert_str_eq(back.redis_user, "alice");
	ck_assert_int_eq(back.redis_db, 4);
	ck_assert_int_eq(back.log_format, LOG_JSON);
	ck_assert_int_eq(back.log_level, LOG_WARN);
	ck_assert_uint_eq(back.socket_mode, 0600);
	ck_assert_int_eq(back.any_pool, 0);
	ck_assert_uint_eq(back.npools, 1);
	ck_assert_uint_eq(back.pools[0].opts.worker_ttl_ms, 250);
	ck_assert_uint_eq(back.pools[0].opts.pending_job_ttl_ms, 90000);
	config_free(&back);
	config_free(&c);
}
END_TEST

/* ---- the logger --------------------------------------------------------- */

/* Run one log call into a pipe and return what it wrote (NUL-terminated,
 * caller frees). */
static char *capture(int level, int format, int msg_level, const char *fmt,
                     const char *arg)
{
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
	logger lg;
	log_init(&lg, level, format);
	ck_assert_int_eq(lg.fd, 2);
	lg.fd = p[1];
	plog(&lg, msg_level, fmt, arg);
	char *buf = malloc(65536);
	ssize_t n = read(p[0], buf, 65535);
	buf[n > 0 ? n : 0] = '\0';
	close(p[0]);
	close(p[1]);
	return buf;
}

static void check_ts(const char *ts)
{
	/* 2026-11-28T12:00:00.123Z */
	ck_assert_uint_eq(strlen(ts), 24);
	ck_assert_int_eq(ts[4], '-');
	ck_assert_int_eq(ts[10], 'T');
	ck_assert_int_eq(ts[19], '.');
	ck_assert_int_eq(ts[23], 'Z');
}

START_TEST(test_log_json)
{
	char *line = capture(LOG_INFO, LOG_JSON, LOG_WARN, "peer %s said \"hi\"\n\x01",
	                     "uid=0 \xc3\xa9 \xff\xfe tab\t");
	size_t n = strlen(line);
	ck_assert_uint_gt(n, 0);
	ck_assert_int_eq(line[n - 1], '\n');
	ck_assert_ptr_null(memchr(line, '\n', n - 1)); /* one line */
	json_error_t je;
	json_t *j = json_loads(line, 0, &je);
	ck_assert_msg(j != NULL, "not JSON: %s: %s", je.text, line);
	ck_assert_uint_eq(json_object_size(j), 3);
	check_ts(json_string_value(json_object_get(j, "ts")));
	ck_assert_str_eq(json_string_value(json_object_get(j, "level")), "warn");
	ck_assert_str_eq(json_string_value(json_object_get(j, "msg")),
	                 "peer uid=0 \xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd tab\t said "
	                 "\"hi\"\n\x01");
	json_decref(j);
	free(line);
}
END_TEST

START_TEST(test_log_text)
{
	char *line = capture(LOG_DEBUG, LOG_TEXT, LOG_ERROR, "two\nlines %s", "\x1b[0m");
	ck_assert_uint_eq(strlen(line), 24 + strlen(" error: two\\nlines \\x1b[0m\n"));
	ck_assert_str_eq(line + 24, " error: two\\nlines \\x1b[0m\n");
	line[24] = '\0';
	check_ts(line);
	free(line);

	line = capture(LOG_DEBUG, LOG_TEXT, LOG_DEBUG, "%s", "dbg");
	ck_assert_str_eq(line + 24, " debug: dbg\n");
	free(line);
}
END_TEST

START_TEST(test_log_filter)
{
	char *line = capture(LOG_WARN, LOG_TEXT, LOG_INFO, "%s", "hidden");
	ck_assert_str_eq(line, "");
	free(line);
	line = capture(LOG_ERROR, LOG_JSON, LOG_WARN, "%s", "hidden");
	ck_assert_str_eq(line, "");
	free(line);
	/* a closed logger is silent, not an error */
	logger lg;
	log_init(&lg, LOG_DEBUG, LOG_TEXT);
	lg.fd = -1;
	LOGE(&lg, "nowhere");
	plog(NULL, LOG_ERROR, "nowhere");
}
END_TEST

START_TEST(test_log_cut)
{
	char *big = malloc(10001);
	memset(big, 'a', 10000);
	big[10000] = '\0';
	char *line = capture(LOG_DEBUG, LOG_JSON, LOG_INFO, "%s", big);
	json_t *j = json_loads(line, 0, NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert_uint_eq(strlen(json_string_value(json_object_get(j, "msg"))), 8192);
	json_decref(j);
	free(line);

	/* the cut does not split a UTF-8 sequence */
	memset(big, 'a', 8191);
	memcpy(big + 8191, "\xc3\xa9\xc3\xa9", 5);
	line = capture(LOG_DEBUG, LOG_JSON, LOG_INFO, "%s", big);
	j = json_loads(line, 0, NULL);
	ck_assert_ptr_nonnull(j);
	const char *m = json_string_value(json_object_get(j, "msg"));
	ck_assert_uint_eq(strlen(m), 8191);
	json_decref(j);
	free(line);

	/* the worst case for escaping still fits one line */
	memset(big, '\x01', 10000);
	line = capture(LOG_DEBUG, LOG_JSON, LOG_INFO, "%s", big);
	j = json_loads(line, 0, NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert_uint_eq(strlen(json_string_value(json_object_get(j, "msg"))), 8192);
	json_decref(j);
	free(line);
	free(big);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("config");
	TCase *parse_tc = tcase_create("parse");
	tcase_add_test(parse_tc, test_defaults);
	tcase_add_test(parse_tc, test_empty_object_is_defaults);
	tcase_add_test(parse_tc, test_example);
	tcase_add_test(parse_tc, test_example_two_password_sources);
	tcase_add_test(parse_tc, test_load_file);
	tcase_add_test(parse_tc, test_nullable_and_misc);
	suite_add_tcase(s, parse_tc);

	TCase *err_tc = tcase_create("errors");
	tcase_add_test(err_tc, test_unknown_keys);
	tcase_add_test(err_tc, test_wrong_types);
	tcase_add_test(err_tc, test_bad_values);
	tcase_add_test(err_tc, test_syntax_errors);
	tcase_add_test(err_tc, test_line_finder);
	suite_add_tcase(s, err_tc);

	TCase *redis_tc = tcase_create("redis");
	tcase_add_test(redis_tc, test_redis_url_tcp);
	tcase_add_test(redis_tc, test_redis_url_unix);
	tcase_add_test(redis_tc, test_redis_url_errors);
	tcase_add_test(redis_tc, test_redis_tls);
	tcase_add_test(redis_tc, test_password_file);
	tcase_add_test(redis_tc, test_password_env);
	suite_add_tcase(s, redis_tc);

	TCase *misc_tc = tcase_create("values");
	tcase_add_test(misc_tc, test_durations);
	tcase_add_test(misc_tc, test_config_pool);
	tcase_add_test(misc_tc, test_level_names);
	tcase_add_test(misc_tc, test_dump_defaults);
	tcase_add_test(misc_tc, test_dump_round_trip);
	suite_add_tcase(s, misc_tc);

	TCase *log_tc = tcase_create("log");
	tcase_add_test(log_tc, test_log_json);
	tcase_add_test(log_tc, test_log_text);
	tcase_add_test(log_tc, test_log_filter);
	tcase_add_test(log_tc, test_log_cut);
	suite_add_tcase(s, log_tc);

	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
