/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * tests/lib/fuzz_check.h - the fuzz targets' (tests/fuzz) invariant check:
 * a broken promise aborts with where and what, which the fuzzer records as
 * a crash with its input.
 */
#ifndef KANARY_TESTS_FUZZ_CHECK_H
#define KANARY_TESTS_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: invariant broken: %s\n",       \
				__FILE__, __LINE__, #cond);                    \
			abort();                                               \
		}                                                              \
	} while (0)

#endif /* KANARY_TESTS_FUZZ_CHECK_H */
