#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/mock-transport.h"
#include "util/xmalloc.h"

struct mock_transport {
	struct transport base;
	char *script;
	size_t len;
	size_t pos;
	size_t chunk;
	size_t fail_at;       /* SIZE_MAX: never */
	size_t fail_write_at; /* SIZE_MAX: never */
	size_t boundary[MOCK_TRANSPORT_BOUNDARIES];
	size_t n_boundaries;
	bool tls_allowed;
	bool tls_started;
	char *out;
	size_t outlen;
	size_t outcap;
	size_t lastat; /* where the last write began in out */
	/* mock_transport_lockstep(): */
	size_t *reply_at, nreply, cap;
	size_t *cmd_end; /* where each command written ends in out */
	size_t ncmd, lock_from, max_unread, max_octets;
	bool is_lockstep;
	char **saved; /* gets out when freed, or NULL */
};

static struct mock_transport *
mock_of(struct transport *t)
{
	return (struct mock_transport *)t;
}

/* How many of the commands written the lock-step server has read. */
static size_t
mock_taken(const struct mock_transport *m)
{
	size_t j = 0;

	while (j < m->nreply && j < m->ncmd && m->reply_at[j] <= m->pos)
		j++;
	return j;
}

/* Lock-step: how far the script may be read (SIZE_MAX: no bound). */
static size_t
mock_readable(const struct mock_transport *m)
{
	if (!m->is_lockstep || m->ncmd >= m->nreply)
		return SIZE_MAX;
	return m->reply_at[m->ncmd];
}

static ssize_t
mock_read(struct transport *t, void *buf, size_t len, struct err *err)
{
	struct mock_transport *m = mock_of(t);
	size_t i, n = m->len - m->pos, stop = mock_readable(m);

	if (stop != SIZE_MAX) {
		if (m->pos >= stop) {
			err_setx(err, ERR_TEMP,
			    "read: waiting for a reply to a command not sent "
			    "(mock)");
			return -1;
		}
		if (n > stop - m->pos)
			n = stop - m->pos;
	}

	if (m->pos >= m->fail_at) {
		err_setx(err, ERR_TEMP, "read: connection reset (mock)");
		return -1;
	}
	if (n > len)
		n = len;
	if (m->chunk != 0 && n > m->chunk)
		n = m->chunk;
	if (m->fail_at != SIZE_MAX && n > m->fail_at - m->pos)
		n = m->fail_at - m->pos;
	for (i = 0; i < m->n_boundaries; i++)
		if (m->boundary[i] > m->pos && n > m->boundary[i] - m->pos)
			n = m->boundary[i] - m->pos;
	memcpy(buf, m->script + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

/*
 * Lock-step: count the commands just written, and fail if those the
 * server has not read overflow the socket buffers.
 */
static int
mock_lockstep_write(struct mock_transport *m, struct err *err)
{
	size_t i, taken, octets;

	for (i = m->lastat; i < m->outlen; i++)
		if (m->out[i] == '\n') {
			m->cmd_end = xreallocarray(m->cmd_end, m->ncmd + 1,
			    sizeof(*m->cmd_end));
			m->cmd_end[m->ncmd++] = i + 1;
		}
	taken = mock_taken(m);
	octets = m->outlen - (taken > 0 ? m->cmd_end[taken - 1] : m->lock_from);
	if (m->ncmd - taken > m->max_unread)
		m->max_unread = m->ncmd - taken;
	if (octets > m->max_octets)
		m->max_octets = octets;
	if (octets > m->cap) {
		err_setx(err, ERR_TEMP,
		    "write: %zu octets the server does not read: blocked "
		    "forever (mock)",
		    octets);
		return -1;
	}
	return 0;
}

static int
mock_write(struct transport *t, const void *buf, size_t len, struct err *err)
{
	struct mock_transport *m = mock_of(t);

	if (m->outlen + len > m->fail_write_at) {
		err_setx(err, ERR_TEMP, "write: broken pipe (mock)");
		return -1;
	}
	if (m->outlen + len + 1 > m->outcap) {
		m->outcap = (m->outlen + len + 1) * 2;
		m->out = xreallocarray(m->out, m->outcap, 1);
	}
	memcpy(m->out + m->outlen, buf, len);
	m->lastat = m->outlen;
	m->outlen += len;
	m->out[m->outlen] = '\0';
	return m->is_lockstep ? mock_lockstep_write(m, err) : 0;
}

static int
mock_starttls(struct transport *t, const struct transport_tls_opts *opts,
    struct err *err)
{
	struct mock_transport *m = mock_of(t);

	(void)opts;
	if (!m->tls_allowed) {
		err_setx(err, ERR_PROTO, "TLS handshake failed (mock)");
		return -1;
	}
	m->tls_started = true;
	return 0;
}

static const char *
mock_tls_info(struct transport *t)
{
	return mock_of(t)->tls_started ? "TLS (mock)" : NULL;
}

static void
mock_free(struct transport *t)
{
	struct mock_transport *m = mock_of(t);

	if (m->saved != NULL) {
		free(*m->saved);
		*m->saved = m->out;
	} else
		free(m->out);
	free(m->script);
	free(m->reply_at);
	free(m->cmd_end);
	free(m);
}

static const struct transport_ops mock_ops = {
	.read = mock_read,
	.write = mock_write,
	.starttls = mock_starttls,
	.tls_info = mock_tls_info,
	.free = mock_free,
};

struct transport *
mock_transport_new(const char *script, size_t len, size_t chunk)
{
	struct mock_transport *m;

	m = xcalloc(1, sizeof(*m));
	m->base.ops = &mock_ops;
	m->script = xmalloc(len + 1);
	memcpy(m->script, script, len);
	m->len = len;
	m->chunk = chunk;
	m->fail_at = SIZE_MAX;
	m->fail_write_at = SIZE_MAX;
	m->out = xcalloc(1, 1);
	m->outcap = 1;
	return &m->base;
}

struct transport *
mock_transport_str(const char *script, size_t chunk)
{
	return mock_transport_new(script, strlen(script), chunk);
}

void
mock_transport_fail_at(struct transport *t, size_t n)
{
	mock_of(t)->fail_at = n;
}

void
mock_transport_boundary(struct transport *t, size_t n)
{
	struct mock_transport *m = mock_of(t);

	if (m->n_boundaries < MOCK_TRANSPORT_BOUNDARIES)
		m->boundary[m->n_boundaries++] = n;
}

void
mock_transport_fail_write_at(struct transport *t, size_t n)
{
	mock_of(t)->fail_write_at = n;
}

void
mock_transport_allow_tls(struct transport *t)
{
	mock_of(t)->tls_allowed = true;
}

bool
mock_transport_tls_started(struct transport *t)
{
	return mock_of(t)->tls_started;
}

const char *
mock_transport_written(struct transport *t)
{
	return mock_of(t)->out;
}

const char *
mock_transport_last_write(struct transport *t)
{
	struct mock_transport *m = mock_of(t);

	return m->out != NULL ? m->out + m->lastat : "";
}

void
mock_transport_save_written(struct transport *t, char **saved)
{
	mock_of(t)->saved = saved;
}

size_t
mock_transport_consumed(struct transport *t)
{
	return mock_of(t)->pos;
}

void
mock_transport_lockstep(struct transport *t, const size_t *reply_at, size_t n,
    size_t cap)
{
	struct mock_transport *m = mock_of(t);

	m->reply_at = xreallocarray(NULL, n + 1, sizeof(*m->reply_at));
	memcpy(m->reply_at, reply_at, n * sizeof(*reply_at));
	m->nreply = n;
	m->cap = cap;
	m->lock_from = m->outlen;
	m->is_lockstep = true;
}

size_t
mock_transport_max_unread(struct transport *t, size_t *octets_out)
{
	struct mock_transport *m = mock_of(t);

	if (octets_out != NULL)
		*octets_out = m->max_octets;
	return m->max_unread;
}
