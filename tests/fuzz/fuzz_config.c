/*
 * fuzz_config.c: libFuzzer target for pulsed's configuration parser
 * (daemon/config.c), fed from a buffer through config_parse().
 *
 * Owns: one parse per input, no state between inputs. The input is the
 * file's text; JSON syntax, the schema (types, ranges, names, durations,
 * modes, listen addresses, Redis URLs) and the error messages that name a
 * path and a line all run on it.
 *
 * Invariants checked (a violation abort()s):
 *   - A refused config leaves an error message and an empty struct.
 *   - Round trip: an accepted config's dump (`pulsed -n`) parses again,
 *     and dumps to the same text. Configs that carry a password are left
 *     out: the dump masks it as "***" on purpose.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "config.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

/* The dump minus its "redis.password" mask, which is output only (the
 * input keys for a password are password_file and password_env). */
static char *reloadable(const char *dump)
{
	json_error_t je;
	json_t *root = json_loads(dump, 0, &je);
	CHECK(root);
	json_object_del(json_object_get(root, "redis"), "password");
	char *s = json_dumps(root, JSON_INDENT(2));
	json_decref(root);
	CHECK(s);
	return s;
}

static void round_trip(const config *c)
{
	char *dump = config_dump(c);
	CHECK(dump);
	char *again = reloadable(dump);
	config c2;
	char err[512];
	CHECK(config_parse(&c2, again, strlen(again), "dump", err, sizeof(err)) == 0);
	char *dump2 = config_dump(&c2);
	CHECK(dump2 && strcmp(dump, dump2) == 0);
	free(dump2);
	free(again);
	free(dump);
	config_free(&c2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	config c;
	char err[512] = "";
	if (config_parse(&c, (const char *)data, size, "fuzz.conf", err,
	                 sizeof(err)) < 0) {
		CHECK(err[0] != '\0');
		CHECK(c.socket_path == NULL && c.pools == NULL && c.npools == 0);
		return 0;
	}
	if (!c.redis_password)
		round_trip(&c);
	/* what pool_get() asks of every pool name a peer sends */
	(void)config_pool(&c, "demo");
	(void)config_pool(&c, "*");
	config_free(&c);
	return 0;
}
