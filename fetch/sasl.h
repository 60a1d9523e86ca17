#ifndef POPFETCH_FETCH_SASL_H
#define POPFETCH_FETCH_SASL_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

/*
 * The client side of the SASL mechanisms popfetch speaks (RFC 4422),
 * apart from the protocol that carries them (pop3.c, RFC 5034).
 * Challenges and responses are base64 text, as they go on the wire.
 * PLAIN, LOGIN, CRAM-MD5 and SCRAM are GNU SASL's; XOAUTH2 and
 * OAUTHBEARER (RFC 7628) carry an OAuth 2.0 access token in place of
 * the password.
 */
enum sasl_mech {
	SASL_MECH_PLAIN = 0,
	SASL_MECH_LOGIN,
	SASL_MECH_CRAM_MD5,
	SASL_MECH_SCRAM_SHA_1,
	SASL_MECH_SCRAM_SHA_256,
	SASL_MECH_XOAUTH2,
	SASL_MECH_OAUTHBEARER,
};
#define SASL_MECH_COUNT 7

/* The registered name ("SCRAM-SHA-256"). */
const char *sasl_mech_name(enum sasl_mech mech);

/* The mechanism named by len bytes of name (any case); -1 if unknown. */
int sasl_mech_from_name(const char *name, size_t len, enum sasl_mech *out);

/* Does the client speak first, so that AUTH may carry a response? */
bool sasl_mech_is_client_first(enum sasl_mech mech);

/* Does the secret cross the wire as it is (PLAIN, LOGIN, tokens)? */
bool sasl_mech_is_cleartext(enum sasl_mech mech);

struct sasl_client;

/*
 * A client for one authentication as user with secret (a password, or
 * an access token for XOAUTH2 and OAUTHBEARER).  Both are copied and
 * wiped by sasl_client_free().  ERR_CONFIG for a user or secret the
 * mechanism cannot carry (empty, control characters, a token outside
 * printable ASCII); ERR_LOCAL if GNU SASL cannot start.  Returns a new
 * client (caller owns), or NULL.
 */
struct sasl_client *sasl_client_new(enum sasl_mech mech, const char *user,
    const char *secret, struct err *err);

/*
 * One step.  in64 is len bytes of the server's challenge in base64
 * (untrusted), or NULL for a client-first mechanism's initial
 * response.  *out64 gets the response in base64, "" for an empty one
 * (caller owns; it may hold the secret: free it with xfree_secret()).
 * ERR_PROTO for a malformed challenge, one too many, or a SCRAM server
 * that fails to prove it knows the password; ERR_CONFIG for a password
 * SASLprep refuses.
 */
int sasl_client_step(struct sasl_client *c, const char *in64, size_t len,
    char **out64, struct err *err);

/*
 * Has the exchange come to its end on our side, with the server proved
 * (SCRAM) and no error reported (XOAUTH2, OAUTHBEARER)?  A +OK before
 * that is not to be believed.
 */
bool sasl_client_is_done(const struct sasl_client *c);

/*
 * The error a token mechanism's server sent as a challenge (RFC 7628
 * §3.2.2: JSON), sanitised; "" if none.  Valid until the client is
 * freed.
 */
const char *sasl_client_server_error(const struct sasl_client *c);

/* Free and wipe; c may be NULL. */
void sasl_client_free(struct sasl_client *c);

#endif
