#include "config.h"

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "fetch/transport.h"

/*
 * Every test talks to 127.0.0.1 only: to a socket of its own, or to a
 * TLS server played by a forked child with the certificates in
 * tests/data/tls (see make-certs.sh there).  alarm() is the backstop
 * against a hang, in the tests and in the child.
 */

#define TEST_ALARM_S 30
#define SRV_ALARM_S 20

enum srv_mode {
	SRV_DATA,      /* read up bytes, send down bytes, await close_notify */
	SRV_HANDSHAKE, /* handshake, then wait for the client to go */
	SRV_STALL,     /* send stall_at bytes of the handshake, then nothing */
	SRV_CLOSE,     /* handshake, then close without close_notify */
};

struct srv_opts {
	enum srv_mode mode;
	const char *cert;     /* file name in tests/data/tls */
	size_t up;            /* bytes the client sends (SRV_DATA) */
	size_t down;          /* bytes the server sends (SRV_DATA) */
	bool is_tiny;         /* write in pieces of 1 to 7 bytes */
	size_t stall_at;      /* SRV_STALL */
	const char *priority; /* NULL: the default */
	const char *key;      /* NULL: server-key.pem */
	/* Require a client certificate that this file's CA signed. */
	const char *client_ca;
};

struct srv_io {
	int fd;
	const struct srv_opts *opts;
	size_t sent;
	unsigned int pieces;
};

static pid_t srv_pid = -1;

static const char *
tls_file(const char *name)
{
	static char path[4][1024];
	static unsigned int next;
	const char *top = getenv("top_srcdir");
	char *p = path[next++ % 4];

	if (top != NULL)
		(void)snprintf(p, sizeof(path[0]), "%s/tests/data/tls/%s", top,
		    name);
	else
		(void)snprintf(p, sizeof(path[0]), "%s/%s", TEST_TLS_DIR, name);
	return p;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Deterministic bytes, different for each direction (seed). */
static void
pattern(unsigned char *buf, size_t off, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++) {
		uint32_t x = (uint32_t)(off + i) * 2654435761u + seed;

		buf[i] = (unsigned char)(x >> 13 ^ x >> 24);
	}
}

static int
listen_local(char *port_out, size_t size, int backlog)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, backlog), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	(void)snprintf(port_out, size, "%u", (unsigned int)ntohs(sin.sin_port));
	return fd;
}

static int
setup(void **state)
{
	(void)state;
	alarm(TEST_ALARM_S);
	return 0;
}

/* Reap a server left behind by a failed test. */
static int
teardown(void **state)
{
	(void)state;
	if (srv_pid > 0) {
		(void)kill(srv_pid, SIGKILL);
		(void)waitpid(srv_pid, NULL, 0);
		srv_pid = -1;
	}
	alarm(0);
	return 0;
}

/* The child's exit status, or -1 if it did not exit normally. */
static int
srv_reap(void)
{
	int status;
	pid_t pid;

	do
		pid = waitpid(srv_pid, &status, 0);
	while (pid == -1 && errno == EINTR);
	srv_pid = -1;
	if (pid == -1 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static ssize_t
srv_send_all(int fd, const char *p, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = send(fd, p + done, len - done, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		done += (size_t)n;
	}
	return (ssize_t)len;
}

/*
 * The server's push: tiny pieces (with a pause now and then, so the
 * client really sees records arrive in fragments), or a stall after
 * stall_at bytes that lasts until the client hangs up.
 */
static ssize_t
srv_push(gnutls_transport_ptr_t ptr, const void *data, size_t len)
{
	struct srv_io *io = ptr;
	const char *p = data;
	char sink[512];
	size_t done = 0, n;

	if (io->opts->mode == SRV_STALL &&
	    io->sent + len > io->opts->stall_at) {
		(void)srv_send_all(io->fd, p, io->opts->stall_at - io->sent);
		io->sent = io->opts->stall_at;
		while (recv(io->fd, sink, sizeof(sink), 0) > 0)
			continue;
		errno = EPIPE;
		return -1;
	}
	if (!io->opts->is_tiny) {
		io->sent += len;
		return srv_send_all(io->fd, p, len);
	}
	while (done < len) {
		n = 1 + io->pieces++ % 7;
		if (n > len - done)
			n = len - done;
		if (srv_send_all(io->fd, p + done, n) == -1)
			return -1;
		if (io->pieces % 8 == 0)
			(void)usleep(200);
		done += n;
	}
	io->sent += len;
	return (ssize_t)len;
}

static ssize_t
srv_pull(gnutls_transport_ptr_t ptr, void *data, size_t len)
{
	struct srv_io *io = ptr;

	return recv(io->fd, data, len, 0);
}

/* SRV_DATA after the handshake; returns the child's exit status. */
static int
srv_data(gnutls_session_t s, const struct srv_opts *o)
{
	unsigned char buf[16384], want[16384];
	size_t done = 0, n;
	ssize_t r;

	while (done < o->up) {
		r = gnutls_record_recv(s, buf, sizeof(buf));
		if (r <= 0 || (size_t)r > o->up - done)
			return 3;
		pattern(want, done, (size_t)r, 1);
		if (memcmp(buf, want, (size_t)r) != 0)
			return 4;
		done += (size_t)r;
	}
	for (done = 0; done < o->down; done += n) {
		n = o->down - done < sizeof(buf) ? o->down - done : sizeof(buf);
		pattern(buf, done, n, 2);
		if (gnutls_record_send(s, buf, n) != (ssize_t)n)
			return 5;
	}
	/* The client's transport_free() must say close_notify. */
	r = gnutls_record_recv(s, buf, sizeof(buf));
	return r == 0 ? 0 : 6;
}

/* The client's certificate: signed by client_ca, and the one we expect. */
static int
srv_check_client(gnutls_session_t s)
{
	const gnutls_datum_t *certs;
	gnutls_x509_crt_t crt;
	char dn[256];
	size_t len = sizeof(dn);
	unsigned int status = 1, n = 0;
	int rc;

	if (gnutls_certificate_verify_peers2(s, &status) < 0 || status != 0)
		return -1;
	certs = gnutls_certificate_get_peers(s, &n);
	if (certs == NULL || n == 0 || gnutls_x509_crt_init(&crt) < 0)
		return -1;
	rc = gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER);
	if (rc == 0)
		rc = gnutls_x509_crt_get_dn(crt, dn, &len);
	gnutls_x509_crt_deinit(crt);
	if (rc < 0 || strcmp(dn, "CN=popfetch test client") != 0)
		return -1;
	return 0;
}

static int
srv_session(int fd, const struct srv_opts *o)
{
	gnutls_certificate_credentials_t cred;
	gnutls_session_t s;
	struct srv_io io = { fd, o, 0, 0 };
	char sink[512];
	int rc;

	if (gnutls_certificate_allocate_credentials(&cred) < 0 ||
	    gnutls_certificate_set_x509_key_file(cred, tls_file(o->cert),
	        tls_file(o->key != NULL ? o->key : "server-key.pem"),
	        GNUTLS_X509_FMT_PEM) < 0 ||
	    gnutls_init(&s, GNUTLS_SERVER) < 0)
		return 1;
	if (o->client_ca != NULL) {
		if (gnutls_certificate_set_x509_trust_file(cred,
		        tls_file(o->client_ca), GNUTLS_X509_FMT_PEM) <= 0)
			return 1;
		gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUIRE);
	}
	if (o->priority != NULL)
		rc = gnutls_priority_set_direct(s, o->priority, NULL);
	else
		rc = gnutls_set_default_priority(s);
	if (rc < 0 ||
	    gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred) < 0)
		return 1;
	gnutls_transport_set_ptr(s, &io);
	gnutls_transport_set_push_function(s, srv_push);
	gnutls_transport_set_pull_function(s, srv_pull);
	do
		rc = gnutls_handshake(s);
	while (rc < 0 && !gnutls_error_is_fatal(rc));
	if (rc < 0)
		return o->mode == SRV_DATA ? 2 : 0;
	if (o->client_ca != NULL && srv_check_client(s) == -1)
		return 7;
	switch (o->mode) {
	case SRV_DATA:
		return srv_data(s, o);
	case SRV_CLOSE:
		return 0;
	default:
		while (recv(fd, sink, sizeof(sink), 0) > 0)
			continue;
		return 0;
	}
}

/* Fork a TLS server on 127.0.0.1; its port goes to port_out. */
static void
srv_start(const struct srv_opts *o, char *port_out, size_t size)
{
	int lfd, fd;

	lfd = listen_local(port_out, size, 1);
	srv_pid = fork();
	assert_true(srv_pid != -1);
	if (srv_pid == 0) {
		alarm(SRV_ALARM_S);
		fd = accept(lfd, NULL, NULL);
		if (fd == -1)
			_exit(1);
		_exit(srv_session(fd, o));
	}
	(void)close(lfd);
}

static struct transport *
tls_client(const char *port, const char *host, const char *ca, struct err *err)
{
	struct transport_tls_opts opts = { .hostname = host,
		.ca_file = ca,
		.verify = true };
	struct transport *t;

	t = transport_connect("127.0.0.1", port, 5000, err);
	assert_non_null(t);
	if (transport_starttls(t, &opts, err) == -1) {
		printf("# %s\n", err->msg);
		return t;
	}
	return t;
}

static void
client_data(struct transport *t, size_t up, size_t down)
{
	unsigned char buf[10000], want[10000];
	struct err err;
	size_t done, n;
	ssize_t r;

	for (done = 0; done < up; done += n) {
		n = up - done < sizeof(buf) ? up - done : sizeof(buf);
		pattern(buf, done, n, 1);
		assert_int_equal(transport_write(t, buf, n, &err), 0);
	}
	for (done = 0; done < down; done += (size_t)r) {
		r = transport_read(t, buf, sizeof(buf), &err);
		assert_true(r > 0);
		assert_true((size_t)r <= down - done);
		pattern(want, done, (size_t)r, 2);
		assert_memory_equal(buf, want, (size_t)r);
	}
}

static void
test_tcp_exchange(void **state)
{
	char port[16], buf[64];
	struct transport *t;
	struct err err;
	ssize_t n;
	int lfd, fd;

	(void)state;
	lfd = listen_local(port, sizeof(port), 1);
	t = transport_connect("127.0.0.1", port, 2000, &err);
	assert_non_null(t);
	fd = accept(lfd, NULL, NULL);
	assert_true(fd >= 0);
	assert_int_equal(transport_write(t, "CAPA\r\n", 6, &err), 0);
	n = recv(fd, buf, sizeof(buf), 0);
	assert_int_equal(n, 6);
	assert_memory_equal(buf, "CAPA\r\n", 6);
	assert_int_equal(send(fd, "+OK\r\n", 5, 0), 5);
	n = transport_read(t, buf, sizeof(buf), &err);
	assert_int_equal(n, 5);
	assert_memory_equal(buf, "+OK\r\n", 5);
	assert_false(transport_is_tls(t));
	assert_null(transport_tls_info(t));
	transport_free(t);
	/* The transport's close reaches the peer. */
	assert_int_equal(recv(fd, buf, sizeof(buf), 0), 0);
	(void)close(fd);
	(void)close(lfd);
}

static void
test_tcp_refused(void **state)
{
	char port[16], want[64];
	struct err err;
	int64_t t0;

	(void)state;
	/* A port that was just free: nothing listens on it. */
	(void)close(listen_local(port, sizeof(port), 1));
	t0 = now_ms();
	assert_null(transport_connect("127.0.0.1", port, 5000, &err));
	assert_true(now_ms() - t0 < 10000);
	assert_int_equal(err.cls, ERR_TEMP);
	(void)snprintf(want, sizeof(want),
	    "connect to 127.0.0.1 port %s: ", port);
	assert_true(strncmp(err.msg, want, strlen(want)) == 0);
	assert_non_null(strstr(err.msg, "Connection refused"));
}

/*
 * A listener whose accept queue is full drops new SYNs, which is as
 * close to a black hole as 127.0.0.1 gets.
 */
static void
test_tcp_connect_timeout(void **state)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	char port[16];
	struct err err;
	int lfd, fds[4], i;
	int64_t t0, ms;

	(void)state;
	lfd = listen_local(port, sizeof(port), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sin, &len), 0);
	for (i = 0; i < 4; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		assert_true(fds[i] >= 0);
		(void)connect(fds[i], (struct sockaddr *)&sin, sizeof(sin));
	}
	(void)usleep(50000);
	t0 = now_ms();
	assert_null(transport_connect("127.0.0.1", port, 300, &err));
	ms = now_ms() - t0;
	printf("# %s (%lld ms)\n", err.msg, (long long)ms);
	assert_int_equal(err.cls, ERR_TEMP);
	assert_true(ms >= 290 && ms < 10000);
	assert_non_null(strstr(err.msg, "timed out after 300 ms"));
	for (i = 0; i < 4; i++)
		(void)close(fds[i]);
	(void)close(lfd);
}

static void
test_tcp_bad_service(void **state)
{
	struct err err;

	(void)state;
	assert_null(
	    transport_connect("127.0.0.1", "no-such-service", 1000, &err));
	assert_int_equal(err.cls, ERR_CONFIG);
	assert_non_null(strstr(err.msg, "resolve 127.0.0.1 port no-such"));
}

static void
test_tcp_read_timeout(void **state)
{
	char port[16], buf[16];
	struct transport *t;
	struct err err;
	int64_t t0, ms;
	int lfd;

	(void)state;
	/* The kernel completes the connection; nobody ever answers. */
	lfd = listen_local(port, sizeof(port), 1);
	t = transport_connect("127.0.0.1", port, 200, &err);
	assert_non_null(t);
	t0 = now_ms();
	assert_int_equal(transport_read(t, buf, sizeof(buf), &err), -1);
	ms = now_ms() - t0;
	assert_int_equal(err.cls, ERR_TEMP);
	assert_string_equal(err.msg,
	    "timed out after 200 ms waiting for the server");
	assert_true(ms >= 195 && ms < 10000);
	transport_free(t);
	(void)close(lfd);
}

static void
test_tcp_eof(void **state)
{
	char port[16], buf[16];
	struct transport *t;
	struct err err;
	int lfd;

	(void)state;
	lfd = listen_local(port, sizeof(port), 1);
	t = transport_connect("127.0.0.1", port, 2000, &err);
	assert_non_null(t);
	(void)close(accept(lfd, NULL, NULL));
	assert_int_equal(transport_read(t, buf, sizeof(buf), &err), 0);
	assert_int_equal(transport_read(t, buf, sizeof(buf), &err), 0);
	transport_free(t);
	(void)close(lfd);
}

/* Writing to a peer that is gone is an error, never a SIGPIPE. */
static void
test_tcp_write_peer_gone(void **state)
{
	static char big[65536];
	char port[16];
	struct transport *t;
	struct err err;
	int lfd, i, rc = 0;

	(void)state;
	assert_true(signal(SIGPIPE, SIG_DFL) != SIG_ERR);
	lfd = listen_local(port, sizeof(port), 1);
	t = transport_connect("127.0.0.1", port, 2000, &err);
	assert_non_null(t);
	(void)close(accept(lfd, NULL, NULL));
	for (i = 0; i < 100 && rc == 0; i++)
		rc = transport_write(t, big, sizeof(big), &err);
	assert_int_equal(rc, -1);
	assert_int_equal(err.cls, ERR_TEMP);
	assert_true(strncmp(err.msg, "write to the server: ", 21) == 0);
	transport_free(t);
	(void)close(lfd);
}

static void
test_from_fd(void **state)
{
	struct transport *t;
	struct err err;
	char buf[16];
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	t = transport_from_fd(sv[0], 150);
	assert_int_equal(transport_write(t, "abc", 3, &err), 0);
	assert_int_equal(read(sv[1], buf, sizeof(buf)), 3);
	assert_int_equal(write(sv[1], "xyz", 3), 3);
	assert_int_equal(transport_read(t, buf, sizeof(buf), &err), 3);
	assert_memory_equal(buf, "xyz", 3);
	assert_int_equal(transport_read(t, buf, sizeof(buf), &err), -1);
	assert_int_equal(err.cls, ERR_TEMP);
	transport_free(t);
	(void)close(sv[1]);
}

/*
 * A peer that sends an octet every 20 ms (50 a second) is stalled under
 * a low-speed limit of 100 octets a second, once the reads have waited
 * a timeout (200 ms) in all; under 5 octets a second (one in the
 * window, which any read brings) it is not.
 */
static void
trickle_read(unsigned low_speed, struct err *err, int *rc_out)
{
	struct transport *t;
	char buf[16];
	int sv[2], i, rc = 0;
	pid_t pid;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		(void)close(sv[0]);
		for (i = 0; i < 40; i++) {
			if (write(sv[1], "x", 1) != 1)
				_exit(0);
			(void)usleep(20000);
		}
		_exit(0);
	}
	(void)close(sv[1]);
	t = transport_from_fd(sv[0], 200);
	transport_set_limits(t, low_speed, 0, 0);
	for (i = 0; i < 40 && rc >= 0; i++)
		rc = (int)transport_read(t, buf, 1, err);
	*rc_out = rc;
	transport_free(t);
	(void)waitpid(pid, NULL, 0);
}

static void
test_low_speed(void **state)
{
	struct err err;
	int rc;

	(void)state;
	err_clear(&err);
	trickle_read(100, &err, &rc);
	assert_int_equal(rc, -1);
	assert_int_equal(err.cls, ERR_TEMP);
	assert_true(strncmp(err.msg, "stalled: ", 9) == 0);
	err_clear(&err);
	trickle_read(5, &err, &rc);
	assert_int_equal(rc, 1);
}

/* The time limit cuts a wait short, whatever the timeout. */
static void
test_time_limit(void **state)
{
	struct transport *t;
	struct err err;
	char buf[16];
	int64_t t0;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	t = transport_from_fd(sv[0], 10000);
	t0 = now_ms();
	transport_set_limits(t, 0, transport_clock_ms() + 150, 7);
	assert_int_equal(transport_read(t, buf, sizeof(buf), &err), -1);
	assert_true(now_ms() - t0 < 5000);
	assert_int_equal(err.cls, ERR_TEMP);
	assert_string_equal(err.msg,
	    "time limit of 7 s for the account reached");
	transport_free(t);
	(void)close(sv[1]);
}

/*
 * A server that never stops sending is bounded too: data waiting to be
 * read does not outlast the time limit, nor does a write go out after
 * it.
 */
static void
test_time_limit_busy(void **state)
{
	struct transport *t;
	struct err err;
	char buf[16];
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[1], "+OK lots of data\r\n", 18), 18);
	t = transport_from_fd(sv[0], 10000);
	transport_set_limits(t, 0, transport_clock_ms() - 1, 7);
	assert_int_equal(transport_read(t, buf, sizeof(buf), &err), -1);
	assert_string_equal(err.msg,
	    "time limit of 7 s for the account reached");
	assert_int_equal(transport_write(t, "QUIT\r\n", 6, &err), -1);
	assert_int_equal(err.cls, ERR_TEMP);
	transport_free(t);
	(void)close(sv[1]);
}

/* A CA file that cannot be read is a configuration error, at once. */
static void
test_tls_bad_ca_file(void **state)
{
	struct transport_tls_opts opts = { .hostname = "localhost",
		.ca_file = "/nonexistent/ca.pem",
		.verify = true };
	struct transport *t;
	struct err err;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	t = transport_from_fd(sv[0], 1000);
	assert_int_equal(transport_starttls(t, &opts, &err), -1);
	assert_int_equal(err.cls, ERR_CONFIG);
	assert_non_null(strstr(err.msg, "/nonexistent/ca.pem"));
	/* Nothing more goes out after a failed starttls. */
	assert_int_equal(transport_write(t, "x", 1, &err), -1);
	assert_int_equal(err.cls, ERR_PROTO);
	transport_free(t);
	(void)close(sv[1]);
}

static void
test_tls_verify_needs_host(void **state)
{
	struct transport_tls_opts opts = { .hostname = NULL,
		.ca_file = NULL,
		.verify = true };
	struct transport *t;
	struct err err;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	t = transport_from_fd(sv[0], 1000);
	assert_int_equal(transport_starttls(t, &opts, &err), -1);
	assert_int_equal(err.cls, ERR_SOFTWARE);
	transport_free(t);
	(void)close(sv[1]);
}

static void
test_tls_exchange(void **state)
{
	struct srv_opts o = { .mode = SRV_DATA,
		.cert = "server.pem",
		.up = 1000,
		.down = 3000 };
	struct transport *t;
	struct err err;
	char port[16];
	const char *info;

	(void)state;
	srv_start(&o, port, sizeof(port));
	t = tls_client(port, "localhost", tls_file("ca.pem"), &err);
	assert_true(transport_is_tls(t));
	info = transport_tls_info(t);
	assert_non_null(info);
	printf("# %s\n", info);
	assert_true(strncmp(info, "TLS1.", 5) == 0);
	assert_true(info[5] == '2' || info[5] == '3');
	assert_non_null(strstr(info, " / "));
	client_data(t, o.up, o.down);
	transport_free(t);
	assert_int_equal(srv_reap(), 0);
}

/* RFC 6125: an address is checked against the iPAddress SAN. */
static void
test_tls_ip_literal(void **state)
{
	struct srv_opts o = { .mode = SRV_DATA,
		.cert = "server.pem",
		.up = 10,
		.down = 10 };
	struct transport *t;
	struct err err;
	char port[16];

	(void)state;
	srv_start(&o, port, sizeof(port));
	t = tls_client(port, "127.0.0.1", tls_file("ca.pem"), &err);
	assert_true(transport_is_tls(t));
	client_data(t, o.up, o.down);
	transport_free(t);
	assert_int_equal(srv_reap(), 0);
}

static void
sha256_hex(const char *file, char *hex, size_t size)
{
	gnutls_datum_t pem = { NULL, 0 };
	gnutls_x509_crt_t crt;
	unsigned char md[32];
	size_t len = sizeof(md), i;

	assert_true(size >= 2 * sizeof(md) + 1);
	assert_int_equal(gnutls_load_file(file, &pem), 0);
	assert_int_equal(gnutls_x509_crt_init(&crt), 0);
	assert_int_equal(gnutls_x509_crt_import(crt, &pem, GNUTLS_X509_FMT_PEM),
	    0);
	assert_int_equal(gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256,
	                     md, &len),
	    0);
	for (i = 0; i < len; i++)
		(void)snprintf(hex + 2 * i, 3, "%02x", md[i]);
	gnutls_x509_crt_deinit(crt);
	gnutls_free(pem.data);
}

/*
 * A rejected certificate: ERR_PROTO naming the reason, and nothing
 * more may be sent.
 */
static void
tls_reject(const char *cert, const char *host, const char *ca,
    const char *reason)
{
	struct srv_opts o = { .mode = SRV_HANDSHAKE, .cert = cert };
	struct transport *t;
	struct err err;
	char port[16], fp[100];

	srv_start(&o, port, sizeof(port));
	t = tls_client(port, host, tls_file(ca), &err);
	assert_int_equal(err.cls, ERR_PROTO);
	assert_true(strncmp(err.msg, "TLS certificate of ", 19) == 0);
	assert_non_null(strstr(err.msg, reason));
	/* The fingerprint as tls_fingerprint takes it. */
	memcpy(fp, "(SHA256:", 8);
	sha256_hex(tls_file(cert), fp + 8, sizeof(fp) - 8);
	assert_non_null(strstr(err.msg, fp));
	/*
	 * Parts that do not fit are left out whole, never cut: the dates
	 * and the issuer are there in full, or not at all, and room is
	 * left for a prefix ("STLS: ").
	 */
	assert_true(strlen(err.msg) + 16 < ERR_MSG_MAX);
	assert_int_equal(err.msg[strlen(err.msg) - 1], ')');
	if (strstr(err.msg, "valid from") != NULL)
		assert_non_null(strstr(err.msg,
		    strcmp(cert, "expired.pem") == 0
		        ? "valid from 2000-01-01 to 2001-01-01"
		        : "valid from 2000-01-01 to 2125-12-31"));
	if (strstr(err.msg, ", subject ") != NULL)
		assert_non_null(strstr(err.msg, ", subject CN=localhost"));
	if (strstr(err.msg, ", issuer ") != NULL)
		assert_non_null(strstr(err.msg, "issuer CN=popfetch test CA"));
	/* With a short host name, all of it fits. */
	if (strcmp(host, "localhost") == 0)
		assert_non_null(strstr(err.msg, ", valid from "));
	assert_false(transport_is_tls(t));
	assert_null(transport_tls_info(t));
	assert_int_equal(transport_write(t, "USER x\r\n", 8, &err), -1);
	assert_int_equal(err.cls, ERR_PROTO);
	transport_free(t);
	assert_int_equal(srv_reap(), 0);
}

static void
test_tls_wrong_ca(void **state)
{
	(void)state;
	tls_reject("server.pem", "localhost", "other-ca.pem",
	    "certificate issuer is unknown");
}

static void
test_tls_wrong_host(void **state)
{
	(void)state;
	tls_reject("server.pem", "mail.example.org", "ca.pem",
	    "does not match");
}

/* A long host name leaves less room: parts go whole, never cut. */
static void
test_tls_wrong_long_host(void **state)
{
	(void)state;
	tls_reject("server.pem",
	    "a-rather-long-host-name.mail.provider.example.org", "ca.pem",
	    "does not match");
}

static void
test_tls_expired(void **state)
{
	(void)state;
	tls_reject("expired.pem", "localhost", "ca.pem", "expired");
}

/* verify = false (tests only) accepts any certificate. */
static void
test_tls_no_verify(void **state)
{
	struct srv_opts o = { .mode = SRV_DATA,
		.cert = "expired.pem",
		.up = 10,
		.down = 10 };
	struct transport_tls_opts opts = { .hostname = "mail.example.org",
		.ca_file = NULL,
		.verify = false };
	struct transport *t;
	struct err err;
	char port[16];

	(void)state;
	srv_start(&o, port, sizeof(port));
	t = transport_connect("127.0.0.1", port, 5000, &err);
	assert_non_null(t);
	assert_int_equal(transport_starttls(t, &opts, &err), 0);
	client_data(t, o.up, o.down);
	transport_free(t);
	assert_int_equal(srv_reap(), 0);
}

static void
test_tls_partial_records(void **state)
{
	struct srv_opts o = { .mode = SRV_DATA,
		.cert = "server.pem",
		.up = 100,
		.down = 20000,
		.is_tiny = true };
	struct transport *t;
	struct err err;
	char port[16];

	(void)state;
	srv_start(&o, port, sizeof(port));
	t = tls_client(port, "localhost", tls_file("ca.pem"), &err);
	assert_true(transport_is_tls(t));
	client_data(t, o.up, o.down);
	transport_free(t);
	assert_int_equal(srv_reap(), 0);
}

static void
test_tls_stalled_handshake(void **state)
{
	struct srv_opts o = { .mode = SRV_STALL,
		.cert = "server.pem",
		.stall_at = 60 };
	struct transport_tls_opts opts = { .hostname = "localhost",
		.ca_file = NULL,
		.verify = true };
	struct transport *t;
	struct err err;
	char port[16];
	int64_t t0, ms;

	(void)state;
	opts.ca_file = tls_file("ca.pem");
	srv_start(&o, port, sizeof(port));
	t = transport_connect("127.0.0.1", port, 300, &err);
	assert_non_null(t);
	t0 = now_ms();
	assert_int_equal(transport_starttls(t, &opts, &err), -1);
	ms = now_ms() - t0;
	printf("# %s (%lld ms)\n", err.msg, (long long)ms);
	assert_int_equal(err.cls, ERR_TEMP);
	assert_string_equal(err.msg,
	    "TLS handshake with localhost: timed out after 300 ms");
	assert_true(ms >= 290 && ms < 10000);
	transport_free(t);
	assert_int_equal(srv_reap(), 0);
}

/* A server that drops TLS without close_notify: EOF, then ERR_TEMP. */
static void
test_tls_peer_gone(void **state)
{
	static char big[65536];
	struct srv_opts o = { .mode = SRV_CLOSE, .cert = "server.pem" };
	struct transport *t;
	struct err err;
	char port[16], buf[16];
	int i, rc = 0;

	(void)state;
	assert_true(signal(SIGPIPE, SIG_DFL) != SIG_ERR);
	srv_start(&o, port, sizeof(port));
	t = tls_client(port, "localhost", tls_file("ca.pem"), &err);
	assert_true(transport_is_tls(t));
	assert_int_equal(srv_reap(), 0);
	assert_int_equal(transport_read(t, buf, sizeof(buf), &err), 0);
	for (i = 0; i < 100 && rc == 0; i++)
		rc = transport_write(t, big, sizeof(big), &err);
	assert_int_equal(rc, -1);
	assert_int_equal(err.cls, ERR_TEMP);
	transport_free(t);
}

/* Without a CA file, the system store decides (and knows no test CA). */
static void
test_tls_system_trust(void **state)
{
	struct srv_opts o = { .mode = SRV_HANDSHAKE, .cert = "server.pem" };
	struct transport *t;
	struct err err;
	char port[16];

	(void)state;
	srv_start(&o, port, sizeof(port));
	t = tls_client(port, "localhost", NULL, &err);
	assert_false(transport_is_tls(t));
	transport_free(t);
	assert_int_equal(srv_reap(), 0);
	if (err.cls == ERR_CONFIG)
		skip(); /* no system trust store on this machine */
	assert_int_equal(err.cls, ERR_PROTO);
	assert_non_null(strstr(err.msg, "issuer is unknown"));
}

static void
test_tls12(void **state)
{
	struct srv_opts o = { .mode = SRV_DATA,
		.cert = "server.pem",
		.up = 100,
		.down = 100,
		.priority = "NORMAL:-VERS-ALL:+VERS-TLS1.2" };
	struct transport *t;
	struct err err;
	char port[16];

	(void)state;
	srv_start(&o, port, sizeof(port));
	t = tls_client(port, "localhost", tls_file("ca.pem"), &err);
	assert_non_null(transport_tls_info(t));
	printf("# %s\n", transport_tls_info(t));
	assert_true(strncmp(transport_tls_info(t), "TLS1.2 / ", 9) == 0);
	client_data(t, o.up, o.down);
	transport_free(t);
	assert_int_equal(srv_reap(), 0);
}

/* A server that speaks nothing newer than TLS 1.1 is refused. */
static void
test_tls11_refused(void **state)
{
	struct srv_opts o = { .mode = SRV_HANDSHAKE,
		.cert = "server.pem",
		.priority = "NORMAL:-VERS-ALL:+VERS-TLS1.1:+VERS-TLS1.0" };
	struct transport *t;
	struct err err;
	char port[16];

	(void)state;
	srv_start(&o, port, sizeof(port));
	t = tls_client(port, "localhost", tls_file("ca.pem"), &err);
	assert_false(transport_is_tls(t));
	assert_int_equal(err.cls, ERR_PROTO);
	assert_true(
	    strncmp(err.msg, "TLS handshake with localhost failed: ", 37) == 0);
	transport_free(t);
	assert_int_equal(srv_reap(), 0);
}

static void
test_tls_large(void **state)
{
	struct srv_opts o = { .mode = SRV_DATA,
		.cert = "server.pem",
		.up = 1u << 20,
		.down = 4u << 20 };
	struct transport *t;
	struct err err;
	char port[16];

	(void)state;
	srv_start(&o, port, sizeof(port));
	t = tls_client(port, "localhost", tls_file("ca.pem"), &err);
	assert_true(transport_is_tls(t));
	client_data(t, o.up, o.down);
	transport_free(t);
	assert_int_equal(srv_reap(), 0);
}

/*
 * "SHA256:AB:CD:..." of a certificate file, upper case with colons, to
 * show that both spellings are taken.
 */
static void
pin_of(const char *file, char *pin, size_t size)
{
	char hex[80];
	size_t i, n;

	sha256_hex(tls_file(file), hex, sizeof(hex));
	assert_true(size >= 7 + 3 * 32);
	n = (size_t)snprintf(pin, size, "SHA256:");
	for (i = 0; i < 64; i += 2) {
		if (i > 0)
			pin[n++] = ':';
		pin[n++] = (char)(hex[i] >= 'a' ? hex[i] - 32 : hex[i]);
		pin[n++] =
		    (char)(hex[i + 1] >= 'a' ? hex[i + 1] - 32 : hex[i + 1]);
	}
	pin[n] = '\0';
}

/*
 * The pin is all the trust: a self-signed certificate, a CA file that
 * knows nothing of it, and a host name it does not carry.
 */
static void
test_tls_pin_ok(void **state)
{
	struct srv_opts o = { .mode = SRV_DATA,
		.cert = "self-signed.pem",
		.key = "self-signed-key.pem",
		.up = 100,
		.down = 100 };
	struct transport_tls_opts opts = { .hostname = "mail.example.org",
		.ca_file = NULL,
		.verify = true };
	struct transport *t;
	struct err err;
	char port[16], pin[128], hex[80], *desc;

	(void)state;
	pin_of("self-signed.pem", pin, sizeof(pin));
	opts.ca_file = tls_file("other-ca.pem");
	opts.fingerprint = pin;
	srv_start(&o, port, sizeof(port));
	t = transport_connect("127.0.0.1", port, 5000, &err);
	assert_non_null(t);
	if (transport_starttls(t, &opts, &err) == -1)
		fail_msg("%s", err.msg);
	assert_true(transport_is_tls(t));
	desc = transport_describe_peer(t);
	assert_non_null(desc);
	printf("# %s", desc);
	sha256_hex(tls_file("self-signed.pem"), hex, sizeof(hex));
	assert_non_null(strstr(desc, "\nsha256: SHA256:"));
	assert_non_null(strstr(desc, hex));
	assert_non_null(strstr(desc, "\nsubject: CN=localhost\n"));
	assert_non_null(strstr(desc, "\nissuer: CN=localhost\n"));
	assert_non_null(
	    strstr(desc, "\nnot before: 2000-01-01 00:00:00 UTC\n"));
	assert_non_null(strstr(desc, "\nnot after: 2125-12-31 23:59:59 UTC\n"));
	assert_true(strncmp(desc, "tls: TLS1.", 10) == 0);
	free(desc);
	client_data(t, o.up, o.down);
	transport_free(t);
	assert_int_equal(srv_reap(), 0);
}

/* A certificate the CA vouches for is still refused if the pin differs. */
static void
test_tls_pin_wrong(void **state)
{
	struct srv_opts o = { .mode = SRV_HANDSHAKE, .cert = "server.pem" };
	struct transport_tls_opts opts = { .hostname = "localhost",
		.ca_file = NULL,
		.verify = true };
	struct transport *t;
	struct err err;
	char port[16], pin[128], got[80], want[80], *desc;

	(void)state;
	pin_of("self-signed.pem", pin, sizeof(pin));
	opts.ca_file = tls_file("ca.pem");
	opts.fingerprint = pin;
	srv_start(&o, port, sizeof(port));
	t = transport_connect("127.0.0.1", port, 5000, &err);
	assert_non_null(t);
	assert_int_equal(transport_starttls(t, &opts, &err), -1);
	printf("# %s\n", err.msg);
	assert_int_equal(err.cls, ERR_PROTO);
	sha256_hex(tls_file("server.pem"), got, sizeof(got));
	sha256_hex(tls_file("self-signed.pem"), want, sizeof(want));
	assert_non_null(strstr(err.msg, got));
	assert_non_null(strstr(err.msg, want));
	assert_non_null(strstr(err.msg, "is not the pinned"));
	assert_false(transport_is_tls(t));
	/* What --serverinfo shows: the certificate that was refused. */
	desc = transport_describe_peer(t);
	assert_non_null(desc);
	assert_true(strncmp(desc, "tls: handshake failed\n", 22) == 0);
	assert_non_null(strstr(desc, got));
	assert_non_null(strstr(desc, "\nsha256: SHA256:"));
	free(desc);
	assert_int_equal(transport_write(t, "USER x\r\n", 8, &err), -1);
	assert_int_equal(err.cls, ERR_PROTO);
	transport_free(t);
	assert_int_equal(srv_reap(), 0);
}

static void
test_tls_pin_malformed(void **state)
{
	static const char *const bad[] = {
		"",
		"SHA256:",
		"SHA1:0011",
		"SHA256:00",
		"SHA256:0g" /* not hex */,
		"SHA256::00" /* colon first */,
	};
	char long_pin[128];
	struct transport_tls_opts opts = { .hostname = "localhost",
		.ca_file = NULL,
		.verify = true };
	struct transport *t;
	struct err err;
	size_t i;
	int sv[2];

	(void)state;
	/* 33 bytes: one too many. */
	(void)snprintf(long_pin, sizeof(long_pin), "sha256:%066d", 0);
	for (i = 0; i <= sizeof(bad) / sizeof(bad[0]); i++) {
		opts.fingerprint =
		    i < sizeof(bad) / sizeof(bad[0]) ? bad[i] : long_pin;
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		t = transport_from_fd(sv[0], 1000);
		assert_int_equal(transport_starttls(t, &opts, &err), -1);
		assert_int_equal(err.cls, ERR_CONFIG);
		assert_non_null(strstr(err.msg, "TLS fingerprint"));
		transport_free(t);
		(void)close(sv[1]);
	}
}

/* tls_min_version = TLS1.3 against a server that stops at TLS 1.2. */
static void
test_tls_min13_refused(void **state)
{
	struct srv_opts o = { .mode = SRV_HANDSHAKE,
		.cert = "server.pem",
		.priority = "NORMAL:-VERS-ALL:+VERS-TLS1.2" };
	struct transport_tls_opts opts = { .hostname = "localhost",
		.ca_file = NULL,
		.verify = true };
	struct transport *t;
	struct err err;
	char port[16];

	(void)state;
	opts.ca_file = tls_file("ca.pem");
	opts.min_version = TRANSPORT_TLS_MIN_1_3;
	srv_start(&o, port, sizeof(port));
	t = transport_connect("127.0.0.1", port, 5000, &err);
	assert_non_null(t);
	assert_int_equal(transport_starttls(t, &opts, &err), -1);
	printf("# %s\n", err.msg);
	assert_int_equal(err.cls, ERR_PROTO);
	assert_true(
	    strncmp(err.msg, "TLS handshake with localhost failed: ", 37) == 0);
	assert_false(transport_is_tls(t));
	transport_free(t);
	assert_int_equal(srv_reap(), 0);
}

/* ... and the same minimum against a server that has TLS 1.3. */
static void
test_tls_min13_ok(void **state)
{
	struct srv_opts o = { .mode = SRV_DATA,
		.cert = "server.pem",
		.up = 10,
		.down = 10 };
	struct transport_tls_opts opts = { .hostname = "localhost",
		.ca_file = NULL,
		.verify = true };
	struct transport *t;
	struct err err;
	char port[16];

	(void)state;
	opts.ca_file = tls_file("ca.pem");
	opts.min_version = TRANSPORT_TLS_MIN_1_3;
	srv_start(&o, port, sizeof(port));
	t = transport_connect("127.0.0.1", port, 5000, &err);
	assert_non_null(t);
	assert_int_equal(transport_starttls(t, &opts, &err), 0);
	assert_true(strncmp(transport_tls_info(t), "TLS1.3 / ", 9) == 0);
	client_data(t, o.up, o.down);
	transport_free(t);
	assert_int_equal(srv_reap(), 0);
}

/* The user's priority string replaces the default. */
static void
test_tls_priority(void **state)
{
	struct srv_opts o = { .mode = SRV_DATA,
		.cert = "server.pem",
		.up = 10,
		.down = 10 };
	struct transport_tls_opts opts = { .hostname = "localhost",
		.ca_file = NULL,
		.verify = true };
	struct transport *t;
	struct err err;
	char port[16];

	(void)state;
	opts.ca_file = tls_file("ca.pem");
	opts.priority = "NORMAL:-VERS-TLS1.3:-CIPHER-ALL:+CHACHA20-POLY1305";
	srv_start(&o, port, sizeof(port));
	t = transport_connect("127.0.0.1", port, 5000, &err);
	assert_non_null(t);
	if (transport_starttls(t, &opts, &err) == -1)
		fail_msg("%s", err.msg);
	printf("# %s\n", transport_tls_info(t));
	assert_string_equal(transport_tls_info(t),
	    "TLS1.2 / CHACHA20-POLY1305");
	client_data(t, o.up, o.down);
	transport_free(t);
	assert_int_equal(srv_reap(), 0);
}

/* A mistake in the priority string: ERR_CONFIG, where GnuTLS saw it. */
static void
test_tls_bad_priority(void **state)
{
	struct transport_tls_opts opts = { .hostname = "localhost",
		.ca_file = NULL,
		.verify = true };
	struct transport *t;
	struct err err;
	char buf[8];
	int sv[2];

	(void)state;
	opts.ca_file = tls_file("ca.pem");
	opts.priority = "NORMAL:+NO-SUCH-THING";
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	t = transport_from_fd(sv[0], 1000);
	assert_int_equal(transport_starttls(t, &opts, &err), -1);
	printf("# %s\n", err.msg);
	assert_int_equal(err.cls, ERR_CONFIG);
	assert_true(strncmp(err.msg, "TLS priority string: ", 21) == 0);
	assert_non_null(strstr(err.msg, "at position 7 (\"+NO-SUCH-THING\")"));
	transport_free(t);
	/* Not a byte of a handshake went out. */
	assert_int_equal(read(sv[1], buf, sizeof(buf)), 0);
	(void)close(sv[1]);
}

/* The server asks for a client certificate and checks it. */
static void
test_tls_client_cert(void **state)
{
	struct srv_opts o = { .mode = SRV_DATA,
		.cert = "server.pem",
		.client_ca = "client.pem",
		.up = 10,
		.down = 10 };
	struct transport_tls_opts opts = { .hostname = "localhost",
		.ca_file = NULL,
		.verify = true };
	struct transport *t;
	struct err err;
	char port[16];
	int pass;

	(void)state;
	opts.ca_file = tls_file("ca.pem");
	for (pass = 0; pass < 2; pass++) {
		/* Without one the server refuses us; with one it lets us in. */
		opts.cert_file = pass == 0 ? NULL : tls_file("client.pem");
		opts.key_file = pass == 0 ? NULL : tls_file("client-key.pem");
		srv_start(&o, port, sizeof(port));
		t = transport_connect("127.0.0.1", port, 5000, &err);
		assert_non_null(t);
		if (pass == 0) {
			/*
			 * In TLS 1.3 the server judges the client after
			 * the client's side of the handshake is done: the
			 * refusal may only show on the first read.
			 */
			if (transport_starttls(t, &opts, &err) == 0)
				assert_true(transport_read(t, port,
				                sizeof(port), &err) <= 0);
			transport_free(t);
			assert_int_equal(srv_reap(), 2);
			continue;
		}
		if (transport_starttls(t, &opts, &err) == -1)
			fail_msg("%s", err.msg);
		client_data(t, o.up, o.down);
		transport_free(t);
		assert_int_equal(srv_reap(), 0);
	}
}

static void
test_tls_client_cert_bad(void **state)
{
	struct transport_tls_opts opts = { .hostname = "localhost",
		.ca_file = NULL,
		.verify = true };
	struct transport *t;
	struct err err;
	int sv[2], i;

	(void)state;
	opts.ca_file = tls_file("ca.pem");
	for (i = 0; i < 2; i++) {
		/* A missing file, then a key that is not the certificate's. */
		opts.cert_file =
		    i == 0 ? "/nonexistent/client.pem" : tls_file("client.pem");
		opts.key_file = tls_file("server-key.pem");
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		t = transport_from_fd(sv[0], 1000);
		assert_int_equal(transport_starttls(t, &opts, &err), -1);
		printf("# %s\n", err.msg);
		assert_int_equal(err.cls, ERR_CONFIG);
		assert_true(strncmp(err.msg, "client certificate ", 19) == 0);
		transport_free(t);
		(void)close(sv[1]);
	}
}

/* Nothing to describe on a plain connection. */
static void
test_describe_plain(void **state)
{
	struct transport *t;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	t = transport_from_fd(sv[0], 1000);
	assert_null(transport_describe_peer(t));
	transport_free(t);
	(void)close(sv[1]);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_tcp_exchange),
		T(test_tcp_refused),
		T(test_tcp_connect_timeout),
		T(test_tcp_bad_service),
		T(test_tcp_read_timeout),
		T(test_tcp_eof),
		T(test_tcp_write_peer_gone),
		T(test_from_fd),
		T(test_low_speed),
		T(test_time_limit),
		T(test_time_limit_busy),
		T(test_tls_bad_ca_file),
		T(test_tls_verify_needs_host),
		T(test_tls_exchange),
		T(test_tls_ip_literal),
		T(test_tls_wrong_ca),
		T(test_tls_wrong_host),
		T(test_tls_wrong_long_host),
		T(test_tls_expired),
		T(test_tls_no_verify),
		T(test_tls_partial_records),
		T(test_tls_stalled_handshake),
		T(test_tls_peer_gone),
		T(test_tls_system_trust),
		T(test_tls12),
		T(test_tls11_refused),
		T(test_tls_large),
		T(test_tls_pin_ok),
		T(test_tls_pin_wrong),
		T(test_tls_pin_malformed),
		T(test_tls_min13_refused),
		T(test_tls_min13_ok),
		T(test_tls_priority),
		T(test_tls_bad_priority),
		T(test_tls_client_cert),
		T(test_tls_client_cert_bad),
		T(test_describe_plain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
