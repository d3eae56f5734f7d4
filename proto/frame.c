/*
 * frame.c: the frame reader (pulse_reader), the input half of the codec.
 *
 * Owns: splitting a byte stream into frames (u32 big-endian length + body)
 * and the reader's buffer. No I/O: callers feed bytes or read(2) into
 * pulse_reader_space() and take whole frames with pulse_reader_next().
 *
 * Invariants:
 *   - off <= len <= cap <= bound(r) = max_body + PULSE_FRAME_HDR.
 *   - The bytes held (len - off) never exceed bound(r): feed() refuses and
 *     space() offers only what is left below it.
 *   - Once the header of the first held frame announces more than max_body,
 *     not one more byte is accepted (feed() fails, space() returns NULL) and
 *     next() returns -1: the stream cannot be resynchronised.
 *   - frame_end is 0 or the end of the frame that next() last returned;
 *     consume() drops up to it. While such a frame is unconsumed, space()
 *     never moves the buffer (it offers only the free tail), so a caller may
 *     read more input while still using a decoded message; feed() may move
 *     it (the API says feeding invalidates frames) and keeps frame_end
 *     pointing at the same frame.
 *   - An empty reader whose buffer grew past READER_KEEP gives it back, so
 *     that a session which once carried a large frame does not hold that
 *     much memory for the rest of its life.
 */
#include <stdlib.h>
#include <string.h>

#include "proto.h"

/* Initial allocation, and the smallest read space() tries to offer. */
#define READER_CHUNK 4096u
/* Above this size an empty buffer is freed rather than kept. */
#define READER_KEEP (64u * 1024u)

/* The most bytes a reader may hold: one whole frame at the cap. Saturates
 * where size_t is too narrow for max_body + header. */
static size_t bound(const pulse_reader *r)
{
	size_t b = (size_t)r->max_body;
	return b > SIZE_MAX - PULSE_FRAME_HDR ? SIZE_MAX : b + PULSE_FRAME_HDR;
}

static size_t held(const pulse_reader *r)
{
	return r->len - r->off;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* The announced body length of the first held frame, or -1 while its
 * header is incomplete. One reading of the header serves next(), the
 * oversize refusal of feed()/space() and space()'s sizing. */
static int64_t head_len(const pulse_reader *r)
{
	if (held(r) < PULSE_FRAME_HDR)
		return -1;
	return (int64_t)get_be32(r->buf + r->off);
}

/* True once the stream is dead: the first frame announces too much. */
static int head_too_big(const pulse_reader *r)
{
	return head_len(r) > (int64_t)r->max_body;
}

/* Move the held bytes to the front, so that the consumed prefix is reused
 * instead of growing the buffer. */
static void compact(pulse_reader *r)
{
	if (r->off == 0)
		return;
	size_t n = held(r);
	if (n > 0)
		memmove(r->buf, r->buf + r->off, n);
	if (r->frame_end)
		r->frame_end -= r->off;
	r->off = 0;
	r->len = n;
}

/* Make room for `want` more bytes after len; the caller has checked that
 * held + want <= bound, so after compaction the buffer never needs to
 * exceed bound. Doubling keeps appends amortised O(1). */
static int reserve(pulse_reader *r, size_t want)
{
	if (r->cap - r->len >= want)
		return 0;
	compact(r);
	if (r->cap - r->len >= want)
		return 0;
	size_t need = r->len + want, ncap = r->cap ? r->cap : READER_CHUNK;
	while (ncap < need && ncap <= SIZE_MAX / 2)
		ncap *= 2;
	if (ncap > bound(r))
		ncap = bound(r);
	if (ncap < need)
		ncap = need;
	uint8_t *nb = realloc(r->buf, ncap);
	if (!nb)
		return -1;
	r->buf = nb;
	r->cap = ncap;
	return 0;
}

void pulse_reader_init(pulse_reader *r, uint32_t max_body)
{
	memset(r, 0, sizeof(*r));
	r->max_body = max_body;
}

void pulse_reader_raise(pulse_reader *r, uint32_t max_body)
{
	if (max_body > r->max_body)
		r->max_body = max_body;
}

void pulse_reader_free(pulse_reader *r)
{
	free(r->buf);
	pulse_reader_init(r, r->max_body);
}

int pulse_reader_feed(pulse_reader *r, const void *data, size_t n)
{
	if (head_too_big(r) || n > bound(r) - held(r))
		return -1;
	if (n == 0)
		return 0;
	if (reserve(r, n) < 0)
		return -1;
	memcpy(r->buf + r->len, data, n);
	r->len += n;
	return 0;
}

/* Offer at least the rest of the current frame when its header is known
 * (one read can then complete it), otherwise READER_CHUNK, never more than
 * the bound leaves. Space the buffer already has beyond that is offered
 * too: it costs nothing and saves read calls on pipelined frames. While a
 * frame from next() is unconsumed only the free tail is offered, so that
 * the frame does not move under its decoded pointers. */
uint8_t *pulse_reader_space(pulse_reader *r, size_t *room)
{
	*room = 0;
	size_t left = bound(r) - held(r);
	if (head_too_big(r) || left == 0)
		return NULL;
	if (r->frame_end == 0) {
		size_t want = READER_CHUNK;
		int64_t hl = head_len(r);
		size_t frame = hl >= 0 ? (size_t)hl + PULSE_FRAME_HDR : 0;
		if (frame > held(r) && frame - held(r) > want)
			want = frame - held(r);
		if (want > left)
			want = left;
		if (reserve(r, want) < 0)
			return NULL;
	} else if (r->cap == r->len) {
		return NULL;
	}
	/* cap <= bound and off <= len, so this never passes the bound. */
	*room = r->cap - r->len;
	if (*room > left)
		*room = left;
	return r->buf + r->len;
}

void pulse_reader_commit(pulse_reader *r, size_t n)
{
	if (n > r->cap - r->len) /* a caller bug: keep the invariants */
		n = r->cap - r->len;
	r->len += n;
}

int pulse_reader_next(pulse_reader *r, const uint8_t **body, uint32_t *len)
{
	int64_t hl = head_len(r);
	if (hl < 0)
		return 0;
	if (hl > (int64_t)r->max_body)
		return -1;
	if (held(r) - PULSE_FRAME_HDR < (size_t)hl)
		return 0;
	*body = r->buf + r->off + PULSE_FRAME_HDR;
	*len = (uint32_t)hl;
	r->frame_end = r->off + PULSE_FRAME_HDR + (size_t)hl;
	return 1;
}

size_t pulse_reader_held(const pulse_reader *r)
{
	return held(r);
}

/* Drop the frame next() returned. An emptied reader restarts at offset 0
 * (and gives back a large buffer); otherwise the held tail is moved to the
 * front once the consumed prefix is at least half the buffer, which bounds
 * the copying to about one byte per byte received. */
void pulse_reader_consume(pulse_reader *r)
{
	if (r->frame_end == 0)
		return;
	r->off = r->frame_end;
	r->frame_end = 0;
	if (r->off == r->len) {
		r->off = r->len = 0;
		if (r->cap > READER_KEEP) {
			free(r->buf);
			r->buf = NULL;
			r->cap = 0;
		}
	} else if (r->off >= r->cap / 2) {
		compact(r);
	}
}
