#include "config.h"

#include <sys/prctl.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

/*
 * relay: a TCP relay on 127.0.0.1 that makes a remote server of a local
 * one, for the benchmark.  Every octet is held back half a round trip
 * in each direction (-r RTT in milliseconds), in order, as on a long
 * link; -b caps each direction's bandwidth (octets per second).  It
 * listens on a free port of 127.0.0.1 (written to the -p file) and
 * forwards each connection, in a process of its own, to 127.0.0.1 port
 * -s.  The kernel's netem would do this too, where there is one: this
 * needs no privilege and no qdisc.
 *
 * A direction's queue is bounded (RELAY_QUEUE_MAX): past it, reading
 * from that side waits, as a full link would make the sender wait.
 */

#define RELAY_CHUNK (64 * 1024)
#define RELAY_QUEUE_MAX (16 * 1024 * 1024)

struct relay_chunk {
	struct relay_chunk *next;
	int64_t due_us; /* when it may go out */
	size_t len, off;
	char data[];
};

/* One direction: what was read from `from`, waiting to go to `to`. */
struct relay_dir {
	int from, to;
	struct relay_chunk *head, **tail;
	size_t queued;
	int64_t line_free_us; /* with -b: when the link is free again */
	bool is_eof;          /* `from` closed: shut `to` down once drained */
	bool is_done;
};

static int64_t relay_half_us;
static uint64_t relay_bps; /* 0: no cap */

static void
relay_die(const char *what)
{
	fprintf(stderr, "relay: %s: %s\n", what, strerror(errno));
	exit(EX_OSERR);
}

static int64_t
relay_now_us(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Read what `from` has, to go out half a round trip later. */
static void
relay_read(struct relay_dir *d)
{
	struct relay_chunk *c = malloc(sizeof(*c) + RELAY_CHUNK);
	ssize_t n;
	int64_t due;

	if (c == NULL)
		relay_die("malloc");
	n = read(d->from, c->data, RELAY_CHUNK);
	if (n <= 0) {
		free(c);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			return;
		d->is_eof = true;
		return;
	}
	due = relay_now_us() + relay_half_us;
	if (relay_bps != 0) {
		/* The chunk leaves when the link is free and it is due. */
		if (d->line_free_us > due)
			due = d->line_free_us;
		d->line_free_us =
		    due + (int64_t)((uint64_t)n * 1000000 / relay_bps);
	}
	c->next = NULL;
	c->due_us = due;
	c->len = (size_t)n;
	c->off = 0;
	*d->tail = c;
	d->tail = &c->next;
	d->queued += (size_t)n;
}

/* Write out what is due. */
static void
relay_write(struct relay_dir *d, int64_t now)
{
	struct relay_chunk *c;
	ssize_t n;

	while ((c = d->head) != NULL && c->due_us <= now) {
		n = write(d->to, c->data + c->off, c->len - c->off);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			/* The reader went away: drop the rest. */
			d->is_eof = true;
			while ((c = d->head) != NULL) {
				d->head = c->next;
				free(c);
			}
			d->tail = &d->head;
			d->queued = 0;
			break;
		}
		c->off += (size_t)n;
		d->queued -= (size_t)n;
		if (c->off < c->len)
			return;
		d->head = c->next;
		if (d->head == NULL)
			d->tail = &d->head;
		free(c);
	}
	if (d->head == NULL && d->is_eof && !d->is_done) {
		(void)shutdown(d->to, SHUT_WR);
		d->is_done = true;
	}
}

static void
relay_pump(int client, int server)
{
	struct relay_dir dirs[2] = {
		{ .from = client, .to = server },
		{ .from = server, .to = client },
	};
	struct pollfd pfd[2];
	int i, timeout;

	dirs[0].tail = &dirs[0].head;
	dirs[1].tail = &dirs[1].head;
	(void)fcntl(client, F_SETFL, O_NONBLOCK);
	(void)fcntl(server, F_SETFL, O_NONBLOCK);
	while (!dirs[0].is_done || !dirs[1].is_done) {
		int64_t now = relay_now_us(), next = -1;

		for (i = 0; i < 2; i++)
			relay_write(&dirs[i], now);
		pfd[0] = (struct pollfd){ .fd = client, .events = 0 };
		pfd[1] = (struct pollfd){ .fd = server, .events = 0 };
		for (i = 0; i < 2; i++) {
			struct relay_dir *d = &dirs[i];
			struct pollfd *in = &pfd[i], *out = &pfd[1 - i];

			if (!d->is_eof && d->queued < RELAY_QUEUE_MAX)
				in->events |= POLLIN;
			if (d->head == NULL)
				continue;
			if (d->head->due_us <= now)
				out->events |= POLLOUT;
			else if (next == -1 || d->head->due_us < next)
				next = d->head->due_us;
		}
		/* A closed side with nothing asked of it: not polled. */
		for (i = 0; i < 2; i++)
			if (pfd[i].events == 0)
				pfd[i].fd = -1;
		timeout = next == -1 ? -1 : (int)((next - now + 999) / 1000);
		if (poll(pfd, 2, timeout) == -1 && errno != EINTR)
			relay_die("poll");
		for (i = 0; i < 2; i++)
			if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR) &&
			    pfd[i].events & POLLIN)
				relay_read(&dirs[i]);
	}
}

static int
relay_connect(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
		.sin_port = htons((uint16_t)port) };
	int fd, one = 1;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		relay_die("socket");
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		relay_die("connect");
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	const char *portfile = NULL;
	int ch, lfd, cfd, sport = 0, one = 1;
	FILE *f;

	while ((ch = getopt(argc, argv, "b:p:r:s:")) != -1) {
		switch (ch) {
		case 'b':
			relay_bps = strtoull(optarg, NULL, 10);
			break;
		case 'p':
			portfile = optarg;
			break;
		case 'r':
			relay_half_us = strtoll(optarg, NULL, 10) * 1000 / 2;
			break;
		case 's':
			sport = atoi(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (portfile == NULL || sport <= 0 || sport > 65535)
		goto usage;
	signal(SIGPIPE, SIG_IGN);
	/* Children are not waited for. */
	signal(SIGCHLD, SIG_IGN);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(lfd, 64) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &len) == -1)
		relay_die("listen");
	if ((f = fopen(portfile, "w")) == NULL)
		relay_die(portfile);
	fprintf(f, "%d\n", ntohs(sin.sin_port));
	if (fclose(f) == EOF)
		relay_die(portfile);
	for (;;) {
		if ((cfd = accept(lfd, NULL, NULL)) == -1) {
			if (errno == EINTR)
				continue;
			relay_die("accept");
		}
		(void)setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
		switch (fork()) {
		case -1:
			relay_die("fork");
			break;
		case 0:
			/*
			 * A connection whose peer never closes its side must
			 * not outlive the relay, which bench.sh ends.
			 */
			(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
			(void)close(lfd);
			relay_pump(cfd, relay_connect(sport));
			_exit(0);
		default:
			(void)close(cfd);
		}
	}
usage:
	fprintf(stderr,
	    "usage: relay -p PORTFILE -s PORT [-r RTT_MS] "
	    "[-b OCTETS_PER_SECOND]\n");
	return EX_USAGE;
}
