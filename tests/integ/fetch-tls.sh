#!/bin/sh
# Fetch with every delete strategy over tls = on: implicit TLS on the
# POP3S port (RFC 8314 §3.3).
# See fetch-common.sh.

# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/lib.sh"
# shellcheck source=tests/integ/fetch-common.sh
. "$top_srcdir/tests/integ/fetch-common.sh"

fetch_strategies on
