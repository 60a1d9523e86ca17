#!/bin/sh
# Install the build dependencies (Debian), then build and test popfetch
# twice: gcc with every warning an error, and clang with AddressSanitizer
# and UndefinedBehaviorSanitizer.  Also checks the formatting, the man
# pages and `make distcheck`.  Ends with a line "N passed, N failed".
#
#   sh tests/run-suite.sh            everything
#   SKIP_DEPS=1 sh tests/run-suite.sh   do not run apt-get
#   SKIP_DISTCHECK=1 ...             leave out make distcheck
#   SUITE_BUILDS="gcc" ...           only these of the builds gcc, asan
#                                    and fuzz (distcheck needs gcc)
#   SUITE_TESTS="tests/unit/test-conf tests/integ/cli.sh" ...
#                                    only these tests, in every build and
#                                    in distcheck (fuzz keeps its own)
#   PRIOR_CHECKS="NAME:STATUS ..."   checks run before this script (by
#                                    .ci/run), counted in the final line
#
# The builds never configure the checkout itself: they configure a copy
# of it, _build/src, made afresh on every run from the files git lists
# (tracked files, and untracked ones that are not ignored: work not yet
# committed is tested too).  So a checkout that was configured and built
# in place, as the README's first command does, stays as it is, and its
# build is still there afterwards; autoconf would refuse to configure a
# tree out of place while it is configured in place.  Outside a git
# checkout the tree itself is built from, if it is not configured.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
jobs=${JOBS:-2}
# For the sanitizer builds: stop at the first report, and look for leaks.
ASAN_OPTIONS=abort_on_error=1:detect_leaks=1
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS UBSAN_OPTIONS
BUILD_TESTS=
passed=0
failed=0
failures=
builds=${SUITE_BUILDS:-gcc asan fuzz}
# Where the builds are configured from: the copy, or the tree itself.
src=$top/_build/src

# Checks that ran before this script, e.g. the README's first command.
for prior in ${PRIOR_CHECKS:-}; do
	if [ "${prior##*:}" = 0 ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		failures="$failures ${prior%:*}"
	fi
done
if [ -n "${SUITE_TESTS:-}${SUITE_BUILDS:-}${SKIP_DISTCHECK:-}" ]; then
	echo "note: a part of the suite only (SUITE_TESTS, SUITE_BUILDS or" \
	    "SKIP_DISTCHECK is set)"
fi

check() {
	# check NAME COMMAND...: run one whole-tree check and count it.
	name=$1
	shift
	echo "=== $name"
	if "$@"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		failures="$failures $name"
		echo "FAILED: $name"
	fi
}

count_results() {
	# Add up the per-test results automake wrote for one build.
	dir=$1
	for trs in $(find "$dir/tests" -name '*.trs' 2>/dev/null | sort); do
		while read -r tag res rest; do
			[ "$tag" = ":test-result:" ] || continue
			case $res in
			PASS | XFAIL) passed=$((passed + 1)) ;;
			SKIP)
				# A skipped test proves nothing; in CI it fails.
				if [ "${CI:-}" = true ]; then
					failed=$((failed + 1))
					failures="$failures $trs(skip)"
				fi
				;;
			*)
				failed=$((failed + 1))
				failures="$failures ${trs#"$dir"/}:$rest"
				;;
			esac
		done <"$trs"
	done
}

wanted() {
	case " $builds " in
	*" $1 "*) return 0 ;;
	esac
	return 1
}

# The clean copy of the tree to build from (see the top of this file).
make_src() {
	rm -rf "$src" || return 1
	if ! git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1 ||
	    [ "$(git -C "$top" rev-parse --show-toplevel)" != \
	    "$(cd "$top" && pwd -P)" ]; then
		if [ -f "$top/config.status" ]; then
			echo "$top is configured in place and is not a git" \
			    "checkout to copy from: run \"make distclean\"" \
			    "there first"
			return 1
		fi
		src=$top
		return 0
	fi
	mkdir -p "$src" || return 1
	# A tracked file deleted in the work tree is listed but not there:
	# tar leaves it out (--ignore-failed-read) and so does the copy.
	(cd "$top" && git ls-files -z --cached --others --exclude-standard \
	    -- . ':!:_build' ':!:_build/**' |
	    tar --null -T - --ignore-failed-read -cf - 2>/dev/null) |
	    (cd "$src" && tar -xf -) || return 1
	# What an in-place build leaves must be ignored by git, else it
	# would be copied, and the copy would be configured already.
	if [ -e "$src/config.status" ] || [ -e "$src/Makefile" ]; then
		echo "the copy holds config.status or Makefile: git does not" \
		    "ignore them (.gitignore)"
		return 1
	fi
	[ -f "$src/configure.ac" ] || return 1
	echo "=== building from a copy of the tree in $src"
}

build() {
	# build NAME CONFIGURE-ARGS...: configure, make and make check.
	name=$1
	shift
	wanted "$name" || return 0
	dir=$top/_build/$name
	rm -rf "$dir"
	mkdir -p "$dir"
	echo "=== build $name: $*"
	if ! (cd "$dir" && "$src/configure" -q "$@" && make -s -j"$jobs"); then
		failed=$((failed + 1))
		failures="$failures build-$name"
		return
	fi
	# A failing "make check" (a test program that does not build, as
	# well as a failing test) is a failure of its own: tests that never
	# ran leave no result to count.
	if [ -n "${BUILD_TESTS:-}" ]; then
		(cd "$dir" && make -s -j"$jobs" check TESTS="$BUILD_TESTS")
	else
		(cd "$dir" && make -s -j"$jobs" check)
	fi || {
		failed=$((failed + 1))
		failures="$failures make-check-$name"
	}
	for log in "$dir"/tests/*/*.log; do
		[ -f "$log" ] || continue
		case $log in */test-suite.log) continue ;; esac
		if grep -q '^:test-result: \(FAIL\|ERROR\)' "${log%.log}.trs" 2>/dev/null; then
			echo "--- $log"
			tail -n 60 "$log"
		fi
	done
	count_results "$dir"
}

if [ -z "${SKIP_DEPS:-}" ]; then
	sh "$top/contrib/deps-debian.sh" || {
		echo "installing the dependencies failed"
		echo "$passed passed, $((failed + 1)) failed"
		exit 1
	}
fi

if ! make_src || ! (cd "$src" && autoreconf -fi); then
	echo "making the source tree to build from failed"
	echo "failures:$failures source-tree"
	echo "$passed passed, $((failed + 1)) failed"
	exit 1
fi
if [ -n "${SUITE_TESTS:-}" ]; then
	BUILD_TESTS=$SUITE_TESTS
fi

build gcc --enable-werror \
	CFLAGS="-O2 -g -D_FORTIFY_SOURCE=2 -fstack-protector-strong"
build asan CC=clang --enable-werror --enable-sanitizers CFLAGS="-O1 -g"

# The fuzz targets over their corpora, a few seconds each.
fuzz_tests=
for t in status retr list-uidl journal config filter; do
	fuzz_tests="$fuzz_tests tests/fuzz/check-$t.sh"
done
suite_tests=$BUILD_TESTS
BUILD_TESTS=$fuzz_tests
build fuzz CC=clang --enable-werror --enable-fuzzing --enable-sanitizers \
	CFLAGS="-O1 -g"
BUILD_TESTS=$suite_tests

# shellcheck disable=SC2016 # expanded by the inner shell
check clang-format sh -c 'clang-format --dry-run --Werror \
	$(git ls-files "*.c" "*.h")'
check mandoc-lint mandoc -Tlint -Wwarning doc/popfetch.1 doc/popfetch.conf.5
# The tests of SUITE_TESTS reach distcheck's "make check" through
# MAKEFLAGS, as a variable given on make's command line does.
if [ -z "${SKIP_DISTCHECK:-}" ] && wanted gcc; then
	check distcheck sh -c "cd '$top/_build/gcc' && \
		make -s -j$jobs distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-werror \
		${BUILD_TESTS:+TESTS=\"\$0\"} >distcheck.log 2>&1 ||
		{ tail -n 80 distcheck.log; exit 1; }" "$BUILD_TESTS"
fi

[ -n "$failures" ] && echo "failures:$failures"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
