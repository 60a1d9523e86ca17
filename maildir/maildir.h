#ifndef POPFETCH_MAILDIR_MAILDIR_H
#define POPFETCH_MAILDIR_MAILDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/*
 * Durable delivery into a Maildir.  One message at a time:
 * maildir_begin() creates a file in tmp/ (O_EXCL), maildir_write()
 * appends, maildir_commit() flushes, fsyncs and closes it, links it into
 * new/ under a unique name ending in ",S=<size>", removes the tmp/ name
 * and fsyncs new/.  Only when maildir_commit() returns 0 is the message
 * safe.  All paths are relative to directory descriptors: no chdir().
 * Errors are ERR_LOCAL (ENOSPC, EIO, EACCES ...), with errno saved.
 */
struct maildir;
struct maildir_delivery;

/*
 * Open the Maildir at path, creating path and its tmp/, new/ and cur/
 * (mode 0700) when missing.  Returns a new handle (caller owns,
 * maildir_close()), or NULL with err set.
 */
struct maildir *maildir_open(const char *path, struct err *err);
void maildir_close(struct maildir *md);

/*
 * Open the Maildir++ subfolder folder (".Name" or ".Name.Sub") of the
 * Maildir at root, creating it, with its "maildirfolder" mark, when
 * missing.  A folder name with '/' or ".." is ERR_CONFIG.
 */
struct maildir *maildir_open_folder(const char *root, const char *folder,
    struct err *err);

/*
 * Start a message.  Returns a new delivery (owned until passed to
 * maildir_commit() or maildir_abort(), which free it), or NULL with err
 * set.  At most one delivery per Maildir handle at a time.
 */
struct maildir_delivery *maildir_begin(struct maildir *md, struct err *err);

/* Append len bytes (buffered). */
int maildir_write(struct maildir_delivery *d, const void *data, size_t len,
    struct err *err);

/*
 * Add ",tag" to the name the message gets in new/, after ",S=<size>"
 * (e.g. "U=1a2b3c" to find it again later).  tag (copied) holds only
 * letters, digits, '=' and '-'.
 */
void maildir_set_tag(struct maildir_delivery *d, const char *tag);

/*
 * Deliver into cur/ with the Maildir info ":2,F" (flagged), ":2,S"
 * (seen) or ":2,FS", as if a reader had already seen or flagged it.
 */
void maildir_set_flags(struct maildir_delivery *d, bool is_seen,
    bool is_flagged);

/*
 * Make the message durable in new/ (cur/ with flags).  On success *name_out
 * (may be NULL) gets its file name in new/ (caller owns).  On failure the tmp/
 * file is removed.  Frees d in both cases.
 */
int maildir_commit(struct maildir_delivery *d, char **name_out,
    struct err *err);

/* Give up the message: close and remove its tmp/ file; frees d. */
void maildir_abort(struct maildir_delivery *d);

/*
 * A unique file name (caller owns): "<sec>.M<usec>P<pid>Q<n>R<hex>.<host>"
 * where host is the host name with '/' and ':' escaped as Maildir
 * readers expect.
 */
char *maildir_unique_name(void);

#endif
