#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/conf.h"
#include "util/err.h"

struct fixture {
	char dir[200];
	char path[216];
	char *saved_home;
};

static int
setup(void **state)
{
	struct fixture *f;
	const char *tmp = getenv("TMPDIR");
	const char *home = getenv("HOME");

	f = calloc(1, sizeof(*f));
	assert_non_null(f);
	if (tmp == NULL || tmp[0] == '\0')
		tmp = "/tmp";
	(void)snprintf(f->dir, sizeof(f->dir), "%s/test-conf.XXXXXX", tmp);
	assert_non_null(mkdtemp(f->dir));
	(void)snprintf(f->path, sizeof(f->path), "%s/config", f->dir);
	if (home != NULL)
		f->saved_home = strdup(home);
	assert_int_equal(setenv("HOME", f->dir, 1), 0);
	*state = f;
	return 0;
}

/* Empty and remove dir, one level deep. */
static void
remove_dir(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		(void)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		(void)unlink(path);
	}
	(void)closedir(d);
	(void)rmdir(dir);
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char inc[PATH_MAX];

	(void)snprintf(inc, sizeof(inc), "%s/accounts.d", f->dir);
	remove_dir(inc);
	(void)unlink(f->path);
	(void)rmdir(f->dir);
	if (f->saved_home != NULL)
		(void)setenv("HOME", f->saved_home, 1);
	else
		(void)unsetenv("HOME");
	free(f->saved_home);
	free(f);
	return 0;
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	FILE *fp;

	(void)unlink(path);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
	/* chmod, not the umask, decides the mode. */
	assert_int_equal(chmod(path, mode), 0);
}

static struct conf *
load_text(struct fixture *f, const char *text, mode_t mode, struct err *err)
{
	write_file(f->path, text, mode);
	err_clear(err);
	return conf_load(f->path, err);
}

/* Load text, expect it refused with exactly "FILE:LINE: msg" (line 0:
 * "FILE: msg"), FILE being the one the error is in. */
static void
expect_error_in(struct fixture *f, const char *text, const char *file, int line,
    const char *msg)
{
	char want[1024];
	struct err err;
	struct conf *c;

	c = load_text(f, text, 0600, &err);
	if (c != NULL) {
		conf_free(c);
		fail_msg("accepted: %s", text);
	}
	assert_int_equal(err.cls, ERR_CONFIG);
	if (line > 0)
		(void)snprintf(want, sizeof(want), "%s:%d: %s", file, line,
		    msg);
	else
		(void)snprintf(want, sizeof(want), "%s: %s", file, msg);
	assert_string_equal(err.msg, want);
}

/* Load text, expect it refused with exactly "PATH:LINE: msg". */
static void
expect_error(struct fixture *f, const char *text, int line, const char *msg)
{
	expect_error_in(f, text, f->path, line, msg);
}

/*
 * For libconfuse's own messages only the location and a word are fixed:
 * the wording belongs to the library.
 */
static void
expect_lib_error(struct fixture *f, const char *text, int line,
    const char *word)
{
	char want[1024];
	struct err err;
	struct conf *c;

	c = load_text(f, text, 0600, &err);
	if (c != NULL) {
		conf_free(c);
		fail_msg("accepted: %s", text);
	}
	assert_int_equal(err.cls, ERR_CONFIG);
	(void)snprintf(want, sizeof(want), "%s:%d: ", f->path, line);
	if (strncmp(err.msg, want, strlen(want)) != 0)
		fail_msg("\"%s\" does not start with \"%s\"", err.msg, want);
	if (strstr(err.msg + strlen(want), word) == NULL)
		fail_msg("\"%s\" does not mention \"%s\"", err.msg, word);
}

static const char full_config[] = "# two accounts sharing defaults\n"
                                  "defaults {\n"
                                  "    timeout = 30\n"
                                  "    delete = batch\n"
                                  "    user = \"shared\"\n"
                                  "    password_command = \"pass show mail\"\n"
                                  "}\n"
                                  "\n"
                                  "account \"home\" {\n"
                                  "    host = \"pop.example.org\"\n"
                                  "    port = 1995\n"
                                  "    tls = on\n"
                                  "    ca_file = \"/etc/ssl/home.pem\"\n"
                                  "    user = \"alice\"\n"
                                  "    password = \"secret\"\n"
                                  "    maildir = \"/var/mail/home\"\n"
                                  "    delete = each\n"
                                  "}\n"
                                  "account \"work\" {\n"
                                  "    host = pop.work.example\n"
                                  "    port = 110\n"
                                  "    tls = \"off\"\n"
                                  "    allow_plaintext = yes\n"
                                  "    maildir = \"/var/mail/work\"\n"
                                  "    timeout = 3600\n"
                                  "    checkpoint = 50\n"
                                  "    low_speed_limit = 0\n"
                                  "    time_limit = 600\n"
                                  "    uidl_fallback = message-id\n"
                                  "}\n";

static void
test_full_config(void **state)
{
	struct fixture *f = *state;
	const struct conf_account *a;
	struct err err;
	struct conf *c;

	c = load_text(f, full_config, 0600, &err);
	if (c == NULL)
		fail_msg("%s", err.msg);
	assert_string_equal(c->path, f->path);
	assert_int_equal(c->naccounts, 2);

	a = &c->accounts[0];
	assert_string_equal(a->name, "home");
	assert_int_equal(a->line, 9);
	assert_string_equal(a->host, "pop.example.org");
	assert_int_equal(a->port, 1995);
	assert_int_equal(a->tls, FETCH_TLS_ON);
	assert_false(a->allow_plaintext);
	assert_string_equal(a->ca_file, "/etc/ssl/home.pem");
	assert_string_equal(a->user, "alice");
	/* Its own password replaces the inherited password_command. */
	assert_string_equal(a->password, "secret");
	assert_null(a->password_command);
	assert_string_equal(a->maildir, "/var/mail/home");
	assert_int_equal(a->delete_mode, PLAN_EACH);
	assert_int_equal(a->timeout, 30);
	assert_int_equal(a->checkpoint, 0);
	assert_int_equal(a->low_speed_limit, 100);
	assert_int_equal(a->time_limit, 0);
	assert_int_equal(a->uidl_fallback, CONF_FALLBACK_NONE);

	a = &c->accounts[1];
	assert_string_equal(a->name, "work");
	assert_int_equal(a->line, 19);
	assert_string_equal(a->host, "pop.work.example");
	assert_int_equal(a->port, 110);
	assert_int_equal(a->tls, FETCH_TLS_OFF);
	assert_true(a->allow_plaintext);
	assert_null(a->ca_file);
	assert_string_equal(a->user, "shared");
	assert_null(a->password);
	assert_string_equal(a->password_command, "pass show mail");
	assert_int_equal(a->delete_mode, PLAN_BATCH);
	assert_int_equal(a->timeout, 3600);
	assert_int_equal(a->checkpoint, 50);
	assert_int_equal(a->low_speed_limit, 0);
	assert_int_equal(a->time_limit, 600);
	assert_int_equal(a->uidl_fallback, CONF_FALLBACK_MESSAGE_ID);
	conf_free(c);
}

static void
test_builtin_defaults(void **state)
{
	struct fixture *f = *state;
	const struct conf_account *a;
	struct err err;
	struct conf *c;

	c = load_text(f,
	    "account \"a\" {\n"
	    "  host = h\n"
	    "  user = u\n"
	    "  maildir = /m\n"
	    "}\n",
	    0600, &err);
	if (c == NULL)
		fail_msg("%s", err.msg);
	assert_int_equal(c->naccounts, 1);
	a = &c->accounts[0];
	assert_int_equal(a->port, 995);
	assert_int_equal(a->tls, FETCH_TLS_ON);
	assert_false(a->allow_plaintext);
	assert_null(a->ca_file);
	assert_null(a->password);
	assert_null(a->password_command);
	assert_int_equal(a->delete_mode, PLAN_KEEP);
	assert_int_equal(a->timeout, 60);
	conf_free(c);
}

static void
check_transport(struct fixture *f, const char *keys, unsigned port,
    enum fetch_tls tls)
{
	char text[512];
	struct err err;
	struct conf *c;

	(void)snprintf(text, sizeof(text),
	    "account a {\n host = h\n user = u\n maildir = /m\n%s}\n", keys);
	c = load_text(f, text, 0600, &err);
	if (c == NULL)
		fail_msg("%s: %s", keys, err.msg);
	if (c->accounts[0].port != port || c->accounts[0].tls != tls)
		fail_msg("%s: got port %u tls %s", keys, c->accounts[0].port,
		    conf_tls_name(c->accounts[0].tls));
	conf_free(c);
}

static void
test_port_tls_defaults(void **state)
{
	struct fixture *f = *state;

	check_transport(f, "", 995, FETCH_TLS_ON);
	check_transport(f, "port = 995\n", 995, FETCH_TLS_ON);
	check_transport(f, "port = 110\n", 110, FETCH_TLS_STARTTLS);
	check_transport(f, "port = 2110\n", 2110, FETCH_TLS_STARTTLS);
	check_transport(f, "tls = on\n", 995, FETCH_TLS_ON);
	check_transport(f, "tls = starttls\n", 110, FETCH_TLS_STARTTLS);
	check_transport(f, "tls = off\nallow_plaintext = true\n", 110,
	    FETCH_TLS_OFF);
	check_transport(f, "port = 7995\ntls = on\n", 7995, FETCH_TLS_ON);
	check_transport(f, "port = \"0110\"\ntls = 'STARTTLS'\n", 110,
	    FETCH_TLS_STARTTLS);
}

static void
test_values_spelling(void **state)
{
	static const struct {
		const char *text;
		bool allow;
		enum plan_policy del;
	} cases[] = {
		{ "allow_plaintext = yes\ndelete = keep\n", true, PLAN_KEEP },
		{ "allow_plaintext = \"on\"\ndelete = \"each\"\n", true,
		    PLAN_EACH },
		{ "allow_plaintext = TRUE\ndelete = Batch\n", true,
		    PLAN_BATCH },
		{ "allow_plaintext = no\n", false, PLAN_KEEP },
		{ "allow_plaintext = off\n", false, PLAN_KEEP },
		{ "allow_plaintext = 'false'\n", false, PLAN_KEEP },
	};
	struct fixture *f = *state;
	char text[512];
	struct err err;
	struct conf *c;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		(void)snprintf(text, sizeof(text),
		    "account a {\n host = h\n user = u\n maildir = /m\n%s}\n",
		    cases[i].text);
		c = load_text(f, text, 0600, &err);
		if (c == NULL)
			fail_msg("%s: %s", cases[i].text, err.msg);
		assert_int_equal(c->accounts[0].allow_plaintext,
		    cases[i].allow);
		assert_int_equal(c->accounts[0].delete_mode, cases[i].del);
		conf_free(c);
	}
}

static void
test_tilde(void **state)
{
	struct fixture *f = *state;
	char want[256];
	struct err err;
	struct conf *c;

	c = load_text(f,
	    "defaults { maildir = \"~/Mail/all\" }\n"
	    "account a { host = h\n user = u\n ca_file = ~/ca.pem }\n"
	    "account b { host = h\n user = u\n maildir = \"~\" }\n"
	    "account c { host = h\n user = u\n maildir = \"/x/~/y\" }\n",
	    0600, &err);
	if (c == NULL)
		fail_msg("%s", err.msg);
	(void)snprintf(want, sizeof(want), "%s/Mail/all", f->dir);
	assert_string_equal(c->accounts[0].maildir, want);
	(void)snprintf(want, sizeof(want), "%s/ca.pem", f->dir);
	assert_string_equal(c->accounts[0].ca_file, want);
	assert_string_equal(c->accounts[1].maildir, f->dir);
	assert_string_equal(c->accounts[2].maildir, "/x/~/y");
	conf_free(c);

	/* Without HOME there is nothing to expand "~" to. */
	assert_int_equal(unsetenv("HOME"), 0);
	expect_error(f,
	    "account a {\n host = h\n user = u\n maildir = ~/Mail\n}\n", 4,
	    "account \"a\": maildir: cannot expand \"~\": HOME is not set");
}

static void
test_missing_keys(void **state)
{
	struct fixture *f = *state;

	expect_error(f, "\naccount \"a\" {\n user = u\n maildir = /m\n}\n", 2,
	    "account \"a\": host is not set");
	expect_error(f, "account \"a\" {\n host = h\n maildir = /m\n}\n", 1,
	    "account \"a\": user is not set");
	expect_error(f,
	    "account \"a\" {\n host = h\n user = u\n maildir = /m\n}\n"
	    "account b\n"
	    "{\n host = h\n user = u\n}\n",
	    7, "account \"b\": maildir is not set");
	expect_error(f, "defaults { timeout = 5 }\n", 0, "no account section");
	expect_error(f, "", 0, "no account section");
}

static void
test_bad_values(void **state)
{
	static const char head[] = "account a {\n host = h\n user = u\n"
	                           " maildir = /m\n";
	static const struct {
		const char *keys;
		const char *msg;
	} cases[] = {
		{ "tls = yes\n",
		    "tls must be on, starttls or off, not \"yes\"" },
		{ "delete = sometimes\n",
		    "delete must be keep, each or batch, not \"sometimes\"" },
		{ "timeout = 0\n",
		    "timeout must be a number from 1 to 3600, not \"0\"" },
		{ "timeout = 3601\n",
		    "timeout must be a number from 1 to 3600, not \"3601\"" },
		{ "timeout = ten\n",
		    "timeout must be a number from 1 to 3600, not \"ten\"" },
		{ "uidl_fallback = subject\n",
		    "uidl_fallback must be none or message-id, not \"subject\"" },
		{ "checkpoint = -1\n",
		    "checkpoint must be a number from 0 to 1000000, not \"-1\"" },
		{ "checkpoint = 1000001\n",
		    "checkpoint must be a number from 0 to 1000000, not "
		    "\"1000001\"" },
		{ "time_limit = 604801\n",
		    "time_limit must be a number from 0 to 604800, not "
		    "\"604801\"" },
		{ "low_speed_limit = slow\n",
		    "low_speed_limit must be a number from 0 to 100000000, not "
		    "\"slow\"" },
		{ "port = 0\n",
		    "port must be a number from 1 to 65535, not \"0\"" },
		{ "port = 65536\n",
		    "port must be a number from 1 to 65535, not \"65536\"" },
		{ "port = -1\n",
		    "port must be a number from 1 to 65535, not \"-1\"" },
		{ "port = 0x10\n",
		    "port must be a number from 1 to 65535, not \"0x10\"" },
		{ "port = \" 110\"\n",
		    "port must be a number from 1 to 65535, not \" 110\"" },
		{ "tls = off\n",
		    "account \"a\": tls = off sends the password in the clear; "
		    "set allow_plaintext = yes to allow it" },
		{ "tls = off\nallow_plaintext = no\n",
		    "account \"a\": tls = off sends the password in the clear; "
		    "set allow_plaintext = yes to allow it" },
		{ "host = h2\n", "host is set twice (first at line 2)" },
		{ "password = \"\"\n", "account \"a\": password is empty" },
		{ "maildir = \"\"\n",
		    "maildir is set twice (first at line 4)" },
	};
	struct fixture *f = *state;
	char text[512];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		(void)snprintf(text, sizeof(text), "%s%s}\n", head,
		    cases[i].keys);
		expect_error(f, text, 5, cases[i].msg);
	}
}

static void
test_semantic_lines(void **state)
{
	struct fixture *f = *state;

	expect_error(f,
	    "account a {\n host = h\n user = u\n maildir = /m\n"
	    " password = p\n"
	    " password_command = \"echo p\"\n"
	    "}\n",
	    6, "account \"a\": password and password_command are both set");
	/* In defaults the error is reported once, at its place there. */
	expect_error(f,
	    "defaults {\n password_command = c\n password = p\n}\n"
	    "account a {\n host = h\n user = u\n maildir = /m\n}\n",
	    3, "defaults: password and password_command are both set");
	/* An inherited tls = off is reported where it was set. */
	expect_error(f,
	    "defaults {\n tls = off\n}\n"
	    "account a {\n host = h\n user = u\n maildir = /m\n}\n",
	    2,
	    "account \"a\": tls = off sends the password in the clear; "
	    "set allow_plaintext = yes to allow it");
	expect_error(f,
	    "account a {\n host = \"\"\n user = u\n maildir = /m\n}\n", 2,
	    "account \"a\": host is empty");
	expect_error(f,
	    "account a {\n host = h\n user = u\n maildir = Mail/a\n}\n", 4,
	    "account \"a\": maildir must be an absolute path or start "
	    "with \"~/\"");
	expect_error(f,
	    "account \"a/../b\" {\n host = h\n user = u\n maildir = /m\n}\n", 1,
	    "account \"a/../b\": a name is 1 to 64 letters, digits or "
	    "\"._@+-\", starting with a letter or digit");
	expect_error(f,
	    "account \"\" {\n host = h\n user = u\n maildir = /m\n}\n", 1,
	    "account \"\": a name is 1 to 64 letters, digits or \"._@+-\", "
	    "starting with a letter or digit");
	/* Without keys, an account is placed where it ends. */
	expect_error(f, "defaults {\n host = h\n}\naccount a {\n\n}\n", 6,
	    "account \"a\": user is not set");
}

static void
test_duplicate_account(void **state)
{
	struct fixture *f = *state;

	expect_lib_error(f,
	    "account a {\n host = h\n user = u\n maildir = /m\n}\n"
	    "account b {\n host = h\n user = u\n maildir = /m\n}\n"
	    "\n"
	    "account a {\n host = h\n user = u\n maildir = /m\n}\n",
	    12, "duplicate");
}

static void
test_library_errors(void **state)
{
	struct fixture *f = *state;

	/* Unknown key, in a section and at the top. */
	expect_lib_error(f,
	    "account a {\n host = h\n user = u\n\n colour = blue\n}\n", 5,
	    "colour");
	expect_lib_error(f, "\n\nhost = h\n", 3, "host");
	/* Syntax errors. */
	expect_lib_error(f, "account a {\n host h\n}\n", 2, "host");
	expect_lib_error(f, "account a {\n host = h\n user =\n", 4,
	    "end of file");
	expect_lib_error(f, "account a {\n host = \"h\n\n", 4, "end of file");
	expect_lib_error(f, "account a {\n host = h\n}\n}\n", 4, "brace");
	expect_lib_error(f, "account a {\n allow_plaintext = maybe\n}\n", 2,
	    "allow_plaintext");
}

/*
 * libconfuse 3.3 miscounts lines after comments; conf.c strips them
 * first, so the numbers must stay exact, and '#' in strings must stay.
 */
static void
test_comments(void **state)
{
	struct fixture *f = *state;
	struct err err;
	struct conf *c;

	expect_error(f,
	    "# one\n"
	    "## two\n"
	    "// three\n"
	    "/* four\n"
	    "   five */\n"
	    "account a { # six\n"
	    "  host = h // seven\n"
	    "  user = u /* eight */\n"
	    "  maildir = /m\n"
	    "  timeout = 0\n"
	    "}\n",
	    10, "timeout must be a number from 1 to 3600, not \"0\"");
	expect_lib_error(f, "#\n#\n#\naccount a {\n#\n  bogus = 1\n}\n", 6,
	    "bogus");

	c = load_text(f,
	    "account a {\n"
	    "  host = \"h#1\" # a comment\n"
	    "  user = 'u#2//3/*4*/'\n"
	    "  password = \"p\\\"#5\"\n"
	    "  maildir = /m/a//b\n"
	    "}\n",
	    0600, &err);
	if (c == NULL)
		fail_msg("%s", err.msg);
	assert_string_equal(c->accounts[0].host, "h#1");
	assert_string_equal(c->accounts[0].user, "u#2//3/*4*/");
	assert_string_equal(c->accounts[0].password, "p\"#5");
	assert_string_equal(c->accounts[0].maildir, "/m/a//b");
	conf_free(c);
}

/* Files written on other systems end their lines in CRLF. */
static void
test_crlf(void **state)
{
	struct fixture *f = *state;
	struct err err;
	struct conf *c;

	c = load_text(f,
	    "account a {\r\n host = h\r\n user = \"u\"\r\n"
	    " maildir = /m # x\r\n}\r\n",
	    0600, &err);
	if (c == NULL)
		fail_msg("%s", err.msg);
	assert_string_equal(c->accounts[0].host, "h");
	assert_string_equal(c->accounts[0].user, "u");
	assert_string_equal(c->accounts[0].maildir, "/m");
	conf_free(c);
	expect_error(f, "account a {\r\n host = h\r\n timeout = 0\r\n}\r\n", 3,
	    "timeout must be a number from 1 to 3600, not \"0\"");
}

/* libconfuse substitutes ${VAR} in bare words and "..." only. */
static void
test_environment(void **state)
{
	struct fixture *f = *state;
	struct err err;
	struct conf *c;

	assert_int_equal(setenv("POPFETCH_TEST_VAR", "val", 1), 0);
	c = load_text(f,
	    "account a {\n"
	    "  host = ${POPFETCH_TEST_VAR}\n"
	    "  user = \"x${POPFETCH_TEST_VAR}\"\n"
	    "  password = 'x${POPFETCH_TEST_VAR}'\n"
	    "  maildir = /m\n"
	    "}\n",
	    0600, &err);
	if (c == NULL)
		fail_msg("%s", err.msg);
	assert_string_equal(c->accounts[0].host, "val");
	assert_string_equal(c->accounts[0].user, "xval");
	assert_string_equal(c->accounts[0].password, "x${POPFETCH_TEST_VAR}");
	conf_free(c);
	assert_int_equal(unsetenv("POPFETCH_TEST_VAR"), 0);
}

static void
test_nul_byte(void **state)
{
	static const char text[] = "account a {\n host = h\n user = u\0x\n}\n";
	struct fixture *f = *state;
	char want[1024];
	struct err err;
	FILE *fp;

	fp = fopen(f->path, "w");
	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, sizeof(text) - 1, fp),
	    sizeof(text) - 1);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(f->path, 0600), 0);
	err_clear(&err);
	assert_null(conf_load(f->path, &err));
	assert_int_equal(err.cls, ERR_CONFIG);
	(void)snprintf(want, sizeof(want), "%s:3: holds a NUL byte", f->path);
	assert_string_equal(err.msg, want);
}

static void
test_password_mode(void **state)
{
	static const char text[] = "account a {\n host = h\n user = u\n"
	                           " maildir = /m\n password = hunter2\n}\n";
	struct fixture *f = *state;
	char want[1024];
	struct err err;
	struct conf *c;

	(void)snprintf(want, sizeof(want),
	    "%s: holds a password but is readable by others (chmod 600 %s)",
	    f->path, f->path);
	assert_null(load_text(f, text, 0644, &err));
	assert_int_equal(err.cls, ERR_CONFIG);
	assert_string_equal(err.msg, want);
	assert_null(load_text(f, text, 0640, &err));
	assert_string_equal(err.msg, want);
	assert_null(load_text(f, text, 0604, &err));
	assert_string_equal(err.msg, want);
	/* In defaults too. */
	assert_null(load_text(f,
	    "defaults { password = p }\n"
	    "account a {\n host = h\n user = u\n maildir = /m\n}\n",
	    0644, &err));
	assert_string_equal(err.msg, want);

	c = load_text(f, text, 0600, &err);
	assert_non_null(c);
	assert_string_equal(c->accounts[0].password, "hunter2");
	conf_free(c);
	c = load_text(f, text, 0400, &err);
	assert_non_null(c);
	conf_free(c);

	/* A command is no secret: others may read such a file. */
	c = load_text(f,
	    "account a {\n host = h\n user = u\n maildir = /m\n"
	    " password_command = \"pass show a\"\n}\n",
	    0644, &err);
	if (c == NULL)
		fail_msg("%s", err.msg);
	assert_string_equal(c->accounts[0].password_command, "pass show a");
	conf_free(c);

	/* But nobody else may change what it runs. */
	assert_null(load_text(f,
	    "account a {\n host = h\n user = u\n maildir = /m\n"
	    " password_command = \"pass show a\"\n}\n",
	    0646, &err));
	(void)snprintf(want, sizeof(want),
	    "%s: is writable by anyone (chmod o-w %s)", f->path, f->path);
	assert_string_equal(err.msg, want);
}

static void
test_missing_file(void **state)
{
	struct fixture *f = *state;
	char want[1024];
	struct err err;

	err_clear(&err);
	assert_null(conf_load(f->path, &err));
	assert_int_equal(err.cls, ERR_CONFIG);
	assert_int_equal(err.errnum, ENOENT);
	(void)snprintf(want, sizeof(want), "%s: No such file or directory",
	    f->path);
	assert_string_equal(err.msg, want);

	/* A directory is refused before libconfuse reads it. */
	err_clear(&err);
	assert_null(conf_load(f->dir, &err));
	assert_int_equal(err.cls, ERR_CONFIG);
	assert_int_equal(err.errnum, EISDIR);
}

static void
test_find(void **state)
{
	struct fixture *f = *state;
	const struct conf_account *a;
	struct err err;
	struct conf *c;

	c = load_text(f, full_config, 0600, &err);
	assert_non_null(c);
	a = conf_find(c, "work");
	assert_ptr_equal(a, &c->accounts[1]);
	a = conf_find(c, "home");
	assert_ptr_equal(a, &c->accounts[0]);
	assert_null(conf_find(c, "hom"));
	assert_null(conf_find(c, "Home"));
	assert_null(conf_find(c, ""));
	conf_free(c);
	conf_free(NULL);
}

static void
test_default_path(void **state)
{
	char *p;

	(void)state;
	assert_int_equal(setenv("XDG_CONFIG_HOME", "/xdg", 1), 0);
	assert_int_equal(setenv("HOME", "/home/u", 1), 0);
	p = conf_default_path();
	assert_string_equal(p, "/xdg/popfetch/config");
	free(p);

	/* The XDG spec says to ignore a relative or empty value. */
	assert_int_equal(setenv("XDG_CONFIG_HOME", "rel", 1), 0);
	p = conf_default_path();
	assert_string_equal(p, "/home/u/.config/popfetch/config");
	free(p);
	assert_int_equal(unsetenv("XDG_CONFIG_HOME"), 0);
	p = conf_default_path();
	assert_string_equal(p, "/home/u/.config/popfetch/config");
	free(p);

	assert_int_equal(unsetenv("HOME"), 0);
	assert_null(conf_default_path());
}

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(conf_tls_name(FETCH_TLS_ON), "on");
	assert_string_equal(conf_tls_name(FETCH_TLS_STARTTLS), "starttls");
	assert_string_equal(conf_tls_name(FETCH_TLS_OFF), "off");
	assert_string_equal(plan_policy_name(PLAN_KEEP), "keep");
	assert_string_equal(plan_policy_name(PLAN_EACH), "each");
	assert_string_equal(plan_policy_name(PLAN_BATCH), "batch");
}

/* The shipped example must stay valid. */
static void
test_example(void **state)
{
	struct fixture *f = *state;
	const char *srcdir = getenv("top_srcdir");
	char path[512], want[256], text[8192];
	struct err err;
	struct conf *c;
	size_t n;
	FILE *fp;

	/* Run by hand, the source tree is where this file was. */
	if (srcdir != NULL)
		(void)snprintf(path, sizeof(path),
		    "%s/contrib/popfetch.conf.example", srcdir);
	else
		(void)snprintf(path, sizeof(path),
		    "%.*scontrib/popfetch.conf.example",
		    (int)(strlen(__FILE__) - strlen("tests/unit/test-conf.c")),
		    __FILE__);
	fp = fopen(path, "r");
	assert_non_null(fp);
	n = fread(text, 1, sizeof(text) - 1, fp);
	assert_false(ferror(fp));
	assert_true(feof(fp));
	(void)fclose(fp);
	text[n] = '\0';

	c = load_text(f, text, 0644, &err);
	if (c == NULL)
		fail_msg("%s", err.msg);
	assert_int_equal(c->naccounts, 2);
	assert_string_equal(c->accounts[0].name, "home");
	assert_int_equal(c->accounts[0].port, 995);
	assert_int_equal(c->accounts[0].tls, FETCH_TLS_ON);
	assert_int_equal(c->accounts[0].delete_mode, PLAN_EACH);
	assert_int_equal(c->accounts[0].timeout, 60);
	(void)snprintf(want, sizeof(want), "%s/Mail/home", f->dir);
	assert_string_equal(c->accounts[0].maildir, want);
	assert_string_equal(c->accounts[1].name, "work");
	assert_int_equal(c->accounts[1].port, 110);
	assert_int_equal(c->accounts[1].tls, FETCH_TLS_STARTTLS);
	assert_int_equal(c->accounts[1].delete_mode, PLAN_BATCH);
	assert_int_equal(c->accounts[1].timeout, 120);
	conf_free(c);
}

/* Login and TLS policy: values, defaults, inheritance key by key. */
static void
test_policy_keys(void **state)
{
	struct fixture *f = *state;
	char want[256];
	struct err err;
	struct conf *c;

	c = load_text(f,
	    "defaults {\n"
	    " auth = scram-sha-256\n"
	    " tls_min_version = TLS1.3\n"
	    " tls_priority = \"SECURE256:-VERS-TLS1.2\"\n"
	    " tls_cert_file = ~/client.pem\n"
	    "}\n"
	    "account a { host = h\n user = u\n maildir = /m\n"
	    " tls_fingerprint = \"SHA256:00:11:22:33:44:55:66:77:88:99:aa:bb:"
	    "cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\"\n"
	    " tls_key_file = \"/k/key.pem\"\n"
	    "}\n"
	    "account b { host = h\n user = u\n maildir = /m\n"
	    " auth = XOAUTH2\n tls_min_version = tls1.2\n}\n"
	    "account c { host = h\n user = u\n maildir = /m\n"
	    " auth = apop\n"
	    " tls_fingerprint = \"sha256:"
	    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\""
	    "\n}\n",
	    0600, &err);
	if (c == NULL)
		fail_msg("%s", err.msg);
	assert_int_equal(c->naccounts, 3);
	assert_int_equal(c->accounts[0].auth, POP3_AUTH_SCRAM_SHA_256);
	assert_int_equal(c->accounts[0].tls_min_version, TRANSPORT_TLS_MIN_1_3);
	assert_string_equal(c->accounts[0].tls_priority,
	    "SECURE256:-VERS-TLS1.2");
	(void)snprintf(want, sizeof(want), "%s/client.pem", f->dir);
	assert_string_equal(c->accounts[0].tls_cert_file, want);
	assert_string_equal(c->accounts[0].tls_key_file, "/k/key.pem");
	assert_non_null(strstr(c->accounts[0].tls_fingerprint, ":AA:BB:"));
	assert_int_equal(c->accounts[1].auth, POP3_AUTH_XOAUTH2);
	assert_int_equal(c->accounts[1].tls_min_version, TRANSPORT_TLS_MIN_1_2);
	assert_string_equal(c->accounts[1].tls_cert_file, want);
	assert_null(c->accounts[1].tls_key_file);
	assert_null(c->accounts[1].tls_fingerprint);
	assert_int_equal(c->accounts[2].auth, POP3_AUTH_APOP);
	assert_true(
	    strncmp(c->accounts[2].tls_fingerprint, "sha256:0011", 11) == 0);
	conf_free(c);

	/* Unset: auto, TLS 1.2, no pin, no priority, no certificate. */
	c = load_text(f, "account a { host = h\n user = u\n maildir = /m\n}\n",
	    0600, &err);
	assert_non_null(c);
	assert_int_equal(c->accounts[0].auth, POP3_AUTH_AUTO);
	assert_int_equal(c->accounts[0].tls_min_version, TRANSPORT_TLS_MIN_1_2);
	assert_null(c->accounts[0].tls_fingerprint);
	assert_null(c->accounts[0].tls_priority);
	assert_null(c->accounts[0].tls_cert_file);
	assert_null(c->accounts[0].tls_key_file);
	conf_free(c);
}

static void
test_policy_bad(void **state)
{
	static const char head[] = "account a {\n host = h\n user = u\n"
	                           " maildir = /m\n";
	static const struct {
		const char *keys;
		const char *msg;
	} cases[] = {
		{ "auth = kerberos\n",
		    "auth must be auto, user, apop, plain, login, cram-md5, "
		    "scram-sha-1, scram-sha-256, xoauth2 or oauthbearer, not "
		    "\"kerberos\"" },
		{ "tls_min_version = TLS1.1\n",
		    "tls_min_version must be TLS1.2 or TLS1.3, not \"TLS1.1\"" },
		{ "tls_min_version = 1.3\n",
		    "tls_min_version must be TLS1.2 or TLS1.3, not \"1.3\"" },
		{ "tls_fingerprint = \"SHA1:0011\"\n",
		    "account \"a\": tls_fingerprint must be \"SHA256:\" and 64 "
		    "hex digits (a colon between bytes allowed)" },
		{ "tls_fingerprint = \"SHA256:00112233\"\n",
		    "account \"a\": tls_fingerprint must be \"SHA256:\" and 64 "
		    "hex digits (a colon between bytes allowed)" },
		{ "tls_fingerprint = \"\"\n",
		    "account \"a\": tls_fingerprint is empty" },
		{ "tls_priority = \"\"\n",
		    "account \"a\": tls_priority is empty" },
		{ "tls_key_file = /k.pem\n",
		    "account \"a\": tls_key_file without tls_cert_file" },
		{ "tls_cert_file = c.pem\n",
		    "account \"a\": tls_cert_file must be an absolute path or "
		    "start with \"~/\"" },
	};
	struct fixture *f = *state;
	char text[512];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		(void)snprintf(text, sizeof(text), "%s%s}\n", head,
		    cases[i].keys);
		expect_error(f, text, 5, cases[i].msg);
	}
	/* In defaults, the mistake is reported at its own line. */
	expect_error(f,
	    "defaults {\n user = u\n tls_fingerprint = \"SHA256:xx\"\n}\n"
	    "account a { host = h\n maildir = /m\n}\n",
	    3,
	    "defaults: tls_fingerprint must be \"SHA256:\" and 64 hex digits "
	    "(a colon between bytes allowed)");
}

static void
test_policy_names(void **state)
{
	(void)state;
	assert_string_equal(pop3_auth_name(POP3_AUTH_AUTO), "auto");
	assert_string_equal(pop3_auth_name(POP3_AUTH_SCRAM_SHA_256),
	    "scram-sha-256");
	assert_string_equal(pop3_auth_name(POP3_AUTH_OAUTHBEARER),
	    "oauthbearer");
	assert_string_equal(pop3_auth_name((enum pop3_auth)99), "?");
	assert_string_equal(conf_tls_min_name(TRANSPORT_TLS_MIN_1_3), "TLS1.3");
	assert_string_equal(conf_tls_min_name((enum transport_tls_min)9), "?");
}

static const char rules_config[] =
    "rule \"lists\" {\n"                                        /* 1 */
    "    header_matches = {\"List-Id\", \"dev\\\\.example\"}\n" /* 2 */
    "    folder = \".Lists.dev\"\n"                             /* 3 */
    "    flag = {seen}\n"                                       /* 4 */
    "}\n"                                                       /* 5 */
    "rule \"spam\" {\n"                                         /* 6 */
    "    any = yes\n"                                           /* 7 */
    "    exists = {\"X-Spam-Flag\"}\n"                          /* 8 */
    "    header_contains = {\"Subject\", \"[SPAM]\", \"X-A\", \"b\"}\n"
    "    not { domain = {\"From\", \"example.org\"} }\n"   /* 10 */
    "    discard = yes\n"                                  /* 11 */
    "}\n"                                                  /* 12 */
    "rule \"big\" { larger = 10M  skip = yes }\n"          /* 13 */
    "account \"a\" { host = h  user = u  maildir = /m }\n" /* 14 */
    "account \"b\" { host = h  user = u  maildir = /m\n"   /* 15 */
    "    rules = {big, lists} }\n";                        /* 16 */

static void
test_rules(void **state)
{
	struct fixture *f = *state;
	const struct conf_rule *r;
	struct err err;
	struct conf *c;

	c = load_text(f, rules_config, 0600, &err);
	if (c == NULL)
		fail_msg("%s", err.msg);
	assert_int_equal(c->nrules, 3);
	r = &c->rules[0];
	assert_string_equal(r->name, "lists");
	assert_int_equal(r->line, 1);
	assert_false(r->is_any);
	assert_int_equal(r->nconds, 1);
	assert_int_equal(r->conds[0].kind, CONF_COND_MATCHES);
	assert_string_equal(r->conds[0].header, "List-Id");
	assert_string_equal(r->conds[0].arg, "dev\\.example");
	assert_int_equal(r->action, CONF_ACTION_FOLDER);
	assert_string_equal(r->folder, ".Lists.dev");
	assert_true(r->is_seen);
	assert_false(r->is_flagged);

	r = &c->rules[1];
	assert_true(r->is_any);
	assert_int_equal(r->nconds, 3);
	assert_int_equal(r->conds[0].kind, CONF_COND_CONTAINS);
	assert_string_equal(r->conds[1].header, "X-A");
	assert_string_equal(r->conds[1].arg, "b");
	assert_int_equal(r->conds[2].kind, CONF_COND_EXISTS);
	assert_null(r->conds[2].arg);
	assert_int_equal(r->nnots, 1);
	assert_int_equal(r->nots[0].kind, CONF_COND_DOMAIN);
	assert_int_equal(r->action, CONF_ACTION_DISCARD);

	r = &c->rules[2];
	assert_int_equal(r->conds[0].kind, CONF_COND_LARGER);
	assert_null(r->conds[0].header);
	assert_string_equal(r->conds[0].arg, "10M");
	assert_int_equal(r->action, CONF_ACTION_SKIP);

	/* Without "rules" an account has them all, else the ones named. */
	assert_int_equal(c->accounts[0].nrules, 3);
	assert_int_equal(c->accounts[0].rules[1], 1);
	assert_int_equal(c->accounts[1].nrules, 2);
	assert_int_equal(c->accounts[1].rules[0], 2);
	assert_int_equal(c->accounts[1].rules[1], 0);
	conf_free(c);
}

static void
test_keep_days(void **state)
{
	struct fixture *f = *state;
	struct err err;
	struct conf *c;

	c = load_text(f,
	    "defaults { keep_days = 14 }\n"
	    "account a { host = h user = u maildir = /m }\n"
	    "account b { host = h user = u maildir = /m keep_days = 0 }\n",
	    0600, &err);
	if (c == NULL)
		fail_msg("%s", err.msg);
	assert_true(c->accounts[0].has_keep_days);
	assert_int_equal(c->accounts[0].keep_days, 14);
	assert_true(c->accounts[1].has_keep_days);
	assert_int_equal(c->accounts[1].keep_days, 0);
	conf_free(c);
	c = load_text(f, "account a { host = h user = u maildir = /m }\n", 0600,
	    &err);
	assert_non_null(c);
	assert_false(c->accounts[0].has_keep_days);
	conf_free(c);
	expect_error(f,
	    "account a { host = h user = u maildir = /m\n delete = each\n"
	    " keep_days = 3 }\n",
	    3, "account \"a\": keep_days goes with delete = keep");
	expect_error(f,
	    "account a { host = h user = u maildir = /m\n keep_days = 36501 }\n",
	    2, "keep_days must be a number from 0 to 36500, not \"36501\"");
}

/* archive never deletes; folder_by_date must make a folder name. */
static void
test_archive(void **state)
{
	struct fixture *f = *state;
	struct conf *c;
	struct err err;

	c = load_text(f,
	    "defaults { archive = yes }\n"
	    "account a { host = h user = u maildir = /m\n"
	    " folder_by_date = \"%Y/%m\" }\n"
	    "account b { host = h user = u maildir = /m archive = no }\n"
	    "account c { host = h user = u maildir = /m\n"
	    " archive = no folder_by_date = \"%Y\" }\n",
	    0600, &err);
	assert_non_null(c);
	assert_true(c->accounts[0].archive);
	assert_int_equal(c->accounts[0].delete_mode, PLAN_KEEP);
	assert_string_equal(c->accounts[0].folder_by_date, "%Y/%m");
	assert_false(c->accounts[1].archive);
	assert_null(c->accounts[1].folder_by_date);
	assert_false(c->accounts[2].archive);
	assert_string_equal(c->accounts[2].folder_by_date, "%Y");
	conf_free(c);
	expect_error(f,
	    "account a { host = h user = u maildir = /m\n archive = yes\n"
	    " delete = each }\n",
	    3,
	    "account \"a\": archive = yes never deletes on the server, so "
	    "delete = each cannot go with it (archive implies delete = keep)");
	expect_error(f,
	    "defaults { delete = batch }\n"
	    "account a { host = h user = u maildir = /m\n archive = yes }\n",
	    3,
	    "account \"a\": archive = yes never deletes on the server, so "
	    "delete = batch cannot go with it (archive implies delete = keep)");
	expect_error(f,
	    "account a { host = h user = u maildir = /m\n keep_days = 7\n"
	    " archive = yes }\n",
	    3,
	    "account \"a\": archive = yes never deletes on the server, so "
	    "keep_days = 7 cannot go with it (archive implies delete = keep)");
	expect_error(f,
	    "account a { host = h user = u maildir = /m\n archive = yes\n"
	    " delete_when_gone_locally = yes }\n",
	    3,
	    "account \"a\": archive = yes never deletes on the server, so "
	    "delete_when_gone_locally = yes cannot go with it (archive "
	    "implies delete = keep)");
	expect_error(f,
	    "account a { host = h user = u maildir = /m\n"
	    " folder_by_date = \"%Y//%m\" }\n",
	    2,
	    "account \"a\": folder_by_date must be a strftime format such "
	    "as \"%Y/%m\" that makes a folder name (no empty part, no "
	    "leading '/' or '.')");
	expect_error(f,
	    "account a { host = h user = u maildir = /m\n"
	    " folder_by_date = \"/%Y\" }\n",
	    2,
	    "account \"a\": folder_by_date must be a strftime format such "
	    "as \"%Y/%m\" that makes a folder name (no empty part, no "
	    "leading '/' or '.')");
	expect_error(f,
	    "account a { host = h user = u maildir = /m\n"
	    " folder_by_date = \"\" }\n",
	    2,
	    "account \"a\": folder_by_date must be a strftime format such "
	    "as \"%Y/%m\" that makes a folder name (no empty part, no "
	    "leading '/' or '.')");
}

/* A parse error on a password line never repeats what it quotes. */
static void
test_password_not_quoted(void **state)
{
	struct fixture *f = *state;
	struct err err;

	assert_null(load_text(f,
	    "account a {\n host = h\n user = u\n maildir = /m\n"
	    " password = s3cr3t Zk9word\n}\n",
	    0600, &err));
	assert_int_equal(err.cls, ERR_CONFIG);
	assert_null(strstr(err.msg, "Zk9word"));
	assert_null(strstr(err.msg, "s3cr3t"));
	assert_non_null(strstr(err.msg, ":5: cannot parse the password"));
	/* Elsewhere libconfuse's message stands. */
	expect_lib_error(f, "account a {\n host = h\n colour = red\n}\n", 3,
	    "colour");
}

static void
test_rules_bad(void **state)
{
	struct fixture *f = *state;

	expect_error(f,
	    "rule r {\n header_matches = {Subject}\n folder = .x }\n"
	    "account a { host = h user = u maildir = /m }\n",
	    2,
	    "rule \"r\": header_matches takes pairs: a header name, then "
	    "what to look for");
	expect_error(f,
	    "rule r {\n folder = .x\n discard = yes\n}\n"
	    "account a { host = h user = u maildir = /m }\n",
	    1, "rule \"r\": folder, discard and skip exclude each other");
	expect_error(f,
	    "rule r {\n flag = {read}\n}\n"
	    "account a { host = h user = u maildir = /m }\n",
	    2, "rule \"r\": flag must be seen or flagged");
	expect_error(f,
	    "rule r { skip = yes }\n"
	    "account a { host = h user = u maildir = /m\n rules = {r, q} }\n",
	    3, "account \"a\": no rule called \"q\"");
}

/* The top-level log key: default, both values, mistakes. */
static void
test_log_key(void **state)
{
	static const char acct[] = "account a {\n host = h\n user = u\n"
	                           " maildir = /m\n}\n";
	struct fixture *f = *state;
	char text[512];
	struct err err;
	struct conf *c;

	c = load_text(f, acct, 0600, &err);
	assert_non_null(c);
	assert_int_equal(c->log, CONF_LOG_STDERR);
	conf_free(c);
	(void)snprintf(text, sizeof(text), "log = syslog\n%s", acct);
	c = load_text(f, text, 0600, &err);
	assert_non_null(c);
	assert_int_equal(c->log, CONF_LOG_SYSLOG);
	conf_free(c);
	(void)snprintf(text, sizeof(text), "%slog = \"stderr\"\n", acct);
	c = load_text(f, text, 0600, &err);
	assert_non_null(c);
	assert_int_equal(c->log, CONF_LOG_STDERR);
	conf_free(c);
	(void)snprintf(text, sizeof(text), "log = journal\n%s", acct);
	expect_error(f, text, 1,
	    "log must be stderr or syslog, not \"journal\"");
	(void)snprintf(text, sizeof(text), "log = syslog\nlog = stderr\n%s",
	    acct);
	expect_error(f, text, 2, "log is set twice (first at line 1)");
	/* Not an account key. */
	expect_lib_error(f,
	    "account a {\n host = h\n user = u\n maildir = /m\n"
	    " log = syslog\n}\n",
	    5, "log");
}

/* The included directory of the tests, accounts.d beside the config. */
static void
inc_path(const struct fixture *f, const char *name, char *buf, size_t len)
{
	(void)snprintf(buf, len, "%s/accounts.d%s%s", f->dir,
	    name != NULL ? "/" : "", name != NULL ? name : "");
}

static void
inc_write(const struct fixture *f, const char *name, const char *text,
    mode_t mode)
{
	char path[PATH_MAX];

	inc_path(f, NULL, path, sizeof(path));
	if (mkdir(path, 0700) == -1 && errno != EEXIST)
		fail_msg("mkdir %s: %s", path, strerror(errno));
	inc_path(f, name, path, sizeof(path));
	write_file(path, text, mode);
}

static const char inc_main[] = "include = \"accounts.d\"\n"
                               "defaults {\n"
                               "    host = \"pop.example.org\"\n"
                               "    user = \"shared\"\n"
                               "}\n"
                               "account main {\n"
                               "    maildir = /m/main\n"
                               "}\n";

static void
test_include(void **state)
{
	struct fixture *f = *state;
	static const char *const want[] = { "main", "alice", "carol", "bob",
		"dave" };
	char text[1024];
	struct err err;
	struct conf *c;
	size_t i;

	/* Read in name order, after the main file's own accounts; only
	 * *.conf, and no hidden file. */
	inc_write(f, "b.conf", "account bob {\n maildir = /m/bob\n}\n", 0600);
	inc_write(f, "a.conf",
	    "# two in one file\naccount alice {\n maildir = /m/alice\n}\n"
	    "account carol {\n maildir = /m/carol\n timeout = 5\n}\n",
	    0600);
	inc_write(f, "c.conf",
	    "account dave {\n user = dave\n"
	    " maildir = /m/dave\n}\n",
	    0600);
	inc_write(f, "a.conf~", "garbage {", 0600);
	inc_write(f, ".z.conf", "garbage {", 0600);
	inc_write(f, "b.conf.dpkg-old", "garbage {", 0600);
	inc_write(f, "README", "garbage {", 0600);
	c = load_text(f, inc_main, 0600, &err);
	if (c == NULL)
		fail_msg("%s", err.msg);
	assert_string_equal(c->path, f->path);
	assert_int_equal(c->naccounts, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < c->naccounts; i++)
		assert_string_equal(c->accounts[i].name, want[i]);
	/* The main file's defaults reach every file's accounts. */
	assert_string_equal(c->accounts[1].host, "pop.example.org");
	assert_string_equal(c->accounts[1].user, "shared");
	assert_string_equal(c->accounts[1].maildir, "/m/alice");
	assert_int_equal(c->accounts[2].timeout, 5);
	assert_int_equal(c->accounts[2].line, 5);
	assert_string_equal(c->accounts[4].user, "dave");
	assert_non_null(conf_find(c, "dave"));
	conf_free(c);

	/* An empty directory is no error; the main file's accounts stay. */
	inc_path(f, NULL, text, sizeof(text));
	remove_dir(text);
	inc_write(f, "x.conf", "", 0600);
	c = load_text(f, inc_main, 0600, &err);
	if (c == NULL)
		fail_msg("%s", err.msg);
	assert_int_equal(c->naccounts, 1);
	conf_free(c);
	/* An absolute path, and "~/". */
	(void)snprintf(text, sizeof(text),
	    "include = \"%s/accounts.d\"\naccount a {\n host = h\n"
	    " user = u\n maildir = /m\n}\n",
	    f->dir);
	c = load_text(f, text, 0600, &err);
	if (c == NULL)
		fail_msg("%s", err.msg);
	conf_free(c);
	c = load_text(f,
	    "include = \"~/accounts.d\"\naccount a {\n host = h\n"
	    " user = u\n maildir = /m\n}\n",
	    0600, &err);
	if (c == NULL)
		fail_msg("%s", err.msg);
	conf_free(c);
}

static void
test_include_errors(void **state)
{
	struct fixture *f = *state;
	char dir[PATH_MAX], a[PATH_MAX], b[PATH_MAX], msg[PATH_MAX * 3];

	inc_path(f, NULL, dir, sizeof(dir));
	inc_path(f, "a.conf", a, sizeof(a));
	inc_path(f, "b.conf", b, sizeof(b));
	/* A missing directory. */
	(void)snprintf(msg, sizeof(msg),
	    "include: %s: No such file or directory", dir);
	expect_error_in(f, inc_main, f->path, 1, msg);
	/* Nothing anywhere. */
	inc_write(f, "a.conf", "", 0600);
	expect_error_in(f, "include = \"accounts.d\"\n", f->path, 0,
	    "no account section, here nor in the files included");
	/* An account named twice: both places are named. */
	inc_write(f, "a.conf", "\naccount alice {\n maildir = /m/a\n}\n", 0600);
	inc_write(f, "b.conf",
	    "account bob {\n maildir = /m/b\n}\n"
	    "account alice {\n maildir = /m/a2\n}\n",
	    0600);
	(void)snprintf(msg, sizeof(msg),
	    "account \"alice\" is defined twice: first at %s:2", a);
	expect_error_in(f, inc_main, b, 4, msg);
	inc_write(f, "b.conf", "account main {\n maildir = /m/b\n}\n", 0600);
	(void)snprintf(msg, sizeof(msg),
	    "account \"main\" is defined twice: first at %s:6", f->path);
	expect_error_in(f, inc_main, b, 1, msg);
	/* A broken file names itself, with the line. */
	inc_write(f, "b.conf",
	    "account bob {\n maildir = /m/b\n\n colour = blue\n}\n", 0600);
	{
		struct err err;
		struct conf *c = load_text(f, inc_main, 0600, &err);

		assert_null(c);
		(void)snprintf(msg, sizeof(msg), "%s:4: ", b);
		if (strncmp(err.msg, msg, strlen(msg)) != 0)
			fail_msg("\"%s\" does not start with \"%s\"", err.msg,
			    msg);
	}
	inc_write(f, "b.conf", "account bob {\n host = \"\"\n}\n", 0600);
	expect_error_in(f, inc_main, b, 2, "account \"bob\": host is empty");
	inc_write(f, "b.conf", "\naccount bob {\n}\n", 0600);
	expect_error_in(f, inc_main, b, 3,
	    "account \"bob\": maildir is not set");
	/* What the main file's defaults make wrong is told there. */
	inc_write(f, "b.conf", "account bob {\n maildir = /m/b\n}\n", 0600);
	expect_error_in(f,
	    "include = \"accounts.d\"\ndefaults {\n host = h\n user = u\n"
	    " tls = off\n}\naccount main {\n maildir = /m\n allow_plaintext = "
	    "yes\n}\n",
	    f->path, 5,
	    "account \"alice\": tls = off sends the password in the clear; "
	    "set allow_plaintext = yes to allow it");
	/* An included file holds accounts only. */
	inc_write(f, "b.conf",
	    "account bob {\n maildir = /m/b\n}\n"
	    "defaults {\n timeout = 5\n}\n",
	    0600);
	(void)snprintf(msg, sizeof(msg),
	    "defaults belongs in %s: an included file holds account "
	    "sections only",
	    f->path);
	expect_error_in(f, inc_main, b, 4, msg);
	inc_write(f, "b.conf", "\ninclude = \"accounts.d\"\n", 0600);
	(void)snprintf(msg, sizeof(msg),
	    "include belongs in %s: an included file holds account "
	    "sections only",
	    f->path);
	expect_error_in(f, inc_main, b, 2, msg);
	/* A password in a file others can read, in an included file too. */
	inc_write(f, "b.conf",
	    "account bob {\n maildir = /m/b\n password = \"x\"\n}\n", 0644);
	(void)snprintf(msg, sizeof(msg),
	    "holds a password but is readable by others (chmod 600 %s)", b);
	expect_error_in(f, inc_main, b, 0, msg);
	/* A directory anyone can add a file to; a file, not a directory. */
	(void)unlink(b);
	assert_int_equal(chmod(dir, 0777), 0);
	(void)snprintf(msg, sizeof(msg),
	    "include: %s: is writable by anyone (chmod o-w %s)", dir, dir);
	expect_error_in(f, inc_main, f->path, 1, msg);
	/* Sticky or not: anyone may still add a file. */
	assert_int_equal(chmod(dir, 01777), 0);
	expect_error_in(f, inc_main, f->path, 1, msg);
	assert_int_equal(chmod(dir, 0700), 0);
	/* A FIFO would block the read: only regular files. */
	assert_int_equal(mkfifo(b, 0600), 0);
	(void)snprintf(msg, sizeof(msg), "include: %s: not a regular file", b);
	expect_error_in(f, inc_main, f->path, 1, msg);
	(void)unlink(b);
	/* Another user's file (only root can make one). */
	if (geteuid() == 0) {
		inc_write(f, "b.conf", "account bob {\n maildir = /m/b\n}\n",
		    0600);
		assert_int_equal(chown(b, 65534, 65534), 0);
		(void)snprintf(msg, sizeof(msg),
		    "include: %s: belongs to another user", b);
		expect_error_in(f, inc_main, f->path, 1, msg);
		(void)unlink(b);
	}
	(void)snprintf(msg, sizeof(msg), "include: %s: Not a directory", a);
	expect_error_in(f,
	    "include = \"accounts.d/a.conf\"\naccount a {\n host = h\n"
	    " user = u\n maildir = /m\n}\n",
	    f->path, 1, msg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_full_config, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_builtin_defaults, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_port_tls_defaults, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_values_spelling, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tilde, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_keys, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_values, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_semantic_lines, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_account, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_library_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_comments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crlf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_environment, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_nul_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_password_mode, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_missing_file, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_find, setup, teardown),
		cmocka_unit_test_setup_teardown(test_default_path, setup,
		    teardown),
		cmocka_unit_test(test_names),
		cmocka_unit_test_setup_teardown(test_example, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy_keys, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_policy_bad, setup,
		    teardown),
		cmocka_unit_test(test_policy_names),
		cmocka_unit_test_setup_teardown(test_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_password_not_quoted, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_keep_days, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_archive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rules_bad, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_include, setup, teardown),
		cmocka_unit_test_setup_teardown(test_include_errors, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
