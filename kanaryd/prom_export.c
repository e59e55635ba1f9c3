/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * prom_export.c - kanaryd's own /metrics, in the Prometheus text format
 * 0.0.4 (checked by `promtool check metrics` in the tests): the weights,
 * phases and steps of rollouts, each pool's share of the current window's
 * new connections and requests, what the kernel counted per backend, the
 * evaluations by verdict, rollbacks by reason, scrape errors by target and
 * the health probes, whether the data path is still attached.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_internal.h"
#include "heap.h"
#include "util/buf.h"
#include "util/netaddr.h"

#define PERCENT	 100.0
#define US_PER_S 1e6
/* Octave edges of the kernel's quarter-octave buckets: exact cumulative
 * counts with a fourth of the series. */
#define LATENCY_BUCKETS_PER_EDGE 4
/* No limit of its own: the page grows with the services, as memory allows. */
#define PAGE_MAX_BYTES (SIZE_MAX / 2)

/* The page being written; the first error sticks and ends it. */
struct page {
	struct buf text;
	int err;
};

static void __attribute__((format(printf, 2, 3)))
out(struct page *b, const char *fmt, ...)
{
	va_list ap;

	if (b->err)
		return;
	va_start(ap, fmt);
	b->err = buf_vprintf(&b->text, fmt, ap);
	va_end(ap);
}

/* out() for the parts that write their own families (notify.c). */
static void __attribute__((format(printf, 2, 3)))
put_page(void *page, const char *fmt, ...)
{
	struct page *b = page;
	va_list ap;

	if (b->err)
		return;
	va_start(ap, fmt);
	b->err = buf_vprintf(&b->text, fmt, ap);
	va_end(ap);
}

static void family(struct page *b, const char *name, const char *type,
		   const char *help)
{
	out(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Label values: service names and addresses only hold [A-Za-z0-9._:-]. */
static const char *pool_name(const struct backend_rt *be)
{
	return be->pool == KN_POOL_CANARY ? "canary" : "stable";
}

/* One pool_split as a gauge per pool; a pool's series is left out while
 * the split is undefined (nothing counted in the window yet). */
static void split_series(struct page *b, const char *name, const char *service,
			 const struct pool_split *split)
{
	static const char *const pools[KN_POOL_COUNT] = {
	    [KN_POOL_STABLE] = "stable", [KN_POOL_CANARY] = "canary"};
	int p;

	for (p = 0; p < KN_POOL_COUNT; p++)
		if (!isnan(split->fraction[p]))
			out(b, "%s{service=\"%s\",pool=\"%s\"} %g\n", name,
			    service, pools[p], split->fraction[p]);
}

/* What each pool got of the current window's new connections and requests:
 * with keep-alive clients the second lags the weight (docs/design.md). */
static void share_families(struct agent *a, struct page *b)
{
	struct window_share share;
	size_t i;

	family(b, "kanary_pool_new_connection_share", "gauge",
	       "Fraction of the new connections of the current step's window "
	       "that went to the pool.");
	for (i = 0; i < a->service_count; i++) {
		signals_window_share(a->services[i], &share);
		split_series(b, "kanary_pool_new_connection_share",
			     a->services[i]->cfg.def.name,
			     &share.new_connections);
	}
	family(b, "kanary_pool_request_share", "gauge",
	       "Fraction of the HTTP requests of the current step's window "
	       "that the pool answered; lags the weight while keep-alive "
	       "connections opened before the step live.");
	for (i = 0; i < a->service_count; i++) {
		signals_window_share(a->services[i], &share);
		if (share.requests_observed)
			split_series(b, "kanary_pool_request_share",
				     a->services[i]->cfg.def.name,
				     &share.requests);
	}
}

static void service_families(struct agent *a, struct page *b)
{
	static const enum rollout_phase phases[] = {
	    PHASE_IDLE,	   PHASE_WARMING,      PHASE_PROGRESSING,
	    PHASE_PAUSED,  PHASE_PROMOTED,     PHASE_ROLLED_BACK,
	    PHASE_ABORTED, PHASE_WAITING_GATE,
	};
	size_t i, p;

	family(b, "kanary_service_canary_weight_percent", "gauge",
	       "Share of new connections sent to the canary pool.");
	for (i = 0; i < a->service_count; i++)
		out(b,
		    "kanary_service_canary_weight_percent{service=\"%s\"} %g\n",
		    a->services[i]->cfg.def.name,
		    a->services[i]->rollout.weight_bp / PERCENT);
	family(b, "kanary_service_phase", "gauge",
	       "1 for the rollout phase the service is in, 0 for the others.");
	for (i = 0; i < a->service_count; i++)
		for (p = 0; p < sizeof(phases) / sizeof(phases[0]); p++)
			out(b,
			    "kanary_service_phase{service=\"%s\",phase=\"%s\"} "
			    "%d\n",
			    a->services[i]->cfg.def.name,
			    rollout_phase_name(phases[p]),
			    a->services[i]->rollout.phase == phases[p]);
	family(b, "kanary_service_step", "gauge",
	       "Current rollout step, 1-based; 0 outside a rollout.");
	for (i = 0; i < a->service_count; i++) {
		const struct rollout_state *r = &a->services[i]->rollout;

		out(b, "kanary_service_step{service=\"%s\"} %u\n",
		    a->services[i]->cfg.def.name,
		    rollout_is_active(r) ? r->step + 1 : 0);
	}
	family(b, "kanary_service_steps", "gauge",
	       "Number of steps of the current or last rollout.");
	for (i = 0; i < a->service_count; i++)
		out(b, "kanary_service_steps{service=\"%s\"} %u\n",
		    a->services[i]->cfg.def.name,
		    a->services[i]->rollout.started_ms
			? a->services[i]->rollout.spec.step_count
			: 0);
	share_families(a, b);
	family(b, "kanary_evaluations_total", "counter",
	       "Canary evaluations by verdict.");
	for (i = 0; i < a->service_count; i++)
		for (p = 0; p < 3; p++)
			out(b,
			    "kanary_evaluations_total{service=\"%s\","
			    "verdict=\"%s\"} %llu\n",
			    a->services[i]->cfg.def.name,
			    rollout_verdict_name((enum rollout_verdict)p),
			    (unsigned long long)a->services[i]->evaluations[p]);
	family(b, "kanary_service_rollbacks_total", "counter",
	       "Rollbacks of the service's canary.");
	for (i = 0; i < a->service_count; i++)
		out(b, "kanary_service_rollbacks_total{service=\"%s\"} %llu\n",
		    a->services[i]->cfg.def.name,
		    (unsigned long long)a->services[i]->rollbacks);
}

struct counter_field {
	const char *name;
	const char *help;
	size_t offset;
};

#define FIELD(n, f, h)                                                         \
	{                                                                      \
		n, h, offsetof(struct kn_backend_stats, f)                     \
	}

static const struct counter_field backend_counters[] = {
    FIELD("kanary_backend_connections_total", new_flows,
	  "New connections the data path steered to the backend."),
    FIELD("kanary_backend_resets_total", resets_from,
	  "TCP resets sent by the backend."),
    FIELD("kanary_backend_refused_total", refused,
	  "Connections the backend refused (reset answering a SYN)."),
    FIELD("kanary_backend_syn_retries_total", syn_retries,
	  "SYNs clients sent again because the backend did not answer."),
    FIELD("kanary_backend_http_streams_total", http_streams,
	  "HTTP responses of Content-Type text/event-stream."),
    FIELD("kanary_backend_http_stream_errors_total", http_stream_errors,
	  "Event streams that carried an error event (event: error, or "
	  "data: {\"error\"...}): counted as errors beside the 5xx."),
};

/* A histogram of the kernel's, at its offset in struct dp_backend_counters.
 */
struct hist_field {
	const char *name;
	const char *help;
	size_t offset;
};

static const struct hist_field backend_histograms[] = {
    {"kanary_backend_http_latency_seconds",
     "Time from a request's first byte to its response's first byte, seen "
     "by the kernel.",
     offsetof(struct dp_backend_counters, latency)},
    {"kanary_backend_http_first_body_seconds",
     "Time from a request's first byte to its response's first body byte "
     "after the headers (for an event stream: the first token), seen by "
     "the kernel.",
     offsetof(struct dp_backend_counters, timing.first_body)},
    {"kanary_backend_http_response_end_seconds",
     "Time from a request's first byte to its response's end, seen by the "
     "kernel.",
     offsetof(struct dp_backend_counters, timing.end)},
    {"kanary_backend_http_event_gap_seconds",
     "Gaps between packets carrying event data in event streams "
     "(inter-token latency, one sample per packet), seen by the kernel.",
     offsetof(struct dp_backend_counters, timing.event_gap)},
};

/* A counter kept per direction: to the backend and back from it. */
struct direction_field {
	const char *name;
	const char *help;
	size_t to_offset, from_offset;
};

static const struct direction_field backend_direction_counters[] = {
    {"kanary_backend_packets_total",
     "Packets the data path translated, by direction.",
     offsetof(struct kn_backend_stats, packets_to),
     offsetof(struct kn_backend_stats, packets_from)},
    {"kanary_backend_bytes_total",
     "IP bytes the data path translated, by direction.",
     offsetof(struct kn_backend_stats, bytes_to),
     offsetof(struct kn_backend_stats, bytes_from)},
};

/* The counter at offset in s (one of the tables' offsets). */
static unsigned long long counter_at(const struct kn_backend_stats *s,
				     size_t offset)
{
	const __u64 *v = (const void *)((const char *)s + offset);

	return (unsigned long long)*v;
}

static void backend_families(struct agent *a, struct page *b)
{
	static const char *const classes[] = {"1xx", "2xx", "3xx", "4xx",
					      "5xx"};
	size_t f, i, c;
	uint32_t k;

#define EACH_BACKEND                                                           \
	for (i = 0; i < a->service_count; i++)                                 \
		for (k = 0; k < a->services[i]->backend_count; k++)
#define BE	   (a->services[i]->backends[k])
#define LABELS	   "service=\"%s\",backend=\"%s\",pool=\"%s\""
#define LABEL_ARGS a->services[i]->cfg.def.name, ep, pool_name(BE)

	for (f = 0; f < sizeof(backend_counters) / sizeof(backend_counters[0]);
	     f++) {
		family(b, backend_counters[f].name, "counter",
		       backend_counters[f].help);
		EACH_BACKEND
		{
			char ep[NETADDR_ENDPOINT_STR_LEN];

			netaddr_endpoint_str(&BE->ep, ep, sizeof(ep));
			out(b, "%s{" LABELS "} %llu\n",
			    backend_counters[f].name, LABEL_ARGS,
			    counter_at(&BE->now.totals,
				       backend_counters[f].offset));
		}
	}
	for (f = 0; f < sizeof(backend_direction_counters) /
			    sizeof(backend_direction_counters[0]);
	     f++) {
		const struct direction_field *d =
		    &backend_direction_counters[f];

		family(b, d->name, "counter", d->help);
		EACH_BACKEND
		{
			char ep[NETADDR_ENDPOINT_STR_LEN];

			netaddr_endpoint_str(&BE->ep, ep, sizeof(ep));
			out(b, "%s{" LABELS ",direction=\"to_backend\"} %llu\n",
			    d->name, LABEL_ARGS,
			    counter_at(&BE->now.totals, d->to_offset));
			out(b,
			    "%s{" LABELS ",direction=\"from_backend\"} %llu\n",
			    d->name, LABEL_ARGS,
			    counter_at(&BE->now.totals, d->from_offset));
		}
	}
	family(b, "kanary_backend_http_responses_total", "counter",
	       "HTTP/1.x responses the kernel saw leave the backend, by "
	       "status class.");
	EACH_BACKEND
	{
		char ep[NETADDR_ENDPOINT_STR_LEN];

		netaddr_endpoint_str(&BE->ep, ep, sizeof(ep));
		for (c = 0; c < 5; c++)
			out(b,
			    "kanary_backend_http_responses_total{" LABELS
			    ",class=\"%s\"} %llu\n",
			    LABEL_ARGS, classes[c],
			    (unsigned long long)BE->now.totals.http_status[c]);
	}
	for (f = 0;
	     f < sizeof(backend_histograms) / sizeof(backend_histograms[0]);
	     f++) {
		const struct hist_field *hf = &backend_histograms[f];

		family(b, hf->name, "histogram", hf->help);
		EACH_BACKEND
		{
			char ep[NETADDR_ENDPOINT_STR_LEN];
			const struct kn_latency_hist *h =
			    (const void *)((const char *)&BE->now + hf->offset);
			unsigned long long cumulative = 0;
			unsigned bucket;

			netaddr_endpoint_str(&BE->ep, ep, sizeof(ep));
			for (bucket = 0; bucket < KN_LATENCY_BUCKETS - 1;
			     bucket++) {
				cumulative += h->buckets[bucket];
				if ((bucket + 1) % LATENCY_BUCKETS_PER_EDGE)
					continue;
				out(b, "%s_bucket{" LABELS ",le=\"%g\"} %llu\n",
				    hf->name, LABEL_ARGS,
				    kn_latency_bucket_low_us(bucket + 1) /
					US_PER_S,
				    cumulative);
			}
			cumulative += h->buckets[KN_LATENCY_BUCKETS - 1];
			out(b, "%s_bucket{" LABELS ",le=\"+Inf\"} %llu\n",
			    hf->name, LABEL_ARGS, cumulative);
			out(b, "%s_sum{" LABELS "} %g\n", hf->name, LABEL_ARGS,
			    h->sum_us / US_PER_S);
			out(b, "%s_count{" LABELS "} %llu\n", hf->name,
			    LABEL_ARGS, cumulative);
		}
	}
	family(b, "kanary_backend_up", "gauge",
	       "1 when the backend takes new connections, 0 when kanaryd "
	       "found it dead.");
	EACH_BACKEND
	{
		char ep[NETADDR_ENDPOINT_STR_LEN];

		netaddr_endpoint_str(&BE->ep, ep, sizeof(ep));
		out(b, "kanary_backend_up{" LABELS "} %d\n", LABEL_ARGS,
		    !BE->health.down);
	}
	family(b, "kanary_scrape_errors_total", "counter",
	       "Failed scrapes of a backend's /metrics, by target.");
	EACH_BACKEND
	{
		if (!a->services[i]->cfg.has_metrics)
			continue;
		out(b,
		    "kanary_scrape_errors_total{service=\"%s\",target=\"%s\"} "
		    "%llu\n",
		    a->services[i]->cfg.def.name, BE->target.url,
		    (unsigned long long)BE->target.failures);
	}
	family(b, "kanary_scrape_up", "gauge",
	       "1 when the latest scrape of the target succeeded.");
	EACH_BACKEND
	{
		if (!a->services[i]->cfg.has_metrics)
			continue;
		out(b, "kanary_scrape_up{service=\"%s\",target=\"%s\"} %d\n",
		    a->services[i]->cfg.def.name, BE->target.url,
		    BE->target.up);
	}
#undef EACH_BACKEND
#undef BE
#undef LABELS
#undef LABEL_ARGS
}

/* The forwarding fast path's counters: only on a node that runs it, so
 * that a stack-mode node's page stays as it was. */
static void forward_families(struct agent *a, struct page *b)
{
	static const char *const hooks[] = {"xdp_ingress", "tc_ingress"};
	struct kn_forward_stats stats[KN_HOOK_COUNT];
	size_t r, h;

	if (dp_forward_mode(a->dp) != KN_FORWARD_REDIRECT ||
	    dp_read_forward(a->dp, stats))
		return;
	family(b, "kanary_forward_total", "counter",
	       "Steered client packets in forward redirect mode: redirected "
	       "past the stack, or left to it (fallback), and why.");
	for (h = 0; h < sizeof(hooks) / sizeof(hooks[0]); h++)
		for (r = 0; r < KN_FWD_COUNT; r++)
			out(b,
			    "kanary_forward_total{hook=\"%s\",result=\"%s\","
			    "reason=\"%s\"} %llu\n",
			    hooks[h], dp_forward_result_name(r),
			    dp_forward_reason_name(r),
			    (unsigned long long)stats[h].result[r]);
}

static void agent_families(struct agent *a, struct page *b)
{
	static const char *const reasons[ROLLBACK_REASON_COUNT] = {
	    [ROLLBACK_ERROR_RATE] = "error_rate",
	    [ROLLBACK_REFUSED] = "refused",
	    [ROLLBACK_ANALYSIS] = "analysis",
	    [ROLLBACK_GATE] = "gate",
	};
	static const char *const hooks[] = {"xdp_ingress", "tc_ingress",
					    "tc_egress"};
	static const char *const why[] = {
	    [KN_R_TRANSLATED] = "translated",
	    [KN_R_NOT_IPV4] = "not_ipv4",
	    [KN_R_NOT_FOR_US] = "not_for_us",
	    [KN_R_NOT_TCP_UDP] = "not_tcp_udp",
	    [KN_R_FRAGMENT] = "fragment",
	    [KN_R_IP_OPTIONS] = "ip_options",
	    [KN_R_MALFORMED] = "malformed",
	    [KN_R_PARTIAL_CSUM] = "partial_checksum",
	    [KN_R_NO_BACKEND] = "no_backend",
	    [KN_R_CONFIG_RACE] = "config_race",
	    [KN_R_REWRITE_FAILED] = "rewrite_failed",
	    [KN_R_ICMP_REWRITTEN] = "icmp_translated",
	    [KN_R_ICMP_PASSED] = "icmp_passed",
	    [KN_R_ICMP_MALFORMED] = "icmp_malformed",
	};
	struct kn_global_stats stats[KN_HOOK_COUNT];
	struct heap_figures heap;
	size_t r, h;

	family(b, "kanary_rollbacks_total", "counter",
	       "Rollbacks by the rule that caused them.");
	for (r = 0; r < ROLLBACK_REASON_COUNT; r++)
		out(b, "kanary_rollbacks_total{reason=\"%s\"} %llu\n",
		    reasons[r], (unsigned long long)a->rollbacks_by_reason[r]);
	if (!dp_read_global(a->dp, stats)) {
		family(b, "kanary_datapath_packets_total", "counter",
		       "Packets each data-path program handled, by outcome.");
		for (h = 0; h < KN_HOOK_COUNT; h++)
			for (r = 0; r < KN_R_COUNT; r++)
				out(b,
				    "kanary_datapath_packets_total{hook=\"%s\","
				    "outcome=\"%s\"} %llu\n",
				    hooks[h], why[r],
				    (unsigned long long)stats[h].reason[r]);
	}
	forward_families(a, b);
	family(b, "kanary_datapath_attached", "gauge",
	       "1 while the interface's hooks run this kanaryd's programs, 0 "
	       "when another program replaced them or they were removed.");
	out(b, "kanary_datapath_attached{interface=\"%s\"} %d\n",
	    dp_ifname(a->dp), dp_is_attached(a->dp));
	family(b, "kanary_health_probes_total", "counter",
	       "TCP connect probes sent to backends: one a second per "
	       "distinct address, shared by the services that have it.");
	out(b, "kanary_health_probes_total %llu\n",
	    (unsigned long long)health_probes_sent(a->probes));
	family(b, "kanary_health_probe_addresses", "gauge",
	       "Distinct backend addresses probed.");
	out(b, "kanary_health_probe_addresses %zu\n",
	    health_probes_addresses(a->probes));
	heap_read(&heap);
	family(b, "kanary_process_heap_bytes", "gauge",
	       "kanaryd's heap (glibc malloc): bytes in use, and bytes "
	       "freed but still held by the allocator (what fragments).");
	out(b, "kanary_process_heap_bytes{state=\"in_use\"} %zu\n",
	    heap.in_use);
	out(b, "kanary_process_heap_bytes{state=\"free\"} %zu\n", heap.free);
	family(b, "kanary_agent_start_time_seconds", "gauge",
	       "When this kanaryd started, in seconds since the epoch.");
	out(b, "kanary_agent_start_time_seconds %.3f\n",
	    a->started_wall_ms / 1000.0);
}

int prom_export(struct agent *a, char **text, size_t *len)
{
	struct page b = {.err = 0};

	buf_init(&b.text, PAGE_MAX_BYTES);
	service_families(a, &b);
	backend_families(a, &b);
	agent_families(a, &b);
	notifier_prometheus(a->notifier, put_page, &b);
	if (b.err) {
		buf_free(&b.text);
		return b.err;
	}
	*len = b.text.len;
	*text = buf_take(&b.text);
	return *text ? 0 : -ENOMEM;
}
