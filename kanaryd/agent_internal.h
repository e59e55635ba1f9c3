/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * agent_internal.h - the agent's state, shared by its parts:
 *   agent.c          the core: lifecycle, control loop, operations; the
 *                    only part that calls the rollout transitions
 *                    (judge/rollout.h) and the data path's writers, and
 *                    that applies what the other parts hand back
 *   status.c         the queries: status, decisions, history as JSON
 *   signals.c        kernel counters: windows, trailing counts, history
 *   scrape.c         /metrics scrapes, metrics windows, warm-up requests
 *                    (their outcome: struct warmup_outcome)
 *   health.c         which backends are alive (struct health_change)
 *   statefile.c      rollout state and decision log on disk (struct
 *                    state_record)
 *   prom_export.c    kanaryd's own /metrics
 *   gates.c          asking a waiting gate's URL (its answer: struct
 *                    gate_wait, taken by the core)
 *   events.c         what the notifier is told after each transition
 *   decision_log.c   the decision log (struct decision_log)
 * Everything here is guarded by agent.lock. The fetcher is used by the
 * control loop's thread only: API threads leave work for it (flags,
 * retired backends) and wake it up. tests/static/core_calls.sh checks that
 * only agent.c makes changes.
 */
#ifndef KANARY_AGENT_INTERNAL_H
#define KANARY_AGENT_INTERNAL_H

#include <pthread.h>
#include <signal.h>

#include "agent.h"
#include "decision_log.h"
#include "judge/analysis.h"
#include "datapath/dataplane.h"
#include "fetcher.h"
#include "metrics/metric_presets.h"
#include "judge/gate.h"
#include "judge/rollout.h"
#include "notify.h"
#include "util/clock.h"
#include "util/ring.h"

#define AGENT_DECISIONS_MAX	     1000
#define AGENT_HISTORY_POINTS	     900 /* one per second: the chart's 15 min */
#define AGENT_HISTORY_INTERVAL_MS    1000
#define AGENT_HISTORY_SPAN_SNAPSHOTS 6	 /* error rate and p99 over ~5 s */
#define AGENT_TRAIL_POINTS	     256 /* kernel canary counts, per tick */
#define AGENT_TRAIL_LOOKBACK_MS	     10000
#define AGENT_SCRAPE_TRAIL_POINTS    16
#define AGENT_IDLE_READ_INTERVAL_MS  1000
#define AGENT_METRICS_MAX_BYTES	     (8 * 1024 * 1024)
#define AGENT_WARMUP_CONCURRENCY     4
#define AGENT_TOKEN_MAX		     256
#define AGENT_FETCH_IN_FLIGHT_MAX    64
#define AGENT_HEAP_TRIM_INTERVAL_MS  60000 /* freed pages back to the system */

/* One backend's /metrics target. */
struct scrape_target {
	char url[FETCH_URL_LEN];
	bool in_flight;
	uint64_t submitted_ms; /* monotonic: when the scrape in flight began */
	uint64_t next_due_ms;  /* monotonic */
	bool up;	       /* the latest scrape succeeded */
	char last_error[FETCH_ERR_LEN];
	uint64_t scrapes;
	uint64_t failures;
	bool has_latest;
	struct metrics_sample latest;
	uint64_t latest_ms;
	bool has_baseline; /* first good scrape of the window */
	struct metrics_sample baseline;
	struct {
		uint64_t t_ms;
		double requests;
		double errors;
	} trail[AGENT_SCRAPE_TRAIL_POINTS];
	struct ring trail_ring; /* the filled entries of trail, oldest first */
};

/* Is the backend alive: refusals seen by the kernel mark it down at once;
 * TCP connect probes mark it down after a few failures and up again. The
 * probes are shared: one per distinct address (struct health_probes). */
struct backend_health {
	bool primed; /* refused_seen holds a reading */
	bool down;
	uint64_t probe_results_seen; /* of its address's endpoint_probe */
	uint64_t refused_seen;
	uint32_t probe_failures;  /* consecutive */
	uint32_t probe_successes; /* consecutive */
	char reason[FETCH_ERR_LEN];
};

/* What health_check() found: the backend must go down or come back up. */
struct health_change {
	bool down;
	char why[FETCH_ERR_LEN + 48];
};

/* How a warm-up ended: failed, and why, or every canary backend ready. */
struct warmup_outcome {
	bool failed;
	char why[ROLLOUT_REASON_LEN];
};

struct warmup_progress {
	uint32_t sent;
	uint32_t ok;
	uint32_t failed;
	char last_error[FETCH_ERR_LEN];
};

struct backend_rt {
	struct agent *agent;
	struct service_rt *service;
	struct endpoint ep;
	enum kn_pool_id pool;
	uint32_t stats_index;
	struct dp_backend_counters now;
	struct dp_backend_counters window_start;
	struct scrape_target target;
	struct warmup_progress warmup;
	struct backend_health health;
	struct backend_rt *retired_next;
	bool target_reported_down; /* events.c: target_down was sent */
};

/* One pool's second in the history chart: compact, so that the chart's 15
 * minutes cost a service 900 x 64 bytes, not a tree of JSON values. Longer
 * history is Prometheus's job: kanaryd's /metrics has the same counters. */
struct history_pool {
	double requests;
	double error_rate_pct; /* NAN: no requests in the span */
	double p99_ms;	       /* NAN: no latency seen in the span */
};

struct history_point {
	uint64_t wall_ms;
	uint32_t weight_bp;
	uint32_t phase; /* enum rollout_phase */
	struct history_pool pools[2];
};

/* How one count of the current window (new connections, or requests)
 * splits between the pools: each pool's fraction of both pools' total. */
struct pool_split {
	double total;
	double fraction[KN_POOL_COUNT]; /* 0..1; NAN when total is 0 */
};

/* The window's split of new connections and of requests, beside the weight:
 * a keep-alive client's requests stay where its connection opened, so the
 * two differ while old connections live. */
struct window_share {
	struct pool_split new_connections;
	bool requests_observed; /* HTTP: the kernel counts responses */
	struct pool_split requests;
};

/* A waiting gate's asking (gates.c): one request at a time, again after
 * the gate's interval while it holds. */
struct gate_wait {
	bool in_flight;
	uint64_t wait_since_ms;	   /* rollout.gate_since_ms asked for */
	uint64_t next_ask_mono_ms; /* 0: ask now */
	uint64_t asked;		   /* in this wait */
	bool answered;		   /* an answer for the core to take */
	enum gate_answer answer;
	char why[GATE_WHY_LEN]; /* the latest answer, for the status */
};

/* What the notifier was last told of a service (events.c). */
struct rollout_mark {
	enum rollout_phase phase;
	uint32_t step;
	enum gate_point gate;
	const json_t *record; /* the decision log's newest, when told */
};

/* Aggregated kernel counters of one pool at one time. */
struct pool_snapshot {
	uint64_t t_ms;
	double requests;
	double errors;
	double refused;
	struct kn_latency_hist latency;
};

struct service_rt {
	struct service_config cfg;
	uint32_t dp_index;
	struct rollout_state rollout;
	uint64_t config_fingerprint;
	struct backend_rt **backends;
	uint32_t backend_count;
	uint64_t window_started_mono_ms;
	uint64_t last_read_mono_ms;
	uint64_t next_eval_wall_ms; /* after an inconclusive verdict */
	bool warmup_pending;	    /* the loop must start the warm-up */
	bool warmup_running;
	bool warmup_finished; /* the loop must take warmup_outcome */
	struct warmup_outcome warmup_outcome;

	/* kernel canary counts per tick, for the immediate rules */
	struct {
		uint64_t t_ms;
		double requests;
		double errors;
		double refused;
	} trail[AGENT_TRAIL_POINTS];
	struct ring trail_ring; /* the filled entries of trail, oldest first */

	/* per-second snapshots for the history chart */
	struct pool_snapshot snapshots[AGENT_HISTORY_SPAN_SNAPSHOTS][2];
	struct ring snapshot_ring;
	uint64_t next_history_mono_ms;
	struct history_point *history; /* AGENT_HISTORY_POINTS of them */
	struct ring history_ring;

	/* The stable pool's window from the last evaluation where it had
	 * enough requests: the reference at steps where it has too few. */
	bool have_stable_baseline;
	uint32_t stable_baseline_step; /* 1-based */
	struct kernel_window stable_baseline_kernel;
	struct metrics_window stable_baseline_metrics;

	struct decision_log decisions; /* the last AGENT_DECISIONS_MAX */
	json_t *latest_analysis;
	uint64_t evaluations[3]; /* by enum rollout_verdict */
	uint64_t rollbacks;

	/* Distinct client addresses of the window (judge/clients.h) and
	 * whether the decision log has said they are too few. */
	double clients_estimate;
	bool few_clients_logged;
	/* The config's affinity: wins over the kernel's when the config
	 * changed since the state file (like the pools). */
	bool configured_connection_affinity;
	struct gate_wait gate_wait;
	struct rollout_mark notified;
	/* Cluster mode (cluster.c): this node's copy of etcd's state. */
	bool cl_proposed; /* etcd holds this definition: state is shared */
	bool cl_dirty;	  /* a change made here, to write to etcd */
	uint64_t cl_generation; /* of the state applied here */
	int64_t cl_mod_rev;	/* etcd's revision of that state (0: none) */
	/* A raise made here (ACTION_PROMOTE_POOLS or ACTION_SET_WEIGHT),
	 * kept off the data path until etcd holds it: a node lowers the
	 * canary on its own, never raises it without etcd. */
	uint32_t cl_held;
	/* Created from etcd's definition (no config of this node names
	 * it): removed when etcd's definition goes. */
	bool cl_from_etcd;
};

enum rollback_reason {
	ROLLBACK_ERROR_RATE = 0,
	ROLLBACK_REFUSED = 1,
	ROLLBACK_ANALYSIS = 2,
	ROLLBACK_GATE = 3, /* a gate refused */
	ROLLBACK_REASON_COUNT,
};

struct agent {
	pthread_mutex_t lock;
	struct agent_config cfg;
	struct agent_options opts;
	struct dataplane *dp;
	struct fetcher *fetcher;
	struct health_probes *probes;
	struct service_rt **services;
	size_t service_count;
	struct backend_rt *retired; /* freed by the loop thread */
	volatile sig_atomic_t stop;
	char token[AGENT_TOKEN_MAX];
	bool has_token;
	bool state_dirty;
	uint64_t started_wall_ms;
	uint64_t scrape_errors_total;
	uint64_t rollbacks_by_reason[ROLLBACK_REASON_COUNT];
	struct notifier *notifier;
	struct cluster *cluster; /* NULL: single node */
	bool cluster_adopting;	 /* applying etcd's state: not a change here */
};

/* A loaded state file's record of one service (statefile_load). */
#define STATE_FINGERPRINT_LEN 24
struct state_record {
	char name[KN_SERVICE_NAME_LEN];
	bool has_fingerprint;
	char config_fingerprint[STATE_FINGERPRINT_LEN];
	/* NULL: rollout holds the saved rollout; otherwise why it cannot */
	const char *rollout_error;
	struct rollout_state rollout;
	json_t *decisions; /* owned; NULL when the record has none */
	uint64_t evaluations_pass;
	uint64_t evaluations_fail;
	uint64_t rollbacks;
	/* the stable pool's baseline for the last steps (agent.c) */
	bool has_stable_baseline;
	uint32_t stable_baseline_step; /* 1-based */
	struct kernel_window stable_baseline_kernel;
	struct metrics_window stable_baseline_metrics;
};

/* agent.c */
struct service_rt *agent_find_service(struct agent *a, const char *name);
/* agent_find_service(), or NULL with a not-found error naming it. */
struct service_rt *agent_lookup(struct agent *a, const char *name,
				struct agent_error *err);
/* Calls fn(a, s, out) with the service named name, under the lock.
 * Returns 0, or -ENOENT (err says so) when there is none. */
typedef void (*service_read_fn)(struct agent *a, struct service_rt *s,
				void *out);
int agent_read_service(struct agent *a, const char *name, service_read_fn fn,
		       void *out, struct agent_error *err);
void agent_set_error(struct agent_error *err, enum agent_errc code,
		     const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* status.c */
json_t *agent_service_status_locked(struct agent *a, struct service_rt *s);
/* An RFC 3339 string, or null for 0 (never). */
json_t *status_time_json(uint64_t wall_ms);

/* signals.c */
void signals_read(struct agent *a, struct service_rt *s, uint64_t mono_ms);
void signals_new_window(struct service_rt *s, uint64_t mono_ms);
void signals_kernel_window(const struct service_rt *s,
			   struct kernel_window out[2]);
void signals_trailing(const struct service_rt *s, uint32_t min_requests,
		      struct trailing_counts *out);
void signals_reset_trail(struct service_rt *s);
void signals_history_tick(struct service_rt *s, uint64_t mono_ms,
			  uint64_t wall_ms);
const struct history_point *signals_history_last(const struct service_rt *s);
json_t *signals_history_pools_json(const struct history_point *pt);
/* The history, oldest point first, in the API's shape: the items of a
 * JSON array (json_text_array_item), one point's tree at a time. */
int signals_history_items(const struct service_rt *s, struct buf *out);
json_t *signals_backend_json(const struct backend_rt *b);
void signals_window_share(const struct service_rt *s, struct window_share *out);
json_t *signals_window_share_json(const struct service_rt *s,
				  uint64_t window_started_wall_ms);

/* The warning's length: a sentence with three numbers. */
#define SIGNALS_FEW_CLIENTS_TEXT_LEN 320
void signals_read_clients(struct agent *a, struct service_rt *s);
/* With client affinity, are the window's clients too few for the weight. */
bool signals_few_clients(const struct service_rt *s);
void signals_few_clients_text(const struct service_rt *s, char *buf,
			      size_t len);
json_t *signals_clients_json(const struct service_rt *s);

/* scrape.c */
void scrape_set_url(struct service_rt *s, struct backend_rt *b);
void scrape_tick(struct agent *a, struct service_rt *s, uint64_t mono_ms);
void scrape_new_window(struct service_rt *s);
void scrape_reset_trails(struct service_rt *s);
/* A new backend's target: an empty trail. */
void scrape_target_init(struct scrape_target *t);
void scrape_metrics_window(const struct service_rt *s,
			   struct metrics_window out[2]);
void scrape_trailing(const struct service_rt *s, uint32_t min_requests,
		     uint64_t mono_ms, struct trailing_counts *out);
json_t *scrape_target_json(const struct scrape_target *t);
void warmup_tick(struct agent *a, struct service_rt *s);
/* True once when the warm-up has ended, with how. */
bool warmup_take_outcome(struct service_rt *s, struct warmup_outcome *out);

/* health.c */
struct health_probes *health_probes_create(void);
void health_probes_destroy(struct health_probes *hp, struct fetcher *f);
/* Forgets the probes of addresses no backend looked at for a while. */
void health_probes_sweep(struct health_probes *hp, uint64_t mono_ms);
uint64_t health_probes_sent(const struct health_probes *hp);
size_t health_probes_addresses(const struct health_probes *hp);
/* Reads the kernel's refusals and the probe of b's address (sending the
 * next probe when due): true when b must change state, said in *out. */
bool health_check(struct agent *a, struct backend_rt *b, uint64_t mono_ms,
		  struct health_change *out);
json_t *health_json(const struct backend_health *h);

/* statefile.c */
int statefile_save(struct agent *a);
/* Reads path's records: 0 with *records (statefile_records_free) and
 * *count, 0 with none when there is no file, or a negative errno. */
int statefile_load(const char *path, struct state_record **records,
		   size_t *count);
void statefile_records_free(struct state_record *records, size_t count);
/* The form a config fingerprint has in the file. */
void statefile_fingerprint(uint64_t fingerprint, char *buf, size_t len);
/* A rollout as the file has it; and one service's record read back (the
 * cluster's state in etcd has the same shape). */
json_t *statefile_rollout_json(const struct rollout_state *r);
void statefile_parse_record(const json_t *rec, struct state_record *r);

/* agent.c, for cluster.c (under the lock): etcd's state of s is applied
 * here - the rollout, the pools (when pools is not NULL) and the weight;
 * a service whose definition etcd holds otherwise is dropped (diff says
 * how they differ). */
void agent_cluster_adopt_locked(struct agent *a, struct service_rt *s,
				const struct state_record *rec,
				const struct dp_service_def *pools,
				uint64_t generation, int64_t mod_rev);
void agent_cluster_refuse_locked(struct agent *a, struct service_rt *s,
				 const char *diff);
/* etcd now holds the change made here: a raise it held (cl_held) reaches
 * the data path. */
void agent_cluster_release_locked(struct agent *a, struct service_rt *s);
/* A service etcd holds that this node's config does not name: added to
 * this node (cl_proposed, cl_from_etcd; etcd's state is applied at the
 * next read). 0, or a negative errno with why in err. */
int agent_cluster_create_locked(struct agent *a,
				const struct service_config *cfg, char *err,
				size_t err_len);
/* Such a service whose definition went from etcd: removed here. */
void agent_cluster_drop_locked(struct agent *a, struct service_rt *s);

/* gates.c */
/* Asks a waiting gate's URL when due (never waits for the answer). */
void gates_tick(struct agent *a, struct service_rt *s, uint64_t mono_ms);
/* True once per answer that moves the rollout (proceed or refuse), with
 * it and why; a hold is kept for the status and asked again later. */
bool gates_take_answer(struct service_rt *s, enum gate_answer *answer,
		       char *why, size_t why_len);
void gates_cancel(struct agent *a, struct service_rt *s);
/* {"gate", "url", "since", "asked", "last_answer"} while waiting, or NULL */
json_t *gates_status_json(const struct service_rt *s);

/* events.c */
/* What the notifier knows of s is what s is now (start, restore). */
void events_sync(struct service_rt *s);
/* After a transition: the events between what was last told and now. */
void events_update(struct agent *a, struct service_rt *s);
void events_emit(struct agent *a, struct service_rt *s, enum notify_event kind,
		 const char *target);
/* A /metrics target went down or came back. */
void events_targets(struct agent *a, struct service_rt *s);

/* prom_export.c */
int prom_export(struct agent *a, char **text, size_t *len);

#endif /* KANARY_AGENT_INTERNAL_H */
