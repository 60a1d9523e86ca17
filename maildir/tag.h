#ifndef POPFETCH_MAILDIR_TAG_H
#define POPFETCH_MAILDIR_TAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The tag a delivered message's file name carries, and the files that
 * carry one.  It lets a later run find a message popfetch stored without
 * its state: after a kill between the link into new/ and the journal
 * record, for --rebuild-state, and for delete_when_gone_locally.
 *
 * The tag is ",PF=<key>-<size>" after ",S=<octets>": key is the first 16
 * hex digits of the SHA-256 of the message's unique-id, size the octets
 * LIST announced for it (not the octets stored, which lose a CR a line).
 * Files named before it carry ",U=<key>", which other Maildir tools own:
 * mbsync (isync) and OfflineIMAP keep their IMAP UID there as ",U=<n>"
 * and rewrite it (",U=1a1ff..." from ",U=a1ff..."), mu and others strip
 * it.  Both are read, the old one also after such a rewrite.
 */

/* The hex digits of a key, and their NUL. */
#define MAILDIR_KEY_LEN 16
#define MAILDIR_KEY_SIZE (MAILDIR_KEY_LEN + 1)

/* Room for a tag as maildir_tag_make() writes it, with its NUL. */
#define MAILDIR_TAG_SIZE 48

/* The key of a unique-id: 16 lowercase hex digits. */
void maildir_tag_key(const char *uid, char key[MAILDIR_KEY_SIZE]);

/*
 * The tag for a message with unique-id uid that LIST announced as
 * list_size octets, without its leading ',' (for maildir_set_tag()).
 */
void maildir_tag_make(const char *uid, uint64_t list_size,
    char tag[MAILDIR_TAG_SIZE]);

/* What a file name says of the message in it. */
struct maildir_tag {
	/*
	 * The key; of an old tag, only from its first letter on: mbsync
	 * takes the digits a key begins with for its UID and may replace
	 * them with another (",U=1da0..." from ",U=00da0...").
	 */
	char key[MAILDIR_KEY_SIZE];
	bool is_old;
	/*
	 * The new tag: list_size is LIST's.  The old one (",U="): only the
	 * octets stored are known (,S=), and the file must be read to know
	 * what LIST said.
	 */
	bool has_list_size;
	uint64_t list_size;
};

/*
 * Parse the tag out of a file name (the base name, untrusted: anything
 * in a Maildir).  Returns false when the name has none.
 */
bool maildir_tag_parse(const char *name, struct maildir_tag *out);

/*
 * Call fn(arg, dir, name) for every message file of the Maildir at root:
 * in new/ and cur/, and in those of its Maildir++ subfolders (".Name"
 * beside them).  dir is the path of the new/ or cur/ that holds name;
 * both are borrowed for the call.  Unreadable directories are skipped.
 */
typedef void maildir_file_fn(void *arg, const char *dir, const char *name);
void maildir_each_file(const char *root, maildir_file_fn *fn, void *arg);

/*
 * The tagged files of one or more Maildirs, by key: built by walking
 * them once, then asked for each message.
 */
struct maildir_index;

struct maildir_index *maildir_index_new(void);
void maildir_index_free(struct maildir_index *idx);

/* Add the tagged files of the Maildir at root (and its subfolders). */
void maildir_index_add(struct maildir_index *idx, const char *root);

/*
 * Is any file tagged for uid there, whatever its size?  For
 * delete_when_gone_locally, where a wrong "yes" only keeps a message on
 * the server.
 */
bool maildir_index_has(const struct maildir_index *idx, const char *uid);

/*
 * The path (borrowed, valid until maildir_index_free()) of a file that
 * holds the message with unique-id uid and LIST size list_size, or NULL.
 * A new tag must name that size; an old one must hold as many octets
 * (a server that counts LF line ends) or that many once each LF is
 * counted as CRLF (RFC 1939 §11: the size on the wire), which is read
 * from the file; with is_exact, only a new tag, which names the size,
 * counts.  For recovery and --rebuild-state, where a "yes" records the
 * message as stored, and so lets it be deleted.
 */
const char *maildir_index_find(const struct maildir_index *idx, const char *uid,
    uint64_t list_size, bool is_exact);

#endif
