#include "config.h"

#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "cli/rules.h"
#include "cli/daemon.h"
#include "cli/report.h"
#include "cli/run.h"
#include "config/conf.h"
#include "filter/filter.h"
#include "util/err.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xmalloc.h"

struct main_opts {
	char *config;
	int verbose;
	gboolean is_quiet;
	gboolean is_version;
	gboolean is_rebuild;
	gboolean is_serverinfo;
	gboolean is_dry_run;
	gboolean is_status;
	gboolean is_syslog;
	gboolean is_json;
	gboolean is_summary;
	int jobs;
	char *daemon;
	unsigned interval; /* --daemon, in seconds; 0: run once */
	char *shard;
	unsigned shard_index, shard_count; /* --shard I/N; 0/0 without */
	char **accounts;
};

/* -j: more would only queue at the servers and the disk. */
#define MAIN_JOBS_MAX 64
/* --shard: as many machines as anyone would split a configuration on. */
#define MAIN_SHARDS_MAX 1024

static struct main_opts opts = { .jobs = 1 };

/* The configuration of the round in progress (reloaded by --daemon). */
static const struct conf *main_conf;
/* With --shard, the indexes of its accounts in main_conf. */
static size_t *main_sel;
static size_t main_nsel;

/* The signal that asked us to stop, or 0. */
static volatile sig_atomic_t main_stop;
/* SIGHUP came: reload the configuration before the next round. */
static volatile sig_atomic_t main_reload;

static void
main_on_signal(int signo)
{
	if (signo == SIGHUP)
		main_reload = 1;
	else
		main_stop = signo;
}

/*
 * SIGINT and SIGTERM stop the run after the message in hand, so that
 * QUIT can commit the deletions of what is stored.  The handler is reset
 * on delivery (flags SA_RESETHAND): a second signal kills at once, which
 * is safe too, only slower to clean up.  The children of -j keep theirs,
 * since the parent passes on the signal that a terminal sent them too.
 */
static void
main_signals(int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = main_on_signal;
	sa.sa_flags = flags;
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGTERM, &sa, NULL);
	/* Only the daemon rereads its configuration. */
	if (opts.interval > 0) {
		sa.sa_flags = 0;
		(void)sigaction(SIGHUP, &sa, NULL);
	}
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
	    "Say more: -v summaries and a line per message, -v -v a protocol "
	    "trace",
	    NULL },
	{ "quiet", 'q', 0, G_OPTION_ARG_NONE, &opts.is_quiet,
	    "Print errors only", NULL },
	{ "summary", 0, 0, G_OPTION_ARG_NONE, &opts.is_summary,
	    "Print each account's summary line even when not on a terminal",
	    NULL },
	{ "json", 0, 0, G_OPTION_ARG_NONE, &opts.is_json,
	    "Print the run's results as one JSON object", NULL },
	{ "syslog", 's', 0, G_OPTION_ARG_NONE, &opts.is_syslog,
	    "Log to syslog (facility mail); errors also to stderr", NULL },
	{ "jobs", 'j', 0, G_OPTION_ARG_INT, &opts.jobs,
	    "Fetch up to N accounts at once (default 1)", "N" },
	{ "daemon", 0, 0, G_OPTION_ARG_STRING, &opts.daemon,
	    "Fetch every INTERVAL (seconds, or with s, m or h) until stopped",
	    "INTERVAL" },
	{ "shard", 0, 0, G_OPTION_ARG_STRING, &opts.shard,
	    "Take only shard I (from 0) of N of the accounts, chosen by a "
	    "hash of their names",
	    "I/N" },
	{ "version", 'V', 0, G_OPTION_ARG_NONE, &opts.is_version,
	    "Print the version and exit", NULL },
	{ "rebuild-state", 0, 0, G_OPTION_ARG_NONE, &opts.is_rebuild,
	    "Rebuild the record of fetched messages from the Maildir", NULL },
	{ "dry-run", 'n', 0, G_OPTION_ARG_NONE, &opts.is_dry_run,
	    "Show what would be done with each message, changing nothing",
	    NULL },
	{ "status", 0, 0, G_OPTION_ARG_NONE, &opts.is_status,
	    "Show what the state knows of each account, without connecting",
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
main_usage(const char *msg)
{
	fprintf(stderr, "popfetch: %s\nTry 'popfetch --help'.\n", msg);
	return -1;
}

/* --shard I/N: decimal numbers, 0 <= I < N <= MAIN_SHARDS_MAX. */
static int
main_parse_shard(const char *s)
{
	const char *slash = strchr(s, '/');
	uint64_t i, n;

	if (slash == NULL ||
	    str_tonum(s, (size_t)(slash - s), MAIN_SHARDS_MAX, &i) == -1 ||
	    str_tonum(slash + 1, strlen(slash + 1), MAIN_SHARDS_MAX, &n) ==
	        -1 ||
	    n == 0 || i >= n)
		return -1;
	opts.shard_index = (unsigned)i;
	opts.shard_count = (unsigned)n;
	return 0;
}

/* What the options say together. */
static int
main_check_opts(void)
{
	if (opts.jobs < 1 || opts.jobs > MAIN_JOBS_MAX)
		return main_usage("-j must be from 1 to 64");
	if (opts.shard != NULL && main_parse_shard(opts.shard) == -1)
		return main_usage("--shard needs I/N, two numbers with 0 <= I "
		                  "< N <= 1024, e.g. 0/4");
	if (opts.shard != NULL && opts.accounts != NULL)
		return main_usage("--shard takes its share of all the "
		                  "accounts: name none");
	if (opts.daemon != NULL &&
	    daemon_parse_interval(opts.daemon, &opts.interval) == -1)
		return main_usage("--daemon needs an interval from 1 s to 7 "
		                  "days: seconds, or a number and s, m or h");
	if ((opts.is_rebuild || opts.is_serverinfo) &&
	    (opts.interval > 0 || opts.is_json))
		return main_usage("--daemon and --json go with a fetch only");
	if (opts.is_rebuild && opts.is_serverinfo)
		return main_usage("--rebuild-state or --serverinfo, not both");
	return 0;
}

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
	return rc == 0 ? main_check_opts() : rc;
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
	if (opts.is_status)
		return run_status(acct, ropts, err);
	if (opts.is_rebuild)
		return run_rebuild(acct, ropts, err);
	return run_account(acct, ropts, err);
}

static double
main_now(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Run one account here; rep (may be NULL) gets its progress. */
static void
main_one(const struct conf_account *acct, struct report *rep,
    struct report_result *res)
{
	struct run_opts ropts = { .conf = main_conf,
		.is_quiet = opts.is_quiet,
		.stop = &main_stop,
		.progress = rep != NULL ? report_progress : NULL,
		.progress_arg = rep,
		.stats_out = &res->stats,
		.filed_out = &res->filed };
	double t0 = main_now();
	struct err err;

	memset(res, 0, sizeof(*res));
	res->has_stats = !opts.is_rebuild && !opts.is_serverinfo &&
	    !opts.is_dry_run && !opts.is_status;
	err_clear(&err);
	if (rep != NULL)
		report_start(rep, acct->name);
	if (main_run_one(acct, &ropts, &err) == -1) {
		res->cls = err.cls != ERR_NONE ? err.cls : ERR_SOFTWARE;
		(void)snprintf(res->error, sizeof(res->error), "%s", err.msg);
	}
	res->seconds = main_now() - t0;
}

/*
 * The shard of an account: FNV-1a of its name, modulo N.  Only the name
 * counts, so every machine with the same account names agrees, whatever
 * the order or the files they are written in.
 */
static unsigned
main_shard_of(const char *name)
{
	return str_hash_fnv1a(name) % opts.shard_count;
}

/* --shard: which of conf's accounts this run takes. */
static void
main_select(const struct conf *conf)
{
	size_t i;

	free(main_sel);
	main_sel = NULL;
	main_nsel = 0;
	if (opts.shard_count == 0)
		return;
	main_sel = xcalloc(conf->naccounts + 1, sizeof(*main_sel));
	for (i = 0; i < conf->naccounts; i++)
		if (main_shard_of(conf->accounts[i].name) == opts.shard_index)
			main_sel[main_nsel++] = i;
	log_info("shard %u/%u: %zu of %zu accounts", opts.shard_index,
	    opts.shard_count, main_nsel, conf->naccounts);
}

/* The i-th account of the run: the named ones, the shard's, or all. */
static const struct conf_account *
main_account(const struct conf *conf, size_t i)
{
	if (opts.accounts != NULL)
		return conf_find(conf, opts.accounts[i]);
	if (opts.shard_count > 0)
		return &conf->accounts[main_sel[i]];
	return &conf->accounts[i];
}

static size_t
main_count(const struct conf *conf)
{
	if (opts.accounts != NULL)
		return g_strv_length(opts.accounts);
	if (opts.shard_count > 0)
		return main_nsel;
	return conf->naccounts;
}

/* One account after the other, in this process. */
static enum err_class
main_serial(const struct conf *conf, struct report *rep)
{
	enum err_class worst = ERR_NONE;
	const struct conf_account *acct;
	struct report_result res;
	size_t i, n = main_count(conf);

	for (i = 0; i < n && !main_stop; i++) {
		acct = main_account(conf, i);
		main_one(acct, rep, &res);
		report_done(rep, i, acct->name, &res);
		worst = err_worse(worst, res.cls);
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

/* A child of -j: one account, whose result goes back through a pipe. */
struct main_job {
	pid_t pid; /* 0: the slot is free */
	int fd;    /* the read end of the child's pipe */
	size_t idx;
};

/* A result is sent whole in one write, which a pipe keeps whole. */
_Static_assert(sizeof(struct report_result) <= PIPE_BUF,
    "struct report_result must fit in one atomic pipe write");

static void __attribute__((noreturn))
main_child(const struct conf_account *acct, int fd)
{
	struct report_result res;
	const char *p = (const char *)&res;
	size_t left = sizeof(res);
	ssize_t w;

	/* A terminal's ^C reaches us and the parent, which passes it on. */
	main_signals(0);
	main_one(acct, NULL, &res);
	/* Less than PIPE_BUF: one write, read whole by the parent. */
	while (left > 0) {
		if ((w = write(fd, p, left)) == -1 && errno == EINTR)
			continue;
		if (w == -1)
			break;
		p += w;
		left -= (size_t)w;
	}
	(void)fflush(stdout);
	/* No exit handlers: they belong to the parent. */
	_exit(0);
}

static int
main_spawn(const struct conf_account *acct, struct main_job *job,
    struct err *err)
{
	int fds[2];

	if (pipe2(fds, O_CLOEXEC) == -1) {
		err_set(err, ERR_LOCAL, "pipe");
		return -1;
	}
	/* What stdio holds would be written twice. */
	(void)fflush(NULL);
	if ((job->pid = fork()) == -1) {
		err_set(err, ERR_LOCAL, "fork");
		job->pid = 0;
		(void)close(fds[0]);
		(void)close(fds[1]);
		return -1;
	}
	if (job->pid == 0) {
		(void)close(fds[0]);
		main_child(acct, fds[1]);
	}
	(void)close(fds[1]);
	job->fd = fds[0];
	return 0;
}

/* The result the child job sent, or why there is none. */
static void
main_collect(struct main_job *job, int wstatus, struct report_result *res)
{
	ssize_t n;

	do
		n = read(job->fd, res, sizeof(*res));
	while (n == -1 && errno == EINTR);
	(void)close(job->fd);
	job->pid = 0;
	if (n == (ssize_t)sizeof(*res)) {
		res->error[sizeof(res->error) - 1] = '\0';
		return;
	}
	memset(res, 0, sizeof(*res));
	res->cls = ERR_SOFTWARE;
	if (WIFSIGNALED(wstatus))
		(void)snprintf(res->error, sizeof(res->error),
		    "killed by signal %d", WTERMSIG(wstatus));
	else
		(void)snprintf(res->error, sizeof(res->error),
		    "ended with status %d and no result", WEXITSTATUS(wstatus));
}

/*
 * Wait for one job to end and report it; false if what ended was not a
 * job.  A stop signal that interrupts the wait is passed on to the
 * jobs, once.
 */
static bool
main_reap(const struct conf *conf, struct main_job *jobs, struct report *rep,
    enum err_class *worst, bool *is_passed)
{
	struct report_result res;
	int i, wstatus;
	pid_t pid;

	while ((pid = waitpid(-1, &wstatus, 0)) == -1) {
		if (errno != EINTR)
			fatal("waitpid");
		if (main_stop != 0 && !*is_passed) {
			for (i = 0; i < opts.jobs; i++)
				if (jobs[i].pid != 0)
					(void)kill(jobs[i].pid, main_stop);
			*is_passed = true;
		}
	}
	for (i = 0; i < opts.jobs && jobs[i].pid != pid; i++)
		continue;
	if (i == opts.jobs)
		return false;
	main_collect(&jobs[i], wstatus, &res);
	report_done(rep, jobs[i].idx, main_account(conf, jobs[i].idx)->name,
	    &res);
	*worst = err_worse(*worst, res.cls);
	return true;
}

/*
 * -j: up to opts.jobs accounts at once, each in a child process (the
 * configuration is loaded once, before; nothing has started a thread).
 * Each result is reported as its child ends, so the lines come in the
 * order the accounts finish; the JSON keeps the configuration's order.
 */
static enum err_class
main_parallel(const struct conf *conf, struct report *rep)
{
	struct main_job *jobs;
	enum err_class worst = ERR_NONE;
	size_t next = 0, n = main_count(conf);
	struct report_result res;
	bool is_passed = false;
	struct err err;
	int i, running = 0;

	jobs = xcalloc((size_t)opts.jobs, sizeof(*jobs));
	while (running > 0 || (next < n && !main_stop)) {
		for (i = 0; i < opts.jobs && next < n && !main_stop; i++) {
			if (jobs[i].pid != 0)
				continue;
			jobs[i].idx = next;
			err_clear(&err);
			if (main_spawn(main_account(conf, next), &jobs[i],
			        &err) == 0)
				running++;
			else {
				memset(&res, 0, sizeof(res));
				res.cls = err.cls;
				memcpy(res.error, err.msg, sizeof(res.error));
				report_done(rep, next,
				    main_account(conf, next)->name, &res);
				worst = err_worse(worst, res.cls);
			}
			next++;
		}
		if (running == 0)
			break;
		if (main_reap(conf, jobs, rep, &worst, &is_passed))
			running--;
	}
	free(jobs);
	return worst;
}

/* The report of a round, as the options and the terminal want it. */
static struct report *
main_report(const struct conf *conf, bool is_parallel)
{
	const char *term = getenv("TERM");
	bool is_tty = isatty(STDERR_FILENO) == 1;
	bool is_fetch = !opts.is_rebuild && !opts.is_serverinfo &&
	    !opts.is_dry_run && !opts.is_status;
	struct report_opts ro = { .is_quiet = opts.is_quiet,
		.is_json = opts.is_json,
		.shard_index = opts.shard_index,
		.shard_count = opts.shard_count };

	/* Unattended (cron, a timer): quiet unless something went wrong. */
	ro.is_summary =
	    is_fetch && (is_tty || opts.verbose > 0 || opts.is_summary);
	ro.is_totals = is_fetch && (is_tty || opts.verbose > 0);
	/* Lines of several accounts at once cannot share one line. */
	ro.is_progress = is_fetch && is_tty && !is_parallel && term != NULL &&
	    strcmp(term, "dumb") != 0;
	return report_new(&ro, main_count(conf));
}

/* Run the named accounts (all when none is named): the exit status. */
static int
main_round(const struct conf *conf)
{
	bool is_parallel = opts.jobs > 1 && main_count(conf) > 1;
	struct report *rep = main_report(conf, is_parallel);
	enum err_class worst;
	int status;

	main_conf = conf;
	worst = is_parallel ? main_parallel(conf, rep) : main_serial(conf, rep);
	status = err_exitcode(worst);
	/* The shell's convention for "ended by a signal". */
	if (main_stop != 0)
		status = 128 + main_stop;
	report_finish(rep, status);
	report_free(rep);
	return status;
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

/* Where lines go: --syslog, or the configuration's log key. */
static void
main_log_to(const struct conf *conf)
{
	log_init(main_level(),
	    opts.is_syslog || (conf != NULL && conf->log == CONF_LOG_SYSLOG));
}

/*
 * SIGHUP: read the configuration again.  One that does not load, or that
 * lacks an account named on the command line, is refused, and the run
 * goes on with the old one.
 */
static void
main_reconf(struct conf **confp)
{
	struct conf *conf;

	log_info("reloading %s", (*confp)->path);
	if ((conf = main_load()) != NULL && !main_check_accounts(conf)) {
		conf_free(conf);
		conf = NULL;
	}
	if (conf == NULL) {
		log_error("configuration not reloaded: going on with the "
		          "one read before");
		return;
	}
	conf_free(*confp);
	*confp = conf;
	main_log_to(conf);
	main_select(conf);
}

/*
 * --daemon: a round every interval, longer after temporary failures,
 * until SIGINT or SIGTERM.  Those signals are blocked between the end of
 * a round and the wait, so that one coming then is not missed; during a
 * round they are not, so the fetch stops after the message in hand.
 */
static int
main_daemon(struct conf **confp)
{
	sigset_t block, old;
	unsigned ntemp = 0, delay;
	int status;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	for (;;) {
		if (main_reload) {
			main_reload = 0;
			main_reconf(confp);
		}
		status = main_round(*confp);
		(void)sigprocmask(SIG_BLOCK, &block, &old);
		delay = daemon_delay(opts.interval, status, &ntemp);
		if (main_stop == 0) {
			log_info("next round in %u s", delay);
			daemon_sleep(delay, &main_stop, &old);
		}
		(void)sigprocmask(SIG_SETMASK, &old, NULL);
		if (main_stop != 0)
			break;
	}
	return status;
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
	main_log_to(NULL);
	main_signals(SA_RESETHAND);
	filter_init();

	if ((conf = main_load()) == NULL)
		status = EX_CONFIG;
	else if (!main_check_accounts(conf))
		status = EX_USAGE;
	else if (!main_check_rules(conf))
		status = EX_CONFIG;
	else {
		main_log_to(conf);
		main_select(conf);
		status =
		    opts.interval > 0 ? main_daemon(&conf) : main_round(conf);
	}
	if (main_stop != 0)
		status = 128 + main_stop;
	conf_free(conf);
	filter_shutdown();
	g_free(opts.config);
	g_free(opts.daemon);
	g_free(opts.shard);
	free(main_sel);
	g_strfreev(opts.accounts);
	return status;
}
