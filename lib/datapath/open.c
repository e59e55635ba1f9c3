/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * open.c - opens the data path: checks privileges and the interface, mounts
 * bpffs when missing, locks the pin directory, loads the programs reusing
 * pinned maps (migrating those whose layout this build changed), adopts the
 * services they hold, and closes it again (dp_open, dp_close, accessors).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "datapath/datapath_internal.h"
#include "util/log.h"

#define CAP_NET_ADMIN_BIT 12
#define CAP_SYS_ADMIN_BIT 21
#define CAP_BPF_BIT	  39

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
	/* The clsact qdisc existing already is what we want, not a problem;
	 * asking what a missing qdisc or filter holds is not one either. */
	if (strstr(line, "Exclusivity flag on") ||
	    strstr(line, "Parent Qdisc doesn't exist") ||
	    strstr(line, "Filter with specified priority/protocol not found") ||
	    strstr(line, "Cannot find specified filter chain"))
		level = LIBBPF_DEBUG;
	if (level == LIBBPF_WARN)
		log_warn("libbpf: %s", line);
	else
		log_debug("libbpf: %s", line);
	return 0;
}

/* ---- checks before anything is loaded --------------------------------- */

int dp_check_privileges(char *err, size_t err_len)
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

/* Takes the pin directory's lock on fd, or says who holds it. */
static int flock_pin_dir(int fd, const char *pin_dir, char *err, size_t err_len)
{
	struct stat st;
	long pid = 0;

	if (!flock(fd, LOCK_EX | LOCK_NB))
		return 0;
	if (!fstat(fd, &st))
		pid = lock_holder_pid(st.st_ino);
	if (pid > 0)
		return set_err(err, err_len, -EBUSY,
			       "another kanaryd (pid %ld) owns %s: stop "
			       "it first, or give this one its own "
			       "--pin-dir",
			       pid, pin_dir);
	return set_err(err, err_len, -EBUSY,
		       "another kanaryd owns %s: stop it first, or give "
		       "this one its own --pin-dir",
		       pin_dir);
}

int dp_lock_pin_dir(struct dataplane *dp, char *err, size_t err_len)
{
	if (mkdir(dp->pin_dir, 0700) && errno != EEXIST)
		return set_err(err, err_len, -errno,
			       "cannot create pin directory %s: %s",
			       dp->pin_dir, strerror(errno));
	dp->lock_fd = open(dp->pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dp->lock_fd < 0)
		return set_err(err, err_len, -errno,
			       "cannot open pin directory %s: %s", dp->pin_dir,
			       strerror(errno));
	return flock_pin_dir(dp->lock_fd, dp->pin_dir, err, err_len);
}

static int check_iface(const char *ifname, int *ifindex, char *err,
		       size_t err_len)
{
	if (strlen(ifname) >= IF_NAMESIZE)
		return set_err(err, err_len, -EINVAL,
			       "interface name '%s' is too long", ifname);
	*ifindex = (int)if_nametoindex(ifname);
	if (!*ifindex)
		return set_err(err, err_len, -ENODEV,
			       "interface '%s' not found in this network "
			       "namespace ('ip link show' lists them)",
			       ifname);
	return 0;
}

int dp_check_options(const struct dp_options *opts, char *err, size_t err_len)
{
	const char *pin_dir =
	    opts->pin_dir ? opts->pin_dir : DP_DEFAULT_PIN_DIR;
	int ifindex, fd, ret;

	ret = dp_check_privileges(err, err_len);
	if (!ret && opts->ifname)
		ret = check_iface(opts->ifname, &ifindex, err, err_len);
	if (!ret)
		ret = ensure_bpffs(pin_dir, err, err_len);
	if (ret)
		return ret;
	/* The lock is tried and let go: dp_open takes it for good. */
	fd = open(pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ret = flock_pin_dir(fd, pin_dir, err, err_len);
	close(fd);
	return ret;
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

/* The table sizes: asked for, else the defaults; a pinned map keeps its. */
static void choose_map_sizes(struct dataplane *dp,
			     const struct dp_options *opts)
{
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
}

/* Sizes the skeleton's maps as chosen, before the load. */
static int size_maps(struct dataplane *dp)
{
	struct kanary_bpf *s = dp->skel;
	/* Each sized map and its entries: flows and their replies, services
	 * (two config slots each), backend counters. */
	const struct {
		struct bpf_map *map;
		uint32_t entries;
	} sizes[] = {
	    {s->maps.kn_flows, dp->max_flows},
	    {s->maps.kn_replies, dp->max_flows},
	    {s->maps.kn_services, dp->max_services},
	    {s->maps.kn_weights, dp->max_services},
	    {s->maps.kn_service_gens, dp->max_services},
	    {s->maps.kn_configs, 2 * dp->max_services},
	    {s->maps.kn_service_ctr, dp->max_services},
	    {s->maps.kn_client_seen, dp->max_services},
	    {s->maps.kn_backend_ctr, dp->max_backends},
	    {s->maps.kn_latency, dp->max_backends},
	    {s->maps.kn_response_timing, dp->max_backends},
	};
	size_t i;
	int err = 0;

	for (i = 0; !err && i < sizeof(sizes) / sizeof(sizes[0]); i++)
		err = bpf_map__set_max_entries(sizes[i].map, sizes[i].entries);
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

/*
 * The backends' filter (kn_backend_filter) when no agent pinned one yet:
 * created unpinned, and pinned by backend_filter_finish once it holds the
 * bits of every backend in kn_replies. An agent that dies in between
 * leaves no pin, and the next one fills a filter anew: a pinned filter is
 * always a whole one, which the next agent adopts as it is.
 */
static void backend_filter_hold_pin(struct dataplane *dp)
{
	char path[320];

	snprintf(path, sizeof(path), "%s/kn_backend_filter", dp->pin_dir);
	dp->backend_filter_new = access(path, F_OK) != 0;
	if (dp->backend_filter_new)
		bpf_map__set_pin_path(dp->skel->maps.kn_backend_filter, NULL);
}

/* After the adopted services set their backends' bits, before attaching:
 * a new filter gets the bits of the flows older programs recorded (pins
 * from before the filter), then its pin. */
static int backend_filter_finish(struct dataplane *dp, char *err,
				 size_t err_len)
{
	char path[320];
	int ret;

	if (!dp->backend_filter_new)
		return 0;
	ret = dp_backend_filter_fill(dp);
	if (ret)
		return set_err(err, err_len, ret,
			       "cannot fill kn_backend_filter from the "
			       "replies pinned in %s: %s",
			       dp->pin_dir, strerror(-ret));
	snprintf(path, sizeof(path), "%s/kn_backend_filter", dp->pin_dir);
	ret = bpf_map__pin(dp->skel->maps.kn_backend_filter, path);
	if (ret)
		return set_err(err, err_len, ret, "cannot pin %s: %s", path,
			       strerror(-ret));
	dp->backend_filter_new = false;
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
	choose_map_sizes(dp, opts);
	ret = size_maps(dp);
	if (ret)
		return set_err(err, err_len, ret, "cannot size the maps: %s",
			       strerror(-ret));
	set_timeouts(dp, opts);
	dp->skel->rodata->kn_forward_mode = opts->forward;
	ret = find_changed_pins(dp, err, err_len);
	if (ret)
		return ret;
	backend_filter_hold_pin(dp);
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

/* ---- adoption of a running data path ----------------------------------- */

static void endpoint_from_kernel(struct endpoint *ep, const struct kn_addr *a,
				 __u8 family, __u16 port_be)
{
	dp_addr_from_kernel(ep, a, family);
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
		endpoint_from_kernel(&svc->vip, &key.vip, key.family, key.port);
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
						     kb->family, kb->port);
				db->stats_index = kb->stats_index;
				db->down = kb->flags & KN_BACKEND_F_DOWN;
				if (kb->stats_index < dp->max_backends)
					used[kb->stats_index] = true;
			}
		}
		ret = dp_service_adopt_trust(dp, svc, config);
		if (ret)
			goto cleanup;
		dp->adopted++;
		log_info("adopted service '%s' (%u stable, %u canary, weight "
			 "%u.%02u %%)",
			 svc->name, svc->pools[KN_POOL_STABLE].count,
			 svc->pools[KN_POOL_CANARY].count, svc->canary_bp / 100,
			 svc->canary_bp % 100);
	}
	for (i = 0; i < dp->max_backends; i++)
		if (!used[i])
			dp_slots_push(&dp->slots, i);
cleanup:
	free(config);
	free(used);
	return ret;
}

/* ---- open / close ------------------------------------------------------ */

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
	dp->takeover = opts->takeover;
	snprintf(dp->pin_dir, sizeof(dp->pin_dir), "%s",
		 opts->pin_dir ? opts->pin_dir : DP_DEFAULT_PIN_DIR);

	ret = dp_check_privileges(err, err_len);
	if (ret)
		goto fail;
	if (opts->ifname) {
		ret = check_iface(opts->ifname, &dp->ifindex, err, err_len);
		if (ret)
			goto fail;
		snprintf(dp->ifname, sizeof(dp->ifname), "%s", opts->ifname);
	}
	ret = ensure_bpffs(dp->pin_dir, err, err_len);
	if (ret)
		goto fail;
	ret = dp_lock_pin_dir(dp, err, err_len);
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
	ret = dp->services ? dp_slots_init(&dp->slots, dp->max_backends)
			   : -ENOMEM;
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
	ret = backend_filter_finish(dp, err, err_len);
	if (ret)
		goto fail;
	/* A predecessor may have died between a flip and its barrier. */
	ret = dp_sync_barrier(dp);
	if (ret) {
		set_err(err, err_len, ret,
			"cannot synchronize with the data "
			"path's programs");
		goto fail;
	}
	if (dp->ifindex) {
		ret = dp_attach_all(dp, opts->mode, err, err_len);
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
	dp_unpin_programs(dp->pin_dir);
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
			dp_detach_all(dp);
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
