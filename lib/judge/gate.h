/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * gate.h - a rollout's gates: the points where it waits for a yes from
 * outside (a URL that kanaryd POSTs the service's status to, or a person:
 * "manual"), how a gate's answer is read, and the spec's JSON shape
 * {"before_start": URL, "before_step": URL, "before_promotion": URL,
 * "interval": "5s"}. Pure: kanaryd/gates.c does the asking.
 *
 * An answer: 200 proceeds; anything else holds (asked again after the
 * interval), except an explicit refusal - a body
 * {"decision": "refuse", "reason": "..."} with any status but 200 - which
 * rolls the rollout back (docs/notifications.md).
 */
#ifndef KANARY_GATE_H
#define KANARY_GATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/json_fields.h"

#define GATE_URL_LEN		 256
#define GATE_MANUAL		 "manual"
#define GATE_DEFAULT_INTERVAL_MS 5000
#define GATE_MIN_INTERVAL_MS	 100
#define GATE_WHY_LEN		 192

enum gate_point {
	GATE_BEFORE_START = 0,
	GATE_BEFORE_STEP, /* before each step after the first */
	GATE_BEFORE_PROMOTION,
	GATE_POINT_COUNT,
	GATE_NONE = GATE_POINT_COUNT,
};

struct gate_spec {
	char url[GATE_POINT_COUNT][GATE_URL_LEN]; /* "" none, "manual" */
	uint64_t interval_ms; /* between two askings of a holding gate */
};

enum gate_answer {
	GATE_PROCEED = 0,
	GATE_HOLD,
	GATE_REFUSE,
};

const char *gate_point_name(enum gate_point p);
/* 0 with *out, or -EINVAL (also for NULL). */
int gate_point_parse(const char *name, enum gate_point *out);
bool gate_is_set(const struct gate_spec *g, enum gate_point p);
bool gate_is_manual(const struct gate_spec *g, enum gate_point p);
bool gates_any(const struct gate_spec *g);
void gate_spec_defaults(struct gate_spec *g);

/* Reads obj ("gates", inside a rollout spec) over out; errors name the
 * field under ctx. */
int gates_from_json(struct jf_ctx *ctx, const json_t *obj,
		    struct gate_spec *out);
json_t *gates_to_json(const struct gate_spec *g);

/* What an answer means; why says it for the decision log and the status
 * ("answered 503", "refused: canary fails the load test"). transport_ok
 * false: no answer at all (error says why). */
enum gate_answer gate_read_answer(bool transport_ok, long status,
				  const char *body, const char *error,
				  char *why, size_t why_len);

#endif /* KANARY_GATE_H */
