#include "config.h"

#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

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

/* The most of its output a password command may print: a long token. */
#define SECRET_OUTPUT_MAX (64 * 1024)

static int64_t
secret_now_ms(void)
{
	return g_get_monotonic_time() / 1000;
}

/*
 * Read all of fd into buf by deadline.  Returns the length, -1 on a
 * timeout, -2 when the output does not fit.
 */
static ssize_t
secret_read(int fd, char *buf, size_t cap, int64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t len = 0;
	ssize_t n;

	for (;;) {
		int64_t left = deadline - secret_now_ms();

		if (left <= 0)
			return -1;
		if (poll(&pfd, 1, (int)left) == -1 && errno != EINTR)
			return -1;
		if (pfd.revents == 0)
			continue;
		if ((n = read(fd, buf + len, cap - len)) == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -1;
		}
		if (n == 0)
			return (ssize_t)len;
		if ((len += (size_t)n) == cap)
			return -2;
	}
}

/* The command's exit status by deadline, or -1 (then it is killed). */
static int
secret_wait(GPid pid, int64_t deadline, int *status)
{
	for (;;) {
		pid_t w = waitpid(pid, status, WNOHANG);

		if (w == pid)
			return 0;
		if (w == -1 && errno != EINTR)
			return -1;
		if (secret_now_ms() >= deadline) {
			(void)kill(pid, SIGKILL);
			(void)waitpid(pid, status, 0);
			return -1;
		}
		g_usleep(10 * 1000);
	}
}

char *
secret_from_command(const char *command, int timeout_ms, struct err *err)
{
	int64_t deadline = secret_now_ms() + timeout_ms;
	char *out = xmalloc(SECRET_OUTPUT_MAX), *secret = NULL;
	gchar **argv = NULL;
	GError *gerr = NULL;
	ssize_t len = -1;
	int fd = -1, status;
	GPid pid;

	if (!secret_argv(command, &argv, &gerr) ||
	    !g_spawn_async_with_pipes(NULL, argv, NULL,
	        G_SPAWN_SEARCH_PATH | G_SPAWN_CHILD_INHERITS_STDIN |
	            G_SPAWN_DO_NOT_REAP_CHILD,
	        NULL, NULL, &pid, NULL, &fd, NULL, &gerr)) {
		err_setx(err, ERR_AUTH, "password_command: %s",
		    gerr != NULL ? gerr->message : "cannot run");
		goto out;
	}
	len = secret_read(fd, out, SECRET_OUTPUT_MAX, deadline);
	(void)close(fd);
	/* Never waits past the deadline: a stuck command is killed. */
	if (secret_wait(pid, len == -1 ? 0 : deadline, &status) == -1 ||
	    len == -1) {
		err_setx(err, ERR_TEMP,
		    "password_command gave no answer within %d s",
		    timeout_ms / 1000);
		goto out;
	}
	if (len == -2) {
		err_setx(err, ERR_AUTH,
		    "password_command printed more than %d octets",
		    SECRET_OUTPUT_MAX);
		goto out;
	}
	if (!g_spawn_check_wait_status(status, &gerr)) {
		err_setx(err, ERR_AUTH, "password_command: %s", gerr->message);
		goto out;
	}
	out[len] = '\0';
	if (memchr(out, '\0', (size_t)len) != NULL ||
	    strcspn(out, "\r\n") == 0) {
		err_setx(err, ERR_AUTH, "password_command printed no password");
		goto out;
	}
	secret = xstrndup(out, strcspn(out, "\r\n"));
out:
	freezero(out, SECRET_OUTPUT_MAX);
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
