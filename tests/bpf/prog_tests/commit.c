// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * commit.c - a configuration commit is atomic for packets in flight; cutting a
 * backend's flows.
 *
 * Part of test_datapath (tests/bpf/test_datapath.c runs every test_*()
 * here); the data path and the packets come from tests/bpf/harness.h.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "harness.h"

struct race_state {
	struct dataplane *dp;
	atomic_bool stop;
	_Atomic uint64_t packets;
	uint64_t wrong_pairing;
	uint64_t other;
};

/* Two configurations whose mixes are detectable:
 *   A: weight 0,    stable {S1}, canary {C1}  -> every SYN to S1
 *   B: weight 100%, stable {S2}, canary {C2}  -> every SYN to C2
 * A weight paired with the other's pools sends a SYN to C1 or S2. */
#define RACE_S1 0xc6120301
#define RACE_C1 0xc6120302
#define RACE_S2 0xc6120303
#define RACE_C2 0xc6120304

/* The race runs until both counts are reached; the time limit only bounds
 * the loop on a machine too slow to reach them (then the test fails, on the
 * counts, not on a timing). */
#define RACE_COMMITS	 100
#define RACE_MIN_PACKETS 2000
#define RACE_LIMIT_S	 60

static void *race_sender(void *arg)
{
	struct race_state *st = arg;
	struct pkt_spec spec;
	struct pkt in, out;
	uint32_t n = 0;
	__u32 verdict;

	while (!atomic_load(&st->stop)) {
		uint32_t daddr;

		syn_spec(&spec, CLIENT_BASE + (n % 60000),
			 (uint16_t)(1024 + n / 60000 % 60000));
		n++;
		pkt_build(&in, &spec);
		if (run_ingress(st->dp,
				n & 1 ? KN_HOOK_XDP_INGRESS
				      : KN_HOOK_TC_INGRESS,
				&in, &out, &verdict))
			break;
		daddr = out_daddr(&out);
		st->packets++;
		if (daddr == RACE_C1 || daddr == RACE_S2)
			st->wrong_pairing++;
		else if (daddr != RACE_S1 && daddr != RACE_C2)
			st->other++;
	}
	return NULL;
}

void test_commit_is_atomic(void)
{
	struct dataplane *dp = open_dp(NULL);
	struct race_state st = {0};
	struct kn_service_stats sstats;
	struct endpoint s1 = ep(RACE_S1, 80), c1 = ep(RACE_C1, 80);
	struct endpoint s2 = ep(RACE_S2, 80), c2 = ep(RACE_C2, 80);
	char err[DP_ERR_LEN];
	pthread_t sender;
	uint32_t index, commits = 0;
	struct timespec start, now;

	if (!dp || add_service(dp, 0, &index))
		goto cleanup;
	dp_service_update(dp, index, &s1, 1, &c1, 1, 0, err, sizeof(err));
	st.dp = dp;
	if (pthread_create(&sender, NULL, race_sender, &st))
		goto cleanup;
	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		if (commits & 1)
			dp_service_update(dp, index, &s1, 1, &c1, 1, 0, err,
					  sizeof(err));
		else
			dp_service_update(dp, index, &s2, 1, &c2, 1, 10000, err,
					  sizeof(err));
		commits++;
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while ((commits < RACE_COMMITS ||
		  atomic_load(&st.packets) < RACE_MIN_PACKETS) &&
		 now.tv_sec - start.tv_sec < RACE_LIMIT_S);
	atomic_store(&st.stop, true);
	pthread_join(sender, NULL);
	printf("# %u commits while %lu SYNs were steered\n", commits,
	       (unsigned long)atomic_load(&st.packets));
	ASSERT_TRUE(commits >= RACE_COMMITS, "many commits");
	ASSERT_TRUE(atomic_load(&st.packets) >= RACE_MIN_PACKETS,
		    "many packets during the commits");
	ASSERT_EQ(st.wrong_pairing, 0,
		  "no SYN saw a weight with the other config's pools");
	ASSERT_EQ(st.other, 0, "every SYN went to a configured backend");
	dp_read_service(dp, index, &sstats);
	ASSERT_EQ(sstats.config_races, 0, "no generation mismatch seen");
cleanup:
	dp_close(dp, true);
}

/* Cutting a backend's flows (a rollback with cut_connections_on_rollback):
 * their next packets are misses, re-derived by the current weight. */
void test_flush_backend_flows(void)
{
	struct dataplane *dp = open_dp(NULL);
	const struct dp_service *svc;
	struct kn_service_stats sstats;
	struct pkt_spec spec;
	struct pkt in, out;
	uint32_t index, i, on_canary = 0, canary_slot;
	int removed;
	__u32 verdict;

	if (!dp || add_service(dp, 10000, &index))
		goto cleanup;
	for (i = 0; i < 20; i++) {
		syn_spec(&spec, CLIENT_1 + i, 51000);
		pkt_build(&in, &spec);
		run_prog(dp, KN_HOOK_TC_INGRESS, &in, &out, &verdict);
		on_canary += out_daddr(&out) == CANARY_1;
	}
	ASSERT_EQ(on_canary, 20, "at 100 % every flow is on the canary");
	dp_service_set_weight(dp, index, 0);
	svc = dp_service_at(dp, index);
	canary_slot = svc->pools[KN_POOL_CANARY].backends[0].stats_index;
	removed = dp_flush_backend_flows(dp, canary_slot);
	ASSERT_EQ(removed, 20, "every canary flow is forgotten");
	for (i = 0, on_canary = 0; i < 20; i++) {
		syn_spec(&spec, CLIENT_1 + i, 51000);
		spec.tcp_flags = TCPF_ACK;
		pkt_build(&in, &spec);
		run_prog(dp, KN_HOOK_TC_INGRESS, &in, &out, &verdict);
		on_canary += out_daddr(&out) == CANARY_1;
	}
	ASSERT_EQ(on_canary, 0, "their next packets go to stable");
	dp_read_service(dp, index, &sstats);
	ASSERT_EQ(sstats.flow_misses, 20, "each was a counted miss");
cleanup:
	dp_close(dp, true);
}

void test_ipv6_commit_is_atomic(void)
{
	IN_IPV6(test_commit_is_atomic());
}

void test_ipv6_flush_backend_flows(void)
{
	IN_IPV6(test_flush_backend_flows());
}
