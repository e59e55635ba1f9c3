/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * notify_config.h - who is told about a rollout: the "notifications" list
 * of receivers (top level and per service, docs/notifications.md), the
 * event kinds a receiver may choose, and the pure parts of delivering to
 * one: its bounded queue and the backoff between attempts. kanaryd's
 * notify.c does the I/O over these.
 */
#ifndef KANARY_NOTIFY_CONFIG_H
#define KANARY_NOTIFY_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/json_fields.h"
#include "util/ring.h"

#define NOTIFY_URL_LEN		  256
#define NOTIFY_PATH_LEN		  256
#define NOTIFY_MAX_RECEIVERS	  8 /* per list: top level, each service */
#define NOTIFY_DEFAULT_TIMEOUT_MS 2000
#define NOTIFY_MAX_TIMEOUT_MS	  60000
#define NOTIFY_QUEUE_LEN	  64 /* events waiting per receiver */
#define NOTIFY_MAX_ATTEMPTS	  4  /* the first try and three retries */
#define NOTIFY_BACKOFF_FIRST_MS	  250
#define NOTIFY_BACKOFF_MAX_MS	  4000

/* What happened; the names are what "events" lists and what is sent. */
enum notify_event {
	NOTIFY_ROLLOUT_STARTED = 0,
	NOTIFY_STEP_PASSED,
	NOTIFY_HELD,
	NOTIFY_PAUSED,
	NOTIFY_RESUMED,
	NOTIFY_PROMOTED,
	NOTIFY_ROLLED_BACK,
	NOTIFY_ABORTED,
	NOTIFY_GATE_WAITING,
	NOTIFY_GATE_APPROVED,
	NOTIFY_GATE_REFUSED,
	NOTIFY_TARGET_DOWN,
	NOTIFY_TARGET_UP,
	NOTIFY_EVENT_COUNT,
};

#define NOTIFY_ALL_EVENTS ((1u << NOTIFY_EVENT_COUNT) - 1)

enum notify_format {
	NOTIFY_FORMAT_JSON = 0,
	NOTIFY_FORMAT_SLACK, /* {"text": one line for a channel} */
};

struct notify_receiver_config {
	char url[NOTIFY_URL_LEN];
	enum notify_format format;
	uint32_t events;     /* bit set of 1u << enum notify_event */
	uint64_t timeout_ms; /* per attempt */
	char token_file[NOTIFY_PATH_LEN]; /* "": no Authorization header */
};

struct notify_config {
	struct notify_receiver_config receivers[NOTIFY_MAX_RECEIVERS];
	uint32_t count;
};

const char *notify_event_name(enum notify_event ev);
int notify_event_parse(const char *name, enum notify_event *out);
const char *notify_format_name(enum notify_format f);

/* 0 when url starts with http:// or https:// and has a host after it;
 * else -EINVAL with why. Gates use it too. */
int notify_check_url(const char *url, char *why, size_t why_len);

/*
 * Reads obj's "notifications" (absent: none) into out: a list of receiver
 * objects; unknown fields or event names, a URL without a scheme and a
 * token file that cannot be read fail, naming the field
 * ("notifications[1].events[2]").
 */
int notify_config_from_json(struct jf_ctx *ctx, const json_t *obj,
			    struct notify_config *out);

/* ---- delivery's pure parts ----------------------------------------------- */

/* A bounded FIFO of owned strings (the bodies waiting to be sent). */
struct notify_queue {
	char *items[NOTIFY_QUEUE_LEN];
	struct ring ring;
};

void notify_queue_init(struct notify_queue *q);
/* Takes body; -ENOSPC (body freed by the caller) when full. */
int notify_queue_push(struct notify_queue *q, char *body);
/* The oldest body (the caller frees it), or NULL when empty. */
char *notify_queue_pop(struct notify_queue *q);
uint32_t notify_queue_len(const struct notify_queue *q);
void notify_queue_clear(struct notify_queue *q);

/* The wait before attempt number attempt (1 = the first retry): doubling
 * from NOTIFY_BACKOFF_FIRST_MS, capped at NOTIFY_BACKOFF_MAX_MS. */
uint64_t notify_backoff_ms(uint32_t attempt);
/* Whether an HTTP answer counts as delivered (2xx) or is worth retrying
 * (a transport failure, 408, 429 or 5xx); other 4xx are given up at once. */
bool notify_status_delivered(long status);
bool notify_status_retryable(bool transport_ok, long status);

#endif /* KANARY_NOTIFY_CONFIG_H */
