/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * test_clients.c - the distinct-client estimate (linear counting over the
 * data path's bitmap, filled here with the kernel's own bit choice) and the
 * rule that says when the clients are too few for the weight.
 */
#include "unit.h"

#include <arpa/inet.h>
#include <linux/types.h>
#include <math.h>

#include "kanary_hash.h"
#include "kanary_shared.h"
#include "judge/clients.h"

#define CLIENT_BASE 0xc6120000 /* 198.18.0.0, host order */

/* The bitmap the data path builds for `clients` addresses from base. */
static void mark_clients(struct kn_client_seen *seen, uint32_t base,
			 uint32_t clients)
{
	uint32_t i;

	memset(seen, 0, sizeof(*seen));
	for (i = 0; i < clients; i++) {
		__u32 addr[4] = {htonl(base + i), 0, 0, 0};
		uint32_t bit = kn_client_seen_bit(addr, KN_CLIENT_SEEN_BITS);

		seen->bits[bit / 64] |= 1ULL << (bit % 64);
	}
}

static void test_estimate_follows_the_clients(void **state)
{
	/* Clients and the relative error allowed: linear counting's standard
	 * error at n/m = 2 is about 3.4 %, at 0.5 about 2.4 %; 4 of them. */
	static const struct {
		uint32_t clients;
		double tolerance;
	} cases[] = {{1, 0},	 {3, 0.01},  {19, 0.06},
		     {200, 0.1}, {500, 0.1}, {2000, 0.14}};
	struct kn_client_seen seen;
	size_t c;

	(void)state;
	memset(&seen, 0, sizeof(seen));
	assert_float_equal(clients_estimate(&seen), 0, 0);
	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		double n = cases[c].clients, est;

		mark_clients(&seen, CLIENT_BASE, cases[c].clients);
		est = clients_estimate(&seen);
		if (fabs(est - n) > n * cases[c].tolerance + 0.5)
			fail_msg("%u clients estimated as %.2f",
				 cases[c].clients, est);
	}
	/* The same clients again: the same bits, the same estimate. */
	mark_clients(&seen, CLIENT_BASE, 3);
	assert_int_equal((int)round(clients_estimate(&seen)), 3);
}

static void test_estimate_formula_and_saturation(void **state)
{
	struct kn_client_seen seen;
	double m = KN_CLIENT_SEEN_BITS;

	(void)state;
	memset(&seen, 0, sizeof(seen));
	seen.bits[0] = 0x7; /* three bits */
	assert_float_equal(clients_estimate(&seen), -m * log((m - 3) / m),
			   1e-9);
	memset(&seen, 0xff, sizeof(seen));
	assert_float_equal(clients_estimate(&seen), m * log(2 * m), 1e-6);
}

static void test_too_few_for_the_weight(void **state)
{
	const double enough = CLIENTS_MIN_CONNECTIONS;

	(void)state;
	assert_int_equal(CLIENTS_NEEDED, 20);
	/* Three gateway pods at 10 %: the share moves in 33-point steps. */
	assert_true(clients_too_few(3, 1000, 1000));
	assert_float_equal(clients_share_step_points(3), 100.0 / 3, 1e-9);
	/* The boundary: 19 clients are a 5.3-point step, 20 a 5-point one. */
	assert_true(clients_too_few(19.2, 5000, enough));
	assert_false(clients_too_few(20, 5000, enough));
	assert_false(clients_too_few(500, 5000, enough));
	/* 0 % and 100 % are exact with any number of clients. */
	assert_false(clients_too_few(3, 0, 1000));
	assert_false(clients_too_few(3, KN_WEIGHT_SCALE_BP, 1000));
	/* Too few connections to tell few clients from little traffic. */
	assert_false(clients_too_few(3, 1000, enough - 1));
	/* Nothing seen (a bitmap just cleared): no verdict. */
	assert_false(clients_too_few(0, 1000, 1000));
	assert_float_equal(clients_share_step_points(0), 100, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_estimate_follows_the_clients),
	    cmocka_unit_test(test_estimate_formula_and_saturation),
	    cmocka_unit_test(test_too_few_for_the_weight),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
