#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <cmocka.h>

#include "compat/compat.h"
#include "util/err.h"
#include "util/fsutil.h"
#include "util/str.h"
#include "util/xmalloc.h"

#define REFUSED 0xdeadbeef

/* Parse a C string with str_tonum(); REFUSED marks a refusal. */
static uint64_t
tonum(const char *s, uint64_t max)
{
	uint64_t out = 4242;

	if (str_tonum(s, strlen(s), max, &out) == -1) {
		/* A refusal leaves the output alone. */
		assert_int_equal(out, 4242);
		return REFUSED;
	}
	return out;
}

static void
test_tonum_valid(void **state)
{
	uint64_t out;

	(void)state;
	assert_int_equal(tonum("0", 10), 0);
	assert_int_equal(tonum("7", 10), 7);
	assert_int_equal(tonum("10", 10), 10);
	assert_int_equal(tonum("007", 10), 7);
	assert_int_equal(tonum("000", 0), 0);
	assert_int_equal(tonum("65535", 65535), 65535);
	assert_int_equal(tonum("123456789", UINT64_MAX), 123456789);
	/* Exactly len bytes: what follows is not looked at. */
	assert_int_equal(str_tonum("123abc", 3, 1000, &out), 0);
	assert_int_equal(out, 123);
	assert_int_equal(str_tonum("99", 1, 1000, &out), 0);
	assert_int_equal(out, 9);
}

static void
test_tonum_refused(void **state)
{
	uint64_t out = 1;

	(void)state;
	assert_int_equal(str_tonum("", 0, 10, &out), -1);
	assert_int_equal(str_tonum("5", 0, 10, &out), -1);
	assert_int_equal(out, 1);
	assert_int_equal(tonum("+1", 10), REFUSED);
	assert_int_equal(tonum("-1", 10), REFUSED);
	assert_int_equal(tonum(" 1", 10), REFUSED);
	assert_int_equal(tonum("1 ", 10), REFUSED);
	assert_int_equal(tonum("1\r", 10), REFUSED);
	assert_int_equal(tonum("0x1", 10), REFUSED);
	assert_int_equal(tonum("1a", 10), REFUSED);
	assert_int_equal(tonum("1.0", 10), REFUSED);
	/* A NUL inside len is not a digit either. */
	assert_int_equal(str_tonum("1\0002", 3, 1000, &out), -1);
}

static void
test_tonum_max(void **state)
{
	(void)state;
	assert_int_equal(tonum("255", 255), 255);
	assert_int_equal(tonum("256", 255), REFUSED);
	assert_int_equal(tonum("1000", 255), REFUSED);
	assert_int_equal(tonum("0", 0), 0);
	assert_int_equal(tonum("1", 0), REFUSED);
	/* A last digit above a small max, with or without digits before. */
	assert_int_equal(tonum("5", 5), 5);
	assert_int_equal(tonum("6", 5), REFUSED);
	assert_int_equal(tonum("9", 5), REFUSED);
	assert_int_equal(tonum("09", 5), REFUSED);
	assert_int_equal(tonum("19", 5), REFUSED);
	assert_int_equal(tonum("9", 8), REFUSED);
	assert_int_equal(tonum("9", 9), 9);
	assert_int_equal(tonum("99", 98), REFUSED);
	assert_int_equal(tonum("98", 98), 98);
}

static void
test_tonum_uint64(void **state)
{
	(void)state;
	assert_true(tonum("18446744073709551615", UINT64_MAX) == UINT64_MAX);
	assert_int_equal(tonum("18446744073709551616", UINT64_MAX), REFUSED);
	assert_int_equal(tonum("18446744073709551620", UINT64_MAX), REFUSED);
	assert_int_equal(tonum("99999999999999999999", UINT64_MAX), REFUSED);
	assert_int_equal(tonum("100000000000000000000", UINT64_MAX), REFUSED);
	assert_int_equal(tonum("184467440737095516150", UINT64_MAX), REFUSED);
	assert_true(
	    tonum("18446744073709551614", UINT64_MAX - 1) == UINT64_MAX - 1);
	assert_int_equal(tonum("18446744073709551615", UINT64_MAX - 1),
	    REFUSED);
	/* More than 20 digits is fine while the value fits. */
	assert_int_equal(tonum("000000000000000000000000042", 100), 42);
	assert_true(tonum("0018446744073709551615", UINT64_MAX) == UINT64_MAX);
	assert_int_equal(tonum("0000000000000000000000000", 0), 0);
}

static void
test_sanitise(void **state)
{
	char dst[64];

	(void)state;
	str_sanitise(dst, sizeof(dst), "plain text ~!", 13);
	assert_string_equal(dst, "plain text ~!");
	str_sanitise(dst, sizeof(dst), "a\tb\rc\nd\x01\x1f\x7f", 10);
	assert_string_equal(dst, "a?b?c?d???");
	str_sanitise(dst, sizeof(dst), "caf\xc3\xa9 \xff", 7);
	assert_string_equal(dst, "caf?? ?");
	/* A NUL inside len is replaced, not an early end. */
	str_sanitise(dst, sizeof(dst), "a\0b", 3);
	assert_string_equal(dst, "a?b");
	/* Only len bytes are read: no terminator is needed. */
	str_sanitise(dst, sizeof(dst), "abcdef", 3);
	assert_string_equal(dst, "abc");
	str_sanitise(dst, sizeof(dst), "", 0);
	assert_string_equal(dst, "");
}

static void
test_sanitise_truncate(void **state)
{
	char dst[16];

	(void)state;
	str_sanitise(dst, 8, "0123456789", 10);
	assert_string_equal(dst, "0123...");
	/* Exactly filling is no truncation. */
	str_sanitise(dst, 8, "0123456", 7);
	assert_string_equal(dst, "0123456");
	str_sanitise(dst, 8, "01234567", 8);
	assert_string_equal(dst, "0123...");
	str_sanitise(dst, 4, "0123456", 7);
	assert_string_equal(dst, "...");
	/* Too small for the marker: plain truncation. */
	str_sanitise(dst, 3, "0123456", 7);
	assert_string_equal(dst, "01");
	str_sanitise(dst, 1, "0123456", 7);
	assert_string_equal(dst, "");
	/* Nothing at all is written into an empty destination. */
	memcpy(dst, "untouched", 10);
	str_sanitise(dst, 0, "0123456", 7);
	assert_string_equal(dst, "untouched");
}

static void
test_expand_home(void **state)
{
	char *s;

	(void)state;
	assert_int_equal(setenv("HOME", "/home/u", 1), 0);
	s = str_expand_home("~");
	assert_string_equal(s, "/home/u");
	free(s);
	s = str_expand_home("~/Mail/box");
	assert_string_equal(s, "/home/u/Mail/box");
	free(s);
	s = str_expand_home("~other/Mail");
	assert_string_equal(s, "~other/Mail");
	free(s);
	s = str_expand_home("/srv/~/x");
	assert_string_equal(s, "/srv/~/x");
	free(s);
	s = str_expand_home("rel");
	assert_string_equal(s, "rel");
	free(s);
	s = str_expand_home("");
	assert_string_equal(s, "");
	free(s);

	assert_int_equal(setenv("HOME", "", 1), 0);
	assert_null(str_expand_home("~/x"));
	assert_int_equal(unsetenv("HOME"), 0);
	assert_null(str_expand_home("~"));
	s = str_expand_home("/abs");
	assert_string_equal(s, "/abs");
	free(s);
}

static void
test_has_prefix(void **state)
{
	(void)state;
	assert_true(str_has_prefix("+OK ready", "+OK"));
	assert_true(str_has_prefix("+OK", "+OK"));
	assert_true(str_has_prefix("abc", ""));
	assert_false(str_has_prefix("+O", "+OK"));
	assert_false(str_has_prefix("-ERR", "+OK"));
	assert_false(str_has_prefix("", "x"));
}

static void
test_err_set(void **state)
{
	struct err err;

	(void)state;
	err_clear(&err);
	assert_int_equal(err.cls, ERR_NONE);
	assert_string_equal(err.msg, "");

	errno = ENOENT;
	err_set(&err, ERR_LOCAL, "open %s", "box");
	assert_int_equal(errno, ENOENT);
	assert_int_equal(err.cls, ERR_LOCAL);
	assert_int_equal(err.errnum, ENOENT);
	assert_int_equal(err.scope, ERR_SCOPE_ACCOUNT);
	assert_string_equal(err.msg, "open box: No such file or directory");

	errno = EIO;
	err_setx(&err, ERR_CONFIG, "bad %d", 7);
	assert_int_equal(errno, EIO);
	assert_int_equal(err.cls, ERR_CONFIG);
	assert_int_equal(err.errnum, 0);
	assert_int_equal(err.scope, ERR_SCOPE_RUN);
	assert_string_equal(err.msg, "bad 7");

	err_set_scope(&err, ERR_SCOPE_MESSAGE);
	assert_int_equal(err.scope, ERR_SCOPE_MESSAGE);

	/* A NULL err is allowed and still keeps errno. */
	errno = EAGAIN;
	err_set(NULL, ERR_TEMP, "x");
	err_setx(NULL, ERR_TEMP, "x");
	err_prefix(NULL, "x");
	err_set_server(NULL, "x", 1);
	err_set_scope(NULL, ERR_SCOPE_RUN);
	err_clear(NULL);
	assert_int_equal(errno, EAGAIN);
}

/* err followed by a guard, to see that nothing is written past msg. */
struct guarded {
	struct err err;
	char guard[32];
};

static void
check_guard(const struct guarded *g)
{
	size_t i;

	for (i = 0; i < sizeof(g->guard); i++)
		assert_int_equal(g->guard[i], 'G');
	assert_true(strlen(g->err.msg) < sizeof(g->err.msg));
	assert_true(strlen(g->err.server) < sizeof(g->err.server));
}

static void
test_err_truncation(void **state)
{
	struct guarded g;
	char big[1000];

	(void)state;
	memset(&g, 0, sizeof(g));
	memset(g.guard, 'G', sizeof(g.guard));
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';

	errno = ENOSPC;
	err_set(&g.err, ERR_LOCAL, "%s", big);
	assert_int_equal(strlen(g.err.msg), ERR_MSG_MAX - 1);
	assert_int_equal(g.err.errnum, ENOSPC);
	assert_int_equal(errno, ENOSPC);
	check_guard(&g);

	err_setx(&g.err, ERR_LOCAL, "%s", big);
	assert_int_equal(strlen(g.err.msg), ERR_MSG_MAX - 1);
	check_guard(&g);

	/* A long prefix leaves no room: the prefix alone, cut. */
	err_setx(&g.err, ERR_PROTO, "inner");
	err_prefix(&g.err, "%s", big);
	assert_int_equal(strlen(g.err.msg), ERR_MSG_MAX - 1);
	assert_int_equal(g.err.cls, ERR_PROTO);
	check_guard(&g);

	/* A prefix that nearly fills it cuts the old message. */
	err_setx(&g.err, ERR_PROTO, "%s", "0123456789");
	err_prefix(&g.err, "%.*s", ERR_MSG_MAX - 6, big);
	assert_int_equal(strlen(g.err.msg), ERR_MSG_MAX - 1);
	assert_string_equal(g.err.msg + ERR_MSG_MAX - 6, ": 012");
	check_guard(&g);

	err_setx(&g.err, ERR_PROTO, "%.*s", ERR_MSG_MAX - 3, big);
	err_set_server(&g.err, big, sizeof(big) - 1);
	assert_int_equal(strlen(g.err.msg), ERR_MSG_MAX - 1);
	assert_int_equal(strlen(g.err.server), ERR_SERVER_MAX - 1);
	assert_string_equal(g.err.server + ERR_SERVER_MAX - 4, "...");
	check_guard(&g);
}

static void
test_err_prefix(void **state)
{
	struct err err;

	(void)state;
	errno = EIO;
	err_set(&err, ERR_LOCAL, "write");
	errno = 0;
	err_prefix(&err, "account %s", "home");
	err_prefix(&err, "retr %u", 3u);
	assert_string_equal(err.msg,
	    "retr 3: account home: write: Input/output error");
	assert_int_equal(err.cls, ERR_LOCAL);
	assert_int_equal(err.errnum, EIO);
	assert_int_equal(errno, 0);
}

static void
test_err_server(void **state)
{
	struct err err;

	(void)state;
	err_setx(&err, ERR_AUTH, "pass");
	err_set_server(&err, "[AUTH] bad\r\npassword\x1b[2J", 24);
	assert_string_equal(err.server, "[AUTH] bad??password?[2J");
	assert_string_equal(err.msg,
	    "pass: server said \"[AUTH] bad??password?[2J\"");
	assert_int_equal(err.cls, ERR_AUTH);

	/* No text, no addition. */
	err_setx(&err, ERR_AUTH, "pass");
	err_set_server(&err, "", 0);
	assert_string_equal(err.msg, "pass");
	assert_string_equal(err.server, "");

	/* A new error forgets the old server text. */
	err_setx(&err, ERR_TEMP, "later");
	assert_string_equal(err.server, "");
}

/* Whatever a message quotes comes out printable (issue 14, item 12). */
static void
test_err_sanitised(void **state)
{
	struct err err;

	(void)state;
	err_setx(&err, ERR_CONFIG, "no rule called \"%s\"",
	    "h\x84\x84\x1b[2J\n");
	assert_string_equal(err.msg, "no rule called \"h???[2J?\"");
	errno = ENOENT;
	err_set(&err, ERR_LOCAL, "open %s", "caf\xc3\xa9\t");
	/* UTF-8 stays as it is; a control character does not. */
	assert_string_equal(err.msg,
	    "open caf\xc3\xa9?: No such file or directory");
	err_prefix(&err, "account \"%s\"", "\r\x7f\xc2\x85");
	assert_string_equal(err.msg,
	    "account \"????\": open caf\xc3\xa9?: No such file or directory");
}

static void
test_err_exitcode(void **state)
{
	(void)state;
	assert_int_equal(err_exitcode(ERR_NONE), 0);
	assert_int_equal(err_exitcode(ERR_TEMP), EX_TEMPFAIL);
	assert_int_equal(err_exitcode(ERR_AUTH), EX_NOPERM);
	assert_int_equal(err_exitcode(ERR_PROTO), EX_PROTOCOL);
	assert_int_equal(err_exitcode(ERR_CONFIG), EX_CONFIG);
	assert_int_equal(err_exitcode(ERR_LOCAL), EX_IOERR);
	assert_int_equal(err_exitcode(ERR_SOFTWARE), EX_SOFTWARE);
}

static void
test_err_worse(void **state)
{
	/* Best to worst. */
	static const enum err_class order[] = { ERR_NONE, ERR_TEMP, ERR_PROTO,
		ERR_LOCAL, ERR_AUTH, ERR_CONFIG, ERR_SOFTWARE };
	size_t n = sizeof(order) / sizeof(order[0]), i, j;

	(void)state;
	for (i = 0; i < n; i++) {
		for (j = 0; j < n; j++) {
			enum err_class want = order[i > j ? i : j];

			assert_int_equal(err_worse(order[i], order[j]), want);
		}
	}
	for (i = 0; i < n; i++) {
		assert_non_null(err_class_name(order[i]));
		for (j = 0; j < i; j++)
			assert_string_not_equal(err_class_name(order[i]),
			    err_class_name(order[j]));
	}
}

struct tmpdir {
	char path[200];
	int fd;
};

static int
setup_dir(void **state)
{
	struct tmpdir *t;
	const char *tmp = getenv("TMPDIR");

	t = calloc(1, sizeof(*t));
	assert_non_null(t);
	if (tmp == NULL || tmp[0] == '\0')
		tmp = "/tmp";
	(void)snprintf(t->path, sizeof(t->path), "%s/test-util.XXXXXX", tmp);
	assert_non_null(mkdtemp(t->path));
	t->fd = open(t->path, O_RDONLY | O_DIRECTORY);
	assert_true(t->fd >= 0);
	*state = t;
	return 0;
}

/* Remove what a test left: at most a few levels of plain entries. */
static void
remove_tree(const char *path)
{
	struct dirent *de;
	char sub[512];
	DIR *d;

	if ((d = opendir(path)) == NULL) {
		(void)unlink(path);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		(void)snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		remove_tree(sub);
	}
	(void)closedir(d);
	(void)rmdir(path);
}

static int
teardown_dir(void **state)
{
	struct tmpdir *t = *state;

	(void)close(t->fd);
	remove_tree(t->path);
	free(t);
	return 0;
}

static bool
is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void
test_mkdirs(void **state)
{
	struct tmpdir *t = *state;
	char path[512], file[512];
	struct err err;
	int fd;

	(void)snprintf(path, sizeof(path), "%s/a/b/c", t->path);
	assert_int_equal(fsutil_mkdirs(path, 0700, &err), 0);
	assert_true(is_dir(path));
	/* Again: all there already. */
	assert_int_equal(fsutil_mkdirs(path, 0700, &err), 0);
	(void)snprintf(path, sizeof(path), "%s/a//b/d/", t->path);
	assert_int_equal(fsutil_mkdirs(path, 0700, &err), 0);
	(void)snprintf(path, sizeof(path), "%s/a/b/d", t->path);
	assert_true(is_dir(path));

	/* A file in the way. */
	(void)snprintf(file, sizeof(file), "%s/a/file", t->path);
	fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	(void)close(fd);
	(void)snprintf(path, sizeof(path), "%s/a/file/x", t->path);
	err_clear(&err);
	assert_int_equal(fsutil_mkdirs(path, 0700, &err), -1);
	assert_int_equal(err.cls, ERR_LOCAL);
	assert_int_equal(err.errnum, ENOTDIR);
	assert_non_null(strstr(err.msg, "a/file/x"));
	err_clear(&err);
	assert_int_equal(fsutil_mkdirs(file, 0700, &err), -1);
	assert_int_equal(err.cls, ERR_LOCAL);
	assert_non_null(strstr(err.msg, "not a directory"));

	err_clear(&err);
	assert_int_equal(fsutil_mkdirs("", 0700, &err), -1);
	assert_int_equal(err.cls, ERR_LOCAL);
}

static void
read_all(int dirfd, const char *name, char *buf, size_t size)
{
	ssize_t n;
	int fd;

	fd = openat(dirfd, name, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, buf, size - 1);
	assert_true(n >= 0);
	buf[n] = '\0';
	(void)close(fd);
}

/* The names in dir, sorted, joined by spaces. */
static void
list_dir(const char *path, char *out, size_t size)
{
	struct dirent **names;
	int i, n;

	n = scandir(path, &names, NULL, alphasort);
	assert_true(n >= 0);
	out[0] = '\0';
	for (i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.') {
			if (out[0] != '\0')
				(void)strncat(out, " ", size - strlen(out) - 1);
			(void)strncat(out, names[i]->d_name,
			    size - strlen(out) - 1);
		}
		free(names[i]);
	}
	free(names);
}

static void
test_atomic_write(void **state)
{
	struct tmpdir *t = *state;
	char buf[128];
	struct err err;
	struct stat st;

	assert_int_equal(fsutil_atomic_write(t->fd, "store", "first\n", 6, 0600,
	                     &err),
	    0);
	read_all(t->fd, "store", buf, sizeof(buf));
	assert_string_equal(buf, "first\n");
	assert_int_equal(fsutil_atomic_write(t->fd, "store", "2", 1, 0600,
	                     &err),
	    0);
	read_all(t->fd, "store", buf, sizeof(buf));
	assert_string_equal(buf, "2");
	assert_int_equal(fstatat(t->fd, "store", &st, 0), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(fsutil_atomic_write(t->fd, "store", "", 0, 0600, &err),
	    0);
	read_all(t->fd, "store", buf, sizeof(buf));
	assert_string_equal(buf, "");
	list_dir(t->path, buf, sizeof(buf));
	assert_string_equal(buf, "store");

	/* Failure: nothing is left behind, the old file is untouched. */
	assert_int_equal(fsutil_atomic_write(t->fd, "store", "keep", 4, 0600,
	                     &err),
	    0);
	assert_int_equal(mkdirat(t->fd, "sub", 0700), 0);
	err_clear(&err);
	assert_int_equal(fsutil_atomic_write(t->fd, "sub", "x", 1, 0600, &err),
	    -1);
	assert_int_equal(err.cls, ERR_LOCAL);
	assert_int_equal(err.errnum, EISDIR);
	list_dir(t->path, buf, sizeof(buf));
	assert_string_equal(buf, "store sub");
	read_all(t->fd, "store", buf, sizeof(buf));
	assert_string_equal(buf, "keep");

	err_clear(&err);
	assert_int_equal(fsutil_atomic_write(t->fd, "missing/x", "x", 1, 0600,
	                     &err),
	    -1);
	assert_int_equal(err.cls, ERR_LOCAL);
	assert_int_equal(err.errnum, ENOENT);
}

/* A link planted under the temporary's name is not written through. */
static void
test_atomic_write_planted_link(void **state)
{
	struct tmpdir *t = *state;
	char buf[128], tmp[64];
	struct err err;
	struct stat st;

	assert_int_equal(fsutil_atomic_write(t->fd, "target", "victim", 6, 0600,
	                     &err),
	    0);
	(void)snprintf(tmp, sizeof(tmp), "store.tmp.%ld", (long)getpid());
	assert_int_equal(symlinkat("target", t->fd, tmp), 0);
	err_clear(&err);
	assert_int_equal(fsutil_atomic_write(t->fd, "store", "mine", 4, 0600,
	                     &err),
	    0);
	read_all(t->fd, "target", buf, sizeof(buf));
	assert_string_equal(buf, "victim");
	read_all(t->fd, "store", buf, sizeof(buf));
	assert_string_equal(buf, "mine");
	assert_int_equal(fstatat(t->fd, "store", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISREG(st.st_mode));
	list_dir(t->path, buf, sizeof(buf));
	assert_string_equal(buf, "store target");
}

static void
test_write_all_fsync(void **state)
{
	struct tmpdir *t = *state;
	char buf[16];
	struct err err;
	int fds[2];

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(fsutil_write_all(fds[1], "hello", 5, &err), 0);
	assert_int_equal(read(fds[0], buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "hello", 5);
	(void)close(fds[0]);
	(void)close(fds[1]);

	err_clear(&err);
	assert_int_equal(fsutil_write_all(fds[1], "x", 1, &err), -1);
	assert_int_equal(err.cls, ERR_LOCAL);
	assert_int_equal(err.errnum, EBADF);

	assert_int_equal(fsutil_fsync_dir(t->fd, t->path, &err), 0);
	err_clear(&err);
	assert_int_equal(fsutil_fsync_dir(-1, "nowhere", &err), -1);
	assert_int_equal(err.cls, ERR_LOCAL);
	assert_string_equal(err.msg, "fsync nowhere: Bad file descriptor");
}

static void
test_xmalloc(void **state)
{
	char *s, *p;

	(void)state;
	s = xasprintf("%s-%d", "n", 42);
	assert_string_equal(s, "n-42");
	free(s);
	s = xstrndup("abcdef", 3);
	assert_string_equal(s, "abc");
	p = xreallocarray(s, 10, 10);
	p[99] = 'z';
	free(p);
	s = xstrdup("secret");
	xfree_secret(s);
	xfree_secret(NULL);
	freezero(NULL, 10);
}

/* The fallback, tested here although the C library has its own. */
static void
test_explicit_bzero(void **state)
{
	unsigned char buf[8];
	size_t i;

	(void)state;
	memset(buf, 0xaa, sizeof(buf));
	compat_explicit_bzero(buf + 1, 6);
	assert_int_equal(buf[0], 0xaa);
	for (i = 1; i < 7; i++)
		assert_int_equal(buf[i], 0);
	assert_int_equal(buf[7], 0xaa);
	compat_explicit_bzero(buf, 0);
	assert_int_equal(buf[0], 0xaa);
	explicit_bzero(buf, sizeof(buf));
	for (i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0);
}

/* The published FNV-1a test vectors: --shard depends on them never moving. */
static void
test_hash_fnv1a(void **state)
{
	(void)state;
	assert_int_equal(str_hash_fnv1a(""), 0x811c9dc5u);
	assert_int_equal(str_hash_fnv1a("a"), 0xe40c292cu);
	assert_int_equal(str_hash_fnv1a("foobar"), 0xbf9cf968u);
	/* Bytes, not chars: no sign extension of 0xff. */
	assert_int_equal(str_hash_fnv1a("\xff"), 0x7a0b824eu);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_explicit_bzero),
		cmocka_unit_test(test_tonum_valid),
		cmocka_unit_test(test_tonum_refused),
		cmocka_unit_test(test_tonum_max),
		cmocka_unit_test(test_tonum_uint64),
		cmocka_unit_test(test_sanitise),
		cmocka_unit_test(test_sanitise_truncate),
		cmocka_unit_test(test_expand_home),
		cmocka_unit_test(test_has_prefix),
		cmocka_unit_test(test_err_set),
		cmocka_unit_test(test_err_truncation),
		cmocka_unit_test(test_err_prefix),
		cmocka_unit_test(test_err_server),
		cmocka_unit_test(test_err_sanitised),
		cmocka_unit_test(test_err_exitcode),
		cmocka_unit_test(test_err_worse),
		cmocka_unit_test_setup_teardown(test_mkdirs, setup_dir,
		    teardown_dir),
		cmocka_unit_test_setup_teardown(test_atomic_write, setup_dir,
		    teardown_dir),
		cmocka_unit_test_setup_teardown(test_atomic_write_planted_link,
		    setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_write_all_fsync, setup_dir,
		    teardown_dir),
		cmocka_unit_test(test_xmalloc),
		cmocka_unit_test(test_hash_fnv1a),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
