/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * events.c - what the notifier (notify.c) is told: after each transition
 * the core calls events_update(), which compares the rollout with what was
 * told last (service_rt.notified) and sends the events between them, each
 * with the decision log's newest entry. Sending is a queue push: nothing
 * here waits.
 */
#include <string.h>

#include "agent_internal.h"

static const json_t *last_decision(const struct service_rt *s)
{
	return decision_log_newest(&s->decisions);
}

void events_emit(struct agent *a, struct service_rt *s, enum notify_event kind,
		 const char *target)
{
	const struct rollout_state *r = &s->rollout;
	bool waiting = r->phase == PHASE_WAITING_GATE ||
		       kind == NOTIFY_GATE_APPROVED ||
		       kind == NOTIFY_GATE_REFUSED;
	const struct notify_event_data ev = {
	    .kind = kind,
	    .service = s->cfg.def.name,
	    .phase = rollout_phase_name(r->phase),
	    .weight_bp = r->weight_bp,
	    .step = rollout_is_active(r) ? r->step + 1 : 0,
	    .steps = r->spec.step_count,
	    .reason = r->reason,
	    .decision = last_decision(s),
	    .gate = waiting ? gate_point_name(r->phase == PHASE_WAITING_GATE
						  ? r->gate
						  : s->notified.gate)
			    : NULL,
	    .target = target,
	};

	notify_send(a->notifier, &ev);
}

void events_sync(struct service_rt *s)
{
	s->notified.phase = s->rollout.phase;
	s->notified.step = s->rollout.step;
	s->notified.gate = s->rollout.gate;
	s->notified.record = last_decision(s);
}

/* The decision log's newest record, when it came since the last update
 * (a step held for longer is one record, replaced with an "evaluations"
 * count: not a new hold). */
static const json_t *new_record(const struct service_rt *s)
{
	const json_t *d = last_decision(s);

	return d != s->notified.record ? d : NULL;
}

static bool record_says(const json_t *d, const char *key, const char *value)
{
	const char *v = json_string_value(json_object_get(d, key));

	return v && !strcmp(v, value);
}

void events_update(struct agent *a, struct service_rt *s)
{
	const struct rollout_mark was = s->notified;
	enum rollout_phase now = s->rollout.phase;
	bool active = rollout_is_active(&s->rollout);
	const struct rollout_state before = {.phase = was.phase};
	const json_t *fresh = new_record(s);
	bool started = active && !rollout_is_active(&before);

	if (started)
		events_emit(a, s, NOTIFY_ROLLOUT_STARTED, NULL);
	if (was.phase == PHASE_WAITING_GATE && now != PHASE_WAITING_GATE &&
	    now != PHASE_ROLLED_BACK && now != PHASE_ABORTED)
		events_emit(a, s, NOTIFY_GATE_APPROVED, NULL);
	/* A step passed its analysis (also when a gate then holds, but not
	 * again while the gate waits), or an operator moved it on. */
	if ((record_says(fresh, "verdict", "pass") &&
	     !(was.phase == PHASE_WAITING_GATE && now == PHASE_WAITING_GATE)) ||
	    record_says(fresh, "event", "promoted one step"))
		events_emit(a, s, NOTIFY_STEP_PASSED, NULL);
	if (now == PHASE_PAUSED && was.phase != PHASE_PAUSED)
		events_emit(a, s, NOTIFY_PAUSED, NULL);
	if (was.phase == PHASE_PAUSED && now != PHASE_PAUSED && active)
		events_emit(a, s, NOTIFY_RESUMED, NULL);
	if (now == PHASE_WAITING_GATE &&
	    (was.phase != PHASE_WAITING_GATE || was.gate != s->rollout.gate ||
	     was.step != s->rollout.step))
		events_emit(a, s, NOTIFY_GATE_WAITING, NULL);
	if (now != was.phase && now == PHASE_PROMOTED)
		events_emit(a, s, NOTIFY_PROMOTED, NULL);
	if (now != was.phase && now == PHASE_ROLLED_BACK)
		events_emit(a, s, NOTIFY_ROLLED_BACK, NULL);
	if (now != was.phase && now == PHASE_ABORTED)
		events_emit(a, s, NOTIFY_ABORTED, NULL);
	if (active && record_says(fresh, "verdict", "inconclusive") &&
	    !json_object_get(fresh, "evaluations"))
		events_emit(a, s, NOTIFY_HELD, NULL);
	events_sync(s);
}

void events_targets(struct agent *a, struct service_rt *s)
{
	uint32_t i;

	for (i = 0; i < s->backend_count; i++) {
		struct backend_rt *b = s->backends[i];
		bool down = b->target.scrapes > 0 && !b->target.up;

		if (!b->target.url[0] || down == b->target_reported_down)
			continue;
		b->target_reported_down = down;
		events_emit(a, s, down ? NOTIFY_TARGET_DOWN : NOTIFY_TARGET_UP,
			    b->target.url);
	}
}
