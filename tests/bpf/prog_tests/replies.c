// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * replies.c - a backend's replies rewritten back to the VIP, in both
 * families.
 *
 * Part of test_datapath (tests/bpf/test_datapath.c runs every test_*()
 * here); the data path and the packets come from tests/bpf/harness.h.
 */
#include "harness.h"

void test_reply_rewritten_to_vip(void)
{
	struct dataplane *dp = open_dp(NULL);
	struct dp_backend_counters counters;
	const struct dp_service *svc;
	struct pkt_spec spec;
	struct pkt in, out, reply_out;
	uint32_t index, backend, stats_index = 0, b;
	const char *http_reply = "HTTP/1.1 503 Service Unavailable\r\n\r\n";
	__u32 verdict;

	if (!dp || add_service(dp, 0, &index))
		goto cleanup;
	syn_spec(&spec, CLIENT_1, 43000);
	pkt_build(&in, &spec);
	if (run_prog(dp, KN_HOOK_TC_INGRESS, &in, &out, &verdict))
		goto cleanup;
	backend = out_daddr(&out);

	/* SYN-ACK from the backend to the client. */
	reply_spec(&spec, backend, CLIENT_1, 43000, TCPF_SYN | TCPF_ACK);
	pkt_build(&in, &spec);
	if (!ASSERT_OK(
		run_prog(dp, KN_HOOK_TC_EGRESS, &in, &reply_out, &verdict),
		"egress run"))
		goto cleanup;
	ASSERT_EQ(verdict, TC_OK_VERDICT, "egress verdict");
	ASSERT_EQ(out_saddr(&reply_out), VIP,
		  "reply leaves with the VIP as source");
	ASSERT_EQ(out_sport(&reply_out), VIP_PORT,
		  "reply leaves with the VIP port as source");
	ASSERT_TRUE(pkt_ip_csum_ok(reply_out.data, reply_out.len) &&
			pkt_l4_csum_ok(reply_out.data, reply_out.len),
		    "reply checksums");
	ASSERT_TRUE(same_except_translation(&in, &reply_out, false),
		    "nothing else changed in the reply");

	/* The client's request, then an HTTP 503 answer: counted and timed. */
	syn_spec(&spec, CLIENT_1, 43000);
	spec.tcp_flags = TCPF_ACK | TCPF_PSH;
	spec.payload = "POST /predict HTTP/1.1\r\n\r\n";
	spec.payload_len = 26;
	pkt_build(&in, &spec);
	run_prog(dp, KN_HOOK_TC_INGRESS, &in, &out, &verdict);
	usleep(2000);
	reply_spec(&spec, backend, CLIENT_1, 43000, TCPF_ACK | TCPF_PSH);
	spec.payload = http_reply;
	spec.payload_len = (uint32_t)strlen(http_reply);
	pkt_build(&in, &spec);
	run_prog(dp, KN_HOOK_TC_EGRESS, &in, &reply_out, &verdict);
	ASSERT_TRUE(pkt_l4_csum_ok(reply_out.data, reply_out.len),
		    "HTTP reply checksum");

	svc = dp_service_at(dp, index);
	for (b = 0; b < svc->pools[KN_POOL_STABLE].count; b++)
		if (ep_host(&svc->pools[KN_POOL_STABLE].backends[b].ep) ==
		    backend)
			stats_index =
			    svc->pools[KN_POOL_STABLE].backends[b].stats_index;
	dp_read_backend(dp, stats_index, &counters);
	ASSERT_EQ(counters.totals.http_status[4], 1, "one 5xx counted");
	ASSERT_EQ(counters.totals.http_status[1], 0, "no 2xx counted");
	ASSERT_EQ(counters.latency.count, 1, "one latency observation");
	ASSERT_TRUE(counters.latency.sum_us >= 1000,
		    "latency covers the 2 ms between request and response");
	ASSERT_EQ(counters.totals.packets_from, 2, "2 packets from backend");
	ASSERT_EQ(counters.totals.packets_to, 2, "2 packets to backend");

	/* A RST answering a new SYN: refused. */
	syn_spec(&spec, CLIENT_1, 43001);
	pkt_build(&in, &spec);
	run_prog(dp, KN_HOOK_TC_INGRESS, &in, &out, &verdict);
	reply_spec(&spec, out_daddr(&out), CLIENT_1, 43001,
		   TCPF_RST | TCPF_ACK);
	pkt_build(&in, &spec);
	run_prog(dp, KN_HOOK_TC_EGRESS, &in, &reply_out, &verdict);
	for (b = 0; b < svc->pools[KN_POOL_STABLE].count; b++)
		if (ep_host(&svc->pools[KN_POOL_STABLE].backends[b].ep) ==
		    spec.saddr)
			stats_index =
			    svc->pools[KN_POOL_STABLE].backends[b].stats_index;
	dp_read_backend(dp, stats_index, &counters);
	ASSERT_EQ(counters.totals.refused, 1, "RST to a SYN counts refused");
	ASSERT_EQ(counters.totals.resets_from, 1, "and a reset");

	/* A reply of no recorded flow passes untouched. */
	spec.dport = 43999;
	pkt_build(&in, &spec);
	run_prog(dp, KN_HOOK_TC_EGRESS, &in, &reply_out, &verdict);
	ASSERT_MEM_EQ(reply_out.data, in.data, in.len,
		      "unknown reply untouched");
cleanup:
	dp_close(dp, true);
}

void test_ipv6_reply_rewritten_to_vip(void)
{
	IN_IPV6(test_reply_rewritten_to_vip());
}
