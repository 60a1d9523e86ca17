#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

/*
 * fake-pop3: a scripted POP3 server for the fault-injection tests.  It
 * listens on 127.0.0.1, plays script i to the i-th connection, and logs
 * every line the client sends.  It exists to misbehave on purpose, so
 * it trusts its scripts and nothing else, and it never outlives its hard
 * timeout: a test that uses it cannot hang.
 *
 * Script grammar, one directive per line; blank lines and lines starting
 * with "#" are ignored:
 *
 *	S: text            send text and CRLF
 *	C: glob            read one client line (CRLF or LF removed); it
 *	                   must match glob (fnmatch(3)), else fail
 *	O: glob            optional: if the next client line matches glob,
 *	                   take it and play the block up to "X: end";
 *	                   otherwise keep the line for the next C: or O: and
 *	                   skip the block (the client closing counts as no
 *	                   match)
 *	X: end             end of an O: block
 *	X: close           close the connection at once; the script ends
 *	X: stall MS        wait MS milliseconds without reading (cut short
 *	                   if the client hangs up)
 *	X: raw BYTES       send BYTES with C escapes (\r \n \t \0 \\ \xHH),
 *	                   no CRLF added
 *	X: big N BYTE      send N copies of BYTE (a character or an escape)
 *	X: trickle MS BYTE send BYTE every MS milliseconds until the client
 *	                   hangs up (or the hard timeout); a tarpit
 *	X: drop-after N    close the connection once N more bytes are sent
 *	X: file PATH       send a message file (PATH relative to the
 *	                   script), LF turned into CRLF and dot-stuffed
 *	                   (RFC 1939 §3); the final "." is the script's
 *	                   to send, or not
 *	X: tls             TLS handshake as the server (RFC 2595 §4)
 *	X: eof             wait for the client to hang up; any line it
 *	                   sends before that is a failure
 *	X: include PATH    the directives of another file (relative to
 *	                   this one), e.g. a common login
 *
 * At the end of a script the server stops sending and waits (briefly)
 * for the client to hang up: a line it sends then is logged and is a
 * failure.  After a send fails (the client went away) the rest of the
 * script is skipped, which is not a failure in itself.
 *
 * The log has the client's lines as they came, one a line, and the
 * server's own notes on lines starting with "# ".  Among them "# flight"
 * before each line that the client sent after the server's last reply,
 * rather than together with lines before it: the client's round trips.
 * (Before each reply it sends, the server takes in what has come by
 * then, over plain TCP; under TLS, only what it had read already.)
 *
 * Options: -s SCRIPT (repeatable: connection i plays the i-th), -p FILE
 * (write the port there; else to stdout), -l LOG, -t SECONDS (the hard
 * timeout, default 30), -k DIR (server.pem and server-key.pem for X:
 * tls), -n (only check the scripts).
 *
 * Exit status: 0 every script played as written, 1 a script failed (a
 * client line did not match, or came when none should), 2 usage or a
 * bad script, 3 the hard timeout.
 */

#define FAKE_LINE_MAX 4096
#define FAKE_DRAIN_MS 2000
#define FAKE_CHUNK 65536
#define FAKE_DEPTH_MAX 4

#ifndef FAKE_TLS_DIR
#define FAKE_TLS_DIR "tests/data/tls"
#endif

enum fake_op {
	FAKE_SEND,
	FAKE_EXPECT,
	FAKE_OPTIONAL,
	FAKE_END,
	FAKE_CLOSE,
	FAKE_STALL,
	FAKE_RAW,
	FAKE_BIG,
	FAKE_TRICKLE,
	FAKE_DROP,
	FAKE_FILE,
	FAKE_TLS,
	FAKE_EOF
};

struct fake_step {
	enum fake_op op;
	const char *file; /* where it was read, for messages */
	int lineno;
	char *arg;     /* text, glob, or bytes (raw, unescaped) */
	size_t arglen; /* for raw bytes */
	long long num; /* stall ms, big count, drop-after count */
	size_t skip;   /* O: index of its X: end */
};

struct fake_script {
	char *path;
	struct fake_step *steps;
	size_t n, room;
	char **files; /* the script and what it includes */
	size_t nfiles;
};

struct fake_conn {
	int fd;
	gnutls_session_t tls;
	bool has_tls;
	bool is_dead;        /* closed by us or by the client: skip the rest */
	long long drop_left; /* -1: no drop pending */
	uint64_t sent;
	char rbuf[FAKE_LINE_MAX];
	size_t rlen;
	size_t ahead; /* of rlen, what had come before the last reply */
	char *held;   /* a line read by O: that did not match */
	const struct fake_script *sc;
	const char *file; /* the step being played */
	int lineno;
};

static FILE *fake_log;
static struct timespec fake_deadline;
static const char *fake_tls_dir = FAKE_TLS_DIR;
static gnutls_certificate_credentials_t fake_cred;

static void fake_note(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* A note for the log and for stderr. */
static void
fake_note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (fake_log != NULL) {
		va_list ap2;

		va_copy(ap2, ap);
		fputs("# ", fake_log);
		vfprintf(fake_log, fmt, ap2);
		fputc('\n', fake_log);
		fflush(fake_log);
		va_end(ap2);
	}
	fputs("fake-pop3: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void
fake_on_alarm(int sig)
{
	static const char msg[] = "fake-pop3: hard timeout, exiting\n";

	ssize_t n;

	(void)sig;
	n = write(STDERR_FILENO, msg, sizeof(msg) - 1);
	(void)n;
	_exit(3);
}

/* Milliseconds left before the deadline, at least 0. */
static int
fake_left_ms(void)
{
	struct timespec now;
	long long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(fake_deadline.tv_sec - now.tv_sec) * 1000 +
	    (fake_deadline.tv_nsec - now.tv_nsec) / 1000000;
	if (ms < 0)
		return 0;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

static int
fake_min(int a, int b)
{
	return a < b ? a : b;
}

static int
fake_parse_num(const char *s, long long max, long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || (*end != '\0' && *end != ' ') || v < 0 ||
	    v > max)
		return -1;
	*out = v;
	return 0;
}

static int
fake_hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Undo C escapes in place; returns the length, or -1 on a bad escape. */
static long
fake_unescape(char *s)
{
	char *r = s, *w = s;
	int hi, lo;

	while (*r != '\0') {
		if (*r != '\\') {
			*w++ = *r++;
			continue;
		}
		r++;
		switch (*r) {
		case 'r':
			*w++ = '\r';
			break;
		case 'n':
			*w++ = '\n';
			break;
		case 't':
			*w++ = '\t';
			break;
		case '0':
			*w++ = '\0';
			break;
		case '\\':
			*w++ = '\\';
			break;
		case 'x':
			if ((hi = fake_hex(r[1])) < 0 ||
			    (lo = fake_hex(r[2])) < 0)
				return -1;
			*w++ = (char)(hi * 16 + lo);
			r += 2;
			break;
		default:
			return -1;
		}
		r++;
	}
	return (long)(w - s);
}

/* The path of a file named in a script: relative to the script. */
static char *
fake_resolve(const char *script, const char *name)
{
	const char *slash = strrchr(script, '/');
	char *path;
	int dlen;

	if (name[0] == '/' || slash == NULL)
		return strdup(name);
	dlen = (int)(slash - script);
	if (asprintf(&path, "%.*s/%s", dlen, script, name) == -1)
		return NULL;
	return path;
}

/* Parse the X: verb of one line into st; -1 with a reason in why. */
static int
fake_parse_x(const char *path, char *a, struct fake_step *st, const char **why)
{
	char *sp;
	long len;

	if (strcmp(a, "end") == 0)
		st->op = FAKE_END;
	else if (strcmp(a, "close") == 0)
		st->op = FAKE_CLOSE;
	else if (strcmp(a, "tls") == 0)
		st->op = FAKE_TLS;
	else if (strcmp(a, "eof") == 0)
		st->op = FAKE_EOF;
	else if (strncmp(a, "stall ", 6) == 0) {
		st->op = FAKE_STALL;
		if (fake_parse_num(a + 6, 3600000, &st->num) == -1)
			return (*why = "bad stall time", -1);
	} else if (strncmp(a, "drop-after ", 11) == 0) {
		st->op = FAKE_DROP;
		if (fake_parse_num(a + 11, LLONG_MAX, &st->num) == -1)
			return (*why = "bad byte count", -1);
	} else if (strncmp(a, "raw ", 4) == 0) {
		st->op = FAKE_RAW;
		st->arg = strdup(a + 4);
		if (st->arg == NULL || (len = fake_unescape(st->arg)) < 0)
			return (*why = "bad escape", -1);
		st->arglen = (size_t)len;
	} else if (strncmp(a, "big ", 4) == 0) {
		st->op = FAKE_BIG;
		if (fake_parse_num(a + 4, LLONG_MAX, &st->num) == -1 ||
		    (sp = strchr(a + 4, ' ')) == NULL)
			return (*why = "usage: big N BYTE", -1);
		st->arg = strdup(sp + 1);
		if (st->arg == NULL || fake_unescape(st->arg) != 1)
			return (*why = "BYTE must be one byte", -1);
	} else if (strncmp(a, "trickle ", 8) == 0) {
		st->op = FAKE_TRICKLE;
		if (fake_parse_num(a + 8, 3600000, &st->num) == -1 ||
		    st->num == 0 || (sp = strchr(a + 8, ' ')) == NULL)
			return (*why = "usage: trickle MS BYTE", -1);
		st->arg = strdup(sp + 1);
		if (st->arg == NULL || fake_unescape(st->arg) != 1)
			return (*why = "BYTE must be one byte", -1);
	} else if (strncmp(a, "file ", 5) == 0) {
		st->op = FAKE_FILE;
		st->arg = fake_resolve(path, a + 5);
		if (st->arg == NULL || access(st->arg, R_OK) == -1)
			return (*why = "file not readable", -1);
	} else
		return (*why = "unknown X: directive", -1);
	return 0;
}

/* Parse one directive line (newline removed) into st. */
static int
fake_parse_line(const char *path, char *line, struct fake_step *st,
    const char **why)
{
	char *a;

	if (strlen(line) < 2 || line[1] != ':' ||
	    (line[2] != ' ' && line[2] != '\0'))
		return (*why = "not a directive", -1);
	a = line[2] == '\0' ? line + 2 : line + 3;
	switch (line[0]) {
	case 'S':
		st->op = FAKE_SEND;
		break;
	case 'C':
		st->op = FAKE_EXPECT;
		break;
	case 'O':
		st->op = FAKE_OPTIONAL;
		break;
	case 'X':
		return fake_parse_x(path, a, st, why);
	default:
		return (*why = "not a directive", -1);
	}
	if ((st->arg = strdup(a)) == NULL)
		return (*why = "out of memory", -1);
	st->arglen = strlen(a);
	return 0;
}

/* Pair every O: with its X: end; blocks do not nest. */
static int
fake_link_blocks(struct fake_script *sc, const char **why, int *lineno)
{
	size_t i, open = SIZE_MAX;

	for (i = 0; i < sc->n; i++) {
		*lineno = sc->steps[i].lineno;
		if (sc->steps[i].op == FAKE_OPTIONAL) {
			if (open != SIZE_MAX)
				return (*why = "O: inside an O: block", -1);
			open = i;
		} else if (sc->steps[i].op == FAKE_END) {
			if (open == SIZE_MAX)
				return (*why = "X: end without O:", -1);
			sc->steps[open].skip = i;
			open = SIZE_MAX;
		}
	}
	if (open != SIZE_MAX) {
		*lineno = sc->steps[open].lineno;
		return (*why = "O: without X: end", -1);
	}
	return 0;
}

/* Remember a file name for the steps read from it; NULL on ENOMEM. */
static const char *
fake_add_file(struct fake_script *sc, const char *path)
{
	char **v;

	v = realloc(sc->files, (sc->nfiles + 1) * sizeof(*v));
	if (v == NULL)
		return NULL;
	sc->files = v;
	if ((v[sc->nfiles] = strdup(path)) == NULL)
		return NULL;
	return v[sc->nfiles++];
}

static int
fake_append(struct fake_script *sc, const char *file, int lineno)
{
	struct fake_step *v;

	if (sc->n == sc->room) {
		sc->room = sc->room == 0 ? 32 : sc->room * 2;
		v = realloc(sc->steps, sc->room * sizeof(*v));
		if (v == NULL)
			return -1;
		sc->steps = v;
	}
	memset(&sc->steps[sc->n], 0, sizeof(sc->steps[0]));
	sc->steps[sc->n].file = file;
	sc->steps[sc->n].lineno = lineno;
	return 0;
}

/*
 * Read the directives of one file into sc; "X: include PATH" reads
 * another one in its place.
 */
static int
fake_load_file(const char *path, struct fake_script *sc, int depth)
{
	const char *why = NULL, *file;
	char *line = NULL, *inc;
	size_t cap = 0;
	ssize_t len;
	int lineno = 0, rc = -1;
	FILE *fp;

	if ((file = fake_add_file(sc, path)) == NULL ||
	    (fp = fopen(path, "r")) == NULL) {
		fprintf(stderr, "fake-pop3: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((len = getline(&line, &cap, fp)) != -1) {
		lineno++;
		while (
		    len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		if (strncmp(line, "X: include ", 11) == 0) {
			if (depth >= FAKE_DEPTH_MAX) {
				why = "includes nested too deep";
				goto out;
			}
			inc = fake_resolve(path, line + 11);
			rc = inc != NULL ? fake_load_file(inc, sc, depth + 1)
			                 : -1;
			free(inc);
			if (rc == -1) {
				why = "in the file included here";
				goto out;
			}
			rc = -1;
			continue;
		}
		if (fake_append(sc, file, lineno) == -1)
			goto out;
		if (fake_parse_line(path, line, &sc->steps[sc->n], &why) ==
		    -1) {
			free(sc->steps[sc->n].arg);
			goto out;
		}
		sc->n++;
	}
	rc = 0;
out:
	if (rc == -1)
		fprintf(stderr, "fake-pop3: %s:%d: %s\n", path, lineno,
		    why != NULL ? why : strerror(errno));
	free(line);
	fclose(fp);
	return rc;
}

static int
fake_load(const char *path, struct fake_script *sc)
{
	const char *why = NULL;
	int lineno = 0;

	memset(sc, 0, sizeof(*sc));
	if ((sc->path = strdup(path)) == NULL ||
	    fake_load_file(path, sc, 0) == -1)
		return -1;
	if (fake_link_blocks(sc, &why, &lineno) == -1) {
		fprintf(stderr, "fake-pop3: %s:%d: %s\n", path, lineno, why);
		return -1;
	}
	return 0;
}

static void
fake_hangup(struct fake_conn *c, const char *what)
{
	if (c->is_dead)
		return;
	fake_note("%s:%d: %s after %llu bytes sent", c->file, c->lineno, what,
	    (unsigned long long)c->sent);
	if (c->has_tls)
		gnutls_deinit(c->tls);
	c->has_tls = false;
	close(c->fd);
	c->fd = -1;
	c->is_dead = true;
}

/* Write all of buf, within the deadline.  0, or -1 if the client left. */
static int
fake_write_all(struct fake_conn *c, const char *buf, size_t len)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };
	ssize_t n;

	while (len > 0) {
		if (poll(&pfd, 1, fake_left_ms()) <= 0) {
			fake_note("send timed out");
			return -1;
		}
		if (c->has_tls)
			n = gnutls_record_send(c->tls, buf, len);
		else
			n = send(c->fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 &&
		    (errno == EINTR || errno == EAGAIN || n == GNUTLS_E_AGAIN ||
		        n == GNUTLS_E_INTERRUPTED))
			continue;
		if (n <= 0) {
			fake_note("send failed: %s",
			    c->has_tls ? gnutls_strerror((int)n)
			               : strerror(errno));
			return -1;
		}
		buf += n;
		len -= (size_t)n;
		c->sent += (uint64_t)n;
	}
	return 0;
}

/* Send bytes, honouring a pending drop-after. */
/*
 * Before a reply goes out: take in what the client has sent by now, sent
 * without waiting for this reply (see "# flight" above).
 */
static void
fake_take_ahead(struct fake_conn *c)
{
	ssize_t n;

	while (!c->has_tls && c->rlen < sizeof(c->rbuf)) {
		n = recv(c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen,
		    MSG_DONTWAIT);
		if (n <= 0)
			break;
		c->rlen += (size_t)n;
	}
	c->ahead = c->rlen;
}

static void
fake_send(struct fake_conn *c, const char *buf, size_t len)
{
	size_t now = len;

	if (c->is_dead)
		return;
	fake_take_ahead(c);
	if (c->drop_left >= 0 && (long long)len >= c->drop_left)
		now = (size_t)c->drop_left;
	if (fake_write_all(c, buf, now) == -1) {
		fake_hangup(c, "client gone");
		return;
	}
	if (c->drop_left >= 0) {
		c->drop_left -= (long long)now;
		if (c->drop_left == 0)
			fake_hangup(c, "dropped the connection");
	}
}

/*
 * Read one line from the client into the log.  Returns 1 with the line
 * (CRLF or LF removed, NUL-terminated, owned by the caller), 0 if the
 * client hung up or the deadline passed, -1 on a line too long.
 */
static int
fake_read_line(struct fake_conn *c, char **line_out)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	char *lf, *line;
	size_t len;
	ssize_t n;

	if (c->held != NULL) {
		*line_out = c->held;
		c->held = NULL;
		return 1;
	}
	while ((lf = memchr(c->rbuf, '\n', c->rlen)) == NULL) {
		if (c->rlen == sizeof(c->rbuf))
			return -1;
		if (c->is_dead)
			return 0;
		if (!(c->has_tls && gnutls_record_check_pending(c->tls) > 0) &&
		    poll(&pfd, 1, fake_left_ms()) <= 0)
			return 0;
		if (c->has_tls)
			n = gnutls_record_recv(c->tls, c->rbuf + c->rlen,
			    sizeof(c->rbuf) - c->rlen);
		else
			n = recv(c->fd, c->rbuf + c->rlen,
			    sizeof(c->rbuf) - c->rlen, 0);
		if (n < 0 &&
		    (errno == EINTR || n == GNUTLS_E_AGAIN ||
		        n == GNUTLS_E_INTERRUPTED))
			continue;
		if (n <= 0)
			return 0;
		c->rlen += (size_t)n;
	}
	len = (size_t)(lf - c->rbuf);
	if (c->ahead < len + 1)
		fprintf(fake_log, "# flight\n");
	c->ahead = c->ahead < len + 1 ? 0 : c->ahead - (len + 1);
	if ((line = malloc(len + 1)) == NULL)
		return -1;
	memcpy(line, c->rbuf, len);
	line[len] = '\0';
	memmove(c->rbuf, lf + 1, c->rlen - len - 1);
	c->rlen -= len + 1;
	if (len > 0 && line[len - 1] == '\r')
		line[len - 1] = '\0';
	fprintf(fake_log, "%s\n", line);
	fflush(fake_log);
	*line_out = line;
	return 1;
}

/* Wait up to ms without reading; stop early if the client hangs up. */
static void
fake_stall(struct fake_conn *c, long long ms)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLRDHUP };
	struct timespec t0, t1;
	int wait;

	if (c->is_dead)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	wait = fake_min((int)ms, fake_left_ms());
	if (poll(&pfd, 1, wait) > 0) {
		clock_gettime(CLOCK_MONOTONIC, &t1);
		fake_note("client hung up %lld ms into a stall of %lld ms",
		    (long long)(t1.tv_sec - t0.tv_sec) * 1000 +
		        (t1.tv_nsec - t0.tv_nsec) / 1000000,
		    ms);
	}
}

/* One octet every ms, until the client hangs up or time runs out. */
static void
fake_trickle(struct fake_conn *c, long long ms, char byte)
{
	struct pollfd pfd = { .fd = -1, .events = POLLRDHUP };
	unsigned long long n = 0;

	while (!c->is_dead && fake_left_ms() > 0) {
		fake_send(c, &byte, 1);
		n++;
		pfd.fd = c->fd;
		if (!c->is_dead &&
		    poll(&pfd, 1, fake_min((int)ms, fake_left_ms())) > 0) {
			fake_note("client hung up after %llu trickled octets",
			    n);
			fake_hangup(c, "trickle over");
		}
	}
}

static void
fake_big(struct fake_conn *c, long long count, char byte)
{
	char chunk[FAKE_CHUNK];
	size_t n;

	memset(chunk, byte, sizeof(chunk));
	while (count > 0 && !c->is_dead) {
		n = count > (long long)sizeof(chunk) ? sizeof(chunk)
		                                     : (size_t)count;
		fake_send(c, chunk, n);
		count -= (long long)n;
	}
}

/* Send a message file, one line at a time, CRLF and dot-stuffed. */
static int
fake_file(struct fake_conn *c, const char *path)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL) {
		fake_note("%s: %s", path, strerror(errno));
		return -1;
	}
	while (!c->is_dead && (len = getline(&line, &cap, fp)) != -1) {
		if (len > 0 && line[len - 1] == '\n')
			len--;
		if (line[0] == '.')
			fake_send(c, ".", 1);
		fake_send(c, line, (size_t)len);
		fake_send(c, "\r\n", 2);
	}
	free(line);
	fclose(fp);
	return 0;
}

static int
fake_tls(struct fake_conn *c)
{
	int rc;

	if (gnutls_init(&c->tls, GNUTLS_SERVER) < 0 ||
	    gnutls_set_default_priority(c->tls) < 0 ||
	    gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, fake_cred) <
	        0) {
		fake_note("gnutls setup failed");
		return -1;
	}
	gnutls_transport_set_int(c->tls, c->fd);
	gnutls_handshake_set_timeout(c->tls, (unsigned)fake_left_ms());
	do {
		rc = gnutls_handshake(c->tls);
	} while (rc < 0 && gnutls_error_is_fatal(rc) == 0);
	c->has_tls = true;
	if (rc < 0) {
		fake_note("TLS handshake failed: %s", gnutls_strerror(rc));
		fake_hangup(c, "TLS failed");
		return 0;
	}
	fake_note("TLS established");
	return 0;
}

/* Read a line for C: or O:; 1 match, 0 no match (line held), -1 EOF. */
static int
fake_match(struct fake_conn *c, const char *glob, bool is_optional)
{
	char *line = NULL;
	int rc;

	if ((rc = fake_read_line(c, &line)) == -1) {
		fake_note("%s:%d: client line too long", c->file, c->lineno);
		return -1;
	}
	if (rc == 0) {
		if (!is_optional)
			fake_note("%s:%d: expected '%s', client hung up or "
			          "went silent",
			    c->file, c->lineno, glob);
		return -1;
	}
	if (fnmatch(glob, line, 0) == 0) {
		free(line);
		return 1;
	}
	if (!is_optional)
		fake_note("%s:%d: expected '%s', got '%s'", c->file, c->lineno,
		    glob, line);
	c->held = line;
	return 0;
}

/* Wait for the client to hang up; 0, or -1 if it sent a line first. */
static int
fake_wait_eof(struct fake_conn *c, int ms)
{
	struct timespec saved = fake_deadline, now;
	char *line;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (ms >= 0 && ms < fake_left_ms()) {
		fake_deadline.tv_sec = now.tv_sec + ms / 1000;
		fake_deadline.tv_nsec = now.tv_nsec + (ms % 1000) * 1000000L;
		if (fake_deadline.tv_nsec >= 1000000000L) {
			fake_deadline.tv_sec++;
			fake_deadline.tv_nsec -= 1000000000L;
		}
	}
	rc = fake_read_line(c, &line);
	fake_deadline = saved;
	if (rc == 0)
		return 0;
	if (rc == 1) {
		fake_note("%s: unexpected line after the script: '%s'",
		    c->sc->path, line);
		free(line);
	}
	return -1;
}

/* Play one step; returns the index of the next one, or -1 on failure. */
static long
fake_step(struct fake_conn *c, size_t i)
{
	const struct fake_step *st = &c->sc->steps[i];
	int m;

	c->file = st->file;
	c->lineno = st->lineno;
	switch (st->op) {
	case FAKE_SEND:
		fake_send(c, st->arg, st->arglen);
		fake_send(c, "\r\n", 2);
		break;
	case FAKE_EXPECT:
		if (c->is_dead || fake_match(c, st->arg, false) != 1)
			return -1;
		break;
	case FAKE_OPTIONAL:
		m = c->is_dead ? -1 : fake_match(c, st->arg, true);
		if (m != 1)
			return (long)st->skip + 1;
		break;
	case FAKE_END:
		break;
	case FAKE_CLOSE:
		fake_hangup(c, "closed the connection");
		break;
	case FAKE_STALL:
		fake_stall(c, st->num);
		break;
	case FAKE_RAW:
		fake_send(c, st->arg, st->arglen);
		break;
	case FAKE_BIG:
		fake_big(c, st->num, st->arg[0]);
		break;
	case FAKE_TRICKLE:
		fake_trickle(c, st->num, st->arg[0]);
		break;
	case FAKE_DROP:
		c->drop_left = st->num;
		if (st->num == 0)
			fake_hangup(c, "dropped the connection");
		break;
	case FAKE_FILE:
		if (fake_file(c, st->arg) == -1)
			return -1;
		break;
	case FAKE_TLS:
		if (!c->is_dead && fake_tls(c) == -1)
			return -1;
		break;
	case FAKE_EOF:
		if (!c->is_dead && fake_wait_eof(c, -1) == -1)
			return -1;
		break;
	}
	return (long)i + 1;
}

/* Play a script to a connection; 0 as written, -1 failed. */
static int
fake_play(int fd, const struct fake_script *sc)
{
	struct fake_conn c;
	long i = 0;
	int rc = 0;

	memset(&c, 0, sizeof(c));
	c.fd = fd;
	c.drop_left = -1;
	c.sc = sc;
	while (i >= 0 && (size_t)i < sc->n && !c.is_dead)
		i = fake_step(&c, (size_t)i);
	if (i < 0)
		rc = -1;
	else if (!c.is_dead) {
		/* The client must have nothing more to say. */
		if (c.has_tls)
			(void)gnutls_bye(c.tls, GNUTLS_SHUT_WR);
		(void)shutdown(c.fd, SHUT_WR);
		if (fake_wait_eof(&c, FAKE_DRAIN_MS) == -1)
			rc = -1;
	} else if ((size_t)i < sc->n) {
		fake_note("%s:%d: connection gone, rest of the script skipped",
		    sc->steps[i].file, sc->steps[i].lineno);
		/* The client was to say more, and did not. */
		for (; (size_t)i < sc->n; i++)
			if (sc->steps[i].op == FAKE_EXPECT)
				rc = -1;
	}
	free(c.held);
	if (!c.is_dead) {
		if (c.has_tls)
			gnutls_deinit(c.tls);
		close(c.fd);
	}
	return rc;
}

static int
fake_listen(const char *portfile)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t slen = sizeof(sin);
	char tmp[PATH_MAX];
	FILE *fp;
	int fd;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(fd, 8) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &slen) == -1) {
		perror("fake-pop3: listen");
		return -1;
	}
	if (portfile == NULL) {
		printf("%u\n", ntohs(sin.sin_port));
		fflush(stdout);
		return fd;
	}
	/* Written whole, then renamed: a reader never sees half of it. */
	(void)snprintf(tmp, sizeof(tmp), "%s.tmp", portfile);
	if ((fp = fopen(tmp, "w")) == NULL ||
	    fprintf(fp, "%u\n", ntohs(sin.sin_port)) < 0 || fclose(fp) != 0 ||
	    rename(tmp, portfile) == -1) {
		perror("fake-pop3: port file");
		return -1;
	}
	return fd;
}

static int
fake_accept(int lfd)
{
	struct pollfd pfd = { .fd = lfd, .events = POLLIN };
	int fd;

	if (poll(&pfd, 1, fake_left_ms()) <= 0) {
		fake_note("no connection before the deadline");
		return -1;
	}
	if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) == -1)
		fake_note("accept: %s", strerror(errno));
	return fd;
}

static int
fake_tls_init(void)
{
	char cert[PATH_MAX], key[PATH_MAX];

	(void)snprintf(cert, sizeof(cert), "%s/server.pem", fake_tls_dir);
	(void)snprintf(key, sizeof(key), "%s/server-key.pem", fake_tls_dir);
	if (gnutls_certificate_allocate_credentials(&fake_cred) < 0 ||
	    gnutls_certificate_set_x509_key_file(fake_cred, cert, key,
	        GNUTLS_X509_FMT_PEM) < 0) {
		fprintf(stderr, "fake-pop3: cannot load %s and %s\n", cert,
		    key);
		return -1;
	}
	return 0;
}

static void
fake_free(struct fake_script *scripts, int n)
{
	size_t j;
	int i;

	for (i = 0; i < n; i++) {
		for (j = 0; j < scripts[i].n; j++)
			free(scripts[i].steps[j].arg);
		free(scripts[i].steps);
		for (j = 0; j < scripts[i].nfiles; j++)
			free(scripts[i].files[j]);
		free(scripts[i].files);
		free(scripts[i].path);
	}
	free(scripts);
}

static void
fake_usage(void)
{
	fprintf(stderr,
	    "usage: fake-pop3 [-n] [-t seconds] [-p portfile] [-l log] "
	    "[-k tlsdir] -s script [-s script ...]\n");
	exit(2);
}

static void
fake_arm(long long secs)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fake_on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	clock_gettime(CLOCK_MONOTONIC, &fake_deadline);
	fake_deadline.tv_sec += secs;
	/* The hard stop, a second after the deadline every wait uses. */
	alarm((unsigned)secs + 1);
}

int
main(int argc, char **argv)
{
	struct fake_script *scripts = NULL;
	const char *portfile = NULL, *logpath = NULL;
	long long secs = 30;
	bool is_check = false;
	int ch, lfd, fd, nscripts = 0, i, rc, status = 0;

	while ((ch = getopt(argc, argv, "k:l:np:s:t:")) != -1) {
		switch (ch) {
		case 'k':
			fake_tls_dir = optarg;
			break;
		case 'l':
			logpath = optarg;
			break;
		case 'n':
			is_check = true;
			break;
		case 'p':
			portfile = optarg;
			break;
		case 's':
			scripts = realloc(scripts,
			    (size_t)(nscripts + 1) * sizeof(*scripts));
			if (scripts == NULL ||
			    fake_load(optarg, &scripts[nscripts]) == -1)
				exit(2);
			nscripts++;
			break;
		case 't':
			if (fake_parse_num(optarg, 86400, &secs) == -1 ||
			    secs == 0)
				fake_usage();
			break;
		default:
			fake_usage();
		}
	}
	if (optind != argc || nscripts == 0)
		fake_usage();
	if (is_check) {
		fake_free(scripts, nscripts);
		return 0;
	}
	fake_arm(secs);
	fake_log =
	    logpath != NULL ? fopen(logpath, "a") : fopen("/dev/null", "w");
	if (fake_log == NULL || fake_tls_init() == -1)
		exit(2);
	if ((lfd = fake_listen(portfile)) == -1)
		exit(2);
	for (i = 0; i < nscripts; i++) {
		if ((fd = fake_accept(lfd)) == -1) {
			status = 1;
			break;
		}
		fake_note("connection %d: %s", i + 1, scripts[i].path);
		rc = fake_play(fd, &scripts[i]);
		if (rc == -1)
			status = 1;
		fake_note("connection %d: %s", i + 1,
		    rc == 0 ? "played as written" : "FAILED");
	}
	close(lfd);
	fake_free(scripts, nscripts);
	gnutls_certificate_free_credentials(fake_cred);
	fclose(fake_log);
	return status;
}
