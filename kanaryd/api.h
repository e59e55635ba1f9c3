/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * api.h - kanaryd's HTTP control plane: the JSON API under /api/v1, the
 * Prometheus page on /metrics, /healthz and the browser status page on /.
 * Each route is one agent_* call (agent.h); this layer owns HTTP itself:
 * routing, methods, authentication, body limits and JSON errors.
 * docs/api.md documents every route, shape and error.
 */
#ifndef KANARY_API_H
#define KANARY_API_H

#include <stdbool.h>
#include <stddef.h>

struct agent;
struct api_server;

/* Request bodies larger than this are refused with 413. */
#define API_MAX_BODY_BYTES (64 * 1024)
/* Connections served at once; more wait in the kernel's accept queue. */
#define API_MAX_CONNECTIONS 64
/* An idle or stalled connection is closed after this long. */
#define API_CONNECTION_TIMEOUT_S 5
/* Worker threads: requests are short, the agent's lock serializes them. */
#define API_THREADS 4
#define API_ERR_LEN 512

/*
 * Starts serving on listen ("127.0.0.1:9090" or "[::1]:9090"; port 0 picks a
 * free one, which is logged). token is the bearer token that mutating calls
 * must carry, or NULL for none, which is allowed on a loopback address only.
 * The token is copied. Returns 0 and sets *out, or a negative errno with a
 * message for a person in err.
 */
int api_start(struct agent *a, const char *listen, const char *token,
	      struct api_server **out, char *err, size_t err_len);

/*
 * What api_start would refuse, checked before kanaryd attaches anything: the
 * address, a token off loopback, and a port another server already holds.
 */
int api_check_listen(const char *listen, bool has_token, char *err,
		     size_t err_len);

/* The port actually bound (useful with port 0). */
unsigned int api_port(const struct api_server *srv);

/* Stops serving, waits for requests in flight, frees srv (NULL is fine). */
void api_stop(struct api_server *srv);

#endif /* KANARY_API_H */
