#!/bin/sh
# shellcheck disable=SC2317 # checks run through fake_check
# TLS policy against Dovecot: a pinned SHA-256 fingerprint is all the
# trust a self-signed certificate needs, and a wrong pin is refused
# with both fingerprints named; an expired certificate is refused; a
# refused certificate is described (subject, issuer, fingerprint) so
# that it can be pinned; tls_min_version = TLS1.3 refuses a TLS 1.2
# server; a TLS 1.1 server is refused whatever tls_priority says; and
# --serverinfo prints the greeting, CAPA, SASL mechanisms, TLS version
# and cipher and the certificate, and never logs in.  In every refused
# case Dovecot saw no login attempt.

# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/lib.sh"

GREETING='popfetch test server 5c2e ready.'
DOVECOT_AUTH_MECHS="plain scram-sha-256"
DOVECOT_BASE_CONF="login_greeting = $GREETING
$DOVECOT_CONF_NO_PENALTY"
DOVECOT_EXTRA_CONF=$DOVECOT_BASE_CONF
pki_more
dovecot_start
dv_log_init
user_add alice
gen_mail "$T/orig/two" -n 2
TWO=$T/orig/two
seed alice "$TWO"

FP_SERVER=$(pki_fingerprint "$T/pki/server.pem")
FP_SELF=$(pki_fingerprint "$T/pki/selfsigned.pem")
FP_EXPIRED=$(pki_fingerprint "$T/pki/expired.pem")
for fp in "$FP_SERVER" "$FP_SELF" "$FP_EXPIRED"; do
	printf '%s\n' "$fp" | grep -Eqx 'SHA256:[0-9a-f]{64}' ||
	    fail "no fingerprint from certtool: '$fp'"
done

# upper_colons SHA256:hex: the same fingerprint as SHA256:AB:CD:...
upper_colons()
{
	printf '%s' "${1#SHA256:}" | tr '[:lower:]' '[:upper:]' |
	    sed 's/../&:/g; s/:$//; s/^/SHA256:/'
}

# fingerprints FILE: every SHA-256 fingerprint in FILE, as
# "SHA256:" and lowercase hex without colons, one a line.
fingerprints()
{
	grep -oiE 'SHA-?256:? ?([0-9a-f]{2}:?){32}' "$1" |
	    sed -E 's/^SHA-?256:? ?//I; s/://g' |
	    tr '[:upper:]' '[:lower:]' | sed 's/^/SHA256:/' | sort -u
}

# Logins and failed logins that Dovecot logged.
logins()
{
	dv_count '(Login: user=|auth failed)'
}

# no_login_since WHAT N: Dovecot saw none since there were N.
no_login_since()
{
	dv_quiet
	assert_eq "$1: logins and failed logins on the server" \
	    "$(logins)" "$2"
}

# fetch_ok WHAT NAME TLS LINE...: a fetch that works, with LINEs added
# to the account.
fetch_ok()
{
	fo_what=$1
	fo_name=$2
	fo_tls=$3
	shift 3
	pf_config_new
	pf_account "$fo_name" alice "$fo_tls" keep
	[ $# -eq 0 ] || pf_extra "$@"
	pf_run
	assert_rc 0 "$fo_what"
	maildir_check "$fo_what" "$T/client/$fo_name" "$TWO"
}

# pf_extra LINE...: add LINEs to the last account of $PF_CONF.
pf_extra()
{
	for pe_l; do
		sed -i '$d' "$PF_CONF"
		printf '\t%s\n}\n' "$pe_l" >>"$PF_CONF"
	done
}

# refused WHAT NAME TLS LINE...: the account is refused with 76 and no
# login reaches the server.
refused()
{
	rf_what=$1
	rf_name=$2
	rf_tls=$3
	shift 3
	dv_quiet
	rf_before=$(logins)
	rf_quiet=$(dv_count 'no auth attempts')
	pf_config_new
	pf_account "$rf_name" alice "$rf_tls" keep
	[ $# -eq 0 ] || pf_extra "$@"
	pf_run
	assert_rc 76 "$rf_what"
	assert_grep "$rf_what" "^popfetch: $rf_name: " "$PF_ERR"
	no_login_since "$rf_what" "$rf_before"
	dv_wait "$rf_what" 'no auth attempts' $((rf_quiet + 1))
	assert_eq "$rf_what: messages" "$(count_new "$T/client/$rf_name")" 0
}

# --serverinfo: greeting, CAPA, SASL, TLS version and cipher, and the
# certificate, for tls = on and starttls; no USER, PASS or AUTH.
serverinfo()
{
	si_before=$(logins)
	si_quiet=$(dv_count 'no auth attempts')
	pf_config_new
	pf_account "si-$1" alice "$1" keep
	pf_run --serverinfo "si-$1"
	assert_rc 0 "--serverinfo (tls = $1)"
	assert_grep "--serverinfo: the greeting" "$GREETING" "$PF_OUT"
	for si_cap in TOP UIDL PIPELINING RESP-CODES; do
		assert_grep "--serverinfo: CAPA" "(^|[^A-Z-])$si_cap([^A-Z-]|\$)" \
		    "$PF_OUT"
	done
	assert_grep "--serverinfo: SASL" 'PLAIN' "$PF_OUT"
	assert_grep "--serverinfo: SASL" 'SCRAM-SHA-256' "$PF_OUT"
	assert_grep "--serverinfo: the TLS version" 'TLS ?1\.[23]' "$PF_OUT"
	assert_grep "--serverinfo: the cipher" \
	    '(AES|CHACHA20)[-_A-Z0-9]*' "$PF_OUT"
	assert_grep "--serverinfo: the subject" 'CN=localhost' "$PF_OUT"
	assert_grep "--serverinfo: the issuer" 'popfetch test CA' "$PF_OUT"
	assert_grep "--serverinfo: the validity" '20[0-9][0-9]' "$PF_OUT"
	assert_grep "--serverinfo: the fingerprint line" \
	    '^[[:space:]]*sha256: SHA256:' "$PF_OUT"
	assert_eq "--serverinfo: the fingerprint" \
	    "$(fingerprints "$PF_OUT")" "$FP_SERVER"
	assert_no_secret "--serverinfo" "$PF_PASSWORD" "$PF_OUT" "$PF_ERR"
	no_login_since "--serverinfo (tls = $1)" "$si_before"
	dv_wait "--serverinfo (tls = $1)" 'no auth attempts' \
	    $((si_quiet + 1))
	assert_eq "--serverinfo: messages" "$(count_new "$T/client/si-$1")" 0
}

check_serverinfo_tls()
{
	serverinfo on
}

check_serverinfo_starttls()
{
	serverinfo starttls
}

# Self-signed: refused without a pin, with what the user needs to pin
# it; taken with the right pin, in either spelling.
check_pin_right()
{
	refused "self-signed, no pin" nopin on
	assert_grep "self-signed, no pin: the subject" 'localhost' "$PF_ERR"
	assert_grep "self-signed, no pin: the issuer" \
	    'popfetch self-signed test' "$PF_ERR"
	assert_eq "self-signed, no pin: the fingerprint" \
	    "$(fingerprints "$PF_ERR")" "$FP_SELF"
	fetch_ok "pinned, tls = on" pin-on on \
	    "tls_fingerprint = \"$FP_SELF\""
	fetch_ok "pinned, tls = starttls, SHA256:AB:CD:..." pin-stls starttls \
	    "tls_fingerprint = \"$(upper_colons "$FP_SELF")\""
}

# A wrong pin: 76, and the message names the pinned fingerprint and the
# server's.
check_pin_wrong()
{
	for pw_tls in on starttls; do
		refused "wrong pin (tls = $pw_tls)" "pin-wrong-$pw_tls" \
		    "$pw_tls" "tls_fingerprint = \"$FP_SELF\""
		printf '%s\n%s\n' "$FP_SELF" "$FP_SERVER" | sort >"$T/fp.want"
		fingerprints "$PF_ERR" >"$T/fp.got"
		cmp -s "$T/fp.want" "$T/fp.got" ||
		    fail "wrong pin: the message names $(tr '\n' ' ' \
			<"$T/fp.got"), not both $(tr '\n' ' ' <"$T/fp.want")"
	done
}

# Expired: refused, and the message says so; a pin trusts it all the
# same (the pin is all the trust there is).
check_expired()
{
	for ex_tls in on starttls; do
		refused "expired certificate (tls = $ex_tls)" \
		    "expired-$ex_tls" "$ex_tls"
		assert_grep "expired certificate" '[Ee]xpired' "$PF_ERR"
	done
	fetch_ok "expired but pinned" expired-pin on \
	    "tls_fingerprint = \"$FP_EXPIRED\""
}

# A server of TLS 1.2 at most: fine by default, refused with
# tls_min_version = TLS1.3, before any login.
check_tls12_server()
{
	fetch_ok "TLS 1.2 server, default tls_min_version" tls12 on
	refused "TLS 1.2 server, tls_min_version = TLS1.3" tls12-min13 on \
	    'tls_min_version = TLS1.3'
	refused "TLS 1.2 server, tls_min_version = TLS1.3 (starttls)" \
	    tls12-min13-stls starttls 'tls_min_version = TLS1.3'
}

# A TLS 1.1 server: the handshake fails (RFC 8996), even when
# tls_priority asks for TLS 1.1.
check_tls11_server()
{
	t11_fail=$(dv_count 'SSL_accept\(\) failed')
	refused "TLS 1.1 server" tls11 on
	refused "TLS 1.1 server (starttls)" tls11-stls starttls
	refused "TLS 1.1 server, tls_priority with TLS 1.1" tls11-prio on \
	    'tls_priority = "NORMAL:+VERS-TLS1.1"'
	dv_wait "TLS 1.1 server: failed handshakes" 'SSL_accept\(\) failed' \
	    $((t11_fail + 3))
}

fake_check "--serverinfo, tls = on" check_serverinfo_tls
fake_check "--serverinfo, tls = starttls" check_serverinfo_starttls

dovecot_restart selfsigned
fake_check "self-signed certificate, pinned" check_pin_right
dovecot_restart server
fake_check "wrong pin" check_pin_wrong

dovecot_restart expired
fake_check "expired certificate" check_expired

DOVECOT_EXTRA_CONF=$DOVECOT_BASE_CONF
dovecot_tls_versions TLSv1.2 TLSv1.2
dovecot_restart server
fake_check "TLS 1.2 server, tls_min_version" check_tls12_server

DOVECOT_EXTRA_CONF=$DOVECOT_BASE_CONF
dovecot_tls_versions TLSv1.1 TLSv1.1
dovecot_restart server
fake_check "TLS 1.1 server refused" check_tls11_server
fake_summary
