/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * kanary_defs.h - constants the BPF side needs that vmlinux.h lacks
 * (macros do not survive into BTF), and the load-time settings.
 */
#ifndef KANARY_DEFS_H
#define KANARY_DEFS_H

#define ETH_P_IP 0x0800
#define ETH_HLEN 14

#define TC_ACT_OK   0
#define TC_ACT_SHOT 2

#define IP_MF		 0x2000
#define IP_OFFSET	 0x1fff
#define IPV4_HDR_MIN_LEN 20

#define TCP_HDR_MIN_LEN 20
#define TCP_CSUM_OFF	16 /* offsetof(struct tcphdr, check) */
#define UDP_HDR_LEN	8
#define UDP_CSUM_OFF	6 /* offsetof(struct udphdr, check) */

#define TCP_FLAG_FIN 0x01
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_RST 0x04
#define TCP_FLAG_ACK 0x10

#define IPPROTO_TCP_NUM 6
#define IPPROTO_UDP_NUM 17

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
