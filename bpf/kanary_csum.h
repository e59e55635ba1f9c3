/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * kanary_csum.h - rewriting an address and port with correct checksums.
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

/* The folded TCP/UDP pseudo-header sum: what CHECKSUM_PARTIAL leaves in the
 * checksum field for the hardware (or the stack) to finish. */
static __always_inline __u16 kn_pseudo_sum(const struct kn_pkt *p)
{
	__u32 l4_len = p->l3_len - IPV4_HDR_MIN_LEN;
	__u32 sum = 0;

	sum += (p->saddr & 0xffff) + (p->saddr >> 16);
	sum += (p->daddr & 0xffff) + (p->daddr >> 16);
	sum += bpf_htons((__u16)p->proto);
	sum += bpf_htons((__u16)l4_len);
	return kn_csum_fold(sum);
}

static __always_inline bool kn_csum_looks_partial(const struct kn_pkt *p)
{
	/* UDP 0 means "no checksum": kept as is, never partial. */
	if (p->proto == IPPROTO_UDP_NUM && p->l4_csum == 0)
		return false;
	return p->l4_csum == kn_pseudo_sum(p);
}

/*
 * XDP: rewrite the destination (to_dst) or the source address and port of
 * a parsed IPv4 TCP/UDP packet, updating both checksums. Returns 0, or -1
 * when the headers are no longer within bounds (never after kn_parse).
 */
static __always_inline int kn_xdp_rewrite(struct kn_pkt *p, bool to_dst,
					  __be32 new_addr, __be16 new_port)
{
	void *data_end = p->data_end;
	struct iphdr *ip = p->data + ETH_HLEN;
	__u16 *l4_csum;
	__be16 *port;
	__be32 old_addr;
	__be16 old_port;

	if ((void *)(ip + 1) > data_end)
		return -1;
	if (p->proto == IPPROTO_TCP_NUM) {
		struct tcphdr *th = (void *)(ip + 1);

		if ((void *)(th + 1) > data_end)
			return -1;
		l4_csum = &th->check;
		port = to_dst ? &th->dest : &th->source;
	} else {
		struct udphdr *uh = (void *)(ip + 1);

		if ((void *)(uh + 1) > data_end)
			return -1;
		l4_csum = &uh->check;
		port = to_dst ? &uh->dest : &uh->source;
	}

	old_addr = to_dst ? ip->daddr : ip->saddr;
	old_port = *port;
	ip->check = kn_csum_replace4(ip->check, old_addr, new_addr);
	if (!(p->proto == IPPROTO_UDP_NUM && *l4_csum == 0)) {
		__u16 check = kn_csum_replace4(*l4_csum, old_addr, new_addr);

		check = kn_csum_replace2(check, old_port, new_port);
		/* UDP sends a computed 0 as 0xffff: 0 means "none". */
		if (p->proto == IPPROTO_UDP_NUM && check == 0)
			check = 0xffff;
		*l4_csum = check;
	}
	if (to_dst)
		ip->daddr = new_addr;
	else
		ip->saddr = new_addr;
	*port = new_port;
	return 0;
}

/*
 * tc: the same rewrite through the kernel's helpers. A failure after the
 * first helper leaves a half-rewritten packet: the caller drops it.
 */
static __always_inline int kn_tc_rewrite(struct __sk_buff *skb,
					 const struct kn_pkt *p, bool to_dst,
					 __be32 new_addr, __be16 new_port)
{
	__u32 addr_off = ETH_HLEN + (to_dst ? offsetof(struct iphdr, daddr)
					    : offsetof(struct iphdr, saddr));
	__u32 ip_csum_off = ETH_HLEN + offsetof(struct iphdr, check);
	__u32 l4_csum_off =
	    p->l4_off +
	    (p->proto == IPPROTO_TCP_NUM ? TCP_CSUM_OFF : UDP_CSUM_OFF);
	/* source and dest are the first two 16-bit words of TCP and UDP */
	__u32 port_off = p->l4_off + (to_dst ? sizeof(__be16) : 0);
	__be32 old_addr = to_dst ? p->daddr : p->saddr;
	__be16 old_port = to_dst ? p->dport : p->sport;
	__u64 mangled_0 =
	    p->proto == IPPROTO_UDP_NUM ? BPF_F_MARK_MANGLED_0 : 0;
	/* A UDP datagram without checksum: the csum helpers leave it alone,
	 * so nothing compensates the port's new bytes in skb->csum when the
	 * skb carries CHECKSUM_COMPLETE; the store must update it. The
	 * address needs none: the IP header checksum moves with it. */
	__u64 port_store_flags = p->proto == IPPROTO_UDP_NUM && p->l4_csum == 0
				     ? BPF_F_RECOMPUTE_CSUM
				     : 0;

	if (bpf_l4_csum_replace(skb, l4_csum_off, old_addr, new_addr,
				BPF_F_PSEUDO_HDR | mangled_0 |
				    sizeof(new_addr)))
		return -1;
	if (bpf_l4_csum_replace(skb, l4_csum_off, old_port, new_port,
				mangled_0 | sizeof(new_port)))
		return -1;
	if (bpf_l3_csum_replace(skb, ip_csum_off, old_addr, new_addr,
				sizeof(new_addr)))
		return -1;
	if (bpf_skb_store_bytes(skb, addr_off, &new_addr, sizeof(new_addr), 0))
		return -1;
	if (bpf_skb_store_bytes(skb, port_off, &new_port, sizeof(new_port),
				port_store_flags))
		return -1;
	return 0;
}

#endif /* KANARY_CSUM_H */
