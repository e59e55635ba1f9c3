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
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>

#include "datapath/dataplane.h"
#include "kanary.skel.h"

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

/* attach.c: hooks the loaded programs to dp->ifindex, and unhooks them. */
int dp_attach_all(struct dataplane *dp, enum dp_mode mode, char *err,
		  size_t err_len);
void dp_detach_all(struct dataplane *dp);

#endif /* KANARY_DATAPATH_INTERNAL_H */
