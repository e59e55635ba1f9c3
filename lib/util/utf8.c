/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * utf8.c - is a text well-formed UTF-8 (utf8.h): the one check shared by the
 * Prometheus parser (names and label values) and the API's path decoding.
 */
#include "util/utf8.h"

/*
 * The well-formed UTF-8 sequences of two bytes or more, as the Unicode
 * standard's table 3-7 lists them: lead bytes first..last, how many bytes
 * follow, and the range of the first of those (the others are always
 * 0x80..0xbf). The narrowed ranges keep out overlong forms, surrogates
 * and anything above U+10FFFF.
 */
static const struct utf8_lead {
	unsigned char first, last, follow, lo, hi;
} utf8_leads[] = {
    {0xc2, 0xdf, 1, 0x80, 0xbf}, /* U+0080..U+07FF */
    {0xe0, 0xe0, 2, 0xa0, 0xbf}, /* U+0800..U+0FFF */
    {0xe1, 0xec, 2, 0x80, 0xbf}, /* U+1000..U+CFFF */
    {0xed, 0xed, 2, 0x80, 0x9f}, /* U+D000..U+D7FF: no surrogates */
    {0xee, 0xef, 2, 0x80, 0xbf}, /* U+E000..U+FFFF */
    {0xf0, 0xf0, 3, 0x90, 0xbf}, /* U+10000..U+3FFFF */
    {0xf1, 0xf3, 3, 0x80, 0xbf}, /* U+40000..U+FFFFF */
    {0xf4, 0xf4, 3, 0x80, 0x8f}, /* U+100000..U+10FFFF */
};

#define UTF8_ASCII_END	       0x80 /* bytes below stand alone */
#define UTF8_CONTINUATION_MASK 0xc0 /* the top two bits... */
#define UTF8_CONTINUATION_BITS 0x80 /* ...are 10 in a continuation byte */

/* The row of utf8_leads for lead byte c, or NULL when c cannot lead. */
static const struct utf8_lead *utf8_lead_of(unsigned char c)
{
	size_t l;

	for (l = 0; l < sizeof(utf8_leads) / sizeof(utf8_leads[0]); l++)
		if (c >= utf8_leads[l].first && c <= utf8_leads[l].last)
			return &utf8_leads[l];
	return NULL;
}

size_t utf8_scan(const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t i = 0, k;

	while (i < len) {
		const struct utf8_lead *lead;

		if (s[i] < UTF8_ASCII_END) {
			if (s[i] == 0)
				return i;
			i++;
			continue;
		}
		lead = utf8_lead_of(s[i]);
		if (!lead || len - i - 1 < lead->follow ||
		    s[i + 1] < lead->lo || s[i + 1] > lead->hi)
			return i;
		for (k = 2; k <= lead->follow; k++)
			if ((s[i + k] & UTF8_CONTINUATION_MASK) !=
			    UTF8_CONTINUATION_BITS)
				return i;
		i += lead->follow + 1;
	}
	return len;
}
