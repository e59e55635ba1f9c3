/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * statefile.h - writing a file so that a crash at any moment leaves the old
 * content or the new one, never a mix (used for kanaryd's state file).
 */
#ifndef KANARY_STATEFILE_H
#define KANARY_STATEFILE_H

#include <stddef.h>

/*
 * Writes text to path: to a temporary file next to it (mode 0600), fsync,
 * rename over path, fsync of the directory. Creates the directory (0700)
 * when missing. Returns 0 or a negative errno.
 */
int statefile_write_atomic(const char *path, const char *text, size_t len);

/* Removes temporary files a crashed writer left next to path. */
void statefile_remove_leftovers(const char *path);

#endif /* KANARY_STATEFILE_H */
