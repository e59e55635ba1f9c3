// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * split.c - the weighted split between the pools, consistent hashing across
 * replicas, a backend marked down leaving the table; each in both
 * families (IPv6 clients differ in their last 32 bits, the hash reads all
 * 128).
 *
 * Part of test_datapath (tests/bpf/test_datapath.c runs every test_*()
 * here); the data path and the packets come from tests/bpf/harness.h.
 */
#include <math.h>

#include "harness.h"

struct split_result {
	uint32_t canary;
	uint32_t mismatched_prediction;
	uint32_t not_a_backend;
};

/* One SYN per client, from port `port`; records who went to the canary. */
static int run_split(struct dataplane *dp, enum kn_hook hook, uint32_t clients,
		     uint32_t weight_bp, uint16_t port, uint8_t *is_canary,
		     struct split_result *res)
{
	const struct dp_service *svc;
	struct pkt_spec spec;
	struct pkt in, out;
	uint32_t i;
	__u32 verdict;
	int ret;

	memset(res, 0, sizeof(*res));
	svc = dp_service_find(dp, "sentiment");
	for (i = 0; i < clients; i++) {
		uint32_t client = CLIENT_BASE + i;
		__u32 addr[4];
		bool predicted;
		uint32_t daddr;

		client_words(client, addr);
		predicted = kn_client_bucket(addr, svc->seed,
					     KN_WEIGHT_SCALE_BP) < weight_bp;

		syn_spec(&spec, client, port);
		pkt_build(&in, &spec);
		ret = run_ingress(dp, hook, &in, &out, &verdict);
		if (ret)
			return ret;
		daddr = out_daddr(&out);
		is_canary[i] = daddr == CANARY_1;
		if (daddr != CANARY_1 && daddr != STABLE_1 && daddr != STABLE_2)
			res->not_a_backend++;
		res->canary += is_canary[i];
		if (is_canary[i] != predicted)
			res->mismatched_prediction++;
	}
	return 0;
}

static bool within_sigmas(uint32_t observed, uint32_t n, uint32_t weight_bp)
{
	double p = (double)weight_bp / KN_WEIGHT_SCALE_BP;
	double expected = n * p;
	double sigma = sqrt(n * p * (1 - p));

	return fabs(observed - expected) <= SPLIT_SIGMAS * sigma;
}

static void split_matches_weight(enum kn_hook hook, uint32_t clients)
{
	static const uint32_t weights_bp[] = {0, 1, 1000, 5000, 10000};
	size_t nweights = sizeof(weights_bp) / sizeof(weights_bp[0]);
	struct dataplane *dp = open_dp(NULL);
	uint8_t *prev = calloc(clients, 1), *cur = calloc(clients, 1);
	uint8_t *again = calloc(clients, 1);
	struct split_result res, res_again;
	uint32_t index, i, moved_back, changed;
	size_t w;

	if (!dp || !prev || !cur || !again || add_service(dp, 0, &index))
		goto cleanup;
	for (w = 0; w < nweights; w++) {
		char what[96];

		if (!ASSERT_OK(dp_service_set_weight(dp, index, weights_bp[w]),
			       "set weight"))
			break;
		/* New connections only: a fresh source port per round. */
		if (!ASSERT_OK(run_split(dp, hook, clients, weights_bp[w],
					 (uint16_t)(1000 + 2 * w), cur, &res),
			       "split run"))
			break;
		snprintf(what, sizeof(what),
			 "canary share at %u bp: %u of %u clients",
			 weights_bp[w], res.canary, clients);
		ASSERT_TRUE(within_sigmas(res.canary, clients, weights_bp[w]),
			    what);
		ASSERT_EQ(res.not_a_backend, 0, "every SYN went to a backend");
		ASSERT_EQ(res.mismatched_prediction, 0,
			  "kernel choice equals hash(client, seed) < weight");

		/* The same clients again, from other ports: same version. */
		if (!ASSERT_OK(run_split(dp, hook, clients, weights_bp[w],
					 (uint16_t)(1001 + 2 * w), again,
					 &res_again),
			       "split run again"))
			break;
		for (i = 0, changed = 0; i < clients; i++)
			changed += cur[i] != again[i];
		ASSERT_EQ(changed, 0, "a client keeps its version");

		if (w > 0) {
			for (i = 0, moved_back = 0; i < clients; i++)
				moved_back += prev[i] && !cur[i];
			ASSERT_EQ(moved_back, 0,
				  "raising the weight moves no client back "
				  "to stable");
		}
		memcpy(prev, cur, clients);
	}
cleanup:
	free(prev);
	free(cur);
	free(again);
	dp_close(dp, true);
}

void test_xdp_split_matches_weight(void)
{
	split_matches_weight(KN_HOOK_XDP_INGRESS, SPLIT_CLIENTS);
}

void test_tc_split_matches_weight(void)
{
	split_matches_weight(KN_HOOK_TC_INGRESS, SPLIT_CLIENTS);
}

/* SYNs from CLIENT_1, ports 10000.. on a fresh data path whose stable pool
 * has `replicas` replicas; records each flow's backend. */
static int replica_choices(uint32_t replicas, uint32_t flows, uint32_t *where)
{
	struct dataplane *dp = open_dp(NULL);
	struct endpoint stable[3], canary[1] = {ep(CANARY_1, BACKEND_PORT)};
	char err[DP_ERR_LEN];
	struct pkt_spec spec;
	struct pkt in, out;
	uint32_t i, index;
	__u32 verdict;
	int ret = -1;

	for (i = 0; i < 3; i++)
		stable[i] = ep(STABLE_1 + i, BACKEND_PORT);
	if (!dp || add_service(dp, 0, &index))
		goto cleanup;
	if (!ASSERT_OK(dp_service_update(dp, index, stable, replicas, canary, 1,
					 0, err, sizeof(err)),
		       err))
		goto cleanup;
	for (i = 0; i < flows; i++) {
		syn_spec(&spec, CLIENT_1, (uint16_t)(10000 + i));
		pkt_build(&in, &spec);
		if (run_xdp_mode(dp, &in, &out, &verdict))
			goto cleanup;
		where[i] = out_daddr(&out);
	}
	ret = 0;
cleanup:
	dp_close(dp, true);
	return ret;
}

/* Replicas share a pool evenly, and removing one moves only its flows. */
void test_replicas_consistent_hashing(void)
{
	enum { FLOWS = 20000 };
	uint32_t *three = calloc(FLOWS, sizeof(*three));
	uint32_t *two = calloc(FLOWS, sizeof(*two));
	uint32_t per_replica[3] = {0}, i, moved_other = 0, moved_off = 0;

	if (!three || !two || replica_choices(3, FLOWS, three) ||
	    replica_choices(2, FLOWS, two))
		goto cleanup;
	for (i = 0; i < FLOWS; i++)
		if (three[i] >= STABLE_1 && three[i] < STABLE_1 + 3)
			per_replica[three[i] - STABLE_1]++;
	for (i = 0; i < 3; i++)
		ASSERT_TRUE(per_replica[i] > FLOWS / 3 - FLOWS / 20 &&
				per_replica[i] < FLOWS / 3 + FLOWS / 20,
			    "each of 3 replicas gets a third (+-5 %) of flows");
	for (i = 0; i < FLOWS; i++) {
		if (three[i] == STABLE_1 + 2)
			moved_off += two[i] != three[i];
		else
			moved_other += two[i] != three[i];
	}
	printf("# removing 1 of 3 replicas moved %u flows of the others and "
	       "%u of the removed one's %u\n",
	       moved_other, moved_off, per_replica[2]);
	ASSERT_EQ(moved_off, per_replica[2],
		  "the removed replica's flows all move");
	/* Maglev is near-minimal: allow 2 % of the others to move. */
	ASSERT_TRUE(moved_other <= FLOWS / 50,
		    "new flows of the remaining replicas stay where they were");
cleanup:
	free(three);
	free(two);
}

/* A replica marked down gets no new flows; its established flows stay; the
 * others keep theirs; with every replica down, all stay in the table. */
void test_down_backend_leaves_the_table(void)
{
	enum { FLOWS = 3000 };
	struct dataplane *dp = open_dp(NULL);
	struct endpoint s1 = ep(STABLE_1, BACKEND_PORT);
	struct endpoint s2 = ep(STABLE_2, BACKEND_PORT);
	uint32_t *before = calloc(FLOWS, sizeof(*before));
	uint32_t i, index, to_down = 0, moved_up = 0, kept = 0;
	struct pkt_spec spec;
	struct pkt in, out;
	__u32 verdict;

	if (!dp || !before || add_service(dp, 0, &index))
		goto cleanup;
	for (i = 0; i < FLOWS; i++) {
		syn_spec(&spec, CLIENT_1, (uint16_t)(20000 + i));
		pkt_build(&in, &spec);
		if (run_xdp_mode(dp, &in, &out, &verdict))
			goto cleanup;
		before[i] = out_daddr(&out);
	}
	if (!ASSERT_OK(dp_service_set_down(dp, index, &s1, true), "mark down"))
		goto cleanup;
	ASSERT_TRUE(
	    dp_service_at(dp, index)->pools[KN_POOL_STABLE].backends[0].down,
	    "the service mirror says down");
	for (i = 0; i < FLOWS; i++) {
		/* a new connection: another port of the same client */
		syn_spec(&spec, CLIENT_1, (uint16_t)(30000 + i));
		pkt_build(&in, &spec);
		if (run_xdp_mode(dp, &in, &out, &verdict))
			goto cleanup;
		to_down += out_daddr(&out) == STABLE_1;
		/* the established flow of before */
		syn_spec(&spec, CLIENT_1, (uint16_t)(20000 + i));
		spec.tcp_flags = TCPF_ACK;
		pkt_build(&in, &spec);
		if (run_xdp_mode(dp, &in, &out, &verdict))
			goto cleanup;
		kept += out_daddr(&out) == before[i];
	}
	ASSERT_EQ(to_down, 0, "no new flow goes to the down replica");
	ASSERT_EQ(kept, FLOWS, "every established flow keeps its backend");
	/* Both down: there is nothing better, all stay in the table. */
	dp_service_set_down(dp, index, &s2, true);
	for (i = 0; i < 200; i++) {
		syn_spec(&spec, CLIENT_1, (uint16_t)(40000 + i));
		pkt_build(&in, &spec);
		run_xdp_mode(dp, &in, &out, &verdict);
		moved_up += out_daddr(&out) == STABLE_1;
	}
	ASSERT_TRUE(moved_up > 0 && moved_up < 200,
		    "with every replica down, both take new flows");
	ASSERT_EQ(dp_service_set_down(dp, index, &s1, false), 0, "mark up");
	ASSERT_EQ(dp_service_set_down(dp, index, &(struct endpoint){0}, true),
		  -ENOENT, "unknown backend refused");
cleanup:
	free(before);
	dp_close(dp, true);
}

void test_ipv6_xdp_split_matches_weight(void)
{
	IN_IPV6(test_xdp_split_matches_weight());
}

void test_ipv6_tc_split_matches_weight(void)
{
	IN_IPV6(test_tc_split_matches_weight());
}

void test_ipv6_replicas_consistent_hashing(void)
{
	IN_IPV6(test_replicas_consistent_hashing());
}

void test_ipv6_down_backend_leaves_the_table(void)
{
	IN_IPV6(test_down_backend_leaves_the_table());
}
