/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * test_metric_presets.c - each model server's preset against a page shaped
 * like that server's (tests/fixtures/metrics/<server>.txt), the histogram
 * and counter arithmetic, windows across restarts and layout changes,
 * selector syntax, and service specs from JSON.
 */
#include "unit.h"

#include <errno.h>
#include <math.h>

#include "metrics/metric_presets.h"

#define WHY_BYTES 256
/* Sums of float counters may differ from the decimal in the last bits */
#define FLOAT_TOLERANCE 1e-9

/* ---- helpers ------------------------------------------------------------ */

static struct prom_page *page_from(const char *text)
{
	struct prom_page *page = NULL;
	struct prom_error err;
	int rc = prom_parse(text, strlen(text), &page, &err);

	if (rc)
		fail_msg("test page does not parse: %u:%u %s", err.line,
			 err.column, err.message);
	return page;
}

static struct prom_page *page_at(const char *path)
{
	struct prom_page *page;
	char *text;
	size_t len = 0;
	struct prom_error err;
	int rc;

	text = unit_read_file(path, &len);
	if (!text)
		fail_msg("cannot read %s", path);
	rc = prom_parse(text, len, &page, &err);
	if (rc)
		fail_msg("%s does not parse: %u:%u %s", path, err.line,
			 err.column, err.message);
	free(text);
	return page;
}

/* The page written for a preset's tests (tests/fixtures/metrics/). */
static struct prom_page *fixture_page(const char *server)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/metrics/%s.txt", UNIT_FIXTURES_DIR,
		 server);
	return page_at(path);
}

/* A page captured from a real server (tests/fixtures/captured/). */
static struct prom_page *captured_page(const char *file)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", UNIT_CAPTURED_DIR, file);
	return page_at(path);
}

static struct metric_spec preset(const char *name)
{
	struct metric_spec spec;

	if (metric_spec_preset(name, &spec))
		fail_msg("no preset %s", name);
	return spec;
}

static void extract_ok(const struct prom_page *page,
		       const struct metric_spec *spec,
		       struct metrics_sample *out)
{
	char why[WHY_BYTES];
	int rc = metrics_extract(page, spec, out, why, sizeof(why));

	if (rc)
		fail_msg("extraction failed (%d): %s", rc, why);
	assert_string_equal(why, "");
}

static void extract_preset(const char *name, struct metrics_sample *out)
{
	struct metric_spec spec = preset(name);
	struct prom_page *page = fixture_page(name);

	extract_ok(page, &spec, out);
	prom_page_free(page);
}

static void extract_text(const char *text, const struct metric_spec *spec,
			 struct metrics_sample *out)
{
	struct prom_page *page = page_from(text);

	extract_ok(page, spec, out);
	prom_page_free(page);
}

static void expect_extract_error(const char *text,
				 const struct metric_spec *spec, int rc,
				 const char *why_expected)
{
	struct prom_page *page = page_from(text);
	struct metrics_sample sample;
	char why[WHY_BYTES];
	int got = metrics_extract(page, spec, &sample, why, sizeof(why));

	if (got != rc || strcmp(why, why_expected) != 0)
		fail_msg("got %d \"%s\", expected %d \"%s\"", got, why, rc,
			 why_expected);
	prom_page_free(page);
}

static void assert_bucket(const struct metrics_histogram *h, unsigned i,
			  double upper_bound, double count)
{
	if (i >= h->bucket_count)
		fail_msg("no bucket %u (%u buckets)", i, h->bucket_count);
	if (fabs(h->upper_bound_seconds[i] - upper_bound) >
		FLOAT_TOLERANCE * fabs(upper_bound) ||
	    h->cumulative_count[i] != count)
		fail_msg("bucket %u is le=%.17g count=%.17g, expected "
			 "le=%.17g count=%.17g",
			 i, h->upper_bound_seconds[i], h->cumulative_count[i],
			 upper_bound, count);
}

static void assert_inf_bucket(const struct metrics_histogram *h, double count)
{
	assert_true(h->bucket_count > 0);
	assert_true(isinf(h->upper_bound_seconds[h->bucket_count - 1]));
	assert_float_equal(h->cumulative_count[h->bucket_count - 1], count, 0);
}

static struct metric_spec spec_from_json_text(const char *json_text)
{
	struct metric_spec spec;
	json_error_t json_err;
	json_t *obj = json_loads(json_text, 0, &json_err);
	char err[WHY_BYTES];

	if (!obj)
		fail_msg("bad test JSON: %s", json_err.text);
	if (metric_spec_from_json(obj, &spec, err, sizeof(err)))
		fail_msg("spec refused: %s", err);
	json_decref(obj);
	return spec;
}

static void expect_json_error(const char *json_text, int rc,
			      const char *message)
{
	struct metric_spec spec;
	json_error_t json_err;
	json_t *obj = json_loads(json_text, JSON_DECODE_ANY, &json_err);
	char err[WHY_BYTES] = "";
	int got;

	if (!obj)
		fail_msg("bad test JSON: %s", json_err.text);
	got = metric_spec_from_json(obj, &spec, err, sizeof(err));
	if (got != rc || strcmp(err, message) != 0)
		fail_msg("%s: got %d \"%s\", expected %d \"%s\"", json_text,
			 got, err, rc, message);
	json_decref(obj);
}

/* ---- each preset against its server's page ------------------------------ */

/* An expected value, or none: the field is then not checked. */
struct maybe {
	bool set;
	double value;
};
#define SOME(v)                                                                \
	{                                                                      \
		true, (v)                                                      \
	}

static struct maybe some(double value)
{
	return (struct maybe){true, value};
}

/* Bucket index of a histogram: its upper bound and cumulative count. */
struct bucket_expect {
	unsigned index;
	double upper_bound;
	double count;
};

#define BUCKET_CHECKS_MAX 4
/* BUCKETS({index, bound, count}, ...): the buckets a histogram must have. */
#define BUCKETS(...)                                                           \
	.buckets = {__VA_ARGS__},                                              \
	.bucket_checks = sizeof((struct bucket_expect[]){__VA_ARGS__}) /       \
			 sizeof(struct bucket_expect)

/* What a histogram must hold; fields left out are not checked. */
struct histogram_expect {
	struct maybe bucket_count;
	struct bucket_expect buckets[BUCKET_CHECKS_MAX];
	unsigned bucket_checks;
	struct maybe inf_count; /* the count of the last (+Inf) bucket */
	struct maybe sum_seconds;
	double sum_tolerance;
	struct maybe count;
};

struct class_expect {
	const char *label;
	double count;
};

/* What one preset must read off its server's page. */
struct preset_expect {
	const char *preset;
	uint32_t flags;
	double requests;
	struct maybe request_series;
	double errors;
	struct maybe error_series;
	struct histogram_expect latency;
	struct histogram_expect ttft;
	struct histogram_expect itl;
	const struct class_expect *classes; /* NULL: predictions unchecked */
	unsigned class_count;
	double other_count;
};

/* field of what (a histogram, or the sample) of preset's page */
static void expect_field(const char *preset, const char *what,
			 const char *field, double got, struct maybe want,
			 double tolerance)
{
	if (want.set && !(fabs(got - want.value) <= tolerance))
		fail_msg("%s: %s %s is %.17g, expected %.17g", preset, what,
			 field, got, want.value);
}

static void expect_histogram(const char *preset, const char *what,
			     const struct metrics_histogram *h,
			     const struct histogram_expect *e)
{
	unsigned i;

	expect_field(preset, what, "bucket_count", h->bucket_count,
		     e->bucket_count, 0);
	for (i = 0; i < e->bucket_checks; i++)
		assert_bucket(h, e->buckets[i].index, e->buckets[i].upper_bound,
			      e->buckets[i].count);
	if (e->inf_count.set)
		assert_inf_bucket(h, e->inf_count.value);
	expect_field(preset, what, "sum_seconds", h->sum_seconds,
		     e->sum_seconds, e->sum_tolerance);
	expect_field(preset, what, "count", h->count, e->count, 0);
}

static void test_preset(void **state)
{
	const struct preset_expect *e = *state;
	struct metrics_sample s;
	unsigned i;

	extract_preset(e->preset, &s);
	assert_int_equal(s.flags, e->flags);
	expect_field(e->preset, "sample", "requests", s.requests,
		     some(e->requests), 0);
	expect_field(e->preset, "sample", "request_series", s.request_series,
		     e->request_series, 0);
	expect_field(e->preset, "sample", "errors", s.errors, some(e->errors),
		     0);
	expect_field(e->preset, "sample", "error_series", s.error_series,
		     e->error_series, 0);
	expect_histogram(e->preset, "latency", &s.latency, &e->latency);
	expect_histogram(e->preset, "ttft", &s.ttft, &e->ttft);
	expect_histogram(e->preset, "itl", &s.itl, &e->itl);
	if (!e->classes)
		return;
	assert_int_equal(s.predictions.class_count, e->class_count);
	for (i = 0; i < e->class_count; i++) {
		assert_string_equal(s.predictions.classes[i].label,
				    e->classes[i].label);
		assert_float_equal(s.predictions.classes[i].count,
				   e->classes[i].count, 0);
	}
	assert_float_equal(s.predictions.other_count, e->other_count, 0);
}

/* Classes sorted by label */
static const struct class_expect kanary_modelserver_classes[] = {
    {"bird", 20},
    {"cat", 610},
    {"dog", 350},
};

static const struct preset_expect preset_vllm = {
    .preset = "vllm",
    .flags = METRICS_HAVE_REQUESTS | METRICS_HAVE_ERRORS |
	     METRICS_HAVE_LATENCY_HISTOGRAM | METRICS_HAVE_LATENCY_MEAN |
	     METRICS_HAVE_TTFT,
    /* stop 1180 + length 240 + abort 12 + error 3 */
    .requests = 1435,
    .request_series = SOME(4),
    /* abort 12 + error 3 from the engine, 2 HTTP 5xx */
    .errors = 17,
    .error_series = SOME(3),
    /* The V1 e2e layout: 21 bounds and +Inf, le printed as "0.3" */
    .latency = {.bucket_count = SOME(22),
		BUCKETS({0, 0.3, 12}, {3, 1.0, 410}, {7, 5.0, 1370},
			{20, 7680.0, 1435}),
		.inf_count = SOME(1435),
		.sum_seconds = SOME(2010.5625),
		.count = SOME(1435)},
    /* TTFT in the V1 layout: 22 bounds from 1 ms to 2560 s, and +Inf */
    .ttft = {.bucket_count = SOME(23),
	     BUCKETS({0, 0.001, 0}, {7, 0.1, 1101}, {21, 2560.0, 1420}),
	     .inf_count = SOME(1420),
	     .sum_seconds = SOME(98.40625),
	     .count = SOME(1420)},
    /* This page has no inter-token histogram under either name */
    .itl = {.bucket_count = SOME(0)},
};

static const struct preset_expect preset_triton = {
    .preset = "triton",
    .flags =
	METRICS_HAVE_REQUESTS | METRICS_HAVE_ERRORS | METRICS_HAVE_LATENCY_MEAN,
    /* successes 3840 + 1260, failures 22 of every reason */
    .requests = 5122,
    .request_series = SOME(10),
    /* failures but CANCELED: 2 + 5 + 1 + 0 + 3 + 4 */
    .errors = 15,
    .error_series = SOME(6),
    /* (19200000 + 15120000) us over the successes */
    .latency = {.bucket_count = SOME(0),
		.sum_seconds = SOME(34.32),
		.sum_tolerance = FLOAT_TOLERANCE,
		.count = SOME(5100)},
};

static const struct preset_expect preset_tgi = {
    .preset = "tgi",
    .flags = METRICS_HAVE_REQUESTS | METRICS_HAVE_ERRORS |
	     METRICS_HAVE_LATENCY_HISTOGRAM | METRICS_HAVE_LATENCY_MEAN,
    .requests = 2000,
    /* validation 21 + overloaded 9 + generation 6 + dropped 2 */
    .errors = 38,
    .error_series = SOME(4),
    /* 30 exponential bounds printed in full, then +Inf */
    .latency = {.bucket_count = SOME(31),
		BUCKETS({2, 0.0022500000000000003, 0},
			{10, 0.057665039062500006, 11},
			{21, 4.987885095119475, 1960}),
		.inf_count = SOME(1962),
		.sum_seconds = SOME(3120.25),
		.count = SOME(1962)},
};

static const struct preset_expect preset_torchserve = {
    .preset = "torchserve",
    .flags =
	METRICS_HAVE_REQUESTS | METRICS_HAVE_ERRORS | METRICS_HAVE_LATENCY_MEAN,
    /* host-wide answers: 493 2XX + no 4XX yet + 7 5XX */
    .requests = 493 + 7,
    .errors = 7,
    /* (8200000.5 + 2700000.25) us */
    .latency = {.sum_seconds = SOME(10.90000075),
		.sum_tolerance = FLOAT_TOLERANCE,
		.count = SOME(500)},
};

static const struct preset_expect preset_kserve = {
    .preset = "kserve",
    /* No error counter on a KServe page: errors are not claimed */
    .flags = METRICS_HAVE_REQUESTS | METRICS_HAVE_LATENCY_HISTOGRAM |
	     METRICS_HAVE_LATENCY_MEAN,
    .requests = 250,
    .errors = 0,
    /* le comes first in prometheus_client's label order */
    .latency = {.bucket_count = SOME(15),
		BUCKETS({0, 0.005, 2}, {2, 0.025, 61}, {9, 1.0, 250}),
		.inf_count = SOME(250),
		.sum_seconds = SOME(13.875)},
};

static const struct preset_expect preset_bentoml = {
    .preset = "bentoml",
    .flags = METRICS_HAVE_REQUESTS | METRICS_HAVE_ERRORS |
	     METRICS_HAVE_LATENCY_HISTOGRAM | METRICS_HAVE_LATENCY_MEAN,
    /* /classify only: 200 900 + 500 12 + 400 30; health probes, docs
     * and static files (605 requests) left out */
    .requests = 942,
    .request_series = SOME(3),
    .errors = 12,
    /* Three series merged by bound, their _sum lines printed first */
    .latency = {.bucket_count = SOME(19),
		BUCKETS({1, 0.01, 0 + 0 + 10}, {6, 0.25, 820 + 2 + 30},
			{17, 180.0, 942}),
		.inf_count = SOME(942),
		.sum_seconds = SOME(112.5 + 6.25 + 0.375),
		.count = SOME(942)},
};

static const struct preset_expect preset_generic = {
    .preset = "generic",
    .flags = METRICS_HAVE_REQUESTS | METRICS_HAVE_ERRORS |
	     METRICS_HAVE_LATENCY_HISTOGRAM | METRICS_HAVE_LATENCY_MEAN,
    .requests = 1500 + 20 + 4 + 9,
    /* code 500 and 503; the 404 is the client's */
    .errors = 13,
    .error_series = SOME(2),
    /* Go prints le="1", not "1.0" */
    .latency = {.bucket_count = SOME(12),
		BUCKETS({7, 1.0, 1531}),
		.inf_count = SOME(1533),
		.sum_seconds = SOME(91.25)},
};

static const struct preset_expect preset_kanary_modelserver = {
    .preset = "kanary-modelserver",
    .flags = METRICS_HAVE_REQUESTS | METRICS_HAVE_ERRORS |
	     METRICS_HAVE_LATENCY_HISTOGRAM | METRICS_HAVE_LATENCY_MEAN |
	     METRICS_HAVE_PREDICTIONS,
    .requests = 1000,
    .errors = 20,
    .latency = {.bucket_count = SOME(12),
		BUCKETS({3, 0.01, 610}),
		.inf_count = SOME(1000),
		.sum_seconds = SOME(9.5)},
    .classes = kanary_modelserver_classes,
    .class_count = sizeof(kanary_modelserver_classes) /
		   sizeof(kanary_modelserver_classes[0]),
    .other_count = 0,
};

static void test_presets_against_captured_pages(void **state)
{
	struct metric_spec spec;
	struct metrics_sample s;
	struct prom_page *page;
	char path[512], *text, why[WHY_BYTES];
	size_t len = 0;
	struct prom_error err;

	(void)state;
	snprintf(path, sizeof(path), "%s/torchserve_metrics_docs.txt",
		 UNIT_CAPTURED_DIR);
	text = unit_read_file(path, &len);
	if (!text)
		fail_msg("cannot read %s", path);
	/* TorchServe's own documentation page: Requests5XX is declared
	 * without a sample (none yet), which reads as zero errors */
	assert_int_equal(prom_parse(text, len, &page, &err), 0);
	spec = preset("torchserve");
	assert_int_equal(metrics_extract(page, &spec, &s, why, sizeof(why)), 0);
	assert_true(s.flags & METRICS_HAVE_ERRORS);
	assert_float_equal(s.errors, 0, 0);
	assert_int_equal(s.error_series, 0);
	/* host-wide answers: Requests2XX 8, no 4XX or 5XX samples */
	assert_float_equal(s.requests, 8, 0);
	assert_float_equal(s.latency.sum_seconds, 0.290371129, FLOAT_TOLERANCE);
	prom_page_free(page);
	free(text);

	/* The older vLLM engine: one finished request, no HTTP series */
	snprintf(path, sizeof(path), "%s/vllm_metrics.txt", UNIT_CAPTURED_DIR);
	text = unit_read_file(path, &len);
	assert_non_null(text);
	assert_int_equal(prom_parse(text, len, &page, &err), 0);
	spec = preset("vllm");
	assert_int_equal(metrics_extract(page, &spec, &s, why, sizeof(why)), 0);
	assert_float_equal(s.requests, 1, 0);
	assert_float_equal(s.errors, 0, 0);
	assert_int_equal(s.latency.bucket_count, 11);
	assert_float_equal(s.latency.sum_seconds, 0.5034303665161133, 0);
	prom_page_free(page);
	free(text);
}

/* ---- token timing of LLM servers ----------------------------------------- */

static void test_vllm_v0_page_reads_the_older_itl_name(void **state)
{
	struct metric_spec spec = preset("vllm");
	struct prom_page *page = captured_page("vllm_metrics.txt");
	struct metrics_sample s;

	(void)state;
	extract_ok(page, &spec, &s);
	prom_page_free(page);
	assert_int_equal(s.flags & (METRICS_HAVE_TTFT | METRICS_HAVE_ITL),
			 METRICS_HAVE_TTFT | METRICS_HAVE_ITL);
	/* One request: its first token came between 0.25 and 0.5 s */
	assert_int_equal(s.ttft.bucket_count, 17);
	assert_bucket(&s.ttft, 8, 0.25, 0);
	assert_bucket(&s.ttft, 9, 0.5, 1);
	assert_float_equal(s.ttft.sum_seconds, 0.31326723098754883, 0);
	/* vllm:time_per_output_token_seconds: six gaps, all below 50 ms */
	assert_int_equal(s.itl.bucket_count, 14);
	assert_bucket(&s.itl, 1, 0.025, 0);
	assert_bucket(&s.itl, 2, 0.05, 6);
	assert_inf_bucket(&s.itl, 6);
	assert_float_equal(s.itl.sum_seconds, 0.19016313552856445, 0);
}

/* A page of a streaming engine: TTFT and ITL (both names), no e2e. */
static const char token_page[] =
    "# TYPE vllm:request_success_total counter\n"
    "vllm:request_success_total{finished_reason=\"stop\"} 40\n"
    "# TYPE vllm:time_to_first_token_seconds histogram\n"
    "vllm:time_to_first_token_seconds_bucket{le=\"0.1\"} 30\n"
    "vllm:time_to_first_token_seconds_bucket{le=\"0.5\"} 38\n"
    "vllm:time_to_first_token_seconds_bucket{le=\"+Inf\"} 40\n"
    "vllm:time_to_first_token_seconds_sum 6.5\n"
    "vllm:time_to_first_token_seconds_count 40\n"
    "# TYPE vllm:inter_token_latency_seconds histogram\n"
    "vllm:inter_token_latency_seconds_bucket{le=\"0.01\"} 700\n"
    "vllm:inter_token_latency_seconds_bucket{le=\"0.05\"} 790\n"
    "vllm:inter_token_latency_seconds_bucket{le=\"+Inf\"} 800\n"
    "vllm:inter_token_latency_seconds_sum 9.0\n"
    "vllm:inter_token_latency_seconds_count 800\n"
    "# TYPE vllm:time_per_output_token_seconds histogram\n"
    "vllm:time_per_output_token_seconds_bucket{le=\"0.025\"} 1\n"
    "vllm:time_per_output_token_seconds_bucket{le=\"+Inf\"} 1\n"
    "vllm:time_per_output_token_seconds_sum 0.02\n"
    "vllm:time_per_output_token_seconds_count 1\n";

static void test_token_timing_without_e2e_latency(void **state)
{
	struct metric_spec spec = preset("vllm");
	struct metrics_sample s;

	(void)state;
	extract_text(token_page, &spec, &s);
	/* The error series' name is on the page: none counted yet */
	assert_int_equal(s.flags, METRICS_HAVE_REQUESTS | METRICS_HAVE_ERRORS |
				      METRICS_HAVE_TTFT | METRICS_HAVE_ITL);
	assert_float_equal(s.requests, 40, 0);
	assert_int_equal(s.latency.bucket_count, 0);
	assert_int_equal(s.ttft.bucket_count, 3);
	assert_bucket(&s.ttft, 0, 0.1, 30);
	assert_bucket(&s.ttft, 1, 0.5, 38);
	assert_float_equal(s.ttft.sum_seconds, 6.5, 0);
	/* The current ITL name wins over the deprecated one */
	assert_int_equal(s.itl.bucket_count, 3);
	assert_bucket(&s.itl, 1, 0.05, 790);
	assert_float_equal(s.itl.count, 800, 0);

	/* Neither TTFT nor ITL nor e2e: the e2e histogram is what is named */
	expect_extract_error("vllm:request_success_total 4\n", &spec, -ENOENT,
			     "no series named "
			     "vllm:e2e_request_latency_seconds_bucket on the "
			     "page (latency histogram "
			     "vllm:e2e_request_latency_seconds)");
	/* A broken TTFT histogram is an error, not a silent omission */
	expect_extract_error("vllm:request_success_total 4\n"
			     "# TYPE vllm:time_to_first_token_seconds "
			     "gaugehistogram\n"
			     "vllm:time_to_first_token_seconds_bucket"
			     "{le=\"+Inf\"} 3\n",
			     &spec, -EINVAL,
			     "vllm:time_to_first_token_seconds is a gauge "
			     "histogram; TTFT needs a cumulative histogram");
}

static void test_triton_first_response_in_milliseconds(void **state)
{
	static const char page[] =
	    "nv_inference_request_success{model=\"llm\",version=\"1\"} 50\n"
	    "nv_inference_request_failure{model=\"llm\",version=\"1\"} 0\n"
	    "nv_inference_request_duration_us{model=\"llm\",version=\"1\"} "
	    "5e7\n"
	    "# TYPE nv_inference_first_response_histogram_ms histogram\n"
	    "nv_inference_first_response_histogram_ms_bucket{model=\"llm\","
	    "version=\"1\",le=\"100\"} 10\n"
	    "nv_inference_first_response_histogram_ms_bucket{model=\"llm\","
	    "version=\"1\",le=\"500\"} 40\n"
	    "nv_inference_first_response_histogram_ms_bucket{model=\"llm\","
	    "version=\"1\",le=\"2000\"} 49\n"
	    "nv_inference_first_response_histogram_ms_bucket{model=\"llm\","
	    "version=\"1\",le=\"5000\"} 50\n"
	    "nv_inference_first_response_histogram_ms_bucket{model=\"llm\","
	    "version=\"1\",le=\"+Inf\"} 50\n"
	    "nv_inference_first_response_histogram_ms_sum{model=\"llm\","
	    "version=\"1\"} 12500\n"
	    "nv_inference_first_response_histogram_ms_count{model=\"llm\","
	    "version=\"1\"} 50\n";
	struct metric_spec spec = preset("triton");
	struct metrics_sample s;

	(void)state;
	extract_text(page, &spec, &s);
	assert_true(s.flags & METRICS_HAVE_TTFT);
	assert_false(s.flags & METRICS_HAVE_ITL);
	assert_true(s.flags & METRICS_HAVE_LATENCY_MEAN);
	/* Bounds and sum from milliseconds to seconds */
	assert_int_equal(s.ttft.bucket_count, 5);
	assert_bucket(&s.ttft, 0, 0.1, 10);
	assert_bucket(&s.ttft, 3, 5.0, 50);
	assert_float_equal(s.ttft.sum_seconds, 12.5, FLOAT_TOLERANCE);
}

static void test_tgi_has_itl_but_no_ttft(void **state)
{
	static const char page[] =
	    "# TYPE tgi_request_count counter\n"
	    "tgi_request_count 20\n"
	    "# TYPE tgi_request_duration histogram\n"
	    "tgi_request_duration_bucket{le=\"1\"} 20\n"
	    "tgi_request_duration_bucket{le=\"+Inf\"} 20\n"
	    "tgi_request_duration_sum 8\n"
	    "tgi_request_duration_count 20\n"
	    "# TYPE tgi_request_queue_duration histogram\n"
	    "tgi_request_queue_duration_bucket{le=\"0.1\"} 20\n"
	    "tgi_request_queue_duration_bucket{le=\"+Inf\"} 20\n"
	    "tgi_request_queue_duration_sum 0.5\n"
	    "tgi_request_queue_duration_count 20\n"
	    "# TYPE tgi_request_mean_time_per_token_duration histogram\n"
	    "tgi_request_mean_time_per_token_duration_bucket{le=\"0.02\"} 15\n"
	    "tgi_request_mean_time_per_token_duration_bucket{le=\"0.04\"} 20\n"
	    "tgi_request_mean_time_per_token_duration_bucket{le=\"+Inf\"} 20\n"
	    "tgi_request_mean_time_per_token_duration_sum 0.4\n"
	    "tgi_request_mean_time_per_token_duration_count 20\n";
	struct metric_spec spec = preset("tgi");
	struct metrics_sample s;

	(void)state;
	assert_int_equal(spec.ttft.name_count, 0);
	extract_text(page, &spec, &s);
	assert_false(s.flags & METRICS_HAVE_TTFT);
	assert_true(s.flags & METRICS_HAVE_ITL);
	assert_bucket(&s.itl, 0, 0.02, 15);
	assert_bucket(&s.itl, 1, 0.04, 20);
}

/* The ITL histogram of the later token pages: 1200 more gaps. */
#define LATER_ITL                                                              \
	"# TYPE vllm:inter_token_latency_seconds histogram\n"                  \
	"vllm:inter_token_latency_seconds_bucket{le=\"0.01\"} 1000\n"          \
	"vllm:inter_token_latency_seconds_bucket{le=\"0.05\"} 1900\n"          \
	"vllm:inter_token_latency_seconds_bucket{le=\"+Inf\"} 2000\n"          \
	"vllm:inter_token_latency_seconds_sum 29.0\n"                          \
	"vllm:inter_token_latency_seconds_count 2000\n"

static const char token_page_later[] =
    "# TYPE vllm:request_success_total counter\n"
    "vllm:request_success_total{finished_reason=\"stop\"} 100\n"
    "# TYPE vllm:time_to_first_token_seconds histogram\n"
    "vllm:time_to_first_token_seconds_bucket{le=\"0.1\"} 50\n"
    "vllm:time_to_first_token_seconds_bucket{le=\"0.5\"} 90\n"
    "vllm:time_to_first_token_seconds_bucket{le=\"+Inf\"} 100\n"
    "vllm:time_to_first_token_seconds_sum 26.5\n"
    "vllm:time_to_first_token_seconds_count 100\n" LATER_ITL;

static void token_window(const char *start_text, const char *end_text,
			 struct metrics_delta *out)
{
	struct metric_spec spec = preset("vllm");
	struct metrics_sample start, end;

	extract_text(start_text, &spec, &start);
	extract_text(end_text, &spec, &end);
	assert_int_equal(metrics_delta(&start, &end, out), 0);
}

static void test_delta_of_token_timing(void **state)
{
	/* The later page re-bucketed TTFT: no TTFT for that window */
	static const char new_ttft_layout[] =
	    "# TYPE vllm:request_success_total counter\n"
	    "vllm:request_success_total{finished_reason=\"stop\"} 100\n"
	    "# TYPE vllm:time_to_first_token_seconds histogram\n"
	    "vllm:time_to_first_token_seconds_bucket{le=\"0.25\"} 80\n"
	    "vllm:time_to_first_token_seconds_bucket{le=\"+Inf\"} 100\n"
	    "vllm:time_to_first_token_seconds_sum 26.5\n"
	    "vllm:time_to_first_token_seconds_count 100\n" LATER_ITL;
	struct metrics_delta d;

	(void)state;
	token_window(token_page, token_page_later, &d);
	assert_int_equal(d.flags, METRICS_HAVE_REQUESTS | METRICS_HAVE_ERRORS |
				      METRICS_HAVE_TTFT | METRICS_HAVE_ITL);
	assert_float_equal(d.requests, 60, 0);
	assert_bucket(&d.ttft, 0, 0.1, 20);
	assert_bucket(&d.ttft, 1, 0.5, 52);
	assert_inf_bucket(&d.ttft, 60);
	assert_float_equal(d.ttft.sum_seconds, 20, 0);
	assert_float_equal(d.ttft.count, 60, 0);
	assert_bucket(&d.itl, 0, 0.01, 300);
	assert_inf_bucket(&d.itl, 1200);

	/* Backwards: the engine restarted, the window is the end values */
	token_window(token_page_later, token_page, &d);
	assert_true(d.flags & METRICS_DELTA_COUNTER_RESET);
	assert_bucket(&d.ttft, 0, 0.1, 30);

	token_window(token_page, new_ttft_layout, &d);
	assert_true(d.flags & METRICS_DELTA_LAYOUT_CHANGED);
	assert_false(d.flags & METRICS_HAVE_TTFT);
	assert_int_equal(d.ttft.bucket_count, 0);
	assert_true(d.flags & METRICS_HAVE_ITL);
}

/* ---- presets, by name --------------------------------------------------- */

static void test_preset_names(void **state)
{
	static const char *const expected[] = {
	    "vllm",   "triton",	 "tgi",	    "torchserve",
	    "kserve", "bentoml", "generic", "kanary-modelserver",
	};
	struct metric_spec spec;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
		assert_string_equal(metric_preset_name(i), expected[i]);
		assert_int_equal(metric_spec_preset(expected[i], &spec), 0);
		assert_string_equal(spec.preset, expected[i]);
		assert_true(spec.request_selector_count > 0);
		assert_true(spec.latency.seconds_per_unit > 0);
	}
	assert_null(metric_preset_name(i));
	assert_int_equal(metric_spec_preset("vLLM", &spec), -ENOENT);
	assert_int_equal(metric_spec_preset(NULL, &spec), -EINVAL);
}

static void test_kanary_modelserver_is_generic_plus_predictions(void **state)
{
	struct metric_spec generic = preset("generic");
	struct metric_spec own = preset("kanary-modelserver");

	(void)state;
	assert_memory_equal(own.requests, generic.requests,
			    sizeof(generic.requests));
	assert_memory_equal(own.errors, generic.errors, sizeof(generic.errors));
	assert_memory_equal(&own.latency, &generic.latency,
			    sizeof(generic.latency));
	assert_false(generic.has_predictions);
	assert_true(own.has_predictions);
	assert_string_equal(own.predictions.counter.name,
			    "kanary_predictions_total");
	assert_string_equal(own.predictions.label, "label");
}

/* ---- what is missing, and what is only absent --------------------------- */

static void test_missing_series_are_named(void **state)
{
	struct metric_spec spec = preset("vllm");

	(void)state;
	expect_extract_error("nv_inference_request_success 4\n", &spec, -ENOENT,
			     "no series named vllm:request_success_total on "
			     "the page");
	spec = preset("generic");
	expect_extract_error("http_requests_total{code=\"200\"} 4\n", &spec,
			     -ENOENT,
			     "no series named "
			     "http_request_duration_seconds_bucket on the page "
			     "(latency histogram "
			     "http_request_duration_seconds)");
	spec = preset("kanary-modelserver");
	expect_extract_error("http_requests_total{code=\"200\"} 4\n"
			     "# TYPE http_request_duration_seconds histogram\n",
			     &spec, -ENOENT,
			     "no series named kanary_predictions_total on the "
			     "page (predictions)");
	spec = preset("triton");
	expect_extract_error("nv_inference_request_success 4\n"
			     "nv_inference_request_failure 0\n",
			     &spec, -ENOENT,
			     "no series named nv_inference_request_duration_us "
			     "on the page (latency duration)");
	/* Every request selector must be there, not just one */
	expect_extract_error("nv_inference_request_success 4\n", &spec, -ENOENT,
			     "no series named nv_inference_request_failure on "
			     "the page");
}

static void test_declared_families_read_as_zero(void **state)
{
	/* vLLM right after start: counters declared, no series yet */
	static const char text[] =
	    "# HELP vllm:request_success_total Count of successfully "
	    "processed requests.\n"
	    "# TYPE vllm:request_success_total counter\n"
	    "# HELP vllm:e2e_request_latency_seconds Histogram of e2e "
	    "request latency in seconds.\n"
	    "# TYPE vllm:e2e_request_latency_seconds histogram\n";
	struct metric_spec spec = preset("vllm");
	struct metrics_sample s;

	(void)state;
	extract_text(text, &spec, &s);
	assert_int_equal(s.flags, METRICS_HAVE_REQUESTS | METRICS_HAVE_ERRORS |
				      METRICS_HAVE_LATENCY_HISTOGRAM |
				      METRICS_HAVE_LATENCY_MEAN);
	assert_float_equal(s.requests, 0, 0);
	assert_int_equal(s.request_series, 0);
	assert_int_equal(s.latency.bucket_count, 0);
	assert_float_equal(s.latency.count, 0, 0);
}

static void test_absent_error_series_mean_no_errors(void **state)
{
	struct metric_spec spec = preset("vllm");
	struct metrics_sample s;

	(void)state;
	/* No abort yet, HTTP middleware off */
	extract_text("vllm:request_success_total{finished_reason=\"stop\"} 9\n"
		     "# TYPE vllm:e2e_request_latency_seconds histogram\n",
		     &spec, &s);
	assert_true(s.flags & METRICS_HAVE_ERRORS);
	assert_float_equal(s.errors, 0, 0);
	assert_int_equal(s.error_series, 0);
	/* No error series name on the page at all: errors unknown */
	spec = preset("generic");
	spec.errors[0] = spec.errors[1];
	snprintf(spec.errors[0].name, sizeof(spec.errors[0].name),
		 "http_errors_total");
	spec.error_selector_count = 1;
	extract_text("http_requests_total 5\n"
		     "# TYPE http_request_duration_seconds histogram\n",
		     &spec, &s);
	assert_false(s.flags & METRICS_HAVE_ERRORS);
}

/* ---- matching ----------------------------------------------------------- */

static void test_selectors_are_a_union(void **state)
{
	struct metric_spec spec = preset("generic");
	struct metrics_sample s;

	(void)state;
	extract_text("http_requests_total{code=\"200\"} 100\n"
		     "http_requests_total{status=\"5xx\"} 3\n"
		     "http_requests_total{code=\"502\"} 4\n"
		     /* Both labels say 5xx: one series, counted once */
		     "http_requests_total{code=\"500\",status=\"5xx\"} 5\n"
		     "# TYPE http_request_duration_seconds histogram\n",
		     &spec, &s);
	assert_float_equal(s.requests, 112, 0);
	assert_float_equal(s.errors, 12, 0);
	assert_int_equal(s.error_series, 3);
}

static void test_matchers(void **state)
{
	static const char page[] =
	    "m{reason=\"abort\"} 1\n"
	    "m{reason=\"aborted\"} 10\n"
	    "m{reason=\"CANCELED\"} 100\n"
	    "m 1000\n" /* no reason label: reason is "" */
	    "m{reason=\"a)|b\"} 10000\n"
	    "m{reason=\"zzb\"} 100000\n";
	static const struct {
		const char *selector;
		double expected;
	} cases[] = {
	    {"m", 111111},
	    {"m{reason=\"abort\"}", 1},
	    {"m{reason!=\"CANCELED\"}", 111011},
	    {"m{reason=~\"abort\"}", 1}, /* anchored: not "aborted" */
	    {"m{reason=~\"abort.*\"}", 11},
	    {"m{reason!~\"abort|CANCELED\"}", 111010},
	    {"m{reason=\"\"}", 1000},
	    {"m{reason=~\".*\"}", 111111},
	    {"m{reason=~\".+\"}", 110111},
	    {"m{other=\"\"}", 111111},
	    {"m{reason=~\"[A-Z]+\"}", 100},
	    /* glibc reads the stray ')' literally; the match must still
	     * cover the whole value: "a)" or "b", not "zzb" */
	    {"m{reason=~\"a)|b\"}", 0},
	    {"m{reason=~\"a\\\\)\\\\|b\"}", 10000},
	    {"m{reason=~\"abort\",reason!~\"CAN.*\"}", 1},
	};
	struct prom_page *p = page_from(page);
	struct metric_spec spec;
	struct metrics_sample s;
	char err[WHY_BYTES];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&spec, 0, sizeof(spec));
		if (metric_selector_parse(cases[i].selector, &spec.requests[0],
					  err, sizeof(err)))
			fail_msg("%s: %s", cases[i].selector, err);
		spec.request_selector_count = 1;
		extract_ok(p, &spec, &s);
		if (s.requests != cases[i].expected)
			fail_msg("%s matched %.0f, expected %.0f",
				 cases[i].selector, s.requests,
				 cases[i].expected);
	}
	prom_page_free(p);
}

static void test_bad_counter_values_are_skipped(void **state)
{
	struct metric_spec spec = preset("generic");
	struct metrics_sample s;

	(void)state;
	extract_text("http_requests_total{code=\"200\"} 10\n"
		     "http_requests_total{code=\"201\"} NaN\n"
		     "http_requests_total{code=\"202\"} -4\n"
		     "http_requests_total{code=\"203\"} +Inf\n"
		     "# TYPE http_request_duration_seconds histogram\n",
		     &spec, &s);
	assert_float_equal(s.requests, 10, 0);
	assert_int_equal(s.request_series, 1);
	assert_true(s.flags & METRICS_SKIPPED_BAD_VALUES);
}

/* ---- histograms --------------------------------------------------------- */

static void test_buckets_merge_by_numeric_bound(void **state)
{
	struct metric_spec spec = preset("generic");
	struct metrics_sample s;

	(void)state;
	/* Three label sets, le spelt three ways and placed anywhere */
	extract_text(
	    "http_requests_total 30\n"
	    "# TYPE http_request_duration_seconds histogram\n"
	    "http_request_duration_seconds_bucket{le=\"0.5\",h=\"a\"} 1\n"
	    "http_request_duration_seconds_bucket{le=\"1\",h=\"a\"} 2\n"
	    "http_request_duration_seconds_bucket{le=\"+Inf\",h=\"a\"} 3\n"
	    "http_request_duration_seconds_bucket{h=\"b\",le=\"5e-1\"} 10\n"
	    "http_request_duration_seconds_bucket{h=\"b\",le=\"1.0\"} 20\n"
	    "http_request_duration_seconds_bucket{h=\"b\",le=\"+inf\"} 27\n"
	    "http_request_duration_seconds_bucket{h=\"c\",le=\"1e0\"} 0\n"
	    "http_request_duration_seconds_bucket{h=\"c\",le=\"0.50\"} 0\n"
	    "http_request_duration_seconds_bucket{h=\"c\",le=\"Inf\"} 0\n"
	    "http_request_duration_seconds_sum{h=\"a\"} 1.5\n"
	    "http_request_duration_seconds_sum{h=\"b\"} 12.25\n"
	    "http_request_duration_seconds_sum{h=\"c\"} 0\n"
	    "http_request_duration_seconds_count{h=\"a\"} 3\n"
	    "http_request_duration_seconds_count{h=\"b\"} 27\n"
	    "http_request_duration_seconds_count{h=\"c\"} 0\n",
	    &spec, &s);
	assert_int_equal(s.latency.bucket_count, 3);
	assert_bucket(&s.latency, 0, 0.5, 11);
	assert_bucket(&s.latency, 1, 1.0, 22);
	assert_inf_bucket(&s.latency, 30);
	assert_float_equal(s.latency.sum_seconds, 13.75, 0);
	assert_float_equal(s.latency.count, 30, 0);
	assert_false(s.flags & (METRICS_HISTOGRAM_MIXED_LAYOUTS |
				METRICS_HISTOGRAM_COUNT_MISMATCH |
				METRICS_HISTOGRAM_NOT_MONOTONIC));
}

static void test_mixed_layouts_keep_shared_bounds(void **state)
{
	struct metric_spec spec = preset("generic");
	struct metrics_sample s;

	(void)state;
	extract_text(
	    "http_requests_total 12\n"
	    "# TYPE http_request_duration_seconds histogram\n"
	    "http_request_duration_seconds_bucket{v=\"1\",le=\"0.1\"} 1\n"
	    "http_request_duration_seconds_bucket{v=\"1\",le=\"1\"} 4\n"
	    "http_request_duration_seconds_bucket{v=\"1\",le=\"+Inf\"} 5\n"
	    "http_request_duration_seconds_bucket{v=\"2\",le=\"0.5\"} 3\n"
	    "http_request_duration_seconds_bucket{v=\"2\",le=\"1\"} 6\n"
	    "http_request_duration_seconds_bucket{v=\"2\",le=\"+Inf\"} 7\n"
	    "http_request_duration_seconds_sum{v=\"1\"} 2\n"
	    "http_request_duration_seconds_sum{v=\"2\"} 3\n"
	    "http_request_duration_seconds_count{v=\"1\"} 5\n"
	    "http_request_duration_seconds_count{v=\"2\"} 7\n",
	    &spec, &s);
	/* 0.1 and 0.5 are not known for both series: only 1 and +Inf */
	assert_true(s.flags & METRICS_HISTOGRAM_MIXED_LAYOUTS);
	assert_int_equal(s.latency.bucket_count, 2);
	assert_bucket(&s.latency, 0, 1.0, 10);
	assert_inf_bucket(&s.latency, 12);
	assert_float_equal(s.latency.count, 12, 0);
}

static void test_histogram_sanity_is_reported(void **state)
{
	struct metric_spec spec = preset("generic");
	struct metrics_sample s;

	(void)state;
	extract_text("http_requests_total 5\n"
		     "# TYPE http_request_duration_seconds histogram\n"
		     "http_request_duration_seconds_bucket{le=\"0.1\"} 4\n"
		     "http_request_duration_seconds_bucket{le=\"1\"} 3\n"
		     "http_request_duration_seconds_sum 1\n"
		     "http_request_duration_seconds_count 5\n",
		     &spec, &s);
	assert_true(s.flags & METRICS_HISTOGRAM_NO_INF_BUCKET);
	assert_true(s.flags & METRICS_HISTOGRAM_NOT_MONOTONIC);
	assert_false(s.flags & METRICS_HISTOGRAM_INCOMPLETE);
	assert_int_equal(s.latency.bucket_count, 2);
	assert_float_equal(s.latency.count, 5, 0);

	extract_text("http_requests_total 5\n"
		     "# TYPE http_request_duration_seconds histogram\n"
		     "http_request_duration_seconds_bucket{le=\"+Inf\"} 4\n"
		     "http_request_duration_seconds_sum 1\n"
		     "http_request_duration_seconds_count 5\n",
		     &spec, &s);
	assert_int_equal(s.flags & ~(uint32_t)(METRICS_HAVE_REQUESTS |
					       METRICS_HAVE_ERRORS |
					       METRICS_HAVE_LATENCY_HISTOGRAM |
					       METRICS_HAVE_LATENCY_MEAN),
			 METRICS_HISTOGRAM_COUNT_MISMATCH);

	/* No _count and no _sum: the count comes from +Inf */
	extract_text("http_requests_total 5\n"
		     "# TYPE http_request_duration_seconds histogram\n"
		     "http_request_duration_seconds_bucket{le=\"1\"} 2\n"
		     "http_request_duration_seconds_bucket{le=\"+Inf\"} 4\n",
		     &spec, &s);
	assert_true(s.flags & METRICS_HISTOGRAM_INCOMPLETE);
	assert_float_equal(s.latency.count, 4, 0);
	assert_float_equal(s.latency.sum_seconds, 0, 0);

	/* Without a TYPE line, bucket lines with a bad le are skipped */
	extract_text("http_requests_total 5\n"
		     "http_request_duration_seconds_bucket{le=\"fast\"} 2\n"
		     "http_request_duration_seconds_bucket 3\n"
		     "http_request_duration_seconds_bucket{le=\"+Inf\"} 4\n"
		     "http_request_duration_seconds_sum 1\n"
		     "http_request_duration_seconds_count 4\n",
		     &spec, &s);
	assert_true(s.flags & METRICS_SKIPPED_BAD_VALUES);
	assert_int_equal(s.latency.bucket_count, 1);
	assert_inf_bucket(&s.latency, 4);
}

static void test_gauge_histogram_is_not_latency(void **state)
{
	struct metric_spec spec = preset("generic");

	(void)state;
	expect_extract_error(
	    "http_requests_total 5\n"
	    "# TYPE http_request_duration_seconds gaugehistogram\n"
	    "http_request_duration_seconds_bucket{le=\"+Inf\"} 4\n",
	    &spec, -EINVAL,
	    "http_request_duration_seconds is a gauge histogram; latency "
	    "needs a cumulative histogram");
}

static void test_too_many_bounds(void **state)
{
	struct metric_spec spec = preset("generic");
	char text[8192];
	size_t len = 0;
	unsigned i;

	(void)state;
	len += (size_t)snprintf(text + len, sizeof(text) - len,
				"http_requests_total 5\n");
	for (i = 0; i <= METRICS_BUCKETS_MAX; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
					"http_request_duration_seconds_bucket"
					"{le=\"%u\"} %u\n",
					i, i);
	expect_extract_error(text, &spec, -E2BIG,
			     "latency histogram http_request_duration_seconds "
			     "has more than 64 distinct bucket bounds");
}

static void test_histogram_unit_scale(void **state)
{
	struct metric_spec spec = spec_from_json_text(
	    "{\"requests\": \"req_total\","
	    " \"latency_histogram\": {\"metric\": \"lat_ms{m=\\\"a\\\"}\","
	    "                         \"seconds_per_unit\": 0.001}}");
	struct metrics_sample s;

	(void)state;
	extract_text("req_total 3\n"
		     "# TYPE lat_ms histogram\n"
		     "lat_ms_bucket{m=\"a\",le=\"250\"} 2\n"
		     "lat_ms_bucket{m=\"a\",le=\"+Inf\"} 3\n"
		     "lat_ms_sum{m=\"a\"} 1500\n"
		     "lat_ms_count{m=\"a\"} 3\n"
		     "lat_ms_bucket{m=\"b\",le=\"250\"} 200\n"
		     "lat_ms_bucket{m=\"b\",le=\"+Inf\"} 300\n"
		     "lat_ms_sum{m=\"b\"} 150000\n"
		     "lat_ms_count{m=\"b\"} 300\n",
		     &spec, &s);
	assert_bucket(&s.latency, 0, 0.25, 2);
	assert_inf_bucket(&s.latency, 3);
	assert_float_equal(s.latency.sum_seconds, 1.5, FLOAT_TOLERANCE);
	assert_float_equal(s.latency.count, 3, 0);
}

/* ---- predictions -------------------------------------------------------- */

static void test_predictions_overflow(void **state)
{
	struct metric_spec spec = preset("kanary-modelserver");
	struct metrics_sample s;
	char text[16384];
	size_t len = 0;
	unsigned i;

	(void)state;
	len += (size_t)snprintf(text + len, sizeof(text) - len,
				"http_requests_total 5\n"
				"# TYPE http_request_duration_seconds "
				"histogram\n"
				"kanary_predictions_total{model=\"v1\"} 2\n");
	/* The first 64 classes seen keep a slot; the rest spill over */
	for (i = 0; i < METRICS_CLASSES_MAX + 6; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
					"kanary_predictions_total"
					"{label=\"class%03u\"} 1\n",
					i);
	len += (size_t)snprintf(text + len, sizeof(text) - len,
				"kanary_predictions_total{label=\"%0100d\"} "
				"7\n",
				0);
	extract_text(text, &spec, &s);
	assert_true(s.flags & METRICS_PREDICTIONS_OVERFLOW);
	assert_int_equal(s.predictions.class_count, METRICS_CLASSES_MAX);
	/* "" (no label) sorts first; class063..069 and the long name spill */
	assert_string_equal(s.predictions.classes[0].label, "");
	assert_float_equal(s.predictions.classes[0].count, 2, 0);
	assert_string_equal(s.predictions.classes[1].label, "class000");
	assert_float_equal(s.predictions.other_count, 7 + 7, 0);
}

/* ---- windows ------------------------------------------------------------ */

static const char window_start[] =
    "http_requests_total{code=\"200\",handler=\"/predict\"} 100\n"
    "http_requests_total{code=\"500\",handler=\"/predict\"} 4\n"
    "# TYPE http_request_duration_seconds histogram\n"
    "http_request_duration_seconds_bucket{le=\"0.01\"} 50\n"
    "http_request_duration_seconds_bucket{le=\"0.1\"} 100\n"
    "http_request_duration_seconds_bucket{le=\"+Inf\"} 104\n"
    "http_request_duration_seconds_sum 3.5\n"
    "http_request_duration_seconds_count 104\n"
    "kanary_predictions_total{label=\"cat\"} 60\n"
    "kanary_predictions_total{label=\"dog\"} 40\n";

static const char window_end[] =
    "http_requests_total{code=\"200\",handler=\"/predict\"} 250\n"
    "http_requests_total{code=\"500\",handler=\"/predict\"} 10\n"
    "# TYPE http_request_duration_seconds histogram\n"
    "http_request_duration_seconds_bucket{le=\"0.01\"} 120\n"
    "http_request_duration_seconds_bucket{le=\"0.1\"} 240\n"
    "http_request_duration_seconds_bucket{le=\"+Inf\"} 260\n"
    "http_request_duration_seconds_sum 9.75\n"
    "http_request_duration_seconds_count 260\n"
    "kanary_predictions_total{label=\"cat\"} 150\n"
    "kanary_predictions_total{label=\"dog\"} 90\n"
    "kanary_predictions_total{label=\"bird\"} 10\n";

static void window(const char *start_text, const char *end_text,
		   struct metrics_delta *out)
{
	struct metric_spec spec = preset("kanary-modelserver");
	struct metrics_sample start, end, start_copy;

	extract_text(start_text, &spec, &start);
	extract_text(end_text, &spec, &end);
	/* Plain values: a copy is as good as the original */
	start_copy = start;
	assert_int_equal(metrics_delta(&start_copy, &end, out), 0);
}

static void test_delta_of_a_window(void **state)
{
	struct metrics_delta d;

	(void)state;
	window(window_start, window_end, &d);
	assert_int_equal(d.flags, METRICS_HAVE_REQUESTS | METRICS_HAVE_ERRORS |
				      METRICS_HAVE_LATENCY_HISTOGRAM |
				      METRICS_HAVE_LATENCY_MEAN |
				      METRICS_HAVE_PREDICTIONS);
	assert_float_equal(d.requests, 156, 0);
	assert_float_equal(d.errors, 6, 0);
	assert_int_equal(d.latency.bucket_count, 3);
	assert_bucket(&d.latency, 0, 0.01, 70);
	assert_bucket(&d.latency, 1, 0.1, 140);
	assert_inf_bucket(&d.latency, 156);
	assert_float_equal(d.latency.sum_seconds, 6.25, 0);
	assert_float_equal(d.latency.count, 156, 0);
	/* bird appeared in the window: its count started from zero */
	assert_int_equal(d.predictions.class_count, 3);
	assert_string_equal(d.predictions.classes[0].label, "bird");
	assert_float_equal(d.predictions.classes[0].count, 10, 0);
	assert_string_equal(d.predictions.classes[1].label, "cat");
	assert_float_equal(d.predictions.classes[1].count, 90, 0);
	assert_string_equal(d.predictions.classes[2].label, "dog");
	assert_float_equal(d.predictions.classes[2].count, 50, 0);
}

static void test_delta_across_a_restart(void **state)
{
	static const char after_restart[] =
	    "http_requests_total{code=\"200\",handler=\"/predict\"} 30\n"
	    "http_requests_total{code=\"500\",handler=\"/predict\"} 1\n"
	    "# TYPE http_request_duration_seconds histogram\n"
	    "http_request_duration_seconds_bucket{le=\"0.01\"} 20\n"
	    "http_request_duration_seconds_bucket{le=\"0.1\"} 30\n"
	    "http_request_duration_seconds_bucket{le=\"+Inf\"} 31\n"
	    "http_request_duration_seconds_sum 1.25\n"
	    "http_request_duration_seconds_count 31\n"
	    "kanary_predictions_total{label=\"cat\"} 20\n"
	    "kanary_predictions_total{label=\"dog\"} 11\n";
	struct metrics_delta d;

	(void)state;
	window(window_end, after_restart, &d);
	assert_true(d.flags & METRICS_DELTA_COUNTER_RESET);
	/* Like increase(): what the restarted process counted */
	assert_float_equal(d.requests, 31, 0);
	assert_float_equal(d.errors, 1, 0);
	assert_true(d.flags & METRICS_HAVE_LATENCY_HISTOGRAM);
	assert_bucket(&d.latency, 0, 0.01, 20);
	assert_inf_bucket(&d.latency, 31);
	assert_float_equal(d.latency.sum_seconds, 1.25, 0);
	assert_int_equal(d.predictions.class_count, 2);
	assert_float_equal(d.predictions.classes[0].count, 20, 0);
	assert_float_equal(d.predictions.classes[1].count, 11, 0);
}

static void test_delta_one_counter_down_is_a_restart(void **state)
{
	/* Requests went on, but a class vanished: the process restarted */
	static const char later[] =
	    "http_requests_total{code=\"200\",handler=\"/predict\"} 300\n"
	    "http_requests_total{code=\"500\",handler=\"/predict\"} 10\n"
	    "# TYPE http_request_duration_seconds histogram\n"
	    "http_request_duration_seconds_bucket{le=\"0.01\"} 130\n"
	    "http_request_duration_seconds_bucket{le=\"0.1\"} 250\n"
	    "http_request_duration_seconds_bucket{le=\"+Inf\"} 310\n"
	    "http_request_duration_seconds_sum 10.5\n"
	    "http_request_duration_seconds_count 310\n"
	    "kanary_predictions_total{label=\"cat\"} 300\n";
	struct metrics_delta d;

	(void)state;
	window(window_end, later, &d);
	assert_true(d.flags & METRICS_DELTA_COUNTER_RESET);
	assert_float_equal(d.requests, 310, 0);
	assert_float_equal(d.errors, 10, 0);
}

static void test_delta_when_buckets_change(void **state)
{
	static const char new_layout[] =
	    "http_requests_total{code=\"200\",handler=\"/predict\"} 250\n"
	    "http_requests_total{code=\"500\",handler=\"/predict\"} 10\n"
	    "# TYPE http_request_duration_seconds histogram\n"
	    "http_request_duration_seconds_bucket{le=\"0.005\"} 60\n"
	    "http_request_duration_seconds_bucket{le=\"0.05\"} 200\n"
	    "http_request_duration_seconds_bucket{le=\"+Inf\"} 260\n"
	    "http_request_duration_seconds_sum 9.75\n"
	    "http_request_duration_seconds_count 260\n"
	    "kanary_predictions_total{label=\"cat\"} 150\n"
	    "kanary_predictions_total{label=\"dog\"} 90\n";
	struct metrics_delta d;

	(void)state;
	window(window_start, new_layout, &d);
	assert_true(d.flags & METRICS_DELTA_LAYOUT_CHANGED);
	assert_false(d.flags & METRICS_DELTA_COUNTER_RESET);
	/* No bucket deltas, but requests and the mean hold */
	assert_false(d.flags & METRICS_HAVE_LATENCY_HISTOGRAM);
	assert_int_equal(d.latency.bucket_count, 0);
	assert_true(d.flags & METRICS_HAVE_LATENCY_MEAN);
	assert_float_equal(d.latency.sum_seconds, 6.25, 0);
	assert_float_equal(d.latency.count, 156, 0);
	assert_float_equal(d.requests, 156, 0);
}

static void test_delta_from_an_empty_histogram(void **state)
{
	static const char fresh[] =
	    "# TYPE http_requests_total counter\n"
	    "# TYPE http_request_duration_seconds histogram\n"
	    "# TYPE kanary_predictions_total counter\n";
	struct metrics_delta d;

	(void)state;
	window(fresh, window_start, &d);
	assert_false(d.flags & METRICS_DELTA_LAYOUT_CHANGED);
	assert_true(d.flags & METRICS_HAVE_LATENCY_HISTOGRAM);
	assert_float_equal(d.requests, 104, 0);
	assert_float_equal(d.errors, 4, 0);
	assert_int_equal(d.latency.bucket_count, 3);
	assert_bucket(&d.latency, 1, 0.1, 100);
	assert_float_equal(d.predictions.classes[0].count, 60, 0);
}

static void test_delta_needs_both_samples(void **state)
{
	struct metrics_sample start, end;
	struct metrics_delta d;

	(void)state;
	memset(&start, 0, sizeof(start));
	memset(&end, 0, sizeof(end));
	start.flags = METRICS_HAVE_REQUESTS | METRICS_HISTOGRAM_NO_INF_BUCKET;
	start.requests = 5;
	end.flags = METRICS_HAVE_REQUESTS | METRICS_HAVE_ERRORS |
		    METRICS_HAVE_LATENCY_MEAN;
	end.requests = 8;
	end.errors = 2;
	end.latency.count = 3;
	assert_int_equal(metrics_delta(&start, &end, &d), 0);
	/* Errors and latency are in one sample only; notes carry over */
	assert_int_equal(d.flags, METRICS_HAVE_REQUESTS |
				      METRICS_HISTOGRAM_NO_INF_BUCKET);
	assert_float_equal(d.requests, 3, 0);
	assert_int_equal(metrics_delta(NULL, &end, &d), -EINVAL);
	assert_int_equal(metrics_delta(&start, NULL, &d), -EINVAL);
	assert_int_equal(metrics_delta(&start, &end, NULL), -EINVAL);
}

/* ---- selectors ---------------------------------------------------------- */

static void test_selector_syntax(void **state)
{
	struct metric_selector sel;
	char err[WHY_BYTES], formatted[512];

	(void)state;
	assert_int_equal(
	    metric_selector_parse("  vllm:request_success_total { a = \"1\" , "
				  "b!=\"2\",c=~\"5..\",d!~\"x|y\",e=\"q\\\"\\\\"
				  "\\n\", } ",
				  &sel, err, sizeof(err)),
	    0);
	assert_string_equal(sel.name, "vllm:request_success_total");
	assert_int_equal(sel.matcher_count, 5);
	assert_string_equal(sel.matchers[0].label, "a");
	assert_int_equal(sel.matchers[0].op, METRIC_MATCH_EQUAL);
	assert_string_equal(sel.matchers[0].value, "1");
	assert_int_equal(sel.matchers[1].op, METRIC_MATCH_NOT_EQUAL);
	assert_int_equal(sel.matchers[2].op, METRIC_MATCH_REGEX);
	assert_string_equal(sel.matchers[2].value, "5..");
	assert_int_equal(sel.matchers[3].op, METRIC_MATCH_NOT_REGEX);
	assert_string_equal(sel.matchers[4].value, "q\"\\\n");
	assert_int_equal(
	    metric_selector_format(&sel, formatted, sizeof(formatted)),
	    (int)strlen("vllm:request_success_total{a=\"1\",b!="
			"\"2\",c=~\"5..\",d!~\"x|y\",e=\"q\\\""
			"\\\\\\n\"}"));
	assert_string_equal(formatted,
			    "vllm:request_success_total{a=\"1\",b!=\"2\","
			    "c=~\"5..\",d!~\"x|y\",e=\"q\\\"\\\\\\n\"}");

	assert_int_equal(metric_selector_parse("up{}", &sel, err, sizeof(err)),
			 0);
	assert_int_equal(sel.matcher_count, 0);
	assert_int_equal(metric_selector_format(&sel, formatted, 3), 2);
	assert_string_equal(formatted, "up");
	assert_int_equal(metric_selector_format(&sel, NULL, 0), 2);
}

static void test_selector_errors(void **state)
{
	static const struct {
		const char *text;
		int rc;
		const char *message;
	} cases[] = {
	    {"", -EINVAL, "selector \"\": expected a metric name at column 1"},
	    {"9lives", -EINVAL,
	     "selector \"9lives\": expected a metric name at column 1"},
	    {"up{", -EINVAL,
	     "selector \"up{\": expected a label name or '}' at column 4"},
	    {"up{a}", -EINVAL,
	     "selector \"up{a}\": expected =, !=, =~ or !~ after the label "
	     "name at column 5"},
	    {"up{a=b}", -EINVAL,
	     "selector \"up{a=b}\": expected '\"' to start the value at "
	     "column 6"},
	    {"up{a==\"b\"}", -EINVAL,
	     "selector \"up{a==\"b\"}\": expected '\"' to start the value "
	     "at column 6"},
	    {"up{a=\"b}", -EINVAL,
	     "selector \"up{a=\"b}\": value lacks its closing '\"' at "
	     "column 6"},
	    {"up{a=\"\\t\"}", -EINVAL,
	     "selector \"up{a=\"\\t\"}\": invalid escape sequence (only "
	     "\\\\, \\\" and \\n are allowed) at column 7"},
	    {"up{a=\"b\"", -EINVAL,
	     "selector \"up{a=\"b\"\": expected ',' or '}' at column 9"},
	    {"up{a=\"b\" c=\"d\"}", -EINVAL,
	     "selector \"up{a=\"b\" c=\"d\"}\": expected ',' or '}' at "
	     "column 10"},
	    {"up{a=\"b\"} x", -EINVAL,
	     "selector \"up{a=\"b\"} x\": unexpected text after the "
	     "selector at column 11"},
	    {"up x", -EINVAL,
	     "selector \"up x\": unexpected text after the selector at "
	     "column 4"},
	    {"up{a=~\"(\"}", -EINVAL,
	     "selector \"up{a=~\"(\"}\": invalid regular expression "
	     "\"(\": Unmatched ( or \\( at column 7"},
	    {"up{a=~\"x{2,1}\"}", -EINVAL,
	     "selector \"up{a=~\"x{2,1}\"}\": invalid regular expression "
	     "\"x{2,1}\": Invalid content of \\{\\} at column 7"},
	    {"up{a=\"1\",b=\"2\",c=\"3\",d=\"4\",e=\"5\",f=\"6\",g=\"7\","
	     "h=\"8\",i=\"9\"}",
	     -E2BIG,
	     "selector \"up{a=\"1\",b=\"2\",c=\"3\",d=\"4\",e=\"5\",f=\"6\","
	     "g=\"7\",h=\"8\",i=\"9\"}\": more than 8 label matchers at "
	     "column 52"},
	};
	struct metric_selector sel;
	char err[WHY_BYTES];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = metric_selector_parse(cases[i].text, &sel, err,
					       sizeof(err));

		if (rc != cases[i].rc || strcmp(err, cases[i].message) != 0)
			fail_msg("%s: got %d \"%s\", expected %d \"%s\"",
				 cases[i].text, rc, err, cases[i].rc,
				 cases[i].message);
	}
}

/*
 * Patterns whose compiled form would be huge are refused before regcomp():
 * glibc copies what a bounded repetition repeats, and nesting multiplies
 * (the first refused pattern took 1.8 GB to compile). Back-references,
 * absent from the RE2 syntax Prometheus selectors follow, are refused too.
 */
/* "up{a=~"pattern"}", with the selector's own escape for '\\'. */
static void regex_selector(const char *pattern, char *text, size_t size)
{
	size_t n = (size_t)snprintf(text, size, "up{a=~\"");

	for (; *pattern && n + 4 < size; pattern++) {
		if (*pattern == '\\')
			text[n++] = '\\';
		text[n++] = *pattern;
	}
	snprintf(text + n, size - n, "\"}");
}

static void test_selector_regex_size(void **state)
{
	static const char *const accepted[] = {
	    "a{1,256}",
	    "(llama|mistral)-[0-9]{1,3}b.*",
	    "a*b?c+d++++++",			    /* 1 + 1 + 2 + 128 */
	    "(a?b)*(c|d?e)+(f{0,2}g){3}x+?(y{2})?", /* nothing empty repeated */
	    "[[:alpha:]{]{256}", /* a bracket is one atom, '{' in it too */
	    "[]a]{2}(x){0}y{3,}z{,4}",
	    "(a{1,10}){1,10}(b{1,10}){1,9}",
	    "x\\{1000\\}{5}", /* escaped braces are literals */
	    "a{,}b{,254}",    /* "{,}" is a star: 255 positions in all */
	};
	static const struct {
		const char *pattern;
		const char *message;
	} refused[] = {
	    {"((a{1,100}){1,100}){1,100}",
	     "is too large: its repetitions ({m,n}) would copy it to more "
	     "than 256 positions"},
	    {"(.{1,100}){3}", "is too large"},
	    {"a{1,257}", "is too large"},
	    {"(ab)+{128}", "is too large"},
	    {"a+++++++++", "is too large"},	/* glibc doubles at each '+' */
	    {"(()x)+++++++++", "is too large"}, /* an empty group is a node */
	    {"a{1,29\\0}", "is too large"},	/* glibc reads {1,290} */
	    {"a{1\\,300}", "is too large"},
	    {"(x|y)??", "the repetition at column 7 repeats what can match "
			"the empty string (as in \"(a?)*\"): exponential "
			"to compile"},
	    {"a*+", "the repetition at column 3"},
	    {"(a?)*", "the repetition at column 5"},
	    {"(x|)+", "the repetition at column 5"},
	    {"(x|y|)+", "the repetition at column 7"},
	    {"(a?b*){2}", "the repetition at column 7"},
	    {"(^){1,3}", "the repetition at column 4"},
	    {"(\\b)?", "the repetition at column 5"},
	    {"(()){0,1}", "the repetition at column 5"},
	    {"(a?)(b{0,})?", "the repetition at column 12"},
	    {"((((x{99999999999999999999}", "is too large"},
	    {"(a)\\2", ": back-references (\\2 at column 4) are not supported"},
	    {"((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((("
	     "(((((a",
	     "nests groups more than 64 deep"},
	};
	struct metric_selector sel;
	char text[256], err[WHY_BYTES];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
		regex_selector(accepted[i], text, sizeof(text));
		if (metric_selector_parse(text, &sel, err, sizeof(err)) != 0)
			fail_msg("%s: refused: %s", text, err);
	}
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		regex_selector(refused[i].pattern, text, sizeof(text));
		if (metric_selector_parse(text, &sel, err, sizeof(err)) !=
			-EINVAL ||
		    !strstr(err, refused[i].message) ||
		    !strstr(err, "at column 7"))
			fail_msg("%s: got \"%s\", expected it to say \"%s\"",
				 text, err, refused[i].message);
	}
}

static void test_selector_length_limits(void **state)
{
	char text[512], err[WHY_BYTES];
	struct metric_selector sel;

	(void)state;
	memset(text, 'n', METRIC_NAME_MAX_BYTES - 1);
	text[METRIC_NAME_MAX_BYTES - 1] = '\0';
	assert_int_equal(metric_selector_parse(text, &sel, err, sizeof(err)),
			 0);
	memset(text, 'n', METRIC_NAME_MAX_BYTES);
	text[METRIC_NAME_MAX_BYTES] = '\0';
	assert_int_equal(metric_selector_parse(text, &sel, err, sizeof(err)),
			 -E2BIG);
	assert_non_null(strstr(err, "metric name is too long at column 1"));

	snprintf(text, sizeof(text), "up{%0*d=\"x\"}",
		 METRIC_LABEL_NAME_MAX_BYTES, 0);
	text[3] = 'l';
	assert_int_equal(metric_selector_parse(text, &sel, err, sizeof(err)),
			 -E2BIG);
	assert_non_null(strstr(err, "label name is too long at column 4"));

	snprintf(text, sizeof(text), "up{l=\"%0*d\"}",
		 METRIC_MATCH_VALUE_MAX_BYTES, 0);
	assert_int_equal(metric_selector_parse(text, &sel, err, sizeof(err)),
			 -E2BIG);
	assert_non_null(strstr(err, "value is too long at column 6"));
}

/* ---- specs from JSON ---------------------------------------------------- */

static void test_json_preset(void **state)
{
	struct metric_spec from_json =
	    spec_from_json_text("{\"preset\": \"triton\"}");
	struct metric_spec direct = preset("triton");

	(void)state;
	assert_memory_equal(&from_json, &direct, sizeof(direct));
}

static void test_json_preset_with_overrides(void **state)
{
	struct metric_spec spec =
	    spec_from_json_text("{\"preset\": \"vllm\", \"errors\": [],"
				" \"latency_histogram\": "
				"\"vllm:time_to_first_token_seconds\"}");

	(void)state;
	assert_string_equal(spec.preset, "vllm");
	assert_int_equal(spec.request_selector_count, 1);
	assert_string_equal(spec.requests[0].name,
			    "vllm:request_success_total");
	assert_int_equal(spec.error_selector_count, 0);
	assert_int_equal(spec.latency.kind, METRIC_LATENCY_HISTOGRAM);
	assert_string_equal(spec.latency.histogram.name,
			    "vllm:time_to_first_token_seconds");
	assert_float_equal(spec.latency.seconds_per_unit, 1, 0);

	spec = spec_from_json_text("{\"preset\": \"kanary-modelserver\","
				   " \"latency_histogram\": null,"
				   " \"predictions\": null}");
	assert_int_equal(spec.latency.kind, METRIC_LATENCY_NONE);
	assert_false(spec.has_predictions);

	/* A duration replaces the preset's histogram */
	spec = spec_from_json_text(
	    "{\"preset\": \"generic\", \"latency_duration\": {"
	    "\"sum\": \"d_us_total\", \"count\": \"d_count_total\","
	    " \"seconds_per_unit\": 1e-6}}");
	assert_int_equal(spec.latency.kind, METRIC_LATENCY_DURATION);
	assert_string_equal(spec.latency.duration_sum.name, "d_us_total");
	assert_string_equal(spec.latency.duration_count.name, "d_count_total");
	assert_float_equal(spec.latency.seconds_per_unit, 1e-6, 0);
}

static void test_json_custom_spec(void **state)
{
	struct metric_spec spec = spec_from_json_text(
	    "{\"requests\": [\"a_total\", \"b_total{x!=\\\"y\\\"}\"],"
	    " \"errors\": \"a_total{code=~\\\"5..\\\"}\","
	    " \"latency_histogram\": \"lat_seconds\","
	    " \"predictions\": {\"metric\": \"pred_total{model=\\\"v2\\\"}\","
	    "                   \"label\": \"class\"}}");
	struct metrics_sample s;

	(void)state;
	assert_string_equal(spec.preset, "");
	assert_int_equal(spec.request_selector_count, 2);
	assert_string_equal(spec.requests[1].matchers[0].label, "x");
	assert_int_equal(spec.requests[1].matchers[0].op,
			 METRIC_MATCH_NOT_EQUAL);
	assert_int_equal(spec.error_selector_count, 1);
	assert_true(spec.has_predictions);
	assert_string_equal(spec.predictions.label, "class");

	extract_text("a_total{code=\"200\"} 7\n"
		     "a_total{code=\"503\"} 1\n"
		     "b_total{x=\"y\"} 100\n"
		     "b_total{x=\"z\"} 2\n"
		     "# TYPE lat_seconds histogram\n"
		     "pred_total{model=\"v2\",class=\"spam\"} 3\n"
		     "pred_total{model=\"v1\",class=\"spam\"} 50\n"
		     "pred_total{model=\"v2\",class=\"ham\"} 5\n",
		     &spec, &s);
	assert_float_equal(s.requests, 10, 0);
	assert_float_equal(s.errors, 1, 0);
	assert_int_equal(s.predictions.class_count, 2);
	assert_string_equal(s.predictions.classes[0].label, "ham");
	assert_float_equal(s.predictions.classes[1].count, 3, 0);
}

static void test_json_errors_name_the_field(void **state)
{
	(void)state;
	expect_json_error("[1]", -EINVAL, "metrics spec must be a JSON object");
	expect_json_error("{\"preset\": \"vllm\", \"latncy_histogram\": \"x\"}",
			  -EINVAL,
			  "unknown key \"latncy_histogram\" (known: preset, "
			  "requests, errors, latency_histogram, "
			  "latency_duration, predictions)");
	expect_json_error("{\"preset\": 3}", -EINVAL,
			  "preset must be a string naming a preset");
	expect_json_error("{\"preset\": \"vlm\"}", -EINVAL,
			  "preset \"vlm\" is unknown (known: vllm, triton, "
			  "tgi, torchserve, kserve, bentoml, generic, "
			  "kanary-modelserver)");
	expect_json_error("{\"requests\": 5}", -EINVAL,
			  "requests must be a selector string or an array of "
			  "them");
	expect_json_error("{\"requests\": [\"ok_total\", \"bad{\"]}", -EINVAL,
			  "requests[1]: selector \"bad{\": expected a label "
			  "name or '}' at column 5");
	expect_json_error("{\"requests\": [\"a\", 7]}", -EINVAL,
			  "requests[1] must be a selector string");
	expect_json_error("{\"requests\": [\"a\",\"b\",\"c\",\"d\",\"e\"]}",
			  -E2BIG,
			  "requests has 5 selectors, at most 4 are supported");
	expect_json_error("{\"requests\": []}", -EINVAL,
			  "metrics spec has no requests: name a \"preset\" or "
			  "give \"requests\"");
	expect_json_error("{}", -EINVAL,
			  "metrics spec has no requests: name a \"preset\" or "
			  "give \"requests\"");
	expect_json_error("{\"preset\": \"vllm\", \"errors\": {}}", -EINVAL,
			  "errors must be a selector string or an array of "
			  "them");
	expect_json_error(
	    "{\"preset\": \"vllm\", \"errors\": \"e{a=~\\\"(\\\"}\"}", -EINVAL,
	    "errors: selector \"e{a=~\"(\"}\": invalid regular "
	    "expression \"(\": Unmatched ( or \\( at column 6");
	expect_json_error("{\"preset\": \"vllm\", \"latency_histogram\": \"h\","
			  " \"latency_duration\": {\"sum\": \"s\", "
			  "\"count\": \"c\"}}",
			  -EINVAL,
			  "give latency_histogram or latency_duration, not "
			  "both");
	expect_json_error("{\"preset\": \"vllm\", \"latency_histogram\": 1}",
			  -EINVAL,
			  "latency_histogram must be a selector string, an "
			  "object or null");
	expect_json_error("{\"preset\": \"vllm\", \"latency_histogram\": {}}",
			  -EINVAL, "latency_histogram.metric is missing");
	expect_json_error("{\"preset\": \"vllm\", \"latency_histogram\": "
			  "{\"metric\": \"h\", \"unit\": \"ms\"}}",
			  -EINVAL,
			  "latency_histogram: unknown key \"unit\" (known: "
			  "metric, seconds_per_unit)");
	expect_json_error("{\"preset\": \"vllm\", \"latency_histogram\": "
			  "{\"metric\": \"h\", \"seconds_per_unit\": -1}}",
			  -EINVAL,
			  "latency_histogram.seconds_per_unit must be a "
			  "positive number (1e-3 for milliseconds, 1e-6 for "
			  "microseconds)");
	expect_json_error("{\"preset\": \"vllm\", \"latency_histogram\": "
			  "{\"metric\": \"h\", \"seconds_per_unit\": \"ms\"}}",
			  -EINVAL,
			  "latency_histogram.seconds_per_unit must be a "
			  "positive number (1e-3 for milliseconds, 1e-6 for "
			  "microseconds)");
	expect_json_error("{\"preset\": \"vllm\", \"latency_duration\": "
			  "{\"sum\": \"s\"}}",
			  -EINVAL, "latency_duration.count is missing");
	expect_json_error("{\"preset\": \"vllm\", \"latency_duration\": "
			  "{\"sum\": 1, \"count\": \"c\"}}",
			  -EINVAL,
			  "latency_duration.sum must be a selector string");
	expect_json_error("{\"preset\": \"vllm\", \"latency_duration\": \"s\"}",
			  -EINVAL,
			  "latency_duration must be an object or null");
	expect_json_error("{\"preset\": \"vllm\", \"predictions\": "
			  "{\"metric\": \"p\"}}",
			  -EINVAL,
			  "predictions.label must be a label name "
			  "([a-zA-Z_][a-zA-Z0-9_]*, below 64 bytes)");
	expect_json_error("{\"preset\": \"vllm\", \"predictions\": "
			  "{\"metric\": \"p\", \"label\": \"bad-name\"}}",
			  -EINVAL,
			  "predictions.label must be a label name "
			  "([a-zA-Z_][a-zA-Z0-9_]*, below 64 bytes)");
	expect_json_error("{\"preset\": \"vllm\", \"predictions\": "
			  "{\"label\": \"l\"}}",
			  -EINVAL, "predictions.metric is missing");
	expect_json_error("{\"preset\": \"vllm\", \"predictions\": "
			  "{\"metric\": \"p\", \"label\": \"l\", \"x\": 1}}",
			  -EINVAL,
			  "predictions: unknown key \"x\" (known: metric, "
			  "label)");
	expect_json_error("{\"preset\": \"vllm\", \"predictions\": [1]}",
			  -EINVAL, "predictions must be an object or null");
}

static void test_extract_bad_arguments(void **state)
{
	struct metric_spec spec;
	struct metrics_sample s;
	struct prom_page *page = page_from("x 1\n");
	char why[WHY_BYTES];

	(void)state;
	memset(&spec, 0, sizeof(spec));
	assert_int_equal(metrics_extract(page, &spec, &s, why, sizeof(why)),
			 -EINVAL);
	assert_string_equal(why, "the metrics spec has no requests");
	assert_int_equal(metrics_extract(NULL, &spec, &s, why, sizeof(why)),
			 -EINVAL);
	/* why is optional */
	spec = preset("vllm");
	assert_int_equal(metrics_extract(page, &spec, &s, NULL, 0), -ENOENT);
	prom_page_free(page);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    {"test_preset_vllm", test_preset, NULL, NULL, (void *)&preset_vllm},
	    {"test_preset_triton", test_preset, NULL, NULL,
	     (void *)&preset_triton},
	    {"test_preset_tgi", test_preset, NULL, NULL, (void *)&preset_tgi},
	    {"test_preset_torchserve", test_preset, NULL, NULL,
	     (void *)&preset_torchserve},
	    {"test_preset_kserve", test_preset, NULL, NULL,
	     (void *)&preset_kserve},
	    {"test_preset_bentoml", test_preset, NULL, NULL,
	     (void *)&preset_bentoml},
	    {"test_preset_generic", test_preset, NULL, NULL,
	     (void *)&preset_generic},
	    {"test_preset_kanary_modelserver", test_preset, NULL, NULL,
	     (void *)&preset_kanary_modelserver},
	    cmocka_unit_test(test_presets_against_captured_pages),
	    cmocka_unit_test(test_vllm_v0_page_reads_the_older_itl_name),
	    cmocka_unit_test(test_token_timing_without_e2e_latency),
	    cmocka_unit_test(test_triton_first_response_in_milliseconds),
	    cmocka_unit_test(test_tgi_has_itl_but_no_ttft),
	    cmocka_unit_test(test_delta_of_token_timing),
	    cmocka_unit_test(test_preset_names),
	    cmocka_unit_test(
		test_kanary_modelserver_is_generic_plus_predictions),
	    cmocka_unit_test(test_missing_series_are_named),
	    cmocka_unit_test(test_declared_families_read_as_zero),
	    cmocka_unit_test(test_absent_error_series_mean_no_errors),
	    cmocka_unit_test(test_selectors_are_a_union),
	    cmocka_unit_test(test_matchers),
	    cmocka_unit_test(test_bad_counter_values_are_skipped),
	    cmocka_unit_test(test_buckets_merge_by_numeric_bound),
	    cmocka_unit_test(test_mixed_layouts_keep_shared_bounds),
	    cmocka_unit_test(test_histogram_sanity_is_reported),
	    cmocka_unit_test(test_gauge_histogram_is_not_latency),
	    cmocka_unit_test(test_too_many_bounds),
	    cmocka_unit_test(test_histogram_unit_scale),
	    cmocka_unit_test(test_predictions_overflow),
	    cmocka_unit_test(test_delta_of_a_window),
	    cmocka_unit_test(test_delta_across_a_restart),
	    cmocka_unit_test(test_delta_one_counter_down_is_a_restart),
	    cmocka_unit_test(test_delta_when_buckets_change),
	    cmocka_unit_test(test_delta_from_an_empty_histogram),
	    cmocka_unit_test(test_delta_needs_both_samples),
	    cmocka_unit_test(test_selector_syntax),
	    cmocka_unit_test(test_selector_errors),
	    cmocka_unit_test(test_selector_regex_size),
	    cmocka_unit_test(test_selector_length_limits),
	    cmocka_unit_test(test_json_preset),
	    cmocka_unit_test(test_json_preset_with_overrides),
	    cmocka_unit_test(test_json_custom_spec),
	    cmocka_unit_test(test_json_errors_name_the_field),
	    cmocka_unit_test(test_extract_bad_arguments),
	};

	return cmocka_run_group_tests_name("metric_presets", tests, NULL, NULL);
}
