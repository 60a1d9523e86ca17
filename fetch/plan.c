#include "config.h"

#include <stdlib.h>

#include "fetch/plan.h"
#include "util/xmalloc.h"

static bool
plan_is_seen(const struct pop3_msg *msg, plan_seen_fn *seen, void *arg)
{
	return msg->has_uid && seen != NULL && seen(arg, msg);
}

/*
 * The array grows as steps come: a run with nothing to do (most runs of
 * a big keep mailbox) allocates nothing.
 */
static void
plan_add(struct plan *p, enum plan_op op, size_t idx)
{
	if (p->nsteps == p->cap) {
		p->cap = p->cap == 0 ? 64 : 2 * p->cap;
		p->steps = xreallocarray(p->steps, p->cap, sizeof(*p->steps));
	}
	p->steps[p->nsteps].op = op;
	p->steps[p->nsteps].idx = idx;
	p->nsteps++;
	if (op == PLAN_RETR)
		p->nretr++;
	else
		p->ndele++;
}

int
plan_build(const struct pop3_msg *msgs, size_t n, bool has_uidl,
    plan_seen_fn *seen, plan_seen_fn *expired, void *arg,
    enum plan_policy policy, struct plan *out, struct err *err)
{
	size_t i;

	out->steps = NULL;
	out->nsteps = out->nretr = out->ndele = out->cap = 0;
	if (policy == PLAN_KEEP && !has_uidl) {
		err_setx(err, ERR_PROTO,
		    "server has no UIDL, so delete = keep cannot tell new "
		    "messages from old ones");
		return -1;
	}
	for (i = 0; i < n; i++) {
		bool is_seen = plan_is_seen(&msgs[i], seen, arg);

		/*
		 * keep cannot remember a message without a usable uid, so
		 * fetching it would store it again on every run: it stays
		 * on the server, untouched.
		 */
		if (policy == PLAN_KEEP && !msgs[i].has_uid)
			continue;
		/* A size nothing can record: never fetched nor deleted. */
		if (msgs[i].has_bad_size)
			continue;
		if (!is_seen)
			plan_add(out, PLAN_RETR, i);
		if (policy == PLAN_EACH)
			plan_add(out, PLAN_DELE, i);
	}
	if (policy == PLAN_BATCH)
		for (i = 0; i < n; i++)
			if (!msgs[i].has_bad_size)
				plan_add(out, PLAN_DELE, i);
	/* keep_days: what has stayed its time goes, unread again. */
	if (policy == PLAN_KEEP && expired != NULL)
		for (i = 0; i < n; i++)
			if (plan_is_seen(&msgs[i], seen, arg) &&
			    expired(arg, &msgs[i]))
				plan_add(out, PLAN_DELE, i);
	return 0;
}

void
plan_cleanup(struct plan *p)
{
	free(p->steps);
	p->steps = NULL;
	p->nsteps = p->nretr = p->ndele = p->cap = 0;
}

const char *
plan_policy_name(enum plan_policy policy)
{
	switch (policy) {
	case PLAN_KEEP:
		return "keep";
	case PLAN_EACH:
		return "each";
	case PLAN_BATCH:
		return "batch";
	}
	return "unknown";
}

const char *
plan_policy_order(enum plan_policy policy)
{
	switch (policy) {
	case PLAN_KEEP:
		return "RETR of each new message, then QUIT; nothing deleted "
		       "(keep_days and delete_when_gone_locally: DELE of what "
		       "is due, after the RETRs)";
	case PLAN_EACH:
		return "message by message: RETR 1, DELE 1, RETR 2, DELE 2, "
		       "..., QUIT (Foxmail's order)";
	case PLAN_BATCH:
		return "RETR 1, RETR 2, ..., then DELE 1, DELE 2, ..., QUIT "
		       "(Outlook's order)";
	}
	return "unknown";
}
