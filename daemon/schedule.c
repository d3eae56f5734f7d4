/*
 * schedule.c: schedules (P12): on each tick of a schedule's clock
 * (ticker.c gives every tick to exactly one node), ask one local producer
 * session for a plan and apply it.
 *
 * Owns: the plan requests in flight (PLAN frames waiting for PLANNED),
 * applying a plan (starts through the ordinary admission, stops through
 * the ordinary routing, StopAll against the schedule's key set), and the
 * schedule's key set in Redis (B skeys:<name>: what it started).
 *
 * Invariants:
 *   - A plan is applied once: its PLANNED is matched to the PLAN it
 *     answers (id and session), a second or stray answer is a protocol
 *     error.
 *   - A start of a key that exists is not an error (the dispatch simply
 *     finds JOB_EXISTS); a failed plan (code in PLANNED) is logged and the
 *     next tick asks again.
 *   - StopAll reads the key set after this plan's starts were added (the
 *     same Redis connection runs commands in order), so it never stops a
 *     job the same plan starts.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pulsed.h"
#include "store.h"

struct plan_ask {
	struct pool *p;
	char *name;
	uint64_t sid;
};

static void ask_free(struct plan_ask *a)
{
	free(a->name);
	free(a);
}

void schedule_ask(struct pool *p, const char *name, struct session *s)
{
	struct pulsed *d = p->d;
	struct plan_ask *a = xcalloc(1, sizeof(*a));
	a->p = p;
	a->name = xstrdup(name);
	a->sid = s->sid;
	uint64_t id = ++d->next_evid;
	table_set_u64(&d->plans, id, a);
	pulse_buf b = {0};
	pulse_enc e;
	pulse_enc_begin(&e, &b, PULSE_T_PLAN, id, 1);
	pulse_enc_cstr(&e, "name", name);
	session_send_enc(s, &e);
}

static void skeys_name(char *buf, size_t len, const struct pool *p,
                       const char *name)
{
	snprintf(buf, len, "%sskeys:%s", p->base, name);
}

/* The keys a plan starts, NUL-terminated, for StopAll's comparison. */
struct started {
	struct pool *p;
	char *name;
	table keys;
};

static void stop_all_cb(struct pulsed *d, redisReply *r, void *arg)
{
	struct started *st = arg;
	(void)d;
	if (r && r->type == REDIS_REPLY_ARRAY) {
		char skeys[512];
		skeys_name(skeys, sizeof(skeys), st->p, st->name);
		for (size_t i = 0; i < r->elements; i++) {
			redisReply *k = r->element[i];
			if (k->type != REDIS_REPLY_STRING ||
			    table_get(&st->keys, k->str, k->len))
				continue;
			request_internal(st->p, PULSE_T_STOP, k->str, k->len, NULL, 0);
			const char *argv[3] = {"SREM", skeys, k->str};
			size_t lens[3] = {4, strlen(skeys), k->len};
			store_cmd(st->p->d->store, 3, argv, lens, NULL, NULL);
		}
	}
	table_free(&st->keys);
	free(st->name);
	free(st);
}

/* Field `f` of a msgpack map, or NULL. */
static const msgpack_object *map_get(const msgpack_object *m, const char *f)
{
	if (m->type != MSGPACK_OBJECT_MAP)
		return NULL;
	size_t n = strlen(f);
	for (uint32_t i = 0; i < m->via.map.size; i++) {
		const msgpack_object *k = &m->via.map.ptr[i].key;
		if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
		    memcmp(k->via.str.ptr, f, n) == 0)
			return &m->via.map.ptr[i].val;
	}
	return NULL;
}

/* A key from a plan: str, valid key syntax; else NULL with a log line. */
static const char *plan_key(struct pool *p, const char *name,
                            const msgpack_object *o, size_t *len)
{
	char err[160];
	if (!o || o->type != MSGPACK_OBJECT_STR ||
	    pulse_check_name("key", o->via.str.ptr, o->via.str.size, PULSE_MAX_KEY,
	                     err, sizeof(err)) < 0) {
		LOGW(&p->d->log, "pool %s: schedule %s: a plan entry without a valid "
		     "key was skipped", p->name, name);
		return NULL;
	}
	*len = o->via.str.size;
	return o->via.str.ptr;
}

static void apply(struct pool *p, const char *name, const pulse_msg *m)
{
	struct pulsed *d = p->d;
	if (m->has & PM_CODE) {
		LOGW(&d->log, "pool %s: schedule %s: plan failed: %.*s; asked again "
		     "at the next tick", p->name, name, (int)m->msg.n,
		     m->msg.p ? m->msg.p : "");
		return;
	}
	if ((m->has & PM_END) && m->end) {
		LOGI(&d->log, "pool %s: schedule %s: the producer ended it", p->name,
		     name);
		clock_stop(p, 1, name);
		return;
	}
	char skeys[512];
	skeys_name(skeys, sizeof(skeys), p, name);
	struct started *st = xcalloc(1, sizeof(*st));
	st->p = p;
	st->name = xstrdup(name);
	table_init(&st->keys);
	sargs add = {0};
	sargs_str(&add, "SADD");
	sargs_str(&add, skeys);
	uint32_t ns = (m->has & PM_START) ? m->start->via.array.size : 0;
	for (uint32_t i = 0; i < ns; i++) {
		const msgpack_object *e = &m->start->via.array.ptr[i];
		size_t kl;
		const char *key = plan_key(p, name, map_get(e, "key"), &kl);
		if (!key)
			continue;
		const msgpack_object *pl = map_get(e, "payload");
		const char *payload = "";
		size_t plen = 0;
		if (pl && (pl->type == MSGPACK_OBJECT_BIN || pl->type == MSGPACK_OBJECT_STR)) {
			payload = pl->type == MSGPACK_OBJECT_BIN ? pl->via.bin.ptr : pl->via.str.ptr;
			plen = pl->type == MSGPACK_OBJECT_BIN ? pl->via.bin.size : pl->via.str.size;
			if (!payload)
				payload = "";
		}
		if (plen > d->cfg.max_payload) {
			LOGW(&d->log, "pool %s: schedule %s: payload of %.*s over the cap; "
			     "skipped", p->name, name, (int)kl, key);
			continue;
		}
		request_internal(p, PULSE_T_DISPATCH, key, kl, payload, plen);
		table_set(&st->keys, key, kl, st);
		sargs_add(&add, key, kl);
	}
	if (add.n > 2)
		store_cmd(d->store, add.n, add.v, add.l, NULL, NULL);
	sargs_free(&add);
	if ((m->has & PM_ALL) && m->all) {
		const char *argv[2] = {"SMEMBERS", skeys};
		store_cmd(d->store, 2, argv, NULL, stop_all_cb, st);
		return;
	}
	uint32_t nstop = (m->has & PM_STOPKEYS) ? m->stop->via.array.size : 0;
	for (uint32_t i = 0; i < nstop; i++) {
		size_t kl;
		const char *key = plan_key(p, name, &m->stop->via.array.ptr[i], &kl);
		if (!key)
			continue;
		request_internal(p, PULSE_T_STOP, key, kl, NULL, 0);
		const char *argv[3] = {"SREM", skeys, key};
		size_t lens[3] = {4, strlen(skeys), kl};
		store_cmd(d->store, 3, argv, lens, NULL, NULL);
	}
	table_free(&st->keys);
	free(st->name);
	free(st);
}

void schedule_planned(struct session *s, struct pool *none, const pulse_msg *m)
{
	(void)none; /* the plan's request id names its pool */
	struct plan_ask *a = table_get_u64(&s->d->plans, m->id);
	if (!a || a->sid != s->sid) {
		session_drop(s, PULSE_E_PROTOCOL, "PLANNED for a plan never asked");
		return;
	}
	table_del_u64(&s->d->plans, m->id);
	apply(a->p, a->name, m);
	ask_free(a);
}

void schedule_session_closed(struct session *s)
{
	table_iter it;
	struct tentry *e;
	table_iter_init(&it, &s->d->plans);
	while ((e = table_next(&it))) {
		struct plan_ask *a = e->val;
		if (a->sid == s->sid) {
			LOGW(&s->d->log, "pool %s: schedule %s: its producer went away "
			     "before answering; the next tick asks again", a->p->name,
			     a->name);
			table_del(&s->d->plans, e->key, e->klen);
			ask_free(a);
		}
	}
}

void schedules_free(struct pulsed *d)
{
	table_iter it;
	struct tentry *e;
	table_iter_init(&it, &d->plans);
	while ((e = table_next(&it)))
		ask_free(e->val);
	table_free(&d->plans);
}
