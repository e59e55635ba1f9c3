// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * kanary.bpf.c - the data path's entry points. Each one parses, hands the
 * packet to the shared splitter (kanary_steer.h), counts why the packet left
 * as it did, and turns that into the hook's verdict.
 *
 *   kanary_xdp_ingress  XDP on the node interface: client packets (fast path)
 *   kanary_tc_ingress   tc ingress: client packets in tc mode; in XDP mode,
 *                       the packets XDP cannot rewrite (offloaded checksums)
 *   kanary_tc_egress    tc egress: replies from backends, back to the VIP
 *
 * What kn_parse() does not hand to the splitter goes to kn_icmp()
 * (kanary_icmp.h): ICMP and ICMPv6 errors about steered flows are
 * translated there, in both directions.
 *
 * With "forward": "redirect", the ingress programs' verdict for a steered
 * packet comes from kanary_forward.h (bpf_fib_lookup and a redirect).
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "kanary_defs.h"
#include "kanary_forward.h"
#include "kanary_icmp.h"
#include "kanary_maps.h"
#include "kanary_parse.h"
#include "kanary_steer.h"

/*
 * Headers the tc programs read directly: Ethernet, IPv4 without options or
 * IPv6, and TCP's fixed 20 bytes (never its options; payload bytes are read
 * in place when linear, with bpf_skb_load_bytes otherwise). Almost every
 * skb has them linear already: a pull is a copy, paid only by the rare one
 * that does not. How much to want depends on the family (skb->protocol):
 * a TCP segment whose payload lies in pages has exactly its headers linear
 * (a local sender's, a driver's that splits headers), 66 bytes for IPv4
 * with timestamps, and wanting IPv6's 74 of it would pull payload bytes
 * in, a head reallocation for every such segment (and a copy of the head
 * when it is a clone, as a local sender's are). IPv6 extension headers are
 * not pulled: the stack that built or received the packet has its headers
 * linear.
 */
#define KN_TC_PULL_LEN_IPV4 (ETH_HLEN + IPV4_HDR_MIN_LEN + TCP_HDR_MIN_LEN)
#define KN_TC_PULL_LEN_IPV6 (ETH_HLEN + IPV6_HDR_LEN + TCP_HDR_MIN_LEN)

static __always_inline void kn_count(__u32 hook, __u32 reason)
{
	struct kn_global_stats *stats;

	stats = bpf_map_lookup_elem(&kn_global_ctr, &hook);
	if (!stats)
		return;
	stats->packets++;
	if (reason < KN_R_COUNT)
		stats->reason[reason]++;
}

/* Packets for a service that cannot be served are dropped and counted; all
 * others continue, translated or untouched. */
static __always_inline bool kn_reason_drops(__u32 reason)
{
	return reason == KN_R_NO_BACKEND || reason == KN_R_CONFIG_RACE ||
	       reason == KN_R_REWRITE_FAILED;
}

SEC("xdp")
int kanary_xdp_ingress(struct xdp_md *ctx)
{
	struct kn_pkt p = {
	    .data = (void *)(long)ctx->data,
	    .data_end = (void *)(long)ctx->data_end,
	};
	__u32 reason;

	p.len = p.data_end - p.data;
	reason = kn_parse(&p);
	if (reason == KN_CONTINUE)
		reason = kn_ingress(ctx, &p, true);
	else
		reason = kn_icmp(ctx, &p, true, false, reason);
	kn_count(KN_HOOK_XDP_INGRESS, reason);
	return kn_forward_xdp(ctx, reason,
			      kn_reason_drops(reason) ? XDP_DROP : XDP_PASS);
}

static __always_inline void kn_tc_load(struct __sk_buff *skb, struct kn_pkt *p)
{
	__u32 linear = skb->data_end - skb->data;
	__u32 want = skb->protocol == bpf_htons(ETH_P_IPV6)
			 ? KN_TC_PULL_LEN_IPV6
			 : KN_TC_PULL_LEN_IPV4;

	if (linear < want && skb->len > linear)
		bpf_skb_pull_data(skb, skb->len < want ? skb->len : want);
	/* Make clang re-derive the context field addresses: the verifier
	 * rejects a context pointer kept with an offset across the call. */
	asm volatile("" : "+r"(skb));
	p->data = (void *)(long)skb->data;
	p->data_end = (void *)(long)skb->data_end;
	p->len = skb->len;
}

SEC("tc")
int kanary_tc_ingress(struct __sk_buff *skb)
{
	struct kn_pkt p = {};
	__u32 reason;

	kn_tc_load(skb, &p);
	reason = kn_parse(&p);
	if (reason == KN_CONTINUE)
		reason = kn_ingress(skb, &p, false);
	else
		reason = kn_icmp(skb, &p, false, false, reason);
	kn_count(KN_HOOK_TC_INGRESS, reason);
	return kn_forward_tc(skb, &p, reason,
			     kn_reason_drops(reason) ? TC_ACT_SHOT : TC_ACT_OK);
}

SEC("tc")
int kanary_tc_egress(struct __sk_buff *skb)
{
	struct kn_pkt p = {};
	__u32 reason;

	kn_tc_load(skb, &p);
	reason = kn_parse(&p);
	if (reason == KN_CONTINUE)
		reason = kn_egress(skb, &p);
	else
		reason = kn_icmp(skb, &p, false, true, reason);
	kn_count(KN_HOOK_TC_EGRESS, reason);
	return kn_reason_drops(reason) ? TC_ACT_SHOT : TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
