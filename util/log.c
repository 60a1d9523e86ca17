#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sysexits.h>
#include <unistd.h>

#include "util/log.h"
#include "util/str.h"

static enum log_level log_level = LOG_LEVEL_NOTICE;
static bool log_syslog;
static bool log_journal; /* stderr is systemd's journal */
static void (*log_hook)(void);

/*
 * Is stderr the stream systemd connected to its journal?  It says so in
 * JOURNAL_STREAM, "device:inode" of that stream (systemd.exec(5)); a
 * stderr redirected since is another file.
 */
static bool
log_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	uintmax_t dev, ino;
	struct stat sb;
	char end;

	if (env == NULL ||
	    sscanf(env, "%" SCNuMAX ":%" SCNuMAX "%c", &dev, &ino, &end) != 2 ||
	    fstat(STDERR_FILENO, &sb) == -1)
		return false;
	return (uintmax_t)sb.st_dev == dev && (uintmax_t)sb.st_ino == ino;
}

void
log_init(enum log_level level, bool use_syslog)
{
	log_level = level;
	log_journal = log_is_journal();
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

bool
log_is_syslog(void)
{
	return log_syslog;
}

void
log_set_hook(void (*before_stderr)(void))
{
	log_hook = before_stderr;
}

/*
 * One write for the whole line: stderr is unbuffered, and stdio may
 * split a line into several writes, which other processes' lines (-j)
 * could come between.  Lines shorter than PIPE_BUF are atomic on a pipe.
 * Into the journal, the line starts with its syslog priority as "<N>"
 * (sd-daemon(3)) instead of the program's name, which the journal has.
 */
static void
log_write_stderr(int prio, const char *line)
{
	char buf[1100];
	size_t len, off = 0;
	ssize_t n;

	if (log_hook != NULL)
		log_hook();
	if (log_journal)
		len =
		    (size_t)snprintf(buf, sizeof(buf), "<%d>%s\n", prio, line);
	else
		len =
		    (size_t)snprintf(buf, sizeof(buf), "popfetch: %s\n", line);
	if (len >= sizeof(buf)) {
		len = sizeof(buf) - 1;
		buf[len - 1] = '\n';
	}
	while (off < len) {
		if ((n = write(STDERR_FILENO, buf + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			return;
		}
		off += (size_t)n;
	}
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
	if (!log_syslog || prio <= LOG_ERR)
		log_write_stderr(prio, line);
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
log_summary(bool has_news, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (!log_syslog || !log_enabled(LOG_LEVEL_NOTICE))
		return;
	va_start(ap, fmt);
	(void)vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	syslog(has_news ? LOG_NOTICE : LOG_INFO, "%s", line);
}

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
