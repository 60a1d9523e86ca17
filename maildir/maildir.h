#ifndef POPFETCH_MAILDIR_MAILDIR_H
#define POPFETCH_MAILDIR_MAILDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/*
 * Durable delivery into a Maildir.  maildir_begin() creates a file in
 * tmp/ (unnamed with O_TMPFILE where the system has it, else a unique
 * name, O_EXCL), maildir_write() appends.  Then either
 * maildir_commit(): fsync the file, link it into new/ under a unique
 * name ending in ",S=<size>", remove any tmp/ name, fsync new/; or, for
 * a batch, maildir_stage() for each message and one maildir_sync() for
 * them all: every file fsynced, then every one linked, then one fsync
 * of new/ (and cur/).  Only once maildir_commit() or maildir_sync()
 * returned 0 is a message safe.  All paths are relative to directory
 * descriptors: no chdir().  Errors are ERR_LOCAL (ENOSPC, EIO, EACCES
 * ...), with errno saved.
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
 * The message is complete: write it out and queue it for the next
 * maildir_sync() of its Maildir; it is neither visible nor durable yet.
 * *name_out (may be NULL; caller owns) gets the name it will have in new/
 * (cur/ with flags).  The Maildir is free for the next maildir_begin().
 * d belongs to the Maildir from now on; on failure it is freed and its
 * file removed.
 */
int maildir_stage(struct maildir_delivery *d, char **name_out, struct err *err);

/*
 * Make every message staged in md durable under the name it was given:
 * fsync each file, link each into new/ or cur/, fsync those
 * directories.  On failure none of them is delivered (what was linked
 * is taken back) and err says why.
 */
int maildir_sync(struct maildir *md, struct err *err);

/*
 * Take back the messages the last maildir_sync() of md delivered (when
 * the batch they belong to failed elsewhere, e.g. in another folder):
 * best effort.
 */
void maildir_unsync(struct maildir *md);

/*
 * maildir_stage() and maildir_sync() in one: the message (and any other
 * staged in its Maildir) durable in new/ (cur/ with flags).  On success
 * *name_out (may be NULL) gets its file name (caller owns).  On failure
 * its file is removed.  Frees d in both cases.
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
