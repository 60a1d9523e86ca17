#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "maildir/sink.h"
#include "maildir/tag.h"
#include "util/str.h"
#include "util/xmalloc.h"

struct maildir_sink {
	struct maildir *inbox; /* borrowed */
	char *root;
	struct maildir_sink_hooks hooks;
	GHashTable *folders; /* name as filed -> struct maildir *, owned */
	struct maildir_delivery *d; /* the message in hand */
	struct maildir *cur;        /* its Maildir */
	char *folder;               /* its folder's name; NULL: inbox */
	GPtrArray *staged;          /* the Maildirs with messages to sync */
	GPtrArray *round;           /* the folder of each staged message */
};

static void
maildir_sink_folder_close(gpointer md)
{
	maildir_close(md);
}

struct maildir_sink *
maildir_sink_new(struct maildir *inbox, const char *root,
    const struct maildir_sink_hooks *hooks)
{
	struct maildir_sink *ms = xcalloc(1, sizeof(*ms));

	ms->inbox = inbox;
	ms->root = xstrdup(root);
	if (hooks != NULL)
		ms->hooks = *hooks;
	ms->folders = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
	    maildir_sink_folder_close);
	ms->staged = g_ptr_array_new();
	ms->round = g_ptr_array_new_with_free_func(g_free);
	return ms;
}

void
maildir_sink_free(struct maildir_sink *ms)
{
	if (ms == NULL)
		return;
	maildir_sink_abort(ms);
	g_hash_table_destroy(ms->folders);
	g_ptr_array_free(ms->staged, TRUE);
	g_ptr_array_free(ms->round, TRUE);
	free(ms->folder);
	free(ms->root);
	free(ms);
}

/* The Maildir where names, opened (and made) on first use. */
static struct maildir *
maildir_sink_folder(struct maildir_sink *ms, const struct maildir_filing *where,
    struct err *err)
{
	struct maildir *md;
	char *path;

	if (where == NULL || where->folder == NULL)
		return ms->inbox;
	if ((md = g_hash_table_lookup(ms->folders, where->folder)) != NULL)
		return md;
	if (!where->is_path)
		md = maildir_open_folder(ms->root, where->folder, err);
	else if ((path = str_expand_home(where->folder)) == NULL)
		err_setx(err, ERR_CONFIG, "%s: HOME is not set", where->folder);
	else {
		md = maildir_open(path, err);
		free(path);
	}
	if (md != NULL)
		g_hash_table_insert(ms->folders, g_strdup(where->folder), md);
	return md;
}

int
maildir_sink_begin(struct maildir_sink *ms, const char *uid, uint64_t list_size,
    const struct maildir_filing *where, struct err *err)
{
	char tag[MAILDIR_TAG_SIZE];
	struct maildir *md;

	if (ms->d != NULL) {
		err_setx(err, ERR_SOFTWARE, "a message is already begun");
		return -1;
	}
	if ((md = maildir_sink_folder(ms, where, err)) == NULL ||
	    (ms->d = maildir_begin(md, err)) == NULL)
		return -1;
	ms->cur = md;
	free(ms->folder);
	ms->folder = where != NULL && where->folder != NULL
	    ? xstrdup(where->folder)
	    : NULL;
	if (where != NULL)
		maildir_set_flags(ms->d, where->is_seen, where->is_flagged);
	/* The uid and size, in the name, let a later run find it. */
	if (uid != NULL) {
		maildir_tag_make(uid, list_size, tag);
		maildir_set_tag(ms->d, tag);
	}
	return 0;
}

bool
maildir_sink_is_begun(const struct maildir_sink *ms)
{
	return ms->d != NULL;
}

int
maildir_sink_write(struct maildir_sink *ms, const void *data, size_t len,
    struct err *err)
{
	if (ms->d == NULL) {
		err_setx(err, ERR_SOFTWARE, "no message begun");
		return -1;
	}
	return maildir_write(ms->d, data, len, err);
}

int
maildir_sink_commit(struct maildir_sink *ms, char **name_out, struct err *err)
{
	struct maildir_delivery *d = ms->d;

	*name_out = NULL;
	if (d == NULL) {
		err_setx(err, ERR_SOFTWARE, "no message begun");
		return -1;
	}
	ms->d = NULL;
	if (maildir_stage(d, name_out, err) == -1)
		return -1;
	if (!g_ptr_array_find(ms->staged, ms->cur, NULL))
		g_ptr_array_add(ms->staged, ms->cur);
	g_ptr_array_add(ms->round, g_strdup(ms->folder));
	return 0;
}

void
maildir_sink_abort(struct maildir_sink *ms)
{
	if (ms->d != NULL)
		maildir_abort(ms->d);
	ms->d = NULL;
}

/*
 * Every Maildir of the round, or none: a folder that fails takes back
 * what the others delivered, as the messages stay on the server and
 * come again.
 */
int
maildir_sink_sync(struct maildir_sink *ms, struct err *err)
{
	struct err first;
	guint i;
	bool *ok;
	int rc = 0;

	err_clear(&first);
	ok = xcalloc(ms->staged->len + 1, sizeof(*ok));
	for (i = 0; i < ms->staged->len; i++) {
		ok[i] = maildir_sync(g_ptr_array_index(ms->staged, i),
		            rc == 0 ? err : &first) == 0;
		if (!ok[i])
			rc = -1;
	}
	if (rc == 0 && ms->hooks.durable != NULL &&
	    ms->hooks.durable(ms->hooks.arg, err) == -1)
		rc = -1;
	for (i = 0; rc == -1 && i < ms->staged->len; i++)
		if (ok[i])
			maildir_unsync(g_ptr_array_index(ms->staged, i));
	for (i = 0; rc == 0 && ms->hooks.filed != NULL && i < ms->round->len;
	     i++)
		ms->hooks.filed(ms->hooks.arg, g_ptr_array_index(ms->round, i));
	g_ptr_array_set_size(ms->staged, 0);
	g_ptr_array_set_size(ms->round, 0);
	free(ok);
	return rc;
}
