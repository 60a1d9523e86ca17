#include "config.h"

#include <assert.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glib.h>

#include "fetch/fetch.h"
#include "util/log.h"
#include "util/xmalloc.h"

/* The header of a message (from TOP n 0, or RETR), up to a bound. */
#define FETCH_HEADER_MAX (256 * 1024)

/*
 * Group commit: a round retrieves up to this many messages (and about
 * this many octets, so that big messages still go one by one), then
 * makes them durable together: one sink sync, one journal fsync.  Their
 * DELEs follow.  A kill costs at most a round's worth of downloads,
 * never a message.
 */
#define FETCH_BATCH 64
#define FETCH_BATCH_BYTES (8 * 1024 * 1024)

/*
 * RFC 2449 §6.6 PIPELINING: how many TOP commands, and DELEs under
 * each, may be in flight.
 */
#define FETCH_WINDOW 32
/*
 * The RETRs of keep and batch go out as far ahead as pop3_may_pipeline()
 * lets commands go (a few kilobytes of them, so that no write can
 * block), and as far as the octets of messages (as LIST announced them)
 * beyond the one being read stay within a window.  The window covers
 * twice the bandwidth-delay product as measured (the round trip from
 * pop3_get_rtt_us(), the rate from what came in so far), between these
 * bounds: the link stays busy at any round trip, and a stop request
 * waits behind a bounded download.  Memory does not grow with it: what
 * is ahead waits in the socket buffers and the server, and is read in
 * chunks.
 */
#define FETCH_WINDOW_BYTES (1024 * 1024)
#define FETCH_WINDOW_BYTES_MAX (64 * 1024 * 1024)
/* The low mark: RETRs go out again once this many more may. */
#define FETCH_REFILL 64

/* A message of the round: retrieved or discarded, not yet durable. */
struct fetch_done {
	size_t idx;
	char *name;    /* as the sink stored it; NULL: discarded, or unnamed */
	bool is_kept;  /* stored, not discarded */
	uint64_t size; /* octets stored */
	uint64_t hid;  /* header id (fetch_header_id()), 0 if unknown */
};

struct fetch_header {
	char buf[FETCH_HEADER_MAX];
	size_t len;
};

/*
 * What the sessions of one fetch_account() (checkpoint) tell each other:
 * which messages a QUIT made deleted, so that a server that accepts DELE
 * and deletes nothing is seen and not counted as having deleted.
 */
struct fetch_track {
	GHashTable *dropped; /* uids deleted by an earlier session (owned) */
	GPtrArray *now;      /* uids whose DELE this session got +OK for */
	unsigned relisted;   /* of dropped, listed again by this session */
	unsigned redeleted;  /* DELEs of this session for uids in dropped */
	/* The session before: messages listed, deletions QUIT made final. */
	unsigned prev_on_server;
	unsigned prev_deleted;
};

/* The state of one run over a logged-in session. */
struct fetch_run {
	struct pop3_session *s;
	const struct fetch_account *acct;
	const char *account;
	const struct store *st;
	const struct sink *sink;
	struct pop3_msg *msgs;
	size_t n;
	bool *is_stored; /* durable in the Maildir and recorded */
	struct fetch_stats *stats;
	uint64_t in_flight; /* octets of the message being retrieved */
	struct err first;   /* the first message-scope failure, if any */
	bool *is_gone;      /* gone from the Maildir, to delete */
	/*
	 * Duplicate unique-ids in the listing: is_shared, another message
	 * has the same uid; is_twin, the same uid and size, so that the
	 * state cannot tell them apart (see fetch_find_shared()).
	 */
	bool *is_shared;
	bool *is_twin;
	bool *is_found; /* by acct->recover (see fetch_recover()) */
	/* The round in hand: */
	struct fetch_done *done; /* up to FETCH_BATCH */
	size_t ndone;
	size_t *dele; /* DELEs of the plan waiting for their round */
	size_t ndele;
	bool is_stopped;       /* a stop request came: no more RETRs */
	bool is_journal_dirty; /* records written, not yet fsynced */
	/* With rules (acct->decide): */
	enum fetch_verdict *pre;    /* decided from TOP before RETR */
	struct fetch_header *hdr;   /* the header of the message in hand */
	const struct pop3_msg *cur; /* the message in hand */
	bool is_begun;              /* decided, and the sink begun if stored */
	bool is_hdr_open;           /* the header not all in hdr yet */
	enum fetch_verdict verdict; /* of the message in hand */
	const void *filing;         /* and where it goes, for the sink */
	struct fetch_track *track;  /* NULL: a session on its own */
	struct fetch_account nocp;  /* acct without its checkpoint */
};

static uint64_t fetch_header_id(const char *hdr, size_t len);

/* The state, through the interface cli/ hands in (fetch/fetch.h). */
static bool
store_has(const struct store *st, const char *uid, uint64_t size)
{
	return st->ops->has(st->ctx, uid, size);
}

static int64_t
store_first_seen(const struct store *st, const char *uid, uint64_t size)
{
	return st->ops->first_seen(st->ctx, uid, size);
}

static const char *
store_file(const struct store *st, const char *uid, uint64_t size)
{
	return st->ops->file(st->ctx, uid, size);
}

static size_t
store_count(const struct store *st)
{
	return st->ops->count(st->ctx);
}

static int
store_append(const struct store *st, const char *uid, uint64_t size,
    const char *file, uint64_t hid, int64_t now, struct err *err)
{
	return st->ops->append(st->ctx, uid, size, file, hid, now, err);
}

static int
store_sync(const struct store *st, struct err *err)
{
	return st->ops->sync(st->ctx, err);
}

static int
store_compact(const struct store *st, const char *const *keep, size_t n,
    struct err *err)
{
	return st->ops->compact(st->ctx, keep, n, err);
}

/*
 * The message's header is in: decide what to do with it, and when it
 * is to be stored begin the sink with what was held back.
 */
static int
fetch_begin(struct fetch_run *r, struct err *err)
{
	const struct sink *sink = r->sink;

	r->is_begun = true;
	r->verdict = FETCH_STORE;
	r->filing = NULL;
	if (r->acct->decide(r->acct->decide_arg, r->cur, r->hdr->buf,
	        r->hdr->len, &r->verdict, &r->filing, err) == -1)
		return -1;
	if (r->verdict != FETCH_STORE)
		return 0;
	if (sink->ops->begin(sink->ctx, r->cur, r->filing, err) == -1) {
		r->verdict = FETCH_SKIP; /* nothing to abort */
		return -1;
	}
	if (sink->ops->write(sink->ctx, r->hdr->buf, r->hdr->len, err) == -1) {
		sink->ops->abort(sink->ctx);
		r->verdict = FETCH_SKIP;
		return -1;
	}
	return 0;
}

/*
 * How much of data, added to the header held so far, completes it: up
 * to and with the blank line that ends it (RFC 5322 §2.1), or the bound.
 * 0: not yet.
 */
static size_t
fetch_header_take(const struct fetch_run *r, const char *data, size_t len)
{
	char prev = r->hdr->len > 0 ? r->hdr->buf[r->hdr->len - 1] : '\n';
	size_t i, room = FETCH_HEADER_MAX - r->hdr->len;

	for (i = 0; i < len && i < room; i++) {
		if (data[i] == '\n' && prev == '\n')
			return i + 1;
		prev = data[i];
	}
	return i == room ? room : 0;
}

/* keep_days: has msg had its days on the server? */
static bool
fetch_is_due(const struct fetch_run *r, const struct pop3_msg *msg)
{
	int64_t first;

	if (!r->acct->has_keep_days || r->is_twin[msg - r->msgs] ||
	    (first = store_first_seen(r->st, msg->uid, msg->size)) < 0)
		return false;
	return plan_is_due(first, r->acct->keep_days, (int64_t)time(NULL));
}

/* keep_days, delete_when_gone_locally: is msg to go from the server? */
static bool
fetch_expired(void *arg, const struct pop3_msg *msg)
{
	struct fetch_run *r = arg;

	if (r->is_twin[msg - r->msgs])
		return false; /* which of them is due, or gone? */
	if (r->is_gone != NULL && r->is_gone[msg - r->msgs])
		return true;
	return fetch_is_due(r, msg);
}

/* Delivered before (looked up once, when the run began). */
static bool
fetch_seen_run(void *arg, const struct pop3_msg *msg)
{
	struct fetch_run *r = arg;

	return r->is_stored[msg - r->msgs];
}

static int
fetch_sink_write(void *arg, const char *data, size_t len, struct err *err)
{
	struct fetch_run *r = arg;
	size_t take;

	r->in_flight += len;
	if (r->acct->progress != NULL)
		r->acct->progress(r->acct->progress_arg, r->stats,
		    r->in_flight);
	if (!r->is_begun) {
		/* With rules: hold the header back until it is complete. */
		take = fetch_header_take(r, data, len);
		memcpy(r->hdr->buf + r->hdr->len, data, take != 0 ? take : len);
		r->hdr->len += take != 0 ? take : len;
		if (take == 0)
			return 0;
		r->is_hdr_open = false;
		if (fetch_begin(r, err) == -1)
			return -1;
		data += take;
		len -= take;
	}
	if (r->is_hdr_open) {
		/* Kept for the header id, as it goes by. */
		take = fetch_header_take(r, data, len);
		memcpy(r->hdr->buf + r->hdr->len, data, take != 0 ? take : len);
		r->hdr->len += take != 0 ? take : len;
		r->is_hdr_open = take == 0;
	}
	if (r->verdict != FETCH_STORE || len == 0)
		return 0;
	return r->sink->ops->write(r->sink->ctx, data, len, err);
}

/*
 * A message a rule did not store.  skip: it stays on the server, as if
 * it were not there.  discard: it is recorded as dealt with, with the
 * round, and so may be deleted when the strategy deletes (a rule said so
 * explicitly).
 */
static void
fetch_unstored(struct fetch_run *r, size_t idx, enum fetch_verdict verdict)
{
	const struct pop3_msg *msg = &r->msgs[idx];

	if (verdict == FETCH_SKIP) {
		r->stats->skipped++;
		log_info("%s: message %u: skipped by a rule", r->account,
		    msg->num);
		return;
	}
	r->done[r->ndone++] = (struct fetch_done){ .idx = idx };
}

/* Reads a reply only to stay in step with the server. */
static int
fetch_discard(void *arg, const char *data, size_t len, struct err *err)
{
	(void)arg;
	(void)data;
	(void)len;
	(void)err;
	return 0;
}

/*
 * Read the reply to RETR for message idx (sent before) into the sink and
 * commit it there: it joins the round, durable once the round is.
 */
static int
fetch_read_one(struct fetch_run *r, size_t idx, struct err *err)
{
	const struct pop3_msg *msg = &r->msgs[idx];
	const struct sink *sink = r->sink;
	uint64_t size = 0;
	char *name = NULL;

	r->in_flight = 0;
	r->cur = msg;
	r->verdict = FETCH_STORE;
	r->is_begun = r->acct->decide == NULL;
	r->hdr->len = 0;
	r->is_hdr_open = true;
	if (r->is_begun && sink->ops->begin(sink->ctx, msg, NULL, err) == -1) {
		/* The reply must still be read, to stay in step. */
		(void)pop3_read_retr(r->s, fetch_discard, NULL, NULL,
		    &(struct err){ 0 });
		goto fail;
	}
	if (pop3_read_retr(r->s, fetch_sink_write, r, &size, err) == -1) {
		if (r->is_begun && r->verdict == FETCH_STORE)
			sink->ops->abort(sink->ctx);
		goto fail;
	}
	/* A message that ended inside its header. */
	if (!r->is_begun && fetch_begin(r, err) == -1)
		goto fail;
	if (r->verdict != FETCH_STORE) {
		fetch_unstored(r, idx, r->verdict);
		return 0;
	}
	if (sink->ops->commit(sink->ctx, &name, err) == -1)
		goto fail;
	r->done[r->ndone++] = (struct fetch_done){ .idx = idx,
		.name = name,
		.is_kept = true,
		.size = size,
		.hid = fetch_header_id(r->hdr->buf, r->hdr->len) };
	r->in_flight = 0;
	return 0;
fail:
	err_prefix(err, "message %u", msg->num);
	return -1;
}

/*
 * A failure confined to one message is remembered and the run goes on
 * (0); anything wider ends it (-1).
 */
static int
fetch_message_failed(struct fetch_run *r, struct err *err)
{
	if (err->scope != ERR_SCOPE_MESSAGE ||
	    pop3_get_state(r->s) == POP3_BROKEN)
		return -1;
	log_warnx("%s: %s (left on the server)", r->account, err->msg);
	if (r->first.cls == ERR_NONE)
		r->first = *err;
	return 0;
}

static bool
fetch_stop_requested(const struct fetch_run *r)
{
	return r->acct->stop != NULL && *r->acct->stop;
}

/*
 * The RETRs of keep and batch, sent ahead of the replies read: the plan
 * is walked for them (from step next), and those sent and not yet read
 * wait in a ring, oldest first.
 */
#define FETCH_PIPE_MAX 1024
struct fetch_pipe {
	const struct plan *p;
	size_t next;                 /* the step to look at for a RETR */
	size_t ring[FETCH_PIPE_MAX]; /* messages in flight */
	size_t head, n;
	bool has_sent;
	uint64_t ahead;  /* announced octets sent for beyond the one read */
	uint64_t window; /* the bound on ahead */
	uint64_t in;     /* announced octets read */
	struct timespec t0;
};

/* Is there a message to retrieve at or after step pp->next?  It goes there. */
static bool
fetch_pipe_more(const struct fetch_run *r, struct fetch_pipe *pp)
{
	const struct plan_step *steps = pp->p->steps;

	for (; pp->next < pp->p->nsteps; pp->next++)
		if (steps[pp->next].op == PLAN_RETR &&
		    (r->pre == NULL ||
		        r->pre[steps[pp->next].idx] == FETCH_STORE))
			return true;
	return false;
}

/* The announced size of the message i places after the oldest in flight. */
static uint64_t
fetch_pipe_size(const struct fetch_run *r, const struct fetch_pipe *pp,
    size_t i)
{
	return r->msgs[pp->ring[(pp->head + i) % FETCH_PIPE_MAX]].size;
}

/*
 * Send RETRs ahead: the next one whenever nothing is in flight; with
 * PIPELINING, the one after the message being read as well, and more
 * while the window and pop3_may_pipeline() allow, once there is room
 * for FETCH_REFILL of them (so that a write carries many).  They stay
 * queued until the next read or pop3_flush().
 */
static int
fetch_pipe_send(struct fetch_run *r, struct fetch_pipe *pp, struct err *err)
{
	if (pp->n > 1 && !pop3_may_pipeline(r->s, FETCH_REFILL))
		return 0;
	while (pp->n < FETCH_PIPE_MAX && fetch_pipe_more(r, pp)) {
		size_t idx = pp->p->steps[pp->next].idx;
		uint64_t size = r->msgs[idx].size;

		if (pp->n > 0 &&
		    (!pop3_may_pipeline(r->s, 1) ||
		        (pp->n > 1 && pp->ahead + size > pp->window)))
			break;
		if (fetch_stop_requested(r))
			r->is_stopped = true;
		if (r->is_stopped)
			break;
		if (pop3_send_retr(r->s, r->msgs[idx].num, err) == -1)
			return -1;
		if (pp->n > 0)
			pp->ahead += size;
		pp->ring[(pp->head + pp->n++) % FETCH_PIPE_MAX] = idx;
		pp->next++;
		if (!pp->has_sent)
			(void)clock_gettime(CLOCK_MONOTONIC, &pp->t0);
		pp->has_sent = true;
	}
	return 0;
}

/* A reply is read: the next message is the one read, the window moves. */
static void
fetch_pipe_advance(struct fetch_run *r, struct fetch_pipe *pp)
{
	struct timespec now;
	uint64_t rtt = pop3_get_rtt_us(r->s), us, want;

	pp->in += fetch_pipe_size(r, pp, 0);
	pp->head = (pp->head + 1) % FETCH_PIPE_MAX;
	if (--pp->n > 0)
		pp->ahead -= fetch_pipe_size(r, pp, 0);
	if (rtt == 0 || clock_gettime(CLOCK_MONOTONIC, &now) == -1)
		return;
	us = (uint64_t)((int64_t)(now.tv_sec - pp->t0.tv_sec) * 1000000 +
	    (now.tv_nsec - pp->t0.tv_nsec) / 1000);
	if (us == 0 || pp->in > UINT64_MAX / 2 / rtt)
		return;
	/*
	 * Twice what the rate so far carries in a round trip.  While the
	 * window is what holds the rate back, this doubles it each round
	 * trip; once the link is, it settles at twice its product.
	 */
	want = 2 * pp->in * rtt / us;
	pp->window = want < FETCH_WINDOW_BYTES ? FETCH_WINDOW_BYTES
	    : want > FETCH_WINDOW_BYTES_MAX    ? FETCH_WINDOW_BYTES_MAX
	                                       : want;
}

/* Read and drop the replies still due, to stay in step with the server. */
static void
fetch_pipe_drain(struct fetch_run *r, struct fetch_pipe *pp)
{
	for (; pp->n > 0 && pop3_get_state(r->s) != POP3_BROKEN; pp->n--)
		(void)pop3_read_retr(r->s, fetch_discard, NULL, NULL,
		    &(struct err){ 0 });
}

/*
 * Read the next message of the pipe into the round, sending more RETRs
 * first.  0 also when it failed alone (remembered); -1 when the run must
 * end, with what was sent drained if the session still can.
 */
static int
fetch_pipe_read(struct fetch_run *r, struct fetch_pipe *pp, struct err *err)
{
	size_t idx = pp->ring[pp->head];
	int rc;

	if (fetch_pipe_send(r, pp, err) == -1)
		return -1; /* the session is broken */
	rc = fetch_read_one(r, idx, err);
	fetch_pipe_advance(r, pp);
	if (rc == 0 || fetch_message_failed(r, err) == 0)
		return 0;
	fetch_pipe_drain(r, pp);
	return -1;
}

/*
 * The round's messages made durable, together: the sink's sync (every
 * file and directory fsynced), then each recorded in the journal, one
 * journal fsync (unless is_lazy: see fetch_steps_each()).  Only then may
 * any of them be deleted.
 */
static int
fetch_round_commit(struct fetch_run *r, bool is_lazy, struct err *err)
{
	const struct sink *sink = r->sink;
	bool has_kept = false;
	size_t i;
	int rc = -1;

	for (i = 0; i < r->ndone; i++)
		has_kept |= r->done[i].is_kept;
	if (has_kept && sink->ops->sync != NULL &&
	    sink->ops->sync(sink->ctx, err) == -1)
		goto out;
	for (i = 0; i < r->ndone; i++) {
		const struct fetch_done *d = &r->done[i];
		const struct pop3_msg *msg = &r->msgs[d->idx];

		if (msg->has_uid &&
		    store_append(r->st, msg->uid, msg->size, d->name, d->hid,
		        (int64_t)time(NULL), err) == -1)
			goto out;
	}
	if (r->ndone > 0 && !is_lazy && store_sync(r->st, err) == -1)
		goto out;
	r->is_journal_dirty |= r->ndone > 0 && is_lazy;
	for (i = 0; i < r->ndone; i++) {
		const struct fetch_done *d = &r->done[i];
		const struct pop3_msg *msg = &r->msgs[d->idx];

		r->is_stored[d->idx] = true;
		if (!d->is_kept) {
			log_info("%s: message %u: discarded by a rule",
			    r->account, msg->num);
			r->stats->discarded++;
			continue;
		}
		/* -v: one short line a message; -v -v: where it went. */
		log_info("%s: message %u: %llu octets stored", r->account,
		    msg->num, (unsigned long long)d->size);
		log_debug("%s: message %u: stored as %s", r->account, msg->num,
		    d->name != NULL ? d->name : "(unnamed)");
		r->stats->retrieved++;
		r->stats->bytes += d->size;
	}
	rc = 0;
out:
	for (i = 0; i < r->ndone; i++)
		free(r->done[i].name);
	r->ndone = 0;
	if (rc == 0 && r->acct->progress != NULL)
		r->acct->progress(r->acct->progress_arg, r->stats, 0);
	return rc;
}

/* Read the reply to the DELE sent for message idx. */
static int
fetch_read_dele(struct fetch_run *r, size_t idx, struct err *err)
{
	const struct pop3_msg *m = &r->msgs[idx];

	if (pop3_read_dele(r->s, err) == 0) {
		r->stats->deleted++;
		if (r->track != NULL && m->has_uid) {
			if (g_hash_table_contains(r->track->dropped, m->uid))
				r->track->redeleted++;
			else
				g_ptr_array_add(r->track->now, xstrdup(m->uid));
		}
		return 0;
	}
	err_prefix(err, "message %u", r->msgs[idx].num);
	return fetch_message_failed(r, err);
}

/*
 * Send the waiting DELEs whose messages are durable now, pipelined, and
 * read their replies.  The rest wait (their messages were not stored:
 * never deleted, promise 1).  With checkpoint, no more than it allows.
 */
static int
fetch_round_delete(struct fetch_run *r, struct err *err)
{
	size_t *todo, ntodo = 0, keep = 0, sent = 0, got, i;
	unsigned limit = UINT_MAX;
	int rc = -1;

	if (r->acct->checkpoint != 0)
		limit = r->acct->checkpoint > r->stats->deleted
		    ? r->acct->checkpoint - r->stats->deleted
		    : 0;
	todo = xreallocarray(NULL, r->ndele + 1, sizeof(*todo));
	for (i = 0; i < r->ndele; i++) {
		if (r->is_stored[r->dele[i]] && ntodo < limit)
			todo[ntodo++] = r->dele[i];
		else if (!r->is_stored[r->dele[i]])
			r->dele[keep++] = r->dele[i];
	}
	r->ndele = keep;
	for (got = 0; got < ntodo; got++) {
		if (sent == got || pop3_may_pipeline(r->s, FETCH_REFILL))
			while (sent < ntodo &&
			    (sent == got || pop3_may_pipeline(r->s, 1)))
				if (pop3_send_dele(r->s,
				        r->msgs[todo[sent++]].num, err) == -1)
					goto out;
		if (fetch_read_dele(r, todo[got], err) == -1)
			goto out;
	}
	if (r->acct->checkpoint != 0 &&
	    r->stats->deleted >= r->acct->checkpoint)
		r->stats->is_checkpoint = true;
	rc = 0;
out:
	free(todo);
	return rc;
}

/*
 * How many messages a round holds: FETCH_BATCH, or with checkpoint (and
 * a strategy that deletes) no more than it lets be deleted.
 */
static size_t
fetch_batch_size(const struct fetch_run *r)
{
	unsigned left;

	if (r->acct->checkpoint == 0 || r->acct->policy == PLAN_KEEP)
		return FETCH_BATCH;
	left = r->acct->checkpoint > r->stats->deleted
	    ? r->acct->checkpoint - r->stats->deleted
	    : 0;
	return left == 0 ? 1 : left < FETCH_BATCH ? left : FETCH_BATCH;
}

/*
 * Make the round durable.  The RETRs queued go out first: the server
 * sends the next round while this one is fsynced.
 */
static int
fetch_round_end(struct fetch_run *r, uint64_t *bytes, struct err *err)
{
	*bytes = 0;
	if (pop3_flush(r->s, err) == -1)
		return -1;
	return fetch_round_commit(r, false, err);
}

/*
 * keep and batch: run the plan in rounds of group commit (up to
 * fetch_batch_size() messages or about FETCH_BATCH_BYTES), over one
 * pipeline of RETRs that never drains: the RETRs of the next round are
 * on the wire while a round is made durable (fetch_round_end()).  Only
 * DELEs wait for it, and the plan puts every DELE of these strategies
 * after the last RETR (batch: all RETRs, then all DELEs, then QUIT), so
 * they go out last, each only for a message durable by then.  A
 * message the rules settled from TOP is not retrieved at all.  Even
 * when the run must end, what was retrieved is made durable first.
 */
static int
fetch_steps_rounds(struct fetch_run *r, const struct plan *p, struct err *err)
{
	struct fetch_pipe *pp = xcalloc(1, sizeof(*pp));
	size_t batch = fetch_batch_size(r), i;
	uint64_t bytes = 0;
	struct err cerr;
	int rc = 0;

	pp->p = p;
	pp->window = FETCH_WINDOW_BYTES;
	r->done = xreallocarray(NULL, FETCH_BATCH, sizeof(*r->done));
	r->dele = xreallocarray(NULL, p->nsteps + 1, sizeof(*r->dele));
	for (i = 0; rc == 0 && i < p->nsteps; i++) {
		const struct plan_step *step = &p->steps[i];

		if (step->op == PLAN_DELE) {
			r->dele[r->ndele++] = step->idx;
			continue;
		}
		if ((r->ndone >= batch || bytes >= FETCH_BATCH_BYTES) &&
		    fetch_round_end(r, &bytes, err) == -1)
			goto uncommitted;
		if (r->pre != NULL && r->pre[step->idx] != FETCH_STORE) {
			fetch_unstored(r, step->idx, r->pre[step->idx]);
			continue;
		}
		if (pp->n == 0 && (rc = fetch_pipe_send(r, pp, err)) == -1)
			break;
		if (pp->n == 0)
			break; /* stopped */
		assert(pp->ring[pp->head] == step->idx);
		bytes += r->msgs[step->idx].size;
		rc = fetch_pipe_read(r, pp, err);
	}
	if (rc == 0) {
		if (fetch_round_end(r, &bytes, err) == -1)
			goto uncommitted;
		rc = fetch_round_delete(r, err);
		goto out;
	}
	/*
	 * Keep what came in whole, and delete it if the session still can
	 * (the DELEs of the plan, for what is durable); report the first
	 * error.
	 */
	fetch_pipe_drain(r, pp);
	for (; i < p->nsteps; i++)
		if (p->steps[i].op == PLAN_DELE)
			r->dele[r->ndele++] = p->steps[i].idx;
	err_clear(&cerr);
	if (fetch_round_commit(r, false, &cerr) == -1 ||
	    (pop3_get_state(r->s) == POP3_TRANSACTION &&
	        fetch_round_delete(r, &cerr) == -1))
		log_warnx("%s: %s", r->account, cerr.msg);
	goto out;
uncommitted:
	/* Nothing more is deleted; the replies due are read, for QUIT. */
	rc = -1;
	fetch_pipe_drain(r, pp);
out:
	free(pp);
	free(r->done);
	free(r->dele);
	return rc;
}

/*
 * Read the replies to the DELEs in flight (r->dele, in the order sent).
 * A refused one is remembered, as a message-scope failure.
 */
static int
fetch_each_replies(struct fetch_run *r, struct err *err)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < r->ndele; i++)
		if (rc == 0 && fetch_read_dele(r, r->dele[i], err) == -1)
			rc = -1;
		else if (rc == -1 && pop3_get_state(r->s) != POP3_BROKEN)
			(void)pop3_read_dele(r->s, &(struct err){ 0 });
	r->ndele = 0;
	return rc;
}

/*
 * May the next step go out?  Not once the DELEs done and in flight
 * reach the checkpoint (QUIT comes next); a RETR not after a stop
 * request either, while a DELE still may.
 */
static bool
fetch_each_may_go_on(struct fetch_run *r, const struct plan_step *step)
{
	if (r->acct->checkpoint != 0 &&
	    r->stats->deleted + r->ndele >= r->acct->checkpoint)
		return false;
	if (step->op == PLAN_DELE)
		return true;
	if (fetch_stop_requested(r))
		r->is_stopped = true;
	return !r->is_stopped;
}

/*
 * One message under each: RETR (after the DELEs before it, in the same
 * write when pipelined), its reply into the sink, then the message
 * durable.  A message the rules settled from TOP is not retrieved: a
 * discarded one is recorded (its DELE follows), a skipped one is left.
 */
static int
fetch_each_one(struct fetch_run *r, size_t idx, struct err *err)
{
	if (r->pre != NULL && r->pre[idx] != FETCH_STORE)
		fetch_unstored(r, idx, r->pre[idx]);
	else {
		if (!pop3_get_caps(r->s)->pipelining &&
		    fetch_each_replies(r, err) == -1)
			return -1;
		if (pop3_send_retr(r->s, r->msgs[idx].num, err) == -1 ||
		    fetch_each_replies(r, err) == -1)
			return -1;
		if (fetch_read_one(r, idx, err) == -1)
			return fetch_message_failed(r, err);
	}
	return fetch_round_commit(r, true, err);
}

/*
 * each, Foxmail's order on the wire: RETR n, message n made durable,
 * DELE n, then RETR n+1; never RETR n+1 before DELE n.  So a message
 * costs a round trip at least; with PIPELINING, DELE n and RETR n+1 go
 * out in one write, and it costs no more.  (DELEs of messages stored
 * before, whose deletion was lost, go out together, within the window.)
 *
 * Before DELE n, message n's file is fsynced and linked into new/, and
 * new/ is fsynced (the sink's sync); its journal record is written, one
 * write(2), but not fsynced.  That fsync is not needed for the
 * promises: RFC 1939 §6 deletes nothing until QUIT is answered, so
 *   - a kill of popfetch loses nothing the kernel was given: the record
 *     is there for the next run;
 *   - a crash of the machine before QUIT leaves message n on the server
 *     and perhaps not in the journal; but the run's "running" mark was
 *     durable before the first delivery, and the next run finds the
 *     message in the Maildir by its uid (fetch_recover()): recorded,
 *     not stored again;
 *   - after QUIT is answered, message n is no longer on the server: a
 *     lost record cannot make it come again.
 * The journal is fsynced once, before QUIT, so that a run that ends
 * (and takes its mark away) leaves every record durable.
 */
static int
fetch_steps_each(struct fetch_run *r, const struct plan *p, struct err *err)
{
	size_t window = pop3_get_caps(r->s)->pipelining ? FETCH_WINDOW : 1;
	size_t i;
	struct err cerr;
	int rc = 0;

	r->done = xreallocarray(NULL, 1, sizeof(*r->done));
	r->dele = xreallocarray(NULL, window, sizeof(*r->dele));
	for (i = 0; rc == 0 && i < p->nsteps; i++) {
		const struct plan_step *step = &p->steps[i];

		if (!fetch_each_may_go_on(r, step))
			break;
		if (step->op == PLAN_RETR) {
			rc = fetch_each_one(r, step->idx, err);
			continue;
		}
		/* Never for a message that is not durably stored. */
		if (!r->is_stored[step->idx])
			continue;
		if (r->ndele == window && fetch_each_replies(r, err) == -1)
			rc = -1;
		else if (pop3_send_dele(r->s, r->msgs[step->idx].num, err) ==
		    -1)
			rc = -1;
		else
			r->dele[r->ndele++] = step->idx;
	}
	err_clear(&cerr);
	if (pop3_get_state(r->s) == POP3_TRANSACTION &&
	    fetch_each_replies(r, rc == 0 ? err : &cerr) == -1)
		rc = -1;
	if (r->is_journal_dirty &&
	    store_sync(r->st, rc == 0 ? err : &cerr) == -1)
		rc = -1;
	if (r->acct->checkpoint != 0 &&
	    r->stats->deleted >= r->acct->checkpoint)
		r->stats->is_checkpoint = true;
	free(r->done);
	free(r->dele);
	return rc;
}

/* Run the plan in the order its strategy puts on the wire. */
static int
fetch_steps(struct fetch_run *r, const struct plan *p, struct err *err)
{
	int rc;

	if (r->acct->policy == PLAN_EACH)
		rc = fetch_steps_each(r, p, err);
	else
		rc = fetch_steps_rounds(r, p, err);
	if (rc == 0 && r->is_stopped) {
		err_setx(err, ERR_TEMP, "interrupted");
		return -1;
	}
	return rc;
}

/*
 * A LIST size past POP3_SIZE_MAX: the message could be neither recorded
 * nor told apart, so it stays on the server, a message-scope failure.
 */
static void
fetch_refuse_bad_sizes(struct fetch_run *r)
{
	struct err e;
	size_t i;

	for (i = 0; i < r->n; i++) {
		if (!r->msgs[i].has_bad_size)
			continue;
		err_clear(&e);
		err_setx(&e, ERR_PROTO,
		    "message %u: LIST gave a size larger than %lld octets",
		    r->msgs[i].num, (long long)POP3_SIZE_MAX);
		err_set_scope(&e, ERR_SCOPE_MESSAGE);
		log_warnx("%s: %s (left on the server)", r->account, e.msg);
		if (r->first.cls == ERR_NONE)
			r->first = e;
	}
}

static void
fetch_warn_bad_uids(const struct fetch_run *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		if (!r->msgs[i].has_bad_uid)
			continue;
		if (r->acct->policy == PLAN_KEEP)
			log_warnx(
			    "%s: message %u: the server gave it an unusable "
			    "unique-id; left on the server",
			    r->account, r->msgs[i].num);
		else
			log_warnx(
			    "%s: message %u: the server gave it an unusable "
			    "unique-id; an interrupted run may store it "
			    "twice",
			    r->account, r->msgs[i].num);
	}
}

static int
fetch_header_write(void *arg, const char *data, size_t len, struct err *err)
{
	struct fetch_header *h = arg;
	size_t room = sizeof(h->buf) - h->len;

	(void)err;
	if (len > room)
		len = room;
	memcpy(h->buf + h->len, data, len);
	h->len += len;
	return 0;
}

/*
 * The value of the field called name (with its colon, e.g. "date:") of
 * a header, unfolded and without white space, into out; false if there
 * is none.
 */
static bool
fetch_find_field(const char *hdr, size_t len, const char *name, char *out,
    size_t outlen)
{
	size_t i = 0, o = 0, nlen = strlen(name);

	while (i + nlen <= len) {
		if (g_ascii_strncasecmp(hdr + i, name, nlen) == 0)
			break;
		if (hdr[i] == '\n')
			return false; /* the blank line: end of header */
		while (i < len && hdr[i] != '\n')
			i++;
		i++;
	}
	if (i + nlen > len)
		return false;
	for (i += nlen; i < len && o + 1 < outlen; i++) {
		/* A folded line goes on with white space. */
		if (hdr[i] == '\n' &&
		    (i + 1 >= len || (hdr[i + 1] != ' ' && hdr[i + 1] != '\t')))
			break;
		if (hdr[i] != ' ' && hdr[i] != '\t' && hdr[i] != '\n')
			out[o++] = hdr[i];
	}
	out[o] = '\0';
	return o > 0;
}

/*
 * A message's header id: the first 64 bits of the SHA-256 of its
 * Message-ID (RFC 5322 §3.6.4) and Date (§3.6.1) fields, which a server
 * that adds its own fields (X-UID, Status) leaves alone.  0: it has
 * neither, and the id says nothing.
 */
static uint64_t
fetch_header_id(const char *hdr, size_t len)
{
	char msgid[1024], date[256];
	bool has_msgid, has_date;
	GChecksum *sum;
	guint8 digest[32];
	gsize dlen = sizeof(digest);
	uint64_t id = 0;
	int i;

	has_msgid =
	    fetch_find_field(hdr, len, "message-id:", msgid, sizeof(msgid));
	has_date = fetch_find_field(hdr, len, "date:", date, sizeof(date));
	if (!has_msgid && !has_date)
		return 0;
	sum = g_checksum_new(G_CHECKSUM_SHA256);
	g_checksum_update(sum, (const guchar *)(has_msgid ? msgid : ""), -1);
	g_checksum_update(sum, (const guchar *)"\n", 1);
	g_checksum_update(sum, (const guchar *)(has_date ? date : ""), -1);
	g_checksum_get_digest(sum, digest, &dlen);
	g_checksum_free(sum);
	for (i = 0; i < 8; i++)
		id = id << 8 | digest[i];
	return id != 0 ? id : 1;
}

/*
 * uidl_fallback = message-id: give each message a uid made from its
 * Message-ID (hashed, so it fits RFC 1939's 70 octets).  With its size
 * that tells messages apart well enough to keep them on the server.
 */
static int
fetch_msgid_uids(struct fetch_run *r, struct err *err)
{
	struct fetch_header *h = xmalloc(sizeof(*h));
	char msgid[1024];
	gchar *sum;
	size_t i;
	int rc = -1;

	for (i = 0; i < r->n; i++) {
		struct pop3_msg *m = &r->msgs[i];

		h->len = 0;
		if (pop3_top(r->s, m->num, 0, fetch_header_write, h, err) ==
		    -1) {
			err_prefix(err,
			    "uidl_fallback = message-id needs TOP (message %u)",
			    m->num);
			goto out;
		}
		if (!fetch_find_field(h->buf, h->len, "message-id:", msgid,
		        sizeof(msgid))) {
			/* Unknown to the state: fetched, perhaps again. */
			log_warnx("%s: message %u has no Message-ID "
			          "(uidl_fallback = message-id): %s",
			    r->account, m->num,
			    r->acct->policy == PLAN_KEEP
			        ? "left on the server"
			        : "an interrupted run may store it twice");
			continue;
		}
		sum =
		    g_compute_checksum_for_string(G_CHECKSUM_SHA256, msgid, -1);
		(void)snprintf(m->uid, sizeof(m->uid), "mid-%.40s", sum);
		g_free(sum);
		m->has_uid = true;
	}
	rc = 0;
out:
	free(h);
	return rc;
}

/*
 * RFC 1939 §7: the unique-id is a message's identity, its size is not:
 * GNU mailutils' pop3d adds X-UID and Status fields after the first
 * session, and LIST then gives a larger size under the same uid.  A uid
 * the state knows under another size is the same message when its
 * header id (Message-ID and Date, from TOP n 0) is the one recorded;
 * it is recorded under its new size too (is_run; a preview only takes
 * it as fetched), and not fetched again.  Any
 * other answer (another header: a reused uid; no id recorded; no TOP)
 * makes it new: a second copy at worst, never a message deleted unseen.
 * A uid another message in the listing shares keeps to the rules of
 * fetch_find_shared().
 */
static int
fetch_find_resized(struct fetch_run *r, bool is_run, struct err *err)
{
	const struct pop3_caps *caps = pop3_get_caps(r->s);
	uint64_t size, hid;
	unsigned found = 0;
	size_t i;

	/*
	 * Under keep only: there "the same message" means "not fetched
	 * again".  Under each and batch it would mean deleted unread, on
	 * the word of a header another message may share (a list copy
	 * under a header-hashed uid): there it is fetched again.
	 */
	if (r->acct->policy != PLAN_KEEP || r->st->ops->find_uid == NULL ||
	    (caps->has_capa && !caps->top))
		return 0;
	for (i = 0; i < r->n; i++) {
		const struct pop3_msg *m = &r->msgs[i];
		int64_t first;

		if (!m->has_uid || m->has_bad_size || r->is_stored[i] ||
		    r->is_shared[i] ||
		    !r->st->ops->find_uid(r->st->ctx, m->uid, &size, &hid) ||
		    hid == 0 || size == m->size)
			continue;
		r->hdr->len = 0;
		if (pop3_top(r->s, m->num, 0, fetch_header_write, r->hdr,
		        err) == -1) {
			if (err->scope != ERR_SCOPE_MESSAGE ||
			    pop3_get_state(r->s) == POP3_BROKEN)
				return -1;
			continue;
		}
		if (fetch_header_id(r->hdr->buf, r->hdr->len) != hid) {
			log_info("%s: message %u: unique-id %s comes back "
			         "with another size and another header: a "
			         "new message",
			    r->account, m->num, m->uid);
			continue;
		}
		first = store_first_seen(r->st, m->uid, size);
		if (is_run &&
		    store_append(r->st, m->uid, m->size,
		        store_file(r->st, m->uid, size), hid,
		        first >= 0 ? first : (int64_t)time(NULL), err) == -1)
			return -1;
		r->is_stored[i] = true;
		found++;
		log_info("%s: message %u: the server changed its size from "
		         "%llu to %llu octets; the same Message-ID and Date: "
		         "fetched before",
		    r->account, m->num, (unsigned long long)size,
		    (unsigned long long)m->size);
	}
	return found > 0 && is_run ? store_sync(r->st, err) : 0;
}

/*
 * delete_when_gone_locally: which stored messages the user deleted.  So
 * many gone at once looks like a Maildir that is not there, rather than
 * a user who read and deleted: then none is deleted, and the run fails.
 */
static int
fetch_find_gone(struct fetch_run *r, struct err *err)
{
	size_t i, tracked = 0, gone = 0;

	r->is_gone = xcalloc(r->n == 0 ? 1 : r->n, sizeof(*r->is_gone));
	for (i = 0; i < r->n; i++) {
		const struct pop3_msg *m = &r->msgs[i];

		if (!m->has_uid || r->is_twin[i] ||
		    store_file(r->st, m->uid, m->size) == NULL)
			continue;
		tracked++;
		if (r->acct->is_gone(r->acct->gone_arg, m)) {
			r->is_gone[i] = true;
			gone++;
		}
	}
	if (gone == 0 || gone * 100 <= (size_t)r->acct->gone_limit * tracked)
		return 0;
	memset(r->is_gone, 0, r->n * sizeof(*r->is_gone));
	err_setx(err, ERR_LOCAL,
	    "%zu of the %zu stored messages still on the server are gone from "
	    "the Maildir: is it there?  Not deleting them on the server "
	    "(more than gone_limit = %u%%)",
	    gone, tracked, r->acct->gone_limit);
	return -1;
}

/*
 * Duplicate unique-ids (RFC 1939 §7 forbids them, yet servers that hash
 * headers, reused ids and uidl_fallback = message-id make them).  The
 * state knows a message by uid and size, so messages that share both
 * cannot be told apart: which of them was fetched, which is due, which
 * is gone.  Mark them, and those that share only the uid.
 */
static void
fetch_find_shared(struct fetch_run *r)
{
	GHashTable *uids, *keys;
	size_t i, n = r->n == 0 ? 1 : r->n;
	gpointer first;
	char *key;

	r->is_shared = xcalloc(n, sizeof(*r->is_shared));
	r->is_twin = xcalloc(n, sizeof(*r->is_twin));
	/* Keyed by copies: GLib's keys are not const. */
	uids = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	keys = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	for (i = 0; i < r->n; i++) {
		const struct pop3_msg *m = &r->msgs[i];

		if (!m->has_uid)
			continue;
		/* Indices from 1, so that a hit is never NULL. */
		if ((first = g_hash_table_lookup(uids, m->uid)) != NULL)
			r->is_shared[i] =
			    r->is_shared[GPOINTER_TO_SIZE(first) - 1] = true;
		else
			g_hash_table_insert(uids, g_strdup(m->uid),
			    GSIZE_TO_POINTER(i + 1));
		key = g_strdup_printf("%s %" G_GUINT64_FORMAT, m->uid, m->size);
		if ((first = g_hash_table_lookup(keys, key)) != NULL) {
			r->is_twin[i] =
			    r->is_twin[GPOINTER_TO_SIZE(first) - 1] = true;
			g_free(key);
		} else
			g_hash_table_insert(keys, key, GSIZE_TO_POINTER(i + 1));
	}
	g_hash_table_destroy(uids);
	g_hash_table_destroy(keys);
}

/*
 * Record what a killed run stored but did not record (is_run; a preview
 * only marks it found).  Twins (another message in the listing has the
 * same uid and size) are never matched to a file: it may hold the other
 * one.  They are fetched again (stored twice at worst), never deleted
 * unseen.  A message that shares only its uid is matched by uid and
 * LIST size, as the file name records them.
 */
static int
fetch_recover(struct fetch_run *r, bool is_run, struct err *err)
{
	const struct fetch_account *acct = r->acct;
	size_t i, n = 0;
	char *file;
	int rc;

	r->is_found = xcalloc(r->n == 0 ? 1 : r->n, sizeof(*r->is_found));
	for (i = 0; i < r->n; i++) {
		const struct pop3_msg *m = &r->msgs[i];

		if (!m->has_uid || m->has_bad_size || r->is_twin[i] ||
		    store_has(r->st, m->uid, m->size) ||
		    !acct->recover(acct->recover_arg, m, r->is_shared[i],
		        &file))
			continue;
		r->is_found[i] = true;
		n++;
		rc = is_run ? store_append(r->st, m->uid, m->size, file, 0,
		                  (int64_t)time(NULL), err)
		            : 0;
		free(file);
		if (rc == -1)
			return -1;
	}
	if (n == 0 || !is_run)
		return 0;
	log_notice("%s: %zu message%s stored by an interrupted run, now "
	           "recorded",
	    r->account, n, n == 1 ? "" : "s");
	return store_sync(r->st, err);
}

/*
 * RFC 1939 §7: TOP sends the header and the blank line after it.  Some
 * servers cut TOP's reply short (after some 80 KB of a long header):
 * without that line, what came is not the whole header, and no rule
 * may judge from it.  At the bound, it is as much as a rule ever gets.
 */
static bool
fetch_header_is_whole(const struct fetch_header *h)
{
	return h->len == sizeof(h->buf) || (h->len > 0 && h->buf[0] == '\n') ||
	    memmem(h->buf, h->len, "\n\n", 2) != NULL;
}

/* Decide for message idx from the header TOP just gave (or would not). */
static int
fetch_prescreen_one(struct fetch_run *r, size_t idx, int rc, struct err *err)
{
	const struct pop3_msg *m = &r->msgs[idx];
	const void *filing; /* decided again as the message arrives */

	if (rc == 0 && !fetch_header_is_whole(r->hdr)) {
		log_info("%s: message %u: TOP gave part of the header, "
		         "deciding after the download",
		    r->account, m->num);
		return 0;
	}
	if (rc == -1) {
		if (err->scope != ERR_SCOPE_MESSAGE ||
		    pop3_get_state(r->s) == POP3_BROKEN)
			return -1;
		/* No TOP after all, or not for this one. */
		log_info("%s: message %u: TOP refused, deciding after the "
		         "download",
		    r->account, m->num);
		return 0;
	}
	return r->acct->decide(r->acct->decide_arg, m, r->hdr->buf, r->hdr->len,
	    &r->pre[idx], &filing, err);
}

/*
 * With rules: decide before downloading, so that what is skipped or
 * discarded is never retrieved.  First from LIST's size alone (larger,
 * smaller), on every server; then, with TOP, from the header of each
 * message that needs it.  Without TOP those wait for RETR.  With
 * PIPELINING, up to FETCH_WINDOW TOP commands are sent ahead, so the
 * headers cost no round trip each.
 */
static int
fetch_prescreen(struct fetch_run *r, const struct plan *p, struct err *err)
{
	const struct pop3_caps *caps = pop3_get_caps(r->s);
	size_t *todo, ntodo = 0, sent = 0, i;
	const void *filing; /* decided again as the message arrives */
	int rc = -1, early;

	r->pre = xcalloc(r->n == 0 ? 1 : r->n, sizeof(*r->pre));
	todo = xcalloc(p->nsteps == 0 ? 1 : p->nsteps, sizeof(*todo));
	for (i = 0; i < p->nsteps; i++) {
		size_t idx = p->steps[i].idx;

		if (p->steps[i].op != PLAN_RETR)
			continue;
		early = r->acct->decide(r->acct->decide_arg, &r->msgs[idx],
		    NULL, 0, &r->pre[idx], &filing, err);
		if (early == -1)
			goto out;
		if (early == 1)
			todo[ntodo++] = idx;
	}
	if (caps->has_capa && !caps->top)
		ntodo = 0;
	for (i = 0; i < ntodo; i++) {
		size_t window = caps->pipelining ? FETCH_WINDOW : 1;

		while (sent < ntodo && sent < i + window)
			if (pop3_send_top(r->s, r->msgs[todo[sent++]].num, 0,
			        err) == -1)
				goto out;
		r->hdr->len = 0;
		if (fetch_prescreen_one(r, todo[i],
		        pop3_read_top(r->s, fetch_header_write, r->hdr, err),
		        err) == -1) {
			/* The TOPs sent ahead are answered all the same. */
			while (
			    ++i < sent && pop3_get_state(r->s) != POP3_BROKEN)
				(void)pop3_read_top(r->s, fetch_discard, NULL,
				    &(struct err){ 0 });
			goto out;
		}
	}
	rc = 0;
out:
	free(todo);
	return rc;
}

/* Forget what is no longer on the server, so the store stays small. */
static int
fetch_compact(struct fetch_run *r, struct err *err)
{
	const char **keep;
	size_t i, nkeep = 0;
	int rc;

	/* What is recorded, of what is on the server: all, mostly. */
	for (i = 0; i < r->n; i++)
		if (r->msgs[i].has_uid && r->is_stored[i])
			nkeep++;
	if (store_count(r->st) <= nkeep)
		return 0;
	keep = xreallocarray(NULL, nkeep + 1, sizeof(*keep));
	nkeep = 0;
	for (i = 0; i < r->n; i++)
		if (r->msgs[i].has_uid && r->is_stored[i])
			keep[nkeep++] = r->msgs[i].uid;
	rc = store_compact(r->st, keep, nkeep, err);
	free(keep);
	return rc;
}

/*
 * checkpoint reconnects so that a broken link costs few uncommitted
 * deletions; the session goes on to its end instead when reconnecting
 * would not help: the server ignores DELE (the deletions an earlier
 * session committed are listed again), or announces a LOGIN-DELAY (RFC
 * 2449 §6.5: the next login would be refused, or fail the run).
 */
static void
fetch_checkpoint_check(struct fetch_run *r)
{
	long delay = pop3_get_caps(r->s)->login_delay;
	size_t i;

	if (r->track != NULL) {
		for (i = 0; i < r->n; i++) {
			if (r->msgs[i].has_uid &&
			    g_hash_table_contains(r->track->dropped,
			        r->msgs[i].uid))
				r->track->relisted++;
		}
	}
	if (r->acct->checkpoint == 0)
		return;
	if (r->track != NULL && r->track->relisted > 0)
		log_warnx("%s: the server lists again %u messages whose "
		          "deletion it accepted: it ignores DELE; no more "
		          "checkpoints in this run",
		    r->account, r->track->relisted);
	else if (r->track != NULL && r->track->prev_deleted > 0 &&
	    r->n >= r->track->prev_on_server)
		/*
		 * The count tells it too: without unique-ids, and against a
		 * server that gives the same messages new ones each session
		 * (or new mail came: one session more is no harm).
		 */
		log_warnx("%s: the server lists %zu messages after %u of %u "
		          "were deleted: it seems to ignore DELE; no more "
		          "checkpoints in this run",
		    r->account, r->n, r->track->prev_deleted,
		    r->track->prev_on_server);
	else if (delay > 0)
		log_info("%s: LOGIN-DELAY %ld s: no checkpoint, one session",
		    r->account, delay);
	else
		return;
	r->nocp = *r->acct;
	r->nocp.checkpoint = 0;
	r->acct = &r->nocp;
}

/*
 * List the maildrop and make the plan, for a run (is_run: a killed run's
 * messages are recovered first) or a preview: what was delivered
 * before, duplicate unique-ids, what is gone from the Maildir, what is
 * due.  *has_uidl_out: whether messages have unique-ids (from UIDL or
 * the Message-ID fallback).
 */
static int
fetch_plan(struct fetch_run *r, bool is_run, struct plan *plan,
    bool *has_uidl_out, struct err *err)
{
	const struct fetch_account *acct = r->acct;
	size_t i;

	if (pop3_list_uidl(r->s, &r->msgs, &r->n, has_uidl_out, err) == -1)
		return -1;
	r->stats->on_server = (unsigned)r->n;
	if (!*has_uidl_out && acct->has_msgid_fallback) {
		if (fetch_msgid_uids(r, err) == -1)
			return -1;
		*has_uidl_out = true;
	}
	fetch_find_shared(r);
	if (is_run)
		fetch_checkpoint_check(r);
	acct = r->acct;
	if (acct->recover != NULL) {
		if (fetch_recover(r, is_run, err) == -1)
			return -1;
		r->stats->is_recovered = is_run;
	}
	/*
	 * Each message looked up once; plan, deletions and compaction ask.
	 * Twins are never taken as fetched where that would delete them
	 * unseen: the record may be the other one's.
	 */
	r->is_stored = xcalloc(r->n == 0 ? 1 : r->n, sizeof(*r->is_stored));
	for (i = 0; i < r->n; i++)
		r->is_stored[i] = r->msgs[i].has_uid &&
		    (!r->is_twin[i] || acct->policy == PLAN_KEEP) &&
		    (store_has(r->st, r->msgs[i].uid, r->msgs[i].size) ||
		        (r->is_found != NULL && r->is_found[i]));
	/* Also read by TOP in fetch_find_resized(). */
	r->hdr = xmalloc(sizeof(*r->hdr));
	if (*has_uidl_out && fetch_find_resized(r, is_run, err) == -1)
		return -1;
	/*
	 * Refused: the rest of the run goes on, and the error is returned
	 * at its end (reported once, by the caller).
	 */
	if (acct->policy == PLAN_KEEP && acct->is_gone != NULL &&
	    fetch_find_gone(r, err) == -1)
		r->first = *err;
	if (plan_build(r->msgs, r->n, *has_uidl_out, fetch_seen_run,
	        acct->has_keep_days || r->is_gone != NULL ? fetch_expired
	                                                  : NULL,
	        r, acct->policy, plan, err) == -1)
		return -1;
	r->stats->new_msgs = (unsigned)plan->nretr;
	fetch_warn_bad_uids(r);
	fetch_refuse_bad_sizes(r);
	return 0;
}

/*
 * QUIT even after a failure: every DELE sent so far is for a message
 * that is durable, so committing them is safe.  Then what fetch_plan()
 * made goes.
 */
static int
fetch_end(struct fetch_run *r, struct plan *plan, int rc, struct err *err)
{
	struct err qerr;

	if (pop3_get_state(r->s) == POP3_TRANSACTION) {
		err_clear(&qerr);
		if (pop3_quit(r->s, &qerr) == 0 && pop3_is_quit_confirmed(r->s))
			r->stats->quit_ok = true;
		else if (qerr.cls == ERR_NONE) {
			if (r->stats->deleted > 0)
				log_warnx(
				    "%s: the server closed the connection "
				    "instead of answering QUIT: %u "
				    "deletions unconfirmed (what is left "
				    "goes next time, unfetched)",
				    r->account, r->stats->deleted);
		} else if (rc == 0) {
			*err = qerr;
			rc = -1;
		}
	}
	if (rc == 0 && r->first.cls != ERR_NONE) {
		*err = r->first;
		rc = -1;
	}
	plan_cleanup(plan);
	free(r->pre);
	free(r->hdr);
	free(r->is_gone);
	free(r->is_shared);
	free(r->is_twin);
	free(r->is_found);
	free(r->is_stored);
	free(r->msgs);
	return rc;
}

static int
fetch_session_track(struct pop3_session *s, const struct fetch_account *acct,
    const struct store *st, const struct sink *sink, struct fetch_stats *stats,
    struct fetch_track *track, struct err *err)
{
	struct fetch_run r = { .s = s,
		.acct = acct,
		.account = acct->name,
		.st = st,
		.sink = sink,
		.stats = stats,
		.track = track };
	struct plan plan = { 0 };
	bool has_uidl = false;
	int rc = -1;

	memset(stats, 0, sizeof(*stats));
	err_clear(&r.first);
	if (fetch_plan(&r, true, &plan, &has_uidl, err) == -1)
		goto quit;
	if (acct->decide != NULL && fetch_prescreen(&r, &plan, err) == -1)
		goto quit;
	if (acct->progress != NULL)
		acct->progress(acct->progress_arg, stats, 0);
	if (fetch_steps(&r, &plan, err) == -1)
		goto quit;
	if (has_uidl && fetch_compact(&r, err) == -1)
		goto quit;
	rc = 0;
quit:
	return fetch_end(&r, &plan, rc, err);
}

int
fetch_session(struct pop3_session *s, const struct fetch_account *acct,
    const struct store *st, const struct sink *sink, struct fetch_stats *stats,
    struct err *err)
{
	return fetch_session_track(s, acct, st, sink, stats, NULL, err);
}

static int
fetch_secure(struct pop3_session *s, const struct transport_tls_opts *tls,
    struct err *err)
{
	const struct pop3_caps *caps = pop3_get_caps(s);

	/*
	 * RFC 2595 §4: STLS is announced in CAPA.  A server that answers
	 * CAPA without it may be stripped by an attacker; refuse before
	 * any credential is sent.  A server without CAPA gets one try.
	 */
	if (caps->has_capa && !caps->stls) {
		err_setx(err, ERR_PROTO,
		    "server does not offer STLS; refusing to log in without "
		    "TLS (tls = off with allow_plaintext = yes permits it)");
		return -1;
	}
	if (pop3_stls(s, tls, err) == -1)
		return -1;
	return pop3_capa(s, err);
}

/*
 * Log in with the mechanism asked for, or the strongest one the server
 * offers that the connection allows.  An OAuth token that the server
 * refused may just have expired: ask once for a fresh one.
 */
static int
fetch_auth(struct pop3_session *s, const struct fetch_account *acct,
    struct err *err)
{
	enum pop3_auth mech;
	char *fresh;
	int rc;

	if (pop3_auth_choose(pop3_get_caps(s), acct->tls != FETCH_TLS_OFF,
	        acct->allow_plaintext, acct->auth, &mech, err) == -1)
		return -1;
	log_info("%s: logging in with %s", acct->name, pop3_auth_name(mech));
	if (pop3_auth(s, mech, acct->user, acct->password, err) == 0)
		return 0;
	if ((mech != POP3_AUTH_XOAUTH2 && mech != POP3_AUTH_OAUTHBEARER) ||
	    err->cls != ERR_AUTH || acct->refresh_secret == NULL ||
	    pop3_get_state(s) != POP3_AUTHORIZATION)
		return -1;
	log_info("%s: token refused, getting a fresh one", acct->name);
	if ((fresh = acct->refresh_secret(acct->refresh_arg, err)) == NULL)
		return -1;
	rc = pop3_auth(s, mech, acct->user, fresh, err);
	xfree_secret(fresh);
	return rc;
}

static struct transport *
fetch_tcp_connect(void *arg, const struct fetch_account *acct, struct err *err)
{
	(void)arg;
	return transport_connect(acct->host, acct->port, acct->timeout_ms, err);
}

const struct fetch_connector fetch_tcp = { .connect = fetch_tcp_connect };

/*
 * Without tls = on, a server that stays silent this long (or half the
 * timeout, if that is shorter) on a port that is not POP3's own may be
 * waiting for a TLS handshake: say so while the greeting is still
 * awaited.
 */
#define FETCH_GREETING_HINT_MS 5000
#define FETCH_HINT_TLS "is this a POP3S port?  Set tls = on"

/*
 * Wait for the greeting, and say what is likely wrong when it is late.
 * 1 if the hint was given, 0 if not, -1 on error.
 */
static int
fetch_greeting_hint(const struct fetch_account *acct, struct transport *t,
    struct err *err)
{
	int ms = acct->timeout_ms / 2;
	int rc;

	if (acct->tls == FETCH_TLS_ON || strcmp(acct->port, "110") == 0)
		return 0;
	if (ms > FETCH_GREETING_HINT_MS)
		ms = FETCH_GREETING_HINT_MS;
	if ((rc = transport_wait_readable(t, ms, err)) != 0)
		return rc == 1 ? 0 : -1;
	log_warnx("%s: no greeting %d ms after connecting to port %s: "
	          "" FETCH_HINT_TLS,
	    acct->name, ms, acct->port);
	return 1;
}

/* --serverinfo: the TLS session and certificate, if TLS was started. */
static void
fetch_info_peer(GString *info, struct transport *t)
{
	char *peer;

	if (info == NULL)
		return;
	if ((peer = transport_describe_peer(t)) == NULL) {
		g_string_append(info, "tls: none\n");
		return;
	}
	g_string_append(info, peer);
	if (info->len > 0 && info->str[info->len - 1] != '\n')
		g_string_append_c(info, '\n');
	free(peer);
}

static void fetch_describe_caps(GString *out, const struct pop3_caps *c,
    const char *when);

/*
 * Connect and secure: a session in AUTHORIZATION, after the greeting and
 * CAPA (again after STLS), or NULL.  info (may be NULL) gets, for
 * people, what was seen on the way (greeting, CAPA, the TLS session and
 * certificate), also when a step fails: a refused certificate or STLS is
 * when it is needed most.
 */
static struct pop3_session *
fetch_open(const struct fetch_account *acct, const struct fetch_connector *conn,
    GString *info, struct err *err)
{
	struct transport_tls_opts tls = acct->tls_opts;
	struct pop3_session *s;
	struct transport *t;
	struct err qerr;
	bool is_greeted;
	int hinted;

	tls.hostname = acct->host;
	tls.ca_file = acct->ca_file;
	tls.verify = true;
	if ((t = conn->connect(conn->arg, acct, err)) == NULL)
		return NULL;
	transport_set_limits(t, acct->low_speed_limit,
	    acct->deadline != 0 || acct->time_limit == 0
	        ? acct->deadline
	        : transport_clock_ms() + (int64_t)acct->time_limit * 1000,
	    acct->time_limit);
	if (acct->tls == FETCH_TLS_ON &&
	    transport_starttls(t, &tls, err) == -1) {
		fetch_info_peer(info, t);
		transport_free(t);
		return NULL;
	}
	if ((hinted = fetch_greeting_hint(acct, t, err)) == -1) {
		transport_free(t);
		return NULL;
	}
	s = pop3_new(t, acct->name);
	is_greeted = pop3_greeting(s, err) == 0;
	if (!is_greeted && hinted && err->cls == ERR_TEMP) {
		char why[ERR_MSG_MAX];

		(void)snprintf(why, sizeof(why), "%s", err->msg);
		err_setx(err, ERR_TEMP, "%s (" FETCH_HINT_TLS ")", why);
	}
	if (is_greeted && info != NULL)
		g_string_append_printf(info, "greeting: %s\n",
		    pop3_get_greeting(s));
	if (is_greeted && pop3_capa(s, err) == 0) {
		if (acct->tls != FETCH_TLS_STARTTLS) {
			fetch_describe_caps(info, pop3_get_caps(s), NULL);
			fetch_info_peer(info, t);
			return s;
		}
		fetch_describe_caps(info, pop3_get_caps(s), "before STLS");
		if (fetch_secure(s, &tls, err) == 0) {
			fetch_describe_caps(info, pop3_get_caps(s), NULL);
			fetch_info_peer(info, t);
			return s;
		}
		fetch_info_peer(info, t);
	}
	if (pop3_get_state(s) == POP3_AUTHORIZATION)
		(void)pop3_quit(s, &qerr);
	pop3_free(s);
	return NULL;
}

/* Connect, secure and log in: a session in TRANSACTION, or NULL. */
static struct pop3_session *
fetch_login(const struct fetch_account *acct,
    const struct fetch_connector *conn, struct err *err)
{
	struct pop3_session *s;
	struct err qerr;

	if ((s = fetch_open(acct, conn, NULL, err)) == NULL)
		return NULL;
	/* RFC 2449 §4: ask again what may only be announced now. */
	if (fetch_auth(s, acct, err) == 0 &&
	    (!pop3_caps_may_grow(pop3_get_caps(s)) || pop3_capa(s, err) == 0))
		return s;
	if (pop3_get_state(s) == POP3_AUTHORIZATION)
		(void)pop3_quit(s, &qerr);
	pop3_free(s);
	return NULL;
}

/* No step of the plan for the message. */
#define FETCH_NO_STEP SIZE_MAX

/*
 * --dry-run: message idx, with its header (or none), as the plan has it
 * (its RETR and DELE steps at step[0] and step[1], or FETCH_NO_STEP):
 * what the rules say of it, if the run would ask them, and whether its
 * steps go on the wire (into is_sent, by step).  is_early: the run asks
 * the rules before the download (the server has TOP), so that what
 * they settle is not retrieved.
 */
static int
fetch_preview_one(struct fetch_run *r, size_t idx, const size_t step[2],
    bool has_header, bool is_early, bool *is_sent, struct fetch_plan_msg *pm,
    struct err *err)
{
	const struct pop3_msg *m = &r->msgs[idx];
	const void *filing;
	bool is_by_size = false;
	int early;

	*pm = (struct fetch_plan_msg){ .msg = m,
		.header = has_header ? r->hdr->buf : NULL,
		.len = has_header ? r->hdr->len : 0,
		.is_seen = r->is_stored[idx],
		.is_expired = fetch_is_due(r, m),
		.is_gone = r->is_gone != NULL && r->is_gone[idx],
		.is_twin = r->is_twin[idx],
		.is_recovered = r->is_found != NULL && r->is_found[idx],
		.verdict = FETCH_STORE };
	if (step[0] != FETCH_NO_STEP && r->acct->decide != NULL) {
		/* As fetch_prescreen(): the size alone first, on any server. */
		early = r->acct->decide(r->acct->decide_arg, m, NULL, 0,
		    &pm->verdict, &filing, err);
		if (early == -1)
			return -1;
		is_by_size = early == 0;
		if (early == 1 && has_header) {
			pm->verdict = FETCH_STORE;
			if (r->acct->decide(r->acct->decide_arg, m, r->hdr->buf,
			        r->hdr->len, &pm->verdict, &filing, err) == -1)
				return -1;
		}
		pm->is_decided = is_by_size || has_header;
	}
	/*
	 * As the run goes: a message the rules settled from its size, or
	 * from its header when the server has TOP, is not retrieved; a
	 * skipped one is not recorded, nor deleted.
	 */
	if (step[0] != FETCH_NO_STEP)
		is_sent[step[0]] = pm->is_retr =
		    pm->verdict == FETCH_STORE || !(is_early || is_by_size);
	if (step[1] != FETCH_NO_STEP)
		is_sent[step[1]] = pm->is_dele =
		    pm->is_seen || pm->verdict != FETCH_SKIP;
	return 0;
}

int
fetch_preview(const struct fetch_account *acct,
    const struct fetch_connector *conn, const struct store *st,
    fetch_preview_fn *each, void *arg, char **wire_out, struct err *err)
{
	struct fetch_stats stats = { 0 };
	struct fetch_run r = { .acct = acct,
		.account = acct->name,
		.st = st,
		.stats = &stats };
	struct plan plan = { 0 };
	struct fetch_plan_msg pm;
	bool has_uidl = false, is_early, *is_sent = NULL;
	size_t i, *step = NULL;
	int rc = -1, trc;

	if (wire_out != NULL)
		*wire_out = NULL;
	err_clear(&r.first);
	if ((r.s = fetch_login(acct, conn, err)) == NULL)
		return -1;
	if (fetch_plan(&r, false, &plan, &has_uidl, err) == -1)
		goto quit;
	/* As fetch_prescreen() goes: without TOP, rules wait for RETR. */
	is_early = !pop3_get_caps(r.s)->has_capa || pop3_get_caps(r.s)->top;
	if (r.hdr == NULL)
		r.hdr = xmalloc(sizeof(*r.hdr));
	is_sent = xcalloc(plan.nsteps + 1, sizeof(*is_sent));
	/* Each message's RETR and DELE step, if it has them. */
	step = xreallocarray(NULL, 2 * r.n + 2, sizeof(*step));
	for (i = 0; i < 2 * r.n; i++)
		step[i] = FETCH_NO_STEP;
	for (i = 0; i < plan.nsteps; i++)
		step[2 * plan.steps[i].idx + (plan.steps[i].op == PLAN_DELE)] =
		    i;
	for (i = 0; i < r.n; i++) {
		r.hdr->len = 0;
		trc = pop3_top(r.s, r.msgs[i].num, 0, fetch_header_write, r.hdr,
		    err);
		if (trc == -1 &&
		    (err->scope != ERR_SCOPE_MESSAGE ||
		        pop3_get_state(r.s) == POP3_BROKEN))
			goto quit;
		/* As fetch_prescreen_one(): part of a header is none. */
		if (fetch_preview_one(&r, i, &step[2 * i],
		        trc == 0 && fetch_header_is_whole(r.hdr), is_early,
		        is_sent, &pm, err) == -1)
			goto quit;
		each(arg, &pm);
	}
	if (wire_out != NULL)
		*wire_out = plan_describe(&plan, r.msgs, is_sent);
	rc = 0;
quit:
	free(step);
	free(is_sent);
	rc = fetch_end(&r, &plan, rc, err);
	pop3_free(r.s);
	return rc;
}

/*
 * For people: what CAPA said, the tags popfetch acts on first, then
 * every line as the server sent it.  when: "before STLS", or NULL.
 */
static void
fetch_describe_caps(GString *out, const struct pop3_caps *c, const char *when)
{
	const char *p, *nl;

	if (out == NULL)
		return;
	if (when != NULL)
		g_string_append_printf(out, "%s:\n", when);
	if (!c->has_capa) {
		g_string_append(out, "capabilities: none (no CAPA)\n");
		return;
	}
	g_string_append_printf(out, "capabilities:%s%s%s%s%s%s\n",
	    c->stls ? " STLS" : "", c->uidl ? " UIDL" : "",
	    c->top ? " TOP" : "", c->user ? " USER" : "",
	    c->pipelining ? " PIPELINING" : "",
	    c->resp_codes ? " RESP-CODES" : "");
	g_string_append_printf(out, "sasl: %s\n",
	    c->sasl_names[0] != '\0' ? c->sasl_names : "none");
	if (c->expire >= 0)
		g_string_append_printf(out, "expire: %ld days\n", c->expire);
	if (c->login_delay >= 0)
		g_string_append_printf(out, "login delay: %ld s\n",
		    c->login_delay);
	for (p = c->text; (nl = strchr(p, '\n')) != NULL; p = nl + 1)
		g_string_append_printf(out, "capa: %.*s\n", (int)(nl - p), p);
}

int
fetch_serverinfo(const struct fetch_account *acct,
    const struct fetch_connector *conn, char **text_out, struct err *err)
{
	struct pop3_session *s;
	struct err qerr;
	GString *out;
	int rc = -1;

	out = g_string_new(NULL);
	g_string_append_printf(out, "server: %s port %s\n", acct->host,
	    acct->port);
	if ((s = fetch_open(acct, conn, out, err)) != NULL) {
		(void)pop3_quit(s, &qerr);
		pop3_free(s);
		rc = 0;
	}
	*text_out = xstrdup(out->str);
	g_string_free(out, TRUE);
	return rc;
}

/* One connection: log in, fetch_session(). */
static int
fetch_connect(const struct fetch_account *acct,
    const struct fetch_connector *conn, const struct store *st,
    const struct sink *sink, struct fetch_stats *stats,
    struct fetch_track *track, struct err *err)
{
	struct pop3_caps caps;
	struct pop3_session *s;
	int rc;

	memset(stats, 0, sizeof(*stats));
	stats->login_delay = stats->expire = -1;
	if ((s = fetch_login(acct, conn, err)) == NULL)
		return -1;
	caps = *pop3_get_caps(s);
	rc = fetch_session_track(s, acct, st, sink, stats, track, err);
	/* RFC 2449 §6.5, §6.6: what the next run must respect. */
	stats->login_delay = caps.login_delay;
	stats->expire = caps.expire;
	pop3_free(s);
	return rc;
}

int
fetch_listing(const struct fetch_account *acct,
    const struct fetch_connector *conn, struct pop3_msg **msgs_out,
    size_t *n_out, bool *has_uidl_out, struct err *err)
{
	struct pop3_session *s;
	struct err qerr;
	int rc = -1;

	*msgs_out = NULL;
	*n_out = 0;
	*has_uidl_out = false;
	if ((s = fetch_login(acct, conn, err)) == NULL)
		return -1;
	if (pop3_list_uidl(s, msgs_out, n_out, has_uidl_out, err) == 0)
		rc = 0;
	if (pop3_get_state(s) == POP3_TRANSACTION)
		(void)pop3_quit(s, &qerr);
	pop3_free(s);
	if (rc == -1) {
		free(*msgs_out);
		*msgs_out = NULL;
		*n_out = 0;
	}
	return rc;
}

/*
 * After a checkpoint's session: what a QUIT made final is taken as
 * dropped, until a later session lists it again.  Did the session get
 * anywhere (a message retrieved or settled, or a first deletion)?
 */
static bool
fetch_track_commit(struct fetch_track *track, const struct fetch_stats *one)
{
	bool has_progress =
	    one->retrieved > 0 || one->discarded > 0 || track->now->len > 0;
	guint i;

	for (i = 0; i < track->now->len; i++)
		g_hash_table_add(track->dropped,
		    g_ptr_array_index(track->now, i));
	/* The keys are the table's now. */
	g_ptr_array_set_free_func(track->now, NULL);
	g_ptr_array_set_size(track->now, 0);
	g_ptr_array_set_free_func(track->now, free);
	return has_progress;
}

int
fetch_account(const struct fetch_account *acct,
    const struct fetch_connector *conn, const struct store *st,
    const struct sink *sink, struct fetch_stats *stats, struct err *err)
{
	struct fetch_account a = *acct;
	struct fetch_track track = { 0 };
	struct fetch_stats one;
	bool is_first = true, has_progress;
	int rc;

	memset(stats, 0, sizeof(*stats));
	/* time_limit bounds the account's run, reconnections included. */
	if (a.time_limit != 0 && a.deadline == 0)
		a.deadline =
		    transport_clock_ms() + (int64_t)a.time_limit * 1000;
	track.dropped =
	    g_hash_table_new_full(g_str_hash, g_str_equal, free, NULL);
	track.now = g_ptr_array_new_with_free_func(free);
	for (;;) {
		track.relisted = track.redeleted = 0;
		rc = fetch_connect(&a, conn, st, sink, &one, &track, err);
		if (is_first) {
			stats->on_server = one.on_server;
			stats->new_msgs = one.new_msgs;
		}
		stats->login_delay = one.login_delay;
		stats->expire = one.expire;
		stats->skipped += one.skipped;
		stats->discarded += one.discarded;
		stats->retrieved += one.retrieved;
		stats->bytes += one.bytes;
		/* What an earlier session counted and the server kept. */
		stats->deleted -= track.relisted < stats->deleted
		    ? track.relisted
		    : stats->deleted;
		if (one.quit_ok)
			stats->deleted += one.deleted - track.redeleted;
		stats->quit_ok = one.quit_ok;
		stats->is_recovered |= one.is_recovered;
		if (rc == -1 || !one.is_checkpoint || !one.quit_ok)
			break;
		has_progress = fetch_track_commit(&track, &one);
		track.prev_on_server = one.on_server;
		track.prev_deleted = one.deleted;
		if (!has_progress) {
			/* Another session would do the same again. */
			log_warnx("%s: checkpoint: the session got nowhere, "
			          "not reconnecting",
			    acct->name);
			break;
		}
		/*
		 * checkpoint: the DELEs so far are final now; a new session
		 * picks up the rest, so a broken link can cost at most
		 * acct->checkpoint uncommitted deletions.
		 */
		log_info("%s: checkpoint after %u deletions, reconnecting",
		    acct->name, one.deleted);
		is_first = false;
	}
	g_ptr_array_free(track.now, TRUE);
	g_hash_table_destroy(track.dropped);
	return rc;
}
