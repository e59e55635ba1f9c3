/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * packets.h - building IPv4 TCP/UDP frames and ICMP errors quoting them
 * field by field, and verifying their checksums from scratch (RFC 1071),
 * independently of the data path's incremental updates. Shared by the BPF
 * tests, the fuzzer and the benches.
 */
#ifndef KANARY_TEST_PACKETS_H
#define KANARY_TEST_PACKETS_H

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define PKT_MAX_LEN 2048

#define PKT_ICMP_HDR_LEN  8
#define PKT_ICMP_CSUM_OFF 2

/* The frame starts 2 bytes into a 4-byte aligned struct, so that the IP
 * header after the 14-byte Ethernet header is aligned (NET_IP_ALIGN). */
struct pkt {
	uint8_t align_pad[2];
	uint8_t data[PKT_MAX_LEN];
	uint32_t len;
} __attribute__((aligned(4)));

struct pkt_spec {
	uint32_t saddr, daddr; /* host order */
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

static inline struct iphdr *pkt_ip(struct pkt *p)
{
	return (struct iphdr *)(p->data + ETH_HLEN);
}

static inline void pkt_build(struct pkt *p, const struct pkt_spec *s)
{
	struct ethhdr *eth = (struct ethhdr *)p->data;
	struct iphdr *ip = pkt_ip(p);
	uint8_t *l4 = (uint8_t *)(ip + 1);
	uint32_t l4_len = (s->proto == IPPROTO_TCP ? sizeof(struct tcphdr)
						   : sizeof(struct udphdr)) +
			  s->payload_len;
	uint16_t check;

	memset(p, 0, sizeof(*p));
	memcpy(eth->h_dest, "\x02\x00\x00\x00\x00\x02", ETH_ALEN);
	memcpy(eth->h_source, "\x02\x00\x00\x00\x00\x01", ETH_ALEN);
	eth->h_proto = htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = s->proto;
	ip->tot_len = htons((uint16_t)(sizeof(*ip) + l4_len));
	ip->id = htons(0x1234);
	ip->saddr = htonl(s->saddr);
	ip->daddr = htonl(s->daddr);
	ip->check = htons(
	    (uint16_t)~csum_fold_host(csum_add_bytes(0, ip, sizeof(*ip))));

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
	if (s->partial_csum)
		check = htons(csum_fold_host(csum_pseudo(ip, l4_len)));
	else
		check = htons((uint16_t)~csum_fold_host(
		    csum_add_bytes(csum_pseudo(ip, l4_len), l4, l4_len)));
	if (s->proto == IPPROTO_UDP && !s->partial_csum && check == 0)
		check = 0xffff;
	if (s->proto == IPPROTO_TCP)
		((struct tcphdr *)l4)->check = check;
	else
		((struct udphdr *)l4)->check = check;
	p->len = ETH_HLEN + sizeof(*ip) + l4_len;
}

/* True when the IPv4 header checksum verifies. */
static inline bool pkt_ip_csum_ok(const uint8_t *frame, uint32_t len)
{
	const struct iphdr *ip = (const void *)(frame + ETH_HLEN);

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

	if ((uint32_t)ETH_HLEN + ntohs(ip->tot_len) > len)
		return false;
	field = ip->protocol == IPPROTO_TCP
		    ? ((const struct tcphdr *)l4)->check
		    : ((const struct udphdr *)l4)->check;
	return ntohs(field) == csum_fold_host(csum_pseudo(ip, l4_len));
}

/* An ICMPv4 error from saddr to daddr (host order) of type and code, its
 * 4-byte rest (next-hop MTU...) in host order, quoting the first quote_len
 * bytes of the IP packet of `quoted` (from its IP header on); the ICMP
 * checksum is computed over the whole message. */
static inline void pkt_build_icmp_error(struct pkt *p, uint32_t saddr,
					uint32_t daddr, uint8_t type,
					uint8_t code, uint32_t rest,
					const struct pkt *quoted,
					uint32_t quote_len)
{
	struct ethhdr *eth = (struct ethhdr *)p->data;
	struct iphdr *ip = pkt_ip(p);
	uint8_t *icmp = (uint8_t *)(ip + 1);
	uint32_t icmp_len = PKT_ICMP_HDR_LEN + quote_len;
	uint32_t rest_be = htonl(rest);
	uint16_t check;

	memset(p, 0, sizeof(*p));
	memcpy(eth->h_dest, "\x02\x00\x00\x00\x00\x02", ETH_ALEN);
	memcpy(eth->h_source, "\x02\x00\x00\x00\x00\x01", ETH_ALEN);
	eth->h_proto = htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = IPPROTO_ICMP;
	ip->tot_len = htons((uint16_t)(sizeof(*ip) + icmp_len));
	ip->id = htons(0x4321);
	ip->saddr = htonl(saddr);
	ip->daddr = htonl(daddr);
	ip->check = htons(
	    (uint16_t)~csum_fold_host(csum_add_bytes(0, ip, sizeof(*ip))));
	icmp[0] = type;
	icmp[1] = code;
	memcpy(icmp + 4, &rest_be, sizeof(rest_be));
	memcpy(icmp + PKT_ICMP_HDR_LEN, quoted->data + ETH_HLEN, quote_len);
	check =
	    htons((uint16_t)~csum_fold_host(csum_add_bytes(0, icmp, icmp_len)));
	memcpy(icmp + PKT_ICMP_CSUM_OFF, &check, sizeof(check));
	p->len = ETH_HLEN + sizeof(*ip) + icmp_len;
}

/* True when an ICMPv4 message's checksum verifies over all of it. */
static inline bool pkt_icmp_csum_ok(const uint8_t *frame, uint32_t len)
{
	const struct iphdr *ip = (const void *)(frame + ETH_HLEN);
	uint32_t tot = ntohs(ip->tot_len);

	if ((uint32_t)ETH_HLEN + tot > len || tot < ip->ihl * 4u)
		return false;
	return csum_fold_host(csum_add_bytes(0, frame + ETH_HLEN + ip->ihl * 4u,
					     tot - ip->ihl * 4u)) == 0xffff;
}

/* ---- IPv6 ------------------------------------------------------------ */

#define PKT_IP6_HDR_LEN	 40
#define PKT_ADDR6_BYTES	 16
#define PKT_ICMPV6_PROTO 58

struct pkt6_spec {
	uint8_t saddr[PKT_ADDR6_BYTES], daddr[PKT_ADDR6_BYTES];
	uint16_t sport, dport; /* host order */
	uint8_t proto;	       /* IPPROTO_TCP / IPPROTO_UDP */
	uint8_t tcp_flags;
	const void *payload;
	uint32_t payload_len;
};

/* The IPv6 pseudo-header sum (RFC 8200 section 8.1). */
static inline uint32_t csum_pseudo6(const uint8_t *saddr, const uint8_t *daddr,
				    uint32_t len, uint8_t next)
{
	uint32_t sum = 0;

	sum = csum_add_bytes(sum, saddr, PKT_ADDR6_BYTES);
	sum = csum_add_bytes(sum, daddr, PKT_ADDR6_BYTES);
	sum += len >> 16;
	sum += len & 0xffff;
	sum += next;
	return sum;
}

/* Ethernet and an IPv6 header of payload_len carrying next; the payload
 * starts at ETH_HLEN + PKT_IP6_HDR_LEN. */
static inline uint8_t *pkt6_headers(struct pkt *p, const uint8_t *saddr,
				    const uint8_t *daddr, uint8_t next,
				    uint32_t payload_len)
{
	struct ethhdr *eth = (struct ethhdr *)p->data;
	uint8_t *ip6 = p->data + ETH_HLEN;

	memset(p, 0, sizeof(*p));
	memcpy(eth->h_dest, "\x02\x00\x00\x00\x00\x02", ETH_ALEN);
	memcpy(eth->h_source, "\x02\x00\x00\x00\x00\x01", ETH_ALEN);
	eth->h_proto = htons(ETH_P_IPV6);
	ip6[0] = 0x60;
	ip6[4] = (uint8_t)(payload_len >> 8);
	ip6[5] = (uint8_t)payload_len;
	ip6[6] = next;
	ip6[7] = 64; /* hop limit */
	memcpy(ip6 + 8, saddr, PKT_ADDR6_BYTES);
	memcpy(ip6 + 24, daddr, PKT_ADDR6_BYTES);
	p->len = ETH_HLEN + PKT_IP6_HDR_LEN + payload_len;
	return ip6 + PKT_IP6_HDR_LEN;
}

/* An IPv6 TCP/UDP packet, its checksum computed from scratch. */
static inline void pkt6_build(struct pkt *p, const struct pkt6_spec *s)
{
	uint32_t l4_len = (s->proto == IPPROTO_TCP ? sizeof(struct tcphdr)
						   : sizeof(struct udphdr)) +
			  s->payload_len;
	uint8_t *l4 = pkt6_headers(p, s->saddr, s->daddr, s->proto, l4_len);
	uint16_t check;

	if (s->proto == IPPROTO_TCP) {
		struct tcphdr *th = (struct tcphdr *)l4;

		th->source = htons(s->sport);
		th->dest = htons(s->dport);
		th->seq = htonl(1000);
		th->doff = 5;
		((uint8_t *)th)[13] = s->tcp_flags;
		th->window = htons(65535);
		memcpy(th + 1, s->payload, s->payload_len);
	} else {
		struct udphdr *uh = (struct udphdr *)l4;

		uh->source = htons(s->sport);
		uh->dest = htons(s->dport);
		uh->len = htons((uint16_t)l4_len);
		memcpy(uh + 1, s->payload, s->payload_len);
	}
	check = htons((uint16_t)~csum_fold_host(csum_add_bytes(
	    csum_pseudo6(s->saddr, s->daddr, l4_len, s->proto), l4, l4_len)));
	if (s->proto == IPPROTO_UDP && check == 0)
		check = 0xffff; /* mandatory in IPv6: 0 is never sent */
	memcpy(l4 + (s->proto == IPPROTO_TCP ? 16 : 6), &check, sizeof(check));
}

/* An ICMPv6 error quoting the first quote_len bytes of the IPv6 packet of
 * `quoted`, its checksum (pseudo header included) from scratch. */
static inline void pkt6_build_icmp_error(struct pkt *p, const uint8_t *saddr,
					 const uint8_t *daddr, uint8_t type,
					 uint8_t code, uint32_t rest,
					 const struct pkt *quoted,
					 uint32_t quote_len)
{
	uint32_t icmp_len = PKT_ICMP_HDR_LEN + quote_len;
	uint8_t *icmp =
	    pkt6_headers(p, saddr, daddr, PKT_ICMPV6_PROTO, icmp_len);
	uint32_t rest_be = htonl(rest);
	uint16_t check;

	icmp[0] = type;
	icmp[1] = code;
	memcpy(icmp + 4, &rest_be, sizeof(rest_be));
	memcpy(icmp + PKT_ICMP_HDR_LEN, quoted->data + ETH_HLEN, quote_len);
	check = htons((uint16_t)~csum_fold_host(csum_add_bytes(
	    csum_pseudo6(saddr, daddr, icmp_len, PKT_ICMPV6_PROTO), icmp,
	    icmp_len)));
	memcpy(icmp + PKT_ICMP_CSUM_OFF, &check, sizeof(check));
}

/* True when an IPv6 packet's ICMPv6 or TCP/UDP checksum verifies. */
static inline bool pkt6_l4_csum_ok(const uint8_t *frame, uint32_t len)
{
	const uint8_t *ip6 = frame + ETH_HLEN;
	uint32_t l4_len = (uint32_t)(ip6[4] << 8 | ip6[5]);

	if ((uint32_t)ETH_HLEN + PKT_IP6_HDR_LEN + l4_len > len)
		return false;
	return csum_fold_host(csum_add_bytes(
		   csum_pseudo6(ip6 + 8, ip6 + 24, l4_len, ip6[6]),
		   ip6 + PKT_IP6_HDR_LEN, l4_len)) == 0xffff;
}

#endif /* KANARY_TEST_PACKETS_H */
