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

#include "cli/archive.h"
#include "cli/report.h"
#include "cli/rules.h"
#include "cli/run.h"
#include "cli/secret.h"
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

/*
 * The sink that fetch/ writes through: maildir/'s, and with archive =
 * yes or folder_by_date (see cli/archive.h) what archive mode learns of
 * each message on the way.
 */
struct run_sink {
	struct maildir_sink *ms;
	struct report_filed *filed; /* counts what is stored, or NULL */
	/* archive = yes, folder_by_date (see cli/archive.h); else NULL: */
	struct archive *ar;     /* the index, with archive = yes */
	const char *by_date;    /* folder_by_date */
	struct archive_msg *am; /* the message in hand */
	const char *account;
	const struct pop3_msg *msg;   /* the message in hand; borrowed */
	struct maildir_filing filing; /* where begin() said it goes */
	char *where;                  /* its folder, relative to root */
	unsigned duplicates;          /* not stored again */
	/*
	 * The round's new archive records, "digest\tmsgid" -> file: indexed
	 * once the round is durable, and already found by a second copy
	 * within the round.
	 */
	GHashTable *indexing;
};

/* Start the delivery of msg into the folder where names. */
static int
run_sink_start(struct run_sink *rs, const struct pop3_msg *msg,
    const struct maildir_filing *where, struct err *err)
{
	char *path;

	if (maildir_sink_begin(rs->ms, msg->has_uid ? msg->uid : NULL,
	        msg->size, where, err) == -1)
		return -1;
	if (rs->am != NULL) {
		free(rs->where);
		if (where->folder == NULL)
			rs->where = xstrdup("");
		else if (where->is_path &&
		    (path = str_expand_home(where->folder)) != NULL) {
			rs->where = xasprintf("%s/", path);
			free(path);
		} else
			rs->where = xasprintf("%s/", where->folder);
	}
	return 0;
}

/*
 * folder_by_date: the header is in (or the message ended inside it), so
 * the Date is known: start the delivery in its folder, with the rule's
 * flags, and with what was held back.
 */
static int
run_sink_release(struct run_sink *rs, struct err *err)
{
	struct maildir_filing where = rs->filing;
	char folder[ARCHIVE_FOLDER_SIZE];
	const char *held;
	size_t len;
	int rc;

	if (archive_date_folder(rs->by_date, archive_msg_date(rs->am),
	        (int64_t)time(NULL), folder, sizeof(folder), err) == -1)
		return -1;
	where.folder = folder;
	where.is_path = false;
	if (run_sink_start(rs, rs->msg, &where, err) == -1)
		return -1;
	held = archive_msg_held(rs->am, &len);
	rc = len > 0 ? maildir_sink_write(rs->ms, held, len, err) : 0;
	archive_msg_drop_held(rs->am);
	return rc;
}

static int
run_sink_begin(void *ctx, const struct pop3_msg *msg, const void *filing,
    struct err *err)
{
	struct run_sink *rs = ctx;
	const struct maildir_filing *where = filing;

	/* Copied: the folder_by_date delivery starts later. */
	rs->filing = where != NULL ? *where : (struct maildir_filing){ 0 };
	if (rs->am != NULL) {
		archive_msg_reset(rs->am);
		rs->msg = msg;
		/* A rule's folder wins; else the Date picks one. */
		if (rs->by_date != NULL && rs->filing.folder == NULL)
			return 0;
	}
	return run_sink_start(rs, msg, &rs->filing, err);
}

static int
run_sink_write(void *ctx, const char *data, size_t len, struct err *err)
{
	struct run_sink *rs = ctx;
	bool is_header_done;

	if (rs->am == NULL)
		return maildir_sink_write(rs->ms, data, len, err);
	is_header_done = archive_msg_feed(rs->am, data, len);
	if (maildir_sink_is_begun(rs->ms))
		return maildir_sink_write(rs->ms, data, len, err);
	/* Bounded: the header is complete at its limit at the latest. */
	archive_msg_hold(rs->am, data, len);
	return is_header_done ? run_sink_release(rs, err) : 0;
}

/*
 * archive = yes: a message already in the archive (or earlier in this
 * round) is not kept again; its stored name stands for it, so that its
 * new uid is recorded as delivered.  Any other is committed, and indexed
 * with the round.
 */
static int
run_sink_archive(struct run_sink *rs, char **name_out, struct err *err)
{
	char digest[ARCHIVE_HEX_SIZE], msgid[ARCHIVE_HEX_SIZE], *name, *key;
	const char *old, *id;

	id = archive_msg_finish(rs->am, digest, msgid) ? msgid : NULL;
	key = g_strdup_printf("%s\t%s", digest, id != NULL ? id : "-");
	if ((old = archive_lookup(rs->ar, digest, id)) != NULL ||
	    (old = g_hash_table_lookup(rs->indexing, key)) != NULL) {
		maildir_sink_abort(rs->ms);
		rs->duplicates++;
		log_info("%s: message %u: already archived as %s: not stored "
		         "again",
		    rs->account, rs->msg->num, old);
		*name_out = xstrdup(
		    strrchr(old, '/') != NULL ? strrchr(old, '/') + 1 : old);
		g_free(key);
		return 0;
	}
	if (maildir_sink_commit(rs->ms, &name, err) == -1) {
		g_free(key);
		return -1;
	}
	g_hash_table_insert(rs->indexing, key,
	    g_strdup_printf("%s%s/%s", rs->where,
	        strstr(name, ":2,") != NULL ? "cur" : "new", name));
	*name_out = name;
	return 0;
}

static int
run_sink_commit(void *ctx, char **name_out, struct err *err)
{
	struct run_sink *rs = ctx;

	*name_out = NULL;
	/* A message that ended inside its header. */
	if (rs->am != NULL && !maildir_sink_is_begun(rs->ms) &&
	    run_sink_release(rs, err) == -1) {
		maildir_sink_abort(rs->ms);
		return -1;
	}
	if (rs->ar != NULL)
		return run_sink_archive(rs, name_out, err);
	return maildir_sink_commit(rs->ms, name_out, err);
}

/*
 * archive = yes: the round's messages go into the index once they are
 * durable in the Maildir, and the index is made durable too, before any
 * of them is recorded as delivered.  A failure takes the round back.
 */
static int
run_sink_index(void *arg, struct err *err)
{
	char digest[ARCHIVE_HEX_SIZE * 2 + 2], *msgid;
	struct run_sink *rs = arg;
	GHashTableIter it;
	gpointer key, file;
	int rc = 0;

	if (rs->ar == NULL)
		return 0;
	g_hash_table_iter_init(&it, rs->indexing);
	while (rc == 0 && g_hash_table_iter_next(&it, &key, &file)) {
		/* The key is "digest\tmsgid" ("-" for none): split a copy. */
		(void)g_strlcpy(digest, key, sizeof(digest));
		msgid = strchr(digest, '\t');
		*msgid++ = '\0';
		rc = archive_append(rs->ar, digest,
		    strcmp(msgid, "-") != 0 ? msgid : NULL, file, err);
	}
	if (rc == 0 && g_hash_table_size(rs->indexing) > 0)
		rc = archive_sync(rs->ar, err);
	return rc;
}

/* A message of the round is durable in folder (NULL: the inbox). */
static void
run_sink_filed(void *arg, const char *folder)
{
	struct run_sink *rs = arg;

	if (rs->filed != NULL)
		report_filed_add(rs->filed, folder, 1);
}

static int
run_sink_sync(void *ctx, struct err *err)
{
	struct run_sink *rs = ctx;
	int rc;

	rc = maildir_sink_sync(rs->ms, err);
	g_hash_table_remove_all(rs->indexing);
	return rc;
}

static void
run_sink_abort(void *ctx)
{
	struct run_sink *rs = ctx;

	maildir_sink_abort(rs->ms);
}

static const struct sink_ops run_sink_ops = {
	.begin = run_sink_begin,
	.write = run_sink_write,
	.commit = run_sink_commit,
	.abort = run_sink_abort,
	.sync = run_sink_sync,
};

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

	if ((dir = state_dir()) == NULL) {
		err_setx(err, ERR_CONFIG,
		    "neither XDG_STATE_HOME nor HOME is set");
		return -1;
	}
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

/* The mechanism the config names, by the spelling both share. */
static enum pop3_auth
run_auth(enum conf_auth auth)
{
	enum pop3_auth mech;

	if (pop3_auth_from_name(conf_auth_name(auth), &mech) == -1)
		fatalx("auth %d has no POP3 mechanism", (int)auth);
	return mech;
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

/*
 * archive = yes: put the message file at path into the index ar, if the
 * index does not have it, as the file's path relative to the Maildir at
 * root (absolute when it is elsewhere).  Not durable until synced.
 * *added_out (may be NULL): whether it was added.
 */
static int
run_index_file(struct archive *ar, const char *root, const char *path,
    bool *added_out, struct err *err)
{
	char digest[ARCHIVE_HEX_SIZE], msgid[ARCHIVE_HEX_SIZE];
	size_t rootlen = strlen(root);
	const char *rel = path, *id;
	bool has_id;

	if (added_out != NULL)
		*added_out = false;
	while (rootlen > 1 && root[rootlen - 1] == '/')
		rootlen--;
	if (strncmp(path, root, rootlen) == 0 && path[rootlen] == '/')
		rel = path + rootlen + 1;
	if (archive_digest_file(path, digest, msgid, &has_id, err) == -1)
		return -1;
	id = has_id ? msgid : NULL;
	if (archive_lookup(ar, digest, id) != NULL)
		return 0;
	if (archive_append(ar, digest, id, rel, err) == -1)
		return -1;
	if (added_out != NULL)
		*added_out = true;
	return 0;
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
	int rc;

	if ((rc = rules_decide(ctx->rules, header, len, msg->size,
	         &ctx->pending, err)) != 0)
		return rc;
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
		.tls = run_tls(acct->tls),
		.ca_file = acct->ca_file,
		.tls_opts = { .fingerprint = acct->tls_fingerprint,
		    .min_version = acct->tls_min_version == CONF_TLS_MIN_1_3
		        ? TRANSPORT_TLS_MIN_1_3
		        : TRANSPORT_TLS_MIN_1_2,
		    .priority = acct->tls_priority,
		    .cert_file = acct->tls_cert_file,
		    .key_file = acct->tls_key_file },
		.user = acct->user,
		.password = ctx->password,
		.auth = run_auth(acct->auth),
		.allow_plaintext = acct->allow_plaintext,
		.refresh_secret =
		    acct->password_command != NULL ? run_refresh : NULL,
		.refresh_arg = acct,
		.timeout_ms = (int)acct->timeout * 1000,
		.policy = run_policy(acct->delete_mode),
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

	if (stats->expire == 0 && acct->delete_mode == CONF_DELETE_KEEP)
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

/*
 * archive = yes: the account's archive index, kept by its state; with
 * it or folder_by_date, what the sink learns of each message.
 */
static void
run_open_archive(const struct conf_account *acct, struct run_ctx *ctx,
    struct run_sink *rs)
{
	rs->account = acct->name;
	rs->by_date = acct->folder_by_date;
	rs->ar = state_archive(ctx->state);
	if (acct->archive || acct->folder_by_date != NULL)
		rs->am = archive_msg_new();
}

int
run_account(const struct conf_account *acct, const struct run_opts *opts,
    struct err *err)
{
	struct run_ctx ctx;
	struct run_sink rs = { 0 };
	struct sink inner = { .ops = &run_sink_ops, .ctx = &rs }, sink;
	struct maildir_sink_hooks hooks = { .filed = run_sink_filed,
		.durable = run_sink_index,
		.arg = &rs };
	struct fetch_stats stats = { 0 };
	int rc = -1;

	rs.indexing =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	if (run_open(acct, opts, &ctx, err) == 0) {
		run_open_archive(acct, &ctx, &rs);
		rs.ms = maildir_sink_new(ctx.md, acct->maildir, &hooks);
		rs.filed = opts->filed_out;
		/* What the sink stores keeps the marker until recorded. */
		state_sink(ctx.state, &inner, &sink);
		rc = fetch_account(&ctx.fa, &ctx.store, &sink, &stats, err);
		stats.duplicates = rs.duplicates;
		run_after_login(acct, &ctx, &stats);
		if (opts->stats_out != NULL)
			*opts->stats_out = stats;
	}
	maildir_sink_free(rs.ms);
	archive_msg_free(rs.am);
	free(rs.where);
	g_hash_table_destroy(rs.indexing);
	run_close(&ctx);
	return rc;
}

/* What --dry-run needs while it lists one account. */
struct run_preview {
	const struct conf_account *acct;
	struct run_ctx *ctx;
	struct uidl_store *st;
	int failed;
	struct err err;
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

static void
run_preview_one(void *arg, const struct pop3_msg *msg, const char *header,
    size_t len)
{
	struct run_preview *pv = arg;
	bool is_seen = msg->has_uid && uidl_has(pv->st, msg->uid, msg->size);
	bool deletes = pv->acct->delete_mode != CONF_DELETE_KEEP;
	char size[32], date[64], from[64], subject[96], action[384];
	char folder[ARCHIVE_FOLDER_SIZE];
	const char *where =
	    run_preview_where(pv, header, len, folder, sizeof(folder));
	struct rules_decision d;
	int rc;

	report_format_size(msg->size, size, sizeof(size));
	if (header == NULL) {
		(void)snprintf(date, sizeof(date), "?");
		(void)snprintf(from, sizeof(from), "?");
		(void)snprintf(subject, sizeof(subject), "(no TOP: unknown)");
	} else
		rules_describe(header, len, date, from, subject, 64);
	if (is_seen)
		(void)snprintf(action, sizeof(action), "already fetched%s",
		    deletes ? ", delete" : "");
	else if (pv->acct->delete_mode == CONF_DELETE_KEEP && !msg->has_uid)
		(void)snprintf(action, sizeof(action),
		    "left alone (no usable unique-id)");
	else if (rules_count(pv->ctx->rules) == 0)
		(void)snprintf(action, sizeof(action), "%s%s", where,
		    deletes ? ", then delete" : "");
	else if ((rc = rules_decide(pv->ctx->rules, header, len, msg->size, &d,
	              &pv->err)) == -1) {
		pv->failed = 1;
		return;
	} else if (rc == 1) {
		/* No TOP, and the size alone does not settle it. */
		(void)snprintf(action, sizeof(action),
		    "decided at download: needs the header");
	} else {
		/* No rule matched: the inbox, said once. */
		bool is_rule = strcmp(d.rule, "inbox") != 0;

		(void)snprintf(action, sizeof(action), "%s%s%s%s%s",
		    is_rule ? d.what : where, is_rule ? " (rule " : "",
		    is_rule ? d.rule : "", is_rule ? ")" : "",
		    deletes && d.verdict != FETCH_SKIP ? ", then delete" : "");
	}
	printf("%5u  %9s  %-4s  %s  %s  %s  => %s\n", msg->num, size,
	    is_seen ? "seen" : "new", date, from, subject, action);
}

int
run_dry_run(const struct conf_account *acct, const struct run_opts *opts,
    struct err *err)
{
	struct run_preview pv = { .acct = acct };
	struct run_ctx ctx;
	char *path;
	int rc = -1;

	memset(&ctx, 0, sizeof(ctx));
	pv.ctx = &ctx;
	err_clear(&pv.err);
	if ((path = state_file(acct->name, "uidl", err)) == NULL)
		return -1;
	/* Read only: no lock, no mark, no state or Maildir made. */
	if ((ctx.rules = rules_build(opts->conf, acct, err)) == NULL ||
	    (pv.st = uidl_open_readonly(path, err)) == NULL ||
	    (ctx.password = run_password(acct, err)) == NULL)
		goto out;
	run_fill(acct, opts, &ctx);
	printf("account %s (dry run: nothing is changed)\n", acct->name);
	printf("order on the wire: %s\n",
	    plan_policy_order(run_policy(acct->delete_mode)));
	if (fetch_preview(&ctx.fa, run_preview_one, &pv, err) == -1)
		goto out;
	(void)fflush(stdout);
	if (pv.failed) {
		*err = pv.err;
		goto out;
	}
	rc = 0;
out:
	uidl_free(pv.st);
	free(path);
	rules_free(ctx.rules);
	xfree_secret(ctx.password);
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
	due = first_seen + (int64_t)rs->acct->keep_days * 24 * 60 * 60;
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
	struct uidl_store *st = NULL;
	char *path, size[32], when[32];

	(void)opts;
	if ((path = state_file(acct->name, "uidl", err)) == NULL)
		return -1;
	/* Read only: no lock, nothing made or changed. */
	if ((st = uidl_open_readonly(path, err)) == NULL) {
		free(path);
		return -1;
	}
	uidl_foreach(st, run_status_each, &rs);
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
	uidl_free(st);
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
	if (fetch_serverinfo(&ctx.fa, &text, err) == -1)
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
	    fetch_listing(&ctx.fa, &msgs, &n, &has_uidl, err) == -1)
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
