#!/bin/sh
# shellcheck disable=SC2317,SC2119 # checks run through fake_check
# Stored, not recorded, then a run that fails: the "running" marker
# stays until every message stored is recorded, so that the run after
# the failed one still looks in the Maildir first, and stores nothing
# twice.  The messages are stored and left unrecorded in two ways: a
# state file system that is full when the journal is written (for
# real, with a file size limit), and the files a kill -9 between the
# link into new/ and the journal leaves behind.  With archive = yes, a
# kill before the archive index: the message found by the next run is
# indexed before it is recorded, so that it is not stored again when it
# comes under a new unique-id.

LIB_NEED_DOVECOT=no
# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/lib.sh"

[ -x "$FAKE_BIN" ] || fail "$FAKE_BIN is missing: run make check"

M1=$FAKE_MAIL/m1.eml
M2=$FAKE_MAIL/m2.eml
M3=$FAKE_MAIL/m3.eml

# The run that fails (-ERR [SYS/TEMP] at login, as with no network after
# a reboot), then the one that must find the messages in the Maildir.
fail_then_rerun()
{
	fake_pf
	assert_rc 75 "$1: the failed run"
	[ -e "$XDG_STATE_HOME/popfetch/$2.running" ] ||
	    fail "$1: the failed run removed the marker"
	fake_pf
	assert_rc 0 "$1: the run after"
	fake_message "$1: the run after" \
	    '3 messages stored by an interrupted run, now recorded'
	fake_not_sent "$1: the run after" 3 '^RETR '
	fake_maildir "$1: the run after" "$2" "$M1" "$M2" "$M3"
	[ ! -e "$XDG_STATE_HOME/popfetch/$2.running" ] ||
	    fail "$1: the marker stayed after a clean run"
	fake_finish "$1"
}

# The journal cannot grow: writes past a file size limit fail (EFBIG,
# with SIGXFSZ ignored), as on a full file system.  The journal is made
# bigger than the limit beforehand; the messages are far smaller.
check_journal_full()
{
	fake_start unrecorded-keep pass-sys-temp unrecorded-rerun
	fake_account jf off keep
	mkdir -p "$XDG_STATE_HOME/popfetch"
	{
		echo 'popfetch-uidl 1'
		i=0
		while [ "$i" -lt 600 ]; do
			printf 'gone-%s\t100\t1700000000\t1700000000\t-\n' "$i"
			i=$((i + 1))
		done
	} >"$XDG_STATE_HOME/popfetch/jf.uidl"
	(
		ulimit -f 16
		trap '' XFSZ
		pf_run
		say "  popfetch exited $PF_RC (file size limit)"
	)
	fake_maildir "a full journal" jf "$M1" "$M2" "$M3"
	grep -q 'File too large' "$PF_ERR" ||
	    fail "a full journal: no write error on stderr"
	fail_then_rerun "a full journal" jf
}

# What a kill -9 between the link into new/ and the journal leaves: the
# files, a journal without their records, the marker.
check_killed()
{
	fake_start unrecorded-keep pass-sys-temp unrecorded-rerun
	fake_account kl off keep
	fake_pf
	assert_rc 0 "the run killed"
	echo 'popfetch-uidl 1' >"$XDG_STATE_HOME/popfetch/kl.uidl"
	: >"$XDG_STATE_HOME/popfetch/kl.running"
	fail_then_rerun "killed before the journal" kl
}

# archive = yes, killed between the link into new/ and the archive index
# record: the files, no index record, no journal record, the marker.
check_killed_archive()
{
	fake_start archive-store unrecorded-rerun archive-new-uidl
	fake_account ar off keep
	sed 's/^}$/\tarchive = yes\n}/' "$PF_CONF" >"$T/conf"
	chmod 600 "$T/conf"
	mv "$T/conf" "$PF_CONF"
	fake_pf
	assert_rc 0 "the run killed (archive)"
	echo 'popfetch-uidl 1' >"$XDG_STATE_HOME/popfetch/ar.uidl"
	echo 'popfetch-archive 1' >"$XDG_STATE_HOME/popfetch/ar.archive"
	: >"$XDG_STATE_HOME/popfetch/ar.running"
	fake_pf
	assert_rc 0 "the recovery (archive)"
	fake_message "the recovery (archive)" \
	    '3 messages stored by an interrupted run, now recorded'
	fake_not_sent "the recovery (archive)" 2 '^RETR '
	assert_lines "the recovery (archive): the index" \
	    "$XDG_STATE_HOME/popfetch/ar.archive" 4
	fake_pf
	assert_rc 0 "new unique-ids (archive)"
	fake_message "new unique-ids (archive)" 'already archived as new/'
	fake_maildir "new unique-ids (archive)" ar "$M1" "$M2" "$M3"
	fake_finish "killed before the archive index"
}

fake_check "a journal that cannot be written" check_journal_full
fake_check "killed between the Maildir and the journal" check_killed
fake_check "killed between the Maildir and the archive index" \
    check_killed_archive
fake_summary
