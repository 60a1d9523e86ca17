#ifndef POPFETCH_TESTS_FAULT_H
#define POPFETCH_TESTS_FAULT_H

#include <stdbool.h>
#include <stddef.h>

/*
 * A fault to inject into a wrapped system call (-Wl,--wrap=NAME): the
 * nth call from arming on, and the times - 1 after it, fail with errnum.
 */
struct fault {
	int nth; /* 0: disarmed */
	int times;
	int errnum;
	int calls;
};

void fault_arm(struct fault *f, int nth, int times, int errnum);

/* Count a call; true (errno set) when this one is to fail. */
bool fault_hit(struct fault *f);

/*
 * tests/unit/fault-io.c, for a test linked with -Wl,--wrap=write,
 * --wrap=fsync,--wrap=renameat,--wrap=ftruncate: the faults of those
 * calls, a cap on what one write(2) moves (0: none), and call counts.
 */
extern struct fault fault_write, fault_fsync, fault_renameat, fault_ftruncate;
extern size_t fault_write_max;
extern int fault_write_calls, fault_fsync_calls;

/* Disarm them all and zero the counts. */
void fault_io_reset(void);

#endif
