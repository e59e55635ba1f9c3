/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * kn-mapstat.c - how full kanary's pinned maps are, as one JSON line, for
 * the soak (tests/soak/): whatever grows over hours shows here first.
 *
 * It owns reading a pin directory from the outside, read-only, with the
 * layouts of include/kanary_shared.h:
 *   - the entries of each hash map (kn_services, kn_flows, kn_replies) and
 *     its max_entries;
 *   - of the connection table's entries, the live ones: those the programs
 *     would still use (bpf/kanary_steer.h kn_flow_expired() with the default
 *     timeouts), by state, and the established ones idle for a minute;
 *     expired ones stay until the LRU reclaims them;
 *   - the backend counter slots in use: the distinct stats_index of every
 *     backend in each service's active configuration (kn_weights picks the
 *     slot of kn_configs).
 * Values are read up to the fields it knows: a newer build's longer values
 * (fields appended at the end, the shared-map contract) read the same.
 *
 *   kn-mapstat --pin-dir /sys/fs/bpf/kanary
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "kanary_shared.h"
#include "util/opts.h"

#define PROGRAM_NAME "kn-mapstat"

#include "tool.h" /* after PROGRAM_NAME */

#define EXIT_READ  0
#define EXIT_SETUP 1
#define PATH_BYTES 4096
/* A key or value of any map we read fits here (kn_configs is the largest). */
#define MAX_VALUE_BYTES (sizeof(struct kn_config) + 4096)

/* bpf/kanary_steer.h's default timeouts (kanaryd does not change them). */
#define TCP_SYN_TIMEOUT_NS	   (30ULL * TOOL_NS_PER_S)
#define TCP_ESTABLISHED_TIMEOUT_NS (24ULL * 3600 * TOOL_NS_PER_S)
#define TCP_CLOSING_TIMEOUT_NS	   (10ULL * TOOL_NS_PER_S)
#define UDP_IDLE_TIMEOUT_NS	   (60ULL * TOOL_NS_PER_S)
#define IPPROTO_UDP_VALUE	   17

struct map_fd {
	int fd;
	struct bpf_map_info info;
};

static int open_pinned(const char *dir, const char *name, struct map_fd *m)
{
	char path[PATH_BYTES];
	__u32 len = sizeof(m->info);

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    (int)sizeof(path)) {
		fail_msg("pin path %s/%s is too long", dir, name);
		return -ENAMETOOLONG;
	}
	m->fd = bpf_obj_get(path);
	if (m->fd < 0) {
		fail_msg("cannot open pinned map %s: %s", path,
			 strerror(errno));
		return -errno;
	}
	memset(&m->info, 0, sizeof(m->info));
	if (bpf_obj_get_info_by_fd(m->fd, &m->info, &len)) {
		fail_msg("cannot read map info of %s: %s", path,
			 strerror(errno));
		close(m->fd);
		return -errno;
	}
	if (m->info.key_size > MAX_VALUE_BYTES ||
	    m->info.value_size > MAX_VALUE_BYTES) {
		fail_msg("%s: key %u or value %u bytes is larger than kanary's",
			 path, m->info.key_size, m->info.value_size);
		close(m->fd);
		return -EINVAL;
	}
	return 0;
}

/* Is a connection-table value (kn_flow or kn_reply: the same state and
 * last_seen_ns) still in use at now_ns? */
static bool entry_live(uint8_t proto, uint8_t state, uint64_t last_seen_ns,
		       uint64_t now)
{
	uint64_t age = now > last_seen_ns ? now - last_seen_ns : 0;

	if (proto == IPPROTO_UDP_VALUE)
		return age <= UDP_IDLE_TIMEOUT_NS;
	if (state == KN_FLOW_SYN_SENT)
		return age <= TCP_SYN_TIMEOUT_NS;
	if (state == KN_FLOW_CLOSING)
		return age <= TCP_CLOSING_TIMEOUT_NS;
	return age <= TCP_ESTABLISHED_TIMEOUT_NS;
}

enum table_kind { TABLE_PLAIN, TABLE_FLOWS, TABLE_REPLIES };

/* Entries read per batch: a table of a million entries is read in a few
 * hundred system calls, not two million (the soak samples every few
 * seconds beside the load it measures). */
#define BATCH_ENTRIES 4096

/* An established entry this long without a packet is counted apart: a
 * connection whose end the programs never saw stays live for 24 h. */
#define IDLE_NS	    (60ULL * TOOL_NS_PER_S)
#define STATE_SLOTS (KN_FLOW_CLOSING + 1)

/* The live entries of a connection table: all of them, by state, and the
 * established ones idle for over IDLE_NS. */
struct live_counts {
	uint64_t total;
	uint64_t by_state[STATE_SLOTS];
	uint64_t idle_established;
};

static void count_live(const unsigned char *keys, const unsigned char *values,
		       const struct map_fd *m, enum table_kind kind, __u32 n,
		       uint64_t now, struct live_counts *out)
{
	for (__u32 i = 0; i < n && kind != TABLE_PLAIN; i++) {
		const struct kn_flow_key *k =
		    (const void *)(keys + (size_t)i * m->info.key_size);
		const void *v = values + (size_t)i * m->info.value_size;
		/* kn_flow and kn_reply share these two fields' meaning */
		uint8_t state = kind == TABLE_FLOWS
				    ? ((const struct kn_flow *)v)->state
				    : ((const struct kn_reply *)v)->state;
		uint64_t seen =
		    kind == TABLE_FLOWS
			? ((const struct kn_flow *)v)->last_seen_ns
			: ((const struct kn_reply *)v)->last_seen_ns;

		if (!entry_live(k->proto, state, seen, now))
			continue;
		out->total++;
		if (state < STATE_SLOTS)
			out->by_state[state]++;
		if (state == KN_FLOW_ESTABLISHED && now > seen &&
		    now - seen > IDLE_NS)
			out->idle_established++;
	}
}

/* Reads a hash map in batches: its entries, and for the connection tables
 * the live ones. */
static int walk_hash(const struct map_fd *m, enum table_kind kind,
		     uint64_t *entries, struct live_counts *live)
{
	unsigned char *keys = malloc((size_t)BATCH_ENTRIES * m->info.key_size);
	unsigned char *values =
	    malloc((size_t)BATCH_ENTRIES * m->info.value_size);
	__u32 in_batch = 0, out_batch = 0;
	uint64_t now = now_ns();
	bool first = true;
	int ret = 0;

	*entries = 0;
	memset(live, 0, sizeof(*live));
	if (!keys || !values) {
		ret = -ENOMEM;
		goto out;
	}
	for (;;) {
		__u32 n = BATCH_ENTRIES;
		int err =
		    bpf_map_lookup_batch(m->fd, first ? NULL : &in_batch,
					 &out_batch, keys, values, &n, NULL);

		if (err && errno != ENOENT) {
			ret = -errno;
			break;
		}
		*entries += n;
		count_live(keys, values, m, kind, n, now, live);
		if (err) /* ENOENT: that was the last batch */
			break;
		in_batch = out_batch;
		first = false;
	}
out:
	free(keys);
	free(values);
	return ret;
}

/* The distinct stats slots of the active configurations of every service. */
static int slots_in_use(const struct map_fd *services,
			const struct map_fd *weights,
			const struct map_fd *configs, uint64_t *used_out)
{
	static unsigned char key[MAX_VALUE_BYTES], next[MAX_VALUE_BYTES];
	int cpus = libbpf_num_possible_cpus();
	uint32_t max_slots = 1U << 20;
	bool *used = calloc(max_slots, sizeof(*used));
	struct kn_weight *per_cpu;
	struct kn_config *config = calloc(1, configs->info.value_size);
	void *prev = NULL;
	uint64_t count = 0;
	int ret = 0;

	per_cpu = cpus > 0 ? calloc((size_t)cpus, sizeof(*per_cpu)) : NULL;
	if (!used || !per_cpu || !config) {
		ret = -ENOMEM;
		goto out;
	}
	while (!ret && !bpf_map_get_next_key(services->fd, prev, next)) {
		struct kn_service svc;
		uint32_t index, config_key;

		memcpy(key, next, services->info.key_size);
		prev = key;
		if (bpf_map_lookup_elem(services->fd, key, &svc))
			continue;
		index = svc.index;
		if (bpf_map_lookup_elem(weights->fd, &index, per_cpu)) {
			ret = -errno;
			break;
		}
		config_key = 2 * index + (per_cpu[0].slot & 1);
		if (bpf_map_lookup_elem(configs->fd, &config_key, config)) {
			ret = -errno;
			break;
		}
		for (int p = 0; p < KN_POOL_COUNT; p++) {
			uint32_t n = config->pools[p].count;

			if (n > KN_MAX_POOL_BACKENDS)
				n = 0;
			for (uint32_t b = 0; b < n; b++) {
				uint32_t s =
				    config->pools[p].backends[b].stats_index;
				if (s < max_slots && !used[s]) {
					used[s] = true;
					count++;
				}
			}
		}
	}
out:
	free(used);
	free(per_cpu);
	free(config);
	*used_out = count;
	return ret;
}

static void usage(FILE *out)
{
	fputs("usage: kn-mapstat --pin-dir DIR\n"
	      "  one JSON line: entries of kanary's pinned hash maps, live\n"
	      "  connection-table entries, backend counter slots in use\n",
	      out);
}

enum { OPT_PIN_DIR = 'p' };

static int parse_option(const struct opts_parser *cli, int id, const char *arg)
{
	const char **dir = cli->ctx;

	(void)id; /* --pin-dir is the only option */
	*dir = arg;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option long_options[] = {
	    {"pin-dir", required_argument, NULL, OPT_PIN_DIR},
	    {NULL, 0, NULL, 0},
	};
	static const char *const names[] = {"kn_services", "kn_flows",
					    "kn_replies"};
	static const enum table_kind kinds[] = {TABLE_PLAIN, TABLE_FLOWS,
						TABLE_REPLIES};
	struct map_fd maps[3], weights, configs;
	const char *dir = NULL;
	const struct opts_parser cli =
	    OPTS_PARSER(PROGRAM_NAME, long_options, parse_option, usage, &dir);
	struct live_counts live;
	uint64_t entries, slots;
	int ret;

	ret = opts_parse(&cli, argc, argv);
	if (ret == OPTS_HELP)
		return EXIT_READ;
	if (ret)
		return OPTS_EXIT_USAGE;
	if (!dir) {
		opts_error(&cli,
			   "missing --pin-dir DIR (kanaryd's pin folder)");
		return OPTS_EXIT_USAGE;
	}
	for (int i = 0; i < 3; i++)
		if (open_pinned(dir, names[i], &maps[i]))
			return EXIT_SETUP;
	if (open_pinned(dir, "kn_weights", &weights) ||
	    open_pinned(dir, "kn_configs", &configs))
		return EXIT_SETUP;

	fputc('{', stdout);
	for (int i = 0; i < 3; i++) {
		ret = walk_hash(&maps[i], kinds[i], &entries, &live);
		if (ret) {
			fail_msg("cannot walk %s: %s", names[i],
				 strerror(-ret));
			return EXIT_SETUP;
		}
		json_str(stdout, names[i]);
		printf(":{\"entries\":%" PRIu64 ",\"max_entries\":%u", entries,
		       maps[i].info.max_entries);
		if (kinds[i] != TABLE_PLAIN)
			printf(",\"live\":%" PRIu64
			       ",\"live_syn_sent\":%" PRIu64
			       ",\"live_established\":%" PRIu64
			       ",\"live_closing\":%" PRIu64
			       ",\"live_established_idle_60s\":%" PRIu64,
			       live.total, live.by_state[KN_FLOW_SYN_SENT],
			       live.by_state[KN_FLOW_ESTABLISHED],
			       live.by_state[KN_FLOW_CLOSING],
			       live.idle_established);
		fputs("},", stdout);
	}
	ret = slots_in_use(&maps[0], &weights, &configs, &slots);
	if (ret) {
		fail_msg("cannot read the services' configurations: %s",
			 strerror(-ret));
		return EXIT_SETUP;
	}
	printf("\"backend_slots_in_use\":%" PRIu64 "}\n", slots);
	return EXIT_READ;
}
