/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * kanary_parse.h - reading a packet's Ethernet, IPv4 or IPv6 (with its
 * extension headers) and TCP/UDP headers.
 *
 * kn_parse() checks every header against data_end before touching it and
 * says why a packet is not a candidate for steering: not IP, a fragment,
 * IPv4 options or more IPv6 extension headers than are walked, another
 * protocol, or malformed (truncated, impossible lengths).
 * Such packets are passed untouched by the callers, and counted.
 *
 * ICMP (IPv4) and ICMPv6 (after the same extension-header walk) come back
 * as KN_R_NOT_TCP_UDP with the IP part of struct kn_pkt filled (family,
 * addresses, proto, l4_off, l4_len), so that kanary_icmp.h can translate
 * errors about steered flows without parsing the outer packet again.
 */
#ifndef KANARY_PARSE_H
#define KANARY_PARSE_H

#include "kanary_defs.h"
#include "kanary_shared.h"

/* Returned by kn_parse and the steering functions when a packet is to be
 * processed further: distinct from every enum kn_reason. */
#define KN_CONTINUE KN_R_COUNT

/* What the parser learnt: offsets are from the start of the frame. An
 * IPv4 address fills w[0] of its struct kn_addr, the rest stays zero. */
struct kn_pkt {
	void *data;
	void *data_end;
	__u32 len;    /* whole frame, including non-linear parts (tc) */
	__u32 l3_len; /* IPv4 total length; IPv6 header + payload length */
	__u32 l4_off;
	__u32 l4_len; /* from the TCP/UDP header on: the pseudo-header's */
	__u32 payload_off;
	__u32 payload_len; /* TCP/UDP payload bytes */
	struct kn_addr saddr;
	struct kn_addr daddr;
	__be16 sport;
	__be16 dport;
	__u16 l4_csum; /* the TCP/UDP checksum field, raw */
	__u16 ip_csum; /* IPv4: the header checksum field, raw */
	__u8 proto;
	__u8 tcp_flags;
	__u8 family; /* KN_AF_INET or KN_AF_INET6 */
};

/* A connection-table key; padding zeroed, as hash keys need. IPv4 copies
 * one word of each address: the other three are zero in both. */
static __always_inline void
kn_flow_key_from(struct kn_flow_key *key, const struct kn_addr *src,
		 __be16 sport, const struct kn_addr *dst, __be16 dport,
		 __u8 proto, __u8 family)
{
	__builtin_memset(key, 0, sizeof(*key));
	if (family == KN_AF_INET6) {
		key->src = *src;
		key->dst = *dst;
	} else {
		key->src.w[0] = src->w[0];
		key->dst.w[0] = dst->w[0];
	}
	key->sport = sport;
	key->dport = dport;
	key->proto = proto;
	key->family = family;
}

static __always_inline __u32 kn_parse_ipv4(struct kn_pkt *p)
{
	struct iphdr *ip = p->data + ETH_HLEN;
	__u32 tot_len;

	if ((void *)(ip + 1) > p->data_end)
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

	p->family = KN_AF_INET;
	p->l3_len = tot_len;
	p->l4_off = ETH_HLEN + IPV4_HDR_MIN_LEN;
	p->l4_len = tot_len - IPV4_HDR_MIN_LEN;
	p->saddr.w[0] = ip->saddr;
	p->daddr.w[0] = ip->daddr;
	p->ip_csum = ip->check;
	p->proto = ip->protocol;
	return KN_CONTINUE;
}

static __always_inline bool kn_ipv6_ext_walked(__u8 next)
{
	return next == IPV6_NEXTHDR_HOP || next == IPV6_NEXTHDR_ROUTING ||
	       next == IPV6_NEXTHDR_DEST;
}

/* The upper-layer headers the walk stops at with the packet's IP part
 * filled: TCP and UDP for the splitter, ICMPv6 for kanary_icmp.h. */
static __always_inline bool kn_ipv6_upper(__u8 next)
{
	return next == IPPROTO_TCP_NUM || next == IPPROTO_UDP_NUM ||
	       next == IPPROTO_ICMPV6_NUM;
}

/* Why the extension-header walk stopped before TCP or UDP. */
static __always_inline __u32 kn_ipv6_stop_reason(__u8 next)
{
	if (next == IPV6_NEXTHDR_FRAGMENT)
		return KN_R_FRAGMENT;
	if (kn_ipv6_ext_walked(next))
		return KN_R_IP_OPTIONS; /* more than KN_IPV6_MAX_EXT_HDRS */
	return KN_R_NOT_TCP_UDP;	/* AH, ESP, no next header... */
}

/* The IPv6 header and its extension headers (hop-by-hop, routing,
 * destination options: at most KN_IPV6_MAX_EXT_HDRS, each within the
 * payload length). */
static __always_inline __u32 kn_parse_ipv6(struct kn_pkt *p)
{
	struct ipv6hdr *ip6 = p->data + ETH_HLEN;
	__u32 off = ETH_HLEN + IPV6_HDR_LEN;
	__u32 end, i;
	__u8 next;

	if ((void *)(ip6 + 1) > p->data_end)
		return KN_R_MALFORMED;
	if (ip6->version != 6)
		return KN_R_MALFORMED;
	/* A zero payload length (a jumbogram) is malformed here too: the L4
	 * header cannot fit in it. */
	end = off + bpf_ntohs(ip6->payload_len);
	if (end > p->len)
		return KN_R_MALFORMED;
	next = ip6->nexthdr;
	for (i = 0; i < KN_IPV6_MAX_EXT_HDRS; i++) {
		struct ipv6_opt_hdr *ext;

		if (kn_ipv6_upper(next))
			break;
		if (!kn_ipv6_ext_walked(next))
			return kn_ipv6_stop_reason(next);
		ext = p->data + off;
		/* Every walked header is at least 8 bytes long. */
		if ((void *)ext + IPV6_EXT_LEN_UNIT > p->data_end)
			return KN_R_MALFORMED;
		/* Segments left: the destination is a hop, not the final
		 * one the L4 checksum covers; not kanary's to rewrite. */
		if (next == IPV6_NEXTHDR_ROUTING &&
		    ((__u8 *)ext)[IPV6_RT_SEGMENTS_LEFT_OFF] != 0)
			return KN_R_IP_OPTIONS;
		next = ext->nexthdr;
		off += ((__u32)ext->hdrlen + 1) * IPV6_EXT_LEN_UNIT;
		if (off > end)
			return KN_R_MALFORMED;
	}
	if (!kn_ipv6_upper(next))
		return kn_ipv6_stop_reason(next);

	p->family = KN_AF_INET6;
	p->l3_len = end - ETH_HLEN;
	p->l4_off = off;
	p->l4_len = end - off;
	__builtin_memcpy(&p->saddr, &ip6->saddr, sizeof(p->saddr));
	__builtin_memcpy(&p->daddr, &ip6->daddr, sizeof(p->daddr));
	p->proto = next;
	/* ICMPv6 is no TCP/UDP: reported with its offsets (see the top). */
	return next == IPPROTO_ICMPV6_NUM ? KN_R_NOT_TCP_UDP : KN_CONTINUE;
}

/* TCP or UDP at l4_off (p->l4_off), for both families: IPv4 passes its
 * constant, so that its copy of this code reads fixed offsets. */
static __always_inline __u32 kn_parse_l4(struct kn_pkt *p, __u32 l4_off)
{
	void *l4;

	if (l4_off > KN_L4_OFF_MAX)
		return KN_R_MALFORMED;
	l4 = p->data + l4_off;
	if (p->proto == IPPROTO_TCP_NUM) {
		struct tcphdr *th = l4;
		__u32 doff;

		if ((void *)(th + 1) > p->data_end)
			return KN_R_MALFORMED;
		doff = th->doff * 4;
		if (doff < TCP_HDR_MIN_LEN || doff > p->l4_len)
			return KN_R_MALFORMED;
		p->sport = th->source;
		p->dport = th->dest;
		p->l4_csum = th->check;
		p->tcp_flags = ((__u8 *)th)[13];
		p->payload_off = l4_off + doff;
		p->payload_len = p->l4_len - doff;
		return KN_CONTINUE;
	}
	if (p->proto == IPPROTO_UDP_NUM) {
		struct udphdr *uh = l4;
		__u32 udp_len;

		if ((void *)(uh + 1) > p->data_end)
			return KN_R_MALFORMED;
		udp_len = bpf_ntohs(uh->len);
		if (udp_len < UDP_HDR_LEN || udp_len > p->l4_len)
			return KN_R_MALFORMED;
		/* IPv6 has no "no checksum" (RFC 8200 8.1): the receiver
		 * drops such a datagram, kanary passes it untouched. */
		if (p->family == KN_AF_INET6 && uh->check == 0)
			return KN_R_MALFORMED;
		p->sport = uh->source;
		p->dport = uh->dest;
		p->l4_csum = uh->check;
		p->tcp_flags = 0;
		p->payload_off = l4_off + UDP_HDR_LEN;
		p->payload_len = udp_len - UDP_HDR_LEN;
		return KN_CONTINUE;
	}
	return KN_R_NOT_TCP_UDP;
}

static __always_inline __u32 kn_parse(struct kn_pkt *p)
{
	struct ethhdr *eth = p->data;
	__u32 reason;

	if ((void *)(eth + 1) > p->data_end)
		return KN_R_MALFORMED;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		reason = kn_parse_ipv4(p);
		return reason != KN_CONTINUE
			   ? reason
			   : kn_parse_l4(p, ETH_HLEN + IPV4_HDR_MIN_LEN);
	}
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		reason = kn_parse_ipv6(p);
		return reason != KN_CONTINUE ? reason
					     : kn_parse_l4(p, p->l4_off);
	}
	return KN_R_NOT_IPV4;
}

#endif /* KANARY_PARSE_H */
