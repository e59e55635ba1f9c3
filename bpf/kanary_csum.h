/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * kanary_csum.h - rewriting an address and port with correct checksums,
 * IPv4 (header and L4 checksums) and IPv6 (L4 only, over 128-bit addresses).
 *
 * tc: the kernel's bpf_l3/l4_csum_replace helpers know the skb's checksum
 * state (full, CHECKSUM_PARTIAL, CHECKSUM_COMPLETE) and update it right.
 *
 * XDP: the program sees raw bytes only. A full checksum is updated here by
 * RFC 1624 (HC' = ~(~HC + ~m + m')). A packet whose TCP/UDP checksum is still
 * to be finished by an offload (CHECKSUM_PARTIAL, as from a local sender
 * through veth) holds only the folded pseudo-header sum, which needs the
 * opposite update; XDP cannot see which kind it has, so a packet whose field
 * equals its own pseudo-header sum is left to the tc ingress program, which
 * kanary attaches in XDP mode too. A full checksum that happens to look
 * like that (1 in 65536) takes the same slow path and stays correct.
 */
#ifndef KANARY_CSUM_H
#define KANARY_CSUM_H

#include "kanary_defs.h"
#include "kanary_parse.h"

static __always_inline __u16 kn_csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

/* RFC 1624 eqn. 3 for a 32-bit field, all values raw (network order). */
static __always_inline __u16 kn_csum_replace4(__u16 check, __u32 from, __u32 to)
{
	__u32 sum = (__u16)~check;

	sum += (~from & 0xffff) + (~from >> 16);
	sum += (to & 0xffff) + (to >> 16);
	return (__u16)~kn_csum_fold(sum);
}

static __always_inline __u16 kn_csum_replace2(__u16 check, __u16 from, __u16 to)
{
	__u32 sum = (__u16)~check;

	sum += (__u16)~from;
	sum += to;
	return (__u16)~kn_csum_fold(sum);
}

/* The sum of an address's 16-bit halves: one word for IPv4, four for
 * IPv6 (IPv4 leaves w[1..3] zero, but need not add them). */
static __always_inline __u32 kn_addr_sum(const struct kn_addr *a, __u8 family)
{
	__u32 sum = (a->w[0] & 0xffff) + (a->w[0] >> 16);
	__u32 i;

	if (family != KN_AF_INET6)
		return sum;
	for (i = 1; i < 4; i++)
		sum += (a->w[i] & 0xffff) + (a->w[i] >> 16);
	return sum;
}

/* The folded TCP/UDP pseudo-header sum: what CHECKSUM_PARTIAL leaves in the
 * checksum field for the hardware (or the stack) to finish. IPv6's (RFC
 * 8200 8.1) holds a 32-bit length whose high half is zero here. */
static __always_inline __u16 kn_pseudo_sum(const struct kn_pkt *p)
{
	__u32 sum = 0;

	sum += kn_addr_sum(&p->saddr, p->family);
	sum += kn_addr_sum(&p->daddr, p->family);
	sum += bpf_htons((__u16)p->proto);
	sum += bpf_htons((__u16)p->l4_len);
	return kn_csum_fold(sum);
}

static __always_inline bool kn_csum_looks_partial(const struct kn_pkt *p)
{
	/* UDP 0 means "no checksum" (IPv4 only): kept as is, never partial. */
	if (p->proto == IPPROTO_UDP_NUM && p->l4_csum == 0)
		return false;
	return p->l4_csum == kn_pseudo_sum(p);
}

/* In place (XDP, tc ingress): where the TCP/UDP checksum and the port to
 * rewrite are, within bounds; -1 when the headers are no longer (never
 * after kn_parse). The caller passes l4_off: IPv4's is a constant. */
static __always_inline int kn_l4_fields_in_place(const struct kn_pkt *p,
						 __u32 l4_off, bool to_dst,
						 __u16 **l4_csum, __be16 **port)
{
	void *l4;

	if (l4_off > KN_L4_OFF_MAX)
		return -1;
	l4 = p->data + l4_off;
	if (p->proto == IPPROTO_TCP_NUM) {
		struct tcphdr *th = l4;

		if ((void *)(th + 1) > p->data_end)
			return -1;
		*l4_csum = &th->check;
		*port = to_dst ? &th->dest : &th->source;
	} else {
		struct udphdr *uh = l4;

		if ((void *)(uh + 1) > p->data_end)
			return -1;
		*l4_csum = &uh->check;
		*port = to_dst ? &uh->dest : &uh->source;
	}
	return 0;
}

/* A full IPv4 TCP/UDP checksum after its address and port moved (RFC
 * 1624). UDP's "none" (0) stays none; a computed 0 is sent as 0xffff. */
static __always_inline __u16 kn_l4_csum4_moved(__u16 check, __u8 proto,
					       __be32 old_addr, __be32 new_addr,
					       __be16 old_port, __be16 new_port)
{
	if (proto == IPPROTO_UDP_NUM && check == 0)
		return 0;
	check = kn_csum_replace4(check, old_addr, new_addr);
	check = kn_csum_replace2(check, old_port, new_port);
	if (proto == IPPROTO_UDP_NUM && check == 0)
		check = 0xffff;
	return check;
}

/* An IPv6 TCP/UDP checksum after its address (all 16 bytes, in the
 * pseudo-header) and port moved (RFC 1624). UDP sends a computed 0 as
 * 0xffff: 0 is never valid in IPv6. */
static __always_inline __u16 kn_l4_csum6_moved(__u16 check, __u8 proto,
					       const struct kn_addr *old_addr,
					       const struct kn_addr *new_addr,
					       __be16 old_port, __be16 new_port)
{
	__u32 i;

	for (i = 0; i < 4; i++)
		check = kn_csum_replace4(check, old_addr->w[i], new_addr->w[i]);
	check = kn_csum_replace2(check, old_port, new_port);
	if (proto == IPPROTO_UDP_NUM && check == 0)
		check = 0xffff;
	return check;
}

/* In place, IPv6: no header checksum; the L4 one covers all 16 bytes. */
static __always_inline int kn_rewrite6_in_place(struct kn_pkt *p, bool to_dst,
						const struct kn_addr *new_addr,
						__be16 new_port)
{
	struct ipv6hdr *ip6 = p->data + ETH_HLEN;
	const struct kn_addr *old_addr = to_dst ? &p->daddr : &p->saddr;
	struct kn_addr *addr;
	__u16 *l4_csum;
	__be16 *port;

	if ((void *)(ip6 + 1) > p->data_end)
		return -1;
	if (kn_l4_fields_in_place(p, p->l4_off, to_dst, &l4_csum, &port))
		return -1;
	addr = to_dst ? (struct kn_addr *)&ip6->daddr
		      : (struct kn_addr *)&ip6->saddr;
	*l4_csum = kn_l4_csum6_moved(*l4_csum, p->proto, old_addr, new_addr,
				     *port, new_port);
	*addr = *new_addr;
	*port = new_port;
	return 0;
}

/*
 * In place, through the packet's pointers (XDP, tc ingress): rewrite the
 * destination (to_dst) or the source address and port of a parsed TCP/UDP
 * packet whose L4 checksum is full, updating its checksums. Returns 0, or
 * -1 when the headers are no longer within bounds (never after kn_parse).
 */
static __always_inline int kn_rewrite_in_place(struct kn_pkt *p, bool to_dst,
					       const struct kn_addr *new_addr,
					       __be16 new_port)
{
	struct iphdr *ip = p->data + ETH_HLEN;
	__be32 addr4 = new_addr->w[0];
	__u16 *l4_csum;
	__be16 *port;
	__be32 old_addr;
	__be16 old_port;

	if (p->family == KN_AF_INET6)
		return kn_rewrite6_in_place(p, to_dst, new_addr, new_port);
	if ((void *)(ip + 1) > p->data_end)
		return -1;
	if (kn_l4_fields_in_place(p, ETH_HLEN + IPV4_HDR_MIN_LEN, to_dst,
				  &l4_csum, &port))
		return -1;

	old_addr = to_dst ? ip->daddr : ip->saddr;
	old_port = *port;
	ip->check = kn_csum_replace4(ip->check, old_addr, addr4);
	*l4_csum = kn_l4_csum4_moved(*l4_csum, p->proto, old_addr, addr4,
				     old_port, new_port);
	if (to_dst)
		ip->daddr = addr4;
	else
		ip->saddr = addr4;
	*port = new_port;
	return 0;
}

/* The checksum difference of an address's change (what bpf_csum_diff
 * gives, folded), summed here: one helper call less. */
static __always_inline __u32 kn_addr_diff(const struct kn_addr *old,
					  const struct kn_addr *new)
{
	__u32 sum = 0;
	__u32 i;

	for (i = 0; i < 4; i++) {
		sum += (~old->w[i] & 0xffff) + (~old->w[i] >> 16);
		sum += (new->w[i] & 0xffff) + (new->w[i] >> 16);
	}
	return kn_csum_fold(sum);
}

/* kn_addr_diff for IPv4's one word. */
static __always_inline __u32 kn_addr4_diff(__be32 old, __be32 new)
{
	return kn_csum_fold((~old & 0xffff) + (~old >> 16) + (new & 0xffff) +
			    (new >> 16));
}

/* The checksum difference of a port's change, to add to kn_addr_diff's. */
static __always_inline __u32 kn_port_diff(__be16 old, __be16 new)
{
	return (__u16)~old + (__u32) new;
}

/*
 * tc, how the L4 checksum moves. Its field either holds a full checksum or,
 * under CHECKSUM_PARTIAL, only the pseudo-header's sum for an offload to
 * finish: then the address's change (pseudo-header) goes into it and the
 * port's does not. A field that does not look partial is a full one (the
 * premise XDP translates by, see kn_csum_looks_partial): one helper call
 * hands it the whole difference, address and port, as a pseudo-header
 * change, and the store then puts the port's difference back into
 * skb->csum under CHECKSUM_COMPLETE (BPF_F_RECOMPUTE_CSUM), which the
 * helper took out with the rest. A field that looks partial takes two
 * calls, the port's without BPF_F_PSEUDO_HDR: the helper knows the skb's
 * state and does what each needs. Returns the store's flags (for the
 * bytes of the port; the address's are the caller's), or -1.
 */
static __always_inline __s64 kn_tc_l4_csum(struct __sk_buff *skb,
					   const struct kn_pkt *p,
					   __u32 l4_csum_off, __u32 addr_diff,
					   __be16 old_port, __be16 new_port)
{
	__u64 mangled_0 =
	    p->proto == IPPROTO_UDP_NUM ? BPF_F_MARK_MANGLED_0 : 0;

	if (!kn_csum_looks_partial(p)) {
		__u32 diff =
		    kn_csum_fold(addr_diff + kn_port_diff(old_port, new_port));

		if (bpf_l4_csum_replace(skb, l4_csum_off, 0, diff,
					BPF_F_PSEUDO_HDR | mangled_0))
			return -1;
		return BPF_F_RECOMPUTE_CSUM;
	}
	if (bpf_l4_csum_replace(skb, l4_csum_off, 0, addr_diff,
				BPF_F_PSEUDO_HDR | mangled_0))
		return -1;
	if (bpf_l4_csum_replace(skb, l4_csum_off, old_port, new_port,
				mangled_0 | sizeof(new_port)))
		return -1;
	return 0;
}

/*
 * tc, IPv6: no header checksum. The address is stored with
 * BPF_F_RECOMPUTE_CSUM: under CHECKSUM_COMPLETE the L4 helper takes the
 * pseudo-header's difference out of skb->csum as IPv4 needs (its header
 * checksum moves the other way), and the store puts the new bytes'
 * difference back, which is right on every kernel, with or without
 * BPF_F_IPV6.
 */
static __always_inline int kn_tc_rewrite6(struct __sk_buff *skb,
					  const struct kn_pkt *p, bool to_dst,
					  __u32 l4_csum_off,
					  const struct kn_addr *new_addr,
					  __be16 new_port)
{
	__u32 addr_off = ETH_HLEN + (to_dst ? offsetof(struct ipv6hdr, daddr)
					    : offsetof(struct ipv6hdr, saddr));
	/* source and dest are the first two 16-bit words of TCP and UDP */
	__u32 port_off = p->l4_off + (to_dst ? sizeof(__be16) : 0);
	__be16 old_port = to_dst ? p->dport : p->sport;
	const struct kn_addr *old_addr = to_dst ? &p->daddr : &p->saddr;
	__s64 port_flags;

	port_flags =
	    kn_tc_l4_csum(skb, p, l4_csum_off, kn_addr_diff(old_addr, new_addr),
			  old_port, new_port);
	if (port_flags < 0)
		return -1;
	if (bpf_skb_store_bytes(skb, addr_off, new_addr, sizeof(*new_addr),
				BPF_F_RECOMPUTE_CSUM))
		return -1;
	if (bpf_skb_store_bytes(skb, port_off, &new_port, sizeof(new_port),
				port_flags))
		return -1;
	return 0;
}

/* IPv4 without options: the header checksum, both addresses and both ports
 * are 14 bytes in a row, from the header checksum on. */
struct kn_ip4_tuple {
	__u16 check;
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
} __attribute__((packed));

/* The 14 bytes after the address and port moved, the header checksum
 * computed as XDP does (it is never offloaded). */
static __always_inline struct kn_ip4_tuple
kn_ip4_tuple_moved(const struct kn_pkt *p, bool to_dst, __be32 new_addr,
		   __be16 new_port)
{
	__be32 old_addr = to_dst ? p->daddr.w[0] : p->saddr.w[0];
	struct kn_ip4_tuple t = {
	    .check = kn_csum_replace4(p->ip_csum, old_addr, new_addr),
	    .saddr = to_dst ? p->saddr.w[0] : new_addr,
	    .daddr = to_dst ? new_addr : p->daddr.w[0],
	    .sport = to_dst ? p->sport : new_port,
	    .dport = to_dst ? new_port : p->dport,
	};

	return t;
}

#define KN_IP4_TUPLE_OFF (ETH_HLEN + offsetof(struct iphdr, check))

/*
 * tc, IPv4: one store writes the address, the port and the header checksum
 * (kn_ip4_tuple_moved): a header whose checksum moves with its address
 * sums as before, so that of the 14 bytes only the port's change counts
 * for skb->csum (CHECKSUM_COMPLETE). The L4 checksum: kn_tc_l4_csum. A
 * UDP datagram without checksum: the helpers leave it alone, so nothing
 * compensates the port's new bytes in skb->csum; the store must
 * (BPF_F_RECOMPUTE_CSUM, which kn_tc_l4_csum returns for it: a zero
 * field never looks partial).
 */
static __always_inline int kn_tc_rewrite4(struct __sk_buff *skb,
					  const struct kn_pkt *p, bool to_dst,
					  __u32 l4_csum_off,
					  const struct kn_addr *new_addr,
					  __be16 new_port)
{
	__be32 old_addr = to_dst ? p->daddr.w[0] : p->saddr.w[0];
	__be16 old_port = to_dst ? p->dport : p->sport;
	__be32 addr4 = new_addr->w[0];
	struct kn_ip4_tuple t = kn_ip4_tuple_moved(p, to_dst, addr4, new_port);
	__s64 store_flags;

	store_flags =
	    kn_tc_l4_csum(skb, p, l4_csum_off, kn_addr4_diff(old_addr, addr4),
			  old_port, new_port);
	if (store_flags < 0)
		return -1;
	if (bpf_skb_store_bytes(skb, KN_IP4_TUPLE_OFF, &t, sizeof(t),
				store_flags))
		return -1;
	return 0;
}

/*
 * tc: the rewrite through the kernel's helpers, right whatever the skb's
 * checksum state. A failure after the first helper leaves a half-rewritten
 * packet: the caller drops it.
 */
static __always_inline int kn_tc_rewrite(struct __sk_buff *skb,
					 const struct kn_pkt *p, bool to_dst,
					 const struct kn_addr *new_addr,
					 __be16 new_port)
{
	__u32 l4_csum_off =
	    p->l4_off +
	    (p->proto == IPPROTO_TCP_NUM ? TCP_CSUM_OFF : UDP_CSUM_OFF);

	if (p->family == KN_AF_INET6)
		return kn_tc_rewrite6(skb, p, to_dst, l4_csum_off, new_addr,
				      new_port);
	return kn_tc_rewrite4(skb, p, to_dst, l4_csum_off, new_addr, new_port);
}

/* IPv4 without options with TCP: from the header checksum to the TCP
 * checksum, 28 bytes in a row. */
struct kn_ip4_tcp_span {
	struct kn_ip4_tuple t;
	__u8 unchanged[12]; /* sequence, acknowledgment, offset, window */
	__u16 check;
} __attribute__((packed));

/* IPv6 with TCP right after its fixed header: from the source address to
 * the TCP checksum, 50 bytes in a row. */
struct kn_ip6_tcp_span {
	struct kn_addr saddr;
	struct kn_addr daddr;
	__be16 sport;
	__be16 dport;
	__u8 unchanged[12]; /* sequence, acknowledgment, offset, window */
	__u16 check;
} __attribute__((packed));

#define KN_IP6_SPAN_OFF (ETH_HLEN + offsetof(struct ipv6hdr, saddr))

/*
 * tc, TCP with a full checksum, IPv4 without options or IPv6 without
 * extension header: one store writes the addresses, the ports and the
 * checksums, all computed here as XDP does, with the bytes between read
 * from the packet and written back as they were. BPF_F_RECOMPUTE_CSUM
 * makes the store move skb->csum (CHECKSUM_COMPLETE) by what its bytes
 * moved: for IPv4 minus the address's change (in the pseudo-header, not in
 * the bytes), for IPv6 nothing (the address is in the bytes). Returns 0,
 * or -1 when the span is not linear (never after kn_tc_load's pull) or the
 * store fails.
 */
static __always_inline int
kn_tc_rewrite4_span(struct __sk_buff *skb, const struct kn_pkt *p, bool to_dst,
		    const struct kn_addr *new_addr, __be16 new_port)
{
	void *span = p->data + KN_IP4_TUPLE_OFF;
	struct kn_ip4_tcp_span s;

	if (span + sizeof(s) > p->data_end)
		return -1;
	__builtin_memcpy(&s, span, sizeof(s));
	s.t = kn_ip4_tuple_moved(p, to_dst, new_addr->w[0], new_port);
	s.check = kn_l4_csum4_moved(
	    s.check, p->proto, to_dst ? p->daddr.w[0] : p->saddr.w[0],
	    new_addr->w[0], to_dst ? p->dport : p->sport, new_port);
	if (bpf_skb_store_bytes(skb, KN_IP4_TUPLE_OFF, &s, sizeof(s),
				BPF_F_RECOMPUTE_CSUM))
		return -1;
	return 0;
}

static __always_inline int
kn_tc_rewrite6_span(struct __sk_buff *skb, const struct kn_pkt *p, bool to_dst,
		    const struct kn_addr *new_addr, __be16 new_port)
{
	void *span = p->data + KN_IP6_SPAN_OFF;
	struct kn_ip6_tcp_span s;

	if (span + sizeof(s) > p->data_end)
		return -1;
	__builtin_memcpy(&s, span, sizeof(s));
	s.check =
	    kn_l4_csum6_moved(s.check, p->proto, to_dst ? &p->daddr : &p->saddr,
			      new_addr, to_dst ? p->dport : p->sport, new_port);
	if (to_dst) {
		s.daddr = *new_addr;
		s.dport = new_port;
	} else {
		s.saddr = *new_addr;
		s.sport = new_port;
	}
	if (bpf_skb_store_bytes(skb, KN_IP6_SPAN_OFF, &s, sizeof(s),
				BPF_F_RECOMPUTE_CSUM))
		return -1;
	return 0;
}

/*
 * kn_tc_rewrite as a global function: the verifier checks it once on its
 * own, where inlined after egress's response parse its branches were
 * walked again for every path through that parse, past the verifier's
 * limit. The packet is not an argument (a pointer into it cannot be):
 * the helpers take offsets.
 */
__noinline int kn_tc_rewrite_global(struct __sk_buff *skb,
				    const struct kn_pkt *p, __u32 to_dst,
				    const struct kn_addr *new_addr,
				    __u32 new_port)
{
	if (!p || !new_addr)
		return -1;
	return kn_tc_rewrite(skb, p, to_dst, new_addr, (__be16)new_port);
}

/*
 * tc egress: the source becomes the VIP's through bpf_skb_store_bytes
 * (see kn_rewrite for why not in place): TCP with a full checksum in one
 * store (the spans above), anything else through the helpers.
 */
static __always_inline int kn_tc_rewrite_egress(struct __sk_buff *skb,
						const struct kn_pkt *p,
						const struct kn_addr *new_addr,
						__be16 new_port)
{
	if (p->proto == IPPROTO_TCP_NUM && !kn_csum_looks_partial(p)) {
		if (p->family != KN_AF_INET6)
			return kn_tc_rewrite4_span(skb, p, false, new_addr,
						   new_port);
		if (p->l4_off == ETH_HLEN + IPV6_HDR_LEN)
			return kn_tc_rewrite6_span(skb, p, false, new_addr,
						   new_port);
	}
	return kn_tc_rewrite_global(skb, p, false, new_addr, new_port);
}

/*
 * tc ingress: the rewrite in place, as XDP does it, for a packet whose L4
 * checksum is full; no helper writes the packet. What the helpers knew of
 * the skb is made up for here:
 * - a cloned skb: the verifier gives a program that writes packet data a
 *   prologue that makes the head private first (bpf_skb_pull_data), as
 *   bpf_skb_store_bytes did for each rewritten packet. Client packets from
 *   the wire are cloned only while a packet tap (tcpdump) holds a copy.
 * - CHECKSUM_COMPLETE: skb->csum sums the bytes from the Ethernet header
 *   on. The L4 checksum moves against the address (pseudo-header) and the
 *   port, so the L4 bytes' sum moves by minus the address's change. IPv4's
 *   header sums as before (its checksum moves against its address): the
 *   packet's sum moves by minus the address's change, which
 *   bpf_csum_update adds (and ignores under any other state). IPv6 has no
 *   header checksum: its address's change and the L4 bytes' cancel out.
 * A field that looks partial (CHECKSUM_PARTIAL's pseudo-header sum, see
 * kn_csum_looks_partial) and a UDP datagram without checksum go through
 * the helpers (kn_tc_rewrite), which do for each what the skb's state
 * needs.
 */
static __always_inline int
kn_tc_rewrite_in_place(struct __sk_buff *skb, struct kn_pkt *p, bool to_dst,
		       const struct kn_addr *new_addr, __be16 new_port)
{
	__be32 old_addr = to_dst ? p->daddr.w[0] : p->saddr.w[0];

	if ((p->proto == IPPROTO_UDP_NUM && p->l4_csum == 0) ||
	    kn_csum_looks_partial(p))
		return kn_tc_rewrite(skb, p, to_dst, new_addr, new_port);
	if (kn_rewrite_in_place(p, to_dst, new_addr, new_port))
		return -1;
	if (p->family == KN_AF_INET6)
		return 0;
	bpf_csum_update(skb, (__u16)~kn_addr4_diff(old_addr, new_addr->w[0]));
	return 0;
}

#endif /* KANARY_CSUM_H */
