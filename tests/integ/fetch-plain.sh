#!/bin/sh
# Fetch with every delete strategy over tls = off with allow_plaintext:
# POP3 in the clear.
# See fetch-common.sh.

# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/lib.sh"
# shellcheck source=tests/integ/fetch-common.sh
. "$top_srcdir/tests/integ/fetch-common.sh"

fetch_strategies off
