/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * jpos.c - walks a JSON text along a path without building a tree:
 * a cursor skips whitespace, strings and whole values (by counting brackets
 * outside strings), and descends only where the path leads.
 */
#include "util/jpos.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct cursor {
	const char *text;
	size_t len;
	size_t pos;
};

static void skip_space(struct cursor *c)
{
	while (c->pos < c->len &&
	       (c->text[c->pos] == ' ' || c->text[c->pos] == '\t' ||
		c->text[c->pos] == '\n' || c->text[c->pos] == '\r'))
		c->pos++;
}

/* At an opening quote: moves past the closing quote. */
static void skip_string(struct cursor *c)
{
	c->pos++;
	while (c->pos < c->len && c->text[c->pos] != '"') {
		if (c->text[c->pos] == '\\')
			c->pos++;
		c->pos++;
	}
	if (c->pos < c->len)
		c->pos++;
}

/* Skips one whole value of any kind. */
static void skip_value(struct cursor *c)
{
	size_t depth = 0;

	skip_space(c);
	do {
		if (c->pos >= c->len)
			return;
		switch (c->text[c->pos]) {
		case '"':
			skip_string(c);
			continue;
		case '{':
		case '[':
			depth++;
			break;
		case '}':
		case ']':
			if (depth == 0)
				return; /* end of the enclosing container */
			depth--;
			break;
		case ',':
			if (depth == 0)
				return;
			break;
		default:
			break;
		}
		c->pos++;
	} while (depth > 0 ||
		 (c->pos < c->len && c->text[c->pos] != ',' &&
		  c->text[c->pos] != '}' && c->text[c->pos] != ']'));
}

/* Compares the JSON string at the cursor (quotes included) with key. Keys
 * with escapes never match: kanary's own field names have none. */
static bool string_equals(const struct cursor *c, const char *key,
			  size_t key_len)
{
	size_t start = c->pos + 1;

	return start + key_len < c->len &&
	       !memcmp(c->text + start, key, key_len) &&
	       c->text[start + key_len] == '"';
}

/* Whether the next byte past blanks is ch; the cursor stops on it. */
static bool next_is(struct cursor *c, char ch)
{
	skip_space(c);
	return c->pos < c->len && c->text[c->pos] == ch;
}

/* Inside an object (cursor after '{'): moves to the value of key. */
static int enter_member(struct cursor *c, const char *key, size_t key_len)
{
	for (;;) {
		bool match;

		if (!next_is(c, '"'))
			return -ENOENT;
		match = string_equals(c, key, key_len);
		skip_string(c);
		if (!next_is(c, ':'))
			return -ENOENT;
		c->pos++;
		skip_space(c);
		if (match)
			return 0;
		skip_value(c);
		if (!next_is(c, ','))
			return -ENOENT;
		c->pos++;
	}
}

/* Inside an array (cursor after '['): moves to element index. */
static int enter_element(struct cursor *c, unsigned long index)
{
	unsigned long i;

	for (i = 0; i < index; i++) {
		skip_value(c);
		if (!next_is(c, ','))
			return -ENOENT;
		c->pos++;
	}
	if (next_is(c, ']') || c->pos >= c->len)
		return -ENOENT;
	return 0;
}

static void position_of(const struct cursor *c, unsigned int *line,
			unsigned int *column)
{
	size_t i;

	*line = 1;
	*column = 1;
	for (i = 0; i < c->pos && i < c->len; i++) {
		if (c->text[i] == '\n') {
			(*line)++;
			*column = 1;
		} else {
			(*column)++;
		}
	}
}

int jpos_locate(const char *text, size_t len, const char *path,
		unsigned int *line, unsigned int *column)
{
	struct cursor c = {.text = text, .len = len, .pos = 0};
	const char *p = path;
	int ret = 0;

	skip_space(&c);
	while (*p && !ret) {
		if (*p == '[') {
			char *end;
			unsigned long index = strtoul(p + 1, &end, 10);

			if (*end != ']' || c.pos >= c.len ||
			    c.text[c.pos] != '[') {
				ret = -ENOENT;
				break;
			}
			c.pos++;
			ret = enter_element(&c, index);
			p = end + 1;
		} else {
			size_t key_len;

			if (*p == '.')
				p++;
			key_len = strcspn(p, ".[");
			if (c.pos >= c.len || c.text[c.pos] != '{') {
				ret = -ENOENT;
				break;
			}
			c.pos++;
			ret = enter_member(&c, p, key_len);
			p += key_len;
		}
	}
	position_of(&c, line, column);
	return ret;
}
