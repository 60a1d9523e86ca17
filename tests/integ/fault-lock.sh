#!/bin/sh
# shellcheck disable=SC2317,SC2119 # checks run through fake_check
# Fault injection: a second popfetch on an account that one is already
# fetching.  The contract: the second exits 75 at once with "another
# popfetch is fetching ACCOUNT"; the first is unaffected.  The lock is
# $XDG_STATE_HOME/popfetch/ACCOUNT.lock, held with flock(2).

LIB_NEED_DOVECOT=no
# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/lib.sh"

[ -x "$FAKE_BIN" ] || fail "$FAKE_BIN is missing: run make check"

check_lock()
{
	# The fake server answers LIST after 4 s.
	fake_start lock
	fake_account lk off each
	fake_pf_bg
	fake_wait_line 1 '^LIST$' 20

	if command -v flock >/dev/null 2>&1; then
		lock=$XDG_STATE_HOME/popfetch/lk.lock
		if [ ! -f "$lock" ]; then
			fail "no lock file $lock while popfetch runs"
		elif flock -n "$lock" true; then
			fail "$lock is not locked while popfetch runs"
		fi
	fi

	PF_OUT=$T/second.out
	PF_ERR=$T/second.err
	fake_pf
	assert_rc 75 "a second popfetch on the same account"
	fake_within "a second popfetch on the same account" 3000
	fake_message "a second popfetch on the same account" \
	    'another popfetch is fetching lk'

	PF_OUT=$T/pf.out
	PF_ERR=$T/pf.err
	fake_pf_wait 30
	assert_rc 0 "the first popfetch"
	fake_maildir "the first popfetch" lk "$FAKE_MAIL/m1.eml" \
	    "$FAKE_MAIL/m2.eml" "$FAKE_MAIL/m3.eml"
	fake_finish "the first popfetch"
}

fake_check "a second popfetch on the same account" check_lock
fake_summary
