/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * json_fields.c - strict JSON field readers (see json_fields.h).
 */
#include "util/json_fields.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/text.h"
#include "util/units.h"

#define BP_PER_PERCENT 100
#define FULL_BP	       10000
/* Tolerance when checking that a JSON number has at most two decimals. */
#define PERCENT_EPSILON 1e-6

void jf_init(struct jf_ctx *ctx, const char *prefix, char *field_out,
	     size_t field_len, char *message_out, size_t message_len)
{
	memset(ctx, 0, sizeof(*ctx));
	snprintf(ctx->path, sizeof(ctx->path), "%s", prefix ? prefix : "");
	ctx->field_out = field_out;
	ctx->field_len = field_len;
	ctx->message_out = message_out;
	ctx->message_len = message_len;
	if (field_out && field_len)
		field_out[0] = '\0';
	if (message_out && message_len)
		message_out[0] = '\0';
}

static void path_join(char *out, size_t len, const char *base,
		      const char *segment)
{
	if (!segment || !*segment)
		snprintf(out, len, "%s", base);
	else if (!*base || segment[0] == '[')
		snprintf(out, len, "%s%s", base, segment);
	else
		snprintf(out, len, "%s.%s", base, segment);
}

void jf_push(struct jf_ctx *ctx, const char *segment)
{
	char joined[JF_PATH_LEN];

	if (ctx->depth < JF_DEPTH_MAX)
		ctx->marks[ctx->depth] = strlen(ctx->path);
	ctx->depth++;
	path_join(joined, sizeof(joined), ctx->path, segment);
	memcpy(ctx->path, joined, sizeof(ctx->path));
}

void jf_pop(struct jf_ctx *ctx)
{
	if (!ctx->depth)
		return;
	ctx->depth--;
	if (ctx->depth < JF_DEPTH_MAX)
		ctx->path[ctx->marks[ctx->depth]] = '\0';
}

int jf_fail(struct jf_ctx *ctx, const char *field, const char *fmt, ...)
{
	va_list ap;

	if (ctx->field_out && ctx->field_len)
		path_join(ctx->field_out, ctx->field_len, ctx->path, field);
	if (ctx->message_out && ctx->message_len) {
		va_start(ap, fmt);
		vsnprintf(ctx->message_out, ctx->message_len, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "a list";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "something else";
}

int jf_check_object(struct jf_ctx *ctx, const json_t *obj,
		    const char *const *allowed)
{
	const char *key;
	json_t *value;

	if (!json_is_object(obj))
		return jf_fail(ctx, "", "must be an object, not %s",
			       obj ? type_name(obj) : "nothing");
	json_object_foreach((json_t *)obj, key, value)
	{
		const char *const *a;
		char known[512] = "";
		size_t used = 0;

		for (a = allowed; *a; a++)
			if (!strcmp(*a, key))
				break;
		if (*a)
			continue;
		/* The key becomes part of the field's name: no control
		 * character may ride into the message with it. */
		if (text_control_at(key, strlen(key), false) < strlen(key))
			return jf_fail(
			    ctx, "",
			    "has an unknown field whose name holds a "
			    "control character");
		for (a = allowed; *a && used < sizeof(known); a++)
			used += (size_t)snprintf(known + used,
						 sizeof(known) - used, "%s%s",
						 a == allowed ? "" : ", ", *a);
		return jf_fail(ctx, key, "unknown field (known fields: %s)",
			       known);
	}
	return 0;
}

/* Which JSON types a field may hold, as bits of enum json_type. */
#define TYPE_BIT(type) (1u << (type))
#define NUMBER_TYPES   (TYPE_BIT(JSON_INTEGER) | TYPE_BIT(JSON_REAL))
#define BOOLEAN_TYPES  (TYPE_BIT(JSON_TRUE) | TYPE_BIT(JSON_FALSE))
#define STRING_TYPES   TYPE_BIT(JSON_STRING)

/*
 * The value at key into *v when it is of one of types: returns 1; 0 when
 * the key is absent; or the error "must be WANT, not <its type>".
 */
static int typed_field(struct jf_ctx *ctx, const json_t *obj, const char *key,
		       unsigned int types, const char *want, const json_t **v)
{
	*v = json_object_get(obj, key);
	if (!*v)
		return 0;
	if (!(types & TYPE_BIT(json_typeof(*v))))
		return jf_fail(ctx, key, "must be %s, not %s", want,
			       type_name(*v));
	return 1;
}

/* The number at key into *d: 1, 0 when absent, or the error. */
static int number_field(struct jf_ctx *ctx, const json_t *obj, const char *key,
			double *d)
{
	const json_t *v;
	int ret = typed_field(ctx, obj, key, NUMBER_TYPES, "a number", &v);

	if (ret > 0)
		*d = json_number_value(v);
	return ret;
}

int jf_double(struct jf_ctx *ctx, const json_t *obj, const char *key,
	      double min, double max, double *out)
{
	double d;
	int ret = number_field(ctx, obj, key, &d);

	if (ret <= 0)
		return ret;
	if (!isfinite(d) || d < min || d > max)
		return jf_fail(ctx, key, "must be between %g and %g, not %g",
			       min, max, d);
	*out = d;
	return 0;
}

int jf_probability(struct jf_ctx *ctx, const json_t *obj, const char *key,
		   double *out)
{
	double d;
	int ret = number_field(ctx, obj, key, &d);

	if (ret <= 0)
		return ret;
	if (!(d > 0 && d < 1))
		return jf_fail(ctx, key,
			       "must be strictly between 0 and 1 (like 0.95), "
			       "not %g",
			       d);
	*out = d;
	return 0;
}

int jf_uint32(struct jf_ctx *ctx, const json_t *obj, const char *key,
	      uint32_t min, uint32_t max, uint32_t *out)
{
	const json_t *v;
	int ret =
	    typed_field(ctx, obj, key, NUMBER_TYPES, "a whole number", &v);
	json_int_t i;

	if (ret <= 0)
		return ret;
	if (json_is_real(v))
		return jf_fail(ctx, key, "must be a whole number, not %g",
			       json_real_value(v));
	i = json_integer_value(v);
	if (i < (json_int_t)min || i > (json_int_t)max)
		return jf_fail(ctx, key, "must be between %u and %u, not %lld",
			       min, max, (long long)i);
	*out = (uint32_t)i;
	return 0;
}

int jf_bool(struct jf_ctx *ctx, const json_t *obj, const char *key, bool *out)
{
	const json_t *v;
	int ret =
	    typed_field(ctx, obj, key, BOOLEAN_TYPES, "true or false", &v);

	if (ret <= 0)
		return ret;
	*out = json_is_true(v);
	return 0;
}

int jf_duration_ms(struct jf_ctx *ctx, const json_t *obj, const char *key,
		   bool positive, uint64_t *out)
{
	const json_t *v;
	char why[160];
	uint64_t ms;
	int ret = typed_field(ctx, obj, key, STRING_TYPES,
			      "a duration string with a unit, like "
			      "\"250ms\", \"2s\" or \"10m\"",
			      &v);

	(void)positive; /* durations are always positive */
	if (ret <= 0)
		return ret;
	if (units_parse_duration_ms(json_string_value(v), &ms, why,
				    sizeof(why)))
		return jf_fail(ctx, key, "%s", why);
	*out = ms;
	return 0;
}

static int string_field(struct jf_ctx *ctx, const json_t *obj, const char *key,
			bool required, bool allow_lines, char *buf, size_t len)
{
	const json_t *v;
	char why[TEXT_ERR_LEN];
	size_t n;
	int ret = typed_field(ctx, obj, key, STRING_TYPES, "a string", &v);

	if (ret == 0 && required)
		return jf_fail(ctx, key, "is required");
	if (ret <= 0)
		return ret;
	n = json_string_length(v);
	if (text_refuse_control(json_string_value(v), n, allow_lines, why,
				sizeof(why)))
		return jf_fail(ctx, key, "%s", why);
	if (n >= len)
		return jf_fail(ctx, key,
			       "must be a string of at most %zu bytes, not %zu",
			       len - 1, n);
	memcpy(buf, json_string_value(v), n + 1);
	return 0;
}

int jf_string(struct jf_ctx *ctx, const json_t *obj, const char *key,
	      bool required, char *buf, size_t len)
{
	return string_field(ctx, obj, key, required, false, buf, len);
}

int jf_text(struct jf_ctx *ctx, const json_t *obj, const char *key,
	    bool required, char *buf, size_t len)
{
	return string_field(ctx, obj, key, required, true, buf, len);
}

/*
 * Depth first; on finding a control character, writes why and the path below
 * value ("requests[1].metric") into where, built on the way back up, so that
 * any depth jansson accepts needs no path stack.
 */
static int find_control(const json_t *value, char *where, size_t where_len,
			char *why, size_t why_len)
{
	char segment[JF_PATH_LEN], rest[JF_PATH_LEN];
	const char *key;
	json_t *child;
	size_t i;

	if (json_is_string(value))
		return text_refuse_control(json_string_value(value),
					   json_string_length(value), false,
					   why, why_len);
	if (json_is_array(value)) {
		json_array_foreach(value, i, child)
		{
			if (!find_control(child, where, where_len, why,
					  why_len))
				continue;
			snprintf(rest, sizeof(rest), "%s", where);
			snprintf(segment, sizeof(segment), "[%zu]", i);
			path_join(where, where_len, segment, rest);
			return -EINVAL;
		}
	}
	if (json_is_object(value)) {
		json_object_foreach((json_t *)value, key, child)
		{
			if (!text_refuse_control(key, strlen(key), false, why,
						 why_len)) {
				if (!find_control(child, where, where_len, why,
						  why_len))
					continue;
				snprintf(rest, sizeof(rest), "%s", where);
				path_join(where, where_len, key, rest);
			}
			return -EINVAL;
		}
	}
	return 0;
}

int jf_plain_strings(struct jf_ctx *ctx, const char *key, const json_t *value)
{
	char where[JF_PATH_LEN] = "", field[JF_PATH_LEN];
	char why[TEXT_ERR_LEN];

	if (!value ||
	    !find_control(value, where, sizeof(where), why, sizeof(why)))
		return 0;
	path_join(field, sizeof(field), key, where);
	return jf_fail(ctx, field, "%s", why);
}

const char *jf_parse_error(const json_error_t *jerr, char *buf, size_t len)
{
	size_t i;

	if (json_error_code(jerr) == json_error_null_character) {
		snprintf(buf, len,
			 "a string holds \\u0000 (NUL): control characters "
			 "are not allowed in kanary's text");
		return buf;
	}
	snprintf(buf, len, "%s", jerr->text);
	for (i = 0; buf[i]; i++)
		if (text_is_control((unsigned char)buf[i]))
			buf[i] = '?';
	return buf;
}

int jf_percent_value(struct jf_ctx *ctx, const json_t *value, const char *field,
		     uint32_t *bp_out)
{
	double d, scaled;

	if (!json_is_number(value))
		return jf_fail(ctx, field,
			       "must be a percent (a number 0-100), not %s",
			       type_name(value));
	d = json_number_value(value);
	if (!isfinite(d) || d < 0 || d > 100)
		return jf_fail(ctx, field,
			       "must be a percent between 0 and 100, not %g",
			       d);
	scaled = d * BP_PER_PERCENT;
	if (fabs(scaled - round(scaled)) > PERCENT_EPSILON)
		return jf_fail(ctx, field,
			       "%g has more than two decimals (steps of "
			       "0.01 %%)",
			       d);
	*bp_out = (uint32_t)round(scaled);
	if (*bp_out > FULL_BP)
		*bp_out = FULL_BP;
	return 0;
}

int jf_percent(struct jf_ctx *ctx, const json_t *obj, const char *key,
	       uint32_t *bp_out)
{
	const json_t *v = json_object_get(obj, key);

	if (!v)
		return 0;
	return jf_percent_value(ctx, v, key, bp_out);
}

/* ---- JSON text written piecewise ---------------------------------------- */

int json_text_array_open(struct buf *out, const char *object_text,
			 const char *key)
{
	size_t len = strlen(object_text);
	int ret;

	if (len < 2 || object_text[0] != '{' || object_text[len - 1] != '}')
		return -EINVAL;
	ret = buf_append(out, object_text, len - 1);
	return ret ? ret
		   : buf_printf(out, "%s\"%s\":[", len > 2 ? "," : "", key);
}

int json_text_array_item(struct buf *out, const char *item, size_t len,
			 bool first)
{
	int ret = first ? 0 : buf_append(out, ",", 1);

	return ret ? ret : buf_append(out, item, len);
}

int json_text_array_close(struct buf *out)
{
	return buf_append(out, "]}", 2);
}
