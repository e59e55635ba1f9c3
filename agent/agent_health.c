/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * agent_health.c - which backends are alive. A dead replica must not keep
 * receiving its share of new connections: the kernel's count of refused
 * connections (a reset answering a SYN) marks it down at once, and a TCP
 * connect probe every second marks it down after repeated failures (a host
 * that vanished refuses nothing) and up again after repeated successes. A
 * backend that is down leaves its pool's Maglev table, so only its share of
 * new flows moves to the others; its established connections are left to
 * TCP. The state is kept in the kernel's map, so a restarted kanaryd knows.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "agent_internal.h"
#include "log.h"

#define HEALTH_PROBE_INTERVAL_MS   1000
#define HEALTH_PROBE_TIMEOUT_MS	   500
#define HEALTH_DOWN_AFTER_FAILURES 2
#define HEALTH_UP_AFTER_SUCCESSES  2
#define HEALTH_FETCH_TAG	   2

static void set_down(struct agent *a, struct service_rt *s,
		     struct backend_rt *b, bool down, const char *why)
{
	char ep[NETADDR_ENDPOINT_STR_LEN];
	int ret;

	if (b->health.down == down)
		return;
	ret = dp_service_set_down(a->dp, s->dp_index, &b->ep, down);
	netaddr_endpoint_str(&b->ep, ep, sizeof(ep));
	if (ret) {
		log_error("service %s: cannot mark %s %s: %s", s->cfg.def.name,
			  ep, down ? "down" : "up", strerror(-ret));
		return;
	}
	b->health.down = down;
	snprintf(b->health.reason, sizeof(b->health.reason), "%s", why);
	if (down)
		log_warn("service %s: %s backend %s is down (%s): its share of "
			 "new connections goes to the other replicas",
			 s->cfg.def.name,
			 b->pool == KN_POOL_CANARY ? "canary" : "stable", ep,
			 why);
	else
		log_info("service %s: backend %s is up again (%s)",
			 s->cfg.def.name, ep, why);
}

static void on_probe(void *owner, uint64_t tag, const struct fetch_result *r)
{
	struct backend_rt *b = owner;
	struct backend_health *h = &b->health;

	(void)tag;
	h->probe_in_flight = false;
	if (r->ok) {
		h->probe_failures = 0;
		h->probe_successes++;
		if (h->down && h->probe_successes >= HEALTH_UP_AFTER_SUCCESSES)
			set_down(b->agent, b->service, b, false,
				 "it accepts connections");
		return;
	}
	h->probe_successes = 0;
	h->probe_failures++;
	if (!h->down && h->probe_failures >= HEALTH_DOWN_AFTER_FAILURES) {
		char why[FETCH_ERR_LEN + 48];

		snprintf(why, sizeof(why), "%u connect probes failed: %s",
			 h->probe_failures, r->error);
		set_down(b->agent, b->service, b, true, why);
	}
}

static void probe(struct agent *a, struct backend_rt *b, uint64_t mono_ms)
{
	struct fetch_request req = {0};
	char host[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &b->ep.addr, host, sizeof(host));
	snprintf(req.url, sizeof(req.url), "http://%s:%u/", host, b->ep.port);
	req.connect_only = 1;
	req.timeout_ms = HEALTH_PROBE_TIMEOUT_MS;
	req.max_body_bytes = 1;
	b->health.next_probe_ms = mono_ms + HEALTH_PROBE_INTERVAL_MS;
	if (!fetcher_submit(a->fetcher, &req, on_probe, b, HEALTH_FETCH_TAG))
		b->health.probe_in_flight = true;
}

void health_tick(struct agent *a, struct service_rt *s, uint64_t mono_ms)
{
	uint32_t i;

	for (i = 0; i < s->backend_count; i++) {
		struct backend_rt *b = s->backends[i];
		struct backend_health *h = &b->health;
		uint64_t refused = b->now.totals.refused;

		if (!h->primed) {
			h->refused_seen = refused;
			h->primed = true;
		} else if (refused > h->refused_seen) {
			char why[96];

			snprintf(
			    why, sizeof(why), "it refused %llu connections",
			    (unsigned long long)(refused - h->refused_seen));
			h->refused_seen = refused;
			h->probe_successes = 0;
			set_down(a, s, b, true, why);
		}
		if (!h->probe_in_flight && mono_ms >= h->next_probe_ms)
			probe(a, b, mono_ms);
	}
}

json_t *health_json(const struct backend_health *h)
{
	return json_pack("{s:b, s:s}", "healthy", !h->down, "reason",
			 h->reason[0] ? h->reason : "no problem seen");
}
