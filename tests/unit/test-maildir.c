#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <regex.h>
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

#include "maildir/maildir.h"
#include "maildir/sink.h"
#include "maildir/tag.h"
#include "tests/unit/fault.h"
#include "util/str.h"
#include "util/xmalloc.h"

static struct fault f_write, f_fsync, f_linkat, f_openat, f_close, f_unlinkat;
static size_t write_max;        /* when > 0, a write(2) moves at most this */
static int write_calls;         /* every write(2) seen */
static char link_names[4][512]; /* new/ names tried by linkat */
static int link_tries;
static const char *fake_host;
static bool force_named; /* O_TMPFILE refused: named files in tmp/ */

ssize_t __real_write(int, const void *, size_t);
ssize_t __wrap_write(int, const void *, size_t);
int __real_fsync(int);
int __wrap_fsync(int);
int __real_linkat(int, const char *, int, const char *, int);
int __wrap_linkat(int, const char *, int, const char *, int);
int __real_openat(int, const char *, int, ...);
int __wrap_openat(int, const char *, int, ...);
int __real_close(int);
int __wrap_close(int);
int __real_unlinkat(int, const char *, int);
int __wrap_unlinkat(int, const char *, int);
int __real_gethostname(char *, size_t);
int __wrap_gethostname(char *, size_t);

ssize_t
__wrap_write(int fd, const void *buf, size_t len)
{
	write_calls++;
	if (fault_hit(&f_write))
		return -1;
	if (write_max > 0 && len > write_max)
		len = write_max;
	return __real_write(fd, buf, len);
}

int
__wrap_fsync(int fd)
{
	if (fault_hit(&f_fsync))
		return -1;
	return __real_fsync(fd);
}

int
__wrap_linkat(int ofd, const char *old, int nfd, const char *new, int flags)
{
	if (link_tries < 4)
		(void)snprintf(link_names[link_tries], sizeof(link_names[0]),
		    "%s", new);
	link_tries++;
	if (fault_hit(&f_linkat))
		return -1;
	return __real_linkat(ofd, old, nfd, new, flags);
}

int
__wrap_openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;

	if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) {
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	if (force_named && (flags & O_TMPFILE) == O_TMPFILE) {
		errno = EOPNOTSUPP; /* as on a file system without it */
		return -1;
	}
	if (fault_hit(&f_openat))
		return -1;
	return __real_openat(dirfd, path, flags, mode);
}

int
__wrap_close(int fd)
{
	if (fault_hit(&f_close)) {
		(void)__real_close(fd); /* as Linux does: the fd is gone */
		return -1;
	}
	return __real_close(fd);
}

int
__wrap_unlinkat(int dirfd, const char *path, int flags)
{
	if (fault_hit(&f_unlinkat))
		return -1;
	return __real_unlinkat(dirfd, path, flags);
}

int
__wrap_gethostname(char *name, size_t len)
{
	if (fake_host != NULL) {
		(void)snprintf(name, len, "%s", fake_host);
		return 0;
	}
	return __real_gethostname(name, len);
}

struct fixture {
	char root[64];
	char path[128];
	struct maildir *md;
};

static void
faults_reset(void)
{
	memset(&f_write, 0, sizeof(f_write));
	memset(&f_fsync, 0, sizeof(f_fsync));
	memset(&f_linkat, 0, sizeof(f_linkat));
	memset(&f_openat, 0, sizeof(f_openat));
	memset(&f_close, 0, sizeof(f_close));
	memset(&f_unlinkat, 0, sizeof(f_unlinkat));
	write_max = 0;
	write_calls = 0;
	link_tries = 0;
	fake_host = NULL;
	force_named = false;
}

static int
setup(void **state)
{
	struct fixture *fx;
	struct err err;
	const char *tmpdir = getenv("TMPDIR");

	faults_reset();
	(void)umask(022);
	fx = xcalloc(1, sizeof(*fx));
	if (tmpdir == NULL || strlen(tmpdir) > 30)
		tmpdir = "/tmp";
	(void)snprintf(fx->root, sizeof(fx->root), "%s/md-test-XXXXXX", tmpdir);
	if (mkdtemp(fx->root) == NULL)
		return -1;
	(void)snprintf(fx->path, sizeof(fx->path), "%s/a/b/Maildir", fx->root);
	if ((fx->md = maildir_open(fx->path, &err)) == NULL) {
		fprintf(stderr, "maildir_open: %s\n", err.msg);
		return -1;
	}
	*state = fx;
	return 0;
}

/* The same, on a system without O_TMPFILE. */
static int
setup_named(void **state)
{
	int rc = setup(state);

	force_named = true;
	return rc;
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

	faults_reset();
	maildir_close(fx->md);
	(void)nftw(fx->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

/* Number of entries in PATH/sub; the last one's name goes to name_out. */
static int
count_files(const struct fixture *fx, const char *sub, char *name_out,
    size_t size)
{
	char dir[256];
	struct dirent *de;
	DIR *dp;
	int n = 0;

	(void)snprintf(dir, sizeof(dir), "%s/%s", fx->path, sub);
	assert_non_null(dp = opendir(dir));
	while ((de = readdir(dp)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (name_out != NULL)
			(void)snprintf(name_out, size, "%s", de->d_name);
		n++;
	}
	(void)closedir(dp);
	return n;
}

/* Is PATH/new/name exactly len bytes of data? */
static void
assert_file_is(const struct fixture *fx, const char *name, const void *data,
    size_t len)
{
	char path[512], *buf;
	struct stat sb;
	size_t got = 0;
	ssize_t n;
	int fd;

	(void)snprintf(path, sizeof(path), "%s/new/%s", fx->path, name);
	assert_int_not_equal(fd = open(path, O_RDONLY), -1);
	assert_int_equal(fstat(fd, &sb), 0);
	assert_int_equal((size_t)sb.st_size, len);
	assert_int_equal(sb.st_mode & 0777, 0600);
	buf = xmalloc(len + 1);
	while ((n = read(fd, buf + got, len + 1 - got)) > 0)
		got += (size_t)n;
	assert_int_equal(got, len);
	assert_memory_equal(buf, data, len);
	free(buf);
	(void)close(fd);
}

static void
assert_empty(const struct fixture *fx)
{
	assert_int_equal(count_files(fx, "tmp", NULL, 0), 0);
	assert_int_equal(count_files(fx, "new", NULL, 0), 0);
}

/* Deliver data in one write; returns 0 or -1 as maildir_commit() does. */
static int
deliver(struct fixture *fx, const char *data, char **name_out, struct err *err)
{
	struct maildir_delivery *d;

	if ((d = maildir_begin(fx->md, err)) == NULL)
		return -1;
	if (maildir_write(d, data, strlen(data), err) == -1) {
		maildir_abort(d);
		return -1;
	}
	return maildir_commit(d, name_out, err);
}

static bool
has_suffix(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

static void
test_open_creates_structure(void **state)
{
	struct fixture *fx = *state;
	const char *subs[] = { "", "/tmp", "/new", "/cur" };
	char path[256];
	struct stat sb;
	struct maildir *again;
	struct err err;
	size_t i;
	int fd;

	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		(void)snprintf(path, sizeof(path), "%s%s", fx->path, subs[i]);
		assert_int_equal(stat(path, &sb), 0);
		assert_true(S_ISDIR(sb.st_mode));
		assert_int_equal(sb.st_mode & 0777, 0700);
	}
	/* Opening an existing Maildir is fine. */
	assert_non_null(again = maildir_open(fx->path, &err));
	maildir_close(again);

	/* A file in the way is an error, not a crash. */
	(void)snprintf(path, sizeof(path), "%s/file", fx->root);
	assert_int_not_equal(fd = open(path, O_WRONLY | O_CREAT, 0600), -1);
	(void)close(fd);
	err_clear(&err);
	assert_null(maildir_open(path, &err));
	assert_int_equal(err.cls, ERR_LOCAL);
}

static void
test_deliver_one(void **state)
{
	struct fixture *fx = *state;
	const char *msg = "From: a@example.org\r\nSubject: hi\r\n\r\nbody\r\n";
	char *name, found[256], suffix[32];
	struct err err;

	assert_int_equal(deliver(fx, msg, &name, &err), 0);
	assert_int_equal(count_files(fx, "tmp", NULL, 0), 0);
	assert_int_equal(count_files(fx, "new", found, sizeof(found)), 1);
	assert_string_equal(found, name);
	(void)snprintf(suffix, sizeof(suffix), ",S=%zu", strlen(msg));
	assert_true(has_suffix(name, suffix));
	assert_null(strchr(name, ':'));
	assert_file_is(fx, name, msg, strlen(msg));
	free(name);

	/* name_out may be NULL. */
	assert_int_equal(deliver(fx, "x", NULL, &err), 0);
	assert_int_equal(count_files(fx, "new", NULL, 0), 2);
}

static void
test_empty_message(void **state)
{
	struct fixture *fx = *state;
	struct maildir_delivery *d;
	struct err err;
	char *name;

	assert_non_null(d = maildir_begin(fx->md, &err));
	assert_int_equal(maildir_commit(d, &name, &err), 0);
	assert_true(has_suffix(name, ",S=0"));
	assert_file_is(fx, name, "", 0);
	free(name);
}

/* Opening removes tmp/ files older than 36 hours, and only those. */
static void
test_stale_tmp_removed(void **state)
{
	struct fixture *fx = *state;
	struct timespec old[2] = { { .tv_sec = time(NULL) - 37 * 3600 },
		{ .tv_sec = time(NULL) - 37 * 3600 } };
	struct maildir *again;
	char path[512];
	struct err err;
	int fd;

	(void)snprintf(path, sizeof(path), "%s/tmp/stale", fx->path);
	assert_int_not_equal(fd = open(path, O_WRONLY | O_CREAT, 0600), -1);
	assert_int_equal(futimens(fd, old), 0);
	(void)close(fd);
	(void)snprintf(path, sizeof(path), "%s/tmp/fresh", fx->path);
	assert_int_not_equal(fd = open(path, O_WRONLY | O_CREAT, 0600), -1);
	(void)close(fd);
	assert_int_equal(count_files(fx, "tmp", NULL, 0), 2);
	assert_non_null(again = maildir_open(fx->path, &err));
	assert_int_equal(count_files(fx, "tmp", path, sizeof(path)), 1);
	assert_string_equal(path, "fresh");
	maildir_close(again);
}

/* Flags deliver into cur/ with ":2,<flags>", in ASCII order. */
static void
test_flags(void **state)
{
	struct fixture *fx = *state;
	struct maildir_delivery *d;
	char *name, found[256];
	struct err err;

	assert_non_null(d = maildir_begin(fx->md, &err));
	maildir_set_tag(d, "U=abc");
	maildir_set_flags(d, true, true);
	assert_int_equal(maildir_write(d, "abc", 3, &err), 0);
	assert_int_equal(maildir_commit(d, &name, &err), 0);
	assert_true(has_suffix(name, ",S=3,U=abc:2,FS"));
	assert_int_equal(count_files(fx, "new", NULL, 0), 0);
	assert_int_equal(count_files(fx, "cur", found, sizeof(found)), 1);
	assert_string_equal(found, name);
	free(name);

	assert_non_null(d = maildir_begin(fx->md, &err));
	maildir_set_flags(d, true, false);
	assert_int_equal(maildir_commit(d, &name, &err), 0);
	assert_true(has_suffix(name, ":2,S"));
	free(name);
	assert_non_null(d = maildir_begin(fx->md, &err));
	maildir_set_flags(d, false, false);
	assert_int_equal(maildir_commit(d, &name, &err), 0);
	assert_null(strchr(name, ':'));
	free(name);
	assert_int_equal(count_files(fx, "new", NULL, 0), 1);
}

/* Maildir++ subfolders are made on demand, with their mark. */
static void
test_folder(void **state)
{
	struct fixture *fx = *state;
	static const char *const bad[] = { "Lists", ".", "..x", ".a/b",
		".a..b" };
	struct maildir_delivery *d;
	struct maildir *sub;
	char path[512];
	struct stat sb;
	struct err err;
	size_t i;

	assert_non_null(
	    sub = maildir_open_folder(fx->path, ".Lists.dev", &err));
	assert_non_null(d = maildir_begin(sub, &err));
	assert_int_equal(maildir_commit(d, NULL, &err), 0);
	maildir_close(sub);
	(void)snprintf(path, sizeof(path), "%s/.Lists.dev/maildirfolder",
	    fx->path);
	assert_int_equal(stat(path, &sb), 0);
	(void)snprintf(path, sizeof(path), "%s/.Lists.dev/new", fx->path);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(count_files(fx, "new", NULL, 0), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err_clear(&err);
		assert_null(maildir_open_folder(fx->path, bad[i], &err));
		assert_int_equal(err.cls, ERR_CONFIG);
	}
}

/* A tag lands after ",S=<size>" in the name in new/. */
static void
test_tag(void **state)
{
	struct fixture *fx = *state;
	struct maildir_delivery *d;
	struct err err;
	char *name;

	assert_non_null(d = maildir_begin(fx->md, &err));
	maildir_set_tag(d, "U=0123abcd");
	maildir_set_tag(d, "U=89ef");
	assert_int_equal(maildir_write(d, "abc", 3, &err), 0);
	assert_int_equal(maildir_commit(d, &name, &err), 0);
	assert_true(has_suffix(name, ",S=3,U=89ef"));
	assert_file_is(fx, name, "abc", 3);
	free(name);
}

static void
test_unique_names(void **state)
{
	struct fixture *fx = *state;
	enum { N = 200 };
	char *names[N], buf[16];
	regex_t re;
	struct err err;
	size_t i, j;

	assert_int_equal(
	    regcomp(&re,
	        "^[0-9]+\\.M[0-9]{6}P[0-9]+Q[0-9]+R[0-9a-f]{16}\\.[^/:]+,S=[0-9]+$",
	        REG_EXTENDED | REG_NOSUB),
	    0);
	for (i = 0; i < N; i++) {
		(void)snprintf(buf, sizeof(buf), "m%zu\n", i);
		assert_int_equal(deliver(fx, buf, &names[i], &err), 0);
		assert_int_equal(regexec(&re, names[i], 0, NULL, 0), 0);
	}
	for (i = 0; i < N; i++)
		for (j = i + 1; j < N; j++)
			assert_string_not_equal(names[i], names[j]);
	assert_int_equal(count_files(fx, "new", NULL, 0), N);
	assert_int_equal(count_files(fx, "tmp", NULL, 0), 0);
	for (i = 0; i < N; i++)
		free(names[i]);
	regfree(&re);
}

static void
test_host_escaped(void **state)
{
	char *name, *host;

	pid_t pid;
	int status;

	(void)state;
	/* The host is read once per process: ask a fresh one. */
	if ((pid = fork()) == 0) {
		fake_host = "a/b:c,d\\e f";
		name = maildir_unique_name();
		host = strchr(strchr(name, 'R'), '.');
		_exit(host != NULL &&
		            strcmp(host + 1,
		                "a\\057b\\072c\\054d\\134e\\040f") == 0
		        ? 0
		        : 1);
	}
	assert_int_not_equal(pid, -1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* Here, the real host name, as before. */
	name = maildir_unique_name();
	assert_null(strstr(name, "\\057"));
	free(name);
}

static void
fill(char *buf, size_t len, size_t offset)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (char)((offset + i) * 31 % 251);
}

static void
test_large_message_small_writes(void **state)
{
	struct fixture *fx = *state;
	const size_t total = 5 * 1024 * 1024 + 17;
	struct maildir_delivery *d;
	size_t off = 0, chunk, step = 0;
	char *all, *name, suffix[32];
	struct err err;
	int flushes;

	all = xmalloc(total);
	fill(all, total, 0);
	assert_non_null(d = maildir_begin(fx->md, &err));
	write_calls = 0;
	while (off < total) {
		/* Mostly small chunks, now and then one bigger than the buffer.
		 */
		chunk = step % 97 == 0 ? 100000 : 1 + (step * 7919) % 3000;
		if (chunk > total - off)
			chunk = total - off;
		assert_int_equal(maildir_write(d, all + off, chunk, &err), 0);
		off += chunk;
		step++;
	}
	assert_int_equal(maildir_commit(d, &name, &err), 0);
	flushes = write_calls;
	/* Buffered: about one write(2) per 64 KiB, not one per chunk. */
	assert_true(flushes <= (int)(total / 65536) * 2 + 2);
	assert_true((size_t)flushes < step / 10);
	(void)snprintf(suffix, sizeof(suffix), ",S=%zu", total);
	assert_true(has_suffix(name, suffix));
	assert_file_is(fx, name, all, total);
	assert_int_equal(count_files(fx, "tmp", NULL, 0), 0);
	free(name);
	free(all);
}

static void
test_abort(void **state)
{
	struct fixture *fx = *state;
	struct maildir_delivery *d;
	struct err err;

	assert_non_null(d = maildir_begin(fx->md, &err));
	assert_int_equal(maildir_write(d, "partial", 7, &err), 0);
	/* With O_TMPFILE the file has no name yet. */
	assert_int_equal(count_files(fx, "tmp", NULL, 0), force_named ? 1 : 0);
	maildir_abort(d);
	assert_empty(fx);
	maildir_abort(NULL);

	/* The handle is free for the next message. */
	assert_int_equal(deliver(fx, "next\n", NULL, &err), 0);
}

static void
test_one_delivery_at_a_time(void **state)
{
	struct fixture *fx = *state;
	struct maildir_delivery *d;
	struct err err;

	assert_non_null(d = maildir_begin(fx->md, &err));
	err_clear(&err);
	assert_null(maildir_begin(fx->md, &err));
	assert_int_equal(err.cls, ERR_SOFTWARE);
	maildir_abort(d);
	assert_empty(fx);
}

static void
test_enospc_nth_write(void **state)
{
	struct fixture *fx = *state;
	struct maildir_delivery *d;
	struct err err;
	char chunk[4096];
	int i, rc = 0;

	fill(chunk, sizeof(chunk), 0);
	assert_non_null(d = maildir_begin(fx->md, &err));
	fault_arm(&f_write, 3, 1000, ENOSPC);
	for (i = 0; i < 256 && rc == 0; i++)
		rc = maildir_write(d, chunk, sizeof(chunk), &err);
	assert_int_equal(rc, -1);
	/* Two 64 KiB flushes went through, the third failed. */
	assert_int_equal(f_write.calls, 3);
	assert_int_equal(err.cls, ERR_LOCAL);
	assert_int_equal(err.errnum, ENOSPC);
	assert_non_null(strstr(err.msg, "write tmp/"));
	assert_non_null(strstr(err.msg, ": No space left on device"));

	/* Nothing more goes in, and commit refuses. */
	assert_int_equal(maildir_write(d, "x", 1, &err), -1);
	assert_int_equal(maildir_commit(d, NULL, &err), -1);
	assert_empty(fx);
}

static void
test_enospc_in_commit(void **state)
{
	struct fixture *fx = *state;
	struct err err;
	char dummy[] = "unchanged", *name = dummy;

	/* A small message is only written by the flush in commit. */
	fault_arm(&f_write, 1, 1, ENOSPC);
	assert_int_equal(deliver(fx, "small\n", &name, &err), -1);
	assert_null(name);
	assert_int_equal(err.cls, ERR_LOCAL);
	assert_int_equal(err.errnum, ENOSPC);
	assert_true(strncmp(err.msg, "write tmp/", 10) == 0);
	assert_true(has_suffix(err.msg, ": No space left on device"));
	assert_empty(fx);
}

static void
test_eintr_and_short_writes(void **state)
{
	struct fixture *fx = *state;
	const size_t total = 200000;
	struct maildir_delivery *d;
	struct err err;
	char *all, *name;

	all = xmalloc(total);
	fill(all, total, 3);
	assert_non_null(d = maildir_begin(fx->md, &err));
	fault_arm(&f_write, 1, 2, EINTR);
	write_max = 1000;
	assert_int_equal(maildir_write(d, all, 70000, &err), 0);
	assert_int_equal(maildir_write(d, all + 70000, total - 70000, &err), 0);
	assert_int_equal(maildir_commit(d, &name, &err), 0);
	assert_true(f_write.calls > 2);
	write_max = 0;
	assert_file_is(fx, name, all, total);
	assert_int_equal(count_files(fx, "tmp", NULL, 0), 0);
	free(name);
	free(all);
}

static void
test_eio_fsync_file(void **state)
{
	struct fixture *fx = *state;
	struct err err;

	fault_arm(&f_fsync, 1, 1, EIO);
	assert_int_equal(deliver(fx, "data\n", NULL, &err), -1);
	assert_int_equal(err.cls, ERR_LOCAL);
	assert_int_equal(err.errnum, EIO);
	assert_true(strncmp(err.msg, "fsync tmp/", 10) == 0);
	assert_int_equal(f_linkat.calls, 0);
	assert_int_equal(link_tries, 0);
	assert_empty(fx);
}

static void
test_eio_close(void **state)
{
	struct fixture *fx = *state;
	struct maildir_delivery *d;
	struct err err;

	assert_non_null(d = maildir_begin(fx->md, &err));
	assert_int_equal(maildir_write(d, "data\n", 5, &err), 0);
	fault_arm(&f_close, 1, 1, EIO);
	assert_int_equal(maildir_commit(d, NULL, &err), -1);
	assert_int_equal(err.errnum, EIO);
	assert_true(strncmp(err.msg, "close tmp/", 10) == 0);
	/* Linked already: taken back. */
	assert_int_equal(link_tries, 1);
	assert_empty(fx);
}

/*
 * The name the caller was given is taken (the same second, microsecond,
 * pid and counter: no accident).  Not delivered under another one: the
 * caller recorded this one.
 */
static void
test_eexist_linkat_refused(void **state)
{
	struct fixture *fx = *state;
	char *other;
	struct err err;
	int fd;

	fault_arm(&f_linkat, 1, 1, EEXIST);
	assert_int_equal(deliver(fx, "hello\n", NULL, &err), -1);
	assert_int_equal(err.cls, ERR_LOCAL);
	assert_int_equal(err.errnum, EEXIST);
	assert_int_equal(link_tries, 1);
	assert_true(has_suffix(link_names[0], ",S=6"));
	assert_empty(fx);

	/* A real clash: someone else's file under that name stays. */
	other = xasprintf("%s/new/%s", fx->path, link_names[0]);
	assert_int_not_equal(fd = open(other, O_WRONLY | O_CREAT, 0600), -1);
	(void)close(fd);
	assert_int_equal(deliver(fx, "hello\n", NULL, &err), 0);
	assert_int_equal(count_files(fx, "new", NULL, 0), 2);
	free(other);
}

static void
test_eio_linkat(void **state)
{
	struct fixture *fx = *state;
	struct err err;

	fault_arm(&f_linkat, 1, 1, EIO);
	assert_int_equal(deliver(fx, "hello\n", NULL, &err), -1);
	assert_int_equal(err.errnum, EIO);
	assert_true(strncmp(err.msg, "link tmp/", 9) == 0);
	assert_int_equal(link_tries, 1);
	assert_empty(fx);
}

static void
test_eexist_begin(void **state)
{
	struct fixture *fx = *state;
	struct maildir_delivery *d;
	struct err err;

	fault_arm(&f_openat, 1, 1, EEXIST);
	assert_non_null(d = maildir_begin(fx->md, &err));
	assert_int_equal(f_openat.calls, 2);
	maildir_abort(d);

	fault_arm(&f_openat, 1, 1000, EEXIST);
	err_clear(&err);
	assert_null(maildir_begin(fx->md, &err));
	assert_int_equal(err.cls, ERR_LOCAL);
	assert_int_equal(err.errnum, EEXIST);
	assert_true(f_openat.calls > 1 && f_openat.calls < 100);
	fault_arm(&f_openat, 0, 0, 0);

	fault_arm(&f_openat, 1, 1, EACCES);
	assert_null(maildir_begin(fx->md, &err));
	assert_int_equal(err.errnum, EACCES);
	assert_int_equal(f_openat.calls, 1);
	fault_arm(&f_openat, 0, 0, 0);
	assert_empty(fx);

	/* The handle is still usable. */
	assert_int_equal(deliver(fx, "ok\n", NULL, &err), 0);
}

static void
test_unlink_tmp_fails(void **state)
{
	struct fixture *fx = *state;
	struct err err;

	/* Link worked, removing the tmp/ name did not: not committed. */
	fault_arm(&f_unlinkat, 1, 1, EIO);
	assert_int_equal(deliver(fx, "hello\n", NULL, &err), -1);
	assert_int_equal(err.errnum, EIO);
	assert_true(strncmp(err.msg, "unlink tmp/", 11) == 0);
	assert_empty(fx);
}

static void
test_dir_fsync_fails(void **state)
{
	struct fixture *fx = *state;
	struct err err;

	/* fsync #1 is the message file, #2 the new/ directory. */
	fault_arm(&f_fsync, 2, 1, EIO);
	assert_int_equal(deliver(fx, "hello\n", NULL, &err), -1);
	assert_true(f_fsync.calls >= 2);
	assert_int_equal(err.cls, ERR_LOCAL);
	assert_int_equal(err.errnum, EIO);
	assert_string_equal(err.msg, "fsync new: Input/output error");
	/* Not committed, so nothing is left in new/ to duplicate later. */
	assert_empty(fx);
}

static void
test_dir_fsync_and_unlink_fail(void **state)
{
	struct fixture *fx = *state;
	char found[256];
	struct err err;

	/*
	 * The worst case: new/ cannot be fsynced and the new/ name cannot
	 * be taken back (unlinkat #2).  Commit still fails, and what stays
	 * in new/ is the whole message, never a part of it.
	 */
	fault_arm(&f_fsync, 2, 1, EIO);
	/* Named: #1 removes the tmp/ name.  O_TMPFILE: there is none. */
	fault_arm(&f_unlinkat, force_named ? 2 : 1, 1, EIO);
	assert_int_equal(deliver(fx, "whole message\n", NULL, &err), -1);
	assert_int_equal(err.errnum, EIO);
	assert_int_equal(count_files(fx, "tmp", NULL, 0), 0);
	assert_int_equal(count_files(fx, "new", found, sizeof(found)), 1);
	assert_true(has_suffix(found, ",S=14"));
	assert_file_is(fx, found, "whole message\n", 14);
}

/* Stage n messages "message I\n" into md; their names go to names. */
static void
stage_n(struct maildir *md, int n, char **names)
{
	struct maildir_delivery *d;
	struct err err;
	char text[32];
	int i;

	for (i = 0; i < n; i++) {
		(void)snprintf(text, sizeof(text), "message %d\n", i);
		assert_non_null(d = maildir_begin(md, &err));
		if (i % 3 == 1)
			maildir_set_flags(d, true, false);
		assert_int_equal(maildir_write(d, text, strlen(text), &err), 0);
		assert_int_equal(maildir_stage(d, &names[i], &err), 0);
	}
}

/*
 * A batch: nothing is visible until maildir_sync(); then every message
 * is there under the name it was given, with one fsync per file and
 * one per directory, not one per message.
 */
static void
test_batch(void **state)
{
	struct fixture *fx = *state;
	char *names[10], path[512], text[32];
	struct err err;
	int i;

	stage_n(fx->md, 10, names);
	assert_int_equal(count_files(fx, "new", NULL, 0), 0);
	assert_int_equal(count_files(fx, "cur", NULL, 0), 0);
	assert_int_equal(count_files(fx, "tmp", NULL, 0), force_named ? 10 : 0);
	fault_arm(&f_fsync, INT_MAX, 1, 0); /* only counts */
	assert_int_equal(maildir_sync(fx->md, &err), 0);
	assert_int_equal(f_fsync.calls, 10 + 2);
	assert_int_equal(count_files(fx, "new", NULL, 0), 7);
	assert_int_equal(count_files(fx, "cur", NULL, 0), 3);
	assert_int_equal(count_files(fx, "tmp", NULL, 0), 0);
	for (i = 0; i < 10; i++) {
		(void)snprintf(text, sizeof(text), "message %d\n", i);
		if (i % 3 == 1) {
			assert_true(has_suffix(names[i], ":2,S"));
			(void)snprintf(path, sizeof(path), "%s/cur/%s",
			    fx->path, names[i]);
			assert_int_equal(access(path, R_OK), 0);
		} else
			assert_file_is(fx, names[i], text, strlen(text));
		free(names[i]);
	}
	/* Nothing staged: a sync is a no-op. */
	fault_arm(&f_fsync, INT_MAX, 1, 0);
	assert_int_equal(maildir_sync(fx->md, &err), 0);
	assert_int_equal(f_fsync.calls, 0);
}

/*
 * Fault f (the nth call fails with errnum) in the middle of a batch's
 * sync: none of the batch is delivered, and the Maildir goes on working.
 */
static void
batch_fails(struct fixture *fx, struct fault *f, int nth, int errnum)
{
	char *names[6];
	struct err err;
	int i;

	stage_n(fx->md, 6, names);
	fault_arm(f, nth, 1, errnum);
	assert_int_equal(maildir_sync(fx->md, &err), -1);
	assert_int_equal(err.errnum, errnum);
	assert_empty(fx);
	assert_int_equal(count_files(fx, "cur", NULL, 0), 0);
	for (i = 0; i < 6; i++)
		free(names[i]);
	fault_arm(f, 0, 0, 0);
	assert_int_equal(deliver(fx, "after\n", NULL, &err), 0);
}

/* One file cannot be made durable: nothing is even linked. */
static void
test_batch_fsync_fails(void **state)
{
	batch_fails(*state, &f_fsync, 4, EIO);
	assert_int_equal(link_tries, 1); /* the delivery after */
}

/* The 4th link fails: the 3 linked before are taken back. */
static void
test_batch_link_fails(void **state)
{
	batch_fails(*state, &f_linkat, 4, ENOSPC);
}

/* maildir_unsync(): a synced batch taken back (another folder failed). */
static void
test_unsync(void **state)
{
	struct fixture *fx = *state;
	char *names[4];
	struct err err;
	int i;

	stage_n(fx->md, 4, names);
	for (i = 0; i < 4; i++)
		free(names[i]);
	assert_int_equal(maildir_sync(fx->md, &err), 0);
	assert_int_equal(count_files(fx, "new", NULL, 0), 3);
	maildir_unsync(fx->md);
	assert_empty(fx);
	assert_int_equal(count_files(fx, "cur", NULL, 0), 0);
	/* Only the last batch: an earlier one stays. */
	assert_int_equal(deliver(fx, "kept\n", NULL, &err), 0);
	stage_n(fx->md, 4, names + 0);
	for (i = 0; i < 4; i++)
		free(names[i]);
	assert_int_equal(maildir_sync(fx->md, &err), 0);
	maildir_unsync(fx->md);
	assert_int_equal(count_files(fx, "new", NULL, 0), 1);
}

/* Staged, never synced, the handle closed: nothing is delivered. */
static void
test_close_staged(void **state)
{
	struct fixture *fx = *state;
	char *names[3];
	int i;

	stage_n(fx->md, 3, names);
	maildir_close(fx->md);
	fx->md = NULL;
	assert_empty(fx);
	assert_int_equal(count_files(fx, "cur", NULL, 0), 0);
	for (i = 0; i < 3; i++)
		free(names[i]);
}

/*
 * O_TMPFILE refused for a reason other than "not here" (EACCES):
 * the error, not a silent fallback.  Refused as unsupported: named
 * files in tmp/, from then on.
 */
static void
test_tmpfile_refused(void **state)
{
	struct fixture *fx = *state;
	struct maildir_delivery *d;
	struct err err;

	fault_arm(&f_openat, 1, 1, EACCES);
	assert_null(maildir_begin(fx->md, &err));
	assert_int_equal(err.errnum, EACCES);
	force_named = true;
	assert_non_null(d = maildir_begin(fx->md, &err));
	assert_int_equal(count_files(fx, "tmp", NULL, 0), 1);
	force_named = false;
	maildir_abort(d);
	/* Remembered: no second try at O_TMPFILE. */
	fault_arm(&f_openat, 0, 0, 0);
	assert_non_null(d = maildir_begin(fx->md, &err));
	assert_int_equal(count_files(fx, "tmp", NULL, 0), 1);
	maildir_abort(d);
	assert_empty(fx);
}

/* Put a file named name holding data in fx's Maildir, under sub/. */
static void
put_file(const struct fixture *fx, const char *sub, const char *name,
    const char *data)
{
	char path[512];
	int fd;

	(void)snprintf(path, sizeof(path), "%s/%s/%s", fx->path, sub, name);
	assert_int_not_equal(fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600),
	    -1);
	assert_int_equal(__real_write(fd, data, strlen(data)),
	    (ssize_t)strlen(data));
	assert_int_equal(__real_close(fd), 0);
}

/*
 * The tag carries the key of the uid and LIST's size; it is read back
 * from the name popfetch gave, and from the names other tools make of
 * it.  The old ",U=" tag is read too, also after mbsync wrote its UID
 * into it.
 */
static void
test_tag_parse(void **state)
{
	char tag[MAILDIR_TAG_SIZE], key[MAILDIR_KEY_SIZE], name[256];
	struct maildir_tag t;

	(void)state;
	maildir_tag_key("uid-1", key);
	assert_int_equal(strlen(key), 16);
	maildir_tag_make("uid-1", 4990, tag);
	assert_true(str_has_prefix(tag, "PF="));
	/* As delivered, with flags, and after mbsync added its UID. */
	(void)snprintf(name, sizeof(name), "1.M2P3Q4R5.host,S=4886,%s", tag);
	assert_true(maildir_tag_parse(name, &t));
	assert_string_equal(t.key, key);
	assert_false(t.is_old);
	assert_true(t.has_list_size);
	assert_int_equal(t.list_size, 4990);
	(void)snprintf(name, sizeof(name), "1.M2.host,S=4886,%s:2,FS", tag);
	assert_true(maildir_tag_parse(name, &t));
	assert_int_equal(t.list_size, 4990);
	(void)snprintf(name, sizeof(name), "1.M2.host,S=4886,%s,U=12:2,S", tag);
	assert_true(maildir_tag_parse(name, &t));
	assert_string_equal(t.key, key);
	assert_int_equal(t.list_size, 4990);
	/* A control character: not a name the state could record. */
	(void)snprintf(name, sizeof(name), "1.M2\tP3.host,S=4886,%s", tag);
	assert_false(maildir_tag_parse(name, &t));
	/* The old tag, as written and as mbsync rewrote it. */
	assert_true(maildir_tag_parse("1.M2.h,S=4886,U=a1ff41849bdaa983", &t));
	assert_string_equal(t.key, "a1ff41849bdaa983");
	assert_false(t.has_list_size);
	assert_true(
	    maildir_tag_parse("1.M2.h,S=4886,U=1a1ff41849bdaa983:2,S", &t));
	assert_string_equal(t.key, "a1ff41849bdaa983");
	assert_true(
	    maildir_tag_parse("1.M2.h,S=48,U=4294967295a1ff41849bdaa983", &t));
	assert_string_equal(t.key, "a1ff41849bdaa983");
	assert_true(t.is_old);
	/* Leading digits, which mbsync replaced: kept from the letter on. */
	assert_true(maildir_tag_parse("1.M2.h,S=48,U=00da0dbb45bfdc1a", &t));
	assert_string_equal(t.key, "da0dbb45bfdc1a");
	assert_true(maildir_tag_parse("1.M2.h,S=48,U=1da0dbb45bfdc1a", &t));
	assert_string_equal(t.key, "da0dbb45bfdc1a");
	/* mbsync's own files, and what is not a tag. */
	assert_false(maildir_tag_parse("1796544193.20870_1.vm,U=1:2,", &t));
	assert_false(maildir_tag_parse("1.M2.h,S=48,U=4294967295:2,", &t));
	assert_false(maildir_tag_parse("1.M2.h,S=48", &t));
	assert_false(maildir_tag_parse("1.M2.h,PF=a1ff41849bdaa983", &t));
	assert_false(maildir_tag_parse("1.M2.h,PF=a1ff41849bdaa983-", &t));
	assert_false(maildir_tag_parse("1.M2.h,PF=a1ff41849bdaa98-12", &t));
	assert_false(maildir_tag_parse("1.M2.h,PF=A1FF41849BDAA983-12", &t));
	assert_false(maildir_tag_parse("1.M2.h,PF=a1ff41849bdaa983-1x", &t));
	assert_false(maildir_tag_parse("1.M2.h,U=a1ff41849bdaa98x", &t));
	assert_false(maildir_tag_parse("1.M2.h,U=123456789abc", &t));
}

/*
 * The index finds a message by uid and LIST size: the new tag says the
 * size; for the old one the file's octets are counted, as they are or
 * with each LF as CRLF.  Folders are walked too.
 */
static void
test_index_find(void **state)
{
	struct fixture *fx = *state;
	char tag[MAILDIR_TAG_SIZE], key[MAILDIR_KEY_SIZE], name[256];
	struct maildir_index *idx;
	struct maildir *sub;
	struct err err;
	const char *path;

	maildir_tag_make("new-uid", 100, tag);
	(void)snprintf(name, sizeof(name), "1.M1.h,S=97,%s,U=7:2,S", tag);
	put_file(fx, "cur", name, "x");
	maildir_tag_key("old-uid", key);
	(void)snprintf(name, sizeof(name), "2.M2.h,S=6,U=3%s", key);
	put_file(fx, "new", name, "ab\ncd\n");
	assert_non_null(sub = maildir_open_folder(fx->path, ".Sub", &err));
	maildir_close(sub);
	maildir_tag_make("sub-uid", 5, tag);
	(void)snprintf(name, sizeof(name), ".Sub/new/3.M3.h,S=5,%s", tag);
	put_file(fx, ".", name, "12345");

	idx = maildir_index_new();
	maildir_index_add(idx, fx->path);
	maildir_index_add(idx, fx->path); /* once only */
	assert_true(maildir_index_has(idx, "new-uid"));
	assert_true(maildir_index_has(idx, "old-uid"));
	assert_true(maildir_index_has(idx, "sub-uid"));
	assert_false(maildir_index_has(idx, "other"));
	assert_non_null(path = maildir_index_find(idx, "new-uid", 100, false));
	assert_non_null(strstr(path, "/cur/1.M1.h"));
	assert_null(maildir_index_find(idx, "new-uid", 97, false));
	assert_null(maildir_index_find(idx, "new-uid", 101, false));
	/* Exact: the name must record the size; an old one cannot. */
	assert_non_null(maildir_index_find(idx, "new-uid", 100, true));
	assert_null(maildir_index_find(idx, "old-uid", 8, true));
	/* 6 octets in 2 lines: LIST says 6 (LF) or 8 (CRLF). */
	assert_non_null(maildir_index_find(idx, "old-uid", 6, false));
	assert_non_null(maildir_index_find(idx, "old-uid", 8, false));
	assert_null(maildir_index_find(idx, "old-uid", 7, false));
	assert_null(maildir_index_find(idx, "old-uid", 60, false));
	assert_non_null(path = maildir_index_find(idx, "sub-uid", 5, false));
	assert_non_null(strstr(path, "/.Sub/new/"));
	assert_null(maildir_index_find(idx, "other", 5, false));
	maildir_index_free(idx);
}

/* Files in the directory dir/sub (not counting "." and ".."). */
static int
count_in(const char *dir, const char *sub)
{
	char path[512];
	struct dirent *de;
	DIR *dp;
	int n = 0;

	(void)snprintf(path, sizeof(path), "%s/%s", dir, sub);
	if ((dp = opendir(path)) == NULL)
		return 0;
	while ((de = readdir(dp)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	(void)closedir(dp);
	return n;
}

/* What the sink's hooks saw. */
struct sink_seen {
	char filed[8][64];
	int nfiled;
	int durable_calls;
	bool fail_durable;
};

static void
seen_filed(void *arg, const char *folder)
{
	struct sink_seen *sn = arg;

	(void)snprintf(sn->filed[sn->nfiled++], sizeof(sn->filed[0]), "%s",
	    folder != NULL ? folder : "(inbox)");
}

static int
seen_durable(void *arg, struct err *err)
{
	struct sink_seen *sn = arg;

	sn->durable_calls++;
	if (sn->fail_durable) {
		err_setx(err, ERR_LOCAL, "index: disk full");
		return -1;
	}
	return 0;
}

/*
 * One message into the inbox, one into a Maildir++ folder (seen, so into
 * its cur/), one into another Maildir by path; *path_out (caller frees)
 * is that Maildir.
 */
static struct maildir_sink *
sink_three(struct fixture *fx, struct sink_seen *sn, char **path_out)
{
	struct maildir_sink_hooks hooks = { .filed = seen_filed,
		.durable = seen_durable,
		.arg = sn };
	struct maildir_filing sub = { .folder = ".Sub", .is_seen = true };
	struct maildir_filing other = { .is_path = true };
	struct maildir_sink *ms;
	struct err err;
	char *name;

	*path_out = xasprintf("%s/other", fx->root);
	other.folder = *path_out;
	ms = maildir_sink_new(fx->md, fx->path, &hooks);
	assert_int_equal(maildir_sink_begin(ms, "u1", 10, NULL, &err), 0);
	assert_true(maildir_sink_is_begun(ms));
	assert_int_equal(maildir_sink_write(ms, "one\n", 4, &err), 0);
	assert_int_equal(maildir_sink_commit(ms, &name, &err), 0);
	assert_false(maildir_sink_is_begun(ms));
	assert_non_null(strstr(name, ",S=4,PF="));
	assert_true(has_suffix(name, "-10"));
	free(name);
	assert_int_equal(maildir_sink_begin(ms, "u2", 20, &sub, &err), 0);
	assert_int_equal(maildir_sink_write(ms, "two\n", 4, &err), 0);
	assert_int_equal(maildir_sink_commit(ms, &name, &err), 0);
	assert_true(has_suffix(name, "-20:2,S"));
	free(name);
	assert_int_equal(maildir_sink_begin(ms, NULL, 30, &other, &err), 0);
	assert_int_equal(maildir_sink_write(ms, "three\n", 6, &err), 0);
	assert_int_equal(maildir_sink_commit(ms, &name, &err), 0);
	assert_true(has_suffix(name, ",S=6")); /* no uid: no tag */
	free(name);
	return ms;
}

/* A round across three Maildirs is durable in all of them. */
static void
test_sink_folders(void **state)
{
	struct fixture *fx = *state;
	struct sink_seen sn = { .nfiled = 0 };
	struct maildir_sink *ms;
	struct err err;
	char *other, sub[256];

	ms = sink_three(fx, &sn, &other);
	assert_int_equal(maildir_sink_sync(ms, &err), 0);
	(void)snprintf(sub, sizeof(sub), "%s/.Sub", fx->path);
	assert_int_equal(count_in(fx->path, "new"), 1);
	assert_int_equal(count_in(sub, "cur"), 1);
	assert_int_equal(count_in(other, "new"), 1);
	assert_int_equal(sn.durable_calls, 1);
	/* Counted under the folder each was filed in. */
	assert_int_equal(sn.nfiled, 3);
	assert_string_equal(sn.filed[0], "(inbox)");
	assert_string_equal(sn.filed[1], ".Sub");
	assert_string_equal(sn.filed[2], other);
	maildir_sink_free(ms);
	free(other);
}

/*
 * The last Maildir of the round fails its fsync: what the others
 * delivered is taken back, nothing is counted.
 */
static void
test_sink_rollback(void **state)
{
	struct fixture *fx = *state;
	struct sink_seen sn = { .nfiled = 0 };
	struct maildir_sink *ms;
	struct err err;
	char *other, *name, sub[256];

	ms = sink_three(fx, &sn, &other);
	/* inbox: file, new/; .Sub: file, cur/; other: its file. */
	fault_arm(&f_fsync, 5, 1, EIO);
	assert_int_equal(maildir_sink_sync(ms, &err), -1);
	assert_int_equal(err.cls, ERR_LOCAL);
	(void)snprintf(sub, sizeof(sub), "%s/.Sub", fx->path);
	assert_int_equal(count_in(fx->path, "new"), 0);
	assert_int_equal(count_in(sub, "cur"), 0);
	assert_int_equal(count_in(other, "new"), 0);
	assert_int_equal(sn.durable_calls, 0);
	assert_int_equal(sn.nfiled, 0);
	/* The next round starts clean. */
	assert_int_equal(maildir_sink_begin(ms, "u4", 4, NULL, &err), 0);
	assert_int_equal(maildir_sink_write(ms, "four", 4, &err), 0);
	assert_int_equal(maildir_sink_commit(ms, &name, &err), 0);
	free(name);
	assert_int_equal(maildir_sink_sync(ms, &err), 0);
	assert_int_equal(count_in(fx->path, "new"), 1);
	assert_int_equal(sn.nfiled, 1);
	maildir_sink_free(ms);
	free(other);
}

/*
 * Every Maildir durable, then the durable hook (the archive index)
 * fails: the round is taken back from all of them.
 */
static void
test_sink_durable_fails(void **state)
{
	struct fixture *fx = *state;
	struct sink_seen sn = { .fail_durable = true };
	struct maildir_sink *ms;
	struct err err;
	char *other, sub[256];

	ms = sink_three(fx, &sn, &other);
	assert_int_equal(maildir_sink_sync(ms, &err), -1);
	assert_string_equal(err.msg, "index: disk full");
	(void)snprintf(sub, sizeof(sub), "%s/.Sub", fx->path);
	assert_int_equal(count_in(fx->path, "new"), 0);
	assert_int_equal(count_in(sub, "cur"), 0);
	assert_int_equal(count_in(other, "new"), 0);
	assert_int_equal(sn.nfiled, 0);
	maildir_sink_free(ms);
	free(other);
}

/* A bad folder name fails begin; an abort leaves nothing behind. */
static void
test_sink_bad_folder_abort(void **state)
{
	struct fixture *fx = *state;
	struct maildir_filing bad = { .folder = "../x" };
	struct maildir_sink *ms;
	struct err err;

	ms = maildir_sink_new(fx->md, fx->path, NULL);
	err_clear(&err);
	assert_int_equal(maildir_sink_begin(ms, "u", 1, &bad, &err), -1);
	assert_int_equal(err.cls, ERR_CONFIG);
	assert_int_equal(maildir_sink_begin(ms, "u", 1, NULL, &err), 0);
	assert_int_equal(maildir_sink_write(ms, "x", 1, &err), 0);
	maildir_sink_abort(ms);
	assert_false(maildir_sink_is_begun(ms));
	assert_int_equal(maildir_sink_sync(ms, &err), 0);
	assert_empty(fx);
	maildir_sink_free(ms);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_creates_structure,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_deliver_one, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tag, setup, teardown),
		cmocka_unit_test(test_tag_parse),
		cmocka_unit_test_setup_teardown(test_index_find, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_sink_folders, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_sink_rollback, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_sink_durable_fails, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_sink_bad_folder_abort,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_flags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_folder, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_tmp_removed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_empty_message, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_unique_names, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_host_escaped, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_large_message_small_writes,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_abort, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_delivery_at_a_time,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_enospc_nth_write, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_enospc_in_commit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_eintr_and_short_writes,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_eio_fsync_file, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_eio_close, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_eexist_linkat_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_eio_linkat, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_eexist_begin, setup_named,
		    teardown),
		cmocka_unit_test_setup_teardown(test_unlink_tmp_fails,
		    setup_named, teardown),
		cmocka_unit_test_setup_teardown(test_dir_fsync_fails, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_dir_fsync_and_unlink_fail,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_fsync_fails, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_batch_link_fails, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_unsync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_staged, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tmpfile_refused, setup,
		    teardown),
		/* Again, on a system without O_TMPFILE. */
		cmocka_unit_test_prestate_setup_teardown(test_deliver_one,
		    setup_named, teardown, NULL),
		cmocka_unit_test_prestate_setup_teardown(test_tag, setup_named,
		    teardown, NULL),
		cmocka_unit_test_prestate_setup_teardown(test_flags,
		    setup_named, teardown, NULL),
		cmocka_unit_test_prestate_setup_teardown(test_folder,
		    setup_named, teardown, NULL),
		cmocka_unit_test_prestate_setup_teardown(test_empty_message,
		    setup_named, teardown, NULL),
		cmocka_unit_test_prestate_setup_teardown(
		    test_large_message_small_writes, setup_named, teardown,
		    NULL),
		cmocka_unit_test_prestate_setup_teardown(test_abort,
		    setup_named, teardown, NULL),
		cmocka_unit_test_prestate_setup_teardown(
		    test_one_delivery_at_a_time, setup_named, teardown, NULL),
		cmocka_unit_test_prestate_setup_teardown(test_enospc_nth_write,
		    setup_named, teardown, NULL),
		cmocka_unit_test_prestate_setup_teardown(test_enospc_in_commit,
		    setup_named, teardown, NULL),
		cmocka_unit_test_prestate_setup_teardown(
		    test_eintr_and_short_writes, setup_named, teardown, NULL),
		cmocka_unit_test_prestate_setup_teardown(test_eio_fsync_file,
		    setup_named, teardown, NULL),
		cmocka_unit_test_prestate_setup_teardown(test_eio_close,
		    setup_named, teardown, NULL),
		cmocka_unit_test_prestate_setup_teardown(
		    test_eexist_linkat_refused, setup_named, teardown, NULL),
		cmocka_unit_test_prestate_setup_teardown(test_eio_linkat,
		    setup_named, teardown, NULL),
		cmocka_unit_test_prestate_setup_teardown(test_dir_fsync_fails,
		    setup_named, teardown, NULL),
		cmocka_unit_test_prestate_setup_teardown(
		    test_dir_fsync_and_unlink_fail, setup_named, teardown,
		    NULL),
		cmocka_unit_test_prestate_setup_teardown(test_batch,
		    setup_named, teardown, NULL),
		cmocka_unit_test_prestate_setup_teardown(test_batch_fsync_fails,
		    setup_named, teardown, NULL),
		cmocka_unit_test_prestate_setup_teardown(test_batch_link_fails,
		    setup_named, teardown, NULL),
		cmocka_unit_test_prestate_setup_teardown(test_unsync,
		    setup_named, teardown, NULL),
		cmocka_unit_test_prestate_setup_teardown(test_close_staged,
		    setup_named, teardown, NULL),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
