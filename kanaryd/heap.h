/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * heap.h - how kanaryd's allocator holds and gives back memory: the policy
 * set once at start, the periodic trim, and the figures /metrics shows.
 *
 * kanaryd builds large short-lived texts (a service's decision log as the
 * API's answer, ~0.6 MB; the state file, that much per service) among
 * long-lived small allocations. With glibc's default, each freed large
 * block raises the size below which blocks come from the heap instead of a
 * mapping of their own (M_MMAP_THRESHOLD adjusts itself up to the largest
 * block freed, and the trim threshold to twice that), so the heap kept
 * growing with the largest answer ever built (tests/soak, SOAK.md).
 * A fixed threshold keeps every large block in its own mapping, returned
 * to the system when freed.
 */
#ifndef KANARY_HEAP_H
#define KANARY_HEAP_H

#include <stddef.h>

/* Blocks this large or larger are mapped on their own (glibc's starting
 * value, now fixed). */
#define HEAP_MMAP_THRESHOLD (128 * 1024)

/* Sets the policy above: call before the first thread starts. Returns 0,
 * or -EINVAL when the allocator refuses it (not glibc's). */
int heap_policy_set(void);

/* Gives freed pages back to the system, in every thread's arena. */
void heap_trim(void);

struct heap_figures {
	size_t in_use; /* bytes allocated, mapped blocks included */
	size_t free;   /* freed and still held by the allocator */
	size_t mapped; /* of in_use, in blocks mapped on their own */
};

void heap_read(struct heap_figures *out);

#endif
