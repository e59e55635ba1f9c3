/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * maglev.c - builds a pool's Maglev lookup table (see maglev.h).
 */
#include "datapath/maglev.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "kanary_hash.h"

#define RING_EMPTY 0xff

struct permutation {
	uint32_t offset;
	uint32_t skip;
	uint32_t next; /* how far along its permutation the backend is */
};

static void backend_permutation(const struct kn_backend *b, uint32_t ring_size,
				struct permutation *perm)
{
	uint32_t extra = ((uint32_t)b->port << 16) | b->family;
	uint32_t h_offset =
	    kn_hash_words5(b->addr.w[0], b->addr.w[1], b->addr.w[2],
			   b->addr.w[3], extra, KN_HASH_OFFSET);
	uint32_t h_skip =
	    kn_hash_words5(b->addr.w[0], b->addr.w[1], b->addr.w[2],
			   b->addr.w[3], extra, KN_HASH_SKIP);

	perm->offset = h_offset % ring_size;
	perm->skip = h_skip % (ring_size - 1) + 1;
	perm->next = 0;
}

int maglev_build(const struct kn_backend *backends, uint32_t count,
		 uint8_t *ring, uint32_t ring_size)
{
	struct permutation perms[KN_MAX_POOL_BACKENDS];
	uint32_t filled = 0, i;

	if (count > KN_MAX_POOL_BACKENDS || ring_size < 2 || !ring)
		return -EINVAL;
	if (count == 0) {
		memset(ring, 0, ring_size);
		return 0;
	}
	for (i = 0; i < count; i++)
		backend_permutation(&backends[i], ring_size, &perms[i]);
	memset(ring, RING_EMPTY, ring_size);

	/* Each round gives every backend one more entry; with a prime
	 * ring_size each permutation visits every entry, so this ends. */
	while (filled < ring_size) {
		for (i = 0; i < count && filled < ring_size; i++) {
			struct permutation *p = &perms[i];
			uint32_t entry;

			do {
				entry =
				    (uint32_t)(((uint64_t)p->offset +
						(uint64_t)p->next * p->skip) %
					       ring_size);
				p->next++;
			} while (ring[entry] != RING_EMPTY);
			ring[entry] = (uint8_t)i;
			filled++;
		}
	}
	return 0;
}
