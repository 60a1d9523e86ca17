#ifndef POPFETCH_FETCH_FETCH_H
#define POPFETCH_FETCH_FETCH_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fetch/plan.h"
#include "fetch/pop3.h"
#include "util/err.h"

/*
 * Where retrieved messages go.  fetch/ writes through this and never
 * sees the Maildir: cli/ wires it to maildir/, tests to memory.
 * Per message: begin, write..., then commit (or abort).  commit ends the
 * message: *name_out (caller owns, may be left NULL) names what will be
 * stored, but it need not be durable before sync.  sync makes every
 * message committed since the last sync durable, or (on failure) none of
 * them: messages are retrieved in batches and made durable together
 * (group commit).  sync NULL: commit returns only once durable.
 * begin's filing is what the rules decided of where msg goes (decide's
 * *filing_out, passed through untouched; borrowed for the call), or NULL
 * without rules: fetch/ never looks into it.
 */
struct sink_ops {
	int (*begin)(void *ctx, const struct pop3_msg *msg, const void *filing,
	    struct err *err);
	int (*write)(void *ctx, const char *data, size_t len, struct err *err);
	int (*commit)(void *ctx, char **name_out, struct err *err);
	void (*abort)(void *ctx);
	int (*sync)(void *ctx, struct err *err);
};

struct sink {
	const struct sink_ops *ops;
	void *ctx;
};

/*
 * What fetch/ knows of the messages delivered before, and where it
 * records the new ones.  fetch/ reads and writes it through this and
 * never sees the state's files: cli/ wires it to state/ (state_store()),
 * which keeps the UIDL store and its journal.  has: was the message with
 * this uid and size delivered before (or recorded as dealt with)?
 * first_seen: when it was first recorded (seconds since the epoch), or
 * -1.  file: the name it was stored as (borrowed, valid until the next
 * call), or NULL.  count: entries.  append: record it (file may be
 * NULL; hid, the message's header id, a digest of its Message-ID and
 * Date, 0 if unknown), not yet durable; sync: make every record
 * appended durable, and only then may the messages be deleted.
 * compact: forget every entry whose uid is not among the n in keep.
 * find_uid: the latest record of uid whatever its size: true with that
 * size and header id.
 */
struct store_ops {
	bool (*has)(void *ctx, const char *uid, uint64_t size);
	int64_t (*first_seen)(void *ctx, const char *uid, uint64_t size);
	const char *(*file)(void *ctx, const char *uid, uint64_t size);
	size_t (*count)(void *ctx);
	int (*append)(void *ctx, const char *uid, uint64_t size,
	    const char *file, uint64_t hid, int64_t now, struct err *err);
	int (*sync)(void *ctx, struct err *err);
	int (*compact)(void *ctx, const char *const *keep, size_t n,
	    struct err *err);
	bool (*find_uid)(void *ctx, const char *uid, uint64_t *size_out,
	    uint64_t *hid_out);
};

struct store {
	const struct store_ops *ops;
	void *ctx;
};

enum fetch_tls {
	FETCH_TLS_ON = 0,   /* implicit TLS (POP3S) */
	FETCH_TLS_STARTTLS, /* STLS, required */
	FETCH_TLS_OFF,      /* plain text; the config allowed it */
};

/* What rules say of a message. */
enum fetch_verdict {
	FETCH_STORE = 0, /* deliver it (where, the filing says) */
	FETCH_DISCARD,   /* do not store; delete if the strategy deletes */
	FETCH_SKIP,      /* leave it alone on the server */
};

struct fetch_stats {
	unsigned on_server; /* messages in the maildrop */
	unsigned new_msgs;  /* not delivered before */
	unsigned retrieved; /* delivered in this run */
	unsigned deleted;   /* DELE accepted (final after QUIT) */
	uint64_t bytes;     /* octets delivered */
	/*
	 * QUIT got +OK: deletions are final.  Not after a server closed
	 * the connection in place of that reply (no error: its deletions
	 * may or may not be made; the next run deletes what is left
	 * without RETR), and a checkpoint does not reconnect then.
	 */
	bool quit_ok;
	bool is_checkpoint; /* stopped at acct->checkpoint DELEs */
	long login_delay;   /* CAPA LOGIN-DELAY, seconds; -1 if none */
	long expire;        /* CAPA EXPIRE, days; -1 if none or NEVER */
	bool is_recovered;  /* acct->recover was asked of every message */
	unsigned skipped;   /* left on the server by a rule */
	unsigned discarded; /* not stored, by a rule */
	/*
	 * archive = yes: retrieved but not stored again, being in the
	 * archive already (counted in retrieved too).  Set by cli/, never
	 * by fetch/.
	 */
	unsigned duplicates;
};

/* One account's connection and policy; every pointer borrowed. */
struct fetch_account {
	const char *name;
	const char *host;
	const char *port;
	enum fetch_tls tls;
	const char *ca_file; /* NULL: system trust store */
	/*
	 * TLS policy: pin, minimum version, priority, client certificate
	 * (hostname, ca_file and verify are filled in from the above).
	 */
	struct transport_tls_opts tls_opts;
	const char *user;
	const char *password;
	enum pop3_auth auth;  /* POP3_AUTH_AUTO: the strongest offered */
	bool allow_plaintext; /* cleartext logins on plain connections */
	/*
	 * A fresh secret (caller owns) after a server refused an OAuth
	 * token (XOAUTH2, OAUTHBEARER), tried once; NULL: no retry.
	 */
	char *(*refresh_secret)(const void *arg, struct err *err);
	const void *refresh_arg;
	int timeout_ms;
	/*
	 * A server that trickles: fewer than low_speed_limit octets a
	 * second over timeout_ms of waiting is a stall (0: no limit).  And
	 * time_limit seconds for the whole account, reconnections included
	 * (0: none); deadline is when that ends (transport_clock_ms()), 0
	 * to count from the connection (fetch_account() sets it once).
	 */
	unsigned low_speed_limit;
	unsigned time_limit;
	int64_t deadline;
	enum plan_policy policy;
	unsigned checkpoint; /* QUIT and reconnect every N DELEs; 0: never */
	/*
	 * With PLAN_KEEP and has_keep_days: delete a message keep_days
	 * days after it was first seen (0: at once, as each would).
	 */
	bool has_keep_days;
	unsigned keep_days;
	/*
	 * delete_when_gone_locally (with PLAN_KEEP): is msg, stored before,
	 * gone from the Maildir?  Then it is deleted on the server.  Unless
	 * more than gone_limit percent of what was stored is gone at once
	 * (an unmounted disk, a wiped Maildir): then nothing is, and the
	 * run says why.  NULL: never asked.
	 */
	bool (*is_gone)(void *arg, const struct pop3_msg *msg);
	void *gone_arg;
	unsigned gone_limit;
	/*
	 * On a server without UIDL, identify messages by Message-ID and
	 * size, read with TOP n 0.
	 */
	bool has_msgid_fallback;
	/*
	 * Set (by a signal handler) to stop after the message in hand:
	 * nothing more is retrieved, and QUIT commits the DELEs sent so
	 * far.  May be NULL.
	 */
	const volatile sig_atomic_t *stop;
	/*
	 * After a run that was killed: is msg, which the state does not
	 * know, stored all the same (the run died between storing and
	 * recording it)?  Then *file_out (caller owns) names it, and it is
	 * recorded instead of fetched again.  The answer must hold for the
	 * message's uid and its LIST size (msg->size) both.  is_shared:
	 * another message in the listing has the same uid (with another
	 * size), so only a file whose name records that LIST size may
	 * answer; a guess from the file's own octets could take the other
	 * one's file.  Never asked for a message whose uid and size another
	 * message has (twins): those are fetched again.  NULL: no such
	 * check.
	 */
	bool (*recover)(void *arg, const struct pop3_msg *msg, bool is_shared,
	    char **file_out);
	void *recover_arg;
	/*
	 * Told how the run goes, for a progress display: after the plan
	 * (stats->on_server, stats->new_msgs known), as message data
	 * arrives (in_flight: octets of the message being retrieved), and
	 * after each message.  May be NULL.
	 */
	void (*progress)(void *arg, const struct fetch_stats *stats,
	    uint64_t in_flight);
	void *progress_arg;
	/*
	 * Rules: what to do with msg, from its header (len octets, up to
	 * the blank line after it, or less when it is huge or the message
	 * has none).  Asked before the download, from TOP n 0, when the
	 * server has TOP, and again as the message arrives; after a
	 * FETCH_STORE from the latter the sink's begin() for msg gets
	 * *filing_out (the decider's, valid until its next call; may be
	 * left NULL), which says where to file it.  Asked first with
	 * header NULL, from LIST's size alone, with or without TOP: 0 with
	 * *out when that settles it, 1 when the header is needed.  NULL:
	 * store every message.
	 */
	int (*decide)(void *arg, const struct pop3_msg *msg, const char *header,
	    size_t len, enum fetch_verdict *out, const void **filing_out,
	    struct err *err);
	void *decide_arg;
};

/*
 * How fetch/ reaches an account's server.  connect() returns a transport
 * (caller owns) connected to acct->host and acct->port, in the clear:
 * fetch/ starts TLS on it, at once or after STLS, as acct->tls says.
 * NULL with err set.  fetch_tcp connects over TCP (transport_connect());
 * tests hand in scripted peers.
 */
struct fetch_connector {
	struct transport *(*connect)(void *arg,
	    const struct fetch_account *acct, struct err *err);
	void *arg;
};

extern const struct fetch_connector fetch_tcp;

/*
 * Run the plan over a session already in TRANSACTION state: LIST, UIDL,
 * plan, then the steps in the order of acct->policy.  keep and batch: in
 * rounds of up to FETCH_BATCH messages, RETR each into sink (pipelined
 * when the server has PIPELINING) -> commit, then one sink sync ->
 * record them all in st -> one journal fsync -> the DELEs the plan has
 * for them.  each: per message, RETR -> commit -> sink sync -> record
 * (written, fsynced once before QUIT: see fetch_steps_each()) -> DELE.
 * Then QUIT.  No DELE is ever sent for a message that is not durably in
 * the Maildir (file and directory fsynced) and recorded.  On a message-scope
 * failure the message is left on the server and the run goes on; the
 * first error is returned in err (-1) after the rest has been done.
 */
int fetch_session(struct pop3_session *s, const struct fetch_account *acct,
    const struct store *st, const struct sink *sink, struct fetch_stats *stats,
    struct err *err);

/*
 * Connect (through conn), secure and log in as acct says, then
 * fetch_session(); with acct->checkpoint, again after every that many
 * DELEs, unless the server announces a LOGIN-DELAY, lists again what an
 * earlier session deleted (it ignores DELE), or a session got nowhere:
 * then that session is the last.  With FETCH_TLS_STARTTLS a server
 * without STLS is refused before any credential is sent.  stats->deleted
 * counts only the deletions that a QUIT made final and no later session
 * found still listed.
 */
int fetch_account(const struct fetch_account *acct,
    const struct fetch_connector *conn, const struct store *st,
    const struct sink *sink, struct fetch_stats *stats, struct err *err);

/*
 * Log in (through conn) as acct says and list the maildrop (LIST and
 * UIDL), changing nothing.  *msgs_out (caller owns, free()) gets *n_out
 * entries.
 */
int fetch_listing(const struct fetch_account *acct,
    const struct fetch_connector *conn, struct pop3_msg **msgs_out,
    size_t *n_out, bool *has_uidl_out, struct err *err);

/*
 * What a run would do with one message, as fetch_preview() tells it;
 * every pointer borrowed for the call.
 */
struct fetch_plan_msg {
	const struct pop3_msg *msg;
	/* Its header, from TOP n 0; NULL when the server would not give it. */
	const char *header;
	size_t len;
	bool is_seen;    /* delivered before: not retrieved again */
	bool is_retr;    /* the run retrieves it */
	bool is_dele;    /* and deletes it (once it is stored, if retrieved) */
	bool is_expired; /* keep_days: its days on the server are over */
	bool is_gone;    /* delete_when_gone_locally: gone from the Maildir */
	bool is_twin;    /* another message has its uid and size */
	/*
	 * Stored by a run that was killed before recording it: acct->recover
	 * found it, and the run records it instead of fetching it (is_seen).
	 */
	bool is_recovered;
	/*
	 * With rules (acct->decide) and a header, for a message the plan
	 * would retrieve: the rules were asked, just before this call, and
	 * said verdict.  The run asks them before the download when the
	 * server has TOP; else as the message arrives, and then retrieves
	 * it whatever they say (is_retr).
	 */
	bool is_decided;
	enum fetch_verdict verdict;
};

typedef void fetch_preview_fn(void *arg, const struct fetch_plan_msg *pm);

/*
 * --dry-run: log in (through conn), list the maildrop and make the plan
 * a run would run over st, as fetch_session() makes it: what was
 * delivered before, what a killed run stored (acct->recover, which must
 * change nothing here: the messages it finds are not recorded), what
 * keep_days and delete_when_gone_locally make due, duplicate
 * unique-ids.  Then, in the maildrop's order, read each message's header
 * (TOP n 0), ask the rules about it as the run would, and tell each()
 * what the plan does with it.  *wire_out (caller owns; may be NULL) gets
 * the commands the run would send after LIST and UIDL, as
 * plan_describe() writes them.  Changes nothing on the server: LIST,
 * UIDL, TOP n 0, QUIT.  A failure the run would carry on after
 * (delete_when_gone_locally refused by gone_limit) is returned (-1) once
 * every message was told.
 */
int fetch_preview(const struct fetch_account *acct,
    const struct fetch_connector *conn, const struct store *st,
    fetch_preview_fn *each, void *arg, char **wire_out, struct err *err);

/*
 * --serverinfo: connect (through conn) and secure as acct says, read the
 * greeting and CAPA, describe them and the TLS session in *text_out
 * (caller owns), then QUIT without logging in.  On failure too,
 * *text_out says what was seen up to it (the refused certificate, the
 * CAPA without STLS).
 */
int fetch_serverinfo(const struct fetch_account *acct,
    const struct fetch_connector *conn, char **text_out, struct err *err);

#endif
