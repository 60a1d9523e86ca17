#!/bin/sh
# shellcheck shell=sh
# bench/bench.sh: popfetch against mpop, getmail6, fetchmail + maildrop
# and a raw-transfer baseline, side by side, on the same mailboxes of a
# private Dovecot on 127.0.0.1.  Run by "make bench"; see bench/README.md
# for what it measures and the variables that change it.

set -eu

: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir

BENCH_SRC=$top_srcdir/bench
BENCH_OUT=${BENCH_OUT:-$BENCH_SRC}
GEN_BENCH=$top_builddir/bench/gen-bench
RAWPOP=$top_builddir/bench/rawpop
RELAY=$top_builddir/bench/relay
# Debian's Python: getmail's modules are installed for it.
BENCH_PYTHON=/usr/bin/python3
[ -x "$BENCH_PYTHON" ] || BENCH_PYTHON=python3
VERIFY="$BENCH_PYTHON $BENCH_SRC/verify.py"
# 1: run getmail with bench/getmail-sync.py, which works around its lost
# SIGCHLD wake-up (see there); 0: run getmail as it is.
BENCH_GETMAIL_SYNC=${BENCH_GETMAIL_SYNC:-1}

BENCH_QUICK=${BENCH_QUICK:-0}
if [ "$BENCH_QUICK" = 1 ]; then
	n_small=200 n_large=3 n_keep=5000 runs=2 n_users=100 n_msgs=5
else
	n_small=2000 n_large=20 n_keep=100000 runs=5 n_users=1000 n_msgs=20
fi
BENCH_RUNS=${BENCH_RUNS:-$runs}
BENCH_WARMUP=${BENCH_WARMUP:-1}
BENCH_SEED=${BENCH_SEED:-1939}
BENCH_CLIENTS=${BENCH_CLIENTS-popfetch mpop getmail fetchmail fdm rawpop floor}
# MAILBOX:FS:NET, FS disk or tmpfs, NET plain (POP3, port 110 style) or
# tls (POP3S, implicit TLS), either with a round trip added by
# bench/relay: tls+20ms is POP3S 20 ms away.
BENCH_PROFILES=${BENCH_PROFILES-small:disk:tls small:tmpfs:tls \
large:disk:plain large:disk:tls keep100k:disk:tls \
small:disk:tls+20ms small:disk:tls+50ms large:disk:tls+20ms \
large:disk:tls+50ms}
# popfetch's delete strategies on small, compared with keep and with
# mpop deleting.  NET may carry a round trip, added by bench/relay:
# tls+20ms is POP3S 20 ms away.
BENCH_DELETE=${BENCH_DELETE-small:disk:tls small:tmpfs:tls \
small:disk:tls+20ms small:disk:tls+50ms}
# Which of them: popfetch's each and batch, mpop deleting, rawpop -d.
BENCH_DELETE_MODES=${BENCH_DELETE_MODES-each batch mpop:delete rawpop:delete}
# popfetch -j on small split among 20 accounts.
BENCH_PARALLEL=${BENCH_PARALLEL-small:disk:tls}
# Many accounts: MANY_USERS server users of MANY_MSGS small messages.
BENCH_MANY=${BENCH_MANY-many:disk:tls}
# How long one client run may take before it counts as failed.
BENCH_TIMEOUT=${BENCH_TIMEOUT:-900}

# The command to run it again, with the variables that were set.
BENCH_COMMAND=$(env | grep -E '^BENCH_[A-Z]+=' | sort |
    sed "s/=\(.*\)/='\1'/" | tr '\n' ' ')"make bench"

bench_say()
{
	printf 'bench: %s\n' "$*" >&2
}

# Without a client the comparison is incomplete; as root we can fix that.
bench_deps()
{
	bd_missing=
	for bd in mpop:mpop getmail:getmail6 fetchmail:fetchmail fdm:fdm \
	    maildrop:maildrop dovecot:dovecot-core certtool:gnutls-bin \
	    gnuplot:gnuplot-nox python3:python3; do
		command -v "${bd%%:*}" >/dev/null 2>&1 ||
		    bd_missing="$bd_missing ${bd#*:}"
	done
	[ -x /usr/bin/time ] || bd_missing="$bd_missing time"
	[ -x /usr/lib/dovecot/pop3 ] || [ -x /usr/libexec/dovecot/pop3 ] ||
	    bd_missing="$bd_missing dovecot-pop3d"
	[ -n "$bd_missing" ] || return 0
	if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
		bench_say "missing:$bd_missing; install them (Debian:" \
		    "apt-get install$bd_missing) or run as root"
		exit 1
	fi
	bench_say "installing$bd_missing"
	# shellcheck disable=SC2086 # a list of package names
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    --no-install-recommends $bd_missing >&2 || {
		apt-get update -q >&2
		# shellcheck disable=SC2086
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		    --no-install-recommends $bd_missing >&2
	}
}

bench_deps
for p in "$GEN_BENCH" "$RAWPOP"; do
	[ -x "$p" ] || {
		bench_say "$p is missing: run make bench"
		exit 1
	}
done

# Dovecot, users and the temporary directory come from the test harness.
# shellcheck source=tests/integ/lib.sh
. "$top_srcdir/tests/integ/lib.sh"

TMPFS=
TMPFS_MOUNTED=no
BENCH_WARM=
if [ "$(id -u)" -eq 0 ]; then
	RUN_USER=nobody RUN_UID=$(id -u nobody) RUN_GID=$(id -g nobody)
	RUN_AS="setpriv --reuid=$RUN_UID --regid=$RUN_GID --clear-groups"
else
	RUN_USER=$(id -un) RUN_UID=$(id -u) RUN_GID=$(id -g) RUN_AS=
fi

bench_cleanup()
{
	bc_rc=$?
	# Under set -e the "exit" below would end the handler at once, and
	# lib_cleanup (Dovecot, the temporary directory) would never run.
	set +e
	for bc_pid in $RELAY_PIDS; do
		kill "$bc_pid" 2>/dev/null
	done
	if [ "$TMPFS_MOUNTED" = yes ]; then
		umount "$TMPFS" 2>/dev/null || umount -l "$TMPFS" || :
	elif [ -n "$TMPFS" ]; then
		rm -rf "$TMPFS"
	fi
	(exit "$bc_rc")
	lib_cleanup
}
trap bench_cleanup EXIT

# A tmpfs of our own; where mount is not allowed, /dev/shm.
bench_tmpfs()
{
	TMPFS=$T/tmpfs
	mkdir "$TMPFS"
	if [ "$(id -u)" -eq 0 ] &&
	    mount -t tmpfs -o size=4g,mode=0755 bench "$TMPFS" 2>/dev/null; then
		TMPFS_MOUNTED=yes
		TMPFS_NOTE="a tmpfs mounted for the run"
	else
		rmdir "$TMPFS"
		TMPFS=$(mktemp -d /dev/shm/popfetch-bench.XXXXXX)
		TMPFS_NOTE="/dev/shm (mounting a tmpfs was not allowed)"
	fi
	[ "$(stat -f -c %T "$TMPFS")" = tmpfs ] ||
	    fail "$TMPFS is not on a tmpfs"
	DISK=$T/disk
	mkdir "$DISK"
	DISK_FS=$(findmnt -no FSTYPE -T "$DISK" 2>/dev/null ||
	    stat -f -c %T "$DISK")
	DISK_DEV=$(df -P "$DISK" | awk 'NR == 2 { print $1 }')
}

# bench_seed USER DIR: the server mailbox of USER holds exactly the files
# of DIR, and Dovecot has indexed them (its first look at 100,000 files
# is not what we measure).
bench_seed()
{
	bs_md=$T/srv/$1/Maildir
	find "$bs_md/new" "$bs_md/cur" "$bs_md/tmp" -type f -delete
	cp -R "$2/." "$bs_md/new/"
	chown -R "$MAIL_UID:$MAIL_GID" "$bs_md"
	RAWPOP_PASSWORD=$PF_PASSWORD "$RAWPOP" -p "$DOVECOT_PORT" -u "$1" \
	    -l >/dev/null || fail "rawpop could not list $1"
}

# bench_need MAILBOX: the mailbox exists on the server (made at first
# use, so that a run of some profiles makes only the mailboxes they use).
bench_need()
{
	[ ! -d "$T/orig/$1" ] || return 0
	case $1 in
	small) bench_gen small small "$n_small" ;;
	large) bench_gen large large "$n_large" ;;
	keep100k) bench_gen keep100k tiny "$n_keep" ;;
	*) fail "unknown mailbox $1" ;;
	esac
}

# bench_gen NAME KIND COUNT: originals of a mailbox, in $T/orig/NAME.
bench_gen()
{
	mkdir -p "$T/orig/$1"
	"$GEN_BENCH" -k "$2" -n "$3" -s "$BENCH_SEED" -o "$T/orig/$1" ||
	    fail "gen-bench $2 failed"
	user_add "$1"
	bench_seed "$1" "$T/orig/$1"
	bench_say "$1: $3 messages, $(du -sh "$T/orig/$1" | cut -f 1)"
}

# client_setup CLIENT MAILBOX FS NET MODE: a working directory W for this
# client and profile, with its configuration and the command it runs
# (W/run, a script that ends in exec, so the client is the process we
# time).  The Maildir is W/md, the client's state in W/state, and HOME
# is W.  Clients run as an ordinary user, as mail fetchers do (getmail
# and maildrop refuse to deliver as root): as root, as nobody.
client_setup()
{
	cs_client=$1 cs_user=$2 cs_net=$4 cs_mode=$5
	case $3 in
	disk) W=$DISK ;;
	tmpfs) W=$TMPFS ;;
	esac
	W=$W/$cs_client-$cs_user-$cs_net-$cs_mode
	mkdir -p "$W/md" "$W/state"
	chmod 0700 "$W"
	cs_rtt=
	case $cs_net in
	*+*ms) cs_rtt=${cs_net#*+} cs_rtt=${cs_rtt%ms} cs_net=${cs_net%%+*} ;;
	esac
	case $cs_net in
	plain) cs_port=$DOVECOT_PORT ;;
	tls) cs_port=$DOVECOT_PORT_TLS ;;
	esac
	[ -z "$cs_rtt" ] || relay_port "$cs_port" "$cs_rtt"
	cs_env=
	"client_$cs_client"
	client_script
}

# relay_port PORT RTT: cs_port becomes that of a bench/relay in front of
# PORT that adds RTT milliseconds to each round trip (one relay for
# each, started on first use, ended with the run).
RELAY_PIDS=
relay_port()
{
	rp_file=$T/relay-$1-$2
	if [ ! -s "$rp_file" ]; then
		"$RELAY" -p "$rp_file" -s "$1" -r "$2" &
		RELAY_PIDS="$RELAY_PIDS $!"
		rp_n=0
		while [ ! -s "$rp_file" ]; do
			rp_n=$((rp_n + 1))
			[ "$rp_n" -lt 100 ] || fail "bench/relay did not start"
			sleep 0.05
		done
	fi
	cs_port=$(cat "$rp_file")
}

# client_script: W/run, which runs cs_cmd in the environment cs_env as
# the user the clients run as.
client_script()
{
	printf 'HOME=%s %s exec %s %s\n' "$W" "$cs_env" "$RUN_AS" "$cs_cmd" \
	    >"$W/run"
	chown -R "$RUN_UID:$RUN_GID" "$W"
}

client_popfetch()
{
	popfetch_account bench "$cs_user" "$W/md" "$cs_mode" \
	    >"$W/popfetch.conf"
	chmod 0600 "$W/popfetch.conf"
	cs_env="XDG_STATE_HOME=$W/state"
	cs_cmd="$PF_BIN -q -c $W/popfetch.conf"
}

# popfetch_account NAME USER MAILDIR DELETE: one account of popfetch's
# configuration, on the server port cs_port in the mode cs_net.
popfetch_account()
{
	printf 'account "%s" {\n' "$1"
	printf '\thost = "127.0.0.1"\n\tport = %s\n' "$cs_port"
	if [ "$cs_net" = tls ]; then
		printf '\ttls = on\n\tca_file = "%s"\n' "$PKI_CA"
	else
		printf '\ttls = off\n\tallow_plaintext = yes\n'
	fi
	printf '\tuser = "%s"\n\tpassword = "%s"\n' "$2" "$PF_PASSWORD"
	printf '\tmaildir = "%s"\n\tdelete = %s\n' "$3" "$4"
	printf '\ttimeout = 120\n}\n'
}

# mpop delivers to the Maildir itself (no MDA) and pipelines.
client_mpop()
{
	{
		printf 'account bench\nhost 127.0.0.1\nport %s\n' "$cs_port"
		if [ "$cs_net" = tls ]; then
			printf 'tls on\ntls_starttls off\ntls_trust_file %s\n' \
			    "$PKI_CA"
		else
			printf 'tls off\n'
		fi
		printf 'auth user\nuser %s\npassword %s\n' "$cs_user" \
		    "$PF_PASSWORD"
		# mpop's only deleting order is Outlook's: all, then DELE.
		if [ "$cs_mode" = delete ]; then
			printf 'keep off\n'
		else
			printf 'keep on\n'
		fi
		printf 'only_new on\ndelivery maildir %s/md\n' "$W"
		printf 'uidls_file %s/state/uidls\n' "$W"
	} >"$W/mpoprc"
	chmod 0600 "$W/mpoprc"
	cs_cmd="mpop -q -C $W/mpoprc bench"
}

client_getmail()
{
	{
		printf '[retriever]\n'
		if [ "$cs_net" = tls ]; then
			printf 'type = SimplePOP3SSLRetriever\n'
			printf 'ca_certs = %s\n' "$PKI_CA"
		else
			printf 'type = SimplePOP3Retriever\n'
		fi
		printf 'server = 127.0.0.1\nport = %s\n' "$cs_port"
		printf 'username = %s\npassword = %s\n' "$cs_user" \
		    "$PF_PASSWORD"
		# getmail waits that long for a child that has already
		# exited when it loses the race for SIGCHLD (README.md).
		printf 'timeout = 10\n\n'
		printf '[destination]\ntype = Maildir\npath = %s/md/\n\n' "$W"
		printf '[options]\nread_all = false\ndelete = false\n'
		printf 'verbose = 0\n'
	} >"$W/getmailrc"
	chmod 0600 "$W/getmailrc"
	cs_cmd="--rcfile=$W/getmailrc --getmaildir=$W/state"
	if [ "$BENCH_GETMAIL_SYNC" = 1 ]; then
		cs_cmd="$BENCH_PYTHON $BENCH_SRC/getmail-sync.py $cs_cmd"
	else
		cs_cmd="getmail $cs_cmd"
	fi
}

# fetchmail hands each message to maildrop, which writes the Maildir.
client_fetchmail()
{
	printf 'to "%s/md/"\n' "$W" >"$W/mailfilter"
	chmod 0600 "$W/mailfilter"
	{
		printf 'set no bouncemail\n'
		printf 'poll 127.0.0.1 protocol pop3 port %s uidl\n' "$cs_port"
		printf '  user "%s" there password "%s" is "%s" here\n' \
		    "$cs_user" "$PF_PASSWORD" "$RUN_USER"
		printf '  keep\n'
		if [ "$cs_net" = tls ]; then
			printf '  ssl sslcertck sslcertfile "%s"' "$PKI_CA"
			printf ' sslcommonname localhost\n'
		else
			# No opportunistic STLS: plain is plain.
			printf "  sslproto ''\n"
		fi
		printf '  mda "maildrop %s/mailfilter"\n' "$W"
	} >"$W/fetchmailrc"
	chmod 0600 "$W/fetchmailrc"
	cs_env="FETCHMAILHOME=$W/state"
	cs_cmd="fetchmail -s -f $W/fetchmailrc -i $W/state/fetchids"
}

# fdm writes the Maildir itself; its cache of unique-ids makes it fetch
# only new mail.  It cannot be given a CA file: certificates are not
# verified (its default).
client_fdm()
{
	{
		printf 'set lock-file "%s/state/fdm.lock"\n' "$W"
		printf 'action "md" maildir "%s/md"\n' "$W"
		if [ "$cs_net" = tls ]; then
			printf 'account "bench" pop3s'
		else
			printf 'account "bench" pop3'
		fi
		printf ' server "127.0.0.1" port %s\n' "$cs_port"
		printf '\tuser "%s" pass "%s"' "$cs_user" "$PF_PASSWORD"
		if [ "$cs_mode" = delete ]; then
			printf '\n'
		else
			printf ' new-only cache "%s/state/cache" keep\n' "$W"
		fi
		printf 'match all action "md"\n'
	} >"$W/fdm.conf"
	chmod 0600 "$W/fdm.conf"
	cs_cmd="fdm -q -f $W/fdm.conf fetch"
}

# floor: bench/rawpop sending every RETR at once and storing nothing,
# the transfer alone (checked by its count, not by a Maildir).
client_floor()
{
	client_rawpop
	cs_cmd="$RAWPOP -p $cs_port -u $cs_user -s $W/state/seen -n -w 0"
	if [ "$cs_net" = tls ]; then
		cs_cmd="$cs_cmd -T $PKI_CA"
	fi
}

client_rawpop()
{
	cs_env="RAWPOP_PASSWORD=$PF_PASSWORD"
	cs_cmd="$RAWPOP -p $cs_port -u $cs_user -s $W/state/seen -o $W/md"
	if [ "$cs_net" = tls ]; then
		cs_cmd="$cs_cmd -T $PKI_CA"
	fi
	# The baseline of the delete step: everything, then DELE all.
	if [ "$cs_mode" = delete ]; then
		cs_cmd="$cs_cmd -d"
	fi
}

# client_version CLIENT: one line.
client_version()
{
	case $1 in
	popfetch) "$PF_BIN" --version 2>&1 | head -n 1 ;;
	mpop) mpop --version | head -n 1 ;;
	getmail) getmail --version 2>&1 | head -n 1
	    if [ "$BENCH_GETMAIL_SYNC" = 1 ]; then
		    printf ' (children waited for with waitpid():'
		    printf ' bench/getmail-sync.py)'
	    fi ;;
	fetchmail) fetchmail --version 2>/dev/null |
	    sed -n 's/^This is fetchmail release \([^+]*\).*/fetchmail \1/p' |
	    head -n 1
	    printf ' + '
	    maildrop -v 2>&1 | awk 'NR == 1 { print $1, $2 }' ;;
	fdm) printf 'fdm %s' "$(dpkg-query -W -f '${Version}' fdm \
	    2>/dev/null || echo '?')" ;;
	rawpop) echo "bench/rawpop (this tree)" ;;
	floor) echo "bench/rawpop -n -w 0 (this tree)" ;;
	esac | tr -d '\n'
}

# client_ok CLIENT RC: did the client end well?  fetchmail says 1 when
# there was no new mail.
client_ok()
{
	case $1:$2 in
	*:0 | fetchmail:1) return 0 ;;
	*) return 1 ;;
	esac
}

# bench_run CLIENT PROFILE ITER CHECK RESET: one timed run of the client
# set up last (W), then its check: CHECK is the directory of originals
# the Maildir must match, or --empty.  RESET=yes starts from no state
# (every message is new).  Appends a line to $RESULTS.
bench_run()
{
	rm -rf "$W/md"
	mkdir -p "$W/md/tmp" "$W/md/new" "$W/md/cur"
	if [ "$5" = yes ]; then
		rm -rf "$W/state"
		mkdir "$W/state"
	fi
	if [ "$1" = floor ]; then
		bench_clock "$1" "$2" "$3" bench_verify_count "$4"
	else
		bench_clock "$1" "$2" "$3" bench_verify_md "$4"
	fi
}

# bench_verify_md CHECK: W/md against CHECK (see bench_run).
bench_verify_md()
{
	$VERIFY "$1" "$W/md"
}

# bench_verify_count CHECK: the floor stores nothing; it says how many
# messages it retrieved, which must be those of CHECK (none: --empty).
bench_verify_count()
{
	bvc_want=0
	[ "$1" = --empty ] || bvc_want=$(find "$1" -type f | wc -l)
	bvc_got=$(sed -n 's/^[0-9]* messages, \([0-9]*\) retrieved.*/\1/p' \
	    "$W/out")
	[ "$bvc_got" = "$bvc_want" ] || {
		echo "floor retrieved ${bvc_got:-?} messages of $bvc_want" >&2
		return 1
	}
}

# bench_clock CLIENT PROFILE ITER VERIFY [ARG...]: time W/run, whose
# Maildirs and state the caller has prepared, then check the result
# with the command VERIFY ARG... (its complaints on stderr).  Appends
# a line to $RESULTS: a run that fails or does not verify is not timed.
bench_clock()
{
	br_client=$1 br_profile=$2 br_iter=$3
	shift 3
	chown -R "$RUN_UID:$RUN_GID" "$W"
	# The previous run's dirty pages are written now, not on our clock.
	sync
	br_rc=0
	br_s0=$(bench_server_ticks)
	br_t0=$(date +%s%N)
	timeout "$BENCH_TIMEOUT" /usr/bin/time -f '%U %S %M' -o "$W/time" \
	    sh "$W/run" >"$W/out" 2>"$W/err" || br_rc=$?
	br_t1=$(date +%s%N)
	br_s1=$(bench_server_ticks)
	br_status=ok
	if ! client_ok "$br_client" "$br_rc"; then
		br_status=fail:exit-$br_rc
		bench_say "$br_client, $br_profile: exit status $br_rc:"
		tail -n 5 "$W/err" >&2
	elif ! "$@" 2>"$W/verify"; then
		br_status=fail:verify
		bench_say "$br_client, $br_profile: wrong Maildir:"
		cat "$W/verify" >&2
	fi
	# GNU time writes a note first when the command failed.
	br_time=$(tail -n 1 "$W/time")
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$br_profile" "$br_client" \
	    "$br_iter" "$(((br_t1 - br_t0) / 1000))" "$br_time" "$br_status" \
	    "$(awk -v t="$((br_s1 - br_s0))" -v hz="$CLK_TCK" \
	    'BEGIN { printf "%.2f", t / hz }')" | tr ' ' '\t' >>"$RESULTS"
	bench_say "$br_profile $br_client #$br_iter:" \
	    "$(((br_t1 - br_t0) / 1000000)) ms, $br_status"
}

CLK_TCK=$(getconf CLK_TCK)

# bench_server_ticks: the CPU time Dovecot has used so far, in clock
# ticks: its master's own and that of its children it has reaped (the
# pop3 and login processes of finished sessions), and that of the ones
# still running (auth, config, log, anvil).
bench_server_ticks()
{
	{
		cat "/proc/$DOVECOT_PID/stat"
		for bst in $(pgrep -P "$DOVECOT_PID"); do
			cat "/proc/$bst/stat" 2>/dev/null || :
		done
	} | awk '{
		# Fields after the command name, which may hold spaces.
		sub(/^.*\) /, "")
		t += $12 + $13
		if (NR == 1) t += $14 + $15
	} END { print t + 0 }'
}

# bench_profile MAILBOX:FS:NET: every client, a warm-up, then the
# measured runs, in rounds (so that a change of load hits every client
# alike).
bench_profile()
{
	bp_profile=$1
	bp_box=${1%%:*}
	bp_fs=${1#*:}
	bp_net=${bp_fs#*:}
	bp_fs=${bp_fs%%:*}
	bench_need "$bp_box"
	bp_check=$T/orig/$bp_box bp_reset=yes
	if [ "$bp_box" = keep100k ]; then
		bp_check=--empty bp_reset=no
		# Every client starts from the state of a full fetch:
		# the timed runs find nothing new.
		[ -n "${BENCH_UIDS:-}" ] || bench_prime
		for c in $BENCH_CLIENTS; do
			client_setup "$c" "$bp_box" "$bp_fs" "$bp_net" keep
			bench_state "$c"
		done
	fi
	# The warm-up rounds come before the first profile of each mailbox:
	# after them the server's index and cache and the clients' binaries
	# are warm for every later profile too.
	bp_i=1
	case " $BENCH_WARM " in
	*" $bp_box "*) ;;
	*)
		bp_i=$((1 - BENCH_WARMUP))
		BENCH_WARM="$BENCH_WARM $bp_box"
		;;
	esac
	while [ "$bp_i" -le "$BENCH_RUNS" ]; do
		for c in $BENCH_CLIENTS; do
			client_setup "$c" "$bp_box" "$bp_fs" "$bp_net" keep
			bench_run "$c" "$bp_profile" "$bp_i" "$bp_check" \
			    "$bp_reset"
		done
		bp_i=$((bp_i + 1))
	done
}

# bench_prime: the state each client has after its first, full fetch of
# keep100k, in $T/prime/CLIENT.  popfetch, mpop and rawpop make it
# themselves, once, over TLS to a tmpfs (it does not depend on the port
# or on where the Maildir is).  For fetchmail and getmail, which take
# many minutes for 100,000 messages (one maildrop process per message;
# getmail forks once per message too), it is written from the server's
# UIDL list in their own formats, a line per message: the timed runs
# prove it right by fetching nothing.
bench_prime()
{
	mkdir -p "$T/prime"
	for c in rawpop $BENCH_CLIENTS; do
		case $c in
		fetchmail | getmail | floor) continue ;;
		esac
		[ ! -d "$T/prime/$c" ] || continue
		client_setup "$c" keep100k tmpfs tls keep
		rm -rf "$W/md" "$W/state"
		mkdir -p "$W/md/tmp" "$W/md/new" "$W/md/cur" "$W/state"
		chown -R "$RUN_UID:$RUN_GID" "$W"
		bp_t0=$(date +%s)
		bp_rc=0
		timeout "$BENCH_TIMEOUT" sh "$W/run" >"$W/out" 2>"$W/err" ||
		    bp_rc=$?
		bp_n=$(count_new "$W/md")
		bp_s=$(($(date +%s) - bp_t0))
		bench_say "keep100k: $c fetched $bp_n messages in $bp_s s" \
		    "(exit $bp_rc)"
		bench_meta "prime_$c" "$bp_n messages in $bp_s s"
		if ! client_ok "$c" "$bp_rc" || [ "$bp_n" -ne "$n_keep" ]; then
			tail -n 5 "$W/err" >&2
			fail "$c could not fetch keep100k"
		fi
		cp -R "$W/state" "$T/prime/$c"
		rm -rf "$W"
	done
	BENCH_UIDS=$T/prime/rawpop/seen
}

# bench_state CLIENT: the client's keep100k state, into $W/state.
bench_state()
{
	rm -rf "$W/state"
	case $1 in
	fetchmail)
		mkdir "$W/state"
		sed 's/^/keep100k@127.0.0.1 /' "$BENCH_UIDS" \
		    >"$W/state/fetchids"
		;;
	getmail)
		mkdir "$W/state"
		bs_now=$(date +%s)
		awk -v t="$bs_now" '{ printf "%s%c%s\n", $0, 0, t }' \
		    "$BENCH_UIDS" >"$W/state/oldmail-127.0.0.1-$cs_port-keep100k"
		;;
	floor)
		cp -R "$T/prime/rawpop" "$W/state"
		;;
	*)
		cp -R "$T/prime/$1" "$W/state"
		;;
	esac
	# As their owners keep them (fetchmail refuses anything else).
	find "$W/state" -type f -exec chmod 0600 {} +
	chown -R "$RUN_UID:$RUN_GID" "$W"
}

# bench_delete PROFILE: popfetch with delete = each and batch on a fresh
# copy of small each time (the copy is not timed), beside keep.
bench_delete()
{
	bd_fs=${1#*:}
	bd_net=${bd_fs#*:}
	bd_fs=${bd_fs%%:*}
	bench_need small
	[ -d "$T/srv/smalldel" ] || user_add smalldel
	bd_i=$((1 - BENCH_WARMUP))
	while [ "$bd_i" -le "$BENCH_RUNS" ]; do
		# mpop deleting (its only order is batch's); rawpop -d: what
		# deleting costs the server, for scale.
		for bd_mode in $BENCH_DELETE_MODES; do
			bd_client=popfetch
			case $bd_mode in
			*:*) bd_client=${bd_mode%%:*} bd_mode=${bd_mode#*:} ;;
			esac
			case " $BENCH_CLIENTS popfetch " in
			*" $bd_client "*) ;;
			*) continue ;;
			esac
			bench_seed smalldel "$T/orig/small"
			client_setup "$bd_client" smalldel "$bd_fs" "$bd_net" \
			    "$bd_mode"
			bench_run "$bd_client" "small:$bd_fs:$bd_net:$bd_mode" \
			    "$bd_i" "$T/orig/small" yes
			bd_left=$(server_count smalldel)
			if [ "$bd_left" -ne 0 ]; then
				bench_say "$bd_mode left $bd_left messages"
				sed -i '$ s/\tok$/\tfail:server-not-empty/' \
				    "$RESULTS"
			fi
		done
		bd_i=$((bd_i + 1))
	done
}

# Parallel accounts (-j): the messages of small, split in order into
# this many mailboxes of equal size, one server user and one account
# each, so that all the accounts together move the same messages and
# bytes as one account on small.
PAR_ACCOUNTS=20
PAR_BOX=par$PAR_ACCOUNTS
PAR_USERS=
# The -j values compared, side by side in each round.
BENCH_JOBS=${BENCH_JOBS:-1 4}

# bench_par_need: the originals of each account in $T/orig/par20/USER
# and the server mailboxes holding them (made once).
bench_par_need()
{
	[ -z "$PAR_USERS" ] || return 0
	bench_need small
	bpn_per=$((n_small / PAR_ACCOUNTS))
	[ "$bpn_per" -gt 0 ] || fail "small is too small for $PAR_ACCOUNTS accounts"
	find "$T/orig/small" -type f | sort >"$T/small.list"
	bpn_k=1
	while [ "$bpn_k" -le "$PAR_ACCOUNTS" ]; do
		bpn_user=$(printf 'par%02d' "$bpn_k")
		bpn_dir=$T/orig/$PAR_BOX/$bpn_user
		mkdir -p "$bpn_dir"
		sed -n "$(((bpn_k - 1) * bpn_per + 1)),$((bpn_k * bpn_per))p" \
		    "$T/small.list" | xargs cp -t "$bpn_dir"
		user_add "$bpn_user"
		bench_seed "$bpn_user" "$bpn_dir"
		PAR_USERS="$PAR_USERS $bpn_user"
		bpn_k=$((bpn_k + 1))
	done
	bench_say "$PAR_BOX: $PAR_ACCOUNTS accounts of $bpn_per messages of small"
}

# bench_workdir FS NAME NET: W, a new working directory NAME on the file
# system FS, and the server port of NET in cs_port.
bench_workdir()
{
	case $1 in
	disk) W=$DISK ;;
	tmpfs) W=$TMPFS ;;
	esac
	W=$W/$2
	rm -rf "$W"
	mkdir -p "$W/md" "$W/state"
	chmod 0700 "$W"
	cs_net=$3
	case $cs_net in
	plain) cs_port=$DOVECOT_PORT ;;
	tls) cs_port=$DOVECOT_PORT_TLS ;;
	esac
}

# bench_par_setup FS NET JOBS: W for popfetch -j JOBS with one account
# per server user of bench_par_need, each delivering to W/md/USER, all
# in one configuration file.
bench_par_setup()
{
	bench_workdir "$1" "popfetch-$PAR_BOX-$2-j$3" "$2"
	for u in $PAR_USERS; do
		popfetch_account "$u" "$u" "$W/md/$u" keep
	done >"$W/popfetch.conf"
	chmod 0600 "$W/popfetch.conf"
	cs_env="XDG_STATE_HOME=$W/state"
	cs_cmd="$PF_BIN -q -j $3 -c $W/popfetch.conf"
	client_script
}

# bench_par_run PROFILE ITER: one timed run of W (bench_par_setup) with
# empty Maildirs and no state, so that every message is new, then
# every account's Maildir checked against its originals.
bench_par_run()
{
	rm -rf "$W/md" "$W/state"
	mkdir "$W/state"
	for u in $PAR_USERS; do
		mkdir -p "$W/md/$u/tmp" "$W/md/$u/new" "$W/md/$u/cur"
	done
	bench_clock popfetch "$1" "$2" bench_par_verify
}

# bench_par_verify: every account's Maildir; all are checked, so that
# the log names every wrong one.
bench_par_verify()
{
	bpv_rc=0
	for u in $PAR_USERS; do
		$VERIFY "$T/orig/$PAR_BOX/$u" "$W/md/$u" || bpv_rc=1
	done
	return "$bpv_rc"
}

# bench_parallel small:FS:NET: popfetch on the accounts of
# bench_par_need with each -j of BENCH_JOBS, side by side in rounds
# after the warm-up, in profiles par20:FS:NET:jN.
bench_parallel()
{
	bpl_box=${1%%:*}
	bpl_fs=${1#*:}
	bpl_net=${bpl_fs#*:}
	bpl_fs=${bpl_fs%%:*}
	[ "$bpl_box" = small ] ||
	    fail "BENCH_PARALLEL: $1: only small is split among accounts"
	bench_par_need
	bpl_i=$((1 - BENCH_WARMUP))
	while [ "$bpl_i" -le "$BENCH_RUNS" ]; do
		for j in $BENCH_JOBS; do
			bench_par_setup "$bpl_fs" "$bpl_net" "$j"
			bench_par_run "$PAR_BOX:$bpl_fs:$bpl_net:j$j" "$bpl_i"
		done
		bpl_i=$((bpl_i + 1))
	done
}

# Many accounts: BENCH_MANY_USERS server users (m0001, ...) of
# BENCH_MANY_MSGS messages of the small kind each, one account per user.
# popfetch reads them from a directory of account files (include), one
# file per account, and runs with each -j of BENCH_MANY_JOBS; mpop and
# fetchmail have all the accounts in one configuration, as their users
# would, and fetch them one after the other.
BENCH_MANY_USERS=${BENCH_MANY_USERS:-$n_users}
BENCH_MANY_MSGS=${BENCH_MANY_MSGS:-$n_msgs}
BENCH_MANY_JOBS=${BENCH_MANY_JOBS:-1 8 32}
BENCH_MANY_CLIENTS=${BENCH_MANY_CLIENTS-popfetch mpop fetchmail}
MANY_BOX=many$BENCH_MANY_USERS
MANY_USERS=

# bench_many_need: the originals of each user in $T/orig/manyN/USER and
# the server mailboxes holding them (made once).
bench_many_need()
{
	[ -z "$MANY_USERS" ] || return 0
	bmn_all=$T/many-all
	mkdir -p "$bmn_all" "$T/orig/$MANY_BOX"
	"$GEN_BENCH" -k small -n "$((BENCH_MANY_USERS * BENCH_MANY_MSGS))" \
	    -s "$BENCH_SEED" -o "$bmn_all" || fail "gen-bench small failed"
	find "$bmn_all" -type f | sort |
	    split -l "$BENCH_MANY_MSGS" -d -a 5 - "$T/many-part."
	bmn_k=0
	for bmn_part in "$T"/many-part.*; do
		bmn_k=$((bmn_k + 1))
		bmn_user=$(printf 'm%04d' "$bmn_k")
		mkdir "$T/orig/$MANY_BOX/$bmn_user"
		xargs mv -t "$T/orig/$MANY_BOX/$bmn_user" <"$bmn_part"
		user_add "$bmn_user"
		bench_seed "$bmn_user" "$T/orig/$MANY_BOX/$bmn_user"
		MANY_USERS="$MANY_USERS $bmn_user"
	done
	rm -rf "$bmn_all" "$T"/many-part.*
	bench_say "$MANY_BOX: $bmn_k accounts of $BENCH_MANY_MSGS messages"
}

# bench_many_setup CLIENT FS NET JOBS: W for CLIENT on every account of
# bench_many_need, each delivering to W/md/USER.
bench_many_setup()
{
	bench_workdir "$2" "$1-$MANY_BOX-$3-j$4" "$3"
	cs_env=
	"bench_many_$1" "$4"
	client_script
}

bench_many_popfetch()
{
	mkdir -m 0700 "$W/accounts.d"
	for u in $MANY_USERS; do
		popfetch_account "$u" "$u" "$W/md/$u" keep \
		    >"$W/accounts.d/$u.conf"
		chmod 0600 "$W/accounts.d/$u.conf"
	done
	printf 'include = "%s/accounts.d"\n' "$W" >"$W/popfetch.conf"
	chmod 0600 "$W/popfetch.conf"
	cs_env="XDG_STATE_HOME=$W/state"
	cs_cmd="$PF_BIN -q -j $1 -c $W/popfetch.conf"
}

bench_many_mpop()
{
	{
		printf 'defaults\nhost 127.0.0.1\nport %s\n' "$cs_port"
		if [ "$cs_net" = tls ]; then
			printf 'tls on\ntls_starttls off\ntls_trust_file %s\n' \
			    "$PKI_CA"
		else
			printf 'tls off\n'
		fi
		printf 'auth user\npassword %s\nkeep on\nonly_new on\n' \
		    "$PF_PASSWORD"
		printf 'uidls_file %s/state/uidls\n' "$W"
		for u in $MANY_USERS; do
			printf '\naccount %s\nuser %s\n' "$u" "$u"
			printf 'delivery maildir %s/md/%s\n' "$W" "$u"
		done
	} >"$W/mpoprc"
	chmod 0600 "$W/mpoprc"
	cs_cmd="mpop -q -C $W/mpoprc -a"
}

# One poll entry and one user section per account, each handing its
# messages to maildrop with a filter naming its Maildir.
bench_many_fetchmail()
{
	mkdir "$W/filters"
	{
		printf 'set no bouncemail\n'
		printf 'poll 127.0.0.1 protocol pop3 port %s uidl\n' "$cs_port"
		for u in $MANY_USERS; do
			printf 'to "%s/md/%s/"\n' "$W" "$u" >"$W/filters/$u"
			chmod 0600 "$W/filters/$u"
			printf '  user "%s" there password "%s" is "%s" here\n' \
			    "$u" "$PF_PASSWORD" "$RUN_USER"
			printf '  keep\n'
			if [ "$cs_net" = tls ]; then
				printf '  ssl sslcertck sslcertfile "%s"' \
				    "$PKI_CA"
				printf ' sslcommonname localhost\n'
			else
				printf "  sslproto ''\\n"
			fi
			printf '  mda "maildrop %s/filters/%s"\n' "$W" "$u"
		done
	} >"$W/fetchmailrc"
	chmod 0600 "$W/fetchmailrc"
	cs_env="FETCHMAILHOME=$W/state"
	cs_cmd="fetchmail -s -f $W/fetchmailrc -i $W/state/fetchids"
}

# bench_many_run CLIENT PROFILE ITER: one timed run with empty Maildirs
# and no state, then every account's Maildir checked (in one verify.py).
bench_many_run()
{
	rm -rf "$W/md" "$W/state"
	mkdir "$W/state"
	for u in $MANY_USERS; do
		mkdir -p "$W/md/$u/tmp" "$W/md/$u/new" "$W/md/$u/cur"
	done
	bench_clock "$1" "$2" "$3" bench_many_verify
}

bench_many_verify()
{
	# An even count per verify.py, so that no pair is split.
	# shellcheck disable=SC2086 # VERIFY is two words
	for u in $MANY_USERS; do
		printf '%s\n%s\n' "$T/orig/$MANY_BOX/$u" "$W/md/$u"
	done | xargs -n 400 $VERIFY
}

# bench_many many:FS:NET: every client of BENCH_MANY_CLIENTS (popfetch
# once per -j of BENCH_MANY_JOBS) in rounds after the warm-up, in
# profiles manyN:FS:NET:jJ (popfetch) and manyN:FS:NET:seq (the others,
# one account after the other).
bench_many()
{
	bmy_fs=${1#*:}
	bmy_net=${bmy_fs#*:}
	bmy_fs=${bmy_fs%%:*}
	[ "${1%%:*}" = many ] || fail "BENCH_MANY: $1: the mailbox is many"
	bench_many_need
	bmy_i=$((1 - BENCH_WARMUP))
	while [ "$bmy_i" -le "$BENCH_RUNS" ]; do
		for c in $BENCH_MANY_CLIENTS; do
			bmy_jobs=$BENCH_MANY_JOBS
			[ "$c" = popfetch ] || bmy_jobs=seq
			for j in $bmy_jobs; do
				bench_many_setup "$c" "$bmy_fs" "$bmy_net" "$j"
				case $j in
				seq) bmy_p=$MANY_BOX:$bmy_fs:$bmy_net:seq ;;
				*) bmy_p=$MANY_BOX:$bmy_fs:$bmy_net:j$j ;;
				esac
				bench_many_run "$c" "$bmy_p" "$bmy_i"
			done
		done
		bmy_i=$((bmy_i + 1))
	done
}

bench_meta()
{
	printf '%s\t%s\n' "$1" "$2" >>"$META"
}

bench_main()
{
	RESULTS=$T/results.tsv
	META=$T/meta.tsv
	: >"$RESULTS"
	: >"$META"
	bm_start=$(date +%s)
	bench_meta date "$(date -u '+%Y-%m-%d %H:%M UTC')"
	bench_meta load_start "$(cut -d ' ' -f 1-3 /proc/loadavg)"
	bench_tmpfs
	dovecot_start

	for p in $BENCH_PROFILES; do
		bench_say "profile $p"
		bench_profile "$p"
	done
	for p in $BENCH_DELETE; do
		bench_say "delete strategies, $p"
		bench_delete "$p"
	done
	for p in $BENCH_PARALLEL; do
		bench_say "parallel accounts, $p"
		bench_parallel "$p"
	done
	for p in $BENCH_MANY; do
		bench_say "many accounts, $p"
		bench_many "$p"
	done

	bench_meta load_end "$(cut -d ' ' -f 1-3 /proc/loadavg)"
	bench_meta duration "$(($(date +%s) - bm_start))"
	bench_meta nproc "$(nproc)"
	bench_meta cpu "$(sed -n 's/^model name[[:space:]]*: //p' \
	    /proc/cpuinfo | head -n 1)"
	bench_meta memory "$(awk '/^MemTotal:/ { printf "%.1f GiB", \
	    $2 / 1048576 }' /proc/meminfo)"
	bench_meta kernel "$(uname -sr)"
	bm_dev=${DISK_DEV#/dev/}
	bm_rot=$(cat "/sys/block/$bm_dev/queue/rotational" 2>/dev/null ||
	    echo '?')
	bench_meta disk "$DISK_FS on $DISK_DEV (rotational=$bm_rot)"
	bench_meta tmpfs "$TMPFS_NOTE"
	bench_meta dovecot "Dovecot $(dovecot --version | cut -d ' ' -f 1)"
	bm_clients=$BENCH_CLIENTS
	# The delete and -j steps run popfetch whatever BENCH_CLIENTS says.
	case " $BENCH_CLIENTS " in
	*" popfetch "*) ;;
	*) [ -z "$BENCH_DELETE$BENCH_PARALLEL" ] ||
	    bm_clients="popfetch $bm_clients" ;;
	esac
	# And the many step its own clients.
	if [ -n "$BENCH_MANY" ]; then
		for c in $BENCH_MANY_CLIENTS; do
			case " $bm_clients " in
			*" $c "*) ;;
			*) bm_clients="$bm_clients $c" ;;
			esac
		done
	fi
	for c in $bm_clients; do
		bench_meta "version_$c" "$(client_version "$c")"
	done
	for b in small large keep100k $PAR_BOX $MANY_BOX; do
		[ -d "$T/orig/$b" ] || continue
		bench_meta "box_$b" "$(find "$T/orig/$b" -type f -printf \
		    '%s\n' | awk '{ n++; s += $1 } END { print n, s }')"
	done
	bench_meta runs "$BENCH_RUNS"
	bench_meta warmup "$BENCH_WARMUP"
	bench_meta quick "$BENCH_QUICK"
	bench_meta many_msgs "$BENCH_MANY_MSGS"
	bench_meta seed "$BENCH_SEED"
	bench_meta command "$BENCH_COMMAND"

	mkdir -p "$BENCH_OUT"
	cp "$RESULTS" "$BENCH_OUT/results.tsv"
	cp "$META" "$BENCH_OUT/results-meta.tsv"
	"$BENCH_PYTHON" "$BENCH_SRC/report.py" "$META" "$RESULTS" "$BENCH_OUT"
	bench_say "wrote $BENCH_OUT/RESULTS.md and $BENCH_OUT/results.png" \
	    "in $(($(date +%s) - bm_start)) s"
}

bench_main
