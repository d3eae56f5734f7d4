/*
 * fuzz_frame.c: libFuzzer target for the codec in proto/ (frames and
 * messages), the bytes a peer controls before pulsed looks at anything.
 *
 * Owns: one property check per input, no state between inputs. The input
 * is a byte stream as it would arrive on the socket; its first byte (when
 * there is one) only seeds how the stream is cut into reads.
 *
 * Invariants checked (a violation abort()s, which libFuzzer reports):
 *   - Splitting: a reader fed the whole stream at once and a reader filled
 *     through space()/commit() in arbitrary pieces (as server.c does) give
 *     the same frames, and the same verdict on an oversized header; neither
 *     holds more than max_body + 4 bytes.
 *   - pulse_msgpack_check() accepting a body means msgpack-c unpacks it
 *     whole (the check is what bounds msgpack-c's allocations).
 *   - Round trip: a body that decodes is re-encoded by pulse_msg_encode()
 *     and decodes again to the same type and scalar fields; the encoder's
 *     output is one whole frame that the reader splits back out.
 * Crashes, leaks and sanitizer reports are found by libFuzzer itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

/* Small enough that the fuzzer reaches the oversize refusal with short
 * inputs, large enough for every valid message of the seed corpus. */
#define FUZZ_MAX_BODY 4096u

#define CHECK(c) do { if (!(c)) abort(); } while (0)

/* Fields pulse_msg_encode() writes from pulse_msg (structured ones are
 * the caller's business); the round trip compares exactly these. */
#define SCALARS (PM_V | PM_ROLE | PM_POOL | PM_KEY | PM_NAME | PM_PAYLOAD | \
	PM_CODE | PM_MSG | PM_NODE | PM_WORKER | PM_R | PM_NOTIFY | PM_LOCAL | \
	PM_EXISTS | PM_TIMEOUT | PM_INTERVAL | PM_SEQ | PM_TS | PM_ALL | PM_END)

static int same_str(pulse_str a, pulse_str b)
{
	return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

/* Whether pulse_enc_begin() writes "id" for m (see enc.c's invariant). */
static int writes_id(const pulse_msg *m)
{
	return ((m->has & PM_ID) && m->id != 0) || m->type == PULSE_T_OK ||
	       m->type == PULSE_T_ERROR;
}

static void check_same(const pulse_msg *a, const pulse_msg *b)
{
	CHECK(a->type == b->type);
	CHECK((a->has & SCALARS) == (b->has & SCALARS));
	CHECK(!!(b->has & PM_ID) == writes_id(a));
	if (b->has & PM_ID)
		CHECK(b->id == ((a->has & PM_ID) ? a->id : 0));
	CHECK(a->v == b->v && a->r == b->r && a->timeout_ms == b->timeout_ms);
	CHECK(a->interval_ms == b->interval_ms && a->seq == b->seq &&
	      a->ts == b->ts);
	CHECK(a->notify == b->notify && a->local == b->local &&
	      a->exists == b->exists && a->all == b->all && a->end == b->end);
	CHECK(same_str(a->role, b->role) && same_str(a->pool, b->pool) &&
	      same_str(a->key, b->key) && same_str(a->name, b->name) &&
	      same_str(a->payload, b->payload) && same_str(a->code, b->code) &&
	      same_str(a->msg, b->msg) && same_str(a->node, b->node) &&
	      same_str(a->worker, b->worker));
}

/* Re-encode a decoded message and decode the result again. */
static void round_trip(const pulse_msg *m)
{
	pulse_buf out = {0};
	if (pulse_msg_encode(&out, m) < 0) {
		pulse_buf_free(&out);
		return; /* out of memory only: bodies are far below msgpack's caps */
	}
	pulse_reader r;
	pulse_reader_init(&r, UINT32_MAX);
	CHECK(pulse_reader_feed(&r, out.data, out.len) == 0);
	const uint8_t *body;
	uint32_t len;
	CHECK(pulse_reader_next(&r, &body, &len) == 1);
	CHECK(len + (size_t)PULSE_FRAME_HDR == out.len);
	pulse_msg m2;
	msgpack_unpacked u;
	msgpack_unpacked_init(&u);
	CHECK(pulse_msg_decode(body, len, &m2, &u, NULL, 0) == 0);
	check_same(m, &m2);
	msgpack_unpacked_destroy(&u);
	pulse_reader_free(&r);
	pulse_buf_free(&out);
}

/* Everything pulsed does with one frame body before its handlers. */
static void check_body(const uint8_t *body, uint32_t len)
{
	char err[256];
	if (pulse_msgpack_check(body, len, err, sizeof(err)) == 0) {
		msgpack_unpacked u;
		size_t off = 0;
		msgpack_unpacked_init(&u);
		CHECK(msgpack_unpack_next(&u, (const char *)body, len, &off) ==
		      MSGPACK_UNPACK_SUCCESS && off == len);
		msgpack_unpacked_destroy(&u);
	}
	pulse_msg m;
	msgpack_unpacked u;
	msgpack_unpacked_init(&u);
	if (pulse_msg_decode(body, len, &m, &u, err, sizeof(err)) == 0) {
		(void)pulse_msg_require(&m, err, sizeof(err));
		round_trip(&m);
	}
	msgpack_unpacked_destroy(&u);
}

/* The frames of one reader, in order: offsets into a copy of each body. */
struct frames {
	uint8_t *bytes;
	size_t len;
	size_t n;
	int dead; /* next() returned -1 */
};

static void frames_add(struct frames *f, const uint8_t *body, uint32_t len)
{
	pulse_buf b = {(char *)f->bytes, f->len, f->len};
	uint8_t hdr[4] = {len >> 24, len >> 16, len >> 8, len};
	CHECK(pulse_buf_append(&b, hdr, 4) == 0);
	CHECK(pulse_buf_append(&b, body, len) == 0);
	f->bytes = (uint8_t *)b.data;
	f->len = b.len;
	f->n++;
}

/* Take every whole frame out of r; returns -1 once the stream is dead. */
static int drain(pulse_reader *r, struct frames *f, int check)
{
	for (;;) {
		const uint8_t *body;
		uint32_t len;
		int rc = pulse_reader_next(r, &body, &len);
		CHECK(pulse_reader_held(r) <= (size_t)r->max_body + PULSE_FRAME_HDR);
		if (rc < 0) {
			f->dead = 1;
			return -1;
		}
		if (rc == 0)
			return 0;
		CHECK(len <= r->max_body);
		if (check)
			check_body(body, len);
		frames_add(f, body, len);
		pulse_reader_consume(r);
	}
}

/* A tiny generator so the cutting is a function of the input only. */
static uint32_t next_rand(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 16;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t seed = size ? data[0] : 0;

	/* Reader A: the whole stream fed at once (as libpulse-client does),
	 * then the frames checked one by one. */
	struct frames fa = {0}, fb = {0};
	pulse_reader a;
	pulse_reader_init(&a, FUZZ_MAX_BODY);
	size_t fed = 0;
	while (fed < size && !fa.dead) {
		size_t room = (size_t)FUZZ_MAX_BODY + PULSE_FRAME_HDR -
		              pulse_reader_held(&a);
		size_t n = size - fed < room ? size - fed : room;
		if (pulse_reader_feed(&a, data + fed, n) < 0)
			break;
		fed += n;
		drain(&a, &fa, 1);
	}
	drain(&a, &fa, 1);

	/* Reader B: server.c's way, space()/commit() in pieces of 1 byte
	 * to a few KiB. */
	pulse_reader b;
	pulse_reader_init(&b, FUZZ_MAX_BODY);
	size_t pos = 0;
	while (pos < size && !fb.dead) {
		size_t room;
		uint8_t *space = pulse_reader_space(&b, &room);
		if (!space)
			break;
		CHECK(room > 0);
		size_t want = 1 + next_rand(&seed) % 5000;
		if (want > room)
			want = room;
		if (want > size - pos)
			want = size - pos;
		memcpy(space, data + pos, want);
		pulse_reader_commit(&b, want);
		pos += want;
		drain(&b, &fb, 0);
	}

	CHECK(fa.n == fb.n && fa.len == fb.len &&
	      (fa.len == 0 || memcmp(fa.bytes, fb.bytes, fa.len) == 0));
	CHECK(fa.dead == fb.dead);
	free(fa.bytes);
	free(fb.bytes);
	pulse_reader_free(&a);
	pulse_reader_free(&b);
	return 0;
}
