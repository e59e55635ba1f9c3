/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * datapath_internal.h - what the data path's own files share and nobody
 * else sees: struct dataplane (the handle dataplane.h keeps opaque), the
 * stats slot queue, the map migrations in flight, and the few helpers one
 * file provides to another. Included by the files of lib/datapath only.
 */
#ifndef KANARY_DATAPATH_INTERNAL_H
#define KANARY_DATAPATH_INTERNAL_H

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <limits.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "datapath/dataplane.h"
#include "kanary.skel.h"
#include "util/ring.h"

/* An endpoint's address as the maps keep it (include/kanary_shared.h):
 * IPv4 in w[0] with the rest zero, IPv6 in all four words. */
static inline __u8 dp_addr_to_kernel(struct kn_addr *a,
				     const struct endpoint *ep)
{
	memset(a, 0, sizeof(*a));
	if (endpoint_family(ep) == AF_INET6) {
		memcpy(a->w, &ep->addr6, sizeof(a->w));
		return KN_AF_INET6;
	}
	a->w[0] = ep->addr.s_addr;
	return KN_AF_INET;
}

static inline void dp_addr_from_kernel(struct endpoint *ep,
				       const struct kn_addr *a, __u8 family)
{
	memset(ep, 0, sizeof(*ep));
	if (family == KN_AF_INET6) {
		ep->family = AF_INET6;
		memcpy(&ep->addr6, a->w, sizeof(ep->addr6));
	} else {
		ep->family = AF_INET;
		ep->addr.s_addr = a->w[0];
	}
}

/* tc filter identity: kanary's filters replace only themselves. */
#define DP_TC_HANDLE   0x4b4e
#define DP_TC_PRIORITY 1

/* Every kanary program's name starts so (the kernel keeps 15 characters). */
#define DP_PROG_NAME_PREFIX "kanary_"

struct stats_slots {
	uint32_t *queue;  /* free stats indexes, oldest-freed first */
	struct ring ring; /* which entries of queue hold them */
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
	bool pins_existed;	 /* a data path was pinned before we opened */
	bool backend_filter_new; /* kn_backend_filter unpinned until filled */
	enum dp_mode mode;
	bool xdp_attached, tc_ingress_attached, tc_egress_attached;
	uint32_t xdp_flags;
	int ncpus;
	uint32_t max_services, max_backends, max_flows;
	uint32_t adopted;
	struct dp_service *services;
	struct stats_slots slots;
	bool takeover; /* may replace another owner's programs */
	/* The last check of the hooks (owner.c): attached, or what holds
	 * them instead. */
	bool attached;
	char detached_detail[DP_ERR_LEN];
};

/* What one hook of the interface holds, and whose it is. */
enum dp_holder_kind {
	DP_HOLDER_NONE,	   /* nothing */
	DP_HOLDER_SELF,	   /* a program using this pin directory's maps */
	DP_HOLDER_KANARY,  /* another kanary data path's (pin_dir: whose) */
	DP_HOLDER_FOREIGN, /* not kanary's */
};

struct dp_holder {
	enum kn_hook hook;
	enum dp_holder_kind kind;
	__u32 prog_id;
	__u32 xdp_mode_flag; /* XDP_FLAGS_DRV_MODE or _SKB_MODE */
	char name[BPF_OBJ_NAME_LEN];
	char pin_dir[PATH_MAX]; /* "" when not found */
};

/* Formats a message for a person into err (when given); returns ret. */
static inline int __attribute__((format(printf, 4, 5)))
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

/* service.c: the stats slot queue and the commit protocol's barrier. */
int dp_slots_init(struct stats_slots *slots, uint32_t capacity);
void dp_slots_push(struct stats_slots *slots, uint32_t index);
/* Returns once every program that might hold an old weight word is done. */
int dp_sync_barrier(struct dataplane *dp);
/* An adopted service's filter bits (its VIP:port's, the backends' of its
 * active config) and a nonzero generation for its slot (service.c says
 * what they are for). */
int dp_service_adopt_trust(struct dataplane *dp, const struct dp_service *svc,
			   const struct kn_config *config);
/* Sets the backends' filter bits of every reply kn_replies holds: for an
 * agent that created kn_backend_filter over flows an older one recorded. */
int dp_backend_filter_fill(struct dataplane *dp);

/* open.c: the checks dp_remove shares with dp_open. */
int dp_check_privileges(char *err, size_t err_len);
int dp_lock_pin_dir(struct dataplane *dp, char *err, size_t err_len);

/* attach.c: hooks the loaded programs to dp->ifindex, and unhooks them. */
int dp_attach_all(struct dataplane *dp, enum dp_mode mode, char *err,
		  size_t err_len);
/* One hook again, where nothing is attached (never replaces). */
int dp_attach_hook(struct dataplane *dp, enum kn_hook hook, char *err,
		   size_t err_len);
void dp_detach_all(struct dataplane *dp);
/* Detaches kanary's tc filter on hook when it still runs prog_id. */
int dp_detach_tc_if(int ifindex, enum kn_hook hook, __u32 prog_id);

/* owner.c: what the hooks hold. pin_dir: whose maps count as SELF (NULL:
 * none). */
const char *dp_hook_name(enum kn_hook hook);
int dp_hook_prog_id(int ifindex, enum kn_hook hook, __u32 *id,
		    __u32 *xdp_mode_flag);
int dp_hook_holder(const char *pin_dir, int ifindex, enum kn_hook hook,
		   struct dp_holder *out);
/* "XDP: program 'NAME' (id N) of the kanary data path pinned in DIR". */
const char *dp_holder_describe(const struct dp_holder *h, char *buf,
			       size_t len);
/* Pins the attached programs in dp->pin_dir (how other kanaryds name this
 * one), and unpins them. */
int dp_pin_programs(struct dataplane *dp);
void dp_unpin_programs(const char *pin_dir);
/* The id the kernel gave this data path's program for hook; 0: none. */
__u32 dp_own_prog_id(const struct dataplane *dp, enum kn_hook hook);

#endif /* KANARY_DATAPATH_INTERNAL_H */
