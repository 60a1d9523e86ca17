#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "state/journal.h"
#include "util/fsutil.h"
#include "util/str.h"
#include "util/xmalloc.h"

/* The file is read through a buffer of this size, not mapped whole. */
#define JOURNAL_READ_CHUNK (256 * 1024)

struct journal {
	const struct journal_kind *kind;
	char *header; /* "<magic> <version>\n" */
	char *path;
	char *dir;  /* its directory, for messages */
	char *base; /* file name within dir_fd */
	int dir_fd;
	int fd;    /* O_APPEND; -1 when missing (read-only) or unusable */
	off_t end; /* end of the last whole record */
	bool is_readonly;
	bool is_broken; /* a failed fsync or cut: nothing more is written */
	bool is_dirty;  /* appended since the last sync */
	bool need_dir_sync;
	size_t malformed;
};

static struct journal *
journal_new(const char *path, const struct journal_kind *kind)
{
	struct journal *j = xcalloc(1, sizeof(*j));
	const char *slash;

	j->kind = kind;
	j->header = xasprintf("%s %u\n", kind->magic, kind->version);
	j->dir_fd = j->fd = -1;
	j->path = xstrdup(path);
	if ((slash = strrchr(path, '/')) == NULL) {
		j->dir = xstrdup(".");
		j->base = xstrdup(path);
	} else {
		j->dir = slash == path ? xstrdup("/")
		                       : xstrndup(path, (size_t)(slash - path));
		j->base = xstrdup(slash + 1);
	}
	return j;
}

void
journal_free(struct journal *j)
{
	if (j == NULL)
		return;
	if (j->fd != -1)
		(void)close(j->fd);
	if (j->dir_fd != -1)
		(void)close(j->dir_fd);
	free(j->base);
	free(j->dir);
	free(j->path);
	free(j->header);
	free(j);
}

const char *
journal_path(const struct journal *j)
{
	return j->path;
}

const char *
journal_header(const struct journal *j)
{
	return j->header;
}

size_t
journal_malformed(const struct journal *j)
{
	return j->malformed;
}

bool
journal_is_dirty(const struct journal *j)
{
	return j->is_dirty;
}

static int
journal_parse_header(const struct journal *j, const char *line, size_t len,
    struct err *err)
{
	size_t mlen = strlen(j->kind->magic);
	uint64_t version;

	if (len <= mlen || memcmp(line, j->kind->magic, mlen) != 0 ||
	    line[mlen] != ' ' ||
	    str_tonum(line + mlen + 1, len - mlen - 1, UINT32_MAX, &version) ==
	        -1) {
		err_setx(err, ERR_LOCAL, "%s: not a popfetch %s", j->path,
		    j->kind->what);
		return -1;
	}
	if (version != j->kind->version) {
		err_setx(err, ERR_LOCAL,
		    "%s: %s version %" PRIu64 " is not supported (only %u)",
		    j->path, j->kind->what, version, j->kind->version);
		return -1;
	}
	return 0;
}

/* What one read of the file carries from chunk to chunk. */
struct journal_reader {
	struct journal *j;
	journal_record_fn *fn;
	void *arg;
	size_t malformed;
};

/*
 * Hand the records of buf[0..len) that end in a LF to the caller;
 * *used_out gets how much that was (the rest is a record cut by the
 * chunk, or torn).
 */
static void
journal_records(struct journal_reader *rd, const char *buf, size_t len,
    off_t off, size_t *used_out)
{
	const char *p = buf, *end = buf + len, *nl;

	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;
		if (rd->fn(rd->arg, p, (size_t)(nl - p),
		        off + (off_t)(p - buf)) == -1)
			rd->malformed++;
	}
	*used_out = (size_t)(p - buf);
}

/*
 * The header and the records of what was read so far (buf[0..*have),
 * ending at offset off); what is left is moved to the front.
 */
static int
journal_chunk(struct journal_reader *rd, char *buf, size_t *have, off_t off,
    bool *has_header, struct err *err)
{
	size_t used = 0, n;
	char *nl;

	if (!*has_header) {
		if ((nl = memchr(buf, '\n', *have)) == NULL)
			return 0; /* the header is not whole yet */
		if (journal_parse_header(rd->j, buf, (size_t)(nl - buf), err) ==
		    -1)
			return -1;
		*has_header = true;
		used = (size_t)(nl - buf) + 1;
	}
	journal_records(rd, buf + used, *have - used,
	    off - (off_t)*have + (off_t)used, &n);
	used += n;
	memmove(buf, buf + used, *have - used);
	*have -= used;
	return 0;
}

/*
 * Read and parse the file a chunk at a time, so that its size costs no
 * memory beyond what the caller keeps.  *good_out gets the length of its
 * whole lines: anything after the last LF is a torn record.
 */
static int
journal_read(struct journal_reader *rd, off_t size, off_t *good_out,
    struct err *err)
{
	char *buf = xmalloc(JOURNAL_READ_CHUNK);
	size_t have = 0;
	off_t off = 0;
	bool has_header = false, is_skipping = false;
	ssize_t n;
	char *nl;
	int rc = -1;

	*good_out = 0;
	while (off < size) {
		n = pread(rd->j->fd, buf + have, JOURNAL_READ_CHUNK - have,
		    off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			err_set(err, ERR_LOCAL, "read %s", rd->j->path);
			goto out;
		}
		if (n == 0)
			break;
		off += n;
		have += (size_t)n;
		if (is_skipping) {
			/* The rest of a line too long to be a record. */
			if ((nl = memchr(buf, '\n', have)) == NULL) {
				have = 0;
				continue;
			}
			have -= (size_t)(nl - buf) + 1;
			memmove(buf, nl + 1, have);
			is_skipping = false;
		}
		if (journal_chunk(rd, buf, &have, off, &has_header, err) == -1)
			goto out;
		if (have == JOURNAL_READ_CHUNK) {
			if (!has_header)
				break; /* no header line: below */
			rd->malformed++;
			is_skipping = true;
			have = 0;
			continue;
		}
		if (has_header)
			*good_out = off - (off_t)have;
	}
	if (!has_header && have > 0) {
		/*
		 * Only a torn header, as a crash right after creation leaves,
		 * is started afresh; anything else is someone else's file.
		 */
		if (have < strlen(rd->j->header) &&
		    memcmp(buf, rd->j->header, have) == 0) {
			rc = 0;
			goto out;
		}
		if (journal_parse_header(rd->j, buf, have, err) == -1)
			goto out;
	}
	rc = 0;
out:
	free(buf);
	return rc;
}

/* Read the whole file into fn; cut a torn tail unless read-only. */
static int
journal_load(struct journal *j, journal_record_fn *fn, void *arg,
    struct err *err)
{
	struct journal_reader rd = { .j = j, .fn = fn, .arg = arg };
	struct stat sb;
	off_t good = 0;

	if (fstat(j->fd, &sb) == -1) {
		err_set(err, ERR_LOCAL, "stat %s", j->path);
		return -1;
	}
	if (!S_ISREG(sb.st_mode)) {
		err_setx(err, ERR_LOCAL, "%s: not a regular file", j->path);
		return -1;
	}
	if (sb.st_size > 0 && journal_read(&rd, sb.st_size, &good, err) == -1)
		return -1;
	j->malformed = rd.malformed;
	j->end = good;
	if (good < sb.st_size && !j->is_readonly) {
		/* Cut the torn tail so that the next record starts a line. */
		if (ftruncate(j->fd, j->end) == -1 || fsync(j->fd) == -1) {
			err_set(err, ERR_LOCAL, "truncate %s", j->path);
			return -1;
		}
	}
	return 0;
}

static int
journal_open_fd(struct journal *j, struct err *err)
{
	/* Never through a link: the state is the user's own files. */
	j->fd = openat(j->dir_fd, j->base,
	    O_RDWR | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (j->fd == -1 && errno == ENOENT)
		j->fd = openat(j->dir_fd, j->base,
		    O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW |
		        O_CLOEXEC,
		    0600);
	if (j->fd == -1) {
		err_set(err, ERR_LOCAL, "open %s", j->path);
		return -1;
	}
	return 0;
}

struct journal *
journal_open(const char *path, const struct journal_kind *kind,
    journal_record_fn *fn, void *arg, struct err *err)
{
	struct journal *j = journal_new(path, kind);
	size_t len = strlen(j->header);

	if (j->base[0] == '\0') {
		err_setx(err, ERR_LOCAL, "%s: not a file name", path);
		goto fail;
	}
	j->dir_fd =
	    openat(AT_FDCWD, j->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (j->dir_fd == -1) {
		err_set(err, ERR_LOCAL, "open %s", j->dir);
		goto fail;
	}
	if (journal_open_fd(j, err) == -1 ||
	    journal_load(j, fn, arg, err) == -1)
		goto fail;
	if (j->end == 0) {
		if (fsutil_write_all(j->fd, j->header, len, err) == -1) {
			err_prefix(err, "%s", j->path);
			goto fail;
		}
		j->end = (off_t)len;
	}
	/*
	 * The name may be new (or a crash may have left it unsynced): the
	 * first journal_sync() makes it durable in the directory too.
	 */
	j->need_dir_sync = true;
	return j;
fail:
	journal_free(j);
	return NULL;
}

struct journal *
journal_open_readonly(const char *path, const struct journal_kind *kind,
    journal_record_fn *fn, void *arg, struct err *err)
{
	struct journal *j = journal_new(path, kind);

	j->is_readonly = true;
	if ((j->fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return j;
		err_set(err, ERR_LOCAL, "open %s", path);
		goto fail;
	}
	/* Kept open to read records back; writes are refused. */
	if (journal_load(j, fn, arg, err) == -1)
		goto fail;
	return j;
fail:
	journal_free(j);
	return NULL;
}

/* May the journal be written?  Not read-only, not after an error. */
static int
journal_writable(const struct journal *j, struct err *err)
{
	if (j->is_readonly) {
		err_setx(err, ERR_SOFTWARE, "%s: opened read-only", j->path);
		return -1;
	}
	if (j->is_broken || j->fd == -1) {
		err_setx(err, ERR_LOCAL,
		    "%s: %s unusable after an earlier error", j->path,
		    j->kind->what);
		return -1;
	}
	return 0;
}

/* Nothing more is written: the file's end is not known to be sound. */
static void
journal_break(struct journal *j)
{
	j->is_broken = true;
}

int
journal_append(struct journal *j, const char *rec, size_t len, off_t *off_out,
    struct err *err)
{
	if (len == 0 || rec[len - 1] != '\n' ||
	    memchr(rec, '\n', len - 1) != NULL) {
		err_setx(err, ERR_SOFTWARE, "%s: not one record", j->path);
		return -1;
	}
	if (journal_writable(j, err) == -1)
		return -1;
	/* One write(2) per record: a crash tears at most the last line. */
	if (fsutil_write_all(j->fd, rec, len, err) == -1) {
		err_prefix(err, "%s", j->path);
		/*
		 * A partial record must not glue itself to the next one;
		 * if the file cannot be cut back, stop appending.
		 */
		if (ftruncate(j->fd, j->end) == -1)
			journal_break(j);
		return -1;
	}
	if (off_out != NULL)
		*off_out = j->end;
	j->end += (off_t)len;
	j->is_dirty = true;
	return 0;
}

int
journal_sync(struct journal *j, struct err *err)
{
	if (journal_writable(j, err) == -1)
		return -1;
	if (fsync(j->fd) == -1) {
		err_set(err, ERR_LOCAL, "fsync %s", j->path);
		/*
		 * After a failed fsync the kernel may have dropped the dirty
		 * pages and a second fsync may succeed without them: refuse
		 * to vouch for anything until the journal is opened again.
		 */
		journal_break(j);
		return -1;
	}
	if (j->need_dir_sync) {
		if (fsutil_fsync_dir(j->dir_fd, j->dir, err) == -1)
			return -1;
		j->need_dir_sync = false;
	}
	j->is_dirty = false;
	return 0;
}

ssize_t
journal_pread(struct journal *j, void *buf, size_t len, off_t off)
{
	ssize_t n;

	if (j->fd == -1) {
		errno = EBADF;
		return -1;
	}
	do
		n = pread(j->fd, buf, len, off);
	while (n == -1 && errno == EINTR);
	return n;
}

/*
 * Point the append descriptor at whatever file now has the journal's
 * name: after a rename the old one would write into a replaced file.
 */
static int
journal_reopen(struct journal *j, struct err *err)
{
	struct stat sb;

	if (j->fd != -1)
		(void)close(j->fd);
	j->fd = openat(j->dir_fd, j->base,
	    O_RDWR | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (j->fd == -1) {
		err_set(err, ERR_LOCAL, "open %s", j->path);
		return -1;
	}
	if (fstat(j->fd, &sb) == -1) {
		err_set(err, ERR_LOCAL, "stat %s", j->path);
		(void)close(j->fd);
		j->fd = -1;
		return -1;
	}
	j->end = sb.st_size;
	return 0;
}

int
journal_rewrite(struct journal *j, const char *data, size_t len,
    struct err *err)
{
	int rc;

	if (journal_writable(j, err) == -1)
		return -1;
	if (len < strlen(j->header) ||
	    memcmp(data, j->header, strlen(j->header)) != 0 ||
	    data[len - 1] != '\n') {
		err_setx(err, ERR_SOFTWARE, "%s: not a whole journal", j->path);
		return -1;
	}
	rc = fsutil_atomic_write(j->dir_fd, j->base, data, len, 0600, err);
	if (rc == -1)
		err_prefix(err, "compact %s", j->path);
	/*
	 * A failure may come after the rename (the directory fsync), so
	 * reopen in every case.
	 */
	if (journal_reopen(j, rc == -1 ? NULL : err) == -1)
		rc = -1;
	if (rc == 0) {
		j->is_dirty = false;
		j->need_dir_sync = false; /* fsutil_atomic_write did it */
	} else
		/* The rename may stand while its directory is not durable. */
		j->need_dir_sync = true;
	return rc;
}

int
journal_scan(struct journal *j, journal_record_fn *fn, void *arg,
    struct err *err)
{
	struct journal_reader rd = { .j = j, .fn = fn, .arg = arg };
	struct stat sb;
	off_t good;

	if (j->fd == -1) {
		err_setx(err, ERR_LOCAL,
		    "%s: %s unusable after an earlier error", j->path,
		    j->kind->what);
		return -1;
	}
	if (fstat(j->fd, &sb) == -1) {
		err_set(err, ERR_LOCAL, "stat %s", j->path);
		return -1;
	}
	return journal_read(&rd, sb.st_size, &good, err);
}
