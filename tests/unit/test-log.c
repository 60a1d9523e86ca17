#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/log.h"

/*
 * syslog(3) is wrapped (-Wl,--wrap): the last priority and line it got.
 * With _FORTIFY_SOURCE glibc calls __syslog_chk instead.
 */
static int test_prio = -1;
static char test_line[1100];
static int test_nhook;

void __wrap_openlog(const char *ident, int option, int facility);
void __wrap_syslog(int prio, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void __wrap___syslog_chk(int prio, int flag, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void
__wrap_openlog(const char *ident, int option, int facility)
{
	assert_string_equal(ident, "popfetch");
	assert_int_equal(facility, LOG_MAIL);
	(void)option;
}

void
__wrap_syslog(int prio, const char *fmt, ...)
{
	va_list ap;

	test_prio = prio;
	va_start(ap, fmt);
	(void)vsnprintf(test_line, sizeof(test_line), fmt, ap);
	va_end(ap);
}

void
__wrap___syslog_chk(int prio, int flag, const char *fmt, ...)
{
	va_list ap;

	(void)flag;
	test_prio = prio;
	va_start(ap, fmt);
	(void)vsnprintf(test_line, sizeof(test_line), fmt, ap);
	va_end(ap);
}

static void
test_hook(void)
{
	test_nhook++;
}

/* stderr goes to a temporary file, read back by test_stderr(). */
static FILE *test_err;
static int test_saved_fd = -1;

static int
setup(void **state)
{
	(void)state;
	test_err = tmpfile();
	assert_non_null(test_err);
	test_saved_fd = dup(STDERR_FILENO);
	assert_int_not_equal(dup2(fileno(test_err), STDERR_FILENO), -1);
	test_prio = -1;
	test_line[0] = '\0';
	test_nhook = 0;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	(void)dup2(test_saved_fd, STDERR_FILENO);
	(void)close(test_saved_fd);
	(void)fclose(test_err);
	log_set_hook(NULL);
	log_init(LOG_LEVEL_NOTICE, false);
	return 0;
}

/* What was written to stderr since the last call. */
static const char *
test_stderr(void)
{
	static char buf[4096];
	size_t n;

	rewind(test_err);
	n = fread(buf, 1, sizeof(buf) - 1, test_err);
	buf[n] = '\0';
	assert_int_equal(ftruncate(fileno(test_err), 0), 0);
	rewind(test_err);
	return buf;
}

static void
expect_syslog(int prio, const char *line)
{
	assert_int_equal(test_prio, prio);
	assert_string_equal(test_line, line);
	test_prio = -1;
	test_line[0] = '\0';
}

static void
test_syslog_priorities(void **state)
{
	(void)state;
	log_init(LOG_LEVEL_INFO, true);
	assert_true(log_is_syslog());

	log_error("acct: %s", "failed");
	expect_syslog(LOG_ERR, "acct: failed");
	/* Errors reach stderr too: cron and a person see them. */
	assert_string_equal(test_stderr(), "popfetch: acct: failed\n");

	log_warnx("acct: %d damaged lines", 3);
	expect_syslog(LOG_WARNING, "acct: 3 damaged lines");
	errno = ENOSPC;
	log_warn("acct: write");
	expect_syslog(LOG_WARNING, "acct: write: No space left on device");
	log_notice("acct: notice");
	expect_syslog(LOG_NOTICE, "acct: notice");
	log_info("acct: message 1");
	expect_syslog(LOG_INFO, "acct: message 1");
	/* Below the level: nothing. */
	log_debug("acct: C: USER x");
	assert_int_equal(test_prio, -1);
	assert_string_equal(test_stderr(), "");
}

static void
test_syslog_summary(void **state)
{
	(void)state;
	log_init(LOG_LEVEL_NOTICE, true);
	log_summary(true, "acct: %u new", 3U);
	expect_syslog(LOG_NOTICE, "acct: 3 new");
	log_summary(false, "acct: %u new", 0U);
	expect_syslog(LOG_INFO, "acct: 0 new");
	/* -v's per-message lines stay out at the default level. */
	log_info("acct: message 1");
	assert_int_equal(test_prio, -1);
	/* -q: errors only, summaries too are left out. */
	log_init(LOG_LEVEL_ERROR, true);
	log_summary(true, "acct: 3 new");
	assert_int_equal(test_prio, -1);
	/* Not on syslog, the caller prints summaries itself. */
	log_init(LOG_LEVEL_NOTICE, false);
	log_summary(true, "acct: 3 new");
	assert_int_equal(test_prio, -1);
	assert_string_equal(test_stderr(), "");
}

static void
test_stderr_lines(void **state)
{
	char big[2000];

	(void)state;
	log_init(LOG_LEVEL_NOTICE, false);
	assert_false(log_is_syslog());
	log_set_hook(test_hook);
	log_warnx("acct: %s", "careful");
	log_error("acct: bad");
	log_info("acct: hidden");
	assert_int_equal(test_prio, -1);
	assert_int_equal(test_nhook, 2);
	assert_string_equal(test_stderr(),
	    "popfetch: acct: careful\npopfetch: acct: bad\n");
	/* An over-long line is cut, and still ends its line. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_error("%s", big);
	{
		const char *out = test_stderr();
		size_t len = strlen(out);

		assert_true(len > 1000 && len < sizeof(big));
		assert_int_equal(out[len - 1], '\n');
		assert_ptr_equal(strchr(out, '\n'), out + len - 1);
	}
}

/*
 * Under systemd, with stderr the journal's stream (JOURNAL_STREAM names
 * it): each line carries its priority, "<3>" for an error, and not the
 * program's name.  Any other stderr: as before.
 */
static void
test_journal_priorities(void **state)
{
	struct stat sb;
	char env[64];

	(void)state;
	assert_int_equal(fstat(STDERR_FILENO, &sb), 0);
	(void)snprintf(env, sizeof(env), "%ju:%ju", (uintmax_t)sb.st_dev,
	    (uintmax_t)sb.st_ino);
	assert_int_equal(setenv("JOURNAL_STREAM", env, 1), 0);
	log_init(LOG_LEVEL_INFO, false);
	log_error("acct: bad");
	log_warnx("acct: careful");
	log_info("acct: one message");
	assert_string_equal(test_stderr(),
	    "<3>acct: bad\n<4>acct: careful\n<6>acct: one message\n");
	/* Another file (stderr redirected by hand): no priorities. */
	(void)snprintf(env, sizeof(env), "%ju:%ju", (uintmax_t)sb.st_dev,
	    (uintmax_t)sb.st_ino + 1);
	assert_int_equal(setenv("JOURNAL_STREAM", env, 1), 0);
	log_init(LOG_LEVEL_INFO, false);
	log_error("acct: bad");
	assert_string_equal(test_stderr(), "popfetch: acct: bad\n");
	assert_int_equal(setenv("JOURNAL_STREAM", "garbage", 1), 0);
	log_init(LOG_LEVEL_INFO, false);
	log_error("acct: bad");
	assert_string_equal(test_stderr(), "popfetch: acct: bad\n");
	assert_int_equal(unsetenv("JOURNAL_STREAM"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_syslog_priorities, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_syslog_summary, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_stderr_lines, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_journal_priorities, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
