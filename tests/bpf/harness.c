// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * harness.c - what the data-path tests share: a data path opened by the
 * agent's own loader (lib/datapath/open.c) under a per-run pin
 * directory, the test service, running a program on a crafted packet, and
 * reading the result. Declared in harness.h.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "harness.h"

char harness_pin_dir[HARNESS_PIN_DIR_BYTES];
int harness_family = AF_INET;

struct endpoint ep(uint32_t host_addr, uint16_t port)
{
	return ep_of(harness_family, host_addr, port);
}

void client_words(uint32_t client, __u32 words[4])
{
	struct endpoint e = ep(client, 0);

	memset(words, 0, 4 * sizeof(words[0]));
	if (harness_family == AF_INET6)
		memcpy(words, &e.addr6, sizeof(e.addr6));
	else
		words[0] = e.addr.s_addr;
}

struct dataplane *open_dp(const struct dp_options *extra)
{
	struct dp_options opts = {
	    .pin_dir = harness_pin_dir,
	    .max_flows = 1 << 18,
	    .max_services = 16,
	    .max_backends = 256,
	};
	struct dataplane *dp = NULL;
	char err[DP_ERR_LEN];
	int ret;

	if (extra) {
		opts.tcp_closing_timeout_ns = extra->tcp_closing_timeout_ns;
		opts.tcp_syn_timeout_ns = extra->tcp_syn_timeout_ns;
	}
	ret = dp_open(&opts, &dp, err, sizeof(err));
	if (!ASSERT_OK(ret, "dp_open"))
		printf("# %s\n", err);
	return ret ? NULL : dp;
}

/* A TCP service 198.18.100.1:80 with two stable and one canary replica. */
int add_service(struct dataplane *dp, uint32_t canary_bp, uint32_t *index)
{
	static const uint32_t stable[] = {STABLE_1, STABLE_2};
	struct dp_service_def def =
	    split_service_def("sentiment", ep(VIP, VIP_PORT), stable, CANARY_1,
			      BACKEND_PORT, canary_bp);
	char err[DP_ERR_LEN];
	int ret;

	ret = dp_service_add(dp, &def, index, err, sizeof(err));
	if (!ASSERT_OK(ret, "dp_service_add"))
		printf("# %s\n", err);
	return ret;
}

int run_prog(struct dataplane *dp, enum kn_hook hook, const struct pkt *in,
	     struct pkt *out, __u32 *verdict)
{
	return prog_run(dp_prog_fd(dp, hook), in, out, 1, verdict, NULL);
}

/*
 * What the kernel does with a client packet in XDP mode: XDP first, then,
 * for what XDP passes, the tc ingress program (the slow path for packets
 * XDP leaves alone, such as a checksum that looks offloaded).
 */
int run_xdp_mode(struct dataplane *dp, const struct pkt *in, struct pkt *out,
		 __u32 *verdict)
{
	struct pkt mid;
	int ret = run_prog(dp, KN_HOOK_XDP_INGRESS, in, &mid, verdict);

	if (ret || *verdict != XDP_PASS_VERDICT)
		return ret;
	return run_prog(dp, KN_HOOK_TC_INGRESS, &mid, out, verdict);
}

/* One hook alone, or the whole XDP-mode path for KN_HOOK_XDP_INGRESS. */
int run_ingress(struct dataplane *dp, enum kn_hook hook, const struct pkt *in,
		struct pkt *out, __u32 *verdict)
{
	if (hook == KN_HOOK_XDP_INGRESS)
		return run_xdp_mode(dp, in, out, verdict);
	return run_prog(dp, hook, in, out, verdict);
}

__u32 pass_verdict(enum kn_hook hook)
{
	return hook == KN_HOOK_XDP_INGRESS ? XDP_PASS_VERDICT : TC_OK_VERDICT;
}

__u32 drop_verdict(enum kn_hook hook)
{
	return hook == KN_HOOK_XDP_INGRESS ? XDP_DROP_VERDICT : TC_SHOT_VERDICT;
}

void syn_spec(struct pkt_spec *s, uint32_t client, uint16_t port)
{
	tcp_spec(s, client, port, VIP, VIP_PORT, TCPF_SYN);
	s->family = (uint8_t)harness_family;
}

void reply_spec(struct pkt_spec *s, uint32_t backend, uint32_t client,
		uint16_t port, uint8_t flags)
{
	tcp_spec(s, backend, BACKEND_PORT, client, port, flags);
	s->family = (uint8_t)harness_family;
}

static uint32_t out_addr(const struct pkt *out, bool dst)
{
	if (pkt_is_ipv6(out->data)) {
		const struct ipv6hdr *ip6 =
		    (const void *)(out->data + ETH_HLEN);

		return pkt6_host(dst ? &ip6->daddr : &ip6->saddr);
	}
	return ntohl(
	    dst ? ((const struct iphdr *)(out->data + ETH_HLEN))->daddr
		: ((const struct iphdr *)(out->data + ETH_HLEN))->saddr);
}

/* The L4 header of a frame of either family (TCP and UDP start alike). */
static const struct udphdr *out_l4(const struct pkt *out)
{
	uint32_t off = ETH_HLEN + sizeof(struct iphdr);
	uint8_t proto;

	if (pkt_is_ipv6(out->data) &&
	    !pkt6_l4(out->data, out->len, &off, &proto))
		off = ETH_HLEN + PKT6_HDR_LEN;
	return (const struct udphdr *)(out->data + off);
}

uint32_t out_daddr(const struct pkt *out)
{
	return out_addr(out, true);
}

uint32_t out_saddr(const struct pkt *out)
{
	return out_addr(out, false);
}

uint16_t out_dport(const struct pkt *out)
{
	return ntohs(out_l4(out)->dest);
}

uint16_t out_sport(const struct pkt *out)
{
	return ntohs(out_l4(out)->source);
}

uint64_t global_reason(struct dataplane *dp, enum kn_hook hook,
		       enum kn_reason reason)
{
	struct kn_global_stats stats[KN_HOOK_COUNT];

	if (dp_read_global(dp, stats))
		return UINT64_MAX;
	return stats[hook].reason[reason];
}

/* Only the addresses, ports and checksums may differ from the input. */
bool same_except_translation(const struct pkt *in, const struct pkt *out,
			     bool dst_side)
{
	struct pkt a = *in, b = *out;
	struct tcphdr *ta, *tb;

	if (in->len != out->len)
		return false;
	if (pkt_is_ipv6(a.data)) {
		struct ipv6hdr *ia = pkt_ip6(&a), *ib = pkt_ip6(&b);

		if (dst_side)
			ia->daddr = ib->daddr;
		else
			ia->saddr = ib->saddr;
	} else {
		struct iphdr *ia = pkt_ip(&a), *ib = pkt_ip(&b);

		if (dst_side)
			ia->daddr = ib->daddr;
		else
			ia->saddr = ib->saddr;
		ia->check = ib->check;
	}
	ta = (struct tcphdr *)out_l4(&a);
	tb = (struct tcphdr *)out_l4(&b);
	if (dst_side)
		ta->dest = tb->dest;
	else
		ta->source = tb->source;
	ta->check = tb->check; /* UDP's check sits elsewhere: see callers */
	return !memcmp(a.data, b.data, a.len);
}

void expect_untouched(struct dataplane *dp, enum kn_hook hook,
		      const struct pkt *in, enum kn_reason reason,
		      const char *what)
{
	uint64_t before = global_reason(dp, hook, reason);
	struct pkt out;
	__u32 verdict;

	if (!ASSERT_OK(run_prog(dp, hook, in, &out, &verdict), "run"))
		return;
	if (!ASSERT_EQ(verdict, pass_verdict(hook), "passed on") ||
	    !ASSERT_EQ(out.len, in->len, "length unchanged") ||
	    !ASSERT_MEM_EQ(out.data, in->data, in->len, what) ||
	    !ASSERT_EQ(global_reason(dp, hook, reason), before + 1,
		       "counted by its reason"))
		printf("# hook %d: %s\n", hook, what);
}

bool expect_output(struct dataplane *dp, enum kn_hook hook,
		   const struct pkt *in, const struct pkt *want,
		   struct pkt *out, const char *what)
{
	/* XDP mode ends with the tc ingress program: its verdict is last. */
	enum kn_hook last =
	    hook == KN_HOOK_XDP_INGRESS ? KN_HOOK_TC_INGRESS : hook;
	__u32 verdict;

	if (!ASSERT_OK(run_ingress(dp, hook, in, out, &verdict), "run"))
		return false;
	if (ASSERT_EQ(verdict, pass_verdict(last), "verdict") &&
	    ASSERT_EQ(out->len, want->len, "length unchanged") &&
	    ASSERT_MEM_EQ(out->data, want->data, want->len, what))
		return true;
	printf("# hook %d: %s\n", hook, what);
	return false;
}
