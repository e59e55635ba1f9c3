/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * kn-csumcheck.c - checksums on the wire side, for kanary's tests: it owns
 * capturing IPv4 TCP/UDP packets on an interface (AF_PACKET, both
 * directions) and deciding whether each one's IPv4 header checksum and
 * TCP/UDP checksum are in a correct state, and crafting deliberately wrong
 * packets (--send) so that a test can prove the check can fail.
 *
 * kanary rewrites destination addresses in the kernel. On veth, a packet
 * leaving a namespace usually carries CHECKSUM_PARTIAL: its L4 checksum
 * field holds only the folded pseudo-header sum, and whoever transmits it
 * finishes the sum. A rewrite must keep that seed in step with the new
 * addresses; a fully computed checksum (tx offload off) must be updated
 * instead. PACKET_AUXDATA tells which state a captured packet is in
 * (TP_STATUS_CSUMNOTREADY), so both are checked for what they should be.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/opts.h"

#define PROGRAM_NAME "kn-csumcheck"

#include "tool.h" /* after PROGRAM_NAME */

/* Exit statuses: tests tell "nothing seen" (3) from "wrong" (1). */
#define EXIT_ALL_OK   0
#define EXIT_WRONG    1
#define EXIT_NONE     3
#define EXIT_CANT_RUN 4

#define NS_PER_MS 1000000ULL
#define NS_PER_S  1000000000ULL

#define DEFAULT_COUNT	   10
#define MAX_COUNT	   1000000
#define DEFAULT_TIMEOUT_MS 5000
#define MAX_TIMEOUT_MS	   3600000
/* A GSO packet is up to 64 KiB of IP plus its Ethernet header. */
#define DEFAULT_SNAPLEN 262144
#define MIN_SNAPLEN	64
#define MAX_SNAPLEN	DEFAULT_SNAPLEN
/* Room for bursts while the checks run (root may exceed rmem_max). */
#define RCVBUF_BYTES   (8 << 20)
#define RECV_BATCH     256
#define MAX_BAD_LISTED 100
#define MAX_SEND       1000
#define DEFAULT_SEND   1

#define ETH_HDR_LEN	  14
#define ETH_TYPE_OFF	  12
#define MAC_LEN		  6
#define IPV4_MIN_HLEN	  20
#define IPV4_VERSION	  4
#define IP_MF		  0x2000
#define IP_OFFMASK	  0x1fff
#define IP_DF		  0x4000
#define IPV4_MAX_LEN	  0xffff
#define TCP_MIN_HLEN	  20
#define UDP_HLEN	  8
#define TCP_CSUM_OFF	  16
#define UDP_CSUM_OFF	  6
#define PROBE_TTL	  64
#define TCP_FLAGS_PSH_ACK 0x18
#define TCP_WINDOW	  65535
/* Flipped bits that turn a right checksum into a wrong one. */
#define CORRUPT_MASK	 0x0f0f
#define CORRUPT_MASK_ALT 0x00f0
#define PROBE_PAYLOAD	 "kanary checksum probe\n"
#define IPV4_TEXT_BYTES	 16
#define ENDPOINT_TEXT	 24

enum direction {
	DIR_BOTH,
	DIR_IN,
	DIR_OUT,
};

enum send_kind {
	SEND_NONE,
	SEND_GOOD,
	SEND_GOOD_PARTIAL,
	SEND_BAD_IP,
	SEND_BAD_L4,
	SEND_BAD_PARTIAL,
};

static const char *const send_names[] = {
    [SEND_NONE] = "none",
    [SEND_GOOD] = "good",
    [SEND_GOOD_PARTIAL] = "good-partial",
    [SEND_BAD_IP] = "bad-ip",
    [SEND_BAD_L4] = "bad-l4",
    [SEND_BAD_PARTIAL] = "bad-partial",
};

struct endpoint_filter {
	bool set;
	uint32_t addr; /* network order */
	bool has_port;
	uint16_t port; /* host order */
};

struct options {
	const char *iface;
	uint64_t count;
	bool have_count;
	uint64_t timeout_ms;
	struct endpoint_filter dst;
	struct endpoint_filter src;
	uint8_t proto; /* 0: both */
	enum direction dir;
	bool json;
	size_t snaplen;
	enum send_kind send;
	struct endpoint_filter send_src;
	struct endpoint_filter send_dst;
	uint8_t dst_mac[MAC_LEN];
};

struct bad_packet {
	const char *kind;
	bool out;
	uint8_t proto;
	uint32_t saddr, daddr;
	uint16_t sport, dport;
	uint16_t field;
	uint16_t expected;
	size_t len;
};

struct tally {
	uint64_t seen;
	uint64_t ip_ok, ip_bad;
	uint64_t l4_full_ok, l4_full_bad;
	uint64_t l4_partial_ok, l4_partial_bad;
	uint64_t udp_no_csum;
	uint64_t coalesced;
	uint64_t malformed;
	uint64_t truncated;
	uint64_t fragments;
	uint64_t kernel_drops;
	struct bad_packet bad[MAX_BAD_LISTED];
	size_t nbad;
	uint64_t bad_total;
};

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint32_t rd32_ne(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* ---- checksums (RFC 1071): 16-bit big-endian words, ones' complement - */

static uint64_t sum_bytes(uint64_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += rd16(p + i);
	if (i < len)
		sum += (uint64_t)p[i] << 8;
	return sum;
}

static uint16_t fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static uint64_t pseudo_sum(uint32_t saddr_be, uint32_t daddr_be, uint8_t proto,
			   size_t l4_len)
{
	uint8_t b[12];

	memcpy(b, &saddr_be, 4);
	memcpy(b + 4, &daddr_be, 4);
	b[8] = 0;
	b[9] = proto;
	wr16(b + 10, (uint16_t)l4_len);
	/* A length over 16 bits (BIG TCP) carries into the sum. */
	return sum_bytes(0, b, sizeof(b)) + ((uint64_t)l4_len >> 16);
}

/* Ones' complement has two zeros: 0x0000 and 0xffff are the same value. */
static bool csum_equal(uint16_t a, uint16_t b)
{
	return a % 0xffff == b % 0xffff;
}

/* Sum of l4[0..len) without the 2-byte checksum field at off (even). */
static uint64_t sum_without_field(const uint8_t *l4, size_t len, size_t off)
{
	return sum_bytes(sum_bytes(0, l4, off), l4 + off + 2, len - off - 2);
}

/* The checksum a full computation puts in the field. */
static uint16_t full_checksum(uint64_t pseudo, const uint8_t *l4, size_t len,
			      size_t off, uint8_t proto)
{
	uint16_t c = (uint16_t)~fold(pseudo + sum_without_field(l4, len, off));

	/* UDP sends a computed zero as 0xffff: 0 means "no checksum". */
	if (proto == IPPROTO_UDP && c == 0)
		c = 0xffff;
	return c;
}

static uint16_t ip_header_checksum(const uint8_t *ip, size_t hlen)
{
	return (uint16_t)~fold(sum_without_field(ip, hlen, 10));
}

/* ---- capture -------------------------------------------------------- */

static const char *proto_name(uint8_t proto)
{
	return proto == IPPROTO_TCP ? "tcp" : "udp";
}

static const char *endpoint_text(uint32_t addr_be, uint16_t port, char *buf,
				 size_t len)
{
	char ip[IPV4_TEXT_BYTES];
	struct in_addr a = {.s_addr = addr_be};

	if (!inet_ntop(AF_INET, &a, ip, sizeof(ip)))
		snprintf(ip, sizeof(ip), "?");
	snprintf(buf, len, "%s:%u", ip, port);
	return buf;
}

static void print_bad_line(FILE *out, const struct bad_packet *b)
{
	char s[ENDPOINT_TEXT], d[ENDPOINT_TEXT];

	fprintf(out,
		"bad %s: %s %s %s -> %s, %zu bytes of IP: field 0x%04x, "
		"expected 0x%04x\n",
		b->kind, b->out ? "out" : "in", proto_name(b->proto),
		endpoint_text(b->saddr, b->sport, s, sizeof(s)),
		endpoint_text(b->daddr, b->dport, d, sizeof(d)), b->len,
		b->field, b->expected);
}

struct pkt {
	bool out;
	bool partial; /* TP_STATUS_CSUMNOTREADY */
	uint8_t proto;
	uint32_t saddr, daddr; /* network order */
	uint16_t sport, dport;
	size_t ip_len;
};

static void record_bad(struct tally *t, const struct options *o,
		       const struct pkt *p, const char *kind, uint16_t field,
		       uint16_t expected)
{
	struct bad_packet b = {
	    .kind = kind,
	    .out = p->out,
	    .proto = p->proto,
	    .saddr = p->saddr,
	    .daddr = p->daddr,
	    .sport = p->sport,
	    .dport = p->dport,
	    .field = field,
	    .expected = expected,
	    .len = p->ip_len,
	};

	t->bad_total++;
	if (t->nbad < MAX_BAD_LISTED)
		t->bad[t->nbad++] = b;
	/* As it happens: in JSON mode stdout is the summary, so stderr. */
	print_bad_line(o->json ? stderr : stdout, &b);
}

static bool filter_match(const struct endpoint_filter *f, uint32_t addr,
			 uint16_t port)
{
	if (!f->set)
		return true;
	return f->addr == addr && (!f->has_port || f->port == port);
}

/*
 * One captured frame: frame[0..caplen) was captured of wirelen bytes.
 * Every read below is bounded by caplen (headers) or by the IP length,
 * which is itself checked against caplen before any L4 byte is summed.
 */
static void inspect(struct tally *t, const struct options *o,
		    const uint8_t *frame, size_t caplen, size_t wirelen,
		    bool out, bool partial, unsigned int mtu)
{
	const uint8_t *ip, *l4;
	struct pkt p = {.out = out, .partial = partial};
	size_t avail, hlen, l4_len, l4_hlen, csum_off;
	uint16_t frag, field;
	uint64_t pseudo;
	bool headers_cut;

	if (o->dir == DIR_IN && out)
		return;
	if (o->dir == DIR_OUT && !out)
		return;
	if (caplen < ETH_HDR_LEN || rd16(frame + ETH_TYPE_OFF) != ETH_P_IP)
		return; /* VLAN-tagged, ARP, IPv6...: not ours */
	ip = frame + ETH_HDR_LEN;
	avail = caplen - ETH_HDR_LEN;
	/* Too short for the addresses: nothing to match on. */
	if (avail < IPV4_MIN_HLEN) {
		if (wirelen > caplen)
			t->truncated++;
		return;
	}
	if (ip[0] >> 4 != IPV4_VERSION)
		return;
	p.proto = ip[9];
	if (p.proto != IPPROTO_TCP && p.proto != IPPROTO_UDP)
		return;
	if (o->proto && o->proto != p.proto)
		return;
	p.saddr = rd32_ne(ip + 12);
	p.daddr = rd32_ne(ip + 16);
	if ((o->src.set && o->src.addr != p.saddr) ||
	    (o->dst.set && o->dst.addr != p.daddr))
		return;

	hlen = (size_t)(ip[0] & 0x0f) * 4;
	p.ip_len = rd16(ip + 2);
	/* IPv4 BIG TCP: a GSO packet over 64 KiB says 0 and means "all". */
	if (p.ip_len == 0 && wirelen > ETH_HDR_LEN + IPV4_MAX_LEN)
		p.ip_len = wirelen - ETH_HDR_LEN;
	frag = rd16(ip + 6);
	if (frag & (IP_MF | IP_OFFMASK)) {
		/* A fragment's L4 checksum covers the whole datagram. */
		if (!o->src.has_port && !o->dst.has_port)
			t->fragments++;
		return;
	}
	headers_cut = hlen > avail;
	if (!headers_cut && hlen >= IPV4_MIN_HLEN && p.ip_len >= hlen) {
		l4 = ip + hlen;
		l4_len = p.ip_len - hlen;
		if (l4_len >= sizeof(uint16_t) * 2 &&
		    avail - hlen >= sizeof(uint16_t) * 2) {
			p.sport = rd16(l4);
			p.dport = rd16(l4 + 2);
		} else if (o->src.has_port || o->dst.has_port) {
			return; /* no ports to match */
		}
	} else if (o->src.has_port || o->dst.has_port) {
		return;
	}
	if (!filter_match(&o->src, p.saddr, p.sport) ||
	    !filter_match(&o->dst, p.daddr, p.dport))
		return;

	/* It matches: was all of it captured? */
	if (headers_cut ||
	    (p.ip_len >= hlen && ETH_HDR_LEN + p.ip_len > caplen)) {
		t->truncated++;
		return;
	}
	t->seen++;
	if (hlen < IPV4_MIN_HLEN || p.ip_len < hlen) {
		t->malformed++;
		record_bad(t, o, &p, "malformed-ip", (uint16_t)hlen,
			   (uint16_t)p.ip_len);
		return;
	}

	field = rd16(ip + 10);
	if (fold(sum_bytes(0, ip, hlen)) == 0xffff) {
		t->ip_ok++;
	} else {
		t->ip_bad++;
		record_bad(t, o, &p, "ip", field, ip_header_checksum(ip, hlen));
	}

	l4 = ip + hlen;
	l4_len = p.ip_len - hlen;
	l4_hlen = p.proto == IPPROTO_TCP ? TCP_MIN_HLEN : UDP_HLEN;
	csum_off = p.proto == IPPROTO_TCP ? TCP_CSUM_OFF : UDP_CSUM_OFF;
	if (l4_len < l4_hlen ||
	    (p.proto == IPPROTO_TCP && (size_t)(l4[12] >> 4) * 4 < l4_hlen) ||
	    (p.proto == IPPROTO_TCP && (size_t)(l4[12] >> 4) * 4 > l4_len)) {
		t->malformed++;
		record_bad(t, o, &p, "malformed-l4", (uint16_t)l4_len,
			   (uint16_t)l4_hlen);
		return;
	}
	if (p.proto == IPPROTO_UDP) {
		size_t ulen = rd16(l4 + 4);

		/* UDP covers its own length; what follows is padding. */
		if (ulen < UDP_HLEN || ulen > l4_len) {
			/* A UDP GSO packet over 64 KiB would say 0 here. */
			if (!(ulen == 0 && p.ip_len > IPV4_MAX_LEN)) {
				t->malformed++;
				record_bad(t, o, &p, "malformed-udp",
					   (uint16_t)ulen, (uint16_t)l4_len);
				return;
			}
		} else {
			l4_len = ulen;
		}
	}
	field = rd16(l4 + csum_off);
	pseudo = pseudo_sum(p.saddr, p.daddr, p.proto, l4_len);

	if (p.partial) {
		/* The field holds the pseudo-header sum, not inverted. */
		uint16_t seed = fold(pseudo);

		if (csum_equal(field, seed)) {
			t->l4_partial_ok++;
		} else {
			t->l4_partial_bad++;
			record_bad(t, o, &p, "l4-partial", field, seed);
		}
		return;
	}
	/*
	 * Larger than the MTU, arriving, and not partial: GRO merged it and
	 * kept the first segment's checksum, which the kernel validated per
	 * segment before merging. Only the IP header can be checked.
	 */
	if (!out && mtu && p.ip_len > mtu) {
		t->coalesced++;
		return;
	}
	if (p.proto == IPPROTO_UDP && field == 0) {
		t->udp_no_csum++;
		t->l4_full_ok++;
		return;
	}
	if (fold(pseudo + sum_bytes(0, l4, l4_len)) == 0xffff) {
		t->l4_full_ok++;
	} else {
		t->l4_full_bad++;
		record_bad(
		    t, o, &p, "l4-full", field,
		    full_checksum(pseudo, l4, l4_len, csum_off, p.proto));
	}
}

static int iface_info(int fd, const char *name, int *index, unsigned int *mtu,
		      uint8_t mac[MAC_LEN], unsigned short *hatype)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	if (strlen(name) >= sizeof(ifr.ifr_name)) {
		fail_msg("interface name '%s' is too long", name);
		return -1;
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0) {
		fail_msg(
		    "interface '%s' not found (in this network namespace): "
		    "%s",
		    name, strerror(errno));
		return -1;
	}
	*index = ifr.ifr_ifindex;
	*mtu = 0;
	if (ioctl(fd, SIOCGIFMTU, &ifr) == 0 && ifr.ifr_mtu > 0)
		*mtu = (unsigned int)ifr.ifr_mtu;
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
		fail_msg("reading the address of '%s': %s", name,
			 strerror(errno));
		return -1;
	}
	memcpy(mac, ifr.ifr_hwaddr.sa_data, MAC_LEN);
	*hatype = ifr.ifr_hwaddr.sa_family;
	if (*hatype != ARPHRD_ETHER && *hatype != ARPHRD_LOOPBACK) {
		fail_msg("interface '%s' does not carry Ethernet frames (type "
			 "%u)",
			 name, *hatype);
		return -1;
	}
	return 0;
}

static int open_capture(const struct options *o, int *index, unsigned int *mtu)
{
	const int one = 1, rcvbuf = RCVBUF_BYTES;
	struct sockaddr_ll sll = {.sll_family = AF_PACKET,
				  .sll_protocol = htons(ETH_P_ALL)};
	uint8_t mac[MAC_LEN];
	unsigned short hatype;
	int fd;

	/* Protocol 0: nothing is queued before bind() picks the interface. */
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fail_msg("AF_PACKET socket: %s (needs CAP_NET_RAW)",
			 strerror(errno));
		return -1;
	}
	if (iface_info(fd, o->iface, index, mtu, mac, &hatype) < 0)
		goto fail;
	if (setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one)) < 0) {
		fail_msg("PACKET_AUXDATA: %s", strerror(errno));
		goto fail;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf,
		       sizeof(rcvbuf)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	sll.sll_ifindex = *index;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		fail_msg("binding to '%s': %s", o->iface, strerror(errno));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

/* Receives what is queued (a bounded batch); false on a hard error. */
static bool drain(int fd, const struct options *o, struct tally *t,
		  uint8_t *buf, int ifindex, unsigned int mtu)
{
	for (int i = 0; i < RECV_BATCH && t->seen < o->count; i++) {
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
		} ctl;
		struct sockaddr_ll from;
		struct iovec iov = {.iov_base = buf, .iov_len = o->snaplen};
		struct msghdr msg = {
		    .msg_name = &from,
		    .msg_namelen = sizeof(from),
		    .msg_iov = &iov,
		    .msg_iovlen = 1,
		    .msg_control = ctl.buf,
		    .msg_controllen = sizeof(ctl.buf),
		};
		struct cmsghdr *cm;
		bool partial = false;
		size_t caplen, wirelen;
		ssize_t n;

		/* MSG_TRUNC: the length on the wire, even when cut. */
		n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return true;
			fail_msg("recvmsg: %s", strerror(errno));
			return false;
		}
		wirelen = (size_t)n;
		caplen = wirelen < o->snaplen ? wirelen : o->snaplen;
		for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
			struct tpacket_auxdata aux;

			if (cm->cmsg_level != SOL_PACKET ||
			    cm->cmsg_type != PACKET_AUXDATA ||
			    cm->cmsg_len < CMSG_LEN(sizeof(aux)))
				continue;
			memcpy(&aux, CMSG_DATA(cm), sizeof(aux));
			partial = aux.tp_status & TP_STATUS_CSUMNOTREADY;
			if (aux.tp_len > wirelen)
				wirelen = aux.tp_len;
			if (aux.tp_snaplen < caplen)
				caplen = aux.tp_snaplen;
		}
		if (from.sll_ifindex != ifindex)
			continue;
		inspect(t, o, buf, caplen, wirelen,
			from.sll_pkttype == PACKET_OUTGOING, partial, mtu);
	}
	return true;
}

static int capture(const struct options *o, struct tally *t, uint64_t *ms)
{
	struct tpacket_stats st;
	socklen_t stlen = sizeof(st);
	uint64_t start, deadline;
	unsigned int mtu;
	uint8_t *buf;
	int fd, ifindex;

	buf = malloc(o->snaplen);
	if (!buf) {
		fail_msg("out of memory for a %zu-byte snap buffer",
			 o->snaplen);
		return -1;
	}
	fd = open_capture(o, &ifindex, &mtu);
	if (fd < 0) {
		free(buf);
		return -1;
	}
	/* Tests wait for this line before they send. */
	fprintf(stderr,
		PROGRAM_NAME ": capturing on %s (up to %" PRIu64
			     " packets, %" PRIu64 " ms)\n",
		o->iface, o->count, o->timeout_ms);
	start = now_ns();
	deadline = start + o->timeout_ms * NS_PER_MS;
	while (t->seen < o->count && !stop_signal) {
		uint64_t now = now_ns();
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		struct timespec wait;

		if (now >= deadline)
			break;
		wait.tv_sec = (time_t)((deadline - now) / NS_PER_S);
		wait.tv_nsec = (long)((deadline - now) % NS_PER_S);
		if (ppoll(&pfd, 1, &wait, &wait_mask) < 0 && errno != EINTR) {
			fail_msg("ppoll: %s", strerror(errno));
			break;
		}
		if (!drain(fd, o, t, buf, ifindex, mtu))
			break;
	}
	*ms = (now_ns() - start) / NS_PER_MS;
	if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &stlen) == 0)
		t->kernel_drops = st.tp_drops;
	close(fd);
	free(buf);
	return 0;
}

/* Interface names may hold any byte but '/', NUL and blanks. */
static const char *dir_name(enum direction d)
{
	return d == DIR_IN ? "in" : d == DIR_OUT ? "out" : "both";
}

static int verdict(const struct tally *t)
{
	if (t->bad_total)
		return EXIT_WRONG;
	return t->seen ? EXIT_ALL_OK : EXIT_NONE;
}

static const char *verdict_name(int v)
{
	return v == EXIT_ALL_OK ? "ok" : v == EXIT_WRONG ? "wrong" : "none";
}

static void print_json(const struct options *o, const struct tally *t,
		       uint64_t ms)
{
	char s[ENDPOINT_TEXT], d[ENDPOINT_TEXT];

	/* One member a line: simple tools (sed, grep) can read it too. */
	printf("{\n  \"iface\": ");
	json_str(stdout, o->iface);
	printf(",\n  \"direction\": \"%s\",\n", dir_name(o->dir));
	printf("  \"result\": \"%s\",\n", verdict_name(verdict(t)));
	printf("  \"elapsed_ms\": %" PRIu64 ",\n", ms);
	printf("  \"seen\": %" PRIu64 ",\n", t->seen);
	printf("  \"ip_ok\": %" PRIu64 ",\n  \"ip_bad\": %" PRIu64 ",\n",
	       t->ip_ok, t->ip_bad);
	printf("  \"l4_full_ok\": %" PRIu64 ",\n  \"l4_full_bad\": %" PRIu64
	       ",\n",
	       t->l4_full_ok, t->l4_full_bad);
	printf("  \"l4_partial_ok\": %" PRIu64
	       ",\n  \"l4_partial_bad\": %" PRIu64 ",\n",
	       t->l4_partial_ok, t->l4_partial_bad);
	printf("  \"udp_no_checksum\": %" PRIu64 ",\n", t->udp_no_csum);
	printf("  \"coalesced\": %" PRIu64 ",\n", t->coalesced);
	printf("  \"malformed\": %" PRIu64 ",\n", t->malformed);
	printf("  \"truncated\": %" PRIu64 ",\n", t->truncated);
	printf("  \"fragments\": %" PRIu64 ",\n", t->fragments);
	printf("  \"kernel_drops\": %" PRIu64 ",\n", t->kernel_drops);
	printf("  \"bad_total\": %" PRIu64 ",\n", t->bad_total);
	printf("  \"bad\": [");
	for (size_t i = 0; i < t->nbad; i++) {
		const struct bad_packet *b = &t->bad[i];

		printf("%s\n    {\"kind\": \"%s\", \"dir\": \"%s\", \"proto\": "
		       "\"%s\", \"src\": \"%s\", \"dst\": \"%s\", \"ip_len\": "
		       "%zu, \"field\": \"0x%04x\", \"expected\": \"0x%04x\"}",
		       i ? "," : "", b->kind, b->out ? "out" : "in",
		       proto_name(b->proto),
		       endpoint_text(b->saddr, b->sport, s, sizeof(s)),
		       endpoint_text(b->daddr, b->dport, d, sizeof(d)), b->len,
		       b->field, b->expected);
	}
	printf("%s]\n}\n", t->nbad ? "\n  " : "");
}

static void print_human(const struct options *o, const struct tally *t,
			uint64_t ms)
{
	printf("%s (%s): %s after %" PRIu64 " ms: seen %" PRIu64
	       "; ip ok %" PRIu64 " bad %" PRIu64 "; l4 full ok %" PRIu64
	       " bad %" PRIu64 "; l4 partial ok %" PRIu64 " bad %" PRIu64 "\n",
	       o->iface, dir_name(o->dir), verdict_name(verdict(t)), ms,
	       t->seen, t->ip_ok, t->ip_bad, t->l4_full_ok, t->l4_full_bad,
	       t->l4_partial_ok, t->l4_partial_bad);
	printf("  udp without checksum %" PRIu64 ", coalesced %" PRIu64
	       ", malformed %" PRIu64 "; not checked: truncated %" PRIu64
	       ", fragments %" PRIu64 ", kernel drops %" PRIu64 "\n",
	       t->udp_no_csum, t->coalesced, t->malformed, t->truncated,
	       t->fragments, t->kernel_drops);
}

/* ---- --send: crafted probes ------------------------------------------ */

static uint16_t corrupt(uint16_t c, uint8_t proto)
{
	uint16_t bad = c ^ CORRUPT_MASK;

	/* UDP 0 means "no checksum", which would be right. */
	if (proto == IPPROTO_UDP && bad == 0)
		bad = c ^ CORRUPT_MASK_ALT;
	return bad;
}

static int send_probes(const struct options *o)
{
	static const uint8_t payload[] = PROBE_PAYLOAD;
	const size_t plen = sizeof(payload) - 1;
	bool partial =
	    o->send == SEND_GOOD_PARTIAL || o->send == SEND_BAD_PARTIAL;
	size_t l4_hlen = o->proto == IPPROTO_TCP ? TCP_MIN_HLEN : UDP_HLEN;
	size_t csum_off = o->proto == IPPROTO_TCP ? TCP_CSUM_OFF : UDP_CSUM_OFF;
	size_t l4_len = l4_hlen + plen, ip_len = IPV4_MIN_HLEN + l4_len;
	uint8_t frame[sizeof(struct virtio_net_hdr) + ETH_HDR_LEN +
		      IPV4_MIN_HLEN + TCP_MIN_HLEN + sizeof(payload)];
	struct virtio_net_hdr vnet = {0};
	size_t vlen = partial ? sizeof(vnet) : 0;
	uint8_t *eth = frame + vlen, *ip = eth + ETH_HDR_LEN;
	uint8_t *l4 = ip + IPV4_MIN_HLEN, mac[MAC_LEN];
	struct sockaddr_ll to = {.sll_family = AF_PACKET,
				 .sll_protocol = htons(ETH_P_IP),
				 .sll_halen = MAC_LEN};
	uint16_t right, sent_field;
	unsigned short hatype;
	unsigned int mtu;
	char s[ENDPOINT_TEXT], d[ENDPOINT_TEXT];
	const int one = 1;
	int fd, ifindex;
	uint64_t i;

	memset(frame, 0, sizeof(frame));
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fail_msg("AF_PACKET socket: %s (needs CAP_NET_RAW)",
			 strerror(errno));
		return EXIT_CANT_RUN;
	}
	if (iface_info(fd, o->iface, &ifindex, &mtu, mac, &hatype) < 0)
		goto fail;
	/* A virtio-net header asks the kernel for CHECKSUM_PARTIAL. */
	if (partial && setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one,
				  sizeof(one)) < 0) {
		fail_msg("PACKET_VNET_HDR: %s", strerror(errno));
		goto fail;
	}

	memcpy(eth, o->dst_mac, MAC_LEN);
	memcpy(eth + MAC_LEN, mac, MAC_LEN);
	wr16(eth + ETH_TYPE_OFF, ETH_P_IP);
	ip[0] = IPV4_VERSION << 4 | IPV4_MIN_HLEN / 4;
	wr16(ip + 2, (uint16_t)ip_len);
	wr16(ip + 4, (uint16_t)getpid());
	wr16(ip + 6, IP_DF);
	ip[8] = PROBE_TTL;
	ip[9] = o->proto;
	memcpy(ip + 12, &o->send_src.addr, 4);
	memcpy(ip + 16, &o->send_dst.addr, 4);
	wr16(ip + 10, ip_header_checksum(ip, IPV4_MIN_HLEN));
	wr16(l4, o->send_src.port);
	wr16(l4 + 2, o->send_dst.port);
	if (o->proto == IPPROTO_TCP) {
		wr16(l4 + 4, 0);
		wr16(l4 + 6, 1); /* sequence number 1 */
		l4[12] = TCP_MIN_HLEN / 4 << 4;
		l4[13] = TCP_FLAGS_PSH_ACK;
		wr16(l4 + 14, TCP_WINDOW);
	} else {
		wr16(l4 + 4, (uint16_t)l4_len);
	}
	memcpy(l4 + l4_hlen, payload, plen);

	if (partial) {
		right = fold(pseudo_sum(o->send_src.addr, o->send_dst.addr,
					o->proto, l4_len));
		vnet.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		vnet.gso_type = VIRTIO_NET_HDR_GSO_NONE;
		vnet.csum_start = ETH_HDR_LEN + IPV4_MIN_HLEN;
		vnet.csum_offset = (uint16_t)csum_off;
		memcpy(frame, &vnet, sizeof(vnet));
	} else {
		right =
		    full_checksum(pseudo_sum(o->send_src.addr, o->send_dst.addr,
					     o->proto, l4_len),
				  l4, l4_len, csum_off, o->proto);
	}
	sent_field = right;
	if (o->send == SEND_BAD_L4 || o->send == SEND_BAD_PARTIAL)
		sent_field = corrupt(right, o->proto);
	wr16(l4 + csum_off, sent_field);
	if (o->send == SEND_BAD_IP)
		wr16(ip + 10, rd16(ip + 10) ^ CORRUPT_MASK);

	to.sll_ifindex = ifindex;
	memcpy(to.sll_addr, o->dst_mac, MAC_LEN);
	for (i = 0; i < o->count; i++) {
		if (sendto(fd, frame, vlen + ETH_HDR_LEN + ip_len, 0,
			   (struct sockaddr *)&to, sizeof(to)) < 0) {
			fail_msg("sending on '%s': %s", o->iface,
				 strerror(errno));
			goto fail;
		}
	}
	printf("sent %" PRIu64 " %s %s frame%s %s -> %s on %s: ip field "
	       "0x%04x, l4 field 0x%04x (right: 0x%04x%s)\n",
	       o->count, send_names[o->send], proto_name(o->proto),
	       o->count == 1 ? "" : "s",
	       endpoint_text(o->send_src.addr, o->send_src.port, s, sizeof(s)),
	       endpoint_text(o->send_dst.addr, o->send_dst.port, d, sizeof(d)),
	       o->iface, rd16(ip + 10), sent_field, right,
	       partial ? ", a pseudo-header seed" : "");
	close(fd);
	return EXIT_ALL_OK;
fail:
	close(fd);
	return EXIT_CANT_RUN;
}

/* ---- command line --------------------------------------------------- */

enum option_id {
	OPT_IFACE = 256,
	OPT_COUNT,
	OPT_TIMEOUT_MS,
	OPT_FILTER_DST,
	OPT_FILTER_SRC,
	OPT_PROTO,
	OPT_DIRECTION,
	OPT_JSON,
	OPT_SNAPLEN,
	OPT_SEND,
	OPT_SRC,
	OPT_DST,
	OPT_DST_MAC,
};

static const struct option long_options[] = {
    {"iface", required_argument, NULL, OPT_IFACE},
    {"count", required_argument, NULL, OPT_COUNT},
    {"timeout-ms", required_argument, NULL, OPT_TIMEOUT_MS},
    {"filter-dst", required_argument, NULL, OPT_FILTER_DST},
    {"filter-src", required_argument, NULL, OPT_FILTER_SRC},
    {"proto", required_argument, NULL, OPT_PROTO},
    {"direction", required_argument, NULL, OPT_DIRECTION},
    {"json", no_argument, NULL, OPT_JSON},
    {"snaplen", required_argument, NULL, OPT_SNAPLEN},
    {"send", required_argument, NULL, OPT_SEND},
    {"src", required_argument, NULL, OPT_SRC},
    {"dst", required_argument, NULL, OPT_DST},
    {"dst-mac", required_argument, NULL, OPT_DST_MAC},
    {NULL, 0, NULL, 0},
};

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "Usage: " PROGRAM_NAME
	    " --iface IF [--count N] [--timeout-ms T] [filters] [--json]\n"
	    "       " PROGRAM_NAME
	    " --send KIND --iface IF --src IP:PORT --dst IP:PORT [--proto P]\n"
	    "\n"
	    "Captures up to N IPv4 TCP/UDP packets on IF (both directions)\n"
	    "within T ms and checks each: the IPv4 header checksum, and the\n"
	    "L4 checksum. A packet the kernel marks CSUMNOTREADY (checksum\n"
	    "offload: CHECKSUM_PARTIAL) must hold the folded pseudo-header\n"
	    "sum for its addresses and length; any other must carry a full,\n"
	    "correct checksum (UDP 0: none, also correct).\n"
	    "\n"
	    "  --iface IF            the interface (required)\n"
	    "  --count N             stop after N matching packets\n"
	    "                        (default %d, at most %d)\n"
	    "  --timeout-ms T        stop after T ms (default %d)\n"
	    "  --filter-dst IP[:PORT], --filter-src IP[:PORT]\n"
	    "  --proto tcp|udp       default both\n"
	    "  --direction in|out|both\n"
	    "  --json                a JSON summary on stdout\n"
	    "  --snaplen BYTES       capture at most this of a frame\n"
	    "                        (default and most %d; smaller only to\n"
	    "                        test that cut packets are skipped)\n"
	    "  -h, --help            this help\n"
	    "\n"
	    "Packets captured incompletely are counted as truncated and not\n"
	    "checked; fragments are skipped; a received packet over the MTU\n"
	    "without CSUMNOTREADY (GRO) has only its IP header checked.\n"
	    "Exit status: 0 all captured packets correct (at least one),\n"
	    "1 some wrong, 2 bad usage, 3 none matched in time, 4 could\n"
	    "not capture.\n"
	    "\n"
	    "--send KIND sends --count crafted frames (default %d) on IF\n"
	    "from --src to --dst (--proto udp by default), to show that the\n"
	    "check fails when it should: KIND is good, good-partial,\n"
	    "bad-ip, bad-l4 or bad-partial (the partial ones carry a\n"
	    "virtio-net header, so the kernel sends them CHECKSUM_PARTIAL\n"
	    "with the seed given). --dst-mac MAC: Ethernet destination\n"
	    "(default broadcast).\n",
	    DEFAULT_COUNT, MAX_COUNT, DEFAULT_TIMEOUT_MS, MAX_SNAPLEN,
	    DEFAULT_SEND);
}

/* "IP" or "IP:PORT" (port required when need_port). */
static int parse_endpoint(const struct opts_parser *cli, int id,
			  const char *text, bool need_port,
			  struct endpoint_filter *f)
{
	const char *want = need_port ? "want IP:PORT (IPv4, port 1-65535)"
				     : "want IP or IP:PORT (IPv4)";
	const char *colon = strchr(text, ':');
	size_t alen = colon ? (size_t)(colon - text) : strlen(text);
	char ip[IPV4_TEXT_BYTES];
	struct in_addr a;

	if (alen == 0 || alen >= sizeof(ip) || (need_port && !colon))
		return opts_bad_value(cli, id, text, want);
	memcpy(ip, text, alen);
	ip[alen] = '\0';
	if (inet_pton(AF_INET, ip, &a) != 1)
		return opts_bad_value(cli, id, text, want);
	memset(f, 0, sizeof(*f));
	if (colon) {
		char *end;
		unsigned long port;

		if (colon[1] < '0' || colon[1] > '9')
			return opts_bad_value(cli, id, text, want);
		errno = 0;
		port = strtoul(colon + 1, &end, 10);
		if (errno || *end || port == 0 || port > UINT16_MAX)
			return opts_bad_value(cli, id, text, want);
		f->has_port = true;
		f->port = (uint16_t)port;
	}
	f->set = true;
	f->addr = a.s_addr;
	return 0;
}

static int parse_mac(const struct opts_parser *cli, const char *text,
		     uint8_t mac[MAC_LEN])
{
	unsigned int b[MAC_LEN];
	char tail;

	if (sscanf(text, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2],
		   &b[3], &b[4], &b[5], &tail) != MAC_LEN)
		return opts_bad_value(cli, OPT_DST_MAC, text,
				      "want aa:bb:cc:dd:ee:ff");
	for (int i = 0; i < MAC_LEN; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

static int parse_option(const struct opts_parser *cli, int id, const char *arg)
{
	struct options *o = cli->ctx;
	uint64_t v;

	switch (id) {
	case OPT_IFACE:
		if (!arg[0] || strlen(arg) >= IFNAMSIZ)
			return opts_bad_value(cli, id, arg,
					      "want an interface name (1 to 15 "
					      "bytes)");
		o->iface = arg;
		return 0;
	case OPT_COUNT:
		if (opts_parse_u64(cli, id, arg, 1, MAX_COUNT, &o->count))
			return -1;
		o->have_count = true;
		return 0;
	case OPT_TIMEOUT_MS:
		return opts_parse_u64(cli, id, arg, 1, MAX_TIMEOUT_MS,
				      &o->timeout_ms);
	case OPT_FILTER_DST:
		return parse_endpoint(cli, id, arg, false, &o->dst);
	case OPT_FILTER_SRC:
		return parse_endpoint(cli, id, arg, false, &o->src);
	case OPT_SRC:
		return parse_endpoint(cli, id, arg, true, &o->send_src);
	case OPT_DST:
		return parse_endpoint(cli, id, arg, true, &o->send_dst);
	case OPT_PROTO:
		if (strcmp(arg, "tcp") == 0)
			o->proto = IPPROTO_TCP;
		else if (strcmp(arg, "udp") == 0)
			o->proto = IPPROTO_UDP;
		else
			return opts_bad_value(cli, id, arg, "want tcp or udp");
		return 0;
	case OPT_DIRECTION:
		if (strcmp(arg, "in") == 0)
			o->dir = DIR_IN;
		else if (strcmp(arg, "out") == 0)
			o->dir = DIR_OUT;
		else if (strcmp(arg, "both") == 0)
			o->dir = DIR_BOTH;
		else
			return opts_bad_value(cli, id, arg,
					      "want in, out or both");
		return 0;
	case OPT_JSON:
		o->json = true;
		return 0;
	case OPT_SNAPLEN:
		if (opts_parse_u64(cli, id, arg, MIN_SNAPLEN, MAX_SNAPLEN, &v))
			return -1;
		o->snaplen = (size_t)v;
		return 0;
	case OPT_SEND:
		for (int k = SEND_GOOD; k <= SEND_BAD_PARTIAL; k++) {
			if (strcmp(arg, send_names[k]) == 0) {
				o->send = (enum send_kind)k;
				return 0;
			}
		}
		return opts_bad_value(
		    cli, id, arg,
		    "want good, good-partial, bad-ip, bad-l4 or "
		    "bad-partial");
	case OPT_DST_MAC:
		return parse_mac(cli, arg, o->dst_mac);
	default:
		return -1;
	}
}

/* Returns OPTS_RUN, OPTS_HELP, or -EINVAL after saying what is wrong. */
static int parse_args(int argc, char **argv, struct options *o)
{
	const struct opts_parser cli =
	    OPTS_PARSER(PROGRAM_NAME, long_options, parse_option, usage, o);
	int ret;

	memset(o, 0, sizeof(*o));
	o->timeout_ms = DEFAULT_TIMEOUT_MS;
	o->snaplen = DEFAULT_SNAPLEN;
	memset(o->dst_mac, 0xff, MAC_LEN);

	ret = opts_parse(&cli, argc, argv);
	if (ret)
		return ret;
	if (!o->iface)
		return opts_error(
		    &cli, "missing --iface IF (where to capture or send)");
	if (o->send) {
		if (!o->send_src.set || !o->send_dst.set)
			return opts_error(
			    &cli,
			    "--send %s needs --src IP:PORT and --dst "
			    "IP:PORT",
			    send_names[o->send]);
		if (o->have_count && o->count > MAX_SEND)
			return opts_error(
			    &cli,
			    "--send sends at most %d frames (got --count "
			    "%" PRIu64 ")",
			    MAX_SEND, o->count);
		if (!o->have_count)
			o->count = DEFAULT_SEND;
		if (!o->proto)
			o->proto = IPPROTO_UDP;
		return OPTS_RUN;
	}
	if (o->send_src.set || o->send_dst.set)
		return opts_error(
		    &cli, "--src and --dst are for --send (capture filters are "
			  "--filter-src and --filter-dst)");
	if (!o->have_count)
		o->count = DEFAULT_COUNT;
	return OPTS_RUN;
}

int main(int argc, char **argv)
{
	struct options o;
	struct tally *t;
	uint64_t ms = 0;
	int ret;

	ret = parse_args(argc, argv, &o);
	if (ret)
		return ret == OPTS_HELP ? EXIT_ALL_OK : OPTS_EXIT_USAGE;
	if (o.send)
		return send_probes(&o);

	tool_catch_stop_signals();
	t = calloc(1, sizeof(*t));
	if (!t) {
		fail_msg("out of memory");
		return EXIT_CANT_RUN;
	}
	if (capture(&o, t, &ms) < 0) {
		free(t);
		return EXIT_CANT_RUN;
	}
	if (o.json)
		print_json(&o, t, ms);
	else
		print_human(&o, t, ms);
	ret = verdict(t);
	free(t);
	return ret;
}
