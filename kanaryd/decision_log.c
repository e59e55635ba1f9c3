// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * decision_log.c - a service's decision log, older records as compact
 * JSON text (decision_log.h says why).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "decision_log.h"

/* The texts' mapping, or NULL: shared memory of a memfd of its own, named
 * so that /proc/PID/smaps shows it as "/memfd:kanary-decisions" and
 * /proc/PID/status counts it in RssShmem, apart from the heap. A page is
 * allocated when a text first reaches it: a service that decides little
 * costs little (a node may have a thousand services). */
static char *map_bytes(void)
{
	int fd = memfd_create(DECISION_LOG_MEMFD_NAME, MFD_CLOEXEC);
	void *bytes = MAP_FAILED;

	if (fd < 0)
		return NULL;
	if (ftruncate(fd, DECISION_LOG_BYTES) == 0)
		bytes = mmap(NULL, DECISION_LOG_BYTES, PROT_READ | PROT_WRITE,
			     MAP_SHARED, fd, 0);
	close(fd); /* the mapping keeps the memory */
	return bytes == MAP_FAILED ? NULL : bytes;
}

int decision_log_init(struct decision_log *log, size_t cap)
{
	memset(log, 0, sizeof(*log));
	if (cap < 1 || cap > UINT32_MAX)
		return -EINVAL;
	if (cap > 1) {
		log->start = calloc(cap - 1, sizeof(*log->start));
		log->len = calloc(cap - 1, sizeof(*log->len));
		log->bytes = map_bytes();
		if (!log->start || !log->len || !log->bytes) {
			decision_log_free(log);
			return -ENOMEM;
		}
	}
	ring_init(&log->ring, (uint32_t)(cap - 1));
	return 0;
}

static void clear(struct decision_log *log)
{
	ring_init(&log->ring, log->ring.cap);
	log->next = 0;
	json_decref(log->newest);
	log->newest = NULL;
}

void decision_log_free(struct decision_log *log)
{
	clear(log);
	free(log->start);
	free(log->len);
	if (log->bytes)
		munmap(log->bytes, DECISION_LOG_BYTES);
	log->start = log->len = NULL;
	log->bytes = NULL;
}

size_t decision_log_count(const struct decision_log *log)
{
	return log->ring.len + (log->newest ? 1 : 0);
}

json_t *decision_log_newest(const struct decision_log *log)
{
	return log->newest;
}

/* The oldest record when it lies ahead of where the next text goes (the
 * lap before: records behind it are newer) and starts before end. */
static bool oldest_ahead_before(const struct decision_log *log, uint32_t end)
{
	uint32_t start;

	if (ring_empty(&log->ring))
		return false;
	start = log->start[log->ring.head];
	return start >= log->next && start < end;
}

/*
 * Texts go back to back; at the end of the mapping the next one starts
 * again at 0. Whatever older records the new text lands on go: they are
 * always the oldest, so the log keeps its order.
 */
static void keep_text(struct decision_log *log, const char *text)
{
	size_t n = strlen(text);
	uint32_t slot;

	if (n > DECISION_LOG_BYTES)
		return; /* larger than the whole log: not kept */
	if (log->next + n > DECISION_LOG_BYTES) {
		/* the end of the lap before is left: its records go */
		while (oldest_ahead_before(log, DECISION_LOG_BYTES))
			ring_pop(&log->ring);
		log->next = 0;
	}
	while (oldest_ahead_before(log, log->next + (uint32_t)n))
		ring_pop(&log->ring);
	slot = ring_push(&log->ring); /* full: the oldest goes */
	memcpy(log->bytes + log->next, text, n);
	log->start[slot] = log->next;
	log->len[slot] = (uint32_t)n;
	log->next += (uint32_t)n;
}

void decision_log_append(struct decision_log *log, json_t *record)
{
	if (log->newest && log->ring.cap) {
		/* A record that cannot be written out for want of memory is
		 * left out. */
		char *text = json_dumps(log->newest, JSON_TEXT_FLAGS);

		if (text)
			keep_text(log, text);
		free(text);
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
		uint32_t slot = ring_at(&log->ring, (uint32_t)i);
		json_t *record = json_loadb(log->bytes + log->start[slot],
					    log->len[slot], 0, NULL);

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

int decision_log_items(const struct decision_log *log, size_t n,
		       struct buf *out)
{
	size_t total = decision_log_count(log), take = n < total ? n : total;
	size_t older = take - (log->newest && take ? 1 : 0), i;
	bool first = true;
	int ret = 0;

	for (i = log->ring.len - older; !ret && i < log->ring.len; i++) {
		uint32_t slot = ring_at(&log->ring, (uint32_t)i);

		ret = json_text_array_item(out, log->bytes + log->start[slot],
					   log->len[slot], first);
		first = false;
	}
	if (!ret && log->newest && take) {
		char *text = json_dumps(log->newest, JSON_TEXT_FLAGS);

		if (!text)
			return -ENOMEM;
		ret = json_text_array_item(out, text, strlen(text), first);
		free(text);
	}
	return ret;
}

int decision_log_splice(const struct decision_log *log, size_t n,
			const char *object_text, const char *key,
			struct buf *out)
{
	int ret = json_text_array_open(out, object_text, key);

	if (!ret)
		ret = decision_log_items(log, n, out);
	return ret ? ret : json_text_array_close(out);
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
