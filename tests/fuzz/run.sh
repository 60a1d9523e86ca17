#!/bin/sh
# Run one libFuzzer target over its seed corpus.
#
#   run.sh check NAME   a short run for "make check" (FUZZ_CHECK_TIME
#                       seconds, 5 by default) in a scratch directory
#   run.sh fuzz NAME    a long run for "make fuzz" (FUZZ_TIME seconds,
#                       60 by default); what it learns is kept in
#                       tests/fuzz/work/NAME in the build tree
#
# The seeds in the source tree are only read.  A crash leaves its input
# in the build tree as tests/fuzz/NAME-crash-*, to be added to the
# corpus once understood.  FUZZ_ARGS adds libFuzzer options.
set -eu

mode=${1:?usage: run.sh check|fuzz NAME}
name=${2:?usage: run.sh check|fuzz NAME}
srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
builddir=${top_builddir:-.}
bin=$builddir/tests/fuzz/fuzz-$name
seeds=$srcdir/tests/fuzz/corpus/$name

if [ ! -x "$bin" ]; then
	echo "run.sh: $bin is not built (configure --enable-fuzzing)" >&2
	exit 99
fi
if [ ! -d "$seeds" ]; then
	echo "run.sh: no seed corpus $seeds" >&2
	exit 99
fi
: "${LSAN_OPTIONS=suppressions=$srcdir/tests/lsan.supp:print_suppressions=0}"
export LSAN_OPTIONS

# libFuzzer's exit code for a crash is 77 by default, which the test
# driver would take for a skip.
set -- -error_exitcode=1 -timeout_exitcode=1 -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$builddir/tests/fuzz/$name-"
if [ -f "$srcdir/tests/fuzz/$name.dict" ]; then
	set -- "$@" -dict="$srcdir/tests/fuzz/$name.dict"
fi

case $mode in
check)
	work=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-$name.XXXXXX")
	trap 'rm -rf "$work"' EXIT
	trap 'exit 1' HUP INT TERM
	# shellcheck disable=SC2086 # FUZZ_ARGS is a list of options
	"$bin" "$@" -max_total_time="${FUZZ_CHECK_TIME:-5}" ${FUZZ_ARGS:-} \
	    "$work" "$seeds"
	;;
fuzz)
	work=$builddir/tests/fuzz/work/$name
	mkdir -p "$work"
	# shellcheck disable=SC2086
	"$bin" "$@" -max_total_time="${FUZZ_TIME:-60}" ${FUZZ_ARGS:-} \
	    "$work" "$seeds"
	;;
*)
	echo "run.sh: unknown mode $mode" >&2
	exit 99
	;;
esac
