#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sysexits.h>

#include "util/log.h"
#include "util/str.h"

static enum log_level log_level = LOG_LEVEL_NOTICE;
static bool log_syslog;

void
log_init(enum log_level level, bool use_syslog)
{
	log_level = level;
	if (use_syslog && !log_syslog)
		openlog("popfetch", LOG_PID, LOG_MAIL);
	log_syslog = use_syslog;
}

enum log_level
log_get_level(void)
{
	return log_level;
}

bool
log_enabled(enum log_level level)
{
	return level <= log_level;
}

static void log_vemit(int, int, const char *, va_list)
    __attribute__((format(printf, 3, 0)));

static void
log_vemit(int prio, int errnum, const char *fmt, va_list ap)
{
	char line[1024];
	size_t len;

	(void)vsnprintf(line, sizeof(line), fmt, ap);
	if (errnum != 0) {
		len = strlen(line);
		(void)snprintf(line + len, sizeof(line) - len, ": %s",
		    strerror(errnum));
	}
	if (log_syslog)
		syslog(prio, "%s", line);
	else {
		(void)fprintf(stderr, "popfetch: %s\n", line);
		(void)fflush(stderr);
	}
}

#define LOG_FUNC(name, level, prio, with_errno)                     \
	void name(const char *fmt, ...)                             \
	{                                                           \
		int saved = errno;                                  \
		va_list ap;                                         \
                                                                    \
		if (!log_enabled(level))                            \
			return;                                     \
		va_start(ap, fmt);                                  \
		log_vemit(prio, (with_errno) ? saved : 0, fmt, ap); \
		va_end(ap);                                         \
		errno = saved;                                      \
	}

LOG_FUNC(log_error, LOG_LEVEL_ERROR, LOG_ERR, false)
LOG_FUNC(log_warn, LOG_LEVEL_ERROR, LOG_WARNING, true)
LOG_FUNC(log_warnx, LOG_LEVEL_ERROR, LOG_WARNING, false)
LOG_FUNC(log_notice, LOG_LEVEL_NOTICE, LOG_NOTICE, false)
LOG_FUNC(log_info, LOG_LEVEL_INFO, LOG_INFO, false)
LOG_FUNC(log_debug, LOG_LEVEL_TRACE, LOG_DEBUG, false)

void
log_trace(const char *account, const char *prefix, const char *data, size_t len)
{
	char clean[512];

	if (!log_enabled(LOG_LEVEL_TRACE))
		return;
	str_sanitise(clean, sizeof(clean), data, len);
	log_debug("%s: %s: %s", account, prefix, clean);
}

void
fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_CRIT, saved, fmt, ap);
	va_end(ap);
	exit(EX_OSERR);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_CRIT, 0, fmt, ap);
	va_end(ap);
	exit(EX_SOFTWARE);
}
