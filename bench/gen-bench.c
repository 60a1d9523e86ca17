#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

/*
 * gen-bench: write the benchmark's server mailboxes, one file per
 * message with LF line endings, as a Maildir holds them.  Unlike
 * tests/tools/gen-mail, which covers the odd cases a client must carry
 * (huge lines, empty bodies), these messages look like everyday mail:
 * a trace of Received fields, a DKIM signature, threads, mailing lists,
 * quoted replies, multipart/alternative and attachments.  Message i
 * depends only on the seed and on i.
 *
 *	small	3-6 KB of headers and text
 *	large	about 8 MB: a short text and a base64 attachment
 *	tiny	a few hundred bytes
 */

#define GB_B64_RAW 57 /* bytes per 76-column base64 line */

enum gb_kind {
	GB_SMALL,
	GB_LARGE,
	GB_TINY,
};

struct gb_rng {
	uint64_t s;
};

static const char *const gb_words[] = { "the", "of", "and", "to", "a", "in",
	"is", "that", "for", "it", "as", "with", "be", "on", "not", "this",
	"but", "by", "from", "they", "we", "have", "or", "an", "will", "all",
	"would", "there", "their", "what", "so", "about", "which", "when",
	"meeting", "report", "budget", "server", "release", "draft", "review",
	"schedule", "invoice", "customer", "quarter", "update", "patch",
	"deadline", "proposal", "thanks", "question", "attached", "please",
	"tomorrow", "morning", "agenda", "numbers", "figures", "holiday",
	"office", "project", "team", "notes", "minutes", "contract", "order",
	"shipping", "delivery", "backup", "migration", "mailbox", "weekend" };

static const char *const gb_first[] = { "Alice", "Bruno", "Chen", "Dana",
	"Emeka", "Fatima", "Georg", "Hana", "Ivan", "Julia", "Kofi", "Lena",
	"Marco", "Nadia", "Oskar", "Priya", "Quentin", "Rosa", "Sven",
	"Tomoko" };

static const char *const gb_last[] = { "Andersen", "Bauer", "Costa", "Dubois",
	"Eriksson", "Fischer", "Garcia", "Hoffmann", "Ito", "Jansen",
	"Kowalski", "Lindqvist", "Moreau", "Novak", "Okafor", "Petrov", "Rossi",
	"Schmidt" };

static const char *const gb_domains[] = { "example.org", "example.com",
	"mail.example.net", "lists.example.org", "corp.example.com",
	"university.example.edu" };

static const char *const gb_days[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat",
	"Sun" };

static const char *const gb_months[] = { "Jan", "Feb", "Mar", "Apr", "May",
	"Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

static const char gb_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void usage(void) __attribute__((noreturn));
static void gb_printf(FILE *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

#define GB_PICK(r, a) ((a)[gb_next(r) % (sizeof(a) / sizeof(*(a)))])

/* splitmix64: small, fast and the same everywhere. */
static uint64_t
gb_next(struct gb_rng *r)
{
	uint64_t z;

	r->s += 0x9e3779b97f4a7c15ULL;
	z = r->s;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A number in [lo, hi]. */
static unsigned
gb_range(struct gb_rng *r, unsigned lo, unsigned hi)
{
	return lo + (unsigned)(gb_next(r) % ((uint64_t)hi - lo + 1));
}

static void
gb_printf(FILE *fp, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vfprintf(fp, fmt, ap);
	va_end(ap);
}

/* n characters of base64 alphabet, as in signatures and hashes. */
static void
gb_b64chars(FILE *fp, struct gb_rng *r, size_t n)
{
	while (n-- > 0)
		(void)putc(gb_b64[gb_next(r) & 63], fp);
}

/* One line of words, about width columns; returns the bytes written. */
static size_t
gb_line(FILE *fp, struct gb_rng *r, const char *prefix, size_t width)
{
	size_t col = 0, len;
	const char *w;

	len = strlen(prefix);
	(void)fputs(prefix, fp);
	while (col < width) {
		w = GB_PICK(r, gb_words);
		if (col > 0)
			(void)putc(' ', fp);
		(void)fputs(w, fp);
		col += strlen(w) + 1;
	}
	/* Sentences end with a full stop; some lines start with one. */
	(void)fputs(".\n", fp);
	return len + col + 1;
}

/* Paragraphs of text up to about size bytes. */
static void
gb_text(FILE *fp, struct gb_rng *r, size_t size)
{
	size_t done = 0;
	unsigned n;

	while (done < size) {
		n = gb_range(r, 0, 19);
		if (n == 0)
			/* RFC 1939 §3: the server stuffs it, we unstuff it. */
			done += gb_line(fp, r, ".", gb_range(r, 10, 60));
		else if (n < 4)
			done += gb_line(fp, r, "> ", gb_range(r, 30, 70));
		else
			done += gb_line(fp, r, "", gb_range(r, 40, 74));
		if (gb_range(r, 0, 4) == 0) {
			(void)putc('\n', fp);
			done++;
		}
	}
}

static void
gb_date(FILE *fp, struct gb_rng *r, unsigned idx)
{
	gb_printf(fp, "%s, %u %s 2024 %02u:%02u:%02u +%02u00", gb_days[idx % 7],
	    idx % 28 + 1, gb_months[(idx / 28) % 12], gb_range(r, 0, 23),
	    gb_range(r, 0, 59), gb_range(r, 0, 59), gb_range(r, 0, 2));
}

/*
 * The fields a mailbox on a real server starts with.  Header lines are
 * folded within 78 columns, as RFC 5322 §2.1.1 asks and mail servers do.
 */
static void
gb_trace(FILE *fp, struct gb_rng *r, unsigned idx, const char *from,
    const char *dom)
{
	unsigned i, hops;

	gb_printf(fp, "Return-Path: <%s@%s>\n", from, dom);
	gb_printf(fp, "Delivered-To: bench@example.net\n");
	hops = gb_range(r, 1, 3);
	for (i = 0; i < hops; i++) {
		gb_printf(fp,
		    "Received: from mx%u.%s (mx%u.%s\n"
		    "\t[198.51.100.%u])\n"
		    "\tby mail.example.net (Postfix) with ESMTPS id %08X%02X\n"
		    "\tfor <bench@example.net>; ",
		    i + 1, dom, i + 1, dom, gb_range(r, 1, 254),
		    (unsigned)gb_next(r), i);
		gb_date(fp, r, idx);
		(void)fputs("\n", fp);
	}
}

static void
gb_dkim(FILE *fp, struct gb_rng *r, const char *dom)
{
	unsigned i;

	gb_printf(fp,
	    "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\n"
	    "\td=%s; s=sel2024; t=17%08u;\n\tbh=",
	    dom, gb_range(r, 0, 99999999));
	gb_b64chars(fp, r, 43);
	(void)fputs("=;\n\th=From:To:Subject:Date:Message-ID:MIME-Version;\n"
	            "\tb=",
	    fp);
	for (i = 0; i < 5; i++) {
		if (i > 0)
			(void)fputs("\n\t  ", fp);
		gb_b64chars(fp, r, 68);
	}
	(void)fputs("==\n", fp);
}

static void
gb_headers(FILE *fp, struct gb_rng *r, unsigned long seed, unsigned idx,
    enum gb_kind kind)
{
	const char *first = GB_PICK(r, gb_first);
	const char *last = GB_PICK(r, gb_last);
	const char *dom = GB_PICK(r, gb_domains);
	char local[64];
	unsigned i, n;

	(void)snprintf(local, sizeof(local), "%s.%s", first, last);
	gb_trace(fp, r, idx, local, dom);
	if (kind != GB_TINY)
		gb_dkim(fp, r, dom);
	(void)fputs("Date: ", fp);
	gb_date(fp, r, idx);
	gb_printf(fp, "\nFrom: %s %s <%s@%s>\n", first, last, local, dom);
	gb_printf(fp, "To: Bench User <bench@example.net>\n");
	if (kind == GB_SMALL && gb_range(r, 0, 2) == 0)
		gb_printf(fp, "Cc: %s %s <%s@%s>,\n %s <team@%s>\n",
		    GB_PICK(r, gb_first), GB_PICK(r, gb_last), "colleague", dom,
		    "The Team", dom);
	n = gb_range(r, 2, 7);
	(void)fputs("Subject: ", fp);
	if (kind == GB_SMALL && gb_range(r, 0, 2) == 0)
		(void)fputs("Re: ", fp);
	for (i = 0; i < n; i++)
		gb_printf(fp, "%s%s", i > 0 ? " " : "", GB_PICK(r, gb_words));
	gb_printf(fp, " (%u)\n", idx);
	gb_printf(fp, "Message-ID: <%08X.%lu.%u@%s>\n", (unsigned)gb_next(r),
	    seed, idx, dom);
	if (kind == GB_SMALL && gb_range(r, 0, 2) == 0) {
		gb_printf(fp, "In-Reply-To: <%08X.%u@%s>\n",
		    (unsigned)gb_next(r), idx / 3, dom);
		gb_printf(fp, "References: <%08X.%u@%s>\n <%08X.%u@%s>\n",
		    (unsigned)gb_next(r), idx / 9, dom, (unsigned)gb_next(r),
		    idx / 3, dom);
	}
	if (kind == GB_SMALL && gb_range(r, 0, 3) == 0)
		gb_printf(fp,
		    "List-Id: Project discussion <project.lists.example.org>\n"
		    "List-Unsubscribe: <mailto:project-leave@lists.example.org>"
		    ",\n <https://lists.example.org/unsubscribe/project>\n"
		    "Precedence: list\n");
	gb_printf(fp, "X-Mailer: Example Mail %u.%u\n", gb_range(r, 1, 9),
	    gb_range(r, 0, 20));
	(void)fputs("MIME-Version: 1.0\n", fp);
}

static void
gb_base64(FILE *fp, struct gb_rng *r, size_t raw)
{
	char line[GB_B64_RAW / 3 * 4 + 2];
	size_t i, k;
	uint64_t v;

	/* Random bytes do not compress: as costly to move as real ones. */
	while (raw >= GB_B64_RAW) {
		for (i = 0, k = 0; i < GB_B64_RAW; i += 3) {
			v = gb_next(r);
			line[k++] = gb_b64[v & 63];
			line[k++] = gb_b64[(v >> 6) & 63];
			line[k++] = gb_b64[(v >> 12) & 63];
			line[k++] = gb_b64[(v >> 18) & 63];
		}
		line[k++] = '\n';
		(void)fwrite(line, 1, k, fp);
		raw -= GB_B64_RAW;
	}
	/* A last, short line: 1 or 2 bytes left need padding. */
	if (raw > 0) {
		k = (raw + 2) / 3 * 4;
		gb_b64chars(fp, r, k - (3 - raw % 3) % 3);
		for (i = 0; i < (3 - raw % 3) % 3; i++)
			(void)putc('=', fp);
		(void)putc('\n', fp);
	}
}

static void
gb_body(FILE *fp, struct gb_rng *r, unsigned idx, enum gb_kind kind,
    long hdrlen)
{
	size_t target, text;

	switch (kind) {
	case GB_TINY:
		(void)fputs("Content-Type: text/plain; charset=us-ascii\n\n",
		    fp);
		(void)gb_line(fp, r, "", gb_range(r, 20, 70));
		break;
	case GB_SMALL:
		target = gb_range(r, 3100, 5800);
		text = target > (size_t)hdrlen + 200
		    ? target - (size_t)hdrlen - 200
		    : 200;
		if (gb_range(r, 0, 3) != 0) {
			(void)fputs("Content-Type: text/plain; charset=utf-8\n"
			            "Content-Transfer-Encoding: 8bit\n\n",
			    fp);
			gb_text(fp, r, text);
			(void)fputs("-- \nBench User, +1 555 0100\n", fp);
			break;
		}
		/* Half the text in plain, half in the HTML alternative. */
		gb_printf(fp,
		    "Content-Type: multipart/alternative; "
		    "boundary=\"=_alt_%u\"\n\n"
		    "--=_alt_%u\n"
		    "Content-Type: text/plain; charset=utf-8\n\n",
		    idx, idx);
		gb_text(fp, r, text / 2);
		gb_printf(fp,
		    "\n--=_alt_%u\nContent-Type: text/html; charset=utf-8\n\n"
		    "<html><body><p>\n",
		    idx);
		gb_text(fp, r, text / 2);
		gb_printf(fp, "</p></body></html>\n\n--=_alt_%u--\n", idx);
		break;
	case GB_LARGE:
		/* 7.6 to 8.4 MB in all; base64 makes 77 bytes of 57. */
		target = gb_range(r, 7600000, 8400000);
		gb_printf(fp,
		    "Content-Type: multipart/mixed; boundary=\"=_mix_%u\"\n\n"
		    "--=_mix_%u\n"
		    "Content-Type: text/plain; charset=utf-8\n\n",
		    idx, idx);
		gb_text(fp, r, 1500);
		gb_printf(fp,
		    "\n--=_mix_%u\n"
		    "Content-Type: application/pdf; name=\"scan-%u.pdf\"\n"
		    "Content-Transfer-Encoding: base64\n"
		    "Content-Disposition: attachment; "
		    "filename=\"scan-%u.pdf\"\n\n",
		    idx, idx, idx);
		gb_base64(fp, r, (target - (size_t)hdrlen - 2000) / 77 * 57);
		gb_printf(fp, "\n--=_mix_%u--\n", idx);
		break;
	}
}

static int
gb_message(const char *dir, unsigned long seed, unsigned idx, enum gb_kind kind)
{
	char path[4096];
	struct gb_rng r;
	FILE *fp;
	long hdrlen;
	int n;

	n = snprintf(path, sizeof(path), "%s/msg-%06u.eml", dir, idx);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		fprintf(stderr, "gen-bench: %s: path too long\n", dir);
		return -1;
	}
	if ((fp = fopen(path, "wx")) == NULL) {
		fprintf(stderr, "gen-bench: %s: %s\n", path, strerror(errno));
		return -1;
	}
	r.s = seed * 0x100000001b3ULL ^ ((uint64_t)kind << 40) ^ idx;
	(void)gb_next(&r);
	gb_headers(fp, &r, seed, idx, kind);
	hdrlen = ftell(fp);
	gb_body(fp, &r, idx, kind, hdrlen);
	if (ferror(fp)) {
		fprintf(stderr, "gen-bench: %s: write error\n", path);
		(void)fclose(fp);
		return -1;
	}
	if (fclose(fp) != 0) {
		fprintf(stderr, "gen-bench: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int
parse_num(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return -1;
	*out = v;
	return 0;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: gen-bench -k small|large|tiny -n COUNT -o DIR [-s SEED]\n");
	exit(EX_USAGE);
}

int
main(int argc, char *argv[])
{
	unsigned long count = 0, seed = 1, i;
	const char *dir = NULL, *kname = NULL;
	enum gb_kind kind;
	struct stat st;
	int ch;

	while ((ch = getopt(argc, argv, "k:n:o:s:")) != -1) {
		switch (ch) {
		case 'k':
			kname = optarg;
			break;
		case 'n':
			if (parse_num(optarg, 1000000, &count) == -1)
				usage();
			break;
		case 'o':
			dir = optarg;
			break;
		case 's':
			if (parse_num(optarg, 0xffffffffUL, &seed) == -1)
				usage();
			break;
		default:
			usage();
		}
	}
	if (optind != argc || dir == NULL || kname == NULL || count == 0)
		usage();
	if (strcmp(kname, "small") == 0)
		kind = GB_SMALL;
	else if (strcmp(kname, "large") == 0)
		kind = GB_LARGE;
	else if (strcmp(kname, "tiny") == 0)
		kind = GB_TINY;
	else
		usage();
	if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "gen-bench: %s: not a directory\n", dir);
		return EX_CANTCREAT;
	}
	for (i = 1; i <= count; i++)
		if (gb_message(dir, seed, (unsigned)i, kind) == -1)
			return EX_CANTCREAT;
	return 0;
}
