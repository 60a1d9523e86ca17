#ifndef POPFETCH_UTIL_LOG_H
#define POPFETCH_UTIL_LOG_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Messages go to stderr, or to syslog (facility mail) after
 * log_init(..., true); errors go to stderr in both cases, so that cron
 * and a person still see them.  Each line is written whole with a
 * single write(2), so processes sharing stderr never mix their lines.
 * Lines are "what: why", lowercase; the caller puts the account first.
 */
enum log_level {
	LOG_LEVEL_ERROR = 0, /* -q: errors only */
	LOG_LEVEL_NOTICE,    /* default: warnings and summaries */
	LOG_LEVEL_INFO,      /* -v: per-message lines */
	LOG_LEVEL_TRACE,     /* -v -v: protocol trace */
};

void log_init(enum log_level level, bool use_syslog);
enum log_level log_get_level(void);
bool log_enabled(enum log_level level);
bool log_is_syslog(void);

/*
 * Called before any line is written to stderr: the command line's
 * progress display erases itself there.  NULL: none.
 */
void log_set_hook(void (*before_stderr)(void));

/*
 * A run's summary line, for syslog only (on stderr the caller prints it
 * itself): LOG_NOTICE when has_news (mail was retrieved or deleted),
 * else LOG_INFO.  Nothing unless syslog is on and the level is above
 * LOG_LEVEL_ERROR.
 */
void log_summary(bool has_news, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* log_warn appends ": strerror(errno)", log_warnx does not. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * One protocol trace line at LOG_LEVEL_TRACE: prefix ("C" or "S"), then
 * the untrusted bytes, sanitised.  Callers mask secrets before this.
 */
void log_trace(const char *account, const char *prefix, const char *data,
    size_t len);

/* Log and exit with EX_SOFTWARE (fatalx) or EX_OSERR (fatal, +errno). */
void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

#endif
