#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "filter/archive.h"
#include "filter/filter.h"
#include "util/fsutil.h"
#include "util/str.h"
#include "util/xmalloc.h"

struct archive_msg {
	GChecksum *sum;
	struct filter_msg *fm;
	bool is_header_done;
	GString *held;
};

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
