#ifndef POPFETCH_CONFIG_CONF_H
#define POPFETCH_CONFIG_CONF_H

#include <stdbool.h>
#include <stddef.h>

#include "fetch/fetch.h"
#include "util/err.h"

/*
 * The configuration file, read with libconfuse into plain structs; no
 * other module sees cfg_t.  Layout:
 *
 *	log = stderr | syslog                 optional; where lines go
 *	include = "DIR"                       optional; DIR/ *.conf add accounts
 *	defaults { KEY = VALUE ... }          optional; every account inherits
 *	account "NAME" { KEY = VALUE ... }    one or more, here or included
 *
 * Keys: host, port, tls (on|starttls|off), allow_plaintext (bool),
 * ca_file, user, password, password_command, maildir (~ expanded),
 * delete (keep|each|batch), timeout (seconds), checkpoint (deletions),
 * low_speed_limit (octets a second), time_limit (seconds),
 * uidl_fallback (none|message-id), keep_days (with delete = keep).
 * Login and TLS policy: auth (see enum pop3_auth), tls_fingerprint
 * ("SHA256:" and 64 hex digits), tls_min_version (TLS1.2|TLS1.3),
 * tls_priority (a GnuTLS priority string), tls_cert_file and
 * tls_key_file (~ expanded).  Archival: archive (bool; never delete, store
 * each message once) and folder_by_date (a strftime(3) format naming the
 * Maildir++ folder of each message from its Date).
 *
 * tls, delete, auth and tls_min_version are read into fetch/'s own enums
 * (enum fetch_tls, enum plan_policy, enum pop3_auth, enum
 * transport_tls_min), so that cli/ hands them on as they are.
 */

/* How to tell messages apart on a server without UIDL. */
enum conf_fallback {
	CONF_FALLBACK_NONE = 0,   /* not at all: keep is refused */
	CONF_FALLBACK_MESSAGE_ID, /* Message-ID and size, from TOP */
};

struct conf_account {
	char *name;
	char *host;
	unsigned port;      /* 995 for tls = on, else 110, unless set */
	enum fetch_tls tls; /* on if port is 995, else starttls, unless set */
	bool allow_plaintext;
	char *ca_file; /* NULL: system trust store */
	/* Login and TLS policy; all NULL/0 by default. */
	enum pop3_auth auth;                    /* default auto */
	char *tls_fingerprint;                  /* "SHA256:...", or NULL */
	enum transport_tls_min tls_min_version; /* default TLS 1.2 */
	char *tls_priority;                     /* NULL: GnuTLS's default */
	char *tls_cert_file;                    /* ~ expanded, or NULL */
	char *tls_key_file;                     /* ~ expanded; NULL: in cert */
	char *user;
	char *password;         /* NULL unless set; wiped by conf_free() */
	char *password_command; /* NULL unless set */
	char *maildir;          /* ~ expanded */
	enum plan_policy delete_mode; /* delete = keep|each|batch */
	unsigned timeout;             /* seconds, default 60 */
	unsigned checkpoint; /* QUIT and reconnect every N DELEs; 0: never */
	unsigned low_speed_limit; /* octets a second; default 100, 0: none */
	unsigned time_limit;      /* seconds for the account; 0: none */
	enum conf_fallback uidl_fallback;
	bool has_keep_days; /* keep_days set: delete after so many days */
	unsigned keep_days;
	bool delete_when_gone; /* delete_when_gone_locally = yes */
	unsigned gone_limit;   /* percent, default 50 */
	/*
	 * archive = yes: never delete on the server (delete is keep) and
	 * store every message once, whatever unique-id it comes under.
	 */
	bool archive;
	char *folder_by_date; /* a strftime(3) format, or NULL */
	size_t *rules; /* indexes into conf->rules, in the order to apply */
	size_t nrules;
	unsigned line; /* where the account section starts */
};

/*
 * Rules (top-level "rule" sections) decide where a message goes, from
 * its header and size; the filter module does the matching.  Values are
 * as written: regexes, sizes and folder names are checked when the
 * filter rules are made from them.
 */
enum conf_cond_kind {
	CONF_COND_MATCHES = 0, /* header_matches = {NAME, REGEX, ...} */
	CONF_COND_CONTAINS,    /* header_contains = {NAME, TEXT, ...} */
	CONF_COND_ADDRESS,     /* address = {NAME, ADDRESS, ...} */
	CONF_COND_DOMAIN,      /* domain = {NAME, DOMAIN, ...} */
	CONF_COND_LARGER,      /* larger = SIZE */
	CONF_COND_SMALLER,     /* smaller = SIZE */
	CONF_COND_EXISTS,      /* exists = {NAME, ...} */
	CONF_COND_MISSING,     /* missing = {NAME, ...} */
};

struct conf_cond {
	enum conf_cond_kind kind;
	char *header; /* NULL for sizes */
	char *arg;    /* NULL for exists/missing */
	unsigned line;
};

enum conf_action {
	CONF_ACTION_NONE = 0, /* flags only */
	CONF_ACTION_FOLDER,
	CONF_ACTION_DISCARD,
	CONF_ACTION_SKIP,
};

struct conf_rule {
	char *name;
	unsigned line;
	bool is_any;             /* any condition, not all of them */
	struct conf_cond *conds; /* all (or any) of these ... */
	size_t nconds;
	struct conf_cond *nots; /* ... and not all of these */
	size_t nnots;
	enum conf_action action;
	char *folder; /* CONF_ACTION_FOLDER */
	bool is_seen, is_flagged, is_continue;
};

/* The top-level log key. */
enum conf_log {
	CONF_LOG_STDERR = 0,
	CONF_LOG_SYSLOG,
};

struct conf {
	char *path;        /* the main file */
	enum conf_log log; /* default stderr */
	/* In file order: the main file's, then each included file's. */
	struct conf_account *accounts;
	size_t naccounts;
	struct conf_rule *rules; /* in file order */
	size_t nrules;
};

/*
 * Load and check path.  Every problem is ERR_CONFIG with a message
 * "path:line: what is wrong" (line omitted only when libconfuse gives
 * none).  Rules: at least one account; host, user and maildir required;
 * password and password_command exclusive; tls = off only with
 * allow_plaintext = yes; a file holding a password that is readable or
 * writable by group or others is refused; duplicate account names are
 * refused; tls_fingerprint must be well formed, and tls_key_file needs
 * tls_cert_file; archive = yes refuses delete = each|batch, keep_days
 * and delete_when_gone_locally = yes; folder_by_date must make a
 * Maildir++ folder name.  include = "DIR" (relative to path's
 * directory) reads every DIR/ *.conf, not hidden, in strcmp order, each
 * checked as path is and holding account sections only; a missing DIR
 * is an error, an empty one is not; an account named in two files is
 * refused with both file:line.  Returns a new conf (caller owns,
 * conf_free()), or NULL.
 */
struct conf *conf_load(const char *path, struct err *err);
void conf_free(struct conf *c);

/* The account called name, or NULL.  Borrowed from c. */
const struct conf_account *conf_find(const struct conf *c, const char *name);

/*
 * $XDG_CONFIG_HOME/popfetch/config, or ~/.config/popfetch/config.
 * Caller owns; NULL when neither variable is set.
 */
char *conf_default_path(void);

/*
 * "starttls", "TLS1.3": as the configuration spells them.  delete and
 * auth are spelt as fetch/ names them: plan_policy_name(),
 * pop3_auth_name().
 */
const char *conf_tls_name(enum fetch_tls tls);
const char *conf_tls_min_name(enum transport_tls_min v);

#endif
