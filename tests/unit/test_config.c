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
#include "util/text.h"
#include "util/units.h"
#include "spec_json.h"

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

/* Parses text, expects an error holding each of expect, and never a
 * control character (the error goes to a terminal or a log). */
static void expect_text_error(const char *text, const char *const *expect)
{
	char err[CONFIG_ERR_LEN] = "";
	struct agent_config cfg;

	config_init(&cfg);
	assert_int_not_equal(config_parse(text, strlen(text), "node.json", &cfg,
					  err, sizeof(err)),
			     0);
	for (; *expect; expect++) {
		if (!strstr(err, *expect))
			fail_msg("error \"%s\" lacks \"%s\"", err, *expect);
	}
	if (text_control_at(err, strlen(err), false) < strlen(err))
		fail_msg("error \"%s\" holds a control character", err);
	config_free(&cfg);
}

/* good_config with the first occurrence of `from` replaced by `to`. */
static void edited_config(const char *from, const char *to, char *text,
			  size_t len)
{
	const char *at = strstr(good_config, from);
	size_t pre;

	if (!at)
		fail_msg("good_config lacks \"%s\"", from);
	pre = (size_t)(at - good_config);
	snprintf(text, len, "%.*s%s%s", (int)pre, good_config, to,
		 at + strlen(from));
}

/* Replaces the first occurrence of `from` in good_config by `to`, parses
 * it, and checks the error text contains each of the expectations. */
static void expect_error(const char *from, const char *to,
			 const char *const *expect)
{
	char text[4096];

	edited_config(from, to, text, sizeof(text));
	expect_text_error(text, expect);
}

/* The same edit must parse. */
static void expect_good(const char *from, const char *to,
			struct agent_config *cfg)
{
	char text[4096], err[CONFIG_ERR_LEN] = "";

	edited_config(from, to, text, sizeof(text));
	config_init(cfg);
	if (config_parse(text, strlen(text), "node.json", cfg, err,
			 sizeof(err)))
		fail_msg("'%s' -> '%s' refused: %s", from, to, err);
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
		     (const char *[]){"node.json:11:18: services[0].canary[0]: "
				      "198.18.16.10:8000 is also in the stable "
				      "pool (stable[0])",
				      NULL});
	expect_error("\"198.18.16.11:8000\"]", "\"198.18.16.10:8000\"]",
		     (const char *[]){"node.json:10:39: services[0].stable[1]: "
				      "198.18.16.10:8000 is listed twice in "
				      "stable (as stable[0] too)",
				      NULL});
	expect_error("\"dns-model\"", "\"sentiment\"",
		     (const char *[]){"node.json:21:15: services[1].name: "
				      "'sentiment' is used by services[0] too",
				      NULL});
	expect_error("\"198.18.32.2:53\",\n      \"protocol\": \"udp\"",
		     "\"198.18.32.1:80\",\n      \"protocol\": \"tcp\"",
		     (const char *[]){"node.json:21:35: services[1].vip: the "
				      "same VIP:port and protocol as "
				      "services[0] ('sentiment')",
				      NULL});
	expect_error("\"protocol\": \"udp\"", "\"protocol\": \"sctp\"",
		     (const char *[]){"services[1].protocol", "\"tcp\"", NULL});
	expect_error("\"method\": \"POST\"", "\"method\": \"PUT\"",
		     (const char *[]){"services[0].warmup.method", NULL});
	expect_error("\"name\": \"sentiment\"", "\"name\": \"senti ment\"",
		     (const char *[]){"services[0].name", "letters", NULL});
	expect_error("\"198.18.32.1:80\"", "\"198.18.32.1:080\"",
		     (const char *[]){"node.json:9:14: services[0].vip: ",
				      "'080' is not a port (a number 1-65535 "
				      "without leading zeros)",
				      NULL});
	expect_error("\"interval\": \"2s\"",
		     "\"interval\": \"2s\", \"min_requests\": 1.5",
		     (const char *[]){"node.json:17:",
				      "services[0].rollout."
				      "min_requests: must be a "
				      "whole number, not 1.5",
				      NULL});
	expect_error("\"max_flows\": 65536",
		     "\"max_flows\": 65536, \"tick\": \"99999999h\"",
		     (const char *[]){"node.json:5:",
				      "tick: '99999999h' is too "
				      "large: durations go up "
				      "to 87600h",
				      NULL});
	/* jansson's own errors: malformed JSON and duplicate keys */
	expect_error("\"eth1\",", "\"eth1\"",
		     (const char *[]){"node.json:3:", NULL});
	expect_error("\"mode\": \"tc\"", "\"interface\": \"eth2\"",
		     (const char *[]){"node.json:3:", "duplicate", NULL});
}

/* Backends that cannot be right, named with their line and column. */
/* "affinity": "client" (the default, as before) or "connection"; anything
 * else is refused with the field named. */
static void test_affinity(void **state)
{
	struct agent_config cfg;
	bool connection = false;

	(void)state;
	expect_good("\"canary_percent\": 12.5",
		    "\"canary_percent\": 12.5, \"affinity\": \"connection\"",
		    &cfg);
	assert_true(cfg.services[0].def.flags & KN_SVC_F_CONNECTION_AFFINITY);
	assert_true(cfg.services[0].def.flags & KN_SVC_F_HTTP);
	assert_false(cfg.services[1].def.flags & KN_SVC_F_CONNECTION_AFFINITY);
	assert_string_equal(affinity_name(cfg.services[0].def.flags),
			    "connection");
	assert_string_equal(affinity_name(cfg.services[1].def.flags), "client");
	config_free(&cfg);
	expect_good("\"canary_percent\": 12.5",
		    "\"canary_percent\": 12.5, \"affinity\": \"client\"", &cfg);
	assert_int_equal(cfg.services[0].def.flags, KN_SVC_F_HTTP);
	config_free(&cfg);

	expect_error("\"canary_percent\": 12.5",
		     "\"canary_percent\": 12.5, \"affinity\": \"sticky\"",
		     (const char *[]){"node.json:12:",
				      "services[0].affinity: must be "
				      "\"client\" or \"connection\"",
				      NULL});
	expect_error(
	    "\"canary_percent\": 12.5",
	    "\"canary_percent\": 12.5, \"affinity\": true",
	    (const char *[]){"services[0].affinity", "\"connection\"", NULL});
	expect_error("\"canary_percent\": 12.5",
		     "\"canary_percent\": 12.5, "
		     "\"affinity\": \"client\\u0000x\"",
		     (const char *[]){"node.json:12:", "\\u0000 (NUL)", NULL});

	assert_int_equal(affinity_parse("connection", &connection), 0);
	assert_true(connection);
	assert_int_equal(affinity_parse("client", &connection), 0);
	assert_false(connection);
	assert_int_equal(affinity_parse("Client", &connection), -EINVAL);
	assert_int_equal(affinity_parse("", &connection), -EINVAL);
}

static void test_backends_that_cannot_be_right(void **state)
{
	static const struct {
		const char *backend;
		const char *why;
	} cases[] = {
	    {"198.18.32.1:80", "198.18.32.1:80 is the VIP of service "
			       "'sentiment': its traffic would come back"},
	    {"0.0.0.0:8000", "0.0.0.0:8000 is a 'this network' address"},
	    {"0.1.2.3:8000", "0.1.2.3:8000 is a 'this network' address"},
	    {"255.255.255.255:8000", "is the broadcast address"},
	    {"224.0.0.1:8000", "224.0.0.1:8000 is a multicast address"},
	    {"239.255.0.1:8000", "is a multicast address (224.0.0.0/4)"},
	    {"240.0.0.1:8000", "240.0.0.1:8000 is a reserved address"},
	    {"127.0.0.1:8000", "127.0.0.1:8000 is a loopback address "
			       "(127.0.0.0/8), the node itself: a model "
			       "server on the node needs "
			       "\"allow_local_backends\": true"},
	    {"127.1.2.3:8000", "--allow-local-backends"},
	};
	struct agent_config cfg;
	char to[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(to, sizeof(to), "\"%s\"]", cases[i].backend);
		expect_error("\"198.18.16.11:8000\"]", to,
			     (const char *[]){"node.json:10:39: "
					      "services[0].stable[1]: ",
					      cases[i].why, NULL});
	}
	/* another service's VIP: a loop through the other service */
	expect_error(
	    "\"198.18.16.12:5353\"",
	    "\"198.18.16.12:5353\", \"198.18.32.2:53\"",
	    (const char *[]){"node.json:22:58: services[1].stable[1]: "
			     "198.18.32.2:53 is the VIP of service 'dns-model'",
			     NULL});
	expect_error(
	    "\"198.18.16.12:5353\"",
	    "\"198.18.16.12:5353\"], \"canary\": [\"198.18.32.2:53\"",
	    (const char *[]){"services[1].canary[0]", "'dns-model'", NULL});
	/* the VIP of a TCP service is no loop for a UDP one */
	expect_good("\"198.18.16.12:5353\"", "\"198.18.32.1:80\"", &cfg);
	config_free(&cfg);
	/* a node-local backend, said so */
	expect_good("\"198.18.16.11:8000\"]",
		    "\"127.0.0.1:8000\"], \"allow_local_backends\": true",
		    &cfg);
	assert_true(cfg.services[0].allow_local_backends);
	assert_false(cfg.services[1].allow_local_backends);
	config_free(&cfg);
	/* ...which allows loopback, nothing else */
	expect_error(
	    "\"198.18.16.11:8000\"]",
	    "\"224.0.0.1:8000\"], \"allow_local_backends\": true",
	    (const char *[]){"services[0].stable[1]", "multicast", NULL});
	expect_error("\"198.18.16.11:8000\"]",
		     "\"198.18.32.1:80\"], \"allow_local_backends\": true",
		     (const char *[]){"services[0].stable[1]", "a loop", NULL});
	expect_error("\"198.18.16.11:8000\"]",
		     "\"198.18.16.11:8000\"], \"allow_local_backends\": 1",
		     (const char *[]){"node.json:10:85: "
				      "services[0].allow_local_backends: must "
				      "be true or false",
				      NULL});
}

/* Control characters in any string that reaches a request or a log. */
static void test_control_characters(void **state)
{
	struct agent_config cfg;

	(void)state;
	expect_error("\"method\": \"POST\"",
		     "\"method\": \"POST\", \"content_type\": "
		     "\"text/plain\\r\\nX-Injected-CT: 1\"",
		     (const char *[]){"node.json:15:",
				      "services[0].warmup."
				      "content_type: holds a "
				      "control character (CR "
				      "at byte 10)",
				      NULL});
	expect_error(
	    "\"/predict\"", "\"/predict\\n\"",
	    (const char *[]){"node.json:15:44: services[0].warmup.path: "
			     "holds a control character (LF at byte 8)",
			     NULL});
	expect_error("\"/predict\"", "\"/pre dict\"",
		     (const char *[]){"services[0].warmup.path",
				      "must not hold a space", NULL});
	expect_error("\"interval\": \"500ms\"",
		     "\"path\": \"/metrics\\r\\n\", \"interval\": \"500ms\"",
		     (const char *[]){"node.json:14:",
				      "services[0].metrics.path: "
				      "holds a control "
				      "character (CR at byte 8)",
				      NULL});
	expect_error("\"kanary-modelserver\"", "\"vllm\\u001b[31m\"",
		     (const char *[]){"node.json:13:",
				      "services[0].metrics."
				      "preset: holds a control "
				      "character (ESC at byte "
				      "4)",
				      NULL});
	expect_error(
	    "\"kanary-modelserver\"",
	    "\"generic\", \"requests\": [\"a_total\", \"b\\t_total\"]",
	    (const char *[]){"services[0].metrics.requests[1]: holds a "
			     "control character (TAB at byte 1)",
			     NULL});
	expect_error("\"2s\"", "\"2s\\n\"",
		     (const char *[]){"node.json:17:",
				      "services[0].rollout."
				      "interval: the duration "
				      "holds a control "
				      "character (LF at byte "
				      "2)",
				      NULL});
	expect_error("\"198.18.16.20:8000\"", "\"198.18.16.20:8000\\n\"",
		     (const char *[]){"node.json:11:18: services[0].canary[0]: "
				      "the endpoint holds a control character "
				      "(LF at byte 17)",
				      NULL});
	expect_error("\"127.0.0.1:9191\"", "\"127.0.0.1:9191\\t\"",
		     (const char *[]){"node.json:4:",
				      "listen: holds a control "
				      "character (TAB",
				      NULL});
	expect_error("\"eth1\"", "\"eth\\u007f\"",
		     (const char *[]){"node.json:2:",
				      "interface: holds a "
				      "control character (DEL",
				      NULL});
	/* an unknown key with a line break: not echoed */
	expect_error("\"listen\"", "\"li\\nsten\"",
		     (const char *[]){"(top level): has an unknown field whose "
				      "name holds a control character",
				      NULL});
	expect_error("\"listen\"", "\"li\\u0000sten\"",
		     (const char *[]){"node.json:4:", NULL});
	/* a NUL in a string: jansson refuses it; said without its flags */
	expect_error("\"eth1\"", "\"eth\\u00001\"",
		     (const char *[]){"node.json:2:", "\\u0000 (NUL)", NULL});
	/* a POST body may span lines: it is no header and never logged */
	expect_good("\"{\\\"text\\\": \\\"hi\\\"}\"",
		    "\"{\\n \\\"text\\\": 1\\r\\n}\"", &cfg);
	assert_string_equal(cfg.services[0].warmup_body,
			    "{\n \"text\": 1\r\n}");
	config_free(&cfg);
	expect_error(
	    "\"{\\\"text\\\": \\\"hi\\\"}\"", "\"{\\u0007}\"",
	    (const char *[]){"services[0].warmup.body: holds a control "
			     "character (0x07 at byte 1)",
			     NULL});
}

/* Names that break a path or a command line. */
static void test_service_names(void **state)
{
	static const struct {
		const char *name;
		const char *why; /* NULL: good */
	} cases[] = {
	    {"sentiment", NULL},
	    {"a.b-c_d", NULL},
	    {"v1.2", NULL},
	    {"x", NULL},
	    {".", "must not be '.' or '..'"},
	    {"..", "must not be '.' or '..'"},
	    {"-a", "must not start with '-'"},
	    {"--help", "must not start with '-'"},
	    {"", "must be 1-31 letters"},
	    {"a/b", "must be 1-31 letters"},
	    {"a b", "must be 1-31 letters"},
	    {"0123456789012345678901234567890", NULL},
	    {"01234567890123456789012345678901", "must be 1-31 letters"},
	};
	char why[CONFIG_ERR_LEN], to[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int ret =
		    config_check_service_name(cases[i].name, why, sizeof(why));

		if (!cases[i].why) {
			if (ret)
				fail_msg("'%s' refused: %s", cases[i].name,
					 why);
			continue;
		}
		if (ret != -EINVAL || !strstr(why, cases[i].why))
			fail_msg("'%s': got %d \"%s\", expected \"%s\"",
				 cases[i].name, ret, ret ? why : "",
				 cases[i].why);
	}
	for (i = 4; i < 8; i++) {
		snprintf(to, sizeof(to), "\"name\": \"%s\"", cases[i].name);
		expect_error("\"name\": \"sentiment\"", to,
			     (const char *[]){"node.json:8:15: "
					      "services[0].name: ",
					      cases[i].why, NULL});
	}
}

/* The start's limits: what --check-config must find too. */
static void test_limits(void **state)
{
	enum { SERVICES = KN_MAX_SERVICES + 1 };
	const size_t per_service = 160;
	size_t len = 64 + SERVICES * per_service, used;
	char *text = malloc(len);
	char err[CONFIG_ERR_LEN] = "";
	struct agent_config cfg;
	int i;

	(void)state;
	expect_error(
	    "\"max_flows\": 65536", "\"max_services\": 1",
	    (const char *[]){"node.json:20:5: services[1]: 2 services, "
			     "more than the node's 1 service slots: "
			     "raise max_services (--max-services; at "
			     "most 1024)",
			     NULL});
	expect_error("\"max_flows\": 65536", "\"max_backends\": 2",
		     (const char *[]){"node.json:7:5: services[0]: brings the "
				      "backends to 3, more than the node's 2 "
				      "backend slots: raise max_backends",
				      NULL});
	expect_error("\"max_flows\": 65536", "\"max_services\": 1025",
		     (const char *[]){"node.json:5:", "max_services",
				      "between 1 and 1024", NULL});
	/* one more service than the kernel has slots for */
	assert_non_null(text);
	used = (size_t)snprintf(text, len,
				"{\"interface\": \"eth1\", "
				"\"services\": [\n");
	for (i = 0; i < SERVICES; i++)
		used += (size_t)snprintf(
		    text + used, len - used,
		    "%s{\"name\": \"s%d\", \"vip\": \"198.18.%d.%d:80\", "
		    "\"stable\": [\"198.19.%d.%d:80\"]}\n",
		    i ? "," : "", i, i / 250, i % 250 + 1, i / 250,
		    i % 250 + 1);
	snprintf(text + used, len - used, "]}\n");
	config_init(&cfg);
	assert_int_equal(config_parse(text, strlen(text), "node.json", &cfg,
				      err, sizeof(err)),
			 -EINVAL);
	if (!strstr(err, "node.json:1026:2: services[1024]: 1025 services, "
			 "more than the node's 1024 service slots"))
		fail_msg("error \"%s\"", err);
	config_free(&cfg);
	free(text);
}

/* config_check_backends, as PUT .../backends calls it. */
static const char *one_vip_owner(const void *arg, uint8_t proto,
				 const struct endpoint *ep)
{
	const struct endpoint *vip = arg;

	return proto == IPPROTO_TCP && !netaddr_endpoint_cmp(vip, ep) ? "other"
								      : NULL;
}

static void test_check_backends(void **state)
{
	struct dp_service_def def = {.proto = IPPROTO_TCP};
	char field[CONFIG_FIELD_LEN], why[CONFIG_ERR_LEN], err[64];
	struct endpoint vip;

	(void)state;
	assert_int_equal(
	    netaddr_parse_endpoint("198.18.9.9:80", &vip, err, sizeof(err)), 0);
	assert_int_equal(netaddr_parse_endpoint("198.18.0.1:80", &def.stable[0],
						err, sizeof(err)),
			 0);
	assert_int_equal(netaddr_parse_endpoint("198.18.9.9:80", &def.canary[0],
						err, sizeof(err)),
			 0);
	def.stable_count = 1;
	assert_int_equal(config_check_backends(&def, false, one_vip_owner, &vip,
					       field, sizeof(field), why,
					       sizeof(why)),
			 0);
	def.canary_count = 1;
	assert_int_equal(config_check_backends(&def, false, one_vip_owner, &vip,
					       field, sizeof(field), why,
					       sizeof(why)),
			 -EINVAL);
	assert_string_equal(field, "canary[0]");
	assert_non_null(strstr(why, "198.18.9.9:80 is the VIP of service "
				    "'other'"));
	def.proto = IPPROTO_UDP;
	assert_int_equal(config_check_backends(&def, false, one_vip_owner, &vip,
					       field, sizeof(field), why,
					       sizeof(why)),
			 0);
	assert_int_equal(netaddr_parse_endpoint("127.0.0.1:80", &def.canary[0],
						err, sizeof(err)),
			 0);
	assert_int_equal(config_check_backends(&def, false, NULL, NULL, field,
					       sizeof(field), why, sizeof(why)),
			 -EINVAL);
	assert_string_equal(field, "canary[0]");
	assert_non_null(strstr(why, "loopback"));
	assert_int_equal(config_check_backends(&def, true, NULL, NULL, field,
					       sizeof(field), why, sizeof(why)),
			 0);
	def.canary[0] = def.stable[0];
	assert_int_equal(config_check_backends(&def, true, NULL, NULL, field,
					       sizeof(field), why, sizeof(why)),
			 -EINVAL);
	assert_string_equal(field, "canary[0]");
	assert_non_null(strstr(why, "also in the stable pool (stable[0])"));
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
	uint32_t n32;
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
	/* leading zeros: refused in ports as in octets */
	assert_int_equal(
	    netaddr_parse_endpoint("198.18.0.1:080", &ep, err, sizeof(err)),
	    -EINVAL);
	assert_non_null(strstr(err, "'080' is not a port"));
	assert_non_null(strstr(err, "without leading zeros"));
	assert_int_equal(
	    netaddr_parse_endpoint("198.18.0.1:00", &ep, err, sizeof(err)),
	    -EINVAL);
	assert_int_equal(
	    netaddr_parse_endpoint("198.18.0.1:8080", &ep, err, sizeof(err)),
	    0);
	/* a control character is named, never echoed */
	assert_int_equal(
	    netaddr_parse_endpoint("198.18.0.1:80\r\n", &ep, err, sizeof(err)),
	    -EINVAL);
	assert_string_equal(err, "the endpoint holds a control character (CR "
				 "at byte 13): line breaks, tabs and other "
				 "control characters are not allowed here");
	assert_int_equal(netaddr_parse_endpoint_list("198.18.0.1:80,\n", list,
						     4, &n, err, sizeof(err)),
			 -EINVAL);
	assert_null(strchr(err, '\n'));
	assert_int_equal(
	    netaddr_parse_percent_bp("5\n", &n32, err, sizeof(err)), -EINVAL);
	assert_null(strchr(err, '\n'));
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

/* IPv6 endpoints: brackets, printing, and every way to get them wrong. */
static void test_endpoints_ipv6(void **state)
{
	static const struct {
		const char *text;
		const char *why; /* NULL: good, printed back as text */
	} cases[] = {
	    {"[2001:2::10]:8000", NULL},
	    {"[2001:2:0:0:0:0:0:10]:8000", "[2001:2::10]:8000"},
	    {"[2001:2::1]:1", NULL},
	    {"[::1]:80", NULL},
	    {"2001:2::10:8000", "an IPv6 address goes in brackets"},
	    {"[2001:2::10:8000", "has no ']' closing its IPv6 address"},
	    {"[2001:2::10]", "has no ':PORT' after its ']'"},
	    {"[2001:2::10]8000", "has no ':PORT' after its ']'"},
	    {"[2001:2::10]:", "is not a port"},
	    {"[2001:2::10]:65536", "'65536' is not a port"},
	    {"[2001:2::10]:0", "'0' is not a port"},
	    {"[2001:2::10]:080", "without leading zeros"},
	    {"[fe80::1%eth0]:8000", "has a zone id"},
	    {"[::ffff:198.18.0.1]:8000", "is an IPv4-mapped IPv6 address"},
	    {"[2001:2::g]:8000", "'2001:2::g' is not an IPv6 address"},
	    {"[]:8000", "empty IPv6 address"},
	    {"[198.18.0.1]:8000", "is not an IPv6 address"},
	};
	struct endpoint ep, list[4];
	char err[NETADDR_ERR_LEN], out[NETADDR_ENDPOINT_STR_LEN];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int ret = netaddr_parse_endpoint(cases[i].text, &ep, err,
						 sizeof(err));
		const char *want = cases[i].why;

		if (!want || want[0] == '[') {
			if (ret)
				fail_msg("%s: refused: %s", cases[i].text, err);
			assert_int_equal(ep.family, AF_INET6);
			netaddr_endpoint_str(&ep, out, sizeof(out));
			assert_string_equal(out, want ? want : cases[i].text);
			continue;
		}
		if (ret != -EINVAL || !strstr(err, want))
			fail_msg("%s: %d '%s', expected '%s'", cases[i].text,
				 ret, err, want);
	}
	/* the host alone, as a URL needs it */
	assert_int_equal(
	    netaddr_parse_endpoint("[2001:2::10]:8000", &ep, err, sizeof(err)),
	    0);
	assert_string_equal(netaddr_endpoint_host(&ep, out, sizeof(out)),
			    "[2001:2::10]");
	/* the longest address fits the printed form */
	assert_int_equal(netaddr_parse_endpoint(
			     "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe]:65535",
			     &ep, err, sizeof(err)),
			 0);
	assert_string_equal(netaddr_endpoint_str(&ep, out, sizeof(out)),
			    "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe]:65535");
	/* lists mix nothing up; duplicates are found in either family */
	assert_int_equal(
	    netaddr_parse_endpoint_list("[2001:2::10]:8000,[2001:2::11]:8000",
					list, 4, &n, err, sizeof(err)),
	    0);
	assert_int_equal(n, 2);
	assert_int_equal(
	    netaddr_parse_endpoint_list("[2001:2::10]:8000,[2001:2:0::10]:8000",
					list, 4, &n, err, sizeof(err)),
	    -EINVAL);
	assert_non_null(strstr(err, "twice"));
	/* an IPv4 and an IPv6 endpoint differ, whatever their bytes */
	assert_int_equal(
	    netaddr_parse_endpoint("198.18.0.1:80", &list[0], err, sizeof(err)),
	    0);
	assert_int_equal(
	    netaddr_parse_endpoint("[c612:1::]:80", &list[1], err, sizeof(err)),
	    0);
	assert_int_not_equal(netaddr_endpoint_cmp(&list[0], &list[1]), 0);
	/* address classes a backend cannot have */
	assert_int_equal(
	    netaddr_parse_endpoint("[::]:80", &ep, err, sizeof(err)), 0);
	assert_int_equal(netaddr_classify_endpoint(&ep), NETADDR_UNSPECIFIED6);
	assert_int_equal(
	    netaddr_parse_endpoint("[ff02::1]:80", &ep, err, sizeof(err)), 0);
	assert_int_equal(netaddr_classify_endpoint(&ep), NETADDR_MULTICAST);
	assert_int_equal(
	    netaddr_parse_endpoint("[fe80::1]:80", &ep, err, sizeof(err)), 0);
	assert_int_equal(netaddr_classify_endpoint(&ep), NETADDR_LINK_LOCAL6);
	assert_int_equal(
	    netaddr_parse_endpoint("[::1]:80", &ep, err, sizeof(err)), 0);
	assert_int_equal(netaddr_classify_endpoint(&ep), NETADDR_LOOPBACK);
}

/* A service is one family; a v4 and a v6 service may share a port. */
static void test_dual_stack_services(void **state)
{
	struct agent_config cfg;

	(void)state;
	expect_error("\"198.18.16.11:8000\"]", "\"[2001:2::11]:8000\"]",
		     (const char *[]){"services[0].stable[1]: "
				      "[2001:2::11]:8000 is IPv6 but the "
				      "service's VIP is IPv4",
				      NULL});
	expect_error("\"vip\": \"198.18.32.1:80\"",
		     "\"vip\": \"[2001:2::1]:80\"",
		     (const char *[]){"services[0].stable[0]: "
				      "198.18.16.10:8000 is IPv4 but the "
				      "service's VIP is IPv6",
				      NULL});
	/* the same port on an IPv6 VIP beside the IPv4 one */
	expect_good("\"dns-model\", \"vip\": \"198.18.32.2:53\",\n"
		    "      \"protocol\": \"udp\", \"stable\": "
		    "[\"198.18.16.12:5353\"]",
		    "\"dns-model\", \"vip\": \"[2001:2::1]:80\",\n"
		    "      \"stable\": [\"[2001:2::10]:8000\", "
		    "\"[2001:2::11]:8000\"], \"canary\": "
		    "[\"[2001:2::20]:8000\"]",
		    &cfg);
	assert_int_equal(cfg.services[1].def.vip.family, AF_INET6);
	assert_int_equal(cfg.services[1].def.vip.port, 80);
	assert_int_equal(cfg.services[1].def.stable_count, 2);
	assert_int_equal(cfg.services[0].def.vip.port, 80);
	config_free(&cfg);
	/* the VIP of the IPv6 service is a loop as a backend of itself */
	expect_error("\"dns-model\", \"vip\": \"198.18.32.2:53\",\n"
		     "      \"protocol\": \"udp\", \"stable\": "
		     "[\"198.18.16.12:5353\"]",
		     "\"dns-model\", \"vip\": \"[2001:2::1]:80\",\n"
		     "      \"stable\": [\"[2001:2::1]:80\"]",
		     (const char *[]){"services[1].stable[0]",
				      "is the VIP of service 'dns-model'",
				      NULL});
	expect_error("\"dns-model\", \"vip\": \"198.18.32.2:53\",\n"
		     "      \"protocol\": \"udp\", \"stable\": "
		     "[\"198.18.16.12:5353\"]",
		     "\"dns-model\", \"vip\": \"[2001:2::1]:80\",\n"
		     "      \"stable\": [\"[::1]:8000\"]",
		     (const char *[]){"services[1].stable[0]",
				      "the IPv6 loopback address (::1), the "
				      "node itself",
				      NULL});
}

static void test_address_classes(void **state)
{
	static const struct {
		const char *addr;
		enum netaddr_class class;
	} cases[] = {
	    {"198.18.0.1", NETADDR_UNICAST},
	    {"1.0.0.0", NETADDR_UNICAST},
	    {"223.255.255.255", NETADDR_UNICAST},
	    {"0.0.0.0", NETADDR_THIS_NETWORK},
	    {"0.255.255.255", NETADDR_THIS_NETWORK},
	    {"127.0.0.1", NETADDR_LOOPBACK},
	    {"127.255.255.254", NETADDR_LOOPBACK},
	    {"128.0.0.1", NETADDR_UNICAST},
	    {"224.0.0.0", NETADDR_MULTICAST},
	    {"239.255.255.255", NETADDR_MULTICAST},
	    {"240.0.0.0", NETADDR_RESERVED},
	    {"255.255.255.254", NETADDR_RESERVED},
	    {"255.255.255.255", NETADDR_BROADCAST},
	};
	struct in_addr a;
	char err[NETADDR_ERR_LEN];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(
		    netaddr_parse_ipv4(cases[i].addr, &a, err, sizeof(err)), 0);
		if (netaddr_classify(a) != cases[i].class)
			fail_msg("%s: class %d, expected %d", cases[i].addr,
				 netaddr_classify(a), cases[i].class);
	}
}

static void test_text_control(void **state)
{
	char why[TEXT_ERR_LEN];

	(void)state;
	assert_int_equal(
	    text_refuse_control("plain text é", 13, false, why, sizeof(why)),
	    0);
	assert_int_equal(
	    text_refuse_control("a\nb", 3, false, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "(LF at byte 1)"));
	assert_int_equal(
	    text_refuse_control("a\r\n\tb", 5, true, why, sizeof(why)), 0);
	assert_int_equal(
	    text_refuse_control("a\r\n\x01", 4, true, why, sizeof(why)),
	    -EINVAL);
	assert_non_null(strstr(why, "(0x01 at byte 3)"));
	assert_int_equal(
	    text_refuse_control("ab\0c", 4, false, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "(NUL at byte 2)"));
	assert_int_equal(text_control_at("abc\x7f", 4, false), 3);
	assert_int_equal(text_control_at("abc", 3, false), 3);
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
	assert_string_equal(err, "'999999999999h' is too large: durations go "
				 "up to 87600h (ten years)");
	assert_int_equal(
	    units_parse_duration_ms("99999999h", &ms, err, sizeof(err)),
	    -EINVAL);
	assert_non_null(strstr(err, "is too large"));
	assert_int_equal(
	    units_parse_duration_ms("87600h", &ms, err, sizeof(err)), 0);
	assert_int_equal(
	    units_parse_duration_ms("87601h", &ms, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "is too large"));
	assert_int_equal(units_parse_duration_ms("2s\n", &ms, err, sizeof(err)),
			 -EINVAL);
	assert_null(strchr(err, '\n'));
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

	(void)state;
	rollout_spec_defaults(&base);
	assert_int_equal(spec_from_text("{\"step_count\": 10, \"window\": "
					"\"10m\", \"min_requests\": 50}",
					&base, &out, &err),
			 0);
	assert_int_equal(out.step_count, 10);
	assert_int_equal(out.steps_bp[0], 1000);
	assert_int_equal(out.steps_bp[9], 10000);
	assert_int_equal(out.interval_ms, 60000);
	assert_int_equal(out.min_requests, 50);
	assert_int_equal(spec_round_trip(&out, &base, &base, NULL, &err), 0);
	assert_int_equal(base.step_count, 10);
	assert_int_equal(base.interval_ms, 60000);

	rollout_spec_defaults(&base);
	assert_int_equal(
	    spec_from_text("{\"steps\": [10, 100], \"step_count\": 3}", &base,
			   &out, &err),
	    -EINVAL);
	assert_string_equal(err.field, "steps");
	assert_int_equal(
	    spec_from_text("{\"steps\": [10, 100], \"interval\": 30}", &base,
			   &out, &err),
	    -EINVAL);
	assert_string_equal(err.field, "interval");
	assert_non_null(strstr(err.message, "duration"));
	assert_int_equal(
	    spec_from_text("{\"analysis\": {\"error_confidence\": 1}}", &base,
			   &out, &err),
	    -EINVAL);
	assert_string_equal(err.field, "analysis.error_confidence");
	assert_int_equal(spec_from_text("[10, 100]", &base, &out, &err),
			 -EINVAL);
}

/* Cluster mode's settings: off unless given, each field checked. */
static void test_cluster(void **state)
{
	static const char on[] =
	    "\"max_flows\": 65536, \"cluster\": {\"etcd\": "
	    "[\"http://198.18.48.100:2379\", \"http://198.18.48.101:2379\"], "
	    "\"node\": \"node-a\", \"lease\": \"5s\"}";
	struct cluster_config cl;
	struct agent_config cfg;
	char why[CONFIG_ERR_LEN], field[CONFIG_FIELD_LEN];

	(void)state;
	expect_good("\"max_flows\": 65536", "\"max_flows\": 65536", &cfg);
	assert_false(cfg.cluster.enabled);
	config_free(&cfg);
	expect_good("\"max_flows\": 65536", on, &cfg);
	assert_true(cfg.cluster.enabled);
	assert_int_equal(cfg.cluster.etcd_count, 2);
	assert_string_equal(cfg.cluster.etcd[1], "http://198.18.48.101:2379");
	assert_string_equal(cfg.cluster.node, "node-a");
	assert_string_equal(cfg.cluster.prefix, CONFIG_DEFAULT_CLUSTER_PREFIX);
	assert_int_equal(cfg.cluster.lease_ms, 5000);
	config_free(&cfg);
	expect_error(
	    "\"max_flows\": 65536",
	    "\"max_flows\": 65536, \"cluster\": {\"etcd\": []}",
	    (const char *[]){"cluster.etcd", "list of etcd endpoints", NULL});
	expect_error("\"max_flows\": 65536",
		     "\"max_flows\": 65536, \"cluster\": {\"etcd\": "
		     "[\"ftp://x\"], \"node\": \"a\"}",
		     (const char *[]){"cluster.etcd[0]",
				      "'ftp://x' is not an etcd "
				      "endpoint",
				      NULL});
	expect_error("\"max_flows\": 65536",
		     "\"max_flows\": 65536, \"cluster\": {\"etcd\": "
		     "[\"http://h:2379\"]}",
		     (const char *[]){"cluster.node", "--node NAME", NULL});
	expect_error("\"max_flows\": 65536",
		     "\"max_flows\": 65536, \"cluster\": {\"etcd\": "
		     "[\"http://h:2379\"], \"node\": \"a\", \"lease\": "
		     "\"1500ms\"}",
		     (const char *[]){"cluster.lease", "whole seconds", NULL});
	expect_error(
	    "\"max_flows\": 65536",
	    "\"max_flows\": 65536, \"cluster\": {\"etcd\": "
	    "[\"http://h:2379\"], \"node\": \"a\", \"prefix\": "
	    "\"kanary\"}",
	    (const char *[]){"cluster.prefix", "start and end with '/'", NULL});
	expect_error("\"max_flows\": 65536",
		     "\"max_flows\": 65536, \"cluster\": {\"etcd\": "
		     "[\"http://h:2379\"], \"node\": \"a\", \"peers\": 3}",
		     (const char *[]){"cluster", "peers", NULL});

	/* The flag's list: each entry checked, the bad one named. */
	memset(&cl, 0, sizeof(cl));
	assert_int_equal(config_cluster_endpoints(
			     "http://198.18.48.1:2379,http://198.18.48.2:2379",
			     &cl, why, sizeof(why)),
			 0);
	assert_int_equal(cl.etcd_count, 2);
	memset(&cl, 0, sizeof(cl));
	assert_int_equal(config_cluster_endpoints("http://a:1,,http://b:2", &cl,
						  why, sizeof(why)),
			 -EINVAL);
	assert_non_null(strstr(why, "'' is not an etcd endpoint"));
	memset(&cl, 0, sizeof(cl));
	cl.enabled = true;
	snprintf(cl.prefix, sizeof(cl.prefix), "/kanary/");
	cl.lease_ms = CONFIG_DEFAULT_CLUSTER_LEASE_MS;
	snprintf(cl.node, sizeof(cl.node), "bad name");
	assert_int_equal(
	    config_check_cluster(&cl, field, sizeof(field), why, sizeof(why)),
	    -EINVAL);
	assert_string_equal(field, "node");
}

/* "forward": stack by default, "redirect" opts in, anything else is refused
 * with the field named (docs/forwarding.md). */
static void test_forward(void **state)
{
	struct agent_config cfg;

	(void)state;
	expect_good("\"mode\": \"tc\"", "\"mode\": \"tc\"", &cfg);
	assert_int_equal(cfg.forward, KN_FORWARD_STACK);
	config_free(&cfg);
	expect_good("\"mode\": \"tc\"",
		    "\"mode\": \"tc\", \"forward\": \"redirect\"", &cfg);
	assert_int_equal(cfg.forward, KN_FORWARD_REDIRECT);
	config_free(&cfg);
	expect_good("\"mode\": \"tc\"",
		    "\"mode\": \"tc\", \"forward\": \"stack\"", &cfg);
	assert_int_equal(cfg.forward, KN_FORWARD_STACK);
	config_free(&cfg);
	expect_error("\"mode\": \"tc\"",
		     "\"mode\": \"tc\", \"forward\": \"bypass\"",
		     (const char *[]){"node.json:3:", "forward", "\"stack\"",
				      "\"redirect\"", NULL});
	expect_error("\"mode\": \"tc\"", "\"mode\": \"tc\", \"forward\": true",
		     (const char *[]){"node.json:3:", "forward", NULL});
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good_config),
	    cmocka_unit_test(test_forward),
	    cmocka_unit_test(test_errors_name_file_line_field),
	    cmocka_unit_test(test_backends_that_cannot_be_right),
	    cmocka_unit_test(test_affinity),
	    cmocka_unit_test(test_control_characters),
	    cmocka_unit_test(test_service_names),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_check_backends),
	    cmocka_unit_test(test_missing_file),
	    cmocka_unit_test(test_address_classes),
	    cmocka_unit_test(test_text_control),
	    cmocka_unit_test(test_endpoints),
	    cmocka_unit_test(test_endpoints_ipv6),
	    cmocka_unit_test(test_dual_stack_services),
	    cmocka_unit_test(test_percent),
	    cmocka_unit_test(test_durations),
	    cmocka_unit_test(test_jpos_locate),
	    cmocka_unit_test(test_rollout_spec_json),
	    cmocka_unit_test(test_cluster),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
