/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * selector_regex.h - the regular expressions of label matchers (=~, !~).
 *
 * POSIX extended syntax, compiled by the C library, and matched against the
 * whole label value as Prometheus does. A pattern the C library could not
 * compile in bounded time and memory is refused first, with the reason and
 * the column: too many copies from its repetitions, a repetition of what
 * can match the empty string, or a back-reference.
 */
#ifndef KANARY_SELECTOR_REGEX_H
#define KANARY_SELECTOR_REGEX_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

/* Compiles pattern into re (free it with regfree()); on failure returns
 * -EINVAL or -E2BIG and says why in why. */
int selector_regex_compile(regex_t *re, const char *pattern, char *why,
			   size_t why_len);

/* Whether re matches all of value. */
bool selector_regex_full_match(const regex_t *re, const char *value);

#endif /* KANARY_SELECTOR_REGEX_H */
