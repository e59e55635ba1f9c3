/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * netaddr.h - reading what operators type: IPv4 endpoints ("198.18.0.10:8000"),
 * IPv6 ones in brackets ("[2001:2::10]:8000"), lists of them, and canary
 * weights in percent with up to two decimals.
 *
 * Every parser writes a message naming the offending text and what was
 * expected into err (when non-NULL) and returns -EINVAL. Text holding a
 * control character is refused without being echoed (see util/text.h).
 */
#ifndef KANARY_NETADDR_H
#define KANARY_NETADDR_H

#include <netinet/in.h>
#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

#define NETADDR_ERR_LEN 256
/* "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535" plus NUL */
#define NETADDR_ENDPOINT_STR_LEN (INET6_ADDRSTRLEN + sizeof("[]:65535"))

struct endpoint {
	union {
		struct in_addr addr;   /* IPv4, network order */
		struct in6_addr addr6; /* IPv6 (family AF_INET6) */
	};
	uint16_t port; /* host order */
	/* AF_INET6 for IPv6; anything else (0 included, as in an endpoint
	 * built from an IPv4 address alone) is IPv4. */
	uint8_t family;
};

static inline int endpoint_family(const struct endpoint *ep)
{
	return ep->family == AF_INET6 ? AF_INET6 : AF_INET;
}

/* "IPv4" or "IPv6", for messages. */
static inline const char *endpoint_family_name(const struct endpoint *ep)
{
	return endpoint_family(ep) == AF_INET6 ? "IPv6" : "IPv4";
}

/* What an IPv4 address is, for the addresses a backend cannot have. */
enum netaddr_class {
	NETADDR_UNICAST,      /* a host somewhere: what a backend is */
	NETADDR_THIS_NETWORK, /* 0.0.0.0/8: a source only, never a destination
			       */
	NETADDR_LOOPBACK,     /* 127.0.0.0/8: the node itself */
	NETADDR_MULTICAST,    /* 224.0.0.0/4 */
	NETADDR_RESERVED,     /* 240.0.0.0/4 but the broadcast address */
	NETADDR_BROADCAST,    /* 255.255.255.255 */
	NETADDR_UNSPECIFIED6, /* :: */
	NETADDR_LINK_LOCAL6,  /* fe80::/10: needs a zone, one link only */
};

enum netaddr_class netaddr_classify(struct in_addr addr);
/* Either family (IPv6: ::1 is loopback, ff00::/8 multicast). */
enum netaddr_class netaddr_classify_endpoint(const struct endpoint *ep);
/* "a loopback address (127.0.0.0/8)", for messages. */
const char *netaddr_class_describe(enum netaddr_class c);
/* The same for an endpoint of either family ("the IPv6 loopback..."). */
const char *netaddr_class_describe_endpoint(const struct endpoint *ep);

int netaddr_parse_ipv4(const char *text, struct in_addr *out, char *err,
		       size_t err_len);
/* A decimal 1-65535 without leading zeros (as the octets of an address). */
int netaddr_parse_port(const char *text, uint16_t *out, char *err,
		       size_t err_len);
/* An IPv6 address without brackets; refuses zone ids ("fe80::1%eth0") and
 * IPv4-mapped addresses ("::ffff:198.18.0.1": an IPv4 service is written
 * as IPv4). */
int netaddr_parse_ipv6(const char *text, struct in6_addr *out, char *err,
		       size_t err_len);
/* "A.B.C.D:PORT" or "[IPv6]:PORT" */
int netaddr_parse_endpoint(const char *text, struct endpoint *out, char *err,
			   size_t err_len);
/* Where a server listens: an endpoint whose port may be 0 (the kernel
 * picks a free one). */
int netaddr_parse_listen(const char *text, struct endpoint *out, char *err,
			 size_t err_len);
/* "A.B.C.D:PORT[,[IPv6]:PORT...]"; refuses duplicates and more than max. */
int netaddr_parse_endpoint_list(const char *text, struct endpoint *out,
				size_t max, size_t *count, char *err,
				size_t err_len);
/* "12.5" -> 1250 basis points; 0..100 with at most two decimals. */
int netaddr_parse_percent_bp(const char *text, uint32_t *bp_out, char *err,
			     size_t err_len);
/* Writes "A.B.C.D:PORT" or "[IPv6]:PORT" into buf (at least
 * NETADDR_ENDPOINT_STR_LEN). */
const char *netaddr_endpoint_str(const struct endpoint *ep, char *buf,
				 size_t len);
/* The address alone, as a URL's host: "A.B.C.D" or "[IPv6]" (at least
 * NETADDR_ENDPOINT_STR_LEN). */
const char *netaddr_endpoint_host(const struct endpoint *ep, char *buf,
				  size_t len);
/* A socket address for connect(); returns its length. */
socklen_t netaddr_endpoint_sockaddr(const struct endpoint *ep,
				    struct sockaddr_storage *out);
int netaddr_endpoint_cmp(const struct endpoint *a, const struct endpoint *b);

#endif /* KANARY_NETADDR_H */
