/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * rollout_spec.h - what a rollout is asked to do: its steps, its timing and
 * the thresholds of its analysis. Read from a service's "rollout" object in
 * the config file and from the body of POST /api/v1/services/{name}/rollout;
 * both use one JSON shape (docs/config.md), and both fill what is omitted
 * from defaults.
 */
#ifndef KANARY_ROLLOUT_SPEC_H
#define KANARY_ROLLOUT_SPEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "judge/gate.h"

#define ROLLOUT_MAX_STEPS 100
#define ROLLOUT_FIELD_LEN 96
#define ROLLOUT_ERR_LEN	  256

struct analysis_spec {
	double max_error_rate_increase_pp; /* canary - stable, points */
	double error_confidence;	   /* two-proportion test */
	uint64_t max_p99_increase_ms;	   /* canary p99 - stable p99 */
	double latency_confidence;	   /* Mann-Whitney U */
	uint64_t max_ttft_p99_increase_ms; /* time to first token, p99 */
	uint64_t max_itl_p99_increase_ms;  /* inter-token latency, p99 */
	double max_prediction_shift_pp;	   /* a class's share, points */
	double max_prediction_divergence;  /* Jensen-Shannon, bits */
	double prediction_confidence;	   /* chi-square */
	double rollback_error_rate_pct;	   /* immediate rollback above */
	uint32_t rollback_min_requests;	   /* ...over at least this many */
	uint32_t rollback_refused; /* refused connections to roll back */
};

struct rollout_spec {
	uint32_t steps_bp[ROLLOUT_MAX_STEPS]; /* ascending, last = 10000 */
	uint32_t step_count;
	bool equal_steps;	  /* built from step_count + window */
	uint64_t window_ms;	  /* equal_steps: the whole rollout's span */
	uint64_t interval_ms;	  /* minimum time per step */
	uint32_t min_requests;	  /* per pool per step */
	uint32_t warmup_requests; /* per canary backend, before step 1 */
	uint32_t max_failures;	  /* consecutive failed evaluations */
	bool cut_connections_on_rollback;
	struct analysis_spec analysis;
	struct gate_spec gates; /* where it waits for a yes (judge/gate.h) */
};

/* Where a spec error is: the JSON field (dotted path) and what is wrong. */
struct spec_error {
	char field[ROLLOUT_FIELD_LEN];
	char message[ROLLOUT_ERR_LEN];
};

/* The documented defaults: 10, 25, 50, 75, 100 % every 30 s, ... */
void rollout_spec_defaults(struct rollout_spec *spec);

/*
 * Reads a rollout object over base (defaults or a service's configured
 * spec): fields present replace base's. Unknown fields and wrong types are
 * errors. field_prefix names the object in error paths ("" for a request
 * body, "services[0].rollout" in a config file). Returns 0 or -EINVAL.
 */
int rollout_spec_from_json(const json_t *obj, const struct rollout_spec *base,
			   const char *field_prefix, struct rollout_spec *out,
			   struct spec_error *err);

/* The spec as JSON, in the same shape it is read in. */
json_t *rollout_spec_to_json(const struct rollout_spec *spec);

#endif /* KANARY_ROLLOUT_SPEC_H */
