/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * prog_run.h - what the data-path tests (harness.c) and the packet-cost
 * bench (bench/pktcost.c) both do with a data path opened by the agent's
 * loader: endpoints from host-order addresses, a split service of two
 * stable and one canary backend, TCP segments to build, and one program
 * run on a crafted packet through bpf_prog_test_run_opts.
 */
#ifndef KANARY_BPF_PROG_RUN_H
#define KANARY_BPF_PROG_RUN_H

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "datapath/dataplane.h"
#include "packets.h"

/* An endpoint of either family from a host-order address (IPv6: that
 * number in 2001:2::/96, as tests/bpf/packets.h builds frames). */
static inline struct endpoint ep_of(int family, uint32_t host_addr,
				    uint16_t port)
{
	struct endpoint e = {.port = port, .family = AF_INET};

	if (family == AF_INET6) {
		e.family = AF_INET6;
		pkt6_addr(host_addr, &e.addr6);
	} else {
		e.addr.s_addr = htonl(host_addr);
	}
	return e;
}

/* The host-order number of an endpoint built by ep_of. */
static inline uint32_t ep_host(const struct endpoint *e)
{
	if (endpoint_family(e) == AF_INET6)
		return pkt6_host(&e->addr6);
	return ntohl(e->addr.s_addr);
}

/* A TCP HTTP service def: two stable backends and one canary, all on
 * backend_port, the canary's share canary_bp (host-order addresses, of
 * the VIP's family). */
static inline struct dp_service_def
split_service_def(const char *name, struct endpoint vip,
		  const uint32_t stable[2], uint32_t canary,
		  uint16_t backend_port, uint32_t canary_bp)
{
	struct dp_service_def def = {
	    .vip = vip,
	    .proto = IPPROTO_TCP,
	    .flags = KN_SVC_F_HTTP,
	    .stable_count = 2,
	    .canary_count = 1,
	    .canary_bp = canary_bp,
	};

	snprintf(def.name, sizeof(def.name), "%s", name);
	def.stable[0] = ep_of(endpoint_family(&vip), stable[0], backend_port);
	def.stable[1] = ep_of(endpoint_family(&vip), stable[1], backend_port);
	def.canary[0] = ep_of(endpoint_family(&vip), canary, backend_port);
	return def;
}

/* A TCP segment with flags from saddr:sport to daddr:dport (host order). */
static inline void tcp_spec(struct pkt_spec *s, uint32_t saddr, uint16_t sport,
			    uint32_t daddr, uint16_t dport, uint8_t flags)
{
	memset(s, 0, sizeof(*s));
	s->saddr = saddr;
	s->sport = sport;
	s->daddr = daddr;
	s->dport = dport;
	s->proto = IPPROTO_TCP;
	s->tcp_flags = flags;
}

/* Runs the program fd `repeat` times on `in`: the output packet, the
 * verdict, and the kernel's duration of one run in ns (ns may be NULL). */
static inline int prog_run(int fd, const struct pkt *in, struct pkt *out,
			   uint32_t repeat, uint32_t *verdict, uint32_t *ns)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in->data,
		    .data_size_in = in->len, .data_out = out->data,
		    .data_size_out = sizeof(out->data), .repeat = repeat);
	int ret = bpf_prog_test_run_opts(fd, &opts);

	out->len = opts.data_size_out;
	*verdict = opts.retval;
	if (ns)
		*ns = opts.duration;
	return ret;
}

#endif /* KANARY_BPF_PROG_RUN_H */
