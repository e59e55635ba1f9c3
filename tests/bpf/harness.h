/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * harness.h - what every data-path test (tests/bpf/prog_tests/) includes:
 * the assertions and the runner (bpf_test.h), packets built field by field
 * and checked from scratch (packets.h), the test service's addresses, and
 * the helpers of harness.c that open a data path, add the service and run a
 * program on a packet through bpf_prog_test_run_opts.
 */
#ifndef KANARY_BPF_HARNESS_H
#define KANARY_BPF_HARNESS_H

#include <errno.h>
#include <linux/types.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "bpf_test.h"
#include "datapath/dataplane.h"
#include "kanary_hash.h"
#include "kanary_shared.h"
#include "packets.h"
#include "prog_run.h"
#include "util/log.h"

#define VIP		      0xc6126401 /* 198.18.100.1 */
#define VIP_PORT	      80
#define STABLE_1	      0xc6120101 /* 198.18.1.1 */
#define STABLE_2	      0xc6120102 /* 198.18.1.2 */
#define CANARY_1	      0xc6120201 /* 198.18.2.1 */
#define BACKEND_PORT	      8000
#define CLIENT_BASE	      0xc6120000 /* 198.18.0.0: 131072 addresses in /15 */
#define CLIENT_1	      0xc6120a0a /* 198.18.10.10 */
#define OTHER_HOST	      0xc6120909 /* 198.18.9.9 */
#define SPLIT_CLIENTS	      100000
#define SPLIT_SIGMAS	      4.0
#define XDP_PASS_VERDICT      2
#define XDP_DROP_VERDICT      1
#define TC_OK_VERDICT	      0
#define TC_SHOT_VERDICT	      2
#define HARNESS_PIN_DIR_BYTES 128

/* Where each data path of this run pins its maps (set by main). */
extern char harness_pin_dir[HARNESS_PIN_DIR_BYTES];

/*
 * The family of the test service, its backends and the packets built by
 * syn_spec/reply_spec: AF_INET, or AF_INET6 while an IPv6 twin of a test
 * runs (its addresses are the same numbers in 2001:2::/96, packets.h).
 * Every test that does not depend on the family has a twin,
 * test_ipv6_<name>, that runs it through IN_IPV6.
 */
extern int harness_family;

#define IN_IPV6(test)                                                          \
	do {                                                                   \
		harness_family = AF_INET6;                                     \
		test;                                                          \
		harness_family = AF_INET;                                      \
	} while (0)

/* An endpoint of the harness family (see ep_of). */
struct endpoint ep(uint32_t host_addr, uint16_t port);

/* A client's address words as the hash reads them (kn_client_bucket). */
void client_words(uint32_t client, __u32 words[4]);

/* A fresh data path pinned under harness_pin_dir, the extra options
 * (NULL: none) being only its timeouts; NULL, the reason printed, on error. */
struct dataplane *open_dp(const struct dp_options *extra);

/* A TCP service 198.18.100.1:80 (IPv6: [2001:2::c612:6401]:80) with two
 * stable and one canary replica. */
int add_service(struct dataplane *dp, uint32_t canary_bp, uint32_t *index);

/* Runs one program once on `in`: the output packet and the verdict. */
int run_prog(struct dataplane *dp, enum kn_hook hook, const struct pkt *in,
	     struct pkt *out, __u32 *verdict);

/*
 * What the kernel does with a client packet in XDP mode: XDP first, then,
 * for what XDP passes, the tc ingress program (the slow path for packets
 * XDP leaves alone, such as a checksum that looks offloaded).
 */
int run_xdp_mode(struct dataplane *dp, const struct pkt *in, struct pkt *out,
		 __u32 *verdict);

/* One hook alone, or the whole XDP-mode path for KN_HOOK_XDP_INGRESS. */
int run_ingress(struct dataplane *dp, enum kn_hook hook, const struct pkt *in,
		struct pkt *out, __u32 *verdict);

/* What the hook returns to let a packet go on, and to drop it. */
__u32 pass_verdict(enum kn_hook hook);
__u32 drop_verdict(enum kn_hook hook);

/* A SYN from client:port to the VIP (host order). */
void syn_spec(struct pkt_spec *s, uint32_t client, uint16_t port);

/* A TCP segment with `flags` from backend:BACKEND_PORT to client:port. */
void reply_spec(struct pkt_spec *s, uint32_t backend, uint32_t client,
		uint16_t port, uint8_t flags);

/* The output's destination and source address (the number of an IPv6
 * one, 0 outside 2001:2::/96) and TCP/UDP ports, host order. */
uint32_t out_daddr(const struct pkt *out);
uint32_t out_saddr(const struct pkt *out);
uint16_t out_dport(const struct pkt *out);
uint16_t out_sport(const struct pkt *out);

/* A hook's counter of one reason; UINT64_MAX when unreadable. */
uint64_t global_reason(struct dataplane *dp, enum kn_hook hook,
		       enum kn_reason reason);

/* Only the addresses, ports and checksums may differ from the input. */
bool same_except_translation(const struct pkt *in, const struct pkt *out,
			     bool dst_side);

/* Runs in through one hook alone: passed, byte for byte as it came, and
 * counted once more under reason. */
void expect_untouched(struct dataplane *dp, enum kn_hook hook,
		      const struct pkt *in, enum kn_reason reason,
		      const char *what);

/* Runs in through run_ingress(): passed, and byte for byte `want`; the
 * output goes to *out for further checks. False (printed) otherwise. */
bool expect_output(struct dataplane *dp, enum kn_hook hook,
		   const struct pkt *in, const struct pkt *want,
		   struct pkt *out, const char *what);

#endif /* KANARY_BPF_HARNESS_H */
