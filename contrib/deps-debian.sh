#!/bin/sh
# Install everything needed to build and test popfetch on Debian 12
# (bookworm): compilers, autotools, the libraries, the Dovecot POP3
# server and GnuTLS tools for the integration tests, the servers of the
# interoperability suite (tests/interop/), and the static checkers.  Run
# as root; running it again changes nothing.

set -eu

if [ "$(id -u)" -ne 0 ]; then
	echo "deps-debian.sh: run as root (e.g. sudo $0)" >&2
	exit 1
fi

DEBIAN_FRONTEND=noninteractive
export DEBIAN_FRONTEND

packages='
	build-essential
	autoconf
	automake
	autoconf-archive
	pkg-config
	libgnutls28-dev
	libconfuse-dev
	libgmime-3.0-dev
	libglib2.0-dev
	libgsasl-dev
	libcmocka-dev
	dovecot-core
	dovecot-pop3d
	mailutils-pop3d
	gnutls-bin
	isync
	faketime
	python3
	python3-yaml
	python3-jsonschema
	fetchmail
	mpop
	bsdutils
	clang
	libclang-rt-14-dev
	clang-format
	clang-tidy
	cppcheck
	shellcheck
	valgrind
	gdb
	mandoc
	ca-certificates
	git
	systemd
'

# fetchmail and mpop for the converters' tests (tests/integ/converters.sh
# and convert-state.sh compare contrib/'s converters with what they make
# of a file, and import what they fetched), and for make bench.
#
# systemd only for systemd-analyze, which checks contrib/systemd's units
# (tests/integ/systemd-units.sh); nothing needs it running.  PyYAML and
# jsonschema check the Kubernetes example (tests/integ/kubernetes.sh).
#
# In a container without an init system, the Dovecot packages would try
# to start the system's Dovecot.  The tests run their own; keep the
# packaging from starting services while we install, if nothing else has
# a say (policy-rc.d, see invoke-rc.d(8)).
policy=/usr/sbin/policy-rc.d
made_policy=no
if [ ! -e "$policy" ] && [ ! -d /run/systemd/system ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 0755 "$policy"
	made_policy=yes
fi
cleanup()
{
	if [ "$made_policy" = yes ]; then
		rm -f "$policy"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT HUP TERM

apt-get update
# shellcheck disable=SC2086 # one package a word
apt-get install -y --no-install-recommends $packages

# popa3d conflicts with Dovecot as a package (both provide pop3-server):
# tests/interop/popa3d.sh runs it from the unpacked .deb, never
# installed, never started here.
popa3d_dir=/opt/popfetch-test/popa3d
if [ ! -x "$popa3d_dir/usr/sbin/popa3d" ]; then
	popa3d_tmp=$(mktemp -d)
	# apt downloads as the user _apt where it can write.
	chmod 0755 "$popa3d_tmp"
	(cd "$popa3d_tmp" && apt-get download popa3d)
	mkdir -p "$popa3d_dir"
	dpkg -x "$popa3d_tmp"/popa3d_*.deb "$popa3d_dir"
	rm -rf "$popa3d_tmp"
fi
