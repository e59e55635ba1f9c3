/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * kanary_icmp.h - ICMP errors about steered flows, translated so that they
 * reach the host that sent the quoted packet (path-MTU discovery through
 * kanary depends on it).
 *
 * An ICMP error (destination unreachable, fragmentation needed included;
 * time exceeded; parameter problem) quotes the IP header and at least the
 * first 8 bytes of the L4 header of the packet that caused it. When that
 * quoted packet belongs to a flow in the connection table:
 *
 *   ingress (XDP or tc): an error about a reply, quoted VIP:port -> client,
 *     sent towards the VIP: the quoted source and the outer destination
 *     become the flow's backend, so the error reaches the backend's socket.
 *   egress (tc): an error about a client's packet, quoted client ->
 *     backend:port, on its way to the client: the quoted destination becomes
 *     the VIP:port again, and so does the outer source when the backend
 *     itself sent the error, so the client's stack matches its socket.
 *
 * Both directions follow one rule: one side (address and port) of the
 * quoted packet becomes the flow's other face, and every outer address
 * equal to that side's old address follows it. The flow is found by the
 * quoted packet turned around: its destination sent it as its source.
 *
 * Checksums: the ICMP message (the 8-byte ICMP header and the first 28
 * quoted bytes) is read into the stack, edited there with RFC 1624 updates
 * (the quoted IP header checksum, the quoted UDP checksum when it is in the
 * quoted 8 bytes and not 0, then the ICMP checksum for every changed word)
 * and written back as one block, the same code for XDP and tc. ICMP is
 * never checksum-offloaded, and the edit keeps the message's ones'-complement
 * sum unchanged, so a CHECKSUM_COMPLETE skb stays right too. The outer IPv4
 * header is updated by hand in XDP and by bpf_l3_csum_replace in tc.
 * TCP's checksum lies beyond the quoted 8 bytes: it is left as it is (no
 * receiver checks a quoted checksum).
 *
 * Everything else passes untouched: ICMP that is not an error (echo...)
 * keeps counting as KN_R_NOT_TCP_UDP; an error about a flow kanary does not
 * know, or quoting what kanary never steers (IP options, a later fragment,
 * another protocol), counts as KN_R_ICMP_PASSED; an error too short for
 * its quote or quoting a broken IP header counts as KN_R_ICMP_MALFORMED.
 *
 * The family-specific parts are the message layout and the outer header;
 * the flow lookup and the rule above are written once for both families.
 */
#ifndef KANARY_ICMP_H
#define KANARY_ICMP_H

#include "kanary_csum.h"
#include "kanary_defs.h"
#include "kanary_maps.h"
#include "kanary_parse.h"

/* ICMPv4 error types (RFC 792) that quote the packet they are about. */
#define ICMP_DEST_UNREACH_TYPE	3 /* code 4: fragmentation needed */
#define ICMP_TIME_EXCEEDED_TYPE 11
#define ICMP_PARAM_PROBLEM_TYPE 12
#define ICMP_HDR_LEN		8
#define ICMP_QUOTED_L4_LEN	8 /* what every error quotes at least */
#define ICMP_CSUM_OFF		2 /* offsetof(struct icmphdr, checksum) */
#define KN_ADDR_WORDS		4 /* 32-bit words of a struct kn_addr */

/* An ICMPv4 error's first bytes, as far as the translation reads them. */
struct kn_icmp4_msg {
	__u8 type;
	__u8 code;
	__u16 check;
	__u32 rest; /* unused, next-hop MTU, or pointer: never changed */
	struct iphdr quoted;
	__be16 quoted_sport;
	__be16 quoted_dport;
	__be16 quoted_l4_word; /* UDP length, or TCP sequence (high) */
	__u16 quoted_l4_check; /* UDP checksum, or TCP sequence (low) */
};

/* Every field sits at its natural alignment: no padding, the wire's size. */
_Static_assert(sizeof(struct kn_icmp4_msg) ==
		   ICMP_HDR_LEN + IPV4_HDR_MIN_LEN + ICMP_QUOTED_L4_LEN,
	       "kn_icmp4_msg is the ICMPv4 header and a minimal quote");

/* What the lookup found: the new face of the quoted side. */
struct kn_icmp_target {
	struct kn_addr addr;
	__be16 port;
};

static __always_inline bool kn_icmp4_is_error(__u8 type)
{
	return type == ICMP_DEST_UNREACH_TYPE ||
	       type == ICMP_TIME_EXCEEDED_TYPE ||
	       type == ICMP_PARAM_PROBLEM_TYPE;
}

/* bytes from the frame at off into buf, in either hook; 0 or negative. */
static __always_inline long kn_load(void *ctx, const bool is_xdp, __u32 off,
				    void *buf, __u32 len)
{
	if (is_xdp)
		return bpf_xdp_load_bytes(ctx, off, buf, len);
	return bpf_skb_load_bytes(ctx, off, buf, len);
}

static __always_inline long kn_store(void *ctx, const bool is_xdp, __u32 off,
				     void *buf, __u32 len)
{
	if (is_xdp)
		return bpf_xdp_store_bytes(ctx, off, buf, len);
	return bpf_skb_store_bytes(ctx, off, buf, len, 0);
}

/*
 * The flow the quoted packet belongs to, found turned around (the quoted
 * destination sent it as its source): at ingress in kn_flows (client ->
 * VIP; its backend is the new face of the quoted source), at egress in
 * kn_replies (backend -> client; its VIP is the new face of the quoted
 * destination). Family-generic: the key carries the addresses whole.
 */
static __always_inline bool
kn_icmp_find_flow(bool egress, __u8 family, const struct kn_addr *q_src,
		  __be16 q_sport, const struct kn_addr *q_dst, __be16 q_dport,
		  __u8 proto, struct kn_icmp_target *out)
{
	struct kn_flow_key key;
	struct kn_reply *reply;
	struct kn_flow *flow;

	__builtin_memset(&key, 0, sizeof(key));
	key.src = *q_dst;
	key.sport = q_dport;
	key.dst = *q_src;
	key.dport = q_sport;
	key.proto = proto;
	key.family = family;
	if (egress) {
		reply = bpf_map_lookup_elem(&kn_replies, &key);
		if (!reply)
			return false;
		out->addr = reply->vip;
		out->port = reply->vip_port;
		return true;
	}
	flow = bpf_map_lookup_elem(&kn_flows, &key);
	if (!flow)
		return false;
	out->addr = flow->backend;
	out->port = flow->backend_port;
	return true;
}

/*
 * The part of the edit both families share: the quoted side's address
 * (words 32-bit words of q_addr) and port become target's, the quoted
 * UDP checksum (when the quote holds one, and it is not 0) follows both,
 * and the ICMP checksum *icmp_check follows every word changed. What else
 * covers the address (IPv4's quoted header checksum, ICMPv6's pseudo
 * header) is the caller's.
 */
static __always_inline void
kn_icmp_edit_quote(__u16 *icmp_check, __u32 *q_addr, __be16 *q_port,
		   __u16 *q_l4_check, __u8 proto, const int words,
		   const struct kn_icmp_target *target)
{
	__u16 check = *icmp_check;
	__u16 old_l4 = *q_l4_check;
	__u16 l4 = old_l4;
	bool udp_sum = proto == IPPROTO_UDP_NUM && old_l4 != 0;
	int i;

	for (i = 0; i < words && i < KN_ADDR_WORDS; i++) {
		check = kn_csum_replace4(check, q_addr[i], target->addr.w[i]);
		l4 = kn_csum_replace4(l4, q_addr[i], target->addr.w[i]);
		q_addr[i] = target->addr.w[i];
	}
	check = kn_csum_replace2(check, *q_port, target->port);
	l4 = kn_csum_replace2(l4, *q_port, target->port);
	*q_port = target->port;
	if (udp_sum) {
		/* UDP sends a computed 0 as 0xffff: 0 means "none". */
		if (l4 == 0)
			l4 = 0xffff;
		*q_l4_check = l4;
		check = kn_csum_replace2(check, old_l4, l4);
	}
	*icmp_check = check;
}

/*
 * Edits an ICMPv4 error's message in place (on the stack): the quoted side
 * (destination when quoted_dst, else source) becomes target, with the
 * quoted IP, quoted UDP and ICMP checksums following. Returns the side's
 * old address, which the outer header's matching address follows.
 */
static __always_inline __be32 kn_icmp4_edit(struct kn_icmp4_msg *m,
					    bool quoted_dst,
					    const struct kn_icmp_target *target)
{
	__be32 *addr = quoted_dst ? &m->quoted.daddr : &m->quoted.saddr;
	__be16 *port = quoted_dst ? &m->quoted_dport : &m->quoted_sport;
	__be32 old_addr = *addr;
	__u16 old_ip_check = m->quoted.check;

	m->quoted.check =
	    kn_csum_replace4(old_ip_check, old_addr, target->addr.w[0]);
	m->check = kn_csum_replace2(m->check, old_ip_check, m->quoted.check);
	kn_icmp_edit_quote(&m->check, addr, port, &m->quoted_l4_check,
			   m->quoted.protocol, 1, target);
	return old_addr;
}

/*
 * The outer IPv4 header: each address equal to `from` becomes `to`, the
 * header checksum by hand in XDP, by bpf_l3_csum_replace in tc. Returns 0
 * or -1 when a helper refused (tc: the caller drops the half-made packet).
 */
static __always_inline int kn_icmp4_outer(void *ctx, const bool is_xdp,
					  const struct kn_pkt *p, __be32 from,
					  __be32 to)
{
	const __u32 check_off = ETH_HLEN + offsetof(struct iphdr, check);
	__u32 addr_off[2] = {ETH_HLEN + offsetof(struct iphdr, saddr),
			     ETH_HLEN + offsetof(struct iphdr, daddr)};
	__be32 outer[2] = {p->saddr.w[0], p->daddr.w[0]};
	__u16 check;
	int i;

	if (is_xdp && kn_load(ctx, true, check_off, &check, sizeof(check)))
		return -1;
	for (i = 0; i < 2; i++) {
		if (outer[i] != from)
			continue;
		if (is_xdp)
			check = kn_csum_replace4(check, from, to);
		else if (bpf_l3_csum_replace(ctx, check_off, from, to,
					     sizeof(to)))
			return -1;
		if (kn_store(ctx, is_xdp, addr_off[i], &to, sizeof(to)))
			return -1;
	}
	if (is_xdp && kn_store(ctx, true, check_off, &check, sizeof(check)))
		return -1;
	return 0;
}

/*
 * An ICMPv4 packet that kn_parse() left as KN_R_NOT_TCP_UDP: translated
 * when it is an error about a steered flow. `egress` says which direction
 * (see the top of this file). Returns the enum kn_reason it is counted by,
 * or KN_CONTINUE when it is no ICMP error (the parser's reason stands).
 */
static __always_inline __u32 kn_icmp4(void *ctx, const struct kn_pkt *p,
				      const bool is_xdp, bool egress)
{
	struct kn_icmp_target target;
	struct kn_icmp4_msg m;
	struct kn_addr q_src = {}, q_dst = {};
	__u32 l4_len = p->l4_len;
	__be32 old_addr;
	__u8 type;

	if (l4_len < 1 || kn_load(ctx, is_xdp, p->l4_off, &type, 1))
		return KN_CONTINUE;
	if (!kn_icmp4_is_error(type))
		return KN_CONTINUE;
	/* The quote must lie within the IP packet, not in frame padding. */
	if (l4_len < sizeof(m) ||
	    kn_load(ctx, is_xdp, p->l4_off, &m, sizeof(m)))
		return KN_R_ICMP_MALFORMED;
	if (m.quoted.version != 4 || m.quoted.ihl < 5 ||
	    bpf_ntohs(m.quoted.tot_len) < IPV4_HDR_MIN_LEN + ICMP_QUOTED_L4_LEN)
		return KN_R_ICMP_MALFORMED;
	/* What kn_parse() never steers has no flow to translate for. */
	if (m.quoted.ihl != 5 || m.quoted.frag_off & bpf_htons(IP_OFFSET) ||
	    (m.quoted.protocol != IPPROTO_TCP_NUM &&
	     m.quoted.protocol != IPPROTO_UDP_NUM))
		return KN_R_ICMP_PASSED;
	/* The error must travel to the sender of the quoted packet. */
	if (p->daddr.w[0] != m.quoted.saddr)
		return KN_R_ICMP_PASSED;

	q_src.w[0] = m.quoted.saddr;
	q_dst.w[0] = m.quoted.daddr;
	if (!kn_icmp_find_flow(egress, KN_AF_INET, &q_src, m.quoted_sport,
			       &q_dst, m.quoted_dport, m.quoted.protocol,
			       &target))
		return KN_R_ICMP_PASSED;

	old_addr = kn_icmp4_edit(&m, egress, &target);
	if (kn_store(ctx, is_xdp, p->l4_off, &m, sizeof(m)) ||
	    kn_icmp4_outer(ctx, is_xdp, p, old_addr, target.addr.w[0]))
		return KN_R_REWRITE_FAILED;
	return KN_R_ICMP_REWRITTEN;
}

/* ---- ICMPv6 ----------------------------------------------------------- */

/*
 * ICMPv6 errors (RFC 4443) about IPv6 flows, by the same rule. The parser
 * walks the outer packet's extension headers (kn_parse_ipv6, the one
 * bounded walker) and reports ICMPv6 with its offset and addresses. The
 * quoted packet is read as far as its fixed header: a quote whose next
 * header is not TCP or UDP (extension headers included) passes untouched,
 * as kanary's own flows never carry extension headers in practice. What
 * is no ICMPv6 error (neighbour discovery, echo...) keeps the parser's
 * reason.
 *
 * ICMPv6's checksum covers a pseudo header with both outer addresses, and
 * IPv6 has no header checksum: an outer address that follows the quoted
 * side moves the ICMPv6 checksum too, which keeps the whole packet's sum
 * (and a CHECKSUM_COMPLETE skb->csum) unchanged.
 */
#define IPV6_VERSION_SHIFT	 28
#define ICMPV6_DEST_UNREACH_TYPE 1
#define ICMPV6_PKT_TOOBIG_TYPE	 2
#define ICMPV6_TIME_EXCEED_TYPE	 3
#define ICMPV6_PARAMPROB_TYPE	 4

/* An IPv6 header as the translation reads it. */
struct kn_ip6 {
	__be32 ver_class_flow;
	__be16 payload_len;
	__u8 nexthdr;
	__u8 hop_limit;
	__u32 saddr[KN_ADDR_WORDS];
	__u32 daddr[KN_ADDR_WORDS];
};

/* An ICMPv6 error's first bytes, as far as the translation reads them. */
struct kn_icmp6_msg {
	__u8 type;
	__u8 code;
	__u16 check;
	__u32 rest; /* unused, MTU, or pointer: never changed */
	struct kn_ip6 quoted;
	__be16 quoted_sport;
	__be16 quoted_dport;
	__be16 quoted_l4_word;
	__u16 quoted_l4_check;
};

_Static_assert(sizeof(struct kn_ip6) == IPV6_HDR_LEN,
	       "kn_ip6 is the fixed IPv6 header");
_Static_assert(sizeof(struct kn_icmp6_msg) ==
		   ICMP_HDR_LEN + IPV6_HDR_LEN + ICMP_QUOTED_L4_LEN,
	       "kn_icmp6_msg is the ICMPv6 header and a minimal quote");

static __always_inline bool kn_icmp6_is_error(__u8 type)
{
	return type == ICMPV6_DEST_UNREACH_TYPE ||
	       type == ICMPV6_PKT_TOOBIG_TYPE ||
	       type == ICMPV6_TIME_EXCEED_TYPE || type == ICMPV6_PARAMPROB_TYPE;
}

static __always_inline __u32 kn_ip6_version(const struct kn_ip6 *ip6)
{
	return bpf_ntohl(ip6->ver_class_flow) >> IPV6_VERSION_SHIFT;
}

static __always_inline bool kn_addr6_eq(const __u32 *a, const __u32 *b)
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3];
}

static __always_inline void kn_addr6_copy(struct kn_addr *to, const __u32 *from)
{
	to->w[0] = from[0];
	to->w[1] = from[1];
	to->w[2] = from[2];
	to->w[3] = from[3];
}

/*
 * An ICMPv6 packet that kn_parse() reported (KN_R_NOT_TCP_UDP, proto
 * ICMPv6, its offset past the outer extension headers): translated when it
 * is an error about a steered flow. Returns the enum kn_reason it is
 * counted by, or KN_CONTINUE when it is no ICMPv6 error (the parser's
 * reason stands).
 */
static __always_inline __u32 kn_icmp6(void *ctx, const struct kn_pkt *p,
				      const bool is_xdp, bool egress)
{
	const __u32 addr_off[2] = {ETH_HLEN + offsetof(struct kn_ip6, saddr),
				   ETH_HLEN + offsetof(struct kn_ip6, daddr)};
	struct kn_addr outer[2] = {p->saddr, p->daddr};
	struct kn_icmp_target target;
	struct kn_addr q_src, q_dst, old;
	struct kn_icmp6_msg m;
	bool moved[2] = {false, false};
	__u8 type;
	int side, i;

	if (p->l4_len < 1 || kn_load(ctx, is_xdp, p->l4_off, &type, 1) ||
	    !kn_icmp6_is_error(type))
		return KN_CONTINUE;
	/* The quote must lie within the payload, not in frame padding. */
	if (p->l4_len < sizeof(m) ||
	    kn_load(ctx, is_xdp, p->l4_off, &m, sizeof(m)))
		return KN_R_ICMP_MALFORMED;
	if (kn_ip6_version(&m.quoted) != 6 ||
	    bpf_ntohs(m.quoted.payload_len) < ICMP_QUOTED_L4_LEN)
		return KN_R_ICMP_MALFORMED;
	/* Extension headers in the quote are not walked: such errors pass. */
	if (m.quoted.nexthdr != IPPROTO_TCP_NUM &&
	    m.quoted.nexthdr != IPPROTO_UDP_NUM)
		return KN_R_ICMP_PASSED;
	if (!kn_addr6_eq(p->daddr.w, m.quoted.saddr))
		return KN_R_ICMP_PASSED;

	kn_addr6_copy(&q_src, m.quoted.saddr);
	kn_addr6_copy(&q_dst, m.quoted.daddr);
	if (!kn_icmp_find_flow(egress, KN_AF_INET6, &q_src, m.quoted_sport,
			       &q_dst, m.quoted_dport, m.quoted.nexthdr,
			       &target))
		return KN_R_ICMP_PASSED;

	old = egress ? q_dst : q_src;
	kn_icmp_edit_quote(&m.check, egress ? m.quoted.daddr : m.quoted.saddr,
			   egress ? &m.quoted_dport : &m.quoted_sport,
			   &m.quoted_l4_check, m.quoted.nexthdr, KN_ADDR_WORDS,
			   &target);
	for (side = 0; side < 2; side++) {
		__u32 *addr = outer[side].w;

		if (!kn_addr6_eq(addr, old.w))
			continue;
		for (i = 0; i < KN_ADDR_WORDS; i++) {
			m.check = kn_csum_replace4(m.check, addr[i],
						   target.addr.w[i]);
			addr[i] = target.addr.w[i];
		}
		moved[side] = true;
	}
	if (kn_store(ctx, is_xdp, p->l4_off, &m, sizeof(m)))
		return KN_R_REWRITE_FAILED;
	for (side = 0; side < 2; side++)
		if (moved[side] && kn_store(ctx, is_xdp, addr_off[side],
					    &outer[side], sizeof(outer[side])))
			return KN_R_REWRITE_FAILED;
	return KN_R_ICMP_REWRITTEN;
}

/*
 * The hook every entry point calls when kn_parse() did not hand the packet
 * to the splitter: an ICMP error in IPv4 or an ICMPv6 error, both reported
 * by the parser as "not TCP/UDP" with their protocol, is translated or
 * counted as an ICMP error; for anything else the parser's reason stands.
 */
static __always_inline __u32 kn_icmp(void *ctx, const struct kn_pkt *p,
				     const bool is_xdp, bool egress,
				     __u32 reason)
{
	__u32 verdict = KN_CONTINUE;

	if (reason != KN_R_NOT_TCP_UDP)
		return reason;
	if (p->family == KN_AF_INET && p->proto == IPPROTO_ICMP_NUM)
		verdict = kn_icmp4(ctx, p, is_xdp, egress);
	else if (p->family == KN_AF_INET6 && p->proto == IPPROTO_ICMPV6_NUM)
		verdict = kn_icmp6(ctx, p, is_xdp, egress);
	return verdict == KN_CONTINUE ? reason : verdict;
}

#endif /* KANARY_ICMP_H */
