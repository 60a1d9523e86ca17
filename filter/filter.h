#ifndef POPFETCH_FILTER_FILTER_H
#define POPFETCH_FILTER_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/*
 * Header filtering: a message's header is parsed (RFC 5322, with RFC
 * 2047 encoded words and RFC 2231 parameters decoded to UTF-8) and run
 * through an ordered list of rules that decide where it goes.  This is
 * the only module that sees GMime and GRegex; nothing of them leaks into
 * this header.
 */

/*
 * Set up and tear down the MIME library, once per process, before any
 * other call and after the last.
 */
void filter_init(void);
void filter_shutdown(void);

/*
 * A message's header, built from bytes as they arrive.  Everything in
 * it is untrusted server data.
 *
 * Memory is bounded: at most FILTER_MSG_MAX_BYTES bytes of header and
 * FILTER_MSG_MAX_HEADERS header fields are kept; the rest is ignored and
 * filter_msg_is_truncated() says so.  Address lists are bounded too
 * (FILTER_MSG_MAX_ADDRS).  Nothing a server sends makes
 * feeding or querying fail: lines without a colon, 8-bit bytes, broken
 * encoded words, NUL bytes and bare CRs are tolerated, and the message
 * gets whatever could be parsed.
 */
#define FILTER_MSG_MAX_BYTES (1024 * 1024)
#define FILTER_MSG_MAX_HEADERS 10000
/* Mailboxes kept per field name; the first 64 KiB of each field count. */
#define FILTER_MSG_MAX_ADDRS 10000

struct filter_msg;

struct filter_msg *filter_msg_new(void);
void filter_msg_free(struct filter_msg *m);

/*
 * Feed the next len bytes of the message (data borrowed).  The caller
 * may feed the whole message or only the header (TOP n 0), in chunks of
 * any size, split anywhere.  Bytes after the empty line that ends the
 * header are ignored.  Returns true once the header is complete (its
 * end or a limit was reached): more bytes would change nothing.
 */
bool filter_msg_feed(struct filter_msg *m, const void *data, size_t len);

/*
 * The queries below parse what was fed so far, on the first call after
 * a feed.  Strings returned are valid UTF-8 (undecodable bytes become
 * U+FFFD), unfolded, and may hold control characters: sanitise them
 * before printing.  They are borrowed from m, valid until the next
 * filter_msg_feed() or filter_msg_free() on m.  Header names compare
 * case-insensitively (ASCII).
 */

/* The decoded value of the idx-th (from 0) field called name, or NULL. */
const char *filter_msg_header(struct filter_msg *m, const char *name,
    size_t idx);

/* How many fields are called name. */
size_t filter_msg_header_count(struct filter_msg *m, const char *name);

bool filter_msg_has_header(struct filter_msg *m, const char *name);

/*
 * The value of parameter param of the first field called name (such as
 * Content-Type's "charset" or Content-Disposition's "filename"), with
 * RFC 2231 continuations and charsets decoded, or NULL.
 */
const char *filter_msg_param(struct filter_msg *m, const char *name,
    const char *param);

/*
 * One mailbox of an address field.  Groups are flattened into their
 * members.  For List-Id (RFC 2919), addr is the list identifier.
 */
struct filter_addr {
	const char *name; /* decoded display name, "" if none */
	const char *addr; /* "local@domain" as written, "" if unparsable */
};

/*
 * The mailboxes of every field called name, in order; *addrs_out is
 * set to an array (borrowed, like the strings in it) and its length is
 * returned (0 and NULL when there are none).
 */
size_t filter_msg_addresses(struct filter_msg *m, const char *name,
    const struct filter_addr **addrs_out);

/* Shortcuts for a listing; NULL when the field is missing. */
const char *filter_msg_subject(struct filter_msg *m);
const char *filter_msg_from(struct filter_msg *m);
const char *filter_msg_message_id(struct filter_msg *m);

/*
 * The Date field as "YYYY-MM-DD HH:MM:SS +ZZZZ" (in the sender's zone)
 * when it can be parsed, else its decoded text; NULL when missing.
 */
const char *filter_msg_date(struct filter_msg *m);

/* How many fields were parsed. */
size_t filter_msg_nheaders(struct filter_msg *m);

/* Was part of the header dropped for exceeding a limit? */
bool filter_msg_is_truncated(const struct filter_msg *m);

/*
 * Conditions: a tree of all/any/not over leaves.  Built with
 * filter_cond_new() and filter_cond_add(); the tree owns its children.
 *
 *   kind               header  arg
 *   FILTER_ALL/ANY     NULL    NULL   true if all/any children are
 *   FILTER_NOT         NULL    NULL   true if its one child is not
 *   FILTER_MATCHES     name    regex  a field's decoded value matches
 *   FILTER_CONTAINS    name    text   a field's decoded value contains
 *   FILTER_ADDRESS     name    addr   a mailbox of the field is addr
 *   FILTER_DOMAIN      name    domain a mailbox's domain is domain or
 *                                     one of its subdomains
 *   FILTER_LARGER      NULL    size   the message is larger than size
 *   FILTER_SMALLER     NULL    size   the message is smaller than size
 *   FILTER_EXISTS      name    NULL   a field called name exists
 *   FILTER_MISSING     name    NULL   no field called name exists
 *
 * A leaf on a field that occurs several times is true if any occurrence
 * makes it true.  Regexes are GRegex (PCRE) on UTF-8, case-insensitive
 * unless they start with "(?-i)", and unanchored.  Text, addresses and
 * domains compare case-insensitively (Unicode case folding, and for
 * text NFKC normalisation).  A domain of a mailbox without "@" (List-Id)
 * is the whole identifier.  Sizes are as filter_parse_size() reads them.
 */
enum filter_cond_kind {
	FILTER_ALL = 0,
	FILTER_ANY,
	FILTER_NOT,
	FILTER_MATCHES,
	FILTER_CONTAINS,
	FILTER_ADDRESS,
	FILTER_DOMAIN,
	FILTER_LARGER,
	FILTER_SMALLER,
	FILTER_EXISTS,
	FILTER_MISSING,
};

struct filter_cond;

/*
 * Make a condition of kind (strings borrowed, copied).  A bad header
 * name, regex (with GRegex's message), address, domain or size, or a
 * missing/extra argument, is ERR_CONFIG; *cond_out is then NULL.
 */
int filter_cond_new(enum filter_cond_kind kind, const char *header,
    const char *arg, struct filter_cond **cond_out, struct err *err);

/*
 * Append child to an all/any/not group; takes ownership of child, even
 * on failure.  A second child of a not, or a group that is not a group,
 * is ERR_CONFIG.
 */
int filter_cond_add(struct filter_cond *group, struct filter_cond *child,
    struct err *err);

void filter_cond_free(struct filter_cond *cond);

/*
 * Parse a size: decimal bytes, optionally followed by one of k, M, G
 * (either case; 1024-based).  Anything else, or more than UINT64_MAX
 * bytes, is ERR_CONFIG.
 */
int filter_parse_size(const char *s, uint64_t *size_out, struct err *err);

/* Maildir flags (maildir(5) "S" and "F") a rule may set. */
#define FILTER_FLAG_SEEN 0x01u
#define FILTER_FLAG_FLAGGED 0x02u

/* Add the flag called s ("seen" or "flagged") to *flags; else ERR_CONFIG. */
int filter_parse_flag(const char *s, unsigned int *flags, struct err *err);

enum filter_action {
	FILTER_ACTION_NONE = 0, /* only flags; keep the folder chosen so far */
	FILTER_ACTION_FOLDER,   /* deliver into folder */
	FILTER_ACTION_DISCARD,  /* do not store */
	FILTER_ACTION_SKIP,     /* leave on the server, do not download */
};

/*
 * A rule, as the configuration builds it: filter_rule_init(), set the
 * fields (cond and folder through their setters, which copy or take
 * ownership), then filter_rule_check().  When cond matches, the action
 * and flags apply; unless is_continue, the rules after it are not
 * looked at.
 */
struct filter_rule {
	char *name;               /* owned */
	struct filter_cond *cond; /* owned; NULL matches every message */
	enum filter_action action;
	char *folder;       /* owned; for FILTER_ACTION_FOLDER */
	unsigned int flags; /* FILTER_FLAG_* */
	bool is_continue;
};

/*
 * Is a rule's folder the path of another Maildir ("/..." or "~/..."),
 * not a Maildir++ folder name?
 */
bool filter_folder_is_path(const char *folder);

/* Start an empty rule called name (copied). */
void filter_rule_init(struct filter_rule *r, const char *name);
void filter_rule_cleanup(struct filter_rule *r);

/* Replace the rule's condition; takes ownership of cond. */
void filter_rule_set_cond(struct filter_rule *r, struct filter_cond *cond);

/*
 * Deliver into folder (copied): a Maildir++ subfolder of the account's
 * Maildir such as ".Lists.dev" (dot-separated, non-empty components, no
 * "/"), or the path of another Maildir ("/..." or "~/...").  Else
 * ERR_CONFIG.
 */
int filter_rule_set_folder(struct filter_rule *r, const char *folder,
    struct err *err);

/*
 * Is the rule complete and consistent?  It needs an action or a flag;
 * flags go only with delivery; continue cannot follow discard or skip;
 * an all/any group needs children and a not exactly one.  ERR_CONFIG
 * naming the rule otherwise.
 */
int filter_rule_check(const struct filter_rule *r, struct err *err);

enum filter_verdict {
	FILTER_DELIVER = 0,
	FILTER_DISCARD,
	FILTER_SKIP,
};

struct filter_decision {
	enum filter_verdict verdict;
	const char *folder; /* borrowed from the rule; NULL for the inbox */
	bool is_path;       /* folder is a path, not a Maildir++ name */
	unsigned int flags; /* FILTER_FLAG_* to store with */
	const char *rule;   /* borrowed: the last rule that matched, "inbox" */
};

/*
 * Decide what to do with a message of size bytes whose header is msg,
 * by rules[0..n-1] (checked with filter_rule_check()).  A pure function
 * apart from parsing msg on first use.  Rules apply in order: the first
 * that matches decides, unless it says continue, in which case later
 * matching rules may change the folder or the verdict and add flags.
 * No match delivers to the inbox with no flags.  Fails only on a rule
 * that filter_rule_check() would refuse (ERR_SOFTWARE).
 *
 * msg NULL: decide from the size alone (what LIST says, before any
 * download): 0 with *out when every rule that must be looked at is
 * settled by the size (larger, smaller, and groups of them), 1 (*out
 * untouched) when one needs the header.
 */
int filter_decide(const struct filter_rule *rules, size_t n,
    struct filter_msg *msg, uint64_t size, struct filter_decision *out,
    struct err *err);

/*
 * Does any rule need more than the header and the size (so that the
 * message must be downloaded before deciding)?
 */
bool filter_rules_need_body(const struct filter_rule *rules, size_t n);

/*
 * Describe a decision for a listing, e.g. "folder .Lists.dev +seen",
 * "inbox", "discard", "skip"; into buf (always NUL-terminated).
 */
void filter_decision_describe(const struct filter_decision *d, char *buf,
    size_t size);

const char *filter_cond_kind_name(enum filter_cond_kind kind);

#endif
