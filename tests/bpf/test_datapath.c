// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * test_datapath.c - the kernel data path on crafted packets, through
 * bpf_prog_test_run_opts: the real programs, the real maps, loaded by the
 * agent's own loader (lib/datapath/open.c) without attaching to an interface.
 *
 * Every packet's checksums are verified from scratch (tests/bpf/packets.h),
 * not with the program's own incremental arithmetic.
 * Usage: test_datapath [NAME-SUBSTRING]   (prints TAP)
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/types.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "bpf_test.h"
#include "datapath/dataplane.h"
#include "kanary_hash.h"
#include "kanary_shared.h"
#include "util/log.h"
#include "packets.h"

#define VIP		 0xc6126401 /* 198.18.100.1 */
#define VIP_PORT	 80
#define STABLE_1	 0xc6120101 /* 198.18.1.1 */
#define STABLE_2	 0xc6120102 /* 198.18.1.2 */
#define CANARY_1	 0xc6120201 /* 198.18.2.1 */
#define BACKEND_PORT	 8000
#define CLIENT_BASE	 0xc6120000 /* 198.18.0.0: 131072 addresses in /15 */
#define CLIENT_1	 0xc6120a0a /* 198.18.10.10 */
#define OTHER_HOST	 0xc6120909 /* 198.18.9.9 */
#define SPLIT_CLIENTS	 100000
#define SPLIT_SIGMAS	 4.0
#define XDP_PASS_VERDICT 2
#define XDP_DROP_VERDICT 1
#define TC_OK_VERDICT	 0
#define TC_SHOT_VERDICT	 2

static char pin_dir[128];

static struct dataplane *open_dp(const struct dp_options *extra)
{
	struct dp_options opts = {
	    .pin_dir = pin_dir,
	    .max_flows = 1 << 18,
	    .max_services = 16,
	    .max_backends = 256,
	};
	struct dataplane *dp = NULL;
	char err[DP_ERR_LEN];
	int ret;

	if (extra) {
		opts.tcp_closing_timeout_ns = extra->tcp_closing_timeout_ns;
		opts.tcp_syn_timeout_ns = extra->tcp_syn_timeout_ns;
	}
	ret = dp_open(&opts, &dp, err, sizeof(err));
	if (!ASSERT_OK(ret, "dp_open"))
		printf("# %s\n", err);
	return ret ? NULL : dp;
}

static struct endpoint ep(uint32_t host_addr, uint16_t port)
{
	struct endpoint e = {.addr.s_addr = htonl(host_addr), .port = port};
	return e;
}

/* A TCP service 198.18.100.1:80 with two stable and one canary replica. */
static int add_service(struct dataplane *dp, uint32_t canary_bp,
		       uint32_t *index)
{
	struct dp_service_def def = {
	    .name = "sentiment",
	    .proto = IPPROTO_TCP,
	    .flags = KN_SVC_F_HTTP,
	    .stable_count = 2,
	    .canary_count = 1,
	    .canary_bp = canary_bp,
	};
	char err[DP_ERR_LEN];
	int ret;

	def.vip = ep(VIP, VIP_PORT);
	def.stable[0] = ep(STABLE_1, BACKEND_PORT);
	def.stable[1] = ep(STABLE_2, BACKEND_PORT);
	def.canary[0] = ep(CANARY_1, BACKEND_PORT);
	ret = dp_service_add(dp, &def, index, err, sizeof(err));
	if (!ASSERT_OK(ret, "dp_service_add"))
		printf("# %s\n", err);
	return ret;
}

static int run_prog(struct dataplane *dp, enum kn_hook hook,
		    const struct pkt *in, struct pkt *out, __u32 *verdict)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in->data,
		    .data_size_in = in->len, .data_out = out->data,
		    .data_size_out = sizeof(out->data), .repeat = 1);
	int ret = bpf_prog_test_run_opts(dp_prog_fd(dp, hook), &opts);

	out->len = opts.data_size_out;
	*verdict = opts.retval;
	return ret;
}

/*
 * What the kernel does with a client packet in XDP mode: XDP first, then,
 * for what XDP passes, the tc ingress program (the slow path for packets
 * XDP leaves alone, such as a checksum that looks offloaded).
 */
static int run_xdp_mode(struct dataplane *dp, const struct pkt *in,
			struct pkt *out, __u32 *verdict)
{
	struct pkt mid;
	int ret = run_prog(dp, KN_HOOK_XDP_INGRESS, in, &mid, verdict);

	if (ret || *verdict != XDP_PASS_VERDICT)
		return ret;
	return run_prog(dp, KN_HOOK_TC_INGRESS, &mid, out, verdict);
}

/* One hook alone, or the whole XDP-mode path for KN_HOOK_XDP_INGRESS. */
static int run_ingress(struct dataplane *dp, enum kn_hook hook,
		       const struct pkt *in, struct pkt *out, __u32 *verdict)
{
	if (hook == KN_HOOK_XDP_INGRESS)
		return run_xdp_mode(dp, in, out, verdict);
	return run_prog(dp, hook, in, out, verdict);
}

static __u32 pass_verdict(enum kn_hook hook)
{
	return hook == KN_HOOK_XDP_INGRESS ? XDP_PASS_VERDICT : TC_OK_VERDICT;
}

static __u32 drop_verdict(enum kn_hook hook)
{
	return hook == KN_HOOK_XDP_INGRESS ? XDP_DROP_VERDICT : TC_SHOT_VERDICT;
}

static void syn_spec(struct pkt_spec *s, uint32_t client, uint16_t port)
{
	memset(s, 0, sizeof(*s));
	s->saddr = client;
	s->daddr = VIP;
	s->sport = port;
	s->dport = VIP_PORT;
	s->proto = IPPROTO_TCP;
	s->tcp_flags = TCPF_SYN;
}

static uint32_t out_daddr(const struct pkt *out)
{
	return ntohl(((const struct iphdr *)(out->data + ETH_HLEN))->daddr);
}

static uint16_t out_dport(const struct pkt *out)
{
	return ntohs(((const struct tcphdr *)(out->data + ETH_HLEN +
					      sizeof(struct iphdr)))
			 ->dest);
}

static uint64_t global_reason(struct dataplane *dp, enum kn_hook hook,
			      enum kn_reason reason)
{
	struct kn_global_stats stats[KN_HOOK_COUNT];

	if (dp_read_global(dp, stats))
		return UINT64_MAX;
	return stats[hook].reason[reason];
}

/* Only the addresses, ports and checksums may differ from the input. */
static bool same_except_translation(const struct pkt *in, const struct pkt *out,
				    bool dst_side)
{
	struct pkt a = *in, b = *out;
	struct iphdr *ia = pkt_ip(&a), *ib = pkt_ip(&b);
	struct tcphdr *ta = (void *)(ia + 1), *tb = (void *)(ib + 1);

	if (in->len != out->len)
		return false;
	if (dst_side)
		ia->daddr = ib->daddr;
	else
		ia->saddr = ib->saddr;
	ia->check = ib->check;
	if (dst_side)
		ta->dest = tb->dest;
	else
		ta->source = tb->source;
	ta->check = tb->check; /* UDP's check sits elsewhere: see callers */
	return !memcmp(a.data, b.data, a.len);
}

/* ---- translation ------------------------------------------------------- */

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
	ASSERT_TRUE(pkt_ip_csum_ok(out.data, out.len), "IPv4 checksum");
	ASSERT_TRUE(pkt_l4_csum_ok(out.data, out.len), "TCP checksum");
	ASSERT_TRUE(same_except_translation(&in, &out, true),
		    "nothing else changed");
	ASSERT_EQ(global_reason(dp, hook, KN_R_TRANSLATED), 1,
		  "translated counter");
cleanup:
	dp_close(dp, true);
}

static void test_xdp_syn_rewritten(void)
{
	syn_rewritten(KN_HOOK_XDP_INGRESS);
}

static void test_tc_syn_rewritten(void)
{
	syn_rewritten(KN_HOOK_TC_INGRESS);
}

/* A SYN with a payload (TCP Fast Open) and odd sizes: the checksum stays
 * right for every payload length, odd and even. */
static void test_checksums_for_every_payload_length(void)
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

static void test_udp_flow_rewritten(void)
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

		/* A UDP datagram without checksum keeps "no checksum". */
		pkt_build(&in, &spec);
		((struct udphdr *)(pkt_ip(&in) + 1))->check = 0;
		if (!ASSERT_OK(run_prog(dp, hook, &in, &out, &verdict), "run"))
			break;
		ASSERT_EQ(((struct udphdr *)(pkt_ip(&out) + 1))->check, 0,
			  "UDP zero checksum stays zero");
		ASSERT_EQ(out_daddr(&out), STABLE_1, "same flow, same backend");
	}
cleanup:
	dp_close(dp, true);
}

/* ---- the split --------------------------------------------------------- */

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
		__u32 addr[4] = {htonl(client), 0, 0, 0};
		bool predicted =
		    kn_client_bucket(addr, svc->seed, KN_WEIGHT_SCALE_BP) <
		    weight_bp;
		uint32_t daddr;

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

static void test_xdp_split_matches_weight(void)
{
	split_matches_weight(KN_HOOK_XDP_INGRESS, SPLIT_CLIENTS);
}

static void test_tc_split_matches_weight(void)
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
static void test_replicas_consistent_hashing(void)
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
static void test_down_backend_leaves_the_table(void)
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

/* ---- flows survive every change ---------------------------------------- */

static void test_established_flow_keeps_backend(void)
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

static void test_syn_retransmit_keeps_backend(void)
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
			if (ntohl(pool->backends[b].ep.addr.s_addr) != first)
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

static void test_non_syn_miss_rederived(void)
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

static void test_closed_tuple_reused_is_new_flow(void)
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

/* ---- replies ----------------------------------------------------------- */

static void test_reply_rewritten_to_vip(void)
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
	memset(&spec, 0, sizeof(spec));
	spec.saddr = backend;
	spec.daddr = CLIENT_1;
	spec.sport = BACKEND_PORT;
	spec.dport = 43000;
	spec.proto = IPPROTO_TCP;
	spec.tcp_flags = TCPF_SYN | TCPF_ACK;
	pkt_build(&in, &spec);
	if (!ASSERT_OK(
		run_prog(dp, KN_HOOK_TC_EGRESS, &in, &reply_out, &verdict),
		"egress run"))
		goto cleanup;
	ASSERT_EQ(verdict, TC_OK_VERDICT, "egress verdict");
	ASSERT_EQ(ntohl(pkt_ip(&reply_out)->saddr), VIP,
		  "reply leaves with the VIP as source");
	ASSERT_EQ(ntohs(((struct tcphdr *)(pkt_ip(&reply_out) + 1))->source),
		  VIP_PORT, "reply leaves with the VIP port as source");
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
	memset(&spec, 0, sizeof(spec));
	spec.saddr = backend;
	spec.daddr = CLIENT_1;
	spec.sport = BACKEND_PORT;
	spec.dport = 43000;
	spec.proto = IPPROTO_TCP;
	spec.tcp_flags = TCPF_ACK | TCPF_PSH;
	spec.payload = http_reply;
	spec.payload_len = (uint32_t)strlen(http_reply);
	pkt_build(&in, &spec);
	run_prog(dp, KN_HOOK_TC_EGRESS, &in, &reply_out, &verdict);
	ASSERT_TRUE(pkt_l4_csum_ok(reply_out.data, reply_out.len),
		    "HTTP reply checksum");

	svc = dp_service_at(dp, index);
	for (b = 0; b < svc->pools[KN_POOL_STABLE].count; b++)
		if (ntohl(svc->pools[KN_POOL_STABLE]
			      .backends[b]
			      .ep.addr.s_addr) == backend)
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
	memset(&spec, 0, sizeof(spec));
	spec.saddr = out_daddr(&out);
	spec.daddr = CLIENT_1;
	spec.sport = BACKEND_PORT;
	spec.dport = 43001;
	spec.proto = IPPROTO_TCP;
	spec.tcp_flags = TCPF_RST | TCPF_ACK;
	pkt_build(&in, &spec);
	run_prog(dp, KN_HOOK_TC_EGRESS, &in, &reply_out, &verdict);
	for (b = 0; b < svc->pools[KN_POOL_STABLE].count; b++)
		if (ntohl(svc->pools[KN_POOL_STABLE]
			      .backends[b]
			      .ep.addr.s_addr) == spec.saddr)
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

/* ---- everything else passes untouched ---------------------------------- */

struct passing_case {
	const char *name;
	enum kn_reason reason;
	void (*mutate)(struct pkt *p);
};

static void mutate_arp(struct pkt *p)
{
	((struct ethhdr *)p->data)->h_proto = htons(ETH_P_ARP);
	p->len = ETH_HLEN + 28;
}

static void mutate_ipv6(struct pkt *p)
{
	((struct ethhdr *)p->data)->h_proto = htons(ETH_P_IPV6);
	p->data[ETH_HLEN] = 0x60;
}

static void mutate_vlan(struct pkt *p)
{
	((struct ethhdr *)p->data)->h_proto = htons(ETH_P_8021Q);
}

static void fix_ip_csum(struct pkt *p)
{
	struct iphdr *ip = pkt_ip(p);

	ip->check = 0;
	ip->check = htons(
	    (uint16_t)~csum_fold_host(csum_add_bytes(0, ip, ip->ihl * 4u)));
}

static void mutate_icmp(struct pkt *p)
{
	pkt_ip(p)->protocol = IPPROTO_ICMP;
	fix_ip_csum(p);
}

static void mutate_gre(struct pkt *p)
{
	pkt_ip(p)->protocol = IPPROTO_GRE;
	fix_ip_csum(p);
}

static void mutate_first_fragment(struct pkt *p)
{
	pkt_ip(p)->frag_off = htons(0x2000); /* MF */
	fix_ip_csum(p);
}

static void mutate_later_fragment(struct pkt *p)
{
	pkt_ip(p)->frag_off = htons(185); /* offset 1480 */
	fix_ip_csum(p);
}

static void mutate_ip_options(struct pkt *p)
{
	struct iphdr *ip = pkt_ip(p);
	uint32_t l4_len = ntohs(ip->tot_len) - sizeof(*ip);

	/* Insert 4 bytes of options (NOP x3 + EOL) before the TCP header. */
	memmove((uint8_t *)(ip + 1) + 4, ip + 1, l4_len);
	memcpy(ip + 1, "\x01\x01\x01\x00", 4);
	ip->ihl = 6;
	ip->tot_len = htons((uint16_t)(ntohs(ip->tot_len) + 4));
	p->len += 4;
	fix_ip_csum(p);
}

static void mutate_other_port(struct pkt *p)
{
	((struct tcphdr *)(pkt_ip(p) + 1))->dest = htons(VIP_PORT + 1);
}

static void mutate_other_address(struct pkt *p)
{
	pkt_ip(p)->daddr = htonl(OTHER_HOST);
	fix_ip_csum(p);
}

static void mutate_udp_to_tcp_service(struct pkt *p)
{
	struct pkt_spec s = {.saddr = CLIENT_1,
			     .daddr = VIP,
			     .sport = 1234,
			     .dport = VIP_PORT,
			     .proto = IPPROTO_UDP};

	pkt_build(p, &s);
}

static void mutate_bad_version(struct pkt *p)
{
	pkt_ip(p)->version = 5;
}

static void mutate_short_ihl(struct pkt *p)
{
	pkt_ip(p)->ihl = 4;
}

static void mutate_tot_len_too_big(struct pkt *p)
{
	pkt_ip(p)->tot_len = htons((uint16_t)(p->len + 100));
	fix_ip_csum(p);
}

static void mutate_tot_len_too_small(struct pkt *p)
{
	pkt_ip(p)->tot_len = htons(30); /* shorter than IP + TCP headers */
	fix_ip_csum(p);
}

static void mutate_tcp_doff_short(struct pkt *p)
{
	((struct tcphdr *)(pkt_ip(p) + 1))->doff = 4;
}

static void mutate_tcp_doff_long(struct pkt *p)
{
	((struct tcphdr *)(pkt_ip(p) + 1))->doff = 15; /* 60 > segment */
}

static void mutate_udp_len_bad(struct pkt *p)
{
	struct pkt_spec s = {.saddr = CLIENT_1,
			     .daddr = VIP,
			     .sport = 1234,
			     .dport = 53,
			     .proto = IPPROTO_UDP};

	pkt_build(p, &s);
	((struct udphdr *)(pkt_ip(p) + 1))->len = htons(4);
}

static const struct passing_case passing_cases[] = {
    {"ARP", KN_R_NOT_IPV4, mutate_arp},
    {"IPv6", KN_R_NOT_IPV4, mutate_ipv6},
    {"VLAN-tagged", KN_R_NOT_IPV4, mutate_vlan},
    {"ICMP to the VIP", KN_R_NOT_TCP_UDP, mutate_icmp},
    {"GRE to the VIP", KN_R_NOT_TCP_UDP, mutate_gre},
    {"first fragment", KN_R_FRAGMENT, mutate_first_fragment},
    {"later fragment", KN_R_FRAGMENT, mutate_later_fragment},
    {"IP options", KN_R_IP_OPTIONS, mutate_ip_options},
    {"other port on the VIP", KN_R_NOT_FOR_US, mutate_other_port},
    {"other address", KN_R_NOT_FOR_US, mutate_other_address},
    {"UDP to a TCP service port", KN_R_NOT_FOR_US, mutate_udp_to_tcp_service},
    {"IP version 5", KN_R_MALFORMED, mutate_bad_version},
    {"IHL 4", KN_R_MALFORMED, mutate_short_ihl},
    {"total length beyond frame", KN_R_MALFORMED, mutate_tot_len_too_big},
    {"total length below headers", KN_R_MALFORMED, mutate_tot_len_too_small},
    {"TCP data offset 4", KN_R_MALFORMED, mutate_tcp_doff_short},
    {"TCP data offset past segment", KN_R_MALFORMED, mutate_tcp_doff_long},
    {"UDP length 4", KN_R_MALFORMED, mutate_udp_len_bad},
};

static void test_other_packets_pass_untouched(void)
{
	struct dataplane *dp = open_dp(NULL);
	struct pkt_spec spec;
	struct pkt in, out;
	uint32_t index, hook;
	size_t c;
	__u32 verdict;

	if (!dp || add_service(dp, 5000, &index))
		goto cleanup;
	for (hook = 0; hook < KN_HOOK_COUNT; hook++) {
		for (c = 0;
		     c < sizeof(passing_cases) / sizeof(passing_cases[0]);
		     c++) {
			const struct passing_case *pc = &passing_cases[c];
			uint64_t before, after;
			char what[160];
			enum kn_reason expected = pc->reason;

			/* Egress sees no services, only reply flows. */
			if (hook == KN_HOOK_TC_EGRESS &&
			    expected == KN_R_NOT_FOR_US)
				expected = KN_R_NOT_FOR_US;
			syn_spec(&spec, CLIENT_1, 44000);
			pkt_build(&in, &spec);
			pc->mutate(&in);
			before = global_reason(dp, hook, expected);
			if (!ASSERT_OK(run_prog(dp, hook, &in, &out, &verdict),
				       pc->name))
				continue;
			after = global_reason(dp, hook, expected);
			snprintf(what, sizeof(what), "%s (%s): verdict",
				 pc->name,
				 hook == KN_HOOK_XDP_INGRESS  ? "xdp"
				 : hook == KN_HOOK_TC_INGRESS ? "tc ingress"
							      : "tc egress");
			ASSERT_EQ(verdict, pass_verdict(hook), what);
			snprintf(what, sizeof(what), "%s (hook %u): unchanged",
				 pc->name, hook);
			ASSERT_TRUE(out.len == in.len &&
					!memcmp(out.data, in.data, in.len),
				    what);
			snprintf(what, sizeof(what),
				 "%s (hook %u): counted once as reason %d",
				 pc->name, hook, expected);
			ASSERT_EQ(after - before, 1, what);
		}
	}
cleanup:
	dp_close(dp, true);
}

/* A SYN to the VIP cut at every length from the Ethernet header on: never
 * translated, never changed, counted malformed; only the whole one steers. */
static void test_truncation_at_every_length(void)
{
	struct dataplane *dp = open_dp(NULL);
	struct pkt_spec spec;
	struct pkt full, in, out;
	uint32_t index, hook, len, changed, not_malformed;
	__u32 verdict;

	if (!dp || add_service(dp, 5000, &index))
		goto cleanup;
	syn_spec(&spec, CLIENT_1, 45000);
	spec.payload = "0123456789";
	spec.payload_len = 10;
	pkt_build(&full, &spec);
	for (hook = KN_HOOK_XDP_INGRESS; hook <= KN_HOOK_TC_INGRESS; hook++) {
		changed = not_malformed = 0;
		for (len = ETH_HLEN; len < full.len; len++) {
			uint64_t before =
			    global_reason(dp, hook, KN_R_MALFORMED);

			in = full;
			in.len = len;
			if (run_prog(dp, hook, &in, &out, &verdict))
				break;
			if (verdict != pass_verdict(hook) || out.len != len ||
			    memcmp(out.data, in.data, len))
				changed++;
			if (global_reason(dp, hook, KN_R_MALFORMED) !=
			    before + 1)
				not_malformed++;
		}
		ASSERT_EQ(changed, 0, "no truncated packet is changed");
		ASSERT_EQ(not_malformed, 0,
			  "every truncated packet is counted malformed");
		in = full;
		run_prog(dp, hook, &in, &out, &verdict);
		ASSERT_NE(out_daddr(&out), VIP, "the whole packet is steered");
	}
cleanup:
	dp_close(dp, true);
}

/* ---- XDP leaves offloaded checksums to tc ------------------------------ */

static void test_xdp_leaves_partial_checksum_to_tc(void)
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

/* ---- pools ------------------------------------------------------------- */

static void test_empty_pools(void)
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

static void test_promote_keeps_counters(void)
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

/* ---- atomic configuration ---------------------------------------------- */

struct race_state {
	struct dataplane *dp;
	atomic_bool stop;
	uint64_t packets;
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

static void test_commit_is_atomic(void)
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
	} while (now.tv_sec - start.tv_sec < 3);
	atomic_store(&st.stop, true);
	pthread_join(sender, NULL);
	printf("# %u commits while %lu SYNs were steered\n", commits,
	       (unsigned long)st.packets);
	ASSERT_TRUE(commits > 100, "many commits");
	ASSERT_TRUE(st.packets > 1000, "many packets during the commits");
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
static void test_flush_backend_flows(void)
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

/* ---- adoption ---------------------------------------------------------- */

static void test_adoption_keeps_state(void)
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

static const struct bpf_test tests[] = {
    {"xdp_syn_rewritten", test_xdp_syn_rewritten},
    {"tc_syn_rewritten", test_tc_syn_rewritten},
    {"checksums_for_every_payload_length",
     test_checksums_for_every_payload_length},
    {"udp_flow_rewritten", test_udp_flow_rewritten},
    {"xdp_split_matches_weight", test_xdp_split_matches_weight},
    {"tc_split_matches_weight", test_tc_split_matches_weight},
    {"replicas_consistent_hashing", test_replicas_consistent_hashing},
    {"down_backend_leaves_the_table", test_down_backend_leaves_the_table},
    {"established_flow_keeps_backend", test_established_flow_keeps_backend},
    {"syn_retransmit_keeps_backend", test_syn_retransmit_keeps_backend},
    {"non_syn_miss_rederived", test_non_syn_miss_rederived},
    {"closed_tuple_reused_is_new_flow", test_closed_tuple_reused_is_new_flow},
    {"reply_rewritten_to_vip", test_reply_rewritten_to_vip},
    {"other_packets_pass_untouched", test_other_packets_pass_untouched},
    {"truncation_at_every_length", test_truncation_at_every_length},
    {"xdp_leaves_partial_checksum_to_tc",
     test_xdp_leaves_partial_checksum_to_tc},
    {"empty_pools", test_empty_pools},
    {"promote_keeps_counters", test_promote_keeps_counters},
    {"commit_is_atomic", test_commit_is_atomic},
    {"flush_backend_flows", test_flush_backend_flows},
    {"adoption_keeps_state", test_adoption_keeps_state},
};

int main(int argc, char **argv)
{
	log_set_program("test_datapath");
	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/kanary-unit-%d",
		 getpid());
	return bpf_test_main(tests, sizeof(tests) / sizeof(tests[0]),
			     argc > 1 ? argv[1] : NULL);
}
