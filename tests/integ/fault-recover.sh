#!/bin/sh
# shellcheck disable=SC2317,SC2119 # checks run through fake_check
# Recovery after a killed run matches a file to a message by unique-id
# AND size.  When another message in the listing has the same unique-id,
# only a file name that records the LIST size counts; when it has the
# same size too, none: such messages are fetched again, never deleted
# unseen.
#
# The state a kill between the link into new/ and the journal record
# leaves is made by hand (the run's "running" mark, no record, a tagged
# file in new/): a kill at that point cannot be timed from outside, and
# what the next run finds is exactly this.

LIB_NEED_DOVECOT=no
# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/lib.sh"

[ -x "$FAKE_BIN" ] || fail "$FAKE_BIN is missing: run make check"

M1=$FAKE_MAIL/m1.eml
M2=$FAKE_MAIL/m2.eml
M3=$FAKE_MAIL/m3.eml

# key UID: the 16 hex digits a file name's tag holds for UID.
key()
{
	printf '%s' "$1" | sha256sum | cut -c 1-16
}

check_recover_dup_uidl()
{
	fake_start recover-dup-uidl
	fake_account ru off each
	md=$T/client/ru
	mkdir -p "$md/new" "$md/cur" "$md/tmp" "$XDG_STATE_HOME/popfetch"
	# As an earlier popfetch named them (,U=), so that the test tells
	# the same before and after the tag changed.  Message 1 (252
	# octets, LIST 264) under the shared id; a 252-octet file under
	# message 3's id, which LIST says is 246 octets.
	cp "$M1" "$md/new/1.M1P1Q1R00.host,S=252,U=$(key uid-same)"
	cp "$M1" "$md/new/1.M1P1Q2R00.host,S=252,U=$(key uid-three)"
	: >"$XDG_STATE_HOME/popfetch/ru.running"
	fake_pf
	assert_rc 0 "recovery with a shared unique-id"
	fake_commands "recovery with a shared unique-id" 1 'RETR 1' 'DELE 1' \
	    'RETR 2' 'DELE 2' 'RETR 3' 'DELE 3' QUIT
	assert_no_grep "recovery with a shared unique-id" \
	    'stored by an interrupted run' "$PF_ERR"
	fake_finish "recovery with a shared unique-id"
	# Message 1 is there twice: a duplicate, never a loss.
	sums "$md/new" >"$T/rec.got"
	sums "$M1" "$M1" "$M1" "$M2" "$M3" >"$T/rec.want"
	cmp -s "$T/rec.want" "$T/rec.got" || fail "the Maildir is not as expected"
}

# The same, but message 1's file has the name popfetch gives it now,
# which records the unique-id and the LIST size: that tells the two
# messages that share the id apart, so message 1 is recovered, not
# fetched again.
check_recover_dup_uidl_tagged()
{
	fake_start recover-dup-uidl-tagged
	fake_account rt off each
	md=$T/client/rt
	mkdir -p "$md/new" "$md/cur" "$md/tmp" "$XDG_STATE_HOME/popfetch"
	cp "$M1" "$md/new/1.M1P1Q1R00.host,S=252,PF=$(key uid-same)-264"
	: >"$XDG_STATE_HOME/popfetch/rt.running"
	fake_pf
	assert_rc 0 "recovery of a tagged message with a shared unique-id"
	fake_commands "recovery of a tagged message with a shared unique-id" 1 \
	    'DELE 1' 'RETR 2' 'DELE 2' 'RETR 3' 'DELE 3' QUIT
	assert_grep "recovery of a tagged message with a shared unique-id" \
	    '1 message stored by an interrupted run' "$PF_ERR"
	fake_finish "recovery of a tagged message with a shared unique-id"
	sums "$md/new" >"$T/rect.got"
	sums "$M1" "$M2" "$M3" >"$T/rect.want"
	cmp -s "$T/rect.want" "$T/rect.got" || fail "the Maildir is not as expected"
}

fake_check "recovery: shared unique-id, size" check_recover_dup_uidl
fake_check "recovery: shared unique-id, tagged with the size" \
    check_recover_dup_uidl_tagged
fake_summary
