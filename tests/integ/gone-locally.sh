#!/bin/sh
# delete_when_gone_locally = yes (Outlook's "remove from server when
# deleted from Deleted Items"): a fetched message the user deleted from
# the Maildir is deleted on the server at the next run; one read, flagged
# or moved to another folder is not; and a Maildir that is gone as a
# whole (an unmounted disk) deletes nothing and says why.

# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/lib.sh"

dovecot_start
user=gl
md=$T/client/$user
user_add "$user"
gen_mail "$T/orig/six" -n 6 -s 6
seed "$user" "$T/orig/six"
pf_config_new
pf_account -x 'delete_when_gone_locally = yes' "$user" "$user" starttls keep

pf_run
assert_rc 0 "first run"
assert_eq "first run: stored" "$(count_new "$md")" 6

# The reader deletes one, reads one, files one away.
set -- "$md"/new/*
rm "$1"
mv "$2" "$md/cur/${2##*/}:2,S"
mkdir -p "$md/.Archive/cur" "$md/.Archive/new" "$md/.Archive/tmp"
mv "$3" "$md/.Archive/cur/${3##*/}:2,RS"
# --dry-run shows the deletion the run makes, and only it.
pf_run --dry-run
assert_rc 0 "--dry-run after one deletion"
assert_eq "--dry-run: gone" "$(grep -c \
    '  => already fetched, delete (gone from the Maildir)$' "$PF_OUT")" 1
assert_eq "--dry-run: kept" \
    "$(grep -c '  => already fetched$' "$PF_OUT")" 5
cp "$PF_OUT" "$T/dry-run"
pf_run -v -v
assert_rc 0 "after one deletion"
assert_eq "after one deletion: DELEs" "$(grep -c ': C: DELE ' "$PF_ERR")" 1
assert_eq "the run sent what --dry-run said" "$(wire_sent "$PF_ERR")" \
    "$(wire_planned "$T/dry-run")"
assert_no_grep "after one deletion" ': C: RETR ' "$PF_ERR"
assert_eq "after one deletion: on the server" "$(server_count "$user")" 5

# The Maildir is not there (say, an unmounted disk): nothing is deleted,
# and --dry-run says so as the run does.
rm -rf "$md"
pf_run --dry-run
assert_rc 74 "Maildir gone, --dry-run"
assert_eq "Maildir gone, --dry-run: said once" \
    "$(grep -c 'are gone from the Maildir: is it there?' "$PF_ERR")" 1
assert_no_grep "Maildir gone, --dry-run" '=> .*delete' "$PF_OUT"
pf_run -v -v
assert_rc 74 "Maildir gone"
assert_eq "Maildir gone: said once" \
    "$(grep -c 'are gone from the Maildir: is it there?' "$PF_ERR")" 1
assert_no_grep "Maildir gone" ': C: DELE ' "$PF_ERR"
assert_eq "Maildir gone: on the server" "$(server_count "$user")" 5
say "PASS: delete_when_gone_locally"
