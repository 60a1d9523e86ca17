#include "config.h"

#include <sys/select.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "cli/daemon.h"
#include "util/str.h"

/* Back-off stops growing at this many times the interval. */
#define DAEMON_BACKOFF_MAX 8

int
daemon_parse_interval(const char *s, unsigned *seconds_out)
{
	size_t len = strlen(s);
	uint64_t n, unit = 1;

	if (len > 0) {
		switch (s[len - 1]) {
		case 's':
			len--;
			break;
		case 'm':
			unit = 60;
			len--;
			break;
		case 'h':
			unit = 3600;
			len--;
			break;
		default:
			break;
		}
	}
	if (str_tonum(s, len, DAEMON_INTERVAL_MAX, &n) == -1 || n == 0 ||
	    n * unit > DAEMON_INTERVAL_MAX)
		return -1;
	*seconds_out = (unsigned)(n * unit);
	return 0;
}

unsigned
daemon_delay(unsigned interval, int status, unsigned *ntemp)
{
	unsigned factor = 1, i;

	if (status == 0)
		*ntemp = 0;
	else if (status == EX_TEMPFAIL && *ntemp < 16)
		(*ntemp)++;
	for (i = 0; i < *ntemp && factor < DAEMON_BACKOFF_MAX; i++)
		factor *= 2;
	if (interval > DAEMON_INTERVAL_MAX)
		interval = DAEMON_INTERVAL_MAX;
	return interval * factor;
}

static double
daemon_now(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
daemon_sleep(unsigned seconds, const volatile sig_atomic_t *stop,
    const sigset_t *waitmask)
{
	double end = daemon_now() + seconds, left;
	struct timespec ts;

	/*
	 * pselect() unblocks the signals and waits in one step: a signal
	 * that came before is delivered then, and ends the wait at once.
	 * Other signals (SIGHUP) end it early too: wait for the rest.
	 */
	while (*stop == 0 && (left = end - daemon_now()) > 0) {
		ts.tv_sec = (time_t)left;
		ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
		if (pselect(0, NULL, NULL, NULL, &ts, waitmask) == -1 &&
		    errno != EINTR)
			break;
	}
}
