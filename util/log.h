#ifndef POPFETCH_UTIL_LOG_H
#define POPFETCH_UTIL_LOG_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Messages go to stderr, or to syslog after log_init(..., true).
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
