// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * test_packet_fuzz.c - the data path against millions of random and mutated
 * packets: the real programs and maps, loaded by the agent's own loader
 * (lib/datapath/open.c) without attaching, driven through
 * bpf_prog_test_run_opts in the four ways the kernel runs them: XDP alone,
 * the XDP-mode pipeline (XDP, then tc ingress for what XDP passes), tc
 * ingress alone and tc egress.
 *
 * Packets start valid (SYNs, data, FIN/RST, UDP, replies of recorded flows,
 * HTTP requests and responses, strays near the VIPs and the backends, other
 * protocols) and most are then mutated: truncated, padded, bits flipped,
 * lengths and offsets made inconsistent, IP and TCP options, fragments, odd
 * TCP flags, other ethertypes, protocols, addresses and ports, checksums
 * broken or left as an offloading sender leaves them. An oracle written
 * from the rules documented in bpf/kanary_parse.h, sharing no code with the
 * programs, classifies each packet, and every output must hold:
 *
 *  (a) not for a service (ingress: no service VIP:port:proto; egress: not a
 *      reply of a flow in kn_replies): passed, byte for byte unchanged;
 *  (b) changed: only a packet for a service; its new destination (ingress)
 *      is a backend of that service, its new source (egress) the VIP:port of
 *      the reply flow's service, which the old source was a backend of;
 *      nothing but addresses, ports and checksums differs; and a
 *      well-formed packet for a service is never passed untranslated (XDP
 *      alone leaves a checksum that looks offloaded to tc);
 *  (c) checksums that verified before verify after, computed from scratch
 *      (packets.h); half the tc runs get a CHECKSUM_COMPLETE skb, and the
 *      kernel then checks that skb->csum still matches the data;
 *  (d) a drop only for a documented reason (no backend, rewrite failed),
 *      read from the counters at each drop; "no backend" only for a service
 *      whose pools are empty.
 * At the end, the programs' per-reason counters must equal the oracle's.
 *
 * The default seed changes per run and is printed: rerun a failure with the
 * same PACKETS and SEED. Failing packets are printed in hex.
 * The loop also stops at a time limit, below tests/run's own, and then says
 * how far it got and fails: a slow machine shows as such, not as a kill.
 * Packets are IPv4 and IPv6 (2001:2::/96 addresses, walked and unwalked
 * extension headers, fragment headers) half each, against twin services of
 * each family, unless FAMILY says 4 or 6.
 * Usage: test_packet_fuzz [PACKETS [SEED [SECONDS [FAMILY]]]]   (prints TAP;
 * default 10M packets, 600 s, both families)
 *
 * The parts: packet_fuzz/services.c, frame.c, generator.c, mutator.c and
 * oracle.c (shared declarations in packet_fuzz/fuzz.h); this file runs the
 * programs, checks the checker, and holds the tests and main.
 */
#include "bpf_test.h"
#include "lib/stale_pins.h"
#include "packet_fuzz/fuzz.h"

#define DEFAULT_PACKETS	     10000000ULL
#define DEFAULT_TIME_LIMIT_S 600
#define TIME_CHECK_EVERY     4096
/* Small enough that LRU eviction happens during a run (replies of evicted
 * flows must then pass untouched), large enough to keep most flows. */
#define FUZZ_MAX_FLOWS	  (1U << 18)
#define FUZZ_MAX_SERVICES 16
#define FUZZ_MAX_BACKENDS 256
/*
 * The kernel's skb test harness refuses IPv4 frames shorter than Ethernet +
 * IPv4 header and IPv6 frames shorter than Ethernet + IPv6 header (EINVAL
 * before any program runs): such frames go through XDP only.
 */
#define TC_HARNESS_MIN_IPV4 (ETH_HLEN + 20)
#define TC_HARNESS_MIN_IPV6 (ETH_HLEN + 40)
#define MAX_FAILURE_REPORTS 12
#define DUMP_BYTES	    96
#define PROGRESS_EVERY	    (1U << 20)
#define WARMUP_CLIENTS	    256

struct fuzz_run fz;

/* Which families the run makes packets of (FAMILY: 4, 6 or both). */
#define FAMILY_IPV4 1U
#define FAMILY_IPV6 2U

static bool family_in_run(int family)
{
	return fz.families & (family == AF_INET6 ? FAMILY_IPV6 : FAMILY_IPV4);
}

/* The family of the next packet: either of the run's, at random. */
static void pick_family(void)
{
	if (fz.families == (FAMILY_IPV4 | FAMILY_IPV6))
		fz_family = chance(50) ? AF_INET6 : AF_INET;
	else
		fz_family = fz.families == FAMILY_IPV6 ? AF_INET6 : AF_INET;
}

/* ---- running the programs ----------------------------------------------- */

static bool tc_harness_refuses(const struct pkt *p)
{
	uint16_t type = get16(p->data + ETH_TYPE_OFF);

	return (type == ETH_P_IP && p->len < TC_HARNESS_MIN_IPV4) ||
	       (type == ETH_P_IPV6 && p->len < TC_HARNESS_MIN_IPV6);
}

static int run_prog(enum kn_hook hook, const struct pkt *in, struct pkt *out,
		    __u32 *verdict, bool csum_complete)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in->data,
		    .data_size_in = in->len, .data_out = out->data,
		    .data_size_out = sizeof(out->data), .repeat = 1);
	int ret;

	/* The kernel then sets skb->csum over the packet and, after the
	 * run, refuses with EBADMSG when it no longer matches the data. */
	if (hook != KN_HOOK_XDP_INGRESS && csum_complete) {
		opts.flags = BPF_F_TEST_SKB_CHECKSUM_COMPLETE;
		st.csum_complete_runs++;
	}
	ret = bpf_prog_test_run_opts(dp_prog_fd(fz.dp, hook), &opts);
	/* EBADMSG comes after the program ran; other errors before. */
	if (!ret || ret == -EBADMSG)
		st.runs[hook]++;
	out->len = opts.data_size_out;
	*verdict = opts.retval;
	return ret;
}

/* The oracle's reason for what a program counts, once it has run. */
static void expect_counted(enum kn_hook hook, const struct expect *e,
			   __u32 verdict)
{
	if (e->reason != CANDIDATE)
		st.expected[hook][e->reason]++;
	else if (is_pass(hook, verdict))
		st.expected[hook][KN_R_TRANSLATED]++;
	/* drops are counted by attribute_drop() */
}

static void dump(const char *what, const struct pkt *p)
{
	uint32_t i;

	printf("#   %s (%u bytes):", what, p->len);
	for (i = 0; i < p->len && i < DUMP_BYTES; i++)
		printf("%s%02x", i % 16 ? " " : "\n#     ", p->data[i]);
	printf("%s\n", p->len > DUMP_BYTES ? " ..." : "");
}

#define FAILURE_KINDS_MAX 32

/* Failures by what went wrong (the judges' messages are literals). */
static struct {
	const char *why;
	enum mode mode;
	uint64_t count;
} failure_kinds[FAILURE_KINDS_MAX];

/*
 * Counts a failure; prints the first packet of each kind of failure, and a
 * few more, in hex.
 */
static void report_failure(enum mode mode, enum pkt_kind kind, uint32_t mask,
			   const char *why, const struct pkt *in,
			   const struct pkt *out)
{
	bool first = false;
	size_t m, i;

	for (i = 0; i < FAILURE_KINDS_MAX; i++) {
		if (!failure_kinds[i].why) {
			failure_kinds[i].why = why;
			failure_kinds[i].mode = mode;
			first = true;
		}
		if (failure_kinds[i].why == why &&
		    failure_kinds[i].mode == mode) {
			failure_kinds[i].count++;
			break;
		}
	}
	if (!first && st.failures_printed >= MAX_FAILURE_REPORTS)
		return;
	st.failures_printed++;
	printf("# %s, %s packet: %s\n#   mutations:", mode_names[mode],
	       kind_names[kind], why);
	for (m = 0; m < M_COUNT; m++)
		if (mask & (1u << m))
			printf(" %s", mutation_names[m]);
	printf("%s\n", mask ? "" : " none");
	dump("in", in);
	if (out)
		dump("out", out);
}

/* Remembers an ingress translation as a flow that replies can use. */
static void remember(const struct expect *e, const struct pkt *out)
{
	struct flow_rec f = {
	    .client = e->v.saddr,
	    .cport = e->v.sport,
	    .backend = get_addr(out, true),
	    .bport = get16(out->data + e->v.l4_off + 2),
	    .proto = e->v.proto,
	    .family = e->v.family,
	};

	flow_remember(&f);
}

/*
 * Runs one program on in, after classifying in for it. A run the kernel
 * refuses with EBADMSG ran the program but left skb->csum wrong: the
 * program counted the packet, so the oracle counts it too, as translated.
 */
static int run_classified(enum kn_hook hook, const struct pkt *in,
			  struct pkt *out, struct expect *e, __u32 *verdict,
			  bool csum_complete, const char **why)
{
	int ret;

	classify(hook, in, e);
	ret = run_prog(hook, in, out, verdict, csum_complete);
	if (!ret) {
		expect_counted(hook, e, *verdict);
		return 0;
	}
	if (ret == -EBADMSG) {
		expect_counted(hook, e, TC_OK_VERDICT);
		*why = "skb->csum (CHECKSUM_COMPLETE) no longer matches the "
		       "packet";
	} else {
		*why = "bpf_prog_test_run_opts failed";
		st.harness_errors++;
	}
	out->len = 0;
	return ret;
}

static enum outcome fuzz_one(enum mode mode, const struct pkt *in,
			     const char **why, struct pkt *out)
{
	enum kn_hook hook = mode == MODE_XDP	     ? KN_HOOK_XDP_INGRESS
			    : mode == MODE_TC_EGRESS ? KN_HOOK_TC_EGRESS
						     : KN_HOOK_TC_INGRESS;
	bool complete = chance(50);
	struct expect e, e2;
	struct pkt mid;
	__u32 verdict;
	enum outcome o;

	*why = NULL;
	out->len = 0;
	if (mode != MODE_XDP && mode != MODE_PIPELINE && tc_harness_refuses(in))
		return O_NOT_RUN;
	switch (mode) {
	case MODE_XDP:
	case MODE_TC_INGRESS:
		if (run_classified(hook, in, out, &e, &verdict, complete, why))
			return O_FAILED;
		o = judge_ingress(&e, in, out, hook, verdict, false, why);
		if (o == O_TRANSLATED)
			remember(&e, out);
		return o;
	case MODE_PIPELINE:
		if (run_classified(KN_HOOK_XDP_INGRESS, in, &mid, &e, &verdict,
				   false, why))
			return O_FAILED;
		if (!is_pass(KN_HOOK_XDP_INGRESS, verdict) ||
		    tc_harness_refuses(&mid)) {
			*out = mid;
			return judge_ingress(&e, in, out, KN_HOOK_XDP_INGRESS,
					     verdict, false, why);
		}
		if (run_classified(KN_HOOK_TC_INGRESS, &mid, out, &e2, &verdict,
				   complete, why))
			return O_FAILED;
		/* What XDP leaves to tc, tc must translate: judged as one
		 * ingress decision, without the XDP-only exception. */
		if (e.reason == KN_R_PARTIAL_CSUM)
			e.reason = CANDIDATE;
		o = judge_ingress(&e, in, out, KN_HOOK_TC_INGRESS, verdict,
				  unchanged(in, &mid), why);
		if (o == O_TRANSLATED || o == O_TRANSLATED_SLOW)
			remember(&e, out);
		return o;
	case MODE_TC_EGRESS:
		if (run_classified(hook, in, out, &e, &verdict, complete, why))
			return O_FAILED;
		return judge_egress(&e, in, out, verdict, why);
	case MODE_COUNT:
		break;
	}
	return O_FAILED;
}

/* Which packets each mode gets, in relative weights per kind. */
static const uint8_t kind_weights[MODE_COUNT][K_COUNT] = {
    /* syn data close udp rtcp rhttp rudp edge redge stray frag !ip4 !l4
     * random */
    [MODE_XDP] = {20, 20, 6, 14, 3, 2, 3, 2, 0, 10, 4, 6, 4, 6},
    [MODE_PIPELINE] = {20, 20, 6, 14, 3, 2, 3, 2, 0, 10, 4, 6, 4, 6},
    [MODE_TC_INGRESS] = {20, 20, 6, 14, 3, 2, 3, 2, 0, 10, 4, 6, 4, 6},
    [MODE_TC_EGRESS] = {4, 4, 2, 4, 25, 15, 13, 0, 2, 13, 4, 5, 4, 5},
};

static enum pkt_kind pick_kind(enum mode mode)
{
	uint32_t total = 0, r, k;

	for (k = 0; k < K_COUNT; k++)
		total += kind_weights[mode][k];
	r = rnd_below(total);
	for (k = 0; k < K_COUNT; k++) {
		if (r < kind_weights[mode][k])
			return (enum pkt_kind)k;
		r -= kind_weights[mode][k];
	}
	return K_RANDOM;
}

/* ---- setup --------------------------------------------------------------- */

/* An endpoint of the family being made (IPv6: the number in 2001:2::/96). */
static struct endpoint ep_of(const struct fz_endpoint *e)
{
	struct endpoint out = {.port = e->port, .family = AF_INET};

	if (fz_family == AF_INET6) {
		out.family = AF_INET6;
		pkt6_addr(e->addr, &out.addr6);
	} else {
		out.addr.s_addr = htonl(e->addr);
	}
	return out;
}

/* Every service in the family being made (fz_family). */
static int add_services(void)
{
	char err[DP_ERR_LEN];
	size_t i;
	uint32_t b, index;

	for (i = 0; i < service_count; i++) {
		const struct fz_service *s = &services[i];
		struct dp_service_def def = {
		    .proto = s->proto,
		    .flags = s->flags,
		    .stable_count = s->stable_count,
		    .canary_count = s->canary_count,
		    .canary_bp = s->canary_bp,
		};

		snprintf(def.name, sizeof(def.name), "%s%s", s->name,
			 fz_family == AF_INET6 ? "6" : "");
		def.vip = ep_of(&s->vip);
		for (b = 0; b < s->stable_count; b++)
			def.stable[b] = ep_of(&s->stable[b]);
		for (b = 0; b < s->canary_count; b++)
			def.canary[b] = ep_of(&s->canary[b]);
		if (!ASSERT_OK(
			dp_service_add(fz.dp, &def, &index, err, sizeof(err)),
			s->name)) {
			printf("# %s\n", err);
			return -1;
		}
	}
	return 0;
}

/* SYNs and datagrams from many clients, through tc ingress: the flows that
 * the first replies will belong to. Each must be translated. */
static void warm_up(void)
{
	uint32_t c, failed = 0;
	size_t i;

	for (c = 0; c < WARMUP_CLIENTS; c++) {
		for (i = 0; i < service_count; i++) {
			struct gen g = {0};
			struct expect e;
			struct pkt in, out;
			const char *why;
			__u32 verdict;

			if (!backend_count(&services[i]))
				continue;
			to_service(&g, &services[i]);
			g.saddr = CLIENT_BASE + c;
			g.flags = TCPF_SYN;
			build(&in, &g);
			classify(KN_HOOK_TC_INGRESS, &in, &e);
			if (run_prog(KN_HOOK_TC_INGRESS, &in, &out, &verdict,
				     false) ||
			    judge_ingress(&e, &in, &out, KN_HOOK_TC_INGRESS,
					  verdict, false,
					  &why) != O_TRANSLATED) {
				failed++;
				continue;
			}
			remember(&e, &out);
		}
	}
	ASSERT_EQ(failed, 0, "every warm-up packet translated");
}

static void test_setup(void)
{
	struct dp_options opts = {
	    .pin_dir = fz.pin_dir,
	    .max_flows = FUZZ_MAX_FLOWS,
	    .max_services = FUZZ_MAX_SERVICES,
	    .max_backends = FUZZ_MAX_BACKENDS,
	};
	char err[DP_ERR_LEN], path[sizeof(fz.pin_dir) + 16];
	int ret, i;

	ret = dp_open(&opts, &fz.dp, err, sizeof(err));
	if (!ASSERT_OK(ret, "dp_open")) {
		printf("# %s\n", err);
		fz.dp = NULL;
		return;
	}
	snprintf(path, sizeof(path), "%s/kn_replies", fz.pin_dir);
	replies_fd = bpf_obj_get(path);
	snprintf(path, sizeof(path), "%s/kn_flows", fz.pin_dir);
	flows_fd = bpf_obj_get(path);
	if (!ASSERT_TRUE(replies_fd >= 0, "open the pinned kn_replies") ||
	    !ASSERT_TRUE(flows_fd >= 0, "open the pinned kn_flows"))
		goto fail;
	/* The services and their first flows in each family of the run. */
	for (i = 0; i < 2; i++) {
		if (!family_in_run(i ? AF_INET6 : AF_INET))
			continue;
		fz_family = i ? AF_INET6 : AF_INET;
		if (add_services())
			goto fail;
		warm_up();
	}
	if (!ASSERT_OK(dp_read_global(fz.dp, fz.base), "read counters"))
		goto fail;
	memcpy(fz.last, fz.base, sizeof(fz.base));
	memset(&st, 0, sizeof(st));
	memset(mutation_counts, 0, sizeof(mutation_counts));
	return;
fail:
	dp_close(fz.dp, true);
	fz.dp = NULL;
}

static bool have_dp(void)
{
	return ASSERT_TRUE(fz.dp != NULL, "the data path is set up");
}

/* ---- the checker itself must fail on a wrong output ---------------------- */

/*
 * Feeds the judges outputs that a broken data path could produce, built
 * from a real translation, and expects each one refused: a check that
 * cannot fail would prove nothing.
 */
static void checker_rejects_mistranslations(void)
{
	const struct fz_service *svc = &services[0];
	struct pkt in, out, bad, reply_in, reply_out;
	struct gen g = {0};
	struct expect e, er;
	const char *why;
	__u32 verdict;

	if (!have_dp())
		return;
	to_service(&g, svc);
	g.flags = TCPF_SYN;
	build(&in, &g);
	classify(KN_HOOK_TC_INGRESS, &in, &e);
	if (!ASSERT_OK(run_prog(KN_HOOK_TC_INGRESS, &in, &out, &verdict, false),
		       "run"))
		return;
	ASSERT_EQ(judge_ingress(&e, &in, &out, KN_HOOK_TC_INGRESS, verdict,
				false, &why),
		  O_TRANSLATED, "a real translation passes the judge");

	bad = out; /* a destination that is no backend, checksums right */
	put_addr(&bad, true, STABLE(99));
	fix_checksums(&bad, false);
	ASSERT_EQ(judge_ingress(&e, &in, &bad, KN_HOOK_TC_INGRESS, verdict,
				false, &why),
		  O_FAILED, "refuses a destination outside the pools");
	bad = out; /* the backend of another port */
	put16(bad.data + e.v.l4_off + 2, 9000);
	fix_checksums(&bad, false);
	ASSERT_EQ(judge_ingress(&e, &in, &bad, KN_HOOK_TC_INGRESS, verdict,
				false, &why),
		  O_FAILED, "refuses a backend address with a wrong port");
	bad = out; /* the TTL (hop limit) changed too */
	bad.data[is_ipv6_frame(&bad) ? IP6_HLIM_OFF : IP_OFF + 8]--;
	fix_checksums(&bad, false);
	ASSERT_EQ(judge_ingress(&e, &in, &bad, KN_HOOK_TC_INGRESS, verdict,
				false, &why),
		  O_FAILED, "refuses any other byte changed");
	bad = out; /* an off-by-one TCP checksum */
	bad.data[e.v.l4_off + TCP_CSUM_FIELD + 1]++;
	ASSERT_EQ(judge_ingress(&e, &in, &bad, KN_HOOK_TC_INGRESS, verdict,
				false, &why),
		  O_FAILED, "refuses a broken TCP checksum");
	bad = out; /* an off-by-one IP checksum, or an IPv6 address byte */
	bad.data[is_ipv6_frame(&bad) ? IP6_DADDR_OFF : IP_CSUM_OFF + 1]++;
	ASSERT_EQ(judge_ingress(&e, &in, &bad, KN_HOOK_TC_INGRESS, verdict,
				false, &why),
		  O_FAILED,
		  "refuses a broken IPv4 checksum (IPv6: a wrong prefix)");
	ASSERT_EQ(judge_ingress(&e, &in, &in, KN_HOOK_TC_INGRESS, verdict,
				false, &why),
		  O_FAILED, "refuses a service packet passed untranslated");

	/* Not for a service: any change, or a drop, is refused. */
	bad = in;
	put16(bad.data + e.v.l4_off + 2, (uint16_t)(svc->vip.port + 1));
	fix_checksums(&bad, false);
	classify(KN_HOOK_TC_INGRESS, &bad, &er);
	ASSERT_EQ(judge_ingress(&er, &bad, &out, KN_HOOK_TC_INGRESS, verdict,
				false, &why),
		  O_FAILED, "refuses a change to a packet for no service");
	ASSERT_EQ(judge_ingress(&er, &bad, &bad, KN_HOOK_TC_INGRESS,
				TC_SHOT_VERDICT, false, &why),
		  O_FAILED, "refuses a drop of a packet for no service");

	/* Egress: the reply must leave as the VIP:port. */
	memset(&g, 0, sizeof(g));
	g.proto = IPPROTO_TCP;
	g.saddr = get_addr(&out, true);
	g.sport = get16(out.data + e.v.l4_off + 2);
	g.daddr = e.v.saddr;
	g.dport = e.v.sport;
	g.flags = TCPF_SYN | TCPF_ACK;
	build(&reply_in, &g);
	classify(KN_HOOK_TC_EGRESS, &reply_in, &er);
	if (!ASSERT_OK(run_prog(KN_HOOK_TC_EGRESS, &reply_in, &reply_out,
				&verdict, false),
		       "egress run"))
		return;
	ASSERT_EQ(judge_egress(&er, &reply_in, &reply_out, verdict, &why),
		  O_TRANSLATED, "a real reply translation passes the judge");
	bad = reply_out;
	put16(bad.data + er.v.l4_off, (uint16_t)(svc->vip.port + 1));
	fix_checksums(&bad, false);
	ASSERT_EQ(judge_egress(&er, &reply_in, &bad, verdict, &why), O_FAILED,
		  "refuses a reply leaving from the wrong port");
	ASSERT_EQ(judge_egress(&er, &reply_in, &reply_in, verdict, &why),
		  O_FAILED, "refuses a reply of a flow passed untranslated");
	/* The counters still agree with the oracle afterwards. */
	expect_counted(KN_HOOK_TC_INGRESS, &e, TC_OK_VERDICT);
	expect_counted(KN_HOOK_TC_EGRESS, &er, TC_OK_VERDICT);
	flow_remember(&(struct flow_rec){.client = e.v.saddr,
					 .cport = e.v.sport,
					 .backend = g.saddr,
					 .bport = g.sport,
					 .proto = IPPROTO_TCP,
					 .family = e.v.family});
}

static void test_checker_rejects_mistranslations(void)
{
	int i;

	for (i = 0; i < 2; i++) {
		fz_family = i ? AF_INET6 : AF_INET;
		if (family_in_run(fz_family))
			checker_rejects_mistranslations();
	}
}

/* ---- the run ------------------------------------------------------------- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *const family_names[] = {
    [FAMILY_IPV4] = "IPv4",
    [FAMILY_IPV6] = "IPv6",
    [FAMILY_IPV4 | FAMILY_IPV6] = "IPv4 and IPv6, half each",
};
static const char *const family_args[] = {
    [FAMILY_IPV4] = "4",
    [FAMILY_IPV6] = "6",
    [FAMILY_IPV4 | FAMILY_IPV6] = "both",
};

static void test_fuzz_run(void)
{
	uint64_t i;
	double start;

	if (!have_dp())
		return;
	printf("# %" PRIu64 " packets (%s), seed %" PRIu64
	       " (rerun: test_packet_fuzz %" PRIu64 " %" PRIu64 " %.0f %s)\n",
	       fz.packets, family_names[fz.families], fz.seed, fz.packets,
	       fz.seed, fz.time_limit_s, family_args[fz.families]);
	rng_state = fz.seed ? fz.seed : 1;
	start = now_s();
	for (i = 0; i < fz.packets; i++) {
		enum mode mode = (enum mode)rnd_below(MODE_COUNT);
		enum pkt_kind kind = pick_kind(mode);
		struct pkt in, out;
		const char *why;
		enum outcome o;
		uint32_t mask;

		pick_family();
		generate(kind, &in);
		mask = mutate(&in);
		st.tried[mode][kind]++;
		if (mask)
			st.mutated[mode]++;
		o = fuzz_one(mode, &in, &why, &out);
		st.outcomes[mode][o]++;
		if (o == O_FAILED)
			report_failure(mode, kind, mask, why, &in,
				       out.len ? &out : NULL);
		if (i && !(i % PROGRESS_EVERY)) {
			printf("# %" PRIu64 " packets, %.1f s\n", i,
			       now_s() - start);
			fflush(stdout);
		}
		if (!((i + 1) % TIME_CHECK_EVERY) &&
		    now_s() - start > fz.time_limit_s) {
			printf("# stopped at the %.0f s time limit\n",
			       fz.time_limit_s);
			i++;
			break;
		}
	}
	fz.ran = i;
	fz.seconds = now_s() - start;
	printf("# %" PRIu64 " packets in %.1f s (%.0f packets/s), %" PRIu64
	       " program runs, %" PRIu64 " tc runs as CHECKSUM_COMPLETE\n",
	       fz.ran, fz.seconds, fz.ran / fz.seconds,
	       st.runs[0] + st.runs[1] + st.runs[2], st.csum_complete_runs);
	for (i = 0; i < FAILURE_KINDS_MAX && failure_kinds[i].why; i++)
		printf("# FAILED %" PRIu64 " times (%s): %s\n",
		       failure_kinds[i].count,
		       mode_names[failure_kinds[i].mode], failure_kinds[i].why);
	ASSERT_EQ(st.harness_errors, 0, "the kernel ran every packet");
	ASSERT_EQ(fz.ran, fz.packets, "every packet ran within the time limit");
}

static void report_mode(enum mode mode)
{
	uint64_t total = 0;
	size_t k, o;

	for (k = 0; k < K_COUNT; k++)
		total += st.tried[mode][k];
	printf("# %s: %" PRIu64 " packets (%" PRIu64 " mutated)\n#   tried:",
	       mode_names[mode], total, st.mutated[mode]);
	for (k = 0; k < K_COUNT; k++)
		printf(" %s %" PRIu64, kind_names[k], st.tried[mode][k]);
	printf("\n#   outcome:");
	for (o = 0; o < O_COUNT; o++)
		if (st.outcomes[mode][o] || o == O_FAILED)
			printf(" %s %" PRIu64, outcome_names[o],
			       st.outcomes[mode][o]);
	printf("\n");
}

static void mode_holds(enum mode mode)
{
	uint64_t translated;

	if (!have_dp())
		return;
	report_mode(mode);
	translated = st.outcomes[mode][O_TRANSLATED] +
		     st.outcomes[mode][O_TRANSLATED_SLOW];
	ASSERT_TRUE(translated > 0, "some packets were translated");
	ASSERT_TRUE(st.outcomes[mode][O_UNTOUCHED] > 0,
		    "some packets passed untouched");
	ASSERT_EQ(st.outcomes[mode][O_FAILED], 0,
		  "every packet holds the invariants");
}

static void test_xdp(void)
{
	mode_holds(MODE_XDP);
}

static void test_xdp_mode_pipeline(void)
{
	mode_holds(MODE_PIPELINE);
	ASSERT_TRUE(st.outcomes[MODE_PIPELINE][O_TRANSLATED_SLOW] > 0,
		    "some packets XDP left to tc were translated by tc");
}

static void test_tc_ingress(void)
{
	mode_holds(MODE_TC_INGRESS);
	ASSERT_TRUE(st.outcomes[MODE_TC_INGRESS][O_DROP_NO_BACKEND] > 0,
		    "packets for a drained service were dropped");
}

static void test_tc_egress(void)
{
	mode_holds(MODE_TC_EGRESS);
}

static const char *const reason_names[KN_R_COUNT] = {
    "translated",  "not-ipv4",	     "not-for-us",     "not-tcp/udp",
    "fragment",	   "ip-options",     "malformed",      "partial-csum",
    "no-backend",  "config-race",    "rewrite-failed", "icmp-translated",
    "icmp-passed", "icmp-malformed",
};

/* The programs' own counters, per hook and reason, equal the oracle's. */
static void test_counters_match_oracle(void)
{
	static const char *const hook_names[KN_HOOK_COUNT] = {
	    "xdp", "tc ingress", "tc egress"};
	struct kn_global_stats now[KN_HOOK_COUNT];
	uint32_t hook, r;
	size_t m;

	if (!have_dp() || !ASSERT_OK(dp_read_global(fz.dp, now), "read"))
		return;
	for (hook = 0; hook < KN_HOOK_COUNT; hook++) {
		printf("# %s counters:", hook_names[hook]);
		for (r = 0; r < KN_R_COUNT; r++)
			printf(" %s %" PRIu64, reason_names[r],
			       (uint64_t)(now[hook].reason[r] -
					  fz.base[hook].reason[r]));
		printf("\n");
	}
	for (hook = 0; hook < KN_HOOK_COUNT; hook++) {
		char what[96];

		snprintf(what, sizeof(what), "%s: packets counted",
			 hook_names[hook]);
		ASSERT_EQ(now[hook].packets - fz.base[hook].packets,
			  st.runs[hook], what);
		for (r = 0; r < KN_R_COUNT; r++) {
			snprintf(what, sizeof(what), "%s: reason %s",
				 hook_names[hook], reason_names[r]);
			ASSERT_EQ(now[hook].reason[r] - fz.base[hook].reason[r],
				  st.expected[hook][r], what);
		}
	}
	printf("# mutations applied:");
	for (m = 0; m < M_COUNT; m++)
		printf(" %s %" PRIu64, mutation_names[m], mutation_counts[m]);
	printf("; checksums recomputed after mutation: %" PRIu64 "\n",
	       rechecksummed);
}

static const struct bpf_test tests[] = {
    {"setup", test_setup},
    {"checker_rejects_mistranslations", test_checker_rejects_mistranslations},
    {"fuzz_run", test_fuzz_run},
    {"xdp", test_xdp},
    {"xdp_mode_pipeline", test_xdp_mode_pipeline},
    {"tc_ingress", test_tc_ingress},
    {"tc_egress", test_tc_egress},
    {"counters_match_oracle", test_counters_match_oracle},
};

#define PIN_ROOT   "/sys/fs/bpf"
#define PIN_PREFIX "kanary-fuzz-"

int main(int argc, char **argv)
{
	char *end;
	int ret;

	log_set_program("test_packet_fuzz");
	fz.packets = DEFAULT_PACKETS;
	fz.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	if (argc > 1) {
		fz.packets = strtoull(argv[1], &end, 10);
		if (*end || !fz.packets) {
			fprintf(stderr,
				"usage: %s [PACKETS [SEED [SECONDS [FAMILY]]]] "
				"(PACKETS > 0; FAMILY 4, 6 or both)\n",
				argv[0]);
			return 2;
		}
	}
	if (argc > 2) {
		fz.seed = strtoull(argv[2], &end, 10);
		if (*end) {
			fprintf(stderr, "%s: SEED must be a number\n", argv[0]);
			return 2;
		}
	}
	fz.time_limit_s = DEFAULT_TIME_LIMIT_S;
	if (argc > 3) {
		fz.time_limit_s = strtod(argv[3], &end);
		if (*end || fz.time_limit_s <= 0) {
			fprintf(stderr, "%s: SECONDS must be positive\n",
				argv[0]);
			return 2;
		}
	}
	fz.families = FAMILY_IPV4 | FAMILY_IPV6;
	if (argc > 4) {
		if (!strcmp(argv[4], "4"))
			fz.families = FAMILY_IPV4;
		else if (!strcmp(argv[4], "6"))
			fz.families = FAMILY_IPV6;
		else if (strcmp(argv[4], "both")) {
			fprintf(stderr, "%s: FAMILY must be 4, 6 or both\n",
				argv[0]);
			return 2;
		}
	}
	remove_stale_pin_dirs(PIN_ROOT, PIN_PREFIX, true);
	snprintf(fz.pin_dir, sizeof(fz.pin_dir), "%s/%s%d", PIN_ROOT,
		 PIN_PREFIX, getpid());
	ret = bpf_test_main(tests, sizeof(tests) / sizeof(tests[0]), NULL);
	if (replies_fd >= 0)
		close(replies_fd);
	if (flows_fd >= 0)
		close(flows_fd);
	dp_close(fz.dp, true);
	return ret;
}
