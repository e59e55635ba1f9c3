// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * test_packet_fuzz.c - the data path against millions of random and mutated
 * packets: the real programs and maps, loaded by the agent's own loader
 * (lib/datapath/open.c) without attaching, driven through
 * bpf_prog_test_run_opts in the four ways the kernel runs them: XDP alone,
 * the XDP-mode pipeline (XDP, then tc ingress for what XDP passes), tc
 * ingress alone and tc egress.
 *
 * Packets start valid (SYNs, data, FIN/RST, UDP, replies of recorded flows,
 * HTTP requests and responses, strays near the VIPs and the backends, other
 * protocols) and most are then mutated: truncated, padded, bits flipped,
 * lengths and offsets made inconsistent, IP and TCP options, fragments, odd
 * TCP flags, other ethertypes, protocols, addresses and ports, checksums
 * broken or left as an offloading sender leaves them. An oracle written
 * from the rules documented in bpf/kanary_parse.h, sharing no code with the
 * programs, classifies each packet, and every output must hold:
 *
 *  (a) not for a service (ingress: no service VIP:port:proto; egress: not a
 *      reply of a flow in kn_replies): passed, byte for byte unchanged;
 *  (b) changed: only a packet for a service; its new destination (ingress)
 *      is a backend of that service, its new source (egress) the VIP:port of
 *      the reply flow's service, which the old source was a backend of;
 *      nothing but addresses, ports and checksums differs; and a
 *      well-formed packet for a service is never passed untranslated (XDP
 *      alone leaves a checksum that looks offloaded to tc);
 *  (c) checksums that verified before verify after, computed from scratch
 *      (packets.h); half the tc runs get a CHECKSUM_COMPLETE skb, and the
 *      kernel then checks that skb->csum still matches the data;
 *  (d) a drop only for a documented reason (no backend, rewrite failed),
 *      read from the counters at each drop; "no backend" only for a service
 *      whose pools are empty.
 * At the end, the programs' per-reason counters must equal the oracle's.
 *
 * The default seed changes per run and is printed: rerun a failure with the
 * same PACKETS and SEED. Failing packets are printed in hex.
 * The loop also stops at a time limit, below tests/run's own, and then says
 * how far it got and fails: a slow machine shows as such, not as a kill.
 * Usage: test_packet_fuzz [PACKETS [SEED [SECONDS]]]   (prints TAP; default
 * 10M packets, 600 s)
 */
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

#include "bpf_test.h"
#include "datapath/dataplane.h"
#include "kanary_shared.h"
#include "util/log.h"
#include "packets.h"
#include "../lib/stale_pins.h"

#define DEFAULT_PACKETS	     10000000ULL
#define DEFAULT_TIME_LIMIT_S 600
#define TIME_CHECK_EVERY     4096
/* Small enough that LRU eviction happens during a run (replies of evicted
 * flows must then pass untouched), large enough to keep most flows. */
#define FUZZ_MAX_FLOWS	  (1U << 18)
#define FUZZ_MAX_SERVICES 16
#define FUZZ_MAX_BACKENDS 256

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
#define WARMUP_CLIENTS	 256
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
#define TCPF_URG       0x20
#define TCPF_ECE       0x40
#define TCPF_CWR       0x80

/*
 * The kernel's skb test harness refuses IPv4 frames shorter than Ethernet +
 * IPv4 header and IPv6 frames shorter than Ethernet + IPv6 header (EINVAL
 * before any program runs): such frames go through XDP only.
 */
#define TC_HARNESS_MIN_IPV4 (ETH_HLEN + 20)
#define TC_HARNESS_MIN_IPV6 (ETH_HLEN + 40)

#define PAYLOAD_MAX	    512
#define RANDOM_FRAME_MAX    256
#define MAX_MUTATIONS	    4
#define MAX_FAILURE_REPORTS 12
#define DUMP_BYTES	    96
#define PROGRESS_EVERY	    (1U << 20)

/* ---- services ----------------------------------------------------------- */

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

/*
 * Two VIPs, several ports, both protocols, one port number (80) on both
 * protocols, a backend address shared by services on other ports, and two
 * services with no backend at all (their packets are the documented drops).
 */
static const struct fz_service services[] = {
    {
	.name = "fz-http",
	.vip = {VIP_A, 80},
	.proto = IPPROTO_TCP,
	.flags = KN_SVC_F_HTTP,
	.canary_bp = 3000,
	.stable_count = 3,
	.stable = {{STABLE(1), 8000}, {STABLE(2), 8000}, {STABLE(3), 8001}},
	.canary_count = 2,
	.canary = {{CANARY(1), 8000}, {CANARY(2), 8000}},
    },
    {
	.name = "fz-tcp",
	.vip = {VIP_A, 8080},
	.proto = IPPROTO_TCP,
	.canary_bp = 5000,
	.stable_count = 2,
	.stable = {{STABLE(1), 9000}, {STABLE(4), 9000}},
	.canary_count = 1,
	.canary = {{CANARY(1), 9000}},
    },
    {
	.name = "fz-udp",
	.vip = {VIP_A, 53},
	.proto = IPPROTO_UDP,
	.canary_bp = 2000,
	.stable_count = 2,
	.stable = {{STABLE(1), 5300}, {STABLE(2), 5300}},
	.canary_count = 1,
	.canary = {{CANARY(3), 5300}},
    },
    {
	.name = "fz-udp-80",
	.vip = {VIP_A, 80},
	.proto = IPPROTO_UDP,
	.stable_count = 1,
	.stable = {{STABLE(5), 8000}},
    },
    {
	.name = "fz-vip-b",
	.vip = {VIP_B, 80},
	.proto = IPPROTO_TCP,
	.flags = KN_SVC_F_HTTP,
	.canary_bp = 10000,
	.stable_count = 1,
	.stable = {{STABLE(6), 80}},
	.canary_count = 1,
	.canary = {{CANARY(4), 80}},
    },
    {.name = "fz-drained", .vip = {VIP_A, 9000}, .proto = IPPROTO_TCP},
    {.name = "fz-drained-udp", .vip = {VIP_B, 53}, .proto = IPPROTO_UDP},
};

#define SERVICE_COUNT (sizeof(services) / sizeof(services[0]))

static const struct fz_service *find_service(uint32_t addr, uint16_t port,
					     uint8_t proto)
{
	size_t i;

	for (i = 0; i < SERVICE_COUNT; i++)
		if (services[i].vip.addr == addr &&
		    services[i].vip.port == port && services[i].proto == proto)
			return &services[i];
	return NULL;
}

static bool is_backend_of(const struct fz_service *svc, uint32_t addr,
			  uint16_t port)
{
	uint32_t i;

	for (i = 0; i < svc->stable_count; i++)
		if (svc->stable[i].addr == addr && svc->stable[i].port == port)
			return true;
	for (i = 0; i < svc->canary_count; i++)
		if (svc->canary[i].addr == addr && svc->canary[i].port == port)
			return true;
	return false;
}

static uint32_t backend_count(const struct fz_service *svc)
{
	return svc->stable_count + svc->canary_count;
}

/* ---- randomness --------------------------------------------------------- */

static uint64_t rng_state;

/* xorshift64*: fast, and enough for choosing packets. */
static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static uint32_t rnd_below(uint32_t n)
{
	return (uint32_t)(((rnd() >> 32) * (uint64_t)n) >> 32);
}

static bool chance(uint32_t percent)
{
	return rnd_below(100) < percent;
}

static void rnd_bytes(uint8_t *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)rnd();
}

static const struct fz_service *random_service(int proto)
{
	const struct fz_service *svc;

	do
		svc = &services[rnd_below(SERVICE_COUNT)];
	while (proto && svc->proto != proto);
	return svc;
}

static struct fz_endpoint random_backend(void)
{
	const struct fz_service *svc;

	do
		svc = random_service(0);
	while (!backend_count(svc));
	if (rnd_below(backend_count(svc)) < svc->stable_count)
		return svc->stable[rnd_below(svc->stable_count)];
	return svc->canary[rnd_below(svc->canary_count)];
}

static uint32_t random_client(void)
{
	return CLIENT_BASE + rnd_below(CLIENTS);
}

static uint16_t random_client_port(void)
{
	return (uint16_t)(CLIENT_PORT_BASE + rnd_below(CLIENT_PORTS));
}

/* Addresses equal to and next to the VIPs, backends and clients. */
static uint32_t random_addr(void)
{
	switch (rnd_below(8)) {
	case 0:
		return chance(50) ? VIP_A : VIP_B;
	case 1:
		return (chance(50) ? VIP_A : VIP_B) + (chance(50) ? 1 : -1);
	case 2:
		return random_backend().addr;
	case 3:
		return random_backend().addr + (chance(50) ? 1 : -1);
	case 4:
		return random_client();
	case 5:
		return BENCH_NET | ((uint32_t)rnd() & BENCH_HOST_MASK);
	case 6:
		return chance(50) ? 0 : 0xffffffffU;
	default:
		return (uint32_t)rnd();
	}
}

static uint16_t random_port(void)
{
	switch (rnd_below(6)) {
	case 0:
		return random_service(0)->vip.port;
	case 1:
		return (uint16_t)(random_service(0)->vip.port +
				  (chance(50) ? 1 : -1));
	case 2:
		return random_backend().port;
	case 3:
		return random_client_port();
	case 4:
		return chance(50) ? 0 : 0xffff;
	default:
		return (uint16_t)rnd();
	}
}

/* ---- frame access and checksums ----------------------------------------- */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	       ((uint32_t)p[2] << 8) | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static bool is_ipv4_frame(const struct pkt *p)
{
	return p->len >= IP_OFF + IPV4_MIN_HLEN &&
	       get16(p->data + ETH_TYPE_OFF) == ETH_P_IP;
}

static uint32_t ip_hlen(const struct pkt *p)
{
	return (p->data[IP_OFF] & 0xf) * 4u;
}

static void fix_ip_csum(struct pkt *p)
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
static void fix_l4_csum(struct pkt *p, bool partial)
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

static void fix_checksums(struct pkt *p, bool partial)
{
	fix_ip_csum(p);
	fix_l4_csum(p, partial);
}

/* ---- building valid packets ---------------------------------------------- */

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
	K_NOT_IPV4,	  /* ARP, IPv6, VLAN-tagged, other ethertypes */
	K_NOT_TCP_UDP,	  /* ICMP, GRE, SCTP... to the VIP */
	K_RANDOM,	  /* random bytes, some with an IPv4 header start */
	K_COUNT,
};

static const char *const kind_names[K_COUNT] = {
    "syn",	   "data",	    "fin/rst",
    "udp",	   "reply-tcp",	    "reply-http",
    "reply-udp",   "udp-csum-edge", "reply-udp-csum-edge",
    "stray",	   "fragment",	    "not-ipv4",
    "not-tcp/udp", "random",
};

/* A flow as ingress translated it: what replies and later packets use. */
struct flow_rec {
	uint32_t client, backend;
	uint16_t cport, bport;
	uint8_t proto;
};

static struct flow_rec flow_ring[FLOW_RING];
static uint32_t flow_ring_len, flow_ring_next;

static void flow_remember(const struct flow_rec *f)
{
	flow_ring[flow_ring_next] = *f;
	flow_ring_next = (flow_ring_next + 1) % FLOW_RING;
	if (flow_ring_len < FLOW_RING)
		flow_ring_len++;
}

/* A remembered flow of proto, or NULL. */
static const struct flow_rec *random_flow(uint8_t proto)
{
	uint32_t tries;

	if (!flow_ring_len)
		return NULL;
	for (tries = 0; tries < 8; tries++) {
		const struct flow_rec *f = &flow_ring[rnd_below(flow_ring_len)];

		if (f->proto == proto)
			return f;
	}
	return NULL;
}

struct l4_opts {
	uint8_t bytes[40];
	uint32_t len; /* a multiple of 4 */
};

/* TCP options as real stacks send them, or random bytes. */
static void random_tcp_options(struct l4_opts *o)
{
	static const uint8_t syn_opts[] = {
	    2, 4,  0x05, 0xb4,			 /* MSS 1460 */
	    4, 2,				 /* SACK permitted */
	    8, 10, 0,	 0,    0, 1, 0, 0, 0, 0, /* timestamps */
	    1,					 /* NOP */
	    3, 3,  7,				 /* window scale 7 */
	};
	static const uint8_t ts_opts[] = {1, 1, 8, 10, 0, 0, 0, 2, 0, 0, 0, 1};

	switch (rnd_below(4)) {
	case 0:
		o->len = 0;
		break;
	case 1:
		memcpy(o->bytes, syn_opts, sizeof(syn_opts));
		o->len = sizeof(syn_opts);
		break;
	case 2:
		memcpy(o->bytes, ts_opts, sizeof(ts_opts));
		o->len = sizeof(ts_opts);
		break;
	default:
		o->len = 4 * (1 + rnd_below(10));
		rnd_bytes(o->bytes, o->len);
		break;
	}
}

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
};

static void build(struct pkt *p, const struct gen *g)
{
	uint8_t body[sizeof(g->opts.bytes) + PAYLOAD_MAX];
	struct pkt_spec s = {
	    .saddr = g->saddr,
	    .daddr = g->daddr,
	    .sport = g->sport,
	    .dport = g->dport,
	    .proto = g->proto,
	    .tcp_flags = g->flags,
	    .payload = body,
	};
	uint32_t opt_len = g->proto == IPPROTO_TCP ? g->opts.len : 0;

	/* TCP options sit right after the 20-byte header, where pkt_build
	 * puts the payload: build them as payload, then claim them. */
	memcpy(body, g->opts.bytes, opt_len);
	memcpy(body + opt_len, g->payload, g->payload_len);
	s.payload_len = opt_len + g->payload_len;
	pkt_build(p, &s);
	if (g->proto == IPPROTO_TCP)
		p->data[L4_OFF + TCP_DOFF_BYTE] =
		    (uint8_t)(((TCP_MIN_HLEN + opt_len) / 4) << 4);
	if (g->dont_fragment) {
		put16(p->data + IP_FRAG_OFF, IP_DF_BIT);
		fix_ip_csum(p);
	}
	fix_l4_csum(p, g->partial);
	if (g->proto == IPPROTO_UDP && g->udp_no_csum)
		put16(p->data + L4_OFF + UDP_CSUM_FIELD, 0);
}

/*
 * Sets the first payload word so that the datagram's checksum, once its
 * destination (or source) becomes addr:port, computes to 0 - which UDP must
 * send as 0xffff, 0 meaning "no checksum". A 1-in-65536 case that random
 * packets would hardly ever reach.
 */
static void udp_checksum_zero_after(struct gen *g, bool dst_side, uint32_t addr,
				    uint16_t port)
{
	struct gen t;
	struct pkt tp;
	uint32_t l4_len;
	uint16_t sum;

	if (g->payload_len < 2)
		g->payload_len = 2;
	g->payload[0] = g->payload[1] = 0;
	t = *g;
	if (dst_side) {
		t.daddr = addr;
		t.dport = port;
	} else {
		t.saddr = addr;
		t.sport = port;
	}
	build(&tp, &t);
	l4_len = tp.len - L4_OFF;
	put16(tp.data + L4_OFF + UDP_CSUM_FIELD, 0);
	sum = csum_fold_host(csum_add_bytes(csum_pseudo(pkt_ip(&tp), l4_len),
					    tp.data + L4_OFF, l4_len));
	/* The word at payload offset 0 (even) adds to the sum as is. */
	put16(g->payload, (uint16_t)(0xffff - sum));
}

static const char *const http_requests[] = {
    "GET /health HTTP/1.1\r\nHost: model\r\n\r\n",
    "POST /v1/predict HTTP/1.1\r\nContent-Type: application/json\r\n"
    "Content-Length: 16\r\n\r\n{\"text\":\"good\"}",
    "POST /predict HTTP/1.0\r\n\r\n",
};

static const char *const http_statuses[] = {
    "HTTP/1.1 200 OK\r\n",	  "HTTP/1.1 503 Service Unavailable\r\n",
    "HTTP/1.0 404 Not Found\r\n", "HTTP/1.1 100 Continue\r\n",
    "HTTP/1.1 204\r\n\r\n",	  "HTTP/1.1 2x0 OK\r\n",
    "HTTP/1.1 600 Odd\r\n",	  "HTTP/1.2 200 OK\r\n",
    "HTTP/2 200 \r\n\r\n",	  "HTTP/1.1 200",
    "HTTP/1.1 099 Low\r\n",	  "HTTP/1.1 302\tFound\r\n",
};

static void random_payload(struct gen *g, uint32_t max)
{
	g->payload_len = rnd_below(max + 1);
	rnd_bytes(g->payload, g->payload_len);
}

static void text_payload(struct gen *g, const char *text)
{
	size_t len = strlen(text);

	memcpy(g->payload, text, len);
	g->payload_len = (uint32_t)len;
	/* Sometimes more follows in the same segment. */
	if (chance(50) && len + 64 <= PAYLOAD_MAX) {
		rnd_bytes(g->payload + len, 64);
		g->payload_len += 64;
	}
}

static void to_service(struct gen *g, const struct fz_service *svc)
{
	g->saddr = random_client();
	g->sport = random_client_port();
	g->daddr = svc->vip.addr;
	g->dport = svc->vip.port;
	g->proto = svc->proto;
}

/* The service a backend serves on proto (a backend address can serve several
 * services, on other ports). */
static const struct fz_service *service_of_backend(uint32_t addr, uint16_t port,
						   uint8_t proto)
{
	size_t i;

	for (i = 0; i < SERVICE_COUNT; i++)
		if (services[i].proto == proto &&
		    is_backend_of(&services[i], addr, port))
			return &services[i];
	return NULL;
}

/* Client to VIP on the remembered flow f, or on a new one when NULL. */
static void on_flow_of(struct gen *g, uint8_t proto, const struct flow_rec *f)
{
	const struct fz_service *svc =
	    f ? service_of_backend(f->backend, f->bport, proto) : NULL;

	to_service(g, svc ? svc : random_service(proto));
	if (svc) {
		g->saddr = f->client;
		g->sport = f->cport;
	}
}

/* A packet of a remembered flow, client to VIP, or to a random service. */
static void on_flow(struct gen *g, uint8_t proto)
{
	on_flow_of(g, proto, chance(80) ? random_flow(proto) : NULL);
}

/* Backend to client, on a remembered flow when there is one. */
static bool reply_of_flow(struct gen *g, uint8_t proto)
{
	const struct flow_rec *f = random_flow(proto);
	struct fz_endpoint b;

	g->proto = proto;
	if (f) {
		g->saddr = f->backend;
		g->sport = f->bport;
		g->daddr = f->client;
		g->dport = f->cport;
		return true;
	}
	b = random_backend();
	g->saddr = b.addr;
	g->sport = b.port;
	g->daddr = random_client();
	g->dport = random_client_port();
	return false;
}

static void frame_not_ipv4(struct pkt *p)
{
	struct gen g = {0};

	to_service(&g, random_service(IPPROTO_TCP));
	g.flags = TCPF_SYN;
	build(p, &g);
	switch (rnd_below(5)) {
	case 0: /* ARP */
		put16(p->data + ETH_TYPE_OFF, ETH_P_ARP);
		p->len = ETH_HLEN + 28;
		break;
	case 1: /* IPv6 carrying the same bytes */
		put16(p->data + ETH_TYPE_OFF, ETH_P_IPV6);
		p->data[IP_OFF] = 0x60;
		break;
	case 2: /* 802.1Q and 802.1ad tags before a valid IPv4 SYN */
	case 3:
		memmove(p->data + ETH_TYPE_OFF + VLAN_TAG_LEN,
			p->data + ETH_TYPE_OFF, p->len - ETH_TYPE_OFF);
		put16(p->data + ETH_TYPE_OFF,
		      rnd_below(2) ? ETH_P_8021Q : ETH_P_8021AD);
		put16(p->data + ETH_TYPE_OFF + 2, (uint16_t)rnd_below(4096));
		p->len += VLAN_TAG_LEN;
		break;
	default: /* any other ethertype, 802.3 lengths included */
		put16(p->data + ETH_TYPE_OFF, (uint16_t)rnd());
		if (get16(p->data + ETH_TYPE_OFF) == ETH_P_IP)
			put16(p->data + ETH_TYPE_OFF, ETH_P_IP + 1);
		break;
	}
}

static void frame_not_tcp_udp(struct pkt *p)
{
	static const uint8_t protos[] = {
	    IPPROTO_ICMP, IPPROTO_GRE, IPPROTO_SCTP, IPPROTO_IPIP, 0, 255};
	struct gen g = {0};
	uint8_t proto;

	to_service(&g, random_service(0));
	g.proto = IPPROTO_UDP;
	random_payload(&g, 64);
	build(p, &g);
	proto = chance(70) ? protos[rnd_below(sizeof(protos))] : (uint8_t)rnd();
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP)
		proto = IPPROTO_ICMP;
	p->data[IP_PROTO_OFF] = proto;
	fix_ip_csum(p);
}

static void frame_random(struct pkt *p)
{
	memset(p, 0, sizeof(*p));
	p->len = ETH_HLEN + rnd_below(RANDOM_FRAME_MAX);
	rnd_bytes(p->data, p->len);
	if (chance(50) && p->len >= IP_OFF + IPV4_MIN_HLEN) {
		put16(p->data + ETH_TYPE_OFF, ETH_P_IP);
		p->data[IP_OFF] = 0x45;
		if (chance(50))
			p->data[IP_PROTO_OFF] =
			    chance(50) ? IPPROTO_TCP : IPPROTO_UDP;
		if (chance(50))
			put32(p->data + IP_DADDR_OFF, random_addr());
	}
}

static void generate(enum pkt_kind kind, struct pkt *p)
{
	struct gen g;

	memset(&g, 0, sizeof(g));
	g.partial = chance(10);
	g.dont_fragment = chance(50);
	switch (kind) {
	case K_SYN:
		to_service(&g, random_service(IPPROTO_TCP));
		g.flags =
		    chance(90) ? TCPF_SYN : TCPF_SYN | TCPF_ECE | TCPF_CWR;
		random_tcp_options(&g.opts);
		if (chance(10)) /* TCP Fast Open carries data */
			random_payload(&g, 64);
		break;
	case K_DATA:
		on_flow(&g, IPPROTO_TCP);
		g.flags = chance(70) ? TCPF_ACK | TCPF_PSH : TCPF_ACK;
		if (chance(30))
			text_payload(
			    &g,
			    http_requests[rnd_below(sizeof(http_requests) /
						    sizeof(http_requests[0]))]);
		else
			random_payload(&g, chance(30) ? 0 : PAYLOAD_MAX);
		if (chance(30))
			random_tcp_options(&g.opts);
		break;
	case K_CLOSE: {
		static const uint8_t close_flags[] = {
		    TCPF_FIN | TCPF_ACK, TCPF_RST, TCPF_RST | TCPF_ACK,
		    TCPF_FIN | TCPF_PSH | TCPF_ACK};

		on_flow(&g, IPPROTO_TCP);
		g.flags = close_flags[rnd_below(sizeof(close_flags))];
		break;
	}
	case K_UDP:
		on_flow(&g, IPPROTO_UDP);
		random_payload(&g, chance(20) ? 0 : PAYLOAD_MAX);
		g.udp_no_csum = chance(15);
		break;
	case K_REPLY_TCP: {
		static const uint8_t reply_flags[] = {
		    TCPF_SYN | TCPF_ACK, TCPF_ACK, TCPF_ACK | TCPF_PSH,
		    TCPF_FIN | TCPF_ACK, TCPF_RST, TCPF_RST | TCPF_ACK};

		reply_of_flow(&g, IPPROTO_TCP);
		g.flags = reply_flags[rnd_below(sizeof(reply_flags))];
		if (g.flags & TCPF_PSH)
			random_payload(&g, PAYLOAD_MAX);
		if (chance(30))
			random_tcp_options(&g.opts);
		break;
	}
	case K_REPLY_HTTP:
		reply_of_flow(&g, IPPROTO_TCP);
		g.flags = TCPF_ACK | TCPF_PSH;
		text_payload(
		    &g, http_statuses[rnd_below(sizeof(http_statuses) /
						sizeof(http_statuses[0]))]);
		break;
	case K_REPLY_UDP:
		reply_of_flow(&g, IPPROTO_UDP);
		random_payload(&g, PAYLOAD_MAX);
		g.udp_no_csum = chance(15);
		break;
	case K_UDP_EDGE: {
		const struct flow_rec *f = random_flow(IPPROTO_UDP);

		/* A known flow keeps its backend: the pools never change. */
		on_flow_of(&g, IPPROTO_UDP, f);
		random_payload(&g, 64);
		if (f && g.saddr == f->client)
			udp_checksum_zero_after(&g, true, f->backend, f->bport);
		break;
	}
	case K_REPLY_UDP_EDGE: {
		const struct fz_service *svc;

		reply_of_flow(&g, IPPROTO_UDP);
		random_payload(&g, 64);
		svc = service_of_backend(g.saddr, g.sport, IPPROTO_UDP);
		if (svc)
			udp_checksum_zero_after(&g, false, svc->vip.addr,
						svc->vip.port);
		break;
	}
	case K_STRAY:
		g.proto = chance(60) ? IPPROTO_TCP : IPPROTO_UDP;
		if (chance(50)) {
			/* A reply that almost matches a flow. */
			reply_of_flow(&g, g.proto);
			if (chance(50))
				g.dport = (uint16_t)(g.dport + 1);
			else
				g.sport = random_port();
		} else {
			g.saddr = random_addr();
			g.daddr = random_addr();
			g.sport = random_port();
			g.dport = random_port();
		}
		g.flags = (uint8_t)rnd();
		random_payload(&g, 64);
		break;
	case K_FRAGMENT:
		to_service(&g, random_service(0));
		g.flags = TCPF_SYN;
		random_payload(&g, 64);
		build(p, &g);
		put16(p->data + IP_FRAG_OFF,
		      chance(50) ? IP_MF_BIT
				 : (uint16_t)(1 + rnd_below(IP_OFFSET_MASK)) |
				       (chance(50) ? IP_MF_BIT : 0));
		fix_ip_csum(p);
		return;
	case K_NOT_IPV4:
		frame_not_ipv4(p);
		return;
	case K_NOT_TCP_UDP:
		frame_not_tcp_udp(p);
		return;
	case K_RANDOM:
	case K_COUNT:
		frame_random(p);
		return;
	}
	build(p, &g);
}

/* ---- mutations ----------------------------------------------------------- */

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

static const char *const mutation_names[M_COUNT] = {
    "truncate",	 "pad",	       "bit-flips",  "random-byte",  "ip-tot-len",
    "ip-ihl",	 "ip-options", "ip-version", "ip-frag",	     "ip-proto",
    "ethertype", "tcp-doff",   "tcp-flags",  "udp-len",	     "saddr",
    "daddr",	 "sport",      "dport",	     "csum-partial", "csum-broken",
};

static uint8_t l4_proto(const struct pkt *p)
{
	return is_ipv4_frame(p) ? p->data[IP_PROTO_OFF] : 0;
}

static uint8_t *l4_at(struct pkt *p, uint32_t need)
{
	uint32_t off;

	if (!is_ipv4_frame(p) || ip_hlen(p) < IPV4_MIN_HLEN)
		return NULL;
	off = IP_OFF + ip_hlen(p);
	return off + need <= p->len ? p->data + off : NULL;
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

static void mutate_one(struct pkt *p, enum mutation m)
{
	uint8_t *l4;
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
	case M_VERSION:
		if (is_ipv4_frame(p))
			p->data[IP_OFF] = (uint8_t)((rnd_below(16) << 4) |
						    (p->data[IP_OFF] & 0xf));
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
	case M_SADDR:
	case M_DADDR:
		if (is_ipv4_frame(p))
			put32(p->data +
				  (m == M_SADDR ? IP_SADDR_OFF : IP_DADDR_OFF),
			      random_addr());
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
		if (is_ipv4_frame(p)) {
			l4 = l4_at(p, TCP_MIN_HLEN);
			if (chance(50) || !l4)
				p->data[IP_CSUM_OFF] ^=
				    (uint8_t)(1 + rnd_below(255));
			else
				l4[l4_proto(p) == IPPROTO_TCP
				       ? TCP_CSUM_FIELD
				       : UDP_CSUM_FIELD] ^=
				    (uint8_t)(1 + rnd_below(255));
		}
		break;
	case M_COUNT:
		break;
	}
}

#define MUTATE_CLEAN_PERCENT	  25
#define MUTATE_RECHECKSUM_PERCENT 50

static uint64_t mutation_counts[M_COUNT];
static uint64_t rechecksummed;

/* Returns a mask of the mutations applied (0: the packet stays valid). */
static uint32_t mutate(struct pkt *p)
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

/* ---- the oracle ---------------------------------------------------------- */

/* The oracle's word for a packet the programs must translate (or drop for
 * a documented reason): distinct from every enum kn_reason. */
#define CANDIDATE KN_R_COUNT

/* What the oracle reads from a packet, host order. */
struct view {
	uint32_t reason; /* CANDIDATE: a candidate; else enum kn_reason */
	uint8_t proto;
	uint32_t saddr, daddr;
	uint16_t sport, dport;
};

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

static int replies_fd = -1;

static void classify(enum kn_hook hook, const struct pkt *p, struct expect *e)
{
	memset(e, 0, sizeof(*e));
	oracle_parse(p, &e->v);
	e->reason = e->v.reason;
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

static bool unchanged(const struct pkt *in, const struct pkt *out)
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

static const char *const outcome_names[O_COUNT] = {
    "translated",	  "translated-by-tc", "untouched",
    "left-to-tc",	  "drop-no-backend",  "drop-rewrite-failed",
    "not-run-by-harness", "FAILED",
};

enum mode {
	MODE_XDP,
	MODE_PIPELINE,
	MODE_TC_INGRESS,
	MODE_TC_EGRESS,
	MODE_COUNT,
};

static const char *const mode_names[MODE_COUNT] = {
    "xdp",
    "xdp-mode pipeline",
    "tc ingress",
    "tc egress",
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

static struct fuzz_stats st;

static struct {
	struct dataplane *dp;
	char pin_dir[128];
	uint64_t packets;
	uint64_t seed;
	double time_limit_s;
	uint64_t ran;				    /* packets actually tried */
	struct kn_global_stats base[KN_HOOK_COUNT]; /* after the warm-up */
	struct kn_global_stats last[KN_HOOK_COUNT]; /* at the last drop */
	double seconds;
} fz;

static bool is_pass(enum kn_hook hook, __u32 verdict)
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
static enum outcome attribute_drop(enum kn_hook hook,
				   const struct fz_service *svc,
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
static enum outcome judge_ingress(const struct expect *e, const struct pkt *in,
				  const struct pkt *out, enum kn_hook drop_hook,
				  __u32 verdict, bool slow_path,
				  const char **why)
{
	uint32_t addr;
	uint16_t port;

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

static enum outcome judge_egress(const struct expect *e, const struct pkt *in,
				 const struct pkt *out, __u32 verdict,
				 const char **why)
{
	uint32_t addr;
	uint16_t port;

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

/* ---- running the programs ----------------------------------------------- */

static bool tc_harness_refuses(const struct pkt *p)
{
	uint16_t type = get16(p->data + ETH_TYPE_OFF);

	return (type == ETH_P_IP && p->len < TC_HARNESS_MIN_IPV4) ||
	       (type == ETH_P_IPV6 && p->len < TC_HARNESS_MIN_IPV6);
}

static int run_prog(enum kn_hook hook, const struct pkt *in, struct pkt *out,
		    __u32 *verdict, bool csum_complete)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in->data,
		    .data_size_in = in->len, .data_out = out->data,
		    .data_size_out = sizeof(out->data), .repeat = 1);
	int ret;

	/* The kernel then sets skb->csum over the packet and, after the
	 * run, refuses with EBADMSG when it no longer matches the data. */
	if (hook != KN_HOOK_XDP_INGRESS && csum_complete) {
		opts.flags = BPF_F_TEST_SKB_CHECKSUM_COMPLETE;
		st.csum_complete_runs++;
	}
	ret = bpf_prog_test_run_opts(dp_prog_fd(fz.dp, hook), &opts);
	/* EBADMSG comes after the program ran; other errors before. */
	if (!ret || ret == -EBADMSG)
		st.runs[hook]++;
	out->len = opts.data_size_out;
	*verdict = opts.retval;
	return ret;
}

/* The oracle's reason for what a program counts, once it has run. */
static void expect_counted(enum kn_hook hook, const struct expect *e,
			   __u32 verdict)
{
	if (e->reason != CANDIDATE)
		st.expected[hook][e->reason]++;
	else if (is_pass(hook, verdict))
		st.expected[hook][KN_R_TRANSLATED]++;
	/* drops are counted by attribute_drop() */
}

static void dump(const char *what, const struct pkt *p)
{
	uint32_t i;

	printf("#   %s (%u bytes):", what, p->len);
	for (i = 0; i < p->len && i < DUMP_BYTES; i++)
		printf("%s%02x", i % 16 ? " " : "\n#     ", p->data[i]);
	printf("%s\n", p->len > DUMP_BYTES ? " ..." : "");
}

#define FAILURE_KINDS_MAX 32

/* Failures by what went wrong (the judges' messages are literals). */
static struct {
	const char *why;
	enum mode mode;
	uint64_t count;
} failure_kinds[FAILURE_KINDS_MAX];

/*
 * Counts a failure; prints the first packet of each kind of failure, and a
 * few more, in hex.
 */
static void report_failure(enum mode mode, enum pkt_kind kind, uint32_t mask,
			   const char *why, const struct pkt *in,
			   const struct pkt *out)
{
	bool first = false;
	size_t m, i;

	for (i = 0; i < FAILURE_KINDS_MAX; i++) {
		if (!failure_kinds[i].why) {
			failure_kinds[i].why = why;
			failure_kinds[i].mode = mode;
			first = true;
		}
		if (failure_kinds[i].why == why &&
		    failure_kinds[i].mode == mode) {
			failure_kinds[i].count++;
			break;
		}
	}
	if (!first && st.failures_printed >= MAX_FAILURE_REPORTS)
		return;
	st.failures_printed++;
	printf("# %s, %s packet: %s\n#   mutations:", mode_names[mode],
	       kind_names[kind], why);
	for (m = 0; m < M_COUNT; m++)
		if (mask & (1u << m))
			printf(" %s", mutation_names[m]);
	printf("%s\n", mask ? "" : " none");
	dump("in", in);
	if (out)
		dump("out", out);
}

/* Remembers an ingress translation as a flow that replies can use. */
static void remember(const struct expect *e, const struct pkt *out)
{
	struct flow_rec f = {
	    .client = e->v.saddr,
	    .cport = e->v.sport,
	    .backend = get32(out->data + IP_DADDR_OFF),
	    .bport = get16(out->data + L4_OFF + 2),
	    .proto = e->v.proto,
	};

	flow_remember(&f);
}

/*
 * Runs one program on in, after classifying in for it. A run the kernel
 * refuses with EBADMSG ran the program but left skb->csum wrong: the
 * program counted the packet, so the oracle counts it too, as translated.
 */
static int run_classified(enum kn_hook hook, const struct pkt *in,
			  struct pkt *out, struct expect *e, __u32 *verdict,
			  bool csum_complete, const char **why)
{
	int ret;

	classify(hook, in, e);
	ret = run_prog(hook, in, out, verdict, csum_complete);
	if (!ret) {
		expect_counted(hook, e, *verdict);
		return 0;
	}
	if (ret == -EBADMSG) {
		expect_counted(hook, e, TC_OK_VERDICT);
		*why = "skb->csum (CHECKSUM_COMPLETE) no longer matches the "
		       "packet";
	} else {
		*why = "bpf_prog_test_run_opts failed";
		st.harness_errors++;
	}
	out->len = 0;
	return ret;
}

static enum outcome fuzz_one(enum mode mode, const struct pkt *in,
			     const char **why, struct pkt *out)
{
	enum kn_hook hook = mode == MODE_XDP	     ? KN_HOOK_XDP_INGRESS
			    : mode == MODE_TC_EGRESS ? KN_HOOK_TC_EGRESS
						     : KN_HOOK_TC_INGRESS;
	bool complete = chance(50);
	struct expect e, e2;
	struct pkt mid;
	__u32 verdict;
	enum outcome o;

	*why = NULL;
	out->len = 0;
	if (mode != MODE_XDP && mode != MODE_PIPELINE && tc_harness_refuses(in))
		return O_NOT_RUN;
	switch (mode) {
	case MODE_XDP:
	case MODE_TC_INGRESS:
		if (run_classified(hook, in, out, &e, &verdict, complete, why))
			return O_FAILED;
		o = judge_ingress(&e, in, out, hook, verdict, false, why);
		if (o == O_TRANSLATED)
			remember(&e, out);
		return o;
	case MODE_PIPELINE:
		if (run_classified(KN_HOOK_XDP_INGRESS, in, &mid, &e, &verdict,
				   false, why))
			return O_FAILED;
		if (!is_pass(KN_HOOK_XDP_INGRESS, verdict) ||
		    tc_harness_refuses(&mid)) {
			*out = mid;
			return judge_ingress(&e, in, out, KN_HOOK_XDP_INGRESS,
					     verdict, false, why);
		}
		if (run_classified(KN_HOOK_TC_INGRESS, &mid, out, &e2, &verdict,
				   complete, why))
			return O_FAILED;
		/* What XDP leaves to tc, tc must translate: judged as one
		 * ingress decision, without the XDP-only exception. */
		if (e.reason == KN_R_PARTIAL_CSUM)
			e.reason = CANDIDATE;
		o = judge_ingress(&e, in, out, KN_HOOK_TC_INGRESS, verdict,
				  unchanged(in, &mid), why);
		if (o == O_TRANSLATED || o == O_TRANSLATED_SLOW)
			remember(&e, out);
		return o;
	case MODE_TC_EGRESS:
		if (run_classified(hook, in, out, &e, &verdict, complete, why))
			return O_FAILED;
		return judge_egress(&e, in, out, verdict, why);
	case MODE_COUNT:
		break;
	}
	return O_FAILED;
}

/* Which packets each mode gets, in relative weights per kind. */
static const uint8_t kind_weights[MODE_COUNT][K_COUNT] = {
    /* syn data close udp rtcp rhttp rudp edge redge stray frag !ip4 !l4
     * random */
    [MODE_XDP] = {20, 20, 6, 14, 3, 2, 3, 2, 0, 10, 4, 6, 4, 6},
    [MODE_PIPELINE] = {20, 20, 6, 14, 3, 2, 3, 2, 0, 10, 4, 6, 4, 6},
    [MODE_TC_INGRESS] = {20, 20, 6, 14, 3, 2, 3, 2, 0, 10, 4, 6, 4, 6},
    [MODE_TC_EGRESS] = {4, 4, 2, 4, 25, 15, 13, 0, 2, 13, 4, 5, 4, 5},
};

static enum pkt_kind pick_kind(enum mode mode)
{
	uint32_t total = 0, r, k;

	for (k = 0; k < K_COUNT; k++)
		total += kind_weights[mode][k];
	r = rnd_below(total);
	for (k = 0; k < K_COUNT; k++) {
		if (r < kind_weights[mode][k])
			return (enum pkt_kind)k;
		r -= kind_weights[mode][k];
	}
	return K_RANDOM;
}

/* ---- setup --------------------------------------------------------------- */

static struct endpoint ep_of(const struct fz_endpoint *e)
{
	struct endpoint out = {.addr.s_addr = htonl(e->addr), .port = e->port};

	return out;
}

static int add_services(void)
{
	char err[DP_ERR_LEN];
	size_t i;
	uint32_t b, index;

	for (i = 0; i < SERVICE_COUNT; i++) {
		const struct fz_service *s = &services[i];
		struct dp_service_def def = {
		    .proto = s->proto,
		    .flags = s->flags,
		    .stable_count = s->stable_count,
		    .canary_count = s->canary_count,
		    .canary_bp = s->canary_bp,
		};

		snprintf(def.name, sizeof(def.name), "%s", s->name);
		def.vip = ep_of(&s->vip);
		for (b = 0; b < s->stable_count; b++)
			def.stable[b] = ep_of(&s->stable[b]);
		for (b = 0; b < s->canary_count; b++)
			def.canary[b] = ep_of(&s->canary[b]);
		if (!ASSERT_OK(
			dp_service_add(fz.dp, &def, &index, err, sizeof(err)),
			s->name)) {
			printf("# %s\n", err);
			return -1;
		}
	}
	return 0;
}

/* SYNs and datagrams from many clients, through tc ingress: the flows that
 * the first replies will belong to. Each must be translated. */
static void warm_up(void)
{
	uint32_t c, failed = 0;
	size_t i;

	for (c = 0; c < WARMUP_CLIENTS; c++) {
		for (i = 0; i < SERVICE_COUNT; i++) {
			struct gen g = {0};
			struct expect e;
			struct pkt in, out;
			const char *why;
			__u32 verdict;

			if (!backend_count(&services[i]))
				continue;
			to_service(&g, &services[i]);
			g.saddr = CLIENT_BASE + c;
			g.flags = TCPF_SYN;
			build(&in, &g);
			classify(KN_HOOK_TC_INGRESS, &in, &e);
			if (run_prog(KN_HOOK_TC_INGRESS, &in, &out, &verdict,
				     false) ||
			    judge_ingress(&e, &in, &out, KN_HOOK_TC_INGRESS,
					  verdict, false,
					  &why) != O_TRANSLATED) {
				failed++;
				continue;
			}
			remember(&e, &out);
		}
	}
	ASSERT_EQ(failed, 0, "every warm-up packet translated");
}

static void test_setup(void)
{
	struct dp_options opts = {
	    .pin_dir = fz.pin_dir,
	    .max_flows = FUZZ_MAX_FLOWS,
	    .max_services = FUZZ_MAX_SERVICES,
	    .max_backends = FUZZ_MAX_BACKENDS,
	};
	char err[DP_ERR_LEN], path[sizeof(fz.pin_dir) + 16];
	int ret;

	ret = dp_open(&opts, &fz.dp, err, sizeof(err));
	if (!ASSERT_OK(ret, "dp_open")) {
		printf("# %s\n", err);
		fz.dp = NULL;
		return;
	}
	snprintf(path, sizeof(path), "%s/kn_replies", fz.pin_dir);
	replies_fd = bpf_obj_get(path);
	if (!ASSERT_TRUE(replies_fd >= 0, "open the pinned kn_replies") ||
	    add_services())
		goto fail;
	warm_up();
	if (!ASSERT_OK(dp_read_global(fz.dp, fz.base), "read counters"))
		goto fail;
	memcpy(fz.last, fz.base, sizeof(fz.base));
	memset(&st, 0, sizeof(st));
	memset(mutation_counts, 0, sizeof(mutation_counts));
	return;
fail:
	dp_close(fz.dp, true);
	fz.dp = NULL;
}

static bool have_dp(void)
{
	return ASSERT_TRUE(fz.dp != NULL, "the data path is set up");
}

/* ---- the checker itself must fail on a wrong output ---------------------- */

/*
 * Feeds the judges outputs that a broken data path could produce, built
 * from a real translation, and expects each one refused: a check that
 * cannot fail would prove nothing.
 */
static void test_checker_rejects_mistranslations(void)
{
	const struct fz_service *svc = &services[0];
	struct pkt in, out, bad, reply_in, reply_out;
	struct gen g = {0};
	struct expect e, er;
	const char *why;
	__u32 verdict;

	if (!have_dp())
		return;
	to_service(&g, svc);
	g.flags = TCPF_SYN;
	build(&in, &g);
	classify(KN_HOOK_TC_INGRESS, &in, &e);
	if (!ASSERT_OK(run_prog(KN_HOOK_TC_INGRESS, &in, &out, &verdict, false),
		       "run"))
		return;
	ASSERT_EQ(judge_ingress(&e, &in, &out, KN_HOOK_TC_INGRESS, verdict,
				false, &why),
		  O_TRANSLATED, "a real translation passes the judge");

	bad = out; /* a destination that is no backend, checksums right */
	put32(bad.data + IP_DADDR_OFF, STABLE(99));
	fix_checksums(&bad, false);
	ASSERT_EQ(judge_ingress(&e, &in, &bad, KN_HOOK_TC_INGRESS, verdict,
				false, &why),
		  O_FAILED, "refuses a destination outside the pools");
	bad = out; /* the backend of another port */
	put16(bad.data + L4_OFF + 2, 9000);
	fix_checksums(&bad, false);
	ASSERT_EQ(judge_ingress(&e, &in, &bad, KN_HOOK_TC_INGRESS, verdict,
				false, &why),
		  O_FAILED, "refuses a backend address with a wrong port");
	bad = out; /* the TTL changed too */
	bad.data[IP_OFF + 8]--;
	fix_checksums(&bad, false);
	ASSERT_EQ(judge_ingress(&e, &in, &bad, KN_HOOK_TC_INGRESS, verdict,
				false, &why),
		  O_FAILED, "refuses any other byte changed");
	bad = out; /* an off-by-one TCP checksum */
	bad.data[L4_OFF + TCP_CSUM_FIELD + 1]++;
	ASSERT_EQ(judge_ingress(&e, &in, &bad, KN_HOOK_TC_INGRESS, verdict,
				false, &why),
		  O_FAILED, "refuses a broken TCP checksum");
	bad = out; /* an off-by-one IP checksum */
	bad.data[IP_CSUM_OFF + 1]++;
	ASSERT_EQ(judge_ingress(&e, &in, &bad, KN_HOOK_TC_INGRESS, verdict,
				false, &why),
		  O_FAILED, "refuses a broken IPv4 checksum");
	ASSERT_EQ(judge_ingress(&e, &in, &in, KN_HOOK_TC_INGRESS, verdict,
				false, &why),
		  O_FAILED, "refuses a service packet passed untranslated");

	/* Not for a service: any change, or a drop, is refused. */
	bad = in;
	put16(bad.data + L4_OFF + 2, (uint16_t)(svc->vip.port + 1));
	fix_checksums(&bad, false);
	classify(KN_HOOK_TC_INGRESS, &bad, &er);
	ASSERT_EQ(judge_ingress(&er, &bad, &out, KN_HOOK_TC_INGRESS, verdict,
				false, &why),
		  O_FAILED, "refuses a change to a packet for no service");
	ASSERT_EQ(judge_ingress(&er, &bad, &bad, KN_HOOK_TC_INGRESS,
				TC_SHOT_VERDICT, false, &why),
		  O_FAILED, "refuses a drop of a packet for no service");

	/* Egress: the reply must leave as the VIP:port. */
	memset(&g, 0, sizeof(g));
	g.proto = IPPROTO_TCP;
	g.saddr = get32(out.data + IP_DADDR_OFF);
	g.sport = get16(out.data + L4_OFF + 2);
	g.daddr = e.v.saddr;
	g.dport = e.v.sport;
	g.flags = TCPF_SYN | TCPF_ACK;
	build(&reply_in, &g);
	classify(KN_HOOK_TC_EGRESS, &reply_in, &er);
	if (!ASSERT_OK(run_prog(KN_HOOK_TC_EGRESS, &reply_in, &reply_out,
				&verdict, false),
		       "egress run"))
		return;
	ASSERT_EQ(judge_egress(&er, &reply_in, &reply_out, verdict, &why),
		  O_TRANSLATED, "a real reply translation passes the judge");
	bad = reply_out;
	put16(bad.data + L4_OFF, (uint16_t)(svc->vip.port + 1));
	fix_checksums(&bad, false);
	ASSERT_EQ(judge_egress(&er, &reply_in, &bad, verdict, &why), O_FAILED,
		  "refuses a reply leaving from the wrong port");
	ASSERT_EQ(judge_egress(&er, &reply_in, &reply_in, verdict, &why),
		  O_FAILED, "refuses a reply of a flow passed untranslated");
	/* The counters still agree with the oracle afterwards. */
	expect_counted(KN_HOOK_TC_INGRESS, &e, TC_OK_VERDICT);
	expect_counted(KN_HOOK_TC_EGRESS, &er, TC_OK_VERDICT);
	flow_remember(&(struct flow_rec){.client = e.v.saddr,
					 .cport = e.v.sport,
					 .backend = g.saddr,
					 .bport = g.sport,
					 .proto = IPPROTO_TCP});
}

/* ---- the run ------------------------------------------------------------- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_fuzz_run(void)
{
	uint64_t i;
	double start;

	if (!have_dp())
		return;
	printf("# %" PRIu64 " packets, seed %" PRIu64
	       " (rerun: test_packet_fuzz %" PRIu64 " %" PRIu64 ")\n",
	       fz.packets, fz.seed, fz.packets, fz.seed);
	rng_state = fz.seed ? fz.seed : 1;
	start = now_s();
	for (i = 0; i < fz.packets; i++) {
		enum mode mode = (enum mode)rnd_below(MODE_COUNT);
		enum pkt_kind kind = pick_kind(mode);
		struct pkt in, out;
		const char *why;
		enum outcome o;
		uint32_t mask;

		generate(kind, &in);
		mask = mutate(&in);
		st.tried[mode][kind]++;
		if (mask)
			st.mutated[mode]++;
		o = fuzz_one(mode, &in, &why, &out);
		st.outcomes[mode][o]++;
		if (o == O_FAILED)
			report_failure(mode, kind, mask, why, &in,
				       out.len ? &out : NULL);
		if (i && !(i % PROGRESS_EVERY)) {
			printf("# %" PRIu64 " packets, %.1f s\n", i,
			       now_s() - start);
			fflush(stdout);
		}
		if (!((i + 1) % TIME_CHECK_EVERY) &&
		    now_s() - start > fz.time_limit_s) {
			printf("# stopped at the %.0f s time limit\n",
			       fz.time_limit_s);
			i++;
			break;
		}
	}
	fz.ran = i;
	fz.seconds = now_s() - start;
	printf("# %" PRIu64 " packets in %.1f s (%.0f packets/s), %" PRIu64
	       " program runs, %" PRIu64 " tc runs as CHECKSUM_COMPLETE\n",
	       fz.ran, fz.seconds, fz.ran / fz.seconds,
	       st.runs[0] + st.runs[1] + st.runs[2], st.csum_complete_runs);
	for (i = 0; i < FAILURE_KINDS_MAX && failure_kinds[i].why; i++)
		printf("# FAILED %" PRIu64 " times (%s): %s\n",
		       failure_kinds[i].count,
		       mode_names[failure_kinds[i].mode], failure_kinds[i].why);
	ASSERT_EQ(st.harness_errors, 0, "the kernel ran every packet");
	ASSERT_EQ(fz.ran, fz.packets, "every packet ran within the time limit");
}

static void report_mode(enum mode mode)
{
	uint64_t total = 0;
	size_t k, o;

	for (k = 0; k < K_COUNT; k++)
		total += st.tried[mode][k];
	printf("# %s: %" PRIu64 " packets (%" PRIu64 " mutated)\n#   tried:",
	       mode_names[mode], total, st.mutated[mode]);
	for (k = 0; k < K_COUNT; k++)
		printf(" %s %" PRIu64, kind_names[k], st.tried[mode][k]);
	printf("\n#   outcome:");
	for (o = 0; o < O_COUNT; o++)
		if (st.outcomes[mode][o] || o == O_FAILED)
			printf(" %s %" PRIu64, outcome_names[o],
			       st.outcomes[mode][o]);
	printf("\n");
}

static void mode_holds(enum mode mode)
{
	uint64_t translated;

	if (!have_dp())
		return;
	report_mode(mode);
	translated = st.outcomes[mode][O_TRANSLATED] +
		     st.outcomes[mode][O_TRANSLATED_SLOW];
	ASSERT_TRUE(translated > 0, "some packets were translated");
	ASSERT_TRUE(st.outcomes[mode][O_UNTOUCHED] > 0,
		    "some packets passed untouched");
	ASSERT_EQ(st.outcomes[mode][O_FAILED], 0,
		  "every packet holds the invariants");
}

static void test_xdp(void)
{
	mode_holds(MODE_XDP);
}

static void test_xdp_mode_pipeline(void)
{
	mode_holds(MODE_PIPELINE);
	ASSERT_TRUE(st.outcomes[MODE_PIPELINE][O_TRANSLATED_SLOW] > 0,
		    "some packets XDP left to tc were translated by tc");
}

static void test_tc_ingress(void)
{
	mode_holds(MODE_TC_INGRESS);
	ASSERT_TRUE(st.outcomes[MODE_TC_INGRESS][O_DROP_NO_BACKEND] > 0,
		    "packets for a drained service were dropped");
}

static void test_tc_egress(void)
{
	mode_holds(MODE_TC_EGRESS);
}

static const char *const reason_names[KN_R_COUNT] = {
    "translated", "not-ipv4",	 "not-for-us",	   "not-tcp/udp",
    "fragment",	  "ip-options",	 "malformed",	   "partial-csum",
    "no-backend", "config-race", "rewrite-failed",
};

/* The programs' own counters, per hook and reason, equal the oracle's. */
static void test_counters_match_oracle(void)
{
	static const char *const hook_names[KN_HOOK_COUNT] = {
	    "xdp", "tc ingress", "tc egress"};
	struct kn_global_stats now[KN_HOOK_COUNT];
	uint32_t hook, r;
	size_t m;

	if (!have_dp() || !ASSERT_OK(dp_read_global(fz.dp, now), "read"))
		return;
	for (hook = 0; hook < KN_HOOK_COUNT; hook++) {
		printf("# %s counters:", hook_names[hook]);
		for (r = 0; r < KN_R_COUNT; r++)
			printf(" %s %" PRIu64, reason_names[r],
			       (uint64_t)(now[hook].reason[r] -
					  fz.base[hook].reason[r]));
		printf("\n");
	}
	for (hook = 0; hook < KN_HOOK_COUNT; hook++) {
		char what[96];

		snprintf(what, sizeof(what), "%s: packets counted",
			 hook_names[hook]);
		ASSERT_EQ(now[hook].packets - fz.base[hook].packets,
			  st.runs[hook], what);
		for (r = 0; r < KN_R_COUNT; r++) {
			snprintf(what, sizeof(what), "%s: reason %s",
				 hook_names[hook], reason_names[r]);
			ASSERT_EQ(now[hook].reason[r] - fz.base[hook].reason[r],
				  st.expected[hook][r], what);
		}
	}
	printf("# mutations applied:");
	for (m = 0; m < M_COUNT; m++)
		printf(" %s %" PRIu64, mutation_names[m], mutation_counts[m]);
	printf("; checksums recomputed after mutation: %" PRIu64 "\n",
	       rechecksummed);
}

static const struct bpf_test tests[] = {
    {"setup", test_setup},
    {"checker_rejects_mistranslations", test_checker_rejects_mistranslations},
    {"fuzz_run", test_fuzz_run},
    {"xdp", test_xdp},
    {"xdp_mode_pipeline", test_xdp_mode_pipeline},
    {"tc_ingress", test_tc_ingress},
    {"tc_egress", test_tc_egress},
    {"counters_match_oracle", test_counters_match_oracle},
};

#define PIN_ROOT   "/sys/fs/bpf"
#define PIN_PREFIX "kanary-fuzz-"

int main(int argc, char **argv)
{
	char *end;
	int ret;

	log_set_program("test_packet_fuzz");
	fz.packets = DEFAULT_PACKETS;
	fz.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	if (argc > 1) {
		fz.packets = strtoull(argv[1], &end, 10);
		if (*end || !fz.packets) {
			fprintf(stderr,
				"usage: %s [PACKETS [SEED [SECONDS]]] "
				"(PACKETS > 0)\n",
				argv[0]);
			return 2;
		}
	}
	if (argc > 2) {
		fz.seed = strtoull(argv[2], &end, 10);
		if (*end) {
			fprintf(stderr, "%s: SEED must be a number\n", argv[0]);
			return 2;
		}
	}
	fz.time_limit_s = DEFAULT_TIME_LIMIT_S;
	if (argc > 3) {
		fz.time_limit_s = strtod(argv[3], &end);
		if (*end || fz.time_limit_s <= 0) {
			fprintf(stderr, "%s: SECONDS must be positive\n",
				argv[0]);
			return 2;
		}
	}
	remove_stale_pin_dirs(PIN_ROOT, PIN_PREFIX, true);
	snprintf(fz.pin_dir, sizeof(fz.pin_dir), "%s/%s%d", PIN_ROOT,
		 PIN_PREFIX, getpid());
	ret = bpf_test_main(tests, sizeof(tests) / sizeof(tests[0]), NULL);
	if (replies_fd >= 0)
		close(replies_fd);
	dp_close(fz.dp, true);
	return ret;
}
