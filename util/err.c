#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include <glib.h>

#include "util/err.h"
#include "util/str.h"

void
err_clear(struct err *err)
{
	if (err == NULL)
		return;
	err->cls = ERR_NONE;
	err->scope = ERR_SCOPE_MESSAGE;
	err->errnum = 0;
	err->msg[0] = '\0';
	err->server[0] = '\0';
}

/*
 * An error quotes what it was given: configuration text, server replies,
 * message headers, file names.  None of it may reach a terminal or a log
 * raw, so every control character (C0, DEL, C1) and every byte that is
 * not UTF-8 becomes '?', whoever wrote the format.  Printable UTF-8 (a
 * Maildir called "Entwürfe") stays as the user wrote it.
 */
static void
err_scrub(char *s)
{
	gunichar c;

	while (*s != '\0') {
		c = g_utf8_get_char_validated(s, -1);
		if (c == (gunichar)-1 || c == (gunichar)-2 || c < 0x20 ||
		    (c >= 0x7f && c < 0xa0)) {
			*s++ = '?';
			continue;
		}
		s += g_utf8_skip[*(guchar *)s];
	}
}

static void err_vset(struct err *, enum err_class, int, const char *, va_list)
    __attribute__((format(printf, 4, 0)));

static void
err_vset(struct err *err, enum err_class cls, int errnum, const char *fmt,
    va_list ap)
{
	size_t len;

	err->cls = cls;
	err->errnum = errnum;
	err->server[0] = '\0';
	/* The callee may narrow this with err_set_scope(). */
	if (cls == ERR_CONFIG || cls == ERR_SOFTWARE)
		err->scope = ERR_SCOPE_RUN;
	else
		err->scope = ERR_SCOPE_ACCOUNT;
	(void)vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	if (errnum != 0) {
		len = strlen(err->msg);
		(void)snprintf(err->msg + len, sizeof(err->msg) - len, ": %s",
		    strerror(errnum));
	}
	err_scrub(err->msg);
}

void
err_set(struct err *err, enum err_class cls, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	if (err != NULL) {
		va_start(ap, fmt);
		err_vset(err, cls, saved, fmt, ap);
		va_end(ap);
	}
	errno = saved;
}

void
err_setx(struct err *err, enum err_class cls, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	if (err != NULL) {
		va_start(ap, fmt);
		err_vset(err, cls, 0, fmt, ap);
		va_end(ap);
	}
	errno = saved;
}

void
err_prefix(struct err *err, const char *fmt, ...)
{
	char buf[ERR_MSG_MAX];
	size_t used, n;
	va_list ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	used = strlen(buf);
	if (used + 2 < sizeof(buf)) {
		memcpy(buf + used, ": ", 2);
		used += 2;
		n = strnlen(err->msg, sizeof(buf) - used - 1);
		memcpy(buf + used, err->msg, n);
		buf[used + n] = '\0';
	}
	memcpy(err->msg, buf, sizeof(buf));
	err_scrub(err->msg);
}

void
err_set_server(struct err *err, const char *text, size_t len)
{
	size_t used;

	if (err == NULL)
		return;
	str_sanitise(err->server, sizeof(err->server), text, len);
	if (err->server[0] == '\0')
		return;
	used = strlen(err->msg);
	(void)snprintf(err->msg + used, sizeof(err->msg) - used,
	    ": server said \"%s\"", err->server);
}

void
err_set_scope(struct err *err, enum err_scope scope)
{
	if (err != NULL)
		err->scope = scope;
}

int
err_exitcode(enum err_class cls)
{
	switch (cls) {
	case ERR_NONE:
		return 0;
	case ERR_TEMP:
		return EX_TEMPFAIL;
	case ERR_AUTH:
		return EX_NOPERM;
	case ERR_PROTO:
		return EX_PROTOCOL;
	case ERR_CONFIG:
		return EX_CONFIG;
	case ERR_LOCAL:
		return EX_IOERR;
	case ERR_SOFTWARE:
		return EX_SOFTWARE;
	}
	return EX_SOFTWARE;
}

/*
 * Precedence, worst first: a bug, then what the user must fix (config,
 * credentials), then local trouble, then a broken server, then what a
 * later run will likely get past on its own.
 */
static int
err_rank(enum err_class cls)
{
	switch (cls) {
	case ERR_NONE:
		return 0;
	case ERR_TEMP:
		return 1;
	case ERR_PROTO:
		return 2;
	case ERR_LOCAL:
		return 3;
	case ERR_AUTH:
		return 4;
	case ERR_CONFIG:
		return 5;
	case ERR_SOFTWARE:
		return 6;
	}
	return 6;
}

enum err_class
err_worse(enum err_class a, enum err_class b)
{
	return err_rank(a) >= err_rank(b) ? a : b;
}

const char *
err_class_name(enum err_class cls)
{
	static const char *const names[] = {
		[ERR_NONE] = "none",
		[ERR_TEMP] = "temporary failure",
		[ERR_AUTH] = "authentication failure",
		[ERR_PROTO] = "protocol error",
		[ERR_CONFIG] = "configuration error",
		[ERR_LOCAL] = "local error",
		[ERR_SOFTWARE] = "internal error",
	};

	if ((size_t)cls >= sizeof(names) / sizeof(names[0]))
		return "unknown error";
	return names[cls];
}
