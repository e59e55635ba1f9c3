/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * health.c - which backends are alive. A dead replica must not keep
 * receiving its share of new connections: the kernel's count of refused
 * connections (a reset answering a SYN) marks it down at once, and a TCP
 * connect probe every second marks it down after repeated failures (a host
 * that vanished refuses nothing) and up again after repeated successes. A
 * backend that is down leaves its pool's Maglev table, so only its share of
 * new flows moves to the others; its established connections are left to
 * TCP. The state is kept in the kernel's map, so a restarted kanaryd knows.
 * Services that share a backend share its probe: one connect a second per
 * distinct address, whatever the number of services. This file judges; the
 * core (agent.c) marks the backend in the kernel and logs the change.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_internal.h"
#include "util/hash.h"
#include "util/log.h"

#define HEALTH_PROBE_INTERVAL_MS   1000
#define HEALTH_PROBE_TIMEOUT_MS	   500
#define HEALTH_DOWN_AFTER_FAILURES 2
#define HEALTH_UP_AFTER_SUCCESSES  2
#define HEALTH_FETCH_TAG	   2
#define HEALTH_PROBE_BUCKETS_MIN   256
#define HEALTH_PROBE_FORGET_MS	   10000 /* no backend at the address */

/* ---- one probe per distinct address -------------------------------------- */

struct endpoint_probe {
	struct endpoint ep;
	struct endpoint_probe *next; /* hash chain */
	bool in_flight;
	uint64_t next_due_ms;	 /* monotonic */
	uint64_t last_wanted_ms; /* a backend looked at it */
	uint64_t results;	 /* finished probes; backends remember the last
				  * they took */
	bool ok;		 /* the latest result */
	char error[FETCH_ERR_LEN];
};

struct health_probes {
	struct endpoint_probe **buckets;
	size_t bucket_count; /* a power of two */
	size_t count;
	uint64_t sent;
	uint64_t next_sweep_ms;
};

static size_t bucket_of(const struct health_probes *hp,
			const struct endpoint *ep)
{
	uint32_t addr_hash = endpoint_family(ep) == AF_INET6
				 ? hash_fnv1a32(&ep->addr6, sizeof(ep->addr6))
				 : ep->addr.s_addr;
	uint64_t h =
	    ((uint64_t)addr_hash << 16 | ep->port) * 0x9e3779b97f4a7c15ull;

	return (size_t)(h >> 32) & (hp->bucket_count - 1);
}

struct health_probes *health_probes_create(void)
{
	struct health_probes *hp = calloc(1, sizeof(*hp));

	if (!hp)
		return NULL;
	hp->bucket_count = HEALTH_PROBE_BUCKETS_MIN;
	hp->buckets = calloc(hp->bucket_count, sizeof(*hp->buckets));
	if (!hp->buckets) {
		free(hp);
		return NULL;
	}
	return hp;
}

void health_probes_destroy(struct health_probes *hp, struct fetcher *f)
{
	size_t i;

	if (!hp)
		return;
	for (i = 0; i < hp->bucket_count; i++) {
		struct endpoint_probe *e, *next;

		for (e = hp->buckets[i]; e; e = next) {
			next = e->next;
			if (f)
				fetcher_cancel_owner(f, e);
			free(e);
		}
	}
	free(hp->buckets);
	free(hp);
}

uint64_t health_probes_sent(const struct health_probes *hp)
{
	return hp->sent;
}

size_t health_probes_addresses(const struct health_probes *hp)
{
	return hp->count;
}

/* Doubles the buckets once there are more probes than buckets; keeps the
 * old ones when memory is short (chains just grow longer). */
static void grow(struct health_probes *hp)
{
	size_t old_count = hp->bucket_count, i;
	struct endpoint_probe **old = hp->buckets;

	hp->buckets = calloc(old_count * 2, sizeof(*hp->buckets));
	if (!hp->buckets) {
		hp->buckets = old;
		return;
	}
	hp->bucket_count = old_count * 2;
	for (i = 0; i < old_count; i++) {
		struct endpoint_probe *e, *next;

		for (e = old[i]; e; e = next) {
			size_t bkt = bucket_of(hp, &e->ep);

			next = e->next;
			e->next = hp->buckets[bkt];
			hp->buckets[bkt] = e;
		}
	}
	free(old);
}

static struct endpoint_probe *
probe_for(struct health_probes *hp, const struct endpoint *ep, uint64_t mono_ms)
{
	struct endpoint_probe *e;
	size_t bkt = bucket_of(hp, ep);

	for (e = hp->buckets[bkt]; e; e = e->next)
		if (!netaddr_endpoint_cmp(&e->ep, ep))
			break;
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e)
			return NULL;
		e->ep = *ep;
		e->next_due_ms = mono_ms;
		e->next = hp->buckets[bkt];
		hp->buckets[bkt] = e;
		if (++hp->count > hp->bucket_count)
			grow(hp);
	}
	e->last_wanted_ms = mono_ms;
	return e;
}

void health_probes_sweep(struct health_probes *hp, uint64_t mono_ms)
{
	size_t i;

	if (mono_ms < hp->next_sweep_ms)
		return;
	hp->next_sweep_ms = mono_ms + HEALTH_PROBE_FORGET_MS;
	for (i = 0; i < hp->bucket_count; i++) {
		struct endpoint_probe **link = &hp->buckets[i];

		while (*link) {
			struct endpoint_probe *e = *link;

			if (!e->in_flight && mono_ms - e->last_wanted_ms >
						 HEALTH_PROBE_FORGET_MS) {
				*link = e->next;
				free(e);
				hp->count--;
			} else {
				link = &e->next;
			}
		}
	}
}

static void on_probe(void *owner, uint64_t tag, const struct fetch_result *r)
{
	struct endpoint_probe *e = owner;

	(void)tag;
	e->in_flight = false;
	e->results++;
	e->ok = r->ok;
	snprintf(e->error, sizeof(e->error), "%s", r->ok ? "" : r->error);
}

static void probe(struct agent *a, struct endpoint_probe *e, uint64_t mono_ms)
{
	struct fetch_request req = {0};
	char ep[NETADDR_ENDPOINT_STR_LEN];

	netaddr_endpoint_str(&e->ep, ep, sizeof(ep));
	snprintf(req.url, sizeof(req.url), "http://%s/", ep);
	req.connect_only = 1;
	req.timeout_ms = HEALTH_PROBE_TIMEOUT_MS;
	req.max_body_bytes = 1;
	e->next_due_ms = mono_ms + HEALTH_PROBE_INTERVAL_MS;
	if (!fetcher_submit(a->fetcher, &req, on_probe, e, HEALTH_FETCH_TAG)) {
		e->in_flight = true;
		a->probes->sent++;
	}
}

/* A backend takes each result of its address's probe once; c->down is
 * its state as judged so far this tick. */
static void take_probe_result(struct backend_rt *b,
			      const struct endpoint_probe *e,
			      struct health_change *c)
{
	struct backend_health *h = &b->health;

	h->probe_results_seen = e->results;
	if (e->ok) {
		h->probe_failures = 0;
		h->probe_successes++;
		if (c->down &&
		    h->probe_successes >= HEALTH_UP_AFTER_SUCCESSES) {
			c->down = false;
			snprintf(c->why, sizeof(c->why),
				 "it accepts connections");
		}
		return;
	}
	h->probe_successes = 0;
	h->probe_failures++;
	if (!c->down && h->probe_failures >= HEALTH_DOWN_AFTER_FAILURES) {
		c->down = true;
		snprintf(c->why, sizeof(c->why), "%u connect probes failed: %s",
			 h->probe_failures, e->error);
	}
}

bool health_check(struct agent *a, struct backend_rt *b, uint64_t mono_ms,
		  struct health_change *out)
{
	struct backend_health *h = &b->health;
	uint64_t refused = b->now.totals.refused;
	struct endpoint_probe *e;

	out->down = h->down;
	out->why[0] = '\0';
	if (!h->primed) {
		h->refused_seen = refused;
		h->primed = true;
	} else if (refused > h->refused_seen) {
		snprintf(out->why, sizeof(out->why),
			 "it refused %llu connections",
			 (unsigned long long)(refused - h->refused_seen));
		h->refused_seen = refused;
		h->probe_successes = 0;
		out->down = true;
	}
	e = probe_for(a->probes, &b->ep, mono_ms);
	/* Out of memory: the kernel's refusals still count; the probe is
	 * tried next tick. */
	if (e) {
		if (e->results > h->probe_results_seen)
			take_probe_result(b, e, out);
		if (!e->in_flight && mono_ms >= e->next_due_ms)
			probe(a, e, mono_ms);
	}
	return out->down != h->down;
}

json_t *health_json(const struct backend_health *h)
{
	return json_pack("{s:b, s:s}", "healthy", !h->down, "reason",
			 h->reason[0] ? h->reason : "no problem seen");
}
