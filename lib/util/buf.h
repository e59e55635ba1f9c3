/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * buf.h - a growable byte buffer with a size limit: what HTTP bodies,
 * pages read from files and request buffers are collected in. It doubles
 * as it grows (from BUF_INITIAL_BYTES), never holds more than its limit,
 * and keeps a NUL after the data so text can be used as a C string.
 */
#ifndef KANARY_UTIL_BUF_H
#define KANARY_UTIL_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>

#define BUF_INITIAL_BYTES 4096

struct buf {
	char *data; /* NULL until the first byte; then NUL-terminated */
	size_t len;
	size_t cap;   /* bytes allocated, the NUL included */
	size_t max;   /* most data bytes it may hold */
	bool dropped; /* an append did not fit: something was left out */
};

/* An empty buffer that will hold at most max_bytes. */
void buf_init(struct buf *b, size_t max_bytes);
void buf_free(struct buf *b);

/*
 * Makes room for extra more bytes. Returns 0, -E2BIG when that would pass
 * the limit (nothing changes), or -ENOMEM.
 */
int buf_reserve(struct buf *b, size_t extra);

/* Appends n bytes. Returns 0, -E2BIG (over the limit: nothing appended,
 * dropped set) or -ENOMEM. */
int buf_append(struct buf *b, const void *data, size_t n);

/*
 * Appends as much of n bytes as the limit leaves room for (a kept prefix
 * of something larger; dropped set when some is left out). Returns the
 * bytes appended, or -ENOMEM.
 */
long buf_append_prefix(struct buf *b, const void *data, size_t n);

/*
 * Appends printf-formatted text. Returns 0, -E2BIG (over the limit:
 * nothing appended, dropped set), -ENOMEM, or -EINVAL for a bad format.
 */
int buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/*
 * Where to write up to *room more bytes directly (a read(2) into the
 * buffer): at least want of them unless the limit leaves fewer, so *room
 * is 0 only at the limit. NULL when memory ran out. buf_wrote() then
 * takes the bytes written.
 */
char *buf_space(struct buf *b, size_t want, size_t *room);
void buf_wrote(struct buf *b, size_t n);

/* Drops the first n bytes (n <= len), moving the rest to the front. */
void buf_consume(struct buf *b, size_t n);

/*
 * Reads f to its end. Returns 0, -E2BIG when f holds more than the limit
 * (the buffer keeps the first max bytes), -EIO on a read error, or
 * -ENOMEM.
 */
int buf_read_file(struct buf *b, FILE *f);

/*
 * Hands the data over: a NUL-terminated string ("" when empty) the caller
 * free()s, or NULL when memory ran out. The buffer is empty afterwards.
 */
char *buf_take(struct buf *b);

#endif /* KANARY_UTIL_BUF_H */
