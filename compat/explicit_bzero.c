#include "config.h"

#include <string.h>

#include "compat/compat.h"

/*
 * memset called through a volatile pointer: the compiler cannot know
 * which function it calls, so it cannot remove the call as a dead store.
 */
static void *(*const volatile compat_memset)(void *, int, size_t) = memset;

void
compat_explicit_bzero(void *p, size_t len)
{
	compat_memset(p, 0, len);
}
