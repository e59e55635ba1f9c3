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
 * and, for completions, what vLLM exports under the same names and bucket
 * layouts, so that kanary's vllm preset reads this server as it reads vLLM:
 *
 *   vllm:request_success_total{finished_reason,model_name}   counter
 *   vllm:time_to_first_token_seconds{model_name}             histogram
 *   vllm:inter_token_latency_seconds{model_name}             histogram
 *   vllm:e2e_request_latency_seconds{model_name}             histogram
 *
 * http_requests_total counts /predict only. One mutex guards everything,
 * so a scrape sees the counters, the histograms and the predictions agree.
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
/* vLLM's layouts, +Inf aside: TTFT 1 ms .. 2560 s, ITL 10 ms .. 80 s,
 * end to end 0.3 s .. 7680 s; room for the widest. */
#define METRICS_TTFT_BUCKET_COUNT 22
#define METRICS_ITL_BUCKET_COUNT  19
#define METRICS_E2E_BUCKET_COUNT  21
#define METRICS_LLM_BUCKETS_MAX	  METRICS_TTFT_BUCKET_COUNT

/* Why a completion ended: vLLM's finished_reason values. */
enum metrics_finish {
	METRICS_FINISH_STOP,   /* the answer was complete */
	METRICS_FINISH_LENGTH, /* max_tokens cut it */
	METRICS_FINISH_ABORT,  /* the client went away */
	METRICS_FINISH_ERROR,  /* the engine failed mid-answer */
	METRICS_FINISH_COUNT,
};

/* Per-bucket (not cumulative) counts of one of the vLLM histograms. */
struct metrics_llm_hist {
	uint64_t buckets[METRICS_LLM_BUCKETS_MAX + 1]; /* the last is +Inf */
	double sum_s;
	uint64_t count;
};

struct metrics_counts {
	uint64_t requests[METRICS_METHOD_COUNT][METRICS_CODE_SLOTS];
	uint64_t buckets[METRICS_BUCKET_COUNT + 1]; /* the last is +Inf */
	double duration_sum_s;
	uint64_t duration_count;
	uint64_t predictions[CLS_LABEL_COUNT];
	uint64_t completions[METRICS_FINISH_COUNT];
	struct metrics_llm_hist ttft, itl, e2e;
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

/* A completion's first token came ttft_s after its request. */
void metrics_observe_first_token(struct metrics *metrics, double ttft_s);
/* gap_s passed between two tokens of one completion. */
void metrics_observe_token_gap(struct metrics *metrics, double gap_s);
/* A completion ended, for reason, e2e_s after its request. */
void metrics_observe_completion(struct metrics *metrics,
				enum metrics_finish reason, double e2e_s);

/*
 * Renders the exposition text into a malloc()ed buffer. Returns 0, or
 * -ENOMEM.
 */
int metrics_render(struct metrics *metrics, char **out, size_t *len);

#endif /* KANARY_MODELSERVER_METRICS_H */
