#!/bin/sh
# shellcheck disable=SC2317,SC2119 # checks run through fake_check
# Fault injection: the connection is lost inside a multi-line reply.
# The contract: exit 75 (a temporary failure: try again), nothing
# partial stored, nothing after the lost message fetched, and the next
# run against a server that still holds everything stores no duplicate
# (keep fetches only what was not stored; each and batch delete the
# stored ones without RETR and fetch the rest).

LIB_NEED_DOVECOT=no
# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/lib.sh"

[ -x "$FAKE_BIN" ] || fail "$FAKE_BIN is missing: run make check"

M1=$FAKE_MAIL/m1.eml
M2=$FAKE_MAIL/m2.eml
M3=$FAKE_MAIL/m3.eml

# drop_retr MODE RERUN...: RETR 2 drops 100 octets in; then the rerun.
drop_retr()
{
	mode=$1
	shift
	fake_start "drop-retr-$mode" "drop-retr-$mode-rerun"
	fake_account dr off "$mode"
	fake_pf
	assert_rc 75 "dropped in RETR 2 ($mode)"
	fake_message "dropped in RETR 2 ($mode)" '^popfetch: dr: .*2'
	fake_maildir "dropped in RETR 2 ($mode)" dr "$M1"
	fake_not_sent "dropped in RETR 2 ($mode)" 1 '^(RETR 3|DELE [23])$'
	fake_pf
	assert_rc 0 "the run after a drop in RETR 2 ($mode)"
	fake_maildir "the run after a drop in RETR 2 ($mode)" dr \
	    "$M1" "$M2" "$M3"
	fake_commands "the run after a drop in RETR 2 ($mode)" 2 "$@"
	fake_finish "dropped in RETR 2 ($mode)"
}

check_drop_retr_keep()
{
	drop_retr keep 'RETR 2' 'RETR 3' QUIT
}

check_drop_retr_each()
{
	drop_retr each 'DELE 1' 'RETR 2' 'DELE 2' 'RETR 3' 'DELE 3' QUIT
}

check_drop_retr_batch()
{
	drop_retr batch 'RETR 2' 'RETR 3' 'DELE 1' 'DELE 2' 'DELE 3' QUIT
}

# Message 1 complete but without its final "." line, then EOF.
check_noterm_retr()
{
	fake_start noterm-retr
	fake_account nt off each
	fake_pf
	assert_rc 75 "RETR without the final dot"
	fake_maildir "RETR without the final dot" nt
	fake_not_sent "RETR without the final dot" 1 '^(DELE|RETR [23])'
	fake_finish "RETR without the final dot"
}

# The last body line has no CRLF, then EOF.
check_no_final_crlf()
{
	fake_start no-final-crlf
	fake_account fc off each
	fake_pf
	assert_rc 75 "no final CRLF"
	fake_maildir "no final CRLF" fc
	fake_not_sent "no final CRLF" 1 '^(DELE|RETR [23])'
	fake_finish "no final CRLF"
}

# A LIST reply without its final "." line, then EOF.
check_noterm_list()
{
	fake_start noterm-list
	fake_account nl off each
	fake_pf
	assert_rc 75 "LIST without the final dot"
	fake_maildir "LIST without the final dot" nl
	fake_finish "LIST without the final dot"
}

fake_check "dropped in the middle of RETR k, and the next run (keep)" \
    check_drop_retr_keep
fake_check "dropped in the middle of RETR k, and the next run (each)" \
    check_drop_retr_each
fake_check "dropped in the middle of RETR k, and the next run (batch)" \
    check_drop_retr_batch
fake_check "a message without the final dot, then EOF" check_noterm_retr
fake_check "a last line without CRLF, then EOF" check_no_final_crlf
fake_check "a LIST reply without the final dot, then EOF" check_noterm_list
fake_summary
