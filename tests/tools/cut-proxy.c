#include "config.h"

#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

/*
 * cut-proxy: a TCP relay on 127.0.0.1 for the integration tests.  It
 * sits between popfetch and a POP3 server and drops the connection at a
 * chosen point, as a broken network would.
 *
 * It listens on an ephemeral port of 127.0.0.1, writes that port to a
 * file, and serves one connection at a time: each is relayed both ways
 * until CUT octets have come from the server, and then both sides are
 * closed without another word.  Only the first CUT octets reach the
 * client.  With -1 only the first connection is cut and later ones pass
 * whole, so that one proxy serves an interrupted run and the clean run
 * after it.  With -r the client gets a reset in place of an orderly
 * close.
 *
 * For every connection one line on stdout tells how it ended:
 *	conn 1: cut: server 1234 client 56
 *	conn 2: server closed: server 98765 client 789
 *	conn 3: client closed: server 120 client 12
 * (octets received from each side), so that a test knows whether its cut
 * took place and how long a whole session is.
 *
 * A hard timeout (-t, default 60 seconds) ends the proxy whatever
 * happens, so that it never hangs or outlives a test.
 */

#define PROXY_BUF_SIZE 16384
#define PROXY_DEFAULT_TIMEOUT 60

enum proxy_end {
	PROXY_END_CUT,
	PROXY_END_SERVER,
	PROXY_END_CLIENT,
};

static const char *const proxy_end_names[] = {
	[PROXY_END_CUT] = "cut",
	[PROXY_END_SERVER] = "server closed",
	[PROXY_END_CLIENT] = "client closed",
};

struct proxy_conn {
	int cfd; /* the client's side */
	int sfd; /* the server's side */
	uint64_t from_server;
	uint64_t from_client;
};

static void usage(void) __attribute__((noreturn));

static void
usage(void)
{
	fprintf(stderr,
	    "usage: cut-proxy -p PORTFILE -s SERVER-PORT [-c CUT] [-1] [-r] "
	    "[-t SECONDS]\n");
	exit(EX_USAGE);
}

/* A decimal number in [0, max]: digits only, no sign, no space. */
static int
parse_num(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return -1;
	*out = v;
	return 0;
}

static void
on_alarm(int sig)
{
	static const char msg[] = "cut-proxy: timed out\n";

	(void)sig;
	/* Best effort: nothing more can be done from a signal handler. */
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) == -1)
		_exit(EX_TEMPFAIL);
	_exit(EX_TEMPFAIL);
}

static int
write_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Bind 127.0.0.1 port 0 and listen; the port chosen goes to *port_out. */
static int
listen_local(unsigned *port_out)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = 0;
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(fd, 8) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1) {
		(void)close(fd);
		return -1;
	}
	*port_out = ntohs(sin.sin_port);
	return fd;
}

static int
connect_local(unsigned port)
{
	struct sockaddr_in sin;
	int fd;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		(void)close(fd);
		return -1;
	}
	return fd;
}

/*
 * Write the port to path, through a temporary file and rename(2), so
 * that whoever waits for the file never reads half of it.
 */
static int
write_port_file(const char *path, unsigned port)
{
	char tmp[4096];
	FILE *fp;
	int n;

	n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -1;
	if ((fp = fopen(tmp, "w")) == NULL)
		return -1;
	fprintf(fp, "%u\n", port);
	if (fclose(fp) == EOF || rename(tmp, path) == -1) {
		(void)unlink(tmp);
		return -1;
	}
	return 0;
}

/*
 * Move what one side has to the other.  At most limit octets are read,
 * so that a cut falls on the exact octet.  Returns 1 if the side is
 * still open, 0 if it or the other side went away.
 */
static int
pass(int from, int to, uint64_t limit, uint64_t *count)
{
	char buf[PROXY_BUF_SIZE];
	size_t want = sizeof(buf);
	ssize_t n;

	if (limit < want)
		want = (size_t)limit;
	do
		n = recv(from, buf, want, 0);
	while (n == -1 && errno == EINTR);
	if (n <= 0)
		return 0;
	*count += (uint64_t)n;
	return write_all(to, buf, (size_t)n) == -1 ? 0 : 1;
}

/*
 * Relay until the cut or until one side closes.  The server's octets
 * are relayed first, so that what came before a close always reaches
 * the client.
 */
static enum proxy_end
relay(struct proxy_conn *c, bool is_cut, uint64_t cut)
{
	struct pollfd pfd[2];
	uint64_t limit;

	for (;;) {
		if (is_cut && c->from_server >= cut)
			return PROXY_END_CUT;
		limit = is_cut ? cut - c->from_server : UINT64_MAX;
		pfd[0].fd = c->sfd;
		pfd[1].fd = c->cfd;
		pfd[0].events = pfd[1].events = POLLIN;
		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			return PROXY_END_CLIENT;
		}
		if (pfd[0].revents != 0 &&
		    pass(c->sfd, c->cfd, limit, &c->from_server) == 0)
			return PROXY_END_SERVER;
		if (pfd[1].revents != 0 &&
		    pass(c->cfd, c->sfd, UINT64_MAX, &c->from_client) == 0)
			return PROXY_END_CLIENT;
	}
}

/* An abortive close: the peer reads ECONNRESET, not the end of file. */
static void
reset(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

static void
serve(int lfd, unsigned sport, bool is_cut, uint64_t cut, bool is_once,
    bool is_reset)
{
	struct proxy_conn c;
	enum proxy_end end;
	unsigned long nconn;

	for (nconn = 1;; nconn++) {
		memset(&c, 0, sizeof(c));
		do
			c.cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		while (c.cfd == -1 && errno == EINTR);
		if (c.cfd == -1) {
			perror("cut-proxy: accept");
			exit(EX_OSERR);
		}
		if ((c.sfd = connect_local(sport)) == -1) {
			printf("conn %lu: cannot reach the server: %s\n", nconn,
			    strerror(errno));
			(void)fflush(stdout);
			(void)close(c.cfd);
			continue;
		}
		end = relay(&c, is_cut, cut);
		if (end == PROXY_END_CUT && is_reset)
			reset(c.cfd);
		(void)close(c.cfd);
		(void)close(c.sfd);
		printf("conn %lu: %s: server %" PRIu64 " client %" PRIu64 "\n",
		    nconn, proxy_end_names[end], c.from_server, c.from_client);
		(void)fflush(stdout);
		if (is_once && end == PROXY_END_CUT)
			is_cut = false;
	}
}

int
main(int argc, char *argv[])
{
	const char *portfile = NULL;
	uint64_t cut = 0, sport = 0, timeout = PROXY_DEFAULT_TIMEOUT;
	bool is_cut = false, is_once = false, is_reset = false;
	unsigned port;
	int ch, lfd;

	while ((ch = getopt(argc, argv, "1c:p:rs:t:")) != -1) {
		switch (ch) {
		case '1':
			is_once = true;
			break;
		case 'c':
			if (parse_num(optarg, UINT64_MAX, &cut) == -1)
				usage();
			is_cut = true;
			break;
		case 'p':
			portfile = optarg;
			break;
		case 'r':
			is_reset = true;
			break;
		case 's':
			if (parse_num(optarg, 65535, &sport) == -1 ||
			    sport == 0)
				usage();
			break;
		case 't':
			if (parse_num(optarg, 3600, &timeout) == -1 ||
			    timeout == 0)
				usage();
			break;
		default:
			usage();
		}
	}
	if (optind != argc || portfile == NULL || sport == 0)
		usage();

	(void)signal(SIGPIPE, SIG_IGN);
	(void)signal(SIGALRM, on_alarm);
	(void)alarm((unsigned)timeout);

	if ((lfd = listen_local(&port)) == -1) {
		perror("cut-proxy: listen on 127.0.0.1");
		return EX_OSERR;
	}
	if (write_port_file(portfile, port) == -1) {
		fprintf(stderr, "cut-proxy: %s: %s\n", portfile,
		    strerror(errno));
		return EX_CANTCREAT;
	}
	serve(lfd, (unsigned)sport, is_cut, cut, is_once, is_reset);
	return 0; /* not reached */
}
