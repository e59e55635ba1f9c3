/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * pools.c - the commands that set a service's pools by hand, outside a
 * rollout: set-weight (the canary's share) and set-backends (a pool's
 * members); and set-affinity (what a new connection's version follows).
 */
#include <linux/types.h> /* kanary_shared.h uses __u32 */
#include <stdio.h>

#include "affinity.h"
#include "ctl.h"
#include "kanary_shared.h"
#include "util/netaddr.h"

static const char *const weight_pos[] = {"SERVICE", "PERCENT"};

int do_set_weight(struct ctl *ctl, int argc, char **argv)
{
	const char *pos[MAX_POSITIONALS] = {NULL};
	char path[CTL_SERVER_LEN], err[CTL_ERR_LEN];
	json_t *body, *svc;
	uint32_t bp;
	int ret;

	if (!begin(ctl, argc, argv, NULL, pos, weight_pos, 2, 2, &ret))
		return ret;
	if (netaddr_parse_percent_bp(pos[1], &bp, err, sizeof(err)))
		return usage_error(ctl, "PERCENT '%s': %s", pos[1], err);
	body = json_pack("{s:f}", "canary_percent", bp / BP_PER_PERCENT);
	ret = service_path(ctl, pos[0], "weight", path, sizeof(path));
	ret = ret ?: call_agent(ctl, "PUT", path, body, ANSWER_SERVICE, &svc);
	json_decref(body);
	return ret ?: report_operation(ctl, pos[0], "weight set", svc);
}

/* "A:P,B:Q" -> ["A:P", "B:Q"]; "" -> [] (empties the pool). */
static int endpoints_json(struct ctl *ctl, const char *flag, const char *text,
			  json_t **out)
{
	struct endpoint eps[KN_MAX_POOL_BACKENDS];
	char err[CTL_ERR_LEN], buf[NETADDR_ENDPOINT_STR_LEN];
	size_t n = 0, i;

	if (*text && netaddr_parse_endpoint_list(
			 text, eps, KN_MAX_POOL_BACKENDS, &n, err, sizeof(err)))
		return usage_error(ctl, "--%s '%s': %s", flag, text, err);
	*out = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(*out, json_string(netaddr_endpoint_str(
						&eps[i], buf, sizeof(buf))));
	return CTL_EXIT_OK;
}

int do_set_backends(struct ctl *ctl, int argc, char **argv)
{
	const char *pos[MAX_POSITIONALS] = {NULL};
	const char *stable = NULL, *canary = NULL;
	const struct flag flags[] = {
	    {"stable", &stable, NULL},
	    {"canary", &canary, NULL},
	    {NULL, NULL, NULL},
	};
	char path[CTL_SERVER_LEN];
	json_t *body, *list, *svc;
	int ret;

	if (!begin(ctl, argc, argv, flags, pos, service_pos, 1, 1, &ret))
		return ret;
	if (!stable && !canary)
		return usage_error(ctl, "give --stable LIST and/or --canary "
					"LIST (IPv4:PORT,... or [IPv6]:PORT,"
					"...; '' empties the canary pool)");
	body = json_object();
	if (stable) {
		ret = endpoints_json(ctl, "stable", stable, &list);
		if (!ret)
			json_object_set_new(body, "stable", list);
	}
	if (!ret && canary) {
		ret = endpoints_json(ctl, "canary", canary, &list);
		if (!ret)
			json_object_set_new(body, "canary", list);
	}
	ret = ret ?: service_path(ctl, pos[0], "backends", path, sizeof(path));
	ret = ret ?: call_agent(ctl, "PUT", path, body, ANSWER_SERVICE, &svc);
	json_decref(body);
	return ret ?: report_operation(ctl, pos[0], "backends set", svc);
}

static const char *const affinity_pos[] = {"SERVICE", "AFFINITY"};

int do_set_affinity(struct ctl *ctl, int argc, char **argv)
{
	const char *pos[MAX_POSITIONALS] = {NULL};
	char path[CTL_SERVER_LEN];
	bool connection;
	json_t *body, *svc;
	int ret;

	if (!begin(ctl, argc, argv, NULL, pos, affinity_pos, 2, 2, &ret))
		return ret;
	if (affinity_parse(pos[1], &connection))
		return usage_error(ctl, "AFFINITY '%s': %s", pos[1],
				   AFFINITY_EXPECTED);
	body = json_pack("{s:s}", "affinity", pos[1]);
	ret = service_path(ctl, pos[0], "affinity", path, sizeof(path));
	ret = ret ?: call_agent(ctl, "PUT", path, body, ANSWER_SERVICE, &svc);
	json_decref(body);
	return ret ?: report_operation(ctl, pos[0], "affinity set", svc);
}
