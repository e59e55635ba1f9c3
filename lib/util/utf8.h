/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * utf8.h - well-formed UTF-8, as the Unicode standard's table 3-7 defines it
 * (no overlong forms, no surrogates, nothing above U+10FFFF): what Go's
 * utf8.Valid accepts, so kanary agrees with Prometheus on what a page holds.
 */
#ifndef KANARY_UTIL_UTF8_H
#define KANARY_UTIL_UTF8_H

#include <stddef.h>

/*
 * The offset of the first NUL byte or byte that does not belong to
 * well-formed UTF-8, or len when there is none.
 */
size_t utf8_scan(const char *text, size_t len);

#endif /* KANARY_UTIL_UTF8_H */
