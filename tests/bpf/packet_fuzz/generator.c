// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * generator.c - valid packets of each kind, toward the services, their
 * backends and the addresses around them, and the flows they open.
 *
 * A part of the packet fuzzer (tests/bpf/test_packet_fuzz.c); what the
 * parts share is in fuzz.h.
 */
#include "fuzz.h"

/* The generator's state: the run seeds it (fuzz.h's rnd()). */
uint64_t rng_state;

static const struct fz_service *random_service(int proto)
{
	const struct fz_service *svc;

	do
		svc = &services[rnd_below(service_count)];
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
uint32_t random_addr(void)
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

uint16_t random_port(void)
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

const char *const kind_names[K_COUNT] = {
    "syn",	   "data",	    "fin/rst",
    "udp",	   "reply-tcp",	    "reply-http",
    "reply-udp",   "udp-csum-edge", "reply-udp-csum-edge",
    "stray",	   "fragment",	    "not-ipv4",
    "not-tcp/udp", "random",
};

static struct flow_rec flow_ring[FLOW_RING];
static uint32_t flow_ring_len, flow_ring_next;

void flow_remember(const struct flow_rec *f)
{
	flow_ring[flow_ring_next] = *f;
	flow_ring_next = (flow_ring_next + 1) % FLOW_RING;
	if (flow_ring_len < FLOW_RING)
		flow_ring_len++;
}

/* A remembered flow of proto in the family being made, or NULL. */
static const struct flow_rec *random_flow(uint8_t proto)
{
	uint32_t tries;

	if (!flow_ring_len)
		return NULL;
	for (tries = 0; tries < 8; tries++) {
		const struct flow_rec *f = &flow_ring[rnd_below(flow_ring_len)];

		if (f->proto == proto && f->family == fz_family)
			return f;
	}
	return NULL;
}

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

/* IPv6: a walked extension header, as a sender would put one: hop-by-hop
 * first, then destination options or routing with no segments left. */
static void random_walked_ext(struct pkt *p, bool first)
{
	static const uint8_t types[] = {NEXTHDR_DEST, NEXTHDR_ROUTING};
	uint8_t type =
	    first && chance(50) ? NEXTHDR_HOP : types[rnd_below(sizeof(types))];

	insert_ext(p, type, IP6_EXT_UNIT * (1 + rnd_below(3)), 0);
}

void build(struct pkt *p, const struct gen *g)
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
	    .family = (uint8_t)fz_family,
	};
	uint32_t opt_len = g->proto == IPPROTO_TCP ? g->opts.len : 0;
	uint32_t l4_off, proto_at, i;
	uint8_t proto;

	/* TCP options sit right after the 20-byte header, where pkt_build
	 * puts the payload: build them as payload, then claim them. */
	memcpy(body, g->opts.bytes, opt_len);
	memcpy(body + opt_len, g->payload, g->payload_len);
	s.payload_len = opt_len + g->payload_len;
	pkt_build(p, &s);
	/* Inserted in front of each other: the last one is first. */
	for (i = 0; i < g->ext_count; i++)
		random_walked_ext(p, i + 1 == g->ext_count);
	frame_l4(p, &l4_off, &proto, &proto_at);
	if (g->proto == IPPROTO_TCP)
		p->data[l4_off + TCP_DOFF_BYTE] =
		    (uint8_t)(((TCP_MIN_HLEN + opt_len) / 4) << 4);
	if (g->dont_fragment && is_ipv4_frame(p)) {
		put16(p->data + IP_FRAG_OFF, IP_DF_BIT);
		fix_ip_csum(p);
	}
	fix_l4_csum(p, g->partial);
	if (g->proto == IPPROTO_UDP && g->udp_no_csum)
		put16(p->data + l4_off + UDP_CSUM_FIELD, 0);
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
	uint32_t csum_off;
	uint16_t sum = 0;

	if (g->payload_len < 2)
		g->payload_len = 2;
	g->payload[0] = g->payload[1] = 0;
	t = *g;
	t.ext_count = 0; /* the headers the sum does not cover */
	if (dst_side) {
		t.daddr = addr;
		t.dport = port;
	} else {
		t.saddr = addr;
		t.sport = port;
	}
	build(&tp, &t);
	l4_sum(&tp, &sum, &csum_off);
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

void to_service(struct gen *g, const struct fz_service *svc)
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

	for (i = 0; i < service_count; i++)
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
	case 1: /* the other family's ethertype on the same bytes */
		put16(p->data + ETH_TYPE_OFF,
		      is_ipv6_frame(p) ? ETH_P_IP : ETH_P_IPV6);
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
		if (get16(p->data + ETH_TYPE_OFF) == ETH_P_IP ||
		    get16(p->data + ETH_TYPE_OFF) == ETH_P_IPV6)
			put16(p->data + ETH_TYPE_OFF, ETH_P_IP + 1);
		break;
	}
}

/*
 * An ICMP or ICMPv6 message quoting a packet of a remembered flow of the
 * family being made: an error (or, now and then, an echo or a neighbour
 * solicitation) about the client's packet to its backend sent to the
 * client, or about a reply from the VIP sent to the VIP, from a router or
 * the backend, quoting from the minimum (IP header and 8 bytes) up to the
 * whole packet. IPv6 now and then carries extension headers before the
 * ICMPv6 header (walked) or in the quote (not walked). Returns false when
 * no flow is remembered yet.
 */
static bool frame_icmp_about_flow(struct pkt *p)
{
	static const uint8_t types4[] = {3, 3, 11, 12, 0, 8};
	static const uint8_t types6[] = {1, 2, 2, 3, 4, 128, 135};
	const struct flow_rec *f =
	    random_flow(chance(50) ? IPPROTO_TCP : IPPROTO_UDP);
	const struct fz_service *svc =
	    f ? service_of_backend(f->backend, f->bport, f->proto) : NULL;
	bool v6 = fz_family == AF_INET6;
	uint32_t quote_min =
	    v6 ? IPV6_HLEN + ICMP_QUOTED_L4_LEN : ICMP_QUOTE_MIN_LEN;
	struct gen g = {0};
	struct pkt quoted;
	uint32_t to, quote_max;
	uint8_t type;

	if (!svc)
		return false;
	g.proto = f->proto;
	if (chance(50)) {
		g.saddr = svc->vip.addr;
		g.sport = svc->vip.port;
		g.daddr = f->client;
		g.dport = f->cport;
		to = svc->vip.addr;
	} else {
		g.saddr = f->client;
		g.sport = f->cport;
		g.daddr = f->backend;
		g.dport = f->bport;
		to = f->client;
	}
	g.dont_fragment = true;
	g.ext_count = v6 && chance(10) ? 1 : 0;
	random_payload(&g, 64);
	build(&quoted, &g);
	quote_max = quoted.len - ETH_HLEN;
	type = v6 ? types6[rnd_below(sizeof(types6))]
		  : types4[rnd_below(sizeof(types4))];
	pkt_build_icmp_error(p, chance(50) ? random_addr() : f->backend, to,
			     type, (uint8_t)rnd_below(16), (uint32_t)rnd(),
			     &quoted,
			     quote_min + rnd_below(quote_max - quote_min + 1));
	if (v6 && chance(20))
		random_walked_ext(p, true);
	return true;
}

static void frame_not_tcp_udp(struct pkt *p)
{
	static const uint8_t protos[] = {
	    IPPROTO_ICMP, IPPROTO_GRE, IPPROTO_SCTP, IPPROTO_IPIP, 0, 255};
	static const uint8_t protos6[] = {NEXTHDR_ICMP6, NEXTHDR_AUTH,
					  NEXTHDR_ESP,	 NEXTHDR_NONE,
					  IPPROTO_SCTP,	 NEXTHDR_HOP};
	struct gen g = {0};
	uint32_t l4_off, proto_at;
	uint8_t proto, old;

	if (chance(50) && frame_icmp_about_flow(p))
		return;
	to_service(&g, random_service(0));
	g.proto = IPPROTO_UDP;
	g.ext_count = fz_family == AF_INET6 ? (uint8_t)rnd_below(2) : 0;
	random_payload(&g, 64);
	build(p, &g);
	if (fz_family == AF_INET6)
		proto = chance(70) ? protos6[rnd_below(sizeof(protos6))]
				   : (uint8_t)rnd();
	else
		proto = chance(70) ? protos[rnd_below(sizeof(protos))]
				   : (uint8_t)rnd();
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP)
		proto = IPPROTO_ICMP;
	frame_l4(p, &l4_off, &old, &proto_at);
	p->data[proto_at] = proto;
	fix_ip_csum(p);
}

static void frame_random(struct pkt *p)
{
	memset(p, 0, sizeof(*p));
	p->len = ETH_HLEN + rnd_below(RANDOM_FRAME_MAX);
	rnd_bytes(p->data, p->len);
	if (fz_family == AF_INET6 && chance(50) &&
	    p->len >= IP_OFF + IPV6_HLEN) {
		put16(p->data + ETH_TYPE_OFF, ETH_P_IPV6);
		p->data[IP_OFF] = 0x60;
		if (chance(50))
			p->data[IP6_NEXT_OFF] =
			    chance(50) ? IPPROTO_TCP : IPPROTO_UDP;
		if (chance(50))
			put_addr(p, true, random_addr());
		if (chance(50))
			put16(p->data + IP6_PLEN_OFF,
			      (uint16_t)(p->len - IP_OFF - IPV6_HLEN));
	} else if (chance(50) && p->len >= IP_OFF + IPV4_MIN_HLEN) {
		put16(p->data + ETH_TYPE_OFF, ETH_P_IP);
		p->data[IP_OFF] = 0x45;
		if (chance(50))
			p->data[IP_PROTO_OFF] =
			    chance(50) ? IPPROTO_TCP : IPPROTO_UDP;
		if (chance(50))
			put32(p->data + IP_DADDR_OFF, random_addr());
	}
}

void generate(enum pkt_kind kind, struct pkt *p)
{
	struct gen g;

	memset(&g, 0, sizeof(g));
	g.partial = chance(10);
	g.dont_fragment = chance(50);
	/* IPv6: now and then the extension headers a sender may put. */
	if (fz_family == AF_INET6 && chance(20))
		g.ext_count = (uint8_t)(1 + rnd_below(IP6_EXT_WALKED_MAX));
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
		if (is_ipv6_frame(p)) {
			/* A fragment header, before or after a walked one. */
			insert_ext(p, NEXTHDR_FRAGMENT, IP6_EXT_UNIT, 0);
			if (chance(30))
				random_walked_ext(p, true);
			return;
		}
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
