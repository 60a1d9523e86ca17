#ifndef POPFETCH_CLI_REPORT_H
#define POPFETCH_CLI_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fetch/fetch.h"
#include "util/err.h"

/*
 * Everything the run prints about its accounts: the live progress line
 * (stderr, on a terminal), the error line of a failed account (stderr),
 * the summary line per account and the totals (stdout, or syslog), and
 * the JSON object of --json (stdout).  One report covers one run over
 * the accounts; the daemon makes one per round.
 */

struct report_opts {
	bool is_quiet;    /* -q: errors only */
	bool is_summary;  /* a summary line per account on stdout */
	bool is_totals;   /* and a totals line when several accounts ran */
	bool is_progress; /* the progress line on stderr (a terminal) */
	bool is_json;     /* one JSON object on stdout, no text summaries */
	/* --shard I/N, told in the JSON; shard_count 0: not sharded. */
	unsigned shard_index, shard_count;
};

/* Folders a result names; what is stored into more is summed as other. */
#define REPORT_FOLDERS_MAX 32
/* Room for their names, one after the other, each ended by a NUL. */
#define REPORT_FOLDER_NAMES 2048

/*
 * Messages stored per folder: the inbox (the account's Maildir itself)
 * and each folder a rule filed into, by the name the rule gives (".Name"
 * or a path, never "inbox").  Plain data, no pointers, like the result
 * that holds it.
 */
struct report_filed {
	unsigned inbox;
	unsigned nfolders;
	unsigned counts[REPORT_FOLDERS_MAX];
	unsigned other; /* into folders that found no room here */
	size_t names_len;
	/* The nfolders names, in the order of first use. */
	char names[REPORT_FOLDER_NAMES];
};

/* n more messages stored into folder (NULL: the inbox). */
void report_filed_add(struct report_filed *f, const char *folder, unsigned n);

/*
 * What one account's run came to.  Plain data, no pointers: a child of
 * -j sends it to its parent through a pipe as it is.
 */
struct report_result {
	struct fetch_stats stats;
	bool has_stats;          /* a fetch: its counts are worth a summary */
	enum err_class cls;      /* ERR_NONE: the account succeeded */
	double seconds;          /* wall-clock time of the account's run */
	char error[ERR_MSG_MAX]; /* what failed, or "" */
	struct report_filed filed;
};

/* opts is copied; naccounts is how many accounts the run may report. */
struct report *report_new(const struct report_opts *opts, size_t naccounts);
void report_free(struct report *r);

/*
 * The account called name (borrowed until report_done()) starts in this
 * process: the progress line, if any, follows it from here.
 */
void report_start(struct report *r, const char *name);

/*
 * The fetch_account progress hook (arg: the report): redraws the
 * progress line, at most ten times a second.
 */
void report_progress(void *arg, const struct fetch_stats *stats,
    uint64_t in_flight);

/*
 * Account number idx (its place in the run, for the JSON order), called
 * name, is done: erase the progress line, log its error if it failed,
 * print its summary line if it got as far as the fetch.  name is
 * copied.
 */
void report_done(struct report *r, size_t idx, const char *name,
    const struct report_result *res);

/* The run is over with exit status status: the totals, or the JSON. */
void report_finish(struct report *r, int status);

/*
 * A size for people: "512 B", "12 KiB", "3.4 MiB", "1.2 GiB".
 */
void report_format_size(uint64_t n, char *buf, size_t len);

#endif
