/*
 * test_client.c: libpulse-client refuses, before it connects, the
 * arguments pulsed would refuse: a worker name outside pulsed's rule
 * (1 to 128 bytes of [A-Za-z0-9._:-]; daemon/worker.c) gets
 * PULSE_ERR_INVALID with the reason, and no connection is tried.
 *
 * No pulsed runs here: a name that passes the checks goes on to connect
 * to a socket that does not exist, and fails with PULSE_ERR_UNAVAILABLE
 * instead; that tells the two apart.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "pulse.h"

#define NOSOCK "/nonexistent/pulse-unit-test.sock"

static int start(void *ud, const char *key, const void *payload, size_t len,
                 char *msg, size_t msglen)
{
	(void)ud, (void)key, (void)payload, (void)len, (void)msg, (void)msglen;
	return PULSE_HANDLER_OK;
}

static int stop(void *ud, const char *key, char *msg, size_t msglen)
{
	(void)ud, (void)key, (void)msg, (void)msglen;
	return PULSE_HANDLER_OK;
}

/* The code pulse_worker_attach() gives for name; its message in err. */
static int attach_code(const char *name, char *err, size_t errlen)
{
	pulse_handlers h = {.start = start, .stop = stop};
	int code = -1;
	err[0] = '\0';
	pulse_worker *w = pulse_worker_attach(NOSOCK, "p", name, &h, NULL, &code,
	                                      err, errlen);
	ck_assert_ptr_null(w);
	return code;
}

START_TEST(test_worker_name_refused)
{
	char err[256], name[200];
	/* names the daemon refuses, though the old check (a key's rule:
	 * 1 to 1024 bytes without control characters) let them through */
	static const char *const bad[] = {"w 1", "w/1", "w{1}", "caf\xc3\xa9",
	                                  "w*", "w,1", "w\x01"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(attach_code(bad[i], err, sizeof(err)),
		                 PULSE_ERR_INVALID);
		ck_assert_msg(strstr(err, "worker name: character") &&
		              strstr(err, "[A-Za-z0-9._:-]"), "%s: %s", bad[i], err);
	}
	memset(name, 'w', 129);
	name[129] = '\0';
	ck_assert_int_eq(attach_code(name, err, sizeof(err)), PULSE_ERR_INVALID);
	ck_assert_str_eq(err, "worker name: longer than 128 bytes");
}
END_TEST

START_TEST(test_worker_name_accepted)
{
	char err[256], name[129];
	/* 128 bytes of the whole alphabet pass: attaching goes on to connect */
	memset(name, 'w', 128);
	memcpy(name, "AZaz09._:-", 10);
	name[128] = '\0';
	ck_assert_int_eq(attach_code(name, err, sizeof(err)),
	                 PULSE_ERR_UNAVAILABLE);
	/* no name, and an empty one, are the same: pulsed makes up an id */
	ck_assert_int_eq(attach_code(NULL, err, sizeof(err)),
	                 PULSE_ERR_UNAVAILABLE);
	ck_assert_int_eq(attach_code("", err, sizeof(err)),
	                 PULSE_ERR_UNAVAILABLE);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("client");
	TCase *tc = tcase_create("arguments");
	tcase_add_test(tc, test_worker_name_refused);
	tcase_add_test(tc, test_worker_name_accepted);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
