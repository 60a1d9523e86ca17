#ifndef POPFETCH_FETCH_POP3_H
#define POPFETCH_FETCH_POP3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fetch/transport.h"
#include "util/err.h"

/*
 * A synchronous POP3 client session (RFC 1939, 2449, 2595): one function
 * per command, each checking the session's state.  Any I/O or protocol
 * error puts the session in POP3_BROKEN, after which every command
 * fails at once and only pop3_free() is useful.
 *
 * Errors: ERR_TEMP (network, timeout, [IN-USE], [LOGIN-DELAY],
 * [SYS/TEMP]), ERR_AUTH (credentials refused, [AUTH]), ERR_PROTO
 * (malformed replies, -ERR where +OK is required).  The server's -ERR
 * text lands sanitised in err->server.
 */

enum pop3_state {
	POP3_DISCONNECTED = 0,
	POP3_AUTHORIZATION,
	POP3_TRANSACTION,
	POP3_UPDATE,
	POP3_BROKEN,
};

/* RFC 2449 §8 / RFC 3206 response codes we act on. */
enum pop3_resp_code {
	POP3_RESP_NONE = 0,
	POP3_RESP_IN_USE,
	POP3_RESP_LOGIN_DELAY,
	POP3_RESP_SYS_TEMP,
	POP3_RESP_SYS_PERM,
	POP3_RESP_AUTH,
	POP3_RESP_OTHER,
};

/*
 * How to log in: USER/PASS, APOP, or a SASL mechanism (RFC 5034).
 * POP3_AUTH_AUTO is for pop3_auth_choose() only.
 */
enum pop3_auth {
	POP3_AUTH_AUTO = 0,
	POP3_AUTH_USER,
	POP3_AUTH_APOP,
	POP3_AUTH_PLAIN,
	POP3_AUTH_LOGIN,
	POP3_AUTH_CRAM_MD5,
	POP3_AUTH_SCRAM_SHA_1,
	POP3_AUTH_SCRAM_SHA_256,
	POP3_AUTH_XOAUTH2,
	POP3_AUTH_OAUTHBEARER,
};
#define POP3_AUTH_COUNT 10
/* The bit of a SASL mechanism in struct pop3_caps' sasl. */
#define POP3_AUTH_BIT(auth) (1u << (auth))

/* Room for the SASL mechanism names CAPA lists, as text. */
#define POP3_SASL_NAMES_MAX 256
/* Room for CAPA's lines, as text. */
#define POP3_CAPA_TEXT_MAX 1024

/* What CAPA said (RFC 2449 §6); all false when CAPA is not supported. */
struct pop3_caps {
	bool has_capa;
	bool stls, uidl, top, user, pipelining, resp_codes;
	long expire;      /* days; -1 = NEVER or not announced */
	long login_delay; /* seconds; -1 if not announced */
	/* EXPIRE or LOGIN-DELAY with "USER": may change at login (§6.5) */
	bool has_user_values;
	/* RFC 2449 §6.3 SASL: POP3_AUTH_BIT() of each mechanism we know. */
	unsigned sasl;
	/* ... and every name as the server gave it, sanitised, or "". */
	char sasl_names[POP3_SASL_NAMES_MAX];
	/*
	 * Every line of the reply as the server gave it (UTF8,
	 * IMPLEMENTATION, its own), sanitised, each ending in "\n", as
	 * many as fit; for people (--serverinfo).
	 */
	char text[POP3_CAPA_TEXT_MAX];
};

/* Largest message count we accept from a server before allocating. */
#define POP3_MAX_MESSAGES 1000000
/* RFC 1939 §7: a unique-id is 1 to 70 characters in 0x21..0x7e. */
#define POP3_UID_MAX 70
/*
 * Largest message size we take from LIST: the journal, the file name's
 * ,S= and the sums of sizes must all hold it.  No real message comes
 * near; a larger one is a server's lie.
 */
#define POP3_SIZE_MAX INT64_MAX
/* Longest reply line (status or multi-line) we accept. */
#define POP3_LINE_MAX 8192

struct pop3_msg {
	/* In this order, so that there is no padding between (88 octets). */
	unsigned num; /* message number, from 1 */
	bool has_uid;
	bool has_bad_uid;           /* UIDL gave one against RFC 1939 §7 */
	bool has_bad_size;          /* LIST gave more than POP3_SIZE_MAX */
	char uid[POP3_UID_MAX + 1]; /* NUL-terminated when has_uid */
	uint64_t size;              /* octets, as LIST says */
};

/*
 * Receives a message's content, in order, in chunks of any size: dot
 * unstuffed, with every line ending (CRLF, or a bare LF) as one "\n".
 * Returning -1 (with err set) aborts the transfer and breaks the
 * session.
 */
typedef int pop3_data_fn(void *arg, const char *data, size_t len,
    struct err *err);

struct pop3_session;

/*
 * A session over t (takes ownership; freed by pop3_free()).  account
 * (borrowed, must outlive the session) prefixes trace lines.
 */
struct pop3_session *pop3_new(struct transport *t, const char *account);
void pop3_free(struct pop3_session *s);

enum pop3_state pop3_get_state(const struct pop3_session *s);
const char *pop3_state_name(enum pop3_state state);
/* The response code of the last -ERR, or POP3_RESP_NONE. */
enum pop3_resp_code pop3_last_resp_code(const struct pop3_session *s);

/*
 * Read the greeting: DISCONNECTED -> AUTHORIZATION.  A TLS record in its
 * place is ERR_CONFIG (a POP3S port, and tls not on).
 */
int pop3_greeting(struct pop3_session *s, struct err *err);

/* The greeting's text after "+OK", sanitised; "" before it. */
const char *pop3_get_greeting(const struct pop3_session *s);

/*
 * CAPA.  A server that answers -ERR has no CAPA: that is not an error,
 * the capabilities just stay empty; after login (TRANSACTION) a -ERR
 * leaves those of before the login as they were.  Valid until the next
 * pop3_capa().
 */
int pop3_capa(struct pop3_session *s, struct err *err);
const struct pop3_caps *pop3_get_caps(const struct pop3_session *s);

/*
 * RFC 2449 §4: a server may announce more after login (Gmail lists TOP,
 * UIDL and PIPELINING only then).  Is CAPA worth asking again, once
 * logged in?  True when CAPA worked and lacked UIDL or TOP, or gave
 * EXPIRE or LOGIN-DELAY per user.  PIPELINING alone is not worth a
 * round trip more: many servers never have it.
 */
bool pop3_caps_may_grow(const struct pop3_caps *c);

/* STLS, then TLS negotiation on the transport (RFC 2595 §4). */
int pop3_stls(struct pop3_session *s, const struct transport_tls_opts *opts,
    struct err *err);

/*
 * USER and PASS: AUTHORIZATION -> TRANSACTION.  pass is borrowed and is
 * never traced or logged; the command buffer holding it is wiped.
 */
int pop3_user_pass(struct pop3_session *s, const char *user, const char *pass,
    struct err *err);

/*
 * APOP (RFC 1939 §7) with the timestamp of the greeting: AUTHORIZATION
 * -> TRANSACTION.  ERR_CONFIG if the greeting had no timestamp (the
 * server does not do APOP).  The digest is masked in the trace.
 */
int pop3_apop(struct pop3_session *s, const char *user, const char *secret,
    struct err *err);

/*
 * Log in with mech (not POP3_AUTH_AUTO): USER/PASS, APOP, or AUTH with
 * a SASL mechanism (RFC 5034), secret being the password, or the access
 * token for XOAUTH2 and OAUTHBEARER.  AUTHORIZATION -> TRANSACTION.
 * Nothing sent for AUTH is traced (C: ****); secret is borrowed and
 * every copy of it is wiped.
 *
 * Errors: ERR_AUTH when the server refuses the credentials (-ERR, or
 * -ERR [AUTH]); ERR_TEMP for [SYS/TEMP], [IN-USE], [LOGIN-DELAY].  The
 * session stays in AUTHORIZATION then, so the caller may try again
 * (with a fresh token, say) or QUIT; err->server holds the -ERR text
 * and, for the token mechanisms, err->msg the server's JSON error.
 * ERR_PROTO, with the session broken, when the server breaks the
 * exchange: a malformed challenge, too many, a SCRAM server that fails
 * to prove it knows the password, or +OK before the mechanism is done.
 * ERR_CONFIG for a user or secret that cannot be sent.
 */
int pop3_auth(struct pop3_session *s, enum pop3_auth mech, const char *user,
    const char *secret, struct err *err);

/*
 * Which mechanism to use.  requested other than POP3_AUTH_AUTO is taken
 * as it is, unless it sends the secret in the clear (USER, PLAIN,
 * LOGIN, XOAUTH2, OAUTHBEARER) over a connection that is neither TLS
 * nor allowed to be plain, or CAPA lists SASL mechanisms and not this
 * one.  POP3_AUTH_AUTO takes the strongest the server offers:
 * SCRAM-SHA-256, SCRAM-SHA-1, CRAM-MD5, then, only if is_tls or
 * allow_plaintext, PLAIN, LOGIN and USER; never APOP or a token
 * mechanism.  ERR_CONFIG when nothing fits, naming what the server
 * offers.
 */
int pop3_auth_choose(const struct pop3_caps *caps, bool is_tls,
    bool allow_plaintext, enum pop3_auth requested, enum pop3_auth *out,
    struct err *err);

/* "scram-sha-256", as the auth key of the configuration spells it. */
const char *pop3_auth_name(enum pop3_auth auth);
/* The reverse, any case; -1 if name is none of them. */
int pop3_auth_from_name(const char *name, enum pop3_auth *out);

int pop3_stat(struct pop3_session *s, unsigned *count_out, uint64_t *size_out,
    struct err *err);

/*
 * LIST: every message with its size, in *msgs_out (caller owns, free()),
 * *n_out entries sorted by number; has_uid false in all.  Numbers may
 * have gaps.  A size above POP3_SIZE_MAX (18446744073709551615, say) is
 * not taken: the message gets has_bad_size and size 0, and the caller
 * leaves it alone (a message-scope error), rather than fail the listing.
 */
int pop3_list(struct pop3_session *s, struct pop3_msg **msgs_out, size_t *n_out,
    struct err *err);

/*
 * UIDL: fill in uid for the entries of msgs (as pop3_list() gave them).
 * A server without UIDL (-ERR) sets *supported_out = false and returns 0.
 * A unique-id that is too long or has characters outside 0x21..0x7e is
 * not used: the message gets has_bad_uid instead of has_uid.  A
 * malformed line is ERR_PROTO; so is a number not in msgs.
 */
int pop3_uidl(struct pop3_session *s, struct pop3_msg *msgs, size_t n,
    bool *supported_out, struct err *err);

/*
 * pop3_list() and pop3_uidl() in one, the two commands pipelined when the
 * server has PIPELINING (so that it works on UIDL while LIST is read).
 * *msgs_out is the caller's to free, even on failure (NULL if LIST
 * failed).
 */
int pop3_list_uidl(struct pop3_session *s, struct pop3_msg **msgs_out,
    size_t *n_out, bool *has_uidl_out, struct err *err);

/*
 * RETR num: stream the message into fn.  *size_out (may be NULL) gets
 * the number of bytes passed to fn.
 */
int pop3_retr(struct pop3_session *s, unsigned num, pop3_data_fn *fn, void *arg,
    uint64_t *size_out, struct err *err);

/* TOP num lines: like pop3_retr(), headers plus that many body lines. */
int pop3_top(struct pop3_session *s, unsigned num, unsigned lines,
    pop3_data_fn *fn, void *arg, struct err *err);

/*
 * RFC 2449 §6.6 PIPELINING: send TOP num lines without waiting, and read
 * the replies later, in order, with pop3_read_top() (one call per TOP
 * sent; the replies of all pipelined commands come in the order they
 * were sent).  A -ERR is about that message only, as with pop3_top().
 */
int pop3_send_top(struct pop3_session *s, unsigned num, unsigned lines,
    struct err *err);
int pop3_read_top(struct pop3_session *s, pop3_data_fn *fn, void *arg,
    struct err *err);

/* Likewise RETR (as pop3_retr()) and DELE (as pop3_dele()). */
int pop3_send_retr(struct pop3_session *s, unsigned num, struct err *err);
int pop3_read_retr(struct pop3_session *s, pop3_data_fn *fn, void *arg,
    uint64_t *size_out, struct err *err);
int pop3_send_dele(struct pop3_session *s, unsigned num, struct err *err);
int pop3_read_dele(struct pop3_session *s, struct err *err);

/*
 * Commands are queued and written together before the next read; this
 * writes them out now (e.g. before a slow local step, so the server can
 * work meanwhile).
 */
int pop3_flush(struct pop3_session *s, struct err *err);

/*
 * May n more commands about a message (RETR, DELE, TOP) be sent before
 * the replies pending are read?  One always when nothing is pending;
 * else only with PIPELINING, and only while the commands in flight stay
 * within what the socket buffers take without blocking, so that a
 * server that reads the next command only after writing a whole reply
 * can never leave both sides writing (see POP3_INFLIGHT_MAX in pop3.c).
 */
bool pop3_may_pipeline(const struct pop3_session *s, size_t n);

/*
 * The shortest round trip seen so far, in microseconds: from a write of
 * commands, when nothing else was pending, to the first status line of
 * its replies (CAPA, USER, LIST...).  0 before any.
 */
uint64_t pop3_get_rtt_us(const struct pop3_session *s);

int pop3_dele(struct pop3_session *s, unsigned num, struct err *err);
int pop3_rset(struct pop3_session *s, struct err *err);
int pop3_noop(struct pop3_session *s, struct err *err);

/*
 * QUIT: in TRANSACTION this enters UPDATE and the server commits the
 * deletions; only a +OK reply proves they were made.  Some servers
 * close the connection instead of answering: that returns 0 too, and
 * pop3_is_quit_confirmed() tells the two apart.
 */
int pop3_quit(struct pop3_session *s, struct err *err);

/* Did the last pop3_quit() get its +OK (not just the end of the stream)? */
bool pop3_is_quit_confirmed(const struct pop3_session *s);

#endif
