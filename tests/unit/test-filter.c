#include "config.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "filter/filter.h"
#include "util/err.h"
#include "util/xmalloc.h"

/*
 * The corpus lives in tests/data/mail; make check exports top_srcdir,
 * and a binary run by hand falls back on the path it was built with.
 */
static const char *
mail_path(const char *name)
{
	static char path[1024];
	const char *top = getenv("top_srcdir");

	if (top != NULL)
		(void)snprintf(path, sizeof(path), "%s/tests/data/mail/%s", top,
		    name);
	else
		(void)snprintf(path, sizeof(path), "%s/%s", TEST_MAIL_DIR,
		    name);
	return path;
}

static char *
slurp(const char *name, size_t *len_out)
{
	FILE *fp;
	char *buf = NULL;
	size_t len = 0, n;

	fp = fopen(mail_path(name), "rb");
	if (fp == NULL)
		fail_msg("cannot open %s", mail_path(name));
	for (;;) {
		buf = xreallocarray(buf, len + 65536, 1);
		n = fread(buf + len, 1, 65536, fp);
		len += n;
		if (n == 0)
			break;
	}
	(void)fclose(fp);
	*len_out = len;
	return buf;
}

/* Feed data in pieces of chunk bytes (0: all at once). */
static struct filter_msg *
msg_from(const char *data, size_t len, size_t chunk)
{
	struct filter_msg *m = filter_msg_new();
	size_t off = 0;

	if (chunk == 0)
		chunk = len;
	while (off < len) {
		size_t n = len - off < chunk ? len - off : chunk;

		(void)filter_msg_feed(m, data + off, n);
		off += n;
	}
	return m;
}

static struct filter_msg *
load(const char *name, size_t chunk)
{
	struct filter_msg *m;
	size_t len;
	char *data;

	data = slurp(name, &len);
	m = msg_from(data, len, chunk);
	free(data);
	return m;
}

static bool
feed_str(struct filter_msg *m, const char *s)
{
	return filter_msg_feed(m, s, strlen(s));
}

static struct filter_msg *
msg_str(const char *s)
{
	return msg_from(s, strlen(s), 0);
}

/* A strict UTF-8 check, independent of the library under test. */
static bool
is_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p != '\0') {
		unsigned int c = *p, n, cp, i;

		if (c < 0x80) {
			p++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3, cp = c & 0x07;
		else
			return false;
		for (i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i] & 0x3f);
		}
		if ((n == 2 &&
		        (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return false;
		p += n + 1;
	}
	return true;
}

/* The decoded values the corpus must give, UTF-8 as escaped bytes. */
static const struct {
	const char *file;
	const char *header;
	size_t idx;
	const char *value; /* NULL: no such field */
} expect[] = {
	{ "01-list-dev.eml", "Subject", 0, "[dev] Release 2.1 planning" },
	{ "01-list-dev.eml", "list-id", 0,
	    "Development discussion <dev.lists.example.org>" },
	{ "01-list-dev.eml", "List-Unsubscribe", 0,
	    "<https://lists.example.org/unsub/dev>, "
	    "<mailto:dev-leave@lists.example.org>" },
	{ "02-list-announce.eml", "List-Id", 0,
	    "\"Announcements\" <announce.example.com>" },
	{ "03-list-id-folded.eml", "List-Id", 0,
	    "A list whose description is long enough to be folded\tonto a "
	    "second line <users.project.example.net>" },
	/* Grüße aus München */
	{ "04-utf8-b.eml", "Subject", 0,
	    "Gr\303\274\303\237e aus M\303\274nchen" },
	/* Café crème */
	{ "05-utf8-q.eml", "Subject", 0, "Caf\303\251 cr\303\250me" },
	/* Three words over three lines; the second follows "=" padding. */
	{ "06-utf8-multi-word.eml", "Subject", 0,
	    "\303\234n\303\257c\303\266d\303\251 test with a long subject "
	    "\342\200\224 spanning words" },
	/* Résumé */
	{ "07-iso-8859-1.eml", "Subject", 0, "R\303\251sum\303\251" },
	/* Prix € 10: 0xA4 is the euro sign in ISO-8859-15 only */
	{ "08-iso-8859-15.eml", "Subject", 0, "Prix \342\202\254 10" },
	/* Zażółć gęślą jaźń */
	{ "09-iso-8859-2.eml", "Subject", 0,
	    "Za\305\274\303\263\305\202\304\207 g\304\231\305\233l\304\205 "
	    "ja\305\272\305\204" },
	/* 中文邮件测试 */
	{ "10-gb2312.eml", "Subject", 0,
	    "\344\270\255\346\226\207\351\202\256\344\273\266\346\265\213"
	    "\350\257\225" },
	/* 张伟 <zhang.wei@example.cn> */
	{ "10-gb2312.eml", "From", 0,
	    "\345\274\240\344\274\237 <zhang.wei@example.cn>" },
	/* 朱镕基与喆: 镕 and 喆 are in GBK, not in GB2312 */
	{ "11-gbk.eml", "Subject", 0,
	    "\346\234\261\351\225\225\345\237\272\344\270\216\345\226\206" },
	/* 繁體中文主旨 */
	{ "12-big5.eml", "Subject", 0,
	    "\347\271\201\351\253\224\344\270\255\346\226\207\344\270\273"
	    "\346\227\250" },
	/* 陳大文 <chan@example.com.tw>, Q-encoded Big5 */
	{ "12-big5.eml", "From", 0,
	    "\351\231\263\345\244\247\346\226\207 <chan@example.com.tw>" },
	/* 日本語の件名です */
	{ "13-shift-jis.eml", "Subject", 0,
	    "\346\227\245\346\234\254\350\252\236\343\201\256\344\273\266"
	    "\345\220\215\343\201\247\343\201\231" },
	/* こんにちは世界 */
	{ "14-iso-2022-jp.eml", "Subject", 0,
	    "\343\201\223\343\202\223\343\201\253\343\201\241\343\201\257"
	    "\344\270\226\347\225\214" },
	/* 山田太郎 <yamada@example.jp> */
	{ "14-iso-2022-jp.eml", "From", 0,
	    "\345\261\261\347\224\260\345\244\252\351\203\216 "
	    "<yamada@example.jp>" },
	/* 안녕하세요 */
	{ "15-euc-kr.eml", "Subject", 0,
	    "\354\225\210\353\205\225\355\225\230\354\204\270\354\232\224" },
	/* Привет, мир */
	{ "16-koi8-r.eml", "Subject", 0,
	    "\320\237\321\200\320\270\320\262\320\265\321\202, "
	    "\320\274\320\270\321\200" },
	/* “Smart” quotes – dash */
	{ "17-windows-1252.eml", "Subject", 0,
	    "\342\200\234Smart\342\200\235 quotes \342\200\223 dash" },
	/* Jörg Müller <Joerg.Mueller@Example.DE> */
	{ "18-addresses.eml", "From", 0,
	    "J\303\266rg M\303\274ller <Joerg.Mueller@Example.DE>" },
	{ "21-folded-subject.eml", "Subject", 0,
	    "This subject is folded\tacross three lines  of header text" },
	{ "22-spam-yes.eml", "X-Spam-Flag", 0, "YES" },
	{ "22-spam-yes.eml", "X-Spam-Status", 0,
	    "Yes, score=12.3 required=5.0 tests=BAYES_99,HTML_MESSAGE,"
	    "\tRCVD_IN_XBL,URIBL_BLACK autolearn=spam version=3.4.6" },
	{ "23-spam-no.eml", "X-Spam-Flag", 0, "NO" },
	{ "24-spam-tagged.eml", "Subject", 0, "***SPAM*** You have won" },
	{ "25-huge-line.eml", "X-After", 0, "still here" },
	{ "25-huge-line.eml", "Subject", 0, "huge line" },
	{ "26-many-headers.eml", "X-F0", 0, "0" },
	{ "26-many-headers.eml", "X-F9998", 0, "9998" },
	{ "26-many-headers.eml", "Subject", 0, "header number ten thousand" },
	/* The fields after a line without a colon still count. */
	{ "27-no-colon.eml", "Subject", 0, "after the bad line" },
	{ "27-no-colon.eml", "To", 0, "bob@example.net" },
	{ "27-no-colon.eml", "X Bad Name", 0, NULL },
	/* Raw ISO-8859-1 bytes, no encoded word: café crème */
	{ "28-raw-latin1.eml", "Subject", 0, "caf\303\251 cr\303\250me" },
	/* Raw UTF-8 (RFC 6532): Über naïve café */
	{ "29-raw-utf8.eml", "Subject", 0,
	    "\303\234ber na\303\257ve caf\303\251" },
	{ "29-raw-utf8.eml", "From", 0, "Ren\303\251e <renee@example.org>" },
	{ "30-8bit-garbage.eml", "To", 0, "bob@example.net" },
	{ "31-broken-encoded.eml", "From", 0, "alice@example.org" },
	{ "32-no-id-no-date.eml", "Message-ID", 0, NULL },
	{ "32-no-id-no-date.eml", "Date", 0, NULL },
	{ "32-no-id-no-date.eml", "Subject", 0, "no id, no date" },
	{ "33-bad-date.eml", "Date", 0, "sometime last week" },
	/* A NUL becomes a space. */
	{ "34-nul-bytes.eml", "Subject", 0, "before after" },
	{ "34-nul-bytes.eml", "To", 0, "bob@example.net" },
	/* A bare CR is no line break: no Subject field is smuggled in. */
	{ "35-bare-cr.eml", "From", 0, "alice@example.org Subject: smuggled" },
	{ "35-bare-cr.eml", "Subject", 0, NULL },
	{ "35-bare-cr.eml", "To", 0, "bob@example.net" },
	{ "36-empty.eml", "Subject", 0, NULL },
	{ "37-no-blank-line.eml", "Subject", 0, "header only, no body" },
	{ "37-no-blank-line.eml", "To", 0, "bob@example.net" },
	/* The body is not the header. */
	{ "38-lf-only.eml", "Subject", 0, "unix line ends" },
	{ "38-lf-only.eml", "Subject", 1, NULL },
	{ "38-lf-only.eml", "X-Not-A-Header", 0, NULL },
	{ "39-leading-continuation.eml", "Subject", 0, "after a stray line" },
	{ "40-duplicates.eml", "Subject", 0, "first subject" },
	{ "40-duplicates.eml", "Subject", 1, "second subject" },
	{ "40-duplicates.eml", "Subject", 2, NULL },
	{ "40-duplicates.eml", "received", 1,
	    "from c.example.net by a.example.net; Tue, 14 May 2024 "
	    "09:12:40 +0200" },
	{ "41-mbox-from.eml", "Subject", 0, "mbox separator first" },
	/* Re: café and 日本 ok */
	{ "44-mixed-charsets.eml", "Subject", 0,
	    "Re: caf\303\251 and \346\227\245\346\234\254 ok" },
	{ "45-odd-case.eml", "Subject", 0, "odd case names" },
	{ "45-odd-case.eml", "MESSAGE-ID", 0, "<odd@example.org>" },
	{ "46-q-specials.eml", "Subject", 0, "a_b? c= d" },
	{ "47-github-notification.eml", "List-Id", 0,
	    "owner/repo <repo.owner.github.example>" },
	/* [fr] Réunion à 14h */
	{ "48-mailman-latin1-name.eml", "Subject", 0,
	    "[fr] R\303\251union \303\240 14h" },
	/* François Dupont <f.dupont@example.fr> */
	{ "48-mailman-latin1-name.eml", "From", 0,
	    "Fran\303\247ois Dupont <f.dupont@example.fr>" },
	/* Spring sale — 20 % off 🌸 (outside the BMP) */
	{ "49-newsletter-bulk.eml", "Subject", 0,
	    "Spring sale \342\200\224 20 % off \360\237\214\270" },
	/* é; the body repeats header-like lines */
	{ "50-crlf-body-headers.eml", "Subject", 0, "\303\251" },
	{ "50-crlf-body-headers.eml", "From", 0, "alice@example.org" },
	{ "50-crlf-body-headers.eml", "From", 1, NULL },
};

static const size_t chunks[] = { 0, 1, 2, 3, 7, 64, 1000 };

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static void
test_corpus_values(void **state)
{
	size_t c, i;

	(void)state;
	for (c = 0; c < NELEM(chunks); c++) {
		struct filter_msg *m = NULL;
		const char *file = "";

		for (i = 0; i < NELEM(expect); i++) {
			const char *got;

			if (strcmp(expect[i].file, file) != 0) {
				filter_msg_free(m);
				file = expect[i].file;
				m = load(file, chunks[c]);
			}
			got = filter_msg_header(m, expect[i].header,
			    expect[i].idx);
			if (expect[i].value == NULL) {
				if (got != NULL)
					fail_msg("%s %s[%zu]: got \"%s\"", file,
					    expect[i].header, expect[i].idx,
					    got);
				continue;
			}
			if (got == NULL || strcmp(got, expect[i].value) != 0)
				fail_msg("%s %s[%zu] (chunk %zu): got \"%s\"",
				    file, expect[i].header, expect[i].idx,
				    chunks[c], got == NULL ? "(null)" : got);
		}
		filter_msg_free(m);
	}
}

/* Every corpus message parses, whole or in pieces, to valid UTF-8. */
static void
test_corpus_all(void **state)
{
	static const char *names[] = { "From", "To", "Cc", "Subject", "Date",
		"List-Id", "Message-ID", "X-Spam-Status" };
	struct dirent *de;
	DIR *dir;
	size_t nfiles = 0, c, i;
	char dirpath[1024];

	(void)state;
	(void)snprintf(dirpath, sizeof(dirpath), "%s", mail_path(""));
	dir = opendir(dirpath);
	assert_non_null(dir);
	while ((de = readdir(dir)) != NULL) {
		if (strstr(de->d_name, ".eml") == NULL)
			continue;
		nfiles++;
		for (c = 0; c < NELEM(chunks); c += 3) {
			struct filter_msg *m = load(de->d_name, chunks[c]);
			const struct filter_addr *a;
			size_t n, j;

			for (i = 0; i < NELEM(names); i++) {
				const char *v =
				    filter_msg_header(m, names[i], 0);

				if (v != NULL && !is_utf8(v))
					fail_msg("%s: %s not UTF-8", de->d_name,
					    names[i]);
				n = filter_msg_addresses(m, names[i], &a);
				for (j = 0; j < n; j++)
					assert_true(is_utf8(a[j].name) &&
					    is_utf8(a[j].addr));
			}
			if (filter_msg_date(m) != NULL)
				assert_true(is_utf8(filter_msg_date(m)));
			filter_msg_free(m);
		}
	}
	(void)closedir(dir);
	assert_true(nfiles >= 40);
}

static void
test_shortcuts(void **state)
{
	struct filter_msg *m;

	(void)state;
	m = load("01-list-dev.eml", 0);
	assert_string_equal(filter_msg_subject(m),
	    "[dev] Release 2.1 planning");
	assert_string_equal(filter_msg_from(m),
	    "Alice Example <alice@example.org>");
	assert_string_equal(filter_msg_message_id(m),
	    "<20240514091244.4711@mail.example.org>");
	assert_string_equal(filter_msg_date(m), "2024-05-14 09:12:44 +0200");
	assert_true(filter_msg_has_header(m, "PRECEDENCE"));
	assert_false(filter_msg_has_header(m, "X-Spam-Flag"));
	assert_int_equal(filter_msg_header_count(m, "list-unsubscribe"), 1);
	assert_int_equal(filter_msg_nheaders(m), 13);
	assert_false(filter_msg_is_truncated(m));
	filter_msg_free(m);

	m = load("18-addresses.eml", 0);
	assert_string_equal(filter_msg_date(m), "2024-05-15 18:00:00 -0700");
	filter_msg_free(m);

	/* Missing fields, and a Date that is not one. */
	m = load("32-no-id-no-date.eml", 0);
	assert_null(filter_msg_message_id(m));
	assert_null(filter_msg_date(m));
	filter_msg_free(m);
	m = load("33-bad-date.eml", 0);
	assert_string_equal(filter_msg_date(m), "sometime last week");
	filter_msg_free(m);

	m = load("36-empty.eml", 1);
	assert_int_equal(filter_msg_nheaders(m), 0);
	assert_null(filter_msg_subject(m));
	assert_null(filter_msg_from(m));
	assert_null(filter_msg_date(m));
	assert_null(filter_msg_message_id(m));
	filter_msg_free(m);
}

static void
test_addresses(void **state)
{
	const struct filter_addr *a;
	struct filter_msg *m;
	size_t c;

	(void)state;
	for (c = 0; c < NELEM(chunks); c++) {
		m = load("18-addresses.eml", chunks[c]);
		/* Groups are flattened; an empty group adds nothing. */
		assert_int_equal(filter_msg_addresses(m, "to", &a), 4);
		assert_string_equal(a[0].name, "Doe, Jane");
		assert_string_equal(a[0].addr, "jane@example.com");
		assert_string_equal(a[1].name, "Plain Person");
		assert_string_equal(a[1].addr, "plain@example.net");
		assert_string_equal(a[2].name, "");
		assert_string_equal(a[2].addr, "carol@sub.example.org");
		assert_string_equal(a[3].addr, "dave@example.org");
		assert_int_equal(filter_msg_addresses(m, "Cc", &a), 1);
		/* 李娜 */
		assert_string_equal(a[0].name, "\346\235\216\345\250\234");
		assert_string_equal(a[0].addr, "li.na@example.cn");
		assert_int_equal(filter_msg_addresses(m, "From", &a), 1);
		/* Jörg Müller */
		assert_string_equal(a[0].name, "J\303\266rg M\303\274ller");
		assert_string_equal(a[0].addr, "Joerg.Mueller@Example.DE");
		assert_int_equal(filter_msg_addresses(m, "Bcc", &a), 0);
		assert_null(a);
		filter_msg_free(m);
	}

	/* Several To fields add up. */
	m = load("40-duplicates.eml", 0);
	assert_int_equal(filter_msg_addresses(m, "To", &a), 2);
	assert_string_equal(a[1].addr, "two@example.net");
	filter_msg_free(m);

	m = load("42-many-recipients.eml", 1);
	assert_int_equal(filter_msg_addresses(m, "To", &a), 60);
	assert_string_equal(a[59].addr, "user59@example.net");
	filter_msg_free(m);

	/* A List-Id's identifier, with a folded description. */
	m = load("03-list-id-folded.eml", 0);
	assert_int_equal(filter_msg_addresses(m, "List-Id", &a), 1);
	assert_string_equal(a[0].addr, "users.project.example.net");
	assert_string_equal(a[0].name,
	    "A list whose description is long enough to be folded\tonto a "
	    "second line");
	filter_msg_free(m);

	/* Groupe français */
	m = load("48-mailman-latin1-name.eml", 0);
	assert_int_equal(filter_msg_addresses(m, "List-Id", &a), 1);
	assert_string_equal(a[0].name, "Groupe fran\303\247ais");
	assert_string_equal(a[0].addr, "fr.lists.example.fr");
	filter_msg_free(m);

	/* Garbage is no address, and no failure. */
	m = msg_str("To: <<<>>> @@@ ,,, \"unterminated\r\n\r\n");
	(void)filter_msg_addresses(m, "To", &a);
	assert_string_equal(filter_msg_header(m, "To", 0),
	    "<<<>>> @@@ ,,, \"unterminated");
	filter_msg_free(m);
}

static void
test_params(void **state)
{
	struct filter_msg *m;
	size_t c;

	(void)state;
	for (c = 0; c < NELEM(chunks); c++) {
		m = load("19-rfc2231-utf8.eml", chunks[c]);
		/* € exchange rates.pdf, from two continuations */
		assert_string_equal(filter_msg_param(m, "Content-Type", "NAME"),
		    "\342\202\254 exchange rates.pdf");
		assert_string_equal(filter_msg_param(m, "content-disposition",
		                        "filename"),
		    "\342\202\254 exchange rates.pdf");
		assert_null(filter_msg_param(m, "Content-Type", "charset"));
		assert_null(filter_msg_param(m, "Subject", "x"));
		filter_msg_free(m);
	}
	m = load("20-rfc2231-latin1.eml", 0);
	/* résumé.txt, ISO-8859-1 with a language tag */
	assert_string_equal(filter_msg_param(m, "Content-Type", "name"),
	    "r\303\251sum\303\251.txt");
	assert_string_equal(filter_msg_param(m, "Content-Type", "charset"),
	    "iso-8859-1");
	/* été.txt, an encoded word where RFC 2231 was due */
	assert_string_equal(filter_msg_param(m, "Content-Disposition",
	                        "filename"),
	    "\303\251t\303\251.txt");
	filter_msg_free(m);
}

static void
test_malformed(void **state)
{
	struct filter_msg *m;
	const char *v;

	(void)state;
	m = load("30-8bit-garbage.eml", 1);
	v = filter_msg_subject(m);
	assert_non_null(v);
	assert_true(is_utf8(v));
	assert_non_null(strstr(v, " mixed "));
	filter_msg_free(m);

	/* Broken encoded words decode to something, or stay as they are. */
	m = load("31-broken-encoded.eml", 7);
	v = filter_msg_subject(m);
	assert_non_null(v);
	assert_true(is_utf8(v));
	assert_non_null(strstr(v, "abc"));
	assert_non_null(strstr(v, "=?UTF-8?Q?unterminated"));
	assert_non_null(filter_msg_header(m, "X-Half", 0));
	assert_non_null(filter_msg_header(m, "X-Empty-Word", 0));
	filter_msg_free(m);

	/* The header without its empty line is still complete enough. */
	m = load("37-no-blank-line.eml", 3);
	assert_int_equal(filter_msg_nheaders(m), 3);
	filter_msg_free(m);

	/* Only a continuation, only garbage, only an empty line. */
	m = msg_str("   \r\n\tmore\r\n\r\n");
	assert_int_equal(filter_msg_nheaders(m), 0);
	filter_msg_free(m);
	m = msg_str("\xff\xfe\x00\x01garbage\r\n");
	assert_int_equal(filter_msg_nheaders(m), 0);
	filter_msg_free(m);
	m = msg_str("\r\nSubject: body\r\n");
	assert_int_equal(filter_msg_nheaders(m), 0);
	filter_msg_free(m);

	/* Obsolete syntax (RFC 5322 §4.5.8): blanks before the colon. */
	m = msg_str("Subject \t: spaced\n\n");
	assert_string_equal(filter_msg_subject(m), "spaced");
	filter_msg_free(m);

	/* An encoded word decoding to a NUL or a newline. */
	m = msg_str("Subject: =?UTF-8?Q?a=00b=0D=0Ac?=\r\n\r\n");
	v = filter_msg_subject(m);
	assert_non_null(v);
	assert_true(is_utf8(v));
	assert_int_equal(v[0], 'a');
	filter_msg_free(m);
}

static void
test_feed_completion(void **state)
{
	static const char msg[] =
	    "Subject: split\r\nTo: a@example.org\r\n\r\nTo: b@example.org\r\n";
	struct filter_msg *m;
	size_t i, split = strlen("Subject: split\r\nTo: a@example.org\r\n\r");

	(void)state;
	/* The end of the header is found wherever the chunks split it. */
	for (i = 0; i <= sizeof(msg) - 1; i++) {
		m = filter_msg_new();
		assert_int_equal(filter_msg_feed(m, msg, i), i > split);
		(void)filter_msg_feed(m, msg + i, sizeof(msg) - 1 - i);
		assert_true(filter_msg_feed(m, "", 0));
		assert_int_equal(filter_msg_header_count(m, "To"), 1);
		filter_msg_free(m);
	}

	/* LF alone ends it too; CR CR LF does not. */
	m = msg_str("A: 1\n\nB: 2\n");
	assert_false(filter_msg_has_header(m, "B"));
	filter_msg_free(m);
	m = filter_msg_new();
	assert_false(feed_str(m, "A: 1\r\n\r\r\nB: 2\r\n"));
	filter_msg_free(m);

	/* A query between feeds sees what came so far, then the rest. */
	m = filter_msg_new();
	assert_false(feed_str(m, "Subject: ab"));
	assert_string_equal(filter_msg_subject(m), "ab");
	assert_false(feed_str(m, "c\r\n folded"));
	assert_string_equal(filter_msg_subject(m), "abc folded");
	assert_true(feed_str(m, "\r\nFrom: x@example.org\r\n\r\n"));
	assert_string_equal(filter_msg_subject(m), "abc folded");
	assert_string_equal(filter_msg_from(m), "x@example.org");
	/* After the end, bytes change nothing. */
	assert_true(feed_str(m, "To: late@example.org\r\n"));
	assert_false(filter_msg_has_header(m, "To"));
	filter_msg_free(m);
}

static void
test_limits(void **state)
{
	const struct filter_addr *a;
	struct filter_msg *m;
	char line[64];
	char *big;
	size_t i, n;
	bool is_done = false;

	(void)state;
	/* The corpus: a 100 KB line, and exactly the field limit. */
	m = load("25-huge-line.eml", 0);
	assert_int_equal(strlen(filter_msg_header(m, "X-Long", 0)), 100 * 1024);
	filter_msg_free(m);
	m = load("26-many-headers.eml", 1);
	assert_int_equal(filter_msg_nheaders(m), FILTER_MSG_MAX_HEADERS);
	assert_false(filter_msg_is_truncated(m));
	filter_msg_free(m);

	/* One field too many: the rest is dropped, and feeding says so. */
	m = filter_msg_new();
	for (i = 0; i < FILTER_MSG_MAX_HEADERS; i++) {
		n = (size_t)snprintf(line, sizeof(line), "X-%zu: %zu\r\n", i,
		    i);
		assert_false(filter_msg_feed(m, line, n));
	}
	assert_true(feed_str(m, "Subject: over\r\n"));
	assert_true(filter_msg_is_truncated(m));
	assert_int_equal(filter_msg_nheaders(m), FILTER_MSG_MAX_HEADERS);
	assert_null(filter_msg_subject(m));
	assert_string_equal(filter_msg_header(m, "X-9999", 0), "9999");
	filter_msg_free(m);

	/* Continuation lines are not fields. */
	m = filter_msg_new();
	assert_false(feed_str(m, "Subject: a\r\n"));
	for (i = 0; i < 2 * FILTER_MSG_MAX_HEADERS; i++)
		assert_false(feed_str(m, " b\r\n"));
	assert_false(filter_msg_is_truncated(m));
	filter_msg_free(m);

	/* Address lists: the first 64 KiB of a field, cut at a comma. */
	m = filter_msg_new();
	assert_false(feed_str(m, "To: "));
	for (i = 0; i < 5000; i++) {
		n = (size_t)snprintf(line, sizeof(line), "u%05zu@example.net, ",
		    i);
		assert_false(filter_msg_feed(m, line, n));
	}
	assert_true(feed_str(m, "\r\n\r\n"));
	n = filter_msg_addresses(m, "To", &a);
	assert_int_equal(n, 64 * 1024 / strlen("u00000@example.net, "));
	(void)snprintf(line, sizeof(line), "u%05zu@example.net", n - 1);
	assert_string_equal(a[n - 1].addr, line);
	filter_msg_free(m);
	/* And FILTER_MSG_MAX_ADDRS mailboxes over all the fields. */
	m = filter_msg_new();
	for (i = 0; i < 3; i++) {
		assert_false(feed_str(m, "Cc: "));
		for (n = 0; n < 16000; n++)
			assert_false(feed_str(m, "a@b,"));
		assert_false(feed_str(m, "\r\n"));
	}
	assert_int_equal(filter_msg_addresses(m, "Cc", &a),
	    FILTER_MSG_MAX_ADDRS);
	filter_msg_free(m);

	/* A 3 MiB line: a bounded part is kept, then the header is done. */
	big = xmalloc(64 * 1024);
	memset(big, 'x', 64 * 1024);
	m = filter_msg_new();
	assert_false(feed_str(m, "Subject: "));
	for (i = 0; i < 48; i++) {
		bool is_now = filter_msg_feed(m, big, 64 * 1024);

		/* Once done, done for good. */
		assert_true(!is_done || is_now);
		is_done = is_now;
	}
	assert_true(is_done);
	assert_true(filter_msg_is_truncated(m));
	assert_int_equal(strlen(filter_msg_subject(m)),
	    FILTER_MSG_MAX_BYTES - 9);
	filter_msg_free(m);
	free(big);
}

static struct filter_cond *
cond(enum filter_cond_kind kind, const char *header, const char *arg)
{
	struct filter_cond *c = NULL;
	struct err err;

	err_clear(&err);
	if (filter_cond_new(kind, header, arg, &c, &err) == -1)
		fail_msg("%s %s %s: %s", filter_cond_kind_name(kind),
		    header == NULL ? "-" : header, arg == NULL ? "-" : arg,
		    err.msg);
	return c;
}

static struct filter_cond *
group(enum filter_cond_kind kind, struct filter_cond *a, struct filter_cond *b)
{
	struct filter_cond *g = cond(kind, NULL, NULL);
	struct err err;

	assert_int_equal(filter_cond_add(g, a, &err), 0);
	if (b != NULL)
		assert_int_equal(filter_cond_add(g, b, &err), 0);
	return g;
}

/* Does c hold for message file (or text) of size bytes? */
static bool
holds(struct filter_cond *c, struct filter_msg *m, uint64_t size)
{
	struct filter_decision d;
	struct filter_rule r;
	struct err err;

	filter_rule_init(&r, "probe");
	filter_rule_set_cond(&r, c);
	r.action = FILTER_ACTION_DISCARD;
	assert_int_equal(filter_rule_check(&r, &err), 0);
	assert_int_equal(filter_decide(&r, 1, m, size, &d, &err), 0);
	filter_rule_cleanup(&r);
	return d.verdict == FILTER_DISCARD;
}

static bool
file_holds(const char *file, struct filter_cond *c)
{
	struct filter_msg *m = load(file, 0);
	bool is_true = holds(c, m, 1000);

	filter_msg_free(m);
	return is_true;
}

static void
test_cond_matches(void **state)
{
	(void)state;
	assert_true(file_holds("01-list-dev.eml",
	    cond(FILTER_MATCHES, "List-Id", "<dev\\.lists\\.example\\.org>$")));
	/* Case-insensitive by default, unless the pattern says otherwise. */
	assert_true(file_holds("01-list-dev.eml",
	    cond(FILTER_MATCHES, "list-id", "DEV\\.LISTS")));
	assert_false(file_holds("01-list-dev.eml",
	    cond(FILTER_MATCHES, "List-Id", "(?-i)DEV\\.LISTS")));
	assert_false(file_holds("01-list-dev.eml",
	    cond(FILTER_MATCHES, "Subject", "^planning")));
	/* On the decoded text, in UTF-8: MÜNCHEN$ against München */
	assert_true(file_holds("04-utf8-b.eml",
	    cond(FILTER_MATCHES, "Subject", "M\303\234NCHEN$")));
	/* One character is one character: ^.{6}$ for 中文邮件测试 */
	assert_true(file_holds("10-gb2312.eml",
	    cond(FILTER_MATCHES, "Subject", "^.{6}$")));
	/* Any occurrence: the second Subject matches. */
	assert_true(file_holds("40-duplicates.eml",
	    cond(FILTER_MATCHES, "Subject", "^second")));
	/* A missing field matches nothing, not even an empty pattern. */
	assert_false(file_holds("01-list-dev.eml",
	    cond(FILTER_MATCHES, "X-Spam-Flag", ".*")));
	assert_true(file_holds("22-spam-yes.eml",
	    cond(FILTER_MATCHES, "X-Spam-Status", "^yes,.*score=1[0-9]")));
}

static void
test_cond_contains(void **state)
{
	(void)state;
	assert_true(file_holds("22-spam-yes.eml",
	    cond(FILTER_CONTAINS, "X-Spam-Flag", "yes")));
	assert_false(file_holds("23-spam-no.eml",
	    cond(FILTER_CONTAINS, "X-Spam-Flag", "yes")));
	/* münchen in Grüße aus München: Unicode case folding */
	assert_true(file_holds("04-utf8-b.eml",
	    cond(FILTER_CONTAINS, "Subject", "m\303\274nchen")));
	/* ＳＰＲＩＮＧ (full width) in Spring sale: NFKC */
	assert_true(file_holds("49-newsletter-bulk.eml",
	    cond(FILTER_CONTAINS, "subject",
	        "\357\274\263\357\274\260\357\274\262\357\274\251\357\274\256"
	        "\357\274\247")));
	/* Regex characters are plain text here. */
	assert_true(file_holds("24-spam-tagged.eml",
	    cond(FILTER_CONTAINS, "Subject", "***spam***")));
	assert_false(file_holds("24-spam-tagged.eml",
	    cond(FILTER_CONTAINS, "Subject", "spam.*won")));
	/* Across a fold, the blanks stay. */
	assert_true(file_holds("21-folded-subject.eml",
	    cond(FILTER_CONTAINS, "Subject", "lines  of")));
}

static void
test_cond_address(void **state)
{
	(void)state;
	assert_true(file_holds("18-addresses.eml",
	    cond(FILTER_ADDRESS, "To", "JANE@example.com")));
	assert_true(file_holds("18-addresses.eml",
	    cond(FILTER_ADDRESS, "From", "joerg.mueller@example.de")));
	/* Inside a group. */
	assert_true(file_holds("18-addresses.eml",
	    cond(FILTER_ADDRESS, "To", "carol@sub.example.org")));
	/* Whole addresses only; the display name is not the address. */
	assert_false(file_holds("18-addresses.eml",
	    cond(FILTER_ADDRESS, "To", "jane@example")));
	assert_false(file_holds("18-addresses.eml",
	    cond(FILTER_ADDRESS, "To", "Plain")));
	assert_false(file_holds("18-addresses.eml",
	    cond(FILTER_ADDRESS, "Cc", "jane@example.com")));
	assert_true(file_holds("01-list-dev.eml",
	    cond(FILTER_ADDRESS, "List-Id", "dev.lists.example.org")));
	assert_true(file_holds("47-github-notification.eml",
	    cond(FILTER_ADDRESS, "List-ID", "repo.owner.github.example")));
	/* IDNA: either form of the domain. */
	assert_true(file_holds("43-idn.eml",
	    cond(FILTER_ADDRESS, "From", "info@xn--mller-kva.example")));
	assert_true(file_holds("43-idn.eml",
	    cond(FILTER_ADDRESS, "From", "info@m\303\274ller.example")));
}

static void
test_cond_domain(void **state)
{
	(void)state;
	assert_true(file_holds("18-addresses.eml",
	    cond(FILTER_DOMAIN, "To", "Example.ORG")));
	assert_true(file_holds("18-addresses.eml",
	    cond(FILTER_DOMAIN, "To", "sub.example.org")));
	/* A suffix that is not a whole label is not the domain. */
	assert_false(file_holds("18-addresses.eml",
	    cond(FILTER_DOMAIN, "To", "ample.org")));
	assert_false(file_holds("18-addresses.eml",
	    cond(FILTER_DOMAIN, "To", "example.cn")));
	assert_true(file_holds("18-addresses.eml",
	    cond(FILTER_DOMAIN, "Cc", "example.cn")));
	/* A List-Id's identifier is all domain. */
	assert_true(file_holds("01-list-dev.eml",
	    cond(FILTER_DOMAIN, "List-Id", "lists.example.org")));
	assert_false(file_holds("01-list-dev.eml",
	    cond(FILTER_DOMAIN, "List-Id", "lists.example.com")));
	assert_true(file_holds("43-idn.eml",
	    cond(FILTER_DOMAIN, "From", "xn--mller-kva.example")));
	assert_true(file_holds("43-idn.eml",
	    cond(FILTER_DOMAIN, "To", "B\303\234CHER.example")));
}

static void
test_cond_size_exists(void **state)
{
	struct filter_msg *m;

	(void)state;
	m = load("22-spam-yes.eml", 0);
	assert_true(
	    holds(cond(FILTER_LARGER, NULL, "10M"), m, 10 * 1024 * 1024 + 1));
	assert_false(
	    holds(cond(FILTER_LARGER, NULL, "10M"), m, 10 * 1024 * 1024));
	assert_true(holds(cond(FILTER_SMALLER, NULL, "500k"), m, 511999));
	assert_false(holds(cond(FILTER_SMALLER, NULL, "500k"), m, 512000));
	assert_true(holds(cond(FILTER_LARGER, NULL, "0"), m, 1));
	assert_false(holds(cond(FILTER_SMALLER, NULL, "0"), m, 0));
	assert_true(holds(cond(FILTER_EXISTS, "x-spam-flag", NULL), m, 1));
	assert_false(holds(cond(FILTER_MISSING, "X-Spam-Flag", NULL), m, 1));
	assert_true(holds(cond(FILTER_MISSING, "List-Id", NULL), m, 1));
	filter_msg_free(m);
}

static void
test_cond_nesting(void **state)
{
	struct filter_cond *spam, *big, *listmail;
	struct filter_msg *m;

	(void)state;
	m = load("22-spam-yes.eml", 0);
	/* all(any(flag, score), not(list)) */
	spam = group(FILTER_ALL,
	    group(FILTER_ANY, cond(FILTER_CONTAINS, "X-Spam-Flag", "YES"),
	        cond(FILTER_MATCHES, "X-Spam-Status", "^yes")),
	    group(FILTER_NOT, cond(FILTER_EXISTS, "List-Id", NULL), NULL));
	assert_true(holds(spam, m, 1));
	filter_msg_free(m);

	m = load("01-list-dev.eml", 0);
	listmail = group(FILTER_ALL, cond(FILTER_EXISTS, "List-Id", NULL),
	    group(FILTER_NOT,
	        group(FILTER_ANY, cond(FILTER_LARGER, NULL, "1M"),
	            cond(FILTER_CONTAINS, "Subject", "unsubscribe")),
	        NULL));
	assert_true(holds(listmail, m, 5000));
	listmail = group(FILTER_ALL, cond(FILTER_EXISTS, "List-Id", NULL),
	    group(FILTER_NOT,
	        group(FILTER_ANY, cond(FILTER_LARGER, NULL, "1M"),
	            cond(FILTER_CONTAINS, "Subject", "unsubscribe")),
	        NULL));
	assert_false(holds(listmail, m, 2 * 1024 * 1024));
	/* not(not(x)) is x; any() of falsehoods is false. */
	big = group(FILTER_NOT,
	    group(FILTER_NOT, cond(FILTER_EXISTS, "Precedence", NULL), NULL),
	    NULL);
	assert_true(holds(big, m, 1));
	big = group(FILTER_ANY, cond(FILTER_EXISTS, "X-A", NULL),
	    cond(FILTER_EXISTS, "X-B", NULL));
	assert_false(holds(big, m, 1));
	filter_msg_free(m);
}

static void
rule(struct filter_rule *r, const char *name, struct filter_cond *c,
    enum filter_action action, const char *folder, unsigned int flags,
    bool is_continue)
{
	struct err err;

	filter_rule_init(r, name);
	filter_rule_set_cond(r, c);
	if (folder != NULL)
		assert_int_equal(filter_rule_set_folder(r, folder, &err), 0);
	else
		r->action = action;
	r->flags = flags;
	r->is_continue = is_continue;
	if (filter_rule_check(r, &err) == -1)
		fail_msg("%s", err.msg);
}

static void
rules_free(struct filter_rule *rules, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		filter_rule_cleanup(&rules[i]);
}

static const char *
describe(const struct filter_rule *rules, size_t n, const char *file,
    uint64_t size)
{
	static char buf[256], out[300];
	struct filter_decision d;
	struct filter_msg *m;
	struct err err;

	m = load(file, 0);
	assert_int_equal(filter_decide(rules, n, m, size, &d, &err), 0);
	filter_decision_describe(&d, buf, sizeof(buf));
	(void)snprintf(out, sizeof(out), "%s: %s", d.rule, buf);
	filter_msg_free(m);
	return out;
}

/* A realistic rule set over the corpus. */
static void
test_decide_corpus(void **state)
{
	struct filter_rule r[7];
	static const struct {
		const char *file;
		uint64_t size;
		const char *want;
	} cases[] = {
		{ "01-list-dev.eml", 4000, "lists-dev: folder .Lists.dev" },
		{ "03-list-id-folded.eml", 4000,
		    "lists-other: folder .Lists.other" },
		{ "48-mailman-latin1-name.eml", 4000,
		    "lists-other: folder .Lists.other" },
		{ "47-github-notification.eml", 4000,
		    "github: folder ~/Mail/github +seen" },
		{ "22-spam-yes.eml", 4000, "spam: discard" },
		{ "24-spam-tagged.eml", 4000, "spam: discard" },
		{ "23-spam-no.eml", 4000, "inbox: inbox" },
		{ "23-spam-no.eml", 30 * 1024 * 1024, "huge: skip" },
		{ "04-utf8-b.eml", 4000, "boss: inbox +flagged" },
		{ "10-gb2312.eml", 4000, "inbox: inbox" },
		{ "36-empty.eml", 10, "inbox: inbox" },
		{ "35-bare-cr.eml", 10, "inbox: inbox" },
	};
	size_t i;

	(void)state;
	rule(&r[0], "huge", cond(FILTER_LARGER, NULL, "20M"),
	    FILTER_ACTION_SKIP, NULL, 0, false);
	rule(&r[1], "spam",
	    group(FILTER_ANY, cond(FILTER_CONTAINS, "X-Spam-Flag", "yes"),
	        cond(FILTER_MATCHES, "Subject", "^\\*+SPAM\\*+")),
	    FILTER_ACTION_DISCARD, NULL, 0, false);
	rule(&r[2], "lists-dev",
	    cond(FILTER_ADDRESS, "List-Id", "dev.lists.example.org"),
	    FILTER_ACTION_NONE, ".Lists.dev", 0, false);
	rule(&r[3], "github", cond(FILTER_DOMAIN, "List-Id", "github.example"),
	    FILTER_ACTION_NONE, "~/Mail/github", FILTER_FLAG_SEEN, false);
	rule(&r[4], "lists-other", cond(FILTER_EXISTS, "List-Id", NULL),
	    FILTER_ACTION_NONE, ".Lists.other", 0, false);
	/* Grüße aus München */
	rule(&r[5], "boss",
	    cond(FILTER_CONTAINS, "Subject", "gr\303\274\303\237e"),
	    FILTER_ACTION_NONE, NULL, FILTER_FLAG_FLAGGED, false);
	rule(&r[6], "never", cond(FILTER_EXISTS, "X-Never", NULL),
	    FILTER_ACTION_DISCARD, NULL, 0, false);
	for (i = 0; i < NELEM(cases); i++)
		assert_string_equal(describe(r, NELEM(r), cases[i].file,
		                        cases[i].size),
		    cases[i].want);
	rules_free(r, NELEM(r));
}

/*
 * Without the header (no TOP): a message is decided from its size when
 * every rule that must be looked at depends on nothing else.
 */
static void
test_decide_size_only(void **state)
{
	struct filter_rule r[3];
	struct filter_decision d;
	struct err err;

	(void)state;
	rule(&r[0], "huge",
	    group(FILTER_ANY, cond(FILTER_LARGER, NULL, "1M"),
	        cond(FILTER_EXISTS, "X-Big", NULL)),
	    FILTER_ACTION_SKIP, NULL, 0, false);
	rule(&r[1], "spam",
	    group(FILTER_ALL, cond(FILTER_SMALLER, NULL, "100"),
	        cond(FILTER_EXISTS, "X-Spam-Flag", NULL)),
	    FILTER_ACTION_DISCARD, NULL, 0, false);
	rule(&r[2], "tiny",
	    group(FILTER_NOT, cond(FILTER_LARGER, NULL, "10"), NULL),
	    FILTER_ACTION_DISCARD, NULL, 0, false);
	/* any: larger holds, whatever the header says. */
	assert_int_equal(filter_decide(r, 3, NULL, 5u << 20, &d, &err), 0);
	assert_int_equal(d.verdict, FILTER_SKIP);
	assert_string_equal(d.rule, "huge");
	/* Below 1M "huge" hangs on X-Big: the header is needed. */
	assert_int_equal(filter_decide(r, 3, NULL, 500, &d, &err), 1);
	assert_int_equal(filter_decide(r, 3, NULL, 5, &d, &err), 1);
	/* all: smaller fails, so "spam" cannot match; "tiny" neither. */
	assert_int_equal(filter_decide(&r[1], 2, NULL, 500, &d, &err), 0);
	assert_int_equal(d.verdict, FILTER_DELIVER);
	assert_string_equal(d.rule, "inbox");
	assert_int_equal(filter_decide(&r[2], 1, NULL, 5, &d, &err), 0);
	assert_int_equal(d.verdict, FILTER_DISCARD);
	rules_free(r, NELEM(r));
}

static void
test_decide_order(void **state)
{
	struct filter_rule r[4];
	struct filter_decision d;
	struct filter_msg *m;
	struct err err;

	(void)state;
	/* First match wins. */
	rule(&r[0], "first", cond(FILTER_EXISTS, "List-Id", NULL),
	    FILTER_ACTION_NONE, ".A", 0, false);
	rule(&r[1], "second", cond(FILTER_EXISTS, "List-Id", NULL),
	    FILTER_ACTION_NONE, ".B", 0, false);
	assert_string_equal(describe(r, 2, "01-list-dev.eml", 1),
	    "first: folder .A");
	rules_free(r, 2);

	/* Continue: flags add up, the later folder wins. */
	rule(&r[0], "seen-lists", cond(FILTER_EXISTS, "List-Id", NULL),
	    FILTER_ACTION_NONE, NULL, FILTER_FLAG_SEEN, true);
	rule(&r[1], "dev", cond(FILTER_CONTAINS, "Subject", "[dev]"),
	    FILTER_ACTION_NONE, ".Dev", FILTER_FLAG_FLAGGED, true);
	rule(&r[2], "lists", cond(FILTER_EXISTS, "List-Id", NULL),
	    FILTER_ACTION_NONE, ".Lists", 0, false);
	rule(&r[3], "after", NULL, FILTER_ACTION_DISCARD, NULL, 0, false);
	assert_string_equal(describe(r, 4, "01-list-dev.eml", 1),
	    "lists: folder .Lists +seen +flagged");
	/* Continuing past the last match keeps what was decided. */
	assert_string_equal(describe(r, 2, "01-list-dev.eml", 1),
	    "dev: folder .Dev +seen +flagged");
	assert_string_equal(describe(r, 1, "02-list-announce.eml", 1),
	    "seen-lists: inbox +seen");
	assert_string_equal(describe(r + 1, 3, "01-list-dev.eml", 1),
	    "lists: folder .Lists +flagged");
	/* A later discard drops the folder and the flags. */
	r[2].is_continue = true;
	assert_string_equal(describe(r, 4, "01-list-dev.eml", 1),
	    "after: discard");
	/* A rule without a condition matches everything. */
	assert_string_equal(describe(r + 3, 1, "36-empty.eml", 1),
	    "after: discard");
	/* No rules: the inbox. */
	m = load("01-list-dev.eml", 0);
	assert_int_equal(filter_decide(NULL, 0, m, 1, &d, &err), 0);
	assert_int_equal(d.verdict, FILTER_DELIVER);
	assert_null(d.folder);
	assert_int_equal(d.flags, 0);
	assert_string_equal(d.rule, "inbox");
	/* The decision says whether the folder is a path. */
	assert_int_equal(filter_decide(r, 4, m, 1, &d, &err), 0);
	assert_int_equal(d.verdict, FILTER_DISCARD);
	r[2].is_continue = false;
	assert_int_equal(filter_decide(r, 4, m, 1, &d, &err), 0);
	assert_string_equal(d.folder, ".Lists");
	assert_false(d.is_path);
	assert_int_equal(d.flags, FILTER_FLAG_SEEN | FILTER_FLAG_FLAGGED);
	filter_msg_free(m);
	assert_false(filter_rules_need_body(r, 4));
	rules_free(r, 4);
}

static void
test_parse_size(void **state)
{
	static const struct {
		const char *s;
		uint64_t want;
	} good[] = {
		{ "0", 0 },
		{ "1", 1 },
		{ "007", 7 },
		{ "500k", 500 * 1024 },
		{ "500K", 500 * 1024 },
		{ "10M", 10 * 1024 * 1024 },
		{ "10m", 10 * 1024 * 1024 },
		{ "1G", 1024 * 1024 * 1024 },
		{ "18446744073709551615", UINT64_MAX },
		{ "17179869183G", UINT64_C(17179869183) << 30 },
	};
	static const char *bad[] = { "", "k", "M", "-1", "+1", " 1", "1 ",
		"10MB", "10Mk", "1.5M", "10X", "0x10", "1T",
		"18446744073709551616", "17179869184G",
		"99999999999999999999k" };
	struct err err;
	uint64_t n;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(good); i++) {
		n = 42;
		assert_int_equal(filter_parse_size(good[i].s, &n, &err), 0);
		assert_true(n == good[i].want);
	}
	for (i = 0; i < NELEM(bad); i++) {
		err_clear(&err);
		if (filter_parse_size(bad[i], &n, &err) != -1)
			fail_msg("size \"%s\" accepted", bad[i]);
		assert_int_equal(err.cls, ERR_CONFIG);
	}
}

static void
expect_cond_error(enum filter_cond_kind kind, const char *header,
    const char *arg, const char *msg)
{
	struct filter_cond *c = (struct filter_cond *)&c;
	struct err err;

	err_clear(&err);
	assert_int_equal(filter_cond_new(kind, header, arg, &c, &err), -1);
	assert_null(c);
	assert_int_equal(err.cls, ERR_CONFIG);
	if (strstr(err.msg, msg) == NULL)
		fail_msg("\"%s\" lacks \"%s\"", err.msg, msg);
}

static void
test_cond_errors(void **state)
{
	struct filter_cond *g, *c;
	struct err err;

	(void)state;
	/* GRegex's own message comes through. */
	expect_cond_error(FILTER_MATCHES, "Subject", "(unclosed",
	    "matches: bad regex: ");
	expect_cond_error(FILTER_MATCHES, "Subject", "a{2,1}", "bad regex");
	expect_cond_error(FILTER_MATCHES, "Subject", "", "empty regex");
	expect_cond_error(FILTER_MATCHES, "Sub ject", "x", "bad header name");
	expect_cond_error(FILTER_MATCHES, "Subject:", "x", "bad header name");
	expect_cond_error(FILTER_CONTAINS, "", "x", "missing header name");
	expect_cond_error(FILTER_CONTAINS, NULL, "x", "missing header name");
	expect_cond_error(FILTER_CONTAINS, "Subject", "", "empty");
	expect_cond_error(FILTER_CONTAINS, "Subject", NULL, "missing argument");
	expect_cond_error(FILTER_CONTAINS, "Subject", "\xff", "invalid");
	expect_cond_error(FILTER_ADDRESS, "To", "a b@example.org",
	    "bad address");
	expect_cond_error(FILTER_ADDRESS, "To", "", "empty address");
	expect_cond_error(FILTER_DOMAIN, "To", "@example.org", "bad domain");
	expect_cond_error(FILTER_DOMAIN, "To", ".example.org", "bad domain");
	expect_cond_error(FILTER_DOMAIN, "To", "example.org.", "bad domain");
	expect_cond_error(FILTER_LARGER, NULL, "10 MB", "larger: bad size");
	expect_cond_error(FILTER_LARGER, "Subject", "10M", "no header name");
	expect_cond_error(FILTER_SMALLER, NULL, NULL, "missing argument");
	expect_cond_error(FILTER_EXISTS, "X-A", "x", "takes no argument");
	expect_cond_error(FILTER_ALL, "X-A", NULL, "no header name");
	expect_cond_error((enum filter_cond_kind)99, NULL, NULL, "unknown");

	/* A not takes one condition; a leaf takes none. */
	g = cond(FILTER_NOT, NULL, NULL);
	assert_int_equal(filter_cond_add(g, cond(FILTER_EXISTS, "A", NULL),
	                     &err),
	    0);
	assert_int_equal(filter_cond_add(g, cond(FILTER_EXISTS, "B", NULL),
	                     &err),
	    -1);
	assert_non_null(strstr(err.msg, "one condition"));
	c = cond(FILTER_EXISTS, "A", NULL);
	assert_int_equal(filter_cond_add(c, cond(FILTER_EXISTS, "B", NULL),
	                     &err),
	    -1);
	assert_int_equal(err.cls, ERR_CONFIG);
	filter_cond_free(c);
	filter_cond_free(g);
	filter_cond_free(NULL);
}

static void
expect_rule_error(struct filter_rule *r, const char *msg)
{
	struct err err;

	err_clear(&err);
	assert_int_equal(filter_rule_check(r, &err), -1);
	assert_int_equal(err.cls, ERR_CONFIG);
	if (strstr(err.msg, msg) == NULL)
		fail_msg("\"%s\" lacks \"%s\"", err.msg, msg);
}

static void
test_rule_errors(void **state)
{
	static const char *good_folders[] = { ".Lists", ".Lists.dev", ".a.b.c",
		"/var/mail/other", "~/Mail/lists" };
	static const char *bad_folders[] = { "", ".", "Lists", ".a..b", ".a.",
		".a/b", "../x", "~", "~x/y", ".a\nb" };
	struct filter_decision d;
	struct filter_rule r;
	struct filter_msg *m;
	struct err err;
	unsigned int flags = 0;
	size_t i;

	(void)state;
	filter_rule_init(&r, "r1");
	expect_rule_error(&r, "rule r1: no action");
	r.action = FILTER_ACTION_DISCARD;
	assert_int_equal(filter_rule_check(&r, &err), 0);
	r.is_continue = true;
	expect_rule_error(&r, "continue cannot follow");
	r.action = FILTER_ACTION_SKIP;
	expect_rule_error(&r, "continue cannot follow");
	r.is_continue = false;
	r.flags = FILTER_FLAG_SEEN;
	expect_rule_error(&r, "exclude");

	/* An unchecked rule reaching filter_decide() is a bug. */
	m = msg_str("Subject: x\r\n\r\n");
	err_clear(&err);
	assert_int_equal(filter_decide(&r, 1, m, 1, &d, &err), -1);
	assert_int_equal(err.cls, ERR_SOFTWARE);
	filter_msg_free(m);

	r.flags = 0x10;
	r.action = FILTER_ACTION_NONE;
	expect_rule_error(&r, "unknown flags");
	r.flags = 0;

	for (i = 0; i < NELEM(good_folders); i++) {
		assert_int_equal(filter_rule_set_folder(&r, good_folders[i],
		                     &err),
		    0);
		assert_int_equal(r.action, FILTER_ACTION_FOLDER);
		assert_int_equal(filter_rule_check(&r, &err), 0);
	}
	for (i = 0; i < NELEM(bad_folders); i++) {
		err_clear(&err);
		if (filter_rule_set_folder(&r, bad_folders[i], &err) != -1)
			fail_msg("folder \"%s\" accepted", bad_folders[i]);
		assert_non_null(strstr(err.msg, "rule r1: bad folder"));
	}
	/* A folder and a discard at once. */
	r.action = FILTER_ACTION_DISCARD;
	expect_rule_error(&r, "exclude");
	r.action = FILTER_ACTION_FOLDER;

	/* Empty groups. */
	filter_rule_set_cond(&r, cond(FILTER_ANY, NULL, NULL));
	expect_rule_error(&r, "empty any");
	filter_rule_set_cond(&r,
	    group(FILTER_ALL, cond(FILTER_EXISTS, "A", NULL),
	        cond(FILTER_NOT, NULL, NULL)));
	expect_rule_error(&r, "empty not");
	filter_rule_cleanup(&r);

	assert_int_equal(filter_parse_flag("seen", &flags, &err), 0);
	assert_int_equal(filter_parse_flag("flagged", &flags, &err), 0);
	assert_int_equal(flags, FILTER_FLAG_SEEN | FILTER_FLAG_FLAGGED);
	assert_int_equal(filter_parse_flag("Seen", &flags, &err), -1);
	assert_int_equal(err.cls, ERR_CONFIG);
}

static void
test_describe(void **state)
{
	struct filter_decision d = { .verdict = FILTER_DELIVER, .rule = "x" };
	char buf[64], small[8];

	(void)state;
	filter_decision_describe(&d, buf, sizeof(buf));
	assert_string_equal(buf, "inbox");
	d.folder = ".Lists.dev";
	d.flags = FILTER_FLAG_SEEN | FILTER_FLAG_FLAGGED;
	filter_decision_describe(&d, buf, sizeof(buf));
	assert_string_equal(buf, "folder .Lists.dev +seen +flagged");
	filter_decision_describe(&d, small, sizeof(small));
	assert_string_equal(small, "folder ");
	d.verdict = FILTER_SKIP;
	filter_decision_describe(&d, buf, sizeof(buf));
	assert_string_equal(buf, "skip");
	d.verdict = FILTER_DISCARD;
	filter_decision_describe(&d, buf, sizeof(buf));
	assert_string_equal(buf, "discard");
}

static int
group_setup(void **state)
{
	(void)state;
	filter_init();
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	filter_shutdown();
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus_values),
		cmocka_unit_test(test_corpus_all),
		cmocka_unit_test(test_shortcuts),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_feed_completion),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_cond_matches),
		cmocka_unit_test(test_cond_contains),
		cmocka_unit_test(test_cond_address),
		cmocka_unit_test(test_cond_domain),
		cmocka_unit_test(test_cond_size_exists),
		cmocka_unit_test(test_cond_nesting),
		cmocka_unit_test(test_decide_corpus),
		cmocka_unit_test(test_decide_order),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_cond_errors),
		cmocka_unit_test(test_rule_errors),
		cmocka_unit_test(test_describe),
		cmocka_unit_test(test_decide_size_only),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
