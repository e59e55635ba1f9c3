// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * test_datapath.c - the kernel data path on crafted packets, through
 * bpf_prog_test_run_opts: the real programs, the real maps, loaded by the
 * agent's own loader (lib/datapath/open.c) without attaching to an
 * interface. Every packet's checksums are verified from scratch
 * (tests/bpf/packets.h), not with the program's own incremental arithmetic.
 *
 * The tests live one feature a file in tests/bpf/prog_tests/, each a
 * `void test_<name>(void)`; make generates the list below from those files
 * (tests/bpf/prog_tests.h in the build folder), so a new test is a new
 * function and nothing else. Each prints as `ok N - <name>`.
 * Usage: test_datapath [NAME-SUBSTRING]   (prints TAP)
 */
#include <stdio.h>
#include <unistd.h>

#include "harness.h"

#define DEFINE_TEST(name) void test_##name(void);
#include "tests/bpf/prog_tests.h"
#undef DEFINE_TEST

static const struct bpf_test tests[] = {
#define DEFINE_TEST(name) {#name, test_##name},
#include "tests/bpf/prog_tests.h"
#undef DEFINE_TEST
};

int main(int argc, char **argv)
{
	log_set_program("test_datapath");
	snprintf(harness_pin_dir, sizeof(harness_pin_dir),
		 "/sys/fs/bpf/kanary-unit-%d", getpid());
	return bpf_test_main(tests, sizeof(tests) / sizeof(tests[0]),
			     argc > 1 ? argv[1] : NULL);
}
