#ifndef POPFETCH_COMPAT_COMPAT_H
#define POPFETCH_COMPAT_COMPAT_H

#include <stddef.h>
#include <string.h>

/*
 * What the C library may lack, by what configure found (config.h comes
 * first in every .c file).  The fallbacks are compiled in any case, so
 * that the tests exercise them where the C library has its own.
 */

/*
 * Zero len octets at p, as a store the compiler may not drop even when
 * p is never read again (for secrets about to be freed).
 */
void compat_explicit_bzero(void *p, size_t len);
#ifndef HAVE_EXPLICIT_BZERO
#define explicit_bzero compat_explicit_bzero
#endif

#endif
