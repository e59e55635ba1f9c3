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
 */
#ifndef KANARY_HTTP_H
#define KANARY_HTTP_H

#include "kanary_defs.h"
#include "kanary_maps.h"
#include "kanary_parse.h"

static __always_inline void kn_http_mark_request(struct kn_flow *flow,
						 const struct kn_pkt *p)
{
	if (!(flow->flags & KN_SVC_F_HTTP) || p->proto != IPPROTO_TCP_NUM ||
	    p->payload_len == 0 || flow->request_start_ns != 0)
		return;
	flow->request_start_ns = bpf_ktime_get_ns();
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

static __always_inline void kn_http_record_latency(const struct kn_pkt *p,
						   const struct kn_reply *reply)
{
	struct kn_flow_key key;
	struct kn_latency_hist *hist;
	struct kn_flow *flow;
	__u64 start, now, us;
	__u32 bucket;

	/* The client-side key of this connection. */
	kn_flow_key_from(&key, &p->daddr, p->dport, &reply->vip,
			 reply->vip_port, p->proto, p->family);
	flow = bpf_map_lookup_elem(&kn_flows, &key);
	if (!flow)
		return;
	start = flow->request_start_ns;
	if (start == 0)
		return;
	flow->request_start_ns = 0;
	now = bpf_ktime_get_ns();
	if (now <= start)
		return;
	us = (now - start) / NSEC_PER_USEC;

	hist = bpf_map_lookup_elem(&kn_latency, &reply->stats_index);
	if (!hist)
		return;
	bucket = kn_latency_bucket(us);
	/* The clamp inside kn_latency_bucket is invisible to the verifier once
	 * clang folds this test into it: keep an explicit one. */
	asm volatile("" : "+r"(bucket));
	if (bucket >= KN_LATENCY_BUCKETS)
		return;
	hist->count++;
	hist->sum_us += us;
	hist->buckets[bucket]++;
}

/* tc egress only: the payload can lie beyond the linear part of the skb. */
static __always_inline void
kn_http_observe_reply(struct __sk_buff *skb, const struct kn_pkt *p,
		      const struct kn_reply *reply,
		      struct kn_backend_stats *stats)
{
	char peek[KN_HTTP_STATUS_PEEK];
	int class;

	if (!(reply->flags & KN_SVC_F_HTTP) || p->proto != IPPROTO_TCP_NUM ||
	    p->payload_len < KN_HTTP_STATUS_PEEK)
		return;
	if (bpf_skb_load_bytes(skb, p->payload_off, peek, sizeof(peek)))
		return;
	class = kn_http_status_class(peek);
	if (class < 0)
		return;
	if (class == 0) {
		if (stats)
			stats->http_responses_unparsed++;
		return;
	}
	if (stats && class >= 1 && class <= 5)
		stats->http_status[class - 1]++;
	kn_http_record_latency(p, reply);
}

#endif /* KANARY_HTTP_H */
