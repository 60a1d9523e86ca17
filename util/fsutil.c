#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/fsutil.h"
#include "util/xmalloc.h"

int
fsutil_fsync_dir(int dirfd, const char *path, struct err *err)
{
	if (fsync(dirfd) == -1 && errno != EINVAL) {
		err_set(err, ERR_LOCAL, "fsync %s", path);
		return -1;
	}
	return 0;
}

int
fsutil_sync_parent(const char *path, struct err *err)
{
	char *parent, *slash;
	int fd, rc = 0;

	parent = xstrdup(path);
	if ((slash = strrchr(parent, '/')) == NULL) {
		free(parent);
		parent = xstrdup(".");
	} else if (slash == parent)
		slash[1] = '\0';
	else
		*slash = '\0';
	if ((fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		err_set(err, ERR_LOCAL, "open %s", parent);
		rc = -1;
	} else {
		rc = fsutil_fsync_dir(fd, parent, err);
		(void)close(fd);
	}
	free(parent);
	return rc;
}

int
fsutil_mkdirs(const char *path, mode_t mode, struct err *err)
{
	char *copy, *p;
	int rc = -1;

	/* The loop starts past the first byte. */
	if (path[0] == '\0') {
		errno = ENOENT;
		err_set(err, ERR_LOCAL, "mkdir \"\"");
		return -1;
	}
	copy = xstrdup(path);
	for (p = copy + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;

		*p = '\0';
		if (mkdir(copy, mode) == 0) {
			if (fsutil_sync_parent(copy, err) == -1)
				goto out;
		} else if (errno != EEXIST) {
			err_set(err, ERR_LOCAL, "mkdir %s", copy);
			goto out;
		}
		*p = saved;
		if (saved == '\0')
			break;
	}
	struct stat st;
	if (stat(path, &st) == -1) {
		err_set(err, ERR_LOCAL, "stat %s", path);
		goto out;
	}
	if (!S_ISDIR(st.st_mode)) {
		err_setx(err, ERR_LOCAL, "%s: not a directory", path);
		goto out;
	}
	rc = 0;
out:
	free(copy);
	return rc;
}

int
fsutil_write_all(int fd, const void *buf, size_t len, struct err *err)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			err_set(err, ERR_LOCAL, "write");
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
fsutil_atomic_write(int dirfd, const char *name, const void *data, size_t len,
    mode_t mode, struct err *err)
{
	char tmp[4096];
	int fd = -1;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", name,
	        (long)getpid()) >= sizeof(tmp)) {
		err_setx(err, ERR_LOCAL, "%s: name too long", name);
		return -1;
	}
	/*
	 * A new file, never one found there: a symbolic link planted under
	 * this name must not redirect the write.  One left by a dead run
	 * with this pid (a file or a link) is removed first, not followed.
	 */
	fd = openat(dirfd, tmp,
	    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd == -1 && errno == EEXIST && unlinkat(dirfd, tmp, 0) == 0)
		fd = openat(dirfd, tmp,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd == -1) {
		err_set(err, ERR_LOCAL, "create %s", tmp);
		return -1;
	}
	if (fsutil_write_all(fd, data, len, err) == -1) {
		err_prefix(err, "%s", tmp);
		goto fail;
	}
	if (fsync(fd) == -1) {
		err_set(err, ERR_LOCAL, "fsync %s", tmp);
		goto fail;
	}
	if (close(fd) == -1) {
		fd = -1;
		err_set(err, ERR_LOCAL, "close %s", tmp);
		goto fail;
	}
	fd = -1;
	if (renameat(dirfd, tmp, dirfd, name) == -1) {
		err_set(err, ERR_LOCAL, "rename %s to %s", tmp, name);
		goto fail;
	}
	return fsutil_fsync_dir(dirfd, name, err);
fail:
	if (fd != -1)
		(void)close(fd);
	(void)unlinkat(dirfd, tmp, 0);
	return -1;
}
