// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * affinity.c - connection affinity: with three client addresses (a gateway's
 * pods) and many source ports, the canary share of new connections follows
 * the weight; client affinity keeps every connection of a client on the
 * client's version; switching a live service moves no recorded flow; the
 * bitmap of client addresses holds exactly the clients' bits.
 *
 * Part of test_datapath (tests/bpf/test_datapath.c runs every test_*()
 * here); the data path and the packets come from tests/bpf/harness.h.
 */
#include <math.h>

#include "harness.h"

#define GATEWAY_CLIENTS		3
#define CONNECTIONS_PER_CLIENT	5000
#define FIRST_PORT		1024
#define AFFINITY_TEST_WEIGHT_BP 5000

static const uint32_t gateway[GATEWAY_CLIENTS] = {CLIENT_1, CLIENT_1 + 1,
						  CLIENT_1 + 2};

/* The test service, with connection affinity when `connection`. */
static int add_affinity_service(struct dataplane *dp, bool connection,
				uint32_t canary_bp, uint32_t *index)
{
	static const uint32_t stable[] = {STABLE_1, STABLE_2};
	struct dp_service_def def =
	    split_service_def("sentiment", ep(VIP, VIP_PORT), stable, CANARY_1,
			      BACKEND_PORT, canary_bp);
	char err[DP_ERR_LEN];
	int ret;

	if (connection)
		def.flags |= KN_SVC_F_CONNECTION_AFFINITY;
	ret = dp_service_add(dp, &def, index, err, sizeof(err));
	if (!ASSERT_OK(ret, "dp_service_add"))
		printf("# %s\n", err);
	return ret;
}

struct gateway_run {
	uint32_t connections;
	uint32_t canary;
	uint32_t mispredicted; /* kernel's pool != the hash's */
	uint32_t per_stable_replica[2];
	/* connections of a client that went to another version than the
	 * client's first one */
	uint32_t client_switches;
};

/* CONNECTIONS_PER_CLIENT SYNs from each gateway address, source ports
 * first_port.. : where each went, against the hash's prediction. */
static int run_gateway(struct dataplane *dp, enum kn_hook hook,
		       uint32_t weight_bp, uint16_t first_port,
		       struct gateway_run *res)
{
	const struct dp_service *svc = dp_service_find(dp, "sentiment");
	bool connection = svc->flags & KN_SVC_F_CONNECTION_AFFINITY;
	struct pkt_spec spec;
	struct pkt in, out;
	uint32_t c, i;
	__u32 verdict;
	int ret;

	memset(res, 0, sizeof(*res));
	for (c = 0; c < GATEWAY_CLIENTS; c++) {
		__u32 addr[4] = {htonl(gateway[c]), 0, 0, 0};
		int first_version = -1;

		for (i = 0; i < CONNECTIONS_PER_CLIENT; i++) {
			uint16_t port = (uint16_t)(first_port + i);
			uint32_t bucket =
			    connection
				? kn_connection_bucket(addr, htons(port),
						       IPPROTO_TCP, svc->seed,
						       KN_WEIGHT_SCALE_BP)
				: kn_client_bucket(addr, svc->seed,
						   KN_WEIGHT_SCALE_BP);
			bool canary, predicted = bucket < weight_bp;
			uint32_t daddr;

			syn_spec(&spec, gateway[c], port);
			pkt_build(&in, &spec);
			ret = run_ingress(dp, hook, &in, &out, &verdict);
			if (ret)
				return ret;
			daddr = out_daddr(&out);
			canary = daddr == CANARY_1;
			res->connections++;
			res->canary += canary;
			res->mispredicted += canary != predicted;
			res->per_stable_replica[0] += daddr == STABLE_1;
			res->per_stable_replica[1] += daddr == STABLE_2;
			if (first_version < 0)
				first_version = canary;
			res->client_switches += (int)canary != first_version;
		}
	}
	return 0;
}

static bool within_sigmas(uint32_t observed, uint32_t n, uint32_t weight_bp)
{
	double p = (double)weight_bp / KN_WEIGHT_SCALE_BP;

	return fabs(observed - n * p) <= SPLIT_SIGMAS * sqrt(n * p * (1 - p));
}

static void connection_share_follows_weight(enum kn_hook hook)
{
	static const uint32_t weights_bp[] = {0, 1000, 5000, 10000};
	struct dataplane *dp = open_dp(NULL);
	struct gateway_run res;
	uint32_t index;
	size_t w;

	if (!dp || add_affinity_service(dp, true, 0, &index))
		goto cleanup;
	for (w = 0; w < sizeof(weights_bp) / sizeof(weights_bp[0]); w++) {
		char what[128];

		if (!ASSERT_OK(dp_service_set_weight(dp, index, weights_bp[w]),
			       "set weight"))
			break;
		/* Fresh ports for each weight: new connections only. */
		if (!ASSERT_OK(
			run_gateway(
			    dp, hook, weights_bp[w],
			    (uint16_t)(FIRST_PORT + w * CONNECTIONS_PER_CLIENT),
			    &res),
			"gateway run"))
			break;
		snprintf(what, sizeof(what),
			 "3 clients, connection affinity, %u bp: %u of %u "
			 "connections on the canary",
			 weights_bp[w], res.canary, res.connections);
		if (weights_bp[w] == 0)
			ASSERT_EQ(res.canary, 0, what);
		else if (weights_bp[w] == KN_WEIGHT_SCALE_BP)
			ASSERT_EQ(res.canary, res.connections, what);
		else
			ASSERT_TRUE(within_sigmas(res.canary, res.connections,
						  weights_bp[w]),
				    what);
		ASSERT_EQ(res.mispredicted, 0,
			  "kernel choice equals hash(connection, seed) < "
			  "weight");
		if (weights_bp[w] < KN_WEIGHT_SCALE_BP) {
			ASSERT_TRUE(res.per_stable_replica[0] > 0 &&
					res.per_stable_replica[1] > 0,
				    "a client's connections reach both stable "
				    "replicas");
		}
	}
cleanup:
	dp_close(dp, true);
}

void test_xdp_connection_affinity_share(void)
{
	connection_share_follows_weight(KN_HOOK_XDP_INGRESS);
}

void test_tc_connection_affinity_share(void)
{
	connection_share_follows_weight(KN_HOOK_TC_INGRESS);
}

/* Client affinity, as before: a client's connections share its version,
 * so three clients give the canary 0, 1/3, 2/3 or all of them. */
void test_client_affinity_keeps_clients(void)
{
	struct dataplane *dp = open_dp(NULL);
	struct gateway_run res;
	uint32_t index;

	if (!dp ||
	    add_affinity_service(dp, false, AFFINITY_TEST_WEIGHT_BP, &index))
		goto cleanup;
	if (!ASSERT_OK(run_gateway(dp, KN_HOOK_XDP_INGRESS,
				   AFFINITY_TEST_WEIGHT_BP, FIRST_PORT, &res),
		       "gateway run"))
		goto cleanup;
	ASSERT_EQ(res.mispredicted, 0,
		  "kernel choice equals hash(client, seed) < weight");
	ASSERT_EQ(res.client_switches, 0,
		  "every connection of a client on the client's version");
	ASSERT_EQ(res.canary % CONNECTIONS_PER_CLIENT, 0,
		  "the canary gets whole clients");
cleanup:
	dp_close(dp, true);
}

/* Affinity switched on a live service: a recorded flow keeps its backend,
 * new connections follow the new rule. */
void test_affinity_switch_keeps_flows(void)
{
	struct dataplane *dp = open_dp(NULL);
	const struct dp_service *svc;
	struct gateway_run res;
	struct pkt_spec spec;
	struct pkt in, out;
	uint32_t index, first;
	__u32 verdict;

	if (!dp ||
	    add_affinity_service(dp, false, AFFINITY_TEST_WEIGHT_BP, &index))
		goto cleanup;
	syn_spec(&spec, CLIENT_1, FIRST_PORT);
	pkt_build(&in, &spec);
	run_prog(dp, KN_HOOK_XDP_INGRESS, &in, &out, &verdict);
	first = out_daddr(&out);

	if (!ASSERT_OK(dp_service_set_affinity(dp, index, true),
		       "set connection affinity"))
		goto cleanup;
	svc = dp_service_at(dp, index);
	ASSERT_TRUE(svc && (svc->flags & KN_SVC_F_CONNECTION_AFFINITY),
		    "the service's flag is set");
	ASSERT_TRUE(svc && (svc->flags & KN_SVC_F_HTTP),
		    "the other flags stay");
	/* A weight under which any new choice would be the other pool. */
	dp_service_set_weight(dp, index,
			      first == CANARY_1 ? 0 : KN_WEIGHT_SCALE_BP);
	spec.tcp_flags = TCPF_ACK;
	pkt_build(&in, &spec);
	run_prog(dp, KN_HOOK_XDP_INGRESS, &in, &out, &verdict);
	ASSERT_EQ(out_daddr(&out), first,
		  "the recorded flow keeps its backend");
	dp_service_set_weight(dp, index, AFFINITY_TEST_WEIGHT_BP);

	if (!ASSERT_OK(run_gateway(dp, KN_HOOK_XDP_INGRESS,
				   AFFINITY_TEST_WEIGHT_BP, FIRST_PORT + 1,
				   &res),
		       "gateway run"))
		goto cleanup;
	ASSERT_EQ(res.mispredicted, 0,
		  "new connections follow the connection's hash");
	ASSERT_TRUE(res.client_switches > 0,
		    "a client's new connections reach both versions");

	ASSERT_OK(dp_service_set_affinity(dp, index, false),
		  "back to client affinity");
	svc = dp_service_at(dp, index);
	ASSERT_TRUE(svc && !(svc->flags & KN_SVC_F_CONNECTION_AFFINITY),
		    "the flag is cleared");
	ASSERT_EQ(dp_service_set_affinity(dp, index + 1, true), -ENOENT,
		  "no service at that index: -ENOENT");
cleanup:
	dp_close(dp, true);
}

/* Every new flow marks its client's bit; nothing else is marked. */
void test_client_seen_bitmap(void)
{
	struct dataplane *dp = open_dp(NULL);
	struct kn_client_seen seen, expected;
	struct gateway_run res;
	uint32_t index, c, w;
	bool same = true, empty = true;

	if (!dp ||
	    add_affinity_service(dp, true, AFFINITY_TEST_WEIGHT_BP, &index))
		goto cleanup;
	memset(&expected, 0, sizeof(expected));
	for (c = 0; c < GATEWAY_CLIENTS; c++) {
		__u32 addr[4] = {htonl(gateway[c]), 0, 0, 0};
		uint32_t bit = kn_client_seen_bit(addr, KN_CLIENT_SEEN_BITS);

		expected.bits[bit / 64] |= 1ULL << (bit % 64);
	}
	if (!ASSERT_OK(dp_read_clients(dp, index, &seen), "read bitmap"))
		goto cleanup;
	for (w = 0; w < KN_CLIENT_SEEN_WORDS; w++)
		empty &= seen.bits[w] == 0;
	ASSERT_TRUE(empty, "a new service's bitmap is empty");

	if (!ASSERT_OK(run_gateway(dp, KN_HOOK_TC_INGRESS,
				   AFFINITY_TEST_WEIGHT_BP, FIRST_PORT, &res),
		       "gateway run") ||
	    !ASSERT_OK(dp_read_clients(dp, index, &seen), "read bitmap"))
		goto cleanup;
	for (w = 0; w < KN_CLIENT_SEEN_WORDS; w++)
		same &= seen.bits[w] == expected.bits[w];
	ASSERT_TRUE(same, "the bitmap holds exactly the 3 clients' bits");

	ASSERT_OK(dp_clear_clients(dp, index), "clear bitmap");
	ASSERT_OK(dp_read_clients(dp, index, &seen), "read bitmap");
	for (w = 0, empty = true; w < KN_CLIENT_SEEN_WORDS; w++)
		empty &= seen.bits[w] == 0;
	ASSERT_TRUE(empty, "cleared");
cleanup:
	dp_close(dp, true);
}
