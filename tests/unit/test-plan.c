#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fetch/plan.h"

#define NMSG 5

static struct pop3_msg msgs[NMSG];

/* Messages whose uid is in this string ("a c") count as seen. */
static const char *seen_uids;

static bool
seen(void *arg, const struct pop3_msg *msg)
{
	char key[POP3_UID_MAX + 3];

	assert_ptr_equal(arg, &seen_uids);
	assert_true(msg->has_uid);
	(void)snprintf(key, sizeof(key), " %s ", msg->uid);
	return strstr(seen_uids, key) != NULL;
}

static int
setup(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NMSG; i++) {
		msgs[i].num = (unsigned)i + 1;
		msgs[i].size = 100 * (i + 1);
		msgs[i].has_uid = true;
		(void)snprintf(msgs[i].uid, sizeof(msgs[i].uid), "%c",
		    (char)('a' + i));
	}
	seen_uids = " ";
	return 0;
}

/* Render a plan as "R1 D1 R2 ..." (message numbers) for comparison. */
static void
render(const struct plan *p, char *buf, size_t len)
{
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < p->nsteps; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%c%u",
		    i == 0 ? "" : " ", p->steps[i].op == PLAN_RETR ? 'R' : 'D',
		    msgs[p->steps[i].idx].num);
}

static void
check(enum plan_policy policy, bool has_uidl, const char *want)
{
	struct plan p;
	struct err err;
	char got[256];

	err_clear(&err);
	assert_int_equal(plan_build(msgs, NMSG, has_uidl, seen, NULL,
	                     &seen_uids, policy, &p, &err),
	    0);
	render(&p, got, sizeof(got));
	assert_string_equal(got, want);
	plan_cleanup(&p);
}

static void
test_keep_all_new(void **state)
{
	(void)state;
	check(PLAN_KEEP, true, "R1 R2 R3 R4 R5");
}

static void
test_keep_skips_seen(void **state)
{
	(void)state;
	seen_uids = " a c e ";
	check(PLAN_KEEP, true, "R2 R4");
	seen_uids = " a b c d e ";
	check(PLAN_KEEP, true, "");
}

static void
test_each_interleaves(void **state)
{
	(void)state;
	check(PLAN_EACH, true, "R1 D1 R2 D2 R3 D3 R4 D4 R5 D5");
}

static void
test_batch_retrieves_then_deletes(void **state)
{
	(void)state;
	check(PLAN_BATCH, true, "R1 R2 R3 R4 R5 D1 D2 D3 D4 D5");
}

/* A message whose DELE was lost last time is deleted, not fetched again. */
static void
test_seen_deleted_without_retrieval(void **state)
{
	(void)state;
	seen_uids = " b d ";
	check(PLAN_EACH, true, "R1 D1 D2 R3 D3 D4 R5 D5");
	check(PLAN_BATCH, true, "R1 R3 R5 D1 D2 D3 D4 D5");
}

/*
 * Without a uid a message can never be taken as seen: each/batch fetch
 * it, keep leaves it alone rather than fetch it on every run.
 */
static void
test_no_uid_never_seen(void **state)
{
	(void)state;
	seen_uids = " a b c d e ";
	msgs[1].has_uid = false;
	check(PLAN_KEEP, true, "");
	check(PLAN_EACH, false, "D1 R2 D2 D3 D4 D5");
	check(PLAN_BATCH, true, "R2 D1 D2 D3 D4 D5");
	seen_uids = " ";
	msgs[3].has_uid = false;
	msgs[3].has_bad_uid = true;
	check(PLAN_KEEP, true, "R1 R3 R5");
}

static void
test_keep_needs_uidl(void **state)
{
	struct plan p;
	struct err err;

	(void)state;
	err_clear(&err);
	assert_int_equal(plan_build(msgs, NMSG, false, seen, NULL, &seen_uids,
	                     PLAN_KEEP, &p, &err),
	    -1);
	assert_int_equal(err.cls, ERR_PROTO);
	assert_non_null(strstr(err.msg, "UIDL"));
	assert_null(p.steps);
}

static void
test_empty_mailbox(void **state)
{
	struct plan p;
	struct err err;

	(void)state;
	assert_int_equal(plan_build(msgs, 0, true, seen, NULL, &seen_uids,
	                     PLAN_BATCH, &p, &err),
	    0);
	assert_int_equal(p.nsteps, 0);
	assert_int_equal(p.nretr, 0);
	assert_int_equal(p.ndele, 0);
	plan_cleanup(&p);
}

static void
test_counts(void **state)
{
	struct plan p;
	struct err err;

	(void)state;
	seen_uids = " c ";
	assert_int_equal(plan_build(msgs, NMSG, true, seen, NULL, &seen_uids,
	                     PLAN_BATCH, &p, &err),
	    0);
	assert_int_equal(p.nretr, 4);
	assert_int_equal(p.ndele, 5);
	assert_int_equal(p.nsteps, 9);
	plan_cleanup(&p);
	assert_string_equal(plan_policy_name(PLAN_EACH), "each");
}

/* Seen messages whose uid is in expired_uids have kept their time. */
static const char *expired_uids;

static bool
expired(void *arg, const struct pop3_msg *msg)
{
	char key[POP3_UID_MAX + 3];

	assert_ptr_equal(arg, &seen_uids);
	(void)snprintf(key, sizeof(key), " %s ", msg->uid);
	return strstr(expired_uids, key) != NULL;
}

/* keep_days: expired messages are deleted after the new are fetched. */
static void
test_keep_days(void **state)
{
	struct plan p;
	struct err err;
	char got[256];

	(void)state;
	seen_uids = " a b d ";
	expired_uids = " b d e ";
	assert_int_equal(plan_build(msgs, NMSG, true, seen, expired, &seen_uids,
	                     PLAN_KEEP, &p, &err),
	    0);
	render(&p, got, sizeof(got));
	/* e is not seen: fetched, never deleted on its first run. */
	assert_string_equal(got, "R3 R5 D2 D4");
	plan_cleanup(&p);
}

/* The deadline keep_days sets, which the run and --status both use. */
static void
test_keep_until(void **state)
{
	(void)state;
	assert_int_equal(plan_keep_until(1000, 0), 1000);
	assert_int_equal(plan_keep_until(1000, 3), 1000 + 3 * 86400);
	assert_int_equal(plan_keep_until(1764979200, 36500),
	    1764979200 + (int64_t)36500 * 86400);
	/* Due from the deadline on, not a second before. */
	assert_false(plan_is_due(1000, 3, 1000 + 3 * 86400 - 1));
	assert_true(plan_is_due(1000, 3, 1000 + 3 * 86400));
	assert_true(plan_is_due(1000, 0, 1000));
}

/* --dry-run's "order on the wire": the plan's commands, as sent. */
static void
test_describe(void **state)
{
	struct plan p;
	struct err err;
	bool is_sent[2 * NMSG];
	char *text;

	(void)state;
	seen_uids = " b ";
	assert_int_equal(plan_build(msgs, NMSG, true, seen, NULL, &seen_uids,
	                     PLAN_EACH, &p, &err),
	    0);
	text = plan_describe(&p, msgs, NULL);
	assert_string_equal(text,
	    "RETR 1, DELE 1, DELE 2, RETR 3, DELE 3, RETR 4, DELE 4, "
	    "RETR 5, DELE 5, QUIT");
	free(text);
	/* What the run would not send (a rule skipped 4) is left out. */
	memset(is_sent, 1, sizeof(is_sent));
	is_sent[5] = is_sent[6] = false;
	text = plan_describe(&p, msgs, is_sent);
	assert_string_equal(text,
	    "RETR 1, DELE 1, DELE 2, RETR 3, DELE 3, RETR 5, DELE 5, QUIT");
	free(text);
	plan_cleanup(&p);

	/* Nothing to do: QUIT alone. */
	seen_uids = " a b c d e ";
	assert_int_equal(plan_build(msgs, NMSG, true, seen, NULL, &seen_uids,
	                     PLAN_KEEP, &p, &err),
	    0);
	text = plan_describe(&p, msgs, NULL);
	assert_string_equal(text, "QUIT");
	free(text);
	plan_cleanup(&p);
}

/* A long plan: its head and tail, and how many commands between. */
static void
test_describe_long(void **state)
{
	struct pop3_msg many[30];
	struct plan p;
	struct err err;
	size_t i;
	char *text;

	(void)state;
	memset(many, 0, sizeof(many));
	for (i = 0; i < 30; i++)
		many[i].num = (unsigned)i + 1;
	assert_int_equal(plan_build(many, 30, false, NULL, NULL, NULL,
	                     PLAN_BATCH, &p, &err),
	    0);
	text = plan_describe(&p, many, NULL);
	assert_string_equal(text,
	    "RETR 1, RETR 2, RETR 3, RETR 4, RETR 5, RETR 6, RETR 7, "
	    "RETR 8, RETR 9, RETR 10, RETR 11, RETR 12, ... (44 more) ..., "
	    "DELE 27, DELE 28, DELE 29, DELE 30, QUIT");
	free(text);
	plan_cleanup(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_keep_all_new, setup),
		cmocka_unit_test_setup(test_keep_skips_seen, setup),
		cmocka_unit_test_setup(test_each_interleaves, setup),
		cmocka_unit_test_setup(test_batch_retrieves_then_deletes,
		    setup),
		cmocka_unit_test_setup(test_seen_deleted_without_retrieval,
		    setup),
		cmocka_unit_test_setup(test_no_uid_never_seen, setup),
		cmocka_unit_test_setup(test_keep_needs_uidl, setup),
		cmocka_unit_test_setup(test_empty_mailbox, setup),
		cmocka_unit_test_setup(test_counts, setup),
		cmocka_unit_test_setup(test_keep_days, setup),
		cmocka_unit_test_setup(test_keep_until, setup),
		cmocka_unit_test_setup(test_describe, setup),
		cmocka_unit_test_setup(test_describe_long, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
