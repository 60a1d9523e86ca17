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
	char **saved;  /* gets out when freed, or NULL */
};

static struct mock_transport *
mock_of(struct transport *t)
{
	return (struct mock_transport *)t;
}

static ssize_t
mock_read(struct transport *t, void *buf, size_t len, struct err *err)
{
	struct mock_transport *m = mock_of(t);
	size_t i, n = m->len - m->pos;

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
	return 0;
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
