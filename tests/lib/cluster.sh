# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# tests/lib/cluster.sh - three kanary nodes sharing one service, for cluster
# mode's tests (tests/e2e/cluster.sh) and figures (bench/cluster.sh):
#
#   clientK 198.18.K.2 (+ sources)           fab: br0 198.18.16.0/24
#     eth0 ---- nc0 [nodeK] bK 198.18.16.K ------ stable1 .10, canary1 .20
#                       ctl0 198.18.48.K -------- ctlbr: etcd 198.18.48.100
#
# Each node has its own client link (nc0, where its kanaryd attaches), its
# own link to the shared backends, and a control link to etcd apart from
# the data: `cluster_partition K` takes that link down and data keeps
# flowing. The backends route each client subnet back through its node.
# Names carry the topology's per-run suffix; topo_destroy removes all.
# Needs tests/lib/topology.sh and tests/lib/etcd.sh.

CLUSTER_NODES=3
CLUSTER_ETCD_IP=198.18.48.100
CLUSTER_STABLE_IP=198.18.16.10
CLUSTER_CANARY_IP=198.18.16.20
CLUSTER_SERVICE=chat
# Client addresses: each is a neighbour entry on its node, and the kernel's
# neighbour table (1024 entries by default) is shared by every namespace.
CLUSTER_SOURCES_PER_CLIENT=${CLUSTER_SOURCES_PER_CLIENT:-50}
CLUSTER_SOURCES_CLIENT1=${CLUSTER_SOURCES_CLIENT1:-$CLUSTER_SOURCES_PER_CLIENT}
declare -A CLUSTER_PID

cluster_node_ns() { topo_ns "node$1"; }
cluster_node() { local k=$1; shift; nsenter --net=/run/netns/"$(cluster_node_ns "$k")" "$@"; }
cluster_client_sources() { # K [COUNT]: "198.18.K.10-198.18.K.(9+COUNT)"
	echo "198.18.$1.10-198.18.$1.$((9 + ${2:-$CLUSTER_SOURCES_PER_CLIENT}))"
}

cluster_create() {
	local k fab ns n
	topo_reap
	TOPO_SFX="${BASHPID}x${RANDOM}"
	mkdir -p "$KANARY_ROOT/tests/out"
	TOPO_TMP=$(mktemp -d "$KANARY_ROOT/tests/out/run-$TOPO_SFX.XXXX")
	topo_add_ns fab || return 1
	fab=$(topo_ns fab)
	ip -n "$fab" link add br0 type bridge && ip -n "$fab" link set br0 up
	ip -n "$fab" link add ctlbr type bridge && ip -n "$fab" link set ctlbr up
	ip -n "$fab" addr add "$CLUSTER_ETCD_IP/24" dev ctlbr
	for role in stable1 canary1; do
		topo_add_ns "$role" || return 1
		ns=$(topo_ns "$role")
		ip link add eth0 netns "$ns" type veth peer name "$role" netns "$fab" || return 1
		ip -n "$fab" link set "$role" master br0 up
		ip -n "$ns" link set eth0 up
	done
	ip -n "$(topo_ns stable1)" addr add "$CLUSTER_STABLE_IP/24" dev eth0
	ip -n "$(topo_ns canary1)" addr add "$CLUSTER_CANARY_IP/24" dev eth0
	for ((k = 1; k <= CLUSTER_NODES; k++)); do
		topo_add_ns "node$k" || return 1
		topo_add_ns "client$k" || return 1
		ns=$(cluster_node_ns "$k")
		ip link add eth0 netns "$(topo_ns "client$k")" type veth peer name nc0 netns "$ns" || return 1
		ip link add "b$k" netns "$ns" type veth peer name "n$k" netns "$fab" || return 1
		ip link add ctl0 netns "$ns" type veth peer name "c$k" netns "$fab" || return 1
		ip -n "$fab" link set "n$k" master br0 up
		ip -n "$fab" link set "c$k" master ctlbr up
		ip -n "$ns" addr add "198.18.$k.1/24" dev nc0
		ip -n "$ns" addr add "198.18.16.$k/24" dev "b$k"
		ip -n "$ns" addr add "198.18.48.$k/24" dev ctl0
		for l in nc0 "b$k" ctl0; do ip -n "$ns" link set "$l" up; done
		ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
		ns=$(topo_ns "client$k")
		ip -n "$ns" addr add "198.18.$k.2/24" dev eth0
		n=$CLUSTER_SOURCES_PER_CLIENT
		[ "$k" = 1 ] && n=$CLUSTER_SOURCES_CLIENT1
		for ((i = 10; i < 10 + n; i++)); do
			echo "addr add 198.18.$k.$i/32 dev eth0"
		done | ip -n "$ns" -batch - || return 1
		ip -n "$ns" link set eth0 up
		ip -n "$ns" route add default via "198.18.$k.1"
		# The backends answer client K through node K.
		for role in stable1 canary1; do
			ip -n "$(topo_ns "$role")" route add "198.18.$k.0/24" via "198.18.16.$k"
		done
		TOPO_PIN_DIRS+=("/sys/fs/bpf/kn-$TOPO_SFX-node$k")
	done
}

cluster_backends() { # [canary modelserver args...]
	ip netns exec "$(topo_ns stable1)" "$KANARY_BIN/kanary-modelserver" \
		--listen "$CLUSTER_STABLE_IP:$TOPO_BACKEND_PORT" --model v1 \
		>"$TOPO_TMP/stable1.log" 2>&1 &
	TOPO_PIDS+=($!)
	ip netns exec "$(topo_ns canary1)" "$KANARY_BIN/kanary-modelserver" \
		--listen "$CLUSTER_CANARY_IP:$TOPO_BACKEND_PORT" --model v2 "$@" \
		>"$TOPO_TMP/canary1.log" 2>&1 &
	TOPO_PIDS+=($!)
	topo_wait_port stable1 "$CLUSTER_STABLE_IP" "$TOPO_BACKEND_PORT" &&
		topo_wait_port canary1 "$CLUSTER_CANARY_IP" "$TOPO_BACKEND_PORT"
}

cluster_etcd_start() { etcd_start "$(topo_ns fab)" "$CLUSTER_ETCD_IP" "$TOPO_TMP/etcd"; }
cluster_etcdctl() {
	ip netns exec "$(topo_ns fab)" env ETCDCTL_API=3 etcdctl \
		--endpoints "$(etcd_url "$CLUSTER_ETCD_IP")" "$@"
}

# cluster_config K [ROLLOUT JSON]: node K's config file, printed as a path.
cluster_config() {
	local k=$1 rollout=${2:-'{"steps": [10, 50, 100], "interval": "2s", "min_requests": 10, "max_failures": 2}'}
	local f=$TOPO_TMP/node$k.json
	cat >"$f" <<-EOF
	{
	  "tick": "50ms",
	  "cluster": {"etcd": ["$(etcd_url "$CLUSTER_ETCD_IP")"], "node": "node$k",
	              "lease": "${CLUSTER_LEASE:-2s}"},
	  "services": [{
	    "name": "$CLUSTER_SERVICE",
	    "vip": "$TOPO_VIP:$TOPO_VIP_PORT",
	    "stable": ["$CLUSTER_STABLE_IP:$TOPO_BACKEND_PORT"],
	    "canary": ["$CLUSTER_CANARY_IP:$TOPO_BACKEND_PORT"],
	    "rollout": $rollout
	  }]
	}
	EOF
	echo "$f"
}

# cluster_kanaryd K [ARGS...]: node K's kanaryd on its nc0 with its own
# pins and state file; waits for its API.
cluster_kanaryd() {
	local k=$1 deadline pid
	shift
	# nsenter execs kanaryd: $! is kanaryd itself, signals reach it.
	nsenter --net=/run/netns/"$(cluster_node_ns "$k")" "$KANARY_BIN/kanaryd" --iface nc0 \
		--pin-dir "/sys/fs/bpf/kn-$TOPO_SFX-node$k" \
		--state-file "$TOPO_TMP/state$k.json" --listen "127.0.0.1:$TOPO_API_PORT" \
		"$@" >>"$TOPO_TMP/kanaryd$k.log" 2>&1 &
	pid=$!
	CLUSTER_PID[$k]=$pid
	TOPO_PIDS+=("$pid")
	deadline=$((SECONDS + TOPO_READY_TIMEOUT_S))
	while ((SECONDS < deadline)); do
		kill -0 "$pid" 2>/dev/null || break
		cluster_node "$k" curl -fsS -m 1 "$TOPO_API/healthz" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "# node$k's kanaryd did not come up; its log:" >&2
	sed 's/^/#   /' "$TOPO_TMP/kanaryd$k.log" >&2
	return 1
}

cluster_kill() { # K: SIGKILL node K's kanaryd, as a crash would
	kill -KILL "${CLUSTER_PID[$1]}" 2>/dev/null
	wait "${CLUSTER_PID[$1]}" 2>/dev/null
}

# cluster_api K METHOD PATH [BODY]: node K's API; prints the body.
cluster_api() {
	local k=$1 method=$2 path=$3 body=${4:-}
	local args=(-sS -m 5 -X "$method")
	[ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data "$body")
	cluster_node "$k" curl "${args[@]}" "$TOPO_API$path"
}

# cluster_status K EXPR: a Python expression over node K's service status s.
cluster_status() {
	cluster_api "$1" GET "/api/v1/services/$CLUSTER_SERVICE" |
		"$PYTHON" -c "import json, sys; s = json.load(sys.stdin); print($2)" 2>/dev/null
}

# The leader's name as node K sees it.
cluster_leader() {
	cluster_api "$1" GET /api/v1/nodes |
		"$PYTHON" -c "import json, sys; print(json.load(sys.stdin).get('leader'))" 2>/dev/null
}

# cluster_wait SECONDS K EXPR VALUE: until node K's EXPR prints VALUE.
cluster_wait() {
	local deadline=$((SECONDS + $1)) got
	while ((SECONDS < deadline)); do
		got=$(cluster_status "$2" "$3")
		[ "$got" = "$4" ] && return 0
		sleep 0.1
	done
	echo "# node$2: $3 is '$got', waited for '$4'" >&2
	return 1
}

# cluster_load K SECONDS OUT [SOURCES]: client K's load through node K;
# CLUSTER_LOAD_PID is its pid (wait for it before reading OUT).
cluster_load() {
	ip netns exec "$(topo_ns "client$1")" "$KANARY_TOOLS/kn-load" \
		--target "$TOPO_VIP:$TOPO_VIP_PORT" --sources "${4:-$(cluster_client_sources "$1")}" \
		--close --connections 8 --rate "${CLUSTER_LOAD_RPS:-100}" --duration "$2" \
		--path /predict --method POST --body '{"text": "fine"}' \
		--json --per-source >"$3" 2>"$3.err" &
	CLUSTER_LOAD_PID=$!
	TOPO_PIDS+=($!)
}

cluster_partition() { ip -n "$(cluster_node_ns "$1")" link set ctl0 down; }
cluster_heal() { ip -n "$(cluster_node_ns "$1")" link set ctl0 up; }

# cluster_kernel_percent K: the canary weight node K's kernel applies (the
# kn_weights map read with bpftool, not the status), in percent.
cluster_kernel_percent() {
	bpftool -j map dump pinned "/sys/fs/bpf/kn-$TOPO_SFX-node$1/kn_weights" |
		"$PYTHON" -c "import json, sys
best = 0
for e in json.load(sys.stdin):
    for v in e.get('formatted', e)['values']:
        w = v['value']
        bp = w['canary_bp'] if isinstance(w, dict) else int(w[0], 16) | int(w[1], 16) << 8
        best = max(best, bp)
print(best / 100.0)"
}
