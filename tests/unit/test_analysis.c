// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * test_analysis.c - the verdict of an evaluation from what the kernel and
 * the metrics saw, and the immediate rollback rules: a worse canary fails
 * only with evidence, too little data holds, a healthy canary passes.
 */
#include "unit.h"

#include <errno.h>
#include <linux/types.h>
#include <math.h>

#include "judge/analysis.h"
#include "kanary_shared.h"
#include "spec_json.h"

static struct rollout_spec spec;

static int setup(void **state)
{
	(void)state;
	rollout_spec_defaults(&spec);
	spec.min_requests = 100;
	return 0;
}

/* A kernel latency histogram with n responses of about `ms`. */
static void kernel_latency(struct stats_hist *h, double n, double ms,
			   double spread_ms)
{
	struct kn_latency_hist k = {0};
	int i;

	for (i = 0; i < (int)n; i++) {
		double v = ms + spread_ms * ((i % 21) - 10) / 10.0;
		__u64 us = (__u64)(v * 1000);

		k.buckets[kn_latency_bucket(us)]++;
		k.count++;
		k.sum_us += us;
	}
	assert_int_equal(stats_hist_from_kernel(h, &k), 0);
}

static void http_input(struct analysis_input *in, double s_req, double s_err,
		       double c_req, double c_err)
{
	memset(in, 0, sizeof(*in));
	in->spec = &spec;
	in->http_observed = true;
	in->window_ms = 30000;
	in->weight_bp = 1000;
	in->kernel[ANALYSIS_STABLE].requests = s_req;
	in->kernel[ANALYSIS_STABLE].errors = s_err;
	in->kernel[ANALYSIS_CANARY].requests = c_req;
	in->kernel[ANALYSIS_CANARY].errors = c_err;
	kernel_latency(&in->kernel[ANALYSIS_STABLE].latency, s_req, 10, 2);
	kernel_latency(&in->kernel[ANALYSIS_CANARY].latency, c_req, 10, 2);
}

static const char *check_verdict(json_t *decision, const char *signal)
{
	json_t *checks = json_object_get(decision, "checks"), *c;
	size_t i;

	json_array_foreach(checks, i, c)
	{
		if (!strcmp(json_string_value(json_object_get(c, "signal")),
			    signal))
			return json_string_value(json_object_get(c, "verdict"));
	}
	return "absent";
}

static void test_healthy_canary_passes(void **state)
{
	struct analysis_input in;
	struct analysis_result res;

	(void)state;
	http_input(&in, 2000, 10, 500, 3);
	analysis_evaluate(&in, &res);
	assert_int_equal(res.verdict, VERDICT_PASS);
	assert_string_equal(check_verdict(res.decision, "kernel.error_rate"),
			    "pass");
	assert_string_equal(check_verdict(res.decision, "kernel.latency"),
			    "pass");
	json_decref(res.decision);
}

static void test_erroring_canary_fails_with_evidence(void **state)
{
	struct analysis_input in;
	struct analysis_result res;
	json_t *stats;

	(void)state;
	/* stable 0.5 %, canary 20 %: +19.5 points, overwhelming evidence */
	http_input(&in, 2000, 10, 500, 100);
	analysis_evaluate(&in, &res);
	assert_int_equal(res.verdict, VERDICT_FAIL);
	assert_non_null(strstr(res.reason, "kernel.error_rate"));
	stats = json_object_get(
	    json_array_get(json_object_get(res.decision, "checks"), 0),
	    "statistics");
	assert_true(json_real_value(json_object_get(stats, "p_value")) < 1e-6);
	assert_float_equal(
	    json_real_value(json_object_get(stats, "increase_pp")), 19.5, 1e-9);
	json_decref(res.decision);
}

static void test_worse_but_not_significant_holds(void **state)
{
	struct analysis_input in;
	struct analysis_result res;

	(void)state;
	/* 3 of 100 vs 0 of 100: +3 points > +2, but at 99 % confidence the
	 * two-proportion test (z = 1.745, p = 0.040) is not enough. */
	spec.analysis.error_confidence = 0.99;
	http_input(&in, 100, 0, 100, 3);
	analysis_evaluate(&in, &res);
	assert_int_equal(res.verdict, VERDICT_INCONCLUSIVE);
	assert_string_equal(check_verdict(res.decision, "kernel.error_rate"),
			    "inconclusive");
	assert_non_null(strstr(res.reason, "not significant"));
	json_decref(res.decision);
	spec.analysis.error_confidence = 0.95;
}

static void test_too_few_requests_holds(void **state)
{
	struct analysis_input in;
	struct analysis_result res;

	(void)state;
	http_input(&in, 5000, 0, 40, 40); /* all canary requests failed */
	analysis_evaluate(&in, &res);
	assert_int_equal(res.verdict, VERDICT_INCONCLUSIVE);
	assert_non_null(strstr(res.reason, "too few requests"));
	json_decref(res.decision);
}

static void test_slow_canary_fails(void **state)
{
	struct analysis_input in;
	struct analysis_result res;
	json_t *check;

	(void)state;
	http_input(&in, 1000, 0, 300, 0);
	kernel_latency(&in.kernel[ANALYSIS_CANARY].latency, 300, 110, 2);
	analysis_evaluate(&in, &res);
	assert_int_equal(res.verdict, VERDICT_FAIL);
	assert_string_equal(check_verdict(res.decision, "kernel.latency"),
			    "fail");
	assert_string_equal(check_verdict(res.decision, "kernel.error_rate"),
			    "pass");
	check = json_array_get(json_object_get(res.decision, "checks"), 1);
	assert_true(
	    json_real_value(json_object_get(
		json_object_get(check, "statistics"), "p99_increase_ms")) > 90);
	json_decref(res.decision);
}

static void predictions(struct metrics_window *w, const double *counts)
{
	static const char *const labels[] = {"positive", "negative", "neutral"};
	int i;

	w->complete = true;
	w->has_predictions = true;
	w->class_count = 3;
	w->requests = 0;
	for (i = 0; i < 3; i++) {
		snprintf(w->classes[i], sizeof(w->classes[i]), "%s", labels[i]);
		w->class_counts[i] = counts[i];
		w->requests += counts[i];
	}
}

static void test_shifted_predictions_fail(void **state)
{
	static const double stable[] = {400, 300, 300};
	static const double shifted[] = {100, 800, 100};
	static const double same[] = {205, 148, 147};
	struct analysis_input in;
	struct analysis_result res;

	(void)state;
	http_input(&in, 1000, 0, 1000, 0);
	in.metrics_configured = true;
	predictions(&in.metrics[ANALYSIS_STABLE], stable);
	predictions(&in.metrics[ANALYSIS_CANARY], shifted);
	analysis_evaluate(&in, &res);
	assert_int_equal(res.verdict, VERDICT_FAIL);
	assert_string_equal(check_verdict(res.decision, "metrics.predictions"),
			    "fail");
	assert_non_null(strstr(res.reason, "predictions shifted"));
	json_decref(res.decision);

	predictions(&in.metrics[ANALYSIS_CANARY], same);
	analysis_evaluate(&in, &res);
	assert_string_equal(check_verdict(res.decision, "metrics.predictions"),
			    "pass");
	assert_int_equal(res.verdict, VERDICT_PASS);
	json_decref(res.decision);
}

/* A two-class model: `positive_pct` of `requests` predicted positive. */
static void two_classes(struct metrics_window *w, double requests,
			double positive_pct)
{
	double positive = requests * positive_pct / 100.0;

	memset(w, 0, sizeof(*w));
	w->complete = true;
	w->has_predictions = true;
	w->class_count = 2;
	w->requests = requests;
	snprintf(w->classes[0], sizeof(w->classes[0]), "positive");
	snprintf(w->classes[1], sizeof(w->classes[1]), "negative");
	w->class_counts[0] = positive;
	w->class_counts[1] = requests - positive;
}

/* The predictions check's verdict with the default limits. */
static const char *drift_verdict(double requests, double stable_pct,
				 double canary_pct, double *jsd_bits,
				 char *reason, size_t reason_len)
{
	static char verdict[16];
	struct analysis_input in;
	struct analysis_result res;
	json_t *checks, *c;
	size_t i;

	http_input(&in, requests, 0, requests, 0);
	in.metrics_configured = true;
	two_classes(&in.metrics[ANALYSIS_STABLE], requests, stable_pct);
	two_classes(&in.metrics[ANALYSIS_CANARY], requests, canary_pct);
	analysis_evaluate(&in, &res);
	snprintf(verdict, sizeof(verdict), "%s",
		 check_verdict(res.decision, "metrics.predictions"));
	checks = json_object_get(res.decision, "checks");
	json_array_foreach(checks, i, c)
	{
		if (strcmp(json_string_value(json_object_get(c, "signal")),
			   "metrics.predictions"))
			continue;
		*jsd_bits = json_real_value(json_object_get(
		    json_object_get(c, "statistics"), "jsd_bits"));
		snprintf(reason, reason_len, "%s",
			 json_string_value(json_object_get(c, "reason")));
	}
	json_decref(res.decision);
	return verdict;
}

/*
 * With the default limits, a two-class model whose leading class moves 15
 * points (60 -> 75 %) fails within a few hundred requests per pool, though
 * its Jensen-Shannon divergence (0.037 bits) is under the divergence limit;
 * the decision names the class and its share in each pool.
 */
static void test_leading_class_moving_15_points_fails(void **state)
{
	const double default_jsd_limit =
	    spec.analysis.max_prediction_divergence;
	char reason[ANALYSIS_REASON_LEN];
	double jsd;

	(void)state;
	spec.min_requests = 100; /* the default */
	assert_string_equal(
	    drift_verdict(200, 60, 75, &jsd, reason, sizeof(reason)), "fail");
	assert_true(jsd < default_jsd_limit);
	assert_non_null(
	    strstr(reason, "positive: stable 60.0 %, canary 75.0 %"));
	/* 60 -> 80 %, the textbook "likely broken" case: 0.034 bits only */
	assert_string_equal(
	    drift_verdict(300, 60, 80, &jsd, reason, sizeof(reason)), "fail");
	assert_true(jsd < default_jsd_limit);
}

/* A 3-point move is ordinary drift: it passes, however many requests. */
static void test_leading_class_moving_3_points_passes(void **state)
{
	char reason[ANALYSIS_REASON_LEN];
	double jsd;

	(void)state;
	assert_string_equal(
	    drift_verdict(300, 60, 63, &jsd, reason, sizeof(reason)), "pass");
	assert_non_null(
	    strstr(reason, "positive: stable 60.0 %, canary 63.0 %"));
	/* significant at 100,000 a pool, and still within the limit */
	assert_string_equal(
	    drift_verdict(100000, 60, 63, &jsd, reason, sizeof(reason)),
	    "pass");
}

/* The boundary is the limit, 10 points by default: just past it fails
 * once significant, just within it passes. */
static void test_prediction_shift_boundary(void **state)
{
	char reason[ANALYSIS_REASON_LEN];
	double jsd;

	(void)state;
	assert_true(spec.analysis.max_prediction_shift_pp == 10.0);
	assert_string_equal(
	    drift_verdict(100000, 60, 70.5, &jsd, reason, sizeof(reason)),
	    "fail");
	assert_string_equal(
	    drift_verdict(100000, 60, 69.5, &jsd, reason, sizeof(reason)),
	    "pass");
	/* Past the limit on too few requests to tell: held, not failed */
	assert_string_equal(
	    drift_verdict(100, 60, 72, &jsd, reason, sizeof(reason)),
	    "inconclusive");
}

/* vLLM's bucket layouts (seconds) for its token timing histograms */
static const double vllm_ttft_bounds[] = {
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,  0.25,  0.5,   0.75,
    1.0,   2.5,	  5.0,	7.5,  10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0};
static const double vllm_itl_bounds[] = {
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2,  0.3,  0.4, 0.5,
    0.75, 1.0,	 2.5,  5.0,   7.5, 10.0, 20.0, 40.0, 80.0};

/* A histogram in one of those layouts with n values of about `ms`. */
static void token_hist(struct stats_hist *h, const double *bounds,
		       size_t nbounds, double n, double ms, double spread_ms)
{
	struct stats_prom_bucket b[32];
	double sum = 0;
	size_t j;
	int i;

	assert_true(nbounds < sizeof(b) / sizeof(b[0]));
	for (j = 0; j <= nbounds; j++) {
		b[j].le = j < nbounds ? bounds[j] : HUGE_VAL;
		b[j].cumulative = 0;
	}
	for (i = 0; i < (int)n; i++) {
		double v = (ms + spread_ms * ((i % 21) - 10) / 10.0) / 1000;

		sum += v;
		for (j = 0; j <= nbounds; j++)
			if (v <= b[j].le)
				b[j].cumulative++;
	}
	assert_int_equal(
	    stats_hist_from_prometheus(h, b, nbounds + 1, &n, &sum), 0);
}

/* Healthy kernel figures, and both pools' token timing from /metrics. */
static void llm_input(struct analysis_input *in, double s_req, double c_req,
		      double s_ttft_ms, double c_ttft_ms, double s_itl_ms,
		      double c_itl_ms)
{
	const size_t n_ttft = sizeof(vllm_ttft_bounds) / sizeof(double);
	const size_t n_itl = sizeof(vllm_itl_bounds) / sizeof(double);
	/* Each answer streams this many tokens: that many gaps, less one */
	const double gaps_per_request = 31;
	int p;

	http_input(in, s_req, 0, c_req, 0);
	in->metrics_configured = true;
	for (p = 0; p < 2; p++) {
		struct metrics_window *w = &in->metrics[p];
		double req = p == ANALYSIS_STABLE ? s_req : c_req;

		w->complete = true;
		w->requests = req;
		w->has_ttft = true;
		token_hist(&w->ttft, vllm_ttft_bounds, n_ttft, req,
			   p == ANALYSIS_STABLE ? s_ttft_ms : c_ttft_ms, 20);
		w->has_itl = true;
		token_hist(&w->itl, vllm_itl_bounds, n_itl,
			   req * gaps_per_request,
			   p == ANALYSIS_STABLE ? s_itl_ms : c_itl_ms, 4);
	}
}

static json_int_t threshold_of(json_t *decision, const char *signal,
			       const char *key)
{
	json_t *checks = json_object_get(decision, "checks"), *c;
	size_t i;

	json_array_foreach(checks, i, c)
	{
		if (!strcmp(json_string_value(json_object_get(c, "signal")),
			    signal))
			return json_integer_value(json_object_get(
			    json_object_get(c, "threshold"), key));
	}
	return -1;
}

static void test_ttft_400ms_later_fails(void **state)
{
	struct analysis_input in;
	struct analysis_result res;

	(void)state;
	llm_input(&in, 1000, 300, 150, 550, 20, 20);
	analysis_evaluate(&in, &res);
	assert_int_equal(res.verdict, VERDICT_FAIL);
	assert_string_equal(check_verdict(res.decision, "metrics.ttft"),
			    "fail");
	assert_string_equal(check_verdict(res.decision, "metrics.itl"), "pass");
	assert_non_null(strstr(res.reason, "metrics.ttft: canary TTFT p99"));
	assert_int_equal(threshold_of(res.decision, "metrics.ttft",
				      "max_ttft_p99_increase_ms"),
			 200);
	json_decref(res.decision);
}

static void test_equal_token_timing_passes(void **state)
{
	struct analysis_input in;
	struct analysis_result res;

	(void)state;
	llm_input(&in, 1000, 300, 150, 150, 20, 20);
	analysis_evaluate(&in, &res);
	assert_int_equal(res.verdict, VERDICT_PASS);
	assert_string_equal(check_verdict(res.decision, "metrics.ttft"),
			    "pass");
	assert_string_equal(check_verdict(res.decision, "metrics.itl"), "pass");
	assert_int_equal(threshold_of(res.decision, "metrics.itl",
				      "max_itl_p99_increase_ms"),
			 20);
	json_decref(res.decision);
}

static void test_slower_tokens_fail_on_itl(void **state)
{
	struct analysis_input in;
	struct analysis_result res;

	(void)state;
	/* Same first token, then 60 ms a token instead of 20 */
	llm_input(&in, 1000, 300, 150, 150, 20, 60);
	analysis_evaluate(&in, &res);
	assert_int_equal(res.verdict, VERDICT_FAIL);
	assert_string_equal(check_verdict(res.decision, "metrics.ttft"),
			    "pass");
	assert_string_equal(check_verdict(res.decision, "metrics.itl"), "fail");
	/* A looser limit lets the same window pass */
	json_decref(res.decision);
	spec.analysis.max_itl_p99_increase_ms = 100;
	analysis_evaluate(&in, &res);
	assert_string_equal(check_verdict(res.decision, "metrics.itl"), "pass");
	json_decref(res.decision);
}

static void test_too_few_first_tokens_hold(void **state)
{
	struct analysis_input in;
	struct analysis_result res;

	(void)state;
	/* Only 40 canary answers timed: a TTFT 400 ms later says nothing */
	llm_input(&in, 1000, 40, 150, 550, 20, 20);
	analysis_evaluate(&in, &res);
	assert_int_equal(res.verdict, VERDICT_INCONCLUSIVE);
	assert_string_equal(check_verdict(res.decision, "metrics.ttft"),
			    "inconclusive");
	assert_non_null(strstr(res.reason, "too few first tokens"));
	json_decref(res.decision);
}

static void test_no_token_timing_no_check(void **state)
{
	struct analysis_input in;
	struct analysis_result res;

	(void)state;
	llm_input(&in, 1000, 300, 150, 550, 20, 60);
	/* The stable pool's server exports none: nothing to compare with */
	in.metrics[ANALYSIS_STABLE].has_ttft = false;
	in.metrics[ANALYSIS_STABLE].has_itl = false;
	analysis_evaluate(&in, &res);
	assert_string_equal(check_verdict(res.decision, "metrics.ttft"),
			    "absent");
	assert_string_equal(check_verdict(res.decision, "metrics.itl"),
			    "absent");
	assert_int_equal(res.verdict, VERDICT_PASS);
	json_decref(res.decision);
}

/* The kernel's own view of event streams: no metrics configured, the
 * headers as fast in both pools, the first token 400 ms later. */
static void kernel_stream_input(struct analysis_input *in, double ttft_ms,
				double itl_ms)
{
	http_input(in, 1000, 0, 300, 0);
	in->kernel[ANALYSIS_STABLE].streams = 1000;
	in->kernel[ANALYSIS_CANARY].streams = 300;
	kernel_latency(&in->kernel[ANALYSIS_STABLE].ttft, 1000, 150, 20);
	kernel_latency(&in->kernel[ANALYSIS_CANARY].ttft, 300, ttft_ms, 20);
	kernel_latency(&in->kernel[ANALYSIS_STABLE].itl, 20000, 20, 4);
	kernel_latency(&in->kernel[ANALYSIS_CANARY].itl, 6000, itl_ms, 4);
}

static void test_kernel_ttft_400ms_later_fails(void **state)
{
	struct analysis_input in;
	struct analysis_result res;

	(void)state;
	kernel_stream_input(&in, 550, 20);
	analysis_evaluate(&in, &res);
	assert_int_equal(res.verdict, VERDICT_FAIL);
	assert_string_equal(check_verdict(res.decision, "kernel.latency"),
			    "pass");
	assert_string_equal(check_verdict(res.decision, "kernel.ttft"), "fail");
	assert_string_equal(check_verdict(res.decision, "kernel.itl"), "pass");
	assert_int_equal(threshold_of(res.decision, "kernel.ttft",
				      "max_ttft_p99_increase_ms"),
			 200);
	json_decref(res.decision);
}

static void test_kernel_itl_and_plain_responses(void **state)
{
	struct analysis_input in;
	struct analysis_result res;

	(void)state;
	kernel_stream_input(&in, 150, 60);
	analysis_evaluate(&in, &res);
	assert_string_equal(check_verdict(res.decision, "kernel.ttft"), "pass");
	assert_string_equal(check_verdict(res.decision, "kernel.itl"), "fail");
	json_decref(res.decision);
	/* No stream in either pool: judged as before, no token checks. */
	in.kernel[ANALYSIS_STABLE].streams = 0;
	in.kernel[ANALYSIS_CANARY].streams = 0;
	analysis_evaluate(&in, &res);
	assert_string_equal(check_verdict(res.decision, "kernel.ttft"),
			    "absent");
	assert_string_equal(check_verdict(res.decision, "kernel.itl"),
			    "absent");
	assert_int_equal(res.verdict, VERDICT_PASS);
	json_decref(res.decision);
}

static void test_token_thresholds_in_the_spec(void **state)
{
	struct rollout_spec base, out;
	struct spec_error err;
	json_t *round;

	(void)state;
	rollout_spec_defaults(&base);
	assert_int_equal(base.analysis.max_ttft_p99_increase_ms, 200);
	assert_int_equal(base.analysis.max_itl_p99_increase_ms, 20);
	assert_int_equal(
	    spec_from_text("{\"analysis\": {\"max_ttft_p99_increase\": \"1s\", "
			   "\"max_itl_p99_increase\": \"15ms\"}}",
			   &base, &out, &err),
	    0);
	assert_int_equal(out.analysis.max_ttft_p99_increase_ms, 1000);
	assert_int_equal(out.analysis.max_itl_p99_increase_ms, 15);
	/* Written back as durations, read back the same */
	assert_int_equal(spec_round_trip(&out, &base, &base, &round, &err), 0);
	assert_string_equal(
	    json_string_value(json_object_get(
		json_object_get(round, "analysis"), "max_itl_p99_increase")),
	    "15ms");
	json_decref(round);
	assert_int_equal(base.analysis.max_ttft_p99_increase_ms, 1000);
	assert_int_equal(base.analysis.max_itl_p99_increase_ms, 15);

	assert_int_equal(
	    spec_from_text("{\"analysis\": {\"max_ttft_p99_increase\": 200}}",
			   &base, &out, &err),
	    -EINVAL);
	assert_string_equal(err.field, "analysis.max_ttft_p99_increase");
}

static void test_metrics_target_down_holds(void **state)
{
	struct analysis_input in;
	struct analysis_result res;

	(void)state;
	http_input(&in, 1000, 0, 1000, 0);
	in.metrics_configured = true;
	in.metrics[ANALYSIS_STABLE].complete = true;
	in.metrics[ANALYSIS_CANARY].complete = false;
	snprintf(in.metrics[ANALYSIS_CANARY].missing,
		 sizeof(in.metrics[0].missing),
		 "http://198.18.16.20:8000/metrics: connection refused");
	analysis_evaluate(&in, &res);
	assert_int_equal(res.verdict, VERDICT_INCONCLUSIVE);
	assert_non_null(strstr(res.reason, "connection refused"));
	json_decref(res.decision);
}

static void test_not_http_uses_refused_connections(void **state)
{
	struct analysis_input in;
	struct analysis_result res;

	(void)state;
	memset(&in, 0, sizeof(in));
	in.spec = &spec;
	in.kernel[ANALYSIS_STABLE].new_flows = 1000;
	in.kernel[ANALYSIS_CANARY].new_flows = 300;
	in.kernel[ANALYSIS_CANARY].refused = 150;
	analysis_evaluate(&in, &res);
	assert_int_equal(res.verdict, VERDICT_FAIL);
	assert_string_equal(check_verdict(res.decision, "kernel.connections"),
			    "fail");
	json_decref(res.decision);
}

static void test_decision_record_shape(void **state)
{
	struct analysis_input in;
	struct analysis_result res;

	(void)state;
	http_input(&in, 2000, 10, 500, 3);
	in.step = 2;
	analysis_evaluate(&in, &res);
	assert_int_equal(
	    json_integer_value(json_object_get(res.decision, "step")), 3);
	assert_string_equal(
	    json_string_value(json_object_get(res.decision, "verdict")),
	    "pass");
	assert_true(json_is_object(json_object_get(
	    json_array_get(json_object_get(res.decision, "checks"), 0),
	    "threshold")));
	json_decref(res.decision);
}

static void test_immediate_rules(void **state)
{
	struct trailing_counts k = {
	    .valid = true, .requests = 20, .errors = 3, .span_ms = 400};
	char why[256];

	(void)state;
	/* 3 of 20 = 15 % > 10 %: roll back now */
	assert_true(analysis_immediate_rollback(&spec.analysis, &k, NULL, why,
						sizeof(why)));
	assert_non_null(strstr(why, "15.0 %"));
	/* 2 of 20 = 10 %: not above */
	k.errors = 2;
	assert_false(analysis_immediate_rollback(&spec.analysis, &k, NULL, why,
						 sizeof(why)));
	/* 5 of 19: too few requests to judge by rate */
	k.requests = 19;
	k.errors = 5;
	assert_false(analysis_immediate_rollback(&spec.analysis, &k, NULL, why,
						 sizeof(why)));
	/* refusals count whatever the requests */
	k.refused = 3;
	assert_true(analysis_immediate_rollback(&spec.analysis, &k, NULL, why,
						sizeof(why)));
	assert_non_null(strstr(why, "refused 3"));
	/* metrics alone can trigger it too */
	{
		struct trailing_counts none = {0};
		struct trailing_counts m = {.valid = true,
					    .requests = 40,
					    .errors = 10,
					    .span_ms = 1000};

		assert_true(analysis_immediate_rollback(&spec.analysis, &none,
							&m, why, sizeof(why)));
		assert_non_null(strstr(why, "metrics"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_healthy_canary_passes, setup),
	    cmocka_unit_test_setup(test_erroring_canary_fails_with_evidence,
				   setup),
	    cmocka_unit_test_setup(test_worse_but_not_significant_holds, setup),
	    cmocka_unit_test_setup(test_too_few_requests_holds, setup),
	    cmocka_unit_test_setup(test_slow_canary_fails, setup),
	    cmocka_unit_test_setup(test_shifted_predictions_fail, setup),
	    cmocka_unit_test_setup(test_leading_class_moving_15_points_fails,
				   setup),
	    cmocka_unit_test_setup(test_leading_class_moving_3_points_passes,
				   setup),
	    cmocka_unit_test_setup(test_prediction_shift_boundary, setup),
	    cmocka_unit_test_setup(test_ttft_400ms_later_fails, setup),
	    cmocka_unit_test_setup(test_equal_token_timing_passes, setup),
	    cmocka_unit_test_setup(test_slower_tokens_fail_on_itl, setup),
	    cmocka_unit_test_setup(test_too_few_first_tokens_hold, setup),
	    cmocka_unit_test_setup(test_no_token_timing_no_check, setup),
	    cmocka_unit_test_setup(test_kernel_ttft_400ms_later_fails, setup),
	    cmocka_unit_test_setup(test_kernel_itl_and_plain_responses, setup),
	    cmocka_unit_test_setup(test_token_thresholds_in_the_spec, setup),
	    cmocka_unit_test_setup(test_metrics_target_down_holds, setup),
	    cmocka_unit_test_setup(test_not_http_uses_refused_connections,
				   setup),
	    cmocka_unit_test_setup(test_decision_record_shape, setup),
	    cmocka_unit_test_setup(test_immediate_rules, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
