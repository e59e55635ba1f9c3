/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * gate.c - gates read, written and their answers judged (see gate.h).
 */
#include "judge/gate.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "notify_config.h"
#include "util/names.h"
#include "util/text.h"
#include "util/units.h"

#define HTTP_OK		  200
#define ANSWER_BODY_MAX	  4096 /* a refusal is small; more is not one */
#define GATE_REASON_SHOWN 120

static const char *const point_names[] = {
    [GATE_BEFORE_START] = "before_start",
    [GATE_BEFORE_STEP] = "before_step",
    [GATE_BEFORE_PROMOTION] = "before_promotion",
};

const char *gate_point_name(enum gate_point p)
{
	return names_of(point_names, NAMES_COUNT(point_names), p, "none");
}

int gate_point_parse(const char *name, enum gate_point *out)
{
	size_t p;

	if (!name ||
	    names_find(point_names, NAMES_COUNT(point_names), name, &p))
		return -EINVAL;
	*out = (enum gate_point)p;
	return 0;
}

bool gate_is_set(const struct gate_spec *g, enum gate_point p)
{
	return p < GATE_POINT_COUNT && g->url[p][0];
}

bool gate_is_manual(const struct gate_spec *g, enum gate_point p)
{
	return gate_is_set(g, p) && !strcmp(g->url[p], GATE_MANUAL);
}

bool gates_any(const struct gate_spec *g)
{
	size_t p;

	for (p = 0; p < GATE_POINT_COUNT; p++)
		if (g->url[p][0])
			return true;
	return false;
}

void gate_spec_defaults(struct gate_spec *g)
{
	memset(g, 0, sizeof(*g));
	g->interval_ms = GATE_DEFAULT_INTERVAL_MS;
}

static const char *const gate_fields[] = {
    "before_start", "before_step", "before_promotion", "interval", NULL,
};

int gates_from_json(struct jf_ctx *ctx, const json_t *obj,
		    struct gate_spec *out)
{
	struct gate_spec g = *out;
	char why[JF_PATH_LEN];
	size_t p;
	int ret;

	if (!json_is_object(obj))
		return jf_fail(ctx, "",
			       "must be an object, like "
			       "{\"before_promotion\": \"manual\"}");
	ret = jf_check_object(ctx, obj, gate_fields);
	for (p = 0; !ret && p < GATE_POINT_COUNT; p++) {
		const json_t *v = json_object_get(obj, point_names[p]);

		if (json_is_null(v)) {
			g.url[p][0] = '\0';
			continue;
		}
		ret = jf_string(ctx, obj, point_names[p], false, g.url[p],
				sizeof(g.url[p]));
		if (!ret && v && strcmp(g.url[p], GATE_MANUAL) &&
		    notify_check_url(g.url[p], why, sizeof(why)))
			ret = jf_fail(ctx, point_names[p],
				      "%s, or \"manual\" for an operator's "
				      "approval",
				      why);
	}
	ret = ret ?: jf_duration_ms(ctx, obj, "interval", true, &g.interval_ms);
	if (!ret && g.interval_ms < GATE_MIN_INTERVAL_MS)
		ret = jf_fail(ctx, "interval", "must be at least %d ms",
			      GATE_MIN_INTERVAL_MS);
	if (!ret)
		*out = g;
	return ret;
}

json_t *gates_to_json(const struct gate_spec *g)
{
	char interval[UNITS_DURATION_STR_LEN];
	json_t *obj = json_object();
	size_t p;

	for (p = 0; p < GATE_POINT_COUNT; p++)
		if (g->url[p][0])
			json_object_set_new(obj, point_names[p],
					    json_string(g->url[p]));
	json_object_set_new(obj, "interval",
			    json_string(units_format_duration_ms(
				g->interval_ms, interval, sizeof(interval))));
	return obj;
}

/* The refusal's reason, control characters and all cut out of the way:
 * it goes into logs and the status. */
static void refusal_reason(const json_t *answer, char *out, size_t len)
{
	const char *r = json_string_value(json_object_get(answer, "reason"));
	size_t n;

	if (!r || !r[0]) {
		snprintf(out, len, "no reason given");
		return;
	}
	n = text_control_at(r, strlen(r), false);
	snprintf(out, len, "%.*s",
		 (int)(n < GATE_REASON_SHOWN ? n : GATE_REASON_SHOWN), r);
}

enum gate_answer gate_read_answer(bool transport_ok, long status,
				  const char *body, const char *error,
				  char *why, size_t why_len)
{
	char reason[GATE_REASON_SHOWN + 1];
	const char *decision;
	json_t *answer;

	if (!transport_ok) {
		snprintf(why, why_len, "no answer: %s", error ? error : "");
		return GATE_HOLD;
	}
	if (status == HTTP_OK) {
		snprintf(why, why_len, "answered 200");
		return GATE_PROCEED;
	}
	answer = body && strlen(body) < ANSWER_BODY_MAX
		     ? json_loads(body, 0, NULL)
		     : NULL;
	decision = json_string_value(json_object_get(answer, "decision"));
	if (decision && !strcmp(decision, "refuse")) {
		refusal_reason(answer, reason, sizeof(reason));
		json_decref(answer);
		snprintf(why, why_len, "refused (answered %ld): %s", status,
			 reason);
		return GATE_REFUSE;
	}
	json_decref(answer);
	snprintf(why, why_len, "answered %ld", status);
	return GATE_HOLD;
}
