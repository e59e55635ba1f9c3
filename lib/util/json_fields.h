/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * json_fields.h - strict readers for the fields of a JSON object, shared by
 * the config file, the rollout spec and the API's request bodies; and how
 * JSON text is written (JSON_TEXT_FLAGS).
 *
 * Each reader leaves its output untouched when the field is absent and
 * returns 0; a field of the wrong type or out of range fails with -EINVAL,
 * and the context records the field's full path ("services[1].rollout.
 * interval") and a message that says what is expected. Every string read
 * here is refused when it holds a control character (util/text.h), and so
 * is an unknown key that does.
 *
 * Also here: a JSON object written piecewise as text (json_text_array_*),
 * for answers too large to build as one tree.
 */
#ifndef KANARY_JSON_FIELDS_H
#define KANARY_JSON_FIELDS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* How kanary writes JSON text (API answers, the decision log): compact,
 * floats to 12 digits: enough for any rate, no binary noise. */
#define JSON_TEXT_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(12))

#define JF_PATH_LEN  160
#define JF_DEPTH_MAX 8

struct jf_ctx {
	char path[JF_PATH_LEN];
	size_t depth;
	size_t marks[JF_DEPTH_MAX];
	char *field_out;
	size_t field_len;
	char *message_out;
	size_t message_len;
};

void jf_init(struct jf_ctx *ctx, const char *prefix, char *field_out,
	     size_t field_len, char *message_out, size_t message_len);
/* Enters / leaves a nested object or array element ("analysis", "[2]"). */
void jf_push(struct jf_ctx *ctx, const char *segment);
void jf_pop(struct jf_ctx *ctx);

int jf_fail(struct jf_ctx *ctx, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* obj must be an object whose keys are all in allowed (NULL-terminated). */
int jf_check_object(struct jf_ctx *ctx, const json_t *obj,
		    const char *const *allowed);

int jf_double(struct jf_ctx *ctx, const json_t *obj, const char *key,
	      double min, double max, double *out);
/* A confidence or probability strictly between 0 and 1. */
int jf_probability(struct jf_ctx *ctx, const json_t *obj, const char *key,
		   double *out);
int jf_uint32(struct jf_ctx *ctx, const json_t *obj, const char *key,
	      uint32_t min, uint32_t max, uint32_t *out);
int jf_bool(struct jf_ctx *ctx, const json_t *obj, const char *key, bool *out);
/* A duration string with a unit: "250ms", "2s", "10m". */
int jf_duration_ms(struct jf_ctx *ctx, const json_t *obj, const char *key,
		   bool positive, uint64_t *out);
/* A string of at most len-1 bytes without control characters, copied into
 * buf; required says whether absence is an error. */
int jf_string(struct jf_ctx *ctx, const json_t *obj, const char *key,
	      bool required, char *buf, size_t len);
/* The same for text that may span lines (TAB, CR and LF pass): a request
 * body, never a header, a URL or a log line. */
int jf_text(struct jf_ctx *ctx, const json_t *obj, const char *key,
	    bool required, char *buf, size_t len);
/* Every string and key inside value (any depth) free of control characters;
 * the error names the deepest field, under key. For objects read by code
 * that echoes their strings in messages. */
int jf_plain_strings(struct jf_ctx *ctx, const char *key, const json_t *value);
/* What a jansson parse error says, for a person, into buf: jansson's own
 * text (any control character it quotes shown as '?'), but for a NUL in a
 * string, where jansson names one of its flags. Returns buf. */
const char *jf_parse_error(const json_error_t *jerr, char *buf, size_t len);
/* A percent 0..100 with at most two decimals, as basis points. */
int jf_percent_value(struct jf_ctx *ctx, const json_t *value, const char *field,
		     uint32_t *bp_out);
int jf_percent(struct jf_ctx *ctx, const json_t *obj, const char *key,
	       uint32_t *bp_out);

/*
 * object_text (a JSON object as json_dumps writes it) with an array under
 * key after its members, written into out piece by piece: open, each item
 * (a JSON value's text, first true for the first), close. Written so, a
 * thousand records or points cost their text, not a tree of each at once.
 * Each returns 0, -EINVAL (open: object_text is no object), -E2BIG (out's
 * limit) or -ENOMEM.
 */
int json_text_array_open(struct buf *out, const char *object_text,
			 const char *key);
int json_text_array_item(struct buf *out, const char *item, size_t len,
			 bool first);
int json_text_array_close(struct buf *out);

#endif /* KANARY_JSON_FIELDS_H */
