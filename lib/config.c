/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * config.c - reading kanaryd's JSON config file (see config.h and
 * docs/config.md). jansson parses; json_fields checks each field strictly;
 * jpos_locate turns the failing field's path into a line and column. The
 * checks shared with the flags and the API (a service's name, its
 * backends, the node's limits) are written here once.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/json_fields.h"
#include "util/jpos.h"
#include "util/netaddr.h"

#define SERVICE_NAME_CHARS                                                     \
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."
/* Room for a pool entry's field name, like "canary[63]". */
#define POOL_FIELD_LEN 32

void config_init(struct agent_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mode = DP_MODE_AUTO;
	snprintf(cfg->pin_dir, sizeof(cfg->pin_dir), "%s", DP_DEFAULT_PIN_DIR);
	snprintf(cfg->listen, sizeof(cfg->listen), "%s", CONFIG_DEFAULT_LISTEN);
	cfg->tick_ms = CONFIG_DEFAULT_TICK_MS;
	snprintf(cfg->cluster.prefix, sizeof(cfg->cluster.prefix), "%s",
		 CONFIG_DEFAULT_CLUSTER_PREFIX);
	cfg->cluster.lease_ms = CONFIG_DEFAULT_CLUSTER_LEASE_MS;
}

void config_free(struct agent_config *cfg)
{
	free(cfg->services);
	cfg->services = NULL;
	cfg->service_count = 0;
}

void config_service_defaults(struct service_config *svc)
{
	memset(svc, 0, sizeof(*svc));
	svc->def.proto = IPPROTO_TCP;
	svc->def.flags = KN_SVC_F_HTTP;
	snprintf(svc->metrics_path, sizeof(svc->metrics_path), "%s",
		 CONFIG_DEFAULT_METRICS_PATH);
	svc->scrape_interval_ms = CONFIG_DEFAULT_SCRAPE_INTERVAL_MS;
	svc->scrape_timeout_ms = CONFIG_DEFAULT_SCRAPE_TIMEOUT_MS;
	rollout_spec_defaults(&svc->rollout);
	snprintf(svc->warmup_method, sizeof(svc->warmup_method), "GET");
	snprintf(svc->warmup_path, sizeof(svc->warmup_path), "/");
	snprintf(svc->warmup_content_type, sizeof(svc->warmup_content_type),
		 "application/json");
}

struct service_config *config_add_service(struct agent_config *cfg)
{
	struct service_config *grown;

	grown = realloc(cfg->services,
			(cfg->service_count + 1) * sizeof(*cfg->services));
	if (!grown)
		return NULL;
	cfg->services = grown;
	config_service_defaults(&cfg->services[cfg->service_count]);
	return &cfg->services[cfg->service_count++];
}

/* ---- one service -------------------------------------------------------- */

static int endpoint_field(struct jf_ctx *ctx, const json_t *v,
			  const char *field, struct endpoint *out)
{
	char why[NETADDR_ERR_LEN];

	if (!json_is_string(v))
		return jf_fail(ctx, field,
			       "must be a string \"IPv4:PORT\" or "
			       "\"[IPv6]:PORT\", like \"198.18.0.10:8000\"");
	if (netaddr_parse_endpoint(json_string_value(v), out, why, sizeof(why)))
		return jf_fail(ctx, field, "%s", why);
	return 0;
}

static int pool_field(struct jf_ctx *ctx, const json_t *obj, const char *key,
		      struct endpoint *out, uint32_t *count)
{
	const json_t *list = json_object_get(obj, key);
	size_t i;

	*count = 0;
	if (!list)
		return 0;
	if (!json_is_array(list))
		return jf_fail(ctx, key,
			       "must be a list of \"IPv4:PORT\" or "
			       "\"[IPv6]:PORT\" strings");
	if (json_array_size(list) > KN_MAX_POOL_BACKENDS)
		return jf_fail(ctx, key, "has %zu backends; at most %d",
			       json_array_size(list), KN_MAX_POOL_BACKENDS);
	/* Duplicates and addresses that cannot be backends:
	 * config_check_backends, once every VIP is known. */
	for (i = 0; i < json_array_size(list); i++) {
		char field[POOL_FIELD_LEN];
		int ret;

		snprintf(field, sizeof(field), "%s[%zu]", key, i);
		ret = endpoint_field(ctx, json_array_get(list, i), field,
				     &out[i]);
		if (ret)
			return ret;
	}
	*count = (uint32_t)json_array_size(list);
	return 0;
}

/* A path kanaryd puts in a request's URL: "/..." without spaces (control
 * characters are refused by jf_string). */
static int url_path_field(struct jf_ctx *ctx, const json_t *obj,
			  const char *key, char *buf, size_t len)
{
	int ret = jf_string(ctx, obj, key, false, buf, len);

	if (!ret && buf[0] != '/')
		ret = jf_fail(ctx, key, "must start with '/'");
	if (!ret && strchr(buf, ' '))
		ret = jf_fail(ctx, key,
			      "must not hold a space: it goes into a URL "
			      "(write %%20)");
	return ret;
}

static const char *const metrics_scrape_fields[] = {
    "port",
    "path",
    "interval",
    "timeout",
};

static int metrics_field(struct jf_ctx *ctx, const json_t *obj,
			 struct service_config *svc)
{
	const json_t *m = json_object_get(obj, "metrics");
	char why[CONFIG_ERR_LEN];
	uint32_t port = 0;
	json_t *series;
	size_t i;
	int ret;

	if (!m || json_is_null(m))
		return 0;
	if (!json_is_object(m))
		return jf_fail(
		    ctx, "metrics",
		    "must be an object, like {\"preset\": \"vllm\"}");
	/* The series' reader echoes names it does not know. */
	ret = jf_plain_strings(ctx, "metrics", m);
	if (ret)
		return ret;
	jf_push(ctx, "metrics");
	ret = jf_uint32(ctx, m, "port", 1, 65535, &port);
	ret = ret
		  ?: url_path_field(ctx, m, "path", svc->metrics_path,
				    sizeof(svc->metrics_path));
	ret = ret
		  ?: jf_duration_ms(ctx, m, "interval", true,
				    &svc->scrape_interval_ms);
	ret = ret
		  ?: jf_duration_ms(ctx, m, "timeout", true,
				    &svc->scrape_timeout_ms);
	if (!ret && svc->scrape_timeout_ms >= svc->scrape_interval_ms)
		ret = jf_fail(ctx, "timeout",
			      "must be shorter than the scrape interval");
	jf_pop(ctx);
	if (ret)
		return ret;
	svc->metrics_port = (uint16_t)port;

	/* The rest of the object says which series mean what. */
	series = json_deep_copy(m);
	if (!series)
		return jf_fail(ctx, "metrics", "out of memory");
	for (i = 0; i < sizeof(metrics_scrape_fields) /
			    sizeof(metrics_scrape_fields[0]);
	     i++)
		json_object_del(series, metrics_scrape_fields[i]);
	ret = metric_spec_from_json(series, &svc->metrics, why, sizeof(why));
	json_decref(series);
	if (ret)
		return jf_fail(ctx, "metrics", "%s", why);
	svc->has_metrics = true;
	return 0;
}

static const char *const warmup_fields[] = {
    "method", "path", "body", "content_type", NULL,
};

static int warmup_field(struct jf_ctx *ctx, const json_t *obj,
			struct service_config *svc)
{
	const json_t *w = json_object_get(obj, "warmup");
	int ret;

	if (!w)
		return 0;
	jf_push(ctx, "warmup");
	ret = jf_check_object(ctx, w, warmup_fields);
	ret = ret
		  ?: jf_string(ctx, w, "method", false, svc->warmup_method,
			       sizeof(svc->warmup_method));
	if (!ret && strcmp(svc->warmup_method, "GET") &&
	    strcmp(svc->warmup_method, "POST"))
		ret = jf_fail(ctx, "method", "must be \"GET\" or \"POST\"");
	ret = ret
		  ?: url_path_field(ctx, w, "path", svc->warmup_path,
				    sizeof(svc->warmup_path));
	/* The body alone may span lines: it is neither a header nor
	 * logged. The content type is a header: jf_string. */
	ret = ret
		  ?: jf_text(ctx, w, "body", false, svc->warmup_body,
			     sizeof(svc->warmup_body));
	ret = ret
		  ?: jf_string(ctx, w, "content_type", false,
			       svc->warmup_content_type,
			       sizeof(svc->warmup_content_type));
	jf_pop(ctx);
	return ret;
}

static const char *const service_fields[] = {
    "name",
    "vip",
    "protocol",
    "http",
    "stable",
    "canary",
    "canary_percent",
    "udp_idle_timeout",
    "seed",
    "metrics",
    "rollout",
    "warmup",
    "allow_local_backends",
    "affinity",
    "notifications",
    NULL,
};

static int service_from_json(struct jf_ctx *ctx, const json_t *obj,
			     struct service_config *svc,
			     struct spec_error *spec_err)
{
	char protocol[8] = "tcp", why[CONFIG_ERR_LEN];
	uint64_t udp_idle_ms = 0;
	const json_t *rollout;
	bool http = true;
	int ret;

	ret = jf_check_object(ctx, obj, service_fields);
	ret = ret
		  ?: jf_string(ctx, obj, "name", true, svc->def.name,
			       sizeof(svc->def.name));
	if (!ret && config_check_service_name(svc->def.name, why, sizeof(why)))
		ret = jf_fail(ctx, "name", "%s", why);
	if (ret)
		return ret;
	if (!json_object_get(obj, "vip"))
		return jf_fail(ctx, "vip",
			       "is required: the service's \"IPv4:PORT\" or "
			       "\"[IPv6]:PORT\"");
	ret = endpoint_field(ctx, json_object_get(obj, "vip"), "vip",
			     &svc->def.vip);
	ret = ret
		  ?: jf_string(ctx, obj, "protocol", false, protocol,
			       sizeof(protocol));
	if (!ret && strcmp(protocol, "tcp") && strcmp(protocol, "udp"))
		ret = jf_fail(ctx, "protocol", "must be \"tcp\" or \"udp\"");
	if (ret)
		return ret;
	svc->def.proto = strcmp(protocol, "udp") ? IPPROTO_TCP : IPPROTO_UDP;
	ret = jf_bool(ctx, obj, "http", &http);
	if (!ret && http && svc->def.proto == IPPROTO_UDP &&
	    json_object_get(obj, "http"))
		ret = jf_fail(ctx, "http", "HTTP is observed on TCP only");
	svc->def.flags =
	    http && svc->def.proto == IPPROTO_TCP ? KN_SVC_F_HTTP : 0;
	ret = ret ?: affinity_field(ctx, obj, &svc->def.flags);
	ret = ret
		  ?: pool_field(ctx, obj, "stable", svc->def.stable,
				&svc->def.stable_count);
	ret = ret
		  ?: pool_field(ctx, obj, "canary", svc->def.canary,
				&svc->def.canary_count);
	if (ret)
		return ret;
	if (!svc->def.stable_count)
		return jf_fail(ctx, "stable",
			       "is required: at least one \"IPv4:PORT\" or "
			       "\"[IPv6]:PORT\" backend");
	ret = jf_bool(ctx, obj, "allow_local_backends",
		      &svc->allow_local_backends);
	if (ret)
		return ret;
	ret = jf_percent(ctx, obj, "canary_percent", &svc->def.canary_bp);
	ret = ret
		  ?: jf_duration_ms(ctx, obj, "udp_idle_timeout", true,
				    &udp_idle_ms);
	ret = ret ?: jf_uint32(ctx, obj, "seed", 1, UINT32_MAX, &svc->def.seed);
	if (ret)
		return ret;
	if (udp_idle_ms > UINT32_MAX)
		return jf_fail(ctx, "udp_idle_timeout", "is too long");
	svc->def.udp_idle_timeout_ms = (uint32_t)udp_idle_ms;
	ret = metrics_field(ctx, obj, svc);
	ret = ret ?: warmup_field(ctx, obj, svc);
	ret = ret ?: notify_config_from_json(ctx, obj, &svc->notifications);
	if (ret)
		return ret;
	rollout = json_object_get(obj, "rollout");
	if (rollout) {
		char prefix[JF_PATH_LEN + 16];

		snprintf(prefix, sizeof(prefix), "%s%srollout", ctx->path,
			 ctx->path[0] ? "." : "");
		ret = rollout_spec_from_json(rollout, &svc->rollout, prefix,
					     &svc->rollout, spec_err);
		if (ret)
			return jf_fail(ctx, "rollout", "%s", spec_err->message);
	}
	return 0;
}

/* ---- the whole file ----------------------------------------------------- */

static const char *const top_fields[] = {
    "interface",    "mode",	     "pin_dir",	   "max_flows",	 "max_services",
    "max_backends", "listen",	     "token_file", "state_file", "tick",
    "services",	    "notifications", "cluster",	   "forward",	 NULL,
};

/* ---- cluster mode -------------------------------------------------------- */

static int add_etcd_endpoint(struct cluster_config *cl, const char *url,
			     size_t len, char *why, size_t why_len)
{
	if (cl->etcd_count >= CONFIG_CLUSTER_MAX_ETCD) {
		snprintf(why, why_len, "at most %d etcd endpoints",
			 CONFIG_CLUSTER_MAX_ETCD);
		return -EINVAL;
	}
	if (len >= CONFIG_CLUSTER_URL_LEN ||
	    (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) ||
	    strcspn(url, " \t\r\n,") < len) {
		snprintf(why, why_len,
			 "'%.*s' is not an etcd endpoint: "
			 "http://HOST:PORT (at most %d characters)",
			 (int)(len > 64 ? 64 : len), url,
			 CONFIG_CLUSTER_URL_LEN - 1);
		return -EINVAL;
	}
	snprintf(cl->etcd[cl->etcd_count++], CONFIG_CLUSTER_URL_LEN, "%.*s",
		 (int)len, url);
	cl->enabled = true;
	return 0;
}

int config_cluster_endpoints(const char *list, struct cluster_config *cl,
			     char *why, size_t why_len)
{
	const char *p = list;

	do {
		size_t len = strcspn(p, ",");
		int ret = add_etcd_endpoint(cl, p, len, why, why_len);

		if (ret)
			return ret;
		p += len;
	} while (*p++ == ',');
	return 0;
}

int config_check_cluster(const struct cluster_config *cl, char *field,
			 size_t field_len, char *why, size_t why_len)
{
	size_t plen = strlen(cl->prefix);

	if (!cl->enabled)
		return 0;
	if (!cl->node[0] || config_check_service_name(cl->node, why, why_len)) {
		snprintf(field, field_len, "node");
		if (!cl->node[0])
			snprintf(why, why_len,
				 "cluster mode needs this node's name "
				 "(--node NAME): 1-%d letters, digits, '-', "
				 "'_' or '.'",
				 KN_SERVICE_NAME_LEN - 1);
		return -EINVAL;
	}
	if (plen < 2 || cl->prefix[0] != '/' || cl->prefix[plen - 1] != '/') {
		snprintf(field, field_len, "prefix");
		snprintf(why, why_len,
			 "must start and end with '/' (like \"%s\")",
			 CONFIG_DEFAULT_CLUSTER_PREFIX);
		return -EINVAL;
	}
	if (cl->lease_ms < CONFIG_CLUSTER_LEASE_MIN_MS ||
	    cl->lease_ms > CONFIG_CLUSTER_LEASE_MAX_MS || cl->lease_ms % 1000) {
		snprintf(field, field_len, "lease");
		snprintf(why, why_len,
			 "must be whole seconds from %ds to %ds (etcd's leases "
			 "count in seconds)",
			 CONFIG_CLUSTER_LEASE_MIN_MS / 1000,
			 CONFIG_CLUSTER_LEASE_MAX_MS / 1000);
		return -EINVAL;
	}
	return 0;
}

static const char *const cluster_fields[] = {
    "etcd", "node", "prefix", "lease", NULL,
};

static int cluster_from_json(struct jf_ctx *ctx, const json_t *root,
			     struct cluster_config *cl)
{
	const json_t *c = json_object_get(root, "cluster"), *etcd, *url;
	char why[CONFIG_ERR_LEN], field[CONFIG_FIELD_LEN];
	size_t i;
	int ret;

	if (!c)
		return 0;
	jf_push(ctx, "cluster");
	ret = jf_check_object(ctx, c, cluster_fields);
	etcd = json_object_get(c, "etcd");
	if (!ret && (!json_is_array(etcd) || !json_array_size(etcd)))
		ret = jf_fail(ctx, "etcd",
			      "must be a list of etcd endpoints "
			      "[\"http://HOST:PORT\", ...]");
	json_array_foreach(etcd, i, url)
	{
		char segment[32];

		if (ret)
			break;
		snprintf(segment, sizeof(segment), "etcd[%zu]", i);
		if (!json_is_string(url))
			ret = jf_fail(ctx, segment, "must be a string");
		else if (add_etcd_endpoint(cl, json_string_value(url),
					   json_string_length(url), why,
					   sizeof(why)))
			ret = jf_fail(ctx, segment, "%s", why);
	}
	ret =
	    ret ?: jf_string(ctx, c, "node", false, cl->node, sizeof(cl->node));
	ret = ret
		  ?: jf_string(ctx, c, "prefix", false, cl->prefix,
			       sizeof(cl->prefix));
	ret = ret ?: jf_duration_ms(ctx, c, "lease", true, &cl->lease_ms);
	if (!ret &&
	    config_check_cluster(cl, field, sizeof(field), why, sizeof(why)))
		ret = jf_fail(ctx, field, "%s", why);
	jf_pop(ctx);
	return ret;
}

static int config_from_json(struct jf_ctx *ctx, const json_t *root,
			    struct agent_config *cfg,
			    struct spec_error *spec_err)
{
	char mode[16] = "";
	char forward[16] = "";
	const json_t *services;
	size_t i;
	int ret;

	ret = jf_check_object(ctx, root, top_fields);
	ret = ret
		  ?: jf_string(ctx, root, "interface", false, cfg->iface,
			       sizeof(cfg->iface));
	ret = ret ?: jf_string(ctx, root, "mode", false, mode, sizeof(mode));
	if (!ret && mode[0] && dp_parse_mode(mode, &cfg->mode))
		ret = jf_fail(ctx, "mode",
			      "must be \"auto\", \"xdp\", \"xdp-generic\" or "
			      "\"tc\"");
	ret = ret
		  ?: jf_string(ctx, root, "forward", false, forward,
			       sizeof(forward));
	if (!ret && forward[0] && dp_parse_forward(forward, &cfg->forward))
		ret = jf_fail(ctx, "forward",
			      "must be \"stack\" or \"redirect\"");
	ret = ret
		  ?: jf_string(ctx, root, "pin_dir", false, cfg->pin_dir,
			       sizeof(cfg->pin_dir));
	ret = ret
		  ?: jf_uint32(ctx, root, "max_flows", 1024, 1U << 28,
			       &cfg->max_flows);
	ret = ret
		  ?: jf_uint32(ctx, root, "max_services", 1, KN_MAX_SERVICES,
			       &cfg->max_services);
	ret = ret
		  ?: jf_uint32(ctx, root, "max_backends", 2, 1U << 20,
			       &cfg->max_backends);
	ret = ret
		  ?: jf_string(ctx, root, "listen", false, cfg->listen,
			       sizeof(cfg->listen));
	ret = ret
		  ?: jf_string(ctx, root, "token_file", false, cfg->token_file,
			       sizeof(cfg->token_file));
	ret = ret
		  ?: jf_string(ctx, root, "state_file", false, cfg->state_file,
			       sizeof(cfg->state_file));
	ret = ret ?: jf_duration_ms(ctx, root, "tick", true, &cfg->tick_ms);
	ret = ret ?: notify_config_from_json(ctx, root, &cfg->notifications);
	ret = ret ?: cluster_from_json(ctx, root, &cfg->cluster);
	if (ret)
		return ret;
	services = json_object_get(root, "services");
	if (!services)
		return 0;
	if (!json_is_array(services))
		return jf_fail(ctx, "services", "must be a list of services");
	for (i = 0; i < json_array_size(services); i++) {
		struct service_config *svc = config_add_service(cfg);
		char segment[32];

		if (!svc)
			return jf_fail(ctx, "services", "out of memory");
		snprintf(segment, sizeof(segment), "services[%zu]", i);
		jf_push(ctx, segment);
		ret = service_from_json(ctx, json_array_get(services, i), svc,
					spec_err);
		jf_pop(ctx);
		if (ret)
			return ret;
	}
	return 0;
}

int config_check_service_name(const char *name, char *why, size_t why_len)
{
	size_t len = strlen(name);

	if (!len || len >= KN_SERVICE_NAME_LEN ||
	    strspn(name, SERVICE_NAME_CHARS) != len) {
		snprintf(why, why_len,
			 "must be 1-%d letters, digits, '-', '_' or '.'",
			 KN_SERVICE_NAME_LEN - 1);
		return -EINVAL;
	}
	if (!strcmp(name, ".") || !strcmp(name, "..")) {
		snprintf(why, why_len,
			 "must not be '.' or '..': the name is a part of the "
			 "API's paths (/api/v1/services/NAME)");
		return -EINVAL;
	}
	if (name[0] == '-') {
		snprintf(why, why_len,
			 "must not start with '-': kanaryctl would read it as "
			 "an option");
		return -EINVAL;
	}
	return 0;
}

/* Why ep cannot be a backend of a service of protocol proto, or NULL. */
static const char *backend_problem(const struct endpoint *ep, uint8_t proto,
				   bool allow_local,
				   config_vip_owner_fn vip_owner,
				   const void *arg, char *buf, size_t len)
{
	enum netaddr_class class = netaddr_classify_endpoint(ep);
	const char *owner;

	if (class == NETADDR_LOOPBACK && !allow_local) {
		snprintf(buf, len,
			 "is %s, the node itself: a model server on the node "
			 "needs \"allow_local_backends\": true in the "
			 "service's config (--allow-local-backends with "
			 "--service)",
			 netaddr_class_describe_endpoint(ep));
		return buf;
	}
	if (class != NETADDR_UNICAST && class != NETADDR_LOOPBACK) {
		snprintf(buf, len, "is %s: a backend is one host",
			 netaddr_class_describe_endpoint(ep));
		return buf;
	}
	owner = vip_owner ? vip_owner(arg, proto, ep) : NULL;
	if (owner) {
		snprintf(buf, len,
			 "is the VIP of service '%s': its traffic would come "
			 "back to kanary (a loop)",
			 owner);
		return buf;
	}
	return NULL;
}

int config_check_backends(const struct dp_service_def *def, bool allow_local,
			  config_vip_owner_fn vip_owner, const void *arg,
			  char *field, size_t field_len, char *why,
			  size_t why_len)
{
	static const char *const pool_names[KN_POOL_COUNT] = {
	    [KN_POOL_STABLE] = "stable",
	    [KN_POOL_CANARY] = "canary",
	};
	const struct endpoint *pools[KN_POOL_COUNT] = {
	    [KN_POOL_STABLE] = def->stable,
	    [KN_POOL_CANARY] = def->canary,
	};
	const uint32_t counts[KN_POOL_COUNT] = {
	    [KN_POOL_STABLE] = def->stable_count,
	    [KN_POOL_CANARY] = def->canary_count,
	};
	char text[NETADDR_ENDPOINT_STR_LEN], problem[CONFIG_ERR_LEN];
	uint32_t p, i, j;

	for (p = 0; p < KN_POOL_COUNT; p++) {
		for (i = 0; i < counts[p]; i++) {
			const struct endpoint *ep = &pools[p][i];
			const char *bad;

			snprintf(field, field_len, "%s[%u]", pool_names[p], i);
			netaddr_endpoint_str(ep, text, sizeof(text));
			/* One family per service: the data path rewrites
			 * addresses of the packet's family only. */
			if (endpoint_family(ep) != endpoint_family(&def->vip)) {
				snprintf(why, why_len,
					 "%s is %s but the service's VIP is "
					 "%s: a service's backends are of its "
					 "VIP's family (dual stack is two "
					 "services)",
					 text, endpoint_family_name(ep),
					 endpoint_family_name(&def->vip));
				return -EINVAL;
			}
			bad = backend_problem(ep, def->proto, allow_local,
					      vip_owner, arg, problem,
					      sizeof(problem));
			if (bad) {
				snprintf(why, why_len, "%s %s", text, bad);
				return -EINVAL;
			}
			for (j = 0; j < i; j++)
				if (!netaddr_endpoint_cmp(&pools[p][j], ep)) {
					snprintf(why, why_len,
						 "%s is listed twice in %s (as "
						 "%s[%u] too)",
						 text, pool_names[p],
						 pool_names[p], j);
					return -EINVAL;
				}
			/* Checked from the canary's side only: once. */
			for (j = 0;
			     p == KN_POOL_CANARY && j < counts[KN_POOL_STABLE];
			     j++)
				if (!netaddr_endpoint_cmp(
					&pools[KN_POOL_STABLE][j], ep)) {
					snprintf(
					    why, why_len,
					    "%s is also in the stable pool "
					    "(stable[%u]): a backend is in "
					    "one pool",
					    text, j);
					return -EINVAL;
				}
		}
	}
	return 0;
}

/* A config's services by protocol and VIP, for config_check_backends:
 * each backend of each service is looked up, so no scan per backend. */
struct vip_index {
	const struct service_config **by_vip;
	size_t count;
};

static int vip_cmp(const struct dp_service_def *d, uint8_t proto,
		   const struct endpoint *vip)
{
	if (d->proto != proto)
		return d->proto < proto ? -1 : 1;
	return netaddr_endpoint_cmp(&d->vip, vip);
}

static int vip_order(const void *a, const void *b)
{
	const struct service_config *x =
	    *(const struct service_config *const *)a;
	const struct service_config *y =
	    *(const struct service_config *const *)b;

	return vip_cmp(&x->def, y->def.proto, &y->def.vip);
}

static const char *indexed_vip_owner(const void *arg, uint8_t proto,
				     const struct endpoint *ep)
{
	const struct vip_index *index = arg;
	size_t lo = 0, hi = index->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct dp_service_def *d = &index->by_vip[mid]->def;
		int c = vip_cmp(d, proto, ep);

		if (!c)
			return d->name;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int check_all_backends(const struct agent_config *cfg, char *field,
			      size_t field_len, char *err, size_t err_len)
{
	struct vip_index index = {.count = cfg->service_count};
	char inner[CONFIG_FIELD_LEN];
	size_t i;
	int ret = 0;

	index.by_vip = calloc(cfg->service_count ? cfg->service_count : 1,
			      sizeof(*index.by_vip));
	if (!index.by_vip) {
		snprintf(field, field_len, "services");
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < cfg->service_count; i++)
		index.by_vip[i] = &cfg->services[i];
	qsort(index.by_vip, index.count, sizeof(*index.by_vip), vip_order);
	for (i = 0; i < cfg->service_count && !ret; i++) {
		const struct service_config *svc = &cfg->services[i];

		ret = config_check_backends(
		    &svc->def, svc->allow_local_backends, indexed_vip_owner,
		    &index, inner, sizeof(inner), err, err_len);
		if (ret)
			snprintf(field, field_len, "services[%zu].%s", i,
				 inner);
	}
	free(index.by_vip);
	return ret;
}

/* What the data path will have room for (0 in the config: its default). */
static int check_limits(const struct agent_config *cfg, char *field,
			size_t field_len, char *err, size_t err_len)
{
	uint32_t max_services =
	    cfg->max_services ? cfg->max_services : KN_MAX_SERVICES;
	uint32_t max_backends =
	    cfg->max_backends ? cfg->max_backends : KN_DEFAULT_MAX_BACKENDS;
	uint64_t backends = 0;
	size_t i;

	if (cfg->service_count > max_services) {
		snprintf(field, field_len, "services[%u]", max_services);
		snprintf(err, err_len,
			 "%zu services, more than the node's %u service slots: "
			 "raise max_services (--max-services; at most %d)",
			 cfg->service_count, max_services, KN_MAX_SERVICES);
		return -EINVAL;
	}
	/* Each backend of each service takes a counter slot. */
	for (i = 0; i < cfg->service_count; i++) {
		backends += cfg->services[i].def.stable_count +
			    cfg->services[i].def.canary_count;
		if (backends > max_backends) {
			snprintf(field, field_len, "services[%zu]", i);
			snprintf(err, err_len,
				 "brings the backends to %llu, more than the "
				 "node's %u backend slots: raise max_backends "
				 "(--max-backends)",
				 (unsigned long long)backends, max_backends);
			return -EINVAL;
		}
	}
	return 0;
}

int config_validate(const struct agent_config *cfg, char *field,
		    size_t field_len, char *err, size_t err_len)
{
	size_t i, j;

	for (i = 0; i < cfg->service_count; i++) {
		const struct service_config *a = &cfg->services[i];

		for (j = 0; j < i; j++) {
			const struct service_config *b = &cfg->services[j];

			if (!strcmp(a->def.name, b->def.name)) {
				snprintf(field, field_len, "services[%zu].name",
					 i);
				snprintf(err, err_len,
					 "'%s' is used by services[%zu] too",
					 a->def.name, j);
				return -EINVAL;
			}
			if (a->def.proto == b->def.proto &&
			    !netaddr_endpoint_cmp(&a->def.vip, &b->def.vip)) {
				snprintf(field, field_len, "services[%zu].vip",
					 i);
				snprintf(err, err_len,
					 "the same VIP:port and protocol as "
					 "services[%zu] ('%s')",
					 j, b->def.name);
				return -EINVAL;
			}
		}
	}
	return check_all_backends(cfg, field, field_len, err, err_len)
		   ?: check_limits(cfg, field, field_len, err, err_len);
}

/* "SOURCE:LINE:COL: FIELD: message", the field found in the text. */
static void located_error(const char *text, size_t len, const char *source,
			  const char *field, const char *message, char *err,
			  size_t err_len)
{
	unsigned int line = 0, column = 0;

	jpos_locate(text, len, field, &line, &column);
	snprintf(err, err_len, "%s:%u:%u: %s: %s", source, line, column,
		 field[0] ? field : "(top level)", message);
}

int config_parse(const char *text, size_t len, const char *source,
		 struct agent_config *cfg, char *err, size_t err_len)
{
	char field[JF_PATH_LEN], message[CONFIG_ERR_LEN];
	struct spec_error spec_err = {0};
	struct jf_ctx ctx;
	json_error_t jerr;
	json_t *root;
	int ret;

	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		snprintf(err, err_len, "%s:%d:%d: %s", source, jerr.line,
			 jerr.column,
			 jf_parse_error(&jerr, message, sizeof(message)));
		return -EINVAL;
	}
	jf_init(&ctx, "", field, sizeof(field), message, sizeof(message));
	ret = config_from_json(&ctx, root, cfg, &spec_err);
	json_decref(root);
	if (ret) {
		/* A rollout error names its own, deeper field. */
		located_error(text, len, source,
			      spec_err.field[0] ? spec_err.field : field,
			      message, err, err_len);
		return ret;
	}
	ret = config_validate(cfg, field, sizeof(field), message,
			      sizeof(message));
	if (ret)
		located_error(text, len, source, field, message, err, err_len);
	return ret;
}

int config_load_file(const char *path, struct agent_config *cfg, char *err,
		     size_t err_len)
{
	FILE *f = fopen(path, "rb");
	struct buf text;
	int ret;

	if (!f) {
		snprintf(err, err_len, "cannot open config file %s: %s", path,
			 strerror(errno));
		return -errno;
	}
	buf_init(&text, CONFIG_MAX_BYTES);
	ret = buf_read_file(&text, f);
	if (ret == -ENOMEM) {
		snprintf(err, err_len, "out of memory reading %s", path);
	} else if (ret) {
		/* errno still holds the read's error: nothing since sets it */
		snprintf(err, err_len, "%s: %s", path,
			 ferror(f) ? strerror(errno)
				   : "larger than 4 MiB: not a config file?");
		ret = -EINVAL;
	}
	fclose(f);
	if (!ret)
		ret = config_parse(text.data ? text.data : "", text.len, path,
				   cfg, err, err_len);
	buf_free(&text);
	return ret;
}
