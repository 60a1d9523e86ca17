#!/bin/sh
# shellcheck disable=SC2317,SC2119 # checks run through fake_check
# Secrets.  A configuration file that holds a password and that others
# may read is refused (78) before any connection; one with only
# password_command may be readable, not writable, by others.  Then, at
# each verbosity (none, -v, -v -v) and for each login method Dovecot
# offers, with the right password and with a wrong one, neither password
# shows in popfetch's output, as it is or in base64; nor does an OAuth
# token, against Dovecot (XOAUTH2, a refused token then a fresh one) and
# against the fake server (both refused, after the error challenge).

# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/lib.sh"

[ -x "$FAKE_BIN" ] || fail "$FAKE_BIN is missing: run make check"

FAKE_COMMON=$FAKE_SCRIPTS/common
FAKE_SCRIPTS=$T/scripts
mkdir "$FAKE_SCRIPTS"

WRONG=Wrong-Kx41-not-the-password
TOK_STALE=ya29.stale-Jw62-token-of-yesterday
TOK_GOOD=ya29.good-Lr07-token-of-today-0123456789
OAUTH_CHAL=$(printf '%s' '{"status":"401","schemes":"bearer"}' |
    base64 -w 0)

DOVECOT_AUTH_MECHS="plain login cram-md5 scram-sha-1 scram-sha-256 apop"
DOVECOT_AUTH_MECHS="$DOVECOT_AUTH_MECHS xoauth2"
DOVECOT_EXTRA_CONF=$DOVECOT_CONF_NO_PENALTY
dovecot_start
dv_log_init
user_add alice
gen_mail "$T/orig/two" -n 2
seed alice "$T/orig/two"
user_add tok
user_password tok "$TOK_GOOD"

# secret_cmd DIR: DIR/secret, a password command that prints the
# password (with the account's password_command, no password in the
# file).
secret_cmd()
{
	printf '#!/bin/sh\necho %s\n' "$PF_PASSWORD" >"$1/secret"
	chmod 0700 "$1/secret"
}

# mode_config MODE KEY: a configuration of mode MODE whose account has
# KEY (password or password_command).
mode_config()
{
	pf_config_new
	if [ "$2" = password ]; then
		pf_account mode alice on keep
	else
		secret_cmd "$T"
		pf_account -p '' -x "password_command = \"$T/secret\"" \
		    mode alice on keep
	fi
	chmod "$1" "$PF_CONF"
}

# refused_config WHAT: the run was refused (78) with the file named, and Dovecot
# saw no connection.
refused_config()
{
	assert_rc 78 "$1"
	assert_grep "$1: the file is named" "${PF_CONF##*/}" "$PF_ERR"
	dv_quiet
	assert_eq "$1: connections" "$(dv_count 'pop3-login: ')" "$rc_conns"
}

check_modes()
{
	dv_quiet
	rc_conns=$(dv_count 'pop3-login: ')
	for mc_mode in 0644 0640 0604; do
		mode_config "$mc_mode" password
		pf_run
		refused_config "password in a file of mode $mc_mode"
	done
	mode_config 0666 password_command
	pf_run
	refused_config "password_command in a file of mode 0666"
	mode_config 0644 password_command
	pf_run
	assert_rc 0 "password_command in a file of mode 0644"
	mode_config 0600 password
	pf_run
	assert_rc 0 "password in a file of mode 0600"
}

# verbose_run V [ACCOUNT]: popfetch at verbosity V (0, 1, 2).
verbose_run()
{
	vr_v=$1
	shift
	case $vr_v in
	0) pf_run "$@" ;;
	1) pf_run -v "$@" ;;
	2) pf_run -v -v "$@" ;;
	esac
}

# leaks AUTH METHOD: at each verbosity, the right password (0) and a
# wrong one (77); neither shows.  From the password file and from
# password_command.  Dovecot logs the logins with METHOD: the secret
# went through that mechanism.
leaks()
{
	secret_cmd "$T"
	lk_logins=$(dv_count "Login: user=<alice>, method=$2,")
	for lk_v in 0 1 2; do
		pf_config_new
		pf_account -x "auth = $1" "ok-$1-$lk_v" alice starttls keep
		pf_account -p "$WRONG" -x "auth = $1" "bad-$1-$lk_v" alice \
		    on keep
		pf_account -p '' -x "auth = $1" \
		    -x "password_command = \"$T/secret\"" "cmd-$1-$lk_v" \
		    alice on keep
		for lk_a in ok bad cmd; do
			verbose_run "$lk_v" "$lk_a-$1-$lk_v"
			case $lk_a in
			bad) lk_want=77 ;;
			*) lk_want=0 ;;
			esac
			lk_what="auth = $1, $lk_a, verbosity $lk_v"
			assert_rc "$lk_want" "$lk_what"
			assert_no_secret "$lk_what: the password" \
			    "$PF_PASSWORD" "$PF_OUT" "$PF_ERR"
			assert_no_secret "$lk_what: the wrong password" \
			    "$WRONG" "$PF_OUT" "$PF_ERR"
			if [ "$lk_v" -eq 2 ]; then
				assert_grep "$lk_what: the trace" \
				    ": C: " "$PF_ERR"
			fi
		done
	done
	dv_wait "auth = $1" "Login: user=<alice>, method=$2," \
	    $((lk_logins + 6))
}

check_user()
{
	leaks user PLAIN
	assert_grep "auth = user: PASS masked" ': C: PASS \*\*\*\*$' "$PF_ERR"
}

check_apop()
{
	leaks apop APOP
}

check_plain()
{
	leaks plain PLAIN
}

check_login()
{
	leaks login LOGIN
}

check_cram_md5()
{
	leaks cram-md5 CRAM-MD5
}

check_scram_sha_1()
{
	leaks scram-sha-1 SCRAM-SHA-1
}

check_scram_sha_256()
{
	leaks scram-sha-256 SCRAM-SHA-256
}

check_auto()
{
	leaks auto SCRAM-SHA-256
}

# token_cmd DIR TOKEN1 TOKEN2: DIR/token prints TOKEN1 the first time,
# TOKEN2 after.
token_cmd()
{
	printf '%s\n' "$2" >"$1/tok1"
	printf '%s\n' "$3" >"$1/tok2"
	cat >"$1/token" <<-EOF
	#!/bin/sh
	if [ -e '$1/ran' ]; then cat '$1/tok2'; else cat '$1/tok1'; fi
	: >'$1/ran'
	EOF
	chmod 0755 "$1/token"
}

# XOAUTH2 against Dovecot: a refused token, then the right one.
check_xoauth2_dovecot()
{
	for xd_v in 0 1 2; do
		rm -f "$T/ran"
		token_cmd "$T" "$TOK_STALE" "$TOK_GOOD"
		pf_config_new
		pf_account -p '' -x 'auth = xoauth2' \
		    -x "password_command = \"$T/token\"" "x-$xd_v" tok on keep
		verbose_run "$xd_v"
		xd_what="xoauth2 against Dovecot, verbosity $xd_v"
		assert_rc 0 "$xd_what"
		assert_no_secret "$xd_what: the refused token" "$TOK_STALE" \
		    "$PF_OUT" "$PF_ERR"
		assert_no_secret "$xd_what: the token" "$TOK_GOOD" \
		    "$PF_OUT" "$PF_ERR"
	done
}

# XOAUTH2 against the fake server: both tokens refused after the error
# challenge, at each verbosity (connection i is verbosity i - 1).
check_xoauth2_fake()
{
	for xf_i in 1 2 3; do
		{
			echo "X: include $FAKE_COMMON/greet.pop3"
			echo 'C: CAPA'
			echo 'S: +OK'
			echo 'S: USER'
			echo 'S: UIDL'
			echo 'S: SASL XOAUTH2'
			echo 'S: .'
			for xf_tok in "$TOK_STALE" "$TOK_GOOD"; do
				printf 'C: AUTH XOAUTH2 %s\n' "$(printf \
				    'user=fakeuser\001auth=Bearer %s\001\001' \
				    "$xf_tok" | base64 -w 0)"
				printf 'S: + %s\n' "$OAUTH_CHAL"
				echo 'C:'
				echo 'S: -ERR [AUTH] invalid credentials'
			done
			echo "X: include $FAKE_COMMON/maybe-quit.pop3"
		} >"$FAKE_SCRIPTS/xoauth2-$xf_i.pop3"
	done
	fake_start xoauth2-1 xoauth2-2 xoauth2-3
	cat >>"$PF_CONF" <<-EOF
	account "fake" {
		host = "127.0.0.1"
		port = $FAKE_PORT
		tls = off
		allow_plaintext = yes
		auth = xoauth2
		user = "fakeuser"
		password_command = "$T/token"
		maildir = "$T/client/fake"
		timeout = 10
	}
	EOF
	for xf_v in 0 1 2; do
		rm -f "$T/ran"
		token_cmd "$T" "$TOK_STALE" "$TOK_GOOD"
		verbose_run "$xf_v"
		xf_what="xoauth2 against the fake server, verbosity $xf_v"
		assert_rc 77 "$xf_what"
		assert_no_secret "$xf_what: the first token" "$TOK_STALE" \
		    "$PF_OUT" "$PF_ERR"
		assert_no_secret "$xf_what: the second token" "$TOK_GOOD" \
		    "$PF_OUT" "$PF_ERR"
	done
	fake_finish "xoauth2 against the fake server"
}

fake_check "a password in a file others may read" check_modes
fake_check "no secret in any output: user" check_user
fake_check "no secret in any output: apop" check_apop
fake_check "no secret in any output: plain" check_plain
fake_check "no secret in any output: login" check_login
fake_check "no secret in any output: cram-md5" check_cram_md5
fake_check "no secret in any output: scram-sha-1" check_scram_sha_1
fake_check "no secret in any output: scram-sha-256" check_scram_sha_256
fake_check "no secret in any output: auto" check_auto
fake_check "no token in any output: xoauth2, Dovecot" check_xoauth2_dovecot
fake_check "no token in any output: xoauth2, fake server" \
    check_xoauth2_fake
fake_summary
