#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
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

#include "state/uidl.h"
#include "tests/unit/fault.h"
#include "util/xmalloc.h"

#define HEADER "popfetch-uidl 1\n"

struct fixture {
	char dir[64];
	char path[128];
};

static int
setup(void **state)
{
	struct fixture *fx;
	const char *tmpdir = getenv("TMPDIR");

	fault_io_reset();
	(void)umask(022);
	fx = xcalloc(1, sizeof(*fx));
	if (tmpdir == NULL || strlen(tmpdir) > 30)
		tmpdir = "/tmp";
	(void)snprintf(fx->dir, sizeof(fx->dir), "%s/uidl-test-XXXXXX", tmpdir);
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	(void)snprintf(fx->path, sizeof(fx->path), "%s/acct.uidl", fx->dir);
	*state = fx;
	return 0;
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	fault_io_reset();
	(void)nftw(fx->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

/* The whole file, NUL-terminated (caller frees); *len_out its length. */
static char *
slurp(const char *path, size_t *len_out)
{
	struct stat sb;
	char *buf;
	size_t got = 0;
	ssize_t n;
	int fd;

	assert_int_not_equal(fd = open(path, O_RDONLY), -1);
	assert_int_equal(fstat(fd, &sb), 0);
	buf = xmalloc((size_t)sb.st_size + 1);
	while (got < (size_t)sb.st_size &&
	    (n = read(fd, buf + got, (size_t)sb.st_size - got)) > 0)
		got += (size_t)n;
	assert_int_equal(got, (size_t)sb.st_size);
	buf[got] = '\0';
	(void)close(fd);
	if (len_out != NULL)
		*len_out = got;
	return buf;
}

static void
spew(const char *path, const char *data, size_t len)
{
	int fd;

	assert_int_not_equal(fd =
	                         open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600),
	    -1);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	(void)close(fd);
}

static void
assert_file_equals(const char *path, const char *want)
{
	char *got = slurp(path, NULL);

	assert_string_equal(got, want);
	free(got);
}

static int
count_dir(const char *dir)
{
	struct dirent *de;
	DIR *dp;
	int n = 0;

	assert_non_null(dp = opendir(dir));
	while ((de = readdir(dp)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	(void)closedir(dp);
	return n;
}

static struct uidl_store *
open_ok(const char *path)
{
	struct uidl_store *st;
	struct err err;

	err_clear(&err);
	st = uidl_open(path, &err);
	if (st == NULL)
		fail_msg("uidl_open: %s", err.msg);
	return st;
}

static void
test_empty_store(void **state)
{
	struct fixture *fx = *state;
	struct uidl_store *st;
	struct stat sb;

	st = open_ok(fx->path);
	assert_int_equal(uidl_count(st), 0);
	assert_int_equal(uidl_malformed(st), 0);
	assert_false(uidl_has(st, "abc", 1));
	uidl_free(st);
	assert_int_equal(stat(fx->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_file_equals(fx->path, HEADER);

	/* Opening it again is still empty. */
	st = open_ok(fx->path);
	assert_int_equal(uidl_count(st), 0);
	uidl_free(st);
	assert_file_equals(fx->path, HEADER);
}

static void
test_append_sync_reopen(void **state)
{
	struct fixture *fx = *state;
	struct uidl_store *st;
	struct err err;

	st = open_ok(fx->path);
	assert_int_equal(uidl_append(st, "a1", 100, "f1,S=100", 1000, &err), 0);
	assert_int_equal(uidl_append(st, "b2", 200, NULL, 2000, &err), 0);
	/* Same uid, another size: another message as far as we know. */
	assert_int_equal(uidl_append(st, "a1", 101, NULL, 3000, &err), 0);
	assert_true(uidl_has(st, "a1", 100));
	assert_int_equal(uidl_count(st), 3);

	/* The first sync also fsyncs the directory, later ones not. */
	assert_int_equal(uidl_sync(st, &err), 0);
	assert_int_equal(fault_fsync_calls, 2);
	assert_int_equal(uidl_append(st, "c3", 5, NULL, 4000, &err), 0);
	assert_int_equal(uidl_sync(st, &err), 0);
	assert_int_equal(fault_fsync_calls, 3);
	uidl_free(st);

	assert_file_equals(fx->path,
	    HEADER "a1\t100\t1000\t1000\tf1,S=100\n"
	           "b2\t200\t2000\t2000\t-\n"
	           "a1\t101\t3000\t3000\t-\n"
	           "c3\t5\t4000\t4000\t-\n");

	st = open_ok(fx->path);
	assert_int_equal(uidl_count(st), 4);
	assert_int_equal(uidl_malformed(st), 0);
	assert_true(uidl_has(st, "a1", 100));
	assert_true(uidl_has(st, "a1", 101));
	assert_false(uidl_has(st, "a1", 102));
	assert_true(uidl_has(st, "b2", 200));
	assert_false(uidl_has(st, "b2", 100));
	assert_true(uidl_has(st, "c3", 5));
	assert_false(uidl_has(st, "d4", 5));
	assert_false(uidl_has(st, "a", 100));
	uidl_free(st);
}

static void
test_torn_last_line(void **state)
{
	struct fixture *fx = *state;
	const char *good = HEADER "a\t1\t10\t10\t-\n";
	struct uidl_store *st;
	struct err err;
	char buf[128];

	(void)snprintf(buf, sizeof(buf), "%sb\t2\t20", good);
	spew(fx->path, buf, strlen(buf));
	st = open_ok(fx->path);
	assert_int_equal(uidl_count(st), 1);
	assert_int_equal(uidl_malformed(st), 0);
	assert_true(uidl_has(st, "a", 1));
	assert_false(uidl_has(st, "b", 2));
	/* Cut back at once, so the next record starts on its own line. */
	assert_file_equals(fx->path, good);
	assert_int_equal(uidl_append(st, "c", 3, NULL, 30, &err), 0);
	assert_int_equal(uidl_sync(st, &err), 0);
	uidl_free(st);

	st = open_ok(fx->path);
	assert_int_equal(uidl_count(st), 2);
	assert_int_equal(uidl_malformed(st), 0);
	assert_true(uidl_has(st, "c", 3));
	uidl_free(st);
}

/*
 * A journal far bigger than the read buffer: records cut by every
 * chunk boundary, a line longer than the buffer in the middle (skipped,
 * counted), and a torn tail cut off.
 */
static void
test_big_journal(void **state)
{
	struct fixture *fx = *state;
	GString *g = g_string_new(HEADER);
	struct uidl_store *st;
	size_t good_len;
	unsigned i;
	char uid[32];

	for (i = 0; i < 20000; i++) {
		if (i == 7000) {
			for (unsigned k = 0; k < 300000; k++)
				g_string_append_c(g, 'x');
			g_string_append_c(g, '\n');
		}
		g_string_append_printf(g,
		    "uid-%u\t%u\t%u\t%u\t1700000000.M1P1Q%uR00.host,S=%u\n", i,
		    i + 1, 1000 + i, 2000 + i, i, i + 1);
	}
	good_len = g->len;
	g_string_append(g, "uid-torn\t5\t1");
	spew(fx->path, g->str, g->len);
	st = open_ok(fx->path);
	assert_int_equal(uidl_count(st), 20000);
	assert_int_equal(uidl_malformed(st), 1);
	for (i = 0; i < 20000; i += 997) {
		(void)snprintf(uid, sizeof(uid), "uid-%u", i);
		assert_true(uidl_has(st, uid, i + 1));
		assert_int_equal(uidl_first_seen(st, uid, i + 1), 1000 + i);
	}
	assert_string_equal(uidl_file(st, "uid-19999", 20000),
	    "1700000000.M1P1Q19999R00.host,S=20000");
	assert_false(uidl_has(st, "uid-torn", 5));
	uidl_free(st);
	/* The torn tail was cut: the file ends with the last whole line. */
	{
		size_t len;
		char *got = slurp(fx->path, &len);

		assert_int_equal(len, good_len);
		assert_memory_equal(got, g->str, good_len);
		free(got);
	}
	g_string_free(g, TRUE);
}

/* "*" for the size, as imported from other tools: any size matches. */
static void
test_any_size(void **state)
{
	struct fixture *fx = *state;
	const char *keep[] = { "w" };
	const char *text = HEADER "w\t*\t10\t10\t-\n";
	struct uidl_store *st;
	struct err err;

	spew(fx->path, text, strlen(text));
	st = open_ok(fx->path);
	assert_int_equal(uidl_malformed(st), 0);
	assert_true(uidl_has(st, "w", 1));
	assert_true(uidl_has(st, "w", 123456));
	assert_false(uidl_has(st, "x", 1));
	/* The wildcard cannot be appended, only imported. */
	assert_int_equal(uidl_append(st, "v", UINT64_MAX, NULL, 1, &err), -1);
	assert_int_equal(err.cls, ERR_SOFTWARE);
	/* Compaction keeps it as it was. */
	assert_int_equal(uidl_compact(st, keep, 1, &err), 0);
	uidl_free(st);
	assert_file_equals(fx->path, text);
}

/* Read-only: a missing journal is empty and stays missing; a torn tail
 * is not cut; nothing can be written. */
static void
test_readonly(void **state)
{
	struct fixture *fx = *state;
	const char *text =
	    HEADER "a\t1\t10\t10\t-\nf\t4\t1\t1\tname,S=4\nb\t2\t2";
	const char *keep[] = { "a" };
	struct uidl_store *st;
	struct stat sb;
	struct err err;

	assert_non_null(st = uidl_open_readonly(fx->path, &err));
	assert_int_equal(uidl_count(st), 0);
	uidl_free(st);
	assert_int_equal(stat(fx->path, &sb), -1);

	spew(fx->path, text, strlen(text));
	assert_non_null(st = uidl_open_readonly(fx->path, &err));
	assert_true(uidl_has(st, "a", 1));
	/* File names are read back from the journal (for --status). */
	assert_string_equal(uidl_file(st, "f", 4), "name,S=4");
	assert_null(uidl_file(st, "a", 1));
	assert_int_equal(uidl_append(st, "c", 3, NULL, 3, &err), -1);
	assert_int_equal(uidl_sync(st, &err), -1);
	assert_int_equal(uidl_compact(st, keep, 1, &err), -1);
	uidl_free(st);
	assert_file_equals(fx->path, text);
}

static void
count_each(void *arg, const char *uid, uint64_t size, int64_t first_seen,
    int64_t delivered, const char *file)
{
	int *n = arg;

	(*n)++;
	assert_true(strcmp(uid, "a") == 0 || strcmp(uid, "b") == 0);
	if (strcmp(uid, "a") == 0) {
		assert_int_equal(size, 1);
		assert_int_equal(first_seen, 10);
		assert_int_equal(delivered, 10);
		assert_string_equal(file, "fa");
	} else
		assert_null(file);
}

static void
test_foreach(void **state)
{
	struct fixture *fx = *state;
	struct uidl_store *st;
	struct err err;
	int n = 0;

	st = open_ok(fx->path);
	assert_int_equal(uidl_append(st, "a", 1, "fa", 10, &err), 0);
	assert_int_equal(uidl_append(st, "b", 2, NULL, 20, &err), 0);
	uidl_foreach(st, count_each, &n);
	assert_int_equal(n, 2);
	uidl_free(st);
}

/*
 * The header id: written as a sixth field when known, read back, and
 * found by uid alone (the latest record wins); compaction keeps it, and
 * drops a record that a later one with the same id supersedes.
 */
static void
test_header_id(void **state)
{
	struct fixture *fx = *state;
	struct uidl_store *st;
	const char *keep[] = { "a1" };
	uint64_t size, hid;
	struct err err;

	st = open_ok(fx->path);
	assert_false(uidl_find_uid(st, "a1", &size, &hid));
	assert_int_equal(uidl_append_id(st, "a1", 100, "f1", 0xabcdef0123456789,
	                     1000, &err),
	    0);
	assert_true(uidl_find_uid(st, "a1", &size, &hid));
	assert_int_equal(size, 100);
	assert_int_equal(hid, 0xabcdef0123456789);
	assert_int_equal(uidl_append_id(st, "a1", 120, "f1", 0xabcdef0123456789,
	                     1000, &err),
	    0);
	assert_int_equal(uidl_append(st, "b2", 5, NULL, 2000, &err), 0);
	assert_true(uidl_find_uid(st, "a1", &size, &hid));
	assert_int_equal(size, 120);
	assert_true(uidl_find_uid(st, "b2", &size, &hid));
	assert_int_equal(hid, 0);
	assert_int_equal(uidl_sync(st, &err), 0);
	uidl_free(st);
	assert_file_equals(fx->path,
	    HEADER "a1\t100\t1000\t1000\tf1\tabcdef0123456789\n"
	           "a1\t120\t1000\t1000\tf1\tabcdef0123456789\n"
	           "b2\t5\t2000\t2000\t-\n");

	st = open_ok(fx->path);
	assert_true(uidl_find_uid(st, "a1", &size, &hid));
	assert_int_equal(size, 120);
	assert_int_equal(hid, 0xabcdef0123456789);
	assert_string_equal(uidl_file(st, "a1", 100), "f1");
	assert_int_equal(uidl_compact(st, keep, 1, &err), 0);
	assert_false(uidl_find_uid(st, "b2", &size, &hid));
	assert_true(uidl_find_uid(st, "a1", &size, &hid));
	assert_int_equal(hid, 0xabcdef0123456789);
	uidl_free(st);
	st = open_ok(fx->path);
	/* a1 under 100 is superseded by a1 under 120: gone. */
	assert_int_equal(uidl_count(st), 1);
	assert_false(uidl_has(st, "a1", 100));
	assert_true(uidl_has(st, "a1", 120));
	assert_string_equal(uidl_file(st, "a1", 120), "f1");
	assert_true(uidl_find_uid(st, "a1", &size, &hid));
	assert_int_equal(hid, 0xabcdef0123456789);
	/* Another header id under the uid: another message, both kept. */
	assert_int_equal(uidl_append_id(st, "a1", 130, NULL, 7, 3000, &err), 0);
	assert_int_equal(uidl_append(st, "a1", 140, NULL, 3000, &err), 0);
	assert_int_equal(uidl_compact(st, keep, 1, &err), 0);
	assert_int_equal(uidl_count(st), 3);
	uidl_free(st);
}

/*
 * A record longer than a bounded read, from fields after the name (a
 * later version's) or from leading zeros: the name is read back all the
 * same, or the record is malformed; compaction never fails on it.
 */
static void
test_long_record(void **state)
{
	struct fixture *fx = *state;
	const char *keep[] = { "a", "z" };
	struct uidl_store *st;
	GString *data = g_string_new(HEADER "a\t1\t1\t1\tname\t");
	struct err err;

	g_string_append_printf(data, "%0600d\nz\t%0600d\t1\t1\tzz\n", 7, 2);
	spew(fx->path, data->str, data->len);
	g_string_free(data, TRUE);
	st = open_ok(fx->path);
	assert_int_equal(uidl_count(st), 1);
	assert_int_equal(uidl_malformed(st), 1);
	assert_string_equal(uidl_file(st, "a", 1), "name");
	assert_int_equal(uidl_compact(st, keep, 2, &err), 0);
	assert_string_equal(uidl_file(st, "a", 1), "name");
	uidl_free(st);
}

static void
test_torn_header(void **state)
{
	struct fixture *fx = *state;
	struct uidl_store *st;

	/* A crash right after creation: start afresh. */
	spew(fx->path, "popfetch-ui", 11);
	st = open_ok(fx->path);
	assert_int_equal(uidl_count(st), 0);
	uidl_free(st);
	assert_file_equals(fx->path, HEADER);
}

static void
test_malformed_lines(void **state)
{
	struct fixture *fx = *state;
	const char *data = HEADER
	    "ok1\t1\t1\t1\t-\n"
	    "\n"
	    "lonely\n"
	    "four\t1\t1\t1\n"
	    "nosize\tx\t1\t1\t-\n"
	    "neg\t1\t-5\t1\t-\n"
	    "big\t99999999999999999999999\t1\t1\t-\n"
	    "sp ace\t1\t1\t1\t-\n"
	    "\t1\t1\t1\t-\n"
	    "slash\t1\t1\t1\ta/b\n"
	    "empty\t1\t1\t1\t\n"
	    "plus\t+1\t1\t1\t-\n"
	    "toolong-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "\t1\t1\t1\t-\n"
	    "ok2\t2\t2\t2\tname\textra\tfields\n"
	    "ok1\t1\t1\t1\t-\n";
	struct uidl_store *st;

	spew(fx->path, data, strlen(data));
	st = open_ok(fx->path);
	assert_int_equal(uidl_malformed(st), 12);
	/* ok1 twice is one entry; later fields are ignored. */
	assert_int_equal(uidl_count(st), 2);
	assert_true(uidl_has(st, "ok1", 1));
	assert_true(uidl_has(st, "ok2", 2));
	assert_false(uidl_has(st, "four", 1));
	assert_false(uidl_has(st, "nosize", 0));
	uidl_free(st);
	/* Whole lines are left alone: a later compact drops them. */
	assert_file_equals(fx->path, data);
}

static void
test_foreign_file(void **state)
{
	struct fixture *fx = *state;
	const char *files[] = {
		"just some text\nmore\n",
		"popfetch-uidl 2\nx\t1\t1\t1\t-\n",
		"no newline at all, and not ours",
	};
	struct err err;
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		spew(fx->path, files[i], strlen(files[i]));
		err_clear(&err);
		assert_null(uidl_open(fx->path, &err));
		assert_int_equal(err.cls, ERR_LOCAL);
		/* Never truncated or appended to. */
		assert_file_equals(fx->path, files[i]);
	}
	assert_non_null(strstr(err.msg, "not a popfetch UIDL journal"));

	err_clear(&err);
	assert_null(uidl_open("/nonexistent-dir/x.uidl", &err));
	assert_int_equal(err.cls, ERR_LOCAL);
	assert_int_equal(err.errnum, ENOENT);
}

static void
test_invalid_uid(void **state)
{
	struct fixture *fx = *state;
	char longuid[72];
	/* The last is 71 bytes, one over the RFC 1939 limit. */
	const char *bad[] = { "a\tb", "a\nb", "", "a b", "\x7f", longuid };
	struct uidl_store *st;
	struct err err;
	size_t i;

	memset(longuid, 'a', sizeof(longuid) - 1);
	longuid[sizeof(longuid) - 1] = '\0';
	st = open_ok(fx->path);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err_clear(&err);
		assert_int_equal(uidl_append(st, bad[i], 1, NULL, 1, &err), -1);
		assert_int_equal(err.cls, ERR_SOFTWARE);
		assert_false(uidl_has(st, bad[i], 1));
	}
	err_clear(&err);
	assert_int_equal(uidl_append(st, "ok", 1, "x\ty", 1, &err), -1);
	assert_int_equal(err.cls, ERR_SOFTWARE);
	assert_int_equal(uidl_append(st, "ok", 1, "x\ny", 1, &err), -1);
	assert_int_equal(uidl_count(st), 0);
	/* 70 bytes is the RFC 1939 maximum, and fine. */
	assert_int_equal(uidl_append(st, bad[5] + 1, 1, NULL, 1, &err), 0);
	assert_true(uidl_has(st, bad[5] + 1, 1));
	uidl_free(st);
}

static void
test_compact(void **state)
{
	struct fixture *fx = *state;
	const char *keep[] = { "k1", "k3", "absent" };
	struct uidl_store *st;
	struct err err;
	char uid[16], file[32];
	int i;

	st = open_ok(fx->path);
	for (i = 0; i < 5; i++) {
		(void)snprintf(uid, sizeof(uid), "k%d", i);
		(void)snprintf(file, sizeof(file), "file-of-k%d", i);
		assert_int_equal(uidl_append(st, uid, (uint64_t)i,
		                     i % 2 == 1 ? file : NULL, i, &err),
		    0);
	}
	assert_int_equal(uidl_append(st, "k1", 99, NULL, 7, &err), 0);
	assert_int_equal(uidl_compact(st, keep, 3, &err), 0);
	assert_int_equal(uidl_count(st), 3);
	assert_true(uidl_has(st, "k1", 1));
	assert_true(uidl_has(st, "k1", 99));
	assert_true(uidl_has(st, "k3", 3));
	assert_false(uidl_has(st, "k0", 0));
	assert_false(uidl_has(st, "k2", 2));
	/* The names are found where the records are now. */
	assert_string_equal(uidl_file(st, "k1", 1), "file-of-k1");
	assert_string_equal(uidl_file(st, "k3", 3), "file-of-k3");
	assert_null(uidl_file(st, "k1", 99));
	/* Appends now go to the new file. */
	assert_int_equal(uidl_append(st, "new", 8, "n", 8, &err), 0);
	assert_int_equal(uidl_sync(st, &err), 0);
	assert_string_equal(uidl_file(st, "new", 8), "n");
	assert_string_equal(uidl_file(st, "k3", 3), "file-of-k3");
	uidl_free(st);
	assert_int_equal(count_dir(fx->dir), 1); /* no temporary left */

	st = open_ok(fx->path);
	assert_int_equal(uidl_count(st), 4);
	assert_int_equal(uidl_malformed(st), 0);
	assert_true(uidl_has(st, "k1", 1));
	assert_true(uidl_has(st, "k1", 99));
	assert_true(uidl_has(st, "k3", 3));
	assert_true(uidl_has(st, "new", 8));
	assert_false(uidl_has(st, "k4", 4));

	/* Keeping nothing empties it. */
	assert_int_equal(uidl_compact(st, NULL, 0, &err), 0);
	assert_int_equal(uidl_count(st), 0);
	uidl_free(st);
	assert_file_equals(fx->path, HEADER);
}

static void
test_compact_keeps_first_seen(void **state)
{
	struct fixture *fx = *state;
	const char *keep[] = { "u" };
	struct uidl_store *st;
	struct err err;

	st = open_ok(fx->path);
	assert_int_equal(uidl_append(st, "u", 1, NULL, 100, &err), 0);
	assert_int_equal(uidl_append(st, "u", 1, "later", 200, &err), 0);
	assert_int_equal(uidl_count(st), 1);
	assert_int_equal(uidl_compact(st, keep, 1, &err), 0);
	uidl_free(st);
	assert_file_equals(fx->path, HEADER "u\t1\t100\t200\tlater\n");
}

/* A journal with a few entries, synced; returns its bytes (caller frees). */
static char *
seed(struct fixture *fx, struct uidl_store **st_out)
{
	struct uidl_store *st;
	struct err err;

	st = open_ok(fx->path);
	assert_int_equal(uidl_append(st, "s1", 1, "one", 1, &err), 0);
	assert_int_equal(uidl_append(st, "s2", 2, "two", 2, &err), 0);
	assert_int_equal(uidl_sync(st, &err), 0);
	*st_out = st;
	return slurp(fx->path, NULL);
}

static void
test_fault_append_write(void **state)
{
	struct fixture *fx = *state;
	struct uidl_store *st;
	struct err err;
	char *before;

	before = seed(fx, &st);
	fault_arm(&fault_write, 1, 1, ENOSPC);
	err_clear(&err);
	assert_int_equal(uidl_append(st, "x", 3, NULL, 3, &err), -1);
	assert_int_equal(err.cls, ERR_LOCAL);
	assert_int_equal(err.errnum, ENOSPC);
	assert_non_null(strstr(err.msg, "No space left on device"));
	assert_false(uidl_has(st, "x", 3));
	assert_file_equals(fx->path, before);

	/* Half a record written, then ENOSPC: cut back to whole lines. */
	fault_arm(&fault_write, 2, 1, ENOSPC);
	fault_write_max = 3;
	assert_int_equal(uidl_append(st, "y", 4, NULL, 4, &err), -1);
	fault_write_max = 0;
	assert_file_equals(fx->path, before);

	/* The store goes on working. */
	fault_arm(&fault_write, 0, 0, 0);
	assert_int_equal(uidl_append(st, "z", 5, NULL, 5, &err), 0);
	assert_int_equal(uidl_sync(st, &err), 0);
	uidl_free(st);
	st = open_ok(fx->path);
	assert_int_equal(uidl_count(st), 3);
	assert_int_equal(uidl_malformed(st), 0);
	assert_true(uidl_has(st, "z", 5));
	uidl_free(st);
	free(before);
}

static void
test_fault_append_no_truncate(void **state)
{
	struct fixture *fx = *state;
	struct uidl_store *st;
	struct err err;
	char *before;

	/* A partial record that cannot be cut back: stop appending. */
	before = seed(fx, &st);
	fault_write_max = 3;
	fault_arm(&fault_write, 2, 1, EIO);
	fault_arm(&fault_ftruncate, 1, 1, EIO);
	assert_int_equal(uidl_append(st, "y", 4, NULL, 4, &err), -1);
	fault_write_max = 0;
	fault_arm(&fault_write, 0, 0, 0);
	err_clear(&err);
	assert_int_equal(uidl_append(st, "z", 5, NULL, 5, &err), -1);
	assert_int_equal(err.cls, ERR_LOCAL);
	assert_int_equal(uidl_sync(st, &err), -1);
	uidl_free(st);

	/* On reload the torn record is dropped and cut off. */
	st = open_ok(fx->path);
	assert_int_equal(uidl_count(st), 2);
	assert_int_equal(uidl_malformed(st), 0);
	uidl_free(st);
	assert_file_equals(fx->path, before);
	free(before);
}

static void
test_fault_sync(void **state)
{
	struct fixture *fx = *state;
	struct uidl_store *st;
	struct err err;
	char *before;

	before = seed(fx, &st);
	assert_int_equal(uidl_append(st, "x", 3, NULL, 3, &err), 0);
	fault_arm(&fault_fsync, 1, 1, EIO);
	err_clear(&err);
	assert_int_equal(uidl_sync(st, &err), -1);
	assert_int_equal(err.cls, ERR_LOCAL);
	assert_int_equal(err.errnum, EIO);
	/* A second fsync might lie: the store refuses until reopened. */
	assert_int_equal(uidl_sync(st, &err), -1);
	assert_int_equal(uidl_append(st, "w", 4, NULL, 4, &err), -1);
	uidl_free(st);
	st = open_ok(fx->path);
	assert_true(uidl_has(st, "s1", 1));
	assert_true(uidl_has(st, "s2", 2));
	uidl_free(st);
	free(before);
}

/* A compact that fails leaves the journal as it was, and usable. */
static void
check_compact_fault(struct fixture *fx, struct fault *f, int nth, int errnum)
{
	const char *keep[] = { "s2" };
	struct uidl_store *st;
	struct err err;
	char *before;

	before = seed(fx, &st);
	fault_arm(f, nth, 1, errnum);
	err_clear(&err);
	assert_int_equal(uidl_compact(st, keep, 1, &err), -1);
	assert_int_equal(f->calls, nth);
	assert_int_equal(err.cls, ERR_LOCAL);
	assert_int_equal(err.errnum, errnum);
	assert_non_null(strstr(err.msg, "compact "));
	fault_arm(f, 0, 0, 0);
	assert_file_equals(fx->path, before);
	assert_int_equal(count_dir(fx->dir), 1);
	assert_true(uidl_has(st, "s1", 1));
	assert_int_equal(uidl_append(st, "after", 9, NULL, 9, &err), 0);
	assert_int_equal(uidl_sync(st, &err), 0);
	uidl_free(st);
	st = open_ok(fx->path);
	assert_int_equal(uidl_count(st), 3);
	assert_true(uidl_has(st, "after", 9));
	uidl_free(st);
	free(before);
}

static void
test_fault_compact_write(void **state)
{
	check_compact_fault(*state, &fault_write, 1, ENOSPC);
}

static void
test_fault_compact_fsync(void **state)
{
	check_compact_fault(*state, &fault_fsync, 1, EIO);
}

static void
test_fault_compact_rename(void **state)
{
	check_compact_fault(*state, &fault_renameat, 1, EIO);
}

static void
test_fault_compact_dir_fsync(void **state)
{
	struct fixture *fx = *state;
	const char *keep[] = { "s2" };
	struct uidl_store *st;
	struct err err;
	char *before;

	/*
	 * The rename is done, only the directory fsync failed: the call
	 * fails, but later records must reach the file now in place.
	 */
	before = seed(fx, &st);
	fault_arm(&fault_fsync, 2, 1, EIO);
	assert_int_equal(uidl_compact(st, keep, 1, &err), -1);
	assert_int_equal(err.errnum, EIO);
	assert_int_equal(uidl_append(st, "after", 9, NULL, 9, &err), 0);
	assert_int_equal(uidl_sync(st, &err), 0);
	uidl_free(st);
	st = open_ok(fx->path);
	assert_true(uidl_has(st, "s2", 2));
	assert_true(uidl_has(st, "after", 9));
	uidl_free(st);
	free(before);
}

static void
test_load_100k(void **state)
{
	struct fixture *fx = *state;
	enum { N = 100000 };
	struct timespec t0, t1;
	struct uidl_store *st;
	char *data, *p, uid[32];
	size_t cap = 64 + (size_t)N * 128;
	double ms;
	int i;

	p = data = xmalloc(cap);
	p += sprintf(p, "%s", HEADER);
	for (i = 0; i < N; i++)
		p += sprintf(p,
		    "%08x-uid-%d\t%d\t1700000000\t1700000001\t"
		    "1700000001.M1P1Q%dR0123456789abcdef.host,S=%d\n",
		    (unsigned)i * 2654435761u, i, 1000 + i, i, 1000 + i);
	spew(fx->path, data, (size_t)(p - data));
	free(data);

	assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &t0), 0);
	st = open_ok(fx->path);
	assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &t1), 0);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	printf("# loaded %d entries in %.1f ms\n", N, ms);

	assert_int_equal(uidl_count(st), N);
	assert_int_equal(uidl_malformed(st), 0);
	for (i = 0; i < N; i += 997) {
		(void)snprintf(uid, sizeof(uid), "%08x-uid-%d",
		    (unsigned)i * 2654435761u, i);
		assert_true(uidl_has(st, uid, (uint64_t)(1000 + i)));
		assert_false(uidl_has(st, uid, (uint64_t)(999 + i)));
	}
	uidl_free(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_empty_store, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_append_sync_reopen, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_big_journal, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_torn_last_line, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_any_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_header_id, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_long_record, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_readonly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreach, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_header, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_malformed_lines, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_foreign_file, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_invalid_uid, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_compact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compact_keeps_first_seen,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_append_write, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_fault_append_no_truncate,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_sync, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_fault_compact_write, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_fault_compact_fsync, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_fault_compact_rename,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_compact_dir_fsync,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_100k, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
