/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * status.c - the agent's queries (agent.h): a service's status, the list
 * of services, its decision log and its history, built as JSON under the
 * agent's lock from the state the core and its parts keep. Reads only:
 * nothing here changes a rollout or the data path.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>

#include "agent_internal.h"
#include "cluster.h"
#include "util/netaddr.h"
#include "watch.h"

#define PERCENT	 100.0
#define MS_PER_S 1000.0
/* "12345.6s" and more, for step_elapsed. */
#define ELAPSED_LEN 32

json_t *status_time_json(uint64_t wall_ms)
{
	char buf[CLOCK_RFC3339_LEN];

	if (!wall_ms)
		return json_null();
	clock_format_rfc3339(wall_ms, buf, sizeof(buf));
	return json_string(buf);
}

/* The window's start on the wall clock (it is kept on the monotonic one),
 * or 0 before the first. */
static uint64_t window_started_wall_ms(const struct service_rt *s)
{
	uint64_t mono = clock_mono_ms(), wall = clock_wall_ms();
	uint64_t age_ms = mono - s->window_started_mono_ms;

	if (!s->window_started_mono_ms || age_ms > mono || age_ms > wall)
		return 0;
	return wall - age_ms;
}

/* The node's forwarding fast path, node-wide (both ingress hooks), when it
 * runs in redirect mode; NULL otherwise (the answer stays as it was). */
static json_t *forward_status_json(struct agent *a)
{
	struct kn_forward_stats stats[KN_HOOK_COUNT];
	json_int_t redirected = 0, to_tc = 0;
	json_t *fallback;
	size_t h, r;

	if (dp_forward_mode(a->dp) != KN_FORWARD_REDIRECT ||
	    dp_read_forward(a->dp, stats))
		return NULL;
	fallback = json_object();
	for (r = 0; r < KN_FWD_COUNT; r++) {
		json_int_t n = 0;

		for (h = 0; h < KN_HOOK_COUNT; h++)
			n += (json_int_t)stats[h].result[r];
		if (dp_forward_is_redirected(r))
			redirected += n;
		else if (r == KN_FWD_XDP_TO_TC)
			to_tc = n;
		else if (n)
			json_object_set_new(fallback, dp_forward_reason_name(r),
					    json_integer(n));
	}
	/* xdp_to_tc: the XDP program's packets that tc forwarded (and
	 * counted in redirected or fallback). */
	return json_pack("{s:s, s:I, s:I, s:o}", "mode",
			 dp_forward_name(KN_FORWARD_REDIRECT), "redirected",
			 redirected, "xdp_to_tc", to_tc, "fallback", fallback);
}

json_t *agent_service_status_locked(struct agent *a, struct service_rt *s)
{
	const struct rollout_state *r = &s->rollout;
	struct kn_service_stats stats = {0};
	char vip[NETADDR_ENDPOINT_STR_LEN], elapsed[ELAPSED_LEN];
	bool ran = r->started_ms != 0;
	json_t *backends = json_array(), *obj;
	uint32_t i;

	dp_read_service(a->dp, s->dp_index, &stats);
	for (i = 0; i < s->backend_count; i++) {
		const struct backend_rt *b = s->backends[i];
		char ep[NETADDR_ENDPOINT_STR_LEN];
		json_t *bj = json_pack(
		    "{s:s, s:s, s:i, s:o}", "address",
		    netaddr_endpoint_str(&b->ep, ep, sizeof(ep)), "pool",
		    b->pool == KN_POOL_CANARY ? "canary" : "stable",
		    "stats_index", (int)b->stats_index, "kernel",
		    signals_backend_json(b));

		json_object_set_new(bj, "health", health_json(&b->health));
		json_object_set_new(bj, "metrics",
				    s->cfg.has_metrics
					? scrape_target_json(&b->target)
					: json_null());
		if (r->phase == PHASE_WARMING && b->pool == KN_POOL_CANARY)
			json_object_set_new(bj, "warmup",
					    json_pack("{s:i, s:i, s:i}", "sent",
						      (int)b->warmup.sent, "ok",
						      (int)b->warmup.ok,
						      "failed",
						      (int)b->warmup.failed));
		json_array_append_new(backends, bj);
	}
	snprintf(elapsed, sizeof(elapsed), "%.1fs",
		 (clock_wall_ms() - r->step_started_ms) / MS_PER_S);
	obj = json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:s, s:f, s:i, s:i, s:o, s:o, s:o, "
	    "s:s, s:i, s:i, s:o, s:o, s:o}",
	    "name", s->cfg.def.name, "vip",
	    netaddr_endpoint_str(&s->cfg.def.vip, vip, sizeof(vip)), "protocol",
	    s->cfg.def.proto == IPPROTO_UDP ? "udp" : "tcp", "mode",
	    dp_mode_name(dp_active_mode(a->dp)), "interface", dp_ifname(a->dp),
	    "phase", rollout_phase_name(r->phase), "canary_percent",
	    r->weight_bp / PERCENT, "step",
	    rollout_is_active(r) ? (int)r->step + 1 : 0, "steps",
	    ran ? (int)r->spec.step_count : 0, "step_elapsed",
	    r->phase == PHASE_PROGRESSING ? json_string(elapsed) : json_null(),
	    "started", status_time_json(r->started_ms), "ended",
	    status_time_json(r->ended_ms), "reason", r->reason,
	    "consecutive_failures", (int)r->consecutive_failures, "evaluations",
	    (int)r->evaluations, "rollout",
	    ran ? rollout_spec_to_json(&r->spec) : json_null(), "backends",
	    backends, "analysis",
	    s->latest_analysis ? json_incref(s->latest_analysis) : json_null());
	{
		const struct history_point *last = signals_history_last(s);

		/* The last second's signals per pool, as in the history. */
		json_object_set_new(obj, "pools",
				    last ? signals_history_pools_json(last)
					 : json_null());
	}
	json_object_set_new(
	    obj, "counters",
	    json_pack("{s:{s:I, s:I}, s:I, s:I, s:I}", "new_connections",
		      "stable", (json_int_t)stats.new_flows[KN_POOL_STABLE],
		      "canary", (json_int_t)stats.new_flows[KN_POOL_CANARY],
		      "flow_misses", (json_int_t)stats.flow_misses,
		      "no_backend", (json_int_t)stats.no_backend,
		      "config_races", (json_int_t)stats.config_races));
	json_object_set_new(obj, "datapath",
			    json_string(watch_datapath_state_locked(a)));
	json_object_set_new(
	    obj, "share",
	    signals_window_share_json(s, window_started_wall_ms(s)));
	json_object_set_new(obj, "affinity",
			    json_string(affinity_name(s->cfg.def.flags)));
	json_object_set_new(obj, "clients", signals_clients_json(s));
	/* Present only when they apply: other answers stay as they were. */
	{
		json_t *gate = gates_status_json(s);
		json_t *receivers =
		    notifier_status_json(a->notifier, s->cfg.def.name);

		json_t *forward = forward_status_json(a);

		if (forward)
			json_object_set_new(obj, "forward", forward);
		if (gate)
			json_object_set_new(obj, "gate", gate);
		if (receivers)
			json_object_set_new(obj, "notifications", receivers);
	}
	if (a->cluster)
		json_object_set_new(obj, "cluster",
				    cluster_service_json(a->cluster, s));
	return obj;
}

json_t *agent_services_json(struct agent *a)
{
	json_t *list = json_array();
	size_t i;

	pthread_mutex_lock(&a->lock);
	for (i = 0; i < a->service_count; i++)
		json_array_append_new(
		    list, agent_service_status_locked(a, a->services[i]));
	pthread_mutex_unlock(&a->lock);
	return json_pack("{s:o}", "services", list);
}

static void status_of(struct agent *a, struct service_rt *s, void *out)
{
	*(json_t **)out = agent_service_status_locked(a, s);
}

int agent_service_json(struct agent *a, const char *name, json_t **out,
		       struct agent_error *err)
{
	return agent_read_service(a, name, status_of, out, err);
}

/* The answers written as text piece by piece: {"name": ..., key: [...]}
 * and a newline. */
struct service_text {
	const char *key; /* "decisions", "points" */
	int (*items)(const struct service_rt *s, struct buf *out);
	struct buf out; /* data NULL when it ran out of memory */
};

static int decision_items(const struct service_rt *s, struct buf *out)
{
	return decision_log_items(&s->decisions, AGENT_DECISIONS_MAX, out);
}

static void service_text_of(struct agent *a, struct service_rt *s, void *arg)
{
	struct service_text *t = arg;
	json_t *head = json_pack("{s:s}", "name", s->cfg.def.name);
	char *head_text = head ? json_dumps(head, JSON_TEXT_FLAGS) : NULL;

	(void)a;
	if (!head_text || json_text_array_open(&t->out, head_text, t->key) ||
	    t->items(s, &t->out) || json_text_array_close(&t->out) ||
	    buf_append(&t->out, "\n", 1))
		buf_free(&t->out);
	json_decref(head);
	free(head_text);
}

static int service_text(struct agent *a, const char *name,
			struct service_text *t, char **text, size_t *len,
			struct agent_error *err)
{
	int ret;

	buf_init(&t->out, SIZE_MAX / 2);
	ret = agent_read_service(a, name, service_text_of, t, err);
	if (ret)
		return ret;
	if (!t->out.data) {
		agent_set_error(err, AGENT_ERR_INTERNAL, "",
				"out of memory writing the %s", t->key);
		return -ENOMEM;
	}
	*len = t->out.len;
	*text = buf_take(&t->out);
	return 0;
}

int agent_decisions_text(struct agent *a, const char *name, char **text,
			 size_t *len, struct agent_error *err)
{
	struct service_text t = {.key = "decisions", .items = decision_items};

	return service_text(a, name, &t, text, len, err);
}

int agent_history_text(struct agent *a, const char *name, char **text,
		       size_t *len, struct agent_error *err)
{
	struct service_text t = {.key = "points",
				 .items = signals_history_items};

	return service_text(a, name, &t, text, len, err);
}

int agent_prometheus_text(struct agent *a, char **text, size_t *len)
{
	int ret;

	pthread_mutex_lock(&a->lock);
	ret = prom_export(a, text, len);
	pthread_mutex_unlock(&a->lock);
	return ret;
}
