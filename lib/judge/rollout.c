/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * rollout.c - the rollout state machine (see rollout.h for the diagram).
 */
#include "judge/rollout.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/names.h"

#define FULL_BP 10000

static const char *const phase_names[] = {
    [PHASE_IDLE] = "idle",
    [PHASE_WARMING] = "warming",
    [PHASE_PROGRESSING] = "progressing",
    [PHASE_PAUSED] = "paused",
    [PHASE_PROMOTED] = "promoted",
    [PHASE_ROLLED_BACK] = "rolled_back",
    [PHASE_ABORTED] = "aborted",
    [PHASE_WAITING_GATE] = "waiting_gate",
};

static const char *const verdict_names[] = {
    [VERDICT_PASS] = "pass",
    [VERDICT_FAIL] = "fail",
    [VERDICT_INCONCLUSIVE] = "inconclusive",
};

const char *rollout_phase_name(enum rollout_phase phase)
{
	return names_of(phase_names, NAMES_COUNT(phase_names), phase,
			"unknown");
}

int rollout_phase_parse(const char *name, enum rollout_phase *out)
{
	size_t phase;
	int ret =
	    names_find(phase_names, NAMES_COUNT(phase_names), name, &phase);

	if (!ret)
		*out = (enum rollout_phase)phase;
	return ret;
}

const char *rollout_verdict_name(enum rollout_verdict verdict)
{
	return names_of(verdict_names, NAMES_COUNT(verdict_names), verdict,
			"unknown");
}

bool rollout_is_active(const struct rollout_state *s)
{
	return s->phase == PHASE_WARMING || s->phase == PHASE_PROGRESSING ||
	       s->phase == PHASE_PAUSED || s->phase == PHASE_WAITING_GATE;
}

static void __attribute__((format(printf, 2, 3)))
set_reason(struct rollout_state *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->reason, sizeof(s->reason), fmt, ap);
	va_end(ap);
}

/* Refusals keep the state; only the reason tells why. */
static int __attribute__((format(printf, 3, 4)))
refuse(struct rollout_state *s, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->reason, sizeof(s->reason), fmt, ap);
	va_end(ap);
	return err;
}

void rollout_init(struct rollout_state *s, uint32_t weight_bp)
{
	memset(s, 0, sizeof(*s));
	s->phase = PHASE_IDLE;
	s->weight_bp = weight_bp;
	s->gate = GATE_NONE;
	rollout_spec_defaults(&s->spec);
}

/* Stops at gate p when the spec sets it: true, the phase waiting_gate
 * (the weight stays where it is: a gate holds traffic, never moves it). */
static bool wait_gate(struct rollout_state *s, enum gate_point p,
		      uint64_t now_ms, const char *why)
{
	if (!gate_is_set(&s->spec.gates, p))
		return false;
	s->phase = PHASE_WAITING_GATE;
	s->gate = p;
	s->gate_since_ms = now_ms;
	set_reason(s, "%s; waiting for the %s gate (%s)", why,
		   gate_point_name(p),
		   gate_is_manual(&s->spec.gates, p) ? "an operator's approval"
						     : "its URL's 200");
	return true;
}

static bool waiting_before_start(const struct rollout_state *s)
{
	return s->phase == PHASE_WAITING_GATE && s->gate == GATE_BEFORE_START;
}

static void enter_step(struct rollout_state *s, uint32_t step, uint64_t now_ms,
		       uint32_t *actions)
{
	s->phase = PHASE_PROGRESSING;
	s->gate = GATE_NONE;
	s->step = step;
	s->weight_bp = s->spec.steps_bp[step];
	s->step_started_ms = now_ms;
	s->consecutive_failures = 0;
	*actions |= ACTION_SET_WEIGHT | ACTION_NEW_WINDOW;
}

static void finish(struct rollout_state *s, enum rollout_phase phase,
		   uint64_t now_ms)
{
	s->phase = phase;
	s->gate = GATE_NONE;
	s->ended_ms = now_ms;
}

/* The start's own work, once no gate holds it: warm-up or the first step. */
static void begin(struct rollout_state *s, uint64_t now_ms, uint32_t *actions,
		  const char *why)
{
	s->gate = GATE_NONE;
	if (s->spec.warmup_requests) {
		s->phase = PHASE_WARMING;
		s->weight_bp = 0;
		s->step_started_ms = now_ms;
		*actions |= ACTION_SET_WEIGHT | ACTION_START_WARMUP;
		set_reason(s, "warming up: %u requests to each canary backend",
			   s->spec.warmup_requests);
		return;
	}
	enter_step(s, 0, now_ms, actions);
	set_reason(s, "%s", why);
}

int rollout_start(struct rollout_state *s, const struct rollout_spec *spec,
		  bool has_canary, uint64_t now_ms, uint32_t *actions)
{
	*actions = 0;
	if (rollout_is_active(s))
		return refuse(s, -EBUSY,
			      "a rollout is %s already (step %u of %u): "
			      "abort it first",
			      rollout_phase_name(s->phase), s->step + 1,
			      s->spec.step_count);
	if (!has_canary)
		return refuse(s, -EINVAL,
			      "the service has no canary backends: set them "
			      "with PUT .../backends first");
	s->spec = *spec;
	s->started_ms = now_ms;
	s->ended_ms = 0;
	s->evaluations = 0;
	s->consecutive_failures = 0;
	s->step = 0;
	/* Errors seen before this rollout (a failed one just before, a canary
	 * since redeployed) are not evidence against it. */
	*actions |= ACTION_NEW_ROLLOUT;
	if (wait_gate(s, GATE_BEFORE_START, now_ms, "rollout started")) {
		/* No traffic moves before the gate says yes. */
		s->weight_bp = 0;
		s->step_started_ms = now_ms;
		*actions |= ACTION_SET_WEIGHT;
		return 0;
	}
	begin(s, now_ms, actions, "rollout started");
	return 0;
}

int rollout_warmup_done(struct rollout_state *s, uint64_t now_ms,
			uint32_t *actions)
{
	*actions = 0;
	if (s->phase != PHASE_WARMING)
		return refuse(s, -EBUSY, "not warming up");
	enter_step(s, 0, now_ms, actions);
	set_reason(s, "warm-up done");
	return 0;
}

int rollout_pause(struct rollout_state *s, uint64_t now_ms, uint32_t *actions)
{
	(void)now_ms;
	*actions = 0;
	if (s->phase != PHASE_PROGRESSING && s->phase != PHASE_WARMING)
		return refuse(s, -EBUSY, "cannot pause: the service is %s",
			      rollout_phase_name(s->phase));
	s->paused_from = s->phase;
	s->phase = PHASE_PAUSED;
	set_reason(s, "paused by an operator");
	return 0;
}

int rollout_resume(struct rollout_state *s, uint64_t now_ms, uint32_t *actions)
{
	*actions = 0;
	if (s->phase != PHASE_PAUSED)
		return refuse(s, -EBUSY, "cannot resume: the service is %s",
			      rollout_phase_name(s->phase));
	s->phase = s->paused_from;
	/* What happened while paused is not evidence for the step. */
	s->step_started_ms = now_ms;
	*actions |= ACTION_NEW_WINDOW;
	if (s->phase == PHASE_WARMING)
		*actions |= ACTION_START_WARMUP;
	set_reason(s, "resumed by an operator");
	return 0;
}

int rollout_promote(struct rollout_state *s, bool full, uint64_t now_ms,
		    uint32_t *actions)
{
	*actions = 0;
	if (!rollout_is_active(s))
		return refuse(s, -EBUSY,
			      "cannot promote: no rollout is running (the "
			      "service is %s)",
			      rollout_phase_name(s->phase));
	if (full || (s->phase != PHASE_WARMING && !waiting_before_start(s) &&
		     s->step + 1 >= s->spec.step_count)) {
		s->weight_bp = FULL_BP;
		finish(s, PHASE_PROMOTED, now_ms);
		*actions |= ACTION_SET_WEIGHT | ACTION_PROMOTE_POOLS;
		set_reason(s, "promoted by an operator");
		return 0;
	}
	if (s->phase == PHASE_WARMING || waiting_before_start(s) ||
	    (s->phase == PHASE_PAUSED && s->paused_from == PHASE_WARMING))
		enter_step(s, 0, now_ms, actions);
	else
		enter_step(s, s->step + 1, now_ms, actions);
	set_reason(s, "promoted to the next step by an operator");
	return 0;
}

int rollout_abort(struct rollout_state *s, uint64_t now_ms, uint32_t *actions)
{
	*actions = 0;
	if (!rollout_is_active(s))
		return refuse(s, -EBUSY,
			      "cannot abort: no rollout is running (the "
			      "service is %s)",
			      rollout_phase_name(s->phase));
	s->weight_bp = 0;
	finish(s, PHASE_ABORTED, now_ms);
	*actions |= ACTION_SET_WEIGHT;
	if (s->spec.cut_connections_on_rollback)
		*actions |= ACTION_CUT_CANARY;
	set_reason(s, "aborted by an operator");
	return 0;
}

int rollout_set_weight(struct rollout_state *s, uint32_t weight_bp,
		       uint32_t *actions)
{
	*actions = 0;
	if (rollout_is_active(s))
		return refuse(s, -EBUSY,
			      "cannot set the weight by hand during a rollout "
			      "(%s, step %u of %u): pause does not allow it "
			      "either; abort the rollout first",
			      rollout_phase_name(s->phase), s->step + 1,
			      s->spec.step_count);
	if (weight_bp > FULL_BP)
		return refuse(s, -EINVAL, "weight above 100 %%");
	s->weight_bp = weight_bp;
	*actions |= ACTION_SET_WEIGHT;
	set_reason(s, "weight set by an operator");
	return 0;
}

/* Waiting at a step, the step is still judged: a gate never holds back a
 * rollback. Before the start there is no canary traffic to judge. */
static bool step_judged(const struct rollout_state *s)
{
	return s->phase == PHASE_PROGRESSING ||
	       (s->phase == PHASE_WAITING_GATE && !waiting_before_start(s));
}

bool rollout_due(const struct rollout_state *s, uint64_t now_ms)
{
	return step_judged(s) &&
	       now_ms >= s->step_started_ms + s->spec.interval_ms;
}

/* A step's pass while its gate waits: judge fresh data next time. */
static int passed_while_waiting(struct rollout_state *s, const char *why,
				uint64_t now_ms, uint32_t *actions)
{
	s->step_started_ms = now_ms;
	s->consecutive_failures = 0;
	*actions |= ACTION_NEW_WINDOW;
	set_reason(s, "waiting for the %s gate; the step still passes (%s)",
		   gate_point_name(s->gate), why);
	return 0;
}

int rollout_evaluated(struct rollout_state *s, enum rollout_verdict verdict,
		      const char *why, uint64_t now_ms, uint32_t *actions)
{
	bool waiting = s->phase == PHASE_WAITING_GATE;
	char passed[ROLLOUT_REASON_LEN];

	*actions = 0;
	if (!step_judged(s))
		return refuse(s, -EBUSY, "not progressing");
	s->evaluations++;
	switch (verdict) {
	case VERDICT_PASS:
		if (waiting)
			return passed_while_waiting(s, why, now_ms, actions);
		snprintf(passed, sizeof(passed), "step passed (%s)", why);
		if (wait_gate(s,
			      s->step + 1 >= s->spec.step_count
				  ? GATE_BEFORE_PROMOTION
				  : GATE_BEFORE_STEP,
			      now_ms, passed)) {
			s->step_started_ms = now_ms;
			s->consecutive_failures = 0;
			*actions |= ACTION_NEW_WINDOW;
			return 0;
		}
		if (s->step + 1 >= s->spec.step_count) {
			s->weight_bp = FULL_BP;
			finish(s, PHASE_PROMOTED, now_ms);
			*actions |= ACTION_SET_WEIGHT | ACTION_PROMOTE_POOLS;
			set_reason(s, "promoted: the last step passed (%s)",
				   why);
		} else {
			enter_step(s, s->step + 1, now_ms, actions);
			set_reason(s, "step passed (%s)", why);
		}
		return 0;
	case VERDICT_FAIL:
		s->consecutive_failures++;
		if (s->consecutive_failures >= s->spec.max_failures)
			return rollout_rollback(s, why, now_ms, actions);
		/* Judge the step again on fresh data. */
		s->step_started_ms = now_ms;
		*actions |= ACTION_NEW_WINDOW;
		set_reason(s, "failed %u of %u allowed times: %s",
			   s->consecutive_failures, s->spec.max_failures, why);
		return 0;
	case VERDICT_INCONCLUSIVE:
		/* Hold: keep the window, gather more data. */
		if (waiting)
			return 0; /* the gate's wait stays the reason */
		set_reason(s, "holding: %s", why);
		return 0;
	}
	return refuse(s, -EINVAL, "unknown verdict");
}

int rollout_rollback(struct rollout_state *s, const char *why, uint64_t now_ms,
		     uint32_t *actions)
{
	*actions = 0;
	if (!rollout_is_active(s))
		return refuse(s, -EBUSY, "no rollout to roll back");
	s->weight_bp = 0;
	finish(s, PHASE_ROLLED_BACK, now_ms);
	*actions |= ACTION_SET_WEIGHT;
	if (s->spec.cut_connections_on_rollback)
		*actions |= ACTION_CUT_CANARY;
	set_reason(s, "rolled back: %s", why);
	return 0;
}

int rollout_gate_passed(struct rollout_state *s, const char *why,
			uint64_t now_ms, uint32_t *actions)
{
	char passed[ROLLOUT_REASON_LEN];

	*actions = 0;
	if (s->phase != PHASE_WAITING_GATE)
		return refuse(s, -EBUSY,
			      "no gate is waiting: the service is %s",
			      rollout_phase_name(s->phase));
	snprintf(passed, sizeof(passed), "the %s gate passed: %s",
		 gate_point_name(s->gate), why);
	switch (s->gate) {
	case GATE_BEFORE_START:
		begin(s, now_ms, actions, passed);
		return 0;
	case GATE_BEFORE_STEP:
		enter_step(s, s->step + 1, now_ms, actions);
		break;
	case GATE_BEFORE_PROMOTION:
	case GATE_NONE:
		s->weight_bp = FULL_BP;
		finish(s, PHASE_PROMOTED, now_ms);
		*actions |= ACTION_SET_WEIGHT | ACTION_PROMOTE_POOLS;
		break;
	}
	set_reason(s, "%s", passed);
	return 0;
}

int rollout_gate_refused(struct rollout_state *s, const char *why,
			 uint64_t now_ms, uint32_t *actions)
{
	char refused[ROLLOUT_REASON_LEN];

	*actions = 0;
	if (s->phase != PHASE_WAITING_GATE)
		return refuse(s, -EBUSY,
			      "no gate is waiting: the service is %s",
			      rollout_phase_name(s->phase));
	snprintf(refused, sizeof(refused), "the %s gate %s",
		 gate_point_name(s->gate), why);
	return rollout_rollback(s, refused, now_ms, actions);
}
