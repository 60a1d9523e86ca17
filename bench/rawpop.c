#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

/*
 * rawpop: the benchmark's baseline, the least work a POP3-to-Maildir
 * fetcher can do.  It logs in, lists the unique ids (RFC 1939 §7 UIDL),
 * sends RETR for every message not in the seen file with a window of
 * commands in flight (RFC 2449 §6.6 PIPELINING, which Dovecot
 * announces), unstuffs the dots, turns CRLF into LF and writes each
 * message straight into new/ of the Maildir: no tmp/ and rename, no
 * fsync, no header parsing.  Nothing is deleted, unless -d: then every
 * message retrieved is deleted after all of them, DELE pipelined as RETR
 * is, and QUIT makes it so (the least a deleting fetcher can cost the
 * server).  With -s it keeps the
 * ids it has seen in a file, read at the start and rewritten (without
 * fsync) at the end, so that a second run fetches only new messages.
 *
 * With -w 0 every RETR goes out at once, in one write, and with -n the
 * messages are read and dropped, not stored: the transfer alone, the
 * floor of any fetcher on a link with a round trip.  (All at once is
 * safe here only because the benchmark's mailboxes are small enough for
 * their RETRs to fit the socket buffers.)
 *
 * It is a yardstick, not a mail client: any error ends it, lines longer
 * than its buffer are cut into pieces (not a concern with the
 * benchmark's mail), and the password comes from RAWPOP_PASSWORD.
 */

#define RAW_BUF (256 * 1024)
#define RAW_OUTBUF RAW_BUF
#define RAW_WINDOW 32
#define RAW_MAX_MSGS 10000000UL

struct raw_conn {
	int fd;
	gnutls_session_t tls; /* NULL in plain POP3 */
	char *buf;
	size_t start, end;
};

struct raw_out {
	int fd;
	char buf[RAW_OUTBUF];
	size_t len;
	uint64_t total;
};

static void die(const char *, ...)
    __attribute__((noreturn, format(printf, 1, 2)));
static void usage(void) __attribute__((noreturn));

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)fputs("rawpop: ", stderr);
	(void)vfprintf(stderr, fmt, ap);
	(void)fputs("\n", stderr);
	va_end(ap);
	exit(EX_SOFTWARE);
}

static size_t
conn_read(struct raw_conn *c, char *p, size_t n)
{
	ssize_t r;

	if (c->tls != NULL) {
		do
			r = gnutls_record_recv(c->tls, p, n);
		while (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED);
		if (r < 0)
			die("tls read: %s", gnutls_strerror((int)r));
		return (size_t)r;
	}
	do
		r = read(c->fd, p, n);
	while (r == -1 && errno == EINTR);
	if (r == -1)
		die("read: %s", strerror(errno));
	return (size_t)r;
}

static void
conn_write(struct raw_conn *c, const char *p, size_t n)
{
	ssize_t r;

	while (n > 0) {
		if (c->tls != NULL) {
			r = gnutls_record_send(c->tls, p, n);
			if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
				continue;
			if (r < 0)
				die("tls write: %s", gnutls_strerror((int)r));
		} else {
			r = write(c->fd, p, n);
			if (r == -1 && errno == EINTR)
				continue;
			if (r == -1)
				die("write: %s", strerror(errno));
		}
		p += r;
		n -= (size_t)r;
	}
}

/*
 * The next line, LF included, valid until the next call; a line longer
 * than the buffer comes in pieces, and *is_whole tells which.
 */
static void
conn_line(struct raw_conn *c, char **p_out, size_t *n_out, bool *is_whole)
{
	char *nl;
	size_t n;

	for (;;) {
		nl = memchr(c->buf + c->start, '\n', c->end - c->start);
		if (nl != NULL) {
			*p_out = c->buf + c->start;
			*n_out = (size_t)(nl + 1 - *p_out);
			c->start += *n_out;
			*is_whole = true;
			return;
		}
		if (c->start > 0) {
			memmove(c->buf, c->buf + c->start, c->end - c->start);
			c->end -= c->start;
			c->start = 0;
		}
		if (c->end == RAW_BUF) {
			*p_out = c->buf;
			*n_out = c->end;
			c->end = 0;
			*is_whole = false;
			return;
		}
		n = conn_read(c, c->buf + c->end, RAW_BUF - c->end);
		if (n == 0)
			die("the server closed the connection");
		c->end += n;
	}
}

/* Read a status line; exits on -ERR. */
static void
conn_ok(struct raw_conn *c, const char *what)
{
	bool is_whole;
	size_t n;
	char *p;

	conn_line(c, &p, &n, &is_whole);
	if (n < 3 || memcmp(p, "+OK", 3) != 0)
		die("%s: %.*s", what, (int)(n > 200 ? 200 : n), p);
}

static void
conn_cmd(struct raw_conn *c, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		die("command too long");
	conn_write(c, line, (size_t)n);
}

static void
conn_connect(struct raw_conn *c, unsigned port)
{
	struct sockaddr_in sa;
	int one = 1;

	if ((c->fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		die("socket: %s", strerror(errno));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) == -1)
		die("connect 127.0.0.1:%u: %s", port, strerror(errno));
	/* Commands are small and go out in bursts: do not wait for ACKs. */
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void
conn_tls(struct raw_conn *c, const char *ca_file)
{
	gnutls_certificate_credentials_t cred;
	int rc;

	if ((rc = gnutls_certificate_allocate_credentials(&cred)) < 0 ||
	    (rc = gnutls_certificate_set_x509_trust_file(cred, ca_file,
	         GNUTLS_X509_FMT_PEM)) < 0 ||
	    (rc = gnutls_init(&c->tls, GNUTLS_CLIENT)) < 0 ||
	    (rc = gnutls_set_default_priority(c->tls)) < 0 ||
	    (rc = gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE,
	         cred)) < 0)
		die("tls setup: %s", gnutls_strerror(rc));
	/* The same check as every client: the CA and the host name. */
	gnutls_session_set_verify_cert(c->tls, "localhost", 0);
	gnutls_transport_set_int(c->tls, c->fd);
	do
		rc = gnutls_handshake(c->tls);
	while (rc < 0 && !gnutls_error_is_fatal(rc));
	if (rc < 0)
		die("tls handshake: %s", gnutls_strerror(rc));
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The seen file: one unique id per line, sorted for bsearch(). */
static char **
seen_load(const char *path, size_t *n_out)
{
	char **v = NULL, *line = NULL;
	size_t n = 0, cap = 0, lcap = 0;
	ssize_t len;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL) {
		/* No state yet: everything is new. */
		if (errno != ENOENT)
			die("%s: %s", path, strerror(errno));
		*n_out = 0;
		return NULL;
	}
	while ((len = getline(&line, &lcap, fp)) != -1) {
		while (
		    len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			if ((v = realloc(v, cap * sizeof(*v))) == NULL)
				die("out of memory");
		}
		if ((v[n++] = strdup(line)) == NULL)
			die("out of memory");
	}
	free(line);
	(void)fclose(fp);
	qsort(v, n, sizeof(*v), cmp_str);
	*n_out = n;
	return v;
}

/*
 * UIDL: the message numbers whose id is not seen, in order.  A server
 * that lists a number twice or out of range is not worth measuring.
 */
static unsigned long *
list_wanted(struct raw_conn *c, char **seen, size_t nseen, size_t *n_out,
    char ***all_out, size_t *total_out)
{
	unsigned long *want = NULL, num;
	size_t n = 0, cap = 0, total = 0, acap = 0, len;
	char *p, *sp, *end, *key, **all = NULL;
	bool is_whole;

	conn_cmd(c, "UIDL\r\n");
	conn_ok(c, "UIDL");
	for (;;) {
		conn_line(c, &p, &len, &is_whole);
		if (!is_whole)
			die("UIDL: line too long");
		while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r'))
			p[--len] = '\0';
		if (strcmp(p, ".") == 0)
			break;
		errno = 0;
		num = strtoul(p, &end, 10);
		if (errno != 0 || end == p || *end != ' ' || num == 0 ||
		    num > RAW_MAX_MSGS)
			die("UIDL: bad line");
		sp = end + 1;
		if (total == acap) {
			acap = acap ? acap * 2 : 1024;
			if ((all = realloc(all, acap * sizeof(*all))) == NULL)
				die("out of memory");
		}
		if ((all[total++] = strdup(sp)) == NULL)
			die("out of memory");
		key = sp;
		if (nseen > 0 &&
		    bsearch(&key, seen, nseen, sizeof(*seen), cmp_str) != NULL)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			if ((want = realloc(want, cap * sizeof(*want))) == NULL)
				die("out of memory");
		}
		want[n++] = num;
	}
	*n_out = n;
	*all_out = all;
	*total_out = total;
	return want;
}

/* The new state: every id the server listed, as mpop keeps it. */
static void
seen_save(const char *path, char **all, size_t n)
{
	char tmp[4096];
	FILE *fp;
	size_t i;

	(void)snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((fp = fopen(tmp, "w")) == NULL)
		die("%s: %s", tmp, strerror(errno));
	for (i = 0; i < n; i++)
		(void)fprintf(fp, "%s\n", all[i]);
	if (ferror(fp) || fclose(fp) != 0 || rename(tmp, path) == -1)
		die("%s: %s", path, strerror(errno));
}

static void
out_flush(struct raw_out *o)
{
	size_t off = 0;
	ssize_t r;

	while (off < o->len) {
		r = write(o->fd, o->buf + off, o->len - off);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			die("write: %s", strerror(errno));
		off += (size_t)r;
	}
	o->len = 0;
}

static void
out_put(struct raw_out *o, const char *p, size_t n)
{
	/* Lines are short; a piece of a huge one fits the buffer too. */
	if (o->len + n > sizeof(o->buf)) {
		if (o->fd == -1)
			o->len = 0; /* -n: dropped */
		else
			out_flush(o);
	}
	memcpy(o->buf + o->len, p, n);
	o->len += n;
}

/* One RETR reply, after its +OK line: unstuff, CRLF -> LF, store. */
static void
retr_body(struct raw_conn *c, struct raw_out *o)
{
	bool is_whole, at_start = true;
	size_t n;
	char *p;

	for (;;) {
		conn_line(c, &p, &n, &is_whole);
		if (at_start && is_whole && p[0] == '.') {
			/* RFC 1939 §3: "." CRLF ends it, a leading dot is
			 * stuffing. */
			if (n == 3 && p[1] == '\r')
				return;
			if (n == 2)
				return;
			p++;
			n--;
		}
		if (is_whole && n >= 2 && p[n - 2] == '\r') {
			p[n - 2] = '\n';
			n--;
		}
		out_put(o, p, n);
		o->total += n;
		at_start = is_whole;
	}
}

/* Every RETR of want, in one write. */
static void
retr_all(struct raw_conn *c, const unsigned long *want, size_t nwant)
{
	char *cmds;
	size_t i, len = 0;

	if ((cmds = calloc(nwant + 1, 32)) == NULL)
		die("out of memory");
	for (i = 0; i < nwant; i++)
		len += (size_t)sprintf(cmds + len, "RETR %lu\r\n", want[i]);
	conn_write(c, cmds, len);
	free(cmds);
}

static void
fetch_all(struct raw_conn *c, const char *maildir, const unsigned long *want,
    size_t nwant, size_t window, struct raw_out *o)
{
	char path[4096];
	size_t sent = 0, done;
	int n;

	if (window == 0) {
		retr_all(c, want, nwant);
		sent = nwant;
	}
	for (done = 0; done < nwant; done++) {
		while (sent < nwant && sent < done + window)
			conn_cmd(c, "RETR %lu\r\n", want[sent++]);
		conn_ok(c, "RETR");
		if (maildir == NULL) {
			o->fd = -1;
			retr_body(c, o);
			o->len = 0;
			continue;
		}
		n = snprintf(path, sizeof(path), "%s/new/%ld.R%lu.rawpop",
		    maildir, (long)getpid(), want[done]);
		if (n < 0 || (size_t)n >= sizeof(path))
			die("%s: path too long", maildir);
		o->fd =
		    open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (o->fd == -1)
			die("%s: %s", path, strerror(errno));
		retr_body(c, o);
		out_flush(o);
		if (close(o->fd) == -1)
			die("%s: %s", path, strerror(errno));
	}
}

static void
delete_all(struct raw_conn *c, const unsigned long *want, size_t nwant)
{
	size_t sent = 0, done;

	for (done = 0; done < nwant; done++) {
		while (sent < nwant && sent < done + RAW_WINDOW)
			conn_cmd(c, "DELE %lu\r\n", want[sent++]);
		conn_ok(c, "DELE");
	}
}

static void
maildir_make(const char *dir)
{
	static const char *const sub[] = { "", "/tmp", "/new", "/cur" };
	char path[4096];
	size_t i;

	for (i = 0; i < sizeof(sub) / sizeof(*sub); i++) {
		(void)snprintf(path, sizeof(path), "%s%s", dir, sub[i]);
		if (mkdir(path, 0700) == -1 && errno != EEXIST)
			die("%s: %s", path, strerror(errno));
	}
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: rawpop -p PORT -u USER [-T CAFILE] [-s SEENFILE] "
	    "[-w WINDOW] (-o MAILDIR [-d] | -n | -l)\n");
	exit(EX_USAGE);
}

int
main(int argc, char *argv[])
{
	const char *ca_file = NULL, *user = NULL, *maildir = NULL;
	const char *seen_file = NULL, *pass;
	struct raw_conn c = { .fd = -1 };
	static struct raw_out out;
	unsigned long port = 0, *want;
	size_t nseen = 0, nwant, total;
	bool is_list = false, is_delete = false, is_null = false;
	size_t window = RAW_WINDOW;
	char **seen = NULL, **all;
	char *end;
	int ch;

	while ((ch = getopt(argc, argv, "dlno:p:s:T:u:w:")) != -1) {
		switch (ch) {
		case 'd':
			is_delete = true;
			break;
		case 'l':
			is_list = true;
			break;
		case 'n':
			is_null = true;
			break;
		case 'w':
			window = strtoul(optarg, &end, 10);
			if (*end != '\0' || window > 100000)
				usage();
			break;
		case 'o':
			maildir = optarg;
			break;
		case 'p':
			port = strtoul(optarg, &end, 10);
			if (*end != '\0' || port == 0 || port > 65535)
				usage();
			break;
		case 's':
			seen_file = optarg;
			break;
		case 'T':
			ca_file = optarg;
			break;
		case 'u':
			user = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || port == 0 || user == NULL ||
	    (maildir != NULL) + is_list + is_null != 1 ||
	    (is_delete && maildir == NULL))
		usage();
	if ((pass = getenv("RAWPOP_PASSWORD")) == NULL)
		die("RAWPOP_PASSWORD is not set");
	if (seen_file != NULL)
		seen = seen_load(seen_file, &nseen);
	if ((c.buf = malloc(RAW_BUF)) == NULL)
		die("out of memory");
	if (maildir != NULL)
		maildir_make(maildir);

	conn_connect(&c, (unsigned)port);
	if (ca_file != NULL)
		conn_tls(&c, ca_file);
	conn_ok(&c, "greeting");
	conn_cmd(&c, "USER %s\r\n", user);
	conn_ok(&c, "USER");
	conn_cmd(&c, "PASS %s\r\n", pass);
	conn_ok(&c, "PASS");
	want = list_wanted(&c, seen, nseen, &nwant, &all, &total);
	if (!is_list)
		fetch_all(&c, maildir, want, nwant, window, &out);
	if (is_delete)
		delete_all(&c, want, nwant);
	if (seen_file != NULL && !is_list)
		seen_save(seen_file, all, total);
	conn_cmd(&c, "QUIT\r\n");
	conn_ok(&c, "QUIT");
	if (c.tls != NULL)
		(void)gnutls_bye(c.tls, GNUTLS_SHUT_WR);
	(void)close(c.fd);
	printf("%zu messages, %zu retrieved, %llu bytes\n", total,
	    is_list ? 0 : nwant, (unsigned long long)out.total);
	return 0;
}
