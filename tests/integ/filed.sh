#!/bin/sh
# Messages filed away from the inbox stay the account's.  folder_by_date
# folders are counted under their names in the summary line and in
# --json "filed", not as the inbox.  A rule that files into a Maildir
# given by path ("~/Mail/lists") leaves its messages visible to the
# recovery after a killed run (recorded, not fetched again) and to
# delete_when_gone_locally (not deleted on the server while the file is
# there).

# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/lib.sh"

# Folders are named in local time.
TZ=UTC
export TZ

dovecot_start
user=fd
md=$T/client/$user
lists=$HOME/Mail/lists
state=$XDG_STATE_HOME/popfetch
mkdir -p "$T/orig/m"

# msg NAME DATE [EXTRA]: a message.
msg()
{
	f=$T/orig/m/$1
	printf 'From: Ann <ann@example.org>\nTo: me@example.net\n' >"$f"
	printf 'Subject: %s\nDate: %s\n' "$1" "$2" >>"$f"
	printf 'Message-ID: <%s@example.org>\n' "$1" >>"$f"
	[ -z "${3:-}" ] || printf '%s\n' "$3" >>"$f"
	printf '\nbody of %s\n' "$1" >>"$f"
}
msg 1-nov 'Tue, 10 Nov 2024 10:00:00 +0000'
msg 2-oct 'Tue, 15 Oct 2024 12:00:00 +0000'
msg 3-list 'Mon, 11 Nov 2024 09:00:00 +0000' \
    'List-Id: Developers <dev.example.org>'
user_add "$user"
seed "$user" "$T/orig/m"

pf_config_new
cat >>"$PF_CONF" <<'CONF'
rule "lists" {
	header_matches = {"List-Id", "dev\\.example\\.org"}
	folder = "~/Mail/lists"
}
CONF
pf_account -x 'folder_by_date = "%Y/%m"' -x 'delete_when_gone_locally = yes' \
    "$user" "$user" starttls keep

pf_run -v
assert_rc 0 "first run"
assert_summary "first run" "$user" 3 3 0
for f in ', 1 to \.2024\.11' ', 1 to \.2024\.10' ', 1 to ~/Mail/lists'; do
	assert_grep "the summary counts folder_by_date's folders" "$f" \
	    "$PF_OUT"
done
assert_no_grep "the summary counts nothing as the inbox" 'to inbox' \
    "$PF_OUT"
assert_eq "in ~/Mail/lists" "$(count_new "$lists")" 1

# A run killed after storing and before recording: the state lost its
# records, the run was marked.  Every message is found, the one filed by
# path too, and recorded: nothing is fetched again.
rm -f "$state/$user.uidl"
: >"$state/$user.running"
pf_run -v -v
assert_rc 0 "run after a kill"
assert_grep "run after a kill" '3 messages stored by an interrupted run' \
    "$PF_ERR"
assert_no_grep "run after a kill" ': C: RETR ' "$PF_ERR"
assert_eq "in ~/Mail/lists after a kill" "$(count_new "$lists")" 1

# The reader deletes October's message; the list message is still in
# ~/Mail/lists, so it stays on the server.
rm "$md"/.2024.10/new/*
pf_run -v -v
assert_rc 0 "after one deletion"
assert_eq "after one deletion: DELEs" "$(grep -c ': C: DELE ' "$PF_ERR")" 1
assert_eq "after one deletion: on the server" "$(server_count "$user")" 2

# --json: the folders by name, the inbox empty.
rm -rf "$T/client" "$lists" "$state"
pf_run --json
assert_rc 0 "--json"
python3 - "$PF_OUT" <<'PY' || fail "--json: \"filed\" is not as expected"
import json, sys
with open(sys.argv[1], encoding="utf-8") as f:
    doc = json.load(f)
filed = doc["accounts"][0]["filed"]
if filed != {"inbox": 0, ".2024.11": 1, "~/Mail/lists": 1}:
    print("filed:", filed, file=sys.stderr)
    sys.exit(1)
PY
say "PASS: filed"
