/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * main.c - the kanary agent's program: reads flags and the config file,
 * attaches the data path to the node interface, serves the HTTP API and
 * runs the control loop until SIGINT or SIGTERM; then detaches, unless
 * --keep-attached leaves the data path running for a later kanaryd. Every
 * check that can refuse the start runs before anything is attached.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "api.h"
#include "config.h"
#include "heap.h"
#include "util/log.h"
#include "util/netaddr.h"
#include "util/opts.h"
#include "util/text.h"
#include "privileges.h"
#include "util/version.h"

#define EXIT_USAGE OPTS_EXIT_USAGE

enum long_only {
	OPT_MODE = 1000,
	OPT_PIN_DIR,
	OPT_SERVICE,
	OPT_STABLE,
	OPT_CANARY,
	OPT_WEIGHT,
	OPT_NAME,
	OPT_UDP,
	OPT_KEEP_ATTACHED,
	OPT_REMOVE,
	OPT_LISTEN,
	OPT_TOKEN_FILE,
	OPT_STATE_FILE,
	OPT_MAX_FLOWS,
	OPT_MAX_BACKENDS,
	OPT_MAX_SERVICES,
	OPT_ALLOW_LOCAL_BACKENDS,
	OPT_METRICS_PRESET,
	OPT_NO_HTTP,
	OPT_AFFINITY,
	OPT_VERSION,
	OPT_CHECK_CONFIG,
	OPT_TAKEOVER,
	OPT_NO_REATTACH,
	OPT_CLUSTER,
	OPT_NODE,
	OPT_FORWARD,
};

static const struct option long_options[] = {
    {"iface", required_argument, NULL, 'i'},
    {"config", required_argument, NULL, 'c'},
    {"mode", required_argument, NULL, OPT_MODE},
    {"pin-dir", required_argument, NULL, OPT_PIN_DIR},
    {"service", required_argument, NULL, OPT_SERVICE},
    {"stable", required_argument, NULL, OPT_STABLE},
    {"canary", required_argument, NULL, OPT_CANARY},
    {"weight", required_argument, NULL, OPT_WEIGHT},
    {"name", required_argument, NULL, OPT_NAME},
    {"udp", no_argument, NULL, OPT_UDP},
    {"no-http", no_argument, NULL, OPT_NO_HTTP},
    {"affinity", required_argument, NULL, OPT_AFFINITY},
    {"metrics-preset", required_argument, NULL, OPT_METRICS_PRESET},
    {"keep-attached", no_argument, NULL, OPT_KEEP_ATTACHED},
    {"remove", no_argument, NULL, OPT_REMOVE},
    {"takeover", no_argument, NULL, OPT_TAKEOVER},
    {"no-reattach", no_argument, NULL, OPT_NO_REATTACH},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"token-file", required_argument, NULL, OPT_TOKEN_FILE},
    {"state-file", required_argument, NULL, OPT_STATE_FILE},
    {"max-flows", required_argument, NULL, OPT_MAX_FLOWS},
    {"max-backends", required_argument, NULL, OPT_MAX_BACKENDS},
    {"max-services", required_argument, NULL, OPT_MAX_SERVICES},
    {"allow-local-backends", no_argument, NULL, OPT_ALLOW_LOCAL_BACKENDS},
    {"verbose", no_argument, NULL, 'v'},
    {"version", no_argument, NULL, OPT_VERSION},
    {"check-config", required_argument, NULL, OPT_CHECK_CONFIG},
    {"cluster", required_argument, NULL, OPT_CLUSTER},
    {"node", required_argument, NULL, OPT_NODE},
    {"forward", required_argument, NULL, OPT_FORWARD},
    {NULL, 0, NULL, 0},
};

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: kanaryd --iface IF --config FILE [options]\n"
	    "       kanaryd --iface IF --service VIP:PORT --stable "
	    "IP:PORT[,...]\n"
	    "               [--canary IP:PORT[,...]] [--weight PERCENT] "
	    "[options]\n"
	    "       kanaryd --iface IF --remove [--pin-dir DIR]\n"
	    "\n"
	    "Steers new connections for model services between a stable and\n"
	    "a canary pool in the kernel, and rolls canaries out or back.\n"
	    "\n"
	    "Data path:\n"
	    "  -i, --iface IF          node interface that sees client "
	    "traffic\n"
	    "      --mode MODE         xdp (native), xdp-generic, tc; "
	    "default:\n"
	    "                          native XDP, else tc (logged)\n"
	    "      --forward MODE      stack (default) or redirect: steered\n"
	    "                          packets leave by bpf_fib_lookup and\n"
	    "                          a redirect, skipping netfilter\n"
	    "                          (docs/forwarding.md)\n"
	    "      --pin-dir DIR       maps pinned here (default "
	    "/sys/fs/bpf/kanary)\n"
	    "      --max-flows N       connection table size (default "
	    "1048576)\n"
	    "      --max-backends N    backend counter slots (default 4096)\n"
	    "      --max-services N    service slots (default 1024)\n"
	    "      --keep-attached     on exit, leave the data path running\n"
	    "      --remove            detach and unpin a data path left "
	    "running\n"
	    "                          (only what --pin-dir's data path "
	    "owns)\n"
	    "      --takeover          replace the programs another kanaryd\n"
	    "                          or anything else attached to IF\n"
	    "      --no-reattach       when the programs are replaced or\n"
	    "                          removed, report it but do not attach\n"
	    "                          them again\n"
	    "One service from flags:\n"
	    "      --service VIP:PORT  the service's virtual IP and port\n"
	    "                          (IPv6 in brackets: [2001:2::1]:8000)\n"
	    "      --stable LIST       stable backends, IP:PORT[,IP:PORT...]\n"
	    "      --canary LIST       canary backends\n"
	    "      --weight PERCENT    canary share, 0-100, two decimals "
	    "(default 0)\n"
	    "      --name NAME         service name (default: default)\n"
	    "      --udp               the service is UDP (default TCP)\n"
	    "      --no-http           do not observe HTTP/1.x in the kernel\n"
	    "      --affinity MODE     client (default: a client keeps its\n"
	    "                          version) or connection (each "
	    "connection\n"
	    "                          draws it: for few clients, a gateway)\n"
	    "      --metrics-preset P  scrape backends' /metrics with preset "
	    "P\n"
	    "      --allow-local-backends  loopback backends (127.0.0.0/8) "
	    "are\n"
	    "                          meant: model servers on this node\n"
	    "Or many services:\n"
	    "  -c, --config FILE       JSON config (docs/config.md)\n"
	    "Control:\n"
	    "      --listen ADDR:PORT  HTTP API (default 127.0.0.1:9090; "
	    "IPv6 as\n"
	    "                          [ADDR]:PORT, like [::1]:9090)\n"
	    "      --token-file FILE   bearer token for changes (required off\n"
	    "                          loopback)\n"
	    "      --state-file FILE   rollout state (default\n"
	    "                          /var/lib/kanary/<pin-dir name>.json)\n"
	    "Cluster mode (docs/cluster.md):\n"
	    "      --cluster URLS      etcd endpoints, "
	    "http://HOST:PORT[,...]: one\n"
	    "                          rollout across every node\n"
	    "      --node NAME         this node's name in the cluster\n"
	    "  -v, --verbose           debug logs, including libbpf's\n"
	    "      --check-config FILE check FILE with the other flags as a "
	    "start\n"
	    "                          would, attach nothing, exit (0: good)\n"
	    "  -h, --help              this help\n"
	    "      --version           print the version\n");
}

static struct agent *running_agent;

static void on_signal(int sig)
{
	(void)sig;
	if (running_agent)
		agent_stop(running_agent);
}

struct flags {
	const char *config_file;
	const char *iface;
	const char *mode;
	const char *pin_dir;
	const char *service;
	const char *stable;
	const char *canary;
	const char *weight;
	const char *name;
	const char *metrics_preset;
	const char *affinity;
	const char *listen;
	const char *token_file;
	const char *state_file;
	const char *max_flows;
	const char *max_backends;
	const char *max_services;
	const char *check_config; /* the file to check; nothing starts */
	const char *cluster;	  /* etcd endpoints */
	const char *node;
	const char *forward;
	bool udp;
	bool allow_local_backends;
	bool no_http;
	bool keep_attached;
	bool remove;
	bool takeover;
	bool no_reattach;
	bool verbose;
};

static int usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "kanaryd: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	/* The same ending as lib/util/opts' messages. */
	fprintf(stderr, "\nTry 'kanaryd --help'.\n");
	return EXIT_USAGE;
}

static int parse_count(const char *flag, const char *text, uint32_t min,
		       uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || *end || end == text || text[0] == '-' || v < min ||
	    v > max)
		return usage_error("%s '%s': expected a whole number %u-%u",
				   flag, text, min, max);
	*out = (uint32_t)v;
	return 0;
}

/* The flag that gave a service's field, for a service built from flags
 * ("services[0].canary[1]" -> "--canary"). */
static const char *flag_of_field(const char *field)
{
	static const struct {
		const char *field;
		const char *flag;
	} flags_of_fields[] = {
	    {".stable", "--stable"},
	    {".canary", "--canary"},
	    {".vip", "--service"},
	    {".name", "--name"},
	};
	size_t i;

	for (i = 0; i < sizeof(flags_of_fields) / sizeof(flags_of_fields[0]);
	     i++)
		if (strstr(field, flags_of_fields[i].field))
			return flags_of_fields[i].flag;
	return field;
}

/* One service from --service/--stable/--canary/--weight. */
static int service_from_flags(const struct flags *f, struct agent_config *cfg)
{
	struct service_config *svc = config_add_service(cfg);
	char err[NETADDR_ERR_LEN];
	size_t n;

	if (!svc)
		return usage_error("out of memory");
	snprintf(svc->def.name, sizeof(svc->def.name), "%s",
		 f->name ? f->name : "default");
	if (f->name && config_check_service_name(f->name, err, sizeof(err)))
		return usage_error("--name: %s", err);
	if (netaddr_parse_endpoint(f->service, &svc->def.vip, err, sizeof(err)))
		return usage_error("--service: %s", err);
	if (!f->stable)
		return usage_error("--service needs --stable IP:PORT[,...]");
	if (netaddr_parse_endpoint_list(f->stable, svc->def.stable,
					KN_MAX_POOL_BACKENDS, &n, err,
					sizeof(err)))
		return usage_error("--stable: %s", err);
	svc->def.stable_count = (uint32_t)n;
	if (f->canary) {
		if (netaddr_parse_endpoint_list(f->canary, svc->def.canary,
						KN_MAX_POOL_BACKENDS, &n, err,
						sizeof(err)))
			return usage_error("--canary: %s", err);
		svc->def.canary_count = (uint32_t)n;
	}
	if (f->weight && netaddr_parse_percent_bp(
			     f->weight, &svc->def.canary_bp, err, sizeof(err)))
		return usage_error("--weight: %s", err);
	if (svc->def.canary_bp && !svc->def.canary_count)
		return usage_error("--weight %s needs --canary backends",
				   f->weight);
	svc->def.proto = f->udp ? IPPROTO_UDP : IPPROTO_TCP;
	svc->def.flags = f->udp || f->no_http ? 0 : KN_SVC_F_HTTP;
	if (f->affinity) {
		bool connection;

		if (affinity_parse(f->affinity, &connection))
			return usage_error("--affinity '%s': %s", f->affinity,
					   AFFINITY_EXPECTED);
		if (connection)
			svc->def.flags |= KN_SVC_F_CONNECTION_AFFINITY;
	}
	svc->allow_local_backends = f->allow_local_backends;
	if (f->metrics_preset) {
		if (metric_spec_preset(f->metrics_preset, &svc->metrics)) {
			char known[256] = "";
			size_t i, used = 0;
			const char *p;

			for (i = 0; (p = metric_preset_name(i)); i++)
				used += (size_t)snprintf(
				    known + used, sizeof(known) - used, "%s%s",
				    i ? ", " : "", p);
			return usage_error("--metrics-preset '%s': unknown "
					   "preset (known: %s)",
					   f->metrics_preset, known);
		}
		svc->has_metrics = true;
	}
	return 0;
}

/* --cluster and --node over the file's "cluster" (the flags win). */
static int cluster_from_flags(const struct flags *f, struct agent_config *cfg)
{
	char why[CONFIG_ERR_LEN], field[CONFIG_FIELD_LEN];

	if (f->cluster) {
		cfg->cluster.etcd_count = 0;
		if (config_cluster_endpoints(f->cluster, &cfg->cluster, why,
					     sizeof(why)))
			return usage_error("--cluster: %s", why);
	}
	if (f->node)
		snprintf(cfg->cluster.node, sizeof(cfg->cluster.node), "%s",
			 f->node);
	if (f->node && !cfg->cluster.enabled)
		return usage_error("--node NAME is for cluster mode: give the "
				   "etcd endpoints with --cluster too");
	if (config_check_cluster(&cfg->cluster, field, sizeof(field), why,
				 sizeof(why)))
		return usage_error("--%s: %s", field, why);
	return 0;
}

static int build_config(const struct flags *f, struct agent_config *cfg)
{
	char err[CONFIG_ERR_LEN], field[CONFIG_FIELD_LEN];
	int ret;

	if (f->config_file) {
		ret = config_load_file(f->config_file, cfg, err, sizeof(err));
		if (ret) {
			fprintf(stderr, "kanaryd: %s\n", err);
			return 1;
		}
	}
	if (f->iface)
		snprintf(cfg->iface, sizeof(cfg->iface), "%s", f->iface);
	if (strlen(f->iface ? f->iface : cfg->iface) >= IF_NAMESIZE)
		return usage_error("--iface '%s': interface names have at most "
				   "%d characters",
				   f->iface, IF_NAMESIZE - 1);
	if (f->mode && dp_parse_mode(f->mode, &cfg->mode))
		return usage_error(
		    "--mode '%s': expected xdp, xdp-generic or tc", f->mode);
	if (f->forward && dp_parse_forward(f->forward, &cfg->forward))
		return usage_error("--forward '%s': expected stack or redirect",
				   f->forward);
	if (f->pin_dir)
		snprintf(cfg->pin_dir, sizeof(cfg->pin_dir), "%s", f->pin_dir);
	if (f->listen)
		snprintf(cfg->listen, sizeof(cfg->listen), "%s", f->listen);
	if (f->token_file)
		snprintf(cfg->token_file, sizeof(cfg->token_file), "%s",
			 f->token_file);
	if (f->state_file)
		snprintf(cfg->state_file, sizeof(cfg->state_file), "%s",
			 f->state_file);
	if (f->max_flows && parse_count("--max-flows", f->max_flows, 1024,
					1U << 28, &cfg->max_flows))
		return EXIT_USAGE;
	if (f->max_backends && parse_count("--max-backends", f->max_backends, 2,
					   1U << 20, &cfg->max_backends))
		return EXIT_USAGE;
	if (f->max_services && parse_count("--max-services", f->max_services, 1,
					   KN_MAX_SERVICES, &cfg->max_services))
		return EXIT_USAGE;
	if (!cfg->iface[0])
		return usage_error(
		    "--iface IF is required (or \"interface\" in "
		    "the config file)");
	if (f->service) {
		ret = service_from_flags(f, cfg);
		if (ret)
			return ret;
	}
	ret = cluster_from_flags(f, cfg);
	if (ret)
		return ret;
	/* Again after the flags: they may bring a service or lower a
	 * limit. The same checks as the file's, so a start and
	 * --check-config agree. */
	if (config_validate(cfg, field, sizeof(field), err, sizeof(err))) {
		if (f->service)
			return usage_error("%s: %s", flag_of_field(field), err);
		fprintf(stderr, "kanaryd: %s: %s: %s\n", f->config_file, field,
			err);
		return 1;
	}
	return 0;
}

/* One flag into f (ctx); --version ends the run. */
static int on_flag(const struct opts_parser *p, int id, const char *arg)
{
	struct flags *f = p->ctx;
	char why[TEXT_ERR_LEN];

	/* Every value ends up in a path, a request or a log line. */
	if (arg &&
	    text_refuse_control(arg, strlen(arg), false, why, sizeof(why)))
		return opts_error(p, "--%s: the value %s",
				  opts_flag_name(p, id), why);
	switch (id) {
	case 'i':
		f->iface = arg;
		return 0;
	case 'c':
		f->config_file = arg;
		return 0;
	case 'v':
		f->verbose = true;
		return 0;
	case OPT_VERSION:
		printf("kanaryd %s\n", KANARY_VERSION);
		exit(0);
	case OPT_CHECK_CONFIG:
		f->check_config = arg;
		return 0;
	case OPT_MODE:
		f->mode = arg;
		return 0;
	case OPT_FORWARD:
		f->forward = arg;
		return 0;
	case OPT_PIN_DIR:
		f->pin_dir = arg;
		return 0;
	case OPT_SERVICE:
		f->service = arg;
		return 0;
	case OPT_STABLE:
		f->stable = arg;
		return 0;
	case OPT_CANARY:
		f->canary = arg;
		return 0;
	case OPT_WEIGHT:
		f->weight = arg;
		return 0;
	case OPT_NAME:
		f->name = arg;
		return 0;
	case OPT_UDP:
		f->udp = true;
		return 0;
	case OPT_NO_HTTP:
		f->no_http = true;
		return 0;
	case OPT_AFFINITY:
		f->affinity = arg;
		return 0;
	case OPT_METRICS_PRESET:
		f->metrics_preset = arg;
		return 0;
	case OPT_KEEP_ATTACHED:
		f->keep_attached = true;
		return 0;
	case OPT_REMOVE:
		f->remove = true;
		return 0;
	case OPT_TAKEOVER:
		f->takeover = true;
		return 0;
	case OPT_NO_REATTACH:
		f->no_reattach = true;
		return 0;
	case OPT_CLUSTER:
		f->cluster = arg;
		return 0;
	case OPT_NODE:
		f->node = arg;
		return 0;
	case OPT_LISTEN:
		f->listen = arg;
		return 0;
	case OPT_TOKEN_FILE:
		f->token_file = arg;
		return 0;
	case OPT_STATE_FILE:
		f->state_file = arg;
		return 0;
	case OPT_MAX_FLOWS:
		f->max_flows = arg;
		return 0;
	case OPT_MAX_BACKENDS:
		f->max_backends = arg;
		return 0;
	case OPT_MAX_SERVICES:
		f->max_services = arg;
		return 0;
	case OPT_ALLOW_LOCAL_BACKENDS:
		f->allow_local_backends = true;
		return 0;
	default:
		return -EINVAL;
	}
}

static int parse_flags(int argc, char **argv, struct flags *f)
{
	const struct opts_parser p =
	    OPTS_PARSER("kanaryd", long_options, on_flag, usage, f);
	int ret = opts_parse(&p, argc, argv);

	if (ret == OPTS_HELP)
		exit(0);
	if (ret)
		return EXIT_USAGE;
	if (f->check_config) {
		if (f->config_file || f->remove)
			return usage_error(
			    "--check-config FILE reads FILE: give "
			    "it without --config or --remove");
		f->config_file = f->check_config;
	}
	if (f->config_file && f->service)
		return usage_error(
		    "give either --config or --service, not both");
	if (!f->service &&
	    (f->stable || f->canary || f->weight || f->name || f->udp ||
	     f->metrics_preset || f->allow_local_backends))
		return usage_error(
		    "--stable, --canary, --weight, --name, --udp, "
		    "--metrics-preset and --allow-local-backends describe a "
		    "--service (in a config file: the service's fields)");
	if (!f->service && f->affinity)
		return usage_error("--affinity describes a --service (in a "
				   "config file: the service's \"affinity\")");
	if (f->remove && (f->takeover || f->no_reattach))
		return usage_error("--takeover and --no-reattach are for a "
				   "kanaryd that serves, not for --remove "
				   "(which removes only its --pin-dir's data "
				   "path)");
	if (!f->config_file && !f->service && !f->remove)
		return usage_error("nothing to serve: give --config FILE or "
				   "--service VIP:PORT --stable LIST");
	return 0;
}

/* --remove: take down a data path that an earlier kanaryd left running;
 * only what its pin directory owns, never another kanaryd's. */
static int remove_datapath(const struct agent_config *cfg)
{
	struct dp_options opts = {0};
	unsigned int detached;
	char err[DP_ERR_LEN];
	int ret;

	opts.ifname = cfg->iface;
	opts.pin_dir = cfg->pin_dir;
	opts.mode = cfg->mode;
	ret = dp_remove(&opts, &detached, err, sizeof(err));
	if (ret) {
		log_error("%s", err);
		return 1;
	}
	if (detached)
		log_info("removed the data path from %s and its pins from %s",
			 cfg->iface, cfg->pin_dir);
	else
		log_info("removed the pins from %s; nothing of theirs was "
			 "attached to %s",
			 cfg->pin_dir, cfg->iface);
	return 0;
}

/*
 * What would make the start fail once the data path is attached, checked
 * before it is: privileges, the interface, bpffs and the pin directory,
 * then the API's address, its token rule and its port. (The config and
 * flags were checked by now; the token file is read, and what the
 * interface's hooks hold is checked, before dp_open attaches.)
 */
static int check_before_attach(const struct agent_config *cfg)
{
	struct dp_options dpo = {0};
	char err[API_ERR_LEN];

	dpo.ifname = cfg->iface;
	dpo.pin_dir = cfg->pin_dir;
	if (dp_check_options(&dpo, err, sizeof(err))) {
		log_error("%s", err);
		return 1;
	}
	if (api_check_listen(cfg->listen, cfg->token_file[0] != '\0', err,
			     sizeof(err))) {
		log_error("%s", err);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct agent_options opts = {0};
	struct agent_config cfg;
	struct api_server *api = NULL;
	struct sigaction sa = {0};
	struct flags f = {0};
	struct agent *a = NULL;
	char err[CONFIG_ERR_LEN];
	size_t service_count;
	int ret;

	log_set_program("kanaryd");
	if (heap_policy_set())
		log_warn("the allocator refused kanaryd's heap policy: large "
			 "answers may stay in the heap after they are freed");
	ret = parse_flags(argc, argv, &f);
	if (ret)
		return ret;
	log_set_verbose(f.verbose);
	config_init(&cfg);
	ret = build_config(&f, &cfg);
	if (ret)
		goto out;
	if (f.check_config) {
		printf("%s: good (%zu service%s)\n", f.check_config,
		       cfg.service_count, cfg.service_count == 1 ? "" : "s");
		goto out;
	}
	if (f.remove) {
		ret = remove_datapath(&cfg);
		goto out;
	}

	ret = check_before_attach(&cfg);
	if (ret)
		goto out;
	opts.keep_attached = f.keep_attached;
	opts.verbose = f.verbose;
	opts.takeover = f.takeover;
	opts.no_reattach = f.no_reattach;
	ret = agent_create(&cfg, &opts, &a, err, sizeof(err));
	if (ret) {
		log_error("%s", err);
		ret = 1;
		goto out;
	}
	/* Each service now holds its own copy: the parsed file and what
	 * parsing it left in the heap go back (about 24 KB a service). */
	service_count = cfg.service_count;
	config_free(&cfg);
	heap_trim();
	ret = api_start(a, agent_listen_address(a), agent_token(a), &api, err,
			sizeof(err));
	if (ret) {
		log_error("%s", err);
		ret = 1;
		goto out;
	}

	ret = privileges_drop_after_attach(err, sizeof(err));
	if (ret) {
		log_error("%s", err);
		ret = 1;
		goto out;
	}
	log_debug("capabilities dropped: CAP_BPF and CAP_NET_ADMIN remain");

	running_agent = a;
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	log_info("serving %zu service%s; API on %s", service_count,
		 service_count == 1 ? "" : "s", agent_listen_address(a));
	agent_run(a);
	log_info("stopping%s", f.keep_attached ? ": the data path keeps running"
					       : ": detaching the data path");
	ret = 0;
out:
	api_stop(api);
	agent_destroy(a);
	config_free(&cfg);
	return ret;
}
