/*
 * output.c: how pulsectl prints results: the one table-driven routine for
 * every list (aligned table, -H lines, or JSON) and the JSON helpers.
 *
 * Owns: column widths and alignment, the header line, "-" for empty cells
 * in tables, and building JSON from a view's cells.
 *
 * Invariants: everything goes to stdout; in --json mode exactly one JSON
 * document per command, on one line. Tables are aligned on byte counts
 * (keys and names are free text; wide characters may misalign, never
 * corrupt).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pulsectl.h"

int cells_add(struct cells *c, char *s)
{
	if (!s)
		return -1;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		char **v = realloc(c->v, cap * sizeof(*v));
		if (!v) {
			free(s);
			return -1;
		}
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n++] = s;
	return 0;
}

void cells_free(struct cells *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i]);
	free(c->v);
	*c = (struct cells){0};
}

json_t *json_text(const char *s, size_t n)
{
	json_t *j = json_stringn(s, n);
	if (j)
		return j;
	/* Not UTF-8: keep the ASCII bytes and mark the others. */
	char *fixed = malloc(n * 3 + 1);
	if (!fixed)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x80) {
			fixed[o++] = s[i];
		} else {
			memcpy(fixed + o, "\xef\xbf\xbd", 3);
			o += 3;
		}
	}
	j = json_stringn(fixed, o);
	free(fixed);
	return j;
}

void json_print(json_t *j)
{
	if (!j)
		return;
	json_dumpf(j, stdout, JSON_COMPACT | JSON_ENCODE_ANY);
	fputc('\n', stdout);
	json_decref(j);
}

void print_ok(const struct ctl *ctl)
{
	if (ctl->json)
		json_print(json_pack("{s:b}", "ok", 1));
}

static const char *cell(const char *const *cells, size_t ncols, size_t row,
                        size_t col)
{
	const char *s = cells[row * ncols + col];
	return s ? s : "";
}

static json_t *cell_json(const struct col *col, const char *s)
{
	if (col->kind == COL_COUNT)
		return json_integer((json_int_t)strtoll(s, NULL, 10));
	if (col->kind == COL_BOOL)
		return json_boolean(strcmp(s, "true") == 0);
	return json_text(s, strlen(s));
}

static void view_json(const struct view *v, const char *const *cells,
                      size_t nrows)
{
	json_t *list = json_array();
	for (size_t r = 0; r < nrows; r++) {
		if (v->flat) {
			json_array_append_new(list,
			                      cell_json(&v->cols[0], cell(cells, v->ncols, r, 0)));
			continue;
		}
		json_t *o = json_object();
		for (size_t c = 0; c < v->ncols; c++)
			json_object_set_new(o, v->cols[c].field,
			                    cell_json(&v->cols[c], cell(cells, v->ncols, r, c)));
		json_array_append_new(list, o);
	}
	json_t *doc = json_object();
	json_object_set_new(doc, v->list, list);
	json_print(doc);
}

/* -H: fields as they are, tab-separated, one row a line. */
static void view_bare(const struct view *v, const char *const *cells,
                      size_t nrows)
{
	for (size_t r = 0; r < nrows; r++)
		for (size_t c = 0; c < v->ncols; c++)
			printf("%s%c", cell(cells, v->ncols, r, c),
			       c + 1 < v->ncols ? '\t' : '\n');
}

/* A table cell as shown to people: "-" stands for empty. */
static const char *shown(const char *s)
{
	return *s ? s : "-";
}

static void view_table(const struct view *v, const char *const *cells,
                       size_t nrows)
{
	size_t *w = calloc(v->ncols ? v->ncols : 1, sizeof(*w));
	if (!w)
		return;
	for (size_t c = 0; c < v->ncols; c++) {
		w[c] = v->headless ? 0 : strlen(v->cols[c].title);
		for (size_t r = 0; r < nrows; r++) {
			size_t n = strlen(shown(cell(cells, v->ncols, r, c)));
			if (n > w[c])
				w[c] = n;
		}
	}
	/* Row -1 is the header. */
	for (long r = v->headless ? 0 : -1; r < (long)nrows; r++) {
		for (size_t c = 0; c < v->ncols; c++) {
			const char *s = r < 0 ? v->cols[c].title
			                      : shown(cell(cells, v->ncols, (size_t)r, c));
			int last = c + 1 == v->ncols;
			int width = (int)w[c];
			if (v->cols[c].kind == COL_COUNT)
				printf("%*s", width, s);
			else if (last)
				fputs(s, stdout);
			else
				printf("%-*s", width, s);
			fputs(last ? "\n" : "  ", stdout);
		}
	}
	free(w);
}

void view_print(const struct ctl *ctl, const struct view *v,
                const char *const *cells, size_t nrows)
{
	if (ctl->json)
		view_json(v, cells, nrows);
	else if (ctl->bare)
		view_bare(v, cells, nrows);
	else
		view_table(v, cells, nrows);
}
