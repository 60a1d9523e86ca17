#ifndef POPFETCH_UTIL_ERR_H
#define POPFETCH_UTIL_ERR_H

#include <stddef.h>

/*
 * A classified error, filled in once by the function that failed and
 * passed up unchanged; callers may only add context with err_prefix().
 * It never allocates, so it is safe on every failure path.
 *
 * The class says what kind of failure it was and decides the exit code
 * (see err_exitcode()); the scope says how much of the work it spoils.
 */
enum err_class {
	ERR_NONE = 0,
	ERR_TEMP,     /* network, timeout, server busy: worth retrying */
	ERR_AUTH,     /* credentials refused */
	ERR_PROTO,    /* the server broke the protocol */
	ERR_CONFIG,   /* the configuration is wrong */
	ERR_LOCAL,    /* local I/O: disk full, permissions */
	ERR_SOFTWARE, /* a bug or an impossible state */
};

enum err_scope {
	ERR_SCOPE_MESSAGE = 0, /* one message failed; the others may go on */
	ERR_SCOPE_ACCOUNT,     /* this account's run is over */
	ERR_SCOPE_RUN,         /* nothing more can be done in this run */
};

#define ERR_MSG_MAX 256
#define ERR_SERVER_MAX 128

struct err {
	enum err_class cls;
	enum err_scope scope;
	int errnum;                  /* saved errno, 0 if none */
	char msg[ERR_MSG_MAX];       /* what failed, and why */
	char server[ERR_SERVER_MAX]; /* sanitised -ERR text, or "" */
};

/* Reset to "no error". */
void err_clear(struct err *err);

/*
 * Record a failure of class cls with a printf-style message; err_set()
 * appends ": strerror(errno)" and saves errno, err_setx() does not.
 * Both keep errno unchanged for the caller.  err may be NULL.  What
 * the message quotes may be untrusted (configuration, server, message):
 * every byte outside printable ASCII in it becomes '?'.
 */
void err_set(struct err *err, enum err_class cls, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void err_setx(struct err *err, enum err_class cls, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Put "context: " in front of the message, sanitised as err_set() does.
 * err may be NULL.
 */
void err_prefix(struct err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Keep a copy of the server's reply text (untrusted: bytes outside
 * printable ASCII are replaced) and append it to the message.
 */
void err_set_server(struct err *err, const char *text, size_t len);

void err_set_scope(struct err *err, enum err_scope scope);

/* The sysexits(3) code for a class (0 for ERR_NONE). */
int err_exitcode(enum err_class cls);

/*
 * Of two classes, the one whose failure is worse for the run's exit
 * status, by the fixed precedence documented in popfetch(1).
 */
enum err_class err_worse(enum err_class a, enum err_class b);

const char *err_class_name(enum err_class cls);

#endif
