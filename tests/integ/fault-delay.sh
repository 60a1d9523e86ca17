#!/bin/sh
# shellcheck disable=SC2317,SC2119 # checks run through fake_check
# A LOGIN-DELAY announced in CAPA (RFC 2449 §6.5) is remembered: a run
# that comes sooner does not even connect, and exits 75 saying when it
# may.  EXPIRE 0 with delete = keep gets a warning.

LIB_NEED_DOVECOT=no
# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/lib.sh"

[ -x "$FAKE_BIN" ] || fail "$FAKE_BIN is missing: run make check"

check_delay()
{
	fake_start login-delay
	fake_account ld off keep
	fake_pf
	assert_rc 0 "the first run"
	fake_message "the first run" 'EXPIRE 0'
	fake_finish "the first run"
	[ -s "$XDG_STATE_HOME/popfetch/ld.delay" ] ||
	    fail "the delay was not remembered"

	fake_pf
	assert_rc 75 "a run within the delay"
	fake_message "a run within the delay" \
	    "LOGIN-DELAY allows the next login in [0-9]+ s"
	if grep -q 'connect to\|C: ' "$PF_ERR"; then
		fail "a run within the delay connected"
	fi
}

fake_check "LOGIN-DELAY is waited for" check_delay
fake_summary
