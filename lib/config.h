/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * config.h - kanaryd's configuration: the agent's settings and its services,
 * read from a JSON file (docs/config.md documents every field) or built from
 * command-line flags. Errors name the file, line, column and field.
 *
 * The checks here are the ones the config file, kanaryd's flags and the
 * API share: a service's name, its backends (config_check_backends) and
 * the limits of the node (config_validate).
 */
#ifndef KANARY_CONFIG_H
#define KANARY_CONFIG_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "affinity.h"
#include "datapath/dataplane.h"
#include "metrics/metric_presets.h"
#include "judge/rollout_spec.h"
#include "notify_config.h"

#define CONFIG_ERR_LEN		 512
#define CONFIG_PATH_LEN		 256
#define CONFIG_LISTEN_LEN	 64
#define CONFIG_METRICS_PATH_LEN	 128
#define CONFIG_WARMUP_BODY_LEN	 1024
#define CONFIG_WARMUP_METHOD_LEN 8
#define CONFIG_MAX_BYTES	 (4 * 1024 * 1024)
/* Room for a field's path, like "services[1023].canary[63]". */
#define CONFIG_FIELD_LEN 160

#define CONFIG_DEFAULT_LISTEN		  "127.0.0.1:9090"
#define CONFIG_DEFAULT_TICK_MS		  50
#define CONFIG_DEFAULT_SCRAPE_INTERVAL_MS 1000
#define CONFIG_DEFAULT_SCRAPE_TIMEOUT_MS  800
#define CONFIG_DEFAULT_METRICS_PATH	  "/metrics"

struct service_config {
	struct dp_service_def def; /* name, VIP, pools, weight, flags */
	bool has_metrics;
	struct metric_spec metrics;
	uint16_t metrics_port; /* 0: each backend's own port */
	char metrics_path[CONFIG_METRICS_PATH_LEN];
	uint64_t scrape_interval_ms;
	uint64_t scrape_timeout_ms;
	struct rollout_spec rollout; /* defaults for a rollout's request */
	/* The request a warm-up sends to each canary backend. */
	char warmup_method[CONFIG_WARMUP_METHOD_LEN]; /* GET or POST */
	char warmup_path[CONFIG_METRICS_PATH_LEN];
	char warmup_body[CONFIG_WARMUP_BODY_LEN];
	char warmup_content_type[CONFIG_METRICS_PATH_LEN];
	/* Loopback backends (127.0.0.0/8) are meant: a model server on the
	 * node itself. Off, they are refused as a mistake. */
	bool allow_local_backends;
	struct notify_config notifications; /* this service's own receivers */
};

/* Cluster mode (docs/cluster.md): one rollout across every node, the
 * desired state in etcd. Off unless etcd endpoints are given. */
#define CONFIG_CLUSTER_MAX_ETCD		8
#define CONFIG_CLUSTER_URL_LEN		128
#define CONFIG_CLUSTER_NODE_LEN		64
#define CONFIG_CLUSTER_PREFIX_LEN	64
#define CONFIG_DEFAULT_CLUSTER_PREFIX	"/kanary/"
#define CONFIG_DEFAULT_CLUSTER_LEASE_MS 3000
#define CONFIG_CLUSTER_LEASE_MIN_MS	1000
#define CONFIG_CLUSTER_LEASE_MAX_MS	60000

struct cluster_config {
	bool enabled;
	char etcd[CONFIG_CLUSTER_MAX_ETCD][CONFIG_CLUSTER_URL_LEN];
	size_t etcd_count;
	char node[CONFIG_CLUSTER_NODE_LEN];
	char prefix[CONFIG_CLUSTER_PREFIX_LEN];
	uint64_t lease_ms; /* the node's lease: how soon its loss is seen */
};

struct agent_config {
	char iface[IF_NAMESIZE];
	enum dp_mode mode;
	char pin_dir[CONFIG_PATH_LEN];
	uint32_t max_flows;
	uint32_t max_services;
	uint32_t max_backends;
	char listen[CONFIG_LISTEN_LEN];
	char token_file[CONFIG_PATH_LEN];
	char state_file[CONFIG_PATH_LEN];
	uint64_t tick_ms;
	size_t service_count;
	struct service_config *services;
	struct notify_config notifications; /* told of every service */
	struct cluster_config cluster;
	/* "forward": how steered packets leave (docs/forwarding.md). */
	enum kn_forward_mode forward;
};

/* Defaults for everything; no services. */
void config_init(struct agent_config *cfg);
void config_free(struct agent_config *cfg);

/* Reads a config file; on error err reads "FILE:LINE:COL: FIELD: what". */
int config_load_file(const char *path, struct agent_config *cfg, char *err,
		     size_t err_len);
/* The same from text (source names it in errors). */
int config_parse(const char *text, size_t len, const char *source,
		 struct agent_config *cfg, char *err, size_t err_len);

/* Appends a service; the caller fills it in. NULL when out of memory. */
struct service_config *config_add_service(struct agent_config *cfg);
/* Defaults for a service of the given name (metrics off, default rollout). */
void config_service_defaults(struct service_config *svc);
/*
 * A service name is 1 to KN_SERVICE_NAME_LEN-1 letters, digits, '-', '_'
 * or '.'; not "." or ".." (the name is a segment of the API's paths) and
 * not starting with '-' (kanaryctl would read it as an option). 0, or
 * -EINVAL with why (the name is not copied into why).
 */
int config_check_service_name(const char *name, char *why, size_t why_len);

/* Names the service whose VIP is ep for protocol proto, or NULL. */
typedef const char *(*config_vip_owner_fn)(const void *arg, uint8_t proto,
					   const struct endpoint *ep);

/*
 * Refuses the backends of def that cannot be right: any service's VIP
 * (vip_owner says whose; the traffic would loop), 0.0.0.0/8, multicast,
 * 240.0.0.0/4, broadcast, loopback unless allow_local, one listed twice
 * in a pool or in both pools. 0, or -EINVAL with the pool's field
 * ("stable[2]") in field and what is wrong in why. The config file, the
 * flags and PUT .../backends all call this.
 */
int config_check_backends(const struct dp_service_def *def, bool allow_local,
			  config_vip_owner_fn vip_owner, const void *arg,
			  char *field, size_t field_len, char *why,
			  size_t why_len);

/*
 * Checks across services, as the start will find them: unique names and
 * VIPs, each service's backends (above), and the node's limits
 * (max_services, max_backends). 0, or -EINVAL (-ENOMEM) with the field's
 * path ("services[1].name") in field and what is wrong in err.
 */
int config_validate(const struct agent_config *cfg, char *field,
		    size_t field_len, char *err, size_t err_len);

/* "http://H:P[,http://H:P...]" into cl->etcd (cluster mode on): 0, or
 * -EINVAL with why (the bad entry named). */
int config_cluster_endpoints(const char *list, struct cluster_config *cl,
			     char *why, size_t why_len);
/* The cluster settings' own checks (node name, prefix, lease): 0, or
 * -EINVAL with the field in field and what is wrong in why. */
int config_check_cluster(const struct cluster_config *cl, char *field,
			 size_t field_len, char *why, size_t why_len);

#endif /* KANARY_CONFIG_H */
