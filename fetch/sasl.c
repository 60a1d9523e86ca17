/*
 * SASL client mechanisms.
 *
 * RFC 4422  Simple Authentication and Security Layer (SASL)
 * RFC 4616  The PLAIN SASL Mechanism
 * RFC 2195  IMAP/POP AUTHorize Extension (CRAM-MD5)
 * RFC 5802  SCRAM SASL and GSS-API Mechanisms
 * RFC 7677  SCRAM-SHA-256
 * RFC 7628  A Set of SASL Mechanisms for OAuth (OAUTHBEARER)
 * Google's and Microsoft's XOAUTH2 documentation
 *
 * Everything with a hash or a nonce in it is left to GNU SASL; only the
 * token mechanisms, which are plain formatting, are done here.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gsasl.h>

#include "compat/compat.h"
#include "fetch/sasl.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xmalloc.h"

/* More challenges than any of our mechanisms needs means a bad server. */
#define SASL_MAX_STEPS 8

struct sasl_client {
	enum sasl_mech mech;
	Gsasl *ctx;          /* NULL for the token mechanisms */
	Gsasl_session *sctx; /* NULL for the token mechanisms */
	char *user, *secret; /* the token mechanisms' own copies */
	unsigned steps;      /* steps taken */
	bool is_done;        /* complete on our side */
	bool has_failed;     /* a token's error challenge was answered */
	char error[ERR_SERVER_MAX];
};

static const struct {
	const char *name;
	bool is_client_first;
	bool is_cleartext;
} sasl_mechs[SASL_MECH_COUNT] = {
	[SASL_MECH_PLAIN] = { "PLAIN", true, true },
	[SASL_MECH_LOGIN] = { "LOGIN", false, true },
	[SASL_MECH_CRAM_MD5] = { "CRAM-MD5", false, false },
	[SASL_MECH_SCRAM_SHA_1] = { "SCRAM-SHA-1", true, false },
	[SASL_MECH_SCRAM_SHA_256] = { "SCRAM-SHA-256", true, false },
	[SASL_MECH_XOAUTH2] = { "XOAUTH2", true, true },
	[SASL_MECH_OAUTHBEARER] = { "OAUTHBEARER", true, true },
};

const char *
sasl_mech_name(enum sasl_mech mech)
{
	if ((unsigned)mech >= SASL_MECH_COUNT)
		return "?";
	return sasl_mechs[mech].name;
}

int
sasl_mech_from_name(const char *name, size_t len, enum sasl_mech *out)
{
	size_t i;

	for (i = 0; i < SASL_MECH_COUNT; i++) {
		if (strlen(sasl_mechs[i].name) == len &&
		    strncasecmp(sasl_mechs[i].name, name, len) == 0) {
			*out = (enum sasl_mech)i;
			return 0;
		}
	}
	return -1;
}

bool
sasl_mech_is_client_first(enum sasl_mech mech)
{
	return (unsigned)mech < SASL_MECH_COUNT &&
	    sasl_mechs[mech].is_client_first;
}

bool
sasl_mech_is_cleartext(enum sasl_mech mech)
{
	return (unsigned)mech < SASL_MECH_COUNT &&
	    sasl_mechs[mech].is_cleartext;
}

static bool
sasl_is_token_mech(enum sasl_mech mech)
{
	return mech == SASL_MECH_XOAUTH2 || mech == SASL_MECH_OAUTHBEARER;
}

/* No control characters: they would end or corrupt the fields. */
static bool
sasl_is_printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* RFC 6750 §2.1: a bearer token is printable ASCII, no spaces. */
static bool
sasl_is_token(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

static int
sasl_check_args(enum sasl_mech mech, const char *user, const char *secret,
    struct err *err)
{
	if (user[0] == '\0' || !sasl_is_printable(user)) {
		err_setx(err, ERR_CONFIG,
		    "%s: the user name is empty or holds control characters",
		    sasl_mech_name(mech));
		return -1;
	}
	if (secret[0] == '\0') {
		err_setx(err, ERR_CONFIG, "%s: the %s is empty",
		    sasl_mech_name(mech),
		    sasl_is_token_mech(mech) ? "token" : "password");
		return -1;
	}
	if (sasl_is_token_mech(mech) && !sasl_is_token(secret)) {
		err_setx(err, ERR_CONFIG,
		    "%s: the token holds characters a bearer token cannot "
		    "have (RFC 6750)",
		    sasl_mech_name(mech));
		return -1;
	}
	return 0;
}

static int
sasl_start_gsasl(struct sasl_client *c, const char *user, const char *secret,
    struct err *err)
{
	int rc;

	if ((rc = gsasl_init(&c->ctx)) != GSASL_OK) {
		c->ctx = NULL;
		goto fail;
	}
	rc = gsasl_client_start(c->ctx, sasl_mech_name(c->mech), &c->sctx);
	if (rc != GSASL_OK) {
		c->sctx = NULL;
		goto fail;
	}
	if ((rc = gsasl_property_set(c->sctx, GSASL_AUTHID, user)) !=
	        GSASL_OK ||
	    (rc = gsasl_property_set(c->sctx, GSASL_PASSWORD, secret)) !=
	        GSASL_OK)
		goto fail;
	return 0;
fail:
	err_setx(err, ERR_LOCAL, "%s: GNU SASL: %s", sasl_mech_name(c->mech),
	    gsasl_strerror(rc));
	return -1;
}

struct sasl_client *
sasl_client_new(enum sasl_mech mech, const char *user, const char *secret,
    struct err *err)
{
	struct sasl_client *c;

	if ((unsigned)mech >= SASL_MECH_COUNT) {
		err_setx(err, ERR_SOFTWARE, "no such SASL mechanism");
		return NULL;
	}
	if (sasl_check_args(mech, user, secret, err) == -1)
		return NULL;
	c = xcalloc(1, sizeof(*c));
	c->mech = mech;
	if (sasl_is_token_mech(mech)) {
		c->user = xstrdup(user);
		c->secret = xstrdup(secret);
	} else if (sasl_start_gsasl(c, user, secret, err) == -1) {
		sasl_client_free(c);
		return NULL;
	}
	return c;
}

/* base64 of len bytes of raw (caller owns). */
static char *
sasl_base64(const char *raw, size_t len)
{
	char *out = NULL;

	if (gsasl_base64_to(raw, len, &out, NULL) != GSASL_OK)
		fatal("base64");
	return out;
}

/*
 * RFC 5801 §4 saslname, as OAUTHBEARER's GS2 header wants it: "," and
 * "=" escaped.  Caller owns.
 */
static char *
sasl_saslname(const char *user)
{
	char *out = xreallocarray(NULL, strlen(user) + 1, 3), *p = out;

	for (; *user != '\0'; user++) {
		if (*user == ',' || *user == '=') {
			memcpy(p, *user == ',' ? "=2C" : "=3D", 3);
			p += 3;
		} else
			*p++ = *user;
	}
	*p = '\0';
	return out;
}

/*
 * The initial response: Google's and Microsoft's XOAUTH2, or RFC 7628
 * §3.1 OAUTHBEARER (without host and port, which are optional and
 * which the providers do not use).
 */
static char *
sasl_token_response(const struct sasl_client *c)
{
	char *raw, *name, *out;

	if (c->mech == SASL_MECH_XOAUTH2)
		raw = xasprintf("user=%s\001auth=Bearer %s\001\001", c->user,
		    c->secret);
	else {
		name = sasl_saslname(c->user);
		raw = xasprintf("n,a=%s,\001auth=Bearer %s\001\001", name,
		    c->secret);
		free(name);
	}
	out = sasl_base64(raw, strlen(raw));
	xfree_secret(raw);
	return out;
}

/*
 * A challenge after the initial response is the server's error, as
 * base64 JSON (RFC 7628 §3.2.2; XOAUTH2 alike).  Kept for the error
 * message; the answer is what ends the exchange so that the server
 * sends its -ERR: a lone %x01 for OAUTHBEARER (§3.2.3), an empty
 * response for XOAUTH2.
 */
static int
sasl_token_step(struct sasl_client *c, const char *in64, size_t len,
    char **out64, struct err *err)
{
	char *b64, *json = NULL;
	size_t jlen = 0;
	int rc;

	if (in64 == NULL && c->steps == 0) {
		*out64 = sasl_token_response(c);
		c->is_done = true;
		return 0;
	}
	if (in64 == NULL || c->has_failed) {
		err_setx(err, ERR_PROTO, "%s: unexpected challenge",
		    sasl_mech_name(c->mech));
		return -1;
	}
	b64 = xstrndup(in64, len);
	rc = gsasl_base64_from(b64, len, &json, &jlen);
	free(b64);
	if (rc != GSASL_OK) {
		err_setx(err, ERR_PROTO, "%s: error challenge is not base64",
		    sasl_mech_name(c->mech));
		return -1;
	}
	str_sanitise(c->error, sizeof(c->error), json, jlen);
	free(json);
	c->is_done = false;
	c->has_failed = true;
	*out64 = xstrdup(c->mech == SASL_MECH_OAUTHBEARER ? "AQ==" : "");
	return 0;
}

static enum err_class
sasl_gsasl_class(int rc)
{
	switch (rc) {
	case GSASL_SASLPREP_ERROR:
		return ERR_CONFIG;
	case GSASL_MALLOC_ERROR:
		fatal("GNU SASL");
	default:
		return ERR_PROTO;
	}
}

static int
sasl_gsasl_step(struct sasl_client *c, const char *in64, size_t len,
    char **out64, struct err *err)
{
	char *in, *out = NULL;
	int rc;

	if (c->is_done) {
		err_setx(err, ERR_PROTO, "%s: unexpected challenge",
		    sasl_mech_name(c->mech));
		return -1;
	}
	in = in64 != NULL ? xstrndup(in64, len) : xstrdup("");
	rc = gsasl_step64(c->sctx, in, &out);
	free(in);
	if (rc != GSASL_OK && rc != GSASL_NEEDS_MORE) {
		xfree_secret(out);
		/* RFC 5802 §5.1: "v=" must match, or "e=" says why not. */
		if (rc == GSASL_AUTHENTICATION_ERROR)
			err_setx(err, ERR_PROTO,
			    "%s: the server failed to prove it knows the "
			    "password",
			    sasl_mech_name(c->mech));
		else
			err_setx(err, sasl_gsasl_class(rc), "%s: %s",
			    sasl_mech_name(c->mech), gsasl_strerror(rc));
		return -1;
	}
	c->is_done = rc == GSASL_OK;
	*out64 = out != NULL ? out : xstrdup("");
	return 0;
}

int
sasl_client_step(struct sasl_client *c, const char *in64, size_t len,
    char **out64, struct err *err)
{
	int rc;

	*out64 = NULL;
	if (c->steps >= SASL_MAX_STEPS) {
		err_setx(err, ERR_PROTO, "%s: too many challenges",
		    sasl_mech_name(c->mech));
		return -1;
	}
	if (sasl_is_token_mech(c->mech))
		rc = sasl_token_step(c, in64, len, out64, err);
	else
		rc = sasl_gsasl_step(c, in64, len, out64, err);
	c->steps++;
	return rc;
}

bool
sasl_client_is_done(const struct sasl_client *c)
{
	return c->is_done;
}

const char *
sasl_client_server_error(const struct sasl_client *c)
{
	return c->error;
}

/*
 * GNU SASL frees its copies of the password (and SCRAM's salted one)
 * without wiping them; they are wiped here first.  The cast drops the
 * const of a buffer GNU SASL owns and is about to free.
 */
static void
sasl_wipe_property(Gsasl_session *sctx, Gsasl_property prop)
{
	const char *v = gsasl_property_fast(sctx, prop);

	if (v != NULL)
		explicit_bzero((char *)(uintptr_t)v, strlen(v));
}

void
sasl_client_free(struct sasl_client *c)
{
	if (c == NULL)
		return;
	if (c->sctx != NULL) {
		sasl_wipe_property(c->sctx, GSASL_PASSWORD);
		sasl_wipe_property(c->sctx, GSASL_SCRAM_SALTED_PASSWORD);
		gsasl_finish(c->sctx);
	}
	if (c->ctx != NULL)
		gsasl_done(c->ctx);
	xfree_secret(c->user);
	xfree_secret(c->secret);
	free(c);
}
