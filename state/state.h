#ifndef POPFETCH_STATE_STATE_H
#define POPFETCH_STATE_STATE_H

#include <stdbool.h>

#include "util/err.h"

struct archive;
struct sink;
struct store;
struct uidl_store;

/*
 * What popfetch remembers of one account, in one directory: files named
 * after the account, "<account>.<ext>":
 *
 *	uidl     the UIDL store (state/uidl.h): what was delivered
 *	archive  with archive = yes, the archive index (state/archive.h)
 *	lock     flock(2)ed while a run has the account
 *	running  the marker of a run that may have stored messages it has
 *	         not recorded yet: found by the next run, which then looks
 *	         for them in the Maildir before fetching (recovery)
 *	delay    when the server's LOGIN-DELAY allows the next login
 *
 * The promise held here: the marker goes only when every message that
 * was stored has been recorded (and, in archive mode, indexed before it
 * was recorded), and, when the marker was found, once the recovery ran
 * to its end.  A run that ends early (a failed login, a full disk) keeps
 * it, so that the recovery is not skipped by the run after it.
 */
struct state;

/*
 * The directory holding popfetch's state: $XDG_STATE_HOME/popfetch, or
 * ~/.local/state/popfetch.  Caller owns; NULL with err set (ERR_CONFIG)
 * if neither is set.
 */
char *state_dir(struct err *err);

/*
 * Open the account's state in dir (made, mode 0700, if missing): take
 * its lock (another run holding it: ERR_TEMP), refuse a login earlier
 * than the last LOGIN-DELAY allows (ERR_TEMP), mark the run (durably,
 * before anything is stored), load the UIDL store and, with has_archive,
 * the archive index.  Returns a new state (caller owns, state_close()),
 * or NULL with err set.
 */
struct state *state_open(const char *dir, const char *account, bool has_archive,
    struct err *err);

/*
 * The account's state in state_dir(), only to look at (--dry-run,
 * --status): no lock is taken, no marker set, nothing is made or
 * written; the UIDL store is read only (missing: empty), and records
 * appended through state_store() fail.  Returns a new state (caller
 * owns, state_close(), which leaves everything as it was), or NULL with
 * err set.
 */
struct state *state_peek(const char *account, struct err *err);

/*
 * Remove the marker if the run leaves nothing stored unrecorded (see
 * above), release the lock and free st.  NULL is fine.
 */
void state_close(struct state *st);

/* Was the marker there: did the last run end before it was clean? */
bool state_was_interrupted(const struct state *st);

/*
 * The recovery ran to its end: every message on the server that the
 * Maildir holds and the store did not know is recorded now.
 */
void state_recovered(struct state *st);

/* The UIDL store (borrowed, valid until state_close()). */
struct uidl_store *state_uidl(struct state *st);

/* The archive index, or NULL without archive mode (borrowed). */
struct archive *state_archive(struct state *st);

/* The path of the account's state file ext (caller owns). */
char *state_path(const struct state *st, const char *ext);

/*
 * The UIDL store as fetch/ reads and records through it (struct store,
 * fetch/fetch.h), into *out: lookups go to the store; its sync makes
 * the archive index durable first, then the journal, so that a message
 * recorded as delivered is always indexed; failed appends and syncs are
 * noted, and keep the marker.
 */
void state_store(struct state *st, struct store *out);

/*
 * inner, watched (into *out, which borrows inner and st): messages that
 * its sync made durable keep the marker until the store's sync has
 * recorded them.
 */
void state_sink(struct state *st, const struct sink *inner, struct sink *out);

/*
 * RFC 2449 §6.5: the server refuses logins for seconds after this one;
 * remembered, so that state_open() refuses an earlier run instead of the
 * server.
 */
int state_set_login_delay(struct state *st, long seconds, struct err *err);

#endif
