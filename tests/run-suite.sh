#!/bin/sh
# Install the build dependencies (Debian), then build and test popfetch
# twice: gcc with every warning an error, and clang with AddressSanitizer
# and UndefinedBehaviorSanitizer.  Also checks the formatting, the man
# pages and `make distcheck`.  Ends with a line "N passed, N failed".
#
#   sh tests/run-suite.sh            everything
#   SKIP_DEPS=1 sh tests/run-suite.sh   do not run apt-get
#   SKIP_DISTCHECK=1 ...             leave out make distcheck
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

build() {
	# build NAME CONFIGURE-ARGS...: configure, make and make check.
	name=$1
	shift
	dir=$top/_build/$name
	rm -rf "$dir"
	mkdir -p "$dir"
	echo "=== build $name: $*"
	if ! (cd "$dir" && "$top/configure" -q "$@" && make -s -j"$jobs"); then
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
		echo "0 passed, 1 failed"
		exit 1
	}
fi

autoreconf -fi || {
	echo "0 passed, 1 failed"
	exit 1
}

build gcc --enable-werror \
	CFLAGS="-O2 -g -D_FORTIFY_SOURCE=2 -fstack-protector-strong"
build asan CC=clang --enable-werror --enable-sanitizers CFLAGS="-O1 -g"

# The fuzz targets over their corpora, a few seconds each.
fuzz_tests=
for t in status retr list-uidl journal config filter; do
	fuzz_tests="$fuzz_tests tests/fuzz/check-$t.sh"
done
BUILD_TESTS=$fuzz_tests
build fuzz CC=clang --enable-werror --enable-fuzzing --enable-sanitizers \
	CFLAGS="-O1 -g"
BUILD_TESTS=

# shellcheck disable=SC2016 # expanded by the inner shell
check clang-format sh -c 'clang-format --dry-run --Werror \
	$(git ls-files "*.c" "*.h")'
check mandoc-lint mandoc -Tlint -Wwarning doc/popfetch.1 doc/popfetch.conf.5
if [ -z "${SKIP_DISTCHECK:-}" ]; then
	check distcheck sh -c "cd '$top/_build/gcc' && \
		make -s -j$jobs distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-werror \
		>distcheck.log 2>&1 || { tail -n 80 distcheck.log; exit 1; }"
fi

[ -n "$failures" ] && echo "failures:$failures"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
