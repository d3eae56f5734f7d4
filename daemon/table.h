/*
 * table.h: a string-keyed hash table of void pointers.
 *
 * Owns: its buckets and copies of its keys; never the values (the caller
 * frees those). Invariant: load factor stays under 1 (it doubles when
 * full); iteration order is unspecified, and deleting the entry just
 * returned by table_next() during iteration is allowed.
 */
#ifndef PULSED_TABLE_H
#define PULSED_TABLE_H

#include <stddef.h>
#include <stdint.h>

struct tentry {
	struct tentry *next;
	uint64_t hash;
	void *val;
	size_t klen;
	char key[]; /* NUL-terminated copy */
};

typedef struct table {
	struct tentry **b;
	size_t nb, n;
} table;

typedef struct table_iter {
	const table *t;
	size_t i;
	struct tentry *e, *next;
} table_iter;

void table_init(table *t);
/* Free the table (not the values). */
void table_free(table *t);
void *table_get(const table *t, const char *key, size_t klen);
/* Insert or replace; returns the previous value or NULL. */
void *table_set(table *t, const char *key, size_t klen, void *val);
/* Remove; returns the value or NULL. */
void *table_del(table *t, const char *key, size_t klen);
void table_iter_init(table_iter *it, const table *t);
/* Next entry, or NULL at the end. */
struct tentry *table_next(table_iter *it);
uint64_t table_hash(const char *key, size_t klen);

/* Keys that are integers (ids), formatted in a small buffer. */
void *table_get_u64(const table *t, uint64_t id);
void *table_set_u64(table *t, uint64_t id, void *val);
void *table_del_u64(table *t, uint64_t id);

#endif
