/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * gates.c - asking a waiting gate (judge/gate.h): the service's status is
 * POSTed to the gate's URL through the fetcher, so the control loop never
 * waits for the answer; a holding answer is asked again after the gate's
 * interval. The answer is handed back (gates_take_answer) and the core
 * moves the rollout. A manual gate is never asked: an operator approves.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_internal.h"

#define GATE_ASK_TIMEOUT_MS   3000
#define GATE_ANSWER_MAX_BYTES 4096

static void on_answer(void *owner, uint64_t tag, const struct fetch_result *res)
{
	struct service_rt *s = owner;
	struct gate_wait *w = &s->gate_wait;
	enum gate_answer answer;

	/* An answer to a wait that ended (a rollback, an approval) is
	 * stale: the tag is the wait's start. */
	if (s->rollout.phase != PHASE_WAITING_GATE ||
	    tag != s->rollout.gate_since_ms || tag != w->wait_since_ms)
		return;
	w->in_flight = false;
	answer = gate_read_answer(res->ok, res->status, res->body, res->error,
				  w->why, sizeof(w->why));
	if (answer == GATE_HOLD) {
		w->next_ask_mono_ms =
		    clock_mono_ms() + s->rollout.spec.gates.interval_ms;
		return;
	}
	w->answered = true;
	w->answer = answer;
}

void gates_tick(struct agent *a, struct service_rt *s, uint64_t mono_ms)
{
	const struct rollout_state *r = &s->rollout;
	struct gate_wait *w = &s->gate_wait;
	struct fetch_request req = {0};
	json_t *status;
	char *body;
	int ret;

	if (r->phase != PHASE_WAITING_GATE) {
		if (w->wait_since_ms)
			memset(w, 0, sizeof(*w));
		return;
	}
	if (w->wait_since_ms != r->gate_since_ms) {
		memset(w, 0, sizeof(*w));
		w->wait_since_ms = r->gate_since_ms;
	}
	if (gate_is_manual(&r->spec.gates, r->gate) || w->in_flight ||
	    w->answered || mono_ms < w->next_ask_mono_ms)
		return;
	status = agent_service_status_locked(a, s);
	body = status ? json_dumps(status, JSON_COMPACT) : NULL;
	json_decref(status);
	snprintf(req.url, sizeof(req.url), "%s", r->spec.gates.url[r->gate]);
	req.method = "POST";
	req.body = body ? body : "{}";
	req.content_type = "application/json";
	req.accept = "application/json";
	req.timeout_ms = GATE_ASK_TIMEOUT_MS;
	req.max_body_bytes = GATE_ANSWER_MAX_BYTES;
	ret = fetcher_submit(a->fetcher, &req, on_answer, s, r->gate_since_ms);
	free(body);
	if (ret) {
		snprintf(w->why, sizeof(w->why), "cannot ask: %s",
			 strerror(-ret));
		w->next_ask_mono_ms = mono_ms + r->spec.gates.interval_ms;
		return;
	}
	w->in_flight = true;
	w->asked++;
}

bool gates_take_answer(struct service_rt *s, enum gate_answer *answer,
		       char *why, size_t why_len)
{
	struct gate_wait *w = &s->gate_wait;

	if (!w->answered || s->rollout.phase != PHASE_WAITING_GATE)
		return false;
	w->answered = false;
	*answer = w->answer;
	snprintf(why, why_len, "%s", w->why);
	return true;
}

void gates_cancel(struct agent *a, struct service_rt *s)
{
	if (a->fetcher)
		fetcher_cancel_owner(a->fetcher, s);
}

json_t *gates_status_json(const struct service_rt *s)
{
	const struct rollout_state *r = &s->rollout;
	const struct gate_wait *w = &s->gate_wait;

	if (r->phase != PHASE_WAITING_GATE)
		return NULL;
	return json_pack(
	    "{s:s, s:s, s:o, s:I, s:s?}", "gate", gate_point_name(r->gate),
	    "url", r->spec.gates.url[r->gate], "since",
	    status_time_json(r->gate_since_ms), "asked", (json_int_t)w->asked,
	    "last_answer", w->why[0] ? w->why : NULL);
}
