// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * test_http_strict.c - kanaryd's strict HTTP reading (kanaryd/http_strict.c):
 * request heads (complete, incomplete, refused with which status and field),
 * paths (every escape that could name another path is refused) and Host
 * values (user info, ports, IPv6 literals, loopback names).
 */
#include "unit.h"

#include <errno.h>

#include "kanaryd/http_strict.h"

#define HEAD_MAX_BYTES 8192
#define OK_HEAD	       "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

struct head_case {
	const char *what;
	const char *head;
	unsigned int status; /* 0: accepted */
	const char *field;
};

static const struct head_case head_cases[] = {
    {"a plain GET", OK_HEAD, 0, NULL},
    {"HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n", 0, NULL},
    {"empty lines before the request line",
     "\r\n\r\nGET / HTTP/1.1\r\nHost: localhost\r\n\r\n", 0, NULL},
    {"a body after the head",
     "PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}", 0, NULL},
    {"chunked",
     "PUT /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n", 0,
     NULL},
    {"HTTP/1.1 without Host", "GET / HTTP/1.1\r\n\r\n", 400, "Host"},
    {"an empty Host", "GET / HTTP/1.1\r\nHost:\r\n\r\n", 400, "Host"},
    {"Host twice",
     "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nhost: evil.example\r\n\r\n", 400,
     "Host"},
    {"Host with user info",
     "GET / HTTP/1.1\r\nHost: 127.0.0.1:80@evil.example\r\n\r\n", 400, "Host"},
    {"Content-Length twice, disagreeing",
     "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: "
     "6\r\n\r\n",
     400, "Content-Length"},
    {"Content-Length twice, agreeing",
     "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: "
     "5\r\n\r\n",
     400, "Content-Length"},
    {"Content-Length -5",
     "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: -5\r\n\r\n", 400,
     "Content-Length"},
    {"Content-Length beyond 64 bits",
     "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: "
     "99999999999999999999\r\n\r\n",
     413, "Content-Length"},
    {"an empty Content-Length",
     "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400,
     "Content-Length"},
    {"Content-Length and Transfer-Encoding",
     "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: "
     "chunked\r\n\r\n",
     400, "Content-Length"},
    {"Transfer-Encoding gzip",
     "PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
     400, "Transfer-Encoding"},
    {"Authorization twice",
     "POST / HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer x\r\nAuthorization: "
     "Bearer y\r\n\r\n",
     400, "Authorization"},
    {"Origin twice",
     "POST / HTTP/1.1\r\nHost: a\r\nOrigin: http://a\r\nOrigin: "
     "http://b\r\n\r\n",
     400, "Origin"},
    {"Content-Type twice",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Type: a/b\r\nContent-Type: "
     "c/d\r\n\r\n",
     400, "Content-Type"},
    {"a bare LF", "GET / HTTP/1.1\nHost: a\n\n", 400, ""},
    {"a bare CR", "GET / HTTP/1.1\rHost: a\r\n\r\n", 400, ""},
    {"a folded header", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n",
     400, ""},
    {"white space before a colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400,
     "Host"},
    {"a header line without colon",
     "GET / HTTP/1.1\r\nHost: a\r\nnonsense\r\n\r\n", 400, "nonsense"},
    {"a control byte in a value",
     "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x01\r\n\r\n", 400, "X-A"},
    {"a space in the path", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400,
     "version"},
    {"a raw 0xFF in the path",
     "GET /api/v1/services/\xff HTTP/1.1\r\nHost: a\r\n\r\n", 400, "path"},
    {"an absolute target", "GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400,
     "path"},
    {"no version", "GET /\r\n\r\n", 400, "path"},
    {"a lower-case version", "GET / http/1.1\r\nHost: a\r\n\r\n", 400,
     "version"},
    {"HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 400, "version"},
    {"a method that is not a token", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400,
     "method"},
    {"two spaces after the method", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400,
     "path"},
};

static void test_heads(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(head_cases) / sizeof(head_cases[0]); i++) {
		const struct head_case *c = &head_cases[i];
		struct http_error err = {0};
		ssize_t ret = http_head_check(c->head, strlen(c->head),
					      HEAD_MAX_BYTES, NULL, &err);

		print_message("# %s\n", c->what);
		if (!c->status) {
			assert_true(ret > 0);
			continue;
		}
		assert_true(ret < 0);
		assert_int_equal(err.status, c->status);
		assert_string_equal(err.field, c->field);
		assert_true(strlen(err.message) > 0);
	}
}

/* The head's length excludes the body; any prefix is "not yet". */
static void test_head_lengths(void **state)
{
	const char *with_body =
	    "PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}";
	struct http_error err;
	size_t n;

	(void)state;
	assert_int_equal(http_head_check(with_body, strlen(with_body),
					 HEAD_MAX_BYTES, NULL, &err),
			 (ssize_t)(strlen(with_body) - 2));
	for (n = 0; n < strlen(OK_HEAD); n++)
		assert_int_equal(
		    http_head_check(OK_HEAD, n, HEAD_MAX_BYTES, NULL, &err), 0);
	/* A wrong line is refused as soon as it is whole. */
	assert_int_equal(
	    http_head_check("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n", 35,
			    HEAD_MAX_BYTES, NULL, &err),
	    -EINVAL);
}

static void test_head_too_long(void **state)
{
	char head[HEAD_MAX_BYTES + 64];
	struct http_error err = {0};

	(void)state;
	snprintf(head, sizeof(head), "GET / HTTP/1.1\r\nHost: a\r\nX-Long: ");
	memset(head + strlen(head), 'x', sizeof(head) - strlen(head) - 1);
	head[sizeof(head) - 1] = '\0';
	assert_int_equal(
	    http_head_check(head, strlen(head), HEAD_MAX_BYTES, NULL, &err),
	    -EMSGSIZE);
	assert_int_equal(err.status, 431);
	/* One byte less than the limit is still "not yet". */
	assert_int_equal(http_head_check(head, HEAD_MAX_BYTES - 1,
					 HEAD_MAX_BYTES, NULL, &err),
			 0);
}

#define BODY_MAX_BYTES 16
#define SENT_MAX_BYTES 64

struct chunked_case {
	const char *what;
	const char *body;
	int result; /* > 0: the length as sent; 0: not complete; < 0: errno */
	unsigned int status;
};

static const struct chunked_case chunked_cases[] = {
    {"two chunks", "2\r\n{}\r\n1;ext=1\r\n \r\n0\r\n\r\nNEXT", 24, 0},
    {"upper-case hex, 16 bytes", "A\r\n0123456789\r\n6\r\nabcdef\r\n0\r\n\r\n",
     31, 0},
    {"only the last chunk", "0\r\n\r\n", 5, 0},
    {"not complete: in a chunk", "5\r\nab", 0, 0},
    {"not complete: no last chunk", "2\r\n{}\r\n", 0, 0},
    {"not complete: no final CRLF", "0\r\n", 0, 0},
    {"a size that is not hex", "zz\r\n{}\r\n0\r\n\r\n", -EINVAL, 400},
    {"no size", "\r\n{}\r\n0\r\n\r\n", -EINVAL, 400},
    {"a space after the size", "2 \r\n{}\r\n0\r\n\r\n", -EINVAL, 400},
    {"17 hex digits", "00000000000000002\r\n{}\r\n0\r\n\r\n", -EINVAL, 400},
    {"a bare LF after the size", "2\n{}\r\n0\r\n\r\n", -EINVAL, 400},
    {"data longer than its size", "1\r\n{}\r\n0\r\n\r\n", -EINVAL, 400},
    {"a trailer field", "0\r\nX-T: 1\r\n\r\n", -EINVAL, 400},
    {"a control byte in an extension", "1;\x01\r\n \r\n0\r\n\r\n", -EINVAL,
     400},
    {"more than the body limit", "11\r\n", -EFBIG, 413},
    {"a huge size", "ffffffffffffffff\r\n", -EFBIG, 413},
    {"framing beyond the sent limit",
     "1;aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
     -EFBIG, 413},
};

static void test_chunked(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(chunked_cases) / sizeof(chunked_cases[0]); i++) {
		const struct chunked_case *c = &chunked_cases[i];
		struct http_error err = {0};

		print_message("# %s\n", c->what);
		assert_int_equal(http_chunked_check(c->body, strlen(c->body),
						    BODY_MAX_BYTES,
						    SENT_MAX_BYTES, &err),
				 c->result);
		if (c->result < 0)
			assert_int_equal(err.status, c->status);
	}
}

/* A refusal of a HEAD request is answered without a body. */
static void test_head_method(void **state)
{
	struct http_error err = {0};
	struct http_head_info info;
	const char *head = "HEAD / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n";
	const char *chunked =
	    "PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";

	(void)state;
	assert_int_equal(
	    http_head_check(head, strlen(head), HEAD_MAX_BYTES, &info, &err),
	    -EINVAL);
	assert_true(err.head_request);
	assert_true(http_head_check(chunked, strlen(chunked), HEAD_MAX_BYTES,
				    &info, &err) > 0);
	assert_true(info.chunked);
	assert_false(err.head_request);
}

struct path_case {
	const char *raw;
	const char *decoded; /* NULL: refused with 400 "path" */
};

static const struct path_case path_cases[] = {
    {"/", "/"},
    {"/api/v1/services/demo", "/api/v1/services/demo"},
    {"/api/v1/services/d%C3%A9mo", "/api/v1/services/d\xc3\xa9mo"},
    {"/a%20b", "/a b"},
    {"/a..b/.c", "/a..b/.c"},
    {"/api/v1/services/demo/abort%00anything", NULL},
    {"/api/v1/services/demo/rollout%00/../../x", NULL},
    {"/api/v1/services/demo%2Fpause", NULL},
    {"/api/v1/services/demo%2fpause", NULL},
    {"/api/v1/services/%FF", NULL},
    {"/api/v1/services/%C3", NULL},
    {"/api/v1/services/%C0%AF", NULL},	     /* overlong '/' */
    {"/api/v1/services/%ED%A0%80", NULL},    /* a surrogate */
    {"/api/v1/services/%F4%90%80%80", NULL}, /* beyond U+10FFFF */
    {"/api/v1/services/./demo", NULL},
    {"/api/v1/services/../x", NULL},
    {"/api/v1/services/%2e%2E/x", NULL},
    {"/api/v1/services/demo/.", NULL},
    {"/api/v1/services/demo/..", NULL},
    {"/a%0Ab", NULL},
    {"/a%7f", NULL},
    {"/a%", NULL},
    {"/a%4", NULL},
    {"/a%G0", NULL},
    {"/a b", NULL},
    {"/a\xff", NULL},
    {"a", NULL},
};

static void test_paths(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(path_cases) / sizeof(path_cases[0]); i++) {
		const struct path_case *c = &path_cases[i];
		char out[128];
		struct http_error err = {0};
		int ret = http_path_decode(c->raw, out, sizeof(out), &err);

		print_message("# %s\n", c->raw);
		if (c->decoded) {
			assert_int_equal(ret, 0);
			assert_string_equal(out, c->decoded);
		} else {
			assert_int_equal(ret, -EINVAL);
			assert_int_equal(err.status, 400);
			assert_string_equal(err.field, "path");
		}
	}
}

struct host_case {
	const char *value;
	int ok;
	const char *name;
	int port; /* -1: none */
	int loopback;
};

static const struct host_case host_cases[] = {
    {"127.0.0.1", 1, "127.0.0.1", -1, 1},
    {"127.0.0.1:9090", 1, "127.0.0.1", 9090, 1},
    {"127.8.9.10:1", 1, "127.8.9.10", 1, 1},
    {"LocalHost:9090", 1, "localhost", 9090, 1},
    {"[::1]:9090", 1, "[::1]", 9090, 1},
    {"[::1]", 1, "[::1]", -1, 1},
    {"[2001:2::A]:80", 1, "[2001:2::a]", 80, 0},
    {"198.18.0.1", 1, "198.18.0.1", -1, 0},
    {"kanary.example", 1, "kanary.example", -1, 0},
    {"localhost.evil.example", 1, "localhost.evil.example", -1, 0},
    {"127.0.0.1.evil.example", 1, "127.0.0.1.evil.example", -1, 0},
    {"127.0.0.1:65535", 1, "127.0.0.1", 65535, 1},
    {"", 0, NULL, 0, 0},
    {"127.0.0.1:9090@evil.example", 0, NULL, 0, 0},
    {"evil.example@127.0.0.1", 0, NULL, 0, 0},
    {"127.0.0.1:", 0, NULL, 0, 0},
    {"127.0.0.1:65536", 0, NULL, 0, 0},
    {"127.0.0.1:123456", 0, NULL, 0, 0},
    {"127.0.0.1:80:80", 0, NULL, 0, 0},
    {"127.1", 0, NULL, 0, 0},
    {"127.0.0.256", 0, NULL, 0, 0},
    {"127.0.0.1%2f", 0, NULL, 0, 0},
    {"127.0.0.1 ", 0, NULL, 0, 0},
    {"[::1", 0, NULL, 0, 0},
    {"[]", 0, NULL, 0, 0},
    {"[::1]x", 0, NULL, 0, 0},
    {"[::1%25lo]", 0, NULL, 0, 0},
    {"[127.0.0.1]", 0, NULL, 0, 0},
};

static void test_hosts(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(host_cases) / sizeof(host_cases[0]); i++) {
		const struct host_case *c = &host_cases[i];
		struct http_host host;
		struct http_error err = {0};
		int ret =
		    http_host_parse(c->value, strlen(c->value), &host, &err);

		print_message("# Host: '%s'\n", c->value);
		if (!c->ok) {
			assert_int_equal(ret, -EINVAL);
			assert_int_equal(err.status, 400);
			assert_string_equal(err.field, "Host");
			continue;
		}
		assert_int_equal(ret, 0);
		assert_string_equal(host.name, c->name);
		assert_int_equal(host.has_port, c->port >= 0);
		if (c->port >= 0)
			assert_int_equal(host.port, c->port);
		assert_int_equal(http_host_is_loopback(&host), c->loopback);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_heads),
	    cmocka_unit_test(test_head_lengths),
	    cmocka_unit_test(test_head_too_long),
	    cmocka_unit_test(test_chunked),
	    cmocka_unit_test(test_head_method),
	    cmocka_unit_test(test_paths),
	    cmocka_unit_test(test_hosts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
