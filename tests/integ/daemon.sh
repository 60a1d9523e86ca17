#!/bin/sh
# --daemon INTERVAL: rounds every INTERVAL, one JSON object per round
# with --json; SIGHUP rereads the configuration at the next round (a bad
# one is refused and the old one kept); SIGTERM ends it cleanly (status
# 143); rounds that fail for a temporary reason are spaced out, twice as
# long each time, and a round that succeeds brings the interval back.

# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/lib.sh"

command -v python3 >/dev/null 2>&1 || skip "python3 is not installed"

DAEMON_PID=

daemon_cleanup()
{
	dc_rc=$?
	if [ -n "$DAEMON_PID" ]; then
		kill -9 "$DAEMON_PID" 2>/dev/null
		wait "$DAEMON_PID" 2>/dev/null
	fi
	fault_status "$dc_rc"
	lib_cleanup
}
trap daemon_cleanup EXIT

# daemon_start ARGS...: popfetch --daemon in the background.
daemon_start()
{
	env --default-signal=INT,TERM "$PF_BIN" -c "$PF_CONF" "$@" \
	    >"$PF_OUT" 2>"$PF_ERR" </dev/null &
	DAEMON_PID=$!
}

# wait_for WHAT COMMAND...: until COMMAND succeeds, at most 30 s.
wait_for()
{
	wf_what=$1
	shift
	wf_i=0
	until "$@"; do
		wf_i=$((wf_i + 1))
		if [ "$wf_i" -gt 300 ]; then
			say "stdout:"
			cat "$PF_OUT" >&2
			fail "$wf_what: still not so after 30 s"
		fi
		kill -0 "$DAEMON_PID" 2>/dev/null ||
		    fail "$wf_what: popfetch --daemon has ended"
		sleep 0.1
	done
}

# lines_at_least FILE N
lines_at_least()
{
	[ "$(wc -l <"$1" | tr -d ' ')" -ge "$2" ]
}

# daemon_stop SIGNAL: send it, wait at most 30 s; PF_RC.
daemon_stop()
{
	kill "-$1" "$DAEMON_PID"
	ds_i=0
	while kill -0 "$DAEMON_PID" 2>/dev/null; do
		ds_i=$((ds_i + 1))
		[ "$ds_i" -le 300 ] || fail "popfetch --daemon ignored SIG$1"
		sleep 0.1
	done
	PF_RC=0
	wait "$DAEMON_PID" || PF_RC=$?
	DAEMON_PID=
}

# rounds_json: every line of stdout is a JSON object; print, per round,
# the account names and the new messages, "a:2 b:0".
rounds_json()
{
	python3 - "$PF_OUT" <<'EOF'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    doc = json.loads(line)
    print(" ".join("%s:%d" % (a["name"], a["new"]) for a in doc["accounts"]))
EOF
}

dovecot_start
gen_mail "$T/orig/a" -n 3 -s 51
gen_mail "$T/orig/b" -n 2 -s 52
user_add dora
seed dora "$T/orig/a"
user_add dirk
seed dirk "$T/orig/b"
pf_config_new
pf_account one dora starttls keep

# Two rounds: the first fetches, the second finds nothing new.
daemon_start --daemon 1 --json
wait_for "two rounds" lines_at_least "$PF_OUT" 2
maildir_check "two rounds" "$T/client/one" "$T/orig/a"

# SIGHUP: the next round uses the new configuration.
pf_account two dirk on keep
kill -HUP "$DAEMON_PID"
wait_for "a round after SIGHUP" grep -q '"name":"two"' "$PF_OUT"
maildir_check "after SIGHUP" "$T/client/two" "$T/orig/b"

# A configuration that does not load is refused; the rounds go on with
# the one read before.
cp "$PF_CONF" "$T/good.conf"
printf 'account "three" {\n' >>"$PF_CONF"
kill -HUP "$DAEMON_PID"
wait_for "a bad configuration refused" \
    grep -q '^popfetch: configuration not reloaded' "$PF_ERR"
rounds=$(wc -l <"$PF_OUT" | tr -d ' ')
wait_for "a round after the refusal" lines_at_least "$PF_OUT" $((rounds + 1))

daemon_stop TERM
assert_rc 143 "--daemon, SIGTERM"
rounds_json >"$T/rounds" || fail "--daemon: stdout is not JSON lines"
assert_eq "--daemon: first round" "$(sed -n 1p "$T/rounds")" "one:3"
assert_eq "--daemon: second round" "$(sed -n 2p "$T/rounds")" "one:0"
assert_grep "--daemon: the reload" '^one:0 two:2$' "$T/rounds"
assert_eq "--daemon: the last round" "$(tail -n 1 "$T/rounds")" "one:0 two:0"
assert_grep "--daemon: the parse error" '^popfetch: .*popfetch.conf:' \
    "$PF_ERR"
maildir_check "--daemon" "$T/client/one" "$T/orig/a"
maildir_check "--daemon" "$T/client/two" "$T/orig/b"

# Back-off: an account that cannot be reached; the waits double.  Then a
# configuration that works (SIGHUP): the interval is back to 1 s.
pf_config_new
pf_account -P "$(free_port)" down dora off keep
daemon_start --daemon 1s -v
wait_for "the first back-off" grep -q '^popfetch: next round in 2 s$' "$PF_ERR"
wait_for "the second back-off" grep -q '^popfetch: next round in 4 s$' "$PF_ERR"
cp "$T/good.conf" "$PF_CONF"
kill -HUP "$DAEMON_PID"
wait_for "a success after back-off" grep -q '^popfetch: next round in 1 s$' \
    "$PF_ERR"
daemon_stop INT
assert_rc 130 "--daemon, SIGINT"
assert_grep "--daemon, back-off: the failure" '^popfetch: down: ' "$PF_ERR"
# Summary lines on stdout (-v): every round after the reload.
assert_summary_some()
{
	grep -Eq '^one: 3 messages, 0 new, ' "$PF_OUT" ||
	    fail "--daemon -v: no summary of account one"
}
assert_summary_some

say "PASS: --daemon"
