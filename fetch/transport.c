#include "config.h"

#include <stdlib.h>

#include "fetch/transport.h"

/*
 * The dispatchers: pop3.c calls these, whatever the transport is.
 * The TCP and TLS transport follows below them.
 */

ssize_t
transport_read(struct transport *t, void *buf, size_t len, struct err *err)
{
	return t->ops->read(t, buf, len, err);
}

int
transport_write(struct transport *t, const void *buf, size_t len,
    struct err *err)
{
	return t->ops->write(t, buf, len, err);
}

int
transport_starttls(struct transport *t, const struct transport_tls_opts *opts,
    struct err *err)
{
	if (t->ops->starttls == NULL) {
		err_setx(err, ERR_SOFTWARE, "this transport cannot do TLS");
		return -1;
	}
	return t->ops->starttls(t, opts, err);
}

bool
transport_is_tls(struct transport *t)
{
	return transport_tls_info(t) != NULL;
}

const char *
transport_tls_info(struct transport *t)
{
	if (t->ops->tls_info == NULL)
		return NULL;
	return t->ops->tls_info(t);
}

void
transport_free(struct transport *t)
{
	if (t != NULL)
		t->ops->free(t);
}

/* PLACEHOLDER: TCP and TLS below (transport_connect, transport_from_fd). */
