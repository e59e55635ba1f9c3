/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * stream.c - completions: reading the request, pacing the tokens, the
 * server-sent events of a streamed answer and the JSON of a whole one, and
 * counting them under vLLM's metric names (see stream.h).
 *
 * Threading: server.c runs libmicrohttpd with one thread per connection,
 * and a content reader is called from its connection's thread. So the
 * reader simply waits until its next token is due: only its own
 * connection waits, and nothing spins. (A reader may also return 0 bytes,
 * "nothing yet", but in thread-per-connection mode MHD calls it again at
 * once, a busy loop; with a shared polling thread, waiting would need
 * MHD_suspend_connection and a timer instead.) MHD has sent the status
 * line and headers before it first calls the reader: the client has its
 * 200 while the first token is still being "computed".
 *
 * A stream's outcome is counted once: when its [DONE] is written (stop,
 * length or error), or, when the client went away or the server stopped
 * first, as abort when MHD frees the stream.
 */
#include "stream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#define NS_PER_S 1000000000.0
/* One event of the stream: a chunk with one token, the error, or [DONE] */
#define STREAM_EVENT_MAX_BYTES 1024
/* MHD asks the reader for at most this much at a time */
#define STREAM_BLOCK_BYTES	   STREAM_EVENT_MAX_BYTES
#define COMPLETION_ID_MAX_BYTES	   48
#define HTTP_INTERNAL_SERVER_ERROR 500
#define HTTP_SERVICE_UNAVAILABLE   503
#define HTTP_OK			   200
#define CONTENT_TYPE_EVENT_STREAM  "text/event-stream"
/* Compact JSON, as an SSE data line must be one line */
#define STREAM_JSON_FLAGS JSON_COMPACT

/* The placeholder words of every answer, in turn; each is one token. */
static const char *const words[] = {
    "The",   " canary", " sings",  " while", " the",	" stable",
    " pool", " serves", " most",   " of",    " the",	" traffic",
    " and",  " kanary", " weighs", " every", " answer", ".",
};
#define WORD_COUNT     (sizeof(words) / sizeof(words[0]))
#define WORD_MAX_BYTES 16

enum stream_phase {
	PHASE_TOKENS, /* a token is next */
	PHASE_ERROR,  /* the injected engine failure is next */
	PHASE_DONE,   /* data: [DONE] is next */
	PHASE_END,    /* everything is written */
};

/* One completion under way, streamed or not. */
struct completion {
	struct completion_env env;
	enum completion_kind kind;
	struct fault_draw draw;
	struct timespec start, last_token;
	unsigned int limit;	 /* tokens in this answer */
	unsigned int fail_after; /* draw.fail: tokens sent before the error */
	bool cut;		 /* limit is the request's max_tokens */
	unsigned int sent;
	bool counted; /* its finished_reason is counted */
	char id[COMPLETION_ID_MAX_BYTES];
	json_int_t created; /* Unix time, as OpenAI's "created" */
};

struct completion_stream {
	struct completion c;
	enum stream_phase phase;
	char event[STREAM_EVENT_MAX_BYTES];
	size_t event_len, event_off;
};

static double seconds_between(const struct timespec *a,
			      const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) +
	       (double)(b->tv_nsec - a->tv_nsec) / NS_PER_S;
}

/* ---- requests ----------------------------------------------------------- */

static int bad_field(const char **field, const char *name, char *why,
		     size_t why_len, const char *message)
{
	*field = name;
	snprintf(why, why_len, "%s", message);
	return -EINVAL;
}

static bool valid_messages(const json_t *messages)
{
	const json_t *m;
	size_t i;

	if (!json_is_array(messages) || json_array_size(messages) == 0)
		return false;
	json_array_foreach(messages, i, m)
	{
		if (!json_is_object(m) ||
		    !json_is_string(json_object_get(m, "role")) ||
		    !json_is_string(json_object_get(m, "content")))
			return false;
	}
	return true;
}

int completion_parse(const json_t *root, enum completion_kind kind,
		     struct completion_request *out, const char **field,
		     char *why, size_t why_len)
{
	const json_t *stream = json_object_get(root, "stream");
	const json_t *max_tokens = json_object_get(root, "max_tokens");
	const json_t *model = json_object_get(root, "model");
	json_int_t n;

	*field = NULL;
	memset(out, 0, sizeof(*out));
	out->kind = kind;
	if (kind == COMPLETION_TEXT &&
	    !json_is_string(json_object_get(root, "prompt")))
		return bad_field(field, "prompt", why, why_len,
				 json_object_get(root, "prompt")
				     ? "'prompt' must be a string"
				     : "missing 'prompt', the text to "
				       "complete");
	if (kind == COMPLETION_CHAT &&
	    !valid_messages(json_object_get(root, "messages")))
		return bad_field(field, "messages", why, why_len,
				 "'messages' must be a non-empty array of "
				 "{\"role\": \"...\", \"content\": \"...\"}");
	if (stream && !json_is_boolean(stream))
		return bad_field(field, "stream", why, why_len,
				 "'stream' must be true or false");
	out->stream = json_is_true(stream);
	if (model && !json_is_string(model))
		return bad_field(field, "model", why, why_len,
				 "'model' must be a string");
	if (max_tokens) {
		n = json_is_integer(max_tokens) ? json_integer_value(max_tokens)
						: 0;
		if (n < 1 || n > FAULTS_MAX_TOKENS) {
			*field = "max_tokens";
			snprintf(why, why_len,
				 "'max_tokens' must be an integer from 1 to %d",
				 FAULTS_MAX_TOKENS);
			return -EINVAL;
		}
		out->max_tokens = (unsigned int)n;
	}
	return 0;
}

/* ---- pacing and counting ------------------------------------------------ */

static void completion_init(struct completion *c,
			    const struct completion_env *env,
			    const struct completion_request *req,
			    const struct timespec *start)
{
	static unsigned long long next_id;
	unsigned long long id =
	    __atomic_add_fetch(&next_id, 1, __ATOMIC_RELAXED);

	memset(c, 0, sizeof(*c));
	c->env = *env;
	c->kind = req->kind;
	c->start = *start;
	faults_draw_completion(env->faults, &c->draw);
	c->limit = c->draw.knobs.tokens;
	if (req->max_tokens && req->max_tokens < c->limit) {
		c->limit = req->max_tokens;
		c->cut = true;
	}
	/* Half the answer, and at least one token, comes before the error */
	c->fail_after = c->limit / 2 ? c->limit / 2 : 1;
	snprintf(c->id, sizeof(c->id), "%s-%llu",
		 req->kind == COMPLETION_CHAT ? "chatcmpl" : "cmpl", id);
	c->created = (json_int_t)time(NULL);
}

/* Waits for the next token and counts it; false when the server stops. */
static bool next_token(struct completion *c)
{
	unsigned int ms =
	    c->sent == 0 ? c->draw.knobs.ttft_ms : c->draw.knobs.token_ms;
	struct timespec now;

	if (!c->env.wait(c->env.wait_cls, ms))
		return false;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (c->sent == 0)
		metrics_observe_first_token(c->env.metrics,
					    seconds_between(&c->start, &now));
	else
		metrics_observe_token_gap(
		    c->env.metrics, seconds_between(&c->last_token, &now));
	c->last_token = now;
	c->sent++;
	return true;
}

/* The injected engine failure is due after the token just sent. */
static bool fails_now(const struct completion *c)
{
	return c->draw.fail && c->sent == c->fail_after;
}

/* The token just sent was the answer's last. */
static bool ends_now(const struct completion *c)
{
	return !c->draw.fail && c->sent == c->limit;
}

static enum metrics_finish done_reason(const struct completion *c)
{
	return c->cut ? METRICS_FINISH_LENGTH : METRICS_FINISH_STOP;
}

static const char *finish_reason_name(const struct completion *c)
{
	return c->cut ? "length" : "stop";
}

/* Counts the completion's outcome, once. */
static void count_finish(struct completion *c, enum metrics_finish reason)
{
	struct timespec now;

	if (c->counted)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	metrics_observe_completion(c->env.metrics, reason,
				   seconds_between(&c->start, &now));
	c->counted = true;
}

static json_t *error_json(const struct completion *c, unsigned int code,
			  const char *type)
{
	char message[COMPLETION_WHY_BYTES];

	if (code == HTTP_SERVICE_UNAVAILABLE)
		snprintf(message, sizeof(message),
			 "the server is stopping: the answer stopped after "
			 "%u of %u tokens",
			 c->sent, c->limit);
	else
		snprintf(message, sizeof(message),
			 "injected fault (stream_error_rate %g): the engine "
			 "failed after %u of %u tokens",
			 c->draw.knobs.stream_error_rate, c->sent, c->limit);
	return json_pack("{s:{s:s, s:s, s:i}}", "error", "message", message,
			 "type", type, "code", (int)code);
}

/* ---- a streamed answer -------------------------------------------------- */

/* OpenAI's chunk of one token; finish is NULL but on the last. */
static json_t *token_chunk(const struct completion *c, const char *token,
			   const char *finish)
{
	json_t *choice;

	if (c->kind == COMPLETION_CHAT)
		choice = json_pack(
		    "{s:i, s:o, s:s?}", "index", 0, "delta",
		    c->sent == 1 ? json_pack("{s:s, s:s}", "role", "assistant",
					     "content", token)
				 : json_pack("{s:s}", "content", token),
		    "finish_reason", finish);
	else
		choice = json_pack("{s:i, s:s, s:n, s:s?}", "index", 0, "text",
				   token, "logprobs", "finish_reason", finish);
	if (!choice)
		return NULL;
	return json_pack("{s:s, s:s, s:I, s:s, s:[o]}", "id", c->id, "object",
			 c->kind == COMPLETION_CHAT ? "chat.completion.chunk"
						    : "text_completion",
			 "created", c->created, "model", c->env.model,
			 "choices", choice);
}

/* Sets the next event to `data: <json>` (or the text given); 0 or -ENOMEM */
static int set_event(struct completion_stream *s, json_t *json,
		     const char *text)
{
	char *dumped = json ? json_dumps(json, STREAM_JSON_FLAGS) : NULL;
	int n;

	json_decref(json);
	if (!dumped && !text)
		return -ENOMEM;
	n = snprintf(s->event, sizeof(s->event), "data: %s\n\n",
		     dumped ? dumped : text);
	free(dumped);
	if (n < 0 || (size_t)n >= sizeof(s->event))
		return -ENOMEM;
	s->event_len = (size_t)n;
	s->event_off = 0;
	return 0;
}

/* Prepares the next event; false when the stream must end now. */
static bool next_event(struct completion_stream *s, bool *end)
{
	struct completion *c = &s->c;

	*end = false;
	switch (s->phase) {
	case PHASE_TOKENS:
		if (!next_token(c))
			return false;
		if (set_event(
			s,
			token_chunk(c, words[(c->sent - 1) % WORD_COUNT],
				    ends_now(c) ? finish_reason_name(c) : NULL),
			NULL))
			return false;
		if (fails_now(c))
			s->phase = PHASE_ERROR;
		else if (c->sent == c->limit)
			s->phase = PHASE_DONE;
		return true;
	case PHASE_ERROR:
		count_finish(c, METRICS_FINISH_ERROR);
		s->phase = PHASE_DONE;
		return set_event(s,
				 error_json(c, HTTP_INTERNAL_SERVER_ERROR,
					    "InternalServerError"),
				 NULL) == 0;
	case PHASE_DONE:
		count_finish(c, done_reason(c));
		s->phase = PHASE_END;
		return set_event(s, NULL, "[DONE]") == 0;
	case PHASE_END:
	default:
		*end = true;
		return true;
	}
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct completion_stream *s = cls;
	size_t n;
	bool end;

	(void)pos;
	if (s->event_off == s->event_len) {
		if (!next_event(s, &end))
			return MHD_CONTENT_READER_END_WITH_ERROR;
		if (end)
			return MHD_CONTENT_READER_END_OF_STREAM;
	}
	n = s->event_len - s->event_off;
	if (n > max)
		n = max;
	memcpy(buf, s->event + s->event_off, n);
	s->event_off += n;
	return (ssize_t)n;
}

/* MHD is done with the stream: finished, or the client went away. */
static void stream_free(void *cls)
{
	struct completion_stream *s = cls;

	count_finish(&s->c, METRICS_FINISH_ABORT);
	free(s);
}

struct MHD_Response *
completion_stream_response(const struct completion_env *env,
			   const struct completion_request *req,
			   const struct timespec *start)
{
	struct completion_stream *s = calloc(1, sizeof(*s));
	struct MHD_Response *response;

	if (!s)
		return NULL;
	completion_init(&s->c, env, req, start);
	s->phase = PHASE_TOKENS;
	/* Unknown size: chunked on HTTP/1.1. On failure MHD frees nothing. */
	response = MHD_create_response_from_callback(
	    MHD_SIZE_UNKNOWN, STREAM_BLOCK_BYTES, stream_read, s, stream_free);
	if (!response) {
		free(s);
		return NULL;
	}
	if (MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
				    CONTENT_TYPE_EVENT_STREAM) != MHD_YES ||
	    MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL,
				    "no-cache") != MHD_YES) {
		/* Destroying it calls stream_free, which counts an abort */
		s->c.counted = true;
		MHD_destroy_response(response);
		return NULL;
	}
	return response;
}

/* ---- a whole answer ----------------------------------------------------- */

static json_t *whole_completion(const struct completion *c, const char *text)
{
	json_t *choice;

	if (c->kind == COMPLETION_CHAT)
		choice =
		    json_pack("{s:i, s:{s:s, s:s}, s:s}", "index", 0, "message",
			      "role", "assistant", "content", text,
			      "finish_reason", finish_reason_name(c));
	else
		choice = json_pack("{s:i, s:s, s:n, s:s}", "index", 0, "text",
				   text, "logprobs", "finish_reason",
				   finish_reason_name(c));
	return json_pack(
	    "{s:s, s:s, s:I, s:s, s:[o]}", "id", c->id, "object",
	    c->kind == COMPLETION_CHAT ? "chat.completion" : "text_completion",
	    "created", c->created, "model", c->env.model, "choices", choice);
}

json_t *completion_answer(const struct completion_env *env,
			  const struct completion_request *req,
			  const struct timespec *start, unsigned int *status)
{
	struct completion c;
	json_t *answer;
	size_t used = 0;
	char *text;

	completion_init(&c, env, req, start);
	text = malloc((size_t)c.limit * WORD_MAX_BYTES + 1);
	if (!text)
		return NULL;
	text[0] = '\0';
	while (c.sent < c.limit) {
		if (!next_token(&c)) {
			count_finish(&c, METRICS_FINISH_ABORT);
			free(text);
			*status = HTTP_SERVICE_UNAVAILABLE;
			return error_json(&c, HTTP_SERVICE_UNAVAILABLE,
					  "ServiceUnavailableError");
		}
		used += (size_t)snprintf(text + used, WORD_MAX_BYTES + 1, "%s",
					 words[(c.sent - 1) % WORD_COUNT]);
		if (fails_now(&c)) {
			count_finish(&c, METRICS_FINISH_ERROR);
			free(text);
			*status = HTTP_INTERNAL_SERVER_ERROR;
			return error_json(&c, HTTP_INTERNAL_SERVER_ERROR,
					  "InternalServerError");
		}
	}
	count_finish(&c, done_reason(&c));
	answer = whole_completion(&c, text);
	free(text);
	*status = HTTP_OK;
	return answer;
}
