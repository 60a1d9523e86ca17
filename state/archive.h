#ifndef POPFETCH_STATE_ARCHIVE_H
#define POPFETCH_STATE_ARCHIVE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

/*
 * archive = yes: the account's archive index, every message stored by
 * the SHA-256 of its content as stored (after CRLF to LF) and the
 * SHA-256 of its Message-ID (filter/archive.h computes them).  It is an
 * append-only journal (state/journal.h), never pruned: it is the
 * archive's memory.
 */

/* A SHA-256 in hex, and its NUL. */
#define ARCHIVE_HEX_LEN 64
#define ARCHIVE_HEX_SIZE (ARCHIVE_HEX_LEN + 1)

struct archive;

/*
 * Open (creating it, mode 0600) the index at path and load it.  Text, one
 * record a line after a "popfetch-archive 1" header:
 *
 *	<content sha256> TAB <Message-ID sha256, or "-"> TAB <file> LF
 *
 * where file is the message's path relative to the Maildir root
 * (".2026.11/new/NAME", "cur/NAME:2,S"), or absolute for a rule that
 * files into another Maildir.  A torn last line (a crash in the middle
 * of an append) is cut off; malformed lines are counted and skipped.
 * Another file at path, or a later version, is ERR_LOCAL.  Returns a new
 * index (caller owns, archive_free()), or NULL with err set.
 */
struct archive *archive_open(const char *path, struct err *err);
void archive_free(struct archive *ar);

/* Lines of the index that were skipped as malformed. */
size_t archive_malformed(const struct archive *ar);

/* Messages the index knows. */
size_t archive_count(const struct archive *ar);

/*
 * The file of the archived message with content digest (hex) and
 * Message-ID hash msgid (hex; NULL: the message has none), or NULL.
 * Borrowed, valid until the next archive_append() or archive_free().
 */
const char *archive_lookup(const struct archive *ar, const char *digest,
    const char *msgid);

/*
 * Append a record (one write(2), so a crash tears at most this line).
 * digest and msgid as for archive_lookup(); file is printable, without
 * TAB or LF (else ERR_SOFTWARE).  Not durable until archive_sync().
 */
int archive_append(struct archive *ar, const char *digest, const char *msgid,
    const char *file, struct err *err);

/*
 * fsync the index (and, the first time, its directory).  After a failed
 * fsync nothing more is written: the kernel may have dropped the data.
 */
int archive_sync(struct archive *ar, struct err *err);

/* Was anything appended since the last archive_sync()? */
bool archive_is_dirty(const struct archive *ar);

#endif
