/*
 * The header-to-decision path of the rules: a message's header, fed in
 * pieces as it would arrive, parsed with GMime and decided on by a
 * fixed set of rules using every kind of condition.  Whatever the bytes,
 * the decision must be one the rules can give, and every string the
 * parser hands out must be valid UTF-8.
 *
 * Input: one byte choosing the piece size, one for the message size,
 * then the header.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "filter/filter.h"
#include "tests/fuzz/fuzz.h"

#define NRULES 6

static struct filter_rule rules[NRULES];

static struct filter_cond *
leaf(enum filter_cond_kind kind, const char *header, const char *arg)
{
	struct filter_cond *c;
	struct err err;

	FUZZ_CHECK(filter_cond_new(kind, header, arg, &c, &err) == 0);
	return c;
}

static struct filter_cond *
group(enum filter_cond_kind kind, struct filter_cond *a, struct filter_cond *b)
{
	struct filter_cond *g = leaf(kind, NULL, NULL);
	struct err err;

	FUZZ_CHECK(filter_cond_add(g, a, &err) == 0);
	if (b != NULL)
		FUZZ_CHECK(filter_cond_add(g, b, &err) == 0);
	return g;
}

static void
rule(size_t i, const char *name, struct filter_cond *cond,
    enum filter_action action, const char *folder, unsigned flags,
    bool is_continue)
{
	struct err err;

	filter_rule_init(&rules[i], name);
	filter_rule_set_cond(&rules[i], cond);
	rules[i].action = action;
	if (folder != NULL)
		FUZZ_CHECK(
		    filter_rule_set_folder(&rules[i], folder, &err) == 0);
	rules[i].flags = flags;
	rules[i].is_continue = is_continue;
	FUZZ_CHECK(filter_rule_check(&rules[i], &err) == 0);
}

static void
setup(void)
{
	filter_init();
	rule(0, "mark", leaf(FILTER_CONTAINS, "Subject", "urgent"),
	    FILTER_ACTION_NONE, NULL, FILTER_FLAG_FLAGGED, true);
	rule(1, "big", leaf(FILTER_LARGER, NULL, "100k"), FILTER_ACTION_SKIP,
	    NULL, 0, false);
	rule(2, "spam",
	    group(FILTER_ANY, leaf(FILTER_EXISTS, "X-Spam-Flag", NULL),
	        leaf(FILTER_MATCHES, "Subject", "^\\[?spam\\b")),
	    FILTER_ACTION_DISCARD, NULL, 0, false);
	rule(3, "lists",
	    group(FILTER_ALL, leaf(FILTER_MATCHES, "List-Id", "<[^>]+>"),
	        group(FILTER_NOT, leaf(FILTER_DOMAIN, "From", "example.org"),
	            NULL)),
	    FILTER_ACTION_FOLDER, ".Lists", FILTER_FLAG_SEEN, false);
	rule(4, "boss", leaf(FILTER_ADDRESS, "From", "boss@example.org"),
	    FILTER_ACTION_FOLDER, "~/Mail/boss", 0, false);
	rule(5, "small", leaf(FILTER_SMALLER, NULL, "1k"), FILTER_ACTION_NONE,
	    NULL, FILTER_FLAG_SEEN, false);
}

static void
check_strings(struct filter_msg *m)
{
	static const char *const names[] = { "Subject", "From", "To", "List-Id",
		"Date", "Message-ID" };
	const char *v;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if ((v = filter_msg_header(m, names[i], 0)) != NULL)
			FUZZ_CHECK(g_utf8_validate(v, -1, NULL));
	if ((v = filter_msg_subject(m)) != NULL)
		FUZZ_CHECK(g_utf8_validate(v, -1, NULL));
	if ((v = filter_msg_from(m)) != NULL)
		FUZZ_CHECK(g_utf8_validate(v, -1, NULL));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool is_ready;
	struct filter_decision d;
	struct filter_msg *m;
	struct err err;
	size_t piece, i;
	uint64_t msgsize;
	char what[128];

	if (!is_ready) {
		setup();
		is_ready = true;
	}
	if (size < 2)
		return 0;
	piece = data[0] >= 0xc0 ? size : (size_t)(data[0] % 64) + 1;
	msgsize = (uint64_t)data[1] * 1024;
	data += 2;
	size -= 2;
	m = filter_msg_new();
	for (i = 0; i < size; i += piece)
		if (filter_msg_feed(m, data + i,
		        size - i < piece ? size - i : piece))
			break;
	FUZZ_CHECK(filter_decide(rules, NRULES, m, msgsize, &d, &err) == 0);
	/*
	 * Decided from the size alone (before any download), it is what
	 * the header decides; from the second rule on, as the first
	 * needs the header always.
	 */
	for (i = 0; i < 2; i++) {
		struct filter_decision full, early;
		int rc;

		FUZZ_CHECK(filter_decide(rules + i, NRULES - i, m, msgsize,
		               &full, &err) == 0);
		rc = filter_decide(rules + i, NRULES - i, NULL, msgsize, &early,
		    &err);
		FUZZ_CHECK(rc == 0 || rc == 1);
		FUZZ_CHECK(i == 1 || rc == 1);
		if (rc == 0)
			FUZZ_CHECK(early.verdict == full.verdict &&
			    early.folder == full.folder &&
			    early.flags == full.flags &&
			    strcmp(early.rule, full.rule) == 0);
	}
	FUZZ_CHECK(d.verdict == FILTER_DELIVER || d.verdict == FILTER_DISCARD ||
	    d.verdict == FILTER_SKIP);
	FUZZ_CHECK(d.rule != NULL);
	if (d.verdict == FILTER_SKIP)
		FUZZ_CHECK(msgsize > 100 * 1024);
	if (d.verdict != FILTER_DELIVER)
		FUZZ_CHECK(d.folder == NULL || d.verdict == FILTER_DISCARD ||
		    d.verdict == FILTER_SKIP);
	filter_decision_describe(&d, what, sizeof(what));
	FUZZ_CHECK(strlen(what) > 0);
	check_strings(m);
	filter_msg_free(m);
	return 0;
}
