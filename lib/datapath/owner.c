/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * owner.c - who owns the interface's hooks: which program the XDP hook and
 * kanary's tc filters hold, and whether it is this data path's, another
 * kanary data path's (naming its pin directory) or something else's. Used
 * before attaching (attach.c refuses to replace another owner), by the
 * running agent every tick (dp_check_attached, dp_reattach) and by
 * 'kanaryd --remove' (dp_remove, which takes down only what its pin
 * directory owns).
 *
 * How a program's owner is known. Each kanaryd pins the programs it attached
 * in its pin directory (prog_xdp_ingress, prog_tc_ingress, prog_tc_egress),
 * beside its maps: a program belongs to the pin directory that pins it. The
 * kernel's answer, nothing recorded apart that could go stale when a
 * kanaryd is killed, and readable with the capabilities a running kanaryd
 * keeps (opening a pin needs no CAP_SYS_ADMIN, unlike opening a program by
 * its id). For a data path pinned by a kanaryd older than these pins, the
 * program's maps tell (bpf_prog_info.map_ids against the maps pinned in a
 * directory), which a kanaryd can read before it drops its capabilities.
 */
#include <dirent.h>
#include <errno.h>
#include <linux/if_link.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datapath/datapath_internal.h"
#include "util/log.h"
#include "util/names.h"

/* kanary's maps are all named kn_*; other pins in a directory are not ours
 * to look at. */
#define DP_MAP_NAME_PREFIX "kn_"
/* The pin that marks a directory as a kanary data path's. */
#define DP_MARKER_PIN "kn_services"
/* Where each hook's program is pinned, by enum kn_hook. */
static const char *const prog_pin_names[KN_HOOK_COUNT] = {
    [KN_HOOK_XDP_INGRESS] = "prog_xdp_ingress",
    [KN_HOOK_TC_INGRESS] = "prog_tc_ingress",
    [KN_HOOK_TC_EGRESS] = "prog_tc_egress",
};

/* More maps than any kanary program uses; the rest would be ignored. */
#define DP_PROG_MAPS_MAX 64
#define DP_DIR_MAPS_MAX	 64
/* Pin directories are searched this deep below the bpffs root
 * (/sys/fs/bpf/kanary is depth 1, /sys/fs/bpf/site/kanary depth 2). */
#define DP_OWNER_SEARCH_DEPTH 2

static const char *const hook_names[] = {
    [KN_HOOK_XDP_INGRESS] = "XDP",
    [KN_HOOK_TC_INGRESS] = "tc ingress",
    [KN_HOOK_TC_EGRESS] = "tc egress",
};

const char *dp_hook_name(enum kn_hook hook)
{
	return names_of(hook_names, NAMES_COUNT(hook_names), hook,
			"unknown hook");
}

int dp_hook_prog_id(int ifindex, enum kn_hook hook, __u32 *id,
		    __u32 *xdp_mode_flag)
{
	int ret;

	*id = 0;
	if (hook == KN_HOOK_XDP_INGRESS) {
		LIBBPF_OPTS(bpf_xdp_query_opts, query);

		ret = bpf_xdp_query(ifindex, 0, &query);
		if (ret)
			return ret;
		*id = query.prog_id;
		if (xdp_mode_flag)
			*xdp_mode_flag = query.attach_mode == XDP_ATTACHED_SKB
					     ? XDP_FLAGS_SKB_MODE
					     : XDP_FLAGS_DRV_MODE;
		return 0;
	}
	{
		LIBBPF_OPTS(bpf_tc_hook, tc_hook, .ifindex = ifindex,
			    .attach_point = hook == KN_HOOK_TC_INGRESS
						? BPF_TC_INGRESS
						: BPF_TC_EGRESS);
		LIBBPF_OPTS(bpf_tc_opts, opts, .handle = DP_TC_HANDLE,
			    .priority = DP_TC_PRIORITY);

		ret = bpf_tc_query(&tc_hook, &opts);
		/* No clsact qdisc or no filter at kanary's handle: empty. */
		if (ret == -ENOENT || ret == -EINVAL)
			return 0;
		if (ret)
			return ret;
		*id = opts.prog_id;
		return 0;
	}
}

/* The ids of the kn_* maps pinned in dir; returns how many. */
static size_t pinned_map_ids(const char *dir, __u32 *ids, size_t max)
{
	struct dirent *de;
	size_t n = 0;
	DIR *d = opendir(dir);

	if (!d)
		return 0;
	while ((de = readdir(d)) && n < max) {
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		char path[PATH_MAX];
		int fd;

		if (strncmp(de->d_name, DP_MAP_NAME_PREFIX,
			    strlen(DP_MAP_NAME_PREFIX)))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &info, &len) && info.id)
			ids[n++] = info.id;
		close(fd);
	}
	closedir(d);
	return n;
}

static bool ids_intersect(const __u32 *a, size_t na, const __u32 *b, size_t nb)
{
	size_t i, j;

	for (i = 0; i < na; i++)
		for (j = 0; j < nb; j++)
			if (a[i] == b[j])
				return true;
	return false;
}

/* The id and name of the program pinned as hook's in dir; 0 if none. */
static __u32 pinned_prog(const char *dir, enum kn_hook hook, char *name,
			 size_t name_len)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, prog_pin_names[hook]);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		info.id = 0;
	close(fd);
	snprintf(name, name_len, "%s", info.name);
	return info.id;
}

/* Does dir own program id (on hook): pinned there, or using its maps? */
static bool dir_owns(const char *dir, enum kn_hook hook, __u32 id, char *name,
		     size_t name_len, const __u32 *prog_maps, size_t n)
{
	__u32 ids[DP_DIR_MAPS_MAX];
	char pinned_name[BPF_OBJ_NAME_LEN];

	if (pinned_prog(dir, hook, pinned_name, sizeof(pinned_name)) == id) {
		snprintf(name, name_len, "%s", pinned_name);
		return true;
	}
	if (!n)
		return false;
	return ids_intersect(prog_maps, n, ids,
			     pinned_map_ids(dir, ids, DP_DIR_MAPS_MAX));
}

/* Searches the bpffs root for the kanary pin directory that owns the
 * program. */
static bool find_owner_dir(const char *dir, int depth, struct dp_holder *h,
			   const __u32 *prog_maps, size_t n)
{
	struct dirent *de;
	char marker[PATH_MAX];
	bool found = false;
	DIR *d;

	snprintf(marker, sizeof(marker), "%s/%s", dir, DP_MARKER_PIN);
	if (depth > 0 && !access(marker, F_OK) &&
	    dir_owns(dir, h->hook, h->prog_id, h->name, sizeof(h->name),
		     prog_maps, n)) {
		snprintf(h->pin_dir, sizeof(h->pin_dir), "%s", dir);
		return true;
	}
	if (depth >= DP_OWNER_SEARCH_DEPTH || !(d = opendir(dir)))
		return false;
	while (!found && (de = readdir(d))) {
		char sub[PATH_MAX];
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name);
		if (lstat(sub, &st) || !S_ISDIR(st.st_mode))
			continue;
		found = find_owner_dir(sub, depth + 1, h, prog_maps, n);
	}
	closedir(d);
	return found;
}

/* The program's name and the ids of the maps it uses. */
static int prog_identity(__u32 id, char *name, size_t name_len, __u32 *maps,
			 size_t *map_count)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id);
	int ret;

	*map_count = 0;
	if (fd < 0)
		return -errno;
	info.nr_map_ids = DP_PROG_MAPS_MAX;
	info.map_ids = (__u64)(unsigned long)maps;
	ret = bpf_obj_get_info_by_fd(fd, &info, &len);
	close(fd);
	if (ret)
		return ret;
	snprintf(name, name_len, "%s", info.name);
	*map_count = info.nr_map_ids < DP_PROG_MAPS_MAX ? info.nr_map_ids
							: DP_PROG_MAPS_MAX;
	return 0;
}

int dp_hook_holder(const char *pin_dir, int ifindex, enum kn_hook hook,
		   struct dp_holder *out)
{
	__u32 maps[DP_PROG_MAPS_MAX];
	char name[BPF_OBJ_NAME_LEN] = "";
	size_t n = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	out->hook = hook;
	ret =
	    dp_hook_prog_id(ifindex, hook, &out->prog_id, &out->xdp_mode_flag);
	if (ret)
		return ret;
	if (!out->prog_id) {
		out->kind = DP_HOLDER_NONE;
		return 0;
	}
	/* Name and maps by id need CAP_SYS_ADMIN (a starting kanaryd has
	 * it, a running one not): without them, the pins alone tell. */
	if (prog_identity(out->prog_id, name, sizeof(name), maps, &n))
		n = 0;
	snprintf(out->name, sizeof(out->name), "%s", name);
	if (pin_dir && dir_owns(pin_dir, hook, out->prog_id, out->name,
				sizeof(out->name), maps, n)) {
		out->kind = DP_HOLDER_SELF;
		snprintf(out->pin_dir, sizeof(out->pin_dir), "%s", pin_dir);
	} else if (find_owner_dir(DP_BPFFS_ROOT, 0, out, maps, n) ||
		   !strncmp(name, DP_PROG_NAME_PREFIX,
			    strlen(DP_PROG_NAME_PREFIX))) {
		out->kind = DP_HOLDER_KANARY;
	} else {
		out->kind = DP_HOLDER_FOREIGN;
	}
	return 0;
}

int dp_pin_programs(struct dataplane *dp)
{
	char path[PATH_MAX];
	int hook, ret = 0;

	for (hook = 0; hook < KN_HOOK_COUNT; hook++) {
		snprintf(path, sizeof(path), "%s/%s", dp->pin_dir,
			 prog_pin_names[hook]);
		if (unlink(path) && errno != ENOENT)
			ret = ret ?: -errno;
		if (hook == KN_HOOK_XDP_INGRESS && !dp->xdp_attached)
			continue;
		if (bpf_obj_pin(dp_prog_fd(dp, hook), path))
			ret = ret ?: -errno;
	}
	if (ret)
		log_warn("cannot pin the attached programs in %s (%s): other "
			 "kanaryds will not be able to name this one",
			 dp->pin_dir, strerror(-ret));
	return ret;
}

void dp_unpin_programs(const char *pin_dir)
{
	char path[PATH_MAX];
	int hook;

	for (hook = 0; hook < KN_HOOK_COUNT; hook++) {
		snprintf(path, sizeof(path), "%s/%s", pin_dir,
			 prog_pin_names[hook]);
		if (unlink(path) && errno != ENOENT)
			log_warn("cannot unpin %s: %s", path, strerror(errno));
	}
}

const char *dp_holder_describe(const struct dp_holder *h, char *buf, size_t len)
{
	switch (h->kind) {
	case DP_HOLDER_NONE:
		snprintf(buf, len, "%s: nothing attached",
			 dp_hook_name(h->hook));
		break;
	case DP_HOLDER_SELF:
	case DP_HOLDER_KANARY:
		if (h->pin_dir[0])
			snprintf(buf, len,
				 "%s: program '%s' (id %u) of the kanary data "
				 "path pinned in %s",
				 dp_hook_name(h->hook), h->name, h->prog_id,
				 h->pin_dir);
		else
			snprintf(buf, len,
				 "%s: program '%s' (id %u) of a kanary data "
				 "path whose pin directory was not found under "
				 "%s",
				 dp_hook_name(h->hook), h->name, h->prog_id,
				 DP_BPFFS_ROOT);
		break;
	case DP_HOLDER_FOREIGN:
		if (h->name[0])
			snprintf(buf, len,
				 "%s: program '%s' (id %u), not kanary's",
				 dp_hook_name(h->hook), h->name, h->prog_id);
		else
			snprintf(buf, len,
				 "%s: program id %u, not pinned by any kanary "
				 "data path under %s",
				 dp_hook_name(h->hook), h->prog_id,
				 DP_BPFFS_ROOT);
		break;
	}
	return buf;
}

/* ---- the running data path: still attached? ------------------------------ */

/* The hooks this data path attached to. */
static bool hook_used(const struct dataplane *dp, enum kn_hook hook)
{
	if (hook == KN_HOOK_XDP_INGRESS)
		return dp->mode == DP_MODE_XDP ||
		       dp->mode == DP_MODE_XDP_GENERIC;
	return true;
}

__u32 dp_own_prog_id(const struct dataplane *dp, enum kn_hook hook)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(dp_prog_fd(dp, hook), &info, &len))
		return 0;
	return info.id;
}

static void append(char *buf, size_t len, const char *text)
{
	size_t used = strlen(buf);

	if (used < len)
		snprintf(buf + used, len - used, "%s%s", used ? "; " : "",
			 text);
}

int dp_check_attached(struct dataplane *dp, struct dp_attach_check *out)
{
	char detail[DP_ERR_LEN] = "";
	bool attached = true;
	int hook;

	memset(out, 0, sizeof(*out));
	if (!dp->ifindex) {
		out->attached = true;
		return 0;
	}
	for (hook = 0; hook < KN_HOOK_COUNT; hook++) {
		struct dp_holder h;
		char text[DP_ERR_LEN];
		int ret;

		if (!hook_used(dp, hook))
			continue;
		ret = dp_hook_holder(dp->pin_dir, dp->ifindex, hook, &h);
		if (ret) {
			snprintf(text, sizeof(text), "%s: cannot read it: %s",
				 dp_hook_name(hook), strerror(-ret));
			append(detail, sizeof(detail), text);
			attached = false;
			continue;
		}
		if (h.prog_id && h.prog_id == dp_own_prog_id(dp, hook))
			continue;
		attached = false;
		append(detail, sizeof(detail),
		       dp_holder_describe(&h, text, sizeof(text)));
	}
	out->attached = attached;
	snprintf(out->detail, sizeof(out->detail), "%s", detail);
	out->changed = attached != dp->attached ||
		       strcmp(detail, dp->detached_detail) != 0;
	dp->attached = attached;
	snprintf(dp->detached_detail, sizeof(dp->detached_detail), "%s",
		 detail);
	return 0;
}

bool dp_is_attached(const struct dataplane *dp)
{
	/* Without an interface there is nothing to be detached from. */
	return !dp->ifindex || dp->attached;
}

const char *dp_detached_detail(const struct dataplane *dp)
{
	return dp_is_attached(dp) ? "" : dp->detached_detail;
}

int dp_reattach(struct dataplane *dp, char *err, size_t err_len)
{
	struct dp_holder held[KN_HOOK_COUNT];
	char text[DP_ERR_LEN];
	int hook, ret;

	/* All or nothing: a hook another owner holds means that owner took
	 * the interface (--takeover); kanary does not fight over it. */
	for (hook = 0; hook < KN_HOOK_COUNT; hook++) {
		if (!hook_used(dp, hook))
			continue;
		ret =
		    dp_hook_holder(dp->pin_dir, dp->ifindex, hook, &held[hook]);
		if (ret)
			return set_err(err, err_len, ret,
				       "cannot read the %s hook of %s: %s",
				       dp_hook_name(hook), dp->ifname,
				       strerror(-ret));
		if (held[hook].prog_id &&
		    held[hook].prog_id != dp_own_prog_id(dp, hook))
			return set_err(
			    err, err_len, -EBUSY,
			    "not re-attaching to %s: %s holds it now; stop "
			    "that, or restart this kanaryd with --takeover",
			    dp->ifname,
			    dp_holder_describe(&held[hook], text,
					       sizeof(text)));
	}
	for (hook = 0; hook < KN_HOOK_COUNT; hook++) {
		if (!hook_used(dp, hook) || held[hook].prog_id)
			continue;
		ret = dp_attach_hook(dp, hook, err, err_len);
		if (ret)
			return ret;
	}
	return 0;
}

/* ---- --remove: only what this pin directory owns ------------------------ */

static void unpin_maps(const char *pin_dir)
{
	struct kanary_bpf *skel = kanary_bpf__open();
	struct bpf_map *map;
	char path[PATH_MAX];

	/* The map names come from this build's object: nothing else in the
	 * directory is unlinked, whatever --pin-dir names. */
	if (skel) {
		bpf_object__for_each_map(map, skel->obj)
		{
			snprintf(path, sizeof(path), "%s/%s", pin_dir,
				 bpf_map__name(map));
			if (unlink(path) && errno != ENOENT)
				log_warn("cannot unpin %s: %s", path,
					 strerror(errno));
		}
		kanary_bpf__destroy(skel);
	}
	dp_unpin_programs(pin_dir);
	if (rmdir(pin_dir) && errno != ENOENT)
		log_warn("cannot remove pin directory %s: %s", pin_dir,
			 strerror(errno));
}

static int detach_owned(int ifindex, const struct dp_holder *h)
{
	if (h->hook == KN_HOOK_XDP_INGRESS) {
		int fd = bpf_prog_get_fd_by_id(h->prog_id);
		LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = fd);
		int ret;

		if (fd < 0)
			return -errno;
		/* REPLACE: only if that program is still the one there. */
		ret = bpf_xdp_detach(
		    ifindex, h->xdp_mode_flag | XDP_FLAGS_REPLACE, &opts);
		close(fd);
		return ret;
	}
	return dp_detach_tc_if(ifindex, h->hook, h->prog_id);
}

int dp_remove(const struct dp_options *opts, unsigned int *detached, char *err,
	      size_t err_len)
{
	const char *pin_dir =
	    opts->pin_dir ? opts->pin_dir : DP_DEFAULT_PIN_DIR;
	char marker[PATH_MAX], others[DP_ERR_LEN] = "", text[DP_ERR_LEN];
	struct dataplane *dp;
	int ifindex = 0, hook, ret;

	*detached = 0;
	ret = dp_check_privileges(err, err_len);
	if (ret)
		return ret;
	if (opts->ifname) {
		ifindex = (int)if_nametoindex(opts->ifname);
		if (!ifindex)
			log_info("interface '%s' is not in this network "
				 "namespace: nothing to detach there",
				 opts->ifname);
	}
	snprintf(marker, sizeof(marker), "%s/%s", pin_dir, DP_MARKER_PIN);
	if (access(marker, F_OK)) {
		/* Say whose programs the interface runs, if kanary's. */
		for (hook = 0; ifindex && hook < KN_HOOK_COUNT; hook++) {
			struct dp_holder h;

			if (!dp_hook_holder(NULL, ifindex, hook, &h) &&
			    h.kind == DP_HOLDER_KANARY)
				append(
				    others, sizeof(others),
				    dp_holder_describe(&h, text, sizeof(text)));
		}
		return set_err(
		    err, err_len, -ENOENT,
		    "nothing removed: no kanary data path is "
		    "pinned in %s%s%s",
		    pin_dir, others[0] ? "; the interface runs another: " : "",
		    others);
	}
	dp = calloc(1, sizeof(*dp));
	if (!dp)
		return set_err(err, err_len, -ENOMEM, "out of memory");
	dp->lock_fd = -1;
	snprintf(dp->pin_dir, sizeof(dp->pin_dir), "%s", pin_dir);
	ret = dp_lock_pin_dir(dp, err, err_len);
	if (ret)
		goto out;
	for (hook = 0; ifindex && hook < KN_HOOK_COUNT; hook++) {
		struct dp_holder h;

		if (dp_hook_holder(pin_dir, ifindex, hook, &h) ||
		    h.kind == DP_HOLDER_NONE)
			continue;
		if (h.kind != DP_HOLDER_SELF) {
			log_info("left alone on %s: %s", opts->ifname,
				 dp_holder_describe(&h, text, sizeof(text)));
			continue;
		}
		ret = detach_owned(ifindex, &h);
		if (ret) {
			set_err(err, err_len, ret,
				"cannot detach the %s program (id %u) from %s: "
				"%s",
				dp_hook_name(hook), h.prog_id, opts->ifname,
				strerror(-ret));
			goto out;
		}
		(*detached)++;
	}
	unpin_maps(pin_dir);
out:
	if (dp->lock_fd >= 0)
		close(dp->lock_fd);
	free(dp);
	return ret;
}
