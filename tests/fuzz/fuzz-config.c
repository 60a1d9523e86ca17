/*
 * The configuration loader (config/conf.c, over libconfuse).  conf_load()
 * takes only a path, so each input is written to a 0600 file in a
 * private directory made once per process, then loaded and freed.  A
 * loaded configuration must obey every rule conf.h states; a refused one
 * must say why in a printable "path:line: what" message.
 *
 * Input: the file's bytes.
 */
#include "config.h"

#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/conf.h"
#include "tests/fuzz/fuzz.h"

static char fuzz_dir[PATH_MAX];
static char fuzz_path[PATH_MAX];

static void
fuzz_cleanup(void)
{
	if (fuzz_path[0] != '\0')
		(void)unlink(fuzz_path);
	if (fuzz_dir[0] != '\0')
		(void)rmdir(fuzz_dir);
}

static void
fuzz_setup(void)
{
	if (fuzz_dir[0] != '\0')
		return;
	fuzz_scratch_dir("fuzz-config", fuzz_dir, sizeof(fuzz_dir));
	(void)snprintf(fuzz_path, sizeof(fuzz_path), "%s/config", fuzz_dir);
	(void)atexit(fuzz_cleanup);
	/* "~/" in maildir and ca_file needs a home. */
	if (getenv("HOME") == NULL)
		(void)setenv("HOME", fuzz_dir, 1);
}

static void
write_file(const uint8_t *data, size_t size)
{
	ssize_t n;
	size_t off = 0;
	int fd;

	fd = open(fuzz_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1)
		fuzz_fail("open %s", fuzz_path);
	while (off < size) {
		if ((n = write(fd, data + off, size - off)) <= 0)
			fuzz_fail("write %s", fuzz_path);
		off += (size_t)n;
	}
	(void)close(fd);
}

static bool
is_name_char(char ch, bool is_first)
{
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9'))
		return true;
	return !is_first && ch != '\0' && strchr("._@+-", ch) != NULL;
}

static void
check_account(const struct conf *c, const struct conf_account *a)
{
	size_t i, len = strlen(a->name);

	/* conf.h: a name is 1 to 64 of a safe alphabet, and unique. */
	FUZZ_CHECK(len >= 1 && len <= 64);
	for (i = 0; i < len; i++)
		FUZZ_CHECK(is_name_char(a->name[i], i == 0));
	FUZZ_CHECK(conf_find(c, a->name) == a);
	FUZZ_CHECK(a->host != NULL && a->host[0] != '\0');
	FUZZ_CHECK(a->user != NULL && a->user[0] != '\0');
	FUZZ_CHECK(a->maildir != NULL && a->maildir[0] == '/');
	FUZZ_CHECK(a->ca_file == NULL || a->ca_file[0] == '/');
	FUZZ_CHECK(a->password == NULL || a->password_command == NULL);
	FUZZ_CHECK(a->password == NULL || a->password[0] != '\0');
	FUZZ_CHECK(
	    a->password_command == NULL || a->password_command[0] != '\0');
	FUZZ_CHECK(a->port >= 1 && a->port <= 65535);
	FUZZ_CHECK(a->tls == FETCH_TLS_ON || a->tls == FETCH_TLS_STARTTLS ||
	    a->tls == FETCH_TLS_OFF);
	FUZZ_CHECK(a->tls != FETCH_TLS_OFF || a->allow_plaintext);
	FUZZ_CHECK(a->delete_mode == PLAN_KEEP || a->delete_mode == PLAN_EACH ||
	    a->delete_mode == PLAN_BATCH);
	FUZZ_CHECK(a->timeout >= 1 && a->timeout <= 3600);
	FUZZ_CHECK(a->line >= 1);
	FUZZ_CHECK(strcmp(conf_tls_name(a->tls), "?") != 0);
	FUZZ_CHECK(strcmp(plan_policy_name(a->delete_mode), "unknown") != 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf *c;
	struct err err;
	size_t i;

	fuzz_setup();
	write_file(data, size);
	err_clear(&err);
	if ((c = conf_load(fuzz_path, &err)) == NULL) {
		fuzz_check_err(&err);
		FUZZ_CHECK(err.cls == ERR_CONFIG);
		FUZZ_CHECK(strncmp(err.msg, fuzz_path, strlen(fuzz_path)) == 0);
		return 0;
	}
	FUZZ_CHECK(c->naccounts >= 1 && c->accounts != NULL);
	FUZZ_CHECK(strcmp(c->path, fuzz_path) == 0);
	for (i = 0; i < c->naccounts; i++)
		check_account(c, &c->accounts[i]);
	conf_free(c);
	return 0;
}
