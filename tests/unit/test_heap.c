// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * test_heap.c - with kanaryd's heap policy, a large answer built after a
 * larger one still gets a mapping of its own and leaves nothing held in
 * the heap when freed (the growth the soak found without it).
 */
#include "unit.h"

#include "kanaryd/heap.h"
#include "util/buf.h"

static void test_policy_is_set(void **state)
{
	(void)state;
	assert_int_equal(heap_policy_set(), 0);
}

#ifndef __SANITIZE_ADDRESS__
/* (Not in a sanitized build: it runs ASan's allocator, and glibc's
 * figures are not there to read.)
 *
 * An answer of n bytes built as the API builds one: appended to a buf,
 * which doubles as it grows. */
static void build(struct buf *b, size_t n)
{
	static const char chunk[1000] = {'x'};
	size_t done;

	buf_init(b, SIZE_MAX / 2);
	for (done = 0; done < n; done += sizeof(chunk))
		assert_int_equal(buf_append(b, chunk, sizeof(chunk)), 0);
}

static void test_large_answers_leave_the_heap(void **state)
{
	struct heap_figures before, during, after;
	struct buf b;

	(void)state;
	assert_int_equal(heap_policy_set(), 0);
	/* glibc's default would now raise its threshold past 2 MiB */
	build(&b, 2 * 1024 * 1024);
	buf_free(&b);
	heap_trim();
	heap_read(&before);

	build(&b, 1024 * 1024);
	heap_read(&during);
	/* the 1 MiB answer is a mapping of its own, not heap */
	assert_true(during.mapped >= before.mapped + 1024 * 1024);
	buf_free(&b);
	heap_read(&after);
	/* and freeing it leaves the heap holding no more than before, but
	 * for the blocks the doubling went through below the threshold
	 * (4 KiB to 64 KiB: under 128 KiB together) */
	assert_true(after.mapped <= before.mapped);
	assert_true(after.free <= before.free + 2 * HEAP_MMAP_THRESHOLD);
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_policy_is_set),
#ifndef __SANITIZE_ADDRESS__
	    cmocka_unit_test(test_large_answers_leave_the_heap),
#endif
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
