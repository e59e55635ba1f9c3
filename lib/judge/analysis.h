/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * analysis.h - judging the canary pool against the stable pool over one
 * step's window, and the immediate rollback rules checked on every tick.
 *
 * Each signal gives a check with its own verdict; the evaluation fails when
 * any check fails, holds (inconclusive) when any check lacks data, and
 * passes otherwise. A check fails only when the canary is worse than its
 * threshold AND a one-sided test says the difference is real at the
 * configured confidence; worse but not significant is inconclusive (more
 * data will tell), never a failure by noise nor a pass by luck.
 *
 * Every evaluation produces a decision record (JSON): inputs, thresholds,
 * statistics, verdict and reason, kept in the service's decision log.
 */
#ifndef KANARY_ANALYSIS_H
#define KANARY_ANALYSIS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "judge/rollout.h"
#include "judge/stats.h"

#define ANALYSIS_CLASSES_MAX 64
#define ANALYSIS_CLASS_LEN   64
#define ANALYSIS_NOTE_LEN    192
#define ANALYSIS_REASON_LEN  320

enum analysis_pool { ANALYSIS_STABLE = 0, ANALYSIS_CANARY = 1 };

/* What the kernel saw for one pool over the window. */
struct kernel_window {
	double requests; /* HTTP responses, 1xx excluded */
	double errors;	 /* 5xx, and event streams with an error event */
	struct stats_hist latency;
	double new_flows;
	double refused;
	double resets;
	double syn_retries;
	double streams;		/* event-stream responses */
	struct stats_hist ttft; /* request to first body byte (first token) */
	struct stats_hist itl;	/* gaps between packets of event data */
};

/* What the pool's backends' /metrics pages say over the window. */
struct metrics_window {
	bool complete; /* every backend scraped at both ends */
	char missing[ANALYSIS_NOTE_LEN];
	double requests;
	double errors;
	bool has_histogram;
	struct stats_hist latency;
	bool has_mean;
	double latency_sum_s;
	double latency_count;
	/* An LLM server's own token timing (TTFT and ITL histograms) */
	bool has_ttft;
	struct stats_hist ttft;
	bool has_itl;
	struct stats_hist itl;
	bool has_predictions;
	unsigned class_count;
	char classes[ANALYSIS_CLASSES_MAX][ANALYSIS_CLASS_LEN];
	double class_counts[ANALYSIS_CLASSES_MAX];
};

struct analysis_input {
	const struct rollout_spec *spec;
	uint32_t step; /* 0-based */
	uint32_t weight_bp;
	uint64_t window_ms;
	bool http_observed; /* the service's kernel HTTP signal is on */
	struct kernel_window kernel[2];
	bool metrics_configured;
	struct metrics_window metrics[2];
	/* The stable pool's figures come from an earlier step's window: at the
	 * last steps it gets too little traffic to compare with. 0: not. */
	uint32_t stable_baseline_step; /* 1-based step of the baseline */
};

struct analysis_result {
	enum rollout_verdict verdict;
	char reason[ANALYSIS_REASON_LEN];
	json_t *decision; /* new reference: the decision record */
};

void analysis_evaluate(const struct analysis_input *in,
		       struct analysis_result *out);

/* Canary counts over the trailing window that the immediate rules read. */
struct trailing_counts {
	bool valid;
	double requests;
	double errors;
	double refused;
	uint64_t span_ms;
};

/*
 * The rules checked on every tick, whatever the step: canary error rate
 * above the limit over at least the minimum requests, or canary backends
 * refusing connections. True (and why) when the rollout must go back now.
 */
bool analysis_immediate_rollback(const struct analysis_spec *spec,
				 const struct trailing_counts *kernel,
				 const struct trailing_counts *metrics,
				 char *why, size_t why_len);

#endif /* KANARY_ANALYSIS_H */
