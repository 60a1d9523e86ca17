#!/bin/sh
# popa3d (Openwall's small POP3 server): mbox, no TLS, no CAPA, USER and
# PASS only; keep, each and batch over plain POP3.  It conflicts with
# Dovecot as a Debian package, so it runs from the unpacked .deb
# (contrib/deps-debian.sh puts it in /opt/popfetch-test/popa3d; POPA3D
# names another binary) under tests/tools/inetd-loop.py, as inetd would
# run it.  Its paths are compiled in: it serves /var/mail/USER, changes
# to the user "popa3d" and chroots into /var/lib/popa3d before login.
# The test makes a throwaway system user and what popa3d needs where it
# is missing, and removes them at the end.  popa3d stores a message as
# it came and adds no field: delivery must be byte-exact, unchanged.
# It keeps no record of the commands (it logs to syslog, and only the
# session's outcome): the order on the wire is taken from popfetch's
# -v -v trace.

LIB_NEED_DOVECOT=no
# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/lib.sh"
# shellcheck source=tests/interop/lib.sh
. "$top_srcdir/tests/interop/lib.sh"

POPA3D=${POPA3D:-/opt/popfetch-test/popa3d/usr/sbin/popa3d}

srv_seed()
{
	mbox_write "/var/mail/$1" "$T/orig/box"
	chown "$1" "/var/mail/$1"
	chmod 0600 "/var/mail/$1"
}

srv_count()
{
	mbox_count "/var/mail/$1"
}

srv_idle()
{
	inetd_idle
}

srv_wire()
{
	:
}

interop_need_root "popa3d authenticates system users, and the test" \
    "makes one"
[ -x "$POPA3D" ] ||
    skip "popa3d is not unpacked in ${POPA3D%/usr/sbin/popa3d} (run" \
    "contrib/deps-debian.sh, or set POPA3D)"
[ -d /var/mail ] || skip "there is no /var/mail"

interop_mailbox "$T/orig/box"
if ! getent passwd popa3d >/dev/null; then
	group=-U
	! getent group popa3d >/dev/null || group="-g popa3d"
	# shellcheck disable=SC2086 # one option, or an option and its value
	useradd --system -M -d /var/lib/popa3d -s /usr/sbin/nologin \
	    $group popa3d || fail "useradd popa3d failed"
	INTEROP_USERS="$INTEROP_USERS popa3d"
fi
if [ ! -d /var/lib/popa3d ]; then
	mkdir -m 0755 /var/lib/popa3d
	INTEROP_REMOVE="$INTEROP_REMOVE /var/lib/popa3d"
fi
sys_user_add
INTEROP_REMOVE="$INTEROP_REMOVE /var/mail/$SYS_USER"
inetd_start popa3d "$POPA3D"
for del in keep each batch; do
	interop_case "popa3d-$del" "$SYS_USER" "$INETD_PORT" off "$del"
done
interop_done "popa3d: keep, each and batch over plain POP3"
