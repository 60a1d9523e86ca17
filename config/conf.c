#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <confuse.h>
#include <glib.h>

#include "compat/compat.h"
#include "config/conf.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xmalloc.h"

#define CONF_NAME_MAX 64
#define CONF_FILE_MAX (1024 * 1024)
#define CONF_PORT_TLS 995
#define CONF_PORT_PLAIN 110
#define CONF_TIMEOUT_DEFAULT 60
#define CONF_TIMEOUT_MAX 3600
#define CONF_CHECKPOINT_MAX 1000000
/* Slower than this over a whole timeout is a stall (octets a second). */
#define CONF_LOW_SPEED_DEFAULT 100
#define CONF_LOW_SPEED_MAX 100000000
/* time_limit: a week at most (seconds); 0 is no limit. */
#define CONF_TIME_LIMIT_MAX (7 * 24 * 3600)
#define CONF_KEEP_DAYS_MAX 36500
/* delete_when_gone_locally: more than this share gone at once is refused. */
#define CONF_GONE_LIMIT_DEFAULT 50

/*
 * A place in the configuration: a line of the main file (file 0) or of
 * a file it includes (1, 2, ... in the order they are read).
 */
struct conf_at {
	const char *path; /* borrowed from struct conf_parse */
	unsigned file;
	int line;
};

/*
 * Where each thing was set, keyed by a cfg_opt_t (the line of its
 * value) or a section's cfg_t (the line of its opening brace).
 * libconfuse keeps no line per option, so the callbacks below note them
 * while it parses.
 */
struct conf_parse {
	const char *path; /* the file being parsed or built, ... */
	unsigned file;    /* ... and its number */
	struct err *err;
	cfg_t *root;
	GHashTable *marks;      /* key -> struct conf_at, of the main file */
	GHashTable *file_marks; /* and of the included file in hand */
	GPtrArray *paths;       /* every file's path, the main one's first */
	GHashTable *names;      /* account name -> struct conf_at */
	size_t accounts_cap;    /* room in conf->accounts */
	bool has_failed;
	const char *text; /* the file being parsed, for conf_errfunc() */
	size_t len;
};

/*
 * The parse in progress.  libconfuse's callbacks carry no user pointer,
 * and its lexer is global state anyway, so parsing is not reentrant.
 */
static struct conf_parse *conf_parsing;

static const char *const conf_tls_names[] = {
	[FETCH_TLS_ON] = "on",
	[FETCH_TLS_STARTTLS] = "starttls",
	[FETCH_TLS_OFF] = "off",
};

static const char *const conf_fallback_names[] = {
	[CONF_FALLBACK_NONE] = "none",
	[CONF_FALLBACK_MESSAGE_ID] = "message-id",
};

static const char *const conf_tls_min_names[] = {
	[TRANSPORT_TLS_MIN_1_2] = "TLS1.2",
	[TRANSPORT_TLS_MIN_1_3] = "TLS1.3",
};

#define CONF_N_OF(a) (sizeof(a) / sizeof((a)[0]))

static void __attribute__((format(printf, 3, 0)))
conf_vfail(struct conf_parse *p, struct conf_at at, const char *fmt, va_list ap)
{
	char msg[ERR_MSG_MAX];

	/* Record the first error only: later ones are usually its echoes. */
	if (p->has_failed)
		return;
	p->has_failed = true;
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	if (at.line > 0)
		err_setx(p->err, ERR_CONFIG, "%s:%d: %s", at.path, at.line,
		    msg);
	else
		err_setx(p->err, ERR_CONFIG, "%s: %s", at.path, msg);
}

/* An error at a line of the file in hand (0: of the file as a whole). */
static void __attribute__((format(printf, 3, 4)))
conf_fail(struct conf_parse *p, int line, const char *fmt, ...)
{
	struct conf_at at = { p->path, p->file, line };
	va_list ap;

	va_start(ap, fmt);
	conf_vfail(p, at, fmt, ap);
	va_end(ap);
}

/* An error at a place of any file. */
static void __attribute__((format(printf, 3, 4)))
conf_fail_at(struct conf_parse *p, struct conf_at at, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	conf_vfail(p, at, fmt, ap);
	va_end(ap);
}

/* Does line (from 1) of the text set a password or password_command? */
static bool
conf_is_secret_line(const struct conf_parse *p, int line)
{
	const char *s = p->text, *end = p->text + p->len, *nl;
	int n;

	for (n = 1; n < line && s < end; n++) {
		if ((nl = memchr(s, '\n', (size_t)(end - s))) == NULL)
			return false;
		s = nl + 1;
	}
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	return (size_t)(end - s) >= 8 && strncmp(s, "password", 8) == 0;
}

/*
 * libconfuse's own messages quote file text, so they are sanitised; on
 * a password line they are not repeated at all, since what they quote
 * may be part of the password (an unquoted one with a space in it).
 */
static void __attribute__((format(printf, 2, 0)))
conf_errfunc(cfg_t *cfg, const char *fmt, va_list ap)
{
	char raw[ERR_MSG_MAX], clean[ERR_MSG_MAX];
	int line;

	if (conf_parsing == NULL)
		return;
	line = cfg != NULL ? cfg->line : 0;
	if (line > 0 &&
	    (conf_is_secret_line(conf_parsing, line) ||
	        conf_is_secret_line(conf_parsing, line - 1))) {
		conf_fail(conf_parsing, line,
		    "cannot parse the password here (quote it, in single "
		    "quotes if it holds $ or \\)");
		return;
	}
	(void)vsnprintf(raw, sizeof(raw), fmt, ap);
	str_sanitise(clean, sizeof(clean), raw, strlen(raw));
	conf_fail(conf_parsing, line, "%s", clean);
}

/* Where key was set, or line 0 of the file in hand if it was not. */
static struct conf_at
conf_mark_get(const struct conf_parse *p, const void *key)
{
	const struct conf_at *at = NULL;
	struct conf_at none = { p->path, p->file, 0 };

	if (p->file_marks != NULL)
		at = g_hash_table_lookup(p->file_marks, key);
	if (at == NULL)
		at = g_hash_table_lookup(p->marks, key);
	return at != NULL ? *at : none;
}

/*
 * Hash tables: with thousands of accounts, a list would be quadratic.
 * An included file's marks go once its accounts are built, with its
 * cfg_t, whose addresses they are keyed by.
 */
static void
conf_mark_set(struct conf_parse *p, void *key, int line)
{
	struct conf_at *at = xmalloc(sizeof(*at));

	at->path = p->path;
	at->file = p->file;
	at->line = line;
	g_hash_table_insert(p->file_marks != NULL ? p->file_marks : p->marks,
	    key, at);
}

/*
 * Called by libconfuse after each value is stored, with cfg->line still
 * on that value.  While a section is being read the root's line stays on
 * the section's opening brace, which gives the section's own line.
 */
static int
conf_validate(cfg_t *cfg, cfg_opt_t *opt)
{
	struct conf_parse *p = conf_parsing;
	int first;

	if (p == NULL)
		return 0;
	if ((first = conf_mark_get(p, opt).line) != 0) {
		/* libconfuse would silently keep the last one. */
		conf_fail(p, cfg->line, "%s is set twice (first at line %d)",
		    opt->name, first);
		return -1;
	}
	conf_mark_set(p, opt, cfg->line);
	if (conf_mark_get(p, cfg).line == 0)
		conf_mark_set(p, cfg, p->root->line);
	return 0;
}

/*
 * The same for a list, whose validation runs once per value (and whose
 * values may span lines): only the first line is kept.
 */
static int
conf_validate_list(cfg_t *cfg, cfg_opt_t *opt)
{
	struct conf_parse *p = conf_parsing;

	if (p == NULL || conf_mark_get(p, opt).line != 0)
		return 0;
	return conf_validate(cfg, opt);
}

static int
conf_parse_number(cfg_t *cfg, const cfg_opt_t *opt, const char *value,
    uint64_t lo, uint64_t hi, long *out)
{
	char clean[64];
	uint64_t n;

	/* Decimal only: libconfuse's strtol would take "0x1F" and "010". */
	if (str_tonum(value, strlen(value), hi, &n) == -1 || n < lo) {
		str_sanitise(clean, sizeof(clean), value, strlen(value));
		cfg_error(cfg,
		    "%s must be a number from %llu to %llu, not \"%s\"",
		    opt->name, (unsigned long long)lo, (unsigned long long)hi,
		    clean);
		return -1;
	}
	*out = (long)n;
	return 0;
}

static int
conf_parse_port(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	return conf_parse_number(cfg, opt, value, 1, 65535, result);
}

static int
conf_parse_timeout(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	return conf_parse_number(cfg, opt, value, 1, CONF_TIMEOUT_MAX, result);
}

static int
conf_parse_percent(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	return conf_parse_number(cfg, opt, value, 0, 100, result);
}

static int
conf_parse_keep_days(cfg_t *cfg, cfg_opt_t *opt, const char *value,
    void *result)
{
	return conf_parse_number(cfg, opt, value, 0, CONF_KEEP_DAYS_MAX,
	    result);
}

static int
conf_parse_checkpoint(cfg_t *cfg, cfg_opt_t *opt, const char *value,
    void *result)
{
	return conf_parse_number(cfg, opt, value, 0, CONF_CHECKPOINT_MAX,
	    result);
}

static int
conf_parse_low_speed(cfg_t *cfg, cfg_opt_t *opt, const char *value,
    void *result)
{
	return conf_parse_number(cfg, opt, value, 0, CONF_LOW_SPEED_MAX,
	    result);
}

static int
conf_parse_time_limit(cfg_t *cfg, cfg_opt_t *opt, const char *value,
    void *result)
{
	return conf_parse_number(cfg, opt, value, 0, CONF_TIME_LIMIT_MAX,
	    result);
}

/* Bare words and quoted strings reach here alike. */
static int
conf_parse_enum(cfg_t *cfg, const cfg_opt_t *opt, const char *value,
    const char *const *names, size_t nnames, long *out)
{
	char clean[64], list[128];
	size_t i, used = 0;

	for (i = 0; i < nnames; i++) {
		if (strcasecmp(value, names[i]) == 0) {
			*out = (long)i;
			return 0;
		}
	}
	/* "a, b or c" */
	list[0] = '\0';
	for (i = 0; i < nnames && used < sizeof(list); i++)
		used += (size_t)snprintf(list + used, sizeof(list) - used,
		    "%s%s", i == 0 ? "" : (i + 1 == nnames ? " or " : ", "),
		    names[i]);
	str_sanitise(clean, sizeof(clean), value, strlen(value));
	cfg_error(cfg, "%s must be %s, not \"%s\"", opt->name, list, clean);
	return -1;
}

static int
conf_parse_tls(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	return conf_parse_enum(cfg, opt, value, conf_tls_names, 3, result);
}

/* delete and auth: fetch/'s enums, spelt as fetch/ names them. */
static int
conf_parse_delete(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	const char *names[] = { plan_policy_name(PLAN_KEEP),
		plan_policy_name(PLAN_EACH), plan_policy_name(PLAN_BATCH) };

	return conf_parse_enum(cfg, opt, value, names, CONF_N_OF(names),
	    result);
}

static int
conf_parse_fallback(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	return conf_parse_enum(cfg, opt, value, conf_fallback_names, 2, result);
}

static int
conf_parse_auth(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	const char *names[POP3_AUTH_COUNT];
	size_t i;

	for (i = 0; i < POP3_AUTH_COUNT; i++)
		names[i] = pop3_auth_name((enum pop3_auth)i);
	return conf_parse_enum(cfg, opt, value, names, POP3_AUTH_COUNT, result);
}

static int
conf_parse_tls_min(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	return conf_parse_enum(cfg, opt, value, conf_tls_min_names,
	    CONF_N_OF(conf_tls_min_names), result);
}

/* The conditions a rule (and its "not" section) can hold. */
#define CONF_COND_KEYS                                             \
	CFG_STR_LIST("header_matches", NULL, CFGF_NODEFAULT),      \
	    CFG_STR_LIST("header_contains", NULL, CFGF_NODEFAULT), \
	    CFG_STR_LIST("address", NULL, CFGF_NODEFAULT),         \
	    CFG_STR_LIST("domain", NULL, CFGF_NODEFAULT),          \
	    CFG_STR("larger", NULL, CFGF_NODEFAULT),               \
	    CFG_STR("smaller", NULL, CFGF_NODEFAULT),              \
	    CFG_STR_LIST("exists", NULL, CFGF_NODEFAULT),          \
	    CFG_STR_LIST("missing", NULL, CFGF_NODEFAULT)

static void
conf_set_validate(cfg_opt_t *opts)
{
	size_t i;

	for (i = 0; opts[i].name != NULL; i++) {
		if (opts[i].type == CFGT_SEC)
			continue;
		opts[i].validcb = (opts[i].flags & CFGF_LIST) != 0
		    ? conf_validate_list
		    : conf_validate;
	}
}

/* The top-level log key: where the run's lines go; enum conf_log order. */
static const char *const conf_log_names[] = { "stderr", "syslog" };

static int
conf_parse_log(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	return conf_parse_enum(cfg, opt, value, conf_log_names,
	    CONF_N_OF(conf_log_names), result);
}

/*
 * Every key is CFGF_NODEFAULT so that cfg_size() tells "unset" (inherit
 * from defaults, then the built-in default) from "set".
 */
static cfg_t *
conf_schema(void)
{
	cfg_opt_t keys[] = {
		CFG_STR("host", NULL, CFGF_NODEFAULT),
		CFG_INT_CB("port", 0, CFGF_NODEFAULT, conf_parse_port),
		CFG_INT_CB("tls", 0, CFGF_NODEFAULT, conf_parse_tls),
		CFG_BOOL("allow_plaintext", cfg_false, CFGF_NODEFAULT),
		CFG_STR("ca_file", NULL, CFGF_NODEFAULT),
		CFG_STR("user", NULL, CFGF_NODEFAULT),
		CFG_STR("password", NULL, CFGF_NODEFAULT),
		CFG_STR("password_command", NULL, CFGF_NODEFAULT),
		CFG_STR("maildir", NULL, CFGF_NODEFAULT),
		CFG_INT_CB("delete", 0, CFGF_NODEFAULT, conf_parse_delete),
		CFG_INT_CB("timeout", 0, CFGF_NODEFAULT, conf_parse_timeout),
		CFG_INT_CB("checkpoint", 0, CFGF_NODEFAULT,
		    conf_parse_checkpoint),
		CFG_INT_CB("low_speed_limit", 0, CFGF_NODEFAULT,
		    conf_parse_low_speed),
		CFG_INT_CB("time_limit", 0, CFGF_NODEFAULT,
		    conf_parse_time_limit),
		CFG_INT_CB("uidl_fallback", 0, CFGF_NODEFAULT,
		    conf_parse_fallback),
		CFG_INT_CB("keep_days", 0, CFGF_NODEFAULT,
		    conf_parse_keep_days),
		CFG_BOOL("delete_when_gone_locally", cfg_false, CFGF_NODEFAULT),
		CFG_INT_CB("gone_limit", 0, CFGF_NODEFAULT, conf_parse_percent),
		CFG_INT_CB("auth", 0, CFGF_NODEFAULT, conf_parse_auth),
		CFG_STR("tls_fingerprint", NULL, CFGF_NODEFAULT),
		CFG_INT_CB("tls_min_version", 0, CFGF_NODEFAULT,
		    conf_parse_tls_min),
		CFG_STR("tls_priority", NULL, CFGF_NODEFAULT),
		CFG_STR("tls_cert_file", NULL, CFGF_NODEFAULT),
		CFG_STR("tls_key_file", NULL, CFGF_NODEFAULT),
		CFG_STR_LIST("rules", NULL, CFGF_NODEFAULT),
		CFG_BOOL("archive", cfg_false, CFGF_NODEFAULT),
		CFG_STR("folder_by_date", NULL, CFGF_NODEFAULT),
		CFG_END(),
	};
	cfg_opt_t nots[] = { CONF_COND_KEYS, CFG_END() };
	cfg_opt_t rule[] = {
		CONF_COND_KEYS,
		CFG_BOOL("any", cfg_false, CFGF_NODEFAULT),
		CFG_SEC("not", nots, CFGF_NODEFAULT),
		CFG_STR("folder", NULL, CFGF_NODEFAULT),
		CFG_BOOL("discard", cfg_false, CFGF_NODEFAULT),
		CFG_BOOL("skip", cfg_false, CFGF_NODEFAULT),
		CFG_STR_LIST("flag", NULL, CFGF_NODEFAULT),
		CFG_BOOL("continue", cfg_false, CFGF_NODEFAULT),
		CFG_END(),
	};
	cfg_opt_t top[] = {
		CFG_INT_CB("log", 0, CFGF_NODEFAULT, conf_parse_log),
		CFG_STR("include", NULL, CFGF_NODEFAULT),
		CFG_SEC("defaults", keys, CFGF_NODEFAULT),
		CFG_SEC("account", keys,
		    CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
		CFG_SEC("rule", rule,
		    CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
		CFG_END(),
	};
	cfg_t *cfg;

	conf_set_validate(keys);
	conf_set_validate(rule);
	conf_set_validate(nots);
	conf_set_validate(top);
	/* cfg_init() copies the option arrays. */
	if ((cfg = cfg_init(top, CFGF_NONE)) == NULL)
		fatal("cfg_init");
	(void)cfg_set_error_function(cfg, conf_errfunc);
	return cfg;
}

/* The section whose value an account uses for key, or NULL if unset. */
static cfg_t *
conf_source(cfg_t *sec, cfg_t *defs, const char *key)
{
	if (cfg_size(sec, key) > 0)
		return sec;
	if (defs != NULL && cfg_size(defs, key) > 0)
		return defs;
	return NULL;
}

/*
 * Where a section starts.  A section without keys was never marked: use
 * where it ends, in the file in hand (the only one such a section, with
 * nothing inherited, is reported in).
 */
static struct conf_at
conf_section_line(const struct conf_parse *p, cfg_t *sec)
{
	struct conf_at at = conf_mark_get(p, sec);

	if (at.line == 0)
		at.line = sec->line;
	return at;
}

static struct conf_at
conf_key_line(const struct conf_parse *p, cfg_t *sec, const char *key)
{
	struct conf_at at = conf_mark_get(p, cfg_getopt(sec, key));

	if (at.line == 0)
		at = conf_section_line(p, sec);
	return at;
}

/* Was a set after b, in the order the files are read? */
static bool
conf_is_after(struct conf_at a, struct conf_at b)
{
	return a.file != b.file ? a.file > b.file : a.line > b.line;
}

/* "SHA256:" and 32 bytes in hex, a colon allowed between bytes. */
static bool
conf_is_fingerprint(const char *s)
{
	const char *p = s + strlen("SHA256:");
	size_t i;

	if (strncasecmp(s, "SHA256:", strlen("SHA256:")) != 0)
		return false;
	for (i = 0; i < 32; i++) {
		if (i > 0 && *p == ':')
			p++;
		if (g_ascii_xdigit_value(p[0]) == -1 ||
		    g_ascii_xdigit_value(p[1]) == -1)
			return false;
		p += 2;
	}
	return *p == '\0';
}

/* The TLS policy keys of one section: not empty, and well formed. */
static int
conf_check_tls_keys(struct conf_parse *p, cfg_t *sec, const char *what)
{
	static const char *const strs[] = { "tls_fingerprint", "tls_priority",
		"tls_cert_file", "tls_key_file" };
	size_t i;

	for (i = 0; i < CONF_N_OF(strs); i++) {
		if (cfg_size(sec, strs[i]) > 0 &&
		    cfg_getstr(sec, strs[i])[0] == '\0') {
			conf_fail_at(p, conf_key_line(p, sec, strs[i]),
			    "%s: %s is empty", what, strs[i]);
			return -1;
		}
	}
	if (cfg_size(sec, "tls_fingerprint") > 0 &&
	    !conf_is_fingerprint(cfg_getstr(sec, "tls_fingerprint"))) {
		conf_fail_at(p, conf_key_line(p, sec, "tls_fingerprint"),
		    "%s: tls_fingerprint must be \"SHA256:\" and 64 hex "
		    "digits (a colon between bytes allowed)",
		    what);
		return -1;
	}
	return 0;
}

/*
 * Checks that concern one section alone, so that a mistake in defaults
 * is reported once, at its own place.
 */
static int
conf_check_section(struct conf_parse *p, cfg_t *sec, const char *what)
{
	static const char *const strs[] = { "host", "ca_file", "user",
		"password", "password_command", "maildir" };
	size_t i;

	for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		if (cfg_size(sec, strs[i]) == 0)
			continue;
		if (cfg_getstr(sec, strs[i])[0] == '\0') {
			conf_fail_at(p, conf_key_line(p, sec, strs[i]),
			    "%s: %s is empty", what, strs[i]);
			return -1;
		}
	}
	if (cfg_size(sec, "password") > 0 &&
	    cfg_size(sec, "password_command") > 0) {
		struct conf_at l1 = conf_key_line(p, sec, "password");
		struct conf_at l2 = conf_key_line(p, sec, "password_command");

		conf_fail_at(p, conf_is_after(l1, l2) ? l1 : l2,
		    "%s: password and password_command are both set", what);
		return -1;
	}
	if (conf_check_tls_keys(p, sec, what) == -1)
		return -1;
	return 0;
}

/*
 * Account names end up in log lines and file names, so they are kept to
 * a safe alphabet.
 */
static int
conf_check_name(struct conf_parse *p, const char *name, int line)
{
	char clean[CONF_NAME_MAX + 4];
	size_t i, len = strlen(name);

	for (i = 0; i < len; i++) {
		char ch = name[i];

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9'))
			continue;
		if (i > 0 && strchr("._@+-", ch) != NULL)
			continue;
		break;
	}
	if (len == 0 || len > CONF_NAME_MAX || i < len) {
		str_sanitise(clean, sizeof(clean), name, len);
		conf_fail(p, line,
		    "account \"%s\": a name is 1 to %d letters, digits or "
		    "\"._@+-\", starting with a letter or digit",
		    clean, CONF_NAME_MAX);
		return -1;
	}
	return 0;
}

static int
conf_get_str(struct conf_parse *p, struct conf_account *a, cfg_t *sec,
    cfg_t *defs, const char *key, bool is_required, char **out)
{
	cfg_t *src;

	if ((src = conf_source(sec, defs, key)) == NULL) {
		if (is_required) {
			conf_fail(p, a->line, "account \"%s\": %s is not set",
			    a->name, key);
			return -1;
		}
		*out = NULL;
		return 0;
	}
	*out = xstrdup(cfg_getstr(src, key));
	return 0;
}

/* "~" is expanded, and the result must not depend on the cwd. */
static int
conf_get_path(struct conf_parse *p, struct conf_account *a, cfg_t *sec,
    cfg_t *defs, const char *key, bool is_required, char **out)
{
	char *raw, *full;

	if (conf_get_str(p, a, sec, defs, key, is_required, &raw) == -1)
		return -1;
	if (raw == NULL) {
		*out = NULL;
		return 0;
	}
	full = str_expand_home(raw);
	free(raw);
	if (full == NULL) {
		conf_fail_at(p,
		    conf_key_line(p, conf_source(sec, defs, key), key),
		    "account \"%s\": %s: cannot expand \"~\": HOME is not set",
		    a->name, key);
		return -1;
	}
	if (full[0] != '/') {
		free(full);
		conf_fail_at(p,
		    conf_key_line(p, conf_source(sec, defs, key), key),
		    "account \"%s\": %s must be an absolute path or start "
		    "with \"~/\"",
		    a->name, key);
		return -1;
	}
	*out = full;
	return 0;
}

/* password and password_command go together: set either to override. */
static void
conf_get_secret(cfg_t *sec, cfg_t *defs, struct conf_account *a)
{
	cfg_t *src = NULL;

	if (cfg_size(sec, "password") > 0 ||
	    cfg_size(sec, "password_command") > 0)
		src = sec;
	else if (defs != NULL)
		src = defs;
	if (src == NULL)
		return;
	if (cfg_size(src, "password") > 0)
		a->password = xstrdup(cfg_getstr(src, "password"));
	if (cfg_size(src, "password_command") > 0)
		a->password_command =
		    xstrdup(cfg_getstr(src, "password_command"));
}

/* RFC 8314 §3: implicit TLS on 995 is preferred, so it is the default.
 */
static int
conf_get_transport(struct conf_parse *p, cfg_t *sec, cfg_t *defs,
    struct conf_account *a)
{
	cfg_t *tsrc, *psrc, *asrc;

	psrc = conf_source(sec, defs, "port");
	tsrc = conf_source(sec, defs, "tls");
	if (psrc != NULL)
		a->port = (unsigned)cfg_getint(psrc, "port");
	if (tsrc != NULL)
		a->tls = (enum fetch_tls)cfg_getint(tsrc, "tls");
	else if (psrc == NULL || a->port == CONF_PORT_TLS)
		a->tls = FETCH_TLS_ON;
	else
		a->tls = FETCH_TLS_STARTTLS;
	if (psrc == NULL)
		a->port =
		    a->tls == FETCH_TLS_ON ? CONF_PORT_TLS : CONF_PORT_PLAIN;
	if ((asrc = conf_source(sec, defs, "allow_plaintext")) != NULL)
		a->allow_plaintext = cfg_getbool(asrc, "allow_plaintext");
	if (a->tls == FETCH_TLS_OFF && !a->allow_plaintext) {
		conf_fail_at(p, conf_key_line(p, tsrc, "tls"),
		    "account \"%s\": tls = off sends the password in the "
		    "clear; set allow_plaintext = yes to allow it",
		    a->name);
		return -1;
	}
	return 0;
}

/* Login and TLS policy, each key inherited from defaults on its own. */
static int
conf_get_policy(struct conf_parse *p, cfg_t *sec, cfg_t *defs,
    struct conf_account *a)
{
	cfg_t *src;

	if ((src = conf_source(sec, defs, "auth")) != NULL)
		a->auth = (enum pop3_auth)cfg_getint(src, "auth");
	if ((src = conf_source(sec, defs, "tls_min_version")) != NULL)
		a->tls_min_version =
		    (enum transport_tls_min)cfg_getint(src, "tls_min_version");
	if (conf_get_str(p, a, sec, defs, "tls_fingerprint", false,
	        &a->tls_fingerprint) == -1 ||
	    conf_get_str(p, a, sec, defs, "tls_priority", false,
	        &a->tls_priority) == -1 ||
	    conf_get_path(p, a, sec, defs, "tls_cert_file", false,
	        &a->tls_cert_file) == -1 ||
	    conf_get_path(p, a, sec, defs, "tls_key_file", false,
	        &a->tls_key_file) == -1)
		return -1;
	if (a->tls_key_file != NULL && a->tls_cert_file == NULL) {
		src = conf_source(sec, defs, "tls_key_file");
		conf_fail_at(p, conf_key_line(p, src, "tls_key_file"),
		    "account \"%s\": tls_key_file without tls_cert_file",
		    a->name);
		return -1;
	}
	return 0;
}

/*
 * Does format, filled in with a sample date, make a Maildir++ folder
 * name once '/' becomes '.': non-empty components of printable
 * characters?  A format that names no date at all is allowed (every
 * message then goes to one folder), but not one that names nothing.
 */
static bool
conf_is_date_format(const char *format)
{
	struct tm tm = { .tm_year = 126,
		.tm_mon = 10,
		.tm_mday = 26,
		.tm_hour = 10,
		.tm_wday = 4,
		.tm_yday = 329 };
	char buf[256];
	size_t i, len;

	if (format[0] == '\0' || format[0] == '/' || format[0] == '.' ||
	    strlen(format) > 64)
		return false;
		/* The format is the user's, by design: that is what the key is.
		 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	len = strftime(buf, sizeof(buf), format, &tm);
#pragma GCC diagnostic pop
	if (len == 0 || len > 128 || buf[len - 1] == '/' || buf[len - 1] == '.')
		return false;
	for (i = 0; i < len; i++) {
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			return false;
		/* An empty component: "//", "/.", "./" or "..". */
		if ((buf[i] == '/' || buf[i] == '.') &&
		    (i == 0 || buf[i - 1] == '/' || buf[i - 1] == '.'))
			return false;
	}
	return true;
}

/*
 * The line of whichever of two keys, each set (in sec or defs), was
 * written last: the one that makes the combination wrong.
 */
static struct conf_at
conf_later_line(struct conf_parse *p, cfg_t *sec, cfg_t *defs, const char *k1,
    const char *k2)
{
	struct conf_at l1 = conf_key_line(p, conf_source(sec, defs, k1), k1);
	struct conf_at l2 = conf_key_line(p, conf_source(sec, defs, k2), k2);

	return conf_is_after(l1, l2) ? l1 : l2;
}

/*
 * archive and folder_by_date.  An archive is never pruned from the
 * server: every key that deletes is refused with it, rather than one
 * silently overriding the other.
 */
static int
conf_get_archive(struct conf_parse *p, cfg_t *sec, cfg_t *defs,
    struct conf_account *a)
{
	const char *what = NULL;
	char val[24];
	cfg_t *src;

	if ((src = conf_source(sec, defs, "folder_by_date")) != NULL) {
		if (!conf_is_date_format(cfg_getstr(src, "folder_by_date"))) {
			conf_fail_at(p, conf_key_line(p, src, "folder_by_date"),
			    "account \"%s\": folder_by_date must be a "
			    "strftime format such as \"%%Y/%%m\" that makes a "
			    "folder name (no empty part, no leading '/' or "
			    "'.')",
			    a->name);
			return -1;
		}
		a->folder_by_date = xstrdup(cfg_getstr(src, "folder_by_date"));
	}
	if ((src = conf_source(sec, defs, "archive")) != NULL)
		a->archive = cfg_getbool(src, "archive");
	if (!a->archive)
		return 0;
	if (a->delete_mode != PLAN_KEEP)
		what = "delete";
	else if (a->has_keep_days)
		what = "keep_days";
	else if (a->delete_when_gone)
		what = "delete_when_gone_locally";
	if (what == NULL)
		return 0;
	if (a->delete_mode != PLAN_KEEP)
		(void)snprintf(val, sizeof(val), "%s",
		    plan_policy_name(a->delete_mode));
	else if (a->has_keep_days)
		(void)snprintf(val, sizeof(val), "%u", a->keep_days);
	else
		(void)snprintf(val, sizeof(val), "yes");
	conf_fail_at(p, conf_later_line(p, sec, defs, "archive", what),
	    "account \"%s\": archive = yes never deletes on the server, so "
	    "%s = %s cannot go with it (archive implies delete = keep)",
	    a->name, what, val);
	return -1;
}

static int
conf_account(struct conf_parse *p, cfg_t *sec, cfg_t *defs,
    struct conf_account *a)
{
	char label[CONF_NAME_MAX + 16];
	cfg_t *src;

	a->name = xstrdup(cfg_title(sec) != NULL ? cfg_title(sec) : "");
	a->line = (unsigned)conf_section_line(p, sec).line;
	if (conf_check_name(p, a->name, (int)a->line) == -1)
		return -1;
	(void)snprintf(label, sizeof(label), "account \"%s\"", a->name);
	if (conf_check_section(p, sec, label) == -1)
		return -1;
	if (conf_get_str(p, a, sec, defs, "host", true, &a->host) == -1 ||
	    conf_get_str(p, a, sec, defs, "user", true, &a->user) == -1 ||
	    conf_get_path(p, a, sec, defs, "maildir", true, &a->maildir) ==
	        -1 ||
	    conf_get_path(p, a, sec, defs, "ca_file", false, &a->ca_file) ==
	        -1 ||
	    conf_get_transport(p, sec, defs, a) == -1 ||
	    conf_get_policy(p, sec, defs, a) == -1)
		return -1;
	conf_get_secret(sec, defs, a);
	a->delete_mode = PLAN_KEEP;
	if ((src = conf_source(sec, defs, "delete")) != NULL)
		a->delete_mode = (enum plan_policy)cfg_getint(src, "delete");
	a->timeout = CONF_TIMEOUT_DEFAULT;
	if ((src = conf_source(sec, defs, "timeout")) != NULL)
		a->timeout = (unsigned)cfg_getint(src, "timeout");
	a->checkpoint = 0;
	if ((src = conf_source(sec, defs, "checkpoint")) != NULL)
		a->checkpoint = (unsigned)cfg_getint(src, "checkpoint");
	a->low_speed_limit = CONF_LOW_SPEED_DEFAULT;
	if ((src = conf_source(sec, defs, "low_speed_limit")) != NULL)
		a->low_speed_limit =
		    (unsigned)cfg_getint(src, "low_speed_limit");
	a->time_limit = 0;
	if ((src = conf_source(sec, defs, "time_limit")) != NULL)
		a->time_limit = (unsigned)cfg_getint(src, "time_limit");
	if ((src = conf_source(sec, defs, "keep_days")) != NULL) {
		if (a->delete_mode != PLAN_KEEP) {
			conf_fail_at(p, conf_key_line(p, src, "keep_days"),
			    "account \"%s\": keep_days goes with delete = keep",
			    a->name);
			return -1;
		}
		a->has_keep_days = true;
		a->keep_days = (unsigned)cfg_getint(src, "keep_days");
	}
	if ((src = conf_source(sec, defs, "delete_when_gone_locally")) != NULL)
		a->delete_when_gone =
		    cfg_getbool(src, "delete_when_gone_locally");
	if (a->delete_when_gone && a->delete_mode != PLAN_KEEP) {
		conf_fail_at(p,
		    conf_key_line(p, src, "delete_when_gone_locally"),
		    "account \"%s\": delete_when_gone_locally goes with "
		    "delete = keep",
		    a->name);
		return -1;
	}
	a->gone_limit = CONF_GONE_LIMIT_DEFAULT;
	if ((src = conf_source(sec, defs, "gone_limit")) != NULL)
		a->gone_limit = (unsigned)cfg_getint(src, "gone_limit");
	a->uidl_fallback = CONF_FALLBACK_NONE;
	if ((src = conf_source(sec, defs, "uidl_fallback")) != NULL)
		a->uidl_fallback =
		    (enum conf_fallback)cfg_getint(src, "uidl_fallback");
	return conf_get_archive(p, sec, defs, a);
}

static const struct {
	const char *key;
	enum conf_cond_kind kind;
	int nargs; /* values per condition: header and argument, or one
	            */
} conf_cond_keys[] = {
	{ "header_matches", CONF_COND_MATCHES, 2 },
	{ "header_contains", CONF_COND_CONTAINS, 2 },
	{ "address", CONF_COND_ADDRESS, 2 },
	{ "domain", CONF_COND_DOMAIN, 2 },
	{ "larger", CONF_COND_LARGER, 0 },
	{ "smaller", CONF_COND_SMALLER, 0 },
	{ "exists", CONF_COND_EXISTS, 1 },
	{ "missing", CONF_COND_MISSING, 1 },
};

static void
conf_cond_push(struct conf_cond **v, size_t *n, enum conf_cond_kind kind,
    const char *header, const char *arg, int line)
{
	struct conf_cond *c;

	*v = xreallocarray(*v, *n + 1, sizeof(**v));
	c = &(*v)[(*n)++];
	c->kind = kind;
	c->header = header != NULL ? xstrdup(header) : NULL;
	c->arg = arg != NULL ? xstrdup(arg) : NULL;
	c->line = (unsigned)line;
}

/*
 * The conditions of sec into *v: "header_matches = {NAME, REGEX, ...}"
 * and the like take pairs, "exists = {NAME, ...}" names, "larger =
 * SIZE" one value.
 */
static int
conf_conds(struct conf_parse *p, cfg_t *sec, const char *what,
    struct conf_cond **v, size_t *n)
{
	size_t k;
	unsigned i, cnt;
	int line;

	for (k = 0; k < CONF_N_OF(conf_cond_keys); k++) {
		const char *key = conf_cond_keys[k].key;

		if ((cnt = cfg_size(sec, key)) == 0)
			continue;
		line = conf_key_line(p, sec, key).line;
		if (conf_cond_keys[k].nargs == 0) {
			conf_cond_push(v, n, conf_cond_keys[k].kind, NULL,
			    cfg_getstr(sec, key), line);
			continue;
		}
		if (cnt % (unsigned)conf_cond_keys[k].nargs != 0) {
			conf_fail(p, line,
			    "%s: %s takes pairs: a header name, then what to "
			    "look for",
			    what, key);
			return -1;
		}
		for (i = 0; i < cnt; i += (unsigned)conf_cond_keys[k].nargs)
			conf_cond_push(v, n, conf_cond_keys[k].kind,
			    cfg_getnstr(sec, key, i),
			    conf_cond_keys[k].nargs == 2
			        ? cfg_getnstr(sec, key, i + 1)
			        : NULL,
			    line);
	}
	return 0;
}

static int
conf_rule_action(struct conf_parse *p, cfg_t *sec, const char *what,
    struct conf_rule *r)
{
	unsigned i, nact = 0;

	r->action = CONF_ACTION_NONE;
	if (cfg_size(sec, "folder") > 0) {
		r->action = CONF_ACTION_FOLDER;
		r->folder = xstrdup(cfg_getstr(sec, "folder"));
		nact++;
	}
	if (cfg_size(sec, "discard") > 0 && cfg_getbool(sec, "discard")) {
		r->action = CONF_ACTION_DISCARD;
		nact++;
	}
	if (cfg_size(sec, "skip") > 0 && cfg_getbool(sec, "skip")) {
		r->action = CONF_ACTION_SKIP;
		nact++;
	}
	if (nact > 1) {
		conf_fail(p, (int)r->line,
		    "%s: folder, discard and skip exclude each other", what);
		return -1;
	}
	for (i = 0; i < cfg_size(sec, "flag"); i++) {
		const char *f = cfg_getnstr(sec, "flag", i);

		if (strcasecmp(f, "seen") == 0)
			r->is_seen = true;
		else if (strcasecmp(f, "flagged") == 0)
			r->is_flagged = true;
		else {
			conf_fail_at(p, conf_key_line(p, sec, "flag"),
			    "%s: flag must be seen or flagged", what);
			return -1;
		}
	}
	r->is_continue =
	    cfg_size(sec, "continue") > 0 && cfg_getbool(sec, "continue");
	return 0;
}

static int
conf_rule(struct conf_parse *p, cfg_t *sec, struct conf_rule *r)
{
	char what[CONF_NAME_MAX + 16];

	r->name = xstrdup(cfg_title(sec) != NULL ? cfg_title(sec) : "");
	r->line = (unsigned)conf_section_line(p, sec).line;
	(void)snprintf(what, sizeof(what), "rule \"%.*s\"", CONF_NAME_MAX,
	    r->name);
	r->is_any = cfg_size(sec, "any") > 0 && cfg_getbool(sec, "any");
	if (conf_conds(p, sec, what, &r->conds, &r->nconds) == -1)
		return -1;
	if (cfg_size(sec, "not") > 0 &&
	    conf_conds(p, cfg_getsec(sec, "not"), what, &r->nots, &r->nnots) ==
	        -1)
		return -1;
	return conf_rule_action(p, sec, what, r);
}

/* The account's rules: those it names, in order, else all of them. */
static int
conf_account_rules(struct conf_parse *p, cfg_t *sec, cfg_t *defs,
    const struct conf *c, struct conf_account *a)
{
	cfg_t *src;
	unsigned i, j;

	if ((src = conf_source(sec, defs, "rules")) == NULL) {
		a->rules =
		    xcalloc(c->nrules == 0 ? 1 : c->nrules, sizeof(*a->rules));
		for (i = 0; i < c->nrules; i++)
			a->rules[a->nrules++] = i;
		return 0;
	}
	a->rules = xcalloc(cfg_size(src, "rules") + 1, sizeof(*a->rules));
	for (i = 0; i < cfg_size(src, "rules"); i++) {
		const char *name = cfg_getnstr(src, "rules", i);

		for (j = 0; j < c->nrules; j++)
			if (strcmp(c->rules[j].name, name) == 0)
				break;
		if (j == c->nrules) {
			conf_fail_at(p, conf_key_line(p, src, "rules"),
			    "account \"%s\": no rule called \"%.64s\"", a->name,
			    name);
			return -1;
		}
		a->rules[a->nrules++] = j;
	}
	return 0;
}

/*
 * The accounts of cfg, the file in hand, appended to c.  libconfuse
 * refuses a name given twice in one file; one given in two files is
 * refused here, with both places.
 */
static int
conf_build_accounts(struct conf_parse *p, cfg_t *cfg, cfg_t *defs,
    struct conf *c)
{
	const struct conf_at *first;
	struct conf_at *at;
	unsigned i, n = cfg_size(cfg, "account");

	if (c->naccounts + n >= p->accounts_cap) {
		/* Doubled: one file after another stays linear. */
		p->accounts_cap = (c->naccounts + n + 1) * 2;
		c->accounts = xreallocarray(c->accounts, p->accounts_cap,
		    sizeof(*c->accounts));
	}
	for (i = 0; i < n; i++) {
		cfg_t *sec = cfg_getnsec(cfg, "account", i);
		struct conf_account *a = &c->accounts[c->naccounts];
		const char *name = cfg_title(sec);

		if (name != NULL &&
		    (first = g_hash_table_lookup(p->names, name)) != NULL) {
			conf_fail_at(p, conf_section_line(p, sec),
			    "account \"%.*s\" is defined twice: first at "
			    "%s:%d",
			    CONF_NAME_MAX, name, first->path, first->line);
			return -1;
		}
		/* Counted first, so that conf_free() sees it. */
		memset(a, 0, sizeof(*a));
		c->naccounts++;
		if (conf_account(p, sec, defs, a) == -1 ||
		    conf_account_rules(p, sec, defs, c, a) == -1)
			return -1;
		at = xmalloc(sizeof(*at));
		*at = conf_section_line(p, sec);
		g_hash_table_insert(p->names, a->name, at);
	}
	return 0;
}

/* The main file's part: the rules, log and its own accounts. */
static struct conf *
conf_build(struct conf_parse *p, cfg_t *cfg, cfg_t **defs_out)
{
	struct conf *c;
	cfg_t *defs = NULL;
	unsigned i, nr;

	if (cfg_size(cfg, "defaults") > 0) {
		defs = cfg_getsec(cfg, "defaults");
		if (conf_check_section(p, defs, "defaults") == -1)
			return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->path = xstrdup(p->path);
	nr = cfg_size(cfg, "rule");
	c->rules = xcalloc(nr == 0 ? 1 : nr, sizeof(*c->rules));
	for (i = 0; i < nr; i++) {
		/* Counted first, so that conf_free() sees a partial
		 * one. */
		c->nrules++;
		if (conf_rule(p, cfg_getnsec(cfg, "rule", i), &c->rules[i]) ==
		    -1)
			goto fail;
	}
	if (cfg_size(cfg, "log") > 0)
		c->log = (enum conf_log)cfg_getint(cfg, "log");
	if (conf_build_accounts(p, cfg, defs, c) == -1)
		goto fail;
	*defs_out = defs;
	return c;
fail:
	conf_free(c);
	return NULL;
}

static bool
conf_has_password(cfg_t *cfg)
{
	unsigned i;

	if (cfg_size(cfg, "defaults") > 0 &&
	    cfg_size(cfg_getsec(cfg, "defaults"), "password") > 0)
		return true;
	for (i = 0; i < cfg_size(cfg, "account"); i++)
		if (cfg_size(cfg_getnsec(cfg, "account", i), "password") > 0)
			return true;
	return false;
}

/* libconfuse frees its copies of the passwords without wiping them. */
static void
conf_wipe_section(cfg_t *sec)
{
	char *s;

	if (cfg_size(sec, "password") > 0 &&
	    (s = cfg_getstr(sec, "password")) != NULL)
		explicit_bzero(s, strlen(s));
}

static void
conf_cfg_free(cfg_t *cfg)
{
	unsigned i;

	if (cfg == NULL)
		return;
	if (cfg_size(cfg, "defaults") > 0)
		conf_wipe_section(cfg_getsec(cfg, "defaults"));
	for (i = 0; i < cfg_size(cfg, "account"); i++)
		conf_wipe_section(cfg_getnsec(cfg, "account", i));
	(void)cfg_free(cfg);
}

/*
 * Open path and check it before anything is read; a password is refused
 * only once we know there is one, after the parse.
 */
static int
conf_open(const char *path, struct stat *st, struct err *err)
{
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		err_set(err, ERR_CONFIG, "%s", path);
		return -1;
	}
	if (fstat(fd, st) == -1) {
		err_set(err, ERR_CONFIG, "%s", path);
		goto fail;
	}
	if (S_ISDIR(st->st_mode)) {
		errno = EISDIR;
		err_set(err, ERR_CONFIG, "%s", path);
		goto fail;
	}
	/* Whoever can edit it can make us run password_command. */
	if (st->st_mode & S_IWOTH) {
		err_setx(err, ERR_CONFIG,
		    "%s: is writable by anyone (chmod o-w %s)", path, path);
		goto fail;
	}
	return fd;
fail:
	(void)close(fd);
	return -1;
}

/*
 * The whole file, NUL-terminated, in *buf_out (wiped by the caller).
 * Read here rather than by libconfuse, whose lexer exits the process
 * on a read error.  Growing copies are wiped: the text may hold a
 * password.
 */
static int
conf_read(int fd, const char *path, char **buf_out, size_t *len_out,
    struct err *err)
{
	size_t cap = 4096, len = 0;
	char *buf, *bigger;
	ssize_t n;

	buf = xmalloc(cap);
	for (;;) {
		if (len + 1 == cap) {
			if (cap >= CONF_FILE_MAX) {
				err_setx(err, ERR_CONFIG,
				    "%s: larger than %d bytes", path,
				    CONF_FILE_MAX);
				goto fail;
			}
			bigger = xmalloc(cap * 2);
			memcpy(bigger, buf, len);
			freezero(buf, cap);
			buf = bigger;
			cap *= 2;
		}
		if ((n = read(fd, buf + len, cap - 1 - len)) == -1) {
			if (errno == EINTR)
				continue;
			err_set(err, ERR_CONFIG, "%s", path);
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*buf_out = buf;
	*len_out = len;
	return 0;
fail:
	freezero(buf, cap);
	return -1;
}

static bool
conf_is_word_char(char ch)
{
	return ch != '\0' && strchr(" \t\r\n#\"'={}()+,*", ch) == NULL;
}

/*
 * Blank out comments (keeping their newlines) before libconfuse sees
 * them: libconfuse 3.3 counts each comment's newline more than once, so
 * every line number after a comment would be wrong.  Strings are left
 * alone; '#' always starts a comment outside them, "//" and "/ *" only
 * where a word could start.  A NUL byte is refused: libconfuse would
 * silently stop reading there.
 */
static int
conf_strip_comments(struct conf_parse *p, char *buf, size_t len)
{
	enum { CODE, WORD, DQUOTE, SQUOTE, LINE, BLOCK } st = CODE;
	int line = 1;
	size_t i;

	for (i = 0; i < len; i++) {
		char ch = buf[i], next = i + 1 < len ? buf[i + 1] : '\0';

		if (ch == '\0') {
			conf_fail(p, line, "holds a NUL byte");
			return -1;
		}
		if (ch == '\n')
			line++;
		switch (st) {
		case CODE:
		case WORD:
			if (ch == '#' ||
			    (st == CODE && ch == '/' && next == '/')) {
				st = LINE;
				buf[i] = ' ';
			} else if (st == CODE && ch == '/' && next == '*') {
				st = BLOCK;
				buf[i] = buf[i + 1] = ' ';
				i++;
			} else if (ch == '"')
				st = DQUOTE;
			else if (ch == '\'')
				st = SQUOTE;
			else
				st = conf_is_word_char(ch) ? WORD : CODE;
			break;
		case DQUOTE:
		case SQUOTE:
			/* Both kinds take a backslash escape. */
			if (ch == '\\' && next != '\0') {
				if (next == '\n')
					line++;
				i++;
			} else if (ch == (st == DQUOTE ? '"' : '\''))
				st = CODE;
			break;
		case LINE:
			if (ch == '\n')
				st = CODE;
			else
				buf[i] = ' ';
			break;
		case BLOCK:
			if (ch == '*' && next == '/') {
				buf[i] = buf[i + 1] = ' ';
				i++;
				st = CODE;
			} else if (ch != '\n')
				buf[i] = ' ';
			break;
		}
	}
	return 0;
}

static int
conf_parse_text(struct conf_parse *p, cfg_t *cfg, char *buf, size_t len)
{
	FILE *fp;
	int rc;

	if (conf_strip_comments(p, buf, len) == -1)
		return -1;
	if (len == 0)
		return 0;
	p->text = buf;
	p->len = len;
	if ((fp = fmemopen(buf, len, "r")) == NULL)
		fatal("fmemopen");
	/* Unbuffered, so that no copy of the text is left behind. */
	(void)setvbuf(fp, NULL, _IONBF, 0);
	conf_parsing = p;
	rc = cfg_parse_fp(cfg, fp);
	conf_parsing = NULL;
	(void)fclose(fp);
	if (rc != CFG_SUCCESS) {
		conf_fail(p, 0, "cannot parse");
		return -1;
	}
	return 0;
}

/*
 * Read and parse path as file number p->paths->len, the file in hand
 * from now on.  Returns its cfg_t (caller owns, conf_cfg_free()), or
 * NULL.
 */
static cfg_t *
conf_load_file(struct conf_parse *p, const char *path)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	cfg_t *cfg;
	int fd, rc = -1;

	p->file = p->paths->len;
	g_ptr_array_add(p->paths, xstrdup(path));
	p->path = g_ptr_array_index(p->paths, p->file);
	if ((fd = conf_open(p->path, &st, p->err)) == -1) {
		p->has_failed = true;
		return NULL;
	}
	if (conf_read(fd, p->path, &buf, &len, p->err) == -1) {
		p->has_failed = true;
		(void)close(fd);
		return NULL;
	}
	(void)close(fd);
	cfg = conf_schema();
	p->root = cfg;
	if (conf_parse_text(p, cfg, buf, len) == 0) {
		if (conf_has_password(cfg) &&
		    (st.st_mode & (S_IRWXG | S_IRWXO)))
			conf_fail(p, 0,
			    "holds a password but is readable by others "
			    "(chmod 600 %s)",
			    p->path);
		else
			rc = 0;
	}
	p->text = NULL;
	p->len = 0;
	freezero(buf, len);
	if (rc == -1) {
		conf_cfg_free(cfg);
		return NULL;
	}
	return cfg;
}

/* An included file holds account sections only. */
static int
conf_check_included(struct conf_parse *p, cfg_t *cfg)
{
	static const char *const keys[] = { "include", "log", "defaults",
		"rule" };
	const char *main_path = g_ptr_array_index(p->paths, 0);
	struct conf_at at;
	size_t i;

	for (i = 0; i < CONF_N_OF(keys); i++) {
		if (cfg_size(cfg, keys[i]) == 0)
			continue;
		if (cfg_getopt(cfg, keys[i])->type == CFGT_SEC)
			at = conf_section_line(p, cfg_getnsec(cfg, keys[i], 0));
		else
			at = conf_key_line(p, cfg, keys[i]);
		conf_fail_at(p, at,
		    "%s belongs in %s: an included file holds account "
		    "sections only",
		    keys[i], main_path);
		return -1;
	}
	return 0;
}

/* The directory that include names; the main file's own if relative. */
static char *
conf_include_dir(struct conf_parse *p, cfg_t *cfg, struct conf_at at)
{
	const char *raw = cfg_getstr(cfg, "include");
	char *full, *base, *dir;

	if (raw[0] == '\0') {
		conf_fail_at(p, at, "include is empty");
		return NULL;
	}
	if ((full = str_expand_home(raw)) == NULL) {
		conf_fail_at(p, at,
		    "include: cannot expand \"~\": HOME is not set");
		return NULL;
	}
	if (full[0] == '/' || strchr(p->path, '/') == NULL)
		return full;
	base = g_path_get_dirname(p->path);
	dir = xasprintf("%s/%s", base, full);
	g_free(base);
	free(full);
	return dir;
}

static gint
conf_name_cmp(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The names of dir's *.conf files, in byte order, or NULL (errno set). */
static GPtrArray *
conf_include_names(const char *dir)
{
	GPtrArray *names;
	struct dirent *de;
	size_t len;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return NULL;
	names = g_ptr_array_new_with_free_func(free);
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		/* Hidden files, editors' backups (x.conf~, .x.conf.swp) and
		 * dpkg's leftovers (x.conf.dpkg-old) are not read. */
		if (de->d_name[0] != '.' && len > 5 &&
		    strcmp(de->d_name + len - 5, ".conf") == 0)
			g_ptr_array_add(names, xstrdup(de->d_name));
		errno = 0;
	}
	if (errno != 0) {
		int saved = errno;

		(void)closedir(d);
		g_ptr_array_free(names, TRUE);
		errno = saved;
		return NULL;
	}
	(void)closedir(d);
	g_ptr_array_sort(names, conf_name_cmp);
	return names;
}

/*
 * One included file: read, checked, its accounts built and appended to
 * c, then let go, so that thousands of files need no more memory than
 * their accounts.
 */
static int
conf_include_file(struct conf_parse *p, const char *path, cfg_t *defs,
    struct conf *c)
{
	cfg_t *cfg;
	int rc = -1;

	p->file_marks =
	    g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, free);
	if ((cfg = conf_load_file(p, path)) != NULL &&
	    conf_check_included(p, cfg) == 0 &&
	    conf_build_accounts(p, cfg, defs, c) == 0)
		rc = 0;
	conf_cfg_free(cfg);
	g_hash_table_destroy(p->file_marks);
	p->file_marks = NULL;
	return rc;
}

/* An included directory or file must be the user's own, or root's. */
static int
conf_include_owned(struct conf_parse *p, struct conf_at at, const char *path,
    const struct stat *st)
{
	if (st->st_uid == geteuid() || st->st_uid == 0)
		return 0;
	conf_fail_at(p, at, "include: %s: belongs to another user", path);
	return -1;
}

/*
 * A file of the included directory: a regular one (a FIFO would block
 * the read), the user's own.
 */
static int
conf_include_checked(struct conf_parse *p, struct conf_at at, const char *path)
{
	struct stat st;

	if (stat(path, &st) == -1) {
		conf_fail_at(p, at, "include: %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		conf_fail_at(p, at, "include: %s: not a regular file", path);
		return -1;
	}
	return conf_include_owned(p, at, path, &st);
}

/*
 * include = "DIR": every DIR/ *.conf, in name order, each parsed on its
 * own, after the main file.  libconfuse's own include (cfg_include) is
 * not used: it reads one file, by itself, around the checks conf_read()
 * and conf_open() make, and names no directory.
 */
static int
conf_include(struct conf_parse *p, cfg_t *cfg, cfg_t *defs, struct conf *c)
{
	GPtrArray *names = NULL;
	struct conf_at at;
	struct stat st;
	char *dir, *path;
	unsigned i;
	int rc = -1;

	if (cfg_size(cfg, "include") == 0)
		return 0;
	at = conf_key_line(p, cfg, "include");
	if ((dir = conf_include_dir(p, cfg, at)) == NULL)
		return -1;
	if (stat(dir, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			names = conf_include_names(dir);
		else
			errno = ENOTDIR;
	}
	if (names == NULL) {
		conf_fail_at(p, at, "include: %s: %s", dir, strerror(errno));
		goto out;
	}
	/*
	 * Whoever can add a file there can make us run password_command:
	 * a sticky bit does not stop anyone adding one.
	 */
	if (st.st_mode & S_IWOTH) {
		conf_fail_at(p, at,
		    "include: %s: is writable by anyone (chmod o-w %s)", dir,
		    dir);
		goto out;
	}
	if (conf_include_owned(p, at, dir, &st) == -1)
		goto out;
	for (i = 0; i < names->len; i++) {
		path = xasprintf("%s/%s", dir,
		    (const char *)g_ptr_array_index(names, i));
		if (conf_include_checked(p, at, path) == -1 ||
		    conf_include_file(p, path, defs, c) == -1) {
			free(path);
			goto out;
		}
		free(path);
	}
	rc = 0;
out:
	if (names != NULL)
		g_ptr_array_free(names, TRUE);
	free(dir);
	return rc;
}

struct conf *
conf_load(const char *path, struct err *err)
{
	struct conf_parse p;
	struct conf *c = NULL;
	cfg_t *cfg, *defs = NULL;
	bool is_ok = false;

	memset(&p, 0, sizeof(p));
	p.err = err;
	p.marks =
	    g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, free);
	p.paths = g_ptr_array_new_with_free_func(free);
	p.names = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, free);
	if ((cfg = conf_load_file(&p, path)) != NULL &&
	    (c = conf_build(&p, cfg, &defs)) != NULL &&
	    conf_include(&p, cfg, defs, c) == 0 && c->naccounts > 0)
		is_ok = true;
	else if (c != NULL && !p.has_failed) {
		p.file = 0;
		p.path = g_ptr_array_index(p.paths, 0);
		conf_fail(&p, 0, "no account section%s",
		    cfg_size(cfg, "include") > 0
		        ? ", here nor in the files included"
		        : "");
	}
	if (!is_ok) {
		conf_free(c);
		c = NULL;
	}
	conf_cfg_free(cfg);
	g_hash_table_destroy(p.names);
	g_ptr_array_free(p.paths, TRUE);
	g_hash_table_destroy(p.marks);
	return c;
}

static void
conf_conds_free(struct conf_cond *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].header);
		free(v[i].arg);
	}
	free(v);
}

static void
conf_rule_free(struct conf_rule *r)
{
	free(r->name);
	conf_conds_free(r->conds, r->nconds);
	conf_conds_free(r->nots, r->nnots);
	free(r->folder);
}

void
conf_free(struct conf *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->naccounts; i++) {
		struct conf_account *a = &c->accounts[i];

		free(a->name);
		free(a->host);
		free(a->ca_file);
		free(a->tls_fingerprint);
		free(a->tls_priority);
		free(a->tls_cert_file);
		free(a->tls_key_file);
		free(a->user);
		xfree_secret(a->password);
		xfree_secret(a->password_command);
		free(a->maildir);
		free(a->folder_by_date);
		free(a->rules);
	}
	free(c->accounts);
	for (i = 0; i < c->nrules; i++)
		conf_rule_free(&c->rules[i]);
	free(c->rules);
	free(c->path);
	free(c);
}

const struct conf_account *
conf_find(const struct conf *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->naccounts; i++)
		if (strcmp(c->accounts[i].name, name) == 0)
			return &c->accounts[i];
	return NULL;
}

char *
conf_default_path(void)
{
	const char *dir;

	/* XDG Base Directory: a relative value is to be ignored. */
	if ((dir = getenv("XDG_CONFIG_HOME")) != NULL && dir[0] == '/')
		return xasprintf("%s/popfetch/config", dir);
	if ((dir = getenv("HOME")) != NULL && dir[0] != '\0')
		return xasprintf("%s/.config/popfetch/config", dir);
	return NULL;
}

const char *
conf_tls_name(enum fetch_tls tls)
{
	if ((size_t)tls >= sizeof(conf_tls_names) / sizeof(conf_tls_names[0]))
		return "?";
	return conf_tls_names[tls];
}

const char *
conf_tls_min_name(enum transport_tls_min v)
{
	if ((size_t)v >= CONF_N_OF(conf_tls_min_names))
		return "?";
	return conf_tls_min_names[v];
}
