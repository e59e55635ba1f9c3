/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * spec_json.h - rollout specs read from JSON text in the unit tests
 * (test_config, test_analysis): what a rollout body or a config file's
 * "rollout" object becomes, and the round trip through its JSON form.
 * Include after unit.h.
 */
#ifndef KANARY_UNIT_SPEC_JSON_H
#define KANARY_UNIT_SPEC_JSON_H

#include <jansson.h>

#include "judge/rollout_spec.h"

/* rollout_spec_from_json of the JSON text over base: 0 or its error. */
static inline int spec_from_text(const char *text,
				 const struct rollout_spec *base,
				 struct rollout_spec *out,
				 struct spec_error *err)
{
	json_error_t jerr;
	json_t *obj = json_loads(text, 0, &jerr);
	int rc;

	if (!obj)
		fail_msg("bad test JSON %s: %s", text, jerr.text);
	rc = rollout_spec_from_json(obj, base, "", out, err);
	json_decref(obj);
	return rc;
}

/* spec written as JSON and read back over base into back (which may be
 * base); the JSON form is returned in *json when json is not NULL (the
 * caller frees it). 0 or the error. */
static inline int spec_round_trip(const struct rollout_spec *spec,
				  const struct rollout_spec *base,
				  struct rollout_spec *back, json_t **json,
				  struct spec_error *err)
{
	json_t *round = rollout_spec_to_json(spec);
	int rc;

	assert_non_null(round);
	rc = rollout_spec_from_json(round, base, "", back, err);
	if (json)
		*json = round;
	else
		json_decref(round);
	return rc;
}

#endif /* KANARY_UNIT_SPEC_JSON_H */
