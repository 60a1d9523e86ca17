#!/bin/sh
# The order of commands on the wire for each delete strategy, as
# popfetch's -v -v trace shows it and as Dovecot received it: the order
# is the specification.
#   each  (Foxmail): RETR 1, DELE 1, RETR 2, DELE 2, ..., QUIT
#   batch (Outlook): RETR 1, RETR 2, ..., DELE 1, DELE 2, ..., QUIT
#   keep:            RETR 1, RETR 2, ..., QUIT
# For 70 messages (more than a round of group commit) and for 3 (the
# table people compare clients by); and under each with rules decided
# from TOP, where a discarded message is deleted in its place without a
# RETR and a skipped one gets nothing.  The delivery invariant allows
# DELE n only after message n is stored.  Dovecot announces PIPELINING:
# batch and keep send RETRs ahead of their replies, each sends DELE n
# with RETR n+1.  The trace must mask the password, and the password
# must appear nowhere in popfetch's output.

# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/lib.sh"

# Dovecot's rawlog keeps what each session sent after login.
DOVECOT_RAWLOG=yes
dovecot_start

# cmds VERB FROM TO: "VERB FROM" ... "VERB TO", a line each.
cmds()
{
	awk -v v="$1" -v a="$2" -v b="$3" \
	    'BEGIN { for (i = a; i <= b; i++) print v " " i }'
}

# expected MODE N: the commands from the first RETR on.
expected()
{
	case $1 in
	each)
		awk -v n="$2" \
		    'BEGIN { for (i = 1; i <= n; i++) print "RETR " i "\nDELE " i }' ;;
	batch)
		cmds RETR 1 "$2"
		cmds DELE 1 "$2" ;;
	keep)
		cmds RETR 1 "$2" ;;
	esac
	echo QUIT
}

# from_first_retr FILE: the commands from the first RETR on.
from_first_retr()
{
	tr -d '\r' <"$1" | awk '/^RETR / { p = 1 } p'
}

# new_user USER MBOX: a user with a rawlog directory, seeded from MBOX.
new_user()
{
	user_add "$1"
	mkdir "$T/srv/$1/dovecot.rawlog"
	chown "$MAIL_UID:$MAIL_GID" "$T/srv/$1/dovecot.rawlog"
	seed "$1" "$2"
}

# server_cmds USER ACCT OUT: what Dovecot received from the first RETR
# on, into OUT, once its session has ended.
server_cmds()
{
	log_wait "pop3\\($1\\)<.*Disconnected: Logged out" 1
	set -- "$1" "$2" "$3" "$T/srv/$1"/dovecot.rawlog/*.in
	if [ $# -ne 4 ] || [ ! -f "$4" ]; then
		fail "$2: expected one Dovecot rawlog of the session"
	fi
	from_first_retr "$4" >"$3"
}

# client_cmds ACCT OUT: the commands of popfetch's -v -v trace from the
# first RETR on, into OUT.
client_cmds()
{
	sed -n "s/^popfetch: $1: C: //p" "$PF_ERR" >"$2.all"
	[ -s "$2.all" ] || fail "$1: no 'C:' lines in the -v -v trace"
	from_first_retr "$2.all" >"$2"
}

# same WHAT EXPECTED GOT
same()
{
	if ! cmp -s "$2" "$3"; then
		diff "$2" "$3" >&2 || :
		fail "$1"
	fi
}

N=70
gen_mail "$T/orig/mbox" -n $N -s 4
for mode in each batch keep; do
	user=w-$mode
	acct=wire-$mode
	new_user "$user" "$T/orig/mbox"
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
	expected "$mode" $N >"$T/expect.$mode"
	client_cmds "$acct" "$T/cmds.$mode"
	same "$acct: commands after login in the trace are not as expected" \
	    "$T/expect.$mode" "$T/cmds.$mode"
	assert_grep "$acct: trace" "^popfetch: $acct: S: \\+OK" "$PF_ERR"
	retr2_at=$(grep -n ": C: RETR 2\$" "$PF_ERR" | cut -d : -f 1)
	reply1_at=$(awk '/: C: RETR 1$/ { p = 1 } p && /: S: / { print NR; exit }' \
	    "$PF_ERR")
	if [ -z "$retr2_at" ] || [ -z "$reply1_at" ]; then
		fail "$acct: no RETR 2 or no reply to RETR 1 in the trace"
	fi
	if [ "$mode" = each ]; then
		# Message by message: RETR 2 only after RETR 1 was answered
		# and message 1 stored; DELE 1 and RETR 2 in one write.
		[ "$retr2_at" -gt "$reply1_at" ] ||
		    fail "$acct: RETR 2 went out before message 1 came"
		early=$(dele_before_stored "$acct" "$PF_ERR")
		[ -z "$early" ] ||
		    fail "$acct: DELE $early went out before message $early was stored"
		grep -n ": C: \\(DELE 1\\|RETR 2\\)\$" "$PF_ERR" |
		    cut -d : -f 1 >"$T/pair"
		assert_eq "$acct: DELE 1 and RETR 2 sent together" \
		    "$(($(sed -n 2p "$T/pair") - $(sed -n 1p "$T/pair")))" 1
	elif [ "$retr2_at" -ge "$reply1_at" ]; then
		fail "$acct: RETR 2 was not sent before RETR 1's reply (no pipelining)"
	fi
	assert_grep "$acct: trace" '^STLS$' "$T/cmds.$mode.all"
	assert_grep "$acct: trace" "^USER $user\$" "$T/cmds.$mode.all"
	assert_grep "$acct: trace" '^PASS \*\*\*\*$' "$T/cmds.$mode.all"
	# STLS before USER: credentials only over TLS.
	stls_at=$(grep -n '^STLS$' "$T/cmds.$mode.all" | head -n 1 | cut -d : -f 1)
	user_at=$(grep -n '^USER ' "$T/cmds.$mode.all" | head -n 1 | cut -d : -f 1)
	[ "$stls_at" -lt "$user_at" ] || fail "$acct: USER sent before STLS"
	for f in "$PF_OUT" "$PF_ERR"; do
		if grep -qF -- "$PF_PASSWORD" "$f"; then
			fail "$acct: the password appears in popfetch's ${f##*/}"
		fi
	done

	# Dovecot's account of it: the commands it received after login,
	# the expunges it logged and its count at logout.
	server_cmds "$user" "$acct" "$T/server.$mode"
	same "$acct: Dovecot did not receive the expected commands" \
	    "$T/expect.$mode" "$T/server.$mode"
	assert_eq "$acct: expunges in Dovecot's log" \
	    "$(log_count "pop3\\($user\\)<.*expunge: box=INBOX, uid=[0-9]+,")" \
	    "$deleted"
	assert_grep "$acct: Dovecot's logout line" \
	    "pop3\\($user\\)<.*Logged out .* retr=$N/[0-9]+, del=$deleted/$N," \
	    "$T/dovecot/dovecot.log"
	say "$acct: the order on the wire is right"
done

# Three messages: the two clients side by side, exactly.
gen_mail "$T/orig/three" -n 3 -s 5
for mode in each batch; do
	user=t-$mode
	acct=three-$mode
	new_user "$user" "$T/orig/three"
	pf_config_new
	pf_account "$acct" "$user" on "$mode"
	pf_run -v -v
	assert_rc 0 "$acct"
	maildir_check "$acct" "$T/client/$acct" "$T/orig/three"
	expected "$mode" 3 >"$T/expect.3$mode"
	server_cmds "$user" "$acct" "$T/server.3$mode"
	same "$acct: Dovecot did not receive the expected commands" \
	    "$T/expect.3$mode" "$T/server.3$mode"
	assert_eq "$acct: messages left on the server" \
	    "$(server_count "$user")" 0
done
printf 'RETR 1\nDELE 1\nRETR 2\nDELE 2\nRETR 3\nDELE 3\nQUIT\n' \
    >"$T/foxmail"
same "each is not Foxmail's order" "$T/foxmail" "$T/server.3each"
printf 'RETR 1\nRETR 2\nRETR 3\nDELE 1\nDELE 2\nDELE 3\nQUIT\n' \
    >"$T/outlook"
same "batch is not Outlook's order" "$T/outlook" "$T/server.3batch"
say "three messages: Foxmail's order and Outlook's"

# each with rules decided from TOP: 2 is discarded (DELE 2 in its
# place, never retrieved), 4 is skipped (nothing: it stays).
mkdir -p "$T/orig/ruled"
for i in 1 2 3 4 5; do
	{
		printf 'From: a%s@example.org\nTo: me@example.net\n' "$i"
		printf 'Subject: message %s\n' "$i"
		[ "$i" != 2 ] || printf 'X-Spam-Flag: YES\n'
		[ "$i" != 4 ] || printf 'X-Leave: yes\n'
		printf 'Message-ID: <ruled-%s@example.org>\n\nbody %s\n' "$i" "$i"
	} >"$T/orig/ruled/$i"
done
user=w-rules
acct=wire-rules
new_user "$user" "$T/orig/ruled"
pf_config_new
cat >>"$PF_CONF" <<'CONF'
rule "spam" {
	exists = {"X-Spam-Flag"}
	discard = yes
}
rule "leave" {
	exists = {"X-Leave"}
	skip = yes
}
CONF
pf_account "$acct" "$user" on each
pf_run -v -v
assert_rc 0 "$acct"
printf 'RETR 1\nDELE 1\nDELE 2\nRETR 3\nDELE 3\nRETR 5\nDELE 5\nQUIT\n' \
    >"$T/expect.rules"
client_cmds "$acct" "$T/cmds.rules"
same "$acct: the trace is not as expected" "$T/expect.rules" "$T/cmds.rules"
server_cmds "$user" "$acct" "$T/server.rules"
same "$acct: Dovecot did not receive the expected commands" \
    "$T/expect.rules" "$T/server.rules"
assert_eq "$acct: messages left on the server" "$(server_count "$user")" 1
assert_eq "$acct: messages stored" \
    "$(find "$T/client/$acct/new" -type f | wc -l | tr -d ' ')" 3
say "$acct: a discarded message is deleted in its place, a skipped one left"

say "PASS: wire order of each, batch and keep"
