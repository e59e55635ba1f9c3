/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * promparse.h - strict parser for the Prometheus text exposition format
 * 0.0.4, the page every model server serves on /metrics.
 *
 * The parser is at least as strict as the Go client library (expfmt) wherever
 * expfmt and the Prometheus server's own scrape parser agree, and follows the
 * specification where they differ. The policies a reader may not guess:
 *
 *  - The last line must end with a line feed. A page cut short by a dropped
 *    connection then fails instead of yielding a truncated last value. Blanks
 *    after the last line feed are tolerated (there is no line to cut).
 *    Lines end with "\n" alone: a "\r" before it is part of the line, so
 *    a CRLF page fails at its first sample or TYPE line, as in expfmt.
 *  - Blanks and tabs after the value, the timestamp or the TYPE keyword are
 *    ignored, as the specification says (expfmt rejects them, the server's
 *    parser accepts them).
 *  - TYPE keywords are lower case only: counter, gauge, histogram, summary,
 *    untyped; plus the gauge histogram, spelt "gaugehistogram" (OpenMetrics)
 *    or "gauge_histogram" (expfmt's spelling). Both reference parsers accept
 *    it, so a page carrying one does not fail; its "_bucket" lines need a
 *    float "le" like a histogram's. It is not cumulative, so the extractor
 *    refuses it as a latency histogram.
 *  - Families declared by HELP or TYPE without any sample are kept, with no
 *    samples (expfmt drops them): a labelled counter is declared before its
 *    first series exists, and the extractor reads that as zero, not missing.
 *  - Interleaved families are merged into one (as expfmt does); a sample
 *    named x_sum, x_count or x_bucket joins family x when x was declared a
 *    summary or histogram first (x_bucket: histogram only), else it is a
 *    family of its own. Within a family, samples keep page order.
 *  - Histogram and summary semantics (+Inf bucket present, monotone buckets,
 *    +Inf == _count) are not checked here: real pages break them, and the
 *    extractor reports them instead. "le" (histograms) and "quantile"
 *    (summaries) must parse as floats, as in expfmt.
 *  - Names, label values and HELP text must be valid UTF-8 and may not hold
 *    a NUL byte: the page hands out C strings, and a NUL would cut a label
 *    value short and let it match what it does not say. NUL bytes inside
 *    plain comments are harmless and accepted. The input itself is a byte
 *    buffer of known length: it need not be NUL-terminated.
 *  - Floats follow Go's strconv.ParseFloat without its hex, underscore and
 *    radix forms: decimal with optional exponent, or Inf/Infinity/NaN in any
 *    case (a sign only on Inf). Out-of-range values such as 1e400 fail;
 *    values too small to represent become 0, as in Go. Timestamps are
 *    decimal int64 with an optional sign (negative accepted as in expfmt).
 *
 * Every input is bounded by struct prom_limits; going over a limit fails the
 * parse with -E2BIG and says which limit. The parser never recurses, reads
 * only inside [text, text + len), and its cost is linear in the input.
 */
#ifndef KANARY_PROMPARSE_H
#define KANARY_PROMPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum prom_type {
	PROM_TYPE_UNTYPED = 0,
	PROM_TYPE_COUNTER,
	PROM_TYPE_GAUGE,
	PROM_TYPE_HISTOGRAM,
	PROM_TYPE_SUMMARY,
	PROM_TYPE_GAUGEHISTOGRAM,
};

struct prom_label {
	const char *name;
	const char *value;
};

struct prom_family;

struct prom_sample {
	const char *name;		 /* full sample name, e.g. "x_bucket" */
	const struct prom_label *labels; /* in page order; NULL when none */
	unsigned label_count;
	bool has_timestamp;
	double value;
	int64_t timestamp_ms; /* valid when has_timestamp */
	const struct prom_family *family;
};

struct prom_family {
	const char *name;
	enum prom_type type; /* PROM_TYPE_UNTYPED when no TYPE line */
	const char *help;    /* unescaped docstring; NULL without HELP */
	const struct prom_sample *samples; /* page order; NULL when none */
	size_t sample_count;
};

struct prom_page_store;

/* A parsed page. Every string and array lives until prom_page_free(). */
struct prom_page {
	const struct prom_family *families; /* in order of first appearance */
	size_t family_count;
	size_t sample_count;	       /* over all families */
	struct prom_page_store *store; /* memory and name index; private */
};

#define PROM_ERROR_MESSAGE_BYTES 160

/*
 * Where and why a parse failed. line and column are 1-based, column counts
 * bytes and points at the offending token. column is 0 when the error is
 * not tied to a place: line is then the line being read when memory ran
 * out, or 0 for a page too big to start.
 */
struct prom_error {
	unsigned line;
	unsigned column;
	char message[PROM_ERROR_MESSAGE_BYTES];
};

/*
 * Bounds on what a page may hold. A zero field means the default below.
 * The defaults are far above what model servers serve (a vLLM page holds
 * about a thousand samples) and keep a hostile page's memory cost near a
 * few times its size.
 */
struct prom_limits {
	size_t max_page_bytes;
	size_t max_line_bytes;	      /* without the line feed */
	size_t max_name_bytes;	      /* one metric or label name, unescaped */
	size_t max_label_value_bytes; /* one label value, unescaped */
	size_t max_labels_per_sample;
	size_t max_samples;
	size_t max_labels; /* labels of all samples together */
	size_t max_names;  /* distinct metric and label names */
};

#define PROM_DEFAULT_MAX_PAGE_BYTES	   ((size_t)64 << 20)
#define PROM_DEFAULT_MAX_LINE_BYTES	   ((size_t)64 << 10)
#define PROM_DEFAULT_MAX_NAME_BYTES	   1024
#define PROM_DEFAULT_MAX_LABEL_VALUE_BYTES ((size_t)16 << 10)
#define PROM_DEFAULT_MAX_LABELS_PER_SAMPLE 64
#define PROM_DEFAULT_MAX_SAMPLES	   200000
#define PROM_DEFAULT_MAX_LABELS		   2000000
#define PROM_DEFAULT_MAX_NAMES		   200000

/*
 * Longest float literal accepted (values, "le", "quantile"): the longest
 * shortest-round-trip double is 24 bytes; the margin covers exporters that
 * print more digits than needed.
 */
#define PROM_FLOAT_MAX_BYTES 64

/*
 * Parses len bytes of text into a page with the default limits.
 * Returns 0 and sets *out, or a negative errno with *out = NULL and err
 * (when not NULL) saying where and why: -EINVAL for a format error, -E2BIG
 * when a limit is exceeded, -ENOMEM when memory runs out.
 */
int prom_parse(const char *text, size_t len, struct prom_page **out,
	       struct prom_error *err);

/* prom_parse() with explicit limits; limits may be NULL for the defaults. */
int prom_parse_limited(const char *text, size_t len,
		       const struct prom_limits *limits, struct prom_page **out,
		       struct prom_error *err);

void prom_page_free(struct prom_page *page);

/* The family named exactly name, or NULL. */
const struct prom_family *prom_page_find_family(const struct prom_page *page,
						const char *name);

/*
 * Walks the samples named exactly sample_name ("x_bucket" finds the bucket
 * lines of histogram x wherever its family is):
 *
 *	struct prom_sample_iter it;
 *	const struct prom_sample *s;
 *
 *	prom_sample_iter_init(&it, page, "x_bucket");
 *	while ((s = prom_sample_iter_next(&it)))
 *		...
 */
struct prom_sample_iter {
	const struct prom_sample *cursor;
	const struct prom_sample *end;
	const char *name;
	const struct prom_family *family; /* NULL when the name is unknown */
};

/*
 * Returns whether the page knows sample_name: it has samples of that name,
 * or a family declares it (a HELP/TYPE line for it, or for the histogram or
 * summary it would belong to) even if no sample exists yet.
 */
bool prom_sample_iter_init(struct prom_sample_iter *it,
			   const struct prom_page *page,
			   const char *sample_name);
const struct prom_sample *prom_sample_iter_next(struct prom_sample_iter *it);

/* The value of the label named label_name, or NULL when absent. */
const char *prom_sample_label(const struct prom_sample *sample,
			      const char *label_name);

/*
 * Parses a float exactly as sample values are parsed (see the top of this
 * file); text need not be NUL-terminated. Returns 0, -EINVAL (not a float),
 * -ERANGE (too big for a double) or -E2BIG (longer than
 * PROM_FLOAT_MAX_BYTES).
 */
int prom_parse_float(const char *text, size_t len, double *out);

/* "counter", "gauge", ...; "unknown" for a value outside the enum. */
const char *prom_type_name(enum prom_type type);

#endif /* KANARY_PROMPARSE_H */
