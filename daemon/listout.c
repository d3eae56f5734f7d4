/*
 * listout.c: one list answer cut into bounded OK frames (see listout.h
 * for what it owns and its invariants).
 *
 * A frame is {t: OK, id, <field>: [items], more?} or, with inmap,
 * {t: OK, id, <inmap>: {<head entries>, <field>: [items]}, more?}; the
 * head's entries (a STATUS's node, version...) ride in the first frame
 * only. Items are encoded once, into o->items, and copied into the frame
 * as they are.
 */
#include <stdio.h>
#include <string.h>

#include "listout.h"

/* What a frame holds besides its items: t, id, the field names, the
 * array's and map's headers, more, count, and the head (added to it). */
#define FRAME_SLACK 96u
/* A streamed frame is no larger than this even when the peer takes more:
 * the items of one frame are what pulsed holds per answer. */
#define STREAM_FRAME (64u * 1024u)

void listout_begin(struct listout *o, struct session *s, uint64_t id,
                   const char *inmap, const char *field)
{
	memset(o, 0, sizeof(*o));
	o->sid = s->sid;
	o->id = id;
	o->inmap = inmap;
	o->field = field;
	o->stream = s->peer_stream;
	size_t cap = s->peer_max_body;
	if (o->stream && cap > STREAM_FRAME)
		cap = STREAM_FRAME;
	o->room = cap > FRAME_SLACK ? cap - FRAME_SLACK : 0;
}

pulse_enc *listout_head(struct listout *o)
{
	pulse_enc_frag(&o->e, &o->head);
	return &o->e;
}

pulse_enc *listout_item(struct listout *o)
{
	o->mark = o->items.len;
	pulse_enc_frag(&o->e, &o->items);
	return &o->e;
}

/* Send items[0, len) (n of them) as one frame; last: without `more`. */
static void send_frame(struct listout *o, struct session *s, size_t len,
                       size_t n, int last, int with_count)
{
	pulse_buf b = {0};
	pulse_enc e;
	pulse_enc_begin(&e, &b, PULSE_T_OK, o->id,
	                1 + !last + (last && with_count));
	int head = o->frames == 0 && o->nhead > 0;
	if (o->inmap) {
		pulse_enc_key(&e, o->inmap);
		msgpack_pack_map(&e.pk, 1 + (head ? o->nhead : 0));
		if (head)
			pulse_enc_raw(&e, o->head.data, o->head.len);
	}
	pulse_enc_key(&e, o->field);
	msgpack_pack_array(&e.pk, n);
	pulse_enc_raw(&e, o->items.data, len);
	if (!last)
		pulse_enc_bool(&e, "more", 1);
	else if (with_count)
		pulse_enc_uint(&e, "count", o->total);
	session_send_enc(s, &e);
	o->frames++;
	pulse_buf_drop(&o->items, len);
	o->nitems -= n;
}

int listout_item_done(struct listout *o, struct session *s)
{
	if (o->failed)
		return -1;
	if (o->e.failed) {
		listout_fail(o, s, PULSE_E_UNAVAILABLE, "out of memory");
		return -1;
	}
	o->nitems++;
	o->total++;
	size_t need = o->items.len + (o->frames == 0 ? o->head.len : 0);
	if (need <= o->room)
		return 0;
	/* this item does not fit with the ones before it */
	size_t item = o->items.len - o->mark;
	if (!o->stream || o->mark == 0 || item > o->room) {
		char msg[200];
		if (o->stream || o->mark == 0)
			snprintf(msg, sizeof(msg), "one entry of the list is larger "
			         "than the %u bytes a frame to this peer may hold",
			         s->peer_max_body);
		else
			snprintf(msg, sizeof(msg), "the list does not fit in one "
			         "frame of %u bytes; a peer that announces stream in "
			         "its HELLO gets it in several (libpulse-client does)",
			         s->peer_max_body);
		LOGW(&s->d->log, "session %llu (pid %d uid %d): answer %llu: %s",
		     (unsigned long long)s->sid, (int)s->pid, (int)s->uid,
		     (unsigned long long)o->id, msg);
		listout_fail(o, s, PULSE_E_TOO_LARGE, msg);
		return -1;
	}
	send_frame(o, s, o->mark, o->nitems - 1, 0, 0);
	return 0;
}

void listout_free(struct listout *o)
{
	pulse_buf_free(&o->head);
	pulse_buf_free(&o->items);
	o->nitems = 0;
}

void listout_end(struct listout *o, struct session *s, int with_count)
{
	if (s && !o->failed)
		send_frame(o, s, o->items.len, o->nitems, 1, with_count);
	listout_free(o);
}

void listout_fail(struct listout *o, struct session *s, int code,
                  const char *msg)
{
	if (s && !o->failed)
		session_error(s, o->id, code, "%s", msg);
	o->failed = 1;
	listout_free(o);
}

/* ---- paged lists: the next page once the peer has read the last -------- */

void listout_page_done(struct listout *o, struct session *s,
                       void (*next_page)(struct pulsed *d, void *owner),
                       void (*drop)(void *owner), void *owner)
{
	if (session_backlog(s) <= LISTOUT_BACKLOG) {
		next_page(s->d, owner);
		return;
	}
	o->next_page = next_page;
	o->drop = drop;
	o->owner = owner;
	o->waiting = s->d->lists_waiting;
	s->d->lists_waiting = o;
	session_wait_drained(s);
}

/* Take session s's lists out of d->lists_waiting, then resume (drained)
 * or drop them: taken out first, as a resumed page may queue its list
 * again. */
static void lists_of(struct session *s, int resume)
{
	struct listout **po = &s->d->lists_waiting, *mine = NULL;
	while (*po) {
		struct listout *o = *po;
		if (o->sid != s->sid) {
			po = &o->waiting;
			continue;
		}
		*po = o->waiting;
		o->waiting = mine;
		mine = o;
	}
	while (mine) {
		struct listout *o = mine;
		mine = o->waiting;
		o->waiting = NULL;
		if (resume)
			o->next_page(s->d, o->owner);
		else
			o->drop(o->owner);
	}
}

void listout_drained(struct session *s)
{
	lists_of(s, 1);
}

void listout_session_closed(struct session *s)
{
	lists_of(s, 0);
}
