/*
 * cmd-node.c: pulsectl's node commands: status (this pulsed's view of
 * itself and its pools) and version. Later node commands (nodes) belong
 * here too.
 *
 * Owns: printing a JSON object for people without knowing its fields:
 * scalar fields as an aligned "field value" list, then each array of
 * objects (status "pools") as a table whose columns are the objects'
 * fields. pulsed may add status fields without pulsectl changing.
 *
 * Invariants: with --json the object is printed as pulsed sent it, plus
 * "ok": true. An array whose elements are all objects is a table, an
 * empty one too (it prints nothing: no line under -H). Cells are strings
 * owned by a struct cells and freed after printing.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pulsectl.h"
#include "proto.h"

/* A JSON value as a table cell: strings bare, null empty, numbers and
 * booleans as JSON writes them, anything nested as compact JSON. */
static char *cell_text(const json_t *v)
{
	if (json_is_string(v))
		return strndup(json_string_value(v), json_string_length(v));
	if (json_is_null(v))
		return strdup("");
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

static int is_table(const json_t *v)
{
	size_t i;
	json_t *row;
	if (!json_is_array(v))
		return 0;
	json_array_foreach(v, i, row)
	{
		if (!json_is_object(row))
			return 0;
	}
	return 1;
}

/* The scalar (and non-table) fields of obj as "field value" lines. */
static int print_fields(const struct ctl *ctl, json_t *obj)
{
	static const struct col cols[] = {{"FIELD", "field", COL_TEXT},
	                                  {"VALUE", "value", COL_TEXT}};
	static const struct view view = {"fields", cols, 2, 0, 1};
	struct cells c = {0};
	const char *key;
	json_t *v;
	int rc = 0;
	json_object_foreach(obj, key, v)
	{
		if (is_table(v))
			continue;
		if (rc == 0)
			rc = cells_add(&c, strdup(key));
		if (rc == 0)
			rc = cells_add(&c, cell_text(v));
	}
	if (rc == 0)
		view_print(ctl, &view, (const char *const *)c.v, c.n / 2);
	cells_free(&c);
	return rc;
}

/* An array of objects as a table: the columns are the fields in the order
 * first seen, titled in upper case. With -H each line starts with the
 * array's name, so that its lines are told apart from the fields'. */
static int print_table(const struct ctl *ctl, const char *name, json_t *arr)
{
	json_t *fields = json_object(); /* field -> column index, in order */
	struct cells titles = {0}, c = {0};
	struct col *cols = NULL;
	size_t i, ncols, first = ctl->bare ? 1 : 0;
	json_t *row, *v;
	const char *key;
	int rc = 0;
	if (first)
		rc = cells_add(&titles, strdup(""));
	json_array_foreach(arr, i, row)
	{
		json_object_foreach(row, key, v)
		{
			if (rc || json_object_get(fields, key))
				continue;
			json_object_set_new(fields, key, json_integer((json_int_t)titles.n));
			char *t = strdup(key);
			for (char *p = t; p && *p; p++)
				*p = (char)toupper((unsigned char)*p);
			rc = cells_add(&titles, t);
		}
	}
	ncols = titles.n;
	if (rc == 0 && !(cols = calloc(ncols, sizeof(*cols))))
		rc = -1;
	/* A column of integers only is a count (right-aligned). */
	for (size_t k = 0; rc == 0 && k < ncols; k++)
		cols[k] = (struct col){titles.v[k], titles.v[k],
		                       k < first ? COL_TEXT : COL_COUNT};
	json_array_foreach(arr, i, row)
	{
		json_object_foreach(row, key, v)
		{
			size_t k = (size_t)json_integer_value(json_object_get(fields, key));
			if (rc == 0 && !json_is_integer(v))
				cols[k].kind = COL_TEXT;
		}
	}
	json_array_foreach(arr, i, row)
	{
		if (rc)
			break;
		size_t base = c.n;
		for (size_t k = 0; rc == 0 && k < ncols; k++)
			rc = cells_add(&c, strdup(k < first ? name : ""));
		json_object_foreach(row, key, v)
		{
			size_t k = (size_t)json_integer_value(json_object_get(fields, key));
			if (rc == 0 && json_is_object(row)) {
				free(c.v[base + k]);
				if (!(c.v[base + k] = cell_text(v)))
					rc = -1;
			}
		}
	}
	if (rc == 0 && json_array_size(arr) > 0) {
		const struct view view = {name, cols, ncols, 0, 0};
		if (!ctl->bare)
			fputs("\n", stdout);
		view_print(ctl, &view, (const char *const *)c.v,
		           ncols ? c.n / ncols : 0);
	}
	free(cols);
	cells_free(&titles);
	cells_free(&c);
	json_decref(fields);
	return rc;
}

/* An object for people (fields, then tables) or as JSON. Takes obj. */
static int print_object(struct ctl *ctl, json_t *obj)
{
	int rc = 0;
	if (ctl->json) {
		print_ok_object(obj);
		return 0;
	}
	rc = print_fields(ctl, obj);
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v)
	{
		if (rc == 0 && is_table(v))
			rc = print_table(ctl, key, v);
	}
	json_decref(obj);
	return rc ? ctl_fail(ctl, PULSE_ERR_INVALID, "out of memory") : 0;
}

/* A JSON object from pulsed (its status, a pool's clocks), or NULL with
 * the failure recorded. pool NULL: the status. */
static json_t *fetch_object(struct ctl *ctl, const char *pool, int schedules,
                            int *code)
{
	char *text;
	json_error_t jerr;
	*code = pool ? pulse_clocks_json(ctl->client, pool, schedules, &text)
	             : pulse_status_json(ctl->client, &text);
	if (*code)
		return NULL;
	/* Status strings may hold any bytes, NUL among them (\u0000). */
	json_t *j = json_loads(text, JSON_ALLOW_NUL, &jerr);
	free(text);
	if (!json_is_object(j)) {
		*code = ctl_fail(ctl, PULSE_ERR_PROTOCOL,
		                 "pulsed's answer is not a JSON object: %s",
		                 j ? "another type" : jerr.text);
		json_decref(j);
		return NULL;
	}
	return j;
}

int cmd_status(struct ctl *ctl, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	int code;
	json_t *status = fetch_object(ctl, NULL, 0, &code);
	return status ? print_object(ctl, status) : code;
}

/* tickers POOL / schedules POOL: the pool's clocks, as tables. */
static int clocks(struct ctl *ctl, const char *pool, int schedules)
{
	int code;
	json_t *obj = fetch_object(ctl, pool, schedules, &code);
	return obj ? print_object(ctl, obj) : code;
}

int ctl_pool_names(struct ctl *ctl, struct cells *names)
{
	int code;
	json_t *status = fetch_object(ctl, NULL, 0, &code);
	if (!status)
		return code;
	size_t i;
	json_t *pool;
	json_array_foreach(json_object_get(status, "pools"), i, pool)
	{
		const char *name = json_string_value(json_object_get(pool, "name"));
		const char *state = json_string_value(json_object_get(pool, "state"));
		if (state && strcmp(state, "shutdown") == 0)
			continue; /* its views answer SHUTDOWN; the others still work */
		if (name && cells_add(names, strdup(name)) < 0)
			code = ctl_fail(ctl, PULSE_ERR_INVALID, "out of memory");
	}
	json_decref(status);
	return code;
}

int cmd_tickers(struct ctl *ctl, int argc, char **argv)
{
	(void)argc;
	return clocks(ctl, argv[0], 0);
}

int cmd_schedules(struct ctl *ctl, int argc, char **argv)
{
	(void)argc;
	return clocks(ctl, argv[0], 1);
}

/* The versions of pulsectl, its protocol and, when it answers, pulsed.
 * pulsed being away is not a failure of this command. */
int cmd_version(struct ctl *ctl, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	json_t *obj = json_pack("{s:s,s:i}", "pulsectl", PULSECTL_VERSION,
	                        "protocol", PULSE_PROTO_VERSION);
	int code = PULSE_ERR_UNAVAILABLE;
	json_t *status = ctl_client(ctl) ? fetch_object(ctl, NULL, 0, &code) : NULL;
	const char *fields[] = {"version", "node"}, *names[] = {"pulsed", "node"};
	for (size_t i = 0; i < 2; i++) {
		json_t *v = json_object_get(status, fields[i]);
		json_object_set(obj, names[i], v ? v : json_null());
	}
	if (!status) {
		const char *why = ctl->msg[0] || !ctl->client
		                      ? ctl->msg
		                      : pulse_errmsg(ctl->client);
		json_object_set_new(obj, "error", json_text(why, strlen(why)));
	}
	json_decref(status);
	ctl->msg[0] = 0;
	return print_object(ctl, obj);
}
