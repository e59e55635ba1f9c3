/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * units.h - durations as people write them ("250ms", "2s", "10m", "1.5h")
 * and as kanary prints them.
 */
#ifndef KANARY_UNITS_H
#define KANARY_UNITS_H

#include <stddef.h>
#include <stdint.h>

#define UNITS_DURATION_STR_LEN 32

/* Parses a positive duration with a unit (ms, s, m, h) into milliseconds.
 * Returns 0, or -EINVAL with a message naming the text in err. */
int units_parse_duration_ms(const char *text, uint64_t *ms_out, char *err,
			    size_t err_len);
/* Shortest exact form: 1500 -> "1500ms", 2000 -> "2s", 600000 -> "10m". */
const char *units_format_duration_ms(uint64_t ms, char *buf, size_t len);

#endif /* KANARY_UNITS_H */
