#include "config.h"

#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <glib.h>

#include "cli/rules.h"
#include "cli/run.h"
#include "config/conf.h"
#include "filter/filter.h"
#include "util/err.h"
#include "util/log.h"
#include "util/xmalloc.h"

struct main_opts {
	char *config;
	int verbose;
	gboolean is_quiet;
	gboolean is_version;
	gboolean is_rebuild;
	gboolean is_serverinfo;
	gboolean is_dry_run;
	char **accounts;
};

static struct main_opts opts;

/* The signal that asked us to stop, or 0. */
static volatile sig_atomic_t main_stop;

static void
main_on_signal(int signo)
{
	main_stop = signo;
}

/*
 * SIGINT and SIGTERM stop the run after the message in hand, so that
 * QUIT can commit the deletions of what is stored.  The handler is reset
 * on delivery: a second signal kills at once, which is safe too, only
 * slower to clean up.
 */
static void
main_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = main_on_signal;
	sa.sa_flags = SA_RESETHAND;
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGTERM, &sa, NULL);
	/* A closed connection must be an error return, not a signal. */
	(void)signal(SIGPIPE, SIG_IGN);
}

static gboolean
main_verbose(const gchar *name, const gchar *value, gpointer data,
    GError **gerr)
{
	(void)name;
	(void)value;
	(void)data;
	(void)gerr;
	opts.verbose++;
	return TRUE;
}

static const GOptionEntry main_entries[] = {
	{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &opts.config,
	    "Read FILE instead of ~/.config/popfetch/config", "FILE" },
	{ "verbose", 'v', G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK,
	    (gpointer)main_verbose,
	    "Say more: -v per message, -v -v a protocol trace", NULL },
	{ "quiet", 'q', 0, G_OPTION_ARG_NONE, &opts.is_quiet,
	    "Print errors only", NULL },
	{ "version", 'V', 0, G_OPTION_ARG_NONE, &opts.is_version,
	    "Print the version and exit", NULL },
	{ "rebuild-state", 0, 0, G_OPTION_ARG_NONE, &opts.is_rebuild,
	    "Rebuild the record of fetched messages from the Maildir", NULL },
	{ "dry-run", 'n', 0, G_OPTION_ARG_NONE, &opts.is_dry_run,
	    "Show what would be done with each message, changing nothing",
	    NULL },
	{ "serverinfo", 0, 0, G_OPTION_ARG_NONE, &opts.is_serverinfo,
	    "Show what the servers offer (TLS, certificate, capabilities) "
	    "without logging in",
	    NULL },
	{ G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &opts.accounts,
	    NULL, "[ACCOUNT...]" },
	{ NULL, 0, 0, 0, NULL, NULL, NULL },
};

static int
main_parse(int argc, char **argv)
{
	GOptionContext *ctx;
	GError *gerr = NULL;
	int rc = 0;

	ctx = g_option_context_new(NULL);
	g_option_context_set_summary(ctx,
	    "Fetch mail from POP3 servers into Maildirs, every account of the "
	    "configuration\nfile or only the ones named.");
	g_option_context_add_main_entries(ctx, main_entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &gerr)) {
		fprintf(stderr, "popfetch: %s\nTry 'popfetch --help'.\n",
		    gerr->message);
		g_error_free(gerr);
		rc = -1;
	}
	g_option_context_free(ctx);
	return rc;
}

static enum log_level
main_level(void)
{
	if (opts.is_quiet)
		return LOG_LEVEL_ERROR;
	if (opts.verbose >= 2)
		return LOG_LEVEL_TRACE;
	if (opts.verbose == 1)
		return LOG_LEVEL_INFO;
	return LOG_LEVEL_NOTICE;
}

static struct conf *
main_load(void)
{
	struct conf *conf;
	struct err err;
	char *path;

	err_clear(&err);
	path = opts.config != NULL ? xstrdup(opts.config) : conf_default_path();
	if (path == NULL) {
		log_error("no configuration file: neither XDG_CONFIG_HOME nor "
		          "HOME is set (use -c FILE)");
		return NULL;
	}
	if ((conf = conf_load(path, &err)) == NULL)
		log_error("%s", err.msg);
	free(path);
	return conf;
}

static int
main_run_one(const struct conf_account *acct, const struct run_opts *ropts,
    struct err *err)
{
	if (opts.is_serverinfo)
		return run_serverinfo(acct, ropts, err);
	if (opts.is_dry_run)
		return run_dry_run(acct, ropts, err);
	if (opts.is_rebuild)
		return run_rebuild(acct, ropts, err);
	return run_account(acct, ropts, err);
}

/* Run the named accounts (all when none is named); the worst class. */
static enum err_class
main_run(const struct conf *conf)
{
	struct run_opts ropts = { .conf = conf,
		.is_quiet = opts.is_quiet,
		.stop = &main_stop };
	enum err_class worst = ERR_NONE;
	const struct conf_account *acct;
	struct err err;
	size_t i, n;

	n = opts.accounts != NULL ? g_strv_length(opts.accounts)
	                          : conf->naccounts;
	for (i = 0; i < n && !main_stop; i++) {
		acct = opts.accounts != NULL ? conf_find(conf, opts.accounts[i])
		                             : &conf->accounts[i];
		err_clear(&err);
		if (main_run_one(acct, &ropts, &err) == 0)
			continue;
		log_error("%s: %s", acct->name, err.msg);
		worst = err_worse(worst, err.cls);
	}
	return worst;
}

/* Every account's rules, made once now, so that a bad one stops the run. */
static bool
main_check_rules(const struct conf *conf)
{
	struct rules *rs;
	struct err err;
	size_t i;

	for (i = 0; i < conf->naccounts; i++) {
		err_clear(&err);
		if ((rs = rules_build(conf, &conf->accounts[i], &err)) ==
		    NULL) {
			log_error("%s", err.msg);
			return false;
		}
		rules_free(rs);
	}
	return true;
}

static bool
main_check_accounts(const struct conf *conf)
{
	char **name;

	for (name = opts.accounts; name != NULL && *name != NULL; name++) {
		if (conf_find(conf, *name) == NULL) {
			log_error("%s: no such account in %s", *name,
			    conf->path);
			return false;
		}
	}
	return true;
}

int
main(int argc, char **argv)
{
	struct conf *conf = NULL;
	int status;

	/* Only the character set, for --help; numbers stay in C style. */
	(void)setlocale(LC_CTYPE, "");
	if (main_parse(argc, argv) == -1)
		return EX_USAGE;
	if (opts.is_version) {
		printf("%s %s\n", PACKAGE_NAME, PACKAGE_VERSION);
		return 0;
	}
	log_init(main_level(), false);
	main_signals();
	filter_init();

	if ((conf = main_load()) == NULL)
		status = EX_CONFIG;
	else if (!main_check_accounts(conf))
		status = EX_USAGE;
	else if (!main_check_rules(conf))
		status = EX_CONFIG;
	else
		status = err_exitcode(main_run(conf));
	/* The shell's convention for "ended by a signal". */
	if (main_stop != 0)
		status = 128 + main_stop;
	conf_free(conf);
	filter_shutdown();
	g_free(opts.config);
	g_strfreev(opts.accounts);
	return status;
}
