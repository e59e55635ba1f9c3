/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * analysis.c - the checks of one evaluation and the immediate rollback
 * rules (see analysis.h for the rules of a verdict).
 */
#include "judge/analysis.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define PERCENT	 100.0
#define MS_PER_S 1000.0
/* kernel: errors, latency, TTFT, ITL; metrics: errors, latency, TTFT, ITL,
 * predictions */
#define ANALYSIS_CHECKS_MAX 10

struct check {
	const char *signal;
	enum rollout_verdict verdict;
	char reason[ANALYSIS_REASON_LEN];
	json_t *json;
};

static void __attribute__((format(printf, 3, 4)))
check_set(struct check *c, enum rollout_verdict verdict, const char *fmt, ...)
{
	va_list ap;

	c->verdict = verdict;
	va_start(ap, fmt);
	vsnprintf(c->reason, sizeof(c->reason), fmt, ap);
	va_end(ap);
}

static json_t *rate_pool_json(double requests, double errors)
{
	return json_pack("{s:f, s:f, s:f}", "requests", requests, "errors",
			 errors, "error_rate_pct",
			 requests > 0 ? PERCENT * errors / requests : 0.0);
}

/* Too little data in a pool is a reason to hold, never to judge. */
static bool enough(struct check *c, const char *what, double stable,
		   double canary, uint32_t min_requests)
{
	if (stable < min_requests || canary < min_requests) {
		check_set(c, VERDICT_INCONCLUSIVE,
			  "too few %s: stable %.0f, canary %.0f, need %u in "
			  "each pool",
			  what, stable, canary, min_requests);
		return false;
	}
	return true;
}

static void error_rate_check(struct check *c, const struct analysis_spec *a,
			     uint32_t min_requests, double s_req, double s_err,
			     double c_req, double c_err)
{
	struct stats_two_prop t;

	stats_two_prop_test(c_err, c_req, s_err, s_req, &t);
	c->json = json_pack(
	    "{s:s, s:o, s:o, s:{s:f, s:f, s:i}, s:{s:f, s:f, s:f, s:s}}",
	    "signal", c->signal, "stable", rate_pool_json(s_req, s_err),
	    "canary", rate_pool_json(c_req, c_err), "threshold",
	    "max_increase_pp", a->max_error_rate_increase_pp, "confidence",
	    a->error_confidence, "min_requests", (json_int_t)min_requests,
	    "statistics", "increase_pp", t.diff_pp, "z", t.z, "p_value",
	    t.p_value, "test", stats_status_name(t.status));
	if (!enough(c, "requests", s_req, c_req, min_requests))
		return;
	if (t.diff_pp <= a->max_error_rate_increase_pp) {
		check_set(c, VERDICT_PASS,
			  "canary error rate %.2f %% vs stable %.2f %%: "
			  "+%.2f points, within +%.2f",
			  PERCENT * t.rate_canary, PERCENT * t.rate_stable,
			  t.diff_pp, a->max_error_rate_increase_pp);
		return;
	}
	if (stats_significant(t.status, t.p_value, a->error_confidence)) {
		check_set(c, VERDICT_FAIL,
			  "canary error rate %.2f %% vs stable %.2f %%: "
			  "+%.2f points > +%.2f (p = %.3g)",
			  PERCENT * t.rate_canary, PERCENT * t.rate_stable,
			  t.diff_pp, a->max_error_rate_increase_pp, t.p_value);
		return;
	}
	check_set(c, VERDICT_INCONCLUSIVE,
		  "canary error rate +%.2f points over stable, above +%.2f "
		  "but not significant yet (p = %.3g)",
		  t.diff_pp, a->max_error_rate_increase_pp, t.p_value);
}

static json_t *latency_pool_json(const struct stats_hist_summary *s)
{
	return json_pack("{s:f, s:f, s:f, s:f, s:f}", "count", s->count,
			 "p50_ms", MS_PER_S * s->p50, "p90_ms",
			 MS_PER_S * s->p90, "p99_ms", MS_PER_S * s->p99,
			 "mean_ms", MS_PER_S * s->mean);
}

/*
 * What a latency-like check compares: request latency, or an LLM server's
 * time to first token or inter-token latency, all judged alike.
 */
struct latency_limit {
	const char *threshold_key; /* in the decision record */
	uint64_t max_increase_ms;  /* canary p99 - stable p99 */
	const char *quantity;	   /* "p99", "TTFT p99", ... */
	const char *noun;	   /* what has no quantiles */
	const char *counted;	   /* what too few of holds */
};

static struct latency_limit request_latency_limit(const struct analysis_spec *a)
{
	return (struct latency_limit){
	    .threshold_key = "max_p99_increase_ms",
	    .max_increase_ms = a->max_p99_increase_ms,
	    .quantity = "p99",
	    .noun = "latency",
	    .counted = "timed responses",
	};
}

static void latency_check(struct check *c, const struct analysis_spec *a,
			  const struct latency_limit *limit,
			  uint32_t min_requests,
			  const struct stats_hist *stable,
			  const struct stats_hist *canary)
{
	struct stats_hist s_common, c_common;
	struct stats_hist_summary ss, cs;
	struct stats_mwu mwu;
	double p99_increase_ms;

	stats_hist_summarize(stable, &ss);
	stats_hist_summarize(canary, &cs);
	/* Mann-Whitney needs one set of bins: the bounds both share. */
	if (stats_hist_same_bounds(stable, canary)) {
		stats_mwu_hist(canary, stable, &mwu);
	} else if (stats_hist_rebin_common(stable, canary, &s_common,
					   &c_common) > 0) {
		stats_mwu_hist(&c_common, &s_common, &mwu);
	} else {
		memset(&mwu, 0, sizeof(mwu));
		mwu.status = STATS_INVALID;
		mwu.p_value = 1;
	}
	p99_increase_ms = MS_PER_S * (cs.p99 - ss.p99);
	c->json = json_pack(
	    "{s:s, s:o, s:o, s:{s:I, s:f, s:i}, s:{s:f, s:f, s:f, s:f, "
	    "s:s}}",
	    "signal", c->signal, "stable", latency_pool_json(&ss), "canary",
	    latency_pool_json(&cs), "threshold", limit->threshold_key,
	    (json_int_t)limit->max_increase_ms, "confidence",
	    a->latency_confidence, "min_requests", (json_int_t)min_requests,
	    "statistics", "p99_increase_ms", p99_increase_ms, "u", mwu.u, "z",
	    mwu.z, "p_value", mwu.p_value, "test",
	    stats_status_name(mwu.status));
	json_object_set_new(json_object_get(c->json, "statistics"),
			    "prob_canary_slower",
			    json_real(mwu.prob_superiority));
	if (!enough(c, limit->counted, ss.count, cs.count, min_requests))
		return;
	if (ss.status != STATS_OK || cs.status != STATS_OK) {
		check_set(c, VERDICT_INCONCLUSIVE,
			  "no %s quantiles: stable %s, canary %s", limit->noun,
			  stats_status_name(ss.status),
			  stats_status_name(cs.status));
		return;
	}
	if (p99_increase_ms <= (double)limit->max_increase_ms) {
		check_set(c, VERDICT_PASS,
			  "canary %s %.1f ms vs stable %.1f ms: %+.1f ms, "
			  "within +%llu ms",
			  limit->quantity, MS_PER_S * cs.p99, MS_PER_S * ss.p99,
			  p99_increase_ms,
			  (unsigned long long)limit->max_increase_ms);
		return;
	}
	if (stats_significant(mwu.status, mwu.p_value, a->latency_confidence)) {
		check_set(c, VERDICT_FAIL,
			  "canary %s %.1f ms vs stable %.1f ms: +%.1f ms > "
			  "+%llu ms, and slower overall (Mann-Whitney p = "
			  "%.3g)",
			  limit->quantity, MS_PER_S * cs.p99, MS_PER_S * ss.p99,
			  p99_increase_ms,
			  (unsigned long long)limit->max_increase_ms,
			  mwu.p_value);
		return;
	}
	check_set(c, VERDICT_INCONCLUSIVE,
		  "canary %s +%.1f ms over stable, above +%llu ms but not "
		  "significantly slower yet (p = %.3g)",
		  limit->quantity, p99_increase_ms,
		  (unsigned long long)limit->max_increase_ms, mwu.p_value);
}

static struct latency_limit ttft_limit(const struct analysis_spec *a)
{
	return (struct latency_limit){
	    .threshold_key = "max_ttft_p99_increase_ms",
	    .max_increase_ms = a->max_ttft_p99_increase_ms,
	    .quantity = "TTFT p99",
	    .noun = "TTFT",
	    .counted = "first tokens",
	};
}

static struct latency_limit itl_limit(const struct analysis_spec *a)
{
	return (struct latency_limit){
	    .threshold_key = "max_itl_p99_increase_ms",
	    .max_increase_ms = a->max_itl_p99_increase_ms,
	    .quantity = "ITL p99",
	    .noun = "ITL",
	    .counted = "token gaps",
	};
}

/* An LLM server's own time to first token and inter-token latency. */
static void token_timing_checks(struct check *checks, size_t *n,
				const struct analysis_spec *a,
				uint32_t min_requests,
				const struct metrics_window *s,
				const struct metrics_window *k)
{
	const struct latency_limit ttft = ttft_limit(a);
	const struct latency_limit itl = itl_limit(a);

	if (s->has_ttft && k->has_ttft) {
		checks[*n].signal = "metrics.ttft";
		latency_check(&checks[(*n)++], a, &ttft, min_requests, &s->ttft,
			      &k->ttft);
	}
	if (s->has_itl && k->has_itl) {
		checks[*n].signal = "metrics.itl";
		latency_check(&checks[(*n)++], a, &itl, min_requests, &s->itl,
			      &k->itl);
	}
}

/* Mean-only latency (a server that exports summed durations): there is no
 * distribution to test, so the threshold is applied to the means. */
static void mean_latency_check(struct check *c, const struct analysis_spec *a,
			       uint32_t min_requests,
			       const struct metrics_window *s,
			       const struct metrics_window *k)
{
	double s_mean = s->latency_count > 0
			    ? MS_PER_S * s->latency_sum_s / s->latency_count
			    : 0;
	double k_mean = k->latency_count > 0
			    ? MS_PER_S * k->latency_sum_s / k->latency_count
			    : 0;

	c->json = json_pack(
	    "{s:s, s:{s:f, s:f}, s:{s:f, s:f}, s:{s:I}, "
	    "s:{s:f, s:s}}",
	    "signal", c->signal, "stable", "count", s->latency_count, "mean_ms",
	    s_mean, "canary", "count", k->latency_count, "mean_ms", k_mean,
	    "threshold", "max_mean_increase_ms",
	    (json_int_t)a->max_p99_increase_ms, "statistics",
	    "mean_increase_ms", k_mean - s_mean, "test", "none (means only)");
	if (!enough(c, "timed requests", s->latency_count, k->latency_count,
		    min_requests))
		return;
	if (k_mean - s_mean > (double)a->max_p99_increase_ms)
		check_set(c, VERDICT_FAIL,
			  "canary mean latency %.1f ms vs stable %.1f ms: "
			  "+%.1f ms > +%llu ms",
			  k_mean, s_mean, k_mean - s_mean,
			  (unsigned long long)a->max_p99_increase_ms);
	else
		check_set(c, VERDICT_PASS,
			  "canary mean latency %.1f ms vs stable %.1f ms",
			  k_mean, s_mean);
}

/* The class whose share of predictions moved most between the pools. */
struct class_shift {
	const char *name;
	double stable_pct, canary_pct;
	double points; /* |canary - stable| */
};

static struct class_shift largest_shift(const char *const *names,
					const double *sc, const double *kc,
					unsigned n, double s_total,
					double k_total)
{
	struct class_shift best = {.name = ""};
	unsigned i;

	if (s_total <= 0 || k_total <= 0)
		return best;
	for (i = 0; i < n; i++) {
		double s_pct = 100.0 * sc[i] / s_total;
		double k_pct = 100.0 * kc[i] / k_total;

		if (fabs(k_pct - s_pct) > best.points || !best.name[0]) {
			best.name = names[i];
			best.stable_pct = s_pct;
			best.canary_pct = k_pct;
			best.points = fabs(k_pct - s_pct);
		}
	}
	return best;
}

/*
 * Two limits, either of which marks a shift: a class whose share moved more
 * than max_prediction_shift points (what a person means by "predicts
 * positive 80 % of the time instead of 60 %"), or a Jensen-Shannon
 * divergence above max_prediction_divergence (many small moves across many
 * classes). Either must also be significant (chi-square) to fail.
 */
static void predictions_check(struct check *c, const struct analysis_spec *a,
			      uint32_t min_requests,
			      const struct metrics_window *s,
			      const struct metrics_window *k)
{
	double sc[2 * ANALYSIS_CLASSES_MAX] = {0},
		      kc[2 * ANALYSIS_CLASSES_MAX] = {0};
	const char *names[2 * ANALYSIS_CLASSES_MAX];
	double s_total = 0, k_total = 0, jsd = 0;
	struct stats_chi2_homog chi2;
	struct class_shift shift;
	json_t *s_json = json_object(), *k_json = json_object();
	char shares[2 * ANALYSIS_CLASS_LEN + 64];
	unsigned n = 0, i, j;
	bool beyond;

	/* One column per class seen in either pool. */
	for (i = 0; i < s->class_count; i++) {
		names[n] = s->classes[i];
		sc[n++] = s->class_counts[i];
	}
	for (i = 0; i < k->class_count; i++) {
		for (j = 0; j < n; j++)
			if (!strcmp(names[j], k->classes[i]))
				break;
		if (j == n)
			names[n++] = k->classes[i];
		kc[j] += k->class_counts[i];
	}
	for (i = 0; i < n; i++) {
		s_total += sc[i];
		k_total += kc[i];
		json_object_set_new(s_json, names[i], json_real(sc[i]));
		json_object_set_new(k_json, names[i], json_real(kc[i]));
	}
	stats_chi2_homogeneity(kc, sc, n, &chi2);
	stats_jsd_bits(kc, sc, n, &jsd);
	shift = largest_shift(names, sc, kc, n, s_total, k_total);
	c->json = json_pack(
	    "{s:s, s:o, s:o, s:{s:f, s:f, s:f, s:i}, s:{s:f, s:s, s:f, s:f, "
	    "s:f, s:f, s:i, s:f, s:b, s:s}}",
	    "signal", c->signal, "stable", s_json, "canary", k_json,
	    "threshold", "max_shift_points", a->max_prediction_shift_pp,
	    "max_divergence_bits", a->max_prediction_divergence, "confidence",
	    a->prediction_confidence, "min_requests", (json_int_t)min_requests,
	    "statistics", "shift_points", shift.points, "shift_class",
	    shift.name, "shift_stable_pct", shift.stable_pct,
	    "shift_canary_pct", shift.canary_pct, "jsd_bits", jsd, "chi2",
	    chi2.statistic, "df", (int)chi2.df, "p_value", chi2.p_value,
	    "low_expected_counts", chi2.low_expected, "test",
	    stats_status_name(chi2.status));
	if (!enough(c, "predictions", s_total, k_total, min_requests))
		return;
	snprintf(shares, sizeof(shares), "%s: stable %.1f %%, canary %.1f %%",
		 shift.name, shift.stable_pct, shift.canary_pct);
	beyond = shift.points > a->max_prediction_shift_pp ||
		 jsd > a->max_prediction_divergence;
	if (!beyond) {
		check_set(c, VERDICT_PASS,
			  "predictions within limits (%s: %.1f points, within "
			  "%.1f; divergence %.4f bits, within %.4f)",
			  shares, shift.points, a->max_prediction_shift_pp, jsd,
			  a->max_prediction_divergence);
		return;
	}
	if (stats_significant(chi2.status, chi2.p_value,
			      a->prediction_confidence)) {
		check_set(c, VERDICT_FAIL,
			  "canary predictions shifted (%s: %.1f points, limit "
			  "%.1f; divergence %.4f bits, limit %.4f; chi-square "
			  "p = %.3g)",
			  shares, shift.points, a->max_prediction_shift_pp, jsd,
			  a->max_prediction_divergence, chi2.p_value);
		return;
	}
	check_set(c, VERDICT_INCONCLUSIVE,
		  "predictions moved (%s: %.1f points, limit %.1f; divergence "
		  "%.4f bits, limit %.4f) but not significantly yet (p = %.3g)",
		  shares, shift.points, a->max_prediction_shift_pp, jsd,
		  a->max_prediction_divergence, chi2.p_value);
}

static void connections_check(struct check *c, const struct analysis_spec *a,
			      uint32_t min_requests,
			      const struct kernel_window *s,
			      const struct kernel_window *k)
{
	error_rate_check(c, a, min_requests, s->new_flows, s->refused,
			 k->new_flows, k->refused);
	json_object_set_new(c->json, "note",
			    json_string("errors are connections refused by "
					"the backend"));
}

void analysis_evaluate(const struct analysis_input *in,
		       struct analysis_result *out)
{
	const struct analysis_spec *a = &in->spec->analysis;
	const struct kernel_window *ks = &in->kernel[ANALYSIS_STABLE];
	const struct kernel_window *kc = &in->kernel[ANALYSIS_CANARY];
	const struct metrics_window *ms = &in->metrics[ANALYSIS_STABLE];
	const struct metrics_window *mc = &in->metrics[ANALYSIS_CANARY];
	uint32_t min_req = in->spec->min_requests;
	const struct latency_limit request_latency = request_latency_limit(a);
	struct check checks[ANALYSIS_CHECKS_MAX];
	size_t n = 0, i;
	json_t *list = json_array();
	int fails = 0, holds = 0;
	char window[32];

	memset(checks, 0, sizeof(checks));
	if (in->http_observed) {
		checks[n].signal = "kernel.error_rate";
		error_rate_check(&checks[n++], a, min_req, ks->requests,
				 ks->errors, kc->requests, kc->errors);
		checks[n].signal = "kernel.latency";
		latency_check(&checks[n++], a, &request_latency, min_req,
			      &ks->latency, &kc->latency);
		/* Event streams (LLM servers): the headers come before the
		 * model has produced anything, so the first body byte is
		 * the time to first token. Plain responses are judged as
		 * before. */
		if (ks->streams > 0 || kc->streams > 0) {
			const struct latency_limit ttft = ttft_limit(a);
			const struct latency_limit itl = itl_limit(a);

			checks[n].signal = "kernel.ttft";
			latency_check(&checks[n++], a, &ttft, min_req,
				      &ks->ttft, &kc->ttft);
			checks[n].signal = "kernel.itl";
			latency_check(&checks[n++], a, &itl, min_req, &ks->itl,
				      &kc->itl);
		}
	} else {
		checks[n].signal = "kernel.connections";
		connections_check(&checks[n++], a, min_req, ks, kc);
	}
	if (in->metrics_configured) {
		if (!ms->complete || !mc->complete) {
			checks[n].signal = "metrics";
			check_set(&checks[n], VERDICT_INCONCLUSIVE,
				  "metrics incomplete: %s",
				  !mc->complete ? mc->missing : ms->missing);
			checks[n].json = json_pack(
			    "{s:s, s:s}", "signal", "metrics", "missing",
			    !mc->complete ? mc->missing : ms->missing);
			n++;
		} else {
			checks[n].signal = "metrics.error_rate";
			error_rate_check(&checks[n++], a, min_req, ms->requests,
					 ms->errors, mc->requests, mc->errors);
			if (ms->has_histogram && mc->has_histogram) {
				checks[n].signal = "metrics.latency";
				latency_check(&checks[n++], a, &request_latency,
					      min_req, &ms->latency,
					      &mc->latency);
			} else if (ms->has_mean && mc->has_mean) {
				checks[n].signal = "metrics.latency_mean";
				mean_latency_check(&checks[n++], a, min_req, ms,
						   mc);
			}
			token_timing_checks(checks, &n, a, min_req, ms, mc);
			if (ms->has_predictions || mc->has_predictions) {
				checks[n].signal = "metrics.predictions";
				predictions_check(&checks[n++], a, min_req, ms,
						  mc);
			}
		}
	}

	out->verdict = VERDICT_PASS;
	out->reason[0] = '\0';
	for (i = 0; i < n; i++) {
		if (checks[i].verdict == VERDICT_FAIL)
			fails++;
		else if (checks[i].verdict == VERDICT_INCONCLUSIVE)
			holds++;
	}
	for (i = 0; i < n; i++) {
		enum rollout_verdict want = fails   ? VERDICT_FAIL
					    : holds ? VERDICT_INCONCLUSIVE
						    : VERDICT_PASS;
		size_t used = strlen(out->reason);

		if (checks[i].verdict == want && used < sizeof(out->reason))
			snprintf(out->reason + used, sizeof(out->reason) - used,
				 "%s%s: %s", used ? "; " : "", checks[i].signal,
				 checks[i].reason);
	}
	out->verdict = fails   ? VERDICT_FAIL
		       : holds ? VERDICT_INCONCLUSIVE
			       : VERDICT_PASS;
	for (i = 0; i < n; i++) {
		if (!checks[i].json)
			checks[i].json =
			    json_pack("{s:s}", "signal", checks[i].signal);
		json_object_set_new(
		    checks[i].json, "verdict",
		    json_string(rollout_verdict_name(checks[i].verdict)));
		json_object_set_new(checks[i].json, "reason",
				    json_string(checks[i].reason));
		json_array_append_new(list, checks[i].json);
	}
	snprintf(window, sizeof(window), "%.1fs", in->window_ms / MS_PER_S);
	out->decision = json_pack("{s:i, s:f, s:s, s:s, s:s, s:o}", "step",
				  (int)in->step + 1, "canary_percent",
				  in->weight_bp / PERCENT, "window", window,
				  "verdict", rollout_verdict_name(out->verdict),
				  "reason", out->reason, "checks", list);
	if (in->stable_baseline_step)
		json_object_set_new(
		    out->decision, "stable_baseline",
		    json_pack("{s:i, s:s}", "step",
			      (int)in->stable_baseline_step, "why",
			      "the stable pool had too little traffic in "
			      "this window: its figures are from the last "
			      "step where it had enough"));
}

bool analysis_immediate_rollback(const struct analysis_spec *spec,
				 const struct trailing_counts *kernel,
				 const struct trailing_counts *metrics,
				 char *why, size_t why_len)
{
	const struct trailing_counts *sources[2] = {kernel, metrics};
	const char *names[2] = {"kernel", "metrics"};
	size_t i;

	for (i = 0; i < 2; i++) {
		const struct trailing_counts *t = sources[i];

		if (!t || !t->valid)
			continue;
		if (t->requests >= spec->rollback_min_requests &&
		    PERCENT * t->errors / t->requests >
			spec->rollback_error_rate_pct) {
			snprintf(why, why_len,
				 "canary error rate %.1f %% (%.0f of %.0f "
				 "requests in the last %.1f s, %s) is above "
				 "%.1f %%",
				 PERCENT * t->errors / t->requests, t->errors,
				 t->requests, t->span_ms / MS_PER_S, names[i],
				 spec->rollback_error_rate_pct);
			return true;
		}
		if (t->refused >= spec->rollback_refused) {
			snprintf(why, why_len,
				 "canary backends refused %.0f connections in "
				 "the last %.1f s",
				 t->refused, t->span_ms / MS_PER_S);
			return true;
		}
	}
	return false;
}
