#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "cli/archive.h"
#include "filter/filter.h"
#include "util/fsutil.h"
#include "util/str.h"
#include "util/xmalloc.h"

/*
 * The index format; see archive_open() in the header.  Within version 1
 * fields are only ever added at the end, so a reader takes the three it
 * knows; an incompatible change bumps the version, which older readers
 * refuse rather than misread.
 */
#define ARCHIVE_MAGIC "popfetch-archive "
#define ARCHIVE_HEADER "popfetch-archive 1\n"
#define ARCHIVE_VERSION 1
/* Two digests, a path, separators. */
#define ARCHIVE_RECORD_MAX (2 * ARCHIVE_HEX_LEN + PATH_MAX + 8)

struct archive {
	char *path;
	char *dir;  /* its directory, for messages */
	char *base; /* file name within dir_fd */
	int dir_fd;
	int fd;    /* O_APPEND; -1 once unusable */
	off_t end; /* end of the last whole record */
	bool need_dir_sync;
	size_t malformed;
	GHashTable *set; /* "digest TAB msgid" -> file */
};

struct archive_msg {
	GChecksum *sum;
	struct filter_msg *fm;
	bool is_header_done;
	GString *held;
};

static bool
archive_is_hex(const char *s, size_t len)
{
	size_t i;

	if (len != ARCHIVE_HEX_LEN)
		return false;
	for (i = 0; i < len; i++)
		if (!g_ascii_isxdigit(s[i]) || g_ascii_isupper(s[i]))
			return false;
	return true;
}

/* A path: printable, no TAB or LF (they separate records). */
static bool
archive_is_file(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len >= PATH_MAX)
		return false;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

static char *
archive_key(const char *digest, size_t dlen, const char *msgid, size_t mlen)
{
	return g_strdup_printf("%.*s\t%.*s", (int)dlen, digest, (int)mlen,
	    msgid);
}

/* One record, without its LF; -1 if malformed. */
static int
archive_parse_record(struct archive *ar, const char *line, size_t len)
{
	const char *end = line + len, *t1, *t2, *t3;
	size_t mlen, flen;

	if ((t1 = memchr(line, '\t', len)) == NULL ||
	    (t2 = memchr(t1 + 1, '\t', (size_t)(end - t1 - 1))) == NULL)
		return -1;
	/* A later version's fields after the file are not ours. */
	if ((t3 = memchr(t2 + 1, '\t', (size_t)(end - t2 - 1))) == NULL)
		t3 = end;
	mlen = (size_t)(t2 - t1 - 1);
	flen = (size_t)(t3 - t2 - 1);
	if (!archive_is_hex(line, (size_t)(t1 - line)) ||
	    !(archive_is_hex(t1 + 1, mlen) || (mlen == 1 && t1[1] == '-')) ||
	    !archive_is_file(t2 + 1, flen))
		return -1;
	g_hash_table_replace(ar->set,
	    archive_key(line, (size_t)(t1 - line), t1 + 1, mlen),
	    g_strndup(t2 + 1, flen));
	return 0;
}

static int
archive_parse_header(const struct archive *ar, const char *line, size_t len,
    struct err *err)
{
	size_t mlen = strlen(ARCHIVE_MAGIC);
	uint64_t version;

	if (len < mlen || memcmp(line, ARCHIVE_MAGIC, mlen) != 0 ||
	    str_tonum(line + mlen, len - mlen, UINT32_MAX, &version) == -1) {
		err_setx(err, ERR_LOCAL, "%s: not a popfetch archive index",
		    ar->path);
		return -1;
	}
	if (version != ARCHIVE_VERSION) {
		err_setx(err, ERR_LOCAL,
		    "%s: archive index version %llu is not supported (only "
		    "%d)",
		    ar->path, (unsigned long long)version, ARCHIVE_VERSION);
		return -1;
	}
	return 0;
}

/*
 * Parse the whole index; *good_out gets the length of its whole lines:
 * anything after the last LF is a torn record.
 */
static int
archive_parse(struct archive *ar, const char *buf, size_t len, size_t *good_out,
    struct err *err)
{
	const char *p, *end = buf + len, *nl;

	*good_out = 0;
	if ((nl = memchr(buf, '\n', len)) == NULL) {
		/* A torn header, as a crash right after creation leaves. */
		if (len < strlen(ARCHIVE_HEADER) &&
		    memcmp(buf, ARCHIVE_HEADER, len) == 0)
			return 0;
		return archive_parse_header(ar, buf, len, err);
	}
	if (archive_parse_header(ar, buf, (size_t)(nl - buf), err) == -1)
		return -1;
	for (p = nl + 1; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;
		if (archive_parse_record(ar, p, (size_t)(nl - p)) == -1)
			ar->malformed++;
	}
	*good_out = (size_t)(p - buf);
	return 0;
}

static int
archive_load(struct archive *ar, struct err *err)
{
	struct stat sb;
	size_t good = 0;
	void *map;
	int rc;

	if (fstat(ar->fd, &sb) == -1) {
		err_set(err, ERR_LOCAL, "stat %s", ar->path);
		return -1;
	}
	if (!S_ISREG(sb.st_mode)) {
		err_setx(err, ERR_LOCAL, "%s: not a regular file", ar->path);
		return -1;
	}
	if (sb.st_size > 0) {
		map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE,
		    ar->fd, 0);
		if (map == MAP_FAILED) {
			err_set(err, ERR_LOCAL, "mmap %s", ar->path);
			return -1;
		}
		rc = archive_parse(ar, map, (size_t)sb.st_size, &good, err);
		(void)munmap(map, (size_t)sb.st_size);
		if (rc == -1)
			return -1;
	}
	ar->end = (off_t)good;
	/* Cut a torn tail, so that the next record starts a line. */
	if ((off_t)good < sb.st_size &&
	    (ftruncate(ar->fd, ar->end) == -1 || fsync(ar->fd) == -1)) {
		err_set(err, ERR_LOCAL, "truncate %s", ar->path);
		return -1;
	}
	if (ar->end == 0) {
		if (fsutil_write_all(ar->fd, ARCHIVE_HEADER,
		        strlen(ARCHIVE_HEADER), err) == -1) {
			err_prefix(err, "%s", ar->path);
			return -1;
		}
		ar->end = (off_t)strlen(ARCHIVE_HEADER);
	}
	return 0;
}

struct archive *
archive_open(const char *path, struct err *err)
{
	struct archive *ar;
	const char *slash;

	ar = xcalloc(1, sizeof(*ar));
	ar->dir_fd = ar->fd = -1;
	ar->path = xstrdup(path);
	ar->set =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	if ((slash = strrchr(path, '/')) == NULL) {
		ar->dir = xstrdup(".");
		ar->base = xstrdup(path);
	} else {
		ar->dir = slash == path
		    ? xstrdup("/")
		    : xstrndup(path, (size_t)(slash - path));
		ar->base = xstrdup(slash + 1);
	}
	if (ar->base[0] == '\0') {
		err_setx(err, ERR_LOCAL, "%s: not a file name", path);
		goto fail;
	}
	ar->dir_fd = open(ar->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ar->dir_fd == -1) {
		err_set(err, ERR_LOCAL, "open %s", ar->dir);
		goto fail;
	}
	ar->fd = openat(ar->dir_fd, ar->base,
	    O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (ar->fd == -1) {
		err_set(err, ERR_LOCAL, "open %s", path);
		goto fail;
	}
	if (archive_load(ar, err) == -1)
		goto fail;
	/* The name may be new: the first sync makes it durable too. */
	ar->need_dir_sync = true;
	return ar;
fail:
	archive_free(ar);
	return NULL;
}

void
archive_free(struct archive *ar)
{
	if (ar == NULL)
		return;
	if (ar->fd != -1)
		(void)close(ar->fd);
	if (ar->dir_fd != -1)
		(void)close(ar->dir_fd);
	g_hash_table_destroy(ar->set);
	free(ar->base);
	free(ar->dir);
	free(ar->path);
	free(ar);
}

size_t
archive_malformed(const struct archive *ar)
{
	return ar->malformed;
}

size_t
archive_count(const struct archive *ar)
{
	return g_hash_table_size(ar->set);
}

const char *
archive_lookup(const struct archive *ar, const char *digest, const char *msgid)
{
	const char *file;
	char *key;

	if (msgid == NULL)
		msgid = "-";
	key = archive_key(digest, strlen(digest), msgid, strlen(msgid));
	file = g_hash_table_lookup(ar->set, key);
	g_free(key);
	return file;
}

int
archive_append(struct archive *ar, const char *digest, const char *msgid,
    const char *file, struct err *err)
{
	char rec[ARCHIVE_RECORD_MAX];
	int len;

	if (msgid == NULL)
		msgid = "-";
	if (!archive_is_hex(digest, strlen(digest)) ||
	    !(archive_is_hex(msgid, strlen(msgid)) ||
	        strcmp(msgid, "-") == 0) ||
	    !archive_is_file(file, strlen(file))) {
		err_setx(err, ERR_SOFTWARE, "%s: invalid record", ar->path);
		return -1;
	}
	if (ar->fd == -1) {
		err_setx(err, ERR_LOCAL,
		    "%s: archive index unusable after an earlier error",
		    ar->path);
		return -1;
	}
	len = snprintf(rec, sizeof(rec), "%s\t%s\t%s\n", digest, msgid, file);
	if (len < 0 || (size_t)len >= sizeof(rec)) {
		err_setx(err, ERR_SOFTWARE, "%s: record too long", ar->path);
		return -1;
	}
	/* One write(2) per record: a crash tears at most the last line. */
	if (fsutil_write_all(ar->fd, rec, (size_t)len, err) == -1) {
		err_prefix(err, "%s", ar->path);
		/* A partial record must not glue itself to the next one. */
		if (ftruncate(ar->fd, ar->end) == -1) {
			(void)close(ar->fd);
			ar->fd = -1;
		}
		return -1;
	}
	ar->end += len;
	g_hash_table_replace(ar->set,
	    archive_key(digest, strlen(digest), msgid, strlen(msgid)),
	    g_strdup(file));
	return 0;
}

int
archive_sync(struct archive *ar, struct err *err)
{
	if (ar->fd == -1) {
		err_setx(err, ERR_LOCAL,
		    "%s: archive index unusable after an earlier error",
		    ar->path);
		return -1;
	}
	if (fsync(ar->fd) == -1) {
		err_set(err, ERR_LOCAL, "fsync %s", ar->path);
		/* A second fsync could succeed without the lost pages. */
		(void)close(ar->fd);
		ar->fd = -1;
		return -1;
	}
	if (ar->need_dir_sync) {
		if (fsutil_fsync_dir(ar->dir_fd, ar->dir, err) == -1)
			return -1;
		ar->need_dir_sync = false;
	}
	return 0;
}

struct archive_msg *
archive_msg_new(void)
{
	struct archive_msg *am = xcalloc(1, sizeof(*am));

	am->sum = g_checksum_new(G_CHECKSUM_SHA256);
	am->fm = filter_msg_new();
	am->held = g_string_new(NULL);
	return am;
}

void
archive_msg_free(struct archive_msg *am)
{
	if (am == NULL)
		return;
	g_checksum_free(am->sum);
	filter_msg_free(am->fm);
	g_string_free(am->held, TRUE);
	free(am);
}

void
archive_msg_reset(struct archive_msg *am)
{
	g_checksum_reset(am->sum);
	filter_msg_free(am->fm);
	am->fm = filter_msg_new();
	am->is_header_done = false;
	g_string_truncate(am->held, 0);
	/* A huge header held once need not stay allocated. */
	if (am->held->allocated_len > 64 * 1024) {
		g_string_free(am->held, TRUE);
		am->held = g_string_new(NULL);
	}
}

bool
archive_msg_feed(struct archive_msg *am, const char *data, size_t len)
{
	size_t off;

	/* g_checksum_update() takes a gssize. */
	for (off = 0; off < len; off += 1u << 30)
		g_checksum_update(am->sum, (const guchar *)data + off,
		    (gssize)(len - off < (1u << 30) ? len - off : 1u << 30));
	if (!am->is_header_done)
		am->is_header_done = filter_msg_feed(am->fm, data, len);
	return am->is_header_done;
}

void
archive_msg_hold(struct archive_msg *am, const char *data, size_t len)
{
	g_string_append_len(am->held, data, (gssize)len);
}

const char *
archive_msg_held(const struct archive_msg *am, size_t *len_out)
{
	*len_out = am->held->len;
	return am->held->str;
}

void
archive_msg_drop_held(struct archive_msg *am)
{
	g_string_truncate(am->held, 0);
}

bool
archive_msg_finish(struct archive_msg *am, char digest[ARCHIVE_HEX_SIZE],
    char msgid[ARCHIVE_HEX_SIZE])
{
	const char *id;
	gchar *copy, *sum;
	bool has_id;

	(void)g_strlcpy(digest, g_checksum_get_string(am->sum),
	    ARCHIVE_HEX_SIZE);
	msgid[0] = '\0';
	if ((id = filter_msg_message_id(am->fm)) == NULL)
		return false;
	copy = g_strstrip(g_strdup(id));
	if ((has_id = copy[0] != '\0')) {
		sum =
		    g_compute_checksum_for_string(G_CHECKSUM_SHA256, copy, -1);
		(void)g_strlcpy(msgid, sum, ARCHIVE_HEX_SIZE);
		g_free(sum);
	}
	g_free(copy);
	return has_id;
}

const char *
archive_msg_date(struct archive_msg *am)
{
	return filter_msg_date(am->fm);
}

/* A number of exactly len digits at s, at most max. */
static bool
archive_num(const char *s, size_t len, uint64_t max, int *out)
{
	uint64_t v;

	if (str_tonum(s, len, max, &v) == -1)
		return false;
	*out = (int)v;
	return true;
}

/*
 * The time of "YYYY-MM-DD HH:MM:SS +ZZZZ", the form filter_msg_date()
 * gives a Date it could parse; false for anything else.
 */
static bool
archive_parse_date(const char *s, int64_t *out)
{
	int y, mo, d, h, mi, sec, zh, zm;
	GDateTime *dt;

	if (strlen(s) != 25 || s[4] != '-' || s[7] != '-' || s[10] != ' ' ||
	    s[13] != ':' || s[16] != ':' || s[19] != ' ' ||
	    (s[20] != '+' && s[20] != '-'))
		return false;
	if (!archive_num(s, 4, 9999, &y) || !archive_num(s + 5, 2, 12, &mo) ||
	    !archive_num(s + 8, 2, 31, &d) || !archive_num(s + 11, 2, 23, &h) ||
	    !archive_num(s + 14, 2, 59, &mi) ||
	    !archive_num(s + 17, 2, 60, &sec) ||
	    !archive_num(s + 21, 2, 99, &zh) ||
	    !archive_num(s + 23, 2, 59, &zm))
		return false;
	if ((dt = g_date_time_new_utc(y, mo, d, h, mi, sec)) == NULL)
		return false;
	/* The wall-clock time was in the sender's zone: UTC is it less. */
	*out = (int64_t)g_date_time_to_unix(dt) -
	    (s[20] == '-' ? -1 : 1) * ((int64_t)zh * 3600 + zm * 60);
	g_date_time_unref(dt);
	return true;
}

/* A Maildir++ folder name: dot-separated, non-empty, printable parts. */
static bool
archive_is_folder(const char *s)
{
	size_t i, len = strlen(s);

	if (len < 2 || s[0] != '.' || s[len - 1] == '.')
		return false;
	for (i = 1; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || s[i] == '/')
			return false;
		if (s[i] == '.' && s[i - 1] == '.')
			return false;
	}
	return true;
}

int
archive_date_folder(const char *format, const char *date, int64_t now,
    char *buf, size_t size, struct err *err)
{
	int64_t when = now;
	struct tm tm;
	time_t t;
	size_t len;
	char *p;

	if (size < 2 || date == NULL || !archive_parse_date(date, &when))
		when = now;
	t = (time_t)when;
	if (size < 2 || localtime_r(&t, &tm) == NULL) {
		err_setx(err, ERR_SOFTWARE, "folder_by_date: no local time");
		return -1;
	}
	buf[0] = '.';
	/* The format is the user's, by design: that is what the key is. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	len = strftime(buf + 1, size - 1, format, &tm);
#pragma GCC diagnostic pop
	buf[len + 1] = '\0';
	for (p = buf; *p != '\0'; p++)
		if (*p == '/')
			*p = '.';
	if (len == 0 || !archive_is_folder(buf)) {
		err_setx(err, ERR_CONFIG,
		    "folder_by_date = \"%s\" makes no folder name for this "
		    "message's date",
		    format);
		return -1;
	}
	return 0;
}

int
archive_digest_file(const char *path, char digest[ARCHIVE_HEX_SIZE],
    char msgid[ARCHIVE_HEX_SIZE], bool *has_msgid_out, struct err *err)
{
	struct archive_msg *am;
	char buf[64 * 1024];
	ssize_t n;
	int fd, rc = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		err_set(err, ERR_LOCAL, "open %s", path);
		return -1;
	}
	am = archive_msg_new();
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			err_set(err, ERR_LOCAL, "read %s", path);
			goto out;
		}
		(void)archive_msg_feed(am, buf, (size_t)n);
	}
	*has_msgid_out = archive_msg_finish(am, digest, msgid);
	rc = 0;
out:
	archive_msg_free(am);
	(void)close(fd);
	return rc;
}
