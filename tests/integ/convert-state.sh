#!/bin/sh
# The converters' state import from files the real programs wrote: mpop
# (its ~/.mpop_uidls/USER_at_HOST) and fetchmail (its ~/.fetchids) each
# fetch a mailbox of the private Dovecot and keep the mail there; the
# converters turn their configurations into popfetch's and import what
# they fetched; popfetch's next run then retrieves nothing, and the run
# after new mail arrives retrieves only that.  Needs fetchmail and mpop
# (contrib/deps-debian.sh): without them a skip, an error under CI=true.

# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/lib.sh"

for prog in mpop fetchmail python3; do
	command -v "$prog" >/dev/null 2>&1 ||
	    skip "$prog is not installed (contrib/deps-debian.sh)"
done

MPOPRC2=$top_srcdir/contrib/mpoprc2popfetch
FETCHMAILRC2=$top_srcdir/contrib/fetchmailrc2popfetch

dovecot_start
gen_mail "$T/orig/old" -n 3 -s 3
gen_mail "$T/orig/new" -n 2 -s 5 -f 10
for u in alice bob; do
	user_add "$u"
	seed "$u" "$T/orig/old"
done

# retrieved WHAT N: popfetch's last run retrieved N messages.
retrieved()
{
	rt_n=$(grep -c ': C: RETR ' "$PF_ERR" || :)
	assert_eq "$1: messages retrieved" "$rt_n" "$2"
}

# mpop, as its users run it: ~/.mpoprc, the default uidls_file.
mkdir -p "$HOME/mpop-md/new" "$HOME/mpop-md/cur" "$HOME/mpop-md/tmp"
cat >"$HOME/.mpoprc" <<EOF
account home
host 127.0.0.1
port $DOVECOT_PORT_TLS
tls on
tls_starttls off
tls_trust_file $PKI_CA
user alice
password $PF_PASSWORD
delivery maildir ~/mpop-md
keep on
EOF
chmod 600 "$HOME/.mpoprc"
RC=0
timeout 60 mpop -q home >"$T/mpop.out" 2>&1 || RC=$?
[ "$RC" -eq 0 ] || fail "mpop failed ($RC): $(cat "$T/mpop.out")"
assert_eq "mpop: messages delivered" "$(count_new "$HOME/mpop-md")" 3
[ -f "$HOME/.mpop_uidls/alice_at_127.0.0.1" ] ||
    fail "mpop wrote no ~/.mpop_uidls/alice_at_127.0.0.1"

RC=0
"$MPOPRC2" -o "$T/mpop.conf" >"$T/conv.out" 2>"$T/conv.err" || RC=$?
[ "$RC" -eq 0 ] || fail "mpoprc2popfetch failed ($RC): $(cat "$T/conv.err")"
assert_grep "mpoprc2popfetch" 'home.uidl: 3 UIDs written' "$T/conv.err"
PF_CONF=$T/mpop.conf
pf_run -v -v
assert_rc 0 "after mpop"
retrieved "popfetch after mpop" 0
assert_eq "popfetch after mpop: Maildir" "$(count_new "$HOME/mpop-md")" 3

# fetchmail: ~/.fetchmailrc and its default ~/.fetchids.  The
# certificate names localhost; fetchmail connects to 127.0.0.1.
cat >"$HOME/.fetchmailrc" <<EOF
poll localhost via 127.0.0.1 proto pop3 port $DOVECOT_PORT_TLS uidl
	user bob there with password "$PF_PASSWORD" keep ssl
	sslcertfile "$PKI_CA" sslcommonname localhost
	mda "/bin/sh -c 'cat >>$HOME/fetchmail.mbox'"
EOF
chmod 600 "$HOME/.fetchmailrc"
RC=0
timeout 60 fetchmail >"$T/fetchmail.out" 2>&1 || RC=$?
[ "$RC" -eq 0 ] || fail "fetchmail failed ($RC): $(cat "$T/fetchmail.out")"
[ -s "$HOME/.fetchids" ] || fail "fetchmail wrote no ~/.fetchids"
assert_eq "fetchmail: messages delivered" \
    "$(grep -c '^From ' "$HOME/fetchmail.mbox")" 3

# Delivered by an MDA: the converter wants -f.
RC=0
"$FETCHMAILRC2" -o "$T/fetchmail.conf" >"$T/conv.out" 2>"$T/conv.err" ||
    RC=$?
[ "$RC" -eq 1 ] || fail "fetchmailrc2popfetch without -f: exit $RC, not 1"
RC=0
"$FETCHMAILRC2" -f -o "$T/fetchmail.conf" >"$T/conv.out" 2>"$T/conv.err" ||
    RC=$?
[ "$RC" -eq 0 ] || fail "fetchmailrc2popfetch failed ($RC): $(cat "$T/conv.err")"
assert_grep "fetchmailrc2popfetch" 'localhost.uidl: 3 UIDs written' \
    "$T/conv.err"
PF_CONF=$T/fetchmail.conf
pf_run -v -v
assert_rc 0 "after fetchmail"
retrieved "popfetch after fetchmail" 0

# New mail: each account retrieves that and nothing else.
for u in alice bob; do
	seed "$u" "$T/orig/new"
done
PF_CONF=$T/mpop.conf
pf_run -v -v
assert_rc 0 "with new mail, after mpop"
retrieved "popfetch with new mail, after mpop" 2
assert_eq "popfetch with new mail, after mpop: Maildir" \
    "$(count_new "$HOME/mpop-md")" 5
PF_CONF=$T/fetchmail.conf
pf_run -v -v
assert_rc 0 "with new mail, after fetchmail"
retrieved "popfetch with new mail, after fetchmail" 2
maildir_check "popfetch with new mail, after fetchmail" "$HOME/Maildir" \
    "$T/orig/new"
for u in alice bob; do
	assert_eq "$u: kept on the server" "$(server_count "$u")" 5
done
say "PASS: state imported from mpop and fetchmail"
