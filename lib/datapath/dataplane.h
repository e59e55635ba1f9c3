/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * dataplane.h - the agent's handle on the kernel data path: load or adopt
 * the BPF programs and pinned maps, attach them to the node interface,
 * program services atomically, and read the kernel's counters.
 *
 * Not thread-safe: the agent serializes calls under its own lock.
 */
#ifndef KANARY_DATAPLANE_H
#define KANARY_DATAPLANE_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kanary_shared.h"
#include "util/netaddr.h"

#define DP_DEFAULT_PIN_DIR	       "/sys/fs/bpf/kanary"
#define DP_BPFFS_ROOT		       "/sys/fs/bpf"
#define DP_ERR_LEN		       512
#define DP_DEFAULT_UDP_IDLE_TIMEOUT_MS 60000

enum dp_mode {
	DP_MODE_AUTO = 0,    /* native XDP, else tc (logged) */
	DP_MODE_XDP,	     /* native XDP or fail */
	DP_MODE_XDP_GENERIC, /* generic (skb) XDP: any interface, slower */
	DP_MODE_TC,	     /* tc clsact ingress */
};

struct dp_options {
	const char *ifname;
	const char *pin_dir; /* NULL: DP_DEFAULT_PIN_DIR */
	enum dp_mode mode;
	uint32_t max_flows;		     /* 0: KN_DEFAULT_MAX_FLOWS */
	uint32_t max_services;		     /* 0: KN_MAX_SERVICES */
	uint32_t max_backends;		     /* 0: KN_DEFAULT_MAX_BACKENDS */
	uint64_t tcp_established_timeout_ns; /* 0: the program's default */
	uint64_t tcp_closing_timeout_ns;
	uint64_t tcp_syn_timeout_ns;
	/* Replace what another kanaryd (another pin directory) or anything
	 * else attached to the interface's hooks; otherwise that is refused. */
	bool takeover;
	/* How steered client packets leave (docs/forwarding.md): a load-time
	 * constant of the programs. 0: KN_FORWARD_STACK. */
	enum kn_forward_mode forward;
};

struct dp_backend {
	struct endpoint ep;
	uint32_t stats_index;
	bool down; /* out of the Maglev table: no new flows */
};

struct dp_pool {
	uint32_t count;
	struct dp_backend backends[KN_MAX_POOL_BACKENDS];
};

/* What the agent asks for when it adds a service. */
struct dp_service_def {
	char name[KN_SERVICE_NAME_LEN];
	struct endpoint vip;
	uint8_t proto;		      /* IPPROTO_TCP or IPPROTO_UDP */
	uint32_t flags;		      /* KN_SVC_F_* */
	uint32_t seed;		      /* 0: derived from the name */
	uint32_t udp_idle_timeout_ms; /* 0: DP_DEFAULT_UDP_IDLE_TIMEOUT_MS */
	struct endpoint stable[KN_MAX_POOL_BACKENDS];
	uint32_t stable_count;
	struct endpoint canary[KN_MAX_POOL_BACKENDS];
	uint32_t canary_count;
	uint32_t canary_bp;
};

/* A service as the kernel has it now (mirrored by the agent). */
struct dp_service {
	bool in_use;
	uint32_t index;
	char name[KN_SERVICE_NAME_LEN];
	struct endpoint vip;
	uint8_t proto;
	uint32_t flags;
	uint32_t seed;
	uint32_t udp_idle_timeout_ms;
	struct dp_pool pools[KN_POOL_COUNT];
	uint32_t canary_bp;
	uint32_t slot;
	uint32_t generation;
};

/* One backend's counters, summed over CPUs, with its latency histogram
 * (to the response's first byte) and its response timing histograms. */
struct dp_backend_counters {
	struct kn_backend_stats totals;
	struct kn_latency_hist latency;
	struct kn_response_timing timing;
};

struct dataplane;

/*
 * Checks privileges, the interface and bpffs (mounting it when missing),
 * takes the pin directory's lock, loads the programs reusing any pinned maps
 * (adopting the services they hold) and attaches. On failure returns a
 * negative errno with a message for a person in err.
 */
int dp_open(const struct dp_options *opts, struct dataplane **out, char *err,
	    size_t err_len);
/*
 * What dp_open would refuse before loading anything (privileges, the
 * interface, bpffs, the pin directory's lock held by a running kanaryd),
 * checked without keeping anything: kanaryd calls it before its other
 * checks so that the first refusal is the most telling one.
 */
int dp_check_options(const struct dp_options *opts, char *err, size_t err_len);
/* detach: remove the programs and the pins; otherwise leave the data path
 * running for a later kanaryd to adopt. */
void dp_close(struct dataplane *dp, bool detach);

enum dp_mode dp_active_mode(const struct dataplane *dp);
const char *dp_mode_name(enum dp_mode mode);
int dp_parse_mode(const char *text, enum dp_mode *out);
const char *dp_pin_dir(const struct dataplane *dp);
const char *dp_ifname(const struct dataplane *dp);
uint32_t dp_max_services(const struct dataplane *dp);
uint32_t dp_max_flows(const struct dataplane *dp);
/* How many services the data path had when dp_open adopted it. */
uint32_t dp_adopted_services(const struct dataplane *dp);

/* Services by index (0..dp_max_services-1); NULL when the slot is free. */
const struct dp_service *dp_service_at(const struct dataplane *dp,
				       uint32_t index);
const struct dp_service *dp_service_find(const struct dataplane *dp,
					 const char *name);

int dp_service_add(struct dataplane *dp, const struct dp_service_def *def,
		   uint32_t *index_out, char *err, size_t err_len);
/* Replaces both pools and the weight in one step. */
int dp_service_update(struct dataplane *dp, uint32_t index,
		      const struct endpoint *stable, uint32_t stable_count,
		      const struct endpoint *canary, uint32_t canary_count,
		      uint32_t canary_bp, char *err, size_t err_len);
int dp_service_set_weight(struct dataplane *dp, uint32_t index,
			  uint32_t canary_bp);
/* The canary pool becomes the stable pool (keeping its counters), the
 * canary pool empties and the weight drops to 0, in one step. */
int dp_service_promote(struct dataplane *dp, uint32_t index);
int dp_service_remove(struct dataplane *dp, uint32_t index);
/*
 * Sets or clears a service's KN_SVC_F_CONNECTION_AFFINITY: rewrites its
 * kn_services entry in place (readers see the old or the new entry, never
 * a mix). New flows follow at once; recorded flows keep their backend.
 */
int dp_service_set_affinity(struct dataplane *dp, uint32_t index,
			    bool connection);
/*
 * Marks one backend of a service down (no new flows; its established flows
 * stay) or up again, in one commit. A pool whose backends are all down
 * keeps all of them in its table: there is nothing better to send to.
 * Returns 0, -ENOENT (no such backend) or a commit error.
 */
int dp_service_set_down(struct dataplane *dp, uint32_t index,
			const struct endpoint *ep, bool down);

int dp_read_backend(struct dataplane *dp, uint32_t stats_index,
		    struct dp_backend_counters *out);
int dp_read_service(struct dataplane *dp, uint32_t index,
		    struct kn_service_stats *out);
int dp_read_global(struct dataplane *dp,
		   struct kn_global_stats out[KN_HOOK_COUNT]);
/* The client addresses a service's new flows came from since the last
 * dp_clear_clients: the CPUs' bitmaps ORed (struct kn_client_seen). */
int dp_read_clients(struct dataplane *dp, uint32_t index,
		    struct kn_client_seen *out);
/* Starts a service's bitmap of client addresses over (every CPU's). */
int dp_clear_clients(struct dataplane *dp, uint32_t index);

/*
 * Forgets the flows steered to one backend of a service (both directions),
 * so that their next packets are re-derived: used to cut canary connections
 * at a rollback. Returns the number of flows removed or a negative errno.
 */
int dp_flush_backend_flows(struct dataplane *dp, uint32_t stats_index);

/*
 * Whether the interface's hooks still run this data path's programs. Reads
 * the hooks now; out->detail says what each hook holds instead, and
 * out->changed whether that differs from the previous check.
 */
struct dp_attach_check {
	bool attached;
	bool changed;
	char detail[DP_ERR_LEN];
};
int dp_check_attached(struct dataplane *dp, struct dp_attach_check *out);
/* As of the last dp_check_attached (true when attached by dp_open). */
bool dp_is_attached(const struct dataplane *dp);
/* What the hooks held instead at the last check; "" when attached. */
const char *dp_detached_detail(const struct dataplane *dp);
/*
 * Attaches again where the hooks hold nothing. When a hook holds another
 * program (another kanaryd took the interface over), nothing is touched:
 * returns -EBUSY with what holds it in err.
 */
int dp_reattach(struct dataplane *dp, char *err, size_t err_len);

/*
 * kanaryd --remove: detaches from opts->ifname only the programs that use
 * the maps pinned in opts->pin_dir (what that pin directory owns), then
 * unpins them. -ENOENT when nothing is pinned there (nothing is removed;
 * err names what the interface runs instead), -EBUSY when a running
 * kanaryd holds the pin directory. *detached: how many hooks were freed.
 */
int dp_remove(const struct dp_options *opts, unsigned int *detached, char *err,
	      size_t err_len);

/* The forwarding fast path (lib/datapath/forward.c): the modes' names
 * ("stack", "redirect"), the mode the loaded programs run, and what became
 * of steered packets in redirect mode, per hook, summed over CPUs. Each
 * result has a label pair in kanary_forward_total: result ("redirected"
 * or "fallback") and reason ("fib", "neigh", "no_neigh", "ttl"...). */
const char *dp_forward_name(enum kn_forward_mode mode);
int dp_parse_forward(const char *text, enum kn_forward_mode *out);
enum kn_forward_mode dp_forward_mode(const struct dataplane *dp);
const char *dp_forward_result_name(enum kn_forward_result result);
const char *dp_forward_reason_name(enum kn_forward_result result);
bool dp_forward_is_redirected(enum kn_forward_result result);
int dp_read_forward(struct dataplane *dp,
		    struct kn_forward_stats out[KN_HOOK_COUNT]);

/* File descriptors for tests and tools that drive the programs directly. */
int dp_prog_fd(const struct dataplane *dp, enum kn_hook hook);

#endif /* KANARY_DATAPLANE_H */
