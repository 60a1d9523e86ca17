#!/bin/sh
# GNU mailutils' pop3d serving a Maildir: see mailutils.sh.

LIB_NEED_DOVECOT=no
# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/lib.sh"
# shellcheck source=tests/interop/lib.sh
. "$top_srcdir/tests/interop/lib.sh"
# shellcheck source=tests/interop/mailutils.sh
. "$top_srcdir/tests/interop/mailutils.sh"

mailutils_suite maildir
