#ifndef POPFETCH_MAILDIR_SINK_H
#define POPFETCH_MAILDIR_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "maildir/maildir.h"
#include "util/err.h"

/*
 * Delivery of an account's messages into its Maildir and the folders
 * rules file into: Maildir++ subfolders of it, and other Maildirs given
 * by path.  Messages are committed one by one and made durable a round
 * at a time, in every Maildir the round went to or in none: a folder
 * that fails takes back what the others delivered, as the messages stay
 * on the server and come again.  Each file carries the tag of its
 * unique-id and LIST size (maildir/tag.h).
 *
 * It knows nothing of POP3: cli/ wires these calls into the sink that
 * fetch/ writes through (struct sink_ops).
 */
struct maildir_sink;

/* Where one message goes; every pointer borrowed for the call. */
struct maildir_filing {
	/*
	 * NULL: the account's Maildir.  Else a Maildir++ folder (".Name"
	 * or ".Name.Sub") of it or, with is_path, the path of another
	 * Maildir ("~/..." is taken from $HOME).
	 */
	const char *folder;
	bool is_path;
	bool is_seen, is_flagged; /* delivered into cur/ with these flags */
};

/* What the sink tells its owner; every hook may be NULL. */
struct maildir_sink_hooks {
	/*
	 * For each message a maildir_sink_sync() made durable, with the
	 * folder its filing named (NULL: the inbox).
	 */
	void (*filed)(void *arg, const char *folder);
	/*
	 * Called by maildir_sink_sync() once every Maildir of the round is
	 * durable, before it returns: a failure (-1, err set) takes the
	 * round back from every Maildir, as any other failure of the sync.
	 */
	int (*durable)(void *arg, struct err *err);
	void *arg;
};

/*
 * A sink delivering into inbox (borrowed, must outlive the sink), the
 * Maildir at root; hooks (copied) may be NULL.  Caller owns the sink,
 * maildir_sink_free().
 */
struct maildir_sink *maildir_sink_new(struct maildir *inbox, const char *root,
    const struct maildir_sink_hooks *hooks);

/* Close the folders it opened; what is staged and not synced is lost. */
void maildir_sink_free(struct maildir_sink *ms);

/*
 * Start a message with unique-id uid (NULL: none, then no tag) and LIST
 * size list_size, filed as where says (NULL: the inbox, no flags).  The
 * folder is opened, and made, on first use: a bad name is ERR_CONFIG.
 */
int maildir_sink_begin(struct maildir_sink *ms, const char *uid,
    uint64_t list_size, const struct maildir_filing *where, struct err *err);

/* Is a message begun and not yet committed or aborted? */
bool maildir_sink_is_begun(const struct maildir_sink *ms);

int maildir_sink_write(struct maildir_sink *ms, const void *data, size_t len,
    struct err *err);

/*
 * The message is complete: it joins the round, durable at the next
 * maildir_sink_sync().  *name_out (caller owns) gets its file name.  On
 * failure it is gone.
 */
int maildir_sink_commit(struct maildir_sink *ms, char **name_out,
    struct err *err);

/* Give up the message in hand, if any. */
void maildir_sink_abort(struct maildir_sink *ms);

/*
 * Make the round durable in every Maildir it went to, then call the
 * durable hook, then the filed hook for each message; or, on any
 * failure, deliver none of the round.
 */
int maildir_sink_sync(struct maildir_sink *ms, struct err *err);

#endif
