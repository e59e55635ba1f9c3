/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * attach.c - hooks the loaded programs to the interface (native or generic
 * XDP plus tc ingress and egress, or tc alone) and removes them again; the
 * names of the attach modes.
 */
#include <errno.h>
#include <linux/if_link.h>
#include <string.h>
#include <unistd.h>

#include "datapath/datapath_internal.h"
#include "util/log.h"

/* tc filter identity: kanary's filters replace only themselves. */
#define DP_TC_HANDLE   0x4b4e
#define DP_TC_PRIORITY 1

/* Program names as the kernel keeps them (BPF_OBJ_NAME_LEN - 1 chars). */
#define DP_XDP_PROG_KERNEL_NAME "kanary_xdp_ingr"

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

int dp_attach_all(struct dataplane *dp, enum dp_mode mode, char *err,
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

void dp_detach_all(struct dataplane *dp)
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
