// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * fuzz_http.c - libFuzzer target for kanaryd's HTTP front door: the input's
 * bytes go as they are onto a real loopback connection to the API as
 * kanaryd serves it (kanaryd/http_front.c, kanaryd/api.c over a real agent,
 * fuzz_server.h): request line, headers, body, chunked framing, whatever the
 * fuzzer makes of them. fuzz_api.c builds well-formed requests from fields;
 * this one is for everything that is not well-formed.
 *
 * Input: one flags byte (FUZZ_F_*), then the bytes to send. After sending,
 * the client shuts down its side, so that an incomplete request ends at
 * once instead of at the server's timeout.
 *
 * What must hold for every input:
 *   - the server answers or closes within FUZZ_ANSWER_TIMEOUT_S (no hang);
 *   - what comes back is zero or one final response, after any 1xx: a
 *     status line that parses, headers, exactly Content-Length bytes of
 *     body (none for HEAD), nothing after it;
 *   - no answer at all only where HTTP allows one: the head is not complete
 *     (no blank line after the request line), or it announces a body that
 *     may not have come whole (Content-Length, Transfer-Encoding, Expect);
 *   - never a 5xx; every 4xx is JSON {"error": "...", "field": "..."};
 *   - on the server with a token, a state change (POST, PUT) succeeds only
 *     with the token in an Authorization header.
 * After a successful state change the services are put back as configured.
 *
 * Needs root (BPF) and bpffs, like kanaryd. Run it with -close_fd_mask=2.
 */
#include <ctype.h>
#include <strings.h>

#define FUZZ_NAME	"fuzz_http"
#define FUZZ_PIN_PREFIX "kanary-fuzz-http-"
#include "fuzz_server.h"

#define HTTP_STATUS_FIRST    100
#define HTTP_STATUS_LAST     599
#define HTTP_STATUS_INFO_END 200
#define HTTP_STATUS_ERROR    400
#define HTTP_STATUS_SERVER   500
#define STATUS_LINE_MIN	     12 /* "HTTP/1.1 200" */
#define METHOD_MAX	     16
#define JSON_TYPE	     "application/json"

enum fuzz_flags {
	FUZZ_F_NO_TOKEN = 1 << 0, /* to the server without a token */
	FUZZ_F_DRIBBLE = 1 << 1,  /* the bytes in many small writes */
};

/* ---- what was sent ----------------------------------------------------------
 */

struct sent {
	const char *data;
	size_t len;
	char method[METHOD_MAX]; /* "" when it is not an upper-case word */
	bool head_complete;	 /* a request line and a blank line after it */
	bool announces_body;	 /* Content-Length, Transfer-Encoding, Expect */
	bool has_token;		 /* Authorization: Bearer FUZZ_TOKEN */
};

/* Case-insensitive search for needle in n bytes of hay. */
static const char *find_ci(const char *hay, size_t n, const char *needle)
{
	size_t len = strlen(needle), i;

	for (i = 0; i + len <= n; i++)
		if (!strncasecmp(hay + i, needle, len))
			return hay + i;
	return NULL;
}

/* What the bytes are, read loosely and independently of the server. */
static void read_sent(const uint8_t *data, size_t size, struct sent *s)
{
	const char *p = (const char *)data, *end;
	size_t skip = 0, n = 0, head_len;

	memset(s, 0, sizeof(*s));
	s->data = p;
	s->len = size;
	/* Empty lines before the request line are skipped (RFC 9112 2.2). */
	while (skip + 1 < size && p[skip] == '\r' && p[skip + 1] == '\n')
		skip += 2;
	while (skip + n < size && n + 1 < sizeof(s->method) &&
	       isupper((unsigned char)p[skip + n])) {
		s->method[n] = p[skip + n];
		n++;
	}
	/* A method is a word followed by a space; "HEAD\xd8" is none. */
	if (skip + n >= size || p[skip + n] != ' ')
		n = 0;
	s->method[n] = '\0';
	end = memmem(p + skip, size - skip, "\r\n\r\n", 4);
	s->head_complete = end != NULL;
	head_len = end ? (size_t)(end - p) + 4 : size;
	/* Expect: 100-continue asks whether to send a body: a client that
	 * then ends its side gets the 100 and a close (libmicrohttpd reads
	 * the end as the client giving up). */
	s->announces_body = find_ci(p, head_len, "\ncontent-length:") ||
			    find_ci(p, head_len, "\ntransfer-encoding:") ||
			    find_ci(p, head_len, "\nexpect:");
	s->has_token =
	    find_ci(p, head_len, "authorization: bearer " FUZZ_TOKEN) != NULL;
}

/* ---- what came back ---------------------------------------------------------
 */

struct answer {
	unsigned int status;
	bool json;
	const char *body;
	size_t body_len;
};

/* The value of header name in [head, end), or NULL; *count how often. */
static const char *header_value(const char *head, const char *end,
				const char *name, int *count)
{
	const char *line = head, *found = NULL;
	size_t len = strlen(name);

	*count = 0;
	while (line < end) {
		const char *eol = memmem(line, (size_t)(end - line), "\r\n", 2);

		if (!eol)
			eol = end;
		if ((size_t)(eol - line) > len && line[len] == ':' &&
		    !strncasecmp(line, name, len)) {
			(*count)++;
			found = line + len + 1;
			while (*found == ' ')
				found++;
		}
		line = eol + 2;
	}
	return found;
}

/*
 * Splits what came back into responses; fails on anything malformed.
 * Fills *final with the last (non-1xx) response, if any; returns how many
 * final responses there were, or -1 with *why.
 */
static int read_answers(const struct buf *in, const struct sent *s,
			struct answer *final, const char **why)
{
	size_t pos = 0;
	int finals = 0;

	while (pos < in->len) {
		const char *start = in->data + pos, *end, *cl, *type;
		size_t left = in->len - pos, head_len, body_len;
		unsigned int status;
		int count;
		char *num_end;

		if (left < STATUS_LINE_MIN || strncmp(start, "HTTP/1.1 ", 9) ||
		    !isdigit((unsigned char)start[9]) ||
		    !isdigit((unsigned char)start[10]) ||
		    !isdigit((unsigned char)start[11]) ||
		    (left > STATUS_LINE_MIN && start[12] != ' ' &&
		     start[12] != '\r')) {
			*why = "a response does not start with a status line";
			return -1;
		}
		status = (unsigned int)strtoul(start + 9, NULL, 10);
		if (status < HTTP_STATUS_FIRST || status > HTTP_STATUS_LAST) {
			*why = "a status out of range";
			return -1;
		}
		end = memmem(start, left, "\r\n\r\n", 4);
		if (!end) {
			*why = "a response head without its blank line";
			return -1;
		}
		head_len = (size_t)(end - start) + 4;
		if (status < HTTP_STATUS_INFO_END) {
			pos += head_len; /* 100 Continue: no body */
			continue;
		}
		if (finals++) {
			*why = "more than one response to one request";
			return -1;
		}
		cl = header_value(start, end, "Content-Length", &count);
		if (!cl || count != 1) {
			*why = "a response without exactly one Content-Length";
			return -1;
		}
		body_len = strtoul(cl, &num_end, 10);
		if (!strcasecmp(s->method, "HEAD"))
			body_len = 0;
		if (head_len + body_len != left) {
			*why = "a body not of its Content-Length (or bytes "
			       "after it: a second copy of a head?)";
			return -1;
		}
		final->status = status;
		type = header_value(start, end, "Content-Type", &count);
		final->json = type && count == 1 &&
			      !strncmp(type, JSON_TYPE, strlen(JSON_TYPE));
		final->body = start + head_len;
		final->body_len = body_len;
		pos += head_len + body_len;
	}
	return finals;
}

static bool is_error_json(const struct answer *a)
{
	json_error_t jerr;
	json_t *v = json_loadb(a->body, a->body_len, 0, &jerr);
	bool ok = v && json_is_string(json_object_get(v, "error")) &&
		  json_is_string(json_object_get(v, "field"));

	json_decref(v);
	return ok;
}

static void check(const struct sent *s, unsigned flags, const struct buf *in)
{
	struct answer a = {0};
	const char *why = NULL;
	char detail[FUZZ_MSG_LEN];
	int finals = read_answers(in, s, &a, &why);

	snprintf(detail, sizeof(detail), "%.*s",
		 (int)(s->len < 120 ? s->len : 120), s->data);
	if (finals < 0)
		fuzz_fail(why, detail);
	if (finals == 0) {
		if (s->head_complete && !s->announces_body)
			fuzz_fail("a complete request without a body got no "
				  "answer",
				  detail);
		return;
	}
	if (a.status >= HTTP_STATUS_SERVER)
		fuzz_fail("a server error", detail);
	if (a.status >= HTTP_STATUS_ERROR && strcasecmp(s->method, "HEAD") &&
	    (!a.json || !is_error_json(&a)))
		fuzz_fail("an error that is not JSON {error, field}", detail);
	if (a.status < HTTP_STATUS_ERROR &&
	    (!strcmp(s->method, "POST") || !strcmp(s->method, "PUT"))) {
		if (!(flags & FUZZ_F_NO_TOKEN) && !s->has_token)
			fuzz_fail("a state change without the token", detail);
		fz.dirty = true;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf in;
	struct sent s;
	unsigned flags;
	int fd;

	if (size < 1)
		return 0;
	buf_init(&in, FUZZ_RESPONSE_MAX);
	flags = data[0];
	read_sent(data + 1, size - 1, &s);
	fd = connect_to(api_port(flags & FUZZ_F_NO_TOKEN ? fz.without_token
							 : fz.with_token));
	if (fd < 0)
		fuzz_fail("cannot connect to the API", strerror(errno));
	send_all(fd, s.data, s.len, flags & FUZZ_F_DRIBBLE);
	shutdown(fd, SHUT_WR);
	if (!read_all(fd, &in))
		fuzz_fail("no answer and no close in time", NULL);
	close(fd);
	check(&s, flags, &in);
	buf_free(&in);
	if (fz.dirty) {
		reset_state();
		fz.dirty = false;
	}
	return 0;
}
