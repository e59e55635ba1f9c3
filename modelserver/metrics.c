/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * metrics.c - counting /predict requests and writing them out in the
 * Prometheus text format (see metrics.h for the series).
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
