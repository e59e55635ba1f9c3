/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * text.c - refusing control characters in operator text (see text.h).
 */
#include "util/text.h"

#include <errno.h>
#include <stdio.h>

#define ASCII_FIRST_PRINTABLE 0x20
#define ASCII_DEL	      0x7f

bool text_is_control(unsigned char c)
{
	return c < ASCII_FIRST_PRINTABLE || c == ASCII_DEL;
}

size_t text_control_at(const char *s, size_t len, bool allow_lines)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (allow_lines && (c == '\t' || c == '\r' || c == '\n'))
			continue;
		if (text_is_control(c))
			return i;
	}
	return len;
}

/* The usual name of a control character, for messages. */
static const char *control_name(unsigned char c, char *buf, size_t len)
{
	switch (c) {
	case '\0':
		return "NUL";
	case '\t':
		return "TAB";
	case '\n':
		return "LF";
	case '\r':
		return "CR";
	case 0x1b:
		return "ESC";
	case ASCII_DEL:
		return "DEL";
	default:
		snprintf(buf, len, "0x%02x", c);
		return buf;
	}
}

int text_refuse_control(const char *s, size_t len, bool allow_lines, char *why,
			size_t why_len)
{
	size_t at = text_control_at(s, len, allow_lines);
	char name[8];

	if (at == len)
		return 0;
	if (why && why_len)
		snprintf(why, why_len,
			 "holds a control character (%s at byte %zu): line "
			 "breaks, tabs and other control characters are not "
			 "allowed here",
			 control_name((unsigned char)s[at], name, sizeof(name)),
			 at);
	return -EINVAL;
}
