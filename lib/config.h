/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * config.h - kanaryd's configuration: the agent's settings and its services,
 * read from a JSON file (docs/config.md documents every field) or built from
 * command-line flags. Errors name the file, line, column and field.
 */
#ifndef KANARY_CONFIG_H
#define KANARY_CONFIG_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "datapath/dataplane.h"
#include "metrics/metric_presets.h"
#include "judge/rollout_spec.h"

#define CONFIG_ERR_LEN		 512
#define CONFIG_PATH_LEN		 256
#define CONFIG_LISTEN_LEN	 64
#define CONFIG_METRICS_PATH_LEN	 128
#define CONFIG_WARMUP_BODY_LEN	 1024
#define CONFIG_WARMUP_METHOD_LEN 8
#define CONFIG_MAX_BYTES	 (4 * 1024 * 1024)

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
/* Cross-service checks: unique names and VIPs. 0 or -EINVAL with err. */
int config_validate(const struct agent_config *cfg, char *err, size_t err_len);

#endif /* KANARY_CONFIG_H */
