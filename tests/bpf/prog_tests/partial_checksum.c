// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * partial_checksum.c - XDP leaves a packet whose checksum looks offloaded to
 * tc.
 *
 * Part of test_datapath (tests/bpf/test_datapath.c runs every test_*()
 * here); the data path and the packets come from tests/bpf/harness.h.
 */
#include "harness.h"

void test_xdp_leaves_partial_checksum_to_tc(void)
{
	struct dataplane *dp = open_dp(NULL);
	struct pkt_spec spec;
	struct pkt in, out;
	uint32_t index;
	__u32 verdict;

	if (!dp || add_service(dp, 0, &index))
		goto cleanup;
	syn_spec(&spec, CLIENT_1, 46000);
	spec.partial_csum = true;
	pkt_build(&in, &spec);
	if (!ASSERT_OK(run_prog(dp, KN_HOOK_XDP_INGRESS, &in, &out, &verdict),
		       "run"))
		goto cleanup;
	ASSERT_EQ(verdict, XDP_PASS_VERDICT, "passed on");
	ASSERT_MEM_EQ(out.data, in.data, in.len, "untouched by XDP");
	ASSERT_EQ(global_reason(dp, KN_HOOK_XDP_INGRESS, KN_R_PARTIAL_CSUM), 1,
		  "counted as left to tc");
	/* No flow was recorded: tc makes the decision. */
	syn_spec(&spec, CLIENT_1, 46000);
	pkt_build(&in, &spec);
	run_prog(dp, KN_HOOK_TC_INGRESS, &in, &out, &verdict);
	{
		struct kn_service_stats sstats;

		dp_read_service(dp, index, &sstats);
		ASSERT_EQ(sstats.new_flows[KN_POOL_STABLE], 1,
			  "exactly one new flow, made by tc");
	}
cleanup:
	dp_close(dp, true);
}

void test_ipv6_xdp_leaves_partial_checksum_to_tc(void)
{
	IN_IPV6(test_xdp_leaves_partial_checksum_to_tc());
}
