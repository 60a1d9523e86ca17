#ifndef POPFETCH_FILTER_ARCHIVE_H
#define POPFETCH_FILTER_ARCHIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "state/archive.h"
#include "util/err.h"

/*
 * archive = yes: every message is stored once, whatever unique-id the
 * server gives it.  Each message stored is remembered in the account's
 * archive index (state/archive.h) by the SHA-256 of its content as
 * stored (after CRLF to LF) and the SHA-256 of its Message-ID; a message
 * that comes again with both the same (or, without a Message-ID, the
 * same content) is not stored again.
 *
 * folder_by_date: the Maildir++ folder a message is filed in, named
 * from its Date with a strftime(3) format.
 */

/* The longest folder name folder_by_date makes, with its NUL. */
#define ARCHIVE_FOLDER_SIZE 256

/*
 * What archive mode learns of one message as it streams by: the digest
 * of every byte, and from its header (bounded) the Message-ID and the
 * Date.  It can also hold back the first bytes, so that the folder is
 * chosen from the Date before the delivery starts.  Needs filter_init().
 */
struct archive_msg;

struct archive_msg *archive_msg_new(void);
void archive_msg_free(struct archive_msg *am);

/* Start over for the next message. */
void archive_msg_reset(struct archive_msg *am);

/*
 * Take the next len bytes of the message (borrowed).  Returns true once
 * the header is complete (or a bound was reached): the Date and the
 * Message-ID are then known, if the message has them.
 */
bool archive_msg_feed(struct archive_msg *am, const char *data, size_t len);

/*
 * Keep a copy of len bytes, and give back all that is kept (borrowed,
 * valid until the next call on am), then forget it.  The caller holds
 * only until archive_msg_feed() says the header is complete, so the copy
 * stays within the header bound and a chunk.
 */
void archive_msg_hold(struct archive_msg *am, const char *data, size_t len);
const char *archive_msg_held(const struct archive_msg *am, size_t *len_out);
void archive_msg_drop_held(struct archive_msg *am);

/*
 * Once the whole message was fed: the hex SHA-256 of its content into
 * digest, and of its Message-ID (white space trimmed) into msgid;
 * returns false, msgid empty, when it has none.
 */
bool archive_msg_finish(struct archive_msg *am, char digest[ARCHIVE_HEX_SIZE],
    char msgid[ARCHIVE_HEX_SIZE]);

/*
 * The message's Date as "YYYY-MM-DD HH:MM:SS +ZZZZ" when it parses, else
 * its text; NULL when it has none.  Borrowed from am.
 */
const char *archive_msg_date(struct archive_msg *am);

/*
 * folder_by_date: the Maildir++ folder (".2026.11" for "%Y/%m") of a
 * message whose Date is date (as archive_msg_date() gives it; NULL or
 * unparsable: the message goes by now, the time of delivery), in local
 * time, formatted with format, each '/' made '.'.  A result that is no
 * folder name (an empty part, a control character) is ERR_CONFIG.
 */
int archive_date_folder(const char *format, const char *date, int64_t now,
    char *buf, size_t size, struct err *err);

/*
 * The digest and Message-ID hash of the message file at path, read in
 * chunks (for --rebuild-state).  Returns 0, or -1 with err set.
 */
int archive_digest_file(const char *path, char digest[ARCHIVE_HEX_SIZE],
    char msgid[ARCHIVE_HEX_SIZE], bool *has_msgid_out, struct err *err);

#endif
