/*
 * test_log.c: the key=value records of daemon/log.c: log_value's bare and
 * quoted forms and its cut, and log_job's one line (text and JSON) with a
 * worst-case key kept whole.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static const char *value(const char *v, size_t n)
{
	static char buf[8192];
	size_t len = log_value(buf, sizeof(buf), v, n);
	ck_assert_uint_eq(len, strlen(buf));
	return buf;
}

START_TEST(test_bare_and_quoted)
{
	ck_assert_str_eq(value("k1", 2), "k1");
	ck_assert_str_eq(value("a.b:c/d-e_f", 11), "a.b:c/d-e_f");
	ck_assert_str_eq(value("", 0), "\"\"");
	ck_assert_str_eq(value("a b", 3), "\"a b\"");
	ck_assert_str_eq(value("a=b", 3), "\"a=b\"");
	ck_assert_str_eq(value("a\"b\\c", 5), "\"a\\\"b\\\\c\"");
	ck_assert_str_eq(value("x\ny\r\tz", 6), "\"x\\ny\\r\\tz\"");
	ck_assert_str_eq(value("\x01\x7f\xc3\xa9", 4), "\"\\x01\\x7f\\xc3\\xa9\"");
	ck_assert_str_eq(value("a\0b", 3), "\"a\\x00b\"");
}
END_TEST

START_TEST(test_cut)
{
	char buf[8];
	/* room for the quotes, NUL and whole escapes only */
	ck_assert_uint_eq(log_value(buf, sizeof(buf), "\n\n\n\n", 4), 6);
	ck_assert_str_eq(buf, "\"\\n\\n\"");
	ck_assert_uint_eq(log_value(buf, sizeof(buf), "abcdefghij", 10), 7);
	ck_assert_str_eq(buf, "abcdefg");
	ck_assert_uint_eq(log_value(buf, 2, "a b", 3), 0);
	ck_assert_str_eq(buf, "");
}
END_TEST

/* One log_job line through a pipe. */
static size_t job_line(int format, int level, const char *key, size_t klen,
                       const char *extra, char *out, size_t len)
{
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	logger lg;
	log_init(&lg, LOG_INFO, format);
	lg.fd = fds[1];
	log_job(&lg, level, "start", "demo", key, klen, "w-a", "node-1", extra);
	close(fds[1]);
	size_t n = 0;
	ssize_t k;
	while (n < len - 1 && (k = read(fds[0], out + n, len - 1 - n)) > 0)
		n += (size_t)k;
	out[n] = '\0';
	close(fds[0]);
	return n;
}

START_TEST(test_job_line)
{
	static char out[65536];
	job_line(LOG_TEXT, LOG_INFO, "k1", 2, "uid=1000", out, sizeof(out));
	ck_assert_ptr_nonnull(strstr(out, " info: job start pool=demo key=k1 "
	                                  "worker=w-a node=node-1 uid=1000\n"));
	/* filtered out below the level: nothing */
	ck_assert_uint_eq(job_line(LOG_TEXT, LOG_DEBUG, "k1", 2, NULL, out,
	                           sizeof(out)), 0);
	/* no extra, leading spaces of extra dropped */
	job_line(LOG_TEXT, LOG_INFO, "a b", 3, "  from=node-b", out, sizeof(out));
	ck_assert_ptr_nonnull(strstr(out, "key=\"a b\" worker=w-a node=node-1 "
	                                  "from=node-b\n"));
	/* JSON: the quoted value is escaped once more, and stays one line */
	job_line(LOG_JSON, LOG_INFO, "a\"b\n", 4, NULL, out, sizeof(out));
	ck_assert_ptr_nonnull(strstr(out, "\"msg\":\"job start pool=demo "
	                                  "key=\\\"a\\\\\\\"b\\\\n\\\" worker=w-a "
	                                  "node=node-1\"}\n"));
	ck_assert_ptr_eq(strchr(out, '\n'), out + strlen(out) - 1);
}
END_TEST

START_TEST(test_worst_key_whole)
{
	/* a 1 KiB key of bytes that each take 4: the line keeps its end */
	static char key[1024], out[65536];
	memset(key, 0x01, sizeof(key));
	size_t n = job_line(LOG_TEXT, LOG_INFO, key, sizeof(key), "uid=0", out,
	                    sizeof(out));
	ck_assert_ptr_nonnull(strstr(out, "\" worker=w-a node=node-1 uid=0\n"));
	ck_assert_ptr_eq(strchr(out, '\n'), out + n - 1);
	n = job_line(LOG_JSON, LOG_INFO, key, sizeof(key), "uid=0", out,
	             sizeof(out));
	ck_assert_ptr_nonnull(strstr(out, "\\\" worker=w-a node=node-1 uid=0\"}\n"));
	ck_assert_ptr_eq(strchr(out, '\n'), out + n - 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_bare_and_quoted);
	tcase_add_test(tc, test_cut);
	tcase_add_test(tc, test_job_line);
	tcase_add_test(tc, test_worst_key_whole);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
