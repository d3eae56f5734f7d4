/*
 * table.c: a chained hash table keyed by byte strings (see table.h).
 *
 * FNV-1a hashing; chains are singly linked; the bucket array doubles when
 * the count reaches it. Keys are copied into the entry so callers may pass
 * pointers into frames or Redis replies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "table.h"

uint64_t table_hash(const char *key, size_t klen)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a 64 offset basis */
	for (size_t i = 0; i < klen; i++) {
		h ^= (unsigned char)key[i];
		h *= 1099511628211ull;
	}
	return h;
}

void table_init(table *t)
{
	t->b = NULL;
	t->nb = 0;
	t->n = 0;
}

void table_free(table *t)
{
	for (size_t i = 0; i < t->nb; i++) {
		struct tentry *e = t->b[i];
		while (e) {
			struct tentry *n = e->next;
			free(e);
			e = n;
		}
	}
	free(t->b);
	table_init(t);
}

static struct tentry **find(const table *t, const char *key, size_t klen,
                            uint64_t h)
{
	if (t->nb == 0)
		return NULL;
	struct tentry **pp = &t->b[h & (t->nb - 1)];
	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->hash == h && (*pp)->klen == klen &&
		    memcmp((*pp)->key, key, klen) == 0)
			return pp;
	return NULL;
}

/* Double the bucket array; entries keep their hash so no rehash of keys. */
static void grow(table *t)
{
	size_t nb = t->nb ? t->nb * 2 : 16;
	struct tentry **b = xcalloc(nb, sizeof(*b));
	for (size_t i = 0; i < t->nb; i++) {
		struct tentry *e = t->b[i];
		while (e) {
			struct tentry *n = e->next;
			e->next = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = e;
			e = n;
		}
	}
	free(t->b);
	t->b = b;
	t->nb = nb;
}

void *table_get(const table *t, const char *key, size_t klen)
{
	struct tentry **pp = find(t, key, klen, table_hash(key, klen));
	return pp ? (*pp)->val : NULL;
}

void *table_set(table *t, const char *key, size_t klen, void *val)
{
	uint64_t h = table_hash(key, klen);
	struct tentry **pp = find(t, key, klen, h);
	if (pp) {
		void *old = (*pp)->val;
		(*pp)->val = val;
		return old;
	}
	if (t->n >= t->nb)
		grow(t);
	struct tentry *e = xmalloc(sizeof(*e) + klen + 1);
	e->hash = h;
	e->val = val;
	e->klen = klen;
	memcpy(e->key, key, klen);
	e->key[klen] = '\0';
	e->next = t->b[h & (t->nb - 1)];
	t->b[h & (t->nb - 1)] = e;
	t->n++;
	return NULL;
}

void *table_del(table *t, const char *key, size_t klen)
{
	struct tentry **pp = find(t, key, klen, table_hash(key, klen));
	if (!pp)
		return NULL;
	struct tentry *e = *pp;
	void *v = e->val;
	*pp = e->next;
	free(e);
	t->n--;
	return v;
}

void table_iter_init(table_iter *it, const table *t)
{
	it->t = t;
	it->i = 0;
	it->e = NULL;
	it->next = NULL;
}

struct tentry *table_next(table_iter *it)
{
	/* it->next is taken before returning, so the caller may delete the
	 * entry it was just given. */
	while (!it->next) {
		if (it->i >= it->t->nb)
			return NULL;
		it->next = it->t->b[it->i++];
	}
	it->e = it->next;
	it->next = it->e->next;
	return it->e;
}

static size_t fmt_u64(char *buf, uint64_t id)
{
	return (size_t)snprintf(buf, 24, "%llu", (unsigned long long)id);
}

void *table_get_u64(const table *t, uint64_t id)
{
	char b[24];
	return table_get(t, b, fmt_u64(b, id));
}

void *table_set_u64(table *t, uint64_t id, void *val)
{
	char b[24];
	return table_set(t, b, fmt_u64(b, id), val);
}

void *table_del_u64(table *t, uint64_t id)
{
	char b[24];
	return table_del(t, b, fmt_u64(b, id));
}
