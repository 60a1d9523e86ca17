#!/bin/sh
# Dovecot (tests/integ/lib.sh's private instance, Maildir): keep, each
# and batch over plain POP3, STLS and implicit TLS.  Dovecot stores a
# message as it came and adds no field: delivery must be byte-exact,
# unchanged.  Its rawlog is the server's record of the order on the
# wire.

# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/lib.sh"
# shellcheck source=tests/interop/lib.sh
. "$top_srcdir/tests/interop/lib.sh"

srv_seed()
{
	user_add "$1"
	mkdir "$T/srv/$1/dovecot.rawlog"
	chown "$MAIL_UID:$MAIL_GID" "$T/srv/$1/dovecot.rawlog"
	seed "$1" "$T/orig/box"
}

srv_count()
{
	server_count "$1"
}

# Dovecot expunges in the UPDATE state, before it answers QUIT.
srv_idle()
{
	:
}

# The rawlog of the user's first session, once it has ended.
srv_wire()
{
	log_wait "pop3\\($1\\)<.*Disconnected: Logged out" 1
	set -- "$1" "$2" "$T/srv/$1"/dovecot.rawlog/*.in
	if [ $# -ne 3 ] || [ ! -f "$3" ]; then
		fail "$1: expected one Dovecot rawlog of the first session"
	fi
	tr -d '\r' <"$3" | after_first_retr >"$2"
}

DOVECOT_RAWLOG=yes
dovecot_start
interop_mailbox "$T/orig/box"
for tls in off starttls on; do
	port=$DOVECOT_PORT
	[ "$tls" != on ] || port=$DOVECOT_PORT_TLS
	for del in keep each batch; do
		interop_case "dovecot-$tls-$del" "d-$tls-$del" "$port" \
		    "$tls" "$del"
	done
done
interop_done "Dovecot: keep, each and batch over plain POP3, STLS and" \
    "implicit TLS"
