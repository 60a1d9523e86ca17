#!/bin/sh
# What each flush to disk costs popfetch, per strategy: popfetch runs
# under strace -T on a fresh copy of a mailbox of N small messages
# (FSYNC_MESSAGES, default 500) in a private Dovecot, its Maildir and
# state on the file system of the build's temporary directory, and the
# time spent in fsync(2) is added up by what was flushed: message files,
# Maildir directories (new/, cur/), the state file (journal), its
# directory.  Not part of make check or make bench: run it by hand from
# the build directory, as root or not, with strace installed:
#
#   top_srcdir=.. top_builddir=. sh ../bench/fsync-cost.sh
#
# It prints a table; a line per strategy: messages, wall time, and for
# each kind of flush the count, the total and the median in ms.

# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:?}/tests/integ/lib.sh"

command -v strace >/dev/null 2>&1 || fail "strace is needed"
N=${FSYNC_MESSAGES:-500}
dovecot_start
gen_mail "$T/orig" -n "$N" -s 5

# cost MODE: one run of popfetch under strace; prints the table line.
cost()
{
	user=fc-$1
	user_add "$user"
	seed "$user" "$T/orig"
	pf_config_new
	pf_account "$user" "$user" on "$1"
	t0=$(now_ms)
	strace -f -T -y -e trace=fsync,fdatasync -o "$T/strace.$1" \
	    "$PF_BIN" -q -c "$PF_CONF"
	t1=$(now_ms)
	# fsync(5</path/to/file>) = 0 <0.000812>
	awk -v mode="$1" -v n="$N" -v wall="$((t1 - t0))" '
	    /fsync\(/ {
		p = $0; sub(/^[^<]*</, "", p); sub(/>.*/, "", p)
		t = $NF; gsub(/[<>]/, "", t)
		if (p ~ /\/(new|cur)$/) k = "maildir-dir"
		else if (p ~ /\.uidl$/) k = "journal"
		else if (p ~ /\/(new|cur|tmp)\// || p ~ /\(deleted\)$/) k = "message"
		else k = "state-dir"
		c[k]++; s[k] += t; v[k, c[k]] = t
	    }
	    function median(k,   i, j, x, m) {
		m = c[k]
		for (i = 1; i <= m; i++) a[i] = v[k, i]
		for (i = 2; i <= m; i++) {
			x = a[i]
			for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]
			a[j + 1] = x
		}
		return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
	    }
	    END {
		printf "%-6s %5d msgs %7d ms", mode, n, wall
		split("message maildir-dir journal state-dir", ks, " ")
		for (i = 1; i <= 4; i++) {
			k = ks[i]
			if (!c[k]) continue
			printf "  %s: %d, %.0f ms, median %.2f ms", k, c[k], \
			    s[k] * 1000, median(k) * 1000
		}
		printf "\n"
	    }' "$T/strace.$1"
}

for mode in keep batch each; do
	cost "$mode"
done
