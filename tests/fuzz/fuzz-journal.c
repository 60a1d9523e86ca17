/*
 * The UIDL journal reader (state/uidl.c, on state/journal.c).
 * uidl_open() takes only a path, so each input is written as the
 * journal file in a private directory, made once per process (on
 * /dev/shm when there is one, to spare the disk).  Then: open, query,
 * append, reopen, compact, reopen, checking that each step keeps what
 * the last one had.
 *
 * Input: the journal file's bytes.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "state/uidl.h"
#include "tests/fuzz/fuzz.h"
#include "util/str.h"
#include "util/xmalloc.h"

#define FUZZ_MAX_CANDIDATES 64
#define FUZZ_NEW_UID "fuzz.new@1"
#define FUZZ_NEW_SIZE 42
#define FUZZ_NEW_HID 0x0123456789abcdefULL

struct candidate {
	char uid[POP3_UID_MAX + 1];
	uint64_t size;
	bool is_kept;
};

static char fuzz_dir[PATH_MAX];
static char fuzz_path[PATH_MAX];

static void
fuzz_cleanup(void)
{
	struct dirent *de;
	DIR *d;

	if (fuzz_dir[0] == '\0' || (d = opendir(fuzz_dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			(void)unlinkat(dirfd(d), de->d_name, 0);
	(void)closedir(d);
	(void)rmdir(fuzz_dir);
}

static void
fuzz_setup(void)
{
	if (fuzz_dir[0] != '\0')
		return;
	fuzz_scratch_dir("fuzz-journal", fuzz_dir, sizeof(fuzz_dir));
	(void)snprintf(fuzz_path, sizeof(fuzz_path), "%s/uidl", fuzz_dir);
	(void)atexit(fuzz_cleanup);
}

static void
write_file(const uint8_t *data, size_t size)
{
	ssize_t n;
	size_t off = 0;
	int fd;

	fd = open(fuzz_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1)
		fuzz_fail("open %s", fuzz_path);
	while (off < size) {
		if ((n = write(fd, data + off, size - off)) <= 0)
			fuzz_fail("write %s", fuzz_path);
		off += (size_t)n;
	}
	(void)close(fd);
}

/* A journal that was refused must be left exactly as it was. */
static void
check_untouched(const uint8_t *data, size_t size)
{
	struct stat sb;
	char *buf;
	ssize_t n;
	int fd;

	if ((fd = open(fuzz_path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &sb) == -1)
		fuzz_fail("reopen %s", fuzz_path);
	FUZZ_CHECK((size_t)sb.st_size == size);
	buf = xmalloc(size + 1);
	n = read(fd, buf, size + 1);
	FUZZ_CHECK(n >= 0 && (size_t)n == size);
	FUZZ_CHECK(size == 0 || memcmp(buf, data, size) == 0);
	free(buf);
	(void)close(fd);
}

/*
 * The (uid, size) pairs of the input's records that the store holds,
 * as far as a line's first two fields tell.
 */
static size_t
find_candidates(const struct uidl_store *st, const uint8_t *data, size_t size,
    struct candidate *cand)
{
	const char *p = (const char *)data, *end = p + size, *nl, *tab, *tab2;
	size_t n = 0, ulen;
	uint64_t num;

	if ((nl = memchr(p, '\n', size)) == NULL)
		return 0;
	for (p = nl + 1; p < end && n < FUZZ_MAX_CANDIDATES; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;
		if ((tab = memchr(p, '\t', (size_t)(nl - p))) == NULL ||
		    (tab2 = memchr(tab + 1, '\t', (size_t)(nl - tab - 1))) ==
		        NULL)
			continue;
		ulen = (size_t)(tab - p);
		if (ulen == 0 || ulen > POP3_UID_MAX ||
		    memchr(p, '\0', ulen) != NULL ||
		    str_tonum(tab + 1, (size_t)(tab2 - tab - 1), UINT64_MAX,
		        &num) == -1)
			continue;
		memcpy(cand[n].uid, p, ulen);
		cand[n].uid[ulen] = '\0';
		cand[n].size = num;
		if (uidl_has(st, cand[n].uid, cand[n].size))
			n++;
	}
	return n;
}

static struct uidl_store *
reopen(struct uidl_store *st)
{
	struct err err;

	uidl_free(st);
	err_clear(&err);
	if ((st = uidl_open(fuzz_path, &err)) == NULL)
		fuzz_fail("reopen of a journal we wrote: %s", err.msg);
	return st;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct candidate cand[FUZZ_MAX_CANDIDATES];
	const char *keep[FUZZ_MAX_CANDIDATES + 1];
	struct uidl_store *st;
	struct err err;
	size_t i, n, nkeep = 0, count, malformed, lines;
	uint64_t fsize, fhid;
	bool had_new;

	fuzz_setup();
	write_file(data, size);
	err_clear(&err);
	if ((st = uidl_open(fuzz_path, &err)) == NULL) {
		fuzz_check_err(&err);
		FUZZ_CHECK(err.cls == ERR_LOCAL);
		check_untouched(data, size);
		return 0;
	}
	count = uidl_count(st);
	malformed = uidl_malformed(st);
	lines = 0;
	for (i = 0; i < size; i++)
		lines += data[i] == '\n';
	/* One entry or one complaint at most per record line. */
	FUZZ_CHECK(count + malformed + (lines > 0 ? 1 : 0) <= lines);
	n = find_candidates(st, data, size, cand);

	/* An appended record survives a reopen, and so does the rest. */
	had_new = uidl_has(st, FUZZ_NEW_UID, FUZZ_NEW_SIZE);
	FUZZ_CHECK(uidl_append_id(st, FUZZ_NEW_UID, FUZZ_NEW_SIZE, "1.fuzz",
	               FUZZ_NEW_HID, 1, &err) == 0);
	FUZZ_CHECK(uidl_sync(st, &err) == 0);
	st = reopen(st);
	FUZZ_CHECK(uidl_count(st) == count + (had_new ? 0 : 1));
	FUZZ_CHECK(uidl_malformed(st) == malformed);
	FUZZ_CHECK(uidl_has(st, FUZZ_NEW_UID, FUZZ_NEW_SIZE));
	/* The last record of a uid is the one found by uid alone. */
	FUZZ_CHECK(uidl_find_uid(st, FUZZ_NEW_UID, &fsize, &fhid));
	FUZZ_CHECK(fsize == FUZZ_NEW_SIZE && fhid == FUZZ_NEW_HID);
	for (i = 0; i < n; i++) {
		FUZZ_CHECK(uidl_has(st, cand[i].uid, cand[i].size));
		FUZZ_CHECK(uidl_find_uid(st, cand[i].uid, &fsize, &fhid));
	}

	/* Compaction keeps exactly the uids asked for, in a clean file. */
	for (i = 0; i < n; i++)
		if ((cand[i].is_kept = i % 2 == 0))
			keep[nkeep++] = cand[i].uid;
	keep[nkeep++] = FUZZ_NEW_UID;
	FUZZ_CHECK(uidl_compact(st, keep, nkeep, &err) == 0);
	count = uidl_count(st);
	st = reopen(st);
	FUZZ_CHECK(uidl_count(st) == count);
	FUZZ_CHECK(uidl_malformed(st) == 0);
	FUZZ_CHECK(uidl_has(st, FUZZ_NEW_UID, FUZZ_NEW_SIZE));
	for (i = 0; i < n; i++) {
		bool is_kept =
		    cand[i].is_kept || strcmp(cand[i].uid, FUZZ_NEW_UID) == 0;
		size_t j;

		/* A uid may be listed twice (two sizes); either keeps it. */
		for (j = 0; j < n && !is_kept; j++)
			is_kept = cand[j].is_kept &&
			    strcmp(cand[j].uid, cand[i].uid) == 0;
		/*
		 * A kept one may only have gone for a later record of its
		 * uid, under another size (superseded: the same message).
		 */
		if (!is_kept)
			FUZZ_CHECK(!uidl_has(st, cand[i].uid, cand[i].size));
		else if (!uidl_has(st, cand[i].uid, cand[i].size))
			FUZZ_CHECK(
			    uidl_find_uid(st, cand[i].uid, &fsize, &fhid) &&
			    fsize != cand[i].size && fhid != 0);
	}
	uidl_free(st);
	return 0;
}
