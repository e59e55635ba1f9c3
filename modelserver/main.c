/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * main.c - kanary-modelserver: the command line, training the model, and
 * running the server until SIGINT or SIGTERM.
 *
 * It is the backend that kanary's demo and end-to-end tests put behind the
 * canary: a real model behind a real HTTP server, with knobs to make it
 * fail, slow down or drift on purpose.
 */
#include "classifier.h"
#include "faults.h"
#include "util/log.h"
#include "util/opts.h"
#include "metrics.h"
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROGRAM_NAME		"kanary-modelserver"
#define DEFAULT_MAX_CONNECTIONS 256
/* Each connection is a thread: far beyond this, use a real server. */
#define MAX_MAX_CONNECTIONS 10000
#define MAX_PORT	    65535
#define ADDR_TEXT_BYTES	    64
#define NS_PER_MS	    1000000.0
#define MS_PER_S	    1000.0
#define WANT_SHARE	    "want a number from 0 to 1"

struct options {
	struct sockaddr_storage addr;
	socklen_t addr_len;
	bool have_listen;
	enum cls_version version;
	struct fault_knobs knobs;
	uint64_t seed;
	bool have_seed;
	unsigned int max_connections;
};

enum option_id {
	OPT_LISTEN = 256,
	OPT_MODEL,
	OPT_ERROR_RATE,
	OPT_LATENCY_MS,
	OPT_SKEW,
	OPT_SKEW_LABEL,
	OPT_SEED,
	OPT_MAX_CONNECTIONS,
	OPT_TTFT_MS,
	OPT_TOKEN_MS,
	OPT_TOKENS,
	OPT_STREAM_ERROR_RATE,
};

static const struct option long_options[] = {
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"model", required_argument, NULL, OPT_MODEL},
    {"error-rate", required_argument, NULL, OPT_ERROR_RATE},
    {"latency-ms", required_argument, NULL, OPT_LATENCY_MS},
    {"skew", required_argument, NULL, OPT_SKEW},
    {"skew-label", required_argument, NULL, OPT_SKEW_LABEL},
    {"seed", required_argument, NULL, OPT_SEED},
    {"max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS},
    {"ttft-ms", required_argument, NULL, OPT_TTFT_MS},
    {"token-ms", required_argument, NULL, OPT_TOKEN_MS},
    {"tokens", required_argument, NULL, OPT_TOKENS},
    {"stream-error-rate", required_argument, NULL, OPT_STREAM_ERROR_RATE},
    {"verbose", no_argument, NULL, 'v'},
    {NULL, 0, NULL, 0},
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: " PROGRAM_NAME " --listen ADDR:PORT [options]\n"
		"\n"
		"Serves kanary's sentiment model over HTTP:\n"
		"  POST /predict {\"text\": \"...\"}, GET /healthz,\n"
		"  GET /metrics, GET and PUT /admin/faults;\n"
		"  and OpenAI-style completions, streamed with\n"
		"  \"stream\": true: POST /v1/completions and\n"
		"  /v1/chat/completions\n"
		"\n"
		"  --listen ADDR:PORT   127.0.0.1:8080 or [::1]:8080;\n"
		"                       port 0: a free port, logged\n"
		"  --model v1|v2        the model version (default v1)\n"
		"  --error-rate F       share of /predict answered 500\n"
		"  --latency-ms N       delay of each /predict (0..%d)\n"
		"  --skew F             share of predictions replaced\n"
		"  --skew-label LABEL   by LABEL: positive, negative or\n"
		"                       neutral\n"
		"  --seed N             seed of the fault dice (default:\n"
		"                       from the clock)\n"
		"  --max-connections N  served at once (default %d)\n"
		"  --ttft-ms N          a completion's time to first\n"
		"                       token (0..%d)\n"
		"  --token-ms N         time between its tokens (0..%d)\n"
		"  --tokens N           tokens per completion (1..%d,\n"
		"                       default %d)\n"
		"  --stream-error-rate F  share of completions failing\n"
		"                       after half their tokens\n"
		"  -v, --verbose        log every request\n"
		"  -h, --help           this help\n"
		"\n"
		"The knobs change at run time with PUT /admin/faults.\n"
		"Bad flags exit with status 2; SIGINT or SIGTERM stop\n"
		"the server.\n",
		FAULTS_MAX_LATENCY_MS, DEFAULT_MAX_CONNECTIONS,
		FAULTS_MAX_LATENCY_MS, FAULTS_MAX_TOKEN_MS, FAULTS_MAX_TOKENS,
		FAULTS_DEFAULT_TOKENS);
}

/* "1.2.3.4:80" or "[::1]:80" into opts->addr. */
static int parse_listen(const struct opts_parser *p, const char *text,
			struct options *opts)
{
	static const char want[] =
	    "want ADDR:PORT with an IPv4 address or a [bracketed] IPv6 "
	    "address, and a port from 0 to 65535";
	struct sockaddr_in *sin = (struct sockaddr_in *)&opts->addr;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&opts->addr;
	char host[ADDR_TEXT_BYTES];
	const char *colon, *host_start = text;
	unsigned long long port;
	size_t host_len;
	char *end;

	colon = strrchr(text, ':');
	if (!colon)
		return opts_bad_value(p, OPT_LISTEN, text, want);
	host_len = (size_t)(colon - text);
	if (text[0] == '[') {
		if (host_len < 2 || text[host_len - 1] != ']')
			return opts_bad_value(p, OPT_LISTEN, text, want);
		host_start = text + 1;
		host_len -= 2;
	}
	if (host_len == 0 || host_len >= sizeof(host))
		return opts_bad_value(p, OPT_LISTEN, text, want);
	memcpy(host, host_start, host_len);
	host[host_len] = '\0';

	errno = 0;
	port = (colon[1] >= '0' && colon[1] <= '9')
		   ? strtoull(colon + 1, &end, 10)
		   : MAX_PORT + 1ULL;
	if (port > MAX_PORT || errno || *end)
		return opts_bad_value(p, OPT_LISTEN, text, want);

	memset(&opts->addr, 0, sizeof(opts->addr));
	if (text[0] != '[' && inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		opts->addr_len = sizeof(*sin);
	} else if (text[0] == '[' &&
		   inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		opts->addr_len = sizeof(*sin6);
	} else {
		return opts_bad_value(p, OPT_LISTEN, text, want);
	}
	opts->have_listen = true;
	return 0;
}

static int parse_option(const struct opts_parser *p, int id, const char *arg)
{
	struct options *opts = p->ctx;
	int ret;

	switch (id) {
	case 'v':
		log_set_verbose(true);
		return 0;
	case OPT_LISTEN:
		return parse_listen(p, arg, opts);
	case OPT_MODEL:
		ret = cls_version_parse(arg);
		if (ret < 0)
			return opts_bad_value(p, id, arg, "want v1 or v2");
		opts->version = (enum cls_version)ret;
		return 0;
	case OPT_ERROR_RATE:
		return opts_parse_double(p, id, arg, 0, false, 1, WANT_SHARE,
					 &opts->knobs.error_rate);
	case OPT_LATENCY_MS:
		return opts_parse_uint(p, id, arg, 0, FAULTS_MAX_LATENCY_MS,
				       &opts->knobs.latency_ms);
	case OPT_SKEW:
		return opts_parse_double(p, id, arg, 0, false, 1, WANT_SHARE,
					 &opts->knobs.skew);
	case OPT_SKEW_LABEL:
		ret = cls_label_parse(arg);
		if (ret < 0)
			return opts_bad_value(
			    p, id, arg, "want positive, negative or neutral");
		opts->knobs.skew_label = ret;
		return 0;
	case OPT_SEED:
		ret = opts_parse_u64(p, id, arg, 0, UINT64_MAX, &opts->seed);
		if (!ret)
			opts->have_seed = true;
		return ret;
	case OPT_MAX_CONNECTIONS:
		return opts_parse_uint(p, id, arg, 1, MAX_MAX_CONNECTIONS,
				       &opts->max_connections);
	case OPT_TTFT_MS:
		return opts_parse_uint(p, id, arg, 0, FAULTS_MAX_LATENCY_MS,
				       &opts->knobs.ttft_ms);
	case OPT_TOKEN_MS:
		return opts_parse_uint(p, id, arg, 0, FAULTS_MAX_TOKEN_MS,
				       &opts->knobs.token_ms);
	case OPT_TOKENS:
		return opts_parse_uint(p, id, arg, 1, FAULTS_MAX_TOKENS,
				       &opts->knobs.tokens);
	case OPT_STREAM_ERROR_RATE:
		return opts_parse_double(p, id, arg, 0, false, 1, WANT_SHARE,
					 &opts->knobs.stream_error_rate);
	default:
		return -EINVAL;
	}
}

/*
 * Fills opts from argv. Returns OPTS_RUN, OPTS_HELP when --help was
 * shown, or -EINVAL after saying what is wrong.
 */
static int parse_args(int argc, char **argv, struct options *opts)
{
	const struct opts_parser parser =
	    OPTS_PARSER(PROGRAM_NAME, long_options, parse_option, usage, opts);
	int ret;

	memset(opts, 0, sizeof(*opts));
	opts->version = CLS_VERSION_V1;
	opts->knobs.skew_label = FAULTS_NO_LABEL;
	opts->knobs.tokens = FAULTS_DEFAULT_TOKENS;
	opts->max_connections = DEFAULT_MAX_CONNECTIONS;

	ret = opts_parse(&parser, argc, argv);
	if (ret)
		return ret;
	if (!opts->have_listen)
		return opts_error(
		    &parser, "missing --listen ADDR:PORT (where to serve)");
	if (opts->knobs.skew > 0 && opts->knobs.skew_label == FAULTS_NO_LABEL)
		return opts_error(&parser,
				  "--skew %g needs --skew-label LABEL (the "
				  "label to skew towards)",
				  opts->knobs.skew);
	return OPTS_RUN;
}

static const char *addr_text(const struct sockaddr_storage *addr, char *buf,
			     size_t len)
{
	const void *ip =
	    addr->ss_family == AF_INET6
		? (const void *)&((const struct sockaddr_in6 *)addr)->sin6_addr
		: (const void *)&((const struct sockaddr_in *)addr)->sin_addr;

	if (!inet_ntop(addr->ss_family, ip, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

static uint16_t addr_port(const struct sockaddr_storage *addr)
{
	if (addr->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)addr)->sin6_port);
	return ntohs(((const struct sockaddr_in *)addr)->sin_port);
}

static double ms_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) * MS_PER_S +
	       (double)(now.tv_nsec - start->tv_nsec) / NS_PER_MS;
}

int main(int argc, char **argv)
{
	struct server_config config;
	struct cls_train_error train_err = {.corpus = "?", .line = 0};
	struct classifier *model = NULL;
	struct server *server = NULL;
	struct timespec started;
	struct options opts;
	struct faults faults;
	struct metrics metrics;
	char addr[ADDR_TEXT_BYTES];
	sigset_t stop_signals;
	int ret, sig;

	log_set_program(PROGRAM_NAME);
	ret = parse_args(argc, argv, &opts);
	if (ret == OPTS_HELP)
		return EXIT_SUCCESS;
	if (ret < 0)
		return OPTS_EXIT_USAGE;
	if (!opts.have_seed)
		opts.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);

	/* Train: a few milliseconds, so every start is from the corpus. */
	clock_gettime(CLOCK_MONOTONIC, &started);
	ret = classifier_train_version(opts.version, &model, &train_err);
	if (ret) {
		log_error("training model %s failed: %s (corpus %s, line %zu)",
			  cls_version_name(opts.version), strerror(-ret),
			  train_err.corpus, train_err.line);
		return EXIT_FAILURE;
	}
	log_info("model %s trained: %zu features in %.1f ms",
		 cls_version_name(opts.version),
		 classifier_feature_count(model), ms_since(&started));

	/*
	 * Signals are taken by sigwait() below: block them before any thread
	 * starts, so the server's threads inherit the mask.
	 */
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* jansson seeds its hash tables lazily: do it before the threads. */
	json_object_seed(0);
	faults_init(&faults, &opts.knobs, opts.seed);
	metrics_init(&metrics, cls_version_name(opts.version));
	config = (struct server_config){
	    .addr = opts.addr,
	    .addr_len = opts.addr_len,
	    .max_connections = opts.max_connections,
	    .model = model,
	    .version = opts.version,
	    .faults = &faults,
	    .metrics = &metrics,
	};
	ret = server_start(&config, &server);
	if (ret) {
		log_error("listening on %s port %u failed: %s",
			  addr_text(&opts.addr, addr, sizeof(addr)),
			  addr_port(&opts.addr), strerror(-ret));
		ret = EXIT_FAILURE;
		goto cleanup;
	}
	addr_text(&opts.addr, addr, sizeof(addr));
	log_info("listening on %s%s%s:%u: model %s, seed %llu, error_rate %g, "
		 "latency %u ms, skew %g to %s",
		 opts.addr.ss_family == AF_INET6 ? "[" : "", addr,
		 opts.addr.ss_family == AF_INET6 ? "]" : "",
		 server_port(server), cls_version_name(opts.version),
		 (unsigned long long)opts.seed, opts.knobs.error_rate,
		 opts.knobs.latency_ms, opts.knobs.skew,
		 opts.knobs.skew_label == FAULTS_NO_LABEL
		     ? "no label"
		     : cls_label_name((enum cls_label)opts.knobs.skew_label));

	if (sigwait(&stop_signals, &sig) != 0)
		sig = SIGTERM;
	log_info("stopping on %s", sig == SIGINT ? "SIGINT" : "SIGTERM");
	ret = EXIT_SUCCESS;
cleanup:
	server_stop(server);
	metrics_destroy(&metrics);
	faults_destroy(&faults);
	classifier_free(model);
	if (ret == EXIT_SUCCESS)
		log_info("stopped");
	return ret;
}
