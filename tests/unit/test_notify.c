// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * test_notify.c - operators in the loop, the pure parts: the
 * "notifications" receivers and the rollout's "gates" as the config file
 * gives them (bad input refused with its field named), a receiver's
 * bounded queue and backoff, how a gate's answer is read, and the rollout
 * state machine waiting at each gate.
 */
#include "unit.h"

#include <errno.h>
#include <unistd.h>

#include "config.h"
#include "judge/gate.h"
#include "judge/rollout.h"
#include "notify_config.h"

#define T0		1000000ULL
#define CONFIG_TEXT_LEN 2048

/* A config of one service with top-level and service fields added. */
static int parse(const char *top, const char *service, struct agent_config *cfg,
		 char *err, size_t err_len)
{
	char text[CONFIG_TEXT_LEN];

	snprintf(text, sizeof(text),
		 "{%s%s\"services\": [{\"name\": \"demo\", "
		 "\"vip\": \"198.18.32.1:80\", "
		 "\"stable\": [\"198.18.16.10:8000\"]%s%s}]}",
		 top, top[0] ? ", " : "", service[0] ? ", " : "", service);
	config_init(cfg);
	return config_parse(text, strlen(text), "node.json", cfg, err, err_len);
}

static void expect_refused(const char *top, const char *service,
			   const char *field, const char *why)
{
	char err[CONFIG_ERR_LEN] = "";
	struct agent_config cfg;

	assert_int_not_equal(parse(top, service, &cfg, err, sizeof(err)), 0);
	if (!strstr(err, field) || !strstr(err, why))
		fail_msg("error \"%s\" lacks \"%s\" or \"%s\"", err, field,
			 why);
	config_free(&cfg);
}

static void test_receivers_read(void **state)
{
	char err[CONFIG_ERR_LEN] = "", token[] = "/tmp/kn-notify-tokenXXXXXX";
	char top[512];
	struct agent_config cfg;
	const struct notify_receiver_config *r;
	int fd = mkstemp(token);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "t0k\n", 4), 4);
	close(fd);
	snprintf(top, sizeof(top),
		 "\"notifications\": [{\"url\": \"http://198.18.0.5:8080/h\"},"
		 " {\"url\": \"https://198.18.0.6/s\", \"format\": \"slack\", "
		 "\"events\": [\"rolled_back\", \"gate_waiting\"], "
		 "\"timeout\": \"500ms\", \"token_file\": \"%s\"}]",
		 token);
	assert_int_equal(parse(top,
			       "\"notifications\": [{\"url\": "
			       "\"http://198.18.0.7/x\", \"events\": "
			       "[\"target_down\"]}]",
			       &cfg, err, sizeof(err)),
			 0);
	assert_int_equal(cfg.notifications.count, 2);
	r = &cfg.notifications.receivers[0];
	assert_int_equal(r->format, NOTIFY_FORMAT_JSON);
	assert_int_equal(r->events, NOTIFY_ALL_EVENTS);
	assert_int_equal(r->timeout_ms, NOTIFY_DEFAULT_TIMEOUT_MS);
	r = &cfg.notifications.receivers[1];
	assert_int_equal(r->format, NOTIFY_FORMAT_SLACK);
	assert_int_equal(r->events, (1u << NOTIFY_ROLLED_BACK) |
					(1u << NOTIFY_GATE_WAITING));
	assert_int_equal(r->timeout_ms, 500);
	assert_string_equal(r->token_file, token);
	assert_int_equal(cfg.services[0].notifications.count, 1);
	assert_int_equal(cfg.services[0].notifications.receivers[0].events,
			 1u << NOTIFY_TARGET_DOWN);
	config_free(&cfg);
	unlink(token);
}

static void test_bad_receivers_refused(void **state)
{
	(void)state;
	expect_refused("\"notifications\": [{\"url\": \"http://198.18.0.5/\", "
		       "\"events\": [\"promoted\", \"exploded\"]}]",
		       "", "notifications[0].events[1]", "is not an event");
	expect_refused("\"notifications\": [{\"url\": \"198.18.0.5:8080/h\"}]",
		       "", "notifications[0].url",
		       "must start with http:// or https://");
	expect_refused("", "\"notifications\": [{\"url\": \"http:///h\"}]",
		       "services[0].notifications[0].url", "has no host");
	expect_refused("\"notifications\": [{\"url\": \"http://198.18.0.5/\", "
		       "\"token_file\": \"/nonexistent/kanary/token\"}]",
		       "", "notifications[0].token_file",
		       "cannot read /nonexistent/kanary/token");
	expect_refused("\"notifications\": [{\"url\": \"http://198.18.0.5/\", "
		       "\"format\": \"xml\"}]",
		       "", "notifications[0].format", "\"json\" or \"slack\"");
	expect_refused("\"notifications\": [{\"url\": \"http://198.18.0.5/\", "
		       "\"retries\": 3}]",
		       "", "notifications[0]", "retries");
	expect_refused("\"notifications\": [{\"url\": \"http://198.18.0.5/\", "
		       "\"events\": []}]",
		       "", "notifications[0].events", "non-empty");
	expect_refused("\"notifications\": {\"url\": \"http://198.18.0.5/\"}",
		       "", "notifications", "must be a list");
	expect_refused("\"notifications\": [{\"url\": \"http://a/\\\"x\"}]", "",
		       "notifications[0].url", "quote");
}

static void test_bad_gates_refused(void **state)
{
	(void)state;
	expect_refused("",
		       "\"rollout\": {\"gates\": {\"before_step\": "
		       "\"198.18.0.5/gate\"}}",
		       "services[0].rollout.gates.before_step",
		       "or \"manual\"");
	expect_refused("",
		       "\"rollout\": {\"gates\": {\"after_lunch\": "
		       "\"manual\"}}",
		       "services[0].rollout.gates", "after_lunch");
	expect_refused("", "\"rollout\": {\"gates\": {\"interval\": \"10ms\"}}",
		       "services[0].rollout.gates.interval", "at least");
}

static void test_gates_round_trip(void **state)
{
	struct rollout_spec base, spec, again;
	struct spec_error err = {0};
	json_t *in =
	    json_loads("{\"gates\": {\"before_start\": "
		       "\"http://198.18.0.5/g\", \"before_promotion\": "
		       "\"manual\", \"interval\": \"2s\"}}",
		       0, NULL);
	json_t *out;

	(void)state;
	rollout_spec_defaults(&base);
	assert_false(gates_any(&base.gates));
	out = rollout_spec_to_json(&base);
	assert_null(json_object_get(out, "gates"));
	json_decref(out);
	assert_int_equal(rollout_spec_from_json(in, &base, "", &spec, &err), 0);
	assert_true(gate_is_set(&spec.gates, GATE_BEFORE_START));
	assert_false(gate_is_set(&spec.gates, GATE_BEFORE_STEP));
	assert_true(gate_is_manual(&spec.gates, GATE_BEFORE_PROMOTION));
	assert_int_equal(spec.gates.interval_ms, 2000);
	out = rollout_spec_to_json(&spec);
	assert_int_equal(rollout_spec_from_json(out, &base, "", &again, &err),
			 0);
	assert_memory_equal(&again.gates, &spec.gates, sizeof(spec.gates));
	json_decref(out);
	json_decref(in);
}

static void test_queue_bounded(void **state)
{
	struct notify_queue q;
	char *body;
	int i;

	(void)state;
	notify_queue_init(&q);
	assert_null(notify_queue_pop(&q));
	for (i = 0; i < NOTIFY_QUEUE_LEN; i++) {
		char text[16];

		snprintf(text, sizeof(text), "%d", i);
		assert_int_equal(notify_queue_push(&q, strdup(text)), 0);
	}
	body = strdup("one too many");
	assert_int_equal(notify_queue_push(&q, body), -ENOSPC);
	free(body);
	assert_int_equal(notify_queue_len(&q), NOTIFY_QUEUE_LEN);
	/* Oldest first: what was dropped is the newest. */
	body = notify_queue_pop(&q);
	assert_string_equal(body, "0");
	free(body);
	assert_int_equal(notify_queue_push(&q, strdup("again")), 0);
	notify_queue_clear(&q);
	assert_int_equal(notify_queue_len(&q), 0);
}

static void test_backoff_and_statuses(void **state)
{
	uint32_t a;

	(void)state;
	assert_int_equal(notify_backoff_ms(1), NOTIFY_BACKOFF_FIRST_MS);
	assert_int_equal(notify_backoff_ms(2), 2 * NOTIFY_BACKOFF_FIRST_MS);
	for (a = 2; a < 40; a++) {
		assert_true(notify_backoff_ms(a) >= notify_backoff_ms(a - 1));
		assert_true(notify_backoff_ms(a) <= NOTIFY_BACKOFF_MAX_MS);
	}
	assert_int_equal(notify_backoff_ms(40), NOTIFY_BACKOFF_MAX_MS);
	assert_true(notify_status_delivered(200));
	assert_true(notify_status_delivered(204));
	assert_false(notify_status_delivered(500));
	assert_true(notify_status_retryable(false, 0));
	assert_true(notify_status_retryable(true, 503));
	assert_true(notify_status_retryable(true, 429));
	assert_false(notify_status_retryable(true, 404));
	assert_false(notify_status_retryable(true, 401));
}

static void test_gate_answers(void **state)
{
	char why[GATE_WHY_LEN];

	(void)state;
	assert_int_equal(
	    gate_read_answer(true, 200, "", NULL, why, sizeof(why)),
	    GATE_PROCEED);
	assert_int_equal(
	    gate_read_answer(true, 503, "", NULL, why, sizeof(why)), GATE_HOLD);
	assert_string_equal(why, "answered 503");
	assert_int_equal(
	    gate_read_answer(false, 0, NULL, "timed out", why, sizeof(why)),
	    GATE_HOLD);
	assert_non_null(strstr(why, "timed out"));
	assert_int_equal(
	    gate_read_answer(true, 403,
			     "{\"decision\": \"refuse\", \"reason\": \"load "
			     "test failed\\nsecond line\"}",
			     NULL, why, sizeof(why)),
	    GATE_REFUSE);
	assert_string_equal(why, "refused (answered 403): load test failed");
	/* A refusal is explicit: a 403 without it, or another decision,
	 * holds; a 200 proceeds whatever its body says. */
	assert_int_equal(gate_read_answer(true, 403, "{\"decision\": \"wait\"}",
					  NULL, why, sizeof(why)),
			 GATE_HOLD);
	assert_int_equal(
	    gate_read_answer(true, 403, "not json", NULL, why, sizeof(why)),
	    GATE_HOLD);
	assert_int_equal(gate_read_answer(true, 200,
					  "{\"decision\": \"refuse\"}", NULL,
					  why, sizeof(why)),
			 GATE_PROCEED);
}

static struct rollout_spec gated(enum gate_point p, const char *url)
{
	struct rollout_spec spec;

	rollout_spec_defaults(&spec);
	spec.interval_ms = 1000;
	snprintf(spec.gates.url[p], sizeof(spec.gates.url[p]), "%s", url);
	return spec;
}

static void test_gate_before_start(void **state)
{
	struct rollout_spec spec = gated(GATE_BEFORE_START, GATE_MANUAL);
	struct rollout_state s;
	uint32_t actions;

	(void)state;
	rollout_init(&s, 0);
	assert_int_equal(rollout_start(&s, &spec, true, T0, &actions), 0);
	assert_int_equal(s.phase, PHASE_WAITING_GATE);
	assert_int_equal(s.gate, GATE_BEFORE_START);
	assert_int_equal(s.weight_bp, 0);
	assert_true(rollout_is_active(&s));
	/* No traffic: nothing to judge before the start. */
	assert_false(rollout_due(&s, T0 + 60000));
	assert_int_equal(rollout_pause(&s, T0, &actions), -EBUSY);
	assert_int_equal(rollout_gate_passed(&s, "approved", T0 + 5, &actions),
			 0);
	assert_int_equal(s.phase, PHASE_PROGRESSING);
	assert_int_equal(s.gate, GATE_NONE);
	assert_int_equal(s.weight_bp, spec.steps_bp[0]);
	assert_true(actions & ACTION_SET_WEIGHT);
	assert_int_equal(rollout_gate_passed(&s, "again", T0 + 6, &actions),
			 -EBUSY);
}

static void test_gate_before_step_still_judged(void **state)
{
	struct rollout_spec spec = gated(GATE_BEFORE_STEP, "http://h/g");
	struct rollout_state s;
	uint32_t actions;

	(void)state;
	rollout_init(&s, 0);
	assert_int_equal(rollout_start(&s, &spec, true, T0, &actions), 0);
	assert_int_equal(s.phase, PHASE_PROGRESSING);
	assert_int_equal(
	    rollout_evaluated(&s, VERDICT_PASS, "ok", T0 + 1000, &actions), 0);
	assert_int_equal(s.phase, PHASE_WAITING_GATE);
	assert_int_equal(s.gate, GATE_BEFORE_STEP);
	assert_int_equal(s.step, 0);
	assert_int_equal(s.weight_bp, spec.steps_bp[0]);
	assert_false(actions & ACTION_SET_WEIGHT);
	/* The step is judged on while the gate waits: passes keep waiting,
	 * failures roll back. */
	assert_true(rollout_due(&s, T0 + 2000));
	assert_int_equal(
	    rollout_evaluated(&s, VERDICT_PASS, "ok", T0 + 2000, &actions), 0);
	assert_int_equal(s.phase, PHASE_WAITING_GATE);
	assert_int_equal(s.step, 0);
	assert_int_equal(
	    rollout_evaluated(&s, VERDICT_FAIL, "bad", T0 + 3000, &actions), 0);
	assert_int_equal(
	    rollout_evaluated(&s, VERDICT_FAIL, "bad", T0 + 4000, &actions), 0);
	assert_int_equal(s.phase, PHASE_ROLLED_BACK);
	assert_int_equal(s.weight_bp, 0);
}

static void test_gate_before_step_passes_and_refuses(void **state)
{
	struct rollout_spec spec = gated(GATE_BEFORE_STEP, "http://h/g");
	struct rollout_state s;
	uint32_t actions;

	(void)state;
	rollout_init(&s, 0);
	rollout_start(&s, &spec, true, T0, &actions);
	rollout_evaluated(&s, VERDICT_PASS, "ok", T0 + 1000, &actions);
	assert_int_equal(
	    rollout_gate_passed(&s, "answered 200", T0 + 1100, &actions), 0);
	assert_int_equal(s.phase, PHASE_PROGRESSING);
	assert_int_equal(s.step, 1);
	assert_int_equal(s.weight_bp, spec.steps_bp[1]);
	rollout_evaluated(&s, VERDICT_PASS, "ok", T0 + 3000, &actions);
	assert_int_equal(s.phase, PHASE_WAITING_GATE);
	assert_int_equal(
	    rollout_gate_refused(&s, "refused: no", T0 + 3100, &actions), 0);
	assert_int_equal(s.phase, PHASE_ROLLED_BACK);
	assert_non_null(strstr(s.reason, "before_step gate refused: no"));
	/* An immediate rule acts while a gate waits, too. */
	rollout_init(&s, 0);
	rollout_start(&s, &spec, true, T0, &actions);
	rollout_evaluated(&s, VERDICT_PASS, "ok", T0 + 1000, &actions);
	assert_int_equal(rollout_rollback(&s, "errors", T0 + 1200, &actions),
			 0);
	assert_int_equal(s.phase, PHASE_ROLLED_BACK);
}

static void test_gate_before_promotion(void **state)
{
	struct rollout_spec spec = gated(GATE_BEFORE_PROMOTION, GATE_MANUAL);
	struct rollout_state s;
	uint32_t actions, i;

	(void)state;
	rollout_init(&s, 0);
	rollout_start(&s, &spec, true, T0, &actions);
	for (i = 0; i + 1 < spec.step_count; i++)
		rollout_evaluated(&s, VERDICT_PASS, "ok", T0 + 1000 * (i + 1),
				  &actions);
	assert_int_equal(s.phase, PHASE_PROGRESSING);
	rollout_evaluated(&s, VERDICT_PASS, "ok", T0 + 9000, &actions);
	assert_int_equal(s.phase, PHASE_WAITING_GATE);
	assert_int_equal(s.gate, GATE_BEFORE_PROMOTION);
	assert_int_equal(
	    rollout_gate_passed(&s, "approved", T0 + 9100, &actions), 0);
	assert_int_equal(s.phase, PHASE_PROMOTED);
	assert_true(actions & ACTION_PROMOTE_POOLS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_receivers_read),
	    cmocka_unit_test(test_bad_receivers_refused),
	    cmocka_unit_test(test_bad_gates_refused),
	    cmocka_unit_test(test_gates_round_trip),
	    cmocka_unit_test(test_queue_bounded),
	    cmocka_unit_test(test_backoff_and_statuses),
	    cmocka_unit_test(test_gate_answers),
	    cmocka_unit_test(test_gate_before_start),
	    cmocka_unit_test(test_gate_before_step_still_judged),
	    cmocka_unit_test(test_gate_before_step_passes_and_refuses),
	    cmocka_unit_test(test_gate_before_promotion),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
