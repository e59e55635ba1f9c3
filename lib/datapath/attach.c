/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * attach.c - hooks the loaded programs to the interface (native or generic
 * XDP plus tc ingress and egress, or tc alone) after checking that nothing
 * it would replace belongs to another owner (unless --takeover), and
 * removes them again, only where they are still its own; the names of the
 * attach modes.
 */
#include <errno.h>
#include <linux/if_link.h>
#include <string.h>
#include <unistd.h>

#include "datapath/datapath_internal.h"
#include "util/log.h"
#include "util/names.h"

static const char *const mode_names[] = {
    [DP_MODE_AUTO] = "auto",
    [DP_MODE_XDP] = "xdp",
    [DP_MODE_XDP_GENERIC] = "xdp-generic",
    [DP_MODE_TC] = "tc",
};

const char *dp_mode_name(enum dp_mode mode)
{
	return names_of(mode_names, NAMES_COUNT(mode_names), mode, "unknown");
}

int dp_parse_mode(const char *text, enum dp_mode *out)
{
	size_t mode;
	int ret = names_find(mode_names, NAMES_COUNT(mode_names), text, &mode);

	if (!ret)
		*out = (enum dp_mode)mode;
	return ret;
}

/* ---- who may be replaced ------------------------------------------------- */

/*
 * Reads every hook before anything is attached. A program of another kanary
 * data path is refused, and so is anything else at kanary's tc handle; a
 * foreign XDP program is refused in the XDP modes, and in auto mode kanary
 * falls back to tc beside it (then xdp_blocked is set, the reason in
 * xdp_err). --takeover replaces them all, saying what it replaces.
 */
static int check_hooks(struct dataplane *dp, enum dp_mode mode,
		       struct dp_holder held[KN_HOOK_COUNT], bool *xdp_blocked,
		       char *xdp_err, size_t xdp_err_len, char *err,
		       size_t err_len)
{
	char text[DP_ERR_LEN];
	int hook, ret;

	*xdp_blocked = false;
	for (hook = 0; hook < KN_HOOK_COUNT; hook++) {
		struct dp_holder *h = &held[hook];
		bool is_xdp = hook == KN_HOOK_XDP_INGRESS;

		ret = dp_hook_holder(dp->pin_dir, dp->ifindex, hook, h);
		if (ret)
			return set_err(err, err_len, ret,
				       "cannot read what the %s hook of %s "
				       "holds: %s",
				       dp_hook_name(hook), dp->ifname,
				       strerror(-ret));
		if (h->kind == DP_HOLDER_NONE || h->kind == DP_HOLDER_SELF)
			continue;
		dp_holder_describe(h, text, sizeof(text));
		if (dp->takeover) {
			if (!is_xdp || mode != DP_MODE_TC ||
			    h->kind == DP_HOLDER_KANARY)
				log_warn("--takeover: replacing on %s what "
					 "another owner attached: %s",
					 dp->ifname, text);
			continue;
		}
		if (h->kind == DP_HOLDER_KANARY)
			return set_err(
			    err, err_len, -EBUSY,
			    "interface %s is in use by another kanaryd: %s. "
			    "Stop that kanaryd first (its data path is "
			    "removed with 'kanaryd --iface %s --remove "
			    "--pin-dir ITS_DIR'), or start this one with "
			    "--takeover to replace it",
			    dp->ifname, text, dp->ifname);
		if (!is_xdp)
			return set_err(
			    err, err_len, -EBUSY,
			    "interface %s has a tc filter at kanary's handle "
			    "and priority that is not kanary's (%s): kanary "
			    "will not replace it; remove it, or pass "
			    "--takeover to replace it",
			    dp->ifname, text);
		snprintf(xdp_err, xdp_err_len,
			 "interface %s already runs XDP program '%s' (id %u): "
			 "kanary will not replace it; remove it or use --mode "
			 "tc",
			 dp->ifname, h->name, h->prog_id);
		if (mode == DP_MODE_XDP || mode == DP_MODE_XDP_GENERIC)
			return set_err(err, err_len, -EBUSY,
				       "%s, or pass --takeover to replace it",
				       xdp_err);
		*xdp_blocked = mode == DP_MODE_AUTO;
	}
	return 0;
}

/* ---- attaching --------------------------------------------------------- */

static int attach_xdp(struct dataplane *dp, __u32 mode_flag,
		      const struct dp_holder *held, char *err, size_t err_len)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, opts);
	int prog_fd = bpf_program__fd(dp->skel->progs.kanary_xdp_ingress);
	int old_fd = -1;
	int ret;

	if (held->prog_id) {
		/* Replace in place, so that no packet finds the interface
		 * without a program. */
		if (held->xdp_mode_flag == mode_flag)
			old_fd = bpf_prog_get_fd_by_id(held->prog_id);
		if (old_fd >= 0)
			opts.old_prog_fd = old_fd;
		else
			bpf_xdp_detach(dp->ifindex, held->xdp_mode_flag, NULL);
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

static enum bpf_tc_attach_point tc_point(enum kn_hook hook)
{
	return hook == KN_HOOK_TC_INGRESS ? BPF_TC_INGRESS : BPF_TC_EGRESS;
}

/* replace: take kanary's handle over from whatever holds it; otherwise
 * fail with -EEXIST when something does. */
static int attach_tc(struct dataplane *dp, enum kn_hook hook, bool replace,
		     char *err, size_t err_len)
{
	LIBBPF_OPTS(bpf_tc_hook, tc_hook, .ifindex = dp->ifindex,
		    .attach_point = tc_point(hook));
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = DP_TC_HANDLE,
		    .priority = DP_TC_PRIORITY, .prog_fd = dp_prog_fd(dp, hook),
		    .flags = replace ? BPF_TC_F_REPLACE : 0);
	int ret;

	ret = bpf_tc_hook_create(&tc_hook);
	if (ret && ret != -EEXIST)
		return set_err(err, err_len, ret,
			       "cannot add the clsact qdisc to %s: %s",
			       dp->ifname, strerror(-ret));
	ret = bpf_tc_attach(&tc_hook, &opts);
	if (ret)
		return set_err(err, err_len, ret,
			       "cannot attach the tc %s program to %s: %s",
			       hook == KN_HOOK_TC_INGRESS ? "ingress"
							  : "egress",
			       dp->ifname, strerror(-ret));
	if (hook == KN_HOOK_TC_INGRESS)
		dp->tc_ingress_attached = true;
	else
		dp->tc_egress_attached = true;
	return 0;
}

int dp_detach_tc_if(int ifindex, enum kn_hook hook, __u32 prog_id)
{
	LIBBPF_OPTS(bpf_tc_hook, tc_hook, .ifindex = ifindex,
		    .attach_point = tc_point(hook));
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = DP_TC_HANDLE,
		    .priority = DP_TC_PRIORITY);
	__u32 id;
	int ret;

	/* tc has no "detach if still this program": check, then detach. */
	ret = dp_hook_prog_id(ifindex, hook, &id, NULL);
	if (ret || !id || id != prog_id)
		return ret;
	return bpf_tc_detach(&tc_hook, &opts);
}

/* Removes the XDP program of an earlier run of this data path, or with
 * --takeover another kanaryd's, when this run uses tc alone. */
static void detach_stale_xdp(struct dataplane *dp, const struct dp_holder *held)
{
	int fd;

	if (held->kind != DP_HOLDER_SELF &&
	    !(held->kind == DP_HOLDER_KANARY && dp->takeover))
		return;
	fd = bpf_prog_get_fd_by_id(held->prog_id);
	if (fd < 0)
		return;
	{
		LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = fd);

		if (!bpf_xdp_detach(dp->ifindex,
				    held->xdp_mode_flag | XDP_FLAGS_REPLACE,
				    &opts))
			log_info("removed the XDP program of an earlier "
				 "kanary from %s",
				 dp->ifname);
	}
	close(fd);
}

int dp_attach_all(struct dataplane *dp, enum dp_mode mode, char *err,
		  size_t err_len)
{
	struct dp_holder held[KN_HOOK_COUNT];
	char xdp_err[DP_ERR_LEN];
	bool xdp_blocked;
	int ret;

	ret = check_hooks(dp, mode, held, &xdp_blocked, xdp_err,
			  sizeof(xdp_err), err, err_len);
	if (ret)
		return ret;
	dp->mode = mode;
	if (mode == DP_MODE_AUTO || mode == DP_MODE_XDP) {
		ret = xdp_blocked ? -EBUSY
				  : attach_xdp(dp, XDP_FLAGS_DRV_MODE,
					       &held[KN_HOOK_XDP_INGRESS],
					       xdp_err, sizeof(xdp_err));
		if (ret && mode == DP_MODE_XDP)
			return set_err(err, err_len, ret, "%s", xdp_err);
		if (ret) {
			log_warn("%s; falling back to tc mode", xdp_err);
			dp->mode = DP_MODE_TC;
		} else {
			dp->mode = DP_MODE_XDP;
		}
	} else if (mode == DP_MODE_XDP_GENERIC) {
		ret = attach_xdp(dp, XDP_FLAGS_SKB_MODE,
				 &held[KN_HOOK_XDP_INGRESS], err, err_len);
		if (ret)
			return ret;
	}
	if (dp->mode == DP_MODE_TC)
		detach_stale_xdp(dp, &held[KN_HOOK_XDP_INGRESS]);

	/* tc ingress: the whole path in tc mode; in XDP mode the slow path
	 * for packets XDP leaves alone (offloaded checksums). What holds
	 * kanary's handle was checked above: replacing it is allowed. */
	ret = attach_tc(dp, KN_HOOK_TC_INGRESS, true, err, err_len);
	if (ret)
		return ret;
	ret = attach_tc(dp, KN_HOOK_TC_EGRESS, true, err, err_len);
	if (ret)
		return ret;
	dp_pin_programs(dp);
	dp->attached = true;
	dp->detached_detail[0] = '\0';
	log_info("attached to %s in %s mode (pins in %s), forward: %s",
		 dp->ifname, dp_mode_name(dp->mode), dp->pin_dir,
		 dp_forward_name(dp_forward_mode(dp)));
	return 0;
}

int dp_attach_hook(struct dataplane *dp, enum kn_hook hook, char *err,
		   size_t err_len)
{
	int ret;

	if (hook != KN_HOOK_XDP_INGRESS)
		return attach_tc(dp, hook, false, err, err_len);
	/* UPDATE_IF_NOEXIST: a program attached meanwhile stays. */
	ret = bpf_xdp_attach(dp->ifindex, dp_prog_fd(dp, hook),
			     dp->xdp_flags | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
	if (ret)
		return set_err(err, err_len, ret,
			       "cannot attach XDP to %s again: %s", dp->ifname,
			       strerror(-ret));
	dp->xdp_attached = true;
	return 0;
}

void dp_detach_all(struct dataplane *dp)
{
	__u32 xdp_id = 0;

	if (dp->xdp_attached &&
	    !dp_hook_prog_id(dp->ifindex, KN_HOOK_XDP_INGRESS, &xdp_id, NULL) &&
	    xdp_id && xdp_id == dp_own_prog_id(dp, KN_HOOK_XDP_INGRESS)) {
		LIBBPF_OPTS(bpf_xdp_attach_opts, opts,
			    .old_prog_fd = bpf_program__fd(
				dp->skel->progs.kanary_xdp_ingress));

		/* REPLACE: only if our program is still the one there. */
		bpf_xdp_detach(dp->ifindex, dp->xdp_flags | XDP_FLAGS_REPLACE,
			       &opts);
	}
	dp->xdp_attached = false;
	if (dp->tc_ingress_attached)
		dp_detach_tc_if(dp->ifindex, KN_HOOK_TC_INGRESS,
				dp_own_prog_id(dp, KN_HOOK_TC_INGRESS));
	if (dp->tc_egress_attached)
		dp_detach_tc_if(dp->ifindex, KN_HOOK_TC_EGRESS,
				dp_own_prog_id(dp, KN_HOOK_TC_EGRESS));
	dp->tc_ingress_attached = dp->tc_egress_attached = false;
}
