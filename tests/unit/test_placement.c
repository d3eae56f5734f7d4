/*
 * test_placement.c: rendezvous placement (daemon/placement.c).
 *
 * Checks the documented test vectors of daemon/REDIS.md, and both halves
 * of the movement property of P5 on 10,000 keys: a join moves about
 * 1/(n+1) of the keys, all to the newcomer; a leave moves only the
 * leaver's keys.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pulsed.h"

#define NKEYS 10000

static const struct {
	const char *key, *wid;
	uint64_t score;
} vectors[] = {
	/* daemon/REDIS.md's table, made by tests/tools/placement_ref.py */
	{"job-1", "w1", 0xffce1438f4755b90ull},
	{"job-1", "w2", 0x7a806a254b9cf5a1ull},
	{"job-1", "w3", 0x919f9d4ef7fd8361ull},
	{"", "a", 0x16bc26fa3458bfadull},
	{"a-much-longer-key/with:odd chars", "node-a.7.00ff", 0x330e36fd3a61e58aull},
};

START_TEST(test_vectors)
{
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++)
		ck_assert_uint_eq(placement_score(vectors[i].key,
		                                  strlen(vectors[i].key),
		                                  vectors[i].wid),
		                  vectors[i].score);
	char *w[] = {"w1", "w2", "w3"};
	ck_assert_int_eq(placement_pick("job-1", 5, w, 3), 0);
	ck_assert_int_eq(placement_pick("job-1", 5, w, 0), -1);
}
END_TEST

/* Owners of NKEYS keys among the first n of the given ids. */
static void owners(char **ids, size_t n, const char **out)
{
	char key[32];
	for (int i = 0; i < NKEYS; i++) {
		int kl = snprintf(key, sizeof(key), "job-%d", i);
		out[i] = ids[placement_pick(key, (size_t)kl, ids, n)];
	}
}

START_TEST(test_join_moves_share_to_newcomer)
{
	char *ids[] = {"node-a.1.1a2b", "node-b.2.ff00", "node-c.3.0001",
	               "stable-name-4"};
	for (size_t n = 1; n <= 3; n++) {
		static const char *before[NKEYS], *after[NKEYS];
		owners(ids, n, before);
		owners(ids, n + 1, after);
		int moved = 0;
		for (int i = 0; i < NKEYS; i++) {
			if (before[i] != after[i]) {
				moved++;
				ck_assert_str_eq(after[i], ids[n]); /* all to the newcomer */
			}
		}
		double want = NKEYS / (double)(n + 1);
		ck_assert_msg(moved > want * 0.9 && moved < want * 1.1,
		              "join of worker %zu moved %d keys, want %.0f +- 10%%",
		              n + 1, moved, want);
	}
}
END_TEST

START_TEST(test_leave_moves_only_leavers_keys)
{
	char *ids[] = {"w-0", "w-1", "w-2", "w-3", "w-4"};
	static const char *before[NKEYS], *after[NKEYS];
	owners(ids, 5, before);
	/* w-1 leaves (not the newest: jump hash would move far more) */
	char *rest[] = {"w-0", "w-2", "w-3", "w-4"};
	owners(rest, 4, after);
	int moved = 0, had = 0;
	for (int i = 0; i < NKEYS; i++) {
		if (strcmp(before[i], "w-1") == 0)
			had++;
		if (strcmp(before[i], after[i]) != 0) {
			moved++;
			ck_assert_str_eq(before[i], "w-1");
		}
	}
	ck_assert_int_eq(moved, had);
	ck_assert_int_gt(had, NKEYS / 5 * 9 / 10);
}
END_TEST

START_TEST(test_order_independent)
{
	char *a[] = {"x", "y", "z"}, *b[] = {"z", "x", "y"};
	char key[32];
	for (int i = 0; i < 1000; i++) {
		int kl = snprintf(key, sizeof(key), "k%d", i);
		ck_assert_str_eq(a[placement_pick(key, (size_t)kl, a, 3)],
		                 b[placement_pick(key, (size_t)kl, b, 3)]);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("placement");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_vectors);
	tcase_add_test(tc, test_join_moves_share_to_newcomer);
	tcase_add_test(tc, test_leave_moves_only_leavers_keys);
	tcase_add_test(tc, test_order_independent);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
