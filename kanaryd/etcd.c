/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * etcd.c - the etcd v3 client of etcd.h: one POST per call to the JSON
 * gateway, the answer checked field by field (an answer that is not what
 * etcd sends is -EPROTO, never a guess), base64 for keys and values,
 * decimal strings for 64-bit numbers. The endpoints are tried in order
 * when one does not answer; the one that answered is tried first next.
 */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd.h"
#include "util/buf.h"

#define ETCD_CONNECT_TIMEOUT_MS 1000
/* A watch's connection: dead links are found by TCP keep-alives. */
#define ETCD_KEEPALIVE_IDLE_S	  1
#define ETCD_KEEPALIVE_INTERVAL_S 1
#define ETCD_GRPC_NOT_FOUND	  5  /* gRPC codes etcd answers with */
#define ETCD_GRPC_OUT_OF_RANGE	  11 /* a compacted revision */

struct etcd_client {
	char endpoints[ETCD_MAX_ENDPOINTS][ETCD_ENDPOINT_LEN];
	size_t endpoint_count;
	size_t preferred;
	uint32_t timeout_ms;
	CURL *curl;
	char error[ETCD_ERR_LEN];
};

static void set_error(struct etcd_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_error(struct etcd_client *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->error, sizeof(c->error), fmt, ap);
	va_end(ap);
}

const char *etcd_error(const struct etcd_client *c)
{
	return c->error;
}

int etcd_client_create(const char *const *endpoints, size_t count,
		       uint32_t timeout_ms, struct etcd_client **out)
{
	struct etcd_client *c;
	size_t i;

	*out = NULL;
	if (!count || count > ETCD_MAX_ENDPOINTS)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	for (i = 0; i < count; i++) {
		if (strlen(endpoints[i]) >= ETCD_ENDPOINT_LEN) {
			free(c);
			return -ENAMETOOLONG;
		}
		snprintf(c->endpoints[i], ETCD_ENDPOINT_LEN, "%s",
			 endpoints[i]);
	}
	c->endpoint_count = count;
	c->timeout_ms = timeout_ms;
	c->curl = curl_easy_init();
	if (!c->curl) {
		free(c);
		return -ENOMEM;
	}
	*out = c;
	return 0;
}

void etcd_client_destroy(struct etcd_client *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->curl);
	free(c);
}

/* ---- base64 and numbers ------------------------------------------------ */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *b64_encode(const void *data, size_t len)
{
	const unsigned char *in = data;
	char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;
	size_t i;

	if (!out)
		return NULL;
	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = in[i] << 16 | in[i + 1] << 8 | in[i + 2];

		*o++ = b64_alphabet[v >> 18];
		*o++ = b64_alphabet[(v >> 12) & 63];
		*o++ = b64_alphabet[(v >> 6) & 63];
		*o++ = b64_alphabet[v & 63];
	}
	if (i < len) {
		uint32_t v = in[i] << 16 | (i + 1 < len ? in[i + 1] << 8 : 0);

		*o++ = b64_alphabet[v >> 18];
		*o++ = b64_alphabet[(v >> 12) & 63];
		*o++ = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

static int b64_value(char ch)
{
	const char *p = ch ? strchr(b64_alphabet, ch) : NULL;

	return p ? (int)(p - b64_alphabet) : -1;
}

/* 0 with a NUL-terminated *out of *out_len bytes, or -EPROTO. */
static int b64_decode(const char *text, char **out, size_t *out_len)
{
	size_t len = strlen(text), i, n = 0;
	char *buf;

	if (len % 4)
		return -EPROTO;
	buf = malloc(len / 4 * 3 + 1);
	if (!buf)
		return -ENOMEM;
	for (i = 0; i < len; i += 4) {
		int v[4], k;

		for (k = 0; k < 4; k++) {
			bool pad = text[i + k] == '=' && i + 4 == len && k >= 2;

			v[k] = pad ? 0 : b64_value(text[i + k]);
			if (v[k] < 0 || (k == 2 && pad && text[i + 3] != '=')) {
				free(buf);
				return -EPROTO;
			}
		}
		buf[n++] = (char)(v[0] << 2 | v[1] >> 4);
		if (text[i + 2] != '=')
			buf[n++] = (char)((v[1] & 15) << 4 | v[2] >> 2);
		if (text[i + 3] != '=')
			buf[n++] = (char)((v[2] & 3) << 6 | v[3]);
	}
	buf[n] = '\0';
	*out = buf;
	*out_len = n;
	return 0;
}

/* A 64-bit number as etcd sends it: a decimal string (absent: 0). */
static int json_int64(const json_t *v, int64_t *out)
{
	const char *s;
	char *end;

	*out = 0;
	if (!v)
		return 0;
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return 0;
	}
	s = json_string_value(v);
	if (!s || !*s)
		return -EPROTO;
	errno = 0;
	*out = strtoll(s, &end, 10);
	return errno || *end ? -EPROTO : 0;
}

static json_t *int64_json(int64_t v)
{
	char text[24];

	snprintf(text, sizeof(text), "%" PRId64, v);
	return json_string(text);
}

/* Sets field to base64(text); false when out of memory. */
static bool set_b64(json_t *obj, const char *field, const char *text,
		    size_t len)
{
	char *enc = b64_encode(text, len);

	if (!enc)
		return false;
	json_object_set_new(obj, field, json_string(enc));
	free(enc);
	return true;
}

/* The end of the range of every key starting with prefix: its last byte
 * below 0xff plus one ("\0" for everything when there is none). */
static bool set_prefix_end(json_t *obj, const char *prefix)
{
	size_t len = strlen(prefix);
	char *end = strdup(prefix);
	bool ok;

	if (!end)
		return false;
	while (len > 0 && (unsigned char)end[len - 1] == 0xff)
		len--;
	if (len == 0) {
		free(end);
		return set_b64(obj, "range_end", "", 1);
	}
	end[len - 1]++;
	ok = set_b64(obj, "range_end", end, len);
	free(end);
	return ok;
}

/* ---- one call ------------------------------------------------------------ */

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;

	return buf_append(b, data, size * n) ? 0 : size * n;
}

static int curl_errno(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_RESOLVE_HOST:
		return -EHOSTUNREACH;
	case CURLE_WRITE_ERROR:
		return -E2BIG;
	default:
		return -EIO;
	}
}

/* etcd's error answer {"error", "code", "message"}: 0 when there is none. */
static int error_answer(struct etcd_client *c, const char *path,
			const json_t *root)
{
	const char *msg = json_string_value(json_object_get(root, "message"));
	json_int_t code = json_integer_value(json_object_get(root, "code"));

	if (!json_object_get(root, "error") && !json_object_get(root, "code"))
		return 0;
	if (!msg)
		msg = json_string_value(json_object_get(root, "error"));
	set_error(c, "etcd %s refused: %s (code %lld)", path,
		  msg ? msg : "no message", (long long)code);
	if (code == ETCD_GRPC_NOT_FOUND)
		return -ENOENT;
	if (code == ETCD_GRPC_OUT_OF_RANGE)
		return -ESTALE;
	return -EIO;
}

static void setup_post(struct etcd_client *c, const char *url, const char *body,
		       struct buf *answer, struct curl_slist *headers)
{
	curl_easy_reset(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, answer);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)ETCD_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c->curl, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c->curl, CURLOPT_TCP_KEEPIDLE,
			 (long)ETCD_KEEPALIVE_IDLE_S);
	curl_easy_setopt(c->curl, CURLOPT_TCP_KEEPINTVL,
			 (long)ETCD_KEEPALIVE_INTERVAL_S);
}

/* POSTs request to path on the first endpoint that answers: 0 with the
 * parsed answer in *out, or an error (etcd_error() says which). */
static int call(struct etcd_client *c, const char *path, json_t *request,
		json_t **out)
{
	char *body = json_dumps(request, JSON_COMPACT);
	struct curl_slist *headers =
	    curl_slist_append(NULL, "Content-Type: application/json");
	char url[ETCD_ENDPOINT_LEN + 64];
	int ret = -EIO;
	size_t tried;

	*out = NULL;
	json_decref(request);
	if (!body || !headers) {
		free(body);
		curl_slist_free_all(headers);
		return -ENOMEM;
	}
	for (tried = 0; tried < c->endpoint_count; tried++) {
		size_t at = (c->preferred + tried) % c->endpoint_count;
		struct buf answer;
		json_error_t jerr;
		long status = 0;
		CURLcode rc;

		buf_init(&answer, ETCD_ANSWER_MAX_BYTES);
		snprintf(url, sizeof(url), "%s%s", c->endpoints[at], path);
		setup_post(c, url, body, &answer, headers);
		curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS,
				 (long)c->timeout_ms);
		rc = curl_easy_perform(c->curl);
		if (rc != CURLE_OK) {
			ret = curl_errno(rc);
			set_error(c, "etcd %s: %s", url,
				  answer.dropped ? "the answer is too large"
						 : curl_easy_strerror(rc));
			buf_free(&answer);
			continue;
		}
		c->preferred = at;
		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
		*out = json_loadb(answer.data ? answer.data : "", answer.len, 0,
				  &jerr);
		if (!*out || !json_is_object(*out)) {
			set_error(c,
				  "etcd %s answered HTTP %ld with something "
				  "that is not a JSON object: %s",
				  url, status,
				  *out ? "another JSON value" : jerr.text);
			json_decref(*out);
			*out = NULL;
			ret = -EPROTO;
		} else {
			ret = error_answer(c, url, *out);
			if (!ret && status != 200) {
				set_error(c, "etcd %s answered HTTP %ld", url,
					  status);
				ret = -EIO;
			}
			if (ret) {
				json_decref(*out);
				*out = NULL;
			}
		}
		buf_free(&answer);
		break;
	}
	if (!ret)
		c->error[0] = '\0';
	free(body);
	curl_slist_free_all(headers);
	return ret;
}

/* header.revision of an answer (a txn's and a put's have one). */
static int header_revision(struct etcd_client *c, const char *what,
			   const json_t *answer, int64_t *revision)
{
	int64_t rev;

	if (json_int64(
		json_object_get(json_object_get(answer, "header"), "revision"),
		&rev)) {
		set_error(c, "etcd's %s answer has a malformed revision", what);
		return -EPROTO;
	}
	if (revision)
		*revision = rev;
	return 0;
}

/* ---- keys --------------------------------------------------------------- */

static void kv_free(struct etcd_kv *kv)
{
	free(kv->key);
	free(kv->value);
	memset(kv, 0, sizeof(*kv));
}

void etcd_kvs_free(struct etcd_kvs *kvs)
{
	size_t i;

	for (i = 0; i < kvs->count; i++)
		kv_free(&kvs->kv[i]);
	free(kvs->kv);
	memset(kvs, 0, sizeof(*kvs));
}

static int parse_kv(const json_t *j, struct etcd_kv *kv)
{
	const char *key = json_string_value(json_object_get(j, "key"));
	const json_t *value = json_object_get(j, "value");
	size_t key_len;
	int ret;

	memset(kv, 0, sizeof(*kv));
	if (!key || (value && !json_is_string(value)))
		return -EPROTO;
	ret = b64_decode(key, &kv->key, &key_len);
	if (!ret)
		ret = b64_decode(value ? json_string_value(value) : "",
				 &kv->value, &kv->value_len);
	if (!ret && (json_int64(json_object_get(j, "create_revision"),
				&kv->create_revision) ||
		     json_int64(json_object_get(j, "mod_revision"),
				&kv->mod_revision) ||
		     json_int64(json_object_get(j, "version"), &kv->version) ||
		     json_int64(json_object_get(j, "lease"), &kv->lease)))
		ret = -EPROTO;
	if (ret)
		kv_free(kv);
	return ret;
}

int etcd_range(struct etcd_client *c, const char *key, bool prefix,
	       struct etcd_kvs *out)
{
	json_t *req = json_object(), *answer, *kvs, *item;
	size_t i;
	int ret;

	memset(out, 0, sizeof(*out));
	if (!req || !set_b64(req, "key", key, strlen(key)) ||
	    (prefix && !set_prefix_end(req, key))) {
		json_decref(req);
		return -ENOMEM;
	}
	ret = call(c, "/v3/kv/range", req, &answer);
	if (ret)
		return ret;
	ret = header_revision(c, "range", answer, &out->revision);
	kvs = json_object_get(answer, "kvs");
	if (!ret && kvs && !json_is_array(kvs)) {
		set_error(c, "etcd's range answer: kvs is not an array");
		ret = -EPROTO;
	}
	if (!ret && json_array_size(kvs)) {
		out->kv = calloc(json_array_size(kvs), sizeof(*out->kv));
		if (!out->kv)
			ret = -ENOMEM;
	}
	json_array_foreach(kvs, i, item)
	{
		if (ret)
			break;
		ret = parse_kv(item, &out->kv[i]);
		if (ret)
			set_error(c,
				  "etcd's range answer: kvs[%zu] is malformed "
				  "(key and value must be base64 strings, "
				  "revisions decimal strings)",
				  i);
		else
			out->count++;
	}
	json_decref(answer);
	if (ret)
		etcd_kvs_free(out);
	return ret;
}

static json_t *put_request(const char *key, const char *value, int64_t lease)
{
	json_t *req = json_object();

	if (!req || !set_b64(req, "key", key, strlen(key)) ||
	    !set_b64(req, "value", value, strlen(value))) {
		json_decref(req);
		return NULL;
	}
	if (lease)
		json_object_set_new(req, "lease", int64_json(lease));
	return req;
}

int etcd_put(struct etcd_client *c, const char *key, const char *value,
	     int64_t lease, int64_t *revision)
{
	json_t *req = put_request(key, value, lease), *answer;
	int ret;

	if (!req)
		return -ENOMEM;
	ret = call(c, "/v3/kv/put", req, &answer);
	if (ret)
		return ret;
	ret = header_revision(c, "put", answer, revision);
	json_decref(answer);
	return ret;
}

static json_t *delete_request(const char *key, bool prefix)
{
	json_t *req = json_object();

	if (!req || !set_b64(req, "key", key, strlen(key)) ||
	    (prefix && !set_prefix_end(req, key))) {
		json_decref(req);
		return NULL;
	}
	return req;
}

int etcd_delete(struct etcd_client *c, const char *key, bool prefix,
		int64_t *deleted)
{
	json_t *req = delete_request(key, prefix), *answer;
	int64_t n;
	int ret;

	if (!req)
		return -ENOMEM;
	ret = call(c, "/v3/kv/deleterange", req, &answer);
	if (ret)
		return ret;
	if (json_int64(json_object_get(answer, "deleted"), &n)) {
		set_error(c, "etcd's deleterange answer: deleted is "
			     "malformed");
		ret = -EPROTO;
	} else if (deleted) {
		*deleted = n;
	}
	json_decref(answer);
	return ret;
}

/* ---- transactions ----------------------------------------------------- */

static const char *const target_names[] = {
    [ETCD_TARGET_CREATE] = "CREATE",
    [ETCD_TARGET_MOD] = "MOD",
    [ETCD_TARGET_VERSION] = "VERSION",
    [ETCD_TARGET_VALUE] = "VALUE",
};
static const char *const target_fields[] = {
    [ETCD_TARGET_CREATE] = "create_revision",
    [ETCD_TARGET_MOD] = "mod_revision",
    [ETCD_TARGET_VERSION] = "version",
    [ETCD_TARGET_VALUE] = "value",
};
static const char *const result_names[] = {
    [ETCD_CMP_EQUAL] = "EQUAL",
    [ETCD_CMP_NOT_EQUAL] = "NOT_EQUAL",
    [ETCD_CMP_GREATER] = "GREATER",
    [ETCD_CMP_LESS] = "LESS",
};

static json_t *cmp_json(const struct etcd_cmp *cmp)
{
	json_t *j = json_object();

	if (!j || !set_b64(j, "key", cmp->key, strlen(cmp->key))) {
		json_decref(j);
		return NULL;
	}
	json_object_set_new(j, "target",
			    json_string(target_names[cmp->target]));
	json_object_set_new(j, "result",
			    json_string(result_names[cmp->result]));
	if (cmp->target == ETCD_TARGET_VALUE) {
		if (!set_b64(j, "value", cmp->value, strlen(cmp->value))) {
			json_decref(j);
			return NULL;
		}
	} else {
		json_object_set_new(j, target_fields[cmp->target],
				    int64_json(cmp->number));
	}
	return j;
}

static json_t *ops_json(const struct etcd_op *ops, size_t n)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; arr && i < n; i++) {
		json_t *inner =
		    ops[i].kind == ETCD_OP_PUT
			? put_request(ops[i].key, ops[i].value, ops[i].lease)
			: delete_request(ops[i].key, false);

		if (!inner) {
			json_decref(arr);
			return NULL;
		}
		json_array_append_new(arr,
				      json_pack("{s:o}",
						ops[i].kind == ETCD_OP_PUT
						    ? "request_put"
						    : "request_delete_range",
						inner));
	}
	return arr;
}

int etcd_txn(struct etcd_client *c, const struct etcd_cmp *cmp, size_t ncmp,
	     const struct etcd_op *success, size_t nsuccess,
	     const struct etcd_op *failure, size_t nfailure, bool *succeeded,
	     int64_t *revision)
{
	json_t *compare = json_array(), *then = ops_json(success, nsuccess),
	       *otherwise = ops_json(failure, nfailure), *answer, *ok;
	size_t i;
	int ret;

	for (i = 0; compare && i < ncmp; i++) {
		json_t *one = cmp_json(&cmp[i]);

		if (!one) {
			json_decref(compare);
			compare = NULL;
			break;
		}
		json_array_append_new(compare, one);
	}
	if (!compare || !then || !otherwise) {
		json_decref(compare);
		json_decref(then);
		json_decref(otherwise);
		return -ENOMEM;
	}
	ret = call(c, "/v3/kv/txn",
		   json_pack("{s:o, s:o, s:o}", "compare", compare, "success",
			     then, "failure", otherwise),
		   &answer);
	if (ret)
		return ret;
	ok = json_object_get(answer, "succeeded");
	if (ok && !json_is_boolean(ok)) {
		set_error(c, "etcd's txn answer: succeeded is not a boolean");
		ret = -EPROTO;
	} else {
		*succeeded = json_is_true(ok);
		ret = header_revision(c, "txn", answer, revision);
	}
	json_decref(answer);
	return ret;
}

/* ---- leases ------------------------------------------------------------- */

int etcd_lease_grant(struct etcd_client *c, int64_t ttl_s, int64_t *id)
{
	json_t *answer;
	int64_t ttl;
	int ret;

	ret = call(c, "/v3/lease/grant",
		   json_pack("{s:o}", "TTL", int64_json(ttl_s)), &answer);
	if (ret)
		return ret;
	if (json_int64(json_object_get(answer, "ID"), id) ||
	    json_int64(json_object_get(answer, "TTL"), &ttl) || !*id ||
	    ttl <= 0) {
		set_error(c, "etcd's lease grant answer has no valid ID and "
			     "TTL");
		ret = -EPROTO;
	}
	json_decref(answer);
	return ret;
}

int etcd_lease_keepalive(struct etcd_client *c, int64_t id, int64_t *ttl_s)
{
	json_t *answer, *result;
	int64_t ttl;
	int ret;

	ret = call(c, "/v3/lease/keepalive",
		   json_pack("{s:o}", "ID", int64_json(id)), &answer);
	if (ret)
		return ret;
	/* The gateway streams: one answer, wrapped in "result". */
	result = json_object_get(answer, "result");
	if (!json_is_object(result) ||
	    json_int64(json_object_get(result, "TTL"), &ttl)) {
		set_error(c, "etcd's lease keepalive answer is malformed");
		ret = -EPROTO;
	} else if (ttl <= 0) {
		/* etcd answers an unknown lease with no TTL. */
		set_error(c, "etcd lease %" PRId64 " expired or was revoked",
			  id);
		ret = -ENOENT;
	} else if (ttl_s) {
		*ttl_s = ttl;
	}
	json_decref(answer);
	return ret;
}

int etcd_lease_revoke(struct etcd_client *c, int64_t id)
{
	json_t *answer;
	int ret;

	ret = call(c, "/v3/lease/revoke",
		   json_pack("{s:o}", "ID", int64_json(id)), &answer);
	json_decref(answer);
	return ret;
}

/* ---- watch ----------------------------------------------------------------
 */

struct watch_ctx {
	struct etcd_client *c;
	struct buf pending; /* bytes of the stream not parsed yet */
	etcd_watch_fn fn;
	void *arg;
	const volatile int *stop;
	int64_t *compacted;
	int result; /* set when the watch must end */
	bool done;
};

static void events_free(struct etcd_event *ev, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		kv_free(&ev[i].kv);
	free(ev);
}

/* One message of the stream: {"result": {...}} or an error. */
static void watch_message(struct watch_ctx *w, const json_t *msg)
{
	const json_t *result = json_object_get(msg, "result");
	const json_t *events = json_object_get(result, "events"), *item;
	struct etcd_event *ev = NULL;
	int64_t revision = 0, compact = 0;
	size_t i, n = 0;

	if (!json_is_object(result)) {
		w->result = error_answer(w->c, "/v3/watch", msg);
		if (!w->result) {
			set_error(w->c, "etcd's watch stream: a message "
					"without result");
			w->result = -EPROTO;
		}
		w->done = true;
		return;
	}
	if (json_int64(json_object_get(result, "compact_revision"), &compact) ||
	    (events && !json_is_array(events))) {
		set_error(w->c, "etcd's watch stream: a malformed message");
		w->result = -EPROTO;
		w->done = true;
		return;
	}
	if (compact) {
		set_error(w->c,
			  "etcd's watch: the revision asked for was "
			  "compacted away (compacted up to %" PRId64 ")",
			  compact);
		*w->compacted = compact;
		w->result = -ESTALE;
		w->done = true;
		return;
	}
	if (json_is_true(json_object_get(result, "canceled"))) {
		set_error(w->c, "etcd canceled the watch");
		w->result = -EIO;
		w->done = true;
		return;
	}
	header_revision(w->c, "watch", result, &revision);
	if (!json_array_size(events))
		return;
	ev = calloc(json_array_size(events), sizeof(*ev));
	if (!ev) {
		w->result = -ENOMEM;
		w->done = true;
		return;
	}
	json_array_foreach(events, i, item)
	{
		const char *type =
		    json_string_value(json_object_get(item, "type"));

		if (parse_kv(json_object_get(item, "kv"), &ev[n].kv)) {
			set_error(w->c,
				  "etcd's watch stream: events[%zu] is "
				  "malformed",
				  i);
			events_free(ev, n);
			w->result = -EPROTO;
			w->done = true;
			return;
		}
		ev[n++].deleted = type && !strcmp(type, "DELETE");
	}
	if (w->fn(w->arg, ev, n, revision))
		w->done = true;
	events_free(ev, n);
}

static size_t on_watch_body(char *data, size_t size, size_t n, void *arg)
{
	struct watch_ctx *w = arg;
	size_t used = 0;

	if (buf_append(&w->pending, data, size * n))
		return 0;
	while (!w->done && used < w->pending.len) {
		json_error_t jerr;
		json_t *msg;

		while (used < w->pending.len &&
		       strchr(" \t\r\n", w->pending.data[used]))
			used++;
		if (used == w->pending.len)
			break;
		msg = json_loadb(w->pending.data + used, w->pending.len - used,
				 JSON_DISABLE_EOF_CHECK, &jerr);
		if (!msg) {
			if (json_error_code(&jerr) ==
			    json_error_premature_end_of_input)
				break; /* the rest of it comes later */
			set_error(w->c,
				  "etcd's watch stream is not a stream of JSON "
				  "objects: %s",
				  jerr.text);
			w->result = -EPROTO;
			w->done = true;
			break;
		}
		used += jerr.position;
		if (json_is_object(msg)) {
			watch_message(w, msg);
		} else {
			set_error(w->c, "etcd's watch stream holds a JSON "
					"value that is not an object");
			w->result = -EPROTO;
			w->done = true;
		}
		json_decref(msg);
	}
	buf_consume(&w->pending, used);
	return w->done ? 0 : size * n;
}

static int on_watch_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
			     curl_off_t ultotal, curl_off_t ulnow)
{
	const struct watch_ctx *w = arg;

	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	return *w->stop ? 1 : 0;
}

int etcd_watch(struct etcd_client *c, const char *key, bool prefix,
	       int64_t start_revision, etcd_watch_fn fn, void *arg,
	       const volatile int *stop, int64_t *compacted)
{
	struct watch_ctx w = {
	    .c = c, .fn = fn, .arg = arg, .stop = stop, .compacted = compacted};
	struct curl_slist *headers =
	    curl_slist_append(NULL, "Content-Type: application/json");
	json_t *create = json_object(), *request;
	char url[ETCD_ENDPOINT_LEN + 16], *body = NULL;
	CURLcode rc;
	int ret;

	*compacted = 0;
	if (!create || !headers || !set_b64(create, "key", key, strlen(key)) ||
	    (prefix && !set_prefix_end(create, key))) {
		ret = -ENOMEM;
		goto out;
	}
	if (start_revision)
		json_object_set_new(create, "start_revision",
				    int64_json(start_revision));
	request = json_pack("{s:O}", "create_request", create);
	body = request ? json_dumps(request, JSON_COMPACT) : NULL;
	json_decref(request);
	if (!body) {
		ret = -ENOMEM;
		goto out;
	}
	buf_init(&w.pending, ETCD_ANSWER_MAX_BYTES);
	snprintf(url, sizeof(url), "%s/v3/watch", c->endpoints[c->preferred]);
	setup_post(c, url, body, &w.pending, headers);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_watch_body);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &w);
	curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c->curl, CURLOPT_XFERINFOFUNCTION, on_watch_progress);
	curl_easy_setopt(c->curl, CURLOPT_XFERINFODATA, &w);
	rc = curl_easy_perform(c->curl);
	buf_free(&w.pending);
	if (w.done || *stop) {
		ret = w.result;
	} else if (rc == CURLE_OK) {
		set_error(c, "etcd %s ended the watch stream", url);
		ret = -EPIPE;
	} else {
		set_error(c, "etcd %s: %s", url, curl_easy_strerror(rc));
		ret = curl_errno(rc);
		/* The next watch tries the next endpoint. */
		c->preferred = (c->preferred + 1) % c->endpoint_count;
	}
	if (!ret)
		c->error[0] = '\0';
out:
	json_decref(create);
	free(body);
	curl_slist_free_all(headers);
	return ret;
}
