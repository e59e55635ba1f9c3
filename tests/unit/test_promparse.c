/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * test_promparse.c - the Prometheus text-format parser against the format's
 * valid (V1..V10) and invalid (I1..I28) vectors, the policies promparse.h
 * documents, its limits, every captured and project fixture page, and
 * hostile input: NUL bytes, huge and mutated pages.
 *
 * Every input is copied into a buffer of exactly its length first, so that
 * AddressSanitizer catches any read past the end of the page.
 */
#include "unit.h"

#include <dirent.h>
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <time.h>

#include "metrics/promparse.h"

#define MIB			((size_t)1 << 20)
#define HOSTILE_PAGE_BYTES	(100 * MIB)
#define MUTATION_ROUNDS		4000
#define MUTATIONS_PER_ROUND_MAX 8
#define MUTATION_SEED		0x6b616e617279ULL
#define LINEAR_SMALL_SAMPLES	20000
#define LINEAR_SCALE		8
#define LINEAR_RUNS		3
/* Linear work grows 8x; quadratic would grow 64x. Timers are noisy, and
 * sanitizers distort both sizes alike, so the bound is generous. */
#define LINEAR_MAX_RATIO 24.0

/* ---- helpers ------------------------------------------------------------ */

static char *exact_copy(const char *text, size_t len)
{
	char *copy = malloc(len ? len : 1);

	assert_non_null(copy);
	memcpy(copy, text, len);
	return copy;
}

static struct prom_page *parse_len(const char *text, size_t len)
{
	struct prom_page *page = NULL;
	struct prom_error err;
	char *copy = exact_copy(text, len);
	int rc = prom_parse(copy, len, &page, &err);

	free(copy);
	if (rc)
		fail_msg("expected the page to parse, got %d at %u:%u: %s", rc,
			 err.line, err.column, err.message);
	assert_non_null(page);
	return page;
}

static struct prom_page *parse_text(const char *text)
{
	return parse_len(text, strlen(text));
}

static void expect_error_limited(const char *text, size_t len,
				 const struct prom_limits *limits, int rc,
				 unsigned line, unsigned column,
				 const char *message)
{
	struct prom_page *page = NULL;
	struct prom_error err;
	char *copy = exact_copy(text, len);
	int got = prom_parse_limited(copy, len, limits, &page, &err);

	free(copy);
	if (got != rc || err.line != line || err.column != column ||
	    !strstr(err.message, message))
		fail_msg("got %d at %u:%u \"%s\"; expected %d at %u:%u with "
			 "\"%s\"",
			 got, err.line, err.column, err.message, rc, line,
			 column, message);
	assert_null(page);
}

static void expect_error(const char *text, int rc, unsigned line,
			 unsigned column, const char *message)
{
	expect_error_limited(text, strlen(text), NULL, rc, line, column,
			     message);
}

static const struct prom_family *family(const struct prom_page *page,
					const char *name)
{
	const struct prom_family *found = prom_page_find_family(page, name);

	if (!found)
		fail_msg("no family named %s", name);
	return found;
}

/* The first sample called name whose label has value (any when NULL). */
static const struct prom_sample *sample_with(const struct prom_page *page,
					     const char *name,
					     const char *label,
					     const char *value)
{
	const struct prom_sample *sample;
	struct prom_sample_iter it;

	prom_sample_iter_init(&it, page, name);
	while ((sample = prom_sample_iter_next(&it))) {
		const char *v = label ? prom_sample_label(sample, label) : NULL;

		if (!label || (v && strcmp(v, value) == 0))
			return sample;
	}
	fail_msg("no sample %s{%s=\"%s\"}", name, label ? label : "",
		 value ? value : "");
	return NULL;
}

static size_t count_samples(const struct prom_page *page, const char *name)
{
	struct prom_sample_iter it;
	size_t n = 0;

	prom_sample_iter_init(&it, page, name);
	while (prom_sample_iter_next(&it))
		n++;
	return n;
}

/* Touches every string and array of a page, for the sanitizers. */
static size_t walk_page(const struct prom_page *page)
{
	size_t i, j, bytes = 0, samples = 0;
	unsigned k;

	for (i = 0; i < page->family_count; i++) {
		const struct prom_family *f = &page->families[i];
		struct prom_sample_iter it;

		bytes += strlen(f->name) + (f->help ? strlen(f->help) : 0);
		assert_ptr_equal(prom_page_find_family(page, f->name), f);
		assert_true(prom_sample_iter_init(&it, page, f->name));
		for (j = 0; j < f->sample_count; j++) {
			const struct prom_sample *s = &f->samples[j];

			assert_ptr_equal(s->family, f);
			bytes += strlen(s->name);
			for (k = 0; k < s->label_count; k++)
				bytes += strlen(s->labels[k].name) +
					 strlen(s->labels[k].value);
			samples++;
		}
	}
	assert_int_equal(samples, page->sample_count);
	return bytes;
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the valid vectors -------------------------------------------------- */

static void test_v1_only_empty_lines(void **state)
{
	struct prom_page *page = parse_text("\n\n");

	(void)state;
	assert_int_equal(page->family_count, 0);
	assert_int_equal(page->sample_count, 0);
	prom_page_free(page);
}

static void test_v2_minimal_lines(void **state)
{
	struct prom_page *page = parse_text(
	    "\n"
	    "minimal_metric 1.234\n"
	    "another_metric -3e3 103948\n"
	    "# Even that:\n"
	    "no_labels{} 3\n"
	    "# HELP line for non-existing metric will be ignored.\n");
	const struct prom_sample *s;
	const struct prom_family *f;

	(void)state;
	f = family(page, "minimal_metric");
	assert_int_equal(f->type, PROM_TYPE_UNTYPED);
	assert_int_equal(f->sample_count, 1);
	assert_float_equal(f->samples[0].value, 1.234, 0);
	assert_false(f->samples[0].has_timestamp);

	s = sample_with(page, "another_metric", NULL, NULL);
	assert_float_equal(s->value, -3000, 0);
	assert_true(s->has_timestamp);
	assert_int_equal(s->timestamp_ms, 103948);

	s = sample_with(page, "no_labels", NULL, NULL);
	assert_float_equal(s->value, 3, 0);
	assert_int_equal(s->label_count, 0);
	assert_null(s->labels);

	/* Declared by HELP, never sampled: kept, with no samples */
	f = family(page, "line");
	assert_int_equal(f->sample_count, 0);
	assert_string_equal(f->help,
			    "for non-existing metric will be ignored.");
	assert_int_equal(page->family_count, 4);
	assert_int_equal(page->sample_count, 3);
	prom_page_free(page);
}

static void test_v3_whitespace_escapes_and_specials(void **state)
{
	struct prom_page *page = parse_text(
	    "\n"
	    "# A normal comment.\n"
	    "#\n"
	    "# TYPE name counter\n"
	    "name{labelname=\"val1\",basename=\"basevalue\"} NaN\n"
	    "name {labelname=\"val2\",basename=\"base\\\"v\\\\al\\nue\"} "
	    "0.23 1234567890\n"
	    "# HELP name two-line\\n doc  str\\\\ing\n"
	    "\n"
	    " # HELP  name2  \tdoc str\"ing 2\n"
	    "  #    TYPE    name2 gauge\n"
	    "name2{labelname=\"val2\"\t,basename   =   \"basevalue2\"\t\t} "
	    "+Inf 54321\n"
	    "name2{ labelname = \"val1\" , }-Inf\n");
	const struct prom_family *f;
	const struct prom_sample *s;

	(void)state;
	assert_int_equal(page->family_count, 2);
	f = family(page, "name");
	assert_int_equal(f->type, PROM_TYPE_COUNTER);
	assert_string_equal(f->help, "two-line\n doc  str\\ing");
	assert_int_equal(f->sample_count, 2);
	assert_true(isnan(f->samples[0].value));
	assert_int_equal(f->samples[0].label_count, 2);
	assert_string_equal(f->samples[0].labels[0].name, "labelname");
	assert_string_equal(f->samples[0].labels[0].value, "val1");
	assert_string_equal(f->samples[0].labels[1].name, "basename");
	assert_string_equal(f->samples[0].labels[1].value, "basevalue");
	s = &f->samples[1];
	assert_string_equal(prom_sample_label(s, "basename"),
			    "base\"v\\al\nue");
	assert_float_equal(s->value, 0.23, 0);
	assert_int_equal(s->timestamp_ms, 1234567890);

	f = family(page, "name2");
	assert_int_equal(f->type, PROM_TYPE_GAUGE);
	assert_string_equal(f->help, "doc str\"ing 2");
	assert_int_equal(f->sample_count, 2);
	assert_true(isinf(f->samples[0].value) && f->samples[0].value > 0);
	assert_int_equal(f->samples[0].timestamp_ms, 54321);
	assert_string_equal(prom_sample_label(&f->samples[0], "basename"),
			    "basevalue2");
	assert_true(isinf(f->samples[1].value) && f->samples[1].value < 0);
	assert_false(f->samples[1].has_timestamp);
	assert_int_equal(f->samples[1].label_count, 1);
	assert_string_equal(prom_sample_label(&f->samples[1], "labelname"),
			    "val1");
	prom_page_free(page);
}

static void test_v4_evil_summary(void **state)
{
	struct prom_page *page = parse_text(
	    "\n"
	    "# TYPE my_summary summary\n"
	    "my_summary{n1=\"val1\",quantile=\"0.5\"} 110\n"
	    "decoy -1 -2\n"
	    "my_summary{n1=\"val1\",quantile=\"0.9\"} 140 1\n"
	    "my_summary_count{n1=\"val1\"} 42\n"
	    "# Latest timestamp wins in case of a summary.\n"
	    "my_summary_sum{n1=\"val1\"} 4711 2\n"
	    "fake_sum{n1=\"val1\"} 2001\n"
	    "# TYPE another_summary summary\n"
	    "another_summary_count{n2=\"val2\",n1=\"val1\"} 20\n"
	    "my_summary_count{n2=\"val2\",n1=\"val1\"} 5 5\n"
	    "another_summary{n1=\"val1\",n2=\"val2\",quantile=\".3\"} -1.2\n"
	    "my_summary_sum{n1=\"val2\"} 08 15\n"
	    "my_summary{n1=\"val3\", quantile=\"0.2\"} 4711\n"
	    "  my_summary{n1=\"val1\",n2=\"val2\",quantile=\"-12.34\",} NaN\n"
	    "# some\n"
	    "# funny comments\n"
	    "# HELP \n"
	    "# HELP\n"
	    "# HELP my_summary\n"
	    "# HELP my_summary \n");
	const struct prom_family *f;
	const struct prom_sample *s;

	(void)state;
	/* Interleaved lines merge into their families, first-seen order */
	assert_int_equal(page->family_count, 4);
	assert_string_equal(page->families[0].name, "my_summary");
	assert_string_equal(page->families[1].name, "decoy");
	assert_string_equal(page->families[2].name, "fake_sum");
	assert_string_equal(page->families[3].name, "another_summary");

	f = family(page, "my_summary");
	assert_int_equal(f->type, PROM_TYPE_SUMMARY);
	assert_null(f->help); /* empty HELP lines say nothing */
	assert_int_equal(f->sample_count, 8);
	assert_string_equal(f->samples[2].name, "my_summary_count");
	assert_string_equal(f->samples[7].name, "my_summary");

	s = sample_with(page, "decoy", NULL, NULL);
	assert_float_equal(s->value, -1, 0);
	assert_int_equal(s->timestamp_ms, -2);

	/* No family "fake": fake_sum stands alone, untyped */
	f = family(page, "fake_sum");
	assert_int_equal(f->type, PROM_TYPE_UNTYPED);
	assert_float_equal(f->samples[0].value, 2001, 0);

	assert_float_equal(
	    sample_with(page, "my_summary", "quantile", "0.5")->value, 110, 0);
	s = sample_with(page, "my_summary", "quantile", "0.9");
	assert_float_equal(s->value, 140, 0);
	assert_int_equal(s->timestamp_ms, 1);
	assert_float_equal(
	    sample_with(page, "my_summary_count", NULL, NULL)->value, 42, 0);
	s = sample_with(page, "my_summary_sum", "n1", "val1");
	assert_float_equal(s->value, 4711, 0);
	assert_int_equal(s->timestamp_ms, 2);
	/* Label order does not matter to lookups */
	s = sample_with(page, "my_summary_count", "n2", "val2");
	assert_string_equal(prom_sample_label(s, "n1"), "val1");
	assert_float_equal(s->value, 5, 0);
	s = sample_with(page, "my_summary_sum", "n1", "val2");
	assert_float_equal(s->value, 8, 0); /* "08" */
	assert_int_equal(s->timestamp_ms, 15);
	assert_true(isnan(
	    sample_with(page, "my_summary", "quantile", "-12.34")->value));
	assert_float_equal(
	    sample_with(page, "another_summary", "quantile", ".3")->value, -1.2,
	    0);
	assert_int_equal(count_samples(page, "another_summary_count"), 1);
	prom_page_free(page);
}

static const char v5_histogram[] =
    "\n"
    "# HELP request_duration_microseconds The response latency.\n"
    "# TYPE request_duration_microseconds histogram\n"
    "request_duration_microseconds_bucket{le=\"100\"} 123\n"
    "request_duration_microseconds_bucket{le=\"120\"} 412\n"
    "request_duration_microseconds_bucket{le=\"144\"} 592\n"
    "request_duration_microseconds_bucket{le=\"172.8\"} 1524\n"
    "request_duration_microseconds_bucket{le=\"+Inf\"} 2693\n"
    "request_duration_microseconds_sum 1.7560473e+06\n"
    "request_duration_microseconds_count 2693\n";

static void test_v5_canonical_histogram(void **state)
{
	struct prom_page *page = parse_text(v5_histogram);
	const struct prom_family *f;

	(void)state;
	assert_int_equal(page->family_count, 1);
	f = family(page, "request_duration_microseconds");
	assert_int_equal(f->type, PROM_TYPE_HISTOGRAM);
	assert_string_equal(f->help, "The response latency.");
	assert_int_equal(f->sample_count, 7);
	assert_int_equal(
	    count_samples(page, "request_duration_microseconds_bucket"), 5);
	assert_float_equal(sample_with(page,
				       "request_duration_microseconds_bucket",
				       "le", "172.8")
			       ->value,
			   1524, 0);
	assert_float_equal(
	    sample_with(page, "request_duration_microseconds_sum", NULL, NULL)
		->value,
	    1756047.3, 0);
	assert_float_equal(
	    sample_with(page, "request_duration_microseconds_count", NULL, NULL)
		->value,
	    2693, 0);
	prom_page_free(page);
}

static void test_v6_histogram_without_inf_bucket(void **state)
{
	struct prom_page *page = parse_text(
	    "\n"
	    "# HELP request_duration_microseconds The response latency.\n"
	    "# TYPE request_duration_microseconds histogram\n"
	    "request_duration_microseconds_bucket{le=\"100\"} 123.5\n"
	    "request_duration_microseconds_bucket{le=\"120\"} 412\n"
	    "request_duration_microseconds_bucket{le=\"144\"} 592\n"
	    "request_duration_microseconds_bucket{le=\"172.8\"} 1524.8\n"
	    "request_duration_microseconds_sum 1.7560473e+06\n"
	    "request_duration_microseconds_count 2693.9\n");
	const struct prom_family *f;

	(void)state;
	f = family(page, "request_duration_microseconds");
	assert_int_equal(f->sample_count, 6);
	assert_float_equal(f->samples[0].value, 123.5, 0);
	assert_float_equal(f->samples[3].value, 1524.8, 0);
	assert_float_equal(f->samples[5].value, 2693.9, 0);
	prom_page_free(page);
}

static void test_v7_gauge_histogram_is_accepted(void **state)
{
	static const char *const spellings[] = {"gaugehistogram",
						"gauge_histogram"};
	char text[1024];
	size_t i;

	(void)state;
	for (i = 0; i < 2; i++) {
		struct prom_page *page;
		const struct prom_family *f;

		snprintf(text, sizeof(text),
			 "# TYPE queue_size_bytes %s\n"
			 "queue_size_bytes_bucket{le=\"1024\"} 3\n"
			 "queue_size_bytes_bucket{le=\"+Inf\"} 5\n"
			 "queue_size_bytes_sum 9000\n"
			 "queue_size_bytes_count 5\n",
			 spellings[i]);
		page = parse_text(text);
		f = family(page, "queue_size_bytes");
		assert_int_equal(f->type, PROM_TYPE_GAUGEHISTOGRAM);
		assert_string_equal(prom_type_name(f->type), "gaugehistogram");
		assert_int_equal(f->sample_count, 4);
		assert_int_equal(page->family_count, 1);
		prom_page_free(page);
	}
	/* Its buckets need a float "le" like a histogram's */
	expect_error("# TYPE g gaugehistogram\ng_bucket{le=\"x\"} 1\n", -EINVAL,
		     2, 13, "expected float as value for 'le' label");
}

static void test_v8_quoted_utf8_names(void **state)
{
	struct prom_page *page = parse_text(
	    "\n"
	    "# HELP \"my.noncompliant.metric\" help text\n"
	    "# TYPE \"my.noncompliant.metric\" counter\n"
	    "{\"my.noncompliant.metric\",\"label.name\"=\"value\"} 1\n");
	const struct prom_family *f;

	(void)state;
	f = family(page, "my.noncompliant.metric");
	assert_int_equal(f->type, PROM_TYPE_COUNTER);
	assert_string_equal(f->help, "help text");
	assert_int_equal(f->sample_count, 1);
	assert_string_equal(f->samples[0].name, "my.noncompliant.metric");
	assert_int_equal(f->samples[0].label_count, 1);
	assert_string_equal(f->samples[0].labels[0].name, "label.name");
	assert_string_equal(f->samples[0].labels[0].value, "value");
	assert_float_equal(f->samples[0].value, 1, 0);
	prom_page_free(page);
}

static void test_v9_escapes_and_multibyte_values(void **state)
{
	struct prom_page *page = parse_text(
	    "# HELP \"gauge.name\" gauge\\ndoc\\nstr\\\"ing\n"
	    "# TYPE \"gauge.name\" gauge\n"
	    "{\"gauge.name\",\"name.1\"=\"val with\\nnew line\","
	    "\"name*2\"=\"val with \\\\backslash and \\\"quotes\\\"\"} +Inf\n"
	    "{\"gauge.name\",\"name.1\"=\"Bj\xc3\xb6rn\","
	    "\"name*2\"=\"\xe4\xbd\x96\xe4\xbd\xa5\"} 3.14e+42\n");
	const struct prom_family *f;

	(void)state;
	f = family(page, "gauge.name");
	assert_int_equal(f->type, PROM_TYPE_GAUGE);
	assert_string_equal(f->help, "gauge\ndoc\nstr\"ing");
	assert_int_equal(f->sample_count, 2);
	assert_string_equal(prom_sample_label(&f->samples[0], "name.1"),
			    "val with\nnew line");
	assert_string_equal(prom_sample_label(&f->samples[0], "name*2"),
			    "val with \\backslash and \"quotes\"");
	assert_true(isinf(f->samples[0].value));
	assert_string_equal(prom_sample_label(&f->samples[1], "name.1"),
			    "Bj\xc3\xb6rn");
	assert_string_equal(prom_sample_label(&f->samples[1], "name*2"),
			    "\xe4\xbd\x96\xe4\xbd\xa5");
	assert_float_equal(f->samples[1].value, 3.14e42, 0);
	prom_page_free(page);
}

static void test_v10_escapes_in_quoted_names(void **state)
{
	struct prom_page *page = parse_text(
	    "\n"
	    "# HELP \"my\\\"noncompliant\\nmetric\\\\\" help text\n"
	    "# TYPE \"my\\\"noncompliant\\nmetric\\\\\" counter\n"
	    "{\"my\\\"noncompliant\\nmetric\\\\\",\"label\\\"name\\n\"="
	    "\"value\"} 1\n");
	const struct prom_family *f;

	(void)state;
	f = family(page, "my\"noncompliant\nmetric\\");
	assert_int_equal(f->type, PROM_TYPE_COUNTER);
	assert_string_equal(f->help, "help text");
	assert_int_equal(f->sample_count, 1);
	assert_string_equal(f->samples[0].labels[0].name, "label\"name\n");
	assert_string_equal(f->samples[0].labels[0].value, "value");
	prom_page_free(page);
}

/* ---- the invalid vectors, and more ------------------------------------- */

struct invalid_case {
	const char *name;
	const char *text;
	size_t len; /* 0: strlen(text) */
	int rc;
	unsigned line;
	unsigned column;
	const char *message;
};

static const struct invalid_case invalid_cases[] = {
    /* expfmt's error vectors (expfmt_cases.md, section 4) */
    {"I1 last line without line feed", "\nbla 3.14\nblubber 42", 0, -EINVAL, 3,
     11, "must end with a line feed"},
    {"I2 tab escape in label value", "metric{label=\"\\t\"} 3.14", 0, -EINVAL,
     1, 15, "invalid escape sequence '\\t' in label value"},
    {"I3 raw new-line in label value", "\nmetric{label=\"new\nline\"} 3.14\n",
     0, -EINVAL, 2, 18, "label value \"new\" contains an unescaped new-line"},
    {"I4 invalid label name", "metric{@=\"bla\"} 3.14", 0, -EINVAL, 1, 8,
     "invalid label name"},
    {"I5 reserved __name__", "metric{__name__=\"bla\"} 3.14", 0, -EINVAL, 1, 8,
     "label name \"__name__\" is reserved"},
    {"I6 no '=' after label name", "metric{label+=\"bla\"} 3.14", 0, -EINVAL, 1,
     13, "expected '=' after label name \"label\", found '+'"},
    {"I7 unquoted label value", "metric{label=bla} 3.14", 0, -EINVAL, 1, 14,
     "expected '\"' at start of label value"},
    {"I8 quantile not a float",
     "\n# TYPE metric summary\nmetric{quantile=\"bla\"} 3.14\n", 0, -EINVAL, 3,
     17, "expected float as value for 'quantile' label, got \"bla\""},
    {"I9 junk after label value", "metric{label=\"bla\"+} 3.14", 0, -EINVAL, 1,
     19, "expected ',' or '}' after label value, found '+'"},
    {"I10 float timestamp", "metric{label=\"bla\"} 3.14 2.72\n", 0, -EINVAL, 1,
     26, "expected integer as timestamp, got \"2.72\""},
    {"I11 spurious string after timestamp", "metric{label=\"bla\"} 3.14 2 3\n",
     0, -EINVAL, 1, 28, "spurious string after timestamp: \"3\""},
    {"I12 value not a float", "metric{label=\"bla\"} blubb\n", 0, -EINVAL, 1,
     21, "expected float as value, got \"blubb\""},
    {"I13 second HELP", "\n# HELP metric one\n# HELP metric two\n", 0, -EINVAL,
     3, 8, "second HELP line for metric name \"metric\""},
    {"I14 second TYPE", "\n# TYPE metric counter\n# TYPE metric untyped\n", 0,
     -EINVAL, 3, 8, "second TYPE line for metric name \"metric\""},
    {"I15 TYPE after samples", "\nmetric 4.12\n# TYPE metric counter\n", 0,
     -EINVAL, 3, 8, "TYPE reported after samples of metric name \"metric\""},
    {"I16 unknown type", "\n# TYPE metric bla\n", 0, -EINVAL, 2, 15,
     "unknown metric type \"bla\""},
    {"I17 invalid name in comment", "\n# TYPE met-ric\n", 0, -EINVAL, 2, 11,
     "invalid metric name in comment: found '-'"},
    {"I18 invalid metric name", "@invalidmetric{label=\"bla\"} 3.14 2", 0,
     -EINVAL, 1, 1, "invalid metric name"},
    {"I19 label set without metric name", "{label=\"bla\"} 3.14 2", 0, -EINVAL,
     1, 2, "invalid metric name"},
    {"I20 le not a float",
     "\n# TYPE metric histogram\nmetric_bucket{le=\"bla\"} 3.14\n", 0, -EINVAL,
     3, 18, "expected float as value for 'le' label, got \"bla\""},
    {"I21 invalid UTF-8 in label value", "metric{l=\"\xbd\"} 3.14\n", 0,
     -EINVAL, 1, 11, "invalid UTF-8 in label value (byte 0xbd)"},
    {"I22 underscore in float", "foo 1_2\n", 0, -EINVAL, 1, 5,
     "expected float as value, got \"1_2\""},
    {"I23a hex float", "foo 0x1p-3\n", 0, -EINVAL, 1, 5,
     "expected float as value, got \"0x1p-3\""},
    {"I23b hex float with P", "foo 0x1P-3\n", 0, -EINVAL, 1, 5,
     "expected float as value, got \"0x1P-3\""},
    {"I24a radix 0B1", "foo 0B1\n", 0, -EINVAL, 1, 5,
     "expected float as value"},
    {"I24b radix 0O1", "foo 0O1\n", 0, -EINVAL, 1, 5,
     "expected float as value"},
    {"I24c radix 0X1", "foo 0X1\n", 0, -EINVAL, 1, 5,
     "expected float as value"},
    {"I24d radix 0x1", "foo 0x1\n", 0, -EINVAL, 1, 5,
     "expected float as value"},
    {"I24e radix 0b1", "foo 0b1\n", 0, -EINVAL, 1, 5,
     "expected float as value"},
    {"I24f radix 0o1", "foo 0o1\n", 0, -EINVAL, 1, 5,
     "expected float as value"},
    {"I25 hex float as le",
     "\n# TYPE metric histogram\nmetric_bucket{le=\"0x1p-3\"} 3.14\n", 0,
     -EINVAL, 3, 18, "expected float as value for 'le' label"},
    {"I26 hex float as quantile",
     "\n# TYPE metric summary\nmetric{quantile=\"0x1p-3\"} 3.14\n", 0, -EINVAL,
     3, 17, "expected float as value for 'quantile' label"},
    {"I27 duplicate label names", "metric{label=\"bla\",label=\"bla\"} 3.14", 0,
     -EINVAL, 1, 20, "duplicate label name \"label\""},
    {"I28 two metric names", "{\"one.name\",\"another.name\"} 3.14", 0, -EINVAL,
     1, 13, "multiple metric names: \"another.name\" after \"one.name\""},

    /* The same vectors with their line feed: same error */
    {"I2 with line feed", "metric{label=\"\\t\"} 3.14\n", 0, -EINVAL, 1, 15,
     "invalid escape sequence"},
    {"I19 with line feed", "{label=\"bla\"} 3.14 2\n", 0, -EINVAL, 1, 2,
     "invalid metric name"},
    {"I28 with line feed", "{\"one.name\",\"another.name\"} 3.14\n", 0, -EINVAL,
     1, 13, "multiple metric names"},

    /* Line structure */
    {"last line a comment without line feed", "a 1\n# c", 0, -EINVAL, 2, 4,
     "must end with a line feed"},
    {"error on the last line comes before the missing line feed",
     "a 1\nb blubb", 0, -EINVAL, 2, 3, "expected float as value"},
    {"CRLF line ending", "a 1\r\n", 0, -EINVAL, 1, 3, "not \\r\\n"},
    {"CRLF after TYPE", "# TYPE a counter\r\n", 0, -EINVAL, 1, 10,
     "unknown metric type \"counter\\r\""},
    {"missing value", "a\n", 0, -EINVAL, 1, 2,
     "expected a sample value for \"a\", found end of line"},
    {"missing value after labels", "a{} \n", 0, -EINVAL, 1, 5,
     "expected a sample value"},
    {"missing value at end of input", "a{}", 0, -EINVAL, 1, 4,
     "found end of input"},
    {"junk glued to a metric name", "a-b 1\n", 0, -EINVAL, 1, 2,
     "invalid character '-' in metric name"},
    {"quoted metric name outside braces", "\"a\" 1\n", 0, -EINVAL, 1, 1,
     "invalid metric name"},
    {"non-numeric timestamp", "a 1 x\n", 0, -EINVAL, 1, 5,
     "expected integer as timestamp, got \"x\""},
    {"hex timestamp", "a 1 0x10\n", 0, -EINVAL, 1, 5,
     "expected integer as timestamp"},
    {"timestamp beyond int64", "a 1 9223372036854775808\n", 0, -EINVAL, 1, 5,
     "out of int64 range"},
    {"value beyond double", "a 1e400\n", 0, -EINVAL, 1, 3,
     "value \"1e400\" is out of range"},
    {"negative value beyond double", "a -1e400\n", 0, -EINVAL, 1, 3,
     "out of range"},
    {"signed NaN", "a -NaN\n", 0, -EINVAL, 1, 3,
     "expected float as value, got \"-NaN\""},

    /* Label sets */
    {"label set not closed", "a{l=\"1\"\n", 0, -EINVAL, 1, 8,
     "label set lacks its closing '}'"},
    {"empty label item", "a{,}\n", 0, -EINVAL, 1, 3,
     "invalid label name: expected a name or '}', found ','"},
    {"label value with a stray quote", "a{l=\"x\"y\"} 1\n", 0, -EINVAL, 1, 8,
     "expected ',' or '}' after label value, found 'y'"},
    {"label without '='", "a{l \"x\"} 1\n", 0, -EINVAL, 1, 5,
     "expected '=' after label name \"l\""},
    {"colon in label name", "a{l:x=\"1\"} 1\n", 0, -EINVAL, 1, 4,
     "expected '=' after label name \"l\", found ':'"},
    {"unfinished escape at end of line", "a{l=\"x\\\n", 0, -EINVAL, 1, 7,
     "ends in an unfinished escape sequence"},
    {"quoted reserved label name", "a{\"__name__\"=\"x\"} 1\n", 0, -EINVAL, 1,
     3, "is reserved"},
    {"quoted and plain duplicate label", "a{l=\"1\",\"l\"=\"2\"} 1\n", 0,
     -EINVAL, 1, 9, "duplicate label name \"l\""},
    {"empty quoted metric name", "{\"\"} 1\n", 0, -EINVAL, 1, 2,
     "empty quoted name"},
    {"second name after a plain one", "a{\"b\"} 1\n", 0, -EINVAL, 1, 3,
     "multiple metric names: \"b\" after \"a\""},
    {"label set naming no metric", "{} 1\n", 0, -EINVAL, 1, 1,
     "the label set names no metric"},
    {"le on a histogram's _sum", "# TYPE h histogram\nh_sum{le=\"x\"} 1\n", 0,
     -EINVAL, 2, 10, "expected float as value for 'le' label"},

    /* NUL bytes and UTF-8 (len is authoritative) */
    {"NUL byte in label value", "a{l=\"x\0y\"} 1\n", 13, -EINVAL, 1, 7,
     "label value contains a NUL byte"},
    {"NUL byte in HELP", "# HELP a x\0y\n", 13, -EINVAL, 1, 11,
     "HELP text contains a NUL byte"},
    {"NUL byte in value", "a 1\0\n", 5, -EINVAL, 1, 3,
     "expected float as value, got \"1\\x00\""},
    {"NUL byte instead of a metric name", "\0 1\n", 4, -EINVAL, 1, 1,
     "invalid metric name"},
    {"overlong UTF-8", "a{l=\"\xc0\xaf\"} 1\n", 0, -EINVAL, 1, 6,
     "invalid UTF-8 in label value (byte 0xc0)"},
    {"UTF-16 surrogate", "a{l=\"\xed\xa0\x80\"} 1\n", 0, -EINVAL, 1, 6,
     "invalid UTF-8"},
    {"code point above U+10FFFF", "a{l=\"\xf4\x90\x80\x80\"} 1\n", 0, -EINVAL,
     1, 6, "invalid UTF-8"},
    {"truncated UTF-8 sequence", "a{l=\"ok\xe4\xbd\"} 1\n", 0, -EINVAL, 1, 8,
     "invalid UTF-8"},
    {"invalid UTF-8 in a quoted name", "{\"a\xff\"} 1\n", 0, -EINVAL, 1, 4,
     "invalid UTF-8 in quoted name"},
    {"invalid UTF-8 in HELP", "# HELP a \xff\n", 0, -EINVAL, 1, 10,
     "invalid UTF-8 in HELP text"},

    /* HELP and TYPE */
    {"invalid escape in HELP", "# HELP a x\\ty\n", 0, -EINVAL, 1, 11,
     "invalid escape sequence '\\t' in HELP text"},
    {"HELP ending in a backslash", "# HELP a x\\\n", 0, -EINVAL, 1, 11,
     "unfinished escape sequence"},
    {"TYPE in upper case", "# TYPE a COUNTER\n", 0, -EINVAL, 1, 10,
     "unknown metric type \"COUNTER\""},
    {"TYPE with two words", "# TYPE a counter gauge\n", 0, -EINVAL, 1, 10,
     "unknown metric type \"counter gauge\""},
    {"TYPE for a summary member names the summary",
     "# TYPE x summary\n# TYPE x_count counter\n", 0, -EINVAL, 2, 8,
     "second TYPE line for metric name \"x\""},
    {"HELP for a histogram member names the histogram",
     "# TYPE x histogram\n# HELP x doc\n# HELP x_bucket more\n", 0, -EINVAL, 3,
     8, "second HELP line for metric name \"x\""},
    {"TYPE after a sample of a member",
     "# TYPE x summary\nx_sum 1\n# TYPE x_sum gauge\n", 0, -EINVAL, 3, 8,
     "TYPE reported after samples of metric name \"x\""},
    {"metric name glued to text in HELP", "# HELP \"a\"b c\n", 0, -EINVAL, 1,
     11, "invalid metric name in comment"},
};

static void test_invalid_case(void **state)
{
	const struct invalid_case *c = *state;

	expect_error_limited(c->text, c->len ? c->len : strlen(c->text), NULL,
			     c->rc, c->line, c->column, c->message);
}

/* ---- policies ----------------------------------------------------------- */

static void test_final_line_feed_policy(void **state)
{
	struct prom_page *page;

	(void)state;
	page = parse_len("", 0);
	assert_int_equal(page->family_count, 0);
	prom_page_free(page);
	/* Blanks after the last line feed are no line */
	page = parse_text("a 1\n \t ");
	assert_int_equal(page->sample_count, 1);
	prom_page_free(page);
	page = parse_text(" \t\n\t\n");
	assert_int_equal(page->sample_count, 0);
	prom_page_free(page);
}

static void test_trailing_blanks_are_ignored(void **state)
{
	struct prom_page *page = parse_text("a 1 \n"
					    "b 2 3\t\n"
					    "# TYPE c counter \t\n"
					    "c{} 4\t\t\n");

	(void)state;
	assert_float_equal(sample_with(page, "a", NULL, NULL)->value, 1, 0);
	assert_int_equal(sample_with(page, "b", NULL, NULL)->timestamp_ms, 3);
	assert_int_equal(family(page, "c")->type, PROM_TYPE_COUNTER);
	prom_page_free(page);
}

static void test_comment_forms(void **state)
{
	static const char text[] = "#HELP a glued to the hash\n"
				   "# TYPE b\n"
				   "# HELP c\n"
				   "#\tTYPE\td\tgauge\n"
				   "# help e not a keyword\n"
				   "# any \x01\xff\0 bytes in a plain comment\n"
				   "a 1\nb 2\nd 3\n";
	struct prom_page *page = parse_len(text, sizeof(text) - 1);

	(void)state;
	assert_string_equal(family(page, "a")->help, "glued to the hash");
	/* "# TYPE b" and "# HELP c" alone say nothing */
	assert_int_equal(family(page, "b")->type, PROM_TYPE_UNTYPED);
	assert_null(prom_page_find_family(page, "c"));
	assert_int_equal(family(page, "d")->type, PROM_TYPE_GAUGE);
	assert_null(prom_page_find_family(page, "e"));
	prom_page_free(page);
}

static void test_timestamps(void **state)
{
	struct prom_page *page = parse_text("a 1 +5\n"
					    "b 1 -9223372036854775808\n"
					    "c 1 9223372036854775807\n"
					    "d 1 0\n");

	(void)state;
	assert_int_equal(sample_with(page, "a", NULL, NULL)->timestamp_ms, 5);
	assert_true(sample_with(page, "b", NULL, NULL)->timestamp_ms ==
		    INT64_MIN);
	assert_true(sample_with(page, "c", NULL, NULL)->timestamp_ms ==
		    INT64_MAX);
	assert_true(sample_with(page, "d", NULL, NULL)->has_timestamp);
	prom_page_free(page);
}

static void test_family_membership(void **state)
{
	struct prom_page *page = parse_text(
	    "# HELP x declared before its type\n"
	    "x_sum 1\n" /* x is not a summary yet: a family of its own */
	    "# TYPE x summary\n"
	    "x_sum 2\n" /* a name keeps its family once decided */
	    "x_count 3\n"
	    "# TYPE s summary\n"
	    "s_bucket{le=\"bla\"} 1\n" /* summaries have no buckets */
	    "u_bucket{le=\"bla\"} 1\n" /* untyped: le is just a label */
	    "# TYPE h histogram\n"
	    "h_bucket{le=\"1\"} 1\n"
	    "h_count 1\n"
	    "h_sum 0.5\n"
	    "h_total 7\n");

	(void)state;
	assert_int_equal(family(page, "x_sum")->sample_count, 2);
	assert_int_equal(family(page, "x")->sample_count, 1);
	assert_string_equal(family(page, "x")->samples[0].name, "x_count");
	assert_int_equal(family(page, "s_bucket")->type, PROM_TYPE_UNTYPED);
	assert_int_equal(family(page, "u_bucket")->sample_count, 1);
	assert_int_equal(family(page, "h")->sample_count, 3);
	assert_int_equal(family(page, "h_total")->sample_count, 1);
	assert_null(prom_page_find_family(page, "h_bucket"));
	prom_page_free(page);
}

static void test_sample_iteration_and_declared_families(void **state)
{
	struct prom_page *page =
	    parse_text("# TYPE lat histogram\n"
		       "# HELP req Requests, declared before the first one\n"
		       "# TYPE req counter\n"
		       "# TYPE busy histogram\n"
		       "busy_bucket{le=\"1\",m=\"a\"} 1\n"
		       "other 1\n"
		       "busy_bucket{le=\"+Inf\",m=\"a\"} 2\n");
	struct prom_sample_iter it;
	const struct prom_sample *s;

	(void)state;
	/* Declared, no sample: known, empty */
	assert_true(prom_sample_iter_init(&it, page, "req"));
	assert_null(prom_sample_iter_next(&it));
	assert_true(prom_sample_iter_init(&it, page, "lat_bucket"));
	assert_string_equal(it.family->name, "lat");
	assert_null(prom_sample_iter_next(&it));
	assert_true(prom_sample_iter_init(&it, page, "lat_count"));
	/* Unknown */
	assert_false(prom_sample_iter_init(&it, page, "nope"));
	assert_null(prom_sample_iter_next(&it));
	assert_false(prom_sample_iter_init(&it, page, "req_bucket"));
	assert_false(prom_sample_iter_init(&it, page, "le"));
	/* Interleaved lines are grouped, page order kept */
	assert_true(prom_sample_iter_init(&it, page, "busy_bucket"));
	s = prom_sample_iter_next(&it);
	assert_string_equal(prom_sample_label(s, "le"), "1");
	s = prom_sample_iter_next(&it);
	assert_string_equal(prom_sample_label(s, "le"), "+Inf");
	assert_null(prom_sample_iter_next(&it));
	assert_null(prom_sample_label(s, "missing"));
	assert_false(prom_sample_iter_init(&it, page, "busy_sum") &&
		     prom_sample_iter_next(&it));
	prom_page_free(page);
}

struct float_case {
	const char *text;
	int rc;
	double value;
};

static void test_float_grammar(void **state)
{
	static const struct float_case cases[] = {
	    {"0", 0, 0},
	    {"1", 0, 1},
	    {"-1", 0, -1},
	    {"+1", 0, 1},
	    {"1.5", 0, 1.5},
	    {".5", 0, 0.5},
	    {"5.", 0, 5},
	    {"-.5e-3", 0, -0.0005},
	    {"1e5", 0, 1e5},
	    {"1E+5", 0, 1e5},
	    {"1.e1", 0, 10},
	    {"08", 0, 8},
	    {"0.00015000000000000001", 0, 0.00015000000000000001},
	    {"1.7976931348623157e308", 0, 1.7976931348623157e308},
	    {"4.9e-324", 0, 4.9e-324},
	    {"1e-400", 0, 0}, /* underflow rounds to zero, as in Go */
	    {"1e400", -ERANGE, 0},
	    {"-1e400", -ERANGE, 0},
	    {"1.8e308", -ERANGE, 0},
	    {"", -EINVAL, 0},
	    {"+", -EINVAL, 0},
	    {"-", -EINVAL, 0},
	    {".", -EINVAL, 0},
	    {"e5", -EINVAL, 0},
	    {"1e", -EINVAL, 0},
	    {"1e+", -EINVAL, 0},
	    {"1.2.3", -EINVAL, 0},
	    {"1_000", -EINVAL, 0},
	    {"0x1", -EINVAL, 0},
	    {"0x1p-3", -EINVAL, 0},
	    {"0b1", -EINVAL, 0},
	    {"0o7", -EINVAL, 0},
	    {" 1", -EINVAL, 0},
	    {"1 ", -EINVAL, 0},
	    {"1f", -EINVAL, 0},
	    {"1,5", -EINVAL, 0},
	    {"++1", -EINVAL, 0},
	    {"+nan", -EINVAL, 0},
	    {"-NaN", -EINVAL, 0},
	    {"nan(1)", -EINVAL, 0},
	    {"infin", -EINVAL, 0},
	    {"infinityy", -EINVAL, 0},
	    {"0000000000000000000000000000000000000000000000000000000000000"
	     "00001",
	     -E2BIG, 0},
	};
	static const char *const infinities[] = {
	    "Inf", "+Inf", "inf", "INF", "Infinity", "+infinity", "iNfInItY"};
	double value;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = prom_parse_float(cases[i].text, strlen(cases[i].text),
					  &value);

		if (rc != cases[i].rc)
			fail_msg("prom_parse_float(\"%s\") = %d, expected %d",
				 cases[i].text, rc, cases[i].rc);
		if (rc == 0 && value != cases[i].value)
			fail_msg("prom_parse_float(\"%s\") gave %.17g, "
				 "expected %.17g",
				 cases[i].text, value, cases[i].value);
	}
	for (i = 0; i < sizeof(infinities) / sizeof(infinities[0]); i++) {
		assert_int_equal(prom_parse_float(infinities[i],
						  strlen(infinities[i]),
						  &value),
				 0);
		assert_true(isinf(value) && value > 0);
	}
	assert_int_equal(prom_parse_float("-Inf", 4, &value), 0);
	assert_true(isinf(value) && value < 0);
	assert_int_equal(prom_parse_float("-infinity", 9, &value), 0);
	assert_true(isinf(value) && value < 0);
	assert_int_equal(prom_parse_float("NaN", 3, &value), 0);
	assert_true(isnan(value));
	assert_int_equal(prom_parse_float("nan", 3, &value), 0);
	assert_true(isnan(value));
	/* Only len bytes count */
	assert_int_equal(prom_parse_float("12junk", 2, &value), 0);
	assert_float_equal(value, 12, 0);
}

static void test_float_ignores_the_locale(void **state)
{
	static const char *const comma_locales[] = {
	    "de_DE.UTF-8", "fr_FR.UTF-8", "de_DE", "fr_FR"};
	double value;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(comma_locales) / sizeof(comma_locales[0]); i++)
		if (setlocale(LC_NUMERIC, comma_locales[i]))
			break;
	if (i == sizeof(comma_locales) / sizeof(comma_locales[0]))
		print_message("# no locale with a decimal comma installed; "
			      "checking in the C locale only\n");
	assert_int_equal(prom_parse_float("1.5", 3, &value), 0);
	assert_float_equal(value, 1.5, 0);
	assert_int_equal(prom_parse_float("1,5", 3, &value), -EINVAL);
	setlocale(LC_NUMERIC, "C");
}

/* ---- limits ------------------------------------------------------------- */

/* A page over one limit: the error, where it is found, and what it says. */
struct limit_case {
	struct prom_limits limits; /* zero: that limit is the default */
	const char *text;
	unsigned line;
	unsigned column;
	const char *message;
};

static const struct limit_case limit_cases[] = {
    {{.max_page_bytes = 10},
     "a 1\nb 2\nc 3\n",
     0,
     0,
     "page is 12 bytes, more than the limit of 10"},
    {{.max_line_bytes = 8},
     "a 1\nabcdefg 1\n",
     2,
     9,
     "line is longer than the limit of 8 bytes"},
    {{.max_line_bytes = 8},
     "a 1\nabcdefg 1",
     2,
     9,
     "line is longer than the limit of 8 bytes"},
    {{.max_name_bytes = 4},
     "abcde 1\n",
     1,
     1,
     "metric name is 5 bytes long, more than the limit of 4"},
    {{.max_name_bytes = 4},
     "a{abcde=\"1\"} 1\n",
     1,
     3,
     "label name is 5 bytes long"},
    {{.max_name_bytes = 4},
     "{\"abcde\"} 1\n",
     1,
     2,
     "is 5 bytes long, more than the limit of 4"},
    {{.max_label_value_bytes = 3},
     "a{l=\"abc\"} 1\na{l=\"a\\\\bc\"} 1\n",
     2,
     5,
     "label value is 4 bytes long, more than the limit of 3"},
    {{.max_labels_per_sample = 2},
     "a{x=\"1\",y=\"2\"} 1\na{x=\"1\",y=\"2\",z=\"3\"} 1\n",
     2,
     15,
     "more than 2 labels on one sample"},
    {{.max_samples = 2},
     "a 1\nb 2\nc 3\n",
     3,
     1,
     "more than 2 samples on the page"},
    {{.max_labels = 3},
     "a{x=\"1\",y=\"2\"} 1\nb{z=\"3\",w=\"4\"} 1\n",
     2,
     9,
     "more than 3 labels on the page"},
    {{.max_names = 3},
     "a{x=\"1\"} 1\na{x=\"2\"} 1\nb{y=\"2\"} 1\n",
     3,
     3,
     "more than 3 distinct metric and label names"},
};

static void test_limits(void **state)
{
	static const struct prom_limits line_of_8 = {.max_line_bytes = 8};
	struct prom_page *page = NULL;
	struct prom_error err;
	const char *at_limit = "abcdef 1\n"; /* exactly 8 bytes: fine */
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(limit_cases) / sizeof(limit_cases[0]); i++) {
		const struct limit_case *c = &limit_cases[i];

		expect_error_limited(c->text, strlen(c->text), &c->limits,
				     -E2BIG, c->line, c->column, c->message);
	}
	assert_int_equal(prom_parse_limited(at_limit, strlen(at_limit),
					    &line_of_8, &page, &err),
			 0);
	prom_page_free(page);
}

static void test_default_limits(void **state)
{
	size_t len = PROM_DEFAULT_MAX_LINE_BYTES + 10, i;
	char *text = malloc(len);
	struct prom_page *page;

	(void)state;
	assert_non_null(text);
	/* A line just over the default limit */
	memset(text, 'a', len);
	text[len - 3] = ' ';
	text[len - 2] = '1';
	text[len - 1] = '\n';
	expect_error_limited(text, len, NULL, -E2BIG, 1,
			     (unsigned)PROM_DEFAULT_MAX_LINE_BYTES + 1,
			     "line is longer than the limit of 65536 bytes");
	/* A long info-style line below it is fine */
	len = 0;
	len += (size_t)sprintf(text + len, "info{");
	for (i = 0; i < PROM_DEFAULT_MAX_LABELS_PER_SAMPLE; i++)
		len += (size_t)sprintf(text + len, "l%zu=\"%0100zu\",", i, i);
	len += (size_t)sprintf(text + len, "} 1\n");
	page = parse_len(text, len);
	assert_int_equal(page->families[0].samples[0].label_count,
			 PROM_DEFAULT_MAX_LABELS_PER_SAMPLE);
	prom_page_free(page);
	free(text);
}

/* ---- fixture pages ------------------------------------------------------ */

/* Parses every *.txt in dir; returns how many. */
static int parse_fixture_dir(const char *dir)
{
	struct dirent *entry;
	DIR *d = opendir(dir);
	int parsed = 0;

	if (!d)
		fail_msg("cannot open fixture directory %s", dir);
	while ((entry = readdir(d))) {
		size_t name_len = strlen(entry->d_name), len = 0;
		struct prom_page *page;
		char path[512], *text;

		if (name_len < 4 ||
		    strcmp(entry->d_name + name_len - 4, ".txt") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, entry->d_name);
		text = unit_read_file(path, &len);
		if (!text)
			fail_msg("cannot read %s", path);
		page = parse_len(text, len);
		assert_true(page->family_count > 0);
		assert_true(page->sample_count > 0);
		walk_page(page);
		print_message("# %s: %zu families, %zu samples\n", path,
			      page->family_count, page->sample_count);
		prom_page_free(page);
		free(text);
		parsed++;
	}
	closedir(d);
	return parsed;
}

static struct prom_page *parse_file(const char *path)
{
	struct prom_page *page;
	size_t len = 0;
	char *text = unit_read_file(path, &len);

	if (!text)
		fail_msg("cannot read %s", path);
	page = parse_len(text, len);
	free(text);
	return page;
}

static void test_shared_captured_pages(void **state)
{
	const char *dir = UNIT_CAPTURED_DIR;
	const struct prom_family *f;
	struct prom_page *page;
	char path[600];

	(void)state;
	/* Every captured page parses: the five known ones and any new one */
	assert_true(parse_fixture_dir(dir) >= 5);

	snprintf(path, sizeof(path), "%s/vllm_metrics.txt", dir);
	page = parse_file(path);
	f = family(page, "vllm:e2e_request_latency_seconds");
	assert_int_equal(f->type, PROM_TYPE_HISTOGRAM);
	assert_int_equal(f->sample_count, 13);
	assert_float_equal(sample_with(page, "vllm:request_success_total",
				       "finished_reason", "length")
			       ->value,
			   1, 0);
	prom_page_free(page);

	snprintf(path, sizeof(path), "%s/triton_metrics.txt", dir);
	page = parse_file(path);
	assert_int_equal(
	    family(page, "nv_inference_request_failure")->sample_count, 8);
	prom_page_free(page);

	/* TorchServe's trailing commas, and families with no samples */
	snprintf(path, sizeof(path), "%s/torchserve_metrics_docs.txt", dir);
	page = parse_file(path);
	f = family(page, "Requests5XX");
	assert_int_equal(f->type, PROM_TYPE_COUNTER);
	assert_int_equal(f->sample_count, 0);
	assert_string_equal(
	    prom_sample_label(
		&family(page, "ts_inference_requests_total")->samples[0],
		"hostname"),
	    "88665a372f4b.ant.amazon.com");
	prom_page_free(page);

	snprintf(path, sizeof(path), "%s/kserve_metrics.txt", dir);
	page = parse_file(path);
	assert_int_equal(family(page, "request_predict_seconds")->sample_count,
			 17);
	assert_int_equal(family(page, "request_predict_seconds_created")->type,
			 PROM_TYPE_GAUGE);
	prom_page_free(page);
}

static void test_project_fixture_pages(void **state)
{
	struct prom_page *page;
	const struct prom_family *f;

	(void)state;
	/* One page per preset at least */
	assert_true(parse_fixture_dir(UNIT_FIXTURES_DIR "/metrics") >= 8);

	/* TGI: blank lines, TYPE without HELP, long float bounds */
	page = parse_file(UNIT_FIXTURES_DIR "/metrics/tgi.txt");
	f = family(page, "tgi_request_count");
	assert_null(f->help);
	assert_int_equal(f->type, PROM_TYPE_COUNTER);
	assert_float_equal(sample_with(page, "tgi_request_duration_bucket",
				       "le", "0.0022500000000000003")
			       ->value,
			   0, 0);
	assert_int_equal(family(page, "tgi_request_skipped_tokens")->type,
			 PROM_TYPE_SUMMARY);
	prom_page_free(page);

	/* BentoML: all _sum lines before the buckets */
	page = parse_file(UNIT_FIXTURES_DIR "/metrics/bentoml.txt");
	f = family(page, "bentoml_service_request_duration_seconds");
	assert_string_equal(f->samples[0].name,
			    "bentoml_service_request_duration_seconds_sum");
	assert_int_equal(count_samples(page, "bentoml_service_request_"
					     "duration_seconds_bucket"),
			 8 * 19);
	prom_page_free(page);
}

/* ---- hostile input ------------------------------------------------------ */

static void test_hostile_huge_pages(void **state)
{
	struct prom_limits limits = {.max_page_bytes = 128 * MIB};
	/* calloc: zero pages are not touched unless the parser reads them */
	char *page_bytes = calloc(1, HOSTILE_PAGE_BYTES);
	struct prom_page *page = NULL;
	struct prom_error err;
	double started;

	(void)state;
	assert_non_null(page_bytes);
	started = now_seconds();
	assert_int_equal(
	    prom_parse(page_bytes, HOSTILE_PAGE_BYTES, &page, &err), -E2BIG);
	assert_null(page);
	assert_string_equal(err.message, "page is 104857600 bytes, more than "
					 "the limit of 67108864");
	/* Allowed in size: one endless line of NULs stops at the line limit */
	assert_int_equal(prom_parse_limited(page_bytes, HOSTILE_PAGE_BYTES,
					    &limits, &page, &err),
			 -E2BIG);
	assert_int_equal(err.line, 1);
	assert_int_equal(err.column, PROM_DEFAULT_MAX_LINE_BYTES + 1);
	/* Allowed, and made of empty lines: read to the end, linearly */
	memset(page_bytes, '\n', HOSTILE_PAGE_BYTES);
	assert_int_equal(prom_parse_limited(page_bytes, HOSTILE_PAGE_BYTES,
					    &limits, &page, &err),
			 0);
	assert_int_equal(page->family_count, 0);
	prom_page_free(page);
	print_message("# 100 MiB hostile pages handled in %.2f s\n",
		      now_seconds() - started);
	free(page_bytes);
}

static void test_hostile_lines(void **state)
{
	size_t len = 60000, i;
	char *text = malloc(len + 64);
	struct prom_page *page;

	(void)state;
	assert_non_null(text);
	/* Nothing but opening braces */
	memset(text, '{', len);
	text[len] = '\n';
	expect_error_limited(text, len + 1, NULL, -EINVAL, 1, 2,
			     "invalid label name");
	/* Commas after one label */
	i = (size_t)sprintf(text, "a{l=\"1\"");
	memset(text + i, ',', len - i);
	text[len] = '\n';
	expect_error_limited(text, len + 1, NULL, -EINVAL, 1, 9,
			     "invalid label name");
	/* A label value of 8000 escapes, just below the value limit */
	i = (size_t)sprintf(text, "a{l=\"");
	while (i < 5 + 2 * 8000)
		i += (size_t)sprintf(text + i, "\\n\\\\");
	i += (size_t)sprintf(text + i, "\"} 1\n");
	page = parse_len(text, i);
	assert_int_equal(strlen(page->families[0].samples[0].labels[0].value),
			 8000);
	assert_memory_equal(page->families[0].samples[0].labels[0].value,
			    "\n\\\n\\", 4);
	prom_page_free(page);
	free(text);
}

static void test_hostile_lines_label_column(void **state)
{
	/* The 65th label of a line is where the limit error points */
	char text[4096];
	size_t i = 0;
	unsigned n, column = 0;

	(void)state;
	i += (size_t)sprintf(text + i, "a{");
	for (n = 0; n <= PROM_DEFAULT_MAX_LABELS_PER_SAMPLE; n++) {
		if (n == PROM_DEFAULT_MAX_LABELS_PER_SAMPLE)
			column = (unsigned)i + 1;
		i += (size_t)sprintf(text + i, "l%u=\"\",", n);
	}
	i += (size_t)sprintf(text + i, "} 1\n");
	expect_error_limited(text, i, NULL, -E2BIG, 1, column,
			     "more than 64 labels on one sample");
}

/* Builds a page of n samples over families of 50, interleaved. */
static char *generated_page(size_t n, size_t *len_out)
{
	size_t cap = n * 96 + 64, len = 0, i;
	char *text = malloc(cap);

	assert_non_null(text);
	for (i = 0; i < n; i++) {
		size_t fam = (i * 7919) % (n / 50 + 1);

		len += (size_t)snprintf(text + len, cap - len,
					"gen_family_%zu_bucket{model=\"m%zu\","
					"le=\"%zu.5\"} %zu\n",
					fam, i % 3, i % 17, i);
	}
	*len_out = len;
	return text;
}

/* Best of a few runs: the least disturbed by whatever else runs */
static double parse_seconds(const char *text, size_t len, size_t samples)
{
	double best = INFINITY;
	int run;

	for (run = 0; run < LINEAR_RUNS; run++) {
		double started = now_seconds(), elapsed;
		struct prom_page *page = parse_len(text, len);

		elapsed = now_seconds() - started;
		assert_int_equal(page->sample_count, samples);
		prom_page_free(page);
		if (elapsed < best)
			best = elapsed;
	}
	return best;
}

static void test_large_page_is_linear(void **state)
{
	size_t small_len, big_len;
	char *small = generated_page(LINEAR_SMALL_SAMPLES, &small_len);
	char *big =
	    generated_page(LINEAR_SMALL_SAMPLES * LINEAR_SCALE, &big_len);
	double small_s, big_s;

	(void)state;
	small_s = parse_seconds(small, small_len, LINEAR_SMALL_SAMPLES);
	big_s =
	    parse_seconds(big, big_len, LINEAR_SMALL_SAMPLES * LINEAR_SCALE);
	print_message("# %zu bytes in %.2f ms, %zu bytes in %.2f ms (%.1fx)\n",
		      small_len, small_s * 1e3, big_len, big_s * 1e3,
		      big_s / small_s);
	assert_true(big_s / small_s < LINEAR_MAX_RATIO);
	free(small);
	free(big);
}

static void test_large_page_content(void **state)
{
	size_t len;
	char *text = generated_page(100000, &len);
	struct prom_page *page = parse_len(text, len);
	const struct prom_sample *s;
	struct prom_sample_iter it;
	char name[64];
	bool found = false;

	(void)state;
	assert_int_equal(page->sample_count, 100000);
	assert_int_equal(page->family_count, 2001);
	/* Line 4242 went to family (4242 * 7919) % 2001 */
	snprintf(name, sizeof(name), "gen_family_%zu_bucket",
		 (size_t)4242 * 7919 % 2001);
	assert_true(prom_sample_iter_init(&it, page, name));
	while ((s = prom_sample_iter_next(&it))) {
		if (s->value != 4242)
			continue;
		assert_string_equal(prom_sample_label(s, "model"), "m0");
		assert_string_equal(prom_sample_label(s, "le"), "9.5");
		found = true;
	}
	assert_true(found);
	walk_page(page);
	prom_page_free(page);
	free(text);
}

/* xorshift64*: reproducible pseudo-random mutations */
static uint64_t next_random(uint64_t *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return *state * 0x2545f4914f6cdd1dULL;
}

static size_t mutate(char *buf, size_t len, size_t cap, uint64_t *rng)
{
	static const char interesting[] = "{}\",=\\\n# \t0e+-.:_\r\xff\xc3";
	unsigned rounds =
	    1 + (unsigned)(next_random(rng) % MUTATIONS_PER_ROUND_MAX);
	unsigned r;

	for (r = 0; r < rounds && len > 0; r++) {
		size_t at = (size_t)(next_random(rng) % len);
		size_t span = 1 + (size_t)(next_random(rng) % 16);

		switch (next_random(rng) % 6) {
		case 0: /* flip a byte */
			buf[at] = (char)next_random(rng);
			break;
		case 1: /* an interesting byte, NUL included */
			buf[at] =
			    interesting[next_random(rng) % sizeof(interesting)];
			break;
		case 2: /* delete */
			if (span > len - at)
				span = len - at;
			memmove(buf + at, buf + at + span, len - at - span);
			len -= span;
			break;
		case 3: /* duplicate a span */
			if (span > len - at)
				span = len - at;
			if (len + span <= cap) {
				memmove(buf + at + span, buf + at, len - at);
				len += span;
			}
			break;
		case 4: /* insert an interesting byte */
			if (len + 1 <= cap) {
				memmove(buf + at + 1, buf + at, len - at);
				buf[at] = interesting[next_random(rng) %
						      sizeof(interesting)];
				len++;
			}
			break;
		default: { /* truncate, mostly at a line end */
			const char *newline = memchr(buf + at, '\n', len - at);

			len = newline && next_random(rng) % 4
				  ? (size_t)(newline - buf) + 1
				  : at;
			break;
		}
		}
	}
	return len;
}

static void test_mutated_pages_never_crash(void **state)
{
	static const char *const names[] = {
	    "vllm.txt",	   "triton.txt",
	    "tgi.txt",	   "torchserve.txt",
	    "kserve.txt",  "bentoml.txt",
	    "generic.txt", "kanary-modelserver.txt"};
	struct {
		char *text;
		size_t len;
	} seeds[sizeof(names) / sizeof(names[0]) + 1];
	size_t seed_count = 0, i, accepted = 0, rejected = 0;
	uint64_t rng = MUTATION_SEED;
	unsigned round;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char path[256];

		snprintf(path, sizeof(path), "%s/metrics/%s", UNIT_FIXTURES_DIR,
			 names[i]);
		seeds[seed_count].text =
		    unit_read_file(path, &seeds[seed_count].len);
		assert_non_null(seeds[seed_count].text);
		seed_count++;
	}
	seeds[seed_count].text = strdup(v5_histogram);
	seeds[seed_count].len = strlen(v5_histogram);
	seed_count++;

	print_message("# mutation seed 0x%llx, %d rounds\n",
		      (unsigned long long)MUTATION_SEED, MUTATION_ROUNDS);
	for (round = 0; round < MUTATION_ROUNDS; round++) {
		size_t pick = (size_t)(next_random(&rng) % seed_count);
		size_t cap = seeds[pick].len + 64, len;
		char *work = malloc(cap), *exact;
		struct prom_page *page = NULL;
		struct prom_error err;
		int rc;

		assert_non_null(work);
		memcpy(work, seeds[pick].text, seeds[pick].len);
		len = mutate(work, seeds[pick].len, cap, &rng);
		exact = exact_copy(work, len);
		rc = prom_parse(exact, len, &page, &err);
		if (rc != 0 && rc != -EINVAL && rc != -E2BIG)
			fail_msg("round %u: unexpected return %d", round, rc);
		if (rc == 0) {
			walk_page(page);
			prom_page_free(page);
			accepted++;
		} else {
			assert_null(page);
			assert_true(err.line >= 1);
			assert_true(err.column >= 1);
			assert_true(err.message[0] != '\0');
			rejected++;
		}
		free(exact);
		free(work);
	}
	print_message("# %zu mutated pages accepted, %zu rejected\n", accepted,
		      rejected);
	assert_true(accepted > 0 && rejected > 0);
	for (i = 0; i < seed_count; i++)
		free(seeds[i].text);
}

static void test_bad_arguments(void **state)
{
	struct prom_page *page = NULL;
	struct prom_error err;

	(void)state;
	assert_int_equal(prom_parse(NULL, 3, &page, &err), -EINVAL);
	assert_int_equal(prom_parse("a 1\n", 4, NULL, &err), -EINVAL);
	/* err is optional */
	assert_int_equal(prom_parse("a\n", 2, &page, NULL), -EINVAL);
	assert_null(page);
	assert_int_equal(prom_parse(NULL, 0, &page, NULL), 0);
	assert_int_equal(page->family_count, 0);
	prom_page_free(page);
	prom_page_free(NULL);
	assert_null(prom_page_find_family(NULL, "a"));
	assert_string_equal(prom_type_name((enum prom_type)99), "unknown");
}

int main(void)
{
	static const struct CMUnitTest fixed[] = {
	    cmocka_unit_test(test_v1_only_empty_lines),
	    cmocka_unit_test(test_v2_minimal_lines),
	    cmocka_unit_test(test_v3_whitespace_escapes_and_specials),
	    cmocka_unit_test(test_v4_evil_summary),
	    cmocka_unit_test(test_v5_canonical_histogram),
	    cmocka_unit_test(test_v6_histogram_without_inf_bucket),
	    cmocka_unit_test(test_v7_gauge_histogram_is_accepted),
	    cmocka_unit_test(test_v8_quoted_utf8_names),
	    cmocka_unit_test(test_v9_escapes_and_multibyte_values),
	    cmocka_unit_test(test_v10_escapes_in_quoted_names),
	    cmocka_unit_test(test_final_line_feed_policy),
	    cmocka_unit_test(test_trailing_blanks_are_ignored),
	    cmocka_unit_test(test_comment_forms),
	    cmocka_unit_test(test_timestamps),
	    cmocka_unit_test(test_family_membership),
	    cmocka_unit_test(test_sample_iteration_and_declared_families),
	    cmocka_unit_test(test_float_grammar),
	    cmocka_unit_test(test_float_ignores_the_locale),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_default_limits),
	    cmocka_unit_test(test_shared_captured_pages),
	    cmocka_unit_test(test_project_fixture_pages),
	    cmocka_unit_test(test_hostile_huge_pages),
	    cmocka_unit_test(test_hostile_lines),
	    cmocka_unit_test(test_hostile_lines_label_column),
	    cmocka_unit_test(test_large_page_is_linear),
	    cmocka_unit_test(test_large_page_content),
	    cmocka_unit_test(test_mutated_pages_never_crash),
	    cmocka_unit_test(test_bad_arguments),
	};
	size_t fixed_count = sizeof(fixed) / sizeof(fixed[0]);
	size_t invalid_count = sizeof(invalid_cases) / sizeof(invalid_cases[0]);
	struct CMUnitTest *tests =
	    calloc(fixed_count + invalid_count, sizeof(*tests));
	size_t i;
	int failed;

	if (!tests)
		return 1;
	memcpy(tests, fixed, sizeof(fixed));
	/* One named test per invalid vector */
	for (i = 0; i < invalid_count; i++) {
		tests[fixed_count + i].name = invalid_cases[i].name;
		tests[fixed_count + i].test_func = test_invalid_case;
		tests[fixed_count + i].initial_state =
		    (void *)&invalid_cases[i];
	}
	failed = _cmocka_run_group_tests(
	    "promparse", tests, fixed_count + invalid_count, NULL, NULL);
	free(tests);
	return failed;
}
