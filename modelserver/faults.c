/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * faults.c - fault knobs: validation, the seeded dice, and the JSON of
 * /admin/faults. One mutex guards the knobs and the random state together,
 * so a draw never sees half of an update.
 */
#include "faults.h"
#include "classifier.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* splitmix64 (Steele, Lea, Flood): small, fast, and fine for dice. */
#define SPLITMIX_GAMMA 0x9e3779b97f4a7c15ULL
#define SPLITMIX_MUL1  0xbf58476d1ce4e5b9ULL
#define SPLITMIX_MUL2  0x94d049bb133111ebULL
/* A double has 53 bits of mantissa: the top 53 random bits fill it. */
#define UNIT_DOUBLE_SHIFT 11
#define UNIT_DOUBLE_SCALE 0x1.0p-53

static uint64_t next_u64(uint64_t *state)
{
	uint64_t z = (*state += SPLITMIX_GAMMA);

	z = (z ^ (z >> 30)) * SPLITMIX_MUL1;
	z = (z ^ (z >> 27)) * SPLITMIX_MUL2;
	return z ^ (z >> 31);
}

/* Uniform in [0, 1): a rate of 0 never fires, a rate of 1 always does. */
static double next_unit(uint64_t *state)
{
	return (double)(next_u64(state) >> UNIT_DOUBLE_SHIFT) *
	       UNIT_DOUBLE_SCALE;
}

static bool is_share(double x)
{
	return x >= 0.0 && x <= 1.0; /* false for NaN too */
}

/* How a knob is written in JSON and checked. */
enum knob_kind {
	KNOB_SHARE, /* a double from 0 to 1 */
	KNOB_UINT,  /* an unsigned int from min to max */
	KNOB_LABEL, /* a classifier label's name (an int), or null */
	KNOB_FLAG,  /* true or false (a bool) */
};

struct knob {
	const char *name;
	enum knob_kind kind;
	unsigned int min, max; /* KNOB_UINT */
	size_t offset;	       /* of the value in struct fault_knobs */
};

/* Where a knob's value is in struct fault_knobs. */
#define KNOB_AT(field) offsetof(struct fault_knobs, field)

/* The knobs in the order they are written, checked and listed. */
static const struct knob knobs_table[] = {
    {"error_rate", KNOB_SHARE, 0, 0, KNOB_AT(error_rate)},
    {"latency_ms", KNOB_UINT, 0, FAULTS_MAX_LATENCY_MS, KNOB_AT(latency_ms)},
    {"skew", KNOB_SHARE, 0, 0, KNOB_AT(skew)},
    {"skew_label", KNOB_LABEL, 0, 0, KNOB_AT(skew_label)},
    {"metrics_down", KNOB_FLAG, 0, 0, KNOB_AT(metrics_down)},
    {"ttft_ms", KNOB_UINT, 0, FAULTS_MAX_LATENCY_MS, KNOB_AT(ttft_ms)},
    {"token_ms", KNOB_UINT, 0, FAULTS_MAX_TOKEN_MS, KNOB_AT(token_ms)},
    {"tokens", KNOB_UINT, 1, FAULTS_MAX_TOKENS, KNOB_AT(tokens)},
    {"stream_error_rate", KNOB_SHARE, 0, 0, KNOB_AT(stream_error_rate)},
};

#define KNOBS_TABLE_LEN (sizeof(knobs_table) / sizeof(knobs_table[0]))

/* The knob's value in knobs: a double, unsigned int, int or bool, as its
 * kind says. */
static const void *knob_value(const struct fault_knobs *knobs,
			      const struct knob *k)
{
	return (const char *)knobs + k->offset;
}

static bool knob_ok(const struct fault_knobs *knobs, const struct knob *k)
{
	const void *v = knob_value(knobs, k);
	int label;

	switch (k->kind) {
	case KNOB_SHARE:
		return is_share(*(const double *)v);
	case KNOB_UINT:
		return *(const unsigned int *)v >= k->min &&
		       *(const unsigned int *)v <= k->max;
	case KNOB_LABEL:
		label = *(const int *)v;
		return label == FAULTS_NO_LABEL ||
		       cls_label_name((enum cls_label)label) != NULL;
	case KNOB_FLAG:
		return true;
	}
	return false;
}

int fault_knobs_check(const struct fault_knobs *knobs, const char **field,
		      char *why, size_t why_len)
{
	size_t i;

	/* The first knob out of range is the one reported. */
	for (i = 0; i < KNOBS_TABLE_LEN; i++) {
		const struct knob *k = &knobs_table[i];

		if (knob_ok(knobs, k))
			continue;
		*field = k->name;
		if (k->kind == KNOB_UINT)
			snprintf(why, why_len, "%s must be from %u to %u",
				 k->name, k->min, k->max);
		else if (k->kind == KNOB_LABEL)
			snprintf(why, why_len, "%s is not a label", k->name);
		else
			snprintf(why, why_len, "%s must be from 0 to 1",
				 k->name);
		return -EINVAL;
	}
	if (knobs->skew > 0 && knobs->skew_label == FAULTS_NO_LABEL) {
		*field = "skew_label";
		snprintf(why, why_len,
			 "skew above 0 needs a skew_label to skew towards");
		return -EINVAL;
	}
	return 0;
}

void faults_init(struct faults *faults, const struct fault_knobs *knobs,
		 uint64_t seed)
{
	pthread_mutex_init(&faults->lock, NULL);
	faults->knobs = *knobs;
	faults->rng_state = seed;
}

void faults_destroy(struct faults *faults)
{
	pthread_mutex_destroy(&faults->lock);
}

void faults_get(struct faults *faults, struct fault_knobs *out)
{
	pthread_mutex_lock(&faults->lock);
	*out = faults->knobs;
	pthread_mutex_unlock(&faults->lock);
}

void faults_draw(struct faults *faults, struct fault_draw *out)
{
	double fail_dice, skew_dice;

	pthread_mutex_lock(&faults->lock);
	out->knobs = faults->knobs;
	/* Both dice every time: one knob's value never shifts the other's. */
	fail_dice = next_unit(&faults->rng_state);
	skew_dice = next_unit(&faults->rng_state);
	pthread_mutex_unlock(&faults->lock);
	out->fail = fail_dice < out->knobs.error_rate;
	out->skewed = out->knobs.skew_label != FAULTS_NO_LABEL &&
		      skew_dice < out->knobs.skew;
}

void faults_draw_completion(struct faults *faults, struct fault_draw *out)
{
	double fail_dice;

	pthread_mutex_lock(&faults->lock);
	out->knobs = faults->knobs;
	fail_dice = next_unit(&faults->rng_state);
	pthread_mutex_unlock(&faults->lock);
	out->fail = fail_dice < out->knobs.stream_error_rate;
	out->skewed = false;
}

static json_t *knob_json(const struct fault_knobs *knobs, const struct knob *k)
{
	const void *v = knob_value(knobs, k);
	const char *label;

	switch (k->kind) {
	case KNOB_SHARE:
		return json_real(*(const double *)v);
	case KNOB_UINT:
		return json_integer(*(const unsigned int *)v);
	case KNOB_LABEL:
		label = *(const int *)v == FAULTS_NO_LABEL
			    ? NULL
			    : cls_label_name((enum cls_label)(*(const int *)v));
		return label ? json_string(label) : json_null();
	case KNOB_FLAG:
		return json_boolean(*(const bool *)v);
	}
	return json_null();
}

json_t *fault_knobs_to_json(const struct fault_knobs *knobs)
{
	json_t *obj = json_object();
	size_t i;

	for (i = 0; obj && i < KNOBS_TABLE_LEN; i++)
		json_object_set_new(obj, knobs_table[i].name,
				    knob_json(knobs, &knobs_table[i]));
	return obj;
}

/* Sets knob k in *knobs from its JSON value; ranges are checked later. */
static int knob_from_json(struct fault_knobs *knobs, const struct knob *k,
			  const json_t *value, char *why, size_t why_len)
{
	void *v = (char *)knobs + k->offset;
	json_int_t n;
	int label;

	switch (k->kind) {
	case KNOB_SHARE:
		if (!json_is_number(value)) {
			snprintf(why, why_len,
				 "%s must be a number from 0 to 1", k->name);
			return -EINVAL;
		}
		*(double *)v = json_number_value(value);
		return 0;
	case KNOB_UINT:
		n = json_is_integer(value) ? json_integer_value(value) : -1;
		if (n < (json_int_t)k->min || n > (json_int_t)k->max) {
			snprintf(why, why_len,
				 "%s must be an integer from %u to %u", k->name,
				 k->min, k->max);
			return -EINVAL;
		}
		*(unsigned int *)v = (unsigned int)n;
		return 0;
	case KNOB_LABEL:
		if (json_is_null(value)) {
			*(int *)v = FAULTS_NO_LABEL;
			return 0;
		}
		label = json_is_string(value)
			    ? cls_label_parse(json_string_value(value))
			    : -EINVAL;
		if (label < 0) {
			snprintf(why, why_len,
				 "%s must be null or one of positive, "
				 "negative, neutral",
				 k->name);
			return -EINVAL;
		}
		*(int *)v = label;
		return 0;
	case KNOB_FLAG:
		if (!json_is_boolean(value)) {
			snprintf(why, why_len, "%s must be true or false",
				 k->name);
			return -EINVAL;
		}
		*(bool *)v = json_is_true(value);
		return 0;
	}
	return -EINVAL;
}

/* Sets one knob in *knobs from a JSON field; range checks come later. */
static int apply_field(struct fault_knobs *knobs, const char *key,
		       const json_t *value, char *why, size_t why_len)
{
	size_t i, used;

	for (i = 0; i < KNOBS_TABLE_LEN; i++)
		if (strcmp(key, knobs_table[i].name) == 0)
			return knob_from_json(knobs, &knobs_table[i], value,
					      why, why_len);
	used =
	    (size_t)snprintf(why, why_len, "unknown field '%s' (known: ", key);
	for (i = 0; i < KNOBS_TABLE_LEN && used < why_len; i++)
		used += (size_t)snprintf(why + used, why_len - used, "%s%s",
					 i ? ", " : "", knobs_table[i].name);
	if (used < why_len)
		snprintf(why + used, why_len - used, ")");
	return -EINVAL;
}

int faults_update_json(struct faults *faults, json_t *update,
		       struct fault_knobs *out, const char **field, char *why,
		       size_t why_len)
{
	struct fault_knobs knobs;
	const char *key;
	json_t *value;
	int err = 0;

	*field = NULL;
	if (!json_is_object(update)) {
		snprintf(why, why_len, "the body must be a JSON object");
		return -EINVAL;
	}
	/* Under the lock from read to write: concurrent updates never mix. */
	pthread_mutex_lock(&faults->lock);
	knobs = faults->knobs;
	json_object_foreach(update, key, value)
	{
		err = apply_field(&knobs, key, value, why, why_len);
		if (err) {
			*field = key;
			break;
		}
	}
	if (!err)
		err = fault_knobs_check(&knobs, field, why, why_len);
	if (!err)
		faults->knobs = knobs;
	pthread_mutex_unlock(&faults->lock);
	if (!err)
		*out = knobs;
	return err;
}
