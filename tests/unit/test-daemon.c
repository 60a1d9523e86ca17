#include "config.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sysexits.h>

#include <cmocka.h>

#include "cli/daemon.h"

static void
test_interval(void **state)
{
	static const struct {
		const char *s;
		unsigned want;
	} good[] = {
		{ "1", 1 },
		{ "90", 90 },
		{ "90s", 90 },
		{ "15m", 900 },
		{ "2h", 7200 },
		{ "168h", 604800 },
		{ "604800", 604800 },
	};
	static const char *const bad[] = { "", "0", "0s", "s", "m", "-5", "+5",
		" 5", "5 ", "5x", "5d", "1.5h", "169h", "604801",
		"99999999999999999999", "5mm", "0x10" };
	unsigned n;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		n = 0;
		assert_int_equal(daemon_parse_interval(good[i].s, &n), 0);
		assert_int_equal(n, good[i].want);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = 42;
		if (daemon_parse_interval(bad[i], &n) != -1)
			fail_msg("\"%s\" accepted as %u", bad[i], n);
		assert_int_equal(n, 42);
	}
}

static void
test_backoff(void **state)
{
	unsigned ntemp = 0;

	(void)state;
	assert_int_equal(daemon_delay(60, 0, &ntemp), 60);
	/* Temporary failures in a row: 2x, 4x, then 8x and no more. */
	assert_int_equal(daemon_delay(60, EX_TEMPFAIL, &ntemp), 120);
	assert_int_equal(daemon_delay(60, EX_TEMPFAIL, &ntemp), 240);
	assert_int_equal(daemon_delay(60, EX_TEMPFAIL, &ntemp), 480);
	assert_int_equal(daemon_delay(60, EX_TEMPFAIL, &ntemp), 480);
	assert_int_equal(daemon_delay(60, EX_TEMPFAIL, &ntemp), 480);
	/* Another failure keeps the back-off; a success ends it. */
	assert_int_equal(daemon_delay(60, EX_NOPERM, &ntemp), 480);
	assert_int_equal(daemon_delay(60, 0, &ntemp), 60);
	assert_int_equal(ntemp, 0);
	assert_int_equal(daemon_delay(60, EX_TEMPFAIL, &ntemp), 120);
	/* The longest interval times eight still fits. */
	ntemp = 100;
	assert_int_equal(daemon_delay(DAEMON_INTERVAL_MAX, EX_TEMPFAIL, &ntemp),
	    8 * DAEMON_INTERVAL_MAX);
}

static volatile sig_atomic_t test_stop;

static void
test_sleep_stopped(void **state)
{
	sigset_t none;

	(void)state;
	sigemptyset(&none);
	/* Already stopped: no wait at all (a failure hangs, and the
	 * harness's timeout reports it). */
	test_stop = 1;
	daemon_sleep(3600, &test_stop, &none);
	test_stop = 0;
	daemon_sleep(0, &test_stop, &none);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_interval),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_sleep_stopped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
