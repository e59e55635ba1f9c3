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
#include <getopt.h>
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

#define LAB_NET		     0xc6120000U /* 198.18.0.0 */
#define LAB_MASK	     0xfffe0000U /* /15 */
#define MAX_COUNT	     10000000UL
#define MAX_DURATION_S	     300
#define EXIT_USAGE	     2
#define FIRST_EPHEMERAL_PORT 1024
#define PORT_SPAN	     64000

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

static int usage_error(const char *what, const char *value)
{
	fprintf(stderr,
		"kn-synflood: %s '%s'\n"
		"usage: kn-synflood --target IP:PORT --sources "
		"A.B.C.D-A.B.C.E --count N [--rate PPS] [--duration S]\n",
		what, value ? value : "");
	return EXIT_USAGE;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int in_lab(uint32_t host_addr)
{
	return (host_addr & LAB_MASK) == LAB_NET;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
	    {"target", required_argument, NULL, 't'},
	    {"sources", required_argument, NULL, 's'},
	    {"count", required_argument, NULL, 'n'},
	    {"rate", required_argument, NULL, 'r'},
	    {"duration", required_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct {
		struct iphdr ip;
		struct tcphdr tcp;
	} __attribute__((packed)) pkt;
	struct sockaddr_in dst = {.sin_family = AF_INET};
	uint32_t first = 0, last = 0, span;
	unsigned long count = 0, rate = 0, sent = 0, failed = 0, duration = 60;
	char host[32], *colon, *dash;
	uint64_t start, deadline;
	int opt, fd, one = 1;

	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (opt) {
		case 't':
			snprintf(host, sizeof(host), "%s", optarg);
			colon = strchr(host, ':');
			if (!colon)
				return usage_error("bad --target", optarg);
			*colon = '\0';
			if (inet_pton(AF_INET, host, &dst.sin_addr) != 1 ||
			    atoi(colon + 1) <= 0 || atoi(colon + 1) > 65535)
				return usage_error("bad --target", optarg);
			dst.sin_port = htons((uint16_t)atoi(colon + 1));
			break;
		case 's': {
			struct in_addr a, b;

			snprintf(host, sizeof(host), "%s", optarg);
			dash = strchr(host, '-');
			if (!dash)
				return usage_error("bad --sources", optarg);
			*dash = '\0';
			if (inet_pton(AF_INET, host, &a) != 1 ||
			    inet_pton(AF_INET, dash + 1, &b) != 1)
				return usage_error("bad --sources", optarg);
			first = ntohl(a.s_addr);
			last = ntohl(b.s_addr);
			break;
		}
		case 'n':
			count = strtoul(optarg, NULL, 10);
			break;
		case 'r':
			rate = strtoul(optarg, NULL, 10);
			break;
		case 'd':
			duration = strtoul(optarg, NULL, 10);
			break;
		case 'h':
			usage_error("help", "");
			return 0;
		default:
			return usage_error("unknown option", argv[optind - 1]);
		}
	}
	if (!dst.sin_port || !first || last < first)
		return usage_error("--target and --sources are required", "");
	if (!in_lab(first) || !in_lab(last) ||
	    !in_lab(ntohl(dst.sin_addr.s_addr)))
		return usage_error("addresses must be in 198.18.0.0/15", "");
	if (!count || count > MAX_COUNT)
		return usage_error("--count must be 1 to 10000000", "");
	if (!duration || duration > MAX_DURATION_S)
		return usage_error("--duration must be 1 to 300", "");
	span = last - first + 1;

	fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0 ||
	    setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &one, sizeof(one))) {
		perror("kn-synflood: raw socket (needs root)");
		return 1;
	}
	start = now_ns();
	deadline = start + duration * 1000000000ULL;
	while (sent + failed < count && now_ns() < deadline) {
		uint32_t i = (uint32_t)(sent + failed);
		uint32_t src = htonl(first + i % span);
		uint32_t sum;

		if (rate &&
		    (sent + failed) * 1000000000ULL / rate > now_ns() - start) {
			continue; /* paced: spin until the next slot */
		}
		memset(&pkt, 0, sizeof(pkt));
		pkt.ip.version = 4;
		pkt.ip.ihl = 5;
		pkt.ip.ttl = 64;
		pkt.ip.protocol = IPPROTO_TCP;
		pkt.ip.tot_len = htons(sizeof(pkt));
		pkt.ip.saddr = src;
		pkt.ip.daddr = dst.sin_addr.s_addr;
		pkt.ip.check = htons(fold(sum16(&pkt.ip, sizeof(pkt.ip), 0)));
		pkt.tcp.source = htons(
		    (uint16_t)(FIRST_EPHEMERAL_PORT + (i / span) % PORT_SPAN));
		pkt.tcp.dest = dst.sin_port;
		pkt.tcp.seq = htonl(i * 2654435761U);
		pkt.tcp.doff = 5;
		pkt.tcp.syn = 1;
		pkt.tcp.window = htons(65535);
		sum =
		    sum16(&pkt.ip.saddr, 8, 0) + IPPROTO_TCP + sizeof(pkt.tcp);
		pkt.tcp.check =
		    htons(fold(sum16(&pkt.tcp, sizeof(pkt.tcp), sum)));
		if (sendto(fd, &pkt, sizeof(pkt), 0, (struct sockaddr *)&dst,
			   sizeof(dst)) < 0)
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
