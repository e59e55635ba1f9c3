// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * stream.c - the response parser of bpf/kanary_http.h on crafted replies:
 * the time to the first body byte and to the response's end, server-sent
 * event streams with their error events and inter-event gaps, whatever the
 * packet boundaries; chunk sizes in hex with extensions, Content-Length
 * bodies, bodies ended by the backend closing, and plain responses that
 * keep today's counters.
 *
 * Part of test_datapath (tests/bpf/test_datapath.c runs every test_*()
 * here); the data path and the packets come from tests/bpf/harness.h.
 */
#include <string.h>

#include "harness.h"

/* Between a request and its reply: the times recorded are at least this. */
#define STREAM_REQUEST_GAP_US 200
/* Between two event packets of the gap test. */
#define STREAM_EVENT_GAP_US 2000
#define STREAM_FIRST_PORT   44000
/* The random bodies: how many packets, how long at most, how many per
 * response, and the seed (fixed: a failure can be replayed). */
#define STREAM_RANDOM_PACKETS	   2000
#define STREAM_RANDOM_MAX_BYTES	   1400
#define STREAM_RANDOM_DATA_BYTES   1300 /* a chunk's data, framing aside */
#define STREAM_RANDOM_RAW_ONE_IN   10	/* unframed packets: 1 in 10 */
#define STREAM_RANDOM_PER_RESPONSE 20
#define STREAM_RANDOM_SEED	   13

/* The status line must come whole in the first packet (13 bytes), as the
 * data path has always required. */
#define STREAM_STATUS_BYTES 13

static const char sse_headers[] =
    "HTTP/1.1 200 OK\r\n"
    "date: Fri, 04 Dec 2026 22:00:00 GMT\r\n"
    "server: uvicorn\r\n"
    "Content-Type: text/event-stream; charset=utf-8\r\n"
    "transfer-encoding: chunked\r\n"
    "\r\n";

/* A token event (upper-case hex size with an extension), an error event
 * as vLLM sends it, and the terminator. */
static const char sse_error_body[] =
    "1B;name=value\r\n"
    "data: {\"text\": \"Hello\"}\r\n\r\n\r\n"
    "28\r\n"
    "data: {\"error\": {\"message\": \"engine\"}}\n\n\r\n"
    "0\r\n\r\n";

/* One connection from CLIENT_1:port through the service. */
struct stream_conn {
	struct dataplane *dp;
	uint32_t backend; /* host order */
	uint16_t port;
};

static int conn_open(struct dataplane *dp, uint16_t port, struct stream_conn *c)
{
	struct pkt_spec spec;
	struct pkt in, out;
	__u32 verdict;
	int ret;

	c->dp = dp;
	c->port = port;
	syn_spec(&spec, CLIENT_1, port);
	pkt_build(&in, &spec);
	ret = run_prog(dp, KN_HOOK_TC_INGRESS, &in, &out, &verdict);
	if (ret)
		return ret;
	c->backend = out_daddr(&out);
	reply_spec(&spec, c->backend, CLIENT_1, port, TCPF_SYN | TCPF_ACK);
	pkt_build(&in, &spec);
	return run_prog(dp, KN_HOOK_TC_EGRESS, &in, &out, &verdict);
}

/* The client's request, then a pause so that every time is non-zero. */
static int conn_request(const struct stream_conn *c)
{
	static const char request[] = "POST /v1/completions HTTP/1.1\r\n\r\n";
	struct pkt_spec spec;
	struct pkt in, out;
	__u32 verdict;
	int ret;

	syn_spec(&spec, CLIENT_1, c->port);
	spec.tcp_flags = TCPF_ACK | TCPF_PSH;
	spec.payload = request;
	spec.payload_len = sizeof(request) - 1;
	pkt_build(&in, &spec);
	ret = run_prog(c->dp, KN_HOOK_TC_INGRESS, &in, &out, &verdict);
	usleep(STREAM_REQUEST_GAP_US);
	return ret;
}

/* A reply segment from the backend carrying len bytes of data. */
static int conn_reply(const struct stream_conn *c, const char *data, size_t len,
		      uint8_t flags)
{
	struct pkt_spec spec;
	struct pkt in, out;
	__u32 verdict;

	reply_spec(&spec, c->backend, CLIENT_1, c->port, flags);
	spec.payload = data;
	spec.payload_len = (uint32_t)len;
	pkt_build(&in, &spec);
	return run_prog(c->dp, KN_HOOK_TC_EGRESS, &in, &out, &verdict);
}

/* The counters of every replica of the service, added up. */
static int service_counters(struct dataplane *dp, uint32_t index,
			    struct dp_backend_counters *sum)
{
	const struct dp_service *svc = dp_service_at(dp, index);
	struct dp_backend_counters one;
	uint32_t pool, b;
	size_t f;

	memset(sum, 0, sizeof(*sum));
	if (!svc)
		return -ENOENT;
	for (pool = 0; pool < KN_POOL_COUNT; pool++)
		for (b = 0; b < svc->pools[pool].count; b++) {
			int ret = dp_read_backend(
			    dp, svc->pools[pool].backends[b].stats_index, &one);

			if (ret)
				return ret;
			/* Every field is a __u64 counter. */
			for (f = 0; f < sizeof(one) / sizeof(__u64); f++)
				((__u64 *)sum)[f] += ((__u64 *)&one)[f];
		}
	return 0;
}

/* headers + body as one buffer. */
static size_t join(char *out, size_t cap, const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la + lb > cap)
		return 0;
	memcpy(out, a, la);
	memcpy(out + la, b, lb);
	return la + lb;
}

/*
 * An event stream with an error event, cut in two packets at every byte
 * from the end of the status line on: each cut is one connection, and each
 * must give one stream, one error, one first body byte and one end.
 */
void test_stream_split_at_every_byte(void)
{
	struct dataplane *dp = open_dp(NULL);
	struct dp_backend_counters sum;
	struct stream_conn c;
	char whole[512];
	size_t len, cut, cuts = 0;
	uint32_t index;

	if (!dp || add_service(dp, 0, &index))
		goto cleanup;
	len = join(whole, sizeof(whole), sse_headers, sse_error_body);
	if (!ASSERT_TRUE(len > 0, "response fits"))
		goto cleanup;
	for (cut = STREAM_STATUS_BYTES; cut < len; cut++, cuts++) {
		if (!ASSERT_OK(conn_open(dp, STREAM_FIRST_PORT + cut, &c),
			       "connection") ||
		    !ASSERT_OK(conn_request(&c), "request") ||
		    !ASSERT_OK(conn_reply(&c, whole, cut, TCPF_ACK),
			       "part 1") ||
		    !ASSERT_OK(conn_reply(&c, whole + cut, len - cut, TCPF_ACK),
			       "part 2"))
			goto cleanup;
	}
	if (!ASSERT_OK(service_counters(dp, index, &sum), "read counters"))
		goto cleanup;
	ASSERT_EQ(sum.totals.http_status[1], cuts, "one 2xx per response");
	ASSERT_EQ(sum.totals.http_streams, cuts, "each is an event stream");
	ASSERT_EQ(sum.totals.http_stream_errors, cuts,
		  "the error event found, wherever it was cut");
	ASSERT_EQ(sum.timing.first_body.count, cuts,
		  "one first body byte per response");
	ASSERT_EQ(sum.timing.end.count, cuts,
		  "one end per response: the terminator found");
	ASSERT_TRUE(sum.timing.end.sum_us >= cuts * STREAM_REQUEST_GAP_US,
		    "the end is timed from the request");
	ASSERT_EQ(sum.latency.count, cuts, "time to the headers, as before");
cleanup:
	dp_close(dp, true);
}

/* Headers and the whole stream in one packet, then each byte alone. */
void test_stream_one_packet_and_byte_by_byte(void)
{
	struct dataplane *dp = open_dp(NULL);
	struct dp_backend_counters sum;
	struct stream_conn c;
	char whole[512];
	size_t len, i;
	uint32_t index;

	if (!dp || add_service(dp, 0, &index))
		goto cleanup;
	len = join(whole, sizeof(whole), sse_headers, sse_error_body);
	if (conn_open(dp, STREAM_FIRST_PORT, &c) || conn_request(&c) ||
	    conn_reply(&c, whole, len, TCPF_ACK))
		goto cleanup;
	if (conn_open(dp, STREAM_FIRST_PORT + 1, &c) || conn_request(&c) ||
	    conn_reply(&c, whole, STREAM_STATUS_BYTES, TCPF_ACK))
		goto cleanup;
	for (i = STREAM_STATUS_BYTES; i < len; i++)
		if (!ASSERT_OK(conn_reply(&c, whole + i, 1, TCPF_ACK), "byte"))
			goto cleanup;
	if (!ASSERT_OK(service_counters(dp, index, &sum), "read counters"))
		goto cleanup;
	ASSERT_EQ(sum.totals.http_streams, 2, "two streams");
	ASSERT_EQ(sum.totals.http_stream_errors, 2, "two errors");
	ASSERT_EQ(sum.timing.first_body.count, 2, "two first body bytes");
	ASSERT_EQ(sum.timing.end.count, 2, "two ends");
cleanup:
	dp_close(dp, true);
}

/* What is and what is not an error event. */
void test_stream_error_events(void)
{
	static const struct {
		const char *body;
		bool error;
	} cases[] = {
	    {"17\r\nevent: error\ndata: {}\n\n\r\n0\r\n\r\n", true},
	    {"1e\r\nevent:error\r\ndata: {\"x\":1}\r\n\r\n\r\n0\r\n\r\n", true},
	    {"13\r\ndata:{ \"error\":1}\n\n\r\n0\r\n\r\n", true},
	    {"19\r\ndata: {\"text\": \"error\"}\n\n\r\n0\r\n\r\n", false},
	    {"18\r\nevent: errors\ndata: {}\n\n\r\n0\r\n\r\n", false},
	    {"13\r\ndata: [\"error\"]\r\n\r\n\r\n0\r\n\r\n", false},
	    {"10\r\n: error comment\n\r\n0\r\n\r\n", false},
	};
	struct dataplane *dp = open_dp(NULL);
	struct dp_backend_counters before, after;
	struct stream_conn c;
	char whole[512];
	size_t i, len;
	uint32_t index;

	if (!dp || add_service(dp, 0, &index))
		goto cleanup;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		len = join(whole, sizeof(whole), sse_headers, cases[i].body);
		if (service_counters(dp, index, &before) ||
		    conn_open(dp, STREAM_FIRST_PORT + i, &c) ||
		    conn_request(&c) || conn_reply(&c, whole, len, TCPF_ACK) ||
		    service_counters(dp, index, &after))
			goto cleanup;
		ASSERT_EQ(after.totals.http_stream_errors -
			      before.totals.http_stream_errors,
			  cases[i].error ? 1 : 0, "error event told");
		ASSERT_EQ(after.timing.end.count - before.timing.end.count, 1,
			  "the stream ended");
	}
cleanup:
	dp_close(dp, true);
}

/* One sample per packet carrying event data, after the first. */
void test_stream_event_gaps(void)
{
	static const char token[] = "f\r\ndata: {\"t\":1}\n\n\r\n";
	static const char done[] = "e\r\ndata: [DONE]\n\n\r\n0\r\n\r\n";
	struct dataplane *dp = open_dp(NULL);
	struct dp_backend_counters sum;
	struct stream_conn c;
	uint32_t index;
	int i;

	if (!dp || add_service(dp, 0, &index))
		goto cleanup;
	if (conn_open(dp, STREAM_FIRST_PORT, &c) || conn_request(&c) ||
	    conn_reply(&c, sse_headers, strlen(sse_headers), TCPF_ACK))
		goto cleanup;
	for (i = 0; i < 3; i++) {
		usleep(STREAM_EVENT_GAP_US);
		conn_reply(&c, token, strlen(token), TCPF_ACK);
	}
	conn_reply(&c, done, strlen(done), TCPF_ACK);
	if (!ASSERT_OK(service_counters(dp, index, &sum), "read counters"))
		goto cleanup;
	ASSERT_EQ(sum.timing.event_gap.count, 3,
		  "three gaps between four event packets");
	ASSERT_TRUE(sum.timing.event_gap.sum_us >= 2 * STREAM_EVENT_GAP_US,
		    "the gaps cover the pauses between tokens");
	ASSERT_TRUE(sum.timing.first_body.sum_us >= STREAM_EVENT_GAP_US,
		    "the first body byte is the first token, not the headers");
	ASSERT_EQ(sum.totals.http_stream_errors, 0, "no error");
	ASSERT_EQ(sum.timing.end.count, 1, "one end");
cleanup:
	dp_close(dp, true);
}

/* Not a stream: a Content-Length body, one ended by the backend closing,
 * a chunked one with a trailer, a 204. Status and latency as before. */
void test_stream_plain_responses(void)
{
	static const char length_head[] =
	    "HTTP/1.1 200 OK\r\nContent-Length:  11\r\n\r\nhello";
	static const char length_rest[] = " world";
	static const char close_reply[] =
	    "HTTP/1.0 500 Oops\r\nContent-Type: text/plain\r\n\r\nbroken";
	static const char trailer_reply[] =
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n"
	    "3\r\nabc\r\n0\r\nX-Checksum: 1\r\n\r\n";
	static const char no_content[] = "HTTP/1.1 204 No Content\r\n\r\n";
	struct dataplane *dp = open_dp(NULL);
	struct dp_backend_counters sum;
	struct stream_conn c;
	uint32_t index;

	if (!dp || add_service(dp, 0, &index))
		goto cleanup;
	if (conn_open(dp, STREAM_FIRST_PORT, &c) || conn_request(&c) ||
	    conn_reply(&c, length_head, strlen(length_head), TCPF_ACK) ||
	    service_counters(dp, index, &sum))
		goto cleanup;
	ASSERT_EQ(sum.timing.first_body.count, 1, "first body byte");
	ASSERT_EQ(sum.timing.end.count, 0, "6 of 11 bytes: not ended yet");
	if (conn_reply(&c, length_rest, strlen(length_rest), TCPF_ACK) ||
	    service_counters(dp, index, &sum))
		goto cleanup;
	ASSERT_EQ(sum.timing.end.count, 1, "Content-Length reached");

	if (conn_open(dp, STREAM_FIRST_PORT + 1, &c) || conn_request(&c) ||
	    conn_reply(&c, close_reply, strlen(close_reply), TCPF_ACK) ||
	    service_counters(dp, index, &sum))
		goto cleanup;
	ASSERT_EQ(sum.timing.end.count, 1, "a body until close: not yet");
	if (conn_reply(&c, "", 0, TCPF_ACK | TCPF_FIN) ||
	    service_counters(dp, index, &sum))
		goto cleanup;
	ASSERT_EQ(sum.timing.end.count, 2, "ended by the backend's FIN");

	if (conn_open(dp, STREAM_FIRST_PORT + 2, &c) || conn_request(&c) ||
	    conn_reply(&c, trailer_reply, strlen(trailer_reply), TCPF_ACK) ||
	    conn_open(dp, STREAM_FIRST_PORT + 3, &c) || conn_request(&c) ||
	    conn_reply(&c, no_content, strlen(no_content), TCPF_ACK) ||
	    service_counters(dp, index, &sum))
		goto cleanup;
	ASSERT_EQ(sum.timing.end.count, 4, "the trailer and the 204 ended");
	ASSERT_EQ(sum.timing.first_body.count, 3, "a 204 has no body");
	ASSERT_EQ(sum.totals.http_status[1], 3, "three 2xx");
	ASSERT_EQ(sum.totals.http_status[4], 1, "one 5xx");
	ASSERT_EQ(sum.latency.count, 4, "four times to the headers");
	ASSERT_EQ(sum.totals.http_streams, 0, "no stream");
	ASSERT_EQ(sum.timing.event_gap.count, 0, "no event gaps");
cleanup:
	dp_close(dp, true);
}

/* Random bodies after event-stream headers (bytes drawn mostly from the
 * parser's own alphabet, so that it takes every branch): the parse never
 * changes a packet, never drops one, and the counters stay sane. */
void test_stream_random_bodies(void)
{
	static const char alphabet[] =
	    "data:event:error{\"} \r\n\t0123456789abcdefABCDEF;[DONE]";
	struct dataplane *dp = open_dp(NULL);
	struct dp_backend_counters sum;
	struct stream_conn c;
	struct pkt_spec spec;
	struct pkt in, out;
	char body[STREAM_RANDOM_MAX_BYTES];
	unsigned int seed = STREAM_RANDOM_SEED;
	uint32_t index, len, data, i, k, bad = 0;
	bool framed;
	__u32 verdict;

	if (!dp || add_service(dp, 0, &index))
		goto cleanup;
	for (i = 0; i < STREAM_RANDOM_PACKETS; i++) {
		if (i % STREAM_RANDOM_PER_RESPONSE == 0 &&
		    (conn_open(dp, STREAM_FIRST_PORT + i, &c) ||
		     conn_request(&c) ||
		     conn_reply(&c, sse_headers, strlen(sse_headers),
				TCPF_ACK)))
			goto cleanup;
		/* Mostly one well-framed chunk of random data, so that the
		 * event parser reads it; now and then raw bytes that break
		 * the framing. */
		data = 1 + (uint32_t)rand_r(&seed) % STREAM_RANDOM_DATA_BYTES;
		framed = rand_r(&seed) % STREAM_RANDOM_RAW_ONE_IN != 0;
		len = framed ? (uint32_t)snprintf(body, sizeof(body), "%x\r\n",
						  data)
			     : 0;
		for (k = 0; k < data; k++)
			body[len++] = rand_r(&seed) % 4
					  ? (char)rand_r(&seed)
					  : alphabet[rand_r(&seed) %
						     (sizeof(alphabet) - 1)];
		if (framed) {
			body[len++] = '\r';
			body[len++] = '\n';
		}
		reply_spec(&spec, c.backend, CLIENT_1, c.port, TCPF_ACK);
		spec.payload = body;
		spec.payload_len = len;
		pkt_build(&in, &spec);
		if (run_prog(dp, KN_HOOK_TC_EGRESS, &in, &out, &verdict) ||
		    verdict != TC_OK_VERDICT || out.len != in.len ||
		    !same_except_translation(&in, &out, false))
			bad++;
	}
	ASSERT_EQ(bad, 0, "every packet passed, unchanged but its source");
	if (!ASSERT_OK(service_counters(dp, index, &sum), "read counters"))
		goto cleanup;
	ASSERT_EQ(sum.totals.http_streams,
		  STREAM_RANDOM_PACKETS / STREAM_RANDOM_PER_RESPONSE,
		  "one stream per response");
	ASSERT_TRUE(sum.timing.event_gap.count > 0,
		    "the event parser read data lines in them");
	ASSERT_TRUE(sum.totals.http_stream_errors <= sum.totals.http_streams,
		    "at most one error per stream");
	ASSERT_TRUE(sum.timing.end.count <= sum.totals.http_streams,
		    "at most one end per stream");
cleanup:
	dp_close(dp, true);
}

/* Header blocks of many forms, each a whole response, and what its parse
 * must find: whether it ends, has a first body byte, is an event stream. */
struct header_form {
	const char *text;
	bool end, first_body, stream;
};

/* A header line longer than a skipped run (256 bytes) and whole windows of
 * eight bytes: "Set-Cookie: " and 300 bytes. */
#define LONG_VALUE_BYTES 300

/*
 * The header parser (bpf/kanary_http.h) takes most lines in one step: a
 * name against the three looked for, a skipped line's rest, a length's
 * digits. Whatever the packet boundaries (one packet, or two cut at every
 * byte after the status line), each form gives what the byte-by-byte
 * parse gives: names in any case, names that only start like the ones
 * looked for, values with blanks, junk or none, bare '\n' line ends.
 */
void test_stream_header_forms(void)
{
	static const struct header_form forms[] = {
	    {"HTTP/1.1 200 OK\r\nCONTENT-LENGTH:5\r\n\r\nhello", true, true,
	     false},
	    {"HTTP/1.1 200 OK\r\nContent-Lengthy: 99\r\nX-Content-Length: 9\r\n"
	     "content-length: \t3 \r\n\r\nabc",
	     true, true, false},
	    {"HTTP/1.1 200 OK\r\nContent-Length: 4x\r\nConnection: close\r\n"
	     "\r\nabcd",
	     true, true, false},
	    {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: "
	     "application/json\r\nContent-Type-X: text/event-stream\r\n\r\n{}",
	     true, true, false},
	    {"HTTP/1.1 200 OK\r\nContent-Type:  Text/Event-Stream\r\n"
	     "Transfer-Encoding:chunked\r\n\r\n5\r\ndata:\r\n0\r\n\r\n",
	     true, true, true},
	    {"HTTP/1.1 200 OK\r\ncontent-type:text/event-stream;q=1\r\n"
	     "content-length: 6\r\n\r\ndata:\n",
	     true, true, true},
	    {"HTTP/1.1 200 OK\r\nContent-Type: "
	     "text/plain\r\nTransfer-Encoding: "
	     "gzip\r\nContent-Length: 3\r\n\r\nabc",
	     true, true, false},
	    {"HTTP/1.1 200 OK\nContent-Length: 1\n\nx", true, true, false},
	    {"HTTP/1.1 200 OK\r\nc\r\nt:\r\ncontent-length\r\nC: 1\r\n"
	     "Content-Length: \r\n\r\n",
	     false, false, false},
	    {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true, false,
	     false},
	    {"HTTP/1.1 200 OK\r\nContent-Type: \r\n\r\nuntil close", false,
	     true, false},
	    {"HTTP/1.1 200 OK\r\ncontent-length: 3\r\r\n\r\nabc", true, true,
	     false},
	    {NULL, true, true, false}, /* the long line, built below */
	};
	struct dataplane *dp = open_dp(NULL);
	struct dp_backend_counters sum, before;
	struct stream_conn c;
	char whole[1024], name[64];
	size_t f, len, cut, n;
	uint16_t port = STREAM_FIRST_PORT;
	uint32_t index;

	if (!dp || add_service(dp, 0, &index))
		goto cleanup;
	for (f = 0; f < sizeof(forms) / sizeof(forms[0]); f++) {
		if (forms[f].text) {
			len = strlen(forms[f].text);
			memcpy(whole, forms[f].text, len);
		} else {
			len =
			    (size_t)snprintf(whole, sizeof(whole),
					     "HTTP/1.1 200 OK\r\nSet-Cookie: ");
			memset(whole + len, 'a', LONG_VALUE_BYTES);
			len += LONG_VALUE_BYTES;
			len +=
			    (size_t)snprintf(whole + len, sizeof(whole) - len,
					     "\r\nContent-Length: 2\r\n\r\nab");
		}
		if (!ASSERT_OK(service_counters(dp, index, &before),
			       "counters"))
			goto cleanup;
		/* Cut at len: the whole response in one packet. */
		for (cut = STREAM_STATUS_BYTES, n = 0; cut <= len; cut++, n++) {
			if (!ASSERT_OK(conn_open(dp, port++, &c),
				       "connection") ||
			    !ASSERT_OK(conn_request(&c), "request") ||
			    !ASSERT_OK(conn_reply(&c, whole, cut, TCPF_ACK),
				       "part 1") ||
			    (cut < len &&
			     !ASSERT_OK(conn_reply(&c, whole + cut, len - cut,
						   TCPF_ACK),
					"part 2")))
				goto cleanup;
		}
		if (!ASSERT_OK(service_counters(dp, index, &sum), "counters"))
			goto cleanup;
		snprintf(name, sizeof(name), "form %zu: ends", f);
		ASSERT_EQ(sum.timing.end.count - before.timing.end.count,
			  forms[f].end ? n : 0, name);
		snprintf(name, sizeof(name), "form %zu: first body byte", f);
		ASSERT_EQ(sum.timing.first_body.count -
			      before.timing.first_body.count,
			  forms[f].first_body ? n : 0, name);
		snprintf(name, sizeof(name), "form %zu: event stream", f);
		ASSERT_EQ(sum.totals.http_streams - before.totals.http_streams,
			  forms[f].stream ? n : 0, name);
	}
cleanup:
	dp_close(dp, true);
}
