/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * test_names.c - lib/util/names.h: a value's name, the fallback for a
 * value past the table or in a hole of it, and a name's value.
 */
#include "unit.h"

#include "util/names.h"

enum colour { RED, GREEN, BLUE_UNNAMED, YELLOW };

/* BLUE_UNNAMED is left out: a hole in the table. */
static const char *const colour_names[] = {
    [RED] = "red",
    [GREEN] = "green",
    [YELLOW] = "yellow",
};

static void test_names_of(void **state)
{
	(void)state;
	assert_string_equal(
	    names_of(colour_names, NAMES_COUNT(colour_names), RED, "?"), "red");
	assert_string_equal(
	    names_of(colour_names, NAMES_COUNT(colour_names), YELLOW, "?"),
	    "yellow");
	/* a hole, one past the end, and a negative value: the fallback */
	assert_string_equal(names_of(colour_names, NAMES_COUNT(colour_names),
				     BLUE_UNNAMED, "unknown"),
			    "unknown");
	assert_string_equal(names_of(colour_names, NAMES_COUNT(colour_names),
				     YELLOW + 1, "unknown"),
			    "unknown");
	assert_string_equal(names_of(colour_names, NAMES_COUNT(colour_names),
				     (size_t)-1, "unknown"),
			    "unknown");
}

static void test_names_find(void **state)
{
	size_t value = 99;

	(void)state;
	assert_int_equal(names_find(colour_names, NAMES_COUNT(colour_names),
				    "green", &value),
			 0);
	assert_int_equal(value, GREEN);
	assert_int_equal(names_find(colour_names, NAMES_COUNT(colour_names),
				    "yellow", &value),
			 0);
	assert_int_equal(value, YELLOW);
	/* unknown, empty and differently cased names: refused, value kept */
	assert_int_equal(
	    names_find(colour_names, NAMES_COUNT(colour_names), "blue", &value),
	    -EINVAL);
	assert_int_equal(
	    names_find(colour_names, NAMES_COUNT(colour_names), "", &value),
	    -EINVAL);
	assert_int_equal(
	    names_find(colour_names, NAMES_COUNT(colour_names), "Red", &value),
	    -EINVAL);
	assert_int_equal(value, YELLOW);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names_of),
	    cmocka_unit_test(test_names_find),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
