// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * pools.c - empty pools drop; a promotion keeps the counters.
 *
 * Part of test_datapath (tests/bpf/test_datapath.c runs every test_*()
 * here); the data path and the packets come from tests/bpf/harness.h.
 */
#include "harness.h"

void test_empty_pools(void)
{
	struct dataplane *dp = open_dp(NULL);
	struct endpoint canary[1] = {ep(CANARY_1, BACKEND_PORT)};
	struct endpoint stable[1] = {ep(STABLE_1, BACKEND_PORT)};
	struct kn_service_stats sstats;
	struct pkt_spec spec;
	struct pkt in, out;
	char err[DP_ERR_LEN];
	uint32_t index, hook;
	__u32 verdict;

	if (!dp || add_service(dp, 0, &index))
		goto cleanup;
	/* Only a canary pool, weight 0: the clients go to the canary. */
	dp_service_update(dp, index, NULL, 0, canary, 1, 0, err, sizeof(err));
	syn_spec(&spec, CLIENT_1, 47000);
	pkt_build(&in, &spec);
	run_prog(dp, KN_HOOK_XDP_INGRESS, &in, &out, &verdict);
	ASSERT_EQ(out_daddr(&out), CANARY_1, "empty stable pool: canary");
	/* Only a stable pool, weight 100 %: the clients go to stable. */
	dp_service_update(dp, index, stable, 1, NULL, 0, 10000, err,
			  sizeof(err));
	syn_spec(&spec, CLIENT_1, 47001);
	pkt_build(&in, &spec);
	run_prog(dp, KN_HOOK_XDP_INGRESS, &in, &out, &verdict);
	ASSERT_EQ(out_daddr(&out), STABLE_1, "empty canary pool: stable");
	/* No backend at all: dropped and counted, in both hooks. */
	dp_service_update(dp, index, NULL, 0, NULL, 0, 0, err, sizeof(err));
	for (hook = KN_HOOK_XDP_INGRESS; hook <= KN_HOOK_TC_INGRESS; hook++) {
		syn_spec(&spec, CLIENT_1, (uint16_t)(47002 + hook));
		pkt_build(&in, &spec);
		run_prog(dp, hook, &in, &out, &verdict);
		ASSERT_EQ(verdict, drop_verdict(hook), "no backend: dropped");
	}
	dp_read_service(dp, index, &sstats);
	ASSERT_EQ(sstats.no_backend, 2, "no-backend drops counted");
cleanup:
	dp_close(dp, true);
}

void test_promote_keeps_counters(void)
{
	struct dataplane *dp = open_dp(NULL);
	struct dp_backend_counters counters;
	const struct dp_service *svc;
	struct pkt_spec spec;
	struct pkt in, out;
	uint32_t index, canary_slot;
	__u32 verdict;

	if (!dp || add_service(dp, 10000, &index))
		goto cleanup;
	syn_spec(&spec, CLIENT_1, 48000);
	pkt_build(&in, &spec);
	run_prog(dp, KN_HOOK_XDP_INGRESS, &in, &out, &verdict);
	ASSERT_EQ(out_daddr(&out), CANARY_1, "100 % goes to the canary");
	svc = dp_service_at(dp, index);
	canary_slot = svc->pools[KN_POOL_CANARY].backends[0].stats_index;
	if (!ASSERT_OK(dp_service_promote(dp, index), "promote"))
		goto cleanup;
	svc = dp_service_at(dp, index);
	ASSERT_EQ(svc->pools[KN_POOL_STABLE].count, 1, "stable = old canary");
	ASSERT_EQ(svc->pools[KN_POOL_CANARY].count, 0, "canary emptied");
	ASSERT_EQ(svc->canary_bp, 0, "weight 0 after promotion");
	ASSERT_EQ(svc->pools[KN_POOL_STABLE].backends[0].stats_index,
		  canary_slot, "the promoted backend keeps its counters");
	dp_read_backend(dp, canary_slot, &counters);
	ASSERT_EQ(counters.totals.new_flows, 1, "counters kept");
	syn_spec(&spec, CLIENT_1, 48001);
	pkt_build(&in, &spec);
	run_prog(dp, KN_HOOK_XDP_INGRESS, &in, &out, &verdict);
	ASSERT_EQ(out_daddr(&out), CANARY_1,
		  "new flows go to the promoted "
		  "pool");
cleanup:
	dp_close(dp, true);
}

void test_ipv6_empty_pools(void)
{
	IN_IPV6(test_empty_pools());
}

void test_ipv6_promote_keeps_counters(void)
{
	IN_IPV6(test_promote_keeps_counters());
}
