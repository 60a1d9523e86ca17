#!/bin/sh
# What popfetch prints, by where it runs: silence on success without a
# terminal (cron mails only failures), the summary with -v or --summary,
# a totals line for several accounts, errors only with -q, a progress
# line that ends in the summary on a terminal (a pseudo-terminal made by
# script(1)), and --json, checked with a JSON parser.

# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/lib.sh"

command -v script >/dev/null 2>&1 || skip "script is not installed (bsdutils)"
command -v python3 >/dev/null 2>&1 || skip "python3 is not installed"

# pf_bare ARGS...: popfetch as cron runs it, without pf_exec's --summary.
pf_bare()
{
	PF_RC=0
	timeout "$PF_RUN_TIMEOUT" "$PF_BIN" -c "$PF_CONF" "$@" \
	    >"$PF_OUT" 2>"$PF_ERR" </dev/null || PF_RC=$?
}

assert_empty()
{
	if [ -s "$2" ]; then
		cat "$2" >&2
		fail "$1: ${2##*/} is not empty"
	fi
}

dovecot_start
gen_mail "$T/orig/five" -n 5 -s 21
gen_mail "$T/orig/three" -n 3 -s 22
user_add olga
seed olga "$T/orig/five"
user_add oskar
seed oskar "$T/orig/three"
pf_config_new
pf_account first olga starttls keep
pf_account second oskar on keep

# Cron: new mail, no terminal, no -v: nothing at all.
pf_bare
assert_rc 0 "cron mode"
assert_empty "cron mode" "$PF_OUT"
assert_empty "cron mode" "$PF_ERR"
maildir_check "cron mode" "$T/client/first" "$T/orig/five"
maildir_check "cron mode" "$T/client/second" "$T/orig/three"

# -v: the summaries and the totals on stdout.
pf_bare -v
assert_rc 0 "-v"
assert_summary "-v" first 5 0 0
assert_summary "-v" second 3 0 0
assert_grep "-v: totals" \
    "^total: 2 accounts, 0 failed, 8 messages, 0 new, 0 retrieved \\(0 B\\), 0 deleted on the server, $PF_TIME_RE\$" \
    "$PF_OUT"
assert_lines "-v: stdout" "$PF_OUT" 3

# --summary: one line per account, no totals, stderr untouched.
pf_bare --summary
assert_rc 0 "--summary"
assert_lines "--summary: stdout" "$PF_OUT" 2
assert_empty "--summary" "$PF_ERR"

# A failing account, cron mode: its error line only, one line on stderr,
# in the form "popfetch: ACCOUNT: what: why".
pf_account -P "$(free_port)" down oskar off keep
pf_bare
assert_rc 75 "a failing account"
assert_empty "a failing account" "$PF_OUT"
assert_lines "a failing account: stderr" "$PF_ERR" 1
assert_grep "a failing account" '^popfetch: down: .+: .+' "$PF_ERR"
# -q with -v: errors only.
pf_bare -q -v
assert_rc 75 "-q"
assert_empty "-q" "$PF_OUT"
assert_lines "-q: stderr" "$PF_ERR" 1

# --json: one object, valid JSON, accounts in configuration order.
# (seed names files by the second and the file's name: rename them.)
mkdir "$T/orig/more"
for f in "$T/orig/three"/*; do
	cp "$f" "$T/orig/more/more-${f##*/}"
done
seed olga "$T/orig/more"
pf_bare --json
assert_rc 75 "--json"
assert_lines "--json: stdout" "$PF_OUT" 1
python3 - "$PF_OUT" <<'EOF' || fail "--json: the object is not as expected"
import json, sys
with open(sys.argv[1], encoding="utf-8") as f:
    doc = json.load(f)
def check(cond, what):
    if not cond:
        print("--json:", what, json.dumps(doc, indent=1), file=sys.stderr)
        sys.exit(1)
check(doc["exit_status"] == 75, "exit_status")
names = [a["name"] for a in doc["accounts"]]
check(names == ["first", "second", "down"], "account order")
first, second, down = doc["accounts"]
check(first["status"] == "ok" and first["error"] is None, "first ok")
check(first["on_server"] == 8 and first["new"] == 3, "first counts")
check(first["retrieved"] == 3 and first["bytes"] > 0, "first retrieved")
check(first["deleted"] == 0 and first["exit_status"] == 0, "first rest")
check(second["new"] == 0 and second["retrieved"] == 0, "second counts")
check(down["status"] == "failed" and down["exit_status"] == 75, "down")
check(down["error"]["class"] == "temporary", "down class")
check(down["error"]["message"] != "", "down message")
t = doc["totals"]
check(t["accounts"] == 3 and t["failed"] == 1, "totals accounts")
check(t["retrieved"] == 3 and t["bytes"] == first["bytes"], "totals sums")
check(t["seconds"] >= 0, "totals seconds")
EOF
maildir_check "--json" "$T/client/first" "$T/orig/five" "$T/orig/three"

# Strings are escaped: an error naming a Maildir path with a quote, a
# backslash, a tab, UTF-8 and a byte that is not UTF-8 still gives valid
# JSON, with the path in it, made printable as every error message is
# (a control character or a byte that is not UTF-8 a "?"; UTF-8 kept).
# (The path is a file: a local error, 74.)
pf_config_new
pf_account first olga starttls keep
python3 - "$PF_CONF" "$T" <<'EOF'
import sys
path, tmp = sys.argv[1], sys.argv[2].encode()
odd = tmp + b'/q"b\\\tx\xc3\xa9\xff'
open(odd, "wb").close()
with open(path, "rb") as f:
    text = f.read()
# The configuration quotes it: \" and \\ are its escapes.
quoted = odd.replace(b'\\', b'\\\\').replace(b'"', b'\\"')
old = b'maildir = "' + tmp + b'/client/first"'
assert old in text
with open(path, "wb") as f:
    f.write(text.replace(old, b'maildir = "' + quoted + b'"'))
EOF
pf_bare --json
assert_rc 74 "--json, odd path"
python3 - "$PF_OUT" <<'EOF' || fail "--json, odd path: not as expected"
import json, sys
with open(sys.argv[1], "rb") as f:
    doc = json.loads(f.read().decode("utf-8"))
err = doc["accounts"][0]["error"]
want = 'q"b\\?x\u00e9?'
if want not in err["message"] or err["class"] != "local":
    print("error %r lacks %r" % (err, want), file=sys.stderr)
    sys.exit(1)
EOF

# On a terminal: a progress line, erased, then the summary.  script(1)
# gives popfetch a pseudo-terminal and records what it wrote.
pf_config_new
pf_account first olga starttls keep
rm -rf "$T/client/first" "$XDG_STATE_HOME/popfetch"
TERM=xterm timeout "$PF_RUN_TIMEOUT" script -qec \
    "'$PF_BIN' -c '$PF_CONF'" "$T/typescript" >"$T/tty.out" 2>&1 </dev/null ||
    fail "popfetch on a terminal failed: $(cat "$T/tty.out")"
tr '\r\033' '\n#' <"$T/typescript" >"$T/tty.lines"
assert_grep "terminal: the progress line" \
    '^first: [0-9]+/8 messages, [0-9.]+ (B|KiB|MiB), [0-9.]+ (B|KiB|MiB)/s, ETA [0-9-]+:[0-9-]+(#\[K)?$' \
    "$T/tty.lines"
assert_grep "terminal: the line is erased" '^#\[K' "$T/tty.lines"
assert_grep "terminal: the summary" \
    "^(#\\[K)?first: 8 messages, 8 new, 8 retrieved \\([0-9.]+ (B|KiB|MiB)\\), 0 deleted on the server, $PF_TIME_RE\$" \
    "$T/tty.lines"
maildir_check "terminal" "$T/client/first" "$T/orig/five" "$T/orig/three"

# Not on a terminal, even with -v: no carriage return, no escape.
rm -rf "$T/client/first" "$XDG_STATE_HOME/popfetch"
pf_bare -v
assert_rc 0 "-v, no terminal"
assert_summary "-v, no terminal" first 8 8 0
if LC_ALL=C grep -q "$(printf '[\r\033]')" "$PF_OUT" "$PF_ERR"; then
	fail "no terminal: a progress line was drawn"
fi

say "PASS: output for terminals, cron and scripts"
