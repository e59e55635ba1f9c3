// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * clients.c - the distinct-client estimate (linear counting over the data
 * path's bitmap) and the "too few clients for the weight" rule; see
 * clients.h for why the rule is what it is.
 */
#include "judge/clients.h"

#include <linux/types.h>
#include <math.h>

#include "kanary_shared.h"

#define BITS_PER_WORD 64
#define FULL_PERCENT  100.0
/* A full bitmap counts as half a zero bit: a finite "at least". */
#define SATURATED_ZERO_BITS 0.5

double clients_estimate(const struct kn_client_seen *seen)
{
	const double m = KN_CLIENT_SEEN_BITS;
	double zeros = 0;
	int w;

	for (w = 0; w < KN_CLIENT_SEEN_WORDS; w++)
		zeros += BITS_PER_WORD - __builtin_popcountll(seen->bits[w]);
	if (zeros == 0)
		zeros = SATURATED_ZERO_BITS;
	return -m * log(zeros / m);
}

bool clients_too_few(double estimate, uint32_t canary_bp,
		     double new_connections)
{
	/* Below half a client the bitmap was just cleared: nothing seen. */
	const double some_client = 0.5;

	if (canary_bp == 0 || canary_bp >= KN_WEIGHT_SCALE_BP)
		return false;
	if (new_connections < CLIENTS_MIN_CONNECTIONS)
		return false;
	return estimate >= some_client && estimate < CLIENTS_NEEDED;
}

double clients_share_step_points(double estimate)
{
	return estimate >= 1 ? FULL_PERCENT / estimate : FULL_PERCENT;
}
