#!/bin/sh
# A server certificate that fails verification must stop popfetch before
# it sends anything that matters: with a certificate from an unknown CA,
# and with a certificate from the right CA for another host name, both
# over implicit TLS and after STLS.  Exit status 76 (EX_PROTOCOL),
# nothing delivered, the server's mailbox untouched, no USER in the
# trace, and in Dovecot's log no login and no authentication of the user.

# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/lib.sh"

command -v gnutls-cli >/dev/null 2>&1 ||
    skip "gnutls-cli is not installed (Debian: gnutls-bin)"

# The user of the refused connections; Dovecot's log must never name it.
victim=rita

# refused ACCOUNT TLS: run ACCOUNT, which must be refused.
refused()
{
	rf_before=$(log_count 'pop3-login: .*Disconnected')
	pf_run -v -v "$1"
	assert_rc 76 "$1"
	assert_grep "$1: stderr" "^popfetch: $1: " "$PF_ERR"
	assert_eq "$1: messages delivered" "$(count_new "$T/client/$1")" 0
	assert_eq "$1: messages left on the server" \
	    "$(server_count "$victim")" 3
	# Untouched: no session ever moved a message from new/ to cur/.
	assert_eq "$1: messages the server has seen" \
	    "$(find "$T/srv/$victim/Maildir/new" -type f | wc -l | tr -d ' ')" 3

	sed -n "s/^popfetch: $1: C: //p" "$PF_ERR" >"$T/trace"
	assert_no_grep "$1: trace" '^(USER|PASS|AUTH|APOP)' "$T/trace"
	if [ "$2" = starttls ]; then
		assert_grep "$1: trace" '^STLS$' "$T/trace"
	fi
	for f in "$PF_OUT" "$PF_ERR"; do
		if grep -qF -- "$PF_PASSWORD" "$f"; then
			fail "$1: the password appears in popfetch's ${f##*/}"
		fi
	done

	# Dovecot saw one connection end with no authentication attempt.
	log_wait 'pop3-login: .*Disconnected' $((rf_before + 1))
	grep -E 'pop3-login: .*Disconnected' "$T/dovecot/dovecot.log" |
	    sed -n "$((rf_before + 1)),\$p" >"$T/disconnect"
	assert_lines "$1: connections Dovecot saw" "$T/disconnect" 1
	assert_grep "$1: Dovecot's log" 'no auth attempts.*user=<>' \
	    "$T/disconnect"
	assert_no_grep "$1: Dovecot's log" "$victim" "$T/dovecot/dovecot.log"
	say "$1: refused"
}

gen_mail "$T/orig/r" -n 3 -s 5

# 1. The server's certificate is valid for 127.0.0.1, but popfetch trusts
# only an unrelated CA.
dovecot_start server
user_add "$victim"
seed "$victim" "$T/orig/r"
user_add cora
seed cora "$T/orig/r"
user_add carl
seed carl "$T/orig/r"
pf_config_new
pf_account -C "$PKI_OTHER_CA" ca-on "$victim" on keep
pf_account -C "$PKI_OTHER_CA" ca-starttls "$victim" starttls keep
# Controls: the same with the right CA succeeds.
pf_account good-on cora on keep
pf_account good-starttls carl starttls keep

refused ca-on on
refused ca-starttls starttls

for acct in good-on good-starttls; do
	pf_run "$acct"
	assert_rc 0 "$acct (control)"
	assert_summary "$acct (control)" "$acct" 3 3 0
done
maildir_check good-on "$T/client/good-on" "$T/orig/r"
maildir_check good-starttls "$T/client/good-starttls" "$T/orig/r"

# 2. The server's certificate, from the right CA, names another host.
dovecot_restart wrong
# Check the premise: the chain is good, only the name differs.
cli_before=$(log_count 'pop3-login: .*Disconnected')
timeout 10 gnutls-cli --x509cafile "$PKI_CA" \
    --verify-hostname=wrong.example.test -p "$DOVECOT_PORT_TLS" 127.0.0.1 \
    </dev/null >"$T/gnutls-cli.log" 2>&1 ||
    fail "gnutls-cli does not trust the wrong-name certificate's chain"
if timeout 10 gnutls-cli --x509cafile "$PKI_CA" -p "$DOVECOT_PORT_TLS" \
    127.0.0.1 </dev/null >"$T/gnutls-cli.log" 2>&1; then
	fail "gnutls-cli accepts the wrong-name certificate for 127.0.0.1"
fi
log_wait 'pop3-login: .*Disconnected' $((cli_before + 2))

pf_config_new
pf_account name-on "$victim" on keep
pf_account name-starttls "$victim" starttls keep
refused name-on on
refused name-starttls starttls

say "PASS: bad certificates refused before login"
