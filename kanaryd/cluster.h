/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * cluster.h - cluster mode (docs/cluster.md): one rollout across every
 * node, its desired state in etcd. A thread of its own talks to etcd
 * (etcd.h): it proposes the node's services, keeps the node's lease and
 * registry entry, campaigns for leadership, writes the changes made on
 * this node (fenced by the leadership when this node leads) and hands
 * etcd's state to the core (agent.c), which applies it. Only the leader
 * judges steps; every node keeps its own immediate rollback rules.
 *
 * Locks: the agent's lock may be held when calling the queries below
 * (they take the cluster's own); the cluster never waits for the
 * agent's lock while holding its own.
 */
#ifndef KANARY_CLUSTER_H
#define KANARY_CLUSTER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"

struct agent;
struct service_rt;
struct cluster;

int cluster_create(struct agent *a, const struct cluster_config *cfg,
		   const char *address, struct cluster **out, char *err,
		   size_t err_len);
/* Stops the threads, revokes the node's lease (its registry entry and a
 * leadership go at once), frees. */
void cluster_destroy(struct cluster *c);
/* A change was made here: write it soon. */
void cluster_wakeup(struct cluster *c);

/* Under the agent's lock: may this node judge s's step now? Only the
 * leader, connected, with its own change written and every live node at
 * s's generation. */
bool cluster_may_judge(struct cluster *c, const struct service_rt *s);
/* Under the agent's lock, on the leader: adds every other live node's
 * window of s's current step (from its registry entry, rewritten every
 * second) to kw; returns {"summed": [names], "left_out": [{"node",
 * "why"}]} for the decision. */
struct kernel_window;
json_t *cluster_sum_windows(struct cluster *c, const struct service_rt *s,
			    struct kernel_window kw[2]);
/* s's "cluster" object in its status: generation, leader, nodes that
 * applied it, laggards, etcd's last error. */
json_t *cluster_service_json(struct cluster *c, const struct service_rt *s);
/* {"nodes": [{"name", "leader", "applied_generation", "last_seen",
 * "address"}], "leader", "etcd": {"connected", "error"}} */
json_t *cluster_nodes_json(struct cluster *c);

#endif /* KANARY_CLUSTER_H */
