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
typedef char *(*http_error_render)(const struct http_error *err,
				   size_t *len);

/*
 * Binds and listens on addr (port 0 picks one). Returns 0 and sets *out,
 * or a negative errno with a message in err.
 */
int http_front_listen(const struct sockaddr_in *addr, struct http_front **out,
		      char *err, size_t err_len);

/* The port bound. */
unsigned int http_front_port(const struct http_front *front);

/*
 * Starts the thread that accepts, checks heads of at most max_head_bytes
 * and hands sound connections to daemon (started with
 * MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC, and a connection limit per worker
 * above max_pending). Connections being looked at are at most max_pending,
 * and so are those handed over and not closed yet; one whose head is not
 * complete, or not handed over, after timeout_s is closed, like an idle
 * one. Returns 0 or a negative errno.
 */
int http_front_start(struct http_front *front, struct MHD_Daemon *daemon,
		     http_error_render render, size_t max_head_bytes,
		     unsigned int max_pending, unsigned int timeout_s);

/* libmicrohttpd closed a connection handed to it (its
 * MHD_CONNECTION_NOTIFY_CLOSED): a slot is free. Any thread. */
void http_front_connection_closed(struct http_front *front);

/* Stops accepting and closes what it still holds (NULL is fine). Call
 * before stopping the daemon, which may still report closed connections. */
void http_front_stop(struct http_front *front);

/* Frees front, stopped or not (NULL is fine): after the daemon stopped. */
void http_front_free(struct http_front *front);

/*
 * Writes the rendered error on fd, a connection nothing was answered on
 * yet, then shuts down its sending side. Best effort: the client may have
 * gone already.
 */
void http_front_send_error(int fd, http_error_render render,
			   const struct http_error *err);

#endif /* KANARY_HTTP_FRONT_H */
