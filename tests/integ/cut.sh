#!/bin/sh
# Promises 1 and 2 over a dropped connection: cut-proxy, between popfetch
# and Dovecot's plain POP3 port, closes the connection once a chosen
# number of octets has come from the server, anywhere in a session (the
# greeting, login, LIST, UIDL, inside a message, between RETR and DELE,
# in QUIT's reply).  The interrupted run must exit 75 (EX_TEMPFAIL), or
# 0 when the cut fell after QUIT's reply; a clean run follows.  Then
# every original message must be in the client's Maildir exactly once
# (one in five filed by a rule into a Maildir given by path, which counts
# as the account's; pairs of messages share a unique-id, in different
# rounds), whole and byte for byte, the server must keep all
# of them (keep) or none (each, batch), and nothing may be left in tmp/:
# no process died, so every unfinished delivery must have been cleaned
# up.  No run's -v -v trace may show a DELE n before the line that says
# message n was stored.
#
# For each strategy, CUT_TRIALS trials (default 20), each on a fresh
# server mailbox, Maildir and state.  The cut offset is drawn between 0
# and a little more than the length of a whole session (measured
# first).  In most trials only the first connection is cut, and the
# clean run goes through the proxy; in some, every connection is cut at
# the same offset, two runs are interrupted and the clean run goes
# straight to Dovecot.  Half of the cuts are resets, half orderly
# closes.  The draws come from a generator seeded with CUT_SEED
# (printed; set it to replay the same cuts).

# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/lib.sh"

[ -x "$CUT_PROXY" ] || fail "$CUT_PROXY is missing: run make check"
CUT_TRIALS=${CUT_TRIALS:-20}
case $CUT_TRIALS in
'' | *[!0-9]*) fail "CUT_TRIALS must be a number" ;;
esac
CUT_SEED=$(fault_seed CUT_SEED)
say "CUT_SEED=$CUT_SEED CUT_TRIALS=$CUT_TRIALS"
rand_seed "$CUT_SEED"
fault_trap

cut_start=$(now_ms)
# Some messages share a unique-id (fault_mailbox).
DOVECOT_EXTRA_CONF=$DOVECOT_SHARED_UIDL
dovecot_start
mkdir "$T/logs"
fault_mailbox 80 41

# proxy_report FILE N: the proxy's line for its Nth connection.
proxy_report()
{
	sed -n "s/^conn $2: //p" "$1"
}

# calibrate MODE: SESSION_OCTETS becomes the number of octets the server
# sends in a whole session of MODE on a fresh mailbox, through the proxy.
calibrate()
{
	ca_user=cal-$1
	user_add "$ca_user"
	mailbox_clone "$ca_user" template
	proxy_start "$T/logs/$ca_user.port"
	pf_config_new
	pf_rule_lists "$ca_user"
	pf_account -P "$PROXY_PORT" "$ca_user" "$ca_user" off "$1"
	pf_run -v -v
	assert_rc 0 "$1: an uninterrupted run through the proxy"
	assert_grep "$1: two messages listed under one unique-id" \
	    ': S: 47 shared-7$' "$PF_ERR"
	maildir_audit "$T/client/$ca_user" "$T/orig.sums"
	[ "$AUDIT_LOST$AUDIT_DUP$AUDIT_BAD$AUDIT_TMP" = 0000 ] ||
	    fail "$1: an uninterrupted run delivered the wrong messages"
	[ -n "$(find "$T/client/$ca_user.lists" -type f)" ] ||
	    fail "$1: the rule filed nothing into a Maildir by path"
	# The proxy writes its line once both sides are closed.
	ca_n=0
	while [ -z "$(proxy_report "$T/logs/$ca_user.port.log" 1)" ]; do
		ca_n=$((ca_n + 1))
		[ "$ca_n" -lt 100 ] || fail "$1: no report from the proxy"
		sleep 0.05
	done
	proxy_stop
	ca_line=$(proxy_report "$T/logs/$ca_user.port.log" 1)
	case $ca_line in
	"server closed: server "*) ;;
	*) fail "$1: the proxy says '$ca_line'" ;;
	esac
	SESSION_OCTETS=${ca_line#server closed: server }
	SESSION_OCTETS=${SESSION_OCTETS%% *}
	rm -rf "${T:?}/client/$ca_user" "${T:?}/client/$ca_user.lists"
}

# cut_run ACCT LOGS N: the Nth run of a trial, interrupted (or not) by
# the proxy; counts its exit status.
cut_run()
{
	pf_run -v -v
	cp "$PF_ERR" "$2/run-$3.err"
	cr_early=$(dele_before_stored "$1" "$PF_ERR")
	if [ -n "$cr_early" ]; then
		say "$1: run $3 sent DELE $cr_early before message $cr_early" \
		    "was stored"
		rcbad="$rcbad $1:DELE-$cr_early-early"
	fi
	case $PF_RC in
	0) rc0=$((rc0 + 1)) ;;
	75) rc75=$((rc75 + 1)) ;;
	*)
		rcother=$((rcother + 1))
		say "$1: run $3 exit status $PF_RC (want 75 or 0):" \
		    "$(grep -v ' delivered as ' "$PF_ERR" | head -n 1)"
		rcbad="$rcbad $1:$PF_RC" ;;
	esac
}

# trial MODE N: one trial; adds to the counters of MODE.
trial()
{
	tr_acct=c-$1-$2
	tr_logs=$T/logs/$tr_acct
	mkdir "$tr_logs"
	user_add "$tr_acct"
	mailbox_clone "$tr_acct" template

	# Messages are most of a session: draw a quarter of the cuts from
	# its first 4 KiB (greeting, CAPA, login, LIST, UIDL, the first
	# RETR) and a quarter from its last 2 KiB (the last DELEs, QUIT).
	rand_below 4
	case $RAND in
	0)
		rand_below 4096
		tr_at=$RAND ;;
	1)
		rand_below 2112
		tr_at=$((SESSION_OCTETS - 2048 + RAND)) ;;
	*)
		rand_below $((SESSION_OCTETS + SESSION_OCTETS / 50 + 1))
		tr_at=$RAND ;;
	esac
	set -- "$1" "$2" -c "$tr_at"
	tr_what="cut at $tr_at"
	rand_below 2
	if [ "$RAND" -eq 1 ]; then
		set -- "$@" -r
		tr_what="$tr_what (reset)"
	fi
	rand_below 3
	if [ "$RAND" -eq 0 ]; then
		tr_ncut=2
		tr_what="$tr_what, every connection"
	else
		tr_ncut=1
		set -- "$@" -1
	fi
	tr_mode=$1
	shift 2
	proxy_start "$tr_logs/port" "$@"
	pf_config_new
	pf_rule_lists "$tr_acct"
	pf_account -P "$PROXY_PORT" "$tr_acct" "$tr_acct" off "$tr_mode"

	tr_run=0
	while [ "$tr_run" -lt "$tr_ncut" ]; do
		tr_run=$((tr_run + 1))
		cut_run "$tr_acct" "$tr_logs" "$tr_run"
		tr_what="$tr_what; run $tr_run: $PF_RC"
	done
	if [ "$tr_ncut" -eq 2 ]; then
		proxy_stop
		pf_config_new
		pf_rule_lists "$tr_acct"
		pf_account "$tr_acct" "$tr_acct" off "$tr_mode"
	fi

	# The clean run, through the proxy or straight to Dovecot.  After
	# a cut during QUIT's reply the server may still be expunging as
	# it starts and refuse a RETR or DELE of a message it is removing
	# (no loss: that message was stored before its DELE); a second
	# clean run must then succeed.
	tr_run=$((tr_run + 1))
	pf_run -v
	cp "$PF_ERR" "$tr_logs/run-$tr_run.err"
	if [ "$PF_RC" -ne 0 ]; then
		say "$tr_acct: clean run exit status $PF_RC:" \
		    "$(grep -v ' delivered as ' "$PF_ERR" | head -n 3)"
		reruns=$((reruns + 1))
		tr_run=$((tr_run + 1))
		pf_run -v
		cp "$PF_ERR" "$tr_logs/run-$tr_run.err"
		assert_rc 0 "$tr_acct: the second clean run"
	fi
	proxy_stop
	tr_cuts=$(grep -c '^conn [0-9]*: cut:' "$tr_logs/port.log" || :)
	cuts=$((cuts + tr_cuts))

	maildir_audit "$T/client/$tr_acct" "$T/orig.sums"
	tr_left=$(server_count "$tr_acct")
	lost=$((lost + AUDIT_LOST))
	dups=$((dups + AUDIT_DUP))
	bad=$((bad + AUDIT_BAD))
	tmpfiles=$((tmpfiles + AUDIT_TMP))
	if [ "$AUDIT_LOST$AUDIT_DUP$AUDIT_BAD$AUDIT_TMP" != 0000 ] ||
	    [ "$tr_left" -ne "$want_left" ]; then
		say "BAD TRIAL $tr_acct: $tr_what: lost $AUDIT_LOST," \
		    "duplicated $AUDIT_DUP, bad $AUDIT_BAD, tmp/ $AUDIT_TMP," \
		    "$tr_left left on the server (want $want_left)"
		[ "$AUDIT_DUP" -eq 0 ] || audit_explain_dups "$tr_acct" "$tr_logs"
		badtrials="$badtrials $tr_acct"
		[ "$tr_left" -eq "$want_left" ] || serverbad=$((serverbad + 1))
	else
		rm -rf "${T:?}/client/$tr_acct" "${T:?}/client/$tr_acct.lists" \
		    "$tr_logs"
	fi
	say "$tr_acct: $tr_what"
}

failed=0
report=
for mode in keep each batch; do
	case $mode in
	keep) want_left=80 ;;
	*) want_left=0 ;;
	esac
	calibrate "$mode"
	say "$mode: the server sends $SESSION_OCTETS octets in a whole session"
	cuts=0 rc0=0 rc75=0 rcother=0 rcbad='' lost=0 dups=0 bad=0 tmpfiles=0
	reruns=0 serverbad=0 badtrials=
	i=0
	while [ "$i" -lt "$CUT_TRIALS" ]; do
		i=$((i + 1))
		trial "$mode" "$i"
	done
	fault_strays
	line="$mode: $CUT_TRIALS trials, $cuts cuts; interrupted runs exit"
	line="$line 75: $rc75, 0: $rc0, other: $rcother; lost $lost,"
	line="$line duplicated $dups, partial or foreign $bad, wrong server"
	line="$line count $serverbad, files left in tmp/ $tmpfiles;"
	line="$line $reruns clean runs repeated"
	report="$report$line
"
	if [ -n "$badtrials" ]; then
		report="${report}$mode: bad trials:$badtrials
"
		failed=1
	fi
	if [ -n "$rcbad" ]; then
		report="${report}$mode: wrong exit status or DELE before stored:$rcbad
"
		failed=1
	fi
done

printf '%s' "$report" | while IFS= read -r line; do
	say "$line"
done
say "CUT_SEED=$CUT_SEED; $(($(now_ms) - cut_start)) ms in all"
[ "$failed" -eq 0 ] || fail "faults found (replay: CUT_SEED=$CUT_SEED)"
say "PASS"
