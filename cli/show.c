#include "config.h"

#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "cli/ctx.h"
#include "cli/report.h"
#include "cli/rules.h"
#include "cli/run.h"
#include "cli/sink.h"
#include "fetch/fetch.h"
#include "filter/archive.h"
#include "maildir/maildir.h"
#include "maildir/tag.h"
#include "state/archive.h"
#include "state/state.h"
#include "state/uidl.h"
#include "util/fsutil.h"
#include "util/xmalloc.h"

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

/*
 * --dry-run after a killed run: is msg in the Maildir all the same, as
 * the run would find it?  Only looked for: nothing synced or indexed.
 */
static bool
run_preview_recover(void *arg, const struct pop3_msg *msg, bool is_shared,
    char **file_out)
{
	const char *path;

	if ((path = maildir_index_find(run_index(arg), msg->uid, msg->size,
	         is_shared)) == NULL)
		return false;
	*file_out = xstrdup(strrchr(path, '/') + 1);
	return true;
}

/* What the plan does with a message delivered before. */
static void
run_preview_seen(const struct run_preview *pv, const struct fetch_plan_msg *pm,
    char *action, size_t size)
{
	if (pm->is_recovered)
		(void)snprintf(action, size,
		    "stored by an interrupted run: recorded, not fetched%s",
		    pm->is_dele ? ", delete" : "");
	else if (pm->is_dele && pm->is_gone)
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
	else if (!pm->is_retr && !pm->msg->has_uid)
		(void)snprintf(action, size,
		    "left alone (no usable unique-id)");
	else if (!pm->is_decided && pm->header == NULL &&
	    rules_count(pv->ctx->rules) > 0)
		/* No TOP, and the size alone does not settle it. */
		(void)snprintf(action, size,
		    "decided at download: needs the header");
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
	ctx.fa.recover =
	    state_was_interrupted(ctx.state) ? run_preview_recover : NULL;
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
	if (plan_is_due(first_seen, rs->acct->keep_days, rs->now))
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

/* Record every message on the server that the Maildir holds. */
static int
run_record_found(struct run_ctx *ctx, const struct maildir_index *idx,
    const struct pop3_msg *msgs, size_t n, size_t *found_out, struct err *err)
{
	GHashTable *synced;
	const char *path;
	char *dir;
	size_t i;
	int rc = -1;

	*found_out = 0;
	/* Directories made durable, once each. */
	synced = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	for (i = 0; i < n; i++) {
		if (!msgs[i].has_uid ||
		    (path = maildir_index_find(idx, msgs[i].uid, msgs[i].size,
		         false)) == NULL)
			continue;
		(*found_out)++;
		if (uidl_has(state_uidl(ctx->state), msgs[i].uid, msgs[i].size))
			continue;
		/*
		 * As recovery does: its link may not be durable yet (a run
		 * killed before syncing new/), and once recorded, a message
		 * may be deleted on the server.
		 */
		dir = g_path_get_dirname(path);
		if (!g_hash_table_contains(synced, dir) &&
		    fsutil_sync_parent(path, err) == -1) {
			g_free(dir);
			goto out;
		}
		g_hash_table_add(synced, dir);
		if (uidl_append(state_uidl(ctx->state), msgs[i].uid,
		        msgs[i].size, strrchr(path, '/') + 1,
		        (int64_t)time(NULL), err) == -1)
			goto out;
	}
	rc = uidl_sync(state_uidl(ctx->state), err);
out:
	g_hash_table_destroy(synced);
	return rc;
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
