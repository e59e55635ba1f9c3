/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * rollout.c - the commands that drive a rollout: rollout (start one, with
 * a spec from flags or a file), pause, resume, promote, abort and approve
 * (the gate a rollout waits for). Each
 * answer is the service's new status, printed by report_operation().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "judge/rollout_spec.h"
#include "util/netaddr.h"
#include "util/units.h"

static int simple_operation(struct ctl *ctl, int argc, char **argv,
			    const char *action, const char *done)
{
	const char *pos[MAX_POSITIONALS] = {NULL};
	char path[CTL_SERVER_LEN];
	json_t *svc;
	int ret;

	if (!begin(ctl, argc, argv, NULL, pos, service_pos, 1, 1, &ret))
		return ret;
	ret = service_path(ctl, pos[0], action, path, sizeof(path));
	ret = ret ?: call_agent(ctl, "POST", path, NULL, ANSWER_SERVICE, &svc);
	return ret ?: report_operation(ctl, pos[0], done, svc);
}

int do_pause(struct ctl *ctl, int argc, char **argv)
{
	return simple_operation(ctl, argc, argv, "pause", "paused");
}

int do_resume(struct ctl *ctl, int argc, char **argv)
{
	return simple_operation(ctl, argc, argv, "resume", "resumed");
}

int do_abort(struct ctl *ctl, int argc, char **argv)
{
	return simple_operation(ctl, argc, argv, "abort", "aborted");
}

int do_approve(struct ctl *ctl, int argc, char **argv)
{
	return simple_operation(ctl, argc, argv, "approve", "gate approved");
}

int do_promote(struct ctl *ctl, int argc, char **argv)
{
	const char *pos[MAX_POSITIONALS] = {NULL};
	bool full = false;
	const struct flag flags[] = {
	    {"full", NULL, &full},
	    {NULL, NULL, NULL},
	};
	char path[CTL_SERVER_LEN];
	json_t *body = NULL, *svc;
	int ret;

	if (!begin(ctl, argc, argv, flags, pos, service_pos, 1, 1, &ret))
		return ret;
	if (full)
		body = json_pack("{s:b}", "full", 1);
	ret = service_path(ctl, pos[0], "promote", path, sizeof(path));
	ret = ret ?: call_agent(ctl, "POST", path, body, ANSWER_SERVICE, &svc);
	json_decref(body);
	return ret
		   ?: report_operation(ctl, pos[0],
				       full ? "promoted in full"
					    : "moved to the next step",
				       svc);
}

/* "10,25,50,75,100" -> [10, 25, 50, 75, 100] */
static int steps_json(struct ctl *ctl, const char *text, json_t **out)
{
	char copy[ROLLOUT_MAX_STEPS * 8], *save = NULL, *item;
	char err[CTL_ERR_LEN];
	json_t *list;

	if (strlen(text) >= sizeof(copy) || !*text)
		return usage_error(ctl,
				   "--steps '%s': give percents like "
				   "10,25,50,75,100",
				   text);
	snprintf(copy, sizeof(copy), "%s", text);
	list = json_array();
	for (item = strtok_r(copy, ",", &save); item;
	     item = strtok_r(NULL, ",", &save)) {
		uint32_t bp;

		if (netaddr_parse_percent_bp(item, &bp, err, sizeof(err))) {
			json_decref(list);
			return usage_error(ctl, "--steps '%s': %s", text, err);
		}
		json_array_append_new(list, json_real(bp / BP_PER_PERCENT));
	}
	*out = list;
	return CTL_EXIT_OK;
}

static int uint_flag(struct ctl *ctl, const char *flag, const char *text,
		     json_t *body, const char *key)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || end == text || *end || text[0] == '-' || v > UINT32_MAX)
		return usage_error(ctl, "--%s '%s': not a whole number", flag,
				   text);
	json_object_set_new(body, key, json_integer((json_int_t)v));
	return CTL_EXIT_OK;
}

static int duration_flag(struct ctl *ctl, const char *flag, const char *text,
			 json_t *body, const char *key)
{
	char buf[UNITS_DURATION_STR_LEN];
	uint64_t ms;

	if (parse_duration_flag(ctl, flag, text, &ms))
		return CTL_EXIT_USAGE;
	json_object_set_new(
	    body, key,
	    json_string(units_format_duration_ms(ms, buf, sizeof(buf))));
	return CTL_EXIT_OK;
}

/* --gate-before-step URL and the like: the spec's "gates" object, amended
 * (docs/notifications.md). */
static void gate_flags(json_t *body, const char *const urls[], size_t count)
{
	static const char *const keys[] = {"before_start", "before_step",
					   "before_promotion"};
	json_t *gates = json_object_get(body, "gates");
	size_t i;

	for (i = 0; i < count; i++) {
		if (!urls[i])
			continue;
		if (!json_is_object(gates)) {
			gates = json_object();
			json_object_set_new(body, "gates", gates);
		}
		json_object_set_new(gates, keys[i], json_string(urls[i]));
	}
}

int do_rollout(struct ctl *ctl, int argc, char **argv)
{
	const char *pos[MAX_POSITIONALS] = {NULL};
	const char *steps = NULL, *count = NULL, *window = NULL,
		   *interval = NULL, *min_requests = NULL, *warmup = NULL,
		   *max_failures = NULL, *spec = NULL;
	const char *gates[3] = {NULL};
	const struct flag flags[] = {
	    {"steps", &steps, NULL},
	    {"step-count", &count, NULL},
	    {"window", &window, NULL},
	    {"interval", &interval, NULL},
	    {"min-requests", &min_requests, NULL},
	    {"warmup", &warmup, NULL},
	    {"max-failures", &max_failures, NULL},
	    {"spec", &spec, NULL},
	    {"gate-before-start", &gates[0], NULL},
	    {"gate-before-step", &gates[1], NULL},
	    {"gate-before-promotion", &gates[2], NULL},
	    {NULL, NULL, NULL},
	};
	char path[CTL_SERVER_LEN];
	json_t *body = NULL, *svc, *list = NULL;
	int ret;

	if (!begin(ctl, argc, argv, flags, pos, service_pos, 1, 1, &ret))
		return ret;
	if (steps && (count || window))
		return usage_error(ctl, "give --steps, or --step-count with "
					"--window, not both");
	if (!count != !window)
		return usage_error(ctl, "--step-count and --window go "
					"together (10 steps over 10m: "
					"--step-count 10 --window 10m)");
	if (spec)
		ret = read_json_file(ctl, "spec", spec, &body);
	else
		body = json_object();
	if (ret)
		return ret;
	if (steps) {
		ret = steps_json(ctl, steps, &list);
		if (!ret) {
			json_object_set_new(body, "steps", list);
			json_object_del(body, "step_count");
			json_object_del(body, "window");
		}
	}
	if (!ret && count) {
		ret = uint_flag(ctl, "step-count", count, body, "step_count");
		ret =
		    ret ?: duration_flag(ctl, "window", window, body, "window");
		json_object_del(body, "steps");
	}
	if (!ret && interval)
		ret =
		    duration_flag(ctl, "interval", interval, body, "interval");
	if (!ret && min_requests)
		ret = uint_flag(ctl, "min-requests", min_requests, body,
				"min_requests");
	if (!ret && warmup)
		ret = uint_flag(ctl, "warmup", warmup, body, "warmup_requests");
	if (!ret && max_failures)
		ret = uint_flag(ctl, "max-failures", max_failures, body,
				"max_failures");
	if (!ret)
		gate_flags(body, gates, sizeof(gates) / sizeof(gates[0]));
	ret = ret ?: service_path(ctl, pos[0], "rollout", path, sizeof(path));
	/* No flags: no body, and the agent applies the service's spec. */
	ret = ret
		  ?: call_agent(ctl, "POST", path,
				json_object_size(body) ? body : NULL,
				ANSWER_SERVICE, &svc);
	json_decref(body);
	return ret ?: report_operation(ctl, pos[0], "rollout started", svc);
}
