#!/bin/sh
# Regenerate the test certificates used by tests/unit/test-transport.c.
# Run from anywhere; the files are written next to this script.  Needs
# certtool(1) from gnutls-bin.
#
#   ca.pem          test CA ("popfetch test CA"), trusted by the tests
#   server.pem      CN=localhost, SAN localhost and 127.0.0.1, from ca.pem
#   server-key.pem  private key of server.pem and expired.pem
#   expired.pem     like server.pem, but expired in 2001
#   other-ca.pem    an unrelated CA, for the "wrong CA" test
#   self-signed.pem CN=localhost, signed by its own key
#                   (self-signed-key.pem), for the pinning tests
#   client.pem      CN=popfetch test client, self-signed, with its key
#                   client-key.pem: a client certificate for the tests
#
# Names are CN only, like most real server certificates, which keeps
# the rejection message (subject, issuer, fingerprint) within bounds.
# The CA keys are thrown away: regenerate everything at once.  All
# certificates but expired.pem are valid from 2000 to 2125, fixed dates
# so that a machine whose clock is off still accepts them.
set -eu

dir=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

key() {
	certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 \
	    --no-text --outfile "$1" 2>/dev/null
}

ca() {
	# $1 name, $2 output certificate, $3 key
	cat >"$tmp/ca.tmpl" <<TMPL
cn = "$1"
serial = 1
activation_date = "2000-01-01 00:00:00"
expiration_date = "2125-12-31 23:59:59"
ca
cert_signing_key
crl_signing_key
TMPL
	key "$3"
	certtool --generate-self-signed --load-privkey "$3" \
	    --template "$tmp/ca.tmpl" --no-text --outfile "$2" 2>/dev/null
}

ca "popfetch test CA" "$dir/ca.pem" "$tmp/ca-key.pem"
ca "popfetch other CA" "$dir/other-ca.pem" "$tmp/other-ca-key.pem"
key "$dir/server-key.pem"

cat >"$tmp/server.tmpl" <<TMPL
cn = "localhost"
serial = 2
activation_date = "2000-01-01 00:00:00"
expiration_date = "2125-12-31 23:59:59"
dns_name = "localhost"
ip_address = "127.0.0.1"
tls_www_server
signing_key
TMPL
certtool --generate-certificate --load-privkey "$dir/server-key.pem" \
    --load-ca-certificate "$dir/ca.pem" --load-ca-privkey "$tmp/ca-key.pem" \
    --template "$tmp/server.tmpl" --no-text --outfile "$dir/server.pem" \
    2>/dev/null

cat >"$tmp/expired.tmpl" <<TMPL
cn = "localhost"
serial = 3
activation_date = "2000-01-01 00:00:00"
expiration_date = "2001-01-01 00:00:00"
dns_name = "localhost"
ip_address = "127.0.0.1"
tls_www_server
signing_key
TMPL
certtool --generate-certificate --load-privkey "$dir/server-key.pem" \
    --load-ca-certificate "$dir/ca.pem" --load-ca-privkey "$tmp/ca-key.pem" \
    --template "$tmp/expired.tmpl" --no-text --outfile "$dir/expired.pem" \
    2>/dev/null

# Self-signed, and the client's: no CA, so they can be made on their own.
self_signed() {
	# $1 cn, $2 serial, $3 purpose, $4 output certificate, $5 key
	cat >"$tmp/self.tmpl" <<TMPL
cn = "$1"
serial = $2
activation_date = "2000-01-01 00:00:00"
expiration_date = "2125-12-31 23:59:59"
$3
signing_key
TMPL
	if [ "$3" = tls_www_server ]; then
		printf 'dns_name = "localhost"\n' >>"$tmp/self.tmpl"
	fi
	key "$5"
	certtool --generate-self-signed --load-privkey "$5" \
	    --template "$tmp/self.tmpl" --no-text --outfile "$4" 2>/dev/null
}

self_signed localhost 4 tls_www_server "$dir/self-signed.pem" \
    "$dir/self-signed-key.pem"
self_signed "popfetch test client" 5 tls_www_client "$dir/client.pem" \
    "$dir/client-key.pem"
