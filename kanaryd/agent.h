/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * agent.h - kanaryd's core: its services, their rollouts and the control
 * loop that reads the kernel, scrapes the backends, judges the canary and
 * moves the weights. Only the core changes a rollout's state or the data
 * path; the other parts of the daemon (scrape.c, health.c, statefile.c...)
 * hand their outcomes back to it. The operations below take typed
 * arguments and know nothing of HTTP: the API (api.c) turns request bodies
 * into these calls and error codes into statuses. Every operation takes the
 * agent's lock itself, so it is safe to call from the API's threads while
 * the loop runs.
 *
 * Errors are struct agent_error: what kind of failure (enum agent_errc),
 * the argument at fault (or ""), and a message for a person.
 *
 * JSON shapes of the queries (docs/api.md has them in full):
 *  service status: {"name", "vip", "protocol", "mode", "phase",
 *    "canary_percent", "step", "steps", "step_elapsed", "rollout" (spec or
 *    null), "backends": [{"address", "pool", "kernel": {...},
 *    "metrics": {...}}], "analysis" (latest per signal), "counters",
 *    "datapath" (attached or detached: watch.c), "share", "affinity"
 *    (client or connection), "clients" (the step's distinct client
 *    addresses and the too-few warning)}
 *  phase is one of idle, warming, progressing, paused, promoted,
 *    rolled_back, aborted, waiting_gate ("gate" then says which).
 */
#ifndef KANARY_AGENT_H
#define KANARY_AGENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "judge/rollout_spec.h"

#define AGENT_ERR_FIELD_LEN 96
#define AGENT_ERR_MSG_LEN   384

/* What kind of failure: a caller maps these to its own statuses. */
enum agent_errc {
	AGENT_ERR_INTERNAL = 0, /* the agent failed (also: no code set) */
	AGENT_ERR_INVALID,	/* an argument is malformed or out of range */
	AGENT_ERR_NOT_FOUND,	/* no service of that name */
	AGENT_ERR_CONFLICT,	/* not now: the phase or the state forbids it */
};

struct agent_error {
	enum agent_errc code;
	char field[AGENT_ERR_FIELD_LEN];
	char message[AGENT_ERR_MSG_LEN];
};

struct agent_options {
	bool keep_attached; /* on exit, leave the data path running */
	bool verbose;
	bool takeover;	  /* replace another owner's programs at start */
	bool no_reattach; /* when detached, report it but do not re-attach */
};

struct agent;

/* Opens the data path, adopts or adds the configured services, resumes
 * rollouts from the state file. */
int agent_create(const struct agent_config *cfg,
		 const struct agent_options *opts, struct agent **out,
		 char *err, size_t err_len);
/* Runs the control loop until agent_stop() (async-signal-safe). */
int agent_run(struct agent *a);
void agent_stop(struct agent *a);
void agent_destroy(struct agent *a);

/* The configured API address and token (NULL: none), for api.c. */
const char *agent_listen_address(const struct agent *a);
const char *agent_token(const struct agent *a);

/* ---- queries: a new reference the caller json_decref()s ---------------- */

/* {"services": [status, ...]} */
json_t *agent_services_json(struct agent *a);
int agent_service_json(struct agent *a, const char *name, json_t **out,
		       struct agent_error *err);
/* {"name", "decisions": [decision, ...]} oldest first, as JSON text and
 * a newline (*text free()d by the caller): the log is kept as text, and a
 * tree of a thousand records would cost megabytes for a moment. */
int agent_decisions_text(struct agent *a, const char *name, char **text,
			 size_t *len, struct agent_error *err);
/* {"name", "points": [{"t", "canary_percent", "phase", "stable":
 * {"requests", "error_rate_pct", "p99_ms"}, "canary": {...}}]} for the
 * status page's charts, as JSON text and a newline, as the decision log
 * (900 points a service: their tree cost megabytes for a moment). */
int agent_history_text(struct agent *a, const char *name, char **text,
		       size_t *len, struct agent_error *err);
/* Cluster mode's nodes (cluster.h cluster_nodes_json); a not-found error
 * when kanaryd runs on its own. */
int agent_nodes_json(struct agent *a, json_t **out, struct agent_error *err);
/* Prometheus text format 0.0.4 for GET /metrics; free() the text. */
int agent_prometheus_text(struct agent *a, char **text, size_t *len);

/* True when the service exists; else false with a not-found error. */
bool agent_service_exists(struct agent *a, const char *name,
			  struct agent_error *err);
/* The service's configured rollout spec: what agent_rollout_start() runs
 * when given no spec, and the base a partial spec is read over. */
int agent_rollout_defaults(struct agent *a, const char *name,
			   struct rollout_spec *out, struct agent_error *err);

/* ---- operations: on success *out (may be NULL) is the new status -------- */

/* spec: NULL for the service's defaults (agent_rollout_defaults) */
int agent_rollout_start(struct agent *a, const char *name,
			const struct rollout_spec *spec, json_t **out,
			struct agent_error *err);
int agent_rollout_pause(struct agent *a, const char *name, json_t **out,
			struct agent_error *err);
int agent_rollout_resume(struct agent *a, const char *name, json_t **out,
			 struct agent_error *err);
/* full: all the way to 100 % and the canary pool becomes stable */
int agent_rollout_promote(struct agent *a, const char *name, bool full,
			  json_t **out, struct agent_error *err);
int agent_rollout_abort(struct agent *a, const char *name, json_t **out,
			struct agent_error *err);
/* The gate the rollout waits for says yes (any gate: an operator's word
 * overrides a URL's hold); a conflict when no gate is waiting. */
int agent_rollout_approve(struct agent *a, const char *name, json_t **out,
			  struct agent_error *err);
/* The canary's share of new connections, in basis points (0..10000);
 * outside a rollout only, and above 0 only with canary backends. */
int agent_set_weight(struct agent *a, const char *name, uint32_t canary_bp,
		     json_t **out, struct agent_error *err);
/* Replaces a pool when its set_ flag is true (at most KN_MAX_POOL_BACKENDS
 * endpoints each); the other pool stays. Outside a rollout only; the
 * stable pool must not end up empty. */
int agent_set_backends(struct agent *a, const char *name,
		       const struct endpoint *stable, uint32_t stable_count,
		       bool set_stable, const struct endpoint *canary,
		       uint32_t canary_count, bool set_canary, json_t **out,
		       struct agent_error *err);

/* Connection affinity on (true) or client affinity; at any time, also
 * during a rollout: recorded flows keep their backend, new connections
 * follow the new rule, and the step's window starts over so that the
 * analysis compares the pools under one rule. */
int agent_set_affinity(struct agent *a, const char *name, bool connection,
		       json_t **out, struct agent_error *err);

#endif /* KANARY_AGENT_H */
