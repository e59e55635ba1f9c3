/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * statuspage.h - the browser status page that kanaryd serves on GET /:
 * kanaryd/statuspage.html, built into the binary (statuspage.c), so that the
 * page always matches the API of the kanaryd that serves it and needs no
 * files at run time.
 */
#ifndef KANARY_STATUSPAGE_H
#define KANARY_STATUSPAGE_H

#include <stddef.h>

#define STATUSPAGE_CONTENT_TYPE "text/html; charset=utf-8"

/* The page's bytes (not NUL-terminated) and their count in *len. */
const char *statuspage_html(size_t *len);

#endif /* KANARY_STATUSPAGE_H */
