/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * stats.c - the statistics behind a canary verdict: normal and chi-square
 * distributions, the two-proportion test, latency histograms (Prometheus
 * and kernel), the binned Mann-Whitney U test, the chi-square test of
 * homogeneity and the Jensen-Shannon divergence. See stats.h for the
 * contract of each function and what it returns on degenerate input.
 */
#include "judge/stats.h"

#include <errno.h>
#include <linux/types.h>
#include <math.h>

#include "kanary_shared.h"
#include "util/names.h"

/* Continuity correction of a discrete statistic approximated as normal. */
#define CONTINUITY_CORRECTION 0.5
#define PERCENT		      100.0
/* Rule of thumb for normal approximations and chi-square cells. */
#define MIN_EXPECTED_COUNT 5.0
/* Share of chi-square cells allowed below MIN_EXPECTED_COUNT (Cochran). */
#define MAX_LOW_EXPECTED_SHARE 0.2
/* Two histogram bounds closer than this, relatively, are the same bound. */
#define BOUND_REL_TOLERANCE 1e-9
#define US_PER_SECOND	    1e6

/* Incomplete gamma: stop when a step changes the result by less. */
#define GAMMA_EPS 1e-15
/* Keeps Lentz's algorithm away from dividing by zero. */
#define GAMMA_TINY 1e-300
/* Terms needed grow like sqrt(a); this is ample for a below 1e7. */
#define GAMMA_MAX_ITER 100000

/*
 * Acklam's rational approximation of the normal quantile (relative error
 * 1.15e-9), then one Halley step against erfc, which brings it to double
 * precision. Coefficients of the central region (a, b) and of the tail (c, d).
 */
#define QUANTILE_TAIL_P 0.02425
static const double quantile_a[] = {
    -3.969683028665376e+01, 2.209460984245205e+02,  -2.759285104469687e+02,
    1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00,
};
static const double quantile_b[] = {
    -5.447609879822406e+01, 1.615858368580409e+02,  -1.556989798598866e+02,
    6.680131188771972e+01,  -1.328068155288572e+01,
};
static const double quantile_c[] = {
    -7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
    -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00,
};
static const double quantile_d[] = {
    7.784695709041462e-03,
    3.224671290700398e-01,
    2.445134137142996e+00,
    3.754408661907416e+00,
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

_Static_assert(KN_LATENCY_BUCKETS - 1 <= STATS_HIST_MAX_BOUNDS,
	       "the kernel histogram must fit in struct stats_hist");

static const char *const status_names[] = {
    [STATS_OK] = "ok",
    [STATS_EMPTY] = "empty",
    [STATS_NO_VARIANCE] = "no variance",
    [STATS_NO_FINITE_BOUND] = "no finite bound",
    [STATS_INVALID] = "invalid",
    [STATS_NO_CONVERGENCE] = "no convergence",
};

const char *stats_status_name(enum stats_status status)
{
	return names_of(status_names, NAMES_COUNT(status_names), status,
			"unknown");
}

bool stats_significant(enum stats_status status, double p_value,
		       double confidence)
{
	if (status != STATS_OK || !(confidence > 0.0 && confidence < 1.0))
		return false;
	return p_value < 1.0 - confidence;
}

static bool valid_count(double count)
{
	return isfinite(count) && count >= 0.0;
}

/* ---- Distributions ---------------------------------------------------- */

double stats_normal_cdf(double x)
{
	return 0.5 * erfc(-x * M_SQRT1_2);
}

double stats_normal_sf(double x)
{
	return 0.5 * erfc(x * M_SQRT1_2);
}

static double polynomial(const double *coef, size_t n, double x)
{
	double acc = 0.0;
	size_t i;

	for (i = 0; i < n; i++)
		acc = acc * x + coef[i];
	return acc;
}

/* Quantile for 0 < p <= 0.5, where p itself carries full precision. */
static double normal_quantile_lower(double p)
{
	double x, err, step;

	if (p < QUANTILE_TAIL_P) {
		double q = sqrt(-2.0 * log(p));

		x = polynomial(quantile_c, ARRAY_LEN(quantile_c), q) /
		    (polynomial(quantile_d, ARRAY_LEN(quantile_d), q) * q +
		     1.0);
	} else {
		double q = p - 0.5;
		double r = q * q;

		x = polynomial(quantile_a, ARRAY_LEN(quantile_a), r) * q /
		    (polynomial(quantile_b, ARRAY_LEN(quantile_b), r) * r +
		     1.0);
	}

	/*
	 * Halley's step on cdf(x) - p; in the far tail exp(x^2 / 2) may
	 * overflow, and the approximation is then kept as it is.
	 */
	err = stats_normal_cdf(x) - p;
	step = err * sqrt(2.0 * M_PI) * exp(0.5 * x * x);
	if (isfinite(step))
		x -= step / (1.0 + 0.5 * x * step);
	return x;
}

int stats_normal_quantile(double p, double *z)
{
	if (!z || !(p >= 0.0 && p <= 1.0))
		return -EDOM;
	if (p == 0.0)
		*z = -HUGE_VAL;
	else if (p == 1.0)
		*z = HUGE_VAL;
	else if (p <= 0.5)
		*z = normal_quantile_lower(p);
	else
		/* 1 - p is exact for p >= 0.5: use the accurate lower half. */
		*z = -normal_quantile_lower(1.0 - p);
	return 0;
}

/* log(x^a e^-x / Gamma(a)), the factor both expansions share. */
static double gamma_log_prefactor(double a, double x)
{
	int sign;

	/* lgamma_r: lgamma() writes the global signgam, not thread-safe. */
	return a * log(x) - x - lgamma_r(a, &sign);
}

/* P(a, x) by its power series; converges fast for x < a + 1. */
static int gamma_p_series(double a, double x, double *p)
{
	double denom = a;
	double term = 1.0 / a;
	double sum = term;
	int i;

	for (i = 0; i < GAMMA_MAX_ITER; i++) {
		denom += 1.0;
		term *= x / denom;
		sum += term;
		if (fabs(term) < fabs(sum) * GAMMA_EPS) {
			*p = sum * exp(gamma_log_prefactor(a, x));
			return 0;
		}
	}
	return -ERANGE;
}

/* Q(a, x) by its continued fraction (modified Lentz); for x >= a + 1. */
static int gamma_q_fraction(double a, double x, double *q)
{
	double b = x + 1.0 - a;
	double c = 1.0 / GAMMA_TINY;
	double d = 1.0 / b;
	double frac = d;
	int i;

	for (i = 1; i <= GAMMA_MAX_ITER; i++) {
		double an = -i * (i - a);
		double delta;

		b += 2.0;
		d = an * d + b;
		if (fabs(d) < GAMMA_TINY)
			d = GAMMA_TINY;
		c = b + an / c;
		if (fabs(c) < GAMMA_TINY)
			c = GAMMA_TINY;
		d = 1.0 / d;
		delta = d * c;
		frac *= delta;
		if (fabs(delta - 1.0) < GAMMA_EPS) {
			*q = frac * exp(gamma_log_prefactor(a, x));
			return 0;
		}
	}
	return -ERANGE;
}

int stats_gamma_q(double a, double x, double *q)
{
	/* Set on every successful path; initialized for the compiler. */
	double p = 0.0, result = 1.0;
	int err;

	if (!q || !(a > 0.0) || isinf(a) || !(x >= 0.0))
		return -EDOM;
	if (x == 0.0) {
		*q = 1.0;
		return 0;
	}
	if (isinf(x)) {
		*q = 0.0;
		return 0;
	}
	if (x < a + 1.0) {
		err = gamma_p_series(a, x, &p);
		result = 1.0 - p;
	} else {
		err = gamma_q_fraction(a, x, &result);
	}
	if (err)
		return err;
	/* Rounding may step just outside [0, 1]. */
	*q = fmin(1.0, fmax(0.0, result));
	return 0;
}

int stats_chi2_sf(double x, double df, double *p)
{
	if (!p || !(df > 0.0) || isinf(df) || isnan(x))
		return -EDOM;
	if (x <= 0.0) {
		*p = 1.0;
		return 0;
	}
	return stats_gamma_q(0.5 * df, 0.5 * x, p);
}

/* ---- Error rates -------------------------------------------------------- */

static void two_prop_reset(struct stats_two_prop *out, enum stats_status st)
{
	*out = (struct stats_two_prop){.status = st, .p_value = 1.0};
}

enum stats_status stats_two_prop_test(double x_canary, double n_canary,
				      double x_stable, double n_stable,
				      struct stats_two_prop *out)
{
	double pooled, se, n_min;

	if (!out)
		return STATS_INVALID;
	if (!valid_count(x_canary) || !valid_count(n_canary) ||
	    !valid_count(x_stable) || !valid_count(n_stable) ||
	    x_canary > n_canary || x_stable > n_stable) {
		two_prop_reset(out, STATS_INVALID);
		return out->status;
	}

	two_prop_reset(out, STATS_OK);
	if (n_canary > 0.0)
		out->rate_canary = x_canary / n_canary;
	if (n_stable > 0.0)
		out->rate_stable = x_stable / n_stable;
	if (n_canary == 0.0 || n_stable == 0.0) {
		out->status = STATS_EMPTY;
		return out->status;
	}

	pooled = (x_canary + x_stable) / (n_canary + n_stable);
	out->pooled_rate = pooled;
	n_min = fmin(n_canary, n_stable);
	out->small_sample = n_min * pooled < MIN_EXPECTED_COUNT ||
			    n_min * (1.0 - pooled) < MIN_EXPECTED_COUNT;
	/* Both pools all errors or all successes: nothing to compare. */
	if (pooled <= 0.0 || pooled >= 1.0) {
		out->status = STATS_NO_VARIANCE;
		return out->status;
	}

	out->diff_pp = PERCENT * (out->rate_canary - out->rate_stable);
	se = sqrt(pooled * (1.0 - pooled) * (1.0 / n_canary + 1.0 / n_stable));
	out->z = (out->rate_canary - out->rate_stable) / se;
	out->p_value = stats_normal_sf(out->z);
	return out->status;
}

/* ---- Histograms -----------------------------------------------------------
 */

static bool same_bound(double x, double y)
{
	return fabs(x - y) <= BOUND_REL_TOLERANCE * fmax(fabs(x), fabs(y));
}

static bool valid_bounds(const double *upper, size_t nbounds)
{
	size_t i;

	for (i = 0; i < nbounds; i++) {
		if (!isfinite(upper[i]))
			return false;
		if (i > 0 && !(upper[i] > upper[i - 1]))
			return false;
	}
	return true;
}

int stats_hist_init(struct stats_hist *h, const double *upper, size_t nbounds)
{
	size_t i;

	if (!h || (nbounds > 0 && !upper))
		return -EINVAL;
	if (nbounds > STATS_HIST_MAX_BOUNDS)
		return -E2BIG;
	if (!valid_bounds(upper, nbounds))
		return -EINVAL;

	*h = (struct stats_hist){.nbounds = nbounds, .has_sum = true};
	for (i = 0; i < nbounds; i++)
		h->upper[i] = upper[i];
	return 0;
}

/* Index of the bucket holding value: the first bound >= value (le). */
static size_t bucket_of(const struct stats_hist *h, double value)
{
	size_t lo = 0, hi = h->nbounds;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (h->upper[mid] >= value)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

int stats_hist_observe(struct stats_hist *h, double value_s)
{
	if (!h || !isfinite(value_s) || h->nbounds > STATS_HIST_MAX_BOUNDS)
		return -EINVAL;
	h->counts[bucket_of(h, value_s)] += 1.0;
	h->total += 1.0;
	if (h->has_sum)
		h->sum += value_s;
	return 0;
}

int stats_hist_from_prometheus(struct stats_hist *h,
			       const struct stats_prom_bucket *buckets,
			       size_t nbuckets, const double *count,
			       const double *sum)
{
	struct stats_hist tmp = {0};
	double prev_le = -HUGE_VAL, prev_cum = 0.0;
	bool has_inf = false;
	size_t i;

	if (!h || (nbuckets > 0 && !buckets))
		return -EINVAL;
	if (count && !valid_count(*count))
		return -EINVAL;
	if (sum && !isfinite(*sum))
		return -EINVAL;

	for (i = 0; i < nbuckets; i++) {
		double le = buckets[i].le, cum = buckets[i].cumulative;

		if (isnan(le) || !(le > prev_le) || !valid_count(cum) ||
		    cum < prev_cum)
			return -EINVAL;
		if (isinf(le)) {
			/* +Inf: the last bucket (it cannot be exceeded). */
			tmp.counts[tmp.nbounds] = cum - prev_cum;
			has_inf = true;
		} else {
			if (tmp.nbounds == STATS_HIST_MAX_BOUNDS)
				return -E2BIG;
			tmp.upper[tmp.nbounds] = le;
			tmp.counts[tmp.nbounds] = cum - prev_cum;
			tmp.nbounds++;
		}
		prev_le = le;
		prev_cum = cum;
	}

	if (!has_inf) {
		if (!count || *count < prev_cum)
			return -EINVAL;
		tmp.counts[tmp.nbounds] = *count - prev_cum;
		prev_cum = *count;
	}
	tmp.total = prev_cum;
	if (sum) {
		tmp.has_sum = true;
		tmp.sum = *sum;
	}
	*h = tmp;
	return 0;
}

int stats_hist_from_kernel(struct stats_hist *h,
			   const struct kn_latency_hist *kernel)
{
	struct stats_hist tmp = {0};
	__u32 b;

	if (!h || !kernel)
		return -EINVAL;

	/* Bucket b ends where b + 1 starts; the last has no end. */
	tmp.nbounds = KN_LATENCY_BUCKETS - 1;
	for (b = 0; b < KN_LATENCY_BUCKETS; b++) {
		if (b < tmp.nbounds)
			tmp.upper[b] = (double)kn_latency_bucket_low_us(b + 1) /
				       US_PER_SECOND;
		tmp.counts[b] = (double)kernel->buckets[b];
		tmp.total += tmp.counts[b];
	}
	tmp.has_sum = true;
	tmp.sum = (double)kernel->sum_us / US_PER_SECOND;
	*h = tmp;
	return 0;
}

bool stats_hist_same_bounds(const struct stats_hist *a,
			    const struct stats_hist *b)
{
	size_t i;

	if (!a || !b || a->nbounds != b->nbounds ||
	    a->nbounds > STATS_HIST_MAX_BOUNDS)
		return false;
	for (i = 0; i < a->nbounds; i++)
		if (!same_bound(a->upper[i], b->upper[i]))
			return false;
	return true;
}

static bool valid_hist(const struct stats_hist *h)
{
	size_t i;

	if (!h || h->nbounds > STATS_HIST_MAX_BOUNDS ||
	    !valid_bounds(h->upper, h->nbounds) || !valid_count(h->total))
		return false;
	for (i = 0; i <= h->nbounds; i++)
		if (!valid_count(h->counts[i]))
			return false;
	return true;
}

/* Adds every bucket of src to the bucket of dst whose range contains it. */
static void merge_onto(const struct stats_hist *src, struct stats_hist *dst)
{
	size_t i, j = 0;

	for (i = 0; i <= src->nbounds; i++) {
		if (i < src->nbounds) {
			/* Common bounds are a subset of src's: j only grows. */
			while (j < dst->nbounds &&
			       dst->upper[j] < src->upper[i] &&
			       !same_bound(dst->upper[j], src->upper[i]))
				j++;
		} else {
			j = dst->nbounds;
		}
		dst->counts[j] += src->counts[i];
	}
	dst->total = src->total;
	dst->has_sum = src->has_sum;
	dst->sum = src->sum;
}

int stats_hist_rebin_common(const struct stats_hist *a,
			    const struct stats_hist *b,
			    struct stats_hist *a_out, struct stats_hist *b_out)
{
	double common[STATS_HIST_MAX_BOUNDS];
	struct stats_hist merged_a, merged_b;
	size_t i = 0, j = 0, n = 0;

	if (!valid_hist(a) || !valid_hist(b) || !a_out || !b_out ||
	    a_out == b_out)
		return -EINVAL;

	/* Both bound lists are ascending: intersect them in one walk. */
	while (i < a->nbounds && j < b->nbounds) {
		if (same_bound(a->upper[i], b->upper[j])) {
			common[n++] = a->upper[i];
			i++;
			j++;
		} else if (a->upper[i] < b->upper[j]) {
			i++;
		} else {
			j++;
		}
	}

	/* Built aside, so that the outputs may be the inputs. */
	stats_hist_init(&merged_a, common, n);
	stats_hist_init(&merged_b, common, n);
	merge_onto(a, &merged_a);
	merge_onto(b, &merged_b);
	*a_out = merged_a;
	*b_out = merged_b;
	return (int)n;
}

/*
 * Lower edge of bucket i. Below a positive first bound lies an implicit 0;
 * a first bound <= 0 is all that is known of the lowest bucket, so it is
 * both edges (Prometheus returns that bound for a rank in that bucket).
 */
static double bucket_lower(const struct stats_hist *h, size_t i)
{
	if (i > 0)
		return h->upper[i - 1];
	return fmin(0.0, h->upper[0]);
}

enum stats_status stats_hist_quantile(const struct stats_hist *h, double q,
				      double *value)
{
	double rank, below = 0.0, fraction;
	size_t b;

	if (!value)
		return STATS_INVALID;
	*value = 0.0;
	if (!valid_hist(h) || !(q >= 0.0 && q <= 1.0))
		return STATS_INVALID;
	if (h->total <= 0.0)
		return STATS_EMPTY;
	if (h->nbounds == 0)
		return STATS_NO_FINITE_BOUND;

	/*
	 * The bucket where the cumulative count first reaches the rank; for
	 * rank 0, the first non-empty one (an empty bucket has no quantile).
	 */
	rank = q * h->total;
	for (b = 0; b < h->nbounds; b++) {
		if (h->counts[b] > 0.0 && below + h->counts[b] >= rank)
			break;
		below += h->counts[b];
	}
	if (b == h->nbounds) {
		*value = h->upper[h->nbounds - 1];
		return STATS_OK;
	}
	fraction = fmin(1.0, fmax(0.0, (rank - below) / h->counts[b]));
	*value =
	    bucket_lower(h, b) + (h->upper[b] - bucket_lower(h, b)) * fraction;
	return STATS_OK;
}

enum stats_status stats_hist_mean(const struct stats_hist *h, double *mean,
				  enum stats_mean_method *method)
{
	double weighted = 0.0;
	size_t i;

	if (!mean || !method)
		return STATS_INVALID;
	*mean = 0.0;
	*method = STATS_MEAN_NONE;
	if (!valid_hist(h) || (h->has_sum && !isfinite(h->sum)))
		return STATS_INVALID;
	if (h->total <= 0.0)
		return STATS_EMPTY;
	if (h->has_sum) {
		*mean = h->sum / h->total;
		*method = STATS_MEAN_EXACT;
		return STATS_OK;
	}
	if (h->nbounds == 0)
		return STATS_NO_FINITE_BOUND;

	for (i = 0; i < h->nbounds; i++) {
		double mid = 0.5 * (bucket_lower(h, i) + h->upper[i]);

		weighted += h->counts[i] * mid;
	}
	weighted += h->counts[h->nbounds] * h->upper[h->nbounds - 1];
	*mean = weighted / h->total;
	*method = h->counts[h->nbounds] > 0.0 ? STATS_MEAN_MIDPOINT_CLIPPED
					      : STATS_MEAN_MIDPOINT;
	return STATS_OK;
}

#define SUMMARY_P50 0.5
#define SUMMARY_P90 0.9
#define SUMMARY_P99 0.99

enum stats_status stats_hist_summarize(const struct stats_hist *h,
				       struct stats_hist_summary *out)
{
	if (!out)
		return STATS_INVALID;
	*out = (struct stats_hist_summary){0};
	out->mean_status = stats_hist_mean(h, &out->mean, &out->mean_method);
	out->status = stats_hist_quantile(h, SUMMARY_P50, &out->p50);
	if (valid_hist(h))
		out->count = h->total;
	if (out->status != STATS_OK)
		return out->status;
	stats_hist_quantile(h, SUMMARY_P90, &out->p90);
	stats_hist_quantile(h, SUMMARY_P99, &out->p99);
	return out->status;
}

/* ---- Mann-Whitney U ----------------------------------------------------- */

static void mwu_reset(struct stats_mwu *out, enum stats_status st)
{
	*out = (struct stats_mwu){
	    .status = st,
	    .p_value = 1.0,
	    .prob_superiority = 0.5,
	};
}

enum stats_status stats_mwu_binned(const double *canary, const double *stable,
				   size_t nbins, struct stats_mwu *out)
{
	double n_c = 0.0, n_s = 0.0, stable_below = 0.0, all_below = 0.0;
	double u = 0.0, rank_sum = 0.0, tie_sum = 0.0, n, pairs, var;
	size_t i;

	if (!out)
		return STATS_INVALID;
	if (nbins > 0 && (!canary || !stable)) {
		mwu_reset(out, STATS_INVALID);
		return out->status;
	}
	for (i = 0; i < nbins; i++) {
		if (!valid_count(canary[i]) || !valid_count(stable[i])) {
			mwu_reset(out, STATS_INVALID);
			return out->status;
		}
		n_c += canary[i];
		n_s += stable[i];
	}
	mwu_reset(out, STATS_OK);
	out->n_canary = n_c;
	out->n_stable = n_s;
	if (n_c <= 0.0 || n_s <= 0.0) {
		out->status = STATS_EMPTY;
		return out->status;
	}

	n = n_c + n_s;
	for (i = 0; i < nbins; i++) {
		double tied = canary[i] + stable[i];

		/* Every value in a bin shares the mid-rank of the bin. */
		rank_sum += canary[i] * (all_below + 0.5 * (tied + 1.0));
		/* Counted pairwise, U needs no large rank sum to cancel. */
		u += canary[i] * (stable_below + 0.5 * stable[i]);
		/*
		 * Sum of t^3 - t over the bins, as n^3 - sum t^3 =
		 * sum t (n - t)(n + t): positive terms, no cancellation.
		 */
		tie_sum += tied * (n - tied) * (n + tied);
		stable_below += stable[i];
		all_below += tied;
	}
	pairs = n_c * n_s;
	out->rank_sum_canary = rank_sum;
	out->u = u;
	out->prob_superiority = u / pairs;

	var = pairs / (12.0 * n * (n - 1.0)) * tie_sum;
	if (!(var > 0.0)) {
		out->status = STATS_NO_VARIANCE;
		return out->status;
	}
	out->sd_u = sqrt(var);
	out->z = (u - 0.5 * pairs - CONTINUITY_CORRECTION) / out->sd_u;
	out->p_value = stats_normal_sf(out->z);
	return out->status;
}

enum stats_status stats_mwu_hist(const struct stats_hist *canary,
				 const struct stats_hist *stable,
				 struct stats_mwu *out)
{
	if (!out)
		return STATS_INVALID;
	if (!valid_hist(canary) || !valid_hist(stable) ||
	    !stats_hist_same_bounds(canary, stable)) {
		mwu_reset(out, STATS_INVALID);
		return out->status;
	}
	return stats_mwu_binned(canary->counts, stable->counts,
				canary->nbounds + 1, out);
}

/* ---- Label distributions ------------------------------------------------ */

/* Totals of two count vectors; false if a count is invalid. */
static bool label_totals(const double *canary, const double *stable, size_t k,
			 double *total_c, double *total_s)
{
	size_t i;

	*total_c = 0.0;
	*total_s = 0.0;
	if (k > 0 && (!canary || !stable))
		return false;
	for (i = 0; i < k; i++) {
		if (!valid_count(canary[i]) || !valid_count(stable[i]))
			return false;
		*total_c += canary[i];
		*total_s += stable[i];
	}
	return true;
}

enum stats_status stats_chi2_homogeneity(const double *canary,
					 const double *stable, size_t k,
					 struct stats_chi2_homog *out)
{
	double total_c, total_s, n, stat = 0.0;
	size_t i, cells;

	if (!out)
		return STATS_INVALID;
	*out = (struct stats_chi2_homog){.status = STATS_OK, .p_value = 1.0};
	if (!label_totals(canary, stable, k, &total_c, &total_s)) {
		out->status = STATS_INVALID;
		return out->status;
	}
	if (total_c <= 0.0 || total_s <= 0.0) {
		out->status = STATS_EMPTY;
		return out->status;
	}

	n = total_c + total_s;
	out->min_expected = HUGE_VAL;
	for (i = 0; i < k; i++) {
		double column = canary[i] + stable[i];
		double exp_c, exp_s;

		/* A label neither pool produced says nothing: dropped. */
		if (column <= 0.0)
			continue;
		out->columns_used++;
		exp_c = total_c * column / n;
		exp_s = total_s * column / n;
		stat += (canary[i] - exp_c) * (canary[i] - exp_c) / exp_c;
		stat += (stable[i] - exp_s) * (stable[i] - exp_s) / exp_s;
		out->cells_below_5 +=
		    (exp_c < MIN_EXPECTED_COUNT) + (exp_s < MIN_EXPECTED_COUNT);
		out->min_expected = fmin(out->min_expected, fmin(exp_c, exp_s));
	}
	if (out->columns_used < 2) {
		out->status = STATS_NO_VARIANCE;
		return out->status;
	}

	cells = 2 * out->columns_used;
	out->low_expected =
	    (double)out->cells_below_5 > MAX_LOW_EXPECTED_SHARE * cells;
	out->statistic = stat;
	out->df = (unsigned int)(out->columns_used - 1);
	if (stats_chi2_sf(stat, out->df, &out->p_value)) {
		out->p_value = 1.0;
		out->status = STATS_NO_CONVERGENCE;
	}
	return out->status;
}

/* weight * log2(weight_ratio), with 0 * log 0 = 0. */
static double plogp_term(double count, double ratio)
{
	return count > 0.0 ? count * log2(ratio) : 0.0;
}

enum stats_status stats_jsd_bits(const double *canary, const double *stable,
				 size_t k, double *jsd)
{
	double total_c, total_s, sum_c = 0.0, sum_s = 0.0;
	size_t i;

	if (!jsd)
		return STATS_INVALID;
	*jsd = 0.0;
	if (!label_totals(canary, stable, k, &total_c, &total_s))
		return STATS_INVALID;
	if (total_c <= 0.0 || total_s <= 0.0)
		return STATS_EMPTY;

	/*
	 * With p = c / C and q = s / S, p / m = 2 c S / (c S + s C): kept in
	 * counts, a disjoint label gives log2(2) = 1 exactly and proportional
	 * counts give log2(1) = 0 exactly.
	 */
	for (i = 0; i < k; i++) {
		double cs = canary[i] * total_s, sc = stable[i] * total_c;
		double mix = cs + sc;

		if (mix <= 0.0)
			continue;
		sum_c += plogp_term(canary[i], 2.0 * cs / mix);
		sum_s += plogp_term(stable[i], 2.0 * sc / mix);
	}
	*jsd = fmin(1.0, fmax(0.0, 0.5 * (sum_c / total_c + sum_s / total_s)));
	return STATS_OK;
}
