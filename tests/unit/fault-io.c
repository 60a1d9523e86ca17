#include "config.h"

#include <sys/types.h>

#include <unistd.h>

#include "tests/unit/fault.h"

/*
 * Linked into a test only when it wraps these calls (-Wl,--wrap=write,
 * --wrap=fsync, --wrap=renameat, --wrap=ftruncate): nothing else refers
 * to this file's symbols.
 */
struct fault fault_write, fault_fsync, fault_renameat, fault_ftruncate;
size_t fault_write_max;
int fault_write_calls, fault_fsync_calls;

ssize_t __real_write(int, const void *, size_t);
ssize_t __wrap_write(int, const void *, size_t);
int __real_fsync(int);
int __wrap_fsync(int);
int __real_renameat(int, const char *, int, const char *);
int __wrap_renameat(int, const char *, int, const char *);
int __real_ftruncate(int, off_t);
int __wrap_ftruncate(int, off_t);

ssize_t
__wrap_write(int fd, const void *buf, size_t len)
{
	fault_write_calls++;
	if (fault_hit(&fault_write))
		return -1;
	if (fault_write_max > 0 && len > fault_write_max)
		len = fault_write_max;
	return __real_write(fd, buf, len);
}

int
__wrap_fsync(int fd)
{
	fault_fsync_calls++;
	if (fault_hit(&fault_fsync))
		return -1;
	return __real_fsync(fd);
}

int
__wrap_renameat(int ofd, const char *old, int nfd, const char *new)
{
	if (fault_hit(&fault_renameat))
		return -1;
	return __real_renameat(ofd, old, nfd, new);
}

int
__wrap_ftruncate(int fd, off_t len)
{
	if (fault_hit(&fault_ftruncate))
		return -1;
	return __real_ftruncate(fd, len);
}

void
fault_io_reset(void)
{
	fault_arm(&fault_write, 0, 0, 0);
	fault_arm(&fault_fsync, 0, 0, 0);
	fault_arm(&fault_renameat, 0, 0, 0);
	fault_arm(&fault_ftruncate, 0, 0, 0);
	fault_write_max = 0;
	fault_write_calls = fault_fsync_calls = 0;
}
