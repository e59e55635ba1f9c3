/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * metric_presets.h - what a backend's /metrics page means for canary
 * analysis: which series count requests and errors, where latency and
 * predicted classes are, per model server (presets) or per service (JSON),
 * and the arithmetic between two scrapes of one backend.
 *
 * Selectors are written like PromQL instant selectors:
 *
 *	name
 *	name{label="v", other!="w", code=~"5..", reason!~"CANCELED|OTHER",}
 *
 * The name is [a-zA-Z_:][a-zA-Z0-9_:]*; values are double-quoted with the
 * escapes \\, \" and \n. =~ and !~ take a POSIX extended regular expression
 * (regex.h, not RE2: no \d, no lazy quantifiers) that must match the whole
 * value, as Prometheus anchors them; what is refused is in selector_regex.h.
 * A label missing from a series has the value "", as in Prometheus.
 *
 * A service's "metrics" JSON object:
 *
 *	{
 *	  "preset": "vllm",
 *	  "requests": ["sel", ...] | "sel",
 *	  "errors": ["sel", ...] | "sel",
 *	  "latency_histogram": "sel" | {"metric": "sel",
 *	                                "seconds_per_unit": 0.001} | null,
 *	  "latency_duration": {"sum": "sel", "count": "sel",
 *	                       "seconds_per_unit": 1e-6} | null,
 *	  "predictions": {"metric": "sel", "label": "label_name"} | null
 *	}
 *
 * Token timing of LLM servers is not configured in JSON: a preset that
 * knows its server's time-to-first-token and inter-token latency
 * histograms (vllm, triton) reads them whenever they are on the page, and
 * a page without them reads as before. TGI has no TTFT series (see the
 * preset); its per-request mean time per token stands for ITL.
 *
 * Every key is optional, but the result must have requests. "preset" fills
 * in everything first; each other key present replaces that part of it
 * ("errors": [] means no error series, null removes latency or
 * predictions). latency_histogram names the histogram without its
 * _bucket/_sum/_count suffix; latency_duration pairs a counter of summed
 * durations with a counter of requests (mean latency only).
 * seconds_per_unit defaults to 1. At most one latency kind may be given.
 * Unknown keys and wrong types are errors naming the key.
 *
 * All structs here are plain values (fixed arrays, no pointers into other
 * memory), so the agent can copy them freely.
 */
#ifndef KANARY_METRIC_PRESETS_H
#define KANARY_METRIC_PRESETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "metrics/promparse.h"

#define METRIC_NAME_MAX_BYTES	     128 /* with the NUL */
#define METRIC_LABEL_NAME_MAX_BYTES  64	 /* with the NUL */
#define METRIC_MATCH_VALUE_MAX_BYTES 128 /* with the NUL */
#define METRIC_MATCHERS_MAX	     8	 /* per selector */
#define METRIC_SELECTORS_MAX	     4	 /* per role (requests, errors) */
#define METRIC_PRESET_NAME_MAX_BYTES 32

enum metric_match_op {
	METRIC_MATCH_EQUAL,	/* = */
	METRIC_MATCH_NOT_EQUAL, /* != */
	METRIC_MATCH_REGEX,	/* =~ */
	METRIC_MATCH_NOT_REGEX, /* !~ */
};

struct metric_matcher {
	char label[METRIC_LABEL_NAME_MAX_BYTES];
	enum metric_match_op op;
	char value[METRIC_MATCH_VALUE_MAX_BYTES]; /* unescaped */
};

struct metric_selector {
	char name[METRIC_NAME_MAX_BYTES];
	unsigned matcher_count;
	struct metric_matcher matchers[METRIC_MATCHERS_MAX];
};

enum metric_latency_kind {
	METRIC_LATENCY_NONE,
	/* A histogram: buckets, sum and count */
	METRIC_LATENCY_HISTOGRAM,
	/* Summed durations over a request count: mean latency only */
	METRIC_LATENCY_DURATION,
};

/* A server's current and older name for one histogram */
#define METRIC_TOKEN_NAMES_MAX 2

/*
 * An optional histogram of token timing (TTFT or ITL): the first of names
 * that the page has is read; a page with none of them simply has no such
 * figure. name_count 0: the server exports none.
 */
struct metric_token_histogram {
	unsigned name_count;
	struct metric_selector names[METRIC_TOKEN_NAMES_MAX];
	double seconds_per_unit; /* 1e-3 for milliseconds */
};

struct metric_spec {
	char preset[METRIC_PRESET_NAME_MAX_BYTES]; /* "" when none */
	/*
	 * Requests and errors each sum the series their selectors match; a
	 * series matched by two selectors of one role counts once.
	 */
	unsigned request_selector_count;
	struct metric_selector requests[METRIC_SELECTORS_MAX];
	unsigned error_selector_count;
	struct metric_selector errors[METRIC_SELECTORS_MAX];
	struct {
		enum metric_latency_kind kind;
		/* HISTOGRAM: base name and matchers for its three series */
		struct metric_selector histogram;
		/* DURATION: summed durations, and the requests they cover */
		struct metric_selector duration_sum;
		struct metric_selector duration_count;
		double seconds_per_unit; /* 1e-6 for microseconds */
	} latency;
	struct metric_token_histogram ttft; /* time to first token */
	struct metric_token_histogram itl;  /* inter-token latency */
	bool has_predictions;
	struct {
		struct metric_selector counter;
		char label[METRIC_LABEL_NAME_MAX_BYTES]; /* holds the class */
	} predictions;
};

#define METRICS_BUCKETS_MAX	     64
#define METRICS_CLASSES_MAX	     64
#define METRICS_CLASS_NAME_MAX_BYTES 64 /* with the NUL */

/* What a sample or a delta holds, and what was noticed on the way. */
enum metrics_flag {
	METRICS_HAVE_REQUESTS = 1u << 0,
	/* An error series name is on the page (none counted yet is fine) */
	METRICS_HAVE_ERRORS = 1u << 1,
	/* Buckets valid (and sum and count) */
	METRICS_HAVE_LATENCY_HISTOGRAM = 1u << 2,
	/* latency.sum_seconds and latency.count valid */
	METRICS_HAVE_LATENCY_MEAN = 1u << 3,
	METRICS_HAVE_PREDICTIONS = 1u << 4,
	/* ttft buckets valid (and sum and count) */
	METRICS_HAVE_TTFT = 1u << 5,
	/* itl buckets valid (and sum and count) */
	METRICS_HAVE_ITL = 1u << 6,

	/* Histogram sanity, as read: none of these fails the extraction */
	METRICS_HISTOGRAM_NO_INF_BUCKET = 1u << 8,
	METRICS_HISTOGRAM_NOT_MONOTONIC = 1u << 9,
	/* The +Inf bucket differs from _count */
	METRICS_HISTOGRAM_COUNT_MISMATCH = 1u << 10,
	/* Series had different bounds; only the shared ones are kept */
	METRICS_HISTOGRAM_MIXED_LAYOUTS = 1u << 11,
	/* No _sum or no _count series: sum 0, count from the +Inf bucket */
	METRICS_HISTOGRAM_INCOMPLETE = 1u << 12,
	/* A counter was NaN, infinite or negative, or a bucket had no float
	 * "le": that series was left out */
	METRICS_SKIPPED_BAD_VALUES = 1u << 13,
	/* More classes than fit, or names too long: counted in other_count */
	METRICS_PREDICTIONS_OVERFLOW = 1u << 14,

	/* Deltas only */
	/* A counter went down: the backend restarted, deltas are end values */
	METRICS_DELTA_COUNTER_RESET = 1u << 16,
	/* Bucket bounds differ between start and end: no bucket deltas */
	METRICS_DELTA_LAYOUT_CHANGED = 1u << 17,
};

struct metrics_histogram {
	unsigned bucket_count;
	double upper_bound_seconds[METRICS_BUCKETS_MAX]; /* ascending */
	double cumulative_count[METRICS_BUCKETS_MAX];
	double sum_seconds;
	double count;
};

struct metrics_class {
	char label[METRICS_CLASS_NAME_MAX_BYTES];
	double count;
};

struct metrics_predictions {
	unsigned class_count;
	struct metrics_class classes[METRICS_CLASSES_MAX]; /* by label */
	double other_count;
};

/* What one scrape of one backend says. */
struct metrics_sample {
	uint32_t flags; /* enum metrics_flag */
	double requests;
	double errors;
	unsigned request_series; /* series counted; 0: none matched */
	unsigned error_series;
	struct metrics_histogram latency;
	struct metrics_histogram ttft; /* METRICS_HAVE_TTFT */
	struct metrics_histogram itl;  /* METRICS_HAVE_ITL */
	struct metrics_predictions predictions;
};

/* What happened between two scrapes of one backend. */
struct metrics_delta {
	uint32_t flags; /* enum metrics_flag */
	double requests;
	double errors;
	struct metrics_histogram latency; /* per-bucket increases */
	struct metrics_histogram ttft;	  /* only with bucket deltas */
	struct metrics_histogram itl;
	struct metrics_predictions predictions;
};

/*
 * Parses a selector. Returns 0, or -EINVAL (-E2BIG for a name or value
 * longer than its array, or too many matchers) with err saying what is
 * wrong where.
 */
int metric_selector_parse(const char *text, struct metric_selector *out,
			  char *err, size_t err_len);

/* Writes sel back in selector syntax; returns what snprintf returns. */
int metric_selector_format(const struct metric_selector *sel, char *buf,
			   size_t len);

/*
 * Fills *out with the preset called name ("vllm", "triton", "tgi",
 * "torchserve", "kserve", "bentoml", "generic", "kanary-modelserver").
 * Returns 0 or -ENOENT.
 */
int metric_spec_preset(const char *name, struct metric_spec *out);

/* The preset names in order, then NULL. */
const char *metric_preset_name(size_t index);

/*
 * Reads a service's metrics spec from JSON (shape above). Returns 0, or
 * -EINVAL (-E2BIG for too many selectors) with err naming the key.
 */
int metric_spec_from_json(const json_t *obj, struct metric_spec *out, char *err,
			  size_t err_len);

/*
 * Reads one scrape of a backend through spec. Returns 0; -ENOENT when a
 * series the spec needs is not on the page (requests, the latency series,
 * the prediction counter; error series are optional: absent means none
 * happened; a page without the latency series but with TTFT or ITL is
 * still read, without latency: an LLM server's token timing is the figure
 * that matters there); -EINVAL for a spec that cannot be applied (bad regex, a
 * gauge histogram as latency); -E2BIG for more than METRICS_BUCKETS_MAX bucket
 * bounds. On failure why says exactly what is missing or wrong.
 */
int metrics_extract(const struct prom_page *page,
		    const struct metric_spec *spec, struct metrics_sample *out,
		    char *why, size_t why_len);

/*
 * end minus start, per quantity present in both. A counter that went down
 * means the backend restarted: every delta of the window is then its end
 * value (what Prometheus' increase() assumes) and METRICS_DELTA_COUNTER_RESET
 * is set. Histograms whose bucket bounds changed give no bucket deltas
 * (METRICS_DELTA_LAYOUT_CHANGED) but still a mean; TTFT and ITL, judged
 * by their quantiles alone, are then left out of the delta. Sanity notes of
 * both samples carry over. Returns 0 or -EINVAL for NULL arguments.
 */
int metrics_delta(const struct metrics_sample *start,
		  const struct metrics_sample *end, struct metrics_delta *out);

#endif /* KANARY_METRIC_PRESETS_H */
