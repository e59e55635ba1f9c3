// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * ipv6.c - what only IPv6 has: the extension headers the data path walks
 * (hop-by-hop, routing without segments left, destination options, at most
 * KN_IPV6_MAX_EXT_HDRS of them) and the ones it leaves alone (fragments,
 * AH, more headers than it walks), its malformed headers, and truncation
 * at every header boundary. The IPv6 twins of the family-blind tests
 * (test_ipv6_<name>) sit beside their IPv4 originals.
 *
 * Part of test_datapath (tests/bpf/test_datapath.c runs every test_*()
 * here); the data path and the packets come from tests/bpf/harness.h.
 */
#include "harness.h"

#define EXT_MIN_BYTES	 PKT6_EXT_UNIT_BYTES
#define EXT_LONG_BYTES	 24 /* hdrlen 2 */
#define EXT_MAX_IN_CASE	 5
#define IPPROTO_AH_NUM	 51
#define IPPROTO_NONE_NUM 59

struct ext_case {
	const char *name;
	struct pkt6_ext hdrs[EXT_MAX_IN_CASE]; /* in packet order */
	uint32_t count;
	/* KN_R_TRANSLATED: steered; any other: passed untouched, counted. */
	enum kn_reason reason;
};

/* A SYN from CLIENT_1:port to the IPv6 VIP with the case's headers. */
static void ext_syn(struct pkt *p, const struct ext_case *c, uint16_t port)
{
	struct pkt_spec spec;
	uint32_t i;

	syn_spec(&spec, CLIENT_1, port);
	spec.payload = "GET / HTTP/1.1\r\n\r\n";
	spec.payload_len = 18;
	pkt_build(p, &spec);
	for (i = c->count; i > 0; i--)
		pkt6_insert_ext(p, &c->hdrs[i - 1]);
}

#define HBH(n)                                                                 \
	{                                                                      \
		IPPROTO_HOPOPTS, n, 0                                          \
	}
#define DEST(n)                                                                \
	{                                                                      \
		IPPROTO_DSTOPTS, n, 0                                          \
	}
#define RT(n, seg)                                                             \
	{                                                                      \
		IPPROTO_ROUTING, n, seg                                        \
	}
#define FRAG                                                                   \
	{                                                                      \
		IPPROTO_FRAGMENT, EXT_MIN_BYTES, 0                             \
	}

static const struct ext_case ext_cases[] = {
    {"no extension header", {{0}}, 0, KN_R_TRANSLATED},
    {"hop-by-hop", {HBH(EXT_MIN_BYTES)}, 1, KN_R_TRANSLATED},
    {"destination options, 24 bytes",
     {DEST(EXT_LONG_BYTES)},
     1,
     KN_R_TRANSLATED},
    {"routing, no segments left", {RT(EXT_LONG_BYTES, 0)}, 1, KN_R_TRANSLATED},
    {"all four walked headers",
     {HBH(EXT_MIN_BYTES), DEST(EXT_MIN_BYTES), RT(EXT_LONG_BYTES, 0),
      DEST(EXT_LONG_BYTES)},
     4,
     KN_R_TRANSLATED},
    {"five headers: more than walked",
     {HBH(EXT_MIN_BYTES), DEST(EXT_MIN_BYTES), DEST(EXT_MIN_BYTES),
      DEST(EXT_MIN_BYTES), DEST(EXT_MIN_BYTES)},
     5,
     KN_R_IP_OPTIONS},
    {"routing with a segment left",
     {RT(EXT_LONG_BYTES, 1)},
     1,
     KN_R_IP_OPTIONS},
    {"fragment", {FRAG}, 1, KN_R_FRAGMENT},
    {"hop-by-hop then fragment", {HBH(EXT_MIN_BYTES), FRAG}, 2, KN_R_FRAGMENT},
    {"authentication header",
     {{IPPROTO_AH_NUM, EXT_MIN_BYTES, 0}},
     1,
     KN_R_NOT_TCP_UDP},
    {"no next header",
     {{IPPROTO_NONE_NUM, EXT_MIN_BYTES, 0}},
     1,
     KN_R_NOT_TCP_UDP},
};

static bool is_backend(uint32_t addr)
{
	return addr == STABLE_1 || addr == STABLE_2 || addr == CANARY_1;
}

static void one_ext_case(struct dataplane *dp, enum kn_hook hook,
			 const struct ext_case *c, uint16_t port)
{
	enum kn_reason reason = c->reason;
	struct pkt in, out;
	uint64_t before;
	char what[160];
	__u32 verdict;

	/* Egress sees replies only: a SYN to the VIP is no reply flow. */
	if (hook == KN_HOOK_TC_EGRESS && reason == KN_R_TRANSLATED)
		reason = KN_R_NOT_FOR_US;
	ext_syn(&in, c, port);
	before = global_reason(dp, hook, reason);
	snprintf(what, sizeof(what), "%s (hook %u): run", c->name, hook);
	if (!ASSERT_OK(run_prog(dp, hook, &in, &out, &verdict), what))
		return;
	snprintf(what, sizeof(what), "%s (hook %u): verdict", c->name, hook);
	ASSERT_EQ(verdict, pass_verdict(hook), what);
	snprintf(what, sizeof(what), "%s (hook %u): counted once as %d",
		 c->name, hook, reason);
	ASSERT_EQ(global_reason(dp, hook, reason) - before, 1, what);
	if (reason != KN_R_TRANSLATED) {
		snprintf(what, sizeof(what), "%s (hook %u): untouched", c->name,
			 hook);
		ASSERT_TRUE(out.len == in.len &&
				!memcmp(out.data, in.data, in.len),
			    what);
		return;
	}
	snprintf(what, sizeof(what), "%s (hook %u): steered to a backend",
		 c->name, hook);
	ASSERT_TRUE(is_backend(out_daddr(&out)) &&
			out_dport(&out) == BACKEND_PORT,
		    what);
	snprintf(what, sizeof(what), "%s (hook %u): TCP checksum", c->name,
		 hook);
	ASSERT_TRUE(pkt_l4_csum_ok(out.data, out.len), what);
	snprintf(what, sizeof(what), "%s (hook %u): headers kept", c->name,
		 hook);
	ASSERT_TRUE(same_except_translation(&in, &out, true), what);
}

void test_ipv6_extension_headers(void)
{
	struct dataplane *dp;
	uint32_t index, hook;
	size_t c;

	harness_family = AF_INET6;
	dp = open_dp(NULL);
	if (!dp || add_service(dp, 5000, &index))
		goto cleanup;
	for (hook = 0; hook < KN_HOOK_COUNT; hook++)
		for (c = 0; c < sizeof(ext_cases) / sizeof(ext_cases[0]); c++)
			one_ext_case(dp, hook, &ext_cases[c],
				     (uint16_t)(20000 + 100 * hook + c));
cleanup:
	dp_close(dp, true);
	harness_family = AF_INET;
}

static void mutate_version_4(struct pkt *p)
{
	pkt_ip6(p)->version = 4;
}

static void mutate_payload_beyond_frame(struct pkt *p)
{
	pkt_ip6(p)->payload_len = htons((uint16_t)(p->len + 100));
}

static void mutate_payload_zero(struct pkt *p)
{
	pkt_ip6(p)->payload_len = 0; /* a jumbogram's, without its option */
}

static void mutate_ext_beyond_payload(struct pkt *p)
{
	static const struct pkt6_ext hbh = HBH(EXT_MIN_BYTES);

	pkt6_insert_ext(p, &hbh);
	/* claims 2048 bytes: past the payload */
	((uint8_t *)(pkt_ip6(p) + 1))[1] = 255;
}

static void mutate_icmp6(struct pkt *p)
{
	pkt_ip6(p)->nexthdr = PKT_ICMPV6_PROTO;
}

static void mutate_other_address6(struct pkt *p)
{
	pkt6_addr(OTHER_HOST, &pkt_ip6(p)->daddr);
}

static void mutate_udp_zero_checksum(struct pkt *p)
{
	struct pkt_spec s = {.saddr = CLIENT_1,
			     .daddr = VIP,
			     .sport = 1234,
			     .dport = VIP_PORT,
			     .proto = IPPROTO_UDP,
			     .family = AF_INET6};

	pkt_build(p, &s);
	((struct udphdr *)(pkt_ip6(p) + 1))->check = 0;
}

static const struct {
	const char *name;
	enum kn_reason reason;
	void (*mutate)(struct pkt *p);
} malformed_cases[] = {
    {"version 4 in an IPv6 frame", KN_R_MALFORMED, mutate_version_4},
    {"payload length beyond frame", KN_R_MALFORMED,
     mutate_payload_beyond_frame},
    {"payload length 0", KN_R_MALFORMED, mutate_payload_zero},
    {"extension header past the payload", KN_R_MALFORMED,
     mutate_ext_beyond_payload},
    {"UDP without checksum", KN_R_MALFORMED, mutate_udp_zero_checksum},
    {"ICMPv6 to the VIP", KN_R_NOT_TCP_UDP, mutate_icmp6},
    {"other address", KN_R_NOT_FOR_US, mutate_other_address6},
};

void test_ipv6_other_packets_pass_untouched(void)
{
	struct dataplane *dp;
	struct pkt_spec spec;
	struct pkt in, out;
	uint32_t index, hook;
	size_t c;
	__u32 verdict;

	harness_family = AF_INET6;
	dp = open_dp(NULL);
	if (!dp || add_service(dp, 5000, &index))
		goto cleanup;
	for (hook = 0; hook < KN_HOOK_COUNT; hook++) {
		for (c = 0;
		     c < sizeof(malformed_cases) / sizeof(malformed_cases[0]);
		     c++) {
			uint64_t before;
			char what[160];

			syn_spec(&spec, CLIENT_1, 44000);
			pkt_build(&in, &spec);
			malformed_cases[c].mutate(&in);
			before =
			    global_reason(dp, hook, malformed_cases[c].reason);
			if (run_prog(dp, hook, &in, &out, &verdict))
				break;
			snprintf(what, sizeof(what),
				 "%s (hook %u): passed untouched",
				 malformed_cases[c].name, hook);
			ASSERT_TRUE(verdict == pass_verdict(hook) &&
					out.len == in.len &&
					!memcmp(out.data, in.data, in.len),
				    what);
			snprintf(what, sizeof(what),
				 "%s (hook %u): counted once as %d",
				 malformed_cases[c].name, hook,
				 malformed_cases[c].reason);
			ASSERT_EQ(
			    global_reason(dp, hook, malformed_cases[c].reason) -
				before,
			    1, what);
		}
	}
cleanup:
	dp_close(dp, true);
	harness_family = AF_INET;
}

/* A SYN with every walked header cut at each header boundary, its
 * payload length saying so (the frame itself consistent): the missing
 * header makes it malformed, never steered. Cuts at every other length
 * are test_ipv6_truncation_at_every_length's. */
void test_ipv6_truncation_at_every_header_boundary(void)
{
	const struct ext_case *all = &ext_cases[4];
	uint32_t boundaries[EXT_MAX_IN_CASE + 3], nb = 0, i, hook, off;
	struct dataplane *dp;
	struct pkt full, in, out;
	uint32_t index;
	__u32 verdict;

	harness_family = AF_INET6;
	dp = open_dp(NULL);
	if (!dp || add_service(dp, 5000, &index))
		goto cleanup;
	ext_syn(&full, all, 45500);
	/* After Ethernet, after the IPv6 header, after each extension
	 * header, inside the TCP header. */
	boundaries[nb++] = ETH_HLEN;
	off = ETH_HLEN + PKT6_HDR_LEN;
	boundaries[nb++] = off;
	for (i = 0; i < all->count; i++) {
		off += all->hdrs[i].len_bytes;
		boundaries[nb++] = off;
	}
	boundaries[nb++] = off + sizeof(struct tcphdr) - 1;
	for (hook = 0; hook < KN_HOOK_COUNT; hook++) {
		for (i = 0; i < nb; i++) {
			uint64_t before =
			    global_reason(dp, hook, KN_R_MALFORMED);
			char what[128];

			in = full;
			in.len = boundaries[i];
			if (in.len >= ETH_HLEN + PKT6_HDR_LEN)
				pkt_ip6(&in)->payload_len =
				    htons((uint16_t)(in.len - ETH_HLEN -
						     PKT6_HDR_LEN));
			if (run_prog(dp, hook, &in, &out, &verdict))
				break;
			snprintf(what, sizeof(what),
				 "cut at %u bytes (hook %u): untouched", in.len,
				 hook);
			ASSERT_TRUE(verdict == pass_verdict(hook) &&
					out.len == in.len &&
					!memcmp(out.data, in.data, in.len),
				    what);
			snprintf(what, sizeof(what),
				 "cut at %u bytes (hook %u): malformed", in.len,
				 hook);
			ASSERT_EQ(global_reason(dp, hook, KN_R_MALFORMED) -
				      before,
				  1, what);
		}
	}
cleanup:
	dp_close(dp, true);
	harness_family = AF_INET;
}
