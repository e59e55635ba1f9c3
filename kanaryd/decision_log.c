// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * decision_log.c - a service's decision log, older records as compact
 * JSON text (decision_log.h says why).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "decision_log.h"

int decision_log_init(struct decision_log *log, size_t cap)
{
	memset(log, 0, sizeof(*log));
	if (cap < 1 || cap > UINT32_MAX)
		return -EINVAL;
	if (cap > 1) {
		log->text = calloc(cap - 1, sizeof(*log->text));
		if (!log->text)
			return -ENOMEM;
	}
	ring_init(&log->ring, (uint32_t)(cap - 1));
	return 0;
}

static void clear(struct decision_log *log)
{
	while (!ring_empty(&log->ring)) {
		uint32_t slot = ring_pop(&log->ring);

		free(log->text[slot]);
		log->text[slot] = NULL;
	}
	json_decref(log->newest);
	log->newest = NULL;
}

void decision_log_free(struct decision_log *log)
{
	clear(log);
	free(log->text);
	log->text = NULL;
}

size_t decision_log_count(const struct decision_log *log)
{
	return log->ring.len + (log->newest ? 1 : 0);
}

json_t *decision_log_newest(const struct decision_log *log)
{
	return log->newest;
}

void decision_log_append(struct decision_log *log, json_t *record)
{
	if (log->newest && log->ring.cap) {
		/* A record that cannot be written out for want of memory
		 * leaves an empty slot, skipped by readers. */
		char *text = json_dumps(log->newest, JSON_TEXT_FLAGS);
		uint32_t slot = ring_push(&log->ring);

		free(log->text[slot]);
		log->text[slot] = text;
	}
	json_decref(log->newest);
	log->newest = record;
}

void decision_log_replace_newest(struct decision_log *log, json_t *record)
{
	json_decref(log->newest);
	log->newest = record;
}

json_t *decision_log_json(const struct decision_log *log, size_t n)
{
	size_t total = decision_log_count(log), take = n < total ? n : total;
	/* the ring holds records only while there is a newest */
	size_t older = take - (log->newest && take ? 1 : 0), i;
	json_t *out = json_array();

	if (!out)
		return NULL;
	for (i = log->ring.len - older; i < log->ring.len; i++) {
		const char *text = log->text[ring_at(&log->ring, (uint32_t)i)];
		json_t *record = text ? json_loads(text, 0, NULL) : NULL;

		if (record && json_array_append_new(out, record))
			goto nomem;
	}
	if (log->newest && take &&
	    json_array_append_new(out, json_deep_copy(log->newest)))
		goto nomem;
	return out;
nomem:
	json_decref(out);
	return NULL;
}

int decision_log_splice(const struct decision_log *log, size_t n,
			const char *object_text, const char *key,
			struct buf *out)
{
	size_t total = decision_log_count(log), take = n < total ? n : total;
	size_t older = take - (log->newest && take ? 1 : 0), i;
	size_t len = strlen(object_text);
	bool first = true;
	int ret;

	if (len < 2 || object_text[0] != '{' || object_text[len - 1] != '}')
		return -EINVAL;
	ret = buf_append(out, object_text, len - 1);
	if (!ret)
		ret = buf_printf(out, "%s\"%s\":[", len > 2 ? "," : "", key);
	for (i = log->ring.len - older; !ret && i < log->ring.len; i++) {
		const char *text = log->text[ring_at(&log->ring, (uint32_t)i)];

		if (!text)
			continue;
		if (!first)
			ret = buf_append(out, ",", 1);
		if (!ret)
			ret = buf_append(out, text, strlen(text));
		first = false;
	}
	if (!ret && log->newest && take) {
		char *text = json_dumps(log->newest, JSON_TEXT_FLAGS);

		if (!text)
			return -ENOMEM;
		if (!first)
			ret = buf_append(out, ",", 1);
		if (!ret)
			ret = buf_append(out, text, strlen(text));
		free(text);
	}
	return ret ? ret : buf_append(out, "]}", 2);
}

int decision_log_load(struct decision_log *log, const json_t *array)
{
	size_t n = json_array_size(array), cap = log->ring.cap + 1, i;

	clear(log);
	for (i = n > cap ? n - cap : 0; i < n; i++) {
		const json_t *record = json_array_get(array, i);
		json_t *copy;

		if (!json_is_object(record))
			continue;
		copy = json_deep_copy(record);
		if (!copy) {
			clear(log);
			return -ENOMEM;
		}
		decision_log_append(log, copy);
	}
	return 0;
}
