/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * client.c - kanaryctl's HTTP requests (libcurl easy interface, one
 * request at a time: a CLI has nothing to overlap).
 */
#include "client.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define API_SERVICES_PATH    "/api/v1/services"
#define BEARER_HEADER	     "Authorization: Bearer "
#define INITIAL_BUFFER_BYTES 4096

struct buffer {
	char *data;
	size_t len;
	size_t cap;
	size_t max;
	bool truncated;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct buffer *b = userdata;
	size_t n = size * nmemb;

	if (b->len + n > b->max) {
		b->truncated = true;
		return 0; /* makes curl stop with CURLE_WRITE_ERROR */
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : INITIAL_BUFFER_BYTES;
		char *grown;

		while (cap < b->len + n + 1)
			cap *= 2;
		grown = realloc(b->data, cap);
		if (!grown)
			return 0;
		b->data = grown;
		b->cap = cap;
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

static bool is_http_url(const char *url)
{
	return !strncmp(url, "http://", strlen("http://")) ||
	       !strncmp(url, "https://", strlen("https://"));
}

int ctl_client_set_server(struct ctl_client *c, const char *url, char *err,
			  size_t err_len)
{
	size_t len = strlen(url);

	if (!is_http_url(url) || len >= sizeof(c->server)) {
		snprintf(err, err_len,
			 "'%s' is not a server URL (http://HOST:PORT, like "
			 "%s)",
			 url, CTL_DEFAULT_SERVER);
		return -EINVAL;
	}
	while (len > 0 && url[len - 1] == '/')
		len--;
	memcpy(c->server, url, len);
	c->server[len] = '\0';
	return 0;
}

int ctl_client_read_token(struct ctl_client *c, const char *path, char *err,
			  size_t err_len)
{
	char buf[CTL_MAX_TOKEN_BYTES + 2];
	size_t n;
	FILE *f;

	f = fopen(path, "r");
	if (!f) {
		snprintf(err, err_len, "cannot read the token file '%s': %s",
			 path, strerror(errno));
		return -errno;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	if (n > CTL_MAX_TOKEN_BYTES) {
		snprintf(err, err_len,
			 "the token file '%s' is over %d bytes; it should hold "
			 "the token alone",
			 path, CTL_MAX_TOKEN_BYTES);
		return -E2BIG;
	}
	/* The token is the file less its line end, as kanaryd reads it. */
	while (n > 0 &&
	       (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		n--;
	buf[n] = '\0';
	if (!n) {
		snprintf(err, err_len, "the token file '%s' is empty", path);
		return -EINVAL;
	}
	free(c->token);
	c->token = strdup(buf);
	explicit_bzero(buf, sizeof(buf));
	if (!c->token) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

void ctl_client_free(struct ctl_client *c)
{
	if (c->token) {
		explicit_bzero(c->token, strlen(c->token));
		free(c->token);
		c->token = NULL;
	}
}

void ctl_response_free(struct ctl_response *r)
{
	free(r->body);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

int ctl_service_path(const char *name, const char *action, char *buf,
		     size_t len)
{
	char *escaped = curl_easy_escape(NULL, name, 0);
	int n;

	if (!escaped)
		return -ENOMEM;
	n = snprintf(buf, len, "%s/%s%s%s", API_SERVICES_PATH, escaped,
		     action && *action ? "/" : "", action ? action : "");
	curl_free(escaped);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* One transfer; *status and the buffer are set when it completed. */
static int perform(CURL *curl, const char *url, struct buffer *b, long *status,
		   char *err, size_t err_len)
{
	char detail[CURL_ERROR_SIZE] = "";
	CURLcode rc;

	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, detail);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)CTL_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
			 (long)CTL_REQUEST_TIMEOUT_MS);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "kanaryctl");
	rc = curl_easy_perform(curl);
	if (rc == CURLE_WRITE_ERROR && b->truncated) {
		snprintf(err, err_len, "%s: the answer is over %zu bytes", url,
			 b->max);
		return -E2BIG;
	}
	if (rc != CURLE_OK) {
		snprintf(err, err_len, "%s: %s", url,
			 detail[0] ? detail : curl_easy_strerror(rc));
		return -EHOSTUNREACH;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
	return 0;
}

int ctl_request(const struct ctl_client *c, const char *method,
		const char *path, const json_t *body, struct ctl_response *out,
		char *err, size_t err_len)
{
	struct buffer b = {.max = CTL_MAX_ANSWER_BYTES};
	struct curl_slist *headers = NULL;
	char url[CTL_SERVER_LEN + 512];
	char *auth = NULL, *payload = NULL;
	CURL *curl;
	int ret = -ENOMEM;

	memset(out, 0, sizeof(*out));
	snprintf(url, sizeof(url), "%s%s", c->server, path);
	curl = curl_easy_init();
	if (!curl) {
		snprintf(err, err_len, "could not set up libcurl");
		return -ENOMEM;
	}
	headers = curl_slist_append(headers, "Accept: application/json");
	if (c->token) {
		size_t len = strlen(BEARER_HEADER) + strlen(c->token) + 1;

		auth = malloc(len);
		if (!auth)
			goto out;
		snprintf(auth, len, "%s%s", BEARER_HEADER, c->token);
		headers = curl_slist_append(headers, auth);
	}
	if (body) {
		payload = json_dumps(body, JSON_COMPACT);
		if (!payload)
			goto out;
		headers = curl_slist_append(headers,
					    "Content-Type: application/json");
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, payload);
	} else if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
	}
	/* The agent is reached directly, never through a proxy. */
	curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	ret = perform(curl, url, &b, &out->status, err, err_len);
	if (ret)
		goto out;
	out->body = b.data ? b.data : strdup("");
	b.data = NULL;
	if (!out->body) {
		ret = -ENOMEM;
		goto out;
	}
	out->len = b.len;
	out->json = json_loadb(out->body, out->len, 0, NULL);
	ret = 0;
out:
	if (ret == -ENOMEM)
		snprintf(err, err_len, "out of memory");
	free(b.data);
	free(payload);
	if (auth) {
		explicit_bzero(auth, strlen(auth));
		free(auth);
	}
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	return ret;
}

int ctl_fetch_url(const char *url, size_t max_bytes, char **body, size_t *len,
		  long *status, char *err, size_t err_len)
{
	struct buffer b = {.max = max_bytes};
	CURL *curl;
	int ret;

	*body = NULL;
	*len = 0;
	curl = curl_easy_init();
	if (!curl) {
		snprintf(err, err_len, "could not set up libcurl");
		return -ENOMEM;
	}
	/* Model servers compress /metrics when asked; let curl decode. */
	curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 3L);
	ret = perform(curl, url, &b, status, err, err_len);
	curl_easy_cleanup(curl);
	if (ret) {
		free(b.data);
		return ret;
	}
	*body = b.data ? b.data : strdup("");
	*len = b.len;
	if (!*body) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	return 0;
}
