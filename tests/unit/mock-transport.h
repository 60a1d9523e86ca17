#ifndef POPFETCH_TESTS_MOCK_TRANSPORT_H
#define POPFETCH_TESTS_MOCK_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "fetch/transport.h"

/*
 * An in-memory transport for tests.  The server's side is a script of
 * bytes fixed in advance; reads hand it out at most chunk bytes at a
 * time (1 = byte by byte), and can be made to fail with a network error
 * once fail_at bytes have been read.  Everything the client writes is
 * kept for the test to inspect.
 */
struct mock_transport;

/*
 * A mock serving len bytes of script (copied).  chunk 0 means all at
 * once.  The returned transport is owned by whoever owns the
 * transport (pop3_free() frees it); mock_of() gives back the mock.
 */
struct transport *mock_transport_new(const char *script, size_t len,
    size_t chunk);

/* The same, for a NUL-terminated script. */
struct transport *mock_transport_str(const char *script, size_t chunk);

/* Fail the read that would pass byte offset n (ERR_TEMP, "reset"). */
void mock_transport_fail_at(struct transport *t, size_t n);

/*
 * No single read returns bytes from both sides of script offset n (as
 * if the server had paused there).  Up to MOCK_TRANSPORT_BOUNDARIES of
 * them; further calls are ignored.
 */
#define MOCK_TRANSPORT_BOUNDARIES 8
void mock_transport_boundary(struct transport *t, size_t n);

/* Fail every write after n bytes have been written. */
void mock_transport_fail_write_at(struct transport *t, size_t n);

/* Let starttls() succeed (it fails with ERR_SOFTWARE otherwise). */
void mock_transport_allow_tls(struct transport *t);
bool mock_transport_tls_started(struct transport *t);

/*
 * What the client wrote so far, NUL-terminated; valid until the next
 * write or the transport's free.
 */
const char *mock_transport_written(struct transport *t);

/*
 * What the client wrote in its last write, NUL-terminated (a tail of
 * mock_transport_written()); "" before any.
 */
const char *mock_transport_last_write(struct transport *t);

/*
 * When the transport is freed (by whoever owns it), what the client
 * wrote goes into *saved (caller owns, free()), so that a test can read
 * it after fetch/ let the connection go.
 */
void mock_transport_save_written(struct transport *t, char **saved);

/* How many script bytes were consumed so far. */
size_t mock_transport_consumed(struct transport *t);

/*
 * From now on, the server reads a command only once it has written the
 * whole reply to the one before (RFC 2449 §6.6 allows it), and never
 * answers a command before it has it.  The reply to the j-th command
 * written from now on begins at script offset reply_at[j] (n of them,
 * copied).  Reads stop at the reply to a command not yet written (a
 * read there fails: it would wait forever).  Commands the server has
 * not read yet fill the socket buffers, which hold cap octets: a write
 * beyond that fails, as both sides would be writing forever.
 */
void mock_transport_lockstep(struct transport *t, const size_t *reply_at,
    size_t n, size_t cap);

/* The most commands, and octets of them, unread by the server at once. */
size_t mock_transport_max_unread(struct transport *t, size_t *octets_out);

#endif
