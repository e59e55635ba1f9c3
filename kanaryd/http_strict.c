/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * http_strict.c - strict reading of HTTP/1.x request heads, paths and Host
 * values (http_strict.h). Pure functions over bytes, no I/O: the front door
 * (http_front.c) checks every request head with them before libmicrohttpd
 * parses it, and api.c decodes paths with them. Where HTTP lets a server
 * choose between tolerating and refusing, they refuse: anything that two
 * parsers could read two ways (a path whose escapes hide a '/' or a NUL, a
 * header given twice, a length that is not a plain number) is an error
 * message, never a guess. Messages never echo the client's bytes (they may
 * not be UTF-8, and JSON answers must be).
 */
#include "http_strict.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util/utf8.h"

#define HTTP_VERSION_PREFIX "HTTP/"
/* "HTTP/1.1": the prefix, a major digit, '.', a minor digit. */
#define HTTP_VERSION_LEN   (sizeof(HTTP_VERSION_PREFIX) - 1 + 3)
#define HTTP_MAJOR	   '1'
#define HOST_DNS_MAX_BYTES 253
#define PORT_MAX_DIGITS	   5
#define PORT_MAX	   65535
#define CHUNKED		   "chunked"

enum singleton {
	ONE_HOST,
	ONE_CONTENT_LENGTH,
	ONE_TRANSFER_ENCODING,
	ONE_AUTHORIZATION,
	ONE_ORIGIN,
	ONE_CONTENT_TYPE,
	ONE_COUNT,
};

/* Fields a second copy of which would leave a doubt which one counts. */
static const char *const singleton_names[ONE_COUNT] = {
    [ONE_HOST] = "Host",
    [ONE_CONTENT_LENGTH] = "Content-Length",
    [ONE_TRANSFER_ENCODING] = "Transfer-Encoding",
    [ONE_AUTHORIZATION] = "Authorization",
    [ONE_ORIGIN] = "Origin",
    [ONE_CONTENT_TYPE] = "Content-Type",
};

static int __attribute__((format(printf, 5, 6)))
fail(struct http_error *err, int ret, unsigned int status, const char *field,
     const char *fmt, ...)
{
	va_list ap;

	err->status = status;
	snprintf(err->field, sizeof(err->field), "%s", field);
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return ret;
}

/* RFC 9110 tchar: what method and field names are made of. */
static bool is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_visible_ascii(unsigned char c)
{
	return c > ' ' && c < 0x7f;
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int hex_value(unsigned char c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* ---- Host ------------------------------------------------------------------
 */

static int host_fail(struct http_error *err, const char *why)
{
	return fail(err, -EINVAL, 400, "Host",
		    "Host %s; send host[:port], like 127.0.0.1:9090", why);
}

static int parse_port(const char *p, size_t len, struct http_host *out,
		      struct http_error *err)
{
	unsigned long port = 0;
	size_t i;

	if (len == 0)
		return host_fail(err, "has an empty port");
	for (i = 0; i < len; i++)
		if (!is_digit((unsigned char)p[i]))
			return host_fail(err, "has a port that is not a number "
					      "(or user info, which Host "
					      "never has)");
	if (len > PORT_MAX_DIGITS)
		return host_fail(err, "has a port above 65535");
	for (i = 0; i < len; i++)
		port = port * 10 + (unsigned long)(p[i] - '0');
	if (port > PORT_MAX)
		return host_fail(err, "has a port above 65535");
	out->has_port = true;
	out->port = (uint16_t)port;
	return 0;
}

int http_host_parse(const char *value, size_t len, struct http_host *out,
		    struct http_error *err)
{
	const char *end = value + len, *name_end;
	size_t n, i;
	bool numeric = true;

	memset(out, 0, sizeof(*out));
	if (len == 0)
		return host_fail(err, "is empty");
	if (value[0] == '[') {
		char inner[INET6_ADDRSTRLEN];
		struct in6_addr a6;
		const char *close = memchr(value, ']', len);

		n = close ? (size_t)(close - value - 1) : 0;
		if (!close || n == 0 || n >= sizeof(inner))
			return host_fail(err, "has an unclosed or empty "
					      "IPv6 literal");
		for (i = 0; i < n; i++) {
			unsigned char c = (unsigned char)value[1 + i];

			if (hex_value(c) < 0 && c != ':' && c != '.')
				return host_fail(err, "is not an IPv6 address "
						      "in brackets");
			inner[i] =
			    (char)(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
		}
		inner[n] = '\0';
		if (inet_pton(AF_INET6, inner, &a6) != 1)
			return host_fail(err, "is not an IPv6 address in "
					      "brackets");
		snprintf(out->name, sizeof(out->name), "[%s]", inner);
		name_end = close + 1;
	} else {
		name_end = memchr(value, ':', len);
		if (!name_end)
			name_end = end;
		n = (size_t)(name_end - value);
		if (n == 0 || n > HOST_DNS_MAX_BYTES)
			return host_fail(err, "has an empty or too long name");
		for (i = 0; i < n; i++) {
			unsigned char c = (unsigned char)value[i];

			if (!((c >= 'a' && c <= 'z') ||
			      (c >= 'A' && c <= 'Z') || is_digit(c) ||
			      c == '-' || c == '.' || c == '_'))
				return host_fail(
				    err, "holds a character a host name "
					 "cannot have");
			if (!is_digit(c) && c != '.')
				numeric = false;
			out->name[i] =
			    (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
		}
		out->name[n] = '\0';
		if (numeric) {
			struct in_addr a4;

			if (inet_pton(AF_INET, out->name, &a4) != 1)
				return host_fail(err, "is not a dotted IPv4 "
						      "address");
		}
	}
	if (name_end == end)
		return 0;
	if (*name_end != ':')
		return host_fail(err, "has something after the address");
	return parse_port(name_end + 1, (size_t)(end - name_end - 1), out, err);
}

bool http_host_is_loopback(const struct http_host *host)
{
	struct in_addr a4;

	if (!strcmp(host->name, "localhost") || !strcmp(host->name, "[::1]"))
		return true;
	return inet_pton(AF_INET, host->name, &a4) == 1 &&
	       (ntohl(a4.s_addr) >> 24) == IN_LOOPBACKNET;
}

/* ---- the path --------------------------------------------------------------
 */

static int path_fail(struct http_error *err, const char *why)
{
	return fail(err, -EINVAL, 400, "path",
		    "the path %s; paths are like /api/v1/services/NAME, "
		    "docs/api.md lists them",
		    why);
}

int http_path_decode(const char *raw, char *out, size_t out_len,
		     struct http_error *err)
{
	size_t in = 0, n = 0, segment = 0, i;

	if (raw[0] != '/')
		return path_fail(err, "does not start with '/'");
	if (out_len < strlen(raw) + 1)
		return fail(err, -ENOSPC, 400, "path", "the path is too long");
	while (raw[in]) {
		unsigned char c = (unsigned char)raw[in];

		if (!is_visible_ascii(c))
			return path_fail(err,
					 "holds a byte that is not "
					 "visible ASCII (escape it as %XX)");
		if (c == '%') {
			int hi = hex_value((unsigned char)raw[in + 1]);
			int lo =
			    hi < 0 ? -1 : hex_value((unsigned char)raw[in + 2]);

			if (hi < 0 || lo < 0)
				return path_fail(err, "has a '%' not followed "
						      "by two hex digits");
			c = (unsigned char)(hi << 4 | lo);
			if (c == '\0')
				return path_fail(err, "has an escape that "
						      "decodes to NUL (%00)");
			if (c == '/')
				return path_fail(err,
						 "has an escaped '/' (%2F) "
						 "inside a segment");
			if (c < ' ' || c == 0x7f)
				return path_fail(err, "has an escape that "
						      "decodes to a control "
						      "byte");
			in += 3;
		} else {
			in++;
		}
		out[n++] = (char)c;
	}
	out[n] = '\0';
	/* Segments "." and "..", written or escaped, name another path. */
	for (i = 1; i <= n; i++) {
		if (i < n && out[i] != '/')
			continue;
		if ((i - segment - 1 == 1 && out[segment + 1] == '.') ||
		    (i - segment - 1 == 2 && out[segment + 1] == '.' &&
		     out[segment + 2] == '.'))
			return path_fail(err, "has a '.' or '..' segment");
		segment = i;
	}
	/* (A NUL was refused above, so only UTF-8 stops the scan.) */
	if (utf8_scan(out, n) != n)
		return path_fail(err, "decodes to invalid UTF-8");
	return 0;
}

/* ---- the head --------------------------------------------------------------
 */

struct head_state {
	bool http11; /* HTTP/1.1 or later: Host is required */
	bool seen[ONE_COUNT];
};

#define HEAD_METHOD "HEAD "

static int check_request_line(const char *line, size_t len,
			      struct head_state *st, struct http_error *err)
{
	size_t i = 0, target, version;

	while (i < len && is_tchar((unsigned char)line[i]))
		i++;
	if (i == 0 || i == len || line[i] != ' ')
		return fail(err, -EINVAL, 400, "method",
			    "the request line must be METHOD SP PATH SP "
			    "HTTP/1.1; the method is not a token followed by "
			    "one space");
	target = ++i;
	while (i < len && line[i] != ' ') {
		if (!is_visible_ascii((unsigned char)line[i]))
			return path_fail(err, "holds a byte that is not "
					      "visible ASCII (escape it as "
					      "%XX)");
		i++;
	}
	if (i == target || i == len)
		return fail(err, -EINVAL, 400, "path",
			    "the request line must be METHOD SP PATH SP "
			    "HTTP/1.1; the path or the version is missing");
	if (line[target] != '/')
		return path_fail(err, "does not start with '/'");
	version = i + 1;
	if (len - version != HTTP_VERSION_LEN ||
	    strncmp(line + version, HTTP_VERSION_PREFIX,
		    strlen(HTTP_VERSION_PREFIX)) != 0 ||
	    !is_digit((unsigned char)line[len - 3]) || line[len - 2] != '.' ||
	    !is_digit((unsigned char)line[len - 1]))
		return fail(err, -EINVAL, 400, "version",
			    "the request line must end in HTTP/1.0 or "
			    "HTTP/1.1, after exactly one space");
	if (line[len - 3] != HTTP_MAJOR)
		return fail(err, -EINVAL, 400, "version",
			    "only HTTP/1.0 and HTTP/1.1 are served");
	st->http11 = line[len - 1] != '0';
	return 0;
}

static int check_content_length(const char *v, size_t len,
				struct http_error *err)
{
	uint64_t value = 0;
	size_t i;

	if (len == 0)
		return fail(err, -EINVAL, 400, "Content-Length",
			    "Content-Length is empty; give the body's length "
			    "in bytes, like 42");
	for (i = 0; i < len; i++) {
		unsigned int d = (unsigned char)v[i] - '0';

		if (d > 9)
			return fail(err, -EINVAL, 400, "Content-Length",
				    "Content-Length must be decimal digits "
				    "only (the body's length in bytes, like "
				    "42)");
		if (value > (UINT64_MAX - d) / 10)
			return fail(err, -EINVAL, 413, "Content-Length",
				    "Content-Length announces more bytes "
				    "than any body kanaryd accepts");
		value = value * 10 + d;
	}
	return 0;
}

static int check_field(const char *line, size_t len, struct head_state *st,
		       struct http_error *err)
{
	char name[HTTP_ERR_FIELD_LEN];
	size_t n = 0, v, v_end, i, one;

	if (line[0] == ' ' || line[0] == '\t')
		return fail(err, -EINVAL, 400, "",
			    "a header line starts with white space (line "
			    "folding is not accepted)");
	while (n < len && is_tchar((unsigned char)line[n]))
		n++;
	snprintf(name, sizeof(name), "%.*s", (int)n, line);
	if (n == 0 || n == len || line[n] != ':')
		return fail(err, -EINVAL, 400, name,
			    n && n < len && (line[n] == ' ' || line[n] == '\t')
				? "white space between a header's name and "
				  "its ':'"
				: "a header line is not NAME: value");
	v = n + 1;
	v_end = len;
	while (v < v_end && (line[v] == ' ' || line[v] == '\t'))
		v++;
	while (v_end > v && (line[v_end - 1] == ' ' || line[v_end - 1] == '\t'))
		v_end--;
	for (i = v; i < v_end; i++) {
		unsigned char c = (unsigned char)line[i];

		if ((c < ' ' && c != '\t') || c == 0x7f)
			return fail(err, -EINVAL, 400, name,
				    "the value of %s holds a control byte",
				    name);
	}
	for (one = 0; one < ONE_COUNT; one++)
		if (strlen(singleton_names[one]) == n &&
		    !strncasecmp(line, singleton_names[one], n))
			break;
	if (one == ONE_COUNT)
		return 0;
	if (st->seen[one])
		return fail(err, -EINVAL, 400, singleton_names[one],
			    "%s appears more than once; send it once",
			    singleton_names[one]);
	st->seen[one] = true;
	switch (one) {
	case ONE_HOST: {
		struct http_host host;

		return http_host_parse(line + v, v_end - v, &host, err);
	}
	case ONE_CONTENT_LENGTH:
		return check_content_length(line + v, v_end - v, err);
	case ONE_TRANSFER_ENCODING:
		if (v_end - v != strlen(CHUNKED) ||
		    strncasecmp(line + v, CHUNKED, strlen(CHUNKED)) != 0)
			return fail(err, -EINVAL, 400, "Transfer-Encoding",
				    "only Transfer-Encoding: chunked is "
				    "understood");
		return 0;
	default:
		return 0;
	}
}

ssize_t http_head_check(const char *data, size_t len, size_t max_bytes,
			struct http_head_info *info, struct http_error *err)
{
	struct head_state st = {0};
	size_t pos = 0, line_no = 0;
	int ret;

	if (len > max_bytes)
		len = max_bytes;
	/* RFC 9112 2.2: empty lines before a request line are ignored. */
	while (pos + 1 < len && data[pos] == '\r' && data[pos + 1] == '\n')
		pos += 2;
	err->head_request =
	    len - pos >= strlen(HEAD_METHOD) &&
	    !memcmp(data + pos, HEAD_METHOD, strlen(HEAD_METHOD));
	for (;;) {
		size_t start = pos, line_len;

		while (pos < len && data[pos] != '\r' && data[pos] != '\n')
			pos++;
		if (pos == len || (data[pos] == '\r' && pos + 1 == len)) {
			if (len < max_bytes)
				return 0; /* the line goes on */
			return fail(err, -EMSGSIZE, 431, "",
				    "the request line and headers exceed %zu "
				    "bytes",
				    max_bytes);
		}
		if (data[pos] == '\n' || data[pos + 1] != '\n')
			return fail(err, -EINVAL, 400, "",
				    "a line of the request head ends with a "
				    "bare %s; lines end with CRLF",
				    data[pos] == '\n' ? "LF" : "CR");
		line_len = pos - start;
		pos += 2;
		if (line_no++ == 0) {
			ret = check_request_line(data + start, line_len, &st,
						 err);
		} else if (line_len == 0) {
			break;
		} else {
			ret = check_field(data + start, line_len, &st, err);
		}
		if (ret)
			return ret;
	}
	if (st.http11 && !st.seen[ONE_HOST])
		return fail(err, -EINVAL, 400, "Host",
			    "HTTP/1.1 requests need a Host header, like "
			    "Host: 127.0.0.1:9090");
	if (st.seen[ONE_CONTENT_LENGTH] && st.seen[ONE_TRANSFER_ENCODING])
		return fail(err, -EINVAL, 400, "Content-Length",
			    "both Content-Length and Transfer-Encoding: the "
			    "body's end would be in doubt; send one");
	if (info)
		info->chunked = st.seen[ONE_TRANSFER_ENCODING];
	return (ssize_t)pos;
}

/* ---- a chunked body --------------------------------------------------------
 */

#define CHUNK_SIZE_MAX_DIGITS 16 /* 64 bits */

static int chunk_fail(struct http_error *err, const char *why)
{
	return fail(err, -EINVAL, 400, "", "the chunked body is malformed: %s",
		    why);
}

/*
 * The line at pos: its length in *line_len, 1 when it is whole, 0 when it
 * is not there yet, or a negative errno for a bare CR or LF.
 */
static int next_line(const char *data, size_t len, size_t pos, size_t *line_len,
		     struct http_error *err)
{
	size_t i = pos;

	while (i < len && data[i] != '\r' && data[i] != '\n')
		i++;
	if (i == len || (data[i] == '\r' && i + 1 == len))
		return 0;
	if (data[i] == '\n' || data[i + 1] != '\n')
		return chunk_fail(err, "a line ends without CRLF");
	*line_len = i - pos;
	return 1;
}

/* A chunk-size line: hex digits, then nothing or ';' and extensions. */
static int chunk_size(const char *line, size_t len, uint64_t *size,
		      struct http_error *err)
{
	size_t i = 0;

	*size = 0;
	while (i < len && hex_value((unsigned char)line[i]) >= 0) {
		if (i == CHUNK_SIZE_MAX_DIGITS)
			return chunk_fail(err, "a chunk size has more than 16 "
					       "hex digits");
		*size =
		    *size << 4 | (uint64_t)hex_value((unsigned char)line[i]);
		i++;
	}
	if (i == 0)
		return chunk_fail(err, "a chunk does not start with its size "
				       "in hex");
	if (i < len && line[i] != ';')
		return chunk_fail(err, "a chunk size is followed by something "
				       "other than ';' or CRLF");
	for (; i < len; i++) {
		unsigned char c = (unsigned char)line[i];

		if ((c < ' ' && c != '\t') || c == 0x7f)
			return chunk_fail(err, "a chunk extension holds a "
					       "control byte");
	}
	return 0;
}

ssize_t http_chunked_check(const char *data, size_t len, size_t max_body_bytes,
			   size_t max_sent_bytes, struct http_error *err)
{
	uint64_t size, body = 0;
	size_t pos = 0, line_len = 0;
	int ret;

	for (;;) {
		ret = next_line(data, len, pos, &line_len, err);
		if (ret <= 0)
			break;
		ret = chunk_size(data + pos, line_len, &size, err);
		if (ret)
			return ret;
		pos += line_len + 2;
		if (size == 0) {
			/* The last chunk: no trailer fields, just CRLF. */
			if (len - pos < 2)
				break;
			if (data[pos] != '\r' || data[pos + 1] != '\n')
				return chunk_fail(err, "trailer fields after "
						       "the last chunk are "
						       "not accepted");
			return (ssize_t)(pos + 2);
		}
		if (size > max_body_bytes - body)
			return fail(err, -EFBIG, 413, "",
				    "the body has more than %zu bytes",
				    max_body_bytes);
		body += size;
		if (len - pos < size + 2) {
			pos = len;
			break;
		}
		if (data[pos + size] != '\r' || data[pos + size + 1] != '\n')
			return chunk_fail(err, "a chunk's data is not followed "
					       "by CRLF where its size says");
		pos += size + 2;
	}
	if (ret < 0)
		return ret;
	if (len >= max_sent_bytes)
		return fail(err, -EFBIG, 413, "",
			    "the chunked body takes more than %zu bytes as "
			    "sent",
			    max_sent_bytes);
	return 0;
}
