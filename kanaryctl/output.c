/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * output.c - what kanaryctl prints for people: the agent's JSON read into
 * text (numbers as percents and milliseconds, "-" for what is absent),
 * aligned tables, and escaping of anything a terminal would act on in
 * text that came from the network.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/* "\xHH" and its NUL. */
#define ESCAPE_BYTES 5
/* UTF-8 encodes the C1 controls U+0080..U+009F as 0xC2 0x80..0x9F. */
#define UTF8_C1_LEAD  0xc2
#define UTF8_C1_FIRST 0x80
#define UTF8_C1_LAST  0x9f
#define ASCII_SPACE   0x20
#define ASCII_DEL     0x7f

void print_json(const json_t *obj)
{
	char *text = json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(12));

	if (text) {
		print_json_text(text);
		putchar('\n');
		free(text);
	}
}

int print_json_answer(json_t *answer)
{
	print_json(answer);
	json_decref(answer);
	return CTL_EXIT_OK;
}

/* ---- reading the agent's JSON ------------------------------------------- */

const char *jstr(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s ? s : "-";
}

bool jnum(const json_t *obj, const char *key, double *out)
{
	const json_t *v = json_object_get(obj, key);

	if (!json_is_number(v))
		return false;
	*out = json_number_value(v);
	return true;
}

void step_text(const json_t *svc, char *buf, size_t len)
{
	double step = 0, n = 0;

	if (!jnum(svc, "step", &step) || !jnum(svc, "steps", &n) || step <= 0 ||
	    n <= 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.0f/%.0f", step, n);
}

/* A number member with decimals and a unit after it, or "-". */
static void number_text(const json_t *obj, const char *key, int decimals,
			const char *unit, char *buf, size_t len)
{
	double v;

	if (jnum(obj, key, &v))
		snprintf(buf, len, "%.*f%s", decimals, v, unit);
	else
		snprintf(buf, len, "-");
}

void percent_text(const json_t *obj, const char *key, char *buf, size_t len)
{
	number_text(obj, key, 2, "%", buf, len);
}

void ms_text(const json_t *obj, const char *key, char *buf, size_t len)
{
	number_text(obj, key, 1, "ms", buf, len);
}

void count_text(const json_t *obj, const char *key, char *buf, size_t len)
{
	number_text(obj, key, 0, "", buf, len);
}

void up_down_text(const json_t *obj, const char *up_key, const char *why_key,
		  char *buf, size_t len)
{
	if (!json_is_object(obj))
		snprintf(buf, len, "-");
	else if (json_is_true(json_object_get(obj, up_key)))
		snprintf(buf, len, "up");
	else
		snprintf(buf, len, "down: %s", jstr(obj, why_key));
}

int report_operation(struct ctl *ctl, const char *name, const char *done,
		     json_t *svc)
{
	char step[CELL_LEN], pct[CELL_LEN];

	if (ctl->json)
		return print_json_answer(svc);
	step_text(svc, step, sizeof(step));
	percent_text(svc, "canary_percent", pct, sizeof(pct));
	printf("%s: %s; phase %s, step %s, canary %s\n", name, done,
	       jstr(svc, "phase"), step, pct);
	json_decref(svc);
	return CTL_EXIT_OK;
}

/* ---- tables ---------------------------------------------------------------
 */

struct table *table_new(size_t cols, const char *const *header)
{
	struct table *t = calloc(1, sizeof(*t));
	size_t c;

	if (!t)
		return NULL;
	t->cols = cols;
	for (c = 0; c < cols; c++)
		snprintf(t->cell[0][c], CELL_LEN, "%s", header[c]);
	t->rows = 1;
	return t;
}

table_cell *table_row(struct table *t)
{
	if (t->rows == TABLE_MAX_ROWS)
		return NULL;
	return t->cell[t->rows++];
}

void table_print(const struct table *t, const char *indent)
{
	size_t width[TABLE_MAX_COLS] = {0};
	size_t r, c;

	for (r = 0; r < t->rows; r++)
		for (c = 0; c < t->cols; c++)
			if (strlen(t->cell[r][c]) > width[c])
				width[c] = strlen(t->cell[r][c]);
	for (r = 0; r < t->rows; r++) {
		fputs(indent, stdout);
		for (c = 0; c < t->cols; c++) {
			if (c + 1 == t->cols)
				printf("%s", t->cell[r][c]);
			else
				printf("%-*s  ", (int)width[c], t->cell[r][c]);
		}
		putchar('\n');
	}
}

/* ---- escaping ---------------------------------------------------------------
 */

/* How many bytes at p form one character to escape (0: none). */
static size_t escaped_len(const unsigned char *p)
{
	if (*p < ASCII_SPACE || *p == ASCII_DEL)
		return 1;
	if (p[0] == UTF8_C1_LEAD && p[1] >= UTF8_C1_FIRST &&
	    p[1] <= UTF8_C1_LAST)
		return 2;
	return 0;
}

static bool needs_escape(const char *text)
{
	const unsigned char *p;

	for (p = (const unsigned char *)text; *p; p++)
		if (escaped_len(p))
			return true;
	return false;
}

void print_json_text(const char *text)
{
	const unsigned char *p = (const unsigned char *)text;

	/*
	 * Valid JSON holds C0 bytes only as white space between tokens, but
	 * DEL and C1 raw inside strings, where \u00HH means the same
	 * character: the meaning stays, the terminal gets nothing to act on.
	 */
	while (*p) {
		size_t n = *p < ASCII_SPACE ? 0 : escaped_len(p);

		if (n) {
			printf("\\u%04x", n == 1 ? p[0] : p[1]);
			p += n;
		} else {
			putchar(*p++);
		}
	}
}

const char *escape_text(const char *text, char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t used = 0;

	if (!len)
		return buf;
	while (*p && used + 1 < len) {
		size_t n = escaped_len(p);

		if (!n) {
			buf[used++] = (char)*p++;
			continue;
		}
		/* A C1 control shows as its code point's low byte. */
		if (used + ESCAPE_BYTES > len)
			break;
		snprintf(buf + used, ESCAPE_BYTES, "\\x%02x", p[n - 1]);
		used += ESCAPE_BYTES - 1;
		p += n;
	}
	buf[used] = '\0';
	return buf;
}

int escape_json_strings(json_t *tree)
{
	const char *key;
	json_t *v;
	size_t i;

	if (json_is_object(tree)) {
		json_object_foreach(tree, key, v)
		{
			if (escape_json_strings(v))
				return -ENOMEM;
		}
	} else if (json_is_array(tree)) {
		json_array_foreach(tree, i, v)
		{
			if (escape_json_strings(v))
				return -ENOMEM;
		}
	} else if (json_is_string(tree) &&
		   needs_escape(json_string_value(tree))) {
		const char *text = json_string_value(tree);
		/* Each byte grows at most to "\xHH". */
		size_t len = strlen(text) * (ESCAPE_BYTES - 1) + 1;
		char *buf = malloc(len);
		int ret;

		if (!buf)
			return -ENOMEM;
		ret = json_string_set(tree, escape_text(text, buf, len));
		free(buf);
		return ret ? -ENOMEM : 0;
	}
	return 0;
}
