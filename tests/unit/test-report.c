#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <glib.h>

#include "cli/report.h"
#include "util/log.h"

/* What the code under test writes on stdout, caught in a file. */
struct capture {
	FILE *f;
	int saved;
};

static void
capture_start(struct capture *c)
{
	(void)fflush(stdout);
	c->f = tmpfile();
	assert_non_null(c->f);
	c->saved = dup(STDOUT_FILENO);
	assert_true(c->saved != -1);
	assert_int_equal(dup2(fileno(c->f), STDOUT_FILENO), STDOUT_FILENO);
}

/* Caller frees the text. */
static char *
capture_end(struct capture *c)
{
	char *text;
	long len;

	(void)fflush(stdout);
	assert_int_equal(dup2(c->saved, STDOUT_FILENO), STDOUT_FILENO);
	(void)close(c->saved);
	len = ftell(c->f);
	assert_true(len >= 0);
	text = calloc(1, (size_t)len + 1);
	assert_non_null(text);
	rewind(c->f);
	assert_int_equal(fread(text, 1, (size_t)len, c->f), (size_t)len);
	(void)fclose(c->f);
	return text;
}

/* The names of f's table, joined by '|'. */
static void
names(const struct report_filed *f, char *buf, size_t len)
{
	const char *p = f->names;
	unsigned i;

	buf[0] = '\0';
	for (i = 0; i < f->nfolders; i++) {
		if (i > 0)
			g_strlcat(buf, "|", len);
		g_strlcat(buf, p, len);
		p += strlen(p) + 1;
	}
}

static void
test_filed_add(void **state)
{
	struct report_filed f;
	char buf[256];

	(void)state;
	memset(&f, 0, sizeof(f));
	report_filed_add(&f, NULL, 1);
	report_filed_add(&f, ".Lists.dev", 1);
	report_filed_add(&f, "~/Mail/archive", 1);
	report_filed_add(&f, NULL, 1);
	report_filed_add(&f, ".Lists.dev", 2);
	assert_int_equal(f.inbox, 2);
	assert_int_equal(f.nfolders, 2);
	names(&f, buf, sizeof(buf));
	/* In the order of first use, each once. */
	assert_string_equal(buf, ".Lists.dev|~/Mail/archive");
	assert_int_equal(f.counts[0], 3);
	assert_int_equal(f.counts[1], 1);
	assert_int_equal(f.other, 0);
}

/* A full table counts what it has no room for as "other". */
static void
test_filed_full(void **state)
{
	struct report_filed f;
	char name[32], *big;
	unsigned i;

	(void)state;
	memset(&f, 0, sizeof(f));
	for (i = 0; i < REPORT_FOLDERS_MAX + 3; i++) {
		(void)snprintf(name, sizeof(name), ".F%u", i);
		report_filed_add(&f, name, 1);
	}
	assert_int_equal(f.nfolders, REPORT_FOLDERS_MAX);
	assert_int_equal(f.other, 3);
	/* A folder already there still counts as itself. */
	report_filed_add(&f, ".F0", 1);
	assert_int_equal(f.counts[0], 2);
	assert_int_equal(f.other, 3);

	/* Out of room for names: one name longer than the pool. */
	memset(&f, 0, sizeof(f));
	big = malloc(REPORT_FOLDER_NAMES + 2);
	assert_non_null(big);
	memset(big, 'x', REPORT_FOLDER_NAMES + 1);
	big[0] = '/';
	big[REPORT_FOLDER_NAMES + 1] = '\0';
	report_filed_add(&f, ".A", 1);
	report_filed_add(&f, big, 4);
	report_filed_add(&f, ".B", 1);
	assert_int_equal(f.nfolders, 2);
	assert_int_equal(f.other, 4);
	assert_true(f.names_len <= sizeof(f.names));
	free(big);
}

static struct report *
summary_report(void)
{
	struct report_opts o = { .is_summary = true, .is_totals = true };

	return report_new(&o, 2);
}

/* The common line: no folders, no rules' counts; the time. */
static void
test_line_plain(void **state)
{
	struct report_result res;
	struct report *r = summary_report();
	struct capture c;
	char *out;

	(void)state;
	memset(&res, 0, sizeof(res));
	res.has_stats = true;
	res.stats.on_server = 12;
	res.stats.new_msgs = 12;
	res.stats.retrieved = 12;
	res.stats.bytes = 348160;
	res.stats.deleted = 12;
	res.seconds = 1.26;
	report_filed_add(&res.filed, NULL, 12);
	capture_start(&c);
	report_done(r, 0, "home", &res);
	out = capture_end(&c);
	assert_string_equal(out,
	    "home: 12 messages, 12 new, 12 retrieved (340 KiB), 12 deleted "
	    "on the server, in 1.3 s\n");
	free(out);
	report_free(r);
}

/* Folders, discarded and skipped; minutes; more folders than room. */
static void
test_line_folders(void **state)
{
	struct report_result res;
	struct report *r = summary_report();
	struct capture c;
	char *out;

	(void)state;
	memset(&res, 0, sizeof(res));
	res.has_stats = true;
	res.stats.on_server = 1;
	res.stats.new_msgs = 16;
	res.stats.retrieved = 13;
	res.stats.bytes = 100;
	res.stats.discarded = 2;
	res.stats.skipped = 1;
	res.stats.deleted = 0;
	res.seconds = 125.4;
	report_filed_add(&res.filed, NULL, 9);
	report_filed_add(&res.filed, ".Lists.dev", 3);
	res.filed.other = 1;
	capture_start(&c);
	report_done(r, 0, "home", &res);
	out = capture_end(&c);
	assert_string_equal(out,
	    "home: 1 message, 16 new, 13 retrieved (100 B), 9 to inbox, 3 to "
	    ".Lists.dev, 1 to other folders, 2 discarded, 1 skipped, 0 "
	    "deleted on the server, in 2 min 05 s\n");
	free(out);

	/* All of it into a folder: the inbox's 0 is not said. */
	memset(&res.filed, 0, sizeof(res.filed));
	report_filed_add(&res.filed, ".Lists.dev", 13);
	res.seconds = 3725;
	capture_start(&c);
	report_done(r, 1, "work", &res);
	out = capture_end(&c);
	assert_non_null(
	    strstr(out, "13 retrieved (100 B), 13 to .Lists.dev, 2 discarded"));
	assert_non_null(strstr(out, ", in 1 h 02 min\n"));
	free(out);

	/* archive = yes: what was found already archived. */
	res.stats.duplicates = 4;
	capture_start(&c);
	report_done(r, 1, "backup", &res);
	out = capture_end(&c);
	assert_non_null(
	    strstr(out, ", 1 skipped, 4 already archived, 0 deleted on"));
	free(out);
	report_free(r);
}

/*
 * --json: "filed" per account and summed by name in the totals, names
 * escaped; "errors" counts the failed accounts.
 */
static void
test_json(void **state)
{
	struct report_opts o = { .is_json = true };
	struct report_result a, b;
	struct report *r;
	struct capture c;
	char *out;

	(void)state;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.has_stats = b.has_stats = true;
	report_filed_add(&a.filed, NULL, 2);
	report_filed_add(&a.filed, ".Odd\"q\\b", 1);
	report_filed_add(&a.filed, ".Lists.dev", 3);
	a.seconds = 0.25;
	report_filed_add(&b.filed, ".Lists.dev", 4);
	b.cls = ERR_TEMP;
	(void)snprintf(b.error, sizeof(b.error), "connect: refused");
	r = report_new(&o, 2);
	capture_start(&c);
	report_done(r, 0, "a", &a);
	report_done(r, 1, "b", &b);
	report_finish(r, 75);
	out = capture_end(&c);
	assert_non_null(strstr(out,
	    "\"seconds\":0.250,\"filed\":{\"inbox\":2,\".Odd\\\"q\\\\b\":1,"
	    "\".Lists.dev\":3},\"error\":null}"));
	assert_non_null(
	    strstr(out, "\"filed\":{\"inbox\":0,\".Lists.dev\":4}"));
	assert_non_null(strstr(out,
	    "\"totals\":{\"accounts\":2,\"failed\":1,\"errors\":1,"));
	assert_non_null(strstr(out,
	    "\"filed\":{\"inbox\":2,\".Odd\\\"q\\\\b\":1,\".Lists.dev\":7}}}\n"));
	free(out);
	report_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_filed_add),
		cmocka_unit_test(test_filed_full),
		cmocka_unit_test(test_line_plain),
		cmocka_unit_test(test_line_folders),
		cmocka_unit_test(test_json),
	};

	log_init(LOG_LEVEL_ERROR, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
