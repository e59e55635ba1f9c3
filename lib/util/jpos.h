/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * jpos.h - where a value sits in a JSON text, so that an error found
 * after parsing (a bad address, a weight out of range) can name the line and
 * column of the field, not only its path.
 */
#ifndef KANARY_JPOS_H
#define KANARY_JPOS_H

#include <stddef.h>

/*
 * Finds the value at path ("services[1].stable[0]", "listen", "" for the
 * root) in text, which must be valid JSON. Sets 1-based line and column of
 * the value's first character. Returns 0, or -ENOENT when the path does not
 * exist (then line/column point at the deepest part that does).
 * Iterative, bounded by len: safe on any input.
 */
int jpos_locate(const char *text, size_t len, const char *path,
		unsigned int *line, unsigned int *column);

#endif /* KANARY_JPOS_H */
