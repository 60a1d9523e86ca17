#!/bin/sh
# The converters in contrib/: fetchmailrc2popfetch, mpoprc2popfetch and
# getmail2popfetch-state.  Their configurations and state files are
# compared byte for byte with tests/data/convert/expected/, and each
# configuration is loaded by popfetch: run against a closed port it must
# exit 75 (could not connect), not 78 (configuration refused).  No
# server is needed.

set -eu
LC_ALL=C
export LC_ALL
unset CDPATH

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"

PF_BIN=$top_builddir/popfetch
DATA=$top_srcdir/tests/data/convert
EXP=$DATA/expected
FETCHMAILRC2=$top_srcdir/contrib/fetchmailrc2popfetch
MPOPRC2=$top_srcdir/contrib/mpoprc2popfetch
GETMAIL2=$top_srcdir/contrib/getmail2popfetch-state

say()
{
	printf '%s: %s\n' "${0##*/}" "$*" >&2
}

fail()
{
	say "FAIL: $*"
	exit 1
}

[ -x "$PF_BIN" ] || fail "$PF_BIN is missing: run make first"
command -v timeout >/dev/null 2>&1 || {
	say "SKIP: timeout is not installed"
	exit 77
}

T=$(mktemp -d "${TMPDIR:-/tmp}/popfetch-conv.XXXXXX")
cleanup()
{
	cl_rc=$?
	if [ "$cl_rc" -ne 0 ] && [ -s "$T/err" ]; then
		say "last stderr:"
		tail -n 20 "$T/err" >&2
	fi
	rm -rf "$T"
	exit "$cl_rc"
}
trap cleanup EXIT
trap 'exit 130' INT HUP TERM

HOME=$T/home
XDG_CONFIG_HOME=$T/config
XDG_STATE_HOME=$T/state
export HOME XDG_CONFIG_HOME XDG_STATE_HOME
unset FETCHMAILHOME XDG_DATA_HOME
# Fixed "now" and login name, so that the output can be compared.
SOURCE_DATE_EPOCH=1700000000
USER=tester
export SOURCE_DATE_EPOCH USER
mkdir -p "$HOME" "$XDG_CONFIG_HOME"

# The inputs are read from a copy, so that the header of the output
# names them the same wherever the source tree is.
mkdir "$T/in"
cp "$DATA/fetchmailrc" "$DATA/fetchids" "$DATA/mpoprc" \
    "$DATA/oldmail-127.0.0.1-995-alice" "$T/in/"
# mpop's default uidls file, and a per-account one named by %U_at_%H.
cp "$DATA/mpop_uidls" "$HOME/.mpop_uidls"
mkdir "$HOME/.mpop"
cp "$DATA/mpop-work-uidls" "$HOME/.mpop/alice@example.com_at_localhost"

# run CMD...: status in RC, stdout in $T/out, stderr in $T/err.
run()
{
	RC=0
	(cd "$T/in" && timeout 60 "$@") >"$T/out" 2>"$T/err" || RC=$?
}

expect_rc()
{
	[ "$RC" -eq "$1" ] || fail "$2: exit status $RC, expected $1"
}

same()
{
	if ! cmp -s "$2" "$3"; then
		diff -u "$2" "$3" >&2 || :
		fail "$1: $3 differs from ${2#"$top_srcdir"/}"
	fi
}

has_err()
{
	grep -Fq -- "$2" "$T/err" || fail "$1: stderr lacks '$2'"
}

# A TCP port nobody listens on: in no LISTEN line of /proc/net/tcp*.
closed_port()
{
	p=20000
	while :; do
		p=$((p + 1 + $(od -An -N1 -tu1 /dev/urandom | tr -d ' ')))
		hex=$(printf '%04X' "$p")
		if ! cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
		    awk -v p=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { f = 1 }
		    END { exit !f }'; then
			echo "$p"
			return
		fi
	done
}

# loads WHAT CONF ACCOUNT...: popfetch takes CONF, ports set to a closed
# one: every named account fails to connect (75), none is refused (78).
loads()
{
	port=$(closed_port)
	sed "s/^	port = .*/	port = $port/" "$2" >"$T/closed.conf"
	chmod 600 "$T/closed.conf"
	conf=$2
	what=$1
	shift 2
	RC=0
	timeout 60 "$PF_BIN" -c "$T/closed.conf" "$@" >"$T/out" 2>"$T/err" ||
	    RC=$?
	expect_rc 75 "$what: popfetch with the converted configuration"
	for a in "$@"; do
		grep -q "^popfetch: $a: connect to .*port $port" "$T/err" ||
		    fail "$what: account $a did not try to connect"
	done
	if grep -E 'conf|line [0-9]' "$T/err"; then
		fail "$what: popfetch complained about $conf"
	fi
	# The imported journals, wildcard sizes and all, read cleanly.
	if grep 'damaged' "$T/err"; then
		fail "$what: popfetch found damaged lines in imported state"
	fi
}

# mpoprc2popfetch.
run "$MPOPRC2" -o "$T/mpop.conf" mpoprc
expect_rc 0 "mpoprc2popfetch"
same "mpoprc2popfetch" "$EXP/mpop.conf" "$T/mpop.conf"
[ "$(stat -c %a "$T/mpop.conf")" = 600 ] ||
    fail "mpoprc2popfetch -o: mode $(stat -c %a "$T/mpop.conf"), expected 600"
has_err "mpoprc2popfetch" 'account "default": same server and user as account "home"; left out'
has_err "mpoprc2popfetch" 'account "home": 1 UID skipped'
has_err "mpoprc2popfetch" 'holds passwords'
for f in home.uidl work.uidl; do
	same "mpoprc2popfetch state" "$EXP/mpop-state/$f" \
	    "$XDG_STATE_HOME/popfetch/$f"
	[ "$(stat -c %a "$XDG_STATE_HOME/popfetch/$f")" = 600 ] ||
	    fail "mpoprc2popfetch: $f is not mode 600"
done
# delete = each: no state, or popfetch would delete unseen mail.
[ ! -e "$XDG_STATE_HOME/popfetch/old-box.uidl" ] ||
    fail "mpoprc2popfetch imported state for an account that deletes"

# A second import adds nothing; -o does not replace without -f.
run "$MPOPRC2" -o "$T/mpop.conf" mpoprc
expect_rc 1 "mpoprc2popfetch -o onto an existing file"
run "$MPOPRC2" -f -o "$T/mpop.conf" mpoprc
expect_rc 0 "mpoprc2popfetch -f -o"
has_err "mpoprc2popfetch again" "home.uidl: 0 UIDs appended"
same "mpoprc2popfetch again" "$EXP/mpop-state/home.uidl" \
    "$XDG_STATE_HOME/popfetch/home.uidl"
# To stdout, the same text; -n imports nothing.
run "$MPOPRC2" -n -s "$T/nostate" mpoprc
expect_rc 0 "mpoprc2popfetch -n"
same "mpoprc2popfetch to stdout" "$EXP/mpop.conf" "$T/out"
[ ! -e "$T/nostate" ] || fail "mpoprc2popfetch -n wrote state"

loads "mpoprc2popfetch" "$T/mpop.conf" home work old-box
# popfetch read the imported journals and left them alone.
for f in home.uidl work.uidl; do
	same "popfetch after mpoprc2popfetch" "$EXP/mpop-state/$f" \
	    "$XDG_STATE_HOME/popfetch/$f"
done

# getmail2popfetch-state: appended to an existing journal (the one of
# home just written), and a new one.
run "$GETMAIL2" home oldmail-127.0.0.1-995-alice
expect_rc 0 "getmail2popfetch-state"
has_err "getmail2popfetch-state" "1 invalid UIDs skipped"
same "getmail2popfetch-state" "$EXP/getmail-state/home.uidl" \
    "$XDG_STATE_HOME/popfetch/home.uidl"
run "$GETMAIL2" -s "$T/gstate" new oldmail-127.0.0.1-995-alice
expect_rc 0 "getmail2popfetch-state -s"
same "getmail2popfetch-state -s" "$EXP/getmail-state/new.uidl" \
    "$T/gstate/new.uidl"
run "$GETMAIL2" -s "$T/gstate" ../bad oldmail-127.0.0.1-995-alice
expect_rc 1 "getmail2popfetch-state with a bad account name"
# Someone else's file is never written to.
printf 'not a journal\n' >"$T/gstate/other.uidl"
run "$GETMAIL2" -s "$T/gstate" other oldmail-127.0.0.1-995-alice
expect_rc 1 "getmail2popfetch-state onto a foreign file"
[ "$(cat "$T/gstate/other.uidl")" = "not a journal" ] ||
    fail "getmail2popfetch-state changed a file that is not a journal"

# fetchmailrc2popfetch.
rm -rf "$XDG_STATE_HOME"
run "$FETCHMAILRC2" -o "$T/fetchmail.conf" -i fetchids fetchmailrc
expect_rc 0 "fetchmailrc2popfetch"
same "fetchmailrc2popfetch" "$EXP/fetchmail.conf" "$T/fetchmail.conf"
has_err "fetchmailrc2popfetch" 'server "imap.example.org": protocol imap is not POP3; left out'
has_err "fetchmailrc2popfetch" 'server "pop.example.org", user "bob": same as account "pop.example.org-2"; left out'
has_err "fetchmailrc2popfetch" 'account "pop.example.org-2.test": 1 UID skipped'
for f in pop.example.org.uidl pop.example.org-2.test.uidl; do
	same "fetchmailrc2popfetch state" "$EXP/fetchmail-state/$f" \
	    "$XDG_STATE_HOME/popfetch/$f"
done
n=$(find "$XDG_STATE_HOME/popfetch" -type f | wc -l)
[ "$n" -eq 2 ] || fail "fetchmailrc2popfetch: $n state files, expected 2"
# ~/.fetchids is the default.
cp "$T/in/fetchids" "$HOME/.fetchids"
run "$FETCHMAILRC2" -s "$T/fstate" fetchmailrc
expect_rc 0 "fetchmailrc2popfetch with ~/.fetchids"
same "fetchmailrc2popfetch with ~/.fetchids" \
    "$EXP/fetchmail-state/pop.example.org.uidl" "$T/fstate/pop.example.org.uidl"

# The account without a password is loaded too, but cannot run.
loads "fetchmailrc2popfetch" "$T/fetchmail.conf" pop.example.org \
    pop.example.org-2 pop.example.org-2.test

say "PASS"
