#!/bin/sh
# Rules against Dovecot: list mail into a Maildir++ folder marked seen,
# the boss's mail flagged, spam discarded, a 20 MB message skipped.  The
# decisions are taken from TOP, so the protocol trace must show that the
# skipped and the discarded messages were never retrieved; --dry-run
# must show the same decisions and change nothing at all.

# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/lib.sh"

dovecot_start
user=ru
md=$T/client/$user
mkdir -p "$T/orig/r"
msg()
{
	printf 'From: %s\nTo: me@example.net\nSubject: %s\n' "$2" "$3" \
	    >"$T/orig/r/$1"
	printf 'Date: Thu, 26 Nov 2026 10:00:00 +0000\n' >>"$T/orig/r/$1"
	printf 'Message-ID: <%s@example.org>\n' "$1" >>"$T/orig/r/$1"
	[ -z "${4:-}" ] || printf '%s\n' "$4" >>"$T/orig/r/$1"
	printf '\nbody of %s\n' "$1" >>"$T/orig/r/$1"
}
msg 1-plain 'Ann <ann@example.org>' 'just mail'
msg 2-list 'Bob <bob@example.org>' '[dev] a patch' \
    'List-Id: Developers <dev.example.org>'
msg 3-spam 'Eve <eve@spam.example>' 'cheap =?UTF-8?B?cGlsbHM=?=' \
    'X-Spam-Flag: YES'
msg 4-big 'Cam <cam@example.org>' 'the video'
head -c 15000000 /dev/urandom | base64 -w 76 >>"$T/orig/r/4-big"
msg 5-boss 'The Boss <boss@example.org>' 'see me'
user_add "$user"
seed "$user" "$T/orig/r"

pf_config_new
cat >>"$PF_CONF" <<'CONF'
rule "big" {
	larger = 10M
	skip = yes
}
rule "spam" {
	exists = {"X-Spam-Flag"}
	discard = yes
}
rule "lists" {
	header_matches = {"List-Id", "dev\\.example\\.org"}
	folder = ".Lists.dev"
	flag = {seen}
}
rule "boss" {
	address = {"From", "boss@example.org"}
	flag = {flagged}
}
CONF
pf_account "$user" "$user" starttls each

# --dry-run: every decision shown, nothing changed anywhere.
pf_run --dry-run
assert_rc 0 "--dry-run"
# The plan's commands: 3 is discarded from its header and 4 skipped, so
# neither is retrieved, and 4 is not deleted.
assert_eq "--dry-run: the order" "$(wire_planned "$PF_OUT")" \
    "RETR 1, DELE 1, RETR 2, DELE 2, DELE 3, RETR 5, DELE 5, QUIT"
assert_grep "--dry-run: the strategy" '^order on the wire: .* \(each: ' \
    "$PF_OUT"
cp "$PF_OUT" "$T/dry-run"
assert_grep "--dry-run" '^ +1 .* new .*just mail  => inbox, then delete$' \
    "$PF_OUT"
assert_grep "--dry-run" \
    '^ +2 .*a patch  => folder \.Lists\.dev \+seen \(rule lists\), then delete$' \
    "$PF_OUT"
assert_grep "--dry-run" \
    '^ +3 .*Eve <eve@spam.example>  cheap pills  => discard \(rule spam\), then delete$' \
    "$PF_OUT"
assert_grep "--dry-run" '^ +4 .*the video  => skip \(rule big\)$' "$PF_OUT"
assert_grep "--dry-run" '^ +5 .*see me  => .*\+flagged \(rule boss\)' \
    "$PF_OUT"
[ ! -e "$md" ] || fail "--dry-run made $md"
[ ! -e "$XDG_STATE_HOME/popfetch" ] || fail "--dry-run made the state"
assert_eq "--dry-run: server" "$(server_count "$user")" 5

pf_run -v -v
assert_rc 0 "the run"
assert_eq "the run sent what --dry-run said" "$(wire_sent "$PF_ERR")" \
    "$(wire_planned "$T/dry-run")"
trace=$T/trace
sed -n "s/^popfetch: $user: C: //p" "$PF_ERR" >"$trace"
assert_grep "trace" '^TOP 4 0$' "$trace"
# Dovecot has PIPELINING: the five TOPs go out before the first reply.
awk '/: C: TOP / { tops++ } /: S: \(message/ { print tops; exit }' \
    "$PF_ERR" >"$T/tops"
assert_eq "TOP commands sent before the first header came" \
    "$(cat "$T/tops")" 5
assert_no_grep "the big one was not retrieved" '^RETR 4$' "$trace"
assert_no_grep "the spam was not retrieved" '^RETR 3$' "$trace"
assert_grep "the spam was deleted (discard, and each deletes)" '^DELE 3$' \
    "$trace"
assert_no_grep "the big one was not deleted" '^DELE 4$' "$trace"
for n in 1 2 5; do
	assert_grep "message $n" "^RETR $n\$" "$trace"
	assert_grep "message $n" "^DELE $n\$" "$trace"
done

# Where each one went, byte for byte.
same()
{
	cmp -s "$1" "$2" || fail "$3: ${1##*/} differs from ${2##*/}"
}
set -- "$md"/new/*
[ $# -eq 1 ] && [ -f "$1" ] || fail "new/ holds $# files, expected 1"
same "$1" "$T/orig/r/1-plain" "inbox"
set -- "$md"/.Lists.dev/cur/*:2,S
[ -f "$1" ] || fail "no seen message in .Lists.dev/cur"
same "$1" "$T/orig/r/2-list" ".Lists.dev"
[ -f "$md/.Lists.dev/maildirfolder" ] || fail "no maildirfolder mark"
set -- "$md"/cur/*:2,F
[ -f "$1" ] || fail "no flagged message in cur/"
same "$1" "$T/orig/r/5-boss" "flagged"
assert_eq "files stored" "$(find "$md" -type f ! -name maildirfolder |
    wc -l | tr -d ' ')" 3
assert_eq "left on the server: the big one" "$(server_count "$user")" 1

# The next run skips it again, and does nothing else.
pf_run -v -v
assert_rc 0 "second run"
assert_grep "second run" \
    "^$user: 1 message, 1 new, 0 retrieved \\(0 B\\), 1 skipped, 0 deleted" \
    "$PF_OUT"
assert_no_grep "second run" ': C: RETR ' "$PF_ERR"

# --json counts what the rules kept out.
pf_run --json
assert_rc 0 "--json"
python3 - "$PF_OUT" <<'PY' || fail "--json: skipped and discarded"
import json, sys
with open(sys.argv[1], encoding="utf-8") as f:
    doc = json.load(f)
acct = doc["accounts"][0]
assert acct["skipped"] == 1 and acct["discarded"] == 0, acct
assert doc["totals"]["skipped"] == 1, doc["totals"]
PY
say "PASS: rules"
