#include "config.h"

#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "fetch/fetch.h"
#include "state/archive.h"
#include "state/state.h"
#include "state/uidl.h"
#include "util/fsutil.h"
#include "util/str.h"
#include "util/xmalloc.h"

struct state {
	char *dir;
	char *account;
	int dir_fd;
	int lock; /* flock(2)ed, or -1 */
	bool was_interrupted;
	struct uidl_store *uidl;
	struct archive *ar;
	/*
	 * Whether the marker may go: messages made durable by the sink
	 * and not recorded yet; a failed write, sync or take-back that
	 * leaves that unknown; the recovery done.
	 */
	unsigned committed; /* by the sink since its last sync */
	bool is_outstanding;
	bool is_unclean;
	bool is_recovered;
	const struct sink *inner; /* what state_sink() watches */
};

char *
state_dir(struct err *err)
{
	const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");

	if (xdg != NULL && xdg[0] == '/')
		return xasprintf("%s/popfetch", xdg);
	if (home != NULL && home[0] != '\0')
		return xasprintf("%s/.local/state/popfetch", home);
	err_setx(err, ERR_CONFIG, "neither XDG_STATE_HOME nor HOME is set");
	return NULL;
}

/* dir/account.ext, the account's name made safe as a file name. */
static char *
state_name(const char *dir, const char *account, const char *ext)
{
	char *path, *p;

	path = xasprintf("%s/%s.%s", dir, account, ext);
	for (p = path + strlen(dir) + 1; *p != '\0'; p++)
		if (*p == '/' || (unsigned char)*p < 0x20)
			*p = '_';
	if (path[strlen(dir) + 1] == '.')
		path[strlen(dir) + 1] = '_';
	return path;
}

char *
state_path(const struct state *st, const char *ext)
{
	return state_name(st->dir, st->account, ext);
}

/*
 * Take the account's lock, so that an overlapping run (cron, a timer and
 * a person at once) cannot fetch the same messages twice.  The lock is
 * flock(2)ed, so a crash releases it; the file may stay.
 */
static int
state_lock(struct state *st, struct err *err)
{
	char *path = state_path(st, "lock");

	st->lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (st->lock == -1)
		err_set(err, ERR_LOCAL, "%s", path);
	else if (flock(st->lock, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK)
			err_setx(err, ERR_TEMP,
			    "another popfetch is fetching %s (lock %s)",
			    st->account, path);
		else
			err_set(err, ERR_LOCAL, "lock %s", path);
		(void)close(st->lock);
		st->lock = -1;
	}
	free(path);
	return st->lock != -1 ? 0 : -1;
}

/* Too early after the last login for the server's LOGIN-DELAY? */
static int
state_check_delay(const struct state *st, struct err *err)
{
	char *path = state_path(st, "delay"), *text = NULL;
	uint64_t next;
	int rc = 0;

	if (g_file_get_contents(path, &text, NULL, NULL) &&
	    str_tonum(text, strcspn(text, "\n"), INT64_MAX, &next) == 0 &&
	    (uint64_t)time(NULL) < next) {
		err_setx(err, ERR_TEMP,
		    "the server's LOGIN-DELAY allows the next login in %llu s",
		    (unsigned long long)(next - (uint64_t)time(NULL)));
		rc = -1;
	}
	g_free(text);
	free(path);
	return rc;
}

/*
 * Mark a run in progress, so that the next one knows if this one ended
 * with messages stored and not recorded (it was killed between a link
 * into new/ and its record, or a record could not be written).  The
 * mark is durable before any delivery.
 */
static int
state_mark(struct state *st, struct err *err)
{
	char *path = state_path(st, "running");
	int fd, rc = -1;

	st->was_interrupted = access(path, F_OK) == 0;
	if (st->was_interrupted) {
		free(path);
		return 0;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1)
		err_set(err, ERR_LOCAL, "%s", path);
	else {
		(void)close(fd);
		rc = fsutil_fsync_dir(st->dir_fd, st->dir, err);
	}
	free(path);
	return rc;
}

static int
state_load(struct state *st, bool has_archive, struct err *err)
{
	char *path = state_path(st, "uidl");

	st->uidl = uidl_open(path, err);
	free(path);
	if (st->uidl == NULL || !has_archive)
		return st->uidl != NULL ? 0 : -1;
	path = state_path(st, "archive");
	st->ar = archive_open(path, err);
	free(path);
	return st->ar != NULL ? 0 : -1;
}

/*
 * The state says what was fetched and may be deleted; another user who
 * can write into its directory can plant links or records there.  So
 * the directory must be the user's and writable by no one else, as ssh
 * asks of ~/.ssh.
 */
static int
state_check_dir(int fd, const char *dir, struct err *err)
{
	struct stat sb;

	if (fstat(fd, &sb) == -1) {
		err_set(err, ERR_LOCAL, "%s", dir);
		return -1;
	}
	if (sb.st_uid != geteuid()) {
		err_setx(err, ERR_LOCAL,
		    "state directory %s: owned by uid %ld, not by this user "
		    "(%ld)",
		    dir, (long)sb.st_uid, (long)geteuid());
		return -1;
	}
	if ((sb.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		err_setx(err, ERR_LOCAL,
		    "state directory %s: writable by others (mode %03o); "
		    "chmod go-w it",
		    dir, (unsigned)(sb.st_mode & 0777));
		return -1;
	}
	return 0;
}

struct state *
state_open(const char *dir, const char *account, bool has_archive,
    struct err *err)
{
	struct state *st = xcalloc(1, sizeof(*st));

	st->dir = xstrdup(dir);
	st->account = xstrdup(account);
	st->lock = st->dir_fd = -1;
	if (fsutil_mkdirs(dir, 0700, err) == -1)
		goto fail;
	st->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->dir_fd == -1) {
		err_set(err, ERR_LOCAL, "%s", dir);
		goto fail;
	}
	if (state_check_dir(st->dir_fd, dir, err) == -1)
		goto fail;
	if (state_lock(st, err) == -1 || state_check_delay(st, err) == -1 ||
	    state_mark(st, err) == -1 || state_load(st, has_archive, err) == -1)
		goto fail;
	return st;
fail:
	/* The marker stays: this run may not have got to the recovery. */
	st->is_unclean = true;
	state_close(st);
	return NULL;
}

struct state *
state_peek(const char *account, struct err *err)
{
	struct state *st;
	char *dir, *path;

	if ((dir = state_dir(err)) == NULL)
		return NULL;
	st = xcalloc(1, sizeof(*st));
	st->dir = dir;
	st->account = xstrdup(account);
	st->lock = st->dir_fd = -1;
	path = state_path(st, "running");
	st->was_interrupted = access(path, F_OK) == 0;
	free(path);
	path = state_path(st, "uidl");
	st->uidl = uidl_open_readonly(path, err);
	free(path);
	if (st->uidl == NULL) {
		state_close(st);
		return NULL;
	}
	return st;
}

void
state_close(struct state *st)
{
	char *path;

	if (st == NULL)
		return;
	uidl_free(st->uidl);
	archive_free(st->ar);
	/* Everything stored is recorded, and recovered if it had to be. */
	if (st->lock != -1 && !st->is_unclean && !st->is_outstanding &&
	    (!st->was_interrupted || st->is_recovered)) {
		path = state_path(st, "running");
		(void)unlink(path);
		free(path);
	}
	if (st->lock != -1)
		(void)close(st->lock);
	if (st->dir_fd != -1)
		(void)close(st->dir_fd);
	free(st->account);
	free(st->dir);
	free(st);
}

bool
state_was_interrupted(const struct state *st)
{
	return st->was_interrupted;
}

void
state_recovered(struct state *st)
{
	st->is_recovered = true;
}

struct uidl_store *
state_uidl(struct state *st)
{
	return st->uidl;
}

struct archive *
state_archive(struct state *st)
{
	return st->ar;
}

/* The longest LOGIN-DELAY honoured, in seconds. */
#define STATE_DELAY_MAX (60 * 60)

int
state_set_login_delay(struct state *st, long seconds, struct err *err)
{
	char *path = state_path(st, "delay"), text[32];
	int rc;

	/*
	 * The server's word, bounded: an hour at most (RFC 2449 §6.5 speaks
	 * of minutes), so that neither the sum overflows nor a hostile
	 * value shuts the account out for good.
	 */
	if (seconds > STATE_DELAY_MAX)
		seconds = STATE_DELAY_MAX;
	(void)snprintf(text, sizeof(text), "%lld\n",
	    (long long)time(NULL) + seconds);
	rc = fsutil_atomic_write(st->dir_fd, strrchr(path, '/') + 1, text,
	    strlen(text), 0600, err);
	free(path);
	return rc;
}

static bool
state_store_has(void *ctx, const char *uid, uint64_t size)
{
	return uidl_has(((struct state *)ctx)->uidl, uid, size);
}

static int64_t
state_store_first_seen(void *ctx, const char *uid, uint64_t size)
{
	return uidl_first_seen(((struct state *)ctx)->uidl, uid, size);
}

static const char *
state_store_file(void *ctx, const char *uid, uint64_t size)
{
	return uidl_file(((struct state *)ctx)->uidl, uid, size);
}

static size_t
state_store_count(void *ctx)
{
	return uidl_count(((struct state *)ctx)->uidl);
}

static int
state_store_append(void *ctx, const char *uid, uint64_t size, const char *file,
    uint64_t hid, int64_t now, struct err *err)
{
	struct state *st = ctx;

	if (uidl_append_id(st->uidl, uid, size, file, hid, now, err) == 0)
		return 0;
	st->is_unclean = true;
	return -1;
}

/*
 * The archive index first: a message recorded as delivered and not
 * indexed would be stored again when it comes under a new unique-id.
 */
static int
state_store_sync(void *ctx, struct err *err)
{
	struct state *st = ctx;

	if ((st->ar != NULL && archive_is_dirty(st->ar) &&
	        archive_sync(st->ar, err) == -1) ||
	    uidl_sync(st->uidl, err) == -1) {
		st->is_unclean = true;
		return -1;
	}
	if (!st->is_unclean)
		st->is_outstanding = false;
	return 0;
}

static int
state_store_compact(void *ctx, const char *const *keep, size_t n,
    struct err *err)
{
	struct state *st = ctx;

	/*
	 * A failure keeps every record, in the old file or the new; but the
	 * new one's name may not be durable: the next run looks again.
	 */
	if (uidl_compact(st->uidl, keep, n, err) == 0)
		return 0;
	st->is_unclean = true;
	return -1;
}

static bool
state_store_find_uid(void *ctx, const char *uid, uint64_t *size_out,
    uint64_t *hid_out)
{
	return uidl_find_uid(((struct state *)ctx)->uidl, uid, size_out,
	    hid_out);
}

static const struct store_ops state_store_ops = {
	.has = state_store_has,
	.first_seen = state_store_first_seen,
	.file = state_store_file,
	.count = state_store_count,
	.append = state_store_append,
	.sync = state_store_sync,
	.compact = state_store_compact,
	.find_uid = state_store_find_uid,
};

void
state_store(struct state *st, struct store *out)
{
	out->ops = &state_store_ops;
	out->ctx = st;
}

static int
state_sink_begin(void *ctx, const struct pop3_msg *msg, const void *filing,
    struct err *err)
{
	const struct sink *in = ((struct state *)ctx)->inner;

	return in->ops->begin(in->ctx, msg, filing, err);
}

static int
state_sink_write(void *ctx, const char *data, size_t len, struct err *err)
{
	const struct sink *in = ((struct state *)ctx)->inner;

	return in->ops->write(in->ctx, data, len, err);
}

static int
state_sink_commit(void *ctx, char **name_out, struct err *err)
{
	struct state *st = ctx;
	const struct sink *in = st->inner;

	if (in->ops->commit(in->ctx, name_out, err) == -1)
		return -1;
	/* Without a sync, a commit is durable at once. */
	if (in->ops->sync == NULL)
		st->is_outstanding = true;
	else
		st->committed++;
	return 0;
}

static void
state_sink_abort(void *ctx)
{
	const struct sink *in = ((struct state *)ctx)->inner;

	in->ops->abort(in->ctx);
}

static int
state_sink_sync(void *ctx, struct err *err)
{
	struct state *st = ctx;
	const struct sink *in = st->inner;
	int rc = in->ops->sync != NULL ? in->ops->sync(in->ctx, err) : 0;

	if (st->committed > 0) {
		/*
		 * Durable now, until recorded.  A failed sync takes back what
		 * it delivered, but a take-back may fail too: keep the marker,
		 * and let the next run look.
		 */
		if (rc == 0)
			st->is_outstanding = true;
		else
			st->is_unclean = true;
	}
	st->committed = 0;
	return rc;
}

static const struct sink_ops state_sink_ops = {
	.begin = state_sink_begin,
	.write = state_sink_write,
	.commit = state_sink_commit,
	.abort = state_sink_abort,
	.sync = state_sink_sync,
};

void
state_sink(struct state *st, const struct sink *inner, struct sink *out)
{
	st->inner = inner;
	out->ops = &state_sink_ops;
	out->ctx = st;
}
