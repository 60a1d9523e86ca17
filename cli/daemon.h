#ifndef POPFETCH_CLI_DAEMON_H
#define POPFETCH_CLI_DAEMON_H

#include <signal.h>
#include <stdbool.h>

/*
 * --daemon: run the accounts every interval, in the foreground, until a
 * signal stops it.  These are the pieces the loop in main.c is made of.
 */

/* The longest interval accepted: a week. */
#define DAEMON_INTERVAL_MAX (7U * 24 * 3600)

/*
 * Parse an interval: a number of seconds, or a number followed by s, m
 * or h, from 1 second to DAEMON_INTERVAL_MAX.  Returns 0 and sets
 * *seconds_out, or -1.
 */
int daemon_parse_interval(const char *s, unsigned *seconds_out);

/*
 * The wait before the next round, after a round that ended with exit
 * status status: interval, doubled for each round in a row that ended
 * with EX_TEMPFAIL (counted in *ntemp), up to 8 times interval.  A
 * round that succeeded resets the count; other failures leave it.
 */
unsigned daemon_delay(unsigned interval, int status, unsigned *ntemp);

/*
 * Wait seconds, or less if *stop becomes nonzero.  Signals that set
 * *stop must be among those blocked by the caller in the mask given:
 * they are let through only while waiting, so none is missed.
 */
void daemon_sleep(unsigned seconds, const volatile sig_atomic_t *stop,
    const sigset_t *waitmask);

#endif
