/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * netaddr.h - reading what operators type: IPv4 endpoints ("198.18.0.10:8000"),
 * lists of them, and canary weights in percent with up to two decimals.
 *
 * Every parser writes a message naming the offending text and what was
 * expected into err (when non-NULL) and returns -EINVAL. Text holding a
 * control character is refused without being echoed (see util/text.h).
 */
#ifndef KANARY_NETADDR_H
#define KANARY_NETADDR_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#define NETADDR_ERR_LEN 256
/* "255.255.255.255:65535" plus NUL */
#define NETADDR_ENDPOINT_STR_LEN 22

struct endpoint {
	struct in_addr addr; /* network order */
	uint16_t port;	     /* host order */
};

/* What an IPv4 address is, for the addresses a backend cannot have. */
enum netaddr_class {
	NETADDR_UNICAST,      /* a host somewhere: what a backend is */
	NETADDR_THIS_NETWORK, /* 0.0.0.0/8: a source only, never a destination
			       */
	NETADDR_LOOPBACK,     /* 127.0.0.0/8: the node itself */
	NETADDR_MULTICAST,    /* 224.0.0.0/4 */
	NETADDR_RESERVED,     /* 240.0.0.0/4 but the broadcast address */
	NETADDR_BROADCAST,    /* 255.255.255.255 */
};

enum netaddr_class netaddr_classify(struct in_addr addr);
/* "a loopback address (127.0.0.0/8)", for messages. */
const char *netaddr_class_describe(enum netaddr_class c);

int netaddr_parse_ipv4(const char *text, struct in_addr *out, char *err,
		       size_t err_len);
/* A decimal 1-65535 without leading zeros (as the octets of an address). */
int netaddr_parse_port(const char *text, uint16_t *out, char *err,
		       size_t err_len);
/* "A.B.C.D:PORT" */
int netaddr_parse_endpoint(const char *text, struct endpoint *out, char *err,
			   size_t err_len);
/* "A.B.C.D:PORT[,A.B.C.D:PORT...]"; refuses duplicates and more than max. */
int netaddr_parse_endpoint_list(const char *text, struct endpoint *out,
				size_t max, size_t *count, char *err,
				size_t err_len);
/* "12.5" -> 1250 basis points; 0..100 with at most two decimals. */
int netaddr_parse_percent_bp(const char *text, uint32_t *bp_out, char *err,
			     size_t err_len);
/* Writes "A.B.C.D:PORT" into buf (at least NETADDR_ENDPOINT_STR_LEN). */
const char *netaddr_endpoint_str(const struct endpoint *ep, char *buf,
				 size_t len);
int netaddr_endpoint_cmp(const struct endpoint *a, const struct endpoint *b);

#endif /* KANARY_NETADDR_H */
