#!/bin/sh
# Without password or password_command, the password comes from
# ~/.netrc, as ftp(1) reads it; a .netrc others can read is refused, and
# a missing entry is a configuration error that says where it looked.

# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/lib.sh"

dovecot_start
gen_mail "$T/orig/n" -n 3 -s 5
user=nr
user_add "$user"
seed "$user" "$T/orig/n"
pf_config_new
pf_account -p '' "$user" "$user" starttls keep

# No entry yet.
pf_run
assert_rc 78 "no .netrc"
assert_grep "no .netrc" "no password, password_command, or entry for 127.0.0.1 in $HOME/.netrc" "$PF_ERR"

{
	printf 'machine other.example login %s password wrong\n' "$user"
	printf 'machine 127.0.0.1\n  login %s\n  password %s\n' "$user" \
	    "$PF_PASSWORD"
	printf 'default login anonymous password guest\n'
} >"$HOME/.netrc"
chmod 0644 "$HOME/.netrc"
pf_run
assert_rc 78 "a .netrc others can read"
assert_grep "a .netrc others can read" "readable by others" "$PF_ERR"

chmod 0600 "$HOME/.netrc"
pf_run
assert_rc 0 "password from .netrc"
maildir_check "password from .netrc" "$T/client/$user" "$T/orig/n"
say "PASS: netrc"
