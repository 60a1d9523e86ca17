# shellcheck shell=sh
# The interoperability suite's harness, sourced after tests/integ/lib.sh
# by every test of tests/interop/.  One mailbox of seven messages (see
# interop_mailbox) goes through keep, each and batch over every TLS mode
# a server supports (interop_case); each test says how its server is
# started, seeded, counted and how it changes what it stores.
#
# A test defines, before calling interop_case:
#	srv_seed USER         a fresh mailbox holding $T/orig/box, as if
#	                      no client had ever opened it
#	srv_count USER        the messages the server still stores
#	srv_idle              return once the last session has ended on
#	                      the server's side (its mailbox is written)
#	srv_wire USER OUT     the commands the server received from the
#	                      first RETR on, if it keeps a record; else
#	                      nothing (and OUT is not written)
# and may set:
#	INTEROP_STRIP=REGEX   header fields the server adds to what it
#	                      stores (an extended regex on the field name);
#	                      byte-exact then means: equal once those
#	                      fields are taken out of the header section
#	INTEROP_GROWS=yes     the server changes a message's size after the
#	                      first session (GNU mailutils): the later keep
#	                      runs must still fetch nothing, popfetch knowing
#	                      the message by its unique-id and header

# shellcheck disable=SC2154 # set by tests/integ/lib.sh
INETD_LOOP=$top_srcdir/tests/tools/inetd-loop.py
INTEROP_N=7
INTEROP_STRIP=
INTEROP_GROWS=no
INTEROP_LOOPS=
INTEROP_USERS=
INTEROP_REMOVE=

interop_cleanup()
{
	ic_rc=$?
	set +e
	for ic_pid in $INTEROP_LOOPS; do
		kill "$ic_pid" 2>/dev/null
		wait "$ic_pid" 2>/dev/null
	done
	# -f: a server's session that outlives a failed test must not
	# keep its user.
	for ic_user in $INTEROP_USERS; do
		userdel -f "$ic_user" 2>/dev/null ||
		    say "could not remove the system user $ic_user"
	done
	for ic_path in $INTEROP_REMOVE; do
		rm -rf -- "$ic_path"
	done
	interop_status "$ic_rc"
	lib_cleanup
}

interop_status()
{
	return "$1"
}

trap interop_cleanup EXIT

# interop_need_root WHY: the test makes system users (the servers
# authenticate them with the system's password database).
interop_need_root()
{
	[ "$(id -u)" -eq 0 ] || skip "not root: $*"
	for inr_c in useradd userdel chpasswd python3; do
		command -v "$inr_c" >/dev/null 2>&1 ||
		    skip "$inr_c is not installed"
	done
}

# sys_user_add: a throwaway system user with password $PF_PASSWORD,
# removed at the end; its name is SYS_USER.
sys_user_add()
{
	SYS_USER=pfi$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
	useradd -M -d /nonexistent -s /usr/sbin/nologin "$SYS_USER" ||
	    fail "useradd $SYS_USER failed"
	INTEROP_USERS="$INTEROP_USERS $SYS_USER"
	printf '%s:%s\n' "$SYS_USER" "$PF_PASSWORD" | chpasswd ||
	    fail "chpasswd for $SYS_USER failed"
}

# inetd_start NAME PROGRAM ARGS...: serve PROGRAM inetd-style on a port
# of 127.0.0.1 (tests/tools/inetd-loop.py), in $T/NAME; its stderr goes
# to $T/NAME/log.  Sets INETD_PORT and INETD_PID.
inetd_start()
{
	is_dir=$T/$1
	shift
	mkdir -p "$is_dir"
	python3 "$INETD_LOOP" "$is_dir/port" "$is_dir/log" "$@" \
	    >"$is_dir/loop.log" 2>&1 &
	INETD_PID=$!
	INTEROP_LOOPS="$INTEROP_LOOPS $INETD_PID"
	is_n=0
	while [ ! -s "$is_dir/port" ]; do
		is_n=$((is_n + 1))
		if [ "$is_n" -ge 100 ] || ! kill -0 "$INETD_PID" 2>/dev/null
		then
			cat "$is_dir/loop.log" >&2
			fail "inetd-loop for $1 did not start"
		fi
		sleep 0.1
	done
	# shellcheck disable=SC2034 # for the tests that source this file
	INETD_PORT=$(cat "$is_dir/port")
}

# inetd_idle: wait (at most 20 seconds) until no server started by one
# of our loops runs any more.
inetd_idle()
{
	ii_n=0
	while :; do
		ii_busy=
		for ii_stat in /proc/[0-9]*/stat; do
			# Field 4 is the parent's pid; a command name with
			# spaces shifts it, but ours have none.
			{ read -r _ _ _ ii_pp _ <"$ii_stat"; } 2>/dev/null ||
			    continue
			case " $INTEROP_LOOPS " in
			*" $ii_pp "*) ii_busy=yes; break ;;
			esac
		done
		[ -n "$ii_busy" ] || return 0
		ii_n=$((ii_n + 1))
		[ "$ii_n" -lt 200 ] || fail "a server session did not end"
		sleep 0.1
	done
}

# interop_mailbox DIR: the suite's seven messages, a file each, LF line
# endings: plain ASCII, body lines starting with ".", an 8-bit UTF-8
# body, RFC 2047 encoded words in Subject and From, a 5 MiB base64
# attachment, a header line of 20,000 octets, and one without
# Message-ID.  None holds a line starting with "From " (an mbox server
# would quote it) or a field that a server adds (X-UIDL, Status, ...).
interop_mailbox()
{
	mkdir -p "$1"
	im_head()
	{
		printf 'From: %s\nTo: Bob Example <bob@example.net>\n' "$1"
		printf 'Subject: %s\nDate: Sat, 03 Jan 2026 10:00:0%s +0000\n' \
		    "$2" "$3"
	}
	{
		im_head 'Alice Example <alice@example.org>' 'plain ASCII' 1
		printf 'Message-ID: <interop-1@example.org>\n\n'
		printf 'A plain ASCII message.\nIt has two lines.\n'
	} >"$1/m1-ascii"
	{
		im_head 'Alice Example <alice@example.org>' 'dots' 2
		printf 'Message-ID: <interop-2@example.org>\n\n'
		printf 'The next lines start with dots.\n.\n..\n...\n'
		printf '.hidden\n. a dot and a space\n.\n\nThe end.\n'
	} >"$1/m2-dots"
	{
		im_head 'Alice Example <alice@example.org>' 'UTF-8 body' 3
		printf 'Message-ID: <interop-3@example.org>\n'
		printf 'MIME-Version: 1.0\n'
		printf 'Content-Type: text/plain; charset=UTF-8\n'
		printf 'Content-Transfer-Encoding: 8bit\n\n'
		# Gruesse aus Koeln, Greek, Japanese and a mailbox emoji.
		printf 'Gr\303\274\303\237e aus K\303\266ln.\n'
		printf '\316\232\316\261\316\273\316\267\316\274\316\255\317\201\316\261.\n'
		printf '\346\227\245\346\234\254\350\252\236\343\201\256\346\226\207.\n'
		printf '\360\237\223\254\n'
	} >"$1/m3-utf8"
	{
		im_head '=?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <jm@example.org>' \
		    '=?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=' 4
		printf ' =?ISO-8859-1?Q?caf=E9?= and =?UTF-8?Q?na=C3=AFve?=\n'
		printf 'Message-ID: <interop-4@example.org>\n\n'
		printf 'Subject and From in RFC 2047 encoded words.\n'
	} >"$1/m4-rfc2047"
	{
		im_head 'Alice Example <alice@example.org>' '5 MiB attachment' 5
		printf 'Message-ID: <interop-5@example.org>\n'
		printf 'MIME-Version: 1.0\n'
		printf 'Content-Type: multipart/mixed; boundary="b-interop"\n\n'
		printf -- '--b-interop\nContent-Type: text/plain\n\nSee the'
		printf ' attachment.\n\n--b-interop\n'
		printf 'Content-Type: application/octet-stream\n'
		printf 'Content-Transfer-Encoding: base64\n'
		printf 'Content-Disposition: attachment; filename="big.bin"\n\n'
		# 5 MiB of base64 text, 76 columns.
		head -c 3932160 /dev/urandom | base64 -w 76
		printf -- '--b-interop--\n'
	} >"$1/m5-big"
	{
		im_head 'Alice Example <alice@example.org>' 'long header' 6
		printf 'Message-ID: <interop-6@example.org>\n'
		# One header line of 20,000 octets, its LF not counted.
		awk 'BEGIN {
			s = "X-Long:"
			while (length(s) < 20000)
				s = s " long-header-value"
			print substr(s, 1, 20000)
		}'
		printf '\nA header line of 20,000 octets above.\n'
	} >"$1/m6-long-header"
	{
		im_head 'Alice Example <alice@example.org>' 'no Message-ID' 7
		printf '\nThis message has no Message-ID.\n'
	} >"$1/m7-no-message-id"
	[ "$(find "$1" -type f | wc -l)" -eq "$INTEROP_N" ] ||
	    fail "interop_mailbox: not $INTEROP_N messages"
	[ "$(awk 'length($0) == 20000' "$1/m6-long-header" | wc -l)" -eq 1 ] ||
	    fail "interop_mailbox: no header line of 20,000 octets"
	if grep -l -E '^(From |X-UIDL:|X-UID:|X-IMAPbase:|X-Status:|Status:)' \
	    "$1"/*; then
		fail "interop_mailbox: a message an mbox server would change"
	fi
}

# mbox_write FILE DIR: the messages of DIR as one mbox, in name order.
mbox_write()
{
	for mw_f in "$2"/*; do
		printf 'From interop@example.org Sat Jan  3 10:00:00 2026\n'
		cat "$mw_f"
		printf '\n'
	done >"$1"
}

# mbox_count FILE: the messages of an mbox (0 if it does not exist).
mbox_count()
{
	if [ -f "$1" ]; then
		grep -c '^From ' "$1" || :
	else
		echo 0
	fi
}

# strip_fields REGEX IN OUT: IN without the header fields whose names
# match REGEX (single-line fields, in the header section only).
strip_fields()
{
	awk -v re="^($1):" '
	    hdr && $0 == "" { hdr = 0 }
	    hdr && $0 ~ re { next }
	    { print }' hdr=1 "$2" >"$3"
}

# interop_check WHAT MAILDIR UNIQUE: MAILDIR/new holds the seven
# messages byte for byte as the server stores them, nothing is left in
# tmp/, and each name ends in ,S=<size>.  With INTEROP_STRIP, the fields
# it names are taken out first, and each copy must have had an X-UIDL
# field (which the server added).  UNIQUE=yes compares the set of
# messages rather than the multiset.
interop_check()
{
	ic_what=$1
	ic_md=$2
	if [ -z "$INTEROP_STRIP" ] && [ "$3" = no ]; then
		maildir_check "$ic_what" "$ic_md" "$T/orig/box"
		return 0
	fi
	# The Maildir's form alone (tmp/ empty, names and sizes): compared
	# with itself, its contents always match.
	maildir_check "$ic_what" "$ic_md" "$ic_md/new"
	rm -rf "$T/norm"
	mkdir "$T/norm"
	for ic_f in "$ic_md"/new/*; do
		[ -f "$ic_f" ] || continue
		if [ -n "$INTEROP_STRIP" ]; then
			grep -q '^X-UIDL: ' "$ic_f" ||
			    fail "$ic_what: ${ic_f##*/} has no X-UIDL field"
			strip_fields "$INTEROP_STRIP" "$ic_f" \
			    "$T/norm/${ic_f##*/}"
		else
			cp "$ic_f" "$T/norm/"
		fi
	done
	sums "$T/orig/box" >"$T/sums.want"
	if [ "$3" = yes ]; then
		sums "$T/norm" | uniq >"$T/sums.got"
	else
		sums "$T/norm" >"$T/sums.got"
	fi
	if ! cmp -s "$T/sums.want" "$T/sums.got"; then
		diff "$T/sums.want" "$T/sums.got" >&2 || :
		fail "$ic_what: $ic_md/new differs from the mailbox"
	fi
}

# expected_cmds MODE: the commands from the first RETR on, for the seven
# messages: the specification of keep, each and batch.
expected_cmds()
{
	awk -v m="$1" -v n="$INTEROP_N" 'BEGIN {
		for (i = 1; i <= n; i++)
			print "RETR " i (m == "each" ? "\nDELE " i : "")
		if (m == "batch")
			for (i = 1; i <= n; i++)
				print "DELE " i
		print "QUIT"
	}'
}

# after_first_retr: the lines of stdin from the first RETR on.
after_first_retr()
{
	awk '/^RETR / { p = 1 } p'
}

# trace_cmds ACCT OUT: the commands of popfetch's -v -v trace (in
# $PF_ERR) from the first RETR on.
trace_cmds()
{
	sed -n "s/^popfetch: $1: C: //p" "$PF_ERR" | tr -d '\r' |
	    after_first_retr >"$2"
}

# same_cmds WHAT WANT GOT
same_cmds()
{
	if ! cmp -s "$2" "$3"; then
		diff "$2" "$3" >&2 || :
		fail "$1"
	fi
}

# interop_case ACCT USER PORT TLS MODE: a fresh mailbox of USER, fetched
# by popfetch as its first client over TLS (on, starttls, off) with
# delete = MODE; then two more runs, which must fetch nothing.
interop_case()
{
	ca_acct=$1
	ca_user=$2
	ca_mode=$5
	ca_md=$T/client/$ca_acct
	case $ca_mode in
	keep) ca_del=0 ca_left=$INTEROP_N ;;
	*) ca_del=$INTEROP_N ca_left=0 ;;
	esac
	say "$ca_acct: $ca_mode over tls = $4"
	srv_idle
	srv_seed "$ca_user"
	pf_config_new
	pf_account -P "$3" "$ca_acct" "$ca_user" "$4" "$ca_mode"

	pf_run -v -v
	assert_rc 0 "$ca_acct, first run"
	assert_summary "$ca_acct, first run" "$ca_acct" "$INTEROP_N" \
	    "$INTEROP_N" "$ca_del"
	interop_check "$ca_acct, first run" "$ca_md" no
	expected_cmds "$ca_mode" >"$T/want.cmds"
	trace_cmds "$ca_acct" "$T/trace.cmds"
	same_cmds "$ca_acct: popfetch's trace is not delete = $ca_mode's order" \
	    "$T/want.cmds" "$T/trace.cmds"
	ca_early=$(dele_before_stored "$ca_acct" "$PF_ERR")
	[ -z "$ca_early" ] || fail "$ca_acct: DELE $ca_early went out before" \
	    "message $ca_early was stored"
	assert_no_grep "$ca_acct: trace" "$PF_PASSWORD" "$PF_ERR"
	srv_idle
	rm -f "$T/server.cmds"
	srv_wire "$ca_user" "$T/server.cmds"
	if [ -f "$T/server.cmds" ]; then
		same_cmds "$ca_acct: the server's record is not $ca_mode's order" \
		    "$T/want.cmds" "$T/server.cmds"
	fi
	assert_eq "$ca_acct: messages left on the server" \
	    "$(srv_count "$ca_user")" "$ca_left"

	for ca_run in second third; do
		pf_run -v -v
		assert_rc 0 "$ca_acct, $ca_run run"
		assert_summary "$ca_acct, $ca_run run" "$ca_acct" \
		    "$ca_left" 0 0
		assert_no_grep "$ca_acct, $ca_run run: trace" \
		    ": C: (RETR|DELE) " "$PF_ERR"
		if [ "$ca_run" = second ] && [ "$ca_mode" = keep ] &&
		    [ "$INTEROP_GROWS" = yes ]; then
			assert_grep "$ca_acct, second run: the sizes changed" \
			    "changed its size from" "$PF_ERR"
		fi
		interop_check "$ca_acct, $ca_run run" "$ca_md" no
		srv_idle
		assert_eq "$ca_acct, $ca_run run: messages on the server" \
		    "$(srv_count "$ca_user")" "$ca_left"
	done
}

# interop_done: the last line of a test.
interop_done()
{
	say "PASS: $*"
}
