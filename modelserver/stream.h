/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * stream.h - kanary-modelserver's OpenAI-compatible completions, shaped
 * like vLLM's so that kanary can be tried against an LLM server's timing:
 *
 *   POST /v1/completions       {"prompt": "...", "stream": true|false,
 *                               "max_tokens": N, "model": "..."}
 *   POST /v1/chat/completions  {"messages": [{"role", "content"}], ...}
 *
 * "stream": true answers 200 with text/event-stream at once, before any
 * token; then, ttft_ms later, one `data: {chunk}` event per token every
 * token_ms, and `data: [DONE]`, in a chunked body. A stream that the
 * stream_error_rate dice fail sends half its tokens, then
 * `data: {"error": {...}}` and `data: [DONE]`, inside the 200 it has
 * already sent, as vLLM does when its engine fails mid-answer.
 * Without "stream" the same tokens are waited for and sent as one JSON
 * completion; a failed one is a 500.
 *
 * The text is placeholder words: the server models an LLM's timing and
 * failures, not its language. Its /metrics gets vLLM's series for them
 * (see metrics.h).
 */
#ifndef KANARY_MODELSERVER_STREAM_H
#define KANARY_MODELSERVER_STREAM_H

#include "faults.h"
#include "metrics.h"

#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <time.h>

#define COMPLETION_WHY_BYTES 256

enum completion_kind {
	COMPLETION_TEXT, /* /v1/completions: "prompt" */
	COMPLETION_CHAT, /* /v1/chat/completions: "messages" */
};

/* What one completion request asks for. */
struct completion_request {
	enum completion_kind kind;
	bool stream;
	unsigned int max_tokens; /* 0: none given */
};

/* Sleeps ms unless the server stops first; false when it stops. */
typedef bool (*completion_wait_fn)(void *cls, unsigned int ms);

/* What a completion needs from the server that answers it. */
struct completion_env {
	struct faults *faults;
	struct metrics *metrics;
	const char *model; /* the served model's name */
	completion_wait_fn wait;
	void *wait_cls;
};

/*
 * Reads a request body. Returns 0, or -EINVAL with the JSON field at fault
 * in *field (NULL for the body as a whole) and why in why.
 */
int completion_parse(const json_t *root, enum completion_kind kind,
		     struct completion_request *out, const char **field,
		     char *why, size_t why_len);

/*
 * The streamed answer, to be queued with status 200 at once: its body is
 * written by a content reader that waits between tokens in the
 * connection's own thread (see stream.c). start is when the request came.
 * NULL when out of memory.
 */
struct MHD_Response *
completion_stream_response(const struct completion_env *env,
			   const struct completion_request *req,
			   const struct timespec *start);

/*
 * The whole answer at once, after the same waits: the completion (status
 * 200) or an error (500, or 503 when the server stops meanwhile). NULL
 * when out of memory.
 */
json_t *completion_answer(const struct completion_env *env,
			  const struct completion_request *req,
			  const struct timespec *start, unsigned int *status);

#endif /* KANARY_MODELSERVER_STREAM_H */
