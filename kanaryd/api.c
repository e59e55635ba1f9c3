/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * api.c - kanaryd's HTTP server (libmicrohttpd, internal thread pool,
 * behind the front door of http_front.c).
 *
 * The front door owns the socket: it reads each request head (and a
 * chunked body) strictly, answers what it refuses with the same JSON
 * errors as this file (render_error), and hands libmicrohttpd sound
 * requests only, one per connection. Here the path is decoded, strictly
 * too (libmicrohttpd's own decoding is switched off), and routed.
 *
 * A request is then decided in two phases. On the first call, with the headers
 * only, the route, the method, the token, the origin, the content type and
 * the announced length are checked, and a refusal is answered at once,
 * before any body is read. Otherwise the body is collected (never beyond
 * API_MAX_BODY_BYTES), parsed and checked as a whole, and only then is the
 * one agent_* call of the route made: a request either fails before it
 * reaches the agent or is handed over complete, so nothing a client sends
 * can leave a change half done.
 *
 * Every error is JSON {"error": "...", "field": "..."}; docs/api.md lists
 * them per route.
 */
#include "api.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "http_front.h"
#include "http_strict.h"
#include "util/buf.h"
#include "util/json_fields.h"
#include "util/log.h"
#include "util/netaddr.h"
#include "statuspage.h"
#include "watch.h"

#define API_PREFIX		"/api/v1/services"
#define API_NODES_PATH		"/api/v1/nodes"
#define JSON_CONTENT_TYPE	"application/json"
#define PROMETHEUS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define BEARER_SCHEME		"Bearer"
#define AUTH_CHALLENGE		"Bearer realm=\"kanary\""
#define AUTH_CHALLENGE_INVALID                                                 \
	"Bearer realm=\"kanary\", error=\"invalid_token\""
/* The page runs its own inline script and talks to this server only. */
#define STATUSPAGE_CSP                                                         \
	"default-src 'none'; script-src 'unsafe-inline'; "                     \
	"style-src 'unsafe-inline'; connect-src 'self'; img-src data:; "       \
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
/*
 * libmicrohttpd cannot answer in the middle of a body, so a chunked body
 * (no Content-Length to refuse up front) that overflows would be drained,
 * kept nowhere, and answered 413 at its end; past this many bytes the
 * connection is closed instead. The front door refuses such bodies (413)
 * before they get here: this is the bound should one slip through.
 */
#define API_MAX_DRAIN_BYTES (1024 * 1024)
/* Room for any service name (the data path allows 31 bytes); a longer one
 * in a path names nothing and is answered 404 here. */
#define API_NAME_MAX_BYTES 64
/* "OPTIONS" and every other method that means anything, with room. */
#define API_METHOD_LEN	   16
#define API_JSON_FLAGS	   JSON_TEXT_FLAGS
#define BODY_TOO_LARGE_FMT "the body has more than %d bytes"
#define API_MSG_LEN	   512
/* A request line and headers longer than this are refused (431) by the
 * front door; every client of the API needs far less. */
#define API_HEAD_MAX_BYTES 8192
/* A chunked body is held whole by the front door before it is handed on
 * (http_front.c); as sent it may take this much (413 beyond): room for a
 * full body in chunks of a few bytes each. */
#define API_MAX_CHUNKED_BYTES (4 * API_MAX_BODY_BYTES)
/*
 * libmicrohttpd's own limit, shared among its workers: so high that no
 * worker reaches it even if every connection the front door lets in (at
 * most API_MAX_CONNECTIONS) lands on it, with room for connections closed
 * but not counted out yet (http_front.c says why a worker must never reach
 * it).
 */
#define MHD_CONNECTION_LIMIT (2 * API_MAX_CONNECTIONS * API_THREADS)
/* "Date: Fri, 04 Dec 2026 19:38:00 GMT" */
#define HTTP_DATE_LEN 64

enum body_rule {
	BODY_IGNORED,	   /* GET: a body is drained and ignored */
	BODY_EMPTY_OBJECT, /* nothing, or {} */
	BODY_OPTIONAL,	   /* nothing, or a JSON object */
	BODY_REQUIRED,	   /* a JSON object */
};

typedef int (*service_call)(struct agent *a, const char *name,
			    const json_t *body, json_t **out,
			    struct agent_error *err);

/* A read whose answer the agent writes as JSON text itself. */
typedef int (*service_text_call)(struct agent *a, const char *name, char **text,
				 size_t *len, struct agent_error *err);

/* One route under /api/v1/services/{name}: call, or text_call. */
struct service_route {
	const char *action; /* "" for the service itself */
	const char *method;
	enum body_rule body;
	service_call call;
	service_text_call text_call;
};

enum route_kind {
	ROUTE_NONE,
	ROUTE_STATUSPAGE,
	ROUTE_HEALTHZ,
	ROUTE_METRICS,
	ROUTE_SERVICES,
	ROUTE_SERVICE, /* one of service_routes */
	ROUTE_NODES,   /* cluster mode's nodes */
};

struct api_server {
	struct MHD_Daemon *daemon;
	struct http_front *front; /* owns the socket, checks each head */
	struct agent *agent;
	char *token; /* NULL: mutating calls need no token */
	size_t token_len;
	struct endpoint addr; /* where it listens, either family */
	unsigned int port;
};

/* Per-request state in *req_cls, freed by on_completed(). */
struct api_request {
	enum route_kind kind;
	const struct service_route *route;
	char name[API_NAME_MAX_BYTES];
	bool answered;	 /* a response was queued */
	struct buf body; /* at most API_MAX_BODY_BYTES: dropped past it */
	size_t drained;
	unsigned int status; /* for the access log */
	char method[API_METHOD_LEN];
};

/* ---- answers ------------------------------------------------------------ */

struct reply {
	unsigned int status;
	const char *content_type;
	const char *allow;     /* 405 */
	const char *challenge; /* 401 */
	const char *csp;       /* the status page */
	void *data;
	size_t len;
	enum MHD_ResponseMemoryMode memory;
};

/*
 * Headers of every answer. Every answer is live state: never cache, never
 * sniff. Each connection carries one request, the one whose head the front
 * door checked (http_front.c): libmicrohttpd never parses a second head
 * that nobody looked at.
 */
static const struct {
	const char *name, *value;
} answer_headers[] = {
    {MHD_HTTP_HEADER_CACHE_CONTROL, "no-store"},
    {"X-Content-Type-Options", "nosniff"},
    {MHD_HTTP_HEADER_CONNECTION, "close"},
};

#define ANSWER_HEADER_COUNT (sizeof(answer_headers) / sizeof(answer_headers[0]))

static enum MHD_Result send_reply(struct MHD_Connection *conn,
				  struct api_request *req,
				  const struct reply *r)
{
	struct MHD_Response *response;
	enum MHD_Result ret;
	bool ok;
	size_t i;

	response = MHD_create_response_from_buffer(r->len, r->data, r->memory);
	if (!response) {
		if (r->memory == MHD_RESPMEM_MUST_FREE)
			free(r->data);
		return MHD_NO;
	}
	ok = MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
				     r->content_type) == MHD_YES;
	for (i = 0; ok && i < ANSWER_HEADER_COUNT; i++)
		ok =
		    MHD_add_response_header(response, answer_headers[i].name,
					    answer_headers[i].value) == MHD_YES;
	if (ok && r->allow)
		ok = MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW,
					     r->allow) == MHD_YES;
	if (ok && r->challenge)
		ok = MHD_add_response_header(response,
					     MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					     r->challenge) == MHD_YES;
	if (ok && r->csp)
		ok =
		    MHD_add_response_header(response, "Content-Security-Policy",
					    r->csp) == MHD_YES;
	if (!ok) {
		MHD_destroy_response(response);
		return MHD_NO;
	}
	ret = MHD_queue_response(conn, r->status, response);
	MHD_destroy_response(response);
	if (ret == MHD_YES) {
		req->answered = true;
		req->status = r->status;
	}
	return ret;
}

/* obj (a reference the call takes over) as text, or NULL. */
static char *json_line(json_t *obj, size_t *len)
{
	char *text, *line;

	if (!obj)
		return NULL;
	text = json_dumps(obj, API_JSON_FLAGS);
	json_decref(obj);
	if (!text)
		return NULL;
	/* One line per answer: curl and shells print it tidily. */
	*len = strlen(text);
	line = realloc(text, *len + 2);
	if (!line) {
		free(text);
		return NULL;
	}
	line[(*len)++] = '\n';
	line[*len] = '\0';
	return line;
}

/* Sends obj (a reference the call takes over) as the answer. */
static enum MHD_Result send_json_ex(struct MHD_Connection *conn,
				    struct api_request *req,
				    unsigned int status, json_t *obj,
				    const char *allow, const char *challenge)
{
	struct reply r = {
	    .status = status,
	    .content_type = JSON_CONTENT_TYPE,
	    .allow = allow,
	    .challenge = challenge,
	    .memory = MHD_RESPMEM_MUST_FREE,
	};

	r.data = json_line(obj, &r.len);
	if (!r.data)
		return MHD_NO;
	return send_reply(conn, req, &r);
}

static enum MHD_Result send_json(struct MHD_Connection *conn,
				 struct api_request *req, unsigned int status,
				 json_t *obj)
{
	return send_json_ex(conn, req, status, obj, NULL, NULL);
}

static json_t *error_body(const char *field, const char *message)
{
	return json_pack("{s:s, s:s}", "error", message, "field",
			 field ? field : "");
}

static enum MHD_Result __attribute__((format(printf, 7, 8)))
send_error_ex(struct MHD_Connection *conn, struct api_request *req,
	      unsigned int status, const char *allow, const char *challenge,
	      const char *field, const char *fmt, ...)
{
	char message[API_MSG_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	return send_json_ex(conn, req, status, error_body(field, message),
			    allow, challenge);
}

#define send_error(conn, req, status, field, ...)                              \
	send_error_ex(conn, req, status, NULL, NULL, field, __VA_ARGS__)

/* The agent's error codes as HTTP statuses. */
static unsigned int agent_error_status(enum agent_errc code)
{
	switch (code) {
	case AGENT_ERR_INVALID:
		return MHD_HTTP_BAD_REQUEST;
	case AGENT_ERR_NOT_FOUND:
		return MHD_HTTP_NOT_FOUND;
	case AGENT_ERR_CONFLICT:
		return MHD_HTTP_CONFLICT;
	case AGENT_ERR_INTERNAL:
		break;
	}
	return MHD_HTTP_INTERNAL_SERVER_ERROR;
}

static enum MHD_Result send_agent_error(struct MHD_Connection *conn,
					struct api_request *req,
					const struct agent_error *err)
{
	return send_json(conn, req, agent_error_status(err->code),
			 error_body(err->field, err->message[0]
						    ? err->message
						    : "the agent failed "
						      "without saying why"));
}

/*
 * A whole answer for the front door's refusals, which are answered before
 * libmicrohttpd sees the request: the same status line, headers and JSON
 * body as send_error() gives.
 */
static char *render_error(const struct http_error *err, size_t *len)
{
	char date[HTTP_DATE_LEN], *body, *text = NULL;
	size_t body_len = 0, i;
	struct tm tm;
	time_t now = time(NULL);
	FILE *out;

	body = json_line(error_body(err->field, err->message), &body_len);
	if (!body)
		return NULL;
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	out = open_memstream(&text, len);
	if (!out) {
		free(body);
		return NULL;
	}
	fprintf(out, "HTTP/1.1 %u %s\r\nDate: %s\r\n%s: %s\r\n", err->status,
		MHD_get_reason_phrase_for(err->status), date,
		MHD_HTTP_HEADER_CONTENT_TYPE, JSON_CONTENT_TYPE);
	for (i = 0; i < ANSWER_HEADER_COUNT; i++)
		fprintf(out, "%s: %s\r\n", answer_headers[i].name,
			answer_headers[i].value);
	fprintf(out, "%s: %zu\r\n\r\n", MHD_HTTP_HEADER_CONTENT_LENGTH,
		body_len);
	/* The answer to HEAD is the head of the answer to GET. */
	if (!err->head_request)
		fwrite(body, 1, body_len, out);
	free(body);
	if (fclose(out)) {
		free(text);
		return NULL;
	}
	return text;
}

/* ---- the service routes ------------------------------------------------- */

static int call_status(struct agent *a, const char *name, const json_t *body,
		       json_t **out, struct agent_error *err)
{
	(void)body;
	return agent_service_json(a, name, out, err);
}

/*
 * The request bodies: each read here once, against its own field table,
 * into the typed arguments of its agent_* call. A malformed body is an
 * AGENT_ERR_INVALID error naming the field, like the agent's own.
 */

/* A json_fields.h failure (already in err) as an invalid argument. */
static int invalid_body(struct agent_error *err)
{
	err->code = AGENT_ERR_INVALID;
	return -EINVAL;
}

/* No body (or none to read) runs the service's configured rollout; a body
 * is a rollout spec read over it: what it omits keeps the configured
 * value. */
static int call_rollout(struct agent *a, const char *name, const json_t *body,
			json_t **out, struct agent_error *err)
{
	struct rollout_spec base, spec;
	struct spec_error serr = {0};
	int ret;

	if (!body)
		return agent_rollout_start(a, name, NULL, out, err);
	ret = agent_rollout_defaults(a, name, &base, err);
	if (ret)
		return ret;
	if (rollout_spec_from_json(body, &base, "", &spec, &serr)) {
		snprintf(err->field, sizeof(err->field), "%s", serr.field);
		snprintf(err->message, sizeof(err->message), "%s",
			 serr.message);
		return invalid_body(err);
	}
	return agent_rollout_start(a, name, &spec, out, err);
}

static int call_pause(struct agent *a, const char *name, const json_t *body,
		      json_t **out, struct agent_error *err)
{
	(void)body;
	return agent_rollout_pause(a, name, out, err);
}

static int call_resume(struct agent *a, const char *name, const json_t *body,
		       json_t **out, struct agent_error *err)
{
	(void)body;
	return agent_rollout_resume(a, name, out, err);
}

static const char *const promote_fields[] = {"full", NULL};

static int call_promote(struct agent *a, const char *name, const json_t *body,
			json_t **out, struct agent_error *err)
{
	struct jf_ctx ctx;
	bool full = false;

	if (body) {
		jf_init(&ctx, "", err->field, sizeof(err->field), err->message,
			sizeof(err->message));
		if (jf_check_object(&ctx, body, promote_fields) ||
		    jf_bool(&ctx, body, "full", &full))
			return invalid_body(err);
	}
	return agent_rollout_promote(a, name, full, out, err);
}

static int call_abort(struct agent *a, const char *name, const json_t *body,
		      json_t **out, struct agent_error *err)
{
	(void)body;
	return agent_rollout_abort(a, name, out, err);
}

static int call_approve(struct agent *a, const char *name, const json_t *body,
			json_t **out, struct agent_error *err)
{
	(void)body;
	return agent_rollout_approve(a, name, out, err);
}

static const char *const weight_fields[] = {"canary_percent", NULL};

/* {"canary_percent": 12.5} */
static int call_weight(struct agent *a, const char *name, const json_t *body,
		       json_t **out, struct agent_error *err)
{
	struct jf_ctx ctx;
	uint32_t bp = 0;

	jf_init(&ctx, "", err->field, sizeof(err->field), err->message,
		sizeof(err->message));
	if (jf_check_object(&ctx, body, weight_fields) ||
	    jf_percent(&ctx, body, "canary_percent", &bp))
		return invalid_body(err);
	if (!json_object_get(body, "canary_percent")) {
		jf_fail(&ctx, "canary_percent",
			"is required: the canary's share of new connections "
			"in percent, like {\"canary_percent\": 12.5}");
		return invalid_body(err);
	}
	return agent_set_weight(a, name, bp, out, err);
}

static const char *const affinity_fields[] = {"affinity", NULL};

/* {"affinity": "connection"} or {"affinity": "client"} */
static int call_affinity(struct agent *a, const char *name, const json_t *body,
			 json_t **out, struct agent_error *err)
{
	struct jf_ctx ctx;
	uint32_t flags = 0;

	jf_init(&ctx, "", err->field, sizeof(err->field), err->message,
		sizeof(err->message));
	if (jf_check_object(&ctx, body, affinity_fields) ||
	    affinity_field(&ctx, body, &flags))
		return invalid_body(err);
	if (!json_object_get(body, "affinity")) {
		jf_fail(&ctx, "affinity",
			"is required: \"client\" or \"connection\", like "
			"{\"affinity\": \"connection\"}");
		return invalid_body(err);
	}
	return agent_set_affinity(a, name, flags & KN_SVC_F_CONNECTION_AFFINITY,
				  out, err);
}

static const char *const backends_fields[] = {"stable", "canary", NULL};

/* Room for a list element's field name, "canary[63]" and the like. */
#define API_FIELD_LEN 32

/* One pool's list of "IPv4:PORT" or "[IPv6]:PORT" strings (already known to
 * be a list). */
static int endpoints_from_json(struct jf_ctx *ctx, const json_t *list,
			       const char *key, struct endpoint *out,
			       uint32_t *count)
{
	char why[NETADDR_ERR_LEN];
	size_t i;

	if (json_array_size(list) > KN_MAX_POOL_BACKENDS)
		return jf_fail(ctx, key, "has more than %d backends",
			       KN_MAX_POOL_BACKENDS);
	for (i = 0; i < json_array_size(list); i++) {
		const json_t *v = json_array_get(list, i);
		char field[API_FIELD_LEN];

		snprintf(field, sizeof(field), "%s[%zu]", key, i);
		if (!json_is_string(v))
			return jf_fail(ctx, field,
				       "must be a string \"IPv4:PORT\" or "
				       "\"[IPv6]:PORT\"");
		if (netaddr_parse_endpoint(json_string_value(v), &out[i], why,
					   sizeof(why)))
			return jf_fail(ctx, field, "%s", why);
	}
	*count = (uint32_t)json_array_size(list);
	return 0;
}

/* {"stable": ["IP:PORT", ...]} and/or {"canary": [...]}. The body's shape
 * is judged first, then whether the service exists, then its addresses. */
static int call_backends(struct agent *a, const char *name, const json_t *body,
			 json_t **out, struct agent_error *err)
{
	struct endpoint pools[KN_POOL_COUNT][KN_MAX_POOL_BACKENDS];
	uint32_t counts[KN_POOL_COUNT] = {0};
	const json_t *lists[KN_POOL_COUNT];
	struct jf_ctx ctx;
	size_t p;

	jf_init(&ctx, "", err->field, sizeof(err->field), err->message,
		sizeof(err->message));
	if (jf_check_object(&ctx, body, backends_fields))
		return invalid_body(err);
	lists[KN_POOL_STABLE] = json_object_get(body, "stable");
	lists[KN_POOL_CANARY] = json_object_get(body, "canary");
	if (!lists[KN_POOL_STABLE] && !lists[KN_POOL_CANARY]) {
		jf_fail(&ctx, "",
			"give \"stable\" and/or \"canary\", each a list of "
			"\"IPv4:PORT\" or \"[IPv6]:PORT\" strings");
		return invalid_body(err);
	}
	for (p = 0; p < KN_POOL_COUNT; p++) {
		if (lists[p] && !json_is_array(lists[p])) {
			jf_fail(&ctx, backends_fields[p],
				"must be a list of \"IPv4:PORT\" or "
				"\"[IPv6]:PORT\" strings, like "
				"[\"198.18.0.10:8000\"]");
			return invalid_body(err);
		}
	}
	if (!agent_service_exists(a, name, err))
		return -ENOENT;
	for (p = 0; p < KN_POOL_COUNT; p++) {
		if (lists[p] &&
		    endpoints_from_json(&ctx, lists[p], backends_fields[p],
					pools[p], &counts[p]))
			return invalid_body(err);
	}
	return agent_set_backends(
	    a, name, pools[KN_POOL_STABLE], counts[KN_POOL_STABLE],
	    lists[KN_POOL_STABLE] != NULL, pools[KN_POOL_CANARY],
	    counts[KN_POOL_CANARY], lists[KN_POOL_CANARY] != NULL, out, err);
}

static const struct service_route service_routes[] = {
    {"", MHD_HTTP_METHOD_GET, BODY_IGNORED, call_status},
    {"decisions", MHD_HTTP_METHOD_GET, BODY_IGNORED, NULL,
     agent_decisions_text},
    {"history", MHD_HTTP_METHOD_GET, BODY_IGNORED, NULL, agent_history_text},
    {"rollout", MHD_HTTP_METHOD_POST, BODY_OPTIONAL, call_rollout},
    {"pause", MHD_HTTP_METHOD_POST, BODY_EMPTY_OBJECT, call_pause},
    {"resume", MHD_HTTP_METHOD_POST, BODY_EMPTY_OBJECT, call_resume},
    {"promote", MHD_HTTP_METHOD_POST, BODY_OPTIONAL, call_promote},
    {"abort", MHD_HTTP_METHOD_POST, BODY_EMPTY_OBJECT, call_abort},
    {"weight", MHD_HTTP_METHOD_PUT, BODY_REQUIRED, call_weight},
    {"backends", MHD_HTTP_METHOD_PUT, BODY_REQUIRED, call_backends},
    {"affinity", MHD_HTTP_METHOD_PUT, BODY_REQUIRED, call_affinity},
    {"approve", MHD_HTTP_METHOD_POST, BODY_EMPTY_OBJECT, call_approve},
};

#define SERVICE_ROUTE_COUNT (sizeof(service_routes) / sizeof(service_routes[0]))

static bool route_mutates(const struct api_request *req)
{
	return req->kind == ROUTE_SERVICE &&
	       strcmp(req->route->method, MHD_HTTP_METHOD_GET) != 0;
}

static const char *route_method(const struct api_request *req)
{
	return req->kind == ROUTE_SERVICE ? req->route->method
					  : MHD_HTTP_METHOD_GET;
}

static const char *route_allow(const struct api_request *req)
{
	const char *method = route_method(req);

	if (!strcmp(method, MHD_HTTP_METHOD_GET))
		return "GET, HEAD";
	return method;
}

/*
 * Finds the route of a path. Unknown paths leave kind ROUTE_NONE; a
 * service route keeps the name, which the agent looks up.
 */
static void route_path(const char *url, struct api_request *req)
{
	const char *name, *slash, *action;
	size_t name_len, i;

	req->kind = ROUTE_NONE;
	if (!strcmp(url, "/"))
		req->kind = ROUTE_STATUSPAGE;
	else if (!strcmp(url, "/healthz"))
		req->kind = ROUTE_HEALTHZ;
	else if (!strcmp(url, "/metrics"))
		req->kind = ROUTE_METRICS;
	else if (!strcmp(url, API_PREFIX))
		req->kind = ROUTE_SERVICES;
	else if (!strcmp(url, API_NODES_PATH))
		req->kind = ROUTE_NODES;
	if (req->kind != ROUTE_NONE ||
	    strncmp(url, API_PREFIX "/", strlen(API_PREFIX "/")) != 0)
		return;

	name = url + strlen(API_PREFIX "/");
	slash = strchr(name, '/');
	name_len = slash ? (size_t)(slash - name) : strlen(name);
	action = slash ? slash + 1 : "";
	/* "/services//x" and "/services/x/" name nothing. */
	if (name_len == 0 || name_len >= sizeof(req->name) ||
	    (slash && !*action))
		return;
	for (i = 0; i < SERVICE_ROUTE_COUNT; i++) {
		if (!strcmp(service_routes[i].action, action)) {
			memcpy(req->name, name, name_len);
			req->name[name_len] = '\0';
			req->route = &service_routes[i];
			req->kind = ROUTE_SERVICE;
			return;
		}
	}
}

/* ---- what the headers decide -------------------------------------------- */

/* Equal in time that depends on the expected length only. */
static bool token_equal(const char *given, size_t given_len,
			const char *expected, size_t expected_len)
{
	unsigned char diff = given_len != expected_len;
	size_t i;

	for (i = 0; i < expected_len; i++) {
		unsigned char g = i < given_len ? (unsigned char)given[i] : 0;

		diff |= g ^ (unsigned char)expected[i];
	}
	return diff == 0;
}

/* NULL when the request carries the token; else the challenge to send. */
static const char *check_token(const struct api_server *srv,
			       struct MHD_Connection *conn, bool *present)
{
	const char *header, *token;

	*present = false;
	if (!srv->token)
		return NULL;
	header = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
					     MHD_HTTP_HEADER_AUTHORIZATION);
	if (!header)
		return AUTH_CHALLENGE;
	*present = true;
	if (strncasecmp(header, BEARER_SCHEME, strlen(BEARER_SCHEME)) != 0 ||
	    header[strlen(BEARER_SCHEME)] != ' ')
		return AUTH_CHALLENGE_INVALID;
	token = header + strlen(BEARER_SCHEME);
	while (*token == ' ')
		token++;
	if (!token_equal(token, strlen(token), srv->token, srv->token_len))
		return AUTH_CHALLENGE_INVALID;
	return NULL;
}

/* Whether Host names this machine's loopback (malformed: no). */
static bool host_is_loopback(const char *authority)
{
	struct http_host host;
	struct http_error err;

	return !http_host_parse(authority, strlen(authority), &host, &err) &&
	       http_host_is_loopback(&host);
}

/*
 * A web page the operator happens to visit must not be able to steer
 * traffic through their browser. Browsers send Origin with every
 * cross-origin POST or PUT: it must name this server. Without a token, a
 * page could also rebind its own host name to 127.0.0.1, so then the Host
 * must be a loopback name too. Returns a reason to refuse, or NULL.
 */
static const char *check_origin(const struct api_server *srv,
				struct MHD_Connection *conn)
{
	const char *origin, *host, *authority;

	host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
					   MHD_HTTP_HEADER_HOST);
	origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
					     MHD_HTTP_HEADER_ORIGIN);
	if (origin) {
		authority = strstr(origin, "://");
		if (!authority || !host ||
		    strcasecmp(authority + strlen("://"), host) != 0)
			return "a browser page from another origin may not "
			       "change kanaryd's state; use kanaryctl or the "
			       "status page served by kanaryd itself";
	}
	if (!srv->token && host && !host_is_loopback(host))
		return "without a token, state-changing calls must address "
		       "kanaryd by a loopback name (127.0.0.1 or localhost); "
		       "configure a token file to reach it by other names";
	return NULL;
}

/* Whether the media type (before any parameter) is application/json. */
static bool is_json_type(const char *type)
{
	size_t n = strlen(JSON_CONTENT_TYPE);

	if (!type || strncasecmp(type, JSON_CONTENT_TYPE, n) != 0)
		return false;
	while (type[n] == ' ' || type[n] == '\t')
		n++;
	return type[n] == '\0' || type[n] == ';';
}

/*
 * The announced body: its length from Content-Length, UINT64_MAX when it
 * comes chunked (unknown until the end), 0 when there is none.
 */
static uint64_t announced_length(struct MHD_Connection *conn)
{
	const char *length, *encoding;
	unsigned long long value;
	char *end;

	encoding = MHD_lookup_connection_value(
	    conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
	if (encoding)
		return UINT64_MAX;
	length = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
					     MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (!length)
		return 0;
	errno = 0;
	value = strtoull(length, &end, 10);
	/* MHD refuses a malformed Content-Length itself; be safe anyway. */
	if (errno || end == length)
		return UINT64_MAX;
	return value;
}

static enum MHD_Result on_headers(struct api_server *srv,
				  struct MHD_Connection *conn,
				  struct api_request *req, const char *url,
				  const char *method)
{
	const char *method_ok = NULL, *challenge, *why;
	struct http_error bad_path;
	size_t url_len = strlen(url);
	uint64_t length;
	bool token_present;
	char *path;

	/* url is the path as sent (unescape_nothing): decoded here, strictly,
	 * so that no escape can hide a '/', a NUL or a ".." from routing. */
	path = malloc(url_len + 1);
	if (!path)
		return MHD_NO;
	if (http_path_decode(url, path, url_len + 1, &bad_path)) {
		free(path);
		return send_error(conn, req, bad_path.status, bad_path.field,
				  "%s", bad_path.message);
	}
	route_path(path, req);
	free(path);
	if (req->kind == ROUTE_NONE)
		return send_error(conn, req, MHD_HTTP_NOT_FOUND, "",
				  "no such path; the API is under %s, "
				  "docs/api.md lists every route",
				  API_PREFIX);
	if (!strcmp(method, route_method(req)))
		method_ok = method;
	else if (!strcmp(method, MHD_HTTP_METHOD_HEAD) &&
		 !strcmp(route_method(req), MHD_HTTP_METHOD_GET))
		method_ok = method;
	if (!method_ok)
		return send_error_ex(conn, req, MHD_HTTP_METHOD_NOT_ALLOWED,
				     route_allow(req), NULL, "",
				     "%s is not allowed here; use %s", method,
				     route_allow(req));
	if (!route_mutates(req)) {
		/* Nothing to read: a body announced here would only hold the
		 * connection while it does not come. */
		if (announced_length(conn) != 0)
			return send_error(conn, req, MHD_HTTP_BAD_REQUEST, "",
					  "%s %s takes no body", method, url);
		return MHD_YES;
	}

	challenge = check_token(srv, conn, &token_present);
	if (challenge)
		return send_error_ex(
		    conn, req, MHD_HTTP_UNAUTHORIZED, NULL, challenge, "",
		    token_present ? "the bearer token is not the "
				    "one kanaryd was started with"
				  : "this call changes state and "
				    "needs 'Authorization: Bearer "
				    "TOKEN' with the token in "
				    "kanaryd's token file");
	why = check_origin(srv, conn);
	if (why)
		return send_error(conn, req, MHD_HTTP_FORBIDDEN, "", "%s", why);

	length = announced_length(conn);
	if (length == 0)
		return MHD_YES;
	if (!is_json_type(MHD_lookup_connection_value(
		conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE)))
		return send_error(conn, req, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
				  "",
				  "the body must be JSON, sent with "
				  "'Content-Type: application/json'");
	if (length != UINT64_MAX && length > API_MAX_BODY_BYTES)
		return send_error(conn, req, MHD_HTTP_CONTENT_TOO_LARGE, "",
				  "the body has %llu bytes; at most %d are "
				  "accepted",
				  (unsigned long long)length,
				  API_MAX_BODY_BYTES);
	return MHD_YES;
}

/* ---- the body ----------------------------------------------------------- */

/* Keeps up to API_MAX_BODY_BYTES; the rest is counted and dropped. */
static int collect_body(struct api_request *req, const char *data, size_t len)
{
	int ret;

	if (req->answered || req->body.dropped || req->kind != ROUTE_SERVICE ||
	    req->route->body == BODY_IGNORED) {
		req->drained += len;
		return req->drained > API_MAX_DRAIN_BYTES ? -E2BIG : 0;
	}
	ret = buf_append(&req->body, data, len);
	if (ret == -E2BIG) {
		/* Answered 413 once the body has been drained. */
		req->drained = req->body.len + len;
		buf_free(&req->body);
		req->body.dropped = true;
		return 0;
	}
	return ret;
}

static bool body_is_blank(const struct api_request *req)
{
	size_t i;

	/* JSON's own white space; anything else (a NUL too) is content. */
	for (i = 0; i < req->body.len; i++) {
		char c = req->body.data[i];

		if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
			return false;
	}
	return true;
}

/*
 * Parses the collected body by the route's rule. Returns the object (a new
 * reference), or NULL with *answer set: a 400 was queued, or *answer is
 * MHD_YES and the route takes no body.
 */
static json_t *parse_body(struct MHD_Connection *conn, struct api_request *req,
			  enum MHD_Result *answer)
{
	enum body_rule rule = req->route->body;
	json_error_t jerr;
	json_t *body;

	*answer = MHD_YES;
	if (body_is_blank(req)) {
		if (rule == BODY_REQUIRED)
			*answer =
			    send_error(conn, req, MHD_HTTP_BAD_REQUEST, "",
				       "this call needs a JSON "
				       "object body; docs/api.md "
				       "shows it");
		return NULL;
	}
	body = json_loadb(req->body.data, req->body.len, JSON_REJECT_DUPLICATES,
			  &jerr);
	if (!body) {
		char message[API_MSG_LEN], why[API_MSG_LEN];

		snprintf(message, sizeof(message),
			 "malformed JSON at line %d, column %d: %s", jerr.line,
			 jerr.column, jf_parse_error(&jerr, why, sizeof(why)));
		*answer = send_json(
		    conn, req, MHD_HTTP_BAD_REQUEST,
		    json_pack("{s:s, s:s, s:i, s:i}", "error", message, "field",
			      "", "line", jerr.line, "column", jerr.column));
		return NULL;
	}
	if (!json_is_object(body)) {
		json_decref(body);
		*answer = send_error(conn, req, MHD_HTTP_BAD_REQUEST, "",
				     "the body must be a JSON object "
				     "{...}");
		return NULL;
	}
	if (rule == BODY_EMPTY_OBJECT && json_object_size(body) > 0) {
		const char *key = json_object_iter_key(json_object_iter(body));

		*answer = send_error(conn, req, MHD_HTTP_BAD_REQUEST, key,
				     "unknown field; this call takes no "
				     "fields (send no body, or {})");
		json_decref(body);
		return NULL;
	}
	return body;
}

static enum MHD_Result answer_service(struct api_server *srv,
				      struct MHD_Connection *conn,
				      struct api_request *req)
{
	struct agent_error err = {0};
	enum MHD_Result answer;
	json_t *body = NULL, *out = NULL;
	int ret;

	if (req->route->text_call) {
		struct reply r = {
		    .status = MHD_HTTP_OK,
		    .content_type = JSON_CONTENT_TYPE,
		    .memory = MHD_RESPMEM_MUST_FREE,
		};
		char *text;

		if (req->route->text_call(srv->agent, req->name, &text, &r.len,
					  &err))
			return send_agent_error(conn, req, &err);
		r.data = text;
		return send_reply(conn, req, &r);
	}
	if (req->route->body != BODY_IGNORED) {
		body = parse_body(conn, req, &answer);
		if (!body && req->answered)
			return answer;
	}
	ret = req->route->call(srv->agent, req->name, body, &out, &err);
	json_decref(body);
	if (ret) {
		json_decref(out);
		return send_agent_error(conn, req, &err);
	}
	/* An operation may leave the new status to be asked for. */
	if (!out && agent_service_json(srv->agent, req->name, &out, &err))
		out = json_pack("{s:s}", "name", req->name);
	return send_json(conn, req, MHD_HTTP_OK, out);
}

static enum MHD_Result answer_metrics(struct api_server *srv,
				      struct MHD_Connection *conn,
				      struct api_request *req)
{
	struct reply r = {
	    .status = MHD_HTTP_OK,
	    .content_type = PROMETHEUS_CONTENT_TYPE,
	    .memory = MHD_RESPMEM_MUST_FREE,
	};
	char *text = NULL;
	size_t len = 0;
	int ret;

	ret = agent_prometheus_text(srv->agent, &text, &len);
	if (ret || !text) {
		free(text);
		return send_error(conn, req, MHD_HTTP_INTERNAL_SERVER_ERROR, "",
				  "could not render the metrics: %s",
				  strerror(ret < 0 ? -ret : EIO));
	}
	r.data = text;
	r.len = len;
	return send_reply(conn, req, &r);
}

static enum MHD_Result answer_statuspage(struct MHD_Connection *conn,
					 struct api_request *req)
{
	struct reply r = {
	    .status = MHD_HTTP_OK,
	    .content_type = STATUSPAGE_CONTENT_TYPE,
	    .csp = STATUSPAGE_CSP,
	    .memory = MHD_RESPMEM_PERSISTENT,
	};

	/* The page is read-only data that outlives every response. */
	r.data = (void *)statuspage_html(&r.len);
	return send_reply(conn, req, &r);
}

static enum MHD_Result answer(struct api_server *srv,
			      struct MHD_Connection *conn,
			      struct api_request *req)
{
	if (req->body.dropped)
		return send_error(conn, req, MHD_HTTP_CONTENT_TOO_LARGE, "",
				  BODY_TOO_LARGE_FMT, API_MAX_BODY_BYTES);
	switch (req->kind) {
	case ROUTE_STATUSPAGE:
		return answer_statuspage(conn, req);
	case ROUTE_HEALTHZ: {
		json_t *failing = watch_healthz_failure(srv->agent);

		if (failing)
			return send_json(conn, req,
					 MHD_HTTP_SERVICE_UNAVAILABLE, failing);
		return send_json(conn, req, MHD_HTTP_OK,
				 json_pack("{s:s}", "status", "ok"));
	}
	case ROUTE_METRICS:
		return answer_metrics(srv, conn, req);
	case ROUTE_SERVICES:
		return send_json(conn, req, MHD_HTTP_OK,
				 agent_services_json(srv->agent));
	case ROUTE_SERVICE:
		return answer_service(srv, conn, req);
	case ROUTE_NODES: {
		struct agent_error err = {0};
		json_t *nodes;

		if (agent_nodes_json(srv->agent, &nodes, &err))
			return send_agent_error(conn, req, &err);
		return send_json(conn, req, MHD_HTTP_OK, nodes);
	}
	case ROUTE_NONE:
		break;
	}
	return MHD_NO;
}

/* ---- libmicrohttpd callbacks -------------------------------------------- */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_data_size, void **req_cls)
{
	struct api_server *srv = cls;
	struct api_request *req = *req_cls;

	(void)version;
	if (!req) {
		req = calloc(1, sizeof(*req));
		if (!req)
			return MHD_NO;
		buf_init(&req->body, API_MAX_BODY_BYTES);
		snprintf(req->method, sizeof(req->method), "%s", method);
		*req_cls = req;
		return on_headers(srv, conn, req, url, method);
	}
	if (*upload_data_size) {
		int ret = collect_body(req, upload_data, *upload_data_size);

		*upload_data_size = 0;
		return ret ? MHD_NO : MHD_YES;
	}
	if (req->answered)
		return MHD_YES;
	return answer(srv, conn, req);
}

/* The name came from the URL: no control bytes may forge log lines. */
static void printable_copy(const char *in, char *out, size_t len)
{
	size_t i;

	for (i = 0; in[i] && i + 1 < len; i++)
		out[i] = in[i] >= ' ' && in[i] <= '~' ? in[i] : '?';
	out[i] = '\0';
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct api_request *req = *req_cls;

	(void)cls;
	(void)conn;
	if (!req)
		return;
	/* Every state change, allowed or not, is in the log. */
	if (req->kind == ROUTE_SERVICE && route_mutates(req)) {
		char name[API_NAME_MAX_BYTES];

		printable_copy(req->name, name, sizeof(name));
		log_info("api: %s %s/%s/%s: %u%s", req->method, API_PREFIX,
			 name, req->route->action, req->status,
			 toe == MHD_REQUEST_TERMINATED_COMPLETED_OK
			     ? ""
			     : " (connection ended early)");
	}
	buf_free(&req->body);
	free(req);
	*req_cls = NULL;
}

/*
 * libmicrohttpd would decode %-escapes before the access handler sees the
 * path, turning %00 into the path's end and %2F into a '/': the path stays
 * as sent, and on_headers() decodes it strictly (http_path_decode).
 */
static size_t unescape_nothing(void *cls, struct MHD_Connection *conn,
			       char *uri)
{
	(void)cls;
	(void)conn;
	return strlen(uri);
}

/* A connection the front door handed over is gone: its slot is free. */
static void on_connection(void *cls, struct MHD_Connection *conn,
			  void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct api_server *srv = cls;

	(void)conn;
	(void)socket_context;
	if (code == MHD_CONNECTION_NOTIFY_CLOSED)
		http_front_connection_closed(srv->front);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[API_MSG_LEN];
	size_t len;

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	len = strlen(line);
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		line[--len] = '\0';
	log_warn("api: %s", line);
}

/* ---- start and stop ----------------------------------------------------- */

/*
 * The address parses ("A.B.C.D:PORT" or "[IPv6]:PORT", port 0 allowed),
 * and off loopback a token is required. addr_text is the address alone, as
 * a URL's host ("127.0.0.1", "[::1]").
 */
static int listen_rule(const char *listen, bool has_token,
		       struct endpoint *addr,
		       char addr_text[NETADDR_ENDPOINT_STR_LEN], char *err,
		       size_t err_len)
{
	char why[NETADDR_ERR_LEN];

	if (netaddr_parse_listen(listen ? listen : CONFIG_DEFAULT_LISTEN, addr,
				 why, sizeof(why))) {
		snprintf(err, err_len,
			 "API listen address: %s (the default is %s)", why,
			 CONFIG_DEFAULT_LISTEN);
		return -EINVAL;
	}
	netaddr_endpoint_host(addr, addr_text, NETADDR_ENDPOINT_STR_LEN);
	if (!has_token && netaddr_classify_endpoint(addr) != NETADDR_LOOPBACK) {
		snprintf(err, err_len,
			 "refusing to serve the API on %s without a token: "
			 "anyone who reaches that address could steer "
			 "traffic; give --token-file, or listen on "
			 "%s",
			 addr_text,
			 endpoint_family(addr) == AF_INET6 ? "[::1]"
							   : "127.0.0.1");
		return -EPERM;
	}
	return 0;
}

int api_check_listen(const char *listen, bool has_token, char *err,
		     size_t err_len)
{
	char addr_text[NETADDR_ENDPOINT_STR_LEN];
	struct sockaddr_storage sa;
	struct endpoint addr;
	socklen_t sa_len;
	int fd, ret;

	ret = listen_rule(listen, has_token, &addr, addr_text, err, err_len);
	if (ret || !addr.port)
		return ret;
	/* A trial bind, as the API's own will be (http_front_socket()): a
	 * port another server listens on fails now, before anything is
	 * attached. */
	sa_len = netaddr_endpoint_sockaddr(&addr, &sa);
	fd = http_front_socket(sa.ss_family, 0);
	if (fd < 0)
		return 0;
	if (bind(fd, (struct sockaddr *)&sa, sa_len)) {
		ret = -errno;
		snprintf(err, err_len,
			 "could not serve the API on %s:%u (%s; is the port "
			 "in use by another kanaryd? 'ss -ltnp' shows who has "
			 "it); choose another with --listen",
			 addr_text, addr.port, strerror(-ret));
	}
	close(fd);
	return ret;
}

int api_start(struct agent *a, const char *listen, const char *token,
	      struct api_server **out, char *err, size_t err_len)
{
	static const struct http_front_limits front_limits = {
	    .head_bytes = API_HEAD_MAX_BYTES,
	    .body_bytes = API_MAX_BODY_BYTES,
	    .chunked_bytes = API_MAX_CHUNKED_BYTES,
	    .pending = API_MAX_CONNECTIONS,
	    .timeout_s = API_CONNECTION_TIMEOUT_S,
	};
	struct api_server *srv;
	char addr_text[NETADDR_ENDPOINT_STR_LEN], why[API_ERR_LEN];
	struct sockaddr_storage sa;
	socklen_t sa_len;
	int ret;

	*out = NULL;
	srv = calloc(1, sizeof(*srv));
	if (!srv) {
		snprintf(err, err_len, "API: out of memory");
		return -ENOMEM;
	}
	srv->agent = a;
	ret = listen_rule(listen, token != NULL, &srv->addr, addr_text, err,
			  err_len);
	if (ret)
		goto fail;
	if (token && !*token) {
		snprintf(err, err_len,
			 "the API token is empty; write a token into the "
			 "token file (for instance 'openssl rand -hex 32')");
		ret = -EINVAL;
		goto fail;
	}
	if (token) {
		srv->token = strdup(token);
		if (!srv->token) {
			snprintf(err, err_len, "API: out of memory");
			ret = -ENOMEM;
			goto fail;
		}
		srv->token_len = strlen(token);
	}

	/* The front door owns the socket (http_front.c says why). */
	sa_len = netaddr_endpoint_sockaddr(&srv->addr, &sa);
	ret = http_front_listen((const struct sockaddr *)&sa, sa_len,
				&srv->front, why, sizeof(why));
	if (ret) {
		snprintf(err, err_len,
			 "could not serve the API on %s:%u: %s (is the port in "
			 "use by another kanaryd? 'ss -ltnp' shows who has "
			 "it); choose another with --listen",
			 addr_text, srv->addr.port, why);
		goto fail;
	}
	srv->daemon = MHD_start_daemon(
	    MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_NO_LISTEN_SOCKET |
		MHD_USE_ITC | MHD_USE_ERROR_LOG,
	    0, NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER,
	    on_mhd_log, srv, MHD_OPTION_THREAD_POOL_SIZE,
	    (unsigned int)API_THREADS, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned int)MHD_CONNECTION_LIMIT, MHD_OPTION_NOTIFY_CONNECTION,
	    on_connection, srv, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned int)API_CONNECTION_TIMEOUT_S, MHD_OPTION_NOTIFY_COMPLETED,
	    on_completed, srv, MHD_OPTION_UNESCAPE_CALLBACK, unescape_nothing,
	    srv, MHD_OPTION_STRICT_FOR_CLIENT, 1, MHD_OPTION_END);
	if (!srv->daemon) {
		snprintf(err, err_len, "could not start the API's HTTP server");
		ret = -ENOMEM;
		goto fail;
	}
	ret = http_front_start(srv->front, srv->daemon, render_error,
			       &front_limits);
	if (ret) {
		snprintf(err, err_len, "could not start the API: %s",
			 strerror(-ret));
		goto fail;
	}
	srv->port = http_front_port(srv->front);
	log_info("API listening on http://%s:%u/ (%s)", addr_text, srv->port,
		 srv->token ? "state changes need the bearer token"
			    : "no token: loopback only");
	*out = srv;
	return 0;

fail:
	http_front_stop(srv->front);
	if (srv->daemon)
		MHD_stop_daemon(srv->daemon);
	http_front_free(srv->front);
	free(srv->token);
	free(srv);
	return ret;
}

unsigned int api_port(const struct api_server *srv)
{
	return srv ? srv->port : 0;
}

void api_stop(struct api_server *srv)
{
	if (!srv)
		return;
	/* No new connection may reach a stopped daemon. */
	http_front_stop(srv->front);
	MHD_stop_daemon(srv->daemon);
	http_front_free(srv->front);
	if (srv->token) {
		/* The token is a secret: do not leave it in freed memory. */
		explicit_bzero(srv->token, srv->token_len);
		free(srv->token);
	}
	free(srv);
}
