#!/bin/sh
# contrib/kubernetes/popfetch-cronjob.yaml passes a schema check of our
# own (tests/data/k8s/schema.json, with python3-jsonschema: offline, no
# cluster), and the checks of tests/tools/check-k8s.py that span
# documents: an indexed job whose shard count is SHARDS, each shard's
# state and Maildirs in a directory of its own, the configuration where
# popfetch looks.  popfetch loads the configuration of its ConfigMaps.
# Each check is shown to catch its mistake.

LIB_NEED_DOVECOT=no
# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/lib.sh"

# The first Python 3 that has PyYAML and jsonschema (Debian:
# python3-yaml, python3-jsonschema).
py=
for p in python3 /usr/bin/python3; do
	if "$p" -c 'import yaml, jsonschema' >/dev/null 2>&1; then
		py=$p
		break
	fi
done
[ -n "$py" ] ||
    skip "no python3 with yaml and jsonschema (python3-yaml, python3-jsonschema)"

manifest=$top_srcdir/contrib/kubernetes/popfetch-cronjob.yaml
check()
{
	"$py" "$top_srcdir/tests/tools/check-k8s.py" "$1" \
	    "$top_srcdir/tests/data/k8s/schema.json" ${2:+"$2"} \
	    >"$T/check.out" 2>&1
}

check "$manifest" "$T/conf" || {
	cat "$T/check.out" >&2
	fail "the manifest does not pass the check"
}
[ ! -s "$T/check.out" ] || fail "the check had something to say"

# popfetch takes the ConfigMaps' configuration, every account of it.
chmod 0600 "$T/conf/config"
pf_exec -c "$T/conf/config" --status
assert_rc 0 "popfetch --status on the ConfigMaps' configuration"
sed -n 's/^account //p' "$PF_OUT" >"$T/names"
assert_lines "the ConfigMaps' accounts" "$T/names" 2
grep -qx alice "$T/names" || fail "the account alice is not loaded"
grep -qx bob "$T/names" || fail "the account bob is not loaded"

# mistake SED-SCRIPT WORD: the manifest changed so must be refused, with
# a line naming WORD.
mistake()
{
	sed "$1" "$manifest" >"$T/bad.yaml"
	! cmp -s "$manifest" "$T/bad.yaml" || fail "'$1' changes nothing"
	if check "$T/bad.yaml"; then
		fail "the check took the manifest with '$1'"
	fi
	grep -q -- "$2" "$T/check.out" || {
		cat "$T/check.out" >&2
		fail "the check of '$1' does not mention $2"
	}
}
mistake 's/completionMode: Indexed/completionMode: NonIndexed/' \
    completionMode
mistake 's/completionMode:/completionMod:/' completionMod
mistake '/value: "4"/s/4/3/' SHARDS
mistake 's/--shard /--shards /' 'does not run --shard'
mistake '/subPathExpr:/d' subPathExpr
mistake 's|value: /var/lib/popfetch/state|value: /tmp/state|' \
    XDG_STATE_HOME
mistake 's|"/var/lib/popfetch/mail/bob"|"/srv/mail/bob"|' /srv/mail/bob
mistake 's/claimName: popfetch-data/claimName: popfetch-date/' \
    popfetch-date
mistake 's/restartPolicy: Never/restartPolicy: Always/' restartPolicy
mistake 's/  bob.conf:/  bob.cf:/' bob.cf
mistake 's|include = "/etc/popfetch-accounts"|include = "/etc/x"|' include

say "PASS: the Kubernetes example"
