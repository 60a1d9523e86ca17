#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
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
#include <glib/gstdio.h>

#include "state/journal.h"
#include "tests/unit/fault.h"
#include "tests/unit/tmpdir.h"

#define HEADER "test-journal 3\n"

static const struct journal_kind kind = { .magic = "test-journal",
	.version = 3,
	.what = "test journal" };

/* The records a read handed over, each as "offset:text;". */
struct seen {
	GString *out;
	int calls;
};

static int
collect(void *arg, const char *rec, size_t len, off_t off)
{
	struct seen *s = arg;

	s->calls++;
	if (len > 0 && rec[0] == '!')
		return -1; /* the test's malformed record */
	g_string_append_printf(s->out, "%lld:%.*s;", (long long)off, (int)len,
	    rec);
	return 0;
}

struct fixture {
	char *dir;
	char *path;
	struct seen seen;
	struct err err;
};

static int
setup(void **state)
{
	struct fixture *fx = g_new0(struct fixture, 1);

	fault_io_reset();
	fx->dir = tmpdir_make("journal");
	fx->path = g_build_filename(fx->dir, "j", NULL);
	fx->seen.out = g_string_new(NULL);
	err_clear(&fx->err);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	fault_io_reset();
	tmpdir_remove(fx->dir);
	g_string_free(fx->seen.out, TRUE);
	g_free(fx->path);
	g_free(fx);
	return 0;
}

static void
put(const struct fixture *fx, const char *data)
{
	assert_true(g_file_set_contents(fx->path, data, -1, NULL));
}

static void
assert_file(const struct fixture *fx, const char *want)
{
	char *got = NULL;

	assert_true(g_file_get_contents(fx->path, &got, NULL, NULL));
	assert_string_equal(got, want);
	g_free(got);
}

/* Open (or fail the test), the records read into fx->seen. */
static struct journal *
open_ok(struct fixture *fx)
{
	struct journal *j;

	g_string_truncate(fx->seen.out, 0);
	fx->seen.calls = 0;
	j = journal_open(fx->path, &kind, collect, &fx->seen, &fx->err);
	if (j == NULL)
		fail_msg("journal_open: %s", fx->err.msg);
	return j;
}

static void
append_ok(struct fixture *fx, struct journal *j, const char *rec)
{
	if (journal_append(j, rec, strlen(rec), NULL, &fx->err) == -1)
		fail_msg("journal_append: %s", fx->err.msg);
}

/* A new journal is its header, mode 0600; records come back in order. */
static void
test_create_append_reopen(void **state)
{
	struct fixture *fx = *state;
	struct journal *j = open_ok(fx);
	struct stat sb;
	off_t off;

	assert_int_equal(fx->seen.calls, 0);
	assert_file(fx, HEADER);
	assert_int_equal(stat(fx->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_string_equal(journal_header(j), HEADER);
	assert_false(journal_is_dirty(j));
	assert_int_equal(journal_append(j, "a\t1\n", 4, &off, &fx->err), 0);
	assert_int_equal(off, (off_t)strlen(HEADER));
	assert_true(journal_is_dirty(j));
	append_ok(fx, j, "bb\t2\n");
	assert_int_equal(journal_sync(j, &fx->err), 0);
	assert_false(journal_is_dirty(j));
	journal_free(j);
	j = open_ok(fx);
	assert_string_equal(fx->seen.out->str, "15:a\t1;19:bb\t2;");
	assert_int_equal(journal_malformed(j), 0);
	journal_free(j);
	assert_file(fx, HEADER "a\t1\nbb\t2\n");
}

/* One write(2) a record, so that a crash tears at most the last line. */
static void
test_one_write_per_record(void **state)
{
	struct fixture *fx = *state;
	struct journal *j = open_ok(fx);

	fault_write_calls = 0;
	append_ok(fx, j, "one record of some length\n");
	assert_int_equal(fault_write_calls, 1);
	/* Not a record: no LF at the end, or one inside. */
	assert_int_equal(journal_append(j, "no lf", 5, NULL, &fx->err), -1);
	assert_int_equal(fx->err.cls, ERR_SOFTWARE);
	assert_int_equal(journal_append(j, "a\nb\n", 4, NULL, &fx->err), -1);
	assert_int_equal(fault_write_calls, 1);
	journal_free(j);
}

/* A torn last line is cut off when opened; the next record starts a line. */
static void
test_torn_tail(void **state)
{
	struct fixture *fx = *state;
	struct journal *j;

	put(fx, HEADER "a\n!bad\nb\ntorn");
	j = open_ok(fx);
	assert_string_equal(fx->seen.out->str, "15:a;22:b;");
	assert_int_equal(journal_malformed(j), 1);
	assert_file(fx, HEADER "a\n!bad\nb\n");
	append_ok(fx, j, "c\n");
	journal_free(j);
	assert_file(fx, HEADER "a\n!bad\nb\nc\n");
}

/* A torn header (a crash right after creation) starts afresh. */
static void
test_torn_header(void **state)
{
	struct fixture *fx = *state;
	struct journal *j;

	put(fx, "test-jou");
	j = open_ok(fx);
	assert_int_equal(fx->seen.calls, 0);
	journal_free(j);
	assert_file(fx, HEADER);
}

/* Someone else's file, or a later version, is refused and left alone. */
static void
test_foreign(void **state)
{
	struct fixture *fx = *state;

	put(fx, "something else\n");
	assert_null(
	    journal_open(fx->path, &kind, collect, &fx->seen, &fx->err));
	assert_int_equal(fx->err.cls, ERR_LOCAL);
	assert_non_null(strstr(fx->err.msg, "not a popfetch test journal"));
	assert_file(fx, "something else\n");
	put(fx, "test-journal 4\na\n");
	assert_null(
	    journal_open(fx->path, &kind, collect, &fx->seen, &fx->err));
	assert_non_null(
	    strstr(fx->err.msg, "test journal version 4 is not supported"));
	put(fx, "test-journalx 3\n");
	assert_null(
	    journal_open(fx->path, &kind, collect, &fx->seen, &fx->err));
	put(fx, "no header line at all");
	assert_null(
	    journal_open(fx->path, &kind, collect, &fx->seen, &fx->err));
}

/* A journal is never opened through a symbolic link planted as it. */
static void
test_link_refused(void **state)
{
	struct fixture *fx = *state;
	char *target = g_build_filename(fx->dir, "target", NULL);
	char *got = NULL;

	assert_true(g_file_set_contents(target, HEADER "victim\n", -1, NULL));
	assert_int_equal(symlink(target, fx->path), 0);
	assert_null(
	    journal_open(fx->path, &kind, collect, &fx->seen, &fx->err));
	assert_int_equal(fx->err.cls, ERR_LOCAL);
	assert_true(g_file_get_contents(target, &got, NULL, NULL));
	assert_string_equal(got, HEADER "victim\n");
	g_free(got);
	(void)unlink(target);
	g_free(target);
}

/* A line longer than the read buffer is skipped, the rest still read. */
static void
test_long_line(void **state)
{
	struct fixture *fx = *state;
	GString *data = g_string_new(HEADER "a\n");
	struct journal *j;

	g_string_append_c(data, 'x');
	while (data->len < 600 * 1024)
		g_string_append_c(data, 'y');
	g_string_append(data, "\nb\n");
	put(fx, data->str);
	j = open_ok(fx);
	assert_int_equal(journal_malformed(j), 1);
	assert_non_null(strstr(fx->seen.out->str, "15:a;"));
	assert_non_null(strstr(fx->seen.out->str, ":b;"));
	journal_free(j);
	g_string_free(data, TRUE);
}

/* A write that fails is cut back: no half record glued to the next. */
static void
test_fault_write(void **state)
{
	struct fixture *fx = *state;
	struct journal *j = open_ok(fx);

	append_ok(fx, j, "a\n");
	fault_arm(&fault_write, 2, 1, ENOSPC);
	fault_write_max = 3;
	assert_int_equal(journal_append(j, "long record\n", 12, NULL, &fx->err),
	    -1);
	assert_int_equal(fx->err.cls, ERR_LOCAL);
	assert_int_equal(fx->err.errnum, ENOSPC);
	fault_write_max = 0;
	assert_file(fx, HEADER "a\n");
	append_ok(fx, j, "b\n");
	assert_int_equal(journal_sync(j, &fx->err), 0);
	journal_free(j);
	assert_file(fx, HEADER "a\nb\n");
}

/* A failed write that cannot be cut back: nothing more is written. */
static void
test_fault_write_no_cut(void **state)
{
	struct fixture *fx = *state;
	struct journal *j = open_ok(fx);

	fault_write_max = 3;
	fault_arm(&fault_write, 2, 1, EIO);
	fault_arm(&fault_ftruncate, 1, 1, EIO);
	assert_int_equal(journal_append(j, "long record\n", 12, NULL, &fx->err),
	    -1);
	fault_write_max = 0;
	fault_io_reset();
	err_clear(&fx->err);
	assert_int_equal(journal_append(j, "b\n", 2, NULL, &fx->err), -1);
	assert_non_null(strstr(fx->err.msg, "unusable after an earlier error"));
	assert_int_equal(journal_sync(j, &fx->err), -1);
	journal_free(j);
	/* Opened again, the torn record is cut off. */
	j = open_ok(fx);
	assert_int_equal(fx->seen.calls, 0);
	journal_free(j);
	assert_file(fx, HEADER);
}

/*
 * After a failed fsync the kernel may have dropped the data: no second
 * fsync is trusted, nothing more is appended, until opened again.
 */
static void
test_fault_fsync(void **state)
{
	struct fixture *fx = *state;
	struct journal *j = open_ok(fx);

	append_ok(fx, j, "a\n");
	fault_arm(&fault_fsync, 1, 1, EIO);
	assert_int_equal(journal_sync(j, &fx->err), -1);
	assert_int_equal(fx->err.errnum, EIO);
	assert_int_equal(journal_sync(j, &fx->err), -1);
	assert_int_equal(fault_fsync.calls, 1); /* refused, not tried again */
	assert_int_equal(journal_append(j, "b\n", 2, NULL, &fx->err), -1);
	assert_true(journal_is_dirty(j));
	journal_free(j);
	j = open_ok(fx);
	append_ok(fx, j, "c\n");
	assert_int_equal(journal_sync(j, &fx->err), 0);
	journal_free(j);
}

/* The first sync makes the name durable too: the directory's fsync. */
static void
test_dir_sync_once(void **state)
{
	struct fixture *fx = *state;
	struct journal *j = open_ok(fx);

	append_ok(fx, j, "a\n");
	fault_fsync_calls = 0;
	assert_int_equal(journal_sync(j, &fx->err), 0);
	assert_int_equal(fault_fsync_calls, 2);
	append_ok(fx, j, "b\n");
	assert_int_equal(journal_sync(j, &fx->err), 0);
	assert_int_equal(fault_fsync_calls, 3);
	/* The directory's fsync failing fails the sync. */
	journal_free(j);
	j = open_ok(fx);
	fault_arm(&fault_fsync, 2, 1, EIO);
	assert_int_equal(journal_sync(j, &fx->err), -1);
	journal_free(j);
}

/* Read-only: nothing made, nothing written; records read back. */
static void
test_readonly(void **state)
{
	struct fixture *fx = *state;
	struct journal *j;
	char buf[8];

	j = journal_open_readonly(fx->path, &kind, collect, &fx->seen,
	    &fx->err);
	assert_non_null(j);
	assert_false(g_file_test(fx->path, G_FILE_TEST_EXISTS));
	assert_int_equal(journal_pread(j, buf, sizeof(buf), 0), -1);
	journal_free(j);
	put(fx, HEADER "a\ntorn");
	j = journal_open_readonly(fx->path, &kind, collect, &fx->seen,
	    &fx->err);
	assert_non_null(j);
	assert_string_equal(fx->seen.out->str, "15:a;");
	assert_int_equal(journal_pread(j, buf, 2, 15), 2);
	assert_memory_equal(buf, "a\n", 2);
	assert_int_equal(journal_append(j, "b\n", 2, NULL, &fx->err), -1);
	assert_int_equal(fx->err.cls, ERR_SOFTWARE);
	assert_int_equal(journal_sync(j, &fx->err), -1);
	journal_free(j);
	assert_file(fx, HEADER "a\ntorn");
}

/* A rewrite replaces the file; appends then go to the new one. */
static void
test_rewrite(void **state)
{
	struct fixture *fx = *state;
	struct journal *j = open_ok(fx);

	append_ok(fx, j, "a\n");
	append_ok(fx, j, "b\n");
	assert_int_equal(journal_rewrite(j, "x\n", 2, &fx->err), -1);
	assert_int_equal(fx->err.cls, ERR_SOFTWARE);
	assert_int_equal(journal_rewrite(j, HEADER "b\n", strlen(HEADER "b\n"),
	                     &fx->err),
	    0);
	append_ok(fx, j, "c\n");
	g_string_truncate(fx->seen.out, 0);
	assert_int_equal(journal_scan(j, collect, &fx->seen, &fx->err), 0);
	assert_string_equal(fx->seen.out->str, "15:b;17:c;");
	assert_int_equal(journal_sync(j, &fx->err), 0);
	journal_free(j);
	assert_file(fx, HEADER "b\nc\n");
}

/* A rewrite that fails leaves the old file whole, and in use. */
static void
test_fault_rewrite(void **state)
{
	struct fixture *fx = *state;
	struct journal *j = open_ok(fx);

	append_ok(fx, j, "a\n");
	assert_int_equal(journal_sync(j, &fx->err), 0);
	fault_arm(&fault_renameat, 1, 1, EIO);
	assert_int_equal(journal_rewrite(j, HEADER, strlen(HEADER), &fx->err),
	    -1);
	assert_non_null(strstr(fx->err.msg, "compact "));
	append_ok(fx, j, "b\n");
	assert_int_equal(journal_sync(j, &fx->err), 0);
	journal_free(j);
	assert_file(fx, HEADER "a\nb\n");
}

/*
 * The compaction's rename stood but its directory's fsync failed: the
 * next sync makes the directory durable, not only the file.
 */
static void
test_fault_rewrite_dir(void **state)
{
	struct fixture *fx = *state;
	struct journal *j = open_ok(fx);

	append_ok(fx, j, "a\n");
	assert_int_equal(journal_sync(j, &fx->err), 0);
	/* The temporary file's fsync, then the directory's: that one. */
	fault_arm(&fault_fsync, 2, 1, EIO);
	assert_int_equal(journal_rewrite(j, HEADER "a\n", strlen(HEADER) + 2,
	                     &fx->err),
	    -1);
	append_ok(fx, j, "b\n");
	fault_fsync_calls = 0;
	assert_int_equal(journal_sync(j, &fx->err), 0);
	assert_int_equal(fault_fsync_calls, 2);
	journal_free(j);
	assert_file(fx, HEADER "a\nb\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_create_append_reopen),
		T(test_one_write_per_record),
		T(test_torn_tail),
		T(test_torn_header),
		T(test_foreign),
		T(test_link_refused),
		T(test_long_line),
		T(test_fault_write),
		T(test_fault_write_no_cut),
		T(test_fault_fsync),
		T(test_dir_sync_once),
		T(test_readonly),
		T(test_rewrite),
		T(test_fault_rewrite),
		T(test_fault_rewrite_dir),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
