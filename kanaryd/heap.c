// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * heap.c - kanaryd's allocator policy, trim and figures (heap.h says why).
 */
#include <errno.h>
#include <malloc.h>

#include "heap.h"

int heap_policy_set(void)
{
#ifdef __SANITIZE_ADDRESS__
	/* A sanitized build runs ASan's allocator, which has its own and
	 * refuses mallopt(): nothing to set. */
	return 0;
#else
	/* Setting the threshold also stops glibc adjusting it, and the trim
	 * threshold, by the blocks freed. */
	return mallopt(M_MMAP_THRESHOLD, HEAP_MMAP_THRESHOLD) == 1 ? 0
								   : -EINVAL;
#endif
}

void heap_trim(void)
{
	malloc_trim(0);
}

void heap_read(struct heap_figures *out)
{
	struct mallinfo2 m = mallinfo2();

	out->in_use = m.uordblks + m.hblkhd;
	out->free = m.fordblks;
	out->mapped = m.hblkhd;
}
