/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * notify.c - delivery of rollout events to the configured receivers (see
 * notify.h): the body of each event (json or slack), a queue and a thread
 * per receiver, attempts with a timeout, backoff between them, and the
 * counts the status and /metrics show.
 */
#include "notify.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent_internal.h" /* status_time_json */
#include "util/clock.h"
#include "util/log.h"
#include "util/names.h"
#include "util/token.h"

#define NOTIFY_TOKEN_MAX	  256
#define NOTIFY_ERR_LEN		  160
#define NOTIFY_ID_LEN		  64
#define NOTIFY_CONNECT_TIMEOUT_MS 1000
#define NOTIFY_ANSWER_MAX_BYTES	  4096 /* read and forgotten */
#define NOTIFY_SUMMARY_LEN	  512
#define PERCENT			  100.0
#define NS_PER_MS		  1000000ull
#define MS_PER_S		  1000ull

/* What became of an event at one receiver: the outcome label. */
enum notify_outcome {
	OUTCOME_DELIVERED = 0,
	OUTCOME_RETRIED, /* one attempt failed; another follows */
	OUTCOME_DROPPED_QUEUE_FULL,
	OUTCOME_DROPPED_RETRIES_EXHAUSTED,
	OUTCOME_DROPPED_REFUSED, /* a 4xx: retrying would not help */
	OUTCOME_DROPPED_SHUTDOWN,
	OUTCOME_COUNT,
};

static const char *const outcome_names[] = {
    [OUTCOME_DELIVERED] = "delivered",
    [OUTCOME_RETRIED] = "retried",
    [OUTCOME_DROPPED_QUEUE_FULL] = "dropped_queue_full",
    [OUTCOME_DROPPED_RETRIES_EXHAUSTED] = "dropped_retries_exhausted",
    [OUTCOME_DROPPED_REFUSED] = "dropped_refused",
    [OUTCOME_DROPPED_SHUTDOWN] = "dropped_shutdown",
};

struct receiver {
	struct notify_receiver_config cfg;
	char service[KN_SERVICE_NAME_LEN]; /* "": every service */
	char token[NOTIFY_TOKEN_MAX];
	struct notifier *owner;
	pthread_t thread;
	bool started;
	/* Guarded by lock: the queue, the counts, what the last try said. */
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct notify_queue queue;
	uint64_t outcomes[OUTCOME_COUNT];
	uint32_t consecutive_failures;
	uint64_t last_delivered_wall_ms;
	char last_error[NOTIFY_ERR_LEN];
};

struct notifier {
	struct receiver *receivers;
	size_t count;
	volatile int stop; /* read by the threads' transfers */
	uint64_t started_wall_ms;
	uint64_t next_id; /* guarded by the agent's lock (one caller) */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_global(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- bodies ------------------------------------------------------------- */

static void slack_text(const struct notify_event_data *ev, char *out,
		       size_t len)
{
	char where[NOTIFY_SUMMARY_LEN / 4] = "";

	if (ev->step)
		snprintf(where, sizeof(where), " at step %u of %u", ev->step,
			 ev->steps);
	snprintf(out, len, "kanary: %s %s%s%s%s (canary %.2f %%): %s",
		 ev->service, notify_event_name(ev->kind), ev->gate ? " " : "",
		 ev->gate ? ev->gate : "", where, ev->weight_bp / PERCENT,
		 ev->target ? ev->target : ev->reason);
}

static char *event_body(const struct notify_event_data *ev,
			enum notify_format format, const char *id)
{
	char text[NOTIFY_SUMMARY_LEN];
	json_t *obj;
	char *body;

	if (format == NOTIFY_FORMAT_SLACK) {
		slack_text(ev, text, sizeof(text));
		obj = json_pack("{s:s}", "text", text);
	} else {
		obj = json_pack(
		    "{s:s, s:s, s:o, s:s, s:s, s:f, s:i, s:i, s:s, s:O?}", "id",
		    id, "event", notify_event_name(ev->kind), "time",
		    status_time_json(clock_wall_ms()), "service", ev->service,
		    "phase", ev->phase, "canary_percent",
		    ev->weight_bp / PERCENT, "step", (int)ev->step, "steps",
		    (int)ev->steps, "reason", ev->reason ? ev->reason : "",
		    "decision", ev->decision);
		if (obj && ev->gate)
			json_object_set_new(obj, "gate", json_string(ev->gate));
		if (obj && ev->target)
			json_object_set_new(obj, "target",
					    json_string(ev->target));
	}
	body = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
	json_decref(obj);
	return body;
}

/* ---- one attempt ---------------------------------------------------------
 */

static size_t discard_answer(char *data, size_t size, size_t nmemb, void *arg)
{
	size_t *seen = arg;

	(void)data;
	*seen += size * nmemb;
	/* 0 ends the transfer: an answer this long is not a receiver's */
	return *seen > NOTIFY_ANSWER_MAX_BYTES ? 0 : size * nmemb;
}

static int cut_short(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut,
		     curl_off_t un)
{
	const struct notifier *n = arg;

	(void)dt, (void)dn, (void)ut, (void)un;
	return n->stop ? 1 : 0;
}

/* One POST: 0 delivered, else -EAGAIN (worth retrying) or -EPERM (the
 * receiver refused it), with why. */
static int attempt(struct receiver *r, const char *body, char *why,
		   size_t why_len)
{
	char curl_err[CURL_ERROR_SIZE] = "", auth[NOTIFY_TOKEN_MAX + 32];
	struct curl_slist *headers = NULL;
	size_t answer_bytes = 0;
	long status = 0;
	CURL *easy = curl_easy_init();
	CURLcode rc;

	if (!easy) {
		snprintf(why, why_len, "out of memory");
		return -EAGAIN;
	}
	headers = curl_slist_append(headers, "Content-Type: application/json");
	if (r->token[0]) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
			 r->token);
		headers = curl_slist_append(headers, auth);
	}
	curl_easy_setopt(easy, CURLOPT_URL, r->cfg.url);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)r->cfg.timeout_ms);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)(r->cfg.timeout_ms < NOTIFY_CONNECT_TIMEOUT_MS
				    ? r->cfg.timeout_ms
				    : NOTIFY_CONNECT_TIMEOUT_MS));
	curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard_answer);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, &answer_bytes);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, curl_err);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_USERAGENT, "kanaryd");
	curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, cut_short);
	curl_easy_setopt(easy, CURLOPT_XFERINFODATA, r->owner);
	rc = curl_easy_perform(easy);
	if (rc == CURLE_OK)
		curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(easy);
	curl_slist_free_all(headers);
	if (rc == CURLE_OK && notify_status_delivered(status))
		return 0;
	if (rc != CURLE_OK)
		snprintf(why, why_len, "%s",
			 curl_err[0] ? curl_err : curl_easy_strerror(rc));
	else
		snprintf(why, why_len, "answered %ld", status);
	return notify_status_retryable(rc == CURLE_OK, status) ? -EAGAIN
							       : -EPERM;
}

/* ---- the delivery thread ------------------------------------------------- */

static void count(struct receiver *r, enum notify_outcome o)
{
	r->outcomes[o]++;
}

/* Sleeps ms unless stopped (r->lock held): true when stopped. */
static bool wait_or_stop(struct receiver *r, uint64_t ms)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)(ms / MS_PER_S);
	until.tv_nsec += (long)((ms % MS_PER_S) * NS_PER_MS);
	if (until.tv_nsec >= (long)(MS_PER_S * NS_PER_MS)) {
		until.tv_sec++;
		until.tv_nsec -= (long)(MS_PER_S * NS_PER_MS);
	}
	while (!r->owner->stop &&
	       pthread_cond_timedwait(&r->wake, &r->lock, &until) != ETIMEDOUT)
		;
	return r->owner->stop;
}

/* Every attempt of one event; r->lock held except during the POST. */
static void deliver(struct receiver *r, const char *body)
{
	char why[NOTIFY_ERR_LEN];
	uint32_t tries;
	int ret = -EAGAIN;

	for (tries = 1; tries <= NOTIFY_MAX_ATTEMPTS; tries++) {
		pthread_mutex_unlock(&r->lock);
		ret = attempt(r, body, why, sizeof(why));
		pthread_mutex_lock(&r->lock);
		if (!ret) {
			count(r, OUTCOME_DELIVERED);
			r->consecutive_failures = 0;
			r->last_delivered_wall_ms = clock_wall_ms();
			return;
		}
		r->consecutive_failures++;
		snprintf(r->last_error, sizeof(r->last_error), "%s", why);
		if (r->owner->stop) {
			count(r, OUTCOME_DROPPED_SHUTDOWN);
			return;
		}
		if (ret == -EPERM) {
			count(r, OUTCOME_DROPPED_REFUSED);
			return;
		}
		if (tries == NOTIFY_MAX_ATTEMPTS)
			break;
		count(r, OUTCOME_RETRIED);
		if (wait_or_stop(r, notify_backoff_ms(tries))) {
			count(r, OUTCOME_DROPPED_SHUTDOWN);
			return;
		}
	}
	count(r, OUTCOME_DROPPED_RETRIES_EXHAUSTED);
	log_warn("notification to %s dropped after %d attempts: %s", r->cfg.url,
		 NOTIFY_MAX_ATTEMPTS, r->last_error);
}

static void *delivery_thread(void *arg)
{
	struct receiver *r = arg;
	char *body;

	pthread_mutex_lock(&r->lock);
	while (!r->owner->stop) {
		body = notify_queue_pop(&r->queue);
		if (!body) {
			pthread_cond_wait(&r->wake, &r->lock);
			continue;
		}
		deliver(r, body);
		free(body);
	}
	r->outcomes[OUTCOME_DROPPED_SHUTDOWN] += notify_queue_len(&r->queue);
	notify_queue_clear(&r->queue);
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

/* ---- setting up ------------------------------------------------------------
 */

static size_t receivers_configured(const struct agent_config *cfg)
{
	size_t total = cfg->notifications.count, i;

	for (i = 0; i < cfg->service_count; i++)
		total += cfg->services[i].notifications.count;
	return total;
}

static int add_receiver(struct notifier *n,
			const struct notify_receiver_config *rc,
			const char *service, char *err, size_t err_len)
{
	struct receiver *r = &n->receivers[n->count];
	int ret;

	r->cfg = *rc;
	r->owner = n;
	snprintf(r->service, sizeof(r->service), "%s", service);
	notify_queue_init(&r->queue);
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->wake, NULL);
	n->count++;
	if (rc->token_file[0]) {
		ret = token_read_file(rc->token_file, r->token,
				      sizeof(r->token), err, err_len);
		if (ret)
			return ret;
	}
	ret = -pthread_create(&r->thread, NULL, delivery_thread, r);
	if (ret) {
		snprintf(err, err_len, "cannot start a notification thread: %s",
			 strerror(-ret));
		return ret;
	}
	r->started = true;
	return 0;
}

int notifier_create(const struct agent_config *cfg, struct notifier **out,
		    char *err, size_t err_len)
{
	size_t total = receivers_configured(cfg), i, j;
	struct notifier *n;
	int ret = 0;

	*out = NULL;
	pthread_once(&curl_once, curl_global);
	n = calloc(1, sizeof(*n));
	if (!n || !(n->receivers =
			calloc(total ? total : 1, sizeof(*n->receivers)))) {
		free(n);
		return -ENOMEM;
	}
	n->started_wall_ms = clock_wall_ms();
	for (i = 0; !ret && i < cfg->notifications.count; i++)
		ret = add_receiver(n, &cfg->notifications.receivers[i], "", err,
				   err_len);
	for (i = 0; !ret && i < cfg->service_count; i++) {
		const struct service_config *s = &cfg->services[i];

		for (j = 0; !ret && j < s->notifications.count; j++)
			ret = add_receiver(n, &s->notifications.receivers[j],
					   s->def.name, err, err_len);
	}
	if (ret) {
		notifier_destroy(n);
		return ret;
	}
	*out = n;
	return 0;
}

void notifier_destroy(struct notifier *n)
{
	size_t i;

	if (!n)
		return;
	n->stop = 1;
	for (i = 0; i < n->count; i++) {
		struct receiver *r = &n->receivers[i];

		pthread_mutex_lock(&r->lock);
		pthread_cond_broadcast(&r->wake);
		pthread_mutex_unlock(&r->lock);
		if (r->started)
			pthread_join(r->thread, NULL);
		notify_queue_clear(&r->queue);
		pthread_cond_destroy(&r->wake);
		pthread_mutex_destroy(&r->lock);
		memset(r->token, 0, sizeof(r->token));
	}
	free(n->receivers);
	free(n);
}

/* ---- what the core calls ------------------------------------------------- */

static bool hears(const struct receiver *r, const char *service)
{
	return !r->service[0] || !strcmp(r->service, service);
}

void notify_send(struct notifier *n, const struct notify_event_data *ev)
{
	char id[NOTIFY_ID_LEN];
	size_t i;

	if (!n || !n->count)
		return;
	/* One id per event, the same at every receiver and every retry:
	 * what a receiver de-duplicates on. */
	snprintf(id, sizeof(id), "%llu-%llu",
		 (unsigned long long)n->started_wall_ms,
		 (unsigned long long)++n->next_id);
	for (i = 0; i < n->count; i++) {
		struct receiver *r = &n->receivers[i];
		char *body;

		if (!hears(r, ev->service) ||
		    !(r->cfg.events & (1u << ev->kind)))
			continue;
		body = event_body(ev, r->cfg.format, id);
		pthread_mutex_lock(&r->lock);
		if (!body || notify_queue_push(&r->queue, body)) {
			count(r, OUTCOME_DROPPED_QUEUE_FULL);
			free(body);
		} else {
			pthread_cond_signal(&r->wake);
		}
		pthread_mutex_unlock(&r->lock);
	}
}

json_t *notifier_status_json(struct notifier *n, const char *service)
{
	json_t *list = NULL;
	size_t i, o;

	for (i = 0; n && i < n->count; i++) {
		struct receiver *r = &n->receivers[i];
		json_t *dropped = json_object(), *entry;

		if (!hears(r, service))
			continue;
		if (!list)
			list = json_array();
		pthread_mutex_lock(&r->lock);
		for (o = OUTCOME_DROPPED_QUEUE_FULL; o < OUTCOME_COUNT; o++)
			json_object_set_new(
			    dropped, outcome_names[o] + sizeof("dropped_") - 1,
			    json_integer((json_int_t)r->outcomes[o]));
		entry = json_pack(
		    "{s:s, s:s, s:i, s:I, s:I, s:o, s:b, s:s?, s:o}", "url",
		    r->cfg.url, "format", notify_format_name(r->cfg.format),
		    "queued", (int)notify_queue_len(&r->queue), "delivered",
		    (json_int_t)r->outcomes[OUTCOME_DELIVERED], "retries",
		    (json_int_t)r->outcomes[OUTCOME_RETRIED], "dropped",
		    dropped, "healthy", r->consecutive_failures == 0,
		    "last_error", r->last_error[0] ? r->last_error : NULL,
		    "last_delivered",
		    status_time_json(r->last_delivered_wall_ms));
		pthread_mutex_unlock(&r->lock);
		json_array_append_new(list, entry);
	}
	return list;
}

void notifier_prometheus(struct notifier *n, notify_put_fn put, void *page)
{
	size_t i, o;

	if (!n || !n->count)
		return;
	put(page, "# HELP kanary_notifications_total Events per receiver by "
		  "outcome: delivered, retried (one attempt failed) or "
		  "dropped and why.\n"
		  "# TYPE kanary_notifications_total counter\n");
	for (i = 0; i < n->count; i++) {
		struct receiver *r = &n->receivers[i];

		pthread_mutex_lock(&r->lock);
		for (o = 0; o < OUTCOME_COUNT; o++)
			put(page,
			    "kanary_notifications_total{receiver=\"%s\","
			    "outcome=\"%s\"} %llu\n",
			    r->cfg.url, outcome_names[o],
			    (unsigned long long)r->outcomes[o]);
		pthread_mutex_unlock(&r->lock);
	}
	put(page, "# HELP kanary_notifications_queued Events waiting in a "
		  "receiver's queue.\n"
		  "# TYPE kanary_notifications_queued gauge\n");
	for (i = 0; i < n->count; i++) {
		struct receiver *r = &n->receivers[i];

		pthread_mutex_lock(&r->lock);
		put(page, "kanary_notifications_queued{receiver=\"%s\"} %u\n",
		    r->cfg.url, notify_queue_len(&r->queue));
		pthread_mutex_unlock(&r->lock);
	}
}
