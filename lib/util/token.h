/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * token.h - reading a bearer token from a file: kanaryd's API token and
 * each notification receiver's. One token on one line (a trailing line
 * end is dropped); a file others may read is warned about.
 */
#ifndef KANARY_UTIL_TOKEN_H
#define KANARY_UTIL_TOKEN_H

#include <stddef.h>

/* Reads path's token into buf (len bytes: tokens up to len-2 characters).
 * 0, or a negative errno with err saying what is wrong with which file. */
int token_read_file(const char *path, char *buf, size_t len, char *err,
		    size_t err_len);

#endif /* KANARY_UTIL_TOKEN_H */
