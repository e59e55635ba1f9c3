// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * frame.c - reading and writing a frame's fields, IPv4 or IPv6; its
 * checksums
 *
 * A part of the packet fuzzer (tests/bpf/test_packet_fuzz.c); what the
 * parts share is in fuzz.h.
 */
#include "fuzz.h"

uint16_t get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

uint32_t get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	       ((uint32_t)p[2] << 8) | p[3];
}

void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

int fz_family = AF_INET;

bool is_ipv4_frame(const struct pkt *p)
{
	return p->len >= IP_OFF + IPV4_MIN_HLEN &&
	       get16(p->data + ETH_TYPE_OFF) == ETH_P_IP;
}

bool is_ipv6_frame(const struct pkt *p)
{
	return p->len >= IP_OFF + IPV6_HLEN &&
	       get16(p->data + ETH_TYPE_OFF) == ETH_P_IPV6;
}

static bool ext_walked(uint8_t next)
{
	return next == NEXTHDR_HOP || next == NEXTHDR_ROUTING ||
	       next == NEXTHDR_DEST;
}

bool frame_l4(const struct pkt *p, uint32_t *off, uint8_t *proto,
	      uint32_t *proto_at)
{
	if (is_ipv4_frame(p)) {
		if (ip_hlen(p) < IPV4_MIN_HLEN)
			return false;
		*off = IP_OFF + ip_hlen(p);
		*proto = p->data[IP_PROTO_OFF];
		*proto_at = IP_PROTO_OFF;
		return true;
	}
	if (!is_ipv6_frame(p))
		return false;
	*off = IP_OFF + IPV6_HLEN;
	*proto_at = IP6_NEXT_OFF;
	*proto = p->data[IP6_NEXT_OFF];
	while (ext_walked(*proto) && *off + IP6_EXT_UNIT <= p->len) {
		*proto_at = *off;
		*proto = p->data[*off];
		*off += (p->data[*off + 1] + 1u) * IP6_EXT_UNIT;
	}
	return true;
}

uint32_t addr_off(const struct pkt *p, bool dst)
{
	if (is_ipv6_frame(p))
		return dst ? IP6_DADDR_OFF : IP6_SADDR_OFF;
	return dst ? IP_DADDR_OFF : IP_SADDR_OFF;
}

uint32_t addr_len(const struct pkt *p)
{
	return is_ipv6_frame(p) ? IP6_ADDR_LEN : 4;
}

uint32_t get_addr(const struct pkt *p, bool dst)
{
	struct in6_addr a;

	if (!is_ipv6_frame(p))
		return get32(p->data + addr_off(p, dst));
	memcpy(&a, p->data + addr_off(p, dst), sizeof(a));
	return pkt6_host(&a);
}

void put_addr(struct pkt *p, bool dst, uint32_t number)
{
	struct in6_addr a;

	if (!is_ipv6_frame(p)) {
		put32(p->data + addr_off(p, dst), number);
		return;
	}
	pkt6_addr(number, &a);
	memcpy(p->data + addr_off(p, dst), &a, sizeof(a));
}

bool insert_ext(struct pkt *p, uint8_t type, uint32_t len,
		uint8_t segments_left)
{
	const struct pkt6_ext h = {type, (uint8_t)len, segments_left};

	return is_ipv6_frame(p) && len <= UINT8_MAX && pkt6_insert_ext(p, &h);
}

bool l4_sum(const struct pkt *p, uint16_t *sum, uint32_t *csum_off)
{
	uint32_t off, proto_at, end, l4_len, pseudo;
	uint8_t proto;
	struct pkt copy;

	if (!frame_l4(p, &off, &proto, &proto_at))
		return false;
	end = is_ipv6_frame(p)
		  ? IP_OFF + IPV6_HLEN + get16(p->data + IP6_PLEN_OFF)
		  : IP_OFF + get16(p->data + IP_TOT_LEN_OFF);
	if (end > p->len || off > end)
		return false;
	l4_len = end - off;
	if (proto == IPPROTO_TCP && l4_len >= TCP_MIN_HLEN)
		*csum_off = off + TCP_CSUM_FIELD;
	else if (proto == IPPROTO_UDP && l4_len >= UDP_HLEN)
		*csum_off = off + UDP_CSUM_FIELD;
	else
		return false;
	copy = *p;
	put16(copy.data + *csum_off, 0);
	pseudo = is_ipv6_frame(p)
		     ? csum_pseudo6((const void *)(copy.data + IP_OFF), proto,
				    l4_len)
		     : csum_pseudo(pkt_ip(&copy), l4_len);
	*sum = csum_fold_host(csum_add_bytes(pseudo, copy.data + off, l4_len));
	return true;
}

uint32_t ip_hlen(const struct pkt *p)
{
	return (p->data[IP_OFF] & 0xf) * 4u;
}

void fix_ip_csum(struct pkt *p)
{
	uint32_t hlen = ip_hlen(p);

	if (!is_ipv4_frame(p) || hlen < IPV4_MIN_HLEN || IP_OFF + hlen > p->len)
		return;
	put16(p->data + IP_CSUM_OFF, 0);
	put16(p->data + IP_CSUM_OFF, (uint16_t)~csum_fold_host(csum_add_bytes(
					 0, p->data + IP_OFF, hlen)));
}

/*
 * Recomputes the TCP/UDP checksum when the headers say where it is: the
 * full checksum, or the pseudo-header sum an offloading sender leaves.
 */
void fix_l4_csum(struct pkt *p, bool partial)
{
	uint32_t off, proto_at, csum_off, end, l4_len, pseudo;
	uint16_t sum, check;
	uint8_t proto;

	if (!l4_sum(p, &sum, &csum_off) ||
	    !frame_l4(p, &off, &proto, &proto_at))
		return;
	if (!partial) {
		check = (uint16_t)~sum;
		if (proto == IPPROTO_UDP && check == 0)
			check = 0xffff;
		put16(p->data + csum_off, check);
		return;
	}
	end = is_ipv6_frame(p)
		  ? IP_OFF + IPV6_HLEN + get16(p->data + IP6_PLEN_OFF)
		  : IP_OFF + get16(p->data + IP_TOT_LEN_OFF);
	l4_len = end - off;
	pseudo =
	    is_ipv6_frame(p)
		? csum_pseudo6((const void *)(p->data + IP_OFF), proto, l4_len)
		: csum_pseudo(pkt_ip(p), l4_len);
	put16(p->data + csum_off, csum_fold_host(pseudo));
}

void fix_checksums(struct pkt *p, bool partial)
{
	fix_ip_csum(p);
	fix_l4_csum(p, partial);
}
