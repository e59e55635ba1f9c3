/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * clock.h - the two clocks kanary reads, in milliseconds, and the one way
 * it prints a wall-clock time. Wall time is for what people and files see
 * (decisions, the state file); monotonic time is for intervals and
 * deadlines, which must not jump when the wall clock is set.
 */
#ifndef KANARY_CLOCK_H
#define KANARY_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* "2026-01-31T23:59:59.123Z" and its terminator, with room to spare. */
#define CLOCK_RFC3339_LEN 40

/* CLOCK_REALTIME: milliseconds since the Unix epoch. */
uint64_t clock_wall_ms(void);
/* CLOCK_MONOTONIC: milliseconds since an arbitrary start. */
uint64_t clock_mono_ms(void);
/* RFC 3339 in UTC with milliseconds, like "2026-01-31T23:59:59.123Z". */
void clock_format_rfc3339(uint64_t wall_ms, char *buf, size_t len);

#endif /* KANARY_CLOCK_H */
