// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * services.c - the services the fuzzer configures, and lookups in them
 *
 * A part of the packet fuzzer (tests/bpf/test_packet_fuzz.c); what the
 * parts share is in fuzz.h.
 */
#include "fuzz.h"

/*
 * Two VIPs, several ports, both protocols, one port number (80) on both
 * protocols, a backend address shared by services on other ports, and two
 * services with no backend at all (their packets are the documented drops).
 */
const struct fz_service services[] = {
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

const size_t service_count = sizeof(services) / sizeof(services[0]);

const struct fz_service *find_service(uint32_t addr, uint16_t port,
				      uint8_t proto)
{
	size_t i;

	for (i = 0; i < service_count; i++)
		if (services[i].vip.addr == addr &&
		    services[i].vip.port == port && services[i].proto == proto)
			return &services[i];
	return NULL;
}

bool is_backend_of(const struct fz_service *svc, uint32_t addr, uint16_t port)
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

uint32_t backend_count(const struct fz_service *svc)
{
	return svc->stable_count + svc->canary_count;
}
