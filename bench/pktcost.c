/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * pktcost.c - what one packet costs in kanary's programs, measured by the
 * kernel itself through bpf_prog_test_run_opts, next to do-nothing XDP and
 * tc programs measured the same way in the same run (the floor).
 *
 *   pktcost cost  [--rounds R] [--batch B] [--repeat N]
 *       per-packet cost of each case (see enum pc_case), CSV on stdout
 *   pktcost flows [--sizes N,N,...] [--rounds R] [--batch B]
 *                 [--memory FILE]
 *       cost of an established flow's packet with the connection table
 *       filled to N live entries, and the table's memory per connection
 *   pktcost stats SECONDS
 *       turns the kernel's run-time statistics of BPF programs on for
 *       SECONDS (they go off when pktcost exits): the per-packet cost of
 *       the programs attached in the end-to-end figures, under real traffic
 *   pktcost attach IFACE xdp|tc   /   pktcost detach IFACE
 *       the do-nothing program on a real interface (native XDP, or tc
 *       ingress), left attached when pktcost exits: the floor of the
 *       end-to-end figures, where the interface's own XDP or tc overhead
 *       is the same for kanary and for the floor
 *
 * Two methods, both reported:
 *   call    repeat = 1, one packet per call, many calls; the kernel's own
 *           duration of each run is summed. Every call gets a fresh copy of
 *           its packet, so a SYN is a new flow every time (a new source
 *           port or address) and nothing measures an already rewritten
 *           packet. The floor pays the same per-run overhead (timer reads,
 *           bottom-half toggling), so the ratio to it is the hook's cost as
 *           a whole.
 *   repeat  one call with repeat = N on the same buffer: only for packets
 *           whose rewrite leaves them unchanged, so that every repetition
 *           takes the path its first one took. An established flow and its
 *           reply use a service whose backend is its own VIP:port (the
 *           rewrite writes the same values: the same lookups, the same
 *           checksum arithmetic, a zero difference). A new flow cannot be
 *           measured so (it must be a different flow every time).
 * Every measured packet's output is checked (verdict, rewritten address),
 * and the data path's counters are checked at the end: the flows created,
 * no flow misses.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <linux/types.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "datapath/dataplane.h"
#include "kanary_shared.h"
#include "util/log.h"
#include "util/opts.h"
#include "packets.h"
#include "prog_run.h"

/* Addresses from 198.18.0.0/15; nothing is ever sent on a wire here. */
#define VIP	     0xc6122001 /* 198.18.32.1 */
#define SELF_VIP     0xc6122002 /* 198.18.32.2: its backend is itself */
#define VIP_PORT     80
#define STABLE_1     0xc612100a /* 198.18.16.10 */
#define STABLE_2     0xc612100b /* 198.18.16.11 */
#define CANARY_1     0xc6121014 /* 198.18.16.20 */
#define BACKEND_PORT 8000
#define OTHER_HOST   0xc6120909 /* 198.18.9.9: no service */
#define FIXED_CLIENT 0xc6120a0a /* 198.18.10.10 */
/* The ICMP error case: what a router sends about a too-big packet, quoting
 * as much as fits in 576 bytes (RFC 1812). */
#define ICMP_UNREACH_TYPE     3
#define ICMP_FRAG_NEEDED_CODE 4
#define ICMP_NEXT_HOP_MTU     1280
#define ICMP_QUOTE_MAX_BYTES  548
/* ICMPv6 "packet too big" (RFC 4443), quoting as much as fits in 1280. */
#define ICMPV6_TOO_BIG_TYPE    2
#define ICMPV6_QUOTE_MAX_BYTES 1232
#define CLIENT_BASE	       0xc6124000 /* 198.18.64.0: clients of new flows */
#define CLIENT_ADDRS	       16384	  /* 198.18.64.0 - 198.18.127.255 */
#define CLIENT_PORT_BASE       1024
#define CANARY_BP	       1000 /* the 10 % split of the end-to-end figures */

#define XDP_PASS_VERDICT  2
#define TC_OK_VERDICT	  0
#define REPLY_PAYLOAD_LEN 64 /* a response body segment, not a status line */

#define DEFAULT_ROUNDS	    21
#define DEFAULT_BATCH	    4000
#define DEFAULT_REPEAT	    100000
#define DEFAULT_TABLE_FLOWS (1U << 20) /* kanaryd's default --max-flows */
#define FILL_CHUNK	    8192

enum pc_hook { HOOK_XDP = 0, HOOK_TC_IN, HOOK_TC_EG, HOOK_COUNT };

static const char *const hook_names[HOOK_COUNT] = {"xdp", "tc_ingress",
						   "tc_egress"};

/* The IPv6 cases are the IPv4 ones through an IPv6 service: the same
 * numbers as addresses in 2001:2::/96 (tests/bpf/packets.h). */
enum pc_case {
	CASE_FLOOR = 0,	   /* a do-nothing program of the hook's type */
	CASE_OTHER,	   /* a packet for no service / not a reply */
	CASE_SYN,	   /* a new connection: a flow is created */
	CASE_ESTABLISHED,  /* an ACK of an established flow */
	CASE_REPLY,	   /* a backend's data segment, back to the VIP */
	CASE_ICMP_ERROR,   /* "fragmentation needed" about a flow, translated */
	CASE_STREAM_EVENT, /* a token's event in an event-stream response */
	CASE_BODY,	   /* a segment of a long Content-Length body */
	CASE_RESPONSE,	   /* a whole small response: status, headers, body */
	CASE_OTHER6,
	CASE_SYN6,
	CASE_ESTABLISHED6,
	CASE_REPLY6,
	CASE_ICMP_ERROR6, /* "packet too big" about an IPv6 flow */
	CASE_COUNT
};

static const char *const case_names[CASE_COUNT] = {
    "floor",	  "not_for_service",	  "new_flow",	   "established",
    "reply",	  "icmp_error",		  "stream_event",  "body",
    "response",	  "not_for_service_ipv6", "new_flow_ipv6", "established_ipv6",
    "reply_ipv6", "icmp_error_ipv6"};

static bool case_is_ipv6(enum pc_case c)
{
	return c >= CASE_OTHER6;
}

/* What an IPv6 case measures, as the IPv4 case of the same path. */
static enum pc_case case_path(enum pc_case c)
{
	return case_is_ipv6(c) ? (enum pc_case)(c - CASE_OTHER6 + CASE_OTHER)
			       : c;
}

static int case_family(enum pc_case c)
{
	return case_is_ipv6(c) ? AF_INET6 : AF_INET;
}

static struct dataplane *dp;
static void usage(FILE *f);
static int floor_fd[HOOK_COUNT] = {-1, -1, -1};
static char pin_dir[128];
static uint32_t next_flow;     /* new-flow counter: a distinct tuple each */
static uint32_t skipped_flows; /* tuples never sent (see stream_next) */
static unsigned long failures;
static int only_case = -1; /* --case: measure one case (for profiling) */

static void fail(const char *what)
{
	if (failures++ < 10)
		fprintf(stderr, "pktcost: %s\n", what);
}

/* A program that returns its pass verdict and nothing else. */
static int load_floor(enum bpf_prog_type type, int verdict)
{
	struct bpf_insn insns[] = {
	    {.code = BPF_ALU64 | BPF_MOV | BPF_K,
	     .dst_reg = BPF_REG_0,
	     .imm = verdict},
	    {.code = BPF_JMP | BPF_EXIT},
	};

	return bpf_prog_load(type, "kn_floor", "Dual BSD/GPL", insns,
			     sizeof(insns) / sizeof(insns[0]), NULL);
}

static int hook_fd(enum pc_case c, enum pc_hook h)
{
	if (c == CASE_FLOOR)
		return floor_fd[h];
	return dp_prog_fd(dp, h == HOOK_XDP	? KN_HOOK_XDP_INGRESS
			      : h == HOOK_TC_IN ? KN_HOOK_TC_INGRESS
						: KN_HOOK_TC_EGRESS);
}

static uint32_t pass_verdict(enum pc_hook h)
{
	return h == HOOK_XDP ? XDP_PASS_VERDICT : TC_OK_VERDICT;
}

/* The split service and the one whose backend is itself, of a family;
 * the split service's index goes to *split_index. */
static int add_services(int family, const char *suffix, uint32_t *split_index)
{
	static const uint32_t stable[] = {STABLE_1, STABLE_2};
	struct dp_service_def def =
	    split_service_def("bench", ep_of(family, VIP, VIP_PORT), stable,
			      CANARY_1, BACKEND_PORT, CANARY_BP);
	struct dp_service_def self = {
	    .proto = IPPROTO_TCP,
	    .flags = KN_SVC_F_HTTP,
	    .stable_count = 1,
	};
	char err[DP_ERR_LEN];
	uint32_t index;

	snprintf(def.name, sizeof(def.name), "bench%s", suffix);
	snprintf(self.name, sizeof(self.name), "bench-self%s", suffix);
	self.vip = ep_of(family, SELF_VIP, VIP_PORT);
	self.stable[0] = ep_of(family, SELF_VIP, VIP_PORT);
	if (dp_service_add(dp, &def, split_index, err, sizeof(err)) ||
	    dp_service_add(dp, &self, &index, err, sizeof(err))) {
		fprintf(stderr, "pktcost: %s\n", err);
		return -1;
	}
	return 0;
}

/* The split services' indexes: IPv4, IPv6. */
static uint32_t split_index[2];

static int open_dp(uint32_t max_flows)
{
	struct dp_options opts = {
	    .pin_dir = pin_dir,
	    .max_flows = max_flows,
	    .max_services = 16,
	    .max_backends = 64,
	};
	char err[DP_ERR_LEN];

	if (dp_open(&opts, &dp, err, sizeof(err))) {
		fprintf(stderr, "pktcost: %s\n", err);
		return -1;
	}
	return add_services(AF_INET, "", &split_index[0]) ||
		       add_services(AF_INET6, "-ipv6", &split_index[1])
		   ? -1
		   : 0;
}

static void flow_tuple(uint32_t i, uint32_t *client, uint16_t *port)
{
	*client = CLIENT_BASE + i % CLIENT_ADDRS;
	*port = (uint16_t)(CLIENT_PORT_BASE + i / CLIENT_ADDRS);
}

/* The number of a frame's address, in either family (packets.h). */
static uint32_t pkt_addr(const struct pkt *p, bool dst)
{
	const struct iphdr *ip = (const void *)(p->data + ETH_HLEN);
	const struct ipv6hdr *ip6 = (const void *)(p->data + ETH_HLEN);

	if (pkt_is_ipv6(p->data))
		return pkt6_host(dst ? &ip6->daddr : &ip6->saddr);
	return ntohl(dst ? ip->daddr : ip->saddr);
}

static uint32_t pkt_daddr(const struct pkt *p)
{
	return pkt_addr(p, true);
}

static uint32_t pkt_saddr(const struct pkt *p)
{
	return pkt_addr(p, false);
}

/* A TCP segment of the case's family (see tcp_spec). */
static void case_spec(struct pkt_spec *s, enum pc_case c, uint32_t saddr,
		      uint16_t sport, uint32_t daddr, uint16_t dport,
		      uint8_t flags)
{
	tcp_spec(s, saddr, sport, daddr, dport, flags);
	s->family = (uint8_t)case_family(c);
}

static bool is_backend(uint32_t addr)
{
	return addr == STABLE_1 || addr == STABLE_2 || addr == CANARY_1;
}

/*
 * A client's connection through one ingress hook: SYN then ACK, as the
 * kernel would see them, so that the flow is established. Returns the
 * backend it was given (0 on failure).
 */
static uint32_t establish(enum pc_case c, enum pc_hook h, uint32_t client,
			  uint16_t port, uint32_t vip)
{
	struct pkt_spec s;
	struct pkt in, out;
	uint32_t retval, ns, backend;

	case_spec(&s, c, client, port, vip, VIP_PORT, TCPF_SYN);
	pkt_build(&in, &s);
	if (prog_run(hook_fd(CASE_SYN, h), &in, &out, 1, &retval, &ns))
		return 0;
	backend = pkt_daddr(&out);
	case_spec(&s, c, client, port, vip, VIP_PORT, TCPF_ACK);
	pkt_build(&in, &s);
	if (prog_run(hook_fd(CASE_SYN, h), &in, &out, 1, &retval, &ns) ||
	    pkt_daddr(&out) != backend)
		return 0;
	return backend;
}

/* The packets of one case on one hook; syn builds a new one per call. */
struct pc_stream {
	enum pc_case c;
	enum pc_hook h;
	struct pkt pkt;
	uint32_t backend; /* established and reply: where the flow goes */
};

/*
 * An ICMP "fragmentation needed" (ICMPv6: "packet too big") about an
 * established flow, quoting as much of the packet as a router does: at ingress
 * from a router towards the VIP about a reply, at egress towards the client
 * about its packet to the backend. With SELF_VIP the translation writes what
 * was there, so the repeat method measures it too.
 */
static int icmp_error_init(struct pc_stream *st, uint32_t vip, uint16_t port,
			   const char *body, uint32_t body_len)
{
	bool v6 = case_is_ipv6(st->c);
	uint32_t quote_max = v6 ? ICMPV6_QUOTE_MAX_BYTES : ICMP_QUOTE_MAX_BYTES;
	uint32_t to = st->h == HOOK_TC_EG ? FIXED_CLIENT : vip;
	struct pkt_spec s;
	struct pkt quoted;
	uint32_t quote_len;

	st->backend =
	    establish(st->c, st->h == HOOK_XDP ? HOOK_XDP : HOOK_TC_IN,
		      FIXED_CLIENT, port, vip);
	if (!st->backend)
		return -1;
	if (st->h == HOOK_TC_EG)
		case_spec(&s, st->c, FIXED_CLIENT, port, st->backend,
			  vip == SELF_VIP ? VIP_PORT : BACKEND_PORT, TCPF_ACK);
	else
		case_spec(&s, st->c, vip, VIP_PORT, FIXED_CLIENT, port,
			  TCPF_ACK | TCPF_PSH);
	s.payload = body;
	s.payload_len = body_len;
	pkt_build(&quoted, &s);
	quote_len = quoted.len - ETH_HLEN;
	if (quote_len > quote_max)
		quote_len = quote_max;
	if (v6)
		pkt_build_icmp_error(&st->pkt, OTHER_HOST, to,
				     ICMPV6_TOO_BIG_TYPE, 0, ICMP_NEXT_HOP_MTU,
				     &quoted, quote_len);
	else
		pkt_build_icmp_error(&st->pkt, OTHER_HOST, to,
				     ICMP_UNREACH_TYPE, ICMP_FRAG_NEEDED_CODE,
				     ICMP_NEXT_HOP_MTU, &quoted, quote_len);
	return 0;
}

/* The quoted destination of an ICMP error built by icmp_error_init(). */
static uint32_t icmp_quoted_daddr(const struct pkt *p)
{
	uint32_t outer_hlen =
	    pkt_is_ipv6(p->data) ? PKT6_HDR_LEN : sizeof(struct iphdr);
	uint32_t quote_off = ETH_HLEN + outer_hlen + PKT_ICMP_HDR_LEN;
	struct pkt quoted = {.len = ETH_HLEN + p->len - quote_off};

	/* The quote as a frame of its own, behind the same Ethernet header. */
	memcpy(quoted.data, p->data, ETH_HLEN);
	memcpy(quoted.data + ETH_HLEN, p->data + quote_off, p->len - quote_off);
	return pkt_daddr(&quoted);
}

static int stream_init(struct pc_stream *st, enum pc_case c, enum pc_hook h,
		       uint32_t vip, uint16_t port)
{
	static const char body[REPLY_PAYLOAD_LEN] = "{\"model\": \"v1\"...";
	/* An OpenAI-compatible streamed completion: headers first, then one
	 * chunk per token (the measured packet: each leaves the parser where
	 * it found it, so every repetition takes the same path). */
	static const char stream_headers[] =
	    "HTTP/1.1 200 OK\r\nserver: uvicorn\r\n"
	    "content-type: text/event-stream; charset=utf-8\r\n"
	    "transfer-encoding: chunked\r\n\r\n";
	static const char token_event[] =
	    "ad\r\ndata: {\"id\":\"cmpl-0\",\"object\":\"text_completion\","
	    "\"created\":1796000000,\"model\":\"llm\",\"choices\":[{\"index\":"
	    "0,\"text\":\" the\",\"logprobs\":null,\"finish_reason\":null}],"
	    "\"usage\":null}\n\n\r\n";
	/* A plain response whose body outlasts every measured packet. */
	static const char length_headers[] =
	    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
	    "content-length: 1000000000000\r\n\r\n";
	/* A keep-alive response of the end-to-end figures, whole in one
	 * segment, as nginx sends a static 40-byte JSON file: every packet
	 * starts a response and ends it, so each repetition parses it all. */
	static const char nginx_response[] =
	    "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n"
	    "Date: Sat, 05 Dec 2026 02:30:00 GMT\r\n"
	    "Content-Type: application/json\r\nContent-Length: 40\r\n"
	    "Last-Modified: Sat, 05 Dec 2026 01:00:00 GMT\r\n"
	    "Connection: keep-alive\r\nETag: \"69323e10-28\"\r\n"
	    "Accept-Ranges: bytes\r\n\r\n"
	    "{\"model\": \"stable\", \"ok\": true, \"n\": 1}\n";
	struct pkt_spec s;
	struct pkt out;
	uint32_t retval;
	bool ingress = h != HOOK_TC_EG;

	memset(st, 0, sizeof(*st));
	st->c = c;
	st->h = h;
	switch (case_path(c)) {
	case CASE_FLOOR:
	case CASE_OTHER:
		if (ingress)
			case_spec(&s, c, FIXED_CLIENT, port, OTHER_HOST,
				  VIP_PORT, TCPF_ACK);
		else
			case_spec(&s, c, OTHER_HOST, VIP_PORT, FIXED_CLIENT,
				  port, TCPF_ACK);
		break;
	case CASE_SYN:
		return 0; /* built per call */
	case CASE_ICMP_ERROR:
		return icmp_error_init(st, vip, port, body, sizeof(body));
	case CASE_ESTABLISHED:
	case CASE_REPLY:
	case CASE_STREAM_EVENT:
	case CASE_BODY:
	case CASE_RESPONSE:
		/* The flow goes through the ingress hook that carries the
		 * case (tc ingress for replies, as in tc mode). */
		st->backend =
		    establish(c, h == HOOK_XDP ? HOOK_XDP : HOOK_TC_IN,
			      FIXED_CLIENT, port, vip);
		if (!st->backend)
			return -1;
		if (case_path(c) == CASE_ESTABLISHED) {
			case_spec(&s, c, FIXED_CLIENT, port, vip, VIP_PORT,
				  TCPF_ACK);
		} else {
			case_spec(&s, c, st->backend,
				  vip == SELF_VIP ? VIP_PORT : BACKEND_PORT,
				  FIXED_CLIENT, port, TCPF_ACK | TCPF_PSH);
			/* A response in progress: its headers go first. */
			if (c == CASE_STREAM_EVENT || c == CASE_BODY) {
				s.payload = c == CASE_STREAM_EVENT
						? stream_headers
						: length_headers;
				s.payload_len = strlen(s.payload);
				pkt_build(&st->pkt, &s);
				if (prog_run(hook_fd(c, HOOK_TC_EG), &st->pkt,
					     &out, 1, &retval, NULL))
					return -1;
			}
			s.payload = c == CASE_STREAM_EVENT ? token_event : body;
			s.payload_len = c == CASE_STREAM_EVENT
					    ? sizeof(token_event) - 1
					    : sizeof(body);
			if (c == CASE_RESPONSE) {
				s.payload = nginx_response;
				s.payload_len = sizeof(nginx_response) - 1;
			}
		}
		break;
	default:
		return -1;
	}
	pkt_build(&st->pkt, &s);
	return 0;
}

static const struct pkt *stream_next(struct pc_stream *st)
{
	struct pkt_spec s;
	uint32_t client;
	uint16_t port;

	if (case_path(st->c) != CASE_SYN)
		return &st->pkt;
	/* A full checksum equal to the pseudo-header sum (1 tuple in 65536)
	 * looks offloaded: XDP leaves it to tc, another path. */
	for (;;) {
		flow_tuple(next_flow++, &client, &port);
		case_spec(&s, st->c, client, port, VIP, VIP_PORT, TCPF_SYN);
		pkt_build(&st->pkt, &s);
		if (!pkt_l4_partial_ok(st->pkt.data, st->pkt.len))
			break;
		skipped_flows++;
	}
	return &st->pkt;
}

/* Whether the program did to the packet what the case says it does. */
static bool stream_check(const struct pc_stream *st, const struct pkt *in,
			 const struct pkt *out, uint32_t retval)
{
	if (retval != pass_verdict(st->h))
		return false;
	switch (case_path(st->c)) {
	case CASE_FLOOR:
	case CASE_OTHER:
		return out->len == in->len &&
		       !memcmp(out->data, in->data, in->len);
	case CASE_SYN:
		return is_backend(pkt_daddr(out)) &&
		       pkt_l4_csum_ok(out->data, out->len);
	case CASE_ESTABLISHED:
		return pkt_daddr(out) == st->backend;
	case CASE_REPLY:
	case CASE_STREAM_EVENT:
	case CASE_BODY:
	case CASE_RESPONSE:
		return pkt_saddr(out) == VIP || pkt_saddr(out) == SELF_VIP;
	case CASE_ICMP_ERROR:
		if (st->h == HOOK_TC_EG)
			return icmp_quoted_daddr(out) == VIP ||
			       icmp_quoted_daddr(out) == SELF_VIP;
		return pkt_daddr(out) == st->backend;
	default:
		return false;
	}
}

/* Method "call": batch packets, one run each; mean kernel ns per packet. */
static double measure_calls(struct pc_stream *st, uint32_t batch)
{
	int fd = hook_fd(st->c, st->h);
	uint64_t total = 0;
	uint32_t i, retval, ns;
	struct pkt out;

	for (i = 0; i < batch; i++) {
		const struct pkt *in = stream_next(st);

		if (prog_run(fd, in, &out, 1, &retval, &ns)) {
			fail("bpf_prog_test_run_opts failed");
			return -1;
		}
		if (!stream_check(st, in, &out, retval)) {
			fail("a packet did not take the path it measures");
			return -1;
		}
		total += ns;
	}
	return (double)total / batch;
}

/* Method "repeat": one run of repeat packets on the same buffer. */
static double measure_repeat(struct pc_stream *st, uint32_t repeat)
{
	uint32_t retval, ns;
	struct pkt out;

	if (prog_run(hook_fd(st->c, st->h), &st->pkt, &out, repeat, &retval,
		     &ns)) {
		fail("bpf_prog_test_run_opts (repeat) failed");
		return -1;
	}
	/* The last repetition's output is the first's: the rewrite is an
	 * identity for these packets. */
	if (!stream_check(st, &st->pkt, &out, retval) ||
	    (case_path(st->c) != CASE_FLOOR && case_path(st->c) != CASE_OTHER &&
	     memcmp(out.data, st->pkt.data, st->pkt.len))) {
		fail("a repeated packet changed: the repeat would lie");
		return -1;
	}
	return ns;
}

static void pin_to_one_cpu(void)
{
	cpu_set_t set;
	int cpu, last = -1;

	if (sched_getaffinity(0, sizeof(set), &set))
		return;
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &set))
			last = cpu;
	if (last < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(last, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static int load_floors(void)
{
	floor_fd[HOOK_XDP] = load_floor(BPF_PROG_TYPE_XDP, XDP_PASS_VERDICT);
	floor_fd[HOOK_TC_IN] =
	    load_floor(BPF_PROG_TYPE_SCHED_CLS, TC_OK_VERDICT);
	floor_fd[HOOK_TC_EG] = floor_fd[HOOK_TC_IN];
	if (floor_fd[HOOK_XDP] < 0 || floor_fd[HOOK_TC_IN] < 0) {
		fprintf(stderr, "pktcost: cannot load the floor programs: %s\n",
			strerror(errno));
		return -1;
	}
	return 0;
}

/* Which (case, hook) pairs exist: XDP has no egress; the floor of tc
 * egress is the tc floor (the same program type). */
static bool case_on_hook(enum pc_case c, enum pc_hook h)
{
	if (only_case >= 0 && (int)c != only_case)
		return false;
	c = case_path(c);
	/* Replies exist on egress only, everything else on ingress only
	 * (but the floor, the packet for no service and the ICMP error,
	 * about a reply at ingress and about a request at egress, on
	 * both). */
	if (c == CASE_FLOOR || c == CASE_OTHER || c == CASE_ICMP_ERROR)
		return true;
	return (h == HOOK_TC_EG) ==
	       (c == CASE_REPLY || c == CASE_STREAM_EVENT || c == CASE_BODY ||
		c == CASE_RESPONSE);
}

static bool repeat_ok(enum pc_case c)
{
	return case_path(c) != CASE_SYN;
}

/*
 * One measurement (ns per packet, negative when it failed) as a CSV row;
 * round 0 warms up and is not printed. Returns -1 when it failed.
 */
static int report(double ns, const char *method, enum pc_case c, enum pc_hook h,
		  uint32_t round)
{
	if (ns < 0)
		return -1;
	if (round)
		printf("%s,%s,%s,%u,%.2f\n", method, hook_names[h],
		       case_names[c], round, ns);
	return 0;
}

/* Both families' split services' counters, summed. */
static int read_split_services(struct kn_service_stats *sum)
{
	struct kn_service_stats one;
	size_t i;

	memset(sum, 0, sizeof(*sum));
	for (i = 0; i < 2; i++) {
		if (dp_read_service(dp, split_index[i], &one))
			return -1;
		sum->new_flows[0] += one.new_flows[0];
		sum->new_flows[1] += one.new_flows[1];
		sum->flow_misses += one.flow_misses;
	}
	return 0;
}

static int cmd_cost(uint32_t rounds, uint32_t batch, uint32_t repeat)
{
	struct pc_stream calls[CASE_COUNT][HOOK_COUNT];
	struct pc_stream reps[CASE_COUNT][HOOK_COUNT];
	struct kn_service_stats svc;
	uint16_t port = 40000;
	uint32_t r, c, h, syn_start;

	if (open_dp(DEFAULT_TABLE_FLOWS))
		return 1;
	for (c = 0; c < CASE_COUNT; c++)
		for (h = 0; h < HOOK_COUNT; h++) {
			if (!case_on_hook(c, h))
				continue;
			if (stream_init(&calls[c][h], c, h, VIP, port++) ||
			    stream_init(&reps[c][h], c, h, SELF_VIP, port++)) {
				fprintf(stderr,
					"pktcost: cannot set up %s on "
					"%s\n",
					case_names[c], hook_names[h]);
				return 1;
			}
		}
	syn_start = next_flow;
	printf("method,hook,case,round,ns_per_packet\n");
	/* Round 0 warms caches and the JIT images up and is not printed.
	 * Within a round every case runs once, in the same order: slow
	 * drifts of the machine hit all cases alike. */
	for (r = 0; r <= rounds; r++) {
		for (c = 0; c < CASE_COUNT; c++)
			for (h = 0; h < HOOK_COUNT; h++) {
				if (!case_on_hook(c, h))
					continue;
				if (report(measure_calls(&calls[c][h], batch),
					   "call", c, h, r))
					return 1;
				if (repeat_ok(c) &&
				    report(measure_repeat(&reps[c][h], repeat),
					   "repeat", c, h, r))
					return 1;
			}
		fflush(stdout);
	}
	/* Every SYN made a flow (new_flows counts them), and no measured
	 * packet of an established flow missed its entry. */
	if (read_split_services(&svc)) {
		fprintf(stderr, "pktcost: cannot read the service counters\n");
		return 1;
	}
	if (svc.new_flows[0] + svc.new_flows[1] <
		next_flow - syn_start - skipped_flows ||
	    svc.flow_misses != 0) {
		fprintf(
		    stderr,
		    "pktcost: counters disagree: %llu new flows for %u "
		    "SYNs, %llu flow misses\n",
		    (unsigned long long)(svc.new_flows[0] + svc.new_flows[1]),
		    next_flow - syn_start - skipped_flows,
		    (unsigned long long)svc.flow_misses);
		return 1;
	}
	fprintf(
	    stderr,
	    "pktcost: %u new flows created (%llu to the canary), 0 misses\n",
	    next_flow - syn_start - skipped_flows,
	    (unsigned long long)svc.new_flows[1]);
	return failures ? 1 : 0;
}

/* ---- the connection table at N entries -------------------------------- */

static int pinned_map(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
	return bpf_obj_get(path);
}

/* The kernel's charge for a map, as bpftool shows it ("memlock"). */
static long long map_memlock(int fd)
{
	char path[64], line[256];
	long long bytes = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %lld", &bytes) == 1)
			break;
	fclose(f);
	return bytes;
}

static void flow_key(struct kn_flow_key *k, uint32_t src, uint16_t sport,
		     uint32_t dst, uint16_t dport)
{
	memset(k, 0, sizeof(*k));
	k->src.w[0] = htonl(src);
	k->dst.w[0] = htonl(dst);
	k->sport = htons(sport);
	k->dport = htons(dport);
	k->proto = IPPROTO_TCP;
	k->family = KN_AF_INET;
}

struct table {
	int flows_fd, replies_fd;
	struct kn_flow flow;   /* an established flow, as the program wrote */
	struct kn_reply reply; /* and its reply side */
	uint32_t filled;
};

/*
 * Writes flows [t->filled, n) into both tables, copying the entries the
 * program wrote for a real connection (same backend, fresh timestamps):
 * what SYNs would leave there, written in batches.
 */
static int table_fill(struct table *t, uint32_t n)
{
	static struct kn_flow_key keys[FILL_CHUNK], rkeys[FILL_CHUNK];
	static struct kn_flow vals[FILL_CHUNK];
	static struct kn_reply rvals[FILL_CHUNK];
	uint16_t bport = ntohs(t->flow.backend_port);
	uint32_t backend = ntohl(t->flow.backend.w[0]);
	LIBBPF_OPTS(bpf_map_batch_opts, bopts);

	while (t->filled < n) {
		uint32_t k, count = n - t->filled;

		if (count > FILL_CHUNK)
			count = FILL_CHUNK;
		for (k = 0; k < count; k++) {
			uint32_t client;
			uint16_t port;

			flow_tuple(t->filled + k, &client, &port);
			flow_key(&keys[k], client, port, VIP, VIP_PORT);
			flow_key(&rkeys[k], backend, bport, client, port);
			vals[k] = t->flow;
			rvals[k] = t->reply;
		}
		if (bpf_map_update_batch(t->flows_fd, keys, vals, &count,
					 &bopts) ||
		    bpf_map_update_batch(t->replies_fd, rkeys, rvals, &count,
					 &bopts)) {
			fprintf(stderr, "pktcost: filling the table: %s\n",
				strerror(errno));
			return -1;
		}
		t->filled += count;
	}
	return 0;
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Established packets (or their replies) of flows drawn at random from the
 * n filled ones: every packet looks up a different entry. */
static double measure_table(struct table *t, enum pc_hook h, uint32_t batch,
			    uint64_t *seed)
{
	int fd = hook_fd(CASE_ESTABLISHED, h);
	uint32_t backend = ntohl(t->flow.backend.w[0]);
	uint16_t bport = ntohs(t->flow.backend_port);
	uint64_t total = 0;
	uint32_t i, retval, ns;
	struct pkt_spec s;
	struct pkt in, out;

	for (i = 0; i < batch; i++) {
		uint32_t client;
		uint16_t port;

		flow_tuple((uint32_t)(xorshift(seed) % t->filled), &client,
			   &port);
		if (h == HOOK_TC_EG)
			tcp_spec(&s, backend, bport, client, port, TCPF_ACK);
		else
			tcp_spec(&s, client, port, VIP, VIP_PORT, TCPF_ACK);
		pkt_build(&in, &s);
		if (prog_run(fd, &in, &out, 1, &retval, &ns) ||
		    retval != pass_verdict(h) ||
		    (h == HOOK_TC_EG ? pkt_saddr(&out) != VIP
				     : pkt_daddr(&out) != backend)) {
			fail("a table packet was not translated");
			return -1;
		}
		total += ns;
	}
	return (double)total / batch;
}

static int parse_sizes(const char *text, uint32_t *sizes, size_t max,
		       size_t *count)
{
	char *end;

	*count = 0;
	while (*text && *count < max) {
		unsigned long v = strtoul(text, &end, 10);

		if (end == text || v == 0 || v > DEFAULT_TABLE_FLOWS)
			return -1;
		sizes[(*count)++] = (uint32_t)v;
		text = *end == ',' ? end + 1 : end;
		if (*end && *end != ',')
			return -1;
	}
	return *count ? 0 : -1;
}

#define MAX_SIZES 16

static int cmd_flows(const char *sizes_text, uint32_t rounds, uint32_t batch,
		     const char *memory_path)
{
	struct kn_flow_key key;
	struct kn_service_stats svc;
	struct table t = {.flows_fd = -1, .replies_fd = -1};
	uint32_t sizes[MAX_SIZES], r, h, backend;
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	size_t nsizes, i;
	double v;

	if (parse_sizes(sizes_text, sizes, MAX_SIZES, &nsizes)) {
		fprintf(stderr, "pktcost: --sizes wants N,N,... (1..%u)\n",
			DEFAULT_TABLE_FLOWS);
		return 2;
	}
	if (open_dp(DEFAULT_TABLE_FLOWS))
		return 1;
	t.flows_fd = pinned_map("kn_flows");
	t.replies_fd = pinned_map("kn_replies");
	if (t.flows_fd < 0 || t.replies_fd < 0) {
		fprintf(stderr, "pktcost: cannot open the pinned tables\n");
		return 1;
	}
	/* One real connection gives the entries every filled flow copies. */
	backend =
	    establish(CASE_ESTABLISHED, HOOK_TC_IN, FIXED_CLIENT, 40000, VIP);
	flow_key(&key, FIXED_CLIENT, 40000, VIP, VIP_PORT);
	if (!backend || bpf_map_lookup_elem(t.flows_fd, &key, &t.flow)) {
		fprintf(stderr, "pktcost: no template flow\n");
		return 1;
	}
	flow_key(&key, backend, ntohs(t.flow.backend_port), FIXED_CLIENT,
		 40000);
	if (bpf_map_lookup_elem(t.replies_fd, &key, &t.reply)) {
		fprintf(stderr, "pktcost: no template reply\n");
		return 1;
	}
	if (memory_path) {
		FILE *m = fopen(memory_path, "w");

		if (!m) {
			fprintf(stderr, "pktcost: %s: %s\n", memory_path,
				strerror(errno));
			return 1;
		}
		fprintf(m, "map,max_entries,memlock_bytes,bytes_per_entry\n");
		fprintf(m, "kn_flows,%u,%lld,%.1f\n", dp_max_flows(dp),
			map_memlock(t.flows_fd),
			(double)map_memlock(t.flows_fd) / dp_max_flows(dp));
		fprintf(m, "kn_replies,%u,%lld,%.1f\n", dp_max_flows(dp),
			map_memlock(t.replies_fd),
			(double)map_memlock(t.replies_fd) / dp_max_flows(dp));
		fclose(m);
	}
	printf("entries,hook,round,ns_per_packet\n");
	for (i = 0; i < nsizes; i++) {
		if (table_fill(&t, sizes[i]))
			return 1;
		for (r = 0; r <= rounds; r++)
			for (h = 0; h < HOOK_COUNT; h++) {
				v = measure_table(&t, h, batch, &seed);
				if (v < 0)
					return 1;
				if (r)
					printf("%u,%s,%u,%.2f\n", t.filled,
					       hook_names[h], r, v);
			}
		fflush(stdout);
		if (dp_read_service(dp, 0, &svc) || svc.flow_misses) {
			fprintf(stderr,
				"pktcost: %llu flow misses at %u entries: the "
				"table lost entries\n",
				(unsigned long long)svc.flow_misses, t.filled);
			return 1;
		}
	}
	return failures ? 1 : 0;
}

/* ---- the floor on a real interface -------------------------------------- */

/* libbpf's own messages: the errors that matter are reported here. */
static int quiet_print(enum libbpf_print_level level, const char *fmt,
		       va_list args)
{
	(void)level;
	(void)fmt;
	(void)args;
	return 0;
}

static int cmd_attach(const char *ifname, const char *hook)
{
	LIBBPF_OPTS(bpf_tc_hook, tc_hook, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, tc_opts, .handle = 1, .priority = 1);
	int ifindex = (int)if_nametoindex(ifname), err;

	if (!ifindex) {
		fprintf(stderr, "pktcost: no interface %s\n", ifname);
		return 1;
	}
	if (!strcmp(hook, "xdp")) {
		err = bpf_xdp_attach(ifindex, floor_fd[HOOK_XDP],
				     XDP_FLAGS_DRV_MODE, NULL);
	} else if (!strcmp(hook, "tc")) {
		tc_hook.ifindex = ifindex;
		err = bpf_tc_hook_create(&tc_hook);
		if (err == -EEXIST)
			err = 0;
		tc_opts.prog_fd = floor_fd[HOOK_TC_IN];
		err = err ?: bpf_tc_attach(&tc_hook, &tc_opts);
	} else {
		usage(stderr);
		return 2;
	}
	if (err) {
		fprintf(stderr, "pktcost: attaching to %s (%s): %s\n", ifname,
			hook, strerror(-err));
		return 1;
	}
	return 0;
}

static int cmd_detach(const char *ifname)
{
	LIBBPF_OPTS(bpf_tc_hook, tc_hook,
		    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	int ifindex = (int)if_nametoindex(ifname);

	if (!ifindex) {
		fprintf(stderr, "pktcost: no interface %s\n", ifname);
		return 1;
	}
	bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE, NULL);
	tc_hook.ifindex = ifindex;
	bpf_tc_hook_destroy(&tc_hook); /* the clsact qdisc and its filters */
	return 0;
}

/* Statistics stay on while the file descriptor is open; bounded. */
#define STATS_MAX_S 3600

static int cmd_stats(const char *seconds)
{
	unsigned long secs = strtoul(seconds, NULL, 10);
	int fd;

	if (!secs || secs > STATS_MAX_S) {
		usage(stderr);
		return 2;
	}
	fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (fd < 0) {
		fprintf(stderr, "pktcost: cannot enable BPF statistics: %s\n",
			strerror(errno));
		return 1;
	}
	sleep((unsigned int)secs);
	close(fd);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: pktcost cost [--rounds R] [--batch B] [--repeat N] "
		   "[--case NAME]\n"
		   "       pktcost flows [--sizes N,N,...] [--rounds R] "
		   "[--batch B] [--memory FILE]\n"
		   "       pktcost stats SECONDS\n"
		   "       pktcost attach IFACE xdp|tc\n"
		   "       pktcost detach IFACE\n"
		   "Per-packet cost of kanary's programs through "
		   "bpf_prog_test_run_opts, CSV on stdout.\n");
}

enum option_id {
	OPT_ROUNDS = 256,
	OPT_BATCH,
	OPT_REPEAT,
	OPT_SIZES,
	OPT_MEMORY,
	OPT_CASE,
};

static const struct option long_options[] = {
    {"rounds", required_argument, NULL, OPT_ROUNDS},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"repeat", required_argument, NULL, OPT_REPEAT},
    {"sizes", required_argument, NULL, OPT_SIZES},
    {"memory", required_argument, NULL, OPT_MEMORY},
    {"case", required_argument, NULL, OPT_CASE},
    {NULL, 0, NULL, 0},
};

struct options {
	const char *sizes, *memory;
	uint64_t rounds, batch, repeat;
};

static int parse_option(const struct opts_parser *cli, int id, const char *arg)
{
	struct options *o = cli->ctx;

	switch (id) {
	case OPT_ROUNDS:
		return opts_parse_u64(cli, id, arg, 1, UINT32_MAX, &o->rounds);
	case OPT_BATCH:
		return opts_parse_u64(cli, id, arg, 1, UINT32_MAX, &o->batch);
	case OPT_REPEAT:
		return opts_parse_u64(cli, id, arg, 1, UINT32_MAX, &o->repeat);
	case OPT_SIZES:
		o->sizes = arg;
		return 0;
	case OPT_MEMORY:
		o->memory = arg;
		return 0;
	case OPT_CASE:
		for (only_case = 0; only_case < CASE_COUNT; only_case++)
			if (!strcmp(arg, case_names[only_case]))
				return 0;
		return opts_bad_value(cli, id, arg,
				      "want one of the cases of 'pktcost "
				      "cost'");
	default:
		return -EINVAL;
	}
}

int main(int argc, char **argv)
{
	struct options o = {
	    .sizes = "1000,10000,100000,1000000",
	    .rounds = DEFAULT_ROUNDS,
	    .batch = DEFAULT_BATCH,
	    .repeat = DEFAULT_REPEAT,
	};
	const struct opts_parser cli = {
	    .program = "pktcost",
	    .long_opts = long_options,
	    .on_option = parse_option,
	    .usage = usage,
	    .positionals = true,
	    .ctx = &o,
	};
	const char *cmd, **pos;
	int npos, ret;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? OPTS_EXIT_USAGE : 0;
	}
	/* The command's words: argv[1] stands where a program name would. */
	cmd = argv[1];
	ret = opts_parse(&cli, argc - 1, argv + 1);
	if (ret)
		return ret == OPTS_HELP ? 0 : OPTS_EXIT_USAGE;
	pos = (const char **)argv + 1 + optind;
	npos = argc - 1 - optind;
	log_set_program("pktcost");
	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/kanary-pktcost-%d",
		 getpid());
	if (!strcmp(cmd, "detach") && npos == 1) {
		libbpf_set_print(quiet_print);
		return cmd_detach(pos[0]);
	}
	if (!strcmp(cmd, "stats") && npos == 1)
		return cmd_stats(pos[0]);
	pin_to_one_cpu();
	if (load_floors())
		return 1;
	if (!strcmp(cmd, "attach") && npos == 2) {
		libbpf_set_print(quiet_print);
		return cmd_attach(pos[0], pos[1]);
	}
	if (!strcmp(cmd, "cost") && !npos) {
		ret = cmd_cost((uint32_t)o.rounds, (uint32_t)o.batch,
			       (uint32_t)o.repeat);
	} else if (!strcmp(cmd, "flows") && !npos) {
		ret = cmd_flows(o.sizes, (uint32_t)o.rounds, (uint32_t)o.batch,
				o.memory);
	} else {
		usage(stderr);
		return OPTS_EXIT_USAGE;
	}
	dp_close(dp, true);
	return ret;
}
