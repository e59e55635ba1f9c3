/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * kanary_http.h - what the data path learns of HTTP/1.x without any help
 * from the model server: the status class of each response and the time from
 * a request's first byte to its response's first byte.
 *
 * Ingress marks the first payload packet of a request (a flow with payload
 * and no request pending). Egress reads the first bytes of each reply packet;
 * "HTTP/1.x NNN " starts a response: its class is counted, and the time since
 * the pending request's mark goes into the backend's latency histogram. On a
 * keep-alive connection the next request's first packet sets a new mark.
 * Pipelined requests are timed from the first of them; a 100-continue is
 * counted as a 1xx response and the request is timed again from its body.
 *
 * Past the status line, the response is parsed byte by byte, resumable at
 * any byte (the state lives in the reply entry, struct kn_http_state): the
 * headers (Content-Length, Transfer-Encoding: chunked, Content-Type:
 * text/event-stream), then the body's framing (Content-Length counted down,
 * chunk sizes in hex with extensions and the trailer, or until the backend
 * closes). That gives, from the request's first byte, the time to the first
 * body byte and to the response's end (kn_response_timing). In an event
 * stream, each `data:` line and `event:` line is read up to the word that
 * tells an error (`event: error`, or `data: {"error"...`); the gap between
 * two packets carrying event data is the inter-token latency, one sample
 * per packet (tokens coalesced in one packet give one sample).
 *
 * Bounds: body bytes that need no reading (Content-Length or chunk data
 * outside an event stream) are skipped by arithmetic. Bytes that need
 * reading are copied a window at a time into a per-CPU scratch buffer and
 * read by a bpf_loop() callback, at most KN_HTTP_WINDOWS windows per packet
 * (header lines several a step, each in one run where the window holds it:
 * kn_http_header_lines);
 * a packet needing more, or bytes that break the framing, leave the
 * response unparsed (no end, no further events) until the next packet that
 * starts with a status line. A response to HEAD is not told from one to
 * GET: its announced body never comes, and it has no end sample.
 */
#ifndef KANARY_HTTP_H
#define KANARY_HTTP_H

#include "kanary_defs.h"
#include "kanary_maps.h"
#include "kanary_parse.h"

/* Payload bytes read per window, and windows per packet at most. */
#define KN_HTTP_WINDOW_BYTES 1024
#define KN_HTTP_WINDOWS	     8
/* Bytes of a skipped event-stream line passed over in one step. */
#define KN_SSE_SKIP_RUN_BYTES 256
/* A chunk size has at most this many hex digits (2^60 bytes). */
#define KN_HTTP_CHUNK_DIGITS_MAX 15
/* A Content-Length stops growing past this (no overflow). */
#define KN_HTTP_LENGTH_MAX (1ULL << 60)

enum kn_http_phase {
	KN_HTTP_IDLE = 0,    /* no response in progress */
	KN_HTTP_HEADERS,     /* status line and headers */
	KN_HTTP_BODY_LENGTH, /* Content-Length body: `remaining` left */
	KN_HTTP_BODY_CHUNKED,
	KN_HTTP_BODY_CLOSE, /* body until the backend closes */
	KN_HTTP_LOST,	    /* unparsed until the next status line */
};

/* Steps of the headers phase. */
enum kn_http_header_step {
	KN_H_STATUS_LINE = 0,
	KN_H_LINE_START,
	KN_H_NAME,
	KN_H_SKIP_LINE,
	KN_H_END_CR, /* "\r" of the empty line that ends the headers */
	KN_H_CONTENT_LENGTH,
	KN_H_CONTENT_TYPE,
	KN_H_TRANSFER_ENCODING,
};

/* Steps of a chunked body. */
enum kn_http_chunk_step {
	KN_C_SIZE = 0,
	KN_C_EXTENSION,
	KN_C_SIZE_LF,
	KN_C_DATA,
	KN_C_DATA_CR,
	KN_C_DATA_LF,
	KN_C_TRAILER_START,
	KN_C_TRAILER_CR,
	KN_C_TRAILER_LINE,
};

/* Steps of the event-stream line parser. */
enum kn_sse_step {
	KN_S_LINE_START = 0,
	KN_S_DATA_NAME,	  /* "data:" */
	KN_S_DATA_VALUE,  /* spaces before the value */
	KN_S_DATA_JSON,	  /* after "{": "\"error\"" */
	KN_S_DATA_SKIP,	  /* rest of a data line */
	KN_S_EVENT_NAME,  /* "event:" */
	KN_S_EVENT_VALUE, /* "error" */
	KN_S_EVENT_END,	  /* after "error": the line must end */
	KN_S_SKIP,	  /* rest of any other line */
};

/* struct kn_http_state.flags */
#define KN_HTTP_F_NO_BODY     (1U << 0) /* 1xx, 204, 304 */
#define KN_HTTP_F_HAS_LENGTH  (1U << 1)
#define KN_HTTP_F_CHUNKED     (1U << 2)
#define KN_HTTP_F_SSE	      (1U << 3)
#define KN_HTTP_F_FIRST_BODY  (1U << 4) /* first body byte seen */
#define KN_HTTP_F_ERROR_EVENT (1U << 5) /* counted once per response */
#define KN_HTTP_F_INTERIM     (1U << 6) /* 1xx: another response follows */

/* What one packet's parse found: kn_http_scratch.found. */
#define KN_FOUND_FIRST_BODY (1U << 0)
#define KN_FOUND_END	    (1U << 1)
#define KN_FOUND_EVENT_DATA (1U << 2)
#define KN_FOUND_ERROR	    (1U << 3)
#define KN_FOUND_STREAM	    (1U << 4) /* headers said text/event-stream */

/* Header names looked for (lower case), by bit of kn_http_state.header. */
#define KN_HDR_CONTENT_LENGTH	 0
#define KN_HDR_CONTENT_TYPE	 1
#define KN_HDR_TRANSFER_ENCODING 2
#define KN_HDR_COUNT		 3
#define KN_HDR_NAME_MAX		 18

static const char kn_hdr_names[KN_HDR_COUNT][KN_HDR_NAME_MAX] = {
    "content-length", "content-type", "transfer-encoding"};
static const __u8 kn_hdr_name_len[KN_HDR_COUNT] = {14, 12, 17};
static const __u8 kn_hdr_steps[KN_HDR_COUNT] = {
    KN_H_CONTENT_LENGTH, KN_H_CONTENT_TYPE, KN_H_TRANSFER_ENCODING};

/* Words matched inside values and event lines: one table, so that clang
 * keeps them in .rodata (string literals would go to .rodata.str1.1, whose
 * BTF the kernel refuses). */
enum kn_word {
	KN_WORD_CHUNKED = 0,
	KN_WORD_EVENT_STREAM,
	KN_WORD_DATA,
	KN_WORD_EVENT,
	KN_WORD_ERROR,
	KN_WORD_ERROR_KEY,
	KN_WORD_COUNT,
};
#define KN_WORD_MAX 18

static const char kn_words[KN_WORD_COUNT][KN_WORD_MAX] = {
    "chunked", "text/event-stream", "data:", "event:", "error", "\"error\""};
static const __u8 kn_word_len[KN_WORD_COUNT] = {7, 17, 5, 6, 5, 7};

/*
 * One packet's parse: the state, copied from and back to the reply entry,
 * the window of payload bytes being read, and what was found. Per CPU:
 * egress runs with bottom halves disabled, so one packet at a time per CPU.
 */
struct kn_http_scratch {
	struct kn_http_state st;
	__u32 pos;	 /* next payload byte, offset in the frame */
	__u32 end;	 /* end of the payload */
	__u32 win_start; /* buf holds [win_start, win_end) */
	__u32 win_end;
	__u32 found; /* KN_FOUND_* */
	__u32 pad;
	char buf[KN_HTTP_WINDOW_BYTES];
};

/* Not pinned: no state outlives a packet. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kn_http_scratch);
} kn_http_scratch SEC(".maps");

static __always_inline void kn_http_mark_request(struct kn_flow *flow,
						 const struct kn_pkt *p)
{
	if (!(flow->flags & KN_SVC_F_HTTP) || p->proto != IPPROTO_TCP_NUM ||
	    p->payload_len == 0 || flow->request_start_ns != 0)
		return;
	flow->request_start_ns = bpf_ktime_get_ns();
}

/* The largest payload offset kn_parse can give: the L4 header's largest
 * offset and TCP's longest header (60 bytes). */
#define KN_PAYLOAD_OFF_MAX (KN_L4_OFF_MAX + 60)

/*
 * The first KN_HTTP_STATUS_PEEK payload bytes of a reply (the caller checked
 * there are as many): read in place when they lie in the skb's linear part,
 * as they almost always do; bpf_skb_load_bytes (a helper call) otherwise.
 * p->data is still valid: nothing between kn_parse and here changes the
 * packet. Returns 0 or negative.
 */
static __always_inline long kn_http_peek(struct __sk_buff *skb,
					 const struct kn_pkt *p,
					 char peek[KN_HTTP_STATUS_PEEK])
{
	__u32 off = p->payload_off;
	const char *b;

	if (off <= KN_PAYLOAD_OFF_MAX) {
		b = p->data + off;
		if ((void *)(b + KN_HTTP_STATUS_PEEK) <= p->data_end) {
			__builtin_memcpy(peek, b, KN_HTTP_STATUS_PEEK);
			return 0;
		}
	}
	return bpf_skb_load_bytes(skb, off, peek, KN_HTTP_STATUS_PEEK);
}

static __always_inline bool kn_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Returns the status class 1..5, 0 for a response with a bad status code,
 * or -1 when the payload does not start an HTTP/1.x response. */
static __always_inline int kn_http_status_class(const char *b)
{
	if (b[0] != 'H' || b[1] != 'T' || b[2] != 'T' || b[3] != 'P' ||
	    b[4] != '/' || b[5] != '1' || b[6] != '.')
		return -1;
	if ((b[7] != '0' && b[7] != '1') || b[8] != ' ')
		return 0;
	if (!kn_is_digit(b[9]) || !kn_is_digit(b[10]) || !kn_is_digit(b[11]))
		return 0;
	if (b[12] != ' ' && b[12] != '\r')
		return 0;
	if (b[9] < '1' || b[9] > '5')
		return 0;
	return b[9] - '0';
}

static __always_inline void kn_hist_add(struct kn_latency_hist *hist, __u64 us)
{
	__u32 bucket = kn_latency_bucket(us);

	/* The clamp inside kn_latency_bucket is invisible to the verifier once
	 * clang folds this test into it: keep an explicit one. */
	asm volatile("" : "+r"(bucket));
	if (bucket >= KN_LATENCY_BUCKETS)
		return;
	hist->count++;
	hist->sum_us += us;
	hist->buckets[bucket]++;
}

/* Microseconds from start to now; 0 when start is unknown or not before. */
static __always_inline __u64 kn_elapsed_us(__u64 start, __u64 now)
{
	if (start == 0 || now <= start)
		return 0;
	return (now - start) / NSEC_PER_USEC;
}

/*
 * A response starts: its latency is recorded as before and its request's
 * start kept for the later samples. Returns that start (0: none pending).
 */
static __always_inline __u64 kn_http_record_latency(
    const struct kn_pkt *p, const struct kn_reply *reply, __u64 now)
{
	struct kn_flow_key key;
	struct kn_latency_hist *hist;
	struct kn_flow *flow;
	__u64 start;

	/* The client-side key of this connection. */
	kn_flow_key_from(&key, &p->daddr, p->dport, &reply->vip,
			 reply->vip_port, p->proto, p->family);
	flow = bpf_map_lookup_elem(&kn_flows, &key);
	if (!flow)
		return 0;
	start = flow->request_start_ns;
	if (start == 0)
		return 0;
	flow->request_start_ns = 0;
	if (now <= start)
		return 0;
	hist = bpf_map_lookup_elem(&kn_latency, &reply->stats_index);
	if (hist)
		kn_hist_add(hist, (now - start) / NSEC_PER_USEC);
	return start;
}

static __always_inline __u8 kn_lower(__u8 c)
{
	return c >= 'A' && c <= 'Z' ? c | 0x20 : c;
}

/* Hex digit value, or -1. */
static __always_inline int kn_hex_value(__u8 c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = kn_lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Whether c continues word w at *match (case-insensitive): advances it. */
static __always_inline bool kn_word_next(enum kn_word w, __u8 *match, __u8 c)
{
	__u32 i = *match;

	if (w >= KN_WORD_COUNT || i >= kn_word_len[w] || i >= KN_WORD_MAX ||
	    kn_lower(c) != (__u8)kn_words[w][i])
		return false;
	*match = i + 1;
	return true;
}

/* Whether word w was matched whole. */
static __always_inline bool kn_word_done(enum kn_word w, __u8 match)
{
	return w < KN_WORD_COUNT && match == kn_word_len[w];
}

/* The headers ended: how the body is framed. */
static __always_inline void kn_http_headers_done(struct kn_http_scratch *s)
{
	struct kn_http_state *st = &s->st;

	st->step = 0;
	st->match = 0;
	if (st->flags & KN_HTTP_F_SSE)
		s->found |= KN_FOUND_STREAM;
	if (st->flags & KN_HTTP_F_INTERIM) {
		st->phase = KN_HTTP_IDLE; /* the final response follows */
	} else if ((st->flags & KN_HTTP_F_NO_BODY) ||
		   (!(st->flags & KN_HTTP_F_CHUNKED) &&
		    (st->flags & KN_HTTP_F_HAS_LENGTH) && st->remaining == 0)) {
		s->found |= KN_FOUND_END;
		st->phase = KN_HTTP_IDLE;
	} else if (st->flags & KN_HTTP_F_CHUNKED) {
		st->remaining = 0; /* chunking wins over a length (RFC 9112) */
		st->phase = KN_HTTP_BODY_CHUNKED;
	} else if (st->flags & KN_HTTP_F_HAS_LENGTH) {
		st->phase = KN_HTTP_BODY_LENGTH;
	} else {
		st->phase = KN_HTTP_BODY_CLOSE;
	}
}

/* A header line's first byte or a name byte: which names still match. */
static __always_inline void kn_http_header_name(struct kn_http_state *st,
						__u8 c)
{
	__u32 i = st->match, h;
	__u8 live = 0;

	if (c == ':') {
		st->step = KN_H_SKIP_LINE;
		for (h = 0; h < KN_HDR_COUNT; h++)
			if ((st->header & (1U << h)) && i == kn_hdr_name_len[h])
				st->step = kn_hdr_steps[h];
		st->match = 0;
		return;
	}
	for (h = 0; h < KN_HDR_COUNT; h++)
		if ((st->header & (1U << h)) && i < kn_hdr_name_len[h] &&
		    i < KN_HDR_NAME_MAX &&
		    kn_lower(c) == (__u8)kn_hdr_names[h][i])
			live |= 1U << h;
	st->header = live;
	st->match = i + 1;
	st->step = live ? KN_H_NAME : KN_H_SKIP_LINE;
}

/*
 * The three byte parsers are global functions: the verifier checks each once
 * on its own, where inlined into the loop callback they multiplied its work
 * (ten seconds per load). They return 0.
 */

/* One byte of the status line or the headers. */
__noinline int kn_http_header_byte(struct kn_http_scratch *s, __u8 c)
{
	struct kn_http_state *st = &s->st;
	bool blank = c == ' ' || c == '\t';

	if (!s)
		return 0;
	if (c == '\n' && st->step != KN_H_LINE_START &&
	    st->step != KN_H_END_CR) {
		st->step = KN_H_LINE_START;
		return 0;
	}
	switch (st->step) {
	case KN_H_STATUS_LINE:
	case KN_H_SKIP_LINE:
		break;
	case KN_H_LINE_START:
		if (c == '\r') {
			st->step = KN_H_END_CR;
		} else if (c == '\n') {
			kn_http_headers_done(s);
		} else {
			st->header = (1U << KN_HDR_COUNT) - 1;
			st->match = 0;
			kn_http_header_name(st, c);
		}
		break;
	case KN_H_NAME:
		kn_http_header_name(st, c);
		break;
	case KN_H_END_CR:
		if (c == '\n')
			kn_http_headers_done(s);
		else
			st->step = KN_H_SKIP_LINE;
		break;
	case KN_H_CONTENT_LENGTH:
		if (c >= '0' && c <= '9') {
			st->flags |= KN_HTTP_F_HAS_LENGTH;
			if (st->remaining < KN_HTTP_LENGTH_MAX)
				st->remaining = st->remaining * 10 + (c - '0');
		} else if (!blank && c != '\r') {
			st->step = KN_H_SKIP_LINE;
		}
		break;
	case KN_H_CONTENT_TYPE:
		if (blank && st->match == 0)
			break;
		if (!kn_word_next(KN_WORD_EVENT_STREAM, &st->match, c))
			st->step = KN_H_SKIP_LINE;
		else if (kn_word_done(KN_WORD_EVENT_STREAM, st->match))
			st->flags |= KN_HTTP_F_SSE;
		break;
	case KN_H_TRANSFER_ENCODING:
		/* "chunked" anywhere in the value: its 'c' does not recur,
		 * so a mismatch restarts the match at this byte. */
		if (!kn_word_next(KN_WORD_CHUNKED, &st->match, c))
			st->match = kn_lower(c) == 'c' ? 1 : 0;
		if (kn_word_done(KN_WORD_CHUNKED, st->match)) {
			st->flags |= KN_HTTP_F_CHUNKED;
			st->step = KN_H_SKIP_LINE;
		}
		break;
	}
	return 0;
}

/* One byte of an event stream's body: looks for the error event. */
__noinline int kn_sse_byte(struct kn_http_scratch *s, __u8 c)
{
	struct kn_http_state *st = &s->st;
	bool blank = c == ' ' || c == '\t';
	__u8 step = st->sse;

	if (!s)
		return 0;
	if (step >= KN_S_DATA_NAME && step <= KN_S_DATA_SKIP)
		s->found |= KN_FOUND_EVENT_DATA;
	if (c == '\n') {
		if (step == KN_S_EVENT_END)
			s->found |= KN_FOUND_ERROR;
		st->sse = KN_S_LINE_START;
		st->sse_match = 0;
		return 0;
	}
	switch (step) {
	case KN_S_LINE_START:
		st->sse_match = 0;
		if (kn_word_next(KN_WORD_DATA, &st->sse_match, c)) {
			st->sse = KN_S_DATA_NAME;
			s->found |= KN_FOUND_EVENT_DATA;
		} else if (kn_word_next(KN_WORD_EVENT, &st->sse_match, c)) {
			st->sse = KN_S_EVENT_NAME;
		} else if (c != '\r') {
			st->sse = KN_S_SKIP;
		}
		break;
	case KN_S_DATA_NAME:
		if (!kn_word_next(KN_WORD_DATA, &st->sse_match, c))
			st->sse = KN_S_SKIP;
		else if (kn_word_done(KN_WORD_DATA, st->sse_match))
			st->sse = KN_S_DATA_VALUE;
		break;
	case KN_S_DATA_VALUE:
		if (blank)
			break;
		st->sse_match = 0;
		st->sse = c == '{' ? KN_S_DATA_JSON : KN_S_DATA_SKIP;
		break;
	case KN_S_DATA_JSON:
		if ((blank || c == '\r') && st->sse_match == 0)
			break;
		if (!kn_word_next(KN_WORD_ERROR_KEY, &st->sse_match, c)) {
			st->sse = KN_S_DATA_SKIP;
		} else if (kn_word_done(KN_WORD_ERROR_KEY, st->sse_match)) {
			s->found |= KN_FOUND_ERROR;
			st->sse = KN_S_DATA_SKIP;
		}
		break;
	case KN_S_EVENT_NAME:
		if (!kn_word_next(KN_WORD_EVENT, &st->sse_match, c))
			st->sse = KN_S_SKIP;
		else if (kn_word_done(KN_WORD_EVENT, st->sse_match)) {
			st->sse = KN_S_EVENT_VALUE;
			st->sse_match = 0;
		}
		break;
	case KN_S_EVENT_VALUE:
		if (blank && st->sse_match == 0)
			break;
		if (!kn_word_next(KN_WORD_ERROR, &st->sse_match, c))
			st->sse = KN_S_SKIP;
		else if (kn_word_done(KN_WORD_ERROR, st->sse_match))
			st->sse = KN_S_EVENT_END;
		break;
	case KN_S_EVENT_END:
		if (c == '\r' || blank)
			s->found |= KN_FOUND_ERROR;
		st->sse = KN_S_SKIP;
		break;
	default:
		break;
	}
	return 0;
}

/*
 * The rest of a line the event parser skips (most of a token's JSON): the
 * bytes before the next newline, at most KN_SSE_SKIP_RUN_BYTES of them,
 * within limit and the window. One call for a run instead of one parser
 * step a byte took a token's packet from 4 us to 0.8 us (BENCHMARKS.md,
 * 1b). Returns the run's length.
 */
/* The byte (0-7, little-endian) of x's lowest set bit, where every set
 * bit is a byte's top bit. The lowest such flag marks the first zero byte
 * exactly (false flags only follow a true one). */
static __always_inline __u32 kn_first_flagged_byte(__u64 x)
{
	__u32 i = 0;

	x &= ~x + 1;
	if (!(x & 0xffffffffULL)) {
		i += 4;
		x >>= 32;
	}
	if (!(x & 0xffffULL)) {
		i += 2;
		x >>= 16;
	}
	if (!(x & 0xffULL))
		i += 1;
	return i;
}

static __always_inline __u32 kn_skip_to_lf(struct kn_http_scratch *s,
					   __u32 limit)
{
	__u32 n, k, start, avail, idx;
	__u64 x;

	if (!s || s->pos < s->win_start || s->pos >= s->win_end)
		return 0;
	start = s->pos - s->win_start;
	avail = s->win_end - s->pos;
	if (limit > avail)
		limit = avail;
	if (limit > KN_SSE_SKIP_RUN_BYTES)
		limit = KN_SSE_SKIP_RUN_BYTES;
	/* Eight bytes at a time while none of them is '\n' (a byte of
	 * w ^ "\n\n..." is zero: the word has a zero byte when
	 * (x - 0x01..) & ~x & 0x80.. is not zero). */
	for (n = 0, k = 0; k < KN_SSE_SKIP_RUN_BYTES / 8 && n + 8 <= limit;
	     k++, n += 8) {
		idx = start + n;
		/* Opaque to clang, so that it indexes buf with idx rather
		 * than with a pointer advanced by start (unbounded to the
		 * verifier). */
		asm volatile("" : "+r"(idx));
		if (idx > KN_HTTP_WINDOW_BYTES - 8)
			break;
		x = *(__u64 *)(s->buf + idx) ^ 0x0a0a0a0a0a0a0a0aULL;
		x = (x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL;
		if (x)
			return n + kn_first_flagged_byte(x);
	}
	/* The last bytes, fewer than a word. */
	for (k = 0; k < 8 && n < limit; k++, n++) {
		idx = start + n;
		asm volatile("" : "+r"(idx));
		if (idx >= KN_HTTP_WINDOW_BYTES || s->buf[idx] == '\n')
			break;
	}
	return n;
}

/* kn_skip_to_lf for the event parser; global, so checked once by the
 * verifier. */
__noinline int kn_sse_skip_run(struct kn_http_scratch *s, __u32 limit)
{
	return kn_skip_to_lf(s, limit);
}

/* Bytes of a header value read in one step before the byte parser takes
 * over (a Content-Length's digits, the blanks before a Content-Type). */
#define KN_HTTP_VALUE_RUN_BYTES 32

/*
 * Which of the names looked for the header line at window offset idx
 * starts with, followed by ':' (case-insensitive): its KN_HDR_*, or
 * KN_HDR_COUNT for none, or -1 when fewer bytes than the longest name and
 * its ':' lie in the window (the byte parser then decides).
 */
static __always_inline int kn_http_line_name(const struct kn_http_scratch *s,
					     __u32 idx)
{
	__u32 h, i, len;
	__u8 c = kn_lower(s->buf[idx & (KN_HTTP_WINDOW_BYTES - 1)]);

	/* Most lines are told by their first byte. */
	if (c != 'c' && c != 't')
		return KN_HDR_COUNT;
	if (s->win_end - s->win_start < idx + KN_HDR_NAME_MAX)
		return -1;
	/* Opaque to clang, so that it keeps idx (bounded here) rather than
	 * computing it again from pos (unbounded to the verifier). */
	asm volatile("" : "+r"(idx));
	if (idx > KN_HTTP_WINDOW_BYTES - KN_HDR_NAME_MAX)
		return -1;
	for (h = 0; h < KN_HDR_COUNT; h++) {
		len = kn_hdr_name_len[h];
		for (i = 0; i < KN_HDR_NAME_MAX && i < len; i++)
			if (kn_lower(s->buf[idx + i]) !=
			    (__u8)kn_hdr_names[h][i])
				break;
		if (i == len && i < KN_HDR_NAME_MAX && s->buf[idx + i] == ':')
			return h;
	}
	return KN_HDR_COUNT;
}

/*
 * The bytes of the headers that the byte parser would read without a
 * decision, taken in one step: a header line's name (one of the three, or
 * none: then the rest of the line is skipped), the rest of a skipped line
 * or of the status line up to its '\n', a Content-Length's digits and
 * blanks, the blanks before a Content-Type and its first byte when that
 * cannot start text/event-stream. The state it leaves is the one
 * the byte parser would leave at the same byte (but for the name match's
 * bookkeeping in a skipped line, which nothing reads). It stops before a
 * '\n' and wherever a byte needs kn_http_header_byte. Global, so checked
 * once by the verifier. Returns how many bytes it consumed from s->pos.
 */
__noinline int kn_http_header_run(struct kn_http_scratch *s)
{
	struct kn_http_state *st;
	__u32 n = 0, k, idx, avail;
	int h;
	__u8 c;

	if (!s || s->pos < s->win_start || s->pos >= s->win_end)
		return 0;
	st = &s->st;
	idx = s->pos - s->win_start;
	avail = s->win_end - s->pos;
	if (idx >= KN_HTTP_WINDOW_BYTES)
		return 0;
	if (st->step == KN_H_LINE_START) {
		c = s->buf[idx];
		if (c == '\r' || c == '\n')
			return 0;
		h = kn_http_line_name(s, idx);
		if (h < 0)
			return 0;
		if (h < KN_HDR_COUNT) {
			st->step = kn_hdr_steps[h];
			st->header = 1U << h;
			st->match = 0;
			n = kn_hdr_name_len[h] + 1;
		} else {
			/* No name looked for: the line is skipped from its
			 * second byte (the first is not '\n'). */
			st->step = KN_H_SKIP_LINE;
			n = 1;
		}
	}
	if (st->step == KN_H_CONTENT_LENGTH ||
	    (st->step == KN_H_CONTENT_TYPE && st->match == 0)) {
		for (k = 0; k < KN_HTTP_VALUE_RUN_BYTES && n < avail;
		     k++, n++) {
			__u32 i = idx + n;

			asm volatile("" : "+r"(i));
			if (i >= KN_HTTP_WINDOW_BYTES)
				return n;
			c = s->buf[i];
			if (c == '\n')
				return n;
			if (c == ' ' || c == '\t')
				continue;
			if (st->step == KN_H_CONTENT_LENGTH) {
				if (c == '\r')
					continue;
				if (c >= '0' && c <= '9') {
					st->flags |= KN_HTTP_F_HAS_LENGTH;
					if (st->remaining < KN_HTTP_LENGTH_MAX)
						st->remaining =
						    st->remaining * 10 +
						    (c - '0');
					continue;
				}
			} else if (kn_lower(c) == 't') {
				/* Perhaps text/event-stream: the byte
				 * parser's. */
				return n;
			}
			/* Not a length, not an event stream. */
			st->step = KN_H_SKIP_LINE;
			n++;
			break;
		}
	}
	if (st->step != KN_H_SKIP_LINE && st->step != KN_H_STATUS_LINE)
		return n;
	/* The rest of the line up to its '\n'. */
	s->pos += n;
	n += kn_skip_to_lf(s, KN_SSE_SKIP_RUN_BYTES);
	s->pos = s->win_start + idx;
	return n;
}

/* Rounds of kn_http_header_lines per loop step: a header line each, as a
 * rule (a response's headers in one or two steps). */
#define KN_HTTP_HEADER_ROUNDS 16

/*
 * Header lines from s->pos: the bytes that need no decision
 * (kn_http_header_run), then the one that does (kn_http_header_byte, most
 * often a line's '\n'), round after round, while the headers last and the
 * window holds bytes. One loop step used to read one byte; a step's call
 * costs tens of ns where the CPU's return thunks are on. Global, so checked
 * once by the verifier. Returns 0.
 */
__noinline int kn_http_header_lines(struct kn_http_scratch *s)
{
	__u32 k, idx;
	__u8 c;

	if (!s)
		return 0;
	for (k = 0; k < KN_HTTP_HEADER_ROUNDS; k++) {
		if (s->st.phase != KN_HTTP_HEADERS)
			break;
		s->pos += kn_http_header_run(s);
		idx = s->pos - s->win_start;
		if (s->pos < s->win_start || s->pos >= s->win_end ||
		    idx >= KN_HTTP_WINDOW_BYTES)
			break; /* the next step asks for a window */
		c = s->buf[idx];
		s->pos++;
		/* A line's end, as kn_http_header_byte takes it, without
		 * the call. */
		if (c == '\n' && s->st.step != KN_H_LINE_START &&
		    s->st.step != KN_H_END_CR)
			s->st.step = KN_H_LINE_START;
		else
			kn_http_header_byte(s, c);
	}
	return 0;
}

/*
 * Body bytes at s->pos: at most `limit` of them (the chunk's or the
 * length's rest, or all for a body until close). Outside an event stream
 * they are skipped at once; inside, a byte is read, or a run of a skipped
 * line's bytes. Returns how many were consumed (0: the byte lies outside
 * the window).
 */
static __always_inline __u64 kn_http_body_bytes(struct kn_http_scratch *s,
						__u64 limit)
{
	__u64 avail = s->end - s->pos;
	__u32 idx;

	if (limit == 0 || avail == 0)
		return 0;
	s->found |= KN_FOUND_FIRST_BODY;
	if (!(s->st.flags & KN_HTTP_F_SSE)) {
		avail = avail < limit ? avail : limit;
		s->pos += avail;
		return avail;
	}
	idx = s->pos - s->win_start;
	if (s->pos < s->win_start || idx >= KN_HTTP_WINDOW_BYTES ||
	    s->pos >= s->win_end)
		return 0;
	if (s->st.sse == KN_S_SKIP || s->st.sse == KN_S_DATA_SKIP) {
		int run = kn_sse_skip_run(s, limit < KN_SSE_SKIP_RUN_BYTES
						 ? limit
						 : KN_SSE_SKIP_RUN_BYTES);

		if (run > 0) {
			if (s->st.sse == KN_S_DATA_SKIP)
				s->found |= KN_FOUND_EVENT_DATA;
			s->pos += run;
			return run;
		}
	}
	kn_sse_byte(s, s->buf[idx]);
	s->pos++;
	return 1;
}

/* One byte of chunk framing (sizes, line ends, trailer). */
__noinline int kn_http_chunk_byte(struct kn_http_scratch *s, __u8 c)
{
	struct kn_http_state *st = &s->st;
	int digit;

	if (!s)
		return 0;
	switch (st->step) {
	case KN_C_SIZE:
		digit = kn_hex_value(c);
		if (digit >= 0 && st->match < KN_HTTP_CHUNK_DIGITS_MAX) {
			st->remaining = st->remaining * 16 + digit;
			st->match++;
			return 0;
		}
		if (st->match == 0 || digit >= 0) {
			st->phase = KN_HTTP_LOST;
			return 0;
		}
		if (c == ';' || c == ' ' || c == '\t')
			st->step = KN_C_EXTENSION;
		else if (c == '\r')
			st->step = KN_C_SIZE_LF;
		else if (c == '\n')
			break; /* the size line ends */
		else
			st->phase = KN_HTTP_LOST;
		return 0;
	case KN_C_EXTENSION:
		if (c != '\n')
			return 0;
		break;
	case KN_C_SIZE_LF:
		if (c != '\n') {
			st->phase = KN_HTTP_LOST;
			return 0;
		}
		break;
	case KN_C_DATA_CR:
		if (c == '\r')
			st->step = KN_C_DATA_LF;
		else if (c == '\n')
			st->step = KN_C_SIZE;
		else
			st->phase = KN_HTTP_LOST;
		st->match = 0;
		return 0;
	case KN_C_DATA_LF:
		st->step = KN_C_SIZE;
		if (c != '\n')
			st->phase = KN_HTTP_LOST;
		return 0;
	case KN_C_TRAILER_START:
		if (c == '\r') {
			st->step = KN_C_TRAILER_CR;
			return 0;
		}
		if (c != '\n') {
			st->step = KN_C_TRAILER_LINE;
			return 0;
		}
		s->found |= KN_FOUND_END;
		st->phase = KN_HTTP_IDLE;
		return 0;
	case KN_C_TRAILER_CR:
		if (c == '\n') {
			s->found |= KN_FOUND_END;
			st->phase = KN_HTTP_IDLE;
		} else {
			st->step = KN_C_TRAILER_LINE;
		}
		return 0;
	case KN_C_TRAILER_LINE:
		if (c == '\n')
			st->step = KN_C_TRAILER_START;
		return 0;
	default:
		return 0;
	}
	/* The size line ended: data follows, or the last chunk's trailer. */
	st->match = 0;
	st->step = st->remaining ? KN_C_DATA : KN_C_TRAILER_START;
	return 0;
}

/*
 * bpf_loop callback: one step of the parse, on s->pos. Returns 1 to stop:
 * the packet is done, the response too, or the next byte needs a window.
 */
static long kn_http_step(__u32 index, void *unused)
{
	struct kn_http_scratch *s;
	__u32 zero = 0, idx;
	__u64 used;
	__u8 c;

	(void)index;
	(void)unused;
	s = bpf_map_lookup_elem(&kn_http_scratch, &zero);
	if (!s || s->pos >= s->end)
		return 1;
	switch (s->st.phase) {
	case KN_HTTP_BODY_LENGTH:
		used = kn_http_body_bytes(s, s->st.remaining);
		if (used == 0)
			return 1;
		s->st.remaining -= used;
		if (s->st.remaining == 0) {
			s->found |= KN_FOUND_END;
			s->st.phase = KN_HTTP_IDLE;
		}
		return 0;
	case KN_HTTP_BODY_CLOSE:
		return kn_http_body_bytes(s, s->end - s->pos) ? 0 : 1;
	case KN_HTTP_BODY_CHUNKED:
		if (s->st.step != KN_C_DATA)
			break;
		used = kn_http_body_bytes(s, s->st.remaining);
		if (used == 0)
			return 1;
		s->st.remaining -= used;
		if (s->st.remaining == 0)
			s->st.step = KN_C_DATA_CR;
		return 0;
	case KN_HTTP_HEADERS:
		break;
	default:
		return 1;
	}
	/* Headers and chunk framing: one byte from the window. */
	idx = s->pos - s->win_start;
	if (s->pos < s->win_start || s->pos >= s->win_end ||
	    idx >= KN_HTTP_WINDOW_BYTES)
		return 1;
	if (s->st.phase == KN_HTTP_HEADERS) {
		kn_http_header_lines(s);
		return 0;
	}
	c = s->buf[idx];
	s->pos++;
	kn_http_chunk_byte(s, c);
	return 0;
}

/* Whether a response's body is being parsed or awaited. */
static __always_inline bool kn_http_in_response(__u8 phase)
{
	return phase >= KN_HTTP_HEADERS && phase <= KN_HTTP_BODY_CLOSE;
}

/*
 * Body bytes that need no reading (not an event stream, and neither the end
 * nor any framing inside this packet): counted down without copying them.
 * Returns whether the packet is done with.
 */
static __always_inline bool kn_http_skip_body(struct kn_http_state *st,
					      __u32 len, __u32 *found)
{
	if (st->flags & KN_HTTP_F_SSE)
		return false;
	if (st->phase == KN_HTTP_BODY_CLOSE) {
		*found |= KN_FOUND_FIRST_BODY;
		return true;
	}
	if (st->phase != KN_HTTP_BODY_LENGTH &&
	    !(st->phase == KN_HTTP_BODY_CHUNKED && st->step == KN_C_DATA))
		return false;
	if (st->remaining <= len)
		return false;
	st->remaining -= len;
	*found |= KN_FOUND_FIRST_BODY;
	return true;
}

/* Parses the packet's payload from the state saved in the reply entry. */
static __always_inline __u32 kn_http_parse(struct __sk_buff *skb,
					   const struct kn_pkt *p,
					   struct kn_reply *reply)
{
	struct kn_http_scratch *s;
	__u32 zero = 0, w, len;

	s = bpf_map_lookup_elem(&kn_http_scratch, &zero);
	if (!s)
		return 0;
	s->st = reply->http;
	s->pos = p->payload_off;
	s->end = p->payload_off + p->payload_len;
	s->win_start = 0;
	s->win_end = 0;
	s->found = 0;
	for (w = 0; w < KN_HTTP_WINDOWS; w++) {
		if (s->pos >= s->end || !kn_http_in_response(s->st.phase))
			break;
		len = s->end - s->pos;
		if (len > KN_HTTP_WINDOW_BYTES)
			len = KN_HTTP_WINDOW_BYTES;
		asm volatile("" : "+r"(len));
		if (len == 0 || len > KN_HTTP_WINDOW_BYTES)
			break;
		if (bpf_skb_load_bytes(skb, s->pos, s->buf, len))
			break;
		s->win_start = s->pos;
		s->win_end = s->pos + len;
		/* A window's bytes, plus the skips around them. */
		bpf_loop(2 * KN_HTTP_WINDOW_BYTES, kn_http_step, NULL, 0);
	}
	if (s->pos < s->end && kn_http_in_response(s->st.phase))
		s->st.phase = KN_HTTP_LOST; /* out of windows */
	reply->http = s->st;
	return s->found;
}

/* Records what one packet's parse found into the backend's counters. */
static __always_inline void kn_http_record(struct kn_reply *reply,
					   struct kn_backend_stats *stats,
					   __u32 found, __u64 now)
{
	struct kn_http_state *st = &reply->http;
	struct kn_response_timing *timing;
	__u64 us;

	if (!found)
		return;
	if ((found & KN_FOUND_STREAM) && stats)
		stats->http_streams++;
	if ((found & KN_FOUND_ERROR) && !(st->flags & KN_HTTP_F_ERROR_EVENT)) {
		st->flags |= KN_HTTP_F_ERROR_EVENT;
		if (stats)
			stats->http_stream_errors++;
	}
	timing = bpf_map_lookup_elem(&kn_response_timing, &reply->stats_index);
	if (!timing)
		return;
	if ((found & KN_FOUND_FIRST_BODY) &&
	    !(st->flags & KN_HTTP_F_FIRST_BODY)) {
		st->flags |= KN_HTTP_F_FIRST_BODY;
		us = kn_elapsed_us(st->request_ns, now);
		if (us)
			kn_hist_add(&timing->first_body, us);
	}
	if (found & KN_FOUND_EVENT_DATA) {
		us = kn_elapsed_us(st->last_event_ns, now);
		if (us)
			kn_hist_add(&timing->event_gap, us);
		st->last_event_ns = now;
	}
	if (found & KN_FOUND_END) {
		us = kn_elapsed_us(st->request_ns, now);
		if (us)
			kn_hist_add(&timing->end, us);
	}
}

/* A status line at the start of this packet: a response begins. */
static __always_inline void kn_http_begin(struct kn_http_state *st,
					  const char *status, int class,
					  __u64 request_ns)
{
	__builtin_memset(st, 0, sizeof(*st));
	st->phase = KN_HTTP_HEADERS;
	st->request_ns = request_ns;
	if (class == 1)
		st->flags |= KN_HTTP_F_INTERIM | KN_HTTP_F_NO_BODY;
	/* 204 No Content and 304 Not Modified have no body. */
	if ((status[9] == '2' && status[10] == '0' && status[11] == '4') ||
	    (status[9] == '3' && status[10] == '0' && status[11] == '4'))
		st->flags |= KN_HTTP_F_NO_BODY;
}

/* tc egress only: the payload can lie beyond the linear part of the skb. */
static __always_inline void
kn_http_observe_reply(struct __sk_buff *skb, const struct kn_pkt *p,
		      struct kn_reply *reply, struct kn_backend_stats *stats)
{
	char peek[KN_HTTP_STATUS_PEEK];
	__u64 now = 0, start;
	__u32 found = 0;
	int class = -1;

	if (!(reply->flags & KN_SVC_F_HTTP) || p->proto != IPPROTO_TCP_NUM)
		return;
	if (p->payload_len >= KN_HTTP_STATUS_PEEK &&
	    !kn_http_peek(skb, p, peek))
		class = kn_http_status_class(peek);
	if (class == 0) {
		if (stats)
			stats->http_responses_unparsed++;
		reply->http.phase = KN_HTTP_LOST;
	} else if (class > 0) {
		if (stats && class <= 5)
			stats->http_status[class - 1]++;
		now = bpf_ktime_get_ns();
		start = kn_http_record_latency(p, reply, now);
		kn_http_begin(&reply->http, peek, class, start);
	}
	if (p->payload_len > 0 && kn_http_in_response(reply->http.phase) &&
	    !kn_http_skip_body(&reply->http, p->payload_len, &found))
		found = kn_http_parse(skb, p, reply);
	/* The backend closing ends a body that runs until the close, and
	 * any other it cut short. */
	if ((p->tcp_flags & (TCP_FLAG_FIN | TCP_FLAG_RST)) &&
	    reply->http.phase >= KN_HTTP_BODY_LENGTH &&
	    reply->http.phase <= KN_HTTP_BODY_CLOSE) {
		found |= KN_FOUND_END;
		reply->http.phase = KN_HTTP_IDLE;
	}
	if (!found)
		return;
	if (!now)
		now = bpf_ktime_get_ns();
	kn_http_record(reply, stats, found, now);
}

#endif /* KANARY_HTTP_H */
