// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * icmp6.c - ICMPv6 errors (packet too big, unreachable, time exceeded,
 * parameter problem) about IPv6 flows translated in both directions, every
 * checksum checked from scratch (the pseudo header included), also behind
 * outer extension headers (walked by the parser); errors about unknown
 * flows or quoting extension headers, neighbour discovery and echo, and
 * errors cut at every length pass untouched and are counted.
 *
 * The IPv6 flows are written straight into the connection tables, in the
 * layout ingress records them (both directions, 16-byte addresses,
 * family KN_AF_INET6), so that the translation is tested on its own.
 *
 * Part of test_datapath (tests/bpf/test_datapath.c runs every test_*()
 * here); the data path and the packets come from tests/bpf/harness.h.
 */
#include <stdio.h>

#include "harness.h"

#define QUOTED_PAYLOAD_LEN 100
#define QUOTE6_MIN_LEN	   (PKT6_HDR_LEN + 8) /* RFC 4443: as much as fits */
#define ICMP6_MSG_LEN	   (PKT_ICMP_HDR_LEN + QUOTE6_MIN_LEN)
#define ICMPV6_UNREACH	   1
#define ICMPV6_TOO_BIG	   2
#define ICMPV6_TIME	   3
#define ICMPV6_PARAM	   4
#define ICMPV6_ECHO	   128
#define ICMPV6_NEIGH_SOL   135
#define CODE_PORT_UNREACH6 4
#define TOO_BIG_MTU	   1280
#define PARAM_POINTER_HOP  7 /* the quoted hop limit */
#define FLOW_PATH_BYTES	   (HARNESS_PIN_DIR_BYTES + 16)

/* Hosts as numbers in 2001:2::/96 (packets.h), the benchmarking range. */
#define CLIENT6	 CLIENT_1
#define VIP6	 VIP
#define BACKEND6 STABLE_1
#define ROUTER6	 OTHER_HOST

struct error6_kind {
	const char *what;
	uint8_t type, code;
	uint32_t rest;
};

static const struct error6_kind error6_kinds[] = {
    {"packet too big", ICMPV6_TOO_BIG, 0, TOO_BIG_MTU},
    {"port unreachable", ICMPV6_UNREACH, CODE_PORT_UNREACH6, 0},
    {"time exceeded", ICMPV6_TIME, 0, 0},
    {"parameter problem", ICMPV6_PARAM, 0, PARAM_POINTER_HOP},
};

#define ERROR6_KINDS (sizeof(error6_kinds) / sizeof(error6_kinds[0]))

static uint8_t payload6[QUOTED_PAYLOAD_LEN];

static struct kn_addr addr6(uint32_t host)
{
	struct in6_addr in6;
	struct kn_addr a;

	pkt6_addr(host, &in6);
	memcpy(&a, &in6, sizeof(a));
	return a;
}

static int pinned_map(const char *name)
{
	char path[FLOW_PATH_BYTES];

	snprintf(path, sizeof(path), "%s/%s", harness_pin_dir, name);
	return bpf_obj_get(path);
}

/* Records CLIENT6:port -> VIP6:VIP_PORT on BACKEND6:BACKEND_PORT, both
 * directions, as ingress would. */
static bool record_flow6(uint8_t proto, uint16_t port)
{
	struct kn_flow_key key = {
	    .src = addr6(CLIENT6),
	    .dst = addr6(VIP6),
	    .sport = htons(port),
	    .dport = htons(VIP_PORT),
	    .proto = proto,
	    .family = KN_AF_INET6,
	};
	struct kn_flow flow = {
	    .backend = addr6(BACKEND6),
	    .backend_port = htons(BACKEND_PORT),
	    .state = KN_FLOW_ESTABLISHED,
	};
	struct kn_reply reply = {
	    .vip = addr6(VIP6),
	    .vip_port = htons(VIP_PORT),
	    .state = KN_FLOW_ESTABLISHED,
	};
	int flows = pinned_map("kn_flows"), replies = pinned_map("kn_replies");
	bool ok = ASSERT_TRUE(flows >= 0 && replies >= 0, "open the tables");

	if (ok)
		ok = ASSERT_OK(bpf_map_update_elem(flows, &key, &flow, BPF_ANY),
			       "record the flow");
	key.src = addr6(BACKEND6);
	key.sport = htons(BACKEND_PORT);
	key.dst = addr6(CLIENT6);
	key.dport = htons(port);
	if (ok)
		ok = ASSERT_OK(
		    bpf_map_update_elem(replies, &key, &reply, BPF_ANY),
		    "record the reply direction");
	if (flows >= 0)
		close(flows);
	if (replies >= 0)
		close(replies);
	return ok;
}

static void packet6(struct pkt *p, uint8_t proto, uint32_t saddr,
		    uint16_t sport, uint32_t daddr, uint16_t dport)
{
	struct pkt_spec s = {
	    .saddr = saddr,
	    .daddr = daddr,
	    .family = AF_INET6,
	    .sport = sport,
	    .dport = dport,
	    .proto = proto,
	    .tcp_flags = TCPF_ACK | TCPF_PSH,
	    .payload = payload6,
	    .payload_len = QUOTED_PAYLOAD_LEN,
	};

	pkt_build(p, &s);
}

static void keep_tcp6_check(struct pkt *translated, const struct pkt *sent)
{
	const uint32_t off = ETH_HLEN + PKT6_HDR_LEN + 16;

	memcpy(translated->data + off, sent->data + off, 2);
}

/* The whole quoted datagram's UDP checksum verifies from scratch. */
static bool quoted6_csum_ok(const struct pkt *p, uint32_t quote_len)
{
	struct pkt quoted;

	memset(&quoted, 0, sizeof(quoted));
	memcpy(quoted.data, p->data, ETH_HLEN);
	memcpy(quoted.data + ETH_HLEN,
	       p->data + ETH_HLEN + PKT6_HDR_LEN + PKT_ICMP_HDR_LEN, quote_len);
	quoted.len = ETH_HLEN + quote_len;
	return pkt_l4_csum_ok(quoted.data, quoted.len);
}

static void expect6_translated(struct dataplane *dp, enum kn_hook hook,
			       const struct pkt *in, const struct pkt *want,
			       uint8_t proto, uint32_t quote_len,
			       const char *what)
{
	struct pkt out;

	if (!expect_output(dp, hook, in, want, &out, what))
		printf("# %s, quote of %u bytes\n",
		       proto == IPPROTO_TCP ? "TCP" : "UDP", quote_len);
	ASSERT_TRUE(pkt_icmp_csum_ok(out.data, out.len),
		    "ICMPv6 checksum with its pseudo header");
	if (proto == IPPROTO_UDP && quote_len > QUOTE6_MIN_LEN)
		ASSERT_TRUE(quoted6_csum_ok(&out, quote_len),
			    "quoted UDP checksum over the whole datagram");
}

static const uint8_t protos6[] = {IPPROTO_TCP, IPPROTO_UDP};
static const uint32_t quotes6[] = {QUOTE6_MIN_LEN,
				   QUOTE6_MIN_LEN + QUOTED_PAYLOAD_LEN};

static struct dataplane *open_dp6(void)
{
	uint32_t i;

	for (i = 0; i < QUOTED_PAYLOAD_LEN; i++)
		payload6[i] = (uint8_t)(i * 31 + 5);
	return open_dp(NULL);
}

/* About the client's packet to its backend, on its way to the client,
 * from a router or from the backend itself. */
void test_icmp6_errors_translated_to_client(void)
{
	struct dataplane *dp = open_dp6();
	struct pkt sent, known, in, want;
	uint64_t translated = 0;
	size_t pr, k, s, q;

	if (!dp)
		return;
	for (pr = 0; pr < sizeof(protos6); pr++) {
		uint16_t port = (uint16_t)(51000 + pr);

		if (!record_flow6(protos6[pr], port))
			goto cleanup;
		packet6(&sent, protos6[pr], CLIENT6, port, BACKEND6,
			BACKEND_PORT);
		packet6(&known, protos6[pr], CLIENT6, port, VIP6, VIP_PORT);
		if (protos6[pr] == IPPROTO_TCP)
			keep_tcp6_check(&known, &sent);
		for (k = 0; k < ERROR6_KINDS; k++)
			for (s = 0; s < 2; s++)
				for (q = 0; q < 2; q++) {
					const struct error6_kind *e =
					    &error6_kinds[k];
					const uint32_t from =
					    s ? BACKEND6 : ROUTER6;

					pkt_build_icmp_error(&in, from, CLIENT6,
							     e->type, e->code,
							     e->rest, &sent,
							     quotes6[q]);
					pkt_build_icmp_error(
					    &want, s ? VIP6 : ROUTER6, CLIENT6,
					    e->type, e->code, e->rest, &known,
					    quotes6[q]);
					expect6_translated(
					    dp, KN_HOOK_TC_EGRESS, &in, &want,
					    protos6[pr], quotes6[q], e->what);
					translated++;
				}
	}
	ASSERT_EQ(global_reason(dp, KN_HOOK_TC_EGRESS, KN_R_ICMP_REWRITTEN),
		  translated, "every error counted as translated");
cleanup:
	dp_close(dp, true);
}

/* About a reply from the VIP, sent to the VIP by a router: to the backend,
 * by XDP (then tc leaves it) and by tc. */
void test_icmp6_errors_translated_to_backend(void)
{
	const enum kn_hook hooks[] = {KN_HOOK_XDP_INGRESS, KN_HOOK_TC_INGRESS};
	struct dataplane *dp = open_dp6();
	struct pkt sent, known, in, want;
	uint64_t translated[2] = {0, 0};
	size_t pr, h, k, q;

	if (!dp)
		return;
	for (pr = 0; pr < sizeof(protos6); pr++) {
		uint16_t port = (uint16_t)(52000 + pr);

		if (!record_flow6(protos6[pr], port))
			goto cleanup;
		packet6(&sent, protos6[pr], VIP6, VIP_PORT, CLIENT6, port);
		packet6(&known, protos6[pr], BACKEND6, BACKEND_PORT, CLIENT6,
			port);
		if (protos6[pr] == IPPROTO_TCP)
			keep_tcp6_check(&known, &sent);
		for (h = 0; h < 2; h++)
			for (k = 0; k < ERROR6_KINDS; k++)
				for (q = 0; q < 2; q++) {
					const struct error6_kind *e =
					    &error6_kinds[k];

					pkt_build_icmp_error(&in, ROUTER6, VIP6,
							     e->type, e->code,
							     e->rest, &sent,
							     quotes6[q]);
					pkt_build_icmp_error(
					    &want, ROUTER6, BACKEND6, e->type,
					    e->code, e->rest, &known,
					    quotes6[q]);
					expect6_translated(dp, hooks[h], &in,
							   &want, protos6[pr],
							   quotes6[q], e->what);
					translated[h]++;
				}
	}
	ASSERT_EQ(global_reason(dp, KN_HOOK_XDP_INGRESS, KN_R_ICMP_REWRITTEN),
		  translated[0], "XDP counts every error as translated");
	ASSERT_EQ(global_reason(dp, KN_HOOK_TC_INGRESS, KN_R_ICMP_REWRITTEN),
		  translated[1], "tc counts only its own translations");
cleanup:
	dp_close(dp, true);
}

/* The error of the direction of hook about the UDP flow on port. */
static void error6_about(enum kn_hook hook, uint16_t port, struct pkt *quoted,
			 struct pkt *err)
{
	if (hook == KN_HOOK_TC_EGRESS) {
		packet6(quoted, IPPROTO_UDP, CLIENT6, port, BACKEND6,
			BACKEND_PORT);
		pkt_build_icmp_error(err, ROUTER6, CLIENT6, ICMPV6_TOO_BIG, 0,
				     TOO_BIG_MTU, quoted, QUOTE6_MIN_LEN);
	} else {
		packet6(quoted, IPPROTO_UDP, VIP6, VIP_PORT, CLIENT6, port);
		pkt_build_icmp_error(err, ROUTER6, VIP6, ICMPV6_TOO_BIG, 0,
				     TOO_BIG_MTU, quoted, QUOTE6_MIN_LEN);
	}
}

void test_icmp6_other_messages_pass(void)
{
	const uint16_t port = 53000;
	struct dataplane *dp = open_dp6();
	struct pkt quoted, in;
	enum kn_hook hook;

	if (!dp || !record_flow6(IPPROTO_UDP, port))
		goto cleanup;
	for (hook = KN_HOOK_XDP_INGRESS; hook < KN_HOOK_COUNT; hook++) {
		error6_about(hook, (uint16_t)(port + 1), &quoted, &in);
		expect_untouched(dp, hook, &in, KN_R_ICMP_PASSED,
				 "error about an unknown flow");

		/* The flow's error, but to a host that did not send it. */
		error6_about(hook, port, &quoted, &in);
		pkt_build_icmp_error(&in, ROUTER6, ROUTER6, ICMPV6_TOO_BIG, 0,
				     TOO_BIG_MTU, &quoted, QUOTE6_MIN_LEN);
		expect_untouched(dp, hook, &in, KN_R_ICMP_PASSED,
				 "error addressed to another host");

		/* Neighbour discovery and echo carrying the same bytes. */
		error6_about(hook, port, &quoted, &in);
		pkt_build_icmp_error(&in, ROUTER6, VIP6, ICMPV6_NEIGH_SOL, 0, 0,
				     &quoted, QUOTE6_MIN_LEN);
		expect_untouched(dp, hook, &in, KN_R_NOT_TCP_UDP,
				 "neighbour solicitation");
		pkt_build_icmp_error(&in, ROUTER6, VIP6, ICMPV6_ECHO, 0, 0,
				     &quoted, QUOTE6_MIN_LEN);
		expect_untouched(dp, hook, &in, KN_R_NOT_TCP_UDP,
				 "echo request");

		/* A quote with an extension header first: not walked. */
		error6_about(hook, port, &quoted, &in);
		in.data[ETH_HLEN + PKT6_HDR_LEN + PKT_ICMP_HDR_LEN + 6] = 0;
		expect_untouched(dp, hook, &in, KN_R_ICMP_PASSED,
				 "quote with a hop-by-hop header");

		/* A quote that is not IPv6. */
		error6_about(hook, port, &quoted, &in);
		in.data[ETH_HLEN + PKT6_HDR_LEN + PKT_ICMP_HDR_LEN] = 0x40;
		expect_untouched(dp, hook, &in, KN_R_ICMP_MALFORMED,
				 "quoted version 4");
	}
cleanup:
	dp_close(dp, true);
}

/* Extension headers before the outer ICMPv6 header, walked by the parser:
 * the error is translated where it lies, the headers left as they were. */
void test_icmp6_errors_after_extension_headers(void)
{
	static const struct pkt6_ext chains[][2] = {
	    {{IPPROTO_HOPOPTS, PKT6_EXT_UNIT_BYTES, 0}},
	    {{IPPROTO_HOPOPTS, PKT6_EXT_UNIT_BYTES, 0},
	     {IPPROTO_DSTOPTS, 3 * PKT6_EXT_UNIT_BYTES, 0}},
	    {{IPPROTO_ROUTING, 3 * PKT6_EXT_UNIT_BYTES, 0},
	     {IPPROTO_DSTOPTS, PKT6_EXT_UNIT_BYTES, 0}},
	};
	static const uint32_t chain_len[] = {1, 2, 2};
	const uint16_t port = 55000;
	struct dataplane *dp = open_dp6();
	struct pkt sent, known, in, want;
	enum kn_hook hook;
	size_t c, i;

	if (!dp || !record_flow6(IPPROTO_UDP, port))
		goto cleanup;
	for (hook = KN_HOOK_XDP_INGRESS; hook < KN_HOOK_COUNT; hook++) {
		bool egress = hook == KN_HOOK_TC_EGRESS;

		if (egress) {
			packet6(&sent, IPPROTO_UDP, CLIENT6, port, BACKEND6,
				BACKEND_PORT);
			packet6(&known, IPPROTO_UDP, CLIENT6, port, VIP6,
				VIP_PORT);
		} else {
			packet6(&sent, IPPROTO_UDP, VIP6, VIP_PORT, CLIENT6,
				port);
			packet6(&known, IPPROTO_UDP, BACKEND6, BACKEND_PORT,
				CLIENT6, port);
		}
		for (c = 0; c < sizeof(chain_len) / sizeof(chain_len[0]); c++) {
			pkt_build_icmp_error(&in, ROUTER6,
					     egress ? CLIENT6 : VIP6,
					     ICMPV6_TOO_BIG, 0, TOO_BIG_MTU,
					     &sent, QUOTE6_MIN_LEN);
			pkt_build_icmp_error(&want, ROUTER6,
					     egress ? CLIENT6 : BACKEND6,
					     ICMPV6_TOO_BIG, 0, TOO_BIG_MTU,
					     &known, QUOTE6_MIN_LEN);
			for (i = chain_len[c]; i > 0; i--) {
				pkt6_insert_ext(&in, &chains[c][i - 1]);
				pkt6_insert_ext(&want, &chains[c][i - 1]);
			}
			expect6_translated(dp, hook, &in, &want, IPPROTO_UDP,
					   QUOTE6_MIN_LEN,
					   "packet too big after extension "
					   "headers");
		}
	}
cleanup:
	dp_close(dp, true);
}

/* Cut after every byte of the 56 the translation reads: with the frame
 * ending there, and with the rest left behind as padding. */
void test_icmp6_truncated_errors_pass(void)
{
	const uint16_t port = 54000;
	struct dataplane *dp = open_dp6();
	struct pkt quoted, full, in;
	enum kn_hook hook;
	uint32_t cut, padded;

	if (!dp || !record_flow6(IPPROTO_UDP, port))
		goto cleanup;
	for (hook = KN_HOOK_XDP_INGRESS; hook < KN_HOOK_COUNT; hook++) {
		struct pkt out;
		__u32 verdict;

		error6_about(hook, port, &quoted, &full);
		run_prog(dp, hook, &full, &out, &verdict);
		ASSERT_EQ(global_reason(dp, hook, KN_R_ICMP_REWRITTEN), 1,
			  "the whole error is translated");
		for (cut = 1; cut < ICMP6_MSG_LEN; cut++)
			for (padded = 0; padded < 2; padded++) {
				in = full;
				in.data[ETH_HLEN + 4] = (uint8_t)(cut >> 8);
				in.data[ETH_HLEN + 5] = (uint8_t)cut;
				if (!padded)
					in.len = ETH_HLEN + PKT6_HDR_LEN + cut;
				expect_untouched(
				    dp, hook, &in, KN_R_ICMP_MALFORMED,
				    padded ? "cut, padded frame" : "cut frame");
			}
	}
cleanup:
	dp_close(dp, true);
}
