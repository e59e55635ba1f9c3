/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * unit.h - what every unit test includes: cmocka, and where fixtures live.
 *
 * Unit tests are cmocka programs run from the repository root by tests/run,
 * which sets CMOCKA_MESSAGE_OUTPUT=TAP and counts the results.
 */
#ifndef KANARY_UNIT_H
#define KANARY_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* The project's own fixtures, always present: a unit test does not skip
 * for a missing file (cmocka prints skip() as "not ok ... # SKIP", which
 * tests/run counts as a failure). */
#define UNIT_FIXTURES_DIR "tests/fixtures"

/* Pages captured from real model servers (tests/fixtures/README.md). */
#define UNIT_CAPTURED_DIR UNIT_FIXTURES_DIR "/captured"

/* Reads a whole file into a NUL-terminated buffer; NULL on error. */
static inline char *unit_read_file(const char *path, size_t *len_out)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long len;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)len + 1);
		if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
			free(buf);
			buf = NULL;
		} else if (buf) {
			buf[len] = '\0';
			if (len_out)
				*len_out = (size_t)len;
		}
	}
	fclose(f);
	return buf;
}

#endif /* KANARY_UNIT_H */
