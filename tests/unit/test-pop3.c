#include "config.h"

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <gsasl.h>

#include "fetch/pop3.h"
#include "tests/unit/mock-transport.h"
#include "util/err.h"
#include "util/log.h"
#include "util/xmalloc.h"

/* Read sizes every interesting test runs with; 0 = all at once. */
static const size_t chunks[] = { 1, 2, 3, 7, 64, 0 };
#define N_CHUNKS (sizeof(chunks) / sizeof(chunks[0]))
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

#define GREET "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n"
#define LOGIN GREET "+OK user\r\n+OK pass\r\n"
#define LOGIN_SENT "USER bob\r\nPASS hunter2\r\n"

/* The read buffer size of pop3.c: no chunk handed to fn may exceed it. */
#define RBUF_MAX 65536

static struct pop3_session *
start_len(const char *script, size_t len, size_t chunk,
    struct transport **t_out)
{
	struct transport *t = mock_transport_new(script, len, chunk);

	*t_out = t;
	return pop3_new(t, "acct");
}

static struct pop3_session *
start(const char *script, size_t chunk, struct transport **t_out)
{
	return start_len(script, strlen(script), chunk, t_out);
}

/* A session past USER/PASS; rest (len bytes) is what the server says next. */
static struct pop3_session *
login_len(const char *rest, size_t len, size_t chunk, struct transport **t_out)
{
	struct pop3_session *s;
	struct err err;
	size_t llen = strlen(LOGIN);
	char *script = xmalloc(llen + len);

	memcpy(script, LOGIN, llen);
	memcpy(script + llen, rest, len);
	s = start_len(script, llen + len, chunk, t_out);
	free(script);
	/* So that faults set after login land where the test wants. */
	mock_transport_boundary(*t_out, llen);
	err_clear(&err);
	assert_int_equal(pop3_greeting(s, &err), 0);
	assert_int_equal(pop3_user_pass(s, "bob", "hunter2", &err), 0);
	assert_int_equal(pop3_get_state(s), POP3_TRANSACTION);
	return s;
}

static struct pop3_session *
login(const char *rest, size_t chunk, struct transport **t_out)
{
	return login_len(rest, strlen(rest), chunk, t_out);
}

/* What the client wrote after logging in. */
static const char *
written_after_login(struct transport *t)
{
	const char *w = mock_transport_written(t);

	assert_true(strncmp(w, LOGIN_SENT, strlen(LOGIN_SENT)) == 0);
	return w + strlen(LOGIN_SENT);
}

/* A pop3_data_fn keeping everything it is given. */
struct collect {
	char *data;
	size_t len, cap;
	size_t calls, max_chunk;
	bool is_failing;
};

static int
collect_fn(void *arg, const char *data, size_t len, struct err *err)
{
	struct collect *c = arg;

	assert_true(len > 0);
	if (c->is_failing) {
		err_setx(err, ERR_LOCAL, "disk full (test)");
		return -1;
	}
	if (c->len + len > c->cap) {
		c->cap = (c->len + len) * 2;
		c->data = xreallocarray(c->data, c->cap, 1);
	}
	memcpy(c->data + c->len, data, len);
	c->len += len;
	c->calls++;
	if (len > c->max_chunk)
		c->max_chunk = len;
	return 0;
}

static void
collect_reset(struct collect *c)
{
	free(c->data);
	memset(c, 0, sizeof(*c));
}

static void
assert_collected(const struct collect *c, const char *want, size_t len)
{
	assert_int_equal(c->len, len);
	assert_memory_equal(c->data, want, len);
}

/* Capture stderr at trace level, to look at the log. */
struct capture {
	int saved_fd;
	FILE *f;
};

static void
capture_start(struct capture *cap)
{
	(void)fflush(stderr);
	assert_non_null(cap->f = tmpfile());
	assert_true((cap->saved_fd = dup(STDERR_FILENO)) != -1);
	assert_true(dup2(fileno(cap->f), STDERR_FILENO) != -1);
	log_init(LOG_LEVEL_TRACE, false);
}

/* The captured text (caller frees). */
static char *
capture_stop(struct capture *cap)
{
	char *text;
	long len;

	log_init(LOG_LEVEL_NOTICE, false);
	(void)fflush(stderr);
	assert_true(dup2(cap->saved_fd, STDERR_FILENO) != -1);
	(void)close(cap->saved_fd);
	assert_int_equal(fseek(cap->f, 0, SEEK_END), 0);
	assert_true((len = ftell(cap->f)) >= 0);
	rewind(cap->f);
	text = xmalloc((size_t)len + 1);
	assert_int_equal(fread(text, 1, (size_t)len, cap->f), (size_t)len);
	text[len] = '\0';
	(void)fclose(cap->f);
	return text;
}

static void
test_greeting_ok(void **state)
{
	static const char *const scripts[] = {
		GREET,
		"+OK\r\n",
		"+OK ready\n",
		"+OK " /* longest accepted status line below */,
	};
	struct pop3_session *s;
	struct transport *t;
	struct err err;
	char *longest;
	size_t i, c;

	(void)state;
	longest = xmalloc(POP3_LINE_MAX + 3);
	memset(longest, 'a', POP3_LINE_MAX);
	memcpy(longest, "+OK ", 4);
	memcpy(longest + POP3_LINE_MAX, "\r\n", 3);
	for (i = 0; i < N_OF(scripts); i++) {
		for (c = 0; c < N_CHUNKS; c++) {
			s = start(i == 3 ? longest : scripts[i], chunks[c], &t);
			assert_int_equal(pop3_get_state(s), POP3_DISCONNECTED);
			assert_int_equal(pop3_greeting(s, &err), 0);
			assert_int_equal(pop3_get_state(s), POP3_AUTHORIZATION);
			assert_string_equal(mock_transport_written(t), "");
			pop3_free(s);
		}
	}
	free(longest);
}

static void
test_greeting_garbage(void **state)
{
	static const char *const scripts[] = {
		"+OKAY\r\n",
		"OK ready\r\n",
		"-ERRor\r\n",
		"* OK IMAP4rev1\r\n",
		"\r\n",
		"+ok ready\r\n",
		"+OK\tready\r\n",
		" +OK\r\n",
	};
	struct pop3_session *s;
	struct transport *t;
	struct err err;
	size_t i, c;

	(void)state;
	for (i = 0; i < N_OF(scripts); i++) {
		for (c = 0; c < N_CHUNKS; c++) {
			s = start(scripts[i], chunks[c], &t);
			assert_int_equal(pop3_greeting(s, &err), -1);
			assert_int_equal(err.cls, ERR_PROTO);
			assert_int_equal(pop3_get_state(s), POP3_BROKEN);
			pop3_free(s);
		}
	}
}

static void
test_greeting_too_long(void **state)
{
	struct pop3_session *s;
	struct transport *t;
	struct err err;
	size_t c, len = 100000;
	char *script = xmalloc(len + 1);

	(void)state;
	/* One octet over the limit, with CRLF. */
	memset(script, 'a', POP3_LINE_MAX + 1);
	memcpy(script, "+OK ", 4);
	memcpy(script + POP3_LINE_MAX + 1, "\r\n", 3);
	for (c = 0; c < N_CHUNKS; c++) {
		s = start(script, chunks[c], &t);
		assert_int_equal(pop3_greeting(s, &err), -1);
		assert_int_equal(err.cls, ERR_PROTO);
		assert_non_null(strstr(err.msg, "too long"));
		assert_int_equal(pop3_get_state(s), POP3_BROKEN);
		pop3_free(s);
	}
	/* No line end at all: refused without reading everything. */
	memset(script, 'a', len);
	script[len] = '\0';
	s = start(script, 7, &t);
	assert_int_equal(pop3_greeting(s, &err), -1);
	assert_int_equal(err.cls, ERR_PROTO);
	assert_true(mock_transport_consumed(t) < POP3_LINE_MAX + 16);
	pop3_free(s);
	free(script);
}

static void
test_greeting_err(void **state)
{
	struct pop3_session *s;
	struct transport *t;
	struct err err;
	size_t c;

	(void)state;
	for (c = 0; c < N_CHUNKS; c++) {
		s = start("-ERR [IN-USE] maildrop locked\r\n", chunks[c], &t);
		assert_int_equal(pop3_greeting(s, &err), -1);
		assert_int_equal(err.cls, ERR_TEMP);
		assert_int_equal(pop3_last_resp_code(s), POP3_RESP_IN_USE);
		assert_non_null(strstr(err.server, "maildrop locked"));
		assert_int_equal(pop3_get_state(s), POP3_BROKEN);
		pop3_free(s);
	}
	s = start("-ERR\r\n", 0, &t);
	assert_int_equal(pop3_greeting(s, &err), -1);
	assert_int_equal(err.cls, ERR_TEMP);
	assert_int_equal(pop3_last_resp_code(s), POP3_RESP_NONE);
	pop3_free(s);
}

static void
test_greeting_eof_and_fault(void **state)
{
	static const char *const scripts[] = { "", "+OK hel", "+OK\r" };
	struct pop3_session *s;
	struct transport *t;
	struct err err;
	size_t i;

	(void)state;
	for (i = 0; i < N_OF(scripts); i++) {
		s = start(scripts[i], 1, &t);
		assert_int_equal(pop3_greeting(s, &err), -1);
		assert_int_equal(err.cls, ERR_TEMP);
		assert_int_equal(pop3_get_state(s), POP3_BROKEN);
		pop3_free(s);
	}
	s = start(GREET, 2, &t);
	mock_transport_fail_at(t, 5);
	assert_int_equal(pop3_greeting(s, &err), -1);
	assert_int_equal(err.cls, ERR_TEMP);
	assert_non_null(strstr(err.msg, "reset"));
	assert_int_equal(pop3_get_state(s), POP3_BROKEN);
	pop3_free(s);
}

static void
test_resp_codes(void **state)
{
	static const struct {
		const char *reply;
		enum pop3_resp_code code;
		enum err_class cls;
	} cases[] = {
		{ "-ERR [IN-USE] locked", POP3_RESP_IN_USE, ERR_TEMP },
		{ "-ERR [LOGIN-DELAY] wait", POP3_RESP_LOGIN_DELAY, ERR_TEMP },
		{ "-ERR [SYS/TEMP] later", POP3_RESP_SYS_TEMP, ERR_TEMP },
		{ "-ERR [SYS/PERM] broken", POP3_RESP_SYS_PERM, ERR_PROTO },
		{ "-ERR [AUTH] bad", POP3_RESP_AUTH, ERR_AUTH },
		{ "-ERR [XYZZY] what", POP3_RESP_OTHER, ERR_AUTH },
		{ "-ERR invalid password", POP3_RESP_NONE, ERR_AUTH },
		{ "-ERR", POP3_RESP_NONE, ERR_AUTH },
		{ "-ERR [sys/temp] lower case", POP3_RESP_SYS_TEMP, ERR_TEMP },
		{ "-ERR [SYS/TEMP/DISK] deeper", POP3_RESP_SYS_TEMP, ERR_TEMP },
		{ "-ERR [SYS/TEMPX] no", POP3_RESP_OTHER, ERR_AUTH },
		{ "-ERR [IN-USE unclosed", POP3_RESP_NONE, ERR_AUTH },
	};
	struct pop3_session *s;
	struct transport *t;
	struct err err;
	char script[256];
	size_t i, c;

	(void)state;
	for (i = 0; i < N_OF(cases); i++) {
		for (c = 0; c < N_CHUNKS; c++) {
			(void)snprintf(script, sizeof(script),
			    GREET "+OK\r\n%s\r\n+OK bye\r\n", cases[i].reply);
			s = start(script, chunks[c], &t);
			assert_int_equal(pop3_greeting(s, &err), 0);
			assert_int_equal(pop3_user_pass(s, "bob", "hunter2",
			                     &err),
			    -1);
			assert_int_equal(err.cls, cases[i].cls);
			assert_int_equal(pop3_last_resp_code(s), cases[i].code);
			/* RFC 1939: the server stays in AUTHORIZATION. */
			assert_int_equal(pop3_get_state(s), POP3_AUTHORIZATION);
			assert_int_equal(pop3_quit(s, &err), 0);
			assert_int_equal(pop3_last_resp_code(s),
			    POP3_RESP_NONE);
			pop3_free(s);
		}
	}
}

static void
test_user_pass(void **state)
{
	struct pop3_session *s;
	struct transport *t;
	struct err err;
	size_t c;

	(void)state;
	for (c = 0; c < N_CHUNKS; c++) {
		s = login("", chunks[c], &t);
		assert_string_equal(mock_transport_written(t), LOGIN_SENT);
		pop3_free(s);
	}
	/* USER refused: no PASS goes out, and QUIT still works. */
	s = start(GREET "-ERR no such user\r\n+OK bye\r\n", 0, &t);
	assert_int_equal(pop3_greeting(s, &err), 0);
	assert_int_equal(pop3_user_pass(s, "bob", "hunter2", &err), -1);
	assert_int_equal(err.cls, ERR_AUTH);
	assert_string_equal(err.server, "no such user");
	assert_string_equal(mock_transport_written(t), "USER bob\r\n");
	assert_int_equal(pop3_quit(s, &err), 0);
	assert_int_equal(pop3_get_state(s), POP3_DISCONNECTED);
	pop3_free(s);
}

static void
test_user_pass_bad_args(void **state)
{
	static const char *const bad[][2] = {
		{ "bob", "pw\r\nDELE 1" },
		{ "bob\nDELE 1", "pw" },
		{ "", "pw" },
	};
	struct pop3_session *s;
	struct transport *t;
	struct err err;
	char *huge;
	size_t i;

	(void)state;
	huge = xmalloc(4096);
	memset(huge, 'p', 4095);
	huge[4095] = '\0';
	for (i = 0; i <= N_OF(bad); i++) {
		s = start(GREET, 0, &t);
		assert_int_equal(pop3_greeting(s, &err), 0);
		if (i < N_OF(bad))
			assert_int_equal(pop3_user_pass(s, bad[i][0], bad[i][1],
			                     &err),
			    -1);
		else
			assert_int_equal(pop3_user_pass(s, "bob", huge, &err),
			    -1);
		assert_int_equal(err.cls, ERR_CONFIG);
		assert_string_equal(mock_transport_written(t), "");
		assert_int_equal(pop3_get_state(s), POP3_AUTHORIZATION);
		pop3_free(s);
	}
	free(huge);
}

static void
test_password_not_logged(void **state)
{
	static const char *const pass_replies[] = { "+OK welcome",
		"-ERR [AUTH] invalid login" };
	struct capture cap;
	struct pop3_session *s;
	struct transport *t;
	struct err err;
	char script[256], *log;
	size_t i;

	(void)state;
	for (i = 0; i < N_OF(pass_replies); i++) {
		(void)snprintf(script, sizeof(script), GREET "+OK\r\n%s\r\n",
		    pass_replies[i]);
		s = start(script, 3, &t);
		capture_start(&cap);
		assert_int_equal(pop3_greeting(s, &err), 0);
		(void)pop3_user_pass(s, "bob", "s3cr3t-pw", &err);
		log = capture_stop(&cap);
		assert_non_null(strstr(log, "popfetch: acct: C: USER bob\n"));
		assert_non_null(strstr(log, "popfetch: acct: C: PASS ****\n"));
		assert_null(strstr(log, "s3cr3t"));
		if (i == 1) {
			assert_non_null(strstr(log, "S: -ERR [AUTH]"));
			assert_null(strstr(err.msg, "s3cr3t"));
		}
		assert_string_equal(mock_transport_written(t),
		    "USER bob\r\nPASS s3cr3t-pw\r\n");
		free(log);
		pop3_free(s);
	}
}

#define CAPA_FULL                                                           \
	"+OK Capability list follows\r\nTOP\r\nuser\r\nSASL PLAIN\r\n"      \
	"RESP-CODES\r\nPIPELINING\r\nEXPIRE 30 USER\r\nLOGIN-DELAY 900\r\n" \
	"UIDL\r\nSTLS\r\nIMPLEMENTATION Shlemazle-Plotz-v302\r\n.\r\n"

static void
test_capa(void **state)
{
	const struct pop3_caps *caps;
	struct pop3_session *s;
	struct transport *t;
	struct err err;
	size_t c;

	(void)state;
	for (c = 0; c < N_CHUNKS; c++) {
		s = start(GREET CAPA_FULL, chunks[c], &t);
		assert_int_equal(pop3_greeting(s, &err), 0);
		assert_int_equal(pop3_capa(s, &err), 0);
		caps = pop3_get_caps(s);
		assert_true(caps->has_capa);
		assert_true(caps->stls && caps->uidl && caps->top);
		assert_true(caps->user && caps->pipelining);
		assert_true(caps->resp_codes);
		assert_int_equal(caps->expire, 30);
		assert_int_equal(caps->login_delay, 900);
		assert_string_equal(mock_transport_written(t), "CAPA\r\n");
		assert_int_equal(pop3_get_state(s), POP3_AUTHORIZATION);
		pop3_free(s);
	}
	/* NEVER, a malformed number, and tags left out. */
	s = start(GREET "+OK\r\nEXPIRE NEVER\r\nLOGIN-DELAY soon\r\n"
	                "UIDL\r\n.\r\n",
	    0, &t);
	assert_int_equal(pop3_greeting(s, &err), 0);
	assert_int_equal(pop3_capa(s, &err), 0);
	caps = pop3_get_caps(s);
	assert_true(caps->has_capa && caps->uidl);
	assert_false(caps->stls || caps->top || caps->user);
	assert_false(caps->pipelining || caps->resp_codes);
	assert_int_equal(caps->expire, -1);
	assert_int_equal(caps->login_delay, -1);
	pop3_free(s);
	/* RFC 1939 §3: the first dot goes; ".." is a line, not the end. */
	s = start(GREET "+OK\r\n.TOP\r\n..\r\n.\r\n+OK\r\n", 1, &t);
	assert_int_equal(pop3_greeting(s, &err), 0);
	assert_int_equal(pop3_capa(s, &err), 0);
	assert_true(pop3_get_caps(s)->top);
	assert_int_equal(pop3_user_pass(s, "bob", "hunter2", &err), -1);
	assert_int_equal(mock_transport_consumed(t), strlen(GREET) + 23);
	pop3_free(s);
}

static void
test_capa_err(void **state)
{
	const struct pop3_caps *caps;
	struct pop3_session *s;
	struct transport *t;
	struct err err;
	size_t c;

	(void)state;
	for (c = 0; c < N_CHUNKS; c++) {
		s = start(GREET "-ERR unknown command\r\n+OK\r\n+OK\r\n",
		    chunks[c], &t);
		assert_int_equal(pop3_greeting(s, &err), 0);
		assert_int_equal(pop3_capa(s, &err), 0);
		caps = pop3_get_caps(s);
		assert_false(caps->has_capa || caps->stls || caps->uidl);
		assert_int_equal(caps->expire, -1);
		assert_int_equal(pop3_get_state(s), POP3_AUTHORIZATION);
		/* The session goes on. */
		assert_int_equal(pop3_user_pass(s, "bob", "hunter2", &err), 0);
		pop3_free(s);
	}
}

/*
 * RFC 2449 §4: asked again after login, CAPA replaces what it said
 * before, unless it says -ERR then.
 */
static void
test_capa_after_login(void **state)
{
	const struct pop3_caps *caps;
	struct pop3_session *s;
	struct transport *t;
	struct err err;

	(void)state;
	s = start(GREET "+OK\r\nUSER\r\nRESP-CODES\r\nLOGIN-DELAY 300 "
	                "USER\r\n.\r\n+OK\r\n+OK\r\n-ERR not now\r\n"
	                "+OK\r\nTOP\r\nUIDL\r\nPIPELINING\r\n"
	                "LOGIN-DELAY 60\r\n.\r\n",
	    0, &t);
	err_clear(&err);
	assert_int_equal(pop3_greeting(s, &err), 0);
	assert_int_equal(pop3_capa(s, &err), 0);
	caps = pop3_get_caps(s);
	assert_true(caps->has_user_values);
	assert_false(caps->top || caps->pipelining);
	assert_true(pop3_caps_may_grow(caps));
	assert_int_equal(pop3_user_pass(s, "bob", "hunter2", &err), 0);
	assert_int_equal(pop3_capa(s, &err), 0);
	caps = pop3_get_caps(s);
	assert_true(caps->has_capa && caps->resp_codes);
	assert_int_equal(caps->login_delay, 300);
	assert_int_equal(pop3_capa(s, &err), 0);
	caps = pop3_get_caps(s);
	assert_true(caps->top && caps->uidl && caps->pipelining);
	assert_false(caps->resp_codes || caps->has_user_values);
	assert_int_equal(caps->login_delay, 60);
	assert_false(pop3_caps_may_grow(caps));
	pop3_free(s);
}

static void
test_capa_broken(void **state)
{
	struct pop3_session *s;
	struct transport *t;
	struct err err;
	char *script;
	size_t c, glen = strlen(GREET "+OK\r\n");

	(void)state;
	/* A capability line one octet too long. */
	script = xmalloc(glen + POP3_LINE_MAX + 8);
	memcpy(script, GREET "+OK\r\n", glen);
	memset(script + glen, 'X', POP3_LINE_MAX + 1);
	memcpy(script + glen + POP3_LINE_MAX + 1, "\r\n.\r\n", 6);
	for (c = 0; c < N_CHUNKS; c++) {
		s = start(script, chunks[c], &t);
		assert_int_equal(pop3_greeting(s, &err), 0);
		assert_int_equal(pop3_capa(s, &err), -1);
		assert_int_equal(err.cls, ERR_PROTO);
		assert_int_equal(pop3_get_state(s), POP3_BROKEN);
		assert_false(pop3_get_caps(s)->has_capa);
		pop3_free(s);
	}
	free(script);
	/* Closed before the final ".". */
	for (c = 0; c < N_CHUNKS; c++) {
		s = start(GREET "+OK\r\nTOP\r\nUIDL\r\n", chunks[c], &t);
		assert_int_equal(pop3_greeting(s, &err), 0);
		assert_int_equal(pop3_capa(s, &err), -1);
		assert_int_equal(err.cls, ERR_TEMP);
		assert_non_null(strstr(err.msg, "in the middle"));
		assert_int_equal(pop3_get_state(s), POP3_BROKEN);
		pop3_free(s);
	}
}

static void
test_stls(void **state)
{
	static const char script[] =
	    GREET "+OK\r\nSTLS\r\nUSER\r\n.\r\n+OK Begin TLS\r\n"
	          "+OK\r\nUSER\r\nUIDL\r\n.\r\n+OK\r\n+OK\r\n";
	const struct pop3_caps *caps;
	struct pop3_session *s;
	struct transport *t;
	struct err err;
	size_t c;

	(void)state;
	for (c = 0; c < N_CHUNKS; c++) {
		s = start(script, chunks[c], &t);
		mock_transport_allow_tls(t);
		/* TLS starts where the server stops after its +OK. */
		mock_transport_boundary(t,
		    (size_t)(strstr(script, "Begin TLS\r\n") - script) + 11);
		assert_int_equal(pop3_greeting(s, &err), 0);
		assert_int_equal(pop3_capa(s, &err), 0);
		caps = pop3_get_caps(s);
		assert_true(caps->stls);
		assert_int_equal(pop3_stls(s, NULL, &err), 0);
		assert_true(mock_transport_tls_started(t));
		/* RFC 2595 §4: what CAPA said before TLS is gone. */
		assert_false(caps->has_capa || caps->stls || caps->user);
		assert_int_equal(pop3_capa(s, &err), 0);
		assert_true(caps->has_capa && caps->uidl && !caps->stls);
		assert_int_equal(pop3_user_pass(s, "bob", "hunter2", &err), 0);
		assert_string_equal(mock_transport_written(t),
		    "CAPA\r\nSTLS\r\nCAPA\r\n" LOGIN_SENT);
		pop3_free(s);
	}
}

static void
test_stls_failures(void **state)
{
	struct pop3_session *s;
	struct transport *t;
	struct err err;

	(void)state;
	/* Refused: nothing more may happen in plain text. */
	s = start(GREET "-ERR not now\r\n", 0, &t);
	mock_transport_allow_tls(t);
	assert_int_equal(pop3_greeting(s, &err), 0);
	assert_int_equal(pop3_stls(s, NULL, &err), -1);
	assert_int_equal(err.cls, ERR_PROTO);
	assert_string_equal(err.server, "not now");
	assert_false(mock_transport_tls_started(t));
	assert_int_equal(pop3_get_state(s), POP3_BROKEN);
	assert_int_equal(pop3_user_pass(s, "bob", "hunter2", &err), -1);
	assert_string_equal(mock_transport_written(t), "STLS\r\n");
	pop3_free(s);
	/* The handshake fails. */
	s = start(GREET "+OK go\r\n", 0, &t);
	assert_int_equal(pop3_greeting(s, &err), 0);
	assert_int_equal(pop3_stls(s, NULL, &err), -1);
	assert_int_equal(err.cls, ERR_PROTO);
	assert_non_null(strstr(err.msg, "handshake"));
	assert_int_equal(pop3_get_state(s), POP3_BROKEN);
	pop3_free(s);
	/* Plain-text data queued behind the +OK: an injection attempt. */
	s = start(GREET "+OK go\r\n+OK injected\r\n", 0, &t);
	mock_transport_allow_tls(t);
	assert_int_equal(pop3_greeting(s, &err), 0);
	assert_int_equal(pop3_stls(s, NULL, &err), -1);
	assert_int_equal(err.cls, ERR_PROTO);
	assert_false(mock_transport_tls_started(t));
	assert_int_equal(pop3_get_state(s), POP3_BROKEN);
	pop3_free(s);
}

static void
test_stat(void **state)
{
	static const char *const bad[] = {
		"+OK\r\n",
		"+OK 2\r\n",
		"+OK x 3\r\n",
		"+OK 2 -3\r\n",
		"+OK 2  3\r\n",
		"+OK  2 3\r\n",
		"+OK 2 3x\r\n",
		"+OK 4294967296 1\r\n",
		"+OK 2 99999999999999999999\r\n",
		"-ERR no\r\n",
	};
	struct pop3_session *s;
	struct transport *t;
	struct err err;
	unsigned count;
	uint64_t size;
	size_t i, c;

	(void)state;
	for (c = 0; c < N_CHUNKS; c++) {
		s = login("+OK 2 320\r\n+OK 4294967295 18446744073709551615 "
		          "octets\r\n",
		    chunks[c], &t);
		assert_int_equal(pop3_stat(s, &count, &size, &err), 0);
		assert_int_equal(count, 2);
		assert_int_equal(size, 320);
		assert_int_equal(pop3_stat(s, &count, &size, &err), 0);
		assert_int_equal(count, UINT_MAX);
		assert_true(size == UINT64_MAX);
		assert_string_equal(written_after_login(t), "STAT\r\nSTAT\r\n");
		pop3_free(s);
	}
	for (i = 0; i < N_OF(bad); i++) {
		s = login(bad[i], 0, &t);
		assert_int_equal(pop3_stat(s, &count, &size, &err), -1);
		assert_int_equal(err.cls, ERR_PROTO);
		assert_int_equal(pop3_get_state(s), POP3_BROKEN);
		pop3_free(s);
	}
}

static void
test_list(void **state)
{
	struct pop3_session *s;
	struct transport *t;
	struct pop3_msg *msgs;
	struct err err;
	size_t n, c;

	(void)state;
	for (c = 0; c < N_CHUNKS; c++) {
		s = login("+OK 3 messages\r\n3 300\r\n1 100\r\n"
		          "2 200 more text\r\n.\r\n+OK\r\n.\r\n",
		    chunks[c], &t);
		assert_int_equal(pop3_list(s, &msgs, &n, &err), 0);
		assert_int_equal(n, 3);
		assert_int_equal(msgs[0].num, 1);
		assert_int_equal(msgs[0].size, 100);
		assert_int_equal(msgs[1].num, 2);
		assert_int_equal(msgs[1].size, 200);
		assert_int_equal(msgs[2].num, 3);
		assert_int_equal(msgs[2].size, 300);
		assert_false(
		    msgs[0].has_uid || msgs[1].has_uid || msgs[2].has_uid);
		free(msgs);
		/* An empty maildrop. */
		assert_int_equal(pop3_list(s, &msgs, &n, &err), 0);
		assert_int_equal(n, 0);
		free(msgs);
		assert_string_equal(written_after_login(t), "LIST\r\nLIST\r\n");
		pop3_free(s);
	}
}

static void
test_list_bad(void **state)
{
	static const char *const bad[] = {
		"1\r\n", "a 1\r\n", "0 5\r\n", "1 -5\r\n", "1 5x\r\n",
		" 1 5\r\n", "1  5\r\n", "+1 5\r\n",
		"1 9999999999999999999x\r\n", "1000001 5\r\n", "\r\n",
		"1 10\r\n2 20\r\n1 30\r\n", /* a number twice */
	};
	struct pop3_session *s;
	struct transport *t;
	struct pop3_msg dummy, *msgs;
	struct err err;
	char script[128];
	size_t n, i;

	(void)state;
	for (i = 0; i < N_OF(bad); i++) {
		(void)snprintf(script, sizeof(script), "+OK\r\n%s.\r\n",
		    bad[i]);
		s = login(script, 3, &t);
		msgs = &dummy; /* must be reset */
		assert_int_equal(pop3_list(s, &msgs, &n, &err), -1);
		assert_int_equal(err.cls, ERR_PROTO);
		assert_null(msgs);
		assert_int_equal(n, 0);
		assert_int_equal(pop3_get_state(s), POP3_BROKEN);
		pop3_free(s);
	}
	s = login("-ERR [SYS/TEMP] not now\r\n", 0, &t);
	assert_int_equal(pop3_list(s, &msgs, &n, &err), -1);
	assert_int_equal(err.cls, ERR_TEMP);
	assert_int_equal(pop3_get_state(s), POP3_BROKEN);
	pop3_free(s);
}

/* Sizes no journal can hold mark their message; the listing stands. */
static void
test_list_huge_size(void **state)
{
	struct pop3_session *s;
	struct transport *t;
	struct pop3_msg *msgs;
	struct err err;
	size_t n;

	(void)state;
	s = login("+OK\r\n1 10\r\n2 18446744073709551615\r\n"
	          "3 99999999999999999999999\r\n4 9223372036854775807\r\n"
	          "5 9223372036854775808 x\r\n.\r\n",
	    3, &t);
	assert_int_equal(pop3_list(s, &msgs, &n, &err), 0);
	assert_int_equal(n, 5);
	assert_false(msgs[0].has_bad_size);
	assert_true(msgs[1].has_bad_size);
	assert_int_equal(msgs[1].size, 0);
	assert_true(msgs[2].has_bad_size);
	assert_false(msgs[3].has_bad_size);
	assert_int_equal(msgs[3].size, INT64_MAX);
	assert_true(msgs[4].has_bad_size);
	assert_int_equal(pop3_get_state(s), POP3_TRANSACTION);
	free(msgs);
	pop3_free(s);
}

static void
test_list_too_many(void **state)
{
	struct pop3_session *s;
	struct transport *t;
	struct pop3_msg *msgs;
	struct err err;
	size_t n, len = 0, cap = (size_t)(POP3_MAX_MESSAGES + 1) * 12 + 16;
	char *script = xmalloc(cap);
	unsigned i;

	(void)state;
	len += (size_t)snprintf(script, cap, "+OK\r\n");
	/*
	 * Numbers above the count are refused on their own (test_list_bad),
	 * so a flood must repeat them: the cap catches it before the
	 * duplicates are looked for.
	 */
	for (i = 0; i <= POP3_MAX_MESSAGES; i++)
		len += (size_t)snprintf(script + len, cap - len, "%u 1\r\n",
		    i % POP3_MAX_MESSAGES + 1);
	len += (size_t)snprintf(script + len, cap - len, ".\r\n");
	s = login_len(script, len, 0, &t);
	free(script);
	assert_int_equal(pop3_list(s, &msgs, &n, &err), -1);
	assert_int_equal(err.cls, ERR_PROTO);
	assert_non_null(strstr(err.msg, "more than"));
	assert_null(msgs);
	assert_int_equal(pop3_get_state(s), POP3_BROKEN);
	pop3_free(s);
}

#define LIST3 "+OK\r\n1 10\r\n2 20\r\n3 30\r\n.\r\n"

/* A session that has listed three messages; rest follows LIST. */
static struct pop3_session *
listed(const char *rest, size_t chunk, struct transport **t_out,
    struct pop3_msg **msgs_out)
{
	struct pop3_session *s;
	struct err err;
	char *script = xasprintf(LIST3 "%s", rest);
	size_t n;

	s = login(script, chunk, t_out);
	free(script);
	assert_int_equal(pop3_list(s, msgs_out, &n, &err), 0);
	assert_int_equal(n, 3);
	return s;
}

static void
test_uidl(void **state)
{
	struct pop3_session *s;
	struct transport *t;
	struct pop3_msg *msgs;
	struct err err;
	bool is_supported;
	char uid70[POP3_UID_MAX + 1], *script;
	size_t c;

	(void)state;
	memset(uid70, '~', POP3_UID_MAX);
	uid70[POP3_UID_MAX] = '\0';
	script = xasprintf("+OK\r\n3 %s\r\n1 whqtswO00WBw418f9t5JxYwZ\r\n"
	                   ".\r\n+OK\r\n1 same\r\n2 same\r\n.\r\n",
	    uid70);
	for (c = 0; c < N_CHUNKS; c++) {
		s = listed(script, chunks[c], &t, &msgs);
		assert_int_equal(pop3_uidl(s, msgs, 3, &is_supported, &err), 0);
		assert_true(is_supported);
		assert_true(msgs[0].has_uid);
		assert_string_equal(msgs[0].uid, "whqtswO00WBw418f9t5JxYwZ");
		assert_false(msgs[1].has_uid);
		assert_true(msgs[2].has_uid);
		assert_string_equal(msgs[2].uid, uid70);
		/* Duplicates are the caller's business, not an error. */
		assert_int_equal(pop3_uidl(s, msgs, 3, &is_supported, &err), 0);
		assert_string_equal(msgs[0].uid, "same");
		assert_string_equal(msgs[1].uid, "same");
		assert_false(msgs[2].has_uid);
		assert_string_equal(written_after_login(t),
		    "LIST\r\nUIDL\r\nUIDL\r\n");
		free(msgs);
		pop3_free(s);
	}
	free(script);
}

static void
test_uidl_bad(void **state)
{
	static const char *const bad[] = {
		"1\r\n", "x abc\r\n", "0 abc\r\n", "-1 abc\r\n",
		"4 abc\r\n",          /* not in LIST */
		"1 abc\r\n1 def\r\n", /* two for one message */
	};
	struct pop3_session *s;
	struct transport *t;
	struct pop3_msg *msgs;
	struct err err;
	bool is_supported;
	char *script;
	size_t i;

	(void)state;
	for (i = 0; i < N_OF(bad); i++) {
		script = xasprintf("+OK\r\n%s.\r\n", bad[i]);
		s = listed(script, 2, &t, &msgs);
		free(script);
		assert_int_equal(pop3_uidl(s, msgs, 3, &is_supported, &err),
		    -1);
		assert_int_equal(err.cls, ERR_PROTO);
		assert_false(is_supported);
		assert_int_equal(pop3_get_state(s), POP3_BROKEN);
		free(msgs);
		pop3_free(s);
	}
}

/* A unique-id against RFC 1939 §7 spoils only its own message. */
static void
test_uidl_bad_uid(void **state)
{
	static const char *const bad[] = {
		"1 a b\r\n", "1 \x7f\r\n", "1 caf\xc3\xa9\r\n",
		"1 tab\there\r\n", "1 \r\n",
		"1 "
		"12345678901234567890123456789012345678901234567890123456789"
		"012345678901\r\n", /* 71 characters */
	};
	struct pop3_session *s;
	struct transport *t;
	struct pop3_msg *msgs;
	struct err err;
	bool is_supported;
	char *script;
	size_t i;

	(void)state;
	for (i = 0; i < N_OF(bad); i++) {
		script = xasprintf("+OK\r\n%s2 good\r\n.\r\n", bad[i]);
		s = listed(script, 2, &t, &msgs);
		free(script);
		assert_int_equal(pop3_uidl(s, msgs, 3, &is_supported, &err), 0);
		assert_true(is_supported);
		assert_false(msgs[0].has_uid);
		assert_true(msgs[0].has_bad_uid);
		assert_true(msgs[1].has_uid);
		assert_false(msgs[1].has_bad_uid);
		assert_string_equal(msgs[1].uid, "good");
		assert_false(msgs[2].has_uid);
		assert_false(msgs[2].has_bad_uid);
		assert_int_equal(pop3_get_state(s), POP3_TRANSACTION);
		free(msgs);
		pop3_free(s);
	}
}

/* Padding around a unique-id (some servers' habit) is not part of it. */
static void
test_uidl_padded(void **state)
{
	struct pop3_session *s;
	struct transport *t;
	struct pop3_msg *msgs;
	struct err err;
	bool is_supported;

	(void)state;
	s = listed("+OK\r\n1   spaced\r\n2 trailing \t \r\n3 \t both  \r\n"
	           ".\r\n",
	    2, &t, &msgs);
	assert_int_equal(pop3_uidl(s, msgs, 3, &is_supported, &err), 0);
	assert_true(msgs[0].has_uid && msgs[1].has_uid && msgs[2].has_uid);
	assert_string_equal(msgs[0].uid, "spaced");
	assert_string_equal(msgs[1].uid, "trailing");
	assert_string_equal(msgs[2].uid, "both");
	free(msgs);
	pop3_free(s);
}

static void
test_uidl_unsupported(void **state)
{
	struct pop3_session *s;
	struct transport *t;
	struct pop3_msg *msgs;
	struct err err;
	bool is_supported = true;
	size_t c;

	(void)state;
	for (c = 0; c < N_CHUNKS; c++) {
		s = listed("-ERR unknown command\r\n+OK\r\n", chunks[c], &t,
		    &msgs);
		msgs[0].has_uid = true;
		assert_int_equal(pop3_uidl(s, msgs, 3, &is_supported, &err), 0);
		assert_false(is_supported);
		assert_false(msgs[0].has_uid);
		assert_int_equal(pop3_get_state(s), POP3_TRANSACTION);
		assert_int_equal(pop3_noop(s, &err), 0);
		free(msgs);
		pop3_free(s);
	}
	/* A response code means UIDL exists but failed: an error. */
	s = listed("-ERR [SYS/TEMP] index busy\r\n+OK\r\n", 0, &t, &msgs);
	assert_int_equal(pop3_uidl(s, msgs, 3, &is_supported, &err), -1);
	assert_int_equal(err.cls, ERR_TEMP);
	assert_int_equal(pop3_get_state(s), POP3_TRANSACTION);
	assert_int_equal(pop3_quit(s, &err), 0);
	free(msgs);
	pop3_free(s);
}

/* A body with stuffed dots, an empty line and lines that look like ends. */
#define STUFFED                                                           \
	"+OK 61 octets\r\nFrom: a\r\n\r\n..dot\r\n...two\r\n.x\r\n..\r\n" \
	"end .\r\n. \r\n.\r\n+OK\r\n"
#define UNSTUFFED "From: a\n\n.dot\n..two\nx\n.\nend .\n \n"

static void
test_retr_unstuff(void **state)
{
	struct collect col = { 0 };
	struct pop3_session *s;
	struct transport *t;
	struct err err;
	uint64_t size;
	size_t c;

	(void)state;
	/* Every read size up to 20 puts boundaries everywhere. */
	for (c = 0; c <= 20; c++) {
		s = login(STUFFED, c, &t);
		assert_int_equal(pop3_retr(s, 1, collect_fn, &col, &size, &err),
		    0);
		assert_collected(&col, UNSTUFFED, strlen(UNSTUFFED));
		assert_int_equal(size, strlen(UNSTUFFED));
		/* The reply after the body is read in step. */
		assert_int_equal(pop3_noop(s, &err), 0);
		assert_string_equal(written_after_login(t),
		    "RETR 1\r\nNOOP\r\n");
		collect_reset(&col);
		pop3_free(s);
	}
}

/* Split the server's bytes in two reads at every possible offset. */
static void
test_retr_every_split(void **state)
{
	static const char body[] = "+OK\r\n..a\r\nb\r\n.\r\n+OK\r\n";
	struct collect col = { 0 };
	struct pop3_session *s;
	struct transport *t;
	struct err err;
	size_t k, base = strlen(LOGIN);

	(void)state;
	for (k = 1; k < strlen(body); k++) {
		s = login(body, 0, &t);
		mock_transport_boundary(t, base + k);
		assert_int_equal(pop3_retr(s, 2, collect_fn, &col, NULL, &err),
		    0);
		assert_collected(&col, ".a\nb\n", 5);
		assert_int_equal(pop3_noop(s, &err), 0);
		collect_reset(&col);
		pop3_free(s);
	}
}

static void
test_retr_line_ends(void **state)
{
	/* Bare LF, bare CR inside a line, CR CR LF, ".\n" as the end. */
	static const char body[] = "+OK\r\na\nb\r\nc\rd\r\n\r\r\n..\n.\n";
	static const char want[] = "a\nb\nc\rd\n\r\n.\n";
	/* NUL octets are data like any other. */
	static const char nul_body[] = "+OK\r\na\0b\r\n\0\r\n.\0\r\n.\r\n";
	static const char nul_want[] = "a\0b\n\0\n\0\n";
	struct collect col = { 0 };
	struct pop3_session *s;
	struct transport *t;
	struct err err;
	uint64_t size;
	size_t c;

	(void)state;
	for (c = 0; c < N_CHUNKS; c++) {
		s = login(body, chunks[c], &t);
		assert_int_equal(pop3_retr(s, 1, collect_fn, &col, &size, &err),
		    0);
		assert_collected(&col, want, sizeof(want) - 1);
		collect_reset(&col);
		pop3_free(s);
		s = login_len(nul_body, sizeof(nul_body) - 1, chunks[c], &t);
		assert_int_equal(pop3_retr(s, 1, collect_fn, &col, &size, &err),
		    0);
		assert_collected(&col, nul_want, sizeof(nul_want) - 1);
		assert_int_equal(size, sizeof(nul_want) - 1);
		collect_reset(&col);
		pop3_free(s);
	}
}

/* Checks a huge one-line message on the fly, without keeping it. */
struct big_check {
	uint64_t total;
	size_t max_chunk;
	bool is_bad;
};

static int
big_fn(void *arg, const char *data, size_t len, struct err *err)
{
	struct big_check *b = arg;
	size_t i;

	(void)err;
	for (i = 0; i < len; i++)
		if (data[i] != 'x' && !(data[i] == '\n' && i == len - 1))
			b->is_bad = true;
	if (len > b->max_chunk)
		b->max_chunk = len;
	b->total += len;
	return 0;
}

static void
test_retr_huge_line(void **state)
{
	static const size_t sizes[] = { 0, 4093, 7 };
	size_t line = 10 * 1024 * 1024, len = line + 16, i;
	char *script = xmalloc(len);
	struct pop3_session *s;
	struct transport *t;
	struct big_check b;
	struct err err;
	uint64_t size;

	(void)state;
	memcpy(script, "+OK\r\n", 5);
	memset(script + 5, 'x', line);
	memcpy(script + 5 + line, "\r\n.\r\n", 5);
	for (i = 0; i < N_OF(sizes); i++) {
		memset(&b, 0, sizeof(b));
		s = login_len(script, line + 10, sizes[i], &t);
		assert_int_equal(pop3_retr(s, 1, big_fn, &b, &size, &err), 0);
		assert_false(b.is_bad);
		assert_true(b.total == line + 1);
		assert_true(size == line + 1);
		assert_true(b.max_chunk <= RBUF_MAX);
		pop3_free(s);
	}
	free(script);
}

static void
test_retr_eof(void **state)
{
	static const char *const bodies[] = {
		"+OK\r\nabc\r\n",
		"+OK\r\nabc\r\n.",
		"+OK\r\nabc\r\n.\r",
		"+OK\r\nabc",
		"+OK\r\n",
	};
	struct collect col = { 0 };
	struct pop3_session *s;
	struct transport *t;
	struct err err;
	size_t i, c;

	(void)state;
	for (i = 0; i < N_OF(bodies); i++) {
		for (c = 0; c < N_CHUNKS; c++) {
			s = login(bodies[i], chunks[c], &t);
			assert_int_equal(pop3_retr(s, 1, collect_fn, &col, NULL,
			                     &err),
			    -1);
			assert_int_equal(err.cls, ERR_TEMP);
			assert_non_null(strstr(err.msg, "in the middle"));
			assert_int_equal(pop3_get_state(s), POP3_BROKEN);
			collect_reset(&col);
			pop3_free(s);
		}
	}
}

static void
test_retr_faults(void **state)
{
	struct collect col = { 0 };
	struct pop3_session *s;
	struct transport *t;
	struct err err;
	size_t c;

	(void)state;
	/* The connection fails in the middle of the body. */
	for (c = 0; c < N_CHUNKS; c++) {
		s = login("+OK\r\nline one\r\nline two\r\n.\r\n", chunks[c],
		    &t);
		mock_transport_fail_at(t, strlen(LOGIN) + 12);
		assert_int_equal(pop3_retr(s, 1, collect_fn, &col, NULL, &err),
		    -1);
		assert_int_equal(err.cls, ERR_TEMP);
		assert_int_equal(pop3_get_state(s), POP3_BROKEN);
		collect_reset(&col);
		pop3_free(s);
	}
	/* The callback gives up: its error stands, the session is over. */
	s = login("+OK\r\nline\r\n.\r\n", 0, &t);
	col.is_failing = true;
	assert_int_equal(pop3_retr(s, 1, collect_fn, &col, NULL, &err), -1);
	assert_int_equal(err.cls, ERR_LOCAL);
	assert_int_equal(pop3_get_state(s), POP3_BROKEN);
	collect_reset(&col);
	pop3_free(s);
	/* A write fails. */
	s = login("", 0, &t);
	mock_transport_fail_write_at(t, strlen(LOGIN_SENT) + 3);
	assert_int_equal(pop3_dele(s, 1, &err), -1);
	assert_int_equal(err.cls, ERR_TEMP);
	assert_int_equal(pop3_get_state(s), POP3_BROKEN);
	pop3_free(s);
}

static void
test_message_err_keeps_session(void **state)
{
	static const char script[] = "-ERR no such message\r\n"
	                             "-ERR [SYS/TEMP] message locked\r\n"
	                             "-ERR message 7 already deleted\r\n"
	                             "-ERR no such message\r\n"
	                             "+OK\r\nhead\r\n.\r\n"
	                             "+OK\r\nbody\r\n.\r\n+OK deleted\r\n";
	struct collect col = { 0 };
	struct pop3_session *s;
	struct transport *t;
	struct err err;
	size_t c;

	(void)state;
	for (c = 0; c < N_CHUNKS; c++) {
		s = login(script, chunks[c], &t);
		assert_int_equal(pop3_retr(s, 9, collect_fn, &col, NULL, &err),
		    -1);
		assert_int_equal(err.cls, ERR_PROTO);
		assert_int_equal(err.scope, ERR_SCOPE_MESSAGE);
		assert_string_equal(err.server, "no such message");
		assert_int_equal(pop3_get_state(s), POP3_TRANSACTION);
		assert_int_equal(pop3_retr(s, 8, collect_fn, &col, NULL, &err),
		    -1);
		assert_int_equal(err.cls, ERR_TEMP);
		assert_int_equal(err.scope, ERR_SCOPE_MESSAGE);
		assert_int_equal(pop3_last_resp_code(s), POP3_RESP_SYS_TEMP);
		assert_int_equal(pop3_dele(s, 7, &err), -1);
		assert_int_equal(err.cls, ERR_PROTO);
		assert_int_equal(err.scope, ERR_SCOPE_MESSAGE);
		assert_int_equal(pop3_top(s, 6, 0, collect_fn, &col, &err), -1);
		assert_int_equal(err.scope, ERR_SCOPE_MESSAGE);
		assert_int_equal(col.len, 0);
		assert_int_equal(pop3_top(s, 1, 0, collect_fn, &col, &err), 0);
		assert_int_equal(pop3_retr(s, 1, collect_fn, &col, NULL, &err),
		    0);
		assert_collected(&col, "head\nbody\n", 10);
		assert_int_equal(pop3_dele(s, 1, &err), 0);
		assert_int_equal(pop3_get_state(s), POP3_TRANSACTION);
		assert_string_equal(written_after_login(t),
		    "RETR 9\r\nRETR 8\r\nDELE 7\r\nTOP 6 0\r\nTOP 1 0\r\n"
		    "RETR 1\r\nDELE 1\r\n");
		collect_reset(&col);
		pop3_free(s);
	}
}

/*
 * Every command (the greeting too if is_greeting), called on s; each
 * failure must be of class want.  Returns how many succeeded.
 */
static int
call_all(struct pop3_session *s, bool is_greeting, enum err_class want)
{
	struct collect col = { 0 };
	struct pop3_msg msg = { .num = 1 }, *msgs = NULL;
	struct err err;
	bool is_supported;
	unsigned count;
	uint64_t size;
	size_t n;
	int ok = 0;

#define TRY(call)                                        \
	do {                                             \
		err_clear(&err);                         \
		if ((call) == 0)                         \
			ok++;                            \
		else                                     \
			assert_int_equal(err.cls, want); \
	} while (0)
	if (is_greeting)
		TRY(pop3_greeting(s, &err));
	TRY(pop3_capa(s, &err));
	TRY(pop3_stls(s, NULL, &err));
	TRY(pop3_user_pass(s, "bob", "hunter2", &err));
	TRY(pop3_stat(s, &count, &size, &err));
	TRY(pop3_list(s, &msgs, &n, &err));
	TRY(pop3_uidl(s, &msg, 1, &is_supported, &err));
	TRY(pop3_retr(s, 1, collect_fn, &col, NULL, &err));
	TRY(pop3_top(s, 1, 0, collect_fn, &col, &err));
	TRY(pop3_dele(s, 1, &err));
	TRY(pop3_rset(s, &err));
	TRY(pop3_noop(s, &err));
	TRY(pop3_quit(s, &err));
#undef TRY
	free(msgs);
	collect_reset(&col);
	return ok;
}

static void
test_broken_refuses_all(void **state)
{
	struct pop3_session *s;
	struct transport *t;
	struct err err;
	char *before;

	(void)state;
	s = login("garbage\r\n+OK\r\n+OK\r\n", 0, &t);
	assert_int_equal(pop3_noop(s, &err), -1);
	assert_int_equal(err.cls, ERR_PROTO);
	assert_int_equal(pop3_get_state(s), POP3_BROKEN);
	before = xstrdup(mock_transport_written(t));
	assert_int_equal(call_all(s, true, ERR_PROTO), 0);
	assert_string_equal(mock_transport_written(t), before);
	assert_int_equal(pop3_get_state(s), POP3_BROKEN);
	free(before);
	pop3_free(s);
}

static void
test_wrong_state(void **state)
{
	struct pop3_session *s;
	struct transport *t;
	struct err err;

	(void)state;
	/* DISCONNECTED: only the greeting may come. */
	s = start("", 0, &t);
	assert_int_equal(call_all(s, false, ERR_SOFTWARE), 0);
	assert_int_equal(pop3_get_state(s), POP3_DISCONNECTED);
	pop3_free(s);
	s = start("", 0, &t);
	assert_int_equal(pop3_noop(s, &err), -1);
	assert_int_equal(err.cls, ERR_SOFTWARE);
	assert_int_equal(pop3_get_state(s), POP3_DISCONNECTED);
	assert_int_equal(mock_transport_consumed(t), 0);
	assert_string_equal(mock_transport_written(t), "");
	pop3_free(s);
	/* AUTHORIZATION: no transaction commands. */
	s = start(GREET, 0, &t);
	assert_int_equal(pop3_greeting(s, &err), 0);
	assert_int_equal(pop3_stat(s, NULL, NULL, &err), -1);
	assert_int_equal(err.cls, ERR_SOFTWARE);
	assert_int_equal(pop3_dele(s, 1, &err), -1);
	assert_int_equal(err.cls, ERR_SOFTWARE);
	assert_int_equal(pop3_greeting(s, &err), -1);
	assert_int_equal(err.cls, ERR_SOFTWARE);
	assert_int_equal(pop3_get_state(s), POP3_AUTHORIZATION);
	assert_string_equal(mock_transport_written(t), "");
	pop3_free(s);
	/* TRANSACTION: no second login, no STLS; no message 0. */
	s = login("", 0, &t);
	assert_int_equal(pop3_user_pass(s, "bob", "hunter2", &err), -1);
	assert_int_equal(err.cls, ERR_SOFTWARE);
	assert_int_equal(pop3_stls(s, NULL, &err), -1);
	assert_int_equal(err.cls, ERR_SOFTWARE);
	assert_int_equal(pop3_retr(s, 0, collect_fn, NULL, NULL, &err), -1);
	assert_int_equal(err.cls, ERR_SOFTWARE);
	assert_int_equal(pop3_get_state(s), POP3_TRANSACTION);
	assert_string_equal(written_after_login(t), "");
	pop3_free(s);
}

static void
test_quit(void **state)
{
	struct capture cap;
	struct pop3_session *s;
	struct transport *t;
	struct err err;
	char *log;
	size_t c;

	(void)state;
	for (c = 0; c < N_CHUNKS; c++) {
		s = login("+OK bye\r\n", chunks[c], &t);
		capture_start(&cap);
		assert_int_equal(pop3_quit(s, &err), 0);
		log = capture_stop(&cap);
		assert_int_equal(pop3_get_state(s), POP3_DISCONNECTED);
		assert_non_null(strstr(log, "TRANSACTION -> UPDATE\n"));
		assert_non_null(strstr(log, "UPDATE -> DISCONNECTED\n"));
		assert_string_equal(written_after_login(t), "QUIT\r\n");
		assert_true(pop3_is_quit_confirmed(s));
		/* Nothing more after QUIT, not even a greeting. */
		assert_int_equal(call_all(s, true, ERR_SOFTWARE), 0);
		free(log);
		pop3_free(s);
	}
	/* From AUTHORIZATION: no UPDATE. */
	s = start(GREET "+OK bye\r\n", 0, &t);
	assert_int_equal(pop3_greeting(s, &err), 0);
	capture_start(&cap);
	assert_int_equal(pop3_quit(s, &err), 0);
	log = capture_stop(&cap);
	assert_non_null(strstr(log, "AUTHORIZATION -> DISCONNECTED\n"));
	assert_null(strstr(log, "UPDATE"));
	free(log);
	pop3_free(s);
	/* The deletions failed. */
	s = login("-ERR some deleted messages not removed\r\n", 0, &t);
	assert_int_equal(pop3_quit(s, &err), -1);
	assert_int_equal(err.cls, ERR_PROTO);
	assert_int_equal(pop3_get_state(s), POP3_BROKEN);
	assert_false(pop3_is_quit_confirmed(s));
	pop3_free(s);
	/* A hang-up for an answer ends the session, unconfirmed. */
	s = login("", 0, &t);
	assert_int_equal(pop3_quit(s, &err), 0);
	assert_int_equal(pop3_get_state(s), POP3_DISCONNECTED);
	assert_false(pop3_is_quit_confirmed(s));
	pop3_free(s);
}

static void
test_rset_noop(void **state)
{
	struct pop3_session *s;
	struct transport *t;
	struct err err;

	(void)state;
	s = login("+OK\r\n+OK\r\n-ERR what\r\n", 1, &t);
	assert_int_equal(pop3_rset(s, &err), 0);
	assert_int_equal(pop3_noop(s, &err), 0);
	/* +OK is required: a -ERR here is the server's fault. */
	assert_int_equal(pop3_noop(s, &err), -1);
	assert_int_equal(err.cls, ERR_PROTO);
	assert_int_equal(pop3_get_state(s), POP3_BROKEN);
	assert_string_equal(written_after_login(t), "RSET\r\nNOOP\r\nNOOP\r\n");
	pop3_free(s);
}

/* A whole session: the client says exactly these bytes. */
static void
test_written_session(void **state)
{
	static const char script[] = GREET CAPA_FULL
	    "+OK\r\n+OK\r\n+OK 1 5\r\n+OK\r\n1 5\r\n.\r\n+OK\r\n1 u1\r\n.\r\n"
	    "+OK\r\nabc\r\n.\r\n+OK\r\nabc\r\n.\r\n+OK\r\n+OK\r\n+OK\r\n"
	    "+OK\r\n";
	struct collect col = { 0 };
	struct pop3_session *s;
	struct transport *t;
	struct pop3_msg *msgs;
	struct err err;
	bool is_supported;
	unsigned count;
	uint64_t size;
	size_t n, c;

	(void)state;
	for (c = 0; c < N_CHUNKS; c++) {
		s = start(script, chunks[c], &t);
		assert_int_equal(pop3_greeting(s, &err), 0);
		assert_int_equal(pop3_capa(s, &err), 0);
		assert_int_equal(pop3_user_pass(s, "u", "p w", &err), 0);
		assert_int_equal(pop3_stat(s, &count, &size, &err), 0);
		assert_int_equal(pop3_list(s, &msgs, &n, &err), 0);
		assert_int_equal(pop3_uidl(s, msgs, n, &is_supported, &err), 0);
		assert_int_equal(pop3_top(s, 1, 10, collect_fn, &col, &err), 0);
		assert_int_equal(pop3_retr(s, 1, collect_fn, &col, NULL, &err),
		    0);
		assert_int_equal(pop3_dele(s, 1, &err), 0);
		assert_int_equal(pop3_rset(s, &err), 0);
		assert_int_equal(pop3_noop(s, &err), 0);
		assert_int_equal(pop3_quit(s, &err), 0);
		assert_string_equal(mock_transport_written(t),
		    "CAPA\r\nUSER u\r\nPASS p w\r\nSTAT\r\nLIST\r\nUIDL\r\n"
		    "TOP 1 10\r\nRETR 1\r\nDELE 1\r\nRSET\r\nNOOP\r\nQUIT\r\n");
		assert_int_equal(mock_transport_consumed(t), strlen(script));
		free(msgs);
		collect_reset(&col);
		pop3_free(s);
	}
}

static void
test_trace(void **state)
{
	struct collect col = { 0 };
	struct capture cap;
	struct pop3_session *s;
	struct transport *t;
	struct pop3_msg *msgs;
	struct err err;
	char *log;
	size_t n;

	(void)state;
	s = login("+OK\r\n1 120\r\n.\r\n+OK 120 octets\r\nSubject: private\r\n"
	          "\r\nsecret body\r\n.\r\n+OK\r\n",
	    0, &t);
	capture_start(&cap);
	assert_int_equal(pop3_list(s, &msgs, &n, &err), 0);
	assert_int_equal(pop3_retr(s, 1, collect_fn, &col, NULL, &err), 0);
	assert_int_equal(pop3_dele(s, 1, &err), 0);
	log = capture_stop(&cap);
	assert_non_null(strstr(log, "popfetch: acct: C: LIST\n"));
	assert_non_null(strstr(log, "popfetch: acct: S: 1 120\n"));
	assert_non_null(strstr(log, "popfetch: acct: C: RETR 1\n"));
	assert_non_null(strstr(log, "popfetch: acct: S: +OK 120 octets\n"));
	assert_non_null(strstr(log, "popfetch: acct: S: (message, 30 octets)"));
	assert_non_null(strstr(log, "popfetch: acct: C: DELE 1\n"));
	assert_null(strstr(log, "secret body"));
	assert_null(strstr(log, "private"));
	free(log);
	free(msgs);
	collect_reset(&col);
	pop3_free(s);
}

/*
 * GNU SASL draws its SCRAM client nonce from here (through the dynamic
 * symbol table): fixed bytes make the exchange that of RFC 5802 §5,
 * whose client nonce is "fyko+d2lbbFgONRv9qkxdawL".
 */
int
gsasl_nonce(char *data, size_t datalen)
{
	static const unsigned char rfc5802[18] = { 0x7f, 0x29, 0x28, 0xf9, 0xdd,
		0xa5, 0x6d, 0xb1, 0x60, 0x38, 0xd4, 0x6f, 0xf6, 0xa9, 0x31,
		0x75, 0xac, 0x0b };
	size_t i;

	for (i = 0; i < datalen; i++)
		data[i] = (char)rfc5802[i % sizeof(rfc5802)];
	return 0;
}

#define RFC5802_NONCE "fyko+d2lbbFgONRv9qkxdawL"

/* base64 of s, in a static buffer of the test's (one at a time). */
static const char *
b64(const char *s)
{
	static char buf[8192];
	char *out = NULL;

	assert_int_equal(gsasl_base64_to(s, strlen(s), &out, NULL), GSASL_OK);
	assert_true(strlen(out) < sizeof(buf));
	(void)snprintf(buf, sizeof(buf), "%s", out);
	free(out);
	return buf;
}

/*
 * Run pop3_auth() for mech against the server's lines (after GREET);
 * returns its result, with the session in *s_out and *t_out.
 */
static int
auth_run(const char *server, enum pop3_auth mech, const char *user,
    const char *secret, struct pop3_session **s_out, struct transport **t_out,
    struct err *err)
{
	char *script = xasprintf(GREET "%s", server);

	*s_out = start(script, 3, t_out);
	free(script);
	err_clear(err);
	assert_int_equal(pop3_greeting(*s_out, err), 0);
	return pop3_auth(*s_out, mech, user, secret, err);
}

/* An exchange that must succeed, with exactly want written. */
static void
auth_ok(const char *server, enum pop3_auth mech, const char *user,
    const char *secret, const char *want)
{
	struct pop3_session *s;
	struct transport *t;
	struct err err;

	if (auth_run(server, mech, user, secret, &s, &t, &err) == -1)
		fail_msg("%s", err.msg);
	assert_int_equal(pop3_get_state(s), POP3_TRANSACTION);
	assert_string_equal(mock_transport_written(t), want);
	pop3_free(s);
}

static void
test_capa_sasl(void **state)
{
	const struct pop3_caps *caps;
	struct pop3_session *s;
	struct transport *t;
	struct err err;

	(void)state;
	s = start(GREET "+OK\r\nUSER\r\nSASL PLAIN scram-sha-256 GSSAPI "
	                "XOAUTH2 SCRAM-SHA-256-PLUS\r\n.\r\n",
	    2, &t);
	assert_int_equal(pop3_greeting(s, &err), 0);
	assert_int_equal(pop3_capa(s, &err), 0);
	caps = pop3_get_caps(s);
	assert_int_equal(caps->sasl,
	    POP3_AUTH_BIT(POP3_AUTH_PLAIN) |
	        POP3_AUTH_BIT(POP3_AUTH_SCRAM_SHA_256) |
	        POP3_AUTH_BIT(POP3_AUTH_XOAUTH2));
	assert_string_equal(caps->sasl_names,
	    "PLAIN scram-sha-256 GSSAPI XOAUTH2 SCRAM-SHA-256-PLUS");
	assert_true(caps->user);
	pop3_free(s);
}

static void
test_auth_plain_login(void **state)
{
	char want[256];

	(void)state;
	/* RFC 4616: authzid (empty) NUL authcid NUL passwd. */
	auth_ok("+OK\r\n", POP3_AUTH_PLAIN, "bob", "hunter2",
	    "AUTH PLAIN AGJvYgBodW50ZXIy\r\n");
	/* A bare "+" is an empty challenge too. */
	(void)snprintf(want, sizeof(want), "AUTH LOGIN\r\n%s\r\n", b64("bob"));
	(void)snprintf(want + strlen(want), sizeof(want) - strlen(want),
	    "%s\r\n", b64("hunter2"));
	auth_ok("+ VXNlcm5hbWU6\r\n+\r\n+OK\r\n", POP3_AUTH_LOGIN, "bob",
	    "hunter2", want);
}

/* RFC 2195 §2's example. */
static void
test_auth_cram_md5(void **state)
{
	(void)state;
	auth_ok("+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+"
	        "\r\n+OK\r\n",
	    POP3_AUTH_CRAM_MD5, "tim", "tanstaaftanstaaf",
	    "AUTH CRAM-MD5\r\n"
	    "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n");
}

#define SCRAM_SERVER_FIRST \
	"r=" RFC5802_NONCE "3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"

/* RFC 5802 §5, byte for byte, the server's signature checked. */
static void
test_auth_scram_sha1(void **state)
{
	char server[512], want[512];

	(void)state;
	(void)snprintf(server, sizeof(server), "+ %s\r\n",
	    b64(SCRAM_SERVER_FIRST));
	(void)snprintf(server + strlen(server), sizeof(server) - strlen(server),
	    "+ %s\r\n+OK\r\n", b64("v=rmF9pqV8S7suAoZWja4dJRkFsKQ="));
	(void)snprintf(want, sizeof(want), "AUTH SCRAM-SHA-1 %s\r\n",
	    b64("n,,n=user,r=" RFC5802_NONCE));
	(void)snprintf(want + strlen(want), sizeof(want) - strlen(want),
	    "%s\r\n\r\n",
	    b64("c=biws,r=" RFC5802_NONCE "3rfcNHYJY1ZVvWVs7j,"
	        "p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="));
	auth_ok(server, POP3_AUTH_SCRAM_SHA_1, "user", "pencil", want);
}

/*
 * A server that cannot prove it knows the password (a wrong "v="), or
 * says +OK before it has: refused, cancelled with "*", session broken.
 */
static void
test_auth_scram_bad_server(void **state)
{
	static const enum pop3_auth mechs[] = { POP3_AUTH_SCRAM_SHA_1,
		POP3_AUTH_SCRAM_SHA_256 };
	struct pop3_session *s;
	struct transport *t;
	struct err err;
	char server[512];
	const char *w;
	size_t i;

	(void)state;
	for (i = 0; i < 2; i++) {
		(void)snprintf(server, sizeof(server), "+ %s\r\n",
		    b64(SCRAM_SERVER_FIRST));
		(void)snprintf(server + strlen(server),
		    sizeof(server) - strlen(server), "+ %s\r\n-ERR\r\n",
		    b64("v=AAAApqV8S7suAoZWja4dJRkFsKQ="));
		assert_int_equal(auth_run(server, mechs[i], "user", "pencil",
		                     &s, &t, &err),
		    -1);
		printf("# %s\n", err.msg);
		assert_int_equal(err.cls, ERR_PROTO);
		assert_non_null(strstr(err.msg, "failed to prove"));
		assert_int_equal(pop3_get_state(s), POP3_BROKEN);
		w = mock_transport_written(t);
		assert_true(strlen(w) > 3);
		assert_string_equal(w + strlen(w) - 3, "*\r\n");
		pop3_free(s);

		/* +OK right after the client-first message. */
		assert_int_equal(auth_run("+OK\r\n", mechs[i], "user", "pencil",
		                     &s, &t, &err),
		    -1);
		assert_int_equal(err.cls, ERR_PROTO);
		assert_non_null(strstr(err.msg, "before the exchange"));
		assert_int_equal(pop3_get_state(s), POP3_BROKEN);
		pop3_free(s);
	}
}

/* SCRAM-SHA-256 (RFC 7677): the messages' form, and the proof's size. */
static void
test_auth_scram_sha256(void **state)
{
	struct pop3_session *s;
	struct transport *t;
	struct err err;
	char server[512], *dec = NULL, want[256];
	const char *w, *line2;
	size_t len;

	(void)state;
	(void)snprintf(server, sizeof(server), "+ %s\r\n-ERR [AUTH] no\r\n",
	    b64(SCRAM_SERVER_FIRST));
	assert_int_equal(auth_run(server, POP3_AUTH_SCRAM_SHA_256, "user",
	                     "pencil", &s, &t, &err),
	    -1);
	assert_int_equal(err.cls, ERR_AUTH);
	assert_int_equal(pop3_get_state(s), POP3_AUTHORIZATION);
	w = mock_transport_written(t);
	(void)snprintf(want, sizeof(want), "AUTH SCRAM-SHA-256 %s\r\n",
	    b64("n,,n=user,r=" RFC5802_NONCE));
	assert_true(strncmp(w, want, strlen(want)) == 0);
	line2 = w + strlen(want);
	len = strlen(line2);
	assert_true(len > 2 && strcmp(line2 + len - 2, "\r\n") == 0);
	assert_int_equal(gsasl_base64_from(line2, len - 2, &dec, &len),
	    GSASL_OK);
	/* "p=" and base64 of a 32-byte HMAC-SHA-256: 44 characters. */
	(void)snprintf(want, sizeof(want),
	    "c=biws,r=" RFC5802_NONCE "3rfcNHYJY1ZVvWVs7j,p=");
	assert_int_equal(len, strlen(want) + 44);
	assert_memory_equal(dec, want, strlen(want));
	free(dec);
	pop3_free(s);
}

#define GOOGLE_401 \
	"{\"status\":\"401\",\"schemes\":\"bearer\",\"scope\":\"https://mail.google.com/\"}"

static void
test_auth_tokens(void **state)
{
	struct pop3_session *s;
	struct transport *t;
	struct err err;
	char server[512], want[512];
	int i;

	(void)state;
	auth_ok("+OK\r\n", POP3_AUTH_XOAUTH2, "bob@example.com", "ya29.tok",
	    "AUTH XOAUTH2 dXNlcj1ib2JAZXhhbXBsZS5jb20BYXV0aD1CZWFyZXIgeWEyOS50"
	    "b2sBAQ==\r\n");
	auth_ok("+OK\r\n", POP3_AUTH_OAUTHBEARER, "bob@example.com", "ya29.tok",
	    "AUTH OAUTHBEARER bixhPWJvYkBleGFtcGxlLmNvbSwBYXV0aD1CZWFyZXIg"
	    "eWEyOS50b2sBAQ==\r\n");
	/* RFC 5801 §4: "," and "=" in the user name are escaped. */
	(void)snprintf(want, sizeof(want), "AUTH OAUTHBEARER %s\r\n",
	    b64("n,a=a=3Db=2Cc,\001auth=Bearer t\001\001"));
	auth_ok("+OK\r\n", POP3_AUTH_OAUTHBEARER, "a=b,c", "t", want);

	/*
	 * The error challenge: base64 JSON, which the client answers with
	 * an empty line (XOAUTH2) or %x01 (OAUTHBEARER, RFC 7628 §3.2.3);
	 * then -ERR.  The session stays usable for a retry.
	 */
	for (i = 0; i < 2; i++) {
		(void)snprintf(server, sizeof(server),
		    "+ %s\r\n-ERR [AUTH] Invalid credentials\r\n",
		    b64(GOOGLE_401));
		assert_int_equal(auth_run(server,
		                     i == 0 ? POP3_AUTH_XOAUTH2
		                            : POP3_AUTH_OAUTHBEARER,
		                     "bob@example.com", "ya29.tok", &s, &t,
		                     &err),
		    -1);
		printf("# %s\n", err.msg);
		assert_int_equal(err.cls, ERR_AUTH);
		assert_non_null(strstr(err.msg, "\"status\":\"401\""));
		assert_string_equal(err.server, "[AUTH] Invalid credentials");
		assert_int_equal(pop3_get_state(s), POP3_AUTHORIZATION);
		(void)snprintf(want, sizeof(want), "AUTH %s %s\r\n%s\r\n",
		    i == 0 ? "XOAUTH2" : "OAUTHBEARER",
		    i == 0 ? "dXNlcj1ib2JAZXhhbXBsZS5jb20BYXV0aD1CZWFyZXIgeWEy"
		             "OS50b2sBAQ=="
		           : "bixhPWJvYkBleGFtcGxlLmNvbSwBYXV0aD1CZWFyZXIgeWEy"
		             "OS50b2sBAQ==",
		    i == 0 ? "" : "AQ==");
		assert_string_equal(mock_transport_written(t), want);
		pop3_free(s);
	}
}

/*
 * RFC 5034 §4: a response that would make AUTH longer than 255 octets
 * waits for the server's empty challenge, on a line of its own.
 */
static void
test_auth_long_token(void **state)
{
	static const size_t sizes[] = { 150, 2048, 6000 };
	char raw[8192], *token, *want;
	size_t i, n;

	(void)state;
	for (i = 0; i < N_OF(sizes); i++) {
		token = xmalloc(sizes[i] + 1);
		for (n = 0; n < sizes[i]; n++)
			token[n] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ-._~+/"[n % 33];
		token[sizes[i]] = '\0';
		(void)snprintf(raw, sizeof(raw),
		    "user=bob@example.com\001auth=Bearer %s\001\001", token);
		if (strlen("AUTH XOAUTH2 ") + strlen(b64(raw)) + 2 <= 255) {
			want = xasprintf("AUTH XOAUTH2 %s\r\n", b64(raw));
			auth_ok("+OK\r\n", POP3_AUTH_XOAUTH2, "bob@example.com",
			    token, want);
		} else {
			want = xasprintf("AUTH XOAUTH2\r\n%s\r\n", b64(raw));
			auth_ok("+ \r\n+OK\r\n", POP3_AUTH_XOAUTH2,
			    "bob@example.com", token, want);
		}
		free(want);
		free(token);
	}
}

/* RFC 3206: what the -ERR says decides the class; the session lives on. */
static void
test_auth_refused(void **state)
{
	static const struct {
		const char *reply;
		enum err_class cls;
	} cases[] = {
		{ "-ERR bad\r\n", ERR_AUTH },
		{ "-ERR [AUTH] bad\r\n", ERR_AUTH },
		{ "-ERR [SYS/TEMP] later\r\n", ERR_TEMP },
		{ "-ERR [IN-USE] locked\r\n", ERR_TEMP },
		{ "-ERR [LOGIN-DELAY] wait\r\n", ERR_TEMP },
	};
	static const enum pop3_auth mechs[] = { POP3_AUTH_PLAIN, POP3_AUTH_APOP,
		POP3_AUTH_USER };
	struct pop3_session *s;
	struct transport *t;
	struct err err;
	char server[128];
	size_t i, m;

	(void)state;
	for (m = 0; m < N_OF(mechs); m++) {
		for (i = 0; i < N_OF(cases); i++) {
			(void)snprintf(server, sizeof(server), "%s%s",
			    mechs[m] == POP3_AUTH_USER ? "+OK\r\n" : "",
			    cases[i].reply);
			assert_int_equal(auth_run(server, mechs[m], "bob",
			                     "hunter2", &s, &t, &err),
			    -1);
			assert_int_equal(err.cls, cases[i].cls);
			assert_int_equal(pop3_get_state(s), POP3_AUTHORIZATION);
			pop3_free(s);
		}
	}
}

/* A server breaking the exchange: "*" cancels, the session is over. */
static void
test_auth_bad_challenges(void **state)
{
	static const struct {
		const char *server;
		enum pop3_auth mech;
	} cases[] = {
		{ "+ !!notbase64!!\r\n-ERR\r\n", POP3_AUTH_CRAM_MD5 },
		{ "+ e30=\r\n+ e30=\r\n-ERR\r\n", POP3_AUTH_XOAUTH2 },
		{ "+ not base64 at all\r\n-ERR\r\n", POP3_AUTH_OAUTHBEARER },
		{ "+\r\n+\r\n+\r\n+\r\n+\r\n+\r\n+\r\n+\r\n+\r\n+\r\n-ERR\r\n",
		    POP3_AUTH_LOGIN },
	};
	struct pop3_session *s;
	struct transport *t;
	struct err err;
	const char *w;
	size_t i;

	(void)state;
	for (i = 0; i < N_OF(cases); i++) {
		assert_int_equal(auth_run(cases[i].server, cases[i].mech, "bob",
		                     "hunter2", &s, &t, &err),
		    -1);
		printf("# %s\n", err.msg);
		assert_int_equal(err.cls, ERR_PROTO);
		assert_int_equal(pop3_get_state(s), POP3_BROKEN);
		w = mock_transport_written(t);
		assert_string_equal(w + strlen(w) - 3, "*\r\n");
		pop3_free(s);
	}
}

/* RFC 1939 §7's example, with the greeting's timestamp. */
static void
test_apop(void **state)
{
	struct pop3_session *s;
	struct transport *t;
	struct err err;

	(void)state;
	auth_ok("+OK\r\n", POP3_AUTH_APOP, "mrose", "tanstaaf",
	    "APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n");
	s = start("+OK no stamp here\r\n", 0, &t);
	assert_int_equal(pop3_greeting(s, &err), 0);
	assert_int_equal(pop3_apop(s, "mrose", "tanstaaf", &err), -1);
	assert_int_equal(err.cls, ERR_CONFIG);
	assert_string_equal(mock_transport_written(t), "");
	assert_int_equal(pop3_get_state(s), POP3_AUTHORIZATION);
	pop3_free(s);
}

static void
test_auth_bad_args(void **state)
{
	static const struct {
		enum pop3_auth mech;
		const char *user, *secret;
	} cases[] = {
		{ POP3_AUTH_PLAIN, "", "pw" },
		{ POP3_AUTH_PLAIN, "bob", "" },
		{ POP3_AUTH_LOGIN, "bo\nb", "pw" },
		{ POP3_AUTH_XOAUTH2, "bob", "tok en" },
		{ POP3_AUTH_OAUTHBEARER, "bob", "tok\001" },
		{ POP3_AUTH_APOP, "", "pw" },
	};
	struct pop3_session *s;
	struct transport *t;
	struct err err;
	size_t i;

	(void)state;
	for (i = 0; i < N_OF(cases); i++) {
		assert_int_equal(auth_run("+OK\r\n", cases[i].mech,
		                     cases[i].user, cases[i].secret, &s, &t,
		                     &err),
		    -1);
		assert_int_equal(err.cls, ERR_CONFIG);
		assert_string_equal(mock_transport_written(t), "");
		assert_int_equal(pop3_get_state(s), POP3_AUTHORIZATION);
		pop3_free(s);
	}
}

/* The chooser's table. */
static void
test_auth_choose(void **state)
{
#define B(a) POP3_AUTH_BIT(POP3_AUTH_##a)
#define ALL                                                   \
	(B(PLAIN) | B(LOGIN) | B(CRAM_MD5) | B(SCRAM_SHA_1) | \
	    B(SCRAM_SHA_256) | B(XOAUTH2) | B(OAUTHBEARER))
	static const struct {
		unsigned sasl;
		bool is_tls, allow_plain;
		enum pop3_auth req, want; /* want AUTO: ERR_CONFIG */
	} cases[] = {
		{ ALL, true, false, POP3_AUTH_AUTO, POP3_AUTH_SCRAM_SHA_256 },
		{ ALL, false, false, POP3_AUTH_AUTO, POP3_AUTH_SCRAM_SHA_256 },
		{ B(SCRAM_SHA_1) | B(CRAM_MD5) | B(PLAIN), true, false,
		    POP3_AUTH_AUTO, POP3_AUTH_SCRAM_SHA_1 },
		{ B(CRAM_MD5) | B(PLAIN), false, false, POP3_AUTH_AUTO,
		    POP3_AUTH_CRAM_MD5 },
		{ B(PLAIN) | B(LOGIN), true, false, POP3_AUTH_AUTO,
		    POP3_AUTH_PLAIN },
		{ B(LOGIN), true, false, POP3_AUTH_AUTO, POP3_AUTH_LOGIN },
		{ 0, true, false, POP3_AUTH_AUTO, POP3_AUTH_USER },
		{ B(XOAUTH2), true, false, POP3_AUTH_AUTO, POP3_AUTH_USER },
		/* Never a cleartext one without TLS ... */
		{ B(PLAIN) | B(LOGIN), false, false, POP3_AUTH_AUTO,
		    POP3_AUTH_AUTO },
		{ 0, false, false, POP3_AUTH_AUTO, POP3_AUTH_AUTO },
		{ 0, false, false, POP3_AUTH_USER, POP3_AUTH_AUTO },
		{ ALL, false, false, POP3_AUTH_PLAIN, POP3_AUTH_AUTO },
		{ ALL, false, false, POP3_AUTH_XOAUTH2, POP3_AUTH_AUTO },
		/* ... unless the configuration allows plain text. */
		{ B(PLAIN), false, true, POP3_AUTH_AUTO, POP3_AUTH_PLAIN },
		{ 0, false, true, POP3_AUTH_AUTO, POP3_AUTH_USER },
		{ 0, false, true, POP3_AUTH_USER, POP3_AUTH_USER },
		/* Asked for: as asked, if the server lists it. */
		{ ALL, true, false, POP3_AUTH_LOGIN, POP3_AUTH_LOGIN },
		{ ALL, true, false, POP3_AUTH_OAUTHBEARER,
		    POP3_AUTH_OAUTHBEARER },
		{ B(PLAIN), true, false, POP3_AUTH_SCRAM_SHA_256,
		    POP3_AUTH_AUTO },
		{ 0, true, false, POP3_AUTH_XOAUTH2, POP3_AUTH_XOAUTH2 },
		{ ALL, false, false, POP3_AUTH_APOP, POP3_AUTH_APOP },
		{ ALL, false, false, POP3_AUTH_CRAM_MD5, POP3_AUTH_CRAM_MD5 },
	};
#undef ALL
#undef B
	struct pop3_caps caps;
	enum pop3_auth got;
	struct err err;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < N_OF(cases); i++) {
		memset(&caps, 0, sizeof(caps));
		caps.has_capa = true;
		caps.sasl = cases[i].sasl;
		if (cases[i].sasl != 0)
			(void)snprintf(caps.sasl_names, sizeof(caps.sasl_names),
			    "SOMETHING");
		got = POP3_AUTH_AUTO;
		rc = pop3_auth_choose(&caps, cases[i].is_tls,
		    cases[i].allow_plain, cases[i].req, &got, &err);
		if (cases[i].want == POP3_AUTH_AUTO) {
			if (rc != -1)
				fail_msg("case %zu: chose %s", i,
				    pop3_auth_name(got));
			assert_int_equal(err.cls, ERR_CONFIG);
		} else {
			if (rc != 0)
				fail_msg("case %zu: %s", i, err.msg);
			assert_string_equal(pop3_auth_name(got),
			    pop3_auth_name(cases[i].want));
		}
	}
}

static void
test_auth_names(void **state)
{
	enum pop3_auth a;
	int i;

	(void)state;
	for (i = 0; i < POP3_AUTH_COUNT; i++) {
		assert_int_equal(pop3_auth_from_name(pop3_auth_name(
		                                         (enum pop3_auth)i),
		                     &a),
		    0);
		assert_int_equal(a, i);
	}
	assert_int_equal(pop3_auth_from_name("SCRAM-SHA-256", &a), 0);
	assert_int_equal(a, POP3_AUTH_SCRAM_SHA_256);
	assert_int_equal(pop3_auth_from_name("digest-md5", &a), -1);
}

/*
 * No secret, nor any encoding of it, reaches the log at trace level:
 * every AUTH payload shows as ****.
 */
static void
test_auth_not_traced(void **state)
{
	static const char secret[] = "s3cr3t-pw";
	static const struct {
		enum pop3_auth mech;
		const char *server;
		const char *shown;
	} cases[] = {
		{ POP3_AUTH_PLAIN, "+OK\r\n", "C: AUTH PLAIN ****\n" },
		{ POP3_AUTH_LOGIN,
		    "+ VXNlcm5hbWU6\r\n+ UGFzc3dvcmQ6\r\n+OK\r\n",
		    "C: AUTH LOGIN\n" },
		{ POP3_AUTH_CRAM_MD5, "+ PDE4OTY+\r\n+OK\r\n",
		    "C: AUTH CRAM-MD5\n" },
		{ POP3_AUTH_XOAUTH2, "+ e30=\r\n-ERR\r\n",
		    "C: AUTH XOAUTH2 ****\n" },
		{ POP3_AUTH_OAUTHBEARER, "+OK\r\n",
		    "C: AUTH OAUTHBEARER ****\n" },
		{ POP3_AUTH_APOP, "+OK\r\n", "C: APOP ****\n" },
		{ POP3_AUTH_USER, "+OK\r\n+OK\r\n", "C: PASS ****\n" },
	};
	struct capture cap;
	struct pop3_session *s;
	struct transport *t;
	struct err err;
	char *log, *enc;
	size_t i;

	(void)state;
	for (i = 0; i < N_OF(cases); i++) {
		capture_start(&cap);
		(void)auth_run(cases[i].server, cases[i].mech, "bob", secret,
		    &s, &t, &err);
		log = capture_stop(&cap);
		assert_non_null(strstr(log, cases[i].shown));
		assert_null(strstr(log, secret));
		assert_null(strstr(err.msg, secret));
		/* Every base64 alignment of the secret. */
		enc = xstrdup(b64(secret));
		enc[8] = '\0';
		assert_null(strstr(log, enc));
		free(enc);
		assert_null(strstr(log, b64("s3cr3t-")));
		assert_null(strstr(log, "AGJvYgBzM2NyM3QtcHc"));
		if (cases[i].mech == POP3_AUTH_LOGIN)
			assert_non_null(strstr(log, "C: ****\n"));
		free(log);
		pop3_free(s);
	}
}

/* Pipelined TOP: commands first, then the replies in order. */
static void
test_top_pipelined(void **state)
{
	struct collect col = { 0 };
	struct pop3_session *s;
	struct transport *t;
	struct err err;
	size_t c;

	(void)state;
	for (c = 0; c < N_CHUNKS; c++) {
		s = login("-ERR no such message\r\n"
		          "+OK\r\nSubject: b\r\n\r\n.\r\n",
		    chunks[c], &t);
		assert_int_equal(pop3_send_top(s, 1, 0, &err), 0);
		assert_int_equal(pop3_send_top(s, 2, 0, &err), 0);
		/* Queued, then written together. */
		assert_string_equal(written_after_login(t), "");
		assert_int_equal(pop3_flush(s, &err), 0);
		assert_string_equal(written_after_login(t),
		    "TOP 1 0\r\nTOP 2 0\r\n");
		assert_int_equal(pop3_read_top(s, collect_fn, &col, &err), -1);
		assert_int_equal(err.scope, ERR_SCOPE_MESSAGE);
		assert_int_equal(pop3_get_state(s), POP3_TRANSACTION);
		assert_int_equal(pop3_read_top(s, collect_fn, &col, &err), 0);
		assert_int_equal(col.len, strlen("Subject: b\n\n"));
		assert_memory_equal(col.data, "Subject: b\n\n", col.len);
		assert_int_equal(pop3_send_top(s, 0, 0, &err), -1);
		assert_int_equal(err.cls, ERR_SOFTWARE);
		collect_reset(&col);
		pop3_free(s);
	}
	free(col.data);
}

/*
 * RETR and DELE pipelined: each reply is read in turn, and a -ERR is
 * blamed on the command it answers, not on the last one sent.
 */
static void
test_retr_dele_pipelined(void **state)
{
	struct collect col = { 0 };
	struct pop3_session *s;
	struct transport *t;
	struct err err;
	uint64_t size;
	size_t c;

	(void)state;
	for (c = 0; c < N_CHUNKS; c++) {
		s = login("+OK\r\nA\r\n.\r\n"
		          "-ERR [SYS/TEMP] not now\r\n"
		          "+OK\r\n..B\r\n.\r\n"
		          "+OK deleted\r\n",
		    chunks[c], &t);
		assert_int_equal(pop3_send_retr(s, 1, &err), 0);
		assert_int_equal(pop3_send_dele(s, 1, &err), 0);
		assert_int_equal(pop3_send_retr(s, 2, &err), 0);
		assert_int_equal(pop3_send_dele(s, 2, &err), 0);
		assert_int_equal(pop3_read_retr(s, collect_fn, &col, &size,
		                     &err),
		    0);
		assert_int_equal(size, 2);
		assert_memory_equal(col.data, "A\n", 2);
		/* Every command was out before the first reply was read. */
		assert_string_equal(written_after_login(t),
		    "RETR 1\r\nDELE 1\r\nRETR 2\r\nDELE 2\r\n");
		assert_int_equal(pop3_read_dele(s, &err), -1);
		assert_int_equal(err.scope, ERR_SCOPE_MESSAGE);
		assert_int_equal(err.cls, ERR_TEMP);
		assert_non_null(strstr(err.msg, "DELE 1"));
		assert_null(strstr(err.msg, "DELE 2"));
		assert_int_equal(pop3_get_state(s), POP3_TRANSACTION);
		collect_reset(&col);
		assert_int_equal(pop3_read_retr(s, collect_fn, &col, &size,
		                     &err),
		    0);
		assert_memory_equal(col.data, ".B\n", 3);
		assert_int_equal(pop3_read_dele(s, &err), 0);
		assert_int_equal(pop3_send_retr(s, 0, &err), -1);
		assert_int_equal(err.cls, ERR_SOFTWARE);
		collect_reset(&col);
		pop3_free(s);
	}
	free(col.data);
}

/*
 * LIST and UIDL with PIPELINING: both go out in one write before the
 * LIST reply is read (so a write that fails leaves it unread); without
 * it, UIDL goes out only after the LIST reply.
 */
static void
test_list_uidl_pipelined(void **state)
{
	static const char *const capas[2] = { "+OK\r\nUIDL\r\n.\r\n",
		"+OK\r\nUIDL\r\nPIPELINING\r\n.\r\n" };
	struct pop3_session *s;
	struct pop3_msg *msgs;
	struct transport *t;
	struct err err;
	char script[512];
	bool has_uidl;
	size_t n, before, k;

	(void)state;
	for (k = 0; k < 2; k++) {
		(void)snprintf(script, sizeof(script),
		    "%s%s+OK user\r\n+OK pass\r\n"
		    "+OK\r\n2 20\r\n1 10\r\n.\r\n+OK\r\n1 a\r\n2 b\r\n.\r\n",
		    GREET, capas[k]);
		/* All goes well: sorted, with their uids. */
		s = start(script, 5, &t);
		assert_int_equal(pop3_greeting(s, &err), 0);
		assert_int_equal(pop3_capa(s, &err), 0);
		assert_int_equal(pop3_user_pass(s, "bob", "hunter2", &err), 0);
		assert_int_equal(pop3_list_uidl(s, &msgs, &n, &has_uidl, &err),
		    0);
		assert_int_equal(n, 2);
		assert_true(has_uidl);
		assert_int_equal(msgs[0].num, 1);
		assert_string_equal(msgs[0].uid, "a");
		assert_int_equal(msgs[1].size, 20);
		assert_string_equal(msgs[1].uid, "b");
		free(msgs);
		pop3_free(s);

		/* The write of UIDL fails: was the LIST reply read first? */
		s = start(script, 5, &t);
		assert_int_equal(pop3_greeting(s, &err), 0);
		assert_int_equal(pop3_capa(s, &err), 0);
		assert_int_equal(pop3_user_pass(s, "bob", "hunter2", &err), 0);
		mock_transport_fail_write_at(t,
		    strlen(mock_transport_written(t)) + strlen("LIST\r\n"));
		before = mock_transport_consumed(t);
		assert_int_equal(pop3_list_uidl(s, &msgs, &n, &has_uidl, &err),
		    -1);
		free(msgs);
		if (k == 1)
			assert_int_equal(mock_transport_consumed(t), before);
		else
			assert_true(mock_transport_consumed(t) > before);
		pop3_free(s);
	}
}

/* A caller that never reads is stopped, not allowed to grow a queue. */
static void
test_pipeline_bounded(void **state)
{
	struct pop3_session *s;
	struct transport *t;
	struct err err;
	unsigned i;
	int rc = 0;

	(void)state;
	s = login("", 0, &t);
	for (i = 1; i <= 100000 && rc == 0; i++)
		rc = pop3_send_dele(s, i, &err);
	assert_int_equal(rc, -1);
	assert_int_equal(err.cls, ERR_SOFTWARE);
	assert_true(i < 1100);
	pop3_free(s);
}

/*
 * How far commands may go ahead: one at a time without PIPELINING; with
 * it, while the commands unanswered stay within 8 KB (some 700 DELEs),
 * and again once replies come.
 */
static void
test_may_pipeline(void **state)
{
	struct pop3_session *s;
	struct transport *t;
	struct err err;
	unsigned i;

	(void)state;
	s = login("+OK\r\n", 0, &t);
	assert_true(pop3_may_pipeline(s, 1));
	assert_false(pop3_may_pipeline(s, 2));
	assert_int_equal(pop3_send_dele(s, 1, &err), 0);
	assert_false(pop3_may_pipeline(s, 1));
	assert_int_equal(pop3_read_dele(s, &err), 0);
	assert_true(pop3_may_pipeline(s, 1));
	pop3_free(s);

	s = start(GREET "+OK\r\nPIPELINING\r\n.\r\n+OK\r\n+OK\r\n"
	                "+OK\r\n+OK\r\n",
	    0, &t);
	assert_int_equal(pop3_greeting(s, &err), 0);
	assert_int_equal(pop3_capa(s, &err), 0);
	assert_int_equal(pop3_user_pass(s, "bob", "hunter2", &err), 0);
	assert_true(pop3_may_pipeline(s, 300));
	for (i = 1; pop3_may_pipeline(s, 1) && i < 10000; i++)
		assert_int_equal(pop3_send_dele(s, 1000 + i, &err), 0);
	/* "DELE 1xxx\r\n" is 11 octets: 8192 / 11 of them, fewer a few. */
	assert_true(i > 700 && i < 750);
	assert_false(pop3_may_pipeline(s, 1));
	assert_int_equal(pop3_read_dele(s, &err), 0);
	assert_true(pop3_may_pipeline(s, 1));
	assert_false(pop3_may_pipeline(s, 64));
	pop3_free(s);
}

/*
 * With PIPELINING, USER and PASS go out in one write (one round trip);
 * a -ERR to USER is the error, PASS's reply is read all the same, and
 * the session stays in AUTHORIZATION, in step for QUIT.
 */
static void
test_user_pass_pipelined(void **state)
{
	struct pop3_session *s;
	struct transport *t;
	struct err err;
	size_t c;

	(void)state;
	for (c = 0; c < N_CHUNKS; c++) {
		s = start(GREET "+OK\r\nPIPELINING\r\n.\r\n+OK u\r\n+OK in\r\n",
		    chunks[c], &t);
		mock_transport_allow_tls(t);
		assert_int_equal(transport_starttls(t, NULL, &err), 0);
		assert_int_equal(pop3_greeting(s, &err), 0);
		assert_int_equal(pop3_capa(s, &err), 0);
		assert_int_equal(pop3_user_pass(s, "bob", "hunter2", &err), 0);
		assert_string_equal(mock_transport_last_write(t),
		    "USER bob\r\nPASS hunter2\r\n");
		assert_int_equal(pop3_get_state(s), POP3_TRANSACTION);
		pop3_free(s);
	}
	s = start(GREET "+OK\r\nPIPELINING\r\n.\r\n-ERR no such user\r\n"
	                "-ERR no\r\n+OK bye\r\n",
	    1, &t);
	mock_transport_allow_tls(t);
	assert_int_equal(transport_starttls(t, NULL, &err), 0);
	assert_int_equal(pop3_greeting(s, &err), 0);
	assert_int_equal(pop3_capa(s, &err), 0);
	assert_int_equal(pop3_user_pass(s, "bob", "hunter2", &err), -1);
	assert_int_equal(err.cls, ERR_AUTH);
	assert_string_equal(err.server, "no such user");
	assert_int_equal(pop3_get_state(s), POP3_AUTHORIZATION);
	assert_int_equal(pop3_quit(s, &err), 0);
	pop3_free(s);
	/* In the clear, PASS goes out only once USER was accepted. */
	s = start(GREET "+OK\r\nPIPELINING\r\n.\r\n-ERR no such user\r\n"
	                "+OK bye\r\n",
	    1, &t);
	assert_int_equal(pop3_greeting(s, &err), 0);
	assert_int_equal(pop3_capa(s, &err), 0);
	assert_int_equal(pop3_user_pass(s, "bob", "hunter2", &err), -1);
	assert_null(strstr(mock_transport_written(t), "hunter2"));
	assert_int_equal(pop3_quit(s, &err), 0);
	pop3_free(s);
}

/*
 * The round trip is timed from a write with nothing else pending to
 * the first status line of its reply: none after the greeting alone,
 * one after CAPA.
 */
static void
test_rtt_measured(void **state)
{
	struct pop3_session *s;
	struct transport *t;
	struct err err;

	(void)state;
	s = start(GREET CAPA_FULL, 1, &t);
	assert_int_equal(pop3_greeting(s, &err), 0);
	assert_int_equal(pop3_get_rtt_us(s), 0);
	assert_int_equal(pop3_capa(s, &err), 0);
	assert_true(pop3_get_rtt_us(s) > 0);
	pop3_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_may_pipeline),
		cmocka_unit_test(test_rtt_measured),
		cmocka_unit_test(test_user_pass_pipelined),
		cmocka_unit_test(test_greeting_ok),
		cmocka_unit_test(test_greeting_garbage),
		cmocka_unit_test(test_greeting_too_long),
		cmocka_unit_test(test_greeting_err),
		cmocka_unit_test(test_greeting_eof_and_fault),
		cmocka_unit_test(test_resp_codes),
		cmocka_unit_test(test_user_pass),
		cmocka_unit_test(test_user_pass_bad_args),
		cmocka_unit_test(test_password_not_logged),
		cmocka_unit_test(test_capa),
		cmocka_unit_test(test_retr_dele_pipelined),
		cmocka_unit_test(test_pipeline_bounded),
		cmocka_unit_test(test_list_uidl_pipelined),
		cmocka_unit_test(test_capa_err),
		cmocka_unit_test(test_capa_after_login),
		cmocka_unit_test(test_capa_broken),
		cmocka_unit_test(test_stls),
		cmocka_unit_test(test_stls_failures),
		cmocka_unit_test(test_stat),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_list_bad),
		cmocka_unit_test(test_list_huge_size),
		cmocka_unit_test(test_list_too_many),
		cmocka_unit_test(test_uidl),
		cmocka_unit_test(test_uidl_bad),
		cmocka_unit_test(test_uidl_bad_uid),
		cmocka_unit_test(test_top_pipelined),
		cmocka_unit_test(test_uidl_padded),
		cmocka_unit_test(test_uidl_unsupported),
		cmocka_unit_test(test_retr_unstuff),
		cmocka_unit_test(test_retr_every_split),
		cmocka_unit_test(test_retr_line_ends),
		cmocka_unit_test(test_retr_huge_line),
		cmocka_unit_test(test_retr_eof),
		cmocka_unit_test(test_retr_faults),
		cmocka_unit_test(test_message_err_keeps_session),
		cmocka_unit_test(test_broken_refuses_all),
		cmocka_unit_test(test_wrong_state),
		cmocka_unit_test(test_quit),
		cmocka_unit_test(test_rset_noop),
		cmocka_unit_test(test_written_session),
		cmocka_unit_test(test_trace),
		cmocka_unit_test(test_capa_sasl),
		cmocka_unit_test(test_auth_plain_login),
		cmocka_unit_test(test_auth_cram_md5),
		cmocka_unit_test(test_auth_scram_sha1),
		cmocka_unit_test(test_auth_scram_bad_server),
		cmocka_unit_test(test_auth_scram_sha256),
		cmocka_unit_test(test_auth_tokens),
		cmocka_unit_test(test_auth_long_token),
		cmocka_unit_test(test_auth_refused),
		cmocka_unit_test(test_auth_bad_challenges),
		cmocka_unit_test(test_apop),
		cmocka_unit_test(test_auth_bad_args),
		cmocka_unit_test(test_auth_choose),
		cmocka_unit_test(test_auth_names),
		cmocka_unit_test(test_auth_not_traced),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
