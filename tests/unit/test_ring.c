/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * test_ring.c - lib/util/ring.h: FIFO order across the wrap, a full ring
 * dropping its oldest on push, ring_at() oldest first, and the empty and
 * zero-capacity edges.
 */
#include "unit.h"

#include "util/ring.h"

#define CAP 4

static void test_fifo_across_wrap(void **state)
{
	int items[CAP];
	struct ring r;
	int next = 0, want = 0, round;

	(void)state;
	ring_init(&r, CAP);
	assert_true(ring_empty(&r));
	/* Push 3, pop 2, many times: head and tail wrap repeatedly. */
	for (round = 0; round < 10; round++) {
		int k;

		for (k = 0; k < 3 && !ring_full(&r); k++)
			items[ring_push(&r)] = next++;
		for (k = 0; k < 2; k++)
			assert_int_equal(items[ring_pop(&r)], want++);
	}
	while (!ring_empty(&r))
		assert_int_equal(items[ring_pop(&r)], want++);
	assert_int_equal(want, next);
}

static void test_full_ring_drops_oldest(void **state)
{
	int items[CAP];
	struct ring r;
	uint32_t i;

	(void)state;
	ring_init(&r, CAP);
	for (i = 0; i < 10; i++)
		items[ring_push(&r)] = (int)i;
	assert_true(ring_full(&r));
	assert_int_equal(r.len, CAP);
	/* The last CAP pushed, oldest first: 6 7 8 9. */
	for (i = 0; i < r.len; i++)
		assert_int_equal(items[ring_at(&r, i)], 6 + (int)i);
	assert_int_equal(items[ring_newest(&r)], 9);
	assert_int_equal(items[ring_pop(&r)], 6);
	assert_int_equal(r.len, CAP - 1);
}

static void test_slots_stay_in_bounds(void **state)
{
	struct ring r;
	uint32_t i;

	(void)state;
	ring_init(&r, 3);
	for (i = 0; i < 100; i++) {
		assert_in_range(ring_push(&r), 0, 2);
		if (i % 3 == 0)
			assert_in_range(ring_pop(&r), 0, 2);
	}
}

static void test_zero_capacity(void **state)
{
	struct ring r;

	(void)state;
	ring_init(&r, 0);
	assert_true(ring_empty(&r));
	assert_true(ring_full(&r));
	assert_int_equal(ring_push(&r), 0);
	assert_int_equal(r.len, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fifo_across_wrap),
	    cmocka_unit_test(test_full_ring_drops_oldest),
	    cmocka_unit_test(test_slots_stay_in_bounds),
	    cmocka_unit_test(test_zero_capacity),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
