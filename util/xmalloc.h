#ifndef POPFETCH_UTIL_XMALLOC_H
#define POPFETCH_UTIL_XMALLOC_H

#include <stddef.h>

/*
 * Allocators that never return NULL: out of memory, they log and exit
 * with EX_OSERR.  That is safe because nothing is deleted on a server
 * before it is durable on disk.  The caller owns what they return.
 */
void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xreallocarray(void *ptr, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Wipe size bytes of ptr, then free it.  ptr may be NULL. */
void freezero(void *ptr, size_t size);

/* Wipe and free a NUL-terminated secret.  s may be NULL. */
void xfree_secret(char *s);

#endif
