/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * decision_log.h - a service's decision log: its last records, oldest
 * first, at most a fixed number of them and DECISION_LOG_BYTES of text.
 *
 * Records are kept as compact JSON text, back to back in a mapping of
 * their own: a parsed jansson tree of a decision (an object per check, a
 * string per field) costs about fifteen times its text on the heap, and a
 * thousand of them per service, or their texts scattered through the heap,
 * kept kanaryd's memory growing. Only the newest record stays parsed,
 * because the control loop reads it (a held step updates it in place,
 * events quote it). The older ones are parsed again only where a tree is
 * needed (etcd's few); the API's answer and the state file copy the text
 * as it is (decision_log_splice).
 */
#ifndef KANARY_DECISION_LOG_H
#define KANARY_DECISION_LOG_H

#include <jansson.h>
#include <stddef.h>

#include "util/buf.h"
#include "util/json_fields.h"
#include "util/ring.h"

/* The older records' text, at most: the last records that fit are kept
 * (a thousand evaluations of ~0.7 KiB each fit). */
#define DECISION_LOG_BYTES	(1024 * 1024)
#define DECISION_LOG_MEMFD_NAME "kanary-decisions"

struct decision_log {
	/* DECISION_LOG_BYTES of their own mapping: records stay out of the
	 * heap, where long-lived small texts among the loop's short-lived
	 * trees would pin pages the allocator cannot give back. Only the
	 * pages written are resident, shown apart from the heap (a memfd
	 * named DECISION_LOG_MEMFD_NAME: RssShmem in /proc/PID/status). */
	char *bytes;
	uint32_t next;	  /* where the next text goes */
	uint32_t *start;  /* per ring slot: its text's offset in bytes */
	uint32_t *len;	  /* and length */
	struct ring ring; /* of the records before the newest */
	json_t *newest;	  /* owned; NULL when the log is empty */
};

/* 0, or -ENOMEM. cap >= 1 records in all, the newest included. */
int decision_log_init(struct decision_log *log, size_t cap);
void decision_log_free(struct decision_log *log);

/* Records held, the newest included. */
size_t decision_log_count(const struct decision_log *log);

/* The newest record (a borrowed reference), or NULL when empty. */
json_t *decision_log_newest(const struct decision_log *log);

/* Appends record (stealing it); the oldest goes when the log is full. */
void decision_log_append(struct decision_log *log, json_t *record);

/* Replaces the newest record (stealing record); appends when empty. */
void decision_log_replace_newest(struct decision_log *log, json_t *record);

/* A new array of the last n records (all when n exceeds the count),
 * oldest first, or NULL when memory runs out. */
json_t *decision_log_json(const struct decision_log *log, size_t n);

/*
 * Appends the last n records to out as the items of a JSON array
 * (json_text_array_item, util/json_fields.h): the text they are kept in,
 * no tree built. 0, -E2BIG or -ENOMEM (out's limit, memory).
 */
int decision_log_items(const struct decision_log *log, size_t n,
		       struct buf *out);

/*
 * Appends object_text (one JSON object, as json_dumps writes it) to out
 * with `,"key":[the last n records]` added before its closing brace
 * (decision_log_items). 0, -EINVAL when object_text is no object, -E2BIG
 * or -ENOMEM (out's limit, memory).
 */
int decision_log_splice(const struct decision_log *log, size_t n,
			const char *object_text, const char *key,
			struct buf *out);

/* Replaces the log's records with the objects of array (the last ones
 * when there are more than fit; anything else skipped). 0, or -ENOMEM
 * with the log left empty. */
int decision_log_load(struct decision_log *log, const json_t *array);

#endif /* KANARY_DECISION_LOG_H */
