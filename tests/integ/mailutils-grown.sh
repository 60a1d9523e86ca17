#!/bin/sh
# GNU mailutils' pop3d writes X-UID and Status fields into a mailbox
# after the first session, so the next LIST gives each message a larger
# size under the same unique-id.  With popfetch as the first client of a
# fresh mbox: keep stores every message once, and each later deletes
# them without storing them again.
#
# The server runs inetd-style under a small accept loop on 127.0.0.1,
# and logs in system users: the test makes a throwaway user with a
# password (so it needs root) and removes it when done.

LIB_NEED_DOVECOT=no
# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/lib.sh"

MU_POP3D=/usr/sbin/pop3d
MU_USER=
MU_DIR=
MU_LOOP_PID=

if [ "$(id -u)" -ne 0 ]; then
	# Not a missing package: this one cannot run without root anywhere.
	say "SKIP: not root: creating a system user for GNU mailutils' pop3d" \
	    "needs root"
	exit 77
fi
[ -x "$MU_POP3D" ] ||
    skip "GNU mailutils' pop3d is not installed (Debian: mailutils-pop3d)"
command -v python3 >/dev/null 2>&1 || skip "python3 is not installed"
command -v useradd >/dev/null 2>&1 || skip "useradd is not installed"

mu_cleanup()
{
	mu_rc=$?
	set +e
	if [ -n "$MU_LOOP_PID" ]; then
		kill "$MU_LOOP_PID" 2>/dev/null
		wait "$MU_LOOP_PID" 2>/dev/null
	fi
	if [ -n "$MU_USER" ]; then
		userdel "$MU_USER" 2>/dev/null
	fi
	if [ -n "$MU_DIR" ]; then
		rm -rf "$MU_DIR"
	fi
	fault_status "$mu_rc"
	lib_cleanup
}
trap mu_cleanup EXIT

# The user and its mbox, in a directory of its own that pop3d (running
# as the user) can reach and lock in.
MU_USER=pfmu$$
useradd -M -d /nonexistent -s /usr/sbin/nologin "$MU_USER" ||
    fail "useradd $MU_USER"
printf '%s:%s\n' "$MU_USER" "$PF_PASSWORD" | chpasswd ||
    fail "chpasswd $MU_USER"
MU_DIR=$(mktemp -d /tmp/popfetch-mu.XXXXXX)
chmod 0755 "$MU_DIR"
mkdir "$MU_DIR/mail"
chown "$MU_USER" "$MU_DIR/mail"
cat >"$MU_DIR/pop3d.conf" <<CONF
auth { authentication system; authorization system; };
mailbox { mailbox-pattern "$MU_DIR/mail/\${user}"; };
CONF

# mbox N...: append messages N... to the user's mbox.
mbox()
{
	for mb_n; do
		printf 'From alice@example.org Mon Jan  1 10:00:00 2024\n'
		printf 'From: Alice <alice@example.org>\nTo: Bob <bob@example.net>\n'
		printf 'Subject: message %s\n' "$mb_n"
		printf 'Date: Mon, 1 Jan 2024 10:%02d:00 +0000\n' "$mb_n"
		printf 'Message-ID: <%s.mu@example.org>\n\n' "$mb_n"
		printf 'Body of message %s.\n\n' "$mb_n"
	done >>"$MU_DIR/mail/$MU_USER"
	chown "$MU_USER" "$MU_DIR/mail/$MU_USER"
	chmod 0600 "$MU_DIR/mail/$MU_USER"
}

# The accept loop: pop3d --inetd for each connection, the socket as its
# standard input and output (tests/tools/inetd-loop.py).
python3 "$top_srcdir/tests/tools/inetd-loop.py" "$T/mu.port" "$T/pop3d.log" \
    "$MU_POP3D" --inetd --config-file="$MU_DIR/pop3d.conf" &
MU_LOOP_PID=$!
i=0
while [ ! -s "$T/mu.port" ]; do
	i=$((i + 1))
	[ "$i" -le 100 ] || fail "the accept loop did not start"
	sleep 0.05
done
MU_PORT=$(cat "$T/mu.port")

# mu_account DELETE: the account, plain text, USER/PASS.
mu_account()
{
	pf_config_new
	pf_account -P "$MU_PORT" -x 'auth = user' mu "$MU_USER" off "$1"
}

# retrs: how many RETRs the last run sent.
retrs()
{
	grep -c ': C: RETR ' "$PF_ERR" || :
}

mbox 1 2 3
size1=$(wc -c <"$MU_DIR/mail/$MU_USER")
mu_account keep
pf_run -v -v
assert_rc 0 "keep, first run"
assert_eq "keep, first run: RETRs" "$(retrs)" 3
assert_eq "keep, first run: stored" "$(count_new "$T/client/mu")" 3
size2=$(wc -c <"$MU_DIR/mail/$MU_USER")
# The premise: the server rewrote the mailbox, larger.
[ "$size2" -gt "$size1" ] ||
    fail "pop3d did not rewrite the mbox ($size1 then $size2 octets)"

pf_run -v -v
assert_rc 0 "keep, second run"
assert_eq "keep, second run: RETRs" "$(retrs)" 0
assert_eq "keep, second run: stored" "$(count_new "$T/client/mu")" 3
assert_grep "keep, second run" 'the server changed its size' "$PF_ERR"
# The records under the old sizes were compacted away.
assert_eq "keep, second run: records" \
    "$(grep -vc '^popfetch-uidl' "$XDG_STATE_HOME/popfetch/mu.uidl")" 3

# New mail: only it is fetched, then nothing the run after.
mbox 4 5
pf_run -v -v
assert_rc 0 "keep, new mail"
assert_eq "keep, new mail: RETRs" "$(retrs)" 2
assert_eq "keep, new mail: stored" "$(count_new "$T/client/mu")" 5
pf_run -v -v
assert_rc 0 "keep, after new mail"
assert_eq "keep, after new mail: RETRs" "$(retrs)" 0
assert_eq "keep, after new mail: stored" "$(count_new "$T/client/mu")" 5

# each: everything was stored, so everything is deleted unread.
mu_account each
pf_run -v -v
assert_rc 0 "each"
assert_eq "each: RETRs" "$(retrs)" 0
assert_eq "each: DELEs" "$(grep -c ': C: DELE ' "$PF_ERR")" 5
assert_eq "each: stored" "$(count_new "$T/client/mu")" 5
if grep -q '^From ' "$MU_DIR/mail/$MU_USER"; then
	fail "each: messages left in the mbox"
fi
say "PASS: mailutils-grown"
