#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "cli/ctx.h"
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

char *
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
const struct maildir_index *
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
	         is_shared)) == NULL)
		return false;
	err_clear(&err);
	if (fsutil_sync_parent(path, &err) == -1) {
		log_warnx("%s: %s", ctx->account, err.msg);
		return false;
	}
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
void
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
		.low_speed_limit = acct->low_speed_limit,
		.time_limit = acct->time_limit,
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

int
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

void
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

int
run_serverinfo(const struct conf_account *acct, const struct run_opts *opts,
    struct err *err)
{
	struct run_ctx ctx;
	char *text;
	int rc;

	memset(&ctx, 0, sizeof(ctx));
	run_fill(acct, opts, &ctx);
	/* What was seen is shown also when a step fails. */
	rc = fetch_serverinfo(&ctx.fa, &fetch_tcp, &text, err);
	printf("account %s\n%s", acct->name, text);
	(void)fflush(stdout);
	free(text);
	return rc;
}
