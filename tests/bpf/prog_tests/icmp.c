// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * icmp.c - ICMP errors about steered flows translated in both directions,
 * every checksum checked from scratch: the error quoting a client's packet
 * to its backend reaches the client about its VIP, the error quoting a
 * reply sent from the VIP reaches the backend. Errors about unknown flows,
 * other ICMP, broken quotes and quotes cut at every length pass untouched
 * and are counted.
 *
 * The expected output of each translation is built from scratch: the
 * quoted packet as the host that sent it knows it, and the ICMP error
 * quoting it, checksums computed over whole headers and messages.
 *
 * Part of test_datapath (tests/bpf/test_datapath.c runs every test_*()
 * here); the data path and the packets come from tests/bpf/harness.h.
 */
#include "harness.h"

#define UDP_VIP_PORT	   53
#define UDP_BACKEND_PORT   5300
#define QUOTED_PAYLOAD_LEN 100
#define QUOTE_MIN_LEN	   28 /* IPv4 header + 8 bytes of L4: RFC 792 */
#define ICMP_MSG_LEN	   (PKT_ICMP_HDR_LEN + QUOTE_MIN_LEN)
#define FRAG_NEEDED_MTU	   1280
#define ICMP_ECHO_REQUEST  8
#define ICMP_DEST_UNREACH  3
#define ICMP_TIME_EXCEEDED 11
#define ICMP_PARAM_PROBLEM 12
#define CODE_HOST_UNREACH  1
#define CODE_PORT_UNREACH  3
#define CODE_FRAG_NEEDED   4
#define PARAM_POINTER_TTL  (8U << 24) /* rest: pointer to the quoted TTL */
#define LATER_FRAGMENT_OFF 185	      /* in 8-byte units */

struct error_kind {
	const char *what;
	uint8_t type, code;
	uint32_t rest;
};

static const struct error_kind error_kinds[] = {
    {"fragmentation needed", ICMP_DEST_UNREACH, CODE_FRAG_NEEDED,
     FRAG_NEEDED_MTU},
    {"port unreachable", ICMP_DEST_UNREACH, CODE_PORT_UNREACH, 0},
    {"host unreachable", ICMP_DEST_UNREACH, CODE_HOST_UNREACH, 0},
    {"time exceeded", ICMP_TIME_EXCEEDED, 0, 0},
    {"parameter problem", ICMP_PARAM_PROBLEM, 0, PARAM_POINTER_TTL},
};

#define ERROR_KINDS (sizeof(error_kinds) / sizeof(error_kinds[0]))

/* One steered flow: the client's side and the backend the data path chose. */
struct steered {
	uint8_t proto;
	uint16_t client_port;
	uint16_t vip_port;
	uint32_t backend;
	uint16_t backend_port;
};

static uint8_t quoted_payload[QUOTED_PAYLOAD_LEN];

/* The TCP service of harness.c and a UDP one on the same VIP. */
static struct dataplane *open_services(void)
{
	struct dp_service_def udp = {
	    .name = "udp-model",
	    .proto = IPPROTO_UDP,
	    .stable_count = 1,
	};
	struct dataplane *dp = open_dp(NULL);
	char err[DP_ERR_LEN];
	uint32_t index, i;

	for (i = 0; i < QUOTED_PAYLOAD_LEN; i++)
		quoted_payload[i] = (uint8_t)(i * 29 + 7);
	if (!dp || add_service(dp, 0, &index))
		goto fail;
	udp.vip = ep(VIP, UDP_VIP_PORT);
	udp.stable[0] = ep(STABLE_2, UDP_BACKEND_PORT);
	if (!ASSERT_OK(dp_service_add(dp, &udp, &index, err, sizeof(err)), err))
		goto fail;
	return dp;
fail:
	dp_close(dp, true);
	return NULL;
}

/* A packet of the flow from saddr:sport to daddr:dport with a payload. */
static void flow_packet(struct pkt *p, uint8_t proto, uint32_t saddr,
			uint16_t sport, uint32_t daddr, uint16_t dport)
{
	struct pkt_spec s = {
	    .saddr = saddr,
	    .sport = sport,
	    .daddr = daddr,
	    .dport = dport,
	    .proto = proto,
	    .tcp_flags = TCPF_ACK | TCPF_PSH,
	    .payload = quoted_payload,
	    .payload_len = QUOTED_PAYLOAD_LEN,
	};

	pkt_build(p, &s);
}

/* Steers a new flow from CLIENT_1:client_port through tc ingress. */
static bool steer(struct dataplane *dp, uint8_t proto, uint16_t client_port,
		  struct steered *f)
{
	struct pkt_spec s;
	struct pkt in, out;
	__u32 verdict;

	f->proto = proto;
	f->client_port = client_port;
	f->vip_port = proto == IPPROTO_TCP ? VIP_PORT : UDP_VIP_PORT;
	if (proto == IPPROTO_TCP) {
		syn_spec(&s, CLIENT_1, client_port);
		pkt_build(&in, &s);
	} else {
		flow_packet(&in, proto, CLIENT_1, client_port, VIP,
			    f->vip_port);
	}
	if (!ASSERT_OK(run_prog(dp, KN_HOOK_TC_INGRESS, &in, &out, &verdict),
		       "steer a flow") ||
	    !ASSERT_EQ(verdict, TC_OK_VERDICT, "flow steered"))
		return false;
	f->backend = out_daddr(&out);
	f->backend_port = out_dport(&out);
	return ASSERT_NE(f->backend, VIP, "flow has a backend");
}

/* The quoted header's checksum verifies (quote at ETH + IP + ICMP). */
static bool quoted_ip_csum_ok(const struct pkt *p)
{
	const uint8_t *q =
	    p->data + ETH_HLEN + sizeof(struct iphdr) + PKT_ICMP_HDR_LEN;

	return csum_fold_host(csum_add_bytes(0, q, sizeof(struct iphdr))) ==
	       0xffff;
}

/* A quote of the whole datagram: its UDP checksum verifies from scratch. */
static bool quoted_udp_csum_ok(const struct pkt *p, uint32_t quote_len)
{
	struct pkt quoted;

	memset(&quoted, 0, sizeof(quoted));
	memcpy(quoted.data, p->data, ETH_HLEN);
	memcpy(quoted.data + ETH_HLEN,
	       p->data + ETH_HLEN + sizeof(struct iphdr) + PKT_ICMP_HDR_LEN,
	       quote_len);
	quoted.len = ETH_HLEN + quote_len;
	return pkt_l4_csum_ok(quoted.data, quoted.len);
}

/*
 * Runs `in` through hook and compares with `want` byte for byte, then
 * checks every checksum of the output from scratch. TCP's quoted checksum
 * is not translated: want carries the original one.
 */
static void expect_translated(struct dataplane *dp, enum kn_hook hook,
			      const struct pkt *in, const struct pkt *want,
			      uint8_t proto, uint32_t quote_len,
			      const char *what)
{
	struct pkt out;

	if (!expect_output(dp, hook, in, want, &out, what))
		printf("# %s, quote of %u bytes\n",
		       proto == IPPROTO_TCP ? "TCP" : "UDP", quote_len);
	ASSERT_TRUE(pkt_ip_csum_ok(out.data, out.len), "outer IPv4 checksum");
	ASSERT_TRUE(pkt_icmp_csum_ok(out.data, out.len), "ICMP checksum");
	ASSERT_TRUE(quoted_ip_csum_ok(&out), "quoted IPv4 checksum");
	if (proto == IPPROTO_UDP && quote_len > QUOTE_MIN_LEN)
		ASSERT_TRUE(quoted_udp_csum_ok(&out, quote_len),
			    "quoted UDP checksum over the whole datagram");
}

/* TCP's checksum is past the first 8 quoted bytes: it stays as sent. */
static void keep_tcp_check(struct pkt *translated, const struct pkt *sent)
{
	struct tcphdr *t = (void *)(pkt_ip(translated) + 1);

	t->check =
	    ((const struct tcphdr *)(pkt_ip((struct pkt *)sent) + 1))->check;
}

static const uint8_t protos[] = {IPPROTO_TCP, IPPROTO_UDP};

/* (a) about a client's packet to its backend, on its way to the client. */
static void errors_to_client(struct dataplane *dp, const struct steered *f,
			     uint64_t *translated)
{
	const uint32_t senders[] = {OTHER_HOST, f->backend};
	const uint32_t quotes[] = {QUOTE_MIN_LEN,
				   QUOTE_MIN_LEN + QUOTED_PAYLOAD_LEN};
	struct pkt sent, known, in, want;
	size_t k, s, q;

	flow_packet(&sent, f->proto, CLIENT_1, f->client_port, f->backend,
		    f->backend_port);
	flow_packet(&known, f->proto, CLIENT_1, f->client_port, VIP,
		    f->vip_port);
	if (f->proto == IPPROTO_TCP)
		keep_tcp_check(&known, &sent);
	for (k = 0; k < ERROR_KINDS; k++)
		for (s = 0; s < 2; s++)
			for (q = 0; q < 2; q++) {
				const struct error_kind *e = &error_kinds[k];
				uint32_t from =
				    senders[s] == f->backend ? VIP : senders[s];

				pkt_build_icmp_error(&in, senders[s], CLIENT_1,
						     e->type, e->code, e->rest,
						     &sent, quotes[q]);
				pkt_build_icmp_error(&want, from, CLIENT_1,
						     e->type, e->code, e->rest,
						     &known, quotes[q]);
				expect_translated(dp, KN_HOOK_TC_EGRESS, &in,
						  &want, f->proto, quotes[q],
						  e->what);
				(*translated)++;
			}
}

/* (b) about a reply from the VIP, sent towards the VIP by a router. */
static void errors_to_backend(struct dataplane *dp, const struct steered *f,
			      enum kn_hook hook, uint64_t *translated)
{
	const uint32_t quotes[] = {QUOTE_MIN_LEN,
				   QUOTE_MIN_LEN + QUOTED_PAYLOAD_LEN};
	struct pkt sent, known, in, want;
	size_t k, q;

	flow_packet(&sent, f->proto, VIP, f->vip_port, CLIENT_1,
		    f->client_port);
	flow_packet(&known, f->proto, f->backend, f->backend_port, CLIENT_1,
		    f->client_port);
	if (f->proto == IPPROTO_TCP)
		keep_tcp_check(&known, &sent);
	for (k = 0; k < ERROR_KINDS; k++)
		for (q = 0; q < 2; q++) {
			const struct error_kind *e = &error_kinds[k];

			pkt_build_icmp_error(&in, OTHER_HOST, VIP, e->type,
					     e->code, e->rest, &sent,
					     quotes[q]);
			pkt_build_icmp_error(&want, OTHER_HOST, f->backend,
					     e->type, e->code, e->rest, &known,
					     quotes[q]);
			expect_translated(dp, hook, &in, &want, f->proto,
					  quotes[q], e->what);
			(*translated)++;
		}
}

void test_icmp_errors_translated_to_client(void)
{
	struct dataplane *dp = open_services();
	uint64_t translated = 0;
	struct steered f;
	size_t i;

	if (!dp)
		return;
	for (i = 0; i < sizeof(protos); i++) {
		if (!steer(dp, protos[i], (uint16_t)(41000 + i), &f))
			goto cleanup;
		errors_to_client(dp, &f, &translated);
	}
	ASSERT_EQ(global_reason(dp, KN_HOOK_TC_EGRESS, KN_R_ICMP_REWRITTEN),
		  translated, "every error counted as translated");
cleanup:
	dp_close(dp, true);
}

/* XDP mode runs XDP then tc ingress: tc must not translate a second time
 * (the translated error quotes the backend, no flow of the client's). */
void test_icmp_errors_translated_to_backend(void)
{
	enum kn_hook hooks[] = {KN_HOOK_XDP_INGRESS, KN_HOOK_TC_INGRESS};
	struct dataplane *dp = open_services();
	uint64_t translated[2] = {0, 0};
	struct steered f;
	size_t i, h;

	if (!dp)
		return;
	for (i = 0; i < sizeof(protos); i++) {
		if (!steer(dp, protos[i], (uint16_t)(42000 + i), &f))
			goto cleanup;
		for (h = 0; h < 2; h++)
			errors_to_backend(dp, &f, hooks[h], &translated[h]);
	}
	ASSERT_EQ(global_reason(dp, KN_HOOK_XDP_INGRESS, KN_R_ICMP_REWRITTEN),
		  translated[0], "XDP counts every error as translated");
	ASSERT_EQ(global_reason(dp, KN_HOOK_TC_INGRESS, KN_R_ICMP_REWRITTEN),
		  translated[1], "tc counts only its own translations");
cleanup:
	dp_close(dp, true);
}

/* A UDP datagram sent without checksum is quoted with 0: it stays 0. */
void test_icmp_quoted_udp_without_checksum(void)
{
	struct dataplane *dp = open_services();
	struct pkt sent, known, in, want;
	struct steered f;

	if (!dp || !steer(dp, IPPROTO_UDP, 43000, &f))
		goto cleanup;
	flow_packet(&sent, IPPROTO_UDP, CLIENT_1, f.client_port, f.backend,
		    f.backend_port);
	flow_packet(&known, IPPROTO_UDP, CLIENT_1, f.client_port, VIP,
		    f.vip_port);
	((struct udphdr *)(pkt_ip(&sent) + 1))->check = 0;
	((struct udphdr *)(pkt_ip(&known) + 1))->check = 0;
	pkt_build_icmp_error(&in, f.backend, CLIENT_1, ICMP_DEST_UNREACH,
			     CODE_PORT_UNREACH, 0, &sent, QUOTE_MIN_LEN);
	pkt_build_icmp_error(&want, VIP, CLIENT_1, ICMP_DEST_UNREACH,
			     CODE_PORT_UNREACH, 0, &known, QUOTE_MIN_LEN);
	expect_translated(dp, KN_HOOK_TC_EGRESS, &in, &want, IPPROTO_UDP,
			  QUOTE_MIN_LEN, "no checksum stays none");
cleanup:
	dp_close(dp, true);
}

/* The error of direction `hook` about the steered flow f, quoting 28
 * bytes: what the tests below break in one place. */
static void error_about(const struct steered *f, enum kn_hook hook,
			struct pkt *quoted, struct pkt *err)
{
	if (hook == KN_HOOK_TC_EGRESS) {
		flow_packet(quoted, f->proto, CLIENT_1, f->client_port,
			    f->backend, f->backend_port);
		pkt_build_icmp_error(err, OTHER_HOST, CLIENT_1,
				     ICMP_DEST_UNREACH, CODE_FRAG_NEEDED,
				     FRAG_NEEDED_MTU, quoted, QUOTE_MIN_LEN);
	} else {
		flow_packet(quoted, f->proto, VIP, f->vip_port, CLIENT_1,
			    f->client_port);
		pkt_build_icmp_error(err, OTHER_HOST, VIP, ICMP_DEST_UNREACH,
				     CODE_FRAG_NEEDED, FRAG_NEEDED_MTU, quoted,
				     QUOTE_MIN_LEN);
	}
}

static void fix_outer_ip_csum(struct pkt *p)
{
	struct iphdr *ip = pkt_ip(p);

	ip->check = 0;
	ip->check = htons(
	    (uint16_t)~csum_fold_host(csum_add_bytes(0, ip, sizeof(*ip))));
}

void test_icmp_errors_about_unknown_flows_pass(void)
{
	struct dataplane *dp = open_services();
	struct pkt quoted, in;
	struct steered f;
	enum kn_hook hook;
	uint32_t to;

	if (!dp || !steer(dp, IPPROTO_TCP, 44000, &f))
		goto cleanup;
	for (hook = KN_HOOK_XDP_INGRESS; hook < KN_HOOK_COUNT; hook++) {
		struct steered other = f;

		other.client_port = 44999; /* no such flow */
		error_about(&other, hook, &quoted, &in);
		expect_untouched(dp, hook, &in, KN_R_ICMP_PASSED,
				 "error about an unknown flow");

		/* A known flow, but the error is not for its sender. */
		error_about(&f, hook, &quoted, &in);
		pkt_ip(&in)->daddr = htonl(OTHER_HOST);
		fix_outer_ip_csum(&in);
		expect_untouched(dp, hook, &in, KN_R_ICMP_PASSED,
				 "error addressed to another host");

		/* Not an error: an echo request carrying the same bytes. */
		error_about(&f, hook, &quoted, &in);
		to = ntohl(pkt_ip(&in)->daddr);
		pkt_build_icmp_error(&in, OTHER_HOST, to, ICMP_ECHO_REQUEST, 0,
				     0, &quoted, QUOTE_MIN_LEN);
		expect_untouched(dp, hook, &in, KN_R_NOT_TCP_UDP,
				 "echo request");
	}
cleanup:
	dp_close(dp, true);
}

/* Quotes kanary never steered, or cannot read as IPv4. */
void test_icmp_broken_quotes_pass(void)
{
	struct dataplane *dp = open_services();
	struct pkt quoted, in;
	struct steered f;
	enum kn_hook hook;

	if (!dp || !steer(dp, IPPROTO_UDP, 45000, &f))
		goto cleanup;
	for (hook = KN_HOOK_XDP_INGRESS; hook < KN_HOOK_COUNT; hook++) {
		static const struct {
			const char *what;
			enum kn_reason reason;
		} cases[] = {
		    {"quoted IP version 6", KN_R_ICMP_MALFORMED},
		    {"quoted IHL 4", KN_R_ICMP_MALFORMED},
		    {"quoted total length 20", KN_R_ICMP_MALFORMED},
		    {"quoted IP options", KN_R_ICMP_PASSED},
		    {"quoted later fragment", KN_R_ICMP_PASSED},
		    {"quoted ICMP", KN_R_ICMP_PASSED},
		};
		size_t c;

		for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
			struct iphdr *q;

			error_about(&f, hook, &quoted, &in);
			q = (void *)(pkt_ip(&in)->ihl * 4 +
				     (uint8_t *)pkt_ip(&in) + PKT_ICMP_HDR_LEN);
			switch (c) {
			case 0:
				q->version = 6;
				break;
			case 1:
				q->ihl = 4;
				break;
			case 2:
				q->tot_len = htons(sizeof(*q));
				break;
			case 3:
				q->ihl = 6;
				break;
			case 4:
				q->frag_off = htons(LATER_FRAGMENT_OFF);
				break;
			default:
				q->protocol = IPPROTO_ICMP;
				break;
			}
			/* Broken after the checksum: the program must not
			 * care, and the output must be the input. */
			expect_untouched(dp, hook, &in, cases[c].reason,
					 cases[c].what);
		}
	}
cleanup:
	dp_close(dp, true);
}

/*
 * The error cut after every byte of its ICMP message, short of the 36 the
 * translation reads: once with the frame ending there, once with the rest
 * left behind the IP packet's end as frame padding, which must not be
 * read as part of the message.
 */
void test_icmp_truncated_quotes_pass(void)
{
	struct dataplane *dp = open_services();
	struct pkt quoted, full, in;
	struct steered f;
	enum kn_hook hook;
	uint32_t cut, padded;

	if (!dp || !steer(dp, IPPROTO_UDP, 46000, &f))
		goto cleanup;
	for (hook = KN_HOOK_XDP_INGRESS; hook < KN_HOOK_COUNT; hook++) {
		error_about(&f, hook, &quoted, &full);
		/* The uncut error is translated: the cuts matter. */
		{
			struct pkt out;
			__u32 verdict;

			run_prog(dp, hook, &full, &out, &verdict);
			ASSERT_EQ(global_reason(dp, hook, KN_R_ICMP_REWRITTEN),
				  1, "the whole error is translated");
		}
		for (cut = 1; cut < ICMP_MSG_LEN; cut++)
			for (padded = 0; padded < 2; padded++) {
				in = full;
				pkt_ip(&in)->tot_len = htons(
				    (uint16_t)(sizeof(struct iphdr) + cut));
				fix_outer_ip_csum(&in);
				if (!padded)
					in.len = ETH_HLEN +
						 sizeof(struct iphdr) + cut;
				expect_untouched(
				    dp, hook, &in, KN_R_ICMP_MALFORMED,
				    padded ? "cut, padded frame" : "cut frame");
			}
		/* Not even a type byte: not an ICMP error at all. */
		in = full;
		pkt_ip(&in)->tot_len = htons(sizeof(struct iphdr));
		fix_outer_ip_csum(&in);
		in.len = ETH_HLEN + sizeof(struct iphdr);
		expect_untouched(dp, hook, &in, KN_R_NOT_TCP_UDP,
				 "no ICMP header");
	}
cleanup:
	dp_close(dp, true);
}
