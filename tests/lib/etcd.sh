# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# tests/lib/etcd.sh - a test's own etcd (Debian's etcd-server), never the
# system's: it listens on a test-topology address inside a namespace of the
# test and keeps its data in the test's temporary folder.
#
#   etcd_start NS IP DATA_DIR   starts it (client port ETCD_CLIENT_PORT),
#                               waits until it answers; ETCD_PID is its pid
#   etcd_kill                   SIGKILL, as a crash would
#   etcd_url IP                 http://IP:ETCD_CLIENT_PORT
# The pid goes into TOPO_PIDS: topo_destroy kills it whatever happens.

ETCD_CLIENT_PORT=2379
ETCD_PEER_PORT=2380
ETCD_BIN=${ETCD_BIN:-/usr/bin/etcd}
ETCD_READY_TIMEOUT_S=${ETCD_READY_TIMEOUT_S:-15}
ETCD_PID=""

etcd_url() { echo "http://$1:$ETCD_CLIENT_PORT"; }

# True when the test can run: etcd is installed.
etcd_available() { [ -x "$ETCD_BIN" ]; }

etcd_start() { # NS IP DATA_DIR
	local ns=$1 ip=$2 dir=$3 deadline
	mkdir -p "$dir"
	# ip netns exec execs etcd: $! is etcd itself, a signal reaches it.
	ip netns exec "$ns" "$ETCD_BIN" --name "kn-test" --data-dir "$dir/data" \
		--listen-client-urls "$(etcd_url "$ip")" \
		--advertise-client-urls "$(etcd_url "$ip")" \
		--listen-peer-urls "http://$ip:$ETCD_PEER_PORT" \
		--initial-advertise-peer-urls "http://$ip:$ETCD_PEER_PORT" \
		--initial-cluster "kn-test=http://$ip:$ETCD_PEER_PORT" \
		>>"$dir/etcd.log" 2>&1 &
	ETCD_PID=$!
	TOPO_PIDS+=("$ETCD_PID")
	deadline=$((SECONDS + ETCD_READY_TIMEOUT_S))
	while ((SECONDS < deadline)); do
		kill -0 "$ETCD_PID" 2>/dev/null || break
		if ip netns exec "$ns" curl -fsS -m 1 "$(etcd_url "$ip")/health" 2>/dev/null |
			grep -q '"health":"true"'; then
			return 0
		fi
		sleep 0.1
	done
	echo "# etcd did not come up in $ns on $ip; its log:" >&2
	sed 's/^/#   /' "$dir/etcd.log" >&2
	return 1
}

etcd_kill() {
	[ -n "$ETCD_PID" ] || return 0
	kill -KILL "$ETCD_PID" 2>/dev/null
	wait "$ETCD_PID" 2>/dev/null
	ETCD_PID=""
}
