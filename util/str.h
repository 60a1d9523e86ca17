#ifndef POPFETCH_UTIL_STR_H
#define POPFETCH_UTIL_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Parse exactly len bytes of s as an unsigned decimal number in
 * [0, max]: digits only, no sign, no space, no empty string.  Server
 * data is hostile, so nothing lax.  Returns 0 and sets *out, or -1.
 */
int str_tonum(const char *s, size_t len, uint64_t max, uint64_t *out);

/*
 * Copy at most len bytes of untrusted src into dst (of dstsize bytes,
 * always NUL-terminated), replacing every byte outside printable ASCII
 * with '?'.  A truncated copy ends in "...".
 */
void str_sanitise(char *dst, size_t dstsize, const char *src, size_t len);

/*
 * "~" or "~/x" to "$HOME" or "$HOME/x"; anything else copied.
 * Returns a new string (caller owns), or NULL when HOME is unset.
 */
char *str_expand_home(const char *path);

/* Does s start with prefix? */
bool str_has_prefix(const char *s, const char *prefix);

/*
 * The 32-bit FNV-1a hash of the bytes of s: offset basis 2166136261,
 * prime 16777619, each byte XORed in, then a multiplication modulo
 * 2^32.  Fixed for good, unlike GLib's g_str_hash(): every machine and
 * every version must compute the same (popfetch --shard).
 */
uint32_t str_hash_fnv1a(const char *s);

#endif
