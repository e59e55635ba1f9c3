/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * server.c - routing, bounded request bodies, the endpoint handlers and the
 * fault injection of kanary-modelserver (see server.h for the endpoints).
 *
 * libmicrohttpd calls the access handler first with the headers, then with
 * each piece of body, then once more to answer. Per-request state lives in
 * *req_cls from the first call to the completion callback. Requests that
 * can be refused from their headers alone (404, 405, 413, 415) are answered
 * on the first call, before any body is read.
 */
#include "server.h"
#include "stream.h"
#include "util/buf.h"
#include "util/log.h"

#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MS_PER_S  1000
#define NS_PER_MS 1000000L
#define NS_PER_S  1000000000L

/* Bodies start this small (a /predict body is usually a sentence). */
/* An idle connection is closed after this; it outlasts any injected delay. */
#define SERVER_IDLE_SLACK_S 30
#define SERVER_IDLE_TIMEOUT_S                                                  \
	(FAULTS_MAX_LATENCY_MS / MS_PER_S + SERVER_IDLE_SLACK_S)
/* Room for an error message, and for the client text it quotes. */
#define SERVER_ERROR_BYTES    512
#define SERVER_QUOTE_BYTES    128
#define SERVER_LOG_LINE_BYTES 512
/* Scores and knobs in JSON: six significant digits are plenty. */
#define SERVER_JSON_REAL_DIGITS 6
#define SERVER_JSON_FLAGS                                                      \
	(JSON_COMPACT | JSON_REAL_PRECISION(SERVER_JSON_REAL_DIGITS))
#define CONTENT_TYPE_JSON    "application/json"
#define CONTENT_TYPE_TEXT    "text/plain; charset=utf-8"
#define CONTENT_TYPE_METRICS "text/plain; version=0.0.4; charset=utf-8"

enum route {
	ROUTE_UNKNOWN = 0,
	ROUTE_PREDICT,
	ROUTE_HEALTHZ,
	ROUTE_METRICS,
	ROUTE_FAULTS,
	ROUTE_COMPLETIONS,
	ROUTE_CHAT_COMPLETIONS,
	ROUTE_COUNT,
};

static const struct {
	const char *path;
	const char *allow;	 /* the methods served, as the Allow header */
	const char *body_method; /* the method that sends a JSON body */
} routes[ROUTE_COUNT] = {
    [ROUTE_UNKNOWN] = {"", "", NULL},
    [ROUTE_PREDICT] = {"/predict", "POST", "POST"},
    [ROUTE_HEALTHZ] = {"/healthz", "GET, HEAD", NULL},
    [ROUTE_METRICS] = {"/metrics", "GET, HEAD", NULL},
    [ROUTE_FAULTS] = {"/admin/faults", "GET, HEAD, PUT", "PUT"},
    [ROUTE_COMPLETIONS] = {"/v1/completions", "POST", "POST"},
    [ROUTE_CHAT_COMPLETIONS] = {"/v1/chat/completions", "POST", "POST"},
};

struct server {
	struct server_config config;
	struct MHD_Daemon *daemon;
	/* Injected delays wait on stop_cond, so stopping cuts them short. */
	pthread_mutex_t stop_lock;
	pthread_cond_t stop_cond;
	bool stopping;
};

struct request {
	struct timespec start;
	enum route route;
	bool wants_body; /* the route's body method: keep what arrives */
	struct buf body; /* up to SERVER_MAX_BODY_BYTES */
	bool too_large;	 /* the rest of the body is read and dropped */
	bool answered;
	bool drawn; /* draw holds this /predict request's faults */
	struct fault_draw draw;
};

/* One call of the access handler: who asks, what for, and our state. */
struct exchange {
	struct server *server;
	struct MHD_Connection *conn;
	struct request *req;
	const char *method;
};

/* An answer; reply() takes over body, which must come from malloc(). */
struct answer {
	unsigned int status;
	const char *content_type;
	char *body;
	size_t len;
	const char *allow; /* the Allow header, for 405 */
	int label;	   /* the predicted enum cls_label, or -1 */
};

static enum route route_of(const char *url)
{
	int r;

	for (r = ROUTE_UNKNOWN + 1; r < ROUTE_COUNT; r++)
		if (strcmp(routes[r].path, url) == 0)
			return (enum route)r;
	return ROUTE_UNKNOWN;
}

/* Whether method is one of the ", "-separated methods in list. */
static bool list_has(const char *list, const char *method)
{
	size_t len = strlen(method);
	const char *p = list;

	while (*p) {
		size_t item = strcspn(p, ",");

		if (item == len && strncmp(p, method, len) == 0)
			return true;
		p += item;
		while (*p == ',' || *p == ' ')
			p++;
	}
	return false;
}

static double seconds_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) +
	       (double)(now.tv_nsec - start->tv_nsec) / (double)NS_PER_S;
}

/* Sleeps ms, or less if the server stops meanwhile. */
static void server_delay(struct server *server, unsigned int ms)
{
	struct timespec deadline;

	if (ms == 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += ms / MS_PER_S;
	deadline.tv_nsec += (long)(ms % MS_PER_S) * NS_PER_MS;
	if (deadline.tv_nsec >= NS_PER_S) {
		deadline.tv_sec++;
		deadline.tv_nsec -= NS_PER_S;
	}
	pthread_mutex_lock(&server->stop_lock);
	while (!server->stopping)
		if (pthread_cond_timedwait(&server->stop_cond,
					   &server->stop_lock,
					   &deadline) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&server->stop_lock);
}

/* Each /predict request draws its faults once, whatever it is answered. */
static void draw_faults(struct exchange *ex)
{
	if (ex->req->drawn)
		return;
	faults_draw(ex->server->config.faults, &ex->req->draw);
	ex->req->drawn = true;
}

static enum MHD_Result reply(struct exchange *ex, struct answer *answer)
{
	struct request *req = ex->req;
	struct MHD_Response *response;
	enum MHD_Result ret;

	if (req->route == ROUTE_PREDICT) {
		draw_faults(ex);
		server_delay(ex->server, req->draw.knobs.latency_ms);
	}
	/* No body means we ran out of memory building it: drop the link. */
	if (!answer->body)
		return MHD_NO;
	response = MHD_create_response_from_buffer(answer->len, answer->body,
						   MHD_RESPMEM_MUST_FREE);
	if (!response) {
		free(answer->body);
		return MHD_NO;
	}
	if (MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
				    answer->content_type) != MHD_YES ||
	    (answer->allow &&
	     MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW,
				     answer->allow) != MHD_YES)) {
		MHD_destroy_response(response);
		return MHD_NO;
	}
	/* Counted before it leaves, so a client that got it sees it counted. */
	if (req->route == ROUTE_PREDICT)
		metrics_observe_predict(
		    ex->server->config.metrics, ex->method, answer->status,
		    seconds_since(&req->start), answer->label);
	ret = MHD_queue_response(ex->conn, answer->status, response);
	MHD_destroy_response(response);
	req->answered = true;
	log_debug("%s %s: %u", ex->method, routes[req->route].path,
		  answer->status);
	return ret;
}

static enum MHD_Result reply_json(struct exchange *ex, unsigned int status,
				  json_t *root, int label)
{
	struct answer answer = {.status = status,
				.content_type = CONTENT_TYPE_JSON,
				.label = label};

	answer.body = root ? json_dumps(root, SERVER_JSON_FLAGS) : NULL;
	answer.len = answer.body ? strlen(answer.body) : 0;
	json_decref(root);
	return reply(ex, &answer);
}

static enum MHD_Result reply_error(struct exchange *ex, unsigned int status,
				   const char *allow, const char *field,
				   const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static enum MHD_Result reply_error(struct exchange *ex, unsigned int status,
				   const char *allow, const char *field,
				   const char *fmt, ...)
{
	struct answer answer = {.status = status,
				.content_type = CONTENT_TYPE_JSON,
				.allow = allow,
				.label = -1};
	char message[SERVER_ERROR_BYTES];
	json_t *root;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	root = json_pack("{s:s, s:s?}", "error", message, "field", field);
	answer.body = root ? json_dumps(root, SERVER_JSON_FLAGS) : NULL;
	answer.len = answer.body ? strlen(answer.body) : 0;
	json_decref(root);
	return reply(ex, &answer);
}

static enum MHD_Result reply_text(struct exchange *ex, const char *type,
				  char *body, size_t len)
{
	struct answer answer = {.status = MHD_HTTP_OK,
				.content_type = type,
				.body = body,
				.len = len,
				.label = -1};

	return reply(ex, &answer);
}

/* "application/json", in any case, with or without parameters. */
static bool is_json_type(const char *value)
{
	size_t len = strlen(CONTENT_TYPE_JSON);

	value += strspn(value, " \t");
	if (strncasecmp(value, CONTENT_TYPE_JSON, len) != 0)
		return false;
	value += len;
	value += strspn(value, " \t");
	return *value == '\0' || *value == ';';
}

/* What the headers alone decide; MHD_YES without an answer reads on. */
static enum MHD_Result on_headers(struct exchange *ex, const char *url)
{
	struct request *req = ex->req;
	const char *type, *length;
	unsigned long long declared;
	char *end;

	if (req->route == ROUTE_UNKNOWN)
		return reply_error(ex, MHD_HTTP_NOT_FOUND, NULL, NULL,
				   "no endpoint at '%.*s' (there are /predict, "
				   "/v1/completions, /v1/chat/completions, "
				   "/healthz, /metrics and /admin/faults)",
				   SERVER_QUOTE_BYTES, url);
	if (!list_has(routes[req->route].allow, ex->method))
		return reply_error(
		    ex, MHD_HTTP_METHOD_NOT_ALLOWED, routes[req->route].allow,
		    NULL, "%s is not allowed on %s (allowed: %s)", ex->method,
		    routes[req->route].path, routes[req->route].allow);
	if (!routes[req->route].body_method ||
	    strcmp(routes[req->route].body_method, ex->method) != 0)
		return MHD_YES;

	req->wants_body = true;
	/* Lenient when absent (curl -d aside, clients say JSON or nothing). */
	type = MHD_lookup_connection_value(ex->conn, MHD_HEADER_KIND,
					   MHD_HTTP_HEADER_CONTENT_TYPE);
	if (type && !is_json_type(type))
		return reply_error(ex, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, NULL,
				   NULL, "Content-Type must be %s, not '%.*s'",
				   CONTENT_TYPE_JSON, SERVER_QUOTE_BYTES, type);
	length = MHD_lookup_connection_value(ex->conn, MHD_HEADER_KIND,
					     MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (length) {
		errno = 0;
		declared = strtoull(length, &end, 10);
		if (errno == 0 && end != length &&
		    declared > SERVER_MAX_BODY_BYTES)
			return reply_error(
			    ex, MHD_HTTP_CONTENT_TOO_LARGE, NULL, NULL,
			    "the body is %llu bytes, over the limit of %d",
			    declared, SERVER_MAX_BODY_BYTES);
	}
	return MHD_YES;
}

/* Keeps up to SERVER_MAX_BODY_BYTES of body; past that, only a flag. */
static int keep_body(struct request *req, const char *data, size_t size)
{
	int ret;

	if (!req->wants_body || req->too_large || req->answered)
		return 0;
	ret = buf_append(&req->body, data, size);
	if (ret == -E2BIG) {
		req->too_large = true;
		buf_free(&req->body);
		return 0;
	}
	return ret;
}

/* Parses the body as a JSON object, or answers 400 and returns NULL. */
static json_t *parse_body(struct exchange *ex, enum MHD_Result *ret)
{
	json_error_t error;
	json_t *root;

	root = json_loadb(ex->req->body.data ? ex->req->body.data : "",
			  ex->req->body.len, JSON_REJECT_DUPLICATES, &error);
	if (!root) {
		*ret = reply_error(ex, MHD_HTTP_BAD_REQUEST, NULL, NULL,
				   "malformed JSON at line %d, column %d: %s",
				   error.line, error.column, error.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		*ret = reply_error(ex, MHD_HTTP_BAD_REQUEST, NULL, NULL,
				   "the body must be a JSON object");
		return NULL;
	}
	return root;
}

static enum MHD_Result handle_predict(struct exchange *ex)
{
	const struct server_config *config = &ex->server->config;
	struct cls_prediction pred;
	enum MHD_Result ret;
	json_t *root, *text, *scores, *answer;
	int l, skew_label;
	double swap;

	root = parse_body(ex, &ret);
	if (!root)
		return ret;
	text = json_object_get(root, "text");
	if (!text || !json_is_string(text)) {
		ret =
		    reply_error(ex, MHD_HTTP_BAD_REQUEST, NULL, "text",
				text ? "'text' must be a string, the text to "
				       "classify"
				     : "missing 'text', the text to classify");
		json_decref(root);
		return ret;
	}

	draw_faults(ex);
	if (ex->req->draw.fail) {
		json_decref(root);
		return reply_error(ex, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
				   NULL,
				   "injected fault (error_rate %g): no "
				   "prediction",
				   ex->req->draw.knobs.error_rate);
	}
	classifier_predict(config->model, json_string_value(text),
			   json_string_length(text), &pred);
	json_decref(root);

	/*
	 * A skewed answer swaps the scores of the predicted and the skew
	 * label, so label and scores stay consistent.
	 */
	if (ex->req->draw.skewed) {
		skew_label = ex->req->draw.knobs.skew_label;
		swap = pred.scores[skew_label];
		pred.scores[skew_label] = pred.scores[pred.label];
		pred.scores[pred.label] = swap;
		pred.label = (enum cls_label)skew_label;
	}

	scores = json_object();
	for (l = 0; scores && l < CLS_LABEL_COUNT; l++)
		if (json_object_set_new(scores,
					cls_label_name((enum cls_label)l),
					json_real(pred.scores[l])) != 0) {
			json_decref(scores);
			scores = NULL;
		}
	answer = scores
		     ? json_pack("{s:s, s:o, s:s}", "label",
				 cls_label_name(pred.label), "scores", scores,
				 "model", cls_version_name(config->version))
		     : NULL;
	return reply_json(ex, MHD_HTTP_OK, answer, (int)pred.label);
}

static enum MHD_Result handle_metrics(struct exchange *ex)
{
	struct fault_knobs knobs;
	char *text;
	size_t len;

	faults_get(ex->server->config.faults, &knobs);
	if (knobs.metrics_down)
		return reply_json(
		    ex, MHD_HTTP_SERVICE_UNAVAILABLE,
		    json_pack("{s:s, s:n}", "error",
			      "metrics are down (the metrics_down "
			      "fault is set)",
			      "field"),
		    -1);

	if (metrics_render(ex->server->config.metrics, &text, &len) != 0)
		return MHD_NO;
	return reply_text(ex, CONTENT_TYPE_METRICS, text, len);
}

static enum MHD_Result handle_faults(struct exchange *ex)
{
	struct faults *faults = ex->server->config.faults;
	struct fault_knobs knobs;
	char why[SERVER_ERROR_BYTES];
	const char *field;
	enum MHD_Result ret;
	json_t *root;

	if (strcmp(ex->method, MHD_HTTP_METHOD_PUT) != 0) {
		faults_get(faults, &knobs);
		return reply_json(ex, MHD_HTTP_OK, fault_knobs_to_json(&knobs),
				  -1);
	}
	root = parse_body(ex, &ret);
	if (!root)
		return ret;
	if (faults_update_json(faults, root, &knobs, &field, why,
			       sizeof(why)) != 0) {
		/* field points into root: answer before letting it go. */
		ret = reply_error(ex, MHD_HTTP_BAD_REQUEST, NULL, field, "%s",
				  why);
		json_decref(root);
		return ret;
	}
	json_decref(root);
	log_info("faults set: error_rate %g, latency %u ms, skew %g to %s",
		 knobs.error_rate, knobs.latency_ms, knobs.skew,
		 knobs.skew_label == FAULTS_NO_LABEL
		     ? "no label"
		     : cls_label_name((enum cls_label)knobs.skew_label));
	return reply_json(ex, MHD_HTTP_OK, fault_knobs_to_json(&knobs), -1);
}

/* A completion's wait between tokens; false once the server stops. */
static bool completion_wait(void *cls, unsigned int ms)
{
	struct server *server = cls;
	bool stopping;

	server_delay(server, ms);
	pthread_mutex_lock(&server->stop_lock);
	stopping = server->stopping;
	pthread_mutex_unlock(&server->stop_lock);
	return !stopping;
}

static enum MHD_Result handle_completion(struct exchange *ex,
					 enum completion_kind kind)
{
	const struct server_config *config = &ex->server->config;
	const struct completion_env env = {
	    .faults = config->faults,
	    .metrics = config->metrics,
	    .model = cls_version_name(config->version),
	    .wait = completion_wait,
	    .wait_cls = ex->server,
	};
	struct completion_request creq;
	struct MHD_Response *response;
	char why[COMPLETION_WHY_BYTES];
	unsigned int status;
	const char *field;
	enum MHD_Result ret;
	json_t *root;
	int err;

	root = parse_body(ex, &ret);
	if (!root)
		return ret;
	err = completion_parse(root, kind, &creq, &field, why, sizeof(why));
	/* field points into root: answer before letting it go. */
	if (err) {
		ret = reply_error(ex, MHD_HTTP_BAD_REQUEST, NULL, field, "%s",
				  why);
		json_decref(root);
		return ret;
	}
	json_decref(root);
	if (!creq.stream) {
		root = completion_answer(&env, &creq, &ex->req->start, &status);
		return reply_json(ex, status, root, -1);
	}
	/* The status line and headers go out now, the tokens as they come */
	response = completion_stream_response(&env, &creq, &ex->req->start);
	if (!response)
		return MHD_NO;
	ret = MHD_queue_response(ex->conn, MHD_HTTP_OK, response);
	MHD_destroy_response(response);
	ex->req->answered = true;
	log_debug("%s %s: 200, streaming", ex->method,
		  routes[ex->req->route].path);
	return ret;
}

static enum MHD_Result on_body_done(struct exchange *ex)
{
	static const char healthy[] = "ok\n";
	char *text;

	if (ex->req->too_large)
		return reply_error(ex, MHD_HTTP_CONTENT_TOO_LARGE, NULL, NULL,
				   "the body is over the limit of %d bytes",
				   SERVER_MAX_BODY_BYTES);
	switch (ex->req->route) {
	case ROUTE_PREDICT:
		return handle_predict(ex);
	case ROUTE_HEALTHZ:
		text = strdup(healthy);
		return reply_text(ex, CONTENT_TYPE_TEXT, text,
				  text ? strlen(text) : 0);
	case ROUTE_METRICS:
		return handle_metrics(ex);
	case ROUTE_FAULTS:
		return handle_faults(ex);
	case ROUTE_COMPLETIONS:
		return handle_completion(ex, COMPLETION_TEXT);
	case ROUTE_CHAT_COMPLETIONS:
		return handle_completion(ex, COMPLETION_CHAT);
	default:
		/* on_headers() answered every other route already. */
		return MHD_NO;
	}
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_data_size, void **req_cls)
{
	struct exchange ex = {
	    .server = cls, .conn = conn, .req = *req_cls, .method = method};
	int err;

	(void)version;
	if (!ex.req) {
		ex.req = calloc(1, sizeof(*ex.req));
		/* Out of memory: closing this connection is all we can do. */
		if (!ex.req)
			return MHD_NO;
		clock_gettime(CLOCK_MONOTONIC, &ex.req->start);
		buf_init(&ex.req->body, SERVER_MAX_BODY_BYTES);
		ex.req->route = route_of(url);
		*req_cls = ex.req;
		return on_headers(&ex, url);
	}
	if (*upload_data_size > 0) {
		err = keep_body(ex.req, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return err ? MHD_NO : MHD_YES;
	}
	if (ex.req->answered)
		return MHD_YES;
	return on_body_done(&ex);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct request *req = *req_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (!req)
		return;
	buf_free(&req->body);
	free(req);
	*req_cls = NULL;
}

__attribute__((format(printf, 2, 0))) static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[SERVER_LOG_LINE_BYTES];
	int saved_errno = errno;
	size_t len;

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	len = strlen(line);
	while (len > 0 && line[len - 1] == '\n')
		line[--len] = '\0';
	log_warn("libmicrohttpd: %s", line);
	/* server_start() reads the errno MHD's failure left: keep it. */
	errno = saved_errno;
}

static uint16_t addr_port(const struct sockaddr_storage *addr)
{
	if (addr->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)addr)->sin6_port);
	return ntohs(((const struct sockaddr_in *)addr)->sin_port);
}

int server_start(const struct server_config *config, struct server **out)
{
	unsigned int flags = MHD_USE_AUTO_INTERNAL_THREAD |
			     MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG;
	pthread_condattr_t cond_attr;
	struct server *server;
	int err;

	*out = NULL;
	server = calloc(1, sizeof(*server));
	if (!server)
		return -ENOMEM;
	server->config = *config;
	pthread_mutex_init(&server->stop_lock, NULL);
	/* Delays are measured on the monotonic clock, like everything else. */
	pthread_condattr_init(&cond_attr);
	pthread_condattr_setclock(&cond_attr, CLOCK_MONOTONIC);
	pthread_cond_init(&server->stop_cond, &cond_attr);
	pthread_condattr_destroy(&cond_attr);

	if (config->addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* MHD binds to addr; the port argument only goes into its messages. */
	errno = 0;
	server->daemon = MHD_start_daemon(
	    flags, addr_port(&config->addr), NULL, NULL, on_request, server,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_SOCK_ADDR,
	    (const struct sockaddr *)&server->config.addr,
	    MHD_OPTION_CONNECTION_LIMIT, config->max_connections,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)SERVER_IDLE_TIMEOUT_S,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, server, MHD_OPTION_END);
	if (!server->daemon) {
		/* MHD gives no error code: errno is what its bind() left. */
		err = errno ? -errno : -EIO;
		pthread_cond_destroy(&server->stop_cond);
		pthread_mutex_destroy(&server->stop_lock);
		free(server);
		return err;
	}
	*out = server;
	return 0;
}

uint16_t server_port(const struct server *server)
{
	const union MHD_DaemonInfo *info =
	    MHD_get_daemon_info(server->daemon, MHD_DAEMON_INFO_BIND_PORT);

	return info ? info->port : 0;
}

void server_stop(struct server *server)
{
	if (!server)
		return;
	pthread_mutex_lock(&server->stop_lock);
	server->stopping = true;
	pthread_cond_broadcast(&server->stop_cond);
	pthread_mutex_unlock(&server->stop_lock);
	MHD_stop_daemon(server->daemon);
	pthread_cond_destroy(&server->stop_cond);
	pthread_mutex_destroy(&server->stop_lock);
	free(server);
}
