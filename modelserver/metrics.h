/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * metrics.h - what kanary-modelserver exports on /metrics, in Prometheus
 * text format 0.0.4; the series names are the ones the agent's
 * kanary-modelserver preset reads:
 *
 *   http_requests_total{code,handler="/predict",method}      counter
 *   http_request_duration_seconds{handler="/predict"}        histogram
 *   kanary_predictions_total{label,model}                    counter
 *
 * Only /predict is counted. One mutex guards everything, so a scrape sees
 * the request counters, the histogram and the predictions agree.
 */
#ifndef KANARY_MODELSERVER_METRICS_H
#define KANARY_MODELSERVER_METRICS_H

#include "classifier.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* Status codes 100..599 each get a slot. */
#define METRICS_CODE_MIN   100
#define METRICS_CODE_SLOTS 500
/* The method label takes the common methods; anything else is "other". */
#define METRICS_METHOD_COUNT 8
/* Upper bounds of the duration buckets, +Inf aside: 1 ms .. 10 s. */
#define METRICS_BUCKET_COUNT 14

struct metrics_counts {
	uint64_t requests[METRICS_METHOD_COUNT][METRICS_CODE_SLOTS];
	uint64_t buckets[METRICS_BUCKET_COUNT + 1]; /* the last is +Inf */
	double duration_sum_s;
	uint64_t duration_count;
	uint64_t predictions[CLS_LABEL_COUNT];
};

struct metrics {
	pthread_mutex_t lock; /* guards counts */
	const char *model;    /* the version label */
	struct metrics_counts counts;
};

void metrics_init(struct metrics *metrics, const char *model);
void metrics_destroy(struct metrics *metrics);

/*
 * Counts one answered /predict request: its method, the status code sent,
 * how long it took, and the label it answered (or -1 for none).
 */
void metrics_observe_predict(struct metrics *metrics, const char *method,
			     unsigned int code, double seconds, int label);

/*
 * Renders the exposition text into a malloc()ed buffer. Returns 0, or
 * -ENOMEM.
 */
int metrics_render(struct metrics *metrics, char **out, size_t *len);

#endif /* KANARY_MODELSERVER_METRICS_H */
