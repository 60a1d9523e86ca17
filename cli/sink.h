#ifndef POPFETCH_CLI_SINK_H
#define POPFETCH_CLI_SINK_H

#include <stdbool.h>

#include "cli/report.h"
#include "config/conf.h"
#include "fetch/fetch.h"
#include "util/err.h"

struct archive;
struct maildir;

/*
 * The sink a run of one account writes through (struct sink,
 * fetch/fetch.h): maildir/'s, all or nothing across its folders, and
 * with archive = yes or folder_by_date what archive mode learns of each
 * message on the way (filter/archive.h).  folder_by_date: a message no
 * rule files goes to the folder of its Date.  archive = yes: a message
 * the archive index (or the round) has already is not stored again, its
 * stored name standing for it; the round's new messages are indexed once
 * durable in the Maildir, and the index made durable, before any of them
 * is recorded as delivered.
 */
struct run_sink;

/*
 * The sink for acct into md (its Maildir, borrowed), with ar its archive
 * index (archive = yes; borrowed) or NULL, counting what is stored per
 * folder in filed (or NULL).  Caller owns (run_sink_free()).
 */
struct run_sink *run_sink_new(const struct conf_account *acct,
    struct maildir *md, struct archive *ar, struct report_filed *filed);
void run_sink_free(struct run_sink *rs);

/* rs as a struct sink, into *out (which borrows rs). */
void run_sink_get(struct run_sink *rs, struct sink *out);

/* Messages retrieved and not stored again, being in the archive. */
unsigned run_sink_duplicates(const struct run_sink *rs);

/*
 * archive = yes: put the message file at path into the index ar, if the
 * index does not have it, as the file's path relative to the Maildir at
 * root (absolute when it is elsewhere).  Not durable until synced.
 * *added_out (may be NULL): whether it was added.
 */
int run_index_file(struct archive *ar, const char *root, const char *path,
    bool *added_out, struct err *err);

#endif
