/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * agent.c - kanaryd's core (see agent.h): brings the configured services
 * and the kernel's pinned state together, runs the control loop, and
 * carries out the operators' requests.
 *
 * The loop, every tick (50 ms by default): read the kernel counters of
 * services in a rollout (others once a second), scrape what is due, check
 * the immediate rollback rules, judge steps whose time is up, and write the
 * state file when anything changed. Transitions of the rollout state
 * machine (rollout.c) come back as actions that apply_actions() carries
 * out on the data path.
 *
 * This file alone calls the rollout transitions and the data path's
 * writers (tests/static/core_calls.sh checks it): the other parts judge
 * and hand back outcomes - a warm-up's end (scrape.c), a backend going down
 * or up (health.c), the records of the state file (statefile.c) - and the
 * functions here carry them out. The queries' JSON is built in status.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_internal.h"
#include "cluster.h"
#include "heap.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/netaddr.h"
#include "util/token.h"
#include "watch.h"

#define EVAL_RETRY_MS	  1000 /* after an inconclusive verdict */
#define PERCENT		  100.0
#define DEFAULT_STATE_DIR "/var/lib/kanary"

void agent_set_error(struct agent_error *err, enum agent_errc code,
		     const char *field, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	err->code = code;
	snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

#define fail(err, code, field, ...)                                            \
	(agent_set_error((err), (code), (field), __VA_ARGS__), -EINVAL)

/* ---- services and their backends ---------------------------------------- */

/* What of a service the config file decides: when it changes, the config
 * wins over the kernel's and the state file's idea of the service. */
static uint64_t config_fingerprint(const struct service_config *c)
{
	uint64_t h = HASH_FNV64_OFFSET;
	uint32_t i;

	h = hash_fnv1a64_add(h, &c->def.vip, sizeof(c->def.vip));
	h = hash_fnv1a64_add(h, &c->def.proto, sizeof(c->def.proto));
	h = hash_fnv1a64_add(h, &c->def.canary_bp, sizeof(c->def.canary_bp));
	for (i = 0; i < c->def.stable_count; i++)
		h = hash_fnv1a64_add(h, &c->def.stable[i],
				     sizeof(c->def.stable[i]));
	h = hash_fnv1a64_add(h, "|", 1);
	for (i = 0; i < c->def.canary_count; i++)
		h = hash_fnv1a64_add(h, &c->def.canary[i],
				     sizeof(c->def.canary[i]));
	/* Only when set, so that the fingerprints of client-affinity
	 * services stay what state files written before hold. */
	if (c->def.flags & KN_SVC_F_CONNECTION_AFFINITY)
		h = hash_fnv1a64_add(h, "|connection", strlen("|connection"));
	return h;
}

struct service_rt *agent_find_service(struct agent *a, const char *name)
{
	size_t i;

	for (i = 0; i < a->service_count; i++)
		if (!strcmp(a->services[i]->cfg.def.name, name))
			return a->services[i];
	return NULL;
}

static struct backend_rt *find_backend(struct service_rt *s,
				       const struct endpoint *ep)
{
	uint32_t i;

	for (i = 0; i < s->backend_count; i++)
		if (!netaddr_endpoint_cmp(&s->backends[i]->ep, ep))
			return s->backends[i];
	return NULL;
}

/* A new analysis window: the kernel's and the scrapes' sums start over,
 * and so does the count of distinct clients. */
static void start_window(struct agent *a, struct service_rt *s,
			 uint64_t mono_ms)
{
	int ret = dp_clear_clients(a->dp, s->dp_index);

	if (ret)
		log_warn("service %s: cannot clear the client bitmap: %s",
			 s->cfg.def.name, strerror(-ret));
	s->clients_estimate = 0;
	s->few_clients_logged = false;
	signals_new_window(s, mono_ms);
	scrape_new_window(s);
}

/*
 * Makes s->backends follow the kernel's pools: a backend that stays keeps
 * its scrape state; one that leaves is retired (freed by the loop thread,
 * which owns the fetcher and may have a scrape of it in flight).
 */
static int sync_backends(struct agent *a, struct service_rt *s)
{
	const struct dp_service *dsvc = dp_service_at(a->dp, s->dp_index);
	struct backend_rt **next;
	uint32_t count = 0, p, i, j;

	if (!dsvc)
		return -ENOENT;
	next = calloc(2 * KN_MAX_POOL_BACKENDS, sizeof(*next));
	if (!next)
		return -ENOMEM;
	for (p = 0; p < KN_POOL_COUNT; p++) {
		for (i = 0; i < dsvc->pools[p].count; i++) {
			const struct dp_backend *db =
			    &dsvc->pools[p].backends[i];
			struct backend_rt *b = find_backend(s, &db->ep);

			if (!b) {
				b = calloc(1, sizeof(*b));
				if (!b)
					continue;
				b->agent = a;
				b->service = s;
				b->ep = db->ep;
				scrape_target_init(&b->target);
				b->health.down = db->down;
				if (db->down)
					snprintf(b->health.reason,
						 sizeof(b->health.reason),
						 "down when kanaryd started");
			}
			b->pool = (enum kn_pool_id)p;
			b->stats_index = db->stats_index;
			scrape_set_url(s, b);
			next[count++] = b;
		}
	}
	for (i = 0; i < s->backend_count; i++) {
		bool kept = false;

		for (j = 0; j < count && !kept; j++)
			kept = next[j] == s->backends[i];
		if (!kept) {
			s->backends[i]->retired_next = a->retired;
			a->retired = s->backends[i];
		}
	}
	free(s->backends);
	s->backends = next;
	s->backend_count = count;
	/* Pool sums jump when pools change: restart what sums them. */
	signals_reset_trail(s);
	signals_read(a, s, clock_mono_ms());
	start_window(a, s, clock_mono_ms());
	return 0;
}

static void free_retired(struct agent *a)
{
	struct backend_rt *b, *next;

	for (b = a->retired; b; b = next) {
		next = b->retired_next;
		fetcher_cancel_owner(a->fetcher, b);
		free(b);
	}
	a->retired = NULL;
}

static void service_free(struct agent *a, struct service_rt *s)
{
	uint32_t i;

	for (i = 0; i < s->backend_count; i++) {
		if (a->fetcher)
			fetcher_cancel_owner(a->fetcher, s->backends[i]);
		free(s->backends[i]);
	}
	gates_cancel(a, s);
	free(s->backends);
	decision_log_free(&s->decisions);
	free(s->history);
	json_decref(s->latest_analysis);
	free(s);
}

/* Keeps the config copy in step with the kernel's pools (for the state
 * file, the status and a later set of backends). */
static void cfg_pools_from_kernel(struct agent *a, struct service_rt *s)
{
	const struct dp_service *d = dp_service_at(a->dp, s->dp_index);
	uint32_t i;

	if (!d)
		return;
	s->cfg.def.stable_count = d->pools[KN_POOL_STABLE].count;
	for (i = 0; i < d->pools[KN_POOL_STABLE].count; i++)
		s->cfg.def.stable[i] = d->pools[KN_POOL_STABLE].backends[i].ep;
	s->cfg.def.canary_count = d->pools[KN_POOL_CANARY].count;
	for (i = 0; i < d->pools[KN_POOL_CANARY].count; i++)
		s->cfg.def.canary[i] = d->pools[KN_POOL_CANARY].backends[i].ep;
}

static void log_decision(struct service_rt *s, json_t *record)
{
	decision_log_append(&s->decisions, record);
}

/* An operator's or the agent's own event, in the decision log, with why. */
static void log_event_because(struct service_rt *s, const char *event,
			      const char *reason)
{
	json_t *record = json_pack(
	    "{s:o, s:s, s:s, s:i, s:f, s:s}", "time",
	    status_time_json(clock_wall_ms()), "event", event, "phase",
	    rollout_phase_name(s->rollout.phase), "step",
	    rollout_is_active(&s->rollout) ? (int)s->rollout.step + 1 : 0,
	    "canary_percent", s->rollout.weight_bp / PERCENT, "reason", reason);

	log_decision(s, record);
}

/* The same, the rollout's reason being why. */
static void log_event(struct service_rt *s, const char *event)
{
	log_event_because(s, event, s->rollout.reason);
}

/* Once per window: the clients are too few for the weight (a warning, not
 * a failure; the status says it for as long as it holds). */
static void check_few_clients(struct service_rt *s)
{
	char text[SIGNALS_FEW_CLIENTS_TEXT_LEN];

	if (s->few_clients_logged || !signals_few_clients(s))
		return;
	s->few_clients_logged = true;
	signals_few_clients_text(s, text, sizeof(text));
	log_warn("service %s: %s", s->cfg.def.name, text);
	log_event_because(s, "few clients", text);
}

/* Cluster mode: a change made here that raises the canary (a promotion,
 * a higher weight than the kernel's) waits for etcd: it is held, and
 * agent_cluster_release_locked() applies it once the fenced write landed.
 * A lowering applies at once and drops a raise still held. Returns the
 * actions to carry out now. */
static uint32_t hold_raise(struct agent *a, struct service_rt *s,
			   uint32_t actions)
{
	const uint32_t raise =
	    actions & (ACTION_PROMOTE_POOLS | ACTION_SET_WEIGHT);
	const struct dp_service *d = dp_service_at(a->dp, s->dp_index);

	if (!a->cluster || a->cluster_adopting || !raise)
		return actions;
	if (!(raise & ACTION_PROMOTE_POOLS) && d &&
	    s->rollout.weight_bp <= d->canary_bp) {
		s->cl_held = 0;
		return actions;
	}
	s->cl_held = raise;
	log_info("service %s: canary %.2f %% waits for etcd before it reaches "
		 "the data path",
		 s->cfg.def.name, s->rollout.weight_bp / PERCENT);
	return actions & ~raise;
}

/* Carries out what a rollout transition asks for (enum rollout_action),
 * logs it and marks the state file for writing. */
static void apply_actions(struct agent *a, struct service_rt *s,
			  uint32_t actions)
{
	uint64_t mono = clock_mono_ms();
	int ret;

	actions = hold_raise(a, s, actions);
	if (actions & ACTION_PROMOTE_POOLS) {
		ret = dp_service_promote(a->dp, s->dp_index);
		if (ret) {
			log_error("service %s: cannot make the canary pool "
				  "stable: %s",
				  s->cfg.def.name, strerror(-ret));
		} else {
			s->rollout.weight_bp = 0;
			cfg_pools_from_kernel(a, s);
			sync_backends(a, s);
			log_info("service %s: promoted: the canary pool is now "
				 "the stable pool",
				 s->cfg.def.name);
		}
	} else if (actions & ACTION_SET_WEIGHT) {
		ret = dp_service_set_weight(a->dp, s->dp_index,
					    s->rollout.weight_bp);
		if (ret)
			log_error("service %s: cannot set the weight to "
				  "%.2f %%: %s (retrying every tick)",
				  s->cfg.def.name,
				  s->rollout.weight_bp / PERCENT,
				  strerror(-ret));
	}
	if (actions & ACTION_CUT_CANARY) {
		uint32_t i;
		int cut = 0;

		for (i = 0; i < s->backend_count; i++)
			if (s->backends[i]->pool == KN_POOL_CANARY) {
				ret = dp_flush_backend_flows(
				    a->dp, s->backends[i]->stats_index);
				cut += ret > 0 ? ret : 0;
			}
		log_info("service %s: cut %d canary connections",
			 s->cfg.def.name, cut);
	}
	if (actions & ACTION_START_WARMUP) {
		s->warmup_pending = true;
		fetcher_wakeup(a->fetcher);
	}
	if (actions & ACTION_NEW_ROLLOUT) {
		signals_reset_trail(s);
		scrape_reset_trails(s);
	}
	if (actions & ACTION_NEW_WINDOW)
		start_window(a, s, mono);
	if (actions)
		log_info("service %s: %s, canary %.2f %%: %s", s->cfg.def.name,
			 rollout_phase_name(s->rollout.phase),
			 s->rollout.weight_bp / PERCENT, s->rollout.reason);
	events_update(a, s);
	a->state_dirty = true;
	/* Cluster mode: a change made here goes to etcd (cluster.c). */
	if (a->cluster && !a->cluster_adopting) {
		s->cl_dirty = true;
		cluster_wakeup(a->cluster);
	}
}

/* The kernel follows the rollout's weight; a failed write is retried. */
static void reconcile_weight(struct agent *a, struct service_rt *s)
{
	const struct dp_service *d = dp_service_at(a->dp, s->dp_index);

	if (s->cl_held)
		return; /* a raise waiting for etcd (hold_raise) */
	if (d && d->canary_bp != s->rollout.weight_bp)
		dp_service_set_weight(a->dp, s->dp_index, s->rollout.weight_bp);
}

/* Cluster mode, at start: a weight the state file has above the kernel's
 * (a raise that waited for etcd when the node stopped) waits for etcd like
 * any raise; etcd's state, read first, replaces it. */
static void hold_restored_raise(struct agent *a, struct service_rt *s)
{
	const struct dp_service *d = dp_service_at(a->dp, s->dp_index);

	if (d && s->rollout.weight_bp > d->canary_bp)
		s->cl_held = ACTION_SET_WEIGHT;
}

/* ---- creating the agent -------------------------------------------------- */

static int read_token(struct agent *a, const char *path, char *err,
		      size_t err_len)
{
	int ret =
	    token_read_file(path, a->token, sizeof(a->token), err, err_len);

	a->has_token = !ret;
	return ret;
}

static struct service_rt *service_new(const struct service_config *cfg)
{
	struct service_rt *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->cfg = *cfg;
	s->config_fingerprint = config_fingerprint(cfg);
	s->configured_connection_affinity =
	    cfg->def.flags & KN_SVC_F_CONNECTION_AFFINITY;
	rollout_init(&s->rollout, cfg->def.canary_bp);
	s->history = calloc(AGENT_HISTORY_POINTS, sizeof(*s->history));
	if (decision_log_init(&s->decisions, AGENT_DECISIONS_MAX) ||
	    !s->history) {
		decision_log_free(&s->decisions);
		free(s->history);
		free(s);
		return NULL;
	}
	ring_init(&s->history_ring, AGENT_HISTORY_POINTS);
	signals_reset_trail(s);
	return s;
}

static bool same_pools(const struct dp_service *d,
		       const struct dp_service_def *def)
{
	const struct endpoint *lists[2] = {def->stable, def->canary};
	const uint32_t counts[2] = {def->stable_count, def->canary_count};
	uint32_t p, i, j;

	for (p = 0; p < KN_POOL_COUNT; p++) {
		if (d->pools[p].count != counts[p])
			return false;
		for (i = 0; i < counts[p]; i++) {
			bool found = false;

			for (j = 0; j < d->pools[p].count && !found; j++)
				found = !netaddr_endpoint_cmp(
				    &d->pools[p].backends[j].ep, &lists[p][i]);
			if (!found)
				return false;
		}
	}
	return true;
}

/* The config copy says the affinity the kernel has (an operator may have
 * set it through the API since the config was written). */
static void affinity_from_kernel(struct service_rt *s,
				 const struct dp_service *d)
{
	s->cfg.def.flags = (s->cfg.def.flags & ~KN_SVC_F_CONNECTION_AFFINITY) |
			   (d->flags & KN_SVC_F_CONNECTION_AFFINITY);
}

/* Sets the kernel's and the config copy's affinity. */
static int apply_affinity(struct agent *a, struct service_rt *s,
			  bool connection)
{
	int ret = dp_service_set_affinity(a->dp, s->dp_index, connection);
	const struct dp_service *d = dp_service_at(a->dp, s->dp_index);

	if (d)
		affinity_from_kernel(s, d);
	return ret;
}

/*
 * A configured service meets the kernel: added when new; replaced when its
 * VIP or protocol changed; otherwise adopted as the kernel has it (a
 * rollout may have moved its weight or promoted its pools). The state file
 * then decides whether the config changed since (see statefile.c).
 */
static int place_service(struct agent *a, struct service_rt *s, char *err,
			 size_t err_len)
{
	const struct dp_service *d = dp_service_find(a->dp, s->cfg.def.name);
	char dp_err[DP_ERR_LEN];
	int ret;

	if (d && (d->proto != s->cfg.def.proto ||
		  netaddr_endpoint_cmp(&d->vip, &s->cfg.def.vip))) {
		log_info("service %s: VIP or protocol changed: replacing it",
			 s->cfg.def.name);
		dp_service_remove(a->dp, d->index);
		d = NULL;
	}
	if (d) {
		s->dp_index = d->index;
		s->rollout.weight_bp = d->canary_bp;
		if (!same_pools(d, &s->cfg.def))
			log_info("service %s: keeping the pools the running "
				 "data path has (a rollout changed them)",
				 s->cfg.def.name);
		cfg_pools_from_kernel(a, s);
		affinity_from_kernel(s, d);
		return 0;
	}
	ret = dp_service_add(a->dp, &s->cfg.def, &s->dp_index, dp_err,
			     sizeof(dp_err));
	if (ret)
		snprintf(err, err_len, "service %s: %s", s->cfg.def.name,
			 dp_err);
	return ret;
}

/* The config changed since the state file: its pools and weight win and
 * the rollout starts over, idle. `configured` is the service as the config
 * file has it: place_service() replaced the pools of s->cfg with the
 * kernel's when it adopted the service. */
static void apply_config_pools(struct agent *a, struct service_rt *s,
			       const struct service_config *configured)
{
	const struct dp_service_def *def = &configured->def;
	char dp_err[DP_ERR_LEN];

	if (dp_service_update(a->dp, s->dp_index, def->stable,
			      def->stable_count, def->canary, def->canary_count,
			      def->canary_bp, dp_err, sizeof(dp_err)))
		log_error("service %s: cannot apply the configured pools: %s",
			  def->name, dp_err);
	cfg_pools_from_kernel(a, s);
	if (apply_affinity(a, s, s->configured_connection_affinity))
		log_error("service %s: cannot apply the configured affinity",
			  def->name);
	rollout_init(&s->rollout, def->canary_bp);
}

/* The stable pool's baseline comes back with an active rollout: the last
 * steps (no traffic to the stable pool) are judged against it. */
static void restore_baseline(struct service_rt *s,
			     const struct state_record *rec)
{
	if (!rec->has_stable_baseline || !rollout_is_active(&s->rollout))
		return;
	s->have_stable_baseline = true;
	s->stable_baseline_step = rec->stable_baseline_step;
	s->stable_baseline_kernel = rec->stable_baseline_kernel;
	s->stable_baseline_metrics = rec->stable_baseline_metrics;
	log_info("service %s: the stable pool's baseline from step %u comes "
		 "back with the rollout",
		 s->cfg.def.name, s->stable_baseline_step);
}

/* A state file's record meets its service: resumed when the config is what
 * it was when the record was written, else the config wins. */
static void restore_service(struct agent *a, const struct agent_config *cfg,
			    struct state_record *rec)
{
	struct service_rt *s = agent_find_service(a, rec->name);
	const struct service_config *configured = NULL;
	char mine[STATE_FINGERPRINT_LEN];
	size_t i;

	if (!s || !rec->has_fingerprint)
		return;
	for (i = 0; i < cfg->service_count && !configured; i++)
		if (!strcmp(cfg->services[i].def.name, rec->name))
			configured = &cfg->services[i];
	statefile_fingerprint(s->config_fingerprint, mine, sizeof(mine));
	if (strcmp(mine, rec->config_fingerprint)) {
		log_info("service %s: the config changed since the state file "
			 "was written: applying the configured pools, the "
			 "rollout starts idle",
			 s->cfg.def.name);
		apply_config_pools(a, s, configured ? configured : &s->cfg);
		return;
	}
	if (rec->rollout_error) {
		log_warn("service %s: %s: starting idle", s->cfg.def.name,
			 rec->rollout_error);
	} else {
		s->rollout = rec->rollout;
		restore_baseline(s, rec);
	}
	if (rec->decisions)
		decision_log_load(&s->decisions, rec->decisions);
	s->evaluations[VERDICT_PASS] = rec->evaluations_pass;
	s->evaluations[VERDICT_FAIL] = rec->evaluations_fail;
	s->rollbacks = rec->rollbacks;
}

static int restore_state(struct agent *a, const struct agent_config *cfg)
{
	struct state_record *records;
	size_t count, i;
	int ret;

	ret = statefile_load(a->cfg.state_file, &records, &count);
	if (ret)
		return ret;
	for (i = 0; i < count; i++)
		restore_service(a, cfg, &records[i]);
	statefile_records_free(records, count);
	return 0;
}

static void remove_unconfigured(struct agent *a)
{
	uint32_t i;

	for (i = 0; i < dp_max_services(a->dp); i++) {
		const struct dp_service *d = dp_service_at(a->dp, i);

		if (d && !agent_find_service(a, d->name)) {
			log_info("service %s is not configured any more: "
				 "removing it from the data path",
				 d->name);
			dp_service_remove(a->dp, i);
		}
	}
}

static void default_state_file(struct agent *a)
{
	const char *base = strrchr(a->cfg.pin_dir, '/');

	if (a->cfg.state_file[0])
		return;
	snprintf(a->cfg.state_file, sizeof(a->cfg.state_file), "%s/%s.json",
		 DEFAULT_STATE_DIR, base ? base + 1 : a->cfg.pin_dir);
}

int agent_create(const struct agent_config *cfg,
		 const struct agent_options *opts, struct agent **out,
		 char *err, size_t err_len)
{
	const struct dp_options dpo = {
	    .ifname = cfg->iface[0] ? cfg->iface : NULL,
	    .pin_dir = cfg->pin_dir,
	    .mode = cfg->mode,
	    .max_flows = cfg->max_flows,
	    .max_services = cfg->max_services,
	    .max_backends = cfg->max_backends,
	    .takeover = opts->takeover,
	    .forward = cfg->forward,
	};
	char dp_err[DP_ERR_LEN];
	struct agent *a;
	size_t i;
	int ret;

	*out = NULL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	pthread_mutex_init(&a->lock, NULL);
	a->cfg = *cfg;
	a->cfg.services = NULL;
	a->cfg.service_count = 0;
	a->opts = *opts;
	a->started_wall_ms = clock_wall_ms();
	default_state_file(a);

	if (cfg->token_file[0]) {
		ret = read_token(a, cfg->token_file, err, err_len);
		if (ret)
			goto fail;
	}
	ret = notifier_create(cfg, &a->notifier, err, err_len);
	if (ret)
		goto fail;
	ret = fetcher_create(AGENT_FETCH_IN_FLIGHT_MAX, &a->fetcher);
	if (ret) {
		snprintf(err, err_len, "cannot start the HTTP client: %s",
			 strerror(-ret));
		goto fail;
	}
	a->probes = health_probes_create();
	if (!a->probes) {
		ret = -ENOMEM;
		snprintf(err, err_len, "cannot allocate the health probes");
		goto fail;
	}
	ret = dp_open(&dpo, &a->dp, dp_err, sizeof(dp_err));
	if (ret) {
		snprintf(err, err_len, "%s", dp_err);
		goto fail;
	}

	a->services = calloc(cfg->service_count ? cfg->service_count : 1,
			     sizeof(*a->services));
	if (!a->services) {
		ret = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < cfg->service_count; i++) {
		struct service_rt *s = service_new(&cfg->services[i]);

		if (!s) {
			ret = -ENOMEM;
			goto fail;
		}
		a->services[a->service_count++] = s;
		ret = place_service(a, s, err, err_len);
		if (ret)
			goto fail;
	}
	remove_unconfigured(a);
	ret = restore_state(a, cfg);
	if (ret)
		log_warn("state file %s not used: %s (rollouts start idle)",
			 a->cfg.state_file, strerror(-ret));
	for (i = 0; i < a->service_count; i++) {
		struct service_rt *s = a->services[i];

		sync_backends(a, s);
		if (cfg->cluster.enabled)
			hold_restored_raise(a, s);
		reconcile_weight(a, s);
		if (rollout_is_active(&s->rollout))
			log_info("service %s: resuming the rollout at step %u "
				 "of %u (%s, canary %.2f %%)",
				 s->cfg.def.name, s->rollout.step + 1,
				 s->rollout.spec.step_count,
				 rollout_phase_name(s->rollout.phase),
				 s->rollout.weight_bp / PERCENT);
		if (s->rollout.phase == PHASE_WARMING)
			s->warmup_pending = true;
		events_sync(s);
	}
	a->state_dirty = true;
	if (cfg->cluster.enabled) {
		ret = cluster_create(a, &cfg->cluster, cfg->listen, &a->cluster,
				     err, err_len);
		if (ret)
			goto fail;
	}
	*out = a;
	return 0;
fail:
	a->opts.keep_attached = a->dp && dp_adopted_services(a->dp) > 0;
	agent_destroy(a);
	return ret ? ret : -EINVAL;
}

void agent_destroy(struct agent *a)
{
	size_t i;

	if (!a)
		return;
	cluster_destroy(a->cluster);
	a->cluster = NULL;
	if (a->dp && a->state_dirty)
		statefile_save(a);
	for (i = 0; i < a->service_count; i++)
		service_free(a, a->services[i]);
	free(a->services);
	if (a->fetcher)
		free_retired(a);
	health_probes_destroy(a->probes, a->fetcher);
	fetcher_destroy(a->fetcher);
	notifier_destroy(a->notifier);
	dp_close(a->dp, !a->opts.keep_attached);
	pthread_mutex_destroy(&a->lock);
	memset(a->token, 0, sizeof(a->token));
	free(a);
}

const char *agent_listen_address(const struct agent *a)
{
	return a->cfg.listen;
}

const char *agent_token(const struct agent *a)
{
	return a->has_token ? a->token : NULL;
}

/* ---- the control loop ------------------------------------------------------
 */

/* The last record, when it held the same step undecided. */
static json_t *held_record(struct service_rt *s, json_t *decision)
{
	json_t *last = decision_log_newest(&s->decisions);
	const char *v = json_string_value(json_object_get(decision, "verdict"));
	const char *lv = json_string_value(json_object_get(last, "verdict"));

	if (!last || !v || !lv || strcmp(v, "inconclusive") ||
	    strcmp(lv, "inconclusive") ||
	    !json_equal(json_object_get(last, "step"),
			json_object_get(decision, "step")))
		return NULL;
	return last;
}

static void record_evaluation(struct service_rt *s, json_t *decision,
			      const char *phase_before)
{
	json_t *held;

	json_object_set_new(decision, "time",
			    status_time_json(clock_wall_ms()));
	json_object_set_new(decision, "phase_before",
			    json_string(phase_before));
	json_object_set_new(decision, "phase_after",
			    json_string(rollout_phase_name(s->rollout.phase)));
	json_object_set_new(decision, "outcome",
			    json_string(s->rollout.reason));
	json_decref(s->latest_analysis);
	s->latest_analysis = json_incref(decision);
	/* A step held undecided for a while is one record, updated, with
	 * how often it was judged: the log keeps what changed. */
	held = held_record(s, decision);
	if (held) {
		json_int_t times =
		    json_integer_value(json_object_get(held, "evaluations"));

		json_object_set(decision, "first_time",
				json_object_get(held, "first_time")
				    ? json_object_get(held, "first_time")
				    : json_object_get(held, "time"));
		json_object_set_new(decision, "evaluations",
				    json_integer(times ? times + 1 : 2));
		decision_log_replace_newest(&s->decisions, decision);
		return;
	}
	log_decision(s, decision);
}

/*
 * What follows every transition the loop decides on its own (an
 * evaluation, an immediate rule, the end of a warm-up): a rollback is
 * counted by its reason, the decision record (if any) goes to the log, and
 * the actions are carried out - the canary's flows cut among them.
 */
static void judged(struct agent *a, struct service_rt *s,
		   enum rollout_phase before, uint32_t actions,
		   enum rollback_reason reason, json_t *record)
{
	if (s->rollout.phase == PHASE_ROLLED_BACK &&
	    before != PHASE_ROLLED_BACK) {
		a->rollbacks_by_reason[reason]++;
		s->rollbacks++;
	}
	if (record)
		record_evaluation(s, record, rollout_phase_name(before));
	apply_actions(a, s, actions);
}

/* The warm-up ended (scrape.c): on to the first step, or back. */
static void warmup_ended(struct agent *a, struct service_rt *s,
			 const struct warmup_outcome *o)
{
	enum rollout_phase before = s->rollout.phase;
	uint64_t wall = clock_wall_ms();
	uint32_t actions = 0;

	if (o->failed)
		rollout_rollback(&s->rollout, o->why, wall, &actions);
	else
		rollout_warmup_done(&s->rollout, wall, &actions);
	judged(a, s, before, actions, ROLLBACK_ANALYSIS, NULL);
}

/* health.c judged that b must go down or come back up: the kernel's map
 * says so (a backend that is down leaves its pool's Maglev table). */
static void set_backend_down(struct agent *a, struct service_rt *s,
			     struct backend_rt *b,
			     const struct health_change *c)
{
	char ep[NETADDR_ENDPOINT_STR_LEN];
	int ret;

	ret = dp_service_set_down(a->dp, s->dp_index, &b->ep, c->down);
	netaddr_endpoint_str(&b->ep, ep, sizeof(ep));
	if (ret) {
		log_error("service %s: cannot mark %s %s: %s", s->cfg.def.name,
			  ep, c->down ? "down" : "up", strerror(-ret));
		return;
	}
	b->health.down = c->down;
	snprintf(b->health.reason, sizeof(b->health.reason), "%s", c->why);
	if (c->down)
		log_warn("service %s: %s backend %s is down (%s): its share of "
			 "new connections goes to the other replicas",
			 s->cfg.def.name,
			 b->pool == KN_POOL_CANARY ? "canary" : "stable", ep,
			 c->why);
	else
		log_info("service %s: backend %s is up again (%s)",
			 s->cfg.def.name, ep, c->why);
}

static void check_health(struct agent *a, struct service_rt *s, uint64_t mono)
{
	struct health_change c;
	uint32_t i;

	for (i = 0; i < s->backend_count; i++)
		if (health_check(a, s->backends[i], mono, &c))
			set_backend_down(a, s, s->backends[i], &c);
}

static bool stable_enough(const struct service_rt *s,
			  const struct analysis_input *in)
{
	double needed = s->rollout.spec.min_requests;
	const struct kernel_window *k = &in->kernel[ANALYSIS_STABLE];
	const struct metrics_window *m = &in->metrics[ANALYSIS_STABLE];

	if (in->http_observed ? k->requests < needed : k->new_flows < needed)
		return false;
	return !in->metrics_configured ||
	       (m->complete && m->requests >= needed);
}

/*
 * At the last steps (100 %: all new connections go to the canary) the
 * stable pool has nothing to compare with: its window from the last step
 * where it had enough traffic stands in, and the decision says so.
 */
static void stable_baseline(struct service_rt *s, struct analysis_input *in)
{
	if (stable_enough(s, in)) {
		s->have_stable_baseline = true;
		s->stable_baseline_step = s->rollout.step + 1;
		s->stable_baseline_kernel = in->kernel[ANALYSIS_STABLE];
		s->stable_baseline_metrics = in->metrics[ANALYSIS_STABLE];
		return;
	}
	if (!s->have_stable_baseline || s->rollout.step == 0)
		return;
	in->kernel[ANALYSIS_STABLE] = s->stable_baseline_kernel;
	if (in->metrics_configured)
		in->metrics[ANALYSIS_STABLE] = s->stable_baseline_metrics;
	in->stable_baseline_step = s->stable_baseline_step;
}

static void evaluate(struct agent *a, struct service_rt *s, uint64_t mono,
		     uint64_t wall)
{
	struct analysis_input *in = calloc(1, sizeof(*in));
	struct analysis_result res;
	enum rollout_phase before = s->rollout.phase;
	json_t *nodes_note = NULL;
	uint32_t actions = 0;

	if (!in)
		return;
	in->spec = &s->rollout.spec;
	in->step = s->rollout.step;
	in->weight_bp = s->rollout.weight_bp;
	in->window_ms = mono - s->window_started_mono_ms;
	in->http_observed = s->cfg.def.flags & KN_SVC_F_HTTP;
	in->metrics_configured = s->cfg.has_metrics;
	signals_kernel_window(s, in->kernel);
	/* In a cluster, the leader judges every live node's traffic. */
	if (a->cluster)
		nodes_note = cluster_sum_windows(a->cluster, s, in->kernel);
	if (s->cfg.has_metrics)
		scrape_metrics_window(s, in->metrics);
	stable_baseline(s, in);
	analysis_evaluate(in, &res);
	free(in);
	if (nodes_note)
		json_object_set_new(res.decision, "nodes", nodes_note);
	s->evaluations[res.verdict]++;
	rollout_evaluated(&s->rollout, res.verdict, res.reason, wall, &actions);
	judged(a, s, before, actions, ROLLBACK_ANALYSIS, res.decision);
	/* An undecided step keeps its window (more data accumulates) and is
	 * judged again soon, not on every tick. */
	if (res.verdict == VERDICT_INCONCLUSIVE)
		s->next_eval_wall_ms = wall + EVAL_RETRY_MS;
}

static void check_immediate(struct agent *a, struct service_rt *s)
{
	const struct analysis_spec *spec = &s->rollout.spec.analysis;
	struct trailing_counts kernel, metrics;
	char why[ROLLOUT_REASON_LEN];
	enum rollout_phase before = s->rollout.phase;
	uint32_t actions = 0;
	json_t *record;

	signals_trailing(s, spec->rollback_min_requests, &kernel);
	if (!(s->cfg.def.flags & KN_SVC_F_HTTP))
		kernel.requests = kernel.errors = 0;
	scrape_trailing(s, spec->rollback_min_requests, clock_mono_ms(),
			&metrics);
	if (!analysis_immediate_rollback(spec, &kernel, &metrics, why,
					 sizeof(why)))
		return;
	if (rollout_rollback(&s->rollout, why, clock_wall_ms(), &actions))
		return;
	record = json_pack(
	    "{s:s, s:s, s:s, s:{s:f, s:f, s:f, s:I}, s:{s:b, s:f, s:f, "
	    "s:I}, s:{s:f, s:i, s:i}}",
	    "rule", "immediate", "verdict", "fail", "reason", why, "kernel",
	    "requests", kernel.requests, "errors", kernel.errors, "refused",
	    kernel.refused, "span_ms", (json_int_t)kernel.span_ms, "metrics",
	    "valid", metrics.valid, "requests", metrics.requests, "errors",
	    metrics.errors, "span_ms", (json_int_t)metrics.span_ms, "threshold",
	    "rollback_error_rate_pct", spec->rollback_error_rate_pct,
	    "rollback_min_requests", (int)spec->rollback_min_requests,
	    "rollback_refused", (int)spec->rollback_refused);
	judged(a, s, before, actions,
	       kernel.refused >= spec->rollback_refused ? ROLLBACK_REFUSED
							: ROLLBACK_ERROR_RATE,
	       record);
}

static void service_tick(struct agent *a, struct service_rt *s, uint64_t mono,
			 uint64_t wall)
{
	bool active = rollout_is_active(&s->rollout);

	if (active ||
	    mono - s->last_read_mono_ms >= AGENT_IDLE_READ_INTERVAL_MS)
		signals_read(a, s, mono);
	signals_history_tick(s, mono, wall);
	check_few_clients(s);
	check_health(a, s, mono);
	scrape_tick(a, s, mono);
	/* In a cluster, a warm-up runs on the node that started the rollout;
	 * the leader runs it again when it runs nowhere here (that node
	 * died, or the leader changed): WARMING never stays for good. */
	if (a->cluster && s->rollout.phase == PHASE_WARMING &&
	    !s->warmup_running && !s->warmup_pending &&
	    cluster_may_judge(a->cluster, s)) {
		log_info("service %s: the leader takes the warm-up over",
			 s->cfg.def.name);
		s->warmup_pending = true;
	}
	warmup_tick(a, s);
	reconcile_weight(a, s);
	events_targets(a, s);
	if (!active)
		return;
	check_immediate(a, s);
	/* Also while a gate waits at a step: a failure still rolls back.
	 * In a cluster, the leader alone judges steps (cluster.h). */
	if (rollout_due(&s->rollout, wall) && wall >= s->next_eval_wall_ms &&
	    (!a->cluster || cluster_may_judge(a->cluster, s)))
		evaluate(a, s, mono, wall);
	gates_tick(a, s, mono);
}

/* The fetcher's callbacks may have ended warm-ups. */
static void take_warmup_outcomes(struct agent *a)
{
	struct warmup_outcome o;
	size_t i;

	for (i = 0; i < a->service_count; i++)
		if (warmup_take_outcome(a->services[i], &o))
			warmup_ended(a, a->services[i], &o);
}

/* A gate's URL said yes (on to where the rollout was going) or refused
 * explicitly (back); a holding answer stays with gates.c. */
static void take_gate_answers(struct agent *a)
{
	char why[GATE_WHY_LEN];
	enum gate_answer answer;
	size_t i;

	for (i = 0; i < a->service_count; i++) {
		struct service_rt *s = a->services[i];
		enum rollout_phase before = s->rollout.phase;
		uint32_t actions = 0;

		if (!gates_take_answer(s, &answer, why, sizeof(why)))
			continue;
		if (answer == GATE_REFUSE) {
			rollout_gate_refused(&s->rollout, why, clock_wall_ms(),
					     &actions);
			log_event(s, "gate refused");
			events_emit(a, s, NOTIFY_GATE_REFUSED, NULL);
		} else {
			rollout_gate_passed(&s->rollout, why, clock_wall_ms(),
					    &actions);
			log_event(s, "gate passed");
		}
		judged(a, s, before, actions, ROLLBACK_GATE, NULL);
	}
}

/* The watch (watch.c) says whether the hooks were emptied; attaching
 * again is a data-path change, so the core makes it. */
static void reattach_if_due(struct agent *a)
{
	char err[DP_ERR_LEN] = "";
	bool changed;
	int ret;

	if (!watch_tick(a, &changed))
		return;
	ret = dp_reattach(a->dp, err, sizeof(err));
	watch_reattached(a, ret, err, changed);
}

int agent_run(struct agent *a)
{
	uint64_t next_tick = clock_mono_ms();
	uint64_t next_trim = next_tick + AGENT_HEAP_TRIM_INTERVAL_MS;

	while (!a->stop) {
		uint64_t mono = clock_mono_ms(), wall;
		size_t i;

		if (mono < next_tick)
			fetcher_wait(a->fetcher, (int)(next_tick - mono));
		pthread_mutex_lock(&a->lock);
		fetcher_poll(a->fetcher);
		take_warmup_outcomes(a);
		take_gate_answers(a);
		free_retired(a);
		mono = clock_mono_ms();
		if (mono >= next_tick) {
			wall = clock_wall_ms();
			for (i = 0; i < a->service_count; i++)
				service_tick(a, a->services[i], mono, wall);
			health_probes_sweep(a->probes, mono);
			reattach_if_due(a);
			next_tick = mono + a->cfg.tick_ms;
		}
		if (a->state_dirty && !statefile_save(a))
			a->state_dirty = false;
		pthread_mutex_unlock(&a->lock);
		if (mono >= next_trim) {
			/* Freed small blocks leave whole pages free in
			 * each thread's arena: back to the system. */
			heap_trim();
			next_trim = mono + AGENT_HEAP_TRIM_INTERVAL_MS;
		}
	}
	return 0;
}

void agent_stop(struct agent *a)
{
	a->stop = 1;
	if (a->fetcher)
		fetcher_wakeup(a->fetcher);
}

/* ---- operations ------------------------------------------------------------
 */

struct service_rt *agent_lookup(struct agent *a, const char *name,
				struct agent_error *err)
{
	struct service_rt *s = agent_find_service(a, name);

	if (!s)
		agent_set_error(err, AGENT_ERR_NOT_FOUND, "",
				"no service named '%s'", name);
	return s;
}

bool agent_service_exists(struct agent *a, const char *name,
			  struct agent_error *err)
{
	bool found;

	pthread_mutex_lock(&a->lock);
	found = agent_lookup(a, name, err) != NULL;
	pthread_mutex_unlock(&a->lock);
	return found;
}

int agent_read_service(struct agent *a, const char *name, service_read_fn fn,
		       void *out, struct agent_error *err)
{
	struct service_rt *s;

	pthread_mutex_lock(&a->lock);
	s = agent_lookup(a, name, err);
	if (s)
		fn(a, s, out);
	pthread_mutex_unlock(&a->lock);
	return s ? 0 : -ENOENT;
}

static void rollout_defaults_of(struct agent *a, struct service_rt *s,
				void *out)
{
	struct rollout_spec *spec = out;

	(void)a;
	*spec = s->cfg.rollout;
}

int agent_rollout_defaults(struct agent *a, const char *name,
			   struct rollout_spec *out, struct agent_error *err)
{
	return agent_read_service(a, name, rollout_defaults_of, out, err);
}

/* Runs one transition under the lock; a refusal is a conflict saying why. */
typedef int (*transition_fn)(struct agent *a, struct service_rt *s,
			     const void *arg, uint32_t *actions,
			     struct agent_error *err);

static int transition(struct agent *a, const char *name, transition_fn fn,
		      const void *arg, const char *event, json_t **out,
		      struct agent_error *err)
{
	struct service_rt *s;
	uint32_t actions = 0;
	int ret = -ENOENT;

	pthread_mutex_lock(&a->lock);
	s = agent_lookup(a, name, err);
	if (s) {
		ret = fn(a, s, arg, &actions, err);
		if (!ret) {
			log_event(s, event);
			apply_actions(a, s, actions);
			if (out)
				*out = agent_service_status_locked(a, s);
		}
	}
	pthread_mutex_unlock(&a->lock);
	return ret;
}

/* The state machine refused: the request conflicts with the phase. */
static int refused(struct service_rt *s, int ret, struct agent_error *err)
{
	agent_set_error(err, AGENT_ERR_CONFLICT, "", "%s", s->rollout.reason);
	return ret;
}

static int do_start(struct agent *a, struct service_rt *s, const void *arg,
		    uint32_t *actions, struct agent_error *err)
{
	const struct rollout_spec *spec = arg ? arg : &s->cfg.rollout;
	const struct dp_service *d = dp_service_at(a->dp, s->dp_index);
	int ret;

	ret = rollout_start(&s->rollout, spec,
			    d && d->pools[KN_POOL_CANARY].count > 0,
			    clock_wall_ms(), actions);
	if (ret)
		return refused(s, ret, err);
	s->next_eval_wall_ms = 0;
	s->have_stable_baseline = false;
	return 0;
}

int agent_rollout_start(struct agent *a, const char *name,
			const struct rollout_spec *spec, json_t **out,
			struct agent_error *err)
{
	return transition(a, name, do_start, spec, "rollout started", out, err);
}

/* A transition that takes nothing but the time: pause, resume, abort. */
struct timed_transition {
	int (*apply)(struct rollout_state *r, uint64_t now_ms,
		     uint32_t *actions);
};

static int do_timed(struct agent *a, struct service_rt *s, const void *arg,
		    uint32_t *actions, struct agent_error *err)
{
	const struct timed_transition *t = arg;
	int ret = t->apply(&s->rollout, clock_wall_ms(), actions);

	(void)a;
	return ret ? refused(s, ret, err) : 0;
}

int agent_rollout_pause(struct agent *a, const char *name, json_t **out,
			struct agent_error *err)
{
	static const struct timed_transition pause_now = {rollout_pause};

	return transition(a, name, do_timed, &pause_now, "paused", out, err);
}

int agent_rollout_resume(struct agent *a, const char *name, json_t **out,
			 struct agent_error *err)
{
	static const struct timed_transition resume_now = {rollout_resume};

	return transition(a, name, do_timed, &resume_now, "resumed", out, err);
}

static int do_promote(struct agent *a, struct service_rt *s, const void *arg,
		      uint32_t *actions, struct agent_error *err)
{
	const bool *full = arg;
	int ret = rollout_promote(&s->rollout, *full, clock_wall_ms(), actions);

	(void)a;
	return ret ? refused(s, ret, err) : 0;
}

int agent_rollout_promote(struct agent *a, const char *name, bool full,
			  json_t **out, struct agent_error *err)
{
	return transition(a, name, do_promote, &full,
			  full ? "promoted fully" : "promoted one step", out,
			  err);
}

static int do_approve(struct agent *a, struct service_rt *s, const void *arg,
		      uint32_t *actions, struct agent_error *err)
{
	int ret = rollout_gate_passed(&s->rollout, "approved by an operator",
				      clock_wall_ms(), actions);

	(void)a, (void)arg;
	return ret ? refused(s, ret, err) : 0;
}

int agent_rollout_approve(struct agent *a, const char *name, json_t **out,
			  struct agent_error *err)
{
	return transition(a, name, do_approve, NULL, "gate approved", out, err);
}

int agent_rollout_abort(struct agent *a, const char *name, json_t **out,
			struct agent_error *err)
{
	static const struct timed_transition abort_now = {rollout_abort};

	return transition(a, name, do_timed, &abort_now, "aborted", out, err);
}

static int do_weight(struct agent *a, struct service_rt *s, const void *arg,
		     uint32_t *actions, struct agent_error *err)
{
	const uint32_t *bp = arg;
	const struct dp_service *d = dp_service_at(a->dp, s->dp_index);
	int ret;

	if (*bp > KN_WEIGHT_SCALE_BP)
		return fail(err, AGENT_ERR_INVALID, "canary_percent",
			    "must be between 0 and 100 (%u basis points "
			    "given)",
			    *bp);
	if (*bp > 0 && (!d || !d->pools[KN_POOL_CANARY].count))
		return fail(err, AGENT_ERR_CONFLICT, "canary_percent",
			    "the service has no canary backends: set them "
			    "with PUT .../backends first");
	ret = rollout_set_weight(&s->rollout, *bp, actions);
	if (ret)
		return refused(s, ret, err);
	/* Outside a rollout, a weight set by hand is the new starting
	 * point: the last rollout's outcome stays in the decision log. */
	s->rollout.phase = PHASE_IDLE;
	return 0;
}

int agent_set_weight(struct agent *a, const char *name, uint32_t canary_bp,
		     json_t **out, struct agent_error *err)
{
	return transition(a, name, do_weight, &canary_bp, "weight set", out,
			  err);
}

static int do_affinity(struct agent *a, struct service_rt *s, const void *arg,
		       uint32_t *actions, struct agent_error *err)
{
	const bool *connection = arg;
	bool was = s->cfg.def.flags & KN_SVC_F_CONNECTION_AFFINITY;
	int ret;

	if (was == *connection)
		return 0;
	ret = apply_affinity(a, s, *connection);
	if (ret)
		return fail(err, AGENT_ERR_INTERNAL, "",
			    "cannot write the affinity of service %s to the "
			    "kernel: %s",
			    s->cfg.def.name, strerror(-ret));
	*actions |= ACTION_NEW_WINDOW;
	return 0;
}

int agent_set_affinity(struct agent *a, const char *name, bool connection,
		       json_t **out, struct agent_error *err)
{
	return transition(a, name, do_affinity, &connection,
			  connection ? "affinity set: connection"
				     : "affinity set: client",
			  out, err);
}

/* agent_set_backends()'s arguments, through transition(). */
struct backends_arg {
	const struct endpoint *list[KN_POOL_COUNT];
	uint32_t count[KN_POOL_COUNT];
	bool set[KN_POOL_COUNT];
};

/* config_check_backends asks whose VIP an endpoint is. */
static const char *vip_owner(const void *arg, uint8_t proto,
			     const struct endpoint *ep)
{
	const struct agent *a = arg;
	size_t i;

	for (i = 0; i < a->service_count; i++)
		if (a->services[i]->cfg.def.proto == proto &&
		    !netaddr_endpoint_cmp(&a->services[i]->cfg.def.vip, ep))
			return a->services[i]->cfg.def.name;
	return NULL;
}

static int do_backends(struct agent *a, struct service_rt *s, const void *arg,
		       uint32_t *actions, struct agent_error *err)
{
	static const char *const pool_names[KN_POOL_COUNT] = {
	    [KN_POOL_STABLE] = "stable", [KN_POOL_CANARY] = "canary"};
	const struct backends_arg *ba = arg;
	struct dp_service_def def = s->cfg.def;
	struct endpoint *lists[KN_POOL_COUNT] = {def.stable, def.canary};
	uint32_t *counts[KN_POOL_COUNT] = {&def.stable_count,
					   &def.canary_count};
	char dp_err[DP_ERR_LEN];
	char field[AGENT_ERR_FIELD_LEN], message[AGENT_ERR_MSG_LEN];
	uint32_t p;
	int ret;

	(void)actions;
	for (p = 0; p < KN_POOL_COUNT; p++) {
		if (!ba->set[p])
			continue;
		if (ba->count[p] > KN_MAX_POOL_BACKENDS)
			return fail(err, AGENT_ERR_INVALID, pool_names[p],
				    "has more than %d backends",
				    KN_MAX_POOL_BACKENDS);
		if (ba->count[p])
			memcpy(lists[p], ba->list[p],
			       ba->count[p] * sizeof(*lists[p]));
		*counts[p] = ba->count[p];
	}
	if (!def.stable_count)
		return fail(err, AGENT_ERR_INVALID, "stable",
			    "must not be empty: the stable pool serves "
			    "everyone the canary does not");
	if (rollout_is_active(&s->rollout))
		return fail(err, AGENT_ERR_CONFLICT, "",
			    "cannot replace backends during a rollout (%s, "
			    "step %u of %u): abort it or let it finish",
			    rollout_phase_name(s->rollout.phase),
			    s->rollout.step + 1, s->rollout.spec.step_count);
	/* The backends a config file or the flags would refuse (where the
	 * data path's own pool checks answered before: after the 409). */
	if (config_check_backends(&def, s->cfg.allow_local_backends, vip_owner,
				  a, field, sizeof(field), message,
				  sizeof(message)))
		return fail(err, AGENT_ERR_INVALID, field, "%s", message);
	ret = dp_service_update(a->dp, s->dp_index, def.stable,
				def.stable_count, def.canary, def.canary_count,
				def.canary_count ? s->rollout.weight_bp : 0,
				dp_err, sizeof(dp_err));
	if (ret)
		return fail(err,
			    ret == -ENOSPC ? AGENT_ERR_CONFLICT
					   : AGENT_ERR_INVALID,
			    "", "%s", dp_err);
	if (!def.canary_count)
		s->rollout.weight_bp = 0;
	cfg_pools_from_kernel(a, s);
	sync_backends(a, s);
	snprintf(s->rollout.reason, sizeof(s->rollout.reason),
		 "backends replaced: %u stable, %u canary", def.stable_count,
		 def.canary_count);
	return 0;
}

int agent_set_backends(struct agent *a, const char *name,
		       const struct endpoint *stable, uint32_t stable_count,
		       bool set_stable, const struct endpoint *canary,
		       uint32_t canary_count, bool set_canary, json_t **out,
		       struct agent_error *err)
{
	const struct backends_arg ba = {
	    .list = {[KN_POOL_STABLE] = stable, [KN_POOL_CANARY] = canary},
	    .count = {[KN_POOL_STABLE] = stable_count,
		      [KN_POOL_CANARY] = canary_count},
	    .set =
		{[KN_POOL_STABLE] = set_stable, [KN_POOL_CANARY] = set_canary},
	};

	return transition(a, name, do_backends, &ba, "backends set", out, err);
}

/* ---- cluster mode: etcd's state applied here (cluster.c) ----------------- */

/* The kernel's pools made etcd's (a backends change made elsewhere). */
static int adopt_pools(struct agent *a, struct service_rt *s,
		       const struct dp_service_def *pools, uint32_t weight_bp)
{
	const struct dp_service *d = dp_service_at(a->dp, s->dp_index);
	char dp_err[DP_ERR_LEN];

	if (!d || !pools || same_pools(d, pools))
		return 0;
	if (dp_service_update(a->dp, s->dp_index, pools->stable,
			      pools->stable_count, pools->canary,
			      pools->canary_count, weight_bp, dp_err,
			      sizeof(dp_err))) {
		log_error("service %s: cannot apply the cluster's pools: %s "
			  "(keeping these)",
			  s->cfg.def.name, dp_err);
		return -EINVAL;
	}
	cfg_pools_from_kernel(a, s);
	sync_backends(a, s);
	log_info("service %s: applied the cluster's pools: %u stable, %u "
		 "canary",
		 s->cfg.def.name, pools->stable_count, pools->canary_count);
	return 0;
}

void agent_cluster_adopt_locked(struct agent *a, struct service_rt *s,
				const struct state_record *rec,
				const struct dp_service_def *pools,
				uint64_t generation, int64_t mod_rev)
{
	const struct rollout_state before = s->rollout;
	const struct rollout_state *r = &rec->rollout;
	bool promotion =
	    rollout_is_active(&before) && r->phase == PHASE_PROMOTED;
	uint32_t actions = 0;

	/* A promotion is made here as the leader made it (the canary pool
	 * becomes the stable pool, its flows kept); other pool changes are
	 * applied as they are. */
	if (!promotion && adopt_pools(a, s, pools, r->weight_bp))
		return;
	s->rollout = *r;
	if (rec->decisions)
		decision_log_load(&s->decisions, rec->decisions);
	s->evaluations[VERDICT_PASS] = rec->evaluations_pass;
	s->evaluations[VERDICT_FAIL] = rec->evaluations_fail;
	s->rollbacks = rec->rollbacks;
	s->cl_generation = generation;
	s->cl_mod_rev = mod_rev;
	if (promotion)
		actions |= ACTION_PROMOTE_POOLS;
	else if (before.weight_bp != r->weight_bp || s->cl_held)
		actions |= ACTION_SET_WEIGHT; /* a raise held here is dropped */
	s->cl_held = 0;
	if (before.step != r->step || before.phase != r->phase)
		actions |= ACTION_NEW_WINDOW;
	if (before.started_ms != r->started_ms && rollout_is_active(r)) {
		actions |= ACTION_NEW_ROLLOUT;
		s->next_eval_wall_ms = 0;
		s->have_stable_baseline = false;
	}
	/* A rollback decided elsewhere cuts this node's canary flows too. */
	if (rollout_is_active(&before) &&
	    (r->phase == PHASE_ROLLED_BACK || r->phase == PHASE_ABORTED))
		actions |= ACTION_CUT_CANARY;
	/* A warm-up of this node's is moot once etcd's rollout left it (its
	 * outstanding answers stop at on_warmup's phase check). */
	if (r->phase != PHASE_WARMING)
		s->warmup_running = false;
	a->cluster_adopting = true;
	apply_actions(a, s, actions);
	if (promotion)
		adopt_pools(a, s, pools, r->weight_bp);
	a->cluster_adopting = false;
	if (actions)
		log_info("service %s: applied the cluster's state, generation "
			 "%llu",
			 s->cfg.def.name, (unsigned long long)generation);
}

void agent_cluster_release_locked(struct agent *a, struct service_rt *s)
{
	uint32_t actions = s->cl_held;

	if (!actions)
		return;
	s->cl_held = 0;
	a->cluster_adopting = true;
	apply_actions(a, s, actions);
	a->cluster_adopting = false;
}

int agent_cluster_create_locked(struct agent *a,
				const struct service_config *cfg, char *err,
				size_t err_len)
{
	struct service_rt **grown, *s;
	int ret;

	grown = realloc(a->services, (a->service_count + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	a->services = grown;
	s = service_new(cfg);
	if (!s)
		return -ENOMEM;
	ret = place_service(a, s, err, err_len);
	if (ret) {
		service_free(a, s);
		return ret;
	}
	s->cl_proposed = true;
	s->cl_from_etcd = true;
	a->services[a->service_count++] = s;
	sync_backends(a, s);
	reconcile_weight(a, s);
	events_sync(s);
	a->state_dirty = true;
	log_info("cluster: service %s: created from etcd's definition (this "
		 "node's config does not name it)",
		 s->cfg.def.name);
	return 0;
}

static void remove_service_locked(struct agent *a, struct service_rt *s)
{
	size_t i;

	dp_service_remove(a->dp, s->dp_index);
	for (i = 0; i < a->service_count; i++)
		if (a->services[i] == s) {
			memmove(&a->services[i], &a->services[i + 1],
				(a->service_count - i - 1) *
				    sizeof(a->services[0]));
			a->service_count--;
			break;
		}
	service_free(a, s);
}

void agent_cluster_refuse_locked(struct agent *a, struct service_rt *s,
				 const char *diff)
{
	log_error("cluster: service %s: refused: etcd holds another "
		  "definition of it (%s); this node serves the others",
		  s->cfg.def.name, diff);
	remove_service_locked(a, s);
}

void agent_cluster_drop_locked(struct agent *a, struct service_rt *s)
{
	log_info("cluster: service %s: its definition went from etcd: "
		 "removing it from this node",
		 s->cfg.def.name);
	remove_service_locked(a, s);
	a->state_dirty = true;
}

int agent_nodes_json(struct agent *a, json_t **out, struct agent_error *err)
{
	*out = NULL;
	if (!a->cluster) {
		agent_set_error(err, AGENT_ERR_NOT_FOUND, "",
				"kanaryd runs on its own: start it with "
				"--cluster and --node for a cluster of nodes");
		return -ENOENT;
	}
	*out = cluster_nodes_json(a->cluster);
	return *out ? 0 : -ENOMEM;
}
