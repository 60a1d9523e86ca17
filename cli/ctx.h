#ifndef POPFETCH_CLI_CTX_H
#define POPFETCH_CLI_CTX_H

#include "cli/rules.h"
#include "cli/run.h"
#include "config/conf.h"
#include "fetch/fetch.h"
#include "maildir/sink.h"
#include "util/err.h"

/*
 * Inside cli/: one account's wiring, shared by the fetch (cli/run.c) and
 * the commands that show or rebuild what it would do (cli/show.c).
 */

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

/*
 * Take rules, state (locked and marked), password and Maildir of acct,
 * and fill ctx->fa.  run_close() releases what was taken, also after a
 * failure (-1, err set).
 */
int run_open(const struct conf_account *acct, const struct run_opts *opts,
    struct run_ctx *ctx, struct err *err);
void run_close(struct run_ctx *ctx);

/* Fill ctx->fa from acct, with ctx->password (which may come later). */
void run_fill(const struct conf_account *acct, const struct run_opts *opts,
    struct run_ctx *ctx);

/*
 * The account's password: password, password_command or ~/.netrc.
 * Caller owns (xfree_secret()), or NULL with err set.
 */
char *run_password(const struct conf_account *acct, struct err *err);

/*
 * The tagged files of the account's Maildir and of the Maildirs its rules
 * file into by path, walked on the first call (borrowed from ctx).
 */
const struct maildir_index *run_index(struct run_ctx *ctx);

#endif
