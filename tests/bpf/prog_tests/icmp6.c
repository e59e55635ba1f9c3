// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * icmp6.c - ICMPv6 errors (packet too big, unreachable, time exceeded,
 * parameter problem) about IPv6 flows translated in both directions, every
 * checksum checked from scratch (the pseudo header included); errors about
 * unknown flows, neighbour discovery and echo, and errors cut at every
 * length pass untouched and are counted.
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
#define QUOTE6_MIN_LEN	   (PKT_IP6_HDR_LEN + 8) /* RFC 4443: as much as fits */
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

/* 2001:2::/48, the IPv6 benchmarking range. */
static const uint8_t client6[PKT_ADDR6_BYTES] = {
    0x20, 0x01, 0x00, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0x10};
static const uint8_t vip6[PKT_ADDR6_BYTES] = {
    0x20, 0x01, 0x00, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00};
static const uint8_t backend6[PKT_ADDR6_BYTES] = {
    0x20, 0x01, 0x00, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x01};
static const uint8_t router6[PKT_ADDR6_BYTES] = {
    0x20, 0x01, 0x00, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x09, 0x09};

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

static struct kn_addr addr6(const uint8_t *bytes)
{
	struct kn_addr a;

	memcpy(&a, bytes, sizeof(a));
	return a;
}

static int pinned_map(const char *name)
{
	char path[FLOW_PATH_BYTES];

	snprintf(path, sizeof(path), "%s/%s", harness_pin_dir, name);
	return bpf_obj_get(path);
}

/* Records client6:port -> vip6:VIP_PORT on backend6:BACKEND_PORT, both
 * directions, as ingress would. */
static bool record_flow6(uint8_t proto, uint16_t port)
{
	struct kn_flow_key key = {
	    .src = addr6(client6),
	    .dst = addr6(vip6),
	    .sport = htons(port),
	    .dport = htons(VIP_PORT),
	    .proto = proto,
	    .family = KN_AF_INET6,
	};
	struct kn_flow flow = {
	    .backend = addr6(backend6),
	    .backend_port = htons(BACKEND_PORT),
	    .state = KN_FLOW_ESTABLISHED,
	};
	struct kn_reply reply = {
	    .vip = addr6(vip6),
	    .vip_port = htons(VIP_PORT),
	    .state = KN_FLOW_ESTABLISHED,
	};
	int flows = pinned_map("kn_flows"), replies = pinned_map("kn_replies");
	bool ok = ASSERT_TRUE(flows >= 0 && replies >= 0, "open the tables");

	if (ok)
		ok = ASSERT_OK(bpf_map_update_elem(flows, &key, &flow, BPF_ANY),
			       "record the flow");
	key.src = addr6(backend6);
	key.sport = htons(BACKEND_PORT);
	key.dst = addr6(client6);
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

static void packet6(struct pkt *p, uint8_t proto, const uint8_t *saddr,
		    uint16_t sport, const uint8_t *daddr, uint16_t dport)
{
	struct pkt6_spec s = {
	    .sport = sport,
	    .dport = dport,
	    .proto = proto,
	    .tcp_flags = TCPF_ACK | TCPF_PSH,
	    .payload = payload6,
	    .payload_len = QUOTED_PAYLOAD_LEN,
	};

	memcpy(s.saddr, saddr, PKT_ADDR6_BYTES);
	memcpy(s.daddr, daddr, PKT_ADDR6_BYTES);
	pkt6_build(p, &s);
}

static void keep_tcp6_check(struct pkt *translated, const struct pkt *sent)
{
	const uint32_t off = ETH_HLEN + PKT_IP6_HDR_LEN + 16;

	memcpy(translated->data + off, sent->data + off, 2);
}

/* The whole quoted datagram's UDP checksum verifies from scratch. */
static bool quoted6_csum_ok(const struct pkt *p, uint32_t quote_len)
{
	struct pkt quoted;

	memset(&quoted, 0, sizeof(quoted));
	memcpy(quoted.data, p->data, ETH_HLEN);
	memcpy(quoted.data + ETH_HLEN,
	       p->data + ETH_HLEN + PKT_IP6_HDR_LEN + PKT_ICMP_HDR_LEN,
	       quote_len);
	quoted.len = ETH_HLEN + quote_len;
	return pkt6_l4_csum_ok(quoted.data, quoted.len);
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
	ASSERT_TRUE(pkt6_l4_csum_ok(out.data, out.len),
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
		packet6(&sent, protos6[pr], client6, port, backend6,
			BACKEND_PORT);
		packet6(&known, protos6[pr], client6, port, vip6, VIP_PORT);
		if (protos6[pr] == IPPROTO_TCP)
			keep_tcp6_check(&known, &sent);
		for (k = 0; k < ERROR6_KINDS; k++)
			for (s = 0; s < 2; s++)
				for (q = 0; q < 2; q++) {
					const struct error6_kind *e =
					    &error6_kinds[k];
					const uint8_t *from =
					    s ? backend6 : router6;

					pkt6_build_icmp_error(
					    &in, from, client6, e->type,
					    e->code, e->rest, &sent,
					    quotes6[q]);
					pkt6_build_icmp_error(
					    &want, s ? vip6 : router6, client6,
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
		packet6(&sent, protos6[pr], vip6, VIP_PORT, client6, port);
		packet6(&known, protos6[pr], backend6, BACKEND_PORT, client6,
			port);
		if (protos6[pr] == IPPROTO_TCP)
			keep_tcp6_check(&known, &sent);
		for (h = 0; h < 2; h++)
			for (k = 0; k < ERROR6_KINDS; k++)
				for (q = 0; q < 2; q++) {
					const struct error6_kind *e =
					    &error6_kinds[k];

					pkt6_build_icmp_error(
					    &in, router6, vip6, e->type,
					    e->code, e->rest, &sent,
					    quotes6[q]);
					pkt6_build_icmp_error(
					    &want, router6, backend6, e->type,
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
		packet6(quoted, IPPROTO_UDP, client6, port, backend6,
			BACKEND_PORT);
		pkt6_build_icmp_error(err, router6, client6, ICMPV6_TOO_BIG, 0,
				      TOO_BIG_MTU, quoted, QUOTE6_MIN_LEN);
	} else {
		packet6(quoted, IPPROTO_UDP, vip6, VIP_PORT, client6, port);
		pkt6_build_icmp_error(err, router6, vip6, ICMPV6_TOO_BIG, 0,
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
		pkt6_build_icmp_error(&in, router6, router6, ICMPV6_TOO_BIG, 0,
				      TOO_BIG_MTU, &quoted, QUOTE6_MIN_LEN);
		expect_untouched(dp, hook, &in, KN_R_ICMP_PASSED,
				 "error addressed to another host");

		/* Neighbour discovery and echo carrying the same bytes. */
		error6_about(hook, port, &quoted, &in);
		pkt6_build_icmp_error(&in, router6, vip6, ICMPV6_NEIGH_SOL, 0,
				      0, &quoted, QUOTE6_MIN_LEN);
		expect_untouched(dp, hook, &in, KN_R_NOT_IPV4,
				 "neighbour solicitation");
		pkt6_build_icmp_error(&in, router6, vip6, ICMPV6_ECHO, 0, 0,
				      &quoted, QUOTE6_MIN_LEN);
		expect_untouched(dp, hook, &in, KN_R_NOT_IPV4, "echo request");

		/* A quote with an extension header first: not walked. */
		error6_about(hook, port, &quoted, &in);
		in.data[ETH_HLEN + PKT_IP6_HDR_LEN + PKT_ICMP_HDR_LEN + 6] = 0;
		expect_untouched(dp, hook, &in, KN_R_ICMP_PASSED,
				 "quote with a hop-by-hop header");

		/* A quote that is not IPv6. */
		error6_about(hook, port, &quoted, &in);
		in.data[ETH_HLEN + PKT_IP6_HDR_LEN + PKT_ICMP_HDR_LEN] = 0x40;
		expect_untouched(dp, hook, &in, KN_R_ICMP_MALFORMED,
				 "quoted version 4");
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
					in.len =
					    ETH_HLEN + PKT_IP6_HDR_LEN + cut;
				expect_untouched(
				    dp, hook, &in, KN_R_ICMP_MALFORMED,
				    padded ? "cut, padded frame" : "cut frame");
			}
	}
cleanup:
	dp_close(dp, true);
}
