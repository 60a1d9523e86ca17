#ifndef POPFETCH_CLI_RUN_H
#define POPFETCH_CLI_RUN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "cli/report.h"
#include "config/conf.h"
#include "fetch/fetch.h"
#include "util/err.h"

struct run_opts {
	const struct conf *conf; /* the whole configuration (its rules) */
	bool is_quiet;           /* no summary line */
	/* Set by a signal handler: stop after the message in hand. */
	const volatile sig_atomic_t *stop;
	/* The fetch's progress hook (see struct fetch_account), or NULL. */
	void (*progress)(void *arg, const struct fetch_stats *stats,
	    uint64_t in_flight);
	void *progress_arg;
	/*
	 * run_account() leaves the account's counts here, also when it
	 * fails after the fetch started; the caller prints them.  NULL:
	 * not wanted.
	 */
	struct fetch_stats *stats_out;
	/* Counts what is stored, per folder, here; NULL: not wanted. */
	struct report_filed *filed_out;
};

/*
 * Fetch one account: take its lock (another run holding it is ERR_TEMP),
 * open its state, get its password, open its Maildir, run the fetch,
 * leave its counts in opts->stats_out.  Returns 0, or -1 with err set
 * (the caller logs it).
 */
int run_account(const struct conf_account *acct, const struct run_opts *opts,
    struct err *err);

/*
 * --rebuild-state (cli/show.c): after the state was lost, log in, list
 * the server's messages and record as delivered every one whose tag
 * (unique-id and size, see maildir/tag.h) is in the name of a file of
 * the account's Maildir (new/, cur/, and those of its Maildir++
 * subfolders) or of a Maildir its rules file into by path.  With archive
 * = yes, also add every message file found there to the archive index.
 * Changes nothing on the server.
 */
int run_rebuild(const struct conf_account *acct, const struct run_opts *opts,
    struct err *err);

/*
 * --dry-run (cli/show.c): log in and print the plan fetch/ would run
 * (fetch_preview()): each message on the server (number, size, new or
 * seen, date, sender, subject) with what the run would do with it (the
 * rule and action, a deletion and why), then the commands in the order
 * they would go on the wire.  Changes nothing on the server or on disk.
 */
int run_dry_run(const struct conf_account *acct, const struct run_opts *opts,
    struct err *err);

/*
 * --status (cli/show.c): what the state knows of the account, without
 * connecting: messages known and stored, the last delivery, with
 * keep_days those due for deletion (plan_is_due()) and when the next is,
 * and the Maildir's size.
 */
int run_status(const struct conf_account *acct, const struct run_opts *opts,
    struct err *err);

/*
 * --serverinfo: connect and secure as the account says, and print what
 * the server tells before a login (greeting, capabilities, SASL
 * mechanisms, TLS session and certificate).  No credential is sent.
 */
int run_serverinfo(const struct conf_account *acct, const struct run_opts *opts,
    struct err *err);

#endif
