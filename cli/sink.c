#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glib.h>

#include "cli/report.h"
#include "cli/sink.h"
#include "filter/archive.h"
#include "maildir/maildir.h"
#include "maildir/sink.h"
#include "state/archive.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xmalloc.h"

/*
 * The sink that fetch/ writes through: maildir/'s, and with archive =
 * yes or folder_by_date (see filter/archive.h) what archive mode learns of
 * each message on the way.
 */
struct run_sink {
	struct maildir_sink *ms;
	struct report_filed *filed; /* counts what is stored, or NULL */
	/* archive = yes, folder_by_date (see filter/archive.h); else NULL: */
	struct archive *ar;     /* the index, with archive = yes */
	const char *by_date;    /* folder_by_date */
	struct archive_msg *am; /* the message in hand */
	const char *account;
	struct maildir_sink_hooks hooks;
	const struct pop3_msg *msg;   /* the message in hand; borrowed */
	struct maildir_filing filing; /* where begin() said it goes */
	char *where;                  /* its folder, relative to root */
	unsigned duplicates;          /* not stored again */
	/*
	 * The round's new archive records, "digest\tmsgid" -> file: indexed
	 * once the round is durable, and already found by a second copy
	 * within the round.
	 */
	GHashTable *indexing;
};

/* Start the delivery of msg into the folder where names. */
static int
run_sink_start(struct run_sink *rs, const struct pop3_msg *msg,
    const struct maildir_filing *where, struct err *err)
{
	char *path;

	if (maildir_sink_begin(rs->ms, msg->has_uid ? msg->uid : NULL,
	        msg->size, where, err) == -1)
		return -1;
	if (rs->am != NULL) {
		free(rs->where);
		if (where->folder == NULL)
			rs->where = xstrdup("");
		else if (where->is_path &&
		    (path = str_expand_home(where->folder)) != NULL) {
			rs->where = xasprintf("%s/", path);
			free(path);
		} else
			rs->where = xasprintf("%s/", where->folder);
	}
	return 0;
}

/*
 * folder_by_date: the header is in (or the message ended inside it), so
 * the Date is known: start the delivery in its folder, with the rule's
 * flags, and with what was held back.
 */
static int
run_sink_release(struct run_sink *rs, struct err *err)
{
	struct maildir_filing where = rs->filing;
	char folder[ARCHIVE_FOLDER_SIZE];
	const char *held;
	size_t len;
	int rc;

	if (archive_date_folder(rs->by_date, archive_msg_date(rs->am),
	        (int64_t)time(NULL), folder, sizeof(folder), err) == -1)
		return -1;
	where.folder = folder;
	where.is_path = false;
	if (run_sink_start(rs, rs->msg, &where, err) == -1)
		return -1;
	held = archive_msg_held(rs->am, &len);
	rc = len > 0 ? maildir_sink_write(rs->ms, held, len, err) : 0;
	archive_msg_drop_held(rs->am);
	return rc;
}

static int
run_sink_begin(void *ctx, const struct pop3_msg *msg, const void *filing,
    struct err *err)
{
	struct run_sink *rs = ctx;
	const struct maildir_filing *where = filing;

	/* Copied: the folder_by_date delivery starts later. */
	rs->filing = where != NULL ? *where : (struct maildir_filing){ 0 };
	if (rs->am != NULL) {
		archive_msg_reset(rs->am);
		rs->msg = msg;
		/* A rule's folder wins; else the Date picks one. */
		if (rs->by_date != NULL && rs->filing.folder == NULL)
			return 0;
	}
	return run_sink_start(rs, msg, &rs->filing, err);
}

static int
run_sink_write(void *ctx, const char *data, size_t len, struct err *err)
{
	struct run_sink *rs = ctx;
	bool is_header_done;

	if (rs->am == NULL)
		return maildir_sink_write(rs->ms, data, len, err);
	is_header_done = archive_msg_feed(rs->am, data, len);
	if (maildir_sink_is_begun(rs->ms))
		return maildir_sink_write(rs->ms, data, len, err);
	/* Bounded: the header is complete at its limit at the latest. */
	archive_msg_hold(rs->am, data, len);
	return is_header_done ? run_sink_release(rs, err) : 0;
}

/*
 * archive = yes: a message already in the archive (or earlier in this
 * round) is not kept again; its stored name stands for it, so that its
 * new uid is recorded as delivered.  Any other is committed, and indexed
 * with the round.
 */
static int
run_sink_archive(struct run_sink *rs, char **name_out, struct err *err)
{
	char digest[ARCHIVE_HEX_SIZE], msgid[ARCHIVE_HEX_SIZE], *name, *key;
	const char *old, *id;

	id = archive_msg_finish(rs->am, digest, msgid) ? msgid : NULL;
	key = g_strdup_printf("%s\t%s", digest, id != NULL ? id : "-");
	if ((old = archive_lookup(rs->ar, digest, id)) != NULL ||
	    (old = g_hash_table_lookup(rs->indexing, key)) != NULL) {
		maildir_sink_abort(rs->ms);
		rs->duplicates++;
		log_info("%s: message %u: already archived as %s: not stored "
		         "again",
		    rs->account, rs->msg->num, old);
		*name_out = xstrdup(
		    strrchr(old, '/') != NULL ? strrchr(old, '/') + 1 : old);
		g_free(key);
		return 0;
	}
	if (maildir_sink_commit(rs->ms, &name, err) == -1) {
		g_free(key);
		return -1;
	}
	g_hash_table_insert(rs->indexing, key,
	    g_strdup_printf("%s%s/%s", rs->where,
	        strstr(name, ":2,") != NULL ? "cur" : "new", name));
	*name_out = name;
	return 0;
}

static int
run_sink_commit(void *ctx, char **name_out, struct err *err)
{
	struct run_sink *rs = ctx;

	*name_out = NULL;
	/* A message that ended inside its header. */
	if (rs->am != NULL && !maildir_sink_is_begun(rs->ms) &&
	    run_sink_release(rs, err) == -1) {
		maildir_sink_abort(rs->ms);
		return -1;
	}
	if (rs->ar != NULL)
		return run_sink_archive(rs, name_out, err);
	return maildir_sink_commit(rs->ms, name_out, err);
}

/*
 * archive = yes: the round's messages go into the index once they are
 * durable in the Maildir, and the index is made durable too, before any
 * of them is recorded as delivered.  A failure takes the round back.
 */
static int
run_sink_index(void *arg, struct err *err)
{
	char digest[ARCHIVE_HEX_SIZE * 2 + 2], *msgid;
	struct run_sink *rs = arg;
	GHashTableIter it;
	gpointer key, file;
	int rc = 0;

	if (rs->ar == NULL)
		return 0;
	g_hash_table_iter_init(&it, rs->indexing);
	while (rc == 0 && g_hash_table_iter_next(&it, &key, &file)) {
		/* The key is "digest\tmsgid" ("-" for none): split a copy. */
		(void)g_strlcpy(digest, key, sizeof(digest));
		msgid = strchr(digest, '\t');
		*msgid++ = '\0';
		rc = archive_append(rs->ar, digest,
		    strcmp(msgid, "-") != 0 ? msgid : NULL, file, err);
	}
	if (rc == 0 && g_hash_table_size(rs->indexing) > 0)
		rc = archive_sync(rs->ar, err);
	return rc;
}

/* A message of the round is durable in folder (NULL: the inbox). */
static void
run_sink_filed(void *arg, const char *folder)
{
	struct run_sink *rs = arg;

	if (rs->filed != NULL)
		report_filed_add(rs->filed, folder, 1);
}

static int
run_sink_sync(void *ctx, struct err *err)
{
	struct run_sink *rs = ctx;
	int rc;

	rc = maildir_sink_sync(rs->ms, err);
	g_hash_table_remove_all(rs->indexing);
	return rc;
}

static void
run_sink_abort(void *ctx)
{
	struct run_sink *rs = ctx;

	maildir_sink_abort(rs->ms);
}

static const struct sink_ops run_sink_ops = {
	.begin = run_sink_begin,
	.write = run_sink_write,
	.commit = run_sink_commit,
	.abort = run_sink_abort,
	.sync = run_sink_sync,
};

int
run_index_file(struct archive *ar, const char *root, const char *path,
    bool *added_out, struct err *err)
{
	char digest[ARCHIVE_HEX_SIZE], msgid[ARCHIVE_HEX_SIZE];
	size_t rootlen = strlen(root);
	const char *rel = path, *id;
	bool has_id;

	if (added_out != NULL)
		*added_out = false;
	while (rootlen > 1 && root[rootlen - 1] == '/')
		rootlen--;
	if (strncmp(path, root, rootlen) == 0 && path[rootlen] == '/')
		rel = path + rootlen + 1;
	if (archive_digest_file(path, digest, msgid, &has_id, err) == -1)
		return -1;
	id = has_id ? msgid : NULL;
	if (archive_lookup(ar, digest, id) != NULL)
		return 0;
	if (archive_append(ar, digest, id, rel, err) == -1)
		return -1;
	if (added_out != NULL)
		*added_out = true;
	return 0;
}

struct run_sink *
run_sink_new(const struct conf_account *acct, struct maildir *md,
    struct archive *ar, struct report_filed *filed)
{
	struct run_sink *rs = xcalloc(1, sizeof(*rs));

	rs->indexing =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	rs->account = acct->name;
	rs->by_date = acct->folder_by_date;
	rs->ar = ar;
	if (acct->archive || acct->folder_by_date != NULL)
		rs->am = archive_msg_new();
	rs->hooks = (struct maildir_sink_hooks){ .filed = run_sink_filed,
		.durable = run_sink_index,
		.arg = rs };
	rs->ms = maildir_sink_new(md, acct->maildir, &rs->hooks);
	rs->filed = filed;
	return rs;
}

void
run_sink_free(struct run_sink *rs)
{
	if (rs == NULL)
		return;
	maildir_sink_free(rs->ms);
	archive_msg_free(rs->am);
	free(rs->where);
	g_hash_table_destroy(rs->indexing);
	free(rs);
}

void
run_sink_get(struct run_sink *rs, struct sink *out)
{
	out->ops = &run_sink_ops;
	out->ctx = rs;
}

unsigned
run_sink_duplicates(const struct run_sink *rs)
{
	return rs->duplicates;
}
