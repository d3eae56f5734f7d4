/*
 * config.h: pulsed's configuration, parsed from a JSON file (jansson).
 *
 * Owns: the config struct, its defaults, parsing and validation. Nothing
 * else in pulsed reads the file. A config is immutable once loaded; reload
 * builds a new one and swaps it in only when it is valid.
 *
 * Invariants: every unknown key and every wrong type is an error naming
 * the key's path and its line; durations are milliseconds after parsing;
 * strings are owned by the struct (config_free releases them).
 */
#ifndef PULSED_CONFIG_H
#define PULSED_CONFIG_H

#include <stddef.h>
#include <stdint.h>

/* Per-pool options, named after the seed's NodeOptions. */
typedef struct pool_opts {
	uint64_t worker_ttl_ms;          /* 10 s: lease TTL of a node */
	uint64_t worker_shutdown_ttl_ms; /* 2 min */
	uint64_t ack_grace_ms;           /* 20 s: dispatch times out at 2x */
	uint64_t pending_job_ttl_ms;     /* 20 s: requeue delay */
	uint64_t max_queued_jobs;        /* 1000 */
	uint64_t sink_block_ms;          /* 5 s: XREAD BLOCK duration */
} pool_opts;

typedef struct pool_conf {
	char *name; /* "*" is the default for pools not listed */
	pool_opts opts;
} pool_conf;

enum log_format { LOG_TEXT = 0, LOG_JSON = 1 };
enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };

typedef struct config {
	char *path; /* file it came from (NULL for defaults) */

	/* "socket" */
	char *socket_path;     /* /run/pulsed/pulsed.sock */
	char *socket_group;    /* NULL: the process's group */
	unsigned socket_mode;  /* 0660 */
	char *admin_group;     /* NULL: root only */
	unsigned max_sessions; /* 1024 */
	unsigned max_sessions_per_uid; /* 512: one uid cannot hold them all */
	unsigned admin_sessions; /* 16 of max_sessions kept for root and the
	                            admin group (at most a quarter of them) */
	uint64_t client_idle_ms; /* a non-admin client session with nothing in
	                            flight and no subscription that sends
	                            nothing this long is closed: 10 min */
	uint64_t handshake_ms; /* HELLO due this long after connecting: 10 s */
	uint64_t frame_ms;     /* a begun frame due complete within: 10 s */
	uint64_t write_ms;     /* a peer that reads nothing this long: 30 s */

	/* "redis" */
	char *redis_url;      /* NULL: none configured (make run starts one) */
	char *redis_password; /* resolved from password_file/password_env */
	char *key_prefix;     /* "pulse" */
	uint64_t redis_reply_ms; /* no answer this long: reconnect (5 s) */
	/* parsed from redis_url */
	char *redis_host;     /* TCP host, or NULL for unix */
	int redis_port;
	char *redis_unix;     /* unix socket path, or NULL */
	char *redis_user;     /* ACL user, or NULL */
	int redis_db;
	int redis_tls;        /* rediss:// */
	/* "redis.tls" (only with rediss://; tls.c uses them) */
	char *tls_ca_file;     /* NULL: the system's trust store (with ca_dir) */
	char *tls_ca_dir;
	char *tls_cert_file;   /* client certificate, with tls_key_file */
	char *tls_key_file;
	char *tls_server_name; /* NULL: the URL's host */
	int tls_insecure;      /* insecure_skip_verify: tests only */

	/* "node" */
	char *node_id; /* NULL: hostname plus pid-independent suffix */

	/* "log" */
	int log_level;
	int log_format;

	/* "limits" */
	uint64_t max_payload; /* 1 MiB */
	uint64_t max_peer_buffer; /* bytes queued to one peer before drop: 16 MiB */
	unsigned max_pools;   /* pools one pulsed joins at once: 1024 */
	uint64_t pool_idle_ms; /* a pool nothing here used for that long is
	                          left (0: never): 10 min */

	/* "metrics" */
	char *metrics_listen; /* NULL: off; "127.0.0.1:9464" */

	/* "pools" */
	pool_conf *pools;
	size_t npools;
	int any_pool; /* a "*" entry exists: unlisted pools are accepted */
	pool_opts default_opts;
} config;

/* Defaults for everything (no pools listed, any_pool = 1). */
void config_defaults(config *c);
/* Load and validate a file. Returns 0, or -1 with a message such as
 * "pulsed.conf:12: pools.jobs.worker_ttl: expected a duration string"
 * in err. On failure c is left freed/empty. */
int config_load(config *c, const char *path, char *err, size_t errlen);
/* Same from a string (tests, fuzzing); name is used in messages. */
int config_parse(config *c, const char *text, size_t len, const char *name,
                 char *err, size_t errlen);
void config_free(config *c);
/* Options for a pool: its own entry, else "*". Returns NULL when the pool
 * is not configured and there is no "*" entry. */
const pool_opts *config_pool(const config *c, const char *pool);
/* The re-join horizon of a pool with these options: how long after Redis
 * lost a pool's state a fenced node's jobs may be re-created (join.lua's
 * B created), and so how long a node keeps a fenced copy and the stops it
 * answered (gone.h). The larger of 60 s and 30 worker TTLs: a node cut
 * off or stopped for a minute still gets its jobs back. */
uint64_t pool_opts_horizon_ms(const pool_opts *o);
/* How long a node keeps the stops it answered: the horizon and one TTL
 * more, for a node that re-joins up to one rebuild window (a TTL) after
 * the node whose fenced copy it must stop. */
uint64_t pool_opts_gone_keep_ms(const pool_opts *o);
/* Parse "250ms", "10s", "2m", "1h" into milliseconds. Returns 0 or -1. */
int config_parse_duration(const char *s, uint64_t *ms);
/* Print the effective configuration as JSON (for pulsed -n). Returns a
 * malloc'd string. */
char *config_dump(const config *c);

/* What a reload changed, as comma-separated dotted key paths: applied
 * (took effect now) and fixed (changed, but only a restart applies them). */
struct reload_note {
	char applied[1024];
	char fixed[1024];
};

/* SIGHUP: the keys whose schema entry says they reload (F_RELOAD in
 * config.c: log.level, log.format, limits.max_payload,
 * limits.max_peer_buffer, and every pool option but worker_ttl and
 * job_sink_block) take next's values in run, and are listed in
 * rn->applied; the other changed keys are listed in rn->fixed. The pool
 * table is replaced whole (pools joined later use it). next keeps the
 * replaced values: config_free it after. */
void config_reload(config *run, config *next, struct reload_note *rn);
/* The same for a pool already joined: its reloadable options from next;
 * each changed key is appended to rn as pools.<pool>.<key>. */
void config_pool_reload(pool_opts *joined, const pool_opts *next,
                        const char *pool, struct reload_note *rn);

#endif
