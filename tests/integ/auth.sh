#!/bin/sh
# shellcheck disable=SC2317,SC2119 # checks run through fake_check
# Logging in with each method of the auth key.  Against Dovecot: PLAIN,
# LOGIN, CRAM-MD5, SCRAM-SHA-1, SCRAM-SHA-256 (the last three against
# passwords stored hashed for that mechanism alone), USER/PASS, APOP and
# what auto chooses, each proven by the method Dovecot logs, and a wrong
# password for each (77, one attempt); PLAIN without TLS only with
# allow_plaintext.  XOAUTH2 and OAUTHBEARER against Dovecot, which checks
# the token as the user's password (a token of 4 KB), and against the
# fake server, which plays the error challenge: a refused token makes
# popfetch run password_command once more and try once more, on the
# same connection.  APOP also against the fake server, for the RFC 1939
# digest itself.

# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/lib.sh"

[ -x "$FAKE_BIN" ] || fail "$FAKE_BIN is missing: run make check"

# The scripts for the fake server are written here, by the checks.
FAKE_COMMON=$FAKE_SCRIPTS/common
FAKE_SCRIPTS=$T/scripts
mkdir "$FAKE_SCRIPTS"

M1=$FAKE_MAIL/m1.eml
M2=$FAKE_MAIL/m2.eml
M3=$FAKE_MAIL/m3.eml

WRONG=Wrong-Kx41-not-the-password
# The APOP timestamp of the fake server's greeting (common/greet.pop3).
FAKE_STAMP='<1704067200.42@fake.test>'
# The error challenge of RFC 7628 §3.2.2, as Gmail sends it.
OAUTH_JSON='{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}'
OAUTH_CHAL=$(printf '%s' "$OAUTH_JSON" | base64 -w 0)
TOK_STALE=ya29.stale-Qm51-token-of-yesterday
# A token of 4 KB (Microsoft's are about 2 KB, and growing).
TOK_BIG=$(printf 'ya29.big-%04d-' $(seq 1 400) | cut -c 1-4096)
# The fake server reads lines of at most 4 KB, so its long token is
# smaller: still far too long for an initial response in the AUTH
# command (255 octets, RFC 5034 §4).
TOK_LONG=$(printf 'ya29.long-%04d-' $(seq 1 250) | cut -c 1-3000)

DOVECOT_AUTH_MECHS="plain login cram-md5 scram-sha-1 scram-sha-256 apop"
DOVECOT_AUTH_MECHS="$DOVECOT_AUTH_MECHS xoauth2 oauthbearer"
DOVECOT_EXTRA_CONF=$DOVECOT_CONF_NO_PENALTY
dovecot_start
dv_log_init
gen_mail "$T/orig/two" -n 2
TWO=$T/orig/two

for u in plain login cram-md5 scram-sha-1 scram-sha-256 user apop auto \
    auto-tls auto-clear clear xoauth2 oauthbearer; do
	user_add "u-$u"
	seed "u-$u" "$TWO"
done
# Stored hashed for one mechanism: that mechanism must really be used.
user_password u-cram-md5 "$PF_PASSWORD" CRAM-MD5
user_password u-scram-sha-1 "$PF_PASSWORD" SCRAM-SHA-1
user_password u-scram-sha-256 "$PF_PASSWORD" SCRAM-SHA-256
# Dovecot's XOAUTH2 and OAUTHBEARER check the token against the passdb.
user_password u-xoauth2 "$TOK_BIG"
user_password u-oauthbearer "$TOK_BIG"

# token_cmd DIR TOKEN1 TOKEN2: DIR/token, a token helper that counts its
# runs in DIR/count and prints TOKEN1 the first time, TOKEN2 after.
token_cmd()
{
	printf '%s\n' "$2" >"$1/tok1"
	printf '%s\n' "$3" >"$1/tok2"
	cat >"$1/token" <<-EOF
	#!/bin/sh
	n=\$((\$(cat '$1/count' 2>/dev/null || echo 0) + 1))
	echo "\$n" >'$1/count'
	if [ "\$n" -ge 2 ]; then cat '$1/tok2'; else cat '$1/tok1'; fi
	EOF
	chmod 0755 "$1/token"
}

# token_runs WHAT N: the token helper ran N times.
token_runs()
{
	tr_n=$(cat "$T/count" 2>/dev/null || echo 0)
	[ "$tr_n" -eq "$2" ] ||
	    fail "$1: password_command ran $tr_n times, expected $2"
}

# login_ok AUTH METHOD USER TLS: auth = AUTH fetches USER's message, and
# Dovecot logs the login with METHOD.
login_ok()
{
	lo_want=$(dv_count "Login: user=<$3>, method=$2,")
	pf_account -x "auth = $1" "$3" "$3" "$4" keep
	pf_run -v -v
	assert_rc 0 "auth = $1 (tls = $4)"
	assert_summary "auth = $1" "$3" 2 2 0
	maildir_check "auth = $1" "$T/client/$3" "$TWO"
	dv_wait "auth = $1" "Login: user=<$3>, method=$2," $((lo_want + 1))
}

# login_bad AUTH METHOD USER TLS: with a wrong password, 77 after one
# attempt that Dovecot logs with METHOD; nothing is fetched.
login_bad()
{
	lb_re="auth failed, 1 attempts .*: user=<$3>, method=$2,"
	lb_want=$(dv_count "$lb_re")
	lb_any=$(dv_count "auth failed, .*: user=<$3>,")
	pf_account -p "$WRONG" -x "auth = $1" "$3-bad" "$3" "$4" keep
	pf_run -v -v
	assert_rc 77 "auth = $1 with a wrong password"
	assert_grep "auth = $1 with a wrong password" \
	    "^popfetch: $3-bad: " "$PF_ERR"
	dv_wait "auth = $1 with a wrong password" "$lb_re" $((lb_want + 1))
	dv_quiet
	assert_eq "auth = $1 with a wrong password: failed sessions" \
	    "$(dv_count "auth failed, .*: user=<$3>,")" $((lb_any + 1))
	assert_eq "auth = $1 with a wrong password: messages" \
	    "$(count_new "$T/client/$3-bad")" 0
}

# What the -v -v trace shows of the login command.
trace_sent()
{
	assert_grep "$1: the trace" ": C: $2" "$PF_ERR"
}

mech_check()
{
	login_ok "$1" "$2" "u-$1" starttls
	trace_sent "auth = $1" "$3"
	login_bad "$1" "$2" "u-$1" on
}

check_plain()
{
	mech_check plain PLAIN 'AUTH PLAIN'
}

check_login()
{
	mech_check login LOGIN 'AUTH LOGIN'
}

check_cram_md5()
{
	mech_check cram-md5 CRAM-MD5 'AUTH CRAM-MD5'
}

check_scram_sha_1()
{
	mech_check scram-sha-1 SCRAM-SHA-1 'AUTH SCRAM-SHA-1'
}

check_scram_sha_256()
{
	mech_check scram-sha-256 SCRAM-SHA-256 'AUTH SCRAM-SHA-256'
}

# Dovecot logs USER/PASS as PLAIN; the trace tells them apart.
check_user()
{
	mech_check user PLAIN 'USER u-user$'
	assert_no_grep "auth = user: the trace" ': C: AUTH' "$PF_ERR"
}

check_apop()
{
	mech_check apop APOP 'APOP '
}

# The strongest that Dovecot offers, over STLS and over implicit TLS.
check_auto()
{
	login_ok auto SCRAM-SHA-256 u-auto starttls
	trace_sent "auth = auto" 'AUTH SCRAM-SHA-256'
	login_ok auto SCRAM-SHA-256 u-auto-tls on
	login_bad auto SCRAM-SHA-256 u-auto on
}

# Without TLS, auto still takes SCRAM-SHA-256 (allow_plaintext permits
# the cleartext methods, it does not prefer them).
check_auto_plaintext()
{
	login_ok auto SCRAM-SHA-256 u-auto-clear off
}

# PLAIN over a connection without TLS: with allow_plaintext it works;
# without, the configuration is refused (78) before any connection.
check_plain_no_tls()
{
	login_ok plain PLAIN u-clear off
	pf_config_new
	cat >>"$PF_CONF" <<-EOF
	account "cleartext" {
		host = 127.0.0.1
		port = $DOVECOT_PORT
		tls = off
		auth = plain
		user = "u-clear"
		password = "$PF_PASSWORD"
		maildir = "$T/client/cleartext"
	}
	EOF
	dv_quiet
	pc_n=$(dv_count 'pop3-login: ')
	pf_run
	assert_rc 78 "tls = off without allow_plaintext"
	assert_grep "tls = off without allow_plaintext" allow_plaintext \
	    "$PF_ERR"
	dv_quiet
	assert_eq "tls = off without allow_plaintext: sessions" \
	    "$(dv_count 'pop3-login: ')" "$pc_n"
}

# oauth_dovecot MECH: against Dovecot, a refused token, then the 4 KB
# one: two runs of the helper, one login.  A token refused twice: 77,
# still two runs.
oauth_dovecot()
{
	od_m=$(printf '%s' "$1" | tr '[:lower:]' '[:upper:]')
	token_cmd "$T" "$TOK_STALE" "$TOK_BIG"
	od_want=$(dv_count "Login: user=<u-$1>, method=$od_m,")
	pf_account -p '' -x "auth = $1" \
	    -x "password_command = \"$T/token\"" "u-$1" "u-$1" on keep
	pf_run -v -v
	assert_rc 0 "auth = $1, a stale token, then a fresh one of 4 KB"
	token_runs "auth = $1, a stale token, then a fresh one" 2
	maildir_check "auth = $1" "$T/client/u-$1" "$TWO"
	dv_wait "auth = $1" "Login: user=<u-$1>, method=$od_m," \
	    $((od_want + 1))

	pf_config_new
	rm -f "$T/count"
	token_cmd "$T" "$TOK_STALE" "$TOK_STALE-too"
	pf_account -p '' -x "auth = $1" \
	    -x "password_command = \"$T/token\"" "u-$1-bad" "u-$1" on keep
	pf_run -v -v
	assert_rc 77 "auth = $1, two stale tokens"
	token_runs "auth = $1, two stale tokens" 2
}

check_xoauth2_dovecot()
{
	oauth_dovecot xoauth2
}

check_oauthbearer_dovecot()
{
	oauth_dovecot oauthbearer
}

# oauth_ir MECH TOKEN: the base64 initial response for fakeuser.
oauth_ir()
{
	if [ "$1" = xoauth2 ]; then
		printf 'user=fakeuser\001auth=Bearer %s\001\001' "$2"
	else
		printf 'n,a=fakeuser,\001auth=Bearer %s\001\001' "$2"
	fi | base64 -w 0
}

fake_tls_line()
{
	if [ "$1" = off ]; then
		echo 'allow_plaintext = yes'
	else
		printf 'ca_file = "%s"\n' "$top_srcdir/tests/data/tls/ca.pem"
	fi
}

# fake_auth_account NAME TLS AUTH KEY=VALUE: an account on the fake
# server, user fakeuser, Maildir $T/client/NAME, delete = keep, the
# secret given by KEY=VALUE (password or password_command).
fake_auth_account()
{
	cat >>"$PF_CONF" <<-EOF
	account "$1" {
		host = "127.0.0.1"
		port = $FAKE_PORT
		tls = $2
		$(fake_tls_line "$2")
		auth = $3
		user = "fakeuser"
		${4%%=*} = "${4#*=}"
		maildir = "$T/client/$1"
		delete = keep
		timeout = 10
	}
	EOF
}

# fake_capa_sasl MECHS: STLS, the CAPA of a server with these SASL
# mechanisms, over TLS.
fake_tls_capa_sasl()
{
	cat <<-EOF
	X: include $FAKE_COMMON/greet.pop3
	C: CAPA
	S: +OK
	S: STLS
	S: .
	C: STLS
	S: +OK begin TLS
	X: tls
	C: CAPA
	S: +OK
	S: TOP
	S: UIDL
	S: USER
	S: RESP-CODES
	S: AUTH-RESP-CODE
	S: SASL $1
	S: .
	EOF
}

# The three messages, then QUIT.
fake_fetch3()
{
	cat <<-EOF
	X: include $FAKE_COMMON/list3.pop3
	X: include $FAKE_COMMON/uidl3.pop3
	X: include $FAKE_COMMON/retr1.pop3
	X: include $FAKE_COMMON/retr2.pop3
	X: include $FAKE_COMMON/retr3.pop3
	X: include $FAKE_COMMON/quit.pop3
	EOF
}

# The answer that ends a refused token exchange: an empty line for
# XOAUTH2, a lone %x01 for OAUTHBEARER (RFC 7628 §3.2.3).
oauth_abort()
{
	if [ "$1" = xoauth2 ]; then
		echo 'C:'
	else
		echo 'C: AQ=='
	fi
}

# oauth_refused MECH TOKEN: the exchange of a refused TOKEN.
oauth_refused()
{
	printf 'C: AUTH %s %s\n' "$(printf '%s' "$1" | tr '[:lower:]' '[:upper:]')" \
	    "$(oauth_ir "$1" "$2")"
	printf 'S: + %s\n' "$OAUTH_CHAL"
	oauth_abort "$1"
	echo 'S: -ERR [AUTH] invalid credentials'
}

# oauth_fake MECH: the first token refused with the error challenge, the
# second taken: the helper ran twice, the messages are fetched.
oauth_fake()
{
	of_tok1=ya29.first-$1-Hq2-token
	of_tok2=ya29.second-$1-Vt8-token
	{
		fake_tls_capa_sasl 'PLAIN XOAUTH2 OAUTHBEARER'
		oauth_refused "$1" "$of_tok1"
		printf 'C: AUTH %s %s\n' \
		    "$(printf '%s' "$1" | tr '[:lower:]' '[:upper:]')" \
		    "$(oauth_ir "$1" "$of_tok2")"
		echo 'S: +OK welcome'
		fake_fetch3
	} >"$FAKE_SCRIPTS/$1-retry.pop3"
	token_cmd "$T" "$of_tok1" "$of_tok2"
	fake_start "$1-retry"
	fake_auth_account "$1" starttls "$1" "password_command=$T/token"
	fake_pf
	assert_rc 0 "$1: a refused token, then a fresh one"
	token_runs "$1: a refused token, then a fresh one" 2
	fake_maildir "$1: a refused token, then a fresh one" "$1" \
	    "$M1" "$M2" "$M3"
	fake_finish "$1: a refused token, then a fresh one"
	assert_no_secret "$1: the first token" "$of_tok1" "$PF_OUT" "$PF_ERR"
	assert_no_secret "$1: the second token" "$of_tok2" "$PF_OUT" "$PF_ERR"
}

# oauth_fake_twice MECH: both tokens refused: 77, two runs of the
# helper, no third attempt, no LIST.
oauth_fake_twice()
{
	{
		fake_tls_capa_sasl 'XOAUTH2 OAUTHBEARER'
		oauth_refused "$1" "ya29.one-Nn3-token"
		oauth_refused "$1" "ya29.two-Nn3-token"
		echo "X: include $FAKE_COMMON/maybe-quit.pop3"
	} >"$FAKE_SCRIPTS/$1-twice.pop3"
	token_cmd "$T" ya29.one-Nn3-token ya29.two-Nn3-token
	fake_start "$1-twice"
	fake_auth_account "$1" starttls "$1" "password_command=$T/token"
	fake_pf
	assert_rc 77 "$1: two refused tokens"
	token_runs "$1: two refused tokens" 2
	fake_message "$1: two refused tokens" "^popfetch: $1: "
	fake_not_sent "$1: two refused tokens" 1 '^(LIST|UIDL|RETR)'
	fake_finish "$1: two refused tokens"
}

check_xoauth2_fake()
{
	oauth_fake xoauth2
}

check_oauthbearer_fake()
{
	oauth_fake oauthbearer
}

check_xoauth2_fake_twice()
{
	oauth_fake_twice xoauth2
}

check_oauthbearer_fake_twice()
{
	oauth_fake_twice oauthbearer
}

# A token too long for the AUTH line: the command alone, the server's
# empty challenge, then the initial response (the two-step form
# Microsoft documents for XOAUTH2).
check_xoauth2_fake_long()
{
	{
		fake_tls_capa_sasl 'XOAUTH2'
		echo 'C: AUTH XOAUTH2'
		echo 'S: +'
		printf 'C: %s\n' "$(oauth_ir xoauth2 "$TOK_LONG")"
		echo 'S: +OK welcome'
		fake_fetch3
	} >"$FAKE_SCRIPTS/xoauth2-long.pop3"
	token_cmd "$T" "$TOK_LONG" "$TOK_LONG"
	fake_start xoauth2-long
	fake_auth_account long starttls xoauth2 "password_command=$T/token"
	fake_pf
	assert_rc 0 "xoauth2 with a token of 3000 bytes"
	token_runs "xoauth2 with a token of 3000 bytes" 1
	fake_maildir "xoauth2 with a token of 3000 bytes" long \
	    "$M1" "$M2" "$M3"
	fake_finish "xoauth2 with a token of 3000 bytes"
}

# APOP: the digest is MD5 over the greeting's timestamp and the
# password, in lowercase hex (RFC 1939 §7).
check_apop_fake()
{
	ap_digest=$(printf '%s%s' "$FAKE_STAMP" "$PF_PASSWORD" | md5sum |
	    cut -d ' ' -f 1)
	{
		echo "X: include $FAKE_COMMON/greet.pop3"
		echo "X: include $FAKE_COMMON/capa.pop3"
		echo "C: APOP fakeuser $ap_digest"
		echo 'S: +OK maildrop has 3 messages'
		fake_fetch3
	} >"$FAKE_SCRIPTS/apop.pop3"
	fake_start apop
	fake_auth_account apop off apop "password=$PF_PASSWORD"
	fake_pf
	assert_rc 0 "apop"
	fake_maildir "apop" apop "$M1" "$M2" "$M3"
	fake_not_sent "apop" 1 '^(USER|PASS|AUTH)'
	fake_finish "apop"
}

fake_check "auth = plain" check_plain
fake_check "auth = login" check_login
fake_check "auth = cram-md5 (stored as CRAM-MD5)" check_cram_md5
fake_check "auth = scram-sha-1 (stored as SCRAM-SHA-1)" check_scram_sha_1
fake_check "auth = scram-sha-256 (stored as SCRAM-SHA-256)" \
    check_scram_sha_256
fake_check "auth = user" check_user
fake_check "auth = apop" check_apop
fake_check "auth = auto takes SCRAM-SHA-256" check_auto
fake_check "auth = auto without TLS takes SCRAM-SHA-256" \
    check_auto_plaintext
fake_check "auth = plain without TLS needs allow_plaintext" \
    check_plain_no_tls
fake_check "auth = xoauth2 against Dovecot, 4 KB token" \
    check_xoauth2_dovecot
fake_check "auth = oauthbearer against Dovecot, 4 KB token" \
    check_oauthbearer_dovecot
fake_check "xoauth2: error challenge, fresh token" check_xoauth2_fake
fake_check "oauthbearer: error challenge, fresh token" \
    check_oauthbearer_fake
fake_check "xoauth2: two refused tokens" check_xoauth2_fake_twice
fake_check "oauthbearer: two refused tokens" check_oauthbearer_fake_twice
fake_check "xoauth2: long token, two-step form" check_xoauth2_fake_long
fake_check "apop: the RFC 1939 digest" check_apop_fake
fake_summary
