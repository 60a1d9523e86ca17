#include "config.h"

#include <errno.h>

#include "tests/unit/fault.h"

void
fault_arm(struct fault *f, int nth, int times, int errnum)
{
	f->nth = nth;
	f->times = times;
	f->errnum = errnum;
	f->calls = 0;
}

bool
fault_hit(struct fault *f)
{
	if (f->nth == 0)
		return false;
	f->calls++;
	if (f->calls >= f->nth && f->calls < f->nth + f->times) {
		errno = f->errnum;
		return true;
	}
	return false;
}
