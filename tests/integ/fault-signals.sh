#!/bin/sh
# shellcheck disable=SC2317,SC2119 # checks run through fake_check
# Fault injection: SIGTERM and SIGINT in the middle of a message.  The
# fake server pauses 4 s inside message 2 (the timeout is 10 s), and
# popfetch gets the signal a second into the pause.  The contract: exit
# 143 after SIGTERM, 130 after SIGINT; the message being transferred is
# finished and stored; no further RETR; QUIT is sent, so that the DELE
# of every stored message becomes final; nothing lost, no partial file.

LIB_NEED_DOVECOT=no
# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/lib.sh"

[ -x "$FAKE_BIN" ] || fail "$FAKE_BIN is missing: run make check"
env --default-signal=INT true 2>/dev/null ||
    skip "env --default-signal is not supported (GNU coreutils >= 8.31)"

M1=$FAKE_MAIL/m1.eml

signal_check()
{
	fake_start signal
	fake_account sg off each
	cat "$FAKE_MAIL/slow-head.eml" "$FAKE_MAIL/slow-body.eml" \
	    >"$T/want/slow"
	fake_pf_bg
	fake_wait_line 1 '^RETR 2$' 20
	sleep 1
	kill -s "$1" "$PF_BG_PID"
	fake_pf_wait 30
	assert_rc "$2" "SIG$1 in the middle of message 2"
	# The rest of message 2 comes 3 s after the signal.
	fake_within "SIG$1 in the middle of message 2" 12000
	fake_maildir "SIG$1 in the middle of message 2" sg "$M1" "$T/want/slow"
	fake_sent "SIG$1 in the middle of message 2" 1 '^DELE 1$'
	fake_not_sent "SIG$1 in the middle of message 2" 1 '^RETR 3$'
	fake_sent "SIG$1 in the middle of message 2" 1 '^QUIT$'
	fake_finish "SIG$1 in the middle of message 2"
}

check_sigterm()
{
	signal_check TERM 143
}

check_sigint()
{
	signal_check INT 130
}

fake_check "SIGTERM during a message" check_sigterm
fake_check "SIGINT during a message" check_sigint
fake_summary
