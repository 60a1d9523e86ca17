#!/bin/sh
# The converters in contrib/: fetchmailrc2popfetch, mpoprc2popfetch and
# getmail2popfetch-state.
#
# The corpus of tests/data/convert/fetchmail/ and mpop/ (one file a case,
# each defect of issue 17 and the common constructs): the configuration
# and the messages on stderr are compared byte for byte with
# expected/fetchmail/ and expected/mpop/ (no NAME.conf there: the
# converter must refuse the file, exit 1 and write nothing), and each
# configuration is loaded by popfetch: run against a closed port on
# 127.0.0.1, it must exit 75 (could not connect), not 78 (configuration
# refused).  Cases named *-refused are run without -f.
#
# When fetchmail and mpop are installed (CI installs them, and a missing
# one fails there), every corpus file is also read by fetchmail
# --configdump and mpop --pretend (convert-diff.py), which must agree
# with the converter on the accounts and their host, port, TLS, user,
# delete policy and size limits.
#
# Then the state import of sample UID files, written as the programs
# write them; convert-state.sh does it with files the real programs
# wrote against Dovecot.  No server is needed here.

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
cp -R "$DATA/fetchmail" "$DATA/mpop" "$T/in/"
# Under make distcheck the source tree is read-only, and so the copies.
chmod -R u+w "$T/in"
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

# loads WHAT CONF ACCOUNT...: popfetch takes CONF, hosts set to 127.0.0.1,
# ports to a closed one, password commands to a stub and a ~/.netrc for
# the accounts without a password: every named account fails to connect
# (75), none is refused (78).
loads()
{
	port=$(closed_port)
	sed -e "s/^	port = .*/	port = $port/" \
	    -e "s/^	host = .*/	host = '127.0.0.1'/" \
	    -e "s/^	password_command = .*/	password_command = 'echo stub'/" \
	    "$2" >"$T/closed.conf"
	chmod 600 "$T/closed.conf"
	# For the accounts without a password.
	printf 'default password y\n' >"$HOME/.netrc"
	chmod 600 "$HOME/.netrc"
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

# The corpus.  corpus KIND CONVERTER: every KIND/NAME.rc.
corpus()
{
	cp_kind=$1
	cp_conv=$2
	for cp_rc in "$T/in/$cp_kind"/*.rc; do
		cp_name=${cp_rc##*/}
		cp_name=${cp_name%.rc}
		cp_what="$cp_kind/$cp_name"
		cp_exp=$EXP/$cp_kind/$cp_name
		case $cp_name in
		*-refused) run "$cp_conv" -n "$cp_kind/$cp_name.rc" ;;
		*) run "$cp_conv" -n -f "$cp_kind/$cp_name.rc" ;;
		esac
		same "$cp_what: stderr" "$cp_exp.err" "$T/err"
		if [ ! -e "$cp_exp.conf" ]; then
			expect_rc 1 "$cp_what"
			[ ! -s "$T/out" ] || fail "$cp_what: refused, yet wrote a configuration"
			continue
		fi
		expect_rc 0 "$cp_what"
		same "$cp_what" "$cp_exp.conf" "$T/out"
		cp "$T/out" "$T/corpus.conf"
		# shellcheck disable=SC2046 # account names have no spaces
		loads "$cp_what" "$T/corpus.conf" $(sed -n \
		    's/^account "\(.*\)" {$/\1/p' "$T/corpus.conf")
	done
}
corpus fetchmail "$FETCHMAILRC2"
corpus mpop "$MPOPRC2"
# -f converts what was refused for going elsewhere, and nothing else.
run "$MPOPRC2" -n -f mpop/mda-refused.rc
expect_rc 0 "mpop/mda-refused with -f"
grep -q '^	maildir = ' "$T/out" || fail "mpop/mda-refused -f: no maildir"
run "$FETCHMAILRC2" -n -f fetchmail/rejected.rc
expect_rc 1 "fetchmail/rejected with -f"
# fetchmail's default delivery, SMTP to the local MTA, is named but not
# refused: without -f the file converts (an SMTP host elsewhere, as in
# smtphost-refused, is refused).
run "$FETCHMAILRC2" -n fetchmail/apop.rc
expect_rc 0 "fetchmail/apop (SMTP to localhost) without -f"
grep -q 'delivered with SMTP to localhost' "$T/err" ||
    fail "fetchmail/apop without -f: the SMTP delivery is not named"

# The differential test: fetchmail and mpop say what each file means.
# differential KIND CONVERTER FILE: FILE and the corpus of KIND.
differential()
{
	df_kind=$1
	df_conv=$2
	shift 2
	if ! command -v "$df_kind" >/dev/null 2>&1; then
		[ "${CI:-}" != true ] ||
		    fail "$df_kind is not installed (contrib/deps-debian.sh)"
		say "SKIP: the differential test of $df_kind: not installed"
		return 0
	fi
	command -v python3 >/dev/null 2>&1 ||
	    fail "python3 is missing (contrib/deps-debian.sh)"
	for df_rc in "$1" "$T/in/$df_kind"/*.rc; do
		df_rc=${df_rc#"$T/in/"}
		RC=0
		(cd "$T/in" && HOME=$T/diff-home timeout 120 python3 \
		    "$top_srcdir/tests/integ/convert-diff.py" "$df_kind" \
		    "$df_conv" "$df_rc") 2>"$T/err" || RC=$?
		case $df_rc:$RC in
		*/rejected*.rc:2) ;;
		*/rejected*.rc:*) fail "$df_kind takes $df_rc: $(cat "$T/err")" ;;
		*:0) ;;
		*:2) fail "$df_kind refuses $df_rc: $(cat "$T/err")" ;;
		*) fail "$df_rc: the converter and $df_kind disagree" ;;
		esac
	done
}
mkdir "$T/diff-home"
differential fetchmail "$FETCHMAILRC2" fetchmailrc
differential mpop "$MPOPRC2" mpoprc

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

# mpop's default since 1.0.1: a directory ~/.mpop_uidls of USER_at_HOST
# files; before, one file ~/.mpop_uidls.  Both without uidls_file.
mkdir "$T/h2" "$T/h2/.mpop_uidls"
cp "$DATA/mpop_uidls" "$T/h2/.mpop_uidls/alice_at_127.0.0.1"
run env HOME="$T/h2" "$MPOPRC2" -s "$T/dstate" mpop/keep-default-uidls.rc
expect_rc 0 "mpoprc2popfetch with the ~/.mpop_uidls directory"
same "mpoprc2popfetch with the ~/.mpop_uidls directory" \
    "$EXP/mpop-state/home.uidl" "$T/dstate/home.uidl"
rm -r "$T/h2/.mpop_uidls"
cp "$DATA/mpop_uidls" "$T/h2/.mpop_uidls"
run env HOME="$T/h2" "$MPOPRC2" -s "$T/fstate1" mpop/keep-default-uidls.rc
expect_rc 0 "mpoprc2popfetch with the ~/.mpop_uidls file"
same "mpoprc2popfetch with the ~/.mpop_uidls file" \
    "$EXP/mpop-state/home.uidl" "$T/fstate1/home.uidl"
# -u DIR reads DIR/USER_at_HOST.
mkdir "$T/udir"
cp "$DATA/mpop_uidls" "$T/udir/alice_at_127.0.0.1"
run "$MPOPRC2" -u "$T/udir" -s "$T/ustate" mpop/keep-default-uidls.rc
expect_rc 0 "mpoprc2popfetch -u DIR"
same "mpoprc2popfetch -u DIR" "$EXP/mpop-state/home.uidl" \
    "$T/ustate/home.uidl"

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

# fetchmailrc2popfetch.  Every account delivered by MDA or SMTP: -f.
rm -rf "$XDG_STATE_HOME"
run "$FETCHMAILRC2" -o "$T/fetchmail.conf" -i fetchids fetchmailrc
expect_rc 1 "fetchmailrc2popfetch without -f"
has_err "fetchmailrc2popfetch" 'nothing written'
if [ -e "$T/fetchmail.conf" ] || [ -e "$XDG_STATE_HOME" ]; then
	fail "fetchmailrc2popfetch without -f wrote something"
fi
run "$FETCHMAILRC2" -f -o "$T/fetchmail.conf" -i fetchids fetchmailrc
expect_rc 0 "fetchmailrc2popfetch"
same "fetchmailrc2popfetch" "$EXP/fetchmail.conf" "$T/fetchmail.conf"
has_err "fetchmailrc2popfetch" 'server "imap.example.org": protocol IMAP is not POP3; left out'
has_err "fetchmailrc2popfetch" 'server "pop.example.org", user "bob": same server and user as account "pop.example.org-2"; left out'
has_err "fetchmailrc2popfetch" 'account "pop.example.org-2.test": 1 UID skipped'
for f in pop.example.org.uidl pop.example.org-2.test.uidl; do
	same "fetchmailrc2popfetch state" "$EXP/fetchmail-state/$f" \
	    "$XDG_STATE_HOME/popfetch/$f"
done
n=$(find "$XDG_STATE_HOME/popfetch" -type f | wc -l)
[ "$n" -eq 2 ] || fail "fetchmailrc2popfetch: $n state files, expected 2"
# ~/.fetchids is the default.
cp "$T/in/fetchids" "$HOME/.fetchids"
run "$FETCHMAILRC2" -f -s "$T/fstate" fetchmailrc
expect_rc 0 "fetchmailrc2popfetch with ~/.fetchids"
same "fetchmailrc2popfetch with ~/.fetchids" \
    "$EXP/fetchmail-state/pop.example.org.uidl" "$T/fstate/pop.example.org.uidl"

loads "fetchmailrc2popfetch" "$T/fetchmail.conf" pop.example.org \
    pop.example.org-2 pop.example.org-2.test old.example.net

say "PASS"
