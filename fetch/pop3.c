/*
 * POP3 client session.
 *
 * RFC 1939  Post Office Protocol - Version 3
 * RFC 2449  POP3 Extension Mechanism (CAPA, response codes)
 * RFC 2595  Using TLS with IMAP, POP3 and ACAP (STLS)
 * RFC 3206  The SYS and AUTH POP Response Codes
 * RFC 5034  The POP3 SASL Authentication Mechanism
 *
 * Every command is sent by pop3_send() and its reply read by
 * pop3_read_reply(), kept apart so that commands can later be pipelined
 * (RFC 2449 §6.6).  Multi-line replies are read line by line (CAPA, LIST,
 * UIDL, bounded by POP3_LINE_MAX) or streamed (RETR, TOP, unbounded).
 */
#include "config.h"

#include <assert.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "compat/compat.h"
#include "fetch/pop3.h"
#include "fetch/sasl.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xmalloc.h"

/* Read buffer; also the largest chunk handed to a pop3_data_fn. */
#define POP3_RBUF_SIZE 65536
/* Longest command we send, CRLF included. */
#define POP3_CMD_MAX 512
/* What we show of a command in errors ("RETR 12"). */
#define POP3_CMD_SHOWN 64
/*
 * Commands are gathered here and written together before the next read,
 * so that a pipelined window goes out in one write (one TLS record).
 */
#define POP3_WBUF_SIZE 4096
/*
 * How many commands may await their replies (RFC 2449 §6.6): more is a
 * bug in the caller, which bounds its window well below this.
 */
#define POP3_PENDING_MAX 1024
/*
 * RFC 2449 §6.6 lets the client send commands ahead, but a server may
 * read the next command only once it has written the whole reply to the
 * last one, and a reply can be megabytes.  The client then writes while
 * the server writes, and neither reads: a deadlock, unless every
 * command byte we have sent and whose reply has not begun fits in the
 * socket buffers (ours to send, the server's to receive), so that our
 * write returns and we go back to reading.  Linux gives a connection
 * 16 KB to send and 128 KB to receive by default (tcp_wmem, tcp_rmem),
 * so we keep the commands in flight to POP3_INFLIGHT_MAX octets of
 * command text, some 700 RETRs: with the TLS record header and tag of
 * each write (about 30 octets; a caller refills at a low mark, so that
 * a write carries many commands), well within what the two buffers
 * hold by default.  (A server that lowered its receive buffer to the
 * 4 KB minimum would need our send buffer to take the rest.)
 */
#define POP3_INFLIGHT_MAX 8192
/* The longest command about one message: "RETR 4294967295\r\n". */
#define POP3_MSG_CMD_MAX 24
/* Room for an APOP timestamp "<...>" from the greeting (RFC 1939 §7). */
#define POP3_STAMP_MAX 256
/* RFC 5034 §4: the longest AUTH command that may carry a response. */
#define POP3_AUTH_IR_MAX 255

#define POP3_IN(state) (1u << (state))

struct pop3_session {
	struct transport *t;
	const char *account;
	enum pop3_state state;
	enum pop3_resp_code resp_code;
	bool has_greeting;      /* DISCONNECTED comes before and after */
	bool is_quit_confirmed; /* QUIT got +OK */
	struct pop3_caps caps;
	char stamp[POP3_STAMP_MAX]; /* APOP timestamp, or "" */
	char greeting[256];         /* its text, sanitised */
	char cmd[POP3_CMD_SHOWN];   /* the command in flight, for errors */
	/*
	 * The commands sent whose status lines are still to come, oldest
	 * first (a ring): a reply is blamed on the command it answers.
	 */
	char pending[POP3_PENDING_MAX][POP3_CMD_SHOWN];
	unsigned short plen[POP3_PENDING_MAX]; /* octets each, CRLF too */
	size_t phead, npending;
	size_t wlen; /* bytes of commands in wbuf, not yet written */
	char wbuf[POP3_WBUF_SIZE];
	size_t rpos, rlen; /* unread bytes are rbuf[rpos..rlen) */
	char rbuf[POP3_RBUF_SIZE];
	size_t inflight; /* octets of the pending commands */
	size_t nqueued;  /* commands in wbuf */
	/*
	 * The round trip: a write of commands when nothing else was
	 * pending, timed to the first status line; the shortest seen.
	 */
	bool is_timing;
	struct timespec t_sent;
	uint64_t rtt_us; /* 0: not measured yet */
};

/* A status line (RFC 1939 §3); text points into the read buffer. */
struct pop3_reply {
	bool is_ok;
	enum pop3_resp_code code;
	const char *text;
	size_t len;
};

static const char *const pop3_auth_names[POP3_AUTH_COUNT] = {
	[POP3_AUTH_AUTO] = "auto",
	[POP3_AUTH_USER] = "user",
	[POP3_AUTH_APOP] = "apop",
	[POP3_AUTH_PLAIN] = "plain",
	[POP3_AUTH_LOGIN] = "login",
	[POP3_AUTH_CRAM_MD5] = "cram-md5",
	[POP3_AUTH_SCRAM_SHA_1] = "scram-sha-1",
	[POP3_AUTH_SCRAM_SHA_256] = "scram-sha-256",
	[POP3_AUTH_XOAUTH2] = "xoauth2",
	[POP3_AUTH_OAUTHBEARER] = "oauthbearer",
};

/* The SASL mechanisms, in the order of enum sasl_mech. */
static const enum pop3_auth pop3_auth_sasl[SASL_MECH_COUNT] = {
	[SASL_MECH_PLAIN] = POP3_AUTH_PLAIN,
	[SASL_MECH_LOGIN] = POP3_AUTH_LOGIN,
	[SASL_MECH_CRAM_MD5] = POP3_AUTH_CRAM_MD5,
	[SASL_MECH_SCRAM_SHA_1] = POP3_AUTH_SCRAM_SHA_1,
	[SASL_MECH_SCRAM_SHA_256] = POP3_AUTH_SCRAM_SHA_256,
	[SASL_MECH_XOAUTH2] = POP3_AUTH_XOAUTH2,
	[SASL_MECH_OAUTHBEARER] = POP3_AUTH_OAUTHBEARER,
};

static void
pop3_set_state(struct pop3_session *s, enum pop3_state state)
{
	if (s->state == state)
		return;
	log_debug("%s: pop3: %s -> %s", s->account, pop3_state_name(s->state),
	    pop3_state_name(state));
	s->state = state;
}

static void
pop3_caps_reset(struct pop3_caps *c)
{
	memset(c, 0, sizeof(*c));
	c->expire = -1;
	c->login_delay = -1;
}

/*
 * Is the session in one of the states of mask?  A broken session
 * refuses everything; a command out of its RFC 1939 state is a bug in
 * the caller.  Nothing is sent in either case.
 */
static int
pop3_check(struct pop3_session *s, unsigned mask, const char *what,
    struct err *err)
{
	if (s->state == POP3_BROKEN) {
		err_setx(err, ERR_PROTO, "%s: session is broken", what);
		return -1;
	}
	if ((POP3_IN(s->state) & mask) == 0) {
		err_setx(err, ERR_SOFTWARE, "%s: not allowed in state %s", what,
		    pop3_state_name(s->state));
		return -1;
	}
	return 0;
}

/* Remember the command in flight (truncated) for error messages. */
static void
pop3_set_cmd(struct pop3_session *s, const char *cmd, size_t len)
{
	if (len > sizeof(s->cmd) - 1)
		len = sizeof(s->cmd) - 1;
	memcpy(s->cmd, cmd, len);
	s->cmd[len] = '\0';
}

/*
 * Write out the commands gathered in wbuf, then wipe it: a PASS line
 * must not linger in memory.
 */
int
pop3_flush(struct pop3_session *s, struct err *err)
{
	int rc = 0;

	if (s->wlen == 0)
		return 0;
	if (transport_write(s->t, s->wbuf, s->wlen, err) == -1) {
		err_prefix(err, "%s", s->cmd);
		pop3_set_state(s, POP3_BROKEN);
		rc = -1;
	}
	explicit_bzero(s->wbuf, s->wlen);
	s->wlen = 0;
	s->nqueued = 0;
	return rc;
}

/*
 * Before a status line is read: the command it answers must be out,
 * and it is the oldest one pending, to be named in what goes wrong.
 * Nothing pending (the greeting, the lines of an AUTH exchange): the
 * name stays.
 */
static int
pop3_next_reply(struct pop3_session *s, struct err *err)
{
	/* All that is pending goes out now: the reply times a round trip. */
	bool is_alone = s->npending > 0 && s->npending == s->nqueued;

	if (s->npending > 0) {
		memcpy(s->cmd, s->pending[s->phead], sizeof(s->cmd));
		s->inflight -= s->plen[s->phead];
		s->phead = (s->phead + 1) % POP3_PENDING_MAX;
		s->npending--;
	}
	if (pop3_flush(s, err) == -1)
		return -1;
	if (is_alone) {
		(void)clock_gettime(CLOCK_MONOTONIC, &s->t_sent);
		s->is_timing = true;
	}
	return 0;
}

/* The status line that answers a timed write is in. */
static void
pop3_timed(struct pop3_session *s)
{
	struct timespec now;
	int64_t us;

	s->is_timing = false;
	if (clock_gettime(CLOCK_MONOTONIC, &now) == -1)
		return;
	us = (int64_t)(now.tv_sec - s->t_sent.tv_sec) * 1000000 +
	    (now.tv_nsec - s->t_sent.tv_nsec) / 1000;
	if (us <= 0)
		us = 1;
	if (s->rtt_us == 0 || (uint64_t)us < s->rtt_us)
		s->rtt_us = (uint64_t)us;
}

bool
pop3_may_pipeline(const struct pop3_session *s, size_t n)
{
	if (s->npending == 0 && n <= 1)
		return true;
	return s->caps.pipelining && n <= POP3_PENDING_MAX - s->npending &&
	    n <= (POP3_INFLIGHT_MAX - s->inflight) / POP3_MSG_CMD_MAX;
}

uint64_t
pop3_get_rtt_us(const struct pop3_session *s)
{
	return s->rtt_us;
}

/*
 * Queue one command, CRLF added; it is written before the next read
 * (or sooner, when the buffer is full).  A secret command (PASS) is
 * traced with its argument masked, and the buffer that held it is
 * wiped.
 */
static int pop3_vsend(struct pop3_session *s, bool is_secret, struct err *err,
    const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

static int
pop3_vsend(struct pop3_session *s, bool is_secret, struct err *err,
    const char *fmt, va_list ap)
{
	char line[POP3_CMD_MAX], shown[POP3_CMD_SHOWN + 8], *name;
	const char *sp;
	size_t len, vlen;
	int n, rc = -1;

	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 2) {
		err_setx(err, ERR_SOFTWARE, "command too long");
		goto out;
	}
	len = (size_t)n;
	if (s->npending == POP3_PENDING_MAX) {
		err_setx(err, ERR_SOFTWARE, "too many commands in flight");
		goto out;
	}
	name = s->pending[(s->phead + s->npending) % POP3_PENDING_MAX];
	vlen = len;
	if (is_secret && (sp = memchr(line, ' ', len)) != NULL)
		vlen = (size_t)(sp - line);
	if (vlen > POP3_CMD_SHOWN - 1)
		vlen = POP3_CMD_SHOWN - 1;
	memcpy(name, line, vlen);
	name[vlen] = '\0';
	s->plen[(s->phead + s->npending) % POP3_PENDING_MAX] =
	    (unsigned short)(len + 2);
	s->inflight += len + 2;
	s->npending++;
	if (is_secret) {
		(void)snprintf(shown, sizeof(shown), "%s ****", name);
		log_trace(s->account, "C", shown, strlen(shown));
	} else
		log_trace(s->account, "C", line, len);
	memcpy(line + len, "\r\n", 2);
	len += 2;
	if (len > sizeof(s->wbuf) - s->wlen && pop3_flush(s, err) == -1)
		goto out;
	memcpy(s->wbuf + s->wlen, line, len);
	s->wlen += len;
	s->nqueued++;
	rc = 0;
out:
	explicit_bzero(line, sizeof(line));
	return rc;
}

static int pop3_send(struct pop3_session *s, bool is_secret, struct err *err,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
pop3_send(struct pop3_session *s, bool is_secret, struct err *err,
    const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = pop3_vsend(s, is_secret, err, fmt, ap);
	va_end(ap);
	return rc;
}

/*
 * Read more from the transport behind what is still unread, moved to
 * the front first.  Returns the number of bytes read, 0 at the end of
 * the stream, or -1 (err set, session broken).
 */
static ssize_t
pop3_fill(struct pop3_session *s, struct err *err)
{
	ssize_t n;

	if (s->rpos > 0) {
		memmove(s->rbuf, s->rbuf + s->rpos, s->rlen - s->rpos);
		s->rlen -= s->rpos;
		s->rpos = 0;
	}
	/* Callers never leave more than a line's worth unread. */
	assert(s->rlen < sizeof(s->rbuf));
	n = transport_read(s->t, s->rbuf + s->rlen, sizeof(s->rbuf) - s->rlen,
	    err);
	if (n < 0) {
		err_prefix(err, "%s", s->cmd);
		pop3_set_state(s, POP3_BROKEN);
		return -1;
	}
	s->rlen += (size_t)n;
	return n;
}

/* A protocol or I/O failure: the session cannot go on. */
static int pop3_fail(struct pop3_session *s, enum err_class cls,
    struct err *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
pop3_fail(struct pop3_session *s, enum err_class cls, struct err *err,
    const char *fmt, ...)
{
	char why[ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	err_setx(err, cls, "%s: %s", s->cmd, why);
	pop3_set_state(s, POP3_BROKEN);
	return -1;
}

/*
 * The next reply line, without its CRLF (or bare LF), of at most
 * POP3_LINE_MAX octets.  *line_out points into the read buffer and is
 * valid until the next read.  Returns 1, or 0 at the end of the stream
 * (err not set; what that means is up to the caller), or -1.
 */
static int
pop3_getline(struct pop3_session *s, char **line_out, size_t *len_out,
    struct err *err)
{
	char *line, *lf;
	size_t len;
	ssize_t n;

	for (;;) {
		line = s->rbuf + s->rpos;
		len = s->rlen - s->rpos;
		if ((lf = memchr(line, '\n', len)) != NULL)
			break;
		/* Even with its CR, a line this long cannot be valid. */
		if (len > POP3_LINE_MAX + 1)
			return pop3_fail(s, ERR_PROTO, err,
			    "reply line too long");
		if ((n = pop3_fill(s, err)) <= 0)
			return (int)n;
	}
	len = (size_t)(lf - line);
	s->rpos += len + 1;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len > POP3_LINE_MAX)
		return pop3_fail(s, ERR_PROTO, err, "reply line too long");
	*line_out = line;
	*len_out = len;
	return 1;
}

/* Does the line start with word, followed by a space or its end? */
static bool
pop3_has_word(const char *line, size_t len, const char *word)
{
	size_t wlen = strlen(word);

	return len >= wlen && memcmp(line, word, wlen) == 0 &&
	    (len == wlen || line[wlen] == ' ');
}

/*
 * RFC 2449 §8: "[CODE]" at the start of the text, hierarchical with
 * "/"; RFC 3206 adds SYS/TEMP, SYS/PERM and AUTH.  A code we do not know
 * is OTHER; a more specific one (SYS/TEMP/X) counts as its parent.
 */
static enum pop3_resp_code
pop3_parse_code(const char *text, size_t len)
{
	static const struct {
		const char *name;
		enum pop3_resp_code code;
	} codes[] = {
		{ "IN-USE", POP3_RESP_IN_USE },
		{ "LOGIN-DELAY", POP3_RESP_LOGIN_DELAY },
		{ "SYS/TEMP", POP3_RESP_SYS_TEMP },
		{ "SYS/PERM", POP3_RESP_SYS_PERM },
		{ "AUTH", POP3_RESP_AUTH },
	};
	const char *end;
	size_t i, clen, nlen;

	if (len < 2 || text[0] != '[' || (end = memchr(text, ']', len)) == NULL)
		return POP3_RESP_NONE;
	clen = (size_t)(end - text) - 1;
	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		nlen = strlen(codes[i].name);
		if (clen >= nlen &&
		    strncasecmp(text + 1, codes[i].name, nlen) == 0 &&
		    (clen == nlen || text[1 + nlen] == '/'))
			return codes[i].code;
	}
	return POP3_RESP_OTHER;
}

/* RFC 1939 §3: "+OK" or "-ERR", then a space and text, or nothing. */
static int
pop3_parse_status(const char *line, size_t len, struct pop3_reply *r)
{
	size_t skip;

	memset(r, 0, sizeof(*r));
	if (pop3_has_word(line, len, "+OK")) {
		r->is_ok = true;
		skip = 3;
	} else if (pop3_has_word(line, len, "-ERR"))
		skip = 4;
	else
		return -1;
	if (len > skip)
		skip++;
	r->text = line + skip;
	r->len = len - skip;
	if (!r->is_ok)
		r->code = pop3_parse_code(r->text, r->len);
	return 0;
}

/* A line that must be a status line, already traced. */
static int
pop3_take_status(struct pop3_session *s, const char *line, size_t len,
    struct pop3_reply *r, struct err *err)
{
	if (pop3_parse_status(line, len, r) == -1) {
		pop3_fail(s, ERR_PROTO, err, "reply is neither +OK nor -ERR");
		err_set_server(err, line, len);
		return -1;
	}
	s->resp_code = r->code;
	return 0;
}

/*
 * Read the status line of the reply to the command in flight.  Returns
 * 0 for both +OK and -ERR (r says which), -1 if there was no valid
 * status line (err set, session broken).
 */
static int
pop3_read_reply(struct pop3_session *s, struct pop3_reply *r, struct err *err)
{
	char *line;
	size_t len;
	int rc;

	if (pop3_next_reply(s, err) == -1 ||
	    (rc = pop3_getline(s, &line, &len, err)) == -1)
		return -1;
	if (rc == 0) {
		/* No answer at all: most likely a server gone away. */
		return pop3_fail(s, ERR_TEMP, err,
		    "connection closed by server");
	}
	log_trace(s->account, "S", line, len);
	if (s->is_timing)
		pop3_timed(s);
	return pop3_take_status(s, line, len, r, err);
}

/* What a response code says about a -ERR, whatever the command. */
static enum err_class
pop3_code_class(enum pop3_resp_code code, enum err_class dflt)
{
	switch (code) {
	case POP3_RESP_IN_USE:
	case POP3_RESP_LOGIN_DELAY:
	case POP3_RESP_SYS_TEMP:
		return ERR_TEMP;
	case POP3_RESP_AUTH:
		return ERR_AUTH;
	case POP3_RESP_SYS_PERM:
		return ERR_PROTO;
	case POP3_RESP_NONE:
	case POP3_RESP_OTHER:
		break;
	}
	return dflt;
}

/*
 * Turn a -ERR into an error of class dflt, unless its response code
 * says otherwise.  is_fatal: +OK was required, so the session is over.
 */
static int
pop3_refused(struct pop3_session *s, const struct pop3_reply *r,
    enum err_class dflt, bool is_fatal, struct err *err)
{
	err_setx(err, pop3_code_class(r->code, dflt), "%s refused", s->cmd);
	err_set_server(err, r->text, r->len);
	if (is_fatal)
		pop3_set_state(s, POP3_BROKEN);
	return -1;
}

/*
 * Send a command and read its status line.  A -ERR is refused with
 * class dflt (is_fatal: and the session is broken).
 */
static int pop3_simple(struct pop3_session *s, enum err_class dflt,
    bool is_fatal, struct pop3_reply *r, struct err *err, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static int
pop3_simple(struct pop3_session *s, enum err_class dflt, bool is_fatal,
    struct pop3_reply *r, struct err *err, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = pop3_vsend(s, false, err, fmt, ap);
	va_end(ap);
	if (rc == -1 || pop3_read_reply(s, r, err) == -1)
		return -1;
	if (!r->is_ok)
		return pop3_refused(s, r, dflt, is_fatal, err);
	return 0;
}

/*
 * The next line of a multi-line reply (CAPA, LIST, UIDL), with the
 * termination octet removed (RFC 1939 §3).  Returns 1 with a line, 0
 * after the final ".", -1 on error.
 */
static int
pop3_next_line(struct pop3_session *s, char **line_out, size_t *len_out,
    struct err *err)
{
	char *line;
	size_t len;
	int rc;

	if ((rc = pop3_getline(s, &line, &len, err)) == -1)
		return -1;
	if (rc == 0)
		return pop3_fail(s, ERR_TEMP, err,
		    "connection closed in the middle of the reply");
	log_trace(s->account, "S", line, len);
	if (len == 1 && line[0] == '.')
		return 0;
	if (len > 0 && line[0] == '.') {
		line++;
		len--;
	}
	*line_out = line;
	*len_out = len;
	return 1;
}

/*
 * Unstuff what the buffer holds of a message (RFC 1939 §3) in place:
 * the output never outgrows the input, so it is written at *w, behind
 * the read position.  Bytes that cannot be judged yet (a "." or ".\r"
 * at the start of a line, a CR that may begin a CRLF) are left unread
 * for the next round.  Returns true once the final "." line is read.
 */
static bool
pop3_unstuff(struct pop3_session *s, bool *is_bol, size_t *w)
{
	char *buf = s->rbuf, *p, *lf;
	size_t avail, len, n;

	for (;;) {
		p = buf + s->rpos;
		avail = s->rlen - s->rpos;
		if (*is_bol) {
			if (avail == 0 || (p[0] == '.' && avail < 2) ||
			    (p[0] == '.' && p[1] == '\r' && avail < 3))
				return false;
			if (p[0] == '.' &&
			    (p[1] == '\n' || (p[1] == '\r' && p[2] == '\n'))) {
				s->rpos += p[1] == '\n' ? 2 : 3;
				return true;
			}
			if (p[0] == '.') {
				p++;
				avail--;
				s->rpos++;
			}
			*is_bol = false;
		}
		lf = memchr(p, '\n', avail);
		len = lf != NULL ? (size_t)(lf - p) : avail;
		n = len > 0 && p[len - 1] == '\r' ? len - 1 : len;
		memmove(buf + *w, p, n);
		*w += n;
		s->rpos += n;
		if (lf == NULL)
			return false;
		buf[(*w)++] = '\n';
		s->rpos += len - n + 1;
		*is_bol = true;
	}
}

/*
 * Stream the rest of a multi-line reply into fn, one chunk per buffer
 * load, so memory stays bounded whatever the line lengths.
 */
static int
pop3_read_data(struct pop3_session *s, pop3_data_fn *fn, void *arg,
    uint64_t *size_out, struct err *err)
{
	char note[64];
	uint64_t total = 0;
	size_t start, w;
	bool is_bol = true, is_done;
	ssize_t n;

	for (;;) {
		start = w = s->rpos;
		is_done = pop3_unstuff(s, &is_bol, &w);
		if (w > start) {
			if (fn(arg, s->rbuf + start, w - start, err) == -1) {
				pop3_set_state(s, POP3_BROKEN);
				return -1;
			}
			total += w - start;
		}
		if (is_done)
			break;
		if ((n = pop3_fill(s, err)) == -1)
			return -1;
		/*
		 * A connection that ends early was lost, not garbled: a
		 * later run may well get the message, so it is temporary.
		 */
		if (n == 0)
			return pop3_fail(s, ERR_TEMP, err,
			    "connection closed in the middle of the message");
	}
	(void)snprintf(note, sizeof(note), "(message, %" PRIu64 " octets)",
	    total);
	log_trace(s->account, "S", note, strlen(note));
	if (size_out != NULL)
		*size_out = total;
	return 0;
}

struct pop3_session *
pop3_new(struct transport *t, const char *account)
{
	struct pop3_session *s;

	s = xcalloc(1, sizeof(*s));
	s->t = t;
	s->account = account;
	s->state = POP3_DISCONNECTED;
	pop3_caps_reset(&s->caps);
	pop3_set_cmd(s, "greeting", strlen("greeting"));
	return s;
}

void
pop3_free(struct pop3_session *s)
{
	if (s == NULL)
		return;
	transport_free(s->t);
	free(s);
}

enum pop3_state
pop3_get_state(const struct pop3_session *s)
{
	return s->state;
}

const char *
pop3_state_name(enum pop3_state state)
{
	switch (state) {
	case POP3_DISCONNECTED:
		return "DISCONNECTED";
	case POP3_AUTHORIZATION:
		return "AUTHORIZATION";
	case POP3_TRANSACTION:
		return "TRANSACTION";
	case POP3_UPDATE:
		return "UPDATE";
	case POP3_BROKEN:
		return "BROKEN";
	}
	return "UNKNOWN";
}

enum pop3_resp_code
pop3_last_resp_code(const struct pop3_session *s)
{
	return s->resp_code;
}

const struct pop3_caps *
pop3_get_caps(const struct pop3_session *s)
{
	return &s->caps;
}

/* RFC 1939 §7: an APOP-capable server puts a msg-id in its greeting. */
static void
pop3_keep_stamp(struct pop3_session *s, const char *text, size_t len)
{
	const char *lt, *gt;
	size_t n;

	s->stamp[0] = '\0';
	if ((lt = memchr(text, '<', len)) == NULL)
		return;
	if ((gt = memchr(lt, '>', len - (size_t)(lt - text))) == NULL)
		return;
	n = (size_t)(gt - lt) + 1;
	if (n < sizeof(s->stamp)) {
		memcpy(s->stamp, lt, n);
		s->stamp[n] = '\0';
	}
}

/*
 * RFC 8446 §5.1: a TLS record starts with its type (20 to 23) and the
 * major version 3.  Where a POP3 greeting should be, it means a port
 * that speaks TLS from the start.  Returns -1 (err set) for a record,
 * 0 otherwise, reading no further than the first line needs.
 */
static int
pop3_refuse_tls_greeting(struct pop3_session *s, struct err *err)
{
	const unsigned char *p;
	size_t avail;
	ssize_t n;

	for (;;) {
		p = (const unsigned char *)s->rbuf + s->rpos;
		avail = s->rlen - s->rpos;
		if (avail >= 2 || memchr(p, '\n', avail) != NULL)
			break;
		if ((n = pop3_fill(s, err)) == -1)
			return -1;
		if (n == 0)
			return 0;
	}
	if (p[0] < 20 || p[0] > 23 || p[1] != 3)
		return 0;
	pop3_fail(s, ERR_CONFIG, err,
	    "a TLS record came where the POP3 greeting should be: is this a "
	    "POP3S port?  Set tls = on");
	return -1;
}

int
pop3_greeting(struct pop3_session *s, struct err *err)
{
	struct pop3_reply r;

	if (pop3_check(s, POP3_IN(POP3_DISCONNECTED), "greeting", err) == -1)
		return -1;
	if (s->has_greeting) {
		err_setx(err, ERR_SOFTWARE, "greeting: session is over");
		return -1;
	}
	s->has_greeting = true;
	pop3_set_cmd(s, "greeting", strlen("greeting"));
	if (pop3_refuse_tls_greeting(s, err) == -1 ||
	    pop3_read_reply(s, &r, err) == -1)
		return -1;
	/* A server that turns us away is most often busy. */
	if (!r.is_ok)
		return pop3_refused(s, &r, ERR_TEMP, true, err);
	pop3_keep_stamp(s, r.text, r.len);
	str_sanitise(s->greeting, sizeof(s->greeting), r.text, r.len);
	pop3_set_state(s, POP3_AUTHORIZATION);
	return 0;
}

const char *
pop3_get_greeting(const struct pop3_session *s)
{
	return s->greeting;
}

/* "n" as a count in [0, max]; -1 if the word is not a number. */
static int
pop3_parse_long(const char *arg, size_t len, long *out)
{
	uint64_t v;

	if (str_tonum(arg, len, LONG_MAX, &v) == -1)
		return -1;
	*out = (long)v;
	return 0;
}

static bool
pop3_is_tag(const char *tag, size_t len, const char *name)
{
	return len == strlen(name) && strncasecmp(tag, name, len) == 0;
}

/*
 * One CAPA line (RFC 2449 §6): a tag, case-insensitive, and its
 * arguments.  Unknown tags are ignored; so is a malformed EXPIRE or
 * LOGIN-DELAY argument, which only leaves the value unannounced.
 */
/*
 * RFC 2449 §6.3: "SASL" and the mechanism names, space-separated.  The
 * ones we speak become bits; all of them are kept as text for people.
 */
static void
pop3_parse_sasl(struct pop3_caps *c, const char *arg, size_t len)
{
	const char *end = arg + len, *sp;
	enum sasl_mech m;
	size_t wlen;

	str_sanitise(c->sasl_names, sizeof(c->sasl_names), arg, len);
	while (arg < end) {
		if ((sp = memchr(arg, ' ', (size_t)(end - arg))) == NULL)
			sp = end;
		wlen = (size_t)(sp - arg);
		if (sasl_mech_from_name(arg, wlen, &m) == 0)
			c->sasl |= POP3_AUTH_BIT(pop3_auth_sasl[m]);
		arg = sp + 1;
	}
}

static void
pop3_parse_capa(struct pop3_caps *c, const char *line, size_t len)
{
	const char *arg, *sp;
	size_t tlen, alen = 0;

	if ((arg = memchr(line, ' ', len)) != NULL) {
		tlen = (size_t)(arg - line);
		arg++;
		alen = len - tlen - 1;
		if (pop3_is_tag(line, tlen, "SASL")) {
			pop3_parse_sasl(c, arg, alen);
			return;
		}
		/*
		 * "EXPIRE 30 USER" (§6.5, §6.7): only the first argument
		 * counts, and USER after it says a login may change it.
		 */
		if ((sp = memchr(arg, ' ', alen)) != NULL) {
			c->has_user_values |=
			    (pop3_is_tag(line, tlen, "EXPIRE") ||
			        pop3_is_tag(line, tlen, "LOGIN-DELAY")) &&
			    pop3_is_tag(sp + 1, alen - (size_t)(sp + 1 - arg),
			        "USER");
			alen = (size_t)(sp - arg);
		}
	} else
		tlen = len;
	if (pop3_is_tag(line, tlen, "STLS"))
		c->stls = true;
	else if (pop3_is_tag(line, tlen, "UIDL"))
		c->uidl = true;
	else if (pop3_is_tag(line, tlen, "TOP"))
		c->top = true;
	else if (pop3_is_tag(line, tlen, "USER"))
		c->user = true;
	else if (pop3_is_tag(line, tlen, "PIPELINING"))
		c->pipelining = true;
	else if (pop3_is_tag(line, tlen, "RESP-CODES"))
		c->resp_codes = true;
	else if (pop3_is_tag(line, tlen, "EXPIRE") && arg != NULL) {
		if (!pop3_is_tag(arg, alen, "NEVER"))
			(void)pop3_parse_long(arg, alen, &c->expire);
	} else if (pop3_is_tag(line, tlen, "LOGIN-DELAY") && arg != NULL)
		(void)pop3_parse_long(arg, alen, &c->login_delay);
}

/* For people: the line, sanitised, if it fits whole. */
static void
pop3_keep_capa_line(struct pop3_caps *c, const char *line, size_t len)
{
	size_t used = strlen(c->text);

	if (used + len + 2 > sizeof(c->text))
		return;
	str_sanitise(c->text + used, len + 1, line, len);
	memcpy(c->text + used + len, "\n", 2);
}

int
pop3_capa(struct pop3_session *s, struct err *err)
{
	struct pop3_reply r;
	char *line;
	size_t len;
	int rc;

	if (pop3_check(s,
	        POP3_IN(POP3_AUTHORIZATION) | POP3_IN(POP3_TRANSACTION), "CAPA",
	        err) == -1)
		return -1;
	if (pop3_send(s, false, err, "CAPA") == -1 ||
	    pop3_read_reply(s, &r, err) == -1)
		return -1;
	/*
	 * RFC 2449 §5: a server without CAPA just says -ERR.  After login,
	 * what it said before still holds.
	 */
	if (!r.is_ok) {
		if (s->state != POP3_TRANSACTION)
			pop3_caps_reset(&s->caps);
		return 0;
	}
	pop3_caps_reset(&s->caps);
	while ((rc = pop3_next_line(s, &line, &len, err)) == 1) {
		pop3_parse_capa(&s->caps, line, len);
		pop3_keep_capa_line(&s->caps, line, len);
	}
	if (rc == -1) {
		pop3_caps_reset(&s->caps);
		return -1;
	}
	s->caps.has_capa = true;
	return 0;
}

bool
pop3_caps_may_grow(const struct pop3_caps *c)
{
	return c->has_capa && (!c->uidl || !c->top || c->has_user_values);
}

int
pop3_stls(struct pop3_session *s, const struct transport_tls_opts *opts,
    struct err *err)
{
	struct pop3_reply r;

	if (pop3_check(s, POP3_IN(POP3_AUTHORIZATION), "STLS", err) == -1)
		return -1;
	/* Whatever follows a refused STLS is plain text: stop here. */
	if (pop3_simple(s, ERR_PROTO, true, &r, err, "STLS") == -1)
		return -1;
	/*
	 * Bytes already read past the +OK were sent before TLS, where
	 * anyone could have put them: they must not pass for TLS data.
	 */
	if (s->rpos != s->rlen)
		return pop3_fail(s, ERR_PROTO, err,
		    "data after the reply, before TLS");
	if (transport_starttls(s->t, opts, err) == -1) {
		err_prefix(err, "STLS");
		pop3_set_state(s, POP3_BROKEN);
		return -1;
	}
	/* RFC 2595 §4: forget what CAPA said in the clear. */
	pop3_caps_reset(&s->caps);
	return 0;
}

/* May s go on a command line?  No line breaks, and not too long. */
static bool
pop3_is_safe_arg(const char *arg)
{
	return strlen(arg) < POP3_CMD_MAX - 8 && strpbrk(arg, "\r\n") == NULL;
}

/* USER and PASS in one write; both replies read, the first -ERR wins. */
static int
pop3_user_pass_pipelined(struct pop3_session *s, const char *user,
    const char *pass, struct err *err)
{
	struct pop3_reply r;

	if (pop3_send(s, false, err, "USER %s", user) == -1 ||
	    pop3_send(s, true, err, "PASS %s", pass) == -1 ||
	    pop3_read_reply(s, &r, err) == -1)
		return -1;
	if (!r.is_ok) {
		pop3_refused(s, &r, ERR_AUTH, false, err);
		/* PASS's reply, to stay in step (the session may QUIT). */
		(void)pop3_read_reply(s, &r, &(struct err){ 0 });
		return -1;
	}
	if (pop3_read_reply(s, &r, err) == -1)
		return -1;
	if (!r.is_ok)
		return pop3_refused(s, &r, ERR_AUTH, false, err);
	pop3_set_state(s, POP3_TRANSACTION);
	return 0;
}

int
pop3_user_pass(struct pop3_session *s, const char *user, const char *pass,
    struct err *err)
{
	struct pop3_reply r;

	if (pop3_check(s, POP3_IN(POP3_AUTHORIZATION), "USER", err) == -1)
		return -1;
	if (user[0] == '\0' || !pop3_is_safe_arg(user) ||
	    !pop3_is_safe_arg(pass)) {
		err_setx(err, ERR_CONFIG,
		    "user name or password is empty, too long or holds a "
		    "line break");
		return -1;
	}
	/*
	 * RFC 1939 §7: after -ERR the server stays in AUTHORIZATION, so
	 * the session does too (the caller may still QUIT).  With
	 * PIPELINING (RFC 2449 §6.6), PASS goes with USER, a round trip
	 * less; a -ERR to USER then gets its PASS refused as well.  Only
	 * over TLS: in the clear, a password goes out only once USER was
	 * accepted, as it always did.
	 */
	if (s->caps.pipelining && transport_is_tls(s->t))
		return pop3_user_pass_pipelined(s, user, pass, err);
	if (pop3_simple(s, ERR_AUTH, false, &r, err, "USER %s", user) == -1)
		return -1;
	if (pop3_send(s, true, err, "PASS %s", pass) == -1 ||
	    pop3_read_reply(s, &r, err) == -1)
		return -1;
	if (!r.is_ok)
		return pop3_refused(s, &r, ERR_AUTH, false, err);
	pop3_set_state(s, POP3_TRANSACTION);
	return 0;
}

const char *
pop3_auth_name(enum pop3_auth auth)
{
	if ((unsigned)auth >= POP3_AUTH_COUNT)
		return "?";
	return pop3_auth_names[auth];
}

int
pop3_auth_from_name(const char *name, enum pop3_auth *out)
{
	size_t i;

	for (i = 0; i < POP3_AUTH_COUNT; i++) {
		if (strcasecmp(name, pop3_auth_names[i]) == 0) {
			*out = (enum pop3_auth)i;
			return 0;
		}
	}
	return -1;
}

/* The SASL mechanism of auth; -1 for AUTO, USER and APOP. */
static int
pop3_sasl_of(enum pop3_auth auth, enum sasl_mech *out)
{
	size_t i;

	for (i = 0; i < SASL_MECH_COUNT; i++) {
		if (pop3_auth_sasl[i] == auth) {
			*out = (enum sasl_mech)i;
			return 0;
		}
	}
	return -1;
}

static bool
pop3_auth_is_cleartext(enum pop3_auth auth)
{
	enum sasl_mech m;

	if (auth == POP3_AUTH_USER)
		return true;
	return pop3_sasl_of(auth, &m) == 0 && sasl_mech_is_cleartext(m);
}

int
pop3_apop(struct pop3_session *s, const char *user, const char *secret,
    struct err *err)
{
	struct pop3_reply r;
	unsigned char md[16];
	char hex[2 * sizeof(md) + 1], *buf;
	size_t slen, plen, i;
	int rc;

	if (pop3_check(s, POP3_IN(POP3_AUTHORIZATION), "APOP", err) == -1)
		return -1;
	if (s->stamp[0] == '\0') {
		err_setx(err, ERR_CONFIG,
		    "APOP: the server's greeting has no timestamp, so it "
		    "does not do APOP");
		return -1;
	}
	if (user[0] == '\0' || secret[0] == '\0' || !pop3_is_safe_arg(user)) {
		err_setx(err, ERR_CONFIG,
		    "APOP: user name or password is empty, or the user name "
		    "is too long or holds a line break");
		return -1;
	}
	/* RFC 1939 §7: MD5 of the timestamp followed by the secret. */
	slen = strlen(s->stamp);
	plen = strlen(secret);
	buf = xmalloc(slen + plen);
	memcpy(buf, s->stamp, slen);
	memcpy(buf + slen, secret, plen);
	rc = gnutls_hash_fast(GNUTLS_DIG_MD5, buf, slen + plen, md);
	freezero(buf, slen + plen);
	if (rc < 0) {
		err_setx(err, ERR_LOCAL, "APOP: MD5: %s", gnutls_strerror(rc));
		return -1;
	}
	for (i = 0; i < sizeof(md); i++)
		(void)snprintf(hex + 2 * i, 3, "%02x", md[i]);
	/* Masked all the same: it proves the password to a replayer. */
	rc = pop3_send(s, true, err, "APOP %s %s", user, hex);
	explicit_bzero(hex, sizeof(hex));
	explicit_bzero(md, sizeof(md));
	if (rc == -1 || pop3_read_reply(s, &r, err) == -1)
		return -1;
	if (!r.is_ok)
		return pop3_refused(s, &r, ERR_AUTH, false, err);
	pop3_set_state(s, POP3_TRANSACTION);
	return 0;
}

/*
 * Send one line of an AUTH exchange, CRLF added: traced as shown, the
 * copy that held it wiped.  Lines of any length: a token may be long.
 */
static int
pop3_send_auth(struct pop3_session *s, const char *shown, const char *data,
    struct err *err)
{
	size_t len = strlen(data);
	char *line;
	int rc;

	/* Written at once, so nothing queued may wait behind it. */
	if (pop3_flush(s, err) == -1)
		return -1;
	line = xmalloc(len + 2);
	memcpy(line, data, len);
	memcpy(line + len, "\r\n", 2);
	log_trace(s->account, "C", shown, strlen(shown));
	rc = transport_write(s->t, line, len + 2, err);
	freezero(line, len + 2);
	if (rc == -1) {
		err_prefix(err, "%s", s->cmd);
		pop3_set_state(s, POP3_BROKEN);
	}
	return rc;
}

/*
 * RFC 5034 §4: the server's next line in an AUTH exchange is either a
 * challenge, "+" and a space and base64 (some servers send a bare "+"
 * for an empty one), or the final status.  Returns 1 for a challenge
 * (*chal_out, valid until the next read), 0 for a status in r, or -1.
 */
static int
pop3_read_auth(struct pop3_session *s, struct pop3_reply *r,
    const char **chal_out, size_t *len_out, struct err *err)
{
	char *line;
	size_t len, skip;
	int rc;

	if (pop3_next_reply(s, err) == -1 ||
	    (rc = pop3_getline(s, &line, &len, err)) == -1)
		return -1;
	if (rc == 0)
		return pop3_fail(s, ERR_TEMP, err,
		    "connection closed by server");
	log_trace(s->account, "S", line, len);
	if (len > 0 && line[0] == '+' && (len == 1 || line[1] == ' ')) {
		skip = len == 1 ? 1 : 2;
		*chal_out = line + skip;
		*len_out = len - skip;
		return 1;
	}
	return pop3_take_status(s, line, len, r, err) == -1 ? -1 : 0;
}

/*
 * We end the exchange (RFC 5034 §4: "*", which the server answers with
 * -ERR) and trust this server no further: the session is broken.
 */
static int
pop3_sasl_abort(struct pop3_session *s, struct err *err)
{
	struct pop3_reply r;
	const char *chal;
	struct err ignored;
	size_t len;

	err_prefix(err, "AUTH");
	if (pop3_send_auth(s, "*", "*", &ignored) == 0)
		(void)pop3_read_auth(s, &r, &chal, &len, &ignored);
	pop3_set_state(s, POP3_BROKEN);
	return -1;
}

/* A refusal, with what a token mechanism's server said in its JSON. */
static int
pop3_sasl_refused(struct pop3_session *s, const struct sasl_client *c,
    const struct pop3_reply *r, struct err *err)
{
	const char *json = sasl_client_server_error(c);

	if (json[0] == '\0')
		return pop3_refused(s, r, ERR_AUTH, false, err);
	err_setx(err, pop3_code_class(r->code, ERR_AUTH), "%s refused (%s)",
	    s->cmd, json);
	err_set_server(err, r->text, r->len);
	return -1;
}

/*
 * Start the exchange.  A client-first mechanism's initial response
 * goes with the command if that fits in 255 octets (RFC 5034 §4);
 * otherwise it waits for the server's empty challenge, and *ir_out
 * keeps it (caller owns).
 */
static int
pop3_sasl_start(struct pop3_session *s, struct sasl_client *c, enum sasl_mech m,
    char **ir_out, struct err *err)
{
	const char *name = sasl_mech_name(m);
	char *ir = NULL, *line, shown[64];
	int rc;

	*ir_out = NULL;
	(void)snprintf(shown, sizeof(shown), "AUTH %s", name);
	pop3_set_cmd(s, shown, strlen(shown));
	if (!sasl_mech_is_client_first(m))
		return pop3_send_auth(s, shown, shown, err);
	if (sasl_client_step(c, NULL, 0, &ir, err) == -1) {
		err_prefix(err, "AUTH");
		return -1;
	}
	if (strlen(shown) + 1 + (ir[0] == '\0' ? 1 : strlen(ir)) + 2 >
	    POP3_AUTH_IR_MAX) {
		*ir_out = ir;
		return pop3_send_auth(s, shown, shown, err);
	}
	/* "=" is an empty initial response. */
	line = xasprintf("%s %s", shown, ir[0] == '\0' ? "=" : ir);
	xfree_secret(ir);
	(void)snprintf(shown, sizeof(shown), "AUTH %s ****", name);
	rc = pop3_send_auth(s, shown, line, err);
	xfree_secret(line);
	return rc;
}

static int
pop3_sasl(struct pop3_session *s, enum sasl_mech m, const char *user,
    const char *secret, struct err *err)
{
	struct sasl_client *c;
	struct pop3_reply r;
	const char *chal;
	char *resp = NULL;
	size_t len;
	int rc = -1, got;

	if ((c = sasl_client_new(m, user, secret, err)) == NULL) {
		err_prefix(err, "AUTH");
		return -1;
	}
	if (pop3_sasl_start(s, c, m, &resp, err) == -1)
		goto out;
	while ((got = pop3_read_auth(s, &r, &chal, &len, err)) == 1) {
		/* The empty challenge a deferred initial response waits for. */
		if (resp == NULL &&
		    sasl_client_step(c, chal, len, &resp, err) == -1) {
			pop3_sasl_abort(s, err);
			goto out;
		}
		if (pop3_send_auth(s, "****", resp, err) == -1)
			goto out;
		xfree_secret(resp);
		resp = NULL;
	}
	if (got == -1)
		goto out;
	if (!r.is_ok) {
		pop3_sasl_refused(s, c, &r, err);
		goto out;
	}
	if (!sasl_client_is_done(c)) {
		pop3_fail(s, ERR_PROTO, err,
		    "+OK before the exchange was complete");
		goto out;
	}
	pop3_set_state(s, POP3_TRANSACTION);
	rc = 0;
out:
	xfree_secret(resp);
	sasl_client_free(c);
	return rc;
}

int
pop3_auth(struct pop3_session *s, enum pop3_auth mech, const char *user,
    const char *secret, struct err *err)
{
	enum sasl_mech m;

	if (pop3_check(s, POP3_IN(POP3_AUTHORIZATION), "AUTH", err) == -1)
		return -1;
	if (mech == POP3_AUTH_USER)
		return pop3_user_pass(s, user, secret, err);
	if (mech == POP3_AUTH_APOP)
		return pop3_apop(s, user, secret, err);
	if (pop3_sasl_of(mech, &m) == -1) {
		err_setx(err, ERR_SOFTWARE, "AUTH: no mechanism chosen");
		return -1;
	}
	return pop3_sasl(s, m, user, secret, err);
}

int
pop3_auth_choose(const struct pop3_caps *caps, bool is_tls,
    bool allow_plaintext, enum pop3_auth requested, enum pop3_auth *out,
    struct err *err)
{
	static const enum pop3_auth order[] = { POP3_AUTH_SCRAM_SHA_256,
		POP3_AUTH_SCRAM_SHA_1, POP3_AUTH_CRAM_MD5, POP3_AUTH_PLAIN,
		POP3_AUTH_LOGIN };
	bool may_clear = is_tls || allow_plaintext;
	const char *offered =
	    caps->sasl_names[0] != '\0' ? caps->sasl_names : "none";
	enum sasl_mech m;
	size_t i;

	if (requested != POP3_AUTH_AUTO) {
		if (pop3_auth_is_cleartext(requested) && !may_clear) {
			err_setx(err, ERR_CONFIG,
			    "auth = %s sends the secret in the clear, and "
			    "the connection is not TLS",
			    pop3_auth_name(requested));
			return -1;
		}
		if (pop3_sasl_of(requested, &m) == 0 &&
		    caps->sasl_names[0] != '\0' &&
		    (caps->sasl & POP3_AUTH_BIT(requested)) == 0) {
			err_setx(err, ERR_CONFIG,
			    "auth = %s, but the server offers SASL %s",
			    pop3_auth_name(requested), offered);
			return -1;
		}
		*out = requested;
		return 0;
	}
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if ((caps->sasl & POP3_AUTH_BIT(order[i])) != 0 &&
		    (may_clear || !pop3_auth_is_cleartext(order[i]))) {
			*out = order[i];
			return 0;
		}
	}
	/* RFC 1939 USER/PASS is what every server has. */
	if (may_clear) {
		*out = POP3_AUTH_USER;
		return 0;
	}
	err_setx(err, ERR_CONFIG,
	    "no login the server offers keeps the password secret without "
	    "TLS (SASL: %s)",
	    offered);
	return -1;
}

/*
 * "a b", then optionally a space and anything (RFC 1939 §5 leaves what
 * follows the size open, in both STAT and LIST).  is_saturating: a size
 * of more digits than 64 bits hold is UINT64_MAX, for the caller to
 * refuse as a size rather than as a malformed line.
 */
static int
pop3_parse_pair(const char *p, size_t len, uint64_t max_a, bool is_saturating,
    uint64_t *a_out, uint64_t *b_out)
{
	const char *sp, *b, *end;

	if ((sp = memchr(p, ' ', len)) == NULL ||
	    str_tonum(p, (size_t)(sp - p), max_a, a_out) == -1)
		return -1;
	b = sp + 1;
	end = p + len;
	if ((sp = memchr(b, ' ', (size_t)(end - b))) != NULL)
		end = sp;
	if (str_tonum(b, (size_t)(end - b), UINT64_MAX, b_out) == 0)
		return 0;
	if (!is_saturating)
		return -1;
	for (sp = b; sp < end; sp++)
		if (*sp < '0' || *sp > '9')
			return -1;
	if (end == b)
		return -1;
	*b_out = UINT64_MAX;
	return 0;
}

int
pop3_stat(struct pop3_session *s, unsigned *count_out, uint64_t *size_out,
    struct err *err)
{
	struct pop3_reply r;
	uint64_t count, size;

	if (pop3_check(s, POP3_IN(POP3_TRANSACTION), "STAT", err) == -1)
		return -1;
	if (pop3_simple(s, ERR_PROTO, true, &r, err, "STAT") == -1)
		return -1;
	if (pop3_parse_pair(r.text, r.len, UINT_MAX, false, &count, &size) ==
	    -1) {
		pop3_fail(s, ERR_PROTO, err, "malformed drop listing");
		err_set_server(err, r.text, r.len);
		return -1;
	}
	*count_out = (unsigned)count;
	*size_out = size;
	return 0;
}

/* A scan listing, kept small until the whole list is known. */
static int
pop3_msg_cmp(const void *a, const void *b)
{
	unsigned x = ((const struct pop3_msg *)a)->num;
	unsigned y = ((const struct pop3_msg *)b)->num;

	return (x > y) - (x < y);
}

/*
 * Read the lines of a LIST reply into a maildrop listing, without a copy
 * on the way: a listing of 100,000 messages is most of the memory a run
 * with nothing new takes.  Message numbers run from 1 to the message
 * count (RFC 1939 §5), which is capped before it costs memory.
 */
static int
pop3_read_scans(struct pop3_session *s, struct pop3_msg **msgs_out,
    size_t *n_out, struct err *err)
{
	struct pop3_msg *msgs = NULL;
	size_t n = 0, cap = 0;
	uint64_t num, size;
	char *line;
	size_t len;
	int rc;

	while ((rc = pop3_next_line(s, &line, &len, err)) == 1) {
		if (pop3_parse_pair(line, len, POP3_MAX_MESSAGES, true, &num,
		        &size) == -1 ||
		    num == 0) {
			pop3_fail(s, ERR_PROTO, err, "malformed scan listing");
			err_set_server(err, line, len);
			goto fail;
		}
		if (n == POP3_MAX_MESSAGES) {
			pop3_fail(s, ERR_PROTO, err, "more than %d messages",
			    POP3_MAX_MESSAGES);
			goto fail;
		}
		if (n == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			msgs = xreallocarray(msgs, cap, sizeof(*msgs));
		}
		msgs[n].num = (unsigned)num;
		msgs[n].has_bad_size = size > POP3_SIZE_MAX;
		msgs[n].size = msgs[n].has_bad_size ? 0 : size;
		msgs[n].has_uid = msgs[n].has_bad_uid = false;
		msgs[n].uid[0] = '\0';
		n++;
	}
	if (rc == -1)
		goto fail;
	/* Give back the room the doubling left over. */
	if (n == 0) {
		free(msgs);
		msgs = xcalloc(1, sizeof(*msgs));
	} else
		msgs = xreallocarray(msgs, n, sizeof(*msgs));
	*msgs_out = msgs;
	*n_out = n;
	return 0;
fail:
	free(msgs);
	return -1;
}

/* The reply to LIST, sent before: the maildrop, sorted by number. */
static int
pop3_read_list(struct pop3_session *s, struct pop3_msg **msgs_out,
    size_t *n_out, struct err *err)
{
	struct pop3_msg *msgs;
	struct pop3_reply r;
	bool is_sorted = true;
	size_t i, n;

	*msgs_out = NULL;
	*n_out = 0;
	if (pop3_read_reply(s, &r, err) == -1)
		return -1;
	if (!r.is_ok)
		return pop3_refused(s, &r, ERR_PROTO, true, err);
	if (pop3_read_scans(s, &msgs, &n, err) == -1)
		return -1;
	/* Servers list in order; sort only those that do not. */
	for (i = 1; i < n && is_sorted; i++)
		is_sorted = msgs[i - 1].num < msgs[i].num;
	if (!is_sorted)
		qsort(msgs, n, sizeof(*msgs), pop3_msg_cmp);
	for (i = 1; i < n; i++) {
		if (msgs[i].num == msgs[i - 1].num) {
			pop3_fail(s, ERR_PROTO, err, "message %u listed twice",
			    msgs[i].num);
			free(msgs);
			return -1;
		}
	}
	*msgs_out = msgs;
	*n_out = n;
	return 0;
}

int
pop3_list(struct pop3_session *s, struct pop3_msg **msgs_out, size_t *n_out,
    struct err *err)
{
	*msgs_out = NULL;
	*n_out = 0;
	if (pop3_check(s, POP3_IN(POP3_TRANSACTION), "LIST", err) == -1 ||
	    pop3_send(s, false, err, "LIST") == -1)
		return -1;
	return pop3_read_list(s, msgs_out, n_out, err);
}

/* RFC 1939 §7: a unique-id is 1 to 70 octets in 0x21..0x7e. */
static bool
pop3_is_valid_uid(const char *uid, size_t len)
{
	size_t i;

	if (len == 0 || len > POP3_UID_MAX)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)uid[i];

		if (c < 0x21 || c > 0x7e)
			return false;
	}
	return true;
}

/*
 * One line of a UIDL reply, "n uid", into the entry of msgs for n.
 * Two messages with one uid are left for the caller to judge, and so is
 * a uid that breaks RFC 1939 §7: the message is marked has_bad_uid, as
 * refusing the whole listing would hold up every other message.
 */
static int
pop3_parse_uidl(struct pop3_session *s, struct pop3_msg *msgs, size_t n,
    const char *line, size_t len, struct err *err)
{
	struct pop3_msg key, *m;
	const char *sp, *uid;
	uint64_t num;
	size_t ulen;

	if ((sp = memchr(line, ' ', len)) == NULL ||
	    str_tonum(line, (size_t)(sp - line), POP3_MAX_MESSAGES, &num) ==
	        -1 ||
	    num == 0)
		goto bad;
	/*
	 * Some servers pad the line: more than one space after the number,
	 * or blanks at its end.  A unique-id has none (RFC 1939 §7).
	 */
	uid = sp + 1;
	while (uid < line + len && (*uid == ' ' || *uid == '\t'))
		uid++;
	ulen = len - (size_t)(uid - line);
	while (ulen > 0 && (uid[ulen - 1] == ' ' || uid[ulen - 1] == '\t'))
		ulen--;
	key.num = (unsigned)num;
	if ((m = bsearch(&key, msgs, n, sizeof(*msgs), pop3_msg_cmp)) == NULL)
		return pop3_fail(s, ERR_PROTO, err,
		    "unique-id for message %u, which LIST did not show",
		    key.num);
	if (m->has_uid || m->has_bad_uid)
		return pop3_fail(s, ERR_PROTO, err,
		    "two unique-ids for message %u", key.num);
	if (!pop3_is_valid_uid(uid, ulen)) {
		m->has_bad_uid = true;
		return 0;
	}
	memcpy(m->uid, uid, ulen);
	m->uid[ulen] = '\0';
	m->has_uid = true;
	return 0;
bad:
	pop3_fail(s, ERR_PROTO, err, "malformed unique-id listing");
	err_set_server(err, line, len);
	return -1;
}

/* UIDL, or (is_sent) only the reading of its reply. */
static int
pop3_do_uidl(struct pop3_session *s, struct pop3_msg *msgs, size_t n,
    bool is_sent, bool *supported_out, struct err *err)
{
	struct pop3_reply r;
	char *line;
	size_t i, len;
	int rc;

	*supported_out = false;
	if (pop3_check(s, POP3_IN(POP3_TRANSACTION), "UIDL", err) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		/* Looked up by bsearch(), as pop3_list() sorted them. */
		if (i > 0 && msgs[i].num <= msgs[i - 1].num) {
			err_setx(err, ERR_SOFTWARE, "UIDL: list not sorted");
			return -1;
		}
		msgs[i].has_uid = false;
		msgs[i].has_bad_uid = false;
		msgs[i].uid[0] = '\0';
	}
	if (!is_sent && pop3_send(s, false, err, "UIDL") == -1)
		return -1;
	if (pop3_read_reply(s, &r, err) == -1)
		return -1;
	/*
	 * RFC 1939 §7: UIDL is optional, and a plain -ERR says the server
	 * has none.  A response code says it is there but failed now;
	 * taking that for "no UIDL" could fetch everything again.
	 */
	if (!r.is_ok && r.code != POP3_RESP_NONE && r.code != POP3_RESP_OTHER)
		return pop3_refused(s, &r, ERR_PROTO, false, err);
	if (!r.is_ok)
		return 0;
	while ((rc = pop3_next_line(s, &line, &len, err)) == 1)
		if (pop3_parse_uidl(s, msgs, n, line, len, err) == -1)
			return -1;
	if (rc == -1)
		return -1;
	*supported_out = true;
	return 0;
}

int
pop3_uidl(struct pop3_session *s, struct pop3_msg *msgs, size_t n,
    bool *supported_out, struct err *err)
{
	return pop3_do_uidl(s, msgs, n, false, supported_out, err);
}

int
pop3_list_uidl(struct pop3_session *s, struct pop3_msg **msgs_out,
    size_t *n_out, bool *has_uidl_out, struct err *err)
{
	*has_uidl_out = false;
	if (!s->caps.pipelining)
		return pop3_list(s, msgs_out, n_out, err) == -1
		    ? -1
		    : pop3_uidl(s, *msgs_out, *n_out, has_uidl_out, err);
	*msgs_out = NULL;
	*n_out = 0;
	if (pop3_check(s, POP3_IN(POP3_TRANSACTION), "LIST", err) == -1 ||
	    pop3_send(s, false, err, "LIST") == -1 ||
	    pop3_send(s, false, err, "UIDL") == -1 ||
	    pop3_read_list(s, msgs_out, n_out, err) == -1)
		return -1;
	return pop3_do_uidl(s, *msgs_out, *n_out, true, has_uidl_out, err);
}

/*
 * Send a command about one message and read its status line.  A -ERR
 * concerns that message only (gone, locked, unreadable): the session
 * stays in step and goes on.
 */
static int pop3_msg_cmd(struct pop3_session *s, unsigned num, struct err *err,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
pop3_msg_cmd(struct pop3_session *s, unsigned num, struct err *err,
    const char *fmt, ...)
{
	struct pop3_reply r;
	va_list ap;
	int rc;

	if (num == 0) {
		err_setx(err, ERR_SOFTWARE, "message number 0");
		return -1;
	}
	va_start(ap, fmt);
	rc = pop3_vsend(s, false, err, fmt, ap);
	va_end(ap);
	if (rc == -1 || pop3_read_reply(s, &r, err) == -1)
		return -1;
	if (!r.is_ok) {
		pop3_refused(s, &r, ERR_PROTO, false, err);
		err_set_scope(err, ERR_SCOPE_MESSAGE);
		return -1;
	}
	return 0;
}

int
pop3_retr(struct pop3_session *s, unsigned num, pop3_data_fn *fn, void *arg,
    uint64_t *size_out, struct err *err)
{
	if (pop3_check(s, POP3_IN(POP3_TRANSACTION), "RETR", err) == -1 ||
	    pop3_msg_cmd(s, num, err, "RETR %u", num) == -1)
		return -1;
	return pop3_read_data(s, fn, arg, size_out, err);
}

int
pop3_top(struct pop3_session *s, unsigned num, unsigned lines, pop3_data_fn *fn,
    void *arg, struct err *err)
{
	if (pop3_check(s, POP3_IN(POP3_TRANSACTION), "TOP", err) == -1 ||
	    pop3_msg_cmd(s, num, err, "TOP %u %u", num, lines) == -1)
		return -1;
	return pop3_read_data(s, fn, arg, NULL, err);
}

/* Send a command about message num, its reply to be read later. */
static int
pop3_send_msg(struct pop3_session *s, const char *verb, unsigned num,
    unsigned lines, bool has_lines, struct err *err)
{
	if (pop3_check(s, POP3_IN(POP3_TRANSACTION), verb, err) == -1)
		return -1;
	if (num == 0) {
		err_setx(err, ERR_SOFTWARE, "message number 0");
		return -1;
	}
	if (has_lines)
		return pop3_send(s, false, err, "%s %u %u", verb, num, lines);
	return pop3_send(s, false, err, "%s %u", verb, num);
}

/*
 * Read the status line that answers a command about one message.  A
 * -ERR concerns that message only: the session goes on.
 */
static int
pop3_read_msg(struct pop3_session *s, const char *verb, struct err *err)
{
	struct pop3_reply r;

	if (pop3_check(s, POP3_IN(POP3_TRANSACTION), verb, err) == -1 ||
	    pop3_read_reply(s, &r, err) == -1)
		return -1;
	if (!r.is_ok) {
		pop3_refused(s, &r, ERR_PROTO, false, err);
		err_set_scope(err, ERR_SCOPE_MESSAGE);
		return -1;
	}
	return 0;
}

int
pop3_send_top(struct pop3_session *s, unsigned num, unsigned lines,
    struct err *err)
{
	return pop3_send_msg(s, "TOP", num, lines, true, err);
}

int
pop3_read_top(struct pop3_session *s, pop3_data_fn *fn, void *arg,
    struct err *err)
{
	if (pop3_read_msg(s, "TOP", err) == -1)
		return -1;
	return pop3_read_data(s, fn, arg, NULL, err);
}

int
pop3_send_retr(struct pop3_session *s, unsigned num, struct err *err)
{
	return pop3_send_msg(s, "RETR", num, 0, false, err);
}

int
pop3_read_retr(struct pop3_session *s, pop3_data_fn *fn, void *arg,
    uint64_t *size_out, struct err *err)
{
	if (pop3_read_msg(s, "RETR", err) == -1)
		return -1;
	return pop3_read_data(s, fn, arg, size_out, err);
}

int
pop3_send_dele(struct pop3_session *s, unsigned num, struct err *err)
{
	return pop3_send_msg(s, "DELE", num, 0, false, err);
}

int
pop3_read_dele(struct pop3_session *s, struct err *err)
{
	return pop3_read_msg(s, "DELE", err);
}

int
pop3_dele(struct pop3_session *s, unsigned num, struct err *err)
{
	if (pop3_check(s, POP3_IN(POP3_TRANSACTION), "DELE", err) == -1)
		return -1;
	return pop3_msg_cmd(s, num, err, "DELE %u", num);
}

int
pop3_rset(struct pop3_session *s, struct err *err)
{
	struct pop3_reply r;

	if (pop3_check(s, POP3_IN(POP3_TRANSACTION), "RSET", err) == -1)
		return -1;
	return pop3_simple(s, ERR_PROTO, true, &r, err, "RSET");
}

int
pop3_noop(struct pop3_session *s, struct err *err)
{
	struct pop3_reply r;

	if (pop3_check(s, POP3_IN(POP3_TRANSACTION), "NOOP", err) == -1)
		return -1;
	return pop3_simple(s, ERR_PROTO, true, &r, err, "NOOP");
}

int
pop3_quit(struct pop3_session *s, struct err *err)
{
	struct pop3_reply r;
	bool is_update;
	char *line;
	size_t len;
	int rc;

	if (pop3_check(s,
	        POP3_IN(POP3_AUTHORIZATION) | POP3_IN(POP3_TRANSACTION), "QUIT",
	        err) == -1)
		return -1;
	is_update = s->state == POP3_TRANSACTION;
	s->is_quit_confirmed = false;
	if (pop3_send(s, false, err, "QUIT") == -1)
		return -1;
	/* RFC 1939 §6: QUIT in TRANSACTION commits the deletions. */
	if (is_update)
		pop3_set_state(s, POP3_UPDATE);
	if (pop3_next_reply(s, err) == -1 ||
	    (rc = pop3_getline(s, &line, &len, err)) == -1)
		return -1;
	/*
	 * Some servers hang up at QUIT without a word.  The session is
	 * over either way; whether the deletions were made, only the next
	 * session can tell.
	 */
	if (rc == 0) {
		log_debug("%s: pop3: connection closed without a reply to QUIT",
		    s->account);
		pop3_set_state(s, POP3_DISCONNECTED);
		return 0;
	}
	log_trace(s->account, "S", line, len);
	if (pop3_take_status(s, line, len, &r, err) == -1)
		return -1;
	/* "-ERR some deleted messages not removed"; the server hangs up. */
	if (!r.is_ok)
		return pop3_refused(s, &r, ERR_PROTO, true, err);
	s->is_quit_confirmed = true;
	pop3_set_state(s, POP3_DISCONNECTED);
	return 0;
}

bool
pop3_is_quit_confirmed(const struct pop3_session *s)
{
	return s->is_quit_confirmed;
}
