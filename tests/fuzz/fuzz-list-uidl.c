/*
 * The scan and unique-id listings (RFC 1939 §5 LIST, §7 UIDL) on a
 * logged-in session: LIST, then UIDL over what LIST returned, then
 * QUIT.  Whatever the server sends, what comes back must be what
 * pop3.h promises: numbers from 1, unique and sorted; unique-ids of 1 to
 * 70 octets in 0x21..0x7e, only for listed messages.
 *
 * Input: one byte choosing the read size, then the server's bytes after
 * the login.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fetch/pop3.h"
#include "tests/fuzz/fuzz.h"
#include "tests/unit/mock-transport.h"

/* Greeting, USER, PASS. */
#define FUZZ_LOGIN "+OK\r\n+OK\r\n+OK\r\n"

static void
check_list(const struct pop3_msg *msgs, size_t n)
{
	size_t i;

	FUZZ_CHECK(n <= POP3_MAX_MESSAGES);
	FUZZ_CHECK(n == 0 || msgs != NULL);
	for (i = 0; i < n; i++) {
		FUZZ_CHECK(
		    msgs[i].num >= 1 && msgs[i].num <= POP3_MAX_MESSAGES);
		FUZZ_CHECK(i == 0 || msgs[i].num > msgs[i - 1].num);
		FUZZ_CHECK(!msgs[i].has_uid);
	}
}

static void
check_uids(const struct pop3_msg *msgs, size_t n, const unsigned *nums)
{
	size_t i, len;

	for (i = 0; i < n; i++) {
		/* UIDL fills in entries; it never renumbers them. */
		FUZZ_CHECK(msgs[i].num == nums[i]);
		if (!msgs[i].has_uid)
			continue;
		len = strnlen(msgs[i].uid, sizeof(msgs[i].uid));
		FUZZ_CHECK(len >= 1 && len <= POP3_UID_MAX);
		FUZZ_CHECK(fuzz_is_printable(msgs[i].uid, len));
		FUZZ_CHECK(strchr(msgs[i].uid, ' ') == NULL);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pop3_msg *msgs = NULL;
	struct pop3_session *s;
	struct transport *t;
	struct err err;
	unsigned *nums = NULL;
	size_t i, n = 0;
	bool is_supported = true;
	int rc;

	if (size == 0)
		return 0;
	s = fuzz_session(FUZZ_LOGIN, data + 1, size - 1, fuzz_chunk(data[0]),
	    &t);
	err_clear(&err);
	FUZZ_CHECK(pop3_greeting(s, &err) == 0);
	FUZZ_CHECK(pop3_user_pass(s, "u", "p", &err) == 0);
	err_clear(&err);
	if (pop3_list(s, &msgs, &n, &err) == -1) {
		fuzz_check_err(&err);
		FUZZ_CHECK(msgs == NULL && n == 0);
		FUZZ_CHECK(pop3_get_state(s) == POP3_BROKEN);
		goto out;
	}
	FUZZ_CHECK(pop3_get_state(s) == POP3_TRANSACTION);
	check_list(msgs, n);
	nums = calloc(n > 0 ? n : 1, sizeof(*nums));
	FUZZ_CHECK(nums != NULL);
	for (i = 0; i < n; i++)
		nums[i] = msgs[i].num;
	err_clear(&err);
	rc = pop3_uidl(s, msgs, n, &is_supported, &err);
	check_uids(msgs, n, nums);
	if (rc == -1) {
		fuzz_check_err(&err);
		FUZZ_CHECK(!is_supported);
		goto out;
	}
	FUZZ_CHECK(pop3_get_state(s) == POP3_TRANSACTION);
	/* A server without UIDL leaves every entry without a uid. */
	if (!is_supported)
		for (i = 0; i < n; i++)
			FUZZ_CHECK(!msgs[i].has_uid);
	err_clear(&err);
	if (pop3_quit(s, &err) == -1)
		fuzz_check_err(&err);
out:
	if (pop3_get_state(s) == POP3_BROKEN)
		fuzz_check_broken(s, t);
	free(nums);
	free(msgs);
	pop3_free(s);
	return 0;
}
