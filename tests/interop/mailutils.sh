# shellcheck shell=sh
# The body of mailutils-mbox.sh and mailutils-maildir.sh, sourced after
# tests/interop/lib.sh: GNU mailutils' pop3d, run inetd-style under
# tests/tools/inetd-loop.py, once per TLS mode (tls-mode false, stls and
# connection), serving a throwaway system user's mailbox from a private
# directory (mail-spool for mbox, mailbox-pattern for Maildir).
#
# What the server stores: after a session, pop3d writes an X-UIDL field
# into every message (and, in an mbox, X-UID and Status, and
# X-IMAPbase in the first); the copy it sends in the first session
# already holds X-UIDL.  Byte-exact here means: the delivered copy,
# without those fields, equals the original; and each copy has X-UIDL.
# The LIST size of a message grows between the first session and the
# second: popfetch must know it by its unique-id and header, and a
# second keep run must fetch nothing.  pop3d's transcript (its log) is the server's record
# of the order on the wire.

MU_POP3D=/usr/sbin/pop3d

# mailutils_conf KIND TLSMODE FILE
mailutils_conf()
{
	{
		printf 'logging { syslog no; };\n'
		printf 'auth { authentication system; authorization system; };\n'
		printf 'tcp-wrappers { enable no; };\n'
		printf 'mandatory-locking { enable no; };\n'
		printf 'transcript yes;\n'
		if [ "$1" = mbox ]; then
			printf 'mailbox { mail-spool "%s"; mailbox-type mbox; };\n' \
			    "$T/mu/spool"
		else
			# shellcheck disable=SC2016 # pop3d expands ${user}
			printf 'mailbox { mailbox-pattern "maildir://%s/${user}"; };\n' \
			    "$T/mu/md"
		fi
		printf 'tls-mode %s;\n' "$2"
		printf 'tls { ssl-certificate-file "%s"; ssl-key-file "%s"; };\n' \
		    "$T/pki/server.pem" "$T/pki/server.key"
	} >"$3"
}

srv_seed()
{
	if [ "$MU_KIND" = mbox ]; then
		rm -f "$T/mu/spool/$1"*
		mbox_write "$T/mu/spool/$1" "$T/orig/box"
		chown "$1" "$T/mu/spool/$1"
		chmod 0600 "$T/mu/spool/$1"
	else
		rm -rf "$T/mu/md/$1"
		mkdir -p "$T/mu/md/$1/new" "$T/mu/md/$1/cur" "$T/mu/md/$1/tmp"
		for ss_f in "$T/orig/box"/*; do
			cp "$ss_f" "$T/mu/md/$1/new/${ss_f##*/}.seed.interop"
		done
		chown -R "$1" "$T/mu/md/$1"
		chmod -R go-rwx "$T/mu/md/$1"
	fi
}

srv_count()
{
	if [ "$MU_KIND" = mbox ]; then
		mbox_count "$T/mu/spool/$1"
	else
		find "$T/mu/md/$1/new" "$T/mu/md/$1/cur" -type f |
		    wc -l | tr -d ' '
	fi
}

srv_idle()
{
	inetd_idle
}

# The commands of the last session in pop3d's transcript.
srv_wire()
{
	awk '/^inetd-loop: session / { n = 0; next }
	    /^pop3d: C: / { c[n++] = substr($0, 11) }
	    END { for (i = 0; i < n; i++) print c[i] }' "$MU_LOG" |
	    tr -d '\r' | after_first_retr >"$2"
}

# mailutils_suite KIND: mbox or maildir.
mailutils_suite()
{
	MU_KIND=$1
	interop_need_root "pop3d authenticates system users, and the" \
	    "test makes one"
	[ -x "$MU_POP3D" ] ||
	    skip "GNU mailutils' pop3d is not installed (Debian: mailutils-pop3d)"
	command -v certtool >/dev/null 2>&1 ||
	    skip "certtool is not installed (Debian: gnutls-bin)"
	# shellcheck disable=SC2034 # read by tests/interop/lib.sh
	INTEROP_STRIP='X-UIDL|X-UID|X-IMAPbase|Status|X-Status'
	# shellcheck disable=SC2034 # read by tests/interop/lib.sh
	INTEROP_GROWS=yes
	pki_make
	interop_mailbox "$T/orig/box"
	sys_user_add
	mkdir -p "$T/mu/spool" "$T/mu/md"
	chmod 1777 "$T/mu/spool"
	chmod 0755 "$T/mu" "$T/mu/md"
	for ms_tls in off starttls on; do
		case $ms_tls in
		off) ms_mode=false ;;
		starttls) ms_mode=stls ;;
		on) ms_mode=connection ;;
		esac
		mailutils_conf "$MU_KIND" "$ms_mode" "$T/mu/$ms_tls.conf"
		"$MU_POP3D" --config-file="$T/mu/$ms_tls.conf" --config-lint \
		    >"$T/mu/lint.log" 2>&1 || {
			cat "$T/mu/lint.log" >&2
			fail "pop3d refuses $T/mu/$ms_tls.conf"
		}
		inetd_start "mu-$ms_tls" "$MU_POP3D" --inetd \
		    --config-file="$T/mu/$ms_tls.conf"
		MU_LOG=$T/mu-$ms_tls/log
		for ms_del in keep each batch; do
			interop_case "mu-$MU_KIND-$ms_tls-$ms_del" "$SYS_USER" \
			    "$INETD_PORT" "$ms_tls" "$ms_del"
		done
	done
	interop_done "GNU mailutils pop3d ($MU_KIND): keep, each and batch" \
	    "over plain POP3, STLS and implicit TLS"
}
