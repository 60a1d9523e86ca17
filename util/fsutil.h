#ifndef POPFETCH_UTIL_FSUTIL_H
#define POPFETCH_UTIL_FSUTIL_H

#include <sys/types.h>

#include <stddef.h>

#include "util/err.h"

/*
 * fsync a directory so that the names created, linked or renamed in it
 * survive a crash.  dirfd is borrowed; path names it in the error.
 */
int fsutil_fsync_dir(int dirfd, const char *path, struct err *err);

/* fsync the directory that holds path (ERR_LOCAL on failure). */
int fsutil_sync_parent(const char *path, struct err *err);

/*
 * Create path and its missing parents with mode (like mkdir -p); an
 * existing directory is fine.  Each directory made is fsynced into its
 * parent.
 */
int fsutil_mkdirs(const char *path, mode_t mode, struct err *err);

/*
 * Replace name in dirfd with len bytes of data, atomically and durably:
 * write a temporary file beside it, fsync, rename over name, fsync the
 * directory.  On failure name is untouched and the temporary is gone.
 * The temporary is always a new file (O_EXCL, O_NOFOLLOW): a link found
 * under its name is removed, never written through.
 */
int fsutil_atomic_write(int dirfd, const char *name, const void *data,
    size_t len, mode_t mode, struct err *err);

/* write(2) all of buf, retrying on EINTR and short writes. */
int fsutil_write_all(int fd, const void *buf, size_t len, struct err *err);

#endif
