#!/bin/sh
# Fetch with every delete strategy over tls = starttls: POP3 upgraded
# with STLS (RFC 2595 §4).
# See fetch-common.sh.

# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/lib.sh"
# shellcheck source=tests/integ/fetch-common.sh
. "$top_srcdir/tests/integ/fetch-common.sh"

fetch_strategies starttls
