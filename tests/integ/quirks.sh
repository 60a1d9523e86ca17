#!/bin/sh
# shellcheck disable=SC2317,SC2119 # checks run through fake_check
# Real servers' quirks, played by the fake POP3 server: capabilities
# announced only after login, a server that trickles, sizes nothing can
# hold, a TLS port taken for a plain one, and the smaller habits peers
# record.  popfetch.conf(5), QUIRKS, says what popfetch does with each.

LIB_NEED_DOVECOT=no
# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/lib.sh"

[ -x "$FAKE_BIN" ] || fail "$FAKE_BIN is missing: run make check"

M1=$FAKE_MAIL/m1.eml
M2=$FAKE_MAIL/m2.eml
M3=$FAKE_MAIL/m3.eml

# LIST sizes of 2^64 - 1 and of 30 digits: refused before any RETR, as
# errors of those messages (76), which stay on the server; the others
# are fetched, and the journal is written.
check_list_huge_size()
{
	fake_start list-huge-size
	fake_account lh off each
	fake_pf
	assert_rc 76 "huge LIST sizes"
	fake_message "huge LIST sizes" \
	    '^popfetch: lh: message 2: LIST gave a size larger than'
	fake_message "huge LIST sizes" \
	    '^popfetch: lh: message 3: LIST gave a size larger than'
	fake_maildir "huge LIST sizes" lh "$M1"
	fake_not_sent "huge LIST sizes" 1 '^(RETR|DELE|TOP) [23]'
	assert_no_grep "huge LIST sizes" 'invalid size' "$PF_ERR"
	fake_finish "huge LIST sizes"
}

# TOP, UIDL and PIPELINING announced only after login: CAPA is asked
# again, the rule decides from TOP, and the RETRs are pipelined (RETR 2
# goes out before RETR 1 is answered).
check_capa_after_login()
{
	fake_start capa-after-login
	cat >>"$PF_CONF" <<-'EOF'
	rule "never" {
		exists = {"X-Never-There"}
		discard = yes
	}
	EOF
	fake_account cl off keep
	fake_pf
	assert_rc 0 "capabilities after login"
	fake_maildir "capabilities after login" cl "$M1" "$M2" "$M3"
	fake_sent "capabilities after login" 1 '^TOP 3 0$'
	grep -A 1 ': C: RETR 1$' "$PF_ERR" | grep -q ': C: RETR 2$' ||
	    fail "capabilities after login: RETR not pipelined"
	fake_finish "capabilities after login"
}

fake_check "LIST sizes nothing can hold" check_list_huge_size
fake_check "capabilities announced only after login" check_capa_after_login
fake_summary
