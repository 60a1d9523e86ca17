#!/bin/sh
# The command line: options, account selection, configuration errors,
# and the exit status (sysexits) of each kind of failure.

# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/lib.sh"

dovecot_start
gen_mail "$T/orig/three" -n 3 -s 11
gen_mail "$T/orig/two" -n 2 -s 12

# --version and --help.
pf_exec --version
assert_rc 0 "--version"
assert_eq "--version" "$(head -n 1 "$PF_OUT")" "popfetch 0.1"

pf_exec --help
assert_rc 0 "--help"
assert_grep "--help" '(^|[^[:alnum:]-])-c([^[:alnum:]-]|$)' "$PF_OUT"

# Usage errors: EX_USAGE.
for opt in --no-such-option -Z; do
	pf_exec "$opt"
	assert_rc 64 "$opt"
done

user_add ursula
seed ursula "$T/orig/three"
pf_config_new
pf_account only ursula on keep
pf_run no-such-account
assert_rc 64 "an unknown account"
assert_eq "an unknown account: messages delivered" \
    "$(count_new "$T/client/only")" 0

# Configuration errors: EX_CONFIG.
pf_exec -c "$T/no-such.conf"
assert_rc 78 "a missing configuration file"
assert_grep "a missing configuration file" "$T/no-such.conf" "$PF_ERR"

printf 'account "broken" {\n\thost = "127.0.0.1"\n\tport = = 110\n}\n' \
    >"$T/syntax.conf"
chmod 0600 "$T/syntax.conf"
pf_exec -c "$T/syntax.conf"
assert_rc 78 "a syntax error"
assert_grep "a syntax error" "$T/syntax.conf:3:" "$PF_ERR"

cat >"$T/plain.conf" <<EOF
account "plain" {
	host = "127.0.0.1"
	port = $DOVECOT_PORT
	tls = off
	user = "ursula"
	password = "$PF_PASSWORD"
	maildir = "$T/client/plain"
	delete = keep
}
EOF
chmod 0600 "$T/plain.conf"
pf_exec -c "$T/plain.conf"
assert_rc 78 "tls = off without allow_plaintext"
assert_eq "tls = off without allow_plaintext: messages delivered" \
    "$(count_new "$T/client/plain")" 0

chmod 0644 "$PF_CONF"
pf_run
assert_rc 78 "a world-readable file with a password"
assert_eq "a world-readable file with a password: messages delivered" \
    "$(count_new "$T/client/only")" 0
chmod 0600 "$PF_CONF"

# Authentication failure: EX_NOPERM.
pf_config_new
pf_account -p not-the-password wrongpw ursula on keep
auth_re='auth: .*passwd-file\(ursula,.*Password mismatch'
auth_before=$(log_count "$auth_re")
pf_run
assert_rc 77 "a wrong password"
assert_grep "a wrong password" '^popfetch: wrongpw: ' "$PF_ERR"
assert_eq "a wrong password: messages delivered" \
    "$(count_new "$T/client/wrongpw")" 0
log_wait "$auth_re" $((auth_before + 1))
if grep -qF not-the-password "$PF_OUT" "$PF_ERR"; then
	fail "a wrong password: the password appears in popfetch's output"
fi

# Nobody listening: EX_TEMPFAIL.
closed=$(free_port)
pf_config_new
pf_account -P "$closed" closed ursula off keep
pf_run
assert_rc 75 "a closed port"
assert_grep "a closed port" '^popfetch: closed: ' "$PF_ERR"

# Two accounts: all run in file order; naming one runs only that one.
user_add zoe
seed zoe "$T/orig/three"
user_add abe
seed abe "$T/orig/two"
pf_config_new
pf_account zeta zoe on keep
pf_account alpha abe starttls keep

pf_run alpha
assert_rc 0 "popfetch alpha"
assert_lines "popfetch alpha: stdout" "$PF_OUT" 1
assert_summary "popfetch alpha" alpha 2 2 0
assert_eq "popfetch alpha: messages for zeta" \
    "$(count_new "$T/client/zeta")" 0
maildir_check "popfetch alpha" "$T/client/alpha" "$T/orig/two"

pf_run
assert_rc 0 "two accounts"
assert_lines "two accounts: stdout" "$PF_OUT" 2
sed -n 1p "$PF_OUT" >"$T/line1"
sed -n 2p "$PF_OUT" >"$T/line2"
assert_grep "two accounts: first line" '^zeta: 3 messages, 3 new, ' "$T/line1"
assert_grep "two accounts: second line" '^alpha: 2 messages, 0 new, ' \
    "$T/line2"
assert_summary "two accounts" zeta 3 3 0
assert_summary "two accounts" alpha 2 0 0
maildir_check "two accounts" "$T/client/zeta" "$T/orig/three"
maildir_check "two accounts" "$T/client/alpha" "$T/orig/two"

# password_command: the password comes from a program's output.
user_add pat
seed pat "$T/orig/two"
printf '%s\n' "$PF_PASSWORD" >"$T/pw"
chmod 0600 "$T/pw"
pf_config_new
pf_account -p '' -x "password_command = \"cat $T/pw\"" cmd pat on each
pf_run
assert_rc 0 "password_command"
assert_summary "password_command" cmd 2 2 2
maildir_check "password_command" "$T/client/cmd" "$T/orig/two"
assert_eq "password_command: messages left on the server" \
    "$(server_count pat)" 0

say "PASS: command line and exit codes"
