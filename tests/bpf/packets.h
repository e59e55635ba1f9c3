/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * packets.h - building IPv4 and IPv6 TCP/UDP frames and the ICMP and
 * ICMPv6 errors quoting them field by field, and verifying their checksums
 * from scratch (RFC 1071), independently of the data path's incremental
 * updates. Shared by the BPF tests, the fuzzer and the benches.
 *
 * Addresses are 32-bit host-order numbers in both families: an IPv6 frame
 * carries 2001:2::/96 + that number (PKT6_PREFIX), so one test addresses
 * a host of either family by the same name.
 */
#ifndef KANARY_TEST_PACKETS_H
#define KANARY_TEST_PACKETS_H

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define PKT_MAX_LEN 2048

#define PKT_ICMP_HDR_LEN  8
#define PKT_ICMP_CSUM_OFF 2
#define PKT_ICMPV6_PROTO  58

/* The frame starts 2 bytes into a 4-byte aligned struct, so that the IP
 * header after the 14-byte Ethernet header is aligned (NET_IP_ALIGN). */
struct pkt {
	uint8_t align_pad[2];
	uint8_t data[PKT_MAX_LEN];
	uint32_t len;
} __attribute__((aligned(4)));

struct pkt_spec {
	uint32_t saddr, daddr; /* host order; IPv6: PKT6_PREFIX + this */
	uint8_t family;	       /* 0 or AF_INET: IPv4; AF_INET6: IPv6 */
	uint16_t sport, dport; /* host order */
	uint8_t proto;	       /* IPPROTO_TCP / IPPROTO_UDP */
	uint8_t tcp_flags;     /* TH_SYN... (raw byte 13) */
	const void *payload;
	uint32_t payload_len;
	/* Leave the L4 checksum as a CHECKSUM_PARTIAL sender would: the
	 * folded pseudo-header sum, not the full checksum. */
	bool partial_csum;
};

#define TCPF_FIN 0x01
#define TCPF_SYN 0x02
#define TCPF_RST 0x04
#define TCPF_PSH 0x08
#define TCPF_ACK 0x10

static inline uint32_t csum_add_bytes(uint32_t sum, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)((p[i] << 8) | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	return sum;
}

static inline uint16_t csum_fold_host(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* Pseudo-header sum (host order arithmetic over network bytes). */
static inline uint32_t csum_pseudo(const struct iphdr *ip, uint32_t l4_len)
{
	uint32_t sum = 0;

	sum = csum_add_bytes(sum, &ip->saddr, 4);
	sum = csum_add_bytes(sum, &ip->daddr, 4);
	sum += ip->protocol;
	sum += l4_len;
	return sum;
}

/* IPv6 frames: the first 96 bits of every address, 2001:2::/96 (the
 * benchmarking range, RFC 5180), in 32-bit words, host order. */
#define PKT6_PREFIX_W0 0x20010002U
#define PKT6_HDR_LEN   40
#define PKT6_HOP_LIMIT 64

/* A host-order number as the IPv6 address PKT6_PREFIX + number. */
static inline void pkt6_addr(uint32_t host, struct in6_addr *out)
{
	uint32_t words[4] = {htonl(PKT6_PREFIX_W0), 0, 0, htonl(host)};

	memcpy(out, words, sizeof(words));
}

/* The number of an address in PKT6_PREFIX, or 0 for any other address. */
static inline uint32_t pkt6_host(const struct in6_addr *a)
{
	uint32_t words[4];

	memcpy(words, a, sizeof(words));
	if (ntohl(words[0]) != PKT6_PREFIX_W0 || words[1] || words[2])
		return 0;
	return ntohl(words[3]);
}

static inline bool pkt_is_ipv6(const uint8_t *frame)
{
	return ((const struct ethhdr *)frame)->h_proto == htons(ETH_P_IPV6);
}

static inline struct ipv6hdr *pkt_ip6(struct pkt *p)
{
	return (struct ipv6hdr *)(p->data + ETH_HLEN);
}

/* An IPv6 extension header for pkt6_insert_ext: hop-by-hop, routing or
 * destination options of len_bytes (a multiple of 8). */
struct pkt6_ext {
	uint8_t type;
	uint8_t len_bytes;
	uint8_t segments_left; /* routing header only */
};

#define PKT6_EXT_UNIT_BYTES 8 /* walked headers count 8-byte units */
#define PKT6_PADN_OPTION    1
#define PKT6_ROUTING_SRH    4

/* Inserts one extension header right after the IPv6 header; the chain and
 * the payload length follow. The L4 checksum covers neither. False, the
 * frame unchanged, when the frame would outgrow struct pkt. */
static inline bool pkt6_insert_ext(struct pkt *p, const struct pkt6_ext *h)
{
	struct ipv6hdr *ip6 = pkt_ip6(p);
	uint8_t *at = (uint8_t *)(ip6 + 1);
	uint32_t after = p->len - (ETH_HLEN + PKT6_HDR_LEN);

	if (p->len + h->len_bytes > PKT_MAX_LEN)
		return false;
	memmove(at + h->len_bytes, at, after);
	memset(at, 0, h->len_bytes);
	at[0] = ip6->nexthdr;
	at[1] = (uint8_t)(h->len_bytes / PKT6_EXT_UNIT_BYTES - 1);
	if (h->type == IPPROTO_ROUTING) {
		at[2] = PKT6_ROUTING_SRH;
		at[3] = h->segments_left;
	} else if (h->type == IPPROTO_HOPOPTS || h->type == IPPROTO_DSTOPTS) {
		at[2] = PKT6_PADN_OPTION;
		at[3] = (uint8_t)(h->len_bytes - 4);
	}
	ip6->nexthdr = h->type;
	ip6->payload_len =
	    htons((uint16_t)(ntohs(ip6->payload_len) + h->len_bytes));
	p->len += h->len_bytes;
	return true;
}

/* IPv6 pseudo-header sum (RFC 8200 8.1) over the frame's own addresses. */
static inline uint32_t csum_pseudo6(const struct ipv6hdr *ip6, uint8_t proto,
				    uint32_t l4_len)
{
	uint32_t sum = 0;

	sum = csum_add_bytes(sum, &ip6->saddr, sizeof(ip6->saddr));
	sum = csum_add_bytes(sum, &ip6->daddr, sizeof(ip6->daddr));
	sum += l4_len >> 16;
	sum += l4_len & 0xffff;
	sum += proto;
	return sum;
}

/* Where an IPv6 frame's upper-layer header is, past the extension headers
 * the data path walks (hop-by-hop, routing, destination options): its
 * offset in the frame and protocol; false when the frame ends first. */
static inline bool pkt6_upper(const uint8_t *frame, uint32_t len,
			      uint32_t *off_out, uint8_t *next_out)
{
	const struct ipv6hdr *ip6 = (const void *)(frame + ETH_HLEN);
	uint32_t off = ETH_HLEN + PKT6_HDR_LEN;
	uint8_t next;

	if (len < off)
		return false;
	next = ip6->nexthdr;
	while (next == IPPROTO_HOPOPTS || next == IPPROTO_ROUTING ||
	       next == IPPROTO_DSTOPTS) {
		if (off + 8 > len)
			return false;
		next = frame[off];
		off += (frame[off + 1] + 1u) * 8u;
	}
	*off_out = off;
	*next_out = next;
	return true;
}

/* Where an IPv6 frame's TCP/UDP header is (pkt6_upper); false when there
 * is none. */
static inline bool pkt6_l4(const uint8_t *frame, uint32_t len, uint32_t *l4_off,
			   uint8_t *proto)
{
	return pkt6_upper(frame, len, l4_off, proto) &&
	       (*proto == IPPROTO_TCP || *proto == IPPROTO_UDP);
}

/* The L4 checksum of an IPv6 frame: full, or the partial pseudo sum. */
static inline uint16_t pkt6_l4_csum(const uint8_t *frame, uint32_t l4_off,
				    uint8_t proto, uint32_t l4_len,
				    bool partial)
{
	const struct ipv6hdr *ip6 = (const void *)(frame + ETH_HLEN);
	uint32_t pseudo = csum_pseudo6(ip6, proto, l4_len);
	uint16_t check;

	if (partial)
		return htons(csum_fold_host(pseudo));
	check = htons((uint16_t)~csum_fold_host(
	    csum_add_bytes(pseudo, frame + l4_off, l4_len)));
	/* UDP sends a computed 0 as 0xffff (0 is not valid in IPv6). */
	if (proto == IPPROTO_UDP && check == 0)
		check = 0xffff;
	return check;
}

static inline void pkt_fill_l4(uint8_t *l4, const struct pkt_spec *s,
			       uint32_t l4_len)
{
	if (s->proto == IPPROTO_TCP) {
		struct tcphdr *th = (struct tcphdr *)l4;

		th->source = htons(s->sport);
		th->dest = htons(s->dport);
		th->seq = htonl(1000);
		th->ack_seq = htonl(s->tcp_flags & TCPF_ACK ? 2000 : 0);
		th->doff = 5;
		((uint8_t *)th)[13] = s->tcp_flags;
		th->window = htons(65535);
		if (s->payload_len)
			memcpy(th + 1, s->payload, s->payload_len);
	} else {
		struct udphdr *uh = (struct udphdr *)l4;

		uh->source = htons(s->sport);
		uh->dest = htons(s->dport);
		uh->len = htons((uint16_t)l4_len);
		if (s->payload_len)
			memcpy(uh + 1, s->payload, s->payload_len);
	}
}

/* Writes the L4 checksum field of the TCP or UDP header at l4. */
static inline void pkt_set_l4_check(uint8_t *l4, uint8_t proto, uint16_t check)
{
	if (proto == IPPROTO_TCP)
		((struct tcphdr *)l4)->check = check;
	else
		((struct udphdr *)l4)->check = check;
}

static inline struct iphdr *pkt_ip(struct pkt *p)
{
	return (struct iphdr *)(p->data + ETH_HLEN);
}

/* Ethernet and an IP header of the family (AF_INET6, else IPv4) from
 * saddr to daddr (host order; IPv6: PKT6_PREFIX + number) carrying l4_len
 * bytes of proto; returns where those bytes start. The whole frame is
 * zeroed first and p->len set. */
static inline uint8_t *pkt_headers(struct pkt *p, uint8_t family,
				   uint32_t saddr, uint32_t daddr,
				   uint8_t proto, uint32_t l4_len)
{
	struct ethhdr *eth = (struct ethhdr *)p->data;
	struct ipv6hdr *ip6 = pkt_ip6(p);
	struct iphdr *ip = pkt_ip(p);

	memset(p, 0, sizeof(*p));
	memcpy(eth->h_dest, "\x02\x00\x00\x00\x00\x02", ETH_ALEN);
	memcpy(eth->h_source, "\x02\x00\x00\x00\x00\x01", ETH_ALEN);
	if (family == AF_INET6) {
		eth->h_proto = htons(ETH_P_IPV6);
		ip6->version = 6;
		ip6->payload_len = htons((uint16_t)l4_len);
		ip6->nexthdr = proto;
		ip6->hop_limit = PKT6_HOP_LIMIT;
		pkt6_addr(saddr, &ip6->saddr);
		pkt6_addr(daddr, &ip6->daddr);
		p->len = ETH_HLEN + PKT6_HDR_LEN + l4_len;
		return (uint8_t *)(ip6 + 1);
	}
	eth->h_proto = htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = proto;
	ip->tot_len = htons((uint16_t)(sizeof(*ip) + l4_len));
	ip->id = htons(0x1234);
	ip->saddr = htonl(saddr);
	ip->daddr = htonl(daddr);
	ip->check = htons(
	    (uint16_t)~csum_fold_host(csum_add_bytes(0, ip, sizeof(*ip))));
	p->len = ETH_HLEN + sizeof(*ip) + l4_len;
	return (uint8_t *)(ip + 1);
}

/* A TCP or UDP frame of either family (s->family), its L4 checksum full
 * or partial as s->partial_csum says. */
static inline void pkt_build(struct pkt *p, const struct pkt_spec *s)
{
	uint32_t l4_len = (s->proto == IPPROTO_TCP ? sizeof(struct tcphdr)
						   : sizeof(struct udphdr)) +
			  s->payload_len;
	uint8_t *l4 =
	    pkt_headers(p, s->family, s->saddr, s->daddr, s->proto, l4_len);
	uint16_t check;

	pkt_fill_l4(l4, s, l4_len);
	if (s->family == AF_INET6) {
		check = pkt6_l4_csum(p->data, (uint32_t)(l4 - p->data),
				     s->proto, l4_len, s->partial_csum);
	} else if (s->partial_csum) {
		check = htons(csum_fold_host(csum_pseudo(pkt_ip(p), l4_len)));
	} else {
		check = htons((uint16_t)~csum_fold_host(csum_add_bytes(
		    csum_pseudo(pkt_ip(p), l4_len), l4, l4_len)));
		if (s->proto == IPPROTO_UDP && check == 0)
			check = 0xffff;
	}
	pkt_set_l4_check(l4, s->proto, check);
}

/* An IPv6 frame's L4 checksum verifies from scratch (full), or holds the
 * pseudo-header sum (partial). A zero UDP checksum never verifies. */
static inline bool pkt6_l4_csum_check(const uint8_t *frame, uint32_t len,
				      bool partial)
{
	const struct ipv6hdr *ip6 = (const void *)(frame + ETH_HLEN);
	uint32_t end = ETH_HLEN + PKT6_HDR_LEN + ntohs(ip6->payload_len);
	uint32_t l4_off, l4_len;
	uint16_t field;
	uint8_t proto;

	if (end > len || !pkt6_l4(frame, end, &l4_off, &proto))
		return false;
	l4_len = end - l4_off;
	field = proto == IPPROTO_TCP
		    ? ((const struct tcphdr *)(frame + l4_off))->check
		    : ((const struct udphdr *)(frame + l4_off))->check;
	if (partial)
		return field ==
		       pkt6_l4_csum(frame, l4_off, proto, l4_len, true);
	if (proto == IPPROTO_UDP && field == 0)
		return false;
	return csum_fold_host(csum_add_bytes(csum_pseudo6(ip6, proto, l4_len),
					     frame + l4_off, l4_len)) == 0xffff;
}

/* True when the IPv4 header checksum verifies; IPv6 has none. */
static inline bool pkt_ip_csum_ok(const uint8_t *frame, uint32_t len)
{
	const struct iphdr *ip = (const void *)(frame + ETH_HLEN);

	if (pkt_is_ipv6(frame))
		return len >= ETH_HLEN + PKT6_HDR_LEN;

	if (len < ETH_HLEN + sizeof(*ip))
		return false;
	return csum_fold_host(csum_add_bytes(0, ip, ip->ihl * 4u)) == 0xffff;
}

/* True when the TCP/UDP checksum verifies as a full checksum. */
static inline bool pkt_l4_csum_ok(const uint8_t *frame, uint32_t len)
{
	const struct iphdr *ip = (const void *)(frame + ETH_HLEN);
	uint32_t l4_len = ntohs(ip->tot_len) - ip->ihl * 4u;
	const uint8_t *l4 = frame + ETH_HLEN + ip->ihl * 4u;

	if (pkt_is_ipv6(frame))
		return pkt6_l4_csum_check(frame, len, false);

	if ((uint32_t)ETH_HLEN + ntohs(ip->tot_len) > len)
		return false;
	if (ip->protocol == IPPROTO_UDP &&
	    ((const struct udphdr *)l4)->check == 0)
		return true;
	return csum_fold_host(csum_add_bytes(csum_pseudo(ip, l4_len), l4,
					     l4_len)) == 0xffff;
}

/* True when the TCP/UDP checksum field holds the (partial) pseudo sum. */
static inline bool pkt_l4_partial_ok(const uint8_t *frame, uint32_t len)
{
	const struct iphdr *ip = (const void *)(frame + ETH_HLEN);
	uint32_t l4_len = ntohs(ip->tot_len) - ip->ihl * 4u;
	const uint8_t *l4 = frame + ETH_HLEN + ip->ihl * 4u;
	uint16_t field;

	if (pkt_is_ipv6(frame))
		return pkt6_l4_csum_check(frame, len, true);

	if ((uint32_t)ETH_HLEN + ntohs(ip->tot_len) > len)
		return false;
	field = ip->protocol == IPPROTO_TCP
		    ? ((const struct tcphdr *)l4)->check
		    : ((const struct udphdr *)l4)->check;
	return ntohs(field) == csum_fold_host(csum_pseudo(ip, l4_len));
}

/* An ICMP error from saddr to daddr (host order; IPv6: PKT6_PREFIX +
 * number) of type and code, its 4-byte rest (next-hop MTU, MTU...) in host
 * order, quoting the first quote_len bytes of the IP packet of `quoted`
 * (from its IP header on). The error is of the quoted packet's family:
 * ICMPv4, or ICMPv6 with its pseudo header; the checksum is computed over
 * the whole message. */
static inline void pkt_build_icmp_error(struct pkt *p, uint32_t saddr,
					uint32_t daddr, uint8_t type,
					uint8_t code, uint32_t rest,
					const struct pkt *quoted,
					uint32_t quote_len)
{
	bool v6 = pkt_is_ipv6(quoted->data);
	uint32_t icmp_len = PKT_ICMP_HDR_LEN + quote_len;
	uint8_t *icmp =
	    pkt_headers(p, v6 ? AF_INET6 : AF_INET, saddr, daddr,
			v6 ? PKT_ICMPV6_PROTO : IPPROTO_ICMP, icmp_len);
	uint32_t rest_be = htonl(rest);
	uint32_t sum = 0;
	uint16_t check;

	icmp[0] = type;
	icmp[1] = code;
	memcpy(icmp + 4, &rest_be, sizeof(rest_be));
	memcpy(icmp + PKT_ICMP_HDR_LEN, quoted->data + ETH_HLEN, quote_len);
	if (v6)
		sum = csum_pseudo6(pkt_ip6(p), PKT_ICMPV6_PROTO, icmp_len);
	check = htons(
	    (uint16_t)~csum_fold_host(csum_add_bytes(sum, icmp, icmp_len)));
	memcpy(icmp + PKT_ICMP_CSUM_OFF, &check, sizeof(check));
}

/* True when an ICMPv4 or ICMPv6 message's checksum verifies over all of it
 * (ICMPv6: with its pseudo header, past any extension headers). */
static inline bool pkt_icmp_csum_ok(const uint8_t *frame, uint32_t len)
{
	const struct iphdr *ip = (const void *)(frame + ETH_HLEN);
	const struct ipv6hdr *ip6 = (const void *)(frame + ETH_HLEN);
	uint32_t tot, end, off;
	uint8_t next;

	if (pkt_is_ipv6(frame)) {
		end = ETH_HLEN + PKT6_HDR_LEN + ntohs(ip6->payload_len);
		if (end > len || !pkt6_upper(frame, end, &off, &next) ||
		    next != PKT_ICMPV6_PROTO || off > end)
			return false;
		return csum_fold_host(csum_add_bytes(
			   csum_pseudo6(ip6, PKT_ICMPV6_PROTO, end - off),
			   frame + off, end - off)) == 0xffff;
	}
	tot = ntohs(ip->tot_len);
	if ((uint32_t)ETH_HLEN + tot > len || tot < ip->ihl * 4u)
		return false;
	return csum_fold_host(csum_add_bytes(0, frame + ETH_HLEN + ip->ihl * 4u,
					     tot - ip->ihl * 4u)) == 0xffff;
}

#endif /* KANARY_TEST_PACKETS_H */
