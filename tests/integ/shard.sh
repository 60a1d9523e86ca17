#!/bin/sh
# --shard I/N over accounts from include = "accounts.d": every account
# lands in exactly one shard for N = 1..16, the one that FNV-1a of its
# name modulo N names (computed here on its own, as popfetch(1) documents
# it); a shard's run touches no other shard's state nor Maildir, two
# shards run side by side, and --json says which shard ran.

# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/lib.sh"

command -v od >/dev/null 2>&1 || skip "od is not installed"

# fnv1a NAME: the 32-bit FNV-1a hash of NAME's bytes, in decimal.
fnv1a()
{
	h=2166136261
	for b in $(printf '%s' "$1" | od -An -v -tu1); do
		h=$(((h ^ b) * 16777619 % 4294967296))
	done
	echo "$h"
}

# Names of every shape an account may have.
names='alice bob carol dave eve frank grace heidi ivan judy
mallory niaj olivia peggy rupert sybil trent victor walter x
a.b_c-d@example.org 0 9lives Z+tag user.with.dots LONG-NAME-42'
inc=$T/config/accounts.d
mkdir "$inc"
pf_config_new
printf 'include = "%s"\n' "$inc" >"$PF_CONF"
for n in $names; do
	printf 'account "%s" {\n host = 127.0.0.1\n port = 1\n tls = off\n' \
	    "$n" >"$inc/$n.conf"
	printf ' allow_plaintext = yes\n user = u\n password = x\n' \
	    >>"$inc/$n.conf"
	printf ' maildir = "%s"\n}\n' "$T/client/$n" >>"$inc/$n.conf"
	chmod 0600 "$inc/$n.conf"
done
for n in $names; do
	echo "$n"
done | sort >"$T/all"
total=$(wc -l <"$T/all" | tr -d ' ')

# Every account in exactly one shard, the one the hash says.
for n in $names; do
	printf '%s %s\n' "$n" "$(fnv1a "$n")"
done >"$T/hashes"
N=1
while [ "$N" -le 16 ]; do
	: >"$T/seen"
	I=0
	while [ "$I" -lt "$N" ]; do
		pf_run --status --shard "$I/$N"
		assert_rc 0 "--status --shard $I/$N"
		sed -n 's/^account //p' "$PF_OUT" >"$T/shard"
		while read -r n h; do
			if [ $((h % N)) -eq "$I" ]; then
				grep -qxF "$n" "$T/shard" ||
				    fail "--shard $I/$N: $n is missing"
			fi
		done <"$T/hashes"
		cat "$T/shard" >>"$T/seen"
		I=$((I + 1))
	done
	sort "$T/seen" >"$T/seen.sorted"
	cmp -s "$T/all" "$T/seen.sorted" || {
		diff "$T/all" "$T/seen.sorted" >&2 || :
		fail "N = $N: the shards do not hold each account exactly once"
	}
	N=$((N + 1))
done
# A name is the same shard in any order, any file: reversed file names.
for n in $names; do
	mv "$inc/$n.conf" "$inc/zz-$n.conf"
done
pf_run --status --shard 2/5
sed -n 's/^account //p' "$PF_OUT" | sort >"$T/shard.a"
awk '$2 % 5 == 2 { print $1 }' "$T/hashes" | sort >"$T/shard.b"
cmp -s "$T/shard.a" "$T/shard.b" || fail "--shard 2/5 moved with the files"

# Bad uses.
for bad in 4/4 -1/4 1/0 1 1/ /4 0x1/4 '1/4 ' 0/1025; do
	pf_run --shard "$bad"
	assert_rc 64 "--shard '$bad'"
done
pf_run --shard 0/2 alice
assert_rc 64 "--shard with a named account"
assert_grep "--shard and a name" 'name none' "$PF_ERR"

# Real fetches: six users, two shards.
dovecot_start
rm -f "$inc"/*.conf
: >"$T/users"
for i in 1 2 3 4 5 6; do
	user_add "suser$i"
	gen_mail "$T/orig/s$i" -n 3 -s $((60 + i))
	seed "suser$i" "$T/orig/s$i"
	PF_CONF=$inc/s$i.conf
	pf_config_new
	pf_account "s$i" "suser$i" starttls keep
	echo "s$i $(fnv1a "s$i")" >>"$T/users"
done
PF_CONF=$T/popfetch.conf
awk '$2 % 2 == 0 { print $1 }' "$T/users" >"$T/shard0"
awk '$2 % 2 == 1 { print $1 }' "$T/users" >"$T/shard1"
if [ ! -s "$T/shard0" ] || [ ! -s "$T/shard1" ]; then
	fail "the six names do not fall in both shards: pick others"
fi

pf_run --json --shard 0/2
assert_rc 0 "--shard 0/2"
assert_grep "--json" '"shard":{"index":0,"count":2}' "$PF_OUT"
while read -r n; do
	assert_grep "--json: the shard's $n" "\"name\":\"$n\"" "$PF_OUT"
	maildir_check "shard 0: $n" "$T/client/$n" "$T/orig/$n"
done <"$T/shard0"
grep -q '"name":"s' "$PF_OUT" || fail "--json names no account"
while read -r n; do
	assert_no_grep "--json: $n of the other shard" "\"name\":\"$n\"" \
	    "$PF_OUT"
	[ ! -e "$T/client/$n" ] || fail "shard 0 made $n's Maildir"
done <"$T/shard1"
# The state directory holds files of shard 0's accounts only.
for f in "$XDG_STATE_HOME"/popfetch/*; do
	n=${f##*/}
	n=${n%.*}
	grep -qxF "$n" "$T/shard0" ||
	    fail "shard 0 left state for $n: $f"
done
# Without --shard, --json says nothing of shards.
pf_run --json --status s1
assert_no_grep "--json without --shard" '"shard"' "$PF_OUT"

# Shard 1 then leaves every file of shard 0 as it was.
snapshot()
{
	find "$XDG_STATE_HOME" "$T/client" -type f | sort |
	    while read -r f; do
		    printf '%s %s\n' "$(stat -c %Y.%s "$f")" \
		        "$(sha256sum <"$f")  $f"
	    done
}
snapshot >"$T/before"
sleep 1
pf_run --json --shard 1/2
assert_rc 0 "--shard 1/2"
assert_grep "--json" '"shard":{"index":1,"count":2}' "$PF_OUT"
snapshot >"$T/after"
while read -r n; do
	grep -F "/$n" "$T/before" >"$T/b" || :
	grep -F "/$n" "$T/after" >"$T/a" || :
	cmp -s "$T/b" "$T/a" || fail "shard 1 changed shard 0's $n"
done <"$T/shard0"
for i in 1 2 3 4 5 6; do
	maildir_check "both shards: s$i" "$T/client/s$i" "$T/orig/s$i"
done

# Both shards at once: no lock of one stands in the other's way.
for i in 1 2 3 4 5 6; do
	gen_mail "$T/orig/more$i" -n 2 -s $((70 + i))
	seed "suser$i" "$T/orig/more$i"
done
"$PF_BIN" -c "$PF_CONF" --shard 0/2 >"$T/s0.out" 2>&1 &
s0=$!
"$PF_BIN" -c "$PF_CONF" --shard 1/2 >"$T/s1.out" 2>&1 &
s1=$!
rc0=0
rc1=0
wait "$s0" || rc0=$?
wait "$s1" || rc1=$?
if [ "$rc0" -ne 0 ] || [ "$rc1" -ne 0 ]; then
	cat "$T/s0.out" "$T/s1.out" >&2
	fail "two shards at once: exit $rc0 and $rc1"
fi
for i in 1 2 3 4 5 6; do
	[ "$(count_new "$T/client/s$i")" -eq 5 ] ||
	    fail "two shards at once: s$i has $(count_new "$T/client/s$i")"
done

say "PASS: --shard ($total accounts, N = 1..16) and include"
