/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * inspect.c - one /metrics page read the way kanaryd reads a backend's:
 * promparse for the text, metric_presets for what the series mean, stats
 * for the latency quantiles. Everything found, and every reason something
 * was not, goes into one JSON object.
 */
#include "inspect.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "metrics/promparse.h"
#include "judge/stats.h"

#define MS_PER_S	  1000.0
#define PERCENT		  100.0
#define WHY_LEN		  512
#define SELECTOR_TEXT_LEN 1024

static const struct {
	uint32_t flag;
	const char *text;
} flag_notes[] = {
    {METRICS_HISTOGRAM_NO_INF_BUCKET,
     "the latency histogram has no +Inf bucket"},
    {METRICS_HISTOGRAM_NOT_MONOTONIC,
     "the latency histogram's buckets are not cumulative (a count "
     "decreases)"},
    {METRICS_HISTOGRAM_COUNT_MISMATCH,
     "the latency histogram's +Inf bucket differs from its _count"},
    {METRICS_HISTOGRAM_MIXED_LAYOUTS,
     "latency series have different buckets; only the shared bounds are "
     "used"},
    {METRICS_HISTOGRAM_INCOMPLETE,
     "the latency histogram lacks its _sum or _count series"},
    {METRICS_SKIPPED_BAD_VALUES,
     "some series had NaN, infinite or negative values, or a bucket "
     "without a numeric le, and were left out"},
    {METRICS_PREDICTIONS_OVERFLOW,
     "more prediction classes than kanary tracks; the rest count as "
     "other"},
};

/* How much a spec gets out of the page: used to pick a preset. */
static unsigned yield_score(uint32_t flags)
{
	const uint32_t have[] = {METRICS_HAVE_REQUESTS, METRICS_HAVE_ERRORS,
				 METRICS_HAVE_LATENCY_HISTOGRAM,
				 METRICS_HAVE_LATENCY_MEAN,
				 METRICS_HAVE_PREDICTIONS};
	unsigned i, score = 0;

	for (i = 0; i < sizeof(have) / sizeof(have[0]); i++)
		score += (flags & have[i]) != 0;
	return score;
}

static json_t *selector_json(const struct metric_selector *sel)
{
	char text[SELECTOR_TEXT_LEN];

	metric_selector_format(sel, text, sizeof(text));
	return json_string(text);
}

static void quantiles_json(json_t *obj, const struct metrics_histogram *mh)
{
	struct stats_prom_bucket buckets[METRICS_BUCKETS_MAX];
	struct stats_hist_summary sum;
	struct stats_hist hist;
	unsigned i;
	int ret;

	for (i = 0; i < mh->bucket_count; i++) {
		buckets[i].le = mh->upper_bound_seconds[i];
		buckets[i].cumulative = mh->cumulative_count[i];
	}
	ret = stats_hist_from_prometheus(&hist, buckets, mh->bucket_count,
					 &mh->count, &mh->sum_seconds);
	if (ret) {
		json_object_set_new(
		    obj, "quantiles_error",
		    json_sprintf("the buckets do not form a histogram "
				 "(%s): no quantiles",
				 strerror(-ret)));
		return;
	}
	if (stats_hist_summarize(&hist, &sum) != STATS_OK) {
		json_object_set_new(
		    obj, "quantiles_error",
		    json_sprintf("no quantiles: %s",
				 stats_status_name(sum.status)));
		return;
	}
	json_object_set_new(obj, "p50_ms", json_real(MS_PER_S * sum.p50));
	json_object_set_new(obj, "p90_ms", json_real(MS_PER_S * sum.p90));
	json_object_set_new(obj, "p99_ms", json_real(MS_PER_S * sum.p99));
	if (sum.mean_status == STATS_OK)
		json_object_set_new(obj, "mean_ms",
				    json_real(MS_PER_S * sum.mean));
}

static json_t *latency_json(const struct metrics_sample *s,
			    const struct metric_spec *spec)
{
	json_t *obj;

	if (s->flags & METRICS_HAVE_LATENCY_HISTOGRAM) {
		obj = json_pack(
		    "{s:s, s:o, s:f, s:i}", "kind", "histogram", "metric",
		    selector_json(&spec->latency.histogram), "count",
		    s->latency.count, "buckets", (int)s->latency.bucket_count);
		quantiles_json(obj, &s->latency);
		return obj;
	}
	if (s->flags & METRICS_HAVE_LATENCY_MEAN) {
		obj = json_pack("{s:s, s:o, s:f}", "kind", "mean", "metric",
				selector_json(&spec->latency.duration_sum),
				"count", s->latency.count);
		if (s->latency.count > 0)
			json_object_set_new(
			    obj, "mean_ms",
			    json_real(MS_PER_S * s->latency.sum_seconds /
				      s->latency.count));
		return obj;
	}
	return json_null();
}

/* An LLM server's token timing (TTFT or ITL), when the page has it. */
static void token_timing_json(json_t *obj, const char *key,
			      const struct metrics_sample *s, uint32_t have,
			      const struct metrics_histogram *mh)
{
	json_t *t;

	if (!(s->flags & have))
		return;
	t = json_pack("{s:f, s:i}", "count", mh->count, "buckets",
		      (int)mh->bucket_count);
	if (!t)
		return;
	quantiles_json(t, mh);
	json_object_set_new(obj, key, t);
}

static json_t *predictions_json(const struct metrics_sample *s)
{
	const struct metrics_predictions *p = &s->predictions;
	double total = p->other_count;
	json_t *list;
	unsigned i;

	if (!(s->flags & METRICS_HAVE_PREDICTIONS))
		return json_null();
	for (i = 0; i < p->class_count; i++)
		total += p->classes[i].count;
	list = json_array();
	for (i = 0; i < p->class_count; i++)
		json_array_append_new(
		    list,
		    json_pack("{s:s, s:f, s:f}", "label", p->classes[i].label,
			      "count", p->classes[i].count, "share_pct",
			      total > 0 ? PERCENT * p->classes[i].count / total
					: 0.0));
	if (p->other_count > 0)
		json_array_append_new(
		    list, json_pack("{s:n, s:f, s:f}", "label", "count",
				    p->other_count, "share_pct",
				    PERCENT * p->other_count / total));
	return list;
}

static json_t *notes_json(const struct metrics_sample *s,
			  const struct metric_spec *spec)
{
	json_t *notes = json_array();
	size_t i;

	for (i = 0; i < sizeof(flag_notes) / sizeof(flag_notes[0]); i++)
		if (s->flags & flag_notes[i].flag)
			json_array_append_new(notes,
					      json_string(flag_notes[i].text));
	if (!(s->flags & METRICS_HAVE_ERRORS) && spec->error_selector_count)
		json_array_append_new(
		    notes, json_string("no error series on the page yet: "
				       "kanary counts that as no errors"));
	if (spec->latency.kind == METRIC_LATENCY_NONE)
		json_array_append_new(
		    notes, json_string("the spec names no latency series: "
				       "latency is judged from the kernel's "
				       "own measurements only"));
	if (!spec->has_predictions)
		json_array_append_new(
		    notes, json_string("the spec names no prediction "
				       "counter: no label-mix check"));
	return notes;
}

static json_t *result_json(const char *source, const struct metric_spec *spec,
			   const struct metrics_sample *s, bool detected,
			   json_t *matching)
{
	json_t *obj;

	obj = json_pack("{s:s, s:s?, s:b, s:o, s:f, s:i, s:f, s:i}", "source",
			source, "preset", spec->preset[0] ? spec->preset : NULL,
			"detected", detected, "matching_presets", matching,
			"requests", s->requests, "request_series",
			(int)s->request_series, "errors", s->errors,
			"error_series", (int)s->error_series);
	if (!obj)
		return NULL;
	json_object_set_new(obj, "error_rate_pct",
			    s->requests > 0
				? json_real(PERCENT * s->errors / s->requests)
				: json_null());
	json_object_set_new(obj, "latency", latency_json(s, spec));
	token_timing_json(obj, "ttft", s, METRICS_HAVE_TTFT, &s->ttft);
	token_timing_json(obj, "itl", s, METRICS_HAVE_ITL, &s->itl);
	json_object_set_new(obj, "predictions", predictions_json(s));
	json_object_set_new(obj, "notes", notes_json(s, spec));
	return obj;
}

/* Tries every preset; keeps the best in *best. */
static int detect(const char *source, const struct prom_page *page,
		  json_t **out)
{
	struct metric_spec spec, best_spec;
	struct metrics_sample sample, best;
	json_t *tried = json_array(), *matching = json_array();
	unsigned best_score = 0;
	const char *name;
	size_t i;

	for (i = 0; (name = metric_preset_name(i)); i++) {
		char why[WHY_LEN] = "";
		unsigned score;

		if (metric_spec_preset(name, &spec))
			continue;
		memset(&sample, 0, sizeof(sample));
		if (metrics_extract(page, &spec, &sample, why, sizeof(why))) {
			json_array_append_new(tried,
					      json_pack("{s:s, s:s}", "preset",
							name, "error", why));
			continue;
		}
		json_array_append_new(matching, json_string(name));
		score = yield_score(sample.flags);
		if (score > best_score) {
			best_score = score;
			best = sample;
			best_spec = spec;
		}
	}
	if (!best_score) {
		json_decref(matching);
		*out =
		    json_pack("{s:s, s:s, s:n, s:o}", "source", source, "error",
			      "no preset finds its series on this page; "
			      "write a metrics spec for the service "
			      "(docs/config.md) naming its request, error "
			      "and latency series",
			      "preset", "tried", tried);
		return -ENOENT;
	}
	json_decref(tried);
	*out = result_json(source, &best_spec, &best, true, matching);
	return 0;
}

int ctl_inspect_page(const char *source, const char *text, size_t len,
		     const struct metric_spec *spec, json_t **out)
{
	struct prom_error perr = {0};
	struct metrics_sample sample = {0};
	struct prom_page *page = NULL;
	char why[WHY_LEN] = "";
	int ret;

	*out = NULL;
	ret = prom_parse(text, len, &page, &perr);
	if (ret) {
		*out = json_pack("{s:s, s:s, s:i, s:i}", "source", source,
				 "error", perr.message, "line", (int)perr.line,
				 "column", (int)perr.column);
		return ret;
	}
	if (!spec) {
		ret = detect(source, page, out);
		prom_page_free(page);
		return ret;
	}
	ret = metrics_extract(page, spec, &sample, why, sizeof(why));
	prom_page_free(page);
	if (ret) {
		*out = json_pack("{s:s, s:s, s:s?}", "source", source, "error",
				 why, "preset",
				 spec->preset[0] ? spec->preset : NULL);
		return ret;
	}
	*out = result_json(source, spec, &sample, false,
			   spec->preset[0] ? json_pack("[s]", spec->preset)
					   : json_array());
	return 0;
}
