/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * fuzz_server.h - what kanaryd's HTTP fuzz targets share (fuzz_api.c,
 * fuzz_http.c): a real agent (agent_create) whose data path is loaded
 * without attaching, two API servers over it (api_start: one with the
 * bearer token FUZZ_TOKEN, one without), putting the services back as
 * configured after a state change, and loopback connections that send and
 * read under deadlines. Included once by each target, which defines
 * FUZZ_NAME ("fuzz_api") and FUZZ_PIN_PREFIX first; it also defines
 * LLVMFuzzerInitialize(), which starts the server.
 */
#ifndef KANARY_FUZZ_SERVER_H
#define KANARY_FUZZ_SERVER_H

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sanitizer/common_interface_defs.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

#define FUZZ_TOKEN    "kanary-fuzz-token"
#define FUZZ_PIN_ROOT "/sys/fs/bpf"
/* A complete request unanswered after this long is a hang. */
#define FUZZ_ANSWER_TIMEOUT_S 10
#define FUZZ_RESPONSE_MAX     (4 * 1024 * 1024)
#define FUZZ_REQUEST_HEAD_MAX 16384
#define FUZZ_MSG_LEN	      512
#define FUZZ_LOOPBACK_HOSTS   254

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

	snprintf(msg, sizeof(msg), FUZZ_NAME ": invariant broken: %s%s%s", what,
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
	log_set_program(FUZZ_NAME);
	snprintf(fz.dir, sizeof(fz.dir), "/tmp/kanary-" FUZZ_NAME "-XXXXXX");
	if (!mkdtemp(fz.dir)) {
		perror(FUZZ_NAME ": mkdtemp");
		exit(1);
	}
	config_init(&fz.cfg);
	if (config_parse(config_json, strlen(config_json), FUZZ_NAME, &fz.cfg,
			 err, sizeof(err))) {
		fprintf(stderr, FUZZ_NAME ": %s\n", err);
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
			FUZZ_NAME ": cannot create the agent (needs root, BPF "
				  "and bpffs): %s\n",
			err);
		exit(1);
	}
	if (api_start(fz.agent, "127.0.0.1:0", FUZZ_TOKEN, &fz.with_token, err,
		      sizeof(err)) ||
	    api_start(fz.agent, "127.0.0.1:0", NULL, &fz.without_token, err,
		      sizeof(err))) {
		fprintf(stderr, FUZZ_NAME ": cannot start the API: %s\n", err);
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

static void fuzz_server_init(void)
{
	/* A server closing first must not kill the fuzzer. */
	signal(SIGPIPE, SIG_IGN);
	setup_or_die();
	reset_state();
}

/* libFuzzer's start-up hook: every target serves the same kanaryd. */
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_server_init();
	return 0;
}

/* ---- bytes and connections ---------------------------------------------- */

/* Requests and answers in lib/util/buf; out of memory ends the run. */
static void add_bytes(struct buf *b, const void *data, size_t len)
{
	if (buf_append(b, data, len) == -ENOMEM)
		abort();
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
		/* Past FUZZ_RESPONSE_MAX (the buffer's limit) the rest is
		 * read and dropped. */
		if (in->len + (size_t)n <= FUZZ_RESPONSE_MAX)
			add_bytes(in, chunk, (size_t)n);
	}
}

#endif /* KANARY_FUZZ_SERVER_H */
