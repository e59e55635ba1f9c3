// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * fuzz_api.c - libFuzzer target for kanaryd's HTTP API (kanaryd/api.c). Each
 * input is one request - method, target, Authorization, Content-Type,
 * Content-Length, Host, Origin and body - sent over a real loopback
 * connection to the API as kanaryd serves it: api_start() over a real agent
 * (agent_create) whose data path is loaded without attaching (no
 * interface), so that every route reaches the real agent_* call and, for
 * weights and backends, the real BPF maps. api.h offers no entry point below
 * the listening socket; this is the cheapest real path.
 *
 * Two servers share the agent: one with a bearer token, one without (which
 * must then insist on a loopback Host). Invariants checked per request:
 * every complete request is answered; a state change succeeds only with the
 * right token (or, without one, with a loopback Host) and an Origin naming
 * the server; every answer of the API's own is JSON; nothing answers 5xx.
 * After a successful state change the services are put back as configured,
 * so that each input starts from the same state and reproduces alone.
 *
 * Input: one flags byte (FUZZ_F_*), then FIELD_COUNT fields each ended by
 * a line feed (an empty field leaves its header out), then the body:
 *
 *	<flags>METHOD\nTARGET\nAUTHORIZATION\nCONTENT-TYPE\nCONTENT-LENGTH\n
 *	HOST\nORIGIN\nBODY...
 *
 * Every request sent is complete: a body shorter than its Content-Length is
 * padded with blanks (JSON whitespace), a chunked body always ends. A
 * request whose announced body never comes holds its connection until the
 * server's timeout (API_CONNECTION_TIMEOUT_S): that is a property of the
 * server, not of one input, and would stall every execution after it
 * (tests/fuzz/crashes/api_abandoned_bodies.sh shows it).
 *
 * Needs root (BPF) and bpffs, like kanaryd. Run it with -close_fd_mask=2:
 * the agent logs every state change; libFuzzer and the sanitizers keep
 * their reports, and invariant messages go to the sanitizers' report.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sanitizer/common_interface_defs.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define FUZZ_NAME	"fuzz_api"
#define FUZZ_PIN_PREFIX "kanary-fuzz-api-"
#include "fuzz_server.h"

#define FUZZ_CHUNK_MAX 7
/* Far above any request libFuzzer's inputs make. */
#define FUZZ_REQUEST_MAX (16 * 1024 * 1024)
/* Longest body a Content-Length may announce: beyond the API's limit, so
 * that the 413 answer is reached, and small enough to send quickly. */
#define FUZZ_ANNOUNCED_MAX (2 * API_MAX_BODY_BYTES)

enum fuzz_flags {
	FUZZ_F_NO_TOKEN = 1 << 0,    /* to the server without a token */
	FUZZ_F_CHUNKED = 1 << 1,     /* body as chunks, no Content-Length */
	FUZZ_F_AUTO_LENGTH = 1 << 2, /* no length field: the body's length */
	FUZZ_F_HTTP10 = 1 << 3,	     /* HTTP/1.0 */
	FUZZ_F_DRIBBLE = 1 << 4,     /* the request in many small writes */
};

enum field {
	FIELD_METHOD,
	FIELD_TARGET,
	FIELD_AUTHORIZATION,
	FIELD_CONTENT_TYPE,
	FIELD_CONTENT_LENGTH,
	FIELD_HOST,
	FIELD_ORIGIN,
	FIELD_COUNT,
};

/* ---- one request --------------------------------------------------------- */

struct request {
	unsigned flags;
	char field[FIELD_COUNT][FUZZ_REQUEST_HEAD_MAX / FIELD_COUNT];
	const uint8_t *body;
	size_t body_len;
};

/* Splits the input; header fields lose CR and LF, which would end them. */
static bool parse_input(const uint8_t *data, size_t size, struct request *r)
{
	size_t pos = 1, f;

	if (size < 1)
		return false;
	memset(r, 0, sizeof(*r));
	r->flags = data[0];
	for (f = 0; f < FIELD_COUNT; f++) {
		size_t n = 0;

		while (pos < size && data[pos] != '\n') {
			if (data[pos] != '\r' && data[pos] != '\0' &&
			    n + 1 < sizeof(r->field[f]))
				r->field[f][n++] = (char)data[pos];
			pos++;
		}
		if (pos < size)
			pos++; /* the line feed */
		/* libmicrohttpd trims header values: check what it sees. */
		while (n && (r->field[f][n - 1] == ' ' ||
			     r->field[f][n - 1] == '\t'))
			r->field[f][--n] = '\0';
		while (f != FIELD_METHOD && f != FIELD_TARGET &&
		       (r->field[f][0] == ' ' || r->field[f][0] == '\t'))
			memmove(r->field[f], r->field[f] + 1, n--);
	}
	r->body = data + pos;
	r->body_len = size - pos;
	return r->field[FIELD_METHOD][0] != '\0';
}

static void __attribute__((format(printf, 2, 3)))
add_text(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = buf_vprintf(b, fmt, ap);
	va_end(ap);
	if (ret == -ENOMEM)
		abort();
}

static void header(struct buf *b, const char *name, const char *value)
{
	if (value[0])
		add_text(b, "%s: %s\r\n", name, value);
}

/*
 * The length a Content-Length field announces, as libmicrohttpd reads it
 * (decimal digits only; anything else it refuses with 400 by itself), or
 * -1 for a field that is not a plain number.
 */
static long long announced(const char *field)
{
	long long v = 0;
	size_t i;

	if (!field[0] || strspn(field, "0123456789") != strlen(field))
		return -1;
	for (i = 0; field[i]; i++) {
		v = v * 10 + (field[i] - '0');
		if (v > FUZZ_ANNOUNCED_MAX)
			return FUZZ_ANNOUNCED_MAX + 1;
	}
	return v;
}

/* The bytes on the wire, or false when the request could not be complete
 * (it announces more than FUZZ_ANNOUNCED_MAX bytes). */
static bool build_request(const struct request *r, struct buf *out)
{
	bool chunked = r->flags & FUZZ_F_CHUNKED;
	long long length = announced(r->field[FIELD_CONTENT_LENGTH]);
	size_t off, n;

	if (!chunked && length > FUZZ_ANNOUNCED_MAX)
		return false;
	add_text(out, "%s %s HTTP/1.%c\r\n", r->field[FIELD_METHOD],
		 r->field[FIELD_TARGET][0] ? r->field[FIELD_TARGET] : "/",
		 r->flags & FUZZ_F_HTTP10 ? '0' : '1');
	header(out, "Host", r->field[FIELD_HOST]);
	header(out, "Authorization", r->field[FIELD_AUTHORIZATION]);
	header(out, "Content-Type", r->field[FIELD_CONTENT_TYPE]);
	header(out, "Origin", r->field[FIELD_ORIGIN]);
	if (chunked) {
		/* Both would leave the body's end in doubt. */
		add_text(out, "Transfer-Encoding: chunked\r\n");
	} else if (r->field[FIELD_CONTENT_LENGTH][0]) {
		header(out, "Content-Length", r->field[FIELD_CONTENT_LENGTH]);
	} else if (r->flags & FUZZ_F_AUTO_LENGTH) {
		add_text(out, "Content-Length: %zu\r\n", r->body_len);
		length = (long long)r->body_len;
	}
	add_text(out, "Connection: close\r\n\r\n");
	if (!chunked) {
		add_bytes(out, r->body, r->body_len);
		while (length > 0 && (size_t)length > r->body_len) {
			add_bytes(out, " ", 1);
			length--;
		}
		return true;
	}
	/* Chunks of 1..FUZZ_CHUNK_MAX bytes, sized by the body itself. */
	for (off = 0; off < r->body_len; off += n) {
		n = 1 + r->body[off] % FUZZ_CHUNK_MAX;
		if (n > r->body_len - off)
			n = r->body_len - off;
		add_text(out, "%zx\r\n", n);
		add_bytes(out, r->body + off, n);
		add_text(out, "\r\n");
	}
	add_text(out, "0\r\n\r\n");
	return true;
}

struct response {
	unsigned status;
	bool json;
	const char *body;
	size_t body_len;
};

static bool parse_response(const struct buf *in, struct response *r)
{
	const char *end;
	const char *ct;

	memset(r, 0, sizeof(r[0]));
	if (in->len < 12 || strncmp(in->data, "HTTP/1.", 7) ||
	    sscanf(in->data + 9, "%3u", &r->status) != 1)
		return false;
	end = memmem(in->data, in->len, "\r\n\r\n", 4);
	if (!end)
		return false;
	r->body = end + 4;
	r->body_len = in->len - (size_t)(r->body - in->data);
	ct = memmem(in->data, (size_t)(end - in->data),
		    "\r\nContent-Type: application/json", 32);
	r->json = ct != NULL;
	return true;
}

/* ---- what must hold ------------------------------------------------------ */

static bool is_mutating(const char *method)
{
	return strcmp(method, "GET") && strcmp(method, "HEAD");
}

/* The header as api.c reads it: "Bearer" in any case, spaces, the token. */
static bool carries_token(const char *auth)
{
	const char *t;

	if (strncasecmp(auth, "Bearer ", strlen("Bearer ")))
		return false;
	t = auth + strlen("Bearer ");
	while (*t == ' ')
		t++;
	return !strcmp(t, FUZZ_TOKEN);
}

static bool host_is_loopback_name(const char *host)
{
	char name[256];
	size_t n = 0;
	struct in_addr a;

	if (host[0] == '[')
		return !strncmp(host, "[::1]", 5);
	while (host[n] && host[n] != ':' && n + 1 < sizeof(name)) {
		name[n] = host[n];
		n++;
	}
	name[n] = '\0';
	return !strcasecmp(name, "localhost") ||
	       (inet_pton(AF_INET, name, &a) == 1 &&
		(ntohl(a.s_addr) >> 24) == IN_LOOPBACKNET);
}

static void check_answer(const struct request *r, const struct response *a)
{
	const char *method = r->field[FIELD_METHOD];
	const char *origin = r->field[FIELD_ORIGIN];
	char detail[FUZZ_MSG_LEN];

	snprintf(detail, sizeof(detail), "%s %s -> %u", method,
		 r->field[FIELD_TARGET], a->status);
	if (a->status >= 500)
		fuzz_fail("a server error", detail);
	if (a->status >= 200 && a->status < 300 && is_mutating(method)) {
		if (!(r->flags & FUZZ_F_NO_TOKEN) &&
		    !carries_token(r->field[FIELD_AUTHORIZATION]))
			fuzz_fail("a state change without the token", detail);
		if ((r->flags & FUZZ_F_NO_TOKEN) && r->field[FIELD_HOST][0] &&
		    !host_is_loopback_name(r->field[FIELD_HOST]))
			fuzz_fail("a tokenless state change through a "
				  "non-loopback Host",
				  detail);
		if (origin[0] && (!strstr(origin, "://") ||
				  strcasecmp(strstr(origin, "://") + 3,
					     r->field[FIELD_HOST])))
			fuzz_fail("a state change from a foreign Origin",
				  detail);
		fz.dirty = true;
	}
	/* Everything api.c answers itself is JSON. */
	if (a->json && a->body_len && strcmp(method, "HEAD")) {
		json_error_t jerr;
		json_t *v = json_loadb(a->body, a->body_len, 0, &jerr);

		if (!v)
			fuzz_fail("an answer that is not JSON", detail);
		if (a->status >= 400 &&
		    !json_is_string(json_object_get(v, "error")))
			fuzz_fail("an error without \"error\"", detail);
		json_decref(v);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct request r;
	struct buf req, in;
	struct response a;
	bool answered;
	unsigned int port;
	int fd;

	buf_init(&req, FUZZ_REQUEST_MAX);
	buf_init(&in, FUZZ_RESPONSE_MAX);
	if (!parse_input(data, size, &r) || !build_request(&r, &req)) {
		buf_free(&req);
		return 0;
	}
	port = api_port(r.flags & FUZZ_F_NO_TOKEN ? fz.without_token
						  : fz.with_token);
	fd = connect_to(port);
	if (fd < 0)
		fuzz_fail("cannot connect to the API", strerror(errno));
	send_all(fd, req.data, req.len, r.flags & FUZZ_F_DRIBBLE);
	answered = read_all(fd, &in);
	close(fd);
	if (!answered)
		fuzz_fail("a complete request got no answer in time",
			  r.field[FIELD_TARGET]);
	if (parse_response(&in, &a))
		check_answer(&r, &a);
	buf_free(&req);
	buf_free(&in);
	if (fz.dirty) {
		reset_state();
		fz.dirty = false;
	}
	return 0;
}
