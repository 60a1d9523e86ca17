#ifndef POPFETCH_TESTS_FAULT_H
#define POPFETCH_TESTS_FAULT_H

#include <stdbool.h>

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

#endif
