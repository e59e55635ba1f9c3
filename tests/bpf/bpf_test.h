/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * bpf_test.h - a small TAP test harness for the kernel-side tests (the
 * runner is bpf_test.c): each test is a function in a table; assertions
 * return bool and print both values when they fail, so a test can
 * `if (!ASSERT_EQ(...)) goto cleanup;`.
 */
#ifndef KANARY_BPF_TEST_H
#define KANARY_BPF_TEST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct bpf_test {
	const char *name;
	void (*run)(void);
};

/* Set by assertions; read and reset by the runner after each test. */
extern int bpf_test_failed;

#define ASSERT_TRUE(cond, what)                                                \
	({                                                                     \
		bool ok_ = (cond);                                             \
		if (!ok_) {                                                    \
			printf("# %s:%d: %s: expected true: %s\n", __FILE__,   \
			       __LINE__, (what), #cond);                       \
			bpf_test_failed = 1;                                   \
		}                                                              \
		ok_;                                                           \
	})

/* actual op other, both as long long; on failure, both values: `wanted` is
 * a format for the other one ("expected %lld"). */
#define ASSERT_CMP_(actual, op, other, what, wanted)                           \
	({                                                                     \
		long long a_ = (long long)(actual);                            \
		long long o_ = (long long)(other);                             \
		bool ok_ = a_ op o_;                                           \
		if (!ok_) {                                                    \
			printf("# %s:%d: %s: got %lld, " wanted "\n",          \
			       __FILE__, __LINE__, (what), a_, o_);            \
			bpf_test_failed = 1;                                   \
		}                                                              \
		ok_;                                                           \
	})

#define ASSERT_EQ(actual, expected, what)                                      \
	ASSERT_CMP_(actual, ==, expected, what, "expected %lld")
#define ASSERT_NE(actual, unexpected, what)                                    \
	ASSERT_CMP_(actual, !=, unexpected, what, "expected anything but %lld")

#define ASSERT_OK(err, what) ASSERT_EQ((err), 0, (what))

#define ASSERT_MEM_EQ(actual, expected, len, what)                             \
	({                                                                     \
		bool ok_ = memcmp((actual), (expected), (len)) == 0;           \
		if (!ok_) {                                                    \
			size_t i_;                                             \
			const unsigned char *a_ = (const void *)(actual);      \
			const unsigned char *e_ = (const void *)(expected);    \
			for (i_ = 0; i_ < (size_t)(len); i_++)                 \
				if (a_[i_] != e_[i_])                          \
					break;                                 \
			printf("# %s:%d: %s: bytes differ at offset %zu: got " \
			       "0x%02x, expected 0x%02x\n",                    \
			       __FILE__, __LINE__, (what), i_, a_[i_],         \
			       e_[i_]);                                        \
			bpf_test_failed = 1;                                   \
		}                                                              \
		ok_;                                                           \
	})

/* Runs every test whose name contains `only` (NULL: all), prints TAP,
 * returns the process exit status. */
int bpf_test_main(const struct bpf_test *tests, size_t count, const char *only);

#endif /* KANARY_BPF_TEST_H */
