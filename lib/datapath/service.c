/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * service.c - programs services: adds, updates, promotes and removes them,
 * builds their pools (with Maglev tables) and hands out backend stats slots,
 * every change going through one commit.
 *
 * The commit protocol (dp_commit) - how a change of weight and pools takes
 * effect as one step, with no CPU ever pairing a weight with the wrong pools
 * or reading a half-written pool:
 *
 *   1. Write the service's inactive config slot (kn_configs[2i + !slot])
 *      with the new pools and generation g+1. No program reads that slot.
 *   2. Write kn_weights[i] = {weight, !slot, g+1} for all CPUs in one call.
 *      Each CPU's copy is one aligned 64-bit word and the kernel copies
 *      per-CPU values a long at a time, so every CPU sees the old word or the
 *      new one: the old weight with the old pools or the new with the new.
 *   3. Update kn_sync, a map-in-map: the kernel returns from that update only
 *      after synchronize_rcu(), i.e. once every program that might still
 *      hold the old word has finished. Only then may step 1 of the next
 *      commit overwrite the old slot.
 * The program checks the slot's generation against the word's; a mismatch
 * is counted in kn_service_stats.config_races, which tests assert stays 0.
 * A weight-only change skips step 1 and rewrites the word with the same slot.
 *
 * What ingress trusts without a service lookup (kanary_steer.h, step 0):
 * a service's bit in the services' filter (kn_service_filter) is set
 * before it is added and cleared after it is removed, unless another
 * service shares it; a slot's generation in
 * kn_service_gens moves on when a service is added to it, and when one is
 * removed: after the service entry is gone and the programs that found it
 * have finished (a barrier), so that no flow records the new generation
 * for a service that no longer is. A second barrier then waits for the
 * programs that trusted a flow under the old one, before the service's
 * backend slots go back to the free list.
 *
 * What egress trusts: a reply's source whose bit is clear in the backends'
 * filter (kn_backend_filter) has no flow in kn_replies. A backend's bit is
 * set before the first config that names it is written (dp_commit) and
 * never cleared, as replies of its flows may come for as long as they
 * live; an agent that creates the filter sets the bits of the replies
 * kn_replies holds (dp_backend_filter_fill) before it attaches.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "datapath/datapath_internal.h"
#include "datapath/maglev.h"
#include "kanary_hash.h"
#include "util/hash.h"
#include "util/log.h"

/* ---- stats slots ------------------------------------------------------- */

int dp_slots_init(struct stats_slots *slots, uint32_t capacity)
{
	slots->queue = calloc(capacity, sizeof(*slots->queue));
	if (!slots->queue)
		return -ENOMEM;
	ring_init(&slots->ring, capacity);
	return 0;
}

/* A full queue keeps what it holds: ring_push would overwrite the oldest
 * free index, losing a slot for good. */
void dp_slots_push(struct stats_slots *slots, uint32_t index)
{
	if (ring_full(&slots->ring))
		return;
	slots->queue[ring_push(&slots->ring)] = index;
}

static int slots_pop(struct stats_slots *slots, uint32_t *index)
{
	if (ring_empty(&slots->ring))
		return -ENOSPC;
	*index = slots->queue[ring_pop(&slots->ring)];
	return 0;
}

/* A new backend starts from zero: its slot's counters are cleared. */
static int slot_reset_counters(struct dataplane *dp, uint32_t index)
{
	size_t stats_size = (size_t)dp->ncpus * sizeof(struct kn_backend_stats);
	size_t hist_size = (size_t)dp->ncpus * sizeof(struct kn_latency_hist);
	size_t timing_size =
	    (size_t)dp->ncpus * sizeof(struct kn_response_timing);
	/* The timing histograms are the largest of the three values. */
	void *zeros = calloc(1, timing_size);
	int ret;

	if (!zeros)
		return -ENOMEM;
	ret = bpf_map__update_elem(dp->skel->maps.kn_backend_ctr, &index,
				   sizeof(index), zeros, stats_size, BPF_ANY);
	if (!ret)
		ret = bpf_map__update_elem(dp->skel->maps.kn_latency, &index,
					   sizeof(index), zeros, hist_size,
					   BPF_ANY);
	if (!ret)
		ret = bpf_map__update_elem(dp->skel->maps.kn_response_timing,
					   &index, sizeof(index), zeros,
					   timing_size, BPF_ANY);
	free(zeros);
	return ret;
}

int dp_sync_barrier(struct dataplane *dp)
{
	__u32 zero = 0;
	int ret;

	ret = bpf_map__update_elem(dp->skel->maps.kn_sync, &zero, sizeof(zero),
				   &dp->sync_inner_fd,
				   sizeof(dp->sync_inner_fd), BPF_ANY);
	if (ret)
		log_error("cannot wait for running programs (kn_sync update): "
			  "%s",
			  strerror(-ret));
	return ret;
}

const struct dp_service *dp_service_at(const struct dataplane *dp,
				       uint32_t index)
{
	if (index >= dp->max_services || !dp->services[index].in_use)
		return NULL;
	return &dp->services[index];
}

const struct dp_service *dp_service_find(const struct dataplane *dp,
					 const char *name)
{
	uint32_t i;

	for (i = 0; i < dp->max_services; i++)
		if (dp->services[i].in_use &&
		    !strncmp(dp->services[i].name, name, KN_SERVICE_NAME_LEN))
			return &dp->services[i];
	return NULL;
}

/* ---- what ingress trusts without a service lookup ---------------------- */

/* Moves the slot's generation on, never to 0: flows that recorded the one
 * before look their service up again at their next packet. */
static int generation_advance(struct dataplane *dp, uint32_t index)
{
	__u32 generation = 0;
	int ret;

	ret = bpf_map__lookup_elem(dp->skel->maps.kn_service_gens, &index,
				   sizeof(index), &generation,
				   sizeof(generation), 0);
	if (ret)
		return ret;
	if (++generation == 0)
		generation = 1;
	return bpf_map__update_elem(dp->skel->maps.kn_service_gens, &index,
				    sizeof(index), &generation,
				    sizeof(generation), BPF_ANY);
}

/* The service's bit in the services' filter, from its VIP and port as
 * the program reads them from a header. */
static uint32_t filter_bit(const struct dp_service *svc)
{
	struct kn_addr vip;

	dp_addr_to_kernel(&vip, &svc->vip);
	return kn_filter_bit(vip.w, htons(svc->vip.port));
}

/* Whether a service other than except has the filter's bit too. */
static bool filter_bit_shared(const struct dataplane *dp,
			      const struct dp_service *except)
{
	uint32_t bit = filter_bit(except), i;

	for (i = 0; i < dp->max_services; i++)
		if (dp->services[i].in_use && &dp->services[i] != except &&
		    filter_bit(&dp->services[i]) == bit)
			return true;
	return false;
}

/* Sets or clears the bits of mask in an endpoint filter's word. Only the
 * agent writes the filters: a program that reads the word while it is
 * written sees every other bit as it was. A word already so is not
 * written. */
static int filter_word_write(const struct bpf_map *filter, __u32 word,
			     __u64 mask, bool set)
{
	__u64 bits = 0, next;
	int ret;

	ret = bpf_map__lookup_elem(filter, &word, sizeof(word), &bits,
				   sizeof(bits), 0);
	if (ret)
		return ret;
	next = set ? bits | mask : bits & ~mask;
	if (next == bits)
		return 0;
	return bpf_map__update_elem(filter, &word, sizeof(word), &next,
				    sizeof(next), BPF_ANY);
}

/* Sets or clears the service's bit in the services' filter. */
static int filter_bit_write(struct dataplane *dp, const struct dp_service *svc,
			    bool set)
{
	uint32_t bit = filter_bit(svc);

	return filter_word_write(dp->skel->maps.kn_service_filter, bit / 64,
				 1ULL << (bit % 64), set);
}

/* Sets a backend's bit in the backends' filter (kn_backend_filter); see
 * kanary_maps.h for why it is never cleared. */
static int backend_filter_set(struct dataplane *dp, const struct kn_addr *addr,
			      __be16 port)
{
	uint32_t bit = kn_filter_bit(addr->w, port);

	return filter_word_write(dp->skel->maps.kn_backend_filter, bit / 64,
				 1ULL << (bit % 64), true);
}

/* Sets the bits of every backend a config names, before it is written. */
static int backend_filter_set_config(struct dataplane *dp,
				     const struct kn_config *config)
{
	uint32_t p, b;
	int ret = 0;

	for (p = 0; !ret && p < KN_POOL_COUNT; p++)
		for (b = 0; !ret && b < config->pools[p].count &&
			    b < KN_MAX_POOL_BACKENDS;
		     b++)
			ret = backend_filter_set(
			    dp, &config->pools[p].backends[b].addr,
			    config->pools[p].backends[b].port);
	return ret;
}

/* Replies read a batch at a time while the filter is filled. */
#define FILL_BATCH 1024

int dp_backend_filter_fill(struct dataplane *dp)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	int replies = bpf_map__fd(dp->skel->maps.kn_replies);
	struct kn_flow_key *keys;
	struct kn_reply *values;
	__u32 cursor = 0; /* a hash map's batch position: a bucket's index */
	__u64 *words;
	uint64_t flows = 0;
	uint32_t bit, w, i, count;
	bool first = true, done = false;
	int ret = 0;

	words = calloc(KN_FILTER_WORDS, sizeof(*words));
	keys = calloc(FILL_BATCH, sizeof(*keys));
	values = calloc(FILL_BATCH, sizeof(*values));
	if (!words || !keys || !values) {
		ret = -ENOMEM;
		goto out;
	}
	/* By bucket, not by key: a batch goes on where the last one ended,
	 * whatever the old programs evict meanwhile. What they add meanwhile
	 * goes to backends of the adopted configs, whose bits are set. */
	while (!done) {
		count = FILL_BATCH;
		ret =
		    bpf_map_lookup_batch(replies, first ? NULL : &cursor,
					 &cursor, keys, values, &count, &opts);
		if (ret < 0 && errno != ENOENT) {
			ret = -errno;
			goto out;
		}
		done = ret < 0;
		ret = 0;
		first = false;
		for (i = 0; i < count && i < FILL_BATCH; i++) {
			bit = kn_filter_bit(keys[i].src.w, keys[i].sport);
			words[bit / 64] |= 1ULL << (bit % 64);
		}
		flows += count;
	}
	for (w = 0; !ret && w < KN_FILTER_WORDS; w++)
		if (words[w])
			ret =
			    filter_word_write(dp->skel->maps.kn_backend_filter,
					      w, words[w], true);
	if (!ret && flows)
		log_info("kn_backend_filter is new: set from the %llu replies "
			 "kn_replies holds",
			 (unsigned long long)flows);
out:
	free(words);
	free(keys);
	free(values);
	return ret;
}

int dp_service_adopt_trust(struct dataplane *dp, const struct dp_service *svc,
			   const struct kn_config *config)
{
	__u32 generation = 0;
	int ret;

	/* Maps from before these existed are new and empty. */
	ret = filter_bit_write(dp, svc, true);
	if (!ret)
		ret = backend_filter_set_config(dp, config);
	if (!ret)
		ret = bpf_map__lookup_elem(dp->skel->maps.kn_service_gens,
					   &svc->index, sizeof(svc->index),
					   &generation, sizeof(generation), 0);
	if (!ret && generation == 0)
		ret = generation_advance(dp, svc->index);
	return ret;
}

/* ---- programming services ---------------------------------------------- */

/* The Maglev seed of a service that names none: its name's hash, never 0
 * (0 in a definition means "derive one"). */
static uint32_t name_seed(const char *name)
{
	uint32_t h = hash_fnv1a32(name, strlen(name));

	return h ? h : 1;
}

static void kernel_backend(struct kn_backend *kb, const struct dp_backend *db)
{
	memset(kb, 0, sizeof(*kb));
	kb->family = dp_addr_to_kernel(&kb->addr, &db->ep);
	kb->port = htons(db->ep.port);
	kb->flags = db->down ? KN_BACKEND_F_DOWN : 0;
	kb->stats_index = db->stats_index;
}

static int backend_cmp(const void *a, const void *b)
{
	return netaddr_endpoint_cmp(&((const struct dp_backend *)a)->ep,
				    &((const struct dp_backend *)b)->ep);
}

static int write_weight(struct dataplane *dp, uint32_t index,
			uint32_t canary_bp, uint32_t slot, uint32_t generation)
{
	struct kn_weight *per_cpu = calloc(dp->ncpus, sizeof(*per_cpu));
	int cpu, ret;

	if (!per_cpu)
		return -ENOMEM;
	for (cpu = 0; cpu < dp->ncpus; cpu++) {
		per_cpu[cpu].canary_bp = (__u16)canary_bp;
		per_cpu[cpu].slot = (__u16)slot;
		per_cpu[cpu].generation = generation;
	}
	ret = bpf_map__update_elem(dp->skel->maps.kn_weights, &index,
				   sizeof(index), per_cpu,
				   dp->ncpus * sizeof(*per_cpu), BPF_ANY);
	free(per_cpu);
	return ret;
}

/*
 * The pool's Maglev table over its live backends only, as indexes into the
 * whole backends[] array: a dead replica's share goes to the others, and
 * only its share (Maglev). With none alive, all stay in the table.
 */
static int build_ring(struct kn_pool *kpool)
{
	struct kn_backend live[KN_MAX_POOL_BACKENDS];
	uint8_t index_of[KN_MAX_POOL_BACKENDS];
	uint32_t b, n = 0, i;
	int ret;

	for (b = 0; b < kpool->count; b++) {
		if (kpool->backends[b].flags & KN_BACKEND_F_DOWN)
			continue;
		live[n] = kpool->backends[b];
		index_of[n++] = (uint8_t)b;
	}
	if (n == 0)
		return maglev_build(kpool->backends, kpool->count, kpool->ring,
				    KN_RING_SIZE);
	ret = maglev_build(live, n, kpool->ring, KN_RING_SIZE);
	if (ret)
		return ret;
	for (i = 0; i < KN_RING_SIZE; i++)
		kpool->ring[i] = index_of[kpool->ring[i]];
	return 0;
}

/*
 * Makes pools + weight the service's configuration in one step; see the
 * protocol at the top of this file. svc->pools must already hold the new
 * pools; on success svc's slot, generation and weight are updated.
 */
static int dp_commit(struct dataplane *dp, struct dp_service *svc,
		     uint32_t canary_bp)
{
	uint32_t next_slot = svc->slot ^ 1;
	uint32_t next_generation = svc->generation + 1;
	uint32_t config_key = 2 * svc->index + next_slot;
	struct kn_config *config;
	uint32_t p, b;
	int ret;

	config = calloc(1, sizeof(*config));
	if (!config)
		return -ENOMEM;
	config->generation = next_generation;
	for (p = 0; p < KN_POOL_COUNT; p++) {
		struct dp_pool *pool = &svc->pools[p];
		struct kn_pool *kpool = &config->pools[p];

		/* One order per set: the same replicas give the same table. */
		qsort(pool->backends, pool->count, sizeof(pool->backends[0]),
		      backend_cmp);
		kpool->count = pool->count;
		for (b = 0; b < pool->count; b++)
			kernel_backend(&kpool->backends[b], &pool->backends[b]);
		ret = build_ring(kpool);
		if (ret)
			goto out;
	}
	/* Replies of the config's first flows must find their backend's bit. */
	ret = backend_filter_set_config(dp, config);
	if (ret)
		goto out;
	ret = bpf_map__update_elem(dp->skel->maps.kn_configs, &config_key,
				   sizeof(config_key), config, sizeof(*config),
				   BPF_ANY);
	if (ret)
		goto out;
	ret =
	    write_weight(dp, svc->index, canary_bp, next_slot, next_generation);
	if (ret)
		goto out;
	svc->slot = next_slot;
	svc->generation = next_generation;
	svc->canary_bp = canary_bp;
	ret = dp_sync_barrier(dp);
out:
	free(config);
	return ret;
}

static bool pool_find(const struct dp_pool *pool, const struct endpoint *ep,
		      uint32_t *stats_index)
{
	uint32_t i;

	for (i = 0; i < pool->count; i++) {
		if (!netaddr_endpoint_cmp(&pool->backends[i].ep, ep)) {
			*stats_index = pool->backends[i].stats_index;
			return true;
		}
	}
	return false;
}

static bool pool_is_down(const struct dp_pool *pool, const struct endpoint *ep)
{
	uint32_t i;

	for (i = 0; i < pool->count; i++)
		if (!netaddr_endpoint_cmp(&pool->backends[i].ep, ep))
			return pool->backends[i].down;
	return false;
}

static bool endpoint_in(const struct endpoint *list, uint32_t count,
			const struct endpoint *ep)
{
	uint32_t i;

	for (i = 0; i < count; i++)
		if (!netaddr_endpoint_cmp(&list[i], ep))
			return true;
	return false;
}

/*
 * Builds new pools from endpoint lists: a backend already in the service
 * (in either pool) keeps its stats slot; a new one gets a cleared slot.
 * Slots of backends that leave are freed, oldest first reused.
 */
static int build_pools(struct dataplane *dp, const struct dp_service *old,
		       const struct endpoint *lists[KN_POOL_COUNT],
		       const uint32_t counts[KN_POOL_COUNT],
		       struct dp_pool pools[KN_POOL_COUNT], char *err,
		       size_t err_len)
{
	uint32_t p, i, q, allocated = 0;
	uint32_t fresh[2 * KN_MAX_POOL_BACKENDS];
	char text[NETADDR_ENDPOINT_STR_LEN];
	int ret;

	for (p = 0; p < KN_POOL_COUNT; p++) {
		if (counts[p] > KN_MAX_POOL_BACKENDS)
			return set_err(err, err_len, -EINVAL,
				       "%s pool has %u backends; at most %d",
				       p == KN_POOL_STABLE ? "stable"
							   : "canary",
				       counts[p], KN_MAX_POOL_BACKENDS);
		pools[p].count = counts[p];
		for (i = 0; i < counts[p]; i++) {
			const struct endpoint *ep = &lists[p][i];
			uint32_t slot = 0;
			bool known = false;

			if (endpoint_in(lists[p ^ 1], counts[p ^ 1], ep)) {
				ret = set_err(err, err_len, -EINVAL,
					      "backend %s is in both pools",
					      netaddr_endpoint_str(
						  ep, text, sizeof(text)));
				goto undo;
			}
			if (endpoint_in(lists[p], i, ep)) {
				ret = set_err(err, err_len, -EINVAL,
					      "backend %s is listed twice",
					      netaddr_endpoint_str(
						  ep, text, sizeof(text)));
				goto undo;
			}
			pools[p].backends[i].down = false;
			for (q = 0; old && q < KN_POOL_COUNT && !known; q++) {
				known = pool_find(&old->pools[q], ep, &slot);
				/* a known backend keeps its health */
				if (known)
					pools[p].backends[i].down =
					    pool_is_down(&old->pools[q], ep);
			}
			if (!known) {
				ret = slots_pop(&dp->slots, &slot);
				if (ret) {
					set_err(err, err_len, ret,
						"no free backend counter slot "
						"(all %u used): start kanaryd "
						"with a larger --max-backends",
						dp->max_backends);
					goto undo;
				}
				fresh[allocated++] = slot;
				ret = slot_reset_counters(dp, slot);
				if (ret) {
					set_err(err, err_len, ret,
						"cannot clear counters of slot "
						"%u: %s",
						slot, strerror(-ret));
					goto undo;
				}
			}
			pools[p].backends[i].ep = *ep;
			pools[p].backends[i].stats_index = slot;
		}
	}
	return 0;
undo:
	for (i = 0; i < allocated; i++)
		dp_slots_push(&dp->slots, fresh[i]);
	return ret;
}

/* Frees the slots of old backends that are not in the new pools. */
static void release_departed(struct dataplane *dp, const struct dp_service *old,
			     const struct dp_pool pools[KN_POOL_COUNT])
{
	uint32_t p, i, q, slot;

	for (p = 0; p < KN_POOL_COUNT; p++) {
		for (i = 0; i < old->pools[p].count; i++) {
			const struct dp_backend *b = &old->pools[p].backends[i];
			bool stays = false;

			for (q = 0; q < KN_POOL_COUNT && !stays; q++)
				stays = pool_find(&pools[q], &b->ep, &slot);
			if (!stays)
				dp_slots_push(&dp->slots, b->stats_index);
		}
	}
}

/* A service whose add failed half-way: its backends' stats slots are
 * free again and its entry is unused. */
static void abandon_service(struct dataplane *dp, struct dp_service *svc)
{
	release_departed(dp, svc, (struct dp_pool[KN_POOL_COUNT]){});
	memset(svc, 0, sizeof(*svc));
}

static int check_weight(uint32_t canary_bp, char *err, size_t err_len)
{
	if (canary_bp > KN_WEIGHT_SCALE_BP)
		return set_err(err, err_len, -EINVAL,
			       "canary weight %u bp is above 10000 (100 %%)",
			       canary_bp);
	return 0;
}

/* A service's kn_services entry: its key and its value. */
static void service_entry(const struct dp_service *svc,
			  struct kn_service_key *key, struct kn_service *value)
{
	memset(key, 0, sizeof(*key));
	memset(value, 0, sizeof(*value));
	key->family = dp_addr_to_kernel(&key->vip, &svc->vip);
	key->port = htons(svc->vip.port);
	key->proto = svc->proto;
	value->index = svc->index;
	value->seed = svc->seed;
	value->flags = svc->flags;
	value->udp_idle_timeout_ms = svc->udp_idle_timeout_ms;
	memcpy(value->name, svc->name, sizeof(value->name));
}

int dp_service_add(struct dataplane *dp, const struct dp_service_def *def,
		   uint32_t *index_out, char *err, size_t err_len)
{
	const struct endpoint *lists[KN_POOL_COUNT] = {def->stable,
						       def->canary};
	const uint32_t counts[KN_POOL_COUNT] = {def->stable_count,
						def->canary_count};
	struct kn_service_key key;
	struct kn_service value;
	struct dp_service *svc = NULL;
	struct dp_pool pools[KN_POOL_COUNT];
	uint32_t i;
	int ret;

	ret = check_weight(def->canary_bp, err, err_len);
	if (ret)
		return ret;
	if (!def->name[0])
		return set_err(err, err_len, -EINVAL, "a service needs a name");
	if (def->proto != IPPROTO_TCP && def->proto != IPPROTO_UDP)
		return set_err(err, err_len, -EINVAL,
			       "service '%s': protocol must be tcp or udp",
			       def->name);
	if (dp_service_find(dp, def->name))
		return set_err(err, err_len, -EEXIST,
			       "a service named '%s' exists already",
			       def->name);
	for (i = 0; i < dp->max_services; i++) {
		const struct dp_service *s = &dp->services[i];

		if (s->in_use && s->proto == def->proto &&
		    !netaddr_endpoint_cmp(&s->vip, &def->vip))
			return set_err(err, err_len, -EEXIST,
				       "service '%s' uses the same VIP:port "
				       "already",
				       s->name);
		if (!s->in_use && !svc)
			svc = &dp->services[i];
	}
	if (!svc)
		return set_err(err, err_len, -ENOSPC,
			       "all %u service slots are used: start kanaryd "
			       "with a larger --max-services",
			       dp->max_services);

	ret = build_pools(dp, NULL, lists, counts, pools, err, err_len);
	if (ret)
		return ret;
	memset(svc, 0, sizeof(*svc));
	svc->index = (uint32_t)(svc - dp->services);
	snprintf(svc->name, sizeof(svc->name), "%s", def->name);
	svc->vip = def->vip;
	svc->proto = def->proto;
	svc->flags = def->flags;
	svc->seed = def->seed ? def->seed : name_seed(def->name);
	svc->udp_idle_timeout_ms = def->udp_idle_timeout_ms
				       ? def->udp_idle_timeout_ms
				       : DP_DEFAULT_UDP_IDLE_TIMEOUT_MS;
	memcpy(svc->pools, pools, sizeof(pools));
	/* Start from slot 1 so that the first commit writes slot 0. */
	svc->slot = 1;
	svc->generation = 0;

	/* Config first, then the service entry that makes it reachable. */
	ret = dp_commit(dp, svc, def->canary_bp);
	if (ret) {
		abandon_service(dp, svc);
		return set_err(err, err_len, ret,
			       "cannot write service '%s' to the kernel: %s",
			       def->name, strerror(-ret));
	}
	service_entry(svc, &key, &value);
	dp_clear_clients(dp, svc->index); /* the slot's former service's */
	ret = filter_bit_write(dp, svc, true);
	if (!ret)
		ret = generation_advance(dp, svc->index);
	if (!ret)
		ret = bpf_map__update_elem(dp->skel->maps.kn_services, &key,
					   sizeof(key), &value, sizeof(value),
					   BPF_NOEXIST);
	if (ret) {
		if (!filter_bit_shared(dp, svc))
			filter_bit_write(dp, svc, false);
		abandon_service(dp, svc);
		return set_err(err, err_len, ret,
			       "cannot add service '%s' to kn_services: %s",
			       def->name, strerror(-ret));
	}
	svc->in_use = true;
	if (index_out)
		*index_out = svc->index;
	return 0;
}

static struct dp_service *service_mut(struct dataplane *dp, uint32_t index)
{
	if (index >= dp->max_services || !dp->services[index].in_use)
		return NULL;
	return &dp->services[index];
}

int dp_service_update(struct dataplane *dp, uint32_t index,
		      const struct endpoint *stable, uint32_t stable_count,
		      const struct endpoint *canary, uint32_t canary_count,
		      uint32_t canary_bp, char *err, size_t err_len)
{
	const struct endpoint *lists[KN_POOL_COUNT] = {stable, canary};
	const uint32_t counts[KN_POOL_COUNT] = {stable_count, canary_count};
	struct dp_service *svc = service_mut(dp, index);
	struct dp_pool pools[KN_POOL_COUNT];
	struct dp_service old;
	int ret;

	if (!svc)
		return set_err(err, err_len, -ENOENT, "no service at index %u",
			       index);
	ret = check_weight(canary_bp, err, err_len);
	if (ret)
		return ret;
	ret = build_pools(dp, svc, lists, counts, pools, err, err_len);
	if (ret)
		return ret;
	old = *svc;
	memcpy(svc->pools, pools, sizeof(pools));
	ret = dp_commit(dp, svc, canary_bp);
	if (ret) {
		/* Nothing changed in the kernel's view: undo ours. */
		release_departed(dp, svc, old.pools);
		*svc = old;
		return set_err(err, err_len, ret,
			       "cannot write service '%s' to the kernel: %s",
			       svc->name, strerror(-ret));
	}
	release_departed(dp, &old, pools);
	return 0;
}

int dp_service_set_weight(struct dataplane *dp, uint32_t index,
			  uint32_t canary_bp)
{
	struct dp_service *svc = service_mut(dp, index);
	int ret;

	if (!svc)
		return -ENOENT;
	if (canary_bp > KN_WEIGHT_SCALE_BP)
		return -EINVAL;
	ret = write_weight(dp, index, canary_bp, svc->slot, svc->generation);
	if (!ret)
		svc->canary_bp = canary_bp;
	return ret;
}

int dp_service_promote(struct dataplane *dp, uint32_t index)
{
	struct dp_service *svc = service_mut(dp, index);
	struct dp_service old;
	int ret;

	if (!svc)
		return -ENOENT;
	if (!svc->pools[KN_POOL_CANARY].count)
		return -ENODATA;
	old = *svc;
	svc->pools[KN_POOL_STABLE] = old.pools[KN_POOL_CANARY];
	memset(&svc->pools[KN_POOL_CANARY], 0, sizeof(svc->pools[0]));
	ret = dp_commit(dp, svc, 0);
	if (ret) {
		*svc = old;
		return ret;
	}
	release_departed(dp, &old, svc->pools);
	return 0;
}

int dp_service_set_down(struct dataplane *dp, uint32_t index,
			const struct endpoint *ep, bool down)
{
	struct dp_service *svc = service_mut(dp, index);
	struct dp_backend *found = NULL;
	uint32_t p, b;
	int ret;

	if (!svc)
		return -ENOENT;
	for (p = 0; p < KN_POOL_COUNT && !found; p++)
		for (b = 0; b < svc->pools[p].count && !found; b++)
			if (!netaddr_endpoint_cmp(&svc->pools[p].backends[b].ep,
						  ep))
				found = &svc->pools[p].backends[b];
	if (!found)
		return -ENOENT;
	if (found->down == down)
		return 0;
	found->down = down;
	ret = dp_commit(dp, svc, svc->canary_bp);
	if (ret)
		found->down = !down;
	return ret;
}

int dp_service_remove(struct dataplane *dp, uint32_t index)
{
	struct dp_service *svc = service_mut(dp, index);
	struct kn_service_key key;
	struct kn_service value;
	struct dp_pool none[KN_POOL_COUNT] = {};
	int ret;

	if (!svc)
		return -ENOENT;
	service_entry(svc, &key, &value);
	ret = bpf_map__delete_elem(dp->skel->maps.kn_services, &key,
				   sizeof(key), 0);
	if (ret && ret != -ENOENT)
		return ret;
	/* Programs that found the service may still read its slot and
	 * record its generation in flows; then its flows are trusted no
	 * more (see the top of this file). */
	dp_sync_barrier(dp);
	ret = generation_advance(dp, index);
	if (ret)
		log_error("service '%s': cannot move its slot's generation on "
			  "(kn_service_gens): %s; its established flows keep "
			  "their backends until they close",
			  svc->name, strerror(-ret));
	if (!filter_bit_shared(dp, svc) && filter_bit_write(dp, svc, false))
		log_warn("service '%s': its bit stays set in kn_service_filter "
			 "(packets to its VIP:port cost a flow lookup)",
			 svc->name);
	dp_sync_barrier(dp);
	release_departed(dp, svc, none);
	memset(svc, 0, sizeof(*svc));
	return 0;
}

int dp_service_set_affinity(struct dataplane *dp, uint32_t index,
			    bool connection)
{
	struct dp_service *svc = service_mut(dp, index);
	struct kn_service_key key;
	struct kn_service value;
	uint32_t flags;
	int ret;

	if (!svc)
		return -ENOENT;
	flags = connection ? svc->flags | KN_SVC_F_CONNECTION_AFFINITY
			   : svc->flags & ~KN_SVC_F_CONNECTION_AFFINITY;
	if (flags == svc->flags)
		return 0;
	service_entry(svc, &key, &value);
	value.flags = flags;
	ret =
	    bpf_map__update_elem(dp->skel->maps.kn_services, &key, sizeof(key),
				 &value, sizeof(value), BPF_EXIST);
	if (!ret)
		svc->flags = flags;
	return ret;
}
