#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <glib.h>

#include "fetch/fetch.h"
#include "state/state.h"
#include "state/uidl.h"
#include "tests/unit/mock-transport.h"
#include "tests/unit/tmpdir.h"
#include "util/xmalloc.h"

/*
 * A sink that keeps messages in memory and can fail the Nth commit or
 * the Nth sync.  What a failed sync would have made durable is dropped.
 */
#define MEM_MAX 1024
struct mem_sink {
	char *cur;
	size_t curlen;
	char *stored[MEM_MAX];
	size_t nstored;
	size_t nsynced;  /* stored[0..nsynced) are durable */
	int fail_commit; /* 1-based commit to fail, 0 = never */
	int ncommits;
	int fail_sync; /* 1-based sync to fail, 0 = never */
	int nsyncs;
	/* What the client had sent when the first message's data came. */
	struct transport *t;
	char *sent_at_first;
	/* The client's last write when each message began; and all it had
	 * sent at each sync. */
	char *write_at_begin[MEM_MAX];
	size_t nbegins;
	char *sent_at_sync[MEM_MAX];
};

/* What the rules' decide() hands over for begin(); NULL without rules. */
static const int filing_marker;
static const void *expect_filing;

static int
mem_begin(void *ctx, const struct pop3_msg *msg, const void *filing,
    struct err *err)
{
	struct mem_sink *m = ctx;

	(void)msg;
	assert_ptr_equal(filing, expect_filing);
	(void)err;
	assert_null(m->cur);
	if (m->t != NULL && m->nbegins < MEM_MAX)
		m->write_at_begin[m->nbegins++] =
		    xstrdup(mock_transport_last_write(m->t));
	m->cur = xcalloc(1, 1);
	m->curlen = 0;
	return 0;
}

static int
mem_write(void *ctx, const char *data, size_t len, struct err *err)
{
	struct mem_sink *m = ctx;

	(void)err;
	if (m->t != NULL && m->sent_at_first == NULL)
		m->sent_at_first = xstrdup(mock_transport_written(m->t));
	m->cur = xreallocarray(m->cur, m->curlen + len + 1, 1);
	memcpy(m->cur + m->curlen, data, len);
	m->curlen += len;
	m->cur[m->curlen] = '\0';
	return 0;
}

static int
mem_commit(void *ctx, char **name_out, struct err *err)
{
	struct mem_sink *m = ctx;

	if (++m->ncommits == m->fail_commit) {
		free(m->cur);
		m->cur = NULL;
		errno = ENOSPC;
		err_set(err, ERR_LOCAL, "write tmp/x");
		return -1;
	}
	assert_true(m->nstored < MEM_MAX);
	m->stored[m->nstored++] = m->cur;
	m->cur = NULL;
	*name_out = xasprintf("msg%zu", m->nstored);
	return 0;
}

static void
mem_abort(void *ctx)
{
	struct mem_sink *m = ctx;

	free(m->cur);
	m->cur = NULL;
}

static int
mem_sync(void *ctx, struct err *err)
{
	struct mem_sink *m = ctx;

	if (m->t != NULL && m->nsyncs < MEM_MAX)
		m->sent_at_sync[m->nsyncs] =
		    xstrdup(mock_transport_written(m->t));
	if (++m->nsyncs == m->fail_sync) {
		while (m->nstored > m->nsynced)
			free(m->stored[--m->nstored]);
		errno = EIO;
		err_set(err, ERR_LOCAL, "fsync new");
		return -1;
	}
	m->nsynced = m->nstored;
	return 0;
}

static const struct sink_ops mem_ops = {
	.begin = mem_begin,
	.write = mem_write,
	.commit = mem_commit,
	.abort = mem_abort,
	.sync = mem_sync,
};

static unsigned checkpoint;
static bool has_keep_days; /* keep_days = 0, unless set */
static unsigned keep_days;
static bool has_fallback;
static const char *recovered_uid; /* what recover() says is stored */
static uint64_t recovered_size;   /* and of which LIST size; 0: any */
static bool has_rules;
static int decide_calls;
static uint64_t skip_larger; /* a rule on the size: skip above; 0: none */
static int early_calls;      /* decide() asked without the header */

/* Rules for the tests: "two" is skipped, "three" discarded. */
static int
decide(void *arg, const struct pop3_msg *msg, const char *header, size_t len,
    enum fetch_verdict *out, const void **filing_out, struct err *err)
{
	(void)arg;
	(void)err;
	if (header == NULL) {
		/* From the size alone: only the size rule can tell. */
		early_calls++;
		if (skip_larger == 0 || msg->size <= skip_larger)
			return 1;
		*out = FETCH_SKIP;
		return 0;
	}
	decide_calls++;
	/* Only the header, up to and with its blank line. */
	assert_true(len >= 2);
	assert_memory_equal(header + len - 2, "\n\n", 2);
	*out = FETCH_STORE;
	*filing_out = &filing_marker; /* handed to begin() as it is */
	if (memmem(header, len, "Subject: two\n", 13) != NULL)
		*out = FETCH_SKIP;
	if (memmem(header, len, "Subject: three\n", 15) != NULL)
		*out = FETCH_DISCARD;
	return 0;
}
static int recover_calls;
static int recover_shared_calls; /* asked with is_shared */

static bool
recover(void *arg, const struct pop3_msg *msg, bool is_shared, char **file_out)
{
	assert_null(arg);
	recover_calls++;
	recover_shared_calls += is_shared;
	if (recovered_uid == NULL || strcmp(msg->uid, recovered_uid) != 0 ||
	    (recovered_size != 0 && msg->size != recovered_size))
		return false;
	*file_out = xstrdup("found-in-maildir");
	return true;
}
static volatile sig_atomic_t stop_flag;
static int refresh_calls; /* the OAuth token asked for again */
static bool with_capa;    /* the script answers CAPA after the greeting */
/* mock_transport_lockstep() after login, with these; and the read size. */
static size_t *lock_at, lock_n, lock_cap;
static size_t read_chunk = 3;

struct fixture {
	char dir[64];
	char path[96];
	struct state *state;
	struct uidl_store *st; /* the state's */
	struct store store;    /* the state, as fetch/ sees it */
	struct mem_sink mem;
	struct sink sink;
	struct fetch_stats stats;
	struct err err;
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/test-fetch.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	(void)snprintf(f->path, sizeof(f->path), "%s/acct.uidl", f->dir);
	f->state = state_open(f->dir, "acct", false, &f->err);
	assert_non_null(f->state);
	f->st = state_uidl(f->state);
	state_store(f->state, &f->store);
	f->sink.ops = &mem_ops;
	f->sink.ctx = &f->mem;
	err_clear(&f->err);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	size_t i;

	checkpoint = 0;
	has_keep_days = false;
	keep_days = 0;
	refresh_calls = 0;
	has_fallback = false;
	recovered_uid = NULL;
	recovered_size = 0;
	recover_shared_calls = 0;
	recover_calls = 0;
	has_rules = false;
	decide_calls = 0;
	skip_larger = 0;
	early_calls = 0;
	stop_flag = 0;
	with_capa = false;
	free(lock_at);
	lock_at = NULL;
	read_chunk = 3;
	state_close(f->state);
	for (i = 0; i < f->mem.nstored; i++)
		free(f->mem.stored[i]);
	free(f->mem.cur);
	free(f->mem.sent_at_first);
	for (i = 0; i < MEM_MAX; i++) {
		free(f->mem.write_at_begin[i]);
		free(f->mem.sent_at_sync[i]);
	}
	tmpdir_remove(g_strdup(f->dir));
	free(f);
	return 0;
}

#define GREET "+OK ready\r\n+OK user\r\n+OK logged in\r\n"
#define LIST3 "+OK 3 messages\r\n1 10\r\n2 20\r\n3 30\r\n.\r\n"
#define UIDL3 "+OK\r\n1 u-one\r\n2 u-two\r\n3 u-three\r\n.\r\n"
#define M1 "+OK\r\nSubject: one\r\n\r\n..dot\r\n.\r\n"
#define M2 "+OK\r\nSubject: two\r\n\r\nbody\r\n.\r\n"
#define M3 "+OK\r\nSubject: three\r\n\r\nx\r\n.\r\n"
#define OK "+OK\r\n"
#define LOGIN "USER u\r\nPASS p\r\n"

/*
 * Log in over a mock serving script, run fetch_session under policy and
 * return its result; *t_out keeps the transport for inspection (it is
 * owned by the session, freed by the caller through *s_out).
 */
static int
run(struct fixture *f, const char *script, enum plan_policy policy,
    struct pop3_session **s_out, struct transport **t_out)
{
	struct fetch_account acct = { .name = "test",
		.policy = policy,
		.checkpoint = checkpoint,
		.has_keep_days = has_keep_days,
		.has_msgid_fallback = has_fallback,
		.recover = recovered_uid != NULL ? recover : NULL,
		.decide = has_rules ? decide : NULL,
		.stop = &stop_flag };
	struct transport *t = mock_transport_str(script, read_chunk);
	struct pop3_session *s = pop3_new(t, "test");

	expect_filing = has_rules ? &filing_marker : NULL;
	f->mem.t = t;
	assert_int_equal(pop3_greeting(s, &f->err), 0);
	if (with_capa)
		assert_int_equal(pop3_capa(s, &f->err), 0);
	assert_int_equal(pop3_user_pass(s, "u", "p", &f->err), 0);
	if (lock_at != NULL)
		mock_transport_lockstep(t, lock_at, lock_n, lock_cap);
	*s_out = s;
	*t_out = t;
	return fetch_session(s, &acct, &f->store, &f->sink, &f->stats, &f->err);
}

static void
expect_wire(struct fixture *f, const char *script, enum plan_policy policy,
    int want_rc, const char *want_wire)
{
	struct pop3_session *s;
	struct transport *t;

	assert_int_equal(run(f, script, policy, &s, &t), want_rc);
	assert_string_equal(mock_transport_written(t), want_wire);
	pop3_free(s);
}

static void
test_keep_fetches_new_only(void **state)
{
	struct fixture *f = *state;

	expect_wire(f, GREET LIST3 UIDL3 M1 M2 M3 OK, PLAN_KEEP, 0,
	    LOGIN "LIST\r\nUIDL\r\nRETR 1\r\nRETR 2\r\nRETR 3\r\nQUIT\r\n");
	assert_int_equal(f->mem.nstored, 3);
	assert_string_equal(f->mem.stored[0], "Subject: one\n\n.dot\n");
	assert_string_equal(f->mem.stored[1], "Subject: two\n\nbody\n");
	assert_int_equal(f->stats.on_server, 3);
	assert_int_equal(f->stats.new_msgs, 3);
	assert_int_equal(f->stats.retrieved, 3);
	assert_int_equal(f->stats.deleted, 0);
	assert_false(f->stats.is_recovered); /* not asked to */
	assert_true(uidl_has(f->st, "u-two", 20));

	/* The second run finds nothing new and downloads nothing. */
	expect_wire(f, GREET LIST3 UIDL3 OK, PLAN_KEEP, 0,
	    LOGIN "LIST\r\nUIDL\r\nQUIT\r\n");
	assert_int_equal(f->stats.new_msgs, 0);
	assert_int_equal(f->mem.nstored, 3);
}

/*
 * each is Foxmail's order: RETR 1, DELE 1, RETR 2, DELE 2, ...; every
 * message is durable (its own sync) before its DELE goes out.
 */
static void
test_each_is_foxmail_order(void **state)
{
	struct fixture *f = *state;

	expect_wire(f, GREET LIST3 UIDL3 M1 OK M2 OK M3 OK OK, PLAN_EACH, 0,
	    LOGIN "LIST\r\nUIDL\r\nRETR 1\r\nDELE 1\r\nRETR 2\r\n"
	          "DELE 2\r\nRETR 3\r\nDELE 3\r\nQUIT\r\n");
	assert_int_equal(f->stats.deleted, 3);
	assert_true(f->stats.quit_ok);
	assert_int_equal(f->mem.nsyncs, 3);
	assert_non_null(f->mem.sent_at_sync[1]);
	assert_true(g_str_has_suffix(f->mem.sent_at_sync[1], "RETR 2\r\n"));
	assert_true(uidl_has(f->st, "u-three", 30));
}

static void
test_batch_is_outlook_order(void **state)
{
	struct fixture *f = *state;

	expect_wire(f, GREET LIST3 UIDL3 M1 M2 M3 OK OK OK OK, PLAN_BATCH, 0,
	    LOGIN "LIST\r\nUIDL\r\nRETR 1\r\nRETR 2\r\nRETR 3\r\nDELE 1\r\n"
	          "DELE 2\r\nDELE 3\r\nQUIT\r\n");
	assert_int_equal(f->stats.deleted, 3);
}

/* A message delivered before whose DELE was lost: deleted, not fetched. */
static void
test_seen_message_deleted_unread(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(uidl_append(f->st, "u-two", 20, "old", 1, &f->err), 0);
	assert_int_equal(uidl_sync(f->st, &f->err), 0);
	expect_wire(f, GREET LIST3 UIDL3 M1 OK OK M3 OK OK, PLAN_EACH, 0,
	    LOGIN "LIST\r\nUIDL\r\nRETR 1\r\nDELE 1\r\nDELE 2\r\nRETR 3\r\n"
	          "DELE 3\r\nQUIT\r\n");
	assert_int_equal(f->stats.retrieved, 2);
	assert_int_equal(f->stats.new_msgs, 2);
}

/* The same uid with another size is another message: fetched. */
static void
test_reused_uid_other_size_fetched(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(uidl_append(f->st, "u-two", 999, NULL, 1, &f->err), 0);
	expect_wire(f, GREET LIST3 UIDL3 M1 M2 M3 OK, PLAN_KEEP, 0,
	    LOGIN "LIST\r\nUIDL\r\nRETR 1\r\nRETR 2\r\nRETR 3\r\nQUIT\r\n");
}

/*
 * Disk full on message 2: no DELE for it, nothing after it; message 1,
 * whole before, is kept and deleted.
 */
static void
test_commit_failure_stops_without_dele(void **state)
{
	struct fixture *f = *state;

	f->mem.fail_commit = 2;
	expect_wire(f, GREET LIST3 UIDL3 M1 OK M2 OK, PLAN_EACH, -1,
	    LOGIN "LIST\r\nUIDL\r\nRETR 1\r\nDELE 1\r\nRETR 2\r\nQUIT\r\n");
	assert_int_equal(f->err.cls, ERR_LOCAL);
	assert_non_null(strstr(f->err.msg, "message 2"));
	assert_false(uidl_has(f->st, "u-two", 20));
	assert_true(uidl_has(f->st, "u-one", 10));
}

/* -ERR on RETR 2: the others go on, 2 stays on the server. */
static void
test_retr_err_skips_one_message(void **state)
{
	struct fixture *f = *state;

	expect_wire(f,
	    GREET LIST3 UIDL3 M1 "-ERR no such message\r\n" M3 OK OK OK,
	    PLAN_BATCH, -1,
	    LOGIN "LIST\r\nUIDL\r\nRETR 1\r\nRETR 2\r\nRETR 3\r\nDELE 1\r\n"
	          "DELE 3\r\nQUIT\r\n");
	assert_int_equal(f->err.cls, ERR_PROTO);
	assert_int_equal(f->stats.retrieved, 2);
	assert_int_equal(f->stats.deleted, 2);
	assert_int_equal(f->mem.nstored, 2);
}

/* The connection drops in the middle of message 2. */
static void
test_drop_mid_message(void **state)
{
	struct fixture *f = *state;

	expect_wire(f, GREET LIST3 UIDL3 M1 OK "+OK\r\nSubject: tw", PLAN_EACH,
	    -1, LOGIN "LIST\r\nUIDL\r\nRETR 1\r\nDELE 1\r\nRETR 2\r\n");
	assert_int_equal(f->mem.nstored, 1);
	assert_null(f->mem.cur);
	assert_false(f->stats.quit_ok);
	assert_true(uidl_has(f->st, "u-one", 10));
}

static void
test_keep_without_uidl_refused(void **state)
{
	struct fixture *f = *state;

	expect_wire(f, GREET LIST3 "-ERR no UIDL here\r\n" OK, PLAN_KEEP, -1,
	    LOGIN "LIST\r\nUIDL\r\nQUIT\r\n");
	assert_int_equal(f->err.cls, ERR_PROTO);
	assert_int_equal(f->mem.nstored, 0);
}

/* Without UIDL, each still works; nothing is recorded. */
static void
test_each_without_uidl(void **state)
{
	struct fixture *f = *state;

	expect_wire(f, GREET LIST3 "-ERR no\r\n" M1 OK M2 OK M3 OK OK,
	    PLAN_EACH, 0,
	    LOGIN "LIST\r\nUIDL\r\nRETR 1\r\nDELE 1\r\nRETR 2\r\n"
	          "DELE 2\r\nRETR 3\r\nDELE 3\r\nQUIT\r\n");
	assert_int_equal(uidl_count(f->st), 0);
}

/* Entries for messages gone from the server are dropped. */
static void
test_store_compacted(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(uidl_append(f->st, "gone", 5, NULL, 1, &f->err), 0);
	expect_wire(f, GREET LIST3 UIDL3 M1 M2 M3 OK, PLAN_KEEP, 0,
	    LOGIN "LIST\r\nUIDL\r\nRETR 1\r\nRETR 2\r\nRETR 3\r\nQUIT\r\n");
	assert_false(uidl_has(f->st, "gone", 5));
	assert_int_equal(uidl_count(f->st), 3);
}

/* After checkpoint DELEs the session QUITs; the rest is left for later. */
static void
test_checkpoint_quits(void **state)
{
	struct fixture *f = *state;

	checkpoint = 2;
	expect_wire(f, GREET LIST3 UIDL3 M1 OK M2 OK OK, PLAN_EACH, 0,
	    LOGIN "LIST\r\nUIDL\r\nRETR 1\r\nDELE 1\r\nRETR 2\r\nDELE 2\r\n"
	          "QUIT\r\n");
	assert_true(f->stats.is_checkpoint);
	assert_true(f->stats.quit_ok);
	assert_int_equal(f->stats.deleted, 2);
	assert_false(uidl_has(f->st, "u-three", 30));
}

/* A stop request ends the run before the next message; QUIT commits. */
static void
test_stop_before_next_message(void **state)
{
	struct fixture *f = *state;

	stop_flag = 1;
	expect_wire(f, GREET LIST3 UIDL3 OK, PLAN_EACH, -1,
	    LOGIN "LIST\r\nUIDL\r\nQUIT\r\n");
	assert_int_equal(f->err.cls, ERR_TEMP);
	assert_non_null(strstr(f->err.msg, "interrupted"));
	assert_int_equal(f->mem.nstored, 0);
}

/* keep leaves a message whose unique-id is unusable on the server. */
static void
test_keep_skips_bad_uid(void **state)
{
	struct fixture *f = *state;

	expect_wire(f,
	    GREET LIST3
	    "+OK\r\n1 u-one\r\n2 bad\x01uid\r\n3 u-three\r\n.\r\n" M1 M3 OK,
	    PLAN_KEEP, 0, LOGIN "LIST\r\nUIDL\r\nRETR 1\r\nRETR 3\r\nQUIT\r\n");
	assert_int_equal(f->stats.new_msgs, 2);
	/* each fetches and deletes it like the others. */
	expect_wire(f,
	    GREET LIST3
	    "+OK\r\n1 u-one\r\n2 bad\x01uid\r\n3 u-three\r\n.\r\n" OK M2 OK OK
	        OK,
	    PLAN_EACH, 0,
	    LOGIN "LIST\r\nUIDL\r\nDELE 1\r\nRETR 2\r\nDELE 2\r\nDELE 3\r\n"
	          "QUIT\r\n");
}

#define NOUIDL "-ERR unknown command\r\n"
#define TOP1 "+OK\r\nSubject: one\r\nMessage-ID:\r\n <a@x>\r\n\r\n.\r\n"
#define TOP2 "+OK\r\nSubject: two\r\n\r\n.\r\n"
#define TOP3 "+OK\r\nmessage-id: <c@x>\r\nSubject: three\r\n\r\n.\r\n"

/*
 * uidl_fallback = message-id: without UIDL, keep tells messages apart
 * by Message-ID (read with TOP) and size; one without it stays put.
 */
static void
test_msgid_fallback(void **state)
{
	struct fixture *f = *state;

	has_fallback = true;
	expect_wire(f, GREET LIST3 NOUIDL TOP1 TOP2 TOP3 M1 M3 OK, PLAN_KEEP, 0,
	    LOGIN "LIST\r\nUIDL\r\nTOP 1 0\r\nTOP 2 0\r\nTOP 3 0\r\n"
	          "RETR 1\r\nRETR 3\r\nQUIT\r\n");
	assert_int_equal(f->stats.new_msgs, 2);
	assert_int_equal(uidl_count(f->st), 2);
	/* The next run knows them. */
	expect_wire(f, GREET LIST3 NOUIDL TOP1 TOP2 TOP3 OK, PLAN_KEEP, 0,
	    LOGIN "LIST\r\nUIDL\r\nTOP 1 0\r\nTOP 2 0\r\nTOP 3 0\r\n"
	          "QUIT\r\n");
	assert_int_equal(f->stats.new_msgs, 0);
}

/* Neither UIDL nor TOP: the fallback cannot work, and says so. */
static void
test_msgid_fallback_needs_top(void **state)
{
	struct fixture *f = *state;

	has_fallback = true;
	expect_wire(f, GREET LIST3 NOUIDL "-ERR what?\r\n" OK, PLAN_KEEP, -1,
	    LOGIN "LIST\r\nUIDL\r\nTOP 1 0\r\nQUIT\r\n");
	assert_non_null(strstr(f->err.msg, "needs TOP"));
	assert_int_equal(f->mem.nstored, 0);
}

/*
 * After a killed run, a message the state does not know but the Maildir
 * holds is recorded, not fetched again; under each it is deleted.
 */
static void
test_recover_after_kill(void **state)
{
	struct fixture *f = *state;

	recovered_uid = "u-two";
	expect_wire(f, GREET LIST3 UIDL3 M1 OK OK M3 OK OK, PLAN_EACH, 0,
	    LOGIN "LIST\r\nUIDL\r\nRETR 1\r\nDELE 1\r\nDELE 2\r\nRETR 3\r\n"
	          "DELE 3\r\nQUIT\r\n");
	assert_int_equal(recover_calls, 3);
	assert_true(f->stats.is_recovered);
	assert_true(uidl_has(f->st, "u-two", 20));
	assert_int_equal(f->mem.nstored, 2);
	assert_int_equal(f->stats.new_msgs, 2);
}

/* Messages 1 and 2 share a uid; in the second listing, their size too. */
#define UIDL_SHARED "+OK\r\n1 u-same\r\n2 u-same\r\n3 u-three\r\n.\r\n"
#define LIST_TWINS "+OK 3 messages\r\n1 10\r\n2 10\r\n3 30\r\n.\r\n"

/*
 * After a killed run, messages 1 and 2 share a uid, with other sizes:
 * the file the Maildir holds for the uid and message 1's size is message
 * 1 (recorded, deleted unread); message 2 is fetched.  The callback is
 * told the uid is shared, so that only a name that records the size
 * counts.
 */
static void
test_recover_shared_uid_by_size(void **state)
{
	struct fixture *f = *state;

	recovered_uid = "u-same";
	recovered_size = 10;
	expect_wire(f, GREET LIST3 UIDL_SHARED OK M2 OK M3 OK OK, PLAN_EACH, 0,
	    LOGIN "LIST\r\nUIDL\r\nDELE 1\r\nRETR 2\r\nDELE 2\r\n"
	          "RETR 3\r\nDELE 3\r\nQUIT\r\n");
	assert_int_equal(recover_shared_calls, 2);
	assert_int_equal(f->mem.nstored, 2);
	assert_string_equal(f->mem.stored[0], "Subject: two\n\nbody\n");
	assert_true(uidl_has(f->st, "u-same", 10));
	assert_true(uidl_has(f->st, "u-same", 20));
}

/*
 * After a killed run, twins (the same uid and size) are never matched to
 * a file: it may hold the other one.  Both are fetched (one maybe stored
 * twice), neither is deleted unseen.
 */
static void
test_recover_refuses_twins(void **state)
{
	struct fixture *f = *state;

	recovered_uid = "u-same";
	expect_wire(f, GREET LIST_TWINS UIDL_SHARED M1 OK M2 OK M3 OK OK,
	    PLAN_EACH, 0,
	    LOGIN "LIST\r\nUIDL\r\nRETR 1\r\nDELE 1\r\nRETR 2\r\n"
	          "DELE 2\r\nRETR 3\r\nDELE 3\r\nQUIT\r\n");
	assert_int_equal(recover_calls, 1); /* message 3 only */
	assert_int_equal(f->mem.nstored, 3);
}

/*
 * Twins (the same uid and size) under each: the record of one is no
 * proof that the other was fetched, so both are retrieved before their
 * DELE.
 */
static void
test_twins_fetched_before_delete(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(uidl_append(f->st, "u-same", 10, "old", 1, &f->err),
	    0);
	expect_wire(f, GREET LIST_TWINS UIDL_SHARED M1 OK M2 OK M3 OK OK,
	    PLAN_EACH, 0,
	    LOGIN "LIST\r\nUIDL\r\nRETR 1\r\nDELE 1\r\nRETR 2\r\n"
	          "DELE 2\r\nRETR 3\r\nDELE 3\r\nQUIT\r\n");
	assert_int_equal(f->mem.nstored, 3);
	assert_int_equal(f->stats.new_msgs, 3);
}

/*
 * Twins under keep: fetched once, and then never deleted by keep_days,
 * which cannot tell which of them is due.
 */
static void
test_twins_kept_by_keep_days(void **state)
{
	struct fixture *f = *state;

	expect_wire(f, GREET LIST_TWINS UIDL_SHARED M1 M2 M3 OK, PLAN_KEEP, 0,
	    LOGIN "LIST\r\nUIDL\r\nRETR 1\r\nRETR 2\r\nRETR 3\r\n"
	          "QUIT\r\n");
	has_keep_days = true;
	expect_wire(f, GREET LIST_TWINS UIDL_SHARED OK OK, PLAN_KEEP, 0,
	    LOGIN "LIST\r\nUIDL\r\nDELE 3\r\nQUIT\r\n");
	assert_int_equal(f->mem.nstored, 3);
}

#define TOPM1 "+OK\r\nSubject: one\r\n\r\n.\r\n"
#define TOPM2 "+OK\r\nSubject: two\r\n\r\n.\r\n"
#define TOPM3 "+OK\r\nSubject: three\r\n\r\n.\r\n"

/*
 * Rules decided from TOP: the skipped and the discarded message are
 * never retrieved; the discarded one is deleted (each deletes), the
 * skipped one is not, and is not recorded.
 */
static void
test_rules_before_download(void **state)
{
	struct fixture *f = *state;

	has_rules = true;
	expect_wire(f, GREET LIST3 UIDL3 TOPM1 TOPM2 TOPM3 M1 OK OK OK,
	    PLAN_EACH, 0,
	    LOGIN "LIST\r\nUIDL\r\nTOP 1 0\r\nTOP 2 0\r\nTOP 3 0\r\n"
	          "RETR 1\r\nDELE 1\r\nDELE 3\r\nQUIT\r\n");
	assert_int_equal(f->stats.skipped, 1);
	assert_int_equal(f->stats.discarded, 1);
	assert_int_equal(f->stats.deleted, 2);
	assert_int_equal(f->mem.nstored, 1);
	assert_string_equal(f->mem.stored[0], "Subject: one\n\n.dot\n");
	assert_true(uidl_has(f->st, "u-three", 30));
	assert_false(uidl_has(f->st, "u-two", 20));
	/* Once for TOP, once more as message 1 arrives. */
	assert_int_equal(decide_calls, 4);
}

/* Without TOP the rules decide as the message arrives. */
static void
test_rules_without_top(void **state)
{
	struct fixture *f = *state;

	has_rules = true;
	expect_wire(f,
	    GREET LIST3 UIDL3 "-ERR no\r\n-ERR no\r\n-ERR no\r\n" M1 M2
	                      "+OK\r\nSubject: three\r\n\r\nx\r\n.\r\n" OK,
	    PLAN_KEEP, 0,
	    LOGIN "LIST\r\nUIDL\r\nTOP 1 0\r\nTOP 2 0\r\nTOP 3 0\r\n"
	          "RETR 1\r\nRETR 2\r\nRETR 3\r\nQUIT\r\n");
	assert_int_equal(f->mem.nstored, 1);
	assert_string_equal(f->mem.stored[0], "Subject: one\n\n.dot\n");
	assert_int_equal(f->stats.skipped, 1);
	assert_int_equal(f->stats.discarded, 1);
	assert_true(uidl_has(f->st, "u-three", 30));
	assert_false(uidl_has(f->st, "u-two", 20));
}

/*
 * A rule on the size settles message 3 from LIST, before any TOP or
 * RETR, even on a server without TOP (issue 14, item 9).
 */
static void
test_rules_size_before_download(void **state)
{
	struct fixture *f = *state;

	has_rules = true;
	skip_larger = 25;
	expect_wire(f, GREET LIST3 UIDL3 "-ERR no\r\n-ERR no\r\n" M1 M2 OK,
	    PLAN_KEEP, 0,
	    LOGIN "LIST\r\nUIDL\r\nTOP 1 0\r\nTOP 2 0\r\n"
	          "RETR 1\r\nRETR 2\r\nQUIT\r\n");
	assert_int_equal(early_calls, 3);
	assert_int_equal(f->mem.nstored, 1);
	assert_int_equal(f->stats.skipped, 2);
	assert_false(uidl_has(f->st, "u-three", 30));
}

#define HDR_ID "Message-ID: <1@x>\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
#define GROWN "X-UID: 1\r\nStatus: O\r\n"

/*
 * A server that makes a message larger after the first session (GNU
 * mailutils adds X-UID and Status): the uid is its identity, and the
 * same Message-ID and Date make it the message fetched before, under
 * keep and under each (deleted unseen, rightly).  Another header under
 * the same uid is a new message.
 */
static void
test_size_changed(void **state)
{
	struct fixture *f = *state;
	expect_wire(f,
	    GREET "+OK\r\n1 40\r\n.\r\n+OK\r\n1 u-one\r\n.\r\n"
	          "+OK\r\n" HDR_ID "\r\nbody\r\n.\r\n" OK,
	    PLAN_KEEP, 0, LOGIN "LIST\r\nUIDL\r\nRETR 1\r\nQUIT\r\n");
	assert_int_equal(f->mem.nstored, 1);
	/* Grown: TOP, the same header, nothing fetched; recorded. */
	expect_wire(f,
	    GREET "+OK\r\n1 60\r\n.\r\n+OK\r\n1 u-one\r\n.\r\n"
	          "+OK\r\n" GROWN HDR_ID "\r\n.\r\n" OK,
	    PLAN_KEEP, 0, LOGIN "LIST\r\nUIDL\r\nTOP 1 0\r\nQUIT\r\n");
	assert_int_equal(f->mem.nstored, 1);
	assert_true(uidl_has(f->st, "u-one", 60));
	/* Known under 60 now: not even TOP. */
	expect_wire(f,
	    GREET "+OK\r\n1 60\r\n.\r\n+OK\r\n1 u-one\r\n.\r\n" OK OK,
	    PLAN_EACH, 0, LOGIN "LIST\r\nUIDL\r\nDELE 1\r\nQUIT\r\n");
	/*
	 * Another size again, under each: fetched before its DELE, never
	 * taken as the same message on its header's word (that would delete
	 * it unread).
	 */
	expect_wire(f,
	    GREET "+OK\r\n1 61\r\n.\r\n+OK\r\n1 u-one\r\n.\r\n"
	          "+OK\r\n" GROWN HDR_ID "\r\nnew\r\n.\r\n" OK OK,
	    PLAN_EACH, 0, LOGIN "LIST\r\nUIDL\r\nRETR 1\r\nDELE 1\r\nQUIT\r\n");
	assert_int_equal(f->mem.nstored, 2);
}

/*
 * A maildrop of n messages "Subject: I": the server's LIST and UIDL,
 * and as many RETR replies, in order, from first to last.
 */
static char *
big_listing(unsigned n)
{
	GString *g = g_string_new(GREET "+OK\r\n");
	unsigned i;

	for (i = 1; i <= n; i++)
		g_string_append_printf(g, "%u %u\r\n", i,
		    14 + (i > 9) + (i > 99));
	g_string_append(g, ".\r\n+OK\r\n");
	for (i = 1; i <= n; i++)
		g_string_append_printf(g, "%u uid-%u\r\n", i, i);
	g_string_append(g, ".\r\n");
	return g_string_free(g, FALSE);
}

static void
append_retrs(GString *g, unsigned from, unsigned to)
{
	for (; from <= to; from++)
		g_string_append_printf(g, "+OK\r\nSubject: %u\r\n\r\n.\r\n",
		    from);
}

static void
append_cmds(GString *g, const char *verb, unsigned from, unsigned to)
{
	for (; from <= to; from++)
		g_string_append_printf(g, "%s %u\r\n", verb, from);
}

/*
 * Group commit: 70 messages under batch go in two rounds, 64 then 6,
 * each made durable with one sync; the DELEs come after the last RETR.
 */
static void
test_batch_in_rounds(void **state)
{
	struct fixture *f = *state;
	GString *script, *wire;
	char *head = big_listing(70);

	script = g_string_new(head);
	append_retrs(script, 1, 70);
	for (unsigned i = 1; i <= 71; i++)
		g_string_append(script, OK);
	wire = g_string_new(LOGIN "LIST\r\nUIDL\r\n");
	append_cmds(wire, "RETR", 1, 70);
	append_cmds(wire, "DELE", 1, 70);
	g_string_append(wire, "QUIT\r\n");
	expect_wire(f, script->str, PLAN_BATCH, 0, wire->str);
	assert_int_equal(f->mem.nsyncs, 2);
	assert_int_equal(f->stats.retrieved, 70);
	assert_int_equal(f->stats.deleted, 70);
	assert_true(uidl_has(f->st, "uid-70", 15));
	g_string_free(script, TRUE);
	g_string_free(wire, TRUE);
	g_free(head);
}

/*
 * each on 70 messages: no rounds, message by message, one sync each,
 * and DELE n before RETR n+1 all the way.
 */
static void
test_each_message_by_message(void **state)
{
	struct fixture *f = *state;
	GString *script, *wire;
	char *head = big_listing(70);
	unsigned i;

	script = g_string_new(head);
	wire = g_string_new(LOGIN "LIST\r\nUIDL\r\n");
	for (i = 1; i <= 70; i++) {
		append_retrs(script, i, i);
		g_string_append(script, OK);
		append_cmds(wire, "RETR", i, i);
		append_cmds(wire, "DELE", i, i);
	}
	g_string_append(script, OK);
	g_string_append(wire, "QUIT\r\n");
	expect_wire(f, script->str, PLAN_EACH, 0, wire->str);
	assert_int_equal(f->mem.nsyncs, 70);
	assert_int_equal(f->stats.retrieved, 70);
	assert_int_equal(f->stats.deleted, 70);
	assert_true(uidl_has(f->st, "uid-70", 15));
	g_string_free(script, TRUE);
	g_string_free(wire, TRUE);
	g_free(head);
}

/*
 * batch: the second round cannot be made durable: none of it is
 * recorded, nothing is deleted (the DELEs come last), and the run fails;
 * the first round stands, recorded.
 */
static void
test_sync_failure_keeps_round(void **state)
{
	struct fixture *f = *state;
	GString *script, *wire;
	char *head = big_listing(70);

	f->mem.fail_sync = 2;
	script = g_string_new(head);
	append_retrs(script, 1, 70);
	g_string_append(script, OK);
	wire = g_string_new(LOGIN "LIST\r\nUIDL\r\n");
	append_cmds(wire, "RETR", 1, 70);
	g_string_append(wire, "QUIT\r\n");
	expect_wire(f, script->str, PLAN_BATCH, -1, wire->str);
	assert_int_equal(f->err.cls, ERR_LOCAL);
	assert_int_equal(f->stats.retrieved, 64);
	assert_int_equal(f->stats.deleted, 0);
	assert_true(uidl_has(f->st, "uid-64", 15));
	assert_false(uidl_has(f->st, "uid-65", 15));
	assert_int_equal(f->mem.nstored, 64);
	g_string_free(script, TRUE);
	g_string_free(wire, TRUE);
	g_free(head);
}

/*
 * each: message 2 cannot be made durable: it is neither recorded nor
 * deleted, nothing more is retrieved, and message 1 stands, deleted.
 */
static void
test_each_sync_failure(void **state)
{
	struct fixture *f = *state;

	f->mem.fail_sync = 2;
	expect_wire(f, GREET LIST3 UIDL3 M1 OK M2 OK, PLAN_EACH, -1,
	    LOGIN "LIST\r\nUIDL\r\nRETR 1\r\nDELE 1\r\nRETR 2\r\nQUIT\r\n");
	assert_int_equal(f->err.cls, ERR_LOCAL);
	assert_int_equal(f->stats.deleted, 1);
	assert_true(uidl_has(f->st, "u-one", 10));
	assert_false(uidl_has(f->st, "u-two", 20));
	assert_int_equal(f->mem.nstored, 1);
}

/*
 * each, with rules decided as messages arrive (no TOP): a skipped
 * message gets no DELE, a discarded one is deleted in its place.
 */
static void
test_each_rules_without_top(void **state)
{
	struct fixture *f = *state;

	has_rules = true;
	expect_wire(f,
	    GREET LIST3 UIDL3
	    "-ERR no\r\n-ERR no\r\n-ERR no\r\n" M1 OK M2 M3 OK OK,
	    PLAN_EACH, 0,
	    LOGIN "LIST\r\nUIDL\r\nTOP 1 0\r\nTOP 2 0\r\nTOP 3 0\r\n"
	          "RETR 1\r\nDELE 1\r\nRETR 2\r\nRETR 3\r\nDELE 3\r\nQUIT\r\n");
	assert_int_equal(f->mem.nstored, 1);
	assert_int_equal(f->stats.skipped, 1);
	assert_int_equal(f->stats.discarded, 1);
	assert_int_equal(f->stats.deleted, 2);
}

/* run() with CAPA first, so that the session knows PIPELINING. */
static int
run_pipe(struct fixture *f, const char *script, enum plan_policy policy,
    struct pop3_session **s_out, struct transport **t_out)
{
	with_capa = true;
	return run(f, script, policy, s_out, t_out);
}

#define CAPA_PIPE "+OK\r\nUIDL\r\nTOP\r\nPIPELINING\r\n.\r\n"
#define LOGIN_PIPE "+OK ready\r\n" CAPA_PIPE "+OK user\r\n+OK logged in\r\n"

/* expect_wire() with CAPA first, announcing PIPELINING. */
static void
expect_pipe_wire(struct fixture *f, const char *script, enum plan_policy policy,
    int want_rc, const char *want_wire)
{
	with_capa = true;
	expect_wire(f, script, policy, want_rc, want_wire);
}

/*
 * PIPELINING: the RETRs of the window are all out before the first
 * message is read, and the round's DELEs go out together.
 */
static void
test_pipelined_retr(void **state)
{
	struct fixture *f = *state;
	struct pop3_session *s;
	struct transport *t;

	assert_int_equal(run_pipe(f,
	                     "+OK ready\r\n" CAPA_PIPE
	                     "+OK user\r\n+OK logged in\r\n" LIST3 UIDL3 M1 M2
	                         M3 OK OK OK OK,
	                     PLAN_BATCH, &s, &t),
	    0);
	assert_non_null(f->mem.sent_at_first);
	assert_non_null(strstr(f->mem.sent_at_first,
	    "UIDL\r\nRETR 1\r\nRETR 2\r\nRETR 3\r\n"));
	assert_null(strstr(f->mem.sent_at_first, "DELE"));
	assert_string_equal(mock_transport_written(t),
	    "CAPA\r\n" LOGIN "LIST\r\nUIDL\r\nRETR 1\r\nRETR 2\r\nRETR 3\r\n"
	    "DELE 1\r\nDELE 2\r\nDELE 3\r\nQUIT\r\n");
	assert_int_equal(f->stats.deleted, 3);
	assert_int_equal(f->mem.nstored, 3);
	assert_string_equal(f->mem.stored[2], "Subject: three\n\nx\n");
	pop3_free(s);
}

/*
 * With PIPELINING, -ERR on RETR 2 in the middle of the window: 1 and 3
 * are stored and deleted, 2 stays.
 */
static void
test_pipelined_retr_err(void **state)
{
	struct fixture *f = *state;
	struct pop3_session *s;
	struct transport *t;

	assert_int_equal(run_pipe(f,
	                     "+OK ready\r\n" CAPA_PIPE
	                     "+OK user\r\n+OK logged in\r\n" LIST3 UIDL3 M1
	                     "-ERR [SYS/TEMP] busy\r\n" M3 OK OK OK,
	                     PLAN_BATCH, &s, &t),
	    -1);
	assert_string_equal(mock_transport_written(t),
	    "CAPA\r\n" LOGIN "LIST\r\nUIDL\r\nRETR 1\r\nRETR 2\r\nRETR 3\r\n"
	    "DELE 1\r\nDELE 3\r\nQUIT\r\n");
	assert_non_null(strstr(f->err.msg, "message 2"));
	assert_non_null(strstr(f->err.msg, "RETR 2"));
	assert_int_equal(f->stats.deleted, 2);
	assert_false(uidl_has(f->st, "u-two", 20));
	pop3_free(s);
}

/*
 * Disk full on message 2 of a pipelined window: the run ends, but the
 * reply to RETR 3, already asked for, is read and dropped, so that the
 * session stays in step: message 1 is kept and deleted, QUIT commits.
 */
static void
test_pipelined_failure_drains(void **state)
{
	struct fixture *f = *state;
	struct pop3_session *s;
	struct transport *t;

	f->mem.fail_commit = 2;
	assert_int_equal(run_pipe(f,
	                     "+OK ready\r\n" CAPA_PIPE
	                     "+OK user\r\n+OK logged in\r\n" LIST3 UIDL3 M1 M2
	                         M3 OK OK,
	                     PLAN_BATCH, &s, &t),
	    -1);
	assert_int_equal(f->err.cls, ERR_LOCAL);
	assert_non_null(strstr(f->err.msg, "message 2"));
	assert_string_equal(mock_transport_written(t),
	    "CAPA\r\n" LOGIN "LIST\r\nUIDL\r\nRETR 1\r\nRETR 2\r\nRETR 3\r\n"
	    "DELE 1\r\nQUIT\r\n");
	assert_true(f->stats.quit_ok);
	assert_int_equal(f->stats.deleted, 1);
	assert_int_equal(f->mem.nstored, 1);
	assert_true(uidl_has(f->st, "u-one", 10));
	assert_false(uidl_has(f->st, "u-three", 30));
	pop3_free(s);
}

/*
 * each with PIPELINING: still RETR n, DELE n, RETR n+1, but DELE n and
 * RETR n+1 go out in one write (one round trip a message), and only
 * after message n is durable.
 */
static void
test_each_pipelined(void **state)
{
	struct fixture *f = *state;

	expect_pipe_wire(f, LOGIN_PIPE LIST3 UIDL3 M1 OK M2 OK M3 OK OK,
	    PLAN_EACH, 0,
	    "CAPA\r\n" LOGIN "LIST\r\nUIDL\r\nRETR 1\r\nDELE 1\r\nRETR 2\r\n"
	    "DELE 2\r\nRETR 3\r\nDELE 3\r\nQUIT\r\n");
	assert_int_equal(f->mem.nbegins, 3);
	assert_string_equal(f->mem.write_at_begin[1], "DELE 1\r\nRETR 2\r\n");
	assert_string_equal(f->mem.write_at_begin[2], "DELE 2\r\nRETR 3\r\n");
	/* Message 2 was durable before DELE 2 went out. */
	assert_int_equal(f->mem.nsyncs, 3);
	assert_true(g_str_has_suffix(f->mem.sent_at_sync[1], "RETR 2\r\n"));
	assert_int_equal(f->stats.deleted, 3);
	assert_true(f->stats.quit_ok);
}

/*
 * each with PIPELINING and -ERR on RETR 2: no DELE 2; RETR 3 goes out
 * alone, with nothing before it to answer.
 */
static void
test_each_pipelined_retr_err(void **state)
{
	struct fixture *f = *state;

	expect_pipe_wire(f,
	    LOGIN_PIPE LIST3 UIDL3 M1 OK "-ERR [SYS/TEMP] busy\r\n" M3 OK OK,
	    PLAN_EACH, -1,
	    "CAPA\r\n" LOGIN "LIST\r\nUIDL\r\nRETR 1\r\nDELE 1\r\nRETR 2\r\n"
	    "RETR 3\r\nDELE 3\r\nQUIT\r\n");
	assert_non_null(strstr(f->err.msg, "RETR 2"));
	assert_int_equal(f->stats.deleted, 2);
	assert_false(uidl_has(f->st, "u-two", 20));
}

/*
 * each with PIPELINING and checkpoint = 2: the second DELE is the last
 * command before QUIT; RETR 3 is left for the next session.
 */
static void
test_each_pipelined_checkpoint(void **state)
{
	struct fixture *f = *state;

	checkpoint = 2;
	expect_pipe_wire(f, LOGIN_PIPE LIST3 UIDL3 M1 OK M2 OK OK, PLAN_EACH, 0,
	    "CAPA\r\n" LOGIN "LIST\r\nUIDL\r\nRETR 1\r\nDELE 1\r\nRETR 2\r\n"
	    "DELE 2\r\nQUIT\r\n");
	assert_true(f->stats.is_checkpoint);
	assert_int_equal(f->stats.deleted, 2);
}

/*
 * Messages stored before whose DELEs were lost: their DELEs go out
 * together, within the window, before the next RETR.
 */
static void
test_each_pipelined_seen(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(uidl_append(f->st, "u-one", 10, "old", 1, &f->err), 0);
	assert_int_equal(uidl_append(f->st, "u-two", 20, "old", 1, &f->err), 0);
	expect_pipe_wire(f, LOGIN_PIPE LIST3 UIDL3 OK OK M3 OK OK, PLAN_EACH, 0,
	    "CAPA\r\n" LOGIN "LIST\r\nUIDL\r\nDELE 1\r\nDELE 2\r\nRETR 3\r\n"
	    "DELE 3\r\nQUIT\r\n");
	assert_string_equal(f->mem.write_at_begin[0],
	    "DELE 1\r\nDELE 2\r\nRETR 3\r\n");
	assert_int_equal(f->stats.deleted, 3);
}

/*
 * n messages under PIPELINING, the replies to LIST, UIDL, RETR 1..n,
 * then ndele DELEs and QUIT; lock_at gets where each begins, for
 * mock_transport_lockstep().
 */
static char *
lockstep_script(unsigned n, unsigned ndele)
{
	GString *g = g_string_new(LOGIN_PIPE);
	unsigned i, j = 0;

	lock_n = 2 + (size_t)n + ndele + 1;
	lock_at = xreallocarray(NULL, lock_n, sizeof(*lock_at));
	lock_at[j++] = g->len;
	g_string_append(g, "+OK\r\n");
	for (i = 1; i <= n; i++)
		g_string_append_printf(g, "%u %u\r\n", i, 300u);
	g_string_append(g, ".\r\n");
	lock_at[j++] = g->len;
	g_string_append(g, "+OK\r\n");
	for (i = 1; i <= n; i++)
		g_string_append_printf(g, "%u uid-%u\r\n", i, i);
	g_string_append(g, ".\r\n");
	for (i = 1; i <= n; i++) {
		lock_at[j++] = g->len;
		g_string_append_printf(g, "+OK\r\nSubject: %u\r\n\r\n", i);
		/* A body line that ends in every possible place of a read. */
		g_string_append_printf(g, "%.*s\r\n.\r\n", (int)(i % 256),
		    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		    "xxxxxxxxxxxxxxxx");
	}
	for (i = 0; i <= ndele; i++) {
		lock_at[j++] = g->len;
		g_string_append(g, OK);
	}
	return g_string_free(g, FALSE);
}

/*
 * A server that reads a command only after writing the whole reply to
 * the one before, behind socket buffers of 8 KB: 1,000 messages under
 * policy, with replies in chunks of chunk octets.  The pipeline goes far
 * deeper than the old 32 commands, yet never leaves more command octets
 * unread than the buffers hold (the write would block forever); the
 * RETRs of the next round are out before a round is made durable; and
 * the wire is all RETRs, then (batch) all DELEs, then QUIT.
 */
static void
lockstep_run(struct fixture *f, enum plan_policy policy, size_t chunk)
{
	unsigned ndele = policy == PLAN_BATCH ? 1000 : 0;
	struct pop3_session *s;
	struct transport *t;
	char *script = lockstep_script(1000, ndele);
	GString *wire = g_string_new("CAPA\r\n" LOGIN "LIST\r\nUIDL\r\n");
	size_t depth, octets;

	lock_cap = 8192;
	read_chunk = chunk;
	append_cmds(wire, "RETR", 1, 1000);
	append_cmds(wire, "DELE", 1, ndele);
	g_string_append(wire, "QUIT\r\n");
	assert_int_equal(run_pipe(f, script, policy, &s, &t), 0);
	assert_string_equal(mock_transport_written(t), wire->str);
	assert_int_equal(f->stats.retrieved, 1000);
	assert_int_equal(f->stats.deleted, ndele);
	assert_true(f->stats.quit_ok);
	assert_int_equal(f->mem.nsyncs, 16);
	assert_true(g_str_has_prefix(f->mem.stored[999], "Subject: 1000\n\nx"));
	depth = mock_transport_max_unread(t, &octets);
	assert_true(depth > 600);
	assert_true(octets <= 8192);
	/* 64 messages read and stored; RETR 65 and more already out. */
	assert_non_null(f->mem.sent_at_sync[0]);
	assert_non_null(strstr(f->mem.sent_at_sync[0], "RETR 100\r\n"));
	assert_null(strstr(f->mem.sent_at_sync[0], "DELE"));
	pop3_free(s);
	g_string_free(wire, TRUE);
	g_free(script);
}

static void
test_lockstep_server(void **state)
{
	lockstep_run(*state, PLAN_BATCH, 0);
}

/* The same with every reply split at every octet. */
static void
test_lockstep_server_octets(void **state)
{
	lockstep_run(*state, PLAN_BATCH, 1);
}

/* keep: nothing deleted, QUIT right after the last RETR. */
static void
test_lockstep_server_keep(void **state)
{
	lockstep_run(*state, PLAN_KEEP, 3);
}

/*
 * Whole account runs (fetch_account(), fetch_preview()) over scripted
 * peers: a connector that hands out a mock transport per connection,
 * one script each, and keeps what the client wrote on each.
 */
#define CONN_MAX 4
#define STLS_OK "+OK begin TLS\r\n"
struct mock_conn {
	const char *scripts[CONN_MAX]; /* NULL: the connection is refused */
	size_t next;
	bool is_tls; /* TLS may start */
	char *written[CONN_MAX];
};

static struct transport *
mock_connect(void *arg, const struct fetch_account *acct, struct err *err)
{
	struct mock_conn *mc = arg;
	const char *script, *stls;
	struct transport *t;

	assert_string_equal(acct->host, "pop.example");
	if (mc->next == CONN_MAX || mc->scripts[mc->next] == NULL) {
		err_setx(err, ERR_TEMP, "connect: connection refused (mock)");
		return NULL;
	}
	script = mc->scripts[mc->next];
	t = mock_transport_str(script, 3);
	if (mc->is_tls)
		mock_transport_allow_tls(t);
	/* The server waits for the handshake after its STLS reply. */
	if ((stls = strstr(script, STLS_OK)) != NULL)
		mock_transport_boundary(t,
		    (size_t)(stls - script) + strlen(STLS_OK));
	mock_transport_save_written(t, &mc->written[mc->next++]);
	return t;
}

static void
mock_conn_cleanup(struct mock_conn *mc)
{
	size_t i;

	for (i = 0; i < CONN_MAX; i++)
		free(mc->written[i]);
}

/* An OAuth token refused once: password_command gives a fresh one. */
static char *
refresh(const void *arg, struct err *err)
{
	(void)arg;
	(void)err;
	refresh_calls++;
	return xstrdup("fresh");
}

/* An account that logs in with USER and PASS in the clear. */
static struct fetch_account
account(enum plan_policy policy)
{
	return (struct fetch_account){ .name = "test",
		.host = "pop.example",
		.port = "110",
		.tls = FETCH_TLS_OFF,
		.allow_plaintext = true,
		.user = "u",
		.password = "p",
		.auth = POP3_AUTH_USER,
		.policy = policy,
		.checkpoint = checkpoint,
		.has_keep_days = has_keep_days,
		.keep_days = keep_days,
		.decide = has_rules ? decide : NULL,
		.recover = recovered_uid != NULL ? recover : NULL,
		.stop = &stop_flag };
}

static int
run_account(struct fixture *f, const struct fetch_account *acct,
    struct mock_conn *mc)
{
	struct fetch_connector conn = { .connect = mock_connect, .arg = mc };

	expect_filing = has_rules ? &filing_marker : NULL;
	return fetch_account(acct, &conn, &f->store, &f->sink, &f->stats,
	    &f->err);
}

#define CAPA_USER "+OK\r\nUSER\r\nUIDL\r\nTOP\r\n.\r\n"
#define HELLO "+OK ready\r\n" CAPA_USER "+OK user\r\n+OK logged in\r\n"
#define EMPTY "+OK 0 messages\r\n.\r\n+OK\r\n.\r\n"

/*
 * checkpoint = 2 under each: QUIT after two DELEs, which makes them
 * final, then a new session for the rest, planned afresh.
 */
static void
test_account_checkpoint(void **state)
{
	struct fixture *f = *state;
	struct mock_conn mc = { .scripts = {
		                    HELLO LIST3 UIDL3 M1 OK M2 OK OK,
		                    HELLO "+OK 1 message\r\n1 30\r\n.\r\n"
		                          "+OK\r\n1 u-three\r\n.\r\n" M3 OK OK,
		                } };
	struct fetch_account acct;

	checkpoint = 2;
	acct = account(PLAN_EACH);
	assert_int_equal(run_account(f, &acct, &mc), 0);
	assert_int_equal(mc.next, 2);
	assert_string_equal(mc.written[0],
	    "CAPA\r\n" LOGIN "LIST\r\nUIDL\r\nRETR 1\r\nDELE 1\r\nRETR 2\r\n"
	    "DELE 2\r\nQUIT\r\n");
	assert_string_equal(mc.written[1],
	    "CAPA\r\n" LOGIN "LIST\r\nUIDL\r\nRETR 1\r\nDELE 1\r\nQUIT\r\n");
	assert_int_equal(f->stats.on_server, 3);
	assert_int_equal(f->stats.retrieved, 3);
	assert_int_equal(f->stats.deleted, 3);
	assert_true(f->stats.quit_ok);
	assert_int_equal(f->mem.nstored, 3);
	mock_conn_cleanup(&mc);
}

/*
 * The link is gone after a checkpoint: the deletions it made final
 * count, and the rest waits for the next run.
 */
static void
test_account_checkpoint_then_refused(void **state)
{
	struct fixture *f = *state;
	struct mock_conn mc = { .scripts = { HELLO LIST3 UIDL3 M1 OK M2 OK OK,
		                    NULL } };
	struct fetch_account acct;

	checkpoint = 2;
	acct = account(PLAN_EACH);
	assert_int_equal(run_account(f, &acct, &mc), -1);
	assert_int_equal(f->err.cls, ERR_TEMP);
	assert_non_null(strstr(f->err.msg, "refused"));
	assert_int_equal(f->stats.deleted, 2);
	assert_int_equal(f->stats.retrieved, 2);
	assert_false(uidl_has(f->st, "u-three", 30));
	mock_conn_cleanup(&mc);
}

/*
 * tls = starttls and a server whose CAPA has no STLS (stripped by an
 * attacker, perhaps): refused before any credential goes out.
 */
static void
test_account_stls_refused(void **state)
{
	struct fixture *f = *state;
	struct mock_conn mc = { .scripts = {
		                    "+OK ready\r\n" CAPA_USER "+OK bye\r\n" } };
	struct fetch_account acct = account(PLAN_KEEP);

	acct.tls = FETCH_TLS_STARTTLS;
	acct.allow_plaintext = false;
	assert_int_equal(run_account(f, &acct, &mc), -1);
	assert_int_equal(f->err.cls, ERR_PROTO);
	assert_non_null(strstr(f->err.msg, "does not offer STLS"));
	assert_string_equal(mc.written[0], "CAPA\r\nQUIT\r\n");
	mock_conn_cleanup(&mc);
}

/* STLS offered: TLS first, CAPA again, then the login. */
static void
test_account_stls(void **state)
{
	struct fixture *f = *state;
	struct mock_conn mc = { .scripts = { "+OK ready\r\n"
		                             "+OK\r\nSTLS\r\nUSER\r\n.\r\n"
		                             "+OK begin TLS\r\n" CAPA_USER
		                             "+OK\r\n+OK\r\n" EMPTY OK },
		.is_tls = true };
	struct fetch_account acct = account(PLAN_KEEP);

	acct.tls = FETCH_TLS_STARTTLS;
	acct.allow_plaintext = false;
	assert_int_equal(run_account(f, &acct, &mc), 0);
	assert_string_equal(mc.written[0],
	    "CAPA\r\nSTLS\r\nCAPA\r\n" LOGIN "LIST\r\nUIDL\r\nQUIT\r\n");
	mock_conn_cleanup(&mc);
}

#define CAPA_OAUTH "+OK\r\nSASL XOAUTH2\r\nUIDL\r\n.\r\n"
/*
 * Without TOP before login, CAPA is asked again after it (RFC 2449 §4);
 * this server has nothing to add.
 */
#define NO_CAPA_AGAIN "-ERR\r\n"
#define OAUTH_REFUSED "+ e30=\r\n-ERR [AUTH] token expired\r\n"

/* AUTH XOAUTH2 with the token, as it goes on the wire. */
static char *
xoauth2(const char *token)
{
	char *raw = xasprintf("user=u\001auth=Bearer %s\001\001", token);
	gchar *enc = g_base64_encode((const guchar *)raw, strlen(raw));
	char *line = xasprintf("AUTH XOAUTH2 %s\r\n", enc);

	g_free(enc);
	free(raw);
	return line;
}

/* An OAuth token refused: a fresh one, once, and the run goes on. */
static void
test_account_oauth_retry(void **state)
{
	struct fixture *f = *state;
	struct mock_conn mc = {
		.scripts = { "+OK ready\r\n" CAPA_OAUTH OAUTH_REFUSED
		             "+OK\r\n" NO_CAPA_AGAIN EMPTY OK },
		.is_tls = true
	};
	struct fetch_account acct = account(PLAN_KEEP);
	char *old = xoauth2("p"), *fresh = xoauth2("fresh"), *want;

	acct.tls = FETCH_TLS_ON;
	acct.allow_plaintext = false;
	acct.auth = POP3_AUTH_XOAUTH2;
	acct.refresh_secret = refresh;
	assert_int_equal(run_account(f, &acct, &mc), 0);
	assert_int_equal(refresh_calls, 1);
	/* The error challenge is answered with an empty line. */
	want = xasprintf("CAPA\r\n%s\r\n%sCAPA\r\nLIST\r\nUIDL\r\nQUIT\r\n",
	    old, fresh);
	assert_string_equal(mc.written[0], want);
	free(want);
	free(old);
	free(fresh);
	mock_conn_cleanup(&mc);
}

/* The fresh token refused too: no third try. */
static void
test_account_oauth_retry_once(void **state)
{
	struct fixture *f = *state;
	struct mock_conn mc = {
		.scripts = { "+OK ready\r\n" CAPA_OAUTH OAUTH_REFUSED
		        OAUTH_REFUSED "+OK bye\r\n" },
		.is_tls = true
	};
	struct fetch_account acct = account(PLAN_KEEP);

	acct.tls = FETCH_TLS_ON;
	acct.auth = POP3_AUTH_XOAUTH2;
	acct.refresh_secret = refresh;
	assert_int_equal(run_account(f, &acct, &mc), -1);
	assert_int_equal(f->err.cls, ERR_AUTH);
	assert_int_equal(refresh_calls, 1);
	assert_true(g_str_has_suffix(mc.written[0], "\r\n\r\nQUIT\r\n"));
	assert_null(strstr(mc.written[0], "LIST"));
	mock_conn_cleanup(&mc);
}

/* What fetch_preview() told, message by message. */
#define PREVIEW_MAX 8
struct preview {
	struct fetch_plan_msg pm[PREVIEW_MAX];
	bool has_header[PREVIEW_MAX];
	size_t n;
};

static void
preview_one(void *arg, const struct fetch_plan_msg *pm)
{
	struct preview *pv = arg;

	assert_true(pv->n < PREVIEW_MAX);
	pv->has_header[pv->n] = pm->header != NULL;
	pv->pm[pv->n] = *pm;
	pv->pm[pv->n].msg = NULL; /* borrowed for the call only */
	pv->pm[pv->n++].header = NULL;
}

static int
run_preview(struct fixture *f, const struct fetch_account *acct,
    struct mock_conn *mc, struct preview *pv, char **wire_out)
{
	struct fetch_connector conn = { .connect = mock_connect, .arg = mc };

	expect_filing = NULL;
	return fetch_preview(acct, &conn, &f->store, preview_one, pv, wire_out,
	    &f->err);
}

/* The RETRs, DELEs and QUIT of what the client wrote, as "RETR 1, QUIT". */
static char *
wire_sent(const char *written)
{
	gchar **lines = g_strsplit(written, "\r\n", -1);
	GString *out = g_string_new(NULL);
	char *text;
	size_t i;

	for (i = 0; lines[i] != NULL; i++)
		if (g_str_has_prefix(lines[i], "RETR ") ||
		    g_str_has_prefix(lines[i], "DELE ") ||
		    strcmp(lines[i], "QUIT") == 0)
			g_string_append_printf(out, "%s%s",
			    out->len > 0 ? ", " : "", lines[i]);
	text = xstrdup(out->str);
	g_string_free(out, TRUE);
	g_strfreev(lines);
	return text;
}

/*
 * Run the account over mc's next connection, and check that it sends
 * what the preview said (wire), in that order.
 */
static void
expect_run_sends(struct fixture *f, const struct fetch_account *acct,
    struct mock_conn *mc, const char *wire)
{
	size_t at = mc->next;
	char *sent;

	assert_int_equal(run_account(f, acct, mc), 0);
	sent = wire_sent(mc->written[at]);
	assert_string_equal(sent, wire);
	free(sent);
}

/*
 * Defect 4 of issue 13: under keep with keep_days, a message past its
 * days is shown as deleted, as the run deletes it, and the run then sends
 * what the preview said.  The preview changes nothing.
 */
static void
test_preview_keep_days(void **state)
{
	struct fixture *f = *state;
	struct mock_conn mc = { .scripts = {
		                    HELLO LIST3 UIDL3 TOPM1 TOPM2 TOPM3 OK,
		                    HELLO LIST3 UIDL3 M3 OK OK,
		                } };
	struct fetch_account acct;
	struct preview pv = { 0 };
	char *wire = NULL;

	has_keep_days = true;
	keep_days = 3;
	acct = account(PLAN_KEEP);
	/* One seen long ago, one seen now, one new. */
	assert_int_equal(uidl_append(f->st, "u-one", 10, "f1", 1, &f->err), 0);
	assert_int_equal(uidl_append(f->st, "u-two", 20, "f2",
	                     (int64_t)time(NULL), &f->err),
	    0);
	assert_int_equal(uidl_sync(f->st, &f->err), 0);
	assert_int_equal(run_preview(f, &acct, &mc, &pv, &wire), 0);
	assert_string_equal(mc.written[0],
	    "CAPA\r\n" LOGIN
	    "LIST\r\nUIDL\r\nTOP 1 0\r\nTOP 2 0\r\nTOP 3 0\r\nQUIT\r\n");
	assert_int_equal(pv.n, 3);
	assert_true(pv.has_header[0]);
	assert_true(pv.pm[0].is_seen && pv.pm[0].is_expired &&
	    pv.pm[0].is_dele && !pv.pm[0].is_retr);
	assert_true(pv.pm[1].is_seen && !pv.pm[1].is_expired &&
	    !pv.pm[1].is_dele && !pv.pm[1].is_retr);
	assert_true(!pv.pm[2].is_seen && pv.pm[2].is_retr && !pv.pm[2].is_dele);
	assert_string_equal(wire, "RETR 3, DELE 1, QUIT");
	assert_int_equal(uidl_count(f->st), 2); /* nothing recorded */

	expect_run_sends(f, &acct, &mc, wire);
	assert_int_equal(f->stats.deleted, 1);
	free(wire);
	mock_conn_cleanup(&mc);
}

/*
 * The rules' decisions from TOP are the plan's: the skipped message is
 * neither retrieved nor deleted, the discarded one deleted unretrieved
 * (each deletes), and the run sends what the preview said.
 */
static void
test_preview_rules(void **state)
{
	struct fixture *f = *state;
	struct mock_conn mc = { .scripts = {
		                    HELLO LIST3 UIDL3 TOPM1 TOPM2 TOPM3 OK,
		                    HELLO LIST3 UIDL3 TOPM1 TOPM2 TOPM3 M1 OK OK
		                        OK,
		                } };
	struct fetch_account acct;
	struct preview pv = { 0 };
	char *wire = NULL;

	has_rules = true;
	acct = account(PLAN_EACH);
	assert_int_equal(run_preview(f, &acct, &mc, &pv, &wire), 0);
	assert_int_equal(decide_calls, 3);
	assert_int_equal(pv.n, 3);
	assert_true(pv.pm[0].is_decided && pv.pm[0].verdict == FETCH_STORE &&
	    pv.pm[0].is_retr && pv.pm[0].is_dele);
	assert_true(pv.pm[1].is_decided && pv.pm[1].verdict == FETCH_SKIP &&
	    !pv.pm[1].is_retr && !pv.pm[1].is_dele);
	assert_true(pv.pm[2].is_decided && pv.pm[2].verdict == FETCH_DISCARD &&
	    !pv.pm[2].is_retr && pv.pm[2].is_dele);
	assert_string_equal(wire, "RETR 1, DELE 1, DELE 3, QUIT");

	expect_run_sends(f, &acct, &mc, wire);
	free(wire);
	mock_conn_cleanup(&mc);
}

/*
 * A server whose CAPA has no TOP: the run decides as each message
 * arrives, so it retrieves the skipped and the discarded one too; the
 * preview says so (it still reads the headers, for the listing).
 */
static void
test_preview_rules_without_top(void **state)
{
	struct fixture *f = *state;
	const char *hello = "+OK ready\r\n+OK\r\nUSER\r\nUIDL\r\n.\r\n"
	                    "+OK user\r\n+OK logged in\r\n" NO_CAPA_AGAIN;
	char *script[2] = {
		g_strconcat(hello, LIST3, UIDL3, TOPM1, TOPM2, TOPM3, OK, NULL),
		g_strconcat(hello, LIST3, UIDL3, M1, OK, M2, M3, OK, OK, NULL),
	};
	struct mock_conn mc = { .scripts = { script[0], script[1] } };
	struct fetch_account acct;
	struct preview pv = { 0 };
	char *wire = NULL;

	has_rules = true;
	acct = account(PLAN_EACH);
	assert_int_equal(run_preview(f, &acct, &mc, &pv, &wire), 0);
	assert_true(pv.pm[1].is_decided && pv.pm[1].verdict == FETCH_SKIP &&
	    pv.pm[1].is_retr && !pv.pm[1].is_dele);
	assert_true(pv.pm[2].verdict == FETCH_DISCARD && pv.pm[2].is_retr &&
	    pv.pm[2].is_dele);
	assert_string_equal(wire,
	    "RETR 1, DELE 1, RETR 2, RETR 3, DELE 3, QUIT");

	expect_run_sends(f, &acct, &mc, wire);
	assert_int_equal(f->stats.skipped, 1);
	assert_int_equal(f->stats.discarded, 1);
	free(wire);
	g_free(script[0]);
	g_free(script[1]);
	mock_conn_cleanup(&mc);
}

/*
 * After a killed run, the preview finds what the run would recover (and
 * records nothing): shown stored, deleted unfetched under each, as the
 * run then does.
 */
static void
test_preview_recover(void **state)
{
	struct fixture *f = *state;
	struct mock_conn mc = { .scripts = {
		                    HELLO LIST3 UIDL3 TOPM1 TOPM2 TOPM3 OK,
		                    HELLO LIST3 UIDL3 M1 OK OK M3 OK OK,
		                } };
	struct fetch_account acct;
	struct preview pv = { 0 };
	char *wire = NULL;

	recovered_uid = "u-two";
	acct = account(PLAN_EACH);
	assert_int_equal(run_preview(f, &acct, &mc, &pv, &wire), 0);
	assert_int_equal(pv.n, 3);
	assert_true(pv.pm[1].is_recovered && pv.pm[1].is_seen &&
	    pv.pm[1].is_dele && !pv.pm[1].is_retr);
	assert_false(pv.pm[0].is_recovered || pv.pm[2].is_recovered);
	assert_string_equal(wire,
	    "RETR 1, DELE 1, DELE 2, RETR 3, DELE 3, QUIT");
	assert_false(uidl_has(f->st, "u-two", 20)); /* nothing recorded */

	expect_run_sends(f, &acct, &mc, wire);
	assert_true(uidl_has(f->st, "u-two", 20));
	free(wire);
	mock_conn_cleanup(&mc);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_batch_in_rounds),
		T(test_each_message_by_message),
		T(test_sync_failure_keeps_round),
		T(test_each_sync_failure),
		T(test_each_rules_without_top),
		T(test_each_pipelined),
		T(test_each_pipelined_retr_err),
		T(test_each_pipelined_checkpoint),
		T(test_each_pipelined_seen),
		T(test_pipelined_retr),
		T(test_pipelined_retr_err),
		T(test_pipelined_failure_drains),
		T(test_lockstep_server),
		T(test_lockstep_server_octets),
		T(test_lockstep_server_keep),
		T(test_keep_fetches_new_only),
		T(test_each_is_foxmail_order),
		T(test_batch_is_outlook_order),
		T(test_seen_message_deleted_unread),
		T(test_reused_uid_other_size_fetched),
		T(test_commit_failure_stops_without_dele),
		T(test_retr_err_skips_one_message),
		T(test_drop_mid_message),
		T(test_keep_without_uidl_refused),
		T(test_each_without_uidl),
		T(test_store_compacted),
		T(test_checkpoint_quits),
		T(test_stop_before_next_message),
		T(test_keep_skips_bad_uid),
		T(test_msgid_fallback),
		T(test_msgid_fallback_needs_top),
		T(test_recover_after_kill),
		T(test_recover_shared_uid_by_size),
		T(test_recover_refuses_twins),
		T(test_twins_fetched_before_delete),
		T(test_twins_kept_by_keep_days),
		T(test_rules_before_download),
		T(test_rules_without_top),
		T(test_account_checkpoint),
		T(test_account_checkpoint_then_refused),
		T(test_account_stls_refused),
		T(test_account_stls),
		T(test_account_oauth_retry),
		T(test_account_oauth_retry_once),
		T(test_preview_keep_days),
		T(test_preview_rules),
		T(test_preview_rules_without_top),
		T(test_preview_recover),
		T(test_rules_size_before_download),
		T(test_size_changed),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
