/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * counters.c - reads the kernel's counters (per backend with its latency
 * histogram, per service, per hook), summed over CPUs, and forgets the flows
 * steered to one backend.
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
int dp_read_backend(struct dataplane *dp, uint32_t stats_index,
		    struct dp_backend_counters *out)
{
	struct kn_backend_stats *per_cpu;
	int cpu, ret;
	size_t f;

	if (stats_index >= dp->max_backends)
		return -EINVAL;
	per_cpu = calloc(dp->ncpus, sizeof(*per_cpu));
	if (!per_cpu)
		return -ENOMEM;
	ret = bpf_map__lookup_elem(dp->skel->maps.kn_backend_ctr, &stats_index,
				   sizeof(stats_index), per_cpu,
				   dp->ncpus * sizeof(*per_cpu), 0);
	memset(out, 0, sizeof(*out));
	if (!ret) {
		/* The struct is all __u64 counters: sum them as an array. */
		__u64 *sum = (__u64 *)&out->totals;

		for (cpu = 0; cpu < dp->ncpus; cpu++) {
			const __u64 *v = (const __u64 *)&per_cpu[cpu];

			for (f = 0; f < sizeof(out->totals) / sizeof(__u64);
			     f++)
				sum[f] += v[f];
		}
	}
	free(per_cpu);
	if (!ret) {
		struct kn_latency_hist *hists =
		    calloc(dp->ncpus, sizeof(*hists));

		if (!hists)
			return -ENOMEM;
		ret = bpf_map__lookup_elem(
		    dp->skel->maps.kn_latency, &stats_index,
		    sizeof(stats_index), hists, dp->ncpus * sizeof(*hists), 0);
		if (!ret)
			sum_u64_per_cpu(hists, dp->ncpus, sizeof(*hists),
					&out->latency);
		free(hists);
	}
	return ret;
}

int dp_read_service(struct dataplane *dp, uint32_t index,
		    struct kn_service_stats *out)
{
	struct kn_service_stats *per_cpu;
	int cpu, ret;
	size_t f;

	if (index >= dp->max_services)
		return -EINVAL;
	per_cpu = calloc(dp->ncpus, sizeof(*per_cpu));
	if (!per_cpu)
		return -ENOMEM;
	ret = bpf_map__lookup_elem(dp->skel->maps.kn_service_ctr, &index,
				   sizeof(index), per_cpu,
				   dp->ncpus * sizeof(*per_cpu), 0);
	memset(out, 0, sizeof(*out));
	if (!ret) {
		__u64 *sum = (__u64 *)out;

		for (cpu = 0; cpu < dp->ncpus; cpu++) {
			const __u64 *v = (const __u64 *)&per_cpu[cpu];

			for (f = 0; f < sizeof(*out) / sizeof(__u64); f++)
				sum[f] += v[f];
		}
	}
	free(per_cpu);
	return ret;
}

int dp_read_global(struct dataplane *dp,
		   struct kn_global_stats out[KN_HOOK_COUNT])
{
	struct kn_global_stats *per_cpu;
	__u32 hook;
	int cpu, ret = 0;
	size_t f;

	per_cpu = calloc(dp->ncpus, sizeof(*per_cpu));
	if (!per_cpu)
		return -ENOMEM;
	memset(out, 0, KN_HOOK_COUNT * sizeof(*out));
	for (hook = 0; hook < KN_HOOK_COUNT && !ret; hook++) {
		__u64 *sum = (__u64 *)&out[hook];

		ret = bpf_map__lookup_elem(dp->skel->maps.kn_global_ctr, &hook,
					   sizeof(hook), per_cpu,
					   dp->ncpus * sizeof(*per_cpu), 0);
		for (cpu = 0; cpu < dp->ncpus && !ret; cpu++) {
			const __u64 *v = (const __u64 *)&per_cpu[cpu];

			for (f = 0; f < sizeof(*out) / sizeof(__u64); f++)
				sum[f] += v[f];
		}
	}
	free(per_cpu);
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
