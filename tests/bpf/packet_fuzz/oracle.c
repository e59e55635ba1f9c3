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

/* ICMP and ICMPv6 error types (RFC 792, RFC 4443) that quote a packet. */
#define ICMP_HDR_LEN	8
#define ICMP_T_UNREACH	3
#define ICMP_T_TIME	11
#define ICMP_T_PARAM	12
#define ICMP6_T_UNREACH 1
#define ICMP6_T_PARAM	4 /* 1..4: unreachable ... parameter problem */
/* Where a quoted IPv4 header's fields sit, from the quote's start. */
#define Q4_TOT_LEN 2
#define Q4_FRAG	   6
#define Q4_PROTO   9
#define Q4_SADDR   12
#define Q4_DADDR   16
/* The same for a quoted IPv6 header. */
#define Q6_PLEN	 4
#define Q6_NEXT	 6
#define Q6_SADDR 8
#define Q6_DADDR 24

static bool is_icmp_error(bool v6, uint8_t type)
{
	if (v6)
		return type >= ICMP6_T_UNREACH && type <= ICMP6_T_PARAM;
	return type == ICMP_T_UNREACH || type == ICMP_T_TIME ||
	       type == ICMP_T_PARAM;
}

/*
 * The documented ICMP rules (bpf/kanary_icmp.h), written again from the
 * text, for an ICMP or ICMPv6 message of l4_len bytes at v->l4_off (IPv6:
 * past the walked extension headers): not an error (or no type byte)
 * counts as not TCP/UDP; an error shorter than its header, the quoted IP
 * header and 8 bytes, or quoting a broken IP header, is malformed; one
 * quoting IPv4 options, a later fragment, another protocol (IPv6: an
 * extension header too), or not sent to the quoted packet's sender,
 * passes; the rest depends on the maps (ICMP_CANDIDATE).
 */
static uint32_t oracle_icmp(const struct pkt *p, const struct view *v,
			    uint32_t l4_len)
{
	const uint8_t *f = p->data;
	bool v6 = v->family == AF_INET6;
	uint32_t q = v->l4_off + ICMP_HDR_LEN;
	uint32_t q_hlen = v6 ? IPV6_HLEN : IPV4_MIN_HLEN;
	uint8_t vihl, qproto;

	if (l4_len < 1 || !is_icmp_error(v6, f[v->l4_off]))
		return KN_R_NOT_TCP_UDP;
	if (l4_len < ICMP_HDR_LEN + q_hlen + ICMP_QUOTED_L4_LEN)
		return KN_R_ICMP_MALFORMED;
	vihl = f[q];
	if (v6) {
		if ((vihl >> 4) != 6 ||
		    get16(f + q + Q6_PLEN) < ICMP_QUOTED_L4_LEN)
			return KN_R_ICMP_MALFORMED;
		qproto = f[q + Q6_NEXT];
	} else {
		if ((vihl >> 4) != 4 || (vihl & 0xf) < 5 ||
		    get16(f + q + Q4_TOT_LEN) < ICMP_QUOTE_MIN_LEN)
			return KN_R_ICMP_MALFORMED;
		qproto = f[q + Q4_PROTO];
		if ((vihl & 0xf) != 5 ||
		    (get16(f + q + Q4_FRAG) & IP_OFFSET_MASK))
			return KN_R_ICMP_PASSED;
	}
	if (qproto != IPPROTO_TCP && qproto != IPPROTO_UDP)
		return KN_R_ICMP_PASSED;
	if (memcmp(f + addr_off(p, true), f + q + (v6 ? Q6_SADDR : Q4_SADDR),
		   addr_len(p)))
		return KN_R_ICMP_PASSED;
	return ICMP_CANDIDATE;
}

/* The flow an ICMP_CANDIDATE quotes, turned around, is in kn_flows
 * (ingress) or kn_replies (egress): then it is translated. */
static uint32_t oracle_icmp_flow(enum kn_hook hook, const struct pkt *p,
				 const struct view *v)
{
	const uint8_t *f = p->data;
	bool v6 = v->family == AF_INET6;
	uint32_t q = v->l4_off + ICMP_HDR_LEN;
	uint32_t q_l4 = q + (v6 ? IPV6_HLEN : IPV4_MIN_HLEN);
	struct kn_flow_key key = {
	    .sport = htons(get16(f + q_l4 + 2)),
	    .dport = htons(get16(f + q_l4)),
	    .proto = f[q + (v6 ? Q6_NEXT : Q4_PROTO)],
	    .family = v6 ? KN_AF_INET6 : KN_AF_INET,
	};
	struct kn_reply reply;
	struct kn_flow flow;
	int err;

	/* The key holds the quote's own address bytes, all of them. */
	memcpy(key.src.w, f + q + (v6 ? Q6_DADDR : Q4_DADDR), addr_len(p));
	memcpy(key.dst.w, f + q + (v6 ? Q6_SADDR : Q4_SADDR), addr_len(p));
	err = hook == KN_HOOK_TC_EGRESS
		  ? bpf_map_lookup_elem(replies_fd, &key, &reply)
		  : bpf_map_lookup_elem(flows_fd, &key, &flow);

	return err ? KN_R_ICMP_PASSED : KN_R_ICMP_REWRITTEN;
}

/*
 * The documented parse rules (bpf/kanary_parse.h), written again from the
 * text: Ethernet + IPv4 without options (or IPv6, above), not a fragment, a
 * total length within the frame, TCP with a data offset within the total
 * length or UDP with a length within it. The first rule broken names the
 * reason.
 */
/* The TCP or UDP header at v->l4_off, l4_len bytes to the end of the IP
 * payload, of either family. */
static void oracle_l4(const struct pkt *p, struct view *v, uint32_t l4_len)
{
	const uint8_t *f = p->data;
	uint32_t off = v->l4_off, doff, ulen;

	if (v->proto == IPPROTO_TCP) {
		if (p->len < off + TCP_MIN_HLEN)
			return;
		doff = (f[off + TCP_DOFF_BYTE] >> 4) * 4u;
		if (doff < TCP_MIN_HLEN || doff > l4_len)
			return;
	} else if (v->proto == IPPROTO_UDP) {
		if (p->len < off + UDP_HLEN)
			return;
		ulen = get16(f + off + UDP_LEN_FIELD);
		if (ulen < UDP_HLEN || ulen > l4_len)
			return;
		/* IPv6 has no "no checksum": such a datagram is malformed. */
		if (v->family == AF_INET6 &&
		    get16(f + off + UDP_CSUM_FIELD) == 0)
			return;
	} else if (v->proto ==
		   (v->family == AF_INET6 ? NEXTHDR_ICMP6 : IPPROTO_ICMP)) {
		v->reason = oracle_icmp(p, v, l4_len);
		return;
	} else {
		v->reason = KN_R_NOT_TCP_UDP;
		return;
	}
	v->sport = get16(f + off);
	v->dport = get16(f + off + 2);
	v->reason = CANDIDATE;
}

/* The upper layers the IPv6 walk stops at: TCP and UDP for steering,
 * ICMPv6 for the ICMP rules. */
static bool ipv6_upper(uint8_t next)
{
	return next == IPPROTO_TCP || next == IPPROTO_UDP ||
	       next == NEXTHDR_ICMP6;
}

/* Why the IPv6 walk stops at next, when next is not TCP or UDP. */
static uint32_t ipv6_stop_reason(uint8_t next)
{
	if (next == NEXTHDR_FRAGMENT)
		return KN_R_FRAGMENT;
	if (next == NEXTHDR_HOP || next == NEXTHDR_ROUTING ||
	    next == NEXTHDR_DEST)
		return KN_R_IP_OPTIONS;
	return KN_R_NOT_TCP_UDP;
}

/*
 * The documented IPv6 rules (bpf/kanary_parse.h): version 6, a payload
 * length within the frame, at most IP6_EXT_WALKED_MAX hop-by-hop, routing
 * (no segments left) and destination-options headers, each whole in the
 * frame and within the payload, then TCP or UDP (or ICMPv6, for the ICMP
 * rules above).
 */
static void oracle_parse6(const struct pkt *p, struct view *v)
{
	const uint8_t *f = p->data;
	uint32_t end, off = IP_OFF + IPV6_HLEN, i;
	uint8_t next;

	if (p->len < IP_OFF + IPV6_HLEN || (f[IP_OFF] >> 4) != 6)
		return;
	end = IP_OFF + IPV6_HLEN + get16(f + IP6_PLEN_OFF);
	if (end > p->len)
		return;
	next = f[IP6_NEXT_OFF];
	for (i = 0; i < IP6_EXT_WALKED_MAX; i++) {
		if (ipv6_upper(next))
			break;
		if (next != NEXTHDR_HOP && next != NEXTHDR_ROUTING &&
		    next != NEXTHDR_DEST) {
			v->reason = ipv6_stop_reason(next);
			return;
		}
		if (off + IP6_EXT_UNIT > p->len)
			return;
		if (next == NEXTHDR_ROUTING &&
		    f[off + IP6_RT_SEG_LEFT_OFF] != 0) {
			v->reason = KN_R_IP_OPTIONS;
			return;
		}
		next = f[off];
		off += (f[off + 1] + 1u) * IP6_EXT_UNIT;
		if (off > end)
			return;
	}
	if (!ipv6_upper(next)) {
		v->reason = ipv6_stop_reason(next);
		return;
	}
	v->family = AF_INET6;
	v->proto = next;
	v->saddr = get_addr(p, false);
	v->daddr = get_addr(p, true);
	v->l4_off = off;
	oracle_l4(p, v, end - off);
}

static void oracle_parse(const struct pkt *p, struct view *v)
{
	const uint8_t *f = p->data;
	uint32_t tot;

	memset(v, 0, sizeof(*v));
	v->reason = KN_R_MALFORMED;
	if (p->len < ETH_HLEN)
		return;
	if (get16(f + ETH_TYPE_OFF) == ETH_P_IPV6) {
		oracle_parse6(p, v);
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
	v->family = AF_INET;
	v->proto = f[IP_PROTO_OFF];
	v->saddr = get32(f + IP_SADDR_OFF);
	v->daddr = get32(f + IP_DADDR_OFF);
	v->l4_off = L4_OFF;
	oracle_l4(p, v, tot - IPV4_MIN_HLEN);
}

/* XDP leaves to tc a packet whose checksum field holds the pseudo-header
 * sum (what CHECKSUM_PARTIAL leaves); UDP's 0 means "no checksum". */
static bool looks_partial(const struct pkt *p, const struct view *v)
{
	uint16_t field =
	    get16(p->data + v->l4_off +
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
	if (e->reason == ICMP_CANDIDATE)
		e->reason = oracle_icmp_flow(hook, p, &e->v);
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
		    .sport = htons(e->v.sport),
		    .dport = htons(e->v.dport),
		    .proto = e->v.proto,
		    .family =
			e->v.family == AF_INET6 ? KN_AF_INET6 : KN_AF_INET,
		};
		struct in6_addr vip6;

		/* The key holds the frame's own address bytes, all of them. */
		memcpy(key.src.w, p->data + addr_off(p, false), addr_len(p));
		memcpy(key.dst.w, p->data + addr_off(p, true), addr_len(p));
		/* A reply is what kn_replies holds: asked just before the
		 * run, in this one thread, so the answer is exact. */
		if (bpf_map_lookup_elem(replies_fd, &key, &e->reply)) {
			e->reason = KN_R_NOT_FOR_US;
			return;
		}
		memcpy(&vip6, e->reply.vip.w, sizeof(vip6));
		e->svc = find_service(e->v.family == AF_INET6
					  ? pkt6_host(&vip6)
					  : ntohl(e->reply.vip.w[0]),
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
				 const struct view *v, bool dst_side,
				 uint32_t *addr, uint16_t *port)
{
	uint8_t proto = v->proto;
	uint32_t a_off = addr_off(in, dst_side), a_len = addr_len(in);
	uint32_t port_off = v->l4_off + (dst_side ? 2 : 0);
	uint32_t csum_off = v->l4_off + (proto == IPPROTO_TCP ? TCP_CSUM_FIELD
							      : UDP_CSUM_FIELD);
	struct pkt expected;

	if (out->len != in->len)
		return "the length changed";
	expected = *in;
	memcpy(expected.data + a_off, out->data + a_off, a_len);
	memcpy(expected.data + port_off, out->data + port_off, 2);
	if (v->family == AF_INET)
		memcpy(expected.data + IP_CSUM_OFF, out->data + IP_CSUM_OFF, 2);
	memcpy(expected.data + csum_off, out->data + csum_off, 2);
	if (memcmp(expected.data, out->data, in->len))
		return "bytes other than the address, port and checksums "
		       "changed";
	*addr = get_addr(out, dst_side);
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
 * An ICMP or ICMPv6 error the oracle expects translated: passed, its
 * length kept, changed, and the outer IPv4 and ICMP(v6) checksums that
 * verified still verify (the translation itself is checked field by field
 * in tests/bpf/prog_tests/icmp.c and icmp6.c).
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
	else if (pkt_ip_csum_ok(in->data, in->len) &&
		 !pkt_ip_csum_ok(out->data, out->len))
		*why = "the translated ICMP error's IPv4 checksum broke";
	else if (pkt_icmp_csum_ok(in->data, in->len) &&
		 !pkt_icmp_csum_ok(out->data, out->len))
		*why = "the translated ICMP(v6) error's checksum broke";
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
	*why = check_rewrite(in, out, &e->v, true, &addr, &port);
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
	*why = check_rewrite(in, out, &e->v, false, &addr, &port);
	if (*why)
		return O_FAILED;
	if (addr != e->svc->vip.addr || port != e->svc->vip.port) {
		*why = "the new source is not the service's VIP:port";
		return O_FAILED;
	}
	return O_TRANSLATED;
}
