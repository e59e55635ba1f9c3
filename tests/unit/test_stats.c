/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * test_stats.c - lib/judge/stats.c against values computed by hand or taken
 * from published tables: normal and chi-square distributions, the
 * two-proportion test, Prometheus and kernel latency histograms, the binned
 * Mann-Whitney U test, chi-square homogeneity and Jensen-Shannon divergence,
 * with their empty, tied and invalid inputs.
 *
 * Every expected value says where it comes from. "A&S" is Abramowitz and
 * Stegun, Handbook of Mathematical Functions, Tables 26.1 (normal, 15
 * decimals), 26.5 (normal quantiles) and 26.8 (chi-square percentage
 * points, 3 decimals, as reprinted in every statistics textbook).
 */
#include "unit.h"

#include <errno.h>
#include <float.h>
#include <linux/types.h>
#include <math.h>

#include "kanary_shared.h"
#include "judge/stats.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Tolerances, by what the expected value can carry. */
#define TOL_EXACT      1e-15 /* closed forms in double precision */
#define TOL_TIGHT      1e-12 /* iterative algorithms, 15-digit tables */
#define TOL_3_DECIMALS 5e-4  /* values quoted to 3 decimals */
/*
 * A critical value printed to 3 decimals is off by up to 5e-4 in x; the
 * chi-square density at the 5 % and 1 % points is at most 0.03 (df 1 at
 * 3.841), so p moves by less than 1.5e-5.
 */
#define TOL_FROM_3_DECIMAL_X 2e-5
#define US_PER_SECOND	     1e6

static void check_close(double got, double want, double tol, const char *what,
			const char *file, int line)
{
	if (isnan(got) || fabs(got - want) > tol) {
		print_error("%s: got %.17g, want %.17g (tolerance %g)\n", what,
			    got, want, tol);
		_fail(file, line);
	}
}

static void check_rel(double got, double want, double rel, const char *what,
		      const char *file, int line)
{
	check_close(got, want, fabs(want) * rel, what, file, line);
}

#define assert_close(got, want, tol)                                           \
	check_close((got), (want), (tol), #got, __FILE__, __LINE__)
#define assert_rel(got, want, rel)                                             \
	check_rel((got), (want), (rel), #got, __FILE__, __LINE__)

/* ---- Distributions ---------------------------------------------------- */

static void test_normal_cdf_table(void **state)
{
	(void)state;
	/* Symmetry: exactly one half. */
	assert_true(stats_normal_cdf(0.0) == 0.5);
	assert_true(stats_normal_sf(0.0) == 0.5);
	/* A&S 26.1: P(1) = 0.841344746068543. */
	assert_close(stats_normal_cdf(1.0), 0.841344746068543, TOL_TIGHT);
	/* A&S 26.1: P(1.96) = 0.975002104851780; Q(1.96) is its complement. */
	assert_close(stats_normal_cdf(1.96), 0.975002104851780, TOL_TIGHT);
	assert_close(stats_normal_cdf(-1.96), 0.024997895148220, TOL_TIGHT);
	assert_close(stats_normal_sf(1.96), 0.024997895148220, TOL_TIGHT);
	/* A&S 26.1: P(3) = 0.998650101968370, Q(3) = 0.001349898031630. */
	assert_close(stats_normal_cdf(3.0), 0.998650101968370, TOL_TIGHT);
	assert_close(stats_normal_cdf(-3.0), 0.001349898031630, TOL_TIGHT);
	assert_rel(stats_normal_sf(3.0), 0.001349898031630, TOL_TIGHT);
	/*
	 * Far tail, where 1 - cdf would be 0 or one ulp of 1: Q(8) =
	 * 6.22096057427178e-16 (the "8 sigma" row of the normal tail tables,
	 * 6.22096e-16; the 15 digits are erfc(4 sqrt 2) / 2).
	 */
	assert_rel(stats_normal_cdf(-8.0), 6.22096057427178e-16, TOL_TIGHT);
	assert_rel(stats_normal_sf(8.0), 6.22096057427178e-16, TOL_TIGHT);
	assert_true(stats_normal_cdf(-8.0) == stats_normal_sf(8.0));
	/* Limits. */
	assert_true(stats_normal_cdf(-HUGE_VAL) == 0.0);
	assert_true(stats_normal_cdf(HUGE_VAL) == 1.0);
	assert_true(stats_normal_sf(HUGE_VAL) == 0.0);
	assert_true(isnan(stats_normal_cdf(NAN)));
}

static void test_normal_quantile_table(void **state)
{
	double z;

	(void)state;
	assert_int_equal(stats_normal_quantile(0.5, &z), 0);
	assert_true(z == 0.0);
	/* A&S 26.5 / any z table: 1.959963984540054, 1.644853626951473. */
	assert_int_equal(stats_normal_quantile(0.975, &z), 0);
	assert_close(z, 1.959963984540054, TOL_TIGHT);
	assert_int_equal(stats_normal_quantile(0.025, &z), 0);
	assert_close(z, -1.959963984540054, TOL_TIGHT);
	assert_int_equal(stats_normal_quantile(0.95, &z), 0);
	assert_close(z, 1.644853626951473, TOL_TIGHT);
	/* A&S 26.5: 2.326347874040841 and 2.575829303548901. */
	assert_int_equal(stats_normal_quantile(0.99, &z), 0);
	assert_close(z, 2.326347874040841, TOL_TIGHT);
	assert_int_equal(stats_normal_quantile(0.995, &z), 0);
	assert_close(z, 2.575829303548901, TOL_TIGHT);
	/* A&S 26.5 (tail): Q = 1e-10 at x = 6.361340902404056. */
	assert_int_equal(stats_normal_quantile(1e-10, &z), 0);
	assert_close(z, -6.361340902404056, TOL_TIGHT);

	/* Ends of the domain, and outside it (z untouched). */
	assert_int_equal(stats_normal_quantile(0.0, &z), 0);
	assert_true(isinf(z) && z < 0);
	assert_int_equal(stats_normal_quantile(1.0, &z), 0);
	assert_true(isinf(z) && z > 0);
	z = 42.0;
	assert_int_equal(stats_normal_quantile(-0.1, &z), -EDOM);
	assert_int_equal(stats_normal_quantile(1.1, &z), -EDOM);
	assert_int_equal(stats_normal_quantile(NAN, &z), -EDOM);
	assert_true(z == 42.0);
	assert_int_equal(stats_normal_quantile(0.5, NULL), -EDOM);
}

/*
 * cdf(quantile(p)) = p over 300 decades of the lower tail, and
 * quantile(cdf(x)) = x on a grid; the quantile's stated error is < 1e-9,
 * checked here far tighter.
 */
static void test_normal_quantile_round_trip(void **state)
{
	int decade, mantissa;
	double x;

	(void)state;
	for (decade = -300; decade < 0; decade++) {
		for (mantissa = 1; mantissa < 10; mantissa++) {
			double p = mantissa * pow(10.0, decade), z, back;

			assert_int_equal(stats_normal_quantile(p, &z), 0);
			back = stats_normal_cdf(z);
			/* dp/p = |z| dz, so 1e-12 here is dz < 4e-14. */
			assert_rel(back, p, TOL_TIGHT);
		}
	}
	for (x = -8.0; x <= 8.0; x += 0.125) {
		double z, p = stats_normal_cdf(x);
		double pdf = exp(-0.5 * x * x) / sqrt(2.0 * M_PI);

		assert_int_equal(stats_normal_quantile(p, &z), 0);
		/*
		 * Above 0, p near 1 carries only DBL_EPSILON absolute, which
		 * moves z by DBL_EPSILON / pdf(x): that is all p still says.
		 */
		assert_close(
		    z, x, x > 0.0 ? DBL_EPSILON / pdf + TOL_TIGHT : TOL_TIGHT);
	}
}

/*
 * Q(m, y) for whole m by its closed form e^-y sum_{j<m} y^j / j!, an
 * algorithm independent of the one under test, for large df. Summed from
 * the largest term down in logs, as e^-y alone underflows for y > 745.
 */
static double poisson_tail(unsigned int m, double y)
{
	double log_max = -HUGE_VAL, sum = 0.0;
	unsigned int j;

	for (j = 0; j < m; j++)
		log_max = fmax(log_max, j * log(y) - y - lgamma(j + 1.0));
	for (j = 0; j < m; j++)
		sum += exp(j * log(y) - y - lgamma(j + 1.0) - log_max);
	return exp(log_max + log(sum));
}

static void test_chi2_sf_table(void **state)
{
	/* A&S 26.8: the 5 % and 1 % points for df 1, 2, 10 and 100, and the
	 * median of chi-square(1) (the 50 % row). */
	static const struct {
		double x;
		double df;
		double p;
		double tolerance;
	} points[] = {
	    {3.841, 1, 0.05, TOL_FROM_3_DECIMAL_X},
	    {5.991, 2, 0.05, TOL_FROM_3_DECIMAL_X},
	    {18.307, 10, 0.05, TOL_FROM_3_DECIMAL_X},
	    {6.635, 1, 0.01, TOL_FROM_3_DECIMAL_X},
	    {9.210, 2, 0.01, TOL_FROM_3_DECIMAL_X},
	    {23.209, 10, 0.01, TOL_FROM_3_DECIMAL_X},
	    {124.342, 100, 0.05, TOL_FROM_3_DECIMAL_X},
	    {135.807, 100, 0.01, TOL_FROM_3_DECIMAL_X},
	    {0.454936, 1, 0.5, 1e-6},
	};
	double p;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(points) / sizeof(points[0]); i++) {
		assert_int_equal(stats_chi2_sf(points[i].x, points[i].df, &p),
				 0);
		assert_close(p, points[i].p, points[i].tolerance);
	}
}

static void test_chi2_sf_closed_forms(void **state)
{
	static const double xs[] = {0.01, 0.5,	1.0,  2.0,  3.0,
				    7.5,  20.0, 60.0, 100.0};
	double p;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(xs); i++) {
		double x = xs[i];

		/* df 2: Q = e^(-x/2); so -2 ln 0.05 = 5.9915 is the 5 % point.
		 */
		assert_int_equal(stats_chi2_sf(x, 2, &p), 0);
		assert_rel(p, exp(-0.5 * x), TOL_TIGHT);
		/* df 1: chi-square(1) is Z^2, so Q = 2 Q_normal(sqrt x). */
		assert_int_equal(stats_chi2_sf(x, 1, &p), 0);
		assert_rel(p, erfc(sqrt(0.5 * x)), TOL_TIGHT);
		/* df 3: Q = erfc(sqrt(x/2)) + sqrt(2x/pi) e^(-x/2). */
		assert_int_equal(stats_chi2_sf(x, 3, &p), 0);
		assert_rel(p,
			   erfc(sqrt(0.5 * x)) +
			       sqrt(2.0 * x / M_PI) * exp(-0.5 * x),
			   TOL_TIGHT);
		/* df 4: Q = e^(-x/2) (1 + x/2). */
		assert_int_equal(stats_chi2_sf(x, 4, &p), 0);
		assert_rel(p, exp(-0.5 * x) * (1.0 + 0.5 * x), TOL_TIGHT);
	}
	/* 1.959963984540054^2: the df-1 5 % point to 15 digits. */
	assert_int_equal(stats_chi2_sf(3.841458820694124, 1, &p), 0);
	assert_close(p, 0.05, TOL_TIGHT);
	/* -2 ln 0.05 = 5.991464547107979, the df-2 5 % point. */
	assert_int_equal(stats_chi2_sf(5.991464547107979, 2, &p), 0);
	assert_close(p, 0.05, TOL_TIGHT);
}

static void test_chi2_sf_large_df(void **state)
{
	static const unsigned int dfs[] = {100, 200, 1000, 5000};
	double p;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(dfs); i++) {
		double df = dfs[i];
		/* From the bulk to about 25 sd into the upper tail. */
		double xs[] = {0.5 * df, df - sqrt(df), df,
			       df + 3 * sqrt(2 * df), 1.5 * df};
		size_t j;

		for (j = 0; j < ARRAY_LEN(xs); j++) {
			double want = poisson_tail(dfs[i] / 2, 0.5 * xs[j]);

			assert_int_equal(stats_chi2_sf(xs[j], df, &p), 0);
			/* lgamma(a) of size 2500 costs a few ulps of a. */
			assert_rel(p, want, 1e-10);
		}
	}
	/* A&S 26.8 does not go past 100; the 200 5 % point is 233.994. */
	assert_int_equal(stats_chi2_sf(233.994, 200, &p), 0);
	assert_close(p, 0.05, TOL_FROM_3_DECIMAL_X);
}

static void test_chi2_sf_domain(void **state)
{
	double p = 42.0;

	(void)state;
	assert_int_equal(stats_chi2_sf(1.0, 0.0, &p), -EDOM);
	assert_int_equal(stats_chi2_sf(1.0, -1.0, &p), -EDOM);
	assert_int_equal(stats_chi2_sf(1.0, NAN, &p), -EDOM);
	assert_int_equal(stats_chi2_sf(NAN, 1.0, &p), -EDOM);
	assert_int_equal(stats_chi2_sf(1.0, 1.0, NULL), -EDOM);
	assert_true(p == 42.0);
	/* No mass at or below 0; none beyond +Inf. */
	assert_int_equal(stats_chi2_sf(0.0, 3.0, &p), 0);
	assert_true(p == 1.0);
	assert_int_equal(stats_chi2_sf(-5.0, 3.0, &p), 0);
	assert_true(p == 1.0);
	assert_int_equal(stats_chi2_sf(HUGE_VAL, 3.0, &p), 0);
	assert_true(p == 0.0);
	/* Q(1, x) = e^-x and Q(1/2, x) = erfc(sqrt x), both expansions. */
	assert_int_equal(stats_gamma_q(1.0, 0.5, &p), 0);
	assert_rel(p, exp(-0.5), TOL_TIGHT);
	assert_int_equal(stats_gamma_q(1.0, 3.0, &p), 0);
	assert_rel(p, exp(-3.0), TOL_TIGHT);
	assert_int_equal(stats_gamma_q(0.5, 0.2, &p), 0);
	assert_rel(p, erfc(sqrt(0.2)), TOL_TIGHT);
	assert_int_equal(stats_gamma_q(0.5, 40.0, &p), 0);
	assert_rel(p, erfc(sqrt(40.0)), TOL_TIGHT);
	assert_int_equal(stats_gamma_q(0.0, 1.0, &p), -EDOM);
	assert_int_equal(stats_gamma_q(1.0, -1.0, &p), -EDOM);
	assert_int_equal(stats_gamma_q(HUGE_VAL, 1.0, &p), -EDOM);
}

/* ---- Two proportions ---------------------------------------------------- */

static void test_two_prop_textbook(void **state)
{
	struct stats_two_prop r;

	(void)state;
	/*
	 * 30 errors in 200 (15 %) against 20 in 200 (10 %): pooled 50/400 =
	 * 0.125, SE = sqrt(0.125 * 0.875 * (1/200 + 1/200)) = 0.0330719,
	 * z = 0.05 / 0.0330719 = 1.512; one-sided p = Q(1.5119) = 0.0653.
	 */
	assert_int_equal(stats_two_prop_test(30, 200, 20, 200, &r), STATS_OK);
	assert_int_equal(r.status, STATS_OK);
	assert_close(r.rate_canary, 0.15, TOL_EXACT);
	assert_close(r.rate_stable, 0.10, TOL_EXACT);
	assert_close(r.diff_pp, 5.0, 1e-12);
	assert_close(r.pooled_rate, 0.125, TOL_EXACT);
	assert_close(r.z, 1.512, TOL_3_DECIMALS);
	assert_close(r.z, 1.5118578920369, 1e-12);
	assert_close(r.p_value, 0.0653, 5e-5);
	assert_false(r.small_sample);
	assert_false(stats_significant(r.status, r.p_value, 0.95));
	assert_true(stats_significant(r.status, r.p_value, 0.90));

	/*
	 * 50/1000 against 30/1000: pooled 0.04, SE = sqrt(0.04 * 0.96 *
	 * 0.002) = 0.0087636, z = 0.02 / 0.0087636 = 2.282, p = 0.0112:
	 * significant at 95 %, not at 99 %.
	 */
	assert_int_equal(stats_two_prop_test(50, 1000, 30, 1000, &r), STATS_OK);
	assert_close(r.z, 2.282, TOL_3_DECIMALS);
	assert_close(r.p_value, 0.0112, 5e-5);
	assert_true(stats_significant(r.status, r.p_value, 0.95));
	assert_false(stats_significant(r.status, r.p_value, 0.99));

	/* The canary better than stable: same |z|, other sign, p = 1 - p. */
	assert_int_equal(stats_two_prop_test(20, 200, 30, 200, &r), STATS_OK);
	assert_close(r.z, -1.5118578920369, 1e-12);
	assert_close(r.diff_pp, -5.0, 1e-12);
	assert_close(r.p_value, 1.0 - 0.0652850090578682, 1e-12);
	assert_false(stats_significant(r.status, r.p_value, 0.95));

	/* Unequal pools, equal rates: z exactly 0, p one half. */
	assert_int_equal(stats_two_prop_test(10, 100, 30, 300, &r), STATS_OK);
	assert_true(r.z == 0.0);
	assert_true(r.p_value == 0.5);
}

static void test_two_prop_degenerate(void **state)
{
	struct stats_two_prop r;

	(void)state;
	/* An empty pool: the other's rate is reported, nothing is tested. */
	assert_int_equal(stats_two_prop_test(0, 0, 5, 100, &r), STATS_EMPTY);
	assert_int_equal(r.status, STATS_EMPTY);
	assert_true(r.rate_canary == 0.0);
	assert_close(r.rate_stable, 0.05, TOL_EXACT);
	assert_true(r.z == 0.0 && r.p_value == 1.0 && r.diff_pp == 0.0);
	assert_false(stats_significant(r.status, r.p_value, 0.95));
	assert_int_equal(stats_two_prop_test(3, 10, 0, 0, &r), STATS_EMPTY);
	assert_int_equal(stats_two_prop_test(0, 0, 0, 0, &r), STATS_EMPTY);

	/* No errors anywhere, or nothing but errors: no variance. */
	assert_int_equal(stats_two_prop_test(0, 500, 0, 800, &r),
			 STATS_NO_VARIANCE);
	assert_true(r.rate_canary == 0.0 && r.rate_stable == 0.0);
	assert_true(r.z == 0.0 && r.p_value == 1.0 && r.diff_pp == 0.0);
	assert_int_equal(stats_two_prop_test(40, 40, 60, 60, &r),
			 STATS_NO_VARIANCE);
	assert_true(r.rate_canary == 1.0 && r.rate_stable == 1.0);
	assert_true(r.p_value == 1.0);

	/*
	 * 1/100 against 0/100: computable (pooled 0.005, z = 0.01 /
	 * sqrt(0.005 * 0.995 * 0.02) = 1.0025) but 0.5 expected errors per
	 * pool is far below 5: flagged.
	 */
	assert_int_equal(stats_two_prop_test(1, 100, 0, 100, &r), STATS_OK);
	assert_close(r.z, 0.01 / sqrt(0.005 * 0.995 * 0.02), TOL_TIGHT);
	assert_true(r.small_sample);

	/* Invalid counts: negative, NaN, infinite, more errors than requests.
	 */
	assert_int_equal(stats_two_prop_test(-1, 10, 0, 10, &r), STATS_INVALID);
	assert_true(r.p_value == 1.0 && r.z == 0.0);
	assert_int_equal(stats_two_prop_test(NAN, 10, 0, 10, &r),
			 STATS_INVALID);
	assert_int_equal(stats_two_prop_test(1, HUGE_VAL, 0, 10, &r),
			 STATS_INVALID);
	assert_int_equal(stats_two_prop_test(11, 10, 0, 10, &r), STATS_INVALID);
	assert_int_equal(stats_two_prop_test(1, 10, 0, 10, NULL),
			 STATS_INVALID);
}

static void test_significance_helper(void **state)
{
	(void)state;
	assert_true(stats_significant(STATS_OK, 0.04, 0.95));
	assert_false(stats_significant(STATS_OK, 0.06, 0.95));
	assert_true(stats_significant(STATS_OK, 0.005, 0.99));
	assert_false(stats_significant(STATS_OK, 0.02, 0.99));
	/* Not computed, or a confidence that means nothing: never. */
	assert_false(stats_significant(STATS_NO_VARIANCE, 0.0, 0.95));
	assert_false(stats_significant(STATS_EMPTY, 0.0, 0.95));
	assert_false(stats_significant(STATS_OK, 0.0, 0.0));
	assert_false(stats_significant(STATS_OK, 0.0, 1.0));
	assert_false(stats_significant(STATS_OK, 0.0, NAN));
	assert_false(stats_significant(STATS_OK, NAN, 0.95));
	assert_string_equal(stats_status_name(STATS_OK), "ok");
	assert_string_equal(stats_status_name(STATS_NO_VARIANCE),
			    "no variance");
	assert_string_equal(stats_status_name((enum stats_status)99),
			    "unknown");
}

/* ---- Histograms --------------------------------------------------------- */

/*
 * Prometheus' own worked example, promql/promqltest/testdata/histograms.test
 * ("testhistogram" at 50m): the expected quantiles below are that file's,
 * and each is re-derived by hand in its comment.
 */
static const struct stats_prom_bucket prom_positive[] = {
    {0.1, 50}, {0.2, 70}, {1.0, 110}, {HUGE_VAL, 120}};
static const struct stats_prom_bucket prom_negative[] = {
    {-0.2, 10}, {-0.1, 20}, {0.3, 20}, {HUGE_VAL, 30}};

/* Field by field: padding bytes of a struct copy are unspecified. */
static void assert_hist_equal(const struct stats_hist *got,
			      const struct stats_hist *want)
{
	size_t i;

	assert_int_equal(got->nbounds, want->nbounds);
	for (i = 0; i < want->nbounds; i++)
		assert_true(got->upper[i] == want->upper[i]);
	for (i = 0; i <= want->nbounds; i++)
		assert_true(got->counts[i] == want->counts[i]);
	assert_true(got->total == want->total);
	assert_int_equal(got->has_sum, want->has_sum);
	assert_true(got->sum == want->sum);
}

static double quantile_of(const struct stats_hist *h, double q)
{
	double v = -1.0;

	assert_int_equal(stats_hist_quantile(h, q, &v), STATS_OK);
	return v;
}

static void test_hist_quantile_prometheus(void **state)
{
	struct stats_hist h;

	(void)state;
	assert_int_equal(
	    stats_hist_from_prometheus(&h, prom_positive, 4, NULL, NULL), 0);
	assert_int_equal(h.nbounds, 3);
	assert_true(h.counts[0] == 50 && h.counts[1] == 20 &&
		    h.counts[2] == 40 && h.counts[3] == 10 && h.total == 120);
	/* q 0: lowest bucket starts at 0. */
	assert_close(quantile_of(&h, 0.0), 0.0, TOL_EXACT);
	/* rank 24 of 50 in (0, 0.1]: 0.1 * 24/50 = 0.048. */
	assert_close(quantile_of(&h, 0.2), 0.048, TOL_EXACT);
	/* rank 60: 10 of 20 into (0.1, 0.2]: 0.15. */
	assert_close(quantile_of(&h, 0.5), 0.15, TOL_EXACT);
	/* rank 96: 26 of 40 into (0.2, 1]: 0.2 + 0.8 * 0.65 = 0.72. */
	assert_close(quantile_of(&h, 0.8), 0.72, TOL_EXACT);
	/* rank 110 ends (0.2, 1] exactly: its bound. */
	assert_close(quantile_of(&h, 110.0 / 120.0), 1.0, TOL_EXACT);
	/* rank 120 is in +Inf: the highest finite bound, 1. */
	assert_close(quantile_of(&h, 1.0), 1.0, TOL_EXACT);

	assert_int_equal(
	    stats_hist_from_prometheus(&h, prom_negative, 4, NULL, NULL), 0);
	/* Lowest bound -0.2 <= 0: a rank there (q 0: 0, q 0.2: 6) is -0.2. */
	assert_close(quantile_of(&h, 0.0), -0.2, TOL_EXACT);
	assert_close(quantile_of(&h, 0.2), -0.2, TOL_EXACT);
	/* rank 15: 5 of 10 into (-0.2, -0.1]: -0.15. */
	assert_close(quantile_of(&h, 0.5), -0.15, TOL_EXACT);
	/* rank 24 and 30 are beyond 0.3's 20: +Inf, so 0.3. */
	assert_close(quantile_of(&h, 0.8), 0.3, TOL_EXACT);
	assert_close(quantile_of(&h, 1.0), 0.3, TOL_EXACT);
}

static void test_hist_quantile_mid_bucket(void **state)
{
	/* histograms.test "testhistogram2": one value in each of 3 buckets. */
	static const struct stats_prom_bucket b[] = {
	    {0, 0}, {2, 1}, {4, 2}, {6, 3}, {HUGE_VAL, 3}};
	/*
	 * "testhistogram3" (positive): the lowest bucket (le 0) is empty, no
	 * +Inf observation; _sum 330, _count 110, so the mean is 3.
	 */
	static const struct stats_prom_bucket b3[] = {
	    {0, 0}, {0.1, 50}, {0.2, 70}, {1, 110}, {HUGE_VAL, 110}};
	/* Its "negative" half: q 0 is the lowest bound, -0.25. */
	static const struct stats_prom_bucket b3n[] = {
	    {-0.25, 0}, {-0.2, 10}, {-0.1, 20}, {0.3, 20}, {HUGE_VAL, 20}};
	struct stats_hist h;
	double sum = 330, mean;
	enum stats_mean_method method;

	(void)state;
	assert_int_equal(stats_hist_from_prometheus(&h, b, 5, NULL, NULL), 0);
	/* Ranks 0.5, 1.5, 2.5: the middle of (0,2], (2,4], (4,6]. */
	assert_close(quantile_of(&h, 1.0 / 6.0), 1.0, TOL_TIGHT);
	assert_close(quantile_of(&h, 0.5), 3.0, TOL_TIGHT);
	assert_close(quantile_of(&h, 5.0 / 6.0), 5.0, TOL_TIGHT);
	/* q 0 with an empty lowest bucket: the first non-empty one's start. */
	assert_close(quantile_of(&h, 0.0), 0.0, TOL_EXACT);

	assert_int_equal(stats_hist_from_prometheus(&h, b3, 5, NULL, &sum), 0);
	/* histograms.test: 0 0.055 0.125 0.45 1 at q 0 .25 .5 .75 1. */
	assert_close(quantile_of(&h, 0.0), 0.0, TOL_EXACT);
	assert_close(quantile_of(&h, 0.25), 0.055, TOL_EXACT);
	assert_close(quantile_of(&h, 0.5), 0.125, TOL_EXACT);
	assert_close(quantile_of(&h, 0.75), 0.45, TOL_EXACT);
	assert_close(quantile_of(&h, 1.0), 1.0, TOL_EXACT);
	/* histograms.test, histogram_avg: 330 / 110 = 3. */
	assert_int_equal(stats_hist_mean(&h, &mean, &method), STATS_OK);
	assert_close(mean, 3.0, TOL_EXACT);
	assert_int_equal(method, STATS_MEAN_EXACT);

	assert_int_equal(stats_hist_from_prometheus(&h, b3n, 5, NULL, NULL), 0);
	/* histograms.test: -0.25 -0.225 -0.2 -0.15 -0.1. */
	assert_close(quantile_of(&h, 0.0), -0.25, TOL_EXACT);
	assert_close(quantile_of(&h, 0.25), -0.225, TOL_EXACT);
	assert_close(quantile_of(&h, 0.5), -0.2, TOL_EXACT);
	assert_close(quantile_of(&h, 0.75), -0.15, TOL_EXACT);
	assert_close(quantile_of(&h, 1.0), -0.1, TOL_EXACT);
}

static void test_hist_quantile_edges(void **state)
{
	static const struct stats_prom_bucket none[] = {
	    {0.1, 0}, {0.5, 0}, {HUGE_VAL, 0}};
	static const struct stats_prom_bucket over[] = {
	    {0.1, 0}, {0.5, 0}, {HUGE_VAL, 7}};
	static const struct stats_prom_bucket only_inf[] = {{HUGE_VAL, 7}};
	struct stats_hist h;
	double v;

	(void)state;
	/* No observation in the window (Prometheus: NaN). */
	assert_int_equal(stats_hist_from_prometheus(&h, none, 3, NULL, NULL),
			 0);
	v = 42.0;
	assert_int_equal(stats_hist_quantile(&h, 0.5, &v), STATS_EMPTY);
	assert_true(v == 0.0);
	/* Everything above the top bound: the top bound, at every q. */
	assert_int_equal(stats_hist_from_prometheus(&h, over, 3, NULL, NULL),
			 0);
	assert_close(quantile_of(&h, 0.0), 0.5, TOL_EXACT);
	assert_close(quantile_of(&h, 0.5), 0.5, TOL_EXACT);
	assert_close(quantile_of(&h, 0.99), 0.5, TOL_EXACT);
	/* Only +Inf (Prometheus: NaN, fewer than 2 buckets). */
	assert_int_equal(
	    stats_hist_from_prometheus(&h, only_inf, 1, NULL, NULL), 0);
	assert_int_equal(stats_hist_quantile(&h, 0.5, &v),
			 STATS_NO_FINITE_BOUND);
	assert_true(v == 0.0);
	/* q outside [0, 1] (Prometheus: +-Inf) or NaN. */
	assert_int_equal(
	    stats_hist_from_prometheus(&h, prom_positive, 4, NULL, NULL), 0);
	assert_int_equal(stats_hist_quantile(&h, -0.1, &v), STATS_INVALID);
	assert_int_equal(stats_hist_quantile(&h, 1.01, &v), STATS_INVALID);
	assert_int_equal(stats_hist_quantile(&h, NAN, &v), STATS_INVALID);
	assert_int_equal(stats_hist_quantile(NULL, 0.5, &v), STATS_INVALID);
	assert_int_equal(stats_hist_quantile(&h, 0.5, NULL), STATS_INVALID);
}

static void test_hist_from_prometheus_validation(void **state)
{
	static const struct stats_prom_bucket no_inf[] = {
	    {0.1, 50}, {0.2, 70}, {1.0, 110}};
	static const struct stats_prom_bucket decreasing[] = {
	    {0.1, 50}, {0.2, 40}, {HUGE_VAL, 60}};
	static const struct stats_prom_bucket negative[] = {{0.1, -1},
							    {HUGE_VAL, 60}};
	static const struct stats_prom_bucket unsorted[] = {
	    {0.2, 10}, {0.1, 20}, {HUGE_VAL, 30}};
	static const struct stats_prom_bucket repeated[] = {
	    {0.1, 10}, {0.1, 20}, {HUGE_VAL, 30}};
	static const struct stats_prom_bucket inf_first[] = {{HUGE_VAL, 10},
							     {0.1, 10}};
	static const struct stats_prom_bucket nan_le[] = {{NAN, 10},
							  {HUGE_VAL, 10}};
	static const struct stats_prom_bucket nan_count[] = {{0.1, NAN},
							     {HUGE_VAL, 10}};
	struct stats_prom_bucket many[STATS_HIST_MAX_BOUNDS + 2];
	struct stats_hist h, before;
	double count = 120, low_count = 100, bad = NAN, sum = 39.5;
	size_t i;

	(void)state;
	/* Without +Inf, _count closes the histogram: same as with +Inf. */
	assert_int_equal(
	    stats_hist_from_prometheus(&h, no_inf, 3, &count, &sum), 0);
	assert_int_equal(h.nbounds, 3);
	assert_true(h.counts[3] == 10 && h.total == 120);
	assert_true(h.has_sum && h.sum == 39.5);
	assert_close(quantile_of(&h, 0.8), 0.72, TOL_EXACT);
	/* Without either, what lies above 1 s is unknown: refused. */
	assert_int_equal(stats_hist_from_prometheus(&h, no_inf, 3, NULL, NULL),
			 -EINVAL);
	assert_int_equal(
	    stats_hist_from_prometheus(&h, no_inf, 3, &low_count, NULL),
	    -EINVAL);
	assert_int_equal(stats_hist_from_prometheus(&h, no_inf, 3, &bad, NULL),
			 -EINVAL);
	/* The +Inf bucket wins over a disagreeing _count. */
	assert_int_equal(
	    stats_hist_from_prometheus(&h, prom_positive, 4, &low_count, NULL),
	    0);
	assert_true(h.total == 120 && !h.has_sum);

	/* Rejected, and the histogram left as it was. */
	before = h;
	assert_int_equal(
	    stats_hist_from_prometheus(&h, decreasing, 3, NULL, NULL), -EINVAL);
	assert_int_equal(
	    stats_hist_from_prometheus(&h, negative, 2, NULL, NULL), -EINVAL);
	assert_int_equal(
	    stats_hist_from_prometheus(&h, unsorted, 3, NULL, NULL), -EINVAL);
	assert_int_equal(
	    stats_hist_from_prometheus(&h, repeated, 3, NULL, NULL), -EINVAL);
	assert_int_equal(
	    stats_hist_from_prometheus(&h, inf_first, 2, NULL, NULL), -EINVAL);
	assert_int_equal(stats_hist_from_prometheus(&h, nan_le, 2, NULL, NULL),
			 -EINVAL);
	assert_int_equal(
	    stats_hist_from_prometheus(&h, nan_count, 2, NULL, NULL), -EINVAL);
	assert_int_equal(
	    stats_hist_from_prometheus(&h, prom_positive, 4, NULL, &bad),
	    -EINVAL);
	assert_int_equal(
	    stats_hist_from_prometheus(NULL, prom_positive, 4, NULL, NULL),
	    -EINVAL);
	assert_int_equal(stats_hist_from_prometheus(&h, NULL, 4, NULL, NULL),
			 -EINVAL);
	assert_hist_equal(&h, &before);

	/* The capacity: 128 finite bounds fit, 129 do not. */
	for (i = 0; i < ARRAY_LEN(many); i++) {
		many[i].le = (double)(i + 1) / 1000.0;
		many[i].cumulative = (double)i;
	}
	many[STATS_HIST_MAX_BOUNDS].le = HUGE_VAL;
	assert_int_equal(stats_hist_from_prometheus(
			     &h, many, STATS_HIST_MAX_BOUNDS + 1, NULL, NULL),
			 0);
	assert_int_equal(h.nbounds, STATS_HIST_MAX_BOUNDS);
	many[STATS_HIST_MAX_BOUNDS].le = (double)(STATS_HIST_MAX_BOUNDS + 1);
	assert_int_equal(stats_hist_from_prometheus(
			     &h, many, STATS_HIST_MAX_BOUNDS + 1, &count, NULL),
			 -E2BIG);

	/* Only _count: one +Inf bucket. */
	assert_int_equal(stats_hist_from_prometheus(&h, NULL, 0, &count, NULL),
			 0);
	assert_true(h.nbounds == 0 && h.total == 120 && h.counts[0] == 120);
	assert_int_equal(stats_hist_from_prometheus(&h, NULL, 0, NULL, NULL),
			 -EINVAL);
}

static void test_hist_mean(void **state)
{
	static const struct stats_prom_bucket finite_only[] = {
	    {0.1, 50}, {0.2, 70}, {1.0, 110}, {HUGE_VAL, 110}};
	static const struct stats_prom_bucket below_zero[] = {
	    {-1.0, 2}, {1.0, 4}, {HUGE_VAL, 4}};
	static const struct stats_prom_bucket empty[] = {{0.1, 0},
							 {HUGE_VAL, 0}};
	struct stats_hist h;
	double mean, sum = 12.0;
	enum stats_mean_method method;

	(void)state;
	/*
	 * No sum: midpoints 0.05 * 50 + 0.15 * 20 + 0.6 * 40 = 29.5 over 110
	 * observations = 0.268181818...
	 */
	assert_int_equal(
	    stats_hist_from_prometheus(&h, finite_only, 4, NULL, NULL), 0);
	assert_int_equal(stats_hist_mean(&h, &mean, &method), STATS_OK);
	assert_close(mean, 29.5 / 110.0, TOL_EXACT);
	assert_int_equal(method, STATS_MEAN_MIDPOINT);
	/*
	 * With 10 more in +Inf, counted at the top bound 1: (29.5 + 10) / 120
	 * = 0.3291666..., flagged as an underestimate.
	 */
	assert_int_equal(
	    stats_hist_from_prometheus(&h, prom_positive, 4, NULL, NULL), 0);
	assert_int_equal(stats_hist_mean(&h, &mean, &method), STATS_OK);
	assert_close(mean, 39.5 / 120.0, TOL_EXACT);
	assert_int_equal(method, STATS_MEAN_MIDPOINT_CLIPPED);
	/* With the sum: sum / count, 12 / 120. */
	assert_int_equal(
	    stats_hist_from_prometheus(&h, prom_positive, 4, NULL, &sum), 0);
	assert_int_equal(stats_hist_mean(&h, &mean, &method), STATS_OK);
	assert_close(mean, 0.1, TOL_EXACT);
	assert_int_equal(method, STATS_MEAN_EXACT);
	/* A first bound <= 0 stands for its bucket: (2 * -1 + 2 * 0) / 4. */
	assert_int_equal(
	    stats_hist_from_prometheus(&h, below_zero, 3, NULL, NULL), 0);
	assert_int_equal(stats_hist_mean(&h, &mean, &method), STATS_OK);
	assert_close(mean, -0.5, TOL_EXACT);
	/* Empty window: nothing to average, even with a sum of 0. */
	sum = 0.0;
	assert_int_equal(stats_hist_from_prometheus(&h, empty, 2, NULL, &sum),
			 0);
	mean = 42.0;
	assert_int_equal(stats_hist_mean(&h, &mean, &method), STATS_EMPTY);
	assert_true(mean == 0.0 && method == STATS_MEAN_NONE);
	/* Only +Inf and no sum: no estimate; with a sum, exact. */
	sum = 6.0;
	assert_int_equal(stats_hist_from_prometheus(&h, NULL, 0, &sum, NULL),
			 0);
	assert_int_equal(stats_hist_mean(&h, &mean, &method),
			 STATS_NO_FINITE_BOUND);
	assert_int_equal(stats_hist_from_prometheus(&h, NULL, 0, &sum, &sum),
			 0);
	assert_int_equal(stats_hist_mean(&h, &mean, &method), STATS_OK);
	assert_close(mean, 1.0, TOL_EXACT);
	assert_int_equal(stats_hist_mean(NULL, &mean, &method), STATS_INVALID);
}

static void test_hist_summary(void **state)
{
	static const double bounds[] = {0.1, 1.0};
	struct stats_hist_summary s;
	struct stats_hist h;
	double sum = 12.0;

	(void)state;
	assert_int_equal(
	    stats_hist_from_prometheus(&h, prom_positive, 4, NULL, &sum), 0);
	assert_int_equal(stats_hist_summarize(&h, &s), STATS_OK);
	assert_true(s.count == 120);
	/* p50 0.15 (above); p90: rank 108, 38 of 40 into (0.2, 1] = 0.96. */
	assert_close(s.p50, 0.15, TOL_EXACT);
	assert_close(s.p90, 0.96, TOL_EXACT);
	/* p99: rank 118.8 > 110, in +Inf: the top bound. */
	assert_close(s.p99, 1.0, TOL_EXACT);
	assert_int_equal(s.mean_status, STATS_OK);
	assert_int_equal(s.mean_method, STATS_MEAN_EXACT);
	assert_close(s.mean, 0.1, TOL_EXACT);

	/* Empty histogram: every field zero, both statuses say why. */
	assert_int_equal(stats_hist_init(&h, bounds, 2), 0);
	assert_int_equal(stats_hist_summarize(&h, &s), STATS_EMPTY);
	assert_int_equal(s.mean_status, STATS_EMPTY);
	assert_true(s.count == 0 && s.p50 == 0 && s.p90 == 0 && s.p99 == 0 &&
		    s.mean == 0);
	assert_int_equal(stats_hist_summarize(NULL, &s), STATS_INVALID);
}

static void test_hist_init_observe(void **state)
{
	static const double bounds[] = {0.1, 0.2, 0.5};
	static const double descending[] = {0.2, 0.1};
	static const double repeated[] = {0.1, 0.1};
	static const double infinite[] = {0.1, HUGE_VAL};
	struct stats_hist h;

	(void)state;
	assert_int_equal(stats_hist_init(&h, bounds, 3), 0);
	/* `le` is inclusive: 0.1 counts in the first bucket. */
	assert_int_equal(stats_hist_observe(&h, 0.1), 0);
	assert_int_equal(stats_hist_observe(&h, 0.15), 0);
	assert_int_equal(stats_hist_observe(&h, 0.5), 0);
	assert_int_equal(stats_hist_observe(&h, 7.0), 0);
	assert_int_equal(stats_hist_observe(&h, NAN), -EINVAL);
	assert_int_equal(stats_hist_observe(&h, HUGE_VAL), -EINVAL);
	assert_true(h.counts[0] == 1 && h.counts[1] == 1 && h.counts[2] == 1 &&
		    h.counts[3] == 1 && h.total == 4);
	assert_close(h.sum, 7.75, TOL_EXACT);
	/* Bounds must be finite and strictly ascending, at most 128. */
	assert_int_equal(stats_hist_init(&h, descending, 2), -EINVAL);
	assert_int_equal(stats_hist_init(&h, repeated, 2), -EINVAL);
	assert_int_equal(stats_hist_init(&h, infinite, 2), -EINVAL);
	assert_int_equal(stats_hist_init(&h, bounds, STATS_HIST_MAX_BOUNDS + 1),
			 -E2BIG);
	assert_int_equal(stats_hist_init(&h, NULL, 0), 0);
	assert_int_equal(h.nbounds, 0);
}

/* ---- Kernel histograms -------------------------------------------------- */

static void test_hist_from_kernel(void **state)
{
	struct kn_latency_hist k = {0};
	struct stats_hist h;
	enum stats_mean_method method;
	double mean;

	(void)state;
	/*
	 * Bucket 40 is [4 << 9, 5 << 9) = [2048, 2560) us, bucket 44 is
	 * [4 << 10, 5 << 10) = [4096, 5120) us; 10 each, sum 68000 us.
	 */
	k.buckets[40] = 10;
	k.buckets[44] = 10;
	k.count = 20;
	k.sum_us = 68000;
	assert_int_equal(stats_hist_from_kernel(&h, &k), 0);
	assert_int_equal(h.nbounds, KN_LATENCY_BUCKETS - 1);
	/* Bounds are where the next bucket starts: 1, 4, 8, 10 us... */
	assert_close(h.upper[0], 1e-6, TOL_EXACT);
	assert_close(h.upper[3], 4e-6, TOL_EXACT);
	assert_close(h.upper[7], 8e-6, TOL_EXACT);
	assert_close(h.upper[8], 10e-6, TOL_EXACT);
	/* ...up to bucket 95's start, 7 << 22 us = 29.360128 s. */
	assert_close(h.upper[KN_LATENCY_BUCKETS - 2], 29.360128, TOL_EXACT);
	assert_true(h.total == 20 && h.has_sum);

	/* rank 5 of 10 into [2048, 2560): 2304 us. */
	assert_close(quantile_of(&h, 0.25), 2304e-6, TOL_EXACT);
	/* rank 10 closes bucket 40: 2560 us. */
	assert_close(quantile_of(&h, 0.5), 2560e-6, TOL_EXACT);
	/* rank 18: 8 of 10 into [4096, 5120): 4096 + 1024 * 0.8 = 4915.2. */
	assert_close(quantile_of(&h, 0.9), 4915.2e-6, TOL_EXACT);
	/* 68000 us / 20 = 3400 us. */
	assert_int_equal(stats_hist_mean(&h, &mean, &method), STATS_OK);
	assert_close(mean, 3400e-6, TOL_EXACT);
	assert_int_equal(method, STATS_MEAN_EXACT);

	/* The kernel's last bucket is the +Inf bucket. */
	k.buckets[KN_LATENCY_BUCKETS - 1] = 20;
	assert_int_equal(stats_hist_from_kernel(&h, &k), 0);
	assert_true(h.counts[h.nbounds] == 20 && h.total == 40);
	assert_close(quantile_of(&h, 0.99), 29.360128, TOL_EXACT);

	/* An empty window. */
	memset(&k, 0, sizeof(k));
	assert_int_equal(stats_hist_from_kernel(&h, &k), 0);
	assert_int_equal(stats_hist_quantile(&h, 0.5, &mean), STATS_EMPTY);
	assert_int_equal(stats_hist_from_kernel(&h, NULL), -EINVAL);
}

/*
 * A latency of v whole microseconds is a time in [v, v + 1) truncated; its
 * middle, v + 0.5, must fall in the stats bucket of the kernel's bucket.
 */
static void test_hist_kernel_buckets_agree(void **state)
{
	static const __u64 us[] = {
	    0,	    1,	    2,	     3,	       4,	 5,
	    7,	    8,	    9,	     10,       11,	 15,
	    16,	    100,    1023,    1024,     1279,	 1280,
	    123456, 999999, 1000000, 29360127, 29360128, 1ULL << 40};
	struct kn_latency_hist k = {0};
	struct stats_hist kernel_h, observed;
	size_t i;

	(void)state;
	assert_int_equal(stats_hist_from_kernel(&kernel_h, &k), 0);
	assert_int_equal(
	    stats_hist_init(&observed, kernel_h.upper, kernel_h.nbounds), 0);
	for (i = 0; i < ARRAY_LEN(us); i++) {
		__u32 b = kn_latency_bucket(us[i]);

		memset(observed.counts, 0, sizeof(observed.counts));
		assert_int_equal(stats_hist_observe(
				     &observed, (us[i] + 0.5) / US_PER_SECOND),
				 0);
		assert_true(observed.counts[b] == 1.0);
		/* And the bucket's edges are the kernel's. */
		if (b > 0)
			assert_close(kernel_h.upper[b - 1] * US_PER_SECOND,
				     (double)kn_latency_bucket_low_us(b), 1e-6);
	}
}

/* ---- Re-binning --------------------------------------------------------- */

static void test_hist_rebin_common(void **state)
{
	static const double bounds_a[] = {0.1, 0.2, 0.5, 1.0};
	/* 0.1 written another way, off by a few ulps: the same bound. */
	static const double bounds_b[] = {0.1 * (1 + 1e-12), 0.25, 0.5, 1.0,
					  2.0};
	static const double bounds_c[] = {0.3, 3.0};
	static const double counts_a[] = {1, 2, 3, 4, 5};
	static const double counts_b[] = {1, 1, 1, 1, 1, 1};
	struct stats_hist a, b, ra, rb, c;
	int common;

	(void)state;
	assert_int_equal(stats_hist_init(&a, bounds_a, 4), 0);
	assert_int_equal(stats_hist_init(&b, bounds_b, 5), 0);
	/* a: 1 2 3 4 | 5 over (..0.1] (..0.2] (..0.5] (..1] | +Inf. */
	memcpy(a.counts, counts_a, sizeof(counts_a));
	a.total = 15;
	a.sum = 20;
	/* b: 1 in each of its 5 buckets and +Inf. */
	memcpy(b.counts, counts_b, sizeof(counts_b));
	b.total = 6;

	/*
	 * Common bounds 0.1, 0.5, 1. a: (0.1, 0.5] = 2 + 3 = 5, the rest
	 * unchanged: 1 5 4 | 5. b: (0.1, 0.5] = 1 + 1, (1, 2] joins +Inf:
	 * 1 2 1 | 2.
	 */
	common = stats_hist_rebin_common(&a, &b, &ra, &rb);
	assert_int_equal(common, 3);
	assert_int_equal(ra.nbounds, 3);
	assert_true(ra.upper[0] == 0.1 && ra.upper[1] == 0.5 &&
		    ra.upper[2] == 1.0);
	assert_true(ra.counts[0] == 1 && ra.counts[1] == 5 &&
		    ra.counts[2] == 4 && ra.counts[3] == 5 && ra.total == 15);
	assert_true(rb.counts[0] == 1 && rb.counts[1] == 2 &&
		    rb.counts[2] == 1 && rb.counts[3] == 2 && rb.total == 6);
	assert_true(ra.has_sum && ra.sum == 20);
	assert_true(stats_hist_same_bounds(&ra, &rb));
	assert_false(stats_hist_same_bounds(&a, &b));

	/* In place gives the same. */
	assert_int_equal(stats_hist_rebin_common(&a, &b, &a, &b), 3);
	assert_hist_equal(&a, &ra);
	assert_hist_equal(&b, &rb);
	/* Already common: unchanged. */
	assert_int_equal(stats_hist_rebin_common(&ra, &rb, &a, &b), 3);
	assert_hist_equal(&a, &ra);

	/* Nothing shared: one +Inf bucket each, totals kept. */
	assert_int_equal(stats_hist_init(&c, bounds_c, 2), 0);
	c.counts[0] = 3;
	c.total = 3;
	assert_int_equal(stats_hist_rebin_common(&ra, &c, &a, &b), 0);
	assert_true(a.nbounds == 0 && a.counts[0] == 15 && b.counts[0] == 3);

	assert_int_equal(stats_hist_rebin_common(&ra, &c, &a, &a), -EINVAL);
	assert_int_equal(stats_hist_rebin_common(NULL, &c, &a, &b), -EINVAL);
	c.counts[1] = -1;
	assert_int_equal(stats_hist_rebin_common(&ra, &c, &a, &b), -EINVAL);
}

/* ---- Mann-Whitney U ----------------------------------------------------- */

static void test_mwu_hand_ties(void **state)
{
	static const double canary[] = {1, 2, 3};
	static const double stable[] = {3, 2, 1};
	struct stats_mwu r;

	(void)state;
	/*
	 * 12 values in 3 bins of 4 tied values each: mid-ranks 2.5, 6.5,
	 * 10.5. R_c = 1 * 2.5 + 2 * 6.5 + 3 * 10.5 = 47,
	 * U_c = 47 - 6 * 7 / 2 = 26 (pairwise: 1 * 1.5 + 2 * (3 + 1) +
	 * 3 * (5 + 0.5) = 26). Var = 6 * 6 / 12 * (13 - 3 * (64 - 4) /
	 * (12 * 11)) = 384/11, sd 5.9083916; z = (26 - 18 - 0.5) / sd =
	 * 1.2693810; p = Q(z) = 0.1021526; effect 26/36.
	 */
	assert_int_equal(stats_mwu_binned(canary, stable, 3, &r), STATS_OK);
	assert_true(r.n_canary == 6 && r.n_stable == 6);
	assert_close(r.rank_sum_canary, 47.0, TOL_EXACT);
	assert_close(r.u, 26.0, TOL_EXACT);
	assert_close(r.sd_u, sqrt(384.0 / 11.0), TOL_TIGHT);
	assert_close(r.z, 7.5 / sqrt(384.0 / 11.0), TOL_TIGHT);
	assert_close(r.z, 1.2693810, 1e-7);
	assert_close(r.p_value, 0.1021526, 1e-7);
	assert_close(r.prob_superiority, 26.0 / 36.0, TOL_EXACT);
	assert_false(stats_significant(r.status, r.p_value, 0.95));

	/* Swapped groups: U' = 36 - 26 = 10. */
	assert_int_equal(stats_mwu_binned(stable, canary, 3, &r), STATS_OK);
	assert_close(r.u, 10.0, TOL_EXACT);
	assert_close(r.z, -8.5 / sqrt(384.0 / 11.0), TOL_TIGHT);
}

static void test_mwu_hand_no_ties(void **state)
{
	/* One value per bin: stable, canary, stable, canary. */
	static const double canary[] = {0, 1, 0, 1};
	static const double stable[] = {1, 0, 1, 0};
	struct stats_mwu r;

	(void)state;
	/*
	 * Canary ranks 2 and 4: R = 6, U = 6 - 3 = 3; Var = 2 * 2 * 5 / 12 =
	 * 5/3 (no ties); z = (3 - 2 - 0.5) / sqrt(5/3) = 0.3872983;
	 * p = Q(0.3872983) = 0.3492677.
	 */
	assert_int_equal(stats_mwu_binned(canary, stable, 4, &r), STATS_OK);
	assert_close(r.rank_sum_canary, 6.0, TOL_EXACT);
	assert_close(r.u, 3.0, TOL_EXACT);
	assert_close(r.sd_u * r.sd_u, 5.0 / 3.0, TOL_TIGHT);
	assert_close(r.z, 0.3872983, 1e-7);
	assert_close(r.p_value, 0.3492677, 1e-7);
	assert_close(r.prob_superiority, 0.75, TOL_EXACT);
}

static void test_mwu_shift_and_identity(void **state)
{
	static const double slow[] = {0, 10, 50, 40};
	static const double fast[] = {40, 50, 10, 0};
	static const double same[] = {10, 20, 30};
	struct stats_mwu r;

	(void)state;
	/*
	 * Canary shifted up by about a bin. Stable below each bin: 0 40 90
	 * 100, so U = 10 * (40 + 25) + 50 * (90 + 5) + 40 * 100 = 9400 of
	 * 10000 pairs. Bins hold t = 40 60 60 40 of N = 200:
	 * sum t (N - t)(N + t) = 2 * 40 * 160 * 240 + 2 * 60 * 140 * 260 =
	 * 7440000, Var = 10000 / (12 * 200 * 199) * 7440000 = 155778.89,
	 * sd 394.688; z = (9400 - 5000 - 0.5) / 394.688 = 11.1468, p ~ 4e-29.
	 */
	assert_int_equal(stats_mwu_binned(slow, fast, 4, &r), STATS_OK);
	assert_close(r.u, 9400.0, TOL_EXACT);
	assert_close(r.prob_superiority, 0.94, TOL_EXACT);
	assert_close(r.sd_u * r.sd_u, 10000.0 * 7440000.0 / (12.0 * 200 * 199),
		     1e-9);
	assert_close(r.z, 11.1468, 1e-4);
	assert_true(r.p_value > 0.0 && r.p_value < 1e-28);
	assert_true(stats_significant(r.status, r.p_value, 0.99));
	/* Faster canary: U = 600, z = -11.15; the one-sided test sees nothing.
	 */
	assert_int_equal(stats_mwu_binned(fast, slow, 4, &r), STATS_OK);
	assert_close(r.u, 600.0, TOL_EXACT);
	assert_close(r.prob_superiority, 0.06, TOL_EXACT);
	assert_true(r.p_value > 0.999);
	assert_false(stats_significant(r.status, r.p_value, 0.95));

	/* Identical distributions: U exactly n_c n_s / 2, p above 1/2. */
	assert_int_equal(stats_mwu_binned(same, same, 3, &r), STATS_OK);
	assert_true(r.u == 1800.0);
	assert_true(r.prob_superiority == 0.5);
	assert_true(r.z < 0.0 && r.p_value > 0.5);
	assert_false(stats_significant(r.status, r.p_value, 0.95));
}

static void test_mwu_degenerate(void **state)
{
	static const double one_bin_c[] = {0, 5, 0};
	static const double one_bin_s[] = {0, 7, 0};
	static const double zeros[] = {0, 0, 0};
	static const double some[] = {1, 2, 3};
	static const double negative[] = {1, -2, 3};
	static const double not_a_number[] = {1, NAN, 3};
	struct stats_mwu r;

	(void)state;
	/* All 12 values tied: U = 35 / 2 but zero variance. */
	assert_int_equal(stats_mwu_binned(one_bin_c, one_bin_s, 3, &r),
			 STATS_NO_VARIANCE);
	assert_close(r.u, 17.5, TOL_EXACT);
	assert_true(r.prob_superiority == 0.5);
	assert_true(r.z == 0.0 && r.p_value == 1.0 && r.sd_u == 0.0);
	assert_false(stats_significant(r.status, r.p_value, 0.5));
	/* An empty group. */
	assert_int_equal(stats_mwu_binned(zeros, some, 3, &r), STATS_EMPTY);
	assert_true(r.n_canary == 0 && r.n_stable == 6);
	assert_true(r.u == 0.0 && r.p_value == 1.0 &&
		    r.prob_superiority == 0.5);
	assert_int_equal(stats_mwu_binned(some, zeros, 3, &r), STATS_EMPTY);
	assert_int_equal(stats_mwu_binned(NULL, NULL, 0, &r), STATS_EMPTY);
	/* Invalid counts. */
	assert_int_equal(stats_mwu_binned(negative, some, 3, &r),
			 STATS_INVALID);
	assert_true(r.p_value == 1.0);
	assert_int_equal(stats_mwu_binned(some, not_a_number, 3, &r),
			 STATS_INVALID);
	assert_int_equal(stats_mwu_binned(NULL, some, 3, &r), STATS_INVALID);
	assert_int_equal(stats_mwu_binned(some, some, 3, NULL), STATS_INVALID);
}

static void test_mwu_hist(void **state)
{
	static const double bounds[] = {0.1, 0.2};
	static const double other[] = {0.1, 0.3};
	static const double counts_c[] = {1, 2, 3};
	static const double counts_s[] = {3, 2, 1};
	struct stats_hist c, s, t;
	struct stats_mwu r;

	(void)state;
	/* The hand example above, with +Inf as the third bin. */
	assert_int_equal(stats_hist_init(&c, bounds, 2), 0);
	assert_int_equal(stats_hist_init(&s, bounds, 2), 0);
	memcpy(c.counts, counts_c, sizeof(counts_c));
	memcpy(s.counts, counts_s, sizeof(counts_s));
	c.total = s.total = 6;
	assert_int_equal(stats_mwu_hist(&c, &s, &r), STATS_OK);
	assert_close(r.u, 26.0, TOL_EXACT);
	assert_close(r.p_value, 0.1021526, 1e-7);
	/* Different bins cannot be compared: re-bin first. */
	assert_int_equal(stats_hist_init(&t, other, 2), 0);
	t.counts[0] = 1;
	t.total = 1;
	assert_int_equal(stats_mwu_hist(&c, &t, &r), STATS_INVALID);
	assert_true(r.p_value == 1.0);
	assert_int_equal(stats_mwu_hist(&c, NULL, &r), STATS_INVALID);
}

/* ---- Label distributions ------------------------------------------------ */

static void test_chi2_homogeneity_worked(void **state)
{
	static const double canary[] = {10, 20, 30};
	static const double stable[] = {20, 20, 20};
	static const double canary_gap[] = {10, 0, 20, 30};
	static const double stable_gap[] = {20, 0, 20, 20};
	static const double c2[] = {10, 20};
	static const double s2[] = {20, 10};
	struct stats_chi2_homog r;

	(void)state;
	/*
	 * Rows 60 and 60, columns 30 40 50, N 120: expected 15 20 25 in each
	 * row. X^2 = 2 * (25/15 + 0 + 25/25) = 16/3 = 5.3333; df 2;
	 * p = e^(-X^2 / 2) = e^(-8/3) = 0.0694835 (df 2 closed form; table:
	 * between 0.10 at 4.605 and 0.05 at 5.991).
	 */
	assert_int_equal(stats_chi2_homogeneity(canary, stable, 3, &r),
			 STATS_OK);
	assert_close(r.statistic, 16.0 / 3.0, TOL_TIGHT);
	assert_int_equal(r.df, 2);
	assert_close(r.p_value, 0.0694834512228015, TOL_TIGHT);
	assert_int_equal(r.columns_used, 3);
	assert_int_equal(r.cells_below_5, 0);
	assert_close(r.min_expected, 15.0, TOL_TIGHT);
	assert_false(r.low_expected);
	assert_false(stats_significant(r.status, r.p_value, 0.95));
	assert_true(stats_significant(r.status, r.p_value, 0.90));

	/* A label neither pool produced is dropped: same result. */
	assert_int_equal(stats_chi2_homogeneity(canary_gap, stable_gap, 4, &r),
			 STATS_OK);
	assert_close(r.statistic, 16.0 / 3.0, TOL_TIGHT);
	assert_int_equal(r.df, 2);
	assert_int_equal(r.columns_used, 3);

	/*
	 * 2 x 2: expected 15 everywhere, X^2 = 4 * 25 / 15 = 20/3; df 1,
	 * p = erfc(sqrt(10/3)) = 0.0098233 (table: just under 0.01 at 6.635).
	 */
	assert_int_equal(stats_chi2_homogeneity(c2, s2, 2, &r), STATS_OK);
	assert_close(r.statistic, 20.0 / 3.0, TOL_TIGHT);
	assert_int_equal(r.df, 1);
	assert_close(r.p_value, 0.0098232745075192, TOL_TIGHT);
	assert_true(stats_significant(r.status, r.p_value, 0.99));
}

static void test_chi2_homogeneity_edges(void **state)
{
	static const double canary_low[] = {1, 2, 50};
	static const double stable_low[] = {2, 1, 60};
	static const double one_label_c[] = {0, 9, 0};
	static const double one_label_s[] = {0, 4, 0};
	static const double zeros[] = {0, 0, 0};
	static const double some[] = {1, 2, 3};
	static const double negative[] = {1, -2, 3};
	struct stats_chi2_homog r;

	(void)state;
	/*
	 * Columns 3 3 110 of N 116, rows 53 and 63: expected 1.371 1.371
	 * 50.26 and 1.629 1.629 59.74. 4 of 6 cells below 5 (67 % > 20 %).
	 */
	assert_int_equal(stats_chi2_homogeneity(canary_low, stable_low, 3, &r),
			 STATS_OK);
	assert_int_equal(r.cells_below_5, 4);
	assert_true(r.low_expected);
	assert_close(r.min_expected, 53.0 * 3.0 / 116.0, TOL_TIGHT);

	/* One label only: both pools agree, nothing to test. */
	assert_int_equal(
	    stats_chi2_homogeneity(one_label_c, one_label_s, 3, &r),
	    STATS_NO_VARIANCE);
	assert_true(r.statistic == 0.0 && r.df == 0 && r.p_value == 1.0);
	assert_int_equal(r.columns_used, 1);
	/* An empty pool, or no labels at all. */
	assert_int_equal(stats_chi2_homogeneity(zeros, some, 3, &r),
			 STATS_EMPTY);
	assert_true(r.p_value == 1.0);
	assert_int_equal(stats_chi2_homogeneity(some, zeros, 3, &r),
			 STATS_EMPTY);
	assert_int_equal(stats_chi2_homogeneity(NULL, NULL, 0, &r),
			 STATS_EMPTY);
	/* Invalid. */
	assert_int_equal(stats_chi2_homogeneity(negative, some, 3, &r),
			 STATS_INVALID);
	assert_true(r.p_value == 1.0);
	assert_int_equal(stats_chi2_homogeneity(NULL, some, 3, &r),
			 STATS_INVALID);
	assert_int_equal(stats_chi2_homogeneity(some, some, 3, NULL),
			 STATS_INVALID);
}

static void test_jsd(void **state)
{
	static const double a[] = {1, 2, 3};
	static const double a_twice[] = {2, 4, 6};
	static const double left[] = {5, 0, 0};
	static const double right[] = {0, 3, 7};
	static const double half[] = {1, 1};
	static const double half_scaled[] = {10, 10};
	static const double first[] = {1, 0};
	static const double first_scaled[] = {7, 0};
	static const double zeros[] = {0, 0, 0};
	static const double negative[] = {1, -2, 3};
	/*
	 * P = (1/2, 1/2), Q = (1, 0), M = (3/4, 1/4):
	 * KL(P||M) = 1/2 log2(2/3) + 1/2 log2 2 = 1 - 1/2 log2 3,
	 * KL(Q||M) = log2(4/3) = 2 - log2 3,
	 * JSD = (3 - 3/2 log2 3) / 2 = 1.5 - 0.75 log2 3 = 0.3112781244591.
	 */
	const double hand = 1.5 - 0.75 * log2(3.0);
	double jsd;

	(void)state;
	assert_close(hand, 0.3112781244591, 1e-12);
	assert_int_equal(stats_jsd_bits(half, first, 2, &jsd), STATS_OK);
	assert_close(jsd, hand, TOL_EXACT);
	/* Only proportions matter. */
	assert_int_equal(stats_jsd_bits(half_scaled, first_scaled, 2, &jsd),
			 STATS_OK);
	assert_close(jsd, hand, TOL_EXACT);
	/* Symmetric. */
	assert_int_equal(stats_jsd_bits(first, half, 2, &jsd), STATS_OK);
	assert_close(jsd, hand, TOL_EXACT);

	/* Identical, and proportional, give exactly 0. */
	assert_int_equal(stats_jsd_bits(a, a, 3, &jsd), STATS_OK);
	assert_true(jsd == 0.0);
	assert_int_equal(stats_jsd_bits(a, a_twice, 3, &jsd), STATS_OK);
	assert_true(jsd == 0.0);
	/* Disjoint gives exactly 1 bit. */
	assert_int_equal(stats_jsd_bits(left, right, 3, &jsd), STATS_OK);
	assert_true(jsd == 1.0);

	/* Empty pool; invalid counts. */
	jsd = 42.0;
	assert_int_equal(stats_jsd_bits(zeros, a, 3, &jsd), STATS_EMPTY);
	assert_true(jsd == 0.0);
	assert_int_equal(stats_jsd_bits(NULL, NULL, 0, &jsd), STATS_EMPTY);
	assert_int_equal(stats_jsd_bits(negative, a, 3, &jsd), STATS_INVALID);
	assert_int_equal(stats_jsd_bits(a, a, 3, NULL), STATS_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_normal_cdf_table),
	    cmocka_unit_test(test_normal_quantile_table),
	    cmocka_unit_test(test_normal_quantile_round_trip),
	    cmocka_unit_test(test_chi2_sf_table),
	    cmocka_unit_test(test_chi2_sf_closed_forms),
	    cmocka_unit_test(test_chi2_sf_large_df),
	    cmocka_unit_test(test_chi2_sf_domain),
	    cmocka_unit_test(test_two_prop_textbook),
	    cmocka_unit_test(test_two_prop_degenerate),
	    cmocka_unit_test(test_significance_helper),
	    cmocka_unit_test(test_hist_quantile_prometheus),
	    cmocka_unit_test(test_hist_quantile_mid_bucket),
	    cmocka_unit_test(test_hist_quantile_edges),
	    cmocka_unit_test(test_hist_from_prometheus_validation),
	    cmocka_unit_test(test_hist_mean),
	    cmocka_unit_test(test_hist_summary),
	    cmocka_unit_test(test_hist_init_observe),
	    cmocka_unit_test(test_hist_from_kernel),
	    cmocka_unit_test(test_hist_kernel_buckets_agree),
	    cmocka_unit_test(test_hist_rebin_common),
	    cmocka_unit_test(test_mwu_hand_ties),
	    cmocka_unit_test(test_mwu_hand_no_ties),
	    cmocka_unit_test(test_mwu_shift_and_identity),
	    cmocka_unit_test(test_mwu_degenerate),
	    cmocka_unit_test(test_mwu_hist),
	    cmocka_unit_test(test_chi2_homogeneity_worked),
	    cmocka_unit_test(test_chi2_homogeneity_edges),
	    cmocka_unit_test(test_jsd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
