#!/bin/sh
# The order of commands on the wire for each delete strategy, as
# popfetch's -v -v trace shows it and as Dovecot received it.  The
# delivery invariant allows DELE n only after message n is stored.
# Messages are made durable in rounds of 64 (group commit): each deletes
# a round's messages right after the round, batch after all of them,
# keep never.  Dovecot announces PIPELINING, so a round's commands go out
# before their replies come.  The trace must mask the password, and the
# password must appear nowhere in popfetch's output.

# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/lib.sh"

# Dovecot's rawlog keeps what each session sent after login.
DOVECOT_RAWLOG=yes
dovecot_start
N=70
gen_mail "$T/orig/mbox" -n $N -s 4

# cmds VERB FROM TO: "VERB FROM" ... "VERB TO", a line each.
cmds()
{
	awk -v v="$1" -v a="$2" -v b="$3" \
	    'BEGIN { for (i = a; i <= b; i++) print v " " i }'
}

# expected MODE: the commands from the first RETR on.
expected()
{
	case $1 in
	each)
		cmds RETR 1 64
		cmds DELE 1 64
		cmds RETR 65 $N
		cmds DELE 65 $N ;;
	batch)
		cmds RETR 1 $N
		cmds DELE 1 $N ;;
	keep)
		cmds RETR 1 $N ;;
	esac
	echo QUIT
}

# from_first_retr FILE: the commands from the first RETR on.
from_first_retr()
{
	tr -d '\r' <"$1" | awk '/^RETR / { p = 1 } p'
}

for mode in each batch keep; do
	user=w-$mode
	acct=wire-$mode
	user_add "$user"
	mkdir "$T/srv/$user/dovecot.rawlog"
	chown "$MAIL_UID:$MAIL_GID" "$T/srv/$user/dovecot.rawlog"
	seed "$user" "$T/orig/mbox"
	pf_config_new
	pf_account -x "auth = user" "$acct" "$user" starttls "$mode"

	pf_run -v -v
	assert_rc 0 "$acct"
	case $mode in
	keep) deleted=0 left=$N ;;
	*) deleted=$N left=0 ;;
	esac
	assert_summary "$acct" "$acct" $N $N "$deleted"
	maildir_check "$acct" "$T/client/$acct" "$T/orig/mbox"
	assert_eq "$acct: messages left on the server" \
	    "$(server_count "$user")" "$left"

	# The client's account of it.
	sed -n "s/^popfetch: $acct: C: //p" "$PF_ERR" >"$T/trace.$mode"
	[ -s "$T/trace.$mode" ] || fail "$acct: no 'C:' lines in the -v -v trace"
	from_first_retr "$T/trace.$mode" >"$T/cmds.$mode"
	expected "$mode" >"$T/expect.$mode"
	if ! cmp -s "$T/expect.$mode" "$T/cmds.$mode"; then
		diff "$T/expect.$mode" "$T/cmds.$mode" >&2 || :
		fail "$acct: commands after login in the trace are not as expected"
	fi
	assert_grep "$acct: trace" "^popfetch: $acct: S: \\+OK" "$PF_ERR"
	# Pipelined: RETR 2 went out before the reply to RETR 1 came.
	retr2_at=$(grep -n ": C: RETR 2\$" "$PF_ERR" | cut -d : -f 1)
	reply1_at=$(awk '/: C: RETR 1$/ { p = 1 } p && /: S: / { print NR; exit }' \
	    "$PF_ERR")
	if [ -z "$retr2_at" ] || [ -z "$reply1_at" ] ||
	    [ "$retr2_at" -ge "$reply1_at" ]; then
		fail "$acct: RETR 2 was not sent before RETR 1's reply (no pipelining)"
	fi
	assert_grep "$acct: trace" '^STLS$' "$T/trace.$mode"
	assert_grep "$acct: trace" "^USER $user\$" "$T/trace.$mode"
	assert_grep "$acct: trace" '^PASS \*\*\*\*$' "$T/trace.$mode"
	# STLS before USER: credentials only over TLS.
	stls_at=$(grep -n '^STLS$' "$T/trace.$mode" | head -n 1 | cut -d : -f 1)
	user_at=$(grep -n '^USER ' "$T/trace.$mode" | head -n 1 | cut -d : -f 1)
	[ "$stls_at" -lt "$user_at" ] || fail "$acct: USER sent before STLS"
	for f in "$PF_OUT" "$PF_ERR"; do
		if grep -qF -- "$PF_PASSWORD" "$f"; then
			fail "$acct: the password appears in popfetch's ${f##*/}"
		fi
	done
	if [ "$mode" = keep ]; then
		assert_no_grep "$acct: trace" '^DELE' "$T/trace.$mode"
	fi

	# Dovecot's account of it: the commands it received after login,
	# the expunges it logged and its count at logout.
	log_wait "pop3\\($user\\)<.*Disconnected: Logged out" 1
	set -- "$T/srv/$user"/dovecot.rawlog/*.in
	if [ $# -ne 1 ] || [ ! -f "$1" ]; then
		fail "$acct: expected one Dovecot rawlog of the session"
	fi
	from_first_retr "$1" >"$T/server.$mode"
	if ! cmp -s "$T/expect.$mode" "$T/server.$mode"; then
		diff "$T/expect.$mode" "$T/server.$mode" >&2 || :
		fail "$acct: Dovecot did not receive the expected commands"
	fi
	assert_eq "$acct: expunges in Dovecot's log" \
	    "$(log_count "pop3\\($user\\)<.*expunge: box=INBOX, uid=[0-9]+,")" \
	    "$deleted"
	assert_grep "$acct: Dovecot's logout line" \
	    "pop3\\($user\\)<.*Logged out .* retr=$N/[0-9]+, del=$deleted/$N," \
	    "$T/dovecot/dovecot.log"
	say "$acct: the order on the wire is right"
done
say "PASS: wire order of each, batch and keep"
