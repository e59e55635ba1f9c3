// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * fuzz_config.c - libFuzzer target for kanaryd's JSON inputs: the config
 * file (config_parse, which locates the failing field in the text with
 * jpos_locate), and every object of the input read as a rollout spec and as
 * a metrics spec, the shapes a config service and POST .../rollout carry.
 *
 * A rollout spec that reads must print back (rollout_spec_to_json) to JSON
 * that reads as the same spec: the API shows specs in the shape it accepts.
 * An error must name its place and hold no control character (it goes to a
 * terminal or a log). A broken invariant aborts.
 */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "util/jpos.h"
#include "util/text.h"
#include "metrics/metric_presets.h"
#include "judge/rollout_spec.h"
#include "../lib/fuzz_check.h"

/* Objects visited per input: enough for every object of a real config. */
#define FUZZ_OBJECTS_MAX 64
/* jansson's own depth limit is 2048; the walk needs no more than this. */
#define FUZZ_DEPTH_MAX 32
#define FUZZ_ERR_LEN   512

static void check_same_spec(const struct rollout_spec *a,
			    const struct rollout_spec *b)
{
	const struct analysis_spec *x = &a->analysis, *y = &b->analysis;

	FUZZ_CHECK(a->step_count == b->step_count);
	FUZZ_CHECK(!memcmp(a->steps_bp, b->steps_bp,
			   a->step_count * sizeof(a->steps_bp[0])));
	FUZZ_CHECK(a->equal_steps == b->equal_steps);
	FUZZ_CHECK(!a->equal_steps || a->window_ms == b->window_ms);
	FUZZ_CHECK(a->interval_ms == b->interval_ms);
	FUZZ_CHECK(a->min_requests == b->min_requests);
	FUZZ_CHECK(a->warmup_requests == b->warmup_requests);
	FUZZ_CHECK(a->max_failures == b->max_failures);
	FUZZ_CHECK(a->cut_connections_on_rollback ==
		   b->cut_connections_on_rollback);
	FUZZ_CHECK(x->max_error_rate_increase_pp ==
		   y->max_error_rate_increase_pp);
	FUZZ_CHECK(x->error_confidence == y->error_confidence);
	FUZZ_CHECK(x->max_p99_increase_ms == y->max_p99_increase_ms);
	FUZZ_CHECK(x->latency_confidence == y->latency_confidence);
	FUZZ_CHECK(x->max_prediction_divergence ==
		   y->max_prediction_divergence);
	FUZZ_CHECK(x->prediction_confidence == y->prediction_confidence);
	FUZZ_CHECK(x->rollback_error_rate_pct == y->rollback_error_rate_pct);
	FUZZ_CHECK(x->rollback_min_requests == y->rollback_min_requests);
	FUZZ_CHECK(x->rollback_refused == y->rollback_refused);
}

static void fuzz_rollout(const json_t *obj)
{
	struct rollout_spec defaults, spec, again;
	struct spec_error err = {0}, err2 = {0};
	json_t *printed;

	rollout_spec_defaults(&defaults);
	if (rollout_spec_from_json(obj, &defaults, "fuzz", &spec, &err)) {
		FUZZ_CHECK(memchr(err.message, '\0', sizeof(err.message)));
		FUZZ_CHECK(memchr(err.field, '\0', sizeof(err.field)));
		FUZZ_CHECK(err.message[0]);
		return;
	}
	FUZZ_CHECK(spec.step_count >= 1 &&
		   spec.step_count <= ROLLOUT_MAX_STEPS);
	printed = rollout_spec_to_json(&spec);
	FUZZ_CHECK(printed);
	/* Over other defaults: everything must come from the printed form. */
	memset(&defaults, 0, sizeof(defaults));
	rollout_spec_defaults(&defaults);
	if (rollout_spec_from_json(printed, &defaults, "", &again, &err2)) {
		fprintf(stderr, "printed spec does not read back: %s: %s\n",
			err2.field, err2.message);
		FUZZ_CHECK(!"a printed rollout spec reads back");
	}
	check_same_spec(&spec, &again);
	json_decref(printed);
}

static void fuzz_metrics(const json_t *obj)
{
	struct metric_spec *spec = calloc(1, sizeof(*spec));
	char err[FUZZ_ERR_LEN];

	if (!spec)
		return;
	if (metric_spec_from_json(obj, spec, err, sizeof(err)))
		FUZZ_CHECK(memchr(err, '\0', sizeof(err)) && err[0]);
	free(spec);
}

/* Every object in the document, depth first, up to FUZZ_OBJECTS_MAX. */
static void walk(const json_t *v, unsigned depth, unsigned *objects)
{
	const char *key;
	json_t *child;
	size_t i;

	if (depth > FUZZ_DEPTH_MAX || *objects >= FUZZ_OBJECTS_MAX)
		return;
	if (json_is_object(v)) {
		(*objects)++;
		fuzz_rollout(v);
		fuzz_metrics(v);
		json_object_foreach((json_t *)v, key, child)
		    walk(child, depth + 1, objects);
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, child) walk(child, depth + 1, objects);
	}
}

static void fuzz_config_parse(const char *text, size_t size)
{
	char err[FUZZ_ERR_LEN], field[CONFIG_FIELD_LEN];
	struct agent_config cfg;
	size_t i;
	int ret;

	config_init(&cfg);
	err[0] = '\0';
	ret = config_parse(text, size, "fuzz.json", &cfg, err, sizeof(err));
	FUZZ_CHECK(ret == 0 || ret == -EINVAL || ret == -ENOMEM);
	if (ret) {
		/* "fuzz.json:LINE:COL: FIELD: what" or "fuzz.json: what" */
		FUZZ_CHECK(!strncmp(err, "fuzz.json:", strlen("fuzz.json:")));
		FUZZ_CHECK(text_control_at(err, strlen(err), false) ==
			   strlen(err));
	} else {
		for (i = 0; i < cfg.service_count; i++) {
			const struct service_config *s = &cfg.services[i];

			FUZZ_CHECK(s->def.name[0]);
			FUZZ_CHECK(s->def.stable_count >= 1 &&
				   s->def.stable_count <= KN_MAX_POOL_BACKENDS);
			FUZZ_CHECK(s->def.canary_count <= KN_MAX_POOL_BACKENDS);
			FUZZ_CHECK(s->def.canary_bp <= KN_WEIGHT_SCALE_BP);
		}
		FUZZ_CHECK(config_validate(&cfg, field, sizeof(field), err,
					   sizeof(err)) == 0);
	}
	config_free(&cfg);
}

/* Paths a config error can name, located in any valid document. */
static void fuzz_locate(const char *text, size_t size)
{
	static const char *const paths[] = {
	    "",
	    "services",
	    "services[0]",
	    "services[0].stable[1]",
	    "services[1].rollout.steps[2]",
	    "services[0].metrics.requests",
	    "listen",
	    "a.b.c[3][4]",
	    "[0]",
	};
	unsigned int line, column;
	size_t i;
	int ret;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		line = column = 0;
		ret = jpos_locate(text, size, paths[i], &line, &column);
		FUZZ_CHECK(ret == 0 || ret == -ENOENT || ret == -EINVAL);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	unsigned objects = 0;
	json_error_t jerr;
	json_t *root;

	fuzz_config_parse(text, size);
	root = json_loadb(text, size, JSON_DECODE_ANY, &jerr);
	if (!root)
		return 0;
	fuzz_locate(text, size);
	walk(root, 0, &objects);
	json_decref(root);
	return 0;
}
