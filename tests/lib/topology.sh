# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# tests/lib/topology.sh - the test hosts, in network namespaces: a client,
# a node that runs kanary, and model-server backends, on 198.18.0.0/15.
#
#   client (many source addresses)          stable / canary backends
#   198.18.0.2 + 198.18.1.0 ...             198.18.16.10+i / .20+i
#        eth0 ---- nc0 [node] br0 ---------- eth0 (one namespace each)
#               198.18.0.1   198.18.16.1
#   VIP 198.18.32.1:80 is routed to the node; kanary runs on nc0.
#   The client's source addresses are routed (198.18.0.0/20 via the client),
#   not on the node's link: the node needs one neighbour entry for the
#   client, not one per source. The kernel's neighbour tables are shared by
#   every namespace of the host (gc_thresh3, 1024 by default): a few
#   hundred sources per test, in tests that run side by side, would fill
#   them and the host would drop packets ("neighbor table overflow").
#
# Names carry a per-run suffix (kn-<pid>x<random>-<role>) so two runs never
# collide, and topo_reap removes what a crashed run left behind (its pid is
# gone). Source this file, call topo_create, and make sure topo_destroy runs
# on exit: `trap topo_destroy EXIT`.

TOPO_VIP=198.18.32.1
TOPO_VIP_PORT=80
TOPO_NODE_CLIENT_IP=198.18.0.1
TOPO_CLIENT_IP=198.18.0.2
TOPO_CLIENT_SOURCES_NET=198.18.0.0/20 # 198.18.1.0 onwards, via the client
TOPO_NODE_BACKEND_IP=198.18.16.1
TOPO_BACKEND_PORT=8000
TOPO_READY_TIMEOUT_S=${TOPO_READY_TIMEOUT_S:-10}

: "${KANARY_ROOT:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${KANARY_BIN:=$KANARY_ROOT/bin}"
: "${KANARY_TOOLS:=$KANARY_ROOT/.output/tests}"

TOPO_SFX=""
TOPO_PIDS=()
TOPO_NAMESPACES=()
TOPO_PIN_DIRS=()
TOPO_TMP=""

topo_log() { echo "# $*" >&2; }

# Deletes namespaces of runs whose process is gone.
topo_reap() {
	local ns pid
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^kn-[0-9]*x'); do
		pid=${ns#kn-}
		pid=${pid%%x*}
		if ! kill -0 "$pid" 2>/dev/null; then
			ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
			ip netns del "$ns" 2>/dev/null && topo_log "removed leftover namespace $ns"
		fi
	done
	for pin in /sys/fs/bpf/kn-[0-9]*x*; do
		[ -e "$pin" ] || continue
		pid=${pin#/sys/fs/bpf/kn-}
		pid=${pid%%x*}
		kill -0 "$pid" 2>/dev/null || { rm -rf "$pin" && topo_log "removed leftover pins $pin"; }
	done
}

topo_ns() { echo "kn-$TOPO_SFX-$1"; }
topo_exec() { local ns; ns=$(topo_ns "$1"); shift; ip netns exec "$ns" "$@"; }
# Runs in the node's network namespace only, sharing the host's bpffs (a
# restarted kanaryd and bpftool must see the pins of the first one).
topo_node() { nsenter --net=/run/netns/"$(topo_ns node)" "$@"; }
topo_client() { topo_exec client "$@"; }

topo_add_ns() {
	local ns
	ns=$(topo_ns "$1")
	ip netns add "$ns" || return 1
	TOPO_NAMESPACES+=("$ns")
	ip -n "$ns" link set lo up
}

# topo_create STABLE_COUNT CANARY_COUNT CLIENT_SOURCES
topo_create() {
	local stable=${1:-2} canary=${2:-1} sources=${3:-0} i role ns ip
	[ "$(id -u)" -eq 0 ] || { topo_log "topology needs root"; return 1; }
	topo_reap
	TOPO_SFX="${BASHPID}x${RANDOM}"
	# Run files (logs, configs, state) stay with the checkout, git-ignored.
	mkdir -p "$KANARY_ROOT/tests/out"
	TOPO_TMP=$(mktemp -d "$KANARY_ROOT/tests/out/run-$TOPO_SFX.XXXX")
	topo_add_ns node || return 1
	topo_add_ns client || return 1
	ip link add eth0 netns "$(topo_ns client)" type veth peer name nc0 netns "$(topo_ns node)" || return 1
	topo_exec client ip addr add "$TOPO_CLIENT_IP/24" dev eth0
	topo_exec client ip link set eth0 up
	topo_exec client ip route add default via "$TOPO_NODE_CLIENT_IP"
	topo_exec node ip addr add "$TOPO_NODE_CLIENT_IP/24" dev nc0
	topo_exec node ip link set nc0 up
	topo_exec node ip route add "$TOPO_CLIENT_SOURCES_NET" via "$TOPO_CLIENT_IP"
	topo_exec node ip link add br0 type bridge
	topo_exec node ip addr add "$TOPO_NODE_BACKEND_IP/24" dev br0
	topo_exec node ip link set br0 up
	topo_exec node sysctl -qw net.ipv4.ip_forward=1
	# Extra client addresses 198.18.1.0 onwards: kanary splits by client.
	if [ "$sources" -gt 0 ]; then
		for ((i = 0; i < sources; i++)); do
			echo "addr add 198.18.$((1 + i / 256)).$((i % 256))/32 dev eth0"
		done | topo_exec client ip -batch - || return 1
	fi
	for role in stable canary; do
		local n=$stable base=10
		[ "$role" = canary ] && n=$canary && base=20
		for ((i = 1; i <= n; i++)); do
			ns=$(topo_ns "$role$i")
			ip=198.18.16.$((base + i - 1))
			topo_add_ns "$role$i" || return 1
			ip link add eth0 netns "$ns" type veth peer name "b${role:0:1}$i" netns "$(topo_ns node)" || return 1
			ip -n "$ns" addr add "$ip/24" dev eth0
			ip -n "$ns" link set eth0 up
			ip -n "$ns" route add default via "$TOPO_NODE_BACKEND_IP"
			topo_exec node ip link set "b${role:0:1}$i" master br0 up
		done
	done
	TOPO_STABLE_COUNT=$stable
	TOPO_CANARY_COUNT=$canary
	TOPO_SOURCE_COUNT=$sources
	TOPO_PIN_DIR=/sys/fs/bpf/kn-$TOPO_SFX
	TOPO_PIN_DIRS+=("$TOPO_PIN_DIR")
	TOPO_STATE_FILE=$TOPO_TMP/state.json
}

topo_backend_ip() { # ROLE INDEX(1-based)
	if [ "$1" = stable ]; then echo "198.18.16.$((9 + $2))"; else echo "198.18.16.$((19 + $2))"; fi
}

# "IP:PORT,IP:PORT" of a pool; with ipv6, "[IP]:PORT,..." of its IPv6 twin
topo_pool() { # ROLE [ipv6]
	local role=$1 family=${2:-ipv4} n i ip out=""
	n=$TOPO_STABLE_COUNT
	[ "$role" = canary ] && n=$TOPO_CANARY_COUNT
	for ((i = 1; i <= n; i++)); do
		if [ "$family" = ipv6 ]; then
			ip="[$(topo_backend_ip6 "$role" "$i")]"
		else
			ip=$(topo_backend_ip "$role" "$i")
		fi
		out+="${out:+,}$ip:$TOPO_BACKEND_PORT"
	done
	echo "$out"
}

# Client source addresses "198.18.1.0-198.18.1.199" for kn-load --sources.
topo_sources() {
	local n=${1:-$TOPO_SOURCE_COUNT} last=$(( ${1:-$TOPO_SOURCE_COUNT} - 1 ))
	[ "$n" -gt 0 ] || { echo "$TOPO_CLIENT_IP"; return; }
	echo "198.18.1.0-198.18.$((1 + last / 256)).$((last % 256))"
}
topo_source_ip() { echo "198.18.$((1 + $1 / 256)).$(($1 % 256))"; }

# Waits until something answers on IP:PORT inside a namespace.
topo_wait_port() { # NS-ROLE IP PORT
	local deadline=$((SECONDS + TOPO_READY_TIMEOUT_S))
	while ((SECONDS < deadline)); do
		if topo_exec "$1" bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	topo_log "nothing listens on $2:$3 in $(topo_ns "$1") after ${TOPO_READY_TIMEOUT_S}s"
	return 1
}

# topo_backend ROLE INDEX [modelserver args...]: starts kanary-modelserver.
topo_backend() {
	local role=$1 i=$2 ip log
	shift 2
	ip=$(topo_backend_ip "$role" "$i")
	log=$TOPO_TMP/$role$i.log
	# ip netns exec execs the program: $! is the model server itself.
	ip netns exec "$(topo_ns "$role$i")" "$KANARY_BIN/kanary-modelserver" \
		--listen "$ip:$TOPO_BACKEND_PORT" "$@" >"$log" 2>&1 &
	TOPO_PIDS+=($!)
	eval "TOPO_PID_${role}${i}=$!"
	topo_wait_port "$role$i" "$ip" "$TOPO_BACKEND_PORT"
}

# Starts every backend: stable ones with model v1, canary ones with v2.
topo_backends() {
	local i
	for ((i = 1; i <= TOPO_STABLE_COUNT; i++)); do
		topo_backend stable "$i" --model v1 "$@" || return 1
	done
	for ((i = 1; i <= TOPO_CANARY_COUNT; i++)); do
		topo_backend canary "$i" --model v2 "$@" || return 1
	done
}

TOPO_API_PORT=9090
TOPO_API="http://127.0.0.1:$TOPO_API_PORT"

# topo_kanaryd ARGS...: kanaryd on the node's nc0, pins and state private
# to this run; waits for its API. TOPO_KANARYD_PID is its pid.
topo_kanaryd() {
	local log=$TOPO_TMP/kanaryd.log deadline
	# One kanaryd per topology: a previous one would answer for this one.
	topo_kanaryd_stop
	# nsenter execs kanaryd: $! is kanaryd itself, signals reach it.
	# KANARYD_WRAPPER runs it under a tool (valgrind): still one process.
	nsenter --net=/run/netns/"$(topo_ns node)" ${KANARYD_WRAPPER:-} "$KANARY_BIN/kanaryd" \
		--iface nc0 --pin-dir "$TOPO_PIN_DIR" \
		--state-file "$TOPO_STATE_FILE" --listen "127.0.0.1:$TOPO_API_PORT" \
		"$@" >>"$log" 2>&1 &
	TOPO_KANARYD_PID=$!
	TOPO_PIDS+=($!)
	deadline=$((SECONDS + TOPO_READY_TIMEOUT_S))
	while ((SECONDS < deadline)); do
		kill -0 "$TOPO_KANARYD_PID" 2>/dev/null || break
		if topo_node curl -fsS -m 1 "$TOPO_API/healthz" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	topo_log "kanaryd did not come up; its log:"
	sed 's/^/#   /' "$log" >&2
	return 1
}

# Stops kanaryd (SIGTERM, then SIGKILL after a bounded wait).
topo_kanaryd_stop() {
	local pid=${1:-${TOPO_KANARYD_PID:-}} i
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# topo_api METHOD PATH [BODY]: the agent's API from the node; prints the
# body, returns 0 on 2xx. TOPO_HTTP_STATUS holds the status.
topo_api() {
	local method=$1 path=$2 body=${3:-} out
	local args=(-sS -m 5 -X "$method" -o "$TOPO_TMP/api.out" -w '%{http_code}')
	[ -n "${TOPO_TOKEN_FILE:-}" ] && args+=(-H "Authorization: Bearer $(cat "$TOPO_TOKEN_FILE")")
	[ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data "$body")
	TOPO_HTTP_STATUS=$(topo_node curl "${args[@]}" "$TOPO_API$path")
	cat "$TOPO_TMP/api.out"
	[[ "$TOPO_HTTP_STATUS" == 2* ]]
}

topo_destroy() {
	local pid ns pin
	for pid in "${TOPO_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	sleep 0.2
	for pid in "${TOPO_PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	for ns in "${TOPO_NAMESPACES[@]}"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	for pin in "${TOPO_PIN_DIRS[@]}"; do
		rm -rf "$pin"
	done
	[ -n "$TOPO_TMP" ] && [ -z "${KEEP_TMP:-}" ] && rm -rf "$TOPO_TMP"
	TOPO_PIDS=()
	TOPO_NAMESPACES=()
	TOPO_PIN_DIRS=()
}

# ---- IPv6 beside IPv4 (2001:2::/48, RFC 5180's twin of 198.18.0.0/15) ----
#   client 2001:2::2 + sources 2001:2::1:0 ...     backends 2001:2:16::10+i
#        eth0 ---- nc0 [node] br0 ---------- eth0
#             2001:2::1   2001:2:16::1
#   VIP6 [2001:2:32::1]:80 is routed to the node. Addresses skip duplicate
#   address detection (nodad): they are usable at once. The sources are
#   routed through the client, as in IPv4 (one neighbour entry, not one per
#   source).
TOPO_VIP6=2001:2:32::1
TOPO_NODE_CLIENT_IP6=2001:2::1
TOPO_CLIENT_IP6=2001:2::2
TOPO_NODE_BACKEND_IP6=2001:2:16::1
TOPO_SOURCE6_PREFIX=2001:2::1:
TOPO_SOURCES6_NET=2001:2::1:0/112

# topo_add_ipv6 [CLIENT_SOURCES]: after topo_create, the same hosts in IPv6.
topo_add_ipv6() {
	local sources=${1:-0} role i n
	topo_exec node sysctl -qw net.ipv6.conf.all.forwarding=1
	topo_exec node ip addr add "$TOPO_NODE_CLIENT_IP6/64" dev nc0 nodad || return 1
	topo_exec node ip addr add "$TOPO_NODE_BACKEND_IP6/64" dev br0 nodad || return 1
	topo_exec client ip addr add "$TOPO_CLIENT_IP6/64" dev eth0 nodad || return 1
	topo_exec client ip -6 route add default via "$TOPO_NODE_CLIENT_IP6" || return 1
	topo_exec node ip -6 route add "$TOPO_SOURCES6_NET" via "$TOPO_CLIENT_IP6" || return 1
	for ((i = 0; i < sources; i++)); do
		echo "addr add $(topo_source_ip6 "$i")/128 dev eth0 nodad"
	done | topo_exec client ip -batch - || return 1
	for role in stable canary; do
		n=$TOPO_STABLE_COUNT
		[ "$role" = canary ] && n=$TOPO_CANARY_COUNT
		for ((i = 1; i <= n; i++)); do
			topo_exec "$role$i" ip addr add "$(topo_backend_ip6 "$role" "$i")/64" dev eth0 nodad || return 1
			topo_exec "$role$i" ip -6 route add default via "$TOPO_NODE_BACKEND_IP6" || return 1
		done
	done
	TOPO_SOURCE6_COUNT=$sources
}

topo_backend_ip6() { # ROLE INDEX(1-based)
	if [ "$1" = stable ]; then echo "2001:2:16::$((9 + $2))"; else echo "2001:2:16::$((19 + $2))"; fi
}

# "[IP]:PORT,[IP]:PORT" of a pool
topo_pool6() { topo_pool "$1" ipv6; }

topo_source_ip6() { printf '%s%x\n' "$TOPO_SOURCE6_PREFIX" "$1"; }
# "2001:2::1:0-2001:2::1:c7" for kn-load --sources.
topo_sources6() {
	local n=${1:-$TOPO_SOURCE6_COUNT}
	echo "$(topo_source_ip6 0)-$(topo_source_ip6 $((n - 1)))"
}

# A second model server in each backend's namespace, on its IPv6 address,
# with the model of its pool (v1 stable, v2 canary).
topo_backends6() {
	local role i n ip model
	for role in stable canary; do
		n=$TOPO_STABLE_COUNT model=v1
		[ "$role" = canary ] && n=$TOPO_CANARY_COUNT model=v2
		for ((i = 1; i <= n; i++)); do
			ip=$(topo_backend_ip6 "$role" "$i")
			ip netns exec "$(topo_ns "$role$i")" "$KANARY_BIN/kanary-modelserver" \
				--listen "[$ip]:$TOPO_BACKEND_PORT" --model "$model" "$@" \
				>"$TOPO_TMP/${role}${i}-v6.log" 2>&1 &
			TOPO_PIDS+=($!)
			topo_wait_port "$role$i" "$ip" "$TOPO_BACKEND_PORT" || return 1
		done
	done
}
