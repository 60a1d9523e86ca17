#include "config.h"

#include <sys/types.h>

#include <assert.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "state/journal.h"
#include "state/uidl.h"
#include "util/str.h"
#include "util/xmalloc.h"

/*
 * The journal is text, one record a line:
 *
 *	popfetch-uidl 1
 *	<uid> TAB <size> TAB <first seen> TAB <delivered> TAB <file>
 *	    [TAB <header id>] LF
 *
 * Times are seconds since the epoch; file is the name in the Maildir,
 * or "-"; the header id (added later, so optional) is 16 hex digits, or
 * "-" when unknown (see uidl_append_id()).  Within version 1, fields are only
 *ever added at the end: a reader takes the ones it knows and ignores the rest,
 *so a record needs at least UIDL_FIELDS fields.  An incompatible change bumps
 *the version, which older readers refuse rather than misread.
 */
#define UIDL_FIELDS 5
/*
 * A size of "*" in the journal: any size matches.  Other tools' state,
 * imported when moving to popfetch, knows the uids but not the sizes.
 */
#define UIDL_SIZE_ANY UINT64_MAX

static const struct journal_kind uidl_kind = { .magic = "popfetch-uidl",
	.version = 1,
	.what = "UIDL journal" };

/* RFC 1939 §7: a unique-id is 1 to 70 characters in 0x21..0x7e. */
#define UIDL_UID_MAX 70

/* One record: uid, five numbers (one a header id), a file name, separators. */
#define UIDL_RECORD_MAX (UIDL_UID_MAX + 5 * 21 + NAME_MAX + 8)

/*
 * An entry keeps where its record is, not the file name in it: names are
 * most of a record, and are only read for a few uses (uidl_file(),
 * compaction), so 100,000 entries cost about 60 octets each.
 */
struct uidl_entry {
	const char *uid; /* points into data */
	uint64_t size;
	int64_t first_seen;
	int64_t delivered;
	uint64_t hid;  /* header id, 0 if unknown */
	off_t rec;     /* offset of its (last) record in the journal */
	bool has_file; /* that record names a file */
	char data[];
};

/*
 * Entries live in slabs that are freed together: a store of 100,000
 * entries costs no allocator overhead per entry, and uidl_free() frees
 * a few dozen slabs rather than every entry.  An entry replaced or
 * dropped stays in its slab until then; compaction keeps that bounded.
 */
#define UIDL_SLAB_SIZE (256 * 1024)

struct uidl_slab {
	struct uidl_slab *next;
	size_t used, cap;
	char data[]; /* after three words: aligned for an entry */
};

struct uidl_store {
	struct journal *j;
	bool is_reindexing;      /* reading only to learn records' offsets */
	char file[NAME_MAX + 1]; /* what uidl_file() returns */
	GHashTable *set;         /* struct uidl_entry, keyed on (uid, size) */
	GHashTable *by_uid;      /* uid -> its latest entry; made when asked */
	struct uidl_slab *slabs; /* the entries' memory, newest first */
};

static guint
uidl_entry_hash(gconstpointer p)
{
	const struct uidl_entry *e = p;

	return g_str_hash(e->uid) ^ (guint)(e->size * 0x9e3779b97f4a7c15ULL);
}

static gboolean
uidl_entry_equal(gconstpointer a, gconstpointer b)
{
	const struct uidl_entry *x = a, *y = b;

	return x->size == y->size && strcmp(x->uid, y->uid) == 0;
}

static bool
uidl_valid_uid(const char *uid, size_t len)
{
	size_t i;

	if (len == 0 || len > UIDL_UID_MAX)
		return false;
	for (i = 0; i < len; i++)
		if ((unsigned char)uid[i] < 0x21 ||
		    (unsigned char)uid[i] > 0x7e)
			return false;
	return true;
}

/* A Maildir file name: no separators, nothing unprintable. */
static bool
uidl_valid_file(const char *file, size_t len)
{
	size_t i;

	if (len == 0 || len > NAME_MAX)
		return false;
	for (i = 0; i < len; i++)
		if ((unsigned char)file[i] < 0x20 || file[i] == 0x7f ||
		    file[i] == '/')
			return false;
	return true;
}

/* len octets for an entry, aligned for one. */
static void *
uidl_alloc(struct uidl_store *st, size_t len)
{
	struct uidl_slab *slab = st->slabs;
	void *p;

	len = (len + _Alignof(struct uidl_entry) - 1) &
	    ~(_Alignof(struct uidl_entry) - 1);
	if (slab == NULL || slab->cap - slab->used < len) {
		size_t cap = len > UIDL_SLAB_SIZE ? len : UIDL_SLAB_SIZE;

		slab = xmalloc(sizeof(*slab) + cap);
		slab->used = 0;
		slab->cap = cap;
		slab->next = st->slabs;
		st->slabs = slab;
	}
	p = slab->data + slab->used;
	slab->used += len;
	return p;
}

static struct uidl_entry *
uidl_entry_new(struct uidl_store *st, const char *uid, size_t uidlen,
    uint64_t size, bool has_file, off_t rec, int64_t first_seen,
    int64_t delivered, uint64_t hid)
{
	struct uidl_entry *e;

	e = uidl_alloc(st, sizeof(*e) + uidlen + 1);
	memcpy(e->data, uid, uidlen);
	e->data[uidlen] = '\0';
	e->uid = e->data;
	e->has_file = has_file;
	e->rec = rec;
	e->size = size;
	e->first_seen = first_seen;
	e->delivered = delivered;
	e->hid = hid;
	return e;
}

/* Add e (taking ownership); a later record for the same key wins. */
static void
uidl_insert(struct uidl_store *st, struct uidl_entry *e)
{
	struct uidl_entry *old;

	if ((old = g_hash_table_lookup(st->set, e)) != NULL &&
	    old->first_seen < e->first_seen)
		e->first_seen = old->first_seen;
	(void)g_hash_table_replace(st->set, e, e);
	if (st->by_uid != NULL)
		g_hash_table_replace(st->by_uid, e->data, e);
}

static int
uidl_parse_time(const char *s, size_t len, int64_t *out)
{
	uint64_t v;

	if (str_tonum(s, len, INT64_MAX, &v) == -1)
		return -1;
	*out = (int64_t)v;
	return 0;
}

/* A header id: 16 hex digits, or "-" for none. */
static int
uidl_parse_hid(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	*out = 0;
	if (len == 1 && s[0] == '-')
		return 0;
	if (len != 16)
		return -1;
	for (i = 0; i < len; i++) {
		if (!g_ascii_isxdigit(s[i]))
			return -1;
		v = v << 4 | (uint64_t)g_ascii_xdigit_value(s[i]);
	}
	*out = v;
	return 0;
}

/*
 * Parse one record (without its LF), at offset off of the journal; -1 if
 * malformed.  Reindexing, only note where the entry's record is.
 */
static int
uidl_parse_record(void *arg, const char *line, size_t len, off_t off)
{
	struct uidl_store *st = arg;
	const char *field[UIDL_FIELDS + 1], *end = line + len, *p = line, *tab;
	size_t flen[UIDL_FIELDS + 1], n;
	uint64_t size, hid = 0;
	int64_t seen, delivered;

	for (n = 0; n < UIDL_FIELDS + 1; n++) {
		tab = memchr(p, '\t', (size_t)(end - p));
		field[n] = p;
		flen[n] = (size_t)((tab != NULL ? tab : end) - p);
		if (tab == NULL)
			break;
		p = tab + 1;
	}
	if (n < UIDL_FIELDS - 1)
		return -1;
	/* One this version cannot read is as good as none: unknown. */
	if (n >= UIDL_FIELDS && uidl_parse_hid(field[5], flen[5], &hid) == -1)
		hid = 0;
	if (flen[1] == 1 && field[1][0] == '*')
		size = UIDL_SIZE_ANY;
	else if (str_tonum(field[1], flen[1], UIDL_SIZE_ANY - 1, &size) == -1)
		return -1;
	if (!uidl_valid_uid(field[0], flen[0]) ||
	    uidl_parse_time(field[2], flen[2], &seen) == -1 ||
	    uidl_parse_time(field[3], flen[3], &delivered) == -1)
		return -1;
	/*
	 * uidl_read_file() reads the name back with one bounded read: what
	 * it needs (numbers may have leading zeros) must fit, whatever
	 * fields follow.
	 */
	if ((size_t)(field[4] + flen[4] - line) >= UIDL_RECORD_MAX - 1)
		return -1;
	if (flen[4] == 1 && field[4][0] == '-')
		flen[4] = 0;
	else if (!uidl_valid_file(field[4], flen[4]))
		return -1;
	if (st->is_reindexing) {
		struct uidl_entry key = { .size = size }, *e;
		char uid[UIDL_UID_MAX + 1];

		memcpy(uid, field[0], flen[0]);
		uid[flen[0]] = '\0';
		key.uid = uid;
		if ((e = g_hash_table_lookup(st->set, &key)) != NULL) {
			e->rec = off;
			e->has_file = flen[4] > 0;
		}
		return 0;
	}
	uidl_insert(st,
	    uidl_entry_new(st, field[0], flen[0], size, flen[4] > 0, off, seen,
	        delivered, hid));
	return 0;
}

static struct uidl_store *
uidl_new(void)
{
	struct uidl_store *st = xcalloc(1, sizeof(*st));

	st->set = g_hash_table_new(uidl_entry_hash, uidl_entry_equal);
	return st;
}

struct uidl_store *
uidl_open(const char *path, struct err *err)
{
	struct uidl_store *st = uidl_new();

	st->j = journal_open(path, &uidl_kind, uidl_parse_record, st, err);
	if (st->j == NULL) {
		uidl_free(st);
		return NULL;
	}
	return st;
}

struct uidl_store *
uidl_open_readonly(const char *path, struct err *err)
{
	struct uidl_store *st = uidl_new();

	st->j =
	    journal_open_readonly(path, &uidl_kind, uidl_parse_record, st, err);
	if (st->j == NULL) {
		uidl_free(st);
		return NULL;
	}
	return st;
}

void
uidl_free(struct uidl_store *st)
{
	struct uidl_slab *slab;

	if (st == NULL)
		return;
	journal_free(st->j);
	if (st->by_uid != NULL)
		g_hash_table_destroy(st->by_uid);
	g_hash_table_destroy(st->set);
	while ((slab = st->slabs) != NULL) {
		st->slabs = slab->next;
		free(slab);
	}
	free(st);
}

bool
uidl_has(const struct uidl_store *st, const char *uid, uint64_t size)
{
	struct uidl_entry key;

	if (!uidl_valid_uid(uid, strlen(uid)))
		return false;
	key.uid = uid;
	key.size = size;
	if (g_hash_table_contains(st->set, &key))
		return true;
	key.size = UIDL_SIZE_ANY;
	return g_hash_table_contains(st->set, &key);
}

static const struct uidl_entry *
uidl_lookup(const struct uidl_store *st, const char *uid, uint64_t size)
{
	struct uidl_entry key, *e;

	if (!uidl_valid_uid(uid, strlen(uid)))
		return NULL;
	key.uid = uid;
	key.size = size;
	if ((e = g_hash_table_lookup(st->set, &key)) == NULL) {
		key.size = UIDL_SIZE_ANY;
		e = g_hash_table_lookup(st->set, &key);
	}
	return e;
}

/* st->by_uid, made on first use: the latest record of each uid wins. */
static void
uidl_index_uids(struct uidl_store *st)
{
	GHashTableIter it;
	gpointer p;

	if (st->by_uid != NULL)
		return;
	st->by_uid = g_hash_table_new(g_str_hash, g_str_equal);
	g_hash_table_iter_init(&it, st->set);
	while (g_hash_table_iter_next(&it, &p, NULL)) {
		const struct uidl_entry *x = p, *old;

		old = g_hash_table_lookup(st->by_uid, x->uid);
		if (old == NULL || old->rec < x->rec)
			g_hash_table_replace(st->by_uid,
			    ((struct uidl_entry *)p)->data, p);
	}
}

/*
 * Is e the same message as a later record of its uid, under an older
 * size (the same header id: see uidl_append_id())?  Then that record
 * says all e says.
 */
static bool
uidl_is_superseded(struct uidl_store *st, const struct uidl_entry *e)
{
	const struct uidl_entry *latest;

	uidl_index_uids(st);
	latest = g_hash_table_lookup(st->by_uid, e->uid);
	return e->hid != 0 && latest != e && latest->hid == e->hid;
}

bool
uidl_find_uid(struct uidl_store *st, const char *uid, uint64_t *size_out,
    uint64_t *hid_out)
{
	const struct uidl_entry *e;

	uidl_index_uids(st);
	if ((e = g_hash_table_lookup(st->by_uid, uid)) == NULL)
		return false;
	*size_out = e->size;
	*hid_out = e->hid;
	return true;
}

int64_t
uidl_first_seen(const struct uidl_store *st, const char *uid, uint64_t size)
{
	const struct uidl_entry *e = uidl_lookup(st, uid, size);

	return e != NULL ? e->first_seen : -1;
}

/*
 * The file name in e's record, read back from the journal into st->file;
 * NULL if it names none, or if what is there is not e's record.
 */
static const char *
uidl_read_file(struct uidl_store *st, const struct uidl_entry *e)
{
	char rec[UIDL_RECORD_MAX];
	const char *p, *end, *tab;
	size_t ulen = strlen(e->uid), i;
	ssize_t n;

	if (!e->has_file)
		return NULL;
	n = journal_pread(st->j, rec, sizeof(rec), e->rec);
	if (n <= 0)
		return NULL;
	/* The fields after the name may not all be in rec: no matter. */
	if ((end = memchr(rec, '\n', (size_t)n)) == NULL)
		end = rec + n;
	if ((size_t)(end - rec) <= ulen || memcmp(rec, e->uid, ulen) != 0 ||
	    rec[ulen] != '\t')
		return NULL;
	/* The fifth field; a later version may add more after it. */
	for (p = rec, i = 0; i < UIDL_FIELDS - 1; i++) {
		if ((tab = memchr(p, '\t', (size_t)(end - p))) == NULL)
			return NULL;
		p = tab + 1;
	}
	if ((tab = memchr(p, '\t', (size_t)(end - p))) != NULL)
		end = tab;
	if ((size_t)(end - p) >= sizeof(st->file) ||
	    !uidl_valid_file(p, (size_t)(end - p)))
		return NULL;
	memcpy(st->file, p, (size_t)(end - p));
	st->file[end - p] = '\0';
	return st->file;
}

const char *
uidl_file(struct uidl_store *st, const char *uid, uint64_t size)
{
	const struct uidl_entry *e = uidl_lookup(st, uid, size);

	return e != NULL ? uidl_read_file(st, e) : NULL;
}

void
uidl_foreach(struct uidl_store *st, uidl_each_fn *fn, void *arg)
{
	GHashTableIter it;
	gpointer p;

	g_hash_table_iter_init(&it, st->set);
	while (g_hash_table_iter_next(&it, &p, NULL)) {
		const struct uidl_entry *e = p;

		fn(arg, e->uid, e->size, e->first_seen, e->delivered,
		    uidl_read_file(st, e));
	}
}

size_t
uidl_count(const struct uidl_store *st)
{
	return g_hash_table_size(st->set);
}

size_t
uidl_malformed(const struct uidl_store *st)
{
	return journal_malformed(st->j);
}

static int
uidl_check_args(const char *uid, uint64_t size, const char *file,
    struct err *err)
{
	if (size == UIDL_SIZE_ANY) {
		err_setx(err, ERR_SOFTWARE, "uidl: invalid size");
		return -1;
	}
	if (!uidl_valid_uid(uid, strlen(uid))) {
		err_setx(err, ERR_SOFTWARE, "uidl: invalid uid");
		return -1;
	}
	if (file != NULL &&
	    (!uidl_valid_file(file, strlen(file)) || strcmp(file, "-") == 0)) {
		err_setx(err, ERR_SOFTWARE, "uidl: invalid file name");
		return -1;
	}
	return 0;
}

static int
uidl_format(char *buf, size_t bufsize, const struct uidl_entry *e,
    const char *file)
{
	char size[24], hid[24];
	int n;

	if (e->size == UIDL_SIZE_ANY)
		(void)snprintf(size, sizeof(size), "*");
	else
		(void)snprintf(size, sizeof(size), "%" PRIu64, e->size);
	/* The header id only when known: older records stay as they were. */
	hid[0] = '\0';
	if (e->hid != 0)
		(void)snprintf(hid, sizeof(hid), "\t%016" PRIx64, e->hid);
	n = snprintf(buf, bufsize, "%s\t%s\t%" PRId64 "\t%" PRId64 "\t%s%s\n",
	    e->uid, size, e->first_seen, e->delivered,
	    file != NULL ? file : "-", hid);
	assert(n > 0 && (size_t)n < bufsize);
	return n;
}

int
uidl_append(struct uidl_store *st, const char *uid, uint64_t size,
    const char *file, int64_t now, struct err *err)
{
	return uidl_append_id(st, uid, size, file, 0, now, err);
}

int
uidl_append_id(struct uidl_store *st, const char *uid, uint64_t size,
    const char *file, uint64_t hid, int64_t now, struct err *err)
{
	struct uidl_entry *e;
	char rec[UIDL_RECORD_MAX];
	int len;

	if (uidl_check_args(uid, size, file, err) == -1)
		return -1;
	if (now < 0)
		now = 0; /* a clock before 1970 is wrong, the record is not */
	e = uidl_entry_new(st, uid, strlen(uid), size, file != NULL, 0, now,
	    now, hid);
	len = uidl_format(rec, sizeof(rec), e, file);
	if (journal_append(st->j, rec, (size_t)len, &e->rec, err) == -1)
		return -1;
	uidl_insert(st, e);
	return 0;
}

int
uidl_sync(struct uidl_store *st, struct err *err)
{
	return journal_sync(st->j, err);
}

/* g_ptr_array_sort(): entries in the order of their records. */
static gint
uidl_entry_cmp_rec(gconstpointer a, gconstpointer b)
{
	const struct uidl_entry *x = *(const struct uidl_entry *const *)a;
	const struct uidl_entry *y = *(const struct uidl_entry *const *)b;

	return x->rec < y->rec ? -1 : x->rec > y->rec;
}

/*
 * The retained entries, serialised as a whole journal (caller owns the
 * GString), or NULL if a file name cannot be read back.
 */
static GString *
uidl_serialise(struct uidl_store *st, GHashTable *keep, GHashTable *gone,
    struct err *err)
{
	GHashTableIter it;
	GPtrArray *order;
	GString *out;
	gpointer p;
	const char *file;
	char rec[UIDL_RECORD_MAX];
	guint i;
	int len;

	/* In the order of the records, so that the latest stays last. */
	order = g_ptr_array_sized_new(g_hash_table_size(st->set));
	g_hash_table_iter_init(&it, st->set);
	while (g_hash_table_iter_next(&it, &p, NULL))
		if (g_hash_table_contains(keep,
		        ((const struct uidl_entry *)p)->uid) &&
		    !g_hash_table_contains(gone, p))
			g_ptr_array_add(order, p);
	g_ptr_array_sort(order, uidl_entry_cmp_rec);
	out = g_string_sized_new(64 + order->len * 96);
	g_string_append(out, journal_header(st->j));
	for (i = 0; i < order->len; i++) {
		const struct uidl_entry *e = g_ptr_array_index(order, i);

		file = uidl_read_file(st, e);
		if (e->has_file && file == NULL) {
			err_setx(err, ERR_LOCAL,
			    "%s: the record of %s cannot be read back",
			    journal_path(st->j), e->uid);
			g_string_free(out, TRUE);
			out = NULL;
			break;
		}
		len = uidl_format(rec, sizeof(rec), e, file);
		g_string_append_len(out, rec, len);
	}
	g_ptr_array_free(order, TRUE);
	return out;
}

/* Where each entry's record is now, after the journal was rewritten. */
static void
uidl_reindex(struct uidl_store *st)
{
	struct err ignored;

	st->is_reindexing = true;
	(void)journal_scan(st->j, uidl_parse_record, st, &ignored);
	st->is_reindexing = false;
}

int
uidl_compact(struct uidl_store *st, const char *const *keep, size_t n,
    struct err *err)
{
	GHashTableIter it;
	GHashTable *kept, *gone;
	GString *data;
	gpointer p;
	size_t i;
	int rc;

	kept = g_hash_table_new(g_str_hash, g_str_equal);
	for (i = 0; i < n; i++)
		(void)g_hash_table_add(kept, (gpointer)(uintptr_t)keep[i]);
	/* A message's record under an older size goes, its latest stays. */
	gone = g_hash_table_new(NULL, NULL);
	g_hash_table_iter_init(&it, st->set);
	while (g_hash_table_iter_next(&it, &p, NULL))
		if (uidl_is_superseded(st, p))
			(void)g_hash_table_add(gone, p);
	if ((data = uidl_serialise(st, kept, gone, err)) == NULL) {
		g_hash_table_destroy(gone);
		g_hash_table_destroy(kept);
		return -1;
	}
	/*
	 * Either file holds every record: the old one all of them, the new
	 * one all that are kept.
	 */
	rc = journal_rewrite(st->j, data->str, data->len, err);
	uidl_reindex(st);
	if (st->by_uid != NULL) {
		g_hash_table_destroy(st->by_uid);
		st->by_uid = NULL;
	}
	if (rc == 0) {
		g_hash_table_iter_init(&it, st->set);
		while (g_hash_table_iter_next(&it, &p, NULL))
			if (!g_hash_table_contains(kept,
			        ((const struct uidl_entry *)p)->uid) ||
			    g_hash_table_contains(gone, p))
				g_hash_table_iter_remove(&it);
	}
	g_string_free(data, TRUE);
	g_hash_table_destroy(gone);
	g_hash_table_destroy(kept);
	return rc;
}
