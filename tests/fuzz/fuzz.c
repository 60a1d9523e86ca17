#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "tests/fuzz/fuzz.h"
#include "tests/unit/mock-transport.h"
#include "util/xmalloc.h"

void
fuzz_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)fputs("fuzz: invariant broken: ", stderr);
	(void)vfprintf(stderr, fmt, ap);
	(void)fputc('\n', stderr);
	va_end(ap);
	abort();
}

size_t
fuzz_chunk(uint8_t selector)
{
	if (selector >= 0xc0)
		return 0;
	return (size_t)(selector % 64) + 1;
}

struct pop3_session *
fuzz_session(const char *prefix, const uint8_t *data, size_t len, size_t chunk,
    struct transport **t_out)
{
	struct transport *t;
	size_t plen = prefix != NULL ? strlen(prefix) : 0;
	char *script;

	script = xmalloc(plen + len + 1);
	if (plen > 0)
		memcpy(script, prefix, plen);
	if (len > 0)
		memcpy(script + plen, data, len);
	t = mock_transport_new(script, plen + len, chunk);
	free(script);
	/* STLS may succeed; what matters is what is read around it. */
	mock_transport_allow_tls(t);
	*t_out = t;
	return pop3_new(t, "fuzz");
}

bool
fuzz_is_printable(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

/*
 * Printable as an error message is: valid UTF-8 without control
 * characters (C0, DEL, C1).
 */
static bool
fuzz_is_printable_utf8(const char *s, size_t len)
{
	const char *end = s + len;
	gunichar c;

	if (!g_utf8_validate(s, (gssize)len, NULL))
		return false;
	for (; s < end; s += g_utf8_skip[*(const guchar *)s]) {
		c = g_utf8_get_char(s);
		if (c < 0x20 || (c >= 0x7f && c < 0xa0))
			return false;
	}
	return true;
}

void
fuzz_check_err(const struct err *err)
{
	size_t mlen = strnlen(err->msg, sizeof(err->msg));
	size_t slen = strnlen(err->server, sizeof(err->server));

	FUZZ_CHECK(err->cls != ERR_NONE);
	FUZZ_CHECK(err->cls != ERR_SOFTWARE);
	FUZZ_CHECK(mlen > 0 && mlen < sizeof(err->msg));
	FUZZ_CHECK(slen < sizeof(err->server));
	FUZZ_CHECK(fuzz_is_printable_utf8(err->msg, mlen));
	FUZZ_CHECK(fuzz_is_printable(err->server, slen));
}

/* Nothing read, nothing written, ERR_PROTO. */
static void
fuzz_check_refused(struct transport *t, size_t rpos, size_t wlen, int rc,
    const struct err *err)
{
	FUZZ_CHECK(rc == -1);
	FUZZ_CHECK(err->cls == ERR_PROTO);
	FUZZ_CHECK(mock_transport_consumed(t) == rpos);
	FUZZ_CHECK(strlen(mock_transport_written(t)) == wlen);
}

static int
fuzz_discard(void *arg, const char *data, size_t len, struct err *err)
{
	(void)arg;
	(void)data;
	(void)len;
	(void)err;
	fuzz_fail("a broken session delivered data");
}

void
fuzz_check_broken(struct pop3_session *s, struct transport *t)
{
	size_t rpos = mock_transport_consumed(t);
	size_t wlen = strlen(mock_transport_written(t));
	unsigned count;
	uint64_t size;
	struct err err;
	bool is_supported;
	struct pop3_msg *msgs = NULL;
	size_t n;

	FUZZ_CHECK(pop3_get_state(s) == POP3_BROKEN);
	err_clear(&err);
	fuzz_check_refused(t, rpos, wlen, pop3_noop(s, &err), &err);
	err_clear(&err);
	fuzz_check_refused(t, rpos, wlen, pop3_stat(s, &count, &size, &err),
	    &err);
	err_clear(&err);
	fuzz_check_refused(t, rpos, wlen, pop3_list(s, &msgs, &n, &err), &err);
	FUZZ_CHECK(msgs == NULL);
	err_clear(&err);
	fuzz_check_refused(t, rpos, wlen,
	    pop3_uidl(s, NULL, 0, &is_supported, &err), &err);
	err_clear(&err);
	fuzz_check_refused(t, rpos, wlen,
	    pop3_retr(s, 1, fuzz_discard, NULL, NULL, &err), &err);
	err_clear(&err);
	fuzz_check_refused(t, rpos, wlen, pop3_quit(s, &err), &err);
	FUZZ_CHECK(pop3_get_state(s) == POP3_BROKEN);
}

void
fuzz_scratch_dir(const char *name, char *dir, size_t len)
{
	const char *base = getenv("TMPDIR");

	if (access("/dev/shm", W_OK) == 0)
		base = "/dev/shm";
	else if (base == NULL || base[0] == '\0')
		base = "/tmp";
	(void)snprintf(dir, len, "%s/%s.XXXXXX", base, name);
	if (mkdtemp(dir) == NULL)
		fuzz_fail("mkdtemp %s", dir);
}
