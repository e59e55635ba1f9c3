/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * units.c - duration parsing and printing (see units.h).
 */
#include "util/units.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/text.h"

#define MS_PER_S 1000ULL
#define MS_PER_M (60 * MS_PER_S)
#define MS_PER_H (60 * MS_PER_M)
/* Ten years: longer is a typo, and keeps every product in 64 bits. */
#define DURATION_MAX_MS	    (10ULL * 365 * 24 * MS_PER_H)
#define FRACTION_DIGITS_MAX 3

static const struct {
	const char *suffix;
	uint64_t ms;
} duration_units[] = {
    {"ms", 1},
    {"s", MS_PER_S},
    {"m", MS_PER_M},
    {"h", MS_PER_H},
};

int units_parse_duration_ms(const char *text, uint64_t *ms_out, char *err,
			    size_t err_len)
{
	uint64_t whole = 0, frac = 0, frac_scale = 1, unit_ms = 0, total;
	char why[TEXT_ERR_LEN], longest[UNITS_DURATION_STR_LEN];
	const char *p = text;
	size_t i, digits = 0, frac_digits = 0;

	if (!text)
		text = p = "";
	if (text_refuse_control(text, strlen(text), false, why, sizeof(why))) {
		if (err && err_len)
			snprintf(err, err_len, "the duration %s", why);
		return -EINVAL;
	}
	while (*p >= '0' && *p <= '9') {
		whole = whole * 10 + (uint64_t)(*p - '0');
		if (whole > DURATION_MAX_MS)
			goto too_large;
		p++;
		digits++;
	}
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9') {
			if (++frac_digits > FRACTION_DIGITS_MAX)
				goto bad;
			frac = frac * 10 + (uint64_t)(*p - '0');
			frac_scale *= 10;
			p++;
		}
		if (!frac_digits)
			goto bad;
	}
	if (!digits)
		goto bad;
	for (i = 0; i < sizeof(duration_units) / sizeof(duration_units[0]); i++)
		if (!strcmp(p, duration_units[i].suffix))
			unit_ms = duration_units[i].ms;
	if (!unit_ms)
		goto bad;
	if (whole > DURATION_MAX_MS / unit_ms)
		goto too_large;
	total = whole * unit_ms + frac * unit_ms / frac_scale;
	if (total > DURATION_MAX_MS)
		goto too_large;
	if (frac * unit_ms % frac_scale || total == 0)
		goto bad;
	*ms_out = total;
	return 0;
too_large:
	if (err && err_len)
		snprintf(err, err_len,
			 "'%s' is too large: durations go up to %s (ten years)",
			 text,
			 units_format_duration_ms(DURATION_MAX_MS, longest,
						  sizeof(longest)));
	return -EINVAL;
bad:
	if (err && err_len)
		snprintf(err, err_len,
			 "'%s' is not a duration (a positive number with a "
			 "unit ms, s, m or h, like 250ms, 2s, 10m; whole "
			 "milliseconds)",
			 text);
	return -EINVAL;
}

const char *units_format_duration_ms(uint64_t ms, char *buf, size_t len)
{
	if (ms && ms % MS_PER_H == 0)
		snprintf(buf, len, "%lluh",
			 (unsigned long long)(ms / MS_PER_H));
	else if (ms && ms % MS_PER_M == 0)
		snprintf(buf, len, "%llum",
			 (unsigned long long)(ms / MS_PER_M));
	else if (ms && ms % MS_PER_S == 0)
		snprintf(buf, len, "%llus",
			 (unsigned long long)(ms / MS_PER_S));
	else
		snprintf(buf, len, "%llums", (unsigned long long)ms);
	return buf;
}
