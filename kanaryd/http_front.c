/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * http_front.c - the API's front door (http_front.h): one thread that
 * accepts connections and checks each request head before libmicrohttpd
 * sees it.
 *
 * Why it exists: libmicrohttpd 0.9.75 parses Content-Length and Host before
 * the access handler is called, and when it refuses one of them itself it
 * queues its error response and then overwrites the connection's state, so
 * that it builds the response head a second time: the client gets the
 * status line and headers twice, the second copy inside an HTML body. No
 * option of 0.9.75 avoids that, nor lets an application answer malformed
 * heads in its own words, and broken chunk framing is answered in HTML. So
 * the head, and a chunked body whole, are looked at here first, with
 * MSG_PEEK: nothing is consumed, and a sound request is read again,
 * unchanged, by libmicrohttpd after MHD_add_connection(). A refused one
 * gets one JSON error and the connection is closed after a short drain (a
 * close with unread data would reset the connection and could destroy the
 * answer). A client that ends its side with half a request is closed
 * without an answer: there is no request to answer.
 *
 * While a head is incomplete, SO_RCVLOWAT is set one byte past what was
 * already peeked, so that poll() wakes for new bytes (or the end), not for
 * the same ones again.
 *
 * libmicrohttpd 0.9.75 deadlocks a worker thread for good when a connection
 * added with MHD_add_connection() finds the worker at its connection limit
 * (new_connection_process_() returns with its cleanup mutex held, then
 * takes it again). So the front door counts the connections it handed over
 * until libmicrohttpd reports them closed (http_front_connection_closed),
 * keeps that count under limits.pending, and the daemon is started with a
 * limit no worker can reach: a sound request waits here for a free slot.
 */
#include "http_front.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "util/clock.h"
#include "util/log.h"

/* The kernel's queue of connections not accepted yet. */
#define FRONT_LISTEN_BACKLOG 128
/* After an error answer: how long, and how much, the client's remaining
 * bytes are read and dropped before the close. */
#define FRONT_LINGER_MS	   2000
#define FRONT_LINGER_BYTES (1024 * 1024)
#define FRONT_DRAIN_CHUNK  4096
/* After accept() failed for want of descriptors or memory. */
#define FRONT_ACCEPT_PAUSE_MS 100
#define MS_PER_S	      1000

/* What the front thread polls: these, then one entry per pending. */
enum {
	POLL_WAKE,
	POLL_SLOT,
	POLL_LISTEN,
	FIRST_PENDING,
};

/* A connection whose head is being looked at, or that is being closed. */
struct pending {
	int fd;
	struct sockaddr_storage peer; /* either family */
	socklen_t peer_len;
	uint64_t deadline_ms;
	bool closing; /* answered: draining before the close */
	bool sound;   /* checked, waiting for a slot in the server */
	size_t drained;
};

struct http_front {
	int listen_fd;
	int wake_fd;	       /* eventfd: stop */
	int slot_fd;	       /* eventfd: the server closed a connection */
	atomic_uint in_server; /* handed over and not closed yet */
	unsigned int port;
	bool started;
	pthread_t thread;
	struct MHD_Daemon *daemon;
	http_error_render render;
	struct http_front_limits limits;
	size_t peek_size; /* head_bytes + chunked_bytes */
	char *peek;
	struct pending *pending;
	unsigned int count;
	uint64_t accept_paused_until_ms;
};

int http_front_socket(int family, int flags)
{
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
	int one = 1;

	if (fd < 0)
		return -errno;
	/* An IPv6 address serves IPv6 alone, "[::]" included: the address
	 * an operator gave is the only one the API answers on. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    (family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)))) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	return fd;
}

/* The port of a bound IPv4 or IPv6 socket address, host order. */
static unsigned int sockaddr_port(const struct sockaddr_storage *sa)
{
	if (sa->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return ntohs(((const struct sockaddr_in *)sa)->sin_port);
}

int http_front_listen(const struct sockaddr *addr, socklen_t addr_len,
		      struct http_front **out, char *err, size_t err_len)
{
	struct http_front *front;
	struct sockaddr_storage bound;
	socklen_t len = sizeof(bound);
	int ret;

	*out = NULL;
	front = calloc(1, sizeof(*front));
	if (!front) {
		snprintf(err, err_len, "API: out of memory");
		return -ENOMEM;
	}
	front->wake_fd = -1;
	front->slot_fd = -1;
	front->listen_fd = http_front_socket(addr->sa_family, SOCK_NONBLOCK);
	if (front->listen_fd < 0) {
		ret = front->listen_fd;
		snprintf(err, err_len, "%s", strerror(-ret));
		free(front);
		return ret;
	}
	if (bind(front->listen_fd, addr, addr_len) ||
	    listen(front->listen_fd, FRONT_LISTEN_BACKLOG) ||
	    getsockname(front->listen_fd, (struct sockaddr *)&bound, &len)) {
		ret = -errno;
		snprintf(err, err_len, "%s", strerror(-ret));
		close(front->listen_fd);
		free(front);
		return ret;
	}
	front->port = sockaddr_port(&bound);
	*out = front;
	return 0;
}

unsigned int http_front_port(const struct http_front *front)
{
	return front ? front->port : 0;
}

/* Writes the rendered error on a connection nothing was answered on yet,
 * then shuts down its sending side: best effort, the client may be gone. */
static void send_error(int fd, http_error_render render,
		       const struct http_error *err)
{
	size_t len = 0, off = 0;
	char *text = render(err, &len);

	/* A fresh connection's send buffer holds an error answer whole. */
	while (text && off < len) {
		ssize_t n = send(fd, text + off, len - off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n <= 0)
			break;
		off += (size_t)n;
	}
	free(text);
	shutdown(fd, SHUT_WR);
}

static void set_rcvlowat(int fd, size_t bytes)
{
	int value = (int)bytes;

	setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &value, sizeof(value));
}

/*
 * Looks at what arrived of the head; false when p is done with. ended:
 * the client will send nothing more.
 */
static bool look_at_head(struct http_front *front, struct pending *p,
			 bool ended)
{
	struct http_error err = {0};
	struct http_head_info info;
	ssize_t n, head;

	n = recv(p->fd, front->peek, front->peek_size, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (n <= 0) /* gone before its head was whole: nothing to answer */
		return false;
	head = http_head_check(front->peek, (size_t)n, front->limits.head_bytes,
			       &info, &err);
	/* A chunked body is checked whole too: the peek holds it all. */
	if (head > 0 && info.chunked) {
		ssize_t body =
		    http_chunked_check(front->peek + head, (size_t)(n - head),
				       front->limits.body_bytes,
				       front->peek_size - (size_t)head, &err);

		head = body > 0 ? head + body : body;
	}
	if (head == 0) {
		/* Half a request and the end: nothing to answer. */
		if (ended)
			return false;
		set_rcvlowat(p->fd, (size_t)n + 1);
		return true;
	}
	set_rcvlowat(p->fd, 1);
	if (head > 0) {
		p->sound = true;
		return true;
	}
	log_debug("api: refused a request head: %u %s: %s", err.status,
		  err.field, err.message);
	send_error(p->fd, front->render, &err);
	p->closing = true;
	p->deadline_ms = clock_mono_ms() + FRONT_LINGER_MS;
	return true;
}

/* Hands a sound connection to libmicrohttpd when it has room; false once
 * handed over (or lost). */
static bool hand_over(struct http_front *front, struct pending *p)
{
	if (atomic_load(&front->in_server) >= front->limits.pending)
		return true;
	atomic_fetch_add(&front->in_server, 1);
	/* libmicrohttpd owns the socket now, and closes it on failure too. */
	if (MHD_add_connection(front->daemon, p->fd,
			       (const struct sockaddr *)&p->peer,
			       p->peer_len) != MHD_YES) {
		atomic_fetch_sub(&front->in_server, 1);
		log_warn("api: could not hand a connection to the HTTP "
			 "server: %s",
			 strerror(errno));
	}
	p->fd = -1;
	return false;
}

void http_front_connection_closed(struct http_front *front)
{
	uint64_t one = 1;

	atomic_fetch_sub(&front->in_server, 1);
	if (write(front->slot_fd, &one, sizeof(one)) != sizeof(one))
		log_debug("api: cannot wake the front door: %s",
			  strerror(errno));
}

/* Drops what the client still sends after an error; false at its end. */
static bool drain(struct pending *p)
{
	char buf[FRONT_DRAIN_CHUNK];
	ssize_t n = recv(p->fd, buf, sizeof(buf), MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (n <= 0)
		return false;
	p->drained += (size_t)n;
	return p->drained < FRONT_LINGER_BYTES;
}

static void accept_new(struct http_front *front)
{
	while (front->count < front->limits.pending) {
		struct pending *p = &front->pending[front->count];

		p->peer_len = sizeof(p->peer);
		p->fd = accept4(front->listen_fd, (struct sockaddr *)&p->peer,
				&p->peer_len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (p->fd < 0) {
			/* Out of descriptors or memory: the listening socket
			 * stays readable, so pause rather than spin. */
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				front->accept_paused_until_ms =
				    clock_mono_ms() + FRONT_ACCEPT_PAUSE_MS;
			return;
		}
		p->deadline_ms = clock_mono_ms() +
				 (uint64_t)front->limits.timeout_s * MS_PER_S;
		p->closing = false;
		p->sound = false;
		p->drained = 0;
		front->count++;
	}
}

static void *front_thread(void *arg)
{
	struct http_front *front = arg;
	struct pollfd *fds;
	unsigned int i, kept;

	fds = calloc(front->limits.pending + FIRST_PENDING, sizeof(*fds));
	if (!fds) {
		log_warn("api: out of memory: the API accepts no connection");
		return NULL;
	}
	for (;;) {
		uint64_t now = clock_mono_ms(), next = UINT64_MAX;
		int timeout_ms = -1;

		fds[POLL_WAKE] =
		    (struct pollfd){.fd = front->wake_fd, .events = POLLIN};
		fds[POLL_SLOT] =
		    (struct pollfd){.fd = front->slot_fd, .events = POLLIN};
		fds[POLL_LISTEN] = (struct pollfd){
		    .fd = front->listen_fd,
		    .events = front->count < front->limits.pending &&
				      now >= front->accept_paused_until_ms
				  ? POLLIN
				  : 0};
		if (now < front->accept_paused_until_ms)
			next = front->accept_paused_until_ms;
		for (i = 0; i < front->count; i++) {
			/* A sound head waits for a slot, not for bytes. */
			fds[FIRST_PENDING + i] =
			    (struct pollfd){.fd = front->pending[i].fd,
					    .events = front->pending[i].sound
							  ? 0
							  : POLLIN | POLLRDHUP};
			if (front->pending[i].deadline_ms < next)
				next = front->pending[i].deadline_ms;
		}
		if (next != UINT64_MAX)
			timeout_ms = next > now ? (int)(next - now) : 0;
		if (poll(fds, FIRST_PENDING + front->count, timeout_ms) < 0 &&
		    errno != EINTR) {
			log_warn("api: poll failed: %s", strerror(errno));
			break;
		}
		if (fds[POLL_WAKE].revents)
			break;
		if (fds[POLL_SLOT].revents) {
			uint64_t closed;

			if (read(front->slot_fd, &closed, sizeof(closed)) < 0)
				log_debug("api: slot wake-up: %s",
					  strerror(errno));
		}
		now = clock_mono_ms();
		for (i = 0, kept = 0; i < front->count; i++) {
			struct pending *p = &front->pending[i];
			bool keep = true;

			if (p->closing && fds[FIRST_PENDING + i].revents)
				keep = drain(p);
			else if (!p->sound && fds[FIRST_PENDING + i].revents)
				keep = look_at_head(
				    front, p,
				    fds[FIRST_PENDING + i].revents &
					(POLLRDHUP | POLLHUP | POLLERR));
			if (keep && p->sound)
				keep = hand_over(front, p);
			/* An idle or slow head, or a drain, ran out of time. */
			if (keep && p->deadline_ms <= now)
				keep = false;
			if (!keep) {
				if (p->fd >= 0)
					close(p->fd);
				continue;
			}
			front->pending[kept++] = *p;
		}
		front->count = kept;
		if (fds[POLL_LISTEN].revents)
			accept_new(front);
	}
	free(fds);
	return NULL;
}

int http_front_start(struct http_front *front, struct MHD_Daemon *daemon,
		     http_error_render render,
		     const struct http_front_limits *limits)
{
	int ret;

	front->daemon = daemon;
	front->render = render;
	front->limits = *limits;
	front->peek_size = limits->head_bytes + limits->chunked_bytes;
	front->peek = malloc(front->peek_size);
	front->pending = calloc(limits->pending, sizeof(*front->pending));
	front->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	front->slot_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (front->wake_fd < 0 || front->slot_fd < 0)
		return -errno;
	if (!front->peek || !front->pending)
		return -ENOMEM;
	ret = pthread_create(&front->thread, NULL, front_thread, front);
	if (ret)
		return -ret;
	front->started = true;
	return 0;
}

void http_front_stop(struct http_front *front)
{
	uint64_t one = 1;
	unsigned int i;

	if (!front)
		return;
	if (front->started) {
		if (write(front->wake_fd, &one, sizeof(one)) != sizeof(one))
			log_warn("api: cannot wake the front door: %s",
				 strerror(errno));
		pthread_join(front->thread, NULL);
	}
	front->started = false;
	for (i = 0; i < front->count; i++)
		close(front->pending[i].fd);
	front->count = 0;
	if (front->wake_fd >= 0)
		close(front->wake_fd);
	front->wake_fd = -1;
	if (front->listen_fd >= 0)
		close(front->listen_fd);
	front->listen_fd = -1;
}

void http_front_free(struct http_front *front)
{
	if (!front)
		return;
	http_front_stop(front);
	if (front->slot_fd >= 0)
		close(front->slot_fd);
	free(front->peek);
	free(front->pending);
	free(front);
}
