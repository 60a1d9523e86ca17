#!/bin/sh
# The harness keeps core dumps: a test in which any program dumps core
# fails, says so, keeps the core and prints its backtrace (with gdb),
# although the test itself saw nothing wrong.

LIB_NEED_DOVECOT=no
# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/lib.sh"

[ "$LIB_CORES" = yes ] ||
    skip "core dumps do not go to the test's directory here"

# A test that runs a program which dies of SIGSEGV, and ends well.
cat >"$T/crash.sh" <<'EOS'
LIB_NEED_DOVECOT=no
. "$top_srcdir/tests/integ/lib.sh"
sh -c 'kill -SEGV $$' 2>/dev/null || :
exit 0
EOS
rc=0
PF_CORE_KEEP=$T/kept sh "$T/crash.sh" 2>"$T/crash.err" || rc=$?
cat "$T/crash.err" >&2
assert_eq "a test whose program dumped core: status" "$rc" 1
assert_grep "the core is named" '^crash\.sh: CORE DUMPED: ' "$T/crash.err"
[ -n "$(find "$T/kept" -type f -name 'crash.sh.*' 2>/dev/null)" ] ||
    fail "the core was not kept in PF_CORE_KEEP"
if command -v gdb >/dev/null 2>&1; then
	assert_grep "the program is named" '^crash\.sh:   program: /' \
	    "$T/crash.err"
	assert_grep "the backtrace" '^#0 ' "$T/crash.err"
fi

# A test that ends well without a crash still passes.
cat >"$T/fine.sh" <<'EOS'
LIB_NEED_DOVECOT=no
. "$top_srcdir/tests/integ/lib.sh"
sh -c 'exit 3' || :
exit 0
EOS
rc=0
PF_CORE_KEEP=$T/kept sh "$T/fine.sh" 2>"$T/fine.err" || rc=$?
assert_eq "a test without a crash: status" "$rc" 0
