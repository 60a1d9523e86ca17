#!/bin/sh
# Exit codes not provoked elsewhere: EX_IOERR (74) for a Maildir path
# that is a file, the precedence of failures across accounts (worst
# first: software, config, auth, local, protocol, temporary), the same
# with -j, and usage errors (64) of -j, --daemon and --json.  cli.sh,
# faults.sh and fault-signals.sh provoke 0, 64, 75, 76, 77, 78, 130 and
# 143.

# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/lib.sh"

dovecot_start
gen_mail "$T/orig/two" -n 2 -s 31
user_add edna
seed edna "$T/orig/two"

# accounts NAME...: a configuration with these of the failing accounts,
# each failing its own way, and one that works.
accounts()
{
	pf_config_new
	pf_account good edna on keep
	for a; do
		case $a in
		down) pf_account -P "$(free_port)" down edna off keep ;;
		file)
			: >"$T/a-file"
			pf_account file edna on keep
			sed "s|\"$T/client/file\"|\"$T/a-file\"|" "$PF_CONF" \
			    >"$T/conf.tmp"
			cat "$T/conf.tmp" >"$PF_CONF"
			;;
		wrongpw) pf_account -p not-the-password wrongpw edna on keep ;;
		nopw) pf_account -p '' nopw edna on keep ;;
		esac
	done
}

# A Maildir path that is a file: EX_IOERR.
accounts file
pf_run
assert_rc 74 "a Maildir that is a file"
assert_grep "a Maildir that is a file" "^popfetch: file: .*$T/a-file" \
    "$PF_ERR"
# The other account is fetched all the same.
assert_summary "a Maildir that is a file" good 2 2 0
maildir_check "a Maildir that is a file" "$T/client/good" "$T/orig/two"

# The worst failure decides, whatever the order of the accounts.
for jobs in 1 4; do
	accounts down file wrongpw nopw
	pf_run -j "$jobs"
	assert_rc 78 "-j $jobs: config beats auth, local and temporary"
	assert_lines "-j $jobs: four errors" "$PF_ERR" 4
	accounts nopw wrongpw file down
	pf_run -j "$jobs"
	assert_rc 78 "-j $jobs: config first in the file"
	accounts down wrongpw file
	pf_run -j "$jobs"
	assert_rc 77 "-j $jobs: auth beats local and temporary"
	accounts file down
	pf_run -j "$jobs"
	assert_rc 74 "-j $jobs: local beats temporary"
	accounts down
	pf_run -j "$jobs"
	assert_rc 75 "-j $jobs: temporary"
done

# Usage errors of the new options, before anything is fetched.
accounts
for args in "-j 0" "-j 65" "-j x" "--daemon 0" "--daemon 5x" \
    "--daemon 8d" "--daemon -5" "--json --serverinfo" \
    "--daemon 10 --rebuild-state"; do
	# shellcheck disable=SC2086 # split on purpose
	pf_run $args
	assert_rc 64 "$args"
	assert_grep "$args: a reason" '^popfetch: ' "$PF_ERR"
done

say "PASS: exit codes"
