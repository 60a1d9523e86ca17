#!/bin/sh
# shellcheck disable=SC2317,SC2119 # checks run through fake_check
# Fault injection with the fake POP3 server: a server that refuses a
# command, lies about sizes, stalls, sends what no server should, or
# turns the login down.  Each check is one row of the contract of
# behaviour under faults: popfetch's exit status, its message, the
# Maildir afterwards, and what the server received.  The rows about a
# connection lost inside a reply, unusable unique-ids, signals and the
# account lock have files of their own (fault-*.sh).

LIB_NEED_DOVECOT=no
# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/lib.sh"

[ -x "$FAKE_BIN" ] || fail "$FAKE_BIN is missing: run make check"

M1=$FAKE_MAIL/m1.eml
M2=$FAKE_MAIL/m2.eml
M3=$FAKE_MAIL/m3.eml

# A run that fails at once, all the same, must not take long.
QUICK=5000

# RETR 2 answered -ERR: 2 stays on the server; 1 and 3 are fetched (and
# deleted under each and batch); 76 at the end of the run.
err_retr()
{
	fake_start "err-retr-$1"
	fake_account er off "$1"
	fake_pf
	assert_rc 76 "-ERR on RETR 2 ($1)"
	fake_message "-ERR on RETR 2" '^popfetch: er: .*(RETR|message) 2'
	fake_maildir "-ERR on RETR 2 ($1)" er "$M1" "$M3"
	fake_not_sent "-ERR on RETR 2" 1 '^DELE 2$'
	fake_sent "-ERR on RETR 2" 1 '^RETR 3$'
	fake_sent "-ERR on RETR 2" 1 '^QUIT$'
	fake_finish "-ERR on RETR 2 ($1)"
}

check_err_retr_each()
{
	err_retr each
}

check_err_retr_batch()
{
	err_retr batch
}

check_err_retr_keep()
{
	err_retr keep
}

# DELE 2 answered -ERR: all three stored once; 2 stays; 76.  The next
# run deletes it without RETR.
check_err_dele()
{
	fake_start err-dele-each err-dele-rerun
	fake_account ed off each
	fake_pf
	assert_rc 76 "-ERR on DELE 2"
	fake_message "-ERR on DELE 2" '^popfetch: ed: .*(DELE|message) 2'
	fake_maildir "-ERR on DELE 2" ed "$M1" "$M2" "$M3"
	fake_sent "-ERR on DELE 2" 1 '^DELE 3$'
	fake_pf
	assert_rc 0 "the run after -ERR on DELE 2"
	fake_maildir "the run after -ERR on DELE 2" ed "$M1" "$M2" "$M3"
	fake_commands "the run after -ERR on DELE 2" 2 'DELE 1' QUIT
	fake_finish "-ERR on DELE 2"
}

# The connection drops after the DELEs, before QUIT is answered: every
# message is stored once; the next run deletes them without RETR.  A
# close in place of QUIT's reply is what some servers always do: 0, with
# a warning (each); a drop before a DELE's reply is 75 (batch).
drop_dele()
{
	fake_start "drop-dele-$1" drop-dele-rerun
	fake_account dd off "$1"
	fake_pf
	assert_rc "$2" "drop before QUIT's +OK ($1)"
	if [ "$1" = each ]; then
		fake_message "close at QUIT" \
		    '^popfetch: dd: the server closed the connection instead of answering QUIT: 3 deletions unconfirmed'
	fi
	fake_maildir "drop before QUIT's +OK ($1)" dd "$M1" "$M2" "$M3"
	fake_pf
	assert_rc 0 "the run after a drop before QUIT's +OK ($1)"
	fake_maildir "the run after a drop before QUIT's +OK ($1)" dd \
	    "$M1" "$M2" "$M3"
	fake_commands "the run after a drop before QUIT's +OK ($1)" 2 \
	    'DELE 1' 'DELE 2' 'DELE 3' QUIT
	fake_finish "drop before QUIT's +OK ($1)"
}

check_drop_dele_each()
{
	drop_dele each 0
}

check_drop_dele_batch()
{
	drop_dele batch 75
}

# No UIDL and delete = keep: nothing can be told apart, so nothing is
# fetched; 76 with the reason; QUIT.
check_no_uidl_keep()
{
	fake_start no-uidl-keep
	fake_account nuk off keep
	fake_pf
	assert_rc 76 "no UIDL (keep)"
	fake_message "no UIDL (keep)" '^popfetch: nuk: .*server has no UIDL'
	fake_maildir "no UIDL (keep)" nuk
	fake_not_sent "no UIDL (keep)" 1 '^(RETR|DELE) '
	fake_sent "no UIDL (keep)" 1 '^QUIT$'
	fake_finish "no UIDL (keep)"
}

# No UIDL under each and batch: everything fetched and deleted.
no_uidl()
{
	fake_start "no-uidl-$1"
	fake_account nu off "$1"
	fake_pf
	assert_rc 0 "no UIDL ($1)"
	fake_maildir "no UIDL ($1)" nu "$M1" "$M2" "$M3"
	fake_finish "no UIDL ($1)"
}

check_no_uidl_each()
{
	no_uidl each
}

check_no_uidl_batch()
{
	no_uidl batch
}

# A server without CAPA, or without TOP: a normal fetch.
normal_fetch()
{
	fake_start "$1"
	fake_account nf "$2" each
	fake_pf
	assert_rc 0 "$1"
	fake_maildir "$1" nf "$M1" "$M2" "$M3"
	fake_commands "$1" 1 'RETR 1' 'DELE 1' 'RETR 2' 'DELE 2' 'RETR 3' \
	    'DELE 3' QUIT
	fake_finish "$1"
}

check_no_capa()
{
	normal_fetch no-capa off
}

check_no_top()
{
	normal_fetch no-top off
}

# tls = starttls and no CAPA: STLS is tried, and the fetch goes on over
# TLS (USER only after STLS).
check_no_capa_starttls()
{
	normal_fetch no-capa-starttls starttls
	fake_lines 1 | grep -n '' >"$T/numbered"
	stls_at=$(grep -m 1 ':STLS$' "$T/numbered" | cut -d : -f 1)
	user_at=$(grep -m 1 ':USER ' "$T/numbered" | cut -d : -f 1)
	if [ -z "$stls_at" ] || [ -z "$user_at" ] ||
	    [ "$stls_at" -gt "$user_at" ]; then
		fail "no CAPA with starttls: USER not after STLS"
	fi
}

# Two messages with one unique-id: both fetched; the next run (keep)
# fetches nothing.
check_dup_uidl()
{
	fake_start dup-uidl-keep dup-uidl-rerun
	fake_account du off keep
	fake_pf
	assert_rc 0 "duplicate UIDL"
	fake_maildir "duplicate UIDL" du "$M1" "$M2" "$M3"
	fake_pf
	assert_rc 0 "the run after duplicate UIDLs"
	fake_maildir "the run after duplicate UIDLs" du "$M1" "$M2" "$M3"
	fake_not_sent "the run after duplicate UIDLs" 2 '^RETR '
	fake_finish "duplicate UIDL"
}

# LIST sizes that lie: the real bytes are stored and named (,S= is
# checked by fake_maildir).
check_list_lies()
{
	fake_start list-lies
	fake_account ll off each
	fake_pf
	assert_rc 0 "LIST sizes that lie"
	fake_maildir "LIST sizes that lie" ll "$M1" "$M2" "$M3"
	fake_finish "LIST sizes that lie"
}

# STAT disagrees with LIST: LIST wins.
check_stat_list()
{
	fake_start stat-list
	fake_account sl off each
	fake_pf
	assert_rc 0 "STAT differs from LIST"
	fake_maildir "STAT differs from LIST" sl "$M1" "$M2" "$M3"
	fake_not_sent "STAT differs from LIST" 1 '^(RETR|DELE) [45]$'
	fake_finish "STAT differs from LIST"
}

# Stalls longer than the timeout (2 s): 75 within the timeout and a
# few seconds; no partial file.
check_stall_greeting()
{
	fake_start stall-greeting
	fake_account -t 2 sg off each
	fake_pf
	assert_rc 75 "stall after connect"
	fake_within "stall after connect" 6000
	fake_maildir "stall after connect" sg
	fake_not_sent "stall after connect" 1 '.'
	fake_finish "stall after connect"
}

check_stall_body()
{
	fake_start stall-body
	fake_account -t 2 sb off each
	fake_pf
	assert_rc 75 "stall in the middle of message 2"
	fake_within "stall in the middle of message 2" 6000
	fake_maildir "stall in the middle of message 2" sb "$M1"
	fake_not_sent "stall in the middle of message 2" 1 '^(DELE 2|RETR 3)$'
	fake_finish "stall in the middle of message 2"
}

# Replies that are not POP3: 76, and no credentials after them.
check_garbage_greeting()
{
	fake_start garbage-greeting
	fake_account gg off each
	fake_pf
	assert_rc 76 "garbage greeting"
	fake_within "garbage greeting" "$QUICK"
	fake_not_sent "garbage greeting" 1 '^([^Q]|Q[^U])'
	fake_finish "garbage greeting"
}

check_no_status()
{
	fake_start no-status
	fake_account ns off each
	fake_pf
	assert_rc 76 "a reply without status"
	fake_within "a reply without status" "$QUICK"
	fake_not_sent "a reply without status" 1 '^PASS'
	fake_finish "a reply without status"
}

# A 10 MB status line is refused (the line limit is 8192 octets), fast.
check_big_status()
{
	fake_start big-status
	fake_account bs off each
	fake_pf
	assert_rc 76 "a 10 MB status line"
	fake_within "a 10 MB status line" "$QUICK"
	fake_message "a 10 MB status line" '^popfetch: bs: .*too long'
	fake_not_sent "a 10 MB status line" 1 '^(USER|PASS)'
	fake_finish "a 10 MB status line"
}

# The peak memory of a run, in KiB, or nothing if it cannot be told
# (no GNU time; or a sanitizer build, whose allocator keeps freed
# memory in quarantine).
peak_kib()
{
	if [ ! -x /usr/bin/time ] || grep -q __asan_init "$PF_BIN"; then
		return 0
	fi
	/usr/bin/time -f %M -o "$T/peak" "$PF_BIN" -c "$PF_CONF" -q \
	    >/dev/null 2>&1 || :
	cat "$T/peak"
}

# A 10 MB line inside a body: stored intact, memory bounded.
check_big_body_line()
{
	fake_start big-body-line
	fake_account bb off each
	fake_pf
	assert_rc 0 "a 10 MB body line"
	{
		printf 'Subject: one very long line\n\n'
		head -c 10485760 /dev/zero | tr '\0' x
		printf '\n'
	} >"$T/want/big"
	fake_maildir "a 10 MB body line" bb "$T/want/big"
	fake_finish "a 10 MB body line"

	# Peak memory: against the same run with a small message.
	fake_start big-body-line no-capa
	pf_config_new
	fake_account bm off each
	big=$(peak_kib)
	small=$(peak_kib)
	fake_stop
	if [ -n "$big" ] && [ -n "$small" ]; then
		say "  peak memory: $big KiB with the 10 MB line," \
		    "$small KiB without"
		[ "$big" -lt $((small + 5120)) ] ||
		    fail "a 10 MB body line: popfetch needed $big KiB," \
		    "$small KiB for small messages"
	fi
}

# Bare LF line ends: stored with LF, content intact (the stuffed dot
# removed).
check_bare_lf()
{
	fake_start bare-lf
	fake_account lf off each
	fake_pf
	assert_rc 0 "bare LF"
	printf 'From: lf@example.org\nSubject: bare LF\n\nline one\n.dotted\nline three\n' \
	    >"$T/want/lf"
	fake_maildir "bare LF" lf "$T/want/lf"
	fake_finish "bare LF"
}

check_nul_bytes()
{
	fake_start nul-bytes
	fake_account nb off each
	fake_pf
	assert_rc 0 "NUL bytes"
	printf 'Subject: NUL\n\nbefore\000after\n\000\000\nend\000\n' \
	    >"$T/want/nul"
	fake_maildir "NUL bytes" nb "$T/want/nul"
	fake_finish "NUL bytes"
}

# -ERR on PASS: the response code decides the exit; no second try.
pass_err()
{
	fake_start "pass-$1"
	fake_account pe off each
	fake_pf
	assert_rc "$2" "-ERR on PASS ($1)"
	fake_within "-ERR on PASS ($1)" "$QUICK"
	fake_maildir "-ERR on PASS ($1)" pe
	assert_eq "-ERR on PASS ($1): USER sent" \
	    "$(fake_lines 1 | grep -c '^USER ')" 1
	assert_eq "-ERR on PASS ($1): PASS sent" \
	    "$(fake_lines 1 | grep -c '^PASS ')" 1
	fake_finish "-ERR on PASS ($1)"
}

check_pass_in_use()
{
	pass_err in-use 75
	fake_sent "-ERR [IN-USE] on PASS" 1 '^QUIT$'
}

check_pass_login_delay()
{
	pass_err login-delay 75
}

check_pass_sys_temp()
{
	pass_err sys-temp 75
}

check_pass_auth_code()
{
	pass_err auth-code 77
}

check_pass_auth_plain()
{
	pass_err auth-plain 77
}

# tls = starttls: without STLS in CAPA, or with STLS refused, no USER or
# PASS is ever sent.
stls_fail()
{
	fake_start "$1"
	fake_account st starttls each
	fake_pf
	assert_rc 76 "$1"
	fake_within "$1" "$QUICK"
	fake_not_sent "$1" 1 '^(USER|PASS|APOP|AUTH)'
	fake_finish "$1"
}

check_stls_missing()
{
	stls_fail stls-missing
	fake_message "STLS missing" '^popfetch: st: .*STLS'
}

check_stls_refused()
{
	stls_fail stls-refused
}

# Every script (and what it includes) parses, and names files that exist.
check_scripts()
{
	for s in "$FAKE_SCRIPTS"/*.pop3; do
		"$FAKE_BIN" -n -s "$s" || fail "$s does not parse"
	done
}

fake_check "every fake server script parses" check_scripts
fake_check "-ERR on RETR k (each)" check_err_retr_each
fake_check "-ERR on RETR k (batch)" check_err_retr_batch
fake_check "-ERR on RETR k (keep)" check_err_retr_keep
fake_check "-ERR on DELE k, and the next run" check_err_dele
fake_check "dropped after DELE, before QUIT's +OK (each)" check_drop_dele_each
fake_check "dropped after DELE, before its +OK (batch)" check_drop_dele_batch
fake_check "no UIDL, delete = keep" check_no_uidl_keep
fake_check "no UIDL, delete = each" check_no_uidl_each
fake_check "no UIDL, delete = batch" check_no_uidl_batch
fake_check "no CAPA" check_no_capa
fake_check "no TOP" check_no_top
fake_check "no CAPA, tls = starttls" check_no_capa_starttls
fake_check "two messages with one UIDL" check_dup_uidl
fake_check "LIST sizes that lie" check_list_lies
fake_check "STAT differs from LIST" check_stat_list
fake_check "stall after connect" check_stall_greeting
fake_check "stall in mid-body" check_stall_body
fake_check "garbage greeting" check_garbage_greeting
fake_check "a reply without status" check_no_status
fake_check "a 10 MB status line" check_big_status
fake_check "a 10 MB line in a body" check_big_body_line
fake_check "bare LF line ends" check_bare_lf
fake_check "NUL bytes in a body" check_nul_bytes
fake_check "-ERR [IN-USE] on PASS" check_pass_in_use
fake_check "-ERR [LOGIN-DELAY] on PASS" check_pass_login_delay
fake_check "-ERR [SYS/TEMP] on PASS" check_pass_sys_temp
fake_check "-ERR [AUTH] on PASS" check_pass_auth_code
fake_check "plain -ERR on PASS" check_pass_auth_plain
fake_check "tls = starttls, no STLS in CAPA" check_stls_missing
fake_check "tls = starttls, STLS refused" check_stls_refused
fake_summary
