/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * text.h - the one check on operator text that ends up in a request (a
 * header, a URL), a log line or an error message: no control characters.
 * A CR or LF there splits a header or forges a log line; a NUL cuts the
 * text short in C. The config file, kanaryd's flags and the API all call
 * this, through netaddr, units and json_fields.
 */
#ifndef KANARY_TEXT_H
#define KANARY_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* Room for what text_refuse_control writes. */
#define TEXT_ERR_LEN 128

/* Whether c is a control character: below 0x20, or DEL (0x7f). */
bool text_is_control(unsigned char c);
/* Offset of the first control character in s[0..len), or len when none;
 * allow_lines lets TAB, CR and LF through (a request body may hold them). */
size_t text_control_at(const char *s, size_t len, bool allow_lines);
/*
 * 0 when s[0..len) holds no control character; else -EINVAL, and why reads
 * "holds a control character (LF at byte 12)". The text itself is never
 * copied into why: that would carry the character into the message.
 */
int text_refuse_control(const char *s, size_t len, bool allow_lines, char *why,
			size_t why_len);

#endif /* KANARY_TEXT_H */
