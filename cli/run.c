#include "config.h"

#include <sys/file.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/run.h"
#include "cli/secret.h"
#include "fetch/fetch.h"
#include "maildir/maildir.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/xmalloc.h"

/* The sink that fetch/ writes through, wired to a Maildir. */
struct run_sink {
	struct maildir *md;
	struct maildir_delivery *d;
};

static int
run_sink_begin(void *ctx, const struct pop3_msg *msg, struct err *err)
{
	struct run_sink *rs = ctx;

	(void)msg;
	rs->d = maildir_begin(rs->md, err);
	return rs->d == NULL ? -1 : 0;
}

static int
run_sink_write(void *ctx, const char *data, size_t len, struct err *err)
{
	struct run_sink *rs = ctx;

	return maildir_write(rs->d, data, len, err);
}

static int
run_sink_commit(void *ctx, char **name_out, struct err *err)
{
	struct run_sink *rs = ctx;
	struct maildir_delivery *d = rs->d;

	rs->d = NULL;
	return maildir_commit(d, name_out, err);
}

static void
run_sink_abort(void *ctx)
{
	struct run_sink *rs = ctx;

	if (rs->d != NULL)
		maildir_abort(rs->d);
	rs->d = NULL;
}

static const struct sink_ops run_sink_ops = {
	.begin = run_sink_begin,
	.write = run_sink_write,
	.commit = run_sink_commit,
	.abort = run_sink_abort,
};

char *
run_state_dir(void)
{
	const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");

	if (xdg != NULL && xdg[0] == '/')
		return xasprintf("%s/popfetch", xdg);
	if (home != NULL && home[0] != '\0')
		return xasprintf("%s/.local/state/popfetch", home);
	return NULL;
}

/*
 * The path of one of the account's state files; the name is made safe
 * as a file name.
 */
static char *
run_state_path(const char *dir, const char *account, const char *ext)
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

/*
 * Take the account's lock, so that an overlapping run (cron, a timer and
 * a person at once) cannot fetch the same messages twice.  The lock is
 * flock(2)ed, so a crash releases it; the file may stay.
 */
static int
run_lock(const char *dir, const char *account, struct err *err)
{
	char *path;
	int fd;

	path = run_state_path(dir, account, "lock");
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1)
		err_set(err, ERR_LOCAL, "%s", path);
	else if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK)
			err_setx(err, ERR_TEMP,
			    "another popfetch is fetching this account (%s)",
			    path);
		else
			err_set(err, ERR_LOCAL, "lock %s", path);
		(void)close(fd);
		fd = -1;
	}
	free(path);
	return fd;
}

static struct uidl_store *
run_open_state(const char *account, int *lock_out, struct err *err)
{
	struct uidl_store *st = NULL;
	char *dir, *path;

	if ((dir = run_state_dir()) == NULL) {
		err_setx(err, ERR_CONFIG,
		    "neither XDG_STATE_HOME nor HOME is set");
		return NULL;
	}
	path = run_state_path(dir, account, "uidl");
	if (fsutil_mkdirs(dir, 0700, err) == 0 &&
	    (*lock_out = run_lock(dir, account, err)) != -1)
		st = uidl_open(path, err);
	if (st != NULL && uidl_malformed(st) > 0)
		log_warnx("%s: %s: %zu damaged lines ignored", account, path,
		    uidl_malformed(st));
	free(path);
	free(dir);
	return st;
}

static void
run_format_size(uint64_t n, char *buf, size_t len)
{
	if (n < 1024)
		(void)snprintf(buf, len, "%llu B", (unsigned long long)n);
	else if (n < 1024 * 1024)
		(void)snprintf(buf, len, "%llu KiB",
		    (unsigned long long)((n + 512) / 1024));
	else if (n < 1024ULL * 1024 * 1024)
		(void)snprintf(buf, len, "%.1f MiB", (double)n / 1048576.0);
	else
		(void)snprintf(buf, len, "%.1f GiB", (double)n / 1073741824.0);
}

static void
run_summary(const char *name, const struct fetch_stats *stats)
{
	char size[32];

	run_format_size(stats->bytes, size, sizeof(size));
	printf("%s: %u message%s, %u new, %s retrieved, %u deleted on the "
	       "server\n",
	    name, stats->on_server, stats->on_server == 1 ? "" : "s",
	    stats->new_msgs, size, stats->deleted);
	(void)fflush(stdout);
}

static enum fetch_tls
run_tls(enum conf_tls tls)
{
	switch (tls) {
	case CONF_TLS_ON:
		return FETCH_TLS_ON;
	case CONF_TLS_STARTTLS:
		return FETCH_TLS_STARTTLS;
	case CONF_TLS_OFF:
		return FETCH_TLS_OFF;
	}
	return FETCH_TLS_ON;
}

static enum plan_policy
run_policy(enum conf_delete mode)
{
	switch (mode) {
	case CONF_DELETE_KEEP:
		return PLAN_KEEP;
	case CONF_DELETE_EACH:
		return PLAN_EACH;
	case CONF_DELETE_BATCH:
		return PLAN_BATCH;
	}
	return PLAN_KEEP;
}

static char *
run_password(const struct conf_account *acct, struct err *err)
{
	if (acct->password != NULL)
		return xstrdup(acct->password);
	if (acct->password_command != NULL)
		return secret_from_command(acct->password_command, err);
	err_setx(err, ERR_CONFIG, "no password or password_command");
	return NULL;
}

int
run_account(const struct conf_account *acct, const struct run_opts *opts,
    struct err *err)
{
	struct run_sink rs = { 0 };
	struct sink sink = { .ops = &run_sink_ops, .ctx = &rs };
	struct fetch_stats stats = { 0 };
	struct uidl_store *st = NULL;
	struct fetch_account fa;
	char port[16], *password = NULL;
	int lock = -1, rc = -1;

	if ((st = run_open_state(acct->name, &lock, err)) == NULL)
		goto out;
	if ((password = run_password(acct, err)) == NULL)
		goto out;
	if ((rs.md = maildir_open(acct->maildir, err)) == NULL)
		goto out;
	(void)snprintf(port, sizeof(port), "%u", acct->port);
	fa = (struct fetch_account){ .name = acct->name,
		.host = acct->host,
		.port = port,
		.tls = run_tls(acct->tls),
		.ca_file = acct->ca_file,
		.user = acct->user,
		.password = password,
		.timeout_ms = (int)acct->timeout * 1000,
		.policy = run_policy(acct->delete_mode),
		.checkpoint = acct->checkpoint,
		.stop = opts->stop };
	rc = fetch_account(&fa, st, &sink, &stats, err);
	if ((rc == 0 || stats.retrieved > 0) && !opts->is_quiet)
		run_summary(acct->name, &stats);
out:
	maildir_close(rs.md);
	uidl_free(st);
	if (lock != -1)
		(void)close(lock);
	xfree_secret(password);
	return rc;
}
