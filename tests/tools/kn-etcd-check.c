// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * kn-etcd-check - the etcd client (kanaryd/etcd.c) against a real etcd and
 * a fake one (tests/tools/fake_etcd.py), as TAP: keys, prefixes,
 * transactions and their compares, leases (one revoked, one left to expire
 * under us), watches (events, a revision compacted away), an endpoint that
 * does not answer, etcd's own error answers, and answers etcd never sends.
 * Usage: kn-etcd-check ETCD_URL FAKE_URL DEAD_URL
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <curl/curl.h>

#include "kanaryd/etcd.h"

#define CALL_TIMEOUT_MS	     2000
#define SHORT_LEASE_TTL_S    1
#define LEASE_EXPIRY_WAIT_US (3500 * 1000) /* TTL plus etcd's checks */
#define WATCHED_PUTS	     3
#define WRITER_DELAY_US	     (300 * 1000)

static int tap_n, tap_failed;

static void ok(int cond, const char *what, const char *detail)
{
	tap_n++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - %s%s%s\n", cond ? "" : "not ", tap_n, what,
	       detail && !cond ? ": " : "", detail && !cond ? detail : "");
	fflush(stdout);
}

static struct etcd_client *client(const char *const *urls, size_t n)
{
	struct etcd_client *c;

	if (etcd_client_create(urls, n, CALL_TIMEOUT_MS, &c)) {
		printf("Bail out! cannot create an etcd client\n");
		exit(1);
	}
	return c;
}

static size_t discard(char *data, size_t size, size_t n, void *arg)
{
	(void)data, (void)arg;
	return size * n;
}

/* Compaction is not the client's business: a raw call. */
static void compact(const char *url, int64_t revision)
{
	char full[256], body[64];
	CURL *curl = curl_easy_init();

	snprintf(full, sizeof(full), "%s/v3/kv/compaction", url);
	snprintf(body, sizeof(body),
		 "{\"revision\": \"%lld\", \"physical\": true}",
		 (long long)revision);
	curl_easy_setopt(curl, CURLOPT_URL, full);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_perform(curl);
	curl_easy_cleanup(curl);
}

static void check_keys(struct etcd_client *c)
{
	struct etcd_kvs kvs;
	int64_t rev1 = 0, rev2 = 0, deleted = 0;
	int ret;

	etcd_delete(c, "/check/", true, NULL);
	ret = etcd_put(c, "/check/a", "{\"v\": \"\\u00e9 = 1\"}", 0, &rev1);
	ok(!ret && rev1 > 0, "put answers the new revision", etcd_error(c));
	etcd_put(c, "/check/b", "x", 0, &rev2);
	etcd_put(c, "/checkother", "y", 0, NULL);
	ret = etcd_range(c, "/check/a", false, &kvs);
	ok(!ret && kvs.count == 1 &&
	       !strcmp(kvs.kv[0].value, "{\"v\": \"\\u00e9 = 1\"}"),
	   "range reads the value back, byte for byte", etcd_error(c));
	ok(!ret && kvs.count == 1 && kvs.kv[0].create_revision == rev1 &&
	       kvs.kv[0].mod_revision == rev1 && kvs.kv[0].version == 1,
	   "with its create and mod revisions and version", NULL);
	etcd_kvs_free(&kvs);
	ret = etcd_range(c, "/check/", true, &kvs);
	ok(!ret && kvs.count == 2 && !strcmp(kvs.kv[0].key, "/check/a") &&
	       !strcmp(kvs.kv[1].key, "/check/b") && kvs.revision >= rev2,
	   "a prefix range holds the keys under it, not a neighbour",
	   etcd_error(c));
	etcd_kvs_free(&kvs);
	ret = etcd_range(c, "/check/none", false, &kvs);
	ok(!ret && kvs.count == 0, "an absent key is an empty range", NULL);
	etcd_kvs_free(&kvs);
	ret = etcd_delete(c, "/check/", true, &deleted);
	ok(!ret && deleted == 2, "a prefix delete removes both keys",
	   etcd_error(c));
	etcd_delete(c, "/checkother", false, NULL);
}

static void check_txn(struct etcd_client *c)
{
	const struct etcd_cmp absent = {.key = "/check/leader",
					.target = ETCD_TARGET_CREATE,
					.result = ETCD_CMP_EQUAL,
					.number = 0};
	const struct etcd_op put_a = {
	    .kind = ETCD_OP_PUT, .key = "/check/leader", .value = "a"};
	const struct etcd_op put_b = {
	    .kind = ETCD_OP_PUT, .key = "/check/leader", .value = "b"};
	struct etcd_cmp by_value = {.key = "/check/leader",
				    .target = ETCD_TARGET_VALUE,
				    .result = ETCD_CMP_EQUAL,
				    .value = "a"};
	struct etcd_cmp by_mod = {.key = "/check/leader",
				  .target = ETCD_TARGET_MOD,
				  .result = ETCD_CMP_EQUAL};
	struct etcd_kvs kvs;
	bool won = false;
	int64_t rev = 0;
	int ret;

	ret = etcd_txn(c, &absent, 1, &put_a, 1, NULL, 0, &won, &rev);
	ok(!ret && won, "a txn creates a key that is absent", etcd_error(c));
	ret = etcd_txn(c, &absent, 1, &put_b, 1, NULL, 0, &won, NULL);
	ok(!ret && !won, "the same txn fails once the key exists",
	   etcd_error(c));
	ret = etcd_txn(c, &by_value, 1, &put_b, 1, NULL, 0, &won, NULL);
	ok(!ret && won, "a compare on the value holds", etcd_error(c));
	by_mod.number = rev; /* the put of "a": stale now */
	ret = etcd_txn(c, &by_mod, 1, &put_a, 1, &put_b, 1, &won, NULL);
	ok(!ret && !won, "a compare on a stale mod_revision fails",
	   etcd_error(c));
	etcd_range(c, "/check/leader", false, &kvs);
	ok(kvs.count == 1 && !strcmp(kvs.kv[0].value, "b"),
	   "and its failure ops ran instead", NULL);
	etcd_kvs_free(&kvs);
	etcd_delete(c, "/check/", true, NULL);
}

static void check_leases(struct etcd_client *c)
{
	struct etcd_kvs kvs;
	int64_t id = 0, ttl = 0;
	int ret;

	ret = etcd_lease_grant(c, SHORT_LEASE_TTL_S * 5, &id);
	ok(!ret && id != 0, "a lease is granted", etcd_error(c));
	ret = etcd_put(c, "/check/node", "alive", id, NULL);
	ok(!ret, "a put under the lease", etcd_error(c));
	ret = etcd_lease_keepalive(c, id, &ttl);
	ok(!ret && ttl > 0, "keepalive renews it", etcd_error(c));
	ret = etcd_lease_revoke(c, id);
	ok(!ret, "revoke", etcd_error(c));
	etcd_range(c, "/check/node", false, &kvs);
	ok(kvs.count == 0, "the revoked lease's key is gone", NULL);
	etcd_kvs_free(&kvs);
	ret = etcd_lease_keepalive(c, id, &ttl);
	ok(ret == -ENOENT, "keepalive of a revoked lease is -ENOENT",
	   etcd_error(c));
	ret = etcd_put(c, "/check/node", "x", id, NULL);
	ok(ret == -ENOENT && strstr(etcd_error(c), "lease not found"),
	   "a put under a lease etcd does not know: etcd's error, said",
	   etcd_error(c));

	ret = etcd_lease_grant(c, SHORT_LEASE_TTL_S, &id);
	etcd_put(c, "/check/node", "alive", id, NULL);
	usleep(LEASE_EXPIRY_WAIT_US);
	ret = etcd_lease_keepalive(c, id, &ttl);
	ok(ret == -ENOENT, "a lease left to expire under us is -ENOENT",
	   etcd_error(c));
	etcd_range(c, "/check/node", false, &kvs);
	ok(kvs.count == 0, "and its key went with it", NULL);
	etcd_kvs_free(&kvs);
}

struct watched {
	int puts, deletes;
	char last_key[64];
};

static int on_events(void *arg, const struct etcd_event *ev, size_t n,
		     int64_t revision)
{
	struct watched *w = arg;
	size_t i;

	(void)revision;
	for (i = 0; i < n; i++) {
		if (ev[i].deleted)
			w->deletes++;
		else
			w->puts++;
		snprintf(w->last_key, sizeof(w->last_key), "%s", ev[i].kv.key);
	}
	return w->puts >= WATCHED_PUTS && w->deletes >= 1;
}

static void *writer(void *arg)
{
	struct etcd_client *c = arg;
	int i;

	usleep(WRITER_DELAY_US);
	for (i = 0; i < WATCHED_PUTS; i++)
		etcd_put(c, "/check/w/k", "v", 0, NULL);
	etcd_put(c, "/check/outside", "v", 0, NULL);
	etcd_delete(c, "/check/w/k", false, NULL);
	return NULL;
}

static void check_watch(struct etcd_client *c, struct etcd_client *w,
			const char *url)
{
	struct watched seen = {0};
	volatile int stop = 0;
	int64_t compacted = 0, rev = 0, first = 0;
	pthread_t t;
	int ret;

	pthread_create(&t, NULL, writer, c);
	ret = etcd_watch(w, "/check/w/", true, 0, on_events, &seen, &stop,
			 &compacted);
	pthread_join(t, NULL);
	ok(!ret && seen.puts == WATCHED_PUTS && seen.deletes == 1 &&
	       !strcmp(seen.last_key, "/check/w/k"),
	   "a prefix watch streams the puts and the delete under it",
	   etcd_error(w));

	etcd_put(c, "/check/c", "1", 0, &first);
	etcd_put(c, "/check/c", "2", 0, NULL);
	etcd_put(c, "/check/c", "3", 0, &rev);
	compact(url, rev);
	ret = etcd_watch(w, "/check/c", false, first, on_events, &seen, &stop,
			 &compacted);
	ok(ret == -ESTALE && compacted >= rev,
	   "a watch from a revision compacted away is -ESTALE with the "
	   "compaction's revision",
	   etcd_error(w));
	ok(strstr(etcd_error(w), "compacted") != NULL, "and the error says so",
	   etcd_error(w));
	etcd_delete(c, "/check/", true, NULL);
}

static void check_fake(const char *fake)
{
	struct etcd_client *c = client(&fake, 1);
	struct etcd_kvs kvs;
	struct watched seen = {0};
	volatile int stop = 0;
	int64_t id, compacted, n;
	bool won;
	int ret;

	ret = etcd_range(c, "/k", false, &kvs);
	ok(ret == -EPROTO && strstr(etcd_error(c), "not a JSON object"),
	   "an answer that is not JSON: -EPROTO, said", etcd_error(c));
	ret = etcd_put(c, "/k", "v", 0, NULL);
	ok(ret == -EPROTO, "a JSON array for an answer: -EPROTO",
	   etcd_error(c));
	ret = etcd_txn(c, NULL, 0, NULL, 0, NULL, 0, &won, NULL);
	ok(ret == -EPROTO && strstr(etcd_error(c), "revision"),
	   "a revision that is not a number: -EPROTO naming it", etcd_error(c));
	ret = etcd_delete(c, "/k", false, &n);
	ok(ret == -EPROTO, "deleted of the wrong type: -EPROTO", etcd_error(c));
	ret = etcd_lease_grant(c, 1, &id);
	ok(ret == -EPROTO, "a lease without a TTL: -EPROTO", etcd_error(c));
	ret = etcd_lease_keepalive(c, 1, NULL);
	ok(ret == -EPROTO, "a TTL that is not a number: -EPROTO",
	   etcd_error(c));
	ret = etcd_lease_revoke(c, 1);
	ok(ret == -EIO && strstr(etcd_error(c), "internal failure"),
	   "etcd's error answer: -EIO with etcd's message", etcd_error(c));
	ret =
	    etcd_watch(c, "/k", false, 0, on_events, &seen, &stop, &compacted);
	ok(ret == -EPROTO && seen.puts == 0,
	   "a watch event with a key that is not base64: -EPROTO, no event",
	   etcd_error(c));
	etcd_client_destroy(c);
}

int main(int argc, char **argv)
{
	struct etcd_client *c, *w, *failover;
	struct etcd_kvs kvs;
	const char *both[2];
	int ret;

	if (argc != 4) {
		fprintf(stderr,
			"usage: kn-etcd-check ETCD_URL FAKE_URL DEAD_URL\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	c = client((const char *const *)&argv[1], 1);
	w = client((const char *const *)&argv[1], 1);
	check_keys(c);
	check_txn(c);
	check_leases(c);
	check_watch(c, w, argv[1]);
	check_fake(argv[2]);

	both[0] = argv[3];
	both[1] = argv[1];
	failover = client(both, 2);
	ret = etcd_range(failover, "/check/", true, &kvs);
	ok(!ret, "an endpoint that does not answer: the next one is used",
	   etcd_error(failover));
	etcd_kvs_free(&kvs);
	etcd_client_destroy(failover);
	failover = client((const char *const *)&argv[3], 1);
	ret = etcd_range(failover, "/check/", true, &kvs);
	ok(ret == -ECONNREFUSED && strstr(etcd_error(failover), argv[3]),
	   "none answers: -ECONNREFUSED naming the endpoint",
	   etcd_error(failover));
	etcd_client_destroy(failover);
	etcd_client_destroy(c);
	etcd_client_destroy(w);
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}
