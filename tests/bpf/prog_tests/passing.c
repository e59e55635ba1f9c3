// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * passing.c - everything that is not for a service passes untouched, and a
 * truncated packet at every length is never translated.
 *
 * Part of test_datapath (tests/bpf/test_datapath.c runs every test_*()
 * here); the data path and the packets come from tests/bpf/harness.h.
 */
#include "harness.h"

struct passing_case {
	const char *name;
	enum kn_reason reason;
	void (*mutate)(struct pkt *p);
};

static void mutate_arp(struct pkt *p)
{
	((struct ethhdr *)p->data)->h_proto = htons(ETH_P_ARP);
	p->len = ETH_HLEN + 28;
}

/* The IPv4 VIP's twin in 2001:2::/96: an IPv4 service serves no IPv6. */
static void mutate_ipv6(struct pkt *p)
{
	struct pkt_spec s = {.saddr = CLIENT_1,
			     .daddr = VIP,
			     .sport = 1234,
			     .dport = VIP_PORT,
			     .proto = IPPROTO_TCP,
			     .tcp_flags = TCPF_SYN,
			     .family = AF_INET6};

	pkt_build(p, &s);
}

static void mutate_vlan(struct pkt *p)
{
	((struct ethhdr *)p->data)->h_proto = htons(ETH_P_8021Q);
}

static void fix_ip_csum(struct pkt *p)
{
	struct iphdr *ip = pkt_ip(p);

	ip->check = 0;
	ip->check = htons(
	    (uint16_t)~csum_fold_host(csum_add_bytes(0, ip, ip->ihl * 4u)));
}

static void mutate_icmp(struct pkt *p)
{
	pkt_ip(p)->protocol = IPPROTO_ICMP;
	fix_ip_csum(p);
}

static void mutate_gre(struct pkt *p)
{
	pkt_ip(p)->protocol = IPPROTO_GRE;
	fix_ip_csum(p);
}

static void mutate_first_fragment(struct pkt *p)
{
	pkt_ip(p)->frag_off = htons(0x2000); /* MF */
	fix_ip_csum(p);
}

static void mutate_later_fragment(struct pkt *p)
{
	pkt_ip(p)->frag_off = htons(185); /* offset 1480 */
	fix_ip_csum(p);
}

static void mutate_ip_options(struct pkt *p)
{
	struct iphdr *ip = pkt_ip(p);
	uint32_t l4_len = ntohs(ip->tot_len) - sizeof(*ip);

	/* Insert 4 bytes of options (NOP x3 + EOL) before the TCP header. */
	memmove((uint8_t *)(ip + 1) + 4, ip + 1, l4_len);
	memcpy(ip + 1, "\x01\x01\x01\x00", 4);
	ip->ihl = 6;
	ip->tot_len = htons((uint16_t)(ntohs(ip->tot_len) + 4));
	p->len += 4;
	fix_ip_csum(p);
}

static void mutate_other_port(struct pkt *p)
{
	((struct tcphdr *)(pkt_ip(p) + 1))->dest = htons(VIP_PORT + 1);
}

static void mutate_other_address(struct pkt *p)
{
	pkt_ip(p)->daddr = htonl(OTHER_HOST);
	fix_ip_csum(p);
}

static void mutate_udp_to_tcp_service(struct pkt *p)
{
	struct pkt_spec s = {.saddr = CLIENT_1,
			     .daddr = VIP,
			     .sport = 1234,
			     .dport = VIP_PORT,
			     .proto = IPPROTO_UDP};

	pkt_build(p, &s);
}

static void mutate_bad_version(struct pkt *p)
{
	pkt_ip(p)->version = 5;
}

static void mutate_short_ihl(struct pkt *p)
{
	pkt_ip(p)->ihl = 4;
}

static void mutate_tot_len_too_big(struct pkt *p)
{
	pkt_ip(p)->tot_len = htons((uint16_t)(p->len + 100));
	fix_ip_csum(p);
}

static void mutate_tot_len_too_small(struct pkt *p)
{
	pkt_ip(p)->tot_len = htons(30); /* shorter than IP + TCP headers */
	fix_ip_csum(p);
}

static void mutate_tcp_doff_short(struct pkt *p)
{
	((struct tcphdr *)(pkt_ip(p) + 1))->doff = 4;
}

static void mutate_tcp_doff_long(struct pkt *p)
{
	((struct tcphdr *)(pkt_ip(p) + 1))->doff = 15; /* 60 > segment */
}

static void mutate_udp_len_bad(struct pkt *p)
{
	struct pkt_spec s = {.saddr = CLIENT_1,
			     .daddr = VIP,
			     .sport = 1234,
			     .dport = 53,
			     .proto = IPPROTO_UDP};

	pkt_build(p, &s);
	((struct udphdr *)(pkt_ip(p) + 1))->len = htons(4);
}

static const struct passing_case passing_cases[] = {
    {"ARP", KN_R_NOT_IPV4, mutate_arp},
    {"IPv6 to the IPv4 VIP's twin", KN_R_NOT_FOR_US, mutate_ipv6},
    {"VLAN-tagged", KN_R_NOT_IPV4, mutate_vlan},
    {"ICMP to the VIP", KN_R_NOT_TCP_UDP, mutate_icmp},
    {"GRE to the VIP", KN_R_NOT_TCP_UDP, mutate_gre},
    {"first fragment", KN_R_FRAGMENT, mutate_first_fragment},
    {"later fragment", KN_R_FRAGMENT, mutate_later_fragment},
    {"IP options", KN_R_IP_OPTIONS, mutate_ip_options},
    {"other port on the VIP", KN_R_NOT_FOR_US, mutate_other_port},
    {"other address", KN_R_NOT_FOR_US, mutate_other_address},
    {"UDP to a TCP service port", KN_R_NOT_FOR_US, mutate_udp_to_tcp_service},
    {"IP version 5", KN_R_MALFORMED, mutate_bad_version},
    {"IHL 4", KN_R_MALFORMED, mutate_short_ihl},
    {"total length beyond frame", KN_R_MALFORMED, mutate_tot_len_too_big},
    {"total length below headers", KN_R_MALFORMED, mutate_tot_len_too_small},
    {"TCP data offset 4", KN_R_MALFORMED, mutate_tcp_doff_short},
    {"TCP data offset past segment", KN_R_MALFORMED, mutate_tcp_doff_long},
    {"UDP length 4", KN_R_MALFORMED, mutate_udp_len_bad},
};

void test_other_packets_pass_untouched(void)
{
	struct dataplane *dp = open_dp(NULL);
	struct pkt_spec spec;
	struct pkt in, out;
	uint32_t index, hook;
	size_t c;
	__u32 verdict;

	if (!dp || add_service(dp, 5000, &index))
		goto cleanup;
	for (hook = 0; hook < KN_HOOK_COUNT; hook++) {
		for (c = 0;
		     c < sizeof(passing_cases) / sizeof(passing_cases[0]);
		     c++) {
			const struct passing_case *pc = &passing_cases[c];
			uint64_t before, after;
			char what[160];
			enum kn_reason expected = pc->reason;

			/* Egress sees no services, only reply flows. */
			if (hook == KN_HOOK_TC_EGRESS &&
			    expected == KN_R_NOT_FOR_US)
				expected = KN_R_NOT_FOR_US;
			syn_spec(&spec, CLIENT_1, 44000);
			pkt_build(&in, &spec);
			pc->mutate(&in);
			before = global_reason(dp, hook, expected);
			if (!ASSERT_OK(run_prog(dp, hook, &in, &out, &verdict),
				       pc->name))
				continue;
			after = global_reason(dp, hook, expected);
			snprintf(what, sizeof(what), "%s (%s): verdict",
				 pc->name,
				 hook == KN_HOOK_XDP_INGRESS  ? "xdp"
				 : hook == KN_HOOK_TC_INGRESS ? "tc ingress"
							      : "tc egress");
			ASSERT_EQ(verdict, pass_verdict(hook), what);
			snprintf(what, sizeof(what), "%s (hook %u): unchanged",
				 pc->name, hook);
			ASSERT_TRUE(out.len == in.len &&
					!memcmp(out.data, in.data, in.len),
				    what);
			snprintf(what, sizeof(what),
				 "%s (hook %u): counted once as reason %d",
				 pc->name, hook, expected);
			ASSERT_EQ(after - before, 1, what);
		}
	}
cleanup:
	dp_close(dp, true);
}

/* A SYN to the VIP cut at every length from the Ethernet header on: never
 * translated, never changed, counted malformed; only the whole one steers. */
void test_truncation_at_every_length(void)
{
	struct dataplane *dp = open_dp(NULL);
	struct pkt_spec spec;
	struct pkt full, in, out;
	uint32_t index, hook, len, changed, not_malformed;
	__u32 verdict;

	if (!dp || add_service(dp, 5000, &index))
		goto cleanup;
	syn_spec(&spec, CLIENT_1, 45000);
	spec.payload = "0123456789";
	spec.payload_len = 10;
	pkt_build(&full, &spec);
	for (hook = KN_HOOK_XDP_INGRESS; hook <= KN_HOOK_TC_INGRESS; hook++) {
		changed = not_malformed = 0;
		for (len = ETH_HLEN; len < full.len; len++) {
			uint64_t before =
			    global_reason(dp, hook, KN_R_MALFORMED);

			in = full;
			in.len = len;
			if (run_prog(dp, hook, &in, &out, &verdict))
				break;
			if (verdict != pass_verdict(hook) || out.len != len ||
			    memcmp(out.data, in.data, len))
				changed++;
			if (global_reason(dp, hook, KN_R_MALFORMED) !=
			    before + 1)
				not_malformed++;
		}
		ASSERT_EQ(changed, 0, "no truncated packet is changed");
		ASSERT_EQ(not_malformed, 0,
			  "every truncated packet is counted malformed");
		in = full;
		run_prog(dp, hook, &in, &out, &verdict);
		ASSERT_NE(out_daddr(&out), VIP, "the whole packet is steered");
	}
cleanup:
	dp_close(dp, true);
}

void test_ipv6_truncation_at_every_length(void)
{
	IN_IPV6(test_truncation_at_every_length());
}
