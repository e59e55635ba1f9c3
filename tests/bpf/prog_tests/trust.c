// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * trust.c - what ingress trusts without looking a service up: a known flow
 * whose service slot is still of the generation it recorded, and the
 * services' filter of (VIP, port) bits. A removed service's flows are never
 * steered again, whatever slot or port another service takes; a flow from
 * before the generation existed takes the full path once; adoption fills both
 * maps. What egress trusts: the backends' filter of (address, port) bits,
 * set for every backend a config names and kept for a departed one whose
 * flows live on; an agent that creates it over older pins fills it from
 * kn_replies.
 *
 * Part of test_datapath (tests/bpf/test_datapath.c runs every test_*()
 * here); the data path and the packets come from tests/bpf/harness.h.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <stdio.h>
#include <unistd.h>

#include "harness.h"

#define OTHER_VIP	   (VIP + 1)
#define TRUST_PATH_BYTES   (HARNESS_PIN_DIR_BYTES + 32)
#define INGRESS_HOOK_COUNT 2 /* KN_HOOK_XDP_INGRESS, KN_HOOK_TC_INGRESS */

static int pinned_map(const char *name)
{
	char path[TRUST_PATH_BYTES];

	snprintf(path, sizeof(path), "%s/%s", harness_pin_dir, name);
	return bpf_obj_get(path);
}

/* A service named name on vip:VIP_PORT, the harness's pools. */
static int add_named(struct dataplane *dp, const char *name, uint32_t vip,
		     uint32_t *index)
{
	static const uint32_t stable[] = {STABLE_1, STABLE_2};
	struct dp_service_def def = split_service_def(
	    name, ep(vip, VIP_PORT), stable, CANARY_1, BACKEND_PORT, 0);
	char err[DP_ERR_LEN];
	int ret = dp_service_add(dp, &def, index, err, sizeof(err));

	if (!ASSERT_OK(ret, "dp_service_add"))
		printf("# %s\n", err);
	return ret;
}

/* A segment from client:port to vip:VIP_PORT. */
static void segment(struct pkt *in, uint32_t client, uint16_t port,
		    uint32_t vip, uint8_t flags)
{
	struct pkt_spec spec;

	tcp_spec(&spec, client, port, vip, VIP_PORT, flags);
	spec.family = (uint8_t)harness_family;
	pkt_build(in, &spec);
}

/* SYN and ACK of client:port to vip through hook: the backend, or 0. */
static uint32_t establish(struct dataplane *dp, enum kn_hook hook,
			  uint32_t client, uint16_t port, uint32_t vip)
{
	struct pkt in, out;
	uint32_t backend;
	__u32 verdict;

	segment(&in, client, port, vip, TCPF_SYN);
	if (run_prog(dp, hook, &in, &out, &verdict))
		return 0;
	backend = out_daddr(&out);
	segment(&in, client, port, vip, TCPF_ACK);
	if (run_prog(dp, hook, &in, &out, &verdict) ||
	    out_daddr(&out) != backend)
		return 0;
	return backend;
}

/* The IPv4 flow client:port -> vip:VIP_PORT as the program keeps it. */
static int read_flow(int flows, uint32_t client, uint16_t port, uint32_t vip,
		     struct kn_flow_key *key, struct kn_flow *flow)
{
	memset(key, 0, sizeof(*key));
	key->family = KN_AF_INET;
	key->src.w[0] = htonl(client);
	key->dst.w[0] = htonl(vip);
	key->sport = htons(port);
	key->dport = htons(VIP_PORT);
	key->proto = IPPROTO_TCP;
	return bpf_map_lookup_elem(flows, key, flow);
}

static __u32 slot_generation(uint32_t index)
{
	int gens = pinned_map("kn_service_gens");
	__u32 generation = 0;

	if (gens >= 0) {
		bpf_map_lookup_elem(gens, &index, &generation);
		close(gens);
	}
	return generation;
}

/* Whether (host, port) has its bit in the endpoint filter pinned as name. */
static bool endpoint_bit(const char *name, uint32_t host, uint16_t port)
{
	int filter = pinned_map(name);
	struct endpoint e = ep(host, port);
	struct kn_addr addr = {};
	__u32 bit, word;
	__u64 bits = 0;

	if (endpoint_family(&e) == AF_INET6)
		memcpy(&addr, &e.addr6, sizeof(addr));
	else
		addr.w[0] = e.addr.s_addr;
	bit = kn_filter_bit(addr.w, htons(port));
	word = bit / 64;
	if (filter >= 0) {
		bpf_map_lookup_elem(filter, &word, &bits);
		close(filter);
	}
	return (bits >> (bit % 64)) & 1;
}

/* Whether (vip, port) has its bit in the services' filter. */
static bool filter_bit(uint32_t vip, uint16_t port)
{
	return endpoint_bit("kn_service_filter", vip, port);
}

/* Whether a backend's address on BACKEND_PORT has its bit in the backends'
 * filter. */
static bool backend_bit(uint32_t backend)
{
	return endpoint_bit("kn_backend_filter", backend, BACKEND_PORT);
}

static void removed_service_flows_pass(void)
{
	struct dataplane *dp = open_dp(NULL);
	uint32_t index, hook, backend[INGRESS_HOOK_COUNT] = {0};
	struct pkt in;

	if (!dp || add_service(dp, 0, &index))
		goto cleanup;
	for (hook = 0; hook < INGRESS_HOOK_COUNT; hook++) {
		backend[hook] = establish(dp, hook, CLIENT_1,
					  (uint16_t)(41000 + hook), VIP);
		ASSERT_TRUE(backend[hook] != 0, "flow established");
	}
	ASSERT_OK(dp_service_remove(dp, index), "service removed");
	for (hook = 0; hook < INGRESS_HOOK_COUNT; hook++) {
		segment(&in, CLIENT_1, (uint16_t)(41000 + hook), VIP, TCPF_ACK);
		expect_untouched(dp, hook, &in, KN_R_NOT_FOR_US,
				 "a removed service's flow is not steered");
	}
	ASSERT_TRUE(!filter_bit(VIP, VIP_PORT), "its filter bit is cleared");
cleanup:
	dp_close(dp, true);
}

void test_removed_service_flows_pass(void)
{
	removed_service_flows_pass();
}

void test_ipv6_removed_service_flows_pass(void)
{
	IN_IPV6(removed_service_flows_pass());
}

/* The slot and the port of a removed service taken by another service on
 * another address: the old flows still pass, the new service's are
 * steered. */
static void slot_reused_by_another_service(void)
{
	struct dataplane *dp = open_dp(NULL);
	uint32_t index, other, hook;
	__u32 before;
	struct pkt in, out;
	__u32 verdict;

	if (!dp || add_service(dp, 0, &index))
		goto cleanup;
	for (hook = 0; hook < INGRESS_HOOK_COUNT; hook++)
		ASSERT_TRUE(establish(dp, hook, CLIENT_1,
				      (uint16_t)(42000 + hook), VIP) != 0,
			    "flow established");
	before = slot_generation(index);
	ASSERT_OK(dp_service_remove(dp, index), "service removed");
	if (add_named(dp, "other", OTHER_VIP, &other))
		goto cleanup;
	ASSERT_EQ(other, index, "the new service takes the freed slot");
	ASSERT_TRUE(slot_generation(index) != before &&
			slot_generation(index) != 0,
		    "the slot's generation moved on, not to 0");
	ASSERT_TRUE(filter_bit(OTHER_VIP, VIP_PORT),
		    "the new service's filter bit is set");
	for (hook = 0; hook < INGRESS_HOOK_COUNT; hook++) {
		segment(&in, CLIENT_1, (uint16_t)(42000 + hook), VIP, TCPF_ACK);
		expect_untouched(dp, hook, &in, KN_R_NOT_FOR_US,
				 "the old service's flow is not steered");
		ASSERT_TRUE(establish(dp, hook, CLIENT_1,
				      (uint16_t)(43000 + hook), OTHER_VIP) != 0,
			    "the new service's flows are");
		segment(&in, CLIENT_1, (uint16_t)(43000 + hook), OTHER_VIP,
			TCPF_ACK);
		if (run_prog(dp, hook, &in, &out, &verdict))
			goto cleanup;
		ASSERT_EQ(out_dport(&out), BACKEND_PORT, "and stay steered");
	}
cleanup:
	dp_close(dp, true);
}

void test_slot_reused_by_another_service(void)
{
	slot_reused_by_another_service();
}

void test_ipv6_slot_reused_by_another_service(void)
{
	IN_IPV6(slot_reused_by_another_service());
}

/* Two services on one port: removing one leaves the other's filter bit
 * (and its flows) alone, while the removed one's flows pass; removing both
 * clears the bits. */
void test_filter_bit_kept_while_a_service_uses_it(void)
{
	struct dataplane *dp = open_dp(NULL);
	uint32_t first, second, backend, hook;
	struct pkt in, out;
	__u32 verdict;

	if (!dp || add_service(dp, 0, &first) ||
	    add_named(dp, "other", OTHER_VIP, &second))
		goto cleanup;
	ASSERT_TRUE(!filter_bit(VIP, VIP_PORT + 1),
		    "no filter bit for another port");
	for (hook = 0; hook < INGRESS_HOOK_COUNT; hook++)
		ASSERT_TRUE(establish(dp, hook, CLIENT_1,
				      (uint16_t)(44100 + hook), VIP) != 0,
			    "first service's flow established");
	backend =
	    establish(dp, KN_HOOK_XDP_INGRESS, CLIENT_1, 44000, OTHER_VIP);
	ASSERT_OK(dp_service_remove(dp, first), "first service removed");
	ASSERT_TRUE(filter_bit(OTHER_VIP, VIP_PORT),
		    "the other service's filter bit stays");
	for (hook = 0; hook < INGRESS_HOOK_COUNT; hook++) {
		segment(&in, CLIENT_1, (uint16_t)(44100 + hook), VIP, TCPF_ACK);
		expect_untouched(dp, hook, &in, KN_R_NOT_FOR_US,
				 "the removed service's flow is not steered");
	}
	segment(&in, CLIENT_1, 44000, OTHER_VIP, TCPF_ACK);
	if (run_prog(dp, KN_HOOK_XDP_INGRESS, &in, &out, &verdict))
		goto cleanup;
	ASSERT_TRUE(backend != 0 && out_daddr(&out) == backend,
		    "the other service's flow keeps its backend");
	ASSERT_OK(dp_service_remove(dp, second), "second service removed");
	ASSERT_TRUE(!filter_bit(OTHER_VIP, VIP_PORT),
		    "its filter bit is cleared");
	expect_untouched(dp, KN_HOOK_XDP_INGRESS, &in, KN_R_NOT_FOR_US,
			 "and its flow passes");
cleanup:
	dp_close(dp, true);
}

/* A flow from before the generation existed (0, as the migration leaves
 * it) keeps its backend and records the slot's generation. */
void test_flow_without_generation_records_it(void)
{
	struct dataplane *dp = open_dp(NULL);
	struct kn_flow_key key;
	struct kn_flow flow;
	uint32_t index, backend;
	int flows = -1;
	struct pkt in, out;
	__u32 verdict;

	if (!dp || add_service(dp, 0, &index))
		goto cleanup;
	flows = pinned_map("kn_flows");
	backend = establish(dp, KN_HOOK_TC_INGRESS, CLIENT_1, 45000, VIP);
	if (!ASSERT_OK(read_flow(flows, CLIENT_1, 45000, VIP, &key, &flow),
		       "the flow is in the table"))
		goto cleanup;
	ASSERT_EQ(flow.service_generation, slot_generation(index),
		  "a new flow records its slot's generation");
	flow.service_generation = 0;
	ASSERT_OK(bpf_map_update_elem(flows, &key, &flow, BPF_EXIST),
		  "generation cleared");
	/* Another weight: a flow re-derived would go to the canary. */
	dp_service_set_weight(dp, index, KN_WEIGHT_SCALE_BP);
	segment(&in, CLIENT_1, 45000, VIP, TCPF_ACK);
	if (run_prog(dp, KN_HOOK_TC_INGRESS, &in, &out, &verdict))
		goto cleanup;
	ASSERT_EQ(out_daddr(&out), backend, "the flow keeps its backend");
	read_flow(flows, CLIENT_1, 45000, VIP, &key, &flow);
	ASSERT_TRUE(flow.service_generation != 0 &&
			flow.service_generation == slot_generation(index),
		    "and records the slot's generation");
cleanup:
	if (flows >= 0)
		close(flows);
	dp_close(dp, true);
}

/* Pinned maps from before the generations and the filter (both empty): the
 * agent that adopts the services fills them before any packet needs them. */
void test_adoption_fills_generation_and_filter(void)
{
	struct dataplane *dp = open_dp(NULL), *dp2 = NULL;
	uint32_t index, backend, zero32 = 0;
	__u64 zeros[KN_FILTER_WORDS] = {0};
	__u32 count = KN_FILTER_WORDS, keys[KN_FILTER_WORDS], w;
	int gens = -1, filter = -1;
	struct pkt in, out;
	__u32 verdict;

	if (!dp || add_service(dp, 0, &index))
		goto cleanup;
	backend = establish(dp, KN_HOOK_XDP_INGRESS, CLIENT_1, 46000, VIP);
	dp_close(dp, false); /* keep the pins: a later agent adopts them */
	dp = NULL;
	gens = pinned_map("kn_service_gens");
	filter = pinned_map("kn_service_filter");
	for (w = 0; w < KN_FILTER_WORDS; w++)
		keys[w] = w;
	if (!ASSERT_TRUE(gens >= 0 && filter >= 0, "maps pinned") ||
	    !ASSERT_OK(bpf_map_update_elem(gens, &index, &zero32, BPF_ANY),
		       "generation cleared") ||
	    !ASSERT_OK(bpf_map_update_batch(filter, keys, zeros, &count, NULL),
		       "filter cleared"))
		goto cleanup;

	dp2 = open_dp(NULL);
	if (!dp2)
		goto cleanup;
	ASSERT_TRUE(slot_generation(index) != 0, "a generation written");
	ASSERT_TRUE(filter_bit(VIP, VIP_PORT), "the filter bit set");
	segment(&in, CLIENT_1, 46000, VIP, TCPF_ACK);
	if (run_prog(dp2, KN_HOOK_XDP_INGRESS, &in, &out, &verdict))
		goto cleanup;
	ASSERT_TRUE(backend != 0 && out_daddr(&out) == backend,
		    "the flow keeps its backend");
cleanup:
	if (gens >= 0)
		close(gens);
	if (filter >= 0)
		close(filter);
	dp_close(dp, true);
	dp_close(dp2, true);
}

#define NEW_STABLE 0xc6120103 /* 198.18.1.3 */
#define NEW_CANARY 0xc6120202 /* 198.18.2.2 */

/* The reply of client:port's flow from backend, through tc egress: whether
 * it left with the VIP as its source. */
static bool reply_translated(struct dataplane *dp, uint32_t backend,
			     uint32_t client, uint16_t port)
{
	struct pkt_spec spec;
	struct pkt in, out;
	__u32 verdict;

	reply_spec(&spec, backend, client, port, TCPF_ACK);
	pkt_build(&in, &spec);
	return !run_prog(dp, KN_HOOK_TC_EGRESS, &in, &out, &verdict) &&
	       out_saddr(&out) == VIP && out_sport(&out) == VIP_PORT;
}

/* Pools without the backend the client's flow went to. */
static int replace_pools(struct dataplane *dp, uint32_t index)
{
	struct endpoint stable = ep(NEW_STABLE, BACKEND_PORT),
			canary = ep(NEW_CANARY, BACKEND_PORT);
	char err[DP_ERR_LEN];
	int ret;

	ret = dp_service_update(dp, index, &stable, 1, &canary, 1, 0, err,
				sizeof(err));
	if (!ASSERT_OK(ret, "dp_service_update"))
		printf("# %s\n", err);
	return ret;
}

/* Every backend a config names has its bit before any flow can reach it;
 * a departed backend keeps its bit while its flows' replies may come. */
void test_backend_filter_covers_every_backend(void)
{
	struct dataplane *dp = open_dp(NULL);
	uint32_t index, backend;

	if (!dp || add_service(dp, 0, &index))
		goto cleanup;
	ASSERT_TRUE(backend_bit(STABLE_1) && backend_bit(STABLE_2) &&
			backend_bit(CANARY_1),
		    "the service's backends have their bits");
	backend = establish(dp, KN_HOOK_TC_INGRESS, CLIENT_1, 47000, VIP);
	if (!ASSERT_TRUE(backend != 0, "flow established") ||
	    replace_pools(dp, index))
		goto cleanup;
	ASSERT_TRUE(backend_bit(NEW_STABLE) && backend_bit(NEW_CANARY),
		    "the new pools' backends have their bits");
	ASSERT_TRUE(backend_bit(backend), "the departed backend keeps its bit");
	ASSERT_TRUE(reply_translated(dp, backend, CLIENT_1, 47000),
		    "its flow's replies still leave as the VIP");
cleanup:
	dp_close(dp, true);
}

/* More than the agent reads a batch at a time (FILL_BATCH). */
#define FILL_FLOWS 2500

/* Pins from before the backends' filter: the agent that creates it sets
 * the bits of the replies kn_replies holds, even of backends no config
 * names any more, before its programs see a reply. */
void test_adoption_fills_backend_filter_from_replies(void)
{
	static uint32_t backends[FILL_FLOWS];
	struct dataplane *dp = open_dp(NULL), *dp2 = NULL;
	char path[TRUST_PATH_BYTES];
	uint32_t index, i, established = 0, translated = 0;

	if (!dp || add_service(dp, 0, &index))
		goto cleanup;
	for (i = 0; i < FILL_FLOWS; i++) {
		backends[i] = establish(dp, KN_HOOK_TC_INGRESS, CLIENT_1,
					(uint16_t)(48000 + i), VIP);
		established += backends[i] != 0;
	}
	if (!ASSERT_EQ(established, FILL_FLOWS, "flows established") ||
	    replace_pools(dp, index))
		goto cleanup;
	dp_close(dp, false); /* keep the pins: a later agent adopts them */
	dp = NULL;
	snprintf(path, sizeof(path), "%s/kn_backend_filter", harness_pin_dir);
	if (!ASSERT_OK(unlink(path), "the filter's pin removed"))
		goto cleanup;

	dp2 = open_dp(NULL);
	if (!dp2)
		goto cleanup;
	ASSERT_TRUE(backend_bit(NEW_STABLE) && backend_bit(NEW_CANARY),
		    "the adopted config's backends have their bits");
	ASSERT_TRUE(backend_bit(STABLE_1) && backend_bit(STABLE_2),
		    "the departed backends' bits set from kn_replies");
	for (i = 0; i < FILL_FLOWS; i++)
		translated += reply_translated(dp2, backends[i], CLIENT_1,
					       (uint16_t)(48000 + i));
	ASSERT_EQ(translated, FILL_FLOWS,
		  "their flows' replies still leave as the VIP");
cleanup:
	dp_close(dp, true);
	dp_close(dp2, true);
}
