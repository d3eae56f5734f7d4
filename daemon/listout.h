/*
 * listout.h: one list answer cut into bounded OK frames (PROTOCOL.md
 * section 7.1), as OpenBSD ntpd's control socket sends a list.
 *
 * A view adds its list's items one at a time; whenever the items held
 * would no longer fit the frame size the peer takes, the ones before go
 * out as an OK frame with `more: true`, and listout_end() sends the last
 * frame (no `more`). A peer that did not announce `stream` in its HELLO
 * takes exactly one frame per answer: a list that does not fit in it is
 * answered TOO_LARGE, with a log line, instead of a frame over its cap.
 *
 * Invariants:
 *   - No frame is larger than the peer's max_body; pulsed holds at most
 *     one frame's worth of items per answer (plus the one item that did
 *     not fit).
 *   - Every answer ends with exactly one frame without `more`: the last
 *     part of the list, or an ERROR (after which items are ignored).
 *   - A list read from Redis in pages (JOBS, CLOCKS) reads its next page
 *     only once its peer has read all but LISTOUT_BACKLOG bytes of what
 *     was sent (listout_page_done): meanwhile it waits in
 *     d->lists_waiting, resumed by the session's drained hook, dropped
 *     when the session ends. So a paged list holds one page and one
 *     frame, whatever its size.
 */
#ifndef PULSED_LISTOUT_H
#define PULSED_LISTOUT_H

#include "pulsed.h"

struct listout {
	uint64_t sid, id;
	const char *inmap;  /* the list is under this map field ("status"), */
	const char *field;  /* ... or at the top: "keys", "workers" */
	pulse_buf head;     /* the map's other entries, first frame only */
	uint32_t nhead;     /* ... how many pairs */
	pulse_buf items;    /* encoded items not sent yet */
	size_t nitems;
	size_t mark;        /* items.len before the item being added */
	size_t room;        /* bytes of items a frame may carry */
	int stream;         /* the peer takes several frames */
	int frames;         /* frames sent */
	int failed;         /* answered with an ERROR: ignore the rest */
	uint64_t total;     /* items so far */
	pulse_enc e;        /* the item being added */
	/* a paged list waiting for its peer (listout_page_done) */
	void (*next_page)(struct pulsed *d, void *owner);
	void (*drop)(void *owner);
	void *owner;
	struct listout *waiting; /* next in d->lists_waiting */
};

/* Bytes a paged list may leave queued for its peer before it waits. */
#define LISTOUT_BACKLOG (256u * 1024u)

/* Begin the answer to request id of session s: the list is `field`, at
 * the top of the OK (inmap NULL) or inside the map `inmap`. */
void listout_begin(struct listout *o, struct session *s, uint64_t id,
                   const char *inmap, const char *field);
/* The encoder of the map entries that come before the list (first frame
 * only; count them in o->nhead). */
pulse_enc *listout_head(struct listout *o);
/* The encoder of the next item: write exactly one msgpack object into
 * it, then call listout_item_done(). */
pulse_enc *listout_item(struct listout *o);
/* Returns 0, or -1 once the answer has failed (the caller may stop). */
int listout_item_done(struct listout *o, struct session *s);
/* Send what is left, with `count` (total items) when with_count. Frees
 * what o holds; s may be NULL (the session went away). */
void listout_end(struct listout *o, struct session *s, int with_count);
/* Answer with an error instead (and free o). */
void listout_fail(struct listout *o, struct session *s, int code,
                  const char *msg);
/* Free o without sending anything (the session is gone). */
void listout_free(struct listout *o);

/* A page of a paged list was added and more pages follow: call
 * next_page(d, owner) now, or once the peer has read enough (see the
 * invariants); drop(owner) instead if the session ends meanwhile. The
 * owner holds o and frees it in drop. */
void listout_page_done(struct listout *o, struct session *s,
                       void (*next_page)(struct pulsed *d, void *owner),
                       void (*drop)(void *owner), void *owner);
/* The session's hooks (context.c): its output drained, it ended. */
void listout_drained(struct session *s);
void listout_session_closed(struct session *s);

#endif
