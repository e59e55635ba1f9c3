/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * kanary_steer.h - the canary splitter itself, one implementation for the
 * XDP and the tc programs (is_xdp is a constant in each caller, so the
 * compiler keeps only one branch of every test on it).
 *
 * Ingress, packet for a service VIP:port:
 *   0. A packet whose destination is no service's leaves at once when its
 *      bit in the services' filter is clear (kn_service_filter). A known
 *      TCP flow whose service slot is still of the generation the flow
 *      recorded (kn_service_gens: the agent moves it on when the slot's
 *      service is added or removed) needs no service lookup; any other
 *      packet looks its service up, and a flow it finds of that service
 *      records the slot's generation again.
 *   1. The connection table (kn_flows) pins a known flow to its backend.
 *   2. A new flow (TCP SYN, the first UDP packet, or an expired entry) gets a
 *      version by its client's bucket: hash(client IP, service seed) scaled to
 *      0..9999, canary when below the weight in basis points. The bucket
 *      depends on the client address only, so a client keeps its version
 *      and raising the weight only moves clients from stable to canary.
 *      With connection affinity (KN_SVC_F_CONNECTION_AFFINITY) the bucket
 *      is hash(client IP, port, protocol) instead: no stickiness, but the
 *      share follows the weight however few the client addresses are.
 *      Within the pool, the Maglev table at hash(client IP, port) names the
 *      replica, so adding or removing a replica remaps only its share.
 *   3. A TCP packet other than a SYN with no entry (the table lost it: LRU
 *      eviction, a new table after a restart) is counted as a miss and given
 *      the backend that step 2 picks for it now: the same backend it had as
 *      long as the weight and pools did not change in between.
 *   4. Destination VIP:port becomes backend IP:port; both directions of the
 *      flow are recorded, so that egress can turn replies back.
 * Egress, reply from a backend of a recorded flow: source becomes VIP:port.
 *   A packet whose source's bit is clear in the backends' filter
 *   (kn_backend_filter) is no backend's and leaves before kn_replies is
 *   searched.
 * IPv4 and IPv6 take the same steps: a service, its pools and its flows
 * are of one family, and the client hash reads all 16 address bytes (an
 * IPv4 address's last 12 are zero, so IPv4 buckets are as before).
 */
#ifndef KANARY_STEER_H
#define KANARY_STEER_H

#include "kanary_csum.h"
#include "kanary_defs.h"
#include "kanary_hash.h"
#include "kanary_http.h"
#include "kanary_maps.h"
#include "kanary_parse.h"

/* Set by the agent before load (skeleton rodata); see lib/datapath/open.c. */
const volatile __u64 kn_tcp_syn_timeout_ns = 30 * NSEC_PER_SEC;
const volatile __u64 kn_tcp_established_timeout_ns = 24 * 3600 * NSEC_PER_SEC;
const volatile __u64 kn_tcp_closing_timeout_ns = 10 * NSEC_PER_SEC;

/*
 * The coarse clock (what last_seen_ns holds), read once per jiffy on each
 * CPU: the helper costs a call and two more inside, bpf_jiffies64 is
 * inlined by the verifier to one load, and the coarse clock moves only at
 * the tick that moves jiffies. A value read just before the timekeeper's
 * update of that tick is kept for the tick: one tick late at most.
 */
static __always_inline __u64 kn_now(void)
{
	__u64 jiffies = bpf_jiffies64();
	struct kn_clock *clock;
	__u32 zero = 0;

	clock = bpf_map_lookup_elem(&kn_clock, &zero);
	if (!clock)
		return bpf_ktime_get_coarse_ns();
	if (clock->jiffies != jiffies) {
		clock->coarse_ns = bpf_ktime_get_coarse_ns();
		clock->jiffies = jiffies;
	}
	return clock->coarse_ns;
}

/* Whether addr:port has its bit in an endpoint filter (one array lookup):
 * kn_service_filter for a destination that may be a service's,
 * kn_backend_filter for a source that may be a backend's. */
static __always_inline bool
kn_filter_hit(void *filter, const struct kn_addr *addr, __be16 port)
{
	__u32 bit = kn_filter_bit(addr->w, port);
	__u32 word = bit / 64;
	__u64 *bits;

	bits = bpf_map_lookup_elem(filter, &word);
	return bits && ((*bits >> (bit % 64)) & 1);
}

static __always_inline __u32 kn_service_generation(__u32 index)
{
	__u32 *generation = bpf_map_lookup_elem(&kn_service_gens, &index);

	return generation ? *generation : 0;
}

/* The flow's service is the one it was made for, unchanged since the flow
 * last found it: its slot's generation is the one the flow recorded. */
static __always_inline bool kn_flow_service_current(const struct kn_flow *flow)
{
	return flow->service_generation &&
	       flow->service_generation ==
		   kn_service_generation(flow->service_index);
}

static __always_inline struct kn_service *kn_service_of(const struct kn_pkt *p)
{
	struct kn_service_key key;

	__builtin_memset(&key, 0, sizeof(key));
	key.vip = p->daddr;
	key.port = p->dport;
	key.proto = p->proto;
	key.family = p->family;
	return bpf_map_lookup_elem(&kn_services, &key);
}

static __always_inline bool kn_is_new_tcp_connection(const struct kn_pkt *p)
{
	return (p->tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) == TCP_FLAG_SYN;
}

static __always_inline bool kn_flow_expired(const struct kn_flow *flow,
					    const struct kn_pkt *p,
					    __u32 udp_idle_timeout_ms,
					    __u64 now)
{
	__u64 age = now > flow->last_seen_ns ? now - flow->last_seen_ns : 0;

	if (p->proto == IPPROTO_UDP_NUM)
		return age > (__u64)udp_idle_timeout_ms * NSEC_PER_MSEC;
	if (flow->state == KN_FLOW_SYN_SENT)
		return age > kn_tcp_syn_timeout_ns;
	if (flow->state == KN_FLOW_CLOSING)
		return age > kn_tcp_closing_timeout_ns;
	return age > kn_tcp_established_timeout_ns;
}

static __always_inline struct kn_backend_stats *kn_backend_stats(__u32 index)
{
	return bpf_map_lookup_elem(&kn_backend_ctr, &index);
}

static __always_inline struct kn_service_stats *kn_service_stats(__u32 index)
{
	return bpf_map_lookup_elem(&kn_service_ctr, &index);
}

/* The bucket that decides a new flow's version: its client's (stays with
 * the client) or, with connection affinity, its connection's. */
static __always_inline __u32 kn_version_bucket(const struct kn_service *svc,
					       const __u32 client[4],
					       const struct kn_pkt *p)
{
	if (svc->flags & KN_SVC_F_CONNECTION_AFFINITY)
		return kn_connection_bucket(client, p->sport, p->proto,
					    svc->seed, KN_WEIGHT_SCALE_BP);
	return kn_client_bucket(client, svc->seed, KN_WEIGHT_SCALE_BP);
}

/* Marks the client address of a new flow in its service's bitmap, from
 * which the agent estimates how many distinct clients the service has. */
static __always_inline void kn_client_seen_mark(__u32 index,
						const __u32 client[4])
{
	struct kn_client_seen *seen;
	__u32 bit;

	seen = bpf_map_lookup_elem(&kn_client_seen, &index);
	if (!seen)
		return;
	bit = kn_client_seen_bit(client, KN_CLIENT_SEEN_BITS);
	/* Per CPU: a plain OR, no atomics needed. */
	seen->bits[(bit / 64) & (KN_CLIENT_SEEN_WORDS - 1)] |= 1ULL
							       << (bit % 64);
}

/*
 * Picks the backend of a new flow from the service's active config slot.
 * The weight and the slot come from one 64-bit word (see struct kn_weight):
 * they always belong together.
 */
static __always_inline __u32 kn_choose_backend(const struct kn_service *svc,
					       const struct kn_pkt *p,
					       struct kn_flow *out)
{
	const __u32 *client = p->saddr.w; /* all 16 bytes, IPv4 zero-filled */
	__u32 index = svc->index;
	struct kn_weight weight;
	struct kn_config *config;
	struct kn_backend *backend;
	struct kn_pool *pool;
	__u32 pool_id, count, slot, replica, config_key;
	__u64 *weight_word;
	__u64 word;

	weight_word = bpf_map_lookup_elem(&kn_weights, &index);
	if (!weight_word)
		return KN_R_NO_BACKEND;
	word = *(volatile __u64 *)weight_word; /* one load: never torn */
	__builtin_memcpy(&weight, &word, sizeof(weight));

	config_key = 2 * index + (weight.slot & 1);
	config = bpf_map_lookup_elem(&kn_configs, &config_key);
	if (!config)
		return KN_R_NO_BACKEND;
	if (config->generation != weight.generation)
		return KN_R_CONFIG_RACE;

	pool_id = kn_version_bucket(svc, client, p) < weight.canary_bp
		      ? KN_POOL_CANARY
		      : KN_POOL_STABLE;
	/* An empty pool hands its clients to the other one. */
	if (config->pools[pool_id].count == 0)
		pool_id ^= 1;
	pool = &config->pools[pool_id & 1];
	count = pool->count;
	if (count == 0 || count > KN_MAX_POOL_BACKENDS)
		return KN_R_NO_BACKEND;

	slot =
	    kn_flow_slot(client, p->sport, p->proto, svc->seed, KN_RING_SIZE);
	if (slot >= KN_RING_SIZE)
		return KN_R_NO_BACKEND;
	replica = pool->ring[slot];
	if (replica >= count)
		replica = 0; /* never written so by the agent; stay in bounds */
	backend = &pool->backends[replica & (KN_MAX_POOL_BACKENDS - 1)];

	out->backend = backend->addr;
	out->backend_port = backend->port;
	out->stats_index = backend->stats_index;
	out->service_index = index;
	out->pool = pool_id & 1;
	out->flags = svc->flags;
	kn_client_seen_mark(index, client);
	return KN_CONTINUE;
}

/* Records both directions of a new flow; a failed insert is not fatal: the
 * next packet re-derives the same backend (see step 3 above). */
static __always_inline void kn_flow_record(const struct kn_flow_key *key,
					   const struct kn_flow *flow,
					   const struct kn_pkt *p)
{
	struct kn_flow_key reply_key;
	struct kn_reply reply;

	bpf_map_update_elem(&kn_flows, key, flow, BPF_ANY);

	kn_flow_key_from(&reply_key, &flow->backend, flow->backend_port,
			 &p->saddr, p->sport, p->proto, p->family);
	__builtin_memset(&reply, 0, sizeof(reply));
	reply.vip = p->daddr;
	reply.vip_port = p->dport;
	reply.state = flow->state;
	reply.pool = flow->pool;
	reply.stats_index = flow->stats_index;
	reply.service_index = flow->service_index;
	reply.flags = flow->flags;
	reply.last_seen_ns = flow->last_seen_ns;
	bpf_map_update_elem(&kn_replies, &reply_key, &reply, BPF_ANY);
}

static __always_inline void kn_flow_forget_reply(const struct kn_flow *old,
						 const struct kn_pkt *p)
{
	struct kn_flow_key reply_key;

	kn_flow_key_from(&reply_key, &old->backend, old->backend_port,
			 &p->saddr, p->sport, p->proto, p->family);
	bpf_map_delete_elem(&kn_replies, &reply_key);
}

/*
 * Ingress rewrites the destination in place, XDP and tc alike (tc: see
 * kn_tc_rewrite_in_place). Egress rewrites the source through the helpers:
 * what a node sends itself over TCP leaves as clones of the segments it
 * keeps for retransmission, and a tc program that wrote packet data in
 * place would make every such head private, kanary's packet or not.
 */
static __always_inline __u32 kn_rewrite(void *ctx, struct kn_pkt *p,
					const bool is_xdp, const bool ingress,
					const struct kn_addr *addr, __be16 port)
{
	int err;

	if (is_xdp)
		err = kn_rewrite_in_place(p, true, addr, port);
	else if (ingress)
		err = kn_tc_rewrite_in_place(ctx, p, true, addr, port);
	else
		err = kn_tc_rewrite_egress(ctx, p, addr, port);
	return err ? KN_R_REWRITE_FAILED : KN_R_TRANSLATED;
}

/* Ingress: a client's packet. Returns the enum kn_reason it is counted by. */
static __always_inline __u32 kn_ingress(void *ctx, struct kn_pkt *p,
					const bool is_xdp)
{
	struct kn_backend_stats *backend_stats;
	struct kn_service_stats *service_stats;
	struct kn_service *svc = NULL;
	struct kn_flow_key key;
	struct kn_flow *flow;
	struct kn_flow fresh;
	bool tcp = p->proto == IPPROTO_TCP_NUM;
	bool new_connection = tcp && kn_is_new_tcp_connection(p);
	__u64 now;
	__u32 verdict;

	if (!kn_filter_hit(&kn_service_filter, &p->daddr, p->dport))
		return KN_R_NOT_FOR_US;
	kn_flow_key_from(&key, &p->saddr, p->sport, &p->daddr, p->dport,
			 p->proto, p->family);
	flow = bpf_map_lookup_elem(&kn_flows, &key);
	/* UDP flows need their service's idle timeout: always looked up. */
	if (!flow || !tcp || !kn_flow_service_current(flow)) {
		svc = kn_service_of(p);
		if (!svc)
			return KN_R_NOT_FOR_US;
		if (flow && tcp && flow->service_index == svc->index)
			flow->service_generation =
			    kn_service_generation(svc->index);
	}
	if (is_xdp && kn_csum_looks_partial(p))
		return KN_R_PARTIAL_CSUM;

	now = kn_now();
	if (flow &&
	    kn_flow_expired(flow, p, svc ? svc->udp_idle_timeout_ms : 0, now))
		flow = NULL;
	if (flow && new_connection) {
		if (flow->state == KN_FLOW_SYN_SENT) {
			/* The client repeats its SYN: the backend is silent. */
			backend_stats = kn_backend_stats(flow->stats_index);
			if (backend_stats)
				backend_stats->syn_retries++;
		} else {
			/* A new connection reuses the tuple of a closed one. */
			kn_flow_forget_reply(flow, p);
			flow = NULL;
		}
	}

	if (!flow) {
		/* A trusted flow that expired or closed: now its service. */
		if (!svc)
			svc = kn_service_of(p);
		if (!svc)
			return KN_R_NOT_FOR_US;
		service_stats = kn_service_stats(svc->index);
		if (tcp && !new_connection && service_stats)
			service_stats->flow_misses++;
		__builtin_memset(&fresh, 0, sizeof(fresh));
		verdict = kn_choose_backend(svc, p, &fresh);
		if (verdict != KN_CONTINUE) {
			if (service_stats && verdict == KN_R_NO_BACKEND)
				service_stats->no_backend++;
			if (service_stats && verdict == KN_R_CONFIG_RACE)
				service_stats->config_races++;
			return verdict;
		}
		fresh.state =
		    new_connection ? KN_FLOW_SYN_SENT : KN_FLOW_ESTABLISHED;
		fresh.last_seen_ns = now;
		fresh.service_generation = kn_service_generation(svc->index);
#ifdef KN_UPGRADE_TEST_FIELD
		fresh.upgrade_test_field = 1;
#endif
		kn_http_mark_request(&fresh, p);
		kn_flow_record(&key, &fresh, p);
		if (service_stats)
			service_stats->new_flows[fresh.pool & 1]++;
		backend_stats = kn_backend_stats(fresh.stats_index);
		if (backend_stats)
			backend_stats->new_flows++;
		flow = &fresh;
	} else {
		if (tcp && (p->tcp_flags & (TCP_FLAG_FIN | TCP_FLAG_RST)))
			flow->state = KN_FLOW_CLOSING;
		else if (tcp && flow->state == KN_FLOW_SYN_SENT &&
			 !new_connection)
			flow->state = KN_FLOW_ESTABLISHED;
		if (now - flow->last_seen_ns > KN_TOUCH_INTERVAL_NS)
			flow->last_seen_ns = now;
		kn_http_mark_request(flow, p);
	}

	backend_stats = kn_backend_stats(flow->stats_index);
	verdict = kn_rewrite(ctx, p, is_xdp, true, &flow->backend,
			     flow->backend_port);
	if (verdict == KN_R_TRANSLATED && backend_stats) {
		backend_stats->packets_to++;
		backend_stats->bytes_to += p->len - ETH_HLEN;
	}
	return verdict;
}

/* Egress (tc only): a packet leaving towards the clients. */
static __always_inline __u32 kn_egress(struct __sk_buff *skb, struct kn_pkt *p)
{
	struct kn_backend_stats *stats;
	struct kn_flow_key key;
	struct kn_reply *reply;
	__u64 now;
	__u32 verdict;

	if (!kn_filter_hit(&kn_backend_filter, &p->saddr, p->sport))
		return KN_R_NOT_FOR_US;
	kn_flow_key_from(&key, &p->saddr, p->sport, &p->daddr, p->dport,
			 p->proto, p->family);
	reply = bpf_map_lookup_elem(&kn_replies, &key);
	if (!reply)
		return KN_R_NOT_FOR_US;

	stats = kn_backend_stats(reply->stats_index);
	if (p->proto == IPPROTO_TCP_NUM) {
		__u8 flags = p->tcp_flags;

		if (flags & TCP_FLAG_RST) {
			if (stats) {
				stats->resets_from++;
				if (reply->state == KN_FLOW_SYN_SENT)
					stats->refused++;
			}
			reply->state = KN_FLOW_CLOSING;
		} else if ((flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) ==
			       (TCP_FLAG_SYN | TCP_FLAG_ACK) &&
			   reply->state == KN_FLOW_SYN_SENT) {
			reply->state = KN_FLOW_ESTABLISHED;
		} else if (flags & TCP_FLAG_FIN) {
			reply->state = KN_FLOW_CLOSING;
		}
	}
	now = kn_now();
	if (now - reply->last_seen_ns > KN_TOUCH_INTERVAL_NS)
		reply->last_seen_ns = now;

	kn_http_observe_reply(skb, p, reply, stats);

	verdict =
	    kn_rewrite(skb, p, false, false, &reply->vip, reply->vip_port);
	if (verdict == KN_R_TRANSLATED && stats) {
		stats->packets_from++;
		stats->bytes_from += p->len - ETH_HLEN;
	}
	return verdict;
}

#endif /* KANARY_STEER_H */
