// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * flows.c - flows keep their backend across weight changes; retransmitted
 * SYNs, misses and reused tuples; each in both families.
 *
 * Part of test_datapath (tests/bpf/test_datapath.c runs every test_*()
 * here); the data path and the packets come from tests/bpf/harness.h.
 */
#include "harness.h"

void test_established_flow_keeps_backend(void)
{
	struct dataplane *dp = open_dp(NULL);
	struct endpoint stable[1], canary[1];
	struct pkt_spec spec;
	struct pkt in, out;
	uint32_t index, first, hook;
	char err[DP_ERR_LEN];
	__u32 verdict;

	if (!dp || add_service(dp, 0, &index))
		goto cleanup;
	for (hook = KN_HOOK_XDP_INGRESS; hook <= KN_HOOK_TC_INGRESS; hook++) {
		uint16_t port = (uint16_t)(30000 + hook);

		dp_service_set_weight(dp, index, 0);
		syn_spec(&spec, CLIENT_1, port);
		pkt_build(&in, &spec);
		if (run_prog(dp, hook, &in, &out, &verdict))
			goto cleanup;
		first = out_daddr(&out);
		ASSERT_TRUE(first == STABLE_1 || first == STABLE_2,
			    "first SYN goes to stable at weight 0");

		/* Everything changes: all clients to the canary, and a
		 * stable pool without the flow's backend. */
		stable[0] =
		    ep(first == STABLE_1 ? STABLE_2 : STABLE_1, BACKEND_PORT);
		canary[0] = ep(CANARY_1, BACKEND_PORT);
		if (!ASSERT_OK(dp_service_update(dp, index, stable, 1, canary,
						 1, KN_WEIGHT_SCALE_BP, err,
						 sizeof(err)),
			       err))
			goto cleanup;
		spec.tcp_flags = TCPF_ACK;
		spec.payload = "GET / HTTP/1.1\r\n\r\n";
		spec.payload_len = 18;
		pkt_build(&in, &spec);
		if (run_prog(dp, hook, &in, &out, &verdict))
			goto cleanup;
		ASSERT_EQ(out_daddr(&out), first,
			  "established flow stays on its backend");
		ASSERT_TRUE(pkt_l4_csum_ok(out.data, out.len),
			    "data packet checksum");

		/* A new connection from the same client follows the new
		 * weight: canary. */
		syn_spec(&spec, CLIENT_1, (uint16_t)(port + 100));
		pkt_build(&in, &spec);
		if (run_prog(dp, hook, &in, &out, &verdict))
			goto cleanup;
		ASSERT_EQ(out_daddr(&out), CANARY_1,
			  "new connection follows the new weight");

		/* Restore the pools for the next hook. */
		stable[0] = ep(STABLE_1, BACKEND_PORT);
		{
			struct endpoint s2[2] = {ep(STABLE_1, BACKEND_PORT),
						 ep(STABLE_2, BACKEND_PORT)};

			dp_service_update(dp, index, s2, 2, canary, 1, 0, err,
					  sizeof(err));
		}
	}
cleanup:
	dp_close(dp, true);
}

void test_syn_retransmit_keeps_backend(void)
{
	struct dataplane *dp = open_dp(NULL);
	struct dp_backend_counters counters;
	const struct dp_service *svc;
	struct pkt_spec spec;
	struct pkt in, out;
	uint32_t index, first, i;
	__u32 verdict;

	if (!dp || add_service(dp, 5000, &index))
		goto cleanup;
	syn_spec(&spec, CLIENT_1, 41000);
	pkt_build(&in, &spec);
	if (run_prog(dp, KN_HOOK_XDP_INGRESS, &in, &out, &verdict))
		goto cleanup;
	first = out_daddr(&out);
	/* The weight changes; the client's SYN retransmits must not move. */
	dp_service_set_weight(dp, index, first == CANARY_1 ? 0 : 10000);
	for (i = 0; i < 3; i++) {
		if (run_prog(dp, KN_HOOK_XDP_INGRESS, &in, &out, &verdict))
			goto cleanup;
		ASSERT_EQ(out_daddr(&out), first,
			  "a retransmitted SYN keeps its backend");
	}
	svc = dp_service_at(dp, index);
	for (i = 0; i < 2; i++) {
		const struct dp_pool *pool = &svc->pools[i];
		uint32_t b;

		for (b = 0; b < pool->count; b++) {
			if (ep_host(&pool->backends[b].ep) != first)
				continue;
			dp_read_backend(dp, pool->backends[b].stats_index,
					&counters);
			ASSERT_EQ(counters.totals.syn_retries, 3,
				  "SYN retries counted on the backend");
			ASSERT_EQ(counters.totals.new_flows, 1,
				  "one new flow on the backend");
		}
	}
cleanup:
	dp_close(dp, true);
}

void test_non_syn_miss_rederived(void)
{
	struct dataplane *dp = open_dp(NULL);
	struct kn_service_stats sstats;
	struct pkt_spec spec;
	struct pkt in, out;
	uint32_t index, via_syn, via_ack, i, mismatched = 0;
	__u32 verdict;

	if (!dp || add_service(dp, 3000, &index))
		goto cleanup;
	for (i = 0; i < 200; i++) {
		/* An ACK for a flow the table never saw... */
		syn_spec(&spec, CLIENT_BASE + 7 * i, (uint16_t)(50000 + i));
		spec.tcp_flags = TCPF_ACK;
		pkt_build(&in, &spec);
		if (run_prog(dp, KN_HOOK_TC_INGRESS, &in, &out, &verdict))
			goto cleanup;
		via_ack = out_daddr(&out);
		/* ...goes where a SYN of the same tuple goes, by the same
		 * config (the other hook, whose table has no entry yet:
		 * both hooks share the table, so use another port pair). */
		syn_spec(&spec, CLIENT_BASE + 7 * i, (uint16_t)(50000 + i));
		pkt_build(&in, &spec);
		if (run_prog(dp, KN_HOOK_XDP_INGRESS, &in, &out, &verdict))
			goto cleanup;
		via_syn = out_daddr(&out);
		mismatched += via_ack != via_syn;
	}
	ASSERT_EQ(mismatched, 0,
		  "a non-SYN miss gets the backend its SYN would get");
	dp_read_service(dp, index, &sstats);
	ASSERT_EQ(sstats.flow_misses, 200, "misses counted per service");
cleanup:
	dp_close(dp, true);
}

void test_closed_tuple_reused_is_new_flow(void)
{
	struct dp_options o = {.tcp_closing_timeout_ns = 20 * 1000 * 1000};
	struct dataplane *dp = open_dp(&o);
	struct kn_service_stats sstats;
	struct pkt_spec spec;
	struct pkt in, out;
	uint32_t index;
	__u32 verdict;

	if (!dp || add_service(dp, 0, &index))
		goto cleanup;
	syn_spec(&spec, CLIENT_1, 42000);
	pkt_build(&in, &spec);
	run_prog(dp, KN_HOOK_XDP_INGRESS, &in, &out, &verdict);
	spec.tcp_flags = TCPF_ACK;
	pkt_build(&in, &spec);
	run_prog(dp, KN_HOOK_XDP_INGRESS, &in, &out, &verdict);
	spec.tcp_flags = TCPF_FIN | TCPF_ACK;
	pkt_build(&in, &spec);
	run_prog(dp, KN_HOOK_XDP_INGRESS, &in, &out, &verdict);
	/* After the closing timeout, an ACK is a miss, not the old flow. */
	usleep(100 * 1000);
	spec.tcp_flags = TCPF_ACK;
	pkt_build(&in, &spec);
	run_prog(dp, KN_HOOK_XDP_INGRESS, &in, &out, &verdict);
	dp_read_service(dp, index, &sstats);
	ASSERT_EQ(sstats.flow_misses, 1,
		  "a closed flow expires after the closing timeout");
	/* A SYN on an established tuple starts a new connection. */
	syn_spec(&spec, CLIENT_1, 42000);
	pkt_build(&in, &spec);
	run_prog(dp, KN_HOOK_XDP_INGRESS, &in, &out, &verdict);
	dp_read_service(dp, index, &sstats);
	ASSERT_EQ(sstats.new_flows[KN_POOL_STABLE], 3,
		  "SYN, re-derived ACK, SYN on a reused tuple: 3 new flows");
cleanup:
	dp_close(dp, true);
}

void test_ipv6_established_flow_keeps_backend(void)
{
	IN_IPV6(test_established_flow_keeps_backend());
}

void test_ipv6_syn_retransmit_keeps_backend(void)
{
	IN_IPV6(test_syn_retransmit_keeps_backend());
}

void test_ipv6_non_syn_miss_rederived(void)
{
	IN_IPV6(test_non_syn_miss_rederived());
}

void test_ipv6_closed_tuple_reused_is_new_flow(void)
{
	IN_IPV6(test_closed_tuple_reused_is_new_flow());
}
