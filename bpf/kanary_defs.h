/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * kanary_defs.h - constants the BPF side needs that vmlinux.h lacks
 * (macros do not survive into BTF), and the load-time settings.
 */
#ifndef KANARY_DEFS_H
#define KANARY_DEFS_H

#define ETH_P_IP   0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_HLEN   14

#define TC_ACT_OK   0
#define TC_ACT_SHOT 2

#define IP_MF		 0x2000
#define IP_OFFSET	 0x1fff
#define IPV4_HDR_MIN_LEN 20

#define IPV6_HDR_LEN 40
/* IPv6 extension headers kanary walks to reach TCP or UDP (RFC 8200 4.1),
 * and the one it never walks: a fragment is passed untouched, as IPv4's. */
#define IPV6_NEXTHDR_HOP      0
#define IPV6_NEXTHDR_ROUTING  43
#define IPV6_NEXTHDR_FRAGMENT 44
#define IPV6_NEXTHDR_DEST     60
/* A routing header's segments left (RFC 8200 4.4). */
#define IPV6_RT_SEGMENTS_LEFT_OFF 3
/* Hop-by-hop, routing and destination options count their length in
 * 8-byte units, not counting the first 8 bytes. */
#define IPV6_EXT_LEN_UNIT 8
/* At most this many extension headers are walked: RFC 8200's recommended
 * order holds at most hop-by-hop, destination options, routing and
 * destination options again before the upper layer. A packet with more is
 * passed untouched and counted with the IPv4 options. */
#ifndef KN_IPV6_MAX_EXT_HDRS
#define KN_IPV6_MAX_EXT_HDRS 4
#endif
/* The largest offset of an L4 header kanary can find: Ethernet, IPv6 and
 * KN_IPV6_MAX_EXT_HDRS extension headers of at most 2048 bytes each. The
 * verifier needs the bound before the offset moves a packet pointer. */
#define KN_L4_OFF_MAX                                                          \
	(ETH_HLEN + IPV6_HDR_LEN +                                             \
	 KN_IPV6_MAX_EXT_HDRS * 256 * IPV6_EXT_LEN_UNIT)

#define TCP_HDR_MIN_LEN 20
#define TCP_CSUM_OFF	16 /* offsetof(struct tcphdr, check) */
#define UDP_HDR_LEN	8
#define UDP_CSUM_OFF	6 /* offsetof(struct udphdr, check) */

#define TCP_FLAG_FIN 0x01
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_RST 0x04
#define TCP_FLAG_ACK 0x10

#define IPPROTO_ICMP_NUM   1
#define IPPROTO_TCP_NUM	   6
#define IPPROTO_UDP_NUM	   17
#define IPPROTO_ICMPV6_NUM 58

/* bpf_l4_csum_replace flags (uapi enum values are in vmlinux.h, the size
 * mask is not). */
#define KN_CSUM_SIZE_MASK 0xf

#define NSEC_PER_SEC  1000000000ULL
#define NSEC_PER_MSEC 1000000ULL
#define NSEC_PER_USEC 1000ULL

/* A flow's last_seen is rewritten at most this often, so that the packets of
 * one busy flow on several CPUs do not bounce its cache line. */
#define KN_TOUCH_INTERVAL_NS (1 * NSEC_PER_SEC)

/* How many payload bytes an HTTP/1.x status line needs: "HTTP/1.1 200 ". */
#define KN_HTTP_STATUS_PEEK 13

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#endif /* KANARY_DEFS_H */
