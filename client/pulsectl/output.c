/*
 * output.c: how pulsectl prints results: the one table-driven routine for
 * every list (aligned table, -H lines, or JSON) and the JSON helpers.
 *
 * Owns: column widths and alignment, the header line, "-" for empty cells
 * in tables, and building JSON from a view's cells.
 *
 * Invariants: everything goes to stdout; in --json mode exactly one JSON
 * document per command, on one line: an object with "ok" (true, or false
 * with "code" and "message"), lists as arrays of objects, a text field
 * that is not UTF-8 doubled by FIELD_base64 (its exact bytes). -H prints
 * no header and nothing for an empty list. Tables are aligned on byte
 * counts (keys and names are free text; wide characters may misalign,
 * never corrupt).
 */
#include <stdint.h>
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

char *base64(const void *data, size_t n)
{
	static const char abc[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = data;
	char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		*o++ = abc[v >> 18 & 63];
		*o++ = abc[v >> 12 & 63];
		*o++ = i + 1 < n ? abc[v >> 6 & 63] : '=';
		*o++ = i + 2 < n ? abc[v & 63] : '=';
	}
	*o = 0;
	return out;
}

/* One rule for every text field (keys above all, which may hold any byte
 * but control characters): readable as a string, exact in base64 when the
 * string cannot be. */
void json_set_text(json_t *obj, const char *field, const char *s, size_t n)
{
	json_t *exact = json_stringn(s, n);
	if (exact) {
		json_object_set_new(obj, field, exact);
		return;
	}
	json_object_set_new(obj, field, json_text(s, n));
	char name[128], *b64 = base64(s, n);
	snprintf(name, sizeof(name), "%s_base64", field);
	if (b64)
		json_object_set_new(obj, name, json_string(b64));
	free(b64);
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
		print_ok_object(json_object());
}

void print_ok_object(json_t *obj)
{
	if (obj)
		json_object_set_new(obj, "ok", json_true());
	json_print(obj);
}

static const char *cell(const char *const *cells, size_t ncols, size_t row,
                        size_t col)
{
	const char *s = cells[row * ncols + col];
	return s ? s : "";
}



/* A table cell as shown to people: "-" stands for empty. */
static const char *shown(const char *s)
{
	return *s ? s : "-";
}

/* One row of v as a JSON object, every column (skipped ones too) a
 * field. */
static json_t *row_json(const struct view *v, const char *const *row)
{
	json_t *o = json_object();
	for (size_t c = 0; o && c < v->ncols; c++) {
		const struct col *col = &v->cols[c];
		const char *s = row[c] ? row[c] : "";
		if (col->kind == COL_COUNT)
			json_object_set_new(o, col->field,
			                    json_integer((json_int_t)strtoll(s, NULL, 10)));
		else if (col->kind == COL_BOOL)
			json_object_set_new(o, col->field,
			                    json_boolean(strcmp(s, "true") == 0));
		else
			json_set_text(o, col->field, s, strlen(s));
	}
	return o;
}

/* One table line: row NULL is the header. */
static void table_line(const struct view *v, const size_t *w,
                       const char *const *row)
{
	for (size_t c = v->skip; c < v->ncols; c++) {
		const char *s = row ? shown(row[c] ? row[c] : "") : v->cols[c].title;
		int last = c + 1 == v->ncols;
		int width = w ? (int)w[c] : 0;
		if (v->cols[c].kind == COL_COUNT)
			printf("%*s", width, s);
		else if (last)
			fputs(s, stdout);
		else
			printf("%-*s", width, s);
		fputs(last ? "\n" : "  ", stdout);
	}
}

/* The JSON form is {"<list>": [row, ...], "ok": true}, written as rows
 * come: one document on one line, as json_print() writes; "ok" comes last
 * because only the end knows it (rows_failed). Nothing is printed before
 * the first row (or the end): a listing that fails at once prints only
 * its failure. */
void rows_begin(struct rows_out *o, const struct ctl *ctl,
                const struct view *v, const size_t *w)
{
	o->ctl = ctl;
	o->v = v;
	o->n = 0;
	o->started = 0;
	/* out of memory: NULL, and the table is not padded */
	o->w = calloc(v->ncols ? v->ncols : 1, sizeof(*o->w));
	for (size_t c = 0; o->w && c < v->ncols; c++)
		o->w[c] = w ? w[c] : v->headless ? 0 : strlen(v->cols[c].title);
}

static void rows_start(struct rows_out *o)
{
	const struct view *v = o->v;
	if (o->started)
		return;
	o->started = 1;
	if (o->ctl->json) {
		json_t *name = json_string(v->list);
		fputc('{', stdout);
		json_dumpf(name, stdout, JSON_ENCODE_ANY);
		fputs(":[", stdout);
		json_decref(name);
	} else if (!o->ctl->bare && !v->headless) {
		table_line(v, o->w, NULL);
	}
}

void rows_add(struct rows_out *o, const char *const *row)
{
	const struct view *v = o->v;
	rows_start(o);
	if (o->ctl->json) {
		if (o->n)
			fputc(',', stdout);
		json_t *j = row_json(v, row);
		json_dumpf(j, stdout, JSON_COMPACT | JSON_ENCODE_ANY);
		json_decref(j);
	} else if (o->ctl->bare) {
		for (size_t c = v->skip; c < v->ncols; c++)
			printf("%s%c", row[c] ? row[c] : "", c + 1 < v->ncols ? '\t' : '\n');
	} else {
		table_line(v, o->w, row);
	}
	o->n++;
}

void rows_end(struct rows_out *o)
{
	rows_start(o);
	if (o->ctl->json)
		fputs("],\"ok\":true}\n", stdout);
	fflush(stdout);
	free(o->w);
	o->w = NULL;
}

int rows_failed(struct rows_out *o, int code, const char *msg)
{
	int in_doc = o->started && o->ctl->json;
	if (in_doc) {
		json_t *c = json_string(pulse_strerror(code));
		json_t *m = json_text(msg, strlen(msg));
		fputs("],\"ok\":false,\"code\":", stdout);
		json_dumpf(c, stdout, JSON_ENCODE_ANY);
		fputs(",\"message\":", stdout);
		json_dumpf(m, stdout, JSON_ENCODE_ANY);
		fputs("}\n", stdout);
		json_decref(c);
		json_decref(m);
	}
	fflush(stdout);
	free(o->w);
	o->w = NULL;
	return in_doc;
}

void view_print(const struct ctl *ctl, const struct view *v,
                const char *const *cells, size_t nrows)
{
	size_t *w = calloc(v->ncols ? v->ncols : 1, sizeof(*w));
	for (size_t c = 0; w && c < v->ncols; c++) {
		w[c] = v->headless ? 0 : strlen(v->cols[c].title);
		for (size_t r = 0; r < nrows; r++) {
			size_t n = strlen(shown(cell(cells, v->ncols, r, c)));
			if (n > w[c])
				w[c] = n;
		}
	}
	struct rows_out o;
	rows_begin(&o, ctl, v, w);
	free(w);
	for (size_t r = 0; r < nrows; r++)
		rows_add(&o, cells + r * v->ncols);
	rows_end(&o);
}
