// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * frame.c - reading and writing a frame's fields; its checksums
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

bool is_ipv4_frame(const struct pkt *p)
{
	return p->len >= IP_OFF + IPV4_MIN_HLEN &&
	       get16(p->data + ETH_TYPE_OFF) == ETH_P_IP;
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
	const struct iphdr *ip = pkt_ip(p);
	uint32_t hlen = ip_hlen(p), tot, l4_len, csum_at;
	uint8_t *l4;
	uint16_t check;

	if (!is_ipv4_frame(p) || hlen < IPV4_MIN_HLEN)
		return;
	tot = get16(p->data + IP_TOT_LEN_OFF);
	if (tot < hlen || IP_OFF + tot > p->len)
		return;
	l4_len = tot - hlen;
	l4 = p->data + IP_OFF + hlen;
	if (ip->protocol == IPPROTO_TCP && l4_len >= TCP_MIN_HLEN)
		csum_at = TCP_CSUM_FIELD;
	else if (ip->protocol == IPPROTO_UDP && l4_len >= UDP_HLEN)
		csum_at = UDP_CSUM_FIELD;
	else
		return;
	put16(l4 + csum_at, 0);
	if (partial)
		check = csum_fold_host(csum_pseudo(ip, l4_len));
	else
		check = (uint16_t)~csum_fold_host(
		    csum_add_bytes(csum_pseudo(ip, l4_len), l4, l4_len));
	if (ip->protocol == IPPROTO_UDP && !partial && check == 0)
		check = 0xffff;
	put16(l4 + csum_at, check);
}

void fix_checksums(struct pkt *p, bool partial)
{
	fix_ip_csum(p);
	fix_l4_csum(p, partial);
}
