#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "tests/unit/tmpdir.h"

char *
tmpdir_make(const char *prefix)
{
	char *tmpl = g_strdup_printf("%s-XXXXXX", prefix), *dir;

	if ((dir = g_dir_make_tmp(tmpl, NULL)) == NULL) {
		fprintf(stderr, "cannot make a directory for %s\n", prefix);
		abort();
	}
	g_free(tmpl);
	return dir;
}

void
tmpdir_remove(char *dir)
{
	const char *name;
	GDir *d;

	if (dir == NULL)
		return;
	if ((d = g_dir_open(dir, 0, NULL)) != NULL) {
		while ((name = g_dir_read_name(d)) != NULL) {
			char *path = g_build_filename(dir, name, NULL);

			(void)g_unlink(path);
			g_free(path);
		}
		g_dir_close(d);
	}
	(void)g_rmdir(dir);
	g_free(dir);
}
