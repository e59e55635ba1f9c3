/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * test_hash.c - lib/util/hash.h against the FNV-1a test vectors published
 * with the algorithm (http://www.isthe.com/chongo/src/fnv/test_fnv.c), and
 * the property callers rely on: hashing in pieces equals hashing at once.
 */
#include "unit.h"

#include "util/hash.h"

struct vector {
	const char *text;
	uint32_t fnv1a32;
	uint64_t fnv1a64;
};

/* From test_fnv.c: fnv1a_32_vector[] and fnv1a_64_vector[]. */
static const struct vector vectors[] = {
    {"", 0x811c9dc5U, 0xcbf29ce484222325ULL},
    {"a", 0xe40c292cU, 0xaf63dc4c8601ec8cULL},
    {"b", 0xe70c2de5U, 0xaf63df4c8601f1a5ULL},
    {"foobar", 0xbf9cf968U, 0x85944171f73967e8ULL},
};

static void test_published_vectors(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const struct vector *v = &vectors[i];

		assert_int_equal(hash_fnv1a32(v->text, strlen(v->text)),
				 v->fnv1a32);
		assert_int_equal(hash_fnv1a64(v->text, strlen(v->text)),
				 v->fnv1a64);
	}
}

static void test_pieces_equal_whole(void **state)
{
	const char *text = "kanary steers new connections";
	size_t split, len = strlen(text);

	(void)state;
	for (split = 0; split <= len; split++) {
		uint32_t h32 = hash_fnv1a32_add(HASH_FNV32_OFFSET, text, split);
		uint64_t h64 = hash_fnv1a64_add(HASH_FNV64_OFFSET, text, split);

		h32 = hash_fnv1a32_add(h32, text + split, len - split);
		h64 = hash_fnv1a64_add(h64, text + split, len - split);
		assert_int_equal(h32, hash_fnv1a32(text, len));
		assert_int_equal(h64, hash_fnv1a64(text, len));
	}
}

/* Bytes above 0x7f are hashed as unsigned: a signed char would differ. */
static void test_high_bytes(void **state)
{
	const unsigned char high[] = {0xff};

	(void)state;
	assert_int_equal(hash_fnv1a32(high, 1),
			 (HASH_FNV32_OFFSET ^ 0xffU) * HASH_FNV32_PRIME);
	assert_int_equal(hash_fnv1a64(high, 1),
			 (HASH_FNV64_OFFSET ^ 0xffULL) * HASH_FNV64_PRIME);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_published_vectors),
	    cmocka_unit_test(test_pieces_equal_whole),
	    cmocka_unit_test(test_high_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
