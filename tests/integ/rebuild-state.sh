#!/bin/sh
# Lost state is not a disaster: after the state directory is wiped,
# popfetch --rebuild-state finds the messages it delivered by the uid tag
# in their file names (also after a reader moved them to cur/ with flags,
# or into a Maildir++ subfolder), so a keep account downloads nothing
# twice; a message that never reached the Maildir is still fetched.

# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/lib.sh"

dovecot_start
gen_mail "$T/orig/ten" -n 10 -s 7
user=rb
md=$T/client/$user
user_add "$user"
seed "$user" "$T/orig/ten"
pf_config_new
pf_account "$user" "$user" starttls keep

pf_run
assert_rc 0 "first run"
assert_summary "first run" "$user" 10 10 0
for f in "$md"/new/*; do
	case $f in
	*,S=*,PF=????????????????-[0-9]*) ;;
	*) fail "${f##*/}: no uid tag after the size" ;;
	esac
done

# A reader marks one message as seen, files another away, and deletes a
# third; then the state is lost.
set -- "$md"/new/*
mv "$1" "$md/cur/${1##*/}:2,S"
mkdir -p "$md/.Archive/cur" "$md/.Archive/new" "$md/.Archive/tmp"
mv "$2" "$md/.Archive/cur/${2##*/}:2,RS"
rm "$3"
rm -rf "$XDG_STATE_HOME/popfetch"

pf_run --rebuild-state "$user"
assert_rc 0 "--rebuild-state"
assert_grep "--rebuild-state" \
    "^$user: 10 messages on the server, 9 of them found in .* and recorded\$" \
    "$PF_OUT"
assert_eq "--rebuild-state leaves the server alone" "$(server_count "$user")" 10

# Only the deleted one comes again.
pf_run -v
assert_rc 0 "run after the rebuild"
assert_summary "run after the rebuild" "$user" 10 1 0
assert_eq "files in new/" "$(count_new "$md")" 8

say "PASS: --rebuild-state"
