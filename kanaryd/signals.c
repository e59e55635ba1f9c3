/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * signals.c - what the kernel saw, per service: the backends'
 * counters read every tick, summed per pool over an analysis window, over
 * the trailing seconds for the immediate rules, and per second for the
 * history chart; and each pool's share of the window's new connections and
 * requests, beside the weight (the status's "share", /metrics' shares);
 * the distinct client addresses of the window and whether they are too
 * few for the weight (the status's "clients"). No
 * instrumentation in the model server is needed: the data path counts
 * connections, resets, refusals, HTTP status classes and request-to-response
 * latency itself, and for event streams (LLM servers) the time to the first
 * token, the gaps between tokens and the error events sent after a 200,
 * which count as errors beside the 5xx.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "agent_internal.h"
#include "util/log.h"
#include "judge/clients.h"
#include "judge/stats.h"

#define HTTP_CLASS_2XX 1
#define HTTP_CLASS_5XX 4
#define HTTP_CLASSES   5
#define PERCENT	       100.0
#define MS_PER_S       1000.0
/* Shares in the status: percents with two decimals. */
#define SHARE_DECIMALS_SCALE 100.0

static double responses(const struct kn_backend_stats *t)
{
	double sum = 0;
	int c;

	/* 1xx are interim answers, not outcomes of requests */
	for (c = HTTP_CLASS_2XX; c < HTTP_CLASSES; c++)
		sum += (double)t->http_status[c];
	return sum;
}

static double sub(__u64 now, __u64 then)
{
	return now >= then ? (double)(now - then) : 0;
}

/* Failed responses: 5xx, and event streams that carried an error event
 * (the status was a 200 sent before the failure). */
static double failed_responses(const struct kn_backend_stats *t)
{
	return (double)t->http_status[HTTP_CLASS_5XX] +
	       (double)t->http_stream_errors;
}

static void latency_add_delta(struct kn_latency_hist *acc,
			      const struct kn_latency_hist *now,
			      const struct kn_latency_hist *then)
{
	unsigned i;

	acc->count += now->count >= then->count ? now->count - then->count : 0;
	acc->sum_us +=
	    now->sum_us >= then->sum_us ? now->sum_us - then->sum_us : 0;
	for (i = 0; i < KN_LATENCY_BUCKETS; i++)
		acc->buckets[i] += now->buckets[i] >= then->buckets[i]
				       ? now->buckets[i] - then->buckets[i]
				       : 0;
}

static void latency_add(struct kn_latency_hist *acc,
			const struct kn_latency_hist *h)
{
	unsigned i;

	acc->count += h->count;
	acc->sum_us += h->sum_us;
	for (i = 0; i < KN_LATENCY_BUCKETS; i++)
		acc->buckets[i] += h->buckets[i];
}

void signals_read(struct agent *a, struct service_rt *s, uint64_t mono_ms)
{
	double requests = 0, errors = 0, refused = 0;
	uint32_t i, slot;

	for (i = 0; i < s->backend_count; i++) {
		struct backend_rt *b = s->backends[i];
		int ret = dp_read_backend(a->dp, b->stats_index, &b->now);

		if (ret) {
			log_warn("cannot read the counters of %s backend "
				 "slot %u: %s",
				 s->cfg.def.name, b->stats_index,
				 strerror(-ret));
			continue;
		}
		if (b->pool != KN_POOL_CANARY)
			continue;
		requests += responses(&b->now.totals);
		errors += failed_responses(&b->now.totals);
		refused += (double)b->now.totals.refused;
	}
	signals_read_clients(a, s);
	slot = ring_push(&s->trail_ring);
	s->trail[slot].t_ms = mono_ms;
	s->trail[slot].requests = requests;
	s->trail[slot].errors = errors;
	s->trail[slot].refused = refused;
	s->last_read_mono_ms = mono_ms;
}

/* The window's distinct clients, from the data path's bitmap. */
void signals_read_clients(struct agent *a, struct service_rt *s)
{
	struct kn_client_seen seen;
	int ret = dp_read_clients(a->dp, s->dp_index, &seen);

	if (ret) {
		log_warn("cannot read the client bitmap of %s: %s",
			 s->cfg.def.name, strerror(-ret));
		return;
	}
	s->clients_estimate = clients_estimate(&seen);
}

void signals_reset_trail(struct service_rt *s)
{
	ring_init(&s->trail_ring, AGENT_TRAIL_POINTS);
	ring_init(&s->snapshot_ring, AGENT_HISTORY_SPAN_SNAPSHOTS);
}

void signals_new_window(struct service_rt *s, uint64_t mono_ms)
{
	uint32_t i;

	for (i = 0; i < s->backend_count; i++)
		s->backends[i]->window_start = s->backends[i]->now;
	s->window_started_mono_ms = mono_ms;
}

/* Responses (1xx excluded) between the window's start and now. */
static double window_responses(const struct kn_backend_stats *now,
			       const struct kn_backend_stats *start)
{
	double sum = 0;
	int c;

	for (c = HTTP_CLASS_2XX; c < HTTP_CLASSES; c++)
		sum += sub(now->http_status[c], start->http_status[c]);
	return sum;
}

void signals_kernel_window(const struct service_rt *s,
			   struct kernel_window out[2])
{
	struct kn_latency_hist latency[2], ttft[2], itl[2];
	uint32_t i;
	int p;

	memset(out, 0, 2 * sizeof(*out));
	memset(latency, 0, sizeof(latency));
	memset(ttft, 0, sizeof(ttft));
	memset(itl, 0, sizeof(itl));
	for (i = 0; i < s->backend_count; i++) {
		const struct backend_rt *b = s->backends[i];
		const struct kn_backend_stats *n = &b->now.totals;
		const struct kn_backend_stats *w = &b->window_start.totals;
		struct kernel_window *k = &out[b->pool & 1];

		k->requests += window_responses(n, w);
		k->errors += sub(n->http_status[HTTP_CLASS_5XX],
				 w->http_status[HTTP_CLASS_5XX]) +
			     sub(n->http_stream_errors, w->http_stream_errors);
		k->streams += sub(n->http_streams, w->http_streams);
		k->new_flows += sub(n->new_flows, w->new_flows);
		k->refused += sub(n->refused, w->refused);
		k->resets += sub(n->resets_from, w->resets_from);
		k->syn_retries += sub(n->syn_retries, w->syn_retries);
		latency_add_delta(&latency[b->pool & 1], &b->now.latency,
				  &b->window_start.latency);
		latency_add_delta(&ttft[b->pool & 1], &b->now.timing.first_body,
				  &b->window_start.timing.first_body);
		latency_add_delta(&itl[b->pool & 1], &b->now.timing.event_gap,
				  &b->window_start.timing.event_gap);
	}
	for (p = 0; p < 2; p++) {
		stats_hist_from_kernel(&out[p].latency, &latency[p]);
		stats_hist_from_kernel(&out[p].ttft, &ttft[p]);
		stats_hist_from_kernel(&out[p].itl, &itl[p]);
	}
}

void signals_trailing(const struct service_rt *s, uint32_t min_requests,
		      struct trailing_counts *out)
{
	const struct ring *r = &s->trail_ring;
	uint32_t newest, back, idx;

	memset(out, 0, sizeof(*out));
	if (r->len < 2)
		return;
	newest = ring_newest(r);
	/* Walk back to the shortest span with enough requests, at most the
	 * lookback: the rule judges what happens now, not an average. */
	for (back = 1; back < r->len; back++) {
		uint64_t span;

		idx = ring_at(r, r->len - 1 - back);
		span = s->trail[newest].t_ms - s->trail[idx].t_ms;
		out->valid = true;
		out->requests =
		    s->trail[newest].requests - s->trail[idx].requests;
		out->errors = s->trail[newest].errors - s->trail[idx].errors;
		out->refused = s->trail[newest].refused - s->trail[idx].refused;
		out->span_ms = span;
		if (out->requests >= min_requests ||
		    span >= AGENT_TRAIL_LOOKBACK_MS)
			break;
	}
	if (out->requests < 0 || out->errors < 0 || out->refused < 0)
		out->valid = false; /* a pool changed under us */
}

static void pool_totals(const struct service_rt *s, int pool,
			struct pool_snapshot *snap)
{
	uint32_t i;

	memset(snap, 0, sizeof(*snap));
	for (i = 0; i < s->backend_count; i++) {
		const struct backend_rt *b = s->backends[i];

		if ((int)b->pool != pool)
			continue;
		snap->requests += responses(&b->now.totals);
		snap->errors += failed_responses(&b->now.totals);
		snap->refused += (double)b->now.totals.refused;
		latency_add(&snap->latency, &b->now.latency);
	}
}

static void history_pool(struct history_pool *out,
			 const struct pool_snapshot *then,
			 const struct pool_snapshot *now)
{
	struct kn_latency_hist delta = {0};
	struct stats_hist hist;
	double requests = now->requests - then->requests;
	double errors = now->errors - then->errors;
	double p99 = 0;

	latency_add_delta(&delta, &now->latency, &then->latency);
	out->requests = requests > 0 ? requests : 0;
	out->error_rate_pct = requests > 0 ? PERCENT * errors / requests : NAN;
	if (!stats_hist_from_kernel(&hist, &delta) &&
	    stats_hist_quantile(&hist, 0.99, &p99) == STATS_OK)
		out->p99_ms = MS_PER_S * p99;
	else
		out->p99_ms = NAN;
}

void signals_history_tick(struct service_rt *s, uint64_t mono_ms,
			  uint64_t wall_ms)
{
	struct history_point *pt;
	uint32_t newest, oldest;
	int p;

	if (mono_ms < s->next_history_mono_ms)
		return;
	s->next_history_mono_ms = mono_ms + AGENT_HISTORY_INTERVAL_MS;
	newest = ring_push(&s->snapshot_ring);
	for (p = 0; p < 2; p++) {
		pool_totals(s, p, &s->snapshots[newest][p]);
		s->snapshots[newest][p].t_ms = mono_ms;
	}
	oldest = ring_at(&s->snapshot_ring, 0);

	pt = &s->history[ring_push(&s->history_ring)];
	pt->wall_ms = wall_ms;
	pt->weight_bp = s->rollout.weight_bp;
	pt->phase = s->rollout.phase;
	for (p = 0; p < 2; p++)
		history_pool(&pt->pools[p], &s->snapshots[oldest][p],
			     &s->snapshots[newest][p]);
}

const struct history_point *signals_history_last(const struct service_rt *s)
{
	return ring_empty(&s->history_ring)
		   ? NULL
		   : &s->history[ring_newest(&s->history_ring)];
}

static json_t *real_or_null(double v)
{
	return isnan(v) ? json_null() : json_real(v);
}

static json_t *history_pool_json(const struct history_pool *hp)
{
	return json_pack("{s:f, s:o, s:o}", "requests", hp->requests,
			 "error_rate_pct", real_or_null(hp->error_rate_pct),
			 "p99_ms", real_or_null(hp->p99_ms));
}

/* {"stable": {...}, "canary": {...}}: one point's signals per pool. */
json_t *signals_history_pools_json(const struct history_point *pt)
{
	return json_pack("{s:o, s:o}", "stable",
			 history_pool_json(&pt->pools[KN_POOL_STABLE]),
			 "canary",
			 history_pool_json(&pt->pools[KN_POOL_CANARY]));
}

/* One history point in the API's shape, as JSON text (free()). */
static char *history_point_text(const struct history_point *pt)
{
	json_t *pools = signals_history_pools_json(pt);
	json_t *point = json_pack(
	    "{s:I, s:f, s:s}", "t", (json_int_t)pt->wall_ms, "canary_percent",
	    pt->weight_bp / PERCENT, "phase", rollout_phase_name(pt->phase));
	char *text = NULL;

	if (point && pools && !json_object_update(point, pools))
		text = json_dumps(point, JSON_TEXT_FLAGS);
	json_decref(pools);
	json_decref(point);
	return text;
}

int signals_history_items(const struct service_rt *s, struct buf *out)
{
	uint32_t i;
	int ret = 0;

	for (i = 0; !ret && i < s->history_ring.len; i++) {
		char *text = history_point_text(
		    &s->history[ring_at(&s->history_ring, i)]);

		ret =
		    text ? json_text_array_item(out, text, strlen(text), i == 0)
			 : -ENOMEM;
		free(text);
	}
	return ret;
}

/* {"count", and when it has quantiles "p50_ms", "p90_ms", "p99_ms",
 * "mean_ms"}: one of the kernel's histograms. */
static json_t *kernel_hist_json(const struct kn_latency_hist *h)
{
	struct stats_hist hist;
	struct stats_hist_summary sum = {0};
	json_t *latency;

	if (!stats_hist_from_kernel(&hist, h))
		stats_hist_summarize(&hist, &sum);
	latency = json_pack("{s:I}", "count", (json_int_t)h->count);
	if (sum.status == STATS_OK) {
		json_object_set_new(latency, "p50_ms",
				    json_real(MS_PER_S * sum.p50));
		json_object_set_new(latency, "p90_ms",
				    json_real(MS_PER_S * sum.p90));
		json_object_set_new(latency, "p99_ms",
				    json_real(MS_PER_S * sum.p99));
		json_object_set_new(latency, "mean_ms",
				    json_real(MS_PER_S * sum.mean));
	}
	return latency;
}

json_t *signals_backend_json(const struct backend_rt *b)
{
	const struct kn_backend_stats *t = &b->now.totals;
	json_t *json, *http;

	json = json_pack(
	    "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
	    "s:{s:I, s:I, s:I, s:I, s:I, s:I}, s:o}",
	    "new_connections", (json_int_t)t->new_flows, "packets_to",
	    (json_int_t)t->packets_to, "bytes_to", (json_int_t)t->bytes_to,
	    "packets_from", (json_int_t)t->packets_from, "bytes_from",
	    (json_int_t)t->bytes_from, "resets", (json_int_t)t->resets_from,
	    "refused", (json_int_t)t->refused, "syn_retries",
	    (json_int_t)t->syn_retries, "http", "1xx",
	    (json_int_t)t->http_status[0], "2xx", (json_int_t)t->http_status[1],
	    "3xx", (json_int_t)t->http_status[2], "4xx",
	    (json_int_t)t->http_status[3], "5xx", (json_int_t)t->http_status[4],
	    "unparsed", (json_int_t)t->http_responses_unparsed, "latency",
	    kernel_hist_json(&b->now.latency));

	http = json_object_get(json, "http");
	/* Event streams (LLM servers), and every response's later times. */
	json_object_set_new(http, "streams", json_integer(t->http_streams));
	json_object_set_new(http, "stream_errors",
			    json_integer(t->http_stream_errors));
	json_object_set_new(
	    json, "timing",
	    json_pack("{s:o, s:o, s:o}", "first_body",
		      kernel_hist_json(&b->now.timing.first_body), "end",
		      kernel_hist_json(&b->now.timing.end), "event_gap",
		      kernel_hist_json(&b->now.timing.event_gap)));
	return json;
}

static void split_fractions(struct pool_split *split,
			    const double count[KN_POOL_COUNT])
{
	int p;

	split->total = count[KN_POOL_STABLE] + count[KN_POOL_CANARY];
	for (p = 0; p < KN_POOL_COUNT; p++)
		split->fraction[p] =
		    split->total > 0 ? count[p] / split->total : NAN;
}

/* Over the current window, as analysis sees it: the kernel's new
 * connections and responses per pool since the window started. */
void signals_window_share(const struct service_rt *s, struct window_share *out)
{
	double flows[KN_POOL_COUNT] = {0}, requests[KN_POOL_COUNT] = {0};
	uint32_t i;

	for (i = 0; i < s->backend_count; i++) {
		const struct backend_rt *b = s->backends[i];
		const struct kn_backend_stats *n = &b->now.totals;
		const struct kn_backend_stats *w = &b->window_start.totals;

		flows[b->pool & 1] += sub(n->new_flows, w->new_flows);
		requests[b->pool & 1] += window_responses(n, w);
	}
	split_fractions(&out->new_connections, flows);
	split_fractions(&out->requests, requests);
	out->requests_observed = s->cfg.def.flags & KN_SVC_F_HTTP;
}

/* A fraction as a percent with two decimals, or null. */
static json_t *percent_or_null(double fraction)
{
	return isnan(fraction) ? json_null()
			       : json_real(round(fraction * PERCENT *
						 SHARE_DECIMALS_SCALE) /
					   SHARE_DECIMALS_SCALE);
}

static json_t *pool_split_json(const struct pool_split *split)
{
	return json_pack(
	    "{s:I, s:o, s:o}", "total", (json_int_t)split->total, "stable",
	    percent_or_null(split->fraction[KN_POOL_STABLE]), "canary",
	    percent_or_null(split->fraction[KN_POOL_CANARY]));
}

/* {"weight_percent": {...}, "window": {"started", "new_connections",
 * "requests"}}: the weight beside what the pools got in the window. */
json_t *signals_window_share_json(const struct service_rt *s,
				  uint64_t window_started_wall_ms)
{
	struct window_share share;
	double canary = s->rollout.weight_bp / PERCENT;

	signals_window_share(s, &share);
	return json_pack(
	    "{s:{s:f, s:f}, s:{s:o, s:o, s:o}}", "weight_percent", "stable",
	    PERCENT - canary, "canary", canary, "window", "started",
	    status_time_json(window_started_wall_ms), "new_connections",
	    pool_split_json(&share.new_connections), "requests",
	    share.requests_observed ? pool_split_json(&share.requests)
				    : json_null());
}

bool signals_few_clients(const struct service_rt *s)
{
	struct window_share share;

	if (s->cfg.def.flags & KN_SVC_F_CONNECTION_AFFINITY)
		return false;
	signals_window_share(s, &share);
	return clients_too_few(s->clients_estimate, s->rollout.weight_bp,
			       share.new_connections.total);
}

void signals_few_clients_text(const struct service_rt *s, char *buf, size_t len)
{
	snprintf(buf, len,
		 "few clients: about %.0f distinct client addresses this "
		 "step, so with client affinity the canary share moves in "
		 "steps of about %.0f points and cannot follow a weight of "
		 "%.2f %%; \"affinity\": \"connection\" lets it follow "
		 "(without stickiness)",
		 round(s->clients_estimate),
		 clients_share_step_points(round(s->clients_estimate)),
		 s->rollout.weight_bp / PERCENT);
}

/* {"distinct", "too_few", "share_step_points", "warning"}: the window's
 * distinct client addresses, and the warning when they are too few. */
json_t *signals_clients_json(const struct service_rt *s)
{
	char text[SIGNALS_FEW_CLIENTS_TEXT_LEN];
	bool few = signals_few_clients(s);
	/* Whole clients: the step of 3 clients reads 33.33, not 33.28. */
	double distinct = round(s->clients_estimate);
	json_t *step = json_null();

	if (distinct >= 1)
		step = json_real(round(clients_share_step_points(distinct) *
				       SHARE_DECIMALS_SCALE) /
				 SHARE_DECIMALS_SCALE);
	if (few)
		signals_few_clients_text(s, text, sizeof(text));
	return json_pack("{s:I, s:b, s:o, s:o}", "distinct",
			 (json_int_t)distinct, "too_few", few,
			 "share_step_points", step, "warning",
			 few ? json_string(text) : json_null());
}
