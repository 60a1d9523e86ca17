#ifndef POPFETCH_STATE_JOURNAL_H
#define POPFETCH_STATE_JOURNAL_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

/*
 * One append-only journal file, the one implementation behind the UIDL
 * store and the archive index.  Text: a header line "<magic> <version>",
 * then one record a line.  What a record says is the caller's; this
 * module keeps the file's promises:
 *
 * - a record is appended with one write(2), so a crash tears at most the
 *   last line; a torn last line is cut off when the journal is opened,
 *   so that the next record starts a line;
 * - a write that fails is cut back, and if it cannot be, nothing more
 *   is written;
 * - after a failed fsync nothing more is written or vouched for (the
 *   kernel may have dropped the data, and a second fsync may succeed
 *   without it) until the journal is opened again;
 * - the first sync also syncs the directory, as the name may be new;
 * - a rewrite (compaction) is atomic: temp file, fsync, rename, fsync of
 *   the directory.
 *
 * The file is read a chunk at a time, never whole.  Another file at the
 * path, or a later version, is refused (ERR_LOCAL).
 */
struct journal;

/*
 * Called for each whole record (rec, len octets, without its LF; valid
 * during the call) at offset off of the file.  Returns 0, or -1 if the
 * record is malformed: it is counted and skipped.
 */
typedef int journal_record_fn(void *arg, const char *rec, size_t len,
    off_t off);

/* What a journal is: its header and how it is named in messages. */
struct journal_kind {
	const char *magic; /* "popfetch-uidl" */
	unsigned version;  /* the one this reader knows */
	const char *what;  /* "UIDL journal", for messages */
};

/*
 * Open the journal at path (creating it, mode 0600, with its header;
 * the directory must exist) and read every record into fn.  Returns a
 * new journal (caller owns, journal_free()), or NULL with err set.
 * kind is borrowed, and must outlive the journal.
 */
struct journal *journal_open(const char *path, const struct journal_kind *kind,
    journal_record_fn *fn, void *arg, struct err *err);

/*
 * Read the journal at path into fn without changing anything: nothing
 * is created, cut or written (a missing file is an empty journal).
 * Appends, syncs and rewrites fail (ERR_SOFTWARE); journal_pread()
 * works.
 */
struct journal *journal_open_readonly(const char *path,
    const struct journal_kind *kind, journal_record_fn *fn, void *arg,
    struct err *err);

void journal_free(struct journal *j);

/* The path it was opened with (borrowed). */
const char *journal_path(const struct journal *j);

/* The header line, with its LF: what a rewrite's data begins with. */
const char *journal_header(const struct journal *j);

/* Records skipped as malformed when it was read. */
size_t journal_malformed(const struct journal *j);

/*
 * Append one record of len octets, which ends in a LF and holds no
 * other (else ERR_SOFTWARE), with one write(2); *off_out (may be NULL)
 * gets its offset.  Not durable until journal_sync().
 */
int journal_append(struct journal *j, const char *rec, size_t len,
    off_t *off_out, struct err *err);

/* Was anything appended since the last journal_sync()? */
bool journal_is_dirty(const struct journal *j);

/* Make every record appended durable (fsync; the directory, once). */
int journal_sync(struct journal *j, struct err *err);

/*
 * Read len octets at off, as pread(2) does; -1 (errno EBADF) once the
 * journal is unusable.
 */
ssize_t journal_pread(struct journal *j, void *buf, size_t len, off_t off);

/*
 * Replace the whole journal by data (len octets, beginning with
 * journal_header(), whole records), atomically.  Either way the journal
 * then appends to whatever file has its name: the old one holds every
 * record, the new one all that data holds.  Records have moved:
 * journal_scan() says where.
 */
int journal_rewrite(struct journal *j, const char *data, size_t len,
    struct err *err);

/*
 * Read every record again into fn (after a rewrite, to learn the
 * records' offsets).  Returns 0, or -1 with err set.
 */
int journal_scan(struct journal *j, journal_record_fn *fn, void *arg,
    struct err *err);

#endif
