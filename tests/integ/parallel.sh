#!/bin/sh
# -j N: up to N accounts at once, each in its own process, with output
# that stays readable: every line whole, one summary per account, and
# the JSON in the configuration's order.  That N accounts are really in
# flight together is shown without timing: each account's
# password_command waits (boundedly) until N of them have started.

# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/lib.sh"

command -v python3 >/dev/null 2>&1 || skip "python3 is not installed"

dovecot_start
printf '%s\n' "$PF_PASSWORD" >"$T/pw"
chmod 0600 "$T/pw"
mkdir "$T/barrier"
# barrier NAME: note that NAME has started, wait until 3 have (at most
# 10 s, then note the timeout), and print the password.
cat >"$T/barrier.sh" <<EOF
#!/bin/sh
: >"$T/barrier/\$1"
i=0
while [ "\$(ls "$T/barrier" | wc -l)" -lt 3 ]; do
	i=\$((i + 1))
	if [ "\$i" -gt 200 ]; then
		echo "\$1" >>"$T/barrier.timeout"
		break
	fi
	sleep 0.05
done
cat "$T/pw"
EOF
chmod 0755 "$T/barrier.sh"

pf_config_new
for i in 1 2 3 4 5 6; do
	gen_mail "$T/orig/p$i" -n $((i + 1)) -s $((40 + i))
	user_add "puser$i"
	seed "puser$i" "$T/orig/p$i"
	pf_account -p '' -x "password_command = \"$T/barrier.sh p$i\"" \
	    "p$i" "puser$i" starttls keep
done

pf_run -v -j 3
assert_rc 0 "-j 3"
[ ! -f "$T/barrier.timeout" ] ||
    fail "-j 3: fewer than 3 accounts ran at once: $(cat "$T/barrier.timeout")"
for i in 1 2 3 4 5 6; do
	assert_summary "-j 3" "p$i" $((i + 1)) $((i + 1)) 0
	maildir_check "-j 3: p$i" "$T/client/p$i" "$T/orig/p$i"
done
assert_grep "-j 3: totals" '^total: 6 accounts, 0 failed, 27 messages, 27 new' \
    "$PF_OUT"
assert_lines "-j 3: stdout" "$PF_OUT" 7
# Every line on stderr is whole: one per login and per delivered
# message, none cut or run into another.
assert_lines "-j 3: stderr" "$PF_ERR" 33
grep -Ev '^popfetch: p[1-6]: (logging in with plain|message [0-9]+: [0-9]+ octets stored)$' \
    "$PF_ERR" >"$T/broken" || :
assert_lines "-j 3: broken lines on stderr" "$T/broken" 0

# --json with -j: the accounts in the configuration's order.  Dovecot
# notices new mail by the directory's mtime, in whole seconds: mail
# seeded in the second of its last look may wait for the next.
sleep 1
seed puser4 "$T/orig/p1"
sleep 1
pf_run --json -j 4
assert_rc 0 "--json -j 4"
python3 - "$PF_OUT" <<'EOF' || fail "--json -j 4: not as expected"
import json, sys
with open(sys.argv[1], encoding="utf-8") as f:
    doc = json.load(f)
names = [a["name"] for a in doc["accounts"]]
assert names == ["p%d" % i for i in range(1, 7)], names
news = [a["new"] for a in doc["accounts"]]
assert news == [0, 0, 0, 2, 0, 0], news
assert doc["exit_status"] == 0 and doc["totals"]["retrieved"] == 2
EOF

# A failing account among them: its error line, the others fetched, the
# worst status.
pf_account -P "$(free_port)" down puser1 off keep
seed puser6 "$T/orig/p2"
pf_run -j 4
assert_rc 75 "-j 4 with a failing account"
assert_lines "-j 4 with a failing account: stderr" "$PF_ERR" 1
assert_grep "-j 4 with a failing account" '^popfetch: down: ' "$PF_ERR"
assert_summary "-j 4 with a failing account" p6 10 3 0
assert_lines "-j 4 with a failing account: stdout" "$PF_OUT" 6

say "PASS: -j"
