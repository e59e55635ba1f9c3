// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * test_config.c - what operators type: the config file (every error names
 * file, line, column and field), endpoints, weights, durations and the
 * rollout spec shared with the API.
 */
#include "unit.h"

#include <arpa/inet.h>
#include <errno.h>

#include "config.h"
#include "util/jpos.h"
#include "util/netaddr.h"
#include "judge/rollout_spec.h"
#include "util/units.h"

static const char good_config[] =
    "{\n"
    "  \"interface\": \"eth1\",\n"
    "  \"mode\": \"tc\",\n"
    "  \"listen\": \"127.0.0.1:9191\",\n"
    "  \"max_flows\": 65536,\n"
    "  \"services\": [\n"
    "    {\n"
    "      \"name\": \"sentiment\",\n"
    "      \"vip\": \"198.18.32.1:80\",\n"
    "      \"stable\": [\"198.18.16.10:8000\", \"198.18.16.11:8000\"],\n"
    "      \"canary\": [\"198.18.16.20:8000\"],\n"
    "      \"canary_percent\": 12.5,\n"
    "      \"metrics\": {\"preset\": \"kanary-modelserver\",\n"
    "                  \"interval\": \"500ms\", \"timeout\": \"400ms\"},\n"
    "      \"warmup\": {\"method\": \"POST\", \"path\": \"/predict\",\n"
    "                 \"body\": \"{\\\"text\\\": \\\"hi\\\"}\"},\n"
    "      \"rollout\": {\"steps\": [5, 50, 100], \"interval\": \"2s\",\n"
    "                  \"analysis\": {\"max_p99_increase\": \"80ms\"}}\n"
    "    },\n"
    "    {\n"
    "      \"name\": \"dns-model\", \"vip\": \"198.18.32.2:53\",\n"
    "      \"protocol\": \"udp\", \"stable\": [\"198.18.16.12:5353\"]\n"
    "    }\n"
    "  ]\n"
    "}\n";

static void test_good_config(void **state)
{
	struct agent_config cfg;
	char err[CONFIG_ERR_LEN] = "";
	const struct service_config *s;

	(void)state;
	config_init(&cfg);
	assert_int_equal(config_parse(good_config, strlen(good_config),
				      "node.json", &cfg, err, sizeof(err)),
			 0);
	assert_string_equal(cfg.iface, "eth1");
	assert_int_equal(cfg.mode, DP_MODE_TC);
	assert_int_equal(cfg.max_flows, 65536);
	assert_int_equal(cfg.service_count, 2);
	s = &cfg.services[0];
	assert_string_equal(s->def.name, "sentiment");
	assert_int_equal(s->def.vip.port, 80);
	assert_int_equal(s->def.vip.addr.s_addr, inet_addr("198.18.32.1"));
	assert_int_equal(s->def.stable_count, 2);
	assert_int_equal(s->def.canary_count, 1);
	assert_int_equal(s->def.canary_bp, 1250);
	assert_int_equal(s->def.proto, IPPROTO_TCP);
	assert_true(s->def.flags & KN_SVC_F_HTTP);
	assert_true(s->has_metrics);
	assert_int_equal(s->scrape_interval_ms, 500);
	assert_string_equal(s->warmup_method, "POST");
	assert_string_equal(s->warmup_body, "{\"text\": \"hi\"}");
	assert_int_equal(s->rollout.step_count, 3);
	assert_int_equal(s->rollout.steps_bp[0], 500);
	assert_int_equal(s->rollout.interval_ms, 2000);
	assert_int_equal(s->rollout.analysis.max_p99_increase_ms, 80);
	/* untouched thresholds keep their defaults */
	assert_float_equal(s->rollout.analysis.max_error_rate_increase_pp, 2.0,
			   1e-12);
	assert_int_equal(cfg.services[1].def.proto, IPPROTO_UDP);
	assert_false(cfg.services[1].def.flags & KN_SVC_F_HTTP);
	config_free(&cfg);
}

/* Replaces the first occurrence of `from` in good_config by `to`, parses
 * it, and checks the error text contains each of the expectations. */
static void expect_error(const char *from, const char *to,
			 const char *const *expect)
{
	char text[4096], err[CONFIG_ERR_LEN] = "";
	const char *at = strstr(good_config, from);
	struct agent_config cfg;
	size_t pre;

	assert_non_null(at);
	pre = (size_t)(at - good_config);
	snprintf(text, sizeof(text), "%.*s%s%s", (int)pre, good_config, to,
		 at + strlen(from));
	config_init(&cfg);
	assert_int_not_equal(config_parse(text, strlen(text), "node.json", &cfg,
					  err, sizeof(err)),
			     0);
	for (; *expect; expect++) {
		if (!strstr(err, *expect))
			fail_msg("error \"%s\" lacks \"%s\"", err, *expect);
	}
	config_free(&cfg);
}

static void test_errors_name_file_line_field(void **state)
{
	(void)state;
	expect_error("198.18.16.11:8000", "198.18.16.300:8000",
		     (const char *[]){"node.json:10:", "services[0].stable[1]",
				      "'198.18.16.300' is not an IPv4", NULL});
	expect_error("\"198.18.32.1:80\"", "\"198.18.32.1:0\"",
		     (const char *[]){"node.json:9:", "services[0].vip",
				      "not a port", NULL});
	expect_error(
	    "\"canary_percent\": 12.5", "\"canary_percent\": 12.345",
	    (const char *[]){"node.json:12:", "services[0].canary_percent",
			     "more than two decimals", NULL});
	expect_error("\"canary_percent\": 12.5", "\"canary_percent\": 101",
		     (const char *[]){"services[0].canary_percent",
				      "between 0 and 100", NULL});
	expect_error("\"mode\": \"tc\"", "\"mode\": \"fast\"",
		     (const char *[]){"node.json:3:", "mode", "\"xdp\"", NULL});
	expect_error("\"max_flows\": 65536", "\"max_flows\": \"many\"",
		     (const char *[]){"node.json:5:", "max_flows",
				      "whole number", NULL});
	expect_error("\"listen\"", "\"lisen\"",
		     (const char *[]){"node.json:4:", "lisen", "unknown field",
				      "listen", NULL});
	expect_error(
	    "[5, 50, 100]", "[5, 50, 40, 100]",
	    (const char *[]){"node.json:17:", "services[0].rollout.steps[2]",
			     "steps must increase", NULL});
	expect_error("[5, 50, 100]", "[5, 50]",
		     (const char *[]){"services[0].rollout.steps",
				      "last step must be 100", NULL});
	expect_error("\"80ms\"", "\"80\"",
		     (const char *[]){"node.json:18:",
				      "services[0].rollout.analysis."
				      "max_p99_increase",
				      "unit", NULL});
	expect_error("\"kanary-modelserver\"", "\"vllm2\"",
		     (const char *[]){"node.json:13:", "services[0].metrics",
				      "vllm2", NULL});
	expect_error("\"timeout\": \"400ms\"", "\"timeout\": \"900ms\"",
		     (const char *[]){"services[0].metrics.timeout",
				      "shorter than the scrape interval",
				      NULL});
	expect_error("[\"198.18.16.20:8000\"]", "[\"198.18.16.10:8000\"]",
		     (const char *[]){"services[0].canary[0]",
				      "also in the stable pool", NULL});
	expect_error("\"198.18.16.11:8000\"]", "\"198.18.16.10:8000\"]",
		     (const char *[]){"services[0].stable[1]", "twice", NULL});
	expect_error(
	    "\"dns-model\"", "\"sentiment\"",
	    (const char *[]){"services[1].name", "services[0] too", NULL});
	expect_error("\"protocol\": \"udp\"", "\"protocol\": \"sctp\"",
		     (const char *[]){"services[1].protocol", "\"tcp\"", NULL});
	expect_error("\"method\": \"POST\"", "\"method\": \"PUT\"",
		     (const char *[]){"services[0].warmup.method", NULL});
	expect_error("\"name\": \"sentiment\"", "\"name\": \"senti ment\"",
		     (const char *[]){"services[0].name", "letters", NULL});
	/* jansson's own errors: malformed JSON and duplicate keys */
	expect_error("\"eth1\",", "\"eth1\"",
		     (const char *[]){"node.json:3:", NULL});
	expect_error("\"mode\": \"tc\"", "\"interface\": \"eth2\"",
		     (const char *[]){"node.json:3:", "duplicate", NULL});
}

static void test_missing_file(void **state)
{
	struct agent_config cfg;
	char err[CONFIG_ERR_LEN];

	(void)state;
	config_init(&cfg);
	assert_int_equal(config_load_file("/nonexistent/kanary.json", &cfg, err,
					  sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/kanary.json"));
}

static void test_endpoints(void **state)
{
	struct endpoint list[4];
	struct endpoint ep;
	char err[NETADDR_ERR_LEN];
	size_t n;

	(void)state;
	assert_int_equal(
	    netaddr_parse_endpoint("198.18.0.10:8000", &ep, err, sizeof(err)),
	    0);
	assert_int_equal(ep.port, 8000);
	assert_int_equal(
	    netaddr_parse_endpoint("198.18.0.10", &ep, err, sizeof(err)),
	    -EINVAL);
	assert_int_equal(
	    netaddr_parse_endpoint("198.18.0.010:80", &ep, err, sizeof(err)),
	    -EINVAL);
	assert_int_equal(
	    netaddr_parse_endpoint("198.18.0.1:65536", &ep, err, sizeof(err)),
	    -EINVAL);
	assert_int_equal(
	    netaddr_parse_endpoint("198.18.0.1:+80", &ep, err, sizeof(err)),
	    -EINVAL);
	assert_int_equal(
	    netaddr_parse_endpoint("198.18.0:80", &ep, err, sizeof(err)),
	    -EINVAL);
	assert_int_equal(
	    netaddr_parse_endpoint(" 198.18.0.1:80", &ep, err, sizeof(err)),
	    -EINVAL);
	assert_int_equal(
	    netaddr_parse_endpoint_list("198.18.0.1:80,198.18.0.2:80", list, 4,
					&n, err, sizeof(err)),
	    0);
	assert_int_equal(n, 2);
	assert_int_equal(
	    netaddr_parse_endpoint_list("198.18.0.1:80,198.18.0.1:80", list, 4,
					&n, err, sizeof(err)),
	    -EINVAL);
	assert_non_null(strstr(err, "twice"));
	assert_int_equal(netaddr_parse_endpoint_list("198.18.0.1:80,", list, 4,
						     &n, err, sizeof(err)),
			 -EINVAL);
}

static void test_percent(void **state)
{
	static const struct {
		const char *text;
		int ret;
		uint32_t bp;
	} cases[] = {
	    {"0", 0, 0},
	    {"0.01", 0, 1},
	    {"12.5", 0, 1250},
	    {"100", 0, 10000},
	    {"100.00", 0, 10000},
	    {"99.99", 0, 9999},
	    {"100.01", -EINVAL, 0},
	    {"12.345", -EINVAL, 0},
	    {"-1", -EINVAL, 0},
	    {"abc", -EINVAL, 0},
	    {"", -EINVAL, 0},
	    {"1e2", -EINVAL, 0},
	    {"12.", -EINVAL, 0},
	    {".5", -EINVAL, 0},
	    {"1000", -EINVAL, 0},
	};
	char err[NETADDR_ERR_LEN];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t bp = 77777;
		int ret = netaddr_parse_percent_bp(cases[i].text, &bp, err,
						   sizeof(err));

		if (ret != cases[i].ret)
			fail_msg("'%s': got %d, expected %d", cases[i].text,
				 ret, cases[i].ret);
		if (!ret && bp != cases[i].bp)
			fail_msg("'%s': got %u bp, expected %u", cases[i].text,
				 bp, cases[i].bp);
	}
}

static void test_durations(void **state)
{
	char err[128], buf[UNITS_DURATION_STR_LEN];
	uint64_t ms;

	(void)state;
	assert_int_equal(
	    units_parse_duration_ms("250ms", &ms, err, sizeof(err)), 0);
	assert_int_equal(ms, 250);
	assert_int_equal(units_parse_duration_ms("1.5s", &ms, err, sizeof(err)),
			 0);
	assert_int_equal(ms, 1500);
	assert_int_equal(units_parse_duration_ms("10m", &ms, err, sizeof(err)),
			 0);
	assert_int_equal(ms, 600000);
	assert_int_equal(units_parse_duration_ms("2h", &ms, err, sizeof(err)),
			 0);
	assert_int_equal(ms, 7200000);
	assert_int_equal(units_parse_duration_ms("0s", &ms, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(units_parse_duration_ms("10", &ms, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "'10'"));
	assert_int_equal(
	    units_parse_duration_ms("1.0001s", &ms, err, sizeof(err)), -EINVAL);
	assert_int_equal(units_parse_duration_ms("5d", &ms, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(units_parse_duration_ms("-1s", &ms, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(
	    units_parse_duration_ms("999999999999h", &ms, err, sizeof(err)),
	    -EINVAL);
	assert_string_equal(units_format_duration_ms(1500, buf, sizeof(buf)),
			    "1500ms");
	assert_string_equal(units_format_duration_ms(30000, buf, sizeof(buf)),
			    "30s");
	assert_string_equal(units_format_duration_ms(600000, buf, sizeof(buf)),
			    "10m");
}

static void test_jpos_locate(void **state)
{
	static const char text[] =
	    "{\"a\": 1,\n \"b\": [10, {\"c\": \"x,]\"},\n"
	    "  {\"d\": [1, 2, 3]}]}";
	unsigned int line, col;

	(void)state;
	assert_int_equal(jpos_locate(text, strlen(text), "a", &line, &col), 0);
	assert_int_equal(line, 1);
	assert_int_equal(col, 7);
	assert_int_equal(jpos_locate(text, strlen(text), "b[1].c", &line, &col),
			 0);
	assert_int_equal(line, 2);
	assert_int_equal(col, 18);
	assert_int_equal(
	    jpos_locate(text, strlen(text), "b[2].d[2]", &line, &col), 0);
	assert_int_equal(line, 3);
	assert_int_equal(col, 16);
	assert_int_equal(jpos_locate(text, strlen(text), "b[3]", &line, &col),
			 -ENOENT);
	assert_int_equal(jpos_locate(text, strlen(text), "zz", &line, &col),
			 -ENOENT);
	/* never reads beyond len, whatever the input */
	assert_int_equal(jpos_locate("{\"a\": [", 7, "a[5].b", &line, &col),
			 -ENOENT);
}

static void test_rollout_spec_json(void **state)
{
	struct rollout_spec base, out;
	struct spec_error err;
	json_error_t jerr;
	json_t *obj, *round;

	(void)state;
	rollout_spec_defaults(&base);
	obj = json_loads("{\"step_count\": 10, \"window\": \"10m\", "
			 "\"min_requests\": 50}",
			 0, &jerr);
	assert_int_equal(rollout_spec_from_json(obj, &base, "", &out, &err), 0);
	assert_int_equal(out.step_count, 10);
	assert_int_equal(out.steps_bp[0], 1000);
	assert_int_equal(out.steps_bp[9], 10000);
	assert_int_equal(out.interval_ms, 60000);
	assert_int_equal(out.min_requests, 50);
	round = rollout_spec_to_json(&out);
	json_decref(obj);
	assert_int_equal(rollout_spec_from_json(round, &base, "", &base, &err),
			 0);
	assert_int_equal(base.step_count, 10);
	assert_int_equal(base.interval_ms, 60000);
	json_decref(round);

	rollout_spec_defaults(&base);
	obj = json_loads("{\"steps\": [10, 100], \"step_count\": 3}", 0, &jerr);
	assert_int_equal(rollout_spec_from_json(obj, &base, "", &out, &err),
			 -EINVAL);
	assert_string_equal(err.field, "steps");
	json_decref(obj);
	obj = json_loads("{\"steps\": [10, 100], \"interval\": 30}", 0, &jerr);
	assert_int_equal(rollout_spec_from_json(obj, &base, "", &out, &err),
			 -EINVAL);
	assert_string_equal(err.field, "interval");
	assert_non_null(strstr(err.message, "duration"));
	json_decref(obj);
	obj = json_loads("{\"analysis\": {\"error_confidence\": 1}}", 0, &jerr);
	assert_int_equal(rollout_spec_from_json(obj, &base, "", &out, &err),
			 -EINVAL);
	assert_string_equal(err.field, "analysis.error_confidence");
	json_decref(obj);
	obj = json_loads("[10, 100]", 0, &jerr);
	assert_int_equal(rollout_spec_from_json(obj, &base, "", &out, &err),
			 -EINVAL);
	json_decref(obj);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good_config),
	    cmocka_unit_test(test_errors_name_file_line_field),
	    cmocka_unit_test(test_missing_file),
	    cmocka_unit_test(test_endpoints),
	    cmocka_unit_test(test_percent),
	    cmocka_unit_test(test_durations),
	    cmocka_unit_test(test_jpos_locate),
	    cmocka_unit_test(test_rollout_spec_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
