// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * test_listen.c - where kanaryd's API listens (--listen, config "listen"):
 * IPv4 ADDR:PORT or IPv6 [ADDR]:PORT with port 0 allowed
 * (netaddr_parse_listen), and the daemon's rule over it (api_check_listen):
 * a token off loopback in either family, a trial bind that finds a port
 * already held, and the config file's "listen" holding the longest IPv6
 * address.
 */
#include "unit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "kanaryd/api.h"
#include "util/netaddr.h"

#define ERR_LEN 512

static void test_listen_addresses(void **state)
{
	static const struct {
		const char *text;
		const char *want; /* the address printed back, or the error */
		int family;	  /* 0: refused */
	} cases[] = {
	    {"127.0.0.1:9090", "127.0.0.1:9090", AF_INET},
	    {"127.0.0.1:0", "127.0.0.1:0", AF_INET},
	    {"[::1]:9090", "[::1]:9090", AF_INET6},
	    {"[::1]:0", "[::1]:0", AF_INET6},
	    {"[::]:9090", "[::]:9090", AF_INET6},
	    {"[2001:2:0:0::1]:9090", "[2001:2::1]:9090", AF_INET6},
	    {"::1:9090", "an IPv6 address goes in brackets", 0},
	    {"[::1]", "has no ':PORT' after its ']'", 0},
	    {"[::1:9090", "has no ']' closing its IPv6 address", 0},
	    {"[::1]:00", "without leading zeros", 0},
	    {"[::1]:65536", "'65536' is not a port", 0},
	    {"[fe80::1%lo]:9090", "has a zone id", 0},
	    {"[::ffff:127.0.0.1]:9090", "IPv4-mapped", 0},
	    {"localhost:9090", "is not an IPv4 address", 0},
	    {"", "is not an endpoint", 0},
	};
	char err[NETADDR_ERR_LEN], out[NETADDR_ENDPOINT_STR_LEN];
	struct endpoint ep;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int ret =
		    netaddr_parse_listen(cases[i].text, &ep, err, sizeof(err));

		if (cases[i].family) {
			if (ret)
				fail_msg("%s: refused: %s", cases[i].text, err);
			assert_int_equal(endpoint_family(&ep), cases[i].family);
			assert_string_equal(
			    netaddr_endpoint_str(&ep, out, sizeof(out)),
			    cases[i].want);
			continue;
		}
		if (ret != -EINVAL || !strstr(err, cases[i].want))
			fail_msg("%s: %d '%s', expected '%s'", cases[i].text,
				 ret, err, cases[i].want);
	}
	/* A backend still has no port 0: only a listening socket does. */
	assert_int_equal(
	    netaddr_parse_endpoint("[::1]:0", &ep, err, sizeof(err)), -EINVAL);
}

/* The API's rule: no token means a loopback address, in either family. */
static void test_listen_rule(void **state)
{
	char err[ERR_LEN];

	(void)state;
	assert_int_equal(api_check_listen("[::1]:0", false, err, sizeof(err)),
			 0);
	assert_int_equal(
	    api_check_listen("127.0.0.1:0", false, err, sizeof(err)), 0);
	assert_int_equal(
	    api_check_listen("[2001:2::1]:0", false, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "refusing to serve the API on [2001:2::1] "
				    "without a token"));
	assert_non_null(strstr(err, "or listen on [::1]"));
	assert_int_equal(api_check_listen("[::]:0", false, err, sizeof(err)),
			 -EPERM);
	assert_int_equal(
	    api_check_listen("198.18.0.1:0", false, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "or listen on 127.0.0.1"));
	/* With a token any address passes the rule; port 0 binds nothing. */
	assert_int_equal(
	    api_check_listen("[2001:2::1]:0", true, err, sizeof(err)), 0);
	/* A malformed address names itself and the default. */
	assert_int_equal(api_check_listen("[::1]9090", false, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "API listen address: '[::1]9090'"));
	assert_non_null(strstr(err, "the default is 127.0.0.1:9090"));
}

/* A port another socket holds on [::1] is found before anything starts. */
static void test_listen_port_in_use(void **state)
{
	struct sockaddr_in6 sa = {.sin6_family = AF_INET6,
				  .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	socklen_t len = sizeof(sa);
	char listen_text[NETADDR_ENDPOINT_STR_LEN], want[ERR_LEN], err[ERR_LEN];
	int fd;

	(void)state;
	fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	snprintf(listen_text, sizeof(listen_text), "[::1]:%u",
		 ntohs(sa.sin6_port));
	assert_int_equal(api_check_listen(listen_text, false, err, sizeof(err)),
			 -EADDRINUSE);
	snprintf(want, sizeof(want), "could not serve the API on %s",
		 listen_text);
	if (!strstr(err, want))
		fail_msg("'%s' lacks '%s'", err, want);
	close(fd);
	/* Free again: the same address passes. */
	assert_int_equal(api_check_listen(listen_text, false, err, sizeof(err)),
			 0);
}

/* The config's "listen" keeps an IPv6 address whole, the longest too. */
static void test_listen_from_config(void **state)
{
	/* As long as an IPv6 endpoint's text gets (every group written in
	 * four digits), in the benchmarking range, not this host's. */
	static const char longest[] =
	    "[2001:0002:0000:ffff:ffff:ffff:ffff:fffe]:65535";
	char text[CONFIG_ERR_LEN], err[CONFIG_ERR_LEN];
	struct agent_config cfg;

	(void)state;
	snprintf(text, sizeof(text),
		 "{\"listen\": \"%s\", \"services\": [{\"name\": \"a\", "
		 "\"vip\": \"[2001:2:32::1]:80\", \"stable\": "
		 "[\"[2001:2:16::10]:8000\"]}]}",
		 longest);
	config_init(&cfg);
	if (config_parse(text, strlen(text), "node.json", &cfg, err,
			 sizeof(err)))
		fail_msg("refused: %s", err);
	assert_string_equal(cfg.listen, longest);
	/* Off loopback: a token, and then a trial bind that finds the
	 * address is not this host's. */
	assert_int_equal(api_check_listen(cfg.listen, false, err, sizeof(err)),
			 -EPERM);
	assert_int_equal(api_check_listen(cfg.listen, true, err, sizeof(err)),
			 -EADDRNOTAVAIL);
	assert_non_null(strstr(err,
			       "could not serve the API on "
			       "[2001:2:0:ffff:ffff:ffff:ffff:fffe]:65535"));
	config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_listen_addresses),
	    cmocka_unit_test(test_listen_rule),
	    cmocka_unit_test(test_listen_port_in_use),
	    cmocka_unit_test(test_listen_from_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
