#include "config.h"

#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <glib.h>

#include "fetch/transport.h"
#include "util/str.h"
#include "util/xmalloc.h"

/*
 * The dispatchers: pop3.c calls these, whatever the transport is.
 * The TCP and TLS transport follows below them.
 */

ssize_t
transport_read(struct transport *t, void *buf, size_t len, struct err *err)
{
	return t->ops->read(t, buf, len, err);
}

int
transport_write(struct transport *t, const void *buf, size_t len,
    struct err *err)
{
	return t->ops->write(t, buf, len, err);
}

int
transport_starttls(struct transport *t, const struct transport_tls_opts *opts,
    struct err *err)
{
	if (t->ops->starttls == NULL) {
		err_setx(err, ERR_SOFTWARE, "this transport cannot do TLS");
		return -1;
	}
	return t->ops->starttls(t, opts, err);
}

bool
transport_is_tls(struct transport *t)
{
	return transport_tls_info(t) != NULL;
}

const char *
transport_tls_info(struct transport *t)
{
	if (t->ops->tls_info == NULL)
		return NULL;
	return t->ops->tls_info(t);
}

char *
transport_describe_peer(struct transport *t)
{
	if (t->ops->describe_peer == NULL)
		return NULL;
	return t->ops->describe_peer(t);
}

void
transport_free(struct transport *t)
{
	if (t != NULL)
		t->ops->free(t);
}

/*
 * TCP, with TLS on top once starttls has run.  Every recv() and send()
 * is non-blocking (MSG_DONTWAIT) and every wait is a poll() against a
 * deadline, so neither a silent server nor a full send buffer can hold
 * us past the timeout.  MSG_NOSIGNAL keeps a closed peer from raising
 * SIGPIPE; GnuTLS goes through tls_push()/tls_pull() for the same
 * reasons.
 */
#define TRANSPORT_SHA256_LEN 32
#define TRANSPORT_PIN_PREFIX "SHA256:"

struct tcp_transport {
	struct transport base;
	int fd;
	int timeout_ms;
	gnutls_session_t tls;                  /* NULL before starttls */
	gnutls_certificate_credentials_t cred; /* NULL before starttls */
	bool is_tls;    /* handshake done, peer verified */
	bool is_broken; /* TLS failed: nothing more may be sent */
	bool has_eof;   /* a TLS read saw the end of the stream */
	int io_errno;   /* last system error below GnuTLS, or 0 */
	char info[64];  /* "TLS1.3 / AES-256-GCM" */
	bool has_pin;   /* the certificate must have this SHA-256 */
	bool is_pin_failed;
	unsigned char pin[TRANSPORT_SHA256_LEN];
	/* transport_set_limits(): */
	unsigned low_speed; /* octets per second, 0: none */
	int64_t deadline;   /* CLOCK_MONOTONIC ms, 0: none */
	unsigned limit_s;   /* the time limit, for messages */
	int64_t ls_waited;  /* ms spent in reads since the last write */
	uint64_t ls_octets; /* and the octets they brought */
};

/* The close_notify at the end never waits longer than this. */
#define TRANSPORT_BYE_MS 1000

/* What GnuTLS may negotiate: the system default, less TLS < 1.2. */
#define TRANSPORT_PRIORITY_APPEND "-VERS-TLS1.0:-VERS-TLS1.1"
/* The same, less TLS < 1.3. */
#define TRANSPORT_PRIORITY_APPEND_13 TRANSPORT_PRIORITY_APPEND ":-VERS-TLS1.2"

static const struct transport_ops tcp_ops;

static struct tcp_transport *
tcp_of(struct transport *t)
{
	assert(t->ops == &tcp_ops);
	return (struct tcp_transport *)t;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
transport_clock_ms(void)
{
	return now_ms();
}

/* "30 s", or "200 ms" for a timeout that is not whole seconds. */
static void
fmt_duration(char *buf, size_t size, int ms)
{
	if (ms % 1000 == 0)
		(void)snprintf(buf, size, "%d s", ms / 1000);
	else
		(void)snprintf(buf, size, "%d ms", ms);
}

/*
 * The deadline of a wait that starts now: the timeout, or the time
 * limit if that comes first.
 */
static int64_t
io_deadline(const struct tcp_transport *t)
{
	int64_t d = now_ms() + t->timeout_ms;

	return t->deadline != 0 && t->deadline < d ? t->deadline : d;
}

static void
set_io_timeout(struct tcp_transport *t, struct err *err)
{
	char dur[32];

	if (t->deadline != 0 && now_ms() >= t->deadline) {
		err_setx(err, ERR_TEMP,
		    "time limit of %u s for the account reached", t->limit_s);
		return;
	}
	fmt_duration(dur, sizeof(dur), t->timeout_ms);
	err_setx(err, ERR_TEMP, "timed out after %s waiting for the server",
	    dur);
}

/*
 * After a read that waited waited_ms and brought n octets: a server
 * that has kept us waiting a whole timeout's worth since our last
 * command, trickling fewer than low_speed octets a second, is stalled.
 * Then a new window begins.
 */
static int
low_speed_check(struct tcp_transport *t, int64_t waited_ms, size_t n,
    struct err *err)
{
	uint64_t want;

	if (t->low_speed == 0)
		return 0;
	t->ls_waited += waited_ms;
	t->ls_octets += n;
	if (t->ls_waited < t->timeout_ms)
		return 0;
	want = (uint64_t)t->low_speed * (uint64_t)t->ls_waited / 1000;
	if (t->ls_octets < want) {
		err_setx(err, ERR_TEMP,
		    "stalled: %llu octets in %lld s of waiting for the server "
		    "(low_speed_limit = %u octets a second)",
		    (unsigned long long)t->ls_octets,
		    (long long)(t->ls_waited / 1000), t->low_speed);
		return -1;
	}
	t->ls_waited = 0;
	t->ls_octets = 0;
	return 0;
}

/* A command goes out: the server's time to answer starts afresh. */
static void
low_speed_reset(struct tcp_transport *t)
{
	t->ls_waited = 0;
	t->ls_octets = 0;
}

/*
 * Wait until fd is ready for events or the deadline (CLOCK_MONOTONIC,
 * ms) has passed.  Returns 0 when ready (or in error: the next call
 * on fd says which), 1 on timeout, -1 with err set if poll() fails.
 */
static int
wait_fd(int fd, short events, int64_t deadline, struct err *err)
{
	struct pollfd pfd;
	int64_t left;
	int rc;

	for (;;) {
		left = deadline - now_ms();
		if (left < 0)
			left = 0;
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		rc = poll(&pfd, 1, (int)left);
		if (rc > 0)
			return 0;
		if (rc == 0)
			return 1;
		if (errno != EINTR) {
			err_set(err, ERR_LOCAL, "poll");
			return -1;
		}
	}
}

int
transport_wait_readable(struct transport *t, int ms, struct err *err)
{
	struct tcp_transport *tt;

	if (t->ops != &tcp_ops)
		return 1;
	tt = tcp_of(t);
	if (tt->tls != NULL && gnutls_record_check_pending(tt->tls) > 0)
		return 1;
	switch (wait_fd(tt->fd, POLLIN, now_ms() + ms, err)) {
	case 0:
		return 1;
	case 1:
		return 0;
	default:
		return -1;
	}
}

void
transport_set_limits(struct transport *t, unsigned low_speed, int64_t deadline,
    unsigned limit_s)
{
	struct tcp_transport *tt;

	if (t->ops != &tcp_ops)
		return;
	tt = tcp_of(t);
	tt->low_speed = low_speed;
	tt->deadline = deadline;
	tt->limit_s = limit_s;
}

static struct transport *
tcp_new(int fd, int timeout_ms)
{
	struct tcp_transport *t;

	t = xcalloc(1, sizeof(*t));
	t->base.ops = &tcp_ops;
	t->fd = fd;
	t->timeout_ms = timeout_ms;
	return &t->base;
}

struct transport *
transport_from_fd(int fd, int timeout_ms)
{
	assert(fd >= 0 && timeout_ms > 0);
	return tcp_new(fd, timeout_ms);
}

/*
 * A name that does not exist is a mistake in the configuration; a
 * resolver that cannot answer now (EAI_AGAIN, EAI_FAIL) may answer on
 * the next run.
 */
static void
set_gai_err(struct err *err, const char *host, const char *port, int rc)
{
	enum err_class cls = ERR_TEMP;

	switch (rc) {
	case EAI_NONAME:
	case EAI_SERVICE:
#ifdef EAI_NODATA
	case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
	case EAI_ADDRFAMILY:
#endif
		cls = ERR_CONFIG;
		break;
	case EAI_SYSTEM:
		err_set(err, ERR_TEMP, "resolve %s port %s", host, port);
		return;
	default:
		break;
	}
	err_setx(err, cls, "resolve %s port %s: %s", host, port,
	    gai_strerror(rc));
}

/* One address: a socket and a connect() bounded by the timeout. */
static int
try_connect(const struct addrinfo *ai, const char *host, const char *port,
    int timeout_ms, struct err *err)
{
	char dur[32];
	socklen_t len;
	int fd, rc, soerr = 0;

	fd = socket(ai->ai_family,
	    ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
	if (fd == -1) {
		err_set(err, ERR_TEMP, "connect to %s port %s: socket", host,
		    port);
		return -1;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	if (errno != EINPROGRESS && errno != EINTR) {
		err_set(err, ERR_TEMP, "connect to %s port %s", host, port);
		goto fail;
	}
	rc = wait_fd(fd, POLLOUT, now_ms() + timeout_ms, err);
	if (rc == -1)
		goto fail;
	if (rc == 1) {
		fmt_duration(dur, sizeof(dur), timeout_ms);
		err_setx(err, ERR_TEMP,
		    "connect to %s port %s: timed out after %s", host, port,
		    dur);
		goto fail;
	}
	len = sizeof(soerr);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == -1)
		soerr = errno;
	if (soerr != 0) {
		errno = soerr;
		err_set(err, ERR_TEMP, "connect to %s port %s", host, port);
		goto fail;
	}
	return fd;
fail:
	(void)close(fd);
	return -1;
}

/*
 * Each address gets the whole timeout: a host whose first address
 * (often IPv6) is black-holed must still be reachable on the next one.
 * If all fail, err holds the last address's reason.
 */
struct transport *
transport_connect(const char *host, const char *port, int timeout_ms,
    struct err *err)
{
	struct addrinfo hints, *res = NULL, *ai;
	int fd = -1, rc, one = 1;

	assert(timeout_ms > 0);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		set_gai_err(err, host, port, rc);
		return NULL;
	}
	for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next)
		fd = try_connect(ai, host, port, timeout_ms, err);
	freeaddrinfo(res);
	if (fd == -1)
		return NULL;
	/*
	 * pop3.c gathers the commands it sends ahead into one write, so
	 * Nagle's algorithm could only hold a write back until the last one
	 * is acknowledged: a round trip, the very wait pipelining is for.
	 */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return tcp_new(fd, timeout_ms);
}

static ssize_t
plain_read(struct tcp_transport *t, void *buf, size_t len, struct err *err)
{
	int64_t deadline = io_deadline(t);
	ssize_t n;
	int rc;

	for (;;) {
		n = recv(t->fd, buf, len, MSG_DONTWAIT);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			err_set(err, ERR_TEMP, "read from the server");
			return -1;
		}
		rc = wait_fd(t->fd, POLLIN, deadline, err);
		if (rc == 1)
			set_io_timeout(t, err);
		if (rc != 0)
			return -1;
	}
}

/* The timeout bounds each wait for progress, not the whole write. */
static int
plain_write(struct tcp_transport *t, const char *p, size_t len, struct err *err)
{
	ssize_t n;
	int rc;

	while (len > 0) {
		n = send(t->fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n >= 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			err_set(err, ERR_TEMP, "write to the server");
			return -1;
		}
		rc = wait_fd(t->fd, POLLOUT, io_deadline(t), err);
		if (rc == 1)
			set_io_timeout(t, err);
		if (rc != 0)
			return -1;
	}
	return 0;
}

static void
tls_save_errno(struct tcp_transport *t, int e)
{
	gnutls_transport_set_errno(t->tls, e);
	if (e != EAGAIN && e != EWOULDBLOCK && e != EINTR)
		t->io_errno = e;
}

static ssize_t
tls_push(gnutls_transport_ptr_t ptr, const void *data, size_t len)
{
	struct tcp_transport *t = ptr;
	ssize_t n;

	n = send(t->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n == -1)
		tls_save_errno(t, errno);
	return n;
}

static ssize_t
tls_pull(gnutls_transport_ptr_t ptr, void *data, size_t len)
{
	struct tcp_transport *t = ptr;
	ssize_t n;

	n = recv(t->fd, data, len, MSG_DONTWAIT);
	if (n == -1)
		tls_save_errno(t, errno);
	return n;
}

/*
 * Unused in a GNUTLS_NONBLOCK session, but GnuTLS asks for one with
 * every custom pull function.  Never wait longer than the timeout.
 */
static int
tls_pull_timeout(gnutls_transport_ptr_t ptr, unsigned int ms)
{
	struct tcp_transport *t = ptr;
	struct pollfd pfd;

	if (ms > (unsigned int)t->timeout_ms)
		ms = (unsigned int)t->timeout_ms;
	pfd.fd = t->fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	return poll(&pfd, 1, (int)ms);
}

static short
tls_direction(struct tcp_transport *t)
{
	return gnutls_record_get_direction(t->tls) == 1 ? POLLOUT : POLLIN;
}

/*
 * A fatal GnuTLS error: a system error below it (reset, broken pipe),
 * or a write after the server closed the stream, is a network failure
 * worth retrying; anything else means the peer broke TLS.
 */
static void
tls_set_fatal(struct tcp_transport *t, int rc, const char *what,
    struct err *err)
{
	if (t->io_errno != 0) {
		errno = t->io_errno;
		err_set(err, ERR_TEMP, "%s", what);
	} else if (t->has_eof)
		err_setx(err, ERR_TEMP, "%s: the server closed the connection",
		    what);
	else
		err_setx(err, ERR_PROTO, "%s: %s", what, gnutls_strerror(rc));
}

static int
tls_load_trust(struct tcp_transport *t, const char *ca_file, struct err *err)
{
	int rc;

	if (ca_file != NULL) {
		rc = gnutls_certificate_set_x509_trust_file(t->cred, ca_file,
		    GNUTLS_X509_FMT_PEM);
		if (rc < 0)
			err_setx(err, ERR_CONFIG, "CA file %s: %s", ca_file,
			    gnutls_strerror(rc));
		else if (rc == 0)
			err_setx(err, ERR_CONFIG,
			    "CA file %s: no certificates in it", ca_file);
		return rc > 0 ? 0 : -1;
	}
	rc = gnutls_certificate_set_x509_system_trust(t->cred);
	if (rc < 0)
		err_setx(err, ERR_CONFIG, "system trust store: %s",
		    gnutls_strerror(rc));
	else if (rc == 0)
		err_setx(err, ERR_CONFIG,
		    "system trust store: no certificates in it");
	return rc > 0 ? 0 : -1;
}

/* "SHA256:" and 32 bytes in hex, a colon allowed between bytes. */
static int
tls_parse_pin(const char *s, unsigned char *md, struct err *err)
{
	const char *p = s + strlen(TRANSPORT_PIN_PREFIX);
	int hi, lo;
	size_t i;

	if (strncasecmp(s, TRANSPORT_PIN_PREFIX,
	        strlen(TRANSPORT_PIN_PREFIX)) != 0)
		goto bad;
	for (i = 0; i < TRANSPORT_SHA256_LEN; i++) {
		if (i > 0 && *p == ':')
			p++;
		if ((hi = g_ascii_xdigit_value(p[0])) == -1 ||
		    (lo = g_ascii_xdigit_value(p[1])) == -1)
			goto bad;
		md[i] = (unsigned char)(hi << 4 | lo);
		p += 2;
	}
	if (*p == '\0')
		return 0;
bad:
	err_setx(err, ERR_CONFIG,
	    "TLS fingerprint: want \"SHA256:\" and 64 hex digits");
	return -1;
}

static void
tls_hex(const unsigned char *md, size_t len, char *hex)
{
	size_t k;

	for (k = 0; k < len; k++)
		(void)snprintf(hex + 2 * k, 3, "%02x", md[k]);
	hex[2 * len] = '\0';
}

/*
 * The SHA-256 of the server's own certificate.  Called by GnuTLS once
 * the certificate has arrived, so that a wrong one ends the handshake
 * before the server can take it for a done deal.
 */
static int
tls_check_pin(gnutls_session_t session)
{
	struct tcp_transport *t = gnutls_session_get_ptr(session);
	const gnutls_datum_t *certs;
	unsigned char md[TRANSPORT_SHA256_LEN];
	size_t len = sizeof(md);
	unsigned int n = 0;

	certs = gnutls_certificate_get_peers(session, &n);
	if (certs == NULL || n == 0 ||
	    gnutls_fingerprint(GNUTLS_DIG_SHA256, &certs[0], md, &len) < 0 ||
	    len != sizeof(md) || memcmp(md, t->pin, sizeof(md)) != 0) {
		t->is_pin_failed = true;
		return -1;
	}
	return 0;
}

/*
 * A priority string of the user's, checked alone first so that the
 * position of a mistake is one in the user's own string; then the
 * versions below the minimum are taken out of it.
 */
static int
tls_set_priority(struct tcp_transport *t, const struct transport_tls_opts *opts,
    struct err *err)
{
	const char *append = opts->min_version == TRANSPORT_TLS_MIN_1_3
	    ? TRANSPORT_PRIORITY_APPEND_13
	    : TRANSPORT_PRIORITY_APPEND;
	gnutls_priority_t prio;
	const char *pos = NULL;
	char clean[64], *full;
	int rc;

	if (opts->priority == NULL) {
		rc =
		    gnutls_set_default_priority_append(t->tls, append, NULL, 0);
		if (rc < 0)
			err_setx(err, ERR_LOCAL, "TLS setup: %s",
			    gnutls_strerror(rc));
		return rc < 0 ? -1 : 0;
	}
	rc = gnutls_priority_init2(&prio, opts->priority, &pos, 0);
	if (rc < 0) {
		if (pos == NULL || pos < opts->priority ||
		    pos > opts->priority + strlen(opts->priority))
			pos = opts->priority;
		str_sanitise(clean, sizeof(clean), pos, strlen(pos));
		err_setx(err, ERR_CONFIG,
		    "TLS priority string: %s at position %zu (\"%s\")",
		    gnutls_strerror(rc), (size_t)(pos - opts->priority), clean);
		return -1;
	}
	gnutls_priority_deinit(prio);
	full = xasprintf("%s:%s", opts->priority, append);
	rc = gnutls_priority_set_direct(t->tls, full, NULL);
	free(full);
	if (rc < 0) {
		err_setx(err, ERR_CONFIG, "TLS priority string: %s",
		    gnutls_strerror(rc));
		return -1;
	}
	return 0;
}

/* Trust: a pin, or a CA file or the system store, or (tests) none. */
static int
tls_set_creds(struct tcp_transport *t, const struct transport_tls_opts *opts,
    struct err *err)
{
	const char *key;
	int rc;

	if ((rc = gnutls_certificate_allocate_credentials(&t->cred)) < 0) {
		err_setx(err, ERR_LOCAL, "TLS setup: %s", gnutls_strerror(rc));
		return -1;
	}
	if (opts->fingerprint != NULL) {
		if (tls_parse_pin(opts->fingerprint, t->pin, err) == -1)
			return -1;
		t->has_pin = true;
	} else if (opts->verify && tls_load_trust(t, opts->ca_file, err) == -1)
		return -1;
	if (opts->cert_file != NULL) {
		key = opts->key_file != NULL ? opts->key_file : opts->cert_file;
		rc = gnutls_certificate_set_x509_key_file(t->cred,
		    opts->cert_file, key, GNUTLS_X509_FMT_PEM);
		if (rc < 0) {
			err_setx(err, ERR_CONFIG,
			    "client certificate %s, key %s: %s",
			    opts->cert_file, key, gnutls_strerror(rc));
			return -1;
		}
	}
	return 0;
}

/* RFC 6066 §3: a literal address is not a valid server name. */
static bool
is_ip_literal(const char *host)
{
	struct in6_addr a6;
	struct in_addr a4;

	return inet_pton(AF_INET, host, &a4) == 1 ||
	    inet_pton(AF_INET6, host, &a6) == 1;
}

static int
tls_setup(struct tcp_transport *t, const struct transport_tls_opts *opts,
    struct err *err)
{
	const char *host = opts->hostname;
	int rc;

	if (tls_set_creds(t, opts, err) == -1)
		return -1;
	/* Non-blocking: we do every wait ourselves, bounded. */
	if ((rc = gnutls_init(&t->tls, GNUTLS_CLIENT | GNUTLS_NONBLOCK)) < 0)
		goto fail;
	/* RFC 8996: TLS 1.0 and 1.1 are deprecated. */
	if (tls_set_priority(t, opts, err) == -1)
		return -1;
	rc = gnutls_credentials_set(t->tls, GNUTLS_CRD_CERTIFICATE, t->cred);
	if (rc < 0)
		goto fail;
	if (host != NULL && !is_ip_literal(host)) {
		rc = gnutls_server_name_set(t->tls, GNUTLS_NAME_DNS, host,
		    strlen(host));
		if (rc < 0)
			goto fail;
	}
	/* Chain and name, or the pin, are checked inside the handshake. */
	gnutls_session_set_ptr(t->tls, t);
	if (t->has_pin)
		gnutls_session_set_verify_function(t->tls, tls_check_pin);
	else if (opts->verify)
		gnutls_session_set_verify_cert(t->tls, host, 0);
	/* Our own deadline bounds the handshake. */
	gnutls_handshake_set_timeout(t->tls, 0);
	gnutls_transport_set_ptr(t->tls, t);
	gnutls_transport_set_push_function(t->tls, tls_push);
	gnutls_transport_set_pull_function(t->tls, tls_pull);
	gnutls_transport_set_pull_timeout_function(t->tls, tls_pull_timeout);
	return 0;
fail:
	err_setx(err, ERR_LOCAL, "TLS setup: %s", gnutls_strerror(rc));
	return -1;
}

/* What we tell a person about the server's certificate; sanitised. */
struct tls_peer {
	char subject[256];
	char issuer[256];
	char sha256[2 * TRANSPORT_SHA256_LEN + 1];
	char not_before[32]; /* "2000-01-01 00:00:00", UTC */
	char not_after[32];
};

static void
tls_fmt_time(char *buf, size_t size, time_t when)
{
	struct tm tm;

	if (when == (time_t)-1 || gmtime_r(&when, &tm) == NULL ||
	    strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		(void)snprintf(buf, size, "unknown");
}

/* Returns 0, or -1 if the server sent no certificate we can read. */
static int
tls_get_peer(struct tcp_transport *t, struct tls_peer *p)
{
	const gnutls_datum_t *certs;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t subj = { NULL, 0 }, iss = { NULL, 0 };
	unsigned char md[TRANSPORT_SHA256_LEN];
	size_t mdlen = sizeof(md);
	unsigned int n = 0;
	int rc = -1;

	certs = gnutls_certificate_get_peers(t->tls, &n);
	if (certs == NULL || n == 0 || gnutls_x509_crt_init(&crt) < 0)
		return -1;
	if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) < 0 ||
	    gnutls_x509_crt_get_dn3(crt, &subj, 0) < 0 ||
	    gnutls_x509_crt_get_issuer_dn3(crt, &iss, 0) < 0 ||
	    gnutls_fingerprint(GNUTLS_DIG_SHA256, &certs[0], md, &mdlen) < 0 ||
	    mdlen != sizeof(md))
		goto out;
	str_sanitise(p->subject, sizeof(p->subject), (const char *)subj.data,
	    subj.size);
	str_sanitise(p->issuer, sizeof(p->issuer), (const char *)iss.data,
	    iss.size);
	tls_hex(md, mdlen, p->sha256);
	tls_fmt_time(p->not_before, sizeof(p->not_before),
	    gnutls_x509_crt_get_activation_time(crt));
	tls_fmt_time(p->not_after, sizeof(p->not_after),
	    gnutls_x509_crt_get_expiration_time(crt));
	rc = 0;
out:
	gnutls_free(subj.data);
	gnutls_free(iss.data);
	gnutls_x509_crt_deinit(crt);
	return rc;
}

/*
 * What callers may still put in front of a TLS error ("STLS: "), so that
 * the end of ours is not cut off.
 */
#define TRANSPORT_ERR_RESERVE 16
/* Longest subject or issuer shown in an error, "..." included. */
#define TRANSPORT_DN_SHOWN 64

/* Append ", part" (or " (part" first) to buf if all of it fits in room. */
static void
tls_add_part(char *buf, size_t room, const char *part)
{
	size_t used = strlen(buf), len = strlen(part);
	const char *sep = used == 0 ? " (" : ", ";

	/* With the separator and the closing parenthesis. */
	if (used + 2 + len + 1 >= room)
		return;
	(void)snprintf(buf + used, room - used, "%s%s", sep, part);
}

/* name and a DN, the DN cut to TRANSPORT_DN_SHOWN octets with "...". */
static void
tls_fmt_dn(char *buf, size_t size, const char *name, const char *dn)
{
	if (strlen(dn) < TRANSPORT_DN_SHOWN)
		(void)snprintf(buf, size, "%s %s", name, dn);
	else
		(void)snprintf(buf, size, "%s %.*s...", name,
		    TRANSPORT_DN_SHOWN - 3, dn);
}

/*
 * " (SHA256:hex, subject DN, issuer DN, valid from DATE to DATE)" of the
 * server's certificate, in at most room octets with the NUL,
 * or "" if there is none.  A part that does not fit whole is left out,
 * the last ones first, never cut in the middle: the fingerprint, in the
 * form tls_fingerprint takes, comes first; is_dates_first (a certificate
 * expired, or not yet valid) brings the dates next.
 */
static void
tls_describe_peer(struct tcp_transport *t, bool is_dates_first, char *buf,
    size_t room)
{
	char part[2 * TRANSPORT_DN_SHOWN], dates[64];
	struct tls_peer p;

	buf[0] = '\0';
	if (room < 2 || tls_get_peer(t, &p) == -1)
		return;
	(void)snprintf(dates, sizeof(dates), "valid from %.10s to %.10s",
	    p.not_before, p.not_after);
	(void)snprintf(part, sizeof(part), TRANSPORT_PIN_PREFIX "%s", p.sha256);
	tls_add_part(buf, room - 1, part);
	if (is_dates_first)
		tls_add_part(buf, room - 1, dates);
	tls_fmt_dn(part, sizeof(part), "subject", p.subject);
	tls_add_part(buf, room - 1, part);
	tls_fmt_dn(part, sizeof(part), "issuer", p.issuer);
	tls_add_part(buf, room - 1, part);
	if (!is_dates_first)
		tls_add_part(buf, room - 1, dates);
	if (buf[0] != '\0')
		(void)strcat(buf, ")");
}

/*
 * The verification status in GnuTLS's words, less its opening "The
 * certificate is NOT trusted." when reasons follow (our message says
 * so already, and the fingerprint needs the room).
 */
static void
tls_set_verify_err(struct tcp_transport *t, const char *host, struct err *err)
{
	static const char lead[] = "The certificate is NOT trusted. ";
	gnutls_datum_t out = { NULL, 0 };
	unsigned status = gnutls_session_get_verify_cert_status(t->tls);
	const char *why = "verification failed";
	char peer[2 * ERR_MSG_MAX];
	size_t len, room;
	int n;

	if (gnutls_certificate_verification_status_print(status,
	        GNUTLS_CRT_X509, &out, 0) == 0 &&
	    out.data != NULL) {
		why = (const char *)out.data;
		len = strlen(why);
		while (len > 0 && why[len - 1] == ' ')
			out.data[--len] = '\0';
		if (strncmp(why, lead, sizeof(lead) - 1) == 0 &&
		    len > sizeof(lead) - 1)
			why += sizeof(lead) - 1;
	}
	n = snprintf(peer, sizeof(peer), "TLS certificate of %s rejected: %s",
	    host, why);
	if (n > 0 && (size_t)n + TRANSPORT_ERR_RESERVE < ERR_MSG_MAX) {
		room = ERR_MSG_MAX - TRANSPORT_ERR_RESERVE - (size_t)n;
		tls_describe_peer(t,
		    (status &
		        (GNUTLS_CERT_EXPIRED | GNUTLS_CERT_NOT_ACTIVATED)) != 0,
		    peer + n, room);
	}
	err_setx(err, ERR_PROTO, "%s", peer);
	gnutls_free(out.data);
}

/* Both fingerprints first: they are what the user compares. */
static void
tls_set_pin_err(struct tcp_transport *t, const char *host, struct err *err)
{
	char want[2 * TRANSPORT_SHA256_LEN + 1], s[64];
	struct tls_peer p;

	tls_hex(t->pin, sizeof(t->pin), want);
	if (tls_get_peer(t, &p) == -1) {
		err_setx(err, ERR_PROTO,
		    "TLS certificate of %s rejected: no certificate to match "
		    "the pinned SHA256:%s",
		    host, want);
		return;
	}
	str_sanitise(s, sizeof(s), p.subject, strlen(p.subject));
	err_setx(err, ERR_PROTO,
	    "TLS certificate of %s rejected: fingerprint SHA256:%s is not "
	    "the pinned SHA256:%s (subject %s)",
	    host, p.sha256, want, s);
}

static int
tls_handshake(struct tcp_transport *t, const char *host, struct err *err)
{
	int64_t deadline = io_deadline(t);
	char what[ERR_MSG_MAX], dur[32];
	int rc;

	for (;;) {
		rc = gnutls_handshake(t->tls);
		if (rc == GNUTLS_E_SUCCESS)
			return 0;
		if (t->is_pin_failed) {
			tls_set_pin_err(t, host, err);
			return -1;
		}
		if (rc == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
			tls_set_verify_err(t, host, err);
			return -1;
		}
		if (gnutls_error_is_fatal(rc)) {
			(void)snprintf(what, sizeof(what),
			    "TLS handshake with %s failed", host);
			tls_set_fatal(t, rc, what, err);
			return -1;
		}
		/* Warning alerts and the like: go on, within the deadline. */
		if (rc != GNUTLS_E_AGAIN && rc != GNUTLS_E_INTERRUPTED)
			rc = now_ms() < deadline ? 0 : 1;
		else
			rc = wait_fd(t->fd, tls_direction(t), deadline, err);
		if (rc == -1)
			return -1;
		if (rc == 1) {
			fmt_duration(dur, sizeof(dur), t->timeout_ms);
			err_setx(err, ERR_TEMP,
			    "TLS handshake with %s: timed out after %s", host,
			    dur);
			return -1;
		}
	}
}

static void
tls_describe(struct tcp_transport *t)
{
	const char *proto, *cipher;

	proto = gnutls_protocol_get_name(gnutls_protocol_get_version(t->tls));
	cipher = gnutls_cipher_get_name(gnutls_cipher_get(t->tls));
	(void)snprintf(t->info, sizeof(t->info), "%s / %s",
	    proto != NULL ? proto : "TLS", cipher != NULL ? cipher : "unknown");
}

/*
 * Whatever fails here leaves the stream in an unknown state (the
 * server may be mid-handshake), so the transport is broken for good.
 */
static int
tcp_starttls(struct transport *base, const struct transport_tls_opts *opts,
    struct err *err)
{
	struct tcp_transport *t = tcp_of(base);
	const char *host;

	if (t->is_broken) {
		err_setx(err, ERR_PROTO,
		    "connection unusable after a TLS failure");
		return -1;
	}
	if (t->tls != NULL) {
		err_setx(err, ERR_SOFTWARE, "TLS is already on");
		return -1;
	}
	if (opts->verify && opts->hostname == NULL) {
		err_setx(err, ERR_SOFTWARE,
		    "no host name to verify TLS against");
		return -1;
	}
	host = opts->hostname != NULL ? opts->hostname : "the server";
	if (tls_setup(t, opts, err) == -1 ||
	    tls_handshake(t, host, err) == -1) {
		t->is_broken = true;
		return -1;
	}
	tls_describe(t);
	t->is_tls = true;
	return 0;
}

static ssize_t
tls_read(struct tcp_transport *t, void *buf, size_t len, struct err *err)
{
	int64_t deadline = io_deadline(t);
	ssize_t n;
	int rc;

	for (;;) {
		n = gnutls_record_recv(t->tls, buf, len);
		if (n > 0)
			return n;
		if (n == 0) {
			t->has_eof = true;
			return 0;
		}
		/*
		 * A close without close_notify.  Many POP3 servers do that
		 * after QUIT; a truncated reply is caught above us, since
		 * every POP3 reply has its own end marker.
		 */
		if (n == GNUTLS_E_PREMATURE_TERMINATION) {
			t->has_eof = true;
			return 0;
		}
		if (gnutls_error_is_fatal((int)n)) {
			t->is_broken = true;
			tls_set_fatal(t, (int)n, "TLS read from the server",
			    err);
			return -1;
		}
		/* A whole record may already sit in GnuTLS's buffer. */
		if (gnutls_record_check_pending(t->tls) > 0)
			continue;
		/* Non-fatal (e.g. a HelloRequest, which we ignore). */
		if (n != GNUTLS_E_AGAIN && n != GNUTLS_E_INTERRUPTED)
			rc = now_ms() < deadline ? 0 : 1;
		else
			rc = wait_fd(t->fd, tls_direction(t), deadline, err);
		if (rc == 1)
			set_io_timeout(t, err);
		if (rc != 0)
			return -1;
	}
}

/*
 * After GNUTLS_E_AGAIN the same data must be offered again, which the
 * loop does.  As for plain TCP, the timeout bounds each wait.
 */
static int
tls_write(struct tcp_transport *t, const char *p, size_t len, struct err *err)
{
	int64_t deadline = io_deadline(t);
	ssize_t n;
	int rc;

	while (len > 0) {
		n = gnutls_record_send(t->tls, p, len);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			deadline = io_deadline(t);
			continue;
		}
		if (n < 0 && gnutls_error_is_fatal((int)n)) {
			t->is_broken = true;
			tls_set_fatal(t, (int)n, "TLS write to the server",
			    err);
			return -1;
		}
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			rc = wait_fd(t->fd, tls_direction(t), deadline, err);
		else
			rc = now_ms() < deadline ? 0 : 1;
		if (rc == 1)
			set_io_timeout(t, err);
		if (rc != 0)
			return -1;
	}
	return 0;
}

static int
tcp_check(struct tcp_transport *t, struct err *err)
{
	if (t->is_broken) {
		err_setx(err, ERR_PROTO,
		    "connection unusable after a TLS failure");
		return -1;
	}
	return 0;
}

static ssize_t
tcp_read(struct transport *base, void *buf, size_t len, struct err *err)
{
	struct tcp_transport *t = tcp_of(base);
	int64_t t0;
	ssize_t n;

	if (tcp_check(t, err) == -1)
		return -1;
	if (len == 0)
		return 0;
	t0 = now_ms();
	/* time_limit bounds a server that never stops sending, too. */
	if (t->deadline != 0 && t0 >= t->deadline) {
		set_io_timeout(t, err);
		return -1;
	}
	if (t->is_tls)
		n = tls_read(t, buf, len, err);
	else
		n = plain_read(t, buf, len, err);
	if (n > 0 && low_speed_check(t, now_ms() - t0, (size_t)n, err) == -1)
		return -1;
	return n;
}

static int
tcp_write(struct transport *base, const void *buf, size_t len, struct err *err)
{
	struct tcp_transport *t = tcp_of(base);

	if (tcp_check(t, err) == -1)
		return -1;
	if (t->deadline != 0 && now_ms() >= t->deadline) {
		set_io_timeout(t, err);
		return -1;
	}
	low_speed_reset(t);
	if (t->is_tls)
		return tls_write(t, buf, len, err);
	return plain_write(t, buf, len, err);
}

static const char *
tcp_tls_info(struct transport *base)
{
	struct tcp_transport *t = tcp_of(base);

	return t->is_tls && !t->is_broken ? t->info : NULL;
}

static char *
tcp_describe_peer(struct transport *base)
{
	struct tcp_transport *t = tcp_of(base);
	const char *info = t->info;
	struct tls_peer p;

	/* After a failed handshake the certificate is what people need. */
	if (t->tls == NULL)
		return NULL;
	if (!t->is_tls)
		info = "handshake failed";
	else if (t->is_broken)
		info = "broken";
	if (tls_get_peer(t, &p) == -1)
		return xasprintf("tls: %s\ncertificate: none\n", info);
	return xasprintf("tls: %s\nsubject: %s\nissuer: %s\n"
	                 "not before: %s UTC\nnot after: %s UTC\n"
	                 "sha256: " TRANSPORT_PIN_PREFIX "%s\n",
	    info, p.subject, p.issuer, p.not_before, p.not_after, p.sha256);
}

/*
 * RFC 8446 §6.1: say close_notify, but only as a courtesy: send it if
 * the socket takes it soon, and never wait for the server's answer.
 */
static void
tls_bye(struct tcp_transport *t)
{
	int ms =
	    t->timeout_ms < TRANSPORT_BYE_MS ? t->timeout_ms : TRANSPORT_BYE_MS;
	int64_t deadline = now_ms() + ms;
	int rc;

	for (;;) {
		rc = gnutls_bye(t->tls, GNUTLS_SHUT_WR);
		if (rc != GNUTLS_E_AGAIN && rc != GNUTLS_E_INTERRUPTED)
			return;
		if (wait_fd(t->fd, POLLOUT, deadline, NULL) != 0)
			return;
	}
}

static void
tcp_free(struct transport *base)
{
	struct tcp_transport *t = tcp_of(base);

	if (t->is_tls && !t->is_broken)
		tls_bye(t);
	(void)close(t->fd);
	if (t->tls != NULL)
		gnutls_deinit(t->tls);
	if (t->cred != NULL)
		gnutls_certificate_free_credentials(t->cred);
	free(t);
}

static const struct transport_ops tcp_ops = {
	.read = tcp_read,
	.write = tcp_write,
	.starttls = tcp_starttls,
	.tls_info = tcp_tls_info,
	.describe_peer = tcp_describe_peer,
	.free = tcp_free,
};
