/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * stats.h - the statistics behind a canary verdict: distributions, the
 * error-rate test, latency histograms, the binned Mann-Whitney U test and
 * the comparison of prediction (label) distributions.
 *
 * Every function is pure and deterministic, allocates nothing and never
 * divides by zero. Counts are doubles, because Prometheus exposes them so;
 * they must be finite and non-negative, and are exact up to 2^53.
 *
 * Two ways of failing, by kind of function:
 *  - the scalar distributions and the histogram builders return 0 or a
 *    negative errno (-EINVAL, -EDOM, -E2BIG, -ERANGE) and leave their output
 *    untouched on error;
 *  - the tests return an enum stats_status, also stored in their result,
 *    whose every field is defined whatever the status: on anything but
 *    STATS_OK, z is 0 and the p-value is 1 (no evidence), so a careless
 *    caller never concludes from a result that could not be computed.
 * No function returns NaN from valid input; the only NaN that comes out is
 * a NaN that went in, through stats_normal_cdf() and stats_normal_sf().
 */
#ifndef KANARY_STATS_H
#define KANARY_STATS_H

#include <stdbool.h>
#include <stddef.h>

struct kn_latency_hist;

enum stats_status {
	STATS_OK = 0,
	STATS_EMPTY,	       /* a group, or the histogram, has no data */
	STATS_NO_VARIANCE,     /* all ties / one category: nothing to test */
	STATS_NO_FINITE_BOUND, /* every observation is in the +Inf bucket */
	STATS_INVALID,	       /* NULL, negative, NaN, mismatched bins... */
	STATS_NO_CONVERGENCE,  /* the incomplete gamma did not converge */
};

/* "ok", "empty", ...: for logs and the CLI. */
const char *stats_status_name(enum stats_status status);

/*
 * True when status is STATS_OK and p_value < 1 - confidence; false for a
 * confidence outside (0, 1) and for every result that was not computed.
 */
bool stats_significant(enum stats_status status, double p_value,
		       double confidence);

/* ---- Distributions ---------------------------------------------------- */

/* P(Z <= x) for a standard normal Z; NaN for NaN. */
double stats_normal_cdf(double x);
/* P(Z > x), accurate far into the upper tail (erfc, not 1 - cdf). */
double stats_normal_sf(double x);
/*
 * The z with P(Z <= z) = p, to within 2e-14 over (0, 1) (1e-15 relative).
 * p = 0 gives -HUGE_VAL, p = 1 gives +HUGE_VAL. -EDOM outside [0, 1].
 */
int stats_normal_quantile(double p, double *z);
/*
 * Regularized upper incomplete gamma Q(a, x) = Gamma(a, x) / Gamma(a),
 * a > 0, x >= 0 (x = +Inf gives 0). -EDOM outside the domain, -ERANGE if
 * the expansion did not converge (not seen for a below 1e7).
 */
int stats_gamma_q(double a, double x, double *q);
/* P(X > x) for X chi-square with df > 0 degrees of freedom; x <= 0 gives 1. */
int stats_chi2_sf(double x, double df, double *p);

/* ---- Error rates: two-proportion z test -------------------------------- */

struct stats_two_prop {
	enum stats_status status;
	double rate_canary; /* x / n, 0 when n is 0 */
	double rate_stable;
	double diff_pp;	    /* (canary - stable) in percentage points */
	double pooled_rate; /* (x_c + x_s) / (n_c + n_s) */
	double z;	    /* pooled z statistic */
	double p_value;	    /* one-sided, H1: canary rate > stable rate */
	/*
	 * The normal approximation is doubtful: under the pooled rate, a pool
	 * expects fewer than 5 errors or fewer than 5 successes.
	 */
	bool small_sample;
};

/*
 * x errors out of n requests per pool. STATS_EMPTY when a pool has n = 0
 * (diff 0); STATS_NO_VARIANCE when the pooled rate is 0 or 1 (diff 0);
 * STATS_INVALID when a count is negative or not finite, or x > n.
 */
enum stats_status stats_two_prop_test(double x_canary, double n_canary,
				      double x_stable, double n_stable,
				      struct stats_two_prop *out);

/* ---- Latency histograms ------------------------------------------------ */

/*
 * Finite bounds a histogram may have, besides its +Inf bucket. Prometheus
 * clients use 10 to 40; the kernel's quarter-octave histogram has
 * KN_LATENCY_BUCKETS - 1 = 95.
 */
#define STATS_HIST_MAX_BOUNDS 128

/*
 * Bucket i < nbounds holds the observations in (upper[i-1], upper[i]]
 * (Prometheus' `le`, inclusive); bucket 0 starts at 0 when upper[0] > 0;
 * bucket nbounds is (upper[nbounds-1], +Inf). Counts are per bucket, not
 * cumulative. Times are in seconds.
 */
struct stats_hist {
	size_t nbounds;
	double upper[STATS_HIST_MAX_BOUNDS]; /* finite, strictly ascending */
	double counts[STATS_HIST_MAX_BOUNDS + 1];
	double total; /* sum of counts */
	bool has_sum; /* sum of the observed values is known */
	double sum;   /* seconds */
};

/* One `_bucket{le="..."}` sample: cumulative count of values <= le. */
struct stats_prom_bucket {
	double le; /* seconds; +Inf (HUGE_VAL) for the last, if present */
	double cumulative;
};

/*
 * Empty histogram over the given finite bounds, sum known (0).
 * -EINVAL for bounds not finite or not strictly ascending, -E2BIG for more
 * than STATS_HIST_MAX_BOUNDS.
 */
int stats_hist_init(struct stats_hist *h, const double *upper, size_t nbounds);
/* Counts one observation of value_s seconds (and adds it to the sum). */
int stats_hist_observe(struct stats_hist *h, double value_s);

/*
 * From one histogram's `_bucket` samples, in ascending `le` order. The +Inf
 * bucket, when present, is authoritative; without it, *count (the `_count`
 * sample) gives the total, and without either the call fails, since what
 * lies above the top bound is unknown. count and sum may be NULL.
 * -EINVAL for unsorted or repeated `le`, NaN, negative or decreasing counts,
 * a count below the top bucket; -E2BIG for too many bounds.
 */
int stats_hist_from_prometheus(struct stats_hist *h,
			       const struct stats_prom_bucket *buckets,
			       size_t nbuckets, const double *count,
			       const double *sum);

/*
 * From the kernel's quarter-octave histogram: bucket b covers
 * [low(b), low(b+1)) microseconds, which for whole microseconds is the
 * `le` bucket with bound low(b+1); the last bucket is the +Inf bucket.
 */
int stats_hist_from_kernel(struct stats_hist *h,
			   const struct kn_latency_hist *kernel);

/* Same number of bounds, each equal within a relative 1e-9. */
bool stats_hist_same_bounds(const struct stats_hist *a,
			    const struct stats_hist *b);

/*
 * Puts two histograms with different bounds on the bounds they share, so
 * that they can be compared bin by bin. Counts are never split: each
 * original bucket lies wholly inside one bucket of the coarser common
 * grid (both grids contain every common bound), and is added to it;
 * buckets above the highest common bound go to +Inf. Nothing is assumed
 * about how values spread inside a bucket. Sums are kept.
 * The outputs may alias the inputs. Returns the number of common finite
 * bounds (0 means the histograms can only be compared as totals), or
 * -EINVAL.
 */
int stats_hist_rebin_common(const struct stats_hist *a,
			    const struct stats_hist *b,
			    struct stats_hist *a_out, struct stats_hist *b_out);

/*
 * The q-quantile (0 <= q <= 1) as Prometheus' histogram_quantile() computes
 * it: linear interpolation inside the bucket holding rank q * total; the
 * lowest bucket interpolates from 0, or is its bound when that is <= 0;
 * a rank in the +Inf bucket gives the highest finite bound. For q = 0 this
 * is the lower edge of the first non-empty bucket (Prometheus gives NaN
 * when the lowest bucket is empty). STATS_EMPTY without observations,
 * STATS_NO_FINITE_BOUND without any finite bound, STATS_INVALID for q
 * outside [0, 1]. *value is 0 unless STATS_OK.
 */
enum stats_status stats_hist_quantile(const struct stats_hist *h, double q,
				      double *value);

enum stats_mean_method {
	STATS_MEAN_NONE = 0, /* not computed */
	STATS_MEAN_EXACT,    /* sum / count */
	STATS_MEAN_MIDPOINT, /* bucket midpoints, all buckets finite */
	/*
	 * Bucket midpoints, observations in the +Inf bucket counted at the
	 * highest finite bound: the true mean is larger.
	 */
	STATS_MEAN_MIDPOINT_CLIPPED,
};

/*
 * sum / count when the sum is known, else the bucket-midpoint estimate
 * (the lowest bucket spans from 0, or is its bound when that is <= 0).
 * STATS_EMPTY without observations, STATS_NO_FINITE_BOUND when the sum is
 * unknown and there is no finite bound.
 */
enum stats_status stats_hist_mean(const struct stats_hist *h, double *mean,
				  enum stats_mean_method *method);

struct stats_hist_summary {
	enum stats_status status; /* of the quantiles */
	double count;
	double p50, p90, p99; /* seconds, 0 unless status is STATS_OK */
	enum stats_status mean_status;
	enum stats_mean_method mean_method;
	double mean; /* seconds, 0 unless mean_status is STATS_OK */
};

enum stats_status stats_hist_summarize(const struct stats_hist *h,
				       struct stats_hist_summary *out);

/* ---- Latency: Mann-Whitney U on binned data ---------------------------- */

struct stats_mwu {
	enum stats_status status;
	double n_canary;
	double n_stable;
	double rank_sum_canary; /* with mid-ranks: every value in a bin tied */
	/* Canary's U: pairs with canary > stable, plus half the tied pairs. */
	double u;
	double sd_u; /* tie-corrected standard deviation of U under H0 */
	double z;    /* (U - n_c n_s / 2 - 0.5) / sd_u: continuity-corrected */
	double p_value; /* one-sided, H1: canary stochastically larger */
	/* U / (n_c n_s): P(canary > stable) + P(tie) / 2; 0.5 if no data. */
	double prob_superiority;
};

/*
 * Counts of the two groups over the same ordered bins. STATS_EMPTY when a
 * group has no observation (U 0, effect 0.5), STATS_NO_VARIANCE when every
 * observation is in one bin (U = n_c n_s / 2, effect 0.5).
 */
enum stats_status stats_mwu_binned(const double *canary, const double *stable,
				   size_t nbins, struct stats_mwu *out);
/* Same on two histograms, which must have the same bounds (else INVALID). */
enum stats_status stats_mwu_hist(const struct stats_hist *canary,
				 const struct stats_hist *stable,
				 struct stats_mwu *out);

/* ---- Predictions: label distributions ---------------------------------- */

struct stats_chi2_homog {
	enum stats_status status;
	double statistic;     /* Pearson's X^2 */
	unsigned int df;      /* columns used - 1 */
	double p_value;	      /* upper tail of chi-square(df) */
	size_t columns_used;  /* labels seen in either pool */
	size_t cells_below_5; /* cells with expected count < 5 */
	double min_expected;  /* smallest expected count, for Cochran's >= 1 */
	bool low_expected;    /* > 20 % of cells expect < 5: p is doubtful */
};

/*
 * Chi-square test of homogeneity of the 2 x k table of label counts;
 * labels absent from both pools are dropped. STATS_EMPTY when a pool has
 * no predictions, STATS_NO_VARIANCE when fewer than two labels remain.
 */
enum stats_status stats_chi2_homogeneity(const double *canary,
					 const double *stable, size_t k,
					 struct stats_chi2_homog *out);

/*
 * Jensen-Shannon divergence, in bits, between the two normalized label
 * distributions: 0 when proportional, exactly 1 when disjoint.
 * STATS_EMPTY (and *jsd 0) when a pool has no predictions.
 */
enum stats_status stats_jsd_bits(const double *canary, const double *stable,
				 size_t k, double *jsd);

#endif /* KANARY_STATS_H */
