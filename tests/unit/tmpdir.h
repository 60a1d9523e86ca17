#ifndef POPFETCH_TESTS_TMPDIR_H
#define POPFETCH_TESTS_TMPDIR_H

/*
 * A private directory for a test, "<tmp>/<prefix>-XXXXXX" (caller owns,
 * tmpdir_remove()); the test fails if it cannot be made.
 */
char *tmpdir_make(const char *prefix);

/* Remove dir's files (not subdirectories), dir, and free the name. */
void tmpdir_remove(char *dir);

#endif
