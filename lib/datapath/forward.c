/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * forward.c - the forwarding fast path from user space: the names of the
 * modes ("stack", "redirect"), the mode the loaded programs run and their
 * counters (bpf/kanary_forward.h, docs/forwarding.md).
 */
#include <errno.h>
#include <string.h>

#include "datapath/datapath_internal.h"
#include "util/names.h"

static const char *const forward_names[] = {
    [KN_FORWARD_STACK] = "stack",
    [KN_FORWARD_REDIRECT] = "redirect",
};

/* Each result's labels in kanary_forward_total: what happened, and why. */
static const char *const result_names[KN_FWD_COUNT] = {
    [KN_FWD_REDIRECTED] = "redirected",
    [KN_FWD_REDIRECTED_NEIGH] = "redirected",
    [KN_FWD_XDP_TO_TC] = "fallback",
    [KN_FWD_NO_NEIGH] = "fallback",
    [KN_FWD_FRAG_NEEDED] = "fallback",
    [KN_FWD_BLACKHOLE] = "fallback",
    [KN_FWD_UNREACHABLE] = "fallback",
    [KN_FWD_PROHIBIT] = "fallback",
    [KN_FWD_NOT_FORWARDED] = "fallback",
    [KN_FWD_FWD_DISABLED] = "fallback",
    [KN_FWD_UNSUPPORTED] = "fallback",
    [KN_FWD_TTL] = "fallback",
    [KN_FWD_FAILED] = "fallback",
};

static const char *const reason_names[KN_FWD_COUNT] = {
    [KN_FWD_REDIRECTED] = "fib",
    [KN_FWD_REDIRECTED_NEIGH] = "neigh",
    [KN_FWD_XDP_TO_TC] = "xdp_to_tc",
    [KN_FWD_NO_NEIGH] = "no_neigh",
    [KN_FWD_FRAG_NEEDED] = "frag_needed",
    [KN_FWD_BLACKHOLE] = "blackhole",
    [KN_FWD_UNREACHABLE] = "unreachable",
    [KN_FWD_PROHIBIT] = "prohibit",
    [KN_FWD_NOT_FORWARDED] = "not_forwarded",
    [KN_FWD_FWD_DISABLED] = "forwarding_disabled",
    [KN_FWD_UNSUPPORTED] = "unsupported",
    [KN_FWD_TTL] = "ttl",
    [KN_FWD_FAILED] = "helper_failed",
};

const char *dp_forward_name(enum kn_forward_mode mode)
{
	return names_of(forward_names, NAMES_COUNT(forward_names), mode,
			"unknown");
}

int dp_parse_forward(const char *text, enum kn_forward_mode *out)
{
	size_t mode;
	int ret =
	    names_find(forward_names, NAMES_COUNT(forward_names), text, &mode);

	if (!ret)
		*out = (enum kn_forward_mode)mode;
	return ret;
}

const char *dp_forward_result_name(enum kn_forward_result result)
{
	return result < KN_FWD_COUNT ? result_names[result] : "unknown";
}

const char *dp_forward_reason_name(enum kn_forward_result result)
{
	return result < KN_FWD_COUNT ? reason_names[result] : "unknown";
}

bool dp_forward_is_redirected(enum kn_forward_result result)
{
	return result == KN_FWD_REDIRECTED || result == KN_FWD_REDIRECTED_NEIGH;
}

enum kn_forward_mode dp_forward_mode(const struct dataplane *dp)
{
	return (enum kn_forward_mode)dp->skel->rodata->kn_forward_mode;
}
