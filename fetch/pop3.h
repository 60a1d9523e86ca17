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

/* What CAPA said (RFC 2449 §6); all false when CAPA is not supported. */
struct pop3_caps {
	bool has_capa;
	bool stls, uidl, top, user, pipelining, resp_codes;
	long expire;      /* days; -1 = NEVER or not announced */
	long login_delay; /* seconds; -1 if not announced */
};

/* Largest message count we accept from a server before allocating. */
#define POP3_MAX_MESSAGES 1000000
/* RFC 1939 §7: a unique-id is 1 to 70 characters in 0x21..0x7e. */
#define POP3_UID_MAX 70
/* Longest reply line (status or multi-line) we accept. */
#define POP3_LINE_MAX 8192

struct pop3_msg {
	unsigned num;  /* message number, from 1 */
	uint64_t size; /* octets, as LIST says */
	bool has_uid;
	bool has_bad_uid;           /* UIDL gave one against RFC 1939 §7 */
	char uid[POP3_UID_MAX + 1]; /* NUL-terminated when has_uid */
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

/* Read the greeting: DISCONNECTED -> AUTHORIZATION. */
int pop3_greeting(struct pop3_session *s, struct err *err);

/*
 * CAPA.  A server that answers -ERR has no CAPA: that is not an error,
 * the capabilities just stay empty.  Valid until the next pop3_capa().
 */
int pop3_capa(struct pop3_session *s, struct err *err);
const struct pop3_caps *pop3_get_caps(const struct pop3_session *s);

/* STLS, then TLS negotiation on the transport (RFC 2595 §4). */
int pop3_stls(struct pop3_session *s, const struct transport_tls_opts *opts,
    struct err *err);

/*
 * USER and PASS: AUTHORIZATION -> TRANSACTION.  pass is borrowed and is
 * never traced or logged; the command buffer holding it is wiped.
 */
int pop3_user_pass(struct pop3_session *s, const char *user, const char *pass,
    struct err *err);

int pop3_stat(struct pop3_session *s, unsigned *count_out, uint64_t *size_out,
    struct err *err);

/*
 * LIST: every message with its size, in *msgs_out (caller owns, free()),
 * *n_out entries sorted by number; has_uid false in all.
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
 * RETR num: stream the message into fn.  *size_out (may be NULL) gets
 * the number of bytes passed to fn.
 */
int pop3_retr(struct pop3_session *s, unsigned num, pop3_data_fn *fn, void *arg,
    uint64_t *size_out, struct err *err);

/* TOP num lines: like pop3_retr(), headers plus that many body lines. */
int pop3_top(struct pop3_session *s, unsigned num, unsigned lines,
    pop3_data_fn *fn, void *arg, struct err *err);

int pop3_dele(struct pop3_session *s, unsigned num, struct err *err);
int pop3_rset(struct pop3_session *s, struct err *err);
int pop3_noop(struct pop3_session *s, struct err *err);

/*
 * QUIT: in TRANSACTION this enters UPDATE and the server commits the
 * deletions; only a +OK reply proves they were made.
 */
int pop3_quit(struct pop3_session *s, struct err *err);

#endif
