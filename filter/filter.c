/*
 * RFC 5322  Internet Message Format (header fields, folding §2.2.3)
 * RFC 2047  MIME Part Three: Message Header Extensions (encoded words)
 * RFC 2231  MIME Parameter Value and Encoded Word Extensions
 * RFC 2919  List-Id
 *
 * The header is collected from the fed bytes, bounded, cleaned of what
 * GMime cannot carry in a C string, and parsed once on the first query;
 * the values are copied out and the GMime objects dropped.  Matching is
 * pure: it reads the parsed header and the rules and nothing else.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <gmime/gmime.h>

#include "filter/filter.h"
#include "util/err.h"
#include "util/str.h"
#include "util/xmalloc.h"

/*
 * How much of one address field GMime parses.  Its objects take some
 * hundred bytes per mailbox, so a 1 MiB field of "a@b," would cost
 * hundreds of MiB; 64 KiB still holds over a thousand real recipients.
 */
#define FILTER_ADDR_FIELD_MAX (64 * 1024)

/* Longest folder name or path a rule may give. */
#define FILTER_FOLDER_MAX 4096

/* One header field, as parsed. */
struct hdr {
	char *name;  /* as written */
	char *value; /* decoded, unfolded, valid UTF-8 */
	char *raw;   /* as written (folded, undecoded), for GMime to re-read */
	char *fold;  /* value normalised and case-folded; made on demand */
};

/* The mailboxes of every field with one name. */
struct addrlist {
	struct filter_addr *v; /* views of own */
	struct addrown *own;
	size_t n;
	size_t cap;
};

struct addrown {
	char *name;
	char *addr;
	char *fold;     /* addr case-folded */
	char *idn_fold; /* the same with an ASCII (IDNA) domain */
};

struct filter_msg {
	char *buf; /* header bytes kept, not NUL-terminated */
	size_t len;
	size_t cap;
	size_t nfields;      /* field starts counted while collecting */
	bool is_bol;         /* next byte starts a line */
	bool is_line_filled; /* the current line has a byte besides CR */
	bool is_cr;          /* the last byte was CR */
	bool is_complete;
	bool is_truncated;

	bool is_parsed;
	struct hdr *hdrs;
	size_t nhdrs;
	GHashTable *addrs;  /* lower-case name -> struct addrlist */
	GHashTable *params; /* "name\nparam" lower-case -> value or "" */
	char *date;
};

struct filter_cond {
	enum filter_cond_kind kind;
	char *header;
	char *fold; /* case-folded text, address or domain */
	GRegex *re;
	uint64_t size;
	struct filter_cond **kids;
	size_t nkids;
};

void
filter_init(void)
{
	g_mime_init();
}

void
filter_shutdown(void)
{
	g_mime_shutdown();
}

static void
addrlist_free(void *p)
{
	struct addrlist *al = p;
	size_t i;

	for (i = 0; i < al->n; i++) {
		g_free(al->own[i].name);
		g_free(al->own[i].addr);
		g_free(al->own[i].fold);
		g_free(al->own[i].idn_fold);
	}
	free(al->v);
	free(al->own);
	free(al);
}

static void
msg_clear_parsed(struct filter_msg *m)
{
	size_t i;

	for (i = 0; i < m->nhdrs; i++) {
		g_free(m->hdrs[i].name);
		g_free(m->hdrs[i].value);
		g_free(m->hdrs[i].raw);
		g_free(m->hdrs[i].fold);
	}
	free(m->hdrs);
	m->hdrs = NULL;
	m->nhdrs = 0;
	if (m->addrs != NULL)
		g_hash_table_remove_all(m->addrs);
	if (m->params != NULL)
		g_hash_table_remove_all(m->params);
	g_free(m->date);
	m->date = NULL;
	m->is_parsed = false;
}

struct filter_msg *
filter_msg_new(void)
{
	struct filter_msg *m;

	m = xcalloc(1, sizeof(*m));
	m->is_bol = true;
	m->addrs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
	    addrlist_free);
	m->params =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	return m;
}

void
filter_msg_free(struct filter_msg *m)
{
	if (m == NULL)
		return;
	msg_clear_parsed(m);
	g_hash_table_destroy(m->addrs);
	g_hash_table_destroy(m->params);
	free(m->buf);
	free(m);
}

static void
msg_append(struct filter_msg *m, unsigned char c)
{
	size_t ncap;

	if (m->len == m->cap) {
		ncap = m->cap == 0 ? 4096 : m->cap * 2;
		if (ncap > FILTER_MSG_MAX_BYTES)
			ncap = FILTER_MSG_MAX_BYTES;
		m->buf = xreallocarray(m->buf, ncap, 1);
		m->cap = ncap;
	}
	m->buf[m->len++] = (char)c;
}

/*
 * The header ends at the first empty line (RFC 5322 §2.1): "\n" or
 * "\r\n" alone, wherever the chunks split it.  A line that starts with
 * neither space nor tab starts a field (§2.2.3: anything else is a
 * continuation); that is what the field limit counts.
 */
bool
filter_msg_feed(struct filter_msg *m, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t i;

	if (m->is_complete)
		return true;
	if (len > 0 && m->is_parsed)
		msg_clear_parsed(m);
	for (i = 0; i < len; i++) {
		unsigned char c = p[i];

		if (m->is_bol && c != ' ' && c != '\t' && c != '\r' &&
		    c != '\n' && m->nfields++ == FILTER_MSG_MAX_HEADERS)
			goto truncated;
		if (m->len == FILTER_MSG_MAX_BYTES)
			goto truncated;
		msg_append(m, c);
		if (c == '\n') {
			if (!m->is_line_filled) {
				m->is_complete = true;
				break;
			}
			m->is_line_filled = false;
			m->is_cr = false;
			m->is_bol = true;
			continue;
		}
		m->is_bol = false;
		if (c != '\r' || m->is_cr)
			m->is_line_filled = true;
		m->is_cr = c == '\r';
	}
	return m->is_complete;

truncated:
	m->is_truncated = true;
	m->is_complete = true;
	return true;
}

bool
filter_msg_is_truncated(const struct filter_msg *m)
{
	return m->is_truncated;
}

/* A copy of s that is valid UTF-8 (invalid bytes become U+FFFD). */
static char *
utf8_dup(const char *s)
{
	if (s == NULL)
		s = "";
	return g_utf8_make_valid(s, -1);
}

static char *
utf8_fold(const char *s)
{
	char *valid, *fold;

	valid = utf8_dup(s);
	fold = g_utf8_casefold(valid, -1);
	g_free(valid);
	return fold;
}

/*
 * Does the line start a field, "name:" with an RFC 5322 §3.6.8 name
 * and perhaps white space before the colon (§4.5.8)?
 */
static bool
is_field_start(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len && s[i] >= 33 && s[i] <= 126 && s[i] != ':')
		i++;
	if (i == 0)
		return false;
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	return i < len && s[i] == ':';
}

/*
 * What GMime is given.  A NUL would cut a C string short, and RFC 5322
 * allows CR only before LF, so both become spaces (a bare CR is not
 * taken as a line break that the reader of the delivered message might
 * not see).  A line that is neither a field nor the continuation of a
 * kept one (an mbox "From " line, a line without a colon, a stray
 * continuation at the top) is dropped with its continuations: GMime
 * gives up on the whole header when its first line is one.  The copy
 * ends in an empty line, so that a header cut short still parses.
 */
static char *
msg_clean_copy(const struct filter_msg *m, size_t *len_out)
{
	bool is_keeping = false;
	char *s;
	size_t off, i, n = 0, len;

	s = xmalloc(m->len + 2);
	for (off = 0; off < m->len; off += len) {
		const char *line = m->buf + off;
		const char *nl = memchr(line, '\n', m->len - off);

		len = nl == NULL ? m->len - off : (size_t)(nl - line) + 1;
		if (line[0] != ' ' && line[0] != '\t')
			is_keeping = is_field_start(line, len);
		if (!is_keeping)
			continue;
		for (i = 0; i < len; i++) {
			char c = line[i];

			if (c == '\0' ||
			    (c == '\r' &&
			        (i + 1 == len || line[i + 1] != '\n')))
				c = ' ';
			s[n++] = c;
		}
	}
	if (n > 0 && s[n - 1] != '\n')
		s[n++] = '\n';
	s[n++] = '\n';
	*len_out = n;
	return s;
}

/*
 * Find an RFC 2047 §2 encoded word at s: "=?charset?X?text?=".  Returns
 * its length (0 if there is none) and the parts.
 */
static size_t
ew_scan(const char *s, size_t *cslen_out, char *enc_out, const char **text_out,
    size_t *textlen_out)
{
	size_t cslen, textlen;
	const char *text;

	if (s[0] != '=' || s[1] != '?')
		return 0;
	cslen = strcspn(s + 2, "? \t\r\n");
	if (cslen == 0 || s[2 + cslen] != '?' || s[3 + cslen] == '\0' ||
	    s[4 + cslen] != '?')
		return 0;
	text = s + 5 + cslen;
	textlen = strcspn(text, "? \t\r\n");
	if (text[textlen] != '?' || text[textlen + 1] != '=')
		return 0;
	*cslen_out = cslen;
	*enc_out = s[3 + cslen];
	*text_out = text;
	*textlen_out = textlen;
	return (size_t)(text + textlen + 2 - s);
}

static void
b64_append(GByteArray *bytes, const char *text, size_t len)
{
	size_t at = bytes->len;
	unsigned int save = 0;
	int state = 0;

	g_byte_array_set_size(bytes, (guint)(at + len * 3 / 4 + 3));
	at += g_base64_decode_step(text, len, bytes->data + at, &state, &save);
	g_byte_array_set_size(bytes, (guint)at);
}

/*
 * Join each run of base64 encoded words in one charset, separated only
 * by white space (which RFC 2047 §6.2 says to drop), into one word.  The
 * bytes of a character may be split between words, and GMime before
 * 3.2.14 loses the word after one that ends in "=" padding (its issue
 * 133).  Decoding each word on its own and encoding the joined bytes
 * again sidesteps both.
 */
static char *
join_b_words(const char *raw)
{
	GString *out = g_string_sized_new(strlen(raw));
	GByteArray *bytes = g_byte_array_new();
	const char *p = raw;

	while (*p != '\0') {
		const char *cs, *text, *q;
		size_t wlen, cslen, cslen2, textlen, nwords = 1;
		char enc;
		gchar *b64;

		wlen = ew_scan(p, &cslen, &enc, &text, &textlen);
		if (wlen == 0 || (enc != 'B' && enc != 'b')) {
			g_string_append_c(out, *p++);
			continue;
		}
		cs = p + 2;
		g_byte_array_set_size(bytes, 0);
		b64_append(bytes, text, textlen);
		for (q = p + wlen;; nwords++) {
			const char *next = q + strspn(q, " \t\r\n");
			size_t nlen;

			nlen = ew_scan(next, &cslen2, &enc, &text, &textlen);
			if (nlen == 0 || (enc != 'B' && enc != 'b') ||
			    cslen2 != cslen ||
			    g_ascii_strncasecmp(next + 2, cs, cslen) != 0)
				break;
			b64_append(bytes, text, textlen);
			q = next + nlen;
		}
		if (nwords == 1) {
			g_string_append_len(out, p, (gssize)wlen);
		} else {
			b64 = g_base64_encode(bytes->data, bytes->len);
			g_string_append_printf(out, "=?%.*s?B?%s?=", (int)cslen,
			    cs, b64);
			g_free(b64);
		}
		p = q;
	}
	g_byte_array_unref(bytes);
	return g_string_free(out, FALSE);
}

/* RFC 5322 §2.2.3: unfolding removes the line breaks, not the blanks. */
static char *
unfold(const char *raw)
{
	char *s, *d;
	const char *p;

	s = d = g_malloc(strlen(raw) + 1);
	for (p = raw; *p != '\0'; p++)
		if (*p != '\r' && *p != '\n')
			*d++ = *p;
	*d = '\0';
	return g_strstrip(s);
}

static void
msg_take_headers(struct filter_msg *m, GMimeHeaderList *list)
{
	int count, i;

	count = g_mime_header_list_get_count(list);
	if (count <= 0)
		return;
	m->hdrs = xcalloc((size_t)count, sizeof(*m->hdrs));
	for (i = 0; i < count; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(list, i);
		const char *name = g_mime_header_get_name(h);
		const char *raw = g_mime_header_get_raw_value(h);
		struct hdr *d;
		char *joined, *text;

		if (name == NULL || *name == '\0')
			continue;
		d = &m->hdrs[m->nhdrs++];
		d->name = utf8_dup(name);
		joined = join_b_words(raw == NULL ? "" : raw);
		d->raw = unfold(joined);
		g_free(joined);
		text = g_mime_utils_header_decode_text(NULL, d->raw);
		d->value = utf8_dup(text);
		g_free(text);
	}
}

static void
msg_parse(struct filter_msg *m)
{
	GMimeStream *stream;
	GMimeParser *parser;
	GMimeObject *part;
	char *text;
	size_t len;

	if (m->is_parsed)
		return;
	msg_clear_parsed(m);
	m->is_parsed = true;

	text = msg_clean_copy(m, &len);
	stream = g_mime_stream_mem_new_with_buffer(text, len);
	free(text);
	parser = g_mime_parser_new_with_stream(stream);
	/*
	 * A part, not a message: GMimeMessage moves the Content-* fields
	 * to its body part, and the order of fields would be lost.
	 */
	part = g_mime_parser_construct_part(parser, NULL);
	if (part != NULL) {
		msg_take_headers(m, g_mime_object_get_header_list(part));
		g_object_unref(part);
	}
	g_object_unref(parser);
	g_object_unref(stream);
}

static const struct hdr *
msg_find(struct filter_msg *m, const char *name, size_t idx)
{
	size_t i;

	msg_parse(m);
	for (i = 0; i < m->nhdrs; i++) {
		if (g_ascii_strcasecmp(m->hdrs[i].name, name) != 0)
			continue;
		if (idx-- == 0)
			return &m->hdrs[i];
	}
	return NULL;
}

const char *
filter_msg_header(struct filter_msg *m, const char *name, size_t idx)
{
	const struct hdr *h = msg_find(m, name, idx);

	return h == NULL ? NULL : h->value;
}

size_t
filter_msg_header_count(struct filter_msg *m, const char *name)
{
	size_t i, n = 0;

	msg_parse(m);
	for (i = 0; i < m->nhdrs; i++)
		if (g_ascii_strcasecmp(m->hdrs[i].name, name) == 0)
			n++;
	return n;
}

bool
filter_msg_has_header(struct filter_msg *m, const char *name)
{
	return msg_find(m, name, 0) != NULL;
}

size_t
filter_msg_nheaders(struct filter_msg *m)
{
	msg_parse(m);
	return m->nhdrs;
}

/*
 * Parameters start at the first ";" (RFC 2045 §5.1, RFC 2183 §2); the
 * value before it is a token, so a ";" inside it cannot be quoted.
 */
static char *
param_lookup(const struct hdr *h, const char *param)
{
	GMimeParamList *list;
	const char *semi;
	char *value = NULL;
	int i, n;

	semi = strchr(h->raw, ';');
	if (semi == NULL)
		return NULL;
	list = g_mime_param_list_parse(NULL, semi);
	if (list == NULL)
		return NULL;
	n = g_mime_param_list_length(list);
	for (i = 0; i < n; i++) {
		GMimeParam *p = g_mime_param_list_get_parameter_at(list, i);
		const char *pname = g_mime_param_get_name(p);

		if (pname != NULL && g_ascii_strcasecmp(pname, param) == 0) {
			value = utf8_dup(g_mime_param_get_value(p));
			break;
		}
	}
	g_object_unref(list);
	return value;
}

const char *
filter_msg_param(struct filter_msg *m, const char *name, const char *param)
{
	const struct hdr *h;
	char *raw, *key, *value;
	void *found;

	h = msg_find(m, name, 0);
	if (h == NULL)
		return NULL;
	raw = g_strdup_printf("%s\n%s", name, param);
	key = g_ascii_strdown(raw, -1);
	g_free(raw);
	if (g_hash_table_lookup_extended(m->params, key, NULL, &found)) {
		g_free(key);
		return found;
	}
	value = param_lookup(h, param);
	/* Remember a miss too, as NULL. */
	g_hash_table_insert(m->params, key, value);
	return value;
}

static void
addrlist_push(struct addrlist *al, InternetAddress *a, int depth)
{
	InternetAddressList *members;
	struct addrown *o;
	const char *name, *addr, *idn;
	int i, n;

	if (INTERNET_ADDRESS_IS_GROUP(a)) {
		/* RFC 5322 §3.4: groups do not nest; do not follow them. */
		if (depth > 0)
			return;
		members = internet_address_group_get_members(
		    INTERNET_ADDRESS_GROUP(a));
		n = internet_address_list_length(members);
		for (i = 0; i < n; i++)
			addrlist_push(al,
			    internet_address_list_get_address(members, i),
			    depth + 1);
		return;
	}
	if (!INTERNET_ADDRESS_IS_MAILBOX(a) || al->n == FILTER_MSG_MAX_ADDRS)
		return;
	name = internet_address_get_name(a);
	addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a));
	idn =
	    internet_address_mailbox_get_idn_addr(INTERNET_ADDRESS_MAILBOX(a));
	if (al->n == al->cap) {
		al->cap = al->cap == 0 ? 8 : al->cap * 2;
		al->v = xreallocarray(al->v, al->cap, sizeof(*al->v));
		al->own = xreallocarray(al->own, al->cap, sizeof(*al->own));
	}
	o = &al->own[al->n];
	o->name = utf8_dup(name);
	o->addr = utf8_dup(addr);
	o->fold = g_utf8_casefold(o->addr, -1);
	/*
	 * GMime shows an IDNA domain ("xn--...") in Unicode; a rule may
	 * name either form.
	 */
	o->idn_fold = idn == NULL ? g_strdup(o->fold) : utf8_fold(idn);
	al->v[al->n].name = o->name;
	al->v[al->n].addr = o->addr;
	al->n++;
}

/*
 * Parse at most FILTER_ADDR_FIELD_MAX bytes of an address field, cut
 * after the last whole mailbox (at a comma) when there is one.
 */
static InternetAddressList *
addr_parse(const char *raw)
{
	InternetAddressList *list;
	const char *comma;
	char *head;
	size_t len = strlen(raw);

	if (len <= FILTER_ADDR_FIELD_MAX)
		return internet_address_list_parse(NULL, raw);
	head = xstrndup(raw, FILTER_ADDR_FIELD_MAX);
	comma = strrchr(head, ',');
	if (comma != NULL)
		head[comma - head] = '\0';
	list = internet_address_list_parse(NULL, head);
	free(head);
	return list;
}

static const struct addrlist *
msg_addrlist(struct filter_msg *m, const char *name)
{
	struct addrlist *al;
	char *key;
	size_t i;

	msg_parse(m);
	key = g_ascii_strdown(name, -1);
	al = g_hash_table_lookup(m->addrs, key);
	if (al != NULL) {
		g_free(key);
		return al;
	}
	al = xcalloc(1, sizeof(*al));
	for (i = 0; i < m->nhdrs; i++) {
		InternetAddressList *list;
		int j, n;

		if (g_ascii_strcasecmp(m->hdrs[i].name, name) != 0)
			continue;
		list = addr_parse(m->hdrs[i].raw);
		if (list == NULL)
			continue;
		n = internet_address_list_length(list);
		for (j = 0; j < n; j++)
			addrlist_push(al,
			    internet_address_list_get_address(list, j), 0);
		g_object_unref(list);
	}
	g_hash_table_insert(m->addrs, key, al);
	return al;
}

size_t
filter_msg_addresses(struct filter_msg *m, const char *name,
    const struct filter_addr **addrs_out)
{
	const struct addrlist *al = msg_addrlist(m, name);

	*addrs_out = al->n == 0 ? NULL : al->v;
	return al->n;
}

const char *
filter_msg_subject(struct filter_msg *m)
{
	return filter_msg_header(m, "Subject", 0);
}

const char *
filter_msg_from(struct filter_msg *m)
{
	return filter_msg_header(m, "From", 0);
}

const char *
filter_msg_message_id(struct filter_msg *m)
{
	return filter_msg_header(m, "Message-ID", 0);
}

const char *
filter_msg_date(struct filter_msg *m)
{
	const char *value;
	GDateTime *dt;

	if (m->date != NULL)
		return m->date;
	value = filter_msg_header(m, "Date", 0);
	if (value == NULL)
		return NULL;
	dt = g_mime_utils_header_decode_date(value);
	if (dt != NULL) {
		m->date = g_date_time_format(dt, "%Y-%m-%d %H:%M:%S %z");
		g_date_time_unref(dt);
	}
	if (m->date == NULL)
		m->date = g_strdup(value);
	return m->date;
}

/*
 * The form text is compared in: compatibility-normalised (so that
 * full-width Latin letters match their ASCII forms) and case-folded.
 */
static char *
text_fold(const char *s)
{
	char *norm, *fold;

	norm = g_utf8_normalize(s, -1, G_NORMALIZE_ALL_COMPOSE);
	if (norm == NULL)
		return g_utf8_casefold(s, -1);
	fold = g_utf8_casefold(norm, -1);
	g_free(norm);
	return fold;
}

static const char *
hdr_fold(struct hdr *h)
{
	if (h->fold == NULL)
		h->fold = text_fold(h->value);
	return h->fold;
}

const char *
filter_cond_kind_name(enum filter_cond_kind kind)
{
	switch (kind) {
	case FILTER_ALL:
		return "all";
	case FILTER_ANY:
		return "any";
	case FILTER_NOT:
		return "not";
	case FILTER_MATCHES:
		return "matches";
	case FILTER_CONTAINS:
		return "contains";
	case FILTER_ADDRESS:
		return "address";
	case FILTER_DOMAIN:
		return "domain";
	case FILTER_LARGER:
		return "larger";
	case FILTER_SMALLER:
		return "smaller";
	case FILTER_EXISTS:
		return "exists";
	case FILTER_MISSING:
		return "missing";
	}
	return "?";
}

/* RFC 5322 §3.6.8: printable ASCII except the colon. */
static int
check_header_name(const char *name, struct err *err)
{
	const char *p;

	if (name == NULL || *name == '\0') {
		err_setx(err, ERR_CONFIG, "missing header name");
		return -1;
	}
	for (p = name; *p != '\0'; p++) {
		if (*p < 33 || *p > 126 || *p == ':') {
			err_setx(err, ERR_CONFIG, "bad header name \"%.64s\"",
			    name);
			return -1;
		}
	}
	return 0;
}

/* Non-empty UTF-8 without spaces or control characters. */
static int
check_word(const char *what, const char *s, struct err *err)
{
	const unsigned char *p;

	if (*s == '\0') {
		err_setx(err, ERR_CONFIG, "empty %s", what);
		return -1;
	}
	if (!g_utf8_validate(s, -1, NULL))
		goto bad;
	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p <= ' ' || *p == 0x7f)
			goto bad;
	return 0;

bad:
	err_setx(err, ERR_CONFIG, "bad %s \"%.64s\"", what, s);
	return -1;
}

static int
cond_set_arg(struct filter_cond *c, const char *arg, struct err *err)
{
	GError *gerr = NULL;

	switch (c->kind) {
	case FILTER_MATCHES:
		if (*arg == '\0') {
			err_setx(err, ERR_CONFIG, "empty regex");
			return -1;
		}
		c->re = g_regex_new(arg, G_REGEX_CASELESS, 0, &gerr);
		if (c->re == NULL) {
			err_setx(err, ERR_CONFIG, "bad regex: %s",
			    gerr->message);
			g_error_free(gerr);
			return -1;
		}
		return 0;
	case FILTER_CONTAINS:
		if (*arg == '\0' || !g_utf8_validate(arg, -1, NULL)) {
			err_setx(err, ERR_CONFIG, "empty or invalid text");
			return -1;
		}
		c->fold = text_fold(arg);
		return 0;
	case FILTER_ADDRESS:
		if (check_word("address", arg, err) == -1)
			return -1;
		c->fold = g_utf8_casefold(arg, -1);
		return 0;
	case FILTER_DOMAIN:
		if (check_word("domain", arg, err) == -1)
			return -1;
		if (strchr(arg, '@') != NULL || *arg == '.' ||
		    arg[strlen(arg) - 1] == '.') {
			err_setx(err, ERR_CONFIG, "bad domain \"%.64s\"", arg);
			return -1;
		}
		c->fold = g_utf8_casefold(arg, -1);
		return 0;
	case FILTER_LARGER:
	case FILTER_SMALLER:
		return filter_parse_size(arg, &c->size, err);
	default:
		abort();
	}
}

int
filter_cond_new(enum filter_cond_kind kind, const char *header, const char *arg,
    struct filter_cond **cond_out, struct err *err)
{
	struct filter_cond *c;
	bool wants_header, wants_arg;

	*cond_out = NULL;
	switch (kind) {
	case FILTER_ALL:
	case FILTER_ANY:
	case FILTER_NOT:
		wants_header = wants_arg = false;
		break;
	case FILTER_MATCHES:
	case FILTER_CONTAINS:
	case FILTER_ADDRESS:
	case FILTER_DOMAIN:
		wants_header = wants_arg = true;
		break;
	case FILTER_LARGER:
	case FILTER_SMALLER:
		wants_header = false;
		wants_arg = true;
		break;
	case FILTER_EXISTS:
	case FILTER_MISSING:
		wants_header = true;
		wants_arg = false;
		break;
	default:
		err_setx(err, ERR_CONFIG, "unknown condition %d", (int)kind);
		return -1;
	}
	if (wants_header && check_header_name(header, err) == -1)
		goto fail_kind;
	if (!wants_header && header != NULL) {
		err_setx(err, ERR_CONFIG, "takes no header name");
		goto fail_kind;
	}
	if (wants_arg != (arg != NULL)) {
		err_setx(err, ERR_CONFIG,
		    wants_arg ? "missing argument" : "takes no argument");
		goto fail_kind;
	}

	c = xcalloc(1, sizeof(*c));
	c->kind = kind;
	if (header != NULL)
		c->header = xstrdup(header);
	if (arg != NULL && cond_set_arg(c, arg, err) == -1) {
		filter_cond_free(c);
		goto fail_kind;
	}
	*cond_out = c;
	return 0;

fail_kind:
	err_prefix(err, "%s", filter_cond_kind_name(kind));
	return -1;
}

int
filter_cond_add(struct filter_cond *group, struct filter_cond *child,
    struct err *err)
{
	if (group->kind != FILTER_ALL && group->kind != FILTER_ANY &&
	    group->kind != FILTER_NOT) {
		err_setx(err, ERR_CONFIG, "%s is not a group",
		    filter_cond_kind_name(group->kind));
		goto fail;
	}
	if (group->kind == FILTER_NOT && group->nkids == 1) {
		err_setx(err, ERR_CONFIG, "not takes one condition");
		goto fail;
	}
	group->kids =
	    xreallocarray(group->kids, group->nkids + 1, sizeof(*group->kids));
	group->kids[group->nkids++] = child;
	return 0;

fail:
	filter_cond_free(child);
	return -1;
}

void
filter_cond_free(struct filter_cond *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nkids; i++)
		filter_cond_free(c->kids[i]);
	free(c->kids);
	if (c->re != NULL)
		g_regex_unref(c->re);
	g_free(c->fold);
	free(c->header);
	free(c);
}

int
filter_parse_size(const char *s, uint64_t *size_out, struct err *err)
{
	uint64_t n, mult = 1;
	size_t digits;

	digits = strspn(s, "0123456789");
	switch (s[digits]) {
	case '\0':
		break;
	case 'k':
	case 'K':
		mult = UINT64_C(1) << 10;
		break;
	case 'm':
	case 'M':
		mult = UINT64_C(1) << 20;
		break;
	case 'g':
	case 'G':
		mult = UINT64_C(1) << 30;
		break;
	default:
		goto bad;
	}
	if (mult != 1 && s[digits + 1] != '\0')
		goto bad;
	if (str_tonum(s, digits, UINT64_MAX, &n) == -1 || n > UINT64_MAX / mult)
		goto bad;
	*size_out = n * mult;
	return 0;

bad:
	err_setx(err, ERR_CONFIG,
	    "bad size \"%.32s\" (bytes, or a number with k, M or G)", s);
	return -1;
}

int
filter_parse_flag(const char *s, unsigned int *flags, struct err *err)
{
	if (strcmp(s, "seen") == 0)
		*flags |= FILTER_FLAG_SEEN;
	else if (strcmp(s, "flagged") == 0)
		*flags |= FILTER_FLAG_FLAGGED;
	else {
		err_setx(err, ERR_CONFIG,
		    "bad flag \"%.32s\" (seen or flagged)", s);
		return -1;
	}
	return 0;
}

void
filter_rule_init(struct filter_rule *r, const char *name)
{
	memset(r, 0, sizeof(*r));
	r->name = xstrdup(name);
}

void
filter_rule_cleanup(struct filter_rule *r)
{
	free(r->name);
	filter_cond_free(r->cond);
	free(r->folder);
	memset(r, 0, sizeof(*r));
}

void
filter_rule_set_cond(struct filter_rule *r, struct filter_cond *cond)
{
	filter_cond_free(r->cond);
	r->cond = cond;
}

bool
filter_folder_is_path(const char *folder)
{
	return folder[0] == '/' || str_has_prefix(folder, "~/");
}

/*
 * Maildir++ folders are directories named ".a.b" next to cur/ new/
 * tmp/; "/" in a name would escape the Maildir and an empty component
 * names no folder.
 */
static int
check_folder(const char *folder, struct err *err)
{
	const unsigned char *p;
	size_t len = strlen(folder);

	if (len == 0 || len > FILTER_FOLDER_MAX)
		goto bad;
	for (p = (const unsigned char *)folder; *p != '\0'; p++)
		if (*p < ' ' || *p == 0x7f)
			goto bad;
	if (filter_folder_is_path(folder))
		return 0;
	if (folder[0] != '.' || folder[len - 1] == '.' ||
	    strstr(folder, "..") != NULL || strchr(folder, '/') != NULL)
		goto bad;
	return 0;

bad:
	err_setx(err, ERR_CONFIG,
	    "bad folder \"%.64s\" (.Name.Sub, or a path from / or ~/)", folder);
	return -1;
}

int
filter_rule_set_folder(struct filter_rule *r, const char *folder,
    struct err *err)
{
	if (check_folder(folder, err) == -1) {
		err_prefix(err, "rule %s", r->name);
		return -1;
	}
	free(r->folder);
	r->folder = xstrdup(folder);
	r->action = FILTER_ACTION_FOLDER;
	return 0;
}

static int
check_cond(const struct filter_cond *c, struct err *err)
{
	size_t i;

	switch (c->kind) {
	case FILTER_ALL:
	case FILTER_ANY:
	case FILTER_NOT:
		if (c->nkids == 0 || (c->kind == FILTER_NOT && c->nkids != 1)) {
			err_setx(err, ERR_CONFIG, "empty %s",
			    filter_cond_kind_name(c->kind));
			return -1;
		}
		for (i = 0; i < c->nkids; i++)
			if (check_cond(c->kids[i], err) == -1)
				return -1;
		return 0;
	default:
		return 0;
	}
}

static int
check_rule(const struct filter_rule *r, struct err *err)
{
	bool is_final;

	if (r->name == NULL || *r->name == '\0') {
		err_setx(err, ERR_CONFIG, "rule without a name");
		return -1;
	}
	switch (r->action) {
	case FILTER_ACTION_NONE:
		if (r->flags == 0)
			goto fail_msg_noaction;
		if (r->folder != NULL)
			goto fail_msg_mixed;
		break;
	case FILTER_ACTION_FOLDER:
		if (r->folder == NULL || check_folder(r->folder, err) == -1)
			goto fail;
		break;
	case FILTER_ACTION_DISCARD:
	case FILTER_ACTION_SKIP:
		if (r->folder != NULL || r->flags != 0)
			goto fail_msg_mixed;
		break;
	default:
		err_setx(err, ERR_CONFIG, "unknown action %d", (int)r->action);
		goto fail;
	}
	if ((r->flags & ~(FILTER_FLAG_SEEN | FILTER_FLAG_FLAGGED)) != 0) {
		err_setx(err, ERR_CONFIG, "unknown flags %#x", r->flags);
		goto fail;
	}
	is_final = r->action == FILTER_ACTION_DISCARD ||
	    r->action == FILTER_ACTION_SKIP;
	if (is_final && r->is_continue) {
		err_setx(err, ERR_CONFIG,
		    "continue cannot follow discard or skip");
		goto fail;
	}
	if (r->cond != NULL && check_cond(r->cond, err) == -1)
		goto fail;
	return 0;

fail_msg_noaction:
	err_setx(err, ERR_CONFIG, "no action (folder, discard, skip or flag)");
	goto fail;
fail_msg_mixed:
	err_setx(err, ERR_CONFIG,
	    "discard and skip exclude folder and flags, and one another");
fail:
	err_prefix(err, "rule %s", r->name == NULL ? "?" : r->name);
	return -1;
}

int
filter_rule_check(const struct filter_rule *r, struct err *err)
{
	return check_rule(r, err);
}

static bool
regex_matches(const GRegex *re, const char *s)
{
	GError *gerr = NULL;
	bool is_match;

	/*
	 * A pattern that hits PCRE's backtracking limit on some input is
	 * an error, not a match; the message goes on to the next rule.
	 */
	is_match = g_regex_match_full(re, s, -1, 0, 0, NULL, &gerr);
	if (gerr != NULL) {
		g_error_free(gerr);
		return false;
	}
	return is_match;
}

static bool
domain_matches(const char *addr_fold, const char *domain_fold)
{
	const char *at, *dom;
	size_t dlen, len;

	at = strrchr(addr_fold, '@');
	dom = at == NULL ? addr_fold : at + 1;
	dlen = strlen(domain_fold);
	len = strlen(dom);
	if (len < dlen || strcmp(dom + len - dlen, domain_fold) != 0)
		return false;
	/* The whole domain, or a subdomain: "b.example.org", not
	 * "bexample.org". */
	return len == dlen || dom[len - dlen - 1] == '.';
}

static bool
addr_matches(const struct filter_cond *c, const char *addr_fold)
{
	if (c->kind == FILTER_ADDRESS)
		return strcmp(addr_fold, c->fold) == 0;
	return domain_matches(addr_fold, c->fold);
}

static bool
eval_field(const struct filter_cond *c, struct filter_msg *m)
{
	const struct addrlist *al;
	size_t i;

	if (c->kind == FILTER_ADDRESS || c->kind == FILTER_DOMAIN) {
		al = msg_addrlist(m, c->header);
		for (i = 0; i < al->n; i++)
			if (addr_matches(c, al->own[i].fold) ||
			    addr_matches(c, al->own[i].idn_fold))
				return true;
		return false;
	}
	msg_parse(m);
	for (i = 0; i < m->nhdrs; i++) {
		struct hdr *h = &m->hdrs[i];

		if (g_ascii_strcasecmp(h->name, c->header) != 0)
			continue;
		if (c->kind == FILTER_MATCHES
		        ? regex_matches(c->re, h->value)
		        : strstr(hdr_fold(h), c->fold) != NULL)
			return true;
	}
	return false;
}

static bool
eval(const struct filter_cond *c, struct filter_msg *m, uint64_t size)
{
	size_t i;

	switch (c->kind) {
	case FILTER_ALL:
		for (i = 0; i < c->nkids; i++)
			if (!eval(c->kids[i], m, size))
				return false;
		return true;
	case FILTER_ANY:
		for (i = 0; i < c->nkids; i++)
			if (eval(c->kids[i], m, size))
				return true;
		return false;
	case FILTER_NOT:
		return !eval(c->kids[0], m, size);
	case FILTER_MATCHES:
	case FILTER_CONTAINS:
	case FILTER_ADDRESS:
	case FILTER_DOMAIN:
		return eval_field(c, m);
	case FILTER_LARGER:
		return size > c->size;
	case FILTER_SMALLER:
		return size < c->size;
	case FILTER_EXISTS:
		return filter_msg_has_header(m, c->header);
	case FILTER_MISSING:
		return !filter_msg_has_header(m, c->header);
	}
	abort();
}

/*
 * A condition on the size alone, the header unknown: 1 true, 0 false,
 * -1 when it depends on the header.  (Kleene's three values: an "any"
 * with a true child is true whatever the header says.)
 */
static int
eval_size(const struct filter_cond *c, uint64_t size)
{
	size_t i;
	int v, res;

	switch (c->kind) {
	case FILTER_ALL:
	case FILTER_ANY:
		res = c->kind == FILTER_ALL ? 1 : 0;
		for (i = 0; i < c->nkids; i++) {
			v = eval_size(c->kids[i], size);
			if (v == (c->kind == FILTER_ALL ? 0 : 1))
				return v;
			if (v == -1)
				res = -1;
		}
		return res;
	case FILTER_NOT:
		v = eval_size(c->kids[0], size);
		return v == -1 ? -1 : !v;
	case FILTER_LARGER:
		return size > c->size;
	case FILTER_SMALLER:
		return size < c->size;
	case FILTER_MATCHES:
	case FILTER_CONTAINS:
	case FILTER_ADDRESS:
	case FILTER_DOMAIN:
	case FILTER_EXISTS:
	case FILTER_MISSING:
		return -1;
	}
	abort();
}

int
filter_decide(const struct filter_rule *rules, size_t n, struct filter_msg *msg,
    uint64_t size, struct filter_decision *out, struct err *err)
{
	struct filter_decision d = { .verdict = FILTER_DELIVER,
		.rule = "inbox" };
	size_t i;

	for (i = 0; i < n; i++) {
		const struct filter_rule *r = &rules[i];

		/* The configuration checked them; a bad one is a bug. */
		if (check_rule(r, err) == -1) {
			if (err != NULL)
				err->cls = ERR_SOFTWARE;
			return -1;
		}
		if (r->cond != NULL && msg == NULL) {
			int v = eval_size(r->cond, size);

			if (v == -1)
				return 1;
			if (v == 0)
				continue;
		} else if (r->cond != NULL && !eval(r->cond, msg, size))
			continue;
		switch (r->action) {
		case FILTER_ACTION_NONE:
			break;
		case FILTER_ACTION_FOLDER:
			d.verdict = FILTER_DELIVER;
			d.folder = r->folder;
			d.is_path = filter_folder_is_path(r->folder);
			break;
		case FILTER_ACTION_DISCARD:
		case FILTER_ACTION_SKIP:
			d.verdict = r->action == FILTER_ACTION_SKIP
			    ? FILTER_SKIP
			    : FILTER_DISCARD;
			d.folder = NULL;
			d.is_path = false;
			d.flags = 0;
			break;
		}
		d.flags |= r->flags;
		d.rule = r->name;
		if (!r->is_continue)
			break;
	}
	*out = d;
	return 0;
}

bool
filter_rules_need_body(const struct filter_rule *rules, size_t n)
{
	/* Every condition so far reads only the header and the size. */
	(void)rules;
	(void)n;
	return false;
}

void
filter_decision_describe(const struct filter_decision *d, char *buf,
    size_t size)
{
	if (d->verdict == FILTER_DISCARD || d->verdict == FILTER_SKIP) {
		(void)snprintf(buf, size, "%s",
		    d->verdict == FILTER_SKIP ? "skip" : "discard");
		return;
	}
	(void)snprintf(buf, size, "%s%s%s%s",
	    d->folder == NULL ? "inbox" : "folder ",
	    d->folder == NULL ? "" : d->folder,
	    (d->flags & FILTER_FLAG_SEEN) != 0 ? " +seen" : "",
	    (d->flags & FILTER_FLAG_FLAGGED) != 0 ? " +flagged" : "");
}
