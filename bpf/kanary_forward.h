/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * kanary_forward.h - the forwarding fast path ("forward": "redirect"): a
 * client packet the splitter rewrote to its backend leaves through
 * bpf_fib_lookup() and a redirect instead of the node's stack (routing
 * policy beyond the FIB, netfilter, conntrack: docs/forwarding.md).
 *
 *   tc ingress   FIB lookup; the neighbour known: MACs written, TTL or hop
 *                limit decremented, bpf_redirect() to the output device;
 *                not known yet: bpf_redirect_neigh() resolves it.
 *   XDP ingress  the packet is rewritten as in stack mode, marked in its
 *                metadata and passed: tc ingress forwards it. An XDP
 *                redirect works only to a device that takes XDP frames (a
 *                veth whose peer runs XDP or has GRO on; never a bridge),
 *                which a program cannot tell, and a refused one is a drop.
 *   tc egress    nothing: replies reach it after the stack routed them.
 *
 * Whatever the fast path cannot forward (no route, blackhole, larger than
 * the MTU, TTL expiring...) goes to the stack as in stack mode, counted by
 * reason in kn_forward_ctr. The mode is a load-time constant: in stack mode
 * the verifier drops all of this code.
 */
#ifndef KANARY_FORWARD_H
#define KANARY_FORWARD_H

#include "kanary_defs.h"
#include "kanary_maps.h"
#include "kanary_parse.h"

#define TC_ACT_REDIRECT 7
#define ETH_ALEN	6

/* The XDP program's mark for tc ingress, in the packet's metadata: this
 * packet was steered and rewritten already ("knfw"). */
#define KN_FWD_META_MAGIC 0x6b6e6677U

#define KN_IPV6_FLOWINFO_MASK bpf_htonl(0x0FFFFFFF)

/* Set by the agent before load (skeleton rodata): enum kn_forward_mode. */
const volatile __u32 kn_forward_mode = KN_FORWARD_STACK;

/* What became of steered packets in redirect mode, per program (enum
 * kn_hook) and per CPU. Written by the ingress programs; read by the
 * agent (kanary_forward_total). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KN_HOOK_COUNT);
	__type(key, __u32);
	__type(value, struct kn_forward_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kn_forward_ctr SEC(".maps");

static __always_inline void kn_forward_count(__u32 hook, __u32 result)
{
	struct kn_forward_stats *stats;

	stats = bpf_map_lookup_elem(&kn_forward_ctr, &hook);
	if (stats && result < KN_FWD_COUNT)
		stats->result[result]++;
}

/* The FIB's answers that leave the packet to the stack. */
static __always_inline __u32 kn_forward_fib_reason(long rc)
{
	switch (rc) {
	case BPF_FIB_LKUP_RET_NO_NEIGH:
		return KN_FWD_NO_NEIGH;
	case BPF_FIB_LKUP_RET_FRAG_NEEDED:
		return KN_FWD_FRAG_NEEDED;
	case BPF_FIB_LKUP_RET_BLACKHOLE:
		return KN_FWD_BLACKHOLE;
	case BPF_FIB_LKUP_RET_UNREACHABLE:
		return KN_FWD_UNREACHABLE;
	case BPF_FIB_LKUP_RET_PROHIBIT:
		return KN_FWD_PROHIBIT;
	case BPF_FIB_LKUP_RET_NOT_FWDED:
		return KN_FWD_NOT_FORWARDED;
	case BPF_FIB_LKUP_RET_FWD_DISABLED:
		return KN_FWD_FWD_DISABLED;
	case BPF_FIB_LKUP_RET_UNSUPP_LWT:
	case BPF_FIB_LKUP_RET_NO_SRC_ADDR:
		return KN_FWD_UNSUPPORTED;
	default:
		return KN_FWD_FAILED;
	}
}

/*
 * The FIB question for the rewritten packet (destination: the backend).
 * The L3 header is read again: the rewrite's helpers moved the packet.
 * tot_len stays 0 so that the kernel checks the MTU against the skb itself
 * (GSO packets are larger than the MTU and still fit once segmented).
 * Returns KN_CONTINUE, or the reason to leave the packet to the stack.
 */
static __always_inline __u32 kn_forward_fib(struct __sk_buff *skb, __u8 family,
					    struct bpf_fib_lookup *fib,
					    long *rc)
{
	void *data, *data_end;

	/* The verifier refuses a context pointer kept with an offset: make
	 * clang derive each field's address from skb itself. */
	asm volatile("" : "+r"(skb));
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	fib->ifindex = skb->ingress_ifindex;
	if (family == KN_AF_INET6) {
		struct ipv6hdr *ip6 = data + ETH_HLEN;

		if ((void *)(ip6 + 1) > data_end)
			return KN_FWD_FAILED;
		if (ip6->hop_limit <= 1)
			return KN_FWD_TTL;
		fib->family = KN_AF_INET6;
		fib->flowinfo = *(__be32 *)ip6 & KN_IPV6_FLOWINFO_MASK;
		fib->l4_protocol = ip6->nexthdr;
		__builtin_memcpy(fib->ipv6_src, &ip6->saddr, 16);
		__builtin_memcpy(fib->ipv6_dst, &ip6->daddr, 16);
	} else {
		struct iphdr *ip = data + ETH_HLEN;

		if ((void *)(ip + 1) > data_end)
			return KN_FWD_FAILED;
		if (ip->ttl <= 1)
			return KN_FWD_TTL;
		fib->family = KN_AF_INET;
		fib->tos = ip->tos;
		fib->l4_protocol = ip->protocol;
		fib->ipv4_src = ip->saddr;
		fib->ipv4_dst = ip->daddr;
	}
	*rc = bpf_fib_lookup(skb, fib, sizeof(*fib), 0);
	if (*rc != BPF_FIB_LKUP_RET_SUCCESS && *rc != BPF_FIB_LKUP_RET_NO_NEIGH)
		return kn_forward_fib_reason(*rc);
	/* The lookup checks the MTU only when it found the neighbour, and
	 * lets every GSO packet pass; the stack checks a GSO packet's
	 * segments. So does this. */
	asm volatile("" : "+r"(skb));
	if (*rc == BPF_FIB_LKUP_RET_NO_NEIGH || skb->gso_size) {
		__u32 mtu_len = 0; /* 0: measure the skb itself */

		if (bpf_check_mtu(skb, fib->ifindex, &mtu_len, 0,
				  BPF_MTU_CHK_SEGS))
			return KN_FWD_FRAG_NEEDED;
	}
	return KN_CONTINUE;
}

/* What a router does to a packet it forwards: the TTL (IPv4, with its
 * header checksum, RFC 1624) or the hop limit goes down by one; and, when
 * the FIB knew the neighbour, the Ethernet addresses of the next hop.
 * IPv4's header sum stays the same (the checksum field compensates), so a
 * CHECKSUM_COMPLETE skb->csum stays right; IPv6 has no header checksum:
 * the store updates skb->csum for the changed byte. */
static __always_inline void kn_forward_mangle(struct __sk_buff *skb,
					      __u8 family,
					      const struct bpf_fib_lookup *fib,
					      bool macs)
{
	void *data, *data_end;
	struct ethhdr *eth;

	asm volatile("" : "+r"(skb)); /* as in kn_forward_fib */
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	if (family == KN_AF_INET6) {
		struct ipv6hdr *ip6 = data + ETH_HLEN;
		__u8 hop_limit;

		if ((void *)(ip6 + 1) > data_end)
			return;
		hop_limit = ip6->hop_limit - 1;
		bpf_skb_store_bytes(
		    skb, ETH_HLEN + offsetof(struct ipv6hdr, hop_limit),
		    &hop_limit, sizeof(hop_limit), BPF_F_RECOMPUTE_CSUM);
		/* The store moved the packet: read its pointers again. */
		asm volatile("" : "+r"(skb));
		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
	} else {
		struct iphdr *ip = data + ETH_HLEN;
		__u32 check;

		if ((void *)(ip + 1) > data_end)
			return;
		check = ip->check;
		check += bpf_htons(0x0100);
		ip->check = (__u16)(check + (check >= 0xFFFF));
		ip->ttl--;
	}
	eth = data;
	if (macs && (void *)(eth + 1) <= data_end) {
		__builtin_memcpy(eth->h_dest, fib->dmac, ETH_ALEN);
		__builtin_memcpy(eth->h_source, fib->smac, ETH_ALEN);
	}
}

/* Whether the XDP program steered this packet already (its metadata). */
static __always_inline bool kn_forward_from_xdp(struct __sk_buff *skb)
{
	void *meta, *data;

	asm volatile("" : "+r"(skb)); /* as in kn_forward_fib */
	meta = (void *)(long)skb->data_meta;
	data = (void *)(long)skb->data;
	return meta + sizeof(__u32) <= data &&
	       *(__u32 *)meta == KN_FWD_META_MAGIC;
}

/*
 * tc ingress, after the splitter: a packet it rewrote to its backend (or
 * one the XDP program rewrote and marked, which reaches here as not for a
 * service) is forwarded; everything else keeps `verdict`.
 */
static __always_inline int kn_forward_tc(struct __sk_buff *skb,
					 const struct kn_pkt *p, __u32 reason,
					 int verdict)
{
	struct bpf_fib_lookup fib = {};
	struct bpf_redir_neigh nh = {};
	__u8 family = p->family;
	__u32 why;
	long rc = -1, ret;

	if (kn_forward_mode != KN_FORWARD_REDIRECT)
		return verdict;
	if (reason != KN_R_TRANSLATED &&
	    !(reason == KN_R_NOT_FOR_US && kn_forward_from_xdp(skb)))
		return verdict;

	why = kn_forward_fib(skb, family, &fib, &rc);
	if (why != KN_CONTINUE) {
		kn_forward_count(KN_HOOK_TC_INGRESS, why);
		return verdict;
	}
	if (rc == BPF_FIB_LKUP_RET_SUCCESS) {
		ret = bpf_redirect(fib.ifindex, 0);
		why = KN_FWD_REDIRECTED;
	} else {
		/* The next hop: the FIB left it in the destination (an IPv4
		 * route may have an IPv6 gateway: family says which). */
		nh.nh_family = fib.family;
		if (fib.family == KN_AF_INET6)
			__builtin_memcpy(nh.ipv6_nh, fib.ipv6_dst, 16);
		else
			nh.ipv4_nh = fib.ipv4_dst;
		ret = bpf_redirect_neigh(fib.ifindex, &nh, sizeof(nh), 0);
		why = KN_FWD_REDIRECTED_NEIGH;
	}
	if (ret != TC_ACT_REDIRECT) {
		kn_forward_count(KN_HOOK_TC_INGRESS, KN_FWD_FAILED);
		return verdict;
	}
	/* The redirect happens when the program returns: the packet can
	 * still be changed. */
	kn_forward_mangle(skb, family, &fib, rc == BPF_FIB_LKUP_RET_SUCCESS);
	kn_forward_count(KN_HOOK_TC_INGRESS, why);
	return TC_ACT_REDIRECT;
}

/*
 * XDP ingress, after the splitter: a packet it rewrote is marked in its
 * metadata for tc ingress, which forwards it (see the top of this file).
 */
static __always_inline int kn_forward_xdp(struct xdp_md *ctx, __u32 reason,
					  int verdict)
{
	void *data, *meta;

	if (kn_forward_mode != KN_FORWARD_REDIRECT || reason != KN_R_TRANSLATED)
		return verdict;
	if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(__u32))) {
		kn_forward_count(KN_HOOK_XDP_INGRESS, KN_FWD_FAILED);
		return verdict;
	}
	meta = (void *)(long)ctx->data_meta;
	data = (void *)(long)ctx->data;
	if (meta + sizeof(__u32) > data) {
		kn_forward_count(KN_HOOK_XDP_INGRESS, KN_FWD_FAILED);
		return verdict;
	}
	*(__u32 *)meta = KN_FWD_META_MAGIC;
	kn_forward_count(KN_HOOK_XDP_INGRESS, KN_FWD_XDP_TO_TC);
	return verdict;
}

#endif /* KANARY_FORWARD_H */
