/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * fetcher.c - libcurl multi driven from the control loop (see fetcher.h).
 * Requests beyond max_in_flight wait in a FIFO; each transfer has a total
 * timeout and a body cap enforced in the write callback.
 */
#include "fetcher.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/buf.h"
#include "util/clock.h"
#include "util/log.h"

#define CONNECT_TIMEOUT_MS_MAX 1000

struct fetch {
	struct fetch *next; /* in the waiting queue or the active list */
	struct fetcher *fetcher;
	CURL *easy;
	struct curl_slist *headers;
	struct fetch_request req;
	char *post_body;
	fetch_done_fn done;
	void *owner;
	uint64_t tag;
	struct buf body; /* up to req.max_body_bytes */
	char curl_error[CURL_ERROR_SIZE];
	uint64_t started_ms;
};

struct fetcher {
	CURLM *multi;
	size_t max_in_flight;
	size_t in_flight;
	struct fetch *waiting_head;
	struct fetch *waiting_tail;
	struct fetch *active;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_global(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

int fetcher_create(size_t max_in_flight, struct fetcher **out)
{
	struct fetcher *f;

	pthread_once(&curl_once, curl_global);
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->multi = curl_multi_init();
	if (!f->multi) {
		free(f);
		return -ENOMEM;
	}
	f->max_in_flight = max_in_flight ? max_in_flight : 1;
	*out = f;
	return 0;
}

static void fetch_free(struct fetch *x)
{
	if (x->easy) {
		curl_multi_remove_handle(x->fetcher->multi, x->easy);
		curl_easy_cleanup(x->easy);
	}
	curl_slist_free_all(x->headers);
	free(x->post_body);
	buf_free(&x->body);
	free(x);
}

void fetcher_destroy(struct fetcher *f)
{
	struct fetch *x, *next;

	if (!f)
		return;
	for (x = f->active; x; x = next) {
		next = x->next;
		fetch_free(x);
	}
	for (x = f->waiting_head; x; x = next) {
		next = x->next;
		fetch_free(x);
	}
	curl_multi_cleanup(f->multi);
	free(f);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
	struct fetch *x = userp;

	/* 0 aborts the transfer; body.dropped tells "too big". */
	return buf_append(&x->body, data, size * nmemb) ? 0 : size * nmemb;
}

static int fetch_start(struct fetcher *f, struct fetch *x)
{
	char header[128];
	uint64_t connect_ms = x->req.timeout_ms < CONNECT_TIMEOUT_MS_MAX
				  ? x->req.timeout_ms
				  : CONNECT_TIMEOUT_MS_MAX;

	x->easy = curl_easy_init();
	if (!x->easy)
		return -ENOMEM;
	curl_easy_setopt(x->easy, CURLOPT_URL, x->req.url);
	curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, (long)x->req.timeout_ms);
	curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)connect_ms);
	curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->curl_error);
	curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
	curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(x->easy, CURLOPT_USERAGENT, "kanaryd");
	curl_easy_setopt(x->easy, CURLOPT_FORBID_REUSE, 0L);
	if (x->req.connect_only)
		curl_easy_setopt(x->easy, CURLOPT_CONNECT_ONLY, 1L);
	if (x->req.accept) {
		snprintf(header, sizeof(header), "Accept: %s", x->req.accept);
		x->headers = curl_slist_append(x->headers, header);
	}
	if (x->post_body) {
		curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, x->post_body);
		snprintf(header, sizeof(header), "Content-Type: %s",
			 x->req.content_type ? x->req.content_type
					     : "application/json");
		x->headers = curl_slist_append(x->headers, header);
	}
	if (x->headers)
		curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers);
	x->started_ms = clock_mono_ms();
	if (curl_multi_add_handle(f->multi, x->easy) != CURLM_OK)
		return -EIO;
	x->next = f->active;
	f->active = x;
	f->in_flight++;
	return 0;
}

static void start_waiting(struct fetcher *f)
{
	while (f->waiting_head && f->in_flight < f->max_in_flight) {
		struct fetch *x = f->waiting_head;

		f->waiting_head = x->next;
		if (!f->waiting_head)
			f->waiting_tail = NULL;
		x->next = NULL;
		if (fetch_start(f, x)) {
			struct fetch_result r = {0};

			snprintf(r.error, sizeof(r.error),
				 "cannot start the request to %s", x->req.url);
			x->done(x->owner, x->tag, &r);
			fetch_free(x);
		}
	}
}

int fetcher_submit(struct fetcher *f, const struct fetch_request *req,
		   fetch_done_fn done, void *owner, uint64_t tag)
{
	struct fetch *x = calloc(1, sizeof(*x));

	if (!x)
		return -ENOMEM;
	x->fetcher = f;
	x->req = *req;
	buf_init(&x->body, req->max_body_bytes);
	x->req.body = NULL;
	if (req->body) {
		x->post_body = strdup(req->body);
		if (!x->post_body) {
			free(x);
			return -ENOMEM;
		}
	}
	x->done = done;
	x->owner = owner;
	x->tag = tag;
	if (f->waiting_tail)
		f->waiting_tail->next = x;
	else
		f->waiting_head = x;
	f->waiting_tail = x;
	start_waiting(f);
	return 0;
}

static void unlink_active(struct fetcher *f, struct fetch *x)
{
	struct fetch **p;

	for (p = &f->active; *p; p = &(*p)->next) {
		if (*p == x) {
			*p = x->next;
			f->in_flight--;
			return;
		}
	}
}

void fetcher_cancel_owner(struct fetcher *f, void *owner)
{
	struct fetch **p = &f->waiting_head, *x;

	f->waiting_tail = NULL;
	while ((x = *p)) {
		if (x->owner == owner) {
			*p = x->next;
			fetch_free(x);
		} else {
			f->waiting_tail = x;
			p = &x->next;
		}
	}
	p = &f->active;
	while ((x = *p)) {
		if (x->owner == owner) {
			*p = x->next;
			f->in_flight--;
			fetch_free(x);
		} else {
			p = &x->next;
		}
	}
	start_waiting(f);
}

size_t fetcher_pending(const struct fetcher *f, void *owner)
{
	const struct fetch *x;
	size_t n = 0;

	for (x = f->active; x; x = x->next)
		n += x->owner == owner;
	for (x = f->waiting_head; x; x = x->next)
		n += x->owner == owner;
	return n;
}

/* "URL: what curl says (what the kernel said)": curl's own text can hide the
 * cause ("Couldn't connect to server" for a connection reset as it opened), so
 * the socket's errno is added when curl's text does not already name it. */
static void describe_failure(const struct fetch *x, CURLcode code, char *out,
			     size_t out_len)
{
	const char *what =
	    x->curl_error[0] ? x->curl_error : curl_easy_strerror(code);
	long os_errno = 0;
	const char *cause;

	curl_easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &os_errno);
	cause = os_errno > 0 ? strerror((int)os_errno) : NULL;
	if (cause && !strstr(what, cause))
		snprintf(out, out_len, "%s: %s (%s)", x->req.url, what, cause);
	else
		snprintf(out, out_len, "%s: %s", x->req.url, what);
}

static void finish(struct fetcher *f, struct fetch *x, CURLcode code)
{
	struct fetch_result r = {0};
	char *content_type = NULL;

	r.elapsed_ms = clock_mono_ms() - x->started_ms;
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &r.status);
	curl_easy_getinfo(x->easy, CURLINFO_CONTENT_TYPE, &content_type);
	r.content_type = content_type;
	if (x->body.dropped) {
		snprintf(r.error, sizeof(r.error),
			 "%s: answer larger than %zu bytes: cut off",
			 x->req.url, x->req.max_body_bytes);
	} else if (code != CURLE_OK) {
		describe_failure(x, code, r.error, sizeof(r.error));
	} else {
		r.ok = 1;
		r.body = x->body.data ? x->body.data : "";
		r.body_len = x->body.len;
	}
	unlink_active(f, x);
	x->done(x->owner, x->tag, &r);
	fetch_free(x);
}

void fetcher_wait(struct fetcher *f, int wait_ms)
{
	if (wait_ms > 0)
		curl_multi_poll(f->multi, NULL, 0, wait_ms, NULL);
}

void fetcher_wakeup(struct fetcher *f)
{
	curl_multi_wakeup(f->multi);
}

void fetcher_poll(struct fetcher *f)
{
	int running = 0, queued;
	CURLMsg *msg;

	curl_multi_perform(f->multi, &running);
	while ((msg = curl_multi_info_read(f->multi, &queued))) {
		struct fetch *x = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
				  (char **)&x);
		if (x)
			finish(f, x, msg->data.result);
	}
	start_waiting(f);
}
