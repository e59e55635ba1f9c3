/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * metrics.c - counting /predict requests and completions, and writing them
 * out in the Prometheus text format (see metrics.h for the series).
 */
#include "metrics.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define METRICS_HANDLER "/predict"

static const char *const method_names[METRICS_METHOD_COUNT] = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "other",
};
#define METRICS_METHOD_OTHER (METRICS_METHOD_COUNT - 1)
#define METRICS_METHOD_POST  2
#define METRICS_CODE_OK	     200

/* Bounds and their le labels, written as Prometheus clients write them. */
static const struct {
	double le_s;
	const char *label;
} buckets[METRICS_BUCKET_COUNT] = {
    {0.001, "0.001"}, {0.0025, "0.0025"}, {0.005, "0.005"}, {0.01, "0.01"},
    {0.025, "0.025"}, {0.05, "0.05"},	  {0.075, "0.075"}, {0.1, "0.1"},
    {0.25, "0.25"},   {0.5, "0.5"},	  {1, "1"},	    {2.5, "2.5"},
    {5, "5"},	      {10, "10"},
};

/* A bucket layout: bounds in seconds and their le labels. */
struct llm_layout {
	unsigned count;
	const double *le_s;
	const char *const *labels;
};

/* vLLM's (vllm/v1/metrics/loggers.py), with le as prometheus_client
 * writes it */
static const double ttft_le_s[METRICS_TTFT_BUCKET_COUNT] = {
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,  0.25,  0.5,   0.75,
    1.0,   2.5,	  5.0,	7.5,  10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0};
static const char *const ttft_labels[METRICS_TTFT_BUCKET_COUNT] = {
    "0.001", "0.005", "0.01", "0.02",  "0.04",	"0.06",	 "0.08", "0.1",
    "0.25",  "0.5",   "0.75", "1.0",   "2.5",	"5.0",	 "7.5",	 "10.0",
    "20.0",  "40.0",  "80.0", "160.0", "640.0", "2560.0"};
static const double itl_le_s[METRICS_ITL_BUCKET_COUNT] = {
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2,  0.3,  0.4, 0.5,
    0.75, 1.0,	 2.5,  5.0,   7.5, 10.0, 20.0, 40.0, 80.0};
static const char *const itl_labels[METRICS_ITL_BUCKET_COUNT] = {
    "0.01", "0.025", "0.05", "0.075", "0.1", "0.15", "0.2",
    "0.3",  "0.4",   "0.5",  "0.75",  "1.0", "2.5",  "5.0",
    "7.5",  "10.0",  "20.0", "40.0",  "80.0"};
static const double e2e_le_s[METRICS_E2E_BUCKET_COUNT] = {
    0.3,  0.5,	0.8,  1.0,  1.5,   2.0,	  2.5,	 5.0,	10.0,	15.0,  20.0,
    30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0};
static const char *const e2e_labels[METRICS_E2E_BUCKET_COUNT] = {
    "0.3",  "0.5",   "0.8",   "1.0",   "1.5",	"2.0",	  "2.5",
    "5.0",  "10.0",  "15.0",  "20.0",  "30.0",	"40.0",	  "50.0",
    "60.0", "120.0", "240.0", "480.0", "960.0", "1920.0", "7680.0"};

static const struct llm_layout ttft_layout = {METRICS_TTFT_BUCKET_COUNT,
					      ttft_le_s, ttft_labels};
static const struct llm_layout itl_layout = {METRICS_ITL_BUCKET_COUNT, itl_le_s,
					     itl_labels};
static const struct llm_layout e2e_layout = {METRICS_E2E_BUCKET_COUNT, e2e_le_s,
					     e2e_labels};

static const char *const finish_names[METRICS_FINISH_COUNT] = {
    [METRICS_FINISH_STOP] = "stop",
    [METRICS_FINISH_LENGTH] = "length",
    [METRICS_FINISH_ABORT] = "abort",
    [METRICS_FINISH_ERROR] = "error",
};

void metrics_init(struct metrics *metrics, const char *model)
{
	memset(metrics, 0, sizeof(*metrics));
	pthread_mutex_init(&metrics->lock, NULL);
	metrics->model = model;
}

void metrics_destroy(struct metrics *metrics)
{
	pthread_mutex_destroy(&metrics->lock);
}

static int method_index(const char *method)
{
	int i;

	for (i = 0; i < METRICS_METHOD_OTHER; i++)
		if (strcmp(method_names[i], method) == 0)
			return i;
	return METRICS_METHOD_OTHER;
}

void metrics_observe_predict(struct metrics *metrics, const char *method,
			     unsigned int code, double seconds, int label)
{
	int m = method_index(method), b;

	for (b = 0; b < METRICS_BUCKET_COUNT; b++)
		if (seconds <= buckets[b].le_s)
			break;
	pthread_mutex_lock(&metrics->lock);
	if (code >= METRICS_CODE_MIN &&
	    code < METRICS_CODE_MIN + METRICS_CODE_SLOTS)
		metrics->counts.requests[m][code - METRICS_CODE_MIN]++;
	metrics->counts.buckets[b]++;
	metrics->counts.duration_sum_s += seconds;
	metrics->counts.duration_count++;
	if (label >= 0 && label < CLS_LABEL_COUNT)
		metrics->counts.predictions[label]++;
	pthread_mutex_unlock(&metrics->lock);
}

/* Counts one observation; the caller holds the lock. */
static void llm_hist_add(struct metrics_llm_hist *h,
			 const struct llm_layout *layout, double seconds)
{
	unsigned b;

	for (b = 0; b < layout->count; b++)
		if (seconds <= layout->le_s[b])
			break;
	h->buckets[b]++;
	h->sum_s += seconds;
	h->count++;
}

static void llm_observe(struct metrics *metrics, struct metrics_llm_hist *h,
			const struct llm_layout *layout, double seconds)
{
	pthread_mutex_lock(&metrics->lock);
	llm_hist_add(h, layout, seconds);
	pthread_mutex_unlock(&metrics->lock);
}

void metrics_observe_first_token(struct metrics *metrics, double ttft_s)
{
	llm_observe(metrics, &metrics->counts.ttft, &ttft_layout, ttft_s);
}

void metrics_observe_token_gap(struct metrics *metrics, double gap_s)
{
	llm_observe(metrics, &metrics->counts.itl, &itl_layout, gap_s);
}

void metrics_observe_completion(struct metrics *metrics,
				enum metrics_finish reason, double e2e_s)
{
	pthread_mutex_lock(&metrics->lock);
	if (reason < METRICS_FINISH_COUNT)
		metrics->counts.completions[reason]++;
	llm_hist_add(&metrics->counts.e2e, &e2e_layout, e2e_s);
	pthread_mutex_unlock(&metrics->lock);
}

static void render_llm_hist(FILE *f, const char *name, const char *help,
			    const struct metrics_llm_hist *h,
			    const struct llm_layout *layout, const char *model)
{
	uint64_t cumulative = 0;
	unsigned b;

	fprintf(f, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	for (b = 0; b <= layout->count; b++) {
		cumulative += h->buckets[b];
		fprintf(f, "%s_bucket{le=\"%s\",model_name=\"%s\"} %llu\n",
			name, b < layout->count ? layout->labels[b] : "+Inf",
			model, (unsigned long long)cumulative);
	}
	fprintf(f,
		"%s_count{model_name=\"%s\"} %llu\n"
		"%s_sum{model_name=\"%s\"} %.9g\n",
		name, model, (unsigned long long)h->count, name, model,
		h->sum_s);
}

/* The completions, under vLLM's names */
static void render_llm(const struct metrics_counts *snap, const char *model,
		       FILE *f)
{
	int r;

	fprintf(f, "# HELP vllm:request_success_total Completions finished, "
		   "by finished_reason.\n"
		   "# TYPE vllm:request_success_total counter\n");
	for (r = 0; r < METRICS_FINISH_COUNT; r++)
		fprintf(f,
			"vllm:request_success_total{finished_reason=\"%s\","
			"model_name=\"%s\"} %llu\n",
			finish_names[r], model,
			(unsigned long long)snap->completions[r]);
	render_llm_hist(f, "vllm:time_to_first_token_seconds",
			"Time from a completion request to its first token, "
			"injected ttft included.",
			&snap->ttft, &ttft_layout, model);
	render_llm_hist(f, "vllm:inter_token_latency_seconds",
			"Time between two tokens of a completion.", &snap->itl,
			&itl_layout, model);
	render_llm_hist(f, "vllm:e2e_request_latency_seconds",
			"Time from a completion request to its last byte.",
			&snap->e2e, &e2e_layout, model);
}

static void render(const struct metrics_counts *snap, const char *model,
		   FILE *f)
{
	uint64_t cumulative = 0;
	int m, c, b, l;

	fprintf(f, "# HELP http_requests_total Requests answered by the "
		   "/predict handler, by status code sent and method.\n"
		   "# TYPE http_requests_total counter\n");
	for (m = 0; m < METRICS_METHOD_COUNT; m++)
		for (c = 0; c < METRICS_CODE_SLOTS; c++) {
			/* POST 200 always shows, so rates start from 0. */
			bool usual = m == METRICS_METHOD_POST &&
				     c + METRICS_CODE_MIN == METRICS_CODE_OK;

			if (!snap->requests[m][c] && !usual)
				continue;
			fprintf(
			    f,
			    "http_requests_total{code=\"%d\",handler=\"%s\","
			    "method=\"%s\"} %llu\n",
			    c + METRICS_CODE_MIN, METRICS_HANDLER,
			    method_names[m],
			    (unsigned long long)snap->requests[m][c]);
		}

	fprintf(f, "# HELP http_request_duration_seconds Time to handle a "
		   "/predict request, injected latency included.\n"
		   "# TYPE http_request_duration_seconds histogram\n");
	for (b = 0; b <= METRICS_BUCKET_COUNT; b++) {
		cumulative += snap->buckets[b];
		fprintf(f,
			"http_request_duration_seconds_bucket{handler=\"%s\","
			"le=\"%s\"} %llu\n",
			METRICS_HANDLER,
			b < METRICS_BUCKET_COUNT ? buckets[b].label : "+Inf",
			(unsigned long long)cumulative);
	}
	fprintf(f,
		"http_request_duration_seconds_sum{handler=\"%s\"} %.9g\n"
		"http_request_duration_seconds_count{handler=\"%s\"} %llu\n",
		METRICS_HANDLER, snap->duration_sum_s, METRICS_HANDLER,
		(unsigned long long)snap->duration_count);

	fprintf(f, "# HELP kanary_predictions_total Predictions answered, by "
		   "label (after any injected skew) and model version.\n"
		   "# TYPE kanary_predictions_total counter\n");
	for (l = 0; l < CLS_LABEL_COUNT; l++)
		fprintf(f,
			"kanary_predictions_total{label=\"%s\",model=\"%s\"} "
			"%llu\n",
			cls_label_name((enum cls_label)l), model,
			(unsigned long long)snap->predictions[l]);
	render_llm(snap, model, f);
}

int metrics_render(struct metrics *metrics, char **out, size_t *len)
{
	struct metrics_counts *snap = malloc(sizeof(*snap));
	FILE *f;
	int err = 0;

	*out = NULL;
	*len = 0;
	if (!snap)
		return -ENOMEM;
	/* Copy under the lock, write without it: scrapes never stall. */
	pthread_mutex_lock(&metrics->lock);
	*snap = metrics->counts;
	pthread_mutex_unlock(&metrics->lock);

	f = open_memstream(out, len);
	if (!f) {
		free(snap);
		return -ENOMEM;
	}
	render(snap, metrics->model, f);
	if (ferror(f))
		err = -ENOMEM;
	if (fclose(f) != 0)
		err = -ENOMEM;
	free(snap);
	if (err) {
		free(*out);
		*out = NULL;
		*len = 0;
	}
	return err;
}
