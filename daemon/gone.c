/*
 * gone.c: the keys a node answered as gone, for a horizon (gone.h says
 * why). A FIFO list: noting appends, pruning takes from the head. No I/O.
 */
#include <stdlib.h>
#include <string.h>

#include "gone.h"
#include "util.h"

void gone_init(struct gone_log *g)
{
	g->head = NULL;
	g->tail = &g->head;
	g->n = 0;
	g->forgotten = 0;
}

static void drop_head(struct gone_log *g)
{
	struct gone_entry *e = g->head;
	g->head = e->next;
	if (!g->head)
		g->tail = &g->head;
	g->n--;
	free(e);
}

void gone_prune(struct gone_log *g, uint64_t before)
{
	while (g->head && g->head->at < before)
		drop_head(g);
}

void gone_note(struct gone_log *g, const char *key, size_t klen, uint64_t at,
               uint64_t keep_ms, size_t cap)
{
	if (at > keep_ms)
		gone_prune(g, at - keep_ms);
	while (g->n > 0 && g->n >= cap) {
		drop_head(g);
		g->forgotten++;
	}
	if (cap == 0)
		return;
	struct gone_entry *e = xmalloc(sizeof(*e) + klen + 1);
	e->next = NULL;
	e->at = at;
	e->klen = klen;
	memcpy(e->key, key, klen);
	e->key[klen] = '\0';
	*g->tail = e;
	g->tail = &e->next;
	g->n++;
}

void gone_free(struct gone_log *g)
{
	while (g->head)
		drop_head(g);
	gone_init(g);
}
