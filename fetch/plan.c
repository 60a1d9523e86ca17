#include "config.h"

#include <stdlib.h>

#include <glib.h>

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
			if (!msgs[i].has_bad_size &&
			    plan_is_seen(&msgs[i], seen, arg) &&
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

int64_t
plan_keep_until(int64_t first_seen, unsigned keep_days)
{
	return first_seen + (int64_t)keep_days * 24 * 60 * 60;
}

bool
plan_is_due(int64_t first_seen, unsigned keep_days, int64_t now)
{
	return now >= plan_keep_until(first_seen, keep_days);
}

/* How much of a long plan plan_describe() shows: its head and tail. */
#define PLAN_DESCRIBE_HEAD 12
#define PLAN_DESCRIBE_TAIL 4

static void
plan_describe_step(GString *out, const struct plan_step *step,
    const struct pop3_msg *msgs)
{
	g_string_append_printf(out, "%s %u, ",
	    step->op == PLAN_RETR ? "RETR" : "DELE", msgs[step->idx].num);
}

char *
plan_describe(const struct plan *p, const struct pop3_msg *msgs,
    const bool *is_sent)
{
	GString *out = g_string_new(NULL);
	size_t i, nsent = 0, seen = 0;
	char *text;

	for (i = 0; i < p->nsteps; i++)
		nsent += is_sent == NULL || is_sent[i];
	for (i = 0; i < p->nsteps; i++) {
		if (is_sent != NULL && !is_sent[i])
			continue;
		seen++;
		/* A long plan: its head, how many left out, its tail. */
		if (nsent > PLAN_DESCRIBE_HEAD + PLAN_DESCRIBE_TAIL + 1 &&
		    seen > PLAN_DESCRIBE_HEAD &&
		    seen <= nsent - PLAN_DESCRIBE_TAIL) {
			if (seen == PLAN_DESCRIBE_HEAD + 1)
				g_string_append_printf(out,
				    "... (%zu more) ..., ",
				    nsent - PLAN_DESCRIBE_HEAD -
				        PLAN_DESCRIBE_TAIL);
			continue;
		}
		plan_describe_step(out, &p->steps[i], msgs);
	}
	g_string_append(out, "QUIT");
	text = xstrdup(out->str);
	g_string_free(out, TRUE);
	return text;
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
		return "keep: new messages only; nothing deleted but what "
		       "keep_days and delete_when_gone_locally make due, after "
		       "the RETRs";
	case PLAN_EACH:
		return "each: message by message, Foxmail's order";
	case PLAN_BATCH:
		return "batch: every RETR, then every DELE, Outlook's order";
	}
	return "unknown";
}
