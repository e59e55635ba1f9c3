/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * metric_presets.c - selectors, the per-server presets, service specs from
 * JSON, and reading a parsed /metrics page into request, error, latency and
 * prediction counts (see metric_presets.h).
 *
 * Regular expressions are compiled on each metrics_extract() call, not kept
 * in the spec: that keeps struct metric_spec a plain value the agent can
 * copy, and a scrape every few seconds makes the cost negligible. Patterns
 * are still compiled once when a selector is parsed so that a bad one is
 * refused with the configuration, not at the first scrape.
 */
#include "metrics/metric_presets.h"
#include "metrics/selector_regex.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERROR_DETAIL_BYTES 256
/* Floats from summed integer-valued counters are exact; float-valued
 * histograms may differ in the last bits depending on summation order. */
#define COUNT_MATCH_RELATIVE_TOLERANCE 1e-9
#define BUCKET_SUFFIX_MAX_BYTES	       8 /* "_bucket" and its NUL */

static void set_message(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_message(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!buf || len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

/* ---- selectors ---------------------------------------------------------- */

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

static const char *skip_space(const char *c)
{
	while (is_space(*c))
		c++;
	return c;
}

static bool is_label_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_label_char(char c)
{
	return is_label_start(c) || (c >= '0' && c <= '9');
}

static bool is_metric_start(char c)
{
	return is_label_start(c) || c == ':';
}

static bool is_metric_char(char c)
{
	return is_label_char(c) || c == ':';
}

static bool is_regex_op(enum metric_match_op op)
{
	return op == METRIC_MATCH_REGEX || op == METRIC_MATCH_NOT_REGEX;
}

static bool valid_label_name(const char *s)
{
	if (!is_label_start(*s))
		return false;
	while (*++s)
		if (!is_label_char(*s))
			return false;
	return true;
}

static int selector_error(char *err, size_t err_len, const char *text,
			  const char *at, int code, const char *what)
{
	set_message(err, err_len, "selector \"%s\": %s at column %zu", text,
		    what, (size_t)(at - text) + 1);
	return code;
}

/* Reads "..." at *cursor (the opening quote) into out. */
static int read_selector_string(const char *text, const char **cursor,
				char *out, size_t out_size, char *err,
				size_t err_len)
{
	const char *c = *cursor + 1;
	size_t len = 0;

	for (; *c != '"'; c++) {
		char ch = *c;

		if (ch == '\0')
			return selector_error(err, err_len, text, *cursor,
					      -EINVAL,
					      "value lacks its closing '\"'");
		if (ch == '\\') {
			c++;
			if (*c == 'n')
				ch = '\n';
			else if (*c == '\\' || *c == '"')
				ch = *c;
			else
				return selector_error(
				    err, err_len, text, c - 1, -EINVAL,
				    "invalid escape sequence (only \\\\, "
				    "\\\" and \\n are allowed)");
		}
		if (len + 1 >= out_size)
			return selector_error(err, err_len, text, *cursor,
					      -E2BIG, "value is too long");
		out[len++] = ch;
	}
	out[len] = '\0';
	*cursor = c + 1;
	return 0;
}

static int parse_matcher(const char *text, const char **cursor,
			 struct metric_selector *out, char *err, size_t err_len)
{
	struct metric_matcher *matcher;
	const char *c = *cursor, *start = c;
	char why[ERROR_DETAIL_BYTES];
	regex_t re;
	int rc;

	if (out->matcher_count >= METRIC_MATCHERS_MAX) {
		set_message(why, sizeof(why), "more than %d label matchers",
			    METRIC_MATCHERS_MAX);
		return selector_error(err, err_len, text, c, -E2BIG, why);
	}
	matcher = &out->matchers[out->matcher_count];
	if (!is_label_start(*c))
		return selector_error(err, err_len, text, c, -EINVAL,
				      "expected a label name or '}'");
	while (is_label_char(*c))
		c++;
	if ((size_t)(c - start) >= sizeof(matcher->label))
		return selector_error(err, err_len, text, start, -E2BIG,
				      "label name is too long");
	memcpy(matcher->label, start, (size_t)(c - start));
	matcher->label[c - start] = '\0';

	c = skip_space(c);
	if (c[0] == '=' && c[1] == '~') {
		matcher->op = METRIC_MATCH_REGEX;
		c += 2;
	} else if (c[0] == '!' && c[1] == '~') {
		matcher->op = METRIC_MATCH_NOT_REGEX;
		c += 2;
	} else if (c[0] == '!' && c[1] == '=') {
		matcher->op = METRIC_MATCH_NOT_EQUAL;
		c += 2;
	} else if (c[0] == '=') {
		matcher->op = METRIC_MATCH_EQUAL;
		c += 1;
	} else {
		return selector_error(err, err_len, text, c, -EINVAL,
				      "expected =, !=, =~ or !~ after the "
				      "label name");
	}
	c = skip_space(c);
	if (*c != '"')
		return selector_error(err, err_len, text, c, -EINVAL,
				      "expected '\"' to start the value");
	start = c;
	rc = read_selector_string(text, &c, matcher->value,
				  sizeof(matcher->value), err, err_len);
	if (rc)
		return rc;
	if (is_regex_op(matcher->op)) {
		if (selector_regex_compile(&re, matcher->value, why,
					   sizeof(why)))
			return selector_error(err, err_len, text, start,
					      -EINVAL, why);
		regfree(&re);
	}
	out->matcher_count++;
	*cursor = c;
	return 0;
}

int metric_selector_parse(const char *text, struct metric_selector *out,
			  char *err, size_t err_len)
{
	const char *c, *name;
	int rc;

	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (!text) {
		set_message(err, err_len, "no selector given");
		return -EINVAL;
	}
	c = skip_space(text);
	name = c;
	if (!is_metric_start(*c))
		return selector_error(err, err_len, text, c, -EINVAL,
				      "expected a metric name");
	while (is_metric_char(*c))
		c++;
	if ((size_t)(c - name) >= sizeof(out->name))
		return selector_error(err, err_len, text, name, -E2BIG,
				      "metric name is too long");
	memcpy(out->name, name, (size_t)(c - name));
	out->name[c - name] = '\0';

	c = skip_space(c);
	if (*c == '{') {
		c = skip_space(c + 1);
		while (*c != '}') {
			rc = parse_matcher(text, &c, out, err, err_len);
			if (rc)
				return rc;
			c = skip_space(c);
			if (*c == ',')
				c = skip_space(c + 1);
			else if (*c != '}')
				return selector_error(err, err_len, text, c,
						      -EINVAL,
						      "expected ',' or '}'");
		}
		c = skip_space(c + 1);
	}
	if (*c != '\0')
		return selector_error(err, err_len, text, c, -EINVAL,
				      "unexpected text after the selector");
	return 0;
}

int metric_selector_format(const struct metric_selector *sel, char *buf,
			   size_t len)
{
	static const char *const op_text[] = {
	    [METRIC_MATCH_EQUAL] = "=",
	    [METRIC_MATCH_NOT_EQUAL] = "!=",
	    [METRIC_MATCH_REGEX] = "=~",
	    [METRIC_MATCH_NOT_REGEX] = "!~",
	};
	size_t used = 0;
	unsigned i;
	int n;

#define APPEND(...)                                                            \
	do {                                                                   \
		n = snprintf(used < len ? buf + used : NULL,                   \
			     used < len ? len - used : 0, __VA_ARGS__);        \
		if (n < 0)                                                     \
			return n;                                              \
		used += (size_t)n;                                             \
	} while (0)

	if (!buf)
		len = 0;
	APPEND("%s", sel->name);
	if (sel->matcher_count)
		APPEND("{");
	for (i = 0; i < sel->matcher_count; i++) {
		const struct metric_matcher *m = &sel->matchers[i];
		const char *v;

		APPEND("%s%s%s\"", i ? "," : "", m->label, op_text[m->op]);
		for (v = m->value; *v; v++) {
			if (*v == '"' || *v == '\\')
				APPEND("\\%c", *v);
			else if (*v == '\n')
				APPEND("\\n");
			else
				APPEND("%c", *v);
		}
		APPEND("\"");
	}
	if (sel->matcher_count)
		APPEND("}");
#undef APPEND
	return (int)used;
}

/* ---- presets ------------------------------------------------------------ */

struct preset_def {
	const char *name;
	const char *requests[METRIC_SELECTORS_MAX + 1]; /* NULL-terminated */
	const char *errors[METRIC_SELECTORS_MAX + 1];
	enum metric_latency_kind latency;
	const char *latency_metric; /* histogram, or summed durations */
	const char *latency_count;  /* DURATION only */
	double seconds_per_unit;
	/* Token timing histograms, current name first; NULL-terminated */
	const char *ttft[METRIC_TOKEN_NAMES_MAX + 1];
	const char *itl[METRIC_TOKEN_NAMES_MAX + 1];
	double token_seconds_per_unit;
	const char *prediction_metric;
	const char *prediction_label;
};

#define SECONDS	     1.0
#define MILLISECONDS 1e-3
#define MICROSECONDS 1e-6

/*
 * Requests are what the server finished; errors what it failed. A series
 * a server creates lazily (first abort, first 5xx) is simply absent until
 * then, which reads as zero.
 */
static const struct preset_def presets[] = {
    /*
     * vLLM: vllm:request_success_total counts every finished request,
     * aborted ones included, split by finished_reason (stop, length,
     * abort, and error in later releases). Errors are the abort/error
     * reasons, plus the HTTP middleware's 5xx when it is enabled: those
     * fail before the engine and are in no engine counter. Latency is the
     * engine's end-to-end histogram (seconds). Token timing: the engine's
     * time to first token, and its inter-token latency, which releases
     * before the V1 engine called time_per_output_token.
     */
    {
	.name = "vllm",
	.requests = {"vllm:request_success_total"},
	.errors = {"vllm:request_success_total"
		   "{finished_reason=~\"abort|error\"}",
		   "http_requests_total{status=~\"5..\"}"},
	.latency = METRIC_LATENCY_HISTOGRAM,
	.latency_metric = "vllm:e2e_request_latency_seconds",
	.seconds_per_unit = SECONDS,
	.ttft = {"vllm:time_to_first_token_seconds"},
	.itl = {"vllm:inter_token_latency_seconds",
		"vllm:time_per_output_token_seconds"},
	.token_seconds_per_unit = SECONDS,
    },
    /*
     * Triton: a request either succeeds or fails, so requests are both
     * counters. Errors are failures but CANCELED (the client gave up);
     * builds without the reason label match too (reason is ""). There is
     * no latency histogram by default: the documented mean is summed
     * request duration (us) over successful requests. Decoupled (streaming)
     * models export a first-response histogram in milliseconds when
     * histogram_latencies is on: that is Triton's time to first token.
     */
    {
	.name = "triton",
	.requests = {"nv_inference_request_success",
		     "nv_inference_request_failure"},
	.errors = {"nv_inference_request_failure"
		   "{reason!=\"CANCELED\"}"},
	.latency = METRIC_LATENCY_DURATION,
	.latency_metric = "nv_inference_request_duration_us",
	.latency_count = "nv_inference_request_success",
	.seconds_per_unit = MICROSECONDS,
	.ttft = {"nv_inference_first_response_histogram_ms"},
	.token_seconds_per_unit = MILLISECONDS,
    },
    /*
     * TGI: tgi_request_count counts every request the router took; every
     * tgi_request_failure is an error whatever its err kind, validation
     * included, since a canary that refuses inputs the stable pool
     * accepts is a regression. Latency is the end-to-end histogram.
     *
     * TGI has no time-to-first-token series: it exports the queue time
     * and the per-request mean time per token, and the prefill that sits
     * between them only per batch (tgi_batch_forward_duration). A sum of
     * the queue's p99 and a token's p99 is not the p99 of anything, so no
     * TTFT is read rather than a wrong one. The mean time per token is
     * read as ITL: a histogram of per-request means, so its p99 is the
     * slowest requests' average pace, smoother than vLLM's per-token ITL.
     */
    {
	.name = "tgi",
	.requests = {"tgi_request_count"},
	.errors = {"tgi_request_failure"},
	.latency = METRIC_LATENCY_HISTOGRAM,
	.latency_metric = "tgi_request_duration",
	.seconds_per_unit = SECONDS,
	.itl = {"tgi_request_mean_time_per_token_duration"},
	.token_seconds_per_unit = SECONDS,
    },
    /*
     * TorchServe: its only error counter is host-wide Requests5XX (every
     * API of the frontend), so requests are the host-wide answers too,
     * 2XX + 4XX + 5XX: a rate of one scope, right when each backend is one
     * TorchServe host, as in a canary pool. (ts_inference_requests_total
     * counts a model's inferences only; against host-wide errors it can
     * give a rate above 100 %.) Latency is the cumulative microsecond
     * counter over that model's inferences.
     */
    {
	.name = "torchserve",
	.requests = {"Requests2XX", "Requests4XX", "Requests5XX"},
	.errors = {"Requests5XX"},
	.latency = METRIC_LATENCY_DURATION,
	.latency_metric = "ts_inference_latency_microseconds",
	.latency_count = "ts_inference_requests_total",
	.seconds_per_unit = MICROSECONDS,
    },
    /*
     * KServe's Python model server has no request or error counter: the
     * predict histogram's count is the request count, and errors are not
     * exported (a runtime behind KServe has its own preset).
     */
    {
	.name = "kserve",
	.requests = {"request_predict_seconds_count"},
	.latency = METRIC_LATENCY_HISTOGRAM,
	.latency_metric = "request_predict_seconds",
	.seconds_per_unit = SECONDS,
    },
    /*
     * BentoML counts every HTTP route, the Swagger UI's static files and
     * health probes included, which would dilute the error rate: those
     * endpoints are left out. Errors are 5xx; 4xx are the client's.
     */
    {
	.name = "bentoml",
	.requests = {"bentoml_service_request_total"
		     "{endpoint!~\"/|/docs[.]json|/metrics|/healthz"
		     "|/livez|/readyz|/static_content/.*\"}"},
	.errors = {"bentoml_service_request_total"
		   "{endpoint!~\"/|/docs[.]json|/metrics|/healthz"
		   "|/livez|/readyz|/static_content/.*\","
		   "http_response_code=~\"5..\"}"},
	.latency = METRIC_LATENCY_HISTOGRAM,
	.latency_metric = "bentoml_service_request_duration_seconds"
			  "{endpoint!~\"/|/docs[.]json|/metrics"
			  "|/healthz|/livez|/readyz"
			  "|/static_content/.*\"}",
	.seconds_per_unit = SECONDS,
    },
    /*
     * The common HTTP instrumentation: Go's promhttp and most libraries
     * label the status "code" (numeric), prometheus_fastapi_instrumentator
     * labels it "status" ("5xx"); either marks a 5xx, and a series that
     * carries both counts once.
     */
    {
	.name = "generic",
	.requests = {"http_requests_total"},
	.errors = {"http_requests_total{status=~\"5..\"}",
		   "http_requests_total{code=~\"5..\"}"},
	.latency = METRIC_LATENCY_HISTOGRAM,
	.latency_metric = "http_request_duration_seconds",
	.seconds_per_unit = SECONDS,
    },
    /*
     * kanary's own model server: the generic HTTP series, plus
     * kanary_predictions_total{label="<class>"} for the class mix.
     */
    {
	.name = "kanary-modelserver",
	.requests = {"http_requests_total"},
	.errors = {"http_requests_total{status=~\"5..\"}",
		   "http_requests_total{code=~\"5..\"}"},
	.latency = METRIC_LATENCY_HISTOGRAM,
	.latency_metric = "http_request_duration_seconds",
	.seconds_per_unit = SECONDS,
	.prediction_metric = "kanary_predictions_total",
	.prediction_label = "label",
    },
};

#define PRESET_COUNT (sizeof(presets) / sizeof(presets[0]))

const char *metric_preset_name(size_t index)
{
	return index < PRESET_COUNT ? presets[index].name : NULL;
}

static void known_presets(char *buf, size_t len)
{
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < PRESET_COUNT && used < len; i++) {
		int n = snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
				 presets[i].name);

		if (n < 0)
			return;
		used += (size_t)n;
	}
}

static int preset_selectors(const char *const *texts,
			    struct metric_selector *out, unsigned *count)
{
	int rc;

	for (*count = 0; *count < METRIC_SELECTORS_MAX && texts[*count];
	     (*count)++) {
		rc =
		    metric_selector_parse(texts[*count], &out[*count], NULL, 0);
		if (rc)
			return rc;
	}
	return 0;
}

static int preset_token_histogram(const char *const *names,
				  const struct preset_def *def,
				  struct metric_token_histogram *out)
{
	int rc;

	out->seconds_per_unit = def->token_seconds_per_unit;
	for (out->name_count = 0;
	     out->name_count < METRIC_TOKEN_NAMES_MAX && names[out->name_count];
	     out->name_count++) {
		rc = metric_selector_parse(names[out->name_count],
					   &out->names[out->name_count], NULL,
					   0);
		if (rc)
			return rc;
	}
	return 0;
}

int metric_spec_preset(const char *name, struct metric_spec *out)
{
	const struct preset_def *def = NULL;
	size_t i;
	int rc;

	if (!name || !out)
		return -EINVAL;
	for (i = 0; i < PRESET_COUNT; i++)
		if (strcmp(presets[i].name, name) == 0)
			def = &presets[i];
	if (!def)
		return -ENOENT;

	memset(out, 0, sizeof(*out));
	snprintf(out->preset, sizeof(out->preset), "%s", def->name);
	rc = preset_selectors(def->requests, out->requests,
			      &out->request_selector_count);
	if (!rc)
		rc = preset_selectors(def->errors, out->errors,
				      &out->error_selector_count);
	if (rc)
		return rc;
	out->latency.kind = def->latency;
	out->latency.seconds_per_unit = def->seconds_per_unit;
	if (def->latency == METRIC_LATENCY_HISTOGRAM)
		rc = metric_selector_parse(def->latency_metric,
					   &out->latency.histogram, NULL, 0);
	if (def->latency == METRIC_LATENCY_DURATION) {
		rc = metric_selector_parse(def->latency_metric,
					   &out->latency.duration_sum, NULL, 0);
		if (!rc)
			rc = metric_selector_parse(def->latency_count,
						   &out->latency.duration_count,
						   NULL, 0);
	}
	if (!rc)
		rc = preset_token_histogram(def->ttft, def, &out->ttft);
	if (!rc)
		rc = preset_token_histogram(def->itl, def, &out->itl);
	if (rc)
		return rc;
	if (def->prediction_metric) {
		out->has_predictions = true;
		rc = metric_selector_parse(def->prediction_metric,
					   &out->predictions.counter, NULL, 0);
		snprintf(out->predictions.label, sizeof(out->predictions.label),
			 "%s", def->prediction_label);
	}
	return rc;
}

/* ---- specs from JSON ---------------------------------------------------- */

static int check_keys(const json_t *obj, const char *where,
		      const char *const *known, const char *known_text,
		      char *err, size_t err_len)
{
	const char *key;
	json_t *value;
	size_t i;

	/* jansson iterates non-const objects only; nothing is modified */
	json_object_foreach((json_t *)obj, key, value)
	{
		bool found = false;

		for (i = 0; known[i]; i++)
			if (strcmp(key, known[i]) == 0)
				found = true;
		if (!found) {
			set_message(err, err_len,
				    "%sunknown key \"%s\" (known: %s)", where,
				    key, known_text);
			return -EINVAL;
		}
	}
	return 0;
}

static int json_selector(const json_t *value, const char *field,
			 struct metric_selector *out, char *err, size_t err_len)
{
	char detail[ERROR_DETAIL_BYTES];
	int rc;

	if (!json_is_string(value)) {
		set_message(err, err_len, "%s must be a selector string",
			    field);
		return -EINVAL;
	}
	rc = metric_selector_parse(json_string_value(value), out, detail,
				   sizeof(detail));
	if (rc)
		set_message(err, err_len, "%s: %s", field, detail);
	return rc;
}

static int json_selector_list(const json_t *value, const char *field,
			      struct metric_selector *out, unsigned *count,
			      char *err, size_t err_len)
{
	char element[64];
	size_t i, n;
	int rc;

	*count = 0;
	if (json_is_string(value)) {
		rc = json_selector(value, field, &out[0], err, err_len);
		if (!rc)
			*count = 1;
		return rc;
	}
	if (!json_is_array(value)) {
		set_message(err, err_len,
			    "%s must be a selector string or an array of them",
			    field);
		return -EINVAL;
	}
	n = json_array_size(value);
	if (n > METRIC_SELECTORS_MAX) {
		set_message(err, err_len,
			    "%s has %zu selectors, at most %d are supported",
			    field, n, METRIC_SELECTORS_MAX);
		return -E2BIG;
	}
	for (i = 0; i < n; i++) {
		snprintf(element, sizeof(element), "%s[%zu]", field, i);
		rc = json_selector(json_array_get(value, i), element, &out[i],
				   err, err_len);
		if (rc)
			return rc;
	}
	*count = (unsigned)n;
	return 0;
}

static int json_seconds_per_unit(const json_t *obj, const char *field,
				 double *out, char *err, size_t err_len)
{
	const json_t *value = json_object_get(obj, "seconds_per_unit");

	*out = SECONDS;
	if (!value)
		return 0;
	if (!json_is_number(value) || !(json_number_value(value) > 0) ||
	    !isfinite(json_number_value(value))) {
		set_message(err, err_len,
			    "%s.seconds_per_unit must be a positive number "
			    "(1e-3 for milliseconds, 1e-6 for microseconds)",
			    field);
		return -EINVAL;
	}
	*out = json_number_value(value);
	return 0;
}

static int json_latency_histogram(const json_t *value, struct metric_spec *out,
				  char *err, size_t err_len)
{
	static const char *const known[] = {"metric", "seconds_per_unit", NULL};
	int rc;

	memset(&out->latency, 0, sizeof(out->latency));
	if (json_is_null(value))
		return 0;
	if (json_is_string(value)) {
		out->latency.seconds_per_unit = SECONDS;
		rc = json_selector(value, "latency_histogram",
				   &out->latency.histogram, err, err_len);
	} else if (json_is_object(value)) {
		rc = check_keys(value, "latency_histogram: ", known,
				"metric, seconds_per_unit", err, err_len);
		if (!rc && !json_object_get(value, "metric")) {
			set_message(err, err_len,
				    "latency_histogram.metric is missing");
			rc = -EINVAL;
		}
		if (!rc)
			rc = json_selector(json_object_get(value, "metric"),
					   "latency_histogram.metric",
					   &out->latency.histogram, err,
					   err_len);
		if (!rc)
			rc = json_seconds_per_unit(
			    value, "latency_histogram",
			    &out->latency.seconds_per_unit, err, err_len);
	} else {
		set_message(err, err_len,
			    "latency_histogram must be a selector string, an "
			    "object or null");
		rc = -EINVAL;
	}
	if (!rc)
		out->latency.kind = METRIC_LATENCY_HISTOGRAM;
	return rc;
}

static int json_latency_duration(const json_t *value, struct metric_spec *out,
				 char *err, size_t err_len)
{
	static const char *const known[] = {"sum", "count", "seconds_per_unit",
					    NULL};
	int rc;

	memset(&out->latency, 0, sizeof(out->latency));
	if (json_is_null(value))
		return 0;
	if (!json_is_object(value)) {
		set_message(err, err_len,
			    "latency_duration must be an object or null");
		return -EINVAL;
	}
	rc = check_keys(value, "latency_duration: ", known,
			"sum, count, seconds_per_unit", err, err_len);
	if (!rc && !json_object_get(value, "sum")) {
		set_message(err, err_len, "latency_duration.sum is missing");
		rc = -EINVAL;
	}
	if (!rc && !json_object_get(value, "count")) {
		set_message(err, err_len, "latency_duration.count is missing");
		rc = -EINVAL;
	}
	if (!rc)
		rc = json_selector(json_object_get(value, "sum"),
				   "latency_duration.sum",
				   &out->latency.duration_sum, err, err_len);
	if (!rc)
		rc = json_selector(json_object_get(value, "count"),
				   "latency_duration.count",
				   &out->latency.duration_count, err, err_len);
	if (!rc)
		rc = json_seconds_per_unit(value, "latency_duration",
					   &out->latency.seconds_per_unit, err,
					   err_len);
	if (!rc)
		out->latency.kind = METRIC_LATENCY_DURATION;
	return rc;
}

static int json_predictions(const json_t *value, struct metric_spec *out,
			    char *err, size_t err_len)
{
	static const char *const known[] = {"metric", "label", NULL};
	const json_t *label;
	int rc;

	out->has_predictions = false;
	memset(&out->predictions, 0, sizeof(out->predictions));
	if (json_is_null(value))
		return 0;
	if (!json_is_object(value)) {
		set_message(err, err_len,
			    "predictions must be an object or null");
		return -EINVAL;
	}
	rc = check_keys(value, "predictions: ", known, "metric, label", err,
			err_len);
	if (rc)
		return rc;
	if (!json_object_get(value, "metric")) {
		set_message(err, err_len, "predictions.metric is missing");
		return -EINVAL;
	}
	rc = json_selector(json_object_get(value, "metric"),
			   "predictions.metric", &out->predictions.counter, err,
			   err_len);
	if (rc)
		return rc;
	label = json_object_get(value, "label");
	if (!json_is_string(label) ||
	    strlen(json_string_value(label)) >=
		sizeof(out->predictions.label) ||
	    !valid_label_name(json_string_value(label))) {
		set_message(err, err_len,
			    "predictions.label must be a label name "
			    "([a-zA-Z_][a-zA-Z0-9_]*, below %d bytes)",
			    METRIC_LABEL_NAME_MAX_BYTES);
		return -EINVAL;
	}
	snprintf(out->predictions.label, sizeof(out->predictions.label), "%s",
		 json_string_value(label));
	out->has_predictions = true;
	return 0;
}

int metric_spec_from_json(const json_t *obj, struct metric_spec *out, char *err,
			  size_t err_len)
{
	static const char *const known[] = {
	    "preset",		"requests",    "errors", "latency_histogram",
	    "latency_duration", "predictions", NULL,
	};
	const json_t *value, *histogram, *duration;
	char names[ERROR_DETAIL_BYTES];
	int rc;

	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (!json_is_object(obj)) {
		set_message(err, err_len, "metrics spec must be a JSON object");
		return -EINVAL;
	}
	rc = check_keys(obj, "", known,
			"preset, requests, errors, latency_histogram, "
			"latency_duration, predictions",
			err, err_len);
	if (rc)
		return rc;

	value = json_object_get(obj, "preset");
	if (value) {
		if (!json_is_string(value)) {
			set_message(err, err_len,
				    "preset must be a string naming a preset");
			return -EINVAL;
		}
		rc = metric_spec_preset(json_string_value(value), out);
		if (rc) {
			known_presets(names, sizeof(names));
			set_message(err, err_len,
				    "preset \"%s\" is unknown (known: %s)",
				    json_string_value(value), names);
			return -EINVAL;
		}
	}

	value = json_object_get(obj, "requests");
	if (value) {
		rc = json_selector_list(value, "requests", out->requests,
					&out->request_selector_count, err,
					err_len);
		if (rc)
			return rc;
	}
	value = json_object_get(obj, "errors");
	if (value) {
		rc = json_selector_list(value, "errors", out->errors,
					&out->error_selector_count, err,
					err_len);
		if (rc)
			return rc;
	}

	histogram = json_object_get(obj, "latency_histogram");
	duration = json_object_get(obj, "latency_duration");
	if (histogram && duration && !json_is_null(histogram) &&
	    !json_is_null(duration)) {
		set_message(err, err_len,
			    "give latency_histogram or latency_duration, not "
			    "both");
		return -EINVAL;
	}
	if (histogram) {
		rc = json_latency_histogram(histogram, out, err, err_len);
		if (rc)
			return rc;
	}
	if (duration && (!json_is_null(duration) || !histogram)) {
		rc = json_latency_duration(duration, out, err, err_len);
		if (rc)
			return rc;
	}

	value = json_object_get(obj, "predictions");
	if (value) {
		rc = json_predictions(value, out, err, err_len);
		if (rc)
			return rc;
	}

	if (out->request_selector_count == 0) {
		set_message(err, err_len,
			    "metrics spec has no requests: name a \"preset\" "
			    "or give \"requests\"");
		return -EINVAL;
	}
	return 0;
}

/* ---- extraction --------------------------------------------------------- */

struct compiled_selector {
	const struct metric_selector *sel; /* its matchers */
	const char *name; /* the series to read: sel->name, or a member's */
	regex_t regex[METRIC_MATCHERS_MAX];
	bool compiled[METRIC_MATCHERS_MAX];
};

static void selector_release(struct compiled_selector *cs)
{
	unsigned i;

	for (i = 0; i < METRIC_MATCHERS_MAX; i++) {
		if (cs->compiled[i])
			regfree(&cs->regex[i]);
		cs->compiled[i] = false;
	}
}

static int selector_compile(struct compiled_selector *cs,
			    const struct metric_selector *sel, char *why,
			    size_t why_len)
{
	char detail[ERROR_DETAIL_BYTES];
	unsigned i;

	memset(cs, 0, sizeof(*cs));
	cs->sel = sel;
	cs->name = sel->name;
	for (i = 0; i < sel->matcher_count && i < METRIC_MATCHERS_MAX; i++) {
		if (!is_regex_op(sel->matchers[i].op))
			continue;
		if (selector_regex_compile(&cs->regex[i],
					   sel->matchers[i].value, detail,
					   sizeof(detail))) {
			set_message(why, why_len, "selector for %s: %s",
				    sel->name, detail);
			selector_release(cs);
			return -EINVAL;
		}
		cs->compiled[i] = true;
	}
	return 0;
}

static bool selector_matches(const struct compiled_selector *cs,
			     const struct prom_sample *sample)
{
	const struct metric_selector *sel = cs->sel;
	unsigned i;

	for (i = 0; i < sel->matcher_count && i < METRIC_MATCHERS_MAX; i++) {
		const struct metric_matcher *m = &sel->matchers[i];
		const char *value = prom_sample_label(sample, m->label);
		bool match;

		if (!value)
			value = "";
		switch (m->op) {
		case METRIC_MATCH_EQUAL:
			match = strcmp(value, m->value) == 0;
			break;
		case METRIC_MATCH_NOT_EQUAL:
			match = strcmp(value, m->value) != 0;
			break;
		case METRIC_MATCH_REGEX:
			match = selector_regex_full_match(&cs->regex[i], value);
			break;
		case METRIC_MATCH_NOT_REGEX:
			match =
			    !selector_regex_full_match(&cs->regex[i], value);
			break;
		default:
			match = false;
		}
		if (!match)
			return false;
	}
	return true;
}

static bool counter_value_ok(double value)
{
	return isfinite(value) && value >= 0;
}

struct series_sum {
	double total;
	unsigned series;
	unsigned present;    /* selectors whose name the page knows */
	const char *missing; /* first selector name the page lacks */
};

/*
 * Sums the series matched by any of n selectors; a series matched by more
 * than one counts once (the selectors are a union).
 */
static void sum_series(const struct prom_page *page,
		       const struct compiled_selector *cs, unsigned n,
		       struct series_sum *out, uint32_t *flags)
{
	const struct prom_sample *sample;
	struct prom_sample_iter it;
	unsigned i, j;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < n; i++) {
		if (!prom_sample_iter_init(&it, page, cs[i].name)) {
			if (!out->missing)
				out->missing = cs[i].name;
			continue;
		}
		out->present++;
		while ((sample = prom_sample_iter_next(&it))) {
			bool counted = false;

			if (!selector_matches(&cs[i], sample))
				continue;
			for (j = 0; j < i && !counted; j++)
				counted =
				    strcmp(cs[j].name, sample->name) == 0 &&
				    selector_matches(&cs[j], sample);
			if (counted)
				continue;
			if (!counter_value_ok(sample->value)) {
				*flags |= METRICS_SKIPPED_BAD_VALUES;
				continue;
			}
			out->total += sample->value;
			out->series++;
		}
	}
}

static void release_all(struct compiled_selector *cs, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		selector_release(&cs[i]);
}

/* Compiles n selectors; on failure none stays compiled. */
static int compile_all(struct compiled_selector *cs,
		       const struct metric_selector *sels, unsigned n,
		       char *why, size_t why_len)
{
	unsigned i;
	int rc;

	for (i = 0; i < n; i++) {
		rc = selector_compile(&cs[i], &sels[i], why, why_len);
		if (rc) {
			release_all(cs, i);
			return rc;
		}
	}
	return 0;
}

static int read_counters(const struct prom_page *page,
			 const struct metric_selector *sels, unsigned n,
			 struct series_sum *out, uint32_t *flags, char *why,
			 size_t why_len)
{
	struct compiled_selector cs[METRIC_SELECTORS_MAX] = {0};
	int rc;

	if (n > METRIC_SELECTORS_MAX)
		n = METRIC_SELECTORS_MAX;
	rc = compile_all(cs, sels, n, why, why_len);
	if (rc)
		return rc;
	sum_series(page, cs, n, out, flags);
	release_all(cs, n);
	return 0;
}

struct bound_total {
	double upper_bound;
	double count;
	unsigned series;
};

static int compare_bounds(const void *a, const void *b)
{
	const struct bound_total *x = a, *y = b;

	return (x->upper_bound > y->upper_bound) -
	       (x->upper_bound < y->upper_bound);
}

/* Adds one bucket line to the per-bound totals. */
static int add_bucket(struct bound_total *bounds, unsigned *bound_count,
		      const struct prom_sample *sample, const char *role,
		      const char *histogram, uint32_t *flags, char *why,
		      size_t why_len)
{
	const char *le = prom_sample_label(sample, "le");
	double upper_bound;
	unsigned i;

	if (!le || prom_parse_float(le, strlen(le), &upper_bound) ||
	    isnan(upper_bound) || !counter_value_ok(sample->value)) {
		*flags |= METRICS_SKIPPED_BAD_VALUES;
		return 0;
	}
	/* Numerically: "1", "1.0" and "1e0" are one bound */
	for (i = 0; i < *bound_count; i++)
		if (bounds[i].upper_bound == upper_bound)
			break;
	if (i == *bound_count) {
		if (*bound_count == METRICS_BUCKETS_MAX) {
			set_message(why, why_len,
				    "%s histogram %s has more than %d "
				    "distinct bucket bounds",
				    role, histogram, METRICS_BUCKETS_MAX);
			return -E2BIG;
		}
		bounds[i].upper_bound = upper_bound;
		bounds[i].count = 0;
		bounds[i].series = 0;
		(*bound_count)++;
	}
	bounds[i].count += sample->value;
	bounds[i].series++;
	return 0;
}

static void check_histogram(struct metrics_histogram *h, bool has_count,
			    uint32_t *flags)
{
	unsigned i;
	double inf_count;

	for (i = 1; i < h->bucket_count; i++)
		if (h->cumulative_count[i] < h->cumulative_count[i - 1])
			*flags |= METRICS_HISTOGRAM_NOT_MONOTONIC;
	if (h->bucket_count == 0)
		return;
	if (!isinf(h->upper_bound_seconds[h->bucket_count - 1])) {
		*flags |= METRICS_HISTOGRAM_NO_INF_BUCKET;
		return;
	}
	inf_count = h->cumulative_count[h->bucket_count - 1];
	if (!has_count)
		h->count = inf_count;
	else if (fabs(inf_count - h->count) >
		 COUNT_MATCH_RELATIVE_TOLERANCE * fmax(1.0, h->count))
		*flags |= METRICS_HISTOGRAM_COUNT_MISMATCH;
}

/*
 * Reads the histogram sel names (without its suffixes) into h, its bounds
 * and sum scaled to seconds; role ("latency", "TTFT", "ITL") names it in
 * messages. Sanity notes go to *flags.
 */
static int read_histogram(const struct prom_page *page,
			  const struct metric_selector *sel, double scale,
			  const char *role, struct metrics_histogram *h,
			  uint32_t *flags, char *why, size_t why_len)
{
	char bucket_name[METRIC_NAME_MAX_BYTES + BUCKET_SUFFIX_MAX_BYTES];
	char sum_name[sizeof(bucket_name)], count_name[sizeof(bucket_name)];
	struct bound_total bounds[METRICS_BUCKETS_MAX];
	const struct prom_sample *sample;
	struct compiled_selector cs;
	struct series_sum sum, count;
	struct prom_sample_iter it;
	unsigned bound_count = 0, widest = 0, i;
	int rc = 0;

	snprintf(bucket_name, sizeof(bucket_name), "%s_bucket", sel->name);
	snprintf(sum_name, sizeof(sum_name), "%s_sum", sel->name);
	snprintf(count_name, sizeof(count_name), "%s_count", sel->name);
	if (!prom_sample_iter_init(&it, page, bucket_name)) {
		set_message(why, why_len,
			    "no series named %s on the page (%s "
			    "histogram %s)",
			    bucket_name, role, sel->name);
		return -ENOENT;
	}
	if (it.family->type == PROM_TYPE_GAUGEHISTOGRAM) {
		set_message(why, why_len,
			    "%s is a gauge histogram; %s needs a "
			    "cumulative histogram",
			    it.family->name, role);
		return -EINVAL;
	}
	rc = selector_compile(&cs, sel, why, why_len);
	if (rc)
		return rc;
	while (!rc && (sample = prom_sample_iter_next(&it)))
		if (selector_matches(&cs, sample))
			rc = add_bucket(bounds, &bound_count, sample, role,
					sel->name, flags, why, why_len);
	if (!rc) {
		/* The same matchers select the _sum and _count series */
		cs.name = sum_name;
		sum_series(page, &cs, 1, &sum, flags);
		cs.name = count_name;
		sum_series(page, &cs, 1, &count, flags);
	}
	selector_release(&cs);
	if (rc)
		return rc;

	/* Sum over series per bound; keep the bounds every series has */
	for (i = 0; i < bound_count; i++)
		if (bounds[i].series > widest)
			widest = bounds[i].series;
	qsort(bounds, bound_count, sizeof(bounds[0]), compare_bounds);
	for (i = 0; i < bound_count; i++) {
		if (bounds[i].series != widest) {
			*flags |= METRICS_HISTOGRAM_MIXED_LAYOUTS;
			continue;
		}
		h->upper_bound_seconds[h->bucket_count] =
		    isinf(bounds[i].upper_bound)
			? bounds[i].upper_bound
			: bounds[i].upper_bound * scale;
		h->cumulative_count[h->bucket_count] = bounds[i].count;
		h->bucket_count++;
	}
	h->sum_seconds = sum.total * scale;
	h->count = count.total;
	if (bound_count && (sum.series == 0 || count.series == 0))
		*flags |= METRICS_HISTOGRAM_INCOMPLETE;
	check_histogram(h, count.series > 0, flags);
	return 0;
}

static int extract_histogram(const struct prom_page *page,
			     const struct metric_spec *spec,
			     struct metrics_sample *out, char *why,
			     size_t why_len)
{
	int rc = read_histogram(page, &spec->latency.histogram,
				spec->latency.seconds_per_unit, "latency",
				&out->latency, &out->flags, why, why_len);

	if (!rc)
		out->flags |=
		    METRICS_HAVE_LATENCY_HISTOGRAM | METRICS_HAVE_LATENCY_MEAN;
	return rc;
}

/* Reads the first of th's names that the page has; none is no figure. */
static int extract_token_histogram(const struct prom_page *page,
				   const struct metric_token_histogram *th,
				   const char *role, uint32_t have,
				   struct metrics_histogram *h,
				   struct metrics_sample *out, char *why,
				   size_t why_len)
{
	char bucket_name[METRIC_NAME_MAX_BYTES + BUCKET_SUFFIX_MAX_BYTES];
	struct prom_sample_iter it;
	unsigned i;
	int rc;

	for (i = 0; i < th->name_count && i < METRIC_TOKEN_NAMES_MAX; i++) {
		snprintf(bucket_name, sizeof(bucket_name), "%s_bucket",
			 th->names[i].name);
		if (!prom_sample_iter_init(&it, page, bucket_name))
			continue;
		rc = read_histogram(page, &th->names[i], th->seconds_per_unit,
				    role, h, &out->flags, why, why_len);
		if (!rc)
			out->flags |= have;
		return rc;
	}
	return 0;
}

static int extract_duration(const struct prom_page *page,
			    const struct metric_spec *spec,
			    struct metrics_sample *out, char *why,
			    size_t why_len)
{
	struct series_sum sum, count;
	int rc;

	rc = read_counters(page, &spec->latency.duration_sum, 1, &sum,
			   &out->flags, why, why_len);
	if (!rc)
		rc = read_counters(page, &spec->latency.duration_count, 1,
				   &count, &out->flags, why, why_len);
	if (rc)
		return rc;
	if (sum.missing || count.missing) {
		set_message(why, why_len,
			    "no series named %s on the page (latency "
			    "duration)",
			    sum.missing ? sum.missing : count.missing);
		return -ENOENT;
	}
	out->latency.sum_seconds = sum.total * spec->latency.seconds_per_unit;
	out->latency.count = count.total;
	out->flags |= METRICS_HAVE_LATENCY_MEAN;
	return 0;
}

static int compare_classes(const void *a, const void *b)
{
	const struct metrics_class *x = a, *y = b;

	return strcmp(x->label, y->label);
}

static void count_class(struct metrics_predictions *p, const char *label,
			double value, uint32_t *flags)
{
	unsigned i;

	if (strlen(label) >= sizeof(p->classes[0].label)) {
		p->other_count += value;
		*flags |= METRICS_PREDICTIONS_OVERFLOW;
		return;
	}
	for (i = 0; i < p->class_count; i++) {
		if (strcmp(p->classes[i].label, label) == 0) {
			p->classes[i].count += value;
			return;
		}
	}
	if (p->class_count == METRICS_CLASSES_MAX) {
		p->other_count += value;
		*flags |= METRICS_PREDICTIONS_OVERFLOW;
		return;
	}
	snprintf(p->classes[i].label, sizeof(p->classes[i].label), "%s", label);
	p->classes[i].count = value;
	p->class_count++;
}

static int extract_predictions(const struct prom_page *page,
			       const struct metric_spec *spec,
			       struct metrics_sample *out, char *why,
			       size_t why_len)
{
	const struct metric_selector *sel = &spec->predictions.counter;
	const struct prom_sample *sample;
	struct compiled_selector cs;
	struct prom_sample_iter it;
	int rc;

	if (!prom_sample_iter_init(&it, page, sel->name)) {
		set_message(why, why_len,
			    "no series named %s on the page (predictions)",
			    sel->name);
		return -ENOENT;
	}
	rc = selector_compile(&cs, sel, why, why_len);
	if (rc)
		return rc;
	while ((sample = prom_sample_iter_next(&it))) {
		const char *label;

		if (!selector_matches(&cs, sample))
			continue;
		if (!counter_value_ok(sample->value)) {
			out->flags |= METRICS_SKIPPED_BAD_VALUES;
			continue;
		}
		label = prom_sample_label(sample, spec->predictions.label);
		count_class(&out->predictions, label ? label : "",
			    sample->value, &out->flags);
	}
	selector_release(&cs);
	qsort(out->predictions.classes, out->predictions.class_count,
	      sizeof(out->predictions.classes[0]), compare_classes);
	out->flags |= METRICS_HAVE_PREDICTIONS;
	return 0;
}

int metrics_extract(const struct prom_page *page,
		    const struct metric_spec *spec, struct metrics_sample *out,
		    char *why, size_t why_len)
{
	struct series_sum requests, errors;
	int rc;

	set_message(why, why_len, "%s", "");
	if (!page || !spec || !out) {
		set_message(why, why_len, "no page, spec or output given");
		return -EINVAL;
	}
	memset(out, 0, sizeof(*out));
	if (spec->request_selector_count == 0) {
		set_message(why, why_len, "the metrics spec has no requests");
		return -EINVAL;
	}

	rc = read_counters(page, spec->requests, spec->request_selector_count,
			   &requests, &out->flags, why, why_len);
	if (rc)
		return rc;
	if (requests.missing) {
		set_message(why, why_len, "no series named %s on the page",
			    requests.missing);
		return -ENOENT;
	}
	out->requests = requests.total;
	out->request_series = requests.series;
	out->flags |= METRICS_HAVE_REQUESTS;

	rc = read_counters(page, spec->errors, spec->error_selector_count,
			   &errors, &out->flags, why, why_len);
	if (rc)
		return rc;
	if (errors.present) {
		out->errors = errors.total;
		out->error_series = errors.series;
		out->flags |= METRICS_HAVE_ERRORS;
	}

	rc = extract_token_histogram(page, &spec->ttft, "TTFT",
				     METRICS_HAVE_TTFT, &out->ttft, out, why,
				     why_len);
	if (!rc)
		rc = extract_token_histogram(page, &spec->itl, "ITL",
					     METRICS_HAVE_ITL, &out->itl, out,
					     why, why_len);
	if (rc)
		return rc;

	if (spec->latency.kind == METRIC_LATENCY_HISTOGRAM)
		rc = extract_histogram(page, spec, out, why, why_len);
	else if (spec->latency.kind == METRIC_LATENCY_DURATION)
		rc = extract_duration(page, spec, out, why, why_len);
	/* An LLM server's page may time tokens but not whole requests */
	if (rc == -ENOENT &&
	    (out->flags & (METRICS_HAVE_TTFT | METRICS_HAVE_ITL))) {
		memset(&out->latency, 0, sizeof(out->latency));
		set_message(why, why_len, "%s", "");
		rc = 0;
	}
	if (!rc && spec->has_predictions)
		rc = extract_predictions(page, spec, out, why, why_len);
	return rc;
}

/* ---- windows ------------------------------------------------------------ */

static bool same_layout(const struct metrics_histogram *a,
			const struct metrics_histogram *b)
{
	unsigned i;

	if (a->bucket_count != b->bucket_count)
		return false;
	for (i = 0; i < a->bucket_count; i++)
		if (a->upper_bound_seconds[i] != b->upper_bound_seconds[i])
			return false;
	return true;
}

/* Nothing observed yet: no layout to disagree with */
static bool histogram_empty(const struct metrics_histogram *h)
{
	return h->bucket_count == 0 && h->count == 0;
}

static const struct metrics_class *
find_class(const struct metrics_predictions *p, const char *label)
{
	unsigned i;

	for (i = 0; i < p->class_count; i++)
		if (strcmp(p->classes[i].label, label) == 0)
			return &p->classes[i];
	return NULL;
}

static bool both_have(const struct metrics_sample *start,
		      const struct metrics_sample *end, uint32_t flag)
{
	return (start->flags & flag) && (end->flags & flag);
}

/* Whether a bucket went down (comparable only with one layout). */
static bool histogram_went_down(const struct metrics_histogram *hs,
				const struct metrics_histogram *he)
{
	unsigned i;

	if (!same_layout(hs, he))
		return false;
	for (i = 0; i < hs->bucket_count; i++)
		if (he->cumulative_count[i] < hs->cumulative_count[i])
			return true;
	return false;
}

/* Whether any counter present in both samples went down. */
static bool counters_went_down(const struct metrics_sample *start,
			       const struct metrics_sample *end)
{
	const struct metrics_histogram *hs = &start->latency,
				       *he = &end->latency;
	unsigned i;

	if (both_have(start, end, METRICS_HAVE_REQUESTS) &&
	    end->requests < start->requests)
		return true;
	if (both_have(start, end, METRICS_HAVE_ERRORS) &&
	    end->errors < start->errors)
		return true;
	if (both_have(start, end, METRICS_HAVE_LATENCY_MEAN) &&
	    (he->count < hs->count || he->sum_seconds < hs->sum_seconds))
		return true;
	if (both_have(start, end, METRICS_HAVE_LATENCY_HISTOGRAM) &&
	    histogram_went_down(hs, he))
		return true;
	if (both_have(start, end, METRICS_HAVE_TTFT) &&
	    histogram_went_down(&start->ttft, &end->ttft))
		return true;
	if (both_have(start, end, METRICS_HAVE_ITL) &&
	    histogram_went_down(&start->itl, &end->itl))
		return true;
	if (both_have(start, end, METRICS_HAVE_PREDICTIONS)) {
		const struct metrics_predictions *ps = &start->predictions;

		if (end->predictions.other_count < ps->other_count)
			return true;
		for (i = 0; i < ps->class_count; i++) {
			const struct metrics_class *later =
			    find_class(&end->predictions, ps->classes[i].label);

			if (!later || later->count < ps->classes[i].count)
				return true;
		}
	}
	return false;
}

/*
 * d = he - hs. Returns whether the buckets could be subtracted (sum and
 * count always are); a change of layout is noted in *flags.
 */
static bool histogram_delta(const struct metrics_histogram *hs,
			    const struct metrics_histogram *he, bool reset,
			    struct metrics_histogram *d, uint32_t *flags)
{
	unsigned i;

	if (reset || histogram_empty(hs)) {
		*d = *he;
		return true;
	}
	d->sum_seconds = he->sum_seconds - hs->sum_seconds;
	d->count = he->count - hs->count;
	if (!same_layout(hs, he)) {
		/* Buckets of two layouts cannot be subtracted; the mean can */
		*flags |= METRICS_DELTA_LAYOUT_CHANGED;
		return false;
	}
	d->bucket_count = he->bucket_count;
	for (i = 0; i < he->bucket_count; i++) {
		d->upper_bound_seconds[i] = he->upper_bound_seconds[i];
		d->cumulative_count[i] =
		    he->cumulative_count[i] - hs->cumulative_count[i];
	}
	return true;
}

static void delta_histogram(const struct metrics_sample *start,
			    const struct metrics_sample *end, bool reset,
			    struct metrics_delta *out)
{
	out->flags |= METRICS_HAVE_LATENCY_MEAN;
	if (histogram_delta(&start->latency, &end->latency, reset,
			    &out->latency, &out->flags))
		out->flags |= METRICS_HAVE_LATENCY_HISTOGRAM;
}

/* TTFT and ITL are judged by quantiles: no buckets, no figure. */
static void delta_token_histogram(const struct metrics_histogram *hs,
				  const struct metrics_histogram *he,
				  bool reset, uint32_t have,
				  struct metrics_histogram *d,
				  struct metrics_delta *out)
{
	if (histogram_delta(hs, he, reset, d, &out->flags))
		out->flags |= have;
	else
		memset(d, 0, sizeof(*d));
}

static void delta_predictions(const struct metrics_sample *start,
			      const struct metrics_sample *end, bool reset,
			      struct metrics_delta *out)
{
	const struct metrics_predictions *ps = &start->predictions;
	struct metrics_predictions *d = &out->predictions;
	unsigned i;

	*d = end->predictions;
	out->flags |= METRICS_HAVE_PREDICTIONS;
	if (reset)
		return;
	for (i = 0; i < d->class_count; i++) {
		const struct metrics_class *before =
		    find_class(ps, d->classes[i].label);

		/* A class first seen in the window started from zero */
		if (before)
			d->classes[i].count -= before->count;
	}
	d->other_count -= ps->other_count;
}

#define METRICS_NOTE_FLAGS                                                     \
	(METRICS_HISTOGRAM_NO_INF_BUCKET | METRICS_HISTOGRAM_NOT_MONOTONIC |   \
	 METRICS_HISTOGRAM_COUNT_MISMATCH | METRICS_HISTOGRAM_MIXED_LAYOUTS |  \
	 METRICS_HISTOGRAM_INCOMPLETE | METRICS_SKIPPED_BAD_VALUES |           \
	 METRICS_PREDICTIONS_OVERFLOW)

int metrics_delta(const struct metrics_sample *start,
		  const struct metrics_sample *end, struct metrics_delta *out)
{
	bool reset;

	if (!start || !end || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->flags = (start->flags | end->flags) & METRICS_NOTE_FLAGS;
	/* One page is one process: a restart resets all its counters */
	reset = counters_went_down(start, end);
	if (reset)
		out->flags |= METRICS_DELTA_COUNTER_RESET;

	if (both_have(start, end, METRICS_HAVE_REQUESTS)) {
		out->requests =
		    reset ? end->requests : end->requests - start->requests;
		out->flags |= METRICS_HAVE_REQUESTS;
	}
	if (both_have(start, end, METRICS_HAVE_ERRORS)) {
		out->errors = reset ? end->errors : end->errors - start->errors;
		out->flags |= METRICS_HAVE_ERRORS;
	}
	if (both_have(start, end, METRICS_HAVE_LATENCY_HISTOGRAM)) {
		delta_histogram(start, end, reset, out);
	} else if (both_have(start, end, METRICS_HAVE_LATENCY_MEAN)) {
		out->latency.sum_seconds =
		    reset
			? end->latency.sum_seconds
			: end->latency.sum_seconds - start->latency.sum_seconds;
		out->latency.count =
		    reset ? end->latency.count
			  : end->latency.count - start->latency.count;
		out->flags |= METRICS_HAVE_LATENCY_MEAN;
	}
	if (both_have(start, end, METRICS_HAVE_TTFT))
		delta_token_histogram(&start->ttft, &end->ttft, reset,
				      METRICS_HAVE_TTFT, &out->ttft, out);
	if (both_have(start, end, METRICS_HAVE_ITL))
		delta_token_histogram(&start->itl, &end->itl, reset,
				      METRICS_HAVE_ITL, &out->itl, out);
	if (both_have(start, end, METRICS_HAVE_PREDICTIONS))
		delta_predictions(start, end, reset, out);
	return 0;
}
