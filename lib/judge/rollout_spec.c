/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * rollout_spec.c - reading, checking and writing rollout specs (see
 * rollout_spec.h). Every check names the field and says what is expected.
 */
#include "judge/rollout_spec.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/json_fields.h"
#include "util/units.h"

#define DEFAULT_INTERVAL_MS  30000
#define DEFAULT_MIN_REQUESTS 100
#define DEFAULT_MAX_FAILURES 2
#define MIN_INTERVAL_MS	     100
#define MAX_WARMUP_REQUESTS  100000
#define BP_PER_PERCENT	     100
#define FULL_BP		     10000
/* An LLM's first token waits for the prompt's prefill and the queue: a
 * few hundred ms at p99 is ordinary, and +200 ms is what a person waiting
 * for the answer notices. A token every 20-50 ms is ordinary decoding;
 * +20 ms per token makes a long answer seconds slower (docs/config.md). */
#define DEFAULT_MAX_TTFT_P99_INCREASE_MS 200
#define DEFAULT_MAX_ITL_P99_INCREASE_MS	 20

static const uint32_t default_steps_bp[] = {1000, 2500, 5000, 7500, 10000};

void rollout_spec_defaults(struct rollout_spec *spec)
{
	memset(spec, 0, sizeof(*spec));
	memcpy(spec->steps_bp, default_steps_bp, sizeof(default_steps_bp));
	spec->step_count =
	    sizeof(default_steps_bp) / sizeof(default_steps_bp[0]);
	spec->interval_ms = DEFAULT_INTERVAL_MS;
	spec->min_requests = DEFAULT_MIN_REQUESTS;
	spec->warmup_requests = 0;
	spec->max_failures = DEFAULT_MAX_FAILURES;
	spec->analysis.max_error_rate_increase_pp = 2.0;
	spec->analysis.error_confidence = 0.95;
	spec->analysis.max_p99_increase_ms = 50;
	spec->analysis.latency_confidence = 0.95;
	spec->analysis.max_ttft_p99_increase_ms =
	    DEFAULT_MAX_TTFT_P99_INCREASE_MS;
	spec->analysis.max_itl_p99_increase_ms =
	    DEFAULT_MAX_ITL_P99_INCREASE_MS;
	/* A classifier whose leading class moves 60 -> 75 % is broken even
	 * when its error rate is fine: that is 15 points but only 0.037 bits
	 * of Jensen-Shannon divergence. A move of a few points is ordinary
	 * traffic drift. 10 points separates the two (docs/config.md). */
	spec->analysis.max_prediction_shift_pp = 10.0;
	spec->analysis.max_prediction_divergence = 0.05;
	spec->analysis.prediction_confidence = 0.99;
	spec->analysis.rollback_error_rate_pct = 10.0;
	spec->analysis.rollback_min_requests = 20;
	spec->analysis.rollback_refused = 3;
	gate_spec_defaults(&spec->gates);
}

/* How an analysis field is written in JSON. */
enum analysis_field_kind {
	ANALYSIS_NUMBER,      /* a number from min to max */
	ANALYSIS_PROBABILITY, /* a number strictly between 0 and 1 */
	ANALYSIS_DURATION,    /* "250ms", "2s": above 0, kept in ms */
	ANALYSIS_COUNT,	      /* a whole number from min to max */
};

struct analysis_field {
	const char *name;
	enum analysis_field_kind kind;
	uint32_t min, max; /* ANALYSIS_NUMBER and ANALYSIS_COUNT */
	size_t offset;	   /* of the value in struct analysis_spec */
};

#define MAX_PERCENT	    100
#define MAX_DIVERGENCE_BITS 1
#define MAX_ROLLBACK_COUNT  1000000

/* The fields of "analysis", in the order they are written. */
static const struct analysis_field analysis_fields[] = {
    {"max_error_rate_increase", ANALYSIS_NUMBER, 0, MAX_PERCENT,
     offsetof(struct analysis_spec, max_error_rate_increase_pp)},
    {"error_confidence", ANALYSIS_PROBABILITY, 0, 0,
     offsetof(struct analysis_spec, error_confidence)},
    {"max_p99_increase", ANALYSIS_DURATION, 0, 0,
     offsetof(struct analysis_spec, max_p99_increase_ms)},
    {"latency_confidence", ANALYSIS_PROBABILITY, 0, 0,
     offsetof(struct analysis_spec, latency_confidence)},
    {"max_ttft_p99_increase", ANALYSIS_DURATION, 0, 0,
     offsetof(struct analysis_spec, max_ttft_p99_increase_ms)},
    {"max_itl_p99_increase", ANALYSIS_DURATION, 0, 0,
     offsetof(struct analysis_spec, max_itl_p99_increase_ms)},
    {"max_prediction_shift", ANALYSIS_NUMBER, 0, MAX_PERCENT,
     offsetof(struct analysis_spec, max_prediction_shift_pp)},
    {"max_prediction_divergence", ANALYSIS_NUMBER, 0, MAX_DIVERGENCE_BITS,
     offsetof(struct analysis_spec, max_prediction_divergence)},
    {"prediction_confidence", ANALYSIS_PROBABILITY, 0, 0,
     offsetof(struct analysis_spec, prediction_confidence)},
    {"rollback_error_rate", ANALYSIS_NUMBER, 0, MAX_PERCENT,
     offsetof(struct analysis_spec, rollback_error_rate_pct)},
    {"rollback_min_requests", ANALYSIS_COUNT, 1, MAX_ROLLBACK_COUNT,
     offsetof(struct analysis_spec, rollback_min_requests)},
    {"rollback_refused", ANALYSIS_COUNT, 1, MAX_ROLLBACK_COUNT,
     offsetof(struct analysis_spec, rollback_refused)},
};

#define ANALYSIS_FIELD_COUNT                                                   \
	(sizeof(analysis_fields) / sizeof(analysis_fields[0]))

static int analysis_field_from_json(const json_t *obj, struct jf_ctx *ctx,
				    const struct analysis_field *f,
				    struct analysis_spec *a)
{
	/* a double, a uint64_t (ms) or a uint32_t, as the kind says */
	void *value = (char *)a + f->offset;

	switch (f->kind) {
	case ANALYSIS_NUMBER:
		return jf_double(ctx, obj, f->name, f->min, f->max, value);
	case ANALYSIS_PROBABILITY:
		return jf_probability(ctx, obj, f->name, value);
	case ANALYSIS_DURATION:
		return jf_duration_ms(ctx, obj, f->name, true, value);
	case ANALYSIS_COUNT:
		return jf_uint32(ctx, obj, f->name, f->min, f->max, value);
	}
	return -EINVAL;
}

static int analysis_from_json(const json_t *obj, struct jf_ctx *ctx,
			      struct analysis_spec *a)
{
	const char *names[ANALYSIS_FIELD_COUNT + 1];
	size_t i;
	int ret;

	for (i = 0; i < ANALYSIS_FIELD_COUNT; i++)
		names[i] = analysis_fields[i].name;
	names[ANALYSIS_FIELD_COUNT] = NULL;
	ret = jf_check_object(ctx, obj, names);
	for (i = 0; !ret && i < ANALYSIS_FIELD_COUNT; i++)
		ret =
		    analysis_field_from_json(obj, ctx, &analysis_fields[i], a);
	return ret;
}

static json_t *analysis_field_json(const struct analysis_field *f,
				   const struct analysis_spec *a)
{
	const void *value = (const char *)a + f->offset;
	char duration[UNITS_DURATION_STR_LEN];

	switch (f->kind) {
	case ANALYSIS_NUMBER:
	case ANALYSIS_PROBABILITY:
		return json_real(*(const double *)value);
	case ANALYSIS_DURATION:
		return json_string(units_format_duration_ms(
		    *(const uint64_t *)value, duration, sizeof(duration)));
	case ANALYSIS_COUNT:
		return json_integer(*(const uint32_t *)value);
	}
	return json_null();
}

static json_t *analysis_to_json(const struct analysis_spec *a)
{
	json_t *obj = json_object();
	size_t i;

	for (i = 0; obj && i < ANALYSIS_FIELD_COUNT; i++)
		json_object_set_new(
		    obj, analysis_fields[i].name,
		    analysis_field_json(&analysis_fields[i], a));
	return obj;
}

static const char *const spec_fields[] = {
    "steps",	    "step_count",
    "window",	    "interval",
    "min_requests", "warmup_requests",
    "max_failures", "cut_connections_on_rollback",
    "analysis",	    "gates",
    NULL,
};

static int steps_from_json(const json_t *steps, struct jf_ctx *ctx,
			   struct rollout_spec *out)
{
	size_t i, n;

	if (!json_is_array(steps))
		return jf_fail(ctx, "steps",
			       "must be a list of percents, like "
			       "[10, 25, 50, 75, 100]");
	n = json_array_size(steps);
	if (n == 0 || n > ROLLOUT_MAX_STEPS)
		return jf_fail(ctx, "steps", "must hold 1 to %d steps",
			       ROLLOUT_MAX_STEPS);
	for (i = 0; i < n; i++) {
		char field[32];
		uint32_t bp;
		int ret;

		snprintf(field, sizeof(field), "steps[%zu]", i);
		ret =
		    jf_percent_value(ctx, json_array_get(steps, i), field, &bp);
		if (ret)
			return ret;
		if (bp == 0)
			return jf_fail(ctx, field, "a step must be above 0 %%");
		if (i > 0 && bp <= out->steps_bp[i - 1])
			return jf_fail(ctx, field,
				       "steps must increase (%u.%02u %% after "
				       "%u.%02u %%)",
				       bp / 100, bp % 100,
				       out->steps_bp[i - 1] / 100,
				       out->steps_bp[i - 1] % 100);
		out->steps_bp[i] = bp;
	}
	if (out->steps_bp[n - 1] != FULL_BP)
		return jf_fail(ctx, "steps",
			       "the last step must be 100: a rollout ends with "
			       "the canary taking all traffic");
	out->step_count = (uint32_t)n;
	out->equal_steps = false;
	out->window_ms = 0;
	return 0;
}

int rollout_spec_from_json(const json_t *obj, const struct rollout_spec *base,
			   const char *field_prefix, struct rollout_spec *out,
			   struct spec_error *err)
{
	struct jf_ctx ctx;
	const json_t *steps, *count, *window, *analysis;
	struct rollout_spec spec = *base;
	int ret;

	jf_init(&ctx, field_prefix, err->field, sizeof(err->field),
		err->message, sizeof(err->message));
	ret = jf_check_object(&ctx, obj, spec_fields);
	if (ret)
		return ret;
	steps = json_object_get(obj, "steps");
	count = json_object_get(obj, "step_count");
	window = json_object_get(obj, "window");
	if (steps && (count || window))
		return jf_fail(&ctx, "steps",
			       "give either steps or step_count with window, "
			       "not both");
	if (steps) {
		ret = steps_from_json(steps, &ctx, &spec);
		if (ret)
			return ret;
	}
	if (count || window) {
		uint32_t n = 0, i;
		uint64_t window_ms = 0;

		if (!count || !window)
			return jf_fail(&ctx, count ? "window" : "step_count",
				       "step_count and window go together "
				       "(10 steps over 10m: "
				       "{\"step_count\": 10, \"window\": "
				       "\"10m\"})");
		ret = jf_uint32(&ctx, obj, "step_count", 1, ROLLOUT_MAX_STEPS,
				&n);
		ret = ret
			  ?: jf_duration_ms(&ctx, obj, "window", true,
					    &window_ms);
		if (ret)
			return ret;
		for (i = 0; i < n; i++)
			spec.steps_bp[i] =
			    (uint32_t)((uint64_t)FULL_BP * (i + 1) / n);
		spec.step_count = n;
		spec.equal_steps = true;
		spec.window_ms = window_ms;
		spec.interval_ms = window_ms / n;
		if (spec.interval_ms < MIN_INTERVAL_MS)
			return jf_fail(&ctx, "window",
				       "%u steps over this window leave under "
				       "%d ms per step",
				       n, MIN_INTERVAL_MS);
	}
	ret = jf_duration_ms(&ctx, obj, "interval", true, &spec.interval_ms);
	if (!ret && spec.interval_ms < MIN_INTERVAL_MS)
		ret = jf_fail(&ctx, "interval", "must be at least %d ms",
			      MIN_INTERVAL_MS);
	ret = ret
		  ?: jf_uint32(&ctx, obj, "min_requests", 1, 100000000,
			       &spec.min_requests);
	ret = ret
		  ?: jf_uint32(&ctx, obj, "warmup_requests", 0,
			       MAX_WARMUP_REQUESTS, &spec.warmup_requests);
	ret = ret
		  ?: jf_uint32(&ctx, obj, "max_failures", 1, 1000,
			       &spec.max_failures);
	ret = ret
		  ?: jf_bool(&ctx, obj, "cut_connections_on_rollback",
			     &spec.cut_connections_on_rollback);
	if (ret)
		return ret;
	analysis = json_object_get(obj, "analysis");
	if (analysis) {
		jf_push(&ctx, "analysis");
		ret = analysis_from_json(analysis, &ctx, &spec.analysis);
		jf_pop(&ctx);
		if (ret)
			return ret;
	}
	if (json_object_get(obj, "gates")) {
		jf_push(&ctx, "gates");
		ret = gates_from_json(&ctx, json_object_get(obj, "gates"),
				      &spec.gates);
		jf_pop(&ctx);
		if (ret)
			return ret;
	}
	*out = spec;
	return 0;
}

static json_t *percent_json(uint32_t bp)
{
	if (bp % BP_PER_PERCENT == 0)
		return json_integer(bp / BP_PER_PERCENT);
	return json_real((double)bp / BP_PER_PERCENT);
}

json_t *rollout_spec_to_json(const struct rollout_spec *spec)
{
	char interval[UNITS_DURATION_STR_LEN], window[UNITS_DURATION_STR_LEN];
	json_t *obj = json_object(), *steps = json_array();
	uint32_t i;

	/* Written in the form it was given, so that it reads back the same:
	 * equal steps as step_count + window, others as the list. */
	if (spec->equal_steps) {
		json_decref(steps);
		json_object_set_new(obj, "step_count",
				    json_integer(spec->step_count));
		json_object_set_new(
		    obj, "window",
		    json_string(units_format_duration_ms(
			spec->window_ms, window, sizeof(window))));
	} else {
		for (i = 0; i < spec->step_count; i++)
			json_array_append_new(steps,
					      percent_json(spec->steps_bp[i]));
		json_object_set_new(obj, "steps", steps);
		json_object_set_new(
		    obj, "interval",
		    json_string(units_format_duration_ms(
			spec->interval_ms, interval, sizeof(interval))));
	}
	json_object_set_new(obj, "min_requests",
			    json_integer(spec->min_requests));
	json_object_set_new(obj, "warmup_requests",
			    json_integer(spec->warmup_requests));
	json_object_set_new(obj, "max_failures",
			    json_integer(spec->max_failures));
	json_object_set_new(obj, "cut_connections_on_rollback",
			    json_boolean(spec->cut_connections_on_rollback));
	json_object_set_new(obj, "analysis", analysis_to_json(&spec->analysis));
	/* Only when set: a spec without gates reads as it always did. */
	if (gates_any(&spec->gates))
		json_object_set_new(obj, "gates", gates_to_json(&spec->gates));
	return obj;
}
