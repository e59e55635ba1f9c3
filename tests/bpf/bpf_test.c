// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * bpf_test.c - the runner of the kernel-side tests (bpf_test.h): runs each
 * test of a table, prints one TAP line per test, counts the failures.
 */
#include "bpf_test.h"

int bpf_test_failed;

int bpf_test_main(const struct bpf_test *tests, size_t count, const char *only)
{
	size_t i, failed = 0, ran = 0;

	for (i = 0; i < count; i++)
		if (!only || strstr(tests[i].name, only))
			ran++;
	printf("1..%zu\n", ran);
	ran = 0;
	for (i = 0; i < count; i++) {
		if (only && !strstr(tests[i].name, only))
			continue;
		bpf_test_failed = 0;
		tests[i].run();
		ran++;
		printf("%s %zu - %s\n", bpf_test_failed ? "not ok" : "ok", ran,
		       tests[i].name);
		fflush(stdout);
		if (bpf_test_failed)
			failed++;
	}
	return failed ? 1 : 0;
}
