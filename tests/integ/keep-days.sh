#!/bin/sh
# keep_days = N with delete = keep (Outlook's "remove from server after
# N days"): a message stays on the server N days after popfetch first saw
# it, then is deleted without being downloaded again.  Time is moved on
# with faketime(1) for popfetch alone; the connection is plain text, as
# the test certificates would not be valid days from now.

# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/lib.sh"

if ! command -v faketime >/dev/null 2>&1; then
	[ "${CI:-}" != true ] || fail "faketime is missing (apt-get install faketime)"
	skip "faketime is missing"
fi

dovecot_start
user=kd
user_add "$user"
gen_mail "$T/orig/old" -n 3 -s 3
gen_mail "$T/orig/new" -n 2 -s 9 -f 10
seed "$user" "$T/orig/old"
pf_config_new
pf_account -x 'keep_days = 3' "$user" "$user" off keep

# run_at OFFSET ARGS...: popfetch, with the clock OFFSET from now.
run_at()
{
	ra_off=$1
	shift
	# Under AddressSanitizer, its allocator must not read the clock for
	# its own bookkeeping: that call would reach libfaketime before it
	# is set up, and the two deadlock.
	printf '#!/bin/sh\n%s exec faketime -f %s %s "$@"\n' \
	    "ASAN_OPTIONS=\${ASAN_OPTIONS:+\$ASAN_OPTIONS:}allocator_release_to_os_interval_ms=-1" \
	    "$ra_off" "$PF_BIN_REAL" >"$T/popfetch-at"
	chmod +x "$T/popfetch-at"
	PF_BIN=$T/popfetch-at
	pf_run "$@"
	PF_BIN=$PF_BIN_REAL
}
PF_BIN_REAL=$PF_BIN

run_at +0d -v -v
assert_rc 0 "day 0"
assert_eq "day 0: on the server" "$(server_count "$user")" 3

# Two new messages arrive on day 2; the first three are not due yet.
seed "$user" "$T/orig/new"
run_at +2d -v -v
assert_rc 0 "day 2"
assert_eq "day 2: on the server" "$(server_count "$user")" 5
assert_no_grep "day 2" ': C: DELE ' "$PF_ERR"

# --status tells, without connecting, what is due and when.
run_at +2d --status
assert_rc 0 "--status on day 2"
assert_grep "--status on day 2" '5 messages known, 5 stored' "$PF_OUT"
assert_grep "--status on day 2" \
    'keep_days = 3: 0 due for deletion now, the next at 20' "$PF_OUT"
assert_grep "--status on day 2" "Maildir .*: 5 files, " "$PF_OUT"
run_at +4d --status
assert_grep "--status on day 4" 'keep_days = 3: 3 due for deletion now' \
    "$PF_OUT"

# --dry-run on day 4 shows the plan the run runs (it once said "already
# fetched" with no delete for the three that are due).
run_at +4d --dry-run
assert_rc 0 "--dry-run on day 4"
assert_eq "--dry-run on day 4: due" "$(grep -c \
    '  => already fetched, delete (keep_days = 3 passed)$' "$PF_OUT")" 3
assert_eq "--dry-run on day 4: kept" \
    "$(grep -c '  => already fetched$' "$PF_OUT")" 2
cp "$PF_OUT" "$T/dry-run"

# Day 4: the first three have had their three days; the two from day 2
# have not.  Nothing is downloaded again.
run_at +4d -v -v
assert_rc 0 "day 4"
assert_eq "day 4: the run sent what --dry-run said" \
    "$(wire_sent "$PF_ERR")" "$(wire_planned "$T/dry-run")"
assert_eq "day 4: on the server" "$(server_count "$user")" 2
assert_eq "day 4: DELEs" "$(grep -c ': C: DELE ' "$PF_ERR")" 3
assert_no_grep "day 4" ': C: RETR ' "$PF_ERR"

run_at +6d -v -v
assert_rc 0 "day 6"
assert_eq "day 6: on the server" "$(server_count "$user")" 0
maildir_check "everything kept locally" "$T/client/$user" \
    "$T/orig/old" "$T/orig/new"
say "PASS: keep_days"
