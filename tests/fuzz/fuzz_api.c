// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * fuzz_api.c - libFuzzer target for kanaryd's HTTP API (kanaryd/api.c). Each
 * input is one request - method, target, Authorization, Content-Type,
 * Content-Length, Host, Origin and body - sent over a real loopback
 * connection to the API as kanaryd serves it: api_start() over a real agent
 * (agent_create) whose data path is loaded without attaching (no
 * interface), so that every route reaches the real agent_* call and, for
 * weights and backends, the real BPF maps. api.h offers no entry point below
 * the listening socket; this is the cheapest real path.
 *
 * Two servers share the agent: one with a bearer token, one without (which
 * must then insist on a loopback Host). Invariants checked per request:
 * every complete request is answered; a state change succeeds only with the
 * right token (or, without one, with a loopback Host) and an Origin naming
 * the server; every answer of the API's own is JSON; nothing answers 5xx.
 * After a successful state change the services are put back as configured,
 * so that each input starts from the same state and reproduces alone.
 *
 * Input: one flags byte (FUZZ_F_*), then FIELD_COUNT fields each ended by
 * a line feed (an empty field leaves its header out), then the body:
 *
 *	<flags>METHOD\nTARGET\nAUTHORIZATION\nCONTENT-TYPE\nCONTENT-LENGTH\n
 *	HOST\nORIGIN\nBODY...
 *
 * Every request sent is complete: a body shorter than its Content-Length is
 * padded with blanks (JSON whitespace), a chunked body always ends. A
 * request whose announced body never comes holds its connection until the
 * server's timeout (API_CONNECTION_TIMEOUT_S): that is a property of the
 * server, not of one input, and would stall every execution after it
 * (tests/fuzz/crashes/api_abandoned_bodies.sh shows it).
 *
 * Needs root (BPF) and bpffs, like kanaryd. Run it with -close_fd_mask=2:
 * the agent logs every state change; libFuzzer and the sanitizers keep
 * their reports, and invariant messages go to the sanitizers' report.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sanitizer/common_interface_defs.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "kanaryd/agent.h"
#include "kanaryd/api.h"
#include "config.h"
#include "util/buf.h"
#include "util/log.h"
#include "../lib/stale_pins.h"

#define FUZZ_TOKEN	"kanary-fuzz-token"
#define FUZZ_PIN_PREFIX "kanary-fuzz-api-"
#define FUZZ_PIN_ROOT	"/sys/fs/bpf"
/* A complete request unanswered after this long is a hang. */
#define FUZZ_ANSWER_TIMEOUT_S 10
#define FUZZ_RESPONSE_MAX     (4 * 1024 * 1024)
#define FUZZ_REQUEST_HEAD_MAX 16384
/* Far above any request libFuzzer's inputs make. */
#define FUZZ_REQUEST_MAX    (16 * 1024 * 1024)
#define FUZZ_MSG_LEN	    512
#define FUZZ_LOOPBACK_HOSTS 254
#define FUZZ_CHUNK_MAX	    7
/* Longest body a Content-Length may announce: beyond the API's limit, so
 * that the 413 answer is reached, and small enough to send quickly. */
#define FUZZ_ANNOUNCED_MAX (2 * API_MAX_BODY_BYTES)

enum fuzz_flags {
	FUZZ_F_NO_TOKEN = 1 << 0,    /* to the server without a token */
	FUZZ_F_CHUNKED = 1 << 1,     /* body as chunks, no Content-Length */
	FUZZ_F_AUTO_LENGTH = 1 << 2, /* no length field: the body's length */
	FUZZ_F_HTTP10 = 1 << 3,	     /* HTTP/1.0 */
	FUZZ_F_DRIBBLE = 1 << 4,     /* the request in many small writes */
};

enum field {
	FIELD_METHOD,
	FIELD_TARGET,
	FIELD_AUTHORIZATION,
	FIELD_CONTENT_TYPE,
	FIELD_CONTENT_LENGTH,
	FIELD_HOST,
	FIELD_ORIGIN,
	FIELD_COUNT,
};

/* Two services with both pools, one with a stable pool only, one UDP. */
static const char config_json[] =
    "{\"services\": ["
    "{\"name\": \"demo\", \"vip\": \"198.18.100.1:80\","
    " \"stable\": [\"198.18.1.1:8000\", \"198.18.1.2:8000\"],"
    " \"canary\": [\"198.18.2.1:8000\"],"
    " \"metrics\": {\"preset\": \"kanary-modelserver\"},"
    " \"rollout\": {\"steps\": [10, 25, 50, 100], \"interval\": \"10m\"}},"
    "{\"name\": \"solo\", \"vip\": \"198.18.100.1:81\","
    " \"stable\": [\"198.18.1.1:8000\"]},"
    "{\"name\": \"dns\", \"vip\": \"198.18.100.2:53\", \"protocol\": "
    "\"udp\", \"stable\": [\"198.18.1.3:53\"], \"canary\": "
    "[\"198.18.2.3:53\"], \"canary_percent\": 5}"
    "]}";

static struct {
	struct agent *agent;
	struct api_server *with_token, *without_token;
	struct agent_config cfg;
	char dir[64];
	bool dirty;
} fz;

static void fuzz_fail(const char *what, const char *detail)
{
	char msg[FUZZ_MSG_LEN];

	snprintf(msg, sizeof(msg), "fuzz_api: invariant broken: %s%s%s", what,
		 detail ? ": " : "", detail ? detail : "");
	/* stderr is closed under -close_fd_mask=2; the report fd is not. */
	__sanitizer_report_error_summary(msg);
	abort();
}

/* ---- setting up and tearing down ----------------------------------------- */

static void teardown(void)
{
	char path[sizeof(fz.dir) + 32];

	api_stop(fz.with_token);
	api_stop(fz.without_token);
	fz.with_token = fz.without_token = NULL;
	agent_destroy(fz.agent); /* removes the pins: nothing attached */
	fz.agent = NULL;
	config_free(&fz.cfg);
	if (fz.dir[0]) {
		snprintf(path, sizeof(path), "%s/state.json", fz.dir);
		unlink(path);
		rmdir(fz.dir);
	}
}

static void setup_or_die(void)
{
	struct agent_options opts = {0};
	char err[API_ERR_LEN];

	remove_stale_pin_dirs(FUZZ_PIN_ROOT, FUZZ_PIN_PREFIX, false);
	log_set_program("fuzz_api");
	snprintf(fz.dir, sizeof(fz.dir), "/tmp/kanary-fuzz-api-XXXXXX");
	if (!mkdtemp(fz.dir)) {
		perror("fuzz_api: mkdtemp");
		exit(1);
	}
	config_init(&fz.cfg);
	if (config_parse(config_json, strlen(config_json), "fuzz_api", &fz.cfg,
			 err, sizeof(err))) {
		fprintf(stderr, "fuzz_api: %s\n", err);
		exit(1);
	}
	snprintf(fz.cfg.pin_dir, sizeof(fz.cfg.pin_dir), "%s/%s%d",
		 FUZZ_PIN_ROOT, FUZZ_PIN_PREFIX, (int)getpid());
	snprintf(fz.cfg.state_file, sizeof(fz.cfg.state_file), "%s/state.json",
		 fz.dir);
	fz.cfg.max_flows = 4096;
	fz.cfg.max_services = 8;
	fz.cfg.max_backends = 64;
	if (agent_create(&fz.cfg, &opts, &fz.agent, err, sizeof(err))) {
		fprintf(stderr,
			"fuzz_api: cannot create the agent (needs root, BPF "
			"and bpffs): %s\n",
			err);
		exit(1);
	}
	if (api_start(fz.agent, "127.0.0.1:0", FUZZ_TOKEN, &fz.with_token, err,
		      sizeof(err)) ||
	    api_start(fz.agent, "127.0.0.1:0", NULL, &fz.without_token, err,
		      sizeof(err))) {
		fprintf(stderr, "fuzz_api: cannot start the API: %s\n", err);
		teardown();
		exit(1);
	}
	atexit(teardown);
}

/*
 * Back to the configured state: no rollout, weight as configured, the
 * configured backends. Done through the agent itself, only after a request
 * changed something (a backends change costs an RCU grace period).
 */
static void reset_state(void)
{
	size_t i;

	for (i = 0; i < fz.cfg.service_count; i++) {
		const struct dp_service_def *def = &fz.cfg.services[i].def;
		struct agent_error aerr;
		json_t *out = NULL;

		agent_rollout_abort(fz.agent, def->name, NULL, &aerr);
		agent_set_backends(fz.agent, def->name, def->stable,
				   def->stable_count, true, def->canary,
				   def->canary_count, true, &out, &aerr);
		json_decref(out);
		out = NULL;
		agent_set_weight(fz.agent, def->name, def->canary_bp, &out,
				 &aerr);
		json_decref(out);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* A server closing first must not kill the fuzzer. */
	signal(SIGPIPE, SIG_IGN);
	setup_or_die();
	reset_state();
	return 0;
}

/* ---- one request --------------------------------------------------------- */

struct request {
	unsigned flags;
	char field[FIELD_COUNT][FUZZ_REQUEST_HEAD_MAX / FIELD_COUNT];
	const uint8_t *body;
	size_t body_len;
};

/* Splits the input; header fields lose CR and LF, which would end them. */
static bool parse_input(const uint8_t *data, size_t size, struct request *r)
{
	size_t pos = 1, f;

	if (size < 1)
		return false;
	memset(r, 0, sizeof(*r));
	r->flags = data[0];
	for (f = 0; f < FIELD_COUNT; f++) {
		size_t n = 0;

		while (pos < size && data[pos] != '\n') {
			if (data[pos] != '\r' && data[pos] != '\0' &&
			    n + 1 < sizeof(r->field[f]))
				r->field[f][n++] = (char)data[pos];
			pos++;
		}
		if (pos < size)
			pos++; /* the line feed */
		/* libmicrohttpd trims header values: check what it sees. */
		while (n && (r->field[f][n - 1] == ' ' ||
			     r->field[f][n - 1] == '\t'))
			r->field[f][--n] = '\0';
		while (f != FIELD_METHOD && f != FIELD_TARGET &&
		       (r->field[f][0] == ' ' || r->field[f][0] == '\t'))
			memmove(r->field[f], r->field[f] + 1, n--);
	}
	r->body = data + pos;
	r->body_len = size - pos;
	return r->field[FIELD_METHOD][0] != '\0';
}

/* Requests and answers in lib/util/buf; out of memory ends the run. */
static void add_bytes(struct buf *b, const void *data, size_t len)
{
	if (buf_append(b, data, len) == -ENOMEM)
		abort();
}

static void __attribute__((format(printf, 2, 3)))
add_text(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = buf_vprintf(b, fmt, ap);
	va_end(ap);
	if (ret == -ENOMEM)
		abort();
}

static void header(struct buf *b, const char *name, const char *value)
{
	if (value[0])
		add_text(b, "%s: %s\r\n", name, value);
}

/*
 * The length a Content-Length field announces, as libmicrohttpd reads it
 * (decimal digits only; anything else it refuses with 400 by itself), or
 * -1 for a field that is not a plain number.
 */
static long long announced(const char *field)
{
	long long v = 0;
	size_t i;

	if (!field[0] || strspn(field, "0123456789") != strlen(field))
		return -1;
	for (i = 0; field[i]; i++) {
		v = v * 10 + (field[i] - '0');
		if (v > FUZZ_ANNOUNCED_MAX)
			return FUZZ_ANNOUNCED_MAX + 1;
	}
	return v;
}

/* The bytes on the wire, or false when the request could not be complete
 * (it announces more than FUZZ_ANNOUNCED_MAX bytes). */
static bool build_request(const struct request *r, struct buf *out)
{
	bool chunked = r->flags & FUZZ_F_CHUNKED;
	long long length = announced(r->field[FIELD_CONTENT_LENGTH]);
	size_t off, n;

	if (!chunked && length > FUZZ_ANNOUNCED_MAX)
		return false;
	add_text(out, "%s %s HTTP/1.%c\r\n", r->field[FIELD_METHOD],
		 r->field[FIELD_TARGET][0] ? r->field[FIELD_TARGET] : "/",
		 r->flags & FUZZ_F_HTTP10 ? '0' : '1');
	header(out, "Host", r->field[FIELD_HOST]);
	header(out, "Authorization", r->field[FIELD_AUTHORIZATION]);
	header(out, "Content-Type", r->field[FIELD_CONTENT_TYPE]);
	header(out, "Origin", r->field[FIELD_ORIGIN]);
	if (chunked) {
		/* Both would leave the body's end in doubt. */
		add_text(out, "Transfer-Encoding: chunked\r\n");
	} else if (r->field[FIELD_CONTENT_LENGTH][0]) {
		header(out, "Content-Length", r->field[FIELD_CONTENT_LENGTH]);
	} else if (r->flags & FUZZ_F_AUTO_LENGTH) {
		add_text(out, "Content-Length: %zu\r\n", r->body_len);
		length = (long long)r->body_len;
	}
	add_text(out, "Connection: close\r\n\r\n");
	if (!chunked) {
		add_bytes(out, r->body, r->body_len);
		while (length > 0 && (size_t)length > r->body_len) {
			add_bytes(out, " ", 1);
			length--;
		}
		return true;
	}
	/* Chunks of 1..FUZZ_CHUNK_MAX bytes, sized by the body itself. */
	for (off = 0; off < r->body_len; off += n) {
		n = 1 + r->body[off] % FUZZ_CHUNK_MAX;
		if (n > r->body_len - off)
			n = r->body_len - off;
		add_text(out, "%zx\r\n", n);
		add_bytes(out, r->body + off, n);
		add_text(out, "\r\n");
	}
	add_text(out, "0\r\n\r\n");
	return true;
}

/*
 * libFuzzer's -timeout runs on a periodic SIGALRM, which interrupts blocking
 * socket calls (EINTR): each call below resumes until its deadline.
 */
static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int connect_to(unsigned int port)
{
	struct sockaddr_in src = {.sin_family = AF_INET};
	struct sockaddr_in dst = {.sin_family = AF_INET};
	struct timeval tv = {.tv_sec = 1};
	static unsigned next_host;
	int one = 1, fd, err = 0;
	socklen_t len = sizeof(err);
	struct pollfd pfd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* Sources spread over 127.0.0.0/8: closed connections linger in
	 * TIME_WAIT, and one source address would run out of ports. */
	src.sin_addr.s_addr = htonl((IN_LOOPBACKNET << 24) |
				    (1 + next_host++ % FUZZ_LOOPBACK_HOSTS));
	dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	dst.sin_port = htons((uint16_t)port);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* Short waits: the loops below keep the real deadline. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)))
		goto fail;
	if (!connect(fd, (struct sockaddr *)&dst, sizeof(dst)))
		return fd;
	if (errno != EINTR && errno != EINPROGRESS)
		goto fail;
	/* Interrupted: the handshake goes on; wait for its outcome. */
	pfd.fd = fd;
	pfd.events = POLLOUT;
	while (poll(&pfd, 1, FUZZ_ANSWER_TIMEOUT_S * 1000) < 0)
		if (errno != EINTR)
			goto fail;
	if (!getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) && !err &&
	    (pfd.revents & POLLOUT))
		return fd;
	errno = err ? err : ETIMEDOUT;
fail:
	close(fd);
	return -1;
}

static bool send_all(int fd, const char *data, size_t len, bool dribble)
{
	double deadline = now_s() + FUZZ_ANSWER_TIMEOUT_S;
	size_t off = 0;

	while (off < len) {
		size_t n = dribble ? 1 + (off * 7) % 13 : len - off;
		ssize_t w;

		if (n > len - off)
			n = len - off;
		w = send(fd, data + off, n, MSG_NOSIGNAL);
		if (w < 0 && (errno == EINTR || errno == EAGAIN) &&
		    now_s() < deadline)
			continue;
		if (w <= 0)
			return false; /* the server may close early: fine */
		off += (size_t)w;
	}
	return true;
}

/* Reads until the server closes; false when it does not in time. */
static bool read_all(int fd, struct buf *in)
{
	double deadline = now_s() + FUZZ_ANSWER_TIMEOUT_S;
	char chunk[16384];

	for (;;) {
		ssize_t n = recv(fd, chunk, sizeof(chunk), 0);

		if (n == 0)
			return true;
		if (n < 0 && errno == ECONNRESET)
			return true;
		if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
			if (now_s() >= deadline)
				return false;
			continue;
		}
		if (n < 0)
			return false;
		/* A chunk past FUZZ_RESPONSE_MAX is left out (-E2BIG). */
		add_bytes(in, chunk, (size_t)n);
	}
}

struct response {
	unsigned status;
	bool json;
	const char *body;
	size_t body_len;
};

static bool parse_response(const struct buf *in, struct response *r)
{
	const char *end;
	const char *ct;

	memset(r, 0, sizeof(r[0]));
	if (in->len < 12 || strncmp(in->data, "HTTP/1.", 7) ||
	    sscanf(in->data + 9, "%3u", &r->status) != 1)
		return false;
	end = memmem(in->data, in->len, "\r\n\r\n", 4);
	if (!end)
		return false;
	r->body = end + 4;
	r->body_len = in->len - (size_t)(r->body - in->data);
	ct = memmem(in->data, (size_t)(end - in->data),
		    "\r\nContent-Type: application/json", 32);
	r->json = ct != NULL;
	return true;
}

/* ---- what must hold ------------------------------------------------------ */

static bool is_mutating(const char *method)
{
	return strcmp(method, "GET") && strcmp(method, "HEAD");
}

/* The header as api.c reads it: "Bearer" in any case, spaces, the token. */
static bool carries_token(const char *auth)
{
	const char *t;

	if (strncasecmp(auth, "Bearer ", strlen("Bearer ")))
		return false;
	t = auth + strlen("Bearer ");
	while (*t == ' ')
		t++;
	return !strcmp(t, FUZZ_TOKEN);
}

static bool host_is_loopback_name(const char *host)
{
	char name[256];
	size_t n = 0;
	struct in_addr a;

	if (host[0] == '[')
		return !strncmp(host, "[::1]", 5);
	while (host[n] && host[n] != ':' && n + 1 < sizeof(name)) {
		name[n] = host[n];
		n++;
	}
	name[n] = '\0';
	return !strcasecmp(name, "localhost") ||
	       (inet_pton(AF_INET, name, &a) == 1 &&
		(ntohl(a.s_addr) >> 24) == IN_LOOPBACKNET);
}

static void check_answer(const struct request *r, const struct response *a)
{
	const char *method = r->field[FIELD_METHOD];
	const char *origin = r->field[FIELD_ORIGIN];
	char detail[FUZZ_MSG_LEN];

	snprintf(detail, sizeof(detail), "%s %s -> %u", method,
		 r->field[FIELD_TARGET], a->status);
	if (a->status >= 500)
		fuzz_fail("a server error", detail);
	if (a->status >= 200 && a->status < 300 && is_mutating(method)) {
		if (!(r->flags & FUZZ_F_NO_TOKEN) &&
		    !carries_token(r->field[FIELD_AUTHORIZATION]))
			fuzz_fail("a state change without the token", detail);
		if ((r->flags & FUZZ_F_NO_TOKEN) && r->field[FIELD_HOST][0] &&
		    !host_is_loopback_name(r->field[FIELD_HOST]))
			fuzz_fail("a tokenless state change through a "
				  "non-loopback Host",
				  detail);
		if (origin[0] && (!strstr(origin, "://") ||
				  strcasecmp(strstr(origin, "://") + 3,
					     r->field[FIELD_HOST])))
			fuzz_fail("a state change from a foreign Origin",
				  detail);
		fz.dirty = true;
	}
	/* Everything api.c answers itself is JSON. */
	if (a->json && a->body_len && strcmp(method, "HEAD")) {
		json_error_t jerr;
		json_t *v = json_loadb(a->body, a->body_len, 0, &jerr);

		if (!v)
			fuzz_fail("an answer that is not JSON", detail);
		if (a->status >= 400 &&
		    !json_is_string(json_object_get(v, "error")))
			fuzz_fail("an error without \"error\"", detail);
		json_decref(v);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct request r;
	struct buf req, in;
	struct response a;
	bool answered;
	unsigned int port;
	int fd;

	buf_init(&req, FUZZ_REQUEST_MAX);
	buf_init(&in, FUZZ_RESPONSE_MAX);
	if (!parse_input(data, size, &r) || !build_request(&r, &req)) {
		buf_free(&req);
		return 0;
	}
	port = api_port(r.flags & FUZZ_F_NO_TOKEN ? fz.without_token
						  : fz.with_token);
	fd = connect_to(port);
	if (fd < 0)
		fuzz_fail("cannot connect to the API", strerror(errno));
	send_all(fd, req.data, req.len, r.flags & FUZZ_F_DRIBBLE);
	answered = read_all(fd, &in);
	close(fd);
	if (!answered)
		fuzz_fail("a complete request got no answer in time",
			  r.field[FIELD_TARGET]);
	if (parse_response(&in, &a))
		check_answer(&r, &a);
	buf_free(&req);
	buf_free(&in);
	if (fz.dirty) {
		reset_state();
		fz.dirty = false;
	}
	return 0;
}
