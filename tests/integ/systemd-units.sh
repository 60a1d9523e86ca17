#!/bin/sh
# The systemd user units of contrib/systemd pass systemd-analyze verify
# without a word: every key known, the timer's calendar valid, the
# service's command found (the built popfetch stands in for the
# installed one); the templates popfetch@.service and popfetch@.timer
# as they are and as an instance.  No systemd needs to be running: systemd-analyze loads
# the units itself.  Then the unit's command line, run as the timer
# would with a server down, exits with the status the unit forgives.

LIB_NEED_DOVECOT=no
# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/lib.sh"

command -v systemd-analyze >/dev/null 2>&1 ||
    skip "systemd-analyze is not installed (systemd)"

units=$top_srcdir/contrib/systemd
mkdir "$T/units" "$T/run"
chmod 0700 "$T/run"
# An instance for the account "a+b", escaped as systemd wants it.
inst=$(systemd-escape 'a+b')
[ "$inst" != 'a+b' ] || fail "systemd-escape left a+b as it is"
cp "$units/popfetch.service" "$units/popfetch.timer" \
    "$units/popfetch@.service" "$units/popfetch@.timer" "$T/units/"
cp "$units/popfetch@.service" "$T/units/popfetch@$inst.service"
cp "$units/popfetch@.timer" "$T/units/popfetch@$inst.timer"
for u in popfetch.service popfetch@.service "popfetch@$inst.service"; do
	grep -q '^ExecStart=popfetch ' "$T/units/$u" ||
	    fail "$u: no ExecStart=popfetch line"
	sed -i "s|^ExecStart=popfetch |ExecStart=$PF_BIN |" "$T/units/$u"
done

# --user needs a runtime directory; --man=no: the pages are not installed.
verify()
{
	XDG_RUNTIME_DIR=$T/run systemd-analyze --user --man=no verify \
	    "$T/units/popfetch.service" "$T/units/popfetch.timer" \
	    "$T/units/popfetch@.service" "$T/units/popfetch@.timer" \
	    "$T/units/popfetch@$inst.service" \
	    "$T/units/popfetch@$inst.timer" >"$T/verify.out" 2>&1
}
verify || {
	cat "$T/verify.out" >&2
	fail "systemd-analyze verify refused the units"
}
if [ -s "$T/verify.out" ]; then
	cat "$T/verify.out" >&2
	fail "systemd-analyze verify had something to say"
fi

# The check itself catches a mistake: a misspelt key.
sed -i 's/^OnCalendar=/OnCalender=/' "$T/units/popfetch.timer"
! verify || fail "systemd-analyze verify took a misspelt key"
assert_grep "verify: the misspelt key" "Unknown key 'OnCalender'" \
    "$T/verify.out"
# In the template as well, where it is a warning (and so a failure here).
cp "$units/popfetch.timer" "$T/units/"
sed -i 's/^Persistent=/Persistant=/' "$T/units/popfetch@.timer"
if verify && [ ! -s "$T/verify.out" ]; then
	fail "systemd-analyze verify took a misspelt key in a template"
fi
assert_grep "verify: the template's misspelt key" "Unknown key 'Persistant'" \
    "$T/verify.out"

# The service's command as the unit gives it, with the default
# configuration file, and a server that is down: the account's error on
# stderr, nothing on stdout, and 75, which SuccessExitStatus= must name
# so that a network blip does not mark the unit failed.
cmd=$(sed -n 's/^ExecStart=popfetch //p' "$units/popfetch.service")
pf_config_new
pf_account -P "$(free_port)" home nobody off keep
mkdir -p "$XDG_CONFIG_HOME/popfetch"
cp "$PF_CONF" "$XDG_CONFIG_HOME/popfetch/config"
PF_RC=0
# shellcheck disable=SC2086 # the unit's words, split as systemd does
"$PF_BIN" $cmd >"$PF_OUT" 2>"$PF_ERR" </dev/null || PF_RC=$?
assert_rc 75 "the unit's command, the server down"
assert_lines "the unit's command: stdout" "$PF_OUT" 0
assert_lines "the unit's command: stderr" "$PF_ERR" 1
assert_grep "the unit's command" '^popfetch: home: connect to ' "$PF_ERR"
grep -q '^SuccessExitStatus=75$' "$units/popfetch.service" ||
    fail "popfetch.service: 75 (try again later) must not fail the unit"

# The template's command for the instance a+b: %I is the name unescaped,
# so that popfetch is given the account's own name.  A second account,
# whose server is down too, must not be fetched.
cmd=$(sed -n 's/^ExecStart=popfetch //p' "$units/popfetch@.service")
case $cmd in
*%I*) ;;
*) fail "popfetch@.service: the command does not name the account (%I)" ;;
esac
cmd=$(printf '%s\n' "$cmd" |
    sed "s/%I/$(systemd-escape --unescape "$inst")/")
pf_config_new
pf_account -P "$(free_port)" a+b nobody off keep
pf_account -P "$(free_port)" other nobody off keep
cp "$PF_CONF" "$XDG_CONFIG_HOME/popfetch/config"
PF_RC=0
# shellcheck disable=SC2086 # the unit's words, split as systemd does
"$PF_BIN" $cmd >"$PF_OUT" 2>"$PF_ERR" </dev/null || PF_RC=$?
assert_rc 75 "the template's command for a+b, the server down"
assert_lines "the template's command: stderr" "$PF_ERR" 1
assert_grep "the template's command" '^popfetch: a[+]b: connect to ' "$PF_ERR"
grep -q '^SuccessExitStatus=75$' "$units/popfetch@.service" ||
    fail "popfetch@.service: 75 (try again later) must not fail the unit"

say "PASS: the systemd units and templates"
