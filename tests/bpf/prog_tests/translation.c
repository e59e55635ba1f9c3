// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * translation.c - a client packet to a service rewritten to a backend: TCP on
 * both hooks, every payload length, UDP; each in both families.
 *
 * Part of test_datapath (tests/bpf/test_datapath.c runs every test_*()
 * here); the data path and the packets come from tests/bpf/harness.h.
 */
#include "harness.h"

static void syn_rewritten(enum kn_hook hook)
{
	struct dataplane *dp = open_dp(NULL);
	struct pkt_spec spec;
	struct pkt in, out;
	uint32_t index, daddr;
	__u32 verdict;

	if (!dp || add_service(dp, 0, &index))
		goto cleanup;
	syn_spec(&spec, CLIENT_1, 40000);
	pkt_build(&in, &spec);
	if (!ASSERT_OK(run_prog(dp, hook, &in, &out, &verdict), "test run"))
		goto cleanup;
	ASSERT_EQ(verdict, pass_verdict(hook), "verdict");
	daddr = out_daddr(&out);
	ASSERT_TRUE(daddr == STABLE_1 || daddr == STABLE_2,
		    "weight 0 sends the SYN to a stable replica");
	ASSERT_EQ(out_dport(&out), BACKEND_PORT, "destination port");
	ASSERT_TRUE(pkt_ip_csum_ok(out.data, out.len), "IPv4 header checksum");
	ASSERT_TRUE(pkt_l4_csum_ok(out.data, out.len), "TCP checksum");
	ASSERT_TRUE(same_except_translation(&in, &out, true),
		    "nothing else changed");
	ASSERT_EQ(global_reason(dp, hook, KN_R_TRANSLATED), 1,
		  "translated counter");
cleanup:
	dp_close(dp, true);
}

void test_xdp_syn_rewritten(void)
{
	syn_rewritten(KN_HOOK_XDP_INGRESS);
}

void test_tc_syn_rewritten(void)
{
	syn_rewritten(KN_HOOK_TC_INGRESS);
}

/* A SYN with a payload (TCP Fast Open) and odd sizes: the checksum stays
 * right for every payload length, odd and even. */
void test_checksums_for_every_payload_length(void)
{
	struct dataplane *dp = open_dp(NULL);
	uint8_t payload[64];
	struct pkt_spec spec;
	struct pkt in, out;
	uint32_t index, len, hook;
	__u32 verdict;

	if (!dp || add_service(dp, 5000, &index))
		goto cleanup;
	for (len = 0; len < sizeof(payload); len++)
		payload[len] = (uint8_t)(len * 37 + 11);
	for (hook = KN_HOOK_XDP_INGRESS; hook <= KN_HOOK_TC_INGRESS; hook++) {
		for (len = 0; len < sizeof(payload); len++) {
			syn_spec(&spec, CLIENT_1 + len,
				 (uint16_t)(20000 + len));
			spec.payload = payload;
			spec.payload_len = len;
			pkt_build(&in, &spec);
			if (run_prog(dp, hook, &in, &out, &verdict))
				break;
			if (!ASSERT_TRUE(pkt_ip_csum_ok(out.data, out.len) &&
					     pkt_l4_csum_ok(out.data, out.len),
					 "checksums after rewrite"))
				printf("# hook %u, payload %u bytes\n", hook,
				       len);
		}
	}
cleanup:
	dp_close(dp, true);
}

static struct udphdr *udp_of(struct pkt *p)
{
	if (pkt_is_ipv6(p->data))
		return (struct udphdr *)(pkt_ip6(p) + 1);
	return (struct udphdr *)(pkt_ip(p) + 1);
}

void test_udp_flow_rewritten(void)
{
	struct dp_service_def def = {
	    .name = "udp-model",
	    .proto = IPPROTO_UDP,
	    .stable_count = 1,
	    .canary_count = 1,
	    .canary_bp = 0,
	};
	struct dataplane *dp = open_dp(NULL);
	struct pkt_spec spec = {
	    .saddr = CLIENT_1,
	    .daddr = VIP,
	    .sport = 5353,
	    .dport = 53,
	    .proto = IPPROTO_UDP,
	    .payload = "query",
	    .payload_len = 5,
	    .family = (uint8_t)harness_family,
	};
	char err[DP_ERR_LEN];
	struct pkt in, out;
	uint32_t hook, index;
	__u32 verdict;

	if (!dp)
		return;
	def.vip = ep(VIP, 53);
	def.stable[0] = ep(STABLE_1, 5300);
	def.canary[0] = ep(CANARY_1, 5300);
	if (!ASSERT_OK(dp_service_add(dp, &def, &index, err, sizeof(err)), err))
		goto cleanup;
	for (hook = KN_HOOK_XDP_INGRESS; hook <= KN_HOOK_TC_INGRESS; hook++) {
		spec.sport = (uint16_t)(5353 + hook);
		pkt_build(&in, &spec);
		if (!ASSERT_OK(run_prog(dp, hook, &in, &out, &verdict), "run"))
			break;
		ASSERT_EQ(out_daddr(&out), STABLE_1, "UDP to the stable pool");
		ASSERT_EQ(out_dport(&out), 5300, "UDP backend port");
		ASSERT_TRUE(pkt_ip_csum_ok(out.data, out.len) &&
				pkt_l4_csum_ok(out.data, out.len),
			    "UDP checksums");

		/* A UDP datagram without checksum keeps "no checksum" in
		 * IPv4; in IPv6, where 0 is not valid, it passes untouched. */
		pkt_build(&in, &spec);
		udp_of(&in)->check = 0;
		if (!ASSERT_OK(run_prog(dp, hook, &in, &out, &verdict), "run"))
			break;
		if (harness_family == AF_INET6) {
			ASSERT_MEM_EQ(out.data, in.data, in.len,
				      "IPv6 UDP without checksum untouched");
			continue;
		}
		ASSERT_EQ(udp_of(&out)->check, 0,
			  "UDP zero checksum stays zero");
		ASSERT_EQ(out_daddr(&out), STABLE_1, "same flow, same backend");
	}
cleanup:
	dp_close(dp, true);
}

void test_ipv6_xdp_syn_rewritten(void)
{
	IN_IPV6(test_xdp_syn_rewritten());
}

void test_ipv6_tc_syn_rewritten(void)
{
	IN_IPV6(test_tc_syn_rewritten());
}

void test_ipv6_checksums_for_every_payload_length(void)
{
	IN_IPV6(test_checksums_for_every_payload_length());
}

void test_ipv6_udp_flow_rewritten(void)
{
	IN_IPV6(test_udp_flow_rewritten());
}
