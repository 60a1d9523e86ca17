#!/bin/sh
# shellcheck disable=SC2317,SC2119 # checks run through fake_check
# The round trips of an empty poll (the cron case), counted by the fake
# server: "# flight" in its log before each command the client sent
# after the server's last reply rather than with the ones before.  With
# the connection and greeting, at most 5 when the server has PIPELINING
# (RFC 2449 §6.6): CAPA; USER and PASS over TLS (or AUTH PLAIN with its
# response); LIST and UIDL; QUIT.  (A server whose capabilities may
# grow at login, RFC 2449 §4, is asked CAPA again: one more.)  Without
# PIPELINING, one command at a time, as the RFC wants.

LIB_NEED_DOVECOT=no
# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/lib.sh"

[ -x "$FAKE_BIN" ] || fail "$FAKE_BIN is missing: run make check"

# flights N: the client's round trips on connection N.
flights()
{
	awk -v n="$1" '
	    /^# connection [0-9]+: / { split($3, a, ":"); c = a[1]; next }
	    c == n && /^# flight$/ { f++ }
	    END { print f + 0 }' "$FAKE_LOG"
}

# empty_poll SCRIPT WANT [TLS]: popfetch polls an empty mailbox on SCRIPT
# (tls = TLS, off by default); the connection and greeting and the
# client's flights make WANT round trips.
empty_poll()
{
	fake_start "$1"
	fake_account ep "${3:-off}" keep
	fake_pf
	assert_rc 0 "$1"
	fake_finish "$1"
	ep_n=$(($(flights 1) + 1))
	say "  $1: $ep_n round trips"
	[ "$ep_n" -eq "$2" ] ||
	    fail "$1: $ep_n round trips, not $2"
}

# USER and PASS go together only over TLS: in the clear, the password
# goes out only once USER was accepted, a round trip more.
check_user_pass()
{
	empty_poll empty-poll-tls 5 on
}

check_user_pass_plain()
{
	empty_poll empty-poll 6
}

check_sasl_plain()
{
	empty_poll empty-poll-sasl 5
}

check_lockstep()
{
	empty_poll empty-poll-lockstep 7
}

fake_check "empty poll, USER and PASS, PIPELINING, TLS" check_user_pass
fake_check "empty poll, USER and PASS, PIPELINING, plain" check_user_pass_plain
fake_check "empty poll, AUTH PLAIN, PIPELINING" check_sasl_plain
fake_check "empty poll, no PIPELINING" check_lockstep
fake_summary
