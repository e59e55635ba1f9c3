/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * http_front.h - the API's front door: it owns the listening socket,
 * accepts connections, and looks at each request head (without consuming
 * it) before libmicrohttpd does. A head that http_head_check() refuses is
 * answered here with one JSON error and the connection is closed; a sound
 * one is handed to libmicrohttpd (MHD_add_connection), which reads it again
 * from the socket. api.c answers every request with "Connection: close", so
 * each connection carries the one request that was checked here.
 */
#ifndef KANARY_HTTP_FRONT_H
#define KANARY_HTTP_FRONT_H

#include <netinet/in.h>
#include <stddef.h>

#include "http_strict.h"

struct MHD_Daemon;
struct http_front;

/* A whole HTTP response (status line, headers, JSON body) for err, in
 * malloc'd memory of *len bytes, or NULL. */
typedef char *(*http_error_render)(const struct http_error *err, size_t *len);

/*
 * A TCP socket of family (AF_INET or AF_INET6) as the API listens on it:
 * SO_REUSEADDR, and an IPv6 one for IPv6 only. flags are more SOCK_ flags.
 * Returns the descriptor or a negative errno.
 */
int http_front_socket(int family, int flags);

/*
 * Binds and listens on addr, IPv4 or IPv6 (port 0 picks one). Returns 0
 * and sets *out, or a negative errno with a message in err.
 */
int http_front_listen(const struct sockaddr *addr, socklen_t addr_len,
		      struct http_front **out, char *err, size_t err_len);

/* The port bound. */
unsigned int http_front_port(const struct http_front *front);

/* What the front door holds a request to. */
struct http_front_limits {
	size_t head_bytes;	/* request line and headers */
	size_t body_bytes;	/* a chunked body, decoded (413 beyond) */
	size_t chunked_bytes;	/* a chunked body as sent (413 beyond) */
	unsigned int pending;	/* connections looked at, and in the server */
	unsigned int timeout_s; /* to complete a head (and chunked body) */
};

/*
 * Starts the thread that accepts connections, checks their heads (and a
 * chunked body whole: libmicrohttpd would answer broken chunk framing in
 * HTML) and hands sound ones to daemon (started with
 * MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC, and a connection limit per worker
 * above limits->pending). Connections being looked at are at most
 * limits->pending, and so are those handed over and not closed yet; one not
 * handed over after limits->timeout_s is closed, like an idle one. Returns
 * 0 or a negative errno.
 */
int http_front_start(struct http_front *front, struct MHD_Daemon *daemon,
		     http_error_render render,
		     const struct http_front_limits *limits);

/* libmicrohttpd closed a connection handed to it (its
 * MHD_CONNECTION_NOTIFY_CLOSED): a slot is free. Any thread. */
void http_front_connection_closed(struct http_front *front);

/* Stops accepting and closes what it still holds (NULL is fine). Call
 * before stopping the daemon, which may still report closed connections. */
void http_front_stop(struct http_front *front);

/* Frees front, stopped or not (NULL is fine): after the daemon stopped. */
void http_front_free(struct http_front *front);

#endif /* KANARY_HTTP_FRONT_H */
