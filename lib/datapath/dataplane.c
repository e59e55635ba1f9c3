/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * dataplane.c - loads, adopts, attaches and programs the kernel data path.
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
 */
#include "datapath/dataplane.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "kanary.skel.h"
#include "util/log.h"
#include "datapath/maglev.h"

#define CAP_NET_ADMIN_BIT 12
#define CAP_SYS_ADMIN_BIT 21
#define CAP_BPF_BIT	  39

/* tc filter identity: kanary's filters replace only themselves. */
#define DP_TC_HANDLE   0x4b4e
#define DP_TC_PRIORITY 1

/* Program names as the kernel keeps them (BPF_OBJ_NAME_LEN - 1 chars). */
#define DP_XDP_PROG_KERNEL_NAME "kanary_xdp_ingr"

#define FNV32_OFFSET 0x811c9dc5U
#define FNV32_PRIME  0x01000193U

struct stats_slots {
	uint32_t *queue; /* free stats indexes, oldest-freed first */
	uint32_t head, count, capacity;
};

/* A pinned map whose layout this build changed: copied into a fresh map. */
struct map_migration {
	struct bpf_map *map; /* the new one, in the skeleton */
	int old_fd;
	struct bpf_map_info old_info;
	char pin_path[320];
};

#define DP_MIGRATIONS_MAX 16

struct dataplane {
	struct kanary_bpf *skel;
	struct map_migration migrations[DP_MIGRATIONS_MAX];
	int migration_count;
	char ifname[IF_NAMESIZE];
	int ifindex;
	char pin_dir[256];
	int lock_fd;
	int sync_inner_fd;
	bool pins_existed; /* a data path was pinned before we opened */
	enum dp_mode mode;
	bool xdp_attached, tc_ingress_attached, tc_egress_attached;
	uint32_t xdp_flags;
	int ncpus;
	uint32_t max_services, max_backends, max_flows;
	uint32_t adopted;
	struct dp_service *services;
	struct stats_slots slots;
};

static int __attribute__((format(printf, 4, 5)))
set_err(char *err, size_t err_len, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && err_len) {
		va_start(ap, fmt);
		vsnprintf(err, err_len, fmt, ap);
		va_end(ap);
	}
	return ret;
}

static int libbpf_log(enum libbpf_print_level level, const char *fmt,
		      va_list args)
{
	char line[1024];
	size_t len;

	if (level == LIBBPF_DEBUG && !log_is_verbose())
		return 0;
	vsnprintf(line, sizeof(line), fmt, args);
	len = strlen(line);
	while (len && line[len - 1] == '\n')
		line[--len] = '\0';
	/* The clsact qdisc existing already is what we want, not a problem. */
	if (strstr(line, "Exclusivity flag on"))
		level = LIBBPF_DEBUG;
	if (level == LIBBPF_WARN)
		log_warn("libbpf: %s", line);
	else
		log_debug("libbpf: %s", line);
	return 0;
}

const char *dp_mode_name(enum dp_mode mode)
{
	switch (mode) {
	case DP_MODE_AUTO:
		return "auto";
	case DP_MODE_XDP:
		return "xdp";
	case DP_MODE_XDP_GENERIC:
		return "xdp-generic";
	case DP_MODE_TC:
		return "tc";
	}
	return "unknown";
}

int dp_parse_mode(const char *text, enum dp_mode *out)
{
	if (!strcmp(text, "xdp"))
		*out = DP_MODE_XDP;
	else if (!strcmp(text, "xdp-generic"))
		*out = DP_MODE_XDP_GENERIC;
	else if (!strcmp(text, "tc"))
		*out = DP_MODE_TC;
	else if (!strcmp(text, "auto"))
		*out = DP_MODE_AUTO;
	else
		return -EINVAL;
	return 0;
}

/* ---- checks before anything is loaded --------------------------------- */

static int check_privileges(char *err, size_t err_len)
{
	unsigned long long caps = 0;
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return set_err(err, err_len, -errno,
			       "cannot read /proc/self/status to check "
			       "privileges: %s",
			       strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &caps) == 1)
			break;
	fclose(f);
	if (!(caps & (1ULL << CAP_NET_ADMIN_BIT)) ||
	    !(caps & ((1ULL << CAP_BPF_BIT) | (1ULL << CAP_SYS_ADMIN_BIT))))
		return set_err(err, err_len, -EPERM,
			       "kanaryd needs root (CAP_BPF and CAP_NET_ADMIN) "
			       "to load and attach its BPF programs: run it as "
			       "root, e.g. with sudo");
	return 0;
}

static bool is_bpffs(const char *path)
{
	struct statfs st;

	return statfs(path, &st) == 0 && st.f_type == BPF_FS_MAGIC;
}

/* The pin directory must live on bpffs; the usual root is mounted when it
 * is missing, as systemd does on most distributions. */
static int ensure_bpffs(const char *pin_dir, char *err, size_t err_len)
{
	char parent[256];
	char *slash;

	snprintf(parent, sizeof(parent), "%s", pin_dir);
	slash = strrchr(parent, '/');
	if (!slash || slash == parent)
		return set_err(err, err_len, -EINVAL,
			       "pin directory '%s' must be a directory below a "
			       "bpf filesystem, like %s",
			       pin_dir, DP_DEFAULT_PIN_DIR);
	*slash = '\0';
	if (is_bpffs(parent))
		return 0;
	if (strcmp(parent, DP_BPFFS_ROOT) != 0)
		return set_err(err, err_len, -ENOTSUP,
			       "pin directory '%s' is not on a bpf filesystem: "
			       "mount one with 'mount -t bpf bpf %s' or choose "
			       "a --pin-dir below %s",
			       pin_dir, parent, DP_BPFFS_ROOT);
	if (mount("bpf", DP_BPFFS_ROOT, "bpf", 0, "mode=0700"))
		return set_err(err, err_len, -errno,
			       "bpffs is not mounted at %s and mounting it "
			       "failed (%s): run 'mount -t bpf bpf %s' as root",
			       DP_BPFFS_ROOT, strerror(errno), DP_BPFFS_ROOT);
	log_info("bpffs was not mounted: mounted it at %s", DP_BPFFS_ROOT);
	return 0;
}

/* Who holds the flock on an inode, from /proc/locks; 0 if unknown. */
static long lock_holder_pid(ino_t inode)
{
	char line[256];
	long pid = 0;
	FILE *f = fopen("/proc/locks", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long ino;
		long holder;
		unsigned int major, minor;

		if (!strstr(line, "FLOCK"))
			continue;
		if (sscanf(line, "%*d: FLOCK %*s %*s %ld %x:%x:%llu", &holder,
			   &major, &minor, &ino) == 4 &&
		    ino == (unsigned long long)inode) {
			pid = holder;
			break;
		}
	}
	fclose(f);
	return pid;
}

static int lock_pin_dir(struct dataplane *dp, char *err, size_t err_len)
{
	struct stat st;

	if (mkdir(dp->pin_dir, 0700) && errno != EEXIST)
		return set_err(err, err_len, -errno,
			       "cannot create pin directory %s: %s",
			       dp->pin_dir, strerror(errno));
	dp->lock_fd = open(dp->pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dp->lock_fd < 0)
		return set_err(err, err_len, -errno,
			       "cannot open pin directory %s: %s", dp->pin_dir,
			       strerror(errno));
	if (flock(dp->lock_fd, LOCK_EX | LOCK_NB)) {
		long pid = 0;

		if (!fstat(dp->lock_fd, &st))
			pid = lock_holder_pid(st.st_ino);
		if (pid > 0)
			return set_err(
			    err, err_len, -EBUSY,
			    "another kanaryd (pid %ld) owns %s: stop "
			    "it first, or give this one its own "
			    "--pin-dir",
			    pid, dp->pin_dir);
		return set_err(
		    err, err_len, -EBUSY,
		    "another kanaryd owns %s: stop it first, or give "
		    "this one its own --pin-dir",
		    dp->pin_dir);
	}
	return 0;
}

/* ---- loading ----------------------------------------------------------- */

/* A pinned map's size wins over the requested one: it holds live state. */
static uint32_t pinned_max_entries(const char *pin_dir, const char *name,
				   uint32_t wanted)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return wanted;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len) &&
	    info.max_entries != wanted) {
		log_info(
		    "keeping the pinned %s with %u entries (asked for %u): "
		    "remove the data path to resize it",
		    name, info.max_entries, wanted);
		wanted = info.max_entries;
	}
	close(fd);
	return wanted;
}

static int size_maps(struct dataplane *dp, const struct dp_options *opts)
{
	struct kanary_bpf *s = dp->skel;
	int err = 0;

	dp->max_flows =
	    opts->max_flows ? opts->max_flows : KN_DEFAULT_MAX_FLOWS;
	dp->max_services =
	    opts->max_services ? opts->max_services : KN_MAX_SERVICES;
	dp->max_backends =
	    opts->max_backends ? opts->max_backends : KN_DEFAULT_MAX_BACKENDS;
	dp->max_flows =
	    pinned_max_entries(dp->pin_dir, "kn_flows", dp->max_flows);
	dp->max_services =
	    pinned_max_entries(dp->pin_dir, "kn_weights", dp->max_services);
	dp->max_backends =
	    pinned_max_entries(dp->pin_dir, "kn_backend_ctr", dp->max_backends);

	err = err ?: bpf_map__set_max_entries(s->maps.kn_flows, dp->max_flows);
	err =
	    err ?: bpf_map__set_max_entries(s->maps.kn_replies, dp->max_flows);
	err = err
		  ?: bpf_map__set_max_entries(s->maps.kn_services,
					      dp->max_services);
	err = err
		  ?: bpf_map__set_max_entries(s->maps.kn_weights,
					      dp->max_services);
	err = err
		  ?: bpf_map__set_max_entries(s->maps.kn_configs,
					      2 * dp->max_services);
	err = err
		  ?: bpf_map__set_max_entries(s->maps.kn_service_ctr,
					      dp->max_services);
	err = err
		  ?: bpf_map__set_max_entries(s->maps.kn_backend_ctr,
					      dp->max_backends);
	err = err
		  ?: bpf_map__set_max_entries(s->maps.kn_latency,
					      dp->max_backends);
	return err;
}

static void set_timeouts(struct dataplane *dp, const struct dp_options *opts)
{
	struct kanary_bpf *s = dp->skel;

	if (opts->tcp_established_timeout_ns)
		s->rodata->kn_tcp_established_timeout_ns =
		    opts->tcp_established_timeout_ns;
	if (opts->tcp_closing_timeout_ns)
		s->rodata->kn_tcp_closing_timeout_ns =
		    opts->tcp_closing_timeout_ns;
	if (opts->tcp_syn_timeout_ns)
		s->rodata->kn_tcp_syn_timeout_ns = opts->tcp_syn_timeout_ns;
}

/* ---- upgrades: pinned maps of another layout ----------------------------- */

/*
 * A newer kanary may change a map's layout. The contract (kanary_shared.h):
 * keys keep their size and values only grow, by fields appended at the end.
 * Such a pinned map is not reused: a fresh one is created, the old entries
 * are copied in (new fields zeroed), the new programs replace the old ones,
 * flows the old programs recorded meanwhile are copied again, and the new
 * map takes over the pin. Established connections keep their backends.
 */
static int find_changed_pins(struct dataplane *dp, char *err, size_t err_len)
{
	struct bpf_map *map;

	bpf_object__for_each_map(map, dp->skel->obj)
	{
		struct map_migration *m;
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		char path[320];
		int fd;

		if (bpf_map__is_internal(map) ||
		    bpf_map__type(map) == BPF_MAP_TYPE_ARRAY_OF_MAPS)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dp->pin_dir,
			 bpf_map__name(map));
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		if (bpf_obj_get_info_by_fd(fd, &info, &len) ||
		    (info.type == bpf_map__type(map) &&
		     info.key_size == bpf_map__key_size(map) &&
		     info.value_size == bpf_map__value_size(map) &&
		     info.max_entries == bpf_map__max_entries(map) &&
		     info.map_flags == bpf_map__map_flags(map))) {
			close(fd);
			continue;
		}
		if (info.type != bpf_map__type(map) ||
		    info.key_size != bpf_map__key_size(map) ||
		    info.value_size > bpf_map__value_size(map) ||
		    dp->migration_count == DP_MIGRATIONS_MAX) {
			close(fd);
			return set_err(
			    err, err_len, -EPROTO,
			    "pinned map %s has a layout this kanary "
			    "cannot migrate (type %u key %u value %u, "
			    "this build: type %u key %u value %u): "
			    "remove the data path first "
			    "('kanaryd --iface IF --remove')",
			    path, info.type, info.key_size, info.value_size,
			    bpf_map__type(map), bpf_map__key_size(map),
			    bpf_map__value_size(map));
		}
		m = &dp->migrations[dp->migration_count++];
		m->map = map;
		m->old_fd = fd;
		m->old_info = info;
		snprintf(m->pin_path, sizeof(m->pin_path), "%s", path);
		/* Not reused, not pinned at load: pinned once it is filled. */
		bpf_map__set_pin_path(map, NULL);
		log_info("pinned map %s changed layout (value %u -> %u bytes): "
			 "migrating it",
			 bpf_map__name(map), info.value_size,
			 bpf_map__value_size(map));
	}
	return 0;
}

static bool map_is_percpu(__u32 type)
{
	return type == BPF_MAP_TYPE_PERCPU_ARRAY ||
	       type == BPF_MAP_TYPE_PERCPU_HASH ||
	       type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

static bool map_is_array(__u32 type)
{
	return type == BPF_MAP_TYPE_ARRAY || type == BPF_MAP_TYPE_PERCPU_ARRAY;
}

/* Old value (one per CPU for per-CPU maps) into the new, larger layout. */
static void widen_value(const struct map_migration *m, int ncpus,
			const char *old, char *new_value)
{
	__u32 new_size = bpf_map__value_size(m->map);
	size_t old_stride = (m->old_info.value_size + 7) & ~7U;
	size_t new_stride = (new_size + 7) & ~7U;
	int cpus = map_is_percpu(m->old_info.type) ? ncpus : 1, cpu;

	for (cpu = 0; cpu < cpus; cpu++) {
		memset(new_value + cpu * new_stride, 0, new_stride);
		memcpy(new_value + cpu * new_stride, old + cpu * old_stride,
		       m->old_info.value_size);
	}
}

/* Copies every entry; only_new: leave entries present in the new map. */
static int migrate_copy(struct dataplane *dp, struct map_migration *m,
			bool only_new, uint64_t *copied)
{
	size_t cpus = map_is_percpu(m->old_info.type) ? (size_t)dp->ncpus : 1;
	size_t old_len = cpus * ((m->old_info.value_size + 7) & ~7U);
	size_t new_len = cpus * ((bpf_map__value_size(m->map) + 7) & ~7U);
	char *key = calloc(2, m->old_info.key_size ? m->old_info.key_size : 1);
	char *old = calloc(1, old_len), *new_value = calloc(1, new_len);
	__u64 flags = only_new ? BPF_NOEXIST : BPF_ANY;
	int new_fd = bpf_map__fd(m->map), ret = 0;
	__u32 i;

	*copied = 0;
	if (!key || !old || !new_value) {
		ret = -ENOMEM;
		goto out;
	}
	if (map_is_array(m->old_info.type)) {
		for (i = 0; i < m->old_info.max_entries &&
			    i < bpf_map__max_entries(m->map);
		     i++) {
			if (bpf_map_lookup_elem(m->old_fd, &i, old))
				continue;
			widen_value(m, dp->ncpus, old, new_value);
			if (!bpf_map_update_elem(new_fd, &i, new_value,
						 BPF_ANY))
				(*copied)++;
		}
		goto out;
	}
	{
		char *cur = key, *next = key + m->old_info.key_size;
		bool first = true;

		while (!bpf_map_get_next_key(m->old_fd, first ? NULL : cur,
					     next)) {
			first = false;
			memcpy(cur, next, m->old_info.key_size);
			if (bpf_map_lookup_elem(m->old_fd, cur, old))
				continue;
			widen_value(m, dp->ncpus, old, new_value);
			if (!bpf_map_update_elem(new_fd, cur, new_value, flags))
				(*copied)++;
		}
	}
out:
	free(key);
	free(old);
	free(new_value);
	return ret;
}

static int migrate_fill(struct dataplane *dp, char *err, size_t err_len)
{
	int i, ret;

	for (i = 0; i < dp->migration_count; i++) {
		struct map_migration *m = &dp->migrations[i];
		uint64_t copied;

		ret = migrate_copy(dp, m, false, &copied);
		if (ret)
			return set_err(err, err_len, ret,
				       "cannot migrate map %s: %s", m->pin_path,
				       strerror(-ret));
		log_info("migrated %llu entries of %s",
			 (unsigned long long)copied, bpf_map__name(m->map));
	}
	return 0;
}

/* After the new programs run: what the old ones recorded meanwhile, then
 * the pins move to the new maps. */
static int migrate_finish(struct dataplane *dp, char *err, size_t err_len)
{
	int i, ret;

	for (i = 0; i < dp->migration_count; i++) {
		struct map_migration *m = &dp->migrations[i];
		uint64_t copied = 0;

		if (!map_is_array(m->old_info.type))
			migrate_copy(dp, m, true, &copied);
		if (copied)
			log_info(
			    "copied %llu entries the old programs added to "
			    "%s meanwhile",
			    (unsigned long long)copied, bpf_map__name(m->map));
		if (unlink(m->pin_path) && errno != ENOENT)
			return set_err(err, err_len, -errno,
				       "cannot unpin the old %s: %s",
				       m->pin_path, strerror(errno));
		ret = bpf_map__pin(m->map, m->pin_path);
		if (ret)
			return set_err(err, err_len, ret,
				       "cannot pin the migrated %s: %s",
				       m->pin_path, strerror(-ret));
		close(m->old_fd);
		m->old_fd = -1;
	}
	dp->migration_count = 0;
	return 0;
}

static int load_programs(struct dataplane *dp, const struct dp_options *opts,
			 char *err, size_t err_len)
{
	LIBBPF_OPTS(bpf_object_open_opts, open_opts,
		    .pin_root_path = dp->pin_dir);
	int ret;

	dp->skel = kanary_bpf__open_opts(&open_opts);
	if (!dp->skel)
		return set_err(err, err_len, -errno,
			       "cannot open the BPF object: %s",
			       strerror(errno));
	ret = size_maps(dp, opts);
	if (ret)
		return set_err(err, err_len, ret, "cannot size the maps: %s",
			       strerror(-ret));
	set_timeouts(dp, opts);
	ret = find_changed_pins(dp, err, err_len);
	if (ret)
		return ret;
	ret = kanary_bpf__load(dp->skel);
	if (ret)
		return set_err(
		    err, err_len, ret,
		    "cannot load the BPF programs (%s). If %s holds "
		    "maps from another kanary version, remove that "
		    "data path first ('kanaryd --iface IF --remove'); "
		    "run with --verbose for the verifier's log",
		    strerror(-ret), dp->pin_dir);
	dp->ncpus = libbpf_num_possible_cpus();
	if (dp->ncpus <= 0)
		return set_err(err, err_len, -EINVAL,
			       "cannot count the possible CPUs");
	ret = migrate_fill(dp, err, err_len);
	if (ret)
		return ret;
	dp->sync_inner_fd =
	    bpf_map_create(BPF_MAP_TYPE_ARRAY, "kn_sync_inner", sizeof(__u32),
			   sizeof(__u32), 1, NULL);
	if (dp->sync_inner_fd < 0)
		return set_err(err, err_len, -errno,
			       "cannot create the sync map: %s",
			       strerror(errno));
	return 0;
}

/* ---- stats slots ------------------------------------------------------- */

static int slots_init(struct stats_slots *slots, uint32_t capacity)
{
	slots->queue = calloc(capacity, sizeof(*slots->queue));
	if (!slots->queue)
		return -ENOMEM;
	slots->capacity = capacity;
	slots->head = 0;
	slots->count = 0;
	return 0;
}

static void slots_push(struct stats_slots *slots, uint32_t index)
{
	if (slots->count == slots->capacity)
		return;
	slots->queue[(slots->head + slots->count) % slots->capacity] = index;
	slots->count++;
}

static int slots_pop(struct stats_slots *slots, uint32_t *index)
{
	if (!slots->count)
		return -ENOSPC;
	*index = slots->queue[slots->head];
	slots->head = (slots->head + 1) % slots->capacity;
	slots->count--;
	return 0;
}

/* A new backend starts from zero: its slot's counters are cleared. */
static int slot_reset_counters(struct dataplane *dp, uint32_t index)
{
	size_t stats_size = (size_t)dp->ncpus * sizeof(struct kn_backend_stats);
	size_t hist_size = (size_t)dp->ncpus * sizeof(struct kn_latency_hist);
	void *zeros =
	    calloc(1, stats_size > hist_size ? stats_size : hist_size);
	int ret;

	if (!zeros)
		return -ENOMEM;
	ret = bpf_map__update_elem(dp->skel->maps.kn_backend_ctr, &index,
				   sizeof(index), zeros, stats_size, BPF_ANY);
	if (!ret)
		ret = bpf_map__update_elem(dp->skel->maps.kn_latency, &index,
					   sizeof(index), zeros, hist_size,
					   BPF_ANY);
	free(zeros);
	return ret;
}

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

/* ---- adoption of a running data path ----------------------------------- */

static void endpoint_from_kernel(struct endpoint *ep, const struct kn_addr *a,
				 __u16 port_be)
{
	ep->addr.s_addr = a->w[0];
	ep->port = ntohs(port_be);
}

static int read_weight(struct dataplane *dp, uint32_t index,
		       struct kn_weight *out)
{
	struct kn_weight *per_cpu = calloc(dp->ncpus, sizeof(*per_cpu));
	int ret;

	if (!per_cpu)
		return -ENOMEM;
	ret = bpf_map__lookup_elem(dp->skel->maps.kn_weights, &index,
				   sizeof(index), per_cpu,
				   dp->ncpus * sizeof(*per_cpu), 0);
	if (!ret)
		*out = per_cpu[0];
	free(per_cpu);
	return ret;
}

static int adopt_services(struct dataplane *dp)
{
	struct kn_service_key key, next;
	struct kn_config *config;
	bool *used;
	void *prev = NULL;
	uint32_t i;
	int ret = 0;

	config = malloc(sizeof(*config));
	used = calloc(dp->max_backends, sizeof(*used));
	if (!config || !used) {
		ret = -ENOMEM;
		goto cleanup;
	}
	while (!bpf_map__get_next_key(dp->skel->maps.kn_services, prev, &next,
				      sizeof(next))) {
		struct kn_service value;
		struct kn_weight weight;
		struct dp_service *svc;
		uint32_t config_key, p, b;

		key = next;
		prev = &key;
		if (bpf_map__lookup_elem(dp->skel->maps.kn_services, &key,
					 sizeof(key), &value, sizeof(value), 0))
			continue;
		if (value.index >= dp->max_services ||
		    dp->services[value.index].in_use) {
			log_warn(
			    "pinned service '%.*s' has an impossible index "
			    "%u: ignored",
			    KN_SERVICE_NAME_LEN, value.name, value.index);
			continue;
		}
		ret = read_weight(dp, value.index, &weight);
		if (ret)
			goto cleanup;
		config_key = 2 * value.index + (weight.slot & 1);
		ret = bpf_map__lookup_elem(dp->skel->maps.kn_configs,
					   &config_key, sizeof(config_key),
					   config, sizeof(*config), 0);
		if (ret)
			goto cleanup;

		svc = &dp->services[value.index];
		memset(svc, 0, sizeof(*svc));
		svc->in_use = true;
		svc->index = value.index;
		memcpy(svc->name, value.name, sizeof(svc->name));
		svc->name[KN_SERVICE_NAME_LEN - 1] = '\0';
		endpoint_from_kernel(&svc->vip, &key.vip, key.port);
		svc->proto = key.proto;
		svc->flags = value.flags;
		svc->seed = value.seed;
		svc->udp_idle_timeout_ms = value.udp_idle_timeout_ms;
		svc->canary_bp = weight.canary_bp;
		svc->slot = weight.slot & 1;
		svc->generation = weight.generation;
		for (p = 0; p < KN_POOL_COUNT; p++) {
			const struct kn_pool *pool = &config->pools[p];
			uint32_t count = pool->count;

			if (count > KN_MAX_POOL_BACKENDS)
				count = 0;
			svc->pools[p].count = count;
			for (b = 0; b < count; b++) {
				const struct kn_backend *kb =
				    &pool->backends[b];
				struct dp_backend *db =
				    &svc->pools[p].backends[b];

				endpoint_from_kernel(&db->ep, &kb->addr,
						     kb->port);
				db->stats_index = kb->stats_index;
				db->down = kb->flags & KN_BACKEND_F_DOWN;
				if (kb->stats_index < dp->max_backends)
					used[kb->stats_index] = true;
			}
		}
		dp->adopted++;
		log_info("adopted service '%s' (%u stable, %u canary, weight "
			 "%u.%02u %%)",
			 svc->name, svc->pools[KN_POOL_STABLE].count,
			 svc->pools[KN_POOL_CANARY].count, svc->canary_bp / 100,
			 svc->canary_bp % 100);
	}
	for (i = 0; i < dp->max_backends; i++)
		if (!used[i])
			slots_push(&dp->slots, i);
cleanup:
	free(config);
	free(used);
	return ret;
}

/* ---- attaching --------------------------------------------------------- */

static int prog_name_by_id(__u32 id, char *name, size_t len)
{
	struct bpf_prog_info info = {};
	__u32 info_len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id);
	int ret;

	if (fd < 0)
		return -errno;
	ret = bpf_obj_get_info_by_fd(fd, &info, &info_len);
	close(fd);
	if (ret)
		return ret;
	snprintf(name, len, "%s", info.name);
	return 0;
}

static int attach_xdp(struct dataplane *dp, __u32 mode_flag, char *err,
		      size_t err_len)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, opts);
	LIBBPF_OPTS(bpf_xdp_query_opts, query);
	int prog_fd = bpf_program__fd(dp->skel->progs.kanary_xdp_ingress);
	int old_fd = -1;
	int ret;

	if (!bpf_xdp_query(dp->ifindex, 0, &query) && query.prog_id) {
		char name[BPF_OBJ_NAME_LEN] = "";
		__u32 old_mode = query.attach_mode == XDP_ATTACHED_SKB
				     ? XDP_FLAGS_SKB_MODE
				     : XDP_FLAGS_DRV_MODE;

		prog_name_by_id(query.prog_id, name, sizeof(name));
		if (strcmp(name, DP_XDP_PROG_KERNEL_NAME) != 0)
			return set_err(err, err_len, -EBUSY,
				       "interface %s already runs XDP program "
				       "'%s' (id %u): kanary will not replace "
				       "it; remove it or use --mode tc",
				       dp->ifname, name, query.prog_id);
		/* An earlier kanary's program: replace it in place, so that
		 * no packet finds the interface without one. */
		if (old_mode == mode_flag)
			old_fd = bpf_prog_get_fd_by_id(query.prog_id);
		if (old_fd >= 0)
			opts.old_prog_fd = old_fd;
		else
			bpf_xdp_detach(dp->ifindex, old_mode, NULL);
	}
	ret = bpf_xdp_attach(dp->ifindex, prog_fd,
			     mode_flag | (old_fd >= 0 ? XDP_FLAGS_REPLACE : 0),
			     &opts);
	if (old_fd >= 0)
		close(old_fd);
	if (ret)
		return set_err(
		    err, err_len, ret, "cannot attach %s XDP to %s: %s",
		    mode_flag == XDP_FLAGS_SKB_MODE ? "generic" : "native",
		    dp->ifname, strerror(-ret));
	dp->xdp_attached = true;
	dp->xdp_flags = mode_flag;
	return 0;
}

static int attach_tc(struct dataplane *dp, enum bpf_tc_attach_point point,
		     int prog_fd, char *err, size_t err_len)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = dp->ifindex,
		    .attach_point = point);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = DP_TC_HANDLE,
		    .priority = DP_TC_PRIORITY, .prog_fd = prog_fd,
		    .flags = BPF_TC_F_REPLACE);
	int ret;

	ret = bpf_tc_hook_create(&hook);
	if (ret && ret != -EEXIST)
		return set_err(err, err_len, ret,
			       "cannot add the clsact qdisc to %s: %s",
			       dp->ifname, strerror(-ret));
	ret = bpf_tc_attach(&hook, &opts);
	if (ret)
		return set_err(err, err_len, ret,
			       "cannot attach the tc %s program to %s: %s",
			       point == BPF_TC_INGRESS ? "ingress" : "egress",
			       dp->ifname, strerror(-ret));
	return 0;
}

static void detach_tc(struct dataplane *dp, enum bpf_tc_attach_point point)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = dp->ifindex,
		    .attach_point = point);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = DP_TC_HANDLE,
		    .priority = DP_TC_PRIORITY);

	bpf_tc_detach(&hook, &opts);
}

/* Removes a kanary XDP program left by an earlier run in XDP mode. */
static void detach_stale_xdp(struct dataplane *dp)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, query);
	char name[BPF_OBJ_NAME_LEN] = "";

	if (bpf_xdp_query(dp->ifindex, 0, &query) || !query.prog_id)
		return;
	if (prog_name_by_id(query.prog_id, name, sizeof(name)) ||
	    strcmp(name, DP_XDP_PROG_KERNEL_NAME))
		return;
	bpf_xdp_detach(dp->ifindex,
		       query.attach_mode == XDP_ATTACHED_SKB
			   ? XDP_FLAGS_SKB_MODE
			   : XDP_FLAGS_DRV_MODE,
		       NULL);
	log_info("removed the XDP program of an earlier kanary from %s",
		 dp->ifname);
}

static int attach_all(struct dataplane *dp, enum dp_mode mode, char *err,
		      size_t err_len)
{
	struct kanary_bpf *s = dp->skel;
	char xdp_err[DP_ERR_LEN];
	int ret;

	dp->mode = mode;
	if (mode == DP_MODE_AUTO || mode == DP_MODE_XDP) {
		ret = attach_xdp(dp, XDP_FLAGS_DRV_MODE, xdp_err,
				 sizeof(xdp_err));
		if (ret && mode == DP_MODE_XDP)
			return set_err(err, err_len, ret, "%s", xdp_err);
		if (ret) {
			log_warn("%s; falling back to tc mode", xdp_err);
			dp->mode = DP_MODE_TC;
		} else {
			dp->mode = DP_MODE_XDP;
		}
	} else if (mode == DP_MODE_XDP_GENERIC) {
		ret = attach_xdp(dp, XDP_FLAGS_SKB_MODE, err, err_len);
		if (ret)
			return ret;
	}
	if (dp->mode == DP_MODE_TC)
		detach_stale_xdp(dp);

	/* tc ingress: the whole path in tc mode; in XDP mode the slow path
	 * for packets XDP leaves alone (offloaded checksums). */
	ret = attach_tc(dp, BPF_TC_INGRESS,
			bpf_program__fd(s->progs.kanary_tc_ingress), err,
			err_len);
	if (ret)
		return ret;
	dp->tc_ingress_attached = true;
	ret =
	    attach_tc(dp, BPF_TC_EGRESS,
		      bpf_program__fd(s->progs.kanary_tc_egress), err, err_len);
	if (ret)
		return ret;
	dp->tc_egress_attached = true;
	log_info("attached to %s in %s mode (pins in %s)", dp->ifname,
		 dp_mode_name(dp->mode), dp->pin_dir);
	return 0;
}

static void detach_all(struct dataplane *dp)
{
	if (dp->xdp_attached) {
		LIBBPF_OPTS(bpf_xdp_attach_opts, opts,
			    .old_prog_fd = bpf_program__fd(
				dp->skel->progs.kanary_xdp_ingress));

		bpf_xdp_detach(dp->ifindex, dp->xdp_flags | XDP_FLAGS_REPLACE,
			       &opts);
		dp->xdp_attached = false;
	}
	if (dp->tc_ingress_attached)
		detach_tc(dp, BPF_TC_INGRESS);
	if (dp->tc_egress_attached)
		detach_tc(dp, BPF_TC_EGRESS);
	dp->tc_ingress_attached = dp->tc_egress_attached = false;
}

/* ---- open / close ------------------------------------------------------ */

static int sync_barrier(struct dataplane *dp)
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

int dp_open(const struct dp_options *opts, struct dataplane **out, char *err,
	    size_t err_len)
{
	struct dataplane *dp;
	int ret;

	*out = NULL;
	libbpf_set_print(libbpf_log);
	dp = calloc(1, sizeof(*dp));
	if (!dp)
		return set_err(err, err_len, -ENOMEM, "out of memory");
	dp->lock_fd = -1;
	dp->sync_inner_fd = -1;
	snprintf(dp->pin_dir, sizeof(dp->pin_dir), "%s",
		 opts->pin_dir ? opts->pin_dir : DP_DEFAULT_PIN_DIR);

	ret = check_privileges(err, err_len);
	if (ret)
		goto fail;
	if (opts->ifname) {
		if (strlen(opts->ifname) >= IF_NAMESIZE) {
			ret = set_err(err, err_len, -EINVAL,
				      "interface name '%s' is too long",
				      opts->ifname);
			goto fail;
		}
		snprintf(dp->ifname, sizeof(dp->ifname), "%s", opts->ifname);
		dp->ifindex = (int)if_nametoindex(opts->ifname);
		if (!dp->ifindex) {
			ret =
			    set_err(err, err_len, -ENODEV,
				    "interface '%s' not found in this network "
				    "namespace ('ip link show' lists them)",
				    opts->ifname);
			goto fail;
		}
	}
	ret = ensure_bpffs(dp->pin_dir, err, err_len);
	if (ret)
		goto fail;
	ret = lock_pin_dir(dp, err, err_len);
	if (ret)
		goto fail;
	{
		char probe[300];

		snprintf(probe, sizeof(probe), "%s/kn_services", dp->pin_dir);
		dp->pins_existed = access(probe, F_OK) == 0;
	}
	ret = load_programs(dp, opts, err, err_len);
	if (ret)
		goto fail;

	dp->services = calloc(dp->max_services, sizeof(*dp->services));
	ret = dp->services ? slots_init(&dp->slots, dp->max_backends) : -ENOMEM;
	if (ret) {
		set_err(err, err_len, ret, "out of memory");
		goto fail;
	}
	ret = adopt_services(dp);
	if (ret) {
		set_err(err, err_len, ret,
			"cannot read the services pinned in %s: %s",
			dp->pin_dir, strerror(-ret));
		goto fail;
	}
	/* A predecessor may have died between a flip and its barrier. */
	ret = sync_barrier(dp);
	if (ret) {
		set_err(err, err_len, ret,
			"cannot synchronize with the data "
			"path's programs");
		goto fail;
	}
	if (dp->ifindex) {
		ret = attach_all(dp, opts->mode, err, err_len);
		if (ret)
			goto fail;
	}
	ret = migrate_finish(dp, err, err_len);
	if (ret)
		goto fail;
	*out = dp;
	return 0;
fail:
	/* Leave a data path we found as we found it; remove one we made. */
	if (dp->pins_existed) {
		dp->xdp_attached = false;
		dp->tc_ingress_attached = dp->tc_egress_attached = false;
	}
	dp_close(dp, !dp->pins_existed);
	return ret;
}

static void unpin_all(struct dataplane *dp)
{
	struct bpf_map *map;

	bpf_object__for_each_map(map, dp->skel->obj)
	{
		if (bpf_map__is_pinned(map))
			bpf_map__unpin(map, NULL);
	}
	if (rmdir(dp->pin_dir) && errno != ENOENT)
		log_warn("cannot remove pin directory %s: %s", dp->pin_dir,
			 strerror(errno));
}

void dp_close(struct dataplane *dp, bool detach)
{
	if (!dp)
		return;
	if (dp->skel) {
		if (detach) {
			detach_all(dp);
			unpin_all(dp);
		}
		kanary_bpf__destroy(dp->skel);
	}
	if (dp->sync_inner_fd >= 0)
		close(dp->sync_inner_fd);
	for (int i = 0; i < dp->migration_count; i++)
		close(dp->migrations[i].old_fd);
	if (dp->lock_fd >= 0)
		close(dp->lock_fd);
	free(dp->services);
	free(dp->slots.queue);
	free(dp);
}

/* ---- accessors --------------------------------------------------------- */

enum dp_mode dp_active_mode(const struct dataplane *dp)
{
	return dp->mode;
}

const char *dp_pin_dir(const struct dataplane *dp)
{
	return dp->pin_dir;
}

const char *dp_ifname(const struct dataplane *dp)
{
	return dp->ifname;
}

uint32_t dp_max_services(const struct dataplane *dp)
{
	return dp->max_services;
}

uint32_t dp_max_flows(const struct dataplane *dp)
{
	return dp->max_flows;
}

uint32_t dp_adopted_services(const struct dataplane *dp)
{
	return dp->adopted;
}

int dp_prog_fd(const struct dataplane *dp, enum kn_hook hook)
{
	switch (hook) {
	case KN_HOOK_XDP_INGRESS:
		return bpf_program__fd(dp->skel->progs.kanary_xdp_ingress);
	case KN_HOOK_TC_INGRESS:
		return bpf_program__fd(dp->skel->progs.kanary_tc_ingress);
	case KN_HOOK_TC_EGRESS:
		return bpf_program__fd(dp->skel->progs.kanary_tc_egress);
	default:
		return -EINVAL;
	}
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

/* ---- programming services ---------------------------------------------- */

static uint32_t name_seed(const char *name)
{
	uint32_t h = FNV32_OFFSET;

	for (; *name; name++) {
		h ^= (uint8_t)*name;
		h *= FNV32_PRIME;
	}
	return h ? h : 1;
}

static void kernel_backend(struct kn_backend *kb, const struct dp_backend *db)
{
	memset(kb, 0, sizeof(*kb));
	kb->addr.w[0] = db->ep.addr.s_addr;
	kb->port = htons(db->ep.port);
	kb->family = KN_AF_INET;
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
	ret = sync_barrier(dp);
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
		slots_push(&dp->slots, fresh[i]);
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
				slots_push(&dp->slots, b->stats_index);
		}
	}
}

static int check_weight(uint32_t canary_bp, char *err, size_t err_len)
{
	if (canary_bp > KN_WEIGHT_SCALE_BP)
		return set_err(err, err_len, -EINVAL,
			       "canary weight %u bp is above 10000 (100 %%)",
			       canary_bp);
	return 0;
}

int dp_service_add(struct dataplane *dp, const struct dp_service_def *def,
		   uint32_t *index_out, char *err, size_t err_len)
{
	const struct endpoint *lists[KN_POOL_COUNT] = {def->stable,
						       def->canary};
	const uint32_t counts[KN_POOL_COUNT] = {def->stable_count,
						def->canary_count};
	struct kn_service_key key = {};
	struct kn_service value = {};
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
		release_departed(dp, svc, (struct dp_pool[KN_POOL_COUNT]){});
		memset(svc, 0, sizeof(*svc));
		return set_err(err, err_len, ret,
			       "cannot write service '%s' to the kernel: %s",
			       def->name, strerror(-ret));
	}
	key.vip.w[0] = def->vip.addr.s_addr;
	key.port = htons(def->vip.port);
	key.proto = def->proto;
	key.family = KN_AF_INET;
	value.index = svc->index;
	value.seed = svc->seed;
	value.flags = svc->flags;
	value.udp_idle_timeout_ms = svc->udp_idle_timeout_ms;
	memcpy(value.name, svc->name, sizeof(value.name));
	ret =
	    bpf_map__update_elem(dp->skel->maps.kn_services, &key, sizeof(key),
				 &value, sizeof(value), BPF_NOEXIST);
	if (ret) {
		release_departed(dp, svc, (struct dp_pool[KN_POOL_COUNT]){});
		memset(svc, 0, sizeof(*svc));
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
	struct kn_service_key key = {};
	struct dp_pool none[KN_POOL_COUNT] = {};
	int ret;

	if (!svc)
		return -ENOENT;
	key.vip.w[0] = svc->vip.addr.s_addr;
	key.port = htons(svc->vip.port);
	key.proto = svc->proto;
	key.family = KN_AF_INET;
	ret = bpf_map__delete_elem(dp->skel->maps.kn_services, &key,
				   sizeof(key), 0);
	if (ret && ret != -ENOENT)
		return ret;
	/* Programs that found the service may still read its slot. */
	sync_barrier(dp);
	release_departed(dp, svc, none);
	memset(svc, 0, sizeof(*svc));
	return 0;
}

/* ---- counters ---------------------------------------------------------- */

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
