/*
 * test_gone.c: the answered-gone log (daemon/gone.c): the order kept,
 * the horizon pruned from the head, and the cap dropping the oldest and
 * counting them.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "gone.h"

static size_t count(const struct gone_log *g)
{
	size_t n = 0;
	for (const struct gone_entry *e = g->head; e; e = e->next)
		n++;
	return n;
}

START_TEST(test_order_and_horizon)
{
	struct gone_log g;
	gone_init(&g);
	char key[16];
	for (int i = 0; i < 10; i++) {
		int n = snprintf(key, sizeof(key), "k%d", i);
		gone_note(&g, key, (size_t)n, 1000 + 100 * (uint64_t)i, 350, 100);
	}
	/* noted at 1900 keeping 350 ms: 1600.. stay */
	ck_assert_uint_eq(g.n, 4);
	ck_assert_uint_eq(count(&g), 4);
	ck_assert_str_eq(g.head->key, "k6");
	ck_assert_uint_eq(g.head->at, 1600);
	gone_prune(&g, 1850);
	ck_assert_uint_eq(g.n, 1);
	ck_assert_str_eq(g.head->key, "k9");
	gone_prune(&g, 5000);
	ck_assert_uint_eq(g.n, 0);
	ck_assert_ptr_null(g.head);
	gone_note(&g, "again", 5, 6000, 350, 100); /* the tail is sound */
	ck_assert_uint_eq(count(&g), 1);
	ck_assert_uint_eq(g.forgotten, 0);
	gone_free(&g);
	ck_assert_uint_eq(g.n, 0);
}
END_TEST

START_TEST(test_cap)
{
	struct gone_log g;
	gone_init(&g);
	for (uint64_t i = 0; i < 7; i++)
		gone_note(&g, "k", 1, 100 + i, 1000000, 3);
	ck_assert_uint_eq(g.n, 3);
	ck_assert_uint_eq(g.forgotten, 4);
	ck_assert_uint_eq(g.head->at, 104);
	gone_note(&g, "zero", 4, 200, 1000000, 0); /* keep none */
	ck_assert_uint_eq(g.n, 0);
	gone_free(&g);
}
END_TEST

START_TEST(test_binary_keys)
{
	struct gone_log g;
	gone_init(&g);
	gone_note(&g, "a\0b", 3, 1, 10, 10);
	ck_assert_uint_eq(g.head->klen, 3);
	ck_assert_int_eq(memcmp(g.head->key, "a\0b", 3), 0);
	gone_free(&g);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("gone");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_order_and_horizon);
	tcase_add_test(tc, test_cap);
	tcase_add_test(tc, test_binary_keys);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
