#ifndef POPFETCH_STATE_UIDL_H
#define POPFETCH_STATE_UIDL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/*
 * The seen-UIDL store of one account: which messages were delivered,
 * kept in an append-only journal (state/journal.h).  A record is appended
 * (and made durable with uidl_sync()) after each delivery; uidl_compact()
 * rewrites the file atomically.  A torn last line, as a crash may leave,
 * is cut off on load.  UIDs are untrusted server data but have already been
 * checked by pop3_uidl() (1-70 bytes in 0x21..0x7e).
 */
struct uidl_store;

/*
 * Load the journal at path (missing is fine: an empty store) and open it
 * for appending, creating it with mode 0600.  The parent directory must
 * exist.  Returns a new store (caller owns, uidl_free()), or NULL with
 * err set (ERR_LOCAL).
 */
struct uidl_store *uidl_open(const char *path, struct err *err);
void uidl_free(struct uidl_store *st);

/*
 * Load the journal at path only to look things up (for --dry-run):
 * nothing is created, truncated or written; a missing file is an empty
 * store.  Appends, syncs and compaction fail.
 */
struct uidl_store *uidl_open_readonly(const char *path, struct err *err);

/*
 * Was a message with this uid and size delivered before?  An entry with
 * the size "*" (imported from another tool's state) matches any size.
 */
bool uidl_has(const struct uidl_store *st, const char *uid, uint64_t size);

/*
 * The latest record of uid, whatever its size: true with its size and
 * header id (0 if none was recorded), false if uid is unknown.
 */
bool uidl_find_uid(struct uidl_store *st, const char *uid, uint64_t *size_out,
    uint64_t *hid_out);

/*
 * When the message with this uid and size was first seen (seconds since
 * the epoch), or -1 if it is not in the store.
 */
int64_t uidl_first_seen(const struct uidl_store *st, const char *uid,
    uint64_t size);

/*
 * The Maildir file name the message was delivered as (borrowed, valid
 * until the next call or until the store changes; read back from the
 * journal), or NULL if it is not in the store or was not stored (a rule
 * discarded it; imported state), or cannot be read back.
 */
const char *uidl_file(struct uidl_store *st, const char *uid, uint64_t size);

/*
 * Call fn for every entry, in no particular order (size UINT64_MAX for
 * an imported entry of any size; file NULL if none, valid during the
 * call).  fn must not change
 * the store.
 */
typedef void uidl_each_fn(void *arg, const char *uid, uint64_t size,
    int64_t first_seen, int64_t delivered, const char *file);
void uidl_foreach(struct uidl_store *st, uidl_each_fn *fn, void *arg);

/* Number of entries. */
size_t uidl_count(const struct uidl_store *st);

/*
 * Number of malformed records skipped by uidl_open() (0 in a healthy
 * journal; worth a warning, never fatal).
 */
size_t uidl_malformed(const struct uidl_store *st);

/*
 * Record that uid (of size octets) was delivered as file (a name in the
 * Maildir, may be NULL) at time now.  Appended, not yet durable: call
 * uidl_sync() before acting on it (e.g. before DELE).
 */
int uidl_append(struct uidl_store *st, const char *uid, uint64_t size,
    const char *file, int64_t now, struct err *err);

/*
 * uidl_append() with the message's header id (0: unknown), a digest of
 * its Message-ID and Date that tells a message whose size the server
 * changed from another one under a reused uid (fetch/fetch.c).
 */
int uidl_append_id(struct uidl_store *st, const char *uid, uint64_t size,
    const char *file, uint64_t hid, int64_t now, struct err *err);

/* Make every appended record durable (fsync of the journal). */
int uidl_sync(struct uidl_store *st, struct err *err);

/*
 * Drop every entry whose uid is not among the n uids in keep (e.g. the
 * ones still on the server), and every entry that a later record of its
 * uid with the same header id supersedes (the message under an older
 * size), and rewrite the journal atomically: temp file, fsync, rename,
 * fsync of the directory.
 */
int uidl_compact(struct uidl_store *st, const char *const *keep, size_t n,
    struct err *err);

#endif
