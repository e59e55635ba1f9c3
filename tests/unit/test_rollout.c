// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * test_rollout.c - the rollout state machine, transition by transition:
 * what each event does in each phase, what it refuses and the actions it
 * hands to the agent.
 */
#include "unit.h"

#include <errno.h>

#include "judge/rollout.h"

#define T0 1000000ULL

static struct rollout_spec five_steps(uint32_t warmup)
{
	struct rollout_spec spec;

	rollout_spec_defaults(&spec);
	spec.interval_ms = 1000;
	spec.warmup_requests = warmup;
	spec.max_failures = 2;
	return spec;
}

/* A rollout started at T0 with canary backends. */
struct run {
	struct rollout_state s;
	struct rollout_spec spec;
	uint32_t actions;
};

/* A service with no rollout yet. */
static struct run idle(void)
{
	struct run r = {.spec = five_steps(0)};

	rollout_init(&r.s, 0);
	return r;
}

static struct run started_with(struct rollout_spec spec)
{
	struct run r = idle();

	r.spec = spec;
	assert_int_equal(rollout_start(&r.s, &r.spec, true, T0, &r.actions), 0);
	return r;
}

static struct run started(uint32_t warmup)
{
	return started_with(five_steps(warmup));
}

static void test_start_enters_first_step(void **state)
{
	struct run r = started(0);

	(void)state;
	assert_int_equal(r.s.phase, PHASE_PROGRESSING);
	assert_int_equal(r.s.step, 0);
	assert_int_equal(r.s.weight_bp, 1000);
	assert_true(r.actions & ACTION_SET_WEIGHT);
	assert_true(r.actions & ACTION_NEW_WINDOW);
	/* A new rollout is not judged on errors from before it. */
	assert_true(r.actions & ACTION_NEW_ROLLOUT);
	assert_false(r.actions & ACTION_START_WARMUP);
	assert_int_equal(r.s.step_started_ms, T0);
}

static void test_start_refused_without_canary_or_twice(void **state)
{
	struct run r = idle();

	(void)state;
	assert_int_equal(rollout_start(&r.s, &r.spec, false, T0, &r.actions),
			 -EINVAL);
	assert_int_equal(r.s.phase, PHASE_IDLE);
	assert_non_null(strstr(r.s.reason, "no canary backends"));
	assert_int_equal(rollout_start(&r.s, &r.spec, true, T0, &r.actions), 0);
	assert_int_equal(rollout_start(&r.s, &r.spec, true, T0, &r.actions),
			 -EBUSY);
	assert_non_null(strstr(r.s.reason, "already"));
	assert_int_equal(r.s.step, 0);
}

static void test_warmup_then_first_step(void **state)
{
	struct run r = started(50);

	(void)state;
	assert_int_equal(r.s.phase, PHASE_WARMING);
	assert_int_equal(r.s.weight_bp, 0);
	assert_true(r.actions & ACTION_START_WARMUP);
	assert_false(rollout_due(&r.s, T0 + 10 * r.spec.interval_ms));
	assert_int_equal(rollout_warmup_done(&r.s, T0 + 500, &r.actions), 0);
	assert_int_equal(r.s.phase, PHASE_PROGRESSING);
	assert_int_equal(r.s.weight_bp, 1000);
	assert_int_equal(r.s.step_started_ms, T0 + 500);
}

static void test_due_after_interval_only(void **state)
{
	struct run r = started(0);

	(void)state;
	assert_false(rollout_due(&r.s, T0 + 999));
	assert_true(rollout_due(&r.s, T0 + 1000));
}

static void test_passes_walk_all_steps_then_promote(void **state)
{
	static const uint32_t expected[] = {2500, 5000, 7500, 10000};
	struct run r = started(0);
	uint64_t now = T0;
	size_t i;

	(void)state;
	for (i = 0; i < 4; i++) {
		now += 1000;
		assert_int_equal(rollout_evaluated(&r.s, VERDICT_PASS, "ok",
						   now, &r.actions),
				 0);
		assert_int_equal(r.s.phase, PHASE_PROGRESSING);
		assert_int_equal(r.s.weight_bp, expected[i]);
		assert_int_equal(r.s.step, i + 1);
		assert_true(r.actions & ACTION_NEW_WINDOW);
		/* A step keeps the immediate rules' trailing counts. */
		assert_false(r.actions & ACTION_NEW_ROLLOUT);
	}
	now += 1000;
	rollout_evaluated(&r.s, VERDICT_PASS, "ok", now, &r.actions);
	assert_int_equal(r.s.phase, PHASE_PROMOTED);
	assert_true(r.actions & ACTION_PROMOTE_POOLS);
	assert_int_equal(r.s.ended_ms, now);
	assert_int_equal(r.s.evaluations, 5);
}

static void test_inconclusive_holds_step_and_window(void **state)
{
	struct run r = started(0);
	int i;

	(void)state;
	for (i = 0; i < 10; i++) {
		rollout_evaluated(&r.s, VERDICT_INCONCLUSIVE, "too few",
				  T0 + 2000, &r.actions);
		assert_int_equal(r.actions, 0);
	}
	assert_int_equal(r.s.phase, PHASE_PROGRESSING);
	assert_int_equal(r.s.step, 0);
	assert_int_equal(r.s.weight_bp, 1000);
	assert_int_equal(r.s.step_started_ms, T0); /* the window keeps going */
	assert_int_equal(r.s.consecutive_failures, 0);
}

static void test_failures_count_then_roll_back(void **state)
{
	struct run r = started(0);

	(void)state;
	rollout_evaluated(&r.s, VERDICT_PASS, "ok", T0 + 1000, &r.actions);
	rollout_evaluated(&r.s, VERDICT_FAIL, "slow", T0 + 2000, &r.actions);
	assert_int_equal(r.s.phase, PHASE_PROGRESSING);
	assert_int_equal(r.s.consecutive_failures, 1);
	assert_true(r.actions & ACTION_NEW_WINDOW);
	assert_int_equal(r.s.step_started_ms, T0 + 2000);
	/* An inconclusive verdict in between neither counts nor resets. */
	rollout_evaluated(&r.s, VERDICT_INCONCLUSIVE, "few", T0 + 2500,
			  &r.actions);
	rollout_evaluated(&r.s, VERDICT_FAIL, "slow again", T0 + 3000,
			  &r.actions);
	assert_int_equal(r.s.phase, PHASE_ROLLED_BACK);
	assert_int_equal(r.s.weight_bp, 0);
	assert_true(r.actions & ACTION_SET_WEIGHT);
	assert_false(r.actions & ACTION_CUT_CANARY);
	assert_non_null(strstr(r.s.reason, "slow again"));
}

static void test_pass_resets_failure_count(void **state)
{
	struct run r = started(0);

	(void)state;
	rollout_evaluated(&r.s, VERDICT_FAIL, "x", T0 + 1000, &r.actions);
	rollout_evaluated(&r.s, VERDICT_PASS, "ok", T0 + 2000, &r.actions);
	assert_int_equal(r.s.consecutive_failures, 0);
	rollout_evaluated(&r.s, VERDICT_FAIL, "x", T0 + 3000, &r.actions);
	assert_int_equal(r.s.phase, PHASE_PROGRESSING);
}

static void test_immediate_rollback_from_any_active_phase(void **state)
{
	struct rollout_spec spec = five_steps(10);
	struct run r;

	(void)state;
	spec.cut_connections_on_rollback = true;
	r = started_with(spec);
	rollout_warmup_done(&r.s, T0, &r.actions);
	rollout_pause(&r.s, T0 + 10, &r.actions);
	assert_int_equal(rollout_rollback(&r.s, "errors", T0 + 20, &r.actions),
			 0);
	assert_int_equal(r.s.phase, PHASE_ROLLED_BACK);
	assert_true(r.actions & ACTION_CUT_CANARY);
	assert_int_equal(rollout_rollback(&r.s, "again", T0 + 30, &r.actions),
			 -EBUSY);
}

static void test_pause_resume_restarts_window(void **state)
{
	struct run r = started(0);

	(void)state;
	assert_int_equal(rollout_pause(&r.s, T0 + 100, &r.actions), 0);
	assert_int_equal(r.s.phase, PHASE_PAUSED);
	assert_false(rollout_due(&r.s, T0 + 100000));
	assert_int_equal(rollout_pause(&r.s, T0 + 200, &r.actions), -EBUSY);
	assert_int_equal(rollout_resume(&r.s, T0 + 5000, &r.actions), 0);
	assert_int_equal(r.s.phase, PHASE_PROGRESSING);
	assert_int_equal(r.s.step_started_ms, T0 + 5000);
	assert_true(r.actions & ACTION_NEW_WINDOW);
	assert_int_equal(rollout_resume(&r.s, T0 + 6000, &r.actions), -EBUSY);
}

static void test_promote_next_and_full(void **state)
{
	struct run r = started(0);

	(void)state;
	assert_int_equal(rollout_promote(&r.s, false, T0 + 1, &r.actions), 0);
	assert_int_equal(r.s.step, 1);
	assert_int_equal(r.s.weight_bp, 2500);
	assert_int_equal(rollout_promote(&r.s, true, T0 + 2, &r.actions), 0);
	assert_int_equal(r.s.phase, PHASE_PROMOTED);
	assert_true(r.actions & ACTION_PROMOTE_POOLS);
	assert_int_equal(rollout_promote(&r.s, false, T0 + 3, &r.actions),
			 -EBUSY);
	assert_non_null(strstr(r.s.reason, "promoted"));
}

static void test_abort_and_manual_weight(void **state)
{
	struct run r = idle();

	(void)state;
	assert_int_equal(rollout_abort(&r.s, T0, &r.actions), -EBUSY);
	assert_int_equal(rollout_set_weight(&r.s, 1250, &r.actions), 0);
	assert_int_equal(r.s.weight_bp, 1250);
	rollout_start(&r.s, &r.spec, true, T0, &r.actions);
	assert_int_equal(rollout_set_weight(&r.s, 500, &r.actions), -EBUSY);
	assert_int_equal(r.s.weight_bp, 1000);
	assert_int_equal(rollout_abort(&r.s, T0 + 5, &r.actions), 0);
	assert_int_equal(r.s.phase, PHASE_ABORTED);
	assert_int_equal(r.s.weight_bp, 0);
	assert_true(r.actions & ACTION_SET_WEIGHT);
	assert_int_equal(rollout_set_weight(&r.s, 10001, &r.actions), -EINVAL);
	/* After the rollout, a new one may start. */
	assert_int_equal(rollout_start(&r.s, &r.spec, true, T0 + 9, &r.actions),
			 0);
}

static void test_phase_names_round_trip(void **state)
{
	enum rollout_phase p, back;

	(void)state;
	for (p = PHASE_IDLE; p <= PHASE_ABORTED; p++) {
		assert_int_equal(
		    rollout_phase_parse(rollout_phase_name(p), &back), 0);
		assert_int_equal(back, p);
	}
	assert_string_equal(rollout_phase_name(PHASE_ROLLED_BACK),
			    "rolled_back");
	assert_int_equal(rollout_phase_parse("rolling", &back), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_start_enters_first_step),
	    cmocka_unit_test(test_start_refused_without_canary_or_twice),
	    cmocka_unit_test(test_warmup_then_first_step),
	    cmocka_unit_test(test_due_after_interval_only),
	    cmocka_unit_test(test_passes_walk_all_steps_then_promote),
	    cmocka_unit_test(test_inconclusive_holds_step_and_window),
	    cmocka_unit_test(test_failures_count_then_roll_back),
	    cmocka_unit_test(test_pass_resets_failure_count),
	    cmocka_unit_test(test_immediate_rollback_from_any_active_phase),
	    cmocka_unit_test(test_pause_resume_restarts_window),
	    cmocka_unit_test(test_promote_next_and_full),
	    cmocka_unit_test(test_abort_and_manual_weight),
	    cmocka_unit_test(test_phase_names_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
