#include "config.h"

#include <sys/ioctl.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "cli/report.h"
#include "util/log.h"
#include "util/xmalloc.h"

/* At most this many redraws of the progress line a second. */
#define REPORT_REDRAW_MS 100

/* One account as the totals and the JSON object see it. */
struct report_entry {
	bool is_done;
	char *name;
	struct report_result res;
};

struct report {
	struct report_opts opts;
	struct report_entry *entries;
	size_t nentries;
	/* The account running in this process, for the progress line. */
	const char *name;
	double t_run;   /* when the run started */
	double t_start; /* when the account started */
	double t_plan;  /* when its plan was known; 0: not yet */
	double t_drawn; /* the last redraw */
	bool is_drawn;  /* a progress line is on the screen */
};

/* The report whose progress line log lines must erase first. */
static struct report *report_shown;

static double
report_now(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Write all of buf to stderr in one call where the kernel allows. */
static void
report_write_stderr(const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(STDERR_FILENO, buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			return;
		}
		buf += n;
		len -= (size_t)n;
	}
}

static void
report_erase(struct report *r)
{
	/* Back to the start of the line, and clear to its end. */
	if (r->is_drawn)
		report_write_stderr("\r\033[K", 4);
	r->is_drawn = false;
}

static void
report_erase_hook(void)
{
	if (report_shown != NULL)
		report_erase(report_shown);
}

struct report *
report_new(const struct report_opts *opts, size_t naccounts)
{
	struct report *r;

	r = xcalloc(1, sizeof(*r));
	r->opts = *opts;
	r->t_run = report_now();
	if (r->opts.is_quiet) {
		r->opts.is_summary = false;
		r->opts.is_totals = false;
		r->opts.is_progress = false;
	}
	if (r->opts.is_json) {
		r->opts.is_summary = false;
		r->opts.is_totals = false;
	}
	r->nentries = naccounts;
	r->entries =
	    xcalloc(naccounts == 0 ? 1 : naccounts, sizeof(*r->entries));
	if (r->opts.is_progress) {
		report_shown = r;
		log_set_hook(report_erase_hook);
	}
	return r;
}

void
report_free(struct report *r)
{
	size_t i;

	if (r == NULL)
		return;
	report_erase(r);
	if (report_shown == r) {
		report_shown = NULL;
		log_set_hook(NULL);
	}
	for (i = 0; i < r->nentries; i++)
		free(r->entries[i].name);
	free(r->entries);
	free(r);
}

void
report_format_size(uint64_t n, char *buf, size_t len)
{
	if (n < 1024)
		(void)snprintf(buf, len, "%llu B", (unsigned long long)n);
	else if (n < 1024 * 1024)
		(void)snprintf(buf, len, "%llu KiB",
		    (unsigned long long)((n + 512) / 1024));
	else if (n < 1024ULL * 1024 * 1024)
		(void)snprintf(buf, len, "%.1f MiB", (double)n / 1048576.0);
	else
		(void)snprintf(buf, len, "%.1f GiB", (double)n / 1073741824.0);
}

/* "0.4 s", "12.3 s", "2 min 05 s", "1 h 02 min". */
static void
report_format_time(double s, char *buf, size_t len)
{
	unsigned long t;

	if (s < 59.95) {
		(void)snprintf(buf, len, "%.1f s", s > 0 ? s : 0.0);
		return;
	}
	t = s > 3.6e8 ? 360000000UL : (unsigned long)(s + 0.5);
	if (t < 3600)
		(void)snprintf(buf, len, "%lu min %02lu s", t / 60, t % 60);
	else
		(void)snprintf(buf, len, "%lu h %02lu min", t / 3600,
		    t / 60 % 60);
}

/*
 * The name after name in f's table, or the first when name is NULL;
 * NULL past the last.  Bounded by names_len, so that a table that came
 * through a pipe cannot make it read past the end.
 */
static const char *
report_filed_next(const struct report_filed *f, const char *name)
{
	const char *end = f->names +
	    (f->names_len < sizeof(f->names) ? f->names_len : sizeof(f->names));

	if (name == NULL)
		name = f->names;
	else if ((name = memchr(name, '\0', (size_t)(end - name))) != NULL)
		name++;
	if (name == NULL || name >= end ||
	    memchr(name, '\0', (size_t)(end - name)) == NULL)
		return NULL;
	return name;
}

void
report_filed_add(struct report_filed *f, const char *folder, unsigned n)
{
	const char *name = NULL;
	size_t i, len;

	if (folder == NULL) {
		f->inbox += n;
		return;
	}
	for (i = 0;
	     i < f->nfolders && (name = report_filed_next(f, name)) != NULL;
	     i++) {
		if (strcmp(name, folder) == 0) {
			f->counts[i] += n;
			return;
		}
	}
	len = strlen(folder) + 1;
	if (f->nfolders >= REPORT_FOLDERS_MAX ||
	    f->names_len > sizeof(f->names) ||
	    len > sizeof(f->names) - f->names_len) {
		f->other += n;
		return;
	}
	memcpy(f->names + f->names_len, folder, len);
	f->names_len += len;
	f->counts[f->nfolders++] = n;
}

/* The terminal's width, so that the line never wraps (a wrapped line
 * cannot be erased with a carriage return). */
static size_t
report_columns(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == -1 || ws.ws_col < 20)
		return 80;
	return ws.ws_col;
}

static void
report_draw(struct report *r, const char *text)
{
	char line[512];
	size_t len, width = report_columns() - 1;

	len = (size_t)snprintf(line, sizeof(line), "\r%s", text);
	if (len >= sizeof(line))
		len = sizeof(line) - 1;
	/* The "\r" takes no column. */
	if (len > width + 1)
		len = width + 1;
	memcpy(line + len, "\033[K", 3);
	report_write_stderr(line, len + 3);
	r->is_drawn = true;
	r->t_drawn = report_now();
}

void
report_start(struct report *r, const char *name)
{
	char text[256];

	r->name = name;
	r->t_start = report_now();
	r->t_plan = 0;
	if (!r->opts.is_progress)
		return;
	(void)snprintf(text, sizeof(text), "%s: connecting", name);
	report_draw(r, text);
}

/* "m:ss", or "h:mm:ss" past an hour. */
static void
report_format_eta(double s, char *buf, size_t len)
{
	unsigned long t = s > 359999 ? 359999 : (unsigned long)(s + 0.5);

	if (t >= 3600)
		(void)snprintf(buf, len, "%lu:%02lu:%02lu", t / 3600,
		    t / 60 % 60, t % 60);
	else
		(void)snprintf(buf, len, "%lu:%02lu", t / 60, t % 60);
}

void
report_progress(void *arg, const struct fetch_stats *stats, uint64_t in_flight)
{
	struct report *r = arg;
	char text[256], size[32], rate[32], eta[32];
	double now = report_now(), elapsed, bps;
	uint64_t done;
	unsigned left;

	if (!r->opts.is_progress || r->name == NULL)
		return;
	if (r->t_plan == 0)
		r->t_plan = now;
	else if ((now - r->t_drawn) * 1000 < REPORT_REDRAW_MS)
		return;
	done = stats->bytes + in_flight;
	elapsed = now - r->t_plan;
	bps = elapsed > 0.05 ? (double)done / elapsed : 0;
	report_format_size(done, size, sizeof(size));
	report_format_size((uint64_t)bps, rate, sizeof(rate));
	left = stats->new_msgs > stats->retrieved
	    ? stats->new_msgs - stats->retrieved
	    : 0;
	/* No sizes of what is left are known here: assume the mean so far. */
	if (stats->retrieved > 0 && bps > 0 && left > 0)
		report_format_eta(((double)stats->bytes / stats->retrieved *
		                          left -
		                      (double)in_flight) /
		        bps,
		    eta, sizeof(eta));
	else
		(void)snprintf(eta, sizeof(eta), left > 0 ? "-:--" : "0:00");
	(void)snprintf(text, sizeof(text),
	    "%s: %u/%u messages, %s, %s/s, ETA %s", r->name, stats->retrieved,
	    stats->new_msgs, size, rate, eta);
	report_draw(r, text);
}

static bool
report_has_news(const struct fetch_stats *st)
{
	return st->retrieved > 0 || st->deleted > 0;
}

/*
 * The counts of a summary line: "15 messages, 15 new, 12 retrieved (340
 * KiB), 9 to inbox, 3 to .Lists.dev, 2 discarded, 1 skipped, 14 deleted
 * on the server, in 1.3 s".  The folders (f, may be NULL) only when a
 * rule filed into one: the common line stays short.
 */
static void
report_line(GString *out, const struct fetch_stats *st,
    const struct report_filed *f, double secs)
{
	const char *name = NULL;
	char size[32], took[32];
	unsigned i;

	report_format_size(st->bytes, size, sizeof(size));
	report_format_time(secs, took, sizeof(took));
	g_string_append_printf(out, "%u message%s, %u new, %u retrieved (%s)",
	    st->on_server, st->on_server == 1 ? "" : "s", st->new_msgs,
	    st->retrieved, size);
	if (f != NULL && (f->nfolders > 0 || f->other > 0)) {
		if (f->inbox > 0)
			g_string_append_printf(out, ", %u to inbox", f->inbox);
		for (i = 0; i < f->nfolders &&
		     (name = report_filed_next(f, name)) != NULL;
		     i++)
			g_string_append_printf(out, ", %u to %s", f->counts[i],
			    name);
		if (f->other > 0)
			g_string_append_printf(out, ", %u to other folders",
			    f->other);
	}
	if (st->discarded > 0)
		g_string_append_printf(out, ", %u discarded", st->discarded);
	if (st->skipped > 0)
		g_string_append_printf(out, ", %u skipped", st->skipped);
	if (st->duplicates > 0)
		g_string_append_printf(out, ", %u already archived",
		    st->duplicates);
	g_string_append_printf(out, ", %u deleted on the server, in %s",
	    st->deleted, took);
}

static void
report_summary(struct report *r, const char *name,
    const struct report_result *res)
{
	GString *line = g_string_new(NULL);

	g_string_append_printf(line, "%s: ", name);
	report_line(line, &res->stats, &res->filed, res->seconds);
	log_summary(report_has_news(&res->stats), "%s", line->str);
	if (r->opts.is_summary) {
		printf("%s\n", line->str);
		(void)fflush(stdout);
	}
	g_string_free(line, TRUE);
}

void
report_done(struct report *r, size_t idx, const char *name,
    const struct report_result *res)
{
	struct report_entry *e;

	report_erase(r);
	r->name = NULL;
	if (idx < r->nentries) {
		e = &r->entries[idx];
		free(e->name);
		e->name = xstrdup(name);
		e->res = *res;
		e->is_done = true;
	}
	if (res->cls != ERR_NONE)
		log_error("%s: %s", name, res->error);
	/* A failed account that stored mail says how much. */
	if (res->has_stats &&
	    (res->cls == ERR_NONE || res->stats.retrieved > 0))
		report_summary(r, name, res);
}

/* The sums over the accounts that ran. */
struct report_totals {
	unsigned naccounts, nfailed;
	struct fetch_stats stats;
	struct report_filed filed; /* by folder name, over the accounts */
};

static void
report_sum_filed(struct report_filed *t, const struct report_filed *f)
{
	const char *name = NULL;
	unsigned i;

	t->inbox += f->inbox;
	t->other += f->other;
	for (i = 0;
	     i < f->nfolders && (name = report_filed_next(f, name)) != NULL;
	     i++)
		report_filed_add(t, name, f->counts[i]);
}

static void
report_sum(const struct report *r, struct report_totals *t)
{
	const struct report_entry *e;
	size_t i;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < r->nentries; i++) {
		e = &r->entries[i];
		if (!e->is_done)
			continue;
		t->naccounts++;
		if (e->res.cls != ERR_NONE)
			t->nfailed++;
		t->stats.on_server += e->res.stats.on_server;
		t->stats.new_msgs += e->res.stats.new_msgs;
		t->stats.retrieved += e->res.stats.retrieved;
		t->stats.deleted += e->res.stats.deleted;
		t->stats.bytes += e->res.stats.bytes;
		t->stats.skipped += e->res.stats.skipped;
		t->stats.discarded += e->res.stats.discarded;
		t->stats.duplicates += e->res.stats.duplicates;
		report_sum_filed(&t->filed, &e->res.filed);
	}
}

/* The accounts' folders are not listed: the same name may be two. */
static void
report_totals(const struct report *r, const struct report_totals *t,
    double wall)
{
	GString *line = g_string_new(NULL);

	g_string_append_printf(line, "total: %u accounts, %u failed, ",
	    t->naccounts, t->nfailed);
	report_line(line, &t->stats, NULL, wall);
	log_summary(report_has_news(&t->stats), "%s", line->str);
	if (r->opts.is_totals)
		printf("%s\n", line->str);
	g_string_free(line, TRUE);
}

/*
 * JSON strings: RFC 8259 §7.  Quotes, backslashes and control characters
 * are escaped; bytes that are not UTF-8 (an account name is the user's
 * bytes) become U+FFFD, since a JSON text must be UTF-8 (§8.1).
 */
static void
report_json_string(GString *out, const char *s)
{
	const char *end = s + strlen(s);
	gunichar c;
	size_t len;

	g_string_append_c(out, '"');
	while (s < end) {
		c = g_utf8_get_char_validated(s, end - s);
		len = (size_t)g_utf8_skip[*(const unsigned char *)s];
		if (c == (gunichar)-1 || c == (gunichar)-2) {
			g_string_append(out, "\\ufffd");
			s++;
			continue;
		}
		if (c == '"' || c == '\\')
			g_string_append_printf(out, "\\%c", (char)c);
		else if (c < 0x20)
			g_string_append_printf(out, "\\u%04x", (unsigned)c);
		else
			g_string_append_len(out, s, (gssize)len);
		s += len;
	}
	g_string_append_c(out, '"');
}

/* The class as a script tests it. */
static const char *
report_class_word(enum err_class cls)
{
	static const char *const words[] = {
		[ERR_NONE] = "none",
		[ERR_TEMP] = "temporary",
		[ERR_AUTH] = "auth",
		[ERR_PROTO] = "protocol",
		[ERR_CONFIG] = "config",
		[ERR_LOCAL] = "local",
		[ERR_SOFTWARE] = "software",
	};

	if ((size_t)cls >= sizeof(words) / sizeof(words[0]))
		return "software";
	return words[cls];
}

static void
report_json_counts(GString *out, const struct fetch_stats *st, double secs)
{
	g_string_append_printf(out,
	    "\"on_server\":%u,\"new\":%u,\"retrieved\":%u,\"bytes\":%llu,"
	    "\"skipped\":%u,\"discarded\":%u,\"duplicates\":%u,"
	    "\"deleted\":%u,\"seconds\":%.3f",
	    st->on_server, st->new_msgs, st->retrieved,
	    (unsigned long long)st->bytes, st->skipped, st->discarded,
	    st->duplicates, st->deleted, secs);
}

/*
 * "filed":{"inbox":9,".Lists.dev":3}: the inbox always, the folders that
 * got mail, and "other" for those the table had no room for.
 */
static void
report_json_filed(GString *out, const struct report_filed *f)
{
	const char *name = NULL;
	unsigned i;

	g_string_append_printf(out, ",\"filed\":{\"inbox\":%u", f->inbox);
	for (i = 0;
	     i < f->nfolders && (name = report_filed_next(f, name)) != NULL;
	     i++) {
		g_string_append_c(out, ',');
		report_json_string(out, name);
		g_string_append_printf(out, ":%u", f->counts[i]);
	}
	if (f->other > 0)
		g_string_append_printf(out, ",\"other\":%u", f->other);
	g_string_append_c(out, '}');
}

static void
report_json_account(GString *out, const struct report_entry *e)
{
	g_string_append(out, "{\"name\":");
	report_json_string(out, e->name);
	g_string_append_printf(out, ",\"status\":\"%s\",\"exit_status\":%d,",
	    e->res.cls == ERR_NONE ? "ok" : "failed", err_exitcode(e->res.cls));
	report_json_counts(out, &e->res.stats, e->res.seconds);
	report_json_filed(out, &e->res.filed);
	if (e->res.cls == ERR_NONE)
		g_string_append(out, ",\"error\":null}");
	else {
		g_string_append_printf(out,
		    ",\"error\":{\"class\":\"%s\",\"message\":",
		    report_class_word(e->res.cls));
		report_json_string(out, e->res.error);
		g_string_append(out, "}}");
	}
}

/* One line, one object: easy to read with jq or line by line. */
static void
report_json(const struct report *r, const struct report_totals *t, int status,
    double wall)
{
	GString *out = g_string_new(NULL);
	bool is_first = true;
	size_t i;

	g_string_append_printf(out, "{\"version\":\"%s\",\"exit_status\":%d,",
	    PACKAGE_VERSION, status);
	/* Which share of the accounts a run of --shard took. */
	if (r->opts.shard_count > 0)
		g_string_append_printf(out,
		    "\"shard\":{\"index\":%u,\"count\":%u},",
		    r->opts.shard_index, r->opts.shard_count);
	g_string_append(out, "\"accounts\":[");
	for (i = 0; i < r->nentries; i++) {
		if (!r->entries[i].is_done)
			continue;
		if (!is_first)
			g_string_append_c(out, ',');
		is_first = false;
		report_json_account(out, &r->entries[i]);
	}
	/* "errors" counts the accounts that failed, as "failed" does. */
	g_string_append_printf(out,
	    "],\"totals\":{\"accounts\":%u,\"failed\":%u,\"errors\":%u,",
	    t->naccounts, t->nfailed, t->nfailed);
	report_json_counts(out, &t->stats, wall);
	report_json_filed(out, &t->filed);
	g_string_append(out, "}}\n");
	(void)fwrite(out->str, 1, out->len, stdout);
	g_string_free(out, TRUE);
}

void
report_finish(struct report *r, int status)
{
	struct report_totals t;
	double wall;

	report_erase(r);
	report_sum(r, &t);
	/* With -j accounts run side by side: less than the sum of theirs. */
	wall = report_now() - r->t_run;
	if (r->opts.is_json)
		report_json(r, &t, status, wall);
	else if (t.naccounts > 1)
		report_totals(r, &t, wall);
	(void)fflush(stdout);
}
