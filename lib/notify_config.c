/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * notify_config.c - the "notifications" receivers read and checked, the
 * event names, and the queue and backoff a receiver's delivery runs on
 * (see notify_config.h).
 */
#include "notify_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/names.h"

#define RECEIVER_FIELD_LEN 32
#define HTTP_OK_FIRST	   200
#define HTTP_OK_LAST	   299
#define HTTP_TIMEOUT	   408
#define HTTP_TOO_MANY	   429
#define HTTP_SERVER_FIRST  500

static const char *const event_names[] = {
    [NOTIFY_ROLLOUT_STARTED] = "rollout_started",
    [NOTIFY_STEP_PASSED] = "step_passed",
    [NOTIFY_HELD] = "held",
    [NOTIFY_PAUSED] = "paused",
    [NOTIFY_RESUMED] = "resumed",
    [NOTIFY_PROMOTED] = "promoted",
    [NOTIFY_ROLLED_BACK] = "rolled_back",
    [NOTIFY_ABORTED] = "aborted",
    [NOTIFY_GATE_WAITING] = "gate_waiting",
    [NOTIFY_GATE_APPROVED] = "gate_approved",
    [NOTIFY_GATE_REFUSED] = "gate_refused",
    [NOTIFY_TARGET_DOWN] = "target_down",
    [NOTIFY_TARGET_UP] = "target_up",
};

static const char *const format_names[] = {
    [NOTIFY_FORMAT_JSON] = "json",
    [NOTIFY_FORMAT_SLACK] = "slack",
};

const char *notify_event_name(enum notify_event ev)
{
	return names_of(event_names, NAMES_COUNT(event_names), ev, "unknown");
}

int notify_event_parse(const char *name, enum notify_event *out)
{
	size_t v;
	int ret = names_find(event_names, NAMES_COUNT(event_names), name, &v);

	if (!ret)
		*out = (enum notify_event)v;
	return ret;
}

const char *notify_format_name(enum notify_format f)
{
	return names_of(format_names, NAMES_COUNT(format_names), f, "unknown");
}

int notify_check_url(const char *url, char *why, size_t why_len)
{
	static const char *const schemes[] = {"http://", "https://"};
	size_t i;

	for (i = 0; i < NAMES_COUNT(schemes); i++) {
		size_t n = strlen(schemes[i]);

		if (strncmp(url, schemes[i], n))
			continue;
		if (!url[n] || url[n] == '/') {
			snprintf(why, why_len, "has no host after %s",
				 schemes[i]);
			return -EINVAL;
		}
		/* It is a label in /metrics and a header's neighbour. */
		if (strpbrk(url, " \"\\")) {
			snprintf(why, why_len,
				 "must not hold a space, a quote or a "
				 "backslash (write %%20, %%22, %%5C)");
			return -EINVAL;
		}
		return 0;
	}
	snprintf(why, why_len,
		 "must start with http:// or https://, like "
		 "\"http://198.18.0.5:8080/hook\"");
	return -EINVAL;
}

static const char *const receiver_fields[] = {
    "url", "format", "events", "timeout", "token_file", NULL,
};

static int events_field(struct jf_ctx *ctx, const json_t *r, uint32_t *out)
{
	const json_t *list = json_object_get(r, "events");
	size_t i;

	*out = NOTIFY_ALL_EVENTS;
	if (!list)
		return 0;
	if (!json_is_array(list) || !json_array_size(list))
		return jf_fail(ctx, "events",
			       "must be a non-empty list of event names, like "
			       "[\"rolled_back\", \"promoted\"] (omit it for "
			       "every event)");
	*out = 0;
	for (i = 0; i < json_array_size(list); i++) {
		const json_t *v = json_array_get(list, i);
		char field[RECEIVER_FIELD_LEN];
		enum notify_event ev;

		snprintf(field, sizeof(field), "events[%zu]", i);
		if (!json_is_string(v) ||
		    notify_event_parse(json_string_value(v), &ev))
			return jf_fail(
			    ctx, field,
			    "is not an event: one of rollout_started, "
			    "step_passed, held, paused, resumed, promoted, "
			    "rolled_back, aborted, gate_waiting, "
			    "gate_approved, gate_refused, target_down, "
			    "target_up");
		*out |= 1u << ev;
	}
	return 0;
}

static int receiver_from_json(struct jf_ctx *ctx, const json_t *r,
			      struct notify_receiver_config *out)
{
	char format[16] = "json", why[JF_PATH_LEN];
	size_t f = NOTIFY_FORMAT_JSON;
	int ret;

	memset(out, 0, sizeof(*out));
	out->timeout_ms = NOTIFY_DEFAULT_TIMEOUT_MS;
	if (!json_is_object(r))
		return jf_fail(ctx, "",
			       "must be an object, like {\"url\": "
			       "\"http://198.18.0.5:8080/hook\"}");
	ret = jf_check_object(ctx, r, receiver_fields);
	ret = ret ?: jf_string(ctx, r, "url", true, out->url, sizeof(out->url));
	if (!ret && notify_check_url(out->url, why, sizeof(why)))
		ret = jf_fail(ctx, "url", "%s", why);
	ret = ret ?: jf_string(ctx, r, "format", false, format, sizeof(format));
	if (!ret &&
	    names_find(format_names, NAMES_COUNT(format_names), format, &f))
		ret = jf_fail(ctx, "format", "must be \"json\" or \"slack\"");
	if (ret)
		return ret;
	out->format = (enum notify_format)f;
	ret = events_field(ctx, r, &out->events);
	ret = ret ?: jf_duration_ms(ctx, r, "timeout", true, &out->timeout_ms);
	if (!ret && out->timeout_ms > NOTIFY_MAX_TIMEOUT_MS)
		ret = jf_fail(ctx, "timeout", "must be at most %d s",
			      NOTIFY_MAX_TIMEOUT_MS / 1000);
	ret = ret
		  ?: jf_string(ctx, r, "token_file", false, out->token_file,
			       sizeof(out->token_file));
	/* Found missing now, not at the first event hours later. */
	if (!ret && out->token_file[0] && access(out->token_file, R_OK))
		ret = jf_fail(ctx, "token_file", "cannot read %s: %s",
			      out->token_file, strerror(errno));
	return ret;
}

int notify_config_from_json(struct jf_ctx *ctx, const json_t *obj,
			    struct notify_config *out)
{
	const json_t *list = json_object_get(obj, "notifications");
	size_t i;
	int ret;

	out->count = 0;
	if (!list)
		return 0;
	if (!json_is_array(list))
		return jf_fail(ctx, "notifications",
			       "must be a list of receivers, like [{\"url\": "
			       "\"http://198.18.0.5:8080/hook\"}]");
	if (json_array_size(list) > NOTIFY_MAX_RECEIVERS)
		return jf_fail(ctx, "notifications",
			       "has %zu receivers; at most %d",
			       json_array_size(list), NOTIFY_MAX_RECEIVERS);
	for (i = 0; i < json_array_size(list); i++) {
		char segment[RECEIVER_FIELD_LEN];

		snprintf(segment, sizeof(segment), "notifications[%zu]", i);
		jf_push(ctx, segment);
		ret = receiver_from_json(ctx, json_array_get(list, i),
					 &out->receivers[i]);
		jf_pop(ctx);
		if (ret)
			return ret;
		out->count++;
	}
	return 0;
}

/* ---- the queue and the backoff ------------------------------------------- */

void notify_queue_init(struct notify_queue *q)
{
	memset(q, 0, sizeof(*q));
	ring_init(&q->ring, NOTIFY_QUEUE_LEN);
}

int notify_queue_push(struct notify_queue *q, char *body)
{
	/* Full: the new event is the one dropped, so what a receiver gets
	 * stays in order and the drop is counted where it happens. */
	if (ring_full(&q->ring))
		return -ENOSPC;
	q->items[ring_push(&q->ring)] = body;
	return 0;
}

char *notify_queue_pop(struct notify_queue *q)
{
	if (ring_empty(&q->ring))
		return NULL;
	return q->items[ring_pop(&q->ring)];
}

uint32_t notify_queue_len(const struct notify_queue *q)
{
	return q->ring.len;
}

void notify_queue_clear(struct notify_queue *q)
{
	char *body;

	while ((body = notify_queue_pop(q)))
		free(body);
}

uint64_t notify_backoff_ms(uint32_t attempt)
{
	uint64_t ms = NOTIFY_BACKOFF_FIRST_MS;

	while (attempt-- > 1 && ms < NOTIFY_BACKOFF_MAX_MS)
		ms *= 2;
	return ms < NOTIFY_BACKOFF_MAX_MS ? ms : NOTIFY_BACKOFF_MAX_MS;
}

bool notify_status_delivered(long status)
{
	return status >= HTTP_OK_FIRST && status <= HTTP_OK_LAST;
}

bool notify_status_retryable(bool transport_ok, long status)
{
	return !transport_ok || status == HTTP_TIMEOUT ||
	       status == HTTP_TOO_MANY || status >= HTTP_SERVER_FIRST;
}
