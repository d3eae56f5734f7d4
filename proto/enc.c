/*
 * enc.c: building frames, the output half of the codec.
 *
 * Owns: pulse_buf (a growable byte buffer of whole frames) and pulse_enc,
 * which writes one frame into it through a msgpack_packer: a 4-byte length
 * placeholder, the map header, "t" and "id", the caller's fields, then the
 * length patched in big-endian by pulse_enc_end(). Also the two frames
 * every peer sends (ERROR, OK).
 *
 * Invariants:
 *   - A pulse_buf holds only whole frames between calls: a frame under
 *     construction is either completed by pulse_enc_end() or cut off again
 *     (allocation failure, a string too long for msgpack), never left half.
 *   - Once an encoder has failed every later write is refused, so the map
 *     header never disagrees with a frame that gets sent.
 *   - "id" is written when it is nonzero or the frame is a reply (OK,
 *     ERROR): ERROR id 0 is meaningful ("the session is being closed").
 *   - No state outside the arguments.
 */
#include <stdlib.h>
#include <string.h>

#include "proto.h"

/* Above this, an emptied pulse_buf gives its memory back. */
#define BUF_KEEP (64u * 1024u)

void pulse_buf_free(pulse_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

/* Doubling growth keeps a run of small appends amortised O(1). */
int pulse_buf_append(pulse_buf *b, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	if (n > SIZE_MAX - b->len)
		return -1;
	if (b->cap - b->len < n) {
		size_t need = b->len + n, ncap = b->cap ? b->cap : 256;
		while (ncap < need)
			ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
		char *nd = realloc(b->data, ncap);
		if (!nd)
			return -1;
		b->data = nd;
		b->cap = ncap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

/* Used after a partial write(2): the unsent tail moves to the front. An
 * emptied large buffer is freed so that one burst does not pin memory for
 * the rest of a session. */
void pulse_buf_drop(pulse_buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		if (b->cap > BUF_KEEP)
			pulse_buf_free(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}

/* The packer's sink. Refuses everything after the first failure so that
 * pulse_enc_end() sees one consistent verdict. */
static int enc_write(void *data, const char *buf, size_t len)
{
	pulse_enc *e = data;
	if (e->failed)
		return -1;
	if (pulse_buf_append(e->out, buf, len) < 0) {
		e->failed = 1;
		return -1;
	}
	return 0;
}

/* msgpack_pack_str()/bin() take a size_t but write 32 bits: a longer value
 * would be silently truncated into a corrupt frame, so fail instead. */
static int fits(pulse_enc *e, size_t n)
{
	if (n > UINT32_MAX)
		e->failed = 1;
	return !e->failed;
}

void pulse_enc_begin(pulse_enc *e, pulse_buf *out, uint32_t type, uint64_t id,
                     uint32_t nfields)
{
	static const char placeholder[PULSE_FRAME_HDR];
	e->out = out;
	e->start = out->len;
	e->failed = 0;
	msgpack_packer_init(&e->pk, e, enc_write);
	enc_write(e, placeholder, sizeof(placeholder));
	int with_id = id != 0 || type == PULSE_T_OK || type == PULSE_T_ERROR;
	msgpack_pack_map(&e->pk, (size_t)nfields + 1 + (size_t)with_id);
	pulse_enc_uint(e, "t", type);
	if (with_id)
		pulse_enc_uint(e, "id", id);
}

/* An encoder of loose msgpack objects (no frame header, no map): the
 * items of a list that listout.c later places into frames whole, with
 * pulse_enc_raw(). Its end is the caller's (no pulse_enc_end). */
void pulse_enc_frag(pulse_enc *e, pulse_buf *out)
{
	e->out = out;
	e->start = out->len;
	e->failed = 0;
	msgpack_packer_init(&e->pk, e, enc_write);
}

/* Bytes that are already msgpack (a fragment's objects), copied as they
 * are: msgpack-c's *_body functions append without a header. */
void pulse_enc_raw(pulse_enc *e, const void *p, size_t n)
{
	if (n)
		msgpack_pack_bin_body(&e->pk, p, n);
}

void pulse_enc_key(pulse_enc *e, const char *field)
{
	size_t n = strlen(field);
	if (!fits(e, n))
		return;
	msgpack_pack_str(&e->pk, n);
	msgpack_pack_str_body(&e->pk, field, n);
}

void pulse_enc_str(pulse_enc *e, const char *field, const char *s, size_t n)
{
	pulse_enc_key(e, field);
	if (!fits(e, n))
		return;
	msgpack_pack_str(&e->pk, n);
	msgpack_pack_str_body(&e->pk, s, n);
}

void pulse_enc_cstr(pulse_enc *e, const char *field, const char *s)
{
	pulse_enc_str(e, field, s ? s : "", s ? strlen(s) : 0);
}

void pulse_enc_bin(pulse_enc *e, const char *field, const void *p, size_t n)
{
	pulse_enc_key(e, field);
	if (!fits(e, n))
		return;
	msgpack_pack_bin(&e->pk, n);
	msgpack_pack_bin_body(&e->pk, p, n);
}

void pulse_enc_uint(pulse_enc *e, const char *field, uint64_t v)
{
	pulse_enc_key(e, field);
	msgpack_pack_uint64(&e->pk, v);
}

void pulse_enc_bool(pulse_enc *e, const char *field, int v)
{
	pulse_enc_key(e, field);
	if (v)
		msgpack_pack_true(&e->pk);
	else
		msgpack_pack_false(&e->pk);
}

int pulse_enc_end(pulse_enc *e)
{
	size_t end = e->out->len;
	if (e->failed || end < e->start + PULSE_FRAME_HDR ||
	    end - e->start - PULSE_FRAME_HDR > UINT32_MAX) {
		if (e->out->len > e->start)
			e->out->len = e->start;
		e->failed = 1;
		return -1;
	}
	size_t body = end - e->start - PULSE_FRAME_HDR;
	unsigned char *h = (unsigned char *)e->out->data + e->start;
	h[0] = (unsigned char)(body >> 24);
	h[1] = (unsigned char)(body >> 16);
	h[2] = (unsigned char)(body >> 8);
	h[3] = (unsigned char)body;
	return 0;
}

int pulse_encode_error(pulse_buf *out, uint64_t id, int code, const char *msg)
{
	pulse_enc e;
	pulse_enc_begin(&e, out, PULSE_T_ERROR, id, msg ? 2 : 1);
	pulse_enc_cstr(&e, "code", pulse_err_name(code));
	if (msg)
		pulse_enc_cstr(&e, "msg", msg);
	return pulse_enc_end(&e);
}

int pulse_encode_ok(pulse_buf *out, uint64_t id)
{
	pulse_enc e;
	pulse_enc_begin(&e, out, PULSE_T_OK, id, 0);
	return pulse_enc_end(&e);
}
