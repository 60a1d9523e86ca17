#include "config.h"

#include <string.h>

#include <glib.h>

#include "cli/secret.h"
#include "util/xmalloc.h"

/* Characters that only a shell gives meaning to. */
#define SECRET_SHELL_CHARS "|&;<>()$`*?[]#~=%{}\n"

static gboolean
secret_argv(const char *command, gchar ***argv_out, GError **gerr)
{
	gchar **argv;

	if (strpbrk(command, SECRET_SHELL_CHARS) == NULL)
		return g_shell_parse_argv(command, NULL, argv_out, gerr);
	argv = g_new0(gchar *, 4);
	argv[0] = g_strdup("/bin/sh");
	argv[1] = g_strdup("-c");
	argv[2] = g_strdup(command);
	*argv_out = argv;
	return TRUE;
}

char *
secret_from_command(const char *command, struct err *err)
{
	gchar **argv = NULL, *out = NULL;
	GError *gerr = NULL;
	char *secret = NULL;
	gint status;
	size_t len;

	if (!secret_argv(command, &argv, &gerr) ||
	    !g_spawn_sync(NULL, argv, NULL,
	        G_SPAWN_SEARCH_PATH | G_SPAWN_CHILD_INHERITS_STDIN, NULL, NULL,
	        &out, NULL, &status, &gerr)) {
		err_setx(err, ERR_AUTH, "password_command: %s",
		    gerr != NULL ? gerr->message : "cannot run");
		goto out;
	}
	if (!g_spawn_check_wait_status(status, &gerr)) {
		err_setx(err, ERR_AUTH, "password_command: %s", gerr->message);
		goto out;
	}
	len = strcspn(out, "\r\n");
	if (len == 0) {
		err_setx(err, ERR_AUTH, "password_command printed no password");
		goto out;
	}
	secret = xstrndup(out, len);
out:
	if (out != NULL)
		freezero(out, strlen(out));
	if (gerr != NULL)
		g_error_free(gerr);
	g_strfreev(argv);
	return secret;
}
