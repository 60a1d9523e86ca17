#!/bin/sh
# Promises 1 and 2 under crashes: popfetch is killed with SIGKILL at
# random moments of a fetch, then run again to completion.  Afterwards
# every original message must be in the client's Maildir exactly once,
# whole and byte for byte (one in five is filed by a rule into a Maildir
# given by path, which counts as the account's; pairs of messages share
# a unique-id, in different rounds); the server must keep
# all of them (keep) or none (each, batch); no file in new/ or cur/ may
# be partial; and no killed run's -v -v trace may show a DELE n before
# the line that says message n was stored.  Files a killed run left in
# tmp/ are counted and reported, not failed on.
#
# For each strategy, KILL_TRIALS trials (default 30), each on a fresh
# server mailbox, a fresh client Maildir and fresh state.  A trial kills
# one to three runs in turn, each after a delay drawn between 0 and a
# little more than the length of a whole run (measured first), and ends
# with a clean run.  The draws come from a generator seeded with
# KILL_SEED (printed; set it to replay them: the same connection kinds,
# kills per trial and delays as fractions of a whole run, though how far
# a run gets in that time depends on the machine).

# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/lib.sh"

KILL_TRIALS=${KILL_TRIALS:-30}
case $KILL_TRIALS in
'' | *[!0-9]*) fail "KILL_TRIALS must be a number" ;;
esac
KILL_SEED=$(fault_seed KILL_SEED)
say "KILL_SEED=$KILL_SEED KILL_TRIALS=$KILL_TRIALS"
rand_seed "$KILL_SEED"
fault_trap

kill_start=$(now_ms)
# Some messages share a unique-id (fault_mailbox).
DOVECOT_EXTRA_CONF=$DOVECOT_SHARED_UIDL
dovecot_start
mkdir "$T/logs"
fault_mailbox 80 31

# calibrate MODE: the length in milliseconds of a whole run (STLS, the
# slower kind) on a fresh mailbox, the longest of three, since the times
# vary on a shared machine.  The runs must of course succeed.
calibrate()
{
	CAL_MS=0
	for ca_k in 1 2 3; do
		ca_user=cal-$1-$ca_k
		user_add "$ca_user"
		mailbox_clone "$ca_user" template
		pf_config_new
		pf_rule_lists "$ca_user"
		pf_account "$ca_user" "$ca_user" starttls "$1"
		ca_t0=$(now_ms)
		pf_run -v -v
		ca_t1=$(now_ms)
		assert_rc 0 "$1: an uninterrupted run"
		assert_grep "$1: two messages listed under one unique-id" \
		    ': S: 47 shared-7$' "$PF_ERR"
		maildir_audit "$T/client/$ca_user" "$T/orig.sums"
		[ "$AUDIT_LOST$AUDIT_DUP$AUDIT_BAD$AUDIT_TMP" = 0000 ] ||
		    fail "$1: an uninterrupted run delivered the wrong messages"
		[ -n "$(find "$T/client/$ca_user.lists" -type f)" ] ||
		    fail "$1: the rule filed nothing into a Maildir by path"
		[ "$((ca_t1 - ca_t0))" -le "$CAL_MS" ] ||
		    CAL_MS=$((ca_t1 - ca_t0))
		rm -rf "${T:?}/client/$ca_user" "${T:?}/client/$ca_user.lists"
	done
}

# trial MODE N: one trial; adds to the counters of MODE.
trial()
{
	tr_mode=$1
	tr_acct=k-$1-$2
	tr_logs=$T/logs/$tr_acct
	mkdir "$tr_logs"
	rand_below 2
	if [ "$RAND" -eq 0 ]; then
		tr_tls=off
	else
		tr_tls=starttls
	fi
	user_add "$tr_acct"
	mailbox_clone "$tr_acct" template
	pf_config_new
	pf_rule_lists "$tr_acct"
	pf_account "$tr_acct" "$tr_acct" "$tr_tls" "$tr_mode"

	# One kill in most trials, two or three in some.
	rand_below 6
	case $RAND in
	0) tr_nkill=3 ;;
	1 | 2) tr_nkill=2 ;;
	*) tr_nkill=1 ;;
	esac
	tr_what=
	tr_run=0
	while [ "$tr_run" -lt "$tr_nkill" ]; do
		tr_run=$((tr_run + 1))
		# A fraction of a whole run, in thousandths, so that the
		# seed replays the same draws however fast the machine is.
		rand_below 1101
		tr_ms=$((RAND * cal_ms / 1000))
		pf_kill_after "$tr_ms" "$tr_logs/run-$tr_run" -v -v
		tr_early=$(dele_before_stored "$tr_acct" \
		    "$tr_logs/run-$tr_run.err")
		if [ -n "$tr_early" ]; then
			say "$tr_acct: run $tr_run sent DELE $tr_early before" \
			    "message $tr_early was stored"
			early=$((early + 1))
			badtrials="$badtrials $tr_acct"
		fi
		case $KILL_RC in
		137)
			tr_what="$tr_what killed@${tr_ms}ms"
			kills=$((kills + 1)) ;;
		0)
			tr_what="$tr_what done<${tr_ms}ms"
			unkilled=$((unkilled + 1)) ;;
		*)
			cat "$tr_logs/run-$tr_run.err" >&2
			fail "$tr_acct: run $tr_run (kill at $tr_ms ms)" \
			    "ended by itself with status $KILL_RC" ;;
		esac
	done

	# The clean run.  A run killed after QUIT may still be expunging
	# on the server while it starts, so the server may refuse a RETR or
	# DELE of a message it is removing (no loss: that message was
	# stored before its DELE); a second clean run must then succeed.
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

	maildir_audit "$T/client/$tr_acct" "$T/orig.sums"
	tr_left=$(server_count "$tr_acct")
	lost=$((lost + AUDIT_LOST))
	dups=$((dups + AUDIT_DUP))
	bad=$((bad + AUDIT_BAD))
	tmpfiles=$((tmpfiles + AUDIT_TMP))
	if [ "$AUDIT_LOST$AUDIT_DUP$AUDIT_BAD" != 000 ] ||
	    [ "$tr_left" -ne "$want_left" ]; then
		say "BAD TRIAL $tr_acct (tls = $tr_tls):$tr_what:" \
		    "lost $AUDIT_LOST, duplicated $AUDIT_DUP, bad $AUDIT_BAD," \
		    "$tr_left left on the server (want $want_left)"
		[ "$AUDIT_DUP" -eq 0 ] || audit_explain_dups "$tr_acct" "$tr_logs"
		badtrials="$badtrials $tr_acct"
		[ "$tr_left" -eq "$want_left" ] || serverbad=$((serverbad + 1))
	else
		# Room for the next trials: the evidence is not needed.
		rm -rf "${T:?}/client/$tr_acct" "${T:?}/client/$tr_acct.lists" \
		    "$tr_logs"
	fi
	say "$tr_acct (tls = $tr_tls):$tr_what; tmp/ $AUDIT_TMP"
}

failed=0
report=
for mode in keep each batch; do
	case $mode in
	keep) want_left=80 ;;
	*) want_left=0 ;;
	esac
	calibrate "$mode"
	cal_ms=$CAL_MS
	say "$mode: a whole run takes $cal_ms ms"
	kills=0 unkilled=0 lost=0 dups=0 bad=0 tmpfiles=0 reruns=0 early=0
	serverbad=0 badtrials=
	i=0
	while [ "$i" -lt "$KILL_TRIALS" ]; do
		i=$((i + 1))
		trial "$mode" "$i"
	done
	fault_strays
	line="$mode: $KILL_TRIALS trials, $kills kills ($unkilled runs ended"
	line="$line before their kill), lost $lost, duplicated $dups,"
	line="$line partial or foreign $bad, wrong server count $serverbad,"
	line="$line DELE before stored $early;"
	line="$line $tmpfiles files left in tmp/; $reruns clean runs repeated"
	report="$report$line
"
	if [ -n "$badtrials" ]; then
		report="${report}$mode: bad trials:$badtrials
"
		failed=1
	fi
done

printf '%s' "$report" | while IFS= read -r line; do
	say "$line"
done
say "KILL_SEED=$KILL_SEED; $(($(now_ms) - kill_start)) ms in all"
[ "$failed" -eq 0 ] ||
    fail "messages lost, duplicated or damaged (replay: KILL_SEED=$KILL_SEED)"
say "PASS"
