#ifndef POPFETCH_CLI_RULES_H
#define POPFETCH_CLI_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/conf.h"
#include "fetch/fetch.h"
#include "util/err.h"

/*
 * An account's rules, made from the configuration's for the filter
 * module, and the decisions taken with them.
 */
struct rules;

struct rules_decision {
	enum fetch_verdict verdict;
	const char *folder; /* NULL: the account's Maildir; borrowed */
	bool is_path;       /* folder is a path, not a Maildir++ name */
	bool is_seen, is_flagged;
	const char *rule; /* the rule that decided, or "inbox"; borrowed */
	char what[128];   /* "folder .Lists.dev +seen", "skip", ... */
};

/*
 * The rules acct applies, in order.  A bad regex, size, header name or
 * folder is ERR_CONFIG "PATH:LINE: rule "NAME": ...".  Returns a new
 * set (caller owns, rules_free()), or NULL.  An account without rules
 * gets an empty set.
 */
struct rules *rules_build(const struct conf *c, const struct conf_account *acct,
    struct err *err);
void rules_free(struct rules *rs);
size_t rules_count(const struct rules *rs);

/*
 * Call fn(arg, folder) for each Maildir the rules file into by path
 * ("~/Mail/lists", as written), so that its messages count as the
 * account's (recovery, delete_when_gone_locally, --rebuild-state).
 */
void rules_each_path(const struct rules *rs, void (*fn)(void *, const char *),
    void *arg);

/*
 * Decide for a message of size octets from its header (len octets).
 * out's strings are borrowed from rs.  header NULL: from the size alone;
 * 1 when that is not enough (see filter_decide()).
 */
int rules_decide(const struct rules *rs, const char *header, size_t len,
    uint64_t size, struct rules_decision *out, struct err *err);

/*
 * The header's Date, From and Subject, decoded, for a listing: each
 * printable UTF-8 (control characters replaced), into buffers of size
 * octets.
 */
void rules_describe(const char *header, size_t len, char *date, char *from,
    char *subject, size_t size);

#endif
