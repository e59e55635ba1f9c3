// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * test_decision_log.c - the decision log keeps the last records in order,
 * gives back exactly what was put in (numbers included), writes them as
 * text around another object, updates its newest
 * in place, loads a saved log, holds its memory flat once full, and keeps
 * its texts in a mapping that shows apart from the heap.
 */
#include "unit.h"

#include <errno.h>
#include <malloc.h>
#ifdef __SANITIZE_ADDRESS__
/* ASan's allocator interface (its header is not always installed) */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

#include "kanaryd/decision_log.h"

/* A record shaped like an evaluation: numbers, strings, nested checks.
 * Its floats are written to 12 digits (JSON_TEXT_FLAGS), so these have
 * short exact forms. */
static json_t *record(int i)
{
	return json_pack(
	    "{s:i, s:s, s:f, s:[{s:s, s:f, s:b}, {s:s, s:f, s:b}]}", "seq", i,
	    "verdict", i % 2 ? "pass" : "inconclusive", "p_value",
	    (i + 1) / 1024.0, "checks", "name", "kernel.error_rate", "value",
	    i * 0.25, "passed", 1, "name", "kernel.latency_p99", "value",
	    i / 8.0, "passed", 0);
}

static int seq_at(const json_t *array, size_t i)
{
	return (int)json_integer_value(
	    json_object_get(json_array_get(array, i), "seq"));
}

static void test_keeps_last_in_order(void **state)
{
	struct decision_log log;
	json_t *all;
	int i;

	(void)state;
	assert_int_equal(decision_log_init(&log, 5), 0);
	assert_null(decision_log_newest(&log));
	all = decision_log_json(&log, 100);
	assert_int_equal(json_array_size(all), 0);
	json_decref(all);
	for (i = 0; i < 12; i++)
		decision_log_append(&log, record(i));
	assert_int_equal(decision_log_count(&log), 5);
	all = decision_log_json(&log, 100);
	assert_int_equal(json_array_size(all), 5);
	for (i = 0; i < 5; i++)
		assert_int_equal(seq_at(all, (size_t)i), 7 + i);
	json_decref(all);
	all = decision_log_json(&log, 2);
	assert_int_equal(json_array_size(all), 2);
	assert_int_equal(seq_at(all, 0), 10);
	assert_int_equal(seq_at(all, 1), 11);
	json_decref(all);
	all = decision_log_json(&log, 1);
	assert_int_equal(json_array_size(all), 1);
	assert_int_equal(seq_at(all, 0), 11);
	json_decref(all);
	all = decision_log_json(&log, 0);
	assert_int_equal(json_array_size(all), 0);
	json_decref(all);
	decision_log_free(&log);
}

static void test_gives_back_what_was_put_in(void **state)
{
	struct decision_log log;
	json_t *all, *expect;
	int i;

	(void)state;
	assert_int_equal(decision_log_init(&log, 50), 0);
	for (i = 0; i < 20; i++)
		decision_log_append(&log, record(i));
	all = decision_log_json(&log, 50);
	for (i = 0; i < 20; i++) {
		expect = record(i);
		assert_true(json_equal(json_array_get(all, (size_t)i), expect));
		json_decref(expect);
	}
	json_decref(all);
	decision_log_free(&log);
}

/* The text written around an object holds what decision_log_json gives. */
static void test_splice_writes_the_records(void **state)
{
	struct decision_log log;
	struct buf out;
	json_t *parsed, *expect;
	int i;

	(void)state;
	assert_int_equal(decision_log_init(&log, 10), 0);
	buf_init(&out, 1 << 20);
	assert_int_equal(decision_log_splice(&log, 10, "{\"name\":\"a\"}",
					     "decisions", &out),
			 0);
	assert_string_equal(out.data, "{\"name\":\"a\",\"decisions\":[]}");
	buf_free(&out);
	for (i = 0; i < 14; i++)
		decision_log_append(&log, record(i));
	assert_int_equal(
	    decision_log_splice(&log, 4, "{\"name\":\"a\"}", "decisions", &out),
	    0);
	parsed = json_loads(out.data, 0, NULL);
	assert_non_null(parsed);
	expect = decision_log_json(&log, 4);
	assert_int_equal(json_array_size(expect), 4);
	assert_true(json_equal(json_object_get(parsed, "decisions"), expect));
	assert_string_equal(json_string_value(json_object_get(parsed, "name")),
			    "a");
	json_decref(parsed);
	json_decref(expect);
	buf_free(&out);
	assert_int_equal(decision_log_splice(&log, 4, "{}", "d", &out), 0);
	parsed = json_loads(out.data, 0, NULL);
	assert_int_equal(json_array_size(json_object_get(parsed, "d")), 4);
	json_decref(parsed);
	buf_free(&out);
	assert_int_equal(decision_log_splice(&log, 4, "[1]", "d", &out),
			 -EINVAL);
	assert_int_equal(decision_log_splice(&log, 4, "", "d", &out), -EINVAL);
	buf_free(&out);
	decision_log_free(&log);
}

/* A record with pad bytes of text in it. */
static json_t *padded(int i, size_t pad)
{
	char *text = malloc(pad + 1);
	json_t *r;

	assert_non_null(text);
	memset(text, 'a' + i % 26, pad);
	text[pad] = '\0';
	r = json_pack("{s:i, s:s}", "seq", i, "pad", text);
	free(text);
	return r;
}

/* Texts fill the log's bytes and wrap around them many times: the records
 * kept are always the last ones, whole, in order, as many as fit. */
static void test_bytes_wrap_keeps_the_last(void **state)
{
	struct decision_log log;
	const size_t pad = 5000;
	json_t *all;
	size_t n, k;
	int i;

	(void)state;
	assert_int_equal(decision_log_init(&log, 1000), 0);
	for (i = 0; i < 2000; i++)
		decision_log_append(&log,
				    padded(i, pad + (size_t)(i % 7) * 300));
	n = decision_log_count(&log);
	/* between a full mapping of the largest and of the smallest texts */
	assert_true(n >= DECISION_LOG_BYTES / (pad + 6 * 300 + 40));
	assert_true(n <= DECISION_LOG_BYTES / pad + 1);
	all = decision_log_json(&log, 1000);
	assert_int_equal(json_array_size(all), n);
	for (k = 0; k < n; k++) {
		json_t *expect = padded((int)(2000 - n + k),
					pad + ((2000 - n + k) % 7) * 300);

		assert_true(json_equal(json_array_get(all, k), expect));
		json_decref(expect);
	}
	json_decref(all);
	/* a text larger than the whole log is left out, the rest kept */
	decision_log_append(&log, padded(5000, DECISION_LOG_BYTES + 1));
	decision_log_append(&log, record(1));
	all = decision_log_json(&log, 1000);
	assert_int_equal(seq_at(all, json_array_size(all) - 1), 1);
	assert_int_equal(seq_at(all, json_array_size(all) - 2), 1999);
	json_decref(all);
	decision_log_free(&log);
}

static void test_newest_replaced_in_place(void **state)
{
	struct decision_log log;
	json_t *all;

	(void)state;
	assert_int_equal(decision_log_init(&log, 3), 0);
	decision_log_replace_newest(&log, record(1)); /* empty: appends */
	assert_int_equal(decision_log_count(&log), 1);
	decision_log_append(&log, record(2));
	decision_log_replace_newest(&log, record(20));
	assert_int_equal(decision_log_count(&log), 2);
	assert_int_equal(json_integer_value(
			     json_object_get(decision_log_newest(&log), "seq")),
			 20);
	all = decision_log_json(&log, 10);
	assert_int_equal(seq_at(all, 0), 1);
	assert_int_equal(seq_at(all, 1), 20);
	json_decref(all);
	decision_log_free(&log);
}

static void test_capacity_one(void **state)
{
	struct decision_log log;
	json_t *all;

	(void)state;
	assert_int_equal(decision_log_init(&log, 1), 0);
	decision_log_append(&log, record(1));
	decision_log_append(&log, record(2));
	assert_int_equal(decision_log_count(&log), 1);
	all = decision_log_json(&log, 10);
	assert_int_equal(json_array_size(all), 1);
	assert_int_equal(seq_at(all, 0), 2);
	json_decref(all);
	decision_log_free(&log);
	assert_int_equal(decision_log_init(&log, 0), -EINVAL);
}

static void test_load_keeps_the_last_objects(void **state)
{
	struct decision_log log;
	json_t *saved = json_array(), *all;
	int i;

	(void)state;
	for (i = 0; i < 10; i++)
		json_array_append_new(saved, record(i));
	json_array_append_new(saved, json_string("not a record"));
	assert_int_equal(decision_log_init(&log, 4), 0);
	decision_log_append(&log, record(99));
	assert_int_equal(decision_log_load(&log, saved), 0);
	all = decision_log_json(&log, 10);
	assert_int_equal(json_array_size(all),
			 3); /* 7, 8, 9; the string skipped */
	assert_int_equal(seq_at(all, 0), 7);
	assert_int_equal(seq_at(all, 2), 9);
	json_decref(all);
	json_decref(saved);
	decision_log_free(&log);
}

/* Bytes the program holds on the heap: ASan's allocator replaces glibc's
 * in a sanitized build, and mallinfo2 then knows nothing. */
static size_t heap_in_use(void)
{
#ifdef __SANITIZE_ADDRESS__
	return __sanitizer_get_current_allocated_bytes();
#else
	return mallinfo2().uordblks;
#endif
}

/* Once full, thousands more records leave the heap where it was: what
 * goes out is freed, nothing accumulates. */
static void test_memory_flat_when_full(void **state)
{
	struct decision_log log;
	size_t full, after;
	int i;

	(void)state;
	assert_int_equal(decision_log_init(&log, 200), 0);
	for (i = 0; i < 400; i++)
		decision_log_append(&log, record(i));
	full = heap_in_use();
	for (; i < 20000; i++)
		decision_log_append(&log, record(i));
	after = heap_in_use();
	assert_true(full > 0);
	/* the texts' lengths vary by a few digits; a leak of one record
	 * per append would be > 19,600 records */
	assert_true(after < full + full / 10);
	decision_log_free(&log);
}

/* The texts' mapping shows apart from the heap in /proc/PID/maps. */
static void test_mapping_is_named(void **state)
{
	struct decision_log log;
	char line[512], want[64];
	bool found = false;
	FILE *maps;

	(void)state;
	assert_int_equal(decision_log_init(&log, 10), 0);
	snprintf(want, sizeof(want), "%lx-", (unsigned long)log.bytes);
	maps = fopen("/proc/self/maps", "r");
	assert_non_null(maps);
	while (fgets(line, sizeof(line), maps))
		if (!strncmp(line, want, strlen(want)))
			found =
			    strstr(line, "/memfd:" DECISION_LOG_MEMFD_NAME) !=
			    NULL;
	fclose(maps);
	assert_true(found);
	decision_log_free(&log);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_keeps_last_in_order),
	    cmocka_unit_test(test_gives_back_what_was_put_in),
	    cmocka_unit_test(test_splice_writes_the_records),
	    cmocka_unit_test(test_bytes_wrap_keeps_the_last),
	    cmocka_unit_test(test_newest_replaced_in_place),
	    cmocka_unit_test(test_capacity_one),
	    cmocka_unit_test(test_load_keeps_the_last_objects),
	    cmocka_unit_test(test_memory_flat_when_full),
	    cmocka_unit_test(test_mapping_is_named),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
