// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * kn-synflood.c - a bounded SYN flood for kanary's fault tests: TCP SYNs to
 * a VIP:port from many source addresses of a range, never completed, to
 * fill the connection table. Raw socket with our own IPv4 and TCP headers
 * (correct checksums). Sources must lie in the lab's 198.18.0.0/15; the
 * count and the duration are both capped.
 *
 * Usage: kn-synflood --target IP:PORT --sources A.B.C.D-A.B.C.E
 *                    --count N [--rate PPS] [--duration S]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/opts.h"

#define LAB_NET		     0xc6120000U /* 198.18.0.0 */
#define LAB_MASK	     0xfffe0000U /* /15 */
#define MAX_COUNT	     10000000UL
#define MAX_DURATION_S	     300
#define DEFAULT_DURATION_S   60
#define MAX_RATE_PPS	     10000000UL
#define MAX_PORT	     65535
#define HOST_TEXT_BYTES	     32
#define PROGRAM_NAME	     "kn-synflood"
#define FIRST_EPHEMERAL_PORT 1024
#define PORT_SPAN	     64000

#include "tool.h" /* after PROGRAM_NAME */

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint32_t sum16(const void *buf, size_t len, uint32_t sum)
{
	const uint8_t *p = buf;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	return sum;
}

static void usage(FILE *out)
{
	fprintf(out, "Usage: " PROGRAM_NAME " --target IP:PORT --sources "
		     "A.B.C.D-A.B.C.E --count N [--rate PPS] [--duration S]\n"
		     "Sends N TCP SYNs to IP:PORT from the source range (in "
		     "198.18.0.0/15), at most\n"
		     "PPS a second (default: as fast as it can), for at most S "
		     "seconds (default 60).\n");
}

struct flood {
	struct sockaddr_in dst;
	uint32_t first, last; /* source range, host order */
	uint64_t count, rate, duration_s;
};

enum option_id {
	OPT_TARGET = 256,
	OPT_SOURCES,
	OPT_COUNT,
	OPT_RATE,
	OPT_DURATION,
};

static const struct option long_options[] = {
    {"target", required_argument, NULL, OPT_TARGET},
    {"sources", required_argument, NULL, OPT_SOURCES},
    {"count", required_argument, NULL, OPT_COUNT},
    {"rate", required_argument, NULL, OPT_RATE},
    {"duration", required_argument, NULL, OPT_DURATION},
    {NULL, 0, NULL, 0},
};

static int in_lab(uint32_t host_addr)
{
	return (host_addr & LAB_MASK) == LAB_NET;
}

/* IP:PORT, an address of the lab. */
static int parse_target(const struct opts_parser *cli, int id, const char *arg,
			struct flood *f)
{
	static const char want[] =
	    "want IPv4:PORT in 198.18.0.0/15, a port from 1 to 65535";
	char host[HOST_TEXT_BYTES];
	const char *colon = strrchr(arg, ':');
	uint64_t port;

	if (!colon || (size_t)(colon - arg) >= sizeof(host))
		return opts_bad_value(cli, id, arg, want);
	snprintf(host, sizeof(host), "%.*s", (int)(colon - arg), arg);
	if (inet_pton(AF_INET, host, &f->dst.sin_addr) != 1 ||
	    !in_lab(ntohl(f->dst.sin_addr.s_addr)))
		return opts_bad_value(cli, id, arg, want);
	if (opts_parse_u64(cli, id, colon + 1, 1, MAX_PORT, &port))
		return -EINVAL;
	f->dst.sin_port = htons((uint16_t)port);
	return 0;
}

/* A.B.C.D-A.B.C.E, both in the lab, in order. */
static int parse_sources(const struct opts_parser *cli, int id, const char *arg,
			 struct flood *f)
{
	static const char want[] = "want A.B.C.D-A.B.C.E in 198.18.0.0/15, "
				   "the first not above the last";
	char host[HOST_TEXT_BYTES];
	const char *dash = strchr(arg, '-');
	struct in_addr a, b;

	if (!dash || (size_t)(dash - arg) >= sizeof(host))
		return opts_bad_value(cli, id, arg, want);
	snprintf(host, sizeof(host), "%.*s", (int)(dash - arg), arg);
	if (inet_pton(AF_INET, host, &a) != 1 ||
	    inet_pton(AF_INET, dash + 1, &b) != 1)
		return opts_bad_value(cli, id, arg, want);
	f->first = ntohl(a.s_addr);
	f->last = ntohl(b.s_addr);
	if (f->last < f->first || !in_lab(f->first) || !in_lab(f->last))
		return opts_bad_value(cli, id, arg, want);
	return 0;
}

static int parse_option(const struct opts_parser *cli, int id, const char *arg)
{
	struct flood *f = cli->ctx;

	switch (id) {
	case OPT_TARGET:
		return parse_target(cli, id, arg, f);
	case OPT_SOURCES:
		return parse_sources(cli, id, arg, f);
	case OPT_COUNT:
		return opts_parse_u64(cli, id, arg, 1, MAX_COUNT, &f->count);
	case OPT_RATE:
		return opts_parse_u64(cli, id, arg, 0, MAX_RATE_PPS, &f->rate);
	case OPT_DURATION:
		return opts_parse_u64(cli, id, arg, 1, MAX_DURATION_S,
				      &f->duration_s);
	default:
		return -EINVAL;
	}
}

static int parse_args(int argc, char **argv, struct flood *f)
{
	const struct opts_parser cli =
	    OPTS_PARSER(PROGRAM_NAME, long_options, parse_option, usage, f);
	int ret;

	memset(f, 0, sizeof(*f));
	f->dst.sin_family = AF_INET;
	f->duration_s = DEFAULT_DURATION_S;
	ret = opts_parse(&cli, argc, argv);
	if (ret)
		return ret;
	if (!f->dst.sin_port || !f->first || !f->count)
		return opts_error(&cli, "--target, --sources and --count are "
					"required");
	return OPTS_RUN;
}

int main(int argc, char **argv)
{
	struct {
		struct iphdr ip;
		struct tcphdr tcp;
	} __attribute__((packed)) pkt;
	struct flood f;
	uint32_t span;
	unsigned long sent = 0, failed = 0;
	uint64_t start, deadline;
	int fd, one = 1, ret;

	ret = parse_args(argc, argv, &f);
	if (ret)
		return ret == OPTS_HELP ? 0 : OPTS_EXIT_USAGE;
	span = f.last - f.first + 1;

	fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0 ||
	    setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &one, sizeof(one))) {
		perror("kn-synflood: raw socket (needs root)");
		return 1;
	}
	start = now_ns();
	deadline = start + f.duration_s * TOOL_NS_PER_S;
	while (sent + failed < f.count && now_ns() < deadline) {
		uint32_t i = (uint32_t)(sent + failed);
		uint32_t src = htonl(f.first + i % span);
		uint32_t sum;

		if (f.rate && (sent + failed) * TOOL_NS_PER_S / f.rate >
				  now_ns() - start) {
			continue; /* paced: spin until the next slot */
		}
		memset(&pkt, 0, sizeof(pkt));
		pkt.ip.version = 4;
		pkt.ip.ihl = 5;
		pkt.ip.ttl = 64;
		pkt.ip.protocol = IPPROTO_TCP;
		pkt.ip.tot_len = htons(sizeof(pkt));
		pkt.ip.saddr = src;
		pkt.ip.daddr = f.dst.sin_addr.s_addr;
		pkt.ip.check = htons(fold(sum16(&pkt.ip, sizeof(pkt.ip), 0)));
		pkt.tcp.source = htons(
		    (uint16_t)(FIRST_EPHEMERAL_PORT + (i / span) % PORT_SPAN));
		pkt.tcp.dest = f.dst.sin_port;
		pkt.tcp.seq = htonl(i * 2654435761U);
		pkt.tcp.doff = 5;
		pkt.tcp.syn = 1;
		pkt.tcp.window = htons(65535);
		sum =
		    sum16(&pkt.ip.saddr, 8, 0) + IPPROTO_TCP + sizeof(pkt.tcp);
		pkt.tcp.check =
		    htons(fold(sum16(&pkt.tcp, sizeof(pkt.tcp), sum)));
		if (sendto(fd, &pkt, sizeof(pkt), 0, (struct sockaddr *)&f.dst,
			   sizeof(f.dst)) < 0)
			failed++;
		else
			sent++;
	}
	printf("{\"sent\": %lu, \"failed\": %lu, \"sources\": %u, "
	       "\"seconds\": %.2f}\n",
	       sent, failed, span, (now_ns() - start) / 1e9);
	close(fd);
	return 0;
}
