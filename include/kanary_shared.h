/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * kanary_shared.h - every layout that the BPF data path and user space share.
 *
 * This header is the single source of truth for the maps' keys and values,
 * their limits and the meaning of each counter. It is included by
 * bpf/kanary.bpf.c (through vmlinux.h types) and by the agent (through
 * <linux/types.h>), so it uses fixed-width __uN types only and includes
 * nothing itself.
 *
 * Addresses: every address is a struct kn_addr of 16 bytes in network byte
 * order. IPv4 lives in w[0] with w[1..3] zero; IPv6 fills all four words.
 * Each key and backend says which with its family byte (KN_AF_*).
 * Ports are kept in network byte order, as on the wire.
 *
 * Upgrades: a newer kanary reuses the maps a running data path has pinned,
 * or migrates them (lib/datapath/open.c). The contract that makes migration
 * possible: a map's key keeps its size, and its value only grows, by fields
 * appended at its end (nested structs do not change).
 */
#ifndef KANARY_SHARED_H
#define KANARY_SHARED_H

/* ---- Limits (each overridable at build time) ------------------------- */

#ifndef KN_MAX_SERVICES
#define KN_MAX_SERVICES 1024 /* entries of kn_services; agent may lower */
#endif
#ifndef KN_MAX_POOL_BACKENDS
#define KN_MAX_POOL_BACKENDS 64 /* replicas per pool (stable or canary) */
#endif
#ifndef KN_DEFAULT_MAX_BACKENDS
#define KN_DEFAULT_MAX_BACKENDS 4096 /* counter slots in kn_backend_stats */
#endif
#ifndef KN_DEFAULT_MAX_FLOWS
#define KN_DEFAULT_MAX_FLOWS (1024 * 1024) /* connection table entries */
#endif
/*
 * Maglev lookup table per pool. A prime well above 64 x KN_MAX_POOL_BACKENDS
 * keeps every replica's share within 1/64 of the others.
 */
#ifndef KN_RING_SIZE
#define KN_RING_SIZE 4099
#endif

#define KN_SERVICE_NAME_LEN 32
#define KN_WEIGHT_SCALE_BP  10000 /* canary weight in basis points: 100 % */

/* Quarter-octave latency histogram, in microseconds: see kn_latency_bucket. */
#define KN_LATENCY_BUCKETS 96

/* Address families, as stored in keys (the kernel's AF_INET / AF_INET6). */
#define KN_AF_INET  2
#define KN_AF_INET6 10

/* ---- Keys and values --------------------------------------------------- */

struct kn_addr {
	__u32 w[4];
};

/* kn_services key: one model service, a VIP:port for one protocol. */
struct kn_service_key {
	struct kn_addr vip;
	__u16 port;  /* network order */
	__u8 proto;  /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 family; /* KN_AF_INET or KN_AF_INET6 */
};

/* kn_services value: written once when the agent adds the service. */
struct kn_service {
	__u32 index; /* into kn_weights, kn_configs, kn_service_stats */
	__u32 seed;  /* client-hash seed: which clients form the canary share */
	__u32 flags; /* KN_SVC_F_* */
	__u32 udp_idle_timeout_ms;
	char name[KN_SERVICE_NAME_LEN];
};

#define KN_SVC_F_HTTP (1U << 0) /* observe HTTP/1.x status and latency */
/* A new flow's version and replica come from its connection (client address,
 * port and protocol), not from the client address alone: no stickiness, but
 * the canary share follows the weight with only a few client addresses. */
#define KN_SVC_F_CONNECTION_AFFINITY (1U << 1)

/* One replica of a pool. */
struct kn_backend {
	struct kn_addr addr;
	__u16 port; /* network order */
	__u8 family;
	__u8 flags;	   /* KN_BACKEND_F_*: for the agent, not the program */
	__u32 stats_index; /* into kn_backend_stats and kn_latency */
};

/* The agent found the backend dead: it is left out of the pool's Maglev
 * table (no new flows), its established flows stay. Kept here so that a
 * restarted agent knows. */
#define KN_BACKEND_F_DOWN (1U << 0)

enum kn_pool_id {
	KN_POOL_STABLE = 0,
	KN_POOL_CANARY = 1,
	KN_POOL_COUNT = 2,
};

/* A pool: its replicas and its Maglev table of indexes into backends[]. */
struct kn_pool {
	__u32 count;
	__u32 pad;
	struct kn_backend backends[KN_MAX_POOL_BACKENDS];
	__u8 ring[KN_RING_SIZE];
	__u8 ring_pad[5]; /* keeps sizeof a multiple of 8 */
};

/*
 * kn_configs value: one of the two configuration slots of a service.
 * The active slot of service i is kn_configs[2 * i + kn_weight.slot].
 */
struct kn_config {
	__u32 generation; /* equals kn_weight.generation while active */
	__u32 pad;
	struct kn_pool pools[KN_POOL_COUNT];
};

/*
 * kn_weights value (per-CPU): the canary weight and the slot it goes with,
 * packed into one aligned 64-bit word. The kernel copies per-CPU values a
 * long at a time, so each CPU sees either the old word or the new one: a
 * weight is never paired with the wrong backend set. See
 * lib/datapath/service.c:dp_commit() for the whole update protocol.
 */
struct kn_weight {
	__u16 canary_bp;  /* 0..KN_WEIGHT_SCALE_BP */
	__u16 slot;	  /* 0 or 1 */
	__u32 generation; /* of the slot's kn_config */
};

/* ---- Connection table ------------------------------------------------- */

/* A flow as the client sees it (ingress) or as the backend sees it (egress). */
struct kn_flow_key {
	struct kn_addr src;
	struct kn_addr dst;
	__u16 sport; /* network order */
	__u16 dport; /* network order */
	__u8 proto;
	__u8 family;
	__u16 pad;
};

enum kn_flow_state {
	KN_FLOW_SYN_SENT = 1, /* TCP: SYN forwarded, no answer from backend */
	KN_FLOW_ESTABLISHED = 2, /* TCP: backend answered; UDP: any flow */
	KN_FLOW_CLOSING = 3,	 /* TCP: FIN or RST seen */
};

/* kn_flows value, keyed by (client, VIP): where this connection goes. */
struct kn_flow {
	struct kn_addr backend;
	__u16 backend_port; /* network order */
	__u8 state;	    /* enum kn_flow_state */
	__u8 pool;	    /* enum kn_pool_id */
	__u32 stats_index;
	__u32 service_index;
	__u32 flags;		/* KN_SVC_F_* of the service */
	__u64 last_seen_ns;	/* bpf_ktime_get_coarse_ns() */
	__u64 request_start_ns; /* HTTP: first byte of the pending request */
	/* Its service slot's generation (kn_service_gens) when the flow was
	 * made or last found its service. While the two match, ingress takes
	 * the flow without looking the service up (kanary_steer.h). 0 never
	 * matches: a flow migrated from before this field takes the full path
	 * once. Last, so that the migration's zero fill gives that 0. */
	__u32 service_generation;
	__u32 pad;
#ifdef KN_UPGRADE_TEST_FIELD
	/* Only in the build the upgrade test installs over a running data
	 * path: one more field, so the flow table must be migrated. */
	__u64 upgrade_test_field;
#endif
};

/*
 * Where the parse of an HTTP/1.x response stands (bpf/kanary_http.h): kept
 * in the reply entry, which egress holds for every packet anyway. The byte
 * parsers resume from here at the next packet, so that a response's headers,
 * chunk framing and server-sent events may be split at any byte.
 */
struct kn_http_state {
	__u64 request_ns;    /* the request's first byte: the times' origin */
	__u64 last_event_ns; /* last packet carrying event data (SSE) */
	__u64 remaining;     /* body bytes left (Content-Length) or chunk's */
	__u8 phase;	     /* enum kn_http_phase */
	__u8 step;	     /* where the phase's byte parser stands */
	__u8 match;	     /* bytes of the awaited word matched so far */
	__u8 flags;	     /* KN_HTTP_F_* */
	__u8 sse;	     /* where the event-stream line parser stands */
	__u8 sse_match;	     /* bytes of the awaited word matched so far */
	__u8 header;	     /* header names still matching (bit mask) */
	__u8 pad;
};

/* kn_replies value, keyed by (backend, client): how replies leave. */
struct kn_reply {
	struct kn_addr vip;
	__u16 vip_port; /* network order */
	__u8 state;	/* enum kn_flow_state, as the backend side saw it */
	__u8 pool;
	__u32 stats_index;
	__u32 service_index;
	__u32 flags; /* KN_SVC_F_* of the service */
	__u64 last_seen_ns;
	struct kn_http_state http; /* the response being parsed */
};

/* ---- Counters ---------------------------------------------------------- */

/* kn_backend_stats value (per-CPU), one slot per backend. */
struct kn_backend_stats {
	__u64 new_flows;      /* connections (or UDP flows) steered here */
	__u64 packets_to;     /* client -> backend */
	__u64 bytes_to;	      /* L3 bytes, client -> backend */
	__u64 packets_from;   /* backend -> client */
	__u64 bytes_from;     /* L3 bytes, backend -> client */
	__u64 resets_from;    /* TCP RST sent by the backend */
	__u64 refused;	      /* RST answering a SYN: connection refused */
	__u64 syn_retries;    /* SYN retransmitted: backend did not answer */
	__u64 http_status[5]; /* HTTP/1.x responses: 1xx, 2xx, 3xx, 4xx, 5xx */
	__u64 http_responses_unparsed; /* "HTTP/1." with a bad status code */
	__u64 http_streams; /* responses of Content-Type text/event-stream */
	__u64 http_stream_errors; /* streams that carried an error event */
};

/*
 * kn_latency value (per-CPU, summed by the agent): request's first byte
 * (ingress) to response's first byte (egress), in quarter-octave
 * microsecond buckets.
 */
struct kn_latency_hist {
	__u64 count;
	__u64 sum_us;
	__u64 buckets[KN_LATENCY_BUCKETS];
};

/*
 * kn_response_timing value (per-CPU, summed by the agent), from the same
 * origin as kn_latency (the request's first byte), in the same buckets:
 * the first body byte after the headers (for an event stream: the first
 * token's event), the response's end (the chunked terminator, the
 * Content-Length reached, or the backend closing the connection), and, for
 * event streams, the gap between two packets that carry event data (one
 * sample per packet: inter-token latency, approximately).
 */
struct kn_response_timing {
	struct kn_latency_hist first_body;
	struct kn_latency_hist end;
	struct kn_latency_hist event_gap;
};

/* kn_service_stats value (per-CPU). */
struct kn_service_stats {
	__u64 new_flows[KN_POOL_COUNT]; /* new connections per pool */
	__u64 flow_misses;  /* non-SYN TCP packet with no flow: re-derived */
	__u64 no_backend;   /* new flow dropped: the chosen pool was empty */
	__u64 config_races; /* slot generation mismatch: must stay 0 */
};

/* Why a packet left a program as it did: index of kn_global_stats.reason[]. */
enum kn_reason {
	KN_R_TRANSLATED = 0, /* rewritten to a backend or back to the VIP */
	KN_R_NOT_IPV4,	     /* ARP, VLAN-tagged: neither IPv4 nor IPv6 */
	KN_R_NOT_FOR_US,     /* IP but no service / no known reply flow */
	KN_R_NOT_TCP_UDP,    /* ICMP(v6), every other protocol or IPv6
				header that is not walked (AH, ESP...) */
	KN_R_FRAGMENT,	     /* IP fragment (first or later) */
	KN_R_IP_OPTIONS,     /* IPv4 header longer than 20 bytes; IPv6 with
				more extension headers than are walked, or
				a routing header with segments left */
	KN_R_MALFORMED,	     /* truncated or inconsistent headers */
	KN_R_PARTIAL_CSUM,   /* XDP: offloaded checksum, left to tc */
	KN_R_NO_BACKEND,     /* new flow for a service with an empty pool */
	KN_R_CONFIG_RACE,    /* slot generation mismatch (never expected) */
	KN_R_REWRITE_FAILED, /* a helper refused to rewrite the packet */
	KN_R_ICMP_REWRITTEN, /* ICMP error about a steered flow, translated */
	KN_R_ICMP_PASSED,    /* ICMP error about no steered flow: untouched */
	KN_R_ICMP_MALFORMED, /* ICMP error too short or with a broken quote */
	KN_R_COUNT,
};

/* Which program counted: index into kn_global_stats. */
enum kn_hook {
	KN_HOOK_XDP_INGRESS = 0,
	KN_HOOK_TC_INGRESS = 1,
	KN_HOOK_TC_EGRESS = 2,
	KN_HOOK_COUNT = 3,
};

/* kn_global_stats value (per-CPU), one per hook. */
struct kn_global_stats {
	__u64 packets;
	__u64 reason[KN_R_COUNT];
};

/* ---- Distinct clients ---------------------------------------------------- */

/*
 * kn_client_seen value (per-CPU), one per service: a bitmap with the bit
 * kn_client_seen_bit() of every client address that opened a new flow. The
 * agent ORs the CPUs' maps, estimates the distinct addresses by linear
 * counting (lib/judge/clients.c) and zeroes it when a step starts.
 */
#define KN_CLIENT_SEEN_BITS  1024
#define KN_CLIENT_SEEN_WORDS (KN_CLIENT_SEEN_BITS / 64)

struct kn_client_seen {
	__u64 bits[KN_CLIENT_SEEN_WORDS];
};

/* ---- Helpers both sides use ------------------------------------------- */

/*
 * Quarter-octave bucket of a latency in microseconds: values below 4 get
 * their own bucket; above, each power of two is cut in four equal parts.
 * Bucket b >= 4 starts at (4 + b % 4) << (b / 4 - 1) microseconds.
 */
static inline __u32 kn_latency_bucket(__u64 us)
{
	__u32 msb = 0;
	__u64 v = us;

	if (us < 4)
		return (__u32)us;
	if (v >> 32) {
		v >>= 32;
		msb += 32;
	}
	if (v >> 16) {
		v >>= 16;
		msb += 16;
	}
	if (v >> 8) {
		v >>= 8;
		msb += 8;
	}
	if (v >> 4) {
		v >>= 4;
		msb += 4;
	}
	if (v >> 2) {
		v >>= 2;
		msb += 2;
	}
	if (v >> 1) {
		msb += 1;
	}
	{
		__u32 b = 4 * (msb - 1) + (__u32)((us >> (msb - 2)) & 3);
		return b < KN_LATENCY_BUCKETS ? b : KN_LATENCY_BUCKETS - 1;
	}
}

/* Lower bound, in microseconds, of latency bucket b. */
static inline __u64 kn_latency_bucket_low_us(__u32 b)
{
	if (b < 4)
		return b;
	return (__u64)(4 + b % 4) << (b / 4 - 1);
}

/* ---- Forwarding fast path (bpf/kanary_forward.h, docs/forwarding.md) -- */

/* How steered client packets leave the node, chosen per node at load. */
enum kn_forward_mode {
	KN_FORWARD_STACK = 0,	 /* XDP_PASS / TC_ACT_OK: routing, netfilter */
	KN_FORWARD_REDIRECT = 1, /* bpf_fib_lookup + redirect, stack skipped */
};

/* What became of a steered packet in redirect mode: index of
 * kn_forward_stats.result[]. Everything but the first two fell back to
 * the stack (XDP: to tc ingress, which counts the packet again). */
enum kn_forward_result {
	KN_FWD_REDIRECTED = 0,	 /* FIB knew the neighbour: MACs written */
	KN_FWD_REDIRECTED_NEIGH, /* tc: neighbour not known yet, resolved by
				    bpf_redirect_neigh() */
	KN_FWD_XDP_TO_TC,	 /* XDP: handed to tc ingress (XDP_PASS) */
	KN_FWD_NO_NEIGH,	 /* FIB: no neighbour entry (XDP only) */
	KN_FWD_FRAG_NEEDED,	 /* larger than the output device's MTU */
	KN_FWD_BLACKHOLE,	 /* FIB: blackhole route */
	KN_FWD_UNREACHABLE,	 /* FIB: unreachable route */
	KN_FWD_PROHIBIT,	 /* FIB: prohibit route */
	KN_FWD_NOT_FORWARDED,	 /* FIB: no route, or a local address */
	KN_FWD_FWD_DISABLED,	 /* forwarding off on the ingress device */
	KN_FWD_UNSUPPORTED,	 /* FIB: lwt encap, no source address... */
	KN_FWD_TTL,		 /* TTL / hop limit expires here */
	KN_FWD_FAILED,		 /* a helper refused (never expected) */
	KN_FWD_COUNT,
};

/* kn_forward_ctr value (per-CPU), one per hook (enum kn_hook). */
struct kn_forward_stats {
	__u64 result[KN_FWD_COUNT];
};

#endif /* KANARY_SHARED_H */
