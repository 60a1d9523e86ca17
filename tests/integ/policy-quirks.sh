#!/bin/sh
# shellcheck disable=SC2317,SC2119 # checks run through fake_check
# Quirks of real servers that popfetch's policy must meet (issue 14),
# with the fake POP3 server: a server that accepts DELE and deletes
# nothing, a LOGIN-DELAY under checkpoint, a message without a
# Message-ID under uidl_fallback = message-id, rules on the size on a
# server without TOP, a message whose size the server changes.

LIB_NEED_DOVECOT=no
# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/lib.sh"

[ -x "$FAKE_BIN" ] || fail "$FAKE_BIN is missing: run make check"

M1=$FAKE_MAIL/m1.eml
M2=$FAKE_MAIL/m2.eml
M3=$FAKE_MAIL/m3.eml

# checkpoint against a server that says +OK to DELE and keeps the
# messages: the second session sees them listed again, warns, and goes
# on to its end; no third session.  Only a deletion no later session
# contradicts is counted.
check_nodele()
{
	fake_start nodele-1 nodele-2 nodele-3 nodele-4
	fake_account nd off each
	sed -i 's/^\tdelete = each$/&\n\tcheckpoint = 2/' "$PF_CONF"
	fake_pf
	assert_rc 0 "DELE ignored"
	fake_maildir "DELE ignored" nd "$M1" "$M2" "$M3"
	fake_message "DELE ignored" 'nd: the server lists again 2 messages'
	assert_summary "DELE ignored" nd 3 3 1
	assert_eq "DELE ignored: logins" "$(grep -c '^USER ' "$FAKE_LOG")" 2
	# The next run: 1 and 2 deleted again (a first time in this run),
	# the checkpoint, then one session to the end.
	fake_pf
	assert_rc 0 "DELE ignored, the next run"
	fake_maildir "DELE ignored, the next run" nd "$M1" "$M2" "$M3"
	assert_summary "DELE ignored, the next run" nd 3 0 1
	fake_finish "DELE ignored"
}

# The same without UIDL: only the count shows it, and the second
# session is the last.
check_nodele_nouidl()
{
	fake_start nodele-nouidl-1 nodele-nouidl-2
	fake_account nn off each
	sed -i 's/^\tdelete = each$/&\n\tcheckpoint = 2/' "$PF_CONF"
	fake_pf
	assert_rc 0 "DELE ignored, no UIDL"
	fake_message "DELE ignored, no UIDL" \
	    'nn: the server lists 3 messages after 2 of 3 were deleted'
	assert_eq "DELE ignored, no UIDL: logins" \
	    "$(grep -c '^USER ' "$FAKE_LOG")" 2
	fake_finish "DELE ignored, no UIDL"
}

# LOGIN-DELAY 60 with checkpoint = 1: one session, all three messages,
# and the delay remembered.
check_login_delay()
{
	fake_start cp-login-delay
	fake_account ld off each
	sed -i 's/^\tdelete = each$/&\n\tcheckpoint = 1/' "$PF_CONF"
	fake_pf
	assert_rc 0 "checkpoint with LOGIN-DELAY"
	fake_maildir "checkpoint with LOGIN-DELAY" ld "$M1" "$M2" "$M3"
	assert_summary "checkpoint with LOGIN-DELAY" ld 3 3 3
	fake_message "checkpoint with LOGIN-DELAY" \
	    'ld: LOGIN-DELAY 60 s: no checkpoint'
	[ -s "$XDG_STATE_HOME/popfetch/ld.delay" ] ||
	    fail "checkpoint with LOGIN-DELAY: the delay was not remembered"
	fake_finish "checkpoint with LOGIN-DELAY"
}

# uidl_fallback = message-id, keep: a message without a Message-ID is
# left on the server, with a warning.
check_msgid_missing()
{
	fake_start msgid-missing
	fake_account mm off keep
	sed -i 's/^\tdelete = keep$/&\n\tuidl_fallback = message-id/' \
	    "$PF_CONF"
	fake_pf
	assert_rc 0 "no Message-ID"
	fake_maildir "no Message-ID" mm "$M1"
	fake_message "no Message-ID" \
	    'mm: message 2 has no Message-ID .*: left on the server'
	fake_not_sent "no Message-ID" 1 '^RETR 2$'
	fake_finish "no Message-ID"
}

# A server without TOP and a rule on the size: decided from LIST, never
# downloaded; --dry-run says which messages wait for their header.
check_notop_size()
{
	fake_start notop-dry-run notop-size
	fake_account ns off keep
	cat >>"$PF_CONF" <<'CONF'
rule "big" {
	larger = 270
	skip = yes
}
rule "lists" {
	header_contains = {"List-Id", "dev"}
	folder = ".Lists.dev"
}
CONF
	fake_pf --dry-run
	assert_rc 0 "no TOP: --dry-run"
	assert_grep "no TOP: --dry-run" '^ +2 .* => skip \(rule big\)$' \
	    "$PF_OUT"
	assert_grep "no TOP: --dry-run" \
	    '^ +1 .* => decided at download: needs the header$' "$PF_OUT"
	assert_no_grep "no TOP: --dry-run" '=> inbox' "$PF_OUT"
	fake_pf
	assert_rc 0 "no TOP: larger, skip"
	fake_maildir "no TOP: larger, skip" ns "$M1" "$M3"
	fake_not_sent "no TOP: larger, skip" 2 '^RETR 2$'
	fake_finish "no TOP: larger, skip"
}

# A server that makes a message larger after the first session (GNU
# mailutils adds X-UID and Status): the same unique-id, Message-ID and
# Date, so it is not stored again.
check_grown()
{
	fake_start grown-1 grown-2
	fake_account gr off keep
	fake_pf
	assert_rc 0 "grown: the first run"
	fake_pf
	assert_rc 0 "grown: the second run"
	fake_maildir "grown" gr "$M1"
	fake_not_sent "grown" 2 '^RETR 1$'
	fake_message "grown" 'gr: message 1: the server changed its size'
	# One record left: the one under the old size is superseded.
	assert_eq "grown: records" \
	    "$(grep -c '^uid-one	' "$XDG_STATE_HOME/popfetch/gr.uidl")" 1
	assert_grep "grown: the record" '^uid-one	291	' \
	    "$XDG_STATE_HOME/popfetch/gr.uidl"
	fake_finish "grown"
}

fake_check "checkpoint: a server that ignores DELE" check_nodele
fake_check "checkpoint: a server without UIDL that ignores DELE" \
    check_nodele_nouidl
fake_check "checkpoint: LOGIN-DELAY, one session" check_login_delay
fake_check "uidl_fallback: no Message-ID" check_msgid_missing
fake_check "no TOP: rules on the size" check_notop_size
fake_check "a message the server made larger" check_grown
fake_summary
