/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * client.h - kanaryctl's side of the HTTP API: one request to kanaryd
 * (libcurl), its JSON answer, and the exit codes that tell a script what
 * happened. Also fetches any http(s) URL for inspect-metrics.
 */
#ifndef KANARY_CTL_CLIENT_H
#define KANARY_CTL_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* What kanaryctl's exit status means (docs/man/kanaryctl.1). */
enum ctl_exit {
	CTL_EXIT_OK = 0,
	CTL_EXIT_REFUSED = 1,	  /* the agent answered 4xx/5xx, or the
				   * command's outcome is a failure */
	CTL_EXIT_USAGE = 2,	  /* bad command line */
	CTL_EXIT_UNREACHABLE = 3, /* no answer from the server, or one
				   * that is not kanaryd's */
};

#define CTL_DEFAULT_SERVER     "http://127.0.0.1:9090"
#define CTL_SERVER_ENV	       "KANARY_SERVER"
#define CTL_TOKEN_FILE_ENV     "KANARY_TOKEN_FILE"
#define CTL_SERVER_LEN	       256
#define CTL_ERR_LEN	       512
#define CTL_CONNECT_TIMEOUT_MS 3000
#define CTL_REQUEST_TIMEOUT_MS 10000
/* An agent answer larger than this is cut and reported. */
#define CTL_MAX_ANSWER_BYTES (32 * 1024 * 1024)
/* Longest token file accepted: tokens are short secrets. */
#define CTL_MAX_TOKEN_BYTES 4096

struct ctl_client {
	char server[CTL_SERVER_LEN]; /* base URL, no trailing slash */
	char *token;		     /* NULL: none */
};

struct ctl_response {
	long status; /* HTTP status */
	char *body;  /* NUL-terminated */
	size_t len;
	json_t *json; /* body parsed, or NULL when it is not JSON */
};

/*
 * Sets the server (trailing slashes dropped). -EINVAL when not
 * http(s)://HOST[:PORT] with a port from 1 to 65535.
 */
int ctl_client_set_server(struct ctl_client *c, const char *url, char *err,
			  size_t err_len);
/*
 * Reads the token from a file: its content less trailing line ends.
 * -EINVAL when empty, or when a line end or other control byte is inside.
 */
int ctl_client_read_token(struct ctl_client *c, const char *path, char *err,
			  size_t err_len);
void ctl_client_free(struct ctl_client *c);

/*
 * Sends METHOD server+path with body (NULL: none) as JSON and the token.
 * Returns 0 when an HTTP answer came back, whatever its status, or a
 * negative errno with err saying which URL failed and why.
 */
int ctl_request(const struct ctl_client *c, const char *method,
		const char *path, const json_t *body, struct ctl_response *out,
		char *err, size_t err_len);
void ctl_response_free(struct ctl_response *r);

/* The path of a service route: /api/v1/services/NAME[/ACTION], escaped. */
int ctl_service_path(const char *name, const char *action, char *buf,
		     size_t len);

/*
 * GETs any http(s) URL (inspect-metrics). Returns 0 with the body (free()
 * it) and *status, or a negative errno with err.
 */
int ctl_fetch_url(const char *url, size_t max_bytes, char **body, size_t *len,
		  long *status, char *err, size_t err_len);

#endif /* KANARY_CTL_CLIENT_H */
