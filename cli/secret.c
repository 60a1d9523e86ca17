#include "config.h"

#include <stdbool.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

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

/* The next white-space-separated word of a netrc file, or NULL. */
static const char *
secret_netrc_word(char **p)
{
	char *w;

	*p += strspn(*p, " \t\r\n");
	if (**p == '\0')
		return NULL;
	w = *p;
	*p += strcspn(*p, " \t\r\n");
	if (**p != '\0')
		*(*p)++ = '\0';
	return w;
}

/*
 * The password of the first entry for host (or the default one) whose
 * login is user, or that names no login.
 */
static char *
secret_netrc_find(char *text, const char *host, const char *user)
{
	const char *w, *login = NULL, *pass = NULL;
	char *p = text;
	bool is_match = false, is_entry = false;

	while ((w = secret_netrc_word(&p)) != NULL) {
		bool is_start =
		    strcmp(w, "machine") == 0 || strcmp(w, "default") == 0;

		if (is_start || strcmp(w, "macdef") == 0) {
			if (is_match && pass != NULL &&
			    (login == NULL || strcmp(login, user) == 0))
				return xstrdup(pass);
			if (!is_start)
				break; /* macros end what we read */
			is_entry = true;
			login = pass = NULL;
			is_match = strcmp(w, "default") == 0 ||
			    ((w = secret_netrc_word(&p)) != NULL &&
			        g_ascii_strcasecmp(w, host) == 0);
		} else if (is_entry && strcmp(w, "login") == 0)
			login = secret_netrc_word(&p);
		else if (is_entry && strcmp(w, "password") == 0)
			pass = secret_netrc_word(&p);
	}
	if (is_match && pass != NULL &&
	    (login == NULL || strcmp(login, user) == 0))
		return xstrdup(pass);
	return NULL;
}

char *
secret_from_netrc(const char *path, const char *host, const char *user,
    struct err *err)
{
	gchar *text = NULL;
	gsize len;
	GError *gerr = NULL;
	GStatBuf st;
	char *secret;

	err_clear(err);
	if (g_stat(path, &st) == -1)
		return NULL;
	if (!g_file_get_contents(path, &text, &len, &gerr)) {
		err_setx(err, ERR_CONFIG, "%s", gerr->message);
		g_error_free(gerr);
		return NULL;
	}
	secret = secret_netrc_find(text, host, user);
	freezero(text, len);
	/* As ftp(1) does: a password others can read is no secret. */
	if (secret != NULL && (st.st_mode & 077) != 0) {
		xfree_secret(secret);
		err_setx(err, ERR_CONFIG,
		    "%s: holds a password but is readable by others (chmod 600 "
		    "%s)",
		    path, path);
		return NULL;
	}
	return secret;
}
