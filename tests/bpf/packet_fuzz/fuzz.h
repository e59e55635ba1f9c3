/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * fuzz.h - what the parts of the packet fuzzer (tests/bpf/test_packet_fuzz.c
 * and tests/bpf/packet_fuzz/) share: the services and the addresses around
 * them, frame offsets, the kinds of packet, the mutations, the oracle's
 * verdicts and the run's counters. Each part's functions are declared
 * under its name below.
 */
#ifndef KANARY_PACKET_FUZZ_H
#define KANARY_PACKET_FUZZ_H

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/types.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include "datapath/dataplane.h"
#include "kanary_shared.h"
#include "util/log.h"
#include "packets.h"

#define VIP_A		0xc6126401	    /* 198.18.100.1 */
#define VIP_B		0xc6126402	    /* 198.18.100.2 */
#define STABLE(n)	(0xc6120100U + (n)) /* 198.18.1.n */
#define CANARY(n)	(0xc6120200U + (n)) /* 198.18.2.n */
#define BENCH_NET	0xc6120000U	    /* 198.18.0.0/15 */
#define BENCH_HOST_MASK 0x1ffffU
/* Clients and their ports come from small sets, so that flows recur: data,
 * FINs and replies then meet established entries, not only new ones. */
#define CLIENT_BASE	 0xc6121000U /* 198.18.16.0 */
#define CLIENTS		 1024
#define CLIENT_PORT_BASE 32768
#define CLIENT_PORTS	 64
#define FLOW_RING	 8192

#define XDP_DROP_VERDICT 1
#define XDP_PASS_VERDICT 2
#define TC_OK_VERDICT	 0
#define TC_SHOT_VERDICT	 2

#define ETH_TYPE_OFF   12
#define IP_OFF	       ETH_HLEN
#define IP_TOT_LEN_OFF (IP_OFF + 2)
#define IP_FRAG_OFF    (IP_OFF + 6)
#define IP_PROTO_OFF   (IP_OFF + 9)
#define IP_CSUM_OFF    (IP_OFF + 10)
#define IP_SADDR_OFF   (IP_OFF + 12)
#define IP_DADDR_OFF   (IP_OFF + 16)
#define L4_OFF	       (IP_OFF + IPV4_MIN_HLEN)
#define IPV4_MIN_HLEN  20
#define TCP_MIN_HLEN   20
#define UDP_HLEN       8
#define TCP_DOFF_BYTE  12
#define TCP_FLAGS_BYTE 13
#define TCP_CSUM_FIELD 16
#define UDP_LEN_FIELD  4
#define UDP_CSUM_FIELD 6
#define IP_DF_BIT      0x4000
#define IP_MF_BIT      0x2000
#define IP_OFFSET_MASK 0x1fff
#define VLAN_TAG_LEN   4
/* IPv6 (packets.h puts every address number into 2001:2::/96). */
#define IPV6_HLEN	    40
#define IP6_PLEN_OFF	    (IP_OFF + 4)
#define IP6_NEXT_OFF	    (IP_OFF + 6)
#define IP6_HLIM_OFF	    (IP_OFF + 7)
#define IP6_SADDR_OFF	    (IP_OFF + 8)
#define IP6_DADDR_OFF	    (IP_OFF + 24)
#define IP6_ADDR_LEN	    16
#define IP6_EXT_UNIT	    8
#define IP6_EXT_WALKED_MAX  4 /* KN_IPV6_MAX_EXT_HDRS, from its doc */
#define IP6_RT_SEG_LEFT_OFF 3
#define NEXTHDR_HOP	    0
#define NEXTHDR_ROUTING	    43
#define NEXTHDR_FRAGMENT    44
#define NEXTHDR_ESP	    50
#define NEXTHDR_AUTH	    51
#define NEXTHDR_ICMP6	    58
#define NEXTHDR_NONE	    59
#define NEXTHDR_DEST	    60
#define TCPF_URG	    0x20
#define TCPF_ECE	    0x40
#define TCPF_CWR	    0x80

#define PAYLOAD_MAX	 512
#define RANDOM_FRAME_MAX 256
#define MAX_MUTATIONS	 4

struct fz_endpoint {
	uint32_t addr; /* host order */
	uint16_t port;
};

#define POOL_MAX 4

struct fz_service {
	const char *name;
	struct fz_endpoint vip;
	uint8_t proto;
	uint32_t flags;
	uint32_t canary_bp;
	uint32_t stable_count, canary_count;
	struct fz_endpoint stable[POOL_MAX], canary[POOL_MAX];
};

enum pkt_kind {
	K_SYN,		  /* TCP SYN to a service, with or without options */
	K_DATA,		  /* TCP data or ACK on a known flow, or a new one */
	K_CLOSE,	  /* FIN or RST of a flow */
	K_UDP,		  /* UDP to a UDP service */
	K_REPLY_TCP,	  /* backend to client on a recorded TCP flow */
	K_REPLY_HTTP,	  /* the same, carrying an HTTP/1.x status line */
	K_REPLY_UDP,	  /* backend to client on a recorded UDP flow */
	K_UDP_EDGE,	  /* UDP whose translated checksum computes to 0 */
	K_REPLY_UDP_EDGE, /* the same, backend to client */
	K_STRAY,	  /* TCP/UDP near the VIPs, backends and flows */
	K_FRAGMENT,	  /* an IP fragment of a packet for a service */
	K_NOT_IPV4,	  /* ARP, VLAN-tagged, other ethertypes; the other
			     family's ethertype on a frame */
	K_NOT_TCP_UDP,	  /* ICMP(v6) (errors about flows too), GRE, SCTP... */
	K_RANDOM,	  /* random bytes, some with an IP header start */
	K_COUNT,
};

/* A flow as ingress translated it: what replies and later packets use. */
struct flow_rec {
	uint32_t client, backend;
	uint16_t cport, bport;
	uint8_t proto;
	uint8_t family; /* AF_INET or AF_INET6 */
};

struct l4_opts {
	uint8_t bytes[40];
	uint32_t len; /* a multiple of 4 */
};

struct gen {
	uint32_t saddr, daddr;
	uint16_t sport, dport;
	uint8_t proto, flags;
	struct l4_opts opts;
	uint8_t payload[PAYLOAD_MAX];
	uint32_t payload_len;
	bool partial;	    /* checksum as an offloading sender leaves it */
	bool udp_no_csum;   /* UDP checksum 0: none */
	bool dont_fragment; /* DF, as most stacks send: not a fragment */
	/* IPv6: walked extension headers before TCP/UDP (hop-by-hop,
	 * destination options, routing with no segments left). */
	uint8_t ext_count;
};

enum mutation {
	M_TRUNCATE,
	M_PAD,
	M_BIT_FLIPS,
	M_RANDOM_BYTE,
	M_TOT_LEN,
	M_IHL,
	M_IP_OPTIONS,
	M_VERSION,
	M_FRAG,
	M_PROTO,
	M_ETHERTYPE,
	M_TCP_DOFF,
	M_TCP_FLAGS,
	M_UDP_LEN,
	M_SADDR,
	M_DADDR,
	M_SPORT,
	M_DPORT,
	M_CSUM_PARTIAL,
	M_CSUM_BROKEN,
	M_COUNT,
};

/* The oracle's word for a packet the programs must translate (or drop for
 * a documented reason): distinct from every enum kn_reason. */
#define CANDIDATE KN_R_COUNT
/* An ICMP or ICMPv6 error whose quote is well formed: translated when the
 * maps hold its flow (classify() asks them). */
#define ICMP_CANDIDATE (KN_R_COUNT + 1)
/* What an ICMP error quotes at least: an IP header and 8 bytes of L4. */
#define ICMP_QUOTED_L4_LEN 8
#define ICMP_QUOTE_MIN_LEN (IPV4_MIN_HLEN + ICMP_QUOTED_L4_LEN)

/* What the oracle reads from a packet, host order; an IPv6 address is its
 * number in 2001:2::/96, 0 outside it (no service, backend or client). */
struct view {
	uint32_t reason; /* CANDIDATE: a candidate; else enum kn_reason */
	uint8_t proto;
	uint8_t family;
	uint32_t saddr, daddr;
	uint16_t sport, dport;
	uint32_t l4_off;
};

/* What one program should do with one packet. */
struct expect {
	struct view v;
	/* CANDIDATE: for a service, to be translated (or dropped for a
	 * documented reason); else the reason it passes untouched. */
	uint32_t reason;
	const struct fz_service *svc; /* ingress: addressed; egress: reply's */
	struct kn_reply reply;	      /* egress */
	bool bad_reply;		      /* egress: the entry names no service */
};

enum outcome {
	O_TRANSLATED,	   /* rewritten by the program run */
	O_TRANSLATED_SLOW, /* pipeline: XDP left it to tc, tc rewrote it */
	O_UNTOUCHED,	   /* not for a service: passed unchanged */
	O_LEFT_TO_TC,	   /* XDP alone: offloaded checksum, passed */
	O_DROP_NO_BACKEND, /* documented drop */
	O_DROP_REWRITE,	   /* documented drop */
	O_NOT_RUN,	   /* tc: a runt frame the kernel's harness refuses */
	O_FAILED,	   /* an invariant does not hold */
	O_COUNT,
};

enum mode {
	MODE_XDP,
	MODE_PIPELINE,
	MODE_TC_INGRESS,
	MODE_TC_EGRESS,
	MODE_COUNT,
};

/* Everything one run of the fuzzer saw. */
struct fuzz_stats {
	uint64_t tried[MODE_COUNT][K_COUNT];
	uint64_t mutated[MODE_COUNT];
	uint64_t outcomes[MODE_COUNT][O_COUNT];
	uint64_t csum_complete_runs;
	uint64_t runs[KN_HOOK_COUNT];
	/* The oracle's count per program and reason, for the counters. */
	uint64_t expected[KN_HOOK_COUNT][KN_R_COUNT];
	uint64_t harness_errors;
	uint64_t failures_printed;
};

/* The run: its data path, its settings and how far it got. */
struct fuzz_run {
	struct dataplane *dp;
	char pin_dir[128];
	uint64_t packets;
	uint64_t seed;
	double time_limit_s;
	unsigned int families; /* FAMILY_IPV4 | FAMILY_IPV6 */
	uint64_t ran;	       /* packets actually tried */
	struct kn_global_stats base[KN_HOOK_COUNT]; /* after the warm-up */
	struct kn_global_stats last[KN_HOOK_COUNT]; /* at the last drop */
	double seconds;
};

extern struct fuzz_run fz;
extern struct fuzz_stats st;

/* ---- services.c ---------------------------------------------------- */

extern const struct fz_service services[];

extern const size_t service_count;

const struct fz_service *find_service(uint32_t addr, uint16_t port,
				      uint8_t proto);

bool is_backend_of(const struct fz_service *svc, uint32_t addr, uint16_t port);

uint32_t backend_count(const struct fz_service *svc);

/* ---- frame.c ------------------------------------------------------- */

uint16_t get16(const uint8_t *p);

void put16(uint8_t *p, uint16_t v);

uint32_t get32(const uint8_t *p);

void put32(uint8_t *p, uint32_t v);

/* The family of the packets being made: AF_INET or AF_INET6, chosen per
 * packet by the run. */
extern int fz_family;

bool is_ipv4_frame(const struct pkt *p);

bool is_ipv6_frame(const struct pkt *p);

/*
 * Where an IP frame's upper-layer header is: past the IPv4 header, or past
 * every IPv6 hop-by-hop, routing and destination-options header that fits
 * the frame. *proto is its protocol, *proto_at the offset of the byte that
 * names it. False for a frame with no IP header.
 */
bool frame_l4(const struct pkt *p, uint32_t *off, uint8_t *proto,
	      uint32_t *proto_at);

/* The source or destination address's offset, and its number (IPv6: 0
 * outside 2001:2::/96). */
uint32_t addr_off(const struct pkt *p, bool dst);

uint32_t get_addr(const struct pkt *p, bool dst);

void put_addr(struct pkt *p, bool dst, uint32_t number);

uint32_t addr_len(const struct pkt *p);

/* Inserts an IPv6 extension header of type and len bytes (a multiple of
 * 8) right after the IPv6 header, keeping the chain and the payload length;
 * false when the frame has no room. */
bool insert_ext(struct pkt *p, uint8_t type, uint32_t len,
		uint8_t segments_left);

/* The folded sum of the pseudo-header and the TCP/UDP bytes, the checksum
 * field read as zero (either family); false when the headers say no. */
bool l4_sum(const struct pkt *p, uint16_t *sum, uint32_t *csum_off);

uint32_t ip_hlen(const struct pkt *p);

void fix_ip_csum(struct pkt *p);

/*
 * Recomputes the TCP/UDP checksum when the headers say where it is: the
 * full checksum, or the pseudo-header sum an offloading sender leaves.
 */
void fix_l4_csum(struct pkt *p, bool partial);

void fix_checksums(struct pkt *p, bool partial);

/* ---- generator.c --------------------------------------------------- */

/* The randomness every part draws from: one seeded stream, so that a run
 * is repeated exactly from its seed. */
extern uint64_t rng_state;

/* xorshift64*: fast, and enough for choosing packets. */
static inline uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

/* Uniform in [0, n). */
static inline uint32_t rnd_below(uint32_t n)
{
	return (uint32_t)(((rnd() >> 32) * (uint64_t)n) >> 32);
}

/* True percent times in 100. */
static inline bool chance(uint32_t percent)
{
	return rnd_below(100) < percent;
}

static inline void rnd_bytes(uint8_t *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)rnd();
}

/* Addresses equal to and next to the VIPs, backends and clients. */
uint32_t random_addr(void);

uint16_t random_port(void);

void flow_remember(const struct flow_rec *f);

void build(struct pkt *p, const struct gen *g);

void to_service(struct gen *g, const struct fz_service *svc);

void generate(enum pkt_kind kind, struct pkt *p);

extern const char *const kind_names[K_COUNT];

/* ---- mutator.c ----------------------------------------------------- */

extern uint64_t mutation_counts[M_COUNT];

extern uint64_t rechecksummed;

/* Returns a mask of the mutations applied (0: the packet stays valid). */
uint32_t mutate(struct pkt *p);

extern const char *const mutation_names[M_COUNT];

/* ---- oracle.c ------------------------------------------------------ */

extern int replies_fd;
/* The pinned kn_flows, for the ICMP errors about a reply. */
extern int flows_fd;

void classify(enum kn_hook hook, const struct pkt *p, struct expect *e);

bool unchanged(const struct pkt *in, const struct pkt *out);

bool is_pass(enum kn_hook hook, __u32 verdict);

/*
 * Which documented reason a drop was counted under: exactly one of the
 * drop reasons of that hook must have grown by one since the last drop.
 */
enum outcome attribute_drop(enum kn_hook hook, const struct fz_service *svc,
			    const char **why);

/*
 * Judges one ingress decision: e classifies in as the first program saw
 * it; out and verdict are the final ones; drop_hook is the program that
 * gave the verdict.
 */
enum outcome judge_ingress(const struct expect *e, const struct pkt *in,
			   const struct pkt *out, enum kn_hook drop_hook,
			   __u32 verdict, bool slow_path, const char **why);

enum outcome judge_egress(const struct expect *e, const struct pkt *in,
			  const struct pkt *out, __u32 verdict,
			  const char **why);

extern const char *const outcome_names[O_COUNT];

extern const char *const mode_names[MODE_COUNT];

#endif /* KANARY_PACKET_FUZZ_H */
