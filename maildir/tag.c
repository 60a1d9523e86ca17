#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "maildir/tag.h"
#include "util/str.h"

/*
 * The longest run of hex digits an old tag can show: its 16, after
 * mbsync put a 32-bit UID (at most 10 digits) in front of them.
 */
#define MAILDIR_OLD_RUN_MAX (MAILDIR_KEY_LEN + 10)

/*
 * The fewest hex digits an old key keeps from its first letter on (one
 * that begins with 9 digits is 1 in 30,000; it is then not recognised).
 */
#define MAILDIR_OLD_KEY_MIN 8

void
maildir_tag_key(const char *uid, char key[MAILDIR_KEY_SIZE])
{
	gchar *sum;

	sum = g_compute_checksum_for_string(G_CHECKSUM_SHA256, uid, -1);
	(void)snprintf(key, MAILDIR_KEY_SIZE, "%.16s", sum);
	g_free(sum);
}

void
maildir_tag_make(const char *uid, uint64_t list_size,
    char tag[MAILDIR_TAG_SIZE])
{
	char key[MAILDIR_KEY_SIZE];

	maildir_tag_key(uid, key);
	(void)snprintf(tag, MAILDIR_TAG_SIZE, "PF=%s-%" PRIu64, key, list_size);
}

/* The value of a field runs up to the next ',' or the info (":2,"). */
static size_t
maildir_field_len(const char *value)
{
	return strcspn(value, ",:");
}

/* ",PF=<16 hex>-<decimal>" */
static bool
maildir_tag_parse_new(const char *name, struct maildir_tag *out)
{
	const char *p = name, *num;
	size_t len;

	while ((p = strstr(p, ",PF=")) != NULL) {
		p += 4;
		len = maildir_field_len(p);
		num = p + MAILDIR_KEY_LEN + 1;
		if (len > MAILDIR_KEY_LEN + 1 &&
		    strspn(p, "0123456789abcdef") == MAILDIR_KEY_LEN &&
		    p[MAILDIR_KEY_LEN] == '-' &&
		    str_tonum(num, len - MAILDIR_KEY_LEN - 1, UINT64_MAX,
		        &out->list_size) == 0) {
			memcpy(out->key, p, MAILDIR_KEY_LEN);
			out->key[MAILDIR_KEY_LEN] = '\0';
			out->is_old = false;
			out->has_list_size = true;
			return true;
		}
	}
	return false;
}

/*
 * ",U=<16 hex>", as popfetch wrote it before, or as mbsync left it: it
 * reads a UID from the digits the field begins with, and when that is
 * 0 (or there are none) replaces them with its own.  So the key is kept
 * from its first letter on, which mbsync never touches.  mbsync's own
 * ",U=<n>" has no letter.
 */
static bool
maildir_tag_parse_old(const char *name, struct maildir_tag *out)
{
	const char *p = name;
	size_t len, digits;

	while ((p = strstr(p, ",U=")) != NULL) {
		p += 3;
		len = maildir_field_len(p);
		digits = strspn(p, "0123456789");
		if (len <= MAILDIR_OLD_RUN_MAX && digits < len &&
		    len - digits >= MAILDIR_OLD_KEY_MIN &&
		    len - digits <= MAILDIR_KEY_LEN &&
		    strspn(p, "0123456789abcdef") == len) {
			memcpy(out->key, p + digits, len - digits);
			out->key[len - digits] = '\0';
			out->is_old = true;
			out->has_list_size = false;
			out->list_size = 0;
			return true;
		}
	}
	return false;
}

bool
maildir_tag_parse(const char *name, struct maildir_tag *out)
{
	const char *p;

	/*
	 * A name with a control character cannot be recorded in the state
	 * (its records are lines): such a file counts as no one's, or a
	 * recovery that found it would fail on every run.
	 */
	for (p = name; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
	return maildir_tag_parse_new(name, out) ||
	    maildir_tag_parse_old(name, out);
}

static void
maildir_each_in(const char *root, const char *folder, maildir_file_fn *fn,
    void *arg)
{
	static const char *const subs[] = { "new", "cur" };
	const char *name;
	char *dir;
	size_t i;
	GDir *d;

	for (i = 0; i < 2; i++) {
		dir = g_build_filename(root, folder, subs[i], NULL);
		if ((d = g_dir_open(dir, 0, NULL)) != NULL) {
			while ((name = g_dir_read_name(d)) != NULL)
				if (name[0] != '.')
					fn(arg, dir, name);
			g_dir_close(d);
		}
		g_free(dir);
	}
}

void
maildir_each_file(const char *root, maildir_file_fn *fn, void *arg)
{
	const char *name;
	GDir *d;

	maildir_each_in(root, "", fn, arg);
	if ((d = g_dir_open(root, 0, NULL)) == NULL)
		return;
	while ((name = g_dir_read_name(d)) != NULL)
		if (name[0] == '.' && strcmp(name, "..") != 0)
			maildir_each_in(root, name, fn, arg);
	g_dir_close(d);
}

/* One tagged file. */
struct maildir_tagged {
	char *path;
	struct maildir_tag tag;
};

struct maildir_index {
	GHashTable *files; /* key -> GPtrArray of struct maildir_tagged */
	GHashTable *roots; /* the Maildirs walked, each once */
};

static void
maildir_tagged_free(gpointer p)
{
	struct maildir_tagged *t = p;

	g_free(t->path);
	g_free(t);
}

static void
maildir_tagged_array_free(gpointer p)
{
	g_ptr_array_free(p, TRUE);
}

struct maildir_index *
maildir_index_new(void)
{
	struct maildir_index *idx = g_new0(struct maildir_index, 1);

	idx->files = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
	    maildir_tagged_array_free);
	idx->roots =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	return idx;
}

void
maildir_index_free(struct maildir_index *idx)
{
	if (idx == NULL)
		return;
	g_hash_table_destroy(idx->files);
	g_hash_table_destroy(idx->roots);
	g_free(idx);
}

/*
 * The index's key for a tag's key: an old one is kept apart, from its
 * first letter on.
 */
static void
maildir_index_key(const char *key, bool is_old, char out[MAILDIR_KEY_SIZE + 1])
{
	if (is_old)
		(void)snprintf(out, MAILDIR_KEY_SIZE + 1, "~%s",
		    key + strspn(key, "0123456789"));
	else
		(void)snprintf(out, MAILDIR_KEY_SIZE + 1, "%s", key);
}

static void
maildir_index_one(void *arg, const char *dir, const char *name)
{
	struct maildir_index *idx = arg;
	struct maildir_tagged *t;
	struct maildir_tag tag;
	GPtrArray *list;

	char key[MAILDIR_KEY_SIZE + 1];

	if (!maildir_tag_parse(name, &tag))
		return;
	maildir_index_key(tag.key, tag.is_old, key);
	if ((list = g_hash_table_lookup(idx->files, key)) == NULL) {
		list = g_ptr_array_new_with_free_func(maildir_tagged_free);
		g_hash_table_insert(idx->files, g_strdup(key), list);
	}
	t = g_new0(struct maildir_tagged, 1);
	t->path = g_build_filename(dir, name, NULL);
	t->tag = tag;
	g_ptr_array_add(list, t);
}

void
maildir_index_add(struct maildir_index *idx, const char *root)
{
	if (g_hash_table_contains(idx->roots, root))
		return;
	g_hash_table_add(idx->roots, g_strdup(root));
	maildir_each_file(root, maildir_index_one, idx);
}

/* The files tagged for uid: new tags (0), old ones (1). */
static void
maildir_index_lists(const struct maildir_index *idx, const char *uid,
    GPtrArray *lists[2])
{
	char key[MAILDIR_KEY_SIZE], ikey[MAILDIR_KEY_SIZE + 1];
	int i;

	maildir_tag_key(uid, key);
	for (i = 0; i < 2; i++) {
		maildir_index_key(key, i == 1, ikey);
		lists[i] = g_hash_table_lookup(idx->files, ikey);
	}
}

bool
maildir_index_has(const struct maildir_index *idx, const char *uid)
{
	GPtrArray *lists[2];

	maildir_index_lists(idx, uid, lists);
	return lists[0] != NULL || lists[1] != NULL;
}

/*
 * An old tag: does the file hold list_size octets, or that many with
 * each LF counted as CRLF, as LIST counts on the wire?
 */
static bool
maildir_old_size_matches(const char *path, uint64_t list_size)
{
	uint64_t octets = 0, lines = 0;
	char buf[64 * 1024];
	ssize_t n, i;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return false;
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			(void)close(fd);
			return false;
		}
		octets += (uint64_t)n;
		for (i = 0; i < n; i++)
			lines += buf[i] == '\n';
	}
	(void)close(fd);
	return list_size == octets || list_size == octets + lines;
}

const char *
maildir_index_find(const struct maildir_index *idx, const char *uid,
    uint64_t list_size, bool is_exact)
{
	const struct maildir_tagged *t;
	GPtrArray *lists[2];
	guint i;
	int k;

	maildir_index_lists(idx, uid, lists);
	for (k = 0; k < 2; k++)
		for (i = 0; lists[k] != NULL && i < lists[k]->len; i++) {
			t = g_ptr_array_index(lists[k], i);
			if (t->tag.has_list_size ? t->tag.list_size == list_size
			                         : !is_exact &&
			            maildir_old_size_matches(t->path,
			                list_size))
				return t->path;
		}
	return NULL;
}
