#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "fetch/fetch.h"
#include "state/archive.h"
#include "state/state.h"
#include "state/uidl.h"
#include "tests/unit/fault.h"
#include "tests/unit/tmpdir.h"

#define D1 "0000000000000000000000000000000000000000000000000000000000000001"

/* A sink in memory: what it was asked to do. */
struct mem_sink {
	int commits, syncs;
	bool is_failing_sync;
};

static int
mem_begin(void *ctx, const struct pop3_msg *msg, const void *filing,
    struct err *err)
{
	(void)ctx;
	(void)msg;
	(void)filing;
	(void)err;
	return 0;
}

static int
mem_write(void *ctx, const char *data, size_t len, struct err *err)
{
	(void)ctx;
	(void)data;
	(void)len;
	(void)err;
	return 0;
}

static int
mem_commit(void *ctx, char **name_out, struct err *err)
{
	struct mem_sink *m = ctx;

	(void)err;
	m->commits++;
	*name_out = g_strdup_printf("%d.name", m->commits);
	return 0;
}

static void
mem_abort(void *ctx)
{
	(void)ctx;
}

static int
mem_sync(void *ctx, struct err *err)
{
	struct mem_sink *m = ctx;

	m->syncs++;
	if (m->is_failing_sync) {
		err_setx(err, ERR_LOCAL, "sync refused");
		return -1;
	}
	return 0;
}

static const struct sink_ops mem_ops = {
	.begin = mem_begin,
	.write = mem_write,
	.commit = mem_commit,
	.abort = mem_abort,
	.sync = mem_sync,
};

struct fixture {
	char *dir;
	char *marker;
	struct mem_sink mem;
	struct sink inner, sink;
	struct store store;
	struct err err;
};

static int
setup(void **state)
{
	struct fixture *fx = g_new0(struct fixture, 1);

	fault_io_reset();
	fx->dir = tmpdir_make("state");
	fx->marker = g_build_filename(fx->dir, "acct.running", NULL);
	fx->inner.ops = &mem_ops;
	fx->inner.ctx = &fx->mem;
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
	g_free(fx->marker);
	g_free(fx);
	return 0;
}

static struct state *
open_ok(struct fixture *fx, bool has_archive)
{
	struct state *st;

	st = state_open(fx->dir, "acct", has_archive, &fx->err);
	if (st == NULL)
		fail_msg("state_open: %s", fx->err.msg);
	state_store(st, &fx->store);
	state_sink(st, &fx->inner, &fx->sink);
	return st;
}

static bool
has_marker(const struct fixture *fx)
{
	return g_file_test(fx->marker, G_FILE_TEST_EXISTS);
}

/* A message through the watched sink: begin, commit, sync. */
static int
store_one(struct fixture *fx)
{
	const struct sink *s = &fx->sink;
	char *name = NULL;
	int rc;

	assert_int_equal(s->ops->begin(s->ctx, NULL, NULL, &fx->err), 0);
	assert_int_equal(s->ops->write(s->ctx, "x\n", 2, &fx->err), 0);
	assert_int_equal(s->ops->commit(s->ctx, &name, &fx->err), 0);
	g_free(name);
	rc = s->ops->sync(s->ctx, &fx->err);
	return rc;
}

/* Record uid as fetch/ does after the sink's sync. */
static int
record(struct fixture *fx, const char *uid)
{
	const struct store *st = &fx->store;

	if (st->ops->append(st->ctx, uid, 10, "1.name", 0, 1, &fx->err) == -1)
		return -1;
	return st->ops->sync(st->ctx, &fx->err);
}

/* A run that ends: the marker is made, and goes. */
static void
test_clean_run(void **state)
{
	struct fixture *fx = *state;
	struct state *st = open_ok(fx, false);

	assert_true(has_marker(fx));
	assert_false(state_was_interrupted(st));
	assert_int_equal(store_one(fx), 0);
	assert_int_equal(record(fx, "u1"), 0);
	assert_true(fx->store.ops->has(fx->store.ctx, "u1", 10));
	state_close(st);
	assert_false(has_marker(fx));
}

/* The lock: a second run of the account is refused, ERR_TEMP. */
static void
test_lock(void **state)
{
	struct fixture *fx = *state;
	struct state *st = open_ok(fx, false);

	assert_null(state_open(fx->dir, "acct", false, &fx->err));
	assert_int_equal(fx->err.cls, ERR_TEMP);
	assert_non_null(strstr(fx->err.msg, "another popfetch"));
	/* The refused run does not take the marker away. */
	assert_true(has_marker(fx));
	state_close(st);
	st = open_ok(fx, false);
	state_close(st);
}

/*
 * The marker of a run that did not end clean: the next run is told, and
 * the marker stays until its recovery ran to the end, even when that run
 * fails before (no network after a reboot).
 */
static void
test_marker_after_failed_run(void **state)
{
	struct fixture *fx = *state;
	struct state *st;

	assert_true(g_file_set_contents(fx->marker, "", 0, NULL));
	st = open_ok(fx, false);
	assert_true(state_was_interrupted(st));
	state_close(st); /* failed before the recovery */
	assert_true(has_marker(fx));
	st = open_ok(fx, false);
	assert_true(state_was_interrupted(st));
	state_recovered(st);
	state_close(st);
	assert_false(has_marker(fx));
	st = open_ok(fx, false);
	assert_false(state_was_interrupted(st));
	state_close(st);
}

/* Stored, then the journal cannot be written (a full file system). */
static void
test_marker_journal_full(void **state)
{
	struct fixture *fx = *state;
	struct state *st = open_ok(fx, false);

	assert_int_equal(store_one(fx), 0);
	fault_arm(&fault_write, 1, 1, ENOSPC);
	assert_int_equal(record(fx, "u1"), -1);
	assert_int_equal(fx->err.errnum, ENOSPC);
	fault_io_reset();
	/* A later record that succeeds does not make up for it. */
	assert_int_equal(store_one(fx), 0);
	assert_int_equal(record(fx, "u2"), 0);
	state_close(st);
	assert_true(has_marker(fx));
}

/* Stored, then the journal's fsync fails. */
static void
test_marker_journal_fsync(void **state)
{
	struct fixture *fx = *state;
	struct state *st = open_ok(fx, false);

	assert_int_equal(store_one(fx), 0);
	fault_arm(&fault_fsync, 1, 1, EIO);
	assert_int_equal(record(fx, "u1"), -1);
	state_close(st);
	assert_true(has_marker(fx));
}

/* Stored and never recorded (the run stopped between the two). */
static void
test_marker_stored_unrecorded(void **state)
{
	struct fixture *fx = *state;
	struct state *st = open_ok(fx, false);

	assert_int_equal(store_one(fx), 0);
	state_close(st);
	assert_true(has_marker(fx));
}

/*
 * A sink sync that fails takes back what it delivered, but the take-back
 * may fail too: the marker stays, and the next run looks.
 */
static void
test_marker_sink_sync_failed(void **state)
{
	struct fixture *fx = *state;
	struct state *st = open_ok(fx, false);

	fx->mem.is_failing_sync = true;
	assert_int_equal(store_one(fx), -1);
	state_close(st);
	assert_true(has_marker(fx));
}

/* Nothing stored: a failed record of a discarded message only. */
static void
test_marker_nothing_stored(void **state)
{
	struct fixture *fx = *state;
	struct state *st = open_ok(fx, false);

	assert_int_equal(record(fx, "u1"), 0);
	assert_int_equal(fx->mem.syncs, 0);
	state_close(st);
	assert_false(has_marker(fx));
}

/*
 * archive = yes: the index is made durable before the journal, and a
 * journal record never becomes durable when the index could not.  The
 * first sync of each fsyncs the file, then its directory.
 */
static void
test_archive_before_journal(void **state)
{
	struct fixture *fx = *state;
	struct state *st = open_ok(fx, true);

	assert_non_null(state_archive(st));
	assert_int_equal(store_one(fx), 0);
	assert_int_equal(archive_append(state_archive(st), D1, NULL,
	                     "new/1.name", &fx->err),
	    0);
	fault_arm(&fault_fsync, 1, 1, EIO);
	assert_int_equal(record(fx, "u1"), -1);
	assert_int_equal(fx->err.errnum, EIO);
	/* Only the index's fsync was tried: the journal's waits for it. */
	assert_int_equal(fault_fsync.calls, 1);
	assert_non_null(strstr(fx->err.msg, "acct.archive"));
	state_close(st);
	assert_true(has_marker(fx));
}

/* The index durable, the journal's fsync failing: the marker stays. */
static void
test_archive_then_journal_fails(void **state)
{
	struct fixture *fx = *state;
	struct state *st = open_ok(fx, true);

	assert_int_equal(store_one(fx), 0);
	assert_int_equal(archive_append(state_archive(st), D1, NULL,
	                     "new/1.name", &fx->err),
	    0);
	fault_arm(&fault_fsync, 3, 1, EIO);
	assert_int_equal(record(fx, "u1"), -1);
	assert_non_null(strstr(fx->err.msg, "acct.uidl"));
	assert_false(archive_is_dirty(state_archive(st)));
	state_close(st);
	assert_true(has_marker(fx));
	/* Both are read back: the index has the message. */
	st = open_ok(fx, true);
	assert_non_null(archive_lookup(state_archive(st), D1, NULL));
	state_close(st);
}

/* LOGIN-DELAY: a run that comes sooner is refused, without a marker. */
static void
test_login_delay(void **state)
{
	struct fixture *fx = *state;
	struct state *st = open_ok(fx, false);
	char *path;

	assert_int_equal(state_set_login_delay(st, 900, &fx->err), 0);
	state_close(st);
	assert_false(has_marker(fx));
	assert_null(state_open(fx->dir, "acct", false, &fx->err));
	assert_int_equal(fx->err.cls, ERR_TEMP);
	assert_non_null(strstr(fx->err.msg, "LOGIN-DELAY"));
	assert_false(has_marker(fx));
	/* Past it, the run goes ahead. */
	path = g_build_filename(fx->dir, "acct.delay", NULL);
	assert_true(g_file_set_contents(path, "1000\n", -1, NULL));
	g_free(path);
	st = open_ok(fx, false);
	/* A server's LOGIN-DELAY is honoured up to an hour, no more. */
	assert_int_equal(state_set_login_delay(st, LONG_MAX, &fx->err), 0);
	state_close(st);
	path = g_build_filename(fx->dir, "acct.delay", NULL);
	{
		gchar *text;
		long long until;

		assert_true(g_file_get_contents(path, &text, NULL, NULL));
		until = g_ascii_strtoll(text, NULL, 10);
		assert_true(until > (long long)time(NULL));
		assert_true(until <= (long long)time(NULL) + 60 * 60);
		g_free(text);
	}
	g_free(path);
}

/* The account's name is made safe as a file name. */
static void
test_file_names(void **state)
{
	struct fixture *fx = *state;
	struct state *st;
	char *path;

	st = state_open(fx->dir, ".a/b", false, &fx->err);
	assert_non_null(st);
	path = state_path(st, "uidl");
	assert_true(g_str_has_suffix(path, "/_a_b.uidl"));
	assert_true(g_file_test(path, G_FILE_TEST_EXISTS));
	free(path);
	state_close(st);
}

/*
 * --dry-run and --status look at the state while a run may hold it: no
 * lock taken, no marker set or taken away, nothing written or made.
 */
static void
test_peek(void **state)
{
	struct fixture *fx = *state;
	char *dir = g_build_filename(fx->dir, "popfetch", NULL);
	char *marker = g_build_filename(dir, "acct.running", NULL);
	struct state *st, *peek;
	struct store store;

	assert_int_equal(setenv("XDG_STATE_HOME", fx->dir, 1), 0);
	/* No state yet: an empty store, and nothing made. */
	peek = state_peek("acct", &fx->err);
	assert_non_null(peek);
	assert_int_equal(uidl_count(state_uidl(peek)), 0);
	assert_false(state_was_interrupted(peek));
	state_close(peek);
	assert_false(g_file_test(dir, G_FILE_TEST_EXISTS));

	/* A run in progress, with a message recorded. */
	st = state_open(dir, "acct", false, &fx->err);
	assert_non_null(st);
	state_store(st, &fx->store);
	assert_int_equal(record(fx, "u1"), 0);
	peek = state_peek("acct", &fx->err);
	assert_non_null(peek);
	assert_true(state_was_interrupted(peek)); /* the run's marker */
	state_store(peek, &store);
	assert_true(store.ops->has(store.ctx, "u1", 10));
	assert_int_equal(store.ops->append(store.ctx, "u2", 10, NULL, 0, 1,
	                     &fx->err),
	    -1);
	state_close(peek);
	assert_true(g_file_test(marker, G_FILE_TEST_EXISTS));
	state_close(st);
	assert_false(g_file_test(marker, G_FILE_TEST_EXISTS));

	/* Nowhere to look. */
	assert_int_equal(unsetenv("XDG_STATE_HOME"), 0);
	assert_int_equal(unsetenv("HOME"), 0);
	err_clear(&fx->err);
	assert_null(state_peek("acct", &fx->err));
	assert_int_equal(fx->err.cls, ERR_CONFIG);
	g_free(marker);
	g_free(dir);
}

/*
 * A state directory another user can write into, or that is not the
 * user's, is refused (as ssh refuses such a ~/.ssh).
 */
static void
test_dir_trust(void **state)
{
	struct fixture *fx = *state;
	struct state *st;

	assert_int_equal(chmod(fx->dir, 0777), 0);
	assert_null(state_open(fx->dir, "acct", false, &fx->err));
	assert_int_equal(fx->err.cls, ERR_LOCAL);
	assert_non_null(strstr(fx->err.msg, "writable by others"));
	assert_int_equal(chmod(fx->dir, 0720), 0);
	assert_null(state_open(fx->dir, "acct", false, &fx->err));
	assert_int_equal(chmod(fx->dir, 0755), 0);
	st = open_ok(fx, false);
	state_close(st);
	/* Another owner: only root can make one. */
	if (geteuid() != 0)
		return;
	assert_int_equal(chown(fx->dir, 65534, 65534), 0);
	assert_null(state_open(fx->dir, "acct", false, &fx->err));
	assert_int_equal(fx->err.cls, ERR_LOCAL);
	assert_non_null(strstr(fx->err.msg, "not by this user"));
	assert_int_equal(chown(fx->dir, 0, 0), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_clean_run),
		T(test_lock),
		T(test_marker_after_failed_run),
		T(test_marker_journal_full),
		T(test_marker_journal_fsync),
		T(test_marker_stored_unrecorded),
		T(test_marker_sink_sync_failed),
		T(test_marker_nothing_stored),
		T(test_archive_before_journal),
		T(test_archive_then_journal_fails),
		T(test_login_delay),
		T(test_file_names),
		T(test_peek),
		T(test_dir_trust),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
