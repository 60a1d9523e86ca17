#!/bin/sh
# shellcheck disable=SC2317,SC2119 # checks run through fake_check
# Fault injection: unique-ids that RFC 1939 §7 forbids (octets outside
# 0x21-0x7e, or longer than 70).  The contract: exit 0 with a warning;
# such a message has no usable id, so delete = keep leaves it on the
# server unfetched (the warning names it), while each and batch fetch
# and delete it like the others.  A 70-octet id is still valid.

LIB_NEED_DOVECOT=no
# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/lib.sh"

[ -x "$FAKE_BIN" ] || fail "$FAKE_BIN is missing: run make check"

M1=$FAKE_MAIL/m1.eml
M2=$FAKE_MAIL/m2.eml
M3=$FAKE_MAIL/m3.eml

check_bad_uidl_keep()
{
	fake_start bad-uidl-keep
	fake_account bu off keep
	fake_pf
	assert_rc 0 "forbidden unique-ids (keep)"
	for n in 2 3 4; do
		fake_message "forbidden unique-ids (keep)" \
		    "^popfetch: bu: .*message $n([^0-9]|\$)"
	done
	fake_maildir "forbidden unique-ids (keep)" bu "$M1"
	fake_commands "forbidden unique-ids (keep)" 1 'RETR 1' QUIT
	fake_finish "forbidden unique-ids (keep)"
}

bad_uidl()
{
	fake_start "bad-uidl-$1"
	fake_account bu off "$1"
	fake_pf
	assert_rc 0 "forbidden unique-ids ($1)"
	fake_message "forbidden unique-ids ($1)" '^popfetch: bu: '
	fake_maildir "forbidden unique-ids ($1)" bu "$M1" "$M2" "$M3" "$M1"
	fake_finish "forbidden unique-ids ($1)"
}

check_bad_uidl_each()
{
	bad_uidl each
}

check_bad_uidl_batch()
{
	bad_uidl batch
}

fake_check "forbidden unique-ids, delete = keep" check_bad_uidl_keep
fake_check "forbidden unique-ids, delete = each" check_bad_uidl_each
fake_check "forbidden unique-ids, delete = batch" check_bad_uidl_batch
fake_summary
