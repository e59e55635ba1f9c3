/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * decision_log.h - a service's decision log: its last records, oldest
 * first, at most a fixed number.
 *
 * Records are kept as compact JSON text, one allocation each: a parsed
 * jansson tree of a decision (an object per check, a string per field)
 * costs about fifteen times its text on the heap, and a thousand of them
 * per service churned the allocator into growing without bound. Only the
 * newest record stays parsed, because the control loop reads it (a held
 * step updates it in place, events quote it). The older ones are parsed
 * again when someone asks for them (the API, the state file, etcd).
 */
#ifndef KANARY_DECISION_LOG_H
#define KANARY_DECISION_LOG_H

#include <jansson.h>
#include <stddef.h>

#include "util/ring.h"

struct decision_log {
	char **text;	  /* cap slots; ring order, the newest's slot unused */
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

/* Replaces the log's records with the objects of array (the last ones
 * when there are more than fit; anything else skipped). 0, or -ENOMEM
 * with the log left empty. */
int decision_log_load(struct decision_log *log, const json_t *array);

#endif /* KANARY_DECISION_LOG_H */
