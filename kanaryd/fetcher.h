/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * fetcher.h - HTTP requests that never block the control loop: scrapes of
 * the backends' /metrics and warm-up requests to canary backends, run
 * concurrently by libcurl's multi interface with timeouts and a cap on the
 * body size (a 100 MB page is cut off, not buffered).
 */
#ifndef KANARY_FETCHER_H
#define KANARY_FETCHER_H

#include <stddef.h>
#include <stdint.h>

#define FETCH_URL_LEN 256
#define FETCH_ERR_LEN 256

struct fetch_request {
	char url[FETCH_URL_LEN];
	const char *method;	  /* "GET" (default) or "POST" */
	const char *body;	  /* POST body, copied */
	const char *content_type; /* of the body */
	const char *accept;	  /* Accept header, or NULL */
	uint64_t timeout_ms;
	size_t max_body_bytes; /* larger answers fail */
	int connect_only;      /* a TCP connect probe: done once connected */
};

struct fetch_result {
	int ok;		  /* transfer completed with a status line */
	long status;	  /* HTTP status */
	const char *body; /* NUL-terminated, valid during the callback */
	size_t body_len;
	const char *content_type;
	uint64_t elapsed_ms;
	char error[FETCH_ERR_LEN]; /* why, when !ok */
};

typedef void (*fetch_done_fn)(void *owner, uint64_t tag,
			      const struct fetch_result *result);

struct fetcher;

int fetcher_create(size_t max_in_flight, struct fetcher **out);
void fetcher_destroy(struct fetcher *f);

/* Queues a request; done(owner, tag, result) is called from fetcher_poll.
 * Returns 0 or a negative errno. */
int fetcher_submit(struct fetcher *f, const struct fetch_request *req,
		   fetch_done_fn done, void *owner, uint64_t tag);
/* Drops every request of owner without calling back (owner goes away). */
void fetcher_cancel_owner(struct fetcher *f, void *owner);
/* Requests of owner queued or in flight. */
size_t fetcher_pending(const struct fetcher *f, void *owner);

/* Waits up to wait_ms for transfer activity or a wakeup; calls nothing
 * back, so the caller need not hold the lock its callbacks take. */
void fetcher_wait(struct fetcher *f, int wait_ms);
/* Ends a fetcher_wait early; safe from any thread. */
void fetcher_wakeup(struct fetcher *f);
/* Runs transfers without waiting and calls back for the finished ones. */
void fetcher_poll(struct fetcher *f);

#endif /* KANARY_FETCHER_H */
