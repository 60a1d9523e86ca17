#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "filter/archive.h"
#include "cli/report.h"
#include "cli/rules.h"
#include "cli/run.h"
#include "cli/secret.h"
#include "cli/sink.h"
#include "fetch/fetch.h"
#include "maildir/maildir.h"
#include "maildir/sink.h"
#include "maildir/tag.h"
#include "state/archive.h"
#include "state/state.h"
#include "state/uidl.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xmalloc.h"

/* What a run of one account holds, in the order it is taken. */
struct run_ctx {
	struct state *state;
	struct store store; /* the state, as fetch/ reads and records it */
	struct maildir_index *index; /* tagged files, once looked for */
	const char *maildir;
	const char *account;
	struct rules *rules;
	struct rules_decision pending; /* the last decision taken */
	struct maildir_filing filing;  /* and where it files, for the sink */
	char *password;
	struct maildir *md;
	char port[16];
	struct fetch_account fa;
};

/* Lock the account, mark the run, load the state. */
static int
run_open_state(const struct conf_account *acct, struct run_ctx *ctx,
    struct err *err)
{
	char *dir, *path;

	if ((dir = state_dir(err)) == NULL)
		return -1;
	ctx->state = state_open(dir, acct->name, acct->archive, err);
	free(dir);
	if (ctx->state == NULL)
		return -1;
	state_store(ctx->state, &ctx->store);
	if (uidl_malformed(state_uidl(ctx->state)) > 0) {
		path = state_path(ctx->state, "uidl");
		log_warnx("%s: %s: %zu damaged lines ignored", acct->name, path,
		    uidl_malformed(state_uidl(ctx->state)));
		free(path);
	}
	if (state_archive(ctx->state) != NULL &&
	    archive_malformed(state_archive(ctx->state)) > 0) {
		path = state_path(ctx->state, "archive");
		log_warnx("%s: %s: %zu damaged lines ignored", acct->name, path,
		    archive_malformed(state_archive(ctx->state)));
		free(path);
	}
	return 0;
}

/* A fresh OAuth token: password_command again. */
static char *
run_refresh(const void *arg, struct err *err)
{
	const struct conf_account *acct = arg;

	return secret_from_command(acct->password_command,
	    (int)acct->timeout * 1000, err);
}

/* Neither password nor password_command: ~/.netrc, as ftp(1) reads it. */
static char *
run_netrc(const struct conf_account *acct, struct err *err)
{
	const char *home = getenv("HOME");
	char *path, *secret;

	if (home == NULL || home[0] == '\0') {
		err_setx(err, ERR_CONFIG,
		    "no password, password_command or ~/.netrc entry");
		return NULL;
	}
	path = xasprintf("%s/.netrc", home);
	secret = secret_from_netrc(path, acct->host, acct->user, err);
	if (secret == NULL && err->cls == ERR_NONE)
		err_setx(err, ERR_CONFIG,
		    "no password, password_command, or entry for %s in %s",
		    acct->host, path);
	free(path);
	return secret;
}

static char *
run_password(const struct conf_account *acct, struct err *err)
{
	if (acct->password != NULL)
		return xstrdup(acct->password);
	if (acct->password_command != NULL)
		return secret_from_command(acct->password_command,
		    (int)acct->timeout * 1000, err);
	return run_netrc(acct, err);
}

/* A Maildir a rule files into by path: its files count as the account's. */
static void
run_index_path(void *arg, const char *folder)
{
	char *path;

	if ((path = str_expand_home(folder)) == NULL)
		return;
	maildir_index_add(arg, path);
	free(path);
}

/*
 * The tagged files of the account's Maildir and of the Maildirs its rules
 * file into by path, walked once when first asked.
 */
static const struct maildir_index *
run_index(struct run_ctx *ctx)
{
	if (ctx->index == NULL) {
		ctx->index = maildir_index_new();
		maildir_index_add(ctx->index, ctx->maildir);
		if (ctx->rules != NULL)
			rules_each_path(ctx->rules, run_index_path, ctx->index);
	}
	return ctx->index;
}

/*
 * delete_when_gone_locally: msg was stored; is it still in the account's
 * Maildir (new/ or cur/, any flags, any Maildir++ subfolder), by the tag
 * in its file name?  Moving it between folders keeps it there.
 */
static bool
run_is_gone(void *arg, const struct pop3_msg *msg)
{
	return !maildir_index_has(run_index(arg), msg->uid);
}

/* fsync the directory holding path. */
static int
run_sync_parent(const char *path)
{
	char *dir = g_path_get_dirname(path);
	int fd, rc = -1;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		rc = fsync(fd);
		(void)close(fd);
	}
	g_free(dir);
	return rc;
}

/*
 * After a killed run: is msg in the Maildir all the same, by the tag in
 * its file name and its size?  Its link may not be durable yet (the run
 * may have died before syncing the directory), so make it so before
 * saying yes.
 */
static bool
run_recover(void *arg, const struct pop3_msg *msg, bool is_shared,
    char **file_out)
{
	struct run_ctx *ctx = arg;
	const char *path;
	struct err err;

	if ((path = maildir_index_find(run_index(ctx), msg->uid, msg->size,
	         is_shared)) == NULL ||
	    run_sync_parent(path) == -1)
		return false;
	/*
	 * archive = yes: the run may have died before the message was
	 * indexed.  Indexed now, before it is recorded (the store's sync
	 * makes the index durable first), or a copy under a new unique-id
	 * would be stored again.
	 */
	err_clear(&err);
	if (state_archive(ctx->state) != NULL &&
	    run_index_file(state_archive(ctx->state), ctx->maildir, path, NULL,
	        &err) == -1) {
		log_warnx("%s: %s", ctx->account, err.msg);
		return false;
	}
	*file_out = xstrdup(strrchr(path, '/') + 1);
	return true;
}

/*
 * The account's rules on one message; the sink files it where they say,
 * told by fetch/ in its begin().
 */
static int
run_decide(void *arg, const struct pop3_msg *msg, const char *header,
    size_t len, enum fetch_verdict *out, const void **filing_out,
    struct err *err)
{
	struct run_ctx *ctx = arg;

	if (rules_decide(ctx->rules, header, len, msg->size, &ctx->pending,
	        err) == -1)
		return -1;
	ctx->filing = (struct maildir_filing){ .folder = ctx->pending.folder,
		.is_path = ctx->pending.is_path,
		.is_seen = ctx->pending.is_seen,
		.is_flagged = ctx->pending.is_flagged };
	*filing_out = &ctx->filing;
	log_debug("%s: message %u: rule %s: %s", ctx->account, msg->num,
	    ctx->pending.rule, ctx->pending.what);
	*out = ctx->pending.verdict;
	return 0;
}

/* The fetch module's view of the account; the password comes later. */
static void
run_fill(const struct conf_account *acct, const struct run_opts *opts,
    struct run_ctx *ctx)
{
	(void)snprintf(ctx->port, sizeof(ctx->port), "%u", acct->port);
	ctx->fa = (struct fetch_account){ .name = acct->name,
		.host = acct->host,
		.port = ctx->port,
		.tls = acct->tls,
		.ca_file = acct->ca_file,
		.tls_opts = { .fingerprint = acct->tls_fingerprint,
		    .min_version = acct->tls_min_version,
		    .priority = acct->tls_priority,
		    .cert_file = acct->tls_cert_file,
		    .key_file = acct->tls_key_file },
		.user = acct->user,
		.password = ctx->password,
		.auth = acct->auth,
		.allow_plaintext = acct->allow_plaintext,
		.refresh_secret =
		    acct->password_command != NULL ? run_refresh : NULL,
		.refresh_arg = acct,
		.timeout_ms = (int)acct->timeout * 1000,
		.policy = acct->delete_mode,
		.checkpoint = acct->checkpoint,
		.has_keep_days = acct->has_keep_days,
		.keep_days = acct->keep_days,
		.is_gone = acct->delete_when_gone ? run_is_gone : NULL,
		.gone_arg = ctx,
		.gone_limit = acct->gone_limit,
		.has_msgid_fallback =
		    acct->uidl_fallback == CONF_FALLBACK_MESSAGE_ID,
		.stop = opts->stop,
		.recover =
		    ctx->state != NULL && state_was_interrupted(ctx->state)
		    ? run_recover
		    : NULL,
		.recover_arg = ctx,
		.decide = ctx->rules != NULL && rules_count(ctx->rules) > 0
		    ? run_decide
		    : NULL,
		.decide_arg = ctx,
		.progress = opts->progress,
		.progress_arg = opts->progress_arg };
}

static int
run_open(const struct conf_account *acct, const struct run_opts *opts,
    struct run_ctx *ctx, struct err *err)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->maildir = acct->maildir;
	ctx->account = acct->name;
	if ((ctx->rules = rules_build(opts->conf, acct, err)) == NULL ||
	    run_open_state(acct, ctx, err) == -1 ||
	    (ctx->password = run_password(acct, err)) == NULL ||
	    (ctx->md = maildir_open(acct->maildir, err)) == NULL)
		return -1;
	run_fill(acct, opts, ctx);
	return 0;
}

static void
run_close(struct run_ctx *ctx)
{
	maildir_close(ctx->md);
	/* The marker goes only if whatever was stored is recorded. */
	state_close(ctx->state);
	maildir_index_free(ctx->index);
	rules_free(ctx->rules);
	xfree_secret(ctx->password);
}

/*
 * RFC 2449 §6.5: a server announcing LOGIN-DELAY refuses logins that
 * come sooner.  Remember when the next one may come, so that an early
 * run (cron every minute) waits instead of being refused.
 */
static void
run_after_login(const struct conf_account *acct, struct run_ctx *ctx,
    const struct fetch_stats *stats)
{
	struct err err;

	if (stats->expire == 0 && acct->delete_mode == PLAN_KEEP)
		log_warnx("%s: the server deletes every message once it is "
		          "retrieved (EXPIRE 0): delete = keep cannot keep "
		          "them",
		    acct->name);
	if (stats->is_recovered)
		state_recovered(ctx->state);
	if (stats->login_delay <= 0)
		return;
	err_clear(&err);
	if (state_set_login_delay(ctx->state, stats->login_delay, &err) == -1)
		log_warnx("%s: %s", acct->name, err.msg);
}

int
run_account(const struct conf_account *acct, const struct run_opts *opts,
    struct err *err)
{
	struct run_ctx ctx;
	struct run_sink *rs = NULL;
	struct sink inner, sink;
	struct fetch_stats stats = { 0 };
	int rc = -1;

	if (run_open(acct, opts, &ctx, err) == 0) {
		rs = run_sink_new(acct, ctx.md, state_archive(ctx.state),
		    opts->filed_out);
		run_sink_get(rs, &inner);
		/* What the sink stores keeps the marker until recorded. */
		state_sink(ctx.state, &inner, &sink);
		rc = fetch_account(&ctx.fa, &fetch_tcp, &ctx.store, &sink,
		    &stats, err);
		stats.duplicates = run_sink_duplicates(rs);
		run_after_login(acct, &ctx, &stats);
		if (opts->stats_out != NULL)
			*opts->stats_out = stats;
	}
	run_sink_free(rs);
	run_close(&ctx);
	return rc;
}

/* What --dry-run needs while it lists one account. */
struct run_preview {
	const struct conf_account *acct;
	struct run_ctx *ctx;
};

/*
 * Where a message no rule files goes: the inbox, or with folder_by_date
 * the folder of its Date (into buf).
 */
static const char *
run_preview_where(const struct run_preview *pv, const char *header, size_t len,
    char *buf, size_t size)
{
	struct archive_msg *am;
	struct err err;
	int rc;

	if (pv->acct->folder_by_date == NULL)
		return "inbox";
	am = archive_msg_new();
	if (header != NULL)
		(void)archive_msg_feed(am, header, len);
	rc = archive_date_folder(pv->acct->folder_by_date,
	    header != NULL ? archive_msg_date(am) : NULL, (int64_t)time(NULL),
	    buf, size, &err);
	archive_msg_free(am);
	return rc == 0 ? buf : "inbox";
}

/* What the plan does with a message delivered before. */
static void
run_preview_seen(const struct run_preview *pv, const struct fetch_plan_msg *pm,
    char *action, size_t size)
{
	if (pm->is_dele && pm->is_gone)
		(void)snprintf(action, size,
		    "already fetched, delete (gone from the Maildir)");
	else if (pm->is_dele && pm->is_expired)
		(void)snprintf(action, size,
		    "already fetched, delete (keep_days = %u passed)",
		    pv->acct->keep_days);
	else if (pm->is_dele)
		(void)snprintf(action, size, "already fetched, delete");
	else if (pm->is_twin &&
	    (pv->acct->has_keep_days || pv->acct->delete_when_gone))
		(void)snprintf(action, size,
		    "already fetched, kept (another message has its "
		    "unique-id and size)");
	else
		(void)snprintf(action, size, "already fetched");
}

/* What the plan does with msg, and what the rules said of it. */
static void
run_preview_action(const struct run_preview *pv,
    const struct fetch_plan_msg *pm, char *action, size_t size)
{
	const struct rules_decision *d = &pv->ctx->pending;
	char folder[ARCHIVE_FOLDER_SIZE];
	const char *where =
	    run_preview_where(pv, pm->header, pm->len, folder, sizeof(folder));
	const char *then = pm->is_dele ? ", then delete" : "";
	bool is_rule;

	if (pm->is_seen)
		run_preview_seen(pv, pm, action, size);
	else if (!pm->is_retr && !pm->is_decided)
		(void)snprintf(action, size,
		    "left alone (no usable unique-id)");
	else if (!pm->is_decided)
		(void)snprintf(action, size, "%s%s", where, then);
	else {
		/* No rule matched: the inbox, said once. */
		is_rule = strcmp(d->rule, "inbox") != 0;
		(void)snprintf(action, size, "%s%s%s%s%s",
		    is_rule ? d->what : where, is_rule ? " (rule " : "",
		    is_rule ? d->rule : "", is_rule ? ")" : "", then);
	}
}

/* One message of the plan fetch/ would run, as --dry-run lists it. */
static void
run_preview_one(void *arg, const struct fetch_plan_msg *pm)
{
	struct run_preview *pv = arg;
	char size[32], date[64], from[64], subject[96], action[384];

	report_format_size(pm->msg->size, size, sizeof(size));
	if (pm->header == NULL) {
		(void)snprintf(date, sizeof(date), "?");
		(void)snprintf(from, sizeof(from), "?");
		(void)snprintf(subject, sizeof(subject), "(no TOP: unknown)");
	} else
		rules_describe(pm->header, pm->len, date, from, subject, 64);
	run_preview_action(pv, pm, action, sizeof(action));
	printf("%5u  %9s  %-4s  %s  %s  %s  => %s\n", pm->msg->num, size,
	    pm->is_seen ? "seen" : "new", date, from, subject, action);
}

int
run_dry_run(const struct conf_account *acct, const struct run_opts *opts,
    struct err *err)
{
	struct run_preview pv = { .acct = acct };
	struct run_ctx ctx;
	char *wire = NULL;
	int rc = -1;

	memset(&ctx, 0, sizeof(ctx));
	ctx.maildir = acct->maildir;
	ctx.account = acct->name;
	pv.ctx = &ctx;
	/* Read only: no lock, no mark, no state or Maildir made. */
	if ((ctx.rules = rules_build(opts->conf, acct, err)) == NULL ||
	    (ctx.state = state_peek(acct->name, err)) == NULL ||
	    (ctx.password = run_password(acct, err)) == NULL)
		goto out;
	state_store(ctx.state, &ctx.store);
	run_fill(acct, opts, &ctx);
	printf("account %s (dry run: nothing is changed)\n", acct->name);
	rc = fetch_preview(&ctx.fa, &fetch_tcp, &ctx.store, run_preview_one,
	    &pv, &wire, err);
	if (wire != NULL && acct->checkpoint != 0 &&
	    acct->delete_mode != PLAN_KEEP)
		printf("order on the wire: %s (%s; checkpoint = %u: QUIT and "
		       "log in again after every %u DELEs)\n",
		    wire, plan_policy_order(acct->delete_mode),
		    acct->checkpoint, acct->checkpoint);
	else if (wire != NULL)
		printf("order on the wire: %s (%s)\n", wire,
		    plan_policy_order(acct->delete_mode));
	(void)fflush(stdout);
out:
	free(wire);
	run_close(&ctx);
	return rc;
}

/* What --status adds up from the state. */
struct run_status {
	const struct conf_account *acct;
	size_t tracked, stored;
	size_t due;       /* keep_days: due for deletion now */
	int64_t next_due; /* the soonest one not due yet, or -1 */
	int64_t last;     /* the last delivery */
	int64_t now;
};

static void
run_status_each(void *arg, const char *uid, uint64_t size, int64_t first_seen,
    int64_t delivered, const char *file)
{
	struct run_status *rs = arg;
	int64_t due;

	(void)uid;
	(void)size;
	rs->tracked++;
	if (file != NULL)
		rs->stored++;
	if (delivered > rs->last)
		rs->last = delivered;
	if (!rs->acct->has_keep_days)
		return;
	due = plan_keep_until(first_seen, rs->acct->keep_days);
	if (due <= rs->now)
		rs->due++;
	else if (rs->next_due < 0 || due < rs->next_due)
		rs->next_due = due;
}

/* What --status counts of the Maildir. */
struct run_du {
	size_t files;
	uint64_t bytes;
};

static void
run_du_one(void *arg, const char *dir, const char *name)
{
	struct run_du *du = arg;
	char *file = g_build_filename(dir, name, NULL);
	GStatBuf st;

	if (g_stat(file, &st) == 0 && S_ISREG(st.st_mode)) {
		du->files++;
		du->bytes += (uint64_t)st.st_size;
	}
	g_free(file);
}

static void
run_status_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || localtime_r(&tt, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%d %H:%M", &tm) == 0)
		(void)snprintf(buf, len, "never");
}

int
run_status(const struct conf_account *acct, const struct run_opts *opts,
    struct err *err)
{
	struct run_status rs = { .acct = acct,
		.next_due = -1,
		.now = (int64_t)time(NULL) };
	struct run_du du = { 0 };
	struct state *st;
	char *path, size[32], when[32];

	(void)opts;
	/* Read only: no lock, nothing made or changed. */
	if ((st = state_peek(acct->name, err)) == NULL)
		return -1;
	path = state_path(st, "uidl");
	uidl_foreach(state_uidl(st), run_status_each, &rs);
	maildir_each_file(acct->maildir, run_du_one, &du);
	report_format_size(du.bytes, size, sizeof(size));
	run_status_time(rs.last, when, sizeof(when));
	printf("account %s\n  state: %s\n", acct->name, path);
	printf("  on the server at the last run: %zu message%s known, %zu "
	       "stored, %zu not (discarded by a rule or imported)\n",
	    rs.tracked, rs.tracked == 1 ? "" : "s", rs.stored,
	    rs.tracked - rs.stored);
	printf("  last delivery: %s\n", when);
	if (acct->has_keep_days) {
		run_status_time(rs.next_due, when, sizeof(when));
		printf("  keep_days = %u: %zu due for deletion now, the next "
		       "at %s\n",
		    acct->keep_days, rs.due, when);
	}
	printf("  Maildir %s: %zu files, %s\n", acct->maildir, du.files, size);
	(void)fflush(stdout);
	state_close(st);
	free(path);
	return 0;
}

int
run_serverinfo(const struct conf_account *acct, const struct run_opts *opts,
    struct err *err)
{
	struct run_ctx ctx;
	char *text;

	memset(&ctx, 0, sizeof(ctx));
	run_fill(acct, opts, &ctx);
	if (fetch_serverinfo(&ctx.fa, &fetch_tcp, &text, err) == -1)
		return -1;
	printf("account %s\n%s", acct->name, text);
	(void)fflush(stdout);
	free(text);
	return 0;
}

/* Record every message on the server that the Maildir holds. */
static int
run_record_found(struct run_ctx *ctx, const struct maildir_index *idx,
    const struct pop3_msg *msgs, size_t n, size_t *found_out, struct err *err)
{
	const char *file;
	size_t i;

	*found_out = 0;
	for (i = 0; i < n; i++) {
		if (!msgs[i].has_uid ||
		    (file = maildir_index_find(idx, msgs[i].uid, msgs[i].size,
		         false)) == NULL)
			continue;
		file = strrchr(file, '/') + 1;
		(*found_out)++;
		if (uidl_has(state_uidl(ctx->state), msgs[i].uid, msgs[i].size))
			continue;
		if (uidl_append(state_uidl(ctx->state), msgs[i].uid,
		        msgs[i].size, file, (int64_t)time(NULL), err) == -1)
			return -1;
	}
	return uidl_sync(state_uidl(ctx->state), err);
}

/* What the archive index's rebuild carries through the Maildir walk. */
struct run_reindex {
	struct archive *ar;
	const char *root;
	size_t files, added;
	struct err err; /* the first failure */
};

static void
run_reindex_one(void *arg, const char *dir, const char *name)
{
	struct run_reindex *ri = arg;
	bool is_added;
	char *path;

	if (ri->err.cls != ERR_NONE || name[0] == '.')
		return;
	path = g_build_filename(dir, name, NULL);
	if (run_index_file(ri->ar, ri->root, path, &is_added, &ri->err) == 0) {
		ri->files++;
		if (is_added)
			ri->added++;
	}
	g_free(path);
}

/*
 * archive = yes: index every message of the Maildir (and of its
 * Maildir++ folders) that the index does not know, as if just stored.
 */
static int
run_rebuild_archive(const struct conf_account *acct,
    const struct run_opts *opts, struct run_ctx *ctx, struct err *err)
{
	struct run_reindex ri = { .root = acct->maildir,
		.ar = state_archive(ctx->state) };
	char *path;

	err_clear(&ri.err);
	maildir_each_file(acct->maildir, run_reindex_one, &ri);
	if (ri.err.cls != ERR_NONE) {
		*err = ri.err;
		return -1;
	}
	if (archive_sync(ri.ar, err) == -1)
		return -1;
	if (!opts->is_quiet) {
		path = state_path(ctx->state, "archive");
		printf("%s: %zu message file%s in %s, %zu of them added to the "
		       "archive index %s\n",
		    acct->name, ri.files, ri.files == 1 ? "" : "s",
		    acct->maildir, ri.added, path);
		free(path);
	}
	return 0;
}

int
run_rebuild(const struct conf_account *acct, const struct run_opts *opts,
    struct err *err)
{
	struct pop3_msg *msgs = NULL;
	struct run_ctx ctx;
	size_t n = 0, found = 0;
	bool has_uidl;
	int rc = -1;

	if (run_open(acct, opts, &ctx, err) == -1 ||
	    fetch_listing(&ctx.fa, &fetch_tcp, &msgs, &n, &has_uidl, err) == -1)
		goto out;
	if (!has_uidl) {
		err_setx(err, ERR_PROTO,
		    "server has no UIDL: there is no state to rebuild");
		goto out;
	}
	if (run_record_found(&ctx, run_index(&ctx), msgs, n, &found, err) == -1)
		goto out;
	if (!opts->is_quiet)
		printf("%s: %zu message%s on the server, %zu of them found in "
		       "%s and recorded\n",
		    acct->name, n, n == 1 ? "" : "s", found, acct->maildir);
	if (acct->archive && run_rebuild_archive(acct, opts, &ctx, err) == -1)
		goto out;
	/* Every message of the Maildir is recorded: as good as a recovery. */
	state_recovered(ctx.state);
	rc = 0;
out:
	free(msgs);
	run_close(&ctx);
	return rc;
}
