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

#include "util/buf.h"

#define API_SERVICES_PATH "/api/v1/services"
#define BEARER_HEADER	  "Authorization: Bearer "
#define PORT_MAX	  65535
#define ASCII_SPACE	  0x20
#define ASCII_DEL	  0x7f

/* 0 makes curl stop with CURLE_WRITE_ERROR; body.dropped says why. */
static size_t on_data(char *ptr, size_t size, size_t nmemb, void *body)
{
	return buf_append(body, ptr, size * nmemb) ? 0 : size * nmemb;
}

static bool is_http_url(const char *url)
{
	return !strncmp(url, "http://", strlen("http://")) ||
	       !strncmp(url, "https://", strlen("https://"));
}

/*
 * The port of http(s)://HOST[:PORT][/...], when one is given, is a number
 * from 1 to 65535; the host is not empty. Returns NULL or what is wrong.
 */
static const char *authority_error(const char *url)
{
	const char *host = strstr(url, "://") + strlen("://");
	size_t len = strcspn(host, "/?#");
	const char *end = host + len, *colon = NULL, *p;
	unsigned long port = 0;

	if (memchr(host, '@', len))
		return "user names do not belong in a server URL";
	if (*host == '[') {
		const char *close = memchr(host, ']', len);

		if (!close)
			return "an IPv6 address has no closing ']'";
		if (close + 1 < end && close[1] != ':')
			return "after ']' comes ':PORT' or the path";
		colon = close + 1 < end ? close + 1 : NULL;
	} else {
		colon = memchr(host, ':', len);
	}
	if ((colon ? colon : end) == host)
		return "no host";
	if (!colon)
		return NULL;
	if (colon + 1 == end)
		return "':' without a port";
	for (p = colon + 1; p < end; p++) {
		if (*p < '0' || *p > '9')
			return "the port is not a number";
		port = port * 10 + (unsigned long)(*p - '0');
		if (port > PORT_MAX)
			return "the port is over 65535";
	}
	return port ? NULL : "port 0 is no server's";
}

int ctl_client_set_server(struct ctl_client *c, const char *url, char *err,
			  size_t err_len)
{
	size_t len = strlen(url);
	const char *why;

	if (!is_http_url(url) || len >= sizeof(c->server)) {
		snprintf(err, err_len,
			 "'%s' is not a server URL (http://HOST:PORT, like "
			 "%s)",
			 url, CTL_DEFAULT_SERVER);
		return -EINVAL;
	}
	why = authority_error(url);
	if (why) {
		snprintf(err, err_len,
			 "'%s' is not a server URL: %s (http://HOST:PORT, "
			 "like %s)",
			 url, why, CTL_DEFAULT_SERVER);
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
	size_t n, i;
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
	/* A line end inside would split the Authorization header: a token
	 * is one line. Other control bytes have no place in it either. */
	for (i = 0; i < n; i++) {
		if ((unsigned char)buf[i] < ASCII_SPACE ||
		    (unsigned char)buf[i] == ASCII_DEL) {
			snprintf(err, err_len,
				 "the token file '%s' holds a %s inside the "
				 "token (byte %zu); it should hold the token "
				 "alone, on one line",
				 path,
				 buf[i] == '\n' || buf[i] == '\r'
				     ? "line break"
				     : "control character",
				 i + 1);
			explicit_bzero(buf, sizeof(buf));
			return -EINVAL;
		}
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
static int perform(CURL *curl, const char *url, struct buf *body, long *status,
		   char *err, size_t err_len)
{
	char detail[CURL_ERROR_SIZE] = "";
	CURLcode rc;

	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, body);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, detail);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)CTL_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
			 (long)CTL_REQUEST_TIMEOUT_MS);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "kanaryctl");
	rc = curl_easy_perform(curl);
	if (rc == CURLE_WRITE_ERROR && body->dropped) {
		snprintf(err, err_len, "%s: the answer is over %zu bytes", url,
			 body->max);
		return -E2BIG;
	}
	if (rc == CURLE_WRITE_ERROR) {
		snprintf(err, err_len, "%s: out of memory", url);
		return -ENOMEM;
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
	struct buf answer;
	struct curl_slist *headers = NULL;
	char url[CTL_SERVER_LEN + 512];
	char *auth = NULL, *payload = NULL;
	CURL *curl;
	int ret = -ENOMEM;

	memset(out, 0, sizeof(*out));
	buf_init(&answer, CTL_MAX_ANSWER_BYTES);
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
	ret = perform(curl, url, &answer, &out->status, err, err_len);
	if (ret)
		goto out;
	out->len = answer.len;
	out->body = buf_take(&answer);
	if (!out->body) {
		ret = -ENOMEM;
		goto out;
	}
	out->json = json_loadb(out->body, out->len, 0, NULL);
	ret = 0;
out:
	if (ret == -ENOMEM)
		snprintf(err, err_len, "out of memory");
	buf_free(&answer);
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
	struct buf answer;
	CURL *curl;
	int ret;

	buf_init(&answer, max_bytes);
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
	ret = perform(curl, url, &answer, status, err, err_len);
	curl_easy_cleanup(curl);
	if (ret) {
		buf_free(&answer);
		return ret;
	}
	*len = answer.len;
	*body = buf_take(&answer);
	if (!*body) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	return 0;
}
