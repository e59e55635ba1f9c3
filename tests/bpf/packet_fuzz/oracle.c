// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * oracle.c - what a program must do with a packet (written from the
 * documented rules, sharing no code with the programs), and whether it did
 *
 * A part of the packet fuzzer (tests/bpf/test_packet_fuzz.c); what the
 * parts share is in fuzz.h.
 */
#include "fuzz.h"

/* Everything this run saw, counted by the judges and reported by main. */
struct fuzz_stats st;

/* Where an ICMP error's parts sit, and how many bytes are read of it. */
#define ICMP_TYPE_OFF	L4_OFF
#define ICMP_QUOTE_OFF	(L4_OFF + 8)
#define ICMP_READ_LEN	(8 + ICMP_QUOTE_MIN_LEN)
#define ICMP_T_UNREACH	3
#define ICMP_T_TIME	11
#define ICMP_T_PARAM	12
#define Q_TOT_LEN_OFF	(ICMP_QUOTE_OFF + 2)
#define Q_FRAG_OFF	(ICMP_QUOTE_OFF + 6)
#define Q_PROTO_OFF	(ICMP_QUOTE_OFF + 9)
#define Q_SADDR_OFF	(ICMP_QUOTE_OFF + 12)
#define Q_DADDR_OFF	(ICMP_QUOTE_OFF + 16)
#define Q_L4_OFF	(ICMP_QUOTE_OFF + IPV4_MIN_HLEN)
#define IP6_NEXT_OFF	(IP_OFF + 6)
#define IP6_DADDR_OFF	(IP_OFF + 24)
#define ICMP6_OFF	(IP_OFF + PKT_IP6_HDR_LEN)
#define ICMP6_QUOTE_OFF (ICMP6_OFF + 8)
#define ICMP6_READ_LEN	(8 + PKT_IP6_HDR_LEN + 8)
#define Q6_NEXT_OFF	(ICMP6_QUOTE_OFF + 6)
#define Q6_SADDR_OFF	(ICMP6_QUOTE_OFF + 8)
#define Q6_DADDR_OFF	(ICMP6_QUOTE_OFF + 24)
#define Q6_L4_OFF	(ICMP6_QUOTE_OFF + PKT_IP6_HDR_LEN)

/*
 * The documented ICMP rules (bpf/kanary_icmp.h), written again from the
 * text, for an ICMP packet of IP total length tot: not an error (or no
 * type byte) counts as not TCP/UDP; an error shorter than its 36 bytes or
 * quoting a broken IPv4 header is malformed; one quoting options, a later
 * fragment or another protocol, or not sent to the quoted packet's sender,
 * passes; the rest depends on the maps (ICMP_CANDIDATE).
 */
static uint32_t oracle_icmp(const uint8_t *f, uint32_t tot)
{
	uint8_t type, vihl, qproto;

	if (tot < IPV4_MIN_HLEN + 1)
		return KN_R_NOT_TCP_UDP;
	type = f[ICMP_TYPE_OFF];
	if (type != ICMP_T_UNREACH && type != ICMP_T_TIME &&
	    type != ICMP_T_PARAM)
		return KN_R_NOT_TCP_UDP;
	if (tot < IPV4_MIN_HLEN + ICMP_READ_LEN)
		return KN_R_ICMP_MALFORMED;
	vihl = f[ICMP_QUOTE_OFF];
	if ((vihl >> 4) != 4 || (vihl & 0xf) < 5 ||
	    get16(f + Q_TOT_LEN_OFF) < ICMP_QUOTE_MIN_LEN)
		return KN_R_ICMP_MALFORMED;
	qproto = f[Q_PROTO_OFF];
	if ((vihl & 0xf) != 5 || (get16(f + Q_FRAG_OFF) & IP_OFFSET_MASK) ||
	    (qproto != IPPROTO_TCP && qproto != IPPROTO_UDP))
		return KN_R_ICMP_PASSED;
	if (get32(f + Q_SADDR_OFF) != get32(f + IP_DADDR_OFF))
		return KN_R_ICMP_PASSED;
	return ICMP_CANDIDATE;
}

/* The flow an ICMP_CANDIDATE (or ICMP6_CANDIDATE) quotes, turned around,
 * is in kn_flows (ingress) or kn_replies (egress): then it is translated. */
static uint32_t oracle_icmp_flow(enum kn_hook hook, const struct pkt *p,
				 bool v6)
{
	const uint8_t *f = p->data;
	struct kn_flow_key key = {
	    .src.w[0] = htonl(get32(f + Q_DADDR_OFF)),
	    .dst.w[0] = htonl(get32(f + Q_SADDR_OFF)),
	    .sport = htons(get16(f + Q_L4_OFF + 2)),
	    .dport = htons(get16(f + Q_L4_OFF)),
	    .proto = f[Q_PROTO_OFF],
	    .family = KN_AF_INET,
	};
	struct kn_reply reply;
	struct kn_flow flow;
	int err;

	if (v6) {
		memcpy(&key.src, f + Q6_DADDR_OFF, PKT_ADDR6_BYTES);
		memcpy(&key.dst, f + Q6_SADDR_OFF, PKT_ADDR6_BYTES);
		key.sport = htons(get16(f + Q6_L4_OFF + 2));
		key.dport = htons(get16(f + Q6_L4_OFF));
		key.proto = f[Q6_NEXT_OFF];
		key.family = KN_AF_INET6;
	}
	err = hook == KN_HOOK_TC_EGRESS
		  ? bpf_map_lookup_elem(replies_fd, &key, &reply)
		  : bpf_map_lookup_elem(flows_fd, &key, &flow);

	return err ? KN_R_ICMP_PASSED : KN_R_ICMP_REWRITTEN;
}

/* The same rules for an ICMPv6 error right after an IPv6 header; what is
 * not one stays "not IPv4". */
static uint32_t oracle_icmp6(const struct pkt *p)
{
	const uint8_t *f = p->data;
	uint32_t plen;
	uint8_t type, qnext;

	if (p->len < ICMP6_OFF || (f[IP_OFF] >> 4) != 6 ||
	    f[IP6_NEXT_OFF] != PKT_ICMPV6_PROTO)
		return KN_R_NOT_IPV4;
	plen = get16(f + IP_OFF + 4);
	if (ICMP6_OFF + plen > p->len || plen < 1)
		return KN_R_NOT_IPV4;
	type = f[ICMP6_OFF];
	if (type < 1 || type > 4) /* unreachable ... parameter problem */
		return KN_R_NOT_IPV4;
	if (plen < ICMP6_READ_LEN)
		return KN_R_ICMP_MALFORMED;
	if ((f[ICMP6_QUOTE_OFF] >> 4) != 6 ||
	    get16(f + ICMP6_QUOTE_OFF + 4) < 8)
		return KN_R_ICMP_MALFORMED;
	qnext = f[Q6_NEXT_OFF];
	if (qnext != IPPROTO_TCP && qnext != IPPROTO_UDP)
		return KN_R_ICMP_PASSED;
	if (memcmp(f + IP6_DADDR_OFF, f + Q6_SADDR_OFF, PKT_ADDR6_BYTES))
		return KN_R_ICMP_PASSED;
	return ICMP6_CANDIDATE;
}

/*
 * The documented parse rules (bpf/kanary_parse.h), written again from the
 * text: Ethernet + IPv4 without options, not a fragment, a total length
 * within the frame, TCP with a data offset within the total length or UDP
 * with a length within it. The first rule broken names the reason.
 */
static void oracle_parse(const struct pkt *p, struct view *v)
{
	const uint8_t *f = p->data;
	uint32_t tot, doff, ulen;

	memset(v, 0, sizeof(*v));
	v->reason = KN_R_MALFORMED;
	if (p->len < ETH_HLEN)
		return;
	if (get16(f + ETH_TYPE_OFF) == ETH_P_IPV6) {
		v->reason = oracle_icmp6(p);
		return;
	}
	if (get16(f + ETH_TYPE_OFF) != ETH_P_IP) {
		v->reason = KN_R_NOT_IPV4;
		return;
	}
	if (p->len < IP_OFF + IPV4_MIN_HLEN)
		return;
	if ((f[IP_OFF] >> 4) != 4 || (f[IP_OFF] & 0xf) < 5)
		return;
	if ((f[IP_OFF] & 0xf) != 5) {
		v->reason = KN_R_IP_OPTIONS;
		return;
	}
	tot = get16(f + IP_TOT_LEN_OFF);
	if (tot < IPV4_MIN_HLEN || ETH_HLEN + tot > p->len)
		return;
	if (get16(f + IP_FRAG_OFF) & (IP_MF_BIT | IP_OFFSET_MASK)) {
		v->reason = KN_R_FRAGMENT;
		return;
	}
	v->proto = f[IP_PROTO_OFF];
	v->saddr = get32(f + IP_SADDR_OFF);
	v->daddr = get32(f + IP_DADDR_OFF);
	if (v->proto == IPPROTO_TCP) {
		if (p->len < L4_OFF + TCP_MIN_HLEN)
			return;
		doff = (f[L4_OFF + TCP_DOFF_BYTE] >> 4) * 4u;
		if (doff < TCP_MIN_HLEN || IPV4_MIN_HLEN + doff > tot)
			return;
	} else if (v->proto == IPPROTO_UDP) {
		if (p->len < L4_OFF + UDP_HLEN)
			return;
		ulen = get16(f + L4_OFF + UDP_LEN_FIELD);
		if (ulen < UDP_HLEN || ulen > tot - IPV4_MIN_HLEN)
			return;
	} else if (v->proto == IPPROTO_ICMP) {
		v->reason = oracle_icmp(f, tot);
		return;
	} else {
		v->reason = KN_R_NOT_TCP_UDP;
		return;
	}
	v->sport = get16(f + L4_OFF);
	v->dport = get16(f + L4_OFF + 2);
	v->reason = CANDIDATE;
}

/* XDP leaves to tc a packet whose checksum field holds the pseudo-header
 * sum (what CHECKSUM_PARTIAL leaves); UDP's 0 means "no checksum". */
static bool looks_partial(const struct pkt *p, const struct view *v)
{
	uint16_t field =
	    get16(p->data + L4_OFF +
		  (v->proto == IPPROTO_TCP ? TCP_CSUM_FIELD : UDP_CSUM_FIELD));

	if (v->proto == IPPROTO_UDP && field == 0)
		return false;
	return pkt_l4_partial_ok(p->data, p->len);
}

int replies_fd = -1;
int flows_fd = -1;

void classify(enum kn_hook hook, const struct pkt *p, struct expect *e)
{
	memset(e, 0, sizeof(*e));
	oracle_parse(p, &e->v);
	e->reason = e->v.reason;
	if (e->reason == ICMP_CANDIDATE || e->reason == ICMP6_CANDIDATE)
		e->reason =
		    oracle_icmp_flow(hook, p, e->reason == ICMP6_CANDIDATE);
	if (e->reason != CANDIDATE)
		return;
	if (hook != KN_HOOK_TC_EGRESS) {
		e->svc = find_service(e->v.daddr, e->v.dport, e->v.proto);
		if (!e->svc)
			e->reason = KN_R_NOT_FOR_US;
		else if (hook == KN_HOOK_XDP_INGRESS && looks_partial(p, &e->v))
			e->reason = KN_R_PARTIAL_CSUM;
	} else {
		struct kn_flow_key key = {
		    .src.w[0] = htonl(e->v.saddr),
		    .dst.w[0] = htonl(e->v.daddr),
		    .sport = htons(e->v.sport),
		    .dport = htons(e->v.dport),
		    .proto = e->v.proto,
		    .family = KN_AF_INET,
		};

		/* A reply is what kn_replies holds: asked just before the
		 * run, in this one thread, so the answer is exact. */
		if (bpf_map_lookup_elem(replies_fd, &key, &e->reply)) {
			e->reason = KN_R_NOT_FOR_US;
			return;
		}
		e->svc = find_service(ntohl(e->reply.vip.w[0]),
				      ntohs(e->reply.vip_port), e->v.proto);
		e->bad_reply =
		    !e->svc || !is_backend_of(e->svc, e->v.saddr, e->v.sport);
	}
}

/* ---- judging outputs ---------------------------------------------------- */

bool unchanged(const struct pkt *in, const struct pkt *out)
{
	return in->len == out->len && !memcmp(in->data, out->data, in->len);
}

/*
 * A translation: only the address and port of one side and the two
 * checksums differ, and checksums that verified still verify. Returns NULL
 * or what is wrong; the new address and port go to *addr and *port.
 */
static const char *check_rewrite(const struct pkt *in, const struct pkt *out,
				 uint8_t proto, bool dst_side, uint32_t *addr,
				 uint16_t *port)
{
	uint32_t addr_off = dst_side ? IP_DADDR_OFF : IP_SADDR_OFF;
	uint32_t port_off = L4_OFF + (dst_side ? 2 : 0);
	uint32_t csum_off =
	    L4_OFF + (proto == IPPROTO_TCP ? TCP_CSUM_FIELD : UDP_CSUM_FIELD);
	struct pkt expected;

	if (out->len != in->len)
		return "the length changed";
	expected = *in;
	memcpy(expected.data + addr_off, out->data + addr_off, 4);
	memcpy(expected.data + port_off, out->data + port_off, 2);
	memcpy(expected.data + IP_CSUM_OFF, out->data + IP_CSUM_OFF, 2);
	memcpy(expected.data + csum_off, out->data + csum_off, 2);
	if (memcmp(expected.data, out->data, in->len))
		return "bytes other than the address, port and checksums "
		       "changed";
	*addr = get32(out->data + addr_off);
	*port = get16(out->data + port_off);
	if (pkt_ip_csum_ok(in->data, in->len) &&
	    !pkt_ip_csum_ok(out->data, out->len))
		return "the IPv4 checksum no longer verifies";
	if (proto == IPPROTO_UDP && get16(in->data + csum_off) == 0) {
		if (get16(out->data + csum_off) != 0)
			return "a UDP datagram without checksum got one";
	} else if (proto == IPPROTO_UDP && get16(out->data + csum_off) == 0) {
		/* A computed 0 goes out as 0xffff: 0 would mean "none". */
		return "a UDP checksum became 0, which means none";
	} else if (pkt_l4_csum_ok(in->data, in->len) &&
		   !pkt_l4_csum_ok(out->data, out->len)) {
		return "the TCP/UDP checksum no longer verifies";
	}
	return NULL;
}

const char *const outcome_names[O_COUNT] = {
    "translated",	  "translated-by-tc", "untouched",
    "left-to-tc",	  "drop-no-backend",  "drop-rewrite-failed",
    "not-run-by-harness", "FAILED",
};

const char *const mode_names[MODE_COUNT] = {
    "xdp",
    "xdp-mode pipeline",
    "tc ingress",
    "tc egress",
};

bool is_pass(enum kn_hook hook, __u32 verdict)
{
	return verdict ==
	       (hook == KN_HOOK_XDP_INGRESS ? XDP_PASS_VERDICT : TC_OK_VERDICT);
}

static bool is_drop(enum kn_hook hook, __u32 verdict)
{
	return verdict == (hook == KN_HOOK_XDP_INGRESS ? XDP_DROP_VERDICT
						       : TC_SHOT_VERDICT);
}

/*
 * Which documented reason a drop was counted under: exactly one of the
 * drop reasons of that hook must have grown by one since the last drop.
 */
enum outcome attribute_drop(enum kn_hook hook, const struct fz_service *svc,
			    const char **why)
{
	static const enum kn_reason drop_reasons[] = {
	    KN_R_NO_BACKEND, KN_R_REWRITE_FAILED, KN_R_CONFIG_RACE};
	struct kn_global_stats now[KN_HOOK_COUNT];
	uint64_t grown = 0;
	enum kn_reason which = KN_R_COUNT;
	size_t i;

	if (dp_read_global(fz.dp, now)) {
		*why = "cannot read the counters";
		return O_FAILED;
	}
	for (i = 0; i < sizeof(drop_reasons) / sizeof(drop_reasons[0]); i++) {
		uint64_t d = now[hook].reason[drop_reasons[i]] -
			     fz.last[hook].reason[drop_reasons[i]];

		grown += d;
		if (d)
			which = drop_reasons[i];
	}
	memcpy(fz.last, now, sizeof(now));
	if (grown != 1) {
		*why = "dropped without exactly one drop reason counted";
		return O_FAILED;
	}
	st.expected[hook][which]++;
	if (which == KN_R_NO_BACKEND) {
		if (backend_count(svc)) {
			*why = "dropped as 'no backend' by a service that has "
			       "backends";
			return O_FAILED;
		}
		return O_DROP_NO_BACKEND;
	}
	if (which == KN_R_REWRITE_FAILED)
		return O_DROP_REWRITE;
	*why = "dropped for a configuration race";
	return O_FAILED;
}

/*
 * An ICMP error the oracle expects translated: passed, its length kept,
 * changed, and the outer IPv4 and ICMP checksums that verified still
 * verify (the translation itself is checked field by field in
 * tests/bpf/prog_tests/icmp.c).
 */
static enum outcome judge_icmp(enum kn_hook hook, const struct pkt *in,
			       const struct pkt *out, __u32 verdict,
			       const char **why)
{
	if (!is_pass(hook, verdict))
		*why = "an ICMP error about a flow was not passed";
	else if (out->len != in->len)
		*why = "an ICMP error changed length";
	else if (unchanged(in, out))
		*why = "an ICMP error about a flow was not translated";
	else if (get16(in->data + ETH_TYPE_OFF) == ETH_P_IPV6) {
		if (pkt6_l4_csum_ok(in->data, in->len) &&
		    !pkt6_l4_csum_ok(out->data, out->len))
			*why = "the translated ICMPv6 error's checksum broke";
		else
			return O_TRANSLATED;
	} else if (pkt_ip_csum_ok(in->data, in->len) &&
		   !pkt_ip_csum_ok(out->data, out->len))
		*why = "the translated ICMP error's IPv4 checksum broke";
	else if (pkt_icmp_csum_ok(in->data, in->len) &&
		 !pkt_icmp_csum_ok(out->data, out->len))
		*why = "the translated ICMP error's checksum broke";
	else
		return O_TRANSLATED;
	return O_FAILED;
}

/* After a wrong drop, so that the next drop is attributed alone. */
static void resync_drops(void)
{
	dp_read_global(fz.dp, fz.last);
}

/*
 * Judges one ingress decision: e classifies in as the first program saw
 * it; out and verdict are the final ones; drop_hook is the program that
 * gave the verdict.
 */
enum outcome judge_ingress(const struct expect *e, const struct pkt *in,
			   const struct pkt *out, enum kn_hook drop_hook,
			   __u32 verdict, bool slow_path, const char **why)
{
	uint32_t addr;
	uint16_t port;

	if (e->reason == KN_R_ICMP_REWRITTEN)
		return judge_icmp(drop_hook, in, out, verdict, why);
	if (e->reason != CANDIDATE) {
		if (!is_pass(drop_hook, verdict)) {
			resync_drops();
			*why = e->reason == KN_R_PARTIAL_CSUM
				   ? "a packet left to tc was not passed"
				   : "a packet not for a service was not "
				     "passed";
			return O_FAILED;
		}
		if (!unchanged(in, out)) {
			*why = e->reason == KN_R_PARTIAL_CSUM
				   ? "XDP changed a packet it must leave "
				     "to tc"
				   : "a packet not for a service was "
				     "changed";
			return O_FAILED;
		}
		return e->reason == KN_R_PARTIAL_CSUM ? O_LEFT_TO_TC
						      : O_UNTOUCHED;
	}
	if (is_drop(drop_hook, verdict))
		return attribute_drop(drop_hook, e->svc, why);
	if (!is_pass(drop_hook, verdict)) {
		*why = "a verdict other than pass or drop";
		return O_FAILED;
	}
	if (unchanged(in, out)) {
		*why = "a well-formed packet for a service passed "
		       "untranslated";
		return O_FAILED;
	}
	*why = check_rewrite(in, out, e->v.proto, true, &addr, &port);
	if (*why)
		return O_FAILED;
	if (!is_backend_of(e->svc, addr, port)) {
		*why = "the new destination is not a backend of the service";
		return O_FAILED;
	}
	return slow_path ? O_TRANSLATED_SLOW : O_TRANSLATED;
}

enum outcome judge_egress(const struct expect *e, const struct pkt *in,
			  const struct pkt *out, __u32 verdict,
			  const char **why)
{
	uint32_t addr;
	uint16_t port;

	if (e->reason == KN_R_ICMP_REWRITTEN)
		return judge_icmp(KN_HOOK_TC_EGRESS, in, out, verdict, why);
	if (e->reason != CANDIDATE) {
		if (!is_pass(KN_HOOK_TC_EGRESS, verdict)) {
			resync_drops();
			*why = "a packet of no reply flow was not passed";
			return O_FAILED;
		}
		if (!unchanged(in, out)) {
			*why = "a packet of no reply flow was changed";
			return O_FAILED;
		}
		return O_UNTOUCHED;
	}
	if (e->bad_reply) {
		*why = "kn_replies holds a flow of no service, or from no "
		       "backend of it";
		return O_FAILED;
	}
	if (is_drop(KN_HOOK_TC_EGRESS, verdict))
		return attribute_drop(KN_HOOK_TC_EGRESS, e->svc, why);
	if (!is_pass(KN_HOOK_TC_EGRESS, verdict)) {
		*why = "a verdict other than pass or drop";
		return O_FAILED;
	}
	*why = check_rewrite(in, out, e->v.proto, false, &addr, &port);
	if (*why)
		return O_FAILED;
	if (addr != e->svc->vip.addr || port != e->svc->vip.port) {
		*why = "the new source is not the service's VIP:port";
		return O_FAILED;
	}
	return O_TRANSLATED;
}
