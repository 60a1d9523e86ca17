# shellcheck shell=sh
# Shared harness for the integration tests, sourced by every test (and by
# contrib/demo.sh).  It runs a private Dovecot on 127.0.0.1, seeds mail,
# writes popfetch configurations and checks the results.
#
# Variables the caller may set before sourcing:
#	top_srcdir, top_builddir   absolute paths (exported by make check)
#	LIB_NEED_POPFETCH=no       do not require the popfetch binary
#	LIB_NEED_DOVECOT=no        do not require Dovecot (tests that use
#	                           only the fake server)
#	PF_KEEP_TMP=yes            keep the temporary directory for inspection
#	DOVECOT_RAWLOG=yes         (before dovecot_start) record sessions in
#	                           ~/dovecot.rawlog/ of users who have one
#	DOVECOT_AUTH_MECHS=LIST    (before dovecot_start) Dovecot's
#	                           auth_mechanisms; default plain
#	DOVECOT_EXTRA_CONF=TEXT    (before dovecot_start) lines appended to
#	                           dovecot.conf, e.g. ssl_min_protocol
#	PF_CORE_KEEP=DIR           where core dumps are kept (default
#	                           $top_builddir/tests/cores)
#
# Core dumps: every program a test runs (popfetch, the fake server, the
# tools) may dump core, into the test's directory, which is the working
# directory of the test.  When the test ends, any core found there fails
# it, is kept in PF_CORE_KEEP and gets a backtrace from gdb, if gdb is
# installed.  The kernel writes cores where kernel.core_pattern says: a
# relative pattern ("core", Linux's default) means the crashing
# program's directory; under CI=true as root, any other pattern (a pipe
# to systemd-coredump or apport, an absolute path) is set to
# "core.%e.%p" for that (CI machines are throwaway); otherwise cores go
# where the pattern says, and the harness says so once.
#
# Exit codes follow the automake test driver: 77 skip, 99 hard error.  A
# missing Dovecot is a skip, except under CI=true where it is an error:
# an integration test that never runs proves nothing.

set -eu

PATH=$PATH:/usr/sbin:/sbin
export PATH
LC_ALL=C
export LC_ALL
unset CDPATH

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"

PF_BIN=$top_builddir/popfetch
GEN_MAIL=$top_builddir/tests/tools/gen-mail

# The password of every server user.  Tests grep for it to prove that it
# never appears in popfetch's output, so it must be distinctive.
PF_PASSWORD=Zq7-popfetch-Wx93-secret

# How long a single popfetch run may take before the test gives up.
PF_RUN_TIMEOUT=120

DOVECOT_PID=
DOVECOT_CONF=

say()
{
	printf '%s: %s\n' "${0##*/}" "$*" >&2
}

# Print why and leave with the driver's code for a hard error.
fail()
{
	say "FAIL: $*"
	exit 1
}

# Without a prerequisite the test cannot run.  In CI that is an error.
skip()
{
	if [ "${CI:-}" = true ]; then
		say "ERROR: CI=true and $*: a skipped integration test fails in CI"
		exit 99
	fi
	say "SKIP: $*"
	exit 77
}

lib_cleanup()
{
	lib_rc=$?
	# Some shells lose the status of an exit run from a signal trap.
	if [ -n "${lib_signal:-}" ]; then
		lib_rc=$lib_signal
	fi
	set +e
	dovecot_stop
	if [ "$lib_rc" -ne 0 ] && [ "$lib_rc" -ne 77 ] && [ -n "${T:-}" ]; then
		if [ -s "$T/pf.err" ]; then
			say "last popfetch stderr:"
			tail -n 40 "$T/pf.err" >&2
		fi
		if [ -s "$T/dovecot/dovecot.log" ]; then
			say "end of the Dovecot log:"
			tail -n 40 "$T/dovecot/dovecot.log" >&2
		fi
	fi
	if [ -n "${T:-}" ] && [ -d "$T" ] && ! lib_cores_check; then
		[ "$lib_rc" -ne 0 ] && [ "$lib_rc" -ne 77 ] || lib_rc=1
	fi
	if [ -n "${T:-}" ] && [ -d "$T" ]; then
		if [ "${PF_KEEP_TMP:-no}" = yes ]; then
			say "kept $T"
		else
			rm -rf "$T"
		fi
	fi
	exit "$lib_rc"
}

# lib_cores_setup: let every program dump core into the test's
# directory, $T (see the top of this file).
# shellcheck disable=SC3045 # dash, bash and busybox have ulimit -c, -H
lib_cores_setup()
{
	LIB_CORES=no
	ulimit -c unlimited 2>/dev/null ||
	    ulimit -c "$(ulimit -H -c)" 2>/dev/null || :
	if [ "$(ulimit -c)" = 0 ]; then
		say "note: core dumps are off (ulimit -H -c is 0)"
		return 0
	fi
	lib_pattern=$(cat /proc/sys/kernel/core_pattern 2>/dev/null) ||
	    lib_pattern=core
	case $lib_pattern in
	/* | '|'*)
		if [ "${CI:-}" = true ] && [ "$(id -u)" -eq 0 ] &&
		    echo 'core.%e.%p' >/proc/sys/kernel/core_pattern; then
			lib_pattern=core.%e.%p
		else
			say "note: core dumps go to '$lib_pattern'," \
			    "not to the test's directory"
			return 0
		fi
		;;
	esac
	cd "$T" || fail "cannot enter $T"
	LIB_CORES=yes
}

# lib_cores_check: 1 if a program dumped core under $T (the test's
# directory or one a check entered), after keeping each core and
# printing its backtrace; else 0.
lib_cores_check()
{
	[ "${LIB_CORES:-no}" = yes ] || return 0
	find "$T" -type f \( -name core -o -name 'core.*' \) \
	    -size +0 >"$T/.cores" 2>/dev/null || :
	[ -s "$T/.cores" ] || return 0
	lc_keep=${PF_CORE_KEEP:-$top_builddir/tests/cores}
	mkdir -p "$lc_keep"
	while read -r lc_core; do
		lc_to=$lc_keep/${0##*/}.$$.${lc_core##*/}
		cp "$lc_core" "$lc_to" 2>/dev/null || lc_to=$lc_core
		say "CORE DUMPED: $lc_to"
		if ! command -v gdb >/dev/null 2>&1; then
			say "  (no gdb: no backtrace)"
			continue
		fi
		# gdb names the program from the core itself.
		lc_exe=$(gdb -nx -batch -c "$lc_core" 2>/dev/null |
		    sed -n "s/^Core was generated by \`\([^ ']*\).*/\1/p")
		if [ -n "$lc_exe" ] && [ ! -x "$lc_exe" ]; then
			lc_exe=$(command -v "$lc_exe" 2>/dev/null) || lc_exe=
		fi
		say "  program: ${lc_exe:-unknown}; backtrace:"
		gdb -nx -batch -ex 'thread apply all bt' ${lc_exe:+"$lc_exe"} \
		    "$lc_core" 2>&1 | grep -E '^(#|Thread|Program)' |
		    head -n 60 >&2 || :
	done <"$T/.cores"
	return 1
}

lib_prereq_dovecot()
{
	command -v dovecot >/dev/null 2>&1 ||
	    skip "dovecot is not installed (Debian: dovecot-core dovecot-pop3d)"
	lib_pop3=
	for d in /usr/lib/dovecot /usr/libexec/dovecot /usr/local/libexec/dovecot; do
		if [ -x "$d/pop3" ]; then
			lib_pop3=$d/pop3
		fi
	done
	[ -n "$lib_pop3" ] ||
	    skip "Dovecot's POP3 server is not installed (Debian: dovecot-pop3d)"
	command -v certtool >/dev/null 2>&1 ||
	    skip "certtool is not installed (Debian: gnutls-bin)"
}

lib_prereq()
{
	if [ "${LIB_NEED_DOVECOT:-yes}" = yes ]; then
		lib_prereq_dovecot
	fi
	command -v bash >/dev/null 2>&1 || skip "bash is not installed"
	command -v timeout >/dev/null 2>&1 || skip "timeout is not installed"
	command -v sha256sum >/dev/null 2>&1 || skip "sha256sum is not installed"
	[ -x "$GEN_MAIL" ] || fail "$GEN_MAIL is missing: run make first"
	if [ "${LIB_NEED_POPFETCH:-yes}" = yes ]; then
		[ -x "$PF_BIN" ] || fail "$PF_BIN is missing: run make first"
	fi
}

# Dovecot's sockets live under the temporary directory, and a Unix socket
# path is limited to about 100 bytes: fall back to /tmp if TMPDIR is deep.
lib_mktemp()
{
	lib_tmp=${TMPDIR:-/tmp}
	if [ "${#lib_tmp}" -gt 40 ] || [ ! -d "$lib_tmp" ]; then
		lib_tmp=/tmp
	fi
	T=$(mktemp -d "$lib_tmp/popfetch-integ.XXXXXX")
	# Dovecot's mail processes run as an unprivileged user that must be
	# able to reach the server's mail below $T.
	chmod 0711 "$T"
	mkdir "$T/home" "$T/state" "$T/config" "$T/client" "$T/orig"
	HOME=$T/home
	XDG_STATE_HOME=$T/state
	XDG_CONFIG_HOME=$T/config
	export HOME XDG_STATE_HOME XDG_CONFIG_HOME
	unset XDG_DATA_HOME XDG_CACHE_HOME
	PF_OUT=$T/pf.out
	PF_ERR=$T/pf.err
	PF_CONF=$T/popfetch.conf
}

# A CA, a server certificate for localhost and 127.0.0.1 signed by it, a
# second certificate signed by it for a name popfetch never connects to,
# and an unrelated CA.  All made fresh for every test run.
pki_make()
{
	mkdir "$T/pki"
	(
		cd "$T/pki"
		cat >ca.tmpl <<-EOF
		cn = "popfetch test CA"
		organization = "popfetch test suite"
		serial = 1
		expiration_days = 2
		ca
		cert_signing_key
		EOF
		cat >other-ca.tmpl <<-EOF
		cn = "unrelated test CA"
		organization = "somebody else"
		serial = 2
		expiration_days = 2
		ca
		cert_signing_key
		EOF
		cat >server.tmpl <<-EOF
		cn = "localhost"
		dns_name = "localhost"
		ip_address = "127.0.0.1"
		serial = 3
		expiration_days = 2
		tls_www_server
		signing_key
		encryption_key
		EOF
		cat >wrong.tmpl <<-EOF
		cn = "wrong.example.test"
		dns_name = "wrong.example.test"
		serial = 4
		expiration_days = 2
		tls_www_server
		signing_key
		encryption_key
		EOF
		for k in ca other-ca server wrong; do
			certtool --generate-privkey --key-type=ecdsa \
			    --outfile "$k.key" 2>/dev/null
		done
		for k in ca other-ca; do
			certtool --generate-self-signed --load-privkey "$k.key" \
			    --template "$k.tmpl" --outfile "$k.pem" 2>/dev/null
		done
		for k in server wrong; do
			certtool --generate-certificate --load-privkey "$k.key" \
			    --load-ca-certificate ca.pem \
			    --load-ca-privkey ca.key \
			    --template "$k.tmpl" --outfile "$k.pem" 2>/dev/null
		done
	) >"$T/pki.log" 2>&1 || fail "certtool failed: $(cat "$T/pki.log")"
	PKI_CA=$T/pki/ca.pem
	# shellcheck disable=SC2034 # for the tests that source this file
	PKI_OTHER_CA=$T/pki/other-ca.pem
}

# Is a TCP port on 127.0.0.1 (or any address) in the LISTEN state?
port_in_use()
{
	lib_hex=$(printf '%04X' "$1")
	# Field 2 is ADDR:PORT in hex, field 4 the state; 0A is LISTEN.
	cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v p=":$lib_hex" '
	    $4 == "0A" && substr($2, length($2) - 4) == p { f = 1 }
	    END { exit !f }'
}

# A random high port nobody listens on (a race with other programs is
# caught by Dovecot's bind failing, and the start is retried).
free_port()
{
	while :; do
		lib_r=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
		lib_p=$((20000 + lib_r % 40000))
		if ! port_in_use "$lib_p"; then
			echo "$lib_p"
			return 0
		fi
	done
}

# Users that own the server's mail and run Dovecot's processes.  As root,
# Dovecot's own unprivileged users; otherwise ourselves.
dovecot_users()
{
	if [ "$(id -u)" -eq 0 ]; then
		getent passwd dovecot >/dev/null ||
		    skip "the dovecot system user does not exist"
		getent passwd dovenull >/dev/null ||
		    skip "the dovenull system user does not exist"
		DOVECOT_INTERNAL_USER=dovecot
		DOVECOT_INTERNAL_GROUP=dovecot
		DOVECOT_LOGIN_USER=dovenull
		DOVECOT_CHROOT='<default>'
	else
		DOVECOT_INTERNAL_USER=$(id -un)
		DOVECOT_INTERNAL_GROUP=$(id -gn)
		DOVECOT_LOGIN_USER=$DOVECOT_INTERNAL_USER
		# chroot needs root.
		DOVECOT_CHROOT=
	fi
	MAIL_UID=$(id -u "$DOVECOT_INTERNAL_USER")
	MAIL_GID=$(id -g "$DOVECOT_INTERNAL_USER")
}

dovecot_write_conf()
{
	{
		cat <<-EOF
		# Written by the popfetch test suite; private instance.
		base_dir = $T/dovecot/run
		state_dir = $T/dovecot/state
		instance_name = popfetch-test-${T##*.}
		log_path = $T/dovecot/dovecot.log
		protocols = pop3
		listen = 127.0.0.1
		shutdown_clients = yes

		default_internal_user = $DOVECOT_INTERNAL_USER
		default_internal_group = $DOVECOT_INTERNAL_GROUP
		default_login_user = $DOVECOT_LOGIN_USER
		first_valid_uid = $MAIL_UID
		last_valid_uid = $MAIL_UID
		first_valid_gid = 1

		ssl = yes
		ssl_cert = <$T/pki/$DOVECOT_CERT.pem
		ssl_key = <$T/pki/$DOVECOT_CERT.key

		disable_plaintext_auth = no
		auth_mechanisms = ${DOVECOT_AUTH_MECHS:-plain}
		auth_verbose = yes
		auth_failure_delay = 0
		# One passwd-file per user, so that a user added while Dovecot
		# runs is seen at once (a changed file is reread only after a
		# delay).
		passdb {
		  driver = passwd-file
		  args = scheme=PLAIN $T/dovecot/users/%u
		}
		userdb {
		  driver = passwd-file
		  args = $T/dovecot/users/%u
		}

		mail_location = maildir:~/Maildir
		pop3_uidl_format = %08Xu%08Xv
		mail_plugins = \$mail_plugins notify mail_log
		plugin {
		  mail_log_events = delete expunge
		  mail_log_fields = uid box msgid size
		}

		service pop3-login {
		  inet_listener pop3 {
		    port = $DOVECOT_PORT
		  }
		  inet_listener pop3s {
		    port = $DOVECOT_PORT_TLS
		    ssl = yes
		  }
		EOF
		if [ "$DOVECOT_CHROOT" != '<default>' ]; then
			printf '  chroot =\n'
		fi
		printf '}\n'
		if [ "$DOVECOT_CHROOT" != '<default>' ]; then
			for s in anvil auth-worker; do
				printf 'service %s {\n  chroot =\n}\n' "$s"
			done
		fi
		# rawlog records each session after login in the user's
		# ~/dovecot.rawlog/, when that directory exists: the server's
		# own record of the commands it received.
		if [ "${DOVECOT_RAWLOG:-no}" = yes ]; then
			cat <<-EOF
			service pop3 {
			  executable = pop3 postlogin
			}
			service postlogin {
			  executable = script-login -d rawlog
			  unix_listener postlogin {
			  }
			}
			EOF
		fi
		# Settings of the caller's own, after ours: for one key set
		# twice, Dovecot takes the later value.
		if [ -n "${DOVECOT_EXTRA_CONF:-}" ]; then
			printf '%s\n' "$DOVECOT_EXTRA_CONF"
		fi
		# Services we do not need, kept off so that they bind no
		# ports and touch nothing outside $T.
		cat <<-EOF
		service imap-login {
		  inet_listener imap {
		    port = 0
		  }
		  inet_listener imaps {
		    port = 0
		  }
		}
		EOF
	} >"$DOVECOT_CONF"
}

# Wait (at most 15 seconds) for a POP3 greeting on a plain port.
wait_greeting()
{
	# shellcheck disable=SC2016 # expanded by the inner shell
	timeout 15 bash -c '
		while :; do
			if exec 3<>"/dev/tcp/127.0.0.1/$1"; then
				IFS= read -r line <&3 || line=
				case $line in
				"+OK"*)
					printf "QUIT\r\n" >&3
					exit 0 ;;
				esac
				exec 3<&-
			fi 2>/dev/null
			sleep 0.1
		done' wait_greeting "$1" >/dev/null 2>&1
}

# dovecot_start [CERT]: start a private Dovecot serving pki/CERT.pem
# (default: server, valid for localhost and 127.0.0.1).  Sets
# DOVECOT_PORT (POP3 with STLS) and DOVECOT_PORT_TLS (POP3S).
dovecot_start()
{
	DOVECOT_CERT=${1:-server}
	[ -d "$T/pki" ] || pki_make
	dovecot_users
	mkdir -p "$T/dovecot" "$T/srv"
	chmod 0755 "$T/srv"
	mkdir -p "$T/dovecot/users"
	chmod 0755 "$T/dovecot/users"
	DOVECOT_CONF=$T/dovecot/dovecot.conf
	lib_try=0
	while :; do
		lib_try=$((lib_try + 1))
		DOVECOT_PORT=$(free_port)
		DOVECOT_PORT_TLS=$(free_port)
		[ "$DOVECOT_PORT" != "$DOVECOT_PORT_TLS" ] || continue
		dovecot_write_conf
		# The master binds the listeners before it daemonises, so a
		# bind failure is its exit status.
		if dovecot -c "$DOVECOT_CONF" >"$T/dovecot/start.log" 2>&1; then
			break
		fi
		if [ "$lib_try" -lt 5 ] &&
		    grep -q 'Address already in use' "$T/dovecot/start.log" \
		    "$T/dovecot/dovecot.log" 2>/dev/null; then
			continue
		fi
		cat "$T/dovecot/start.log" >&2
		[ ! -f "$T/dovecot/dovecot.log" ] || cat "$T/dovecot/dovecot.log" >&2
		fail "dovecot did not start"
	done
	# The daemon writes its pid file after it has forked.
	lib_n=0
	while [ ! -s "$T/dovecot/run/master.pid" ]; do
		lib_n=$((lib_n + 1))
		[ "$lib_n" -lt 100 ] || fail "dovecot wrote no master.pid"
		sleep 0.1
	done
	DOVECOT_PID=$(cat "$T/dovecot/run/master.pid")
	lib_probes=$(log_count 'pop3-login: .*Aborted login by logging out')
	wait_greeting "$DOVECOT_PORT" ||
	    fail "dovecot does not greet on 127.0.0.1:$DOVECOT_PORT"
	# Let the probe's own log line land now, so that tests that count
	# lines of the log find only their own.
	log_wait 'pop3-login: .*Aborted login by logging out' $((lib_probes + 1))
}

dovecot_stop()
{
	# A start that failed half-way may have left a daemon behind.
	if [ -z "$DOVECOT_PID" ] && [ -n "${T:-}" ] &&
	    [ -s "$T/dovecot/run/master.pid" ]; then
		DOVECOT_PID=$(cat "$T/dovecot/run/master.pid")
	fi
	[ -n "$DOVECOT_PID" ] || return 0
	# Signal only our own master, never a process that reused its pid.
	if [ -r "/proc/$DOVECOT_PID/cmdline" ] &&
	    ! tr '\0' ' ' <"/proc/$DOVECOT_PID/cmdline" |
	    grep -qF "$T/dovecot/dovecot.conf"; then
		DOVECOT_PID=
		return 0
	fi
	if kill "$DOVECOT_PID" 2>/dev/null; then
		lib_n=0
		while kill -0 "$DOVECOT_PID" 2>/dev/null; do
			lib_n=$((lib_n + 1))
			if [ "$lib_n" -ge 100 ]; then
				kill -9 "$DOVECOT_PID" 2>/dev/null || :
				break
			fi
			sleep 0.1
		done
	fi
	DOVECOT_PID=
	rm -f "$T/dovecot/run/master.pid"
}

# dovecot_restart [CERT]: the same, serving another certificate.
dovecot_restart()
{
	dovecot_stop
	dovecot_start "$@"
}

# log_count PATTERN: lines of Dovecot's log matching an extended regex.
log_count()
{
	grep -Ec -- "$1" "$T/dovecot/dovecot.log" 2>/dev/null || :
}

# log_wait PATTERN N: wait (at most 10 seconds) until N lines of Dovecot's
# log match.  Dovecot writes its log through a separate process, so a line
# may appear a moment after the client has gone.
log_wait()
{
	lib_n=0
	while [ "$(log_count "$1")" -lt "$2" ]; do
		lib_n=$((lib_n + 1))
		if [ "$lib_n" -ge 100 ]; then
			fail "Dovecot's log has fewer than $2 lines matching '$1'"
		fi
		sleep 0.1
	done
}

# user_add NAME: a server user with password $PF_PASSWORD and an empty
# Maildir.
user_add()
{
	lib_home=$T/srv/$1
	mkdir -p "$lib_home/Maildir/cur" "$lib_home/Maildir/new" \
	    "$lib_home/Maildir/tmp"
	chown -R "$MAIL_UID:$MAIL_GID" "$lib_home"
	printf '%s:{PLAIN}%s:%s:%s::%s::\n' "$1" "$PF_PASSWORD" \
	    "$MAIL_UID" "$MAIL_GID" "$lib_home" >"$T/dovecot/users/$1.tmp"
	chmod 0644 "$T/dovecot/users/$1.tmp"
	mv "$T/dovecot/users/$1.tmp" "$T/dovecot/users/$1"
}

# gen_mail DIR ARGS...: generate messages into a new directory DIR.
gen_mail()
{
	lib_dir=$1
	shift
	mkdir -p "$lib_dir"
	"$GEN_MAIL" -o "$lib_dir" "$@" || fail "gen-mail $* failed"
}

# seed USER DIR: deliver every file of DIR to USER's server Maildir, the
# Maildir way (tmp/, then rename into new/).
seed()
{
	lib_md=$T/srv/$1/Maildir
	for f in "$2"/*; do
		lib_name=${f##*/}
		lib_name=seed.$(date +%s).${lib_name%.*}.$$
		cp "$f" "$lib_md/tmp/$lib_name"
		chown "$MAIL_UID:$MAIL_GID" "$lib_md/tmp/$lib_name"
		mv "$lib_md/tmp/$lib_name" "$lib_md/new/$lib_name"
	done
}

# server_count USER: messages left in USER's server Maildir.
server_count()
{
	find "$T/srv/$1/Maildir/new" "$T/srv/$1/Maildir/cur" -type f |
	    wc -l | tr -d ' '
}

# pf_config_new: start an empty configuration file, mode 0600.
pf_config_new()
{
	: >"$PF_CONF"
	chmod 0600 "$PF_CONF"
}

# pf_account [-p PASSWORD] [-H HOST] [-P PORT] [-C CAFILE] [-x LINE]
#     NAME USER TLS DELETE
# Append an account to $PF_CONF.  TLS is on, starttls or off; the port
# follows from it.  The account's Maildir is $T/client/NAME.
pf_account()
{
	pa_pw=$PF_PASSWORD
	pa_host=127.0.0.1
	pa_port=
	pa_ca=${PKI_CA:-}
	pa_extra=
	OPTIND=1
	while getopts p:H:P:C:x: pa_o; do
		case $pa_o in
		p) pa_pw=$OPTARG ;;
		H) pa_host=$OPTARG ;;
		P) pa_port=$OPTARG ;;
		C) pa_ca=$OPTARG ;;
		x) pa_extra="$pa_extra
	$OPTARG" ;;
		*) fail "pf_account: bad option" ;;
		esac
	done
	shift $((OPTIND - 1))
	[ $# -eq 4 ] || fail "pf_account: NAME USER TLS DELETE"
	if [ -z "$pa_port" ]; then
		case $3 in
		on) pa_port=$DOVECOT_PORT_TLS ;;
		*) pa_port=$DOVECOT_PORT ;;
		esac
	fi
	{
		printf 'account "%s" {\n' "$1"
		printf '\thost = "%s"\n\tport = %s\n\ttls = %s\n' \
		    "$pa_host" "$pa_port" "$3"
		if [ "$3" = off ]; then
			printf '\tallow_plaintext = yes\n'
		else
			printf '\tca_file = "%s"\n' "$pa_ca"
		fi
		printf '\tuser = "%s"\n' "$2"
		if [ -n "$pa_pw" ]; then
			printf '\tpassword = "%s"\n' "$pa_pw"
		fi
		printf '\tmaildir = "%s"\n' "$T/client/$1"
		printf '\tdelete = %s\n\ttimeout = 10%s\n}\n' "$4" "$pa_extra"
	} >>"$PF_CONF"
}

# pf_exec ARGS...: run popfetch; PF_RC is its exit status, $PF_OUT and
# $PF_ERR its output.  A hung popfetch is killed (status 124).  Not on a
# terminal, popfetch prints no summary unless asked: --summary asks for
# the per-account lines on stdout, and nothing else (-v would also change
# stderr, which tests read).
pf_exec()
{
	PF_RC=0
	timeout "$PF_RUN_TIMEOUT" "$PF_BIN" --summary "$@" >"$PF_OUT" \
	    2>"$PF_ERR" || PF_RC=$?
}

# pf_run ARGS...: the same with -c $PF_CONF.
pf_run()
{
	pf_exec -c "$PF_CONF" "$@"
}

assert_rc()
{
	if [ "$PF_RC" -ne "$1" ]; then
		say "popfetch $2: stdout:"
		cat "$PF_OUT" >&2
		say "popfetch $2: stderr:"
		tail -n 40 "$PF_ERR" >&2
		fail "popfetch $2: exit status $PF_RC, expected $1"
	fi
}

# The time a summary line ends with: "in 0.4 s", "in 2 min 05 s",
# "in 1 h 02 min".
PF_TIME_RE='in ([0-9]+\.[0-9] s|[0-9]+ min [0-9]{2} s|[0-9]+ h [0-9]{2} min)'

# assert_summary WHAT NAME MESSAGES NEW DELETED: stdout holds this
# account's summary line, once:
#   NAME: M messages, N new, R retrieved (SIZE)[, 9 to inbox, 3 to
#   .Lists.dev][, 2 discarded][, 1 skipped], D deleted on the server, in T
assert_summary()
{
	# The size and the time are checked for their form only.
	as_size='[0-9]+(\.[0-9]+)? (B|KiB|MiB|GiB)'
	as_more='(, [0-9]+ (to .+|discarded|skipped|already archived))*'
	as_re="^$2: $3 messages, $4 new, [0-9]+ retrieved \\($as_size\\)"
	as_re="$as_re$as_more, $5 deleted on the server, $PF_TIME_RE\$"
	if [ "$(grep -Ec -- "$as_re" "$PF_OUT")" -ne 1 ]; then
		say "stdout:"
		cat "$PF_OUT" >&2
		fail "$1: no summary line '$2: $3 messages, $4 new," \
		    "N retrieved (SIZE), $5 deleted on the server, in TIME'"
	fi
}

# assert_lines WHAT FILE N: FILE has exactly N lines.
assert_lines()
{
	al_n=$(wc -l <"$2" | tr -d ' ')
	[ "$al_n" -eq "$3" ] || fail "$1: $al_n lines, expected $3"
}

assert_grep()
{
	grep -Eq -- "$2" "$3" || {
		tail -n 40 "$3" >&2
		fail "$1: no line matches '$2' in ${3##*/}"
	}
}

assert_no_grep()
{
	if grep -Eq -- "$2" "$3"; then
		grep -E -- "$2" "$3" | head -n 5 >&2
		fail "$1: a line matches '$2' in ${3##*/}"
	fi
}

assert_eq()
{
	[ "$2" = "$3" ] || fail "$1: got '$2', expected '$3'"
}

# wire_planned FILE: the commands a --dry-run's output (FILE) says the
# run sends after LIST and UIDL, from its "order on the wire" line, on
# one line: "RETR 1, DELE 1, QUIT".
wire_planned()
{
	sed -n 's/^order on the wire: \(.*QUIT\) (.*/\1/p' "$1"
}

# wire_sent FILE: the RETRs, DELEs and QUIT a popfetch -v -v sent (its
# stderr in FILE), in the form wire_planned gives.
wire_sent()
{
	sed -En 's/^popfetch: [^:]+: C: ((RETR|DELE) [0-9]+|QUIT)$/\1/p' "$1" |
	    paste -sd, - | sed 's/,/, /g'
}

# sums DIR...: the sorted SHA-256 sums of the files in the DIRs.
sums()
{
	find "$@" -type f -exec sha256sum -- {} + | cut -d ' ' -f 1 | sort
}

# count_new MAILDIR: messages in MAILDIR/new.
count_new()
{
	if [ -d "$1/new" ]; then
		find "$1/new" -type f | wc -l | tr -d ' '
	else
		echo 0
	fi
}

# maildir_check WHAT MAILDIR DIR...: MAILDIR/new holds exactly the files
# of the DIRs, byte for byte, as a multiset; every name ends in ,S=<size
# in bytes> (and maybe the tag ,PF=<16 hex>-<LIST size>); nothing is left
# in tmp/.
maildir_check()
{
	mc_what=$1
	mc_md=$2
	shift 2
	[ -d "$mc_md/new" ] || fail "$mc_what: $mc_md/new does not exist"
	[ -d "$mc_md/cur" ] || fail "$mc_what: $mc_md/cur does not exist"
	[ -d "$mc_md/tmp" ] || fail "$mc_what: $mc_md/tmp does not exist"
	if [ -n "$(find "$mc_md/tmp" -type f)" ]; then
		fail "$mc_what: files left in $mc_md/tmp"
	fi
	for f in "$mc_md"/new/*; do
		[ -f "$f" ] || continue
		mc_size=$(wc -c <"$f" | tr -d ' ')
		# ,S=<size>, then the tag of messages that had a uid.
		case $f in
		*",S=$mc_size" | *",S=$mc_size,PF="????????????????-[0-9]*) ;;
		*) fail "$mc_what: ${f##*/} does not end in ,S=$mc_size" ;;
		esac
	done
	sums "$@" >"$T/sums.want"
	sums "$mc_md/new" >"$T/sums.got"
	if ! cmp -s "$T/sums.want" "$T/sums.got"; then
		say "$mc_what: want $(wc -l <"$T/sums.want") messages," \
		    "got $(wc -l <"$T/sums.got"); differences (sha256):"
		diff "$T/sums.want" "$T/sums.got" | head -n 20 >&2 || :
		fail "$mc_what: $mc_md/new differs from the originals"
	fi
}

# Everything a test needs before it starts: prerequisites, the private
# directories and the cleanup trap.
lib_prereq
trap lib_cleanup EXIT
trap 'lib_signal=130; exit 130' INT HUP TERM
lib_mktemp
lib_cores_setup

# fake POP3 server
#
# Helpers for the fault-injection tests (faults.sh, fault-*.sh).  They
# play the scripts of tests/fake/scripts/ with tests/fake/fake-pop3 and
# need no Dovecot: source this file with LIB_NEED_DOVECOT=no.  Each
# check runs in a subshell with its own directory and state
# (fake_check); inside it a failed assertion is recorded and the check
# goes on, so that one run reports every promise that does not hold.

FAKE_BIN=$top_builddir/tests/fake/fake-pop3
FAKE_SCRIPTS=$top_srcdir/tests/fake/scripts
# shellcheck disable=SC2034 # for the tests that source this file
FAKE_MAIL=$top_srcdir/tests/fake/mail
# The fake server's hard timeout: it never outlives a check by more.
FAKE_TIMEOUT=40
FAKE_PID=
FAKE_NPASS=0
FAKE_NFAIL=0
FAKE_FAILED=

fake_now_ms()
{
	date +%s%3N
}

# fake_abort WHY: end the current check at once.
fake_abort()
{
	say "  FAIL: $*"
	exit 1
}

# fake_check NAME FUNCTION: run FUNCTION as the check called NAME.
fake_check()
{
	say "--- $1"
	set +e
	(
		set -e
		fake_enter "$1"
		"$2"
		fake_leave
	)
	fc_rc=$?
	set -e
	if [ "$fc_rc" -eq 0 ]; then
		say "PASS: $1"
		FAKE_NPASS=$((FAKE_NPASS + 1))
	else
		say "FAIL: $1"
		FAKE_NFAIL=$((FAKE_NFAIL + 1))
		FAKE_FAILED="$FAKE_FAILED
	$1"
	fi
}

# fake_summary: one line per failed check; the test's exit status.
fake_summary()
{
	say "$FAKE_NPASS checks passed, $FAKE_NFAIL failed"
	if [ "$FAKE_NFAIL" -gt 0 ]; then
		say "failed:$FAKE_FAILED"
		exit 1
	fi
	exit 0
}

# Inside a check: a private directory, state and configuration; a
# failed assertion is noted, and the check goes on.
fake_enter()
{
	fe_dir=$(printf '%s' "$1" | tr -c 'A-Za-z0-9-' '_')
	T=$T/$fe_dir
	mkdir -p "$T/state" "$T/client" "$T/want"
	XDG_STATE_HOME=$T/state
	export XDG_STATE_HOME
	PF_OUT=$T/pf.out
	PF_ERR=$T/pf.err
	PF_CONF=$T/popfetch.conf
	FAKE_BROKEN=no
	pf_config_new
	trap fake_stop EXIT
	# shellcheck disable=SC2317 # called by the assertions above
	fail()
	{
		say "  FAIL: $*"
		FAKE_BROKEN=yes
	}
}

fake_leave()
{
	fake_stop
	[ "$FAKE_BROKEN" = no ]
}

# fake_start SCRIPT...: start the fake server; connection i plays
# tests/fake/scripts/SCRIPT_i.pop3.  Sets FAKE_PORT and FAKE_LOG (every
# line the client sent; the server's notes start with "# ").
fake_start()
{
	fs_n=$#
	for fs_s; do
		[ -f "$FAKE_SCRIPTS/$fs_s.pop3" ] ||
		    fake_abort "no script $FAKE_SCRIPTS/$fs_s.pop3"
		set -- "$@" -s "$FAKE_SCRIPTS/$fs_s.pop3"
	done
	shift "$fs_n"
	FAKE_LOG=$T/fake.log
	rm -f "$T/fake.port" "$FAKE_LOG"
	"$FAKE_BIN" -t "$FAKE_TIMEOUT" -p "$T/fake.port" -l "$FAKE_LOG" \
	    "$@" 2>"$T/fake.err" &
	FAKE_PID=$!
	fs_i=0
	while [ ! -s "$T/fake.port" ]; do
		fs_i=$((fs_i + 1))
		if [ "$fs_i" -gt 100 ] || ! kill -0 "$FAKE_PID" 2>/dev/null; then
			cat "$T/fake.err" >&2
			fake_abort "the fake server did not start"
		fi
		sleep 0.05
	done
	FAKE_PORT=$(cat "$T/fake.port")
}

# fake_stop: kill the fake server if it still runs.
fake_stop()
{
	[ -n "$FAKE_PID" ] || return 0
	kill "$FAKE_PID" 2>/dev/null || :
	wait "$FAKE_PID" 2>/dev/null || :
	FAKE_PID=
}

# fake_finish WHAT: once the last popfetch is done, the fake server
# must end within a few seconds, every script played as written.
fake_finish()
{
	ff_i=0
	while kill -0 "$FAKE_PID" 2>/dev/null; do
		ff_i=$((ff_i + 1))
		if [ "$ff_i" -gt 100 ]; then
			kill "$FAKE_PID" 2>/dev/null || :
			say "  the fake server still waits: not every script" \
			    "was played"
			break
		fi
		sleep 0.05
	done
	FAKE_RC=0
	wait "$FAKE_PID" || FAKE_RC=$?
	FAKE_PID=
	if [ "$FAKE_RC" -ne 0 ]; then
		say "  the fake server's notes:"
		grep -v '^fake-pop3: connection' "$T/fake.err" | tail -n 10 >&2
		fail "$1: the client did not follow the script" \
		    "(fake server status $FAKE_RC)"
	fi
}

# fake_account [-t TIMEOUT] NAME TLS DELETE: an account on the fake
# server, user fakeuser, Maildir $T/client/NAME.
fake_account()
{
	fa_timeout=10
	OPTIND=1
	while getopts t: fa_o; do
		case $fa_o in
		t) fa_timeout=$OPTARG ;;
		*) fake_abort "fake_account: bad option" ;;
		esac
	done
	shift $((OPTIND - 1))
	{
		printf 'account "%s" {\n' "$1"
		printf '\thost = "127.0.0.1"\n\tport = %s\n\ttls = %s\n' \
		    "$FAKE_PORT" "$2"
		if [ "$2" = off ]; then
			printf '\tallow_plaintext = yes\n'
		else
			printf '\tca_file = "%s"\n' \
			    "$top_srcdir/tests/data/tls/ca.pem"
		fi
		printf '\tuser = "fakeuser"\n\tpassword = "%s"\n' \
		    "$PF_PASSWORD"
		printf '\tmaildir = "%s"\n\tdelete = %s\n\ttimeout = %s\n}\n' \
		    "$T/client/$1" "$3" "$fa_timeout"
	} >>"$PF_CONF"
}

# fake_pf ARGS...: run popfetch -v -v on $PF_CONF; PF_RC, PF_MS (how
# long it ran, in milliseconds).  The password must not show.
fake_pf()
{
	fp_t0=$(fake_now_ms)
	pf_run -v -v "$@"
	PF_MS=$(($(fake_now_ms) - fp_t0))
	say "  popfetch exited $PF_RC after $PF_MS ms"
	for fp_f in "$PF_OUT" "$PF_ERR"; do
		if grep -qF -- "$PF_PASSWORD" "$fp_f"; then
			fail "the password appears in popfetch's ${fp_f##*/}"
		fi
	done
}

# fake_within WHAT MS: the last run took at most MS milliseconds.
fake_within()
{
	[ "$PF_MS" -le "$2" ] ||
	    fail "$1: popfetch ran $PF_MS ms, more than $2 ms"
}

# fake_lines N: the lines the client sent on connection N.
fake_lines()
{
	awk -v n="$1" '
	    /^# connection [0-9]+: / { split($3, a, ":"); c = a[1]; next }
	    /^# / { next }
	    c == n' "$FAKE_LOG"
}

# fake_sent WHAT N REGEX / fake_not_sent WHAT N REGEX: the client sent
# (or did not send) a line matching REGEX on connection N.
fake_sent()
{
	fake_lines "$2" >"$T/lines"
	grep -Eq -- "$3" "$T/lines" ||
	    fail "$1: the client never sent '$3' (connection $2)"
}

fake_not_sent()
{
	fake_lines "$2" >"$T/lines"
	if grep -Eq -- "$3" "$T/lines"; then
		fail "$1: the client sent '$(grep -E -- "$3" "$T/lines" |
		    head -n 1)' (connection $2)"
	fi
}

# fake_commands WHAT N CMD...: from its first RETR or DELE on, the
# client sent exactly the commands CMD... on connection N.
fake_commands()
{
	fc_what=$1
	fc_n=$2
	shift 2
	printf '%s\n' "$@" >"$T/cmds.want"
	fake_lines "$fc_n" | awk '/^(RETR|DELE) / { p = 1 } p' >"$T/cmds.got"
	if ! cmp -s "$T/cmds.want" "$T/cmds.got"; then
		diff "$T/cmds.want" "$T/cmds.got" >&2 || :
		fail "$fc_what: the commands on connection $fc_n are not" \
		    "as expected"
	fi
}

# fake_maildir WHAT NAME FILE...: the account's Maildir holds exactly
# the FILEs in new/ (byte for byte, as a multiset, each named with its
# ,S=size), and nothing in cur/ or tmp/.
fake_maildir()
{
	fm_what=$1
	fm_md=$T/client/$2
	shift 2
	if [ $# -eq 0 ]; then
		fm_n=0
		if [ -d "$fm_md" ]; then
			fm_n=$(find "$fm_md" -type f | wc -l | tr -d ' ')
		fi
		[ "$fm_n" -eq 0 ] ||
		    fail "$fm_what: $fm_n files in the Maildir, expected none"
		return 0
	fi
	maildir_check "$fm_what" "$fm_md" "$@"
	if [ -n "$(find "$fm_md/cur" -type f 2>/dev/null)" ]; then
		fail "$fm_what: files in $fm_md/cur"
	fi
}

# fake_message WHAT REGEX: popfetch's stderr has a line matching REGEX.
fake_message()
{
	grep -Eq -- "$2" "$PF_ERR" || {
		grep -v ': [CS]: ' "$PF_ERR" | tail -n 5 >&2
		fail "$1: no message matching '$2' on stderr"
	}
}

# fake_pf_bg ARGS...: start popfetch -v -v in the background, with
# SIGINT and SIGTERM at their defaults (a shell starts background jobs
# with SIGINT ignored); PF_BG_PID.
fake_pf_bg()
{
	env --default-signal=INT,TERM "$PF_BIN" -c "$PF_CONF" -v -v "$@" \
	    >"$PF_OUT" 2>"$PF_ERR" &
	PF_BG_PID=$!
	PF_BG_T0=$(fake_now_ms)
}

# fake_pf_wait SECONDS: wait at most SECONDS for the background popfetch;
# PF_RC, PF_MS.  One still running then is killed (status 124).
fake_pf_wait()
{
	fw_i=0
	while kill -0 "$PF_BG_PID" 2>/dev/null; do
		fw_i=$((fw_i + 1))
		if [ "$fw_i" -gt $(($1 * 10)) ]; then
			kill -9 "$PF_BG_PID" 2>/dev/null || :
			wait "$PF_BG_PID" 2>/dev/null || :
			PF_RC=124
			PF_MS=$(($(fake_now_ms) - PF_BG_T0))
			say "  popfetch still ran after $1 s: killed"
			return 0
		fi
		sleep 0.1
	done
	PF_RC=0
	wait "$PF_BG_PID" || PF_RC=$?
	PF_MS=$(($(fake_now_ms) - PF_BG_T0))
	say "  popfetch exited $PF_RC after $PF_MS ms"
}

# fake_wait_line N REGEX SECONDS: wait until the client has sent a line
# matching REGEX on connection N.
fake_wait_line()
{
	fl_i=0
	until fake_lines "$1" 2>/dev/null | grep -Eq -- "$2"; do
		fl_i=$((fl_i + 1))
		[ "$fl_i" -le $(($3 * 20)) ] ||
		    fake_abort "the client never sent '$2'"
		sleep 0.05
	done
}

# kill and cut tests
#
# Helpers of kill.sh and cut.sh: a seeded random number generator, the
# processes a test starts in the background (killed by the cleanup
# whatever happens), copies of a seeded mailbox, and an audit of a
# Maildir against the original messages that counts what was lost,
# duplicated or damaged rather than stopping at the first fault.

FAULT_PROXY_PID=
CUT_PROXY=$top_builddir/tests/tools/cut-proxy

# fault_seed NAME: the seed in the environment variable NAME if set,
# else a fresh one from /dev/urandom; the test prints it, so that a run
# can be replayed.
fault_seed()
{
	eval "fs_seed=\${$1:-}"
	if [ -z "$fs_seed" ]; then
		fs_seed=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
	fi
	case $fs_seed in
	'' | *[!0-9]*) fail "$1 must be a decimal number" ;;
	esac
	[ "${#fs_seed}" -le 10 ] || fail "$1 must be below 2^32"
	echo "$fs_seed"
}

# rand_seed N: start the generator; the same seed gives the same draws.
rand_seed()
{
	RAND_STATE=$(($1 % 2147483648))
}

# rand_step: one step of a 31-bit linear congruential generator (the
# constants of the example rand() in the C standard).
rand_step()
{
	RAND_STATE=$(((RAND_STATE * 1103515245 + 12345) % 2147483648))
}

# rand_below N: RAND becomes a number in [0, N), for 0 < N < 2^40.  The
# low bits of such a generator are weak, so two draws give 23 high bits
# each.
rand_below()
{
	rand_step
	rb_hi=$((RAND_STATE >> 8))
	rand_step
	# shellcheck disable=SC2034 # for the tests that source this file
	RAND=$((((rb_hi << 23) | (RAND_STATE >> 8)) % $1))
}

# now_ms: milliseconds since the epoch (GNU date).
now_ms()
{
	nm_ns=$(date +%s%N)
	echo $((nm_ns / 1000000))
}

# ms_to_s MS: the same time in seconds, as sleep(1) takes it.
ms_to_s()
{
	printf '%d.%03d\n' $(($1 / 1000)) $(($1 % 1000))
}

# fault_cleanup: the EXIT trap of kill.sh and cut.sh.  It kills the
# proxy if one runs, then does lib_cleanup's work.
fault_cleanup()
{
	fc_rc=$?
	set +e
	if [ -n "$FAULT_PROXY_PID" ]; then
		kill -9 "$FAULT_PROXY_PID" 2>/dev/null
		wait "$FAULT_PROXY_PID" 2>/dev/null
		FAULT_PROXY_PID=
	fi
	fault_status "$fc_rc"
	lib_cleanup
}

fault_status()
{
	return "$1"
}

fault_trap()
{
	trap fault_cleanup EXIT
}

# fault_strays: fail if a process still runs with our popfetch
# configuration on its command line (a popfetch, or a child it left).
fault_strays()
{
	for fs_p in /proc/[0-9]*; do
		[ "${fs_p#/proc/}" != "$$" ] || continue
		if tr '\0' ' ' 2>/dev/null <"$fs_p/cmdline" |
		    grep -qF -- "$PF_CONF"; then
			fail "process ${fs_p#/proc/} still runs:" \
			    "$(tr '\0' ' ' 2>/dev/null <"$fs_p/cmdline")"
		fi
	done
}

# mailbox_clone USER TEMPLATE: copy the messages of TEMPLATE's server
# Maildir (seeded, never opened by Dovecot) into USER's.
mailbox_clone()
{
	cp -p "$T/srv/$2/Maildir/new/"* "$T/srv/$1/Maildir/new/"
}

# pf_kill_after DELAY_MS LOG ARGS...: run popfetch with -c $PF_CONF and
# send it SIGKILL after DELAY_MS milliseconds, unless it ended before.
# KILL_RC is 137 when the kill hit it, else its own exit status.
pf_kill_after()
{
	ka_s=$(ms_to_s "$1")
	# For timeout(1), 0 means no limit at all.
	[ "$ka_s" != 0.000 ] || ka_s=0.001
	ka_log=$2
	shift 2
	KILL_RC=0
	# --foreground: timeout kills popfetch alone and waits for it, so
	# that the next run never meets a dying one still holding the
	# account's lock; --preserve-status gives popfetch's own status
	# (137 when killed).  The shell's own "Killed" notice is not wanted.
	# shellcheck disable=SC2034 # for the tests that source this file
	{ timeout --foreground --preserve-status -s KILL "$ka_s" \
	    "$PF_BIN" -c "$PF_CONF" "$@" \
	    >"$ka_log.out" 2>"$ka_log.err" || KILL_RC=$?; } 2>/dev/null
}

# proxy_start PORTFILE ARGS...: start cut-proxy in front of Dovecot's
# plain port; PROXY_PORT is its port.  Its report goes to PORTFILE.log.
proxy_start()
{
	ps_file=$1
	shift
	rm -f "$ps_file"
	"$CUT_PROXY" -p "$ps_file" -s "$DOVECOT_PORT" "$@" \
	    >"$ps_file.log" 2>&1 &
	FAULT_PROXY_PID=$!
	ps_n=0
	while [ ! -s "$ps_file" ]; do
		ps_n=$((ps_n + 1))
		if [ "$ps_n" -ge 100 ] ||
		    ! kill -0 "$FAULT_PROXY_PID" 2>/dev/null; then
			cat "$ps_file.log" >&2
			fail "cut-proxy did not start"
		fi
		sleep 0.05
	done
	# shellcheck disable=SC2034 # for the tests that source this file
	PROXY_PORT=$(cat "$ps_file")
}

proxy_stop()
{
	[ -n "$FAULT_PROXY_PID" ] || return 0
	kill "$FAULT_PROXY_PID" 2>/dev/null || :
	wait "$FAULT_PROXY_PID" 2>/dev/null || :
	FAULT_PROXY_PID=
}

# dele_before_stored ACCT FILE: from popfetch's -v -v output in FILE,
# the first message number n for which "C: DELE n" went out before the
# line saying message n was stored, although that run had sent RETR n
# (a message deleted without RETR was stored by an earlier run); empty
# if none.  The delivery invariant as the client tells it.
dele_before_stored()
{
	awk -v a="popfetch: $1: " '
	    function num(s, skip) { split(substr(s, length(a) + skip), w, ":"); return w[1] }
	    index($0, a "C: RETR ") == 1 { retr[num($0, 9)] = 1 }
	    index($0, a "message ") == 1 && / octets stored$/ { stored[num($0, 9)] = 1 }
	    index($0, a "C: DELE ") == 1 {
		n = num($0, 9)
		if ((n in retr) && !(n in stored)) { print n; exit }
	    }' "$2"
}

# pf_rule_lists NAME: a rule that files about one gen-mail message in
# five (by its Subject's number) into the Maildir $T/client/NAME.lists,
# given by path; maildir_audit counts that Maildir as NAME's.
pf_rule_lists()
{
	{
		printf 'rule "lists" {\n'
		printf '\theader_matches = {"Subject", "gen-mail [0-9]*[37]\\\\]"}\n'
		printf '\tfolder = "%s"\n}\n' "$T/client/$1.lists"
	} >>"$PF_CONF"
}

# maildir_audit MAILDIR SUMS: compare MAILDIR's new/ and cur/ (with those
# of MAILDIR.lists, if pf_rule_lists filed there) with the originals,
# whose sorted SHA-256 sums (all different) are in the file SUMS.  Sets
# AUDIT_LOST (originals missing), AUDIT_DUP (extra copies of originals),
# AUDIT_BAD (files that are no original, or whose size is not their ,S=
# value: a partial file) and AUDIT_TMP (files in tmp/).  The sums of
# duplicated messages go to $T/audit.dup, one per copy too many.
maildir_audit()
{
	ma_md=$1
	ma_sums=$2
	set -- "$ma_md/new" "$ma_md/cur"
	ma_tmp=$ma_md/tmp
	if [ -d "$ma_md.lists" ]; then
		set -- "$@" "$ma_md.lists/new" "$ma_md.lists/cur"
		ma_tmp="$ma_tmp $ma_md.lists/tmp"
	fi
	# Name sizes and real sizes; a name without ,S= counts as bad.
	AUDIT_BAD=$(find "$@" -type f -printf '%s %f\n' |
	    awk '{
		if (match($2, /,S=[0-9]+/) == 0 ||
		    substr($2, RSTART + 3, RLENGTH - 3) + 0 != $1 + 0) {
			print "bad size: " $2 " is " $1 " octets" >"/dev/stderr"
			bad++
		}
	    } END { print bad + 0 }')
	find "$@" -type f -exec sha256sum -- {} + | sort >"$T/audit.got"
	rm -f "$T/audit.dup"
	: >"$T/audit.dup"
	awk -v dupfile="$T/audit.dup" '
	    NR == FNR { want[$1] = 1; next }
	    {
		n[$1]++
		if (!($1 in want)) {
			print "not an original: " $2 >"/dev/stderr"
			bad++
		} else if (n[$1] > 1) {
			print $1 >dupfile
			dup++
		}
	    }
	    END {
		for (s in want)
			if (!(s in n))
				lost++
		print lost + 0, dup + 0, bad + 0
	    }' "$ma_sums" "$T/audit.got" >"$T/audit.counts"
	# shellcheck disable=SC2034 # for the tests that source this file
	read -r AUDIT_LOST AUDIT_DUP ma_bad <"$T/audit.counts"
	AUDIT_BAD=$((AUDIT_BAD + ma_bad))
	# shellcheck disable=SC2034 # for the tests that source this file
	# shellcheck disable=SC2086 # one directory a word
	AUDIT_TMP=$(find $ma_tmp -type f | wc -l | tr -d ' ')
}

# audit_explain_dups ACCT LOGS: after maildir_audit found duplicates in
# ACCT's Maildir, name the copies of each and say which runs reported
# them delivered (the -v output in LOGS/run-*.err) and whether the UIDL
# journal names them; then show each run's last line.  A copy that no
# run reported and that the journal does not name was linked into new/
# by a run that died before it recorded the uid.
audit_explain_dups()
{
	ed_journal=$XDG_STATE_HOME/popfetch/$1.uidl
	sort -u "$T/audit.dup" | while read -r ed_sum; do
		say "  duplicated message, sha256 $ed_sum:"
		grep -- "^$ed_sum " "$T/audit.got" | while read -r _ ed_f; do
			ed_name=${ed_f##*/}
			ed_runs=$(grep -lF -- "$ed_name" "$2"/run-*.err \
			    2>/dev/null | sed 's,.*/,,' | tr '\n' ' ')
			ed_j=no
			if grep -qF -- "$ed_name" "$ed_journal" 2>/dev/null
			then
				ed_j=yes
			fi
			say "    $ed_name: reported by: ${ed_runs:-no run};" \
			    "in the journal: $ed_j"
		done
	done
	for ed_f in "$2"/run-*.err; do
		say "  ${ed_f##*/}, last line:" \
		    "$(tail -n 1 "$ed_f" | cut -c 1-120)"
	done
}

# fault_mailbox N SEED: N messages made by gen-mail in $T/orig/m, their
# sums in $T/orig.sums, and the server user "template" seeded with them
# (Dovecot never opens it: mailbox_clone copies it for every trial).
# Every 7th message and the one 40 after it carry the same X-UIDL header
# (they differ in size), so that with DOVECOT_SHARED_UIDL in
# DOVECOT_EXTRA_CONF the server lists them under one unique-id, in
# different rounds.
fault_mailbox()
{
	gen_mail "$T/orig/m" -n "$1" -s "$2"
	fm_k=7
	while [ "$((fm_k + 40))" -le "$1" ]; do
		for fm_i in "$fm_k" "$((fm_k + 40))"; do
			fm_f=$(printf '%s/orig/m/msg-%05d.eml' "$T" "$fm_i")
			{
				printf 'X-UIDL: shared-%d\n' "$fm_k"
				cat "$fm_f"
			} >"$fm_f.x"
			mv "$fm_f.x" "$fm_f"
		done
		fm_a=$(printf '%s/orig/m/msg-%05d.eml' "$T" "$fm_k")
		fm_b=$(printf '%s/orig/m/msg-%05d.eml' "$T" "$((fm_k + 40))")
		# Twins (the same size too) would be a case of their own.
		[ "$(wc -c <"$fm_a")" -ne "$(wc -c <"$fm_b")" ] ||
		    printf 'one more line\n' >>"$fm_b"
		fm_k=$((fm_k + 7))
	done
	sums "$T/orig/m" >"$T/orig.sums"
	[ -z "$(uniq -d "$T/orig.sums")" ] ||
	    fail "gen-mail made two equal messages"
	user_add template
	seed template "$T/orig/m"
}

# auth and TLS policy tests
#
# Helpers for auth.sh, tls-policy.sh and secrets.sh: more certificates,
# a Dovecot held to some TLS versions, users with a password of their
# own or stored in a hashed scheme, the SHA-256 fingerprint of a
# certificate, Dovecot's log by path (checks run in a subdirectory of
# $T), and the proof that a secret shows in no output, neither as it is
# nor in base64.

# For DOVECOT_EXTRA_CONF: a message's X-UIDL header, where it has one,
# is its unique-id (fault_mailbox gives some messages the same one).
# shellcheck disable=SC2034 # for the tests that source this file
DOVECOT_SHARED_UIDL='protocol pop3 {
  pop3_reuse_xuidl = yes
}'

# For DOVECOT_EXTRA_CONF: no growing delay after failed logins from
# 127.0.0.1 (anvil's auth penalty, up to 15 seconds), which tests of
# wrong passwords would otherwise build up.
# shellcheck disable=SC2034 # for the tests that source this file
DOVECOT_CONF_NO_PENALTY='service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}'

# pki_more: besides pki_make's certificates, $T/pki/expired.pem (issued
# by the test CA for localhost and 127.0.0.1, expired since 2020) and
# $T/pki/selfsigned.pem (the same names, issued by itself).
pki_more()
{
	[ -d "$T/pki" ] || pki_make
	(
		cd "$T/pki"
		cat >expired.tmpl <<-EOF
		cn = "localhost"
		dns_name = "localhost"
		ip_address = "127.0.0.1"
		serial = 5
		activation_date = "2019-01-01 00:00:00"
		expiration_date = "2020-01-01 00:00:00"
		tls_www_server
		signing_key
		encryption_key
		EOF
		cat >selfsigned.tmpl <<-EOF
		cn = "localhost"
		organization = "popfetch self-signed test"
		dns_name = "localhost"
		ip_address = "127.0.0.1"
		serial = 6
		expiration_days = 2
		tls_www_server
		signing_key
		encryption_key
		EOF
		for k in expired selfsigned; do
			certtool --generate-privkey --key-type=ecdsa \
			    --outfile "$k.key"
		done
		certtool --generate-certificate --load-privkey expired.key \
		    --load-ca-certificate ca.pem --load-ca-privkey ca.key \
		    --template expired.tmpl --outfile expired.pem
		certtool --generate-self-signed --load-privkey selfsigned.key \
		    --template selfsigned.tmpl --outfile selfsigned.pem
	) >"$T/pki-more.log" 2>&1 ||
	    fail "certtool failed: $(cat "$T/pki-more.log")"
}

# pki_fingerprint PEM: the certificate's SHA-256 fingerprint as certtool
# sees it, "SHA256:" and 64 lowercase hex digits without colons.
pki_fingerprint()
{
	certtool -i --infile "$1" | awk '
	    /Fingerprint:/ { f = 1; next }
	    f && /sha256:/ { sub(/.*sha256:/, ""); print "SHA256:" $1; exit }'
}

# dovecot_tls_versions MIN MAX (OpenSSL's names, TLSv1.1 ...): before
# dovecot_start, hold Dovecot to these TLS versions.  Dovecot 2.3 has a
# minimum of its own but no maximum, so the OpenSSL configuration it
# loads sets both; the security level is lowered so that OpenSSL 3 will
# speak TLS 1.1 at all.
dovecot_tls_versions()
{
	cat >"$T/openssl.cnf" <<-EOF
	openssl_conf = popfetch_test
	[popfetch_test]
	ssl_conf = popfetch_ssl
	[popfetch_ssl]
	system_default = popfetch_tls
	[popfetch_tls]
	MinProtocol = $1
	MaxProtocol = $2
	CipherString = DEFAULT@SECLEVEL=0
	EOF
	DOVECOT_EXTRA_CONF="import_environment = \$import_environment OPENSSL_CONF=$T/openssl.cnf
ssl_min_protocol = $1
ssl_cipher_list = DEFAULT@SECLEVEL=0${DOVECOT_EXTRA_CONF:+
$DOVECOT_EXTRA_CONF}"
}

# user_password NAME SECRET [SCHEME]: NAME (made by user_add) logs in
# with SECRET, stored as it is or hashed in SCHEME (CRAM-MD5,
# SCRAM-SHA-1, SCRAM-SHA-256), with which only that mechanism and the
# ones that send the password itself work.
user_password()
{
	if [ $# -ge 3 ]; then
		up_stored=$(doveadm -c /dev/null pw -s "$3" -p "$2") ||
		    fail "doveadm pw -s $3 failed"
	else
		up_stored="{PLAIN}$2"
	fi
	printf '%s:%s:%s:%s::%s::\n' "$1" "$up_stored" "$MAIL_UID" \
	    "$MAIL_GID" "$T/srv/$1" >"$T/dovecot/users/$1.tmp"
	chmod 0644 "$T/dovecot/users/$1.tmp"
	mv "$T/dovecot/users/$1.tmp" "$T/dovecot/users/$1"
}

# dv_log_init: remember where Dovecot's log is, for dv_count and dv_wait
# in checks that run in a subdirectory.
dv_log_init()
{
	DV_LOG=$T/dovecot/dovecot.log
}

dv_count()
{
	grep -Ec -- "$1" "$DV_LOG" 2>/dev/null || :
}

# dv_wait WHAT REGEX N: wait (at most 5 seconds) until N lines of
# Dovecot's log match REGEX; a failure otherwise.
dv_wait()
{
	dw_i=0
	while [ "$(dv_count "$2")" -lt "$3" ] && [ "$dw_i" -lt 50 ]; do
		dw_i=$((dw_i + 1))
		sleep 0.1
	done
	[ "$(dv_count "$2")" -ge "$3" ] ||
	    fail "$1: Dovecot's log has $(dv_count "$2") lines matching" \
	    "'$2', expected $3"
}

# dv_quiet: let Dovecot's log process catch up, so that a count taken
# now includes every session that has ended.
dv_quiet()
{
	dq_n=$(wc -l <"$DV_LOG")
	while sleep 0.3; do
		dq_m=$(wc -l <"$DV_LOG")
		[ "$dq_m" -ne "$dq_n" ] || break
		dq_n=$dq_m
	done
}

# b64_forms SECRET: what any base64 text holding SECRET must contain,
# whatever its offset in the encoded data: for each of the three
# alignments, the characters that depend on SECRET's bytes alone.
b64_forms()
{
	for bf_pad in '' x xx; do
		printf '%s%s' "$bf_pad" "$1" | base64 -w 0 |
		    awk -v p="${#bf_pad}" '{
			s = p ? substr($0, 5) : $0
			print substr(s, 1, length(s) - 4)
		    }'
	done
}

# assert_no_secret WHAT SECRET FILE...: SECRET, and SECRET in base64,
# appear in none of the FILEs.
assert_no_secret()
{
	ns_what=$1
	ns_secret=$2
	shift 2
	[ "${#ns_secret}" -ge 12 ] ||
	    fail "assert_no_secret: a secret this short proves nothing"
	b64_forms "$ns_secret" >"$T/b64.forms"
	for ns_f; do
		if grep -qF -- "$ns_secret" "$ns_f"; then
			fail "$ns_what: the secret appears in ${ns_f##*/}"
		elif grep -qF -f "$T/b64.forms" "$ns_f"; then
			fail "$ns_what: the secret appears in base64 in" \
			    "${ns_f##*/}"
		fi
	done
}
