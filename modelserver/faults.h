/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * faults.h - the faults kanary-modelserver injects on purpose, so tests and
 * the demo can make a canary look bad: errors, latency, a skewed label
 * distribution, a /metrics page that is down; and the shape of streamed
 * completions (time to first token, time per token, tokens per answer,
 * streams that fail after their 200). Set from the command line, read and
 * changed at run time through /admin/faults; every /predict request and
 * every completion takes one consistent draw.
 */
#ifndef KANARY_MODELSERVER_FAULTS_H
#define KANARY_MODELSERVER_FAULTS_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A delay longer than this is a hung server, which tests get by killing. */
#define FAULTS_MAX_LATENCY_MS 60000
/* skew_label when no label is set. */
#define FAULTS_NO_LABEL (-1)
/* A completion's pace: slower than this per token is a hung engine. */
#define FAULTS_MAX_TOKEN_MS 10000
/* Tokens per completion; a stream of 4096 tokens is a long answer. */
#define FAULTS_MAX_TOKENS     4096
#define FAULTS_DEFAULT_TOKENS 16

struct fault_knobs {
	double error_rate;	 /* share of /predict answered 500, [0, 1] */
	unsigned int latency_ms; /* added to each /predict answer */
	double skew;		 /* share of predictions replaced, [0, 1] */
	int skew_label;		 /* enum cls_label, or FAULTS_NO_LABEL */
	bool metrics_down;	 /* /metrics answers 503, /predict serves */
	/* Completions (/v1/completions, /v1/chat/completions) */
	unsigned int ttft_ms;	  /* before the first token */
	unsigned int token_ms;	  /* between two tokens */
	unsigned int tokens;	  /* per answer, 1..FAULTS_MAX_TOKENS */
	double stream_error_rate; /* share failing after their first tokens */
};

struct faults {
	pthread_mutex_t lock; /* guards knobs and rng_state */
	struct fault_knobs knobs;
	uint64_t rng_state;
};

/* What one /predict request gets: the knobs then, and the dice. */
struct fault_draw {
	struct fault_knobs knobs;
	bool fail;   /* answer 500 */
	bool skewed; /* replace the prediction by knobs.skew_label */
};

/*
 * Checks knobs as a whole. Returns 0, or -EINVAL with the offending JSON
 * field name in *field and a reason in why.
 */
int fault_knobs_check(const struct fault_knobs *knobs, const char **field,
		      char *why, size_t why_len);

/* knobs must pass fault_knobs_check(); seed fixes the random sequence. */
void faults_init(struct faults *faults, const struct fault_knobs *knobs,
		 uint64_t seed);
void faults_destroy(struct faults *faults);

void faults_get(struct faults *faults, struct fault_knobs *out);
void faults_draw(struct faults *faults, struct fault_draw *out);
/* A completion's draw: fail is knobs.stream_error_rate's dice; skewed is
 * false. Its own dice, so completions never shift /predict's sequence. */
void faults_draw_completion(struct faults *faults, struct fault_draw *out);

/* {"error_rate":..,"latency_ms":..,"skew":..,"skew_label":..|null,
 *  "metrics_down":..,"ttft_ms":..,"token_ms":..,"tokens":..,
 *  "stream_error_rate":..}. */
json_t *fault_knobs_to_json(const struct fault_knobs *knobs);

/*
 * Applies a JSON object holding any subset of the fields above, all or
 * nothing. Returns 0 and the new knobs in *out; -EINVAL with the field at
 * fault in *field (NULL when the body as a whole is wrong) and a reason.
 */
int faults_update_json(struct faults *faults, json_t *update,
		       struct fault_knobs *out, const char **field, char *why,
		       size_t why_len);

#endif /* KANARY_MODELSERVER_FAULTS_H */
