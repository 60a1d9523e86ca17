#include "config.h"

#include <sys/types.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "state/archive.h"
#include "state/journal.h"
#include "util/xmalloc.h"

/*
 * The index format; see archive_open() in the header.  Within version 1
 * fields are only ever added at the end, so a reader takes the three it
 * knows; an incompatible change bumps the version, which older readers
 * refuse rather than misread.
 */
static const struct journal_kind archive_kind = { .magic = "popfetch-archive",
	.version = 1,
	.what = "archive index" };

/* Two digests, a path, separators. */
#define ARCHIVE_RECORD_MAX (2 * ARCHIVE_HEX_LEN + PATH_MAX + 8)

struct archive {
	struct journal *j;
	GHashTable *set; /* "digest TAB msgid" -> file */
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
archive_parse_record(void *arg, const char *line, size_t len, off_t off)
{
	struct archive *ar = arg;
	const char *end = line + len, *t1, *t2, *t3;
	size_t mlen, flen;

	(void)off;
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

struct archive *
archive_open(const char *path, struct err *err)
{
	struct archive *ar = xcalloc(1, sizeof(*ar));

	ar->set =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	ar->j =
	    journal_open(path, &archive_kind, archive_parse_record, ar, err);
	if (ar->j == NULL) {
		archive_free(ar);
		return NULL;
	}
	return ar;
}

void
archive_free(struct archive *ar)
{
	if (ar == NULL)
		return;
	journal_free(ar->j);
	g_hash_table_destroy(ar->set);
	free(ar);
}

size_t
archive_malformed(const struct archive *ar)
{
	return journal_malformed(ar->j);
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
		err_setx(err, ERR_SOFTWARE, "%s: invalid record",
		    journal_path(ar->j));
		return -1;
	}
	len = snprintf(rec, sizeof(rec), "%s\t%s\t%s\n", digest, msgid, file);
	if (len < 0 || (size_t)len >= sizeof(rec)) {
		err_setx(err, ERR_SOFTWARE, "%s: record too long",
		    journal_path(ar->j));
		return -1;
	}
	if (journal_append(ar->j, rec, (size_t)len, NULL, err) == -1)
		return -1;
	g_hash_table_replace(ar->set,
	    archive_key(digest, strlen(digest), msgid, strlen(msgid)),
	    g_strdup(file));
	return 0;
}

int
archive_sync(struct archive *ar, struct err *err)
{
	return journal_sync(ar->j, err);
}

bool
archive_is_dirty(const struct archive *ar)
{
	return journal_is_dirty(ar->j);
}
