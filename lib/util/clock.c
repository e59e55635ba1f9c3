/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * clock.c - wall and monotonic milliseconds, and RFC 3339 times (see
 * clock.h).
 */
#include "clock.h"

#include <stdio.h>
#include <time.h>

#define MS_PER_S     1000u
#define NS_PER_MS    1000000u
#define TM_YEAR_BASE 1900

static uint64_t clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * MS_PER_S +
	       (uint64_t)ts.tv_nsec / NS_PER_MS;
}

uint64_t clock_wall_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

uint64_t clock_mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

void clock_format_rfc3339(uint64_t wall_ms, char *buf, size_t len)
{
	time_t secs = (time_t)(wall_ms / MS_PER_S);
	struct tm tm;

	gmtime_r(&secs, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ",
		 tm.tm_year + TM_YEAR_BASE, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (unsigned)(wall_ms % MS_PER_S));
}
