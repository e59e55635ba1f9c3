// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * adoption.c - a second data path adopts the pinned maps with their state.
 *
 * Part of test_datapath (tests/bpf/test_datapath.c runs every test_*()
 * here); the data path and the packets come from tests/bpf/harness.h.
 */
#include "harness.h"

void test_adoption_keeps_state(void)
{
	struct dataplane *dp = open_dp(NULL), *dp2 = NULL;
	const struct dp_service *svc;
	struct pkt_spec spec;
	struct pkt in, out;
	uint32_t index, first;
	__u32 verdict;

	if (!dp || add_service(dp, 2500, &index))
		goto cleanup;
	syn_spec(&spec, CLIENT_1, 49000);
	pkt_build(&in, &spec);
	run_prog(dp, KN_HOOK_XDP_INGRESS, &in, &out, &verdict);
	first = out_daddr(&out);
	dp_close(dp, false); /* keep the pins: a later agent adopts them */
	dp = NULL;

	dp2 = open_dp(NULL);
	if (!dp2)
		goto cleanup;
	ASSERT_EQ(dp_adopted_services(dp2), 1, "one service adopted");
	svc = dp_service_find(dp2, "sentiment");
	if (!ASSERT_TRUE(svc != NULL, "service found by name"))
		goto cleanup;
	ASSERT_EQ(svc->canary_bp, 2500, "weight adopted");
	ASSERT_EQ(svc->pools[KN_POOL_STABLE].count, 2, "stable pool adopted");
	ASSERT_EQ(svc->pools[KN_POOL_CANARY].count, 1, "canary pool adopted");
	/* The flow table came along: the flow keeps its backend even with
	 * another weight. */
	dp_service_set_weight(dp2, svc->index, first == CANARY_1 ? 0 : 10000);
	spec.tcp_flags = TCPF_ACK;
	pkt_build(&in, &spec);
	run_prog(dp2, KN_HOOK_XDP_INGRESS, &in, &out, &verdict);
	ASSERT_EQ(out_daddr(&out), first, "flow kept across agents");
cleanup:
	dp_close(dp, true);
	dp_close(dp2, true);
}

void test_ipv6_adoption_keeps_state(void)
{
	IN_IPV6(test_adoption_keeps_state());
}
