/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * faults.c - fault knobs: validation, the seeded dice, and the JSON of
 * /admin/faults. One mutex guards the knobs and the random state together,
 * so a draw never sees half of an update.
 */
#include "faults.h"
#include "classifier.h"

#include <errno.h>
#include <stdarg.h>
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

/* Where a refused knob is reported: which field, and why. */
struct knob_report {
	const char **field;
	char *why;
	size_t why_len;
};

static int __attribute__((format(printf, 3, 4)))
refuse(const struct knob_report *r, const char *field, const char *fmt, ...)
{
	va_list ap;

	*r->field = field;
	va_start(ap, fmt);
	vsnprintf(r->why, r->why_len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int check_share(const struct knob_report *r, const char *field, double x)
{
	if (is_share(x))
		return 0;
	return refuse(r, field, "%s must be from 0 to 1", field);
}

static int check_range(const struct knob_report *r, const char *field,
		       unsigned int x, unsigned int min, unsigned int max)
{
	if (x >= min && x <= max)
		return 0;
	return refuse(r, field, "%s must be from %u to %u", field, min, max);
}

int fault_knobs_check(const struct fault_knobs *knobs, const char **field,
		      char *why, size_t why_len)
{
	const struct knob_report r = {field, why, why_len};
	bool label_known =
	    knobs->skew_label == FAULTS_NO_LABEL ||
	    cls_label_name((enum cls_label)knobs->skew_label) != NULL;

	/* The first knob out of range is the one reported. */
	if (check_share(&r, "error_rate", knobs->error_rate) ||
	    check_range(&r, "latency_ms", knobs->latency_ms, 0,
			FAULTS_MAX_LATENCY_MS) ||
	    check_share(&r, "skew", knobs->skew) ||
	    (!label_known &&
	     refuse(&r, "skew_label", "skew_label is not a label")) ||
	    check_range(&r, "ttft_ms", knobs->ttft_ms, 0,
			FAULTS_MAX_LATENCY_MS) ||
	    check_range(&r, "token_ms", knobs->token_ms, 0,
			FAULTS_MAX_TOKEN_MS) ||
	    check_range(&r, "tokens", knobs->tokens, 1, FAULTS_MAX_TOKENS) ||
	    check_share(&r, "stream_error_rate", knobs->stream_error_rate))
		return -EINVAL;
	if (knobs->skew > 0 && knobs->skew_label == FAULTS_NO_LABEL)
		return refuse(
		    &r, "skew_label",
		    "skew above 0 needs a skew_label to skew towards");
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

json_t *fault_knobs_to_json(const struct fault_knobs *knobs)
{
	const char *label =
	    knobs->skew_label == FAULTS_NO_LABEL
		? NULL
		: cls_label_name((enum cls_label)knobs->skew_label);

	return json_pack(
	    "{s:f, s:I, s:f, s:s?, s:b, s:I, s:I, s:I, s:f}", "error_rate",
	    knobs->error_rate, "latency_ms", (json_int_t)knobs->latency_ms,
	    "skew", knobs->skew, "skew_label", label, "metrics_down",
	    knobs->metrics_down, "ttft_ms", (json_int_t)knobs->ttft_ms,
	    "token_ms", (json_int_t)knobs->token_ms, "tokens",
	    (json_int_t)knobs->tokens, "stream_error_rate",
	    knobs->stream_error_rate);
}

static int read_share(const json_t *value, const char *key, double *out,
		      char *why, size_t why_len)
{
	if (!json_is_number(value)) {
		snprintf(why, why_len, "%s must be a number from 0 to 1", key);
		return -EINVAL;
	}
	*out = json_number_value(value);
	return 0;
}

/* An integer knob from min to max. */
static int read_uint(const json_t *value, const char *key, unsigned int min,
		     unsigned int max, unsigned int *out, char *why,
		     size_t why_len)
{
	json_int_t n = json_is_integer(value) ? json_integer_value(value) : -1;

	if (n < (json_int_t)min || n > (json_int_t)max) {
		snprintf(why, why_len, "%s must be an integer from %u to %u",
			 key, min, max);
		return -EINVAL;
	}
	*out = (unsigned int)n;
	return 0;
}

/* Sets one knob in *knobs from a JSON field; range checks come later. */
static int apply_field(struct fault_knobs *knobs, const char *key,
		       const json_t *value, char *why, size_t why_len)
{
	if (strcmp(key, "error_rate") == 0)
		return read_share(value, key, &knobs->error_rate, why, why_len);
	if (strcmp(key, "skew") == 0)
		return read_share(value, key, &knobs->skew, why, why_len);
	if (strcmp(key, "stream_error_rate") == 0)
		return read_share(value, key, &knobs->stream_error_rate, why,
				  why_len);
	if (strcmp(key, "latency_ms") == 0)
		return read_uint(value, key, 0, FAULTS_MAX_LATENCY_MS,
				 &knobs->latency_ms, why, why_len);
	if (strcmp(key, "ttft_ms") == 0)
		return read_uint(value, key, 0, FAULTS_MAX_LATENCY_MS,
				 &knobs->ttft_ms, why, why_len);
	if (strcmp(key, "token_ms") == 0)
		return read_uint(value, key, 0, FAULTS_MAX_TOKEN_MS,
				 &knobs->token_ms, why, why_len);
	if (strcmp(key, "tokens") == 0)
		return read_uint(value, key, 1, FAULTS_MAX_TOKENS,
				 &knobs->tokens, why, why_len);
	if (strcmp(key, "skew_label") == 0) {
		int label = json_is_string(value)
				? cls_label_parse(json_string_value(value))
				: -EINVAL;

		if (json_is_null(value)) {
			knobs->skew_label = FAULTS_NO_LABEL;
			return 0;
		}
		if (label < 0) {
			snprintf(why, why_len,
				 "skew_label must be null or one of positive, "
				 "negative, neutral");
			return -EINVAL;
		}
		knobs->skew_label = label;
		return 0;
	}
	if (strcmp(key, "metrics_down") == 0) {
		if (!json_is_boolean(value)) {
			snprintf(why, why_len,
				 "metrics_down must be true or "
				 "false");
			return -EINVAL;
		}
		knobs->metrics_down = json_is_true(value);
		return 0;
	}
	snprintf(why, why_len,
		 "unknown field '%s' (known: error_rate, latency_ms, skew, "
		 "skew_label, metrics_down, ttft_ms, token_ms, tokens, "
		 "stream_error_rate)",
		 key);
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
