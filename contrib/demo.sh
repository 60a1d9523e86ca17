#!/bin/sh
# A guided tour: start a throwaway Dovecot on 127.0.0.1, put sample mail
# in it, fetch it with popfetch over TLS and show what arrived.
#
#	contrib/demo.sh [BUILDDIR]
#
# BUILDDIR is a built popfetch tree (default: the current directory, if
# it holds ./popfetch).  Needs dovecot-core, dovecot-pop3d and gnutls-bin
# (see contrib/deps-debian.sh).  Everything lives in a temporary
# directory that is removed at the end; set PF_KEEP_TMP=yes to keep it.

set -eu

demo_src=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -gt 1 ]; then
	echo "usage: $0 [BUILDDIR]" >&2
	exit 64
fi
demo_build=${1:-.}
if [ ! -x "$demo_build/popfetch" ] ||
    [ ! -x "$demo_build/tests/tools/gen-mail" ]; then
	echo "demo.sh: no built popfetch in '$demo_build'" >&2
	echo "usage: $0 [BUILDDIR]   (after 'make' in BUILDDIR)" >&2
	exit 64
fi
top_srcdir=$demo_src
top_builddir=$(cd "$demo_build" && pwd)

# The test harness: Dovecot, certificates, configuration helpers.
# shellcheck source=tests/integ/lib.sh
. "$top_srcdir/tests/integ/lib.sh"

step()
{
	printf '\n==> %s\n' "$*"
}

step "Starting a private Dovecot on 127.0.0.1"
dovecot_start
printf '    POP3 (STLS) on port %s, POP3S on port %s\n' \
    "$DOVECOT_PORT" "$DOVECOT_PORT_TLS"
printf '    its certificate comes from a CA made just now: %s\n' "$PKI_CA"

step "Putting 20 sample messages in the mailbox of user 'demo'"
user_add demo
gen_mail "$T/orig/demo" -n 20 -s 2024
seed demo "$T/orig/demo"
printf '    %s messages waiting on the server\n' "$(server_count demo)"

step "Writing a configuration (mode 0600, since it holds a password)"
pf_config_new
pf_account demo demo on keep
sed "s/$PF_PASSWORD/********/; s/^/    /" "$PF_CONF"

step "Running: popfetch -c $PF_CONF -v"
demo_rc=0
"$PF_BIN" -c "$PF_CONF" -v || demo_rc=$?
if [ "$demo_rc" -ne 0 ]; then
	printf '\npopfetch failed with exit status %s\n' "$demo_rc" >&2
	exit "$demo_rc"
fi

demo_md=$T/client/demo
step "What arrived in $demo_md"
printf '    %s messages in new/.\n' "$(count_new "$demo_md")"

step "The mailbox as popfetch sees it now (popfetch --dry-run: changes nothing)"
"$PF_BIN" -c "$PF_CONF" --dry-run demo | sed 's/^/    /'

step "Reading the mail"
printf '    mutt -f %s\n' "$demo_md"
if [ "${PF_KEEP_TMP:-no}" = yes ]; then
	printf '    (kept: remove %s when you are done)\n' "$T"
else
	printf '    (it is removed now; run with PF_KEEP_TMP=yes to keep it)\n'
fi
printf '\n%s\n%s\n' \
    'The server kept every message (delete = keep); running popfetch' \
    'again would fetch nothing new.'
