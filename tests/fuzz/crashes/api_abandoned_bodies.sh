#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# tests/fuzz/crashes/api_abandoned_bodies.sh - reproduces an open finding
# against a running kanaryd API: a request that announces a body and goes
# away before sending it keeps its connection slot until the connection
# timeout (API_CONNECTION_TIMEOUT_S, 15 s), even after the client closed
# (the server's socket sits in CLOSE-WAIT). API_MAX_CONNECTIONS (64) such
# requests - on a GET route, so without any token - leave the API unable to
# answer anyone, /healthz included, until they time out; repeating them
# every 15 s keeps it so.
#
#   tests/fuzz/crashes/api_abandoned_bodies.sh [ADDR:PORT] [COUNT]  (100)
#
# Prints how long /healthz took before and after. Expected once fixed:
# about the same, well under a second.
set -u
TARGET=${1:-127.0.0.1:9090}
COUNT=${2:-100}
HOST=${TARGET%:*}
PORT=${TARGET##*:}
CURL_MAX_S=30

healthz_time() {
	curl -s -o /dev/null -m "$CURL_MAX_S" -w '%{http_code} in %{time_total}s' \
		"http://$TARGET/healthz"
}

echo "before: /healthz answered $(healthz_time)"
for _ in $(seq 1 "$COUNT"); do
	# Announces 20 bytes of body, sends 1, closes.
	exec {fd}<>"/dev/tcp/$HOST/$PORT" || exit 1
	printf 'GET /api/v1/services HTTP/1.1\r\nHost: %s\r\nContent-Length: 20\r\n\r\n{' \
		"$HOST" >&"$fd"
	exec {fd}>&-
done
sleep 0.5
echo "after $COUNT abandoned requests: /healthz answered $(healthz_time)"
