#ifndef POPFETCH_FETCH_TRANSPORT_H
#define POPFETCH_FETCH_TRANSPORT_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

/*
 * A byte stream to a server: plain TCP, TLS over TCP, or anything a test
 * plugs in (a socketpair, a scripted peer).  pop3.c sees only this.
 * Every read and write is bounded by the transport's timeout.
 */
struct transport;

struct transport_tls_opts {
	const char *hostname; /* checked against the certificate; SNI */
	const char *ca_file;  /* PEM bundle, or NULL for the system store */
	bool verify;          /* false only in tests */
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

ssize_t transport_read(struct transport *t, void *buf, size_t len,
    struct err *err);
int transport_write(struct transport *t, const void *buf, size_t len,
    struct err *err);

/*
 * Start TLS and verify the server: the chain against opts->ca_file or
 * the system trust store, and the name against opts->hostname.  A
 * failed handshake or verification is ERR_PROTO with a message naming
 * the reason (e.g. "certificate is not trusted"); nothing more may be
 * sent on t then.  ERR_SOFTWARE if the transport cannot do TLS.
 */
int transport_starttls(struct transport *t,
    const struct transport_tls_opts *opts, struct err *err);

bool transport_is_tls(struct transport *t);
const char *transport_tls_info(struct transport *t);

/* Close and free; t may be NULL. */
void transport_free(struct transport *t);

#endif
