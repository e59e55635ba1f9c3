/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * maglev.h - the consistent-hash table that picks a replica within a pool.
 */
#ifndef KANARY_MAGLEV_H
#define KANARY_MAGLEV_H

#include <linux/types.h>
#include <stdint.h>

#include "kanary_shared.h"

/*
 * Fills ring[0..ring_size) with indexes into backends[0..count), by the
 * Maglev algorithm (Eisenbud et al., NSDI 2016): each backend walks its own
 * permutation of the table, derived from its address and port, claiming
 * free entries in turn. Every backend gets ring_size / count entries, +- 1,
 * and removing one remaps (almost) only its entries.
 * ring_size must be prime and count at most KN_MAX_POOL_BACKENDS.
 * With count == 0 the ring is zeroed. Returns 0 or -EINVAL.
 */
int maglev_build(const struct kn_backend *backends, uint32_t count,
		 uint8_t *ring, uint32_t ring_size);

#endif /* KANARY_MAGLEV_H */
