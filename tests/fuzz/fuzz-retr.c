/*
 * Multi-line replies streamed through the dot-unstuffing reader (RFC
 * 1939 §3): RETR 1, TOP 2 0 and RETR 3 in a row on a logged-in session,
 * each reply starting where the last one ended, then QUIT.
 *
 * The reader works on whatever pieces the reads return; a plain
 * line-by-line decoder below, which sees the whole input at once, says
 * what it must produce.  Any difference is a bug in one of them.
 *
 * Input: one byte choosing the read size, then the server's bytes after
 * the login.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fetch/pop3.h"
#include "tests/fuzz/fuzz.h"
#include "tests/unit/mock-transport.h"
#include "util/xmalloc.h"

/* Greeting, USER, PASS. */
#define FUZZ_LOGIN "+OK\r\n+OK\r\n+OK\r\n"
#define FUZZ_COMMANDS 3

/* What the callback received, in one piece. */
struct collect {
	char *buf;
	size_t len, cap;
};

/* The reference decoder: a cursor over the whole input. */
struct ref {
	const char *p;
	size_t len, pos;
};

static int
collect_fn(void *arg, const char *data, size_t len, struct err *err)
{
	struct collect *c = arg;

	(void)err;
	FUZZ_CHECK(len > 0);
	/* Unstuffing only ever removes bytes. */
	FUZZ_CHECK(len <= c->cap - c->len);
	memcpy(c->buf + c->len, data, len);
	c->len += len;
	return 0;
}

static bool
has_word(const char *line, size_t len, const char *word)
{
	size_t wlen = strlen(word);

	return len >= wlen && memcmp(line, word, wlen) == 0 &&
	    (len == wlen || line[wlen] == ' ');
}

/*
 * The next line, without its LF and at most one CR before it; false at
 * the end of the input (*line_out, *len_out: what is left).
 */
static bool
ref_line(struct ref *r, const char **line_out, size_t *len_out)
{
	const char *line = r->p + r->pos, *lf;
	size_t len;

	*line_out = line;
	if ((lf = memchr(line, '\n', r->len - r->pos)) == NULL) {
		*len_out = r->len - r->pos;
		r->pos = r->len;
		return false;
	}
	len = (size_t)(lf - line);
	r->pos += len + 1;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	*len_out = len;
	return true;
}

/* A status line: 1 for +OK, 0 for -ERR, -1 if the session must break. */
static int
ref_status(struct ref *r)
{
	const char *line;
	size_t len;

	if (!ref_line(r, &line, &len) || len > POP3_LINE_MAX)
		return -1;
	if (has_word(line, len, "+OK"))
		return 1;
	if (has_word(line, len, "-ERR"))
		return 0;
	return -1;
}

/*
 * The body up to the "." line into out: 0, or -1 if the input ends
 * first (*tail_out: the length of the unfinished last line).
 */
static int
ref_body(struct ref *r, struct collect *out, size_t *tail_out)
{
	const char *line;
	size_t len;

	*tail_out = 0;
	for (;;) {
		if (!ref_line(r, &line, &len)) {
			*tail_out = len;
			return -1;
		}
		if (len == 1 && line[0] == '.')
			return 0;
		if (len > 0 && line[0] == '.') {
			line++;
			len--;
		}
		memcpy(out->buf + out->len, line, len);
		out->len += len;
		out->buf[out->len++] = '\n';
	}
}

static size_t
count_str(const char *buf, size_t len, const char *needle)
{
	size_t n = 0, nlen = strlen(needle);
	const char *p = buf, *end = buf + len, *hit;

	while ((hit = memmem(p, (size_t)(end - p), needle, nlen)) != NULL) {
		n++;
		p = hit + 1;
	}
	return n;
}

static void
check_one(struct pop3_session *s, struct ref *r, int rc, uint64_t size_out,
    const struct err *err, const struct collect *got, struct collect *want)
{
	size_t start = r->pos, tail;
	int status, body;

	want->len = 0;
	status = ref_status(r);
	if (status == -1) {
		FUZZ_CHECK(rc == -1 && pop3_get_state(s) == POP3_BROKEN);
		FUZZ_CHECK(got->len == 0);
		fuzz_check_err(err);
		return;
	}
	if (status == 0) {
		FUZZ_CHECK(rc == -1 && pop3_get_state(s) == POP3_TRANSACTION);
		FUZZ_CHECK(err->scope == ERR_SCOPE_MESSAGE);
		FUZZ_CHECK(got->len == 0);
		fuzz_check_err(err);
		return;
	}
	body = ref_body(r, want, &tail);
	if (body == -1) {
		/* Cut off: what came out so far is the decoded prefix. */
		FUZZ_CHECK(rc == -1 && pop3_get_state(s) == POP3_BROKEN);
		FUZZ_CHECK(
		    got->len >= want->len && got->len <= want->len + tail);
		FUZZ_CHECK(memcmp(got->buf, want->buf, want->len) == 0);
		fuzz_check_err(err);
		return;
	}
	FUZZ_CHECK(rc == 0 && pop3_get_state(s) == POP3_TRANSACTION);
	FUZZ_CHECK(got->len == want->len);
	FUZZ_CHECK(memcmp(got->buf, want->buf, want->len) == 0);
	FUZZ_CHECK(size_out == got->len);
	/*
	 * No line ending survives as CRLF: a "\r\n" in the output can only
	 * be a line whose own text ends in CR ("\r\r\n" on the wire).
	 */
	FUZZ_CHECK(count_str(got->buf, got->len, "\r\n") <=
	    count_str(r->p + start, r->pos - start, "\r\r\n"));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct collect got = { 0 }, want = { 0 };
	struct pop3_session *s;
	struct transport *t;
	struct ref r;
	struct err err;
	uint64_t size_out;
	int i, rc;

	if (size == 0)
		return 0;
	r.p = (const char *)data + 1;
	r.len = size - 1;
	r.pos = 0;
	got.cap = want.cap = r.len + 1;
	got.buf = xmalloc(got.cap);
	want.buf = xmalloc(want.cap);
	s = fuzz_session(FUZZ_LOGIN, data + 1, size - 1, fuzz_chunk(data[0]),
	    &t);
	err_clear(&err);
	FUZZ_CHECK(pop3_greeting(s, &err) == 0);
	FUZZ_CHECK(pop3_user_pass(s, "u", "p", &err) == 0);
	for (i = 0; i < FUZZ_COMMANDS; i++) {
		got.len = 0;
		size_out = UINT64_MAX;
		err_clear(&err);
		if (i == 1)
			rc = pop3_top(s, 2, 0, collect_fn, &got, &err);
		else
			rc = pop3_retr(s, (unsigned)i + 1, collect_fn, &got,
			    &size_out, &err);
		if (i == 1 && rc == 0)
			size_out = got.len;
		check_one(s, &r, rc, size_out, &err, &got, &want);
		if (pop3_get_state(s) != POP3_TRANSACTION)
			break;
	}
	if (pop3_get_state(s) == POP3_TRANSACTION) {
		err_clear(&err);
		rc = pop3_quit(s, &err);
		FUZZ_CHECK(rc == 0 || pop3_get_state(s) == POP3_BROKEN);
		if (rc == -1)
			fuzz_check_err(&err);
	}
	if (pop3_get_state(s) == POP3_BROKEN)
		fuzz_check_broken(s, t);
	pop3_free(s);
	free(got.buf);
	free(want.buf);
	return 0;
}
