/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * kn-load.c - kanary's HTTP/1.1 load generator, for the end-to-end tests,
 * the demo and the benchmarks.
 *
 * It owns the client side of a run against a service VIP: which source
 * address each connection binds (kanary hashes the client address to pick
 * stable or canary, so a split is only visible across many sources), how
 * connections are kept or replaced, pacing, parsing every response
 * (Content-Length, chunked, or until close), the tag each answer carries
 * ({"model": "v1"}), and the counters and latency quantiles tests assert on.
 *
 * One thread, epoll, non-blocking sockets and no HTTP library: what happens
 * on the wire (a refused connect, a reset, a close half way through an
 * answer) is seen and counted as such, not folded into "error".
 *
 * Every attempt to get an answer ends in exactly one outcome: a response,
 * a connect failure (refused, timeout, unreachable, other), a reset, a
 * premature close, a timeout, a protocol error, an I/O error, or it is
 * unfinished when the run stops. The JSON output lists each, so that
 * attempts = the sum of the outcomes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/opts.h"
#include "util/ring.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define PROGRAM_NAME "kn-load"

#include "tool.h" /* after PROGRAM_NAME */

/* Exit statuses: HTTP errors and failed connects are data, not failures. */
#define EXIT_RAN   0
#define EXIT_SETUP 1

#define NS_PER_US 1000ULL
#define NS_PER_MS 1000000ULL
#define NS_PER_S  1000000000ULL
#define US_PER_MS 1000.0

/* Every run stops by itself: --duration, or at the latest after this. */
#define MAX_DURATION_S	       3600
#define DEFAULT_TIMEOUT_MS     5000
#define MAX_TIMEOUT_MS	       (MAX_DURATION_S * 1000)
#define DEFAULT_CONNECTIONS    10
#define MAX_CONNECTIONS	       60000
#define MAX_REQUESTS	       1000000000000ULL
#define MAX_RATE_RPS	       10000000.0
#define MAX_INTERVAL_MS	       (MAX_DURATION_S * 1000)
#define MIN_REPORT_INTERVAL_MS 10
#define MAX_REPORT_INTERVAL_MS (MAX_DURATION_S * 1000)
/* A failed connect waits this long before the slot tries again. */
#define DEFAULT_RETRY_DELAY_MS 10
#define MAX_RETRY_DELAY_MS     60000
/* Tokens that may pile up while connections are busy: 10 ms of the rate. */
#define RATE_BURST_NS (10 * NS_PER_MS)
/*
 * With --close, a connection whose answer is complete waits this long for
 * the server's FIN before closing itself: the server closes first, so
 * TIME_WAIT stays on its side and the client's ports do not run out.
 */
#define CLOSE_LINGER_MS 1000

#define MAX_SOURCES 65536
/* Tags seen by a source are a 64-bit mask: 63 named tags and "(other)". */
#define MAX_TAGS	    63
#define TAG_OTHER	    MAX_TAGS
#define TAG_OTHER_NAME	    "(other)"
#define MAX_TAG_BYTES	    64
#define MAX_TAG_FIELD_BYTES 128
#define MAX_LISTED_SOURCES  100
#define UNBOUND_SOURCE_NAME "(unbound)"
#define DEFAULT_TAG_FIELD   "model"
#define MAX_PATH_BYTES	    8192
#define MAX_HOST_BYTES	    1024
#define MAX_BODY_ARG_BYTES  (1 << 20)
#define HTTP_DEFAULT_PORT   80
#define IPV4_TEXT_BYTES	    INET6_ADDRSTRLEN /* either family's text */
#define IPV4_BITS	    32
/* Prefixes up to /30 have a network and a broadcast address to skip. */
#define CIDR_HOSTS_FROM_BITS 30

/* Response parsing limits: beyond them the answer is a protocol error. */
#define MAX_HEAD_BYTES	     65536
#define MAX_CHUNK_LINE_BYTES 4096
#define MAX_CONTENT_LENGTH   (1ULL << 50)
#define MAX_CHUNK_SIZE	     (1ULL << 50)
#define MAX_CHUNK_HEX_DIGITS 13
/* Bodies are kept up to this size to find the tag; the rest is counted. */
#define MAX_BODY_KEEP_BYTES 65536
#define STATUS_MIN	    100
#define STATUS_MAX	    599
#define STATUS_CLASSES	    6
#define STATUS_PER_CLASS    100

/* Receive buffers grow from small: most answers are a few hundred bytes. */
#define IN_MIN_FREE_BYTES   1024
#define IN_MAX_BYTES	    (MAX_HEAD_BYTES + 16384)
#define LINGER_SCRATCH	    4096
#define MAX_READS_PER_EVENT 16
#define MAX_EVENTS	    512
#define FD_HEADROOM	    64

/* Latencies are exact up to this many samples, a uniform sample beyond. */
#define LAT_EXACT_SAMPLES    (1U << 22)
#define LAT_INTERVAL_SAMPLES (1U << 18)
#define PCT_50		     0.50
#define PCT_90		     0.90
#define PCT_99		     0.99

enum mode {
	MODE_KEEPALIVE,
	MODE_CLOSE,
};

enum outcome {
	OUT_RESPONSE,
	OUT_REFUSED,
	OUT_CONNECT_TIMEOUT,
	OUT_UNREACHABLE,
	OUT_CONNECT_OTHER,
	OUT_RESET,
	OUT_PREMATURE,
	OUT_TIMEOUT,
	OUT_PROTOCOL,
	OUT_IO,
	OUT_COUNT,
};

enum stop_reason {
	STOP_REQUESTS,
	STOP_DURATION,
	STOP_CAP,
	STOP_SIGNAL,
};

static const char *const stop_names[] = {
    [STOP_REQUESTS] = "requests",
    [STOP_DURATION] = "duration",
    [STOP_CAP] = "duration cap",
    [STOP_SIGNAL] = "signal",
};

struct options {
	struct sockaddr_storage target;
	socklen_t target_len;
	const char *target_text;
	/* AF_INET, or AF_INET6: then every source shares the first 96 bits
	 * src_prefix holds, and sources[] holds their last 32. */
	int family;
	struct in6_addr src_prefix;
	int sources_family; /* 0 until --sources */
	const char *path;
	const char *method;
	const char *body;
	const char *host;
	const char *tag_field;
	uint32_t *sources; /* network order; IPv6: the last 32 bits */
	size_t n_sources;
	enum mode mode;
	uint32_t connections;
	uint64_t interval_ns;
	double rate;
	bool have_rate;
	uint64_t max_requests;
	bool have_requests;
	uint64_t duration_ns;
	bool have_duration;
	uint64_t timeout_ns;
	uint64_t retry_delay_ns;
	uint64_t report_interval_ns;
	bool json;
	bool json_lines;
	bool per_source;
};

/* ---- small helpers -------------------------------------------------- */

/* xorshift64*: the reservoir's dice, nothing cryptographic. */
static uint64_t rng_next(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p) {
		fail_msg("out of memory (%zu x %zu bytes)", n, size);
		exit(EXIT_SETUP);
	}
	return p;
}

/* Writes s as a JSON string; tags are sanitized to printable ASCII. */
static const char *ipv4_text(uint32_t addr_be, char *buf, size_t len)
{
	struct in_addr a = {.s_addr = addr_be};

	if (!inet_ntop(AF_INET, &a, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

/* An IPv6 source: the shared prefix and its own last 32 bits. */
static struct in6_addr source6(const struct in6_addr *prefix, uint32_t low_be)
{
	struct in6_addr a = *prefix;

	memcpy(&a.s6_addr[12], &low_be, sizeof(low_be));
	return a;
}

/* A source address's text, in the family of the sources. */
static const char *source_text(const struct options *o, uint32_t addr_be,
			       char *buf, size_t len)
{
	struct in6_addr a;

	if (o->sources_family != AF_INET6)
		return ipv4_text(addr_be, buf, len);
	a = source6(&o->src_prefix, addr_be);
	if (!inet_ntop(AF_INET6, &a, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

/* The socket address of source i (port 0), and its length. */
static socklen_t source_sockaddr(const struct options *o, size_t i,
				 struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (o->sources_family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = source6(&o->src_prefix, o->sources[i]);
		return sizeof(*sin6);
	}
	((struct sockaddr_in *)ss)->sin_family = AF_INET;
	((struct sockaddr_in *)ss)->sin_addr.s_addr = o->sources[i];
	return sizeof(struct sockaddr_in);
}

/* ---- latency samples ------------------------------------------------ */

struct lat_store {
	uint32_t *v; /* microseconds */
	size_t n;
	size_t cap;
	size_t limit;
	uint64_t seen;
	uint64_t sum_us;
	uint32_t max_us;
};

static void lat_add(struct lat_store *s, uint32_t us, uint64_t *rng)
{
	s->seen++;
	s->sum_us += us;
	if (us > s->max_us)
		s->max_us = us;
	if (s->n < s->limit) {
		if (s->n == s->cap) {
			size_t cap = s->cap ? s->cap * 2 : 1024;
			uint32_t *v;

			if (cap > s->limit)
				cap = s->limit;
			v = realloc(s->v, cap * sizeof(*v));
			if (!v) {
				/* Keep what fits: the rest is sampled. */
				s->limit = s->n;
				goto sample;
			}
			s->v = v;
			s->cap = cap;
		}
		s->v[s->n++] = us;
		return;
	}
sample:
	/* Algorithm R: each of the seen samples is kept with equal odds. */
	if (s->limit) {
		uint64_t j = rng_next(rng) % s->seen;

		if (j < s->limit)
			s->v[j] = us;
	}
}

static void lat_reset(struct lat_store *s)
{
	s->n = 0;
	s->seen = 0;
	s->sum_us = 0;
	s->max_us = 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static void lat_sort(struct lat_store *s)
{
	if (s->n > 1)
		qsort(s->v, s->n, sizeof(*s->v), cmp_u32);
}

/* Nearest rank on the sorted samples, in milliseconds. */
static double lat_pct_ms(const struct lat_store *s, double p)
{
	size_t rank;

	if (!s->n)
		return 0.0;
	rank = (size_t)(p * (double)s->n + 0.999999999);
	if (rank < 1)
		rank = 1;
	if (rank > s->n)
		rank = s->n;
	return s->v[rank - 1] / US_PER_MS;
}

/* ---- the tag in a JSON body ----------------------------------------- */

static size_t json_ws(const char *s, size_t len, size_t i)
{
	while (i < len &&
	       (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
		i++;
	return i;
}

/* s[i] is '"': returns the index past the closing quote, 0 if none. */
static size_t json_skip_string(const char *s, size_t len, size_t i)
{
	for (i++; i < len; i++) {
		if (s[i] == '\\')
			i++;
		else if (s[i] == '"')
			return i + 1;
	}
	return 0;
}

/* Returns the index past the value at s[i], 0 if it is not one. */
static size_t json_skip_value(const char *s, size_t len, size_t i)
{
	size_t depth = 0, start = i;

	if (i >= len)
		return 0;
	if (s[i] == '"')
		return json_skip_string(s, len, i);
	if (s[i] != '{' && s[i] != '[') {
		while (i < len && s[i] != ',' && s[i] != '}' && s[i] != ']' &&
		       s[i] != ' ' && s[i] != '\t' && s[i] != '\r' &&
		       s[i] != '\n')
			i++;
		return i > start ? i : 0;
	}
	/* Nested values: only the depth matters, and strings hide brackets. */
	for (; i < len; i++) {
		if (s[i] == '"') {
			size_t end = json_skip_string(s, len, i);

			if (!end)
				return 0;
			i = end - 1;
		} else if (s[i] == '{' || s[i] == '[') {
			depth++;
		} else if (s[i] == '}' || s[i] == ']') {
			if (--depth == 0)
				return i + 1;
		}
	}
	return 0;
}

/*
 * Decodes the JSON string s[a..b) (between the quotes) into out. Anything
 * but printable ASCII becomes '?': tags are names like "v1", and what is
 * printed must stay valid JSON. Returns false if it does not fit.
 */
static bool json_decode(const char *s, size_t a, size_t b, char *out,
			size_t cap)
{
	size_t n = 0;

	for (size_t i = a; i < b; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\\' && i + 1 < b) {
			i++;
			switch (s[i]) {
			case 'n':
			case 'r':
			case 't':
			case 'b':
			case 'f':
				c = '?';
				break;
			case 'u':
				c = '?';
				/* \uXXXX: ASCII keeps its letter. */
				if (i + 4 < b) {
					char hex[5] = {s[i + 1], s[i + 2],
						       s[i + 3], s[i + 4], 0};
					char *end;
					unsigned long v =
					    strtoul(hex, &end, 16);

					if (!*end && v >= 0x20 && v < 0x7f)
						c = (unsigned char)v;
					i += 4;
				}
				break;
			default:
				c = (unsigned char)s[i];
			}
		}
		if (c < 0x20 || c >= 0x7f)
			c = '?';
		if (n + 1 >= cap)
			return false;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return true;
}

/*
 * Finds the string member name of the top-level JSON object in body and
 * decodes it into out. Only a string counts: {"model": 2} is untagged.
 */
static bool json_find_tag(const char *body, size_t len, const char *name,
			  char *out, size_t cap)
{
	char key[MAX_TAG_FIELD_BYTES];
	size_t i = json_ws(body, len, 0);

	if (i >= len || body[i] != '{')
		return false;
	i = json_ws(body, len, i + 1);
	while (i < len && body[i] == '"') {
		size_t kend = json_skip_string(body, len, i), vend;
		bool match;

		if (!kend)
			return false;
		match = json_decode(body, i + 1, kend - 1, key, sizeof(key)) &&
			strcmp(key, name) == 0;
		i = json_ws(body, len, kend);
		if (i >= len || body[i] != ':')
			return false;
		i = json_ws(body, len, i + 1);
		vend = json_skip_value(body, len, i);
		if (!vend)
			return false;
		if (match)
			return body[i] == '"' &&
			       json_decode(body, i + 1, vend - 1, out, cap);
		i = json_ws(body, len, vend);
		if (i >= len || body[i] != ',')
			return false;
		i = json_ws(body, len, i + 1);
	}
	return false;
}

/* ---- HTTP/1.1 response parser --------------------------------------- */

enum parse_state {
	PS_STATUS,
	PS_HEADERS,
	PS_BODY_LENGTH,
	PS_CHUNK_SIZE,
	PS_CHUNK_DATA,
	PS_CHUNK_END,
	PS_TRAILERS,
	PS_BODY_EOF,
	PS_DONE,
};

enum parse_result {
	PARSE_MORE,
	PARSE_DONE,
	PARSE_ERROR,
};

struct response {
	enum parse_state state;
	int status;
	bool http10;
	bool conn_close;
	bool conn_keepalive;
	bool chunked;
	bool te_other; /* a transfer coding other than a final chunked */
	bool have_length;
	uint64_t length;
	uint64_t remaining;
	size_t head_bytes;
};

enum conn_state {
	CONN_IDLE,	 /* no attempt: waits for its time, a token or budget */
	CONN_CONNECTING, /* attempt: connect() under way */
	CONN_SENDING,	 /* attempt: request partly written */
	CONN_RECEIVING,	 /* attempt: reading the answer */
	CONN_LINGER,	 /* --close: answered, waiting for the server's FIN */
};

struct conn {
	int fd;
	enum conn_state state;
	uint32_t events; /* epoll interest */
	bool had_connection;
	bool queued;
	int heap_idx; /* -1: no timer */
	uint64_t timer_ns;
	uint64_t attempt_ns;
	uint64_t last_start_ns;
	size_t src; /* index into run.src */
	size_t sent_off;
	struct response resp;
	struct buf in;	 /* the answer as read, up to IN_MAX_BYTES */
	size_t in_off;	 /* where parse() goes on */
	struct buf body; /* the answer's first MAX_BODY_KEEP_BYTES */
};

static bool token_in_list(const char *v, size_t len, const char *token)
{
	size_t tlen = strlen(token), i = 0;

	while (i < len) {
		size_t s, e;

		while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < len && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - s == tlen && strncasecmp(v + s, token, tlen) == 0)
			return true;
	}
	return false;
}

/* Whether the last coding of a Transfer-Encoding value is "chunked". */
static bool last_is_chunked(const char *v, size_t len)
{
	size_t e = len, s;

	while (e > 0 && (v[e - 1] == ' ' || v[e - 1] == '\t'))
		e--;
	s = e;
	while (s > 0 && v[s - 1] != ',')
		s--;
	while (s < e && (v[s] == ' ' || v[s] == '\t'))
		s++;
	return e - s == strlen("chunked") &&
	       strncasecmp(v + s, "chunked", e - s) == 0;
}

static bool parse_status_line(struct response *r, const char *l, size_t len)
{
	static const char proto[] = "HTTP/1.";
	const size_t plen = sizeof(proto) - 1;
	int status = 0;

	/* "HTTP/1.x 200" then the end or " reason" */
	if (len < plen + 5 || memcmp(l, proto, plen) != 0 ||
	    (l[plen] != '0' && l[plen] != '1') || l[plen + 1] != ' ')
		return false;
	for (size_t i = plen + 2; i < plen + 5; i++) {
		if (l[i] < '0' || l[i] > '9')
			return false;
		status = status * 10 + (l[i] - '0');
	}
	if (len > plen + 5 && l[plen + 5] != ' ')
		return false;
	if (status < STATUS_MIN || status > STATUS_MAX)
		return false;
	r->status = status;
	r->http10 = l[plen] == '0';
	return true;
}

static bool parse_header(struct response *r, const char *l, size_t len)
{
	const char *colon = memchr(l, ':', len);
	size_t nlen, vlen;
	const char *v;

	/* No name, or obsolete line folding: not accepted. */
	if (!colon || colon == l || l[0] == ' ' || l[0] == '\t')
		return false;
	nlen = (size_t)(colon - l);
	v = colon + 1;
	vlen = len - nlen - 1;
	while (vlen && (*v == ' ' || *v == '\t')) {
		v++;
		vlen--;
	}
	while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;

	if (nlen == strlen("content-length") &&
	    strncasecmp(l, "content-length", nlen) == 0) {
		uint64_t n = 0;

		if (!vlen)
			return false;
		for (size_t i = 0; i < vlen; i++) {
			if (v[i] < '0' || v[i] > '9')
				return false;
			n = n * 10 + (uint64_t)(v[i] - '0');
			if (n > MAX_CONTENT_LENGTH)
				return false;
		}
		/* Two different lengths: the framing is ambiguous. */
		if (r->have_length && r->length != n)
			return false;
		r->have_length = true;
		r->length = n;
	} else if (nlen == strlen("transfer-encoding") &&
		   strncasecmp(l, "transfer-encoding", nlen) == 0) {
		if (last_is_chunked(v, vlen)) {
			r->chunked = true;
			r->te_other = false;
		} else {
			r->chunked = false;
			r->te_other = true;
		}
	} else if (nlen == strlen("connection") &&
		   strncasecmp(l, "connection", nlen) == 0) {
		if (token_in_list(v, vlen, "close"))
			r->conn_close = true;
		if (token_in_list(v, vlen, "keep-alive"))
			r->conn_keepalive = true;
	}
	return true;
}

static void response_reset(struct response *r)
{
	memset(r, 0, sizeof(*r));
	r->state = PS_STATUS;
}

/* The head is complete: how is the body framed? */
static enum parse_result end_of_head(struct response *r)
{
	if (r->http10 && !r->conn_keepalive)
		r->conn_close = true;
	if (r->status < 200) {
		/* 100 Continue and friends: the real answer follows. */
		if (r->status == 101)
			return PARSE_ERROR;
		response_reset(r);
		return PARSE_MORE;
	}
	if (r->status == 204 || r->status == 304) {
		r->state = PS_DONE;
		return PARSE_DONE;
	}
	if (r->chunked) {
		r->state = PS_CHUNK_SIZE;
	} else if (r->te_other || !r->have_length) {
		r->state = PS_BODY_EOF;
		r->conn_close = true;
	} else if (r->length == 0) {
		r->state = PS_DONE;
		return PARSE_DONE;
	} else {
		r->state = PS_BODY_LENGTH;
		r->remaining = r->length;
	}
	return PARSE_MORE;
}

static void keep_body(struct conn *c, const char *p, size_t n)
{
	/* Out of memory keeps less: the tag is then not found, and counted. */
	(void)buf_append_prefix(&c->body, p, n);
}

static bool parse_chunk_size(struct response *r, const char *l, size_t len)
{
	uint64_t n = 0;
	size_t i = 0;

	while (i < len) {
		char ch = l[i];
		int d;

		if (ch >= '0' && ch <= '9')
			d = ch - '0';
		else if (ch >= 'a' && ch <= 'f')
			d = ch - 'a' + 10;
		else if (ch >= 'A' && ch <= 'F')
			d = ch - 'A' + 10;
		else
			break;
		if (i >= MAX_CHUNK_HEX_DIGITS)
			return false;
		n = n * 16 + (uint64_t)d;
		i++;
	}
	if (i == 0 || n > MAX_CHUNK_SIZE)
		return false;
	/* Then nothing, or whitespace and/or ";extension" (ignored). */
	while (i < len && (l[i] == ' ' || l[i] == '\t'))
		i++;
	if (i < len && l[i] != ';')
		return false;
	r->remaining = n;
	r->state = n ? PS_CHUNK_DATA : PS_TRAILERS;
	return true;
}

/*
 * Parses what c->in holds from c->in_off on, consuming it. Lines end in
 * LF (a CR before it is dropped); body bytes are kept for the tag.
 */
static enum parse_result parse(struct conn *c)
{
	struct response *r = &c->resp;

	while (c->in_off < c->in.len) {
		const char *p = c->in.data + c->in_off;
		size_t avail = c->in.len - c->in_off, n;

		switch (r->state) {
		case PS_BODY_LENGTH:
		case PS_CHUNK_DATA:
			n = avail < r->remaining ? avail : (size_t)r->remaining;
			keep_body(c, p, n);
			c->in_off += n;
			r->remaining -= n;
			if (r->remaining)
				return PARSE_MORE;
			if (r->state == PS_CHUNK_DATA) {
				r->state = PS_CHUNK_END;
				break;
			}
			r->state = PS_DONE;
			return PARSE_DONE;
		case PS_BODY_EOF:
			keep_body(c, p, avail);
			c->in_off += avail;
			return PARSE_MORE;
		case PS_DONE:
			return PARSE_DONE;
		default: {
			/* Line-based states. */
			const char *nl = memchr(p, '\n', avail);
			size_t limit =
			    (r->state == PS_STATUS || r->state == PS_HEADERS ||
			     r->state == PS_TRAILERS)
				? MAX_HEAD_BYTES - r->head_bytes
				: MAX_CHUNK_LINE_BYTES;
			size_t llen;

			if (!nl)
				return avail > limit ? PARSE_ERROR : PARSE_MORE;
			llen = (size_t)(nl - p);
			if (llen + 1 > limit)
				return PARSE_ERROR;
			c->in_off += llen + 1;
			if (r->state != PS_CHUNK_SIZE &&
			    r->state != PS_CHUNK_END)
				r->head_bytes += llen + 1;
			if (llen && p[llen - 1] == '\r')
				llen--;
			switch (r->state) {
			case PS_STATUS:
				if (!parse_status_line(r, p, llen))
					return PARSE_ERROR;
				r->state = PS_HEADERS;
				break;
			case PS_HEADERS:
				if (llen == 0) {
					enum parse_result pr = end_of_head(r);

					if (pr != PARSE_MORE)
						return pr;
				} else if (!parse_header(r, p, llen)) {
					return PARSE_ERROR;
				}
				break;
			case PS_CHUNK_SIZE:
				if (!parse_chunk_size(r, p, llen))
					return PARSE_ERROR;
				break;
			case PS_CHUNK_END:
				if (llen != 0)
					return PARSE_ERROR;
				r->state = PS_CHUNK_SIZE;
				break;
			case PS_TRAILERS:
				if (llen == 0) {
					r->state = PS_DONE;
					return PARSE_DONE;
				}
				break;
			default:
				return PARSE_ERROR;
			}
		}
		}
	}
	return r->state == PS_DONE ? PARSE_DONE : PARSE_MORE;
}

/* ---- the run -------------------------------------------------------- */

struct counters {
	uint64_t attempts;
	uint64_t requests; /* written to a connection */
	uint64_t outcome[OUT_COUNT];
	uint64_t status_class[STATUS_CLASSES];
	uint64_t connects;
	uint64_t reconnects;
	uint64_t idle_closes;
	uint64_t stray;
	uint64_t untagged;
	uint64_t body_truncated;
};

struct tag {
	char name[MAX_TAG_BYTES];
	uint64_t count;
	uint64_t snap;
};

struct src_stat {
	uint32_t addr; /* network order; 0: unbound */
	uint64_t responses;
	uint64_t tag_mask;
};

struct run {
	const struct options *o;
	int epfd;
	struct conn *conns;
	uint32_t nconn;
	struct conn **heap;
	uint32_t heap_n;
	struct conn **ready; /* r->nconn slots, indexed by ready_ring */
	struct ring ready_ring;
	char *req;
	size_t req_len;
	uint64_t start_ns;
	uint64_t end_ns;
	enum stop_reason end_reason;
	uint64_t now;
	uint64_t active;
	double tokens;
	double burst;
	uint64_t token_ns;
	struct counters cur;
	struct counters snap;
	uint64_t codes[STATUS_MAX + 1];
	struct tag tags[MAX_TAGS + 1];
	uint32_t ntags;
	struct src_stat *src;
	size_t nsrc;
	size_t next_src;
	struct lat_store lat;
	struct lat_store ilat;
	uint64_t rng;
	uint64_t next_report_ns;
	uint64_t last_report_ns;
	FILE *report_out;
	char connect_error[128];
	char io_error[128];
};

/* -- timers: a binary min-heap of connections by timer_ns -- */

static void heap_swap(struct run *r, uint32_t a, uint32_t b)
{
	struct conn *t = r->heap[a];

	r->heap[a] = r->heap[b];
	r->heap[b] = t;
	r->heap[a]->heap_idx = (int)a;
	r->heap[b]->heap_idx = (int)b;
}

static void heap_up(struct run *r, uint32_t i)
{
	while (i > 0) {
		uint32_t parent = (i - 1) / 2;

		if (r->heap[parent]->timer_ns <= r->heap[i]->timer_ns)
			break;
		heap_swap(r, i, parent);
		i = parent;
	}
}

static void heap_down(struct run *r, uint32_t i)
{
	for (;;) {
		uint32_t l = 2 * i + 1, rr = l + 1, m = i;

		if (l < r->heap_n &&
		    r->heap[l]->timer_ns < r->heap[m]->timer_ns)
			m = l;
		if (rr < r->heap_n &&
		    r->heap[rr]->timer_ns < r->heap[m]->timer_ns)
			m = rr;
		if (m == i)
			return;
		heap_swap(r, i, m);
		i = m;
	}
}

static void timer_clear(struct run *r, struct conn *c)
{
	uint32_t i, last;

	if (c->heap_idx < 0)
		return;
	i = (uint32_t)c->heap_idx;
	last = --r->heap_n;
	if (i != last) {
		r->heap[i] = r->heap[last];
		r->heap[i]->heap_idx = (int)i;
		heap_down(r, i);
		heap_up(r, i);
	}
	c->heap_idx = -1;
}

static void timer_set(struct run *r, struct conn *c, uint64_t at)
{
	timer_clear(r, c);
	c->timer_ns = at;
	c->heap_idx = (int)r->heap_n;
	r->heap[r->heap_n++] = c;
	heap_up(r, (uint32_t)c->heap_idx);
}

/* -- the queue of idle connections free to start an attempt -- */

static void ready_push(struct run *r, struct conn *c)
{
	if (c->queued)
		return;
	c->queued = true;
	r->ready[ring_push(&r->ready_ring)] = c;
}

static struct conn *ready_pop(struct run *r)
{
	struct conn *c = r->ready[ring_pop(&r->ready_ring)];

	c->queued = false;
	return c;
}

static bool budget_spent(const struct run *r)
{
	return r->o->have_requests && r->cur.attempts >= r->o->max_requests;
}

/* Nothing read, nothing to parse. */
static void in_clear(struct conn *c)
{
	buf_consume(&c->in, c->in.len);
	c->in_off = 0;
}

static void conn_close_fd(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->events = 0;
	in_clear(c);
}

static void conn_want(struct run *r, struct conn *c, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = c};

	if (c->events == events)
		return;
	/* The fd is valid and registered: this cannot fail but by a bug. */
	if (epoll_ctl(r->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->events = events;
}

/* An idle connection gets its next attempt now, later, or never. */
static void schedule_next(struct run *r, struct conn *c, uint64_t delay_ns)
{
	uint64_t wake = r->now + delay_ns;

	c->state = CONN_IDLE;
	timer_clear(r, c);
	if (budget_spent(r))
		return;
	if (r->o->interval_ns && c->last_start_ns + r->o->interval_ns > wake)
		wake = c->last_start_ns + r->o->interval_ns;
	if (wake <= r->now)
		ready_push(r, c);
	else
		timer_set(r, c, wake);
}

static bool is_connect_failure(enum outcome o)
{
	return o == OUT_REFUSED || o == OUT_CONNECT_TIMEOUT ||
	       o == OUT_UNREACHABLE || o == OUT_CONNECT_OTHER;
}

/* The attempt on c ended without an answer: count it, drop the fd. */
static void attempt_failed(struct run *r, struct conn *c, enum outcome o)
{
	r->cur.outcome[o]++;
	r->active--;
	conn_close_fd(c);
	r->now = now_ns();
	schedule_next(r, c, is_connect_failure(o) ? r->o->retry_delay_ns : 0);
}

static void io_failed(struct run *r, struct conn *c, int err)
{
	if (err == ECONNRESET || err == EPIPE) {
		attempt_failed(r, c, OUT_RESET);
		return;
	}
	snprintf(r->io_error, sizeof(r->io_error), "%s", strerror(err));
	attempt_failed(r, c, OUT_IO);
}

static void connect_failed(struct run *r, struct conn *c, int err)
{
	enum outcome o;

	switch (err) {
	case ECONNREFUSED:
		o = OUT_REFUSED;
		break;
	case ETIMEDOUT:
		o = OUT_CONNECT_TIMEOUT;
		break;
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EHOSTDOWN:
	case ENETDOWN:
		o = OUT_UNREACHABLE;
		break;
	default:
		o = OUT_CONNECT_OTHER;
		snprintf(r->connect_error, sizeof(r->connect_error), "%s",
			 strerror(err));
	}
	attempt_failed(r, c, o);
}

static void write_request(struct run *r, struct conn *c)
{
	while (c->sent_off < r->req_len) {
		ssize_t n = send(c->fd, r->req + c->sent_off,
				 r->req_len - c->sent_off, MSG_NOSIGNAL);

		if (n > 0) {
			c->sent_off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			conn_want(r, c, EPOLLIN | EPOLLOUT);
			return;
		}
		io_failed(r, c, n < 0 ? errno : EPIPE);
		return;
	}
	c->state = CONN_RECEIVING;
	conn_want(r, c, EPOLLIN);
}

static void send_request(struct run *r, struct conn *c)
{
	c->state = CONN_SENDING;
	c->sent_off = 0;
	buf_consume(&c->body, c->body.len);
	response_reset(&c->resp);
	r->cur.requests++;
	write_request(r, c);
}

static void open_connection(struct run *r, struct conn *c)
{
	struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
	const int one = 1;
	int fd;

	fd =
	    socket(r->o->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		connect_failed(r, c, errno);
		return;
	}
	c->fd = fd;
	c->state = CONN_CONNECTING;
	/* Requests are written whole: Nagle would only delay them. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->src = 0;
	if (r->o->n_sources) {
		struct sockaddr_storage sa;
		socklen_t sa_len;

		c->src = r->next_src++ % r->o->n_sources;
		sa_len = source_sockaddr(r->o, c->src, &sa);
		/*
		 * Port chosen at connect(), per destination: otherwise every
		 * source would be limited to one ephemeral range for all.
		 */
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
			   sizeof(one));
		if (bind(fd, (struct sockaddr *)&sa, sa_len) < 0) {
			connect_failed(r, c, errno);
			return;
		}
	}
	if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		connect_failed(r, c, errno);
		return;
	}
	c->events = EPOLLOUT;
	if (connect(fd, (const struct sockaddr *)&r->o->target,
		    r->o->target_len) == 0 ||
	    errno == EINPROGRESS)
		return;
	connect_failed(r, c, errno);
}

static void start_attempt(struct run *r, struct conn *c)
{
	r->cur.attempts++;
	r->active++;
	r->now = now_ns();
	c->attempt_ns = r->now;
	c->last_start_ns = r->now;
	timer_set(r, c, r->now + r->o->timeout_ns);
	if (c->fd < 0)
		open_connection(r, c);
	else
		send_request(r, c);
}

static void connected(struct run *r, struct conn *c)
{
	r->cur.connects++;
	if (r->o->mode == MODE_KEEPALIVE && c->had_connection)
		r->cur.reconnects++;
	c->had_connection = true;
	send_request(r, c);
}

static uint32_t tag_index(struct run *r, const char *name)
{
	for (uint32_t i = 0; i < r->ntags; i++)
		if (strcmp(r->tags[i].name, name) == 0)
			return i;
	if (r->ntags == MAX_TAGS)
		return TAG_OTHER;
	snprintf(r->tags[r->ntags].name, MAX_TAG_BYTES, "%s", name);
	return r->ntags++;
}

/* The answer on c is complete (eof: the server closed to end it). */
static void on_response(struct run *r, struct conn *c, bool eof)
{
	uint64_t lat_ns;
	uint32_t lat_us;
	char tag[MAX_TAG_BYTES];
	int status = c->resp.status;
	bool stray = c->in_off < c->in.len;
	bool reuse;

	r->now = now_ns();
	lat_ns = r->now - c->attempt_ns;
	lat_us = lat_ns / NS_PER_US > UINT32_MAX
		     ? UINT32_MAX
		     : (uint32_t)(lat_ns / NS_PER_US);
	lat_add(&r->lat, lat_us, &r->rng);
	if (r->o->report_interval_ns)
		lat_add(&r->ilat, lat_us, &r->rng);
	r->cur.outcome[OUT_RESPONSE]++;
	r->codes[status]++;
	r->cur.status_class[status / STATUS_PER_CLASS]++;
	r->src[c->src].responses++;
	if (c->body.len == MAX_BODY_KEEP_BYTES)
		r->cur.body_truncated++;
	if (json_find_tag(c->body.data, c->body.len, r->o->tag_field, tag,
			  sizeof(tag))) {
		uint32_t t = tag_index(r, tag);

		r->tags[t].count++;
		r->src[c->src].tag_mask |= 1ULL << t;
	} else {
		r->cur.untagged++;
	}
	r->active--;
	timer_clear(r, c);

	/* Bytes after a complete answer were never asked for. */
	if (stray)
		r->cur.stray++;
	reuse = r->o->mode == MODE_KEEPALIVE && !c->resp.conn_close && !eof &&
		!stray;
	if (reuse) {
		in_clear(c);
		schedule_next(r, c, 0);
	} else if (r->o->mode == MODE_CLOSE && !eof && !stray) {
		in_clear(c);
		c->state = CONN_LINGER;
		timer_set(r, c, r->now + CLOSE_LINGER_MS * NS_PER_MS);
	} else {
		conn_close_fd(c);
		schedule_next(r, c, 0);
	}
}

/* Room to read into; NULL or *room 0 when the head is over the limit. */
static char *in_room(struct conn *c, size_t *room)
{
	buf_consume(&c->in, c->in_off);
	c->in_off = 0;
	return buf_space(&c->in, IN_MIN_FREE_BYTES, room);
}

static void on_readable(struct run *r, struct conn *c)
{
	for (int reads = 0; reads < MAX_READS_PER_EVENT; reads++) {
		size_t room;
		char *at = in_room(c, &room);
		ssize_t n;

		if (!at || !room) {
			attempt_failed(r, c, OUT_PROTOCOL);
			return;
		}
		n = recv(c->fd, at, room, 0);
		if (n > 0) {
			enum parse_result pr;

			buf_wrote(&c->in, (size_t)n);
			pr = parse(c);
			if (pr == PARSE_DONE) {
				on_response(r, c, false);
				return;
			}
			if (pr == PARSE_ERROR) {
				attempt_failed(r, c, OUT_PROTOCOL);
				return;
			}
			if ((size_t)n < room)
				return;
			continue;
		}
		if (n == 0) {
			if (c->resp.state == PS_BODY_EOF)
				on_response(r, c, true);
			else
				attempt_failed(r, c, OUT_PREMATURE);
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			io_failed(r, c, errno);
		return;
	}
}

/* An idle or lingering connection is readable: the server closed it. */
static void on_quiet_readable(struct run *r, struct conn *c)
{
	char scratch[LINGER_SCRATCH];
	ssize_t n = recv(c->fd, scratch, sizeof(scratch), 0);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (c->state == CONN_IDLE) {
		/* Data nobody asked for, or a close: start afresh next time. */
		if (n > 0)
			r->cur.stray++;
		else
			r->cur.idle_closes++;
		conn_close_fd(c);
		return;
	}
	if (n > 0)
		return; /* lingering: whatever it is, the answer is counted */
	conn_close_fd(c);
	r->now = now_ns();
	schedule_next(r, c, 0);
}

static void on_event(struct run *r, struct conn *c, uint32_t ev)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (c->fd < 0)
		return;
	switch (c->state) {
	case CONN_CONNECTING:
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err) {
			connect_failed(r, c, err);
			return;
		}
		if (ev & EPOLLOUT) {
			conn_want(r, c, EPOLLIN);
			connected(r, c);
		}
		return;
	case CONN_SENDING:
		/* A server may answer (and close) before reading it all. */
		if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
			on_readable(r, c);
			if (c->state != CONN_SENDING)
				return;
		}
		if (ev & EPOLLOUT)
			write_request(r, c);
		return;
	case CONN_RECEIVING:
		on_readable(r, c);
		return;
	case CONN_IDLE:
	case CONN_LINGER:
		on_quiet_readable(r, c);
		return;
	}
}

static void on_timer(struct run *r, struct conn *c)
{
	switch (c->state) {
	case CONN_IDLE:
		if (!budget_spent(r))
			ready_push(r, c);
		return;
	case CONN_CONNECTING:
		connect_failed(r, c, ETIMEDOUT);
		return;
	case CONN_SENDING:
	case CONN_RECEIVING:
		attempt_failed(r, c, OUT_TIMEOUT);
		return;
	case CONN_LINGER:
		conn_close_fd(c);
		schedule_next(r, c, 0);
		return;
	}
}

static void run_timers(struct run *r)
{
	while (r->heap_n && r->heap[0]->timer_ns <= r->now) {
		struct conn *c = r->heap[0];

		timer_clear(r, c);
		on_timer(r, c);
	}
}

static void refill(struct run *r)
{
	uint64_t now = r->now;

	if (now > r->token_ns) {
		r->tokens +=
		    (double)(now - r->token_ns) * r->o->rate / (double)NS_PER_S;
		if (r->tokens > r->burst)
			r->tokens = r->burst;
	}
	r->token_ns = now;
}

static void dispatch(struct run *r)
{
	/* Only those queued now: a slot that fails at once waits its turn. */
	uint32_t n = r->ready_ring.len;

	while (n-- > 0 && r->ready_ring.len > 0) {
		if (budget_spent(r))
			return;
		if (r->o->have_rate) {
			refill(r);
			if (r->tokens < 1.0)
				return;
			r->tokens -= 1.0;
		}
		start_attempt(r, ready_pop(r));
	}
}

static uint64_t errors_of(const struct counters *c)
{
	uint64_t e = 0;

	for (int o = 0; o < OUT_COUNT; o++)
		if (o != OUT_RESPONSE)
			e += c->outcome[o];
	return e;
}

static void report_interval(struct run *r)
{
	const struct counters *c = &r->cur, *s = &r->snap;
	double span = (double)(r->now - r->last_report_ns) / (double)NS_PER_S;
	double t = (double)(r->now - r->start_ns) / (double)NS_PER_S;
	uint64_t responses =
	    c->outcome[OUT_RESPONSE] - s->outcome[OUT_RESPONSE];
	FILE *out = r->report_out;

	lat_sort(&r->ilat);
	fprintf(out,
		"{\"t_s\":%.3f,\"interval_s\":%.3f,\"requests\":%" PRIu64
		",\"responses\":%" PRIu64 ",\"rps\":%.1f",
		t, span, c->requests - s->requests, responses,
		span > 0 ? (double)responses / span : 0.0);
	for (int k = 1; k < STATUS_CLASSES; k++)
		fprintf(out, ",\"%dxx\":%" PRIu64, k,
			c->status_class[k] - s->status_class[k]);
	fputs(",\"tags\":{", out);
	for (uint32_t i = 0, n = 0; i <= MAX_TAGS; i++) {
		struct tag *tg = &r->tags[i];

		if (tg->count == tg->snap)
			continue;
		fputs(n++ ? "," : "", out);
		json_str(out, i == TAG_OTHER ? TAG_OTHER_NAME : tg->name);
		fprintf(out, ":%" PRIu64, tg->count - tg->snap);
		tg->snap = tg->count;
	}
	fprintf(out,
		"},\"untagged\":%" PRIu64 ",\"errors\":%" PRIu64
		",\"resets\":%" PRIu64 ",\"timeouts\":%" PRIu64
		",\"p50_ms\":%.3f,\"p99_ms\":%.3f}\n",
		c->untagged - s->untagged, errors_of(c) - errors_of(s),
		c->outcome[OUT_RESET] - s->outcome[OUT_RESET],
		c->outcome[OUT_TIMEOUT] - s->outcome[OUT_TIMEOUT],
		lat_pct_ms(&r->ilat, PCT_50), lat_pct_ms(&r->ilat, PCT_99));
	fflush(out);
	r->snap = r->cur;
	lat_reset(&r->ilat);
	r->last_report_ns = r->now;
	r->next_report_ns += r->o->report_interval_ns;
	if (r->next_report_ns <= r->now)
		r->next_report_ns = r->now + r->o->report_interval_ns;
}

static uint64_t next_deadline(struct run *r)
{
	uint64_t d = r->end_ns;

	if (r->heap_n && r->heap[0]->timer_ns < d)
		d = r->heap[0]->timer_ns;
	if (r->o->report_interval_ns && r->next_report_ns < d)
		d = r->next_report_ns;
	if (r->ready_ring.len && !budget_spent(r)) {
		if (!r->o->have_rate)
			return r->now;
		if (r->tokens < 1.0) {
			uint64_t wait =
			    (uint64_t)((1.0 - r->tokens) / r->o->rate *
				       (double)NS_PER_S);
			uint64_t at = r->now + (wait ? wait : 1);

			if (at < d)
				d = at;
		} else {
			return r->now;
		}
	}
	return d;
}

static int run_loop(struct run *r)
{
	struct epoll_event events[MAX_EVENTS];

	for (;;) {
		uint64_t deadline, wait;
		struct timespec ts;
		int n;

		r->now = now_ns();
		if (stop_signal) {
			r->end_reason = STOP_SIGNAL;
			break;
		}
		if (r->now >= r->end_ns)
			break;
		run_timers(r);
		dispatch(r);
		if (budget_spent(r) && r->active == 0) {
			r->end_reason = STOP_REQUESTS;
			break;
		}
		r->now = now_ns();
		if (r->o->report_interval_ns && r->now >= r->next_report_ns)
			report_interval(r);
		deadline = next_deadline(r);
		wait = deadline > r->now ? deadline - r->now : 0;
		ts.tv_sec = (time_t)(wait / NS_PER_S);
		ts.tv_nsec = (long)(wait % NS_PER_S);
		n = epoll_pwait2(r->epfd, events, MAX_EVENTS, &ts, &wait_mask);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fail_msg("epoll_pwait2: %s", strerror(errno));
			return -1;
		}
		for (int i = 0; i < n; i++)
			on_event(r, events[i].data.ptr, events[i].events);
	}
	r->now = now_ns();
	return 0;
}

/* ---- output --------------------------------------------------------- */

static size_t multi_tag_sources(const struct run *r)
{
	size_t n = 0;

	for (size_t i = 0; i < r->nsrc; i++)
		if (__builtin_popcountll(r->src[i].tag_mask) > 1)
			n++;
	return n;
}

static const char *src_name(const struct run *r, size_t i, char *buf,
			    size_t len)
{
	if (!r->o->n_sources)
		return UNBOUND_SOURCE_NAME;
	return source_text(r->o, r->src[i].addr, buf, len);
}

static void print_src_tags(FILE *out, const struct run *r, uint64_t mask,
			   bool json)
{
	int n = 0;

	for (uint32_t t = 0; t <= MAX_TAGS; t++) {
		const char *name =
		    t == TAG_OTHER ? TAG_OTHER_NAME : r->tags[t].name;

		if (!(mask & (1ULL << t)))
			continue;
		if (json) {
			fputs(n++ ? "," : "", out);
			json_str(out, name);
		} else {
			fprintf(out, "%s%s", n++ ? "," : "", name);
		}
	}
	if (!n && !json)
		fputs("-", out);
}

static void print_json(const struct run *r, double dur)
{
	const struct options *o = r->o;
	const struct counters *c = &r->cur;
	char buf[IPV4_TEXT_BYTES];
	FILE *out = stdout;
	size_t listed = 0;
	int n = 0;

	/* One member a line: simple tools (sed, grep) can read it too. */
	fputs("{\n", out);
	fputs("  \"target\": ", out);
	json_str(out, o->target_text);
	fputs(",\n  \"method\": ", out);
	json_str(out, o->method);
	fputs(",\n  \"path\": ", out);
	json_str(out, o->path);
	fprintf(out, ",\n  \"mode\": \"%s\",\n",
		o->mode == MODE_CLOSE ? "close" : "keepalive");
	fprintf(out, "  \"connections\": %" PRIu32 ",\n", o->connections);
	fprintf(out, "  \"stopped_by\": \"%s\",\n", stop_names[r->end_reason]);
	fprintf(out, "  \"duration_s\": %.3f,\n", dur);
	fprintf(out, "  \"attempts\": %" PRIu64 ",\n", c->attempts);
	fprintf(out, "  \"requests\": %" PRIu64 ",\n", c->requests);
	fprintf(out, "  \"responses\": %" PRIu64 ",\n",
		c->outcome[OUT_RESPONSE]);
	fprintf(out, "  \"rps\": %.1f,\n",
		dur > 0 ? (double)c->outcome[OUT_RESPONSE] / dur : 0.0);
	fputs("  \"status\": {", out);
	for (int k = 1; k < STATUS_CLASSES; k++)
		fprintf(out, "%s\"%dxx\": %" PRIu64, k > 1 ? ", " : "", k,
			c->status_class[k]);
	fputs("},\n  \"codes\": {", out);
	for (int s = STATUS_MIN; s <= STATUS_MAX; s++)
		if (r->codes[s])
			fprintf(out, "%s\"%d\": %" PRIu64, n++ ? ", " : "", s,
				r->codes[s]);
	fputs("},\n  \"tags\": {", out);
	n = 0;
	for (uint32_t t = 0; t <= MAX_TAGS; t++) {
		if (!r->tags[t].count)
			continue;
		fputs(n++ ? ", " : "", out);
		json_str(out,
			 t == TAG_OTHER ? TAG_OTHER_NAME : r->tags[t].name);
		fprintf(out, ": %" PRIu64, r->tags[t].count);
	}
	fputs("},\n", out);
	fprintf(out, "  \"untagged\": %" PRIu64 ",\n", c->untagged);
	fprintf(out,
		"  \"connect_failures\": {\"refused\": %" PRIu64
		", \"timeout\": %" PRIu64 ", \"unreachable\": %" PRIu64
		", \"other\": %" PRIu64 "},\n",
		c->outcome[OUT_REFUSED], c->outcome[OUT_CONNECT_TIMEOUT],
		c->outcome[OUT_UNREACHABLE], c->outcome[OUT_CONNECT_OTHER]);
	if (c->outcome[OUT_CONNECT_OTHER]) {
		fputs("  \"connect_error\": ", out);
		json_str(out, r->connect_error);
		fputs(",\n", out);
	}
	fprintf(out, "  \"resets\": %" PRIu64 ",\n", c->outcome[OUT_RESET]);
	fprintf(out, "  \"premature_closes\": %" PRIu64 ",\n",
		c->outcome[OUT_PREMATURE]);
	fprintf(out, "  \"timeouts\": %" PRIu64 ",\n", c->outcome[OUT_TIMEOUT]);
	fprintf(out, "  \"protocol_errors\": %" PRIu64 ",\n",
		c->outcome[OUT_PROTOCOL]);
	fprintf(out, "  \"io_errors\": %" PRIu64 ",\n", c->outcome[OUT_IO]);
	if (c->outcome[OUT_IO]) {
		fputs("  \"io_error\": ", out);
		json_str(out, r->io_error);
		fputs(",\n", out);
	}
	fprintf(out, "  \"errors\": %" PRIu64 ",\n", errors_of(c));
	fprintf(out, "  \"unfinished\": %" PRIu64 ",\n", r->active);
	fprintf(out, "  \"connections_opened\": %" PRIu64 ",\n", c->connects);
	fprintf(out, "  \"reconnects\": %" PRIu64 ",\n", c->reconnects);
	fprintf(out, "  \"idle_closes\": %" PRIu64 ",\n", c->idle_closes);
	fprintf(out, "  \"stray_data\": %" PRIu64 ",\n", c->stray);
	fprintf(out, "  \"bodies_truncated\": %" PRIu64 ",\n",
		c->body_truncated);
	fprintf(out,
		"  \"latency_ms\": {\"samples\": %" PRIu64
		", \"exact\": %s, \"mean\": %.3f, \"p50\": %.3f, \"p90\": "
		"%.3f, \"p99\": %.3f, \"max\": %.3f},\n",
		r->lat.seen, r->lat.seen == r->lat.n ? "true" : "false",
		r->lat.seen
		    ? (double)r->lat.sum_us / (double)r->lat.seen / US_PER_MS
		    : 0.0,
		lat_pct_ms(&r->lat, PCT_50), lat_pct_ms(&r->lat, PCT_90),
		lat_pct_ms(&r->lat, PCT_99), r->lat.max_us / US_PER_MS);
	fprintf(out, "  \"sources\": %zu,\n", o->n_sources);
	fprintf(out, "  \"sources_with_multiple_tags\": %zu,\n",
		multi_tag_sources(r));
	fputs("  \"multi_tag_sources\": [", out);
	for (size_t i = 0; i < r->nsrc; i++) {
		if (__builtin_popcountll(r->src[i].tag_mask) < 2)
			continue;
		if (!o->per_source && listed == MAX_LISTED_SOURCES)
			break;
		fputs(listed++ ? ", " : "", out);
		json_str(out, src_name(r, i, buf, sizeof(buf)));
	}
	fputs("]", out);
	if (o->per_source) {
		/* Not "responses": that name is the run's total above. */
		fputs(",\n  \"per_source\": [", out);
		for (size_t i = 0; i < r->nsrc; i++) {
			fputs(i ? ",\n    " : "\n    ", out);
			fputs("{\"addr\": ", out);
			json_str(out, src_name(r, i, buf, sizeof(buf)));
			fprintf(out,
				", \"answered\": %" PRIu64 ", \"tag_set\": [",
				r->src[i].responses);
			print_src_tags(out, r, r->src[i].tag_mask, true);
			fputs("]}", out);
		}
		fputs("\n  ]", out);
	}
	fputs("\n}\n", out);
}

static void print_human(const struct run *r, double dur)
{
	const struct options *o = r->o;
	const struct counters *c = &r->cur;
	char buf[IPV4_TEXT_BYTES];
	FILE *out = stdout;
	int n = 0;

	fprintf(out,
		"%s %s %s, %s, %" PRIu32
		" connections, %.3f s (stopped by %s)\n",
		o->target_text, o->method, o->path,
		o->mode == MODE_CLOSE ? "close" : "keepalive", o->connections,
		dur, stop_names[r->end_reason]);
	fprintf(out,
		"  attempts %" PRIu64 ", requests %" PRIu64
		", responses %" PRIu64 " (%.1f/s)\n",
		c->attempts, c->requests, c->outcome[OUT_RESPONSE],
		dur > 0 ? (double)c->outcome[OUT_RESPONSE] / dur : 0.0);
	fputs("  status  ", out);
	for (int k = 1; k < STATUS_CLASSES; k++)
		fprintf(out, " %dxx %" PRIu64, k, c->status_class[k]);
	fputs("\n  codes   ", out);
	for (int s = STATUS_MIN; s <= STATUS_MAX; s++)
		if (r->codes[s])
			fprintf(out, "%s %d: %" PRIu64, n++ ? "," : "", s,
				r->codes[s]);
	fputs(n ? "\n  tags    " : " -\n  tags    ", out);
	n = 0;
	for (uint32_t t = 0; t <= MAX_TAGS; t++)
		if (r->tags[t].count)
			fprintf(out, "%s %s: %" PRIu64, n++ ? "," : "",
				t == TAG_OTHER ? TAG_OTHER_NAME
					       : r->tags[t].name,
				r->tags[t].count);
	fprintf(out, "%s (untagged %" PRIu64 ", field \"%s\")\n", n ? "" : " -",
		c->untagged, o->tag_field);
	fprintf(out,
		"  connect  refused %" PRIu64 ", timeout %" PRIu64
		", unreachable %" PRIu64 ", other %" PRIu64 "%s%s%s\n",
		c->outcome[OUT_REFUSED], c->outcome[OUT_CONNECT_TIMEOUT],
		c->outcome[OUT_UNREACHABLE], c->outcome[OUT_CONNECT_OTHER],
		c->outcome[OUT_CONNECT_OTHER] ? " (" : "",
		c->outcome[OUT_CONNECT_OTHER] ? r->connect_error : "",
		c->outcome[OUT_CONNECT_OTHER] ? ")" : "");
	fprintf(out,
		"  errors   resets %" PRIu64 ", premature closes %" PRIu64
		", timeouts %" PRIu64 ", protocol %" PRIu64 ", io %" PRIu64
		"; unfinished %" PRIu64 "\n",
		c->outcome[OUT_RESET], c->outcome[OUT_PREMATURE],
		c->outcome[OUT_TIMEOUT], c->outcome[OUT_PROTOCOL],
		c->outcome[OUT_IO], r->active);
	fprintf(out,
		"  conns    opened %" PRIu64 ", reconnects %" PRIu64
		", idle closes %" PRIu64 ", stray data %" PRIu64 "\n",
		c->connects, c->reconnects, c->idle_closes, c->stray);
	fprintf(out,
		"  latency  p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, max %.3f ms "
		"(%" PRIu64 " samples%s)\n",
		lat_pct_ms(&r->lat, PCT_50), lat_pct_ms(&r->lat, PCT_90),
		lat_pct_ms(&r->lat, PCT_99), r->lat.max_us / US_PER_MS,
		r->lat.seen, r->lat.seen == r->lat.n ? "" : ", sampled");
	fprintf(out, "  sources  %zu, %zu with several tags\n", o->n_sources,
		multi_tag_sources(r));
	if (!o->per_source)
		return;
	for (size_t i = 0; i < r->nsrc; i++) {
		fprintf(out, "    %-15s %10" PRIu64 "  ",
			src_name(r, i, buf, sizeof(buf)), r->src[i].responses);
		print_src_tags(out, r, r->src[i].tag_mask, false);
		fputs(__builtin_popcountll(r->src[i].tag_mask) > 1
			  ? "  <- several tags\n"
			  : "\n",
		      out);
	}
}

/* ---- command line --------------------------------------------------- */

enum option_id {
	OPT_TARGET = 256,
	OPT_PATH,
	OPT_METHOD,
	OPT_BODY,
	OPT_HOST,
	OPT_SOURCES,
	OPT_KEEPALIVE,
	OPT_CLOSE,
	OPT_CONNECTIONS,
	OPT_INTERVAL_MS,
	OPT_RATE,
	OPT_REQUESTS,
	OPT_DURATION,
	OPT_TIMEOUT_MS,
	OPT_RETRY_DELAY_MS,
	OPT_TAG_FIELD,
	OPT_PER_SOURCE,
	OPT_JSON,
	OPT_REPORT_INTERVAL_MS,
	OPT_JSON_LINES,
};

static const struct option long_options[] = {
    {"target", required_argument, NULL, OPT_TARGET},
    {"path", required_argument, NULL, OPT_PATH},
    {"method", required_argument, NULL, OPT_METHOD},
    {"body", required_argument, NULL, OPT_BODY},
    {"host", required_argument, NULL, OPT_HOST},
    {"sources", required_argument, NULL, OPT_SOURCES},
    {"keepalive", no_argument, NULL, OPT_KEEPALIVE},
    {"close", no_argument, NULL, OPT_CLOSE},
    {"connections", required_argument, NULL, OPT_CONNECTIONS},
    {"interval-ms", required_argument, NULL, OPT_INTERVAL_MS},
    {"rate", required_argument, NULL, OPT_RATE},
    {"requests", required_argument, NULL, OPT_REQUESTS},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"timeout-ms", required_argument, NULL, OPT_TIMEOUT_MS},
    {"retry-delay-ms", required_argument, NULL, OPT_RETRY_DELAY_MS},
    {"tag-field", required_argument, NULL, OPT_TAG_FIELD},
    {"per-source-report", no_argument, NULL, OPT_PER_SOURCE},
    {"json", no_argument, NULL, OPT_JSON},
    {"report-interval-ms", required_argument, NULL, OPT_REPORT_INTERVAL_MS},
    {"json-lines", no_argument, NULL, OPT_JSON_LINES},
    {NULL, 0, NULL, 0},
};

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "Usage: " PROGRAM_NAME
	    " --target IP:PORT (--requests N | --duration S) [options]\n"
	    "\n"
	    "HTTP/1.1 load against IP:PORT (a kanary VIP), counting answers\n"
	    "by status and by the tag their JSON body carries.\n"
	    "\n"
	    "What to send:\n"
	    "  --target IP:PORT         where (required; IPv6 as\n"
	    "                           [2001:2::1]:80)\n"
	    "  --path PATH              request path (default /)\n"
	    "  --method GET|POST        default GET, or POST with --body\n"
	    "  --body STRING            POST body, sent as application/json\n"
	    "  --host NAME              Host header (default: the target)\n"
	    "Connections:\n"
	    "  --sources LIST           bind connections to these local\n"
	    "                           addresses, round-robin; items are\n"
	    "                           A.B.C.D, A.B.C.D-A.B.C.E or A.B.C.D/N\n"
	    "                           (host addresses), or IPv6 X or X-Y\n"
	    "                           (the same first 96 bits),\n"
	    "                           comma-separated,\n"
	    "                           at most %d; default: no bind\n"
	    "  --keepalive              N persistent connections (default);\n"
	    "                           each keeps its source address\n"
	    "  --close                  a new connection per request, at\n"
	    "                           most N at once (Connection: close)\n"
	    "  --connections N          N (default %d, at most %d)\n"
	    "Pacing and limits (--requests and/or --duration required):\n"
	    "  --requests N             stop after N attempts\n"
	    "  --duration S             stop after S seconds (at most %d,\n"
	    "                           also the limit without it)\n"
	    "  --interval-ms M          a connection starts a request every\n"
	    "                           M ms (default: back to back)\n"
	    "  --rate RPS               at most RPS requests/s in all\n"
	    "  --timeout-ms T           per request, from its start (with\n"
	    "                           connect when it needs one); default "
	    "%d\n"
	    "  --retry-delay-ms D       wait after a failed connect\n"
	    "                           (default %d)\n"
	    "Output:\n"
	    "  --tag-field NAME         string member of the JSON answer that\n"
	    "                           is counted (default \"%s\")\n"
	    "  --per-source-report      tags seen per source address; a\n"
	    "                           source with several is flagged\n"
	    "  --json                   one JSON object at the end\n"
	    "  --report-interval-ms M   a JSON line every M ms, on stderr\n"
	    "  --json-lines             ... on stdout instead\n"
	    "  -h, --help               this help\n"
	    "\n"
	    "Latency counts from the start of an attempt (connect included\n"
	    "when it needs one) to the last byte of the answer; quantiles are\n"
	    "exact up to %u samples. SIGINT/SIGTERM stop the run early and\n"
	    "print the summary.\n"
	    "Exit status: 0 the run happened (HTTP errors, refused or reset\n"
	    "connections are counted, not fatal); 1 it could not run (e.g. a\n"
	    "source address that is not local); 2 bad usage.\n",
	    MAX_SOURCES, DEFAULT_CONNECTIONS, MAX_CONNECTIONS, MAX_DURATION_S,
	    DEFAULT_TIMEOUT_MS, DEFAULT_RETRY_DELAY_MS, DEFAULT_TAG_FIELD,
	    LAT_EXACT_SAMPLES);
}

static bool ipv4_of(const char *text, size_t len, uint32_t *host_order)
{
	char buf[IPV4_TEXT_BYTES];
	struct in_addr a;

	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, text, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, &a) != 1)
		return false;
	*host_order = ntohl(a.s_addr);
	return true;
}

static bool ipv6_of(const char *text, size_t len, struct in6_addr *out)
{
	char buf[INET6_ADDRSTRLEN];

	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, text, len);
	buf[len] = '\0';
	return inet_pton(AF_INET6, buf, out) == 1;
}

static int parse_target(const struct opts_parser *cli, const char *text,
			struct options *o)
{
	static const char want[] =
	    "want IP:PORT, an IPv4 address or an IPv6 one in brackets "
	    "([2001:2::1]:80) and a port from 1 to 65535";
	const char *colon = strrchr(text, ':');
	struct in6_addr ip6 = IN6ADDR_ANY_INIT;
	uint64_t port;
	uint32_t ip = 0;
	char *end;
	bool v6 = text[0] == '[';

	if (!colon || colon[1] < '0' || colon[1] > '9')
		return opts_bad_value(cli, OPT_TARGET, text, want);
	if (v6 ? colon < text + 2 || colon[-1] != ']' ||
		     !ipv6_of(text + 1, (size_t)(colon - text - 2), &ip6)
	       : !ipv4_of(text, (size_t)(colon - text), &ip))
		return opts_bad_value(cli, OPT_TARGET, text, want);
	errno = 0;
	port = strtoull(colon + 1, &end, 10);
	if (errno || *end || port == 0 || port > UINT16_MAX)
		return opts_bad_value(cli, OPT_TARGET, text, want);
	memset(&o->target, 0, sizeof(o->target));
	if (v6) {
		struct sockaddr_in6 *t = (struct sockaddr_in6 *)&o->target;

		t->sin6_family = AF_INET6;
		t->sin6_addr = ip6;
		t->sin6_port = htons((uint16_t)port);
		o->target_len = sizeof(*t);
		o->family = AF_INET6;
	} else {
		struct sockaddr_in *t = (struct sockaddr_in *)&o->target;

		t->sin_family = AF_INET;
		t->sin_addr.s_addr = htonl(ip);
		t->sin_port = htons((uint16_t)port);
		o->target_len = sizeof(*t);
		o->family = AF_INET;
	}
	o->target_text = text;
	return 0;
}

/* One IPv6 source item, "X" or "X-Y" (X and Y differing in their last 32
 * bits only): its first and last low words, host order. */
static bool ipv6_source_range(struct options *o, const char *p, size_t len,
			      bool first_item, uint64_t *first, uint64_t *last)
{
	const char *dash = memchr(p, '-', len);
	struct in6_addr a, b;

	if (dash ? !ipv6_of(p, (size_t)(dash - p), &a) ||
		       !ipv6_of(dash + 1, len - (size_t)(dash - p) - 1, &b)
		 : !ipv6_of(p, len, &a))
		return false;
	if (!dash)
		b = a;
	if (memcmp(&a, &b, 12))
		return false;
	if (!first_item && memcmp(&a, &o->src_prefix, 12))
		return false;
	o->src_prefix = a;
	memset(&o->src_prefix.s6_addr[12], 0, 4);
	*first = ((uint32_t)a.s6_addr[12] << 24) | (a.s6_addr[13] << 16) |
		 (a.s6_addr[14] << 8) | a.s6_addr[15];
	*last = ((uint32_t)b.s6_addr[12] << 24) | (b.s6_addr[13] << 16) |
		(b.s6_addr[14] << 8) | b.s6_addr[15];
	return *first <= *last;
}

/* "A.B.C.D", "A.B.C.D-A.B.C.E" or "A.B.C.D/N", comma-separated. */
static int parse_sources(const struct opts_parser *cli, const char *list,
			 struct options *o)
{
	static const char want[] =
	    "want comma-separated A.B.C.D, A.B.C.D-A.B.C.E or A.B.C.D/N, or "
	    "IPv6 X or X-Y sharing their first 96 bits";
	uint32_t *addrs = xcalloc(MAX_SOURCES, sizeof(*addrs)), *sorted;
	const char *p = list;
	size_t n = 0;

	for (;;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *dash = memchr(p, '-', len);
		const char *slash = memchr(p, '/', len);
		uint64_t first, last;
		uint32_t a, b;
		bool v6 = memchr(p, ':', len) != NULL;

		if (o->sources_family &&
		    o->sources_family != (v6 ? AF_INET6 : AF_INET))
			goto bad; /* one family for all */
		o->sources_family = v6 ? AF_INET6 : AF_INET;
		if (v6) {
			if (!ipv6_source_range(o, p, len, p == list, &first,
					       &last))
				goto bad;
		} else if (dash) {
			if (!ipv4_of(p, (size_t)(dash - p), &a) ||
			    !ipv4_of(dash + 1, len - (size_t)(dash - p) - 1,
				     &b) ||
			    b < a)
				goto bad;
			first = a;
			last = b;
		} else if (slash) {
			uint64_t bits = 0;
			size_t blen = len - (size_t)(slash - p) - 1;
			uint64_t size;

			if (!ipv4_of(p, (size_t)(slash - p), &a) || blen == 0 ||
			    blen > 2)
				goto bad;
			for (size_t i = 0; i < blen; i++) {
				char ch = slash[1 + i];

				if (ch < '0' || ch > '9')
					goto bad;
				bits = bits * 10 + (uint64_t)(ch - '0');
			}
			if (bits > IPV4_BITS)
				goto bad;
			size = 1ULL << (IPV4_BITS - bits);
			first = a & ~(uint32_t)(size - 1);
			last = first + size - 1;
			if (bits <= CIDR_HOSTS_FROM_BITS) {
				first++;
				last--;
			}
		} else {
			if (!ipv4_of(p, len, &a))
				goto bad;
			first = last = a;
		}
		if (last - first + 1 > MAX_SOURCES - n) {
			char what[64];

			snprintf(what, sizeof(what),
				 "more than %d addresses in all", MAX_SOURCES);
			free(addrs);
			return opts_bad_value(cli, OPT_SOURCES, list, what);
		}
		for (uint64_t x = first; x <= last; x++)
			addrs[n++] = htonl((uint32_t)x);
		if (!end)
			break;
		p = end + 1;
	}
	/* A duplicate would merge two sources' counts into one. */
	sorted = xcalloc(n, sizeof(*sorted));
	memcpy(sorted, addrs, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_u32);
	for (size_t i = 1; i < n; i++) {
		if (sorted[i] == sorted[i - 1]) {
			char buf[IPV4_TEXT_BYTES], what[64];

			snprintf(what, sizeof(what), "%s is listed twice",
				 source_text(o, sorted[i], buf, sizeof(buf)));
			free(sorted);
			free(addrs);
			return opts_bad_value(cli, OPT_SOURCES, list, what);
		}
	}
	free(sorted);
	free(o->sources);
	o->sources = addrs;
	o->n_sources = n;
	return 0;
bad:
	free(addrs);
	return opts_bad_value(cli, OPT_SOURCES, list, want);
}

static bool has_ctl_or_space(const char *s, bool space_ok)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f ||
		    (!space_ok && *s == ' '))
			return true;
	return false;
}

static int parse_option(const struct opts_parser *cli, int id, const char *arg)
{
	struct options *o = cli->ctx;
	uint64_t v;

	switch (id) {
	case OPT_TARGET:
		return parse_target(cli, arg, o);
	case OPT_PATH:
		if (arg[0] != '/' || strlen(arg) > MAX_PATH_BYTES ||
		    has_ctl_or_space(arg, false))
			return opts_bad_value(cli, id, arg,
					      "want /PATH without spaces or "
					      "control characters");
		o->path = arg;
		return 0;
	case OPT_METHOD:
		if (strcmp(arg, "GET") && strcmp(arg, "POST"))
			return opts_bad_value(cli, id, arg, "want GET or POST");
		o->method = arg;
		return 0;
	case OPT_BODY:
		if (strlen(arg) > MAX_BODY_ARG_BYTES)
			return opts_bad_value(cli, id, "...",
					      "longer than 1 MiB");
		o->body = arg;
		return 0;
	case OPT_HOST:
		if (!arg[0] || strlen(arg) > MAX_HOST_BYTES ||
		    has_ctl_or_space(arg, false))
			return opts_bad_value(cli, id, arg,
					      "want a name without spaces or "
					      "control characters");
		o->host = arg;
		return 0;
	case OPT_SOURCES:
		return parse_sources(cli, arg, o);
	case OPT_KEEPALIVE:
		o->mode = MODE_KEEPALIVE;
		return 0;
	case OPT_CLOSE:
		o->mode = MODE_CLOSE;
		return 0;
	case OPT_CONNECTIONS:
		if (opts_parse_u64(cli, id, arg, 1, MAX_CONNECTIONS, &v))
			return -1;
		o->connections = (uint32_t)v;
		return 0;
	case OPT_INTERVAL_MS:
		if (opts_parse_u64(cli, id, arg, 0, MAX_INTERVAL_MS, &v))
			return -1;
		o->interval_ns = v * NS_PER_MS;
		return 0;
	case OPT_RATE:
		if (opts_parse_double(cli, id, arg, 0, true, MAX_RATE_RPS,
				      "want requests per second, more than 0 "
				      "and at most 10000000",
				      &o->rate))
			return -1;
		o->have_rate = true;
		return 0;
	case OPT_REQUESTS:
		if (opts_parse_u64(cli, id, arg, 1, MAX_REQUESTS,
				   &o->max_requests))
			return -1;
		o->have_requests = true;
		return 0;
	case OPT_DURATION: {
		double x;

		if (opts_parse_double(cli, id, arg, 0, true, MAX_DURATION_S,
				      "want seconds, more than 0 and at most "
				      "3600",
				      &x))
			return -1;
		o->duration_ns = (uint64_t)(x * (double)NS_PER_S);
		o->have_duration = true;
		return 0;
	}
	case OPT_TIMEOUT_MS:
		if (opts_parse_u64(cli, id, arg, 1, MAX_TIMEOUT_MS, &v))
			return -1;
		o->timeout_ns = v * NS_PER_MS;
		return 0;
	case OPT_RETRY_DELAY_MS:
		if (opts_parse_u64(cli, id, arg, 0, MAX_RETRY_DELAY_MS, &v))
			return -1;
		o->retry_delay_ns = v * NS_PER_MS;
		return 0;
	case OPT_TAG_FIELD:
		if (!arg[0] || strlen(arg) >= MAX_TAG_FIELD_BYTES)
			return opts_bad_value(
			    cli, id, arg, "want a member name, 1 to 127 bytes");
		o->tag_field = arg;
		return 0;
	case OPT_PER_SOURCE:
		o->per_source = true;
		return 0;
	case OPT_JSON:
		o->json = true;
		return 0;
	case OPT_REPORT_INTERVAL_MS:
		if (opts_parse_u64(cli, id, arg, MIN_REPORT_INTERVAL_MS,
				   MAX_REPORT_INTERVAL_MS, &v))
			return -1;
		o->report_interval_ns = v * NS_PER_MS;
		return 0;
	case OPT_JSON_LINES:
		o->json_lines = true;
		return 0;
	default:
		return -1;
	}
}

/* Returns OPTS_RUN, OPTS_HELP, or -EINVAL after saying what is wrong. */
static int parse_args(int argc, char **argv, struct options *o)
{
	const struct opts_parser cli =
	    OPTS_PARSER(PROGRAM_NAME, long_options, parse_option, usage, o);
	int ret;

	memset(o, 0, sizeof(*o));
	o->path = "/";
	o->tag_field = DEFAULT_TAG_FIELD;
	o->connections = DEFAULT_CONNECTIONS;
	o->timeout_ns = DEFAULT_TIMEOUT_MS * NS_PER_MS;
	o->retry_delay_ns = DEFAULT_RETRY_DELAY_MS * NS_PER_MS;

	ret = opts_parse(&cli, argc, argv);
	if (ret)
		return ret;
	if (!o->target_text)
		return opts_error(&cli,
				  "missing --target IP:PORT (where to send)");
	if (o->n_sources && o->sources_family != o->family)
		return opts_error(&cli,
				  "--sources are %s but --target is %s: one "
				  "family for both",
				  o->sources_family == AF_INET6 ? "IPv6"
								: "IPv4",
				  o->family == AF_INET6 ? "IPv6" : "IPv4");
	if (!o->have_requests && !o->have_duration)
		return opts_error(&cli,
				  "missing --requests N or --duration SECONDS "
				  "(when to stop)");
	if (!o->method)
		o->method = o->body ? "POST" : "GET";
	if (o->body && strcmp(o->method, "POST") != 0)
		return opts_error(
		    &cli, "--body needs --method POST (got --method %s)",
		    o->method);
	if (o->json_lines && !o->report_interval_ns)
		return opts_error(&cli,
				  "--json-lines needs --report-interval-ms M");
	return OPTS_RUN;
}

/* ---- setup ---------------------------------------------------------- */

static int build_request(struct run *r)
{
	const struct options *o = r->o;
	char host[MAX_HOST_BYTES + 1];
	size_t body_len = o->body ? strlen(o->body) : 0;
	char *req = NULL;
	size_t len = 0;
	FILE *f;

	if (o->host) {
		snprintf(host, sizeof(host), "%s", o->host);
	} else {
		char ip[IPV4_TEXT_BYTES + 2];
		uint16_t port;

		if (o->family == AF_INET6) {
			const struct sockaddr_in6 *t =
			    (const struct sockaddr_in6 *)&o->target;
			char bare[IPV4_TEXT_BYTES];

			inet_ntop(AF_INET6, &t->sin6_addr, bare, sizeof(bare));
			snprintf(ip, sizeof(ip), "[%s]", bare);
			port = ntohs(t->sin6_port);
		} else {
			const struct sockaddr_in *t =
			    (const struct sockaddr_in *)&o->target;

			ipv4_text(t->sin_addr.s_addr, ip, sizeof(ip));
			port = ntohs(t->sin_port);
		}
		if (port == HTTP_DEFAULT_PORT)
			snprintf(host, sizeof(host), "%s", ip);
		else
			snprintf(host, sizeof(host), "%s:%u", ip, port);
	}
	f = open_memstream(&req, &len);
	if (!f)
		return -1;
	fprintf(f,
		"%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: " PROGRAM_NAME
		"\r\nAccept: */*\r\n",
		o->method, o->path, host);
	if (o->mode == MODE_CLOSE)
		fputs("Connection: close\r\n", f);
	if (o->body)
		fputs("Content-Type: application/json\r\n", f);
	if (strcmp(o->method, "POST") == 0)
		fprintf(f, "Content-Length: %zu\r\n", body_len);
	fputs("\r\n", f);
	if (body_len)
		fwrite(o->body, 1, body_len, f);
	if (fclose(f) != 0)
		return -1;
	r->req = req;
	r->req_len = len;
	return 0;
}

/* Every source must be an address of this host: say which is not. */
static int check_sources(const struct options *o)
{
	const int one = 1;

	for (size_t i = 0; i < o->n_sources; i++) {
		struct sockaddr_storage sa;
		socklen_t sa_len = source_sockaddr(o, i, &sa);
		char buf[IPV4_TEXT_BYTES];
		int fd = socket(o->family, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0) {
			fail_msg("socket: %s", strerror(errno));
			return -1;
		}
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
			   sizeof(one));
		if (bind(fd, (struct sockaddr *)&sa, sa_len) < 0) {
			fail_msg(
			    "source address %s (from --sources) cannot be "
			    "used: %s%s",
			    source_text(o, o->sources[i], buf, sizeof(buf)),
			    strerror(errno),
			    errno == EADDRNOTAVAIL
				? " (it is not an address of this host)"
				: "");
			close(fd);
			return -1;
		}
		close(fd);
	}
	return 0;
}

static int raise_fd_limit(uint32_t conns)
{
	rlim_t need = (rlim_t)conns + FD_HEADROOM;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	if (rl.rlim_cur >= need)
		return 0;
	if (rl.rlim_max < need)
		rl.rlim_max = need; /* root may raise it */
	rl.rlim_cur = need;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		fail_msg("--connections %" PRIu32 " needs %llu open files; "
			 "the limit is lower and cannot be raised: %s",
			 conns, (unsigned long long)need, strerror(errno));
		return -1;
	}
	return 0;
}

static int setup(struct run *r, const struct options *o)
{

	memset(r, 0, sizeof(*r));
	r->o = o;
	r->epfd = -1;
	if (build_request(r) < 0) {
		fail_msg("building the request: %s", strerror(errno));
		return -1;
	}
	if (check_sources(o) < 0 || raise_fd_limit(o->connections) < 0)
		return -1;
	r->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (r->epfd < 0) {
		fail_msg("epoll_create1: %s", strerror(errno));
		return -1;
	}
	r->nconn = o->connections;
	r->conns = xcalloc(r->nconn, sizeof(*r->conns));
	for (uint32_t i = 0; i < r->nconn; i++) {
		buf_init(&r->conns[i].in, IN_MAX_BYTES);
		buf_init(&r->conns[i].body, MAX_BODY_KEEP_BYTES);
	}
	r->heap = xcalloc(r->nconn, sizeof(*r->heap));
	r->ready = xcalloc(r->nconn, sizeof(*r->ready));
	ring_init(&r->ready_ring, r->nconn);
	r->nsrc = o->n_sources ? o->n_sources : 1;
	r->src = xcalloc(r->nsrc, sizeof(*r->src));
	for (size_t i = 0; i < o->n_sources; i++)
		r->src[i].addr = o->sources[i];
	r->lat.limit = LAT_EXACT_SAMPLES;
	r->ilat.limit = LAT_INTERVAL_SAMPLES;
	r->rng = now_ns() | 1;
	r->report_out = o->json_lines ? stdout : stderr;

	tool_catch_stop_signals();
	signal(SIGPIPE, SIG_IGN);

	r->start_ns = now_ns();
	r->end_reason = o->have_duration ? STOP_DURATION : STOP_CAP;
	r->end_ns =
	    r->start_ns +
	    (o->have_duration ? o->duration_ns : MAX_DURATION_S * NS_PER_S);
	r->last_report_ns = r->start_ns;
	r->next_report_ns = r->start_ns + o->report_interval_ns;
	if (o->have_rate) {
		r->burst = o->rate * (double)RATE_BURST_NS / (double)NS_PER_S;
		if (r->burst < 1.0)
			r->burst = 1.0;
		r->tokens = 1.0;
		r->token_ns = r->start_ns;
	}
	for (uint32_t i = 0; i < r->nconn; i++) {
		struct conn *c = &r->conns[i];

		c->fd = -1;
		c->heap_idx = -1;
		c->state = CONN_IDLE;
		ready_push(r, c);
	}
	return 0;
}

static void teardown(struct run *r)
{
	for (uint32_t i = 0; i < r->nconn; i++) {
		conn_close_fd(&r->conns[i]);
		buf_free(&r->conns[i].in);
		buf_free(&r->conns[i].body);
	}
	if (r->epfd >= 0)
		close(r->epfd);
	free(r->conns);
	free(r->heap);
	free(r->ready);
	free(r->src);
	free(r->lat.v);
	free(r->ilat.v);
	free(r->req);
}

int main(int argc, char **argv)
{
	struct options o;
	struct run r;
	double dur;
	int ret;

	ret = parse_args(argc, argv, &o);
	if (ret) {
		free(o.sources);
		return ret == OPTS_HELP ? EXIT_RAN : OPTS_EXIT_USAGE;
	}
	if (setup(&r, &o) < 0 || run_loop(&r) < 0) {
		teardown(&r);
		free(o.sources);
		return EXIT_SETUP;
	}
	/* The last, shorter interval too: the lines add up to the total. */
	if (o.report_interval_ns && r.now > r.last_report_ns)
		report_interval(&r);
	dur = (double)(r.now - r.start_ns) / (double)NS_PER_S;
	lat_sort(&r.lat);
	if (o.json)
		print_json(&r, dur);
	else
		print_human(&r, dur);
	teardown(&r);
	free(o.sources);
	return EXIT_RAN;
}
