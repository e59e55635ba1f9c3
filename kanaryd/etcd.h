/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * etcd.h - a small etcd v3 client over etcd's JSON gateway (libcurl and
 * jansson; Debian has no C client of the v3 API): ranges, puts, deletes,
 * transactions, leases and watches. Keys and values travel base64-encoded
 * and 64-bit numbers (revisions, lease IDs) as JSON strings: this module
 * hides both.
 *
 * One client is one connection's worth of state: use it from one thread
 * at a time (the cluster keeps one for its loop and one for its watch).
 * Every call returns 0 or a negative errno; etcd_error() then says what
 * went wrong, naming the endpoint and the call:
 *   -ECONNREFUSED/-ETIMEDOUT/-EHOSTUNREACH  no endpoint answered
 *   -EPROTO   the answer is not what etcd sends (not JSON, a field missing
 *             or of the wrong type)
 *   -ENOENT   the lease is gone (expired or revoked)
 *   -ESTALE   the revision asked for was compacted away
 *   -EIO      etcd refused the request (its message in etcd_error())
 */
#ifndef KANARY_ETCD_H
#define KANARY_ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ETCD_ERR_LEN	      384
#define ETCD_ENDPOINT_LEN     128
#define ETCD_MAX_ENDPOINTS    8
#define ETCD_VALUE_MAX_BYTES  (1024 * 1024) /* etcd's default request cap */
#define ETCD_ANSWER_MAX_BYTES (16 * 1024 * 1024)

struct etcd_client;

/* endpoints: "http://HOST:PORT"; timeout_ms bounds each call but watch. */
int etcd_client_create(const char *const *endpoints, size_t count,
		       uint32_t timeout_ms, struct etcd_client **out);
void etcd_client_destroy(struct etcd_client *c);
/* What the last failed call met ("" after a success). */
const char *etcd_error(const struct etcd_client *c);

struct etcd_kv {
	char *key;
	char *value; /* NUL-terminated, value_len bytes before the NUL */
	size_t value_len;
	int64_t create_revision;
	int64_t mod_revision;
	int64_t version;
	int64_t lease;
};

struct etcd_kvs {
	int64_t revision; /* the store's revision when read */
	size_t count;
	struct etcd_kv *kv;
};

void etcd_kvs_free(struct etcd_kvs *kvs);

/* key alone, or every key that starts with it (prefix). */
int etcd_range(struct etcd_client *c, const char *key, bool prefix,
	       struct etcd_kvs *out);
/* lease 0: none. *revision (may be NULL): the store's revision after. */
int etcd_put(struct etcd_client *c, const char *key, const char *value,
	     int64_t lease, int64_t *revision);
int etcd_delete(struct etcd_client *c, const char *key, bool prefix,
		int64_t *deleted);

enum etcd_target {
	ETCD_TARGET_CREATE = 0, /* create_revision (0: the key is absent) */
	ETCD_TARGET_MOD,	/* mod_revision */
	ETCD_TARGET_VERSION,
	ETCD_TARGET_VALUE,
};

enum etcd_cmp_result {
	ETCD_CMP_EQUAL = 0,
	ETCD_CMP_NOT_EQUAL,
	ETCD_CMP_GREATER,
	ETCD_CMP_LESS,
};

struct etcd_cmp {
	const char *key;
	enum etcd_target target;
	enum etcd_cmp_result result;
	int64_t number;	   /* the revision or version compared */
	const char *value; /* ETCD_TARGET_VALUE */
};

enum etcd_op_kind {
	ETCD_OP_PUT = 0,
	ETCD_OP_DELETE,
};

struct etcd_op {
	enum etcd_op_kind kind;
	const char *key;
	const char *value; /* put */
	int64_t lease;	   /* put; 0: none */
};

/* If every compare holds, the success ops run, else the failure ops:
 * *succeeded says which; *revision (may be NULL) the store's after. */
int etcd_txn(struct etcd_client *c, const struct etcd_cmp *cmp, size_t ncmp,
	     const struct etcd_op *success, size_t nsuccess,
	     const struct etcd_op *failure, size_t nfailure, bool *succeeded,
	     int64_t *revision);

int etcd_lease_grant(struct etcd_client *c, int64_t ttl_s, int64_t *id);
/* Renews the lease: *ttl_s (may be NULL) is its new time to live;
 * -ENOENT when the lease expired or was revoked. */
int etcd_lease_keepalive(struct etcd_client *c, int64_t id, int64_t *ttl_s);
int etcd_lease_revoke(struct etcd_client *c, int64_t id);

struct etcd_event {
	bool deleted;
	struct etcd_kv kv; /* a delete carries the key and mod_revision */
};

/* Called with each batch of events; nonzero ends the watch. */
typedef int (*etcd_watch_fn)(void *arg, const struct etcd_event *events,
			     size_t count, int64_t revision);

/*
 * Streams the changes of key (or of every key under it) from
 * start_revision (0: from now) to fn, until fn returns nonzero or *stop
 * becomes nonzero (checked at least every ETCD_WATCH_STOP_CHECK_MS); then
 * 0. -ESTALE with *compacted set when start_revision was compacted away:
 * read the keys again and watch from the revision of that read.
 */
#define ETCD_WATCH_STOP_CHECK_MS 1000 /* libcurl's progress calls */
int etcd_watch(struct etcd_client *c, const char *key, bool prefix,
	       int64_t start_revision, etcd_watch_fn fn, void *arg,
	       const volatile int *stop, int64_t *compacted);

#endif /* KANARY_ETCD_H */
