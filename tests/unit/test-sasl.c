#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fetch/sasl.h"
#include "util/err.h"
#include "util/xmalloc.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static void
test_names(void **state)
{
	static const struct {
		const char *name;
		bool is_client_first, is_cleartext;
	} want[SASL_MECH_COUNT] = {
		[SASL_MECH_PLAIN] = { "PLAIN", true, true },
		[SASL_MECH_LOGIN] = { "LOGIN", false, true },
		[SASL_MECH_CRAM_MD5] = { "CRAM-MD5", false, false },
		[SASL_MECH_SCRAM_SHA_1] = { "SCRAM-SHA-1", true, false },
		[SASL_MECH_SCRAM_SHA_256] = { "SCRAM-SHA-256", true, false },
		[SASL_MECH_XOAUTH2] = { "XOAUTH2", true, true },
		[SASL_MECH_OAUTHBEARER] = { "OAUTHBEARER", true, true },
	};
	enum sasl_mech m;
	size_t i;

	(void)state;
	for (i = 0; i < SASL_MECH_COUNT; i++) {
		assert_string_equal(sasl_mech_name((enum sasl_mech)i),
		    want[i].name);
		assert_int_equal(sasl_mech_is_client_first((enum sasl_mech)i),
		    want[i].is_client_first);
		assert_int_equal(sasl_mech_is_cleartext((enum sasl_mech)i),
		    want[i].is_cleartext);
		assert_int_equal(sasl_mech_from_name(want[i].name,
		                     strlen(want[i].name), &m),
		    0);
		assert_int_equal(m, i);
	}
	/* Any case; a prefix or a longer name is another mechanism. */
	assert_int_equal(sasl_mech_from_name("scram-sha-1", 11, &m), 0);
	assert_int_equal(m, SASL_MECH_SCRAM_SHA_1);
	assert_int_equal(sasl_mech_from_name("SCRAM-SHA-1-PLUS", 16, &m), -1);
	assert_int_equal(sasl_mech_from_name("SCRAM-SHA-", 10, &m), -1);
	assert_int_equal(sasl_mech_from_name("GSSAPI", 6, &m), -1);
	assert_int_equal(sasl_mech_from_name("", 0, &m), -1);
}

/* Google's XOAUTH2 error flow, step by step. */
static void
test_xoauth2_steps(void **state)
{
	/* {"status":"400",\n"x":"\001"} */
	static const char err64[] = "eyJzdGF0dXMiOiI0MDAiLAoieCI6IgEifQ==";
	struct sasl_client *c;
	struct err err;
	char *out;

	(void)state;
	c = sasl_client_new(SASL_MECH_XOAUTH2, "bob", "tok", &err);
	assert_non_null(c);
	assert_false(sasl_client_is_done(c));
	assert_int_equal(sasl_client_step(c, NULL, 0, &out, &err), 0);
	/* "user=bob\1auth=Bearer tok\1\1" */
	assert_string_equal(out, "dXNlcj1ib2IBYXV0aD1CZWFyZXIgdG9rAQE=");
	xfree_secret(out);
	assert_true(sasl_client_is_done(c));
	assert_string_equal(sasl_client_server_error(c), "");
	/* The error challenge: kept, sanitised, answered with "". */
	assert_int_equal(sasl_client_step(c, err64, strlen(err64), &out, &err),
	    0);
	assert_string_equal(out, "");
	xfree_secret(out);
	assert_false(sasl_client_is_done(c));
	assert_string_equal(sasl_client_server_error(c),
	    "{\"status\":\"400\",?\"x\":\"?\"}");
	/* Nothing more may come. */
	assert_int_equal(sasl_client_step(c, err64, strlen(err64), &out, &err),
	    -1);
	assert_null(out);
	assert_int_equal(err.cls, ERR_PROTO);
	sasl_client_free(c);
}

/* PLAIN through GNU SASL: one step, and a second one is an error. */
static void
test_plain_steps(void **state)
{
	struct sasl_client *c;
	struct err err;
	char *out;

	(void)state;
	c = sasl_client_new(SASL_MECH_PLAIN, "bob", "hunter2", &err);
	assert_non_null(c);
	assert_int_equal(sasl_client_step(c, NULL, 0, &out, &err), 0);
	assert_string_equal(out, "AGJvYgBodW50ZXIy");
	xfree_secret(out);
	assert_true(sasl_client_is_done(c));
	assert_int_equal(sasl_client_step(c, "", 0, &out, &err), -1);
	assert_int_equal(err.cls, ERR_PROTO);
	sasl_client_free(c);
}

/* A hostile server cannot keep the exchange going for ever. */
static void
test_step_limit(void **state)
{
	struct sasl_client *c;
	struct err err;
	char *out;
	int i;

	(void)state;
	/* CRAM-MD5 takes one challenge, and one only. */
	c = sasl_client_new(SASL_MECH_CRAM_MD5, "bob", "pw", &err);
	assert_non_null(c);
	assert_int_equal(sasl_client_step(c, "PDE+", 4, &out, &err), 0);
	assert_true(sasl_client_is_done(c));
	xfree_secret(out);
	assert_int_equal(sasl_client_step(c, "PDE+", 4, &out, &err), -1);
	assert_int_equal(err.cls, ERR_PROTO);
	sasl_client_free(c);
	/* LOGIN's client ends after the password, whatever comes. */
	c = sasl_client_new(SASL_MECH_LOGIN, "bob", "pw", &err);
	assert_non_null(c);
	for (i = 0; i < 20; i++) {
		if (sasl_client_step(c, "", 0, &out, &err) == -1)
			break;
		xfree_secret(out);
	}
	assert_true(i <= 8);
	assert_int_equal(err.cls, ERR_PROTO);
	sasl_client_free(c);
}

static void
test_bad_args(void **state)
{
	static const struct {
		enum sasl_mech mech;
		const char *user, *secret;
	} cases[] = {
		{ SASL_MECH_PLAIN, "", "pw" },
		{ SASL_MECH_PLAIN, "bob", "" },
		{ SASL_MECH_SCRAM_SHA_256, "b\rob", "pw" },
		{ SASL_MECH_XOAUTH2, "bob", "a b" },
		{ SASL_MECH_XOAUTH2, "bo\001b", "tok" },
		{ SASL_MECH_OAUTHBEARER, "bob", "tok\x80" },
	};
	struct err err;
	size_t i;

	(void)state;
	for (i = 0; i < N_OF(cases); i++) {
		err_clear(&err);
		assert_null(sasl_client_new(cases[i].mech, cases[i].user,
		    cases[i].secret, &err));
		assert_int_equal(err.cls, ERR_CONFIG);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_xoauth2_steps),
		cmocka_unit_test(test_plain_steps),
		cmocka_unit_test(test_step_limit),
		cmocka_unit_test(test_bad_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
