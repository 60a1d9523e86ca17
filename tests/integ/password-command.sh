#!/bin/sh
# password_command: its first line is the password; a command that
# fails or prints nothing is a failed login (77); one that does not
# answer within the account's timeout is killed and the run is over with
# a temporary failure (75), never a hang.  No server is needed: the
# password is got before connecting (to a closed port, here).

LIB_NEED_DOVECOT=no
# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/lib.sh"

port=$(free_port)

# run_with COMMAND: popfetch with that password_command, timeout 1 s.
run_with()
{
	pf_config_new
	cat >>"$PF_CONF" <<CONF
account "pc" {
	host = "127.0.0.1"
	port = $port
	tls = off
	allow_plaintext = yes
	user = "u"
	password_command = "$1"
	maildir = "$T/client/pc"
	timeout = 1
}
CONF
	pf_run
}

printf '#!/bin/sh\nsleep 30\n' >"$T/stuck"
printf '#!/bin/sh\nexit 3\n' >"$T/fails"
printf '#!/bin/sh\nprintf "\\n"\n' >"$T/empty"
printf '#!/bin/sh\necho Zq7-line-one\necho line-two\n' >"$T/good"
chmod +x "$T/stuck" "$T/fails" "$T/empty" "$T/good"

t0=$(date +%s)
run_with "$T/stuck"
assert_rc 75 "a command that does not answer"
assert_grep "a command that does not answer" \
    'password_command gave no answer within 1 s' "$PF_ERR"
[ $(($(date +%s) - t0)) -lt 25 ] ||
    fail "a command that does not answer: popfetch waited for it"

run_with "$T/fails"
assert_rc 77 "a command that fails"
assert_grep "a command that fails" 'password_command: .*3' "$PF_ERR"

run_with "$T/empty"
assert_rc 77 "a command that prints nothing"
assert_grep "a command that prints nothing" 'printed no password' "$PF_ERR"

# The password is had: the run goes on to the (closed) port.
run_with "$T/good"
assert_rc 75 "a command that answers"
assert_grep "a command that answers" 'connect to 127.0.0.1' "$PF_ERR"
assert_no_grep "a command that answers" 'Zq7-line-one|line-two' "$PF_ERR"
say "PASS: password_command"
