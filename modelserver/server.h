/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * server.h - kanary-modelserver's HTTP side (libmicrohttpd, one thread per
 * connection, so an injected delay holds up only its own connection):
 *
 *   POST /predict        {"text": "..."} -> label, scores, model
 *   GET  /healthz        "ok"
 *   GET  /metrics        Prometheus text (see metrics.h)
 *   GET  /admin/faults   the fault knobs (see faults.h)
 *   PUT  /admin/faults   change any subset of them, all or nothing
 *   POST /v1/completions, /v1/chat/completions
 *                        OpenAI-style completions, streamed or whole
 *                        (see stream.h)
 *
 * Errors are JSON: {"error": "what is wrong", "field": "name" or null}.
 */
#ifndef KANARY_MODELSERVER_SERVER_H
#define KANARY_MODELSERVER_SERVER_H

#include "classifier.h"
#include "faults.h"
#include "metrics.h"

#include <stdint.h>
#include <sys/socket.h>

/* Request bodies above this are refused with 413, and never buffered. */
#define SERVER_MAX_BODY_BYTES (64 * 1024)

struct server_config {
	struct sockaddr_storage addr; /* port 0: the kernel picks one */
	socklen_t addr_len;
	unsigned int max_connections;
	const struct classifier *model;
	enum cls_version version;
	struct faults *faults;
	struct metrics *metrics;
};

struct server;

/*
 * Starts serving in background threads. Returns 0 and the server in *out;
 * -ENOMEM; or, when libmicrohttpd could not listen (it logs why), the
 * errno its bind() left (-EADDRINUSE, -EADDRNOTAVAIL...) or -EIO.
 */
int server_start(const struct server_config *config, struct server **out);
/* The port listened on, which tells the one the kernel picked for port 0. */
uint16_t server_port(const struct server *server);
/* Wakes injected delays, finishes the connections, frees the server. */
void server_stop(struct server *server);

#endif /* KANARY_MODELSERVER_SERVER_H */
