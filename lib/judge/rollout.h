/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * rollout.h - the rollout state machine: phases, steps and what each event
 * does to them. Pure: it reads no clock and touches no kernel; every call
 * takes the current time and returns the actions the agent must carry out
 * (set a weight, make the canary pool stable, cut canary connections,
 * start the warm-up). That keeps every transition testable on its own.
 *
 *   idle --start--> warming --warm--> progressing(step i of n) --pass at
 *   last step--> promoted
 *   progressing --fail x max_failures / immediate rule--> rolled_back
 *   warming|progressing --pause--> paused --resume--> (where it was)
 *   any active --abort--> aborted;  --promote--> next step / promoted
 *   start / a passed step / the last step --gate set--> waiting_gate
 *   waiting_gate --gate passed--> where it was going; --refused--> rolled_back
 *   (waiting at a step, the step is still judged: a failure rolls back)
 */
#ifndef KANARY_ROLLOUT_H
#define KANARY_ROLLOUT_H

#include <stdbool.h>
#include <stdint.h>

#include "judge/rollout_spec.h"

#define ROLLOUT_REASON_LEN 256

enum rollout_phase {
	PHASE_IDLE = 0,
	PHASE_WARMING,
	PHASE_PROGRESSING,
	PHASE_PAUSED,
	PHASE_PROMOTED,
	PHASE_ROLLED_BACK,
	PHASE_ABORTED,
	PHASE_WAITING_GATE, /* for a gate's yes (judge/gate.h) */
};

enum rollout_verdict {
	VERDICT_PASS = 0,
	VERDICT_FAIL,
	VERDICT_INCONCLUSIVE,
};

/* What the agent must do after a transition (a bit set). */
enum rollout_action {
	ACTION_SET_WEIGHT = 1u << 0,	/* apply state.weight_bp */
	ACTION_PROMOTE_POOLS = 1u << 1, /* canary pool becomes stable */
	ACTION_CUT_CANARY = 1u << 2,	/* forget canary flows */
	ACTION_START_WARMUP = 1u << 3,	/* send warm-up requests */
	ACTION_NEW_WINDOW = 1u << 4,	/* analysis window restarts now */
	ACTION_NEW_ROLLOUT = 1u << 5,	/* the immediate rules start afresh */
};

struct rollout_state {
	enum rollout_phase phase;
	enum rollout_phase paused_from; /* warming or progressing */
	struct rollout_spec spec;
	uint32_t step;	    /* index into spec.steps_bp while active */
	uint32_t weight_bp; /* what the kernel has */
	uint64_t started_ms;
	uint64_t step_started_ms; /* the analysis window's start */
	uint64_t ended_ms;
	uint32_t consecutive_failures;
	uint32_t evaluations;
	char reason[ROLLOUT_REASON_LEN]; /* why the last transition */
	enum gate_point gate;		 /* waiting_gate: which one */
	uint64_t gate_since_ms;		 /* waiting_gate: since when */
};

const char *rollout_phase_name(enum rollout_phase phase);
int rollout_phase_parse(const char *name, enum rollout_phase *out);
const char *rollout_verdict_name(enum rollout_verdict verdict);
bool rollout_is_active(const struct rollout_state *s); /* warming..paused */

/* A fresh state: idle with the given weight. */
void rollout_init(struct rollout_state *s, uint32_t weight_bp);

/*
 * Each returns 0 with *actions set, or -EBUSY / -EINVAL when the event does
 * not fit the phase, with s->reason saying why (the state is unchanged).
 */
int rollout_start(struct rollout_state *s, const struct rollout_spec *spec,
		  bool has_canary, uint64_t now_ms, uint32_t *actions);
int rollout_warmup_done(struct rollout_state *s, uint64_t now_ms,
			uint32_t *actions);
int rollout_pause(struct rollout_state *s, uint64_t now_ms, uint32_t *actions);
int rollout_resume(struct rollout_state *s, uint64_t now_ms, uint32_t *actions);
int rollout_promote(struct rollout_state *s, bool full, uint64_t now_ms,
		    uint32_t *actions);
int rollout_abort(struct rollout_state *s, uint64_t now_ms, uint32_t *actions);
/* Manual weight outside a rollout. */
int rollout_set_weight(struct rollout_state *s, uint32_t weight_bp,
		       uint32_t *actions);

/* True when the step has run its minimum time and may be judged. */
bool rollout_due(const struct rollout_state *s, uint64_t now_ms);
/* The verdict of an evaluation at the end of (or after) a step. */
int rollout_evaluated(struct rollout_state *s, enum rollout_verdict verdict,
		      const char *why, uint64_t now_ms, uint32_t *actions);
/* An immediate rollback rule fired. */
int rollout_rollback(struct rollout_state *s, const char *why, uint64_t now_ms,
		     uint32_t *actions);

/* The gate waited for said yes (an answer of 200, or an operator's
 * approval, who says so in why): on to where the rollout was going. */
int rollout_gate_passed(struct rollout_state *s, const char *why,
			uint64_t now_ms, uint32_t *actions);
/* The gate refused explicitly: the rollout rolls back. */
int rollout_gate_refused(struct rollout_state *s, const char *why,
			 uint64_t now_ms, uint32_t *actions);

#endif /* KANARY_ROLLOUT_H */
