#!/bin/sh
# mbsync (isync) syncing the Maildir popfetch delivers into: mbsync keeps
# its UID in file names as ",U=<n>", and renames every file it finds
# without one.  popfetch's tag (",PF=") is left alone, and a file named by
# an older popfetch (",U=<16 hex>", which mbsync rewrites into
# ",U=<n><16 hex>") is still recognised: --rebuild-state records every
# message, a run fetches nothing twice, and delete_when_gone_locally
# deletes only what the user deleted.  mbsync runs for real, Maildir to
# Maildir (two MaildirStores, no IMAP).

# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/lib.sh"

command -v mbsync >/dev/null 2>&1 ||
    skip "mbsync is not installed (Debian: isync)"

# Unique ids, and so tags, the same in every run: "00000001" ...
DOVECOT_EXTRA_CONF='pop3_uidl_format = %08Xu'
dovecot_start
user=mb
md=$T/client/$user
user_add "$user"
gen_mail "$T/orig/six" -n 6 -s 13
seed "$user" "$T/orig/six"
pf_config_new
pf_account -x 'delete_when_gone_locally = yes' "$user" "$user" starttls keep

pf_run
assert_rc 0 "first run"
assert_eq "first run: stored" "$(count_new "$md")" 6

# One file as an older popfetch named it: ",U=" and the same 16 digits.
# That of "00000001", whose key begins with a letter: mbsync would take
# the digits another begins with for its UID (the fault of the old tag).
key=$(printf '%s' 00000001 | sha256sum | cut -c 1-16)
set -- "$md"/new/*",PF=$key-"*
[ -f "$1" ] || fail "no file tagged ,PF=$key-"
old=$(printf '%s\n' "${1##*/}" | sed 's/,PF=\([0-9a-f]*\)-[0-9]*$/,U=\1/')
mv "$1" "$md/new/$old"

# mbsync: popfetch's Maildir on one side, another on the other.
mkdir -p "$T/mirror" "$T/mbsync"
cat >"$T/mbsyncrc" <<EOF
MaildirStore popfetch
Path $md/
Inbox $md

MaildirStore mirror
Path $T/mirror/
Inbox $T/mirror/inbox

Channel both
Far :mirror:
Near :popfetch:
Patterns INBOX
Create Both
SyncState $T/mbsync/
EOF
timeout 60 mbsync -c "$T/mbsyncrc" -a >"$T/mbsync.log" 2>&1 || {
	cat "$T/mbsync.log" >&2
	fail "mbsync failed"
}
assert_eq "mbsync copied" "$(count_new "$T/mirror/inbox")" 6
# mbsync gave every file its UID: the old tag now has digits in front.
assert_eq "files mbsync renamed" \
    "$(find "$md/new" -type f -name '*,U=[0-9]*' | wc -l | tr -d ' ')" 6
assert_eq "new tags kept" \
    "$(find "$md/new" -type f -name '*,PF=*-*,U=[0-9]*' | wc -l |
    tr -d ' ')" 5
[ -z "$(find "$md/new" -type f -name "$old")" ] ||
    fail "mbsync left the old tag as it was: nothing is tried"

# The state is lost: every message is found again.
rm -rf "$XDG_STATE_HOME/popfetch"
pf_run --rebuild-state "$user"
assert_rc 0 "--rebuild-state"
assert_grep "--rebuild-state" \
    "^$user: 6 messages on the server, 6 of them found in .* and recorded\$" \
    "$PF_OUT"
pf_run -v -v
assert_rc 0 "run after the rebuild"
assert_summary "run after the rebuild" "$user" 6 0 0
assert_no_grep "run after the rebuild" ': C: RETR ' "$PF_ERR"

# The user deletes one message, the one with the old tag: only it goes.
rm "$md"/new/*",U="*"$key"
pf_run -v -v
assert_rc 0 "after one deletion"
assert_eq "after one deletion: DELEs" "$(grep -c ': C: DELE ' "$PF_ERR")" 1
assert_eq "after one deletion: on the server" "$(server_count "$user")" 5
say "PASS: mbsync"
