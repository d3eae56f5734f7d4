/*
 * test_proto.c: the I/O-free codec in proto/ (frame.c, msg.c, enc.c).
 *
 * Covers the framing reader fed whole, byte by byte, in seeded random
 * splits and through space()/commit(); the length cap (refused before the
 * body is buffered, accepted exactly at the cap) and the reader's memory
 * bound; pulse_msgpack_check() on every msgpack format and on hostile
 * counts, lengths, nesting, trailing and truncated bytes; decoding with
 * wrong types and missing fields; encode -> decode round trips of every
 * message type; the exact bytes of PROTOCOL.md's worked example; key and
 * pool name syntax.
 *
 * Expected values are written out here (required fields, error texts,
 * bytes) rather than taken from the code under test, so that a change in
 * the codec's tables fails a test. The PRNG is local to each test and
 * seeded, so a failure reproduces.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers ----------------------------------------------------------- */

struct rng {
	uint64_t s;
};

static uint64_t rnd(struct rng *r)
{
	r->s ^= r->s << 13;
	r->s ^= r->s >> 7;
	r->s ^= r->s << 17;
	return r->s;
}

/* Uniform enough in [0, n). */
static size_t rnd_below(struct rng *r, size_t n)
{
	return n ? (size_t)(rnd(r) % n) : 0;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_be32(const void *v)
{
	const uint8_t *p = v;
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static pulse_str S(const char *s)
{
	return (pulse_str){s, strlen(s)};
}

static int str_eq(pulse_str a, const char *p, size_t n)
{
	return a.n == n && (n == 0 || memcmp(a.p, p, n) == 0);
}

/* Decode the body of the frame at b->data + off (checking its header
 * against the buffer) and require its fields. */
static void decode_at(const pulse_buf *b, size_t off, pulse_msg *m,
                      msgpack_unpacked *u)
{
	char err[256] = "";
	ck_assert_uint_ge(b->len, off + 4);
	uint32_t n = get_be32(b->data + off);
	ck_assert_uint_eq(b->len - off - 4, n);
	int rc = pulse_msg_decode((const uint8_t *)b->data + off + 4, n, m, u,
	                          err, sizeof(err));
	ck_assert_msg(rc == 0, "decode: %s", err);
	rc = pulse_msg_require(m, err, sizeof(err));
	ck_assert_msg(rc == 0, "require: %s", err);
}

/* Decode a raw body expecting failure; returns the reason. */
static const char *decode_fails(const void *body, size_t n, char *err,
                                size_t errlen)
{
	pulse_msg m;
	msgpack_unpacked u;
	msgpack_unpacked_init(&u);
	err[0] = '\0';
	int rc = pulse_msg_decode(body, n, &m, &u, err, errlen);
	msgpack_unpacked_destroy(&u);
	ck_assert_msg(rc == -1, "decoded a bad body");
	ck_assert_msg(err[0] != '\0', "no reason given");
	return err;
}

static const char *check_fails(const void *p, size_t n, char *err,
                               size_t errlen)
{
	err[0] = '\0';
	ck_assert_int_eq(pulse_msgpack_check(p, n, err, errlen), -1);
	ck_assert_msg(err[0] != '\0', "no reason given");
	return err;
}

/* Frame i of a test stream: a DISPATCH whose key and payload are derived
 * from i and a size, so the reader's output can be verified. */
static size_t fill_payload(char *p, size_t n, uint64_t i)
{
	for (size_t k = 0; k < n; k++)
		p[k] = (char)(i * 31 + k * 7);
	return n;
}

static void encode_stream_frame(pulse_buf *out, uint64_t i, size_t plen)
{
	char key[32], *pl = malloc(plen ? plen : 1);
	ck_assert_ptr_nonnull(pl);
	snprintf(key, sizeof(key), "job-%llu", (unsigned long long)i);
	fill_payload(pl, plen, i);
	pulse_msg m = {.type = PULSE_T_DISPATCH,
	               .has = PM_ID | PM_POOL | PM_KEY | PM_PAYLOAD,
	               .id = i + 1,
	               .pool = S("demo"),
	               .key = S(key),
	               .payload = {pl, plen}};
	ck_assert_int_eq(pulse_msg_encode(out, &m), 0);
	free(pl);
}

static void verify_stream_frame(const uint8_t *body, uint32_t len,
                                uint64_t i, size_t plen)
{
	char err[256], key[32], *pl = malloc(plen ? plen : 1);
	ck_assert_ptr_nonnull(pl);
	pulse_msg m;
	msgpack_unpacked u;
	msgpack_unpacked_init(&u);
	ck_assert_msg(pulse_msg_decode(body, len, &m, &u, err, sizeof(err)) == 0,
	              "frame %llu: %s", (unsigned long long)i, err);
	ck_assert_uint_eq(m.type, PULSE_T_DISPATCH);
	ck_assert_uint_eq(m.id, i + 1);
	int kl = snprintf(key, sizeof(key), "job-%llu", (unsigned long long)i);
	ck_assert(str_eq(m.key, key, (size_t)kl));
	fill_payload(pl, plen, i);
	ck_assert(str_eq(m.payload, pl, plen));
	msgpack_unpacked_destroy(&u);
	free(pl);
}

/* Take every whole frame out of r, checking them against the stream;
 * *next is the index of the next frame expected. */
static void drain(pulse_reader *r, uint64_t *next, const size_t *sizes,
                  size_t nframes)
{
	const uint8_t *body;
	uint32_t len;
	int rc;
	while ((rc = pulse_reader_next(r, &body, &len)) == 1) {
		ck_assert_uint_lt(*next, nframes);
		verify_stream_frame(body, len, *next, sizes[*next]);
		pulse_reader_consume(r);
		(*next)++;
	}
	ck_assert_int_eq(rc, 0);
}

/* ---- framing ----------------------------------------------------------- */

START_TEST(test_reader_whole)
{
	size_t sizes[] = {0, 5, 1000};
	pulse_buf b = {0};
	for (size_t i = 0; i < NELEM(sizes); i++)
		encode_stream_frame(&b, i, sizes[i]);
	pulse_reader r;
	pulse_reader_init(&r, PULSE_DEFAULT_MAX_PAYLOAD + PULSE_FRAME_OVERHEAD);
	ck_assert_int_eq(pulse_reader_feed(&r, b.data, b.len), 0);
	uint64_t next = 0;
	drain(&r, &next, sizes, NELEM(sizes));
	ck_assert_uint_eq(next, 3);
	ck_assert_uint_eq(r.len - r.off, 0);
	pulse_reader_free(&r);
	pulse_buf_free(&b);
}
END_TEST

START_TEST(test_reader_byte_by_byte)
{
	size_t sizes[] = {3, 0, 300, 70000};
	pulse_buf b = {0};
	size_t ends[NELEM(sizes)];
	for (size_t i = 0; i < NELEM(sizes); i++) {
		encode_stream_frame(&b, i, sizes[i]);
		ends[i] = b.len;
	}
	pulse_reader r;
	pulse_reader_init(&r, 100000);
	uint64_t next = 0;
	for (size_t k = 0; k < b.len; k++) {
		ck_assert_int_eq(pulse_reader_feed(&r, b.data + k, 1), 0);
		uint64_t before = next;
		drain(&r, &next, sizes, NELEM(sizes));
		/* A frame comes out exactly when its last byte arrives. */
		if (next != before) {
			ck_assert_uint_eq(next, before + 1);
			ck_assert_uint_eq(k + 1, ends[before]);
		} else {
			ck_assert(before == NELEM(sizes) || k + 1 < ends[before]);
		}
	}
	ck_assert_uint_eq(next, NELEM(sizes));
	pulse_reader_free(&r);
	pulse_buf_free(&b);
}
END_TEST

START_TEST(test_reader_random_splits)
{
	struct rng g = {0x9e3779b97f4a7c15ull};
	const uint32_t max_body = 40000;
	for (int iter = 0; iter < 300; iter++) {
		size_t nframes = 1 + rnd_below(&g, 8), sizes[8];
		pulse_buf b = {0};
		for (size_t i = 0; i < nframes; i++) {
			/* Mostly small, sometimes near the cap. */
			sizes[i] = rnd_below(&g, 4) ? rnd_below(&g, 200)
			                            : rnd_below(&g, max_body - 100);
			encode_stream_frame(&b, i, sizes[i]);
		}
		pulse_reader r;
		pulse_reader_init(&r, max_body);
		uint64_t next = 0;
		size_t at = 0;
		int via_space = iter & 1;
		while (at < b.len) {
			size_t n = 1 + rnd_below(&g, rnd_below(&g, 3) ? 64 : 9000);
			if (n > b.len - at)
				n = b.len - at;
			if (via_space) {
				size_t room;
				uint8_t *sp = pulse_reader_space(&r, &room);
				ck_assert_ptr_nonnull(sp);
				ck_assert_uint_gt(room, 0);
				ck_assert_uint_le(r.len - r.off + room,
				                  (size_t)max_body + 4);
				if (n > room)
					n = room;
				memcpy(sp, b.data + at, n);
				pulse_reader_commit(&r, n);
			} else {
				/* feed() takes no more than one frame at the cap */
				size_t room = (size_t)max_body + 4 - (r.len - r.off);
				if (n > room)
					n = room;
				ck_assert_int_eq(pulse_reader_feed(&r, b.data + at, n), 0);
			}
			at += n;
			ck_assert_uint_le(r.cap, (size_t)max_body + 4);
			drain(&r, &next, sizes, nframes);
		}
		ck_assert_uint_eq(next, nframes);
		ck_assert_uint_eq(r.len - r.off, 0);
		pulse_reader_free(&r);
		pulse_buf_free(&b);
	}
}
END_TEST

START_TEST(test_reader_truncated)
{
	pulse_buf b = {0};
	encode_stream_frame(&b, 7, 50);
	for (size_t cut = 0; cut < b.len; cut++) {
		pulse_reader r;
		pulse_reader_init(&r, 1000);
		ck_assert_int_eq(pulse_reader_feed(&r, b.data, cut), 0);
		const uint8_t *body;
		uint32_t len;
		ck_assert_int_eq(pulse_reader_next(&r, &body, &len), 0);
		/* consume() without a frame from next() drops nothing. */
		pulse_reader_consume(&r);
		ck_assert_uint_eq(r.len - r.off, cut);
		ck_assert_int_eq(pulse_reader_feed(&r, b.data + cut, b.len - cut), 0);
		ck_assert_int_eq(pulse_reader_next(&r, &body, &len), 1);
		ck_assert_uint_eq(len, b.len - 4);
		pulse_reader_free(&r);
	}
	pulse_buf_free(&b);
}
END_TEST

START_TEST(test_reader_oversized)
{
	const uint32_t cap = 100;
	uint32_t lens[] = {101, 0x10000, 0xffffffffu};
	for (size_t i = 0; i < NELEM(lens); i++) {
		uint8_t hdr[4];
		put_be32(hdr, lens[i]);
		pulse_reader r;
		pulse_reader_init(&r, cap);
		ck_assert_int_eq(pulse_reader_feed(&r, hdr, 4), 0);
		const uint8_t *body;
		uint32_t len;
		ck_assert_int_eq(pulse_reader_next(&r, &body, &len), -1);
		/* Nothing beyond the header is ever taken in. */
		uint8_t more[8] = {0};
		ck_assert_int_eq(pulse_reader_feed(&r, more, 1), -1);
		size_t room = 99;
		ck_assert_ptr_null(pulse_reader_space(&r, &room));
		ck_assert_uint_eq(room, 0);
		ck_assert_uint_eq(r.len - r.off, 4);
		ck_assert_int_eq(pulse_reader_next(&r, &body, &len), -1);
		pulse_reader_free(&r);
	}
	/* The header arriving through space()/commit() byte by byte. */
	pulse_reader r;
	pulse_reader_init(&r, cap);
	uint8_t hdr[4];
	put_be32(hdr, cap + 1);
	for (int k = 0; k < 4; k++) {
		size_t room;
		uint8_t *sp = pulse_reader_space(&r, &room);
		ck_assert_ptr_nonnull(sp);
		*sp = hdr[k];
		pulse_reader_commit(&r, 1);
	}
	size_t room;
	ck_assert_ptr_null(pulse_reader_space(&r, &room));
	const uint8_t *body;
	uint32_t len;
	ck_assert_int_eq(pulse_reader_next(&r, &body, &len), -1);
	pulse_reader_free(&r);
	/* More bytes at once than one frame at the cap: refused whole. */
	pulse_reader_init(&r, cap);
	uint8_t big[200] = {0};
	ck_assert_int_eq(pulse_reader_feed(&r, big, cap + 5), -1);
	ck_assert_uint_eq(r.len, 0);
	pulse_reader_free(&r);
}
END_TEST

START_TEST(test_reader_at_cap)
{
	const uint32_t cap = 100;
	uint8_t f[4 + 100];
	put_be32(f, cap);
	for (size_t k = 0; k < cap; k++)
		f[4 + k] = (uint8_t)k;
	/* feed */
	pulse_reader r;
	pulse_reader_init(&r, cap);
	ck_assert_int_eq(pulse_reader_feed(&r, f, sizeof(f)), 0);
	ck_assert_uint_le(r.cap, sizeof(f));
	const uint8_t *body;
	uint32_t len;
	ck_assert_int_eq(pulse_reader_next(&r, &body, &len), 1);
	ck_assert_uint_eq(len, cap);
	ck_assert_mem_eq(body, f + 4, cap);
	/* A full reader refuses more until the frame is consumed. */
	ck_assert_int_eq(pulse_reader_feed(&r, f, 1), -1);
	size_t room;
	ck_assert_ptr_null(pulse_reader_space(&r, &room));
	pulse_reader_consume(&r);
	ck_assert_int_eq(pulse_reader_next(&r, &body, &len), 0);
	/* space()/commit(): the room offered never passes the bound. */
	size_t at = 0;
	while (at < sizeof(f)) {
		uint8_t *sp = pulse_reader_space(&r, &room);
		ck_assert_ptr_nonnull(sp);
		ck_assert_uint_le(room, sizeof(f) - at);
		size_t n = room < 7 ? room : 7;
		if (n > sizeof(f) - at)
			n = sizeof(f) - at;
		memcpy(sp, f + at, n);
		pulse_reader_commit(&r, n);
		at += n;
	}
	ck_assert_int_eq(pulse_reader_next(&r, &body, &len), 1);
	ck_assert_uint_eq(len, cap);
	ck_assert_mem_eq(body, f + 4, cap);
	pulse_reader_consume(&r);
	pulse_reader_free(&r);
	/* An empty body is a frame too (the decoder refuses it). */
	uint8_t z[4] = {0};
	pulse_reader_init(&r, cap);
	ck_assert_int_eq(pulse_reader_feed(&r, z, 4), 0);
	ck_assert_int_eq(pulse_reader_next(&r, &body, &len), 1);
	ck_assert_uint_eq(len, 0);
	pulse_reader_free(&r);
}
END_TEST

/* A long session of small frames with the occasional big one: the buffer
 * stays within its bound, is compacted rather than grown, and a big buffer
 * is given back once empty. */
START_TEST(test_reader_memory)
{
	struct rng g = {42};
	const uint32_t max_body = 300000;
	pulse_reader r;
	pulse_reader_init(&r, max_body);
	size_t sizes[1] = {0};
	size_t peak = 0;
	for (uint64_t i = 0; i < 20000; i++) {
		pulse_buf b = {0};
		sizes[0] = i % 5000 == 4999 ? 250000 : rnd_below(&g, 100);
		encode_stream_frame(&b, 0, sizes[0]);
		size_t at = 0;
		while (at < b.len) {
			size_t room;
			uint8_t *sp = pulse_reader_space(&r, &room);
			ck_assert_ptr_nonnull(sp);
			size_t n = b.len - at < room ? b.len - at : room;
			memcpy(sp, b.data + at, n);
			pulse_reader_commit(&r, n);
			at += n;
		}
		if (r.cap > peak)
			peak = r.cap;
		uint64_t next = 0;
		drain(&r, &next, sizes, 1);
		ck_assert_uint_eq(next, 1);
		ck_assert_uint_le(r.off, r.len);
		pulse_buf_free(&b);
		if (sizes[0] == 250000)
			ck_assert_uint_eq(r.cap, 0); /* given back */
		else
			ck_assert_uint_le(r.cap, 8192);
	}
	ck_assert_uint_le(peak, (size_t)max_body + 4);
	pulse_reader_free(&r);
}
END_TEST

/* Pipelined frames fed in one go: consume() compacts, so the buffer does
 * not creep forward. */
START_TEST(test_reader_compacts)
{
	size_t sizes[64];
	pulse_buf b = {0};
	size_t last = 0;
	for (size_t i = 0; i < NELEM(sizes); i++) {
		sizes[i] = 40;
		last = b.len;
		encode_stream_frame(&b, i, sizes[i]);
	}
	last = b.len - last; /* the last frame's size */
	pulse_reader r;
	pulse_reader_init(&r, 100000);
	uint64_t next = 0;
	for (int round = 0; round < 50; round++) {
		/* Feed everything but the last 3 bytes, drain, then the rest. */
		ck_assert_int_eq(pulse_reader_feed(&r, b.data, b.len - 3), 0);
		next = 0;
		drain(&r, &next, sizes, NELEM(sizes));
		ck_assert_uint_eq(next, NELEM(sizes) - 1);
		ck_assert_uint_eq(r.len - r.off, last - 3);
		ck_assert_int_eq(pulse_reader_feed(&r, b.data + b.len - 3, 3), 0);
		const uint8_t *body;
		uint32_t len;
		ck_assert_int_eq(pulse_reader_next(&r, &body, &len), 1);
		pulse_reader_consume(&r);
		ck_assert_uint_eq(r.len, 0);
		ck_assert_uint_le(r.cap, 2 * b.len);
	}
	pulse_reader_free(&r);
	pulse_buf_free(&b);
}
END_TEST

/* A caller that reads on without draining (as libpulse-client does)
 * is offered modest room while whole frames are held, not the full cap. */
START_TEST(test_reader_space_modest)
{
	size_t sizes[3] = {10, 10, 10};
	pulse_buf b = {0};
	for (size_t i = 0; i < NELEM(sizes); i++)
		encode_stream_frame(&b, i, sizes[i]);
	pulse_reader r;
	pulse_reader_init(&r, 1000000);
	ck_assert_int_eq(pulse_reader_feed(&r, b.data, b.len - 5), 0);
	for (int k = 0; k < 3; k++) {
		size_t room;
		ck_assert_ptr_nonnull(pulse_reader_space(&r, &room));
		ck_assert_uint_ge(room, 1);
		ck_assert_uint_le(r.cap, 8192);
	}
	size_t room;
	uint8_t *sp = pulse_reader_space(&r, &room);
	memcpy(sp, b.data + b.len - 5, 5);
	pulse_reader_commit(&r, 5);
	uint64_t next = 0;
	drain(&r, &next, sizes, NELEM(sizes));
	ck_assert_uint_eq(next, 3);
	pulse_reader_free(&r);
	pulse_buf_free(&b);
}
END_TEST

/* A frame from next() stays put while the caller reads more through
 * space()/commit(). */
START_TEST(test_reader_frame_stable)
{
	size_t sizes[2] = {10, 5000};
	pulse_buf b = {0};
	encode_stream_frame(&b, 0, sizes[0]);
	size_t first = b.len;
	encode_stream_frame(&b, 1, sizes[1]);
	pulse_reader r;
	pulse_reader_init(&r, 100000);
	ck_assert_int_eq(pulse_reader_feed(&r, b.data, first), 0);
	const uint8_t *body;
	uint32_t len;
	ck_assert_int_eq(pulse_reader_next(&r, &body, &len), 1);
	uint8_t copy[64];
	memcpy(copy, body, len);
	size_t at = first;
	size_t room;
	uint8_t *sp;
	while (at < b.len && (sp = pulse_reader_space(&r, &room)) != NULL) {
		size_t n = b.len - at < room ? b.len - at : room;
		memcpy(sp, b.data + at, n);
		pulse_reader_commit(&r, n);
		at += n;
	}
	ck_assert_mem_eq(body, copy, len);
	verify_stream_frame(body, len, 0, sizes[0]);
	pulse_reader_consume(&r);
	/* The rest arrives once the frame is released. */
	while (at < b.len) {
		sp = pulse_reader_space(&r, &room);
		ck_assert_ptr_nonnull(sp);
		size_t n = b.len - at < room ? b.len - at : room;
		memcpy(sp, b.data + at, n);
		pulse_reader_commit(&r, n);
		at += n;
	}
	uint64_t next = 1;
	drain(&r, &next, sizes, 2);
	ck_assert_uint_eq(next, 2);
	pulse_reader_free(&r);
	pulse_buf_free(&b);
}
END_TEST

/* ---- pulse_msgpack_check ----------------------------------------------- */

static int sbuf_write(void *data, const char *buf, size_t len)
{
	return msgpack_sbuffer_write(data, buf, len);
}

START_TEST(test_check_all_formats)
{
	msgpack_sbuffer sb;
	msgpack_sbuffer_init(&sb);
	msgpack_packer pk;
	msgpack_packer_init(&pk, &sb, sbuf_write);
	const size_t bigsz = 70000;
	char *big = malloc(bigsz);
	ck_assert_ptr_nonnull(big);
	memset(big, 'x', bigsz);
	msgpack_pack_array(&pk, 33);
	msgpack_pack_nil(&pk);
	msgpack_pack_true(&pk);
	msgpack_pack_false(&pk);
	msgpack_pack_uint8(&pk, 5);            /* positive fixint */
	msgpack_pack_int8(&pk, -3);            /* negative fixint */
	msgpack_pack_fix_uint8(&pk, 200);      /* 0xcc */
	msgpack_pack_fix_uint16(&pk, 60000);   /* 0xcd */
	msgpack_pack_fix_uint32(&pk, 1u << 31);/* 0xce */
	msgpack_pack_fix_uint64(&pk, 1ull << 63);
	msgpack_pack_fix_int8(&pk, -100);      /* 0xd0 */
	msgpack_pack_fix_int16(&pk, -30000);
	msgpack_pack_fix_int32(&pk, -2000000000);
	msgpack_pack_fix_int64(&pk, -(1ll << 62));
	msgpack_pack_float(&pk, 1.5f);
	msgpack_pack_double(&pk, 2.5);
	msgpack_pack_str(&pk, 3);              /* fixstr */
	msgpack_pack_str_body(&pk, "abc", 3);
	msgpack_pack_str(&pk, 40);             /* str 8 */
	msgpack_pack_str_body(&pk, big, 40);
	msgpack_pack_str(&pk, 300);            /* str 16 */
	msgpack_pack_str_body(&pk, big, 300);
	msgpack_pack_str(&pk, 70000);          /* str 32 */
	msgpack_pack_str_body(&pk, big, 70000);
	msgpack_pack_bin(&pk, 3);              /* bin 8 */
	msgpack_pack_bin_body(&pk, "abc", 3);
	msgpack_pack_bin(&pk, 300);            /* bin 16 */
	msgpack_pack_bin_body(&pk, big, 300);
	msgpack_pack_bin(&pk, 70000);          /* bin 32 */
	msgpack_pack_bin_body(&pk, big, 70000);
	msgpack_pack_array(&pk, 20);           /* array 16 */
	for (int i = 0; i < 20; i++)
		msgpack_pack_nil(&pk);
	msgpack_pack_map(&pk, 1);              /* fixmap */
	msgpack_pack_nil(&pk);
	msgpack_pack_nil(&pk);
	msgpack_pack_map(&pk, 16);             /* map 16 */
	for (int i = 0; i < 32; i++)
		msgpack_pack_uint8(&pk, (uint8_t)i);
	static const size_t ext_sizes[] = {1, 2, 4, 8, 16, 3, 300, 70000};
	for (size_t i = 0; i < NELEM(ext_sizes); i++) { /* fixext, ext 8/16/32 */
		msgpack_pack_ext(&pk, ext_sizes[i], 7);
		msgpack_pack_ext_body(&pk, big, ext_sizes[i]);
	}
	ck_assert_uint_eq((uint8_t)sb.data[0], 0xdc); /* array 16 of 33 */
	char err[256] = "";
	int rc = pulse_msgpack_check((const uint8_t *)sb.data, sb.size, err,
	                             sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	/* msgpack-c agrees it is one whole object. */
	msgpack_unpacked u;
	msgpack_unpacked_init(&u);
	size_t off = 0;
	ck_assert_int_eq(msgpack_unpack_next(&u, sb.data, sb.size, &off),
	                 MSGPACK_UNPACK_SUCCESS);
	ck_assert_uint_eq(off, sb.size);
	ck_assert_uint_eq(u.data.via.array.size, 33);
	msgpack_unpacked_destroy(&u);
	msgpack_sbuffer_destroy(&sb);
	free(big);

	/* The 32-bit container forms, which the packer never picks itself. */
	static const uint8_t a32[] = {0xdd, 0, 0, 0, 2, 0x01, 0x02};
	static const uint8_t m32[] = {0xdf, 0, 0, 0, 1, 0xa1, 'k', 0xc0};
	static const uint8_t m16[] = {0xde, 0, 1, 0xa1, 'k', 0xc3};
	ck_assert_int_eq(pulse_msgpack_check(a32, sizeof(a32), NULL, 0), 0);
	ck_assert_int_eq(pulse_msgpack_check(m32, sizeof(m32), NULL, 0), 0);
	ck_assert_int_eq(pulse_msgpack_check(m16, sizeof(m16), NULL, 0), 0);
}
END_TEST

START_TEST(test_check_huge_counts)
{
	char err[256];
	/* array32 claiming 2^32-1 elements in a 10-byte body. */
	static const uint8_t a[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 1, 1, 1, 1, 1};
	ck_assert_str_eq(check_fails(a, sizeof(a), err, sizeof(err)),
	                 "array of 4294967295 elements at byte 0 cannot fit in "
	                 "the 5 bytes left");
	/* map32: 2^31 entries. */
	static const uint8_t m[] = {0xdf, 0x80, 0, 0, 0, 1, 1, 1, 1, 1};
	ck_assert_ptr_nonnull(strstr(check_fails(m, sizeof(m), err, sizeof(err)),
	                             "map of 2147483648 entries"));
	/* A map needs two bytes per entry: 3 entries in 5 bytes cannot be. */
	static const uint8_t m3[] = {0x83, 1, 1, 1, 1, 1};
	check_fails(m3, sizeof(m3), err, sizeof(err));
	/* The same inside a map, past the first element. */
	static const uint8_t nested[] = {0x81, 0xa1, 'k', 0xdc, 0xff, 0xff, 0xc0};
	ck_assert_ptr_nonnull(strstr(check_fails(nested, sizeof(nested), err,
	                                         sizeof(err)),
	                             "at byte 3"));
	/* str/bin/ext lengths past the end. */
	static const uint8_t s32[] = {0xdb, 0xff, 0xff, 0xff, 0xff, 'a', 'b'};
	static const uint8_t b32[] = {0xc6, 0xff, 0xff, 0xff, 0xff, 'a', 'b'};
	static const uint8_t e32[] = {0xc9, 0xff, 0xff, 0xff, 0xff, 1, 'b'};
	static const uint8_t s8[] = {0xd9, 10, 'a', 'b', 'c'};
	static const uint8_t e8[] = {0xc7, 2, 1, 'a'}; /* type byte + 2 > 2 */
	static const uint8_t fs[] = {0xa5, 'a', 'b'};
	check_fails(s32, sizeof(s32), err, sizeof(err));
	ck_assert_ptr_nonnull(strstr(err, "4294967295-byte value"));
	check_fails(b32, sizeof(b32), err, sizeof(err));
	check_fails(e32, sizeof(e32), err, sizeof(err));
	check_fails(s8, sizeof(s8), err, sizeof(err));
	check_fails(e8, sizeof(e8), err, sizeof(err));
	check_fails(fs, sizeof(fs), err, sizeof(err));
	/* Exactly fitting counts pass. */
	static const uint8_t fit[] = {0x93, 1, 2, 3};
	static const uint8_t fitm[] = {0x82, 1, 2, 3, 4};
	ck_assert_int_eq(pulse_msgpack_check(fit, sizeof(fit), NULL, 0), 0);
	ck_assert_int_eq(pulse_msgpack_check(fitm, sizeof(fitm), NULL, 0), 0);
}
END_TEST

START_TEST(test_check_depth)
{
	uint8_t b[32];
	char err[256];
	/* PULSE_MAX_DEPTH containers nested: fine; one more: refused. */
	for (int depth = 1; depth <= PULSE_MAX_DEPTH + 3; depth++) {
		/* map{nil: array[map{nil: ...}]}: a map needs a key first */
		size_t n = 0;
		for (int i = 0; i < depth; i++) {
			if (i & 1) {
				b[n++] = 0x91;
			} else {
				b[n++] = 0x81;
				b[n++] = 0xc0;
			}
		}
		b[n++] = 0xc0;
		int rc = pulse_msgpack_check(b, n, err, sizeof(err));
		if (depth <= PULSE_MAX_DEPTH) {
			ck_assert_msg(rc == 0, "depth %d: %s", depth, err);
		} else {
			ck_assert_int_eq(rc, -1);
			ck_assert_ptr_nonnull(strstr(err, "nesting deeper than 8"));
		}
	}
}
END_TEST

START_TEST(test_check_trailing_truncated_reserved)
{
	char err[256];
	pulse_buf b = {0};
	encode_stream_frame(&b, 3, 20);
	const uint8_t *body = (const uint8_t *)b.data + 4;
	size_t n = b.len - 4;
	ck_assert_int_eq(pulse_msgpack_check(body, n, NULL, 0), 0);
	/* Every proper prefix is truncated. */
	for (size_t k = 0; k < n; k++)
		check_fails(body, k, err, sizeof(err));
	ck_assert_str_eq(check_fails(body, 0, err, sizeof(err)), "empty body");
	/* Trailing bytes after the object. */
	uint8_t *t = malloc(n + 2);
	memcpy(t, body, n);
	t[n] = 0xc0;
	t[n + 1] = 0xc0;
	char want[128];
	snprintf(want, sizeof(want),
	         "2 trailing bytes after the object at byte %zu", n);
	ck_assert_str_eq(check_fails(t, n + 2, err, sizeof(err)), want);
	free(t);
	/* Two top-level objects. */
	static const uint8_t two[] = {0x80, 0x80};
	check_fails(two, sizeof(two), err, sizeof(err));
	/* The reserved byte 0xc1, top level and nested. */
	static const uint8_t r1[] = {0xc1};
	static const uint8_t r2[] = {0x81, 0xa1, 't', 0xc1};
	ck_assert_str_eq(check_fails(r1, 1, err, sizeof(err)),
	                 "reserved byte 0xc1 at byte 0");
	ck_assert_str_eq(check_fails(r2, sizeof(r2), err, sizeof(err)),
	                 "reserved byte 0xc1 at byte 3");
	pulse_buf_free(&b);
}
END_TEST

/* Whatever the walker accepts, msgpack-c unpacks whole: random bytes, and
 * random mutations of a real frame. */
START_TEST(test_check_agrees_with_msgpack)
{
	struct rng g = {7};
	pulse_buf b = {0};
	encode_stream_frame(&b, 9, 30);
	uint8_t buf[64];
	int accepted = 0;
	for (int iter = 0; iter < 200000; iter++) {
		size_t n;
		if (iter & 1) {
			n = 1 + rnd_below(&g, sizeof(buf));
			for (size_t k = 0; k < n; k++)
				buf[k] = (uint8_t)rnd(&g);
		} else {
			n = b.len - 4 < sizeof(buf) ? b.len - 4 : sizeof(buf);
			memcpy(buf, b.data + 4, n);
			for (int k = 0; k < 3; k++)
				buf[rnd_below(&g, n)] = (uint8_t)rnd(&g);
			n -= rnd_below(&g, 3);
		}
		if (pulse_msgpack_check(buf, n, NULL, 0) < 0)
			continue;
		accepted++;
		msgpack_unpacked u;
		msgpack_unpacked_init(&u);
		size_t off = 0;
		ck_assert_int_eq(msgpack_unpack_next(&u, (const char *)buf, n, &off),
		                 MSGPACK_UNPACK_SUCCESS);
		ck_assert_uint_eq(off, n);
		msgpack_unpacked_destroy(&u);
	}
	ck_assert_int_gt(accepted, 1000);
	pulse_buf_free(&b);
}
END_TEST

/* ---- decoding ---------------------------------------------------------- */

enum wrong { W_UINT, W_NEG, W_FLOAT, W_STR, W_BIN, W_NIL, W_BOOL,
             W_ARR_UINT, W_ARR_STR, W_MAP, W_BIG };

static void pack_wrong(msgpack_packer *pk, enum wrong w)
{
	switch (w) {
	case W_UINT: msgpack_pack_uint64(pk, 5); break;
	case W_NEG: msgpack_pack_int64(pk, -1); break;
	case W_FLOAT: msgpack_pack_double(pk, 1.0); break;
	case W_STR: msgpack_pack_str(pk, 1); msgpack_pack_str_body(pk, "x", 1); break;
	case W_BIN: msgpack_pack_bin(pk, 1); msgpack_pack_bin_body(pk, "x", 1); break;
	case W_NIL: msgpack_pack_nil(pk); break;
	case W_BOOL: msgpack_pack_true(pk); break;
	case W_ARR_UINT:
		msgpack_pack_array(pk, 2);
		msgpack_pack_str(pk, 1);
		msgpack_pack_str_body(pk, "x", 1);
		msgpack_pack_uint8(pk, 1);
		break;
	case W_ARR_STR:
		msgpack_pack_array(pk, 1);
		msgpack_pack_str(pk, 1);
		msgpack_pack_str_body(pk, "x", 1);
		break;
	case W_MAP: msgpack_pack_map(pk, 0); break;
	case W_BIG: msgpack_pack_uint64(pk, 1ull << 32); break;
	}
}

static void pack_key(msgpack_packer *pk, const char *k)
{
	msgpack_pack_str(pk, strlen(k));
	msgpack_pack_str_body(pk, k, strlen(k));
}

START_TEST(test_decode_wrong_types)
{
	static const struct {
		const char *field;
		enum wrong w;
		const char *expect;
	} cases[] = {
		{"t", W_STR, "uint32"},    {"t", W_NEG, "uint32"},
		{"t", W_BIG, "uint32"},    {"id", W_STR, "uint"},
		{"id", W_NEG, "uint"},     {"id", W_FLOAT, "uint"},
		{"v", W_BOOL, "uint"},     {"r", W_NIL, "uint"},
		{"timeout", W_STR, "uint"}, {"role", W_UINT, "str"},
		{"pool", W_BIN, "str"},    {"key", W_UINT, "str"},
		{"key", W_ARR_STR, "str"}, {"name", W_NIL, "str"},
		{"code", W_ARR_STR, "str"}, {"msg", W_MAP, "str"},
		{"node", W_BOOL, "str"},   {"worker", W_UINT, "str"},
		{"payload", W_UINT, "bin or str"}, {"payload", W_NIL, "bin or str"},
		{"notify", W_UINT, "bool"}, {"local", W_STR, "bool"},
		{"exists", W_NIL, "bool"}, {"keys", W_ARR_UINT, "array of str"},
		{"keys", W_STR, "array of str"}, {"workers", W_ARR_STR, "array of maps"},
		{"workers", W_MAP, "array of maps"}, {"status", W_ARR_STR, "map"},
		{"status", W_STR, "map"},
	};
	for (size_t i = 0; i < NELEM(cases); i++) {
		msgpack_sbuffer sb;
		msgpack_sbuffer_init(&sb);
		msgpack_packer pk;
		msgpack_packer_init(&pk, &sb, sbuf_write);
		int is_t = strcmp(cases[i].field, "t") == 0;
		msgpack_pack_map(&pk, is_t ? 1 : 2);
		if (!is_t) {
			pack_key(&pk, "t");
			msgpack_pack_uint8(&pk, PULSE_T_DISPATCH);
		}
		pack_key(&pk, cases[i].field);
		pack_wrong(&pk, cases[i].w);
		char err[256], want[128];
		snprintf(want, sizeof(want), "field '%s': expected %s",
		         cases[i].field, cases[i].expect);
		ck_assert_str_eq(decode_fails(sb.data, sb.size, err, sizeof(err)),
		                 want);
		msgpack_sbuffer_destroy(&sb);
	}
}
END_TEST

START_TEST(test_decode_shape)
{
	char err[256];
	/* Not a map. */
	static const uint8_t arr[] = {0x91, 0x01};
	ck_assert_str_eq(decode_fails(arr, sizeof(arr), err, sizeof(err)),
	                 "body is not a map");
	/* No "t". */
	static const uint8_t no_t[] = {0x81, 0xa2, 'i', 'd', 0x01};
	ck_assert_str_eq(decode_fails(no_t, sizeof(no_t), err, sizeof(err)),
	                 "missing field 't'");
	/* A key that is not a str. */
	static const uint8_t intkey[] = {0x82, 0xa1, 't', 0x04, 0x01, 0x02};
	ck_assert_str_eq(decode_fails(intkey, sizeof(intkey), err, sizeof(err)),
	                 "map key 1 is not a str");
	/* A field given twice. */
	static const uint8_t dup[] = {0x83, 0xa1, 't', 0x04, 0xa2, 'i', 'd', 0x01,
	                              0xa2, 'i', 'd', 0x02};
	ck_assert_str_eq(decode_fails(dup, sizeof(dup), err, sizeof(err)),
	                 "field 'id': given twice");
	static const uint8_t dupt[] = {0x82, 0xa1, 't', 0x04, 0xa1, 't', 0x04};
	ck_assert_str_eq(decode_fails(dupt, sizeof(dupt), err, sizeof(err)),
	                 "field 't': given twice");
	/* The walker runs first: garbage never reaches msgpack-c. */
	static const uint8_t huge[] = {0xdf, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0};
	ck_assert_ptr_nonnull(strstr(decode_fails(huge, sizeof(huge), err,
	                                          sizeof(err)),
	                             "cannot fit"));
}
END_TEST

START_TEST(test_decode_fields)
{
	/* Unknown fields (of any type) are skipped; payload as str accepted;
	 * strings point into the body; t as a non-minimal uint16. */
	static const uint8_t body[] = {
		0x86,
		0xa1, 't', 0xcd, 0x00, 0x0a,                  /* t: 10 */
		0xa3, 'x', 'y', 'z', 0xd4, 0x01, 0x02,        /* xyz: fixext */
		0xa2, 'i', 'd', 0xcf, 0, 0, 0, 1, 0, 0, 0, 0, /* id: 2^32 */
		0xa3, 'k', 'e', 'y', 0xa0,                    /* key: "" */
		0xa7, 'p', 'a', 'y', 'l', 'o', 'a', 'd', 0xa2, 'h', 'i',
		0xa4, 'p', 'o', 'o', 'l', 0xa1, 'p',
	};
	pulse_msg m;
	msgpack_unpacked u;
	msgpack_unpacked_init(&u);
	char err[256];
	ck_assert_int_eq(pulse_msg_decode(body, sizeof(body), &m, &u, err,
	                                  sizeof(err)), 0);
	ck_assert_uint_eq(m.type, PULSE_T_DISPATCH);
	ck_assert_uint_eq(m.has, PM_ID | PM_KEY | PM_PAYLOAD | PM_POOL);
	ck_assert_uint_eq(m.id, 1ull << 32);
	ck_assert_uint_eq(m.key.n, 0);
	ck_assert_ptr_nonnull(m.key.p);
	ck_assert(str_eq(m.payload, "hi", 2));
	ck_assert(str_eq(m.pool, "p", 1));
	/* zero-copy */
	ck_assert((const uint8_t *)m.payload.p > body &&
	          (const uint8_t *)m.payload.p < body + sizeof(body));
	ck_assert_ptr_eq(m.pool.p, (const char *)body + sizeof(body) - 1);
	/* the key is empty, which require() does not judge (INVALID is the
	 * daemon's answer, not PROTOCOL) */
	ck_assert_int_eq(pulse_msg_require(&m, err, sizeof(err)), 0);
	msgpack_unpacked_destroy(&u);
}
END_TEST

/* The structured fields, as pulsed builds them with pulse_enc. */
START_TEST(test_decode_structured)
{
	pulse_buf b = {0};
	pulse_enc e;
	pulse_enc_begin(&e, &b, PULSE_T_OK, 9, 3);
	pulse_enc_key(&e, "keys");
	msgpack_pack_array(&e.pk, 2);
	msgpack_pack_str(&e.pk, 2);
	msgpack_pack_str_body(&e.pk, "k1", 2);
	msgpack_pack_str(&e.pk, 2);
	msgpack_pack_str_body(&e.pk, "k2", 2);
	pulse_enc_key(&e, "workers");
	msgpack_pack_array(&e.pk, 1);
	msgpack_pack_map(&e.pk, 2);
	pulse_enc_cstr(&e, "id", "w1");
	pulse_enc_uint(&e, "jobs", 3);
	pulse_enc_key(&e, "status");
	msgpack_pack_map(&e.pk, 1);
	pulse_enc_cstr(&e, "node", "n1");
	ck_assert_int_eq(pulse_enc_end(&e), 0);
	pulse_msg m;
	msgpack_unpacked u;
	msgpack_unpacked_init(&u);
	decode_at(&b, 0, &m, &u);
	ck_assert_uint_eq(m.has, PM_ID | PM_KEYS | PM_WORKERS | PM_STATUS);
	ck_assert_uint_eq(m.keys->via.array.size, 2);
	ck_assert(str_eq((pulse_str){m.keys->via.array.ptr[1].via.str.ptr,
	                             m.keys->via.array.ptr[1].via.str.size},
	                 "k2", 2));
	ck_assert_uint_eq(m.workers->via.array.ptr[0].via.map.size, 2);
	ck_assert_uint_eq(m.status->via.map.size, 1);
	msgpack_unpacked_destroy(&u);
	/* Reusing u for the next message is fine. */
	msgpack_unpacked_init(&u);
	decode_at(&b, 0, &m, &u);
	decode_at(&b, 0, &m, &u);
	msgpack_unpacked_destroy(&u);
	pulse_buf_free(&b);
}
END_TEST

/* ---- required fields --------------------------------------------------- */

/* Written out from the protocol, not from msg.c's table. */
static const struct {
	uint32_t type;
	const char *name;
	uint64_t need;
} required[] = {
	{PULSE_T_HELLO, "HELLO", PM_V | PM_ROLE},
	{PULSE_T_WELCOME, "WELCOME", PM_V | PM_NODE},
	{PULSE_T_ERROR, "ERROR", PM_CODE},
	{PULSE_T_OK, "OK", PM_ID},
	{PULSE_T_DISPATCH, "DISPATCH", PM_ID | PM_POOL | PM_KEY},
	{PULSE_T_STOP, "STOP", PM_ID | PM_POOL | PM_KEY},
	{PULSE_T_NOTIFY, "NOTIFY", PM_ID | PM_POOL | PM_KEY},
	{PULSE_T_JOBS, "JOBS", PM_ID | PM_POOL},
	{PULSE_T_JOB, "JOB", PM_ID | PM_POOL | PM_KEY},
	{PULSE_T_WORKERS, "WORKERS", PM_ID | PM_POOL},
	{PULSE_T_STATUS, "STATUS", PM_ID},
	{PULSE_T_START, "START", PM_ID | PM_KEY},
	{PULSE_T_HALT, "HALT", PM_ID | PM_KEY},
	{PULSE_T_EVENT, "EVENT", PM_ID | PM_KEY},
	{PULSE_T_ACK, "ACK", PM_ID | PM_R},
	{PULSE_T_DETACH, "DETACH", PM_ID},
	{PULSE_T_SEND, "SEND", PM_ID | PM_POOL | PM_KEY},
	{PULSE_T_MESSAGE, "MESSAGE", PM_ID | PM_KEY},
};

static const struct {
	uint64_t bit;
	const char *name;
} bitnames[] = {
	{PM_ID, "id"}, {PM_V, "v"}, {PM_ROLE, "role"}, {PM_POOL, "pool"},
	{PM_KEY, "key"}, {PM_CODE, "code"}, {PM_NODE, "node"}, {PM_R, "r"},
};

/* A message of type t with exactly the fields in `has`, all valid. */
static pulse_msg full_msg(uint32_t t, uint64_t has)
{
	return (pulse_msg){.type = t, .has = has, .id = 77, .v = 1, .r = 2,
	                   .timeout_ms = 1500, .notify = 1, .local = 0,
	                   .exists = 1, .role = S("worker"), .pool = S("demo"),
	                   .key = S("job/1"), .name = S("w-a"),
	                   .payload = {"p\0q", 3}, .code = S("HANDLER"),
	                   .msg = S("boom"), .node = S("node-1"),
	                   .worker = S("w-a"), .match = S("job/*"),
	                   .limit = 25, .count = 40000, .max_body = 4096,
	                   .stream = 1, .more = 1, .messages = 1};
}

START_TEST(test_require)
{
	char err[256];
	for (size_t i = 0; i < NELEM(required); i++) {
		pulse_msg m = full_msg(required[i].type, required[i].need);
		ck_assert_msg(pulse_msg_require(&m, err, sizeof(err)) == 0,
		              "%s: %s", required[i].name, err);
		for (size_t k = 0; k < NELEM(bitnames); k++) {
			if (!(required[i].need & bitnames[k].bit))
				continue;
			m.has = required[i].need & ~bitnames[k].bit;
			char want[128];
			snprintf(want, sizeof(want), "%s: missing field '%s'",
			         required[i].name, bitnames[k].name);
			ck_assert_int_eq(pulse_msg_require(&m, err, sizeof(err)), -1);
			ck_assert_str_eq(err, want);
		}
	}
	pulse_msg m = full_msg(99, PM_ID);
	ck_assert_int_eq(pulse_msg_require(&m, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "unknown message type 99");
	m = full_msg(0, PM_ID);
	ck_assert_int_eq(pulse_msg_require(&m, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "unknown message type 0");
	/* ACK r outside 0..2 */
	m = full_msg(PULSE_T_ACK, PM_ID | PM_R);
	for (uint64_t r = 0; r <= 2; r++) {
		m.r = r;
		ck_assert_int_eq(pulse_msg_require(&m, err, sizeof(err)), 0);
	}
	m.r = 3;
	ck_assert_int_eq(pulse_msg_require(&m, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "ACK: field 'r' is 3, not 0, 1 or 2");
	/* id 0 is not a request id; ERROR may carry it. */
	m = full_msg(PULSE_T_DISPATCH, PM_ID | PM_POOL | PM_KEY);
	m.id = 0;
	ck_assert_int_eq(pulse_msg_require(&m, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "DISPATCH: field 'id' must not be 0");
	m = full_msg(PULSE_T_ERROR, PM_ID | PM_CODE);
	m.id = 0;
	ck_assert_int_eq(pulse_msg_require(&m, err, sizeof(err)), 0);
}
END_TEST

/* ---- encoding ---------------------------------------------------------- */

static void assert_same(const pulse_msg *a, const pulse_msg *b)
{
	ck_assert_uint_eq(a->type, b->type);
	ck_assert_uint_eq(a->has, b->has);
#define SAME_U(f, bit) if (a->has & bit) ck_assert_uint_eq(a->f, b->f)
#define SAME_S(f, bit) if (a->has & bit) ck_assert(str_eq(b->f, a->f.p, a->f.n))
	SAME_U(id, PM_ID);
	SAME_U(v, PM_V);
	SAME_U(r, PM_R);
	SAME_U(timeout_ms, PM_TIMEOUT);
	SAME_U(notify, PM_NOTIFY);
	SAME_U(messages, PM_MESSAGES);
	SAME_U(local, PM_LOCAL);
	SAME_U(exists, PM_EXISTS);
	SAME_U(limit, PM_LIMIT);
	SAME_U(count, PM_COUNT);
	SAME_U(max_body, PM_MAX_BODY);
	SAME_U(stream, PM_STREAM);
	SAME_U(more, PM_MORE);
	SAME_S(match, PM_MATCH);
	SAME_S(role, PM_ROLE);
	SAME_S(pool, PM_POOL);
	SAME_S(key, PM_KEY);
	SAME_S(name, PM_NAME);
	SAME_S(payload, PM_PAYLOAD);
	SAME_S(code, PM_CODE);
	SAME_S(msg, PM_MSG);
	SAME_S(node, PM_NODE);
	SAME_S(worker, PM_WORKER);
#undef SAME_U
#undef SAME_S
}

START_TEST(test_round_trip)
{
	const uint64_t scalars = PM_ID | PM_V | PM_ROLE | PM_POOL | PM_KEY |
	                         PM_NAME | PM_PAYLOAD | PM_CODE | PM_MSG |
	                         PM_NODE | PM_WORKER | PM_R | PM_NOTIFY |
	                         PM_LOCAL | PM_EXISTS | PM_TIMEOUT |
	                         PM_LIMIT | PM_COUNT | PM_MAX_BODY |
	                         PM_STREAM | PM_MORE | PM_MATCH | PM_MESSAGES;
	pulse_buf b = {0};
	for (size_t i = 0; i < NELEM(required); i++) {
		/* Minimal, then every scalar field; through one buffer and a
		 * reader, as on a socket. */
		pulse_msg in[2] = {full_msg(required[i].type, required[i].need),
		                   full_msg(required[i].type, scalars)};
		in[1].id = 1000 + i;
		in[1].r = i % 3;
		in[1].notify = (int)(i & 1);
		in[1].local = !in[1].notify;
		in[1].messages = in[1].local;
		in[1].timeout_ms = 1ull << (i + 20);
		b.len = 0;
		for (int k = 0; k < 2; k++)
			ck_assert_int_eq(pulse_msg_encode(&b, &in[k]), 0);
		pulse_reader r;
		pulse_reader_init(&r, 1000);
		ck_assert_int_eq(pulse_reader_feed(&r, b.data, b.len), 0);
		for (int k = 0; k < 2; k++) {
			const uint8_t *body;
			uint32_t len;
			ck_assert_int_eq(pulse_reader_next(&r, &body, &len), 1);
			pulse_msg out;
			msgpack_unpacked u;
			msgpack_unpacked_init(&u);
			char err[256];
			ck_assert_int_eq(pulse_msg_decode(body, len, &out, &u, err,
			                                  sizeof(err)), 0);
			ck_assert_msg(pulse_msg_require(&out, err, sizeof(err)) == 0,
			              "%s: %s", required[i].name, err);
			/* Replies always carry an id, 0 when none was given. */
			pulse_msg want = in[k];
			if ((want.type == PULSE_T_OK || want.type == PULSE_T_ERROR) &&
			    !(want.has & PM_ID)) {
				want.has |= PM_ID;
				want.id = 0;
			}
			/* The map holds exactly the fields announced. */
			ck_assert_uint_eq(u.data.via.map.size,
			                  1 + (uint32_t)__builtin_popcountll(want.has));
			assert_same(&want, &out);
			msgpack_unpacked_destroy(&u);
			pulse_reader_consume(&r);
		}
		pulse_reader_free(&r);
	}
	pulse_buf_free(&b);
}
END_TEST

START_TEST(test_encode_error_ok)
{
	pulse_buf b = {0};
	ck_assert_int_eq(pulse_encode_error(&b, 0, PULSE_E_TOO_LARGE, "too big"),
	                 0);
	size_t second = b.len;
	ck_assert_int_eq(pulse_encode_ok(&b, 12), 0);
	size_t third = b.len;
	ck_assert_int_eq(pulse_encode_error(&b, 5, PULSE_E_JOB_EXISTS, NULL), 0);
	pulse_msg m;
	msgpack_unpacked u;
	msgpack_unpacked_init(&u);
	pulse_buf one = {b.data, second, second};
	decode_at(&one, 0, &m, &u);
	ck_assert_uint_eq(m.type, PULSE_T_ERROR);
	ck_assert_uint_eq(m.has, PM_ID | PM_CODE | PM_MSG); /* id 0 written */
	ck_assert_uint_eq(m.id, 0);
	ck_assert(str_eq(m.code, "TOO_LARGE", 9));
	ck_assert(str_eq(m.msg, "too big", 7));
	pulse_buf two = {b.data, third, third};
	decode_at(&two, second, &m, &u);
	ck_assert_uint_eq(m.type, PULSE_T_OK);
	ck_assert_uint_eq(m.has, PM_ID);
	ck_assert_uint_eq(m.id, 12);
	decode_at(&b, third, &m, &u);
	ck_assert_uint_eq(m.has, PM_ID | PM_CODE);
	ck_assert(str_eq(m.code, "JOB_EXISTS", 10));
	msgpack_unpacked_destroy(&u);
	/* A non-reply with id 0 has no "id" at all. */
	b.len = 0;
	pulse_enc e;
	pulse_enc_begin(&e, &b, PULSE_T_WELCOME, 0, 2);
	pulse_enc_uint(&e, "v", 1);
	pulse_enc_cstr(&e, "node", "n");
	ck_assert_int_eq(pulse_enc_end(&e), 0);
	msgpack_unpacked_init(&u);
	decode_at(&b, 0, &m, &u);
	ck_assert_uint_eq(m.has, PM_V | PM_NODE);
	ck_assert_uint_eq(u.data.via.map.size, 3);
	msgpack_unpacked_destroy(&u);
	pulse_buf_free(&b);
}
END_TEST

/* PROTOCOL.md's worked example, byte for byte. */
static void assert_hex(const pulse_buf *b, const char *hex)
{
	char got[512];
	size_t k = 0;
	for (size_t i = 0; i < b->len && k + 4 < sizeof(got); i++)
		k += (size_t)snprintf(got + k, sizeof(got) - k, i ? " %02x" : "%02x",
		                      (unsigned char)b->data[i]);
	got[k] = '\0';
	ck_assert_str_eq(got, hex);
}

START_TEST(test_worked_example)
{
	pulse_buf b = {0};
	pulse_msg hello = {.type = PULSE_T_HELLO, .has = PM_V | PM_ROLE | PM_POOL,
	                   .v = 1, .role = S("worker"), .pool = S("demo")};
	ck_assert_int_eq(pulse_msg_encode(&b, &hello), 0);
	assert_hex(&b, "00 00 00 1d 84 a1 74 01 a1 76 01 a4 72 6f 6c 65 a6 77 "
	               "6f 72 6b 65 72 a4 70 6f 6f 6c a4 64 65 6d 6f");
	b.len = 0;
	pulse_msg ack = {.type = PULSE_T_ACK, .has = PM_ID | PM_R, .id = 7,
	                 .r = PULSE_ACK_OK};
	ck_assert_int_eq(pulse_msg_encode(&b, &ack), 0);
	assert_hex(&b, "00 00 00 0b 83 a1 74 17 a2 69 64 07 a1 72 00");
	b.len = 0;
	ck_assert_int_eq(pulse_encode_error(&b, 0, PULSE_E_PROTOCOL,
	                                    "protocol version 2 not supported "
	                                    "(pulsed speaks 1)"), 0);
	ck_assert_uint_eq(get_be32(b.data), b.len - 4);
	pulse_buf_free(&b);
}
END_TEST

/* The frames of a keyed message (PROTOCOL.md 6.7): SEND as a client
 * writes it, byte for byte; the ACK that answers a MESSAGE with a payload
 * of any bytes, as Python's msgpack writes it; HELLO's messages flag. */
START_TEST(test_message_frames)
{
	pulse_buf b = {0};
	pulse_msg send = {.type = PULSE_T_SEND,
	                  .has = PM_ID | PM_POOL | PM_KEY | PM_PAYLOAD, .id = 3,
	                  .pool = S("p"), .key = S("k"),
	                  .payload = {"\0\1", 2}};
	ck_assert_int_eq(pulse_msg_encode(&b, &send), 0);
	assert_hex(&b, "00 00 00 21 85 a1 74 26 a2 69 64 03 a4 70 6f 6f 6c a1 "
	               "70 a3 6b 65 79 a1 6b a7 70 61 79 6c 6f 61 64 c4 02 00 "
	               "01");
	pulse_msg m;
	msgpack_unpacked u;
	msgpack_unpacked_init(&u);
	char err[256];
	decode_at(&b, 0, &m, &u);
	ck_assert_int_eq(pulse_msg_require(&m, err, sizeof(err)), 0);
	assert_same(&send, &m);
	msgpack_unpacked_destroy(&u);
	/* {t: 23, id: 9, r: 0, payload: b"a\0b"} */
	static const uint8_t ack[] = {
		0x84, 0xa1, 0x74, 0x17, 0xa2, 0x69, 0x64, 0x09, 0xa1, 0x72, 0x00,
		0xa7, 0x70, 0x61, 0x79, 0x6c, 0x6f, 0x61, 0x64, 0xc4, 0x03, 0x61,
		0x00, 0x62};
	msgpack_unpacked_init(&u);
	ck_assert_int_eq(pulse_msg_decode(ack, sizeof(ack), &m, &u, err,
	                                  sizeof(err)), 0);
	ck_assert_int_eq(pulse_msg_require(&m, err, sizeof(err)), 0);
	ck_assert_uint_eq(m.has, PM_ID | PM_R | PM_PAYLOAD);
	ck_assert(str_eq(m.payload, "a\0b", 3));
	msgpack_unpacked_destroy(&u);
	/* MESSAGE needs its key; SEND its pool */
	pulse_msg bad = {.type = PULSE_T_MESSAGE, .has = PM_ID, .id = 4};
	ck_assert_int_eq(pulse_msg_require(&bad, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "MESSAGE: missing field 'key'");
	bad = (pulse_msg){.type = PULSE_T_SEND, .has = PM_ID | PM_KEY, .id = 4,
	                  .key = S("k")};
	ck_assert_int_eq(pulse_msg_require(&bad, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "SEND: missing field 'pool'");
	/* HELLO's messages is a bool, not 0/1 */
	static const uint8_t hello_int[] = {0x82, 0xa1, 0x74, 0x01, 0xa8, 'm',
	                                    'e', 's', 's', 'a', 'g', 'e', 's',
	                                    0x01};
	msgpack_unpacked_init(&u);
	ck_assert_int_eq(pulse_msg_decode(hello_int, sizeof(hello_int), &m, &u,
	                                  err, sizeof(err)), -1);
	ck_assert_str_eq(err, "field 'messages': expected bool");
	msgpack_unpacked_destroy(&u);
	pulse_buf_free(&b);
}
END_TEST

START_TEST(test_encode_failure_leaves_whole_frames)
{
	pulse_buf b = {0};
	ck_assert_int_eq(pulse_encode_ok(&b, 1), 0);
	size_t before = b.len;
	pulse_enc e;
	pulse_enc_begin(&e, &b, PULSE_T_START, 2, 2);
	pulse_enc_cstr(&e, "key", "k");
	/* Too long for msgpack's 32-bit length: refused before any read. */
	pulse_enc_bin(&e, "payload", "x", (size_t)UINT32_MAX + 1);
	pulse_enc_uint(&e, "late", 1);
	ck_assert_int_eq(pulse_enc_end(&e), -1);
	ck_assert_uint_eq(b.len, before);
	pulse_msg m;
	msgpack_unpacked u;
	msgpack_unpacked_init(&u);
	decode_at(&b, 0, &m, &u);
	ck_assert_uint_eq(m.type, PULSE_T_OK);
	msgpack_unpacked_destroy(&u);
	pulse_buf_free(&b);
}
END_TEST

START_TEST(test_buf)
{
	pulse_buf b = {0};
	ck_assert_int_eq(pulse_buf_append(&b, "hello world", 11), 0);
	ck_assert_int_eq(pulse_buf_append(&b, NULL, 0), 0);
	pulse_buf_drop(&b, 6);
	ck_assert_uint_eq(b.len, 5);
	ck_assert_mem_eq(b.data, "world", 5);
	pulse_buf_drop(&b, 100);
	ck_assert_uint_eq(b.len, 0);
	const size_t bigsz = 200000;
	char *big = calloc(1, bigsz);
	ck_assert_ptr_nonnull(big);
	ck_assert_int_eq(pulse_buf_append(&b, big, bigsz), 0);
	ck_assert_uint_ge(b.cap, bigsz);
	ck_assert_mem_eq(b.data + bigsz - 3, big, 3);
	pulse_buf_drop(&b, bigsz);
	free(big);
	ck_assert_uint_eq(b.cap, 0); /* a large emptied buffer is given back */
	pulse_buf_free(&b);
	ck_assert_ptr_null(b.data);
}
END_TEST

START_TEST(test_err_names)
{
	static const char *const names[] = {
		"OK", "JOB_EXISTS", "JOB_NOT_FOUND", "TIMEOUT", "CLOSED",
		"SHUTDOWN", "POOL_FULL", "INVALID", "TOO_LARGE", "UNAVAILABLE",
		"PROTOCOL", "PERMISSION", "HANDLER", "BUSY", "NO_HANDLER",
	};
	ck_assert_uint_eq(NELEM(names), PULSE_E__COUNT);
	for (int i = 0; i < PULSE_E__COUNT; i++) {
		ck_assert_str_eq(pulse_err_name(i), names[i]);
		ck_assert_int_eq(pulse_err_from_name(names[i], strlen(names[i])), i);
	}
	ck_assert_int_eq(pulse_err_from_name("BUSY!", 5), -1);
	ck_assert_int_eq(pulse_err_from_name("BUSY!", 4), PULSE_E_BUSY);
	ck_assert_int_eq(pulse_err_from_name("JOB", 3), -1);
	ck_assert_int_eq(pulse_err_from_name("", 0), -1);
	ck_assert_int_eq(pulse_err_from_name("ok", 2), -1);
	ck_assert_str_eq(pulse_err_name(-1), "UNKNOWN");
	ck_assert_str_eq(pulse_err_name(PULSE_E__COUNT), "UNKNOWN");
}
END_TEST

/* ---- names ------------------------------------------------------------- */

START_TEST(test_check_key)
{
	char err[256];
	char k[1025];
	memset(k, 'a', sizeof(k));
	ck_assert_int_eq(pulse_check_name("key", k, 1024, PULSE_MAX_KEY, err,
	                                  sizeof(err)), 0);
	ck_assert_int_eq(pulse_check_name("key", k, 1025, PULSE_MAX_KEY, err,
	                                  sizeof(err)), -1);
	ck_assert_str_eq(err, "key: longer than 1024 bytes");
	ck_assert_int_eq(pulse_check_name("key", k, 0, PULSE_MAX_KEY, err,
	                                  sizeof(err)), -1);
	ck_assert_str_eq(err, "key: empty");
	ck_assert_int_eq(pulse_check_name("key", "a", 1, PULSE_MAX_KEY, err,
	                                  sizeof(err)), 0);
	ck_assert_int_eq(pulse_check_name("key", "abcde\x01", 6, PULSE_MAX_KEY,
	                                  err, sizeof(err)), -1);
	ck_assert_str_eq(err, "key: control character 0x01 at byte 5");
	ck_assert_int_eq(pulse_check_name("key", "ab\x7f", 3, PULSE_MAX_KEY,
	                                  err, sizeof(err)), -1);
	ck_assert_str_eq(err, "key: control character 0x7f at byte 2");
	ck_assert_int_eq(pulse_check_name("key", "a\0b", 3, PULSE_MAX_KEY, err,
	                                  sizeof(err)), -1);
	ck_assert_str_eq(err, "key: control character 0x00 at byte 1");
	ck_assert_int_eq(pulse_check_name("key", "a\nb", 3, PULSE_MAX_KEY, err,
	                                  sizeof(err)), -1);
	ck_assert_int_eq(pulse_check_name("key", "\x1f", 1, PULSE_MAX_KEY, err,
	                                  sizeof(err)), -1);
	/* UTF-8, spaces, punctuation, braces: all fine in a key. */
	const char *u8 = "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac {x}/y:z~ \xf0\x9f\x98\x80";
	ck_assert_int_eq(pulse_check_name("key", u8, strlen(u8), PULSE_MAX_KEY,
	                                  err, sizeof(err)), 0);
	ck_assert_int_eq(pulse_check_name("key", " ", 1, PULSE_MAX_KEY, err,
	                                  sizeof(err)), 0);
	/* err may be NULL */
	ck_assert_int_eq(pulse_check_name("key", "", 0, 10, NULL, 0), -1);
}
END_TEST

START_TEST(test_check_pool)
{
	char err[256];
	char p[129];
	memset(p, 'P', sizeof(p));
	ck_assert_int_eq(pulse_check_pool(p, 128, err, sizeof(err)), 0);
	ck_assert_int_eq(pulse_check_pool(p, 129, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "pool: longer than 128 bytes");
	ck_assert_int_eq(pulse_check_pool(p, 0, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "pool: empty");
	const char *ok = "AZaz09._:-";
	ck_assert_int_eq(pulse_check_pool(ok, strlen(ok), err, sizeof(err)), 0);
	static const char *const bad[] = {"a{b", "a}", "a b", "a/b", "caf\xc3\xa9",
	                                  "a\x01", "a*", "a,b"};
	for (size_t i = 0; i < NELEM(bad); i++)
		ck_assert_msg(pulse_check_pool(bad[i], strlen(bad[i]), err,
		                               sizeof(err)) == -1,
		              "accepted %s", bad[i]);
	ck_assert_int_eq(pulse_check_pool("a{b", 3, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "pool: character 0x7b at byte 1 is not one of "
	                      "[A-Za-z0-9._:-]");
}
END_TEST

/* Worker, ticker and schedule names: the pool rule, named as asked. */
START_TEST(test_check_label)
{
	char err[256];
	char p[129];
	memset(p, 'w', sizeof(p));
	ck_assert_int_eq(pulse_check_label("worker name", p, 128, err,
	                                   sizeof(err)), 0);
	ck_assert_int_eq(pulse_check_label("worker name", p, 129, err,
	                                   sizeof(err)), -1);
	ck_assert_str_eq(err, "worker name: longer than 128 bytes");
	ck_assert_int_eq(pulse_check_label("worker name", p, 0, err,
	                                   sizeof(err)), -1);
	ck_assert_str_eq(err, "worker name: empty");
	ck_assert_int_eq(pulse_check_label("worker name", "w 1", 3, err,
	                                   sizeof(err)), -1);
	ck_assert_str_eq(err, "worker name: character 0x20 at byte 1 is not "
	                      "one of [A-Za-z0-9._:-]");
	ck_assert_int_eq(pulse_check_label("ticker name", "t:1.a_b-C", 9, err,
	                                   sizeof(err)), 0);
}
END_TEST

static Suite *proto_suite(void)
{
	Suite *s = suite_create("proto");
	TCase *tc = tcase_create("framing");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_reader_whole);
	tcase_add_test(tc, test_reader_byte_by_byte);
	tcase_add_test(tc, test_reader_random_splits);
	tcase_add_test(tc, test_reader_truncated);
	tcase_add_test(tc, test_reader_oversized);
	tcase_add_test(tc, test_reader_at_cap);
	tcase_add_test(tc, test_reader_memory);
	tcase_add_test(tc, test_reader_compacts);
	tcase_add_test(tc, test_reader_frame_stable);
	tcase_add_test(tc, test_reader_space_modest);
	suite_add_tcase(s, tc);
	tc = tcase_create("msgpack_check");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_check_all_formats);
	tcase_add_test(tc, test_check_huge_counts);
	tcase_add_test(tc, test_check_depth);
	tcase_add_test(tc, test_check_trailing_truncated_reserved);
	tcase_add_test(tc, test_check_agrees_with_msgpack);
	suite_add_tcase(s, tc);
	tc = tcase_create("messages");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_decode_wrong_types);
	tcase_add_test(tc, test_decode_shape);
	tcase_add_test(tc, test_decode_fields);
	tcase_add_test(tc, test_decode_structured);
	tcase_add_test(tc, test_require);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_encode_error_ok);
	tcase_add_test(tc, test_worked_example);
	tcase_add_test(tc, test_message_frames);
	tcase_add_test(tc, test_encode_failure_leaves_whole_frames);
	tcase_add_test(tc, test_buf);
	tcase_add_test(tc, test_err_names);
	suite_add_tcase(s, tc);
	tc = tcase_create("names");
	tcase_add_test(tc, test_check_key);
	tcase_add_test(tc, test_check_pool);
	tcase_add_test(tc, test_check_label);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(proto_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
