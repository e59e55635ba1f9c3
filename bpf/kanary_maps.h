/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * kanary_maps.h - the maps of the data path: what each holds, who writes it.
 *
 * Every map is pinned by name under the agent's pin directory (default
 * /sys/fs/bpf/kanary) so that a restarted kanaryd adopts them, and carries
 * BTF so that `bpftool map dump pinned /sys/fs/bpf/kanary/<name>` shows
 * named fields. Sizes marked "agent" are set by kanaryd before load.
 */
#ifndef KANARY_MAPS_H
#define KANARY_MAPS_H

#include "kanary_hash.h"
#include "kanary_shared.h"

/* Services by (VIP, port, protocol). Written by the agent when it adds or
 * removes a service; read by ingress for every packet. Size: agent. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KN_MAX_SERVICES);
	__type(key, struct kn_service_key);
	__type(value, struct kn_service);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kn_services SEC(".maps");

/*
 * Per service slot: its generation, moved on by the agent when it adds a
 * service to the slot and when it removes one (lib/datapath/service.c),
 * never 0 once written. A flow records the generation it last found its
 * service under; ingress trusts a flow whose record matches without looking
 * the service up. Read by ingress for every packet of a known flow.
 * Size: agent (= kn_services).
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KN_MAX_SERVICES);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kn_service_gens SEC(".maps");

/*
 * The services' filter: a bit for each service's (VIP, port), at
 * kn_filter_bit() (word bit / 64, bit bit % 64), whatever its
 * protocol or family; bits may be shared. Ingress turns away a packet whose
 * bit is clear before it searches the connection table. Written by the
 * agent (a bit set before its service is added, cleared after the last
 * service on it is removed); read by ingress for every packet.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KN_FILTER_WORDS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kn_service_filter SEC(".maps");

/*
 * The backends' filter: a bit for each address:port that a flow was ever
 * sent to, at kn_filter_bit() as kn_service_filter's. Egress turns away a
 * packet whose source's bit is clear before it searches kn_replies: most
 * of what a node sends is no backend's reply. Written by the agent: a
 * backend's bit is set before any config that names it is written, and
 * never cleared (replies of its flows may come for as long as they live);
 * an agent that creates the map sets the bits of the flows kn_replies
 * already holds. Read by egress for every packet.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KN_FILTER_WORDS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kn_backend_filter SEC(".maps");

/* Per service, per CPU: the canary weight and its active config slot in one
 * 64-bit word. Written by the agent (the commit point of every change); read
 * by ingress for every new flow. Size: agent (= kn_services). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KN_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct kn_weight);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kn_weights SEC(".maps");

/* Two config slots per service (2 * index + slot): the stable and canary
 * pools with their Maglev tables. The agent writes only the inactive slot;
 * ingress reads the active one for every new flow. Size: agent (2 x). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * KN_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct kn_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kn_configs SEC(".maps");

/* Connection table, client side: (client, VIP) -> backend. Written by
 * ingress at a flow's first packet; read by ingress for every packet and by
 * egress to time HTTP responses. Size: agent (--max-flows). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, KN_DEFAULT_MAX_FLOWS);
	__type(key, struct kn_flow_key);
	__type(value, struct kn_flow);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kn_flows SEC(".maps");

/* Connection table, backend side: (backend, client) -> VIP. Written by
 * ingress next to kn_flows; read by egress for every reply. Size: agent. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, KN_DEFAULT_MAX_FLOWS);
	__type(key, struct kn_flow_key);
	__type(value, struct kn_reply);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kn_replies SEC(".maps");

/* Per-backend counters (per CPU), by kn_backend.stats_index. Written by both
 * directions; read and zeroed (on slot reuse) by the agent. Size: agent. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KN_DEFAULT_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct kn_backend_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kn_backend_ctr SEC(".maps");

/* Per-backend HTTP latency histograms (per CPU: a shared one costs cache
 * lines bouncing between CPUs on every response), by stats_index. Written
 * by egress; summed by the agent. Size: agent. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KN_DEFAULT_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct kn_latency_hist);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kn_latency SEC(".maps");

/* Per-backend response timing histograms (per CPU, as kn_latency): first
 * body byte, end, gaps between events. Written by egress; summed by the
 * agent. Size: agent. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KN_DEFAULT_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct kn_response_timing);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kn_response_timing SEC(".maps");

/* Per-service counters (per CPU), by kn_service.index. Size: agent. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KN_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct kn_service_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kn_service_ctr SEC(".maps");

/* Per service (per CPU), by kn_service.index: which client addresses opened
 * new flows (struct kn_client_seen). Set by ingress at every new flow; read
 * and zeroed by the agent at each step. Size: agent (= kn_services). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KN_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct kn_client_seen);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kn_client_seen SEC(".maps");

/* Why packets passed or were dropped, per program (enum kn_hook). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KN_HOOK_COUNT);
	__type(key, __u32);
	__type(value, struct kn_global_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kn_global_ctr SEC(".maps");

/* Per CPU: the coarse clock as last read, and the jiffies it was read at
 * (see kn_now in kanary_steer.h). Not pinned: only the programs use it,
 * and a fresh one is as good as an adopted one. */
struct kn_clock {
	__u64 jiffies;
	__u64 coarse_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kn_clock);
} kn_clock SEC(".maps");

/* Not read by any program: the agent updates it after each commit, because
 * the kernel waits for every running BPF program to finish before an update
 * of a map-in-map returns (synchronize_rcu). That is how the agent knows no
 * CPU still reads the slot it is about to reuse. */
struct kn_sync_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct kn_sync_inner);
} kn_sync SEC(".maps");

#endif /* KANARY_MAPS_H */
