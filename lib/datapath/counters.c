/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * counters.c - reads the kernel's counters (per backend with its latency
 * and response timing histograms, per service, per hook), summed over CPUs, and
 * forgets the flows steered to one backend.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "datapath/datapath_internal.h"

/* Sums per-CPU values made of __u64 counters only. */
static void sum_u64_per_cpu(const void *per_cpu, int ncpus, size_t size,
			    void *out)
{
	__u64 *sum = out;
	size_t f;
	int cpu;

	memset(out, 0, size);
	for (cpu = 0; cpu < ncpus; cpu++) {
		const __u64 *v =
		    (const __u64 *)((const char *)per_cpu + cpu * size);

		for (f = 0; f < size / sizeof(__u64); f++)
			sum[f] += v[f];
	}
}

/*
 * Reads the per-CPU value at key of map (size bytes for each CPU, all of
 * it __u64 counters) summed over the CPUs into out; out is zeroed when
 * the map has no such value.
 */
static int read_summed(struct dataplane *dp, struct bpf_map *map, __u32 key,
		       size_t size, void *out)
{
	void *per_cpu = calloc(dp->ncpus, size);
	int ret;

	if (!per_cpu)
		return -ENOMEM;
	ret = bpf_map__lookup_elem(map, &key, sizeof(key), per_cpu,
				   dp->ncpus * size, 0);
	if (ret)
		memset(out, 0, size);
	else
		sum_u64_per_cpu(per_cpu, dp->ncpus, size, out);
	free(per_cpu);
	return ret;
}

int dp_read_backend(struct dataplane *dp, uint32_t stats_index,
		    struct dp_backend_counters *out)
{
	int ret;

	if (stats_index >= dp->max_backends)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	ret = read_summed(dp, dp->skel->maps.kn_backend_ctr, stats_index,
			  sizeof(out->totals), &out->totals);
	if (!ret)
		ret = read_summed(dp, dp->skel->maps.kn_latency, stats_index,
				  sizeof(out->latency), &out->latency);
	if (!ret)
		ret =
		    read_summed(dp, dp->skel->maps.kn_response_timing,
				stats_index, sizeof(out->timing), &out->timing);
	return ret;
}

int dp_read_service(struct dataplane *dp, uint32_t index,
		    struct kn_service_stats *out)
{
	if (index >= dp->max_services)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	return read_summed(dp, dp->skel->maps.kn_service_ctr, index,
			   sizeof(*out), out);
}

/* One entry per hook (enum kn_hook), each summed over the CPUs. */
static int read_per_hook(struct dataplane *dp, struct bpf_map *map,
			 size_t entry_size, void *out)
{
	__u32 hook;
	int ret = 0;

	memset(out, 0, KN_HOOK_COUNT * entry_size);
	for (hook = 0; hook < KN_HOOK_COUNT && !ret; hook++)
		ret = read_summed(dp, map, hook, entry_size,
				  (char *)out + hook * entry_size);
	return ret;
}

int dp_read_global(struct dataplane *dp,
		   struct kn_global_stats out[KN_HOOK_COUNT])
{
	return read_per_hook(dp, dp->skel->maps.kn_global_ctr, sizeof(*out),
			     out);
}

int dp_read_forward(struct dataplane *dp,
		    struct kn_forward_stats out[KN_HOOK_COUNT])
{
	return read_per_hook(dp, dp->skel->maps.kn_forward_ctr, sizeof(*out),
			     out);
}

int dp_read_clients(struct dataplane *dp, uint32_t index,
		    struct kn_client_seen *out)
{
	struct kn_client_seen *per_cpu;
	int cpu, w, ret;

	memset(out, 0, sizeof(*out));
	if (index >= dp->max_services)
		return -EINVAL;
	per_cpu = calloc(dp->ncpus, sizeof(*per_cpu));
	if (!per_cpu)
		return -ENOMEM;
	ret = bpf_map__lookup_elem(dp->skel->maps.kn_client_seen, &index,
				   sizeof(index), per_cpu,
				   dp->ncpus * sizeof(*per_cpu), 0);
	for (cpu = 0; !ret && cpu < dp->ncpus; cpu++)
		for (w = 0; w < KN_CLIENT_SEEN_WORDS; w++)
			out->bits[w] |= per_cpu[cpu].bits[w];
	free(per_cpu);
	return ret;
}

int dp_clear_clients(struct dataplane *dp, uint32_t index)
{
	struct kn_client_seen *zeros;
	int ret;

	if (index >= dp->max_services)
		return -EINVAL;
	zeros = calloc(dp->ncpus, sizeof(*zeros));
	if (!zeros)
		return -ENOMEM;
	ret = bpf_map__update_elem(dp->skel->maps.kn_client_seen, &index,
				   sizeof(index), zeros,
				   dp->ncpus * sizeof(*zeros), BPF_ANY);
	free(zeros);
	return ret;
}

/* Keys are collected first: deleting during a hash walk restarts it. */
int dp_flush_backend_flows(struct dataplane *dp, uint32_t stats_index)
{
	struct bpf_map *flows = dp->skel->maps.kn_flows;
	struct bpf_map *replies = dp->skel->maps.kn_replies;
	struct kn_flow_key key, next, *doomed = NULL, *grown;
	size_t count = 0, capacity = 0, i;
	void *prev = NULL;
	int removed = 0;

	while (!bpf_map__get_next_key(flows, prev, &next, sizeof(next))) {
		struct kn_flow flow;

		key = next;
		prev = &key;
		if (bpf_map__lookup_elem(flows, &key, sizeof(key), &flow,
					 sizeof(flow), 0) ||
		    flow.stats_index != stats_index)
			continue;
		if (count + 2 > capacity) {
			capacity = capacity ? 2 * capacity : 64;
			grown = realloc(doomed, capacity * sizeof(*doomed));
			if (!grown) {
				free(doomed);
				return -ENOMEM;
			}
			doomed = grown;
		}
		doomed[count++] = key;
		/* and the reply direction, (backend, client) */
		memset(&doomed[count], 0, sizeof(doomed[count]));
		doomed[count].src = flow.backend;
		doomed[count].dst = key.src;
		doomed[count].sport = flow.backend_port;
		doomed[count].dport = key.sport;
		doomed[count].proto = key.proto;
		doomed[count].family = key.family;
		count++;
	}
	for (i = 0; i < count; i += 2) {
		if (!bpf_map__delete_elem(flows, &doomed[i], sizeof(key), 0))
			removed++;
		bpf_map__delete_elem(replies, &doomed[i + 1], sizeof(key), 0);
	}
	free(doomed);
	return removed;
}
