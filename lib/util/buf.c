/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * buf.c - the growable byte buffer of buf.h: growth, the limit, the NUL.
 */
#include "util/buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b, size_t max_bytes)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max_bytes;
	b->dropped = false;
}

void buf_free(struct buf *b)
{
	free(b->data);
	buf_init(b, b->max);
}

int buf_reserve(struct buf *b, size_t extra)
{
	size_t need, cap;
	char *grown;

	if (extra > b->max - b->len)
		return -E2BIG;
	need = b->len + extra + 1; /* the NUL */
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : BUF_INITIAL_BYTES;
	while (cap < need)
		cap *= 2;
	/* Never allocate far past what the limit can use. */
	if (cap > b->max + 1)
		cap = b->max + 1;
	grown = realloc(b->data, cap);
	if (!grown)
		return -ENOMEM;
	if (!b->data)
		grown[0] = '\0';
	b->data = grown;
	b->cap = cap;
	return 0;
}

int buf_append(struct buf *b, const void *data, size_t n)
{
	int ret = buf_reserve(b, n);

	if (ret == -E2BIG)
		b->dropped = true;
	if (ret)
		return ret;
	if (n)
		memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

long buf_append_prefix(struct buf *b, const void *data, size_t n)
{
	size_t room = b->max - b->len;
	int ret;

	if (n > room) {
		n = room;
		b->dropped = true;
	}
	ret = buf_append(b, data, n);
	return ret ? ret : (long)n;
}

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	size_t room = b->cap > b->len ? b->cap - b->len : 0;
	va_list again;
	int n, ret;

	/* Try in the room there is; on a miss, grow once to the size told. */
	va_copy(again, ap);
	n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, ap);
	if (n < 0) {
		ret = -EINVAL;
	} else if ((size_t)n < room) {
		b->len += (size_t)n;
		ret = 0;
	} else {
		ret = buf_reserve(b, (size_t)n);
		if (ret == -E2BIG)
			b->dropped = true;
		if (!ret) {
			vsnprintf(b->data + b->len, (size_t)n + 1, fmt, again);
			b->len += (size_t)n;
		}
	}
	va_end(again);
	if (b->data)
		b->data[b->len] = '\0';
	return ret;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return ret;
}

char *buf_space(struct buf *b, size_t want, size_t *room)
{
	size_t left = b->max - b->len;

	*room = 0;
	if (buf_reserve(b, want < left ? want : left))
		return NULL;
	*room = b->cap - 1 - b->len;
	if (*room > left)
		*room = left;
	return b->data + b->len;
}

void buf_wrote(struct buf *b, size_t n)
{
	b->len += n;
	b->data[b->len] = '\0';
}

void buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
	} else {
		memmove(b->data, b->data + n, b->len - n);
		b->len -= n;
	}
	if (b->data)
		b->data[b->len] = '\0';
}

int buf_read_file(struct buf *b, FILE *f)
{
	for (;;) {
		size_t room, n;
		int ret;

		ret = buf_reserve(b, 1);
		if (ret == -E2BIG) {
			/* Full: one more byte tells "exactly max" from more. */
			return fgetc(f) == EOF && !ferror(f) ? 0 : -E2BIG;
		}
		if (ret)
			return ret;
		room = b->cap - 1 - b->len;
		if (room > b->max - b->len)
			room = b->max - b->len;
		n = fread(b->data + b->len, 1, room, f);
		b->len += n;
		b->data[b->len] = '\0';
		if (n < room)
			return ferror(f) ? -EIO : 0;
	}
}

char *buf_take(struct buf *b)
{
	char *data = b->data ? b->data : strdup("");

	buf_init(b, b->max);
	return data;
}
