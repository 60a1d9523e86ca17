#ifndef POPFETCH_FETCH_PLAN_H
#define POPFETCH_FETCH_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fetch/pop3.h"
#include "util/err.h"

/*
 * What to do with the copies on the server.
 *   keep:  leave everything; retrieve only what was not delivered before.
 *   each:  RETR 1, DELE 1, RETR 2, DELE 2, ... (Foxmail style).
 *   batch: RETR every wanted message, then DELE them all (Outlook style).
 */
enum plan_policy {
	PLAN_KEEP = 0,
	PLAN_EACH,
	PLAN_BATCH,
};

enum plan_op {
	PLAN_RETR,
	PLAN_DELE,
};

struct plan_step {
	enum plan_op op;
	size_t idx; /* index into the msgs array given to plan_build() */
};

struct plan {
	struct plan_step *steps; /* owned; in the order to run them */
	size_t nsteps;
	size_t nretr; /* how many steps are RETR */
	size_t ndele; /* how many steps are DELE */
	size_t cap;   /* room in steps */
};

/*
 * Is msgs[i] already delivered (so not to be retrieved again)?  Only
 * asked for messages with has_uid.
 */
typedef bool plan_seen_fn(void *arg, const struct pop3_msg *msg);

/*
 * Build the plan for n messages (as LIST/UIDL gave them) under policy.
 * A pure function: no I/O.
 *
 * A message without a uid is never taken as seen: under keep it is left
 * alone (neither retrieved nor deleted), under each/batch it is retrieved
 * and deleted like any other.  Under each/batch, a
 * message already delivered (its DELE was lost) is deleted without being
 * retrieved again.  The runner must still refuse to send a DELE for a
 * message whose RETR step in this plan did not end durably.  A message
 * with has_bad_size is left alone under every policy.
 *
 * keep needs uids: has_uidl false under PLAN_KEEP is ERR_PROTO ("server
 * has no UIDL").  Under keep, a message already delivered for which
 * expired (may be NULL) says yes has kept its time on the server: it is
 * deleted, after the retrievals, without being retrieved again.
 */
int plan_build(const struct pop3_msg *msgs, size_t n, bool has_uidl,
    plan_seen_fn *seen, plan_seen_fn *expired, void *arg,
    enum plan_policy policy, struct plan *out, struct err *err);

void plan_cleanup(struct plan *p);

/*
 * keep_days: when a message first seen at first_seen (seconds since the
 * epoch) has had its keep_days days on the server; and whether it is
 * due for deletion at now (from that moment on).  The one deadline both
 * the run and --status go by.
 */
int64_t plan_keep_until(int64_t first_seen, unsigned keep_days);
bool plan_is_due(int64_t first_seen, unsigned keep_days, int64_t now);

/*
 * The commands of p as they go on the wire, for people (--dry-run), with
 * the messages' numbers (msgs as given to plan_build()): "RETR 1, DELE 1,
 * RETR 2, DELE 2, QUIT".  is_sent (may be NULL: every step) says, step
 * by step, which the run sends.  Of a long plan, the first and the last
 * few commands, and how many are left out between them.  Caller owns.
 */
char *plan_describe(const struct plan *p, const struct pop3_msg *msgs,
    const bool *is_sent);

const char *plan_policy_name(enum plan_policy policy);

/*
 * The order of commands policy puts on the wire, for people (--dry-run):
 * a static string.
 */
const char *plan_policy_order(enum plan_policy policy);

#endif
