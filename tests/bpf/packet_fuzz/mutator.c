// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * mutator.c - mutations that make a packet odd or broken, IPv4 or IPv6
 *
 * A part of the packet fuzzer (tests/bpf/test_packet_fuzz.c); what the
 * parts share is in fuzz.h.
 */
#include "fuzz.h"

const char *const mutation_names[M_COUNT] = {
    "truncate",	 "pad",	       "bit-flips",  "random-byte",  "ip-tot-len",
    "ip-ihl",	 "ip-options", "ip-version", "ip-frag",	     "ip-proto",
    "ethertype", "tcp-doff",   "tcp-flags",  "udp-len",	     "saddr",
    "daddr",	 "sport",      "dport",	     "csum-partial", "csum-broken",
};

static uint8_t l4_proto(const struct pkt *p)
{
	uint32_t off, proto_at;
	uint8_t proto;

	return frame_l4(p, &off, &proto, &proto_at) ? proto : 0;
}

static uint8_t *l4_at(struct pkt *p, uint32_t need)
{
	uint32_t off, proto_at;
	uint8_t proto;

	if (!frame_l4(p, &off, &proto, &proto_at))
		return NULL;
	return off + need <= p->len ? p->data + off : NULL;
}

/* The IPv6 twins of the IPv4 header mutations (see mutate_one). */
static void mutate_ipv6(struct pkt *p, enum mutation m)
{
	static const uint8_t walked[] = {NEXTHDR_HOP, NEXTHDR_DEST,
					 NEXTHDR_ROUTING};
	uint32_t off, proto_at, i, n;
	uint8_t proto;

	switch (m) {
	case M_TOT_LEN:
		put16(p->data + IP6_PLEN_OFF,
		      (uint16_t)(chance(20) ? 0
					    : get16(p->data + IP6_PLEN_OFF) +
						  (chance(50) ? 8 : -8)));
		break;
	case M_IHL: /* an extension header's length */
		if (p->data[IP6_NEXT_OFF] == IPPROTO_TCP ||
		    p->data[IP6_NEXT_OFF] == IPPROTO_UDP)
			insert_ext(p, walked[rnd_below(sizeof(walked))],
				   IP6_EXT_UNIT, 0);
		if (p->len > IP_OFF + IPV6_HLEN + 1)
			p->data[IP_OFF + IPV6_HLEN + 1] =
			    chance(50) ? (uint8_t)rnd_below(4) : (uint8_t)rnd();
		break;
	case M_IP_OPTIONS: /* more headers, maybe more than are walked */
		n = 1 + rnd_below(IP6_EXT_WALKED_MAX);
		for (i = 0; i < n; i++)
			insert_ext(p, walked[rnd_below(sizeof(walked))],
				   IP6_EXT_UNIT * (1 + rnd_below(2)),
				   chance(20) ? (uint8_t)(1 + rnd_below(4))
					      : 0);
		break;
	case M_FRAG:
		insert_ext(p, NEXTHDR_FRAGMENT, IP6_EXT_UNIT, 0);
		break;
	case M_PROTO:
		if (frame_l4(p, &off, &proto, &proto_at))
			p->data[proto_at] =
			    chance(60) ? (proto == IPPROTO_TCP ? IPPROTO_UDP
							       : IPPROTO_TCP)
				       : (uint8_t)rnd();
		break;
	case M_SADDR:
	case M_DADDR:
		put_addr(p, m == M_DADDR, random_addr());
		/* Now and then the same number in another prefix: all 16
		 * bytes must match, not the last 4. */
		if (chance(20))
			p->data[addr_off(p, m == M_DADDR) + rnd_below(12)] ^=
			    (uint8_t)(1 + rnd_below(255));
		break;
	default:
		break;
	}
}

static uint16_t odd_length(uint16_t actual)
{
	switch (rnd_below(5)) {
	case 0:
		return (uint16_t)rnd_below(IPV4_MIN_HLEN + 1);
	case 1:
		return (uint16_t)(actual + 1 + rnd_below(8));
	case 2:
		return (uint16_t)(actual - 1 - rnd_below(8));
	case 3:
		return 0xffff;
	default:
		return (uint16_t)rnd();
	}
}

static void mutate_ipv4(struct pkt *p, enum mutation m);
static void mutate_l4(struct pkt *p, enum mutation m);

static void mutate_one(struct pkt *p, enum mutation m)
{
	uint32_t i, n;

	switch (m) {
	case M_TRUNCATE:
		if (p->len > ETH_HLEN)
			p->len = ETH_HLEN + rnd_below(p->len - ETH_HLEN);
		break;
	case M_PAD: /* Ethernet padding: bytes past the IP total length */
		n = 1 + rnd_below(64);
		if (p->len + n <= PKT_MAX_LEN) {
			rnd_bytes(p->data + p->len, n);
			p->len += n;
		}
		break;
	case M_BIT_FLIPS:
		n = 1 + rnd_below(8);
		for (i = 0; i < n; i++) {
			/* Mostly in the headers, where meaning is. */
			uint32_t span = chance(80) && p->len > 64 ? 64 : p->len;
			uint32_t bit = rnd_below(span * 8);

			p->data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		break;
	case M_RANDOM_BYTE:
		p->data[rnd_below(p->len)] = (uint8_t)rnd();
		break;
	case M_TOT_LEN:
	case M_IHL:
	case M_IP_OPTIONS:
	case M_FRAG:
	case M_PROTO:
	case M_SADDR:
	case M_DADDR:
		if (is_ipv6_frame(p)) {
			mutate_ipv6(p, m);
			break;
		}
		mutate_ipv4(p, m);
		break;
	case M_VERSION:
		if (is_ipv4_frame(p) || is_ipv6_frame(p))
			p->data[IP_OFF] = (uint8_t)((rnd_below(16) << 4) |
						    (p->data[IP_OFF] & 0xf));
		break;
	case M_COUNT:
		break;
	default:
		mutate_l4(p, m);
		break;
	}
}

/* The IPv4 header's mutations. */
static void mutate_ipv4(struct pkt *p, enum mutation m)
{
	uint32_t n;

	switch (m) {
	case M_TOT_LEN:
		if (is_ipv4_frame(p))
			put16(p->data + IP_TOT_LEN_OFF,
			      odd_length(get16(p->data + IP_TOT_LEN_OFF)));
		break;
	case M_IHL:
		if (is_ipv4_frame(p))
			p->data[IP_OFF] =
			    (uint8_t)((p->data[IP_OFF] & 0xf0) | rnd_below(16));
		break;
	case M_IP_OPTIONS:
		n = 4 * (1 + rnd_below(10));
		if (is_ipv4_frame(p) && ip_hlen(p) == IPV4_MIN_HLEN &&
		    p->len + n <= PKT_MAX_LEN) {
			uint8_t *opt = p->data + L4_OFF;

			memmove(opt + n, opt, p->len - L4_OFF);
			if (chance(50)) {
				memset(opt, 1, n); /* NOPs */
				opt[n - 1] = 0;	   /* end of list */
			} else {
				rnd_bytes(opt, n);
			}
			p->data[IP_OFF] = (uint8_t)(0x40 | (5 + n / 4));
			put16(p->data + IP_TOT_LEN_OFF,
			      (uint16_t)(get16(p->data + IP_TOT_LEN_OFF) + n));
			p->len += n;
		}
		break;
	case M_FRAG:
		if (is_ipv4_frame(p))
			put16(p->data + IP_FRAG_OFF, (uint16_t)rnd());
		break;
	case M_PROTO:
		if (is_ipv4_frame(p))
			p->data[IP_PROTO_OFF] =
			    chance(60)
				? (l4_proto(p) == IPPROTO_TCP ? IPPROTO_UDP
							      : IPPROTO_TCP)
				: (uint8_t)rnd();
		break;
	case M_SADDR:
	case M_DADDR:
		if (is_ipv4_frame(p))
			put32(p->data +
				  (m == M_SADDR ? IP_SADDR_OFF : IP_DADDR_OFF),
			      random_addr());
		break;
	default:
		break;
	}
}

/* The mutations of other layers, of either family. */
static void mutate_l4(struct pkt *p, enum mutation m)
{
	uint8_t *l4;

	switch (m) {
	case M_ETHERTYPE:
		if (p->len >= ETH_HLEN)
			put16(p->data + ETH_TYPE_OFF,
			      chance(50) ? ETH_P_8021Q : (uint16_t)rnd());
		break;
	case M_TCP_DOFF:
		l4 = l4_at(p, TCP_MIN_HLEN);
		if (l4 && l4_proto(p) == IPPROTO_TCP)
			l4[TCP_DOFF_BYTE] =
			    (uint8_t)((rnd_below(16) << 4) |
				      (l4[TCP_DOFF_BYTE] & 0xf));
		break;
	case M_TCP_FLAGS: {
		/* Odd combinations: SYN+FIN, SYN+RST, none, all, ... */
		static const uint8_t odd[] = {TCPF_SYN | TCPF_FIN,
					      TCPF_SYN | TCPF_RST,
					      0,
					      0xff,
					      TCPF_SYN | TCPF_ACK | TCPF_RST,
					      TCPF_URG,
					      TCPF_FIN | TCPF_RST | TCPF_PSH,
					      TCPF_SYN | TCPF_URG};

		l4 = l4_at(p, TCP_MIN_HLEN);
		if (l4 && l4_proto(p) == IPPROTO_TCP)
			l4[TCP_FLAGS_BYTE] = chance(50)
						 ? odd[rnd_below(sizeof(odd))]
						 : (uint8_t)rnd();
		break;
	}
	case M_UDP_LEN:
		l4 = l4_at(p, UDP_HLEN);
		if (l4 && l4_proto(p) == IPPROTO_UDP)
			put16(l4 + UDP_LEN_FIELD,
			      odd_length(get16(l4 + UDP_LEN_FIELD)));
		break;
	case M_SPORT:
	case M_DPORT:
		l4 = l4_at(p, UDP_HLEN);
		if (l4)
			put16(l4 + (m == M_SPORT ? 0 : 2), random_port());
		break;
	case M_CSUM_PARTIAL:
		fix_l4_csum(p, true);
		break;
	case M_CSUM_BROKEN:
		l4 = l4_at(p, TCP_MIN_HLEN);
		if (is_ipv4_frame(p) && (chance(50) || !l4))
			p->data[IP_CSUM_OFF] ^= (uint8_t)(1 + rnd_below(255));
		else if (l4)
			l4[l4_proto(p) == IPPROTO_TCP ? TCP_CSUM_FIELD
						      : UDP_CSUM_FIELD] ^=
			    (uint8_t)(1 + rnd_below(255));
		break;
	default:
		break;
	}
}

#define MUTATE_CLEAN_PERCENT	  25
#define MUTATE_RECHECKSUM_PERCENT 50

uint64_t mutation_counts[M_COUNT];
uint64_t rechecksummed;

/* Returns a mask of the mutations applied (0: the packet stays valid). */
uint32_t mutate(struct pkt *p)
{
	uint32_t mask = 0, n, i;

	if (chance(MUTATE_CLEAN_PERCENT))
		return 0;
	n = 1 + rnd_below(MAX_MUTATIONS);
	for (i = 0; i < n; i++) {
		enum mutation m = (enum mutation)rnd_below(M_COUNT);

		mutate_one(p, m);
		mask |= 1u << m;
		mutation_counts[m]++;
	}
	/* Half the mutated packets get valid checksums again, so that odd
	 * but well-checksummed packets test (c) too. */
	if (!(mask & (1u << M_CSUM_BROKEN)) &&
	    chance(MUTATE_RECHECKSUM_PERCENT)) {
		fix_checksums(p, (mask & (1u << M_CSUM_PARTIAL)) != 0);
		rechecksummed++;
	}
	return mask;
}
