#ifndef POPFETCH_CLI_RUN_H
#define POPFETCH_CLI_RUN_H

#include <stdbool.h>

#include "config/conf.h"
#include "util/err.h"

struct run_opts {
	bool is_quiet; /* no summary line */
};

/*
 * Fetch one account: get its password, open its state and Maildir, run
 * the fetch, print the summary line on stdout.  Returns 0, or -1 with
 * err set (the caller logs it).
 */
int run_account(const struct conf_account *acct, const struct run_opts *opts,
    struct err *err);

/*
 * The directory holding popfetch's state: $XDG_STATE_HOME/popfetch, or
 * ~/.local/state/popfetch.  Caller owns; NULL if neither is set.
 */
char *run_state_dir(void);

#endif
