#ifndef POPFETCH_TESTS_FUZZ_H
#define POPFETCH_TESTS_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fetch/pop3.h"
#include "util/err.h"

/*
 * Helpers shared by the libFuzzer targets.  A target that finds a broken
 * invariant calls fuzz_fail(), which aborts, so that libFuzzer keeps the
 * input as a crash even in a build without assertions.
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

void fuzz_fail(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

#define FUZZ_CHECK(cond)                                                   \
	do {                                                               \
		if (!(cond))                                               \
			fuzz_fail("%s:%d: %s", __FILE__, __LINE__, #cond); \
	} while (0)

/*
 * The read size for the mock server from the first input byte: 1 to 64
 * bytes a read (so CRLFs and dots fall across reads), or, for a quarter
 * of the values, everything at once (0).
 */
size_t fuzz_chunk(uint8_t selector);

/*
 * A session whose server sends prefix (may be NULL), then len bytes of
 * data, chunk bytes a read.  Caller owns (pop3_free()); *t_out is its
 * transport, for mock_transport_consumed() and the like.
 */
struct pop3_session *fuzz_session(const char *prefix, const uint8_t *data,
    size_t len, size_t chunk, struct transport **t_out);

/*
 * What a failed call left in err must be fit for a log line: a class,
 * a message, and nothing but printable ASCII (server text is hostile).
 * A software error means hostile input reached an impossible state.
 */
void fuzz_check_err(const struct err *err);

/*
 * A broken session (s over t) must refuse every command at once, with
 * ERR_PROTO, reading and writing nothing.
 */
void fuzz_check_broken(struct pop3_session *s, struct transport *t);

/* Is every byte of s printable ASCII? */
bool fuzz_is_printable(const char *s, size_t len);

/*
 * Make a private scratch directory "BASE/NAME.XXXXXX" into dir (of len
 * bytes), on /dev/shm when it is writable (file system work is cheap
 * there), else in $TMPDIR or /tmp.
 */
void fuzz_scratch_dir(const char *name, char *dir, size_t len);

#endif
