#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "cli/rules.h"
#include "filter/filter.h"
#include "util/xmalloc.h"

struct rules {
	struct filter_rule *v;
	size_t n;
};

static enum filter_cond_kind
rules_kind(enum conf_cond_kind kind)
{
	switch (kind) {
	case CONF_COND_MATCHES:
		return FILTER_MATCHES;
	case CONF_COND_CONTAINS:
		return FILTER_CONTAINS;
	case CONF_COND_ADDRESS:
		return FILTER_ADDRESS;
	case CONF_COND_DOMAIN:
		return FILTER_DOMAIN;
	case CONF_COND_LARGER:
		return FILTER_LARGER;
	case CONF_COND_SMALLER:
		return FILTER_SMALLER;
	case CONF_COND_EXISTS:
		return FILTER_EXISTS;
	case CONF_COND_MISSING:
		return FILTER_MISSING;
	}
	return FILTER_EXISTS;
}

/* A group of kind holding the n conditions v; *out NULL when n is 0. */
static int
rules_group(const struct conf *c, const struct conf_rule *cr,
    enum filter_cond_kind kind, const struct conf_cond *v, size_t n,
    struct filter_cond **out, struct err *err)
{
	struct filter_cond *group = NULL, *leaf;
	size_t i;

	*out = NULL;
	if (n == 0)
		return 0;
	if (filter_cond_new(kind, NULL, NULL, &group, err) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (filter_cond_new(rules_kind(v[i].kind), v[i].header,
		        v[i].arg, &leaf, err) == -1 ||
		    filter_cond_add(group, leaf, err) == -1) {
			err_prefix(err, "%s:%u: rule \"%s\"", c->path,
			    v[i].line, cr->name);
			filter_cond_free(group);
			return -1;
		}
	}
	*out = group;
	return 0;
}

/*
 * The rule's condition: its conditions combined by all (or any), and
 * not all of its "not" ones.  NULL matches every message.
 */
static int
rules_cond(const struct conf *c, const struct conf_rule *cr,
    struct filter_cond **out, struct err *err)
{
	struct filter_cond *pos, *neg, *not = NULL, *both = NULL;

	*out = NULL;
	if (rules_group(c, cr, cr->is_any ? FILTER_ANY : FILTER_ALL, cr->conds,
	        cr->nconds, &pos, err) == -1)
		return -1;
	if (rules_group(c, cr, FILTER_ALL, cr->nots, cr->nnots, &neg, err) ==
	    -1) {
		filter_cond_free(pos);
		return -1;
	}
	if (neg == NULL) {
		*out = pos;
		return 0;
	}
	if (filter_cond_new(FILTER_NOT, NULL, NULL, &not, err) == -1 ||
	    filter_cond_add(not, neg, err) == -1)
		goto fail;
	neg = NULL;
	if (pos == NULL) {
		*out = not ;
		return 0;
	}
	if (filter_cond_new(FILTER_ALL, NULL, NULL, &both, err) == -1 ||
	    filter_cond_add(both, pos, err) == -1)
		goto fail;
	pos = NULL;
	if (filter_cond_add(both, not, err) == -1) {
		not = NULL;
		goto fail;
	}
	*out = both;
	return 0;
fail:
	filter_cond_free(pos);
	filter_cond_free(neg);
	filter_cond_free(not );
	filter_cond_free(both);
	return -1;
}

static int
rules_one(const struct conf *c, const struct conf_rule *cr,
    struct filter_rule *r, struct err *err)
{
	struct filter_cond *cond;

	filter_rule_init(r, cr->name);
	if (rules_cond(c, cr, &cond, err) == -1)
		return -1;
	filter_rule_set_cond(r, cond);
	switch (cr->action) {
	case CONF_ACTION_NONE:
		r->action = FILTER_ACTION_NONE;
		break;
	case CONF_ACTION_FOLDER:
		r->action = FILTER_ACTION_FOLDER;
		if (filter_rule_set_folder(r, cr->folder, err) == -1)
			goto fail;
		break;
	case CONF_ACTION_DISCARD:
		r->action = FILTER_ACTION_DISCARD;
		break;
	case CONF_ACTION_SKIP:
		r->action = FILTER_ACTION_SKIP;
		break;
	}
	r->flags = (cr->is_seen ? FILTER_FLAG_SEEN : 0) |
	    (cr->is_flagged ? FILTER_FLAG_FLAGGED : 0);
	r->is_continue = cr->is_continue;
	if (filter_rule_check(r, err) == 0)
		return 0;
fail:
	err_prefix(err, "%s:%u: rule \"%s\"", c->path, cr->line, cr->name);
	return -1;
}

struct rules *
rules_build(const struct conf *c, const struct conf_account *acct,
    struct err *err)
{
	struct rules *rs = xcalloc(1, sizeof(*rs));
	size_t i;

	rs->v = xcalloc(acct->nrules == 0 ? 1 : acct->nrules, sizeof(*rs->v));
	for (i = 0; i < acct->nrules; i++) {
		rs->n++;
		if (rules_one(c, &c->rules[acct->rules[i]], &rs->v[i], err) ==
		    -1) {
			rules_free(rs);
			return NULL;
		}
	}
	return rs;
}

void
rules_free(struct rules *rs)
{
	size_t i;

	if (rs == NULL)
		return;
	for (i = 0; i < rs->n; i++)
		filter_rule_cleanup(&rs->v[i]);
	free(rs->v);
	free(rs);
}

size_t
rules_count(const struct rules *rs)
{
	return rs->n;
}

void
rules_each_path(const struct rules *rs, void (*fn)(void *, const char *),
    void *arg)
{
	size_t i;

	for (i = 0; i < rs->n; i++)
		if (rs->v[i].action == FILTER_ACTION_FOLDER &&
		    filter_folder_is_path(rs->v[i].folder))
			fn(arg, rs->v[i].folder);
}

int
rules_decide(const struct rules *rs, const char *header, size_t len,
    uint64_t size, struct rules_decision *out, struct err *err)
{
	struct filter_decision d;
	struct filter_msg *m;
	int rc;

	m = header != NULL ? filter_msg_new() : NULL;
	if (m != NULL)
		(void)filter_msg_feed(m, header, len);
	rc = filter_decide(rs->v, rs->n, m, size, &d, err);
	filter_msg_free(m);
	if (rc != 0)
		return rc;
	memset(out, 0, sizeof(*out));
	out->verdict = d.verdict == FILTER_SKIP ? FETCH_SKIP
	    : d.verdict == FILTER_DISCARD       ? FETCH_DISCARD
	                                        : FETCH_STORE;
	out->folder = d.folder;
	out->is_path = d.is_path;
	out->is_seen = (d.flags & FILTER_FLAG_SEEN) != 0;
	out->is_flagged = (d.flags & FILTER_FLAG_FLAGGED) != 0;
	out->rule = d.rule;
	filter_decision_describe(&d, out->what, sizeof(out->what));
	return 0;
}

/* Decoded text made fit for a terminal: valid UTF-8, no controls. */
static void
rules_printable(const char *s, char *buf, size_t size)
{
	gchar *valid = g_utf8_make_valid(s != NULL ? s : "", -1);
	char *p;

	for (p = valid; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	/* Cut at a character boundary. */
	if (strlen(valid) >= size) {
		const char *end = g_utf8_find_prev_char(valid, valid + size);

		valid[end != NULL ? end - valid : 0] = '\0';
	}
	(void)snprintf(buf, size, "%s", valid);
	g_free(valid);
}

void
rules_describe(const char *header, size_t len, char *date, char *from,
    char *subject, size_t size)
{
	struct filter_msg *m = filter_msg_new();

	(void)filter_msg_feed(m, header, len);
	rules_printable(filter_msg_date(m), date, size);
	rules_printable(filter_msg_from(m), from, size);
	rules_printable(filter_msg_subject(m), subject, size);
	filter_msg_free(m);
}
