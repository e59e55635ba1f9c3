/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * clients.h - how many distinct client addresses a service sees, estimated
 * from the data path's bitmap (struct kn_client_seen) by linear counting,
 * and whether they are too few for the canary weight to mean anything
 * while each client keeps its version (client affinity). Pure: no I/O.
 *
 * Why the rule: with client affinity a client's connections all go to its
 * version, so with n equally busy clients the canary's share of new
 * connections can only be k/n: it moves in steps of 100/n points, however
 * finely the weight is set. Three gateway pods give 0, 33, 67 or 100 %.
 * kanary calls the clients too few when one client is a step of more than
 * CLIENTS_MAX_STEP_POINTS, i.e. fewer than CLIENTS_NEEDED of them.
 */
#ifndef KANARY_CLIENTS_H
#define KANARY_CLIENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The coarsest step of the canary share, in points, one client may make. */
#define CLIENTS_MAX_STEP_POINTS 5
#define CLIENTS_NEEDED		(100 / CLIENTS_MAX_STEP_POINTS)
/* Before the window holds this many new connections per needed client,
 * few distinct addresses may only mean little traffic: no verdict yet. */
#define CLIENTS_MIN_CONNECTIONS_PER_NEEDED 2
#define CLIENTS_MIN_CONNECTIONS                                                \
	(CLIENTS_NEEDED * CLIENTS_MIN_CONNECTIONS_PER_NEEDED)

struct kn_client_seen;

/*
 * Distinct clients behind the data path's bitmap, where each client set
 * one hashed bit of m = KN_CLIENT_SEEN_BITS: n = -m ln(z / m) for z zero bits
 * of m (linear counting; nearly exact while n is well below m, within a few
 * percent up to a few times m). A full bitmap gives the estimate for half a
 * zero bit, about m ln 2m: "at least that many".
 */
double clients_estimate(const struct kn_client_seen *seen);

/*
 * Whether `estimate` distinct clients are too few for a weight of
 * canary_bp (0..10000) with client affinity, the window having seen
 * new_connections: never at 0 or 100 % (exact with any number of
 * clients), never before CLIENTS_MIN_CONNECTIONS new connections; then
 * when fewer than CLIENTS_NEEDED (but some) clients were seen.
 */
bool clients_too_few(double estimate, uint32_t canary_bp,
		     double new_connections);

/* The step of the canary share, in points, that one of `estimate`
 * equally busy clients makes (100 / estimate); 100 below one client. */
double clients_share_step_points(double estimate);

#endif /* KANARY_CLIENTS_H */
