/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * netaddr.c - parsers for endpoints and weights typed by operators, strict:
 * no leading/trailing junk, no octal or hex tricks, no silent truncation.
 */
#include "util/netaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "util/text.h"

#define PORT_MAX	     65535
#define PERCENT_MAX	     100
#define PERCENT_DECIMALS_MAX 2
#define BP_PER_PERCENT	     100

/* Address blocks (RFC 6890), host order, with their prefix masks. */
#define THIS_NETWORK_NET  0x00000000U /* 0.0.0.0/8 */
#define LOOPBACK_NET	  0x7f000000U /* 127.0.0.0/8 */
#define SLASH8_MASK	  0xff000000U
#define MULTICAST_NET	  0xe0000000U /* 224.0.0.0/4 */
#define RESERVED_NET	  0xf0000000U /* 240.0.0.0/4 */
#define SLASH4_MASK	  0xf0000000U
#define BROADCAST_ADDRESS 0xffffffffU

static int __attribute__((format(printf, 3, 4)))
fail(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (err && err_len) {
		va_start(ap, fmt);
		vsnprintf(err, err_len, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* Control characters are refused before anything echoes the text. */
static int refuse_control(const char *text, const char *what, char *err,
			  size_t err_len)
{
	char why[TEXT_ERR_LEN];

	if (!text ||
	    !text_refuse_control(text, strlen(text), false, why, sizeof(why)))
		return 0;
	return fail(err, err_len, "the %s %s", what, why);
}

static bool all_digits(const char *s, size_t len)
{
	size_t i;

	if (len == 0)
		return false;
	for (i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

int netaddr_parse_ipv4(const char *text, struct in_addr *out, char *err,
		       size_t err_len)
{
	/* Four decimal octets without leading zeros: "010.1.1.1" reads as
	 * octal to some tools and decimal to others, so it is refused. */
	const char *p = text;
	int octets = 0;

	if (!text || !*text)
		return fail(err, err_len, "empty IPv4 address");
	if (refuse_control(text, "IPv4 address", err, err_len))
		return -EINVAL;
	while (*p) {
		const char *start = p;

		while (*p >= '0' && *p <= '9')
			p++;
		if (p == start || p - start > 3 ||
		    (p - start > 1 && *start == '0'))
			return fail(err, err_len,
				    "'%s' is not an IPv4 address (four decimal "
				    "numbers 0-255, like 198.18.0.10)",
				    text);
		octets++;
		if (*p == '.')
			p++;
		else if (*p)
			return fail(err, err_len,
				    "'%s' is not an IPv4 address (four decimal "
				    "numbers 0-255, like 198.18.0.10)",
				    text);
	}
	if (octets != 4 || p[-1] == '.' || inet_pton(AF_INET, text, out) != 1)
		return fail(err, err_len,
			    "'%s' is not an IPv4 address (four decimal numbers "
			    "0-255, like 198.18.0.10)",
			    text);
	return 0;
}

int netaddr_parse_port(const char *text, uint16_t *out, char *err,
		       size_t err_len)
{
	unsigned long value = 0;
	size_t len = text ? strlen(text) : 0;
	size_t i;

	if (refuse_control(text, "port", err, err_len))
		return -EINVAL;
	if (!all_digits(text ? text : "", len) || len > 5)
		return fail(err, err_len,
			    "'%s' is not a port (a number 1-65535)",
			    text ? text : "");
	/* "080" reads as octal to some tools, as for the octets above. */
	if (len > 1 && text[0] == '0')
		return fail(err, err_len,
			    "'%s' is not a port (a number 1-65535 without "
			    "leading zeros)",
			    text);
	for (i = 0; i < len; i++)
		value = value * 10 + (unsigned long)(text[i] - '0');
	if (value == 0 || value > PORT_MAX)
		return fail(err, err_len,
			    "'%s' is not a port (a number 1-65535)", text);
	*out = (uint16_t)value;
	return 0;
}

int netaddr_parse_ipv6(const char *text, struct in6_addr *out, char *err,
		       size_t err_len)
{
	if (!text || !*text)
		return fail(err, err_len, "empty IPv6 address");
	if (refuse_control(text, "IPv6 address", err, err_len))
		return -EINVAL;
	/* A zone names an interface of one host: a VIP or a backend is
	 * reached by routing, never through a zone. */
	if (strchr(text, '%'))
		return fail(err, err_len,
			    "'%s' has a zone id ('%%...'): kanary takes "
			    "routable IPv6 addresses without zones",
			    text);
	if (inet_pton(AF_INET6, text, out) != 1)
		return fail(err, err_len,
			    "'%s' is not an IPv6 address (like 2001:2::10)",
			    text);
	if (IN6_IS_ADDR_V4MAPPED(out))
		return fail(err, err_len,
			    "'%s' is an IPv4-mapped IPv6 address: write the "
			    "IPv4 address itself",
			    text);
	return 0;
}

#define ENDPOINT_FORMS "IPv4:PORT or [IPv6]:PORT, like 198.18.0.10:8000"
/* A listening socket's port 0: the kernel picks a free one. */
#define ANY_PORT_TEXT "0"

/* The port of an endpoint; 0 only where any_port allows it. */
static int parse_endpoint_port(const char *text, bool any_port, uint16_t *out,
			       char *err, size_t err_len)
{
	if (any_port && !strcmp(text, ANY_PORT_TEXT)) {
		*out = 0;
		return 0;
	}
	return netaddr_parse_port(text, out, err, err_len);
}

/* A problem with the address or the port inside an endpoint. */
static int bad_part(char *err, size_t err_len, const char *text,
		    const char *inner)
{
	return fail(err, err_len, "bad endpoint '%s': %s", text, inner);
}

/* "[IPv6]:PORT": the host between the brackets, the port after "]:". */
static int parse_endpoint6(const char *text, bool any_port,
			   struct endpoint *out, char *err, size_t err_len)
{
	char host[INET6_ADDRSTRLEN + 1], inner[NETADDR_ERR_LEN];
	const char *close = strchr(text, ']');
	size_t host_len;

	if (!close)
		return fail(err, err_len,
			    "'%s' has no ']' closing its IPv6 address (%s)",
			    text, ENDPOINT_FORMS);
	if (close[1] != ':')
		return fail(err, err_len,
			    "'%s' has no ':PORT' after its ']' (%s)", text,
			    ENDPOINT_FORMS);
	host_len = (size_t)(close - text - 1);
	if (host_len >= sizeof(host))
		return fail(err, err_len,
			    "'%s' is not an endpoint: the address between "
			    "the brackets is too long",
			    text);
	memcpy(host, text + 1, host_len);
	host[host_len] = '\0';
	out->family = AF_INET6;
	if (netaddr_parse_ipv6(host, &out->addr6, inner, sizeof(inner)) ||
	    parse_endpoint_port(close + 2, any_port, &out->port, inner,
				sizeof(inner)))
		return bad_part(err, err_len, text, inner);
	return 0;
}

static int parse_endpoint4(const char *text, bool any_port,
			   struct endpoint *out, char *err, size_t err_len)
{
	char host[INET_ADDRSTRLEN + 8], inner[NETADDR_ERR_LEN];
	const char *colon = strrchr(text, ':');
	size_t host_len;

	if (!colon)
		return fail(err, err_len, "'%s' is not an endpoint (%s)", text,
			    ENDPOINT_FORMS);
	if (strchr(text, ':') != colon)
		return fail(err, err_len,
			    "'%s' is not an endpoint: an IPv6 address goes in "
			    "brackets, like [2001:2::10]:8000",
			    text);
	host_len = (size_t)(colon - text);
	if (host_len >= sizeof(host))
		return fail(err, err_len, "'%s' is not an endpoint (%s)", text,
			    ENDPOINT_FORMS);
	memcpy(host, text, host_len);
	host[host_len] = '\0';
	out->family = AF_INET;
	if (netaddr_parse_ipv4(host, &out->addr, inner, sizeof(inner)) ||
	    parse_endpoint_port(colon + 1, any_port, &out->port, inner,
				sizeof(inner)))
		return bad_part(err, err_len, text, inner);
	return 0;
}

static int parse_endpoint(const char *text, bool any_port, struct endpoint *out,
			  char *err, size_t err_len)
{
	struct endpoint parsed;
	int ret;

	if (refuse_control(text, "endpoint", err, err_len))
		return -EINVAL;
	if (!text)
		text = "";
	memset(&parsed, 0, sizeof(parsed));
	if (text[0] == '[')
		ret = parse_endpoint6(text, any_port, &parsed, err, err_len);
	else
		ret = parse_endpoint4(text, any_port, &parsed, err, err_len);
	if (!ret)
		*out = parsed;
	return ret;
}

int netaddr_parse_endpoint(const char *text, struct endpoint *out, char *err,
			   size_t err_len)
{
	return parse_endpoint(text, false, out, err, err_len);
}

int netaddr_parse_listen(const char *text, struct endpoint *out, char *err,
			 size_t err_len)
{
	return parse_endpoint(text, true, out, err, err_len);
}

int netaddr_parse_endpoint_list(const char *text, struct endpoint *out,
				size_t max, size_t *count, char *err,
				size_t err_len)
{
	const char *p = text;
	size_t n = 0;

	if (!text || !*text)
		return fail(err, err_len,
			    "empty endpoint list (IPv4:PORT[,IPv4:PORT...], "
			    "IPv6 as [IPv6]:PORT)");
	if (refuse_control(text, "endpoint list", err, err_len))
		return -EINVAL;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		char item[NETADDR_ENDPOINT_STR_LEN + 16];
		size_t i;
		int ret;

		if (len == 0 || len >= sizeof(item))
			return fail(err, err_len,
				    "bad endpoint list '%s': an item is empty "
				    "or too long",
				    text);
		if (n == max) {
			if (err && err_len)
				snprintf(err, err_len,
					 "endpoint list '%s' has more than %zu "
					 "endpoints",
					 text, max);
			return -EINVAL;
		}
		memcpy(item, p, len);
		item[len] = '\0';
		ret = netaddr_parse_endpoint(item, &out[n], err, err_len);
		if (ret)
			return ret;
		for (i = 0; i < n; i++) {
			if (!netaddr_endpoint_cmp(&out[i], &out[n]))
				return fail(err, err_len,
					    "endpoint '%s' is listed twice",
					    item);
		}
		n++;
		if (!comma)
			break;
		p = comma + 1;
	}
	*count = n;
	return 0;
}

int netaddr_parse_percent_bp(const char *text, uint32_t *bp_out, char *err,
			     size_t err_len)
{
	const char *dot = text ? strchr(text, '.') : NULL;
	size_t int_len, frac_len = 0;
	uint32_t whole = 0, frac = 0;
	size_t i;

	if (!text || !*text)
		return fail(err, err_len,
			    "empty weight (a percent 0-100, up to two "
			    "decimals)");
	if (refuse_control(text, "weight", err, err_len))
		return -EINVAL;
	int_len = dot ? (size_t)(dot - text) : strlen(text);
	if (dot)
		frac_len = strlen(dot + 1);
	if (!all_digits(text, int_len) || int_len > 3 ||
	    (dot && !all_digits(dot + 1, frac_len)) ||
	    frac_len > PERCENT_DECIMALS_MAX)
		return fail(err, err_len,
			    "'%s' is not a weight (a percent 0-100 with up to "
			    "two decimals, like 12.5)",
			    text);
	for (i = 0; i < int_len; i++)
		whole = whole * 10 + (uint32_t)(text[i] - '0');
	for (i = 0; i < PERCENT_DECIMALS_MAX; i++) {
		frac *= 10;
		if (i < frac_len)
			frac += (uint32_t)(dot[1 + i] - '0');
	}
	if (whole > PERCENT_MAX || (whole == PERCENT_MAX && frac))
		return fail(err, err_len, "weight '%s' is above 100 %%", text);
	*bp_out = whole * BP_PER_PERCENT + frac;
	return 0;
}

enum netaddr_class netaddr_classify(struct in_addr addr)
{
	uint32_t h = ntohl(addr.s_addr);

	if (h == BROADCAST_ADDRESS)
		return NETADDR_BROADCAST;
	if ((h & SLASH8_MASK) == THIS_NETWORK_NET)
		return NETADDR_THIS_NETWORK;
	if ((h & SLASH8_MASK) == LOOPBACK_NET)
		return NETADDR_LOOPBACK;
	if ((h & SLASH4_MASK) == MULTICAST_NET)
		return NETADDR_MULTICAST;
	if ((h & SLASH4_MASK) == RESERVED_NET)
		return NETADDR_RESERVED;
	return NETADDR_UNICAST;
}

const char *netaddr_class_describe_endpoint(const struct endpoint *ep)
{
	enum netaddr_class c = netaddr_classify_endpoint(ep);

	if (endpoint_family(ep) == AF_INET6 && c == NETADDR_LOOPBACK)
		return "the IPv6 loopback address (::1)";
	if (endpoint_family(ep) == AF_INET6 && c == NETADDR_MULTICAST)
		return "a multicast IPv6 address (ff00::/8)";
	return netaddr_class_describe(c);
}

const char *netaddr_class_describe(enum netaddr_class c)
{
	switch (c) {
	case NETADDR_UNICAST:
		return "a unicast address";
	case NETADDR_THIS_NETWORK:
		return "a 'this network' address (0.0.0.0/8), never a "
		       "destination";
	case NETADDR_LOOPBACK:
		return "a loopback address (127.0.0.0/8)";
	case NETADDR_MULTICAST:
		return "a multicast address (224.0.0.0/4)";
	case NETADDR_RESERVED:
		return "a reserved address (240.0.0.0/4)";
	case NETADDR_BROADCAST:
		return "the broadcast address";
	case NETADDR_UNSPECIFIED6:
		return "the unspecified IPv6 address (::), never a destination";
	case NETADDR_LINK_LOCAL6:
		return "a link-local IPv6 address (fe80::/10), reachable on "
		       "one link only";
	}
	return "an unknown kind of address";
}

enum netaddr_class netaddr_classify_endpoint(const struct endpoint *ep)
{
	const struct in6_addr *a = &ep->addr6;

	if (endpoint_family(ep) != AF_INET6)
		return netaddr_classify(ep->addr);
	if (IN6_IS_ADDR_UNSPECIFIED(a))
		return NETADDR_UNSPECIFIED6;
	if (IN6_IS_ADDR_LOOPBACK(a))
		return NETADDR_LOOPBACK;
	if (IN6_IS_ADDR_MULTICAST(a))
		return NETADDR_MULTICAST;
	if (IN6_IS_ADDR_LINKLOCAL(a))
		return NETADDR_LINK_LOCAL6;
	return NETADDR_UNICAST;
}

const char *netaddr_endpoint_host(const struct endpoint *ep, char *buf,
				  size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (endpoint_family(ep) == AF_INET6) {
		inet_ntop(AF_INET6, &ep->addr6, host, sizeof(host));
		snprintf(buf, len, "[%s]", host);
	} else {
		inet_ntop(AF_INET, &ep->addr, host, sizeof(host));
		snprintf(buf, len, "%s", host);
	}
	return buf;
}

const char *netaddr_endpoint_str(const struct endpoint *ep, char *buf,
				 size_t len)
{
	char host[NETADDR_ENDPOINT_STR_LEN];

	netaddr_endpoint_host(ep, host, sizeof(host));
	snprintf(buf, len, "%s:%u", host, ep->port);
	return buf;
}

socklen_t netaddr_endpoint_sockaddr(const struct endpoint *ep,
				    struct sockaddr_storage *out)
{
	memset(out, 0, sizeof(*out));
	if (endpoint_family(ep) == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = ep->addr6;
		sin6->sin6_port = htons(ep->port);
		return sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)out;

		sin->sin_family = AF_INET;
		sin->sin_addr = ep->addr;
		sin->sin_port = htons(ep->port);
		return sizeof(*sin);
	}
}

int netaddr_endpoint_cmp(const struct endpoint *a, const struct endpoint *b)
{
	int fa = endpoint_family(a), fb = endpoint_family(b);
	uint32_t ha, hb;
	int c;

	if (fa != fb)
		return fa == AF_INET ? -1 : 1;
	if (fa == AF_INET6) {
		c = memcmp(&a->addr6, &b->addr6, sizeof(a->addr6));
		if (c)
			return c < 0 ? -1 : 1;
	} else {
		ha = ntohl(a->addr.s_addr);
		hb = ntohl(b->addr.s_addr);
		if (ha != hb)
			return ha < hb ? -1 : 1;
	}
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	return 0;
}
