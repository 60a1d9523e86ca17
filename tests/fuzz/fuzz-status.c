/*
 * The server's side of a login and a few one-line commands: greeting,
 * CAPA (and STLS with CAPA again if offered), USER, PASS, STAT, NOOP,
 * DELE, RSET, QUIT.  Every reply passes through the status line and
 * response-code parser (RFC 1939 §3, RFC 2449 §8, RFC 3206).
 *
 * Input: one byte choosing the read size, then the server's bytes.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "fetch/pop3.h"
#include "tests/fuzz/fuzz.h"
#include "tests/unit/mock-transport.h"

#define FUZZ_USER "fuzzuser"
#define FUZZ_PASS "fuzz-s3cret"

/* What pop3.h promises a response code turns a -ERR into. */
static enum err_class
expected_class(enum pop3_resp_code code, enum err_class dflt)
{
	switch (code) {
	case POP3_RESP_IN_USE:
	case POP3_RESP_LOGIN_DELAY:
	case POP3_RESP_SYS_TEMP:
		return ERR_TEMP;
	case POP3_RESP_AUTH:
		return ERR_AUTH;
	case POP3_RESP_SYS_PERM:
		return ERR_PROTO;
	case POP3_RESP_NONE:
	case POP3_RESP_OTHER:
		break;
	}
	return dflt;
}

/*
 * A failed command that left the session usable was refused by a -ERR
 * just read: its class follows from that reply's response code.
 */
static void
check_refusal(struct pop3_session *s, const struct err *err,
    enum err_class dflt, const uint8_t *data, size_t size)
{
	fuzz_check_err(err);
	/* The password never shows, unless the server itself sent it. */
	if (strstr(err->msg, FUZZ_PASS) != NULL)
		FUZZ_CHECK(
		    memmem(data, size, FUZZ_PASS, strlen(FUZZ_PASS)) != NULL);
	if (pop3_get_state(s) != POP3_BROKEN)
		FUZZ_CHECK(
		    err->cls == expected_class(pop3_last_resp_code(s), dflt));
}

static void
check_caps(const struct pop3_caps *c)
{
	FUZZ_CHECK(c->expire >= -1);
	FUZZ_CHECK(c->login_delay >= -1);
	if (!c->has_capa)
		FUZZ_CHECK(!c->stls && !c->uidl && !c->top && !c->user &&
		    !c->pipelining && !c->resp_codes && c->expire == -1 &&
		    c->login_delay == -1);
}

static int
do_capa(struct pop3_session *s, const uint8_t *data, size_t size)
{
	struct err err;

	err_clear(&err);
	if (pop3_capa(s, &err) == -1) {
		check_refusal(s, &err, ERR_PROTO, data, size);
		FUZZ_CHECK(pop3_get_state(s) == POP3_BROKEN);
		check_caps(pop3_get_caps(s));
		return -1;
	}
	FUZZ_CHECK(pop3_get_state(s) == POP3_AUTHORIZATION);
	check_caps(pop3_get_caps(s));
	return 0;
}

static int
do_login(struct pop3_session *s, const uint8_t *data, size_t size)
{
	struct transport_tls_opts opts = { .hostname = "fuzz.invalid" };
	struct err err;

	err_clear(&err);
	if (pop3_greeting(s, &err) == -1) {
		check_refusal(s, &err, ERR_TEMP, data, size);
		FUZZ_CHECK(pop3_get_state(s) == POP3_BROKEN);
		/* No earlier reply: a code can only come from this one. */
		if (pop3_last_resp_code(s) != POP3_RESP_NONE)
			FUZZ_CHECK(err.cls ==
			    expected_class(pop3_last_resp_code(s), ERR_TEMP));
		return -1;
	}
	FUZZ_CHECK(pop3_get_state(s) == POP3_AUTHORIZATION);
	if (do_capa(s, data, size) == -1)
		return -1;
	if (pop3_get_caps(s)->stls) {
		err_clear(&err);
		if (pop3_stls(s, &opts, &err) == -1) {
			check_refusal(s, &err, ERR_PROTO, data, size);
			FUZZ_CHECK(pop3_get_state(s) == POP3_BROKEN);
			return -1;
		}
		/* RFC 2595 §4: nothing said in the clear survives. */
		check_caps(pop3_get_caps(s));
		FUZZ_CHECK(!pop3_get_caps(s)->has_capa);
		if (do_capa(s, data, size) == -1)
			return -1;
	}
	err_clear(&err);
	if (pop3_user_pass(s, FUZZ_USER, FUZZ_PASS, &err) == -1) {
		check_refusal(s, &err, ERR_AUTH, data, size);
		return -1;
	}
	FUZZ_CHECK(pop3_get_state(s) == POP3_TRANSACTION);
	return 0;
}

static void
do_transaction(struct pop3_session *s, const uint8_t *data, size_t size)
{
	struct err err;
	uint64_t total;
	unsigned count;

	err_clear(&err);
	if (pop3_stat(s, &count, &total, &err) == -1) {
		check_refusal(s, &err, ERR_PROTO, data, size);
		return;
	}
	err_clear(&err);
	if (pop3_noop(s, &err) == -1) {
		check_refusal(s, &err, ERR_PROTO, data, size);
		return;
	}
	err_clear(&err);
	if (pop3_dele(s, 1, &err) == -1) {
		check_refusal(s, &err, ERR_PROTO, data, size);
		if (pop3_get_state(s) == POP3_BROKEN)
			return;
		/* A refused DELE concerns that message alone. */
		FUZZ_CHECK(err.scope == ERR_SCOPE_MESSAGE);
		FUZZ_CHECK(pop3_get_state(s) == POP3_TRANSACTION);
	}
	err_clear(&err);
	if (pop3_rset(s, &err) == -1)
		check_refusal(s, &err, ERR_PROTO, data, size);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pop3_session *s;
	struct transport *t;
	struct err err;

	if (size == 0)
		return 0;
	s = fuzz_session(NULL, data + 1, size - 1, fuzz_chunk(data[0]), &t);
	if (do_login(s, data, size) == 0)
		do_transaction(s, data, size);
	if (pop3_get_state(s) == POP3_AUTHORIZATION ||
	    pop3_get_state(s) == POP3_TRANSACTION) {
		err_clear(&err);
		if (pop3_quit(s, &err) == -1) {
			check_refusal(s, &err, ERR_PROTO, data, size);
			FUZZ_CHECK(pop3_get_state(s) == POP3_BROKEN);
		} else
			FUZZ_CHECK(pop3_get_state(s) == POP3_DISCONNECTED);
	}
	if (pop3_get_state(s) == POP3_BROKEN)
		fuzz_check_broken(s, t);
	/* Whatever the server said, no command carried a line break. */
	FUZZ_CHECK(strstr(mock_transport_written(t), "\r\n\r\n") == NULL);
	pop3_free(s);
	return 0;
}
