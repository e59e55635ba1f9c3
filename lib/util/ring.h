/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ring.h - the index arithmetic of a fixed-capacity ring (FIFO) over an
 * array the caller owns: which slot the next item goes to, which slot the
 * oldest is in, and the i-th oldest. The ring holds no items itself, so
 * one helper serves arrays of any type.
 *
 *   struct ring r;  ring_init(&r, CAP);
 *   items[ring_push(&r)] = x;     (when full, the oldest is overwritten)
 *   x = items[ring_pop(&r)];      (only when !ring_empty(&r))
 *   for (i = 0; i < r.len; i++) use(items[ring_at(&r, i)]);  oldest first
 */
#ifndef KANARY_UTIL_RING_H
#define KANARY_UTIL_RING_H

#include <stdbool.h>
#include <stdint.h>

struct ring {
	uint32_t head; /* slot of the oldest item */
	uint32_t len;  /* items held, at most cap */
	uint32_t cap;  /* slots; 0 makes every push a no-op returning 0 */
};

static inline void ring_init(struct ring *r, uint32_t cap)
{
	r->head = 0;
	r->len = 0;
	r->cap = cap;
}

static inline bool ring_empty(const struct ring *r)
{
	return r->len == 0;
}

static inline bool ring_full(const struct ring *r)
{
	return r->len == r->cap;
}

/* The slot of the i-th oldest item (i < len). */
static inline uint32_t ring_at(const struct ring *r, uint32_t i)
{
	return r->cap ? (uint32_t)(((uint64_t)r->head + i) % r->cap) : 0;
}

/* The slot of the newest item (len > 0). */
static inline uint32_t ring_newest(const struct ring *r)
{
	return ring_at(r, r->len - 1);
}

/*
 * Claims the slot after the newest and returns it. A full ring drops its
 * oldest item to make room, which is what a history of the last N wants.
 */
static inline uint32_t ring_push(struct ring *r)
{
	uint32_t slot;

	if (!r->cap)
		return 0;
	slot = ring_at(r, r->len);
	if (r->len == r->cap)
		r->head = ring_at(r, 1);
	else
		r->len++;
	return slot;
}

/* Releases the oldest item and returns its slot (len > 0). */
static inline uint32_t ring_pop(struct ring *r)
{
	uint32_t slot = r->head;

	r->head = ring_at(r, 1);
	r->len--;
	return slot;
}

#endif /* KANARY_UTIL_RING_H */
