#include "config.h"

#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <glib.h>

#include "filter/archive.h"
#include "filter/filter.h"

#define HEADER "popfetch-archive 1\n"
/* Two digests, as a message's content and Message-ID would give. */
#define D1 "1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "2222222222222222222222222222222222222222222222222222222222222222"
#define M1 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

struct fixture {
	char *dir;
	char *path;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	f->dir = g_dir_make_tmp("test-archive-XXXXXX", NULL);
	if (f->dir == NULL)
		return -1;
	f->path = g_build_filename(f->dir, "acct.archive", NULL);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	(void)unlink(f->path);
	(void)rmdir(f->dir);
	g_free(f->path);
	g_free(f->dir);
	free(f);
	return 0;
}

static void
write_file(const char *path, const char *text)
{
	assert_true(g_file_set_contents(path, text, -1, NULL));
}

static char *
read_file(const char *path)
{
	char *text = NULL;

	assert_true(g_file_get_contents(path, &text, NULL, NULL));
	return text;
}

static struct archive *
open_ok(const char *path)
{
	struct archive *ar;
	struct err err;

	err_clear(&err);
	ar = archive_open(path, &err);
	if (ar == NULL)
		fail_msg("archive_open: %s", err.msg);
	return ar;
}

/* A new index: header, records, lookups by both keys, and a reload. */
static void
test_append_lookup(void **state)
{
	struct fixture *f = *state;
	struct archive *ar;
	struct err err;
	char *text;

	ar = open_ok(f->path);
	assert_int_equal(archive_count(ar), 0);
	assert_null(archive_lookup(ar, D1, M1));
	assert_int_equal(archive_append(ar, D1, M1, ".2026.11/new/a,S=10",
	                     &err),
	    0);
	assert_int_equal(archive_append(ar, D2, NULL, "cur/b,S=20:2,S", &err),
	    0);
	assert_int_equal(archive_sync(ar, &err), 0);
	assert_string_equal(archive_lookup(ar, D1, M1), ".2026.11/new/a,S=10");
	assert_string_equal(archive_lookup(ar, D2, NULL), "cur/b,S=20:2,S");
	/* Both must match: the same content under another id is not it. */
	assert_null(archive_lookup(ar, D1, NULL));
	assert_null(archive_lookup(ar, D2, M1));
	assert_null(archive_lookup(ar, D1, D2));
	/* Nothing unprintable goes in. */
	assert_int_equal(archive_append(ar, D1, M1, "new/x\ty", &err), -1);
	assert_int_equal(err.cls, ERR_SOFTWARE);
	assert_int_equal(archive_append(ar, "12", M1, "new/x", &err), -1);
	archive_free(ar);

	text = read_file(f->path);
	assert_string_equal(text,
	    HEADER D1 "\t" M1 "\t.2026.11/new/a,S=10\n" D2
	              "\t-\tcur/b,S=20:2,S\n");
	g_free(text);
	ar = open_ok(f->path);
	assert_int_equal(archive_count(ar), 2);
	assert_int_equal(archive_malformed(ar), 0);
	assert_string_equal(archive_lookup(ar, D1, M1), ".2026.11/new/a,S=10");
	assert_string_equal(archive_lookup(ar, D2, NULL), "cur/b,S=20:2,S");
	archive_free(ar);
}

/*
 * A crash in the middle of an append leaves a torn last line: it is
 * ignored and cut off, so that the next record starts a line of its own.
 */
static void
test_torn_line(void **state)
{
	struct fixture *f = *state;
	struct archive *ar;
	struct err err;
	char *text;

	write_file(f->path, HEADER D1 "\t-\tnew/a\n" D2 "\t" M1 "\tnew/b");
	ar = open_ok(f->path);
	assert_int_equal(archive_count(ar), 1);
	assert_int_equal(archive_malformed(ar), 0);
	assert_string_equal(archive_lookup(ar, D1, NULL), "new/a");
	assert_null(archive_lookup(ar, D2, M1));
	assert_int_equal(archive_append(ar, D2, M1, "new/c", &err), 0);
	assert_int_equal(archive_sync(ar, &err), 0);
	archive_free(ar);
	text = read_file(f->path);
	assert_string_equal(text,
	    HEADER D1 "\t-\tnew/a\n" D2 "\t" M1 "\tnew/c\n");
	g_free(text);

	/* Only a torn header: started afresh. */
	write_file(f->path, "popfetch-arch");
	ar = open_ok(f->path);
	assert_int_equal(archive_count(ar), 0);
	archive_free(ar);
	text = read_file(f->path);
	assert_string_equal(text, HEADER);
	g_free(text);
}

/* Damaged lines are skipped and counted; the others still count. */
static void
test_malformed(void **state)
{
	struct fixture *f = *state;
	struct archive *ar;

	write_file(f->path,
	    HEADER "nonsense\n" D1 "\t-\n" D1 "\tXYZ\tnew/a\n"
	           "ABCD\t-\tnew/a\n" D1 "\t-\t\n" D2 "\t-\tnew/b\tlater\n");
	ar = open_ok(f->path);
	assert_int_equal(archive_malformed(ar), 5);
	assert_int_equal(archive_count(ar), 1);
	/* A later version's extra field is not part of the name. */
	assert_string_equal(archive_lookup(ar, D2, NULL), "new/b");
	archive_free(ar);
}

/* Someone else's file, or a later version, is refused, not overwritten. */
static void
test_foreign(void **state)
{
	struct fixture *f = *state;
	struct err err;
	char *text;

	write_file(f->path, "popfetch-uidl 1\n");
	err_clear(&err);
	assert_null(archive_open(f->path, &err));
	assert_int_equal(err.cls, ERR_LOCAL);
	assert_non_null(strstr(err.msg, "not a popfetch archive index"));
	write_file(f->path, "popfetch-archive 2\n" D1 "\t-\tnew/a\n");
	assert_null(archive_open(f->path, &err));
	assert_int_equal(err.cls, ERR_LOCAL);
	assert_non_null(strstr(err.msg, "version 2 is not supported"));
	text = read_file(f->path);
	assert_string_equal(text, "popfetch-archive 2\n" D1 "\t-\tnew/a\n");
	g_free(text);
}

static const char msg_text[] = "From: a@example.org\n"
                               "Message-ID:\n <x1@example.org> \n"
                               "Date: Thu, 26 Nov 2026 10:00:00 +0000\n"
                               "Subject: s\n"
                               "\n"
                               "body\n";

/*
 * The digest covers every byte however the message is cut into chunks;
 * the Message-ID is hashed unfolded and trimmed.
 */
static void
test_msg_digest(void **state)
{
	char d1[ARCHIVE_HEX_SIZE], m1[ARCHIVE_HEX_SIZE];
	char d2[ARCHIVE_HEX_SIZE], m2[ARCHIVE_HEX_SIZE];
	struct archive_msg *am = archive_msg_new();
	size_t i, len = strlen(msg_text);
	gchar *want;
	bool is_done = false;

	(void)state;
	assert_true(archive_msg_feed(am, msg_text, len));
	assert_true(archive_msg_finish(am, d1, m1));
	want = g_compute_checksum_for_string(G_CHECKSUM_SHA256, msg_text, -1);
	assert_string_equal(d1, want);
	g_free(want);
	want = g_compute_checksum_for_string(G_CHECKSUM_SHA256,
	    "<x1@example.org>", -1);
	assert_string_equal(m1, want);
	g_free(want);
	assert_string_equal(archive_msg_date(am), "2026-11-26 10:00:00 +0000");

	/* One byte at a time: the same, and the header ends at the blank. */
	archive_msg_reset(am);
	for (i = 0; i < len; i++) {
		is_done = archive_msg_feed(am, msg_text + i, 1);
		if (i + 1 < (size_t)(strstr(msg_text, "\n\n") - msg_text) + 2)
			assert_false(is_done);
	}
	assert_true(is_done);
	assert_true(archive_msg_finish(am, d2, m2));
	assert_string_equal(d1, d2);
	assert_string_equal(m1, m2);

	/* No Message-ID, no Date. */
	archive_msg_reset(am);
	(void)archive_msg_feed(am, "Subject: x\n\nbody\n", 17);
	assert_false(archive_msg_finish(am, d2, m2));
	assert_string_equal(m2, "");
	assert_string_not_equal(d1, d2);
	assert_null(archive_msg_date(am));

	/* What is held is given back whole, then forgotten. */
	archive_msg_hold(am, "ab", 2);
	archive_msg_hold(am, "cd", 2);
	assert_memory_equal(archive_msg_held(am, &len), "abcd", 4);
	assert_int_equal(len, 4);
	archive_msg_drop_held(am);
	(void)archive_msg_held(am, &len);
	assert_int_equal(len, 0);
	archive_msg_free(am);
}

/* --rebuild-state digests a stored file as the fetch did. */
static void
test_digest_file(void **state)
{
	struct fixture *f = *state;
	char d1[ARCHIVE_HEX_SIZE], m1[ARCHIVE_HEX_SIZE];
	char d2[ARCHIVE_HEX_SIZE], m2[ARCHIVE_HEX_SIZE];
	struct archive_msg *am = archive_msg_new();
	struct err err;
	bool has_id;

	(void)archive_msg_feed(am, msg_text, strlen(msg_text));
	assert_true(archive_msg_finish(am, d1, m1));
	archive_msg_free(am);
	write_file(f->path, msg_text);
	assert_int_equal(archive_digest_file(f->path, d2, m2, &has_id, &err),
	    0);
	assert_true(has_id);
	assert_string_equal(d1, d2);
	assert_string_equal(m1, m2);
	assert_int_equal(archive_digest_file("/nonexistent/x", d2, m2, &has_id,
	                     &err),
	    -1);
	assert_int_equal(err.cls, ERR_LOCAL);
}

static void
folder_is(const char *format, const char *date, int64_t now, const char *want)
{
	char buf[ARCHIVE_FOLDER_SIZE];
	struct err err;

	err_clear(&err);
	if (archive_date_folder(format, date, now, buf, sizeof(buf), &err) ==
	    -1)
		fail_msg("%s, %s: %s", format, date ? date : "(null)", err.msg);
	assert_string_equal(buf, want);
}

/* Date to folder, in local time (UTC here); no usable Date: now. */
static void
test_date_folder(void **state)
{
	/* 2027-03-04 05:06:07 UTC */
	const int64_t now = 1804136767;
	char buf[ARCHIVE_FOLDER_SIZE];
	struct err err;

	(void)state;
	folder_is("%Y/%m", "2026-11-26 10:00:00 +0000", now, ".2026.11");
	folder_is("%Y", "2026-11-26 10:00:00 +0000", now, ".2026");
	folder_is("%Y.%m-%d", "2026-11-26 10:00:00 +0000", now, ".2026.11-26");
	/* The sender's zone counts: late on the 30th in -0800 is December. */
	folder_is("%Y/%m", "2026-11-30 23:30:00 -0800", now, ".2026.12");
	folder_is("%Y/%m/%d", "2026-12-01 00:30:00 +0100", now, ".2026.11.30");
	folder_is("%Y/%m", NULL, now, ".2027.03");
	folder_is("%Y/%m", "next tuesday", now, ".2027.03");
	folder_is("%Y/%m", "2026-13-01 00:00:00 +0000", now, ".2027.03");
	folder_is("%Y/%m", "2026-02-30 00:00:00 +0000", now, ".2027.03");
	folder_is("%Y/%m", "2026-11-26 10:00:00 +0000 junk", now, ".2027.03");
	folder_is("archive", NULL, now, ".archive");
	/* Whatever the date, no empty or hidden part. */
	err_clear(&err);
	assert_int_equal(archive_date_folder("%Y//%m", NULL, now, buf,
	                     sizeof(buf), &err),
	    -1);
	assert_int_equal(err.cls, ERR_CONFIG);
	assert_int_equal(archive_date_folder("%Y/", NULL, now, buf, sizeof(buf),
	                     &err),
	    -1);
	assert_int_equal(archive_date_folder("%Y", NULL, now, buf, 4, &err),
	    -1);
}

static int
group_setup(void **state)
{
	(void)state;
	/* Folders are named in local time: make it known. */
	if (setenv("TZ", "UTC", 1) == -1)
		return -1;
	tzset();
	filter_init();
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	filter_shutdown();
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_append_lookup, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_torn_line, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_foreign, setup, teardown),
		cmocka_unit_test(test_msg_digest),
		cmocka_unit_test_setup_teardown(test_digest_file, setup,
		    teardown),
		cmocka_unit_test(test_date_folder),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
