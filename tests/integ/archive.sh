#!/bin/sh
# archive = yes against Dovecot: every message is stored once, even when
# the server hands the same messages out again under new unique-ids
# (here: the server's files are removed and delivered again under other
# names, so that Dovecot gives them new UIDs and so new UIDLs).  Nothing
# is ever deleted on the server.  A message with an old Message-ID but
# new content is stored.  folder_by_date = "%Y/%m" files each message in
# .YYYY.MM by its Date, by the time of delivery without one, and a rule's
# folder wins.  archive = yes with delete = each is refused.

# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/lib.sh"

# Folders are named in local time.
TZ=UTC
export TZ

dovecot_start
user=av
md=$T/client/$user
journal=$XDG_STATE_HOME/popfetch/$user.uidl
index=$XDG_STATE_HOME/popfetch/$user.archive
mkdir -p "$T/orig/a" "$T/orig/b"

# msg DIR NAME DATE MESSAGE-ID [EXTRA]: a message; "-" for no such field.
msg()
{
	f=$T/orig/$1/$2
	printf 'From: Ann <ann@example.org>\nTo: me@example.net\n' >"$f"
	printf 'Subject: %s\n' "$2" >>"$f"
	[ "$3" = - ] || printf 'Date: %s\n' "$3" >>"$f"
	[ "$4" = - ] || printf 'Message-ID: <%s@example.org>\n' "$4" >>"$f"
	[ -z "${5:-}" ] || printf '%s\n' "$5" >>"$f"
	printf '\nbody of %s\n' "$2" >>"$f"
}
msg a 1-nov 'Tue, 10 Nov 2024 10:00:00 +0000' nov
msg a 2-oct 'Thu, 15 Oct 2024 12:00:00 +0200' oct
msg a 3-nodate - nodate
msg a 4-noid 'Wed, 11 Nov 2024 08:00:00 +0000' -
msg a 5-list 'Mon, 05 Oct 2024 09:00:00 +0000' list \
    'List-Id: Developers <dev.example.org>'
# Later: the first message's Message-ID, other content.
msg b 6-nov-again 'Tue, 10 Nov 2024 10:00:00 +0000' nov \
    'X-Note: a new version'
user_add "$user"
seed "$user" "$T/orig/a"

pf_config_new
cat >>"$PF_CONF" <<'CONF'
rule "lists" {
	header_matches = {"List-Id", "dev\\.example\\.org"}
	folder = ".Lists"
}
CONF
pf_account -x 'archive = yes' -x 'folder_by_date = "%Y/%m"' \
    "$user" "$user" starttls keep

# files DIR: the message files below DIR, one per line.
files()
{
	find "$1" -type f ! -name maildirfolder | sort
}

# holds WHAT DIR ORIG...: DIR (new/ of a folder) holds exactly the ORIG
# files, byte for byte.
holds()
{
	h_what=$1
	h_dir=$2
	shift 2
	for h_f; do
		sha256sum <"$h_f" | cut -d ' ' -f 1
	done | sort >"$T/holds.want"
	sums "$h_dir" >"$T/holds.got"
	cmp -s "$T/holds.want" "$T/holds.got" ||
	    fail "$h_what: $h_dir holds $(wc -l <"$T/holds.got") files," \
	    "not the $# expected"
}

# uids FILE: the unique-ids a UIDL journal knows, sorted.
uids()
{
	sed 1d "$1" | cut -f 1 | sort
}

month_before=$(date +%Y.%m)
pf_run -v -v
month_after=$(date +%Y.%m)
assert_rc 0 "first run"
assert_summary "first run" "$user" 5 5 0
# Nov: the one without Message-ID is stored too (by its content).
holds "Nov" "$md/.2024.11/new" "$T/orig/a/1-nov" "$T/orig/a/4-noid"
holds "Oct (+0200)" "$md/.2024.10/new" "$T/orig/a/2-oct"
holds "the rule's folder wins" "$md/.Lists/new" "$T/orig/a/5-list"
# No Date: the month of delivery.
if [ -d "$md/.$month_before/new" ]; then
	now=$month_before
else
	now=$month_after
fi
holds "no Date: the month of delivery" "$md/.$now/new" "$T/orig/a/3-nodate"
assert_eq "files stored" "$(files "$md" | wc -l | tr -d ' ')" 5
[ -z "$(find "$md/new" "$md/cur" -type f)" ] ||
    fail "a message went to the inbox: $(find "$md/new" "$md/cur" -type f)"
assert_lines "the archive index" "$index" 6
grep -q '	\.2024\.10/new/[^	]*,S=[0-9]*,PF=[0-9a-f]*-[0-9]*$' "$index" ||
    fail "the index names no .2024.10/new/ file: $(cat "$index")"
uids "$journal" >"$T/uids.1"
assert_lines "the journal" "$T/uids.1" 5

# Nothing new: nothing retrieved.
pf_run -v -v
assert_rc 0 "second run"
assert_no_grep "second run" ': C: RETR ' "$PF_ERR"

# The server forgets its UIDs: the same five messages come back under new
# names, so Dovecot gives them new UIDs (new UIDLs), with one message of
# an old Message-ID and new content.
find "$T/srv/$user/Maildir/new" "$T/srv/$user/Maildir/cur" -type f \
    -exec rm -f -- {} +
for f in "$T/orig/a"/* "$T/orig/b"/*; do
	n=again.${f##*/}.$$
	cp "$f" "$T/srv/$user/Maildir/tmp/$n"
	chown "$MAIL_UID:$MAIL_GID" "$T/srv/$user/Maildir/tmp/$n"
	mv "$T/srv/$user/Maildir/tmp/$n" "$T/srv/$user/Maildir/new/$n"
done

pf_run -v -v
assert_rc 0 "after the server's new UIDLs"
uids "$journal" >"$T/uids.2"
assert_lines "the journal after" "$T/uids.2" 6
[ -z "$(comm -12 "$T/uids.1" "$T/uids.2")" ] ||
    fail "the UIDLs did not change: $(comm -12 "$T/uids.1" "$T/uids.2")"
# All six are new to the journal and downloaded; five are the same
# messages, not stored again; the new version is.
assert_summary "after the server's new UIDLs" "$user" 6 6 0
assert_grep "the summary counts the duplicates" ', 5 already archived, ' \
    "$PF_OUT"
assert_eq "RETRs" "$(grep -c ': C: RETR ' "$PF_ERR")" 6
assert_eq "duplicates" "$(grep -c ': already archived as ' "$PF_ERR")" 5
assert_eq "files stored" "$(files "$md" | wc -l | tr -d ' ')" 6
assert_lines "the archive index" "$index" 7
holds "the new version of <nov@example.org> is stored" \
    "$md/.2024.11/new" "$T/orig/a/1-nov" "$T/orig/a/4-noid" \
    "$T/orig/b/6-nov-again"
# The journal records each duplicate's new uid with the archived file.
for f in $(files "$md"); do
	grep -qF "	${f##*/}" "$journal" || fail "the journal lacks ${f##*/}"
done

# And again: nothing.
pf_run -v -v
assert_rc 0 "last run"
assert_no_grep "last run" ': C: RETR ' "$PF_ERR"
assert_summary "last run" "$user" 6 0 0
assert_eq "files stored" "$(files "$md" | wc -l | tr -d ' ')" 6

# Never a DELE, and the server still has every message.
assert_eq "on the server" "$(server_count "$user")" 6
assert_eq "expunges in Dovecot's log" "$(log_count 'expunge')" 0

# --rebuild-state makes the same index again from the Maildir.
sort "$index" >"$T/index.before"
rm -f "$index"
pf_run --rebuild-state
assert_rc 0 "--rebuild-state"
assert_grep "--rebuild-state" \
    "^$user: 6 message files in .*, 6 of them added to the archive index" \
    "$PF_OUT"
sort "$index" >"$T/index.after"
cmp -s "$T/index.before" "$T/index.after" || {
	diff "$T/index.before" "$T/index.after" >&2
	fail "--rebuild-state made another index"
}
pf_run -v -v
assert_rc 0 "after --rebuild-state"
assert_no_grep "after --rebuild-state" ': C: RETR ' "$PF_ERR"

# folder_by_date alone, "%Y", for another account of the same mailbox.
pf_config_new
pf_account -x 'folder_by_date = "%Y"' "$user-y" "$user" starttls keep
# --dry-run says where they would go.
pf_run --dry-run
assert_rc 0 "folder_by_date, --dry-run"
dry=5
[ "$(date +%Y)" != 2024 ] || dry=6
assert_eq "--dry-run: to .2024" "$(grep -c '=> \.2024$' "$PF_OUT")" "$dry"
pf_run
assert_rc 0 "folder_by_date without archive"
# Five have a Date in 2024; the one without goes by this year.
want=5
[ "$(date +%Y)" != 2024 ] || want=6
assert_eq "in .2024" "$(find "$T/client/$user-y/.2024/new" -type f |
    wc -l | tr -d ' ')" "$want"
assert_eq "files stored" "$(files "$T/client/$user-y" | wc -l |
    tr -d ' ')" 6
assert_eq "on the server" "$(server_count "$user")" 6

# The same message twice in one mailbox, so in one round: stored once.
mkdir -p "$T/orig/t"
msg t 1-twin 'Tue, 10 Nov 2024 10:00:00 +0000' twin
cp "$T/orig/t/1-twin" "$T/orig/t/2-twin-copy"
msg t 3-other 'Tue, 10 Nov 2024 11:00:00 +0000' other
user_add avt
seed avt "$T/orig/t"
pf_config_new
pf_account -x 'archive = yes' avt avt starttls keep
pf_run -v -v --json
assert_rc 0 "twins in one round"
assert_eq "twins: duplicates" "$(grep -c ': already archived as ' "$PF_ERR")" 1
python3 - "$PF_OUT" <<'EOF' || fail "twins: --json does not count the duplicate"
import json, sys
doc = json.load(open(sys.argv[1], encoding="utf-8"))
a = doc["accounts"][0]
assert (a["on_server"], a["new"], a["retrieved"]) == (3, 3, 3), a
assert a["duplicates"] == 1 and doc["totals"]["duplicates"] == 1, doc
EOF
holds "twins: stored once" "$T/client/avt/new" "$T/orig/t/1-twin" \
    "$T/orig/t/3-other"
assert_lines "twins: the archive index" "$XDG_STATE_HOME/popfetch/avt.archive" 3
assert_lines "twins: the journal" "$XDG_STATE_HOME/popfetch/avt.uidl" 4
pf_run -v -v
assert_no_grep "twins: the next run" ': C: RETR ' "$PF_ERR"

# archive = yes with delete = each: refused at the line that conflicts.
pf_config_new
pf_account -x 'archive = yes' "$user" "$user" starttls each
pf_run
assert_rc 78 "archive with delete = each"
line=$(grep -n 'archive = yes' "$PF_CONF" | cut -d: -f1)
assert_grep "archive with delete = each" \
    "$PF_CONF:$line: account \"$user\": archive = yes never deletes on the server, so delete = each cannot go with it" \
    "$PF_ERR"
assert_eq "on the server" "$(server_count "$user")" 6
say "PASS: archive"
