/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * cluster.c - cluster mode (cluster.h, docs/cluster.md): the node's side of
 * the shared state in etcd. Keys under the prefix (default /kanary/):
 *   leader                  the leader's name, under its lease; the
 *                           creation revision fences its writes
 *   nodes/NAME              {"name", "address", "applied": {service:
 *                           generation}, "last_seen"}, under NAME's lease
 *   services/NAME/def       the definition proposed first (VIP, protocol,
 *                           pools, metrics, rollout defaults)
 *   services/NAME/state     {"generation", "writer", "rollout",
 *                           "decisions", "evaluations_pass",
 *                           "evaluations_fail", "rollbacks", "stable",
 *                           "canary"}: the rollout and the pools now
 *
 * Two threads: the loop (lease, proposals, writes, reads, election,
 * registry; every CLUSTER_TICK_MS or when woken) and the watch, which
 * wakes the loop when anything under the prefix changes. Every read is a
 * whole read of the prefix: a watch that broke, or whose revision was
 * compacted away, loses nothing.
 *
 * A state write is a transaction on the state's mod_revision (the state
 * this node's change was made over) and, from the leader, on the leader
 * key's creation revision: a deposed leader, or a change made over a state
 * that moved on, writes nothing and takes etcd's state instead - except a
 * rollback, which is written again over the new state until it lands.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent_internal.h"
#include "cluster.h"
#include "etcd.h"
#include "util/log.h"
#include "util/netaddr.h"

#define CLUSTER_TICK_MS 100
#define CLUSTER_READ_INTERVAL_MS                                               \
	1000 /* reads even when the watch says                                 \
		nothing */
#define CLUSTER_REGISTER_INTERVAL_MS 1000
#define CLUSTER_CALL_TIMEOUT_MS	     1000
#define CLUSTER_WATCH_RETRY_MS	     500
#define CLUSTER_KEY_LEN		     (CONFIG_CLUSTER_PREFIX_LEN + 128)
#define CLUSTER_DECISIONS_KEPT	     50
#define CLUSTER_KEEPALIVES_PER_TTL   3
#define DIFF_VALUE_MAX		     60 /* characters of a value in a diff */
#define MS_PER_S		     1000
#define NS_PER_MS		     1000000L

struct cluster {
	struct agent *agent;
	struct cluster_config cfg;
	char address[CONFIG_LISTEN_LEN];
	struct etcd_client *kv, *watcher;
	pthread_t loop_thread, watch_thread;
	bool threads_started;
	volatile int stop;

	/* Guarded by mu: the view the queries read, and the loop's wakeup. */
	pthread_mutex_t mu;
	pthread_cond_t wake;
	bool changed; /* the watch saw a change, or a change was made here */
	bool connected;
	char error[ETCD_ERR_LEN];
	bool leader;
	int64_t leader_rev; /* our leader key's create_revision */
	char leader_name[CONFIG_CLUSTER_NODE_LEN];
	json_t *nodes; /* the registry as last read: array of objects */
	json_t *gone;  /* {name: wall ms} of nodes whose entry went away */

	/* The loop's: services refused here (another definition in this
	 * node's config), never made from etcd's; {name: revision} of the
	 * definitions that could not be made a service, said once each. */
	json_t *refused;
	json_t *unmade;

	/* The loop's own. */
	int64_t lease;
	uint64_t next_keepalive_ms;
	uint64_t next_read_ms;
	uint64_t next_register_ms;
	bool applied_changed;
};

/* prefix + dir + name + leaf: "/kanary/" "services/" "demo" "/state" */
static void key_of(const struct cluster *c, char *buf, const char *dir,
		   const char *name, const char *leaf)
{
	snprintf(buf, CLUSTER_KEY_LEN, "%s%s%s%s", c->cfg.prefix, dir, name,
		 leaf);
}

/* ---- the view ------------------------------------------------------------ */

/* etcd answered (or not): the status says so, and the log once. */
static void set_connected(struct cluster *c, bool up, const char *error)
{
	bool was;

	pthread_mutex_lock(&c->mu);
	was = c->connected;
	c->connected = up;
	snprintf(c->error, sizeof(c->error), "%s", up ? "" : error);
	if (!up)
		c->leader = false;
	pthread_mutex_unlock(&c->mu);
	if (was && !up)
		log_error("cluster: etcd does not answer (%s): forwarding with "
			  "the weights last applied; no step advances until it "
			  "is back",
			  error);
	else if (!was && up)
		log_info("cluster: node %s connected to etcd", c->cfg.node);
}

static void set_leader(struct cluster *c, bool leader, int64_t rev,
		       const char *name)
{
	bool was;

	pthread_mutex_lock(&c->mu);
	was = c->leader;
	c->leader = leader;
	c->leader_rev = rev;
	snprintf(c->leader_name, sizeof(c->leader_name), "%s", name);
	pthread_mutex_unlock(&c->mu);
	if (leader && !was)
		log_info("cluster: node %s is the leader: it judges the "
			 "rollouts",
			 c->cfg.node);
	else if (!leader && was)
		log_warn("cluster: node %s is no longer the leader (%s leads)",
			 c->cfg.node, name[0] ? name : "nobody yet");
}

/* The generation node applied of service, -1 when it says none. */
static json_int_t applied_by(const json_t *node, const char *service)
{
	const json_t *g =
	    json_object_get(json_object_get(node, "applied"), service);

	return json_is_integer(g) ? json_integer_value(g) : -1;
}

bool cluster_may_judge(struct cluster *c, const struct service_rt *s)
{
	const json_t *node;
	bool ok;
	size_t i;

	pthread_mutex_lock(&c->mu);
	ok = c->connected && c->leader && !s->cl_dirty && s->cl_proposed;
	json_array_foreach(c->nodes, i, node)
	{
		if (!ok)
			break;
		ok = applied_by(node, s->cfg.def.name) >=
		     (json_int_t)s->cl_generation;
	}
	pthread_mutex_unlock(&c->mu);
	return ok;
}

json_t *cluster_service_json(struct cluster *c, const struct service_rt *s)
{
	json_t *applied = json_array(), *lagging = json_array(), *out;
	const json_t *node;
	size_t i;

	pthread_mutex_lock(&c->mu);
	json_array_foreach(c->nodes, i, node)
	{
		const char *name =
		    json_string_value(json_object_get(node, "name"));

		json_array_append_new(applied_by(node, s->cfg.def.name) >=
					      (json_int_t)s->cl_generation
					  ? applied
					  : lagging,
				      json_string(name ? name : "?"));
	}
	out =
	    json_pack("{s:s, s:b, s:I, s:s?, s:o, s:o, s:b, s:s?, s:b}", "node",
		      c->cfg.node, "shared", s->cl_proposed, "generation",
		      (json_int_t)s->cl_generation, "leader",
		      c->leader_name[0] ? c->leader_name : NULL, "applied_by",
		      applied, "lagging", lagging, "etcd_connected",
		      c->connected, "etcd_error", c->error[0] ? c->error : NULL,
		      "raise_waits_for_etcd", s->cl_held != 0);
	pthread_mutex_unlock(&c->mu);
	return out;
}

json_t *cluster_nodes_json(struct cluster *c)
{
	json_t *list = json_array(), *out;
	const json_t *node;
	size_t i;

	pthread_mutex_lock(&c->mu);
	json_array_foreach(c->nodes, i, node)
	{
		const char *name =
		    json_string_value(json_object_get(node, "name"));

		json_array_append_new(
		    list,
		    json_pack("{s:O?, s:b, s:O?, s:O?, s:O?}", "name",
			      json_object_get(node, "name"), "leader",
			      name && !strcmp(name, c->leader_name),
			      "applied_generation",
			      json_object_get(node, "applied"), "last_seen",
			      json_object_get(node, "last_seen"), "address",
			      json_object_get(node, "address")));
	}
	out = json_pack("{s:o, s:s?, s:{s:b, s:s?}}", "nodes", list, "leader",
			c->leader_name[0] ? c->leader_name : NULL, "etcd",
			"connected", c->connected, "error",
			c->error[0] ? c->error : NULL);
	pthread_mutex_unlock(&c->mu);
	return out;
}

/* ---- what a service is, in etcd ----------------------------------------- */

static json_t *endpoints_json(const struct endpoint *eps, uint32_t n)
{
	json_t *list = json_array();
	char text[NETADDR_ENDPOINT_STR_LEN];
	uint32_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(list, json_string(netaddr_endpoint_str(
						&eps[i], text, sizeof(text))));
	return list;
}

static int endpoint_order(const void *x, const void *y)
{
	return netaddr_endpoint_cmp(x, y);
}

/* The pools in a canonical order: nodes configured in another order
 * still propose the same definition (and build the same tables). */
static json_t *sorted_pool_json(const struct endpoint *eps, uint32_t n)
{
	struct endpoint copy[KN_MAX_POOL_BACKENDS];

	memcpy(copy, eps, n * sizeof(*eps));
	qsort(copy, n, sizeof(*copy), endpoint_order);
	return endpoints_json(copy, n);
}

/* What of a service must be the same on every node. */
static json_t *definition_json(const struct service_config *cfg)
{
	char vip[NETADDR_ENDPOINT_STR_LEN];

	return json_pack(
	    "{s:s, s:s, s:b, s:I, s:o, s:o, s:b, s:s, s:s, s:i, s:o}", "vip",
	    netaddr_endpoint_str(&cfg->def.vip, vip, sizeof(vip)), "protocol",
	    cfg->def.proto == IPPROTO_UDP ? "udp" : "tcp", "http",
	    (cfg->def.flags & KN_SVC_F_HTTP) != 0, "seed",
	    (json_int_t)cfg->def.seed, "stable",
	    sorted_pool_json(cfg->def.stable, cfg->def.stable_count), "canary",
	    sorted_pool_json(cfg->def.canary, cfg->def.canary_count), "metrics",
	    cfg->has_metrics, "metrics_preset",
	    cfg->has_metrics ? cfg->metrics.preset : "", "metrics_path",
	    cfg->metrics_path, "metrics_port", (int)cfg->metrics_port,
	    "rollout", rollout_spec_to_json(&cfg->rollout));
}

/* "vip: etcd has X, this node has Y; ..." for each field that differs. */
static void definition_diff(const json_t *theirs, const json_t *mine, char *buf,
			    size_t len)
{
	const char *field;
	json_t *value;
	size_t used = 0;

	buf[0] = '\0';
	json_object_foreach((json_t *)mine, field, value)
	{
		const json_t *other = json_object_get(theirs, field);
		char *a, *b;

		if (other && json_equal(other, value))
			continue;
		a = other ? json_dumps(other, JSON_COMPACT | JSON_ENCODE_ANY)
			  : NULL;
		b = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
		/* Each value cut short: every differing field gets named. */
		used += snprintf(buf + used, used < len ? len - used : 0,
				 "%s%s: etcd has %.*s%s, this node has %.*s%s",
				 used ? "; " : "", field, DIFF_VALUE_MAX,
				 a ? a : "nothing",
				 a && strlen(a) > DIFF_VALUE_MAX ? "..." : "",
				 DIFF_VALUE_MAX, b ? b : "?",
				 b && strlen(b) > DIFF_VALUE_MAX ? "..." : "");
		free(a);
		free(b);
		if (used >= len)
			break;
	}
}

/* The state of s as this node has it: the rollout, the last decisions,
 * the pools. A promotion held until etcd has it (cl_held) is written as
 * it will be once applied: the canary pool stable, no canary, weight 0. */
static json_t *state_json(const struct cluster *c, const struct service_rt *s,
			  uint64_t generation)
{
	json_t *decisions =
	    decision_log_json(&s->decisions, CLUSTER_DECISIONS_KEPT);
	const bool promoting = s->cl_held & ACTION_PROMOTE_POOLS;
	const struct dp_service_def *def = &s->cfg.def;
	struct rollout_state rollout = s->rollout;

	if (promoting)
		rollout.weight_bp = 0;

	return json_pack(
	    "{s:I, s:s, s:o, s:o, s:I, s:I, s:I, s:o, s:o}", "generation",
	    (json_int_t)generation, "writer", c->cfg.node, "rollout",
	    statefile_rollout_json(&rollout), "decisions", decisions,
	    "evaluations_pass", (json_int_t)s->evaluations[VERDICT_PASS],
	    "evaluations_fail", (json_int_t)s->evaluations[VERDICT_FAIL],
	    "rollbacks", (json_int_t)s->rollbacks, "stable",
	    promoting ? endpoints_json(def->canary, def->canary_count)
		      : endpoints_json(def->stable, def->stable_count),
	    "canary",
	    promoting ? json_array()
		      : endpoints_json(def->canary, def->canary_count));
}

static int pool_from_json(const json_t *list, struct endpoint *out,
			  uint32_t *count)
{
	const json_t *item;
	char err[64];
	size_t i;

	if (!json_is_array(list) ||
	    json_array_size(list) > KN_MAX_POOL_BACKENDS)
		return -EPROTO;
	json_array_foreach(list, i, item)
	{
		if (!json_is_string(item) ||
		    netaddr_parse_endpoint(json_string_value(item), &out[i],
					   err, sizeof(err)))
			return -EPROTO;
	}
	*count = (uint32_t)json_array_size(list);
	return 0;
}

/* etcd's state of s, checked: 0, or -EPROTO with why. */
struct shared_state {
	struct state_record rec;
	struct dp_service_def pools;
	uint64_t generation;
	int64_t mod_rev;
};

static int parse_state(const struct etcd_kv *kv, struct shared_state *st,
		       char *why, size_t why_len)
{
	json_error_t jerr;
	json_t *root = json_loadb(kv->value, kv->value_len, 0, &jerr);
	const json_t *gen = json_object_get(root, "generation");
	int ret = 0;

	memset(st, 0, sizeof(*st));
	st->mod_rev = kv->mod_revision;
	if (!json_is_object(root)) {
		snprintf(why, why_len, "not a JSON object (%s)",
			 root ? "another value" : jerr.text);
		json_decref(root);
		return -EPROTO;
	}
	statefile_parse_record(root, &st->rec);
	if (!json_is_integer(gen) || json_integer_value(gen) < 1) {
		snprintf(why, why_len, "generation is not a positive integer");
		ret = -EPROTO;
	} else if (st->rec.rollout_error) {
		snprintf(why, why_len, "%s", st->rec.rollout_error);
		ret = -EPROTO;
	} else if (pool_from_json(json_object_get(root, "stable"),
				  st->pools.stable, &st->pools.stable_count) ||
		   pool_from_json(json_object_get(root, "canary"),
				  st->pools.canary, &st->pools.canary_count) ||
		   !st->pools.stable_count) {
		snprintf(why, why_len,
			 "stable and canary must be lists of at most %d "
			 "IP:PORT, stable not empty",
			 KN_MAX_POOL_BACKENDS);
		ret = -EPROTO;
	} else if (st->rec.rollout.weight_bp > 0 && !st->pools.canary_count) {
		snprintf(why, why_len,
			 "a canary weight without canary backends");
		ret = -EPROTO;
	}
	st->generation = gen ? (uint64_t)json_integer_value(gen) : 0;
	json_decref(root);
	if (ret)
		json_decref(st->rec.decisions), st->rec.decisions = NULL;
	return ret;
}

/* ---- the loop's steps ------------------------------------------------------
 */

static uint64_t lease_ttl_s(const struct cluster *c)
{
	return c->cfg.lease_ms / MS_PER_S;
}

/* 0 when this node holds a live lease. */
static int keep_lease(struct cluster *c, uint64_t now)
{
	int ret;

	if (!c->lease) {
		ret =
		    etcd_lease_grant(c->kv, (int64_t)lease_ttl_s(c), &c->lease);
		if (ret)
			return ret;
		c->next_keepalive_ms =
		    now + c->cfg.lease_ms / CLUSTER_KEEPALIVES_PER_TTL;
		c->next_register_ms = 0;
		return 0;
	}
	if (now < c->next_keepalive_ms)
		return 0;
	ret = etcd_lease_keepalive(c->kv, c->lease, NULL);
	if (ret == -ENOENT) {
		log_warn("cluster: node %s's lease expired (%s): a new one, "
			 "and its registry entry again",
			 c->cfg.node, etcd_error(c->kv));
		c->lease = 0;
		set_leader(c, false, 0, "");
		return keep_lease(c, now);
	}
	if (!ret)
		c->next_keepalive_ms =
		    now + c->cfg.lease_ms / CLUSTER_KEEPALIVES_PER_TTL;
	return ret;
}

/* A configured service meets etcd: its definition is written when etcd has
 * none, compared when it has one. */
static int propose(struct cluster *c, struct service_rt *s)
{
	struct agent *a = c->agent;
	char def_key[CLUSTER_KEY_LEN], state_key[CLUSTER_KEY_LEN];
	char *def_text, *state_text, diff[AGENT_ERR_MSG_LEN];
	json_t *mine = definition_json(&s->cfg), *state, *theirs;
	struct etcd_cmp absent = {.target = ETCD_TARGET_CREATE,
				  .result = ETCD_CMP_EQUAL};
	struct etcd_op ops[2] = {{.kind = ETCD_OP_PUT}, {.kind = ETCD_OP_PUT}};
	struct etcd_kvs kvs;
	json_error_t jerr;
	bool won = false;
	int64_t rev = 0;
	int ret;

	key_of(c, def_key, "services/", s->cfg.def.name, "/def");
	key_of(c, state_key, "services/", s->cfg.def.name, "/state");
	state = state_json(c, s, 1);
	def_text = json_dumps(mine, JSON_COMPACT | JSON_SORT_KEYS);
	state_text = json_dumps(state, JSON_COMPACT);
	json_decref(state);
	absent.key = def_key;
	ops[0].key = def_key;
	ops[0].value = def_text;
	ops[1].key = state_key;
	ops[1].value = state_text;
	ret = def_text && state_text
		  ? etcd_txn(c->kv, &absent, 1, ops, 2, NULL, 0, &won, &rev)
		  : -ENOMEM;
	free(def_text);
	free(state_text);
	if (ret || won) {
		if (!ret) {
			s->cl_proposed = true;
			s->cl_generation = 1;
			s->cl_mod_rev = rev;
			c->applied_changed = true;
			agent_cluster_release_locked(a, s); /* etcd holds it */
			log_info("cluster: service %s: proposed to etcd",
				 s->cfg.def.name);
		}
		json_decref(mine);
		return ret;
	}
	ret = etcd_range(c->kv, def_key, false, &kvs);
	if (ret) {
		json_decref(mine);
		return ret;
	}
	theirs = kvs.count ? json_loadb(kvs.kv[0].value, kvs.kv[0].value_len, 0,
					&jerr)
			   : NULL;
	etcd_kvs_free(&kvs);
	if (theirs && json_equal(theirs, mine)) {
		/* Joins: etcd's state wins from the next read on. */
		s->cl_proposed = true;
		s->cl_mod_rev = 0;
		log_info("cluster: service %s: joining the definition etcd "
			 "holds",
			 s->cfg.def.name);
	} else {
		if (theirs)
			definition_diff(theirs, mine, diff, sizeof(diff));
		else
			snprintf(diff, sizeof(diff),
				 "etcd's definition at %s is not JSON",
				 def_key);
		json_object_set_new(c->refused, s->cfg.def.name, json_true());
		agent_cluster_refuse_locked(a, s, diff);
	}
	json_decref(theirs);
	json_decref(mine);
	return 0;
}

static int propose_all(struct cluster *c)
{
	struct agent *a = c->agent;
	size_t i;
	int ret = 0;

	/* The calls are quick and rare (once per service): under the lock,
	 * so that nothing moves the service meanwhile. */
	pthread_mutex_lock(&a->lock);
	for (i = 0; i < a->service_count && !ret; i++) {
		struct service_rt *s = a->services[i];
		size_t before = a->service_count;

		if (s->cl_proposed)
			continue;
		ret = propose(c, s);
		if (a->service_count < before)
			i--; /* refused and removed: the next one moved here */
	}
	pthread_mutex_unlock(&a->lock);
	return ret;
}

/* Writes one service's change: 0 (written, or etcd's taken), or the
 * error of a call that failed (the change stays, to write again). */
static int publish(struct cluster *c, size_t index)
{
	struct agent *a = c->agent;
	char key[CLUSTER_KEY_LEN], leader_key[CLUSTER_KEY_LEN];
	char name[KN_SERVICE_NAME_LEN], why[AGENT_ERR_MSG_LEN];
	struct etcd_cmp cmp[2];
	struct etcd_op put = {.kind = ETCD_OP_PUT};
	struct shared_state st;
	struct etcd_kvs kvs;
	struct service_rt *s;
	uint64_t generation;
	bool won = false, rollback, leader;
	int64_t rev = 0, leader_rev;
	char *text;
	int ret;

	pthread_mutex_lock(&a->lock);
	s = index < a->service_count ? a->services[index] : NULL;
	if (!s || !s->cl_dirty || !s->cl_proposed) {
		pthread_mutex_unlock(&a->lock);
		return 0;
	}
	snprintf(name, sizeof(name), "%s", s->cfg.def.name);
	generation = s->cl_generation + 1;
	{
		json_t *state = state_json(c, s, generation);

		text = json_dumps(state, JSON_COMPACT);
		json_decref(state);
	}
	rollback = s->rollout.phase == PHASE_ROLLED_BACK;
	cmp[0] = (struct etcd_cmp){.target = ETCD_TARGET_MOD,
				   .result = ETCD_CMP_EQUAL,
				   .number = s->cl_mod_rev};
	s->cl_dirty = false;
	pthread_mutex_unlock(&a->lock);
	if (!text)
		return -ENOMEM;

	pthread_mutex_lock(&c->mu);
	leader = c->leader;
	leader_rev = c->leader_rev;
	pthread_mutex_unlock(&c->mu);
	key_of(c, key, "services/", name, "/state");
	key_of(c, leader_key, "", "leader", "");
	cmp[0].key = key;
	cmp[1] = (struct etcd_cmp){.key = leader_key,
				   .target = ETCD_TARGET_CREATE,
				   .result = ETCD_CMP_EQUAL,
				   .number = leader_rev};
	put.key = key;
	put.value = text;
	ret =
	    etcd_txn(c->kv, cmp, leader ? 2 : 1, &put, 1, NULL, 0, &won, &rev);
	free(text);
	if (!ret && !won)
		ret = etcd_range(c->kv, key, false, &kvs);
	else
		memset(&kvs, 0, sizeof(kvs));

	pthread_mutex_lock(&a->lock);
	s = agent_find_service(a, name);
	if (ret || !s) {
		if (s)
			s->cl_dirty = true; /* etcd did not answer: again */
		pthread_mutex_unlock(&a->lock);
		return ret;
	}
	if (won) {
		s->cl_generation = generation;
		s->cl_mod_rev = rev;
		c->applied_changed = true;
		/* A newer change made meanwhile is written (and released)
		 * next: what is released is what etcd holds. */
		if (!s->cl_dirty)
			agent_cluster_release_locked(a, s);
	} else if (!kvs.count ||
		   parse_state(&kvs.kv[0], &st, why, sizeof(why))) {
		/* This node's valid state repairs it: written over it next. */
		log_error("cluster: service %s: etcd's state is unusable (%s): "
			  "writing this node's over it",
			  name, kvs.count ? why : "absent");
		s->cl_mod_rev = kvs.count ? kvs.kv[0].mod_revision : 0;
		s->cl_dirty = true;
	} else if (rollback && st.rec.rollout.phase != PHASE_ROLLED_BACK) {
		/* A rollback is written over whatever came meanwhile. */
		log_info("cluster: service %s: the state moved on (generation "
			 "%" PRIu64 "): writing the rollback over it",
			 name, st.generation);
		s->cl_generation = st.generation;
		s->cl_mod_rev = st.mod_rev;
		s->cl_dirty = true;
	} else {
		log_warn("cluster: service %s: a change made here was not "
			 "written: %s; taking etcd's state (generation %" PRIu64
			 ", by %s)",
			 name,
			 leader ? "this node may have lost the leadership, or "
				  "the state moved on"
				: "the state moved on",
			 st.generation, "another writer");
		agent_cluster_adopt_locked(a, s, &st.rec, &st.pools,
					   st.generation, st.mod_rev);
		c->applied_changed = true;
	}
	if (kvs.count)
		json_decref(st.rec.decisions);
	pthread_mutex_unlock(&a->lock);
	etcd_kvs_free(&kvs);
	return 0;
}

static int publish_all(struct cluster *c)
{
	size_t i, n;
	int ret = 0;

	pthread_mutex_lock(&c->agent->lock);
	n = c->agent->service_count;
	pthread_mutex_unlock(&c->agent->lock);
	for (i = 0; i < n && !ret; i++)
		ret = publish(c, i);
	return ret;
}

/* The leader key as read: ours (we lead), another's, or none (campaign). */
static int elect(struct cluster *c, const struct etcd_kv *leader_kv)
{
	char key[CLUSTER_KEY_LEN];
	struct etcd_cmp absent = {.target = ETCD_TARGET_CREATE,
				  .result = ETCD_CMP_EQUAL};
	struct etcd_op put = {.kind = ETCD_OP_PUT};
	bool won = false;
	int64_t rev = 0;
	int ret;

	if (leader_kv) {
		bool mine = leader_kv->lease == c->lease &&
			    !strcmp(leader_kv->value, c->cfg.node);

		set_leader(c, mine, mine ? leader_kv->create_revision : 0,
			   leader_kv->value);
		return 0;
	}
	key_of(c, key, "", "leader", "");
	absent.key = key;
	put.key = key;
	put.value = c->cfg.node;
	put.lease = c->lease;
	ret = etcd_txn(c->kv, &absent, 1, &put, 1, NULL, 0, &won, &rev);
	if (ret)
		return ret;
	if (won)
		set_leader(c, true, rev, c->cfg.node);
	/* Lost: the next read names the winner. */
	return 0;
}

/* A service of this node from etcd's definition (definition_json's
 * shape): 0, or -EPROTO with why. Only what the definition carries is
 * set; the rest keeps the defaults of a configured service. */
static int service_from_definition(const char *name, const struct etcd_kv *kv,
				   struct service_config *out, char *why,
				   size_t why_len)
{
	json_t *d = json_loadb(kv->value, kv->value_len, 0, NULL);
	const char *vip = json_string_value(json_object_get(d, "vip"));
	const char *proto = json_string_value(json_object_get(d, "protocol"));
	const char *preset =
	    json_string_value(json_object_get(d, "metrics_preset"));
	const char *path =
	    json_string_value(json_object_get(d, "metrics_path"));
	const json_t *seed = json_object_get(d, "seed");
	const json_t *port = json_object_get(d, "metrics_port");
	const json_t *http = json_object_get(d, "http");
	const json_t *metrics = json_object_get(d, "metrics");
	struct spec_error serr;
	char err[AGENT_ERR_MSG_LEN];
	int ret = -EPROTO;

	config_service_defaults(out);
	snprintf(out->def.name, sizeof(out->def.name), "%s", name);
	if (!json_is_object(d))
		snprintf(why, why_len, "not a JSON object");
	else if (!vip ||
		 netaddr_parse_endpoint(vip, &out->def.vip, err, sizeof(err)))
		snprintf(why, why_len, "vip is not an IP:PORT");
	else if (!proto || (strcmp(proto, "tcp") && strcmp(proto, "udp")))
		snprintf(why, why_len, "protocol is neither tcp nor udp");
	else if (!json_is_integer(seed) || json_integer_value(seed) < 0 ||
		 json_integer_value(seed) > UINT32_MAX)
		snprintf(why, why_len, "seed is not a 32-bit number");
	else if (!json_is_boolean(http) || !json_is_boolean(metrics))
		snprintf(why, why_len,
			 "http and metrics must be true or false");
	else if (pool_from_json(json_object_get(d, "stable"), out->def.stable,
				&out->def.stable_count) ||
		 pool_from_json(json_object_get(d, "canary"), out->def.canary,
				&out->def.canary_count) ||
		 !out->def.stable_count)
		snprintf(why, why_len,
			 "stable and canary must be lists of at most %d "
			 "IP:PORT, stable not empty",
			 KN_MAX_POOL_BACKENDS);
	else if (json_is_true(metrics) &&
		 (!preset || metric_spec_preset(preset, &out->metrics)))
		snprintf(why, why_len,
			 "its metrics are not a preset (a custom metrics "
			 "specification is not in the definition)");
	else if (!path || strlen(path) >= sizeof(out->metrics_path) ||
		 !json_is_integer(port) || json_integer_value(port) < 0 ||
		 json_integer_value(port) > UINT16_MAX)
		snprintf(why, why_len,
			 "metrics_path or metrics_port is not one");
	else if (rollout_spec_from_json(json_object_get(d, "rollout"),
					&out->rollout, "rollout", &out->rollout,
					&serr))
		snprintf(why, why_len, "%s", serr.message);
	else
		ret = 0;
	if (!ret) {
		out->def.proto =
		    !strcmp(proto, "udp") ? IPPROTO_UDP : IPPROTO_TCP;
		out->def.flags = json_is_true(http) ? KN_SVC_F_HTTP : 0;
		out->def.seed = (uint32_t)json_integer_value(seed);
		out->has_metrics = json_is_true(metrics);
		snprintf(out->metrics_path, sizeof(out->metrics_path), "%s",
			 path);
		out->metrics_port = (uint16_t)json_integer_value(port);
	}
	json_decref(d);
	return ret;
}

/* The service name of a key "PREFIX services/NAME/LEAF", or NULL. */
static const char *service_key(const struct cluster *c, const char *key,
			       const char *leaf, char name[KN_SERVICE_NAME_LEN])
{
	const char *tail = key + strlen(c->cfg.prefix), *slash;

	if (strncmp(tail, "services/", 9))
		return NULL;
	tail += 9;
	slash = strchr(tail, '/');
	if (!slash || strcmp(slash, leaf) ||
	    (size_t)(slash - tail) >= KN_SERVICE_NAME_LEN)
		return NULL;
	snprintf(name, KN_SERVICE_NAME_LEN, "%.*s", (int)(slash - tail), tail);
	return name;
}

static bool holds_definition(const struct cluster *c,
			     const struct etcd_kvs *kvs, const char *service)
{
	char name[KN_SERVICE_NAME_LEN];
	size_t i;

	for (i = 0; i < kvs->count; i++)
		if (service_key(c, kvs->kv[i].key, "/def", name) &&
		    !strcmp(name, service))
			return true;
	return false;
}

/* Every node reconciles to etcd: a definition no service here has becomes
 * one; a service made that way goes when its definition goes. */
static void take_definitions(struct cluster *c, const struct etcd_kvs *kvs)
{
	struct agent *a = c->agent;
	char name[KN_SERVICE_NAME_LEN], why[AGENT_ERR_MSG_LEN];
	struct service_config *cfg = malloc(sizeof(*cfg));
	size_t i;

	if (!cfg)
		return; /* the next read tries again */
	pthread_mutex_lock(&a->lock);
	for (i = 0; i < a->service_count; i++) {
		struct service_rt *s = a->services[i];

		if (s->cl_from_etcd &&
		    !holds_definition(c, kvs, s->cfg.def.name)) {
			agent_cluster_drop_locked(a, s);
			i--; /* the next one moved here */
		}
	}
	for (i = 0; i < kvs->count; i++) {
		const struct etcd_kv *kv = &kvs->kv[i];
		const json_t *said;

		if (!service_key(c, kv->key, "/def", name) ||
		    agent_find_service(a, name) ||
		    json_object_get(c->refused, name))
			continue;
		said = json_object_get(c->unmade, name);
		if (said && json_integer_value(said) == kv->mod_revision)
			continue;
		if (service_from_definition(name, kv, cfg, why, sizeof(why)) ||
		    agent_cluster_create_locked(a, cfg, why, sizeof(why))) {
			log_error("cluster: service %s: etcd's definition (%s, "
				  "revision %" PRId64 ") cannot be served "
				  "here: %s",
				  name, kv->key, kv->mod_revision, why);
			json_object_set_new(c->unmade, name,
					    json_integer(kv->mod_revision));
			continue;
		}
		json_object_del(c->unmade, name);
		c->applied_changed = true;
	}
	pthread_mutex_unlock(&a->lock);
	free(cfg);
}

/* etcd's states applied here; the registry cached for the queries. */
static void take_states(struct cluster *c, const struct etcd_kvs *kvs)
{
	struct agent *a = c->agent;
	size_t i;
	char why[AGENT_ERR_MSG_LEN];

	pthread_mutex_lock(&a->lock);
	for (i = 0; i < kvs->count; i++) {
		const struct etcd_kv *kv = &kvs->kv[i];
		char name[KN_SERVICE_NAME_LEN];
		struct shared_state st;
		struct service_rt *s;

		if (!service_key(c, kv->key, "/state", name))
			continue;
		s = agent_find_service(a, name);
		if (!s || !s->cl_proposed || s->cl_dirty ||
		    kv->mod_revision == s->cl_mod_rev)
			continue;
		if (parse_state(kv, &st, why, sizeof(why))) {
			if (s->cl_mod_rev != -kv->mod_revision)
				log_error("cluster: service %s: etcd's state "
					  "(%s, revision %" PRId64
					  ") is unusable: %s; keeping what was "
					  "last applied",
					  name, kv->key, kv->mod_revision, why);
			/* Said once per bad revision. */
			s->cl_mod_rev = -kv->mod_revision;
			continue;
		}
		agent_cluster_adopt_locked(a, s, &st.rec, &st.pools,
					   st.generation, st.mod_rev);
		json_decref(st.rec.decisions);
		c->applied_changed = true;
	}
	pthread_mutex_unlock(&a->lock);
}

static bool has_node(const json_t *nodes, const char *name)
{
	const json_t *node;
	size_t i;

	json_array_foreach(
	    nodes, i,
	    node) if (!strcmp(json_string_value(json_object_get(node, "name")),
			      name)) return true;
	return false;
}

/* Under mu: a node whose entry went away (its lease expired: it stopped
 * reporting) is remembered, to be named in the decisions of the step. */
static void note_gone(struct cluster *c, const json_t *now)
{
	const json_t *node;
	const char *name;
	json_t *when;
	void *tmp;
	size_t i;

	json_array_foreach(c->nodes, i, node)
	{
		name = json_string_value(json_object_get(node, "name"));
		if (!has_node(now, name)) {
			log_warn("cluster: node %s stopped reporting (its "
				 "registry entry expired): left out of the "
				 "steps' signals until it is back",
				 name);
			json_object_set_new(
			    c->gone, name,
			    json_integer((json_int_t)clock_wall_ms()));
		}
	}
	json_object_foreach_safe(c->gone, tmp, name, when)
	{
		if (has_node(now, name))
			json_object_del(c->gone, name);
	}
}

static void take_nodes(struct cluster *c, const struct etcd_kvs *kvs)
{
	size_t plen = strlen(c->cfg.prefix), i;
	json_t *nodes = json_array();

	for (i = 0; i < kvs->count; i++) {
		json_t *node;

		if (strncmp(kvs->kv[i].key + plen, "nodes/", 6))
			continue;
		node =
		    json_loadb(kvs->kv[i].value, kvs->kv[i].value_len, 0, NULL);
		if (json_is_object(node) &&
		    json_is_string(json_object_get(node, "name")))
			json_array_append_new(nodes, node);
		else
			json_decref(node); /* not a node's entry: ignored */
	}
	pthread_mutex_lock(&c->mu);
	note_gone(c, nodes);
	json_decref(c->nodes);
	c->nodes = nodes;
	pthread_mutex_unlock(&c->mu);
}

static int read_all(struct cluster *c)
{
	char leader_key[CLUSTER_KEY_LEN];
	const struct etcd_kv *leader_kv = NULL;
	struct etcd_kvs kvs;
	size_t i;
	int ret;

	ret = etcd_range(c->kv, c->cfg.prefix, true, &kvs);
	if (ret)
		return ret;
	key_of(c, leader_key, "", "leader", "");
	for (i = 0; i < kvs.count; i++)
		if (!strcmp(kvs.kv[i].key, leader_key))
			leader_kv = &kvs.kv[i];
	ret = elect(c, leader_kv);
	take_nodes(c, &kvs);
	take_definitions(c, &kvs);
	take_states(c, &kvs);
	etcd_kvs_free(&kvs);
	return ret;
}

/* ---- the step's signals of every node ------------------------------------ */

static json_t *kernel_window_json(const struct kernel_window *k)
{
	json_t *upper = json_array(), *counts = json_array();
	size_t i;

	for (i = 0; i < k->latency.nbounds; i++)
		json_array_append_new(upper, json_real(k->latency.upper[i]));
	for (i = 0; i <= k->latency.nbounds; i++)
		json_array_append_new(counts, json_real(k->latency.counts[i]));
	return json_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:{s:o, s:o, s:f, "
			 "s:b, s:f}}",
			 "requests", k->requests, "errors", k->errors,
			 "new_flows", k->new_flows, "refused", k->refused,
			 "resets", k->resets, "syn_retries", k->syn_retries,
			 "latency", "upper", upper, "counts", counts, "total",
			 k->latency.total, "has_sum", k->latency.has_sum, "sum",
			 k->latency.sum);
}

static bool number_at(const json_t *obj, const char *key, double *out)
{
	const json_t *v = json_object_get(obj, key);

	if (!json_is_number(v) || json_number_value(v) < 0)
		return false;
	*out = json_number_value(v);
	return true;
}

/* Adds another node's window (JSON) to k: 0, or -EPROTO when it is not
 * one or its histogram has other bounds (it is then left out whole). */
static int kernel_window_add(struct kernel_window *k, const json_t *j)
{
	const json_t *lat = json_object_get(j, "latency");
	const json_t *upper = json_object_get(lat, "upper");
	const json_t *counts = json_object_get(lat, "counts");
	struct kernel_window add = {0};
	size_t i;

	if (!number_at(j, "requests", &add.requests) ||
	    !number_at(j, "errors", &add.errors) ||
	    !number_at(j, "new_flows", &add.new_flows) ||
	    !number_at(j, "refused", &add.refused) ||
	    !number_at(j, "resets", &add.resets) ||
	    !number_at(j, "syn_retries", &add.syn_retries) ||
	    !number_at(lat, "total", &add.latency.total) ||
	    !number_at(lat, "sum", &add.latency.sum) ||
	    json_array_size(upper) != k->latency.nbounds ||
	    json_array_size(counts) != k->latency.nbounds + 1)
		return -EPROTO;
	for (i = 0; i < k->latency.nbounds; i++)
		if (json_number_value(json_array_get(upper, i)) !=
		    k->latency.upper[i])
			return -EPROTO;
	for (i = 0; i <= k->latency.nbounds; i++)
		if (!json_is_number(json_array_get(counts, i)) ||
		    json_number_value(json_array_get(counts, i)) < 0)
			return -EPROTO;
	for (i = 0; i <= k->latency.nbounds; i++)
		k->latency.counts[i] +=
		    json_number_value(json_array_get(counts, i));
	k->latency.total += add.latency.total;
	k->latency.sum += add.latency.sum;
	k->latency.has_sum =
	    k->latency.has_sum && json_is_true(json_object_get(lat, "has_sum"));
	k->requests += add.requests;
	k->errors += add.errors;
	k->new_flows += add.new_flows;
	k->refused += add.refused;
	k->resets += add.resets;
	k->syn_retries += add.syn_retries;
	return 0;
}

/* This node's window of s's step, for the leader to sum. */
static json_t *window_json(const struct service_rt *s)
{
	struct kernel_window kw[2];

	signals_kernel_window(s, kw);
	return json_pack("{s:I, s:i, s:[o, o]}", "step_started_ms",
			 (json_int_t)s->rollout.step_started_ms, "step",
			 (int)s->rollout.step, "pools",
			 kernel_window_json(&kw[ANALYSIS_STABLE]),
			 kernel_window_json(&kw[ANALYSIS_CANARY]));
}

/* Why node's window of s's step cannot be summed, or NULL (then added). */
static const char *add_node_window(const json_t *node,
				   const struct service_rt *s,
				   struct kernel_window kw[2])
{
	const json_t *w =
	    json_object_get(json_object_get(node, "windows"), s->cfg.def.name);
	const json_t *pools = json_object_get(w, "pools");
	struct kernel_window sum[2];

	if (!w)
		return "it reported no window of this step";
	if (json_integer_value(json_object_get(w, "step_started_ms")) !=
		(json_int_t)s->rollout.step_started_ms ||
	    json_integer_value(json_object_get(w, "step")) !=
		(json_int_t)s->rollout.step)
		return "its window is of another step";
	memcpy(sum, kw, sizeof(sum));
	if (kernel_window_add(&sum[ANALYSIS_STABLE],
			      json_array_get(pools, 0)) ||
	    kernel_window_add(&sum[ANALYSIS_CANARY], json_array_get(pools, 1)))
		return "its window is malformed";
	memcpy(kw, sum, sizeof(sum));
	return NULL;
}

json_t *cluster_sum_windows(struct cluster *c, const struct service_rt *s,
			    struct kernel_window kw[2])
{
	json_t *summed = json_array(), *left_out = json_array(), *when;
	const json_t *node;
	const char *name;
	size_t i;

	json_array_append_new(summed, json_string(c->cfg.node));
	pthread_mutex_lock(&c->mu);
	json_array_foreach(c->nodes, i, node)
	{
		const char *why;

		name = json_string_value(json_object_get(node, "name"));
		if (!name || !strcmp(name, c->cfg.node))
			continue;
		why = add_node_window(node, s, kw);
		if (why)
			json_array_append_new(
			    left_out,
			    json_pack("{s:s, s:s}", "node", name, "why", why));
		else
			json_array_append_new(summed, json_string(name));
	}
	json_object_foreach(c->gone, name, when)
	{
		if (json_integer_value(when) <
		    (json_int_t)s->rollout.step_started_ms)
			continue;
		json_array_append_new(
		    left_out, json_pack("{s:s, s:s}", "node", name, "why",
					"it stopped reporting during this step "
					"(its registry entry expired)"));
	}
	pthread_mutex_unlock(&c->mu);
	return json_pack("{s:o, s:o}", "summed", summed, "left_out", left_out);
}

static int register_node(struct cluster *c, uint64_t now)
{
	struct agent *a = c->agent;
	char key[CLUSTER_KEY_LEN], seen[CLOCK_RFC3339_LEN];
	json_t *applied = json_object(), *windows = json_object(), *entry;
	char *text;
	size_t i;
	int ret;

	if (!c->applied_changed && now < c->next_register_ms)
		return 0;
	pthread_mutex_lock(&a->lock);
	for (i = 0; i < a->service_count; i++) {
		const struct service_rt *s = a->services[i];

		if (!s->cl_proposed)
			continue;
		json_object_set_new(applied, s->cfg.def.name,
				    json_integer((json_int_t)s->cl_generation));
		if (s->rollout.phase == PHASE_PROGRESSING)
			json_object_set_new(windows, s->cfg.def.name,
					    window_json(s));
	}
	pthread_mutex_unlock(&a->lock);
	clock_format_rfc3339(clock_wall_ms(), seen, sizeof(seen));
	entry = json_pack("{s:s, s:s, s:o, s:s, s:o}", "name", c->cfg.node,
			  "address", c->address, "applied", applied,
			  "last_seen", seen, "windows", windows);
	text = entry ? json_dumps(entry, JSON_COMPACT) : NULL;
	json_decref(entry);
	if (!text)
		return -ENOMEM;
	key_of(c, key, "nodes/", c->cfg.node, "");
	c->applied_changed = false;
	ret = etcd_put(c->kv, key, text, c->lease, NULL);
	free(text);
	if (ret == -ENOENT)
		c->lease = 0; /* the lease went: a new one next time */
	if (ret)
		c->applied_changed = true;
	else
		c->next_register_ms = now + CLUSTER_REGISTER_INTERVAL_MS;
	return ret;
}

static void step(struct cluster *c)
{
	uint64_t now = clock_mono_ms();
	bool read_due;
	int ret;

	pthread_mutex_lock(&c->mu);
	read_due = c->changed || now >= c->next_read_ms;
	c->changed = false;
	pthread_mutex_unlock(&c->mu);
	ret = keep_lease(c, now);
	ret = ret ?: propose_all(c);
	ret = ret ?: publish_all(c);
	if (!ret && read_due) {
		ret = read_all(c);
		c->next_read_ms = now + CLUSTER_READ_INTERVAL_MS;
	}
	ret = ret ?: register_node(c, now);
	/* What we wrote is read back (the watch says so too). */
	set_connected(c, !ret, etcd_error(c->kv));
	if (ret) {
		pthread_mutex_lock(&c->mu);
		c->changed = true;
		pthread_mutex_unlock(&c->mu);
	}
}

static void wait_tick(struct cluster *c)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += CLUSTER_TICK_MS * NS_PER_MS;
	until.tv_sec += until.tv_nsec / (MS_PER_S * NS_PER_MS);
	until.tv_nsec %= MS_PER_S * NS_PER_MS;
	pthread_mutex_lock(&c->mu);
	if (!c->changed && !c->stop)
		pthread_cond_timedwait(&c->wake, &c->mu, &until);
	pthread_mutex_unlock(&c->mu);
}

static void *loop_main(void *arg)
{
	struct cluster *c = arg;

	while (!c->stop) {
		step(c);
		wait_tick(c);
	}
	return NULL;
}

void cluster_wakeup(struct cluster *c)
{
	pthread_mutex_lock(&c->mu);
	c->changed = true;
	pthread_cond_signal(&c->wake);
	pthread_mutex_unlock(&c->mu);
}

static int on_watch(void *arg, const struct etcd_event *events, size_t count,
		    int64_t revision)
{
	(void)events, (void)count, (void)revision;
	cluster_wakeup(arg);
	return 0;
}

static void *watch_main(void *arg)
{
	struct cluster *c = arg;
	int64_t compacted;
	int ret;

	while (!c->stop) {
		/* From now: the loop's read covers what came before. */
		ret = etcd_watch(c->watcher, c->cfg.prefix, true, 0, on_watch,
				 c, &c->stop, &compacted);
		if (c->stop)
			break;
		log_debug("cluster: the watch ended (%s): reading again",
			  ret ? etcd_error(c->watcher) : "no error");
		cluster_wakeup(c);
		if (ret)
			usleep(CLUSTER_WATCH_RETRY_MS * 1000);
	}
	return NULL;
}

int cluster_create(struct agent *a, const struct cluster_config *cfg,
		   const char *address, struct cluster **out, char *err,
		   size_t err_len)
{
	const char *urls[CONFIG_CLUSTER_MAX_ETCD];
	struct cluster *c;
	size_t i;
	int ret;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->agent = a;
	c->cfg = *cfg;
	snprintf(c->address, sizeof(c->address), "%s", address);
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->wake, NULL);
	c->nodes = json_array();
	c->gone = json_object();
	c->refused = json_object();
	c->unmade = json_object();
	c->connected = true; /* until a call says otherwise */
	for (i = 0; i < cfg->etcd_count; i++)
		urls[i] = cfg->etcd[i];
	ret = etcd_client_create(urls, cfg->etcd_count, CLUSTER_CALL_TIMEOUT_MS,
				 &c->kv);
	ret = ret
		  ?: etcd_client_create(urls, cfg->etcd_count,
					CLUSTER_CALL_TIMEOUT_MS, &c->watcher);
	if (!ret) {
		ret = -pthread_create(&c->loop_thread, NULL, loop_main, c);
		if (!ret && (ret = -pthread_create(&c->watch_thread, NULL,
						   watch_main, c))) {
			c->stop = 1;
			cluster_wakeup(c);
			pthread_join(c->loop_thread, NULL);
		}
		c->threads_started = !ret;
	}
	if (ret) {
		snprintf(err, err_len, "cannot start cluster mode: %s",
			 strerror(-ret));
		cluster_destroy(c);
		return ret;
	}
	log_info("cluster: node %s, etcd %s%s, prefix %s, lease %" PRIu64 "s",
		 cfg->node, cfg->etcd[0], cfg->etcd_count > 1 ? ",..." : "",
		 cfg->prefix, lease_ttl_s(c));
	*out = c;
	return 0;
}

void cluster_destroy(struct cluster *c)
{
	if (!c)
		return;
	if (c->threads_started) {
		c->stop = 1;
		cluster_wakeup(c);
		pthread_join(c->loop_thread, NULL);
		pthread_join(c->watch_thread, NULL);
	}
	/* Leaving: the registry entry and a leadership go now, not when
	 * the lease would have expired. */
	if (c->lease && c->kv)
		etcd_lease_revoke(c->kv, c->lease);
	etcd_client_destroy(c->kv);
	etcd_client_destroy(c->watcher);
	json_decref(c->nodes);
	json_decref(c->gone);
	json_decref(c->refused);
	json_decref(c->unmade);
	pthread_cond_destroy(&c->wake);
	pthread_mutex_destroy(&c->mu);
	free(c);
}
