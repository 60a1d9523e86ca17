#ifndef POPFETCH_FETCH_TRANSPORT_H
#define POPFETCH_FETCH_TRANSPORT_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/*
 * A byte stream to a server: plain TCP, TLS over TCP, or anything a test
 * plugs in (a socketpair, a scripted peer).  pop3.c sees only this.
 * Every read and write is bounded by the transport's timeout.
 */
struct transport;

/* The oldest TLS version we accept (RFC 8996 rules out 1.0 and 1.1). */
enum transport_tls_min {
	TRANSPORT_TLS_MIN_1_2 = 0,
	TRANSPORT_TLS_MIN_1_3,
};

/*
 * How to set up TLS; every string is borrowed for the duration of the
 * starttls call.  All-zero fields past verify keep the defaults: chain
 * and name checked, TLS 1.2 or newer, GnuTLS's system priorities, no
 * client certificate.
 */
struct transport_tls_opts {
	const char *hostname; /* checked against the certificate; SNI */
	const char *ca_file;  /* PEM bundle, or NULL for the system store */
	bool verify;          /* false only in tests */
	/*
	 * "SHA256:" and 64 hex digits (case-insensitive, a colon allowed
	 * between bytes), or NULL.  When set, the server's certificate
	 * must have this SHA-256 fingerprint, and that is all the trust
	 * there is: chain, CA file and host name are not checked, so a
	 * self-signed certificate is fine.
	 */
	const char *fingerprint;
	enum transport_tls_min min_version;
	/*
	 * A GnuTLS priority string (gnutls_priority_init(3)) in place of
	 * the system default, or NULL.  Versions below min_version are
	 * removed from it all the same.
	 */
	const char *priority;
	const char *cert_file; /* client certificate (PEM), or NULL */
	const char *key_file;  /* its private key; NULL: in cert_file */
};

struct transport_ops {
	/*
	 * Read up to len bytes into buf.  Returns the number read, 0 at
	 * end of stream, or -1 with err set (ERR_TEMP on a timeout or a
	 * network failure).
	 */
	ssize_t (
	    *read)(struct transport *t, void *buf, size_t len, struct err *err);
	/* Write all len bytes, or return -1 with err set. */
	int (*write)(struct transport *t, const void *buf, size_t len,
	    struct err *err);
	/*
	 * Start TLS on the open stream (after STLS, or at once for
	 * implicit TLS) and verify the peer.  NULL if not supported.
	 */
	int (*starttls)(struct transport *t,
	    const struct transport_tls_opts *opts, struct err *err);
	/* Describe the TLS session ("TLS1.3 / AES-256-GCM"), or NULL. */
	const char *(*tls_info)(struct transport *t);
	/*
	 * Describe the session and the server's certificate at length
	 * (see transport_describe_peer()); NULL if not supported.
	 */
	char *(*describe_peer)(struct transport *t);
	/* Close and free everything; t is gone afterwards. */
	void (*free)(struct transport *t);
};

/* The common head of every transport; implementations embed it first. */
struct transport {
	const struct transport_ops *ops;
};

/*
 * Connect to host:port over TCP (every address getaddrinfo gives, in
 * order) within timeout_ms, and use timeout_ms for every later read and
 * write.  Returns a new transport (caller owns, transport_free()), or
 * NULL with err set: ERR_TEMP for unreachable or refused, ERR_CONFIG for
 * a host name that does not resolve.
 */
struct transport *transport_connect(const char *host, const char *port,
    int timeout_ms, struct err *err);

/*
 * Wrap an open, connected file descriptor (takes ownership of fd);
 * used by tests with a socketpair.
 */
struct transport *transport_from_fd(int fd, int timeout_ms);

/*
 * Bounds beyond the timeout, for servers that send, but too slowly to
 * ever time out (a broken middlebox, a tarpit).  low_speed: octets per
 * second, 0 for none; once the reads since the last write have waited
 * for the server as long as the timeout in all, and brought fewer than
 * low_speed octets a second of it, the read fails (ERR_TEMP, "stalled").
 * deadline: CLOCK_MONOTONIC milliseconds (transport_clock_ms()), 0 for
 * none; no wait goes past it, and a read or write that would fails
 * (ERR_TEMP, "time limit").  limit_s names the time limit in that
 * message.  Only TCP transports have them; others ignore the call.
 */
void transport_set_limits(struct transport *t, unsigned low_speed,
    int64_t deadline, unsigned limit_s);

/*
 * Wait up to ms for something to read: 1 if there is (or the transport
 * cannot tell), 0 if not, -1 with err set if waiting failed.  Nothing is
 * read.
 */
int transport_wait_readable(struct transport *t, int ms, struct err *err);

/* CLOCK_MONOTONIC, in milliseconds. */
int64_t transport_clock_ms(void);

ssize_t transport_read(struct transport *t, void *buf, size_t len,
    struct err *err);
int transport_write(struct transport *t, const void *buf, size_t len,
    struct err *err);

/*
 * Start TLS and verify the server: the chain against opts->ca_file or
 * the system trust store, and the name against opts->hostname; or,
 * with opts->fingerprint, the certificate's SHA-256 alone.  A failed
 * handshake or verification is ERR_PROTO with a message naming the
 * reason (e.g. "certificate is not trusted") and the certificate's
 * subject, issuer, SHA-256 and validity, as far as they fit; a wrong
 * pin names both fingerprints.  Nothing more may be sent on t then.
 * ERR_CONFIG for a CA file, client certificate or key that cannot be
 * loaded, a malformed fingerprint, or a priority string GnuTLS refuses
 * (the message gives the position of the mistake).  ERR_SOFTWARE if the
 * transport cannot do TLS.
 */
int transport_starttls(struct transport *t,
    const struct transport_tls_opts *opts, struct err *err);

bool transport_is_tls(struct transport *t);
const char *transport_tls_info(struct transport *t);

/*
 * For a person (popfetch --serverinfo): once TLS is up, lines of the
 * form "name: value" for the TLS version and cipher ("tls"), and the
 * server certificate's subject, issuer, validity ("not before", "not
 * after", UTC) and fingerprint ("sha256", in the form tls_fingerprint
 * takes), each line ending in "\n".  Server data in it is sanitised.
 * After a failed handshake, "tls: handshake failed" and the certificate
 * the server sent, if any ("certificate: none" otherwise).  Returns a
 * new string (caller frees), or NULL if t never started TLS.
 */
char *transport_describe_peer(struct transport *t);

/* Close and free; t may be NULL. */
void transport_free(struct transport *t);

#endif
