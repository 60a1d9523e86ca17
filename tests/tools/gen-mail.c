#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

/*
 * gen-mail: write deterministic sample messages for the tests and the
 * demo, one file per message, with LF line endings as a Maildir stores
 * them.  The messages cover what a POP3 client must carry unchanged:
 * lines that need dot-stuffing (RFC 1939 §3), "From " lines, very long
 * lines, 8-bit bodies, MIME multipart with base64, an empty body, many
 * and folded headers (RFC 5322 §2.2.3), trailing white space.
 *
 * Every message ends in a newline, since a POP3 server adds one to a
 * message that lacks it and the copy would then differ from the file.
 * No message holds a CR or a NUL.  Message i depends only on the seed
 * and on i, so a later run with -f makes new, different messages.
 */

#define GEN_DEFAULT_COUNT 50
#define GEN_LONG_LINE (100 * 1024)
#define GEN_B64_RAW 57 /* bytes per 76-column base64 line */

enum gen_kind {
	GEN_PLAIN,
	GEN_DOTS,
	GEN_FROM,
	GEN_LONG,
	GEN_UTF8,
	GEN_LATIN1,
	GEN_MULTIPART,
	GEN_EMPTY,
	GEN_HEADERS,
	GEN_FOLDED,
	GEN_SPACE,
	GEN_NKINDS,
	GEN_BIG /* not in the cycle: only with --big */
};

static const char *const gen_kind_names[] = {
	[GEN_PLAIN] = "plain ASCII",
	[GEN_DOTS] = "lines starting with dots",
	[GEN_FROM] = "From lines",
	[GEN_LONG] = "long lines",
	[GEN_UTF8] = "UTF-8 body",
	[GEN_LATIN1] = "Latin-1 body",
	[GEN_MULTIPART] = "multipart with attachment",
	[GEN_EMPTY] = "empty body",
	[GEN_HEADERS] = "many headers",
	[GEN_FOLDED] = "folded headers",
	[GEN_SPACE] = "white space",
	[GEN_BIG] = "big attachment",
};

static const char *const gen_words[] = { "the", "quick", "brown", "fox",
	"jumps", "over", "lazy", "dog", "mail", "server", "client", "message",
	"octet", "maildir", "fetch", "delete", "retrieve", "account", "list",
	"transaction", "update", "state", "greeting", "capability", "a", "of",
	"to", "and", "in", "is", "it", "that", "popfetch", "Dovecot", "POP3",
	"RFC", "1939", "2449", "5322", "TLS", "certificate", "authority" };

static const char *const gen_names[] = { "Alice Archer", "Bob Baker",
	"Carol Cooper", "Dave Dyer", "Erin Evans", "Frank Fisher",
	"Grace Glover", "Heidi Hunter" };

/* Lines of UTF-8 text; the bytes are meant, not the meaning. */
static const char *const gen_utf8[] = {
	"Gr\xc3\xbc\xc3\x9f"
	"e aus M\xc3\xbc"
	"nchen, sch\xc3\xb6ne Stra\xc3\x9f"
	"e.",
	"\xce\x9a\xce\xb1\xce\xbb\xce\xb7\xce\xbc\xce\xad\xcf\x81\xce\xb1 "
	"\xce\xba\xcf\x8c\xcf\x83\xce\xbc\xce\xb5",
	"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\xa1\xe3"
	"\x83\xbc\xe3\x83\xab",
	"\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82, \xd0\xbc\xd0\xb8"
	"\xd1\x80",
	"Emoji: \xf0\x9f\x93\xac \xf0\x9f\x93\xa8 \xe2\x9c\x89",
	"Caf\xc3\xa9 cr\xc3\xa8me br\xc3\xbbl\xc3\xa9"
	"e \xe2\x80\x94 na\xc3\xafve fa\xc3\xa7"
	"ade",
};

struct gen_rng {
	uint64_t s;
};

struct gen_out {
	FILE *fp;
	int last; /* the last byte written, or EOF */
};

static void usage(void) __attribute__((noreturn));
static void gen_printf(struct gen_out *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

/* splitmix64: small, fast and the same everywhere. */
static uint64_t
gen_next(struct gen_rng *r)
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
gen_range(struct gen_rng *r, unsigned lo, unsigned hi)
{
	return lo + (unsigned)(gen_next(r) % ((uint64_t)hi - lo + 1));
}

static const char *
gen_word(struct gen_rng *r)
{
	return gen_words[gen_next(r) %
	    (sizeof(gen_words) / sizeof(*gen_words))];
}

static void
gen_write(struct gen_out *o, const void *p, size_t len)
{
	if (len == 0)
		return;
	(void)fwrite(p, 1, len, o->fp);
	o->last = ((const unsigned char *)p)[len - 1];
}

static void
gen_puts(struct gen_out *o, const char *s)
{
	gen_write(o, s, strlen(s));
}

static void
gen_printf(struct gen_out *o, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf)) {
		fprintf(stderr,
		    "gen-mail: line too long for the format buffer\n");
		exit(EX_SOFTWARE);
	}
	gen_write(o, buf, (size_t)n);
}

/* Words separated by spaces, up to about width columns, then LF. */
static void
gen_line(struct gen_out *o, struct gen_rng *r, size_t width)
{
	size_t col = 0;
	const char *w;

	while (col < width) {
		w = gen_word(r);
		if (col > 0)
			gen_puts(o, " ");
		gen_puts(o, w);
		col += strlen(w) + 1;
	}
	gen_puts(o, "\n");
}

static void
gen_paragraphs(struct gen_out *o, struct gen_rng *r, unsigned n)
{
	unsigned i, j, lines;

	for (i = 0; i < n; i++) {
		if (i > 0)
			gen_puts(o, "\n");
		lines = gen_range(r, 1, 8);
		for (j = 0; j < lines; j++)
			gen_line(o, r, gen_range(r, 20, 72));
	}
}

static void
gen_base64(struct gen_out *o, struct gen_rng *r, size_t raw)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned char in[GEN_B64_RAW];
	char line[GEN_B64_RAW / 3 * 4 + 2];
	size_t n, i, k;
	uint32_t v;

	while (raw > 0) {
		n = raw < sizeof(in) ? raw : sizeof(in);
		for (i = 0; i < n; i++)
			in[i] = (unsigned char)gen_next(r);
		for (i = 0, k = 0; i < n; i += 3) {
			v = (uint32_t)in[i] << 16;
			if (i + 1 < n)
				v |= (uint32_t)in[i + 1] << 8;
			if (i + 2 < n)
				v |= in[i + 2];
			line[k++] = tab[(v >> 18) & 63];
			line[k++] = tab[(v >> 12) & 63];
			line[k++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
			line[k++] = i + 2 < n ? tab[v & 63] : '=';
		}
		line[k++] = '\n';
		gen_write(o, line, k);
		raw -= n;
	}
}

static void
gen_headers(struct gen_out *o, struct gen_rng *r, unsigned long seed,
    unsigned idx, enum gen_kind kind, const char *ctype)
{
	size_t nnames = sizeof(gen_names) / sizeof(*gen_names);
	const char *from = gen_names[gen_next(r) % nnames];
	const char *to = gen_names[gen_next(r) % nnames];

	gen_printf(o, "Return-Path: <sender%u@example.org>\n", idx);
	gen_printf(o,
	    "Received: from relay%u.example.org (relay%u.example.org "
	    "[192.0.2.%u])\n\tby mx.example.net with ESMTPS id %08x\n"
	    "\tfor <user@example.net>; %u Jan 2024 %02u:%02u:%02u +0000\n",
	    idx % 7, idx % 7, idx % 250 + 1, (unsigned)gen_next(r),
	    idx % 28 + 1, idx % 24, idx % 60, (idx * 7) % 60);
	gen_printf(o, "From: %s <sender%u@example.org>\n", from, idx);
	gen_printf(o, "To: %s <user@example.net>\n", to);
	if (kind == GEN_UTF8)
		/* RFC 2047 encoded word: "Grüße aus München". */
		gen_printf(o,
		    "Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgTcO8bmNoZW4=?= "
		    "[gen-mail %u] %s\n",
		    idx, gen_kind_names[kind]);
	else if (kind != GEN_FOLDED)
		gen_printf(o, "Subject: [gen-mail %u] %s\n", idx,
		    gen_kind_names[kind]);
	gen_printf(o, "Date: %u Jan 2024 %02u:%02u:%02u +0000\n", idx % 28 + 1,
	    idx % 24, (idx * 13) % 60, (idx * 7) % 60);
	gen_printf(o, "Message-ID: <%lu.%u@gen-mail.popfetch.test>\n", seed,
	    idx);
	gen_puts(o, "MIME-Version: 1.0\n");
	if (ctype != NULL)
		gen_printf(o, "Content-Type: %s\n", ctype);
}

static void
gen_body_dots(struct gen_out *o, struct gen_rng *r)
{
	/* RFC 1939 §3: each needs stuffing, "." alone would end the reply. */
	gen_line(o, r, 40);
	gen_puts(o, ".\n");
	gen_puts(o, ".hidden line that starts with one dot\n");
	gen_puts(o, "..\n");
	gen_puts(o, "...\n");
	gen_puts(o, "..two dots and text\n");
	gen_puts(o, ". \n");
	gen_puts(o, ".\t\n");
	gen_line(o, r, 30);
	gen_puts(o, "\n.\n\n");
	gen_puts(o, "a line with a dot in the middle . and at the end.\n");
	/* The last line is a lone dot too. */
	gen_puts(o, ".\n");
}

static void
gen_body_from(struct gen_out *o, struct gen_rng *r)
{
	gen_puts(o, "From the desk of the test suite:\n");
	gen_line(o, r, 60);
	gen_puts(o, "\nFrom sender@example.org Mon Jan  1 00:00:00 2024\n");
	gen_puts(o, ">From quoted by an mbox writer\n");
	gen_puts(o, ">>From quoted twice\n");
	gen_puts(o, "From: not a header, this is the body\n");
	gen_puts(o, "\nFrom \n");
	gen_line(o, r, 50);
}

static void
gen_body_long(struct gen_out *o, struct gen_rng *r, bool huge)
{
	unsigned i, n;

	gen_puts(o, "Lines longer than any line-length limit of RFC 5322.\n");
	n = gen_range(r, 2, 4);
	for (i = 0; i < n; i++)
		gen_line(o, r, gen_range(r, 2000, 8000));
	if (huge)
		gen_line(o, r, GEN_LONG_LINE);
	gen_puts(o, "short line after the long ones\n");
}

static void
gen_body_latin1(struct gen_out *o, struct gen_rng *r)
{
	unsigned i, j, n;
	unsigned char c;

	gen_puts(o,
	    "Gr\xfc\xdf"
	    "e aus M\xfcnchen, \xe0 bient\xf4t, se\xf1or.\n");
	n = gen_range(r, 3, 10);
	for (i = 0; i < n; i++) {
		for (j = gen_range(r, 10, 70); j > 0; j--) {
			/* Letters of ISO 8859-1 (0xc0-0xff), spaces, ASCII. */
			c = (unsigned char)gen_range(r, 0, 99);
			if (c < 64)
				c = (unsigned char)(0xc0 + c);
			else if (c < 80)
				c = ' ';
			else
				c = (unsigned char)('a' + c % 26);
			gen_write(o, &c, 1);
		}
		gen_puts(o, "\n");
	}
}

static void
gen_body_multipart(struct gen_out *o, struct gen_rng *r, unsigned idx,
    size_t raw)
{
	gen_puts(o, "This is a multi-part message in MIME format.\n\n");
	gen_printf(o, "--=_gen_%u\n", idx);
	gen_puts(o,
	    "Content-Type: text/plain; charset=us-ascii\n"
	    "Content-Transfer-Encoding: 7bit\n\n");
	gen_paragraphs(o, r, 2);
	gen_printf(o, "\n--=_gen_%u\n", idx);
	gen_printf(o,
	    "Content-Type: application/octet-stream; name=\"data-%u.bin\"\n"
	    "Content-Transfer-Encoding: base64\n"
	    "Content-Disposition: attachment; filename=\"data-%u.bin\"\n\n",
	    idx, idx);
	gen_base64(o, r, raw);
	gen_printf(o, "\n--=_gen_%u--\n", idx);
}

static void
gen_extra_headers(struct gen_out *o, struct gen_rng *r, unsigned idx)
{
	const char *w1, *w2, *w3;
	unsigned i;

	for (i = 0; i < 60; i++) {
		/* One at a time: argument order is unspecified (C11 6.5.2.2).
		 */
		w1 = gen_word(r);
		w2 = gen_word(r);
		w3 = gen_word(r);
		gen_printf(o, "X-Gen-Header-%02u: %s %s %s\n", i, w1, w2, w3);
	}
	for (i = 0; i < 12; i++)
		gen_printf(o,
		    "Received: from hop%u.example.org by hop%u.example.org; "
		    "%u Jan 2024 00:%02u:00 +0000\n",
		    i, i + 1, idx % 28 + 1, i);
	gen_puts(o, "Comments: a header (with a comment)\n");
	gen_puts(o, "Keywords: test, popfetch, headers\n");
}

static void
gen_folded_headers(struct gen_out *o, struct gen_rng *r, unsigned idx)
{
	unsigned i;

	/* RFC 5322 §2.2.3: a CRLF followed by white space continues it. */
	gen_printf(o,
	    "Subject: [gen-mail %u] folded headers, a subject that\n"
	    " goes on over\n\tseveral lines,\n   with tabs and "
	    "spaces\n",
	    idx);
	gen_puts(o, "References:");
	for (i = 0; i < 20; i++)
		gen_printf(o, "\n <%u.%08x@gen-mail.popfetch.test>", i,
		    (unsigned)gen_next(r));
	gen_puts(o, "\n");
	gen_puts(o,
	    "Cc: Alice Archer <alice@example.org>,\n"
	    "\tBob Baker <bob@example.org>,\n"
	    "\tCarol Cooper <carol@example.org>\n");
	gen_puts(o, "X-Folded-Empty:\n \n\tvalue after a blank-looking line\n");
}

static void
gen_body_space(struct gen_out *o, struct gen_rng *r)
{
	gen_puts(o, "trailing spaces   \n");
	gen_puts(o, "trailing tab\t\n");
	gen_puts(o, "   \n\t\n");
	gen_puts(o, " leading space\n");
	gen_line(o, r, 40);
	/* Blank lines at the end must survive too. */
	gen_puts(o, "\n\n\n");
}

static int
gen_message(const char *dir, unsigned long seed, unsigned idx,
    enum gen_kind kind, size_t big, bool first_long)
{
	char path[4096];
	struct gen_out o;
	struct gen_rng r;
	int n;

	n = snprintf(path, sizeof(path), "%s/msg-%05u.eml", dir, idx);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		fprintf(stderr, "gen-mail: %s: path too long\n", dir);
		return -1;
	}
	if ((o.fp = fopen(path, "wx")) == NULL) {
		fprintf(stderr, "gen-mail: %s: %s\n", path, strerror(errno));
		return -1;
	}
	o.last = EOF;
	r.s = seed * 0x100000001b3ULL ^ idx;
	(void)gen_next(&r);

	switch (kind) {
	case GEN_UTF8:
		gen_headers(&o, &r, seed, idx, kind,
		    "text/plain; charset=utf-8");
		gen_puts(&o, "Content-Transfer-Encoding: 8bit\n\n");
		for (n = 0; n < 6; n++) {
			gen_puts(&o,
			    gen_utf8[gen_next(&r) %
			        (sizeof(gen_utf8) / sizeof(*gen_utf8))]);
			gen_puts(&o, "\n");
		}
		break;
	case GEN_LATIN1:
		gen_headers(&o, &r, seed, idx, kind,
		    "text/plain; charset=iso-8859-1");
		gen_puts(&o, "Content-Transfer-Encoding: 8bit\n\n");
		gen_body_latin1(&o, &r);
		break;
	case GEN_MULTIPART:
	case GEN_BIG:
		gen_headers(&o, &r, seed, idx, kind, NULL);
		gen_printf(&o,
		    "Content-Type: multipart/mixed; boundary=\"=_gen_%u\"\n\n",
		    idx);
		gen_body_multipart(&o, &r, idx,
		    kind == GEN_BIG ? big : gen_range(&r, 1000, 30000));
		break;
	case GEN_EMPTY:
		gen_headers(&o, &r, seed, idx, kind, "text/plain");
		gen_puts(&o, "\n");
		break;
	case GEN_HEADERS:
		gen_headers(&o, &r, seed, idx, kind, "text/plain");
		gen_extra_headers(&o, &r, idx);
		gen_puts(&o, "\n");
		gen_paragraphs(&o, &r, 1);
		break;
	case GEN_FOLDED:
		gen_headers(&o, &r, seed, idx, kind, "text/plain");
		gen_folded_headers(&o, &r, idx);
		gen_puts(&o, "\n");
		gen_paragraphs(&o, &r, 2);
		break;
	default:
		gen_headers(&o, &r, seed, idx, kind,
		    "text/plain; charset=us-ascii");
		gen_puts(&o, "\n");
		if (kind == GEN_DOTS)
			gen_body_dots(&o, &r);
		else if (kind == GEN_FROM)
			gen_body_from(&o, &r);
		else if (kind == GEN_LONG)
			gen_body_long(&o, &r, first_long);
		else if (kind == GEN_SPACE)
			gen_body_space(&o, &r);
		else
			gen_paragraphs(&o, &r, gen_range(&r, 1, 6));
		break;
	}
	if (o.last != '\n')
		gen_puts(&o, "\n");

	if (ferror(o.fp)) {
		fprintf(stderr, "gen-mail: %s: write error\n", path);
		(void)fclose(o.fp);
		return -1;
	}
	if (fclose(o.fp) != 0) {
		fprintf(stderr, "gen-mail: %s: %s\n", path, strerror(errno));
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
	    "usage: gen-mail -o DIR [-n COUNT] [-s SEED] "
	    "[-f FIRST] [--big BYTES]\n");
	exit(EX_USAGE);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "big", required_argument, NULL, 'b' },
		{ "count", required_argument, NULL, 'n' },
		{ "first", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "seed", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long count = GEN_DEFAULT_COUNT, seed = 1, first = 1, big = 0;
	unsigned long i, idx, bigidx;
	const char *dir = NULL;
	bool seen_long = false, first_long;
	enum gen_kind kind;
	struct stat st;
	int ch;

	while ((ch = getopt_long(argc, argv, "b:f:n:o:s:", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'b':
			if (parse_num(optarg, 1UL << 30, &big) == -1)
				usage();
			break;
		case 'f':
			if (parse_num(optarg, 1000000, &first) == -1)
				usage();
			break;
		case 'n':
			if (parse_num(optarg, 100000, &count) == -1)
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
	if (optind != argc || dir == NULL)
		usage();
	if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "gen-mail: %s: not a directory\n", dir);
		return EX_CANTCREAT;
	}

	/*
	 * The big message sits in the middle, so that messages come both
	 * before and after it.  A big size of about BYTES: base64 turns
	 * 57 bytes into a line of 77.
	 */
	bigidx = big > 0 ? first + count / 2 : 0;
	for (i = 0; i < count; i++) {
		idx = first + i;
		kind = (enum gen_kind)(idx % GEN_NKINDS);
		if (idx == bigidx)
			kind = GEN_BIG;
		first_long = kind == GEN_LONG && !seen_long;
		if (kind == GEN_LONG)
			seen_long = true;
		if (gen_message(dir, seed, (unsigned)idx, kind,
		        (size_t)(big / 77 * GEN_B64_RAW), first_long) == -1)
			return EX_CANTCREAT;
	}
	return 0;
}
