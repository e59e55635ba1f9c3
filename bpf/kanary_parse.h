/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * kanary_parse.h - reading a packet's Ethernet, IPv4 and TCP/UDP headers.
 *
 * kn_parse() checks every header against data_end before touching it and
 * says why a packet is not a candidate for steering: not IPv4, a fragment,
 * IP options, another protocol, or malformed (truncated, impossible lengths).
 * Such packets are passed untouched by the callers, and counted.
 */
#ifndef KANARY_PARSE_H
#define KANARY_PARSE_H

#include "kanary_defs.h"
#include "kanary_shared.h"

/* Returned by kn_parse and the steering functions when a packet is to be
 * processed further: distinct from every enum kn_reason. */
#define KN_CONTINUE KN_R_COUNT

/* What the parser learnt: offsets are from the start of the frame. */
struct kn_pkt {
	void *data;
	void *data_end;
	__u32 len;    /* whole frame, including non-linear parts (tc) */
	__u32 l3_len; /* IPv4 total length */
	__u32 l4_off;
	__u32 payload_off;
	__u32 payload_len; /* TCP/UDP payload bytes */
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u16 l4_csum; /* the TCP/UDP checksum field, raw */
	__u8 proto;
	__u8 tcp_flags;
};

/* A connection-table key; padding zeroed, as hash keys need. */
static __always_inline void kn_flow_key_from(struct kn_flow_key *key,
					     __be32 src, __be16 sport,
					     __be32 dst, __be16 dport,
					     __u8 proto)
{
	__builtin_memset(key, 0, sizeof(*key));
	key->src.w[0] = src;
	key->dst.w[0] = dst;
	key->sport = sport;
	key->dport = dport;
	key->proto = proto;
	key->family = KN_AF_INET;
}

static __always_inline __u32 kn_parse(struct kn_pkt *p)
{
	void *data = p->data;
	void *data_end = p->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip;
	__u32 tot_len;

	if ((void *)(eth + 1) > data_end)
		return KN_R_MALFORMED;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return KN_R_NOT_IPV4;

	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return KN_R_MALFORMED;
	if (ip->version != 4 || ip->ihl < 5)
		return KN_R_MALFORMED;
	if (ip->ihl != 5)
		return KN_R_IP_OPTIONS;
	tot_len = bpf_ntohs(ip->tot_len);
	if (tot_len < IPV4_HDR_MIN_LEN || ETH_HLEN + tot_len > p->len)
		return KN_R_MALFORMED;
	if (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET))
		return KN_R_FRAGMENT;

	p->l3_len = tot_len;
	p->l4_off = ETH_HLEN + IPV4_HDR_MIN_LEN;
	p->saddr = ip->saddr;
	p->daddr = ip->daddr;
	p->proto = ip->protocol;

	if (ip->protocol == IPPROTO_TCP_NUM) {
		struct tcphdr *th = (void *)(ip + 1);
		__u32 doff;

		if ((void *)(th + 1) > data_end)
			return KN_R_MALFORMED;
		doff = th->doff * 4;
		if (doff < TCP_HDR_MIN_LEN || IPV4_HDR_MIN_LEN + doff > tot_len)
			return KN_R_MALFORMED;
		p->sport = th->source;
		p->dport = th->dest;
		p->l4_csum = th->check;
		p->tcp_flags = ((__u8 *)th)[13];
		p->payload_off = p->l4_off + doff;
		p->payload_len = tot_len - IPV4_HDR_MIN_LEN - doff;
		return KN_CONTINUE;
	}
	if (ip->protocol == IPPROTO_UDP_NUM) {
		struct udphdr *uh = (void *)(ip + 1);
		__u32 udp_len;

		if ((void *)(uh + 1) > data_end)
			return KN_R_MALFORMED;
		udp_len = bpf_ntohs(uh->len);
		if (udp_len < UDP_HDR_LEN ||
		    udp_len > tot_len - IPV4_HDR_MIN_LEN)
			return KN_R_MALFORMED;
		p->sport = uh->source;
		p->dport = uh->dest;
		p->l4_csum = uh->check;
		p->tcp_flags = 0;
		p->payload_off = p->l4_off + UDP_HDR_LEN;
		p->payload_len = udp_len - UDP_HDR_LEN;
		return KN_CONTINUE;
	}
	return KN_R_NOT_TCP_UDP;
}

#endif /* KANARY_PARSE_H */
