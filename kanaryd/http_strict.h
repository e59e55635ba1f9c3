/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * http_strict.h - kanaryd's strict reading of HTTP/1.x requests, as pure
 * functions over bytes: the request head (request line and header fields),
 * the path (percent-decoding that refuses what could name two things), and
 * the Host header. The API's front door (http_front.c) and its request
 * layer (api.c) use them; whatever they refuse gets one JSON error.
 */
#ifndef KANARY_HTTP_STRICT_H
#define KANARY_HTTP_STRICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HTTP_ERR_FIELD_LEN 32
#define HTTP_ERR_MSG_LEN   256
/* "[" + the longest IPv6 text + "]", or a DNS name (253 bytes), + NUL. */
#define HTTP_HOST_NAME_LEN 256

/* What is wrong with a request, for a person: status, field, message. */
struct http_error {
	unsigned int status; /* 400, 413 or 431: a client's error, never 5xx */
	char field[HTTP_ERR_FIELD_LEN]; /* a header's name, "path", ... */
	char message[HTTP_ERR_MSG_LEN];
	bool head_request; /* the method is HEAD: answer without a body */
};

/* What a sound request head says about its body. */
struct http_head_info {
	bool chunked; /* Transfer-Encoding: chunked */
};

/*
 * Checks the request head at the start of data (len bytes: what has
 * arrived so far, possibly followed by the body). Returns the head's length
 * through its blank line when it is complete and sound; 0 when it is not
 * complete yet and nothing so far is wrong; a negative errno with err set
 * when it is wrong (-EINVAL), or when max_bytes arrived without its end
 * (-EMSGSIZE, 431). What it holds to:
 *   - lines end with CRLF; empty lines before the request line are skipped;
 *   - the request line is METHOD SP TARGET SP HTTP/1.x, the method a token,
 *     the target a path ("/...", visible ASCII only);
 *   - each field is NAME ":" value with a token name, no white space before
 *     the colon, no line folding and no control bytes;
 *   - Host, Content-Length, Transfer-Encoding, Authorization, Origin and
 *     Content-Type appear at most once; HTTP/1.1 needs Host;
 *   - Host is host[:port] (http_host_parse);
 *   - Content-Length is decimal digits that fit 64 bits (413 beyond);
 *   - Transfer-Encoding is "chunked", never with a
 *     Content-Length.
 * info (may be NULL) says whether the body comes chunked.
 */
ssize_t http_head_check(const char *data, size_t len, size_t max_bytes,
			struct http_head_info *info, struct http_error *err);

/*
 * Checks a chunked body at the start of data (len bytes so far): chunk
 * sizes of 1 to 16 hex digits, optional extensions after ';', CRLF after
 * every size line and every chunk, a last chunk "0" and then CRLF (trailer
 * fields are refused). Returns the body's length as sent once it is
 * complete and sound; 0 when it is not complete yet; -EINVAL (400) for
 * broken framing; -EFBIG (413) as soon as it decodes to more than
 * max_body_bytes or takes more than max_sent_bytes as sent.
 */
ssize_t http_chunked_check(const char *data, size_t len, size_t max_body_bytes,
			   size_t max_sent_bytes, struct http_error *err);

/*
 * Decodes a request path (the target before any '?') into out (out_len
 * bytes, at least strlen(raw) + 1). Refuses with -EINVAL and err (400,
 * field "path"): a path not starting with '/', bytes other than visible
 * ASCII, a '%' not followed by two hex digits, an escape that decodes to
 * NUL, a control byte or '/', a "." or ".." segment, invalid UTF-8.
 * Returns 0 or a negative errno (-ENOSPC: out too small).
 */
int http_path_decode(const char *raw, char *out, size_t out_len,
		     struct http_error *err);

/* A Host value, parsed. */
struct http_host {
	char name[HTTP_HOST_NAME_LEN]; /* lower case; IPv6 keeps brackets */
	bool has_port;
	uint16_t port;
};

/*
 * Parses a Host value of len bytes: a DNS name (letters, digits, '-', '.',
 * '_'), an IPv4 address or a bracketed IPv6 address, then optionally ':'
 * and a port of 1 to 5 digits up to 65535. Nothing else: no user info
 * ("a@b"), no empty value, no empty port, no percent-escapes. Returns 0 or
 * -EINVAL with err (400, field "Host").
 */
int http_host_parse(const char *value, size_t len, struct http_host *out,
		    struct http_error *err);

/* Whether the host is localhost, 127.0.0.0/8 or [::1]. */
bool http_host_is_loopback(const struct http_host *host);

#endif /* KANARY_HTTP_STRICT_H */
