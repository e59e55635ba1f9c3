/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * test_buf.c - lib/util/buf.c: growth keeps every byte and the NUL, the
 * limit is exact (max bytes fit, one more is -E2BIG and changes nothing),
 * prefixes, printf appends, reads into it, consuming from the front, reading
 * files to the limit, and handing the data over.
 */
#include "unit.h"

#include <errno.h>

#include "util/buf.h"

#define LIMIT_BYTES 10000

static void test_growth_keeps_bytes(void **state)
{
	struct buf b;
	size_t i;

	(void)state;
	buf_init(&b, LIMIT_BYTES);
	/* Enough single bytes to grow past the initial size twice. */
	for (i = 0; i < LIMIT_BYTES; i++) {
		char c = (char)('a' + i % 26);

		assert_int_equal(buf_append(&b, &c, 1), 0);
	}
	assert_int_equal(b.len, LIMIT_BYTES);
	for (i = 0; i < LIMIT_BYTES; i++)
		assert_int_equal(b.data[i], 'a' + i % 26);
	assert_int_equal(b.data[b.len], '\0');
	assert_true(b.cap <= LIMIT_BYTES + 1);
	buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
}

static void test_limit_is_exact(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 5);
	assert_int_equal(buf_append(&b, "abc", 3), 0);
	assert_false(b.dropped);
	assert_int_equal(buf_append(&b, "def", 3), -E2BIG);
	assert_true(b.dropped);
	assert_int_equal(b.len, 3);
	assert_string_equal(b.data, "abc");
	assert_int_equal(buf_append(&b, "de", 2), 0);
	assert_string_equal(b.data, "abcde");
	assert_int_equal(buf_append(&b, "", 0), 0);
	assert_int_equal(buf_append(&b, "f", 1), -E2BIG);
	assert_int_equal(buf_reserve(&b, 1), -E2BIG);
	buf_free(&b);
}

static void test_prefix(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 4);
	assert_int_equal(buf_append_prefix(&b, "abc", 3), 3);
	assert_false(b.dropped);
	assert_int_equal(buf_append_prefix(&b, "def", 3), 1);
	assert_true(b.dropped);
	assert_string_equal(b.data, "abcd");
	assert_int_equal(buf_append_prefix(&b, "x", 1), 0);
	buf_free(&b);
}

static void test_consume(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, LIMIT_BYTES);
	assert_int_equal(buf_append(&b, "hello world", 11), 0);
	buf_consume(&b, 6);
	assert_string_equal(b.data, "world");
	assert_int_equal(b.len, 5);
	buf_consume(&b, 99);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	buf_free(&b);
}

static void test_take(void **state)
{
	struct buf b;
	char *s;

	(void)state;
	buf_init(&b, LIMIT_BYTES);
	s = buf_take(&b);
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);
	assert_int_equal(buf_append(&b, "ab", 2), 0);
	s = buf_take(&b);
	assert_string_equal(s, "ab");
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.max, LIMIT_BYTES);
	free(s);
}

static void test_printf(void **state)
{
	struct buf b;
	size_t i;

	(void)state;
	buf_init(&b, LIMIT_BYTES);
	assert_int_equal(buf_printf(&b, "%s=%d;", "a", 1), 0);
	assert_string_equal(b.data, "a=1;");
	/* Past the initial allocation: one grow, every line kept. */
	for (i = 0; i < 500; i++)
		assert_int_equal(buf_printf(&b, "%04zu\n", i), 0);
	assert_int_equal(b.len, 4 + 500 * 5);
	assert_memory_equal(b.data + 4 + 499 * 5, "0499\n", 5);
	assert_int_equal(b.data[b.len], '\0');
	buf_free(&b);

	buf_init(&b, 8);
	assert_int_equal(buf_printf(&b, "%s", "1234"), 0);
	assert_false(b.dropped);
	assert_int_equal(buf_printf(&b, "%s", "56789"), -E2BIG);
	assert_true(b.dropped);
	assert_string_equal(b.data, "1234");
	assert_int_equal(buf_printf(&b, "%s", "5678"), 0);
	assert_string_equal(b.data, "12345678");
	buf_free(&b);
}

/* A read into the buffer: the space offered, then the bytes taken. */
static void test_space(void **state)
{
	struct buf b;
	size_t room;
	char *at;

	(void)state;
	buf_init(&b, 6);
	at = buf_space(&b, 4, &room);
	assert_non_null(at);
	assert_true(room >= 4 && room <= 6);
	memcpy(at, "abcd", 4);
	buf_wrote(&b, 4);
	assert_string_equal(b.data, "abcd");
	/* Only the limit's last two bytes are left to offer. */
	at = buf_space(&b, 4, &room);
	assert_non_null(at);
	assert_int_equal(room, 2);
	memcpy(at, "ef", 2);
	buf_wrote(&b, 2);
	assert_string_equal(b.data, "abcdef");
	at = buf_space(&b, 4, &room);
	assert_int_equal(room, 0);
	buf_consume(&b, 2);
	at = buf_space(&b, 1, &room);
	assert_int_equal(room, 2);
	buf_free(&b);
}

static FILE *file_of(const char *text)
{
	FILE *f = tmpfile();

	assert_non_null(f);
	fputs(text, f);
	rewind(f);
	return f;
}

static void test_read_file(void **state)
{
	struct buf b;
	FILE *f;

	(void)state;
	f = file_of("12345");
	buf_init(&b, 5); /* exactly the limit: fits */
	assert_int_equal(buf_read_file(&b, f), 0);
	assert_string_equal(b.data, "12345");
	assert_false(b.dropped);
	buf_free(&b);
	fclose(f);

	f = file_of("123456");
	buf_init(&b, 5); /* one byte over */
	assert_int_equal(buf_read_file(&b, f), -E2BIG);
	assert_int_equal(b.len, 5);
	buf_free(&b);
	fclose(f);

	f = file_of("");
	buf_init(&b, 5);
	assert_int_equal(buf_read_file(&b, f), 0);
	assert_int_equal(b.len, 0);
	buf_free(&b);
	fclose(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_growth_keeps_bytes),
	    cmocka_unit_test(test_limit_is_exact),
	    cmocka_unit_test(test_prefix),
	    cmocka_unit_test(test_consume),
	    cmocka_unit_test(test_take),
	    cmocka_unit_test(test_printf),
	    cmocka_unit_test(test_space),
	    cmocka_unit_test(test_read_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
