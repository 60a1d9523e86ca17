#ifndef POPFETCH_CLI_SECRET_H
#define POPFETCH_CLI_SECRET_H

#include "util/err.h"

/*
 * Run command and return the first line of its standard output, without
 * the line ending, as the password (caller owns; wipe and free it with
 * xfree_secret()).  The command runs directly when it is a plain word
 * list, through /bin/sh -c when it uses shell syntax.  Its standard
 * error passes through to ours.  A command that cannot start, fails, or
 * prints nothing is ERR_AUTH with a message saying so; its output is
 * never put in the message.  A command that has not finished within
 * timeout_ms is killed: ERR_TEMP.  At most 64 KiB of output is taken.
 */
char *secret_from_command(const char *command, int timeout_ms, struct err *err);

/*
 * The password for user at host in the netrc file at path (the
 * "machine HOST login USER password PASS" entries of ~/.netrc, then a
 * "default" entry).  Returns it (caller owns, xfree_secret()), or NULL:
 * with err->cls ERR_NONE when there is no such file or entry, with err
 * set (ERR_CONFIG) when the file is unreadable, malformed, or readable
 * by others while holding a password.
 */
char *secret_from_netrc(const char *path, const char *host, const char *user,
    struct err *err);

#endif
