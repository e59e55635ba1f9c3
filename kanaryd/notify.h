/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * notify.h - telling people and tools what a rollout did: each configured
 * receiver (lib/notify_config.h) has a bounded queue and a delivery thread
 * of its own, so a receiver that hangs, resets or fails costs the control
 * loop one queue push and nothing more (docs/notifications.md).
 *
 * notify_send() is what the core calls; it never waits on the network. A
 * full queue drops the new event and counts it; an attempt has the
 * receiver's timeout; failures are retried with backoff a few times, then
 * dropped and counted.
 */
#ifndef KANARY_NOTIFY_H
#define KANARY_NOTIFY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "notify_config.h"

/* One event, as the core saw it (strings are copied into the body). */
struct notify_event_data {
	enum notify_event kind;
	const char *service;
	const char *phase;
	uint32_t weight_bp;
	uint32_t step; /* 1-based; 0 outside a rollout */
	uint32_t steps;
	const char *reason;
	const json_t *decision; /* the decision log's entry, or NULL */
	const char *gate;	/* gate events: which gate */
	const char *target;	/* target events: the /metrics URL */
};

struct notifier;

/* Starts a delivery thread per receiver: the top level's and each
 * service's. 0, or a negative errno with err saying why (a token file). */
int notifier_create(const struct agent_config *cfg, struct notifier **out,
		    char *err, size_t err_len);
/* Stops the threads: an attempt in flight is cut short, what is queued is
 * dropped (counted as "shutdown"). */
void notifier_destroy(struct notifier *n);

/* Queues ev for every receiver that wants it; never blocks on I/O. */
void notify_send(struct notifier *n, const struct notify_event_data *ev);

/* The receivers that hear of service: [{"url", "format", "queued",
 * "delivered", "retries", "failed", "dropped": {...}, "healthy",
 * "last_error", "last_delivered"}], or NULL when none does. */
json_t *notifier_status_json(struct notifier *n, const char *service);
/* kanary_notifications_total{receiver,outcome} and the queue gauge, or
 * nothing when no receiver is configured; appended through put. */
typedef void (*notify_put_fn)(void *page, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void notifier_prometheus(struct notifier *n, notify_put_fn put, void *page);

#endif /* KANARY_NOTIFY_H */
