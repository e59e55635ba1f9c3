/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * hash.h - FNV-1a, 32 and 64 bits, for user space: short keys (service
 * names, words, config fingerprints) where speed and simplicity matter and
 * no adversary picks the input. The BPF side hashes with its own code in
 * include/kanary_hash.h, which must stay self-contained.
 *
 * A hash over several pieces starts from the offset basis and feeds each
 * piece in turn: h = hash_fnv1a64_add(HASH_FNV64_OFFSET, a, na); h =
 * hash_fnv1a64_add(h, b, nb).
 */
#ifndef KANARY_UTIL_HASH_H
#define KANARY_UTIL_HASH_H

#include <stddef.h>
#include <stdint.h>

/* The published FNV parameters (http://www.isthe.com/chongo/tech/comp/fnv). */
#define HASH_FNV32_OFFSET 0x811c9dc5U
#define HASH_FNV32_PRIME  0x01000193U
#define HASH_FNV64_OFFSET 0xcbf29ce484222325ULL
#define HASH_FNV64_PRIME  0x100000001b3ULL

/*
 * hash_fnv1a32_add() and hash_fnv1a64_add(): h with data fed in. One
 * definition for both widths; only the type and the prime differ.
 */
#define HASH_FNV1A_ADD(bits, prime)                                            \
	static inline uint##bits##_t hash_fnv1a##bits##_add(                   \
	    uint##bits##_t h, const void *data, size_t len)                    \
	{                                                                      \
		const unsigned char *p = data;                                 \
		size_t i;                                                      \
                                                                               \
		for (i = 0; i < len; i++) {                                    \
			h ^= p[i];                                             \
			h *= (prime);                                          \
		}                                                              \
		return h;                                                      \
	}

HASH_FNV1A_ADD(32, HASH_FNV32_PRIME)
HASH_FNV1A_ADD(64, HASH_FNV64_PRIME)

static inline uint32_t hash_fnv1a32(const void *data, size_t len)
{
	return hash_fnv1a32_add(HASH_FNV32_OFFSET, data, len);
}

static inline uint64_t hash_fnv1a64(const void *data, size_t len)
{
	return hash_fnv1a64_add(HASH_FNV64_OFFSET, data, len);
}

#endif /* KANARY_UTIL_HASH_H */
