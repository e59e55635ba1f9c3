/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * names.h - the names of an enum's values, kept in a table indexed by the
 * value ({[PHASE_IDLE] = "idle", ...}): one way to find a value's name and
 * a name's value, whatever the table.
 */
#ifndef KANARY_UTIL_NAMES_H
#define KANARY_UTIL_NAMES_H

#include <errno.h>
#include <stddef.h>
#include <string.h>

/* How many entries a names table has. */
#define NAMES_COUNT(table) (sizeof(table) / sizeof((table)[0]))

/* The name of value, or unknown when the table has none for it. */
static inline const char *names_of(const char *const *table, size_t count,
				   size_t value, const char *unknown)
{
	return value < count && table[value] ? table[value] : unknown;
}

/* The value named name: 0 and *value, or -EINVAL when none is. */
static inline int names_find(const char *const *table, size_t count,
			     const char *name, size_t *value)
{
	size_t i;

	for (i = 0; i < count; i++) {
		if (table[i] && !strcmp(table[i], name)) {
			*value = i;
			return 0;
		}
	}
	return -EINVAL;
}

#endif /* KANARY_UTIL_NAMES_H */
