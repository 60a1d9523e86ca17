#include "config.h"

#include <sys/random.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "maildir/maildir.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/xmalloc.h"

/*
 * Messages are streamed through a fixed buffer, so memory stays bounded
 * whatever their size.
 */
#define MAILDIR_BUF_SIZE (64 * 1024)

/*
 * How many fresh names to try when one is taken.  A clash needs the same
 * second, microsecond, pid, counter and 64 random bits: one retry is
 * already a sign of something odd, so a few are plenty.
 */
#define MAILDIR_NAME_TRIES 8

/* Longest escaped host name put in a file name (NAME_MAX is 255). */
#define MAILDIR_HOST_MAX 128

/* A file in tmp/ untouched this long was left by a killed run. */
#define MAILDIR_TMP_MAX_AGE (36 * 60 * 60)

/* A name linked by the last maildir_sync(), to take back if need be. */
struct maildir_linked {
	int dir_fd; /* new/ or cur/ */
	char *name;
};

struct maildir {
	char *path;
	int tmp_fd;   /* tmp/ */
	int new_fd;   /* new/ */
	int cur_fd;   /* cur/ */
	bool is_busy; /* a delivery is in progress */
	/*
	 * O_TMPFILE refused here (an old kernel, a file system without
	 * it): messages are written under a name in tmp/ instead.
	 */
	bool no_tmpfile;
	/* Staged deliveries, in order, waiting for maildir_sync(). */
	struct maildir_delivery *staged, **staged_tail;
	struct maildir_linked *linked;
	size_t nlinked;
};

struct maildir_delivery {
	struct maildir *md;
	char *name; /* in tmp/, or the base of the final name */
	int fd;
	char *buf;
	size_t used;      /* bytes in buf */
	uint64_t size;    /* bytes accepted so far */
	bool has_failed;  /* a write failed: only abort is left */
	char *tag;        /* extra ",TAG" for the name in new/, or NULL */
	char *flags;      /* deliver into cur/ with ":2,FLAGS", or NULL */
	bool is_unlinked; /* no tmp/ name (O_TMPFILE, or removed) */
	bool is_tmpfile;  /* O_TMPFILE: linked through /proc/self/fd */
	char *final;      /* once staged: its name in new/ or cur/ */
	struct maildir_delivery *next; /* in md->staged */
};

static const char *const maildir_subdirs[] = { "tmp", "new", "cur" };

static int
maildir_make_subdirs(int dirfd, const char *path, struct err *err)
{
	bool made = false;
	size_t i;

	for (i = 0; i < sizeof(maildir_subdirs) / sizeof(maildir_subdirs[0]);
	     i++) {
		if (mkdirat(dirfd, maildir_subdirs[i], 0700) == 0)
			made = true;
		else if (errno != EEXIST) {
			err_set(err, ERR_LOCAL, "mkdir %s/%s", path,
			    maildir_subdirs[i]);
			return -1;
		}
	}
	/* The new entries must be durable before any message is linked. */
	if (made && fsutil_fsync_dir(dirfd, path, err) == -1)
		return -1;
	return 0;
}

static int
maildir_open_subdir(int dirfd, const char *path, const char *sub,
    struct err *err)
{
	int fd;

	fd = openat(dirfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (fd == -1)
		err_set(err, ERR_LOCAL, "open %s/%s", path, sub);
	return fd;
}

/*
 * Remove what a killed run left in tmp/: the Maildir convention is that
 * a file there untouched for 36 hours is garbage.  Best effort: a file
 * that cannot be removed stays, and the Maildir still works.
 */
static void
maildir_clean_tmp(int tmp_fd)
{
	struct dirent *de;
	struct stat st;
	time_t cutoff;
	DIR *dir;
	int fd;

	if ((fd = dup(tmp_fd)) == -1)
		return;
	if ((dir = fdopendir(fd)) == NULL) {
		(void)close(fd);
		return;
	}
	cutoff = time(NULL) - MAILDIR_TMP_MAX_AGE;
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (fstatat(tmp_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) ==
		        0 &&
		    S_ISREG(st.st_mode) && st.st_mtime < cutoff &&
		    st.st_atime < cutoff)
			(void)unlinkat(tmp_fd, de->d_name, 0);
	}
	(void)closedir(dir);
}

struct maildir *
maildir_open(const char *path, struct err *err)
{
	struct maildir *md;
	int dirfd = -1;

	md = xcalloc(1, sizeof(*md));
	md->tmp_fd = md->new_fd = md->cur_fd = -1;
	md->staged_tail = &md->staged;
#ifndef O_TMPFILE
	md->no_tmpfile = true;
#endif
	md->path = xstrdup(path);
	if (fsutil_mkdirs(path, 0700, err) == -1)
		goto fail;
	dirfd = openat(AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (dirfd == -1) {
		err_set(err, ERR_LOCAL, "open %s", path);
		goto fail;
	}
	if (maildir_make_subdirs(dirfd, path, err) == -1)
		goto fail;
	if ((md->tmp_fd = maildir_open_subdir(dirfd, path, "tmp", err)) == -1)
		goto fail;
	if ((md->new_fd = maildir_open_subdir(dirfd, path, "new", err)) == -1)
		goto fail;
	if ((md->cur_fd = maildir_open_subdir(dirfd, path, "cur", err)) == -1)
		goto fail;
	maildir_clean_tmp(md->tmp_fd);
	(void)close(dirfd);
	return md;
fail:
	if (dirfd != -1)
		(void)close(dirfd);
	maildir_close(md);
	return NULL;
}

static void maildir_delivery_free(struct maildir_delivery *d);
static void maildir_forget_linked(struct maildir *md);

void
maildir_close(struct maildir *md)
{
	struct maildir_delivery *d;

	if (md == NULL)
		return;
	/* Staged but never synced: not delivered. */
	while ((d = md->staged) != NULL) {
		md->staged = d->next;
		maildir_delivery_free(d);
	}
	maildir_forget_linked(md);
	if (md->tmp_fd != -1)
		(void)close(md->tmp_fd);
	if (md->new_fd != -1)
		(void)close(md->new_fd);
	if (md->cur_fd != -1)
		(void)close(md->cur_fd);
	free(md->path);
	free(md);
}

static void
maildir_random(unsigned char *p, size_t len)
{
	struct timespec ts;
	ssize_t n;
	size_t i;

	while (len > 0) {
		n = getrandom(p, len, 0);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
		} else if (n == -1 && errno != EINTR)
			break;
	}
	if (len == 0)
		return;
	/*
	 * No entropy source: the name stays unique through time, pid and
	 * counter, and O_EXCL catches the rest.
	 */
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	for (i = 0; i < len; i++)
		p[i] = (unsigned char)(ts.tv_nsec >> (8 * (i % 4)));
}

/*
 * The host name, with the characters that mean something in a Maildir
 * name escaped as octal: '/' and ':' (as other Maildir writers do), and
 * also ',' (which starts the ",S=" field), '\' (so that the escaping can
 * be undone) and anything outside printable ASCII.
 */
static void
maildir_host(char *out, size_t outsize)
{
	char host[256];
	const unsigned char *p;
	size_t used = 0;
	int n;

	if (gethostname(host, sizeof(host)) == -1 || host[0] == '\0')
		(void)strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	for (p = (const unsigned char *)host; *p != '\0'; p++) {
		if (*p < 0x21 || *p > 0x7e || *p == '/' || *p == ':' ||
		    *p == ',' || *p == '\\')
			n = snprintf(out + used, outsize - used, "\\%03o", *p);
		else
			n = snprintf(out + used, outsize - used, "%c", *p);
		if (n < 0 || (size_t)n >= outsize - used)
			break; /* a shorter host part, never half an escape */
		used += (size_t)n;
	}
	out[used] = '\0';
}

char *
maildir_unique_name(void)
{
	/*
	 * The host name and the random part are taken once per process
	 * (a fork takes them anew: the pid tells it), not once a message:
	 * time, pid and counter already make the name unique, the random
	 * bits only guard against a pid reused within a microsecond.
	 */
	static char host[MAILDIR_HOST_MAX + 1], hex[8 * 2 + 1];
	static unsigned long counter;
	static pid_t owner;
	unsigned char rnd[8];
	struct timeval tv;
	pid_t pid = getpid();
	size_t i;

	if (owner != pid) {
		maildir_random(rnd, sizeof(rnd));
		for (i = 0; i < sizeof(rnd); i++)
			(void)snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
		maildir_host(host, sizeof(host));
		owner = pid;
	}
	(void)gettimeofday(&tv, NULL);
	counter++;
	return xasprintf("%lld.M%06ldP%ldQ%luR%s.%s", (long long)tv.tv_sec,
	    (long)tv.tv_usec, (long)pid, counter, hex, host);
}

/*
 * An unnamed file in tmp/ (O_TMPFILE): it appears under its final name
 * once linked, and a crash before that leaves nothing behind.  -1 with
 * md->no_tmpfile set when the system cannot; -1 with errno otherwise.
 */
static int
maildir_open_tmpfile(struct maildir *md)
{
#ifdef O_TMPFILE
	int fd;

	if (md->no_tmpfile)
		return -1;
	fd = openat(md->tmp_fd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
	if (fd != -1)
		return fd;
	/* Not supported here (open(2): EISDIR, EOPNOTSUPP). */
	if (errno == EISDIR || errno == EOPNOTSUPP || errno == EINVAL ||
	    errno == ENOENT)
		md->no_tmpfile = true;
#else
	(void)md;
#endif
	return -1;
}

struct maildir_delivery *
maildir_begin(struct maildir *md, struct err *err)
{
	struct maildir_delivery *d;
	char *name = NULL;
	bool is_tmpfile = false;
	int fd = -1, i;

	if (md->is_busy) {
		err_setx(err, ERR_SOFTWARE, "%s: delivery already in progress",
		    md->path);
		return NULL;
	}
	if ((fd = maildir_open_tmpfile(md)) != -1) {
		name = maildir_unique_name();
		is_tmpfile = true;
	} else if (!md->no_tmpfile) {
		err_set(err, ERR_LOCAL, "create a file in %s/tmp", md->path);
		return NULL;
	}
	for (i = 0; fd == -1 && i < MAILDIR_NAME_TRIES; i++) {
		name = maildir_unique_name();
		fd = openat(md->tmp_fd, name,
		    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd != -1)
			break;
		if (errno != EEXIST || i + 1 == MAILDIR_NAME_TRIES) {
			err_set(err, ERR_LOCAL, "create tmp/%s", name);
			free(name);
			return NULL;
		}
		free(name);
	}
	d = xcalloc(1, sizeof(*d));
	d->md = md;
	d->name = name;
	d->fd = fd;
	d->is_tmpfile = d->is_unlinked = is_tmpfile;
	d->buf = xmalloc(MAILDIR_BUF_SIZE);
	md->is_busy = true;
	return d;
}

static int
maildir_flush(struct maildir_delivery *d, struct err *err)
{
	if (d->used == 0)
		return 0;
	if (fsutil_write_all(d->fd, d->buf, d->used, err) == -1) {
		/* errno is still write(2)'s: name the file it failed on. */
		err_set(err, ERR_LOCAL, "write tmp/%s", d->name);
		return -1;
	}
	d->used = 0;
	return 0;
}

int
maildir_write(struct maildir_delivery *d, const void *data, size_t len,
    struct err *err)
{
	if (d->has_failed) {
		err_setx(err, ERR_SOFTWARE,
		    "write tmp/%s: earlier write failed", d->name);
		return -1;
	}
	if (len > MAILDIR_BUF_SIZE - d->used && maildir_flush(d, err) == -1)
		goto fail;
	if (len >= MAILDIR_BUF_SIZE) {
		/* Large chunks go straight to the file, not via the buffer. */
		if (fsutil_write_all(d->fd, data, len, err) == -1) {
			err_set(err, ERR_LOCAL, "write tmp/%s", d->name);
			goto fail;
		}
	} else {
		memcpy(d->buf + d->used, data, len);
		d->used += len;
	}
	d->size += len;
	return 0;
fail:
	d->has_failed = true;
	return -1;
}

static void
maildir_delivery_free(struct maildir_delivery *d)
{
	int saved = errno;

	if (d->fd != -1)
		(void)close(d->fd);
	if (!d->is_unlinked)
		(void)unlinkat(d->md->tmp_fd, d->name, 0);
	if (d->final == NULL)
		d->md->is_busy = false; /* staged ones no longer hold it */
	free(d->buf);
	free(d->name);
	free(d->tag);
	free(d->flags);
	free(d->final);
	free(d);
	errno = saved;
}

static const char *
maildir_dest(const struct maildir_delivery *d)
{
	return d->flags != NULL ? "cur" : "new";
}

static int
maildir_dest_fd(const struct maildir_delivery *d)
{
	return d->flags != NULL ? d->md->cur_fd : d->md->new_fd;
}

int
maildir_stage(struct maildir_delivery *d, char **name_out, struct err *err)
{
	struct maildir *md = d->md;

	if (name_out != NULL)
		*name_out = NULL;
	if (d->has_failed) {
		err_setx(err, ERR_SOFTWARE,
		    "commit tmp/%s: earlier write failed", d->name);
		goto fail;
	}
	if (maildir_flush(d, err) == -1)
		goto fail;
#ifdef SYNC_FILE_RANGE_WRITE
	/*
	 * Start writing it out now, while the next message arrives: the
	 * fsync in maildir_sync() then mostly finds it done.  Advisory.
	 */
	(void)sync_file_range(d->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
#endif
	free(d->buf);
	d->buf = NULL;
	/* "NAME,S=<size>[,TAG]" in new/, with ":2,FLAGS" in cur/. */
	d->final = xasprintf("%s,S=%" PRIu64 "%s%s%s%s", d->name, d->size,
	    d->tag != NULL ? "," : "", d->tag != NULL ? d->tag : "",
	    d->flags != NULL ? ":2," : "", d->flags != NULL ? d->flags : "");
	md->is_busy = false;
	*md->staged_tail = d;
	md->staged_tail = &d->next;
	if (name_out != NULL)
		*name_out = xstrdup(d->final);
	return 0;
fail:
	maildir_delivery_free(d);
	return -1;
}

/* Link the staged (and fsynced) file d under its final name. */
static int
maildir_link(struct maildir_delivery *d, struct err *err)
{
	struct maildir *md = d->md;
	char proc[64];
	int rc;

	/*
	 * An existing name is not replaced by another one: the caller was
	 * told this one.  It takes the same second, microsecond, pid and
	 * counter, so it is no accident; the message stays on the server.
	 */
	if (d->is_tmpfile) {
		(void)snprintf(proc, sizeof(proc), "/proc/self/fd/%d", d->fd);
		rc = linkat(AT_FDCWD, proc, maildir_dest_fd(d), d->final,
		    AT_SYMLINK_FOLLOW);
	} else
		rc = linkat(md->tmp_fd, d->name, maildir_dest_fd(d), d->final,
		    0);
	if (rc == -1) {
		err_set(err, ERR_LOCAL, "link tmp/%s to %s/%s", d->name,
		    maildir_dest(d), d->final);
		return -1;
	}
	md->linked =
	    xreallocarray(md->linked, md->nlinked + 1, sizeof(*md->linked));
	md->linked[md->nlinked].dir_fd = maildir_dest_fd(d);
	md->linked[md->nlinked++].name = xstrdup(d->final);
	if (!d->is_unlinked) {
		if (unlinkat(md->tmp_fd, d->name, 0) == -1) {
			err_set(err, ERR_LOCAL, "unlink tmp/%s", d->name);
			return -1;
		}
		d->is_unlinked = true;
	}
	return 0;
}

static void
maildir_forget_linked(struct maildir *md)
{
	size_t i;

	for (i = 0; i < md->nlinked; i++)
		free(md->linked[i].name);
	free(md->linked);
	md->linked = NULL;
	md->nlinked = 0;
}

void
maildir_unsync(struct maildir *md)
{
	bool in_new = false, in_cur = false;
	struct err ignored;
	size_t i;

	for (i = 0; i < md->nlinked; i++) {
		(void)unlinkat(md->linked[i].dir_fd, md->linked[i].name, 0);
		if (md->linked[i].dir_fd == md->new_fd)
			in_new = true;
		else
			in_cur = true;
	}
	if (in_new)
		(void)fsutil_fsync_dir(md->new_fd, "new", &ignored);
	if (in_cur)
		(void)fsutil_fsync_dir(md->cur_fd, "cur", &ignored);
	maildir_forget_linked(md);
}

int
maildir_sync(struct maildir *md, struct err *err)
{
	struct maildir_delivery *d;
	bool in_new = false, in_cur = false;
	int fd, rc = -1;

	maildir_forget_linked(md);
	/*
	 * The delivery invariant, for a whole batch: every file durable
	 * before any is linked; then one fsync per directory instead of
	 * one per message.
	 */
	for (d = md->staged; d != NULL; d = d->next)
		if (fsync(d->fd) == -1) {
			err_set(err, ERR_LOCAL, "fsync tmp/%s", d->name);
			goto out;
		}
	for (d = md->staged; d != NULL; d = d->next) {
		if (maildir_link(d, err) == -1)
			goto out;
		if (d->flags != NULL)
			in_cur = true;
		else
			in_new = true;
		/* Linux releases the descriptor even when close(2) fails. */
		fd = d->fd;
		d->fd = -1;
		if (close(fd) == -1) {
			err_set(err, ERR_LOCAL, "close tmp/%s", d->name);
			goto out;
		}
	}
	if ((in_new && fsutil_fsync_dir(md->new_fd, "new", err) == -1) ||
	    (in_cur && fsutil_fsync_dir(md->cur_fd, "cur", err) == -1))
		goto out;
	rc = 0;
out:
	/*
	 * Not all of them durable: take back the names linked, or a later
	 * run would deliver those messages a second time.  Should that
	 * fail too, what stays is a whole message, fsynced before it was
	 * linked: at worst a duplicate, never a partial file, never a loss.
	 */
	if (rc == -1) {
		int saved = errno;

		maildir_unsync(md);
		errno = saved;
	}
	while ((d = md->staged) != NULL) {
		md->staged = d->next;
		maildir_delivery_free(d);
	}
	md->staged_tail = &md->staged;
	return rc;
}

void
maildir_set_tag(struct maildir_delivery *d, const char *tag)
{
	const char *p;

	/* Only what cannot clash with the name's structure. */
	for (p = tag; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		        (*p >= '0' && *p <= '9') || *p == '=' || *p == '-'))
			fatalx("maildir_set_tag: bad tag \"%s\"", tag);
	free(d->tag);
	d->tag = xstrdup(tag);
}

void
maildir_set_flags(struct maildir_delivery *d, bool is_seen, bool is_flagged)
{
	free(d->flags);
	d->flags = NULL;
	/* Maildir info flags, in ASCII order: F(lagged), S(een). */
	if (is_seen || is_flagged)
		d->flags = xasprintf("%s%s", is_flagged ? "F" : "",
		    is_seen ? "S" : "");
}

struct maildir *
maildir_open_folder(const char *root, const char *folder, struct err *err)
{
	struct maildir *md;
	char *path;
	int fd;

	/* Maildir++: ".Name" or ".Name.Sub", right under the root. */
	if (folder[0] != '.' || folder[1] == '\0' || folder[1] == '.' ||
	    strchr(folder, '/') != NULL || strstr(folder, "..") != NULL) {
		err_setx(err, ERR_CONFIG, "%s: not a Maildir++ folder name",
		    folder);
		return NULL;
	}
	path = xasprintf("%s/%s", root, folder);
	if ((md = maildir_open(path, err)) != NULL) {
		/* The mark that tells readers this is a subfolder. */
		fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd != -1) {
			int mark = openat(fd, "maildirfolder",
			    O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

			if (mark != -1)
				(void)close(mark);
			(void)close(fd);
		}
	}
	free(path);
	return md;
}

int
maildir_commit(struct maildir_delivery *d, char **name_out, struct err *err)
{
	struct maildir *md = d->md;
	char *name;

	if (name_out != NULL)
		*name_out = NULL;
	if (maildir_stage(d, &name, err) == -1)
		return -1;
	if (maildir_sync(md, err) == -1) {
		free(name);
		return -1;
	}
	if (name_out != NULL)
		*name_out = name;
	else
		free(name);
	return 0;
}

void
maildir_abort(struct maildir_delivery *d)
{
	if (d != NULL)
		maildir_delivery_free(d);
}
