/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * scrape.c - what the model servers say about themselves: each
 * backend's /metrics page, scraped on the service's interval with a
 * timeout, parsed strictly and read through the service's metric spec;
 * summed per pool over an analysis window; and the warm-up requests sent to
 * canary backends before a rollout's first step, whose outcome goes back to
 * the core (agent.c), which ends the warm-up.
 *
 * A target that fails is reported (its error, counted), never silently
 * dropped: a pool with a target down makes the evaluation inconclusive.
 */
#include <arpa/inet.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "agent_internal.h"
#include "util/log.h"
#include "metrics/promparse.h"

#define HTTP_OK		   200
#define HTTP_SERVER_ERROR  500
#define ACCEPT_TEXT_FORMAT "text/plain;version=0.0.4"
#define OPENMETRICS_TYPE   "application/openmetrics-text"

void scrape_set_url(struct service_rt *s, struct backend_rt *b)
{
	char host[NETADDR_ENDPOINT_STR_LEN];
	uint16_t port = s->cfg.metrics_port ? s->cfg.metrics_port : b->ep.port;

	netaddr_endpoint_host(&b->ep, host, sizeof(host));
	snprintf(b->target.url, sizeof(b->target.url), "http://%s:%u%s", host,
		 port, s->cfg.metrics_path);
}

static void trail_push(struct scrape_target *t, uint64_t mono_ms,
		       const struct metrics_sample *m)
{
	uint32_t slot = ring_push(&t->trail_ring);

	t->trail[slot].t_ms = mono_ms;
	t->trail[slot].requests = m->requests;
	t->trail[slot].errors = m->errors;
}

static void scrape_failed(struct backend_rt *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void scrape_failed(struct backend_rt *b, const char *fmt, ...)
{
	struct scrape_target *t = &b->target;
	bool was_up = t->up || !t->failures;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->last_error, sizeof(t->last_error), fmt, ap);
	va_end(ap);
	t->up = false;
	t->failures++;
	b->agent->scrape_errors_total++;
	if (was_up)
		log_warn("service %s: metrics target %s is down: %s",
			 b->service->cfg.def.name, t->url, t->last_error);
}

static void on_scrape(void *owner, uint64_t tag, const struct fetch_result *r)
{
	struct backend_rt *b = owner;
	struct scrape_target *t = &b->target;
	struct prom_page *page = NULL;
	struct prom_error perr;
	struct metrics_sample sample;
	char why[FETCH_ERR_LEN];
	uint64_t mono_ms = clock_mono_ms();

	(void)tag;
	t->in_flight = false;
	t->scrapes++;
	if (!r->ok) {
		scrape_failed(b, "%s", r->error);
		return;
	}
	if (r->status != HTTP_OK) {
		scrape_failed(b, "%s answered HTTP %ld", t->url, r->status);
		return;
	}
	if (r->content_type && !strncmp(r->content_type, OPENMETRICS_TYPE,
					strlen(OPENMETRICS_TYPE))) {
		scrape_failed(b,
			      "%s answered OpenMetrics; kanary reads the text "
			      "format 0.0.4",
			      t->url);
		return;
	}
	if (prom_parse(r->body, r->body_len, &page, &perr)) {
		scrape_failed(b, "%s: line %u, column %u: %s", t->url,
			      perr.line, perr.column, perr.message);
		return;
	}
	if (metrics_extract(page, &b->service->cfg.metrics, &sample, why,
			    sizeof(why))) {
		prom_page_free(page);
		scrape_failed(b, "%s: %s", t->url, why);
		return;
	}
	prom_page_free(page);
	if (!t->up && t->failures)
		log_info("service %s: metrics target %s is up again",
			 b->service->cfg.def.name, t->url);
	t->up = true;
	t->last_error[0] = '\0';
	t->latest = sample;
	t->has_latest = true;
	t->latest_ms = mono_ms;
	/* The window starts with the first scrape begun inside it: an older
	 * page would count what happened before (a warm-up, another step). */
	if (!t->has_baseline &&
	    t->submitted_ms >= b->service->window_started_mono_ms) {
		t->baseline = sample;
		t->has_baseline = true;
	}
	trail_push(t, mono_ms, &sample);
}

void scrape_tick(struct agent *a, struct service_rt *s, uint64_t mono_ms)
{
	uint32_t i;

	if (!s->cfg.has_metrics)
		return;
	for (i = 0; i < s->backend_count; i++) {
		struct backend_rt *b = s->backends[i];
		struct fetch_request req = {0};

		if (b->target.in_flight || mono_ms < b->target.next_due_ms)
			continue;
		memcpy(req.url, b->target.url, sizeof(req.url));
		req.method = "GET";
		req.accept = ACCEPT_TEXT_FORMAT;
		req.timeout_ms = s->cfg.scrape_timeout_ms;
		req.max_body_bytes = AGENT_METRICS_MAX_BYTES;
		if (fetcher_submit(a->fetcher, &req, on_scrape, b, 0))
			continue;
		b->target.in_flight = true;
		b->target.submitted_ms = mono_ms;
		b->target.next_due_ms = mono_ms + s->cfg.scrape_interval_ms;
	}
}

void scrape_new_window(struct service_rt *s)
{
	uint32_t i;

	/* The next scrape begun from now on opens the window; start it now
	 * rather than up to an interval later. */
	for (i = 0; i < s->backend_count; i++) {
		struct scrape_target *t = &s->backends[i]->target;

		t->has_baseline = false;
		t->next_due_ms = 0;
	}
}

/* The immediate rules' trailing counts start again from the next scrape. */
void scrape_reset_trails(struct service_rt *s)
{
	uint32_t i;

	for (i = 0; i < s->backend_count; i++)
		scrape_target_init(&s->backends[i]->target);
}

void scrape_target_init(struct scrape_target *t)
{
	ring_init(&t->trail_ring, AGENT_SCRAPE_TRAIL_POINTS);
}

/* Adds h to a pool's histogram (latency, TTFT or ITL): *into, *has. */
static void hist_accumulate(struct stats_hist *into, bool *has,
			    struct stats_hist *h)
{
	struct stats_hist a, b;
	size_t i;

	if (!*has) {
		*into = *h;
		*has = true;
		return;
	}
	if (!stats_hist_same_bounds(into, h)) {
		if (stats_hist_rebin_common(into, h, &a, &b) <= 0)
			return; /* no shared bounds: keep the first layout */
		*into = a;
		*h = b;
	}
	for (i = 0; i <= into->nbounds; i++)
		into->counts[i] += h->counts[i];
	into->total += h->total;
	into->sum += h->sum;
	into->has_sum = into->has_sum && h->has_sum;
}

static void predictions_accumulate(struct metrics_window *w,
				   const struct metrics_predictions *p)
{
	unsigned i, j;

	w->has_predictions = true;
	for (i = 0; i < p->class_count; i++) {
		for (j = 0; j < w->class_count; j++)
			if (!strcmp(w->classes[j], p->classes[i].label))
				break;
		if (j == w->class_count) {
			if (w->class_count == ANALYSIS_CLASSES_MAX)
				continue;
			snprintf(w->classes[j], sizeof(w->classes[j]), "%s",
				 p->classes[i].label);
			w->class_counts[j] = 0;
			w->class_count++;
		}
		w->class_counts[j] += p->classes[i].count;
	}
}

/* dh, one of d's histograms, held when d->flags has `have` */
static void delta_histogram(const struct metrics_delta *d,
			    const struct metrics_histogram *dh, uint32_t have,
			    struct stats_hist *h, bool *ok)
{
	struct stats_prom_bucket buckets[METRICS_BUCKETS_MAX];
	double count = dh->count, sum = dh->sum_seconds;
	unsigned i;

	*ok = false;
	if (!(d->flags & have) || !dh->bucket_count)
		return;
	for (i = 0; i < dh->bucket_count; i++) {
		buckets[i].le = dh->upper_bound_seconds[i];
		buckets[i].cumulative = dh->cumulative_count[i];
	}
	*ok = stats_hist_from_prometheus(h, buckets, dh->bucket_count, &count,
					 &sum) == 0;
}

void scrape_metrics_window(const struct service_rt *s,
			   struct metrics_window out[2])
{
	uint32_t i;
	int p;

	memset(out, 0, 2 * sizeof(*out));
	for (p = 0; p < 2; p++)
		out[p].complete = true;
	for (i = 0; i < s->backend_count; i++) {
		const struct backend_rt *b = s->backends[i];
		const struct scrape_target *t = &b->target;
		struct metrics_window *w = &out[b->pool & 1];
		struct metrics_delta d;
		struct stats_hist h;
		bool hist_ok;

		if (!t->up || !t->has_latest || !t->has_baseline) {
			if (w->complete)
				snprintf(w->missing, sizeof(w->missing),
					 "%s: %s", t->url,
					 t->last_error[0] ? t->last_error
							  : "not scraped yet");
			w->complete = false;
			continue;
		}
		if (metrics_delta(&t->baseline, &t->latest, &d))
			continue;
		w->requests += d.requests;
		w->errors += d.errors;
		delta_histogram(&d, &d.latency, METRICS_HAVE_LATENCY_HISTOGRAM,
				&h, &hist_ok);
		if (hist_ok)
			hist_accumulate(&w->latency, &w->has_histogram, &h);
		delta_histogram(&d, &d.ttft, METRICS_HAVE_TTFT, &h, &hist_ok);
		if (hist_ok)
			hist_accumulate(&w->ttft, &w->has_ttft, &h);
		delta_histogram(&d, &d.itl, METRICS_HAVE_ITL, &h, &hist_ok);
		if (hist_ok)
			hist_accumulate(&w->itl, &w->has_itl, &h);
		if (d.flags & METRICS_HAVE_LATENCY_MEAN) {
			w->has_mean = true;
			w->latency_sum_s += d.latency.sum_seconds;
			w->latency_count += d.latency.count;
		}
		if (d.flags & METRICS_HAVE_PREDICTIONS)
			predictions_accumulate(w, &d.predictions);
	}
}

void scrape_trailing(const struct service_rt *s, uint32_t min_requests,
		     uint64_t mono_ms, struct trailing_counts *out)
{
	unsigned back;

	memset(out, 0, sizeof(*out));
	if (!s->cfg.has_metrics)
		return;
	for (back = 1; back < AGENT_SCRAPE_TRAIL_POINTS; back++) {
		double requests = 0, errors = 0;
		uint64_t span = 0;
		bool any = false;
		uint32_t i;

		for (i = 0; i < s->backend_count; i++) {
			const struct scrape_target *t = &s->backends[i]->target;
			const struct ring *r = &t->trail_ring;
			uint32_t newest, old;

			if (s->backends[i]->pool != KN_POOL_CANARY)
				continue;
			if (!t->up || r->len <= back)
				continue;
			newest = ring_newest(r);
			/* A target silent for long says nothing about now. */
			if (mono_ms - t->trail[newest].t_ms >
			    AGENT_TRAIL_LOOKBACK_MS)
				continue;
			old = ring_at(r, r->len - 1 - back);
			if (t->trail[newest].requests < t->trail[old].requests)
				continue; /* restarted: not comparable */
			requests +=
			    t->trail[newest].requests - t->trail[old].requests;
			errors +=
			    t->trail[newest].errors - t->trail[old].errors;
			if (t->trail[newest].t_ms - t->trail[old].t_ms > span)
				span =
				    t->trail[newest].t_ms - t->trail[old].t_ms;
			any = true;
		}
		if (!any)
			break;
		out->valid = true;
		out->requests = requests;
		out->errors = errors;
		out->span_ms = span;
		if (requests >= min_requests || span >= AGENT_TRAIL_LOOKBACK_MS)
			break;
	}
}

json_t *scrape_target_json(const struct scrape_target *t)
{
	json_t *obj = json_pack("{s:s, s:b, s:I, s:I}", "target", t->url, "up",
				t->up, "scrapes", (json_int_t)t->scrapes,
				"failures", (json_int_t)t->failures);

	json_object_set_new(obj, "last_error",
			    t->last_error[0] ? json_string(t->last_error)
					     : json_null());
	if (t->has_latest) {
		json_object_set_new(obj, "requests",
				    json_real(t->latest.requests));
		json_object_set_new(obj, "errors", json_real(t->latest.errors));
	}
	return obj;
}

/* ---- warm-up ------------------------------------------------------------- */

static void warmup_submit(struct agent *a, struct service_rt *s,
			  struct backend_rt *b);

/* Every canary backend has answered: the outcome waits for the loop
 * (warmup_take_outcome), which carries it out. */
static void warmup_finish(struct service_rt *s)
{
	struct warmup_outcome *o = &s->warmup_outcome;
	uint32_t i, need = s->rollout.spec.warmup_requests;
	char ep[NETADDR_ENDPOINT_STR_LEN];

	s->warmup_running = false;
	memset(o, 0, sizeof(*o));
	for (i = 0; i < s->backend_count; i++) {
		const struct backend_rt *b = s->backends[i];

		if (b->pool != KN_POOL_CANARY)
			continue;
		/* Most requests failing means the canary is not ready. */
		if (b->warmup.failed * 2 > need) {
			o->failed = true;
			snprintf(o->why, sizeof(o->why),
				 "warm-up failed: %s answered %u of %u "
				 "requests (%s)",
				 netaddr_endpoint_str(&b->ep, ep, sizeof(ep)),
				 b->warmup.ok, need, b->warmup.last_error);
			break;
		}
	}
	s->warmup_finished = true;
}

bool warmup_take_outcome(struct service_rt *s, struct warmup_outcome *out)
{
	if (!s->warmup_finished)
		return false;
	s->warmup_finished = false;
	*out = s->warmup_outcome;
	return true;
}

static void on_warmup(void *owner, uint64_t tag, const struct fetch_result *r)
{
	struct backend_rt *b = owner;
	struct service_rt *s = b->service;
	struct agent *a = b->agent;
	uint32_t i;

	(void)tag;
	if (r->ok && r->status < HTTP_SERVER_ERROR) {
		b->warmup.ok++;
	} else {
		b->warmup.failed++;
		if (r->ok)
			snprintf(b->warmup.last_error,
				 sizeof(b->warmup.last_error), "HTTP %ld",
				 r->status);
		else
			snprintf(b->warmup.last_error,
				 sizeof(b->warmup.last_error), "%s", r->error);
	}
	if (s->rollout.phase != PHASE_WARMING)
		return; /* paused, aborted... the rest is not needed */
	if (b->warmup.sent < s->rollout.spec.warmup_requests) {
		warmup_submit(a, s, b);
		return;
	}
	for (i = 0; i < s->backend_count; i++) {
		const struct backend_rt *o = s->backends[i];

		if (o->pool == KN_POOL_CANARY &&
		    o->warmup.ok + o->warmup.failed <
			s->rollout.spec.warmup_requests)
			return;
	}
	warmup_finish(s);
}

static void warmup_submit(struct agent *a, struct service_rt *s,
			  struct backend_rt *b)
{
	struct fetch_request req = {0};
	char ep[NETADDR_ENDPOINT_STR_LEN];

	netaddr_endpoint_str(&b->ep, ep, sizeof(ep));
	snprintf(req.url, sizeof(req.url), "http://%s%s", ep,
		 s->cfg.warmup_path);
	req.method = s->cfg.warmup_method;
	req.body =
	    strcmp(s->cfg.warmup_method, "POST") ? NULL : s->cfg.warmup_body;
	req.content_type = s->cfg.warmup_content_type;
	req.timeout_ms = s->cfg.scrape_timeout_ms * 4;
	req.max_body_bytes = AGENT_METRICS_MAX_BYTES;
	b->warmup.sent++;
	if (fetcher_submit(a->fetcher, &req, on_warmup, b, 1)) {
		b->warmup.failed++;
		snprintf(b->warmup.last_error, sizeof(b->warmup.last_error),
			 "cannot queue the request");
	}
}

void warmup_tick(struct agent *a, struct service_rt *s)
{
	uint32_t i, k;

	if (!s->warmup_pending)
		return;
	s->warmup_pending = false;
	s->warmup_running = true;
	s->warmup_finished = false; /* an older outcome is moot */
	log_info("service %s: warming up each canary backend with %u requests",
		 s->cfg.def.name, s->rollout.spec.warmup_requests);
	for (i = 0; i < s->backend_count; i++) {
		struct backend_rt *b = s->backends[i];

		if (b->pool != KN_POOL_CANARY)
			continue;
		memset(&b->warmup, 0, sizeof(b->warmup));
		for (k = 0; k < AGENT_WARMUP_CONCURRENCY &&
			    b->warmup.sent < s->rollout.spec.warmup_requests;
		     k++)
			warmup_submit(a, s, b);
	}
}
