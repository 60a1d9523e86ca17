#!/bin/sh
# The run summary against Dovecot: rules file mail into two folders (one
# with a quote and a backslash in its name), discard one message and
# skip another; a second account has no folder mail, a third a wrong
# password.  The summary lines name the folders only where a rule filed
# into one, every line says how long the account took, the totals line
# counts the failed account, the exit status is the failure's, and
# --json (alone and with -j, whose children send their counts through a
# pipe) carries the same per-folder counts, times and error count.

# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/lib.sh"

command -v python3 >/dev/null 2>&1 || skip "python3 is not installed"

dovecot_start
mkdir -p "$T/orig/r"
# msg FILE SUBJECT [HEADER]: a small message.  Dovecot numbers them in
# the order of their names, so the folders are first used in that order.
msg()
{
	printf 'From: ann@example.org\nTo: me@example.net\nSubject: %s\n' \
	    "$2" >"$T/orig/r/$1"
	printf 'Message-ID: <%s@example.org>\n' "$1" >>"$T/orig/r/$1"
	[ -z "${3:-}" ] || printf '%s\n' "$3" >>"$T/orig/r/$1"
	printf '\nbody of %s\n' "$1" >>"$T/orig/r/$1"
}
msg 1-plain 'just mail'
msg 2-list 'a patch' 'List-Id: Developers <dev.example.org>'
msg 3-list 'a review' 'List-Id: Developers <dev.example.org>'
msg 4-odd 'odd one' 'X-Odd: yes'
msg 5-spam 'cheap pills' 'X-Spam-Flag: YES'
msg 6-list 'a merge' 'List-Id: Developers <dev.example.org>'
msg 7-later 'read later' 'X-Later: yes'
msg 8-plain 'more mail'
user_add rita
seed rita "$T/orig/r"
gen_mail "$T/orig/plain" -n 2 -s 31
user_add paul
seed paul "$T/orig/plain"

pf_config_new
# The odd folder is .Odd"q\b (the configuration escapes " and \).
cat >>"$PF_CONF" <<'CONF'
rule "lists" {
	header_matches = {"List-Id", "dev\\.example\\.org"}
	folder = ".Lists.dev"
}
rule "odd" {
	exists = {"X-Odd"}
	folder = ".Odd\"q\\b"
}
rule "spam" {
	exists = {"X-Spam-Flag"}
	discard = yes
}
rule "later" {
	exists = {"X-Later"}
	skip = yes
}
CONF
pf_account rules rita starttls keep
pf_account plain paul on keep
pf_account -p wrong-password down paul starttls keep

size='[0-9]+(\.[0-9]+)? (B|KiB)'
# -v: the summary lines and the totals.
pf_run -v
assert_rc 77 "-v, a wrong password"
assert_grep "-v: rules" \
    "^rules: 8 messages, 8 new, 6 retrieved \\($size\\), 2 to inbox, 3 to \\.Lists\\.dev, 1 to \\.Odd\"q\\\\b, 1 discarded, 1 skipped, 0 deleted on the server, $PF_TIME_RE\$" \
    "$PF_OUT"
# No folder mail: the short line.
assert_grep "-v: plain" \
    "^plain: 2 messages, 2 new, 2 retrieved \\($size\\), 0 deleted on the server, $PF_TIME_RE\$" \
    "$PF_OUT"
assert_summary "-v: rules, assert_summary" rules 8 8 0
assert_summary "-v: plain, assert_summary" plain 2 2 0
assert_grep "-v: totals" \
    "^total: 3 accounts, 1 failed, 10 messages, 10 new, 8 retrieved \\($size\\), 1 discarded, 1 skipped, 0 deleted on the server, $PF_TIME_RE\$" \
    "$PF_OUT"
assert_lines "-v: stdout" "$PF_OUT" 3
assert_grep "-v: the error" '^popfetch: down: .+' "$PF_ERR"
md=$T/client/rules
assert_eq "inbox" "$(find "$md/new" -type f | wc -l | tr -d ' ')" 2
assert_eq ".Lists.dev" \
    "$(find "$md/.Lists.dev/new" -type f | wc -l | tr -d ' ')" 3
assert_eq '.Odd"q\b' \
    "$(find "$md/.Odd\"q\\b/new" -type f | wc -l | tr -d ' ')" 1

# check_json FILE WHAT: the object of a run like the one above.
check_json()
{
	python3 - "$1" "$2" <<'EOF' || fail "$2: the JSON is not as expected"
import json, sys
with open(sys.argv[1], encoding="utf-8") as f:
    doc = json.load(f)
def check(cond, what):
    if not cond:
        print(sys.argv[2] + ":", what, json.dumps(doc, indent=1),
              file=sys.stderr)
        sys.exit(1)
check(doc["exit_status"] == 77, "exit_status")
rules, plain, down = doc["accounts"]
check(rules["filed"] == {"inbox": 2, ".Lists.dev": 3, '.Odd"q\\b': 1},
      "rules: filed")
check(list(rules["filed"]) == ["inbox", ".Lists.dev", '.Odd"q\\b'],
      "rules: the inbox, then the folders in the order of first use")
check(rules["retrieved"] == 6 and rules["discarded"] == 1
      and rules["skipped"] == 1, "rules: counts")
check(plain["filed"] == {"inbox": 2}, "plain: filed")
check(down["filed"] == {"inbox": 0}, "down: filed")
check(down["status"] == "failed" and down["exit_status"] == 77
      and down["error"]["class"] == "auth", "down: failed")
for a in doc["accounts"]:
    check(isinstance(a["seconds"], float) and 0 < a["seconds"] < 60,
          a["name"] + ": seconds")
t = doc["totals"]
check(t["errors"] == 1 and t["failed"] == 1 and t["accounts"] == 3,
      "totals: errors")
check(t["filed"] == {"inbox": 4, ".Lists.dev": 3, '.Odd"q\\b': 1},
      "totals: filed")
check(t["retrieved"] == 8 and t["discarded"] == 1 and t["skipped"] == 1,
      "totals: counts")
check(0 < t["seconds"] < 120, "totals: seconds")
EOF
}

# --json, after the state and the Maildirs are gone (the server kept all).
rm -rf "$T/client" "$XDG_STATE_HOME/popfetch"
pf_run --json
assert_rc 77 "--json"
assert_lines "--json: stdout" "$PF_OUT" 1
check_json "$PF_OUT" "--json"
# One account after the other: the run took at least as long as they.
python3 - "$PF_OUT" <<'EOF' || fail "--json: the total time is too short"
import json, sys
doc = json.load(open(sys.argv[1], encoding="utf-8"))
# Each figure is rounded to the millisecond.
accts = doc["accounts"]
assert doc["totals"]["seconds"] >= sum(a["seconds"] for a in accts) - 0.001 * (len(accts) + 1)
EOF

# -j 3: each account in a child, its counts sent through a pipe.
rm -rf "$T/client" "$XDG_STATE_HOME/popfetch"
pf_run --json -j 3
assert_rc 77 "--json -j 3"
check_json "$PF_OUT" "--json -j 3"

say "PASS: the run summary"
